//! The connection to either backend: one typed pool per backend, transactions,
//! and portable statements with `$n` parameters that run on both.

use crate::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow, PgSslMode};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous, SqliteTransactionManager,
};
use sqlx::{Connection, FromRow, Postgres, SqlSafeStr, Sqlite, Transaction};
use sqlx_core::transaction::TransactionManager;
use std::str::FromStr;
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The database: SQLite with one writer connection and a small pool of readers
/// (many writers waiting on SQLite's lock stall for seconds), or a PostgreSQL pool.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite {
        writer: Writer,
        readers: Kept<Sqlite>,
        /// Writes wait here one at a time for the writer; urgent ones (an
        /// agent's next case) go straight to it (see [`Db::begin_urgent`]).
        line: std::sync::Arc<tokio::sync::Semaphore>,
        /// Writes waiting for the writer now (in line or urgent).
        waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        head: AuditHead,
        /// The database file (the bulk import opens a connection of its own).
        path: std::path::PathBuf,
        queue: QueueMemory,
    },
    /// The pool, whether a sealing task of this process seals the audit
    /// events (see `audit::seal`; without one, each transaction that
    /// appended events seals them after its commit), and what it remembers
    /// of the call queue.
    Postgres(Kept<Postgres>, SealingTask, QueueMemory),
}

/// SQLite's one writer connection, taken by one write at a time; `None`
/// once closed. Not in a pool: handing a pooled connection on costs a task
/// and a round trip to the connection's thread (sqlx tests it on every
/// return), which the next write waited for — as long as the writes
/// themselves took, with the writer busy (see BENCHMARKS.md, issue 6).
pub type Writer = std::sync::Arc<tokio::sync::Mutex<Option<SqliteConnection>>>;

/// Connections in use, for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
}

impl Db {
    /// Connects to `sqlite://PATH` or `postgres://...`. The SQLite file is
    /// created when missing. Migrations are not run here: see [`Db::migrate`].
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        if url.starts_with("sqlite:") {
            if url.contains(":memory:") || url.contains("mode=memory") {
                // Readers and the writer must see the same database.
                return Err(StoreError::UnsupportedUrl);
            }
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("secure_delete", "ON");
            let path = options.get_filename().to_path_buf();
            let writer = SqliteConnection::connect_with(&options).await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(8)
                // sqlx tests a connection when it comes back anyway.
                .test_before_acquire(false)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite {
                writer: std::sync::Arc::new(tokio::sync::Mutex::new(Some(writer))),
                readers: Kept::new(readers),
                line: std::sync::Arc::new(tokio::sync::Semaphore::new(1)),
                waiting: std::sync::Arc::default(),
                head: AuditHead::default(),
                path,
                queue: QueueMemory::default(),
            })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(postgres_options(url)?)
                .await?;
            Ok(Db::Postgres(
                Kept::new(pool),
                SealingTask::default(),
                QueueMemory::default(),
            ))
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// Connects and applies the embedded migrations.
    pub async fn open(url: &str) -> Result<Db, StoreError> {
        let db = Db::connect(url).await?;
        db.migrate().await?;
        Ok(db)
    }

