//! The daily check of the audit chain on SQLite and PostgreSQL: it covers
//! the events since the last intact check (its cost follows the day's
//! events), a change after that point is found at once, and a change
//! before it by the full check, which the daily check runs when the last
//! one is a week old — so a change anywhere is found within a week.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, AuditEvent, CheckScope, FULL_CHECK_SECONDS};
use outreach_store::testing::{TestDb, backends, tamper_with_audit};

const DAY: i64 = 86_400;
const START: i64 = 1_790_000_000;

async fn append(db: &outreach_store::Db, n: usize, now: i64) {
    for i in 0..n {
        let event = AuditEvent::anonymous("test", AuditAction::LoginFailure, "192.0.2.1")
            .record("user", format!("t{i}"));
        audit::append_alone(db, &event, now).await.unwrap();
    }
}

#[tokio::test]
async fn the_daily_check_covers_the_new_events_and_the_weekly_one_everything() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let db = &t.db;
        append(db, 30, START).await;
        // No check yet: the first is a full one.
        let first = audit::check_and_record(db, START, CheckScope::Due)
            .await
            .unwrap();
        assert!(first.full, "{backend:?}");
        assert!(first.broken.is_none());
        assert_eq!(first.checked, 30);

        // The next day: only the day's events.
        append(db, 7, START + DAY).await;
        let daily = audit::check_and_record(db, START + DAY, CheckScope::Due)
            .await
            .unwrap();
        assert!(!daily.full, "{backend:?}");
        assert_eq!(daily.checked, 7, "{backend:?}");
        assert!(daily.broken.is_none());
        // The DPO's pages read which kind of check it was.
        let mut tx = db.begin_read().await.unwrap();
        let recorded = audit::latest_check(&mut tx).await.unwrap().unwrap();
        drop(tx);
        assert_eq!((recorded.events_checked, recorded.full_check), (7, false));

        // A change among the new events is found by the next daily check.
        append(db, 5, START + 2 * DAY).await;
        tamper_with_audit(
            db,
            "UPDATE audit_events SET client = '10.0.0.66' WHERE seq = 40",
        )
        .await
        .unwrap();
        let found = audit::check_and_record(db, START + 2 * DAY, CheckScope::Due)
            .await
            .unwrap();
        assert_eq!(found.broken.map(|b| b.seq), Some(40), "{backend:?}");
        // Still reported the day after: a broken check is no starting point.
        let again = audit::check_and_record(db, START + 3 * DAY, CheckScope::Due)
            .await
            .unwrap();
        assert_eq!(again.broken.map(|b| b.seq), Some(40), "{backend:?}");
    }
}

#[tokio::test]
async fn a_change_before_the_last_check_is_found_within_a_week() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let db = &t.db;
        append(db, 20, START).await;
        audit::check_and_record(db, START, CheckScope::Due)
            .await
            .unwrap();
        tamper_with_audit(
            db,
            "UPDATE audit_events SET client = '10.0.0.66' WHERE seq = 3",
        )
        .await
        .unwrap();
        // The daily checks go on from the last one and don't see it …
        for day in 1..7 {
            append(db, 2, START + day * DAY).await;
            let daily = audit::check_and_record(db, START + day * DAY, CheckScope::Due)
                .await
                .unwrap();
            assert!(
                !daily.full && daily.broken.is_none(),
                "{backend:?} day {day}"
            );
        }
        // … the one a week after the full check does.
        let weekly = audit::check_and_record(db, START + FULL_CHECK_SECONDS, CheckScope::Due)
            .await
            .unwrap();
        assert!(weekly.full, "{backend:?}");
        assert_eq!(weekly.broken.map(|b| b.seq), Some(3), "{backend:?}");
        // And the full check on demand finds it at any time.
        let asked = audit::check_and_record(db, START + DAY, CheckScope::Full)
            .await
            .unwrap();
        assert_eq!(asked.broken.map(|b| b.seq), Some(3), "{backend:?}");
    }
}
