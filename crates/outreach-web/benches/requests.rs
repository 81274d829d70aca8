//! Request throughput and latency of the web application on SQLite and
//! PostgreSQL, through the whole router (sessions, CSRF, guards, templates,
//! audit). Prints figures; run with `cargo bench -p outreach-web --bench requests`.
//!
//! Measured: a login (Argon2id), the start page (session lookup; then each
//! role's with a running campaign, whose work lists it shows), and a customer
//! record (scoped read plus an audit event appended in the same transaction —
//! every such read takes the audit chain's head lock).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use axum::http::StatusCode;
use common::{Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::testing::backends;
use std::time::{Duration, Instant};

const CONCURRENCY: usize = 8;

struct Figures {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Figures {
    fn print(&mut self, label: &str) {
        self.latencies.sort();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            self.latencies[i].as_secs_f64() * 1000.0
        };
        println!(
            "  {label:<38} {:>7.0} req/s   p50 {:>6.2} ms   p95 {:>6.2} ms   p99 {:>6.2} ms   ({} requests)",
            self.requests as f64 / self.elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.95),
            pct(0.99),
            self.requests
        );
    }
}

/// `per_task` GETs of `path` from each of `CONCURRENCY` logged-in clients,
/// each on its own task.
async fn measure(app: &TestApp, who: &str, path: &str, per_task: usize) -> Figures {
    let mut clients = Vec::new();
    for _ in 0..CONCURRENCY {
        clients.push(app.login(who).await);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut client in clients {
        let path = path.to_string();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(per_task);
            for _ in 0..per_task {
                let t = Instant::now();
                let r = client.get(&path).await;
                assert_eq!(r.status, StatusCode::OK, "{path}");
                latencies.push(t.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        latencies.extend(done.unwrap());
    }
    Figures {
        requests: CONCURRENCY * per_task,
        elapsed: started.elapsed(),
        latencies,
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let per_task: usize = std::env::var("BENCH_REQUESTS_PER_TASK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250);
    println!(
        "Outreach request benchmark: {CONCURRENCY} concurrent clients, {per_task} requests each, in-process router"
    );
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        // PostgreSQL: appended audit events are sealed by a task, as in
        // `outreach serve`, not after each request's commit.
        let sealer = outreach_web::maintenance::spawn_sealer(app.state.db.clone());
        // SQLite: the write-ahead log is copied into the file beside the
        // writer, as in `outreach serve`.
        let checkpointer = outreach_web::maintenance::spawn_checkpointer(app.state.db.clone())
            .await
            .unwrap();
        println!("{backend:?}:");
        let admin = username(Role::JobcenterAdmin, Side::Own);

        let mut logins = Vec::new();
        let started = Instant::now();
        for _ in 0..20 {
            let t = Instant::now();
            app.login(&admin).await;
            logins.push(t.elapsed());
        }
        Figures {
            requests: 20,
            elapsed: started.elapsed(),
            latencies: logins,
        }
        .print("login (Argon2id + code), one by one");

        measure(&app, &admin, "/", per_task)
            .await
            .print("GET / (start page)");
        // Before the campaign below, as the builds before measured it.
        let path = format!("/kunden/{}", app.fixtures.customer_a);
        measure(&app, &admin, &path, per_task)
            .await
            .print("GET /kunden/{id} (read + audit event)");
        // Every role's start page with a running campaign (its work lists).
        common::running_campaign(&app).await;
        for role in [
            Role::JobcenterAdmin,
            Role::CaseManager,
            Role::Supervisor,
            Role::Agent,
            Role::Dpo,
        ] {
            measure(&app, &username(role, Side::Own), "/", per_task)
                .await
                .print(&format!("GET / ({}, campaign running)", role.code()));
        }
        // The team lead's queue page, with per-agent figures off (the
        // default) and switched on for the campaign's mandate.
        let lead = username(Role::Supervisor, Side::Own);
        measure(&app, &lead, "/teamleitung", per_task)
            .await
            .print("GET /teamleitung (team figures only)");
        let mut tx = app.state.db.begin().await.unwrap();
        tx.execute(
            "UPDATE mandates SET agent_figures_agreed_on = '2026-11-03', agent_figures_reference = 'DV 1' WHERE id = $1",
            outreach_store::args![app.fixtures.mandate],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        measure(&app, &lead, "/teamleitung", per_task)
            .await
            .print("GET /teamleitung (per-agent figures on)");
        let mut tx = app.state.db.begin_read().await.unwrap();
        let v = outreach_store::audit::verify(&mut tx).await.unwrap();
        assert!(v.broken.is_none());
        println!(
            "  audit chain after the run: {} events, unbroken",
            v.checked
        );
        if let Some(sealer) = sealer {
            sealer.abort();
        }
        if let Some(checkpointer) = checkpointer {
            checkpointer.abort();
        }
    }
}
