//! Long jobs that outlive a request — the web import (upload, check, store)
//! and a batch's print archive — stored in the database, so that any server
//! runs them and any server shows their page and their result
//! (`outreach_store::jobs`). Every `outreach serve` runs a [`work`] loop: it
//! claims a queued job, or one whose server stopped renewing its lease for
//! [`LEASE_LAPSE`] seconds, and renews its own lease every [`HEARTBEAT`].
//!
//! A job taken over starts again from its stored input: an import is one
//! transaction that also records the job (applied once: a job whose import
//! was stored ends as done), a print archive is typeset again. After
//! [`MAX_ATTEMPTS`] starts a job fails with a German message. The upload and
//! the archive hold social data: the upload goes when the import ends (a
//! dry run keeps it for the confirmation), everything [`KEPT`] seconds after
//! the job ended or its archive was last fetched ([`sweep`], also run by the
//! deletion run).

use crate::{Caller, Error, Result, Source};
use outreach_core::access::{Action, Actor, Home, Role};
use outreach_store::Db;
use outreach_store::jobs::{self as store, End, Job, Kind, NewJob, Part};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Seconds without a renewed lease after which another server takes a
/// running job over.
pub const LEASE_LAPSE: i64 = 30;
/// How often a running job's lease and progress are renewed.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// Starts of a job before it fails (its server died each time).
pub const MAX_ATTEMPTS: i32 = 3;
/// Seconds an ended job (and its archive, from its last download) is kept.
pub const KEPT: i64 = 3600;
/// Rows of errors and of warnings an import's page shows (all are in its CSV).
pub const SHOWN: usize = 200;
/// Jobs one server runs at once.
const AT_ONCE: usize = 2;

#[derive(Debug, Serialize, Deserialize)]
struct ImportParams {
    dry_run: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct PrintParams {
    batch_id: i64,
}

fn print_params(batch_id: i64) -> String {
    serde_json::to_string(&PrintParams { batch_id }).unwrap_or_default()
}

/// One rejected or warned row, as the page shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRow {
    pub line: u64,
    pub customer_number: String,
    pub field: String,
    pub message: String,
}

/// An import's outcome as its page shows it (stored with the job).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportResult {
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub missing: u64,
    pub warnings: u64,
    pub unknown_columns: Vec<String>,
    pub encoding: String,
    pub delimiter: String,
    pub dry_run: bool,
    /// The first [`SHOWN`] of each.
    pub errors: Vec<IssueRow>,
    pub warning_list: Vec<IssueRow>,
    /// A note on how the job ended (taken over after its import was stored).
    pub note: String,
}

/// Where a job stands, for its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Queued or running: percent done.
    Running(u64),
    Failed(String),
    Done,
}

fn progress_of(job: &Job) -> Progress {
    match job.state.as_str() {
        "done" => Progress::Done,
        "failed" => Progress::Failed(job.message.clone()),
        _ => Progress::Running(percent(job.progress_done, job.progress_total)),
    }
}

fn percent(done: i64, total: i64) -> u64 {
    u64::try_from((done.max(0) * 100).checked_div(total).unwrap_or(0).min(100)).unwrap_or(0)
}

/// An import job as its page shows it.
#[derive(Debug, Clone)]
pub struct ImportView {
    pub id: String,
    pub file_name: String,
    pub created_at: i64,
    pub dry_run: bool,
    pub progress: Progress,
    pub result: ImportResult,
    /// Its rejected and warned rows can be downloaded as CSV.
    pub has_issues: bool,
}

/// The caller's job center (imports and print jobs are the job center's).
fn job_center_of(actor: &Actor) -> Result<i64> {
    actor.home.job_center().ok_or(Error::Forbidden)
}

fn new_job(
    by: Caller<'_>,
    kind: Kind,
    job_center_id: i64,
    file_name: &str,
    params: String,
) -> NewJob {
    NewJob {
        id: crate::random_token(16),
        kind,
        job_center_id,
        user_id: Some(by.actor.user_id),
        username: by.actor.username.clone(),
        role: by.actor.role.code().to_string(),
        client: by.client.to_string(),
        file_name: file_name.chars().take(200).collect(),
        params,
        progress_total: 0,
    }
}

