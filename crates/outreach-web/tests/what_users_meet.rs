//! What a new user met (issue 23), on both databases: a result's summary
//! never says "keine" above its list of Merkmale, a report's hint names the
//! table that holds a chart's figures (point 5), and the reassignment form
//! preselects no target (point 8); telephone numbers read as people write
//! them, dialled and exported in E.164 (point 2); every field has a length
//! and refuses the characters nobody means to enter, named in German, with
//! nothing stored (point 3).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Side, TestApp, username};
use outreach_core::access::Role;
use outreach_core::guide::session::Flags;
use outreach_store::testing::backends;

#[tokio::test]
async fn a_result_with_merkmale_never_says_keine() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        // Only an answer on health, "no": a Merkmal of the conversation, no
        // flag of the inbox.
        let flags = Flags {
            health_restriction: Some("no".into()),
            ..Flags::default()
        };
        let case = common::finished_result(&app, "confirmed", &[], &flags).await;
        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        let page = pap.get(&format!("/ergebnisse/{case}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body
                .contains("<dt>gesundheitliche Einschränkung</dt><dd>nein</dd>"),
            "{}",
            page.body
        );
        assert!(
            !page.body.contains("<dt>Merkmale</dt><dd>keine</dd>"),
            "{backend:?}: {}",
            page.body
        );
        assert!(page.body.contains(
            "<dt>Merkmale</dt><dd><a href=\"#merkmale\">siehe „Merkmale aus dem Gespräch“</a></dd>"
        ));
    }
}

#[tokio::test]
async fn a_result_without_merkmale_says_keine() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let case = common::finished_result(&app, "confirmed", &[], &Flags::default()).await;
        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        let page = pap.get(&format!("/ergebnisse/{case}")).await;
        assert!(
            page.body.contains("<dt>Merkmale</dt><dd>keine</dd>"),
            "{backend:?}: {}",
            page.body
        );
        assert!(!page.body.contains("Merkmale aus dem Gespräch"));
    }
}

#[tokio::test]
async fn a_chart_names_the_table_with_its_figures() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        common::finished_result(&app, "confirmed", &[], &Flags::default()).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let page = admin.get("/berichte").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains(
                "Die Werte stehen auch in der Tabelle <a href=\"#ergebnisse\">„Abgeschlossene Fälle nach Ergebnis (mit AAPOR-Klasse)“</a>."
            ),
            "{backend:?}: {}",
            page.body
        );
        assert!(!page.body.contains("„“"), "a hint without its table's name");
    }
}

#[tokio::test]
async fn the_reassignment_form_preselects_no_target() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let case = common::finished_result(&app, "confirmed", &[], &Flags::default()).await;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let page = admin.get(&format!("/ergebnisse/{case}")).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let form = &page.body[page.body.find("id=\"zuweisen\"").unwrap()..];
        let form = &form[..form.find("</form>").unwrap()];
        assert!(
            form.contains("<option value=\"\" selected>– bitte wählen –</option>"),
            "{form}"
        );
        assert_eq!(form.matches(" selected").count(), 1, "{backend:?}: {form}");
        // A stray click moves nothing.
        admin.csrf = common::csrf_in(&page.body);
        let stray = admin
            .post(&format!("/ergebnisse/{case}/zuweisen"), &[("pap", "")])
            .await;
        assert_eq!(stray.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(stray.body.contains("Bitte wählen Sie die pAp-Kennung"));
    }
}

