//! The agent's desk over HTTP on both databases: next case, a reload and a
//! second tab keep the same case, an attempt with "keine Antwort", nothing
//! of the case after the lease, then a full conversation with a changed
//! phone number, interrupted by a reload; the result and the audit trail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Client, Side, TestApp, csrf_in, username};
use outreach_core::access::Role;
use outreach_store::args;
use outreach_store::testing::backends;

/// Posts a step of the conversation: it answers with a redirect to the
/// page (a reload repeats nothing); returns the page.
async fn say(client: &mut Client, url: &str, fields: &[(&str, &str)]) -> String {
    let response = client.post(url, fields).await;
    assert_eq!(
        response.status,
        StatusCode::SEE_OTHER,
        "{fields:?}: {}",
        response.body
    );
    let page = client.get(response.location()).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    client.csrf = csrf_in(&page.body);
    page.body
}

#[tokio::test]
async fn an_agent_calls_two_cases() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let campaign_id = common::running_campaign(&app).await;
        let agent = username(Role::Agent, Side::Own);
        let mut client = app.login(&agent).await;
        let desk = client.get("/anrufe").await;
        assert!(desk.body.contains("Nächster Fall"), "{}", desk.body);

        let next = client.post("/anrufe/naechster", &[]).await;
        assert_eq!(next.status, StatusCode::SEE_OTHER);
        let case_url = next.location().to_string();
        assert!(case_url.starts_with("/anrufe/fall/"), "{case_url}");
        let page = client.get(&case_url).await;
        assert!(page.body.contains("Mustermann"));
        assert!(page.body.contains("href=\"tel:+492081234567\""));
        assert!(page.body.contains("01.12.2026"), "the letter's date");
        // A second tab asking for the next case gets the same one.
        let again = client.post("/anrufe/naechster", &[]).await;
        assert_eq!(again.location(), case_url);

        // Start, then "keine Antwort": due again tomorrow, the lease ends.
        let started = client
            .post(&format!("{case_url}/start"), &[("nummer", "phone")])
            .await;
        assert_eq!(started.status, StatusCode::SEE_OTHER);
        let running = client.get(&case_url).await;
        assert!(running.body.contains("Anruf läuft"));
        assert!(
            running
                .body
                .contains("keine Sozialdaten auf den Anrufbeantworter")
        );
        let missing = client.post(&format!("{case_url}/ergebnis"), &[]).await;
        assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(missing.body.contains("Bitte wählen Sie das Ergebnis"));
        client.csrf = csrf_in(&missing.body);
        let recorded = client
            .post(
                &format!("{case_url}/ergebnis"),
                &[("ergebnis", "no_answer")],
            )
            .await;
        assert_eq!(recorded.location(), "/anrufe?meldung=erfasst");
        let gone = client.get(&case_url).await;
        assert_eq!(
            gone.location(),
            "/anrufe?meldung=abgelaufen",
            "nothing after the lease"
        );

        // The other case: reached, then the conversation.
        let next = client.post("/anrufe/naechster", &[]).await;
        let second = next.location().to_string();
        assert_ne!(second, case_url);
        client
            .post(&format!("{second}/start"), &[("nummer", "phone")])
            .await;
        let reached = client
            .post(&format!("{second}/ergebnis"), &[("ergebnis", "reached")])
            .await;
        let talk = format!("{second}/gespraech");
        assert_eq!(reached.location(), talk);
        let page = client.get(&talk).await;
        assert!(page.body.contains("Begrüßung"), "{}", page.body);
        assert!(page.body.contains("Jobcenter A"));
        say(&mut client, &talk, &[("aktion", "weiter")]).await;
        say(
            &mut client,
            &talk,
            &[
                ("aktion", "identitaet"),
                ("angabe_birth_date", "17.5.1980"),
                ("angabe_postcode", "46045"),
            ],
        )
        .await;
        say(&mut client, &talk, &[("aktion", "weiter")]).await;
        say(&mut client, &talk, &[("aktion", "einwilligung:ja")]).await;
        say(
            &mut client,
            &talk,
            &[("aktion", "antwort"), ("antwort", "ja")],
        )
        .await;
        // A reload mid-call continues where it was (state on the server).
        let reload = client.get(&second).await;
        assert_eq!(reload.location(), talk);
        let page = client.get(&talk).await;
        assert!(
            page.body
                .contains("Können Sie kurzfristig eine Arbeit aufnehmen?"),
            "{}",
            page.body
        );
        client.csrf = csrf_in(&page.body);
        say(
            &mut client,
            &talk,
            &[("aktion", "antwort"), ("antwort", "ja")],
        )
        .await;
        say(
            &mut client,
            &talk,
            &[("aktion", "antwort"), ("antwort", "no")],
        )
        .await;
        say(
            &mut client,
            &talk,
            &[("aktion", "antwort"), ("antwort", "0171 2345678")],
        )
        .await;
        let mut page = say(&mut client, &talk, &[("aktion", "ueberspringen")]).await; // e-mail
        page = if page.contains("Wohnen Sie noch") {
            say(
                &mut client,
                &talk,
                &[("aktion", "antwort"), ("antwort", "ja")],
            )
            .await
        } else {
            page
        };
        while !page.contains("Zusammenfassung zum Vorlesen") {
            page = if page.contains("value=\"ueberspringen\"") {
                say(&mut client, &talk, &[("aktion", "ueberspringen")]).await
            } else {
                say(
                    &mut client,
                    &talk,
                    &[("aktion", "antwort"), ("antwort", "nein")],
                )
                .await
            };
        }
        // The read-back gives the new number as the agent reads it aloud.
        assert!(page.contains("0171 2345678"), "{page}");
        assert!(!page.contains("+491712345678"), "{page}");
        let done = client.post(&talk, &[("aktion", "bestaetigen")]).await;
        assert_eq!(done.location(), "/anrufe?meldung=updated");
        let desk = client.get(done.location()).await;
        assert!(desk.body.contains("Gespräch geführt, Daten aktualisiert"));
        client.csrf = csrf_in(&desk.body);
        // Nothing of the case after the call: its pages send back to the desk.
        assert_eq!(
            client.get(&talk).await.location(),
            "/anrufe?meldung=abgelaufen"
        );

        let mut tx = app.state.db.begin_read().await.unwrap();
        let (disposition, leased): (Option<String>, Option<i64>) = tx
            .fetch_one(
                "SELECT final_disposition, leased_to FROM cases WHERE id = $1",
                args![second.rsplit('/').next().unwrap().parse::<i64>().unwrap()],
            )
            .await
            .unwrap();
        assert_eq!(disposition.as_deref(), Some("updated"), "{backend:?}");
        assert_eq!(leased, None);
        let (outcome, changes, version): (String, String, String) = tx
            .fetch_one(
                "SELECT r.outcome, r.changes, r.guide_version FROM results r JOIN cases k ON k.id = r.case_id WHERE k.campaign_id = $1",
                args![campaign_id],
            )
            .await
            .unwrap();
        assert_eq!(outcome, "updated");
        assert!(changes.contains("+491712345678"), "{changes}");
        assert_eq!(version, "2026-12");
        let (actions,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(DISTINCT action) FROM audit_events
                 WHERE action IN ('case_lease', 'call_attempt', 'call_result', 'customer_read')",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(actions, 4, "{backend:?}");
        // Each new lease is recorded once (not the second tab's), with the
        // case, the kind and the campaign, as the same on both databases.
        let first_case = case_url.trim_start_matches("/anrufe/fall/").to_string();
        let leases: Vec<(String, String, String, String, String)> = tx
            .fetch_all(
                "SELECT username, record_type, record_id, fields, purpose FROM audit_events
                 WHERE action = 'case_lease' ORDER BY record_id = $1 DESC",
                args![first_case.as_str()],
            )
            .await
            .unwrap();
        assert_eq!(leases.len(), 2, "{backend:?}: {leases:?}");
        assert_eq!(
            leases[0],
            (
                agent.clone(),
                "case".to_string(),
                first_case.clone(),
                "Zuteilung (erster Anruf)".to_string(),
                format!("Aktion {campaign_id}")
            ),
            "{backend:?}"
        );
        // "Anruf starten" is recorded with the attempt and the number, the
        // same on both databases.
        let (attempt, phone): (i64, String) = tx
            .fetch_one(
                "SELECT id, phone_used FROM attempts WHERE case_id = $1 ORDER BY id LIMIT 1",
                args![first_case.parse::<i64>().unwrap()],
            )
            .await
            .unwrap();
        let started: Vec<(String, String, String, String, String)> = tx
            .fetch_all(
                "SELECT username, record_type, record_id, fields, purpose FROM audit_events
                 WHERE action = 'call_attempt' AND record_id = $1",
                args![first_case.as_str()],
            )
            .await
            .unwrap();
        let expected = (
            agent.clone(),
            "case".to_string(),
            first_case,
            format!("Versuch {attempt}, Nummer: {phone}"),
            String::new(),
        );
        assert!(started.contains(&expected), "{backend:?}: {started:?}");
        // Nothing left to call today.
        drop(tx);
        let empty = client.post("/anrufe/naechster", &[]).await;
        assert_eq!(empty.location(), "/anrufe?meldung=leer");
    }
}

