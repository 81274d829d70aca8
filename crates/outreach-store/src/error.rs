//! The storage error type. Unique violations are recognised through the driver.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("unique constraint violated")]
    UniqueViolation,
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    /// A record the operation needs is not there (named, e.g. "job center 7").
    #[error("not found: {0}")]
    NotFound(String),
    /// SQLite through rusqlite (the import's bulk path).
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Stored JSON that can't be read or written (what it was, and why).
    #[error("{what}: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// Calendar arithmetic out of range.
    #[error("date arithmetic: {0}")]
    Date(#[from] jiff::Error),
    /// A worker thread ended without an answer.
    #[error("{what} thread: {source}")]
    Thread {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// The audit chain could not be extended or sealed consistently.
    #[error("audit chain: {0}")]
    AuditChain(String),
    /// An operation this backend or kind of transaction doesn't offer.
    #[error("not offered here: {0}")]
    Unsupported(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::UniqueViolation,
            _ => StoreError::Database(error),
        }
    }
}
