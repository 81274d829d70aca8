//! Server-side sessions. The cookie holds a random id; the database keeps only
//! its SHA-256, so a copy of the table can't be used to log in.

use crate::{StoreError, Tx, args, random_token};
use sha2::{Digest, Sha256};

/// A session as found by its cookie, with its user.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub id_hash: String,
    pub user_id: i64,
    pub csrf_token: String,
    pub last_seen_at: i64,
}

/// A new session: the cookie value (shown to the browser once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub async fn create(
    tx: &mut Tx,
    user_id: i64,
    client: &str,
    now: i64,
) -> Result<NewSession, StoreError> {
    let session = NewSession {
        token: random_token(32),
        csrf_token: random_token(32),
    };
    tx.execute(
        "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at, client) VALUES ($1, $2, $3, $4, $4, $5)",
        args![hash_token(&session.token), user_id, &session.csrf_token, now, client],
    )
    .await?;
    Ok(session)
}

pub async fn find(tx: &mut Tx, token: &str) -> Result<Option<SessionRow>, StoreError> {
    tx.fetch_optional(
        "SELECT id_hash, user_id, csrf_token, last_seen_at FROM sessions WHERE id_hash = $1",
        args![hash_token(token)],
    )
    .await
}

/// A session with its user, found in one query (the lookup of every request).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    #[sqlx(flatten)]
    pub session: SessionRow,
    #[sqlx(flatten)]
    pub user: crate::user::User,
}

/// The session of `token` with its user.
pub async fn find_with_user(tx: &mut Tx, token: &str) -> Result<Option<SessionUser>, StoreError> {
    tx.fetch_optional(
        "SELECT s.id_hash, s.user_id, s.csrf_token, s.last_seen_at, u.id, u.username, u.display_name, u.role,
                u.job_center_id, u.service_center_id, u.pap_code, u.password_hash, u.active, u.failed_logins,
                u.locked_until, u.must_change_password, u.identity_source, u.external_id,
                u.deactivated_by_sync
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1",
        args![hash_token(token)],
    )
    .await
}

pub async fn touch(tx: &mut Tx, id_hash: &str, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1",
        args![id_hash, now],
    )
    .await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, id_hash: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM sessions WHERE id_hash = $1", args![id_hash])
        .await?;
    Ok(())
}

/// Ends every session of a user except `keep` (the one changing the password).
pub async fn delete_for_user(
    tx: &mut Tx,
    user_id: i64,
    keep: Option<&str>,
) -> Result<u64, StoreError> {
    tx.execute(
        "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2",
        args![user_id, keep.unwrap_or("")],
    )
    .await
}

/// Removes sessions idle since before `cutoff`.
pub async fn delete_idle(tx: &mut Tx, cutoff: i64) -> Result<u64, StoreError> {
    tx.execute(
        "DELETE FROM sessions WHERE last_seen_at < $1",
        args![cutoff],
    )
    .await
}

/// The channel of migration 0017's announcements.
const CHANGES: &str = "outreach_sessions";

/// Hears the changes to sessions and users and tells `changed` of each —
/// `Some("s:<session hash>")` or `Some("u:<user id>")` — or `None` when
/// changes may have been missed. PostgreSQL announces them (migration 0017),
/// SQLite writes them down (migration 0018) and they are read every
/// [`CHANGES_READ_EVERY`]. `listening` is told whether changes are being
/// heard: `true` once they are, `false` before anything may be missed. Runs
/// until the task is dropped.
pub async fn watch_changes(
    db: &crate::Db,
    listening: impl Fn(bool),
    changed: impl Fn(Option<&str>),
) {
    match db {
        crate::Db::Postgres(pool, ..) => listen_postgres(&pool.pool, listening, changed).await,
        crate::Db::Sqlite { .. } => read_sqlite_changes(db, listening, changed).await,
    }
}

async fn listen_postgres(
    pool: &sqlx::PgPool,
    listening: impl Fn(bool),
    changed: impl Fn(Option<&str>),
) {
    loop {
        let listener = match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(mut listener) => match listener.listen(CHANGES).await {
                Ok(()) => Some(listener),
                Err(error) => {
                    tracing::warn!(%error, "listening for session changes failed");
                    None
                }
            },
            Err(error) => {
                tracing::warn!(%error, "listening for session changes failed");
                None
            }
        };
        if let Some(mut listener) = listener {
            listening(true);
            // `try_recv` says when the connection was lost (`recv` would
            // reconnect silently and drop what came meanwhile).
            while let Ok(Some(notification)) = listener.try_recv().await {
                changed(Some(notification.payload()));
            }
        }
        listening(false);
        changed(None);
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// How often SQLite's written-down changes are read: a session ended or a
/// user deactivated by another process counts in `outreach serve` at most
/// this much later.
pub const CHANGES_READ_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The changes of migration 0018 kept for servers that read them late.
const CHANGES_KEPT: i64 = 10_000;

async fn read_sqlite_changes(
    db: &crate::Db,
    listening: impl Fn(bool),
    changed: impl Fn(Option<&str>),
) {
    let mut ticker = tokio::time::interval(CHANGES_READ_EVERY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The last change heard; `None` until listening.
    let mut last: Option<i64> = None;
    loop {
        ticker.tick().await;
        let read = async {
            let mut tx = db.read().await?;
            let rows: Vec<(i64, String)> = match last {
                None => {
                    tx.fetch_all(
                        "SELECT COALESCE(MAX(id), 0), '' FROM session_changes",
                        args![],
                    )
                    .await?
                }
                Some(after) => {
                    tx.fetch_all(
                        "SELECT id, what FROM session_changes WHERE id > $1 ORDER BY id",
                        args![after],
                    )
                    .await?
                }
            };
            tx.commit().await?;
            Ok::<_, StoreError>(rows)
        };
        match (read.await, last) {
            (Ok(rows), None) => {
                last = rows.first().map(|r| r.0);
                listening(true);
            }
            (Ok(rows), Some(after)) => {
                // Entries are numbered without gaps; a gap means some were
                // removed before they were read.
                if rows.first().is_some_and(|(id, _)| *id != after + 1) {
                    changed(None);
                }
                for (id, what) in rows {
                    changed(Some(&what));
                    last = Some(id);
                }
            }
            (Err(error), _) => {
                if last.take().is_some() {
                    tracing::warn!(%error, "reading the session changes failed");
                    listening(false);
                }
            }
        }
    }
}

/// SQLite: removes all but the last [`CHANGES_KEPT`] written-down changes
/// (migration 0018); nothing to do on PostgreSQL.
pub async fn prune_changes(tx: &mut Tx) -> Result<u64, StoreError> {
    if tx.backend() != crate::Backend::Sqlite {
        return Ok(0);
    }
    tx.execute(
        "DELETE FROM session_changes WHERE id <= (SELECT MAX(id) FROM session_changes) - $1",
        args![CHANGES_KEPT],
    )
    .await
}
