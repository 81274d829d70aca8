//! Campaigns (Aktionen) for the job center administration: create under an
//! active mandate with a live preview of the selection, activate (the
//! selection is frozen into cases), produce advance letters in print batches,
//! mark them sent, and see for every case why it can't be called yet.

use crate::forms::{Errors, FormData, IdPath, IdsPath, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use outreach_core::access::{Action, Actor, Home, Owner, can_on};
use outreach_core::audit::AuditAction;
use outreach_core::calling::{CallingWindow, WEEKDAYS};
use outreach_core::campaign::{
    CampaignSettings, CampaignState, MandateLimits, Selection, parse_postcodes,
};
use outreach_core::customer::Status;
use outreach_core::date::{berlin_date, format_de_date, iso_to_de, parse_de_date, parse_iso_date};
use outreach_core::mandate::MandateState;
use outreach_letters::batch::{advance_letter, create_advance_batch, file_names, manifest};
use outreach_letters::{AdvanceLetter, LETTERS_PER_FILE};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::campaign::{self, Campaign, CaseListing};
use outreach_store::guide::{self, StoredGuide};
use outreach_store::letters::{self, Batch};
use outreach_store::mandate::{self, Mandate, MandateScope};

pub fn routes() -> Routes {
    let manage = Access::Action(Action::ManageCampaigns);
    Routes::new()
        .get("/aktionen", manage, list)
        .get("/aktionen/neu", manage, new_page)
        .post("/aktionen", manage, create)
        .get("/aktionen/vorschau", manage, preview)
        .get("/aktionen/{id}", manage, detail)
        .get("/aktionen/{id}/bearbeiten", manage, edit_page)
        .post("/aktionen/{id}/bearbeiten", manage, update)
        .post("/aktionen/{id}/status", manage, change_state)
        .post("/aktionen/{id}/briefe", manage, create_batch)
        .get(
            "/aktionen/{id}/stapel/{batch}/teil/{part}",
            manage,
            batch_pdf,
        )
        .get(
            "/aktionen/{id}/stapel/{batch}/manifest",
            manage,
            batch_manifest,
        )
        .post("/aktionen/{id}/stapel/{batch}/versandt", manage, batch_sent)
        .get("/aktionen/{id}/faelle/{case}", manage, case_page)
        .post(
            "/aktionen/{id}/faelle/{case}/widerspruch",
            manage,
            objection,
        )
}

fn job_center_of(actor: &Actor) -> Result<i64, AppError> {
    match actor.home {
        Home::JobCenter(id) => Ok(id),
        _ => Err(AppError::Forbidden),
    }
}

/// The campaign if it belongs to the actor's job center; otherwise "not
/// found", so other job centers' ids reveal nothing.
async fn owned(state: &AppState, actor: &Actor, id: i64) -> Result<Campaign, AppError> {
    let scope = outreach_store::RecordScope::of(actor).ok_or(AppError::NotFound)?;
    let mut tx = state.db.begin_read().await?;
    let c = campaign::by_id(&mut tx, scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if can_on(
        actor,
        Action::ManageCampaigns,
        Owner::JobCenter(c.job_center_id),
    ) {
        Ok(c)
    } else {
        Err(AppError::NotFound)
    }
}

fn today(state: &AppState) -> Date {
    berlin_date(state.clock.now())
}

/// A campaign as listed and shown.
struct CampaignView {
    c: Campaign,
    state_label: &'static str,
    period: String,
    window: String,
    selection: String,
}

impl CampaignView {
    fn new(c: Campaign) -> CampaignView {
        CampaignView {
            state_label: c.state().label(),
            period: format!(
                "{} bis {}",
                iso_to_de(&c.period_start),
                iso_to_de(&c.period_end)
            ),
            window: c.window().label(),
            selection: c.selection().label(),
            c,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "campaigns.html")]
struct ListPage {
    layout: Layout,
    campaigns: Vec<CampaignView>,
}

async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<ListPage, AppError> {
    let jc = job_center_of(&ctx.user.actor)?;
    let mut tx = state.db.begin_read().await?;
    let campaigns = campaign::list(&mut tx, jc)
        .await?
        .into_iter()
        .map(CampaignView::new)
        .collect();
    Ok(ListPage {
        layout: Layout::new(&ctx.user, "Aktionen", "/aktionen"),
        campaigns,
    })
}

struct Choice {
    code: String,
    label: String,
    checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "campaign_new.html")]
struct NewPage {
    layout: Layout,
    errors: Errors,
    form: FormData,
    mandates: Vec<Mandate>,
    guides: Vec<StoredGuide>,
    statuses: Vec<Choice>,
    days: Vec<Choice>,
    preview: Option<i64>,
    /// Where the form goes: `/aktionen`, or the draft's edit address.
    action: String,
    submit_label: &'static str,
}

/// The form's value, or the default when the form was not submitted yet.
fn value(form: &FormData, submitted: bool, name: &str, default: impl ToString) -> String {
    if submitted {
        form.get(name).to_string()
    } else {
        default.to_string()
    }
}

async fn active_mandates(state: &AppState, jc: i64) -> Result<Vec<Mandate>, AppError> {
    let mut tx = state.db.begin_read().await?;
    Ok(mandate::list(&mut tx, MandateScope::JobCenter(jc))
        .await?
        .into_iter()
        .filter(|m| m.state() == MandateState::Active)
        .collect())
}

/// The campaign form: new (`editing` None) or a draft's.
async fn new_form(
    state: &AppState,
    ctx: &Ctx,
    form: FormData,
    errors: Errors,
    preview: Option<i64>,
    editing: Option<&Campaign>,
) -> Result<NewPage, AppError> {
    let jc = job_center_of(&ctx.user.actor)?;
    let submitted = form.get("submitted") == "1";
    let defaults = Selection::default();
    let window = CallingWindow::default();
    let mut defaulted = FormData::default();
    for (name, default) in [
        ("contact_weeks", defaults.contact_weeks.to_string()),
        (
            "contact_weeks_under_25",
            defaults.contact_weeks_under_25.to_string(),
        ),
        ("attempts_per_day", "1".into()),
        ("attempts_total", "6".into()),
        ("lead_days", "7".into()),
        ("window_start", window.start()),
        ("window_end", window.end()),
    ] {
        defaulted.set(name, value(&form, submitted, name, default));
    }
    for name in ["name", "mandate", "postcodes", "period_start", "period_end"] {
        defaulted.set(name, form.get(name).to_string());
    }
    let guides = {
        let mut tx = state.db.begin_read().await?;
        guide::list(&mut tx, jc).await?
    };
    // By default the newest built-in guide.
    let default_guide = guides
        .iter()
        .filter(|g| g.built_in())
        .max_by_key(|g| g.id)
        .map(|g| g.id.to_string())
        .unwrap_or_default();
    defaulted.set("guide", value(&form, submitted, "guide", default_guide));
    defaulted.set("submitted", "1".to_string());
    let (title, action, submit_label) = match editing {
        Some(c) => (
            format!("Entwurf bearbeiten: {}", c.name),
            format!("/aktionen/{}/bearbeiten", c.id),
            "Änderungen speichern",
        ),
        None => (
            "Neue Aktion".to_string(),
            "/aktionen".to_string(),
            "Aktion als Entwurf anlegen",
        ),
    };
    Ok(NewPage {
        layout: Layout::new(&ctx.user, title, "/aktionen"),
        action,
        submit_label,
        errors,
        mandates: active_mandates(state, jc).await?,
        guides,
        statuses: Status::ALL
            .iter()
            .map(|s| Choice {
                code: s.code().into(),
                label: s.label().into(),
                checked: if submitted {
                    form.all("statuses").contains(&s.code())
                } else {
                    defaults.statuses.iter().any(|c| c == s.code())
                },
            })
            .collect(),
        days: WEEKDAYS[..5]
            .iter()
            .map(|(_, code, name)| Choice {
                code: (*code).into(),
                label: (*name).into(),
                checked: if submitted {
                    form.all("window_days").contains(code)
                } else {
                    window.includes_day(code)
                },
            })
            .collect(),
        form: defaulted,
        preview,
    })
}

async fn new_page(State(state): State<AppState>, ctx: Ctx) -> Result<NewPage, AppError> {
    new_form(
        &state,
        &ctx,
        FormData::default(),
        Errors::default(),
        None,
        None,
    )
    .await
}

/// The draft's settings as the form shows them.
fn draft_form(c: &Campaign) -> FormData {
    let selection = c.selection();
    let window = c.window();
    let mut form = FormData::default();
    form.set("submitted", "1".into());
    form.set("name", c.name.clone());
    form.set("mandate", c.mandate_id.to_string());
    for status in &selection.statuses {
        form.push("statuses", status.clone());
    }
    form.set("contact_weeks", selection.contact_weeks.to_string());
    form.set(
        "contact_weeks_under_25",
        selection.contact_weeks_under_25.to_string(),
    );
    form.set("postcodes", selection.postcodes.join(", "));
    form.set(
        "guide",
        c.guide_id.map(|g| g.to_string()).unwrap_or_default(),
    );
    for (_, code, _) in WEEKDAYS.iter() {
        if window.includes_day(code) {
            form.push("window_days", (*code).to_string());
        }
    }
    form.set("window_start", window.start());
    form.set("window_end", window.end());
    form.set("attempts_per_day", c.attempts_per_day.to_string());
    form.set("attempts_total", c.attempts_total.to_string());
    form.set("lead_days", c.lead_days.to_string());
    form.set("period_start", iso_to_de(&c.period_start));
    form.set("period_end", iso_to_de(&c.period_end));
    form
}

/// The campaign if it is still a draft; otherwise its page says why it
/// can't be changed.
async fn owned_draft(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<Result<Campaign, Response>, AppError> {
    let c = owned(state, &ctx.user.actor, id).await?;
    if c.state() == CampaignState::Draft {
        return Ok(Ok(c));
    }
    let mut errors = Errors::default();
    errors.add(
        "state",
        "Status",
        "Nur ein Entwurf kann geändert werden; nach der Aktivierung sind Auswahl und Briefe festgeschrieben.",
    );
    let page = detail_page(state, ctx, c, errors, "", String::new()).await?;
    Ok(Err((StatusCode::CONFLICT, page).into_response()))
}

async fn edit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let c = match owned_draft(&state, &ctx, id).await? {
        Ok(c) => c,
        Err(refused) => return Ok(refused),
    };
    let form = draft_form(&c);
    Ok(
        new_form(&state, &ctx, form, Errors::default(), None, Some(&c))
            .await?
            .into_response(),
    )
}

fn number(form: &FormData, errors: &mut Errors, field: &str, label: &str) -> u32 {
    match form.get(field).trim().parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            errors.add(field, label, "Bitte geben Sie eine ganze Zahl an.");
            0
        }
    }
}

