//! Campaigns (Aktionen) of a job center's administration: create and edit a
//! draft under an active mandate, activate it (the selection is frozen into
//! cases), make advance letters in print batches, mark them sent, and record
//! a customer's objection. Every change and every read of customer data is
//! audited.

use crate::letters::{advance_letter, create_advance_batch, file_names, manifest};
use crate::{Caller, Error, Result};
use jiff::civil::Date;
use outreach_core::access::{Action, Actor, Home, Owner, can_on};
use outreach_core::audit::AuditAction;
use outreach_core::calling::CallingWindow;
use outreach_core::campaign::{
    CampaignProblem, CampaignSettings, CampaignState, MandateLimits, Selection,
};
use outreach_core::date::{format_de_date, parse_iso_date};
use outreach_core::mandate::MandateState;
use outreach_letters::{AdvanceLetter, LETTERS_PER_FILE};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::campaign;
pub use outreach_store::campaign::{CallableCounts, Campaign, CaseListing};
use outreach_store::guide;
pub use outreach_store::guide::StoredGuide;
use outreach_store::letters;
pub use outreach_store::letters::Batch;
pub use outreach_store::mandate::Mandate;
use outreach_store::mandate::{self, MandateScope};
use outreach_store::{Db, RecordScope};

fn job_center_of(actor: &Actor) -> Result<i64> {
    match actor.home {
        Home::JobCenter(id) => Ok(id),
        _ => Err(Error::Forbidden),
    }
}

fn scope_of(actor: &Actor) -> Result<RecordScope> {
    RecordScope::of(actor).ok_or(Error::NotFound)
}

/// The job center's campaigns.
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<Campaign>> {
    let jc = job_center_of(actor)?;
    let mut tx = db.begin_read().await?;
    let campaigns = campaign::list(&mut tx, jc).await?;
    tx.commit().await?;
    Ok(campaigns)
}

/// The campaign if it belongs to the actor's job center; otherwise "not
/// found", so other job centers' ids reveal nothing.
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<Campaign> {
    let scope = scope_of(actor)?;
    let mut tx = db.begin_read().await?;
    let c = campaign::by_id(&mut tx, scope, id)
        .await?
        .ok_or(Error::NotFound)?;
    tx.commit().await?;
    if can_on(
        actor,
        Action::ManageCampaigns,
        Owner::JobCenter(c.job_center_id),
    ) {
        Ok(c)
    } else {
        Err(Error::NotFound)
    }
}

/// A campaign that may still be changed, or one whose selection and letters
/// are fixed.
pub enum Editable {
    Draft(Campaign),
    /// Only a draft can be changed; after activation selection and letters
    /// are fixed.
    Fixed(Campaign),
}

/// The campaign and whether it may still be changed.
pub async fn editable(db: &Db, actor: &Actor, id: i64) -> Result<Editable> {
    let c = get(db, actor, id).await?;
    Ok(if c.state() == CampaignState::Draft {
        Editable::Draft(c)
    } else {
        Editable::Fixed(c)
    })
}

async fn active_mandates(db: &Db, jc: i64) -> Result<Vec<Mandate>> {
    let mut tx = db.begin_read().await?;
    let mandates = mandate::list(&mut tx, MandateScope::JobCenter(jc)).await?;
    tx.commit().await?;
    Ok(mandates
        .into_iter()
        .filter(|m| m.state() == MandateState::Active)
        .collect())
}

/// What the campaign form offers to choose from.
pub struct FormChoices {
    /// The job center's active mandates.
    pub mandates: Vec<Mandate>,
    /// The guides the job center may use.
    pub guides: Vec<StoredGuide>,
}

pub async fn form_choices(db: &Db, actor: &Actor) -> Result<FormChoices> {
    let jc = job_center_of(actor)?;
    let guides = {
        let mut tx = db.begin_read().await?;
        let guides = guide::list(&mut tx, jc).await?;
        tx.commit().await?;
        guides
    };
    Ok(FormChoices {
        mandates: active_mandates(db, jc).await?,
        guides,
    })
}

/// How many of the job center's customers `selection` takes on `today`.
pub async fn preview_count(
    db: &Db,
    actor: &Actor,
    selection: &Selection,
    today: Date,
) -> Result<i64> {
    let jc = job_center_of(actor)?;
    let mut tx = db.begin_read().await?;
    let count = campaign::preview_count(&mut tx, jc, selection, today).await?;
    tx.commit().await?;
    Ok(count)
}

