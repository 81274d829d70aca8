#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The call queue on both databases: queue order, one lease per agent,
//! expiry, holidays, the calling window, callbacks — and 50 agents leasing
//! at once: every case exactly once.

use jiff::civil::{Date, date};
use outreach_core::access::{Home, Role};
use outreach_store::calls::{self, LEASE_SECONDS, LeaseKind, QueueScope};
use outreach_store::testing::{TestDb, backends, letter_campaign, letter_customer};
use outreach_store::{Db, args, campaign, user};
use std::collections::HashSet;

mod attempts;
mod writer;

/// Unix seconds of a Berlin wall-clock time.
fn at(day: Date, hour: i8, minute: i8) -> i64 {
    day.at(hour, minute, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .unwrap()
        .timestamp()
        .as_second()
}

/// Tuesday 12.01.2027, 10:00: inside the campaign's period and window.
fn now() -> i64 {
    at(date(2027, 1, 12), 10, 0)
}

/// A campaign of `n` customers, activated, letters sent long ago; returns
/// the campaign and the service center.
async fn world(db: &Db, n: usize) -> (i64, i64) {
    let id = letter_campaign(db, (0..n).map(letter_customer))
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
        .await
        .unwrap()
        .unwrap();
    campaign::activate(&mut tx, &c, date(2027, 1, 4), 0)
        .await
        .unwrap();
    tx.execute(
        "UPDATE cases SET letter_sent_on = '2026-12-01' WHERE campaign_id = $1",
        args![id],
    )
    .await
    .unwrap();
    let (sc,): (i64,) = tx
        .fetch_one("SELECT id FROM service_centers WHERE code = 'sc'", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (id, sc)
}

async fn agent(db: &Db, sc: i64, name: &str) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = user::create(
        &mut tx,
        &user::NewUser {
            username: name.into(),
            display_name: name.into(),
            role: Role::Agent,
            home: Home::ServiceCenter(sc),
            pap_code: None,
            password_hash: "x".into(),
        },
        0,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn scope(db: &Db, sc: i64, agent: i64, now: i64) -> QueueScope {
    let mut tx = db.begin_read().await.unwrap();
    let running =
        campaign::running_for_service_center(&mut tx, sc, outreach_core::date::berlin_date(now))
            .await
            .unwrap();
    QueueScope::new(agent, now, &running)
}

async fn customer_number(db: &Db, case: i64) -> String {
    let mut tx = db.begin_read().await.unwrap();
    let (n,): (String,) = tx
        .fetch_one(
            "SELECT c.customer_number FROM cases k JOIN customers c ON c.id = k.customer_id WHERE k.id = $1",
            args![case],
        )
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn the_queue_hands_out_cases_in_order_one_per_agent() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (campaign_id, sc) = world(&t.db, 6).await;
        // K0000003 is under 25; K0000001 was contacted long ago, the others recently
        // or never; K0000004 lives in Bayern.
        let mut tx = t.db.begin().await.unwrap();
        for (sql, number) in [
            (
                "UPDATE customers SET last_contact = '2026-06-01' WHERE customer_number = $1",
                "K0000000",
            ),
            (
                "UPDATE customers SET last_contact = '2025-01-01' WHERE customer_number = $1",
                "K0000001",
            ),
            (
                "UPDATE customers SET last_contact = '2026-09-01' WHERE customer_number = $1",
                "K0000002",
            ),
            (
                "UPDATE customers SET last_contact = '2026-10-01', birth_date = '2005-05-05' WHERE customer_number = $1",
                "K0000003",
            ),
            (
                "UPDATE customers SET last_contact = '2026-10-01', state_code = 'BY' WHERE customer_number = $1",
                "K0000004",
            ),
            (
                "UPDATE customers SET last_contact = '2026-10-01' WHERE customer_number = $1",
                "K0000005",
            ),
        ] {
            tx.execute(sql, args![number]).await.unwrap();
        }
        // The order is fixed when the campaign is activated: activate anew.
        tx.execute(
            "DELETE FROM cases WHERE campaign_id = $1",
            args![campaign_id],
        )
        .await
        .unwrap();
        tx.execute(
            "UPDATE campaigns SET state = 'draft' WHERE id = $1",
            args![campaign_id],
        )
        .await
        .unwrap();
        let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, campaign_id)
            .await
            .unwrap()
            .unwrap();
        campaign::activate(&mut tx, &c, date(2027, 1, 4), 0)
            .await
            .unwrap();
        tx.execute(
            "UPDATE cases SET letter_sent_on = '2026-12-01' WHERE campaign_id = $1",
            args![campaign_id],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let a = agent(&t.db, sc, "agent.a").await;
        let b = agent(&t.db, sc, "agent.b").await;
        let first = calls::lease_next(&t.db, &scope(&t.db, sc, a, now()).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.kind, LeaseKind::Fresh);
        assert_eq!(
            customer_number(&t.db, first.case_id).await,
            "K0000003",
            "{backend:?}: under 25 first"
        );
        // The same agent asking again (a reload, a second tab) keeps the case.
        let again = calls::lease_next(&t.db, &scope(&t.db, sc, a, now() + 5).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (again.case_id, again.kind),
            (first.case_id, LeaseKind::Held)
        );
        let second = calls::lease_next(&t.db, &scope(&t.db, sc, b, now()).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            customer_number(&t.db, second.case_id).await,
            "K0000001",
            "longest without contact"
        );

        // Renewal keeps it; after expiry another agent gets it.
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            calls::renew(&mut tx, first.case_id, a, now() + 60)
                .await
                .unwrap()
        );
        assert!(
            !calls::renew(&mut tx, first.case_id, b, now() + 60)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let later = now() + 60 + LEASE_SECONDS + 1;
        let c = agent(&t.db, sc, "agent.c").await;
        let taken = calls::lease_next(&t.db, &scope(&t.db, sc, c, later).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            taken.case_id, first.case_id,
            "{backend:?}: expired lease back in the queue"
        );
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            !calls::renew(&mut tx, first.case_id, a, later)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        // While it runs, the agent's lease is the one they get again; once
        // it expired untouched, they let go of it and get a new one.
        let scope_c = scope(&t.db, sc, c, later + 1).await;
        let again = calls::lease_next(&t.db, &scope_c).await.unwrap().unwrap();
        assert_eq!(
            (again.case_id, again.kind),
            (taken.case_id, LeaseKind::Held)
        );
        let much_later = later + LEASE_SECONDS + 1;
        let anew = calls::lease_next(&t.db, &scope(&t.db, sc, c, much_later).await)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(anew.kind, LeaseKind::Held, "{backend:?}: a new lease");
        let mut tx = t.db.read().await.unwrap();
        let (held,): (i64,) = tx
            .fetch_one("SELECT COUNT(*) FROM cases WHERE leased_to = $1", args![c])
            .await
            .unwrap();
        assert_eq!(held, 1, "{backend:?}: one lease per agent");
        drop(tx);

        // Epiphany (06.01.2027, a Wednesday): nobody in Bayern is called.
        let mut tx = t.db.begin().await.unwrap();
        tx.execute(
            "UPDATE campaigns SET period_start = '2027-01-04' WHERE id = $1",
            args![campaign_id],
        )
        .await
        .unwrap();
        tx.execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL",
            vec![],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let epiphany = at(date(2027, 1, 6), 10, 0);
        let mut seen = Vec::new();
        for name in ["h1", "h2", "h3", "h4", "h5", "h6"] {
            let x = agent(&t.db, sc, name).await;
            if let Some(l) = calls::lease_next(&t.db, &scope(&t.db, sc, x, epiphany).await)
                .await
                .unwrap()
            {
                seen.push(customer_number(&t.db, l.case_id).await);
            }
        }
        assert_eq!(seen.len(), 5, "{backend:?}: {seen:?}");
        assert!(!seen.contains(&"K0000004".to_string()));

        // Outside the calling window (Saturday, or 20:30): nothing.
        let saturday = at(date(2027, 1, 16), 10, 0);
        let d = agent(&t.db, sc, "agent.d").await;
        assert!(
            calls::lease_next(&t.db, &scope(&t.db, sc, d, saturday).await)
                .await
                .unwrap()
                .is_none()
        );
        let evening = at(date(2027, 1, 12), 20, 30);
        assert!(
            calls::lease_next(&t.db, &scope(&t.db, sc, d, evening).await)
                .await
                .unwrap()
                .is_none()
        );

        // Callbacks: for the agent who agreed it first, for the team 15 minutes later.
        let mut tx = t.db.begin().await.unwrap();
        tx.execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL",
            vec![],
        )
        .await
        .unwrap();
        let (cb,): (i64,) = tx
            .fetch_one(
                "SELECT k.id FROM cases k JOIN customers c ON c.id = k.customer_id WHERE c.customer_number = 'K0000005'",
                vec![],
            )
            .await
            .unwrap();
        let agreed = now() + 3600;
        tx.execute(
            "UPDATE cases SET callback_at = $2, due_at = $2, callback_user_id = $3, attempts_count = 1 WHERE id = $1",
            args![cb, agreed, a],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let own = calls::lease_next(&t.db, &scope(&t.db, sc, a, agreed + 60).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (own.case_id, own.kind),
            (cb, LeaseKind::OwnCallback),
            "{backend:?}"
        );
        let mut tx = t.db.begin().await.unwrap();
        assert!(calls::release(&mut tx, cb, a).await.unwrap());
        tx.commit().await.unwrap();
        let early = calls::lease_next(&t.db, &scope(&t.db, sc, b, agreed + 60).await)
            .await
            .unwrap();
        assert_ne!(
            early.map(|l| l.case_id),
            Some(cb),
            "still the agent's for 15 minutes"
        );
        let mut tx = t.db.begin().await.unwrap();
        tx.execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL",
            vec![],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let team = calls::lease_next(&t.db, &scope(&t.db, sc, b, agreed + 16 * 60).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (team.case_id, team.kind),
            (cb, LeaseKind::TeamCallback),
            "{backend:?}"
        );
    }
}

/// Agents a, b, c and d of the service center.
async fn four_agents(db: &Db, sc: i64) -> [i64; 4] {
    let mut ids = [0; 4];
    for (id, name) in ids
        .iter_mut()
        .zip(["agent.a", "agent.b", "agent.c", "agent.d"])
    {
        *id = agent(db, sc, name).await;
    }
    ids
}

/// The agent's next case at `at`.
async fn lease_at(db: &Db, sc: i64, agent: i64, at: i64) -> Option<calls::Lease> {
    calls::lease_next(db, &scope(db, sc, agent, at).await)
        .await
        .unwrap()
}

/// An expired lease goes back to the queue with a "next case" at most
/// `QueueMemory::SWEEP_EVERY` (5) seconds after its expiry, not necessarily with
/// the first one after it; until then nobody else is given it.
#[tokio::test]
async fn an_expired_lease_is_back_within_seconds() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, sc) = world(&t.db, 3).await;
        let [a, b, c, d] = four_agents(&t.db, sc).await;
        let db = &t.db;
        let lease = |agent, at| async move {
            lease_at(db, sc, agent, at)
                .await
                .map(|l| (l.case_id, l.kind))
        };
        let expires = now() + LEASE_SECONDS;
        let (first, _) = lease(a, now()).await.unwrap();
        // At its last second the lease still runs; this "next case" hands
        // back what had expired by then, and nothing more for 5 seconds.
        let (second, _) = lease(b, expires).await.unwrap();
        let (third, _) = lease(c, expires + 1).await.unwrap();
        assert_eq!(
            [first, second, third]
                .into_iter()
                .collect::<HashSet<_>>()
                .len(),
            3,
            "{backend:?}: three cases, one each"
        );
        assert_eq!(
            lease(d, expires + 4).await,
            None,
            "{backend:?}: expired 4 seconds ago, not yet handed back"
        );
        assert_eq!(
            lease(d, expires + 5).await,
            Some((first, LeaseKind::Fresh)),
            "{backend:?}: back in the queue"
        );
    }
}