/// Customer A000001's numbers (a German landline, a Dutch mobile) on every
/// page a person reads them: grouped as written in Germany, the foreign one
/// internationally; the agent's links dial E.164.
#[tokio::test]
async fn telephone_numbers_read_as_people_write_them() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let campaign = common::running_campaign(&app).await;
        let mut tx = app.state.db.begin().await.unwrap();
        tx.execute(
            "UPDATE customers SET mobile = '+31612345678' WHERE id = $1",
            outreach_store::args![app.fixtures.customer_a],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let shown = ["0208 1234567", "+31 6 12345678"];
        let stored = ["+492081234567", "+31612345678"];

        // The agent's case (both customers of A are in the campaign; the
        // agent goes on until it is A000001's).
        let mut agent = app.login(&username(Role::Agent, Side::Own)).await;
        let mut page = String::new();
        for _ in 0..2 {
            let next = agent.post("/anrufe/naechster", &[]).await;
            page = agent.get(next.location()).await.body;
            if page.contains("tel:+492081234567") {
                break;
            }
            agent.csrf = common::csrf_in(&page);
            let url = next.location().to_string();
            agent
                .post(&format!("{url}/start"), &[("nummer", "phone")])
                .await;
            agent
                .post(&format!("{url}/ergebnis"), &[("ergebnis", "no_answer")])
                .await;
        }
        assert!(
            page.contains("<a href=\"tel:+492081234567\">0208 1234567</a>")
                && page.contains("<a href=\"tel:+31612345678\">+31 6 12345678</a>"),
            "{backend:?} (campaign {campaign}): {page}"
        );

        let id = app.fixtures.customer_a;
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        for (who, page) in [
            ("customer page", admin.get(&format!("/kunden/{id}")).await),
            ("Art. 15", dpo.get(&format!("/auskunft/{id}")).await),
        ] {
            assert_eq!(page.status, StatusCode::OK, "{backend:?} {who}");
            for (shown, stored) in shown.iter().zip(stored) {
                assert!(
                    page.body.contains(shown),
                    "{backend:?} {who}: {}",
                    page.body
                );
                assert!(!page.body.contains(stored), "{backend:?} {who}: {stored}");
            }
        }
        // The machine-readable disclosure keeps E.164.
        let json = dpo.get(&format!("/auskunft/{id}/auskunft.json")).await;
        assert_eq!(json.status, StatusCode::OK, "{backend:?}");
        assert!(
            json.body.contains("\"+31612345678\""),
            "{backend:?}: {}",
            json.body
        );
    }
}

async fn campaigns(app: &TestApp) -> i64 {
    let mut tx = app.state.db.read().await.unwrap();
    let (n,): (i64,) = tx
        .fetch_one("SELECT COUNT(*) FROM campaigns", vec![])
        .await
        .unwrap();
    n
}

async fn post(
    client: &mut common::Client,
    path: &str,
    fields: Vec<(String, String)>,
) -> common::Response {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    client.post(path, &pairs).await
}

