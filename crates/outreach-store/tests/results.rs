#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Results to the case manager on both databases: each pAp sees exactly
//! their own customers' final cases, nothing of another job center; filters
//! by flag, campaign and unread; acknowledging, disputed values kept with
//! their flag, reassignment; the export holds each change exactly once and
//! marks the cases handed over.

use jiff::civil::date;
use outreach_core::access::{CustomerScope, Home, Role};
use outreach_core::customer::Field as StoredField;
use outreach_core::guide::Field;
use outreach_core::guide::session::{Change, EndOfUnemployment, Flags, Move};
use outreach_core::results::{ExportRecord, InboxFlag, export_csv, flag_codes};
use outreach_store::conversation::{self, NewResult};
use outreach_store::results::{self, InboxFilter};
use outreach_store::testing::{TestDb, backends, letter_campaign, letter_customer};
use outreach_store::{Db, Tx, args, campaign, user};

const PAP1: &str = "PAP001";
const PAP2: &str = "PAP002";

fn pap(code: &str, jc: i64) -> CustomerScope {
    CustomerScope::CaseManager {
        job_center_id: jc,
        pap_code: code.into(),
    }
}

async fn case_of(tx: &mut Tx, number: &str) -> i64 {
    let (id,): (i64,) = tx
        .fetch_one(
            "SELECT k.id FROM cases k JOIN customers c ON c.id = k.customer_id WHERE c.customer_number = $1",
            args![number],
        )
        .await
        .unwrap();
    id
}

/// A conversation's result stored as the agent's pages store it.
async fn finish(
    tx: &mut Tx,
    case: i64,
    agent: i64,
    outcome: &str,
    changes: &[Change],
    flags: &Flags,
    at: i64,
) {
    tx.execute(
        "UPDATE cases SET leased_to = $2, lease_expires_at = $3 WHERE id = $1",
        args![case, agent, at + 600],
    )
    .await
    .unwrap();
    let changes = serde_json::to_string(changes).unwrap();
    let codes = flag_codes(flags);
    let flags = serde_json::to_string(flags).unwrap();
    let result = NewResult {
        outcome,
        guide_version: "2027-01",
        identity_method: Some("items"),
        identity_passed: true,
        consent: outcome != "refused",
        answers: "[]",
        changes: &changes,
        flags: &flags,
        flag_codes: &codes,
    };
    assert!(
        conversation::finish(tx, case, agent, &result, outcome, at)
            .await
            .unwrap()
    );
}

struct World {
    jc: i64,
    campaign: i64,
    /// K0000000: updated (new phone, moved, no longer unemployed), PAP1.
    updated: i64,
    /// K0000001: refused, PAP1.
    refused: i64,
    /// K0000002: not reached, PAP2.
    unreached: i64,
    /// K0000003: still open, PAP1.
    open: i64,
}

const DAY1: i64 = 1_800_000_000;

