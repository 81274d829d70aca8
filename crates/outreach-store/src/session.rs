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
                u.locked_until
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

/// PostgreSQL: listens for changes to sessions and users (migration 0017)
/// and tells `changed` of each — `Some("s:<session hash>")` or
/// `Some("u:<user id>")` — or `None` when changes may have been missed (the
/// listening connection was lost). `listening` is told whether changes are
/// being heard: `true` once listening, `false` before anything may be missed.
/// Runs until the task is dropped; returns at once on SQLite.
pub async fn watch_changes(
    db: &crate::Db,
    listening: impl Fn(bool),
    changed: impl Fn(Option<&str>),
) {
    let crate::Db::Postgres(pool, _) = db else {
        return;
    };
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
