//! The demo tells the whole story (issue 23, point 8), on both databases:
//! every pAp-Kennung a demo customer carries belongs to a case manager whose
//! login the demo prints, so no result lands in nobody's inbox.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_store::testing::{TestDb, backends};
use outreach_store::{Tx, args};

#[tokio::test]
async fn every_demo_pap_code_has_a_printed_case_manager_login() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let now = jiff::Timestamp::now().as_second();
        let prepared = outreach_app::demo::prepare(&t.db, now).await.unwrap();
        assert!(prepared.fresh);
        let mut tx: Tx = t.db.begin_read().await.unwrap();
        let codes: Vec<(String,)> = tx
            .fetch_all(
                "SELECT DISTINCT pap_code FROM customers WHERE pap_code IS NOT NULL ORDER BY pap_code",
                vec![],
            )
            .await
            .unwrap();
        assert!(codes.len() > 1, "{backend:?}: {codes:?}");
        for (code,) in codes {
            let owners: Vec<(String,)> = tx
                .fetch_all(
                    "SELECT username FROM users WHERE role = 'case_manager' AND pap_code = $1",
                    args![code.clone()],
                )
                .await
                .unwrap();
            assert_eq!(owners.len(), 1, "{backend:?}: {code} has {owners:?}");
            assert!(
                prepared
                    .logins
                    .iter()
                    .any(|(login, _, _)| *login == owners[0].0),
                "{backend:?}: {} is not among the printed logins",
                owners[0].0
            );
        }
    }
}
