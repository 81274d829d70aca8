//! The second factor of local accounts over HTTP, on both databases, as a
//! person meets it: after the right password the code of their app (a
//! wrong one, a replayed one, a recovery code once), the first set-up with
//! a QR code and the recovery codes shown once, code failures counted by
//! the lockout, the step's five minutes, the administration's reset, and
//! which accounts are asked (training mode, the roles configured).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, SECOND_FACTOR, Side, TestApp, test_config, username};
use outreach_core::access::Role;
use outreach_core::second_factor as totp;
use outreach_store::testing::{TEST_RECOVERY_CODE, TEST_TOTP_SECRET, backends, test_totp_code};
use outreach_store::{args, audit};

/// The error shown next to field `id`.
fn field_error(body: &str, id: &str) -> String {
    common::between(body, &format!("id=\"{id}-fehler\">"), "</p>").to_string()
}

/// A six-digit code that is not the test secret's of now or its
/// neighbours.
fn wrong_code() -> String {
    let now = jiff::Timestamp::now().as_second();
    let near: Vec<String> = [-30, 0, 30, 60]
        .iter()
        .filter_map(|d| totp::code_at(TEST_TOTP_SECRET, now + d))
        .collect();
    ["000000", "111111", "222222", "333333", "444444"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap()
        .to_string()
}

/// The purposes of the audit events of `action` (its code), in order.
async fn audited(app: &TestApp, action: &str) -> Vec<String> {
    audit::seal(&app.state.db).await.unwrap();
    let mut tx = app.state.db.begin_read().await.unwrap();
    let rows: Vec<(String,)> = tx
        .fetch_all(
            "SELECT purpose FROM audit_events WHERE action = $1 ORDER BY seq",
            args![action],
        )
        .await
        .unwrap();
    rows.into_iter().map(|(p,)| p).collect()
}

fn set_cookie<'a>(response: &'a common::Response, name: &str) -> &'a str {
    response
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .unwrap_or("")
}

#[tokio::test]
async fn a_local_account_signs_in_with_a_code_once_and_a_recovery_code_once() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let agent = username(Role::Agent, Side::Own);
        let mut client = app.client();

        // The right password alone is no session: the code is asked.
        let first = client.password_step(&agent, PASSWORD).await;
        assert_eq!(first.status, StatusCode::SEE_OTHER, "{backend:?}");
        assert_eq!(first.location(), SECOND_FACTOR);
        assert!(
            !client.has_session(),
            "{backend:?}: a session before the code"
        );
        let challenge = set_cookie(&first, "outreach_zweiter_faktor");
        for flag in ["HttpOnly", "SameSite=Strict", "Secure", "Max-Age=300"] {
            assert!(challenge.contains(flag), "{flag} missing: {challenge}");
        }
        let page = client.get(SECOND_FACTOR).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("autocomplete=\"one-time-code\""));
        assert!(
            page.body
                .contains("<label for=\"code\">Code oder Wiederherstellungscode</label>")
        );
        assert!(
            !page.body.contains(TEST_TOTP_SECRET),
            "the secret shown again"
        );
        // Nothing behind the sign-in opens yet.
        assert_eq!(client.get("/").await.location(), "/login");

        let empty = client.post(SECOND_FACTOR, &[("code", "")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(field_error(&empty.body, "code").contains("Bitte geben Sie den Code"));
        let wrong = client.post(SECOND_FACTOR, &[("code", &wrong_code())]).await;
        assert_eq!(
            wrong.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}"
        );
        assert!(
            field_error(&wrong.body, "code").contains("stimmt nicht"),
            "{}",
            wrong.body
        );
        assert!(!client.has_session());

        let code = test_totp_code();
        let right = client.code_step(&agent, &code).await;
        assert_eq!(
            right.status,
            StatusCode::SEE_OTHER,
            "{backend:?}: {}",
            right.body
        );
        assert_eq!(right.location(), "/");
        assert!(client.has_session());
        assert!(set_cookie(&right, "outreach_zweiter_faktor").contains("Max-Age=0"));
        assert_eq!(client.get("/").await.status, StatusCode::OK);

        // The same code again, in another browser: refused.
        let mut thief = app.client();
        thief.password_step(&agent, PASSWORD).await;
        let replayed = thief.post(SECOND_FACTOR, &[("code", &code)]).await;
        assert_eq!(
            replayed.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}: a code used twice"
        );
        assert!(!thief.has_session());

        // A recovery code, typed in capitals with spaces: once.
        let typed = TEST_RECOVERY_CODE.to_uppercase().replace('-', " ");
        let recovered = thief.post(SECOND_FACTOR, &[("code", &typed)]).await;
        assert_eq!(
            recovered.status,
            StatusCode::SEE_OTHER,
            "{}",
            recovered.body
        );
        assert!(thief.has_session());
        let mut again = app.client();
        again.password_step(&agent, PASSWORD).await;
        let reused = again
            .post(SECOND_FACTOR, &[("code", TEST_RECOVERY_CODE)])
            .await;
        assert_eq!(
            reused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}: a recovery code used twice"
        );

        let successes = audited(&app, "login_success").await;
        for how in ["mit zweitem Faktor", "mit Wiederherstellungscode"] {
            assert!(
                successes.iter().any(|p| p == how),
                "{backend:?}: {how} not audited: {successes:?}"
            );
        }
        let failures = audited(&app, "login_failure").await;
        assert_eq!(
            failures.iter().filter(|p| *p == "falscher Code").count(),
            3,
            "{backend:?}: {failures:?}"
        );
    }
}

