//! Print files for a whole batch of advance letters: typeset in the
//! background into one ZIP archive (every PDF part and the manifest) while
//! the page shows a progress bar, then downloaded by the job center.
//!
//! The archive is made by a job in the database (`outreach_app::jobs`): any
//! server shows its progress and sends it. It holds social data, so it is
//! kept only an hour after it was finished or last downloaded.

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
use outreach_app::campaigns::Batch;
use outreach_app::jobs;
use outreach_core::access::Action;
use outreach_core::date::format_de_datetime;

pub fn routes() -> Routes {
    let manage = Access::Action(Action::ManageCampaigns);
    Routes::new()
        .post("/aktionen/{id}/stapel/{batch}/druck", manage, start)
        .get("/aktionen/{id}/stapel/{batch}/druck", manage, page)
        .get("/aktionen/{id}/stapel/{batch}/druck/status", manage, status)
        .get("/aktionen/{id}/stapel/{batch}/druck/zip", manage, download)
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
    jobs::start_print(&state.db, ctx.caller(), &c, &b, state.clock.now()).await?;
    state.jobs_wake.notify_one();
    Ok(Redirect::to(&base(&ids)).into_response())
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
    percent: u64,
    done: i64,
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
    let view = jobs::print_view(&state.db, ctx.caller(), &b).await?;
    let (label, percent, failure) = match view.as_ref().map(|v| &v.progress) {
        None => ("", 0, String::new()),
        Some(jobs::Progress::Running(percent)) => ("running", *percent, String::new()),
        Some(jobs::Progress::Done) => ("done", 100, String::new()),
        Some(jobs::Progress::Failed(message)) => ("failed", 0, message.clone()),
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
        percent,
        done: view.as_ref().map_or(0, |v| v.letters_done),
        started: view
            .as_ref()
            .map(|v| format_de_datetime(v.created_at))
            .unwrap_or_default(),
        size: format!(
            "{:.1}",
            view.as_ref().map_or(0, |v| v.size) as f64 / 1_048_576.0
        )
        .replace('.', ","),
        changed: view.as_ref().map_or(0, |v| v.changed),
        failure,
        b,
    })
}

#[derive(serde::Serialize)]
struct Status {
    running: bool,
    percent: u64,
    text: String,
}

/// Polled by the progress bar while the files are typeset.
async fn status(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let (_, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    let Some(view) = jobs::print_view(&state.db, ctx.caller(), &b).await? else {
        return Ok(axum::Json(Status {
            running: false,
            percent: 0,
            text: "Es werden keine Druckdateien erzeugt.".into(),
        })
        .into_response());
    };
    let (running, percent) = match view.progress {
        jobs::Progress::Running(percent) => (true, percent),
        _ => (false, 100),
    };
    Ok(axum::Json(Status {
        running,
        percent,
        text: format!("{} von {} Briefen gesetzt", view.letters_done, view.letters),
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
    let Some(archive) = jobs::archive(&state.db, ctx.caller(), &c, &b, now).await? else {
        return Ok(Redirect::to(&base(&ids)).into_response());
    };
    let db = state.db.clone();
    let (size, file_name) = (archive.size, archive.file_name.clone());
    // Chunk by chunk from the database: any server sends the archive.
    let stream = futures_util::stream::unfold(0i64, move |seq| {
        let (db, archive) = (db.clone(), archive.clone());
        async move {
            match jobs::archive_chunk(&db, &archive, seq).await {
                Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(chunk), seq + 1)),
                Ok(None) => None,
                Err(error) => Some((Err(std::io::Error::other(error.to_string())), i64::MAX)),
            }
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (header::CONTENT_LENGTH, size.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response())
}
