//! Jobs whose server died, on both databases: this app's worker takes a
//! running import over once its lease lapsed and applies it once; an
//! import the dead server had stored already ends as done without running
//! again; a job begun too often fails with a German message and stores
//! nothing. The dead server is a job row leased to an owner that no longer
//! renews its lease (as `kill -9` leaves it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Client, Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::jobs::{self, Kind, NewJob, Part};
use outreach_store::testing::backends;
use outreach_store::{Db, args};
use std::time::{Duration, Instant};

const FILE: &str =
    "Kundennummer;Nachname;Geburtsdatum\nT1;Eins;01.01.1980\nT2;Zwei;01.01.1981\nT3;;01.01.1982\n";

/// An import job of `app`'s own job center with `FILE` as its upload,
/// leased to a server that stopped renewing the lease a minute ago,
/// `attempts` times begun.
async fn dead_servers_import(app: &TestApp, attempts: i32) -> String {
    let db = &app.state.db;
    let admin = username(Role::JobcenterAdmin, Side::Own);
    let mut tx = db.read().await.unwrap();
    let (user_id,): (i64,) = tx
        .fetch_one("SELECT id FROM users WHERE username = $1", args![&admin])
        .await
        .unwrap();
    drop(tx);
    let job = NewJob {
        id: outreach_store::random_token(16),
        kind: Kind::Import,
        job_center_id: app.fixtures.jc_a,
        user_id: Some(user_id),
        username: admin,
        role: "jobcenter_admin".into(),
        client: "10.0.0.9".into(),
        file_name: "export.csv".into(),
        params: "{\"dry_run\":false}".into(),
        progress_total: 0,
    };
    jobs::create(db, &job, false).await.unwrap();
    jobs::append_chunk(db, &job.id, Part::Upload, 0, FILE.as_bytes().to_vec())
        .await
        .unwrap();
    let mut tx = db.begin().await.unwrap();
    let now = jobs::now(&mut tx).await.unwrap();
    tx.execute(
        "UPDATE jobs SET state = 'running', owner = 'gestorbener-server', heartbeat_at = $2,
                started_at = $2, attempts = $3, input_size = $4 WHERE id = $1",
        args![&job.id, now - 60, i64::from(attempts), FILE.len() as i64],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    app.state.jobs_wake.notify_one();
    job.id
}

/// Polls the job's page until it is no longer running.
async fn ended(client: &mut Client, id: &str) -> String {
    let page = format!("/kunden/import/{id}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.get(&format!("{page}/status")).await;
        let json: serde_json::Value = serde_json::from_str(&status.body).unwrap();
        if json["running"] == false {
            return client.get(&page).await.body;
        }
        assert!(Instant::now() < deadline, "job still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn count(db: &Db, sql: &'static str, id: &str) -> i64 {
    let mut tx = db.read().await.unwrap();
    let (n,): (i64,) = tx.fetch_one(sql, args![id]).await.unwrap();
    n
}

const CUSTOMERS: &str =
    "SELECT COUNT(*) FROM customers WHERE customer_number IN ('T1', 'T2', 'T3') AND $1 <> ''";
const IMPORTS: &str = "SELECT COUNT(*) FROM imports WHERE job_id = $1";
const UPLOADS: &str = "SELECT COUNT(*) FROM job_chunks WHERE job_id = $1 AND part = 'upload'";

#[tokio::test]
async fn an_import_whose_server_died_is_taken_over_and_applied_once() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let id = dead_servers_import(&app, 1).await;
        let page = ended(&mut admin, &id).await;
        assert!(
            page.contains("Import abgeschlossen und gespeichert"),
            "{backend:?}: {page}"
        );
        assert!(page.contains("<dt>übernommen</dt><dd>2</dd>"), "{page}");
        assert!(page.contains("Der Nachname fehlt."), "{page}");
        let db = &app.state.db;
        assert_eq!(count(db, CUSTOMERS, &id).await, 2, "{backend:?}");
        assert_eq!(count(db, IMPORTS, &id).await, 1, "{backend:?}");
        assert_eq!(
            count(db, UPLOADS, &id).await,
            0,
            "{backend:?}: the upload stays"
        );
        let mut tx = db.read().await.unwrap();
        let job = jobs::get(&mut tx, &id).await.unwrap().unwrap();
        assert_eq!(job.attempts, 2, "{backend:?}");
        assert_ne!(job.owner.as_deref(), Some("gestorbener-server"));
        // The import's audit event names the one who uploaded, not the server.
        let (who,): (String,) = tx
            .fetch_one(
                "SELECT username FROM audit_events WHERE action = 'customer_import' ORDER BY id DESC LIMIT 1",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            who,
            username(Role::JobcenterAdmin, Side::Own),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn an_import_stored_before_its_server_died_is_not_applied_again() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let id = dead_servers_import(&app, 1).await;
        // The dead server got as far as committing the import; here it is
        // stored before the worker can take the job (the job was leased
        // already, so the worker can't have run it yet: it waits for the
        // lease to lapse, which it has — hence the lease is renewed first).
        let db = &app.state.db;
        let mut tx = db.begin().await.unwrap();
        let now = jobs::now(&mut tx).await.unwrap();
        tx.execute(
            "UPDATE jobs SET heartbeat_at = $2 WHERE id = $1",
            args![&id, now + 3600],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let import = outreach_app::imports::Import {
            job_center_id: app.fixtures.jc_a,
            file_name: "export.csv".into(),
            dry_run: false,
            job_id: Some(id.clone()),
        };
        let open = || Ok(std::io::Cursor::new(FILE.as_bytes().to_vec()));
        let today = outreach_core::date::berlin_date(now);
        outreach_app::imports::run(
            db,
            outreach_app::Source::CommandLine,
            import,
            open,
            |_| {},
            today,
            now,
        )
        .await
        .unwrap();
        assert_eq!(count(db, CUSTOMERS, &id).await, 2, "{backend:?}");
        // Then the server died: its lease lapses.
        let mut tx = db.begin().await.unwrap();
        tx.execute(
            "UPDATE jobs SET heartbeat_at = $2 WHERE id = $1",
            args![&id, now - 60],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        app.state.jobs_wake.notify_one();
        let page = ended(&mut admin, &id).await;
        assert!(
            page.contains("Import abgeschlossen und gespeichert"),
            "{backend:?}: {page}"
        );
        assert!(page.contains("fiel danach aus"), "{backend:?}: {page}");
        assert!(page.contains("<dt>übernommen</dt><dd>2</dd>"), "{page}");
        assert_eq!(
            count(db, IMPORTS, &id).await,
            1,
            "{backend:?}: applied twice"
        );
        assert_eq!(count(db, UPLOADS, &id).await, 0, "{backend:?}");
    }
}

#[tokio::test]
async fn a_job_begun_too_often_fails_in_german_and_stores_nothing() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let id = dead_servers_import(&app, outreach_app::jobs::MAX_ATTEMPTS).await;
        let page = ended(&mut admin, &id).await;
        assert!(
            page.contains("durch einen Serverausfall unterbrochen"),
            "{backend:?}: {page}"
        );
        assert!(page.contains("es wurde nichts gespeichert"), "{page}");
        let db = &app.state.db;
        assert_eq!(count(db, CUSTOMERS, &id).await, 0, "{backend:?}");
        assert_eq!(count(db, IMPORTS, &id).await, 0, "{backend:?}");
        assert_eq!(
            count(db, UPLOADS, &id).await,
            0,
            "{backend:?}: the upload stays"
        );
    }
}

#[tokio::test]
async fn another_job_centers_job_is_not_found() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let id = dead_servers_import(&app, 1).await;
        let mut other = app
            .login(&username(Role::JobcenterAdmin, Side::Foreign))
            .await;
        let page = other.get(&format!("/kunden/import/{id}")).await;
        assert_eq!(
            page.status,
            axum::http::StatusCode::NOT_FOUND,
            "{backend:?}"
        );
        let csv = other
            .get(&format!("/kunden/import/{id}/meldungen.csv"))
            .await;
        assert_eq!(csv.status, axum::http::StatusCode::NOT_FOUND, "{backend:?}");
    }
}

