//! What a new user met (issue 23), on both databases: a result's summary
//! never says "keine" above its list of Merkmale, a report's hint names the
//! table that holds a chart's figures (point 5), and the reassignment form
//! preselects no target (point 8); telephone numbers read as people write
//! them, dialled and exported in E.164 (point 2).
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