/// An upload on its way into the database, chunk by chunk.
pub struct Upload {
    db: Db,
    id: String,
    buffer: Vec<u8>,
    seq: i64,
    size: u64,
}

/// Begins receiving an export to import for the caller's job center.
pub async fn receive(db: &Db, by: Caller<'_>, file_name: &str) -> Result<Upload> {
    if !outreach_core::access::can(by.actor, Action::ImportCustomers) {
        return Err(Error::Forbidden);
    }
    let jc = job_center_of(by.actor)?;
    let job = new_job(by, Kind::Import, jc, file_name, String::new());
    store::create(db, &job, false).await?;
    Ok(Upload {
        db: db.clone(),
        id: job.id,
        buffer: Vec::with_capacity(store::CHUNK_BYTES),
        seq: 0,
        size: 0,
    })
}

impl Upload {
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds received bytes; full chunks go into the database.
    pub async fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        self.size += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = store::CHUNK_BYTES - self.buffer.len();
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            self.buffer.extend_from_slice(now);
            bytes = later;
            if self.buffer.len() == store::CHUNK_BYTES {
                self.flush().await?;
            }
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buffer, Vec::with_capacity(store::CHUNK_BYTES));
        store::append_chunk(&self.db, &self.id, Part::Upload, self.seq, data).await?;
        self.seq += 1;
        Ok(())
    }

    /// The whole file arrived: the import (`dry_run`: only the check) is
    /// queued. Returns the job's id.
    pub async fn finish(mut self, dry_run: bool) -> Result<String> {
        self.flush().await?;
        let params = serde_json::to_string(&ImportParams { dry_run }).unwrap_or_default();
        let size = i64::try_from(self.size).unwrap_or(i64::MAX);
        store::queue(&self.db, &self.id, size, &params).await?;
        Ok(self.id)
    }

    /// The upload broke off or was empty: nothing is kept.
    pub async fn abandon(self) -> Result<()> {
        store::delete(&self.db, &self.id).await?;
        Ok(())
    }
}

/// The caller's job `id` of `kind`; "not found" for another job center's.
async fn owned(db: &Db, by: Caller<'_>, id: &str, kind: Kind) -> Result<Job> {
    let jc = job_center_of(by.actor)?;
    let mut tx = db.read().await?;
    let job = store::get(&mut tx, id).await?;
    match job {
        Some(job)
            if job.job_center_id == jc && job.kind == kind.code() && job.state != "receiving" =>
        {
            Ok(job)
        }
        _ => Err(Error::NotFound),
    }
}

/// The caller's import job `id`.
pub async fn import_view(db: &Db, by: Caller<'_>, id: &str) -> Result<ImportView> {
    let job = owned(db, by, id, Kind::Import).await?;
    let params: ImportParams =
        serde_json::from_str(&job.params).unwrap_or(ImportParams { dry_run: false });
    let result: ImportResult = job
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    let mut tx = db.read().await?;
    let has_issues = store::chunk_count(&mut tx, &job.id, Part::Issues).await? > 0;
    Ok(ImportView {
        progress: progress_of(&job),
        id: job.id,
        file_name: job.file_name,
        created_at: job.created_at,
        dry_run: params.dry_run,
        result,
        has_issues,
    })
}

/// Chunk `seq` of the CSV of an import's rejected and warned rows (`None`
/// after the last; the header alone when there are none); "not found"
/// unless the import ended.
pub async fn import_issues(db: &Db, by: Caller<'_>, id: &str, seq: i64) -> Result<Option<Vec<u8>>> {
    let job = owned(db, by, id, Kind::Import).await?;
    if job.state != "done" {
        return Err(Error::NotFound);
    }
    let mut tx = db.read().await?;
    if store::chunk_count(&mut tx, &job.id, Part::Issues).await? == 0 {
        // Nothing rejected or warned: the header alone.
        let empty = crate::imports::ImportReport::default();
        let file = issues_csv(&empty)?;
        let bytes = std::fs::read(file.path()).map_err(|source| Error::Io {
            what: "issues CSV".into(),
            source,
        })?;
        return Ok((seq == 0).then_some(bytes));
    }
    Ok(store::chunk(&mut tx, &job.id, Part::Issues, seq).await?)
}

