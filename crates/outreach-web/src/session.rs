//! Server-side sessions: the middleware that finds the logged-in user from the
//! session cookie, ends idle sessions, and the extractors handlers use.

use crate::security::{SESSION_COOKIE, cookie_value};
use crate::{AppError, AppState};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use outreach_core::access::Actor;
use outreach_core::account::session_expired;
use outreach_store::session;
use std::net::SocketAddr;

/// Writes of `last_seen_at` are skipped when the last one is this recent:
/// at most 15 s, and a small part of short idle limits.
fn touch_interval(idle_seconds: i64) -> i64 {
    (idle_seconds / 60).clamp(1, 15)
}

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub actor: Actor,
    pub display_name: String,
    pub csrf_token: String,
    pub session_hash: String,
    /// The idle limit of this session, for the warning dialog.
    pub idle_seconds: i64,
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone)]
pub struct Client(pub String);

fn client_of(parts_ext: &axum::http::Extensions) -> String {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unbekannt".to_string(), |ci| ci.0.ip().to_string())
}

async fn find_user(state: &AppState, token: &str) -> Result<Option<CurrentUser>, AppError> {
    let now = state.clock.now();
    let mut tx = state.db.read().await?;
    let Some(session::SessionUser { session: row, user }) =
        session::find_with_user(&mut tx, token).await?
    else {
        return Ok(None);
    };
    drop(tx);
    let found = Some(user);
    let idle_seconds = state.config.session_idle_seconds;
    let expired = session_expired(row.last_seen_at, now, idle_seconds);
    let usable = found.filter(|u| u.active && !expired);
    let Some((user, actor)) = usable.and_then(|u| u.actor().map(|a| (u, a))) else {
        let mut tx = state.db.begin().await?;
        session::delete(&mut tx, &row.id_hash).await?;
        tx.commit().await?;
        return Ok(None);
    };
    if now - row.last_seen_at >= touch_interval(idle_seconds) {
        let mut tx = state.db.begin().await?;
        session::touch(&mut tx, &row.id_hash, now).await?;
        tx.commit().await?;
    }
    Ok(Some(CurrentUser {
        actor,
        display_name: user.display_name,
        csrf_token: row.csrf_token,
        session_hash: row.id_hash,
        idle_seconds,
    }))
}

/// Puts the [`CurrentUser`] (if any) and the [`Client`] into the request.
pub async fn load_session(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, AppError> {
    let client = client_of(request.extensions());
    request.extensions_mut().insert(Client(client));
    let path = request.uri().path();
    let needs_session = !(path.starts_with("/static/") || path == "/healthz" || path == "/metrics");
    if needs_session
        && let Some(token) = cookie_value(request.headers(), SESSION_COOKIE)
        && let Some(user) = find_user(&state, &token).await?
    {
        request.extensions_mut().insert(user);
    }
    Ok(next.run(request).await)
}

/// The logged-in user; a request without one is sent to the login page.
pub struct Ctx {
    pub user: CurrentUser,
    pub client: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Ctx, AppError> {
        let user = parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or(AppError::LoginRequired)?;
        Ok(Ctx {
            user,
            client: client(parts),
        })
    }
}

fn client(parts: &Parts) -> String {
    parts
        .extensions
        .get::<Client>()
        .map_or_else(|| "unbekannt".to_string(), |c| c.0.clone())
}

/// The user if logged in, and the client, for pages anyone may open.
pub struct MaybeCtx {
    pub user: Option<CurrentUser>,
    pub client: String,
}

impl<S: Send + Sync> FromRequestParts<S> for MaybeCtx {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<MaybeCtx, AppError> {
        Ok(MaybeCtx {
            user: parts.extensions.get::<CurrentUser>().cloned(),
            client: client(parts),
        })
    }
}