/// The Art. 15 disclosure lists each job that holds the person while it
/// does: a dry run's stored upload with their customer number; once it is
/// discarded, none.
#[tokio::test]
async fn the_access_request_lists_the_jobs_holding_the_person() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let file = "Kundennummer;Nachname;Geburtsdatum\nA000001;Anders;01.01.1980\n";
        let up = admin
            .post_multipart(
                "/kunden/import",
                &[
                    ("datei", Some("auskunft-export.csv"), file.as_bytes()),
                    ("probelauf", None, b"1"),
                ],
            )
            .await;
        let job = up
            .location()
            .trim_start_matches("/kunden/import/")
            .to_string();
        let page = ended(&mut admin, &job).await;
        assert!(
            page.contains("Probelauf abgeschlossen"),
            "{backend:?}: {page}"
        );

        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let customer = app.fixtures.customer_a;
        let disclosure = dpo.get(&format!("/auskunft/{customer}")).await;
        assert_eq!(disclosure.status, axum::http::StatusCode::OK, "{backend:?}");
        assert!(
            disclosure
                .body
                .contains("Arbeiten, die die Daten gerade enthalten"),
            "{backend:?}"
        );
        assert!(
            disclosure
                .body
                .contains("Kundenimport (hochgeladene Exportdatei)"),
            "{backend:?}: {}",
            disclosure.body
        );
        assert!(
            disclosure.body.contains("auskunft-export.csv"),
            "{backend:?}"
        );
        let json = dpo
            .get(&format!("/auskunft/{customer}/auskunft.json"))
            .await;
        assert!(
            json.body.contains("auskunft-export.csv"),
            "{backend:?}: {}",
            json.body
        );

        // Another person of the same job center is not in that file.
        let mut tx = app.state.db.read().await.unwrap();
        let (second,): (i64,) = tx
            .fetch_one(
                "SELECT id FROM customers WHERE customer_number = 'A000002'",
                vec![],
            )
            .await
            .unwrap();
        drop(tx);
        let other = dpo.get(&format!("/auskunft/{second}")).await;
        assert_eq!(other.status, axum::http::StatusCode::OK, "{backend:?}");
        assert!(!other.body.contains("auskunft-export.csv"), "{backend:?}");

        // Discarded: the upload is gone, and so is the entry.
        let discard = admin
            .post(&format!("/kunden/import/{job}/verwerfen"), &[])
            .await;
        assert_eq!(
            discard.status,
            axum::http::StatusCode::SEE_OTHER,
            "{backend:?}"
        );
        let after = dpo.get(&format!("/auskunft/{customer}")).await;
        assert!(!after.body.contains("auskunft-export.csv"), "{backend:?}");
    }
}
