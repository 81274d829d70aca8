#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Data protection operations on both databases: deletion on schedule (dry
//! run, what goes and what stays, figures kept), audit retention with the
//! chain's anchor, the log's protection, restriction, disputed values,
//! everything about a person (Art. 15), and SQLite backup and restore.

use jiff::civil::date;
use outreach_core::access::CustomerScope;
use outreach_core::audit::{AuditAction, BreakReason};
use outreach_core::date::berlin_day_start;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::calls::{self, QueueScope};
use outreach_store::report::{self, ReportScope};
use outreach_store::results::{self, InboxFilter};
use outreach_store::retention::{self, Policy, PurgeRun};
use outreach_store::testing::{TestDb, backends, demo_results, queue_campaign, tamper_with_audit};
use outreach_store::{Backend, Db, args, backup, campaign, subject};

fn run(dry_run: bool, audit_months: i32) -> PurgeRun {
    PurgeRun {
        policy: Policy { audit_months },
        dry_run,
        confirm_audit_retention: false,
        event: AuditEvent::anonymous("test", AuditAction::Purge, "test"),
        record_empty: true,
    }
}

/// Sets the deletion deadline of every mandate to `day` (what is due is
/// decided by the database's clock, so the tests move the data, not time).
async fn deadline(db: &Db, day: jiff::civil::Date) {
    let mut tx = db.begin().await.unwrap();
    tx.execute(
        "UPDATE mandates SET deletion_deadline = $1",
        args![day.to_string()],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn count(db: &Db, sql: &'static str, campaign: i64) -> i64 {
    let mut tx = db.read().await.unwrap();
    let (n,): (i64,) = tx.fetch_one(sql, args![campaign]).await.unwrap();
    n
}

/// A campaign of 10 cases; 4 called for pAp P1's customers: 3 results (an
/// update, a confirmation, a refusal) and one not reached. Two results were
/// handed over 40 days before `handed_over`; one was not.
async fn called_campaign(db: &Db, handed_over: i64) -> (i64, i64) {
    let setup = queue_campaign(db, 10, 1, "x").await.unwrap();
    let mut tx = db.begin().await.unwrap();
    tx.execute("UPDATE customers SET pap_code = 'P1'", vec![])
        .await
        .unwrap();
    let (agent,): (i64,) = tx
        .fetch_one("SELECT id FROM users WHERE username = 'agent0'", vec![])
        .await
        .unwrap();
    let at = berlin_day_start(date(2027, 1, 20));
    let closed = demo_results(&mut tx, setup.campaign_id, agent, "P1", at)
        .await
        .unwrap();
    assert_eq!(closed, 4);
    let results: Vec<(i64,)> = tx
        .fetch_all("SELECT case_id FROM results ORDER BY case_id", vec![])
        .await
        .unwrap();
    assert_eq!(results.len(), 3);
    for (case_id,) in &results[..2] {
        tx.execute(
            "INSERT INTO case_reviews (case_id, handed_over_at) VALUES ($1, $2)",
            args![*case_id, handed_over - 40 * 86_400],
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    (setup.campaign_id, agent)
}

const CASES: &str = "SELECT COUNT(*) FROM cases WHERE campaign_id = $1";
const ATTEMPTS: &str =
    "SELECT COUNT(*) FROM attempts a JOIN cases k ON k.id = a.case_id WHERE k.campaign_id = $1";
const RESULTS: &str =
    "SELECT COUNT(*) FROM results r JOIN cases k ON k.id = r.case_id WHERE k.campaign_id = $1";

#[tokio::test]
async fn deletion_on_schedule_removes_processor_data_and_keeps_the_figures() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let now = retention::database_now(&t.db).await.unwrap();
        let today = outreach_core::date::berlin_date(now);
        let (campaign, _) = called_campaign(&t.db, now).await;
        let scope = ReportScope {
            campaign_id: None,
            job_center_id: Some(1),
            service_center_id: None,
        };
        let mut tx = t.db.read().await.unwrap();
        let before = report::figures(&mut tx, scope).await.unwrap();
        drop(tx);
        assert_eq!(before.completed, 2, "{backend:?}");

        // On the deadline's day nothing goes (the mandate's deadline, by
        // the fixture 31.03.2028, is far ahead of the database's clock).
        let early = retention::purge(&t.db, run(false, 120)).await.unwrap();
        assert_eq!(early.total(), 0, "{backend:?}: {early:?}");
        deadline(&t.db, today).await;
        let early = retention::purge(&t.db, run(false, 120)).await.unwrap();
        assert_eq!(early.total(), 0, "{backend:?}: {early:?}");
        assert!((early.now - now).abs() < 60, "the database's clock");

        // The day after, the dry run counts exactly what the run then
        // deletes, and deletes nothing.
        deadline(&t.db, today.yesterday().unwrap()).await;
        let dry = retention::purge(&t.db, run(true, 120)).await.unwrap();
        assert_eq!(count(&t.db, CASES, campaign).await, 10, "{backend:?}");
        assert_eq!(count(&t.db, ATTEMPTS, campaign).await, 4, "{backend:?}");
        assert_eq!(
            (
                dry.campaigns,
                dry.attempts,
                dry.results,
                dry.results_kept,
                dry.cases
            ),
            (1, 4, 2, 1, 9),
            "{backend:?}: {dry:?}"
        );
        let done = retention::purge(&t.db, run(false, 120)).await.unwrap();
        assert_eq!(
            (
                done.attempts,
                done.results,
                done.cases,
                done.statistics_kept
            ),
            (dry.attempts, dry.results, dry.cases, 1),
            "{backend:?}"
        );
        assert_eq!(count(&t.db, ATTEMPTS, campaign).await, 0, "{backend:?}");
        assert_eq!(count(&t.db, RESULTS, campaign).await, 1, "{backend:?}");
        assert_eq!(count(&t.db, CASES, campaign).await, 1, "{backend:?}");
        assert_eq!(
            count(
                &t.db,
                "SELECT COUNT(*) FROM conversations WHERE case_id IN (SELECT id FROM cases WHERE campaign_id = $1)",
                campaign
            )
            .await,
            0,
            "{backend:?}"
        );

        // Reports still work: the same figures, now from the kept aggregate.
        let mut tx = t.db.read().await.unwrap();
        let after_figures = report::figures(&mut tx, scope).await.unwrap();
        assert_eq!(after_figures, before, "{backend:?}");
        // Deleting is audited.
        let events = audit::list(
            &mut tx,
            &audit::AuditFilter {
                action: Some(AuditAction::Purge),
                ..Default::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
        assert_eq!(
            events.len(),
            4,
            "{backend:?}: two early runs, the dry and the real run: {events:?}"
        );
        assert!(
            events[0].fields.contains("Anrufversuche: 4"),
            "{:?}",
            events[0]
        );
        drop(tx);

        // A second run finds nothing more (the kept result waits for its handover).
        let again = retention::purge(&t.db, run(false, 120)).await.unwrap();
        assert_eq!((again.total(), again.results_kept), (0, 1), "{backend:?}");
        if backend == Backend::Sqlite {
            let mut tx = t.db.read().await.unwrap();
            let (secure,): (i64,) = tx.fetch_one("PRAGMA secure_delete", vec![]).await.unwrap();
            assert_eq!(secure, 1, "freed pages must be overwritten");
        }
    }
}

#[tokio::test]
async fn normal_audit_retention_needs_no_confirmation_and_the_clocks_are_compared() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let now = retention::database_now(&t.db).await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let e = AuditEvent::anonymous("alt", AuditAction::LoginFailure, "c");
        audit::append(&mut tx, &e, now - 400 * 86_400)
            .await
            .unwrap();
        for i in 0..10 {
            let e = AuditEvent::anonymous("neu", AuditAction::LoginFailure, "c");
            audit::append(&mut tx, &e, now - 86_400 + i).await.unwrap();
        }
        tx.commit().await.unwrap();
        // One of eleven is less than a tenth: removed at once.
        let report = retention::purge(&t.db, run(false, 12)).await.unwrap();
        assert_eq!(
            (report.audit_events, report.audit_held),
            (1, None),
            "{backend:?}"
        );

        // The application's clock is compared with the database's.
        let within = retention::check_clocks(&t.db, now + 200).await.unwrap();
        assert!(within.is_ok(), "{backend:?}: {within:?}");
        let moved = retention::check_clocks(&t.db, now + 73 * 365 * 86_400)
            .await
            .unwrap()
            .unwrap_err();
        assert!(moved.to_string().contains("höchstens 5 Minuten"), "{moved}");
        let behind = retention::check_clocks(&t.db, now - 600).await.unwrap();
        assert!(behind.is_err(), "{backend:?}");
    }
}

#[tokio::test]
async fn audit_retention_moves_the_anchor_and_the_chain_still_verifies() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let now = retention::database_now(&t.db).await.unwrap();
        let old = now - 400 * 86_400;
        let recent = now - 10 * 86_400;
        let mut tx = t.db.begin().await.unwrap();
        for i in 0..3 {
            let e = AuditEvent::anonymous("alt", AuditAction::LoginFailure, "c");
            audit::append(&mut tx, &e, old + i).await.unwrap();
        }
        for i in 0..2 {
            let e = AuditEvent::anonymous("neu", AuditAction::LoginFailure, "c");
            audit::append(&mut tx, &e, recent + i).await.unwrap();
        }
        tx.commit().await.unwrap();
        // Three of five events are more than a tenth of the log: held, and
        // the DPO is told; nothing is removed.
        let held = retention::purge(&t.db, run(false, 12)).await.unwrap();
        assert_eq!(
            (held.audit_events, held.audit_held),
            (0, Some((3, 5))),
            "{backend:?}"
        );
        let mut tx = t.db.read().await.unwrap();
        let state = audit::retention_state(&mut tx).await.unwrap();
        assert_eq!(
            (state.held_events, state.held_of, state.removed_total),
            (Some(3), Some(5), 0),
            "{backend:?}"
        );
        let warning = state.held_warning().unwrap();
        assert!(warning.contains("3 Ereignisse von 5"), "{warning}");
        let v = audit::verify(&mut tx).await.unwrap();
        assert_eq!((v.checked, v.broken), (6, None), "{backend:?}");
        drop(tx);
        // The hold is in the purge's own event.
        assert!(
            count(
                &t.db,
                "SELECT COUNT(*) FROM audit_events WHERE fields LIKE '%Protokolllöschung angehalten: 3 von 5%' AND seq > $1",
                0
            )
            .await
                == 1,
            "{backend:?}"
        );

        // Confirmed, the run removes them and the hold goes.
        let confirmed = PurgeRun {
            confirm_audit_retention: true,
            ..run(false, 12)
        };
        let report = retention::purge(&t.db, confirmed).await.unwrap();
        assert_eq!(
            (report.audit_events, report.audit_held),
            (3, None),
            "{backend:?}"
        );
        let mut tx = t.db.read().await.unwrap();
        let v = audit::verify(&mut tx).await.unwrap();
        // The two recent events and the two purges' own events remain.
        assert_eq!((v.checked, v.broken), (4, None), "{backend:?}");
        assert_eq!(
            (
                v.retention.removed_total,
                v.retention.last_removed,
                v.retention.held_at
            ),
            (3, 3, None),
            "{backend:?}"
        );
        assert!(
            v.retention
                .removed_sentence()
                .contains("bisher 3 Ereignisse gelöscht, zuletzt 3 Ereignisse am"),
            "{}",
            v.retention.removed_sentence()
        );
        drop(tx);

        // The application can't delete younger events, nor move the anchor back.
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            tx.execute("DELETE FROM audit_events WHERE seq = 4", vec![])
                .await
                .is_err(),
            "{backend:?}"
        );
        drop(tx);
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            tx.execute("UPDATE audit_retention SET through_seq = 0", vec![])
                .await
                .is_err(),
            "{backend:?}"
        );
        drop(tx);

        // Removing the oldest remaining event behind the application's back
        // is found: the chain no longer starts at the anchor.
        tamper_with_audit(&t.db, "DELETE FROM audit_events WHERE seq = 4")
            .await
            .unwrap();
        let mut tx = t.db.read().await.unwrap();
        let broken = audit::verify(&mut tx).await.unwrap().broken.unwrap();
        assert_eq!(
            (broken.seq, broken.reason),
            (5, BreakReason::Gap),
            "{backend:?}"
        );
        drop(tx);
        // The daily check records the verdict for the DPO's banner.
        let v = audit::check_and_record(&t.db, recent, audit::CheckScope::Full)
            .await
            .unwrap();
        assert!(v.broken.is_some());
        let mut tx = t.db.read().await.unwrap();
        let last = audit::latest_check(&mut tx).await.unwrap().unwrap();
        assert_eq!(last.broken_seq, Some(5), "{backend:?}");
    }
}

