//! Property: a customer query returns exactly the customers the actor's scope
//! allows — never a row outside it — over random organisations, mandates
//! (state and period) and customers, on SQLite and PostgreSQL; the same for
//! the DPO's access-request queries, for the records of a job center read
//! by id (mandates, campaigns, letter batches, guide versions), for their
//! changes by id (states, settings, dispatch, objections), and for the
//! inbox's changes of a final case (read, acknowledged, disputed,
//! reassigned), each applying the scope in its own statement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::ToSpan;
use jiff::civil::{Date, date};
use outreach_core::access::{CustomerScope, Home, Role};
use outreach_core::calls::CallingWindow;
use outreach_core::customer::Field;
use outreach_core::customer::FieldGroup;
use outreach_core::mandate::{MandateState, NewMandate};
use outreach_store::customer;
use outreach_store::org::{self, NewJobCenter};
use outreach_store::testing::stored_record;
use outreach_store::testing::{TestDb, backends};
use outreach_store::{
    Db, RecordScope, args, campaign, letters, mandate, random_token, results, subject, user,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeSet;

const TODAY: Date = date(2026, 6, 15);
const JOB_CENTERS: usize = 3;
const SERVICE_CENTERS: usize = 2;

#[derive(Debug, Clone)]
struct MandateSpec {
    jc: usize,
    sc: usize,
    state: MandateState,
    /// Days from today to the start and from the start to the end; small, so
    /// periods often start or end exactly today.
    start_offset: i32,
    length: i32,
}

#[derive(Debug, Clone)]
struct CustomerSpec {
    jc: usize,
    pap: Option<u8>,
    restricted: bool,
}

#[derive(Debug, Clone)]
struct World {
    mandates: Vec<MandateSpec>,
    customers: Vec<CustomerSpec>,
}

fn world() -> impl Strategy<Value = World> {
    let state = prop_oneof![
        Just(MandateState::Draft),
        Just(MandateState::Active),
        Just(MandateState::Ended)
    ];
    let mandate = (
        0..JOB_CENTERS,
        0..SERVICE_CENTERS,
        state,
        -40i32..20,
        0i32..40,
    )
        .prop_map(|(jc, sc, state, start_offset, length)| MandateSpec {
            jc,
            sc,
            state,
            start_offset,
            length,
        });
    let customer = (0..JOB_CENTERS, proptest::option::of(0u8..3), any::<bool>()).prop_map(
        |(jc, pap, restricted)| CustomerSpec {
            jc,
            pap,
            restricted,
        },
    );
    (
        proptest::collection::vec(mandate, 0..5),
        proptest::collection::vec(customer, 0..25),
    )
        .prop_map(|(mandates, customers)| World {
            mandates,
            customers,
        })
}

fn active_today(m: &MandateSpec) -> bool {
    let start = m.start_offset;
    let end = m.start_offset + m.length;
    m.state == MandateState::Active && start <= 0 && end >= 0
}

/// Stores the world under fresh organisations; checks every scope against the model.
async fn check(db: &Db, w: &World) -> Result<(), TestCaseError> {
    let now = 1_780_000_000;
    let run = random_token(4);
    let mut tx = db.begin().await.unwrap();
    let mut jcs = Vec::new();
    for i in 0..JOB_CENTERS {
        let jc = NewJobCenter {
            code: format!("jc-{run}-{i}"),
            name: format!("JC {i}"),
            ..NewJobCenter::default()
        };
        jcs.push(org::create_job_center(&mut tx, &jc, now).await.unwrap());
    }
    let mut scs = Vec::new();
    for i in 0..SERVICE_CENTERS {
        scs.push(
            org::create_service_center(&mut tx, &format!("sc-{run}-{i}"), "SC", "", "", now)
                .await
                .unwrap(),
        );
    }
    let creator = user::create(
        &mut tx,
        &user::NewUser {
            username: format!("u-{run}"),
            display_name: "U".into(),
            role: Role::JobcenterAdmin,
            home: Home::JobCenter(jcs[0]),
            pap_code: None,
            password_hash: "-".into(),
        },
        now,
    )
    .await
    .unwrap();
    // Each job center also has an ended mandate to the first service
    // center (it shows no customers), so that every job center has a
    // campaign for its customers' final cases.
    let fixed: Vec<MandateSpec> = (0..JOB_CENTERS)
        .map(|jc| MandateSpec {
            jc,
            sc: 0,
            state: MandateState::Ended,
            start_offset: -30,
            length: 10,
        })
        .collect();
    let mut mandate_ids = Vec::new();
    for m in w.mandates.iter().chain(&fixed) {
        let start = TODAY.checked_add(m.start_offset.days()).unwrap();
        let end = start.checked_add(m.length.days()).unwrap();
        let new = NewMandate {
            service_center_id: scs[m.sc],
            title: "M".into(),
            allowed_fields: FieldGroup::default_for_mandate(),
            period_start: start,
            period_end: end,
            deletion_deadline: end,
            authority_notified_on: Some(start),
            window: CallingWindow::default(),
        };
        let id = mandate::create(&mut tx, jcs[m.jc], &new, creator, now)
            .await
            .unwrap();
        if m.state != MandateState::Draft {
            mandate::set_state(
                &mut tx,
                outreach_store::RecordScope::Operator,
                id,
                MandateState::Draft,
                m.state,
            )
            .await
            .unwrap();
        }
        mandate_ids.push(id);
    }
    let all_mandates: Vec<MandateSpec> = w.mandates.iter().chain(&fixed).cloned().collect();
    // A guide version of each job center; a campaign (pinned to its job
    // center's guide) with a letter batch under every mandate.
    let mut guides = Vec::new();
    for (i, &jc) in jcs.iter().enumerate() {
        let (g,): (i64,) = tx
            .fetch_one(
                "INSERT INTO guides (job_center_id, name, version, valid_from, content_hash, source, created_at)
                 VALUES ($1, $2, '1', '2026-01-01', 'x', 'x', 0) RETURNING id",
                args![jc, format!("g-{run}-{i}")],
            )
            .await
            .unwrap();
        guides.push(g);
    }
    let mut campaigns = Vec::new();
    let mut batches = Vec::new();
    for (m, &mandate_id) in all_mandates.iter().zip(&mandate_ids) {
        let settings = outreach_core::campaign::CampaignSettings {
            name: "A".into(),
            selection: outreach_core::campaign::Selection::default(),
            guide_ref: "g".into(),
            guide_id: Some(guides[m.jc]),
            window: CallingWindow::default(),
            attempts_per_day: 1,
            attempts_total: 6,
            lead_days: 7,
            period_start: TODAY,
            period_end: TODAY,
        };
        let id = campaign::create(&mut tx, jcs[m.jc], mandate_id, &settings, creator, now)
            .await
            .unwrap();
        campaigns.push(id);
        let batch = letters::create_batch(&mut tx, id, TODAY, "v", &[], None, now)
            .await
            .unwrap();
        batches.push(batch);
    }
    // An open case in every campaign, of a customer of its own (numbered
    // apart from the customers the queries above count).
    let mut open_cases = Vec::new();
    for (k, (m, &campaign_id)) in all_mandates.iter().zip(&campaigns).enumerate() {
        let number = format!("Z{run}{k:03}").to_uppercase();
        let new = stored_record(&[
            (Field::CustomerNumber, &number),
            (Field::LastName, "O"),
            (Field::BirthDate, "1980-01-01"),
            (Field::Status, "unemployed"),
        ]);
        let customer_id = customer::insert(&mut tx, jcs[m.jc], &new, now)
            .await
            .unwrap();
        let (case,): (i64,) = tx
            .fetch_one(
                "INSERT INTO cases (campaign_id, customer_id, state, created_at)
                 VALUES ($1, $2, 'open', $3) RETURNING id",
                args![campaign_id, customer_id, now],
            )
            .await
            .unwrap();
        open_cases.push(case);
    }
    let mut numbers = Vec::new();
    let mut ids = Vec::new();
    for (i, c) in w.customers.iter().enumerate() {
        let number = format!("K{run}{i:03}").to_uppercase();
        let pap = c.pap.map(|p| format!("PAP{p}"));
        let mut values = vec![
            (Field::CustomerNumber, number.as_str()),
            (Field::LastName, "N"),
            (Field::BirthDate, "1980-01-01"),
            (Field::Status, "unemployed"),
        ];
        if let Some(pap) = &pap {
            values.push((Field::PapCode, pap));
        }
        let new = stored_record(&values);
        let id = customer::insert(&mut tx, jcs[c.jc], &new, now)
            .await
            .unwrap();
        if c.restricted {
            tx.execute(
                "UPDATE customers SET restricted = TRUE WHERE id = $1",
                args![id],
            )
            .await
            .unwrap();
        }
        numbers.push(number);
        ids.push(id);
    }
    // A final case of each customer, in its job center's fixed campaign.
    let mut cases = Vec::new();
    for (c, &customer_id) in w.customers.iter().zip(&ids) {
        let campaign_id = campaigns[w.mandates.len() + c.jc];
        let (case,): (i64,) = tx
            .fetch_one(
                "INSERT INTO cases (campaign_id, customer_id, state, final_disposition, closed_at, created_at)
                 VALUES ($1, $2, 'final', 'refused', $3, $3) RETURNING id",
                args![campaign_id, customer_id, now],
            )
            .await
            .unwrap();
        cases.push(case);
    }
    tx.commit().await.unwrap();

    let today = TODAY.to_string();
    let mut scopes = Vec::new();
    for (jc, &job_center_id) in jcs.iter().enumerate() {
        scopes.push((CustomerScope::JobCenter { job_center_id }, jc, None, None));
        for pap in 0..3u8 {
            let pap_code = format!("PAP{pap}");
            let scope = CustomerScope::CaseManager {
                job_center_id,
                pap_code,
            };
            scopes.push((scope, jc, Some(pap), None));
        }
    }
    for (sc, &service_center_id) in scs.iter().enumerate() {
        let scope = CustomerScope::ServiceCenter { service_center_id };
        scopes.push((scope, usize::MAX, None, Some(sc)));
    }
    let mut tx = db.begin_read().await.unwrap();
    for (scope, jc, pap, sc) in scopes {
        let expected: BTreeSet<String> = w
            .customers
            .iter()
            .zip(&numbers)
            .filter(|(c, _)| match (sc, pap) {
                (Some(sc), _) => {
                    !c.restricted
                        && w.mandates
                            .iter()
                            .any(|m| m.sc == sc && m.jc == c.jc && active_today(m))
                }
                (None, Some(pap)) => c.jc == jc && c.pap == Some(pap) && !c.restricted,
                (None, None) => c.jc == jc,
            })
            .map(|(_, n)| n.clone())
            .collect();
        let got: BTreeSet<String> = customer::list(
            &mut tx,
            &scope,
            &today,
            &customer::CustomerFilter::default(),
            1000,
            0,
        )
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.customer_number)
        .filter(|n| n.starts_with(&format!("K{run}").to_uppercase()))
        .collect();
        prop_assert_eq!(&got, &expected, "scope {:?}", scope);
        let count = customer::count(
            &mut tx,
            &scope,
            &today,
            &customer::CustomerFilter::number(&format!("K{run}").to_uppercase()),
        )
        .await
        .unwrap();
        prop_assert_eq!(count as usize, expected.len());
    }
    drop(tx);
    check_records(
        db,
        &jcs,
        &scs,
        &all_mandates,
        &mandate_ids,
        &campaigns,
        &batches,
        &guides,
    )
    .await?;
    check_changes(
        db,
        &jcs,
        &scs,
        &all_mandates,
        &mandate_ids,
        &campaigns,
        &batches,
        &open_cases,
    )
    .await?;
    check_cases(db, w, &jcs, &cases).await?;
    let mut tx = db.begin_read().await.unwrap();
    // The DPO's access requests: a job center's DPO finds and reads its own
    // customers only (restricted ones too); a DPO without a job center all.
    for ((c, number), &id) in w.customers.iter().zip(&numbers).zip(&ids) {
        for (jc, &job_center_id) in jcs.iter().enumerate() {
            let own = c.jc == jc;
            let found = subject::find(&mut tx, Some(job_center_id), number)
                .await
                .unwrap();
            prop_assert_eq!(found.len(), usize::from(own), "{} in jc {}", number, jc);
            let read = subject::disclosure(&mut tx, Some(job_center_id), id)
                .await
                .unwrap();
            prop_assert_eq!(read.is_some(), own, "{} in jc {}", number, jc);
        }
        let everywhere = subject::find(&mut tx, None, number).await.unwrap();
        prop_assert_eq!(everywhere.len(), 1);
    }
    Ok(())
}

