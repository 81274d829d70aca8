//! The nationwide set-up on one machine: a PostgreSQL cluster of the test's
//! own with TLS on (a CA and certificate of the test's own), three
//! `outreach serve --training` connected with `sslmode=verify-full`, and
//! HAProxy from Debian with `deploy/haproxy.cfg` terminating TLS in front of
//! them, round-robin. Everything goes through HAProxy: the requests land on
//! every server; a web import with its progress page, whose server is
//! killed (`kill -9`) while it runs — another server takes it over and it is
//! stored once; a server stopped with SIGTERM under load — no request
//! fails.
//!
//! In CI (`CI`, `OUTREACH_REQUIRE_POSTGRES`) a missing HAProxy or PostgreSQL
//! server fails the test; elsewhere it is skipped with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use outreach_store::testing::cluster::{Cluster, ServerTls};
use outreach_store::testing::{QUEUE_CLOCK, postgres_required, queue_campaign};
use outreach_store::{Db, args};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Server, ca, client, free_port, log_in};

const PASSWORD: &str = "ein-langes-test-passwort";

/// HAProxy with `deploy/haproxy.cfg`; killed when dropped.
struct Haproxy {
    child: Child,
    log: std::path::PathBuf,
    base: String,
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Haproxy {
    fn start(dir: &Path, pem: &Path, servers: &[&Server]) -> Haproxy {
        let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/haproxy.cfg");
        let errors = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/errors");
        let port = free_port();
        let log = dir.join("haproxy.log");
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new("haproxy");
        command
            .args(["-db", "-f", config])
            .env("OUTREACH_LB_BIND", format!("127.0.0.1:{port}"))
            .env("OUTREACH_LB_CERT", pem)
            .env("OUTREACH_LB_ERRORS", errors)
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        for (i, server) in servers.iter().enumerate() {
            command.env(
                format!("OUTREACH_SERVER_{}", i + 1),
                format!("127.0.0.1:{}", server.port),
            );
        }
        Haproxy {
            child: command.spawn().unwrap(),
            log,
            base: format!("https://127.0.0.1:{port}"),
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The requests a server counted (its `/metrics`, asked directly).
async fn requests_served(server: &Server) -> f64 {
    let text = client(None)
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("outreach_http_requests_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// An export of `rows` customers in the job center's format.
fn export(rows: usize) -> String {
    let mut file = String::from("Kundennummer;Nachname;Vorname;Geburtsdatum;Telefon\n");
    for i in 0..rows {
        file.push_str(&format!(
            "L{:07};Lastprobe{i};Erika;01.02.1980;0208 {:07}\n",
            i,
            3_000_000 + i
        ));
    }
    file
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    let mut tx = db.read().await.unwrap();
    let (n,): (i64,) = tx.fetch_one(sql, vec![]).await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_behind_haproxy_over_tls_survive_a_killed_and_a_stopped_server() {
    if Command::new("haproxy").arg("-v").output().is_err() {
        assert!(
            !postgres_required(),
            "HAProxy fehlt (Debian-Paket haproxy); in CI ein Fehler"
        );
        eprintln!("HINWEIS: HAProxy fehlt; Test übersprungen.");
        return;
    }
    let ca = ca::TestCa::new("Outreach Test-CA");
    let db_cert = ca.issue(&["localhost"]);
    let cluster = match Cluster::start(Some(&ServerTls {
        cert_pem: db_cert.cert_pem,
        key_pem: db_cert.key_pem,
    })) {
        Ok(c) => c,
        Err(why) if !postgres_required() => {
            eprintln!("HINWEIS: kein eigener PostgreSQL-Cluster ({why}); Test übersprungen.");
            return;
        }
        Err(why) => panic!("PostgreSQL-Cluster startet nicht (in CI ein Fehler): {why}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let root = ca.write(dir.path());
    let url = cluster.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={}", root.display()),
    );
    let db = Db::open(&url).await.unwrap();
    let hash = outreach_web::password::hash(PASSWORD.into()).await.unwrap();
    queue_campaign(&db, 40, 4, &hash).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "UPDATE users SET password_hash = $1 WHERE username = 'jc.admin'",
        args![hash.as_str()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let serve = |dir: &Path| {
        Server::start(
            dir,
            &[
                "--database-url",
                &url,
                "--training",
                "--behind-proxy",
                "--trusted-proxy",
                "127.0.0.1",
                "--drain-seconds",
                "3",
                "--login-burst",
                "100000",
            ],
            &[("OUTREACH_CLOCK_START", QUEUE_CLOCK)],
        )
    };
    let mut servers = vec![serve(dir.path()), serve(dir.path()), serve(dir.path())];
    let plain = client(None);
    for server in &mut servers {
        server.wait_ready(&plain).await;
    }
    let lb_cert = ca.issue(&["localhost", "127.0.0.1"]);
    let pem = dir.path().join("lb.pem");
    std::fs::write(&pem, format!("{}{}", lb_cert.cert_pem, lb_cert.key_pem)).unwrap();
    let lb = Haproxy::start(dir.path(), &pem, &servers.iter().collect::<Vec<_>>());
    let browser = client(Some(&ca.cert_pem));
    // HAProxy is up and has seen every server ready.
    let deadline = Instant::now() + Duration::from_secs(30);
    let before: Vec<f64> = {
        let mut v = Vec::new();
        for s in &servers {
            v.push(requests_served(s).await);
        }
        v
    };
    loop {
        if let Ok(r) = browser.get(format!("{}/login", lb.base)).send().await
            && r.status() == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "HAProxy not ready: {}",
            lb.output()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Round-robin: 30 pages in quick succession, 10 on each server (each
    // also answers HAProxy's check every second).
    for _ in 0..30 {
        let r = browser
            .get(format!("{}/login", lb.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()
                .get("strict-transport-security")
                .and_then(|v| v.to_str().ok()),
            Some("max-age=31536000")
        );
    }
    for (server, before) in servers.iter().zip(&before) {
        let after = requests_served(server).await;
        assert!(
            after >= before + 8.0,
            "a server got {} of 30 requests",
            after - before
        );
    }

    // A web import through HAProxy, its progress page polled (each poll on
    // the next server); its server is killed while it runs.
    let (status, _) = log_in(&browser, &lb.base, "jc.admin", PASSWORD, &[]).await;
    assert_eq!(status, 303, "login through HAProxy");
    let page = browser
        .get(format!("{}/kunden/import", lb.base))
        .send()
        .await
        .unwrap();
    let token = support::csrf_of(&page.text().await.unwrap());
    const ROWS: i64 = 50_000;
    let form = reqwest::multipart::Form::new().text("csrf", token).part(
        "datei",
        reqwest::multipart::Part::bytes(export(ROWS as usize).into_bytes())
            .file_name("lastprobe.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    let up = browser
        .post(format!("{}/kunden/import", lb.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 303, "upload through HAProxy");
    let job_page = up.headers()["location"].to_str().unwrap().to_string();
    let id = job_page.trim_start_matches("/kunden/import/").to_string();
    // The server that runs it (its lease names the process), killed.
    let deadline = Instant::now() + Duration::from_secs(60);
    let victim = loop {
        let mut tx = db.read().await.unwrap();
        let job = outreach_store::jobs::get(&mut tx, &id)
            .await
            .unwrap()
            .unwrap();
        drop(tx);
        if job.state == "running"
            && let Some(pid) = job
                .owner
                .as_deref()
                .and_then(|o| o.rsplit('-').nth(1)?.parse::<u32>().ok())
        {
            break servers
                .iter()
                .position(|s| s.pid() == pid)
                .expect("a server of ours runs it");
        }
        assert_ne!(
            job.state, "done",
            "the import ended before its server could be killed"
        );
        assert!(Instant::now() < deadline, "nobody runs the import");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    servers[victim].signal("KILL");
    servers[victim].wait_exit();
    // The progress page, through HAProxy, until another server ended it
    // (after the killed one's lease lapsed).
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let r = browser
            .get(format!("{}{job_page}/status", lb.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "the progress page while a server is gone");
        let json: serde_json::Value = r.json().await.unwrap();
        if json["running"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "the import was not taken over");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let page = browser
        .get(format!("{}{job_page}", lb.base))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    let imported = count(
        &db,
        "SELECT COUNT(*) FROM customers WHERE customer_number LIKE 'L%'",
    )
    .await;
    let imports = count(&db, "SELECT COUNT(*) FROM imports WHERE job_id IS NOT NULL").await;
    if page.contains("Import abgeschlossen und gespeichert") {
        assert_eq!((imported, imports), (ROWS, 1), "stored once");
        assert!(
            page.contains(&format!("<dt>übernommen</dt><dd>{ROWS}</dd>")),
            "{page}"
        );
    } else {
        assert!(
            page.contains("es wurde nichts gespeichert"),
            "neither done nor failed: {page}"
        );
        assert_eq!((imported, imports), (0, 0), "failed, yet stored");
    }
    let mut tx = db.read().await.unwrap();
    let job = outreach_store::jobs::get(&mut tx, &id)
        .await
        .unwrap()
        .unwrap();
    drop(tx);
    assert_eq!(job.attempts, 2, "taken over once");

    // SIGTERM to one of the two left, under load: it turns unready, HAProxy
    // moves away, then it ends; no request fails.
    let running = (0..servers.len())
        .filter(|&i| i != victim)
        .collect::<Vec<_>>();
    let stopping = running[0];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (browser, base, stop) = (browser.clone(), lb.base.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match browser.get(format!("{base}/kunden")).send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(e.to_string()),
                }
            }
            (ok, failed)
        }));
    }
    servers[stopping].signal("TERM");
    assert!(
        servers[stopping].wait_exit().success(),
        "{}",
        servers[stopping].output()
    );
    // A little more load on the last server alone.
    let until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut ok, mut failed) = (0, Vec::new());
    for task in load {
        let (o, f) = task.await.unwrap();
        ok += o;
        failed.extend(f);
    }
    assert!(
        failed.is_empty(),
        "{} of {} requests failed during the drain: {:?}\n{}",
        failed.len(),
        ok as usize + failed.len(),
        &failed[..failed.len().min(5)],
        lb.output()
    );
    assert!(ok > 20, "hardly any load: {ok}");
    // HAProxy moved away because the server said it was not ready, before
    // its listener closed (HAProxy's retries alone would hide a server that
    // simply went away).
    let down = format!(
        "Server servers/s{} is DOWN, reason: Layer7 wrong status, code: 503",
        stopping + 1
    );
    assert!(lb.output().contains(&down), "{down}: {}", lb.output());
    eprintln!(
        "import of {ROWS} rows taken over after kill -9: {}; {ok} requests during the drain, none failed",
        if imports == 1 {
            "stored once"
        } else {
            "failed, nothing stored"
        }
    );
}
