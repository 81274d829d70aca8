//! Customer import in the browser: a job center's administration uploads its
//! export, watches the progress, sees the result with every rejected and
//! warned row (also as CSV), and confirms or discards a dry run.
//!
//! Running imports live in this process (`ImportJobs`); behind several
//! servers the upload and its status page need the same server (sticky
//! sessions) until jobs move into the database.

use crate::forms::FormData;
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::imports::{ImportError, ImportReport};
use outreach_app::random_token;
use outreach_core::access::{Action, Actor, Home};
use outreach_core::date::{berlin_date, format_de_datetime};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// The largest export accepted (a nationwide job center's export is ~200 MB).
const MAX_UPLOAD: usize = 1024 * 1024 * 1024;
/// Rows of errors and warnings shown on the page (all are in the CSV).
const SHOWN: usize = 200;

pub fn routes() -> Routes {
    let import = Access::Action(Action::ImportCustomers);
    Routes::new()
        .get("/kunden/import", import, page)
        .post_with_limit(
            "/kunden/import",
            import,
            upload,
            DefaultBodyLimit::max(MAX_UPLOAD),
        )
        .get("/kunden/import/{job}", import, job_page)
        .get("/kunden/import/{job}/status", import, job_status)
        .get("/kunden/import/{job}/meldungen.csv", import, issues_csv)
        .post("/kunden/import/{job}/ausfuehren", import, confirm)
        .post("/kunden/import/{job}/verwerfen", import, discard)
}

#[derive(Debug, Clone)]
enum JobState {
    Running,
    Done(Box<ImportReport>),
    Failed(String),
}

/// One upload and its import.
#[derive(Debug)]
pub struct ImportJob {
    job_center_id: i64,
    file_name: String,
    path: PathBuf,
    size: u64,
    dry_run: bool,
    read: Arc<AtomicU64>,
    state: Mutex<JobState>,
    started_at: i64,
    /// When the import ended (this server's monotonic clock, never the
    /// application's, which may be moved).
    finished: Mutex<Option<Instant>>,
}

impl ImportJob {
    fn state(&self) -> JobState {
        self.state
            .lock()
            .map_or(JobState::Failed("intern".into()), |s| s.clone())
    }
}

/// The imports of this server process.
#[derive(Debug, Default)]
pub struct ImportJobs(Mutex<HashMap<String, Arc<ImportJob>>>);

/// How long an ended import is kept: its report on the page, and a dry
/// run's file for the confirmation.
pub const KEPT_AFTER_END: Duration = Duration::from_secs(3600);

impl ImportJobs {
    /// Forgets the imports that ended more than `kept` ago, and deletes a
    /// dry run's file nobody confirmed (called by the upkeep).
    pub fn sweep(&self, kept: Duration) {
        let Ok(mut jobs) = self.0.lock() else { return };
        jobs.retain(|_, job| {
            let ended = job.finished.lock().ok().and_then(|f| *f);
            let keep = ended.is_none_or(|at| at.elapsed() < kept);
            if !keep {
                let _ = std::fs::remove_file(&job.path);
            }
            keep
        });
    }

    fn insert(&self, id: &str, job: Arc<ImportJob>) {
        if let Ok(mut jobs) = self.0.lock() {
            jobs.insert(id.to_string(), job);
        }
    }

    fn remove(&self, id: &str) {
        if let Ok(mut jobs) = self.0.lock() {
            jobs.remove(id);
        }
    }

    /// The job, if it belongs to the actor's job center; otherwise "not found".
    fn owned(&self, id: &str, actor: &Actor) -> Result<Arc<ImportJob>, AppError> {
        let job = self.0.lock().ok().and_then(|jobs| jobs.get(id).cloned());
        match (job, actor.home) {
            (Some(job), Home::JobCenter(jc)) if job.job_center_id == jc => Ok(job),
            _ => Err(AppError::NotFound),
        }
    }
}