/// Mandates, campaigns, letter batches and guide versions by id: each found
/// exactly when its job center is the scope's, or its mandate was given to
/// the scope's service center.
#[allow(clippy::too_many_arguments)]
async fn check_records(
    db: &Db,
    jcs: &[i64],
    scs: &[i64],
    mandates: &[MandateSpec],
    mandate_ids: &[i64],
    campaigns: &[i64],
    batches: &[i64],
    guides: &[i64],
) -> Result<(), TestCaseError> {
    let mut tx = db.begin_read().await.unwrap();
    for (scope, jc, sc) in record_scopes(jcs, scs) {
        for (k, m) in mandates.iter().enumerate() {
            let expected = jc == Some(m.jc) || sc == Some(m.sc);
            let found = mandate::by_id(&mut tx, scope, mandate_ids[k])
                .await
                .unwrap();
            prop_assert_eq!(found.is_some(), expected, "mandate {} in {:?}", k, scope);
            let found = campaign::by_id(&mut tx, scope, campaigns[k]).await.unwrap();
            prop_assert_eq!(found.is_some(), expected, "campaign {} in {:?}", k, scope);
            let found = letters::batch_by_id(&mut tx, scope, batches[k])
                .await
                .unwrap();
            prop_assert_eq!(found.is_some(), expected, "batch {} in {:?}", k, scope);
        }
        for (g, &guide) in guides.iter().enumerate() {
            let expected = jc == Some(g) || mandates.iter().any(|m| m.jc == g && sc == Some(m.sc));
            let found = outreach_store::guide::by_id(&mut tx, scope, guide)
                .await
                .unwrap();
            prop_assert_eq!(
                found.is_some(),
                expected,
                "guide of jc {} in {:?}",
                g,
                scope
            );
        }
        let operator = campaign::by_id(&mut tx, RecordScope::Operator, campaigns[0])
            .await
            .unwrap();
        prop_assert!(operator.is_some());
    }
    Ok(())
}

