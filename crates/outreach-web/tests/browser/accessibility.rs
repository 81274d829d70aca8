//! axe-core on every page of the route table for every role that may open
//! it; every form sent empty or wrong, showing its errors; the refusal, "not
//! found" and "no permission" pages; and the DPO's Protokoll when it holds
//! 1,000 events. (The agent's case, attempt and guide pages during a call
//! and an import are also checked where those tests walk them.)

use super::*;
use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, AuditEvent};

/// A form to send: who, on which page, the form's `action`, and what to type
/// into which field first (by `name`).
struct Form {
    role: Role,
    page: String,
    action: String,
    fill: Vec<(&'static str, &'static str)>,
    /// The page's heading where the answer is a page of its own (a refusal
    /// before any handler); `None`: the form again, with its errors named.
    title: Option<&'static str>,
}

fn forms(f: &common::Fixtures) -> Vec<Form> {
    use Role::*;
    let form = |role, page: &str, action: &str, fill: &[(&'static str, &'static str)]| Form {
        role,
        page: page.to_string(),
        action: action.to_string(),
        fill: fill.to_vec(),
        title: None,
    };
    let (m, c, b, k, r, p) = (
        f.mandate,
        f.campaign,
        f.batch,
        f.case,
        f.result_case,
        f.customer_a,
    );
    vec![
        form(Agent, "/konto/passwort", "/konto/passwort", &[]),
        form(Admin, "/admin/benutzer/neu", "/admin/benutzer", &[]),
        form(Admin, "/admin/organisationen", "/admin/jobcenter", &[]),
        form(Admin, "/admin/organisationen", "/admin/servicecenter", &[]),
        form(JobcenterAdmin, "/auftraege/neu", "/auftraege", &[]),
        form(
            JobcenterAdmin,
            &format!("/auftraege/{m}"),
            &format!("/auftraege/{m}/mitarbeiterzahlen"),
            &[("agreed_on", "31.02.2026")],
        ),
        form(JobcenterAdmin, "/aktionen/neu", "/aktionen", &[]),
        form(JobcenterAdmin, "/leitfaeden/neu", "/leitfaeden", &[]),
        form(JobcenterAdmin, "/kunden/import", "/kunden/import", &[]),
        form(
            JobcenterAdmin,
            &format!("/aktionen/{c}"),
            &format!("/aktionen/{c}/stapel/{b}/versandt"),
            &[],
        ),
        form(
            JobcenterAdmin,
            &format!("/aktionen/{c}/faelle/{k}"),
            &format!("/aktionen/{c}/faelle/{k}/widerspruch"),
            &[],
        ),
        form(
            JobcenterAdmin,
            &format!("/betroffenenrechte/{p}"),
            &format!("/betroffenenrechte/{p}/bestritten"),
            &[],
        ),
        form(JobcenterAdmin, "/api-zugang", "/api-zugang", &[]),
        // Reassignment without a target (the dispute form's errors are the
        // same template's; the fixture's refusal has no changes to dispute).
        form(
            JobcenterAdmin,
            &format!("/ergebnisse/{r}"),
            &format!("/ergebnisse/{r}/zuweisen"),
            &[],
        ),
        form(
            CaseManager,
            &format!("/ergebnisse/{r}/einladung"),
            &format!("/ergebnisse/{r}/einladung"),
            &[],
        ),
        form(CaseManager, "/termine", "/termine", &[]),
        form(Dpo, "/protokoll", "/protokoll", &[("von", "99.99.2026")]),
        form(Dpo, "/auskunft", "/auskunft", &[]),
        form(Dpo, "/aufbewahrung", "/aufbewahrung", &[("tage", "viele")]),
        // Refused before any handler: a direction-turning character.
        Form {
            title: Some("Eingabe nicht übernommen"),
            ..form(
                JobcenterAdmin,
                "/aktionen/neu",
                "/aktionen",
                &[("name", "Winter\u{202e}2027")],
            )
        },
    ]
}