async fn world(db: &Db) -> World {
    let campaign_id = letter_campaign(db, (0..4).map(letter_customer))
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, campaign_id)
        .await
        .unwrap()
        .unwrap();
    campaign::activate(&mut tx, &c, date(2027, 1, 4), 0)
        .await
        .unwrap();
    for (number, code) in [
        ("K0000000", PAP1),
        ("K0000001", PAP1),
        ("K0000002", PAP2),
        ("K0000003", PAP1),
    ] {
        tx.execute(
            "UPDATE customers SET pap_code = $2 WHERE customer_number = $1",
            args![number, code],
        )
        .await
        .unwrap();
    }
    let (sc,): (i64,) = tx
        .fetch_one("SELECT id FROM service_centers WHERE code = 'sc'", vec![])
        .await
        .unwrap();
    let agent = user::create(
        &mut tx,
        &user::NewUser {
            username: "agent".into(),
            display_name: "Agent".into(),
            role: Role::Agent,
            home: Home::ServiceCenter(sc),
            pap_code: None,
            password_hash: "x".into(),
        },
        0,
    )
    .await
    .unwrap();
    for (name, code) in [("pap1", PAP1), ("pap2", PAP2)] {
        user::create(
            &mut tx,
            &user::NewUser {
                username: name.into(),
                display_name: name.into(),
                role: Role::CaseManager,
                home: Home::JobCenter(c.job_center_id),
                pap_code: Some(code.into()),
                password_hash: "x".into(),
            },
            0,
        )
        .await
        .unwrap();
    }
    let updated = case_of(&mut tx, "K0000000").await;
    let refused = case_of(&mut tx, "K0000001").await;
    let unreached = case_of(&mut tx, "K0000002").await;
    let open = case_of(&mut tx, "K0000003").await;
    let phone = Change {
        field: Field::Stored(StoredField::Phone),
        question: "telefon".into(),
        old: "+492081234567".into(),
        new: "+491701234567".into(),
        old_display: "+49 208 1234567".into(),
        new_display: "+49 170 1234567".into(),
    };
    let city = Change {
        field: Field::Stored(StoredField::City),
        question: "ort".into(),
        old: "Oberhausen".into(),
        new: "Duisburg".into(),
        old_display: "Oberhausen".into(),
        new_display: "Duisburg".into(),
    };
    let flags = Flags {
        no_longer_unemployed: Some(EndOfUnemployment {
            reason: Some("employment_first".into()),
            reason_label: Some("Beschäftigung 1. Arbeitsmarkt".into()),
            since: Some(date(2027, 1, 1)),
            hours_per_week: Some(38.5),
            social_insurance: Some(true),
        }),
        moved: Some(Move {
            address: "Königstraße 1, 47051 Duisburg".into(),
            other_job_center_possible: true,
        }),
        health_restriction: Some("no".into()),
        wants_appointment: false,
        contact_updated: true,
    };
    finish(
        &mut tx,
        updated,
        agent,
        "updated",
        &[phone, city],
        &flags,
        DAY1,
    )
    .await;
    finish(
        &mut tx,
        refused,
        agent,
        "refused",
        &[],
        &Flags::default(),
        DAY1 + 3600,
    )
    .await;
    tx.execute(
        "UPDATE cases SET leased_to = $2 WHERE id = $1",
        args![unreached, agent],
    )
    .await
    .unwrap();
    outreach_store::calls::reschedule(
        &mut tx,
        unreached,
        agent,
        None,
        Some("not_reached"),
        DAY1 + 7200,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    World {
        jc: c.job_center_id,
        campaign: campaign_id,
        updated,
        refused,
        unreached,
        open,
    }
}

async fn ids(db: &Db, scope: &CustomerScope, filter: &InboxFilter) -> Vec<i64> {
    let mut tx = db.begin_read().await.unwrap();
    let items = results::list(&mut tx, scope, filter, 50, 0).await.unwrap();
    let n = results::count(&mut tx, scope, filter).await.unwrap();
    assert_eq!(
        n,
        i64::try_from(items.len()).unwrap(),
        "count matches the list"
    );
    items.into_iter().map(|i| i.case_id).collect()
}

fn flag(flag: InboxFlag) -> InboxFilter {
    InboxFilter {
        flag: Some(flag),
        ..InboxFilter::default()
    }
}

