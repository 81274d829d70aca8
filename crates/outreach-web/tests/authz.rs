//! The authorisation matrix: every route × every role × own and foreign
//! organisation (and no login), against the expectations written here —
//! independently of the guards in the application. A route added without an
//! entry here fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Fixtures, Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::testing::backends;
use outreach_web::route_table;
use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The handler ran: anything but 401/403/404 and the login redirect.
    Allow,
    Forbidden,
    NotFound,
    /// No login: sent to the login page.
    Login,
    /// A server error: never expected, never counted as allowed.
    ServerError,
}

use Expect::*;

/// Who asks: a role on the own or foreign side, or nobody.
type Who = Option<(Role, Side)>;

/// The expected answer for `who` on `method path`. `None`: no entry (a new route).
fn expect(method: &str, path: &str, who: Who) -> Option<Expect> {
    use Role::*;
    let Some((role, side)) = who else {
        return Some(match path {
            "/healthz"
            | "/readyz"
            | "/metrics"
            | "/static/{file}"
            | "/login"
            | "/login/zweiter-faktor"
            | "/api/v1/openapi.json" => Allow,
            // The API wants a bearer token, never a session.
            "/api/v1/ergebnisse" | "/api/v1/kunden/import" => Forbidden,
            _ => Login,
        });
    };
    let own = side == Side::Own;
    let only = |allowed: &[Role]| {
        if allowed.contains(&role) {
            Allow
        } else {
            Forbidden
        }
    };
    // Records owned by organisation A / service center X: the foreign side gets "not found".
    let owned = |allowed: &[Role]| match (allowed.contains(&role), own) {
        (false, _) => Forbidden,
        (true, true) => Allow,
        (true, false) => NotFound,
    };
    Some(match (method, path) {
        ("GET", "/healthz" | "/readyz" | "/metrics" | "/static/{file}" | "/login") => Allow,
        ("POST", "/login") => Allow,
        // The second step of a sign-in: without its cookie, back to the
        // password; signed in already, to the start page.
        ("GET" | "POST", "/login/zweiter-faktor") => Allow,
        ("GET", "/") | ("POST", "/logout") => Allow,
        ("GET" | "POST", "/konto/passwort") | ("POST", "/sitzung/verlaengern") => Allow,
        ("GET", "/admin/organisationen")
        | ("POST", "/admin/jobcenter" | "/admin/servicecenter") => only(&[Admin]),
        ("GET", "/admin/benutzer" | "/admin/benutzer/neu")
        | (
            "POST",
            "/admin/benutzer"
            | "/admin/benutzer/{id}/deaktivieren"
            | "/admin/benutzer/{id}/aktivieren"
            | "/admin/benutzer/{id}/passwort"
            | "/admin/benutzer/{id}/zweiter-faktor",
        ) => only(&[Admin]),
        ("GET", "/auftraege") => only(&[JobcenterAdmin, Supervisor]),
        ("GET", "/auftraege/neu") | ("POST", "/auftraege") => only(&[JobcenterAdmin]),
        ("GET", "/auftraege/{id}") => owned(&[JobcenterAdmin, Supervisor]),
        ("POST", "/auftraege/{id}/status" | "/auftraege/{id}/mitarbeiterzahlen") => {
            owned(&[JobcenterAdmin])
        }
        ("GET", "/kunden") => only(&[JobcenterAdmin, CaseManager]),
        ("GET", "/kunden/{id}") => owned(&[JobcenterAdmin, CaseManager]),
        ("GET", "/protokoll" | "/protokoll/export.csv") | ("POST", "/protokoll/pruefen") => {
            only(&[Dpo])
        }
        // Data protection: the DPO answers access requests for the own job
        // center's customers; restriction and disputes also the administration.
        ("GET", "/auskunft") => only(&[Dpo]),
        ("GET", "/auskunft/{id}" | "/auskunft/{id}/auskunft.json") => owned(&[Dpo]),
        ("GET", "/betroffenenrechte/{id}")
        | (
            "POST",
            "/betroffenenrechte/{id}/einschraenkung"
            | "/betroffenenrechte/{id}/bestritten"
            | "/betroffenenrechte/{id}/bestritten/aufheben",
        ) => owned(&[Dpo, JobcenterAdmin]),
        ("GET", "/verzeichnis" | "/verzeichnis.txt") => only(&[Dpo, JobcenterAdmin]),
        ("GET" | "POST", "/aufbewahrung") => only(&[Dpo]),
        ("GET" | "POST", "/kunden/import") => only(&[JobcenterAdmin]),
        (
            "GET",
            "/kunden/import/{job}"
            | "/kunden/import/{job}/status"
            | "/kunden/import/{job}/meldungen.csv",
        )
        | ("POST", "/kunden/import/{job}/ausfuehren" | "/kunden/import/{job}/verwerfen") => {
            owned(&[JobcenterAdmin])
        }
        ("GET", "/aktionen" | "/aktionen/neu" | "/aktionen/vorschau") | ("POST", "/aktionen") => {
            only(&[JobcenterAdmin])
        }
        ("GET", "/leitfaeden" | "/leitfaeden/neu") | ("POST", "/leitfaeden") => {
            only(&[JobcenterAdmin])
        }
        // The built-in guide is every job center's: the foreign side sees it too.
        ("GET", "/leitfaeden/{id}" | "/leitfaeden/{id}/vorschau")
        | ("POST", "/leitfaeden/{id}/vorschau") => only(&[JobcenterAdmin]),
        (
            "GET",
            "/aktionen/{id}"
            | "/aktionen/{id}/stapel/{batch}/teil/{part}"
            | "/aktionen/{id}/stapel/{batch}/manifest"
            | "/aktionen/{id}/stapel/{batch}/druck"
            | "/aktionen/{id}/stapel/{batch}/druck/status"
            | "/aktionen/{id}/stapel/{batch}/druck/zip"
            | "/aktionen/{id}/bearbeiten"
            | "/aktionen/{id}/faelle/{case}",
        )
        | (
            "POST",
            "/aktionen/{id}/status"
            | "/aktionen/{id}/briefe"
            | "/aktionen/{id}/stapel/{batch}/versandt"
            | "/aktionen/{id}/stapel/{batch}/druck"
            | "/aktionen/{id}/bearbeiten"
            | "/aktionen/{id}/faelle/{case}/widerspruch",
        ) => owned(&[JobcenterAdmin]),
        // The agent's desk. A case page without the lease sends the agent
        // back to the desk; starting or recording on it finds nothing.
        ("GET", "/anrufe" | "/anrufe/fall/{id}" | "/anrufe/fall/{id}/gespraech")
        | (
            "POST",
            "/anrufe/naechster" | "/anrufe/fall/{id}/verlaengern" | "/anrufe/fall/{id}/gespraech",
        ) => only(&[Agent]),
        ("GET", "/teamleitung") => only(&[Supervisor]),
        ("GET", "/ergebnisse") => only(&[JobcenterAdmin, CaseManager]),
        ("GET", "/api/v1/openapi.json") => Allow,
        // A session is no API token.
        ("GET", "/api/v1/ergebnisse") | ("POST", "/api/v1/kunden/import") => Forbidden,
        ("GET" | "POST", "/api-zugang") => only(&[JobcenterAdmin]),
        // No fixture token: nothing to revoke.
        ("POST", "/api-zugang/{id}/widerrufen" | "/api-zugang/{id}/verlaengern") => {
            if role == JobcenterAdmin {
                NotFound
            } else {
                Forbidden
            }
        }
        ("GET", "/berichte" | "/berichte/tabelle.csv") => only(&[JobcenterAdmin, Supervisor]),
        ("GET" | "POST", "/ergebnisse/export") => only(&[JobcenterAdmin]),
        ("GET", "/ergebnisse/{id}")
        | ("POST", "/ergebnisse/{id}/kenntnis" | "/ergebnisse/{id}/bestritten") => {
            owned(&[JobcenterAdmin, CaseManager])
        }
        ("POST", "/ergebnisse/{id}/zuweisen") => owned(&[JobcenterAdmin]),
        ("GET" | "POST", "/ergebnisse/{id}/einladung") => owned(&[JobcenterAdmin, CaseManager]),
        ("GET", "/einladungen" | "/einladungen/tag.pdf") | ("GET" | "POST", "/termine") => {
            only(&[JobcenterAdmin, CaseManager])
        }
        // No fixture slot: nothing to remove.
        ("POST", "/termine/{id}/entfernen") => {
            if matches!(role, JobcenterAdmin | CaseManager) {
                NotFound
            } else {
                Forbidden
            }
        }
        // No fixture invitation: the letter is not found for those allowed.
        ("GET", "/einladungen/{id}/brief.pdf") => {
            if matches!(role, JobcenterAdmin | CaseManager) {
                NotFound
            } else {
                Forbidden
            }
        }
        // The fixture case is not leased: nothing to release.
        ("POST", "/teamleitung/faelle/{id}/freigeben") => {
            if role == Supervisor {
                NotFound
            } else {
                Forbidden
            }
        }
        ("POST", "/anrufe/fall/{id}/start" | "/anrufe/fall/{id}/ergebnis") => {
            if role == Agent {
                NotFound
            } else {
                Forbidden
            }
        }
        _ => return None,
    })
}