fn date(form: &FormData, errors: &mut Errors, field: &str, label: &str) -> Option<Date> {
    match parse_de_date(form.get(field)) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.add(field, label, e);
            None
        }
    }
}

/// The selection as entered; errors named per field.
fn read_selection(form: &FormData, errors: &mut Errors) -> Selection {
    let postcodes = match parse_postcodes(form.get("postcodes")) {
        Ok(codes) => codes,
        Err(p) => {
            errors.add(p.field, "Postleitzahlen", p.message);
            Vec::new()
        }
    };
    Selection {
        statuses: form
            .all("statuses")
            .into_iter()
            .filter(|c| Status::parse(c).is_some())
            .map(String::from)
            .collect(),
        contact_weeks: number(
            form,
            errors,
            "contact_weeks",
            "Letzter Kontakt vor mindestens",
        ),
        contact_weeks_under_25: number(
            form,
            errors,
            "contact_weeks_under_25",
            "Unter 25: letzter Kontakt vor mindestens",
        ),
        postcodes,
    }
}

fn label_of(field: &str) -> &'static str {
    match field {
        "name" => "Name",
        "statuses" => "Status",
        "contact_weeks_under_25" => "Unter 25: letzter Kontakt vor mindestens",
        "attempts_per_day" => "Versuche pro Tag",
        "attempts_total" => "Versuche insgesamt",
        "lead_days" => "Wartefrist nach Versand",
        "period_start" | "period_end" => "Anrufzeitraum",
        _ => "Anrufzeiten",
    }
}