/// A campaign's settings as the form gave them: each part `None` when the
/// form's value could not be read (the form names that problem).
pub struct CampaignInput {
    pub name: String,
    pub mandate_id: Option<i64>,
    pub guide_id: Option<i64>,
    pub selection: Selection,
    pub attempts_per_day: u32,
    pub attempts_total: u32,
    pub lead_days: u32,
    pub period_start: Option<Date>,
    pub period_end: Option<Date>,
    pub window: Option<CallingWindow>,
    /// Whether every value of the form could be read.
    pub readable: bool,
}

/// Why settings were not saved, besides what the form could not read.
#[derive(Debug, Default)]
pub struct Refusal {
    /// No active mandate of the job center was chosen.
    pub no_mandate: bool,
    /// No guide the job center may use was chosen.
    pub no_guide: bool,
    /// The settings break a rule (of the campaign or its mandate).
    pub problems: Vec<CampaignProblem>,
}

/// What saving a campaign's settings came to.
pub enum Saved {
    /// Stored as campaign `id`.
    Saved(i64),
    Refused(Refusal),
    /// The campaign was activated in the meantime: nothing was changed.
    NotDraft,
}

/// The settings, checked against the job center's mandates and guides and
/// the rules; the refusal names what is wrong.
async fn checked(
    db: &Db,
    jc: i64,
    input: CampaignInput,
) -> Result<std::result::Result<(CampaignSettings, Mandate), Refusal>> {
    let mandate = match input.mandate_id {
        Some(id) => active_mandates(db, jc)
            .await?
            .into_iter()
            .find(|m| m.id == id),
        None => None,
    };
    let guide = match input.guide_id {
        Some(id) => {
            let mut tx = db.begin_read().await?;
            let g = guide::by_id(&mut tx, RecordScope::JobCenter(jc), id).await?;
            tx.commit().await?;
            g
        }
        None => None,
    };
    let mut refusal = Refusal {
        no_mandate: mandate.is_none(),
        no_guide: guide.is_none(),
        problems: Vec::new(),
    };
    let settings = match (input.period_start, input.period_end, input.window) {
        (Some(period_start), Some(period_end), Some(window)) => Some(CampaignSettings {
            name: input.name,
            selection: input.selection,
            guide_ref: guide.as_ref().map(StoredGuide::label).unwrap_or_default(),
            guide_id: guide.as_ref().map(|g| g.id),
            window,
            attempts_per_day: input.attempts_per_day,
            attempts_total: input.attempts_total,
            lead_days: input.lead_days,
            period_start,
            period_end,
        }),
        _ => None,
    };
    if let (Some(settings), Some(m)) = (&settings, &mandate) {
        let broken = || Error::Internal(format!("mandate {}: period unreadable", m.id));
        let limits = MandateLimits {
            window: m.window(),
            period_start: parse_iso_date(&m.period_start).ok_or_else(broken)?,
            period_end: parse_iso_date(&m.period_end).ok_or_else(broken)?,
        };
        refusal.problems = settings.problems(&limits);
    }
    Ok(
        match (settings, mandate, input.readable && !refusal.no_guide) {
            (Some(settings), Some(m), true) if refusal.problems.is_empty() => Ok((settings, m)),
            _ => Err(refusal),
        },
    )
}

/// Creates a draft campaign with `input`'s settings (audited).
pub async fn create(db: &Db, by: Caller<'_>, input: CampaignInput, now: i64) -> Result<Saved> {
    let jc = job_center_of(by.actor)?;
    let (settings, m) = match checked(db, jc, input).await? {
        Ok(checked) => checked,
        Err(refusal) => return Ok(Saved::Refused(refusal)),
    };
    let mut tx = db.begin().await?;
    let id = campaign::create(&mut tx, jc, m.id, &settings, by.actor.user_id, now).await?;
    let event = AuditEvent::by(by.actor, AuditAction::CampaignCreate, by.client)
        .record("campaign", id)
        .fields(&settings.selection.label())
        .purpose(&format!("Auftrag „{}“", m.title));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Saved::Saved(id))
}

