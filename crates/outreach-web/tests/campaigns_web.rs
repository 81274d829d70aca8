//! The campaign pages over HTTP on both databases: create with checks and a
//! preview, activate, letters as PDF and manifest, dispatch, the reasons per
//! case, objections, CSRF and audit.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Side, TestApp, username};
use outreach_core::access::Role;
use outreach_core::date::{berlin_date, format_de_date};
use outreach_store::audit::{self, AuditFilter};
use outreach_store::testing::backends;

async fn audit_actions(app: &TestApp, user: &str) -> Vec<String> {
    let mut tx = app.state.db.begin_read().await.unwrap();
    let filter = AuditFilter {
        username: Some(user.to_string()),
        ..AuditFilter::default()
    };
    audit::list(&mut tx, &filter, 1000, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn a_campaign_from_draft_to_letters_sent() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let admin = username(Role::JobcenterAdmin, Side::Own);
        let mut client = app.login(&admin).await;
        let today = berlin_date(app.state.clock.now());
        let tomorrow = format_de_date(today.tomorrow().unwrap());
        let mandate = app.fixtures.mandate.to_string();

        // Bad input: named per field, in German, nothing stored.
        let bad = client
            .post(
                "/aktionen",
                &[
                    ("submitted", "1"),
                    ("name", ""),
                    ("mandate", &mandate),
                    ("statuses", "unemployed"),
                    ("contact_weeks", "8"),
                    ("contact_weeks_under_25", "4"),
                    ("window_days", "Mo"),
                    ("window_start", "07:00"),
                    ("window_end", "20:00"),
                    ("attempts_per_day", "5"),
                    ("attempts_total", "6"),
                    ("lead_days", "7"),
                    ("period_start", "31.02.2026"),
                    ("period_end", &tomorrow),
                    ("postcodes", "4604"),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?}");
        for message in [
            "Beginn des Anrufzeitraums: Dieses Datum gibt es nicht.",
            "Angerufen werden darf nur zwischen 08:00 und 20:00 Uhr.",
            "„4604“ ist keine Postleitzahl (fünf Ziffern).",
        ] {
            assert!(bad.body.contains(message), "{message}\n{}", bad.body);
        }
        assert!(bad.body.contains("aria-invalid=\"true\""));

        // The preview counts the selection (both customers of A; the fixture
        // campaign is closed, so they are free again).
        let preview = client
            .get("/aktionen/vorschau?statuses=unemployed&contact_weeks=8&contact_weeks_under_25=4&postcodes=")
            .await;
        assert!(
            preview.body.contains("\"count\":2"),
            "{backend:?}: {}",
            preview.body
        );
        let without_form = client
            .post(
                "/aktionen",
                &[
                    ("submitted", "1"),
                    ("action", "vorschau"),
                    ("statuses", "unemployed"),
                    ("contact_weeks", "8"),
                    ("contact_weeks_under_25", "4"),
                ],
            )
            .await;
        assert!(
            without_form
                .body
                .contains("Diese Auswahl umfasst heute 2 Kunden.")
        );

        let good = [
            ("submitted", "1"),
            ("action", "anlegen"),
            ("name", "Aktualisierung Winter"),
            ("mandate", mandate.as_str()),
            ("statuses", "unemployed"),
            ("contact_weeks", "8"),
            ("contact_weeks_under_25", "4"),
            ("window_days", "Mo"),
            ("window_days", "Di"),
            ("window_start", "09:00"),
            ("window_end", "18:00"),
            ("attempts_per_day", "1"),
            ("attempts_total", "6"),
            ("lead_days", "7"),
            ("period_start", &format_de_date(today)),
            ("period_end", &tomorrow),
            ("guide_ref", "Standardleitfaden"),
        ];
        // Without the CSRF token nothing happens.
        let forged = client.post_raw("/aktionen", &good).await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);
        let created = client.post("/aktionen", &good).await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
        let page_url = created.location().to_string();
        let id: i64 = page_url.rsplit('/').next().unwrap().parse().unwrap();
        let draft = client.get(&page_url).await;
        assert!(draft.body.contains("Entwurf"));
        assert!(draft.body.contains("Mo, Di, 09:00–18:00 Uhr"));

        let activated = client
            .post(&format!("/aktionen/{id}/status"), &[("state", "active")])
            .await;
        assert_eq!(activated.status, StatusCode::SEE_OTHER);
        let page = client.get(&format!("/aktionen/{id}")).await;
        assert!(page.body.contains("Vorabinformation noch nicht erstellt"));
        assert!(page.body.contains("A000001") && page.body.contains("A000002"));

        // A batch: PDF and manifest.
        let batch = client.post(&format!("/aktionen/{id}/briefe"), &[]).await;
        assert_eq!(batch.status, StatusCode::SEE_OTHER);
        let page = client.get(&format!("/aktionen/{id}")).await;
        assert!(
            page.body.contains("Vorabinformation noch nicht versandt"),
            "{}",
            page.body
        );
        let batch_id: i64 = page
            .body
            .split("/stapel/")
            .nth(1)
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let pdf = client
            .get(&format!("/aktionen/{id}/stapel/{batch_id}/teil/1"))
            .await;
        assert_eq!(pdf.status, StatusCode::OK);
        assert!(pdf.body.starts_with("%PDF"), "{backend:?}");
        assert_eq!(pdf.headers.get("content-type").unwrap(), "application/pdf");
        let missing_part = client
            .get(&format!("/aktionen/{id}/stapel/{batch_id}/teil/2"))
            .await;
        assert_eq!(missing_part.status, StatusCode::NOT_FOUND);
        let manifest = client
            .get(&format!("/aktionen/{id}/stapel/{batch_id}/manifest"))
            .await;
        assert!(
            manifest
                .body
                .starts_with("\u{feff}Kundennummer;Datei;Seite;Brief")
        );
        assert!(manifest.body.contains(&format!(
            ";vorabinformation-stapel-{batch_id}-teil-1.pdf;3;2"
        )));

        // Dispatch: a date in the future is refused, today starts the lead time.
        let future = client
            .post(
                &format!("/aktionen/{id}/stapel/{batch_id}/versandt"),
                &[(&format!("sent_on_{batch_id}"), tomorrow.as_str())],
            )
            .await;
        assert_eq!(future.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            future
                .body
                .contains("Das Versanddatum liegt in der Zukunft.")
        );
        let sent = client
            .post(
                &format!("/aktionen/{id}/stapel/{batch_id}/versandt"),
                &[(
                    &format!("sent_on_{batch_id}"),
                    format_de_date(today).as_str(),
                )],
            )
            .await;
        assert_eq!(sent.status, StatusCode::SEE_OTHER);
        let until = format_de_date(today.checked_add(jiff::ToSpan::days(6)).unwrap());
        let page = client.get(&format!("/aktionen/{id}")).await;
        assert!(
            page.body.contains(&format!("Wartefrist bis {until}")),
            "{backend:?}: {}",
            page.body
        );

        // An objection closes one case.
        let case_id: i64 = page
            .body
            .split(&format!("/aktionen/{id}/faelle/"))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let objected = client
            .post(
                &format!("/aktionen/{id}/faelle/{case_id}/widerspruch"),
                &[("objection_on", format_de_date(today).as_str())],
            )
            .await;
        assert_eq!(objected.status, StatusCode::SEE_OTHER);
        let case = client
            .get(&format!("/aktionen/{id}/faelle/{case_id}"))
            .await;
        assert!(case.body.contains("Widerspruch vor Anruf"), "{}", case.body);
        let page = client.get(&format!("/aktionen/{id}")).await;
        assert!(page.body.contains("Widerspruch vor Anruf"));

        let actions = audit_actions(&app, &admin).await;
        for action in [
            "campaign_create",
            "campaign_state_change",
            "letter_batch_create",
            "letter_print",
            "letter_batch_sent",
            "objection_record",
            "customer_read",
        ] {
            assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
        }

        // The other job center's admin finds nothing of it.
        let mut foreign = app
            .login(&username(Role::JobcenterAdmin, Side::Foreign))
            .await;
        assert_eq!(
            foreign.get(&format!("/aktionen/{id}")).await.status,
            StatusCode::NOT_FOUND
        );
        assert!(
            !foreign
                .get("/aktionen")
                .await
                .body
                .contains("Aktualisierung Winter")
        );
    }
}
