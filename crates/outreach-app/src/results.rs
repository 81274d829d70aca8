//! Results of the calls, handed over to the job center's case managers and
//! its systems.

use crate::{Error, Result, Source};
use outreach_core::audit::AuditAction;
use outreach_core::results::ExportCase;
use outreach_store::results;
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
    let cases = results::export_cases(&mut tx, job_center_id, c.id, since).await?;
    let ids: Vec<i64> = cases.iter().map(|k| k.case_id).collect();
    results::mark_handed_over(&mut tx, &ids, now).await?;
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

// ---- the results inbox of the job center's case managers ----

use outreach_core::access::{Actor, CustomerScope, Role, customer_scope};
use outreach_core::guide::Field;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::campaign::Campaign;
pub use outreach_store::invitation::StoredInvitation;
pub use outreach_store::results::{Dispute, InboxDetail, InboxFilter, InboxItem};

use crate::Caller;

fn scope_of(actor: &Actor) -> Result<CustomerScope> {
    customer_scope(actor).ok_or(Error::Forbidden)
}

fn job_center_of(scope: &CustomerScope) -> Result<i64> {
    match scope {
        CustomerScope::JobCenter { job_center_id }
        | CustomerScope::CaseManager { job_center_id, .. } => Ok(*job_center_id),
        CustomerScope::ServiceCenter { .. } => Err(Error::Forbidden),
    }
}

fn purpose(role: Role) -> &'static str {
    match role {
        Role::CaseManager => "Vorbereitung der persönlichen Beratung (eigene Kundinnen und Kunden)",
        _ => "Verwaltung der Gesprächsergebnisse des Jobcenters",
    }
}

/// One page of the inbox.
pub struct Inbox {
    /// The job center's campaigns, for the filter.
    pub campaigns: Vec<Campaign>,
    /// How many cases match the filter in all.
    pub total: i64,
    pub items: Vec<InboxItem>,
}

/// Page `page` (from 1) of the caller's inbox, `page_size` cases, newest
/// first; audited when it shows any case.
pub async fn inbox(
    db: &Db,
    by: Caller<'_>,
    filter: &InboxFilter,
    page: i64,
    page_size: i64,
    now: i64,
) -> Result<Inbox> {
    let scope = scope_of(by.actor)?;
    let jc = job_center_of(&scope)?;
    let mut tx = db.begin().await?;
    let campaigns = campaign::list(&mut tx, jc).await?;
    let total = results::count(&mut tx, &scope, filter).await?;
    let items = results::list(&mut tx, &scope, filter, page_size, (page - 1) * page_size).await?;
    if !items.is_empty() {
        let event = AuditEvent::by(by.actor, AuditAction::ResultList, by.client)
            .record(
                "result_list",
                format!("Seite {page}, {} Fälle", items.len()),
            )
            .fields("Kundennummer, Name, Aktion, Ergebnis, Datum, Merkmale")
            .purpose(purpose(by.actor.role))
            .job_center(Some(jc));
        audit::append(&mut tx, &event, now).await?;
    }
    tx.commit().await?;
    Ok(Inbox {
        campaigns,
        total,
        items,
    })
}

/// A result as its page shows it.
pub struct ResultCase {
    pub detail: InboxDetail,
    pub disputes: Vec<Dispute>,
    /// The job center's pAp codes, for the administration's reassignment.
    pub pap_codes: Vec<String>,
    pub invitations: Vec<StoredInvitation>,
}

const DETAIL_FIELDS: &str =
    "Kundennummer, Name, Aktion, Ergebnis, Änderungen (alt → neu), Merkmale, Notiz";