/// What the campaign form asks for, checked; `None` (with the problems
/// named in `errors`) when something is missing or wrong.
async fn read_settings(
    state: &AppState,
    jc: i64,
    form: &FormData,
    selection: Selection,
    errors: &mut Errors,
) -> Result<Option<(CampaignSettings, Mandate)>, AppError> {
    let mandate = match form.get("mandate").parse::<i64>() {
        Ok(id) => active_mandates(state, jc)
            .await?
            .into_iter()
            .find(|m| m.id == id),
        Err(_) => None,
    };
    if mandate.is_none() {
        errors.add(
            "mandate",
            "Auftrag",
            "Bitte wählen Sie einen aktiven Auftrag aus.",
        );
    }
    let guide = match form.get("guide").parse::<i64>() {
        Ok(id) => {
            let mut tx = state.db.begin_read().await?;
            guide::by_id(&mut tx, outreach_store::RecordScope::JobCenter(jc), id).await?
        }
        Err(_) => None,
    };
    if guide.is_none() {
        errors.add(
            "guide",
            "Gesprächsleitfaden",
            "Bitte wählen Sie eine Version des Gesprächsleitfadens aus.",
        );
    }
    let attempts_per_day = number(form, errors, "attempts_per_day", "Versuche pro Tag");
    let attempts_total = number(form, errors, "attempts_total", "Versuche insgesamt");
    let lead_days = number(form, errors, "lead_days", "Wartefrist nach Versand");
    let start = date(form, errors, "period_start", "Beginn des Anrufzeitraums");
    let end = date(form, errors, "period_end", "Ende des Anrufzeitraums");
    let window = match CallingWindow::parse(
        &form.all("window_days"),
        form.get("window_start"),
        form.get("window_end"),
    ) {
        Ok(w) => Some(w),
        Err(problems) => {
            for p in problems {
                errors.add(p.field, "Anrufzeiten", p.message);
            }
            None
        }
    };
    let settings = match (start, end, window) {
        (Some(period_start), Some(period_end), Some(window)) => Some(CampaignSettings {
            name: form.get("name").to_string(),
            selection,
            guide_ref: guide.as_ref().map(StoredGuide::label).unwrap_or_default(),
            guide_id: guide.as_ref().map(|g| g.id),
            window,
            attempts_per_day,
            attempts_total,
            lead_days,
            period_start,
            period_end,
        }),
        _ => None,
    };
    if let (Some(settings), Some(m)) = (&settings, &mandate) {
        let limits = MandateLimits {
            window: m.window(),
            period_start: parse_iso_date(&m.period_start).unwrap_or(Date::MIN),
            period_end: parse_iso_date(&m.period_end).unwrap_or(Date::MAX),
        };
        for p in settings.problems(&limits) {
            errors.add(p.field, label_of(p.field), p.message);
        }
    }
    Ok(match (settings, mandate, errors.is_empty()) {
        (Some(settings), Some(m), true) => Some((settings, m)),
        _ => None,
    })
}