/// Fills and sends the form whose `action` attribute is `action`.
async fn send_form(driver: &WebDriver, form: &Form) {
    let selector = format!("form[action='{}']", form.action);
    let element = driver
        .find(By::Css(selector.as_str()))
        .await
        .unwrap_or_else(|_| panic!("{}: no form {selector}", form.page));
    for (name, value) in &form.fill {
        let field = element
            .find(By::Css(format!("[name='{name}']")))
            .await
            .unwrap_or_else(|_| panic!("{}: no field {name}", form.page));
        field.clear().await.unwrap();
        field.send_keys(*value).await.unwrap();
    }
    let button = element
        .find(By::Css(
            "button:not([type]), button[type='submit'], input[type='submit']",
        ))
        .await
        .unwrap_or_else(|_| panic!("{}: {selector} has no button", form.page));
    // The server's messages, not the browser's own for `required` fields.
    driver
        .execute(
            "arguments[0].noValidate = true;",
            vec![element.to_json().unwrap()],
        )
        .await
        .unwrap();
    mark_page(driver).await;
    button.click().await.unwrap();
    wait_for_next_page(driver).await;
}

/// 1,000 events in the log, of the own job center, for the DPO to page through.
async fn thousand_events(app: &TestApp) {
    let mut tx = app.state.db.begin().await.unwrap();
    let (id,): (i64,) = tx
        .fetch_one(
            "SELECT id FROM users WHERE username = $1",
            outreach_store::args![username(Role::CaseManager, Side::Own)],
        )
        .await
        .unwrap();
    for n in 0..1000 {
        let event = AuditEvent {
            user_id: Some(id),
            username: username(Role::CaseManager, Side::Own),
            role: Role::CaseManager.code().to_string(),
            action: AuditAction::CustomerRead,
            record_type: "customer".into(),
            record_id: format!("A{:06}", n % 40 + 1),
            fields: "Name, Anschrift, Telefon, E-Mail, Status, Zielberuf".into(),
            purpose: "Beratung".into(),
            client: "127.0.0.1".into(),
            job_center_id: Some(app.fixtures.jc_a),
            service_center_id: None,
        };
        audit::append(&mut tx, &event, app.state.clock.now() - 1000 + n)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn every_form_with_its_errors_and_a_long_protokoll_pass_axe() {
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        thousand_events(&app).await;
        let server = Server::start(&app).await;
        let base = server.base.clone();
        let driver = browser(driver_port).await;
        let tag = format!("{backend:?}").to_lowercase();
        let mut signed_in = None;
        for form in forms(&app.fixtures) {
            if signed_in != Some(form.role) {
                driver.delete_all_cookies().await.unwrap();
                log_in(&driver, &base, &username(form.role, Side::Own)).await;
                signed_in = Some(form.role);
            }
            eprintln!("[{tag}] {:?}: {} → {}", form.role, form.page, form.action);
            open_ready(&driver, &format!("{base}{}", form.page)).await;
            send_form(&driver, &form).await;
            // The page names what is wrong (checked by axe on arrival).
            if let Some(expected) = form.title {
                let title = driver
                    .find(By::Tag("h1"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                assert_eq!(title, expected, "[{tag}] {:?} {}", form.role, form.page);
                continue;
            }
            let named = driver
                .find_all(By::Css("#fehler, .error-text, [aria-invalid='true']"))
                .await
                .unwrap();
            assert!(
                !named.is_empty(),
                "[{tag}] {:?} {} → {}: no error shown",
                form.role,
                form.page,
                form.action
            );
        }

        // The Protokoll with 1,000 events: its first and its last page, and
        // at 640 px (200 % zoom), where its table scrolls sideways.
        driver.delete_all_cookies().await.unwrap();
        log_in(&driver, &base, &username(Role::Dpo, Side::Own)).await;
        for width in [1280, 640] {
            driver.set_window_rect(0, 0, width, 900).await.unwrap();
            for page in ["/protokoll", "/protokoll?seite=10"] {
                open_ready(&driver, &format!("{base}{page}")).await;
                let rows = driver.find_all(By::Css("tbody tr")).await.unwrap();
                assert!(rows.len() >= 10, "[{tag}] {page}: {} rows", rows.len());
            }
        }
        driver.set_window_rect(0, 0, 1280, 900).await.unwrap();

        // The error pages (no script of their own: loaded is ready): not
        // found, no permission.
        for (who, page, expected) in [
            (
                Role::JobcenterAdmin,
                "/kunden/999999",
                "Seite nicht gefunden",
            ),
            (Role::Agent, "/protokoll", "Keine Berechtigung"),
        ] {
            driver.delete_all_cookies().await.unwrap();
            log_in(&driver, &base, &username(who, Side::Own)).await;
            driver.goto(format!("{base}{page}")).await.unwrap();
            let title = driver
                .find(By::Tag("h1"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            assert!(title.contains(expected), "[{tag}] {page}: {title}");
            assert_accessible(&driver, page).await;
        }
        driver.quit().await.unwrap();
        server.stop().await;
    }
}

/// Route patterns whose pages the walk tests reach instead (they need state
/// a plain visit has not): an import job — `import_in_the_browser` uploads,
/// watches the progress and reads the result, each page under axe.
const WALKED_ELSEWHERE: [&str; 1] = ["/kunden/import/{job}"];

/// Whether a GET route answers with something other than a page
/// (downloads, JSON, the API, machine endpoints).
fn not_a_page(path: &str) -> bool {
    [
        ".csv",
        ".pdf",
        ".json",
        ".txt",
        "/zip",
        "/manifest",
        "/status",
        "/vorschau",
    ]
    .iter()
    .any(|end| path.ends_with(end))
        || path.contains("/teil/")
        || path.starts_with("/api/")
        || path.starts_with("/static/")
        || ["/healthz", "/readyz", "/metrics", "/login"].contains(&path)
}

/// Every page of the route table, for every role that may open it (the
/// others get the "no permission" page, checked once in the test above),
/// passes axe at 1280 px and at 640 px; a page no role could open fails the
/// test unless a walk test reaches it.
#[tokio::test]
async fn every_page_of_every_role_passes_axe() {
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    let routes: Vec<&'static str> = outreach_web::route_table()
        .into_iter()
        .filter(|r| r.method == "GET" && !not_a_page(r.path))
        .map(|r| r.path)
        .collect();
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let server = Server::start(&app).await;
        let base = server.base.clone();
        let driver = browser(driver_port).await;
        let tag = format!("{backend:?}").to_lowercase();
        let mut opened = std::collections::BTreeSet::new();
        for role in Role::ALL {
            driver.delete_all_cookies().await.unwrap();
            log_in(&driver, &base, &username(role, Side::Own)).await;
            for path in &routes {
                let url = format!("{base}{}", common::concrete(path, &app.fixtures));
                driver.goto(&url).await.unwrap();
                let title = driver
                    .find(By::Tag("h1"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
                if ["Keine Berechtigung", "Seite nicht gefunden"]
                    .iter()
                    .any(|e| title.contains(e))
                {
                    continue;
                }
                assert!(
                    !title.contains("Interner Fehler"),
                    "[{tag}] {role:?} {path}"
                );
                assert_accessible(&driver, &format!("[{tag}] {role:?} {path}")).await;
                // At 640 px (200 % zoom), loaded anew at that width.
                driver.set_window_rect(0, 0, 640, 900).await.unwrap();
                driver.goto(&url).await.unwrap();
                assert_accessible(&driver, &format!("[{tag}] {role:?} {path} at 640px")).await;
                driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
                opened.insert(*path);
            }
        }
        let missed: Vec<_> = routes
            .iter()
            .filter(|p| !opened.contains(*p) && !WALKED_ELSEWHERE.contains(p))
            .collect();
        assert!(missed.is_empty(), "[{tag}] no role opened {missed:?}");
        driver.quit().await.unwrap();
        server.stop().await;
    }
}
