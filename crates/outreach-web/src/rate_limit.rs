//! Rate limits per client address for the login form and the JSON API: a
//! token bucket each (governor's GCRA, keyed by address). A request over
//! the limit gets a German 429 answer with `Retry-After` and does no work —
//! no password check, no audit event, no turn at SQLite's writer — so the
//! limit also bounds how fast failed logins grow the audit log.
//!
//! Defaults, chosen for a service center whose 300 agents sign in at shift
//! start from one address behind its NAT: a burst of 300 logins, then one a
//! second (60 a minute) — a whole shift gets in at once, while one address
//! guesses at most 86,400 times a day, each account at most 5 times in 15
//! minutes. The API (a job center's own systems): a burst of 60, then two a
//! second. Tests and benchmarks that sign in more raise them
//! (`--login-rate`, `--login-burst`, `--api-rate`, `--api-burst`).

use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;

/// One bucket's settings: how many requests refill per minute, and how many
/// may come at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

impl Rate {
    pub const LOGIN: Rate = Rate {
        per_minute: 60,
        burst: 300,
    };
    pub const API: Rate = Rate {
        per_minute: 120,
        burst: 60,
    };

    fn quota(self) -> Quota {
        let one = NonZeroU32::MIN;
        Quota::per_minute(NonZeroU32::new(self.per_minute).unwrap_or(one))
            .allow_burst(NonZeroU32::new(self.burst).unwrap_or(one))
    }
}

/// The buckets of one server.
pub struct RateLimits {
    login: DefaultKeyedRateLimiter<IpAddr>,
    api: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimits {
    pub fn new(login: Rate, api: Rate) -> RateLimits {
        RateLimits {
            login: DefaultKeyedRateLimiter::keyed(login.quota()),
            api: DefaultKeyedRateLimiter::keyed(api.quota()),
        }
    }

    /// Forgets addresses whose buckets are full again (called by the upkeep,
    /// so that the memory stays bounded by the addresses seen lately).
    pub fn forget_idle(&self) {
        self.login.retain_recent();
        self.api.retain_recent();
        self.login.shrink_to_fit();
        self.api.shrink_to_fit();
    }
}

/// Which bucket a request draws from, if any.
enum Limited {
    Login,
    Api,
}

fn limited(request: &Request) -> Option<Limited> {
    let path = request.uri().path();
    if request.method() == Method::POST && matches!(path, "/login" | "/login/zweiter-faktor") {
        Some(Limited::Login)
    } else if path.starts_with("/api/") {
        Some(Limited::Api)
    } else {
        None
    }
}

/// The middleware: lets a request through or answers 429.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(kind) = limited(&request) else {
        return next.run(request).await;
    };
    let address = match crate::origin::of(request.extensions()) {
        Some(origin) => origin.address,
        None => request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ci| ci.0.ip()),
    };
    let limiter = match kind {
        Limited::Login => &state.rate_limits.login,
        Limited::Api => &state.rate_limits.api,
    };
    match limiter.check_key(&address) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            too_many(kind, seconds.max(1))
        }
    }
}

fn too_many(kind: Limited, seconds: u64) -> Response {
    let mut response = match kind {
        Limited::Login => crate::AppError::TooManyRequests.into_response(),
        Limited::Api => (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({
                "fehler": format!(
                    "Zu viele Anfragen von dieser Adresse. Bitte in {seconds} Sekunden erneut versuchen."
                )
            })),
        )
            .into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