/// Why a confirmation or a discard is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    NotAFinishedDryRun,
    StillRunning,
}

/// Runs a finished dry run for real, from its stored upload: a new job.
pub async fn confirm(
    db: &Db,
    by: Caller<'_>,
    id: &str,
) -> Result<std::result::Result<String, Refusal>> {
    let job = owned(db, by, id, Kind::Import).await?;
    let params: ImportParams =
        serde_json::from_str(&job.params).unwrap_or(ImportParams { dry_run: false });
    if !params.dry_run || job.state != "done" {
        return Ok(Err(Refusal::NotAFinishedDryRun));
    }
    let params = serde_json::to_string(&ImportParams { dry_run: false }).unwrap_or_default();
    let real = new_job(
        by,
        Kind::Import,
        job.job_center_id,
        &job.file_name,
        String::new(),
    );
    store::create(db, &real, false).await?;
    let mut tx = db.begin().await?;
    store::move_part(&mut tx, &job.id, &real.id, Part::Upload).await?;
    tx.commit().await?;
    store::queue(db, &real.id, job.input_size, &params).await?;
    store::delete(db, &job.id).await?;
    Ok(Ok(real.id))
}

/// Discards an ended import and its upload.
pub async fn discard(
    db: &Db,
    by: Caller<'_>,
    id: &str,
) -> Result<std::result::Result<(), Refusal>> {
    let job = owned(db, by, id, Kind::Import).await?;
    if job.is_running() {
        return Ok(Err(Refusal::StillRunning));
    }
    store::delete(db, &job.id).await?;
    Ok(Ok(()))
}

