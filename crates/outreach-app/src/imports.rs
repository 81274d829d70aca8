//! The import of a job center's customer export: one code path for an
//! upload in the browser, the JSON API and the command line.

use crate::Source;
use jiff::civil::Date;
use outreach_core::audit::AuditAction;
use outreach_store::Db;
pub use outreach_store::import::{ImportError, ImportReport};
use outreach_store::import::{ImportRequest, import_customers};
use std::io::Read;

/// What to import.
#[derive(Debug, Clone)]
pub struct Import {
    pub job_center_id: i64,
    /// The file's name as the import's report and the audit log show it.
    pub file_name: String,
    /// Read and checked, nothing stored.
    pub dry_run: bool,
    /// The web job that runs it (see `jobs`), stored with the import.
    pub job_id: Option<String>,
}

/// Reads the export from `open` (called again should a second reading be
/// needed), stores its customers in one transaction and records the import
/// in the audit log, as `by`; `progress` hears the bytes read so far.
/// Dates after `today` are refused.
pub async fn run<R, O>(
    db: &Db,
    by: Source<'_>,
    import: Import,
    open: O,
    progress: impl Fn(u64) + Send,
    today: Date,
    now: i64,
) -> Result<ImportReport, ImportError>
where
    R: Read + Send + 'static,
    O: FnMut() -> std::io::Result<R>,
{
    let request = ImportRequest {
        job_center_id: import.job_center_id,
        file_name: import.file_name,
        audit: by.event(AuditAction::CustomerImport),
        user_id: by.user_id(),
        today,
        now,
        dry_run: import.dry_run,
        job_id: import.job_id,
    };
    import_customers(db, request, open, progress).await
}
