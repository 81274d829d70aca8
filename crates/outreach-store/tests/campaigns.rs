#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Campaigns on both databases: selection (status, contact age, the under-25
//! rule, customers missing from the export), activation into cases, gating
//! with its reasons, letter batches and objections.

use jiff::civil::{Date, date};
use outreach_core::access::{Home, Role};
use outreach_core::calls::CallingWindow;
use outreach_core::campaign::{CampaignSettings, CampaignState, Hold, Selection};
use outreach_core::customer::Field;
use outreach_core::customer::FieldGroup;
use outreach_core::mandate::{MandateState, NewMandate};
use outreach_store::campaign::{self, Campaign};
use outreach_store::customer;
use outreach_store::letters::{self, NewLetter};
use outreach_store::org::{self, NewJobCenter};
use outreach_store::testing::stored_record;
use outreach_store::testing::{TestDb, backends};
use outreach_store::{Db, args, mandate, user};

const NOW: i64 = 1_790_000_000;
const TODAY: Date = date(2026, 3, 2);

struct World {
    jc: i64,
    mandate: i64,
    admin: i64,
}

/// Customers of job center A (and one of B), each a case for one rule.
/// Today is 02.03.2026: 8 weeks back is 05.01.2026, 4 weeks back 02.02.2026,
/// under 25 means born after 02.03.2001.
async fn world(db: &Db) -> World {
    let mut tx = db.begin().await.unwrap();
    let jc = org::create_job_center(
        &mut tx,
        &NewJobCenter {
            code: "A".into(),
            name: "Jobcenter A".into(),
            ..NewJobCenter::default()
        },
        NOW,
    )
    .await
    .unwrap();
    let other = org::create_job_center(
        &mut tx,
        &NewJobCenter {
            code: "B".into(),
            name: "Jobcenter B".into(),
            ..NewJobCenter::default()
        },
        NOW,
    )
    .await
    .unwrap();
    let sc = org::create_service_center(&mut tx, "X", "SC X", "Hamburg", "", NOW)
        .await
        .unwrap();
    for (jc, number, status, birth, contact, postcode) in [
        (
            jc,
            "old-contact",
            "unemployed",
            "1980-01-01",
            Some("2025-12-01"),
            "46045",
        ),
        (
            jc,
            "never-contacted",
            "unemployed",
            "1980-01-01",
            None,
            "46047",
        ),
        (
            jc,
            "recent-contact",
            "unemployed",
            "1980-01-01",
            Some("2026-02-01"),
            "46045",
        ),
        (
            jc,
            "young-4-weeks",
            "unemployed",
            "2003-05-05",
            Some("2026-01-20"),
            "46045",
        ),
        (
            jc,
            "young-recent",
            "unemployed",
            "2003-05-05",
            Some("2026-02-20"),
            "46045",
        ),
        (
            jc,
            "job-seeking",
            "job_seeking",
            "1980-01-01",
            None,
            "46045",
        ),
        (jc, "missing", "unemployed", "1980-01-01", None, "46045"),
        (other, "other-jc", "unemployed", "1980-01-01", None, "46045"),
    ] {
        let name = format!("Name {number}");
        let mut values = vec![
            (Field::CustomerNumber, number),
            (Field::LastName, name.as_str()),
            (Field::BirthDate, birth),
            (Field::Status, status),
            (Field::Postcode, postcode),
        ];
        if let Some(contact) = contact {
            values.push((Field::LastContact, contact));
        }
        let c = stored_record(&values);
        customer::insert(&mut tx, jc, &c, NOW).await.unwrap();
    }
    tx.execute(
        "UPDATE customers SET in_latest_export = FALSE WHERE customer_number = 'missing'",
        vec![],
    )
    .await
    .unwrap();
    let m = NewMandate {
        service_center_id: sc,
        title: "Auftrag".into(),
        allowed_fields: FieldGroup::default_for_mandate(),
        period_start: date(2026, 1, 1),
        period_end: date(2026, 12, 31),
        deletion_deadline: date(2027, 3, 31),
        authority_notified_on: Some(date(2025, 12, 1)),
        window: CallingWindow::default(),
    };
    let admin = user::create(
        &mut tx,
        &user::NewUser {
            username: "jcadmin".into(),
            display_name: "JC Admin".into(),
            role: Role::JobcenterAdmin,
            home: Home::JobCenter(jc),
            pap_code: None,
            password_hash: "x".into(),
        },
        NOW,
    )
    .await
    .unwrap();
    let mandate = mandate::create(&mut tx, jc, &m, admin, NOW).await.unwrap();
    mandate::set_state(
        &mut tx,
        outreach_store::RecordScope::Operator,
        mandate,
        MandateState::Draft,
        MandateState::Active,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    World { jc, mandate, admin }
}

fn settings(selection: Selection) -> CampaignSettings {
    CampaignSettings {
        name: "Frühjahr".into(),
        selection,
        guide_ref: "standard".into(),
        guide_id: None,
        window: CallingWindow::default(),
        attempts_per_day: 1,
        attempts_total: 6,
        lead_days: 7,
        period_start: date(2026, 3, 10),
        period_end: date(2026, 4, 30),
    }
}

async fn count(db: &Db, jc: i64, selection: &Selection) -> i64 {
    let mut tx = db.begin_read().await.unwrap();
    campaign::preview_count(&mut tx, jc, selection, TODAY)
        .await
        .unwrap()
}

async fn load(db: &Db, id: i64) -> Campaign {
    let mut tx = db.begin_read().await.unwrap();
    campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
        .await
        .unwrap()
        .unwrap()
}

async fn case_numbers(db: &Db, c: &Campaign) -> Vec<String> {
    let mut tx = db.begin_read().await.unwrap();
    campaign::cases(&mut tx, c, "", 100, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.customer_number)
        .collect()
}

#[tokio::test]
async fn selection_follows_status_contact_age_and_the_under_25_rule() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        // Default: unemployed, 8 weeks (4 under 25), present in the export.
        let default = Selection::default();
        assert_eq!(count(&t.db, w.jc, &default).await, 3, "{backend:?}");
        let mut with_job_seekers = default.clone();
        with_job_seekers.statuses.push("job_seeking".into());
        assert_eq!(count(&t.db, w.jc, &with_job_seekers).await, 4);
        let mut one_postcode = default.clone();
        one_postcode.postcodes = vec!["46047".into()];
        assert_eq!(count(&t.db, w.jc, &one_postcode).await, 1);
        let mut short = default.clone();
        short.contact_weeks = 2;
        short.contact_weeks_under_25 = 1;
        // recent-contact (01.02.) and young-recent (20.02.) now qualify too.
        assert_eq!(count(&t.db, w.jc, &short).await, 5);

        let mut tx = t.db.begin().await.unwrap();
        let id = campaign::create(&mut tx, w.jc, w.mandate, &settings(default), w.admin, NOW)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let c = load(&t.db, id).await;
        assert_eq!(c.state(), CampaignState::Draft);
        let mut tx = t.db.begin().await.unwrap();
        assert_eq!(
            campaign::activate(&mut tx, &c, TODAY, NOW).await.unwrap(),
            Some(3)
        );
        assert_eq!(
            campaign::activate(&mut tx, &c, TODAY, NOW).await.unwrap(),
            None
        );
        tx.commit().await.unwrap();
        let c = load(&t.db, id).await;
        assert_eq!(
            case_numbers(&t.db, &c).await,
            ["never-contacted", "old-contact", "young-4-weeks"],
            "{backend:?}"
        );
        assert!(!c.code_secret.is_empty());
        // A customer with an open case in a running campaign is not selected again.
        assert_eq!(count(&t.db, w.jc, &Selection::default()).await, 0);
    }
}

