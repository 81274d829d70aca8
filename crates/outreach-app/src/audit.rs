//! The DPO's audit log: reading and exporting it (each read itself
//! audited) and checking its chain.

use crate::{Caller, Error, Result};
use outreach_core::access::{Actor, Role};
use outreach_store::Db;
use outreach_store::audit::{self, AuditEvent, CheckRecord, RetentionState, Verification};

/// The person a "Kundennummer" filter names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Person {
    /// No number given.
    Any,
    /// Exactly one customer the DPO may see.
    Found,
    /// Nobody with this number.
    NoOne,
    /// The number exists in several job centers.
    SeveralJobCenters,
}

/// A page of the log with what the DPO sees above it.
pub struct Reading {
    pub person: Person,
    pub retention: RetentionState,
    pub last_check: Option<CheckRecord>,
    /// Empty unless listed (and the person was found, where one was named).
    pub events: Vec<StoredEvent>,
}

fn dpo(actor: &Actor) -> Result<()> {
    if actor.role == Role::Dpo {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// Resolves the customer number `number` into `filter`.
async fn resolve_person(
    tx: &mut outreach_store::Tx,
    number: &str,
    filter: &mut AuditFilter,
) -> Result<Person> {
    let number = number.trim().to_uppercase();
    if number.is_empty() {
        return Ok(Person::Any);
    }
    let found = outreach_store::subject::find(tx, filter.job_center_id, &number).await?;
    Ok(match found.as_slice() {
        [one] => {
            filter.person = Some(one.id);
            Person::Found
        }
        [] => Person::NoOne,
        _ => Person::SeveralJobCenters,
    })
}

/// The events of `filter` and of the customer numbered `number` (where
/// given), `limit` from `offset` (`None`: none listed, the filter being
/// wrong); the read is audited as page `page` with the filter in words.
#[allow(clippy::too_many_arguments)]
pub async fn read(
    db: &Db,
    by: Caller<'_>,
    mut filter: AuditFilter,
    number: &str,
    list: Option<(i64, i64)>,
    page: i64,
    described: &str,
    now: i64,
) -> Result<Reading> {
    dpo(by.actor)?;
    // Events appended a moment ago are sealed into the chain first.
    audit::seal(db).await?;
    let mut tx = db.begin().await?;
    let person = resolve_person(&mut tx, number, &mut filter).await?;
    let retention = audit::retention_state(&mut tx).await?;
    let last_check = audit::latest_check(&mut tx).await?;
    let events = match list {
        Some((limit, offset)) if matches!(person, Person::Any | Person::Found) => {
            audit::list(&mut tx, &filter, limit, offset).await?
        }
        _ => Vec::new(),
    };
    let event = AuditEvent::by(by.actor, AuditAction::AuditRead, by.client)
        .record("audit_log", format!("Seite {page}"))
        .fields(described)
        .purpose("Datenschutzkontrolle");
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Reading {
        person,
        retention,
        last_check,
        events,
    })
}

/// Up to `limit` events of the filter for the CSV export, audited; the
/// person lookup's answer instead when the number names nobody or several.
pub async fn export(
    db: &Db,
    by: Caller<'_>,
    mut filter: AuditFilter,
    number: &str,
    limit: i64,
    described: &str,
    now: i64,
) -> Result<std::result::Result<Vec<StoredEvent>, Person>> {
    dpo(by.actor)?;
    audit::seal(db).await?;
    let mut tx = db.begin().await?;
    let person = resolve_person(&mut tx, number, &mut filter).await?;
    if !matches!(person, Person::Any | Person::Found) {
        return Ok(Err(person));
    }
    let events = audit::list(&mut tx, &filter, limit, 0).await?;
    let event = AuditEvent::by(by.actor, AuditAction::AuditExport, by.client)
        .record("audit_log", format!("{} Ereignisse", events.len()))
        .fields(described)
        .purpose("Datenschutzkontrolle");
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(events))
}

/// Checks the whole chain now and records the check.
pub async fn verify(db: &Db, actor: &Actor, now: i64) -> Result<Verification> {
    dpo(actor)?;
    let result = audit::check_and_record(db, now, audit::CheckScope::Full).await?;
    if let Some(broken) = &result.broken {
        tracing::error!(seq = broken.seq, "audit chain broken");
    }
    Ok(result)
}

/// The audit log's actions and record types, as the pages label them, its
/// filter and its events.
pub use outreach_core::audit::{AuditAction, record_type_label};
pub use outreach_store::audit::{AuditFilter, StoredEvent};
