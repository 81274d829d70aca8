//! HTTP tests of accounts, sessions, CSRF, headers, audit and forms; every test
//! body runs against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::audit::{self, AuditFilter};
use outreach_store::testing::backends;

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

#[tokio::test]
async fn login_renews_the_session_and_logout_ends_it() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut client = app.client();
        let page = client.get("/login").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<html lang=\"de\">"));
        assert!(page.body.contains("Benutzername"));

        let wrong = client.login(&jc_admin(), "falsches-passwort").await;
        assert_eq!(
            wrong.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}"
        );
        assert!(
            field_error(&wrong.body, "password").contains("Benutzername oder Passwort ist falsch"),
            "{}",
            wrong.body
        );
        assert!(!client.has_session());

        let ok = client.login(&jc_admin(), PASSWORD).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{backend:?}");
        assert_eq!(ok.location(), "/");
        let first = client.cookies["outreach_sitzung"].clone();
        let cookie = ok.header("set-cookie");
        let all_cookies: Vec<_> = ok
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect();
        let session_cookie = all_cookies
            .iter()
            .find(|c| c.starts_with("outreach_sitzung="))
            .unwrap();
        for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(
                session_cookie.contains(flag),
                "{flag} missing in {session_cookie} ({cookie})"
            );
        }
        let start = client.get("/").await;
        assert_eq!(start.status, StatusCode::OK);
        assert!(start.body.contains("Jobcenter A"));

        // Logging in again (same browser) gives a new session id; the old one is dead.
        client.refresh_csrf().await;
        let again = client
            .post(
                "/login",
                &[("username", &jc_admin()), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(again.status, StatusCode::SEE_OTHER, "{backend:?}");
        let second = client.cookies["outreach_sitzung"].clone();
        assert_ne!(
            first, second,
            "{backend:?}: session id must change at login"
        );
        let mut stale = app.client();
        stale.cookies.insert("outreach_sitzung".into(), first);
        assert_eq!(stale.get("/").await.location(), "/login");

        client.refresh_csrf().await;
        let out = client.post("/logout", &[]).await;
        assert_eq!(out.status, StatusCode::SEE_OTHER);
        assert!(!client.has_session());
        let mut replay = app.client();
        replay.cookies.insert("outreach_sitzung".into(), second);
        assert_eq!(replay.get("/").await.location(), "/login", "{backend:?}");

        // Idle sessions are removed from the table by the upkeep task, by
        // the database's clock.
        app.login(&jc_admin()).await;
        app.state.clock.advance(31 * 60);
        let kept = outreach_web::maintenance::remove_idle_sessions(&app.state)
            .await
            .unwrap();
        assert_eq!(
            kept, 0,
            "{backend:?}: the application's clock decides nothing"
        );
        let mut tx = app.state.db.begin().await.unwrap();
        tx.execute(
            "UPDATE sessions SET last_seen_at = last_seen_at - 1860",
            vec![],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let removed = outreach_web::maintenance::remove_idle_sessions(&app.state)
            .await
            .unwrap();
        assert!(removed >= 1, "{backend:?}: {removed}");

        let actions = audit_actions(&app, &jc_admin()).await;
        for expected in ["login_failure", "login_success", "logout"] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{backend:?}: {expected} not audited: {actions:?}"
            );
        }
    }
}

