//! The server's own upkeep: idle sessions are removed from the database
//! (they are refused anyway once idle; this keeps the table small), and once
//! a day the deletion on schedule runs and the audit chain is checked; a
//! broken chain is logged as an error and shown to the DPO.
//!
//! A training server deletes nothing: neither on schedule nor idle
//! sessions, since its clock may be moved. A production server deletes only
//! while its clock and the database's agree (within five minutes); what is
//! due is decided by the database's clock.

use crate::Result;
use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, AuditEvent};
pub use outreach_store::retention::Policy;
use outreach_store::{Db, retention, session};

/// The settings the upkeep follows.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// A training server (its clock may be moved): nothing is deleted.
    pub training: bool,
    pub session_idle_seconds: i64,
    pub retention: retention::Policy,
}

/// Removes sessions idle longer than the idle limit, by the database's
/// clock; returns how many. A training server removes none.
pub async fn remove_idle_sessions(db: &Db, settings: &Settings) -> Result<u64> {
    if settings.training {
        return Ok(0);
    }
    let cutoff = retention::database_now(db).await? - settings.session_idle_seconds;
    let mut tx = db.begin().await?;
    let removed = session::delete_idle(&mut tx, cutoff).await?;
    session::prune_changes(&mut tx).await?;
    tx.commit().await?;
    Ok(removed)
}

/// The daily part: deletion on schedule, then the chain check.
pub async fn daily(db: &Db, settings: &Settings, now: i64) -> Result<()> {
    if settings.training {
        tracing::info!("training mode: no deletion on schedule");
    } else {
        delete_on_schedule(db, settings, now).await?;
    }
    let verification = audit::check_and_record(db, now).await?;
    match verification.broken {
        None => tracing::info!(checked = verification.checked, "audit chain intact"),
        Some(broken) => tracing::error!(
            seq = broken.seq,
            reason = broken.reason.label(),
            "AUDIT CHAIN BROKEN: the DPO is shown an alert"
        ),
    }
    Ok(())
}

/// The deletion on schedule, by the database's clock, when the server's
/// agrees with it.
async fn delete_on_schedule(db: &Db, settings: &Settings, now: i64) -> Result<()> {
    if let Err(skew) = retention::check_clocks(db, now).await? {
        tracing::error!(
            minutes = skew.minutes,
            "the server's clock and the database's differ: no deletion on schedule today"
        );
        return Ok(());
    }
    let event = AuditEvent::anonymous("system", AuditAction::Purge, "Tagesaufgabe");
    let run = retention::PurgeRun {
        policy: settings.retention,
        dry_run: false,
        confirm_audit_retention: false,
        event,
        record_empty: false,
    };
    let report = retention::purge(db, run).await?;
    if let Some((events, of)) = report.audit_held {
        tracing::error!(
            events,
            of,
            "AUDIT RETENTION HELD: one run would remove more than a tenth of the log; \
             the DPO is warned, `outreach purge --confirm-audit-retention` releases it"
        );
    }
    if report.total() > 0 {
        tracing::info!(
            deleted = report.total(),
            campaigns = report.campaigns,
            audit_events = report.audit_events,
            "daily deletion on schedule"
        );
    }
    Ok(())
}

/// PostgreSQL: seals the audit events appended since the last time into the
/// chain (see `audit::seal`); returns how many.
pub async fn seal(db: &Db) -> Result<u64> {
    Ok(audit::seal(db).await?)
}
