//! Persistence for Outreach on SQLite (embedded, the default) and PostgreSQL
//! (the nationwide service). SQL is written once where it is portable; every
//! query for customer data takes the actor's scope.

/// Audit events about customer `$n` (an SQL parameter), as their attribution
/// names them (migration 0026): about the customer, their cases, results and
/// invitations, also once a case is gone. Used by the access request and the
/// DPO's person filter.
macro_rules! about_person {
    ($n:literal) => {
        concat!(
            "audit_events.id IN (SELECT event_id FROM audit_attribution WHERE customer_id = ",
            $n,
            ")"
        )
    };
}

pub mod api_token;
pub mod audit;
pub mod backup;
pub mod calls;
pub mod campaign;
pub mod conversation;
pub mod customer;
mod db;
mod error;
pub mod guide;
pub mod import;
pub mod invitation;
pub mod jobs;
pub mod letters;
pub mod mandate;
pub mod org;
pub mod privacy;
pub mod report;
pub mod results;
pub mod retention;
pub mod scope;
pub mod second_factor;
pub mod session;
pub mod subject;
pub mod testing;
pub mod user;

pub use db::{Arg, Backend, Db, PoolStats, Record, Tx};
pub use error::StoreError;
pub use scope::RecordScope;

/// A random token of `bytes` bytes as lower-case hex.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // getrandom only fails where the OS has no entropy source at all; a zeroed
    // token would be guessable, so refuse to go on.
    if getrandom::fill(&mut buf).is_err() {
        std::process::abort();
    }
    hex::encode(buf)
}