fn job_center_of(actor: &Actor) -> Result<i64, AppError> {
    actor.home.job_center().ok_or(AppError::Forbidden)
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/upload.html")]
struct UploadPage {
    layout: Layout,
    upload_action: String,
    error: String,
}

async fn page(ctx: Ctx) -> Result<UploadPage, AppError> {
    job_center_of(&ctx.user.actor)?;
    Ok(upload_page(&ctx, String::new()))
}

fn upload_page(ctx: &Ctx, error: String) -> UploadPage {
    UploadPage {
        upload_action: "/kunden/import".to_string(),
        layout: Layout::new(&ctx.user, "Kunden importieren", "/kunden/import"),
        error,
    }
}

/// Starts the import of `job` in the background.
fn start(state: &AppState, ctx: &Ctx, id: &str, job: Arc<ImportJob>) {
    let state = state.clone();
    let actor = ctx.user.actor.clone();
    let client = ctx.client.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        let now = state.clock.now();
        let import = outreach_app::imports::Import {
            job_center_id: job.job_center_id,
            file_name: job.file_name.clone(),
            dry_run: job.dry_run,
        };
        let outcome = match std::fs::File::open(&job.path) {
            Err(e) => Err(format!("Die hochgeladene Datei ist nicht mehr lesbar: {e}")),
            Ok(file) => {
                let read = job.read.clone();
                // Opened again should the import need a second reading.
                let mut file = Some(file);
                let path = job.path.clone();
                let open = move || match file.take() {
                    Some(file) => Ok(std::io::BufReader::new(file)),
                    None => std::fs::File::open(&path).map(std::io::BufReader::new),
                };
                let by = outreach_app::Source::User(outreach_app::Caller {
                    actor: &actor,
                    client: &client,
                });
                let progress = move |bytes| read.store(bytes, Ordering::Relaxed);
                let today = berlin_date(now);
                let result =
                    outreach_app::imports::run(&state.db, by, import, open, progress, today, now)
                        .await;
                match result {
                    Ok(report) => Ok(report),
                    Err(ImportError::Read(e)) => Err(format!("{e} Es wurde nichts gespeichert.")),
                    Err(ImportError::Store(e)) => {
                        tracing::error!(error = %e, job = %id, "import failed");
                        Err("Der Import ist an einem Fehler der Datenbank gescheitert; es wurde nichts gespeichert.".into())
                    }
                    Err(ImportError::Spill(e)) => {
                        tracing::error!(error = %e, job = %id, "import failed");
                        Err("Der Import ist gescheitert, weil die Meldungen nicht zwischengespeichert werden konnten (Datenträger voll?); es wurde nichts gespeichert.".into())
                    }
                }
            }
        };
        // A dry run keeps its file for the confirmation; anything else is done with it.
        let keep = job.dry_run && outcome.is_ok();
        if !keep {
            let _ = std::fs::remove_file(&job.path);
        }
        if let Ok(mut s) = job.state.lock() {
            *s = match outcome {
                Ok(report) => JobState::Done(Box::new(report)),
                Err(message) => JobState::Failed(message),
            };
        }
        if let Ok(mut f) = job.finished.lock() {
            *f = Some(Instant::now());
        }
    });
}

