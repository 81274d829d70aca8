//! The Outreach web application: `app(state)` builds the whole router, which
//! tests call without a network and `serve` runs on a listener.

mod admin;
mod admission;
mod api;
mod audit;
mod auth;
mod calls;
mod campaigns;
mod conversation;
mod cookies;
mod customers;
mod download;
mod error;
mod forms;
mod guides;
mod home;
mod imports;
mod invitations;
mod layout;
pub mod maintenance;
mod mandates;
mod metrics;
mod ops;
pub mod origin;
pub use outreach_app::password;
mod letters;
mod privacy;
pub mod rate_limit;
mod reports;
mod results;
mod routes;
mod second_factor;
mod security;
pub mod server;
mod session;
mod spool;
mod supervision;
pub mod tls;
mod training;

use axum::Router;
use outreach_app::Db;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

pub use error::AppError;
pub use routes::{Access, RouteInfo};

/// Settings of the web layer.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// Mark cookies `Secure`. Browsers accept secure cookies on
    /// `http://localhost`/`127.0.0.1`, so this stays on outside tests of plain HTTP clients.
    pub secure_cookies: bool,
    /// Idle time after which a session ends (WCAG 2.2.1: the user is warned
    /// before and can extend it).
    pub session_idle_seconds: i64,
    /// What the daily deletion keeps how long.
    pub retention: outreach_app::upkeep::Policy,
    /// Requests worked on at once; more wait in line (see `admission`).
    /// `None`: the database's default ([`admission::default_at_once`]).
    pub requests_at_once: Option<usize>,
    /// Training mode (`outreach demo`, `outreach serve --training`): a
    /// banner on every page, and the upkeep deletes nothing.
    pub training: bool,
    /// Logins per client address (see `rate_limit`).
    pub login_rate: rate_limit::Rate,
    /// Calls of the JSON API per client address.
    pub api_rate: rate_limit::Rate,
    /// The server loop's timeouts and bounds.
    pub limits: server::Limits,
    /// The load balancers whose `X-Forwarded-For`/`-Proto` are believed.
    pub trusted_proxies: origin::TrustedProxies,
    /// The organisation's directory, when accounts sign in through it.
    pub sign_on: Option<Arc<outreach_app::directory::SignOn>>,
    /// The roles whose local accounts sign in with a second factor (by
    /// default all; in training mode only accounts that set one up).
    pub second_factor_roles: Vec<outreach_core::access::Role>,
}

impl Default for WebConfig {
    fn default() -> WebConfig {
        WebConfig {
            secure_cookies: true,
            session_idle_seconds: outreach_core::account::SESSION_IDLE_SECONDS,
            retention: outreach_app::upkeep::Policy::default(),
            requests_at_once: None,
            training: false,
            login_rate: rate_limit::Rate::LOGIN,
            api_rate: rate_limit::Rate::API,
            limits: server::Limits::default(),
            trusted_proxies: origin::TrustedProxies::default(),
            sign_on: None,
            second_factor_roles: outreach_core::access::Role::ALL.to_vec(),
        }
    }
}

impl WebConfig {
    /// Which local accounts are asked for a second factor.
    pub fn second_factor(&self) -> outreach_app::accounts::SecondFactorPolicy {
        outreach_app::accounts::SecondFactorPolicy {
            roles: self.second_factor_roles.clone(),
            training: self.training,
        }
    }
}

/// The clock the application reads. Tests move it forward to expire sessions
/// and locks without waiting.
#[derive(Debug, Default)]
pub struct Clock {
    offset_seconds: AtomicI64,
}

impl Clock {
    /// UTC unix seconds.
    pub fn now(&self) -> i64 {
        jiff::Timestamp::now().as_second() + self.offset_seconds.load(Ordering::Relaxed)
    }

    /// The real time, UTC unix seconds, which the authenticator apps
    /// follow (the training clock may be moved).
    pub fn wall(&self) -> i64 {
        jiff::Timestamp::now().as_second()
    }

    pub fn advance(&self, seconds: i64) {
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }

    /// Today in Europe/Berlin as an ISO date.
    pub fn today_iso(&self) -> String {
        outreach_core::date::berlin_date(self.now()).to_string()
    }
}

