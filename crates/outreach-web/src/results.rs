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
use outreach_app::results::{
    self, DisputeProblem, ExportRequest, InboxFilter, InboxItem, NOTE_MAX, ResultCase,
};
use outreach_core::access::{Action, Role};
use outreach_core::date::{berlin_day_start, format_de_date, format_de_datetime, parse_de_date};
use outreach_core::guide::session::Flags;
use outreach_core::results::{
    ExportRecord, InboxFlag, disposition_label, export_csv, flags_of, task,
};

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
        let flags = flags_of(&item.disposition, item.result_flags().as_ref());
        Row {
            case_id: item.case_id,
            customer_number: item.customer_number.clone(),
            name: name_of(&item),
            campaign: item.campaign_name.clone(),
            outcome: disposition_label(&item.disposition),
            date: format_de_datetime(item.closed_at),
            flags: flags
                .iter()
                .map(|f| f.label())
                .collect::<Vec<_>>()
                .join(", "),
            task: task(&item.disposition).unwrap_or_default(),
            unread: item.read_at.is_none(),
            acknowledged: item.acknowledged_at.is_some(),
            pap: item.pap_code.clone().unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "results/list.html")]
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
    let inbox = results::inbox(
        &state.db,
        ctx.caller(),
        &filter,
        page,
        PAGE_SIZE,
        state.clock.now(),
    )
    .await?;
    let total = inbox.total;
    let flag_code = flag.map_or("", InboxFlag::code).to_string();
    let campaign = campaign_id.map(|c| c.to_string()).unwrap_or_default();
    let query = format!(
        "merkmal={flag_code}&aktion={campaign}{}",
        if unread { "&ungelesen=1" } else { "" }
    );
    Ok(ListPage {
        layout: Layout::new(&ctx.user, "Gesprächsergebnisse", "/ergebnisse"),
        rows: inbox.items.into_iter().map(Row::new).collect(),
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        flags: InboxFlag::ALL
            .iter()
            .map(|f| (f.code(), f.label()))
            .collect(),
        flag: flag_code,
        campaigns: inbox
            .campaigns
            .into_iter()
            .map(|c| (c.id, c.name))
            .collect(),
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
#[template(path = "results/detail.html")]
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

fn page(
    ctx: &Ctx,
    ResultCase {
        detail: d,
        disputes,
        pap_codes,
        invitations,
    }: ResultCase,
    errors: Errors,
    message: &'static str,
) -> DetailPage {
    let invitations = invitations
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
    let flags = d.item.result_flags();
    let changes = d
        .changes()
        .into_iter()
        .map(|c| {
            let dispute = disputes.iter().find(|x| x.field == c.field.code());
            let (old, new) = c.shown();
            ChangeRow {
                field: c.field.code(),
                label: c.field.label(),
                old,
                new,
                disputed: dispute.is_some(),
                note: dispute.map(|x| x.note.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let outcome = disposition_label(d.outcome.as_deref().unwrap_or(&d.item.disposition));
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
    let loaded = results::open(&state.db, ctx.caller(), id, state.clock.now()).await?;
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

async fn acknowledge(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    results::acknowledge(&state.db, ctx.caller(), id, state.clock.now()).await?;
    Ok(Redirect::to(&format!("/ergebnisse/{id}?meldung=kenntnis")).into_response())
}

async fn dispute(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let disputed = results::dispute(
        &state.db,
        ctx.caller(),
        id,
        form.get("feld"),
        form.get("notiz"),
        now,
    )
    .await?;
    let Err(problems) = disputed else {
        return Ok(Redirect::to(&format!("/ergebnisse/{id}?meldung=bestritten")).into_response());
    };
    let mut errors = Errors::default();
    for problem in problems {
        match problem {
            // The page offers no form then: nothing was changed to dispute.
            DisputeProblem::NothingChanged => {
                return Err(AppError::BadRequest(
                    "In diesem Gespräch wurde keine Angabe geändert; es gibt nichts zu bestreiten.",
                ));
            }
            DisputeProblem::FieldNotChanged => errors.add(
                "feld",
                "Feld",
                "Bitte wählen Sie einen Wert, der in diesem Gespräch geändert wurde.",
            ),
            DisputeProblem::NoteTooLong => errors.add(
                "notiz",
                "Notiz",
                format!("Die Notiz darf höchstens {NOTE_MAX} Zeichen lang sein."),
            ),
            DisputeProblem::NoteControlCharacters => errors.add(
                "notiz",
                "Notiz",
                "Die Notiz enthält unzulässige Steuerzeichen.",
            ),
        }
    }
    let loaded = results::open(&state.db, ctx.caller(), id, now).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        page(&ctx, loaded, errors, ""),
    )
        .into_response())
}

async fn reassign(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let pap = form.get("pap");
    if results::reassign(&state.db, ctx.caller(), id, pap, now).await? {
        return Ok(Redirect::to(&format!("/ergebnisse/{id}?meldung=zugewiesen")).into_response());
    }
    let mut errors = Errors::default();
    errors.add(
        "pap",
        "pAp-Kennung",
        "Bitte wählen Sie die pAp-Kennung einer Fallmanagerin oder eines Fallmanagers Ihres Jobcenters.",
    );
    let loaded = results::open(&state.db, ctx.caller(), id, now).await?;
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        page(&ctx, loaded, errors, ""),
    )
        .into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "results/export.html")]
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
    let campaigns = results::export_campaigns(&state.db, &ctx.user.actor).await?;
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
    let mut errors = Errors::default();
    let since = match form.get("seit") {
        "" => Ok(None),
        raw => parse_de_date(raw)
            .map(|d| Some(berlin_day_start(d)))
            .map_err(|_| ()),
    };
    let json = form.get("format") == "json";
    let request = ExportRequest {
        campaign_id: form.get("aktion").parse::<i64>().ok(),
        since,
        since_text: form.get("seit"),
        json,
    };
    let (campaign_id, cases) =
        match results::export(&state.db, ctx.caller(), &request, state.clock.now()).await? {
            Ok(exported) => exported,
            Err(unknown_campaign) => {
                if unknown_campaign {
                    errors.add(
                        "aktion",
                        "Aktion",
                        "Bitte wählen Sie eine Aktion Ihres Jobcenters.",
                    );
                }
                if request.since.is_err() {
                    errors.add(
                        "seit",
                        "abgeschlossen seit",
                        "Bitte geben Sie das Datum als TT.MM.JJJJ an, zum Beispiel 01.02.2027.",
                    );
                }
                let page = export_page(&state, &ctx, &form, errors).await?;
                return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
            }
        };
    let (body, kind, extension) = if json {
        let records: Vec<ExportRecord> = cases.iter().map(ExportRecord::of).collect();
        let body =
            serde_json::to_vec_pretty(&records).map_err(|e| AppError::internal("json", e))?;
        (body, "application/json", "json")
    } else {
        let body = export_csv(&cases).map_err(|e| AppError::internal("csv", e))?;
        (body, "text/csv; charset=utf-8", "csv")
    };
    Ok(crate::download::attachment(
        body,
        kind,
        &format!("ergebnisse-aktion-{campaign_id}.{extension}"),
    ))
}
