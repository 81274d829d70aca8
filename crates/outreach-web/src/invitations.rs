//! Invitations to a personal appointment, issued by the job center from a
//! final case of the inbox: the pAp (or the administration) picks purpose,
//! date, time, place and room, contact person and documents; the letter is
//! typeset, its content recorded, and the creation audited. Letters of a
//! day print as one PDF. Nothing is sent automatically.

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
use outreach_app::invitations::{self, InvitationForm, Slot, SlotInput};
use outreach_core::access::Action;
use outreach_core::date::{berlin_date, format_de_date, parse_de_date, parse_iso_date};
use outreach_core::invitation::{FieldProblem, InvitationInput, Purpose};

pub fn routes() -> Routes {
    let view = Access::Action(Action::ViewResults);
    Routes::new()
        .get("/ergebnisse/{id}/einladung", view, form)
        .post("/ergebnisse/{id}/einladung", view, create)
        .get("/einladungen", view, day)
        .get("/einladungen/tag.pdf", view, day_pdf)
        .get("/einladungen/{id}/brief.pdf", view, letter_pdf)
        .get("/termine", view, slots_page)
        .post("/termine", view, add_slot)
        .post("/termine/{id}/entfernen", view, remove_slot)
}

#[derive(Template, WebTemplate)]
#[template(path = "invitations/new.html")]
struct FormPage {
    layout: Layout,
    case_id: i64,
    customer_number: String,
    name: String,
    purposes: Vec<(&'static str, &'static str)>,
    input: InvitationInput,
    /// The user's free slots: (id, label).
    slots: Vec<(i64, String)>,
    slot: String,
    errors: Errors,
    letter_date: String,
}

async fn load_form(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    (input, slot): (Option<InvitationInput>, &str),
    errors: Errors,
) -> Result<FormPage, AppError> {
    let today = berlin_date(state.clock.now());
    let InvitationForm {
        customer,
        job_center: jc,
        free_slots,
    } = invitations::form(&state.db, &ctx.user.actor, id, today).await?;
    let input = input.unwrap_or_else(|| InvitationInput {
        place: format!("{}, {}, {} {}", jc.name, jc.street, jc.postcode, jc.city),
        contact: ctx.user.display_name.clone(),
        time: "09:00".into(),
        documents: "Personalausweis oder Reisepass".into(),
        ..InvitationInput::default()
    });
    Ok(FormPage {
        layout: Layout::new(
            &ctx.user,
            format!("Einladung für Kunde {}", customer.customer_number),
            "/ergebnisse",
        ),
        case_id: id,
        customer_number: customer.customer_number.clone(),
        name: match &customer.first_name {
            Some(f) => format!("{f} {}", customer.last_name),
            None => customer.last_name.clone(),
        },
        purposes: Purpose::ALL.iter().map(|p| (p.code(), p.label())).collect(),
        input,
        slots: free_slots.iter().map(|s| (s.id, slot_label(s))).collect(),
        slot: slot.to_string(),
        errors,
        letter_date: format_de_date(today),
    })
}

