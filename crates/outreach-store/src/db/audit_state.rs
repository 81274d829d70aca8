//! The audit chain's state in the process: the sealing task on PostgreSQL
//! and the chain's head.

use super::*;

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
    pub(super) pool: Option<PgPool>,
    pub(super) due: bool,
}

impl PgSeal {
    pub(super) fn new(pool: &PgPool, task: &SealingTask) -> PgSeal {
        PgSeal {
            pool: (!task.running()).then(|| pool.clone()),
            due: false,
        }
    }

    /// Seals the events appended, unless a sealer already at work or the
    /// process's sealing task does it. The change is committed whatever
    /// happens here; events left unsealed are sealed by the next sealer.
    pub(super) async fn after_commit(self) {
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
