//! Queue benchmark (issue 6): a campaign of N callable cases (default
//! 1,000,000; `BENCH_CASES`) and A simulated agents (default 300;
//! `BENCH_AGENTS`) over HTTP, each looping lease → case page → "Anruf
//! starten" → case page → "keine Antwort" → desk with the real pages and
//! forms, for `BENCH_SECONDS` (default 30) after a 5-second warm-up:
//!   - against one `outreach serve` on SQLite,
//!   - against two `outreach serve` processes on one PostgreSQL database
//!     (agents split between them),
//!   - and, as the baseline in the same run, the bare `SKIP LOCKED` dequeue
//!     of a 1M-row table through `pgbench` at 8 and 32 clients;
//!   - `balanced` (issue 24): three servers on a PostgreSQL cluster of its
//!     own over TLS, the agents direct and then through HAProxy over HTTPS
//!     (`deploy/haproxy.cfg`), with `pgbench` on that cluster.
//!
//! Prints completed cycles per second, p50/p99 of the lease request and of
//! the whole cycle, and double leases: a case the clients saw twice, and
//! cases with more than one lease event in the audit trail (both must be 0).
//!
//! Run: `cargo bench -p outreach --bench queue`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/agent/mod.rs"]
mod agent;

// The tests' support: the benchmark uses HAProxy, the CA and its client.
#[path = "../tests/support/mod.rs"]
mod support;

use agent::{Agent, start_server};
use outreach_store::testing::cluster::{Cluster, ServerTls};
use outreach_store::testing::{TestDb, backends, queue_campaign};
use outreach_store::{Backend, Db, args};
use std::collections::HashSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "ein-langes-bench-passwort";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[derive(Default)]
struct Samples {
    leases: Vec<Duration>,
    cycles: Vec<Duration>,
    steps: Vec<Vec<Duration>>,
}

/// HAProxy with `deploy/haproxy.cfg` in front of the servers: its TLS
/// certificate and the CA the agents trust.
struct Balancer {
    pem: std::path::PathBuf,
    ca_pem: String,
    dir: std::path::PathBuf,
}

