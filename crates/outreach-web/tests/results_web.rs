//! The results inbox over HTTP on both databases: the case manager sees
//! their own customers' results (and one reassigned to them), nothing of
//! another job center; reads, acknowledgements, disputes and exports are
//! audited; forms need their CSRF token; bad input gets a German message;
//! the export marks results handed over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Side, TestApp, username};
use outreach_core::access::Role;
use outreach_core::customer::Field as StoredField;
use outreach_core::guide::Field;
use outreach_core::guide::session::{Change, Flags};
use outreach_store::testing::backends;
use outreach_store::{Tx, args};

async fn audit_count(app: &TestApp, action: &str, record: i64) -> i64 {
    let mut tx = app.state.db.begin_read().await.unwrap();
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM audit_events WHERE action = $1 AND record_id = $2",
            args![action, record.to_string()],
        )
        .await
        .unwrap();
    n
}

/// A finished conversation for customer A000001 in a running campaign,
/// with a new phone number (its display as results stored it before
/// numbers were grouped: E.164); returns the case.
async fn result_with_new_phone(app: &TestApp) -> i64 {
    let changes = [Change {
        field: Field::Stored(StoredField::Phone),
        question: "telefon".into(),
        old: "+492081234567".into(),
        new: "+491709876543".into(),
        old_display: "+492081234567".into(),
        new_display: "+491709876543".into(),
    }];
    let flags = Flags {
        contact_updated: true,
        wants_appointment: true,
        ..Flags::default()
    };
    common::finished_result(app, "updated", &changes, &flags).await
}

#[tokio::test]
async fn the_case_manager_reads_acknowledges_and_disputes() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let case = result_with_new_phone(&app).await;
        let reassigned = app.fixtures.result_case;

        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        let list = pap.get("/ergebnisse").await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.body);
        assert!(list.body.contains("A000001"), "{}", list.body);
        assert!(list.body.contains("A000002"), "reassigned to PAP1");
        assert!(list.body.contains("persönliche Einladung erwägen"));
        assert!(list.body.contains("Termin gewünscht"));
        assert!(list.body.contains("2 Fälle"), "{}", list.body);
        let filtered = pap.get("/ergebnisse?merkmal=refused").await;
        assert!(filtered.body.contains("1 Fälle") && filtered.body.contains("A000002"));
        assert!(!filtered.body.contains(&format!("/ergebnisse/{case}\"")));

        // Another job center's pAp with the same Kennung sees nothing.
        let mut foreign = app.login(&username(Role::CaseManager, Side::Foreign)).await;
        let theirs = foreign.get("/ergebnisse").await;
        assert!(
            theirs.body.contains("Keine abgeschlossenen Fälle"),
            "{}",
            theirs.body
        );
        assert_eq!(
            foreign.get(&format!("/ergebnisse/{case}")).await.status,
            StatusCode::NOT_FOUND
        );
        foreign.refresh_csrf().await;
        let ack = foreign
            .post(&format!("/ergebnisse/{case}/kenntnis"), &[])
            .await;
        assert_eq!(ack.status, StatusCode::NOT_FOUND);

        // The detail: old → new, audited, read.
        let page = pap.get(&format!("/ergebnisse/{case}")).await;
        assert_eq!(page.status, StatusCode::OK);
        // Numbers as a person reads them, also in a result stored before.
        assert!(
            page.body.contains("<td>0208 1234567</td>")
                && page.body.contains("<td>0170 9876543</td>"),
            "{}",
            page.body
        );
        assert!(!page.body.contains("+49"), "{}", page.body);
        assert!(page.body.contains("Gespräch geführt, Daten aktualisiert"));
        assert_eq!(audit_count(&app, "result_read", case).await, 1);
        let unread = pap.get("/ergebnisse?ungelesen=1").await;
        assert!(
            !unread.body.contains(&format!("/ergebnisse/{case}\"")),
            "read now"
        );

        // Forms need the CSRF token.
        let forged = pap
            .post_raw(&format!("/ergebnisse/{case}/kenntnis"), &[])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        assert_eq!(audit_count(&app, "result_acknowledge", case).await, 0);
        pap.csrf = common::csrf_in(&page.body);
        let ack = pap.post(&format!("/ergebnisse/{case}/kenntnis"), &[]).await;
        assert_eq!(ack.status, StatusCode::SEE_OTHER);
        let page = pap.get(ack.location()).await;
        assert!(page.body.contains("als zur Kenntnis genommen vermerkt"));
        assert!(page.body.contains("von Test pAp"), "{}", page.body);
        assert_eq!(audit_count(&app, "result_acknowledge", case).await, 1);

        // A field that did not change can't be disputed; the phone can.
        let wrong = pap
            .post(
                &format!("/ergebnisse/{case}/bestritten"),
                &[("feld", "email"), ("notiz", "")],
            )
            .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            wrong.body.contains(
                "Feld: Bitte wählen Sie einen Wert, der in diesem Gespräch geändert wurde."
            )
        );
        let long = "x".repeat(501);
        let too_long = pap
            .post(
                &format!("/ergebnisse/{case}/bestritten"),
                &[("feld", "phone"), ("notiz", &long)],
            )
            .await;
        assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(audit_count(&app, "result_dispute", case).await, 0);
        let disputed = pap
            .post(
                &format!("/ergebnisse/{case}/bestritten"),
                &[("feld", "phone"), ("notiz", "<b>alte Nummer</b>")],
            )
            .await;
        assert_eq!(disputed.status, StatusCode::SEE_OTHER);
        let page = pap.get(disputed.location()).await;
        assert!(
            page.body
                .contains("<strong>bestritten</strong>: &#60;b&#62;alte Nummer"),
            "{}",
            page.body
        );
        assert!(page.body.contains("0170 9876543"), "the value stays");
        assert_eq!(audit_count(&app, "result_dispute", case).await, 1);

        // The refusal reassigned to this pAp: a task, never a negative mark.
        let refusal = pap.get(&format!("/ergebnisse/{reassigned}")).await;
        assert_eq!(refusal.status, StatusCode::OK);
        assert!(
            refusal
                .body
                .contains("Aufgabe: persönliche Einladung erwägen")
        );
        assert!(!refusal.body.to_lowercase().contains("mitwirkungsverstoß"));
    }
}