/// The concrete URL for a route pattern, with ids of records owned by A / X.
/// A finished dry-run import of the own job center; returns its page's path.
async fn import_job(app: &TestApp) -> String {
    let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
    let file = b"Kundennummer;Nachname;Geburtsdatum\nZ1;Zett;01.01.1980\n";
    let up = admin
        .post_multipart(
            "/kunden/import",
            &[("probelauf", None, b"1"), ("datei", Some("z.csv"), file)],
        )
        .await;
    let job = up.location().to_string();
    assert!(job.starts_with("/kunden/import/"), "{}", up.body);
    loop {
        let status = admin.get(&format!("{job}/status")).await;
        if status.body.contains("\"running\":false") {
            return job;
        }
        tokio::task::yield_now().await;
    }
}

fn url(path: &str, f: &Fixtures, job: &str) -> String {
    common::concrete(&path.replace("/kunden/import/{job}", job), f)
}

fn everyone() -> Vec<Who> {
    let mut all: Vec<Who> = vec![None];
    for role in Role::ALL {
        all.push(Some((role, Side::Own)));
        if role != Role::Admin {
            all.push(Some((role, Side::Foreign)));
        }
    }
    all
}

#[test]
fn every_route_has_an_entry() {
    let routes: BTreeSet<_> = route_table().iter().map(|r| (r.method, r.path)).collect();
    let missing: Vec<_> = routes
        .iter()
        .filter(|(m, p)| {
            everyone()
                .into_iter()
                .any(|who| expect(m, p, who).is_none())
        })
        .collect();
    assert!(
        missing.is_empty(),
        "routes without an authorisation entry: {missing:?}"
    );
    assert_eq!(
        routes.len(),
        route_table().len(),
        "a route is registered twice"
    );
}