    /// Applies the embedded migrations of this backend, and stores the
    /// built-in conversation guide's current version.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.migrate_through(i64::MAX).await
    }

    /// [`Db::migrate`] up to and including migration `version` only: a test
    /// of a later migration writes its data into the schema before it.
    pub async fn migrate_through(&self, version: i64) -> Result<(), StoreError> {
        match self {
            Db::Sqlite { writer, .. } => {
                let mut turn =
                    WriterTurn::take(writer, Writing::new(&AuditHead::default(), None)).await?;
                SQLITE_MIGRATIONS.run_to(version, &mut *turn).await?
            }
            Db::Postgres(pool, ..) => POSTGRES_MIGRATIONS.run_to(version, &pool.pool).await?,
        }
        crate::guide::ensure_builtin(self).await
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(..) => Backend::Postgres,
        }
    }

    /// A transaction for writing (on SQLite: on the one writer connection).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite {
                writer,
                head,
                line,
                waiting,
                ..
            } => {
                let waits = Waiting::new(waiting);
                let turn = line.clone().acquire_owned().await.ok();
                let turn = WriterTurn::begin(writer, Writing::new(head, turn)).await?;
                drop(waits);
                Tx::SqliteWrite(turn)
            }
            Db::Postgres(pool, task, _) => Tx::Postgres(
                pool.acquire().await?.begin().await?,
                PgSeal::new(&pool.pool, task),
            ),
        })
    }

    /// [`Db::begin`] for a write someone waits for with nothing else to do (an
    /// agent's next case): on SQLite it doesn't wait in line behind other
    /// writes for the writer, only for the one at it and other urgent ones.
    pub async fn begin_urgent(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite {
                writer,
                head,
                waiting,
                ..
            } => {
                let waits = Waiting::new(waiting);
                let turn = WriterTurn::begin(writer, Writing::new(head, None)).await?;
                drop(waits);
                Tx::SqliteWrite(turn)
            }
            Db::Postgres(pool, task, _) => Tx::Postgres(
                pool.acquire().await?.begin().await?,
                PgSeal::new(&pool.pool, task),
            ),
        })
    }

    /// SQLite: how many writes wait for the writer now (in line, or urgent);
    /// PostgreSQL: 0.
    pub fn writes_waiting(&self) -> usize {
        match self {
            Db::Sqlite { waiting, .. } => waiting.load(std::sync::atomic::Ordering::Relaxed),
            Db::Postgres(..) => 0,
        }
    }

    /// A transaction that only reads (on SQLite: from the reader pool).
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite { readers, head, .. } => {
                Tx::Sqlite(readers.pool.begin().await?, Writing::new(head, None))
            }
            Db::Postgres(pool, task, _) => Tx::Postgres(
                pool.acquire().await?.begin().await?,
                PgSeal::new(&pool.pool, task),
            ),
        })
    }

    /// A reader connection without a transaction: each statement sees the
    /// latest committed state on its own (no `BEGIN`/`COMMIT` round trips).
    /// For reads that need no snapshot across statements, such as the
    /// session lookup or a read whose result a guarded write checks again.
    pub async fn read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite { readers, .. } => Tx::SqliteRead(readers.acquire().await?),
            Db::Postgres(pool, task, _) => {
                Tx::PostgresRead(pool.acquire().await?, PgSeal::new(&pool.pool, task))
            }
        })
    }

    /// The writer without a transaction, for one statement that is atomic on
    /// its own (appending an audit event for a read). PostgreSQL: a pooled
    /// connection without a transaction too (an appended event needs no lock
    /// there; see `audit::append`).
    pub async fn write_once(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite {
                writer, head, line, ..
            } => {
                let turn = line.clone().acquire_owned().await.ok();
                Tx::SqliteWrite(WriterTurn::take(writer, Writing::new(head, turn)).await?)
            }
            Db::Postgres(pool, task, _) => {
                Tx::PostgresRead(pool.acquire().await?, PgSeal::new(&pool.pool, task))
            }
        })
    }

    /// Whether the database holds exactly this build's migrations (none
    /// missing, none of a newer build): a server is ready only then.
    pub async fn schema_current(&self) -> Result<bool, StoreError> {
        let latest = match self {
            Db::Sqlite { .. } => SQLITE_MIGRATIONS.iter().map(|m| m.version).max(),
            Db::Postgres(..) => POSTGRES_MIGRATIONS.iter().map(|m| m.version).max(),
        };
        let mut tx = self.read().await?;
        let (applied,): (Option<i64>,) = tx
            .fetch_one(
                "SELECT MAX(version) FROM _sqlx_migrations WHERE success",
                vec![],
            )
            .await?;
        Ok(applied == latest)
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        match self.begin_read().await {
            Ok(mut tx) => match tx
                .fetch_one::<(i64,)>("SELECT CAST(1 AS BIGINT)", vec![])
                .await
            {
                Ok(_) => true,
                Err(error) => {
                    tracing::warn!(%error, "database ping failed");
                    false
                }
            },
            Err(_) => false,
        }
    }

    pub fn pool_stats(&self) -> PoolStats {
        match self {
            Db::Sqlite {
                writer, readers, ..
            } => PoolStats {
                size: 1 + readers.pool.size(),
                idle: usize::from(writer.try_lock().is_ok()) + readers.idle(),
            },
            Db::Postgres(pool, ..) => PoolStats {
                size: pool.pool.size(),
                idle: pool.idle(),
            },
        }
    }

    /// PostgreSQL: this process runs a task that seals appended audit
    /// events (see `audit::seal`); transactions begun from now on leave the
    /// sealing to it.
    pub fn leave_sealing_to_task(&self) {
        if let Db::Postgres(_, task, _) = self {
            task.start();
        }
    }

    /// SQLite: from now on the writer leaves copying the write-ahead log
    /// into the database file to [`Db::checkpoint`], called by a task of this
    /// process (`outreach serve`). Otherwise the commit that fills the log
    /// past 1,000 pages copies it, syncing both files to disk while every
    /// other write waits for it. Returns false on PostgreSQL (nothing to do).
    pub async fn checkpoint_in_background(&self) -> Result<bool, StoreError> {
        let Db::Sqlite { writer, head, .. } = self else {
            return Ok(false);
        };
        let mut turn = WriterTurn::take(writer, Writing::new(head, None)).await?;
        sqlx::Executor::execute(&mut *turn, "PRAGMA wal_autocheckpoint = 0").await?;
        Ok(true)
    }

    /// SQLite: copies what it can of the write-ahead log into the database
    /// file on a reader connection, without waiting for or blocking readers
    /// and the writer (`PASSIVE`). Returns the pages copied.
    pub async fn checkpoint(&self) -> Result<i64, StoreError> {
        let Db::Sqlite { readers, .. } = self else {
            return Ok(0);
        };
        let mut conn = readers.pool.acquire().await?;
        let (_busy, _log, copied): (i64, i64, i64) =
            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
                .fetch_one(&mut *conn)
                .await?;
        Ok(copied)
    }

    /// PostgreSQL: whether the server's autovacuum is switched off. Then no
    /// table is vacuumed or analyzed unless an administrator does it: dead
    /// row versions pile up in the call queue's indexes, and plans made
    /// while a table was small (`attempts` at a campaign's start) stay.
    pub async fn autovacuum_off(&self) -> Result<bool, StoreError> {
        let Some(pool) = self.postgres_pool() else {
            return Ok(false);
        };
        let (setting,): (String,) = sqlx::query_as("SELECT current_setting('autovacuum')")
            .fetch_one(pool)
            .await?;
        Ok(setting == "off")
    }

    /// What this process remembers of the call queue.
    pub(crate) fn queue_memory(&self) -> &QueueMemory {
        match self {
            Db::Sqlite { queue, .. } | Db::Postgres(_, _, queue) => queue,
        }
    }

    /// The PostgreSQL pool (none on SQLite).
    pub(crate) fn postgres_pool(&self) -> Option<&PgPool> {
        match self {
            Db::Postgres(pool, ..) => Some(&pool.pool),
            Db::Sqlite { .. } => None,
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite {
                writer, readers, ..
            } => {
                readers.close().await;
                let last = writer.lock().await.take();
                if let Some(conn) = last
                    && let Err(error) = conn.close().await
                {
                    tracing::warn!(%error, "closing the SQLite writer failed");
                }
            }
            Db::Postgres(pool, ..) => pool.close().await,
        }
    }
}