/// A batch's print job as its page shows it.
#[derive(Debug, Clone)]
pub struct PrintView {
    pub id: String,
    pub created_at: i64,
    pub progress: Progress,
    pub letters_done: i64,
    pub letters: i64,
    /// The archive's size in bytes (when done).
    pub size: i64,
    /// Letters whose data changed since the batch was made.
    pub changed: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PrintResult {
    changed: usize,
}

/// Starts typesetting the print archive of batch `b` of `campaign`, unless
/// it is being made; audited (`letters::start_print`).
pub async fn start_print(
    db: &Db,
    by: Caller<'_>,
    campaign: &crate::campaigns::Campaign,
    b: &crate::campaigns::Batch,
    now: i64,
) -> Result<()> {
    let jc = job_center_of(by.actor)?;
    let params = print_params(b.id);
    let mut tx = db.read().await?;
    let running = store::latest(&mut tx, jc, Kind::Print, &params)
        .await?
        .is_some_and(|j| j.is_running());
    drop(tx);
    if running {
        return Ok(());
    }
    crate::letters::start_print(db, by, campaign, b, now).await?;
    let file_name = format!("vorabinformation-stapel-{}.zip", b.id);
    let mut job = new_job(by, Kind::Print, jc, &file_name, params);
    job.progress_total = b.letter_count;
    store::create(db, &job, true).await?;
    Ok(())
}

/// The newest print job of batch `b`, if any.
pub async fn print_view(
    db: &Db,
    by: Caller<'_>,
    b: &crate::campaigns::Batch,
) -> Result<Option<PrintView>> {
    let jc = job_center_of(by.actor)?;
    let mut tx = db.read().await?;
    let Some(job) = store::latest(&mut tx, jc, Kind::Print, &print_params(b.id)).await? else {
        return Ok(None);
    };
    let result: PrintResult = job
        .result
        .as_deref()
        .and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default();
    Ok(Some(PrintView {
        progress: progress_of(&job),
        id: job.id,
        created_at: job.created_at,
        letters_done: job.progress_done,
        letters: job.progress_total,
        size: job.output_size,
        changed: result.changed,
    }))
}

/// A finished archive ready to be downloaded.
#[derive(Debug, Clone)]
pub struct Archive {
    pub id: String,
    pub file_name: String,
    pub size: i64,
}

/// The finished archive of batch `b` for download (recorded as fetched and
/// audited), or `None` while there is none.
pub async fn archive(
    db: &Db,
    by: Caller<'_>,
    campaign: &crate::campaigns::Campaign,
    b: &crate::campaigns::Batch,
    now: i64,
) -> Result<Option<Archive>> {
    let jc = job_center_of(by.actor)?;
    let mut tx = db.read().await?;
    let job = store::latest(&mut tx, jc, Kind::Print, &print_params(b.id)).await?;
    let Some(job) = job.filter(|j| j.state == "done") else {
        return Ok(None);
    };
    if store::chunk_count(&mut tx, &job.id, Part::Archive).await? == 0 {
        return Ok(None);
    }
    drop(tx);
    crate::letters::record_print_download(db, by, campaign, b, now).await?;
    store::fetched(db, &job.id).await?;
    Ok(Some(Archive {
        id: job.id,
        file_name: job.file_name,
        size: job.output_size,
    }))
}

/// Chunk `seq` of archive `id` (`None` after the last).
pub async fn archive_chunk(db: &Db, archive: &Archive, seq: i64) -> Result<Option<Vec<u8>>> {
    let mut tx = db.read().await?;
    Ok(store::chunk(&mut tx, &archive.id, Part::Archive, seq).await?)
}

/// Deletes the jobs no longer needed, with their contents (the upkeep and
/// the deletion run). Returns how many went.
pub async fn sweep(db: &Db) -> Result<usize> {
    let expired = store::expired(db, KEPT).await?;
    for id in &expired {
        store::delete(db, id).await?;
    }
    Ok(expired.len())
}

/// Wakes `queued` whenever any server queues a job (PostgreSQL's `NOTIFY`;
/// on SQLite it returns at once).
pub async fn hear_queued(db: &Db, queued: impl Fn()) {
    store::hear_queued(db, queued).await;
}

/// A name for this server's leases: host, process and a random part.
pub fn owner_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "server".into());
    format!("{host}-{}-{}", std::process::id(), crate::random_token(4))
}

/// Runs jobs until the task is dropped: claims one whenever `wake` is
/// notified (this server queued one; on PostgreSQL also `NOTIFY
/// outreach_jobs` from any server) and at least every second, [`AT_ONCE`]
/// at a time.
pub async fn work(db: Db, owner: String, wake: Arc<tokio::sync::Notify>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        match store::claim(&db, &owner, LEASE_LAPSE).await {
            Ok(Some(job)) => {
                let db = db.clone();
                let owner = owner.clone();
                tokio::spawn(async move {
                    run(&db, &owner, job).await;
                    drop(slot);
                });
                continue;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "claiming a job failed"),
        }
        drop(slot);
        let _ = tokio::time::timeout(Duration::from_secs(1), wake.notified()).await;
    }
}

/// Runs `job` with its lease renewed; ends it done or failed.
pub async fn run(db: &Db, owner: &str, job: Job) {
    let done = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(
        usize::try_from(job.progress_total).unwrap_or(0),
    ));
    let id = job.id.clone();
    let work = run_kind(db, owner, job, done.clone(), total.clone());
    tokio::pin!(work);
    let mut beat = tokio::time::interval(HEARTBEAT);
    beat.tick().await;
    let end = loop {
        tokio::select! {
            end = &mut work => break end,
            _ = beat.tick() => {
                let d = i64::try_from(done.load(Ordering::Relaxed)).unwrap_or(0);
                let t = i64::try_from(total.load(Ordering::Relaxed)).unwrap_or(0);
                match store::heartbeat(db, &id, owner, d, t).await {
                    // Taken over by another server: this run stops here (an
                    // import's transaction is rolled back as it is dropped).
                    Ok(false) => {
                        tracing::warn!(job = %id, "job taken over by another server");
                        return;
                    }
                    Ok(true) => {}
                    Err(error) => tracing::warn!(%error, job = %id, "renewing a job's lease failed"),
                }
            }
        }
    };
    if let Some(end) = end {
        match store::finish(db, &id, owner, end).await {
            Ok(true) => {}
            Ok(false) => tracing::warn!(job = %id, "job ended after it was taken over"),
            Err(error) => tracing::error!(%error, job = %id, "ending a job failed"),
        }
    }
}

