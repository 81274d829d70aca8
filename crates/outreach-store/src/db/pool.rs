//! The kept pool: connections kept open beside sqlx's pool, so that a
//! request's statements don't wait for a connection to be opened.

use super::*;

/// How long a connection may wait among the [`Kept`] ones; one idle longer
/// goes back to sqlx's pool, which tests it before handing it out again.
pub(super) const KEPT_IDLE: Duration = Duration::from_secs(10);

/// The connections waiting in [`Kept`], each with when it came back.
pub(super) type Idle<DB> =
    std::sync::Arc<std::sync::Mutex<Vec<(PoolConnection<DB>, std::time::Instant)>>>;

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
    pub(super) idle: Idle<DB>,
    /// At most this many are out at once, in use or waiting here: the rest
    /// of the pool stays with sqlx for the sealer and the paths that use it
    /// directly. A connection is only taken from sqlx's pool when none
    /// waits here, so none waits for sqlx while one is idle here.
    pub(super) permits: std::sync::Arc<tokio::sync::Semaphore>,
    pub(super) most: usize,
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
    pub(super) fn new(pool: sqlx::Pool<DB>) -> Kept<DB> {
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

    pub(super) async fn acquire(&self) -> Result<KeptConn<DB>, StoreError> {
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

    pub(super) fn idle(&self) -> usize {
        self.pool.num_idle() + self.idle.lock().map_or(0, |idle| idle.len())
    }

    pub(super) async fn close(&self) {
        self.permits.close();
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
        self.pool.close().await;
    }
}

/// A connection from [`Kept`], in a transaction or not.
pub struct KeptConn<DB: sqlx::Database> {
    pub(super) conn: Option<PoolConnection<DB>>,
    pub(super) home: Kept<DB>,
    /// No statement was cut off or failed.
    pub(super) clean: bool,
    /// A transaction began and has not ended.
    pub(super) open: bool,
    /// Given back after the connection (fields drop after `drop`).
    pub(super) _permit: tokio::sync::OwnedSemaphorePermit,
}

impl<DB: sqlx::Database> KeptConn<DB> {
    pub(super) fn conn(&mut self) -> Result<&mut DB::Connection, StoreError> {
        match self.conn.as_mut() {
            Some(conn) => Ok(&mut **conn),
            None => Err(StoreError::Database(sqlx::Error::PoolClosed)),
        }
    }

    pub(super) async fn begin(mut self) -> Result<KeptConn<DB>, StoreError> {
        self.clean = false;
        DB::TransactionManager::begin(self.conn()?, None).await?;
        self.open = true;
        self.clean = true;
        Ok(self)
    }

    pub(super) async fn commit(mut self) -> Result<(), StoreError> {
        if self.open {
            self.clean = false;
            DB::TransactionManager::commit(self.conn()?).await?;
            self.open = false;
            self.clean = true;
        }
        Ok(())
    }

    pub(super) async fn rollback(mut self) -> Result<(), StoreError> {
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
