//! `outreach serve` as an operator runs it, on both databases: HTTPS with a
//! certificate read again on SIGHUP; plain HTTP only on loopback unless
//! behind a proxy; behind trusted proxies the audit log and the rate limits
//! see the client; `/readyz` turns unready on SIGTERM before the listener
//! closes, and while the database is down.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use outreach_store::testing::cluster;
use outreach_store::testing::{TestDb, backends, postgres_required};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Server, ca, client, log_in, write_cert};

const PASSWORD: &str = "ein-langes-test-passwort-24";

/// Adds an administrator `admin.test` with [`PASSWORD`], as an operator
/// does, its second factor set up with the test secret.
async fn add_admin(url: &str) {
    let mut child = Command::new(support::BIN)
        .args([
            "user",
            "add",
            "--database-url",
            url,
            "--username",
            "admin.test",
            "--name",
            "Test",
            "--role",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = outreach_store::Db::connect(url).await.unwrap();
    outreach_store::testing::enrol_test_account(&db, "admin.test")
        .await
        .unwrap();
    db.close().await;
}

/// `serve ARGS`, expected to refuse to start: its output.
fn refused(args: &[&str]) -> String {
    let out = Command::new(support::BIN)
        .arg("serve")
        .args(args)
        .env_remove("OUTREACH_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "serve {args:?} started: {text}");
    text
}

#[test]
fn serve_refuses_plain_http_on_the_network_and_says_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let port = support::free_port();
    let anywhere = format!("0.0.0.0:{port}");
    let text = refused(&["--bind", &anywhere, "--database-url", &db]);
    assert!(
        text.contains("Loopback") && text.contains("--tls-cert") && text.contains("--behind-proxy"),
        "{text}"
    );
    // Nothing was created: the refusal comes before the database.
    assert!(!dir.path().join("x.db").exists());

    let text = refused(&["--bind", &anywhere, "--database-url", &db, "--behind-proxy"]);
    assert!(text.contains("--trusted-proxy"), "{text}");
    let text = refused(&[
        "--bind",
        &anywhere,
        "--database-url",
        &db,
        "--behind-proxy",
        "--trusted-proxy",
        "zehn",
    ]);
    assert!(text.contains("„zehn“"), "{text}");
    let text = refused(&["--database-url", &db, "--tls-cert", "server.crt"]);
    assert!(text.contains("gehören zusammen"), "{text}");
    let missing = dir.path().join("fehlt.crt");
    let missing = missing.to_str().unwrap();
    let text = refused(&[
        "--database-url",
        &db,
        "--tls-cert",
        missing,
        "--tls-key",
        missing,
    ]);
    assert!(
        text.contains("fehlt.crt") && text.contains("TLS-Zertifikat"),
        "{text}"
    );
    // A key that doesn't belong to the certificate.
    let ca = ca::TestCa::new("Test-CA");
    let (cert, _) = write_cert(dir.path(), "a", &ca.issue(&["localhost"]));
    let (_, other_key) = write_cert(dir.path(), "b", &ca.issue(&["localhost"]));
    let text = refused(&[
        "--database-url",
        &db,
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        other_key.to_str().unwrap(),
    ]);
    assert!(text.contains("passen nicht zusammen"), "{text}");
}

/// The certificate the server at `port` presents (its DER).
async fn presented_certificate(port: u16, ca_pem: &str) -> Vec<u8> {
    let config = std::sync::Arc::new(support::client_tls(ca_pem));
    let connector = tokio_rustls::TlsConnector::from(config);
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, tcp).await.unwrap();
    let (_, connection) = tls.get_ref();
    connection.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn https_with_the_servers_certificate_and_the_renewed_one_after_sighup() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca = ca::TestCa::new("Test-CA");
        let first = ca.issue(&["localhost", "127.0.0.1"]);
        let (cert, key) = write_cert(dir.path(), "server", &first);
        let mut server = Server::start(
            dir.path(),
            &[
                "--database-url",
                &t.url,
                "--tls-cert",
                cert.to_str().unwrap(),
                "--tls-key",
                key.to_str().unwrap(),
            ],
            &[],
        );
        let https = client(Some(&ca.cert_pem));
        server.wait_ready(&https).await;
        let page = https
            .get(format!("{}/login", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{backend:?}");
        assert!(
            page.text().await.unwrap().contains("Anmelden"),
            "{backend:?}"
        );

        // Plain HTTP to the HTTPS port gets no page.
        let plain = client(None)
            .get(format!("http://127.0.0.1:{}/login", server.port))
            .send()
            .await;
        assert!(
            plain.is_err() || plain.as_ref().is_ok_and(|r| r.status() != 200),
            "{backend:?}: plain HTTP answered"
        );
        // A client that doesn't trust the CA gets no connection.
        let stranger = ca::TestCa::new("Fremde CA");
        let refused = client(Some(&stranger.cert_pem))
            .get(format!("{}/login", server.base))
            .send()
            .await;
        assert!(refused.is_err(), "{backend:?}: an unknown CA was accepted");

        let before = presented_certificate(server.port, &ca.cert_pem).await;
        // The certificate is renewed in place; SIGHUP reads it again.
        let renewed = ca.issue(&["localhost", "127.0.0.1"]);
        write_cert(dir.path(), "server", &renewed);
        server.signal("HUP");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let now = presented_certificate(server.port, &ca.cert_pem).await;
            if now != before {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{backend:?}: the renewed certificate was not taken up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(server.running(), "{backend:?}");
        // A broken file on SIGHUP leaves the certificate in use.
        std::fs::write(&cert, "kein Zertifikat").unwrap();
        server.signal("HUP");
        let after = presented_certificate(server.port, &ca.cert_pem).await;
        assert_ne!(after, before, "{backend:?}");
        let page = https
            .get(format!("{}/login", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{backend:?}");
        server.signal("TERM");
        assert!(
            server.wait_exit().success(),
            "{backend:?}: {}",
            server.output()
        );
    }
}

/// The client addresses of the audit log's login events, oldest first.
async fn login_clients(url: &str) -> Vec<(String, String)> {
    let db = outreach_store::Db::connect(url).await.unwrap();
    outreach_store::audit::seal(&db).await.unwrap();
    let mut tx = db.read().await.unwrap();
    let rows: Vec<(String, String)> = tx
        .fetch_all(
            "SELECT action, client FROM audit_events
             WHERE action IN ('login_success', 'login_failure') ORDER BY id",
            vec![],
        )
        .await
        .unwrap();
    drop(tx);
    db.close().await;
    rows
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_audit_log_and_the_rate_limit_see_the_client() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        add_admin(&t.url).await;
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::start(
            dir.path(),
            &[
                "--database-url",
                &t.url,
                "--behind-proxy",
                "--trusted-proxy",
                "127.0.0.0/8",
                "--login-burst",
                "3",
                "--login-rate",
                "1",
                "--drain-seconds",
                "0",
            ],
            &[],
        );
        let http = client(None);
        server.wait_ready(&http).await;
        let from =
            |address: &'static str| [("x-forwarded-for", address), ("x-forwarded-proto", "https")];

        // Two clients behind the proxy: the audit log names each.
        let (status, location) = log_in(
            &client(None),
            &server.base,
            "admin.test",
            PASSWORD,
            &from("203.0.113.9"),
        )
        .await;
        assert_eq!(status, 303, "{backend:?}: {location}");
        let (status, _) = log_in(
            &client(None),
            &server.base,
            "admin.test",
            "falsch",
            &from("198.51.100.7"),
        )
        .await;
        assert_ne!(status, 303, "{backend:?}");
        // A forged address on the left is not believed: the proxy's entry
        // on the right is the client.
        let forged = [("x-forwarded-for", "10.9.9.9, 192.0.2.44")];
        log_in(&client(None), &server.base, "admin.test", "falsch", &forged).await;
        let clients = login_clients(&t.url).await;
        assert_eq!(
            clients,
            [
                ("login_success".to_string(), "203.0.113.9".to_string()),
                ("login_failure".to_string(), "198.51.100.7".to_string()),
                ("login_failure".to_string(), "192.0.2.44".to_string()),
            ],
            "{backend:?}"
        );

        // The login rate limit is per client: 203.0.113.9 has used two of
        // its three (the password and the code); after one more it waits,
        // while another client doesn't.
        for _ in 0..1 {
            let r = http
                .post(format!("{}/login", server.base))
                .headers(headers(&from("203.0.113.9")))
                .send()
                .await
                .unwrap();
            assert_ne!(r.status(), 429, "{backend:?}");
        }
        let limited = http
            .post(format!("{}/login", server.base))
            .headers(headers(&from("203.0.113.9")))
            .send()
            .await
            .unwrap();
        assert_eq!(limited.status(), 429, "{backend:?}");
        let other = http
            .post(format!("{}/login", server.base))
            .headers(headers(&from("203.0.113.10")))
            .send()
            .await
            .unwrap();
        assert_ne!(
            other.status(),
            429,
            "{backend:?}: another client is limited too"
        );
        server.signal("TERM");
        assert!(server.wait_exit().success(), "{backend:?}");

        // Without --trusted-proxy the headers are nobody's word.
        let mut direct = Server::start(dir.path(), &["--database-url", &t.url], &[]);
        direct.wait_ready(&http).await;
        log_in(
            &client(None),
            &direct.base,
            "admin.test",
            "falsch",
            &from("203.0.113.9"),
        )
        .await;
        let clients = login_clients(&t.url).await;
        assert_eq!(
            clients.last().map(|(_, c)| c.as_str()),
            Some("127.0.0.1"),
            "{backend:?}"
        );
    }
}

fn headers(pairs: &[(&'static str, &'static str)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (k, v) in pairs {
        map.append(*k, reqwest::header::HeaderValue::from_static(v));
    }
    map
}

#[tokio::test]
async fn on_sigterm_the_server_turns_unready_first_then_ends() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::start(
            dir.path(),
            &["--database-url", &t.url, "--drain-seconds", "3"],
            &[],
        );
        let http = client(None);
        server.wait_ready(&http).await;
        let live = http
            .get(format!("{}/healthz", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(live.status(), 200);
        server.signal("TERM");
        // While draining: unready, and still answering other requests.
        let deadline = Instant::now() + Duration::from_secs(10);
        let unready = loop {
            let r = http
                .get(format!("{}/readyz", server.base))
                .send()
                .await
                .unwrap();
            if r.status() == 503 {
                break r.text().await.unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "{backend:?}: still ready after SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(unready.contains("wird beendet"), "{backend:?}: {unready}");
        let page = http
            .get(format!("{}/login", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{backend:?}: requests while draining");
        assert!(
            server.wait_exit().success(),
            "{backend:?}: {}",
            server.output()
        );
    }
}

#[tokio::test]
async fn while_the_database_is_down_the_server_is_unready_and_says_so_in_german() {
    let Some(cluster) = cluster::for_test(None) else {
        return;
    };
    let url = cluster.url("127.0.0.1", "postgres", "");
    outreach_store::Db::open(&url).await.unwrap().close().await;
    add_admin(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &["--database-url", &url], &[]);
    let browser = client(None);
    server.wait_ready(&browser).await;
    let (status, _) = log_in(&browser, &server.base, "admin.test", PASSWORD, &[]).await;
    assert_eq!(status, 303);

    cluster.stop().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = browser
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .unwrap();
        if r.status() == 503 {
            break;
        }
        assert!(Instant::now() < deadline, "still ready without a database");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Alive all the same: nobody restarts it for the database's outage.
    let live = browser
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    // A page that needs the database: the German 503, no internals.
    let page = loop {
        let r = browser
            .get(format!("{}/", server.base))
            .send()
            .await
            .unwrap();
        // The session may still be cached for a few seconds.
        if r.status() != 200 {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "pages still answer without a database"
        );
    };
    assert_eq!(page.status(), 503);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("Die Datenbank ist gerade nicht erreichbar"),
        "{text}"
    );
    assert!(
        !text.contains("sqlx") && !text.contains("Connection refused"),
        "{text}"
    );

    cluster.start_again().unwrap();
    let back = Instant::now();
    server.wait_ready(&browser).await;
    assert!(
        back.elapsed() < Duration::from_secs(10),
        "ready {:?} after the database",
        back.elapsed()
    );
    let page = browser
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "the session survived the outage");
}

/// The systemd unit an operator copies is valid (`systemd-analyze verify`,
/// with this build's binary in its place) and hardened: systemd rates its
/// exposure "OK" (below 2 of 10).
#[test]
fn the_systemd_unit_is_valid_and_hardened() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !postgres_required(),
            "systemd-analyze fehlt (Debian-Paket systemd)"
        );
        eprintln!("HINWEIS: systemd-analyze fehlt; Test übersprungen.");
        return;
    }
    let unit = include_str!("../../../deploy/outreach.service");
    assert!(
        unit.contains(
            "ExecStart=/usr/local/bin/outreach serve --config /etc/outreach/outreach.toml"
        )
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outreach.service");
    std::fs::write(&path, unit.replace("/usr/local/bin/outreach", support::BIN)).unwrap();
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&security.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for outreach.service: ")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level: {text}"));
    assert!(score < 2.0, "exposure {score}: {text}");
    for directive in [
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=\n",
    ] {
        assert!(unit.contains(directive), "{directive}");
    }
}