/// The German page of a refused input: its status and its message.
fn refused(page: &common::Response) -> &str {
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(
        page.body.contains("Eingabe nicht übernommen"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Es wurde nichts gespeichert."));
    assert!(page.body.contains("Zurück zum Formular"));
    &page.body
}

#[tokio::test]
async fn every_field_has_a_length_and_refuses_what_nobody_types() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mandate = app.fixtures.mandate.to_string();
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let form = admin.get("/aktionen/neu").await;
        admin.csrf = common::csrf_in(&form.body);
        let before = campaigns(&app).await;

        // A campaign name of 100,000 characters.
        let long = "A".repeat(100_000);
        let today = outreach_core::date::berlin_date(app.state.clock.now());
        let de = outreach_core::date::format_de_date;
        let guide = app.fixtures.guide.to_string();
        let fields = |name: &str| {
            [
                ("submitted", "1"),
                ("action", "anlegen"),
                ("name", name),
                ("mandate", &mandate),
                ("statuses", "unemployed"),
                ("contact_weeks", "8"),
                ("contact_weeks_under_25", "4"),
                ("window_days", "Mo"),
                ("window_start", "09:00"),
                ("window_end", "18:00"),
                ("attempts_per_day", "1"),
                ("attempts_total", "6"),
                ("lead_days", "7"),
                ("period_start", &de(today)),
                ("period_end", &de(today.tomorrow().unwrap())),
                ("guide", &guide),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .to_vec()
        };
        let page = post(&mut admin, "/aktionen", fields(&long)).await;
        assert!(
            refused(&page).contains(
                "„Name“ darf höchstens 120 Zeichen lang sein; eingegeben wurden 100.000."
            ),
            "{backend:?}"
        );
        // Invisible and direction-turning characters, a control character.
        for (name, expected) in [
            (
                "Winter\u{200B}2027",
                "„Name“ enthält ein unsichtbares Zeichen (U+200B)",
            ),
            (
                "\u{FEFF}Winter",
                "„Name“ enthält ein unsichtbares Zeichen (U+FEFF)",
            ),
            (
                "Winter\u{202E}7202",
                "„Name“ enthält ein Zeichen, das die Schreibrichtung umkehrt (U+202E)",
            ),
            (
                "Winter\u{1b}[31m",
                "„Name“ enthält ein Steuerzeichen (U+001B)",
            ),
        ] {
            let page = post(&mut admin, "/aktionen", fields(name)).await;
            assert!(refused(&page).contains(expected), "{backend:?} {name:?}");
        }
        assert_eq!(campaigns(&app).await, before, "{backend:?}: nothing stored");
        // What people type is taken.
        let page = post(
            &mut admin,
            "/aktionen",
            fields("Winter 2027 – Müller & Söhne"),
        )
        .await;
        assert_eq!(
            page.status,
            StatusCode::SEE_OTHER,
            "{backend:?}: {}",
            page.body
        );
        assert_eq!(campaigns(&app).await, before + 1);

        // The guide's free-text answer: NUL and ESC refused, named.
        let preview = format!("/leitfaeden/{}/vorschau", app.fixtures.guide);
        let page = admin.get(&preview).await;
        admin.csrf = common::csrf_in(&page.body);
        let answer = admin
            .post(
                &preview,
                &[("aktion", "antwort"), ("antwort", "Koch\u{0}\u{1b}")],
            )
            .await;
        assert!(
            refused(&answer).contains("„Antwort“ enthält ein Steuerzeichen (U+0000)"),
            "{backend:?}"
        );

        // A note may have line breaks, but no control characters.
        let id = app.fixtures.customer_a;
        let dispute = format!("/betroffenenrechte/{id}/bestritten");
        let page = admin.get(&format!("/betroffenenrechte/{id}")).await;
        admin.csrf = common::csrf_in(&page.body);
        let bad = admin
            .post(&dispute, &[("feld", "phone"), ("notiz", "alt\u{7}")])
            .await;
        assert!(refused(&bad).contains("„Notiz“ enthält ein Steuerzeichen (U+0007)"));
        let ok = admin
            .post(
                &dispute,
                &[("feld", "phone"), ("notiz", "Zeile 1\r\nZeile 2")],
            )
            .await;
        assert_eq!(ok.status, StatusCode::SEE_OTHER, "{backend:?}: {}", ok.body);

        // Filters in the address too.
        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let page = dpo.get("/protokoll?benutzer=%EF%BB%BFagent.own").await;
        assert!(
            refused(&page).contains("„Benutzername“ enthält ein unsichtbares Zeichen (U+FEFF)"),
            "{backend:?}"
        );
    }
}

/// The agent's desk offers "Nächster Fall" only while it can give one: at
/// 22:00 it says when calling starts again; without a running campaign it
/// says so (point 7, the agent's start page).
#[tokio::test]
async fn the_agents_desk_says_when_calling_is_possible() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut agent = app.login(&username(Role::Agent, Side::Own)).await;
        let desk = agent.get("/anrufe").await;
        assert!(
            desk.body
                .contains("Zurzeit läuft keine Aktion Ihres Service-Centers")
                && !desk.body.contains("Nächster Fall</button>"),
            "{backend:?}: {}",
            desk.body
        );
        common::running_campaign(&app).await; // Tuesday 12.01.2027, 10:00
        // (The session ended while the clock moved on.)
        let mut agent = app.login(&username(Role::Agent, Side::Own)).await;
        let desk = agent.get("/anrufe").await;
        assert!(
            desk.body.contains("Nächster Fall</button>"),
            "{backend:?}: {}",
            desk.body
        );
        app.state.clock.advance(12 * 3600); // 22:00
        let mut agent = app.login(&username(Role::Agent, Side::Own)).await;
        let desk = agent.get("/anrufe").await;
        assert!(
            !desk.body.contains("Nächster Fall</button>"),
            "{backend:?}: {}",
            desk.body
        );
        assert!(
            desk.body
                .contains("Die nächste Anrufzeit beginnt am Mittwoch 13.01.2027, 08:00 Uhr."),
            "{backend:?}: {}",
            desk.body
        );
    }
}

