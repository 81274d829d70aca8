//! The application layer: one function per user action, named in the
//! domain's words. Each opens its transaction (of the kind it needs), checks
//! the actor's right and scope, calls the core's rules, writes the audit
//! event with its wording and commits. The web pages, the JSON API and the
//! command line call these functions and nothing below them.

pub mod customers;
pub mod guides;
pub mod home;
pub mod mandates;
pub mod reports;
pub mod supervision;

use outreach_core::access::Actor;
use outreach_store::StoreError;

/// Who asks: the actor and where the request came from (for the audit log).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub actor: &'a Actor,
    /// The client's address as the audit log records it.
    pub client: &'a str,
}

/// Why an action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such record in the caller's scope (ids of others reveal nothing).
    #[error("not found")]
    NotFound,
    /// The caller's role may not do this.
    #[error("forbidden")]
    Forbidden,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, Error>;