/// The supervisor sees the queue as team figures, and releases a lease
/// that has been open for more than 15 minutes.
#[tokio::test]
async fn the_supervisor_sees_the_queue_and_releases_a_stuck_lease() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        common::running_campaign(&app).await;
        let mut agent = app.login(&username(Role::Agent, Side::Own)).await;
        let mut boss = app.login(&username(Role::Supervisor, Side::Own)).await;
        let page = boss.get("/teamleitung").await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("Winter 2027"), "{}", page.body);
        assert!(
            page.body.contains("<dt>jetzt fällig</dt><dd>2</dd>"),
            "{backend:?}: {}",
            page.body
        );
        assert!(page.body.contains("id=\"online\">1<"), "one agent online");
        // The foreign service center's supervisor sees nothing of it.
        let mut foreign = app.login(&username(Role::Supervisor, Side::Foreign)).await;
        assert!(
            !foreign
                .get("/teamleitung")
                .await
                .body
                .contains("Winter 2027")
        );

        let case_url = agent
            .post("/anrufe/naechster", &[])
            .await
            .location()
            .to_string();
        let case: i64 = case_url.rsplit('/').next().unwrap().parse().unwrap();
        // The page keeps the lease: renewed twice, 18 minutes in all.
        for _ in 0..2 {
            app.state.clock.advance(9 * 60);
            let renewed = agent.post(&format!("{case_url}/verlaengern"), &[]).await;
            assert_eq!(renewed.status, StatusCode::NO_CONTENT);
        }
        let page = boss.get("/teamleitung").await;
        assert!(
            page.body.contains(&format!("Fall {case} freigeben")),
            "{}",
            page.body
        );
        boss.csrf = csrf_in(&page.body);
        let released = boss
            .post(&format!("/teamleitung/faelle/{case}/freigeben"), &[])
            .await;
        assert_eq!(released.status, StatusCode::SEE_OTHER);
        assert_eq!(
            agent.get(&case_url).await.location(),
            "/anrufe?meldung=abgelaufen"
        );
        let gone = agent.post(&format!("{case_url}/verlaengern"), &[]).await;
        assert_eq!(gone.status, StatusCode::GONE);
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (n,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'lease_release'",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
    }
}

