//! Invitations the job center issued: what each letter said (to typeset it
//! again byte for byte), the notice version and the content hash. Reads are
//! bounded by the job center and, for a case manager, by who issued them.

use crate::customer::RecordColumns;
use crate::{StoreError, Tx, args};

/// A new invitation as checked and typeset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewInvitation<'a> {
    pub case_id: i64,
    pub customer_id: i64,
    pub job_center_id: i64,
    pub purpose: &'a str,
    /// ISO date.
    pub appointment_on: String,
    /// HH:MM
    pub appointment_time: String,
    pub place: &'a str,
    pub room: &'a str,
    pub contact: &'a str,
    pub contact_phone: &'a str,
    /// One per line.
    pub documents: String,
    /// ISO date.
    pub letter_date: String,
    pub legal_notice_version: &'a str,
    pub template_version: &'a str,
    pub content_hash: &'a str,
    pub created_by: i64,
}

pub async fn create(tx: &mut Tx, i: &NewInvitation<'_>, now: i64) -> Result<i64, StoreError> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO invitations (case_id, customer_id, job_center_id, purpose, appointment_on,
                appointment_time, place, room, contact, contact_phone, documents, letter_date,
                legal_notice_version, template_version, content_hash, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
             RETURNING id",
            args![
                i.case_id,
                i.customer_id,
                i.job_center_id,
                i.purpose,
                i.appointment_on.as_str(),
                i.appointment_time.as_str(),
                i.place,
                i.room,
                i.contact,
                i.contact_phone,
                i.documents.as_str(),
                i.letter_date.as_str(),
                i.legal_notice_version,
                i.template_version,
                i.content_hash,
                i.created_by,
                now
            ],
        )
        .await?;
    Ok(id)
}

/// A stored invitation with its customer's address.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredInvitation {
    /// Selected as `invitation_id`: `c.*` has an `id` of its own.
    #[sqlx(rename = "invitation_id")]
    pub id: i64,
    pub case_id: Option<i64>,
    /// The customer invited.
    #[sqlx(flatten)]
    pub customer: RecordColumns,
    pub purpose: String,
    pub appointment_on: String,
    pub appointment_time: String,
    pub place: String,
    pub room: String,
    pub contact: String,
    pub contact_phone: String,
    pub documents: String,
    pub letter_date: String,
    pub legal_notice_version: String,
    pub content_hash: String,
    pub created_by: Option<i64>,
}

macro_rules! invitation_select {
    () => {
        "SELECT c.*, i.id AS invitation_id, i.case_id, i.purpose, i.appointment_on,
                i.appointment_time, i.place, i.room, i.contact, i.contact_phone, i.documents,
                i.letter_date, i.legal_notice_version, i.content_hash, i.created_by
         FROM invitations i JOIN customers c ON c.id = i.customer_id "
    };
}

/// One invitation of the job center; with `issued_by`, only if that user
/// issued it (a case manager sees their own invitations).
pub async fn get(
    tx: &mut Tx,
    job_center_id: i64,
    issued_by: Option<i64>,
    id: i64,
) -> Result<Option<StoredInvitation>, StoreError> {
    tx.fetch_optional(
        concat!(
            invitation_select!(),
            "WHERE i.job_center_id = $1 AND ($2 IS NULL OR i.created_by = $2) AND i.id = $3"
        ),
        args![job_center_id, issued_by, id],
    )
    .await
}

/// The invitations of a case, newest first.
pub async fn for_case(
    tx: &mut Tx,
    job_center_id: i64,
    case_id: i64,
) -> Result<Vec<StoredInvitation>, StoreError> {
    tx.fetch_all(
        concat!(
            invitation_select!(),
            "WHERE i.job_center_id = $1 AND i.case_id = $2 ORDER BY i.id DESC"
        ),
        args![job_center_id, case_id],
    )
    .await
}

