#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Storage tests: each body runs against SQLite and PostgreSQL.

use jiff::civil::date;
use outreach_core::access::{Actor, CustomerScope, Home, Role};
use outreach_core::audit::{AuditAction, BreakReason};
use outreach_core::customer::Field;
use outreach_core::customer::FieldGroup;
use outreach_core::mandate::{MandateState, NewMandate};
use outreach_store::audit::{self, AuditEvent, AuditFilter};
use outreach_store::customer;
use outreach_store::org::{self, NewJobCenter};
use outreach_store::testing::stored_record;
use outreach_store::testing::{TestDb, backends, tamper_with_audit};
use outreach_store::{Backend, Db, args, mandate, session, user};

const NOW: i64 = 1_790_000_000;

struct World {
    jc_a: i64,
    jc_b: i64,
    sc_x: i64,
    sc_y: i64,
    mandate: i64,
}

async fn world(db: &Db) -> World {
    let mut tx = db.begin().await.unwrap();
    let jc = |code: &str| NewJobCenter {
        code: code.into(),
        name: format!("Jobcenter {code}"),
        ..NewJobCenter::default()
    };
    let jc_a = org::create_job_center(&mut tx, &jc("A"), NOW)
        .await
        .unwrap();
    let jc_b = org::create_job_center(&mut tx, &jc("B"), NOW)
        .await
        .unwrap();
    let sc_x = org::create_service_center(&mut tx, "X", "SC X", "Hamburg", "", NOW)
        .await
        .unwrap();
    let sc_y = org::create_service_center(&mut tx, "Y", "SC Y", "Offenburg", "", NOW)
        .await
        .unwrap();
    for (jc, prefix) in [(jc_a, "A"), (jc_b, "B")] {
        for i in 0..3 {
            let (number, name) = (format!("{prefix}{i:04}"), format!("Name{i}"));
            let birth = "1980-01-0".to_string() + &(i + 1).to_string();
            let c = stored_record(&[
                (Field::CustomerNumber, &number),
                (Field::LastName, &name),
                (Field::BirthDate, &birth),
                (Field::Status, "unemployed"),
                (Field::PapCode, if i == 0 { "PAP1" } else { "PAP2" }),
            ]);
            customer::insert(&mut tx, jc, &c, NOW).await.unwrap();
        }
    }
    let m = NewMandate {
        service_center_id: sc_x,
        title: "Test".into(),
        allowed_fields: FieldGroup::default_for_mandate(),
        period_start: date(2026, 1, 1),
        period_end: date(2026, 12, 31),
        deletion_deadline: date(2027, 3, 31),
        authority_notified_on: Some(date(2025, 12, 1)),
        window: outreach_core::calls::CallingWindow::default(),
    };
    let admin = user::create(
        &mut tx,
        &user::NewUser {
            username: "jcadmin".into(),
            display_name: "JC Admin".into(),
            role: Role::JobcenterAdmin,
            home: Home::JobCenter(jc_a),
            pap_code: None,
            password_hash: "x".into(),
        },
        NOW,
    )
    .await
    .unwrap();
    let mandate = mandate::create(&mut tx, jc_a, &m, admin, NOW)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    World {
        jc_a,
        jc_b,
        sc_x,
        sc_y,
        mandate,
    }
}

async fn numbers(db: &Db, scope: &CustomerScope, today: &str) -> Vec<String> {
    let mut tx = db.begin_read().await.unwrap();
    customer::list(
        &mut tx,
        scope,
        today,
        &customer::CustomerFilter::default(),
        100,
        0,
    )
    .await
    .unwrap()
    .into_iter()
    .map(|c| c.customer_number)
    .collect()
}

