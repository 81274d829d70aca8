//! Mandates (Aufträge, § 80 SGB X): the job center gives one to a service
//! center, activates and ends it; the service center's team leads read
//! their own.

use crate::{Caller, Error, Result};
use jiff::civil::Date;
use outreach_core::access::{Action, Actor, Home, Owner, can_on};
use outreach_core::audit::AuditAction;
use outreach_core::date::format_de_date;
use outreach_core::mandate::{AgentFiguresAgreement, MandateState, NewMandate};
use outreach_store::audit::{self, AuditEvent};
pub use outreach_store::mandate::Mandate;
use outreach_store::mandate::{self, MandateScope};
use outreach_store::org;
pub use outreach_store::org::ServiceCenter;
use outreach_store::{Db, RecordScope};

/// The mandates the actor's organisation gave or was given.
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<Mandate>> {
    let scope = match actor.home {
        Home::JobCenter(id) => MandateScope::JobCenter(id),
        Home::ServiceCenter(id) => MandateScope::ServiceCenter(id),
        Home::Global => return Err(Error::Forbidden),
    };
    let mut tx = db.begin_read().await?;
    Ok(mandate::list(&mut tx, scope).await?)
}

/// The service centers a mandate can go to.
pub async fn service_centers(db: &Db) -> Result<Vec<ServiceCenter>> {
    let mut tx = db.begin_read().await?;
    Ok(org::list_service_centers(&mut tx).await?)
}

/// One service center a mandate can go to.
pub async fn service_center(db: &Db, id: i64) -> Result<Option<ServiceCenter>> {
    let mut tx = db.begin_read().await?;
    Ok(org::service_center(&mut tx, id).await?)
}

/// Gives a new mandate (a draft) of the caller's job center; audited with
/// the fields it allows. Returns its id.
pub async fn create(db: &Db, by: Caller<'_>, new: &NewMandate, now: i64) -> Result<i64> {
    let Home::JobCenter(job_center_id) = by.actor.home else {
        return Err(Error::Forbidden);
    };
    let mut tx = db.begin().await?;
    let id = mandate::create(&mut tx, job_center_id, new, by.actor.user_id, now).await?;
    let event = AuditEvent::by(by.actor, AuditAction::MandateCreate, by.client)
        .record("mandate", id)
        .fields(&outreach_core::customer::field_list(&new.allowed_fields));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(id)
}

/// The mandate if the actor may take `action` on it; otherwise "not found".
pub async fn get(db: &Db, actor: &Actor, id: i64, action: Action) -> Result<Mandate> {
    let scope = RecordScope::of(actor).ok_or(Error::NotFound)?;
    let mut tx = db.begin_read().await?;
    let m = mandate::by_id(&mut tx, scope, id)
        .await?
        .ok_or(Error::NotFound)?;
    if can_on(actor, action, owner(&m)) {
        Ok(m)
    } else {
        Err(Error::NotFound)
    }
}

/// Whose mandate it is, for the access rules.
pub fn owner(m: &Mandate) -> Owner {
    Owner::Mandate {
        job_center_id: m.job_center_id,
        service_center_id: m.service_center_id,
    }
}

/// Moves the mandate `m` (as the caller last saw it) to `to`, recording the
/// supervisory authority's notice on `notified` where given; audited. False
/// when someone changed its state meanwhile (nothing is changed then).
pub async fn change_state(
    db: &Db,
    by: Caller<'_>,
    m: &Mandate,
    to: MandateState,
    notified: Option<Date>,
    now: i64,
) -> Result<bool> {
    let scope = RecordScope::of(by.actor).ok_or(Error::NotFound)?;
    let mut tx = db.begin().await?;
    if let Some(date) = notified {
        mandate::set_authority_notified(&mut tx, scope, m.id, &date.to_string()).await?;
    }
    if !mandate::set_state(&mut tx, scope, m.id, m.state(), to).await? {
        return Ok(false);
    }
    let event = AuditEvent::by(by.actor, AuditAction::MandateStateChange, by.client)
        .record("mandate", m.id)
        .fields(&format!("{} → {}", m.state().code(), to.code()));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// Switches per-agent figures on for mandate `m` on the staff-council
/// agreement `agreement`, or off (`None`); audited with the agreement's date
/// and reference. False when someone changed it meanwhile (nothing changed).
pub async fn set_agent_figures(
    db: &Db,
    by: Caller<'_>,
    m: &Mandate,
    agreement: Option<&AgentFiguresAgreement>,
    now: i64,
) -> Result<bool> {
    let scope = RecordScope::of(by.actor).ok_or(Error::NotFound)?;
    let mut tx = db.begin().await?;
    if !mandate::set_agent_figures(&mut tx, scope, m.id, agreement).await? {
        return Ok(false);
    }
    let fields = match agreement {
        Some(a) => format!(
            "eingeschaltet: Dienstvereinbarung vom {}, {}",
            format_de_date(a.agreed_on),
            a.reference
        ),
        None => "ausgeschaltet".to_string(),
    };
    let event = AuditEvent::by(by.actor, AuditAction::MandateAgentFigures, by.client)
        .record("mandate", m.id)
        .fields(&fields);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(true)
}
