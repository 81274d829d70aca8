//! Data protection over HTTP on both databases: the DPO's access request
//! (page and JSON, audited, nothing of another job center), restriction and
//! disputed values (validated, audited, CSRF), the record of processing
//! activities, the retention setting, the audit log's person filter and CSV
//! export, and the banner after a broken chain.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::args;
use outreach_store::testing::backends;

async fn count(app: &TestApp, sql: &'static str, arg: i64) -> i64 {
    let mut tx = app.state.db.read().await.unwrap();
    let (n,): (i64,) = tx.fetch_one(sql, args![arg]).await.unwrap();
    n
}

#[tokio::test]
async fn access_request_page_and_json_for_the_own_job_center_only() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let f = &app.fixtures;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        // By number: one match goes straight to the disclosure.
        let found = dpo.get("/auskunft?suchen=1&kundennummer=a000001").await;
        assert_eq!(found.status, StatusCode::SEE_OTHER, "{backend:?}");
        assert_eq!(found.location(), format!("/auskunft/{}", f.customer_a));
        let page = dpo.get(found.location()).await;
        assert_eq!(page.status, StatusCode::OK, "{backend:?}: {}", page.body);
        for expected in [
            "A000001",
            "Stammdaten",
            "Fälle in Aktionen",
            "Protokoll der Zugriffe auf diese Daten",
            "Art. 15 DSGVO",
        ] {
            assert!(page.body.contains(expected), "{backend:?}: {expected}");
        }
        let json = dpo
            .get(&format!("/auskunft/{}/auskunft.json", f.customer_a))
            .await;
        assert_eq!(json.status, StatusCode::OK);
        assert!(
            json.header("content-disposition")
                .contains("auskunft-A000001.json")
        );
        let value: serde_json::Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(value["daten"]["customer"]["customer_number"], "A000001");
        assert!(
            !value["daten"]["audit_events"]
                .as_array()
                .unwrap()
                .is_empty()
        );
        // Both reads are in the log, as access requests.
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) FROM audit_events WHERE action = 'access_request' AND job_center_id = $1",
                f.jc_a
            )
            .await,
            2,
            "{backend:?}"
        );
        // Unknown and foreign numbers: a German message, nothing found.
        let none = dpo.get("/auskunft?suchen=1&kundennummer=B000001").await;
        assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            none.body
                .contains("Zur Kundennummer B000001 ist nichts gespeichert.")
        );
        let empty = dpo.get("/auskunft?suchen=1&kundennummer=").await;
        assert!(empty.body.contains("Bitte geben Sie die Kundennummer"));
        let foreign = dpo.get(&format!("/auskunft/{}", f.customer_b)).await;
        assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{backend:?}");
    }
}