#[tokio::test]
async fn the_administration_exports_and_reassigns() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let case = result_with_new_phone(&app).await;
        let (campaign,): (i64,) = {
            let mut tx = app.state.db.begin_read().await.unwrap();
            tx.fetch_one("SELECT campaign_id FROM cases WHERE id = $1", args![case])
                .await
                .unwrap()
        };
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let form = admin.get("/ergebnisse/export").await;
        assert_eq!(form.status, StatusCode::OK);
        admin.csrf = common::csrf_in(&form.body);
        let id = campaign.to_string();
        let bad = admin
            .post(
                "/ergebnisse/export",
                &[("aktion", &id), ("seit", "31.02.2027"), ("format", "csv")],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body
                .contains("abgeschlossen seit: Bitte geben Sie das Datum als TT.MM.JJJJ an")
        );
        assert_eq!(audit_count(&app, "result_export", campaign).await, 0);

        let csv = admin
            .post(
                "/ergebnisse/export",
                &[("aktion", &id), ("seit", ""), ("format", "csv")],
            )
            .await;
        assert_eq!(csv.status, StatusCode::OK, "{}", csv.body);
        assert!(csv.header("content-type").starts_with("text/csv"));
        assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"));
        assert_eq!(csv.body.matches(";+492081234567;+491709876543;").count(), 1);
        assert!(
            csv.body
                .contains("A000001;Winter 2027;Gespräch geführt, Daten aktualisiert;updated;")
        );
        assert_eq!(audit_count(&app, "result_export", campaign).await, 1);
        let page = admin.get(&format!("/ergebnisse/{case}")).await;
        assert!(
            !page.body.contains("übergeben</dt><dd>noch nicht"),
            "handed over now"
        );

        let json = admin
            .post("/ergebnisse/export", &[("aktion", &id), ("format", "json")])
            .await;
        assert_eq!(json.status, StatusCode::OK);
        let records: serde_json::Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(records[0]["customer_number"], "A000001");
        assert_eq!(records[0]["changes"][0]["new"], "+491709876543");

        // Another job center's administration can't export this campaign.
        let mut foreign = app
            .login(&username(Role::JobcenterAdmin, Side::Foreign))
            .await;
        let theirs = foreign
            .post("/ergebnisse/export", &[("aktion", &id), ("format", "csv")])
            .await;
        assert_eq!(theirs.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            theirs
                .body
                .contains("Bitte wählen Sie eine Aktion Ihres Jobcenters.")
        );

        // Reassignment: only to a pAp-Kennung of the job center.
        let nobody = admin
            .post(&format!("/ergebnisse/{case}/zuweisen"), &[("pap", "PAP9")])
            .await;
        assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(nobody.body.contains("pAp-Kennung: Bitte wählen Sie"));
        let moved = admin
            .post(&format!("/ergebnisse/{case}/zuweisen"), &[("pap", "PAP1")])
            .await;
        assert_eq!(moved.status, StatusCode::SEE_OTHER);
        assert_eq!(audit_count(&app, "result_reassign", case).await, 1);
    }
}

