//! Per-agent figures are personnel data (DOMAIN.md): the Teamleitung sees
//! attempts, conversations and talk time per agent only for the campaigns
//! of a mandate whose job center switched them on, with the date and
//! reference of the staff-council agreement; switching is audited, and
//! switched off nothing per agent is shown. Both databases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use axum::http::StatusCode;
use common::{Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::args;
use outreach_store::testing::backends;

/// Three finished attempts of the own agent in the running campaign:
/// yesterday not reached; today reached with a result 5 minutes after the
/// call began; today reached, broken off after 10 seconds without a result.
async fn attempts(app: &TestApp, campaign: i64) -> String {
    let now = app.state.clock.now();
    let mut tx = app.state.db.begin().await.unwrap();
    let agent = username(Role::Agent, Side::Own);
    let (agent_id, name): (i64, String) = tx
        .fetch_one(
            "SELECT id, display_name FROM users WHERE username = $1",
            args![agent],
        )
        .await
        .unwrap();
    let cases: Vec<(i64,)> = tx
        .fetch_all(
            "SELECT id FROM cases WHERE campaign_id = $1 ORDER BY id",
            args![campaign],
        )
        .await
        .unwrap();
    let (one, two) = (cases[0].0, cases[1].0);
    for (case, start, end, result) in [
        (one, now - 86_400 - 600, now - 86_400 - 540, "no_answer"),
        (one, now - 900, now - 880, "reached"),
        (two, now - 400, now - 390, "reached"),
    ] {
        tx.execute(
            "INSERT INTO attempts (case_id, user_id, started_at, ended_at, result, phone_used)
             VALUES ($1, $2, $3, $4, $5, 'phone')",
            args![case, agent_id, start, end, result],
        )
        .await
        .unwrap();
    }
    tx.execute(
        "INSERT INTO results (case_id, outcome, guide_version, created_by, created_at)
         VALUES ($1, 'confirmed', 'Standard 1', $2, $3)",
        args![one, agent_id, now - 600],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    name
}

async fn audited(app: &TestApp) -> Vec<String> {
    let mut tx = app.state.db.begin_read().await.unwrap();
    let rows: Vec<(String,)> = tx
        .fetch_all(
            "SELECT fields FROM audit_events WHERE action = 'mandate_agent_figures' ORDER BY seq",
            args![],
        )
        .await
        .unwrap();
    rows.into_iter().map(|(f,)| f).collect()
}

#[tokio::test]
async fn per_agent_figures_only_where_the_job_center_switched_them_on() {
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let campaign = common::running_campaign(&app).await;
        let agent = attempts(&app, campaign).await;
        let mandate = app.fixtures.mandate;
        let figures = format!("/auftraege/{mandate}/mitarbeiterzahlen");
        let mut lead = app.login(&username(Role::Supervisor, Side::Own)).await;

        // Off (the default): team figures only, nobody's name.
        let page = lead.get("/teamleitung").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(
            page.body.contains("Winter 2027"),
            "[{backend:?}] {}",
            page.body
        );
        assert!(page.body.contains("Angezeigt werden nur Teamzahlen"));
        assert!(
            !page.body.contains("Zahlen je Mitarbeiterin"),
            "[{backend:?}]"
        );
        assert!(!page.body.contains(&agent), "[{backend:?}] {}", page.body);

        // Only the mandate's own job center switches; the team lead can't.
        let on = [
            ("state", "on"),
            ("agreed_on", "03.11.2026"),
            ("reference", "DV 2026/04 Service-Center"),
        ];
        let refused = lead.post(&figures, &on).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "[{backend:?}]");
        let mut foreign = app
            .login(&username(Role::JobcenterAdmin, Side::Foreign))
            .await;
        let refused = foreign.post(&figures, &on).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "[{backend:?}]");

        // Without a valid agreement nothing is switched, and the form says why.
        let mut admin = app.login(&username(Role::JobcenterAdmin, Side::Own)).await;
        for (fields, message) in [
            (
                [
                    ("state", "on"),
                    ("agreed_on", "31.02.2026"),
                    ("reference", "DV 1"),
                ],
                "Dienstvereinbarung vom",
            ),
            (
                [
                    ("state", "on"),
                    ("agreed_on", "03.11.2026"),
                    ("reference", " "),
                ],
                "Bitte geben Sie das Aktenzeichen oder die Bezeichnung der Dienstvereinbarung an.",
            ),
            (
                [
                    ("state", "on"),
                    ("agreed_on", "01.12.2099"),
                    ("reference", "DV 1"),
                ],
                "Die Dienstvereinbarung kann nicht nach dem heutigen Tag geschlossen sein.",
            ),
        ] {
            let page = admin.post(&figures, &fields).await;
            assert_eq!(
                page.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "[{backend:?}]"
            );
            assert!(page.body.contains(message), "[{backend:?}] {}", page.body);
        }
        assert!(audited(&app).await.is_empty(), "[{backend:?}]");
        assert!(!lead.get("/teamleitung").await.body.contains(&agent));

        // Switched on: shown on the mandate, audited, and the team lead sees
        // each agent's attempts, conversations and talk time (today, total).
        let done = admin.post(&figures, &on).await;
        assert_eq!(
            done.status,
            StatusCode::SEE_OTHER,
            "[{backend:?}] {}",
            done.body
        );
        let page = admin.get(&format!("/auftraege/{mandate}")).await;
        assert!(
            page.body.contains(
                "eingeschaltet: Dienstvereinbarung vom 03.11.2026, DV 2026/04 Service-Center"
            ),
            "[{backend:?}] {}",
            page.body
        );
        assert_eq!(
            audited(&app).await,
            ["eingeschaltet: Dienstvereinbarung vom 03.11.2026, DV 2026/04 Service-Center"],
            "[{backend:?}]"
        );
        let page = lead.get("/teamleitung").await;
        assert!(
            page.body.contains("Zahlen je Mitarbeiterin und Mitarbeiter (Dienstvereinbarung vom 03.11.2026, DV 2026/04 Service-Center)"),
            "[{backend:?}] {}",
            page.body
        );
        let row = format!(
            "<tr><th scope=\"row\">{agent}</th><td class=\"number\">2</td><td class=\"number\">3</td><td class=\"number\">2</td><td class=\"number\">2</td><td class=\"number\">0:05:10</td><td class=\"number\">0:05:10</td></tr>"
        );
        assert!(page.body.contains(&row), "[{backend:?}] {}", page.body);
        // A team lead of another service center sees none of it.
        let mut other = app.login(&username(Role::Supervisor, Side::Foreign)).await;
        assert!(!other.get("/teamleitung").await.body.contains(&agent));

        // Switched off again: nothing per agent, audited.
        let off = admin.post(&figures, &[("state", "off")]).await;
        assert_eq!(off.status, StatusCode::SEE_OTHER, "[{backend:?}]");
        let page = lead.get("/teamleitung").await;
        assert!(page.body.contains("Angezeigt werden nur Teamzahlen"));
        assert!(!page.body.contains(&agent), "[{backend:?}]");
        assert_eq!(audited(&app).await.len(), 2, "[{backend:?}]");
        assert_eq!(audited(&app).await[1], "ausgeschaltet");
        let page = admin.get(&format!("/auftraege/{mandate}")).await;
        assert!(
            page.body
                .contains("ausgeschaltet (die Teamleitung sieht nur Teamzahlen)")
        );
    }
}