/// Saves draft `c`'s changed settings (audited).
pub async fn update(
    db: &Db,
    by: Caller<'_>,
    c: &Campaign,
    input: CampaignInput,
    now: i64,
) -> Result<Saved> {
    let (settings, m) = match checked(db, c.job_center_id, input).await? {
        Ok(checked) => checked,
        Err(refusal) => return Ok(Saved::Refused(refusal)),
    };
    let mut tx = db.begin().await?;
    if !campaign::update(&mut tx, scope_of(by.actor)?, c.id, m.id, &settings).await? {
        tx.rollback().await?;
        return Ok(Saved::NotDraft);
    }
    let event = AuditEvent::by(by.actor, AuditAction::CampaignEdit, by.client)
        .record("campaign", c.id)
        .fields(&settings.selection.label())
        .purpose(&format!("Auftrag „{}“", m.title));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Saved::Saved(c.id))
}

/// A campaign as its page shows it.
pub struct Overview {
    pub counts: CallableCounts,
    pub batches: Vec<Batch>,
    /// Whether some of its cases wait for their advance letter.
    pub pending_letters: bool,
    /// The first 50 cases matching `search`.
    pub cases: Vec<CaseListing>,
}

/// Campaign `c`'s figures, batches and cases (the names shown are a read
/// of customer data: audited).
pub async fn overview(
    db: &Db,
    by: Caller<'_>,
    c: &Campaign,
    search: &str,
    today: Date,
    now: i64,
) -> Result<Overview> {
    let scope = scope_of(by.actor)?;
    let mut tx = db.begin().await?;
    let counts = campaign::callable_counts(&mut tx, c, today).await?;
    let batches = letters::batches(&mut tx, scope, c.id).await?;
    let pending_letters = c.state() != CampaignState::Draft
        && letters::pending_count(&mut tx, scope, c.id).await? > 0;
    let cases = campaign::cases(&mut tx, c, search, 50, 0).await?;
    if !cases.is_empty() {
        let event = AuditEvent::by(by.actor, AuditAction::CustomerList, by.client)
            .record("campaign", c.id)
            .fields(&format!(
                "{} Fälle: Kundennummer, Name, Stand der Vorabinformation",
                cases.len()
            ))
            .purpose(&format!("Aktion „{}“", c.name));
        audit::append(&mut tx, &event, now).await?;
    }
    tx.commit().await?;
    Ok(Overview {
        counts,
        batches,
        pending_letters,
        cases,
    })
}

/// Why a campaign's state did not change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateRefusal {
    /// There is no such step from its state.
    NoTransition {
        from: CampaignState,
        to: CampaignState,
    },
    /// Only a campaign under an active mandate can be active.
    MandateInactive,
}

/// What a change of state came to.
pub enum StateChange {
    /// Changed; `activated`: a draft became active and its cases exist.
    Changed {
        activated: bool,
    },
    /// Changed by someone else in the meantime: nothing was done.
    Unchanged,
    Refused(Campaign, StateRefusal),
    /// No state was named (the page's buttons always name one).
    NoState,
}

/// Moves campaign `id` to state `to` (audited); activating a draft freezes
/// its selection into cases.
pub async fn change_state(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    to: Option<CampaignState>,
    today: Date,
    now: i64,
) -> Result<StateChange> {
    let c = get(db, by.actor, id).await?;
    let Some(to) = to else {
        return Ok(StateChange::NoState);
    };
    let from = c.state();
    if from.transition(to).is_none() {
        return Ok(StateChange::Refused(
            c,
            StateRefusal::NoTransition { from, to },
        ));
    }
    if to == CampaignState::Active && c.mandate_state != MandateState::Active.code() {
        return Ok(StateChange::Refused(c, StateRefusal::MandateInactive));
    }
    let activating = from == CampaignState::Draft && to == CampaignState::Active;
    let mut tx = db.begin().await?;
    let fields = if activating {
        match campaign::activate(&mut tx, &c, today, now).await? {
            Some(cases) => format!("Entwurf → aktiv, {cases} Fälle festgeschrieben"),
            None => return Ok(StateChange::Unchanged),
        }
    } else {
        if !campaign::set_state(&mut tx, scope_of(by.actor)?, id, from, to).await? {
            return Ok(StateChange::Unchanged);
        }
        format!("{} → {}", from.label(), to.label())
    };
    let event = AuditEvent::by(by.actor, AuditAction::CampaignStateChange, by.client)
        .record("campaign", id)
        .fields(&fields);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(StateChange::Changed {
        activated: activating,
    })
}