/// Opens result `id` (audited). The assigned pAp opening it marks it read;
/// the administration looking leaves it unread for them.
pub async fn open(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<ResultCase> {
    let actor = by.actor;
    let scope = scope_of(actor)?;
    let jc = job_center_of(&scope)?;
    let mut tx = db.begin().await?;
    let detail = results::get(&mut tx, &scope, id)
        .await?
        .ok_or(Error::NotFound)?;
    let disputes = results::disputes(&mut tx, &scope, id).await?;
    let invitations = outreach_store::invitation::for_case(&mut tx, jc, id).await?;
    let pap_codes = if actor.role == Role::JobcenterAdmin {
        results::pap_codes(&mut tx, jc).await?
    } else {
        Vec::new()
    };
    if actor.role == Role::CaseManager {
        results::mark_read(&mut tx, &scope, id, now).await?;
    }
    let event = AuditEvent::by(actor, AuditAction::ResultRead, by.client)
        .record("case", id)
        .fields(DETAIL_FIELDS)
        .purpose(purpose(actor.role))
        .job_center(Some(detail.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(ResultCase {
        detail,
        disputes,
        pap_codes,
        invitations,
    })
}

/// The result in the caller's scope, or "not found" (the same answer as for
/// a case that doesn't exist).
async fn in_scope(db: &Db, scope: &CustomerScope, id: i64) -> Result<InboxDetail> {
    let mut tx = db.read().await?;
    let d = results::get(&mut tx, scope, id).await?;
    tx.commit().await?;
    d.ok_or(Error::NotFound)
}

/// Notes that the caller has taken the result in (audited the first time).
pub async fn acknowledge(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<()> {
    let scope = scope_of(by.actor)?;
    let d = in_scope(db, &scope, id).await?;
    let mut tx = db.begin().await?;
    if results::acknowledge(&mut tx, &scope, id, by.actor.user_id, now).await? {
        let event = AuditEvent::by(by.actor, AuditAction::ResultAcknowledge, by.client)
            .record("case", id)
            .fields("zur Kenntnis genommen")
            .job_center(Some(d.job_center_id));
        audit::append(&mut tx, &event, now).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// At most this many characters in a dispute's note.
pub const NOTE_MAX: usize = 500;

/// Why a dispute was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeProblem {
    /// The conversation changed no value: there is nothing to dispute.
    NothingChanged,
    /// The field is not one this conversation changed.
    FieldNotChanged,
    NoteTooLong,
    NoteControlCharacters,
}

/// Marks the changed value of `field` as disputed by the customer, with a
/// note (audited); the value itself stays as stored.
pub async fn dispute(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    field: &str,
    note: &str,
    now: i64,
) -> Result<std::result::Result<(), Vec<DisputeProblem>>> {
    let scope = scope_of(by.actor)?;
    let d = in_scope(db, &scope, id).await?;
    let changes = d.changes();
    if changes.is_empty() {
        return Ok(Err(vec![DisputeProblem::NothingChanged]));
    }
    let mut problems = Vec::new();
    let field = Field::parse(field).filter(|f| changes.iter().any(|c| c.field == *f));
    if field.is_none() {
        problems.push(DisputeProblem::FieldNotChanged);
    }
    if note.chars().count() > NOTE_MAX {
        problems.push(DisputeProblem::NoteTooLong);
    }
    if note
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        problems.push(DisputeProblem::NoteControlCharacters);
    }
    let Some(field) = field.filter(|_| problems.is_empty()) else {
        return Ok(Err(problems));
    };
    let mut tx = db.begin().await?;
    if !results::dispute(
        &mut tx,
        &scope,
        id,
        field.code(),
        note,
        by.actor.user_id,
        now,
    )
    .await?
    {
        return Err(Error::NotFound);
    }
    let event = AuditEvent::by(by.actor, AuditAction::ResultDispute, by.client)
        .record("case", id)
        .fields(&format!("{}: bestritten", field.label()))
        .job_center(Some(d.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Assigns the result to the case manager with pAp code `pap` (audited);
/// `false` when the job center has no such code.
pub async fn reassign(db: &Db, by: Caller<'_>, id: i64, pap: &str, now: i64) -> Result<bool> {
    let scope = scope_of(by.actor)?;
    let d = in_scope(db, &scope, id).await?;
    let known = {
        let mut tx = db.read().await?;
        let codes = results::pap_codes(&mut tx, d.job_center_id).await?;
        tx.commit().await?;
        codes.iter().any(|c| c == pap)
    };
    if !known {
        return Ok(false);
    }
    let mut tx = db.begin().await?;
    if !results::reassign(&mut tx, &scope, id, pap).await? {
        return Err(Error::NotFound);
    }
    let event = AuditEvent::by(by.actor, AuditAction::ResultReassign, by.client)
        .record("case", id)
        .fields(&format!("zugewiesen an pAp {pap}"))
        .job_center(Some(d.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The campaigns whose results the caller's job center may export.
pub async fn export_campaigns(db: &Db, actor: &Actor) -> Result<Vec<Campaign>> {
    let jc = job_center_of(&scope_of(actor)?)?;
    let mut tx = db.read().await?;
    let campaigns = campaign::list(&mut tx, jc).await?;
    tx.commit().await?;
    Ok(campaigns)
}

/// The export as the administration asks for it on its page.
pub struct ExportRequest<'a> {
    pub campaign_id: Option<i64>,
    /// Closed since (start of that day); `Err` when the form's date was
    /// not valid (then nothing is exported, but the campaign is checked).
    pub since: std::result::Result<Option<i64>, ()>,
    /// The date as entered, for the audit log.
    pub since_text: &'a str,
    pub json: bool,
}

/// The results of a campaign of the caller's job center for its own
/// system, marked handed over (audited). `Ok(Err(unknown_campaign))` when
/// nothing was exported.
pub async fn export(
    db: &Db,
    by: Caller<'_>,
    request: &ExportRequest<'_>,
    now: i64,
) -> Result<std::result::Result<(i64, Vec<ExportCase>), bool>> {
    let jc = job_center_of(&scope_of(by.actor)?)?;
    let campaign = match request.campaign_id {
        Some(id) => {
            let mut tx = db.read().await?;
            let c = campaign::by_id(&mut tx, RecordScope::JobCenter(jc), id).await?;
            tx.commit().await?;
            c.filter(|c| c.job_center_id == jc)
        }
        None => None,
    };
    let (Some(campaign), Ok(since)) = (&campaign, request.since) else {
        return Ok(Err(campaign.is_none()));
    };
    let mut tx = db.begin().await?;
    let cases = results::export_cases(&mut tx, jc, campaign.id, since).await?;
    let ids: Vec<i64> = cases.iter().map(|c| c.case_id).collect();
    results::mark_handed_over(&mut tx, &ids, now).await?;
    let event = AuditEvent::by(by.actor, AuditAction::ResultExport, by.client)
        .record("campaign", campaign.id)
        .fields(&format!(
            "{} Fälle als {}{}",
            cases.len(),
            if request.json { "JSON" } else { "CSV" },
            if request.since_text.is_empty() {
                String::new()
            } else {
                format!(", abgeschlossen seit {}", request.since_text)
            }
        ))
        .purpose("Übergabe an das Fachverfahren des Jobcenters")
        .job_center(Some(jc));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok((campaign.id, cases)))
}

/// The command line's export of campaign `campaign_id`'s results (closed
/// since `since`, the day as entered in `since_text`): `deliver` gets the
/// cases first; only when it succeeds are they marked handed over and the
/// export audited. `None` when there is no such campaign.
pub async fn operator_export(
    db: &Db,
    campaign_id: i64,
    (since, since_text): (Option<i64>, Option<&str>),
    json: bool,
    now: i64,
    deliver: impl FnOnce(&[ExportCase]) -> std::result::Result<(), String>,
) -> Result<Option<(Campaign, usize)>> {
    let campaign = {
        let mut tx = db.begin_read().await?;
        let c = campaign::by_id(&mut tx, RecordScope::Operator, campaign_id).await?;
        tx.commit().await?;
        match c {
            Some(c) => c,
            None => return Ok(None),
        }
    };
    let mut tx = db.begin().await?;
    let cases = results::export_cases(&mut tx, campaign.job_center_id, campaign.id, since).await?;
    deliver(&cases).map_err(Error::Internal)?;
    let ids: Vec<i64> = cases.iter().map(|c| c.case_id).collect();
    results::mark_handed_over(&mut tx, &ids, now).await?;
    let event = crate::Source::CommandLine
        .event(AuditAction::ResultExport)
        .record("campaign", campaign.id)
        .fields(&format!(
            "{} Fälle als {}{}",
            cases.len(),
            if json { "JSON" } else { "CSV" },
            since_text
                .map(|s| format!(", abgeschlossen seit {s}"))
                .unwrap_or_default()
        ))
        .purpose("Übergabe an das Fachverfahren des Jobcenters")
        .job_center(Some(campaign.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    let count = cases.len();
    Ok(Some((campaign, count)))
}
