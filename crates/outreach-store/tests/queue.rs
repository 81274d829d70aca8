#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The call queue on both databases: queue order, one lease per agent,
//! expiry, holidays, the calling window, callbacks — and 50 agents leasing
//! at once: every case exactly once.

use jiff::civil::{Date, date};
use outreach_core::access::{Home, Role};
use outreach_store::queue::{self, LEASE_SECONDS, LeaseKind, QueueScope};
use outreach_store::testing::{TestDb, backends, letter_campaign, letter_customer};
use outreach_store::{Db, args, campaign, user};
use std::collections::HashSet;

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
        let first = queue::lease_next(&t.db, &scope(&t.db, sc, a, now()).await)
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
        let again = queue::lease_next(&t.db, &scope(&t.db, sc, a, now() + 5).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (again.case_id, again.kind),
            (first.case_id, LeaseKind::Held)
        );
        let second = queue::lease_next(&t.db, &scope(&t.db, sc, b, now()).await)
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
            queue::renew(&mut tx, first.case_id, a, now() + 60)
                .await
                .unwrap()
        );
        assert!(
            !queue::renew(&mut tx, first.case_id, b, now() + 60)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let later = now() + 60 + LEASE_SECONDS + 1;
        let c = agent(&t.db, sc, "agent.c").await;
        let taken = queue::lease_next(&t.db, &scope(&t.db, sc, c, later).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            taken.case_id, first.case_id,
            "{backend:?}: expired lease back in the queue"
        );
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            !queue::renew(&mut tx, first.case_id, a, later)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        // While it runs, the agent's lease is the one they get again; once
        // it expired untouched, they let go of it and get a new one.
        let scope_c = scope(&t.db, sc, c, later + 1).await;
        let again = queue::lease_next(&t.db, &scope_c).await.unwrap().unwrap();
        assert_eq!(
            (again.case_id, again.kind),
            (taken.case_id, LeaseKind::Held)
        );
        let much_later = later + LEASE_SECONDS + 1;
        let anew = queue::lease_next(&t.db, &scope(&t.db, sc, c, much_later).await)
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
            if let Some(l) = queue::lease_next(&t.db, &scope(&t.db, sc, x, epiphany).await)
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
            queue::lease_next(&t.db, &scope(&t.db, sc, d, saturday).await)
                .await
                .unwrap()
                .is_none()
        );
        let evening = at(date(2027, 1, 12), 20, 30);
        assert!(
            queue::lease_next(&t.db, &scope(&t.db, sc, d, evening).await)
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
        let own = queue::lease_next(&t.db, &scope(&t.db, sc, a, agreed + 60).await)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (own.case_id, own.kind),
            (cb, LeaseKind::OwnCallback),
            "{backend:?}"
        );
        let mut tx = t.db.begin().await.unwrap();
        assert!(queue::release(&mut tx, cb, a).await.unwrap());
        tx.commit().await.unwrap();
        let early = queue::lease_next(&t.db, &scope(&t.db, sc, b, agreed + 60).await)
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
        let team = queue::lease_next(&t.db, &scope(&t.db, sc, b, agreed + 16 * 60).await)
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
async fn lease_at(db: &Db, sc: i64, agent: i64, at: i64) -> Option<queue::Lease> {
    queue::lease_next(db, &scope(db, sc, agent, at).await)
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
        assert!(queue::release(&mut tx, x, a).await.unwrap());
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
                    let Some(lease) = queue::lease_next(&db, &s).await.unwrap() else {
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

/// Attempts: started only on a held case, once (a reload returns it),
/// finished only by its agent; what follows is stored on the case.
#[tokio::test]
async fn attempts_are_recorded_and_move_the_case() {
    use outreach_store::queue::AfterAttempt;
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, sc) = world(&t.db, 3).await;
        let a = agent(&t.db, sc, "agent.a").await;
        let b = agent(&t.db, sc, "agent.b").await;
        let lease = queue::lease_next(&t.db, &scope(&t.db, sc, a, now()).await)
            .await
            .unwrap()
            .unwrap();
        let case = lease.case_id;
        let mut tx = t.db.begin().await.unwrap();
        assert_eq!(
            queue::start_attempt(&mut tx, case, b, "phone", now())
                .await
                .unwrap(),
            None
        );
        let id = queue::start_attempt(&mut tx, case, a, "phone", now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            queue::start_attempt(&mut tx, case, a, "phone", now() + 5)
                .await
                .unwrap(),
            Some(id),
            "a reload continues the open attempt"
        );
        let due = now() + 86_400;
        assert!(
            !queue::finish_attempt(
                &mut tx,
                id,
                b,
                "busy",
                None,
                AfterAttempt::Due {
                    at: due,
                    callback: None
                },
                now() + 30
            )
            .await
            .unwrap()
        );
        assert!(
            queue::finish_attempt(
                &mut tx,
                id,
                a,
                "busy",
                None,
                AfterAttempt::Due {
                    at: due,
                    callback: None
                },
                now() + 30
            )
            .await
            .unwrap()
        );
        let rows = queue::attempts(&mut tx, case).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].result.as_deref(), Some("busy"));
        assert_eq!(rows[0].ended_at, Some(now() + 30));
        let (count, due_at, leased): (i64, Option<i64>, Option<i64>) = tx
            .fetch_one(
                "SELECT attempts_count, due_at, leased_to FROM cases WHERE id = $1",
                args![case],
            )
            .await
            .unwrap();
        assert_eq!((count, due_at, leased), (1, Some(due), None), "{backend:?}");
        tx.commit().await.unwrap();

        // The next lease of the agent is another (fresh) case; finished as final.
        let next = queue::lease_next(&t.db, &scope(&t.db, sc, a, now() + 60).await)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(next.case_id, case);
        let mut tx = t.db.begin().await.unwrap();
        let id = queue::start_attempt(&mut tx, next.case_id, a, "mobile", now() + 61)
            .await
            .unwrap()
            .unwrap();
        assert!(
            queue::finish_attempt(
                &mut tx,
                id,
                a,
                "wrong_number",
                None,
                AfterAttempt::Final("no_valid_number"),
                now() + 90
            )
            .await
            .unwrap()
        );
        let (disposition,): (Option<String>,) = tx
            .fetch_one(
                "SELECT final_disposition FROM cases WHERE id = $1",
                args![next.case_id],
            )
            .await
            .unwrap();
        assert_eq!(disposition.as_deref(), Some("no_valid_number"));
        tx.commit().await.unwrap();
    }
}

