//! Two `outreach serve` processes with the directory of their
//! configuration file (a real OpenLDAP `slapd` over LDAPS): a person
//! removed from their group is deactivated by the periodic sync — run by
//! one of the two servers, not both — and signed out on both within the
//! sync interval; a local account stays signed in. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, reason = "shared with the queue benchmark")]
mod agent;
#[path = "support/mod.rs"]
mod support;

use agent::Agent;
use outreach_directory::testing::{self, group, group_dn, person, person_dn};
use outreach_store::testing::{TestDb, backends, queue_campaign};
use outreach_store::{Backend, args};
use std::time::{Duration, Instant};
use support::{Server, ca, client};

const PASSWORD: &str = "ein-langes-test-passwort";
/// Seconds between two syncs in this test.
const INTERVAL: u64 = 3;

/// Asks for the start page until the server sends the session to the
/// login page; how long that took (`None`: not within `limit`).
async fn refused_within(agent: &mut Agent, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let page = agent.get("/").await.unwrap();
        if page.status == 303 && page.location.contains("login") {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_removed_from_their_group_is_signed_out_on_every_server_by_the_sync() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    for backend in backends().await {
        if !removed_and_signed_out(backend).await {
            return;
        }
    }
}

/// `false` when there is no slapd (outside CI: skipped).
async fn removed_and_signed_out(backend: Backend) -> bool {
    let t = TestDb::new(backend).await.unwrap();
    let hash = outreach_web::password::hash(PASSWORD.into()).await.unwrap();
    let setup = queue_campaign(&t.db, 10, 1, &hash).await.unwrap();
    let (code,): (String,) = {
        let mut tx = t.db.begin_read().await.unwrap();
        tx.fetch_one(
            "SELECT code FROM service_centers WHERE id = $1",
            args![setup.service_center_id],
        )
        .await
        .unwrap()
    };

    let authority = ca::TestCa::new("Verzeichnis Test-CA");
    let cert = authority.issue(&["localhost", "127.0.0.1"]);
    let mut ldif = person("erika", "Erika Mustermann", "erikas-passwort");
    ldif += &person("max", "Max Muster", "max-passwort");
    ldif += &group("agenten", &[person_dn("erika"), person_dn("max")]);
    let Some(slapd) = testing::for_test(&cert.cert_pem, &cert.key_pem, &ldif) else {
        return false;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca_file = authority.write(dir.path());
    let config = dir.path().join("outreach.toml");
    std::fs::write(
        &config,
        format!(
            r#"database_url = "{url}"

[directory]
url = "{ldaps}"
ca_file = "{ca}"
bind_dn = "{service}"
base_dn = "ou=personen,{base}"
group_base_dn = "ou=gruppen,{base}"
user_filter = "(&(objectClass=inetOrgPerson)(uid={{login}}))"
sync_interval_seconds = {INTERVAL}
max_deactivate_percent = 50

[[directory.groups]]
group = "{group}"
role = "agent"
organisation = "{code}"
precedence = 10
"#,
            url = t.url,
            ldaps = slapd.ldaps_url(),
            ca = ca_file.display(),
            service = testing::SERVICE_DN,
            base = testing::BASE,
            group = group_dn("agenten"),
        ),
    )
    .unwrap();
    let config_arg = config.to_str().unwrap();
    // The service password from the environment, as an operator would.
    let env = [("OUTREACH_DIRECTORY_PASSWORD", testing::SERVICE_PASSWORD)];
    let mut a = Server::start(dir.path(), &["--config", config_arg], &env);
    let mut b = Server::start(dir.path(), &["--config", config_arg], &env);
    let probe = client(None);
    a.wait_ready(&probe).await;
    b.wait_ready(&probe).await;

    // erika signs in on A through the directory; her session works on B.
    let mut on_a = Agent::log_in(Agent::client(), &a.base, "erika", "erikas-passwort")
        .await
        .unwrap_or_else(|e| panic!("{backend:?}: {e}\n{}", a.output()));
    let mut on_b = on_a.on(&b.base);
    assert_eq!(on_b.get("/").await.unwrap().status, 200);
    let max = Agent::log_in(Agent::client(), &b.base, "max", "max-passwort")
        .await
        .unwrap();
    // A local account of the same service center, on B.
    let mut local = Agent::log_in(Agent::client(), &b.base, &setup.agents[0], PASSWORD)
        .await
        .unwrap();
    drop(max);

    // erika leaves the group: within the interval (and the second a
    // server takes to look) both servers send her to the login page.
    slapd
        .remove_member("agenten", &person_dn("erika"))
        .await
        .unwrap();
    let limit = Duration::from_secs(INTERVAL + 2);
    for (server, agent) in [("A", &mut on_a), ("B", &mut on_b)] {
        let waited = refused_within(agent, limit).await;
        assert!(
            waited.is_some(),
            "{backend:?}: server {server} still takes erika's session after {limit:?}\nA: {}\nB: {}",
            a.output(),
            b.output()
        );
        eprintln!("{backend:?}: server {server} refused erika after {waited:?}");
    }
    assert_eq!(local.get("/").await.unwrap().status, 200, "local account");
    // Deactivated once, by whichever server ran the sync.
    let mut tx = t.db.begin_read().await.unwrap();
    let (deactivations,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM audit_events WHERE action = 'user_deactivate'
             AND username = 'Verzeichnisabgleich'",
            vec![],
        )
        .await
        .unwrap();
    let (active,): (bool,) = tx
        .fetch_one("SELECT active FROM users WHERE username = 'erika'", vec![])
        .await
        .unwrap();
    drop(tx);
    assert_eq!(deactivations, 1, "{backend:?}");
    assert!(!active);
    // And she can't sign in again.
    let again = Agent::log_in(Agent::client(), &a.base, "erika", "erikas-passwort").await;
    assert!(again.is_err(), "{backend:?}: erika signed in again");

    // The operator's command: a dry run reports and changes nothing.
    let sync = |args: &[&str]| {
        let output = std::process::Command::new(support::BIN)
            .args(["directory", "sync", "--config", config_arg])
            .args(args)
            .env_remove("OUTREACH_DATABASE_URL")
            .env("OUTREACH_DIRECTORY_PASSWORD", testing::SERVICE_PASSWORD)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    };
    let (ok, text) = sync(&[]);
    assert!(ok, "{backend:?}: {text}");
    assert!(
        text.contains("1 aktive Verzeichniskonten; 0 deaktiviert; 0 geändert."),
        "{text}"
    );
    // max leaves too: all of the active accounts — the guard holds, even
    // for the command line, and says so.
    slapd
        .remove_member("agenten", &person_dn("max"))
        .await
        .unwrap();
    // Exit status 1 when the guard would hold (for a script), dry run or not.
    let (ok, text) = sync(&["--dry-run"]);
    assert!(!ok, "{text}");
    assert!(text.contains("1 würden deaktiviert (max)"), "{text}");
    assert!(text.contains("angehalten"), "{text}");
    let (ok, text) = sync(&[]);
    assert!(!ok, "the guard let the sync through: {text}");
    assert!(
        text.contains("Abgleich angehalten, nichts geändert"),
        "{text}"
    );
    let mut tx = t.db.begin_read().await.unwrap();
    let (max_active,): (bool,) = tx
        .fetch_one("SELECT active FROM users WHERE username = 'max'", vec![])
        .await
        .unwrap();
    drop(tx);
    assert!(max_active, "{backend:?}: the guard deactivated max");
    // A configuration without a directory, or with an unknown organisation,
    // is named in German.
    let plain = dir.path().join("ohne.toml");
    std::fs::write(&plain, format!("database_url = \"{}\"\n", t.url)).unwrap();
    let output = std::process::Command::new(support::BIN)
        .args(["directory", "sync", "--config", plain.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success());
    assert!(text.contains("keinen Abschnitt [directory]"), "{text}");
    let wrong = dir.path().join("falsch.toml");
    std::fs::write(
        &wrong,
        std::fs::read_to_string(&config).unwrap().replace(
            &format!("organisation = \"{code}\""),
            "organisation = \"SC-NIRGENDS\"",
        ),
    )
    .unwrap();
    let output = std::process::Command::new(support::BIN)
        .args(["directory", "sync", "--config", wrong.to_str().unwrap()])
        .env("OUTREACH_DIRECTORY_PASSWORD", testing::SERVICE_PASSWORD)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(!output.status.success());
    assert!(
        text.contains("kein Service-Center mit dem Kürzel „SC-NIRGENDS“"),
        "{text}"
    );
    true
}
