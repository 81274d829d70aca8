//! The results inbox: a case manager (pAp) sees the final cases of their own
//! customers, the job center's administration those of the whole job center;
//! newest first, filtered by flag, campaign and unread. A case's page shows
//! the outcome, the change set (old → new), the flags and the agent's note;
//! the pAp acknowledges it and marks values the customer disputes; the
//! administration reassigns it and exports the results for the job center's
//! own system (which marks them handed over). Every read is audited.

use crate::forms::{Errors, FormData, IdPath, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use outreach_core::access::{Action, CustomerScope, Role, customer_scope};
use outreach_core::audit::AuditAction;
use outreach_core::date::{berlin_day_start, format_de_date, format_de_datetime, parse_de_date};
use outreach_core::guide::Field;
use outreach_core::guide::session::Flags;
use outreach_core::handover::{self, ExportRecord, InboxFlag};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::campaign;
use outreach_store::handover::{self as store, InboxDetail, InboxFilter, InboxItem};

pub fn routes() -> Routes {
    let view = Access::Action(Action::ViewResults);
    let manage = Access::Action(Action::ManageResults);
    Routes::new()
        .get("/ergebnisse", view, list)
        .get("/ergebnisse/export", manage, export_form)
        .post("/ergebnisse/export", manage, export)
        .get("/ergebnisse/{id}", view, detail)
        .post("/ergebnisse/{id}/kenntnis", view, acknowledge)
        .post("/ergebnisse/{id}/bestritten", view, dispute)
        .post("/ergebnisse/{id}/zuweisen", manage, reassign)
}

const PAGE_SIZE: i64 = 50;

fn scope_of(ctx: &Ctx) -> Result<CustomerScope, AppError> {
    customer_scope(&ctx.user.actor).ok_or(AppError::Forbidden)
}

fn job_center_of(scope: &CustomerScope) -> Result<i64, AppError> {
    match scope {
        CustomerScope::JobCenter { job_center_id }
        | CustomerScope::CaseManager { job_center_id, .. } => Ok(*job_center_id),
        CustomerScope::ServiceCenter { .. } => Err(AppError::Forbidden),
    }
}

fn purpose(role: Role) -> &'static str {
    match role {
        Role::CaseManager => "Vorbereitung der persönlichen Beratung (eigene Kundinnen und Kunden)",
        _ => "Verwaltung der Gesprächsergebnisse des Jobcenters",
    }
}

fn name_of(item: &InboxItem) -> String {
    match &item.first_name {
        Some(first) => format!("{}, {first}", item.last_name),
        None => item.last_name.clone(),
    }
}

struct Row {
    case_id: i64,
    customer_number: String,
    name: String,
    campaign: String,
    outcome: String,
    date: String,
    flags: String,
    task: &'static str,
    unread: bool,
    acknowledged: bool,
    pap: String,
}