#[tokio::test]
async fn customer_queries_stay_inside_the_scope() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        let today = "2026-06-01";
        let a = CustomerScope::JobCenter {
            job_center_id: w.jc_a,
        };
        assert_eq!(
            numbers(&t.db, &a, today).await,
            ["A0000", "A0001", "A0002"],
            "{backend:?}"
        );
        let pap = CustomerScope::CaseManager {
            job_center_id: w.jc_a,
            pap_code: "PAP2".into(),
        };
        assert_eq!(
            numbers(&t.db, &pap, today).await,
            ["A0001", "A0002"],
            "{backend:?}"
        );

        // Draft mandate: the service center sees nothing.
        let x = CustomerScope::ServiceCenter {
            service_center_id: w.sc_x,
        };
        assert!(numbers(&t.db, &x, today).await.is_empty(), "{backend:?}");

        let mut tx = t.db.begin().await.unwrap();
        assert!(
            mandate::set_state(
                &mut tx,
                outreach_store::RecordScope::Operator,
                w.mandate,
                MandateState::Draft,
                MandateState::Active
            )
            .await
            .unwrap()
        );
        tx.commit().await.unwrap();
        assert_eq!(numbers(&t.db, &x, today).await.len(), 3, "{backend:?}");
        // Outside the mandate's period, and for another service center: nothing.
        assert!(
            numbers(&t.db, &x, "2027-01-01").await.is_empty(),
            "{backend:?}"
        );
        let y = CustomerScope::ServiceCenter {
            service_center_id: w.sc_y,
        };
        assert!(numbers(&t.db, &y, today).await.is_empty(), "{backend:?}");

        // A customer of another job center is "not found", not forbidden.
        let mut tx = t.db.begin_read().await.unwrap();
        let (b_id,): (i64,) = tx
            .fetch_one(
                "SELECT id FROM customers WHERE job_center_id = $1 LIMIT 1",
                args![w.jc_b],
            )
            .await
            .unwrap();
        assert_eq!(customer::get(&mut tx, &a, today, b_id).await.unwrap(), None);
        let b = CustomerScope::JobCenter {
            job_center_id: w.jc_b,
        };
        assert!(
            customer::get(&mut tx, &b, today, b_id)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            customer::count(&mut tx, &b, today, &customer::CustomerFilter::number("B00"))
                .await
                .unwrap(),
            3
        );
        assert_eq!(
            customer::count(&mut tx, &b, today, &customer::CustomerFilter::number("A"))
                .await
                .unwrap(),
            0
        );
    }
}

#[tokio::test]
async fn restricted_customers_are_seen_by_the_job_center_admin_only() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        let mut tx = t.db.begin().await.unwrap();
        tx.execute(
            "UPDATE customers SET restricted = TRUE WHERE customer_number = 'A0001'",
            vec![],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let admin = CustomerScope::JobCenter {
            job_center_id: w.jc_a,
        };
        let pap = CustomerScope::CaseManager {
            job_center_id: w.jc_a,
            pap_code: "PAP2".into(),
        };
        assert_eq!(numbers(&t.db, &admin, "2026-06-01").await.len(), 3);
        assert_eq!(
            numbers(&t.db, &pap, "2026-06-01").await,
            ["A0002"],
            "{backend:?}"
        );
    }
}

fn actor() -> Actor {
    Actor {
        user_id: 1,
        username: "anna".into(),
        role: Role::Dpo,
        home: Home::Global,
        pap_code: None,
    }
}

#[tokio::test]
async fn audit_chain_detects_an_edited_row() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        for i in 0..5 {
            let event = AuditEvent::by(&actor(), AuditAction::CustomerRead, "127.0.0.1")
                .record("customer", i)
                .fields("Name")
                .purpose("Test");
            audit::append(&mut tx, &event, NOW + i).await.unwrap();
        }
        tx.commit().await.unwrap();

        let mut tx = t.db.begin_read().await.unwrap();
        let ok = audit::verify(&mut tx).await.unwrap();
        assert_eq!((ok.checked, ok.broken), (5, None), "{backend:?}");
        drop(tx);

        // Through the application the event can't be changed ...
        let mut tx = t.db.begin().await.unwrap();
        let refused = tx
            .execute(
                "UPDATE audit_events SET username = 'mallory' WHERE seq = 3",
                vec![],
            )
            .await;
        assert!(refused.is_err(), "{backend:?}: an audit event was changed");
        drop(tx);
        // ... but someone with database access can; the check finds it.
        tamper_with_audit(
            &t.db,
            "UPDATE audit_events SET username = 'mallory' WHERE seq = 3",
        )
        .await
        .unwrap();
        let mut tx = t.db.begin_read().await.unwrap();
        let broken = audit::verify(&mut tx).await.unwrap().broken.unwrap();
        assert_eq!(
            (broken.seq, broken.reason),
            (3, BreakReason::ContentChanged),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn audit_chain_detects_a_removed_tail() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        for i in 0..3 {
            let event = AuditEvent::anonymous("x", AuditAction::LoginFailure, "c");
            audit::append(&mut tx, &event, NOW + i).await.unwrap();
        }
        tx.commit().await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let refused = tx
            .execute("DELETE FROM audit_events WHERE seq = 3", vec![])
            .await;
        assert!(refused.is_err(), "{backend:?}: an audit event was deleted");
        drop(tx);
        tamper_with_audit(&t.db, "DELETE FROM audit_events WHERE seq = 3")
            .await
            .unwrap();
        let mut tx = t.db.begin_read().await.unwrap();
        let broken = audit::verify(&mut tx).await.unwrap().broken;
        assert_eq!(broken.map(|b| b.seq), Some(3), "{backend:?}");
    }
}

