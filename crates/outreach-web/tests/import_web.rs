//! Customer import in the browser's HTTP flow: upload, dry run, result,
//! CSV of problems, confirm and discard — on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Client, Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::testing::backends;
use std::time::{Duration, Instant};

const FILE: &str = "Kundennummer;Nachname;Geburtsdatum;Telefon\nN1;Neu;01.01.1980;0208 1234567\nN2;;01.01.1981;\nN3;Auch;01.01.1982;keine\n";

/// Polls the status until the import finished; returns the job page.
async fn finished(client: &mut Client, job: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client.get(&format!("{job}/status")).await;
        let json: serde_json::Value = serde_json::from_str(&status.body).unwrap();
        if json["running"] == false {
            return client.get(job).await.body;
        }
        assert!(Instant::now() < deadline, "import still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn upload_dry_run_confirm_and_discard() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let page = admin.get("/kunden/import").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("enctype=\"multipart/form-data\""));

        let up = admin
            .post_multipart(
                "/kunden/import",
                &[
                    ("probelauf", None, b"1"),
                    ("datei", Some("export.csv"), FILE.as_bytes()),
                ],
            )
            .await;
        assert_eq!(up.status, StatusCode::SEE_OTHER, "{backend:?}: {}", up.body);
        let job = up.location().to_string();
        let result = finished(&mut admin, &job).await;
        assert!(
            result.contains("Probelauf abgeschlossen"),
            "{backend:?}: {result}"
        );
        assert!(result.contains("<dt>übernommen</dt><dd>2</dd>"), "{result}");
        assert!(result.contains("<dt>abgelehnt</dt><dd>1</dd>"));
        assert!(result.contains("Der Nachname fehlt."));
        assert!(result.contains("Das ist keine gültige Telefonnummer."));
        assert!(
            !admin.get("/kunden").await.body.contains("N1"),
            "a dry run stores nothing"
        );

        let csv = admin.get(&format!("{job}/meldungen.csv")).await;
        assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
        assert!(
            csv.body
                .starts_with("\u{feff}Art;Zeile;Kundennummer;Feld;Meldung")
        );
        assert!(
            csv.body
                .contains("abgelehnt;3;N2;Nachname;Der Nachname fehlt."),
            "{}",
            csv.body
        );

        // Another job center's admin can't see or run it.
        let mut foreign = app
            .login(&username(Role::JobcenterAdmin, Side::Foreign))
            .await;
        assert_eq!(foreign.get(&job).await.status, StatusCode::NOT_FOUND);
        assert_eq!(
            foreign.post(&format!("{job}/ausfuehren"), &[]).await.status,
            StatusCode::NOT_FOUND
        );

        let run = admin.post(&format!("{job}/ausfuehren"), &[]).await;
        assert_eq!(run.status, StatusCode::SEE_OTHER, "{backend:?}");
        let real = finished(&mut admin, run.location()).await;
        assert!(
            real.contains("Import abgeschlossen und gespeichert."),
            "{backend:?}: {real}"
        );
        let list = admin.get("/kunden").await;
        assert!(
            list.body.contains("N1") && list.body.contains("N3"),
            "{backend:?}"
        );

        // A newer export: N1 renamed, N3 gone.
        let newer =
            "Kundennummer;Nachname;Geburtsdatum;Telefon\nN1;Umbenannt;01.01.1980;0208 1234567\n";
        let up = admin
            .post_multipart(
                "/kunden/import",
                &[("datei", Some("neu.csv"), newer.as_bytes())],
            )
            .await;
        let done = finished(&mut admin, up.location()).await;
        assert!(
            done.contains("<dt>nicht mehr im Export</dt><dd>1</dd>"),
            "{backend:?}: {done}"
        );
        let missing = admin.get("/kunden?fehlend=1").await;
        assert!(
            missing.body.contains("N3") && !missing.body.contains(">N1<"),
            "{backend:?}"
        );
        assert!(missing.body.contains("nicht mehr im Export"));
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (n1,): (i64,) = tx
            .fetch_one(
                "SELECT id FROM customers WHERE customer_number = 'N1'",
                vec![],
            )
            .await
            .unwrap();
        drop(tx);
        let detail = admin.get(&format!("/kunden/{n1}")).await;
        assert!(
            detail.body.contains("Änderungen durch Importe"),
            "{backend:?}"
        );
        assert!(
            detail
                .body
                .contains("<td>Nachname</td><td>Neu</td><td>Umbenannt</td><td>neu.csv</td>"),
            "{}",
            detail.body
        );

        // Discarding a dry run removes it.
        let up = admin
            .post_multipart(
                "/kunden/import",
                &[
                    ("probelauf", None, b"1"),
                    ("datei", Some("x.csv"), FILE.as_bytes()),
                ],
            )
            .await;
        let job = up.location().to_string();
        finished(&mut admin, &job).await;
        let gone = admin.post(&format!("{job}/verwerfen"), &[]).await;
        assert_eq!(gone.location(), "/kunden/import?verworfen=1");
        assert_eq!(admin.get(&job).await.status, StatusCode::NOT_FOUND);

        // The import is audited without row content.
        let mut tx = app.state.db.begin_read().await.unwrap();
        let rows: Vec<(String, String)> = tx
            .fetch_all("SELECT record_id, fields FROM audit_events WHERE action = 'customer_import' ORDER BY seq", vec![])
            .await
            .unwrap();
        assert_eq!(rows.len(), 4, "{backend:?}: {rows:?}");
        assert!(
            rows.iter().all(|(_, fields)| !fields.contains("Neu")),
            "no row content in the audit"
        );
        assert!(rows[1].1.contains("neu 2"), "{rows:?}");
    }
}

