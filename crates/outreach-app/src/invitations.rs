//! Invitations to a personal appointment, issued by the job center from a
//! final case of the inbox: the letter is typeset, its content recorded and
//! the creation audited; letters of a day print as one PDF. A case manager
//! keeps free appointment slots to pick from. Nothing is sent automatically.

use crate::{Caller, Error, Result};
use jiff::civil::{Date, Time};
use outreach_core::access::{Actor, Role, customer_scope};
use outreach_core::audit::AuditAction;
use outreach_core::date::{format_de_date, parse_iso_date};
use outreach_core::invitation::{self, Appointment, FieldProblem, InvitationInput, Purpose};
use outreach_letters::Organisation;
use outreach_letters::invitation::{Addressing, INVITATION_TEMPLATE_VERSION, InvitationLetter};
use outreach_store::Db;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::invitation::{self as store, NewInvitation};
pub use outreach_store::invitation::{Slot, StoredInvitation};
use outreach_store::org;
pub use outreach_store::org::JobCenter;
use outreach_store::results::{self, InboxItem};

const PURPOSE: &str = "Einladung zu einem persönlichen Gespräch (§ 59 SGB II)";

fn job_center_id(actor: &Actor) -> Result<i64> {
    customer_scope(actor)
        .and_then(|_| actor.home.job_center())
        .ok_or(Error::Forbidden)
}

/// A case manager sees the invitations they issued; the administration all.
fn issued_by(actor: &Actor) -> Option<i64> {
    (actor.role != Role::JobcenterAdmin).then_some(actor.user_id)
}

/// What the form for a new invitation shows.
pub struct InvitationForm {
    pub customer: InboxItem,
    pub job_center: JobCenter,
    /// The user's free slots from today on.
    pub free_slots: Vec<Slot>,
}

