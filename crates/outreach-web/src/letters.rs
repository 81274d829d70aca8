//! Print files for a whole batch of advance letters: typeset in the
//! background into one ZIP archive (every PDF part and the manifest) while
//! the page shows a progress bar, then downloaded by the job center.
//!
//! The archive holds social data, so it lives in the temporary directory only
//! as long as needed: it is deleted an hour after it was finished, when the
//! batch is printed again, or when the server stops. Print jobs belong to the
//! server process that started them (like uploads, see `imports`).

use crate::campaigns::owned_batch;
use crate::forms::IdsPath;
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::RecordScope;
use outreach_app::campaigns::Batch;
use outreach_core::access::Action;
use outreach_core::date::format_de_datetime;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Finished archives are deleted this long after they were finished.
pub const KEEP_FOR: std::time::Duration = std::time::Duration::from_secs(3600);

pub fn routes() -> Routes {
    let manage = Access::Action(Action::ManageCampaigns);
    Routes::new()
        .post("/aktionen/{id}/stapel/{batch}/druck", manage, start)
        .get("/aktionen/{id}/stapel/{batch}/druck", manage, page)
        .get("/aktionen/{id}/stapel/{batch}/druck/status", manage, status)
        .get("/aktionen/{id}/stapel/{batch}/druck/zip", manage, download)
}

#[derive(Debug, Clone)]
enum PrintState {
    Running,
    Done { size: u64, changed: usize },
    Failed(String),
}

/// The print job of one batch.
#[derive(Debug)]
pub struct PrintJob {
    batch_id: i64,
    total: usize,
    done: Arc<AtomicUsize>,
    path: PathBuf,
    state: Mutex<PrintState>,
    started_at: i64,
    /// When the archive was finished (this server's monotonic clock, never
    /// the application's, which may be moved).
    finished_at: Mutex<Option<std::time::Instant>>,
}

impl PrintJob {
    fn state(&self) -> PrintState {
        self.state
            .lock()
            .map_or(PrintState::Failed("intern".into()), |s| s.clone())
    }

    fn file_name(&self) -> String {
        format!("vorabinformation-stapel-{}.zip", self.batch_id)
    }
}

impl Drop for PrintJob {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The print jobs of this server process, by batch.
#[derive(Debug, Default)]
pub struct PrintJobs(Mutex<HashMap<i64, Arc<PrintJob>>>);

impl PrintJobs {
    /// The batch's job; expired jobs (and their files) go first.
    fn get(&self, batch_id: i64) -> Option<Arc<PrintJob>> {
        self.sweep(KEEP_FOR);
        self.0.lock().ok()?.get(&batch_id).cloned()
    }

    /// Forgets the jobs finished more than an hour ago; their archives go
    /// with them (`Drop`). Called by the upkeep too, so that an archive
    /// nobody asks for again doesn't stay.
    pub fn sweep(&self, kept: std::time::Duration) {
        if let Ok(mut jobs) = self.0.lock() {
            jobs.retain(|_, job| {
                job.finished_at
                    .lock()
                    .ok()
                    .and_then(|f| *f)
                    .is_none_or(|at| at.elapsed() < kept)
            });
        }
    }