#[tokio::test]
async fn cases_say_why_they_cannot_be_called_until_letter_and_lead_time() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        let mut tx = t.db.begin().await.unwrap();
        let id = campaign::create(
            &mut tx,
            w.jc,
            w.mandate,
            &settings(Selection::default()),
            w.admin,
            NOW,
        )
        .await
        .unwrap();
        let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap()
            .unwrap();
        campaign::activate(&mut tx, &c, TODAY, NOW).await.unwrap();
        tx.commit().await.unwrap();
        let c = load(&t.db, id).await;
        let counts = |c: Campaign, today: Date| {
            let db = t.db.clone();
            async move {
                let mut tx = db.begin_read().await.unwrap();
                campaign::callable_counts(&mut tx, &c, today).await.unwrap()
            }
        };
        let first = counts(c.clone(), TODAY).await;
        assert_eq!(first.callable, 0);
        assert_eq!(first.held, vec![(Hold::LetterMissing, 3)], "{backend:?}");

        // Letters for two of the three cases, then the batch sent on 02.03.
        let mut tx = t.db.begin().await.unwrap();
        let pending = letters::pending_advance(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap();
        assert_eq!(pending.len(), 3);
        let new: Vec<NewLetter> = pending[..2]
            .iter()
            .map(|r| NewLetter {
                case_id: r.case_id,
                customer_id: r.customer_id,
                content_hash: format!("hash-{}", r.case_id),
            })
            .collect();
        let batch = letters::create_batch(&mut tx, id, TODAY, "v1", &new, None, NOW)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let generated = counts(c.clone(), TODAY).await;
        assert_eq!(
            generated.held,
            vec![(Hold::LetterMissing, 1), (Hold::LetterNotSent, 2)],
            "{backend:?}"
        );
        let mut tx = t.db.begin().await.unwrap();
        assert_eq!(
            letters::batch_advance(&mut tx, outreach_store::RecordScope::Operator, batch)
                .await
                .unwrap()
                .len(),
            2
        );
        assert!(
            letters::mark_sent(
                &mut tx,
                outreach_store::RecordScope::Operator,
                batch,
                TODAY,
                None
            )
            .await
            .unwrap()
        );
        assert!(
            !letters::mark_sent(
                &mut tx,
                outreach_store::RecordScope::Operator,
                batch,
                TODAY,
                None
            )
            .await
            .unwrap()
        );
        tx.commit().await.unwrap();
        // Sent 02.03., lead time 7 days: waiting through 08.03.
        let sent = counts(c.clone(), TODAY).await;
        assert_eq!(
            sent.held,
            vec![
                (Hold::LetterMissing, 1),
                (Hold::LeadTime(date(2026, 3, 8)), 2)
            ],
            "{backend:?}"
        );
        assert_eq!(sent.held[1].0.label(), "Wartefrist bis 08.03.2026");
        // 09.03.: the lead time is over but the period starts on 10.03.
        let before = counts(c.clone(), date(2026, 3, 9)).await;
        assert_eq!(before.held[1], (Hold::BeforePeriod(date(2026, 3, 10)), 2));
        let callable = counts(c.clone(), date(2026, 3, 10)).await;
        assert_eq!(callable.callable, 2, "{backend:?}");

        // Paused: nobody is callable.
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            campaign::set_state(
                &mut tx,
                outreach_store::RecordScope::Operator,
                id,
                CampaignState::Active,
                CampaignState::Paused
            )
            .await
            .unwrap()
        );
        tx.commit().await.unwrap();
        let paused = counts(load(&t.db, id).await, date(2026, 3, 10)).await;
        assert_eq!(paused.callable, 0);
        assert_eq!(paused.held, vec![(Hold::CampaignPaused, 3)]);

        // The batch's letters come back in batch order with their data.
        let mut tx = t.db.begin_read().await.unwrap();
        let rows = letters::batch_advance(&mut tx, outreach_store::RecordScope::Operator, batch)
            .await
            .unwrap();
        assert_eq!(
            rows.iter().map(|r| r.case_id).collect::<Vec<_>>(),
            new.iter().map(|l| l.case_id).collect::<Vec<_>>()
        );
        assert_eq!(rows[0].jc_name, "Jobcenter A");
    }
}