/// The scopes of `check_records`, with the job center's and the service
/// center's index.
fn record_scopes(jcs: &[i64], scs: &[i64]) -> Vec<(RecordScope, Option<usize>, Option<usize>)> {
    let jc = jcs
        .iter()
        .enumerate()
        .map(|(i, &jc)| (RecordScope::JobCenter(jc), Some(i), None));
    let sc = scs
        .iter()
        .enumerate()
        .map(|(i, &sc)| (RecordScope::ServiceCenter(sc), None, Some(i)));
    jc.chain(sc).collect()
}

/// Changes of mandates, campaigns, letter batches and cases by id, and the
/// campaign's letter reads: each takes effect (or finds something) exactly
/// when the record is in the scope; each scope's changes are rolled back
/// before the next.
#[allow(clippy::too_many_arguments)]
async fn check_changes(
    db: &Db,
    jcs: &[i64],
    scs: &[i64],
    mandates: &[MandateSpec],
    mandate_ids: &[i64],
    campaigns: &[i64],
    batches: &[i64],
    open_cases: &[i64],
) -> Result<(), TestCaseError> {
    use outreach_core::campaign::{CampaignSettings, CampaignState, Selection};
    let settings = CampaignSettings {
        name: "B".into(),
        selection: Selection::default(),
        guide_ref: "g".into(),
        guide_id: None,
        window: CallingWindow::default(),
        attempts_per_day: 1,
        attempts_total: 6,
        lead_days: 7,
        period_start: TODAY,
        period_end: TODAY,
    };
    for (scope, jc, sc) in record_scopes(jcs, scs) {
        let mut tx = db.begin().await.unwrap();
        for (k, m) in mandates.iter().enumerate() {
            let expected = jc == Some(m.jc) || sc == Some(m.sc);
            let (mandate_id, id) = (mandate_ids[k], campaigns[k]);
            let changed = mandate::set_state(&mut tx, scope, mandate_id, m.state, m.state)
                .await
                .unwrap();
            prop_assert_eq!(changed, expected, "mandate state {} in {:?}", k, scope);
            let changed = mandate::set_authority_notified(&mut tx, scope, mandate_id, "2026-06-15")
                .await
                .unwrap();
            prop_assert_eq!(changed, expected, "notified {} in {:?}", k, scope);
            let draft = CampaignState::Draft;
            let changed = campaign::set_state(&mut tx, scope, id, draft, draft)
                .await
                .unwrap();
            prop_assert_eq!(changed, expected, "campaign state {} in {:?}", k, scope);
            let changed = campaign::update(&mut tx, scope, id, mandate_id, &settings)
                .await
                .unwrap();
            prop_assert_eq!(changed, expected, "campaign update {} in {:?}", k, scope);
            let listed = letters::batches(&mut tx, scope, id).await.unwrap();
            prop_assert_eq!(listed.len(), usize::from(expected), "batches {}", k);
            let pending = letters::pending_count(&mut tx, scope, id).await.unwrap();
            prop_assert_eq!(pending, i64::from(expected), "pending {} in {:?}", k, scope);
            let rows = letters::pending_advance(&mut tx, scope, id).await.unwrap();
            prop_assert_eq!(rows.len(), usize::from(expected), "pending letters {}", k);
            let created = letters::create_pending_batch(&mut tx, scope, id, TODAY, "v", None, 0)
                .await
                .unwrap();
            prop_assert_eq!(
                created.is_some(),
                expected,
                "new batch {} in {:?}",
                k,
                scope
            );
            if let Some((batch, _)) = created {
                for (other, _, _) in record_scopes(jcs, scs) {
                    let seen = other == RecordScope::JobCenter(jcs[m.jc])
                        || other == RecordScope::ServiceCenter(scs[m.sc]);
                    let rows = letters::batch_advance(&mut tx, other, batch).await.unwrap();
                    prop_assert_eq!(
                        rows.len(),
                        usize::from(seen),
                        "letters {} in {:?}",
                        k,
                        other
                    );
                    let numbers = letters::batch_customer_numbers(&mut tx, other, batch)
                        .await
                        .unwrap();
                    prop_assert_eq!(numbers.len(), usize::from(seen), "manifest {}", k);
                }
            }
            let sent = letters::mark_sent(&mut tx, scope, batches[k], TODAY, None)
                .await
                .unwrap();
            prop_assert_eq!(sent, expected, "batch sent {} in {:?}", k, scope);
            // The letter just made (in scope) doesn't keep the case from its objection.
            let objection = campaign::record_objection(&mut tx, scope, open_cases[k], TODAY, 1, 0)
                .await
                .unwrap();
            prop_assert_eq!(objection, expected, "objection {} in {:?}", k, scope);
        }
        tx.rollback().await.unwrap();
    }
    Ok(())
}

