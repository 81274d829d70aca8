#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Guide versions on both databases: the built-in guide is there after
//! migration, a new version is stored, a taken version is refused, a job
//! center sees the built-in guides and its own only.

use outreach_core::guide::{DEFAULT_GUIDE, Guide};
use outreach_store::guide::{self, NotStored};
use outreach_store::org::{self, NewJobCenter};
use outreach_store::testing::{TestDb, backends};

#[tokio::test]
async fn versions_are_stored_once_and_scoped() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let jc = |code: &str| NewJobCenter {
            code: code.into(),
            name: format!("Jobcenter {code}"),
            ..NewJobCenter::default()
        };
        let a = org::create_job_center(&mut tx, &jc("A"), 0).await.unwrap();
        let b = org::create_job_center(&mut tx, &jc("B"), 0).await.unwrap();
        let listed = guide::list(&mut tx, a).await.unwrap();
        assert_eq!(listed.len(), 1, "{backend:?}: the built-in guide");
        let builtin = &listed[0];
        assert!(builtin.built_in());
        assert_eq!(builtin.source, DEFAULT_GUIDE);
        let parsed = builtin.guide().unwrap();
        assert_eq!(builtin.content_hash, parsed.hash);

        // A job center's own version.
        let text = DEFAULT_GUIDE.replace("version = \"2026-12\"", "version = \"2026-12-a\"");
        let own = Guide::parse(&text).unwrap();
        let id = guide::insert(&mut tx, Some(a), &own, &text, None, 5)
            .await
            .unwrap()
            .unwrap();
        // The same name and version again: refused, whether changed or not.
        assert_eq!(
            guide::insert(&mut tx, Some(a), &own, &text, None, 6)
                .await
                .unwrap(),
            Err(NotStored::Unchanged { id })
        );
        let changed_text = text.replace("Guten Tag", "Hallo");
        let changed = Guide::parse(&changed_text).unwrap();
        assert_eq!(
            guide::insert(&mut tx, Some(a), &changed, &changed_text, None, 6)
                .await
                .unwrap(),
            Err(NotStored::VersionTaken { id })
        );
        // B may store its own version with the same number.
        assert!(
            guide::insert(&mut tx, Some(b), &own, &text, None, 7)
                .await
                .unwrap()
                .is_ok()
        );
        let for_a = guide::list(&mut tx, a).await.unwrap();
        assert_eq!(for_a.len(), 2, "{backend:?}");
        let within = outreach_store::RecordScope::JobCenter;
        assert!(
            guide::by_id(&mut tx, within(a), id)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            guide::by_id(&mut tx, within(b), id)
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            guide::by_id(&mut tx, within(b), builtin.id)
                .await
                .unwrap()
                .is_some()
        );
        tx.commit().await.unwrap();

        // Migrating again stores nothing twice.
        t.db.migrate().await.unwrap();
        let mut tx = t.db.begin_read().await.unwrap();
        assert_eq!(guide::list(&mut tx, b).await.unwrap().len(), 2);
    }
}
