//! What the data protection pages and commands read: the record of processing
//! activities' input, and the job center's retention setting.

use crate::mandate::{self, MandateScope};
use crate::{StoreError, Tx, args, org};
use outreach_core::privacy::{Controller, MandateEntry, RecordInput};

/// The record's input for one job center (None: no such job center).
pub async fn record_input(
    tx: &mut Tx,
    job_center_id: i64,
    audit_months: i32,
) -> Result<Option<RecordInput>, StoreError> {
    let Some(jc) = org::job_center(tx, job_center_id).await? else {
        return Ok(None);
    };
    let mandates = mandate::list(tx, MandateScope::JobCenter(job_center_id)).await?;
    Ok(Some(RecordInput {
        controller: Controller {
            name: jc.name,
            street: jc.street,
            postcode: jc.postcode,
            city: jc.city,
            phone: jc.phone,
            email: jc.email,
            dpo_contact: jc.dpo_contact,
            supervisory_authority: jc.supervisory_authority,
        },
        mandates: mandates
            .into_iter()
            .map(|m| MandateEntry {
                state_label: m.state().label().to_string(),
                service_center: m.service_center_name,
                title: m.title,
                allowed_fields: m.allowed_fields,
                period_start: m.period_start,
                period_end: m.period_end,
                deletion_deadline: m.deletion_deadline,
                authority_notified_on: m.authority_notified_on,
            })
            .collect(),
        result_retention_days: result_retention_days(tx, job_center_id).await?,
        audit_months,
    }))
}

/// Days the job center keeps a result after handover.
pub async fn result_retention_days(tx: &mut Tx, job_center_id: i64) -> Result<i64, StoreError> {
    let (days,): (i64,) = tx
        .fetch_one(
            "SELECT result_retention_days FROM job_centers WHERE id = $1",
            args![job_center_id],
        )
        .await?;
    Ok(days)
}

/// Sets the days the job center keeps a result after handover (1 to 3650).
pub async fn set_result_retention_days(
    tx: &mut Tx,
    job_center_id: i64,
    days: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE job_centers SET result_retention_days = $2 WHERE id = $1",
        args![job_center_id, days],
    )
    .await?;
    Ok(())
}
