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
    let verification = audit::check_and_record(db, now, audit::CheckScope::Due).await?;
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

// ---- the operator's commands ----

pub use outreach_store::audit::Verification;
pub use outreach_store::backup::BackupSummary;
pub use outreach_store::retention::{ClockSkew, PurgeReport};

/// Checks the whole audit chain (after sealing what was appended); the
/// command line's check, not recorded.
pub async fn verify_chain(db: &Db) -> Result<Verification> {
    audit::seal(db).await?;
    let mut tx = db.begin_read().await?;
    let result = audit::verify(&mut tx).await?;
    tx.commit().await?;
    Ok(result)
}

/// Writes a consistent, checked copy of the (SQLite) database to `target`
/// (audited).
pub async fn backup(db: &Db, target: &std::path::Path, now: i64) -> Result<BackupSummary> {
    let summary = outreach_store::backup::backup(db, target).await?;
    let event = crate::Source::CommandLine
        .event(AuditAction::Backup)
        .record("database", target.display().to_string())
        .fields(&format!(
            "{} Kunden, {} Protokollereignisse, {} Bytes",
            summary.customers, summary.audit_events, summary.bytes
        ))
        .purpose("Datensicherung");
    audit::append_alone(db, &event, now).await?;
    Ok(summary)
}

/// Replaces the SQLite database file `database` (server stopped) by the
/// checked backup `file`; the previous file stays beside it.
pub async fn restore(file: &std::path::Path, database: &std::path::Path) -> Result<BackupSummary> {
    outreach_store::backup::restore(file, database)
        .await
        .map_err(crate::Error::from)
}

/// Records the restore from `file` in the restored database's log.
pub async fn record_restore(
    db: &Db,
    file: &std::path::Path,
    summary: &BackupSummary,
    now: i64,
) -> Result<()> {
    let event = crate::Source::CommandLine
        .event(AuditAction::Restore)
        .record("database", file.display().to_string())
        .fields(&format!(
            "{} Kunden, {} Protokollereignisse",
            summary.customers, summary.audit_events
        ))
        .purpose("Wiederherstellung aus einer Datensicherung");
    audit::append_alone(db, &event, now).await?;
    Ok(())
}

/// How the operator runs the deletion on schedule.
#[derive(Debug, Clone, Copy)]
pub struct Purge {
    pub policy: Policy,
    pub dry_run: bool,
    /// Releases a hold of the audit retention.
    pub confirm_audit_retention: bool,
}

/// The deletion on schedule from the command line (recorded even when it
/// deleted nothing); refused when this machine's clock (`now`) and the
/// database's differ by more than five minutes.
pub async fn purge(
    db: &Db,
    purge: Purge,
    now: i64,
) -> Result<std::result::Result<PurgeReport, ClockSkew>> {
    if let Err(skew) = retention::check_clocks(db, now).await? {
        return Ok(Err(skew));
    }
    let run = retention::PurgeRun {
        policy: purge.policy,
        dry_run: purge.dry_run,
        confirm_audit_retention: purge.confirm_audit_retention,
        event: crate::Source::CommandLine.event(AuditAction::Purge),
        record_empty: true,
    };
    let report = retention::purge(db, run).await?;
    if !purge.dry_run {
        // Uploads and print archives no longer needed, as the servers'
        // upkeep deletes them.
        let jobs = crate::jobs::sweep(db).await?;
        if jobs > 0 {
            tracing::info!(jobs, "ended jobs removed with their uploads and archives");
        }
    }
    Ok(Ok(report))
}