#[tokio::test]
async fn the_report_shows_the_conversation_to_admin_and_supervisor_only() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        result_with_new_phone(&app).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let page = admin.get("/berichte").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        // Two final cases: the conversation (I) and the fixture refusal (R).
        assert!(
            page.body
                .contains("<td>RR1 (Antwortquote)</td><td>50,0 %</td>"),
            "{}",
            page.body
        );
        assert!(
            page.body
                .contains("<td>COOP1 (Kooperationsquote)</td><td>50,0 %</td>")
        );
        assert!(
            page.body
                .contains("<td>Telefon</td><td>1</td><td>100,0 %</td>")
        );
        assert!(page.body.contains("<svg role=\"img\""));
        assert!(page.body.contains("Vergleichswert der Aktion 2005"));
        assert!(!page.body.contains("Mustermann"), "no names in reports");
        let csv = admin.get("/berichte/tabelle.csv?tabelle=ergebnisse").await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(csv.bytes.starts_with(b"\xEF\xBB\xBF"));
        assert!(csv.body.contains("Ergebnis;AAPOR-Klasse;Fälle;Anteil"));
        assert!(
            csv.body
                .contains("Gespräch geführt, Daten aktualisiert;I;1;50,0 %"),
            "{}",
            csv.body
        );
        assert_eq!(
            admin
                .get("/berichte/tabelle.csv?tabelle=unbekannt")
                .await
                .status,
            StatusCode::NOT_FOUND
        );

        // The service center carrying out the mandate sees the campaign it
        // calls for (not the fixture campaign's refusal: that one is closed
        // and under the same mandate, so it counts too).
        let mut supervisor = app.login(&username(Role::Supervisor, Side::Own)).await;
        let theirs = supervisor.get("/berichte").await;
        assert!(
            theirs
                .body
                .contains("<td>RR1 (Antwortquote)</td><td>50,0 %</td>"),
            "{}",
            theirs.body
        );
        // Another service center and another job center see nothing of it.
        for role in [Role::Supervisor, Role::JobcenterAdmin] {
            let mut foreign = app.login(&username(role, Side::Foreign)).await;
            let nothing = foreign.get("/berichte").await;
            assert!(
                nothing
                    .body
                    .contains("<td>RR1 (Antwortquote)</td><td>–</td>"),
                "{}",
                nothing.body
            );
        }
        // Case managers and agents get no reports.
        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        assert_eq!(pap.get("/berichte").await.status, StatusCode::FORBIDDEN);
    }
}

/// A working day at least a week after the app's today, as TT.MM.JJJJ.
fn appointment_day(app: &TestApp) -> String {
    let mut day = outreach_core::date::berlin_date(app.state.clock.now())
        .checked_add(jiff::Span::new().days(7))
        .unwrap();
    while matches!(
        day.weekday(),
        jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
    ) {
        day = day.tomorrow().unwrap();
    }
    outreach_core::date::format_de_date(day)
}