/// The count for "Anzahl anzeigen" (without script), when the selection is valid.
async fn preview_form(
    state: &AppState,
    jc: i64,
    selection: &Selection,
    errors: &Errors,
) -> Result<Option<i64>, AppError> {
    Ok(if errors.is_empty() {
        let mut tx = state.db.begin_read().await?;
        Some(campaign::preview_count(&mut tx, jc, selection, today(state)).await?)
    } else {
        None
    })
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let jc = job_center_of(&ctx.user.actor)?;
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    if form.get("action") == "vorschau" {
        let count = preview_form(&state, jc, &selection, &errors).await?;
        let page = new_form(&state, &ctx, form, errors, count, None).await?;
        return Ok(page.into_response());
    }
    let Some((settings, m)) = read_settings(&state, jc, &form, selection, &mut errors).await?
    else {
        let page = new_form(&state, &ctx, form, errors, None, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let id = campaign::create(&mut tx, jc, m.id, &settings, ctx.user.actor.user_id, now).await?;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::CampaignCreate, &ctx.client)
        .record("campaign", id)
        .fields(&settings.selection.label())
        .purpose(&format!("Auftrag „{}“", m.title));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/aktionen/{id}")).into_response())
}

/// Saves a draft's changed settings.
async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let c = match owned_draft(&state, &ctx, id).await? {
        Ok(c) => c,
        Err(refused) => return Ok(refused),
    };
    let jc = c.job_center_id;
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    if form.get("action") == "vorschau" {
        let count = preview_form(&state, jc, &selection, &errors).await?;
        let page = new_form(&state, &ctx, form, errors, count, Some(&c)).await?;
        return Ok(page.into_response());
    }
    let Some((settings, m)) = read_settings(&state, jc, &form, selection, &mut errors).await?
    else {
        let page = new_form(&state, &ctx, form, errors, None, Some(&c)).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if !campaign::update(&mut tx, ctx.scope()?, c.id, m.id, &settings).await? {
        // Activated in the meantime: nothing was changed.
        tx.rollback().await?;
        return Ok(owned_draft(&state, &ctx, id)
            .await?
            .err()
            .unwrap_or_else(|| Redirect::to(&format!("/aktionen/{id}")).into_response()));
    }
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::CampaignEdit, &ctx.client)
        .record("campaign", c.id)
        .fields(&settings.selection.label())
        .purpose(&format!("Auftrag „{}“", m.title));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/aktionen/{id}?meldung=gespeichert")).into_response())
}

