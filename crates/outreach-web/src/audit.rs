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
use outreach_app::audit::{self, AuditAction, Person, record_type_label};
use outreach_app::audit::{AuditFilter, StoredEvent};
use outreach_core::access::{Action, Role};
use outreach_core::date::{berlin_day_start, format_de_datetime, parse_de_date};

pub fn routes() -> Routes {
    let view = Access::Action(Action::ViewAuditLog);
    Routes::new()
        .get("/protokoll", view, page)
        .get("/protokoll/export.csv", view, export_csv)
        .post("/protokoll/pruefen", view, verify)
}

const PAGE_SIZE: i64 = 100;
/// At most this many events in one CSV export (a period narrows it).
const EXPORT_LIMIT: i64 = 200_000;
/// The filter fields, kept in the links to the next page and to the export.
const FILTER_FIELDS: [&str; 6] = ["benutzer", "aktion", "datensatz", "kunde", "von", "bis"];

struct Row {
    e: StoredEvent,
    at: String,
    action: &'static str,
    role: &'static str,
    record: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "audit/events.html")]
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
    filter_query: String,
    /// The latest chain check, in words, and whether it found the chain intact.
    last_check: Option<(String, bool)>,
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
        person: None,
        username: Some(query.get("benutzer").to_lowercase()).filter(|s| !s.is_empty()),
        action,
        record_id: Some(query.get("datensatz").to_string()).filter(|s| !s.is_empty()),
        from,
        until,
    }
}

/// The field error of a "Kundennummer" filter that names nobody or several.
fn person_error(person: Person, errors: &mut Errors) {
    match person {
        Person::Any | Person::Found => {}
        Person::NoOne => errors.add(
            "kunde",
            "Kundennummer",
            "Zu dieser Kundennummer ist niemand gespeichert.",
        ),
        Person::SeveralJobCenters => errors.add(
            "kunde",
            "Kundennummer",
            "Diese Kundennummer gibt es in mehreren Jobcentern; bitte über die Auskunft (Art. 15) das Jobcenter wählen.",
        ),
    }
}

fn query_of(query: &FormData) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(FILTER_FIELDS.iter().map(|k| (*k, query.get(k))))
        .finish()
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    query: FormData,
    verification: Option<(String, bool)>,
) -> Result<Response, AppError> {
    let actor = &ctx.user.actor;
    let mut errors = Errors::default();
    let filter = filter_from(&query, actor.home.job_center(), &mut errors);
    let page = query.get("seite").parse::<i64>().unwrap_or(1).max(1);
    let now = state.clock.now();
    let list = errors
        .is_empty()
        .then_some((PAGE_SIZE + 1, (page - 1) * PAGE_SIZE));
    let described = filter_description(&query);
    let number = query.get("kunde");
    let reading = audit::read(
        &state.db,
        ctx.caller(),
        filter,
        number,
        list,
        page,
        &described,
        now,
    )
    .await?;
    person_error(reading.person, &mut errors);
    let retention = reading.retention;
    let last_check = reading.last_check.map(|c| match c.broken_seq {
        None => (
            format!(
                "Letzte Prüfung der Protokollkette am {}: unversehrt, {} Ereignisse{}. {}",
                format_de_datetime(c.checked_at),
                c.events_checked,
                if c.full_check {
                    ""
                } else {
                    " seit der vorigen Prüfung (die ganze Kette wird wöchentlich geprüft)"
                },
                retention.removed_sentence()
            ),
            true,
        ),
        Some(seq) => (
            format!(
                "Warnung: Die Prüfung am {} hat die Protokollkette verletzt gefunden (Ereignis Nr. {seq}, {}). Bitte Systemadministration informieren und die Datenbank sichern.",
                format_de_datetime(c.checked_at),
                c.reason
            ),
            false,
        ),
    });
    let mut events = reading.events;
    let has_more = events.len() > PAGE_SIZE as usize;
    events.truncate(PAGE_SIZE as usize);
    let rows = events
        .into_iter()
        .map(|e| Row {
            at: format_de_datetime(e.at),
            action: AuditAction::parse(&e.action).map_or("unbekannt", AuditAction::label),
            role: Role::parse(&e.role).map_or("–", Role::label),
            record: format!("{} {}", record_type_label(&e.record_type), e.record_id),
            e,
        })
        .collect();
    let filter_query = query_of(&query);
    let next_query = format!("{filter_query}&seite={}", page + 1);
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
        filter_query,
        last_check,
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
    let result = audit::verify(&state.db, &ctx.user.actor, state.clock.now()).await?;
    let message = match &result.broken {
        None => (
            format!(
                "Die Protokollkette ist unversehrt: {} Ereignisse geprüft. {}",
                result.checked,
                result.retention.removed_sentence()
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
    render(&state, &ctx, FormData::default(), Some(message)).await
}

/// The filter in words, for the audit event of a read or an export.
fn filter_description(query: &FormData) -> String {
    FILTER_FIELDS
        .iter()
        .filter(|k| !query.get(k).is_empty())
        .map(|k| format!("{k}={}", query.get(k)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The filtered events as CSV (German headers), newest first.
async fn export_csv(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    let actor = &ctx.user.actor;
    let mut errors = Errors::default();
    let filter = filter_from(&query, actor.home.job_center(), &mut errors);
    let described = filter_description(&query);
    let number = query.get("kunde");
    let now = state.clock.now();
    let exported = if errors.is_empty() {
        audit::export(
            &state.db,
            ctx.caller(),
            filter,
            number,
            EXPORT_LIMIT,
            &described,
            now,
        )
        .await?
    } else {
        Err(Person::Any)
    };
    let Ok(events) = exported else {
        return render(&state, &ctx, query, None).await;
    };
    let header = [
        "Nr.",
        "Zeitpunkt",
        "Benutzer",
        "Rolle",
        "Aktion",
        "Datensatzart",
        "Datensatz",
        "Felder",
        "Zweck",
        "Client",
        "Jobcenter-Nr.",
        "Service-Center-Nr.",
        "Hash",
    ]
    .map(String::from)
    .to_vec();
    let rows = events.into_iter().map(|e| {
        vec![
            e.seq.to_string(),
            format_de_datetime(e.at),
            e.username,
            Role::parse(&e.role).map_or("–", Role::label).to_string(),
            AuditAction::parse(&e.action)
                .map_or("unbekannt", AuditAction::label)
                .to_string(),
            record_type_label(&e.record_type).to_string(),
            e.record_id,
            e.fields,
            e.purpose,
            e.client,
            e.about_job_center_id
                .or(e.job_center_id)
                .map(|n| n.to_string())
                .unwrap_or_default(),
            e.service_center_id
                .map(|n| n.to_string())
                .unwrap_or_default(),
            e.hash,
        ]
    });
    crate::download::csv("protokoll.csv", std::iter::once(header).chain(rows))
}
