//! The connection to either backend: one typed pool per backend, transactions,
//! and portable statements with `$n` parameters that run on both.

use crate::StoreError;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{FromRow, Postgres, Sqlite, Transaction};
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
        writer: SqlitePool,
        readers: SqlitePool,
    },
    Postgres(PgPool),
}

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
            let writer = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options.clone())
                .await?;
            let readers = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite { writer, readers })
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            Ok(Db::Postgres(pool))
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
        match self {
            Db::Sqlite { writer, .. } => SQLITE_MIGRATIONS.run(writer).await?,
            Db::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        crate::guide::ensure_builtin(self).await
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite { .. } => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// A transaction for writing (on SQLite: on the one writer connection).
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite { writer, .. } => Tx::Sqlite(writer.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// A transaction that only reads (on SQLite: from the reader pool).
    pub async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite { readers, .. } => Tx::Sqlite(readers.begin().await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
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
            Db::Sqlite { writer, readers } => PoolStats {
                size: writer.size() + readers.size(),
                idle: writer.num_idle() + readers.num_idle(),
            },
            Db::Postgres(pool) => PoolStats {
                size: pool.size(),
                idle: pool.num_idle(),
            },
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite { writer, readers } => {
                readers.close().await;
                writer.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// A bind parameter. Nulls carry their type, which PostgreSQL needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Int(Option<i64>),
    Text(Option<String>),
    Bool(bool),
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
            Tx::Sqlite($conn) => $body,
            Tx::Postgres($conn) => $body,
        }
    };
}

/// A transaction on either backend. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    /// Runs a statement; returns the number of rows it touched.
    pub async fn execute(&mut self, sql: &'static str, args: Vec<Arg>) -> Result<u64, StoreError> {
        Ok(on_backend!(self, tx => bind_args!(sqlx::query(sql), args)
            .execute(&mut **tx)
            .await?
            .rows_affected()))
    }

    pub async fn fetch_all<T: Record>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Vec<T>, StoreError> {
        Ok(
            on_backend!(self, tx => bind_args!(sqlx::query_as::<_, T>(sql), args)
            .fetch_all(&mut **tx)
            .await?),
        )
    }

    pub async fn fetch_optional<T: Record>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<Option<T>, StoreError> {
        Ok(
            on_backend!(self, tx => bind_args!(sqlx::query_as::<_, T>(sql), args)
            .fetch_optional(&mut **tx)
            .await?),
        )
    }

    pub async fn fetch_one<T: Record>(
        &mut self,
        sql: &'static str,
        args: Vec<Arg>,
    ) -> Result<T, StoreError> {
        Ok(
            on_backend!(self, tx => bind_args!(sqlx::query_as::<_, T>(sql), args)
            .fetch_one(&mut **tx)
            .await?),
        )
    }

    /// Runs a statement generated at run time from constant pieces only (never
    /// from input), such as a multi-row `INSERT` with one placeholder per value.
    pub async fn execute_generated(
        &mut self,
        sql: String,
        args: Vec<Arg>,
    ) -> Result<u64, StoreError> {
        Ok(
            on_backend!(self, tx => bind_args!(sqlx::query(sqlx::AssertSqlSafe(sql)), args)
                .execute(&mut **tx)
                .await?
                .rows_affected()),
        )
    }

    /// PostgreSQL's bulk path: `COPY ... FROM STDIN` with `data` in COPY's text
    /// format. Returns the rows copied; on SQLite it is an error to call.
    pub async fn copy_in(
        &mut self,
        statement: &'static str,
        data: &[u8],
    ) -> Result<u64, StoreError> {
        match self {
            Tx::Postgres(tx) => {
                let mut copy = tx.copy_in_raw(statement).await?;
                copy.send(data).await?;
                Ok(copy.finish().await?)
            }
            Tx::Sqlite(_) => Err(StoreError::Integrity("COPY is PostgreSQL only".into())),
        }
    }

    /// Ends the transaction without keeping its changes.
    pub async fn rollback(self) -> Result<(), StoreError> {
        on_backend!(self, tx => tx.rollback().await?);
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}
