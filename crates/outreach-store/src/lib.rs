//! Persistence for Outreach on SQLite (embedded, the default) and PostgreSQL
//! (the nationwide service). SQL is written once where it is portable; every
//! query for customer data takes the actor's scope.

pub mod api_token;
pub mod audit;
pub mod campaign;
pub mod conversation;
pub mod customer;
mod db;
mod error;
pub mod guide;
pub mod handover;
pub mod import;
pub mod invitation;
pub mod letters;
pub mod mandate;
pub mod org;
pub mod queue;
pub mod report;
pub mod session;
pub mod testing;
pub mod user;

pub use db::{Arg, Backend, Db, PoolStats, Tx};
pub use error::StoreError;

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