#[tokio::test]
async fn forms_without_the_right_csrf_token_are_rejected() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        // Login form without the login cookie's token.
        let mut anon = app.client();
        let r = anon
            .post_raw(
                "/login",
                &[("username", &jc_admin()), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{backend:?}");
        assert!(r.body.contains("Sicherheitsprüfung fehlgeschlagen"));
        assert!(!anon.has_session());
        // A form sent after the session ended is not processed: back to the login.
        let late = anon.post_raw("/konto/passwort", &[("csrf", "x")]).await;
        assert_eq!(late.location(), "/login?abgelaufen=1", "{backend:?}");

        let mut client = app.login(&jc_admin()).await;
        let fields = [
            ("current", PASSWORD),
            ("new", "ein-ganz-neues-passwort"),
            ("repeat", "ein-ganz-neues-passwort"),
        ];
        let missing = client.post_raw("/konto/passwort", &fields).await;
        assert_eq!(missing.status, StatusCode::FORBIDDEN);
        let mut wrong = vec![("csrf", "0000")];
        wrong.extend_from_slice(&fields);
        assert_eq!(
            client.post_raw("/konto/passwort", &wrong).await.status,
            StatusCode::FORBIDDEN
        );
        // Another user's token doesn't work either.
        let other = app.login(&username(Role::Dpo, Side::Own)).await;
        let mut foreign = vec![("csrf", other.csrf.as_str())];
        foreign.extend_from_slice(&fields);
        assert_eq!(
            client.post_raw("/konto/passwort", &foreign).await.status,
            StatusCode::FORBIDDEN
        );
        // Nothing changed: the old password still works.
        let mut again = app.client();
        assert_eq!(
            again.login(&jc_admin(), PASSWORD).await.status,
            StatusCode::SEE_OTHER,
            "{backend:?}"
        );
        // With the right token the change goes through.
        assert_eq!(
            client.post("/konto/passwort", &fields).await.status,
            StatusCode::OK
        );
    }
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

#[tokio::test]
async fn five_failed_logins_lock_the_account_for_fifteen_minutes() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let name = username(Role::Agent, Side::Own);
        let mut client = app.client();
        let unknown = client
            .login("niemand.bekannt", "ganz-falsches-passwort")
            .await;
        let said = field_error(&unknown.body, "password");
        assert!(
            said.contains("Benutzername oder Passwort ist falsch"),
            "{said}"
        );
        for attempt in 1..=5 {
            let r = client.login(&name, "ganz-falsches-passwort").await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            // Unknown, wrong and locked say the same.
            assert_eq!(field_error(&r.body, "password"), said, "attempt {attempt}");
        }
        let locked = client.login(&name, PASSWORD).await;
        assert_eq!(
            locked.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}: locked account let in"
        );
        assert_eq!(field_error(&locked.body, "password"), said);
        app.state.clock.advance(14 * 60);
        assert_eq!(
            client.login(&name, PASSWORD).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        app.state.clock.advance(61);
        assert_eq!(
            client.login(&name, PASSWORD).await.status,
            StatusCode::SEE_OTHER,
            "{backend:?}"
        );
        // Another account was never affected.
        assert_eq!(
            app.client().login(&jc_admin(), PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
    }
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

/// The attack of issue 21: wrong passwords sent at once got 31 checks per
/// lock window, and a right one among them logged in and cleared the lock.
/// Now: 50 at once get exactly five checks against the hash; once those are
/// used, the right password sent with 49 wrong ones is refused, the lock
/// holds, and it ends with its window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_logins_at_once_get_five_password_checks() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let name = username(Role::Agent, Side::Own);
        let statuses = logins_at_once(&app, &name, &["ganz-falsches-passwort"; 50]).await;
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::UNPROCESSABLE_ENTITY),
            "{backend:?}: {statuses:?}"
        );
        let logged = failures(&app, &name).await;
        let checked = logged
            .iter()
            .filter(|p| p.starts_with("falsche Anmeldedaten"))
            .count();
        let refused = logged.iter().filter(|p| *p == "gesperrt").count();
        assert_eq!((checked, refused), (5, 45), "{backend:?}: {logged:?}");

        let mut burst = vec!["ganz-falsches-passwort"; 49];
        burst.insert(17, PASSWORD);
        let statuses = logins_at_once(&app, &name, &burst).await;
        assert!(
            statuses
                .iter()
                .all(|s| *s == StatusCode::UNPROCESSABLE_ENTITY),
            "{backend:?}: the right password got in while locked: {statuses:?}"
        );
        let logged = failures(&app, &name).await;
        assert_eq!(
            logged
                .iter()
                .filter(|p| p.starts_with("falsche Anmeldedaten"))
                .count(),
            5,
            "{backend:?}: no further checks against the hash"
        );
        assert_eq!(
            app.client().login(&name, PASSWORD).await.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}: the lock was cleared"
        );
        app.state.clock.advance(15 * 60);
        assert_eq!(
            app.client().login(&name, PASSWORD).await.status,
            StatusCode::SEE_OTHER,
            "{backend:?}"
        );
    }
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
async fn idle_sessions_end_after_thirty_minutes_unless_extended() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut client = app.login(&jc_admin()).await;
        let page = client.get("/").await;
        assert!(page.body.contains("data-session-seconds=\"1800\""));
        assert!(page.body.contains("Sitzung verlängern"));

        app.state.clock.advance(29 * 60);
        let token = client.csrf.clone();
        let extend = client
            .send(
                axum::http::Request::post("/sitzung/verlaengern")
                    .header(
                        "cookie",
                        format!("outreach_sitzung={}", client.cookies["outreach_sitzung"]),
                    )
                    .header("x-csrf-token", token)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(extend.status, StatusCode::NO_CONTENT, "{backend:?}");
        app.state.clock.advance(29 * 60);
        assert_eq!(
            client.get("/").await.status,
            StatusCode::OK,
            "{backend:?}: extended session ended"
        );
        app.state.clock.advance(30 * 60);
        let expired = client.get("/").await;
        assert_eq!(
            expired.location(),
            "/login",
            "{backend:?}: idle session still valid"
        );
    }
}

