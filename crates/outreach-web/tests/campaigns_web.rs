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

/// The entry names of a stored ZIP archive, from its central directory.
fn zip_entries(zip: &[u8]) -> Vec<String> {
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at =
        |i: usize| u32::from_le_bytes([zip[i], zip[i + 1], zip[i + 2], zip[i + 3]]) as usize;
    let end = zip.len() - 22;
    assert_eq!(u32_at(end), 0x0605_4b50, "end of central directory");
    let (count, mut at) = (u16_at(end + 10), u32_at(end + 16));
    let mut names = Vec::new();
    for _ in 0..count {
        assert_eq!(u32_at(at), 0x0201_4b50);
        let (name_len, extra, comment) = (u16_at(at + 28), u16_at(at + 30), u16_at(at + 32));
        names.push(String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap());
        at += 46 + name_len + extra + comment;
    }
    names
}

/// The bytes of the `n`th entry, read from its local header (stored entries).
fn zip_entry(zip: &[u8], n: usize) -> &[u8] {
    let u16_at = |i: usize| u16::from_le_bytes([zip[i], zip[i + 1]]) as usize;
    let u32_at =
        |i: usize| u32::from_le_bytes([zip[i], zip[i + 1], zip[i + 2], zip[i + 3]]) as usize;
    let mut at = 0;
    for i in 0.. {
        assert_eq!(u32_at(at), 0x0403_4b50);
        let (size, name_len, extra) = (u32_at(at + 18), u16_at(at + 26), u16_at(at + 28));
        let data = at + 30 + name_len + extra;
        if i == n {
            return &zip[data..data + size];
        }
        at = data + size;
    }
    unreachable!()
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
        let guide = app.fixtures.guide.to_string();

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
            ("guide", guide.as_str()),
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

        // The draft can be edited: the form shows what was saved, a bad
        // change is refused per field, a good one is saved and audited.
        let edit = client.get(&format!("/aktionen/{id}/bearbeiten")).await;
        assert_eq!(edit.status, StatusCode::OK, "{}", edit.body);
        assert!(edit.body.contains("value=\"Aktualisierung Winter\""));
        assert!(edit.body.contains("value=\"09:00\""));
        assert!(
            edit.body
                .contains(&format!("action=\"/aktionen/{id}/bearbeiten\""))
        );
        let mut changed: Vec<(&str, &str)> = good
            .iter()
            .copied()
            .filter(|(k, _)| *k != "name" && *k != "window_end")
            .collect();
        changed.push(("name", "Aktualisierung Winter (Nord)"));
        changed.push(("window_end", "21:00"));
        let refused = client
            .post(&format!("/aktionen/{id}/bearbeiten"), &changed)
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.body.contains("20:00"),
            "{backend:?}: {}",
            refused.body
        );
        changed.retain(|(k, _)| *k != "window_end");
        changed.push(("window_end", "17:00"));
        let saved = client
            .post(&format!("/aktionen/{id}/bearbeiten"), &changed)
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let draft = client.get(&page_url).await;
        assert!(draft.body.contains("Aktualisierung Winter (Nord)"));
        assert!(
            draft.body.contains("Mo, Di, 09:00–17:00 Uhr"),
            "{}",
            draft.body
        );

        let activated = client
            .post(&format!("/aktionen/{id}/status"), &[("state", "active")])
            .await;
        assert_eq!(activated.status, StatusCode::SEE_OTHER);
        let page = client.get(&format!("/aktionen/{id}")).await;
        assert!(page.body.contains("Vorabinformation noch nicht erstellt"));
        // Once active, the settings are fixed.
        let late = client
            .post(&format!("/aktionen/{id}/bearbeiten"), &changed)
            .await;
        assert_eq!(late.status, StatusCode::CONFLICT);
        assert!(late.body.contains("Nur ein Entwurf kann geändert werden"));
        assert_eq!(
            client
                .get(&format!("/aktionen/{id}/bearbeiten"))
                .await
                .status,
            StatusCode::CONFLICT
        );
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

        // All print files at once: a background job with a progress page,
        // then one ZIP archive with every part and the manifest.
        let base = format!("/aktionen/{id}/stapel/{batch_id}/druck");
        let idle = client.get(&format!("{base}/status")).await;
        assert!(idle.body.contains("\"running\":false"));
        let early = client.get(&format!("{base}/zip")).await;
        assert_eq!(early.status, StatusCode::SEE_OTHER);
        let started = client.post(&base, &[]).await;
        assert_eq!(started.status, StatusCode::SEE_OTHER);
        assert_eq!(started.location(), base);
        loop {
            let status = client.get(&format!("{base}/status")).await;
            assert_eq!(status.status, StatusCode::OK);
            if status.body.contains("\"running\":false") {
                assert!(status.body.contains("\"percent\":100"), "{}", status.body);
                assert!(
                    status.body.contains("2 von 2 Briefen gesetzt"),
                    "{}",
                    status.body
                );
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let done = client.get(&base).await;
        assert!(
            done.body.contains("Die Druckdateien sind fertig"),
            "{}",
            done.body
        );
        let zip = client.get(&format!("{base}/zip")).await;
        assert_eq!(zip.status, StatusCode::OK);
        assert_eq!(zip.header("content-type"), "application/zip");
        assert!(zip.bytes.starts_with(b"PK\x03\x04"));
        let names = zip_entries(&zip.bytes);
        assert_eq!(
            names,
            vec![
                format!("vorabinformation-stapel-{batch_id}-teil-1.pdf"),
                format!("vorabinformation-stapel-{batch_id}-manifest.csv"),
            ]
        );
        // The archive's part is the part typeset on its own: same bytes.
        let inner = zip_entry(&zip.bytes, 0);
        assert_eq!(inner, pdf.bytes.as_slice(), "{backend:?}");

        // Dispatch: a date in the future is refused, today starts the lead time.
        // The day after tomorrow stays in the future should midnight pass meanwhile.
        let later = format_de_date(today.checked_add(jiff::Span::new().days(2)).unwrap());
        let future = client
            .post(
                &format!("/aktionen/{id}/stapel/{batch_id}/versandt"),
                &[(&format!("sent_on_{batch_id}"), later.as_str())],
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
            "campaign_edit",
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