/// The live preview: how many customers the selection in the query takes.
async fn preview(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(form): QueryData,
) -> Result<Response, AppError> {
    let jc = job_center_of(&ctx.user.actor)?;
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    let body = if let Some(e) = errors.0.first() {
        serde_json::json!({ "count": null, "text": format!("{}: {}", e.label, e.message) })
    } else {
        let mut tx = state.db.begin_read().await?;
        let count = campaign::preview_count(&mut tx, jc, &selection, today(&state)).await?;
        serde_json::json!({ "count": count, "text": format!("Diese Auswahl umfasst heute {count} Kunden.") })
    };
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}

struct HoldRow {
    label: String,
    count: i64,
}

struct BatchView {
    b: Batch,
    letter_date: String,
    sent_on: String,
    parts: Vec<(usize, String)>,
}

struct CaseRow {
    c: CaseListing,
    reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "campaign_detail.html")]
struct DetailPage {
    layout: Layout,
    v: CampaignView,
    errors: Errors,
    notice: String,
    transitions: Vec<(&'static str, &'static str)>,
    callable: i64,
    held: Vec<HoldRow>,
    batches: Vec<BatchView>,
    pending_letters: bool,
    cases: Vec<CaseRow>,
    search: String,
    today_hint: String,
}

async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    c: Campaign,
    errors: Errors,
    search: &str,
    notice: String,
) -> Result<DetailPage, AppError> {
    let today = today(state);
    let mut tx = state.db.begin().await?;
    let counts = campaign::callable_counts(&mut tx, &c, today).await?;
    let batches = letters::batches(&mut tx, ctx.scope()?, c.id)
        .await?
        .into_iter()
        .map(|b| BatchView {
            letter_date: iso_to_de(&b.letter_date),
            sent_on: b.sent_on.as_deref().map(iso_to_de).unwrap_or_default(),
            parts: file_names(b.id, usize::try_from(b.letter_count).unwrap_or(0))
                .into_iter()
                .enumerate()
                .map(|(i, name)| (i + 1, name))
                .collect(),
            b,
        })
        .collect();
    let pending_letters = c.state() != CampaignState::Draft
        && letters::pending_count(&mut tx, ctx.scope()?, c.id).await? > 0;
    let cases = campaign::cases(&mut tx, &c, search, 50, 0).await?;
    if !cases.is_empty() {
        // Names of customers are shown: a read of customer data.
        let event = AuditEvent::by(&ctx.user.actor, AuditAction::CustomerList, &ctx.client)
            .record("campaign", c.id)
            .fields(&format!(
                "{} Fälle: Kundennummer, Name, Stand der Vorabinformation",
                cases.len()
            ))
            .purpose(&format!("Aktion „{}“", c.name));
        audit::append(&mut tx, &event, state.clock.now()).await?;
    }
    tx.commit().await?;
    let cases = cases
        .into_iter()
        .map(|k| CaseRow {
            reason: k
                .hold(&c, today)
                .map_or_else(|| "anrufbereit".to_string(), |h| h.label()),
            c: k,
        })
        .collect();
    let transitions = CampaignState::ALL
        .iter()
        .filter_map(|to| c.state().transition(*to).map(|label| (to.code(), label)))
        .collect();
    Ok(DetailPage {
        layout: Layout::new(&ctx.user, format!("Aktion: {}", c.name), "/aktionen"),
        errors,
        notice,
        transitions,
        callable: counts.callable,
        held: counts
            .held
            .into_iter()
            .map(|(h, count)| HoldRow {
                label: h.label(),
                count,
            })
            .collect(),
        batches,
        pending_letters,
        cases,
        search: search.to_string(),
        today_hint: format!("TT.MM.JJJJ, z. B. {}", format_de_date(today)),
        v: CampaignView::new(c),
    })
}