/// The inbox's changes of a final case take effect exactly for the scopes
/// that see the case (its job center's; the case manager of its pAp unless
/// restricted; never a service center); each scope's changes are rolled
/// back before the next.
async fn check_cases(db: &Db, w: &World, jcs: &[i64], cases: &[i64]) -> Result<(), TestCaseError> {
    let mut scopes: Vec<(CustomerScope, usize, Option<u8>)> = Vec::new();
    for (jc, &job_center_id) in jcs.iter().enumerate() {
        scopes.push((CustomerScope::JobCenter { job_center_id }, jc, None));
        for pap in 0..3u8 {
            let pap_code = format!("PAP{pap}");
            let scope = CustomerScope::CaseManager {
                job_center_id,
                pap_code,
            };
            scopes.push((scope, jc, Some(pap)));
        }
    }
    scopes.push((
        CustomerScope::ServiceCenter {
            service_center_id: 0,
        },
        usize::MAX,
        None,
    ));
    for (scope, jc, pap) in scopes {
        let mut tx = db.begin().await.unwrap();
        for (c, &case) in w.customers.iter().zip(cases) {
            let expected = c.jc == jc && pap.is_none_or(|p| c.pap == Some(p) && !c.restricted);
            let own_pap = format!("PAP{}", c.pap.unwrap_or(0));
            prop_assert_eq!(
                results::mark_read(&mut tx, &scope, case, 1).await.unwrap(),
                expected,
                "mark_read {} in {:?}",
                case,
                scope
            );
            prop_assert_eq!(
                results::acknowledge(&mut tx, &scope, case, 1, 1)
                    .await
                    .unwrap(),
                expected,
                "acknowledge {} in {:?}",
                case,
                scope
            );
            prop_assert_eq!(
                results::dispute(&mut tx, &scope, case, "phone", "n", 1, 1)
                    .await
                    .unwrap(),
                expected,
                "dispute {} in {:?}",
                case,
                scope
            );
            let disputes = results::disputes(&mut tx, &scope, case).await.unwrap();
            prop_assert_eq!(disputes.len(), usize::from(expected), "disputes {}", case);
            // To the pAp the case has (for one without a pAp, PAP0): the
            // scope's view of the cases stays as it was.
            let reassigned = results::reassign(&mut tx, &scope, case, &own_pap)
                .await
                .unwrap();
            prop_assert_eq!(reassigned, expected, "reassign {} in {:?}", case, scope);
        }
        tx.rollback().await.unwrap();
    }
    Ok(())
}

#[test]
fn customer_queries_return_exactly_the_scope() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    for backend in rt.block_on(backends()) {
        let t = rt.block_on(TestDb::new(backend)).unwrap();
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&world(), |w| rt.block_on(check(&t.db, &w)));
        if let Err(e) = result {
            panic!("[{backend:?}] {e}");
        }
        drop(t);
    }
}
