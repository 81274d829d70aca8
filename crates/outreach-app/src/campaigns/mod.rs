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
use outreach_core::calls::CallingWindow;
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

mod settings;
pub use settings::*;
mod batches;
pub use batches::*;
mod cases;
pub use cases::*;

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
    Refused(Box<Campaign>, StateRefusal),
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
            Box::new(c),
            StateRefusal::NoTransition { from, to },
        ));
    }
    if to == CampaignState::Active && c.mandate_state != MandateState::Active.code() {
        return Ok(StateChange::Refused(
            Box::new(c),
            StateRefusal::MandateInactive,
        ));
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