#[tokio::test]
async fn restriction_and_disputes_through_the_forms() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let id = app.fixtures.customer_a;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let detail = admin.get(&format!("/kunden/{id}")).await;
        assert!(detail.body.contains(&format!("/betroffenenrechte/{id}")));
        let path = format!("/betroffenenrechte/{id}/einschraenkung");
        // Without a reason: refused, nothing stored.
        let refused = admin
            .post(&path, &[("einschraenken", "ja"), ("grund", "")])
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{backend:?}"
        );
        assert!(refused.body.contains("Bitte nennen Sie den Grund"));
        // Without the CSRF token: refused.
        let forged = admin
            .post_raw(&path, &[("einschraenken", "ja"), ("grund", "x")])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{backend:?}");
        let restricted = "SELECT COUNT(*) FROM customers WHERE id = $1 AND restricted";
        assert_eq!(count(&app, restricted, id).await, 0);
        let done = admin
            .post(
                &path,
                &[
                    ("einschraenken", "ja"),
                    ("grund", "Antrag vom 02.11.2026 <b>"),
                ],
            )
            .await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "{backend:?}: {}",
            done.body
        );
        assert_eq!(count(&app, restricted, id).await, 1);
        let page = admin.get(done.location()).await;
        assert!(
            page.body.contains("Antrag vom 02.11.2026 &#60;b&#62;"),
            "escaped: {}",
            page.body
        );
        // The case manager no longer sees the customer.
        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        assert_eq!(
            pap.get(&format!("/kunden/{id}")).await.status,
            StatusCode::NOT_FOUND
        );

        // A disputed value: an unknown field is refused, a known one kept.
        let dispute = format!("/betroffenenrechte/{id}/bestritten");
        let bad = admin
            .post(&dispute, &[("feld", "password"), ("notiz", "")])
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("Bitte wählen Sie das Feld"));
        let ok = admin
            .post(&dispute, &[("feld", "phone"), ("notiz", "nie gehabt")])
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        let detail = admin.get(&format!("/kunden/{id}")).await;
        assert!(
            detail.body.contains("Telefon: bestritten – nie gehabt"),
            "{backend:?}"
        );
        let cleared = admin
            .post(&format!("{dispute}/aufheben"), &[("feld", "phone")])
            .await;
        assert_eq!(cleared.status, StatusCode::SEE_OTHER);
        let again = admin
            .post(&format!("{dispute}/aufheben"), &[("feld", "phone")])
            .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        // Lifted.
        let lifted = admin.post(&path, &[("einschraenken", "nein")]).await;
        assert_eq!(lifted.status, StatusCode::SEE_OTHER);
        assert_eq!(count(&app, restricted, id).await, 0);
        assert_eq!(
            count(
                &app,
                "SELECT COUNT(*) FROM audit_events WHERE action IN ('customer_restrict', 'customer_dispute') AND $1 = $1",
                0
            )
            .await,
            4,
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn record_of_processing_retention_and_the_audit_export() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let record = dpo.get("/verzeichnis").await;
        assert_eq!(record.status, StatusCode::OK);
        for expected in [
            "Telefonische Aktualisierung der Bewerberdaten",
            "Auftragsverarbeiter",
            "Fristen für die Löschung",
            "Protokoll der Zugriffe: 12 Monate.",
        ] {
            assert!(record.body.contains(expected), "{backend:?}: {expected}");
        }
        let text = dpo.get("/verzeichnis.txt").await;
        assert!(
            text.body
                .starts_with("Verzeichnis von Verarbeitungstätigkeiten")
        );

        let bad = dpo.post("/aufbewahrung", &[("tage", "0")]).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("ganze Zahl von 1 bis 3650"));
        let ok = dpo.post("/aufbewahrung", &[("tage", "90")]).await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER);
        assert_eq!(
            count(
                &app,
                "SELECT result_retention_days FROM job_centers WHERE id = $1",
                app.fixtures.jc_a
            )
            .await,
            90
        );
        let record = dpo.get("/verzeichnis").await;
        assert!(
            record.body.contains("90 Tage nach der Übergabe"),
            "{backend:?}"
        );

        // The person filter and the CSV export.
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        admin
            .get(&format!("/kunden/{}", app.fixtures.customer_a))
            .await;
        let filtered = dpo.get("/protokoll?kunde=A000001").await;
        assert_eq!(filtered.status, StatusCode::OK, "{backend:?}");
        // Table cells, not the action filter's options.
        assert!(
            filtered.body.contains("<td>Kundendaten gelesen</td>"),
            "{backend:?}: {}",
            filtered.body
        );
        assert!(
            !filtered.body.contains("<td>Anmeldung erfolgreich</td>"),
            "{backend:?}"
        );
        let all = dpo.get("/protokoll").await;
        assert!(
            all.body.contains("<td>Anmeldung erfolgreich</td>"),
            "{backend:?}"
        );
        let unknown = dpo.get("/protokoll?kunde=Z999").await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            unknown
                .body
                .contains("Zu dieser Kundennummer ist niemand gespeichert.")
        );
        let csv = dpo.get("/protokoll/export.csv?kunde=A000001").await;
        assert_eq!(csv.status, StatusCode::OK);
        assert!(
            csv.body.starts_with("\u{feff}Nr.;Zeitpunkt;Benutzer"),
            "{}",
            csv.body
        );
        assert!(csv.body.contains("Kundendaten gelesen"));
        assert!(!csv.body.contains("Anmeldung erfolgreich"));

        // A broken chain: the check's verdict shows on the DPO's start page.
        outreach_store::testing::tamper_with_audit(
            &app.state.db,
            "UPDATE audit_events SET client = 'x' WHERE seq = 1",
        )
        .await
        .unwrap();
        outreach_web::maintenance::daily(&app.state).await.unwrap();
        let home = dpo.get("/").await;
        assert!(
            home.body.contains("Prüfung der Protokollkette") && home.body.contains("Verletzung"),
            "{backend:?}: {}",
            home.body
        );
    }
}

#[tokio::test]
async fn an_agent_guessing_a_case_id_gets_the_answer_for_a_missing_case() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut agent = app.login(&username(Role::Agent, Side::Own)).await;
        let real = app.fixtures.case;
        let missing = real + 1_000_000;
        for (method, suffix) in [
            ("GET", ""),
            ("GET", "/gespraech"),
            ("POST", "/start"),
            ("POST", "/ergebnis"),
            ("POST", "/verlaengern"),
        ] {
            let mut answers = Vec::new();
            for id in [real, missing] {
                let path = format!("/anrufe/fall/{id}{suffix}");
                let r = if method == "GET" {
                    agent.get(&path).await
                } else {
                    agent.post(&path, &[]).await
                };
                // The answer may not name the id; anything else must match.
                answers.push((
                    r.status,
                    r.location().to_string(),
                    r.body.replace(&format!("/fall/{id}"), "/fall/ID"),
                ));
            }
            assert_eq!(answers[0], answers[1], "{backend:?}: {method} …{suffix}");
        }
    }
}