#[tokio::test]
async fn bad_uploads_get_german_messages() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let empty = admin
            .post_multipart("/kunden/import", &[("datei", Some("leer.csv"), b"")])
            .await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(empty.body.contains("die gesendete Datei ist leer"));

        let up = admin
            .post_multipart(
                "/kunden/import",
                &[("datei", Some("falsch.csv"), b"Name;Ort\nA;B\n")],
            )
            .await;
        let page = finished(&mut admin, up.location()).await;
        assert!(
            page.contains("In der Kopfzeile fehlen Spalten: Kundennummer, Nachname, Geburtsdatum."),
            "{backend:?}: {page}"
        );

        // Without the token in the URL the upload is refused.
        let token = std::mem::take(&mut admin.csrf);
        let refused = admin
            .post_multipart(
                "/kunden/import",
                &[("datei", Some("x.csv"), FILE.as_bytes())],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        admin.csrf = token;
    }
}

/// Uploads hold social data: stored in the database (any server runs the
/// import), gone when the import ends; a dry run's upload stays for its
/// confirmation and goes when nobody confirms it within the hour (the
/// upkeep's sweep; here the job's end is moved back, not the clock). No
/// server keeps a file of it.
#[tokio::test]
async fn uploads_are_kept_in_the_database_only_while_needed() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let upload = |dry: bool| {
            let mut parts: Vec<(&str, Option<&str>, &[u8])> =
                vec![("datei", Some("export.csv"), FILE.as_bytes())];
            if dry {
                parts.insert(0, ("probelauf", None, b"1"));
            }
            parts
        };
        let uploads = || async {
            let mut tx = app.state.db.read().await.unwrap();
            let (n,): (i64,) = tx
                .fetch_one(
                    "SELECT COUNT(*) FROM job_chunks WHERE part = 'upload'",
                    vec![],
                )
                .await
                .unwrap();
            n
        };
        let up = admin.post_multipart("/kunden/import", &upload(false)).await;
        let job = up.location().to_string();
        finished(&mut admin, &job).await;
        assert_eq!(
            uploads().await,
            0,
            "{backend:?}: the upload of an import that ended stays"
        );
        assert!(outreach_web::maintenance::spooled_files(&app.state).is_empty());

        let up = admin.post_multipart("/kunden/import", &upload(true)).await;
        let job = up.location().to_string();
        finished(&mut admin, &job).await;
        assert_eq!(
            uploads().await,
            1,
            "{backend:?}: the dry run keeps its upload"
        );
        assert!(outreach_web::maintenance::spooled_files(&app.state).is_empty());

        // Within the hour nothing goes; after it, the upload and the job.
        outreach_web::maintenance::sweep_jobs(&app.state).await;
        assert_eq!(uploads().await, 1, "{backend:?}");
        let mut tx = app.state.db.begin().await.unwrap();
        tx.execute("UPDATE jobs SET finished_at = finished_at - 3601", vec![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        outreach_web::maintenance::sweep_jobs(&app.state).await;
        assert_eq!(uploads().await, 0, "{backend:?}");
        assert_eq!(
            admin.get(&job).await.status,
            StatusCode::NOT_FOUND,
            "{backend:?}"
        );
    }
}

/// The upload's CSRF token is the form's first field, never in the URL: the
/// page's form has none in its action, a token in the URL opens nothing,
/// and a wrong or missing first field is refused.
#[tokio::test]
async fn the_upload_token_is_a_form_field_not_in_the_url() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let page = admin.get("/kunden/import").await;
        assert!(
            page.body.contains("action=\"/kunden/import\""),
            "{}",
            page.body
        );
        assert!(!page.body.contains("?csrf="));
        let file: (&str, Option<&str>, &[u8]) = ("datei", Some("export.csv"), FILE.as_bytes());
        let csrf = admin.csrf.clone();
        let in_url = admin
            .post_multipart_raw(&format!("/kunden/import?csrf={csrf}"), &[file])
            .await;
        assert_eq!(in_url.status, StatusCode::FORBIDDEN, "{backend:?}");
        let wrong = admin
            .post_multipart_raw("/kunden/import", &[("csrf", None, b"falsch"), file])
            .await;
        assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{backend:?}");
        let later = admin
            .post_multipart_raw("/kunden/import", &[file, ("csrf", None, csrf.as_bytes())])
            .await;
        assert_eq!(
            later.status,
            StatusCode::FORBIDDEN,
            "{backend:?}: only the first field counts"
        );
        let right = admin.post_multipart("/kunden/import", &[file]).await;
        assert_eq!(
            right.status,
            StatusCode::SEE_OTHER,
            "{backend:?}: {}",
            right.body
        );
    }
}
