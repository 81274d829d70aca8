//! Data protection for the DPO and the job center's administration: access
//! requests (Art. 15 GDPR), restriction of processing (Art. 18) and
//! disputed values (§ 84 SGB X), the record of processing activities
//! (Art. 30) and the retention setting. Every read and change is audited.

use crate::{Caller, Error, Result};
use outreach_core::access::Actor;
use outreach_core::audit::AuditAction;
use outreach_core::customer::Field;
use outreach_core::privacy::{Section, processing_record};
use outreach_store::Db;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::subject;
pub use outreach_store::subject::{Disclosure, Found};

/// Longest note on a restriction or a dispute.
pub const NOTE_MAX: usize = 1000;
const DISPUTE_PURPOSE: &str = "Bestrittene Daten (§ 84 SGB X)";
const ACCESS_PURPOSE: &str = "Auskunft an die betroffene Person (Art. 15 DSGVO)";

/// The job center whose customers the actor may see here (`None`: a DPO
/// without a job center sees every one).
fn job_center_of(actor: &Actor) -> Option<i64> {
    actor.home.job_center()
}

/// The fields a value can be disputed for: their codes with their German
/// names, in the order of the record.
pub fn disputable() -> Vec<(&'static str, &'static str)> {
    Field::ALL
        .into_iter()
        .filter(|f| f.disputable())
        .map(|f| (f.code(), f.label()))
        .collect()
}

/// Whether `code` names a field whose value a customer can dispute.
fn is_disputable(code: &str) -> bool {
    Field::parse(code).is_some_and(Field::disputable)
}

/// A stored field's German name.
pub fn field_label(code: &str) -> &str {
    Field::parse(code).map_or(code, |c| c.label())
}

/// What is wrong with a note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteProblem {
    TooLong,
    ControlCharacters,
    /// A restriction needs its reason.
    Missing,
}

fn note_problem(note: &str) -> Option<NoteProblem> {
    if note.chars().count() > NOTE_MAX {
        return Some(NoteProblem::TooLong);
    }
    if note
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Some(NoteProblem::ControlCharacters);
    }
    None
}

/// The persons stored under customer number `number` that the caller may
/// see.
pub async fn find(db: &Db, actor: &Actor, number: &str) -> Result<Vec<Found>> {
    let mut tx = db.read().await?;
    let found = subject::find(&mut tx, job_center_of(actor), number).await?;
    tx.commit().await?;
    Ok(found)
}