#[tokio::test]
async fn concurrent_appends_keep_one_unbroken_chain() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let mut handles = Vec::new();
        for worker in 0..8 {
            let db = t.db.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..10 {
                    let mut tx = db.begin().await.unwrap();
                    let event = AuditEvent::anonymous(
                        &format!("w{worker}"),
                        AuditAction::LoginFailure,
                        "c",
                    )
                    .record("n", i);
                    audit::append(&mut tx, &event, NOW).await.unwrap();
                    tx.commit().await.unwrap();
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        // A reader of the log seals what is not sealed yet (on PostgreSQL a
        // commit leaves its events to a sealer already at work).
        audit::seal(&t.db).await.unwrap();
        let mut tx = t.db.begin_read().await.unwrap();
        let v = audit::verify(&mut tx).await.unwrap();
        assert_eq!((v.checked, v.broken), (80, None), "{backend:?}");
        let filter = AuditFilter {
            username: Some("w3".into()),
            ..AuditFilter::default()
        };
        assert_eq!(
            audit::list(&mut tx, &filter, 100, 0).await.unwrap().len(),
            10
        );
    }
}

/// Page views are audited on their own (`append_alone`), many at once. Each
/// is stored once, with its own content, when its call returns, and all are
/// sealed into one chain.
#[tokio::test]
async fn views_audited_at_once_are_each_stored_once() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let mut handles = Vec::new();
        for worker in 0..40 {
            let db = t.db.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..5 {
                    let event = AuditEvent::anonymous(
                        &format!("v{worker}"),
                        AuditAction::CustomerRead,
                        "c",
                    )
                    .record("case", worker * 100 + i)
                    .fields(&format!("Ansicht {i}"));
                    audit::append_alone(&db, &event, NOW + i).await.unwrap();
                    // Stored once the call returns.
                    let mut tx = db.read().await.unwrap();
                    let (n,): (i64,) = tx
                        .fetch_one(
                            "SELECT COUNT(*) FROM audit_events WHERE username = $1 AND record_id = $2
                               AND fields = $3 AND at = $4",
                            args![
                                format!("v{worker}"),
                                (worker * 100 + i).to_string(),
                                format!("Ansicht {i}"),
                                NOW + i
                            ],
                        )
                        .await
                        .unwrap();
                    assert_eq!(n, 1, "view {worker}/{i}");
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        audit::seal(&t.db).await.unwrap();
        let mut tx = t.db.begin_read().await.unwrap();
        let v = audit::verify(&mut tx).await.unwrap();
        assert_eq!((v.checked, v.broken), (200, None), "{backend:?}");
    }
}

