//! The nationwide set-up on one machine: a PostgreSQL cluster of the test's
//! own with TLS on (a CA and certificate of the test's own), three
//! `outreach serve --training` connected with `sslmode=verify-full`, and
//! HAProxy from Debian with `deploy/haproxy.cfg` terminating TLS in front of
//! them, round-robin. Everything goes through HAProxy: the requests land on
//! every server; a batch's print archive of 100 letters with its progress
//! and download; an agent's call through the conversation guide; the pAp's
//! inbox with it; a web import of 50,000 rows with its
//! progress page, whose server is killed (`kill -9`) while it runs — another
//! server takes it over and it is stored once; a server stopped with SIGTERM
//! under load — no request fails. Then twenty agents call while a server is
//! killed and PostgreSQL is restarted.
//!
//! In CI (`CI`, `OUTREACH_REQUIRE_POSTGRES`) a missing HAProxy or PostgreSQL
//! server fails the test; elsewhere it is skipped with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/mod.rs"]
mod support;

use outreach_store::testing::cluster::{self, Cluster, ServerTls};
use outreach_store::testing::{QUEUE_CLOCK, postgres_required, queue_campaign};
use outreach_store::{Db, args};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Haproxy, Server, ca, client, log_in};

const PASSWORD: &str = "ein-langes-test-passwort";

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