/// How many appointments invitations of `issued_by` set from `from` to
/// `until` (ISO days, both included).
pub async fn appointments_between(
    tx: &mut Tx,
    job_center_id: i64,
    issued_by: i64,
    (from, until): (&str, &str),
) -> Result<i64, StoreError> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM invitations
             WHERE job_center_id = $1 AND created_by = $2 AND appointment_on >= $3 AND appointment_on <= $4",
            args![job_center_id, issued_by, from, until],
        )
        .await?;
    Ok(n)
}

/// The invitations dated `letter_date` (ISO), in the order they were made.
pub async fn of_day(
    tx: &mut Tx,
    job_center_id: i64,
    issued_by: Option<i64>,
    letter_date: &str,
) -> Result<Vec<StoredInvitation>, StoreError> {
    tx.fetch_all(
        concat!(
            invitation_select!(),
            "WHERE i.job_center_id = $1 AND ($2 IS NULL OR i.created_by = $2) AND i.letter_date = $3
             ORDER BY i.id"
        ),
        args![job_center_id, issued_by, letter_date],
    )
    .await
}

/// The record of a customer of the job center (where a letter goes).
pub async fn postal_address(
    tx: &mut Tx,
    job_center_id: i64,
    customer_id: i64,
) -> Result<Option<RecordColumns>, StoreError> {
    tx.fetch_optional(
        "SELECT * FROM customers WHERE job_center_id = $1 AND id = $2",
        args![job_center_id, customer_id],
    )
    .await
}

/// One of a case manager's appointment slots.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Slot {
    pub id: i64,
    /// ISO date.
    pub slot_on: String,
    /// HH:MM
    pub slot_time: String,
    pub place: String,
    pub room: String,
    pub invitation_id: Option<i64>,
}

/// A new slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSlot<'a> {
    pub user_id: i64,
    pub job_center_id: i64,
    /// ISO date.
    pub slot_on: String,
    /// HH:MM
    pub slot_time: String,
    pub place: &'a str,
    pub room: &'a str,
}

/// Adds a slot; `false` when the user has one at that time already.
pub async fn add_slot(tx: &mut Tx, s: &NewSlot<'_>, now: i64) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "INSERT INTO appointment_slots (user_id, job_center_id, slot_on, slot_time, place, room, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id, slot_on, slot_time) DO NOTHING",
            args![
                s.user_id,
                s.job_center_id,
                s.slot_on.as_str(),
                s.slot_time.as_str(),
                s.place,
                s.room,
                now
            ],
        )
        .await?
        == 1)
}

/// The user's slots from `from_day` (ISO) on, in time order.
pub async fn slots(tx: &mut Tx, user_id: i64, from_day: &str) -> Result<Vec<Slot>, StoreError> {
    tx.fetch_all(
        "SELECT id, slot_on, slot_time, place, room, invitation_id FROM appointment_slots
         WHERE user_id = $1 AND slot_on >= $2 ORDER BY slot_on, slot_time",
        args![user_id, from_day],
    )
    .await
}

/// A free slot of the user.
pub async fn free_slot(tx: &mut Tx, user_id: i64, id: i64) -> Result<Option<Slot>, StoreError> {
    tx.fetch_optional(
        "SELECT id, slot_on, slot_time, place, room, invitation_id FROM appointment_slots
         WHERE user_id = $1 AND id = $2 AND invitation_id IS NULL",
        args![user_id, id],
    )
    .await
}

/// Gives a free slot to an invitation; `false` when it was taken meanwhile.
pub async fn take_slot(
    tx: &mut Tx,
    user_id: i64,
    id: i64,
    invitation_id: i64,
) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "UPDATE appointment_slots SET invitation_id = $3
             WHERE user_id = $1 AND id = $2 AND invitation_id IS NULL",
            args![user_id, id, invitation_id],
        )
        .await?
        == 1)
}

/// Removes a free slot of the user; `false` if there is none.
pub async fn remove_slot(tx: &mut Tx, user_id: i64, id: i64) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "DELETE FROM appointment_slots WHERE user_id = $1 AND id = $2 AND invitation_id IS NULL",
            args![user_id, id],
        )
        .await?
        == 1)
}