/// PostgreSQL appends events without their place in the chain and seals
/// them afterwards (the server's sealing task; here called directly). Until
/// then an event can't be changed or removed either, and sealing gives every
/// committed event exactly one place, in the order they were appended.
#[tokio::test]
async fn events_appended_unsealed_are_sealed_into_one_chain() {
    for backend in backends().await {
        if backend != Backend::Postgres {
            continue;
        }
        let t = TestDb::new(backend).await.unwrap();
        t.db.leave_sealing_to_task();
        let mut handles = Vec::new();
        for worker in 0..16 {
            let db = t.db.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..25 {
                    let mut tx = db.begin().await.unwrap();
                    let event = AuditEvent::anonymous(
                        &format!("w{worker}"),
                        AuditAction::LoginFailure,
                        "c",
                    )
                    .record("n", i);
                    audit::append(&mut tx, &event, NOW + i).await.unwrap();
                    // One in five is rolled back: its event never was.
                    if i % 5 == 4 {
                        tx.rollback().await.unwrap();
                    } else {
                        tx.commit().await.unwrap();
                    }
                    if i == 10 && worker == 0 {
                        // A sealer running among the appenders.
                        audit::seal(&db).await.unwrap();
                    }
                }
            }));
        }
        let mut tx = t.db.begin().await.unwrap();
        for h in handles {
            h.await.unwrap();
        }
        let (unsealed,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM audit_events WHERE seq IS NULL",
                vec![],
            )
            .await
            .unwrap();
        assert!(unsealed > 0, "every event was sealed at once");
        let refused = tx
            .execute(
                "UPDATE audit_events SET username = 'mallory' WHERE seq IS NULL",
                vec![],
            )
            .await;
        assert!(refused.is_err(), "an unsealed event was changed");
        drop(tx);
        let mut tx = t.db.begin().await.unwrap();
        let refused = tx
            .execute("DELETE FROM audit_events WHERE seq IS NULL", vec![])
            .await;
        assert!(refused.is_err(), "an unsealed event was deleted");
        drop(tx);
        let sealed = audit::seal(&t.db).await.unwrap();
        assert_eq!(sealed, unsealed as u64);
        let mut tx = t.db.begin_read().await.unwrap();
        let v = audit::verify(&mut tx).await.unwrap();
        assert_eq!((v.checked, v.broken), (16 * 20, None));
        let (places, first, last): (i64, i64, i64) = tx
            .fetch_one(
                "SELECT COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM audit_events",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!((places, first, last), (320, 1, 320));
        // Each worker's events keep their order in the chain.
        let order: Vec<(String, String)> = tx
            .fetch_all(
                "SELECT username, record_id FROM audit_events ORDER BY seq",
                vec![],
            )
            .await
            .unwrap();
        for worker in 0..16 {
            let name = format!("w{worker}");
            let mine: Vec<i64> = order
                .iter()
                .filter(|(u, _)| *u == name)
                .map(|(_, r)| r.parse().unwrap())
                .collect();
            let mut sorted = mine.clone();
            sorted.sort_unstable();
            assert_eq!(mine, sorted, "{name}");
            assert_eq!(mine.len(), 20, "{name}");
        }
        // Nothing left to seal; a sealed event can't be sealed again.
        assert_eq!(audit::seal(&t.db).await.unwrap(), 0);
        let mut tx = t.db.begin().await.unwrap();
        let refused = tx
            .execute(
                "UPDATE audit_events SET seq = seq + 1000, hash = 'x' WHERE seq = 5",
                vec![],
            )
            .await;
        assert!(refused.is_err(), "a sealed event was sealed again");
    }
}

