//! Sign-in through the organisation's directory, against a real OpenLDAP
//! `slapd` over LDAPS with the test's CA, on both databases: the directory
//! password, a wrong one, a person in no mapped group, in two (precedence),
//! in a nested group; the account created at the first sign-in and marked
//! as the directory's; the lockout; the sync deactivating leavers (signed
//! out at once), taking over a changed role, and stopping at the
//! mass-deactivation guard; the directory down (sessions go on, local
//! accounts sign in, ready stays ready) and a certificate of another CA.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../outreach-store/tests/support/ca.rs"]
mod ca;
mod common;

use axum::http::StatusCode;
use common::{PASSWORD, Side, TestApp, username};
use outreach_app::directory::{SignOn, sync};
use outreach_core::access::Role;
use outreach_directory::testing::{self, Slapd, group, group_dn, person, person_dn};
use outreach_store::args;
use outreach_store::testing::backends;

/// The group table: agents and team leads of service center X, case
/// managers of job center A.
const GROUPS: &[(&str, &str, Option<&str>, i64)] = &[
    ("sc-x-agenten", "agent", Some("sc-x"), 10),
    ("sc-x-leitung", "supervisor", Some("sc-x"), 20),
    ("jc-a-pap", "case_manager", Some("jc-a"), 5),
];

/// erika: an agent through team-nord, a group inside sc-x-agenten; max: in
/// the agents' and the team leads' groups; ohne: in no mapped group.
fn tree() -> String {
    let mut ldif = String::new();
    ldif += &person("erika", "Erika Mustermann", "erikas-passwort");
    ldif += &person("max", "Max Muster", "max-passwort");
    ldif += &person("ohne", "Ohne Gruppe", "ohne-passwort");
    ldif += &group("team-nord", &[person_dn("erika")]);
    ldif += &group("sc-x-agenten", &[group_dn("team-nord"), person_dn("max")]);
    ldif += &group("sc-x-leitung", &[person_dn("max")]);
    ldif += &group("jc-a-pap", &[]);
    ldif += &group("andere", &[person_dn("ohne")]);
    ldif
}

struct Setup {
    slapd: Slapd,
    ca_file: std::path::PathBuf,
    other_ca_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn set_up() -> Option<Setup> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let authority = ca::TestCa::new("Verzeichnis Test-CA");
    let cert = authority.issue(&["localhost", "127.0.0.1"]);
    let slapd = testing::for_test(&cert.cert_pem, &cert.key_pem, &tree())?;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = authority.write(dir.path());
    let other_dir = dir.path().join("andere");
    std::fs::create_dir(&other_dir).unwrap();
    let other_ca_file = ca::TestCa::new("Fremde CA").write(&other_dir);
    Some(Setup {
        slapd,
        ca_file,
        other_ca_file,
        _dir: dir,
    })
}

fn settings(setup: &Setup) -> outreach_directory::Settings {
    testing::settings(
        &setup.slapd.ldaps_url(),
        false,
        Some(setup.ca_file.clone()),
        GROUPS,
    )
}

/// The stored account of `name`: role, organisation, source, active.
async fn account(
    app: &TestApp,
    name: &str,
) -> Option<(String, Option<i64>, Option<i64>, String, bool)> {
    let mut tx = app.state.db.begin_read().await.unwrap();
    tx.fetch_optional(
        "SELECT role, job_center_id, service_center_id, identity_source, active FROM users WHERE username = $1",
        args![name],
    )
    .await
    .unwrap()
}

/// The audit events of `action` whose user or record is `who`, with their
/// purpose and fields.
async fn events(app: &TestApp, action: &str, who: &str) -> Vec<(String, String, String)> {
    let mut tx = app.state.db.begin_read().await.unwrap();
    tx.fetch_all(
        "SELECT username, purpose, fields FROM audit_events
         WHERE action = $1 AND (username = $2 OR record_id = $2
               OR record_id IN (SELECT CAST(id AS TEXT) FROM users WHERE username = $2))
         ORDER BY seq",
        args![action, who],
    )
    .await
    .unwrap()
}