/// A bind parameter. Nulls carry their type, which PostgreSQL needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
    Bytes(Vec<u8>),
}

impl From<Vec<u8>> for Arg {
    fn from(v: Vec<u8>) -> Arg {
        Arg::Bytes(v)
    }
}

impl From<i64> for Arg {
    fn from(v: i64) -> Arg {
        Arg::Int(Some(v))
    }
}
impl From<Option<i64>> for Arg {
    fn from(v: Option<i64>) -> Arg {
        Arg::Int(v)
    }
}
impl From<String> for Arg {
    fn from(v: String) -> Arg {
        Arg::Text(Some(v))
    }
}
impl From<&str> for Arg {
    fn from(v: &str) -> Arg {
        Arg::Text(Some(v.to_string()))
    }
}
impl From<&String> for Arg {
    fn from(v: &String) -> Arg {
        Arg::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Arg {
    fn from(v: Option<String>) -> Arg {
        Arg::Text(v)
    }
}
impl From<Option<&str>> for Arg {
    fn from(v: Option<&str>) -> Arg {
        Arg::Text(v.map(str::to_string))
    }
}
impl From<bool> for Arg {
    fn from(v: bool) -> Arg {
        Arg::Bool(v)
    }
}

/// Builds a `Vec<Arg>` from values of mixed types.
#[macro_export]
macro_rules! args {
    ($($value:expr),* $(,)?) => { vec![$($crate::Arg::from($value)),*] };
}

/// A row type readable from both backends.
pub trait Record:
    for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}
impl<T> Record for T where
    T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin
{
}

// Binds the arguments in order; a macro because `Query` and `QueryAs` share no
// trait for `bind`.
macro_rules! bind_args {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Int(v) => query.bind(v),
                Arg::Text(v) => query.bind(v),
                Arg::Bool(v) => query.bind(v),
                Arg::Bytes(v) => query.bind(v),
            };
        }
        query
    }};
}