#[tokio::test]
async fn sessions_and_lockout_state() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        let mut tx = t.db.begin().await.unwrap();
        let u = user::by_username(&mut tx, "jcadmin")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(u.actor().unwrap().home, Home::JobCenter(w.jc_a));
        let s = session::create(&mut tx, u.id, "127.0.0.1", NOW)
            .await
            .unwrap();
        let found = session::find(&mut tx, &s.token).await.unwrap().unwrap();
        assert_eq!(found.user_id, u.id);
        assert_ne!(found.id_hash, s.token, "the raw token is never stored");
        assert!(session::find(&mut tx, "nope").await.unwrap().is_none());
        // Five checks per window of 15 minutes from the first; the fifth
        // shows the account as locked until the window ends.
        let mut places = Vec::new();
        for i in 0..6 {
            let check = user::take_login_check(&mut tx, u.id, NOW + i, 900, 5)
                .await
                .unwrap();
            places.push(check.map(|c| (c.place, c.window_ends)));
        }
        assert_eq!(
            places,
            [1, 2, 3, 4, 5]
                .map(|p| Some((p, NOW + 900)))
                .into_iter()
                .chain([None])
                .collect::<Vec<_>>(),
            "{backend:?}"
        );
        let u2 = user::by_id(&mut tx, u.id).await.unwrap().unwrap();
        assert_eq!(u2.locked_until, Some(NOW + 900));
        // A new window after the lock; a success clears only its own place.
        let first = user::take_login_check(&mut tx, u.id, NOW + 900, 900, 5)
            .await
            .unwrap()
            .unwrap();
        let second = user::take_login_check(&mut tx, u.id, NOW + 901, 900, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((first.place, second.place), (1, 2));
        user::clear_login_checks(&mut tx, u.id, first)
            .await
            .unwrap();
        let third = user::take_login_check(&mut tx, u.id, NOW + 902, 900, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(third.place, 3, "{backend:?}: a check came after the first");
        user::clear_login_checks(&mut tx, u.id, third)
            .await
            .unwrap();
        let fresh = user::take_login_check(&mut tx, u.id, NOW + 903, 900, 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(fresh.place, 1, "{backend:?}");
        assert_eq!(
            session::delete_for_user(&mut tx, u.id, None).await.unwrap(),
            1
        );
        let dup = user::create(
            &mut tx,
            &user::NewUser {
                username: "jcadmin".into(),
                display_name: "Doppelt".into(),
                role: Role::Admin,
                home: Home::Global,
                pap_code: None,
                password_hash: "y".into(),
            },
            NOW,
        )
        .await;
        assert!(
            matches!(dup, Err(outreach_store::StoreError::UniqueViolation)),
            "{backend:?}"
        );
        let _ = w.sc_y;
        assert_eq!(t.db.backend(), backend);
    }
}

#[test]
fn migration_folders_hold_the_same_file_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |backend: &str| {
        let mut names: Vec<String> = std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
}

/// Connections go back to this process's own pool without sqlx's tests (a
/// round trip each); one whose transaction was dropped, or whose statement
/// was cut off, still comes back clean: the dropped write is gone, its locks
/// are let go, and the next reads see their own results.
#[tokio::test]
async fn connections_come_back_clean() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let jc = {
            let mut tx = t.db.begin().await.unwrap();
            let id = org::create_job_center(
                &mut tx,
                &NewJobCenter {
                    code: "S".into(),
                    name: "Jobcenter S".into(),
                    ..NewJobCenter::default()
                },
                NOW,
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            id
        };
        let name = |db: Db| async move {
            let mut tx = db.read().await.unwrap();
            let (name,): (String,) = tx
                .fetch_one("SELECT name FROM job_centers WHERE id = $1", args![jc])
                .await
                .unwrap();
            tx.commit().await.unwrap();
            name
        };
        // A write dropped half-way, holding the row's lock.
        let mut dropped = t.db.begin().await.unwrap();
        dropped
            .execute(
                "UPDATE job_centers SET name = 'abgebrochen' WHERE id = $1",
                args![jc],
            )
            .await
            .unwrap();
        dropped
            .execute(
                "INSERT INTO job_centers (code, name, created_at) VALUES ('abgebrochen', 'x', 0)",
                args![],
            )
            .await
            .unwrap();
        drop(dropped);
        let next = async {
            let mut tx = t.db.begin().await.unwrap();
            tx.execute(
                "UPDATE job_centers SET name = 'danach' WHERE id = $1",
                args![jc],
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        };
        tokio::time::timeout(std::time::Duration::from_secs(5), next)
            .await
            .unwrap_or_else(|_| panic!("{backend:?}: the dropped write still holds its lock"));
        assert_eq!(name(t.db.clone()).await, "danach", "{backend:?}");
        let mut tx = t.db.read().await.unwrap();
        let (left,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM job_centers WHERE code = 'abgebrochen'",
                args![],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(left, 0, "{backend:?}: the dropped write left a row");

        // A long read cut off after 50 ms; the reads after it get their own rows.
        let long = match backend {
            Backend::Postgres => {
                "SELECT CAST(COUNT(*) AS BIGINT) FROM generate_series(1, 200000000)"
            }
            Backend::Sqlite => {
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000000)
                 SELECT COUNT(*) FROM n"
            }
        };
        let cut = async {
            let mut tx = t.db.read().await.unwrap();
            tx.fetch_one::<(i64,)>(long, args![]).await
        };
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), cut)
                .await
                .is_err(),
            "{backend:?}: the long read was not cut off"
        );
        // Not behind the cut-off statement (it runs for many seconds).
        for _ in 0..5 {
            let read = tokio::time::timeout(std::time::Duration::from_secs(5), name(t.db.clone()));
            let found = read
                .await
                .unwrap_or_else(|_| panic!("{backend:?}: a read waited behind the cut-off one"));
            assert_eq!(found, "danach", "{backend:?}");
        }
    }
}

/// `outreach serve` warns when PostgreSQL's autovacuum is off: the store
/// reads the server's own setting (never off on SQLite, which has none).
#[tokio::test]
async fn autovacuum_off_is_read_from_the_server() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let expected = match backend {
            Backend::Sqlite => false,
            Backend::Postgres => {
                let mut tx = t.db.read().await.unwrap();
                let (on,): (bool,) = tx
                    .fetch_one(
                        "SELECT setting = 'on' FROM pg_settings WHERE name = 'autovacuum'",
                        args![],
                    )
                    .await
                    .unwrap();
                !on
            }
        };
        assert_eq!(
            t.db.autovacuum_off().await.unwrap(),
            expected,
            "{backend:?}"
        );
    }
}
