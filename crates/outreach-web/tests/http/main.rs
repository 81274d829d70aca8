//! HTTP tests of accounts, sessions, CSRF, headers, audit and forms; every test
//! body runs against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

use axum::http::StatusCode;
use common::{PASSWORD, Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::audit::{self, AuditFilter};
use outreach_store::testing::backends;

mod data;
mod forms;
mod sign_in;

fn jc_admin() -> String {
    username(Role::JobcenterAdmin, Side::Own)
}

async fn audit_actions(app: &TestApp, user: &str) -> Vec<String> {
    let mut tx = app.state.db.begin_read().await.unwrap();
    let filter = AuditFilter {
        username: Some(user.to_string()),
        ..AuditFilter::default()
    };
    audit::list(&mut tx, &filter, 1000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

/// The error shown next to a form's field `id` (empty when there is none).
fn field_error(body: &str, id: &str) -> String {
    let marker = format!("id=\"{id}-fehler\">");
    body.split(&marker)
        .nth(1)
        .and_then(|rest| rest.split("</p>").next())
        .unwrap_or("")
        .to_string()
}

/// The failed logins of `name` in the log, by their purpose.
async fn failures(app: &TestApp, name: &str) -> Vec<String> {
    // Readers of the log seal what was appended first (PostgreSQL).
    audit::seal(&app.state.db).await.unwrap();
    let mut tx = app.state.db.begin_read().await.unwrap();
    let filter = AuditFilter {
        username: Some(name.to_string()),
        action: Some(outreach_core::audit::AuditAction::LoginFailure),
        ..AuditFilter::default()
    };
    audit::list(&mut tx, &filter, 1000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.purpose)
        .collect()
}

/// Logs in as `name` with each password, all at once; the statuses.
async fn logins_at_once(app: &TestApp, name: &str, passwords: &[&str]) -> Vec<StatusCode> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut clients = Vec::new();
    for password in passwords {
        let mut client = app.client();
        // The form first, so that only the posts run at once.
        let page = client.get("/login").await;
        client.csrf = common::csrf_in(&page.body);
        clients.push((client, password.to_string()));
    }
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(clients.len()));
    for (i, (mut client, password)) in clients.into_iter().enumerate() {
        let name = name.to_string();
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            let r = client
                .post("/login", &[("username", &name), ("password", &password)])
                .await;
            (i, r.status)
        });
    }
    let mut statuses = vec![StatusCode::OK; passwords.len()];
    while let Some(done) = tasks.join_next().await {
        let (i, status) = done.unwrap();
        statuses[i] = status;
    }
    statuses
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut client = app.login(&jc_admin()).await;
        for path in [
            "/login",
            "/",
            "/healthz",
            "/gibt-es-nicht",
            "/static/app.css",
            "/kunden",
        ] {
            let r = client.get(path).await;
            let csp = r.header("content-security-policy");
            assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}");
            assert_eq!(r.header("x-content-type-options"), "nosniff", "{path}");
            assert_eq!(r.header("referrer-policy"), "no-referrer", "{path}");
            assert_eq!(r.header("x-frame-options"), "DENY", "{path}");
        }
        let page = client.get("/").await;
        assert!(!page.body.contains("<script>"), "no inline script");
        assert!(!page.body.contains(" style=\""), "no inline style");
    }
}

#[tokio::test]
async fn health_and_metrics() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        let health = client.get("/healthz").await;
        assert_eq!(health.status, StatusCode::OK);
        client.get("/login").await;
        let metrics = client.get("/metrics").await;
        assert!(
            metrics
                .body
                .contains("outreach_http_requests_total{class=\"2xx\"}")
        );
        assert!(
            metrics
                .body
                .contains("outreach_http_request_duration_seconds_count")
        );
        assert!(
            metrics
                .body
                .contains("outreach_db_connections{state=\"open\"}")
        );
        let count_line = metrics
            .body
            .lines()
            .find(|l| l.starts_with("outreach_http_requests_total{class=\"2xx\"}"))
            .unwrap();
        let count: u64 = count_line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(count >= 2, "{backend:?}: {count_line}");
    }
}