/// A conversation left unfinished (the tab closed): when the lease has run
/// out the case is due again, for the next agent.
#[tokio::test]
async fn an_unfinished_conversation_returns_to_the_queue() {
    use outreach_store::queue::AfterAttempt;
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, sc) = world(&t.db, 1).await;
        let a = agent(&t.db, sc, "agent.a").await;
        let b = agent(&t.db, sc, "agent.b").await;
        let lease = queue::lease_next(&t.db, &scope(&t.db, sc, a, now()).await)
            .await
            .unwrap()
            .unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let id = queue::start_attempt(&mut tx, lease.case_id, a, "phone", now())
            .await
            .unwrap()
            .unwrap();
        assert!(
            queue::finish_attempt(
                &mut tx,
                id,
                a,
                "reached",
                None,
                AfterAttempt::Conversation,
                now() + 10
            )
            .await
            .unwrap()
        );
        tx.commit().await.unwrap();
        let later = now() + 10 + LEASE_SECONDS + 1;
        let again = queue::lease_next(&t.db, &scope(&t.db, sc, b, later).await)
            .await
            .unwrap();
        assert_eq!(
            again.map(|l| (l.case_id, l.kind)),
            Some((lease.case_id, LeaseKind::Retry)),
            "{backend:?}"
        );
    }
}

/// SQLite has one writer. An agent's next case waits only for the write at
/// it, not behind the writes waiting in line for it (`Db::begin_urgent`).
#[tokio::test]
async fn an_urgent_write_goes_before_the_writes_in_line() {
    let t = TestDb::new(outreach_store::Backend::Sqlite).await.unwrap();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let at_writer = t.db.begin().await.unwrap();
    let waiting = |urgent: bool| {
        let (db, order) = (t.db.clone(), order.clone());
        tokio::spawn(async move {
            let tx = if urgent {
                db.begin_urgent().await.unwrap()
            } else {
                db.begin().await.unwrap()
            };
            order
                .lock()
                .unwrap()
                .push(if urgent { "dringend" } else { "normal" });
            tx.commit().await.unwrap();
        })
    };
    // Waits (polled, with a deadline) until `n` writes wait for the writer.
    let until_waiting = |n: usize| {
        let db = t.db.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while db.writes_waiting() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{n} writes never waited"
                );
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    };
    let normal = waiting(false);
    until_waiting(1).await;
    let urgent = waiting(true);
    until_waiting(2).await;
    assert!(order.lock().unwrap().is_empty(), "the writer is held");
    at_writer.commit().await.unwrap();
    normal.await.unwrap();
    urgent.await.unwrap();
    assert_eq!(*order.lock().unwrap(), ["dringend", "normal"]);
}