#[tokio::test]
async fn each_case_manager_sees_exactly_their_own_customers_results() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        let all = InboxFilter::default();
        let admin = CustomerScope::JobCenter {
            job_center_id: w.jc,
        };
        // Newest first; the open case never appears.
        assert_eq!(
            ids(&t.db, &pap(PAP1, w.jc), &all).await,
            vec![w.refused, w.updated]
        );
        assert_eq!(ids(&t.db, &pap(PAP2, w.jc), &all).await, vec![w.unreached]);
        assert_eq!(
            ids(&t.db, &admin, &all).await,
            vec![w.unreached, w.refused, w.updated]
        );
        assert!(!ids(&t.db, &admin, &all).await.contains(&w.open));
        // Another job center, or a pAp-Kennung nobody has, sees nothing.
        let foreign = w.jc + 1000;
        assert!(ids(&t.db, &pap(PAP1, foreign), &all).await.is_empty());
        assert!(
            ids(
                &t.db,
                &CustomerScope::JobCenter {
                    job_center_id: foreign
                },
                &all
            )
            .await
            .is_empty()
        );
        assert!(ids(&t.db, &pap("PAP999", w.jc), &all).await.is_empty());
        // A service center's scope sees no inbox at all.
        assert!(
            ids(
                &t.db,
                &CustomerScope::ServiceCenter {
                    service_center_id: 1
                },
                &all
            )
            .await
            .is_empty()
        );
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            results::get(&mut tx, &pap(PAP1, w.jc), w.unreached)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            results::get(&mut tx, &pap(PAP1, foreign), w.updated)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            results::get(&mut tx, &pap(PAP1, w.jc), w.open)
                .await
                .unwrap()
                .is_none()
        );
        let d = results::get(&mut tx, &pap(PAP1, w.jc), w.updated)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.changes().len(), 2);
        assert_eq!(d.outcome.as_deref(), Some("updated"));
        tx.commit().await.unwrap();

        // Filters: by flag, by campaign, unread.
        let scope = pap(PAP1, w.jc);
        assert_eq!(
            ids(&t.db, &scope, &flag(InboxFlag::Moved)).await,
            vec![w.updated]
        );
        assert_eq!(
            ids(&t.db, &scope, &flag(InboxFlag::NoLongerUnemployed)).await,
            vec![w.updated]
        );
        assert_eq!(
            ids(&t.db, &scope, &flag(InboxFlag::Refused)).await,
            vec![w.refused]
        );
        assert!(
            ids(&t.db, &scope, &flag(InboxFlag::Restriction))
                .await
                .is_empty()
        );
        assert!(
            ids(&t.db, &scope, &flag(InboxFlag::WantsAppointment))
                .await
                .is_empty()
        );
        assert_eq!(
            ids(&t.db, &admin, &flag(InboxFlag::NotReached)).await,
            vec![w.unreached]
        );
        let other_campaign = InboxFilter {
            campaign_id: Some(w.campaign + 1),
            ..InboxFilter::default()
        };
        assert!(ids(&t.db, &scope, &other_campaign).await.is_empty());
        let this_campaign = InboxFilter {
            campaign_id: Some(w.campaign),
            ..InboxFilter::default()
        };
        assert_eq!(ids(&t.db, &scope, &this_campaign).await.len(), 2);
        let unread = InboxFilter {
            unread_only: true,
            ..InboxFilter::default()
        };
        let own = CustomerScope::JobCenter {
            job_center_id: w.jc,
        };
        let foreign = CustomerScope::JobCenter {
            job_center_id: w.jc + 1000,
        };
        let mut tx = t.db.begin().await.unwrap();
        // Another job center's scope changes nothing, in the same statement.
        assert!(
            !results::mark_read(&mut tx, &foreign, w.updated, DAY1 + 9000)
                .await
                .unwrap()
        );
        assert!(
            !results::acknowledge(&mut tx, &foreign, w.refused, 1, DAY1 + 9000)
                .await
                .unwrap()
        );
        assert!(
            results::mark_read(&mut tx, &own, w.updated, DAY1 + 9000)
                .await
                .unwrap()
        );
        assert!(
            results::acknowledge(&mut tx, &own, w.refused, 1, DAY1 + 9000)
                .await
                .unwrap()
        );
        assert!(
            !results::acknowledge(&mut tx, &own, w.refused, 1, DAY1 + 9999)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        assert!(
            ids(&t.db, &scope, &unread).await.is_empty(),
            "acknowledged is read too"
        );
        assert_eq!(
            ids(&t.db, &pap(PAP2, w.jc), &unread).await,
            vec![w.unreached]
        );

        // Reassignment moves the case to the other pAp, unread for them.
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            !results::reassign(&mut tx, &foreign, w.updated, PAP2)
                .await
                .unwrap()
        );
        assert!(
            results::reassign(&mut tx, &own, w.updated, PAP2)
                .await
                .unwrap()
        );
        assert_eq!(
            results::pap_codes(&mut tx, w.jc).await.unwrap(),
            vec![PAP1, PAP2]
        );
        tx.commit().await.unwrap();
        assert_eq!(ids(&t.db, &scope, &all).await, vec![w.refused]);
        assert_eq!(
            ids(&t.db, &pap(PAP2, w.jc), &unread).await,
            vec![w.unreached, w.updated]
        );
    }
}