// Runs the same statement code on whichever backend the transaction has; each
// arm is type-checked for its own driver.
macro_rules! on_backend {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            Tx::Sqlite(t, _) => {
                let $conn = &mut **t;
                $body
            }
            Tx::SqliteWrite(t) => {
                let $conn = &mut **t;
                $body
            }
            // Clean again only once the statement has run through (a
            // cut-off or failed one sends the connection back to sqlx).
            Tx::SqliteRead(k) => {
                k.clean = false;
                let $conn = k.conn()?;
                let result = $body;
                k.clean = true;
                result
            }
            Tx::Postgres(k, _) | Tx::PostgresRead(k, _) => {
                k.clean = false;
                let $conn = k.conn()?;
                let result = $body;
                k.clean = true;
                result
            }
        }
    };
}

// The parts, after the macros they use (macros are in scope from
// where they are defined).
mod pool;
pub use pool::*;
mod tx;
pub use tx::*;
mod memory;
pub use memory::*;
mod audit_state;
pub use audit_state::*;

/// The connection options of a `postgres://` URL. TLS: as the URL's
/// `sslmode` (or `PGSSLMODE`) says — `require`, `verify-ca` and
/// `verify-full` never fall back to plain text, `sslrootcert=FILE` names the
/// CA; without one, `verify-full` for a host on the network and `disable`
/// for a loopback address or a local socket (libpq's `prefer` would move a
/// connection onto TLS or off it as the server offers, unverified).
pub fn postgres_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let options = PgConnectOptions::from_str(url)?;
    if names_sslmode(url) || std::env::var_os("PGSSLMODE").is_some() {
        return Ok(options);
    }
    let mode = if is_local_host(options.get_host()) {
        PgSslMode::Disable
    } else {
        PgSslMode::VerifyFull
    };
    Ok(options.ssl_mode(mode))
}

/// Whether the URL's query sets `sslmode`.
fn names_sslmode(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| {
        query.split('&').any(|pair| {
            pair.split('=')
                .next()
                .is_some_and(|k| k.eq_ignore_ascii_case("sslmode"))
        })
    })
}

/// A loopback address, `localhost`, or a Unix socket's folder.
fn is_local_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.starts_with('/')
        || host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tls_tests {
    use super::*;

    #[test]
    fn without_an_sslmode_loopback_is_plain_and_the_network_is_verified() {
        let mode = |url: &str| {
            let options = postgres_options(url).map_err(|e| e.to_string());
            // PgConnectOptions shows its mode only in its Debug output.
            format!("{options:?}")
        };
        if std::env::var_os("PGSSLMODE").is_some() {
            return;
        }
        assert!(mode("postgres://u@127.0.0.1/db").contains("ssl_mode: Disable"));
        assert!(mode("postgres://u@localhost:5433/db").contains("ssl_mode: Disable"));
        assert!(mode("postgres://u@[::1]/db").contains("ssl_mode: Disable"));
        assert!(mode("postgres://u@db.jobcenter.example/db").contains("ssl_mode: VerifyFull"));
        assert!(mode("postgres://u@10.1.2.3/db").contains("ssl_mode: VerifyFull"));
        assert!(mode("postgres://u@10.1.2.3/db?sslmode=require").contains("ssl_mode: Require"));
        assert!(
            mode("postgres://u@127.0.0.1/db?application_name=x&sslmode=verify-full")
                .contains("ssl_mode: VerifyFull")
        );
    }
}