/// Signs in and answers the response, the client kept for the session.
async fn sign_in(app: &TestApp, name: &str, password: &str) -> (common::Client, common::Response) {
    let mut client = app.client();
    let response = client.login(name, password).await;
    (client, response)
}

#[tokio::test]
async fn directory_people_sign_in_with_the_directory_password() {
    let Some(setup) = set_up() else { return };
    for backend in backends().await {
        let app = TestApp::with_directory(backend, &settings(&setup)).await;
        let f = &app.fixtures;

        // Right password, first time: the account is created from the
        // groups (nested: team-nord inside sc-x-agenten).
        assert_eq!(account(&app, "erika").await, None);
        let (mut erika, response) = sign_in(&app, "Erika", "erikas-passwort").await;
        assert_eq!(
            response.status,
            StatusCode::SEE_OTHER,
            "[{backend:?}] {}",
            response.body
        );
        let home = erika.get("/").await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.body.contains("Erika Mustermann"), "[{backend:?}]");
        assert_eq!(
            account(&app, "erika").await,
            Some(("agent".into(), None, Some(f.sc_x), "ldap".into(), true))
        );
        let created = events(&app, "user_create", "erika").await;
        assert_eq!(created.len(), 1, "[{backend:?}] {created:?}");
        assert!(created[0].2.contains("agent"), "{created:?}");
        let success = events(&app, "login_success", "erika").await;
        assert_eq!(success.len(), 1);
        assert_eq!(success[0].1, "über das Verzeichnis");

        // A second sign-in creates nothing new.
        let (_, again) = sign_in(&app, "erika", "erikas-passwort").await;
        assert_eq!(again.status, StatusCode::SEE_OTHER);
        assert_eq!(events(&app, "user_create", "erika").await.len(), 1);

        // A wrong password: the usual refusal, audited.
        let (wrong, response) = sign_in(&app, "erika", "falsch-falsch").await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            response
                .body
                .contains("Benutzername oder Passwort ist falsch")
        );
        assert!(!wrong.has_session());
        let failures = events(&app, "login_failure", "erika").await;
        assert_eq!(failures.last().unwrap().1, "falsche Anmeldedaten");

        // In the agents' and the team leads' group: the higher precedence.
        let (_, response) = sign_in(&app, "max", "max-passwort").await;
        assert_eq!(response.status, StatusCode::SEE_OTHER, "{}", response.body);
        assert_eq!(
            account(&app, "max").await,
            Some(("supervisor".into(), None, Some(f.sc_x), "ldap".into(), true))
        );

        // Known to the directory, but in no mapped group: refused with a
        // message that names no group, and no account.
        let (ohne, response) = sign_in(&app, "ohne", "ohne-passwort").await;
        assert_eq!(response.status, StatusCode::FORBIDDEN);
        assert!(
            response.body.contains("nicht freigeschaltet"),
            "{}",
            response.body
        );
        assert!(!response.body.contains("cn="), "names a group");
        assert!(!response.body.contains("andere"), "names a group");
        assert!(!ohne.has_session());
        assert_eq!(account(&app, "ohne").await, None);
        let refused = events(&app, "login_failure", "ohne").await;
        assert_eq!(
            refused.last().unwrap().1,
            "in keiner zugeordneten Gruppe des Verzeichnisses"
        );

        // Unknown to the directory: the usual refusal.
        let (_, response) = sign_in(&app, "niemand", "irgendwas-langes").await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Local accounts still sign in with their own password.
        let admin_name = username(Role::Admin, Side::Own);
        let (_, response) = sign_in(&app, &admin_name, PASSWORD).await;
        assert_eq!(response.status, StatusCode::SEE_OTHER);

        // The administration sees erika as the directory's and can't set
        // her a password.
        let mut admin = app.login(&admin_name).await;
        let list = admin.get("/admin/benutzer").await;
        let row = list
            .body
            .split("<tr>")
            .find(|r| r.contains("<td>erika</td>"))
            .unwrap_or_else(|| panic!("erika not listed: {}", list.body));
        assert!(row.contains("<td>Verzeichnis</td>"), "{row}");
        assert!(
            list.body
                .contains("Der Abgleich mit dem Verzeichnis ist noch nicht gelaufen."),
            "{}",
            list.body
        );
        assert!(!row.contains("Passwort zurücksetzen"), "{row}");
        let (erika_id,): (i64,) = {
            let mut tx = app.state.db.begin_read().await.unwrap();
            tx.fetch_one("SELECT id FROM users WHERE username = 'erika'", vec![])
                .await
                .unwrap()
        };
        let reset = admin
            .post(&format!("/admin/benutzer/{erika_id}/passwort"), &[])
            .await;
        assert_eq!(reset.status, StatusCode::OK);
        assert!(
            reset.body.contains("über das Verzeichnis an"),
            "{}",
            reset.body
        );
        assert!(events(&app, "password_reset", "erika").await.is_empty());
        // Nor can she set one here.
        erika.refresh_csrf().await;
        let page = erika.get("/konto/passwort").await;
        assert!(page.body.contains("Ihr Passwort ändern Sie dort"));
        let change = erika
            .post(
                "/konto/passwort",
                &[
                    ("current", "erikas-passwort"),
                    ("new", "ein ganz neues Passwort"),
                    ("repeat", "ein ganz neues Passwort"),
                ],
            )
            .await;
        assert_eq!(change.status, StatusCode::CONFLICT);

        // The lockout counts directory checks: after five wrong passwords
        // the right one is refused too.
        for _ in 0..5 {
            let (_, response) = sign_in(&app, "max", "falsch-falsch").await;
            assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
        }
        let (_, response) = sign_in(&app, "max", "max-passwort").await;
        assert_eq!(
            response.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "[{backend:?}] locked"
        );
        assert_eq!(
            events(&app, "login_failure", "max").await.last().unwrap().1,
            "gesperrt"
        );
    }
}