#[tokio::test]
async fn an_objection_closes_the_case_at_once() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        let mut tx = t.db.begin().await.unwrap();
        let id = campaign::create(
            &mut tx,
            w.jc,
            w.mandate,
            &settings(Selection::default()),
            w.admin,
            NOW,
        )
        .await
        .unwrap();
        let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap()
            .unwrap();
        campaign::activate(&mut tx, &c, TODAY, NOW).await.unwrap();
        tx.commit().await.unwrap();
        let c = load(&t.db, id).await;
        let mut tx = t.db.begin().await.unwrap();
        let cases = campaign::cases(&mut tx, &c, "old-contact", 10, 0)
            .await
            .unwrap();
        assert_eq!(cases.len(), 1);
        let case = cases[0].id;
        assert!(
            campaign::record_objection(
                &mut tx,
                outreach_store::RecordScope::Operator,
                case,
                TODAY,
                w.admin,
                0
            )
            .await
            .unwrap()
        );
        assert!(
            !campaign::record_objection(
                &mut tx,
                outreach_store::RecordScope::Operator,
                case,
                TODAY,
                w.admin,
                0
            )
            .await
            .unwrap()
        );
        tx.commit().await.unwrap();
        let mut tx = t.db.begin_read().await.unwrap();
        let k = campaign::case_by_id(&mut tx, &c, case)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(k.final_label(), Some("Widerspruch vor Anruf"));
        assert_eq!(k.hold(&c, date(2026, 3, 20)), Some(Hold::Final));
        let (candidate,): (bool,) = tx
            .fetch_one(
                "SELECT invitation_candidate FROM cases WHERE id = $1",
                args![case],
            )
            .await
            .unwrap();
        assert!(candidate, "{backend:?}");
        // No letter is produced for a closed case.
        let pending = letters::pending_advance(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap();
        assert_eq!(pending.len(), 2);
        assert!(pending.iter().all(|r| r.case_id != case));
        let counts = campaign::callable_counts(&mut tx, &c, TODAY).await.unwrap();
        assert!(counts.held.contains(&(Hold::Final, 1)));
    }
}

