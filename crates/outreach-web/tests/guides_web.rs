//! Guide pages over HTTP on both databases: the list, a new version (with
//! problems by line, a taken version refused), scoping, and the preview
//! walked along its paths, storing nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Client, Side, TestApp, csrf_in, username};
use outreach_core::access::Role;
use outreach_core::guide::DEFAULT_GUIDE;
use outreach_store::testing::backends;

/// The value of the hidden conversation state in a preview page.
fn state_in(body: &str) -> String {
    let marker = "name=\"zustand\" value=\"";
    let start = body.find(marker).unwrap() + marker.len();
    let raw = &body[start..];
    let raw = &raw[..raw.find('"').unwrap()];
    raw.replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// One step of the preview: the button `action` with extra fields.
async fn step(client: &mut Client, url: &str, page: &str, fields: &[(&str, &str)]) -> String {
    let state = state_in(page);
    let mut all = vec![("zustand", state.as_str())];
    all.extend_from_slice(fields);
    let response = client.post(url, &all).await;
    assert!(
        response.status == StatusCode::OK,
        "{fields:?}: {}\n{}",
        response.status,
        response.body
    );
    client.csrf = csrf_in(&response.body);
    response.body
}

async fn opening(client: &mut Client, url: &str) -> String {
    let page = client.get(url).await.body;
    assert!(page.contains("Frau Mustermann"), "{page}");
    let page = step(client, url, &page, &[("aktion", "weiter")]).await;
    // The agent types what the customer says; nothing stored is shown.
    assert!(!page.contains("12.08.1964"), "no stored date of birth");
    assert!(
        !page.contains("Musterstraße") && !page.contains("46045"),
        "no stored data beyond the name"
    );
    assert!(
        page.contains("Geburtsdatum, wie die Person es nennt"),
        "{page}"
    );
    // A wrong postcode: said so, one more try; then the right ones.
    let page = step(
        client,
        url,
        &page,
        &[
            ("aktion", "identitaet"),
            ("angabe_birth_date", "12.8.1964"),
            ("angabe_postcode", "46046"),
        ],
    )
    .await;
    assert!(page.contains("Geburtsdatum: stimmt überein"), "{page}");
    assert!(
        page.contains("„Postleitzahl“ stimmt nicht mit den gespeicherten Daten überein")
            && page.contains("noch 1 Versuch)"),
        "{page}"
    );
    assert!(!page.contains("46046"), "what was said is not shown again");
    let page = step(
        client,
        url,
        &page,
        &[("aktion", "identitaet"), ("angabe_postcode", "46 045")],
    )
    .await;
    assert!(page.contains("Die Teilnahme an diesem Gespräch ist freiwillig."));
    step(client, url, &page, &[("aktion", "weiter")]).await
}

#[tokio::test]
async fn guides_and_the_preview() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let admin = username(Role::JobcenterAdmin, Side::Own);
        let mut client = app.login(&admin).await;
        let list = client.get("/leitfaeden").await;
        assert!(
            list.body
                .contains("SGB II – Aktualisierung der Bewerberdaten")
        );
        assert!(list.body.contains("mitgeliefert"));
        let g = app.fixtures.guide;
        let detail = client.get(&format!("/leitfaeden/{g}")).await;
        assert!(detail.body.contains("still_unemployed"));
        assert!(detail.body.contains("still_unemployed == false"));

        // Preview, path 1: data confirmed.
        let url = format!("/leitfaeden/{g}/vorschau");
        let page = opening(&mut client, &url).await;
        // Before consent no question is answerable.
        let early = client
            .post(
                &url,
                &[
                    ("zustand", &state_in(&page)),
                    ("aktion", "antwort"),
                    ("antwort", "ja"),
                ],
            )
            .await;
        assert_eq!(early.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(early.body.contains("erst nach"), "{}", early.body);
        client.csrf = csrf_in(&early.body);
        let mut page = step(&mut client, &url, &page, &[("aktion", "einwilligung:ja")]).await;
        assert!(page.contains("Sind Sie zurzeit noch arbeitslos?"));
        // The count: over the questions that apply so far, and why it grows.
        assert!(page.contains("Frage 1 von 6"), "{page}");
        page = step(
            &mut client,
            &url,
            &page,
            &[("aktion", "antwort"), ("antwort", "ja")],
        )
        .await;
        assert!(page.contains("Frage 2 von 13"), "{page}");
        assert!(
            page.contains("Die Antwort auf „Sind Sie zurzeit noch arbeitslos?“ bringt 7 Fragen dazu; es gelten jetzt 13 Fragen."),
            "{page}"
        );
        page = step(&mut client, &url, &page, &[("aktion", "zurueck")]).await;
        // Bad input: named, nothing lost.
        for (answer, _) in [("ja", "still"), ("ja", "available"), ("no", "health")] {
            page = step(
                &mut client,
                &url,
                &page,
                &[("aktion", "antwort"), ("antwort", answer)],
            )
            .await;
        }
        // The stored number as the agent reads it aloud, and to confirm.
        assert!(
            page.contains("Bei uns ist 0208 1234567 gespeichert."),
            "{page}"
        );
        assert!(page.contains("value=\"0208 1234567\""), "{page}");
        let bad = client
            .post(
                &url,
                &[
                    ("zustand", &state_in(&page)),
                    ("aktion", "antwort"),
                    ("antwort", "n.v."),
                ],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("„n.v.“ ist keine gültige Telefonnummer."));
        assert!(bad.body.contains("aria-invalid=\"true\""));
        client.csrf = csrf_in(&bad.body);
        assert!(
            bad.body.contains("value=\"n.v.\""),
            "the entry is shown again"
        );
        page = step(
            &mut client,
            &url,
            &bad.body,
            &[("aktion", "antwort"), ("antwort", "0208 1234567")],
        )
        .await;
        // Everything else as stored: keep the prefilled values.
        while !page.contains("Zusammenfassung zum Vorlesen") {
            let prefilled = page
                .split("id=\"antwort\" name=\"antwort\" type=\"text\"")
                .nth(1)
                .and_then(|rest| rest.split("value=\"").nth(1))
                .and_then(|v| v.split('"').next())
                .unwrap_or("")
                .to_string();
            let fields: Vec<(&str, &str)> = if page.contains("value=\"ueberspringen\"") {
                if prefilled.is_empty() {
                    vec![("aktion", "ueberspringen")]
                } else {
                    vec![("aktion", "antwort"), ("antwort", &prefilled)]
                }
            } else if page.contains("Wohnen Sie noch") || page.contains("persönlichen Termin") {
                vec![
                    ("aktion", "antwort"),
                    (
                        "antwort",
                        if page.contains("Wohnen") {
                            "ja"
                        } else {
                            "nein"
                        },
                    ),
                ]
            } else {
                panic!("unexpected required question: {page}");
            };
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, *v)).collect();
            page = step(&mut client, &url, &page, &fields).await;
        }
        assert!(page.contains("Keine Änderungen"), "{page}");
        assert!(
            page.contains("Alle 13 zutreffenden Fragen gestellt:")
                || page.contains("Alle 13 zutreffenden Fragen gestellt, alle beantwortet."),
            "{page}"
        );
        let done = step(&mut client, &url, &page, &[("aktion", "bestaetigen")]).await;
        assert!(done.contains("Gespräch geführt, Daten bestätigt"), "{done}");

        // Path 2: refusal after the explanation.
        let page = opening(&mut client, &url).await;
        let refused = step(&mut client, &url, &page, &[("aktion", "verweigert")]).await;
        assert!(refused.contains("Auskunft verweigert"));

        // New versions: problems by line, then stored; a taken version refused.
        let broken = DEFAULT_GUIDE.replace(
            "type = \"yes_no\"\nrequired = true\nflag = \"still_unemployed\"",
            "type = \"ja_nein\"\nrequired = true\nflag = \"still_unemployed\"",
        );
        let bad = client
            .post(
                "/leitfaeden",
                &[("aktion", "speichern"), ("quelle", &broken)],
            )
            .await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            bad.body.contains("Unbekannter Fragetyp „ja_nein“"),
            "{}",
            bad.body
        );
        assert!(bad.body.contains("Zeile "));
        let mine = DEFAULT_GUIDE.replace("version = \"2026-12\"", "version = \"2026-12-ob\"");
        let checked = client
            .post("/leitfaeden", &[("aktion", "pruefen"), ("quelle", &mine)])
            .await;
        assert!(checked.body.contains("Der Leitfaden ist in Ordnung"));
        let saved = client
            .post("/leitfaeden", &[("aktion", "speichern"), ("quelle", &mine)])
            .await;
        assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
        let own = saved.location().to_string();
        assert!(client.get(&own).await.body.contains("2026-12-ob"));
        let again = client
            .post(
                "/leitfaeden",
                &[
                    ("aktion", "speichern"),
                    ("quelle", &mine.replace("Guten Tag", "Hallo")),
                ],
            )
            .await;
        assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(again.body.contains("Die Version 2026-12-ob"));
        // Without the CSRF token nothing is stored.
        let forged = client
            .post_raw("/leitfaeden", &[("aktion", "speichern"), ("quelle", &mine)])
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN);

        // Another job center sees the built-in guide, not this version.
        let mut foreign = app
            .login(&username(Role::JobcenterAdmin, Side::Foreign))
            .await;
        assert_eq!(foreign.get(&own).await.status, StatusCode::NOT_FOUND);
        assert!(!foreign.get("/leitfaeden").await.body.contains("2026-12-ob"));
        assert_eq!(
            foreign.get(&format!("/leitfaeden/{g}")).await.status,
            StatusCode::OK
        );

        // The preview stored nothing: no cases, results or customers touched;
        // the version is audited.
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (events,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'guide_create'",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(events, 1, "{backend:?}");
    }
}