/// The service center works on the job center's customers: the job center's
/// DPO sees every read and write of theirs — the agent's lease, read,
/// attempt and result, the supervisor's release — by person, by user and by
/// period, and in the CSV export; another job center's DPO sees none of it.
#[tokio::test]
async fn the_job_centers_dpo_sees_what_the_service_center_did() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        common::running_campaign(&app).await;
        let agent_name = username(Role::Agent, Side::Own);
        let mut agent = app.login(&agent_name).await;
        let next = agent.post("/anrufe/naechster", &[]).await;
        let case_url = next.location().to_string();
        let page = agent.get(&case_url).await;
        assert_eq!(page.status, StatusCode::OK, "{backend:?}");
        agent.csrf = common::csrf_in(&page.body);
        agent
            .post(&format!("{case_url}/start"), &[("nummer", "phone")])
            .await;
        let recorded = agent
            .post(
                &format!("{case_url}/ergebnis"),
                &[("ergebnis", "no_answer")],
            )
            .await;
        assert_eq!(
            recorded.location(),
            "/anrufe?meldung=erfasst",
            "{backend:?}"
        );
        // The supervisor takes back the agent's next case.
        let next = agent.post("/anrufe/naechster", &[]).await;
        let second: i64 = next
            .location()
            .rsplit('/')
            .next()
            .and_then(|id| id.parse().ok())
            .expect("a case");
        let mut supervisor = app.login(&username(Role::Supervisor, Side::Own)).await;
        let board = supervisor.get("/teamleitung").await;
        supervisor.csrf = common::csrf_in(&board.body);
        let released = supervisor
            .post(&format!("/teamleitung/faelle/{second}/freigeben"), &[])
            .await;
        assert_eq!(released.status, StatusCode::SEE_OTHER, "{backend:?}");

        let number = {
            let case: i64 = case_url.rsplit('/').next().unwrap().parse().unwrap();
            let mut tx = app.state.db.read().await.unwrap();
            let (number,): (String,) = tx
                .fetch_one(
                    "SELECT c.customer_number FROM cases k JOIN customers c ON c.id = k.customer_id
                     WHERE k.id = $1",
                    args![case],
                )
                .await
                .unwrap();
            number
        };
        let today = outreach_core::date::format_de_date(outreach_core::date::berlin_date(
            app.state.clock.now(),
        ));
        let agents_events = [
            "<td>Fall zugeteilt (Anzeige für den Anruf)</td>",
            "<td>Kundendaten gelesen</td>",
            "<td>Anrufversuch gestartet</td>",
            "<td>Ergebnis eines Anrufversuchs erfasst</td>",
        ];
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        for filter in [
            format!("benutzer={agent_name}"),
            format!("kunde={number}"),
            format!("von={today}&bis={today}"),
        ] {
            let page = dpo.get(&format!("/protokoll?{filter}")).await;
            assert_eq!(page.status, StatusCode::OK, "{backend:?} {filter}");
            for expected in agents_events {
                assert!(
                    page.body.contains(expected),
                    "{backend:?} {filter}: {expected} in {}",
                    page.body
                );
            }
            assert!(page.body.contains(&agent_name), "{backend:?} {filter}");
        }
        let by_supervisor = dpo
            .get(&format!(
                "/protokoll?benutzer={}",
                username(Role::Supervisor, Side::Own)
            ))
            .await;
        assert!(
            by_supervisor
                .body
                .contains("<td>Zuteilung durch die Teamleitung aufgehoben</td>"),
            "{backend:?}: {}",
            by_supervisor.body
        );
        let csv = dpo
            .get(&format!("/protokoll/export.csv?benutzer={agent_name}"))
            .await;
        assert_eq!(csv.status, StatusCode::OK, "{backend:?}");
        let jc = app.fixtures.jc_a.to_string();
        let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
            .delimiter(b';')
            .from_reader(csv.body.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        for action in [
            "Fall zugeteilt (Anzeige für den Anruf)",
            "Kundendaten gelesen",
            "Anrufversuch gestartet",
            "Ergebnis eines Anrufversuchs erfasst",
        ] {
            let row = rows
                .iter()
                .find(|r| r[4] == action)
                .unwrap_or_else(|| panic!("{backend:?}: {action} in {}", csv.body));
            assert_eq!(row[2], agent_name, "{backend:?}");
            assert_eq!(row[10], jc, "{backend:?}: the job center it concerns");
            assert!(!row[11].is_empty(), "{backend:?}: the service center");
        }

        let mut other = app.login(&username(Role::Dpo, Side::Foreign)).await;
        let theirs = other
            .get(&format!("/protokoll?benutzer={agent_name}"))
            .await;
        assert_eq!(theirs.status, StatusCode::OK, "{backend:?}");
        assert!(
            theirs.body.contains("Keine Ereignisse gefunden."),
            "{backend:?}: {}",
            theirs.body
        );
    }
}