#[tokio::test]
async fn the_sync_signs_out_leavers_takes_over_roles_and_stops_at_the_guard() {
    for backend in backends().await {
        // A directory per database: the test changes it.
        let Some(setup) = set_up() else { return };
        let app = TestApp::with_directory(backend, &settings(&setup)).await;
        let (mut erika, r) = sign_in(&app, "erika", "erikas-passwort").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let (_, r) = sign_in(&app, "max", "max-passwort").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        let now = app.state.clock.now();

        // erika leaves her team: one of two directory accounts would go,
        // more than the default 10 % — the sync stops and changes nothing.
        setup
            .slapd
            .remove_member("team-nord", &person_dn("erika"))
            .await
            .unwrap();
        let strict = SignOn::new(&app.state.db, &settings(&setup), None)
            .await
            .unwrap();
        let report = sync(&app.state.db, &strict, false, now).await.unwrap();
        assert!(report.stopped.is_some(), "[{backend:?}] {report:?}");
        assert_eq!(report.deactivated, vec!["erika".to_string()]);
        assert!(
            report.summary().contains("angehalten"),
            "{}",
            report.summary()
        );
        assert!(account(&app, "erika").await.unwrap().4);
        assert_eq!(erika.get("/").await.status, StatusCode::OK);

        // With a share that allows it: a dry run reports, changes nothing.
        let mut loose_settings = settings(&setup);
        loose_settings.max_deactivate_percent = 50;
        let loose = SignOn::new(&app.state.db, &loose_settings, None)
            .await
            .unwrap();
        let dry = sync(&app.state.db, &loose, true, now).await.unwrap();
        assert_eq!(dry.deactivated, vec!["erika".to_string()]);
        assert!(dry.stopped.is_none());
        assert!(account(&app, "erika").await.unwrap().4);

        // The real run deactivates her and ends her session at once.
        let done = sync(&app.state.db, &loose, false, now).await.unwrap();
        assert_eq!(done.deactivated, vec!["erika".to_string()], "{done:?}");
        assert!(!account(&app, "erika").await.unwrap().4);
        let after = erika.get("/").await;
        assert_eq!(
            after.status,
            StatusCode::SEE_OTHER,
            "[{backend:?}] still signed in"
        );
        assert!(after.location().starts_with("/login"));
        let deactivated = events(&app, "user_deactivate", "erika").await;
        assert_eq!(deactivated.len(), 1);
        assert_eq!(deactivated[0].0, "Verzeichnisabgleich");
        let (_, r) = sign_in(&app, "erika", "erikas-passwort").await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "no group, no sign-in");
        // The administration sees when the sync ran and what it did.
        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let list = admin.get("/admin/benutzer").await;
        assert!(
            list.body.contains("Letzter Abgleich mit dem Verzeichnis: ")
                && list.body.contains("1 deaktiviert (erika)"),
            "{}",
            list.body
        );

        // max is no longer a team lead: the sync makes him an agent.
        setup
            .slapd
            .remove_member("sc-x-leitung", &person_dn("max"))
            .await
            .unwrap();
        let changed = sync(&app.state.db, &loose, false, now).await.unwrap();
        assert_eq!(changed.changed, vec!["max".to_string()], "{changed:?}");
        assert_eq!(account(&app, "max").await.unwrap().0, "agent");
        let change = events(&app, "user_change", "max").await;
        assert!(change[0].2.contains("supervisor → agent"), "{change:?}");
        assert_eq!(
            events(&app, "directory_sync", "Verzeichnisabgleich")
                .await
                .len(),
            4
        );

        // Back in her team, erika signs in again: active once more.
        setup
            .slapd
            .add_member("team-nord", &person_dn("erika"))
            .await
            .unwrap();
        let (_, r) = sign_in(&app, "erika", "erikas-passwort").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert!(account(&app, "erika").await.unwrap().4);
        assert_eq!(events(&app, "user_activate", "erika").await.len(), 1);

        // Deactivated by the administration: the directory can't undo it.
        let (erika_id,): (i64,) = {
            let mut tx = app.state.db.begin_read().await.unwrap();
            tx.fetch_one("SELECT id FROM users WHERE username = 'erika'", vec![])
                .await
                .unwrap()
        };
        let off = admin
            .post(&format!("/admin/benutzer/{erika_id}/deaktivieren"), &[])
            .await;
        assert_eq!(off.status, StatusCode::OK);
        let (_, r) = sign_in(&app, "erika", "erikas-passwort").await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(!account(&app, "erika").await.unwrap().4);
    }
}