/// Everything stored about customer `id` for an access request, in the
/// `form` named (page or JSON); the request is recorded.
pub async fn disclose(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    form: &str,
    now: i64,
) -> Result<Disclosure> {
    audit::seal(db).await?;
    let mut tx = db.begin().await?;
    let mut d = subject::disclosure(&mut tx, job_center_of(by.actor), id)
        .await?
        .ok_or(Error::NotFound)?;
    // The jobs holding the person now: a print archive with their letter,
    // an import's stored upload with their customer number.
    let jc = d.customer.job_center_id;
    d.jobs = outreach_store::jobs::prints_holding(&mut tx, jc, d.customer.id).await?;
    d.jobs.extend(
        outreach_store::jobs::imports_holding(db, jc, d.customer.record.customer_number.as_str())
            .await?,
    );
    d.jobs.sort_by_key(|j| j.created_at);
    let event = AuditEvent::by(by.actor, AuditAction::AccessRequest, by.client)
        .record("customer", d.customer.record.customer_number.as_str())
        .fields(&format!(
            "alle gespeicherten Daten ({form}): Stammdaten, {} Fälle, {} Anrufversuche, {} Ergebnisse, {} Schreiben, {} Einladungen, {} Protokollereignisse, {} laufende Arbeiten",
            d.cases.len(),
            d.attempts.len(),
            d.results.len(),
            d.letters.len(),
            d.invitations.len(),
            d.audit_events.len(),
            d.jobs.len()
        ))
        .purpose(ACCESS_PURPOSE)
        .job_center(Some(d.customer.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(d)
}

/// Customer `id`'s restriction and disputed values, for the page of the
/// data subject's rights (audited).
pub async fn rights(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<Disclosure> {
    audit::seal(db).await?;
    let mut tx = db.begin().await?;
    let d = subject::disclosure(&mut tx, job_center_of(by.actor), id)
        .await?
        .ok_or(Error::NotFound)?;
    let event = AuditEvent::by(by.actor, AuditAction::CustomerRead, by.client)
        .record("customer", d.customer.record.customer_number.as_str())
        .fields("Kundennummer, Name, Einschränkung, bestrittene Werte")
        .purpose("Betroffenenrechte (Art. 18 DSGVO, § 84 SGB X)")
        .job_center(Some(d.customer.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(d)
}

/// The customer's job center and number if the actor may see them (else
/// not found).
async fn owner(db: &Db, actor: &Actor, id: i64) -> Result<(i64, String)> {
    let mut tx = db.read().await?;
    let found = subject::owner(&mut tx, job_center_of(actor), id).await?;
    tx.commit().await?;
    found.ok_or(Error::NotFound)
}

/// The audit event of a change of a customer's data-protection state.
fn change_event(
    by: Caller<'_>,
    action: AuditAction,
    (jc, number): (i64, &str),
    fields: &str,
    purpose: &str,
) -> AuditEvent {
    AuditEvent::by(by.actor, action, by.client)
        .record("customer", number)
        .fields(fields)
        .purpose(purpose)
        .job_center(Some(jc))
}

/// Why a restriction was neither set nor lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestrictProblem {
    /// Neither "restrict" nor "lift" was chosen.
    NoChoice,
    Note(NoteProblem),
}

/// Restricts the processing of customer `id`'s data (`Some(true)`: their
/// open leases end and they leave every call list) or lifts the
/// restriction (`Some(false)`); audited. A restriction needs its reason in
/// `note`.
pub async fn restrict(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    restrict: Option<bool>,
    note: &str,
    now: i64,
) -> Result<std::result::Result<(), RestrictProblem>> {
    let (jc, number) = owner(db, by.actor, id).await?;
    let Some(restrict) = restrict else {
        return Ok(Err(RestrictProblem::NoChoice));
    };
    if let Some(problem) = note_problem(note) {
        return Ok(Err(RestrictProblem::Note(problem)));
    }
    if restrict && note.is_empty() {
        return Ok(Err(RestrictProblem::Note(NoteProblem::Missing)));
    }
    let mut tx = db.begin().await?;
    let ended = subject::set_restricted(&mut tx, id, restrict, note, by.actor.user_id, now).await?;
    let fields = if restrict {
        format!("eingeschränkt: {note}; beendete Zuteilungen: {ended}")
    } else {
        "Einschränkung aufgehoben".to_string()
    };
    let event = change_event(
        by,
        AuditAction::CustomerRestrict,
        (jc, &number),
        &fields,
        "Einschränkung der Verarbeitung (Art. 18 DSGVO)",
    );
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Why a value could not be marked as disputed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisputeProblem {
    /// No field a value can be disputed for.
    UnknownField,
    Note(NoteProblem),
}

/// Marks the stored value of `field` as disputed by the customer, with a
/// note; the value stays stored (audited).
pub async fn dispute(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    field: &str,
    note: &str,
    now: i64,
) -> Result<std::result::Result<(), Vec<DisputeProblem>>> {
    let (jc, number) = owner(db, by.actor, id).await?;
    let mut problems = Vec::new();
    if !is_disputable(field) {
        problems.push(DisputeProblem::UnknownField);
    }
    if let Some(problem) = note_problem(note) {
        problems.push(DisputeProblem::Note(problem));
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let mut tx = db.begin().await?;
    subject::mark_disputed(&mut tx, id, field, note, by.actor.user_id, now).await?;
    let fields = format!("{}: bestritten", field_label(field));
    let event = change_event(
        by,
        AuditAction::CustomerDispute,
        (jc, &number),
        &fields,
        DISPUTE_PURPOSE,
    );
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Removes the mark "disputed" from the value of `field` (audited); `false`
/// when the value was not marked.
pub async fn clear_dispute(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    field: &str,
    now: i64,
) -> Result<bool> {
    let (jc, number) = owner(db, by.actor, id).await?;
    // Only a field that can be disputed can be cleared (the value reaches
    // the database only then: PostgreSQL refuses a NUL in text).
    if !is_disputable(field) {
        return Ok(false);
    }
    let mut tx = db.begin().await?;
    if subject::clear_dispute(&mut tx, id, field).await? == 0 {
        return Ok(false);
    }
    let fields = format!("{}: Markierung „bestritten“ entfernt", field_label(field));
    let event = change_event(
        by,
        AuditAction::CustomerDispute,
        (jc, &number),
        &fields,
        DISPUTE_PURPOSE,
    );
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The record of processing activities of one job center.
pub struct ProcessingRecord {
    pub sections: Vec<Section>,
    /// The job centers the caller may choose from: (id, name).
    pub job_centers: Vec<(i64, String)>,
    pub selected: i64,
}

/// The record of the caller's own job center, or of the one a DPO without
/// a job center chose (the first when none was chosen); audited.
pub async fn processing_record_of(
    db: &Db,
    by: Caller<'_>,
    chosen: Option<i64>,
    audit_months: i32,
    now: i64,
) -> Result<ProcessingRecord> {
    let mut tx = db.begin().await?;
    let job_centers: Vec<(i64, String)> = match job_center_of(by.actor) {
        Some(own) => outreach_store::org::job_center(&mut tx, own)
            .await?
            .map(|j| vec![(j.id, j.name)])
            .unwrap_or_default(),
        None => outreach_store::org::list_job_centers(&mut tx)
            .await?
            .into_iter()
            .map(|j| (j.id, j.name))
            .collect(),
    };
    let selected = match chosen {
        Some(id) if job_centers.iter().any(|(j, _)| *j == id) => id,
        Some(_) => return Err(Error::NotFound),
        None => job_centers
            .first()
            .map(|(id, _)| *id)
            .ok_or(Error::NotFound)?,
    };
    let input = outreach_store::privacy::record_input(&mut tx, selected, audit_months)
        .await?
        .ok_or(Error::NotFound)?;
    let event = AuditEvent::by(by.actor, AuditAction::ProcessingRecord, by.client)
        .record("processing_record", selected)
        .purpose("Verzeichnis der Verarbeitungstätigkeiten")
        .job_center(Some(selected));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(ProcessingRecord {
        sections: processing_record(&input, outreach_core::date::berlin_date(now)),
        job_centers,
        selected,
    })
}

/// The job center's retention of results after their hand-over, in days,
/// and the latest runs of the deletion: (when, summary).
pub async fn retention(db: &Db, actor: &Actor) -> Result<(i64, Vec<(i64, String)>)> {
    let jc = job_center_of(actor).ok_or(Error::Forbidden)?;
    let mut tx = db.read().await?;
    let stored = outreach_store::privacy::result_retention_days(&mut tx, jc).await?;
    let runs = outreach_store::retention::recent_runs(&mut tx, 10).await?;
    tx.commit().await?;
    Ok((stored, runs))
}

/// The retention of results may be this many days.
pub const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=3650;

/// Sets the job center's retention of results (audited); `false` when
/// `days` is out of [`RETENTION_DAYS`].
pub async fn set_retention(db: &Db, by: Caller<'_>, days: i64, now: i64) -> Result<bool> {
    let jc = job_center_of(by.actor).ok_or(Error::Forbidden)?;
    if !RETENTION_DAYS.contains(&days) {
        return Ok(false);
    }
    let mut tx = db.begin().await?;
    outreach_store::privacy::set_result_retention_days(&mut tx, jc, days).await?;
    let event = AuditEvent::by(by.actor, AuditAction::RetentionChange, by.client)
        .record("job_center", jc)
        .fields(&format!(
            "Aufbewahrung der Ergebnisse nach Übergabe: {days} Tage"
        ))
        .purpose("Löschfristen festlegen")
        .job_center(Some(jc));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// The record of processing activities of the job center with code
/// `code` for the command line (audited); `None` when there is none.
pub async fn operator_processing_record(
    db: &Db,
    code: &str,
    audit_months: i32,
    now: i64,
) -> Result<Option<Vec<Section>>> {
    let mut tx = db.begin_read().await?;
    let Some(jc) = outreach_store::org::job_center_by_code(&mut tx, code).await? else {
        return Ok(None);
    };
    let input = outreach_store::privacy::record_input(&mut tx, jc.id, audit_months).await?;
    tx.commit().await?;
    let Some(input) = input else {
        return Ok(None);
    };
    let sections = processing_record(&input, outreach_core::date::berlin_date(now));
    let event = crate::Source::CommandLine
        .event(AuditAction::ProcessingRecord)
        .record("processing_record", code)
        .purpose("Verzeichnis der Verarbeitungstätigkeiten")
        .job_center(Some(jc.id));
    audit::append_alone(db, &event, now).await?;
    Ok(Some(sections))
}
