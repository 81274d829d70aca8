//! Server-side sessions: the middleware that finds the logged-in user from the
//! session cookie, ends idle sessions, and the extractors handlers use.

use crate::cookies::{SESSION_COOKIE, cookie_value};
use crate::{AppError, AppState};
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use outreach_app::sessions as session;
use outreach_core::access::Actor;
use outreach_core::account::session_expired;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    /// The password was reset: only the password page until a new one is set.
    pub must_change_password: bool,
    /// The account signs in through the directory (its password is kept
    /// there).
    pub from_directory: bool,
}

/// Where a request came from, for the audit log.
#[derive(Debug, Clone)]
pub struct Client(pub String);

/// The client's address (behind trusted proxies the one they forwarded).
fn client_of(parts_ext: &axum::http::Extensions) -> String {
    match crate::origin::of(parts_ext) {
        Some(origin) => origin.address.to_string(),
        None => parts_ext
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unbekannt".to_string(), |ci| ci.0.ip().to_string()),
    }
}

/// How long a server keeps a session it read, at most (see [`SessionCache`]).
const KEPT_FOR: Duration = Duration::from_secs(5);

/// The sessions this server read lately, so that a request doesn't read its
/// session again (under `outreach serve`: six statements of an agent's call
/// cycle). An entry is forgotten as soon as the database tells of a change
/// to its session or its user (PostgreSQL: migration 0017; SQLite: migration
/// 0018, read every [`session::CHANGES_READ_EVERY`]; heard by
/// [`session::watch_changes`]), and after [`KEPT_FOR`] in any case; while
/// changes aren't being heard nothing is kept. Changes this server makes
/// itself are forgotten at once. The last-seen time of a kept
/// session is not trusted: a session that looks idle is read again.
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, (session::SessionUser, Instant)>>,
    /// Counts the changes heard: a row read before a change isn't kept.
    changes: AtomicU64,
    listening: AtomicBool,
}

impl SessionCache {
    fn get(&self, hash: &str) -> Option<session::SessionUser> {
        if !self.listening.load(Ordering::SeqCst) {
            return None;
        }
        let entries = self.entries.lock().ok()?;
        let (row, at) = entries.get(hash)?;
        (at.elapsed() < KEPT_FOR).then(|| row.clone())
    }

    fn changes(&self) -> u64 {
        self.changes.load(Ordering::SeqCst)
    }

    /// Keeps `row`, read when [`Self::changes`] was `changes`.
    fn keep(&self, hash: String, row: session::SessionUser, changes: u64) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        // Checked under the lock that `changed` takes to count.
        if !self.listening.load(Ordering::SeqCst) || self.changes() != changes {
            return;
        }
        if entries.len() >= 100_000 {
            entries.clear();
        }
        entries.insert(hash, (row, Instant::now()));
    }

    /// A change heard: `Some("s:<hash>")` a session, `Some("u:<id>")` a
    /// user's sessions, `None` anything (changes may have been missed).
    pub fn changed(&self, what: Option<&str>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        self.changes.fetch_add(1, Ordering::SeqCst);
        match what.and_then(|w| w.split_once(':')) {
            Some(("s", hash)) => {
                entries.remove(hash);
            }
            Some(("u", id)) if id.parse::<i64>().is_ok() => {
                let id: i64 = id.parse().unwrap_or_default();
                entries.retain(|_, (row, _)| row.user.id != id);
            }
            _ => entries.clear(),
        }
    }

    /// Whether changes are being heard (nothing is kept while they aren't).
    pub fn listening(&self, listening: bool) {
        if !listening {
            self.listening.store(false, Ordering::SeqCst);
            self.changed(None);
        } else {
            self.changed(None);
            self.listening.store(true, Ordering::SeqCst);
        }
    }
}

/// The session and its user: kept by this server, or read.
async fn session_of(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Option<session::SessionUser>, AppError> {
    let hash = session::hash_token(token);
    let idle_seconds = state.config.session_idle_seconds;
    if let Some(kept) = state.sessions.get(&hash)
        && !session_expired(kept.session.last_seen_at, now, idle_seconds)
    {
        return Ok(Some(kept));
    }
    let changes = state.sessions.changes();
    let found = outreach_app::sessions::find(&state.db, token).await?;
    if let Some(row) = &found {
        state.sessions.keep(hash, row.clone(), changes);
    }
    Ok(found)
}

async fn find_user(state: &AppState, token: &str) -> Result<Option<CurrentUser>, AppError> {
    let now = state.clock.now();
    let Some(session::SessionUser { session: row, user }) = session_of(state, token, now).await?
    else {
        return Ok(None);
    };
    let found = Some(user);
    let idle_seconds = state.config.session_idle_seconds;
    let expired = session_expired(row.last_seen_at, now, idle_seconds);
    let usable = found.filter(|u| u.active && !expired);
    let Some((user, actor)) = usable.and_then(|u| u.actor().map(|a| (u, a))) else {
        outreach_app::sessions::end(&state.db, &row.id_hash).await?;
        state.sessions.changed(Some(&format!("s:{}", row.id_hash)));
        return Ok(None);
    };
    if now - row.last_seen_at >= touch_interval(idle_seconds) {
        outreach_app::sessions::touch(&state.db, &row.id_hash, now).await?;
        // Read again next time, with the new last-seen time.
        state.sessions.changed(Some(&format!("s:{}", row.id_hash)));
    }
    let from_directory = user.from_directory();
    Ok(Some(CurrentUser {
        actor,
        display_name: user.display_name,
        csrf_token: row.csrf_token,
        session_hash: row.id_hash,
        idle_seconds,
        must_change_password: user.must_change_password,
        from_directory,
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
    let needs_session = !(path.starts_with("/static/")
        || path == "/healthz"
        || path == "/readyz"
        || path == "/metrics");
    if needs_session
        && let Some(token) = cookie_value(request.headers(), SESSION_COOKIE)
        && let Some(user) = find_user(&state, &token).await?
    {
        // After a reset by the system administration: the new password
        // first (the page, its form, logging out and the session dialog).
        let allowed = matches!(
            path,
            "/konto/passwort" | "/logout" | "/sitzung/verlaengern" | "/login"
        );
        if user.must_change_password && !allowed {
            return Ok(axum::response::IntoResponse::into_response(
                axum::response::Redirect::to("/konto/passwort?neu=1"),
            ));
        }
        request.extensions_mut().insert(user);
    }
    Ok(next.run(request).await)
}

/// The logged-in user; a request without one is sent to the login page.
pub struct Ctx {
    pub user: CurrentUser,
    pub client: String,
}

impl Ctx {
    /// The user and their address, as the application layer's actions take them.
    pub fn caller(&self) -> outreach_app::Caller<'_> {
        outreach_app::Caller {
            actor: &self.user.actor,
            client: &self.client,
        }
    }
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
