//! A campaign's settings: the form's choices, the live count of the
//! selection, and creating or editing a draft.

use super::*;

pub(super) async fn active_mandates(db: &Db, jc: i64) -> Result<Vec<Mandate>> {
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
pub(super) async fn checked(
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