/// Each role's start page shows its work, with links (point 7).
#[tokio::test]
async fn start_pages_say_what_needs_doing() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        // A running campaign (Tuesday 10:00) with one of its two cases
        // finished.
        let case = common::finished_result(&app, "confirmed", &[], &Flags::default()).await;
        let mut tx = app.state.db.begin().await.unwrap();
        let (campaign,): (i64,) = tx
            .fetch_one(
                "SELECT campaign_id FROM cases WHERE id = $1",
                outreach_store::args![case],
            )
            .await
            .unwrap();
        tx.execute(
            "INSERT INTO letter_batches (campaign_id, kind, letter_date, letter_count, created_at)
             VALUES ($1, 'advance', '2027-01-04', 2, 0)",
            outreach_store::args![campaign],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let page = |body: &str, expected: &str| {
            assert!(body.contains(expected), "{backend:?}: {expected} in {body}");
        };

        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        let home = admin.get("/").await.body;
        page(
            &home,
            &format!(
                "<a href=\"/aktionen/{campaign}\">Aktion „Winter 2027“ läuft: 1 von 2 Fällen abgeschlossen (50 %).</a>"
            ),
        );
        let unsent = {
            let mut tx = app.state.db.read().await.unwrap();
            let (n,): (i64,) = tx
                .fetch_one(
                    "SELECT COUNT(*) FROM letter_batches b JOIN campaigns p ON p.id = b.campaign_id
                     WHERE p.job_center_id = $1 AND b.sent_on IS NULL",
                    outreach_store::args![app.fixtures.jc_a],
                )
                .await
                .unwrap();
            n
        };
        assert!(unsent >= 2, "{backend:?}: the fixture's batch and ours");
        page(
            &home,
            &format!("{unsent} Druckstapel warten darauf, als versandt markiert zu werden."),
        );
        page(&home, "Noch kein Import");

        let mut lead = app.login(&username(Role::Supervisor, Side::Own)).await;
        let home = lead.get("/").await.body;
        page(
            &home,
            "<span class=\"figure-value\">1</span> <span class=\"figure-label\">Jetzt fällige Fälle</span>",
        );
        page(&home, "Rückrufe in der nächsten Stunde");
        page(&home, "Zuteilungen länger als 15 Minuten");

        let mut agent = app.login(&username(Role::Agent, Side::Own)).await;
        let home = agent.get("/").await.body;
        page(
            &home,
            "<span class=\"figure-value\">jetzt offen</span> <span class=\"figure-label\">Anrufzeit</span>",
        );

        let mut dpo = app.login(&username(Role::Dpo, Side::Own)).await;
        let home = dpo.get("/").await.body;
        page(&home, "Die Protokollkette wurde noch nicht geprüft.");
        page(&home, "Noch kein Löschlauf.");
        page(
            &home,
            "Auskunftsersuchen (Art. 15) in den letzten 30 Tagen: 0.",
        );
        dpo.get(&format!("/auskunft/{}", app.fixtures.customer_a))
            .await;
        let home = dpo.get("/").await.body;
        page(
            &home,
            "Auskunftsersuchen (Art. 15) in den letzten 30 Tagen: 1.",
        );

        let mut pap = app.login(&username(Role::CaseManager, Side::Own)).await;
        let unread = |body: &str| -> i64 {
            let link = "<a href=\"/ergebnisse?ungelesen=1\"><span class=\"figure-value\">";
            let rest = &body[body.find(link).expect("the unread results") + link.len()..];
            rest[..rest.find('<').unwrap()].parse().unwrap()
        };
        let home = pap.get("/").await.body;
        let before = unread(&home);
        assert!(before >= 1, "{backend:?}: {home}");
        pap.get(&format!("/ergebnisse/{case}")).await;
        let home = pap.get("/").await.body;
        assert_eq!(unread(&home), before - 1, "{backend:?}: read now");
        page(&home, "Termine aus Einladungen in den nächsten 7 Tagen");
    }
}
