//! Property: a customer query returns exactly the customers the actor's scope
//! allows — never a row outside it — over random organisations, mandates
//! (state and period) and customers, on SQLite and PostgreSQL; the same for
//! the DPO's access-request queries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::ToSpan;
use jiff::civil::{Date, date};
use outreach_core::access::{CustomerScope, Home, Role};
use outreach_core::calling::CallingWindow;
use outreach_core::customer::CustomerField;
use outreach_core::mandate::{MandateState, NewMandate};
use outreach_store::customer::{self, NewCustomer};
use outreach_store::org::{self, NewJobCenter};
use outreach_store::testing::{TestDb, backends};
use outreach_store::{Db, args, mandate, random_token, subject, user};
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
    for m in &w.mandates {
        let start = TODAY.checked_add(m.start_offset.days()).unwrap();
        let end = start.checked_add(m.length.days()).unwrap();
        let new = NewMandate {
            service_center_id: scs[m.sc],
            title: "M".into(),
            allowed_fields: CustomerField::default_for_mandate(),
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
            mandate::set_state(&mut tx, id, MandateState::Draft, m.state)
                .await
                .unwrap();
        }
    }
    let mut numbers = Vec::new();
    let mut ids = Vec::new();
    for (i, c) in w.customers.iter().enumerate() {
        let number = format!("K{run}{i:03}").to_uppercase();
        let new = NewCustomer {
            customer_number: number.clone(),
            last_name: "N".into(),
            birth_date: "1980-01-01".into(),
            status: "unemployed".into(),
            pap_code: c.pap.map(|p| format!("PAP{p}")),
            ..NewCustomer::default()
        };
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