async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    QueryData(query): QueryData,
) -> Result<DetailPage, AppError> {
    let c = owned(&state, &ctx.user.actor, id).await?;
    let notice = match query.get("meldung") {
        "stapel" => {
            "Der Briefstapel wurde erstellt. Erzeugen Sie die Druckdateien als ZIP-Archiv oder laden Sie einzelne PDF-Teile herunter."
        }
        "versandt" => "Der Stapel ist als versandt markiert; die Wartefrist läuft.",
        "aktiviert" => "Die Aktion ist aktiv; die Auswahl ist als Fälle festgeschrieben.",
        "gespeichert" => "Die Änderungen am Entwurf sind gespeichert.",
        _ => "",
    };
    detail_page(
        &state,
        &ctx,
        c,
        Errors::default(),
        query.get("suche"),
        notice.into(),
    )
    .await
}

async fn change_state(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let c = owned(&state, &ctx.user.actor, id).await?;
    let from = c.state();
    // The page's buttons send a known state; anything else is no user's input.
    let to = CampaignState::parse(form.get("state"))
        .ok_or(AppError::BadRequest("Unbekannter Status."))?;
    let mut errors = Errors::default();
    match to {
        to if from.transition(to).is_none() => errors.add(
            "state",
            "Status",
            format!(
                "Von „{}“ nach „{}“ geht es nicht.",
                from.label(),
                to.label()
            ),
        ),
        CampaignState::Active if c.mandate_state != "active" => errors.add(
            "state",
            "Status",
            "Der Auftrag dieser Aktion ist nicht aktiv.",
        ),
        _ => {}
    }
    if !errors.is_empty() {
        let page = detail_page(&state, &ctx, c, errors, "", String::new()).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let fields = if from == CampaignState::Draft && to == CampaignState::Active {
        match campaign::activate(&mut tx, &c, today(&state), now).await? {
            Some(cases) => format!("Entwurf → aktiv, {cases} Fälle festgeschrieben"),
            None => return Ok(Redirect::to(&format!("/aktionen/{id}")).into_response()),
        }
    } else {
        if !campaign::set_state(&mut tx, ctx.scope()?, id, from, to).await? {
            return Ok(Redirect::to(&format!("/aktionen/{id}")).into_response());
        }
        format!("{} → {}", from.label(), to.label())
    };
    let event = AuditEvent::by(
        &ctx.user.actor,
        AuditAction::CampaignStateChange,
        &ctx.client,
    )
    .record("campaign", id)
    .fields(&fields);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    let suffix = if to == CampaignState::Active && from == CampaignState::Draft {
        "?meldung=aktiviert"
    } else {
        ""
    };
    Ok(Redirect::to(&format!("/aktionen/{id}{suffix}")).into_response())
}

async fn create_batch(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let c = owned(&state, &ctx.user.actor, id).await?;
    if c.state() == CampaignState::Draft {
        let mut errors = Errors::default();
        errors.add(
            "letters",
            "Vorabinformationen",
            "Erst nach der Aktivierung gibt es Fälle, denen ein Brief geschrieben werden kann.",
        );
        let page = detail_page(&state, &ctx, c, errors, "", String::new()).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let created = create_advance_batch(
        &mut tx,
        ctx.scope()?,
        c.id,
        today(&state),
        Some(ctx.user.actor.user_id),
        now,
    )
    .await?;
    let Some((batch_id, count)) = created else {
        return Ok(Redirect::to(&format!("/aktionen/{id}")).into_response());
    };
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::LetterBatchCreate, &ctx.client)
        .record("letter_batch", batch_id)
        .fields(&format!(
            "{count} Vorabinformationen: Name, Anschrift, Kundennummer, BG-Nummer"
        ))
        .purpose(&format!("Aktion „{}“", c.name));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/aktionen/{id}?meldung=stapel")).into_response())
}

/// The batch if it belongs to the campaign (which the actor owns).
pub(crate) async fn owned_batch(
    state: &AppState,
    actor: &Actor,
    ids: &[i64],
) -> Result<(Campaign, Batch), AppError> {
    let &[id, batch_id, ..] = ids else {
        return Err(AppError::NotFound);
    };
    let c = owned(state, actor, id).await?;
    let mut tx = state.db.begin_read().await?;
    let scope = outreach_store::RecordScope::JobCenter(c.job_center_id);
    match letters::batch_by_id(&mut tx, scope, batch_id).await? {
        Some(b) if b.campaign_id == c.id => Ok((c, b)),
        _ => Err(AppError::NotFound),
    }
}

/// Records that the actor reads a batch's letters (`what`).
async fn audit_print(
    state: &AppState,
    ctx: &Ctx,
    c: &Campaign,
    b: &Batch,
    what: &str,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await?;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::LetterPrint, &ctx.client)
        .record("letter_batch", b.id)
        .fields(what)
        .purpose(&format!("Vorabinformation zur Aktion „{}“", c.name));
    audit::append(&mut tx, &event, state.clock.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// One PDF part of a batch, typeset now from the current data.
async fn batch_pdf(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let (c, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    let part = ids.get(2).copied().unwrap_or(0);
    let names = file_names(b.id, usize::try_from(b.letter_count).unwrap_or(0));
    let Some((index, name)) = usize::try_from(part - 1)
        .ok()
        .and_then(|i| names.get(i).map(|n| (i, n.clone())))
    else {
        return Err(AppError::NotFound);
    };
    audit_print(
        &state,
        &ctx,
        &c,
        &b,
        &format!("PDF Teil {part}: Name, Anschrift, Kundennummer, BG-Nummer, Prüfcode"),
    )
    .await?;
    let letter_date = parse_iso_date(&b.letter_date).unwrap_or_else(|| today(&state));
    let from = (index * LETTERS_PER_FILE) as i64;
    let mut tx = state.db.begin_read().await?;
    let rows = letters::batch_advance_range(
        &mut tx,
        ctx.scope()?,
        b.id,
        from,
        from + LETTERS_PER_FILE as i64,
    )
    .await?;
    tx.commit().await?;
    let chunk: Vec<AdvanceLetter> = rows
        .iter()
        .map(|row| advance_letter(row, letter_date))
        .collect();
    let pdf = crate::download::typeset(move |renderer| renderer.advance_letters(&chunk)).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        pdf,
    )
        .into_response())
}

async fn batch_manifest(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let (c, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    audit_print(&state, &ctx, &c, &b, "Manifest: Kundennummer, Datei, Seite").await?;
    let mut tx = state.db.begin_read().await?;
    let numbers = letters::batch_customer_numbers(&mut tx, ctx.scope()?, b.id).await?;
    tx.commit().await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"vorabinformation-stapel-{}-manifest.csv\"",
                    b.id
                ),
            ),
        ],
        manifest(b.id, &numbers),
    )
        .into_response())
}

