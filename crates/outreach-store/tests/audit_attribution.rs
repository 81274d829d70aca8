#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Whose data an audit event is about (migration 0026), on both databases:
//! events written before the migration are attributed by it, new ones as
//! they are appended (PostgreSQL: as they are sealed into the chain); the attribution outlives the case and cannot be
//! changed; the chain's hashes stay as they were.

use outreach_core::access::{Actor, Home, Role};
use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, AuditEvent, AuditFilter, StoredEvent};
use outreach_store::retention::{self, Policy, PurgeRun};
use outreach_store::testing::{TestDb, backends, queue_campaign};
use outreach_store::{Db, args};

const NOW: i64 = 1_790_000_000;
/// The last migration before the attribution.
const BEFORE: i64 = 25;

fn agent(service_center: i64) -> Actor {
    Actor {
        user_id: 1,
        username: "agent.hamburg".into(),
        role: Role::Agent,
        home: Home::ServiceCenter(service_center),
        pap_code: None,
    }
}

fn admin(job_center: i64) -> Actor {
    Actor {
        user_id: 2,
        username: "admin.oberhausen".into(),
        role: Role::JobcenterAdmin,
        home: Home::JobCenter(job_center),
        pap_code: None,
    }
}

/// The campaign's first case: its id, its customer's id and number, and the
/// campaign's job center.
async fn first_case(db: &Db, campaign: i64) -> (i64, i64, String, i64) {
    let mut tx = db.read().await.unwrap();
    tx.fetch_one(
        "SELECT k.id, c.id, c.customer_number, c.job_center_id FROM cases k
         JOIN customers c ON c.id = k.customer_id WHERE k.campaign_id = $1 ORDER BY k.id LIMIT 1",
        args![campaign],
    )
    .await
    .unwrap()
}

/// Appends `events`; `seal`: and seals them (PostgreSQL), which needs the
/// current migrations (it attributes them).
async fn append(db: &Db, events: &[AuditEvent], seal: bool) {
    let mut tx = db.begin().await.unwrap();
    for (i, event) in events.iter().enumerate() {
        audit::append(&mut tx, event, NOW + i as i64).await.unwrap();
    }
    tx.commit().await.unwrap();
    if seal {
        audit::seal(db).await.unwrap();
    }
}

async fn list(db: &Db, filter: AuditFilter) -> Vec<StoredEvent> {
    let mut tx = db.read().await.unwrap();
    audit::list(&mut tx, &filter, 100, 0).await.unwrap()
}

fn actions(events: &[StoredEvent]) -> Vec<&str> {
    let mut actions: Vec<&str> = events.iter().map(|e| e.action.as_str()).collect();
    actions.sort_unstable();
    actions
}