/// PostgreSQL searches for a fresh case after the last one its server
/// leased (migration 0021); a case released before that place is not lost:
/// it is found once nothing is left after it (or with the next hand-back
/// of expired leases). SQLite keeps the exact queue order.
#[tokio::test]
async fn a_case_released_before_the_floor_is_found_again() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, sc) = world(&t.db, 3).await;
        let [a, b, c, d] = four_agents(&t.db, sc).await;
        let db = &t.db;
        let lease = |agent, at| async move { lease_at(db, sc, agent, at).await.map(|l| l.case_id) };
        let x = lease(a, now()).await.unwrap();
        let y = lease(b, now() + 1).await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        assert!(calls::release(&mut tx, x, a).await.unwrap());
        tx.commit().await.unwrap();
        let third = lease(c, now() + 2).await.unwrap();
        let fourth = lease(d, now() + 3).await.unwrap();
        let z = match backend {
            // After the floor first: the case never leased, then x.
            outreach_store::Backend::Postgres => {
                assert_eq!(fourth, x, "{backend:?}: found from the front");
                third
            }
            outreach_store::Backend::Sqlite => {
                assert_eq!(third, x, "{backend:?}: queue order");
                fourth
            }
        };
        assert_eq!(
            [x, y, z].into_iter().collect::<HashSet<_>>().len(),
            3,
            "{backend:?}: every case once"
        );
    }
}

