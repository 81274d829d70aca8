//! The application layer: one function per user action, named in the
//! domain's words. Each opens its transaction (of the kind it needs), checks
//! the actor's right and scope, calls the core's rules, writes the audit
//! event with its wording and commits. The web pages, the JSON API and the
//! command line call these functions and nothing below them.

pub mod accounts;
pub mod administration;
pub mod api_tokens;
pub mod audit;
pub mod calls;
pub mod campaigns;
pub mod customers;
pub mod demo;
pub mod directory;
pub mod guides;
pub mod home;
pub mod imports;
pub mod invitations;
pub mod jobs;
pub mod letters;
pub mod mandates;
pub mod password;
pub mod privacy;
pub mod reports;
pub mod results;
pub mod sessions;
pub mod supervision;
pub mod upkeep;

use outreach_core::access::Actor;
use outreach_store::audit::AuditEvent;
pub use outreach_store::{Backend, Db, RecordScope, StoreError, random_token};

/// Who asks: the actor and where the request came from (for the audit log).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub actor: &'a Actor,
    /// The client's address as the audit log records it.
    pub client: &'a str,
}

/// Who asks, for actions that others than signed-in users may take too: a
/// user, a system of the job center with its API token, or the command line
/// (run by whoever holds the database).
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    User(Caller<'a>),
    Token { name: &'a str, job_center_id: i64 },
    CommandLine,
}

/// How the audit log names the command line, as user and as client.
pub const COMMAND_LINE: &str = "Kommandozeile";

impl Source<'_> {
    /// The audit event of `action` by this source.
    pub(crate) fn event(&self, action: outreach_core::audit::AuditAction) -> AuditEvent {
        match self {
            Source::User(by) => AuditEvent::by(by.actor, action, by.client),
            Source::Token {
                name,
                job_center_id,
            } => AuditEvent::anonymous(&format!("api:{name}"), action, "api")
                .job_center(Some(*job_center_id)),
            Source::CommandLine => AuditEvent::anonymous(COMMAND_LINE, action, COMMAND_LINE),
        }
    }

    /// The user's id, for a source that is a user.
    pub(crate) fn user_id(&self) -> Option<i64> {
        match self {
            Source::User(by) => Some(by.actor.user_id),
            _ => None,
        }
    }
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
    /// Typesetting a letter failed.
    #[error(transparent)]
    Letters(#[from] outreach_letters::LetterError),
    /// A backup could not be written, checked or restored.
    #[error(transparent)]
    Backup(#[from] outreach_store::backup::BackupError),
    /// A task or thread ended without its answer.
    #[error("{what}: {source}")]
    Task {
        what: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Something below failed that is no fault of the request.
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, Error>;