fn outcome(status: StatusCode, location: &str) -> Expect {
    match status {
        s if s.is_server_error() => ServerError,
        StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => Forbidden,
        StatusCode::NOT_FOUND => NotFound,
        // The guard's redirect, or the form check's for a missing session;
        // logout's own redirect (`?abgemeldet=1`) is the handler running.
        StatusCode::SEE_OTHER if location == "/login" || location == "/login?abgelaufen=1" => Login,
        _ => Allow,
    }
}

#[tokio::test]
async fn every_route_with_every_role_and_organisation() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut failures = Vec::new();
        let mut checked = 0;
        for who in everyone() {
            let name = who.map(|(role, side)| username(role, side));
            for route in route_table() {
                let Some(expected) = expect(route.method, route.path, who) else {
                    continue;
                };
                // A fresh login per request: routes like logout end the session.
                let mut client = match &name {
                    Some(name) => app.login(name).await,
                    None => {
                        // With the login form's token, so the guard, not the CSRF check, answers.
                        let mut anonymous = app.client();
                        let page = anonymous.get("/login").await;
                        anonymous.csrf = common::csrf_in(&page.body);
                        anonymous
                    }
                };
                let job = if route.path.contains("{job}") {
                    import_job(&app).await
                } else {
                    String::new()
                };
                let target = url(route.path, &app.fixtures, &job);
                let response = if route.method == "GET" {
                    client.get(&target).await
                } else {
                    client.post(&target, &[]).await
                };
                let got = outcome(response.status, response.location());
                // A logged-in user opening the login page is sent to the start page.
                let got = if got == Login && who.is_some() && route.path == "/login" {
                    Allow
                } else {
                    got
                };
                checked += 1;
                if got != expected {
                    failures.push(format!(
                        "{} {} as {:?}: expected {expected:?}, got {got:?} ({})",
                        route.method, target, who, response.status
                    ));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "[{backend:?}] {} of {checked} checks failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
        assert!(checked > 300, "{checked}");
    }
}

/// Every state-changing route refuses a request without the CSRF token and one
/// with a wrong token — for a user the route is otherwise open to — and
/// nothing is stored (the audit log doesn't grow).
#[tokio::test]
async fn every_state_changing_route_needs_the_csrf_token() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut checked = 0;
        for route in route_table() {
            if route.method != "POST" || route.path.starts_with("/api/") {
                continue;
            }
            // Someone the route is open to (or anyone logged in, where it is
            // open to nobody with the fixtures).
            let who = everyone()
                .into_iter()
                .flatten()
                .find(|who| expect(route.method, route.path, Some(*who)) == Some(Allow));
            let mut client = match (route.path, who) {
                ("/login", _) => {
                    let mut c = app.client();
                    c.get("/login").await;
                    c
                }
                // Between the password and the code.
                ("/login/zweiter-faktor", _) => {
                    let mut c = app.client();
                    let r = c
                        .password_step(&username(Role::Agent, Side::Own), common::PASSWORD)
                        .await;
                    assert_eq!(r.location(), common::SECOND_FACTOR);
                    c
                }
                (_, Some((role, side))) => app.login(&username(role, side)).await,
                (_, None) => app.login(&username(Role::JobcenterAdmin, Side::Own)).await,
            };
            let job = if route.path.contains("{job}") {
                import_job(&app).await
            } else {
                String::new()
            };
            let target = url(route.path, &app.fixtures, &job);
            let events = audit_events(&app).await;
            for token in [None, Some("falsch-0000")] {
                let response = match token {
                    None => client.post_raw(&target, &[("x", "1")]).await,
                    Some(t) => client.post_raw(&target, &[("csrf", t), ("x", "1")]).await,
                };
                assert_eq!(
                    response.status,
                    StatusCode::FORBIDDEN,
                    "[{backend:?}] POST {target} with token {token:?}: {}",
                    response.body
                );
                assert!(response.body.contains("Sicherheitsprüfung fehlgeschlagen"));
                checked += 1;
            }
            assert_eq!(
                audit_events(&app).await,
                events,
                "[{backend:?}] POST {target}"
            );
        }
        assert!(checked > 60, "{checked}");
    }
}

async fn audit_events(app: &TestApp) -> i64 {
    let mut tx = app.state.db.read().await.unwrap();
    let (n,): (i64,) = tx
        .fetch_one("SELECT COUNT(*) FROM audit_events", vec![])
        .await
        .unwrap();
    n
}
