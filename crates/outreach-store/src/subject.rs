//! The data subject's rights, for the DPO and the job center's
//! administration: access to everything stored about one person (Art. 15
//! GDPR), restriction of processing (Art. 18), values marked as disputed
//! (§ 84 SGB X). Every read here is of one job center's customer; the caller
//! names the job center it may see (`None`: a DPO without a job center, who
//! may see every one).

use crate::audit::StoredEvent;
use crate::customer::Customer;
use crate::{StoreError, Tx, args};

/// A customer found by number.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Found {
    pub id: i64,
    pub job_center_id: i64,
    pub job_center_name: String,
    pub customer_number: String,
}

/// The customers with this number in the job center (or in every job center).
pub async fn find(
    tx: &mut Tx,
    job_center_id: Option<i64>,
    customer_number: &str,
) -> Result<Vec<Found>, StoreError> {
    tx.fetch_all(
        "SELECT c.id, c.job_center_id, j.name AS job_center_name, c.customer_number
         FROM customers c JOIN job_centers j ON j.id = c.job_center_id
         WHERE c.customer_number = $2 AND ($1 IS NULL OR c.job_center_id = $1)
         ORDER BY j.name",
        args![job_center_id, customer_number],
    )
    .await
}

/// A customer's job center and number, if the customer is in the job center
/// (or, for `None`, anywhere: a DPO without a job center).
pub async fn owner(
    tx: &mut Tx,
    job_center_id: Option<i64>,
    customer_id: i64,
) -> Result<Option<(i64, String)>, StoreError> {
    tx.fetch_optional(
        "SELECT job_center_id, customer_number FROM customers
         WHERE id = $1 AND ($2 IS NULL OR job_center_id = $2)",
        args![customer_id, job_center_id],
    )
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Dispute {
    pub field: String,
    pub note: String,
    pub marked_by_name: Option<String>,
    pub marked_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ImportChange {
    pub import_id: i64,
    pub imported_at: i64,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct CaseEntry {
    pub id: i64,
    pub campaign: String,
    pub service_center: String,
    pub state: String,
    pub final_disposition: Option<String>,
    pub letter_sent_on: Option<String>,
    pub objection_on: Option<String>,
    pub attempts_count: i64,
    pub callback_at: Option<i64>,
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AttemptEntry {
    pub case_id: i64,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub result: Option<String>,
    pub phone_used: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ResultEntry {
    pub case_id: i64,
    pub outcome: String,
    pub guide_version: String,
    pub identity_method: Option<String>,
    pub consent_given: bool,
    pub answers: String,
    pub changes: String,
    pub flags: String,
    pub note: Option<String>,
    pub created_at: i64,
    pub handed_over_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct ResultDispute {
    pub case_id: i64,
    pub field: String,
    pub note: String,
    pub marked_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct LetterEntry {
    pub kind: String,
    pub case_id: Option<i64>,
    pub template_version: String,
    pub content_hash: String,
    pub generated_at: i64,
    pub sent_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct InvitationEntry {
    pub id: i64,
    pub purpose: String,
    pub appointment_on: String,
    pub appointment_time: String,
    pub place: String,
    pub room: String,
    pub contact: String,
    pub letter_date: String,
    pub legal_notice_version: String,
    pub created_at: i64,
}

/// Everything stored about one person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Disclosure {
    pub job_center_name: String,
    pub customer: Customer,
    pub restriction_note: String,
    pub restricted_at: Option<i64>,
    pub disputes: Vec<Dispute>,
    pub import_changes: Vec<ImportChange>,
    pub cases: Vec<CaseEntry>,
    pub attempts: Vec<AttemptEntry>,
    pub results: Vec<ResultEntry>,
    pub result_disputes: Vec<ResultDispute>,
    pub letters: Vec<LetterEntry>,
    pub invitations: Vec<InvitationEntry>,
    /// Audit events about the person (their customer record, their cases,
    /// their invitations), oldest first.
    pub audit_events: Vec<StoredEvent>,
    /// Jobs whose stored upload or print archive holds the person (filled
    /// by the application layer; see `jobs::prints_holding`).
    pub jobs: Vec<crate::jobs::Holding>,
}

/// Everything stored about customer `id` of a job center the caller may see.
pub async fn disclosure(
    tx: &mut Tx,
    job_center_id: Option<i64>,
    id: i64,
) -> Result<Option<Disclosure>, StoreError> {
    let customer: Option<Customer> = tx
        .fetch_optional(
            "SELECT c.* FROM customers c WHERE c.id = $2 AND ($1 IS NULL OR c.job_center_id = $1)",
            args![job_center_id, id],
        )
        .await?;
    let Some(customer) = customer else {
        return Ok(None);
    };
    let (job_center_name, restriction_note, restricted_at): (String, String, Option<i64>) = tx
        .fetch_one(
            "SELECT j.name, c.restriction_note, c.restricted_at FROM customers c
             JOIN job_centers j ON j.id = c.job_center_id WHERE c.id = $1",
            args![id],
        )
        .await?;
    Ok(Some(Disclosure {
        job_center_name,
        restriction_note,
        restricted_at,
        disputes: disputes(tx, id).await?,
        import_changes: tx
            .fetch_all(
                "SELECT g.import_id, i.started_at AS imported_at, g.field, g.old_value, g.new_value
                 FROM customer_changes g JOIN imports i ON i.id = g.import_id
                 WHERE g.customer_id = $1 ORDER BY g.id",
                args![id],
            )
            .await?,
        cases: tx
            .fetch_all(
                "SELECT k.id, p.name AS campaign, s.name AS service_center, k.state, k.final_disposition,
                        k.letter_sent_on, k.objection_on, k.attempts_count, k.callback_at, k.created_at, k.closed_at
                 FROM cases k JOIN campaigns p ON p.id = k.campaign_id
                 JOIN mandates m ON m.id = p.mandate_id JOIN service_centers s ON s.id = m.service_center_id
                 WHERE k.customer_id = $1 ORDER BY k.id",
                args![id],
            )
            .await?,
        attempts: tx
            .fetch_all(
                "SELECT a.case_id, a.started_at, a.ended_at, a.result, a.phone_used, a.note
                 FROM attempts a JOIN cases k ON k.id = a.case_id
                 WHERE k.customer_id = $1 ORDER BY a.started_at, a.id",
                args![id],
            )
            .await?,
        results: tx
            .fetch_all(
                "SELECT r.case_id, r.outcome, r.guide_version, r.identity_method, r.consent_given, r.answers,
                        r.changes, r.flags, r.note, r.created_at, v.handed_over_at
                 FROM results r JOIN cases k ON k.id = r.case_id
                 LEFT JOIN case_reviews v ON v.case_id = r.case_id
                 WHERE k.customer_id = $1 ORDER BY r.created_at",
                args![id],
            )
            .await?,
        result_disputes: tx
            .fetch_all(
                "SELECT d.case_id, d.field, d.note, d.marked_at FROM result_disputes d
                 JOIN cases k ON k.id = d.case_id WHERE k.customer_id = $1 ORDER BY d.marked_at",
                args![id],
            )
            .await?,
        letters: tx
            .fetch_all(
                "SELECT kind, case_id, template_version, content_hash, generated_at, sent_on
                 FROM letters WHERE customer_id = $1 ORDER BY generated_at, id",
                args![id],
            )
            .await?,
        invitations: tx
            .fetch_all(
                "SELECT id, purpose, appointment_on, appointment_time, place, room, contact, letter_date,
                        legal_notice_version, created_at
                 FROM invitations WHERE customer_id = $1 ORDER BY created_at, id",
                args![id],
            )
            .await?,
        audit_events: tx
            .fetch_all(
                concat!(
                    "SELECT seq, at, user_id, username, role, action, record_type, record_id, fields, purpose, client,
                            job_center_id, service_center_id, prev_hash, hash
                     FROM audit_events WHERE seq IS NOT NULL AND ",
                    about_person!("$1"),
                    " ORDER BY seq"
                ),
                args![id],
            )
            .await?,
        jobs: Vec::new(),
        customer,
    }))
}

/// The customer's disputed values.
pub async fn disputes(tx: &mut Tx, customer_id: i64) -> Result<Vec<Dispute>, StoreError> {
    tx.fetch_all(
        "SELECT d.field, d.note, u.display_name AS marked_by_name, d.marked_at
         FROM customer_disputes d LEFT JOIN users u ON u.id = d.marked_by
         WHERE d.customer_id = $1 ORDER BY d.field",
        args![customer_id],
    )
    .await
}

/// Restricts processing of a customer (or lifts the restriction). A
/// restricted customer leaves every queue at once: a running lease on one of
/// their cases ends. Returns the leases ended.
pub async fn set_restricted(
    tx: &mut Tx,
    customer_id: i64,
    restricted: bool,
    note: &str,
    user_id: i64,
    now: i64,
) -> Result<u64, StoreError> {
    tx.execute(
        "UPDATE customers SET restricted = $2, restriction_note = $3,
             restricted_at = CASE WHEN $2 THEN $5 ELSE NULL END,
             restricted_by = CASE WHEN $2 THEN $4 ELSE NULL END, updated_at = $5
         WHERE id = $1",
        args![customer_id, restricted, note, user_id, now],
    )
    .await?;
    if !restricted {
        return Ok(0);
    }
    tx.execute(
        "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL, leased_at = NULL
         WHERE customer_id = $1 AND leased_to IS NOT NULL AND final_disposition IS NULL",
        args![customer_id],
    )
    .await
}

/// Marks a stored value as disputed by the customer (the value stays).
pub async fn mark_disputed(
    tx: &mut Tx,
    customer_id: i64,
    field: &str,
    note: &str,
    user_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO customer_disputes (customer_id, field, note, marked_by, marked_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (customer_id, field) DO UPDATE SET note = excluded.note,
             marked_by = excluded.marked_by, marked_at = excluded.marked_at",
        args![customer_id, field, note, user_id, now],
    )
    .await?;
    Ok(())
}

/// Removes the disputed mark of a value (the dispute was settled).
pub async fn clear_dispute(tx: &mut Tx, customer_id: i64, field: &str) -> Result<u64, StoreError> {
    tx.execute(
        "DELETE FROM customer_disputes WHERE customer_id = $1 AND field = $2",
        args![customer_id, field],
    )
    .await
}
