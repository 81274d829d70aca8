//! Whose records of a job center a query may read or change, applied in the
//! query's own statement (never checked by a caller in a separate step):
//! the job center's own staff see its records; a service center sees the
//! records of the mandates given to it; the command line, run by whoever
//! holds the database, sees all.

use outreach_core::access::{Actor, Home};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordScope {
    JobCenter(i64),
    ServiceCenter(i64),
    /// The command line and the server's own jobs.
    Operator,
}

impl RecordScope {
    /// The actor's scope; `None` for a global account (the system
    /// administration sees no job center's records).
    pub fn of(actor: &Actor) -> Option<RecordScope> {
        match actor.home {
            Home::JobCenter(id) => Some(RecordScope::JobCenter(id)),
            Home::ServiceCenter(id) => Some(RecordScope::ServiceCenter(id)),
            Home::Global => None,
        }
    }

    /// The scope as two SQL parameters: a kind (`jc`, `sc`, `all`) and an id.
    pub(crate) fn args(self) -> (&'static str, i64) {
        match self {
            RecordScope::JobCenter(id) => ("jc", id),
            RecordScope::ServiceCenter(id) => ("sc", id),
            RecordScope::Operator => ("all", 0),
        }
    }
}

/// The condition "campaign `p` is in the scope of `$2` (kind) and `$3` (id)".
#[macro_export]
#[doc(hidden)]
macro_rules! campaign_in_scope {
    () => {
        " ($2 = 'all' OR ($2 = 'jc' AND p.job_center_id = $3)
            OR ($2 = 'sc' AND EXISTS (SELECT 1 FROM mandates sm
                                      WHERE sm.id = p.mandate_id AND sm.service_center_id = $3))) "
    };
}