/// 50 agents lease from one campaign until it is empty: every case exactly
/// once. (Checked to fail without `SKIP LOCKED` and the claim's guard.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_agents_never_share_a_case() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (campaign_id, sc) = world(&t.db, 400).await;
        let mut agents = Vec::new();
        for i in 0..50 {
            agents.push(agent(&t.db, sc, &format!("agent{i}")).await);
        }
        let mut tasks = Vec::new();
        for a in agents {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let s = scope(&db, sc, a, now()).await;
                    let Some(lease) = calls::lease_next(&db, &s).await.unwrap() else {
                        return mine;
                    };
                    assert_ne!(lease.kind, LeaseKind::Held, "a finished case came back");
                    mine.push(lease.case_id);
                    // The call is done: the case is final and the lease ends.
                    let mut tx = db.begin().await.unwrap();
                    let done = tx
                        .execute(
                            "UPDATE cases SET final_disposition = 'test', leased_to = NULL, lease_expires_at = NULL
                             WHERE id = $1 AND leased_to = $2",
                            args![lease.case_id, a],
                        )
                        .await
                        .unwrap();
                    assert_eq!(done, 1, "the lease was not the agent's");
                    tx.commit().await.unwrap();
                }
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        let total = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), total, "{backend:?}: a case was leased twice");
        assert_eq!(total, 400, "{backend:?}: every case leased");
        let mut tx = t.db.begin_read().await.unwrap();
        let (open,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM cases WHERE campaign_id = $1 AND final_disposition IS NULL",
                args![campaign_id],
            )
            .await
            .unwrap();
        assert_eq!(open, 0);
    }
}
