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
use outreach_app::campaigns::{
    self, Batch, BatchCreation, Campaign, CampaignInput, CaseListing, Editable, Mandate,
    ObjectionProblem, Overview, Refusal, Saved, SentProblem, StateChange, StateRefusal,
    StoredGuide,
};
use outreach_core::access::{Action, Actor};
use outreach_core::calling::{CallingWindow, WEEKDAYS};
use outreach_core::campaign::{CampaignState, Selection, parse_postcodes};
use outreach_core::customer::Status;
use outreach_core::date::{berlin_date, format_de_date, iso_to_de, parse_de_date};

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
    let campaigns = campaigns::list(&state.db, &ctx.user.actor)
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

/// The campaign form: new (`editing` None) or a draft's.
async fn new_form(
    state: &AppState,
    ctx: &Ctx,
    form: FormData,
    errors: Errors,
    preview: Option<i64>,
    editing: Option<&Campaign>,
) -> Result<NewPage, AppError> {
    let choices = campaigns::form_choices(&state.db, &ctx.user.actor).await?;
    let guides = choices.guides;
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
        mandates: choices.mandates,
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
    let c = match campaigns::editable(&state.db, &ctx.user.actor, id).await? {
        Editable::Draft(c) => return Ok(Ok(c)),
        Editable::Fixed(c) => c,
    };
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

/// What the campaign form asks for, as far as it can be read; problems of
/// reading named in `errors`.
fn read_input(form: &FormData, selection: Selection, errors: &mut Errors) -> CampaignInput {
    let attempts_per_day = number(form, errors, "attempts_per_day", "Versuche pro Tag");
    let attempts_total = number(form, errors, "attempts_total", "Versuche insgesamt");
    let lead_days = number(form, errors, "lead_days", "Wartefrist nach Versand");
    let period_start = date(form, errors, "period_start", "Beginn des Anrufzeitraums");
    let period_end = date(form, errors, "period_end", "Ende des Anrufzeitraums");
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
    CampaignInput {
        name: form.get("name").to_string(),
        mandate_id: form.get("mandate").parse::<i64>().ok(),
        guide_id: form.get("guide").parse::<i64>().ok(),
        selection,
        attempts_per_day,
        attempts_total,
        lead_days,
        period_start,
        period_end,
        window,
        readable: errors.is_empty(),
    }
}

/// The form's problems in the order the form asks: what the selection could
/// not read (`read_first`), the mandate and the guide, what the rest could
/// not read (`read_then`), then the rules.
fn refused(read_first: Errors, refusal: Refusal, read_then: Errors) -> Errors {
    let mut errors = read_first;
    if refusal.no_mandate {
        errors.add(
            "mandate",
            "Auftrag",
            "Bitte wählen Sie einen aktiven Auftrag aus.",
        );
    }
    if refusal.no_guide {
        errors.add(
            "guide",
            "Gesprächsleitfaden",
            "Bitte wählen Sie eine Version des Gesprächsleitfadens aus.",
        );
    }
    errors.0.extend(read_then.0);
    for p in refusal.problems {
        errors.add(p.field, label_of(p.field), p.message);
    }
    errors
}

/// The count for "Anzahl anzeigen" (without script), when the selection is valid.
async fn preview_form(
    state: &AppState,
    ctx: &Ctx,
    selection: &Selection,
    errors: &Errors,
) -> Result<Option<i64>, AppError> {
    Ok(if errors.is_empty() {
        Some(campaigns::preview_count(&state.db, &ctx.user.actor, selection, today(state)).await?)
    } else {
        None
    })
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    if form.get("action") == "vorschau" {
        let count = preview_form(&state, &ctx, &selection, &errors).await?;
        let page = new_form(&state, &ctx, form, errors, count, None).await?;
        return Ok(page.into_response());
    }
    let mut read_then = Errors::default();
    let mut input = read_input(&form, selection, &mut read_then);
    input.readable = errors.is_empty() && read_then.is_empty();
    match campaigns::create(&state.db, ctx.caller(), input, state.clock.now()).await? {
        Saved::Saved(id) => Ok(Redirect::to(&format!("/aktionen/{id}")).into_response()),
        Saved::Refused(refusal) => {
            let errors = refused(errors, refusal, read_then);
            let page = new_form(&state, &ctx, form, errors, None, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Saved::NotDraft => Err(AppError::Internal("a new campaign is no draft".into())),
    }
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
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    if form.get("action") == "vorschau" {
        let count = preview_form(&state, &ctx, &selection, &errors).await?;
        let page = new_form(&state, &ctx, form, errors, count, Some(&c)).await?;
        return Ok(page.into_response());
    }
    let mut read_then = Errors::default();
    let mut input = read_input(&form, selection, &mut read_then);
    input.readable = errors.is_empty() && read_then.is_empty();
    match campaigns::update(&state.db, ctx.caller(), &c, input, state.clock.now()).await? {
        Saved::Saved(_) => {
            Ok(Redirect::to(&format!("/aktionen/{id}?meldung=gespeichert")).into_response())
        }
        Saved::Refused(refusal) => {
            let errors = refused(errors, refusal, read_then);
            let page = new_form(&state, &ctx, form, errors, None, Some(&c)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        // Activated in the meantime: nothing was changed.
        Saved::NotDraft => Ok(owned_draft(&state, &ctx, id)
            .await?
            .err()
            .unwrap_or_else(|| Redirect::to(&format!("/aktionen/{id}")).into_response())),
    }
}

/// The live preview: how many customers the selection in the query takes.
async fn preview(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(form): QueryData,
) -> Result<Response, AppError> {
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    let body = if let Some(e) = errors.0.first() {
        serde_json::json!({ "count": null, "text": format!("{}: {}", e.label, e.message) })
    } else {
        let count =
            campaigns::preview_count(&state.db, &ctx.user.actor, &selection, today(&state)).await?;
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
    let Overview {
        counts,
        batches,
        pending_letters,
        cases,
    } = campaigns::overview(
        &state.db,
        ctx.caller(),
        &c,
        search,
        today,
        state.clock.now(),
    )
    .await?;
    let batches = batches
        .into_iter()
        .map(|b| BatchView {
            letter_date: iso_to_de(&b.letter_date),
            sent_on: b.sent_on.as_deref().map(iso_to_de).unwrap_or_default(),
            parts: campaigns::part_names(&b)
                .into_iter()
                .enumerate()
                .map(|(i, name)| (i + 1, name))
                .collect(),
            b,
        })
        .collect();
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
    let c = campaigns::get(&state.db, &ctx.user.actor, id).await?;
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
    let to = CampaignState::parse(form.get("state"));
    let now = state.clock.now();
    let changed =
        campaigns::change_state(&state.db, ctx.caller(), id, to, today(&state), now).await?;
    let (c, refusal) = match changed {
        StateChange::Changed { activated: true } => {
            return Ok(Redirect::to(&format!("/aktionen/{id}?meldung=aktiviert")).into_response());
        }
        StateChange::Changed { activated: false } | StateChange::Unchanged => {
            return Ok(Redirect::to(&format!("/aktionen/{id}")).into_response());
        }
        StateChange::Refused(c, refusal) => (c, refusal),
        // The page's buttons send a known state; anything else is no user's input.
        StateChange::NoState => return Err(AppError::BadRequest("Unbekannter Status.")),
    };
    let mut errors = Errors::default();
    let message = match refusal {
        StateRefusal::NoTransition { from, to } => format!(
            "Von „{}“ nach „{}“ geht es nicht.",
            from.label(),
            to.label()
        ),
        StateRefusal::MandateInactive => "Der Auftrag dieser Aktion ist nicht aktiv.".into(),
    };
    errors.add("state", "Status", message);
    let page = detail_page(&state, &ctx, c, errors, "", String::new()).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

async fn create_batch(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    match campaigns::create_batch(&state.db, ctx.caller(), id, today(&state), now).await? {
        BatchCreation::Created => {
            Ok(Redirect::to(&format!("/aktionen/{id}?meldung=stapel")).into_response())
        }
        BatchCreation::Nothing => Ok(Redirect::to(&format!("/aktionen/{id}")).into_response()),
        BatchCreation::Draft(c) => {
            let mut errors = Errors::default();
            errors.add(
                "letters",
                "Vorabinformationen",
                "Erst nach der Aktivierung gibt es Fälle, denen ein Brief geschrieben werden kann.",
            );
            let page = detail_page(&state, &ctx, c, errors, "", String::new()).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
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
    Ok(campaigns::batch(&state.db, actor, id, batch_id).await?)
}

/// One PDF part of a batch, typeset now from the current data.
async fn batch_pdf(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let &[id, batch_id, part, ..] = ids.as_slice() else {
        return Err(AppError::NotFound);
    };
    let (name, pdf) = campaigns::batch_part(
        &state.db,
        ctx.caller(),
        (id, batch_id, part),
        state.clock.now(),
    )
    .await?;
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
    let &[id, batch_id, ..] = ids.as_slice() else {
        return Err(AppError::NotFound);
    };
    let csv =
        campaigns::batch_manifest(&state.db, ctx.caller(), id, batch_id, state.clock.now()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"vorabinformation-stapel-{batch_id}-manifest.csv\""),
            ),
        ],
        csv,
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
    if let Some(sent_on) = date(&form, &mut errors, &field, "Versanddatum") {
        let now = state.clock.now();
        match campaigns::mark_sent(
            &state.db,
            ctx.caller(),
            (&c, &b),
            sent_on,
            today(&state),
            now,
        )
        .await?
        {
            Ok(()) => {
                return Ok(
                    Redirect::to(&format!("/aktionen/{}?meldung=versandt", c.id)).into_response(),
                );
            }
            Err(SentProblem::InTheFuture) => errors.add(
                &field,
                "Versanddatum",
                "Das Versanddatum liegt in der Zukunft.",
            ),
        }
    }
    let page = detail_page(&state, &ctx, c, errors, "", String::new()).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
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
    Ok(campaigns::case(&state.db, &ctx.user.actor, id, case_id).await?)
}

async fn case_view(
    state: &AppState,
    ctx: &Ctx,
    c: Campaign,
    k: CaseListing,
    errors: Errors,
) -> Result<CasePage, AppError> {
    campaigns::record_case_read(&state.db, ctx.caller(), (&c, &k), state.clock.now()).await?;
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
    let label = "Widerspruch eingegangen am";
    let received = date(&form, &mut errors, "objection_on", label);
    let now = state.clock.now();
    let recorded = campaigns::record_objection(
        &state.db,
        ctx.caller(),
        (&c, &k),
        received,
        today(&state),
        now,
    )
    .await?;
    match recorded {
        Ok(()) if errors.is_empty() => {
            return Ok(Redirect::to(&format!("/aktionen/{}/faelle/{}", c.id, k.id)).into_response());
        }
        Ok(()) => {}
        Err(problems) => {
            for problem in problems {
                let message = match problem {
                    ObjectionProblem::InTheFuture => "Das Datum liegt in der Zukunft.",
                    ObjectionProblem::Closed => "Dieser Fall ist bereits abgeschlossen.",
                };
                errors.add("objection_on", label, message);
            }
        }
    }
    let page = case_view(&state, &ctx, c, k, errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