#[tokio::test]
async fn password_change_checks_the_policy_in_german() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut client = app.login(&jc_admin()).await;
        let short = client
            .post(
                "/konto/passwort",
                &[("current", PASSWORD), ("new", "kurz"), ("repeat", "kurz")],
            )
            .await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            short.body.contains("mindestens 12 Zeichen"),
            "{}",
            short.body
        );
        assert!(short.body.contains("aria-invalid=\"true\""));
        assert!(short.body.contains("id=\"new-fehler\""));
        let mismatch = client
            .post(
                "/konto/passwort",
                &[
                    ("current", PASSWORD),
                    ("new", "ein-ganz-neues-passwort"),
                    ("repeat", "ein-anderes-passwort"),
                ],
            )
            .await;
        assert!(mismatch.body.contains("stimmen nicht überein"));
        let wrong = client
            .post(
                "/konto/passwort",
                &[
                    ("current", "falsch-falsch-falsch"),
                    ("new", "ein-ganz-neues-passwort"),
                    ("repeat", "ein-ganz-neues-passwort"),
                ],
            )
            .await;
        assert!(wrong.body.contains("Das bisherige Passwort ist falsch."));
        let ok = client
            .post(
                "/konto/passwort",
                &[
                    ("current", PASSWORD),
                    ("new", "ein-ganz-neues-passwort"),
                    ("repeat", "ein-ganz-neues-passwort"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{backend:?}");
        assert!(ok.body.contains("Ihr Passwort wurde geändert."));
        assert_eq!(
            app.client().login(&jc_admin(), PASSWORD).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            app.client()
                .login(&jc_admin(), "ein-ganz-neues-passwort")
                .await
                .status,
            StatusCode::SEE_OTHER
        );
        assert!(
            audit_actions(&app, &jc_admin())
                .await
                .contains(&"password_change".to_string())
        );
    }
}

#[tokio::test]
async fn customer_reads_are_scoped_and_audited() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let f = &app.fixtures;
        let mut admin = app.login(&jc_admin()).await;
        let list = admin.get("/kunden").await;
        assert!(list.body.contains("A000001") && list.body.contains("A000002"));
        assert!(
            !list.body.contains("B000001"),
            "{backend:?}: other job center's customer listed"
        );
        let detail = admin.get(&format!("/kunden/{}", f.customer_a)).await;
        assert_eq!(detail.status, StatusCode::OK);
        assert!(detail.body.contains("17.05.1980"), "dates in TT.MM.JJJJ");
        assert_eq!(
            admin.get(&format!("/kunden/{}", f.customer_b)).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            admin.get("/kunden/999999").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(admin.get("/kunden/abc").await.status, StatusCode::NOT_FOUND);

        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        let mine = pap.get("/kunden").await;
        assert!(
            mine.body.contains("A000001") && !mine.body.contains("A000002"),
            "{backend:?}"
        );

        let mut tx = app.state.db.begin_read().await.unwrap();
        let filter = AuditFilter {
            record_id: Some("A000001".into()),
            ..AuditFilter::default()
        };
        let events = audit::list(&mut tx, &filter, 10, 0).await.unwrap();
        assert_eq!(events.len(), 1, "{backend:?}");
        assert_eq!(events[0].action, "customer_read");
        assert_eq!(events[0].username, jc_admin());
        assert!(events[0].fields.contains("Geburtsdatum"));
        assert_eq!(events[0].job_center_id, Some(f.jc_a));
        assert!(!events[0].purpose.is_empty());
    }
}

