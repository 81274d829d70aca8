//! What a new user met (issue 23), on both databases: a result's summary
//! never says "keine" above its list of Merkmale, a report's hint names the
//! table that holds a chart's figures (point 5), and the reassignment form
//! preselects no target (point 8).
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