/// (cases, audit events, sessions) in the database.
async fn stored(app: &TestApp) -> (i64, i64, i64) {
    let mut tx = app.state.db.read().await.unwrap();
    let mut n = Vec::new();
    for sql in [
        "SELECT COUNT(*) FROM cases",
        "SELECT COUNT(*) FROM audit_events",
        "SELECT COUNT(*) FROM sessions",
    ] {
        let (c,): (i64,) = tx.fetch_one(sql, vec![]).await.unwrap();
        n.push(c);
    }
    (n[0], n[1], n[2])
}

async fn deadline_passed(app: &TestApp) {
    let mut tx = app.state.db.begin().await.unwrap();
    tx.execute(
        "UPDATE mandates SET deletion_deadline = '2000-01-01'",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// A request from `address` straight to the router.
async fn from_address(
    app: &TestApp,
    address: &str,
    request: axum::http::Request<axum::body::Body>,
) -> axum::http::Response<axum::body::Body> {
    use tower::ServiceExt;
    let mut request = request;
    let address: std::net::SocketAddr = address.parse().unwrap();
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(address));
    app.router.clone().oneshot(request).await.unwrap()
}

fn login_post() -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post("/login")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("username=x&password=y"))
        .unwrap()
}

/// Logins and API calls per client address are limited by a token bucket:
/// over it, a German 429 with Retry-After and no work (no audit event);
/// another address has its own bucket.
#[tokio::test]
async fn logins_and_api_calls_per_address_are_rate_limited() {
    use outreach_web::rate_limit::Rate;
    for backend in backends().await {
        let config = outreach_web::WebConfig {
            login_rate: Rate {
                per_minute: 1,
                burst: 3,
            },
            api_rate: Rate {
                per_minute: 1,
                burst: 2,
            },
            ..outreach_web::WebConfig::default()
        };
        let app = TestApp::with_config(backend, config).await;
        let mut statuses = Vec::new();
        for _ in 0..4 {
            let r = from_address(&app, "192.0.2.7:4000", login_post()).await;
            statuses.push(r.status());
            if r.status() == StatusCode::TOO_MANY_REQUESTS {
                let wait: u64 = r.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=60).contains(&wait), "{wait}");
                let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
                let body = String::from_utf8_lossy(&body);
                assert!(body.contains("Zu viele Anmeldeversuche"), "{body}");
            }
        }
        // Three answered (the form's CSRF check refuses them: no cookie);
        // the fourth never reached it.
        assert_eq!(
            statuses,
            [
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::FORBIDDEN,
                StatusCode::TOO_MANY_REQUESTS
            ],
            "{backend:?}"
        );
        // Another address is not affected.
        let other = from_address(&app, "192.0.2.8:4000", login_post()).await;
        assert_eq!(other.status(), StatusCode::FORBIDDEN, "{backend:?}");
        // The API's bucket is its own; over it, the answer is JSON, and no
        // call was logged as a failure.
        let before = failures(&app, "x").await.len();
        let api = |address: &'static str| {
            from_address(
                &app,
                address,
                axum::http::Request::get("/api/v1/ergebnisse?aktion=1")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
        };
        let mut api_statuses = Vec::new();
        for _ in 0..3 {
            api_statuses.push(api("192.0.2.9:1").await.status());
        }
        assert_eq!(
            api_statuses,
            [
                StatusCode::UNAUTHORIZED,
                StatusCode::UNAUTHORIZED,
                StatusCode::TOO_MANY_REQUESTS
            ],
            "{backend:?}"
        );
        let limited = api("192.0.2.9:1").await;
        assert!(limited.headers().contains_key("retry-after"));
        let body = axum::body::to_bytes(limited.into_body(), 1 << 20)
            .await
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            json["fehler"]
                .as_str()
                .unwrap()
                .contains("Zu viele Anfragen"),
            "{json}"
        );
        assert_eq!(failures(&app, "x").await.len(), before, "{backend:?}");
    }
}
