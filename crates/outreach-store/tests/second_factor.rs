#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The second factor's storage on SQLite and PostgreSQL: a secret counts
//! once confirmed; each step and each recovery code is taken once, also
//! when two requests race; challenges expire; a reset removes it all.

use outreach_core::second_factor as totp;
use outreach_store::Db;
use outreach_store::second_factor::{self as store, Purpose};
use outreach_store::testing::{TestDb, backends};

const NOW: i64 = 1_790_000_000;

async fn account(db: &Db) -> i64 {
    outreach_store::testing::break_glass_admin(db, NOW)
        .await
        .unwrap()
}

#[tokio::test]
async fn steps_and_recovery_codes_count_once_and_challenges_expire() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let id = account(&t.db).await;
        let secret = totp::new_secret([7; totp::SECRET_BYTES]);

        // Not enrolled: no secret counts.
        let mut tx = t.db.begin().await.unwrap();
        assert_eq!(
            store::of(&mut tx, id).await.unwrap().unwrap().secret(),
            None
        );
        let codes: Vec<String> = (0..totp::RECOVERY_CODES)
            .map(|i| totp::recovery_code([u8::try_from(i).unwrap(); totp::RECOVERY_BYTES]))
            .collect();
        let hashes: Vec<String> = codes.iter().map(|c| totp::recovery_hash(c)).collect();
        store::enrol(&mut tx, id, &secret, NOW / 30, &hashes, NOW)
            .await
            .unwrap();
        let enrolled = store::of(&mut tx, id).await.unwrap().unwrap();
        assert_eq!(enrolled.secret(), Some(secret.as_str()));
        assert_eq!(enrolled.totp_last_step, NOW / 30);
        // The enrolment's step is used; the next one is taken once.
        assert!(!store::accept_step(&mut tx, id, NOW / 30).await.unwrap());
        assert!(store::accept_step(&mut tx, id, NOW / 30 + 1).await.unwrap());
        assert!(!store::accept_step(&mut tx, id, NOW / 30 + 1).await.unwrap());
        assert!(!store::accept_step(&mut tx, id, NOW / 30 - 5).await.unwrap());
        // A recovery code once, typed in another case.
        assert_eq!(store::recovery_codes_left(&mut tx, id).await.unwrap(), 10);
        let typed = totp::recovery_hash(&codes[3].to_uppercase());
        assert!(
            store::use_recovery_code(&mut tx, id, &typed, NOW)
                .await
                .unwrap()
        );
        assert!(
            !store::use_recovery_code(&mut tx, id, &typed, NOW)
                .await
                .unwrap()
        );
        assert!(
            !store::use_recovery_code(&mut tx, id, "ff", NOW)
                .await
                .unwrap()
        );
        assert_eq!(store::recovery_codes_left(&mut tx, id).await.unwrap(), 9);

        // A challenge is found by its token until it expires.
        let token = store::create_challenge(&mut tx, id, Purpose::Code, None, "10.0.0.1", NOW, 300)
            .await
            .unwrap();
        let found = store::challenge(&mut tx, &token, NOW + 10)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found.user_id, found.purpose()), (id, Purpose::Code));
        assert_eq!(
            store::challenge(&mut tx, &token, NOW + 300).await.unwrap(),
            None
        );
        assert_eq!(
            store::challenge(&mut tx, "anders", NOW).await.unwrap(),
            None
        );
        assert_eq!(
            store::remove_expired_challenges(&mut tx, NOW + 300)
                .await
                .unwrap(),
            1
        );
        let enrol = store::create_challenge(
            &mut tx,
            id,
            Purpose::Enrol,
            Some(&secret),
            "10.0.0.1",
            NOW,
            300,
        )
        .await
        .unwrap();
        let found = store::challenge(&mut tx, &enrol, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.secret.as_deref(), Some(secret.as_str()));
        store::end_challenge(&mut tx, &enrol).await.unwrap();
        assert_eq!(store::challenge(&mut tx, &enrol, NOW).await.unwrap(), None);

        // The reset: no secret, no codes.
        store::reset(&mut tx, id).await.unwrap();
        assert_eq!(
            store::of(&mut tx, id).await.unwrap().unwrap().secret(),
            None
        );
        assert_eq!(store::recovery_codes_left(&mut tx, id).await.unwrap(), 0);
        tx.commit().await.unwrap();
    }
}

/// One step sent by two requests at once: exactly one takes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_sent_twice_at_once_counts_once() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let id = account(&t.db).await;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let db = t.db.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = db.begin().await.unwrap();
                let taken = store::accept_step(&mut tx, id, NOW / 30).await.unwrap();
                tx.commit().await.unwrap();
                taken
            }));
        }
        let mut taken = 0;
        for task in tasks {
            taken += usize::from(task.await.unwrap());
        }
        assert_eq!(taken, 1, "{backend:?}");
    }
}