#[tokio::test]
async fn the_first_sign_in_sets_the_app_up_and_shows_the_recovery_codes_once() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let victim = app.fixtures.victim;
        let mut victim_client = app.login("opfer").await;
        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let list = admin.get("/admin/benutzer").await;
        assert!(
            list.body
                .contains("Zweiten Faktor zurücksetzen<span class=\"visually-hidden\"> für opfer")
        );

        // A lost phone: the administration resets the factor; the
        // account's sessions end.
        let reset = admin
            .post(&format!("/admin/benutzer/{victim}/zweiter-faktor"), &[])
            .await;
        assert_eq!(reset.status, StatusCode::OK, "{backend:?}");
        assert!(
            reset
                .body
                .contains("Der zweite Faktor von opfer ist zurückgesetzt")
        );
        assert!(
            !reset
                .body
                .contains("Zweiten Faktor zurücksetzen<span class=\"visually-hidden\"> für opfer")
        );
        assert_eq!(victim_client.get("/").await.location(), "/login");
        assert_eq!(audited(&app, "second_factor_reset").await.len(), 1);

        // The next sign-in sets it up: a QR code and the secret.
        let mut client = app.client();
        client.password_step("opfer", PASSWORD).await;
        let page = client.get(SECOND_FACTOR).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<svg"), "{}", page.body);
        assert!(page.body.contains("role=\"img\""));
        assert!(page.body.contains("<title id=\"qr-titel\">QR-Code"));
        let secret =
            common::between(&page.body, "<p class=\"secret\"><code>", "</code>").replace(' ', "");
        assert_eq!(secret.len(), 32, "{}", page.body);
        assert_ne!(secret, TEST_TOTP_SECRET);
        let wrong = client.post(SECOND_FACTOR, &[("code", "123")]).await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(field_error(&wrong.body, "code").contains("nach dem Einrichten"));
        assert!(
            wrong.body.replace(' ', "").contains(&secret),
            "another secret offered"
        );

        let code = totp::code_at(&secret, jiff::Timestamp::now().as_second()).unwrap();
        let done = client.post(SECOND_FACTOR, &[("code", &code)]).await;
        assert_eq!(done.status, StatusCode::OK, "{backend:?}: {}", done.body);
        assert!(client.has_session());
        assert_eq!(done.header("cache-control"), "no-store");
        let codes = common::recovery_codes_in(&done.body);
        assert_eq!(codes.len(), 10, "{}", done.body);
        let mut distinct = codes.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 10);
        assert_eq!(audited(&app, "second_factor_enrol").await.len(), 1);
        assert_eq!(client.get("/").await.status, StatusCode::OK);

        // From now on: the new secret's codes, and each recovery code once.
        let mut later = app.client();
        later.password_step("opfer", PASSWORD).await;
        outreach_store::testing::forget_used_code_step(&app.state.db, "opfer")
            .await
            .unwrap();
        let old_secret = later
            .post(SECOND_FACTOR, &[("code", &test_totp_code())])
            .await;
        assert_eq!(old_secret.status, StatusCode::UNPROCESSABLE_ENTITY);
        let with_code = later.post(SECOND_FACTOR, &[("code", &codes[3])]).await;
        assert_eq!(
            with_code.status,
            StatusCode::SEE_OTHER,
            "{}",
            with_code.body
        );
        let mut once_more = app.client();
        once_more.password_step("opfer", PASSWORD).await;
        let reused = once_more.post(SECOND_FACTOR, &[("code", &codes[3])]).await;
        assert_eq!(
            reused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}"
        );
        let list = admin.get("/admin/benutzer").await;
        assert!(
            list.body
                .contains("Zweiten Faktor zurücksetzen<span class=\"visually-hidden\"> für opfer")
        );
    }
}

