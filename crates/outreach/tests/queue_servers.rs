//! Two `outreach serve` processes on one PostgreSQL database: 50 agents over
//! HTTP lease, call and record "keine Antwort" until the queue is empty —
//! every case is leased exactly once, by exactly one agent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, reason = "shared with the queue benchmark, which reads the lease times")]
mod agent;

use agent::Agent;
use outreach_store::testing::{QUEUE_CLOCK, TestDb, backends, queue_campaign};
use outreach_store::{Backend, args};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "ein-langes-test-passwort";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `outreach serve` on a free port with the clock on a working day.
async fn start(url: &str) -> (Server, String) {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_outreach"))
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--database-url", url])
        .env("OUTREACH_CLOCK_START", QUEUE_CLOCK)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = Agent::client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = client.get(format!("{base}/healthz")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(server.0.try_wait().unwrap().is_none(), "server exited");
        assert!(Instant::now() < deadline, "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_postgres_lease_every_case_once() {
    if !backends().await.contains(&Backend::Postgres) {
        eprintln!("SKIP: PostgreSQL nicht erreichbar; der Test mit zwei Servern läuft nur dort");
        return;
    }
    const CASES: i64 = 300;
    const AGENTS: usize = 50;
    let t = TestDb::new(Backend::Postgres).await.unwrap();
    let hash = outreach_web::password::hash(PASSWORD.into()).await.unwrap();
    let setup = queue_campaign(&t.db, CASES, AGENTS, &hash).await.unwrap();
    let (_a, base_a) = start(&t.url).await;
    let (_b, base_b) = start(&t.url).await;

    let mut tasks = Vec::new();
    for (i, name) in setup.agents.iter().enumerate() {
        let base = if i % 2 == 0 { &base_a } else { &base_b }.clone();
        let name = name.clone();
        tasks.push(tokio::spawn(async move {
            let mut agent = Agent::log_in(Agent::client(), &base, &name, PASSWORD)
                .await
                .unwrap();
            let mut cases = Vec::new();
            while let Some(cycle) = agent.cycle("no_answer").await.unwrap() {
                cases.push(cycle.case_id);
            }
            (name, cases)
        }));
    }
    let mut leased_by: HashMap<i64, Vec<String>> = HashMap::new();
    let mut agents_with_cases = 0;
    for task in tasks {
        let (name, cases) = task.await.unwrap();
        agents_with_cases += usize::from(!cases.is_empty());
        for case in cases {
            leased_by.entry(case).or_default().push(name.clone());
        }
    }
    let doubles: Vec<_> = leased_by.iter().filter(|(_, who)| who.len() > 1).collect();
    assert!(doubles.is_empty(), "cases leased twice: {doubles:?}");
    assert_eq!(leased_by.len() as i64, CASES, "every case leased");
    assert!(agents_with_cases > 1, "the work was shared");

    // The database agrees: one attempt per case, one lease event per case.
    let mut tx = t.db.begin().await.unwrap();
    let (attempts, cases_tried): (i64, i64) = tx
        .fetch_one(
            "SELECT (SELECT COUNT(*) FROM attempts a JOIN cases k ON k.id = a.case_id
                     WHERE k.campaign_id = $1),
                    (SELECT COUNT(*) FROM cases WHERE campaign_id = $1 AND attempts_count = 1)",
            args![setup.campaign_id],
        )
        .await
        .unwrap();
    let (lease_events, distinct_cases): (i64, i64) = tx
        .fetch_one(
            "SELECT COUNT(*), COUNT(DISTINCT record_id) FROM audit_events WHERE action = 'case_lease'",
            args![],
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((attempts, cases_tried), (CASES, CASES));
    assert_eq!((lease_events, distinct_cases), (CASES, CASES));
}