#[tokio::test]
async fn with_the_directory_down_sessions_go_on_and_local_accounts_sign_in() {
    let Some(mut setup) = set_up() else { return };
    for backend in backends().await {
        let app = TestApp::with_directory(backend, &settings(&setup)).await;
        let (mut erika, r) = sign_in(&app, "erika", "erikas-passwort").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);

        setup.slapd.stop();
        assert_eq!(erika.get("/").await.status, StatusCode::OK, "session ended");
        let (_, r) = sign_in(&app, "max", "max-passwort").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert!(r.body.contains("Verzeichnis"), "{}", r.body);
        assert!(r.body.contains("nicht antwortet"), "{}", r.body);
        let admin_name = username(Role::Admin, Side::Own);
        let (_, r) = sign_in(&app, &admin_name, PASSWORD).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "break-glass account");
        let ready = app.client().get("/readyz").await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
        // The sync can't run, and deactivates no one.
        let sign_on = SignOn::new(&app.state.db, &settings(&setup), None)
            .await
            .unwrap();
        assert!(
            sync(&app.state.db, &sign_on, false, app.state.clock.now())
                .await
                .is_err()
        );
        assert!(account(&app, "erika").await.unwrap().4);

        setup.slapd.start_again().unwrap();
        let (_, r) = sign_in(&app, "max", "max-passwort").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

        // A directory whose certificate isn't from the configured CA is
        // not believed: no sign-in through it.
        let mut untrusted = settings(&setup);
        untrusted.ca_file = Some(setup.other_ca_file.clone());
        let other = TestApp::with_directory(backend, &untrusted).await;
        let (_, r) = sign_in(&other, "erika", "erikas-passwort").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert_eq!(account(&other, "erika").await, None);
    }
}
