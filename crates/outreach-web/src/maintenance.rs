//! Background upkeep of a running server: idle sessions are removed from the
//! database (they are refused anyway once idle; this keeps the table small).

use crate::AppState;
use outreach_store::session;
use std::time::Duration;

/// How often the upkeep runs.
const INTERVAL: Duration = Duration::from_secs(300);

/// Removes sessions idle longer than the idle limit; returns how many.
pub async fn remove_idle_sessions(state: &AppState) -> Result<u64, outreach_store::StoreError> {
    let cutoff = state.clock.now() - state.config.session_idle_seconds;
    let mut tx = state.db.begin().await?;
    let removed = session::delete_idle(&mut tx, cutoff).await?;
    tx.commit().await?;
    Ok(removed)
}

/// Runs the upkeep every few minutes until the runtime ends.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(INTERVAL);
        loop {
            ticker.tick().await;
            match remove_idle_sessions(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(removed = n, "idle sessions removed"),
                Err(error) => tracing::warn!(%error, "session upkeep failed"),
            }
        }
    })
}
