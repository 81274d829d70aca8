//! A transaction, and on SQLite the writer's turn: one writing
//! transaction at a time, waiting in line.

use super::*;

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
    pub(super) conn: tokio::sync::OwnedMappedMutexGuard<Option<SqliteConnection>, SqliteConnection>,
    pub(super) writing: Writing,
    /// A transaction began and has not ended.
    pub(super) open: bool,
}

/// Counts a write as waiting until dropped (also when its future is).
pub(super) struct Waiting(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Waiting {
    pub(super) fn new(counter: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Waiting {
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
    pub(super) async fn take(writer: &Writer, writing: Writing) -> Result<WriterTurn, StoreError> {
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
    pub(super) async fn begin(writer: &Writer, writing: Writing) -> Result<WriterTurn, StoreError> {
        let mut turn = WriterTurn::take(writer, writing).await?;
        SqliteTransactionManager::begin(&mut turn.conn, Some("BEGIN IMMEDIATE".into_sql_str()))
            .await?;
        turn.open = true;
        Ok(turn)
    }

    pub(super) async fn commit(mut self) -> Result<(), StoreError> {
        if self.open {
            SqliteTransactionManager::commit(&mut self.conn).await?;
            self.open = false;
        }
        Ok(())
    }

    pub(super) async fn rollback(mut self) -> Result<(), StoreError> {
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
    pub(super) head: AuditHead,
    pub(super) _turn: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Writing {
    pub(super) fn new(
        head: &AuditHead,
        turn: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Writing {
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
            Tx::PostgresRead(..) => Err(StoreError::Unsupported("COPY outside a transaction")),
            Tx::Sqlite(..) | Tx::SqliteRead(_) | Tx::SqliteWrite(_) => {
                Err(StoreError::Unsupported("COPY on SQLite"))
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
