//! The service center's team lead: the queue of every running campaign
//! (team figures; per-agent figures, personnel data, only where the
//! mandate's job center switched them on) and releasing a case an agent
//! holds too long.

use crate::{Caller, Error, Result};
use outreach_core::access::Actor;
use outreach_core::audit::AuditAction;
use outreach_core::date::{berlin_date, berlin_day_start};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::calls::{self, AgentFigures, Overview, QueueScope};
use outreach_store::campaign::{self, CallableCounts, Campaign};
use outreach_store::mandate;
use outreach_store::{Db, RecordScope, Tx};

/// One running campaign's queue.
pub struct CampaignQueue {
    pub campaign: Campaign,
    /// Whether its calling window is open now.
    pub window_open: bool,
    pub overview: Overview,
    pub counts: CallableCounts,
    /// Per-agent figures, where the job center switched them on for the
    /// campaign's mandate; `None` (and nothing computed) where it did not.
    pub agent_figures: Option<AgentFiguresShown>,
}

/// Per-agent figures and the staff-council agreement that allows them.
pub struct AgentFiguresShown {
    /// The agreement's date (ISO) and reference.
    pub agreed_on: String,
    pub reference: String,
    pub agents: Vec<AgentFigures>,
}

/// The team lead's page: the running campaigns' queues and the agents online.
pub struct Queues {
    pub campaigns: Vec<CampaignQueue>,
    pub agents_online: i64,
}

fn service_center_of(actor: &Actor) -> Result<i64> {
    actor.home.service_center().ok_or(Error::Forbidden)
}

/// The queues of the team lead's service center at `now`.
pub async fn queues(db: &Db, actor: &Actor, now: i64) -> Result<Queues> {
    let sc = service_center_of(actor)?;
    let today = berlin_date(now);
    let mut tx = db.begin_read().await?;
    let running = campaign::running_for_service_center(&mut tx, sc, today).await?;
    let scope = QueueScope::new(actor.user_id, now, &running);
    let mut campaigns = Vec::new();
    for c in running {
        let open = scope.campaigns.iter().find(|o| o.id == c.id);
        let overview = calls::overview(&mut tx, c.id, open, &scope.holiday_states, now).await?;
        let counts = campaign::callable_counts(&mut tx, &c, today).await?;
        let agent_figures = agent_figures(&mut tx, &c, sc, berlin_day_start(today)).await?;
        campaigns.push(CampaignQueue {
            window_open: open.is_some(),
            campaign: c,
            overview,
            counts,
            agent_figures,
        });
    }
    let agents_online = calls::agents_online(&mut tx, sc, now).await?;
    tx.commit().await?;
    Ok(Queues {
        campaigns,
        agents_online,
    })
}

/// The per-agent figures of campaign `c` when its mandate (given to
/// service center `sc`) has them switched on; otherwise nothing is read.
async fn agent_figures(
    tx: &mut Tx,
    c: &Campaign,
    sc: i64,
    today_from: i64,
) -> Result<Option<AgentFiguresShown>> {
    let Some(m) = mandate::by_id(tx, RecordScope::ServiceCenter(sc), c.mandate_id).await? else {
        return Ok(None);
    };
    let (Some(agreed_on), Some(reference)) = (m.agent_figures_agreed_on, m.agent_figures_reference)
    else {
        return Ok(None);
    };
    Ok(Some(AgentFiguresShown {
        agreed_on,
        reference,
        agents: calls::agent_figures(tx, c.id, today_from).await?,
    }))
}

/// Takes a case back from the agent who holds it, so that it can be given
/// out again; audited. "Not found" when it is no case of the service center
/// or held by nobody.
pub async fn release(db: &Db, by: Caller<'_>, case_id: i64, now: i64) -> Result<()> {
    let sc = service_center_of(by.actor)?;
    let mut tx = db.begin().await?;
    if !calls::release_by_supervisor(&mut tx, case_id, sc).await? {
        return Err(Error::NotFound);
    }
    let event = AuditEvent::by(by.actor, AuditAction::LeaseRelease, by.client)
        .record("case", case_id)
        .fields("Zuteilung aufgehoben");
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}