#[tokio::test]
async fn the_admin_sees_no_customer_data() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let start = admin.get("/").await;
        assert!(
            !start.body.contains("/kunden"),
            "{backend:?}: admin navigation links customers"
        );
        assert_eq!(admin.get("/kunden").await.status, StatusCode::FORBIDDEN);
        let detail = admin
            .get(&format!("/kunden/{}", app.fixtures.customer_a))
            .await;
        assert_eq!(detail.status, StatusCode::FORBIDDEN);
        assert!(!detail.body.contains("Mustermann"));
        assert_eq!(admin.get("/protokoll").await.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_dpo_page_finds_an_edited_audit_row() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        app.login(&jc_admin()).await;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let ok = dpo.post("/protokoll/pruefen", &[]).await;
        assert!(
            ok.body.contains("Die Protokollkette ist unversehrt"),
            "{backend:?}: {}",
            ok.body
        );
        let list = dpo
            .get(&format!("/protokoll?benutzer={}", jc_admin()))
            .await;
        assert!(list.body.contains("Anmeldung erfolgreich"), "{backend:?}");

        outreach_store::testing::tamper_with_audit(
            &app.state.db,
            "UPDATE audit_events SET client = '10.0.0.66' WHERE seq = 1",
        )
        .await
        .unwrap();
        let broken = dpo.post("/protokoll/pruefen", &[]).await;
        assert!(
            broken.body.contains("Die Protokollkette ist verletzt"),
            "{backend:?}"
        );
        assert!(
            broken.body.contains("Nr. 1 (Inhalt wurde verändert)"),
            "{}",
            broken.body
        );

        let bad = dpo.get("/protokoll?von=31.02.2026").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("Dieses Datum gibt es nicht."));
    }
}