/// The form for an invitation from result `case_id`, in the caller's scope.
pub async fn form(db: &Db, actor: &Actor, case_id: i64, today: Date) -> Result<InvitationForm> {
    let scope = customer_scope(actor).ok_or(Error::Forbidden)?;
    let jc_id = job_center_id(actor)?;
    let mut tx = db.read().await?;
    let d = results::get(&mut tx, &scope, case_id)
        .await?
        .ok_or(Error::NotFound)?;
    let job_center = org::job_center(&mut tx, jc_id)
        .await?
        .ok_or(Error::NotFound)?;
    let free_slots = store::slots(&mut tx, actor.user_id, &today.to_string())
        .await?
        .into_iter()
        .filter(|s| s.invitation_id.is_none())
        .collect();
    tx.commit().await?;
    Ok(InvitationForm {
        customer: d.item,
        job_center,
        free_slots,
    })
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

fn addressing(s: &StoredInvitation, jc: &JobCenter) -> Addressing {
    Addressing {
        customer_number: s.customer.customer_number.to_string(),
        bg_number: s.customer.bg_number.clone(),
        recipient: crate::letters::recipient(&s.customer),
        job_center: organisation(jc),
        dpo_contact: jc.dpo_contact.clone(),
        supervisory_authority: jc.supervisory_authority.clone(),
    }
}

/// The letter of a stored invitation, exactly as it was issued.
fn letter_of(s: &StoredInvitation, jc: &JobCenter) -> Result<InvitationLetter> {
    let broken = || Error::Internal(format!("invitation {} unreadable", s.id));
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
    InvitationLetter::new(&appointment, letter_date, addressing(s, jc)).map_err(Error::from)
}

/// The problem of a slot the user picked that is no longer free.
fn slot_taken() -> FieldProblem {
    (
        "termin",
        "freier Termin",
        "Dieser Termin ist nicht mehr frei; bitte wählen Sie einen anderen.".to_string(),
    )
}

/// Issues an invitation from result `case_id`: `slot`, a free slot of the
/// user's own, gives date, time, place and room. The letter is made and its
/// content recorded with the invitation, and the slot taken (audited); all
/// or nothing. `Ok(Err(problems))` names the fields that were refused and
/// `input` as the form shows it again.
pub async fn issue(
    db: &Db,
    by: Caller<'_>,
    case_id: i64,
    mut input: InvitationInput,
    slot: Option<i64>,
    now: i64,
) -> Result<std::result::Result<i64, (InvitationInput, Vec<FieldProblem>)>> {
    let actor = by.actor;
    let scope = customer_scope(actor).ok_or(Error::Forbidden)?;
    let jc_id = job_center_id(actor)?;
    let letter_date = outreach_core::date::berlin_date(now);
    let free = match slot {
        Some(slot_id) => {
            let mut tx = db.read().await?;
            let s = store::free_slot(&mut tx, actor.user_id, slot_id).await?;
            tx.commit().await?;
            s
        }
        None => None,
    };
    if let Some(s) = &free {
        input.date = parse_iso_date(&s.slot_on)
            .map(format_de_date)
            .unwrap_or_default();
        input.time = s.slot_time.clone();
        input.place = s.place.clone();
        input.room = s.room.clone();
    }
    let mut problems = Vec::new();
    if slot.is_some() && free.is_none() {
        problems.push(slot_taken());
    }
    let appointment = match invitation::check(&input, letter_date) {
        Ok(a) if problems.is_empty() => a,
        checked => {
            problems.extend(checked.err().unwrap_or_default());
            return Ok(Err((input, problems)));
        }
    };
    let mut tx = db.begin().await?;
    let d = results::get(&mut tx, &scope, case_id)
        .await?
        .ok_or(Error::NotFound)?;
    let jc = org::job_center(&mut tx, jc_id)
        .await?
        .ok_or(Error::NotFound)?;
    let customer = store::postal_address(&mut tx, jc_id, d.item.customer_id)
        .await?
        .ok_or(Error::NotFound)?;
    let stored = StoredInvitation {
        id: 0,
        case_id: Some(case_id),
        customer,
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
        created_by: Some(actor.user_id),
    };
    let letter = match InvitationLetter::new(&appointment, letter_date, addressing(&stored, &jc)) {
        Ok(l) => l,
        Err(e) => {
            tx.rollback().await?;
            return Ok(Err((input, vec![("datum", "Briefdatum", e.to_string())])));
        }
    };
    let hash = letter.content_hash();
    let invitation_id = store::create(
        &mut tx,
        &NewInvitation {
            case_id,
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
            created_by: actor.user_id,
        },
        now,
    )
    .await?;
    if let Some(s) = &free
        && !store::take_slot(&mut tx, actor.user_id, s.id, invitation_id).await?
    {
        // Taken by a second tab in the meantime: nothing is stored.
        tx.rollback().await?;
        return Ok(Err((input, vec![slot_taken()])));
    }
    let event = AuditEvent::by(actor, AuditAction::InvitationCreate, by.client)
        .record("invitation", invitation_id)
        .fields(&format!(
            "Einladung für Fall {case_id}: {}, {}",
            appointment.purpose.label(),
            appointment.when()
        ))
        .purpose(PURPOSE)
        .job_center(Some(jc_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(invitation_id))
}

/// The letters of `rows` as one PDF; printing them is audited.
async fn print(
    db: &Db,
    by: Caller<'_>,
    rows: Vec<StoredInvitation>,
    record: String,
    now: i64,
) -> Result<Vec<u8>> {
    let jc_id = job_center_id(by.actor)?;
    let mut tx = db.begin().await?;
    let jc = org::job_center(&mut tx, jc_id)
        .await?
        .ok_or(Error::NotFound)?;
    let letters = rows
        .iter()
        .map(|r| letter_of(r, &jc))
        .collect::<Result<Vec<_>>>()?;
    let event = AuditEvent::by(by.actor, AuditAction::LetterPrint, by.client)
        .record("invitation", record)
        .fields(&format!("{} Einladung(en) als PDF", letters.len()))
        .purpose(PURPOSE)
        .job_center(Some(jc_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    crate::letters::typeset(move |renderer| renderer.invitations(&letters)).await
}

/// The letter of invitation `id` as a PDF (audited).
pub async fn letter(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<Vec<u8>> {
    let jc_id = job_center_id(by.actor)?;
    let mut tx = db.read().await?;
    let row = store::get(&mut tx, jc_id, issued_by(by.actor), id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    print(db, by, vec![row], id.to_string(), now).await
}

/// The invitations whose appointment is on `day` (a case manager's own).
pub async fn of_day(db: &Db, actor: &Actor, day: Date) -> Result<Vec<StoredInvitation>> {
    let jc_id = job_center_id(actor)?;
    let mut tx = db.read().await?;
    let rows = store::of_day(&mut tx, jc_id, issued_by(actor), &day.to_string()).await?;
    tx.commit().await?;
    Ok(rows)
}

/// The letters of the invitations of `day` as one PDF (audited); `None`
/// when there are none.
pub async fn day_letters(db: &Db, by: Caller<'_>, day: Date, now: i64) -> Result<Option<Vec<u8>>> {
    let rows = of_day(db, by.actor, day).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let record = format!("Tag {}", format_de_date(day));
    Ok(Some(print(db, by, rows, record, now).await?))
}

/// The user's slots from `today` on, and their job center (for the
/// default place).
pub async fn slots(db: &Db, actor: &Actor, today: Date) -> Result<(Vec<Slot>, Option<JobCenter>)> {
    let jc_id = job_center_id(actor)?;
    let mut tx = db.read().await?;
    let slots = store::slots(&mut tx, actor.user_id, &today.to_string()).await?;
    let jc = org::job_center(&mut tx, jc_id).await?;
    tx.commit().await?;
    Ok((slots, jc))
}

/// A slot as the user enters it.
pub struct SlotInput<'a> {
    pub date: &'a str,
    pub time: &'a str,
    pub place: &'a str,
    pub room: &'a str,
}

/// Adds a free slot for the user; refused with the fields' problems (also
/// when the user has a slot at that time already).
pub async fn add_slot(
    db: &Db,
    actor: &Actor,
    input: &SlotInput<'_>,
    now: i64,
) -> Result<std::result::Result<(), Vec<FieldProblem>>> {
    let jc_id = job_center_id(actor)?;
    let today = outreach_core::date::berlin_date(now);
    let (date, time, place, room) =
        match invitation::check_slot(input.date, input.time, input.place, input.room, today) {
            Ok(checked) => checked,
            Err(problems) => return Ok(Err(problems)),
        };
    let mut tx = db.begin().await?;
    let added = store::add_slot(
        &mut tx,
        &store::NewSlot {
            user_id: actor.user_id,
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
    Ok(if added {
        Ok(())
    } else {
        Err(vec![(
            "uhrzeit",
            "Uhrzeit",
            "Zu dieser Zeit haben Sie schon einen Termin.".to_string(),
        )])
    })
}

/// Removes one of the user's slots.
pub async fn remove_slot(db: &Db, actor: &Actor, id: i64) -> Result<()> {
    job_center_id(actor)?;
    let mut tx = db.begin().await?;
    if !store::remove_slot(&mut tx, actor.user_id, id).await? {
        return Err(Error::NotFound);
    }
    tx.commit().await?;
    Ok(())
}
