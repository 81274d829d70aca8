//! The second step of a local account's sign-in on SQLite and PostgreSQL:
//! enrolment confirmed by a first code with ten recovery codes, a wrong
//! code, a replayed code, the next step's code, a recovery code used once,
//! the lockout counting code failures, the reset by the administration —
//! each audited. (The web pages that ask for the code build on these.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_app::Caller;
use outreach_app::accounts::{self, Pending, SecondStep};
use outreach_app::administration;
use outreach_core::access::{Actor, Home, Role};
use outreach_core::second_factor as totp;
use outreach_store::testing::{TestDb, backends};
use outreach_store::{Db, args};

const NOW: i64 = 1_790_000_000;
const CLIENT: &str = "192.0.2.7";

async fn account(db: &Db) -> i64 {
    outreach_store::testing::break_glass_admin(db, NOW)
        .await
        .unwrap()
}

/// The purposes of the account's audit events of `action`, in order.
async fn audited(db: &Db, action: &str) -> Vec<String> {
    let mut tx = db.begin_read().await.unwrap();
    let rows: Vec<(String,)> = tx
        .fetch_all(
            "SELECT purpose FROM audit_events WHERE action = $1 ORDER BY seq",
            args![action],
        )
        .await
        .unwrap();
    rows.into_iter().map(|(p,)| p).collect()
}

/// A code of `secret` at `now` other than the right one.
fn wrong_code(secret: &str, now: i64) -> String {
    let right = totp::code_at(secret, now).unwrap();
    if right == "000000" {
        "111111"
    } else {
        "000000"
    }
    .to_string()
}

async fn answer(db: &Db, token: &str, code: &str, now: i64) -> SecondStep {
    accounts::answer_second_factor(db, token, code, CLIENT, None, now, now)
        .await
        .unwrap()
}

fn started(step: &SecondStep) -> bool {
    matches!(step, SecondStep::Started { .. })
}

#[tokio::test]
async fn enrol_sign_in_with_a_code_once_a_recovery_code_once_and_lock() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let db = &t.db;
        let id = account(db).await;

        // Enrolment: the secret offered, with the address for the app.
        let (token, secret) = accounts::ask_second_factor(db, id, false, CLIENT, NOW)
            .await
            .unwrap();
        let secret = secret.unwrap();
        match accounts::pending(db, &token, NOW).await.unwrap() {
            Some(Pending::Enrol { secret: s, url, .. }) => {
                assert_eq!(s, secret);
                assert!(url.contains("Outreach:admin.notfall"), "{url}");
            }
            other => panic!("{backend:?}: {other:?}"),
        }
        assert!(matches!(
            answer(db, &token, &wrong_code(&secret, NOW), NOW).await,
            SecondStep::Wrong
        ));
        let code = totp::code_at(&secret, NOW).unwrap();
        let SecondStep::Started { recovery_codes, .. } = answer(db, &token, &code, NOW).await
        else {
            panic!("{backend:?}: enrolment refused");
        };
        assert_eq!(recovery_codes.len(), 10);
        assert_eq!(audited(db, "second_factor_enrol").await.len(), 1);
        // The sign-in is over: its token is spent.
        assert!(matches!(
            answer(db, &token, &code, NOW).await,
            SecondStep::Expired
        ));

        // The same code again (the same step): refused; the next step's
        // code (the app's clock a little ahead) counts.
        let (token, none) = accounts::ask_second_factor(db, id, true, CLIENT, NOW + 5)
            .await
            .unwrap();
        assert_eq!(none, None);
        assert_eq!(
            accounts::pending(db, &token, NOW + 5).await.unwrap(),
            Some(Pending::Code)
        );
        assert!(matches!(
            answer(db, &token, &code, NOW + 5).await,
            SecondStep::Wrong
        ));
        let next = totp::code_at(&secret, NOW + 30).unwrap();
        assert!(
            started(&answer(db, &token, &next, NOW + 5).await),
            "{backend:?}"
        );

        // A recovery code, once.
        let (token, _) = accounts::ask_second_factor(db, id, true, CLIENT, NOW + 60)
            .await
            .unwrap();
        let recovery = recovery_codes[4].to_uppercase();
        assert!(started(&answer(db, &token, &recovery, NOW + 60).await));
        let (token, _) = accounts::ask_second_factor(db, id, true, CLIENT, NOW + 61)
            .await
            .unwrap();
        assert!(matches!(
            answer(db, &token, &recovery, NOW + 61).await,
            SecondStep::Wrong
        ));
        let logins = audited(db, "login_success").await;
        assert_eq!(
            logins,
            [
                "mit zweitem Faktor, neu eingerichtet",
                "mit zweitem Faktor",
                "mit Wiederherstellungscode"
            ],
            "{backend:?}"
        );

        // Wrong codes count towards the lockout: the fifth locks, and then
        // the right code is refused too.
        let mut last = SecondStep::Wrong;
        for _ in 0..4 {
            last = answer(db, &token, &wrong_code(&secret, NOW + 62), NOW + 62).await;
        }
        assert!(matches!(last, SecondStep::Locked), "{backend:?}");
        let (token, _) = accounts::ask_second_factor(db, id, true, CLIENT, NOW + 63)
            .await
            .unwrap();
        let right = totp::code_at(&secret, NOW + 120).unwrap();
        assert!(matches!(
            answer(db, &token, &right, NOW + 120).await,
            SecondStep::Locked
        ));
        let failures = audited(db, "login_failure").await;
        assert_eq!(failures.iter().filter(|p| *p == "falscher Code").count(), 6);
        assert!(failures.contains(&"falscher Code; Konto gesperrt".to_string()));
        assert_eq!(failures.last().unwrap(), "gesperrt");

        // The administration's reset: enrolment again.
        let admin = Actor {
            user_id: id,
            username: "admin.notfall".into(),
            role: Role::Admin,
            home: Home::Global,
            pap_code: None,
        };
        let caller = Caller {
            actor: &admin,
            client: CLIENT,
        };
        assert!(
            administration::reset_second_factor(db, caller, id, NOW + 200)
                .await
                .unwrap()
                .is_ok()
        );
        let mut tx = db.begin_read().await.unwrap();
        let enrolment = outreach_store::second_factor::of(&mut tx, id)
            .await
            .unwrap()
            .unwrap();
        drop(tx);
        assert_eq!(enrolment.secret(), None);
        assert_eq!(audited(db, "second_factor_reset").await.len(), 1);
    }
}