#[tokio::test]
async fn bad_input_gets_german_messages_next_to_the_field_and_no_internals() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut jc = app.login(&jc_admin()).await;
        let r = jc
            .post(
                "/auftraege",
                &[
                    ("title", ""),
                    ("service_center", "x"),
                    ("period_start", "31.02.2026"),
                    ("period_end", "morgen"),
                    ("window_days", "Sa"),
                    ("window_start", "07:00"),
                    ("window_end", "20:00"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?}");
        for text in [
            "Bitte wählen Sie das beauftragte Service-Center aus.",
            "Dieses Datum gibt es nicht.",
            "Bitte geben Sie ein Datum im Format TT.MM.JJJJ an.",
            "Am Samstag darf nicht angerufen werden.",
            "Angerufen werden darf nur zwischen 08:00 und 20:00 Uhr.",
            "id=\"period_start-fehler\"",
            "class=\"error-summary\"",
        ] {
            assert!(r.body.contains(text), "{backend:?}: missing {text}");
        }
        let sc = app.fixtures.sc_y.to_string();
        let reversed = jc
            .post(
                "/auftraege",
                &[
                    ("title", "Test"),
                    ("service_center", &sc),
                    ("period_start", "01.06.2027"),
                    ("period_end", "01.01.2027"),
                ],
            )
            .await;
        assert!(
            reversed
                .body
                .contains("Das Ende des Zeitraums liegt vor seinem Beginn.")
        );
        let ok = jc
            .post(
                "/auftraege",
                &[
                    ("title", "Neu"),
                    ("service_center", &sc),
                    ("fields", "phone"),
                    ("window_days", "Mo"),
                    ("window_days", "Di"),
                    ("window_start", "09:00"),
                    ("window_end", "18:00"),
                    ("period_start", "01.01.2027"),
                    ("period_end", "30.06.2027"),
                ],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{backend:?}: {}", ok.body);
        let detail = jc.get(ok.location()).await;
        assert!(
            detail.body.contains("30.09.2027"),
            "default deletion deadline"
        );
        let activate = jc
            .post(&format!("{}/status", ok.location()), &[("state", "active")])
            .await;
        assert!(
            activate.body.contains("Aufsichtsbehörde eingetragen ist"),
            "{backend:?}"
        );
        let activate = jc
            .post(
                &format!("{}/status", ok.location()),
                &[("state", "active"), ("authority_notified_on", "15.12.2026")],
            )
            .await;
        assert_eq!(activate.status, StatusCode::SEE_OTHER);
        assert!(jc.get(ok.location()).await.body.contains(">aktiv<"));

        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let u = admin
            .post(
                "/admin/benutzer",
                &[
                    ("username", "Ä b"),
                    ("display_name", ""),
                    ("role", "agent"),
                    ("organisation", "global"),
                ],
            )
            .await;
        assert_eq!(u.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(u.body.contains("Der Benutzername darf nur Kleinbuchstaben"));
        assert!(
            u.body
                .contains("Diese Rolle gehört zu einem Service-Center.")
        );
        let dup = admin
            .post(
                "/admin/jobcenter",
                &[
                    ("jc_code", "jc-a"),
                    ("jc_name", "Doppelt"),
                    ("jc_state", "NW"),
                    ("jc_postcode", "123"),
                ],
            )
            .await;
        assert!(dup.body.contains("Die Postleitzahl hat fünf Ziffern."));
        let dup = admin
            .post(
                "/admin/jobcenter",
                &[
                    ("jc_code", "jc-a"),
                    ("jc_name", "Doppelt"),
                    ("jc_state", "NW"),
                ],
            )
            .await;
        assert!(
            dup.body.contains("Dieses Kürzel ist schon vergeben."),
            "{backend:?}"
        );
        for body in [&r.body, &u.body, &dup.body] {
            for leak in ["sqlx", "panicked", "UNIQUE", "duplicate key", "StoreError"] {
                assert!(
                    !body.contains(leak),
                    "{backend:?}: internal text {leak} shown"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_admin_creates_users_and_resets_passwords() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let org = format!("jc:{}", app.fixtures.jc_a);
        let created = admin
            .post(
                "/admin/benutzer",
                &[
                    ("username", "neu.pap"),
                    ("display_name", "Neue Person"),
                    ("role", "case_manager"),
                    ("organisation", &org),
                    ("pap_code", "pap9"),
                ],
            )
            .await;
        assert_eq!(
            created.status,
            StatusCode::OK,
            "{backend:?}: {}",
            created.body
        );
        let start = created.body.find("id=\"passwort\">").unwrap() + "id=\"passwort\">".len();
        let password: String = created.body[start..]
            .chars()
            .take_while(|c| *c != '<')
            .collect();
        assert_eq!(password.len(), 24);
        let mut new_user = app.client();
        assert_eq!(
            new_user.login("neu.pap", &password).await.status,
            StatusCode::SEE_OTHER
        );
        let start_page = new_user.get("/").await;
        assert!(start_page.body.contains("Meine Kundinnen und Kunden"));

        let victim = app.fixtures.victim;
        let mut victim_client = app.client();
        victim_client.login("opfer", PASSWORD).await;
        let reset = admin
            .post(&format!("/admin/benutzer/{victim}/passwort"), &[])
            .await;
        assert!(reset.body.contains("wurde zurückgesetzt"));
        assert_eq!(
            victim_client.get("/").await.location(),
            "/login",
            "{backend:?}: sessions survive reset"
        );
        let off = admin
            .post(&format!("/admin/benutzer/{victim}/deaktivieren"), &[])
            .await;
        assert!(off.body.contains("wurde deaktiviert"));
        assert_eq!(
            app.client().login("opfer", PASSWORD).await.status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let on = admin
            .post(&format!("/admin/benutzer/{victim}/aktivieren"), &[])
            .await;
        assert!(on.body.contains("ist wieder aktiv"), "{backend:?}");
        let actions = audit_actions(&app, &username(Role::Admin, Side::Own)).await;
        for expected in [
            "user_create",
            "password_reset",
            "user_deactivate",
            "user_activate",
        ] {
            assert!(
                actions.iter().any(|a| a == expected),
                "{backend:?}: {expected} not audited"
            );
        }
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

/// The attack of issue 21: the application's clock moved to 2099 (past the
/// fixtures' deletion deadline and every event's retention) must delete
/// nothing, nor end a session; a training server deletes nothing even what
/// is due; and a production server does delete what is due by the
/// database's clock, so that the test can see a deletion.
#[tokio::test]
async fn a_moved_clock_deletes_nothing_and_a_training_server_never_deletes() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        app.login(&username(Role::Dpo, Side::Own)).await;
        let before = stored(&app).await;
        assert!(before.0 > 0 && before.2 > 0, "{backend:?}: {before:?}");
        app.state.clock.advance(73 * 365 * 86_400);
        outreach_web::maintenance::daily(&app.state).await.unwrap();
        outreach_web::maintenance::remove_idle_sessions(&app.state)
            .await
            .unwrap();
        let after = stored(&app).await;
        assert_eq!(
            (after.0, after.2),
            (before.0, before.2),
            "{backend:?}: cases and sessions"
        );
        assert!(after.1 >= before.1, "{backend:?}: audit events {after:?}");

        let training = outreach_web::WebConfig {
            training: true,
            ..outreach_web::WebConfig::default()
        };
        let app = TestApp::with_config(backend, training).await;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let home = dpo.get("/").await;
        assert!(home.body.contains("Schulungsbetrieb"), "{backend:?}");
        deadline_passed(&app).await;
        let mut tx = app.state.db.begin().await.unwrap();
        tx.execute("UPDATE sessions SET last_seen_at = 0", vec![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let before = stored(&app).await;
        outreach_web::maintenance::daily(&app.state).await.unwrap();
        outreach_web::maintenance::remove_idle_sessions(&app.state)
            .await
            .unwrap();
        let after = stored(&app).await;
        assert_eq!((after.0, after.2), (before.0, before.2), "{backend:?}");

        let app = TestApp::new(backend).await;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        assert!(!dpo.get("/").await.body.contains("Schulungsbetrieb"));
        deadline_passed(&app).await;
        let before = stored(&app).await;
        outreach_web::maintenance::daily(&app.state).await.unwrap();
        let after = stored(&app).await;
        assert!(after.0 < before.0, "{backend:?}: {before:?} → {after:?}");
    }
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

/// After the system administration resets a password, the account can do
/// nothing before it chose a new one; a reset of a case manager's (or DPO's)
/// account shows on the job center DPO's start page.
#[tokio::test]
async fn a_reset_password_must_be_changed_and_the_dpo_is_told() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let pap = username(Role::CaseManager, Side::Own);
        let id = {
            let mut tx = app.state.db.begin_read().await.unwrap();
            outreach_store::user::by_username(&mut tx, &pap)
                .await
                .unwrap()
                .unwrap()
                .id
        };
        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let shown = admin
            .post(&format!("/admin/benutzer/{id}/passwort"), &[])
            .await;
        let generated = shown
            .body
            .split("id=\"passwort\">")
            .nth(1)
            .and_then(|rest| rest.split('<').next())
            .unwrap()
            .to_string();
        let mut client = app.client();
        let login = client.login(&pap, &generated).await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "{backend:?}");
        for path in ["/", "/kunden", "/ergebnisse"] {
            let r = client.get(path).await;
            assert_eq!(r.location(), "/konto/passwort?neu=1", "{backend:?}: {path}");
        }
        let page = client.get("/konto/passwort?neu=1").await;
        assert!(
            page.body.contains("hat Ihr Passwort zurückgesetzt"),
            "{}",
            page.body
        );
        client.csrf = common::csrf_in(&page.body);
        let changed = client
            .post(
                "/konto/passwort",
                &[
                    ("current", &generated),
                    ("new", "ein-ganz-neues-passwort"),
                    ("repeat", "ein-ganz-neues-passwort"),
                ],
            )
            .await;
        assert_eq!(
            changed.status,
            StatusCode::OK,
            "{backend:?}: {}",
            changed.body
        );
        assert_eq!(
            client.get("/kunden").await.status,
            StatusCode::OK,
            "{backend:?}"
        );

        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let home = dpo.get("/").await;
        assert!(
            home.body
                .contains("das Passwort von Test pAp / Fallmanager/in"),
            "{backend:?}: {}",
            home.body
        );
        let mut foreign = app.login(&username(Role::Dpo, Side::Foreign)).await;
        assert!(!foreign.get("/").await.body.contains("zurückgesetzt"));
    }
}
