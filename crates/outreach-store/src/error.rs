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

impl StoreError {
    /// The database can't be reached just now (down, restarting, the
    /// connection lost, no connection free in time): worth a retry, not a
    /// fault of the request.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Database(error) => match error {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // Class 08: connection exception; 57P01–57P03: the server
                // shuts down or is starting.
                sqlx::Error::Database(db) => db.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")
                }),
                _ => false,
            },
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::UniqueViolation,
            _ => StoreError::Database(error),
        }
    }
}
