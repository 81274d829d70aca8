//! Results of the calls, handed over to the job center's case managers and
//! its systems.

use crate::{Error, Result, Source};
use outreach_core::audit::AuditAction;
use outreach_core::handover::ExportCase;
use outreach_store::handover;
use outreach_store::{Db, RecordScope, campaign};

/// The results of campaign `campaign_id` of job center `job_center_id`
/// (closed since `since`, where given) for its system through the API,
/// marked handed over; audited. "Not found" when the job center has no
/// such campaign.
pub async fn hand_over(
    db: &Db,
    by: Source<'_>,
    job_center_id: i64,
    campaign_id: i64,
    since: Option<i64>,
    now: i64,
) -> Result<Vec<ExportCase>> {
    let mut tx = db.read().await?;
    let c = campaign::by_id(&mut tx, RecordScope::JobCenter(job_center_id), campaign_id).await?;
    tx.commit().await?;
    let c = c
        .filter(|c| c.job_center_id == job_center_id)
        .ok_or(Error::NotFound)?;
    let mut tx = db.begin().await?;
    let cases = handover::export_cases(&mut tx, job_center_id, c.id, since).await?;
    let ids: Vec<i64> = cases.iter().map(|k| k.case_id).collect();
    handover::mark_handed_over(&mut tx, &ids, now).await?;
    let e = by
        .event(AuditAction::ResultExport)
        .record("campaign", c.id)
        .fields(&format!(
            "{} Fälle als JSON über die Schnittstelle",
            cases.len()
        ))
        .purpose("Übergabe an das Fachverfahren des Jobcenters");
    outreach_store::audit::append(&mut tx, &e, now).await?;
    tx.commit().await?;
    Ok(cases)
}
