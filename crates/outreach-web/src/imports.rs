//! Customer import in the browser: a job center's administration uploads its
//! export, watches the progress, sees the result with every rejected and
//! warned row (also as CSV), and confirms or discards a dry run.
//!
//! The upload goes into the database chunk by chunk and the import runs as
//! a job there (`outreach_app::jobs`): any server shows its page and its
//! result, and another server takes it over should its own stop.

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
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use futures_util::StreamExt;
use outreach_app::jobs;
use outreach_core::access::{Action, Actor};
use outreach_core::date::format_de_datetime;

/// The largest export accepted (a nationwide job center's export is ~200 MB).
const MAX_UPLOAD: usize = 1024 * 1024 * 1024;

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

async fn upload(
    State(state): State<AppState>,
    ctx: Ctx,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, AppError> {
    job_center_of(&ctx.user.actor)?;
    let Ok(mut multipart) = multipart else {
        let page = upload_page(&ctx, "Bitte wählen Sie eine Exportdatei (CSV) aus.".into());
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let broken = |ctx: &Ctx| {
        let page = upload_page(
            ctx,
            "Die Datei konnte nicht vollständig empfangen werden. Bitte versuchen Sie es erneut."
                .into(),
        );
        Ok((StatusCode::BAD_REQUEST, page).into_response())
    };
    let (mut dry_run, mut received) = (false, None);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => {
                if let Some(upload) = received.take() {
                    jobs::Upload::abandon(upload).await?;
                }
                return broken(&ctx);
            }
        };
        match field.name() {
            Some("probelauf") => dry_run = true,
            Some("datei") if received.is_none() => {
                let file_name = field.file_name().unwrap_or("export.csv").to_string();
                let mut upload = jobs::receive(&state.db, ctx.caller(), &file_name).await?;
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            if let Err(error) = upload.write(&chunk).await {
                                upload.abandon().await?;
                                return Err(error.into());
                            }
                        }
                        Ok(None) => break,
                        Err(_) => {
                            upload.abandon().await?;
                            return broken(&ctx);
                        }
                    }
                }
                received = Some(upload);
            }
            _ => {}
        }
    }
    let Some(upload) = received.filter(|u| u.size() > 0) else {
        let page = upload_page(
            &ctx,
            "Bitte wählen Sie eine Exportdatei (CSV) aus; die gesendete Datei ist leer.".into(),
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let id = upload.finish(dry_run).await?;
    state.jobs_wake.notify_one();
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
    report: jobs::ImportResult,
    has_issues: bool,
}

async fn job_page(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<JobPage, AppError> {
    let view = jobs::import_view(&state.db, ctx.caller(), &id).await?;
    let (running, percent, failure) = match &view.progress {
        jobs::Progress::Running(percent) => (true, *percent, String::new()),
        jobs::Progress::Failed(message) => (false, 0, message.clone()),
        jobs::Progress::Done => (false, 100, String::new()),
    };
    Ok(JobPage {
        layout: Layout::new(
            &ctx.user,
            format!("Import: {}", view.file_name),
            "/kunden/import",
        ),
        started: format_de_datetime(view.created_at),
        file_name: view.file_name,
        dry_run: view.dry_run,
        has_issues: view.has_issues,
        report: view.result,
        id: view.id,
        running,
        percent,
        failure,
    })
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
    let view = jobs::import_view(&state.db, ctx.caller(), &id).await?;
    let (running, percent) = match view.progress {
        jobs::Progress::Running(percent) => (true, percent),
        _ => (false, 100),
    };
    Ok(axum::Json(Status { running, percent }).into_response())
}

/// Rejected and warned rows as CSV (`;`, UTF-8 with BOM), for the job
/// center's clerks: streamed from the job's stored chunks.
async fn issues_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let first = jobs::import_issues(&state.db, ctx.caller(), &id, 0).await?;
    let Some(first) = first else {
        return Err(AppError::NotFound);
    };
    let db = state.db.clone();
    let actor = ctx.user.actor.clone();
    let client = ctx.client.clone();
    let rest = futures_util::stream::unfold(1i64, move |seq| {
        let (db, actor, client, id) = (db.clone(), actor.clone(), client.clone(), id.clone());
        async move {
            let by = outreach_app::Caller {
                actor: &actor,
                client: &client,
            };
            match jobs::import_issues(&db, by, &id, seq).await {
                Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), seq + 1)),
                Ok(None) => None,
                Err(error) => Some((Err(std::io::Error::other(error.to_string())), i64::MAX)),
            }
        }
    });
    let stream = futures_util::stream::once(async { Ok(first) }).chain(rest);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"import-meldungen.csv\"",
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}

/// Runs a finished dry run for real, from the same upload.
async fn confirm(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    _form: FormData,
) -> Result<Response, AppError> {
    match jobs::confirm(&state.db, ctx.caller(), &id).await? {
        Ok(new_id) => {
            state.jobs_wake.notify_one();
            Ok(Redirect::to(&format!("/kunden/import/{new_id}")).into_response())
        }
        Err(_) => Err(AppError::BadRequest(
            "Nur ein abgeschlossener Probelauf kann ausgeführt werden.",
        )),
    }
}

async fn discard(
    State(state): State<AppState>,
    ctx: Ctx,
    Path(id): Path<String>,
    _form: FormData,
) -> Result<Response, AppError> {
    match jobs::discard(&state.db, ctx.caller(), &id).await? {
        Ok(()) => Ok(Redirect::to("/kunden/import?verworfen=1").into_response()),
        Err(_) => Err(AppError::BadRequest(
            "Ein laufender Import kann nicht verworfen werden.",
        )),
    }
}