#[tokio::test]
async fn the_pap_invites_after_a_refusal() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let case = app.fixtures.result_case;
        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        let form = pap.get(&format!("/ergebnisse/{case}/einladung")).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        pap.csrf = common::csrf_in(&form.body);
        let day = appointment_day(&app);
        let fields = |purpose: &'static str, date: String| {
            vec![
                ("zweck", purpose.to_string()),
                ("datum", date),
                ("uhrzeit", "09:30".to_string()),
                (
                    "ort",
                    "Jobcenter A, Marktstraße 1, 46045 Oberhausen".to_string(),
                ),
                ("raum", "2.14".to_string()),
                ("ansprechperson", "Frau Beispiel".to_string()),
                ("telefon", "0208 12345-214".to_string()),
                ("unterlagen", "Personalausweis\nLebenslauf".to_string()),
            ]
        };
        // Without a purpose, and without a date: refused, nothing stored.
        for (purpose, date, message) in [
            (
                "",
                day.clone(),
                "Zweck: Bitte wählen Sie einen der fünf Zwecke",
            ),
            (
                "placement",
                String::new(),
                "Datum: Bitte geben Sie das Datum des Termins an",
            ),
        ] {
            let f = fields(purpose, date);
            let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let refused = pap
                .post(&format!("/ergebnisse/{case}/einladung"), &pairs)
                .await;
            assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
            assert!(refused.body.contains(message), "{}", refused.body);
        }
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (stored,): (i64,) = tx
            .fetch_one("SELECT COUNT(*) FROM invitations", args![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(stored, 0);

        let f = fields("placement", day.clone());
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let made = pap
            .post(&format!("/ergebnisse/{case}/einladung"), &pairs)
            .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
        let page = pap.get(made.location()).await;
        assert!(page.body.contains("Die Einladung ist erstellt"));
        assert!(page.body.contains("Vermittlung in Ausbildung oder Arbeit"));
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (id, notice): (i64, String) = tx
            .fetch_one("SELECT id, legal_notice_version FROM invitations", args![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(notice, "rfb-2023-01");
        assert_eq!(audit_count(&app, "invitation_create", id).await, 1);
        let pdf = pap.get(&format!("/einladungen/{id}/brief.pdf")).await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert!(pdf.bytes.starts_with(b"%PDF"));
        assert_eq!(pdf.header("content-type"), "application/pdf");
        // The day's list and its one PDF.
        let list = pap.get("/einladungen").await;
        assert!(list.body.contains("A000002"), "{}", list.body);
        let all = pap.get("/einladungen/tag.pdf").await;
        assert!(all.bytes.starts_with(b"%PDF"));
        // Another job center's pAp sees none of it.
        let mut foreign = app.login(&username(Role::CaseManager, Side::Foreign)).await;
        assert_eq!(
            foreign
                .get(&format!("/einladungen/{id}/brief.pdf"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            foreign
                .get(&format!("/ergebnisse/{case}/einladung"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

/// A request to the API with an optional bearer token.
async fn api(
    client: &mut common::Client,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> common::Response {
    let mut request = axum::http::Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    client
        .send(
            request
                .body(axum::body::Body::from(body.to_string()))
                .unwrap(),
        )
        .await
}

fn token_in(body: &str) -> String {
    body.split("<code id=\"token\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_api_imports_and_hands_over_with_a_token_only() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let case = result_with_new_phone(&app).await;
        let (campaign,): (i64,) = {
            let mut tx = app.state.db.begin_read().await.unwrap();
            tx.fetch_one("SELECT campaign_id FROM cases WHERE id = $1", args![case])
                .await
                .unwrap()
        };
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let empty = admin.post("/api-zugang", &[("name", "")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            empty
                .body
                .contains("Fehler: Bitte geben Sie eine Bezeichnung")
        );
        let made = admin
            .post(
                "/api-zugang",
                &[
                    ("name", "Fachverfahren"),
                    ("recht_import", "1"),
                    ("recht_results", "1"),
                ],
            )
            .await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        let token = token_in(&made.body);
        assert!(token.starts_with("oat_"), "{}", made.body);
        // Shown once: the list shows the name, never the token.
        let list = admin.get("/api-zugang").await;
        assert!(list.body.contains("Fachverfahren") && !list.body.contains(&token));

        let mut anyone = app.client();
        let path = format!("/api/v1/ergebnisse?aktion={campaign}");
        let denied = api(&mut anyone, "GET", &path, None, "").await;
        assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
        assert!(
            denied.body.contains("\"fehler\":\"Zugangstoken fehlt"),
            "{}",
            denied.body
        );
        let wrong = api(&mut anyone, "GET", &path, Some("oat_falsch"), "").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

        let fetched = api(&mut anyone, "GET", &path, Some(&token), "").await;
        assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
        let records: serde_json::Value = serde_json::from_str(&fetched.body).unwrap();
        assert_eq!(records[0]["customer_number"], "A000001");
        assert_eq!(records[0]["changes"][0]["new"], "+491709876543");
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (by_api,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'result_export' AND username = 'api:Fachverfahren'",
                args![],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(by_api, 1);
        let bad_day = api(
            &mut anyone,
            "GET",
            &format!("{path}&seit=gestern"),
            Some(&token),
            "",
        )
        .await;
        assert_eq!(bad_day.status, StatusCode::BAD_REQUEST);

        // Another job center's token finds no such campaign.
        let mut foreign = app
            .login(&username(Role::JobcenterAdmin, Side::Foreign))
            .await;
        let theirs = token_in(
            &foreign
                .post("/api-zugang", &[("name", "B"), ("recht_results", "1")])
                .await
                .body,
        );
        let other = api(&mut anyone, "GET", &path, Some(&theirs), "").await;
        assert_eq!(other.status, StatusCode::NOT_FOUND);

        // An import as a dry run; an unreadable file is a German 422.
        let csv = "Kundennummer;Nachname;Geburtsdatum\nZ1;Zett;01.01.1980\n";
        let report = api(
            &mut anyone,
            "POST",
            "/api/v1/kunden/import?probelauf=1",
            Some(&token),
            csv,
        )
        .await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.body);
        let report: serde_json::Value = serde_json::from_str(&report.body).unwrap();
        assert_eq!(report["rows"], 1);
        assert_eq!(report["accepted"], 1);
        assert_eq!(report["dry_run"], true);
        let broken = api(
            &mut anyone,
            "POST",
            "/api/v1/kunden/import",
            Some(&token),
            "Name;Ort\nx;y\n",
        )
        .await;
        assert_eq!(
            broken.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            broken.body
        );
        assert!(broken.body.contains("\"fehler\""));

        // Revoked: nothing opens any more.
        let (id,): (i64,) = {
            let mut tx = app.state.db.begin_read().await.unwrap();
            tx.fetch_one(
                "SELECT id FROM api_tokens WHERE name = 'Fachverfahren'",
                args![],
            )
            .await
            .unwrap()
        };
        admin.refresh_csrf().await;
        let revoked = admin
            .post(&format!("/api-zugang/{id}/widerrufen"), &[])
            .await;
        assert_eq!(revoked.status, StatusCode::SEE_OTHER);
        let after = api(&mut anyone, "GET", &path, Some(&token), "").await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);

        let doc = anyone.get("/api/v1/openapi.json").await;
        let doc: serde_json::Value = serde_json::from_str(&doc.body).unwrap();
        assert_eq!(doc["openapi"], "3.0.3");
        assert!(doc["paths"]["/api/v1/ergebnisse"]["get"].is_object());
    }
}

#[tokio::test]
async fn an_invitation_takes_a_free_slot_once() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let case = app.fixtures.result_case;
        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        let page = pap.get("/termine").await;
        assert_eq!(page.status, StatusCode::OK);
        pap.csrf = common::csrf_in(&page.body);
        let day = appointment_day(&app);
        let bad = pap
            .post(
                "/termine",
                &[
                    ("datum", "32.01.2027"),
                    ("uhrzeit", "10:00"),
                    ("ort", "Marktstraße 1"),
                    ("raum", "1"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body
                .contains("Datum: Bitte geben Sie das Datum als TT.MM.JJJJ an")
        );
        let added = pap
            .post(
                "/termine",
                &[
                    ("datum", &day),
                    ("uhrzeit", "10:15"),
                    ("ort", "Marktstraße 1, Oberhausen"),
                    ("raum", "3.01"),
                ],
            )
            .await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
        let twice = pap
            .post(
                "/termine",
                &[
                    ("datum", &day),
                    ("uhrzeit", "10:15"),
                    ("ort", "Marktstraße 1, Oberhausen"),
                    ("raum", "3.01"),
                ],
            )
            .await;
        assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (slot,): (i64,) = tx
            .fetch_one("SELECT id FROM appointment_slots", args![])
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let form = pap.get(&format!("/ergebnisse/{case}/einladung")).await;
        assert!(form.body.contains("Einer meiner freien Termine"));
        assert!(
            form.body
                .contains("10:15 Uhr, Marktstraße 1, Oberhausen, Raum 3.01")
        );
        let slot_id = slot.to_string();
        let fields = [
            ("termin", slot_id.as_str()),
            ("zweck", "career_guidance"),
            ("datum", ""),
            ("uhrzeit", ""),
            ("ort", ""),
            ("raum", ""),
            ("ansprechperson", "Frau Beispiel"),
        ];
        let made = pap
            .post(&format!("/ergebnisse/{case}/einladung"), &fields)
            .await;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (time, room, taken): (String, String, Option<i64>) = tx
            .fetch_one(
                "SELECT i.appointment_time, i.room, s.invitation_id FROM invitations i
                 JOIN appointment_slots s ON s.invitation_id = i.id",
                args![],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!((time.as_str(), room.as_str()), ("10:15", "3.01"));
        assert!(taken.is_some());
        // The slot is gone from the choice; using it again is refused.
        let again = pap
            .post(&format!("/ergebnisse/{case}/einladung"), &fields)
            .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(again.body.contains("Dieser Termin ist nicht mehr frei"));
        let list = pap.get("/termine").await;
        assert!(list.body.contains("vergeben"));
        // Another pAp can't remove or use it.
        let mut other = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let removed = other.post(&format!("/termine/{slot}/entfernen"), &[]).await;
        assert_eq!(removed.status, StatusCode::NOT_FOUND);
    }
}

/// CSV formula injection (issue 21): hostile values from an upload's file
/// name, an import's rejected row, a campaign's name and a conversation's
/// answer reach no export as a formula; phone numbers stay as they are.
#[tokio::test]
async fn every_csv_export_neutralises_formula_cells() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let case = result_with_new_phone(&app).await;
        let mut tx: Tx = app.state.db.begin().await.unwrap();
        let (campaign,): (i64,) = tx
            .fetch_one("SELECT campaign_id FROM cases WHERE id = $1", args![case])
            .await
            .unwrap();
        tx.execute(
            "UPDATE campaigns SET name = '=1+2 Aktion' WHERE id = $1",
            args![campaign],
        )
        .await
        .unwrap();
        let changes = serde_json::to_string(&[
            Change {
                field: Field::Stored(StoredField::Phone),
                question: "telefon".into(),
                old: "+492081234567".into(),
                new: "+491709876543".into(),
                old_display: "+49 208 1234567".into(),
                new_display: "+49 170 9876543".into(),
            },
            Change {
                field: Field::Stored(StoredField::TargetOccupation),
                question: "zielberuf".into(),
                old: "Koch".into(),
                new: "@SUM(1+1)*cmd|' /C calc'!A0".into(),
                old_display: "Koch".into(),
                new_display: "@SUM(1+1)*cmd|' /C calc'!A0".into(),
            },
        ])
        .unwrap();
        tx.execute(
            "UPDATE results SET changes = $2 WHERE case_id = $1",
            args![case, changes],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let hostile_file = "=1+2+cmd|' /C calc'!A0.csv";
        let upload = admin
            .post_multipart(
                "/kunden/import",
                &[
                    ("probelauf", None, b"1"),
                    (
                        "datei",
                        Some(hostile_file),
                        b"Kundennummer;Nachname;Geburtsdatum\n=1+2;Muster;01.01.1980\n",
                    ),
                ],
            )
            .await;
        let job = upload.location().to_string();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while admin
            .get(&format!("{job}/status"))
            .await
            .body
            .contains("\"running\":true")
        {
            assert!(std::time::Instant::now() < deadline, "import still running");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let problems = admin.get(&format!("{job}/meldungen.csv")).await;
        assert!(
            problems.body.contains(";'=1+2;"),
            "{backend:?}: {}",
            problems.body
        );

        let form = admin.get("/ergebnisse/export").await;
        admin.csrf = common::csrf_in(&form.body);
        let id = campaign.to_string();
        let results = admin
            .post(
                "/ergebnisse/export",
                &[("aktion", &id), ("seit", ""), ("format", "csv")],
            )
            .await;
        assert!(results.body.contains(";'=1+2 Aktion;"), "{}", results.body);
        assert!(results.body.contains("'@SUM(1+1)"), "{}", results.body);
        assert!(
            results.body.contains(";+491709876543;"),
            "phones stay: {}",
            results.body
        );

        let report = admin
            .get(&format!(
                "/berichte/tabelle.csv?aktion={campaign}&tabelle=ergebnisse"
            ))
            .await;

        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let audit_csv = dpo.get("/protokoll/export.csv").await;
        assert!(
            audit_csv.body.contains(";'=1+2+cmd|"),
            "{backend:?}: {}",
            audit_csv.body
        );
        for (name, body) in [
            ("problems", &problems.body),
            ("results", &results.body),
            ("report", &report.body),
            ("audit", &audit_csv.body),
        ] {
            assert!(
                common::formula_cells(body).is_empty(),
                "{backend:?} {name}: {:?}",
                common::formula_cells(body)
            );
        }
    }
}

/// A token does what its scopes allow, expires after 12 months (the page
/// says until when), and is renewed on the page (audited).
#[tokio::test]
async fn api_tokens_have_scopes_and_expire() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let none = admin.post("/api-zugang", &[("name", "Ohne")]).await;
        assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(none.body.contains(
            "id=\"rechte-fehler\">Fehler: Bitte wählen Sie mindestens eine Berechtigung"
        ));
        let made = admin
            .post(
                "/api-zugang",
                &[("name", "Nur Import"), ("recht_import", "1")],
            )
            .await;
        let token = token_in(&made.body);
        let list = admin.get("/api-zugang").await;
        assert!(
            list.body.contains("Kundenexporte einlesen"),
            "{}",
            list.body
        );
        assert!(list.body.contains("gültig bis "), "{}", list.body);

        let mut anyone = app.client();
        let results = api(
            &mut anyone,
            "GET",
            "/api/v1/ergebnisse?aktion=1",
            Some(&token),
            "",
        )
        .await;
        assert_eq!(
            results.status,
            StatusCode::FORBIDDEN,
            "{backend:?}: {}",
            results.body
        );
        assert!(
            results.body.contains("nicht freigegeben"),
            "{}",
            results.body
        );
        let csv = "Kundennummer;Nachname;Geburtsdatum\nZ1;Zett;01.01.1980\n";
        let import = "/api/v1/kunden/import?probelauf=1";
        assert_eq!(
            api(&mut anyone, "POST", import, Some(&token), csv)
                .await
                .status,
            StatusCode::OK
        );

        app.state.clock.advance(366 * 86_400);
        let expired = api(&mut anyone, "POST", import, Some(&token), csv).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED, "{backend:?}");
        assert!(expired.body.contains("abgelaufen"), "{}", expired.body);
        admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        assert!(admin.get("/api-zugang").await.body.contains("(abgelaufen)"));
        let (id,): (i64,) = {
            let mut tx = app.state.db.begin_read().await.unwrap();
            tx.fetch_one(
                "SELECT id FROM api_tokens WHERE name = 'Nur Import'",
                args![],
            )
            .await
            .unwrap()
        };
        let renewed = admin
            .post(&format!("/api-zugang/{id}/verlaengern"), &[])
            .await;
        assert_eq!(renewed.status, StatusCode::SEE_OTHER);
        assert_eq!(
            api(&mut anyone, "POST", import, Some(&token), csv)
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            audit_count(&app, "api_token_change", id).await,
            2,
            "{backend:?}: made and renewed"
        );
    }
}
