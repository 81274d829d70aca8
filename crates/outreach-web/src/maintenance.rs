//! Background upkeep of a running server: idle sessions are removed from the
//! database (they are refused anyway once idle; this keeps the table small),
//! and once a day the deletion on schedule runs and the audit chain is
//! checked; a broken chain is logged as an error and shown to the DPO.
//!
//! A training server (`WebConfig::training`) deletes nothing: neither on
//! schedule nor idle sessions, since its clock may be moved. A production
//! server deletes only while its clock and the database's agree (within
//! five minutes); what is due is decided by the database's clock.

use crate::AppState;
use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::{retention, session};
use std::time::Duration;

/// How often the upkeep runs.
const INTERVAL: Duration = Duration::from_secs(300);

/// Removes sessions idle longer than the idle limit, by the database's
/// clock; returns how many. A training server removes none.
pub async fn remove_idle_sessions(state: &AppState) -> Result<u64, outreach_store::StoreError> {
    if state.config.training {
        return Ok(0);
    }
    let cutoff = retention::database_now(&state.db).await? - state.config.session_idle_seconds;
    let mut tx = state.db.begin().await?;
    let removed = session::delete_idle(&mut tx, cutoff).await?;
    session::prune_changes(&mut tx).await?;
    tx.commit().await?;
    Ok(removed)
}

/// The daily part: deletion on schedule, then the chain check.
pub async fn daily(state: &AppState) -> Result<(), outreach_store::StoreError> {
    let now = state.clock.now();
    if state.config.training {
        tracing::info!("training mode: no deletion on schedule");
    } else {
        delete_on_schedule(state, now).await?;
    }
    let verification = audit::check_and_record(&state.db, now).await?;
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
async fn delete_on_schedule(state: &AppState, now: i64) -> Result<(), outreach_store::StoreError> {
    if let Err(skew) = retention::check_clocks(&state.db, now).await? {
        tracing::error!(
            minutes = skew.minutes,
            "the server's clock and the database's differ: no deletion on schedule today"
        );
        return Ok(());
    }
    let event = AuditEvent::anonymous("system", AuditAction::Purge, "Tagesaufgabe");
    let run = retention::PurgeRun {
        policy: state.config.retention,
        dry_run: false,
        confirm_audit_retention: false,
        event,
        record_empty: false,
    };
    let report = retention::purge(&state.db, run).await?;
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

/// How often the sealing task seals the appended audit events.
const SEALING_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// PostgreSQL: seals appended audit events into the chain every
/// [`SEALING_INTERVAL`] until the runtime ends (see `audit::seal`), so that
/// requests don't. SQLite chains events as they are appended: no task.
pub fn spawn_sealer(db: outreach_store::Db) -> Option<tokio::task::JoinHandle<()>> {
    if db.backend() != outreach_store::Backend::Postgres {
        return None;
    }
    db.leave_sealing_to_task();
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(SEALING_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = audit::seal(&db).await {
                tracing::warn!(%error, "sealing the audit log failed");
            }
        }
    }))
}

/// How often the SQLite write-ahead log is copied into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// SQLite: copies the write-ahead log into the database file every
/// [`CHECKPOINT_INTERVAL`] beside the writer, instead of the commit that
/// fills it doing so while all other writes wait (see
/// `Db::checkpoint_in_background`). PostgreSQL: no task.
pub async fn spawn_checkpointer(
    db: outreach_store::Db,
) -> Result<Option<tokio::task::JoinHandle<()>>, outreach_store::StoreError> {
    if !db.checkpoint_in_background().await? {
        return Ok(None);
    }
    Ok(Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(CHECKPOINT_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = db.checkpoint().await {
                tracing::warn!(%error, "copying the write-ahead log into the database failed");
            }
        }
    })))
}

/// Hears the changes to sessions and users, so that the server may keep the
/// sessions it read (see `session::SessionCache`). Without this task (tests
/// building the router) nothing is kept.
pub fn spawn_session_watch(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        outreach_store::session::watch_changes(
            &state.db,
            |listening| state.sessions.listening(listening),
            |what| state.sessions.changed(what),
        )
        .await;
    })
}

/// Forgets ended imports and print jobs, deleting their files: after an
/// hour each (`older_than` overrides it, for tests).
pub fn sweep_files(state: &AppState, older_than: Option<Duration>) {
    state
        .imports
        .sweep(older_than.unwrap_or(crate::imports::KEPT_AFTER_END));
    state
        .prints
        .sweep(older_than.unwrap_or(crate::printing::KEEP_FOR));
}

/// The files of uploads and print archives this server holds now.
pub fn spooled_files(state: &AppState) -> Vec<std::path::PathBuf> {
    state
        .spool
        .as_ref()
        .map(crate::spool::Spool::files)
        .unwrap_or_default()
}

/// Runs the upkeep every few minutes until the runtime ends; the daily part
/// at start-up and then once per day (Europe/Berlin).
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        let mut last_day = None;
        loop {
            ticker.tick().await;
            let today = outreach_core::date::berlin_date(state.clock.now());
            if last_day != Some(today) {
                match daily(&state).await {
                    Ok(()) => last_day = Some(today),
                    Err(error) => tracing::error!(%error, "daily deletion and audit check failed"),
                }
            }
            state.rate_limits.forget_idle();
            sweep_files(&state, None);
            match remove_idle_sessions(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "idle sessions removed"),
                Err(error) => tracing::warn!(%error, "session upkeep failed"),
            }
        }
    })
}