/// The job's own work; `None` when it already ended (in the import's
/// transaction).
async fn run_kind(
    db: &Db,
    owner: &str,
    job: Job,
    done: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
) -> Option<End> {
    if job.attempts > MAX_ATTEMPTS {
        if job.kind == Kind::Import.code() {
            let _ = store::delete_part(db, &job.id, Part::Upload).await;
        }
        return Some(End::Failed {
            message: format!(
                "Die Arbeit wurde {} Mal begonnen und jedes Mal durch einen Serverausfall unterbrochen; sie wurde abgebrochen, es wurde nichts gespeichert. Bitte starten Sie sie erneut.",
                MAX_ATTEMPTS
            ),
        });
    }
    let end = if job.kind == Kind::Import.code() {
        run_import(db, owner, &job, done, total).await
    } else {
        run_print(db, &job, done).await
    };
    match end {
        Ok(end) => end,
        Err(error) => {
            tracing::error!(%error, job = %job.id, "job failed");
            Some(End::Failed {
                message: "Die Arbeit ist an einem Fehler der Datenbank gescheitert; es wurde nichts gespeichert.".into(),
            })
        }
    }
}

/// The actor who started `job`, for the audit events of its work.
fn starter(job: &Job) -> Actor {
    Actor {
        user_id: job.user_id.unwrap_or(0),
        username: job.username.clone(),
        role: Role::parse(&job.role).unwrap_or(Role::JobcenterAdmin),
        home: Home::JobCenter(job.job_center_id),
        pap_code: None,
    }
}

/// Copies `part` of `job` into a private temporary file.
async fn to_file(db: &Db, id: &str, part: Part) -> Result<tempfile::NamedTempFile> {
    let mut file = tempfile::NamedTempFile::new().map_err(|source| Error::Io {
        what: "temporary file".into(),
        source,
    })?;
    let mut seq = 0;
    loop {
        let mut tx = db.read().await?;
        let chunk = store::chunk(&mut tx, id, part, seq).await?;
        drop(tx);
        let Some(chunk) = chunk else { break };
        file.write_all(&chunk).map_err(|source| Error::Io {
            what: "temporary file".into(),
            source,
        })?;
        seq += 1;
    }
    file.flush().map_err(|source| Error::Io {
        what: "temporary file".into(),
        source,
    })?;
    Ok(file)
}

/// Stores `reader`'s bytes as `part` of job `id` in chunks; their size.
async fn store_chunks(db: &Db, id: &str, part: Part, mut reader: impl Read) -> Result<i64> {
    store::delete_part(db, id, part).await?;
    let (mut seq, mut size) = (0, 0i64);
    loop {
        let mut chunk = Vec::with_capacity(store::CHUNK_BYTES);
        let n = (&mut reader)
            .take(store::CHUNK_BYTES as u64)
            .read_to_end(&mut chunk)
            .map_err(|source| Error::Io {
                what: "job contents".into(),
                source,
            })?;
        if n == 0 {
            return Ok(size);
        }
        size += n as i64;
        store::append_chunk(db, id, part, seq, chunk).await?;
        seq += 1;
    }
}

fn issue_rows(log: &outreach_store::import::IssueLog) -> Vec<IssueRow> {
    log.iter()
        .take(SHOWN)
        .map(|i| IssueRow {
            line: i.line,
            customer_number: i.customer_number,
            field: i.field.to_string(),
            message: i.message,
        })
        .collect()
}

