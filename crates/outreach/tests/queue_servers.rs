//! Two `outreach serve` processes on one PostgreSQL database: 50 agents over
//! HTTP lease, call and record "keine Antwort" until the queue is empty —
//! every case is leased exactly once, by exactly one agent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(
    dead_code,
    reason = "shared with the queue benchmark, which reads the lease times"
)]
mod agent;

use agent::{Agent, start_server};
use outreach_store::testing::{TestDb, backends, queue_campaign};
use outreach_store::{Backend, args};
use std::collections::HashMap;

const PASSWORD: &str = "ein-langes-test-passwort";

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
    let (_a, base_a) = start_server(&t.url, "warn").await;
    let (_b, base_b) = start_server(&t.url, "warn").await;

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
