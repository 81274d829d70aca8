//! What the queue remembers between leases (per campaign, the lowest
//! fresh case still open), so that a lease doesn't scan what it passed.

/// What this process remembers of the call queue between two "next case"
/// requests (see `calls::lease_next`): when it last handed expired leases
/// back — at most every [`QueueMemory::SWEEP_EVERY`] seconds of the clock
/// it is given — and, on PostgreSQL, per campaign the queue position of the
/// last fresh case it leased, where the next search for a fresh case
/// starts (migration 0021).
#[derive(Debug, Clone, Default)]
pub struct QueueMemory(std::sync::Arc<QueueMemoryInner>);

#[derive(Debug, Default)]
pub struct QueueMemoryInner {
    pub(super) last_sweep: std::sync::atomic::AtomicI64,
    pub(super) floors: std::sync::Mutex<std::collections::HashMap<i64, FreshFloor>>,
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