async fn form(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<FormPage, AppError> {
    load_form(&state, &ctx, id, (None, ""), Errors::default()).await
}

fn input_of(form: &FormData) -> InvitationInput {
    InvitationInput {
        purpose: form.get("zweck").to_string(),
        date: form.get("datum").to_string(),
        time: form.get("uhrzeit").to_string(),
        place: form.get("ort").to_string(),
        room: form.get("raum").to_string(),
        contact: form.get("ansprechperson").to_string(),
        contact_phone: form.get("telefon").to_string(),
        documents: form.get("unterlagen").to_string(),
    }
}

fn errors_of(problems: Vec<FieldProblem>) -> Errors {
    let mut errors = Errors::default();
    for (field, label, message) in problems {
        errors.add(field, label, message);
    }
    errors
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let slot = form.get("termin").parse::<i64>().ok();
    let issued = invitations::issue(
        &state.db,
        ctx.caller(),
        id,
        input_of(&form),
        slot,
        state.clock.now(),
    )
    .await?;
    match issued {
        Ok(_) => Ok(Redirect::to(&format!("/ergebnisse/{id}?meldung=einladung")).into_response()),
        Err((input, problems)) => {
            let page = load_form(
                &state,
                &ctx,
                id,
                (Some(input), form.get("termin")),
                errors_of(problems),
            )
            .await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn letter_pdf(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let pdf = invitations::letter(&state.db, ctx.caller(), id, state.clock.now()).await?;
    Ok(crate::download::attachment(
        pdf,
        "application/pdf",
        &format!("einladung-{id}.pdf"),
    ))
}

struct DayRow {
    id: i64,
    customer_number: String,
    name: String,
    when: String,
    purpose: &'static str,
    case_id: Option<i64>,
}

#[derive(Template, WebTemplate)]
#[template(path = "invitations/day.html")]
struct DayPage {
    layout: Layout,
    day: String,
    rows: Vec<DayRow>,
    error: String,
}

/// The day asked for (`tag`, TT.MM.JJJJ; default today), or a German error.
fn day_of(state: &AppState, query: &FormData) -> Result<jiff::civil::Date, String> {
    match query.get("tag") {
        "" => Ok(berlin_date(state.clock.now())),
        raw => parse_de_date(raw).map_err(|_| {
            "Bitte geben Sie den Tag als TT.MM.JJJJ an, zum Beispiel 20.01.2027.".into()
        }),
    }
}

async fn day(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    let (date, error) = match day_of(&state, &query) {
        Ok(d) => (d, String::new()),
        Err(e) => (berlin_date(state.clock.now()), e),
    };
    let rows = invitations::of_day(&state.db, &ctx.user.actor, date).await?;
    let page = DayPage {
        layout: Layout::new(&ctx.user, "Einladungen", "/ergebnisse"),
        day: if error.is_empty() {
            format_de_date(date)
        } else {
            query.get("tag").to_string()
        },
        rows: rows
            .into_iter()
            .map(|r| DayRow {
                id: r.id,
                name: match &r.customer.first_name {
                    Some(f) => format!("{}, {f}", r.customer.last_name),
                    None => r.customer.last_name.clone(),
                },
                when: format!(
                    "{} {} Uhr",
                    parse_iso_date(&r.appointment_on)
                        .map(format_de_date)
                        .unwrap_or_default(),
                    r.appointment_time
                ),
                purpose: Purpose::parse(&r.purpose).map_or("", Purpose::label),
                case_id: r.case_id,
                customer_number: r.customer.customer_number.to_string(),
            })
            .collect(),
        error,
    };
    let status = if page.error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, page).into_response())
}

async fn day_pdf(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    let date = day_of(&state, &query)
        .map_err(|_| AppError::BadRequest("Der Tag ist kein Datum im Format TT.MM.JJJJ."))?;
    let Some(pdf) =
        invitations::day_letters(&state.db, ctx.caller(), date, state.clock.now()).await?
    else {
        return Ok(Redirect::to(&format!(
            "/einladungen?tag={}&meldung=keine",
            format_de_date(date)
        ))
        .into_response());
    };
    Ok(crate::download::attachment(
        pdf,
        "application/pdf",
        &format!("einladungen-{date}.pdf"),
    ))
}

fn slot_label(s: &Slot) -> String {
    format!(
        "{}, {} Uhr, {}, Raum {}",
        parse_iso_date(&s.slot_on)
            .map(format_de_date)
            .unwrap_or_default(),
        s.slot_time,
        s.place,
        s.room
    )
}

struct SlotRow {
    id: i64,
    label: String,
    taken: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "invitations/slots.html")]
struct SlotsPage {
    layout: Layout,
    slots: Vec<SlotRow>,
    date: String,
    time: String,
    place: String,
    room: String,
    errors: Errors,
    notice: &'static str,
}

async fn slots_view(
    state: &AppState,
    ctx: &Ctx,
    form: Option<&FormData>,
    errors: Errors,
    notice: &'static str,
) -> Result<SlotsPage, AppError> {
    let today = berlin_date(state.clock.now());
    let (slots, jc) = invitations::slots(&state.db, &ctx.user.actor, today).await?;
    let get = |name: &str| form.map(|f| f.get(name).to_string());
    Ok(SlotsPage {
        layout: Layout::new(&ctx.user, "Meine Termine für Einladungen", "/termine"),
        slots: slots
            .iter()
            .map(|s| SlotRow {
                id: s.id,
                label: slot_label(s),
                taken: s.invitation_id.is_some(),
            })
            .collect(),
        date: get("datum").unwrap_or_default(),
        time: get("uhrzeit").unwrap_or_else(|| "09:00".into()),
        place: get("ort").unwrap_or_else(|| {
            jc.map(|jc| format!("{}, {}, {} {}", jc.name, jc.street, jc.postcode, jc.city))
                .unwrap_or_default()
        }),
        room: get("raum").unwrap_or_default(),
        errors,
        notice,
    })
}

async fn slots_page(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<SlotsPage, AppError> {
    let notice = match query.get("meldung") {
        "angelegt" => "Der Termin ist angelegt.",
        "entfernt" => "Der Termin ist entfernt.",
        _ => "",
    };
    slots_view(&state, &ctx, None, Errors::default(), notice).await
}

async fn add_slot(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let input = SlotInput {
        date: form.get("datum"),
        time: form.get("uhrzeit"),
        place: form.get("ort"),
        room: form.get("raum"),
    };
    match invitations::add_slot(&state.db, &ctx.user.actor, &input, state.clock.now()).await? {
        Ok(()) => Ok(Redirect::to("/termine?meldung=angelegt").into_response()),
        Err(problems) => {
            let page = slots_view(&state, &ctx, Some(&form), errors_of(problems), "").await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn remove_slot(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    invitations::remove_slot(&state.db, &ctx.user.actor, id).await?;
    Ok(Redirect::to("/termine?meldung=entfernt").into_response())
}