async fn scope_for(db: &Db, sc: i64, agent: i64, now: i64) -> QueueScope {
    let mut tx = db.read().await.unwrap();
    let running =
        campaign::running_for_service_center(&mut tx, sc, outreach_core::date::berlin_date(now))
            .await
            .unwrap();
    QueueScope::new(agent, now, &running)
}

#[tokio::test]
async fn a_restricted_person_leaves_every_queue_and_the_case_managers_inbox() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let setup = queue_campaign(&t.db, 1, 1, "x").await.unwrap();
        let now = outreach_store::testing::QUEUE_CLOCK
            .parse::<jiff::Timestamp>()
            .unwrap()
            .as_second();
        let mut tx = t.db.begin().await.unwrap();
        let (agent,): (i64,) = tx
            .fetch_one("SELECT id FROM users WHERE username = 'agent0'", vec![])
            .await
            .unwrap();
        let (customer,): (i64,) = tx
            .fetch_one("SELECT id FROM customers", vec![])
            .await
            .unwrap();
        tx.commit().await.unwrap();

        // Leased, then restricted: the lease ends and the queue is empty.
        let scope = scope_for(&t.db, setup.service_center_id, agent, now).await;
        let lease = calls::lease_next(&t.db, &scope).await.unwrap().unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let ended = subject::set_restricted(&mut tx, customer, true, "Antrag", agent, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(ended, 1, "{backend:?}");
        let mut tx = t.db.read().await.unwrap();
        assert!(
            calls::case_for_agent(&mut tx, lease.case_id, agent, now)
                .await
                .unwrap()
                .is_none(),
            "{backend:?}: the agent still sees the restricted person's case"
        );
        drop(tx);
        let scope = scope_for(&t.db, setup.service_center_id, agent, now).await;
        assert_eq!(
            calls::lease_next(&t.db, &scope).await.unwrap(),
            None,
            "{backend:?}"
        );

        // Lifted: callable again.
        let mut tx = t.db.begin().await.unwrap();
        subject::set_restricted(&mut tx, customer, false, "", agent, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(
            calls::lease_next(&t.db, &scope).await.unwrap().is_some(),
            "{backend:?}"
        );

        // The case manager's inbox: the person's final case is there, gone
        // while the processing is restricted (the administration and the
        // DPO still see it), and back when it is lifted.
        let mut tx = t.db.begin().await.unwrap();
        let (jc,): (i64,) = tx
            .fetch_one(
                "SELECT job_center_id FROM customers WHERE id = $1",
                args![customer],
            )
            .await
            .unwrap();
        tx.execute(
            "UPDATE customers SET pap_code = 'P1' WHERE id = $1",
            args![customer],
        )
        .await
        .unwrap();
        tx.execute(
            "UPDATE cases SET state = 'final', final_disposition = 'refused', closed_at = $2,
                 leased_to = NULL, lease_expires_at = NULL WHERE customer_id = $1",
            args![customer, now],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let pap = CustomerScope::CaseManager {
            job_center_id: jc,
            pap_code: "P1".into(),
        };
        let admin = CustomerScope::JobCenter { job_center_id: jc };
        let inbox = |scope: CustomerScope| {
            let db = t.db.clone();
            async move {
                let mut tx = db.read().await.unwrap();
                results::list(&mut tx, &scope, &InboxFilter::default(), 10, 0)
                    .await
                    .unwrap()
                    .len()
            }
        };
        assert_eq!(inbox(pap.clone()).await, 1, "{backend:?}: the final case");
        let mut tx = t.db.begin().await.unwrap();
        subject::set_restricted(&mut tx, customer, true, "Antrag", agent, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            inbox(pap.clone()).await,
            0,
            "{backend:?}: still in the pAp's inbox"
        );
        assert_eq!(
            inbox(admin.clone()).await,
            1,
            "{backend:?}: the administration"
        );
        let mut tx = t.db.begin().await.unwrap();
        subject::set_restricted(&mut tx, customer, false, "", agent, now)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(inbox(pap).await, 1, "{backend:?}: back after lifting");
    }
}

#[tokio::test]
async fn everything_about_a_person_and_their_disputed_values() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, agent) = called_campaign(&t.db, berlin_day_start(date(2027, 3, 1))).await;
        let mut tx = t.db.begin().await.unwrap();
        let (customer, number, case_id): (i64, String, i64) = tx
            .fetch_one(
                "SELECT c.id, c.customer_number, k.id FROM customers c JOIN cases k ON k.customer_id = c.id
                 JOIN results r ON r.case_id = k.id WHERE r.outcome = 'updated'",
                vec![],
            )
            .await
            .unwrap();
        let read =
            AuditEvent::anonymous("pap", AuditAction::ResultRead, "c").record("case", case_id);
        audit::append(&mut tx, &read, 5).await.unwrap();
        let other =
            AuditEvent::anonymous("pap", AuditAction::ResultRead, "c").record("case", case_id + 1);
        audit::append(&mut tx, &other, 6).await.unwrap();
        subject::mark_disputed(&mut tx, customer, "phone", "Nummer nie gehabt", agent, 7)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let mut tx = t.db.read().await.unwrap();
        let found = subject::find(&mut tx, Some(1), &number).await.unwrap();
        assert_eq!(found.len(), 1, "{backend:?}");
        assert!(
            subject::find(&mut tx, Some(999), &number)
                .await
                .unwrap()
                .is_empty()
        );
        // Another job center's DPO gets nothing.
        assert!(
            subject::disclosure(&mut tx, Some(999), customer)
                .await
                .unwrap()
                .is_none()
        );
        let d = subject::disclosure(&mut tx, Some(1), customer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.customer.record.customer_number.as_str(), number);
        assert_eq!(
            (d.cases.len(), d.attempts.len(), d.results.len()),
            (1, 1, 1),
            "{backend:?}"
        );
        assert!(d.results[0].changes.contains("+491701234567"));
        assert_eq!(d.disputes.len(), 1);
        assert_eq!(d.disputes[0].field, "phone");
        // The audit events about this person, not those about another case.
        assert!(
            d.audit_events
                .iter()
                .any(|e| e.record_id == case_id.to_string()),
            "{backend:?}"
        );
        assert!(
            !d.audit_events
                .iter()
                .any(|e| e.record_id == (case_id + 1).to_string()),
            "{backend:?}"
        );
        let filter = audit::AuditFilter {
            person: Some(customer),
            ..Default::default()
        };
        let by_person = audit::list(&mut tx, &filter, 100, 0).await.unwrap();
        assert_eq!(by_person.len(), d.audit_events.len(), "{backend:?}");
        drop(tx);

        // Restricted: the pAp no longer sees the result; the administration does.
        let mut tx = t.db.begin().await.unwrap();
        subject::set_restricted(&mut tx, customer, true, "Antrag", agent, 8)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = t.db.read().await.unwrap();
        let pap = CustomerScope::CaseManager {
            job_center_id: 1,
            pap_code: "P1".into(),
        };
        let admin = CustomerScope::JobCenter { job_center_id: 1 };
        let filter = InboxFilter::default();
        assert_eq!(
            results::count(&mut tx, &pap, &filter).await.unwrap(),
            3,
            "{backend:?}"
        );
        assert_eq!(
            results::count(&mut tx, &admin, &filter).await.unwrap(),
            4,
            "{backend:?}"
        );
        let mut tx2 = t.db.begin().await.unwrap();
        assert_eq!(
            subject::clear_dispute(&mut tx2, customer, "phone")
                .await
                .unwrap(),
            1
        );
        tx2.commit().await.unwrap();
        assert!(
            subject::disputes(&mut tx, customer)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_backup_restores_the_same_data_and_a_bad_file_is_refused() {
    let t = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = std::env::temp_dir().join(format!(
        "outreach-backup-{}",
        outreach_store::random_token(6)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (campaign, _) = called_campaign(&t.db, 0).await;
    let file = dir.join("sicherung.db");
    let summary = backup::backup(&t.db, &file).await.unwrap();
    assert_eq!(summary.customers, 10);
    // A second backup to the same file is refused.
    assert!(matches!(
        backup::backup(&t.db, &file).await,
        Err(backup::BackupError::Exists(_))
    ));
    // Change the live database after the backup.
    let mut tx = t.db.begin().await.unwrap();
    tx.execute("UPDATE customers SET last_name = 'Geändert'", vec![])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let path = std::path::PathBuf::from(t.url.trim_start_matches("sqlite://"));
    t.db.close().await;

    // Garbage is refused and the database stays as it is.
    let garbage = dir.join("kaputt.db");
    std::fs::write(&garbage, b"keine Datenbank").unwrap();
    assert!(backup::restore(&garbage, &path).await.is_err());
    let db = Db::open(&t.url).await.unwrap();
    let mut tx = db.read().await.unwrap();
    let (changed,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM customers WHERE last_name = 'Geändert'",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(changed, 10);
    drop(tx);
    db.close().await;

    let restored = backup::restore(&file, &path).await.unwrap();
    assert_eq!(restored, summary);
    let db = Db::open(&t.url).await.unwrap();
    let mut tx = db.read().await.unwrap();
    let (changed,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM customers WHERE last_name = 'Geändert'",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(changed, 0, "the restored database holds the backup's data");
    let (cases,): (i64,) = tx.fetch_one(CASES, args![campaign]).await.unwrap();
    assert_eq!(cases, 10);
    let v = audit::verify(&mut tx).await.unwrap();
    assert_eq!(v.broken, None);
    drop(tx);
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn postgres_is_backed_up_with_its_own_tools() {
    for backend in backends().await {
        if backend != Backend::Postgres {
            continue;
        }
        let t = TestDb::new(backend).await.unwrap();
        let target = std::env::temp_dir().join("nie-geschrieben.db");
        let err = backup::backup(&t.db, &target).await.unwrap_err();
        assert!(err.to_string().contains("pg_dump"), "{err}");
        assert!(!target.exists());
    }
}