/// What asking for a batch of advance letters came to.
pub enum BatchCreation {
    Created,
    /// No case waits for its letter.
    Nothing,
    /// A draft has no cases yet.
    Draft(Campaign),
}

/// Puts the advance letters of campaign `id`'s cases that have none into a
/// new batch, dated `today` (audited).
pub async fn create_batch(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    today: Date,
    now: i64,
) -> Result<BatchCreation> {
    let c = get(db, by.actor, id).await?;
    if c.state() == CampaignState::Draft {
        return Ok(BatchCreation::Draft(c));
    }
    let mut tx = db.begin().await?;
    let created = create_advance_batch(
        &mut tx,
        scope_of(by.actor)?,
        c.id,
        today,
        Some(by.actor.user_id),
        now,
    )
    .await?;
    let Some((batch_id, count)) = created else {
        return Ok(BatchCreation::Nothing);
    };
    let event = AuditEvent::by(by.actor, AuditAction::LetterBatchCreate, by.client)
        .record("letter_batch", batch_id)
        .fields(&format!(
            "{count} Vorabinformationen: Name, Anschrift, Kundennummer, BG-Nummer"
        ))
        .purpose(&format!("Aktion „{}“", c.name));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(BatchCreation::Created)
}

/// Batch `batch_id` if it belongs to campaign `id` (which the actor owns).
pub async fn batch(db: &Db, actor: &Actor, id: i64, batch_id: i64) -> Result<(Campaign, Batch)> {
    let c = get(db, actor, id).await?;
    let mut tx = db.begin_read().await?;
    let scope = RecordScope::JobCenter(c.job_center_id);
    let b = letters::batch_by_id(&mut tx, scope, batch_id).await?;
    tx.commit().await?;
    match b {
        Some(b) if b.campaign_id == c.id => Ok((c, b)),
        _ => Err(Error::NotFound),
    }
}

/// Records that the caller reads a batch's letters (`what`).
async fn audit_print(
    db: &Db,
    by: Caller<'_>,
    c: &Campaign,
    b: &Batch,
    what: &str,
    now: i64,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let event = AuditEvent::by(by.actor, AuditAction::LetterPrint, by.client)
        .record("letter_batch", b.id)
        .fields(what)
        .purpose(&format!("Vorabinformation zur Aktion „{}“", c.name));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The file names of a batch's PDF parts, in order.
pub fn part_names(b: &Batch) -> Vec<String> {
    file_names(b.id, usize::try_from(b.letter_count).unwrap_or(0))
}

/// Part `part` (from 1) of batch `batch_id` of campaign `id` as a PDF,
/// typeset now from the current data (audited): its file name and content.
pub async fn batch_part(
    db: &Db,
    by: Caller<'_>,
    (id, batch_id, part): (i64, i64, i64),
    now: i64,
) -> Result<(String, Vec<u8>)> {
    let (c, b) = batch(db, by.actor, id, batch_id).await?;
    let names = part_names(&b);
    let Some((index, name)) = usize::try_from(part - 1)
        .ok()
        .and_then(|i| names.get(i).map(|n| (i, n.clone())))
    else {
        return Err(Error::NotFound);
    };
    audit_print(
        db,
        by,
        &c,
        &b,
        &format!("PDF Teil {part}: Name, Anschrift, Kundennummer, BG-Nummer, Prüfcode"),
        now,
    )
    .await?;
    let letter_date = parse_iso_date(&b.letter_date)
        .ok_or_else(|| Error::Internal(format!("batch {}: letter date unreadable", b.id)))?;
    let from = (index * LETTERS_PER_FILE) as i64;
    let mut tx = db.begin_read().await?;
    let rows = letters::batch_advance_range(
        &mut tx,
        scope_of(by.actor)?,
        b.id,
        from,
        from + LETTERS_PER_FILE as i64,
    )
    .await?;
    tx.commit().await?;
    let chunk: Vec<AdvanceLetter> = rows
        .iter()
        .map(|row| advance_letter(row, letter_date))
        .collect();
    let pdf = crate::letters::typeset(move |renderer| renderer.advance_letters(&chunk)).await?;
    Ok((name, pdf))
}

/// The manifest of batch `batch_id` of campaign `id` (which customer's
/// letter is in which file on which page) as CSV (audited).
pub async fn batch_manifest(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    batch_id: i64,
    now: i64,
) -> Result<Vec<u8>> {
    let (c, b) = batch(db, by.actor, id, batch_id).await?;
    audit_print(db, by, &c, &b, "Manifest: Kundennummer, Datei, Seite", now).await?;
    let mut tx = db.begin_read().await?;
    let numbers = letters::batch_customer_numbers(&mut tx, scope_of(by.actor)?, b.id).await?;
    tx.commit().await?;
    Ok(manifest(b.id, &numbers))
}

/// Why a batch could not be marked sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentProblem {
    /// The date lies after today.
    InTheFuture,
}