    fn insert(&self, job: Arc<PrintJob>) {
        if let Ok(mut jobs) = self.0.lock() {
            jobs.insert(job.batch_id, job);
        }
    }
}

fn base(ids: &[i64]) -> String {
    format!(
        "/aktionen/{}/stapel/{}/druck",
        ids.first().copied().unwrap_or(0),
        ids.get(1).copied().unwrap_or(0)
    )
}

async fn start(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let (c, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    let scope = ctx.scope()?;
    let now = state.clock.now();
    if let Some(job) = state.prints.get(b.id)
        && matches!(job.state(), PrintState::Running)
    {
        return Ok(Redirect::to(&base(&ids)).into_response());
    }
    let customer_numbers =
        outreach_app::letters::start_print(&state.db, ctx.caller(), &c, &b, now).await?;
    let job = Arc::new(PrintJob {
        batch_id: b.id,
        total: usize::try_from(b.letter_count).unwrap_or(0),
        done: Arc::new(AtomicUsize::new(0)),
        path: state.spool_path("druck", "zip")?,
        state: Mutex::new(PrintState::Running),
        started_at: now,
        finished_at: Mutex::new(None),
    });
    state.prints.insert(job.clone());
    tokio::spawn(run(state.clone(), scope, job, b, customer_numbers));
    Ok(Redirect::to(&base(&ids)).into_response())
}

/// Typesets the batch into the job's archive.
async fn run(
    state: AppState,
    scope: RecordScope,
    job: Arc<PrintJob>,
    b: Batch,
    customer_numbers: Vec<String>,
) {
    let outcome = write_archive(&state, scope, &job, &b, &customer_numbers).await;
    let next = match outcome {
        Ok((size, changed)) => PrintState::Done { size, changed },
        Err(message) => {
            tracing::error!(batch = b.id, error = %message, "print job failed");
            let _ = std::fs::remove_file(&job.path);
            PrintState::Failed(format!(
                "Die Druckdateien konnten nicht erzeugt werden: {message}"
            ))
        }
    };
    if let Ok(mut s) = job.state.lock() {
        *s = next;
    }
    if let Ok(mut f) = job.finished_at.lock() {
        *f = Some(std::time::Instant::now());
    }
}

async fn write_archive(
    state: &AppState,
    scope: RecordScope,
    job: &PrintJob,
    b: &Batch,
    customer_numbers: &[String],
) -> Result<(u64, usize), String> {
    let file = crate::spool::Spool::create(&job.path).map_err(|e| e.to_string())?;
    let batch = outreach_app::letters::PrintedBatch {
        scope,
        batch: b,
        count: job.total,
        customer_numbers,
    };
    outreach_app::letters::write_archive(&state.db, batch, file, job.done.clone()).await
}

fn percent(job: &PrintJob) -> usize {
    (job.done.load(Ordering::Relaxed) * 100)
        .checked_div(job.total)
        .unwrap_or(100)
        .min(100)
}

#[derive(Template, WebTemplate)]
#[template(path = "letters/print_job.html")]
struct PrintPage {
    layout: Layout,
    campaign_id: i64,
    campaign_name: String,
    b: Batch,
    base: String,
    /// "" (no job yet), "running", "done" or "failed".
    state: &'static str,
    percent: usize,
    done: usize,
    started: String,
    size: String,
    changed: usize,
    failure: String,
}

async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<PrintPage, AppError> {
    let (c, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    let job = state.prints.get(b.id);
    let (label, size, changed, failure) = match job.as_ref().map(|j| j.state()) {
        None => ("", 0, 0, String::new()),
        Some(PrintState::Running) => ("running", 0, 0, String::new()),
        Some(PrintState::Done { size, changed }) => ("done", size, changed, String::new()),
        Some(PrintState::Failed(message)) => ("failed", 0, 0, message),
    };
    Ok(PrintPage {
        layout: Layout::new(
            &ctx.user,
            format!("Druckdateien für Stapel {}", b.id),
            "/aktionen",
        ),
        campaign_id: c.id,
        campaign_name: c.name,
        base: base(&ids),
        state: label,
        percent: job.as_deref().map_or(0, percent),
        done: job.as_ref().map_or(0, |j| j.done.load(Ordering::Relaxed)),
        started: job
            .as_ref()
            .map(|j| format_de_datetime(j.started_at))
            .unwrap_or_default(),
        size: format!("{:.1}", size as f64 / 1_048_576.0).replace('.', ","),
        changed,
        failure,
        b,
    })
}

#[derive(serde::Serialize)]
struct Status {
    running: bool,
    percent: usize,
    text: String,
}

/// Polled by the progress bar while the files are typeset.
async fn status(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let (_, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    let Some(job) = state.prints.get(b.id) else {
        return Ok(axum::Json(Status {
            running: false,
            percent: 0,
            text: "Es werden keine Druckdateien erzeugt.".into(),
        })
        .into_response());
    };
    let running = matches!(job.state(), PrintState::Running);
    let done = job.done.load(Ordering::Relaxed);
    Ok(axum::Json(Status {
        running,
        percent: if running { percent(&job) } else { 100 },
        text: format!("{done} von {} Briefen gesetzt", job.total),
    })
    .into_response())
}

async fn download(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let (c, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    let now = state.clock.now();
    let Some(job) = state.prints.get(b.id) else {
        return Ok(Redirect::to(&base(&ids)).into_response());
    };
    let PrintState::Done { size, .. } = job.state() else {
        return Ok(Redirect::to(&base(&ids)).into_response());
    };
    let file = tokio::fs::File::open(&job.path)
        .await
        .map_err(|_| AppError::NotFound)?;
    outreach_app::letters::record_print_download(&state.db, ctx.caller(), &c, &b, now).await?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", job.file_name()),
            ),
        ],
        body,
    )
        .into_response())
}