/// Runs the agents against the servers (agent i on server i mod n, or all
/// through `balancer`) and prints a row.
#[allow(clippy::too_many_arguments)]
async fn run(
    label: &str,
    db: &Db,
    url: &str,
    servers: usize,
    cases: i64,
    agents: usize,
    seconds: u64,
    balancer: Option<&Balancer>,
) {
    let started = Instant::now();
    let hash = outreach_web::password::hash(PASSWORD.into()).await.unwrap();
    let setup = queue_campaign(db, cases, agents, &hash).await.unwrap();
    eprintln!(
        "{label}: {cases} Fälle und {agents} Agenten angelegt in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if db.backend() == Backend::Postgres {
        // What the time between loading the cases and calling them brings:
        // the load's dead row versions removed and statistics for the
        // planner (autovacuum is off on this machine), and the load's
        // write-ahead log written out, so that a checkpoint of the set-up
        // doesn't fall into some runs' measured window.
        let mut tx = db.write_once().await.unwrap();
        for statement in ["VACUUM ANALYZE", "CHECKPOINT"] {
            tx.execute(statement, args![]).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let mut running = Vec::new();
    for _ in 0..servers {
        running.push(start_server(url, "error").await);
    }
    let mut bases: Vec<String> = running.iter().map(|(_, b)| b.clone()).collect();
    let mut client = Agent::client();
    let mut _haproxy = None;
    if let Some(b) = balancer {
        let ports: Vec<u16> = bases
            .iter()
            .filter_map(|b| b.rsplit(':').next()?.parse().ok())
            .collect();
        let lb = support::Haproxy::start(&b.dir, &b.pem, &ports);
        client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(120))
            .tls_backend_preconfigured(support::client_tls(&b.ca_pem))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !client
            .get(format!("{}/login", lb.base))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            assert!(
                Instant::now() < deadline,
                "HAProxy not ready: {}",
                lb.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bases = vec![lb.base.clone()];
        _haproxy = Some(lb);
    }

    // Log everyone in first (Argon2 is deliberately slow), then go.
    let mut logins = Vec::new();
    for (i, name) in setup.agents.iter().enumerate() {
        let base = bases[i % bases.len()].clone();
        let (client, name) = (client.clone(), name.clone());
        logins.push(tokio::spawn(async move {
            Agent::log_in(client, &base, &name, PASSWORD).await.unwrap()
        }));
    }
    let mut logged_in = Vec::new();
    for l in logins {
        logged_in.push(l.await.unwrap());
    }

    let seen: Arc<Mutex<HashSet<i64>>> = Arc::default();
    let doubles = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for mut agent in logged_in {
        let (seen, doubles) = (seen.clone(), doubles.clone());
        let (measuring, stop) = (measuring.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut samples = Samples::default();
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let begun = Instant::now();
                match agent.cycle("no_answer").await {
                    Ok(Some(cycle)) => {
                        if !seen.lock().unwrap().insert(cycle.case_id) {
                            doubles.fetch_add(1, Ordering::Relaxed);
                        }
                        if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                            samples.leases.push(cycle.lease);
                            samples.cycles.push(begun.elapsed());
                            samples.steps.resize(agent::STEPS.len(), Vec::new());
                            for (i, d) in cycle.steps.iter().enumerate() {
                                samples.steps[i].push(*d);
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        errors += 1;
                        if errors <= 3 {
                            eprintln!("Fehler: {e}");
                        }
                    }
                }
            }
            (samples, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    // PostgreSQL's autovacuum analyzes a table that grew by a tenth within
    // a minute; it is switched off on the benchmark machine, so the tables
    // that grow from empty are analyzed here, after the warm-up. Without
    // it the servers' cached plans keep reading `attempts` from start to
    // end, as planned while it was empty (BENCHMARKS.md, session 13).
    // `BENCH_NO_ANALYZE=1` leaves it out, for comparison.
    if db.backend() == Backend::Postgres && std::env::var_os("BENCH_NO_ANALYZE").is_none() {
        let mut tx = db.write_once().await.unwrap();
        tx.execute("ANALYZE attempts, audit_events", args![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    measuring.store(true, Ordering::Relaxed);
    let window = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = window.elapsed();
    let mut all = Samples::default();
    let mut errors = 0;
    for task in tasks {
        let (s, e) = task.await.unwrap();
        all.leases.extend(s.leases);
        all.cycles.extend(s.cycles);
        all.steps.resize(agent::STEPS.len(), Vec::new());
        for (i, d) in s.steps.into_iter().enumerate() {
            all.steps[i].extend(d);
        }
        errors += e;
    }
    drop(_haproxy);
    drop(running);
    let steps: Vec<String> = all
        .steps
        .iter_mut()
        .zip(agent::STEPS)
        .map(|(d, name)| {
            d.sort();
            format!(
                "{name} {}/{}",
                ms(percentile(d, 0.5)),
                ms(percentile(d, 0.99))
            )
        })
        .collect();
    eprintln!("{label}: p50/p99 je Anfrage: {}", steps.join(", "));
    all.leases.sort();
    all.cycles.sort();

    let mut tx = db.begin().await.unwrap();
    let (audit_doubles,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM (SELECT record_id FROM audit_events WHERE action = 'case_lease'
             GROUP BY record_id HAVING COUNT(*) > 1) d",
            args![],
        )
        .await
        .unwrap();
    let (attempts,): (i64,) = tx
        .fetch_one("SELECT COUNT(*) FROM attempts", args![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    println!(
        "| {label} | {agents} | {:.0} | {} | {} | {} | {} | {} | {} | {attempts} | {errors} |",
        all.cycles.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&all.leases, 0.5)),
        ms(percentile(&all.leases, 0.99)),
        ms(percentile(&all.cycles, 0.5)),
        ms(percentile(&all.cycles, 0.99)),
        doubles.load(Ordering::Relaxed),
        audit_doubles,
    );
}

/// The bare `SKIP LOCKED` dequeue of a 1M-row table through pgbench.
fn pgbench(url: &str, clients: u32, seconds: u64) {
    let dir = std::env::temp_dir().join(format!("outreach-pgbench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("dequeue.sql");
    std::fs::write(
        &script,
        "BEGIN;\n\
         UPDATE bench_queue SET taken = true WHERE id = (SELECT id FROM bench_queue WHERE NOT taken ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id;\n\
         COMMIT;\n",
    )
    .unwrap();
    let setup = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1"])
        .args([
            "-c",
            "DROP TABLE IF EXISTS bench_queue",
            "-c",
            "CREATE TABLE bench_queue (id BIGINT PRIMARY KEY, taken BOOLEAN NOT NULL DEFAULT false)",
            "-c",
            "INSERT INTO bench_queue (id) SELECT generate_series(1, 1000000)",
            "-c",
            "CREATE INDEX bench_queue_open ON bench_queue(id) WHERE NOT taken",
            "-c",
            "VACUUM ANALYZE bench_queue",
        ])
        .status()
        .unwrap();
    assert!(setup.success(), "psql set-up of the pgbench table failed");
    let output = Command::new("pgbench")
        .current_dir(&dir)
        .args(["-n", "-l", "-f"])
        .arg(&script)
        .args([
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
        ])
        .arg(url)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "pgbench: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find(|l| l.starts_with("tps"))
        .and_then(|l| l.split_whitespace().nth(2))
        .unwrap_or("?")
        .to_string();
    // Per-transaction logs: client, transaction, latency in µs, ...
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("pgbench_log")
        {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse().ok()) {
                    latencies.push(Duration::from_micros(us));
                }
            }
        }
    }
    latencies.sort();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "| pgbench `SKIP LOCKED` dequeue | {clients} clients | {tps} | {} | {} | | | | | | |",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cases = setting("BENCH_CASES", 1_000_000) as i64;
    let agents = setting("BENCH_AGENTS", 300) as usize;
    let seconds = setting("BENCH_SECONDS", 30);
    // `BENCH_ONLY=sqlite|postgres|pgbench|balanced` runs one part.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let part = |name: &str| only.is_empty() || only == name;
    let available = backends().await;
    println!(
        "Queue benchmark: {cases} cases, {agents} agents, {seconds} s measured after 5 s warm-up"
    );
    println!();
    println!(
        "| set-up | agents/clients | cycles/s (pgbench: tps) | lease p50 | lease p99 | cycle p50 | cycle p99 | double leases (clients) | double leases (audit) | attempts stored | errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    if part("pgbench") {
        if available.contains(&Backend::Postgres) {
            let t = TestDb::new(Backend::Postgres).await.unwrap();
            for clients in [8, 32] {
                pgbench(&t.url, clients, 10);
            }
        } else {
            eprintln!("SKIP pgbench: PostgreSQL nicht erreichbar");
        }
    }
    if part("sqlite") {
        let t = TestDb::new(Backend::Sqlite).await.unwrap();
        run(
            "SQLite, one server",
            &t.db,
            &t.url,
            1,
            cases,
            agents,
            seconds,
            None,
        )
        .await;
    }
    if available.contains(&Backend::Postgres) && part("postgres") {
        let t = TestDb::new(Backend::Postgres).await.unwrap();
        run(
            "PostgreSQL, two servers",
            &t.db,
            &t.url,
            2,
            cases,
            agents,
            seconds,
            None,
        )
        .await;
    }
    if part("balanced") {
        balanced(cases, agents, seconds).await;
    }
}

/// Issue 24: a PostgreSQL cluster of its own with TLS (`verify-full`),
/// three servers, the agents direct to them and then through HAProxy over
/// TLS, each on a database of its own in the same cluster; `pgbench` on the
/// same cluster over TLS as the baseline. The cluster runs with
/// `fsync = off` (a test cluster): compare within the run.
async fn balanced(cases: i64, agents: usize, seconds: u64) {
    let ca = support::ca::TestCa::new("Outreach Bench-CA");
    let db_cert = ca.issue(&["localhost"]);
    let Ok(cluster) = Cluster::start(Some(&ServerTls {
        cert_pem: db_cert.cert_pem,
        key_pem: db_cert.key_pem,
    })) else {
        eprintln!("SKIP balanced: kein eigener PostgreSQL-Cluster");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = ca.write(dir.path());
    let tls = format!("sslmode=verify-full&sslrootcert={}", root.display());
    let admin = Db::connect(&cluster.url("localhost", "postgres", &tls))
        .await
        .unwrap();
    for name in ["direkt", "balanciert"] {
        let mut tx = admin.write_once().await.unwrap();
        tx.execute(
            match name {
                "direkt" => "CREATE DATABASE direkt",
                _ => "CREATE DATABASE balanciert",
            },
            args![],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    admin.close().await;
    pgbench(&cluster.url("localhost", "direkt", &tls), 32, 10);
    let lb_cert = ca.issue(&["localhost", "127.0.0.1"]);
    let pem = dir.path().join("lb.pem");
    std::fs::write(&pem, format!("{}{}", lb_cert.cert_pem, lb_cert.key_pem)).unwrap();
    let balancer = Balancer {
        pem,
        ca_pem: ca.cert_pem.clone(),
        dir: dir.path().to_path_buf(),
    };
    for (name, label, via) in [
        (
            "direkt",
            "PostgreSQL (TLS), three servers, direct (HTTP)",
            None,
        ),
        (
            "balanciert",
            "PostgreSQL (TLS), three servers, through HAProxy (HTTPS)",
            Some(&balancer),
        ),
    ] {
        let url = cluster.url("localhost", name, &tls);
        let db = Db::open(&url).await.unwrap();
        run(label, &db, &url, 3, cases, agents, seconds, via).await;
        db.close().await;
    }
}
