//! The connection to either backend: one typed pool per backend, transactions,
//! and portable statements with `$n` parameters that run on both.

use crate::StoreError;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
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

/// What this process remembers of the call queue between two "next case"
/// requests (see `queue::lease_next`): when it last handed expired leases
/// back — at most every [`QueueMemory::SWEEP_EVERY`] seconds of the clock
/// it is given — and, on PostgreSQL, per campaign the queue position of the
/// last fresh case it leased, where the next search for a fresh case
/// starts (migration 0021).
#[derive(Debug, Clone, Default)]
pub struct QueueMemory(std::sync::Arc<QueueMemoryInner>);

#[derive(Debug, Default)]
pub struct QueueMemoryInner {
    last_sweep: std::sync::atomic::AtomicI64,
    floors: std::sync::Mutex<std::collections::HashMap<i64, FreshFloor>>,
}

/// A fresh case's place in its campaign's queue: group, last contact, id.
pub type FreshFloor = (i64, String, i64);

impl QueueMemory {
    /// Seconds between two hand-backs of expired leases.
    pub const SWEEP_EVERY: i64 = 5;

    /// Whether a lease at `now` hands expired leases back; if so, the next
    /// one is due [`QueueMemory::SWEEP_EVERY`] seconds later, and the
    /// search for fresh cases starts from the front again (a case handed
    /// back may be before the floors). A clock that went back (another
    /// test's, a corrected system clock) sweeps at once.
    pub(crate) fn sweep_due(&self, now: i64) -> bool {
        use std::sync::atomic::Ordering::Relaxed;
        let last = self.0.last_sweep.load(Relaxed);
        let due = last == 0 || now >= last + Self::SWEEP_EVERY || now < last;
        // Two requests at once may both sweep; that is harmless.
        if due {
            self.0.last_sweep.store(now, Relaxed);
            if let Ok(mut floors) = self.0.floors.lock() {
                floors.clear();
            }
        }
        due
    }

    /// Where the search for campaign `campaign`'s next fresh case starts.
    pub(crate) fn floor(&self, campaign: i64) -> Option<FreshFloor> {
        self.0.floors.lock().ok()?.get(&campaign).cloned()
    }

    /// The fresh case just leased from `campaign`, at `floor`.
    pub(crate) fn leased_fresh(&self, campaign: i64, floor: FreshFloor) {
        if let Ok(mut floors) = self.0.floors.lock() {
            floors.insert(campaign, floor);
        }
    }
}

/// SQLite's one writer connection, taken by one write at a time; `None`
/// once closed. Not in a pool: handing a pooled connection on costs a task
/// and a round trip to the connection's thread (sqlx tests it on every
/// return), which the next write waited for — as long as the writes
/// themselves took, with the writer busy (see BENCHMARKS.md, issue 6).
pub type Writer = std::sync::Arc<tokio::sync::Mutex<Option<SqliteConnection>>>;