/// Marks batch `b` of campaign `c` as sent on `sent_on` (audited): the
/// waiting period after the letters starts.
pub async fn mark_sent(
    db: &Db,
    by: Caller<'_>,
    (c, b): (&Campaign, &Batch),
    sent_on: Date,
    today: Date,
    now: i64,
) -> Result<std::result::Result<(), SentProblem>> {
    if sent_on > today {
        return Ok(Err(SentProblem::InTheFuture));
    }
    let mut tx = db.begin().await?;
    if letters::mark_sent(
        &mut tx,
        scope_of(by.actor)?,
        b.id,
        sent_on,
        Some(by.actor.user_id),
    )
    .await?
    {
        let event = AuditEvent::by(by.actor, AuditAction::LetterBatchSent, by.client)
            .record("letter_batch", b.id)
            .fields(&format!("Versand am {}", format_de_date(sent_on)))
            .purpose(&format!("Aktion „{}“", c.name));
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
    }
    Ok(Ok(()))
}

/// Case `case_id` of campaign `id`, if the actor owns the campaign.
pub async fn case(
    db: &Db,
    actor: &Actor,
    id: i64,
    case_id: i64,
) -> Result<(Campaign, CaseListing)> {
    let c = get(db, actor, id).await?;
    let mut tx = db.begin_read().await?;
    let k = campaign::case_by_id(&mut tx, &c, case_id).await?;
    tx.commit().await?;
    Ok((c, k.ok_or(Error::NotFound)?))
}

/// Records that the caller reads case `k` of campaign `c` (its page shows
/// the customer's number, name, letter and objection).
pub async fn record_case_read(
    db: &Db,
    by: Caller<'_>,
    (c, k): (&Campaign, &CaseListing),
    now: i64,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let event = AuditEvent::by(by.actor, AuditAction::CustomerRead, by.client)
        .record("customer", k.customer_id)
        .fields("Kundennummer, Name, Stand der Vorabinformation, Widerspruch")
        .purpose(&format!("Aktion „{}“", c.name));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Why an objection was not recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectionProblem {
    /// The date lies after today.
    InTheFuture,
    /// The case is closed already.
    Closed,
}

/// Records the customer's objection received on `received` (`None`: the
/// form's date was not readable): the case closes before any call
/// (audited).
pub async fn record_objection(
    db: &Db,
    by: Caller<'_>,
    (c, k): (&Campaign, &CaseListing),
    received: Option<Date>,
    today: Date,
    now: i64,
) -> Result<std::result::Result<(), Vec<ObjectionProblem>>> {
    let mut problems = Vec::new();
    if received.is_some_and(|d| d > today) {
        problems.push(ObjectionProblem::InTheFuture);
    }
    if k.final_disposition.is_some() {
        problems.push(ObjectionProblem::Closed);
    }
    let Some(received) = received.filter(|_| problems.is_empty()) else {
        return Ok(Err(problems));
    };
    let mut tx = db.begin().await?;
    if campaign::record_objection(
        &mut tx,
        scope_of(by.actor)?,
        k.id,
        received,
        by.actor.user_id,
        now,
    )
    .await?
    {
        let event = AuditEvent::by(by.actor, AuditAction::ObjectionRecord, by.client)
            .record("customer", k.customer_id)
            .fields(&format!(
                "Widerspruch vom {}; Fall {} abgeschlossen: Widerspruch vor Anruf",
                format_de_date(received),
                k.id
            ))
            .purpose(&format!("Aktion „{}“", c.name));
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
    }
    Ok(Ok(()))
}
