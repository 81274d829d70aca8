//! Conversation guides of the job center: the versions it may use (built in
//! and its own) and saving a new version (checked by the core's parser).

use crate::{Caller, Error, Result};
use outreach_core::access::Actor;
use outreach_core::audit::AuditAction;
use outreach_core::guide::Guide;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::guide;
pub use outreach_store::guide::{NotStored, StoredGuide};
use outreach_store::{Db, RecordScope, org};

fn job_center_of(actor: &Actor) -> Result<i64> {
    actor.home.job_center().ok_or(Error::Forbidden)
}

/// The versions the actor's job center may use.
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<StoredGuide>> {
    let jc = job_center_of(actor)?;
    let mut tx = db.begin_read().await?;
    Ok(guide::list(&mut tx, jc).await?)
}

/// One version if the actor's job center may use it; otherwise "not found".
pub async fn get(db: &Db, actor: &Actor, id: i64) -> Result<StoredGuide> {
    let jc = job_center_of(actor)?;
    let mut tx = db.begin_read().await?;
    guide::by_id(&mut tx, RecordScope::JobCenter(jc), id)
        .await?
        .ok_or(Error::NotFound)
}

/// Saves a checked guide as a new version of the caller's job center, with
/// its source text; audited. `Err(NotStored)` (nothing stored) when the
/// version exists already.
pub async fn save(
    db: &Db,
    by: Caller<'_>,
    guide: &Guide,
    source: &str,
    now: i64,
) -> Result<std::result::Result<i64, NotStored>> {
    let jc = job_center_of(by.actor)?;
    let mut tx = db.begin().await?;
    let stored = guide::insert(
        &mut tx,
        Some(jc),
        guide,
        source,
        Some(by.actor.user_id),
        now,
    )
    .await?;
    let id = match stored {
        Ok(id) => id,
        Err(not) => {
            tx.rollback().await?;
            return Ok(Err(not));
        }
    };
    let event = AuditEvent::by(by.actor, AuditAction::GuideCreate, by.client)
        .record("guide", id)
        .fields(&format!("{}, Version {}", guide.name, guide.version));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// The name of the actor's job center (as a guide's preview shows it).
pub async fn job_center_name(db: &Db, actor: &Actor) -> Result<String> {
    let jc = job_center_of(actor)?;
    let mut tx = db.begin_read().await?;
    let name = org::job_center(&mut tx, jc)
        .await?
        .map(|j| j.name)
        .unwrap_or_default();
    tx.commit().await?;
    Ok(name)
}