/// The import's rejected and warned rows as CSV, by the one CSV writer
/// (`;`, UTF-8 with BOM, no cell a spreadsheet would run as a formula).
fn issues_csv(report: &crate::imports::ImportReport) -> Result<tempfile::NamedTempFile> {
    let io = |source| Error::Io {
        what: "issues CSV".into(),
        source,
    };
    let file = tempfile::NamedTempFile::new().map_err(io)?;
    let out = std::io::BufWriter::new(file.reopen().map_err(io)?);
    let mut csv = outreach_core::spreadsheet::CsvWriter::new(out).map_err(io)?;
    let failed = |e: csv::Error| io(std::io::Error::other(e.to_string()));
    csv.row(["Art", "Zeile", "Kundennummer", "Feld", "Meldung"])
        .map_err(failed)?;
    for (kind, issues) in [
        ("abgelehnt", &report.errors),
        ("Warnung", &report.warning_list),
    ] {
        for i in issues.iter() {
            csv.row([
                kind,
                &i.line.to_string(),
                &i.customer_number,
                i.field,
                &i.message,
            ])
            .map_err(failed)?;
        }
    }
    csv.flush().map_err(io)?;
    Ok(file)
}

async fn run_import(
    db: &Db,
    _owner: &str,
    job: &Job,
    done: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
) -> Result<Option<End>> {
    // Stored already by a server that died before it ended the job.
    let mut tx = db.read().await?;
    let stored = store::stored_import(&mut tx, &job.id).await?;
    drop(tx);
    if let Some(stored) = stored {
        store::delete_part(db, &job.id, Part::Upload).await?;
        return Ok(Some(stored_end(stored)));
    }
    let params: ImportParams =
        serde_json::from_str(&job.params).unwrap_or(ImportParams { dry_run: false });
    total.store(
        usize::try_from(job.input_size).unwrap_or(0),
        Ordering::Relaxed,
    );
    let file = to_file(db, &job.id, Part::Upload).await?;
    let path = file.path().to_path_buf();
    let actor = starter(job);
    let by = Source::User(Caller {
        actor: &actor,
        client: &job.client,
    });
    let import = crate::imports::Import {
        job_center_id: job.job_center_id,
        file_name: job.file_name.clone(),
        dry_run: params.dry_run,
        job_id: (!params.dry_run).then(|| job.id.clone()),
    };
    let open = move || std::fs::File::open(&path).map(std::io::BufReader::new);
    let progress = move |bytes: u64| {
        done.store(
            usize::try_from(bytes).unwrap_or(usize::MAX),
            Ordering::Relaxed,
        )
    };
    let now = {
        let mut tx = db.read().await?;
        store::now(&mut tx).await?
    };
    let today = outreach_core::date::berlin_date(now);
    let outcome = crate::imports::run(db, by, import, open, progress, today, now).await;
    drop(file);
    use crate::imports::ImportError;
    let end = match outcome {
        Ok(report) => {
            let csv = issues_csv(&report)?;
            if report.rejected + report.warnings > 0 {
                let reader = std::fs::File::open(csv.path()).map_err(|source| Error::Io {
                    what: "issues CSV".into(),
                    source,
                })?;
                store_chunks(db, &job.id, Part::Issues, std::io::BufReader::new(reader)).await?;
            }
            let result = ImportResult {
                rows: report.rows,
                accepted: report.accepted,
                rejected: report.rejected,
                inserted: report.inserted,
                updated: report.updated,
                unchanged: report.unchanged,
                missing: report.missing,
                warnings: report.warnings,
                unknown_columns: report.unknown_columns.clone(),
                encoding: report.encoding.clone(),
                delimiter: report.delimiter.clone(),
                dry_run: report.dry_run,
                errors: issue_rows(&report.errors),
                warning_list: issue_rows(&report.warning_list),
                note: String::new(),
            };
            End::Done {
                result: serde_json::to_string(&result).unwrap_or_default(),
                output_size: 0,
            }
        }
        // A second server stored this job's import meanwhile (the unique
        // job id of the imports refused this one).
        Err(ImportError::Store(outreach_store::StoreError::UniqueViolation)) => {
            let mut tx = db.read().await?;
            match store::stored_import(&mut tx, &job.id).await? {
                Some(stored) => stored_end(stored),
                None => End::Failed {
                    message: "Der Import ist an einem Fehler der Datenbank gescheitert; es wurde nichts gespeichert.".into(),
                },
            }
        }
        Err(ImportError::Read(e)) => End::Failed {
            message: format!("{e} Es wurde nichts gespeichert."),
        },
        Err(ImportError::Store(e)) => {
            tracing::error!(error = %e, job = %job.id, "import failed");
            End::Failed {
                message: "Der Import ist an einem Fehler der Datenbank gescheitert; es wurde nichts gespeichert.".into(),
            }
        }
        Err(ImportError::Spill(e)) => {
            tracing::error!(error = %e, job = %job.id, "import failed");
            End::Failed {
                message: "Der Import ist gescheitert, weil die Meldungen nicht zwischengespeichert werden konnten (Datenträger voll?); es wurde nichts gespeichert.".into(),
            }
        }
    };
    // A finished dry run keeps its upload for the confirmation.
    let keep = params.dry_run && matches!(end, End::Done { .. });
    if !keep {
        store::delete_part(db, &job.id, Part::Upload).await?;
    }
    Ok(Some(end))
}

