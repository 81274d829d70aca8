//! Conversations on the server: the guide engine's state per case while the
//! agent holds it, a dropped call's draft, and the result when it ends.

use crate::{StoreError, Tx, args};
use outreach_core::customer::Record;

/// Everything the guide may show or compare after the identity check, and
/// the identity items (for comparing only), for a case the agent holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseCustomer {
    pub case_id: i64,
    pub guide_id: Option<i64>,
    pub campaign_name: String,
    pub code_secret: String,
    pub jc_name: String,
    pub sc_name: String,
    pub letter_date: Option<String>,
    pub customer: Record,
}

crate::customer::record_row!(CaseCustomer, |row| CaseCustomer {
    case_id: row.try_get("case_id")?,
    guide_id: row.try_get("guide_id")?,
    campaign_name: row.try_get("campaign_name")?,
    code_secret: row.try_get("code_secret")?,
    jc_name: row.try_get("jc_name")?,
    sc_name: row.try_get("sc_name")?,
    letter_date: row.try_get("letter_date")?,
    customer: crate::customer::record_from_row(row)?,
});

/// The case's customer if the agent holds the lease at `now`.
pub async fn case_customer(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
    now: i64,
) -> Result<Option<CaseCustomer>, StoreError> {
    tx.fetch_optional(
        "SELECT k.id AS case_id, p.guide_id, p.name AS campaign_name, p.code_secret, j.name AS jc_name,
                s.name AS sc_name,
                k.letter_sent_on AS letter_date, c.*
         FROM cases k
         JOIN campaigns p ON p.id = k.campaign_id
         JOIN mandates m ON m.id = p.mandate_id
         JOIN job_centers j ON j.id = p.job_center_id
         JOIN service_centers s ON s.id = m.service_center_id
         JOIN customers c ON c.id = k.customer_id AND c.job_center_id = p.job_center_id
         WHERE k.id = $1 AND k.leased_to = $2 AND k.lease_expires_at >= $3 AND k.final_disposition IS NULL",
        args![case_id, agent_id, now],
    )
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Stored {
    pub agent_id: Option<i64>,
    pub guide_id: Option<i64>,
    pub state: String,
    pub draft: String,
}

pub async fn load(tx: &mut Tx, case_id: i64) -> Result<Option<Stored>, StoreError> {
    tx.fetch_optional(
        "SELECT agent_id, guide_id, state, draft FROM conversations WHERE case_id = $1",
        args![case_id],
    )
    .await
}

/// Saves the engine's state (and the draft, '' for none).
pub async fn save(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
    guide_id: Option<i64>,
    state: &str,
    draft: &str,
    now: i64,
) -> Result<(), StoreError> {
    let updated = tx
        .execute(
            "UPDATE conversations SET agent_id = $2, guide_id = $3, state = $4, draft = $5, updated_at = $6
             WHERE case_id = $1",
            args![case_id, agent_id, guide_id, state, draft, now],
        )
        .await?;
    if updated == 0 {
        tx.execute(
            "INSERT INTO conversations (case_id, agent_id, guide_id, state, draft, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            args![case_id, agent_id, guide_id, state, draft, now],
        )
        .await?;
    }
    Ok(())
}

/// A finished conversation's result, as stored for the case manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewResult<'a> {
    pub outcome: &'a str,
    pub guide_version: &'a str,
    pub identity_method: Option<&'a str>,
    pub identity_passed: bool,
    pub consent: bool,
    pub answers: &'a str,
    pub changes: &'a str,
    pub flags: &'a str,
    /// The flags as codes for filtering (`results::flag_codes`).
    pub flag_codes: &'a str,
}

/// Stores the result, closes the case with `disposition` (a refusal makes
/// it an invitation candidate, never an invitation) and ends the lease.
pub async fn finish(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
    result: &NewResult<'_>,
    disposition: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let closed = tx
        .execute(
            "UPDATE cases SET final_disposition = $3, state = 'final', leased_to = NULL, lease_expires_at = NULL,
                due_at = NULL, callback_at = NULL, callback_user_id = NULL,
                invitation_candidate = $4, closed_at = $5
             WHERE id = $1 AND leased_to = $2 AND final_disposition IS NULL",
            args![case_id, agent_id, disposition, disposition == "refused", now],
        )
        .await?;
    if closed != 1 {
        return Ok(false);
    }
    tx.execute(
        "INSERT INTO results (case_id, outcome, guide_version, identity_method, identity_passed, consent_given,
            answers, changes, flags, created_by, created_at, flag_codes)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        args![
            case_id,
            result.outcome,
            result.guide_version,
            result.identity_method,
            result.identity_passed,
            result.consent,
            result.answers,
            result.changes,
            result.flags,
            agent_id,
            now,
            result.flag_codes
        ],
    )
    .await?;
    tx.execute(
        "DELETE FROM conversations WHERE case_id = $1",
        args![case_id],
    )
    .await?;
    Ok(true)
}