/// The page at `url`, which must answer 200.
async fn page_text(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

/// Each server's [`requests_served`].
async fn each_served(servers: &[Server]) -> Vec<f64> {
    let mut served = Vec::new();
    for server in servers {
        served.push(requests_served(server).await);
    }
    served
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

/// `sql`'s one number; a connection the database's restart left broken is
/// tried again (the pool drops it).
async fn count(db: &Db, sql: &'static str) -> i64 {
    let (n,): (i64,) = fetch(db, sql).await;
    n
}

async fn fetch<T: outreach_store::Record>(db: &Db, sql: &'static str) -> T {
    let mut last = None;
    for _ in 0..20 {
        match async { db.read().await?.fetch_one::<T>(sql, vec![]).await }.await {
            Ok(row) => return row,
            Err(e) => last = Some(e),
        }
    }
    panic!("{sql}: {last:?}")
}

/// The cluster, three servers and HAProxy in front, with a running campaign
/// of `cases` cases and `agents` agents (`agent0`, …) and the job center's
/// administration `jc.admin`, all with [`PASSWORD`]. `None` where HAProxy
/// or the PostgreSQL server is missing outside CI.
struct Setup {
    // Dropped in this order: HAProxy, the servers, then the database.
    lb: Haproxy,
    servers: Vec<Server>,
    db: Db,
    browser: reqwest::Client,
    ca: ca::TestCa,
    cluster: Cluster,
    campaign_id: i64,
    _dir: tempfile::TempDir,
}

async fn set_up(cases: i64, agents: usize) -> Option<Setup> {
    if Command::new("haproxy").arg("-v").output().is_err() {
        assert!(
            !postgres_required(),
            "HAProxy fehlt (Debian-Paket haproxy); in CI ein Fehler"
        );
        eprintln!("HINWEIS: HAProxy fehlt; Test übersprungen.");
        return None;
    }
    let ca = ca::TestCa::new("Outreach Test-CA");
    let db_cert = ca.issue(&["localhost"]);
    let cluster = cluster::for_test(Some(&ServerTls {
        cert_pem: db_cert.cert_pem,
        key_pem: db_cert.key_pem,
    }))?;
    let dir = tempfile::tempdir().unwrap();
    let root = ca.write(dir.path());
    let url = cluster.url(
        "localhost",
        "postgres",
        &format!("sslmode=verify-full&sslrootcert={}", root.display()),
    );
    let db = Db::open(&url).await.unwrap();
    let hash = outreach_web::password::hash(PASSWORD.into()).await.unwrap();
    let campaign_id = queue_campaign(&db, cases, agents, &hash)
        .await
        .unwrap()
        .campaign_id;
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "UPDATE users SET password_hash = $1 WHERE username = 'jc.admin'",
        args![hash.as_str()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // Signed in with the test secret's codes (training mode asks accounts
    // that set a factor up).
    outreach_store::testing::enrol_test_account(&db, "jc.admin")
        .await
        .unwrap();

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
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let lb = Haproxy::start(dir.path(), &pem, &ports);
    let browser = client(Some(&ca.cert_pem));
    // HAProxy is up and has seen every server ready.
    let deadline = Instant::now() + Duration::from_secs(30);
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
    Some(Setup {
        lb,
        servers,
        db,
        browser,
        ca,
        cluster,
        campaign_id,
        _dir: dir,
    })
}

/// The campaign's advance letters as one batch, and results of ten of its
/// customers for pAp `pap.test` (Kennung P1, [`PASSWORD`]). Returns the
/// batch's id.
async fn batch_and_results(db: &Db, campaign_id: i64) -> i64 {
    use outreach_core::access::{Home, Role};
    let hash = outreach_web::password::hash(PASSWORD.into()).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    let (jc, agent): (i64, i64) = tx
        .fetch_one(
            "SELECT k.job_center_id, (SELECT id FROM users WHERE username = 'agent0')
             FROM campaigns k WHERE k.id = $1",
            args![campaign_id],
        )
        .await
        .unwrap();
    let now = outreach_store::jobs::now(&mut tx).await.unwrap();
    let (batch, _) = outreach_app::letters::create_advance_batch(
        &mut tx,
        outreach_store::RecordScope::Operator,
        campaign_id,
        outreach_core::date::berlin_date(now),
        None,
        now,
    )
    .await
    .unwrap()
    .expect("a batch");
    tx.execute(
        "UPDATE customers SET pap_code = 'P1' WHERE id IN
           (SELECT customer_id FROM cases WHERE campaign_id = $1 ORDER BY id LIMIT 10)",
        args![campaign_id],
    )
    .await
    .unwrap();
    let closed =
        outreach_store::testing::demo_results(&mut tx, campaign_id, agent, "P1", now - 86_400)
            .await
            .unwrap();
    assert!(closed > 0);
    outreach_store::user::create(
        &mut tx,
        &outreach_store::user::NewUser {
            username: "pap.test".into(),
            display_name: "pAp Test".into(),
            role: Role::CaseManager,
            home: Home::JobCenter(jc),
            pap_code: Some("P1".into()),
            password_hash: hash,
        },
        now,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    outreach_store::testing::enrol_test_account(db, "pap.test")
        .await
        .unwrap();
    batch
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_servers_behind_haproxy_over_tls_survive_a_killed_and_a_stopped_server() {
    let Some(setup) = set_up(100, 4).await else {
        return;
    };
    let Setup {
        lb,
        mut servers,
        db,
        browser,
        campaign_id,
        ca,
        ..
    } = setup;
    let batch = batch_and_results(&db, campaign_id).await;
    let before = each_served(&servers).await;
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
    // The batch's print archive: typeset by whichever server's worker took
    // the job, its progress polled and the ZIP sent by the next servers.
    let print = format!("{}/aktionen/{campaign_id}/stapel/{batch}/druck", lb.base);
    let page = browser.get(&print).send().await.unwrap();
    assert_eq!(page.status(), 200, "the print page through HAProxy");
    let token = support::csrf_of(&page.text().await.unwrap());
    let started = browser
        .post(&print)
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 303);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let r = browser.get(format!("{print}/status")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let json: serde_json::Value = r.json().await.unwrap();
        if json["running"] == false {
            assert!(
                json["text"].as_str().unwrap_or("").contains("von"),
                "{json}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the print archive never finished"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let zip = browser.get(format!("{print}/zip")).send().await.unwrap();
    assert_eq!(zip.status(), 200);
    assert_eq!(zip.headers()["content-type"], "application/zip");
    let bytes = zip.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"PK\x03\x04") && bytes.len() > 10_000,
        "{} bytes",
        bytes.len()
    );

    // An agent's call through the guide, through HAProxy: its requests
    // spread over the three servers, the conversation's state in the
    // database, not in any one of them.
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "UPDATE customers SET postcode = '46045', pap_code = 'P1'
         WHERE id IN (SELECT customer_id FROM cases WHERE campaign_id = $1)",
        args![campaign_id],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let before = each_served(&servers).await;
    let mut agent = agent::Agent::log_in(agents_http(&ca), &lb.base, "agent0", PASSWORD)
        .await
        .unwrap();
    let called = call_through_the_guide(&mut agent, &db).await;
    for (server, before) in servers.iter().zip(&before) {
        let served = requests_served(server).await - before;
        assert!(
            served >= 5.0,
            "a server got {served} of the call's requests (and HAProxy's checks)"
        );
    }
    let mut tx = db.read().await.unwrap();
    let (outcome, changes, disposition): (String, String, Option<String>) = tx
        .fetch_one(
            "SELECT r.outcome, r.changes, k.final_disposition FROM results r
             JOIN cases k ON k.id = r.case_id WHERE r.case_id = $1",
            args![called],
        )
        .await
        .unwrap();
    drop(tx);
    assert_eq!(
        (outcome.as_str(), disposition.as_deref()),
        ("updated", Some("updated"))
    );
    assert!(changes.contains("+491712345678"), "{changes}");

    // The pAp's inbox through HAProxy, with the call just made.
    let pap = client(Some(&ca.cert_pem));
    let (status, _) = log_in(&pap, &lb.base, "pap.test", PASSWORD, &[]).await;
    assert_eq!(status, 303, "the pAp's login through HAProxy");
    let inbox = page_text(&pap, &format!("{}/ergebnisse", lb.base)).await;
    assert!(inbox.contains("Erika"), "{inbox}");
    assert!(
        inbox.contains(&format!("href=\"/ergebnisse/{called}\"")),
        "the call just made is in the inbox: {inbox}"
    );
    let detail = page_text(&pap, &format!("{}/ergebnisse/{called}", lb.base)).await;
    assert!(
        detail.contains("0171 2345678") || detail.contains("+491712345678"),
        "{detail}"
    );

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

#[path = "agent/mod.rs"]
#[allow(dead_code, reason = "shared with the queue test and benchmark")]
mod agent;

/// The agents' client through HAProxy, trusting the test's CA: without a
/// cookie store (the agent keeps its own cookies).
fn agents_http(ca: &ca::TestCa) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .tls_backend_preconfigured(support::client_tls(&ca.cert_pem))
        .build()
        .unwrap()
}

/// One step of the conversation guide: the button `fields` posted, its
/// redirect followed (for the page and its CSRF token).
async fn say(agent: &mut agent::Agent, talk: &str, fields: &[(&str, &str)]) -> String {
    let sent = agent.post(talk, fields).await.unwrap();
    assert_eq!(sent.status, 303, "{fields:?}: {}", sent.body);
    agent.get(&sent.location).await.unwrap().body
}

/// An agent's call through HAProxy, the whole way: the next case, "Anruf
/// starten", "erreicht", then the conversation guide — greeting, identity
/// (the customer's birth date and postcode as they say them), consent, the
/// questions with a new mobile number, the read-back — confirmed. Returns
/// the case's id.
async fn call_through_the_guide(agent: &mut agent::Agent, db: &Db) -> i64 {
    let leased = agent.post("/anrufe/naechster", &[]).await.unwrap();
    let case_id: i64 = leased
        .location
        .strip_prefix("/anrufe/fall/")
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no case leased: {}", leased.location));
    let case = format!("/anrufe/fall/{case_id}");
    let page = agent.get(&case).await.unwrap();
    assert!(page.body.contains("Anruf starten"), "{}", page.body);
    let started = agent
        .post(&format!("{case}/start"), &[("nummer", "phone")])
        .await
        .unwrap();
    agent.get(&started.location).await.unwrap();
    let reached = agent
        .post(&format!("{case}/ergebnis"), &[("ergebnis", "reached")])
        .await
        .unwrap();
    let talk = format!("{case}/gespraech");
    assert_eq!(reached.location, talk);
    let page = agent.get(&talk).await.unwrap().body;
    assert!(page.contains("Begrüßung"), "{page}");
    let mut tx = db.read().await.unwrap();
    let (birth_date, postcode): (String, String) = tx
        .fetch_one(
            "SELECT c.birth_date, c.postcode FROM cases k JOIN customers c ON c.id = k.customer_id
             WHERE k.id = $1",
            args![case_id],
        )
        .await
        .unwrap();
    drop(tx);
    // 1980-01-01 said as "1.1.1980".
    let said = {
        let mut parts = birth_date.split('-').map(|p| p.trim_start_matches('0'));
        let (y, m, d) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        format!("{d}.{m}.{y}")
    };
    say(agent, &talk, &[("aktion", "weiter")]).await;
    let page = say(
        agent,
        &talk,
        &[
            ("aktion", "identitaet"),
            ("angabe_birth_date", &said),
            ("angabe_postcode", &postcode),
        ],
    )
    .await;
    assert!(
        page.contains("Die Teilnahme an diesem Gespräch ist freiwillig."),
        "{page}"
    );
    say(agent, &talk, &[("aktion", "weiter")]).await;
    say(agent, &talk, &[("aktion", "einwilligung:ja")]).await;
    for answer in ["ja", "ja", "no", "0171 2345678"] {
        say(agent, &talk, &[("aktion", "antwort"), ("antwort", answer)]).await;
    }
    let mut page = say(agent, &talk, &[("aktion", "ueberspringen")]).await; // e-mail
    let mut steps = 0;
    while !page.contains("Zusammenfassung zum Vorlesen") {
        steps += 1;
        assert!(steps < 40, "the guide never reached its read-back: {page}");
        page = if page.contains("value=\"ueberspringen\"") {
            say(agent, &talk, &[("aktion", "ueberspringen")]).await
        } else {
            say(agent, &talk, &[("aktion", "antwort"), ("antwort", "ja")]).await
        };
    }
    assert!(page.contains("0171 2345678"), "the read-back: {page}");
    let done = agent
        .post(&talk, &[("aktion", "bestaetigen")])
        .await
        .unwrap();
    assert_eq!(done.location, "/anrufe?meldung=updated");
    let desk = agent.get(&done.location).await.unwrap();
    assert!(
        desk.body.contains("Gespräch geführt, Daten aktualisiert"),
        "{}",
        desk.body
    );
    case_id
}

/// One agent through HAProxy until the queue is empty, as a person would:
/// a request that fails is sent again (a reload continues the leased case,
/// which the page says how far it got). Returns the cases it recorded and
/// the requests that failed.
async fn work_the_queue(mut agent: agent::Agent) -> (Vec<i64>, Vec<String>) {
    let (mut recorded, mut failed) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        assert!(
            Instant::now() < deadline,
            "the queue never emptied: {failed:?}"
        );
        let leased = match agent.post("/anrufe/naechster", &[]).await {
            Ok(page) => page,
            Err(e) => {
                failed.push(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
                // The desk again, for a fresh CSRF token.
                let _ = agent.get("/anrufe").await;
                continue;
            }
        };
        if leased.location.contains("meldung=leer") {
            return (recorded, failed);
        }
        let Some(case_id) = leased
            .location
            .strip_prefix("/anrufe/fall/")
            .and_then(|id| id.parse::<i64>().ok())
        else {
            failed.push(format!("unexpected redirect {}", leased.location));
            continue;
        };
        let case = format!("/anrufe/fall/{case_id}");
        let step = async {
            let page = agent.get(&case).await?;
            if page.body.contains("Anruf starten") {
                agent
                    .post(&format!("{case}/start"), &[("nummer", "phone")])
                    .await?;
                agent.get(&case).await?;
            }
            let done = agent
                .post(&format!("{case}/ergebnis"), &[("ergebnis", "no_answer")])
                .await?;
            Ok::<_, String>(done.location.contains("meldung=erfasst"))
        };
        match step.await {
            Ok(true) => recorded.push(case_id),
            Ok(false) => failed.push(format!("case {case_id}: result not recorded")),
            Err(e) => {
                failed.push(e);
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = agent.get("/anrufe").await;
            }
        }
    }
}

/// Polls each server's `/readyz` directly until all answer `status`.
async fn all_ready(servers: &[&Server], status: u16, within: Duration) -> Duration {
    let started = Instant::now();
    let plain = client(None);
    loop {
        let mut all = true;
        for s in servers {
            let got = plain
                .get(format!("{}/readyz", s.base))
                .send()
                .await
                .map_or(0, |r| r.status().as_u16());
            all &= got == status;
        }
        if all {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "not all servers answered /readyz {status} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_agents_call_through_a_killed_server_and_a_restarted_database() {
    const CASES: i64 = 600;
    const AGENTS: usize = 20;
    let Some(setup) = set_up(CASES, AGENTS).await else {
        return;
    };
    let Setup {
        lb,
        mut servers,
        db,
        ca,
        cluster,
        ..
    } = setup;
    let http = agents_http(&ca);
    let mut tasks = Vec::new();
    for i in 0..AGENTS {
        let (http, base) = (http.clone(), lb.base.clone());
        tasks.push(tokio::spawn(async move {
            let name = format!("agent{i}");
            let agent = agent::Agent::log_in(http, &base, &name, PASSWORD)
                .await
                .unwrap();
            let (recorded, failed) = work_the_queue(agent).await;
            (name, recorded, failed)
        }));
    }
    let attempts = || async { count(&db, "SELECT COUNT(*) FROM attempts").await };
    let wait_for = |n: i64| async move {
        let deadline = Instant::now() + Duration::from_secs(120);
        while attempts().await < n {
            assert!(
                Instant::now() < deadline,
                "the agents got stuck below {n} calls"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // While they call: one server killed.
    wait_for(60).await;
    servers[0].signal("KILL");
    servers[0].wait_exit();
    // Then PostgreSQL stopped, until every server reports it.
    wait_for(200).await;
    let left = [&servers[1], &servers[2]];
    cluster.stop().unwrap();
    all_ready(&left, 503, Duration::from_secs(20)).await;
    // Once HAProxy's checks found no server ready: its own German page,
    // even for the login page, which needs no database.
    // (A request HAProxy passed on before its checks noticed may wait in a
    // server's queue behind the agents' requests, which wait for the
    // database: after two seconds the visitor asks again.)
    let visitor = reqwest::Client::builder()
        .tls_backend_preconfigured(support::client_tls(&ca.cert_pem))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let lb_text = loop {
        let answer = visitor.get(format!("{}/login", lb.base)).send().await;
        if let Ok(r) = answer
            && r.status() == 503
        {
            break r.text().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "HAProxy still sends to unready servers"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        lb_text.contains("Outreach ist gerade nicht erreichbar"),
        "{lb_text}"
    );
    cluster.start_again().unwrap();
    let back = all_ready(&left, 200, Duration::from_secs(10)).await;

    let mut leased_by: std::collections::HashMap<i64, Vec<String>> = Default::default();
    let mut failures = Vec::new();
    for task in tasks {
        let (name, recorded, failed) = task.await.unwrap();
        for case in recorded {
            leased_by.entry(case).or_default().push(name.clone());
        }
        failures.extend(failed);
    }
    // Every case called once, by one agent; every result stored once.
    let twice: Vec<_> = leased_by.iter().filter(|(_, who)| who.len() > 1).collect();
    assert!(twice.is_empty(), "cases recorded by two agents: {twice:?}");
    let (attempts_n, cases_called, most): (i64, i64, i64) = fetch(
        &db,
        "SELECT (SELECT COUNT(*) FROM attempts),
                (SELECT COUNT(DISTINCT case_id) FROM attempts),
                (SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM attempts GROUP BY case_id) x)",
    )
    .await;
    assert_eq!((cases_called, most), (CASES, 1), "{attempts_n} attempts");
    let lease_holders: i64 = count(
        &db,
        "SELECT COUNT(*) FROM (SELECT record_id FROM audit_events WHERE action = 'case_lease'
                               GROUP BY record_id HAVING COUNT(DISTINCT username) > 1) x",
    )
    .await;
    assert_eq!(lease_holders, 0, "a case leased to two agents");
    // What failed: the requests in flight on the killed server, and those
    // sent while the database was down — never an internal error page.
    assert!(
        failures.iter().all(|f| !f.starts_with("HTTP 500")),
        "{:?}",
        failures
            .iter()
            .filter(|f| f.starts_with("HTTP 500"))
            .collect::<Vec<_>>()
    );
    assert!(
        failures
            .iter()
            .filter(|f| f.starts_with("HTTP 503"))
            .all(|f| f.contains("nicht erreichbar")),
        "a 503 without the German page"
    );
    // Besides the outage, at most each agent's request in flight on the
    // killed server failed.
    let other = failures
        .iter()
        .filter(|f| !f.starts_with("HTTP 503"))
        .count();
    assert!(
        other <= AGENTS,
        "{other} failed requests: {:?}",
        &failures[..failures.len().min(10)]
    );
    eprintln!(
        "{CASES} cases by {AGENTS} agents through a killed server and a restarted database: {} requests failed ({} of them 503 during the outage); ready again {back:?} after the database",
        failures.len(),
        failures
            .iter()
            .filter(|f| f.starts_with("HTTP 503"))
            .count()
    );
}