/// The end of a job whose import was stored, from the stored counts.
fn stored_end(stored: store::StoredImport) -> End {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    let result = ImportResult {
        rows: n(stored.rows_read),
        accepted: n(stored.accepted),
        rejected: n(stored.rejected),
        inserted: n(stored.inserted),
        updated: n(stored.updated),
        unchanged: n(stored.unchanged),
        missing: n(stored.missing),
        warnings: n(stored.warnings),
        note: "Der Import wurde gespeichert; der Server, der ihn ausführte, fiel danach aus. Die einzelnen abgelehnten Zeilen und Warnungen sind deshalb nicht verfügbar, ihre Anzahl stimmt.".into(),
        ..ImportResult::default()
    };
    End::Done {
        result: serde_json::to_string(&result).unwrap_or_default(),
        output_size: 0,
    }
}

async fn run_print(db: &Db, job: &Job, done: Arc<AtomicUsize>) -> Result<Option<End>> {
    let params: PrintParams = match serde_json::from_str(&job.params) {
        Ok(p) => p,
        Err(_) => {
            return Ok(Some(End::Failed {
                message: "Der Druckauftrag ist unvollständig gespeichert.".into(),
            }));
        }
    };
    let scope = outreach_store::RecordScope::JobCenter(job.job_center_id);
    let mut tx = db.read().await?;
    let batch = outreach_store::letters::batch_by_id(&mut tx, scope, params.batch_id).await?;
    let Some(batch) = batch else {
        return Ok(Some(End::Failed {
            message: "Den Stapel gibt es nicht mehr.".into(),
        }));
    };
    let numbers = outreach_store::letters::batch_customer_numbers(&mut tx, scope, batch.id).await?;
    drop(tx);
    let file = tempfile::NamedTempFile::new().map_err(|source| Error::Io {
        what: "temporary file".into(),
        source,
    })?;
    let out = file.reopen().map_err(|source| Error::Io {
        what: "temporary file".into(),
        source,
    })?;
    let count = usize::try_from(batch.letter_count).unwrap_or(0);
    let printed = crate::letters::PrintedBatch {
        scope,
        batch: &batch,
        count,
        customer_numbers: &numbers,
    };
    let written = crate::letters::write_archive(db, printed, out, done).await;
    let (size, changed) = match written {
        Ok(written) => written,
        Err(message) => {
            return Ok(Some(End::Failed {
                message: format!("Die Druckdateien konnten nicht erzeugt werden: {message}"),
            }));
        }
    };
    let reader = std::fs::File::open(file.path()).map_err(|source| Error::Io {
        what: "print archive".into(),
        source,
    })?;
    let stored = store_chunks(db, &job.id, Part::Archive, std::io::BufReader::new(reader)).await?;
    debug_assert_eq!(u64::try_from(stored).unwrap_or(0), size);
    Ok(Some(End::Done {
        result: serde_json::to_string(&PrintResult { changed }).unwrap_or_default(),
        output_size: stored,
    }))
}
