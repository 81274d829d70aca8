//! Training mode: every page of a training server (`outreach demo`,
//! `outreach serve --training`) says so in a banner. The flag travels with
//! the request's task, so that the page frame and the error pages need no
//! state to read it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static TRAINING: bool;
}

/// Runs the request with the server's training flag in scope.
pub async fn mark(State(training): State<bool>, request: Request, next: Next) -> Response {
    TRAINING.scope(training, next.run(request)).await
}

/// Whether the page being rendered belongs to a training server.
pub fn active() -> bool {
    TRAINING.try_with(|t| *t).unwrap_or(false)
}

/// The banner's text.
pub const BANNER: &str = "Schulungsbetrieb: Dies ist keine Echtumgebung. Die Uhr kann verstellt sein, und es wird nichts nach Frist gelöscht. Bitte keine echten Sozialdaten eingeben.";