pub struct Inner {
    pub db: Db,
    pub clock: Clock,
    pub config: WebConfig,
    /// Sessions this server read lately (kept only while changes are heard).
    sessions: session::SessionCache,
    metrics: metrics::Metrics,
    /// Wakes this server's job worker when it queued a job (see
    /// `maintenance::spawn_jobs`).
    pub jobs_wake: Arc<tokio::sync::Notify>,
    admission: std::sync::Arc<admission::Admission>,
    rate_limits: rate_limit::RateLimits,
    /// Uploads streaming in at once (see `server::check_request`).
    uploads: Arc<tokio::sync::Semaphore>,
    /// This server's folder for uploads and print archives (`None` when it
    /// could not be made: then uploads and archives are refused).
    spool: Option<spool::Spool>,
    /// Set when the server begins to shut down: `/readyz` answers 503, so
    /// that the load balancer moves away before the listener closes.
    pub draining: std::sync::atomic::AtomicBool,
}

/// Shared application state.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(db: Db, config: WebConfig) -> AppState {
        let at_once = config
            .requests_at_once
            .unwrap_or_else(|| admission::default_at_once(db.backend()));
        AppState(Arc::new(Inner {
            db,
            clock: Clock::default(),
            sessions: session::SessionCache::default(),
            metrics: metrics::Metrics::default(),
            jobs_wake: Arc::new(tokio::sync::Notify::new()),
            admission: admission::Admission::new(at_once),
            rate_limits: rate_limit::RateLimits::new(config.login_rate, config.api_rate),
            uploads: Arc::new(tokio::sync::Semaphore::new(
                config.limits.uploads_at_once.max(1),
            )),
            spool: spool::Spool::new(&std::env::temp_dir())
                .inspect_err(|error| {
                    tracing::error!(%error, "no folder for uploads and print archives");
                })
                .ok(),
            draining: std::sync::atomic::AtomicBool::new(false),
            config,
        }))
    }
}

impl Inner {
    /// A new private file's path for an upload or an archive.
    fn spool_path(&self, prefix: &str, extension: &str) -> Result<std::path::PathBuf, AppError> {
        self.spool
            .as_ref()
            .map(|s| s.path(prefix, extension))
            .ok_or_else(|| AppError::internal("spool", "no folder for uploads"))
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

fn all_routes() -> routes::Routes {
    routes::Routes::new()
        .merge(ops::routes())
        .merge(auth::routes())
        .merge(second_factor::routes())
        .merge(home::routes())
        .merge(admin::routes())
        .merge(mandates::routes())
        .merge(campaigns::routes())
        .merge(letters::routes())
        .merge(guides::routes())
        .merge(calls::routes())
        .merge(supervision::routes())
        .merge(customers::routes())
        .merge(results::routes())
        .merge(reports::routes())
        .merge(invitations::routes())
        .merge(api::routes())
        .merge(imports::routes())
        .merge(audit::routes())
        .merge(privacy::routes())
}

/// Every route of the application with the access it requires.
pub fn route_table() -> Vec<RouteInfo> {
    all_routes().table()
}

/// The application's router with all its layers.
pub fn app(state: AppState) -> Router {
    all_routes()
        .into_router()
        .fallback(|| async { AppError::NotFound })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::csrf_check,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::load_session,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .layer(axum::middleware::from_fn(security::headers))
        .layer(axum::middleware::from_fn_with_state(
            state.config.training,
            training::mark,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.admission.clone(),
            admission::admit,
        ))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            state.config.limits.body_idle,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            server::check_request,
        ))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(state.config.trusted_proxies.clone()),
            origin::resolve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |request: &axum::http::Request<_>| {
                    // The matched route, never the URI: paths and queries can carry
                    // customer numbers.
                    let route = request
                        .extensions()
                        .get::<axum::extract::MatchedPath>()
                        .map_or("-", |p| p.as_str())
                        .to_string();
                    tracing::info_span!("request", method = %request.method(), route)
                },
            ),
        )
        .with_state(state)
}

pub use server::{serve, serve_with};