async fn batch_sent(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
    form: FormData,
) -> Result<Response, AppError> {
    let (c, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    let mut errors = Errors::default();
    let field = format!("sent_on_{}", b.id);
    let sent_on = date(&form, &mut errors, &field, "Versanddatum");
    if let Some(d) = sent_on
        && d > today(&state)
    {
        errors.add(
            &field,
            "Versanddatum",
            "Das Versanddatum liegt in der Zukunft.",
        );
    }
    let Some(sent_on) = sent_on.filter(|_| errors.is_empty()) else {
        let page = detail_page(&state, &ctx, c, errors, "", String::new()).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if letters::mark_sent(
        &mut tx,
        ctx.scope()?,
        b.id,
        sent_on,
        Some(ctx.user.actor.user_id),
    )
    .await?
    {
        let event = AuditEvent::by(&ctx.user.actor, AuditAction::LetterBatchSent, &ctx.client)
            .record("letter_batch", b.id)
            .fields(&format!("Versand am {}", format_de_date(sent_on)))
            .purpose(&format!("Aktion „{}“", c.name));
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
    }
    Ok(Redirect::to(&format!("/aktionen/{}?meldung=versandt", c.id)).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "campaign_case.html")]
struct CasePage {
    layout: Layout,
    campaign: Campaign,
    k: CaseListing,
    reason: String,
    letter: String,
    objection_on: String,
    errors: Errors,
    today_hint: String,
}

async fn owned_case(
    state: &AppState,
    ctx: &Ctx,
    ids: &[i64],
) -> Result<(Campaign, CaseListing), AppError> {
    let &[id, case_id, ..] = ids else {
        return Err(AppError::NotFound);
    };
    let c = owned(state, &ctx.user.actor, id).await?;
    let mut tx = state.db.begin_read().await?;
    let k = campaign::case_by_id(&mut tx, &c, case_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((c, k))
}

async fn case_view(
    state: &AppState,
    ctx: &Ctx,
    c: Campaign,
    k: CaseListing,
    errors: Errors,
) -> Result<CasePage, AppError> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::CustomerRead, &ctx.client)
        .record("customer", k.customer_id)
        .fields("Kundennummer, Name, Stand der Vorabinformation, Widerspruch")
        .purpose(&format!("Aktion „{}“", c.name));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    let today = today(state);
    Ok(CasePage {
        layout: Layout::new(
            &ctx.user,
            format!("Fall {} – {}", k.customer_number, c.name),
            "/aktionen",
        ),
        reason: k
            .hold(&c, today)
            .map_or_else(|| "anrufbereit".to_string(), |h| h.label()),
        letter: match (&k.letter_sent_on, k.letter_generated) {
            (Some(sent), _) => format!("versandt am {}", iso_to_de(sent)),
            (None, true) => "erstellt, noch nicht versandt".into(),
            (None, false) => "noch nicht erstellt".into(),
        },
        objection_on: k.objection_on.as_deref().map(iso_to_de).unwrap_or_default(),
        today_hint: format!("TT.MM.JJJJ, z. B. {}", format_de_date(today)),
        campaign: c,
        k,
        errors,
    })
}

async fn case_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<CasePage, AppError> {
    let (c, k) = owned_case(&state, &ctx, &ids).await?;
    case_view(&state, &ctx, c, k, Errors::default()).await
}

async fn objection(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
    form: FormData,
) -> Result<Response, AppError> {
    let (c, k) = owned_case(&state, &ctx, &ids).await?;
    let mut errors = Errors::default();
    let received = date(
        &form,
        &mut errors,
        "objection_on",
        "Widerspruch eingegangen am",
    );
    if let Some(d) = received
        && d > today(&state)
    {
        errors.add(
            "objection_on",
            "Widerspruch eingegangen am",
            "Das Datum liegt in der Zukunft.",
        );
    }
    if k.final_disposition.is_some() {
        errors.add(
            "objection_on",
            "Widerspruch eingegangen am",
            "Dieser Fall ist bereits abgeschlossen.",
        );
    }
    let Some(received) = received.filter(|_| errors.is_empty()) else {
        let page = case_view(&state, &ctx, c, k, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    if campaign::record_objection(
        &mut tx,
        ctx.scope()?,
        k.id,
        received,
        ctx.user.actor.user_id,
        now,
    )
    .await?
    {
        let event = AuditEvent::by(&ctx.user.actor, AuditAction::ObjectionRecord, &ctx.client)
            .record("customer", k.customer_id)
            .fields(&format!(
                "Widerspruch vom {}; Fall {} abgeschlossen: Widerspruch vor Anruf",
                format_de_date(received),
                k.id
            ))
            .purpose(&format!("Aktion „{}“", c.name));
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
    }
    Ok(Redirect::to(&format!("/aktionen/{}/faelle/{}", c.id, k.id)).into_response())
}
