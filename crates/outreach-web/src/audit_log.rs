//! The audit log for the data protection officer: filter, read, verify the chain.

use crate::forms::{Errors, FormData, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use outreach_core::access::{Action, Role};
use outreach_core::audit::AuditAction;
use outreach_core::date::{berlin_day_start, format_de_datetime, parse_de_date};
use outreach_store::audit::{self, AuditEvent, AuditFilter, StoredEvent};

pub fn routes() -> Routes {
    let view = Access::Action(Action::ViewAuditLog);
    Routes::new()
        .get("/protokoll", view, page)
        .post("/protokoll/pruefen", view, verify)
}

const PAGE_SIZE: i64 = 100;

struct Row {
    e: StoredEvent,
    at: String,
    action: &'static str,
    role: &'static str,
    record: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    rows: Vec<Row>,
    form: FormData,
    errors: Errors,
    actions: Vec<(&'static str, &'static str)>,
    page: i64,
    has_more: bool,
    next_query: String,
    verification: String,
    verification_ok: bool,
}

fn filter_from(query: &FormData, job_center_id: Option<i64>, errors: &mut Errors) -> AuditFilter {
    let mut day = |field: &str, label: &str, next: bool| -> Option<i64> {
        let raw = query.get(field);
        if raw.is_empty() {
            return None;
        }
        match parse_de_date(raw) {
            Ok(d) => {
                let d = if next { d.tomorrow().unwrap_or(d) } else { d };
                Some(berlin_day_start(d))
            }
            Err(e) => {
                errors.add(field, label, e);
                None
            }
        }
    };
    let from = day("von", "Von", false);
    let until = day("bis", "Bis", true);
    let action_code = query.get("aktion");
    let action = AuditAction::parse(action_code);
    if !action_code.is_empty() && action.is_none() {
        errors.add("aktion", "Aktion", "Unbekannte Aktion.");
    }
    AuditFilter {
        job_center_id,
        username: Some(query.get("benutzer").to_lowercase()).filter(|s| !s.is_empty()),
        action,
        record_id: Some(query.get("datensatz").to_string()).filter(|s| !s.is_empty()),
        from,
        until,
    }
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    query: FormData,
    verification: Option<(String, bool)>,
) -> Result<Response, AppError> {
    let actor = &ctx.user.actor;
    if actor.role != Role::Dpo {
        return Err(AppError::Forbidden);
    }
    let mut errors = Errors::default();
    let filter = filter_from(&query, actor.home.job_center(), &mut errors);
    let page = query.get("seite").parse::<i64>().unwrap_or(1).max(1);
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let mut events = if errors.is_empty() {
        audit::list(&mut tx, &filter, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE).await?
    } else {
        Vec::new()
    };
    let has_more = events.len() > PAGE_SIZE as usize;
    events.truncate(PAGE_SIZE as usize);
    let event = AuditEvent::by(actor, AuditAction::AuditRead, &ctx.client)
        .record("audit_log", format!("Seite {page}"))
        .purpose("Datenschutzkontrolle");
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    let rows = events
        .into_iter()
        .map(|e| Row {
            at: format_de_datetime(e.at),
            action: AuditAction::parse(&e.action).map_or("unbekannt", AuditAction::label),
            role: Role::parse(&e.role).map_or("–", Role::label),
            record: format!(
                "{} {}",
                outreach_core::audit::record_type_label(&e.record_type),
                e.record_id
            ),
            e,
        })
        .collect();
    let next_query: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            ["benutzer", "aktion", "datensatz", "von", "bis"]
                .iter()
                .map(|k| (*k, query.get(k))),
        )
        .append_pair("seite", &(page + 1).to_string())
        .finish();
    let (verification, verification_ok) = verification.unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = AuditPage {
        layout: Layout::new(&ctx.user, "Protokoll", "/protokoll"),
        rows,
        form: query,
        errors,
        actions: AuditAction::ALL
            .iter()
            .map(|a| (a.code(), a.label()))
            .collect(),
        page,
        has_more,
        next_query,
        verification,
        verification_ok,
    };
    Ok((status, page).into_response())
}

async fn page(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    render(&state, &ctx, query, None).await
}

async fn verify(
    State(state): State<AppState>,
    ctx: Ctx,
    _form: FormData,
) -> Result<Response, AppError> {
    let mut tx = state.db.begin_read().await?;
    let result = audit::verify(&mut tx).await?;
    drop(tx);
    let message = match &result.broken {
        None => (
            format!(
                "Die Protokollkette ist unversehrt: {} Ereignisse geprüft.",
                result.checked
            ),
            true,
        ),
        Some(b) => (
            format!(
                "Die Protokollkette ist verletzt! Erstes fehlerhaftes Ereignis: Nr. {} ({}). Bitte informieren Sie die Systemadministration und sichern Sie die Datenbank.",
                b.seq,
                b.reason.label()
            ),
            false,
        ),
    };
    if !message.1 {
        tracing::error!(
            seq = result.broken.as_ref().map(|b| b.seq),
            "audit chain broken"
        );
    }
    render(&state, &ctx, FormData::default(), Some(message)).await
}
