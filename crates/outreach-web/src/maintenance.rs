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
use outreach_app::upkeep;
use std::time::Duration;

/// How often the upkeep runs.
const INTERVAL: Duration = Duration::from_secs(300);

fn settings(state: &AppState) -> upkeep::Settings {
    upkeep::Settings {
        training: state.config.training,
        session_idle_seconds: state.config.session_idle_seconds,
        retention: state.config.retention,
    }
}

/// Removes sessions idle longer than the idle limit, by the database's
/// clock; returns how many. A training server removes none.
pub async fn remove_idle_sessions(state: &AppState) -> Result<u64, outreach_app::Error> {
    upkeep::remove_idle_sessions(&state.db, &settings(state)).await
}

/// The daily part: deletion on schedule, then the chain check.
pub async fn daily(state: &AppState) -> Result<(), outreach_app::Error> {
    upkeep::daily(&state.db, &settings(state), state.clock.now()).await
}

/// How often the sealing task seals the appended audit events.
const SEALING_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);

/// PostgreSQL: seals appended audit events into the chain every
/// [`SEALING_INTERVAL`] until the runtime ends (see `upkeep::seal`), so that
/// requests don't. SQLite chains events as they are appended: no task.
pub fn spawn_sealer(db: outreach_app::Db) -> Option<tokio::task::JoinHandle<()>> {
    if db.backend() != outreach_app::Backend::Postgres {
        return None;
    }
    db.leave_sealing_to_task();
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(SEALING_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(error) = upkeep::seal(&db).await {
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
    db: outreach_app::Db,
) -> Result<Option<tokio::task::JoinHandle<()>>, outreach_app::StoreError> {
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
        outreach_app::sessions::watch_changes(
            &state.db,
            |listening| state.sessions.listening(listening),
            |what| state.sessions.changed(what),
        )
        .await;
    })
}

/// Deletes the jobs no longer needed with their uploads, archives and
/// issue lists (`outreach_app::jobs::sweep`).
pub async fn sweep_jobs(state: &AppState) {
    match outreach_app::jobs::sweep(&state.db).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "ended jobs removed"),
        Err(error) => tracing::warn!(%error, "removing ended jobs failed"),
    }
}

/// Runs this server's share of the jobs (imports, print archives) until the
/// runtime ends.
pub fn spawn_jobs(state: &AppState) -> tokio::task::JoinHandle<()> {
    let db = state.db.clone();
    let wake = state.jobs_wake.clone();
    tokio::spawn(async move {
        let heard = wake.clone();
        let listening = outreach_app::jobs::hear_queued(&db, move || heard.notify_one());
        let working = outreach_app::jobs::work(db.clone(), outreach_app::jobs::owner_name(), wake);
        // The listener returns at once on SQLite; the worker runs on.
        tokio::join!(listening, working);
    })
}

/// The files of API uploads this server holds now.
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
            sweep_jobs(&state).await;
            match remove_idle_sessions(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "idle sessions removed"),
                Err(error) => tracing::warn!(%error, "session upkeep failed"),
            }
        }
    })
}

/// Runs the directory sync whenever it is due (one server of several: the
/// one that claims it), until the runtime ends; `None` without a directory.
pub fn spawn_directory_sync(state: &AppState) -> Option<tokio::task::JoinHandle<()>> {
    let sign_on = state.config.sign_on.clone()?;
    let state = state.clone();
    // Look a few times per interval (at least every second, at most every
    // minute), so that a run is late by a fraction of it at most.
    let every =
        std::time::Duration::from_secs((sign_on.sync_interval / 4).clamp(1, 60).unsigned_abs());
    Some(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match outreach_app::directory::sync_if_due(&state.db, &sign_on, state.clock.now()).await
            {
                Ok(None) => {}
                Ok(Some(report)) => tracing::info!(report = %report.summary(), "directory sync"),
                Err(error) => tracing::warn!(%error, "directory sync failed"),
            }
        }
    }))
}