#[tokio::test]
async fn a_pending_batch_takes_every_open_case_in_postal_order_once() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        let mut tx = t.db.begin().await.unwrap();
        let id = campaign::create(
            &mut tx,
            w.jc,
            w.mandate,
            &settings(Selection::default()),
            w.admin,
            NOW,
        )
        .await
        .unwrap();
        let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap()
            .unwrap();
        campaign::activate(&mut tx, &c, TODAY, NOW).await.unwrap();
        let pending = letters::pending_advance(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap();
        assert_eq!(
            letters::pending_count(&mut tx, outreach_store::RecordScope::Operator, id)
                .await
                .unwrap(),
            pending.len() as i64
        );
        let (batch, count) = letters::create_pending_batch(
            &mut tx,
            outreach_store::RecordScope::Operator,
            id,
            TODAY,
            "v1",
            Some(w.admin),
            NOW,
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(count, pending.len() as i64, "{backend:?}");
        let hashes: Vec<(i64, String)> = (0..count).map(|p| (p, format!("h{p}"))).collect();
        letters::set_hashes(&mut tx, batch, &hashes).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = t.db.begin_read().await.unwrap();
        let rows = letters::batch_advance(&mut tx, outreach_store::RecordScope::Operator, batch)
            .await
            .unwrap();
        // Same cases, same (postal) order as the pending list, hashes by position.
        assert_eq!(
            rows.iter().map(|r| r.case_id).collect::<Vec<_>>(),
            pending.iter().map(|r| r.case_id).collect::<Vec<_>>(),
            "{backend:?}"
        );
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.position, i as i64);
            assert_eq!(row.recorded_hash, format!("h{i}"));
        }
        let tail = letters::batch_advance_range(
            &mut tx,
            outreach_store::RecordScope::Operator,
            batch,
            1,
            2,
        )
        .await
        .unwrap();
        assert_eq!(tail.len(), 1);
        assert_eq!(tail[0].case_id, rows[1].case_id);
        let numbers =
            letters::batch_customer_numbers(&mut tx, outreach_store::RecordScope::Operator, batch)
                .await
                .unwrap();
        assert_eq!(
            numbers,
            rows.iter()
                .map(|r| r.customer.customer_number.to_string())
                .collect::<Vec<_>>()
        );
        let b = letters::batch_by_id(&mut tx, outreach_store::RecordScope::Operator, batch)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(b.letter_count, count);
        tx.commit().await.unwrap();

        // Nothing is left: no second batch, and no empty batch recorded.
        let mut tx = t.db.begin().await.unwrap();
        assert_eq!(
            letters::pending_count(&mut tx, outreach_store::RecordScope::Operator, id)
                .await
                .unwrap(),
            0
        );
        assert!(
            letters::create_pending_batch(
                &mut tx,
                outreach_store::RecordScope::Operator,
                id,
                TODAY,
                "v1",
                None,
                NOW
            )
            .await
            .unwrap()
            .is_none()
        );
        assert_eq!(
            letters::batches(&mut tx, outreach_store::RecordScope::Operator, id)
                .await
                .unwrap()
                .len(),
            1
        );
        tx.commit().await.unwrap();
    }
}