/// SQLite's writer is handed from write to write without a pool. A write
/// dropped in the middle of its transaction (an error, a cancelled request)
/// is rolled back before the next write has the writer: nothing of it is
/// stored, and the next write begins its own transaction.
#[tokio::test]
async fn a_write_dropped_half_way_is_rolled_back_before_the_next() {
    let t = TestDb::new(outreach_store::Backend::Sqlite).await.unwrap();
    let count = |db: Db| async move {
        let mut tx = db.read().await.unwrap();
        tx.fetch_one::<(i64,)>(
            "SELECT COUNT(*) FROM job_centers WHERE code LIKE 'abgebrochen%'",
            vec![],
        )
        .await
        .unwrap()
        .0
    };
    for urgent in [false, true] {
        let mut tx = if urgent {
            t.db.begin_urgent().await.unwrap()
        } else {
            t.db.begin().await.unwrap()
        };
        tx.execute(
            "INSERT INTO job_centers (code, name, created_at) VALUES ('abgebrochen-' || $1, 'x', 0)",
            args![i64::from(urgent)],
        )
        .await
        .unwrap();
        drop(tx);
        let mut next = t.db.begin().await.unwrap();
        next.execute(
            "INSERT INTO job_centers (code, name, created_at) VALUES ('danach-' || $1, 'x', 0)",
            args![i64::from(urgent)],
        )
        .await
        .unwrap();
        next.commit().await.unwrap();
    }
    assert_eq!(
        count(t.db.clone()).await,
        0,
        "the dropped writes left nothing"
    );
    let mut tx = t.db.read().await.unwrap();
    let (after,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM job_centers WHERE code LIKE 'danach-%'",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(after, 2, "the writes after them are stored");
}

/// `outreach serve` on SQLite copies the write-ahead log into the database
/// file in a task of its own; the writer then never does it in a commit.
#[tokio::test]
async fn the_log_is_copied_beside_the_writer() {
    let t = TestDb::new(outreach_store::Backend::Sqlite).await.unwrap();
    let autocheckpoint = |db: Db| async move {
        let mut tx = db.write_once().await.unwrap();
        tx.fetch_one::<(i64,)>("PRAGMA wal_autocheckpoint", vec![])
            .await
            .unwrap()
            .0
    };
    assert_eq!(autocheckpoint(t.db.clone()).await, 1000, "SQLite's default");
    assert!(t.db.checkpoint_in_background().await.unwrap());
    assert_eq!(
        autocheckpoint(t.db.clone()).await,
        0,
        "the writer leaves it"
    );
    let mut tx = t.db.begin().await.unwrap();
    tx.execute(
        "INSERT INTO job_centers (code, name, created_at) VALUES ('im-log', 'x', 0)",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(t.db.checkpoint().await.unwrap() > 0, "pages copied");
    if backends()
        .await
        .contains(&outreach_store::Backend::Postgres)
    {
        let pg = TestDb::new(outreach_store::Backend::Postgres)
            .await
            .unwrap();
        assert!(
            !pg.db.checkpoint_in_background().await.unwrap(),
            "nothing to do"
        );
        assert_eq!(pg.db.checkpoint().await.unwrap(), 0);
    }
}

/// "Anruf starten" and the result with their audit events, as the agent's
/// pages record them: only on the
/// agent's own lease, a reload continues the open attempt and renews the
/// lease once it is older than a minute, and each kind of what follows is stored on the case.
#[tokio::test]
async fn audited_attempts_move_the_case_on_both_databases() {
    use outreach_core::audit::AuditAction;
    use outreach_store::audit::AuditEvent;
    use outreach_store::queue::{AfterAttempt, Finished};
    type CaseRow = (
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        String,
        Option<i64>,
    );
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, sc) = world(&t.db, 4).await;
        let a = agent(&t.db, sc, "agent.a").await;
        let b = agent(&t.db, sc, "agent.b").await;
        let t0 = now();
        let callback = t0 + 3 * 3600;
        // (result, callback time, what follows, the case afterwards)
        let kinds: [(&str, Option<i64>, AfterAttempt, CaseRow); 4] = [
            (
                "busy",
                None,
                AfterAttempt::Due {
                    at: t0 + 86_400,
                    callback: None,
                },
                (
                    1,
                    Some(t0 + 86_400),
                    None,
                    None,
                    None,
                    None,
                    "open".into(),
                    None,
                ),
            ),
            (
                "callback",
                Some(callback),
                AfterAttempt::Due {
                    at: callback,
                    callback: Some((a, callback + 900)),
                },
                (
                    1,
                    Some(callback),
                    Some(callback),
                    Some(a),
                    None,
                    None,
                    "open".into(),
                    None,
                ),
            ),
            (
                "no_answer",
                None,
                AfterAttempt::Final("not_reached"),
                (
                    1,
                    None,
                    None,
                    None,
                    None,
                    Some("not_reached".into()),
                    "final".into(),
                    Some(t0 + 30),
                ),
            ),
            (
                "reached",
                None,
                AfterAttempt::Conversation,
                (
                    1,
                    Some(t0 + 30),
                    None,
                    None,
                    Some(a),
                    None,
                    "open".into(),
                    None,
                ),
            ),
        ];
        for (result, callback_at, after, expected) in kinds {
            let lease = queue::lease_next(&t.db, &scope(&t.db, sc, a, t0).await)
                .await
                .unwrap()
                .unwrap();
            let case = lease.case_id;
            let (state_before,): (String,) = {
                let mut tx = t.db.read().await.unwrap();
                tx.fetch_one("SELECT state FROM cases WHERE id = $1", args![case])
                    .await
                    .unwrap()
            };
            let start = AuditEvent::anonymous("agent.a", AuditAction::CallAttempt, "test")
                .record("case", case)
                .fields("Versuch {}, Nummer: phone");
            let started =
                |agent, at| queue::start_attempt_audited(&t.db, case, agent, "phone", at, &start);
            assert_eq!(
                started(b, t0).await.unwrap(),
                None,
                "{backend:?}: not b's lease"
            );
            let id = started(a, t0).await.unwrap().unwrap();
            assert_eq!(
                started(a, t0 + 5).await.unwrap(),
                Some(id),
                "{backend:?}: a reload continues the open attempt"
            );
            let expires = || async {
                let mut tx = t.db.read().await.unwrap();
                let (at,): (i64,) = tx
                    .fetch_one(
                        "SELECT lease_expires_at FROM cases WHERE id = $1",
                        args![case],
                    )
                    .await
                    .unwrap();
                at
            };
            assert_eq!(
                expires().await,
                t0 + LEASE_SECONDS,
                "{backend:?}: within its first minute the lease is left as it is"
            );
            assert_eq!(started(a, t0 + 61).await.unwrap(), Some(id));
            assert_eq!(
                expires().await,
                t0 + 61 + LEASE_SECONDS,
                "{backend:?}: renewed"
            );

            let event = AuditEvent::anonymous("agent.a", AuditAction::CallResult, "test")
                .record("case", case)
                .fields(&format!("Ergebnis: {result}"))
                .purpose("Aktion „Test“");
            let finished = |agent_id| Finished {
                attempt_id: id,
                agent_id,
                result,
                callback_at,
                after,
                now: t0 + 30,
            };
            assert!(
                !queue::finish_attempt_audited(&t.db, finished(b), &event)
                    .await
                    .unwrap(),
                "{backend:?}: not b's attempt"
            );
            assert!(
                queue::finish_attempt_audited(&t.db, finished(a), &event)
                    .await
                    .unwrap(),
                "{backend:?}: {result}"
            );
            let mut tx = t.db.read().await.unwrap();
            let mut row: CaseRow = tx
                .fetch_one(
                    "SELECT attempts_count, due_at, callback_at, callback_user_id, leased_to,
                            final_disposition, state, closed_at
                     FROM cases WHERE id = $1",
                    args![case],
                )
                .await
                .unwrap();
            if row.6 == state_before {
                row.6 = "open".into();
            }
            assert_eq!(row, expected, "{backend:?}: {result}");
            let attempts = queue::attempts(&mut tx, case).await.unwrap();
            assert_eq!(attempts.len(), 1, "{backend:?}");
            assert_eq!(
                (
                    attempts[0].result.as_deref(),
                    attempts[0].ended_at,
                    attempts[0].callback_at
                ),
                (Some(result), Some(t0 + 30), callback_at),
                "{backend:?}"
            );
            let events: Vec<(String, String, String)> = tx
                .fetch_all(
                    "SELECT action, fields, purpose FROM audit_events
                     WHERE record_type = 'case' AND record_id = $1 AND action IN ('call_attempt', 'call_result')
                     ORDER BY action, fields",
                    args![case.to_string()],
                )
                .await
                .unwrap();
            let attempt = (
                "call_attempt".to_string(),
                format!("Versuch {id}, Nummer: phone"),
                String::new(),
            );
            assert_eq!(
                events,
                vec![
                    attempt.clone(),
                    attempt.clone(),
                    attempt,
                    (
                        "call_result".into(),
                        format!("Ergebnis: {result}"),
                        "Aktion „Test“".into()
                    )
                ],
                "{backend:?}: {result}"
            );
            tx.commit().await.unwrap();
            // The next case for the next kind (the conversation keeps its lease).
            if after == AfterAttempt::Conversation {
                break;
            }
        }
    }
}