#[tokio::test]
async fn events_about_a_job_centers_data_are_its_dpos_before_and_after_the_migration() {
    for backend in backends().await {
        let t = TestDb::migrated_through(backend, BEFORE).await.unwrap();
        let setup = queue_campaign(&t.db, 3, 0, "x").await.unwrap();
        let sc = setup.service_center_id;
        let (case, customer, number, jc) = first_case(&t.db, setup.campaign_id).await;
        // Before the migration: the agent's lease and read of a case, an
        // objection recorded on the customer by id (as the campaign's case
        // page did), the customer's page read by number, and a login.
        let by_agent = |action| AuditEvent::by(&agent(sc), action, "10.0.0.1");
        let by_admin = |action| AuditEvent::by(&admin(jc), action, "10.0.0.2");
        append(
            &t.db,
            &[
                by_agent(AuditAction::CaseLease).record("case", case),
                by_agent(AuditAction::CustomerRead)
                    .record("case", case)
                    .purpose("Aktion „Test“"),
                by_admin(AuditAction::ObjectionRecord).record("customer", customer),
                by_admin(AuditAction::CustomerRead).record("customer", &number),
                by_agent(AuditAction::LoginSuccess),
            ],
            false,
        )
        .await;
        // SQLite chains each event as it is appended; PostgreSQL seals them
        // after the migration (this build's sealing attributes them).
        let before: Vec<(i64, String)> = {
            let mut tx = t.db.read().await.unwrap();
            tx.fetch_all(
                "SELECT seq, hash FROM audit_events WHERE seq IS NOT NULL ORDER BY seq",
                vec![],
            )
            .await
            .unwrap()
        };
        let chained_at_once = backend == outreach_store::Backend::Sqlite;
        assert_eq!(
            before.len(),
            if chained_at_once { 5 } else { 0 },
            "{backend:?}"
        );

        t.db.migrate().await.unwrap();
        // After it: an attempt and a result.
        append(
            &t.db,
            &[
                by_agent(AuditAction::CallAttempt).record("case", case),
                by_agent(AuditAction::CallResult).record("case", case),
            ],
            true,
        )
        .await;

        let jc_filter = AuditFilter {
            job_center_id: Some(jc),
            ..AuditFilter::default()
        };
        let expected = [
            "call_attempt",
            "call_result",
            "case_lease",
            "customer_read",
            "customer_read",
            "objection_record",
        ];
        let seen = list(&t.db, jc_filter.clone()).await;
        assert_eq!(
            actions(&seen),
            expected,
            "{backend:?}: the job center's DPO"
        );
        assert!(
            seen.iter().all(|e| e.about_job_center_id == Some(jc)),
            "{backend:?}"
        );
        let agents = list(
            &t.db,
            AuditFilter {
                username: Some("agent.hamburg".into()),
                ..jc_filter.clone()
            },
        )
        .await;
        assert_eq!(
            actions(&agents),
            ["call_attempt", "call_result", "case_lease", "customer_read"],
            "{backend:?}: by user"
        );
        let person = AuditFilter {
            person: Some(customer),
            ..jc_filter.clone()
        };
        assert_eq!(
            actions(&list(&t.db, person.clone()).await),
            expected,
            "{backend:?}: by person"
        );
        let other = AuditFilter {
            job_center_id: Some(jc + 1000),
            ..AuditFilter::default()
        };
        assert!(list(&t.db, other).await.is_empty(), "{backend:?}");

        // The hashes did not change: the chain still checks, and the events
        // from before are stored as they were.
        let mut tx = t.db.read().await.unwrap();
        let verified = audit::verify(&mut tx).await.unwrap();
        assert_eq!(
            (verified.checked, verified.broken),
            (7, None),
            "{backend:?}"
        );
        drop(tx);
        let after = list(&t.db, AuditFilter::default()).await;
        for (seq, hash) in &before {
            let now = after.iter().find(|e| e.seq == *seq).unwrap();
            assert_eq!(&now.hash, hash, "{backend:?}");
        }

        // The case goes (its retention ends months before the events'):
        // its events stay the job center's and the person's.
        let mut tx = t.db.begin().await.unwrap();
        tx.execute("DELETE FROM cases WHERE id = $1", args![case])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            actions(&list(&t.db, person).await),
            expected,
            "{backend:?}: after the case is gone"
        );
        assert_eq!(list(&t.db, jc_filter).await.len(), 6, "{backend:?}");

        // Nobody moves an event out of the DPO's sight.
        for statement in [
            "DELETE FROM audit_attribution",
            "UPDATE audit_attribution SET job_center_id = NULL",
        ] {
            let mut tx = t.db.begin().await.unwrap();
            let refused = tx.execute(statement, vec![]).await;
            assert!(refused.is_err(), "{backend:?}: {statement}");
        }
    }
}

/// PostgreSQL attributes an event when it seals it into the chain, after
/// the request that appended it; an event about a case that the deletion run
/// deletes before the event is sealed still stays the job center's and the
/// person's. SQLite attributes each event as it is appended.
#[tokio::test]
async fn an_event_not_yet_sealed_stays_attributed_when_the_deletion_run_takes_its_case() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let setup = queue_campaign(&t.db, 3, 0, "x").await.unwrap();
        let (case, customer, _, jc) = first_case(&t.db, setup.campaign_id).await;
        // As in `outreach serve`: a commit leaves the sealing to a task
        // (which this test doesn't run), so the event stays unsealed.
        t.db.leave_sealing_to_task();
        let mut tx = t.db.begin().await.unwrap();
        let event = AuditEvent::by(
            &agent(setup.service_center_id),
            AuditAction::CallResult,
            "10.0.0.1",
        )
        .record("case", case);
        audit::append(&mut tx, &event, NOW).await.unwrap();
        tx.commit().await.unwrap();

        let now = retention::database_now(&t.db).await.unwrap();
        let yesterday = outreach_core::date::berlin_date(now).yesterday().unwrap();
        let mut tx = t.db.begin().await.unwrap();
        tx.execute(
            "UPDATE mandates SET deletion_deadline = $1",
            args![yesterday.to_string()],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let run = PurgeRun {
            policy: Policy { audit_months: 120 },
            dry_run: false,
            confirm_audit_retention: false,
            event: AuditEvent::anonymous("test", AuditAction::Purge, "test"),
            record_empty: true,
        };
        let report = retention::purge(&t.db, run).await.unwrap();
        assert!(report.total() > 0, "{backend:?}: {report:?}");
        let mut tx = t.db.read().await.unwrap();
        let (cases,): (i64,) = tx
            .fetch_one("SELECT COUNT(*) FROM cases WHERE id = $1", args![case])
            .await
            .unwrap();
        assert_eq!(cases, 0, "{backend:?}: the case is gone");
        drop(tx);

        audit::seal(&t.db).await.unwrap();
        let about_person = list(
            &t.db,
            AuditFilter {
                job_center_id: Some(jc),
                person: Some(customer),
                ..AuditFilter::default()
            },
        )
        .await;
        assert_eq!(actions(&about_person), ["call_result"], "{backend:?}");
    }
}