/// PostgreSQL: set once this process runs a task that seals appended audit
/// events (`outreach serve`), so that commits leave the sealing to it.
#[derive(Debug, Clone, Default)]
pub struct SealingTask(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl SealingTask {
    pub(crate) fn running(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn start(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// PostgreSQL: a transaction's part in sealing the audit events it appended:
/// the pool to seal with after the commit (none when the process's sealing
/// task does it) and whether any event was appended.
pub struct PgSeal {
    pool: Option<PgPool>,
    due: bool,
}

impl PgSeal {
    fn new(pool: &PgPool, task: &SealingTask) -> PgSeal {
        PgSeal {
            pool: (!task.running()).then(|| pool.clone()),
            due: false,
        }
    }

    /// Seals the events appended, unless a sealer already at work or the
    /// process's sealing task does it. The change is committed whatever
    /// happens here; events left unsealed are sealed by the next sealer.
    async fn after_commit(self) {
        if let (true, Some(pool)) = (self.due, self.pool)
            && let Err(error) = crate::audit::seal_postgres(&pool, false).await
        {
            tracing::warn!(%error, "sealing audit events after commit failed");
        }
    }
}

/// SQLite: the audit chain's head as this process last wrote it, so an
/// event can be appended in one statement that checks it is still the head
/// (see `audit::append`). Wrong after a rollback or another process's write;
/// then the statement appends nothing and the head is read again.
#[derive(Debug, Clone, Default)]
pub struct AuditHead(std::sync::Arc<std::sync::Mutex<Option<(i64, String)>>>);

impl AuditHead {
    pub fn get(&self) -> Option<(i64, String)> {
        self.0.lock().ok().and_then(|h| h.clone())
    }

    pub fn set(&self, head: Option<(i64, String)>) {
        if let Ok(mut h) = self.0.lock() {
            *h = head;
        }
    }
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
                .connect(url)
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
        match self {
            Db::Sqlite { writer, .. } => {
                let mut turn =
                    WriterTurn::take(writer, Writing::new(&AuditHead::default(), None)).await?;
                SQLITE_MIGRATIONS.run(&mut *turn).await?
            }
            Db::Postgres(pool, ..) => POSTGRES_MIGRATIONS.run(&pool.pool).await?,
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

/// How long a connection may wait among the [`Kept`] ones; one idle longer
/// goes back to sqlx's pool, which tests it before handing it out again.
const KEPT_IDLE: Duration = Duration::from_secs(10);

/// The connections waiting in [`Kept`], each with when it came back.
type Idle<DB> = std::sync::Arc<std::sync::Mutex<Vec<(PoolConnection<DB>, std::time::Instant)>>>;

/// Connections this process keeps out of sqlx's pool between uses. sqlx
/// tests a connection with a round trip when it returns to the pool and, on
/// PostgreSQL, again before handing it out; for the short reads and writes
/// of a request that doubled or tripled the round trips (see BENCHMARKS.md,
/// issue 6). A connection comes back here without them when its use ended
/// cleanly: no transaction left open, no statement cut off. Otherwise, or
/// when it has waited here longer than [`KEPT_IDLE`], it goes back to sqlx's
/// pool, which rolls back and tests it as before.
pub struct Kept<DB: sqlx::Database> {
    pub(crate) pool: sqlx::Pool<DB>,
    idle: Idle<DB>,
    /// At most this many are out at once, in use or waiting here: the rest
    /// of the pool stays with sqlx for the sealer and the paths that use it
    /// directly. A connection is only taken from sqlx's pool when none
    /// waits here, so none waits for sqlx while one is idle here.
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    most: usize,
}

impl<DB: sqlx::Database> Clone for Kept<DB> {
    fn clone(&self) -> Kept<DB> {
        Kept {
            pool: self.pool.clone(),
            idle: self.idle.clone(),
            permits: self.permits.clone(),
            most: self.most,
        }
    }
}

impl<DB: sqlx::Database> std::fmt::Debug for Kept<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("pool", &self.pool)
            .field("idle", &self.idle.lock().map_or(0, |idle| idle.len()))
            .field("most", &self.most)
            .finish()
    }
}

impl<DB: sqlx::Database> Kept<DB> {
    fn new(pool: sqlx::Pool<DB>) -> Kept<DB> {
        let most = (pool.options().get_max_connections() as usize)
            .saturating_sub(2)
            .max(1);
        Kept {
            pool,
            idle: std::sync::Arc::default(),
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(most)),
            most,
        }
    }

    async fn acquire(&self) -> Result<KeptConn<DB>, StoreError> {
        let timeout = self.pool.options().get_acquire_timeout();
        let permit = tokio::time::timeout(timeout, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))?
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        let waiting = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match waiting {
            Some((conn, since)) if since.elapsed() < KEPT_IDLE => conn,
            // Dropped: back to sqlx's pool, tested there.
            Some(_) | None => self.pool.acquire().await?,
        };
        Ok(KeptConn {
            conn: Some(conn),
            home: self.clone(),
            clean: true,
            open: false,
            _permit: permit,
        })
    }

    fn idle(&self) -> usize {
        self.pool.num_idle() + self.idle.lock().map_or(0, |idle| idle.len())
    }

    async fn close(&self) {
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
        self.pool.close().await;
    }
}

/// A connection from [`Kept`], in a transaction or not.
pub struct KeptConn<DB: sqlx::Database> {
    conn: Option<PoolConnection<DB>>,
    home: Kept<DB>,
    /// No statement was cut off or failed.
    clean: bool,
    /// A transaction began and has not ended.
    open: bool,
    /// Given back after the connection (fields drop after `drop`).
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl<DB: sqlx::Database> KeptConn<DB> {
    fn conn(&mut self) -> Result<&mut DB::Connection, StoreError> {
        match self.conn.as_mut() {
            Some(conn) => Ok(&mut **conn),
            None => Err(StoreError::Database(sqlx::Error::PoolClosed)),
        }
    }

    async fn begin(mut self) -> Result<KeptConn<DB>, StoreError> {
        self.clean = false;
        DB::TransactionManager::begin(self.conn()?, None).await?;
        self.open = true;
        self.clean = true;
        Ok(self)
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        if self.open {
            self.clean = false;
            DB::TransactionManager::commit(self.conn()?).await?;
            self.open = false;
            self.clean = true;
        }
        Ok(())
    }

    async fn rollback(mut self) -> Result<(), StoreError> {
        if self.open {
            self.clean = false;
            DB::TransactionManager::rollback(self.conn()?).await?;
            self.open = false;
            self.clean = true;
        }
        Ok(())
    }
}

impl<DB: sqlx::Database> Drop for KeptConn<DB> {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if self.open {
            // Sent before sqlx's pool hands the connection out again.
            DB::TransactionManager::start_rollback(&mut conn);
            return;
        }
        if !self.clean {
            return;
        }
        let Ok(mut idle) = self.home.idle.lock() else {
            return;
        };
        if idle.len() < self.home.most {
            idle.push((conn, std::time::Instant::now()));
        }
        // The longest waiting goes back to sqlx's pool once it waited too long.
        if idle
            .first()
            .is_some_and(|(_, since)| since.elapsed() >= KEPT_IDLE)
        {
            let stale = idle.remove(0);
            drop(idle);
            drop(stale);
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

/// A transaction on either backend. Dropped without [`Tx::commit`], it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>, Writing),
    Postgres(KeptConn<Postgres>, PgSeal),
    /// A reader connection without a transaction (see [`Db::read`]).
    SqliteRead(KeptConn<Sqlite>),
    PostgresRead(KeptConn<Postgres>, PgSeal),
    /// The SQLite writer, in a transaction ([`Db::begin`]) or for one
    /// statement ([`Db::write_once`]).
    SqliteWrite(WriterTurn),
}

/// A write's turn at the SQLite writer ([`Writer`]), in a transaction or
/// not. Dropped in a transaction, it rolls back: the rollback is queued on
/// the connection before the next write can take it.
pub struct WriterTurn {
    conn: tokio::sync::OwnedMappedMutexGuard<Option<SqliteConnection>, SqliteConnection>,
    writing: Writing,
    /// A transaction began and has not ended.
    open: bool,
}

/// Counts a write as waiting until dropped (also when its future is).
struct Waiting(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Waiting {
    fn new(counter: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Waiting {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Waiting(counter.clone())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl WriterTurn {
    /// The writer on its own; waits for the write at it.
    async fn take(writer: &Writer, writing: Writing) -> Result<WriterTurn, StoreError> {
        let guard = writer.clone().lock_owned().await;
        let conn = tokio::sync::OwnedMutexGuard::try_map(guard, Option::as_mut)
            .map_err(|_| StoreError::Database(sqlx::Error::PoolClosed))?;
        Ok(WriterTurn {
            conn,
            writing,
            open: false,
        })
    }

    /// The writer in a transaction that takes SQLite's write lock at once
    /// (`BEGIN IMMEDIATE`: another process's write is waited for here,
    /// not failed on later).
    async fn begin(writer: &Writer, writing: Writing) -> Result<WriterTurn, StoreError> {
        let mut turn = WriterTurn::take(writer, writing).await?;
        SqliteTransactionManager::begin(&mut turn.conn, Some("BEGIN IMMEDIATE".into_sql_str()))
            .await?;
        turn.open = true;
        Ok(turn)
    }

    async fn commit(mut self) -> Result<(), StoreError> {
        if self.open {
            SqliteTransactionManager::commit(&mut self.conn).await?;
            self.open = false;
        }
        Ok(())
    }

    async fn rollback(mut self) -> Result<(), StoreError> {
        if self.open {
            SqliteTransactionManager::rollback(&mut self.conn).await?;
            self.open = false;
        }
        Ok(())
    }
}

impl std::ops::Deref for WriterTurn {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriterTurn {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        if self.open {
            SqliteTransactionManager::start_rollback(&mut self.conn);
        }
    }
}

/// SQLite: the audit head, and the writer's line held by a write that is not
/// urgent until it ends.
pub struct Writing {
    head: AuditHead,
    _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Writing {
    fn new(head: &AuditHead, turn: Option<tokio::sync::OwnedSemaphorePermit>) -> Writing {
        Writing {
            head: head.clone(),
            _turn: turn,
        }
    }
}

impl Tx {
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(..) | Tx::SqliteRead(_) | Tx::SqliteWrite(_) => Backend::Sqlite,
            Tx::Postgres(..) | Tx::PostgresRead(..) => Backend::Postgres,
        }
    }

    /// PostgreSQL: notes that this transaction appended an audit event, to
    /// be sealed after the commit (unless a sealing task does it).
    pub(crate) fn appended_unsealed(&mut self) {
        if let Tx::Postgres(_, seal) | Tx::PostgresRead(_, seal) = self {
            seal.due = true;
        }
    }

    /// The SQLite writer's cached audit head (`None` elsewhere).
    pub(crate) fn audit_head(&self) -> Option<&AuditHead> {
        match self {
            Tx::Sqlite(_, writing) => Some(&writing.head),
            Tx::SqliteWrite(turn) => Some(&turn.writing.head),
            _ => None,
        }
    }

    /// Runs a statement; returns the number of rows it touched.
    pub async fn execute(&mut self, sql: &'static str, args: Vec<Arg>) -> Result<u64, StoreError> {
        Ok(on_backend!(self, tx => bind_args!(sqlx::query(sql), args)
            .execute(tx)
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
            .fetch_all(tx)
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
            .fetch_optional(tx)
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
            .fetch_one(tx)
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
                .execute(tx)
                .await?
                .rows_affected()),
        )
    }

    /// PostgreSQL's bulk path: `COPY ... FROM STDIN`, fed with the chunks of
    /// COPY's text format that arrive on `chunks` until its senders are gone
    /// (so the rows stream in while the sender still prepares the next).
    /// Returns the rows copied; on SQLite it is an error to call. When COPY
    /// fails, `chunks` is dropped, which tells the sender to stop.
    pub async fn copy_in_chunks(
        &mut self,
        statement: &'static str,
        mut chunks: tokio::sync::mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, StoreError> {
        match self {
            Tx::Postgres(k, _) => {
                k.clean = false;
                let mut copy = k.conn()?.copy_in_raw(statement).await?;
                while let Some(chunk) = chunks.recv().await {
                    copy.send(chunk).await?;
                }
                let copied = copy.finish().await?;
                k.clean = true;
                Ok(copied)
            }
            Tx::PostgresRead(..) => Err(StoreError::Integrity("COPY needs a transaction".into())),
            Tx::Sqlite(..) | Tx::SqliteRead(_) | Tx::SqliteWrite(_) => {
                Err(StoreError::Integrity("COPY is PostgreSQL only".into()))
            }
        }
    }

    /// Ends the transaction without keeping its changes.
    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx, _) => tx.rollback().await?,
            Tx::SqliteWrite(turn) => turn.rollback().await?,
            Tx::Postgres(k, _) => k.rollback().await?,
            Tx::SqliteRead(_) | Tx::PostgresRead(..) => {}
        }
        Ok(())
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx, _) => tx.commit().await?,
            Tx::Postgres(k, seal) => {
                k.commit().await?;
                seal.after_commit().await;
            }
            Tx::SqliteWrite(turn) => turn.commit().await?,
            Tx::PostgresRead(_, seal) => seal.after_commit().await,
            Tx::SqliteRead(_) => {}
        }
        Ok(())
    }
}