async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    let job_center_id = job_center_of(&ctx.user.actor)?;
    let Ok(mut multipart) = multipart else {
        let page = upload_page(&ctx, "Bitte wählen Sie eine Exportdatei (CSV) aus.".into());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let id = random_token(16);
    let path = state.spool_path("import", "csv")?;
    let (mut file_name, mut size, mut dry_run) = (String::new(), 0u64, false);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => {
                let _ = tokio::fs::remove_file(&path).await;
                let page = upload_page(&ctx, "Die Datei konnte nicht vollständig empfangen werden. Bitte versuchen Sie es erneut.".into());
                return Ok((StatusCode::BAD_REQUEST, page).into_response());
            }
        };
        match field.name() {
            Some("probelauf") => dry_run = true,
            Some("datei") => {
                file_name = field
                    .file_name()
                    .unwrap_or("export.csv")
                    .chars()
                    .take(200)
                    .collect();
                let mut out = crate::spool::Spool::create(&path)
                    .map(tokio::fs::File::from_std)
                    .map_err(|e| AppError::internal("upload file", e))?;
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            size += chunk.len() as u64;
                            out.write_all(&chunk)
                                .await
                                .map_err(|e| AppError::internal("upload write", e))?;
                        }
                        Ok(None) => break,
                        Err(_) => {
                            let _ = tokio::fs::remove_file(&path).await;
                            let page = upload_page(&ctx, "Die Datei konnte nicht vollständig empfangen werden. Bitte versuchen Sie es erneut.".into());
                            return Ok((StatusCode::BAD_REQUEST, page).into_response());
                        }
                    }
                }
                out.flush()
                    .await
                    .map_err(|e| AppError::internal("upload flush", e))?;
            }
            _ => {}
        }
    }
    if size == 0 {
        let _ = tokio::fs::remove_file(&path).await;
        let page = upload_page(
            &ctx,
            "Bitte wählen Sie eine Exportdatei (CSV) aus; die gesendete Datei ist leer.".into(),
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let job = Arc::new(ImportJob {
        job_center_id,
        file_name,
        path,
        size,
        dry_run,
        read: Arc::new(AtomicU64::new(0)),
        state: Mutex::new(JobState::Running),
        started_at: state.clock.now(),
        finished: Mutex::new(None),
    });
    state.imports.insert(&id, job.clone());
    start(&state, &ctx, &id, job);
    Ok(Redirect::to(&format!("/kunden/import/{id}")).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "imports/job.html")]
struct JobPage {
    layout: Layout,
    id: String,
    file_name: String,
    started: String,
    dry_run: bool,
    running: bool,
    percent: u64,
    failure: String,
    report: ImportReport,
    errors_shown: usize,
    warnings_shown: usize,
}

async fn job_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<JobPage, AppError> {
    let job = state.imports.owned(&id, &ctx.user.actor)?;
    let (running, failure, report) = match job.state() {
        JobState::Running => (true, String::new(), ImportReport::default()),
        JobState::Failed(message) => (false, message, ImportReport::default()),
        JobState::Done(report) => (false, String::new(), *report),
    };
    Ok(JobPage {
        layout: Layout::new(
            &ctx.user,
            format!("Import: {}", job.file_name),
            "/kunden/import",
        ),
        percent: percent(&job),
        file_name: job.file_name.clone(),
        started: format_de_datetime(job.started_at),
        dry_run: job.dry_run,
        errors_shown: report.errors.len().min(SHOWN),
        warnings_shown: report.warning_list.len().min(SHOWN),
        id,
        running,
        failure,
        report,
    })
}

fn percent(job: &ImportJob) -> u64 {
    (job.read.load(Ordering::Relaxed) * 100)
        .checked_div(job.size)
        .unwrap_or(0)
        .min(100)
}

#[derive(serde::Serialize)]
struct Status {
    running: bool,
    percent: u64,
}

/// Polled by the progress bar while an import runs.
async fn job_status(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let job = state.imports.owned(&id, &ctx.user.actor)?;
    let running = matches!(job.state(), JobState::Running);
    Ok(axum::Json(Status {
        running,
        percent: if running { percent(&job) } else { 100 },
    })
    .into_response())
}

/// Rejected and warned rows as CSV (`;`, UTF-8 with BOM), for the job center's clerks.
async fn issues_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let job = state.imports.owned(&id, &ctx.user.actor)?;
    let JobState::Done(report) = job.state() else {
        return Err(AppError::NotFound);
    };
    let header = ["Art", "Zeile", "Kundennummer", "Feld", "Meldung"].map(String::from);
    // Row by row from the report's file: a large import's issues are never
    // all in memory at once as strings.
    let issues = [
        ("abgelehnt", &report.errors),
        ("Warnung", &report.warning_list),
    ]
    .into_iter()
    .flat_map(|(kind, issues)| {
        issues.iter().map(move |i| {
            [
                kind.to_string(),
                i.line.to_string(),
                i.customer_number,
                i.field.to_string(),
                i.message,
            ]
        })
    });
    let rows = std::iter::once(header).chain(issues);
    crate::download::csv("import-meldungen.csv", rows)
}

/// Runs a finished dry run for real, from the same file.
async fn confirm(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    _form: FormData,
) -> Result<Response, AppError> {
    let job = state.imports.owned(&id, &ctx.user.actor)?;
    if !job.dry_run || !matches!(job.state(), JobState::Done(_)) {
        return Err(AppError::BadRequest(
            "Nur ein abgeschlossener Probelauf kann ausgeführt werden.",
        ));
    }
    state.imports.remove(&id);
    let new_id = random_token(16);
    let real = Arc::new(ImportJob {
        job_center_id: job.job_center_id,
        file_name: job.file_name.clone(),
        path: job.path.clone(),
        size: job.size,
        dry_run: false,
        read: Arc::new(AtomicU64::new(0)),
        state: Mutex::new(JobState::Running),
        started_at: state.clock.now(),
        finished: Mutex::new(None),
    });
    state.imports.insert(&new_id, real.clone());
    start(&state, &ctx, &new_id, real);
    Ok(Redirect::to(&format!("/kunden/import/{new_id}")).into_response())
}

async fn discard(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    _form: FormData,
) -> Result<Response, AppError> {
    let job = state.imports.owned(&id, &ctx.user.actor)?;
    if matches!(job.state(), JobState::Running) {
        return Err(AppError::BadRequest(
            "Ein laufender Import kann nicht verworfen werden.",
        ));
    }
    state.imports.remove(&id);
    let _ = std::fs::remove_file(&job.path);
    Ok(Redirect::to("/kunden/import?verworfen=1").into_response())
}
