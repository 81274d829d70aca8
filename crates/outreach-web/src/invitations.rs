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
use jiff::civil::Time;
use outreach_core::access::{Action, Role, customer_scope};
use outreach_core::audit::AuditAction;
use outreach_core::date::{berlin_date, format_de_date, parse_de_date, parse_iso_date};
use outreach_core::invitation::{self, Appointment, InvitationInput, Purpose};
use outreach_letters::invitation::{Addressing, INVITATION_TEMPLATE_VERSION, InvitationLetter};
use outreach_letters::{Organisation, Recipient};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::handover;
use outreach_store::invitation::{self as store, NewInvitation, StoredInvitation};
use outreach_store::org::{self, JobCenter};

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

fn job_center_id(ctx: &Ctx) -> Result<i64, AppError> {
    customer_scope(&ctx.user.actor)
        .and_then(|_| ctx.user.actor.home.job_center())
        .ok_or(AppError::Forbidden)
}

/// A case manager sees the invitations they issued; the administration all.
fn issued_by(ctx: &Ctx) -> Option<i64> {
    (ctx.user.actor.role != Role::JobcenterAdmin).then_some(ctx.user.actor.user_id)
}

fn organisation(jc: &JobCenter) -> Organisation {
    Organisation {
        name: jc.name.clone(),
        street: jc.street.clone(),
        postcode: jc.postcode.clone(),
        city: jc.city.clone(),
        phone: jc.phone.clone(),
        email: jc.email.clone(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "invitation_new.html")]
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
    let scope = customer_scope(&ctx.user.actor).ok_or(AppError::Forbidden)?;
    let jc_id = job_center_id(ctx)?;
    let mut tx = state.db.read().await?;
    let d = handover::get(&mut tx, &scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let jc = org::job_center(&mut tx, jc_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let today = berlin_date(state.clock.now());
    let slots = store::slots(&mut tx, ctx.user.actor.user_id, &today.to_string())
        .await?
        .into_iter()
        .filter(|s| s.invitation_id.is_none())
        .map(|s| {
            let label = slot_label(&s);
            (s.id, label)
        })
        .collect();
    tx.commit().await?;
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
            format!("Einladung für Kunde {}", d.item.customer_number),
            "/ergebnisse",
        ),
        case_id: id,
        customer_number: d.item.customer_number.clone(),
        name: match &d.item.first_name {
            Some(f) => format!("{f} {}", d.item.last_name),
            None => d.item.last_name.clone(),
        },
        purposes: Purpose::ALL.iter().map(|p| (p.code(), p.label())).collect(),
        input,
        slots,
        slot: slot.to_string(),
        errors,
        letter_date: format_de_date(berlin_date(state.clock.now())),
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

fn addressing(s: &StoredInvitation, jc: &JobCenter) -> Addressing {
    Addressing {
        customer_number: s.customer_number.clone(),
        bg_number: s.bg_number.clone(),
        recipient: Recipient {
            salutation: s.salutation.clone().unwrap_or_default(),
            first_name: s.first_name.clone().unwrap_or_default(),
            last_name: s.last_name.clone(),
            street: s.street.clone().unwrap_or_default(),
            house_number: s.house_number.clone().unwrap_or_default(),
            postcode: s.postcode.clone().unwrap_or_default(),
            city: s.city.clone().unwrap_or_default(),
        },
        job_center: organisation(jc),
        dpo_contact: jc.dpo_contact.clone(),
        supervisory_authority: jc.supervisory_authority.clone(),
    }
}

/// The letter of a stored invitation, exactly as it was issued.
fn letter_of(s: &StoredInvitation, jc: &JobCenter) -> Result<InvitationLetter, AppError> {
    let broken = || AppError::Internal(format!("invitation {} unreadable", s.id));
    let appointment = Appointment {
        purpose: Purpose::parse(&s.purpose).ok_or_else(broken)?,
        date: parse_iso_date(&s.appointment_on).ok_or_else(broken)?,
        time: s.appointment_time.parse::<Time>().map_err(|_| broken())?,
        place: s.place.clone(),
        room: s.room.clone(),
        contact: s.contact.clone(),
        contact_phone: s.contact_phone.clone(),
        documents: s
            .documents
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    };
    let letter_date = parse_iso_date(&s.letter_date).ok_or_else(broken)?;
    InvitationLetter::new(&appointment, letter_date, addressing(s, jc))
        .map_err(|e| AppError::Internal(e.to_string()))
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let scope = customer_scope(&ctx.user.actor).ok_or(AppError::Forbidden)?;
    let jc_id = job_center_id(&ctx)?;
    let now = state.clock.now();
    let letter_date = berlin_date(now);
    let mut input = input_of(&form);
    // A free slot of the user's own gives date, time, place and room.
    let slot_choice = form.get("termin").parse::<i64>().ok();
    let slot = match slot_choice {
        Some(slot_id) => {
            let mut tx = state.db.read().await?;
            let s = store::free_slot(&mut tx, ctx.user.actor.user_id, slot_id).await?;
            tx.commit().await?;
            s
        }
        None => None,
    };
    if let Some(s) = &slot {
        input.date = parse_iso_date(&s.slot_on)
            .map(format_de_date)
            .unwrap_or_default();
        input.time = s.slot_time.clone();
        input.place = s.place.clone();
        input.room = s.room.clone();
    }
    let refuse = |problems: Vec<(&str, &str, String)>| {
        let mut errors = Errors::default();
        for (field, label, message) in problems {
            errors.add(field, label, message);
        }
        errors
    };
    let slot_field = form.get("termin").to_string();
    let mut problems = Vec::new();
    if slot_choice.is_some() && slot.is_none() {
        problems.push((
            "termin",
            "freier Termin",
            "Dieser Termin ist nicht mehr frei; bitte wählen Sie einen anderen.".to_string(),
        ));
    }
    let appointment = match invitation::check(&input, letter_date) {
        Ok(a) if problems.is_empty() => a,
        checked => {
            problems.extend(checked.err().unwrap_or_default());
            let page = load_form(
                &state,
                &ctx,
                id,
                (Some(input), &slot_field),
                refuse(problems),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let mut tx = state.db.begin().await?;
    let d = handover::get(&mut tx, &scope, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let jc = org::job_center(&mut tx, jc_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let address = store::postal_address(&mut tx, jc_id, d.item.customer_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let stored = StoredInvitation {
        id: 0,
        case_id: Some(id),
        customer_number: d.item.customer_number.clone(),
        bg_number: address.bg_number,
        salutation: address.salutation,
        first_name: d.item.first_name.clone(),
        last_name: d.item.last_name.clone(),
        street: address.street,
        house_number: address.house_number,
        postcode: address.postcode,
        city: address.city,
        purpose: appointment.purpose.code().to_string(),
        appointment_on: appointment.date.to_string(),
        appointment_time: format!(
            "{:02}:{:02}",
            appointment.time.hour(),
            appointment.time.minute()
        ),
        place: appointment.place.clone(),
        room: appointment.room.clone(),
        contact: appointment.contact.clone(),
        contact_phone: appointment.contact_phone.clone(),
        documents: appointment.documents.join("\n"),
        letter_date: letter_date.to_string(),
        legal_notice_version: String::new(),
        content_hash: String::new(),
        created_by: Some(ctx.user.actor.user_id),
    };
    let letter = match InvitationLetter::new(&appointment, letter_date, addressing(&stored, &jc)) {
        Ok(l) => l,
        Err(e) => {
            let page = load_form(
                &state,
                &ctx,
                id,
                (Some(input), &slot_field),
                refuse(vec![("datum", "Briefdatum", e.to_string())]),
            )
            .await?;
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let hash = letter.content_hash();
    let invitation_id = store::create(
        &mut tx,
        &NewInvitation {
            case_id: id,
            customer_id: d.item.customer_id,
            job_center_id: jc_id,
            purpose: appointment.purpose.code(),
            appointment_on: stored.appointment_on.clone(),
            appointment_time: stored.appointment_time.clone(),
            place: &stored.place,
            room: &stored.room,
            contact: &stored.contact,
            contact_phone: &stored.contact_phone,
            documents: stored.documents.clone(),
            letter_date: stored.letter_date.clone(),
            legal_notice_version: &letter.legal_notice_version,
            template_version: INVITATION_TEMPLATE_VERSION,
            content_hash: &hash,
            created_by: ctx.user.actor.user_id,
        },
        now,
    )
    .await?;
    if let Some(s) = &slot
        && !store::take_slot(&mut tx, ctx.user.actor.user_id, s.id, invitation_id).await?
    {
        // Taken by a second tab in the meantime: nothing is stored.
        tx.rollback().await?;
        let page = load_form(
            &state,
            &ctx,
            id,
            (Some(input), &slot_field),
            refuse(vec![(
                "termin",
                "freier Termin",
                "Dieser Termin ist nicht mehr frei; bitte wählen Sie einen anderen.".to_string(),
            )]),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::InvitationCreate, &ctx.client)
        .record("invitation", invitation_id)
        .fields(&format!(
            "Einladung für Fall {id}: {}, {}",
            appointment.purpose.label(),
            appointment.when()
        ))
        .purpose("Einladung zu einem persönlichen Gespräch (§ 59 SGB II)")
        .job_center(Some(jc_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/ergebnisse/{id}?meldung=einladung")).into_response())
}

async fn render(
    state: &AppState,
    ctx: &Ctx,
    rows: Vec<StoredInvitation>,
    record: String,
) -> Result<Vec<u8>, AppError> {
    let jc_id = job_center_id(ctx)?;
    let mut tx = state.db.begin().await?;
    let jc = org::job_center(&mut tx, jc_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let letters = rows
        .iter()
        .map(|r| letter_of(r, &jc))
        .collect::<Result<Vec<_>, _>>()?;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::LetterPrint, &ctx.client)
        .record("invitation", record)
        .fields(&format!("{} Einladung(en) als PDF", letters.len()))
        .purpose("Einladung zu einem persönlichen Gespräch (§ 59 SGB II)")
        .job_center(Some(jc_id));
    audit::append(&mut tx, &event, state.clock.now()).await?;
    tx.commit().await?;
    crate::download::typeset(move |renderer| renderer.invitations(&letters)).await
}

async fn letter_pdf(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let jc_id = job_center_id(&ctx)?;
    let mut tx = state.db.read().await?;
    let row = store::get(&mut tx, jc_id, issued_by(&ctx), id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let pdf = render(&state, &ctx, vec![row], id.to_string()).await?;
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
#[template(path = "invitations.html")]
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
    let jc_id = job_center_id(&ctx)?;
    let (date, error) = match day_of(&state, &query) {
        Ok(d) => (d, String::new()),
        Err(e) => (berlin_date(state.clock.now()), e),
    };
    let mut tx = state.db.read().await?;
    let rows = store::of_day(&mut tx, jc_id, issued_by(&ctx), &date.to_string()).await?;
    tx.commit().await?;
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
                name: match &r.first_name {
                    Some(f) => format!("{}, {f}", r.last_name),
                    None => r.last_name.clone(),
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
                customer_number: r.customer_number,
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
    let jc_id = job_center_id(&ctx)?;
    let date = day_of(&state, &query)
        .map_err(|_| AppError::BadRequest("Der Tag ist kein Datum im Format TT.MM.JJJJ."))?;
    let mut tx = state.db.read().await?;
    let rows = store::of_day(&mut tx, jc_id, issued_by(&ctx), &date.to_string()).await?;
    tx.commit().await?;
    if rows.is_empty() {
        return Ok(Redirect::to(&format!(
            "/einladungen?tag={}&meldung=keine",
            format_de_date(date)
        ))
        .into_response());
    }
    let pdf = render(&state, &ctx, rows, format!("Tag {}", format_de_date(date))).await?;
    Ok(crate::download::attachment(
        pdf,
        "application/pdf",
        &format!("einladungen-{date}.pdf"),
    ))
}

fn slot_label(s: &store::Slot) -> String {
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
#[template(path = "slots.html")]
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
    let jc_id = job_center_id(ctx)?;
    let today = berlin_date(state.clock.now());
    let mut tx = state.db.read().await?;
    let slots = store::slots(&mut tx, ctx.user.actor.user_id, &today.to_string()).await?;
    let jc = org::job_center(&mut tx, jc_id).await?;
    tx.commit().await?;
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
    let jc_id = job_center_id(&ctx)?;
    let now = state.clock.now();
    let mut errors = Errors::default();
    match invitation::check_slot(
        form.get("datum"),
        form.get("uhrzeit"),
        form.get("ort"),
        form.get("raum"),
        berlin_date(now),
    ) {
        Ok((date, time, place, room)) => {
            let mut tx = state.db.begin().await?;
            let added = store::add_slot(
                &mut tx,
                &store::NewSlot {
                    user_id: ctx.user.actor.user_id,
                    job_center_id: jc_id,
                    slot_on: date.to_string(),
                    slot_time: invitation::format_time(time),
                    place: &place,
                    room: &room,
                },
                now,
            )
            .await?;
            tx.commit().await?;
            if added {
                return Ok(Redirect::to("/termine?meldung=angelegt").into_response());
            }
            errors.add(
                "uhrzeit",
                "Uhrzeit",
                "Zu dieser Zeit haben Sie schon einen Termin.",
            );
        }
        Err(problems) => {
            for (field, label, message) in problems {
                errors.add(field, label, message);
            }
        }
    }
    let page = slots_view(&state, &ctx, Some(&form), errors, "").await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

async fn remove_slot(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    job_center_id(&ctx)?;
    let mut tx = state.db.begin().await?;
    if !store::remove_slot(&mut tx, ctx.user.actor.user_id, id).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    Ok(Redirect::to("/termine?meldung=entfernt").into_response())
}
