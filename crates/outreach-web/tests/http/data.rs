//! Customer data over HTTP: scoped and audited reads, the DPO's log, and a
//! moved clock that deletes nothing.

use super::*;

#[tokio::test]
async fn customer_reads_are_scoped_and_audited() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let f = &app.fixtures;
        let mut admin = app.login(&jc_admin()).await;
        let list = admin.get("/kunden").await;
        assert!(list.body.contains("A000001") && list.body.contains("A000002"));
        assert!(
            !list.body.contains("B000001"),
            "{backend:?}: other job center's customer listed"
        );
        let detail = admin.get(&format!("/kunden/{}", f.customer_a)).await;
        assert_eq!(detail.status, StatusCode::OK);
        assert!(detail.body.contains("17.05.1980"), "dates in TT.MM.JJJJ");
        assert_eq!(
            admin.get(&format!("/kunden/{}", f.customer_b)).await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            admin.get("/kunden/999999").await.status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(admin.get("/kunden/abc").await.status, StatusCode::NOT_FOUND);

        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        let mine = pap.get("/kunden").await;
        assert!(
            mine.body.contains("A000001") && !mine.body.contains("A000002"),
            "{backend:?}"
        );

        let mut tx = app.state.db.begin_read().await.unwrap();
        let filter = AuditFilter {
            record_id: Some("A000001".into()),
            ..AuditFilter::default()
        };
        let events = audit::list(&mut tx, &filter, 10, 0).await.unwrap();
        assert_eq!(events.len(), 1, "{backend:?}");
        assert_eq!(events[0].action, "customer_read");
        assert_eq!(events[0].username, jc_admin());
        assert!(events[0].fields.contains("Geburtsdatum"));
        assert_eq!(events[0].job_center_id, Some(f.jc_a));
        assert!(!events[0].purpose.is_empty());
    }
}

#[tokio::test]
async fn the_admin_sees_no_customer_data() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::Admin, Side::Own)).await;
        let start = admin.get("/").await;
        assert!(
            !start.body.contains("/kunden"),
            "{backend:?}: admin navigation links customers"
        );
        assert_eq!(admin.get("/kunden").await.status, StatusCode::FORBIDDEN);
        let detail = admin
            .get(&format!("/kunden/{}", app.fixtures.customer_a))
            .await;
        assert_eq!(detail.status, StatusCode::FORBIDDEN);
        assert!(!detail.body.contains("Mustermann"));
        assert_eq!(admin.get("/protokoll").await.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_dpo_page_finds_an_edited_audit_row() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        app.login(&jc_admin()).await;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let ok = dpo.post("/protokoll/pruefen", &[]).await;
        assert!(
            ok.body.contains("Die Protokollkette ist unversehrt"),
            "{backend:?}: {}",
            ok.body
        );
        let list = dpo
            .get(&format!("/protokoll?benutzer={}", jc_admin()))
            .await;
        assert!(list.body.contains("Anmeldung erfolgreich"), "{backend:?}");

        outreach_store::testing::tamper_with_audit(
            &app.state.db,
            "UPDATE audit_events SET client = '10.0.0.66' WHERE seq = 1",
        )
        .await
        .unwrap();
        let broken = dpo.post("/protokoll/pruefen", &[]).await;
        assert!(
            broken.body.contains("Die Protokollkette ist verletzt"),
            "{backend:?}"
        );
        assert!(
            broken.body.contains("Nr. 1 (Inhalt wurde verändert)"),
            "{}",
            broken.body
        );

        let bad = dpo.get("/protokoll?von=31.02.2026").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("Dieses Datum gibt es nicht."));
    }
}

/// The attack of issue 21: the application's clock moved to 2099 (past the
/// fixtures' deletion deadline and every event's retention) must delete
/// nothing, nor end a session; a training server deletes nothing even what
/// is due; and a production server does delete what is due by the
/// database's clock, so that the test can see a deletion.
#[tokio::test]
async fn a_moved_clock_deletes_nothing_and_a_training_server_never_deletes() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        app.login(&username(Role::Dpo, Side::Own)).await;
        let before = stored(&app).await;
        assert!(before.0 > 0 && before.2 > 0, "{backend:?}: {before:?}");
        app.state.clock.advance(73 * 365 * 86_400);
        outreach_web::maintenance::daily(&app.state).await.unwrap();
        outreach_web::maintenance::remove_idle_sessions(&app.state)
            .await
            .unwrap();
        let after = stored(&app).await;
        assert_eq!(
            (after.0, after.2),
            (before.0, before.2),
            "{backend:?}: cases and sessions"
        );
        assert!(after.1 >= before.1, "{backend:?}: audit events {after:?}");

        let training = outreach_web::WebConfig {
            training: true,
            ..outreach_web::WebConfig::default()
        };
        let app = TestApp::with_config(backend, training).await;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let home = dpo.get("/").await;
        assert!(home.body.contains("Schulungsbetrieb"), "{backend:?}");
        deadline_passed(&app).await;
        let mut tx = app.state.db.begin().await.unwrap();
        tx.execute("UPDATE sessions SET last_seen_at = 0", vec![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let before = stored(&app).await;
        outreach_web::maintenance::daily(&app.state).await.unwrap();
        outreach_web::maintenance::remove_idle_sessions(&app.state)
            .await
            .unwrap();
        let after = stored(&app).await;
        assert_eq!((after.0, after.2), (before.0, before.2), "{backend:?}");

        let app = TestApp::new(backend).await;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        assert!(!dpo.get("/").await.body.contains("Schulungsbetrieb"));
        deadline_passed(&app).await;
        let before = stored(&app).await;
        outreach_web::maintenance::daily(&app.state).await.unwrap();
        let after = stored(&app).await;
        assert!(after.0 < before.0, "{backend:?}: {before:?} → {after:?}");
    }
}
