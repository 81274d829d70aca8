//! Two `outreach serve` processes on one database keep the sessions they
//! read for a few seconds; a session that ends or a user who is changed —
//! by the other server or by another process — is refused by both at once,
//! not when the kept copy runs out. On both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code, reason = "shared with the queue benchmark")]
mod agent;

use agent::{Agent, start_server};
use outreach_store::testing::{TestDb, backends, queue_campaign};
use outreach_store::{Backend, args};
use std::time::{Duration, Instant};

const PASSWORD: &str = "ein-langes-test-passwort";

/// Asks for the desk until the server sends the agent to the login page;
/// how long that took (`None`: not within five seconds).
async fn refused_after(agent: &mut Agent) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let page = agent.get("/anrufe").await.unwrap();
        if page.status == 303 && page.location.contains("login") {
            return Some(start.elapsed());
        }
    }
    None
}

/// Both servers show the desk to the agent (and keep the session).
async fn admitted(a: &mut Agent, b: &mut Agent) {
    for agent in [a, b] {
        for _ in 0..2 {
            let page = agent.get("/anrufe").await.unwrap();
            assert_eq!(page.status, 200, "{}", page.location);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_and_a_changed_user_are_refused_by_every_server_at_once() {
    for backend in backends().await {
        refused_by_every_server(backend).await;
    }
}

async fn refused_by_every_server(backend: Backend) {
    let t = TestDb::new(backend).await.unwrap();
    let hash = outreach_web::password::hash(PASSWORD.into()).await.unwrap();
    let setup = queue_campaign(&t.db, 10, 2, &hash).await.unwrap();
    let (_a, base_a) = start_server(&t.url, "warn").await;
    let (_b, base_b) = start_server(&t.url, "warn").await;
    // The kept copy lives five seconds; "at once" is well under that.
    let at_once = Duration::from_secs(2);

    // Logged out on server A: server B refuses the session too.
    let mut on_a = Agent::log_in(Agent::client(), &base_a, &setup.agents[0], PASSWORD)
        .await
        .unwrap();
    let mut on_b = on_a.on(&base_b);
    admitted(&mut on_a, &mut on_b).await;
    let page = on_a.post("/logout", &[]).await.unwrap();
    assert_eq!(page.status, 303);
    let waited = refused_after(&mut on_b).await;
    assert!(
        waited.is_some_and(|w| w < at_once),
        "{backend:?}: server B still took the ended session: {waited:?}"
    );

    // A user deactivated in the database: both servers refuse the session.
    let mut on_a = Agent::log_in(Agent::client(), &base_a, &setup.agents[1], PASSWORD)
        .await
        .unwrap();
    let mut on_b = on_a.on(&base_b);
    admitted(&mut on_a, &mut on_b).await;
    let mut tx = t.db.begin().await.unwrap();
    tx.execute(
        "UPDATE users SET active = FALSE WHERE username = $1",
        args![setup.agents[1].as_str()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    for (server, agent) in [("A", &mut on_a), ("B", &mut on_b)] {
        let waited = refused_after(agent).await;
        assert!(
            waited.is_some_and(|w| w < at_once),
            "{backend:?}: server {server} still took the deactivated user's session: {waited:?}"
        );
    }
}