#[tokio::test]
async fn the_export_holds_each_change_once_keeps_disputes_and_marks_handover() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let w = world(&t.db).await;
        let own = CustomerScope::JobCenter {
            job_center_id: w.jc,
        };
        let foreign = CustomerScope::JobCenter {
            job_center_id: w.jc + 1000,
        };
        let mut tx = t.db.begin().await.unwrap();
        assert!(
            !results::dispute(&mut tx, &foreign, w.updated, "phone", "x", 1, DAY1 + 100)
                .await
                .unwrap()
        );
        assert!(
            results::dispute(
                &mut tx,
                &own,
                w.updated,
                "phone",
                "Nummer sei alt",
                1,
                DAY1 + 100
            )
            .await
            .unwrap()
        );
        // A second mark replaces the note, it doesn't add a row.
        results::dispute(
            &mut tx,
            &own,
            w.updated,
            "phone",
            "Kundin bestreitet",
            1,
            DAY1 + 200,
        )
        .await
        .unwrap();
        assert!(
            results::disputes(&mut tx, &foreign, w.updated)
                .await
                .unwrap()
                .is_empty()
        );
        let disputes = results::disputes(&mut tx, &own, w.updated).await.unwrap();
        assert_eq!(disputes.len(), 1);
        assert_eq!(disputes[0].note, "Kundin bestreitet");
        // The stored value is not overwritten by the dispute.
        let d = results::get(&mut tx, &pap(PAP1, w.jc), w.updated)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.changes()[0].new, "+491701234567");

        let cases = results::export_cases(&mut tx, w.jc, w.campaign, None)
            .await
            .unwrap();
        // Oldest first, open cases left out.
        assert_eq!(
            cases.iter().map(|c| c.case_id).collect::<Vec<_>>(),
            vec![w.updated, w.refused, w.unreached]
        );
        assert_eq!(cases[0].disputed, vec!["phone".to_string()]);
        let csv = String::from_utf8(export_csv(&cases).unwrap()).unwrap();
        assert!(csv.starts_with('\u{feff}'), "BOM for Excel");
        assert_eq!(
            csv.matches(";+492081234567;+491701234567;").count(),
            1,
            "{csv}"
        );
        assert_eq!(csv.matches("Duisburg").count(), 1, "{csv}");
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 4, "header and three cases");
        assert!(lines[0].contains("Telefon alt;Telefon neu"));
        assert!(
            lines[1].starts_with("K0000000;Winter;Gespräch geführt, Daten aktualisiert;updated;")
        );
        assert!(lines[1].contains("Beschäftigung 1. Arbeitsmarkt;01.01.2027"));
        assert!(lines[1].contains("Telefon"), "disputed field named");
        assert!(
            lines[2].ends_with(";persönliche Einladung erwägen"),
            "{}",
            lines[2]
        );
        // JSON: each change once, with its disputed mark.
        let records: Vec<ExportRecord> = cases.iter().map(ExportRecord::of).collect();
        let json: serde_json::Value = serde_json::to_value(&records).unwrap();
        assert_eq!(json[0]["changes"].as_array().unwrap().len(), 2);
        assert_eq!(json[0]["changes"][0]["field"], "phone");
        assert_eq!(json[0]["changes"][0]["disputed"], true);
        assert_eq!(json[0]["changes"][1]["disputed"], false);
        assert_eq!(json[0]["date"], "2027-01-15");
        assert_eq!(json[0]["no_longer_unemployed"]["since"], "2027-01-01");
        assert_eq!(json[1]["flags"][0], "refused");
        assert_eq!(json[2]["outcome"], "not_reached");
        assert_eq!(json[2]["task"], "persönliche Einladung erwägen");

        // Handed over: the first time stays.
        let ids: Vec<i64> = cases.iter().map(|c| c.case_id).collect();
        results::mark_handed_over(&mut tx, &ids, DAY1 + 500)
            .await
            .unwrap();
        results::mark_handed_over(&mut tx, &ids[..1], DAY1 + 900)
            .await
            .unwrap();
        let d = results::get(&mut tx, &pap(PAP1, w.jc), w.updated)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.handed_over_at, Some(DAY1 + 500));
        let (marked,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM case_reviews WHERE handed_over_at IS NOT NULL",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(marked, 3);
        // Since: only cases closed at or after the time.
        let later = results::export_cases(&mut tx, w.jc, w.campaign, Some(DAY1 + 3600))
            .await
            .unwrap();
        assert_eq!(
            later.iter().map(|c| c.case_id).collect::<Vec<_>>(),
            vec![w.refused, w.unreached]
        );
        // Another job center's id exports nothing of this campaign.
        assert!(
            results::export_cases(&mut tx, w.jc + 1000, w.campaign, None)
                .await
                .unwrap()
                .is_empty()
        );
        tx.commit().await.unwrap();
    }
}
