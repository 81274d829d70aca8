//! Operations: health check, metrics and the embedded static assets.

use crate::routes::{Access, Routes};
use crate::{AppError, AppState, metrics};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub fn routes() -> Routes {
    Routes::new()
        .get("/healthz", Access::Public, healthz)
        .get("/readyz", Access::Public, readyz)
        .get("/metrics", Access::Public, metrics_page)
        .get("/static/{file}", Access::Public, asset)
}

/// Liveness: the process answers (a load balancer or systemd restarts a
/// server that doesn't). Nothing else is checked, so a database outage
/// doesn't restart every server at once.
async fn healthz() -> Response {
    (StatusCode::OK, "ok\n").into_response()
}

/// Readiness: the database answers, its migrations are this build's, and the
/// server isn't shutting down; else 503 with the reason, and the load
/// balancer sends no new requests here.
async fn readyz(State(state): State<AppState>) -> Response {
    let unready = |reason: &str| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CACHE_CONTROL, "no-store")],
            format!("nicht bereit: {reason}\n"),
        )
            .into_response()
    };
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return unready("der Server wird beendet");
    }
    let check = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        if !state.db.ping().await {
            return Err("Datenbank nicht erreichbar");
        }
        match state.db.schema_current().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("die Datenbank hat nicht die Migrationen dieses Programms"),
            Err(_) => Err("Datenbank nicht erreichbar"),
        }
    })
    .await;
    match check {
        Ok(Ok(())) => (StatusCode::OK, "bereit\n").into_response(),
        Ok(Err(reason)) => unready(reason),
        Err(_) => unready("Datenbank antwortet nicht"),
    }
}

/// Aggregate counters only: no user, customer or route parameters.
async fn metrics_page(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&state),
    )
        .into_response()
}

const APP_CSS: &str = include_str!("../static/app.css");
const APP_JS: &str = include_str!("../static/app.js");

async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    let (body, kind) = match file.as_str() {
        "app.css" => (APP_CSS, "text/css; charset=utf-8"),
        "app.js" => (APP_JS, "text/javascript; charset=utf-8"),
        _ => return Err(AppError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response())
}