impl Row {
    fn new(item: InboxItem) -> Row {
        let flags = handover::flags_of(&item.disposition, item.result_flags().as_ref());
        Row {
            case_id: item.case_id,
            customer_number: item.customer_number.clone(),
            name: name_of(&item),
            campaign: item.campaign_name.clone(),
            outcome: handover::disposition_label(&item.disposition),
            date: format_de_datetime(item.closed_at),
            flags: flags
                .iter()
                .map(|f| f.label())
                .collect::<Vec<_>>()
                .join(", "),
            task: handover::task(&item.disposition).unwrap_or_default(),
            unread: item.read_at.is_none(),
            acknowledged: item.acknowledged_at.is_some(),
            pap: item.pap_code.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "results.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    flags: Vec<(&'static str, &'static str)>,
    flag: String,
    campaigns: Vec<(i64, String)>,
    campaign: String,
    unread: bool,
    query: String,
    is_admin: bool,
}

async fn list(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<ListPage, AppError> {
    let actor = &ctx.user.actor;
    let scope = scope_of(&ctx)?;
    let jc = job_center_of(&scope)?;
    // Unknown filter values are ignored (they come from this page's own select boxes).
    let flag = InboxFlag::parse(query.get("merkmal"));
    let campaign_id = query.get("aktion").parse::<i64>().ok();
    let unread = query.get("ungelesen") == "1";
    let page = query
        .get("seite")
        .parse::<i64>()
        .unwrap_or(1)
        .clamp(1, 1_000_000);
    let filter = InboxFilter {
        flag,
        campaign_id,
        unread_only: unread,
    };
    let mut tx = state.db.begin().await?;
    let campaigns = campaign::list(&mut tx, jc).await?;
    let total = store::count(&mut tx, &scope, &filter).await?;
    let items = store::list(&mut tx, &scope, &filter, PAGE_SIZE, (page - 1) * PAGE_SIZE).await?;
    if !items.is_empty() {
        let event = AuditEvent::by(actor, AuditAction::ResultList, &ctx.client)
            .record(
                "result_list",
                format!("Seite {page}, {} Fälle", items.len()),
            )
            .fields("Kundennummer, Name, Aktion, Ergebnis, Datum, Merkmale")
            .purpose(purpose(actor.role))
            .job_center(Some(jc));
        audit::append(&mut tx, &event, state.clock.now()).await?;
    }
    tx.commit().await?;
    let flag_code = flag.map_or("", InboxFlag::code).to_string();
    let campaign = campaign_id.map(|c| c.to_string()).unwrap_or_default();
    let query = format!(
        "merkmal={flag_code}&aktion={campaign}{}",
        if unread { "&ungelesen=1" } else { "" }
    );
    Ok(ListPage {
        layout: Layout::new(&ctx.user, "Gesprächsergebnisse", "/ergebnisse"),
        rows: items.into_iter().map(Row::new).collect(),
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        flags: InboxFlag::ALL
            .iter()
            .map(|f| (f.code(), f.label()))
            .collect(),
        flag: flag_code,
        campaigns: campaigns.into_iter().map(|c| (c.id, c.name)).collect(),
        campaign,
        unread,
        query,
        is_admin: actor.role == Role::JobcenterAdmin,
    })
}

struct ChangeRow {
    field: &'static str,
    label: &'static str,
    old: String,
    new: String,
    disputed: bool,
    note: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "result_detail.html")]
struct DetailPage {
    layout: Layout,
    row: Row,
    outcome: String,
    guide_version: String,
    identity: String,
    has_result: bool,
    flag_lines: Vec<(&'static str, String)>,
    changes: Vec<ChangeRow>,
    note: String,
    acknowledged: String,
    handed_over: String,
    is_admin: bool,
    pap_codes: Vec<String>,
    /// Invitations issued for this case: (id, appointment, purpose).
    invitations: Vec<(i64, String, &'static str)>,
    errors: Errors,
    message: &'static str,
}

/// The flags as lines of text (label, detail) for the detail page.
fn flag_lines(flags: &Flags) -> Vec<(&'static str, String)> {
    let mut lines = Vec::new();
    if let Some(end) = &flags.no_longer_unemployed {
        let mut parts = Vec::new();
        if let Some(reason) = end.reason_label.as_ref().or(end.reason.as_ref()) {
            parts.push(format!("Grund: {reason}"));
        }
        if let Some(since) = end.since {
            parts.push(format!("seit {}", format_de_date(since)));
        }
        if let Some(hours) = end.hours_per_week {
            parts.push(format!("{hours} Std./Woche").replace('.', ","));
        }
        if let Some(insured) = end.social_insurance {
            parts.push(
                if insured {
                    "sozialversicherungspflichtig"
                } else {
                    "nicht sozialversicherungspflichtig"
                }
                .to_string(),
            );
        }
        lines.push(("nicht mehr arbeitslos", parts.join(", ")));
    }
    if let Some(moved) = &flags.moved {
        let mut text = format!("neue Anschrift: {}", moved.address);
        if moved.other_job_center_possible {
            text.push_str(" – möglicherweise ist ein anderes Jobcenter zuständig");
        }
        lines.push(("verzogen", text));
    }
    if let Some(health) = flags.health_restriction.as_deref() {
        let text = match health {
            "yes" => "ja",
            "no" => "nein",
            _ => "keine Angabe",
        };
        lines.push(("gesundheitliche Einschränkung", text.to_string()));
    }
    if flags.wants_appointment {
        lines.push(("Termin gewünscht", "ja".into()));
    }
    if flags.contact_updated {
        lines.push(("Kontaktdaten aktualisiert", "ja".into()));
    }
    lines
}

const DETAIL_FIELDS: &str =
    "Kundennummer, Name, Aktion, Ergebnis, Änderungen (alt → neu), Merkmale, Notiz";

/// What the detail page shows besides the case itself.
struct Extras {
    disputes: Vec<store::Dispute>,
    pap_codes: Vec<String>,
    invitations: Vec<(i64, String, &'static str)>,
}

async fn load(state: &AppState, ctx: &Ctx, id: i64) -> Result<(InboxDetail, Extras), AppError> {
    let actor = &ctx.user.actor;
    let scope = scope_of(ctx)?;
    let jc = job_center_of(&scope)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let d = store::get(&mut tx, &scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let disputes = store::disputes(&mut tx, &scope, id).await?;
    let invitations = outreach_store::invitation::for_case(&mut tx, jc, id)
        .await?
        .into_iter()
        .map(|i| {
            (
                i.id,
                format!(
                    "{} {} Uhr",
                    outreach_core::date::iso_to_de(&i.appointment_on),
                    i.appointment_time
                ),
                outreach_core::invitation::Purpose::parse(&i.purpose)
                    .map_or("", outreach_core::invitation::Purpose::label),
            )
        })
        .collect();
    let pap_codes = if actor.role == Role::JobcenterAdmin {
        store::pap_codes(&mut tx, jc).await?
    } else {
        Vec::new()
    };
    // The assigned pAp opening it marks it read; the administration looking
    // leaves it unread for them.
    if actor.role == Role::CaseManager {
        store::mark_read(&mut tx, &scope, id, now).await?;
    }
    let event = AuditEvent::by(actor, AuditAction::ResultRead, &ctx.client)
        .record("case", id)
        .fields(DETAIL_FIELDS)
        .purpose(purpose(actor.role))
        .job_center(Some(d.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok((
        d,
        Extras {
            disputes,
            pap_codes,
            invitations,
        },
    ))
}

fn page(
    ctx: &Ctx,
    (
        d,
        Extras {
            disputes,
            pap_codes,
            invitations,
        },
    ): (InboxDetail, Extras),
    errors: Errors,
    message: &'static str,
) -> DetailPage {
    let flags = d.item.result_flags();
    let changes = d
        .changes()
        .into_iter()
        .map(|c| {
            let dispute = disputes.iter().find(|x| x.field == c.field.code());
            ChangeRow {
                field: c.field.code(),
                label: c.field.label(),
                old: c.old_display,
                new: c.new_display,
                disputed: dispute.is_some(),
                note: dispute.map(|x| x.note.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let outcome = handover::disposition_label(d.outcome.as_deref().unwrap_or(&d.item.disposition));
    let identity = match d.identity_method.as_deref() {
        Some("code") => "Code aus der Vorabinformation".to_string(),
        Some(_) => "zwei Angaben (z. B. Geburtsdatum und PLZ)".to_string(),
        None => String::new(),
    };
    let acknowledged = match (d.item.acknowledged_at, &d.acknowledged_by_name) {
        (Some(at), Some(by)) => format!("{} von {by}", format_de_datetime(at)),
        (Some(at), None) => format_de_datetime(at),
        _ => String::new(),
    };
    DetailPage {
        layout: Layout::new(
            &ctx.user,
            format!("Ergebnis zu Kunde {}", d.item.customer_number),
            "/ergebnisse",
        ),
        outcome,
        guide_version: d.guide_version.clone().unwrap_or_default(),
        identity,
        has_result: d.outcome.is_some(),
        flag_lines: flags.as_ref().map(flag_lines).unwrap_or_default(),
        changes,
        note: d.note.clone().unwrap_or_default(),
        acknowledged,
        handed_over: d.handed_over_at.map(format_de_datetime).unwrap_or_default(),
        is_admin: ctx.user.actor.role == Role::JobcenterAdmin,
        pap_codes,
        invitations,
        errors,
        message,
        row: Row::new(d.item),
    }
}

async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    QueryData(query): QueryData,
) -> Result<DetailPage, AppError> {
    let loaded = load(&state, &ctx, id).await?;
    let message = match query.get("meldung") {
        "kenntnis" => "Das Ergebnis ist als zur Kenntnis genommen vermerkt.",
        "bestritten" => "Der Wert ist als bestritten markiert; er bleibt unverändert gespeichert.",
        "zugewiesen" => "Das Ergebnis ist dem gewählten pAp zugewiesen.",
        "einladung" => {
            "Die Einladung ist erstellt. Bitte drucken Sie den Brief und versenden Sie ihn."
        }
        _ => "",
    };
    Ok(page(&ctx, loaded, Errors::default(), message))
}

/// The case in scope, or "not found" (the same answer as for a case that
/// doesn't exist).
async fn in_scope(state: &AppState, ctx: &Ctx, id: i64) -> Result<InboxDetail, AppError> {
    let scope = scope_of(ctx)?;
    let mut tx = state.db.read().await?;
    let d = store::get(&mut tx, &scope, id).await?;
    tx.commit().await?;
    d.ok_or(AppError::NotFound)
}

async fn acknowledge(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let d = in_scope(&state, &ctx, id).await?;
    let scope = scope_of(&ctx)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if store::acknowledge(&mut tx, &scope, id, ctx.user.actor.user_id, now).await? {
        let event = AuditEvent::by(&ctx.user.actor, AuditAction::ResultAcknowledge, &ctx.client)
            .record("case", id)
            .fields("zur Kenntnis genommen")
            .job_center(Some(d.job_center_id));
        audit::append(&mut tx, &event, now).await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/ergebnisse/{id}?meldung=kenntnis")).into_response())
}

/// At most this many characters in a note.
const NOTE_MAX: usize = 500;

async fn dispute(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let d = in_scope(&state, &ctx, id).await?;
    let field = form.get("feld");
    let note = form.get("notiz");
    if d.changes().is_empty() {
        // The page offers no form then: nothing was changed to dispute.
        return Err(AppError::BadRequest(
            "In diesem Gespräch wurde keine Angabe geändert; es gibt nichts zu bestreiten.",
        ));
    }
    let mut errors = Errors::default();
    let changed = d.changes().iter().any(|c| c.field.code() == field);
    if Field::parse(field).is_none() || !changed {
        errors.add(
            "feld",
            "Feld",
            "Bitte wählen Sie einen Wert, der in diesem Gespräch geändert wurde.",
        );
    }
    if note.chars().count() > NOTE_MAX {
        errors.add(
            "notiz",
            "Notiz",
            format!("Die Notiz darf höchstens {NOTE_MAX} Zeichen lang sein."),
        );
    }
    if note
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        errors.add(
            "notiz",
            "Notiz",
            "Die Notiz enthält unzulässige Steuerzeichen.",
        );
    }
    if !errors.is_empty() {
        let loaded = load(&state, &ctx, id).await?;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&ctx, loaded, errors, ""),
        )
            .into_response());
    }
    let scope = scope_of(&ctx)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if !store::dispute(
        &mut tx,
        &scope,
        id,
        field,
        note,
        ctx.user.actor.user_id,
        now,
    )
    .await?
    {
        return Err(AppError::NotFound);
    }
    let label = Field::parse(field).map_or("?", Field::label);
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::ResultDispute, &ctx.client)
        .record("case", id)
        .fields(&format!("{label}: bestritten"))
        .job_center(Some(d.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/ergebnisse/{id}?meldung=bestritten")).into_response())
}

async fn reassign(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let d = in_scope(&state, &ctx, id).await?;
    let pap = form.get("pap");
    let known = {
        let mut tx = state.db.read().await?;
        let codes = store::pap_codes(&mut tx, d.job_center_id).await?;
        tx.commit().await?;
        codes.iter().any(|c| c == pap)
    };
    if !known {
        let mut errors = Errors::default();
        errors.add(
            "pap",
            "pAp-Kennung",
            "Bitte wählen Sie die pAp-Kennung einer Fallmanagerin oder eines Fallmanagers Ihres Jobcenters.",
        );
        let loaded = load(&state, &ctx, id).await?;
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&ctx, loaded, errors, ""),
        )
            .into_response());
    }
    let scope = scope_of(&ctx)?;
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if !store::reassign(&mut tx, &scope, id, pap).await? {
        return Err(AppError::NotFound);
    }
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::ResultReassign, &ctx.client)
        .record("case", id)
        .fields(&format!("zugewiesen an pAp {pap}"))
        .job_center(Some(d.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/ergebnisse/{id}?meldung=zugewiesen")).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "results_export.html")]
struct ExportPage {
    layout: Layout,
    campaigns: Vec<(i64, String)>,
    campaign: String,
    since: String,
    format: String,
    errors: Errors,
}

async fn export_page(
    state: &AppState,
    ctx: &Ctx,
    form: &FormData,
    errors: Errors,
) -> Result<ExportPage, AppError> {
    let jc = job_center_of(&scope_of(ctx)?)?;
    let mut tx = state.db.read().await?;
    let campaigns = campaign::list(&mut tx, jc).await?;
    tx.commit().await?;
    Ok(ExportPage {
        layout: Layout::new(&ctx.user, "Ergebnisse exportieren", "/ergebnisse"),
        campaigns: campaigns.into_iter().map(|c| (c.id, c.name)).collect(),
        campaign: form.get("aktion").to_string(),
        since: form.get("seit").to_string(),
        format: match form.get("format") {
            "json" => "json",
            _ => "csv",
        }
        .to_string(),
        errors,
    })
}

async fn export_form(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<ExportPage, AppError> {
    export_page(&state, &ctx, &query, Errors::default()).await
}

async fn export(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let jc = job_center_of(&scope_of(&ctx)?)?;
    let mut errors = Errors::default();
    let campaign_id = form.get("aktion").parse::<i64>().ok();
    let campaign = match campaign_id {
        Some(id) => {
            let mut tx = state.db.read().await?;
            let c =
                campaign::by_id(&mut tx, outreach_store::RecordScope::JobCenter(jc), id).await?;
            tx.commit().await?;
            c.filter(|c| c.job_center_id == jc)
        }
        None => None,
    };
    if campaign.is_none() {
        errors.add(
            "aktion",
            "Aktion",
            "Bitte wählen Sie eine Aktion Ihres Jobcenters.",
        );
    }
    let since = match form.get("seit") {
        "" => None,
        raw => match parse_de_date(raw) {
            Ok(d) => Some(berlin_day_start(d)),
            Err(_) => {
                errors.add(
                    "seit",
                    "abgeschlossen seit",
                    "Bitte geben Sie das Datum als TT.MM.JJJJ an, zum Beispiel 01.02.2027.",
                );
                None
            }
        },
    };
    let json = form.get("format") == "json";
    let Some(campaign) = campaign.filter(|_| errors.is_empty()) else {
        let page = export_page(&state, &ctx, &form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let cases = store::export_cases(&mut tx, jc, campaign.id, since).await?;
    let ids: Vec<i64> = cases.iter().map(|c| c.case_id).collect();
    store::mark_handed_over(&mut tx, &ids, now).await?;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::ResultExport, &ctx.client)
        .record("campaign", campaign.id)
        .fields(&format!(
            "{} Fälle als {}{}",
            cases.len(),
            if json { "JSON" } else { "CSV" },
            form.get("seit")
                .is_empty()
                .then(String::new)
                .unwrap_or_else(|| format!(", abgeschlossen seit {}", form.get("seit")))
        ))
        .purpose("Übergabe an das Fachverfahren des Jobcenters")
        .job_center(Some(jc));
    audit::append(&mut tx, &event, now).await?;
    let (body, kind, extension) = if json {
        let records: Vec<ExportRecord> = cases.iter().map(ExportRecord::of).collect();
        let body = serde_json::to_vec_pretty(&records)
            .map_err(|e| AppError::Internal(format!("json: {e}")))?;
        (body, "application/json", "json")
    } else {
        let body =
            handover::export_csv(&cases).map_err(|e| AppError::Internal(format!("csv: {e}")))?;
        (body, "text/csv; charset=utf-8", "csv")
    };
    tx.commit().await?;
    Ok(crate::download::attachment(
        body,
        kind,
        &format!("ergebnisse-aktion-{}.{extension}", campaign.id),
    ))
}
