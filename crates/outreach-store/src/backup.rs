//! Backup and restore of the embedded SQLite database. A backup is a
//! consistent copy taken while the server runs (`VACUUM INTO` reads one
//! snapshot); a restore checks the copy before it replaces the database file.
//! PostgreSQL is backed up with its own tools (`pg_dump`, `pg_restore`).

use crate::{Backend, Db, StoreError};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Why a backup or restore was refused, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "PostgreSQL wird mit pg_dump gesichert und mit pg_restore wiederhergestellt (siehe README, „Datenschutz und Betrieb“)"
    )]
    Postgres,
    #[error("die Datei {0} gibt es schon; eine Sicherung überschreibt nichts")]
    Exists(PathBuf),
    #[error("die Datei {0} gibt es nicht")]
    Missing(PathBuf),
    #[error("{0} ist keine lesbare Outreach-Sicherung: {1}")]
    NotABackup(PathBuf, String),
    #[error("die Sicherung {0} ist beschädigt: {1}")]
    Damaged(PathBuf, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
}

/// What a backup or restore found in the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub bytes: u64,
    pub customers: i64,
    pub audit_events: i64,
    pub migration: i64,
}

/// Writes a consistent copy of the running SQLite database to `target`, which
/// must not exist yet.
pub async fn backup(db: &Db, target: &Path) -> Result<BackupSummary, BackupError> {
    if db.backend() == Backend::Postgres {
        return Err(BackupError::Postgres);
    }
    if target.exists() {
        return Err(BackupError::Exists(target.to_path_buf()));
    }
    let mut tx = db.read().await?;
    tx.execute_generated(
        "VACUUM INTO ?".to_string(),
        vec![crate::Arg::Text(Some(
            target.to_string_lossy().into_owned(),
        ))],
    )
    .await?;
    drop(tx);
    inspect(target).await
}

/// Checks that `file` is an intact Outreach database and counts what it holds.
pub async fn inspect(file: &Path) -> Result<BackupSummary, BackupError> {
    if !file.is_file() {
        return Err(BackupError::Missing(file.to_path_buf()));
    }
    let not_a_backup = |e: sqlx::Error| BackupError::NotABackup(file.to_path_buf(), e.to_string());
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display()))
        .map_err(not_a_backup)?
        .read_only(true);
    let mut conn = SqliteConnection::connect_with(&options)
        .await
        .map_err(not_a_backup)?;
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(not_a_backup)?;
    if check != "ok" {
        return Err(BackupError::Damaged(file.to_path_buf(), check));
    }
    let (migration,): (i64,) =
        sqlx::query_as("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await
            .map_err(not_a_backup)?;
    let (customers,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM customers")
        .fetch_one(&mut conn)
        .await
        .map_err(not_a_backup)?;
    let (audit_events,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_events")
        .fetch_one(&mut conn)
        .await
        .map_err(not_a_backup)?;
    conn.close().await.map_err(not_a_backup)?;
    let bytes = std::fs::metadata(file)
        .map_err(|e| BackupError::Io(file.to_path_buf(), e))?
        .len();
    Ok(BackupSummary {
        bytes,
        customers,
        audit_events,
        migration,
    })
}

/// Replaces the SQLite database at `database` (a path; the server must be
/// stopped) by the backup `file` after checking it. The old database is kept
/// beside it as `DATABASE.vor-wiederherstellung` until the next restore.
pub async fn restore(file: &Path, database: &Path) -> Result<BackupSummary, BackupError> {
    let summary = inspect(file).await?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |e| BackupError::Io(path, e)
    };
    let staged = sibling(database, "wiederherstellung-neu");
    std::fs::copy(file, &staged).map_err(io(&staged))?;
    // The old database moves aside with its write-ahead log, which must not be
    // replayed onto the copy.
    let kept = sibling(database, "vor-wiederherstellung");
    for suffix in ["", "-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", database.display()));
        let to = PathBuf::from(format!("{}{suffix}", kept.display()));
        if to.exists() {
            std::fs::remove_file(&to).map_err(io(&to))?;
        }
        if from.exists() {
            std::fs::rename(&from, &to).map_err(io(&from))?;
        }
    }
    std::fs::rename(&staged, database).map_err(io(&staged))?;
    Ok(summary)
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}.{suffix}", path.display()))
}