/// Reopening a case one finished (a bookmark, the back button) says that it
/// is finished, how and when, instead of "the lease ended"; an agent who
/// never called it learns nothing.
#[tokio::test]
async fn a_finished_case_says_how_it_ended() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        common::running_campaign(&app).await;
        let mut client = app.login(&username(Role::Agent, Side::Own)).await;
        let next = client.post("/anrufe/naechster", &[]).await;
        let case_url = next.location().to_string();
        let page = client.get(&case_url).await;
        client.csrf = csrf_in(&page.body);
        client
            .post(&format!("{case_url}/start"), &[("nummer", "phone")])
            .await;
        // The only number is wrong: the case ends without a valid number.
        let recorded = client
            .post(
                &format!("{case_url}/ergebnis"),
                &[("ergebnis", "wrong_number")],
            )
            .await;
        assert_eq!(
            recorded.location(),
            "/anrufe?meldung=erfasst",
            "{backend:?}"
        );
        let again = client.get(&case_url).await;
        assert_eq!(
            again.status,
            StatusCode::OK,
            "{backend:?}: {}",
            again.location()
        );
        assert!(
            again.body.contains("Dieser Fall ist abgeschlossen ("),
            "{}",
            again.body
        );
        assert!(
            again
                .body
                .contains(" Uhr): keine gültige Rufnummer. Er wird nicht mehr angerufen.")
        );
        assert!(!again.body.contains("abgelaufen"));
        assert!(
            !again.body.contains("Mustermann"),
            "nothing of the customer"
        );

        let mut stranger = app.login(&username(Role::Agent, Side::Foreign)).await;
        let theirs = stranger.get(&case_url).await;
        assert_eq!(theirs.location(), "/anrufe?meldung=abgelaufen");
    }
}