#[tokio::test]
async fn wrong_codes_count_toward_the_lockout_of_the_password() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let agent = username(Role::Agent, Side::Own);
        let mut client = app.client();
        client.password_step(&agent, PASSWORD).await;
        // The password took the first of five checks; four wrong codes
        // take the rest.
        let mut tries = 0;
        let locked = loop {
            tries += 1;
            let r = client.post(SECOND_FACTOR, &[("code", &wrong_code())]).await;
            assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
            if r.body.contains("für 15 Minuten gesperrt") && r.body.contains("action=\"/login\"") {
                break r;
            }
            assert!(tries < 10, "{backend:?}: never locked");
        };
        assert_eq!(tries, 4, "{backend:?}: locked after {tries} codes");
        assert!(set_cookie(&locked, "outreach_zweiter_faktor").contains("Max-Age=0"));
        // Locked: the right password and the right code don't help.
        let refused = client.password_step(&agent, PASSWORD).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}"
        );
        app.state.clock.advance(15 * 60 + 1);
        assert_eq!(
            client.login(&agent, PASSWORD).await.status,
            StatusCode::SEE_OTHER
        );
        let failures = audited(&app, "login_failure").await;
        assert!(
            failures
                .iter()
                .any(|p| p == "falscher Code; Konto gesperrt"),
            "{failures:?}"
        );
    }
}

#[tokio::test]
async fn the_code_is_asked_for_five_minutes() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let agent = username(Role::Agent, Side::Own);
        let mut client = app.client();
        client.password_step(&agent, PASSWORD).await;
        app.state.clock.advance(301);
        let page = client.get(SECOND_FACTOR).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{backend:?}");
        assert_eq!(page.location(), "/login?zeit=1");
        let late = client.code_step(&agent, &test_totp_code()).await;
        assert_eq!(
            late.location(),
            "/login?zeit=1",
            "{backend:?}: a late code let in"
        );
        assert!(!client.has_session());
        let login = client.get("/login?zeit=1").await;
        assert!(login.body.contains("nicht innerhalb von fünf Minuten"));
        // Without the sign-in's cookie there is nothing to answer.
        let mut stranger = app.client();
        let none = stranger.get(SECOND_FACTOR).await;
        assert_eq!(none.location(), "/login?zeit=1");
    }
}

#[tokio::test]
async fn training_mode_and_the_configured_roles_decide_who_sets_a_factor_up() {
    for backend in backends().await {
        // Training mode: an account without a factor signs in with its
        // password (the demo); one with a factor is still asked.
        let config = outreach_web::WebConfig {
            training: true,
            ..test_config()
        };
        let app = TestApp::with_config(backend, config).await;
        forget_factor(&app, app.fixtures.victim).await;
        let mut plain = app.client();
        let r = plain.password_step("opfer", PASSWORD).await;
        assert_eq!(
            r.location(),
            "/",
            "{backend:?}: training asked an account without a factor"
        );
        let mut enrolled = app.client();
        let r = enrolled
            .password_step(&username(Role::Agent, Side::Own), PASSWORD)
            .await;
        assert_eq!(r.location(), SECOND_FACTOR);

        // Only the system administration configured: an agent without a
        // factor signs in with the password, an administrator without one
        // sets it up.
        let config = outreach_web::WebConfig {
            second_factor_roles: vec![Role::Admin],
            ..test_config()
        };
        let app = TestApp::with_config(backend, config).await;
        forget_factor(&app, app.fixtures.victim).await;
        let admin_name = username(Role::Admin, Side::Own);
        let admin_id = user_id(&app, &admin_name).await;
        forget_factor(&app, admin_id).await;
        let mut agent = app.client();
        assert_eq!(agent.password_step("opfer", PASSWORD).await.location(), "/");
        let mut admin = app.client();
        let (done, _, codes) = admin.login_enrolling(&admin_name, PASSWORD).await;
        assert_eq!(done.status, StatusCode::OK, "{backend:?}");
        assert_eq!(codes.len(), 10);
        // The default: every role sets it up.
        let app = TestApp::new(backend).await;
        forget_factor(&app, app.fixtures.victim).await;
        let mut agent = app.client();
        assert_eq!(
            agent.password_step("opfer", PASSWORD).await.location(),
            SECOND_FACTOR
        );
    }
}

async fn forget_factor(app: &TestApp, id: i64) {
    let mut tx = app.state.db.begin().await.unwrap();
    outreach_store::second_factor::reset(&mut tx, id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn user_id(app: &TestApp, name: &str) -> i64 {
    let mut tx = app.state.db.begin_read().await.unwrap();
    outreach_store::user::by_username(&mut tx, name)
        .await
        .unwrap()
        .unwrap()
        .id
}
