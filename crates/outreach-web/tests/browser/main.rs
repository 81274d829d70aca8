//! Browser test in Debian's Chromium through chromedriver: each role logs in
//! by keyboard, sees its own navigation, and a screenshot of its start page is
//! written to `target/screenshots/` for review.
//!
//! Needs `chromium` and `chromium-driver` (`apt-get install chromium
//! chromium-driver`). Without them the test is skipped with a message, except in
//! CI (`CI` set) or with `OUTREACH_REQUIRE_BROWSER`, where that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

use common::{PASSWORD, Side, TestApp, username};
use outreach_core::access::Role;
use outreach_store::testing::backends;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use thirtyfour::prelude::*;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

mod administration;
use administration::*;
mod axe;
use axe::assert_accessible;
mod accessibility;
mod calls;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

fn browser_required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("OUTREACH_REQUIRE_BROWSER").is_some()
}

/// Polls until something accepts connections on `port`.
async fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One Chromium at a time: four at once on two cores made page loads pass
/// the ten seconds a step may take (two of three runs of this file failed).
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn start_chromedriver() -> (Child, u16) {
    let port = free_port().await;
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    wait_for_port(port).await;
    (child, port)
}

/// A browser session that is ended also when a test fails half way (a
/// failed run once left its Chromium processes behind).
struct Browser(Option<WebDriver>);

impl std::ops::Deref for Browser {
    type Target = WebDriver;
    fn deref(&self) -> &WebDriver {
        self.0.as_ref().expect("the session is open")
    }
}

impl Browser {
    async fn quit(mut self) -> WebDriverResult<()> {
        match self.0.take() {
            Some(driver) => driver.quit().await,
            None => Ok(()),
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let Some(driver) = self.0.take() else { return };
        // Ending the session needs the runtime, which may be unwinding: a
        // thread of its own with a runtime of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                let _ = rt.block_on(driver.quit());
            }
        })
        .join();
    }
}

async fn browser(driver_port: u16) -> Browser {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(CHROMIUM).unwrap();
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        "--lang=de-DE",
    ] {
        caps.add_arg(arg).unwrap();
    }
    // thirtyfour's HTTP client may be built with rustls but without a
    // crypto provider (cargo unites reqwest's features across the
    // workspace's tests): ring, as everywhere.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Browser(Some(
        WebDriver::new(format!("http://127.0.0.1:{driver_port}"), caps)
            .await
            .expect("browser session"),
    ))
}

/// Polls `script` (which returns a boolean) until it is true, for 30 s.
async fn wait_until(driver: &WebDriver, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = driver
            .execute(script, Vec::new())
            .await
            .ok()
            .and_then(|v| v.convert::<bool>().ok())
            .unwrap_or(false);
        if done {
            return;
        }
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Opens `url` and waits until the page is ready for the keyboard.
async fn open_ready(driver: &WebDriver, url: &str) {
    driver.goto(url).await.unwrap();
    let ready = "return document.documentElement.getAttribute('data-bereit') === '1';";
    wait_until(driver, ready, &format!("{url} never ready")).await;
    assert_accessible(driver, url).await;
}

fn screenshot_dir() -> PathBuf {
    // The workspace's own target/, also when CARGO_TARGET_DIR points elsewhere.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The navigation entries a role must see, and some it must not.
fn navigation(role: Role) -> (&'static [&'static str], &'static [&'static str]) {
    match role {
        Role::Agent => (
            &["Start", "Passwort ändern"],
            &["Kunden", "Aufträge", "Protokoll", "Benutzer"],
        ),
        Role::Supervisor => (&["Start", "Aufträge"], &["Kunden", "Protokoll", "Benutzer"]),
        Role::CaseManager => (&["Start", "Kunden"], &["Aufträge", "Protokoll", "Benutzer"]),
        Role::JobcenterAdmin => (&["Start", "Kunden", "Aufträge"], &["Protokoll", "Benutzer"]),
        Role::Dpo => (&["Start", "Protokoll"], &["Kunden", "Aufträge", "Benutzer"]),
        Role::Admin => (
            &["Start", "Organisationen", "Benutzer"],
            &["Kunden", "Aufträge", "Protokoll"],
        ),
    }
}

async fn wait_for_path(driver: &WebDriver, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let url = driver.current_url().await.unwrap();
        if url.path() == path {
            return;
        }
        assert!(Instant::now() < deadline, "still on {url}, expected {path}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Whether the browser is installed; fails in CI when it isn't.
fn browser_available() -> bool {
    if Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists() {
        return true;
    }
    assert!(
        !browser_required(),
        "Chromium/chromedriver fehlen ({CHROMIUM}, {CHROMEDRIVER}); in CI ist das ein Fehler"
    );
    eprintln!(
        "HINWEIS: Chromium oder chromedriver fehlt; Browser-Test übersprungen (apt-get install chromium chromium-driver)."
    );
    false
}

/// Each server's database by its address: a sign-in may reuse the code
/// step of the last one (see `log_in`).
static DATABASES: std::sync::Mutex<std::collections::BTreeMap<String, outreach_store::Db>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The application served on a free port of 127.0.0.1 until `stop` is sent.
struct Server {
    base: String,
    stop: tokio::sync::oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(app: &TestApp) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        DATABASES
            .lock()
            .unwrap()
            .insert(base.clone(), app.state.db.clone());
        let handle = tokio::spawn(outreach_web::serve(listener, app.state.clone(), async {
            let _ = stopped.await;
        }));
        Server { base, stop, handle }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        self.handle.await.unwrap().unwrap();
    }
}

/// The sign-in's first step by keyboard: name, Tab, password, Enter; waits
/// for the next page.
async fn password_step(driver: &WebDriver, base: &str, user: &str) {
    open_ready(driver, &format!("{base}/login")).await;
    driver
        .find(By::Id("username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    keys(driver, Key::Tab).await;
    keys(driver, PASSWORD).await;
    mark_page(driver).await;
    keys(driver, Key::Enter).await;
    wait_for_next_page(driver).await;
}

/// Signs in by keyboard: name, password, Enter; then, on the second step
/// (the code field has the focus), the test secret's code and Enter.
async fn log_in(driver: &WebDriver, base: &str, user: &str) {
    driver.goto(format!("{base}/login")).await.unwrap();
    driver
        .find(By::Id("username"))
        .await
        .unwrap()
        .send_keys(user)
        .await
        .unwrap();
    let password = driver.find(By::Id("password")).await.unwrap();
    password.send_keys(PASSWORD).await.unwrap();
    password.send_keys(Key::Enter).await.unwrap();
    wait_for_path(driver, common::SECOND_FACTOR).await;
    let db = DATABASES.lock().unwrap().get(base).cloned().unwrap();
    outreach_store::testing::forget_used_code_step(&db, user)
        .await
        .unwrap();
    type_code(driver, &outreach_store::testing::test_totp_code()).await;
    wait_for_path(driver, "/").await;
}

/// Types `code` into the focused field (the code's) and sends it by Enter.
async fn type_code(driver: &WebDriver, code: &str) {
    let ready = "return document.documentElement.getAttribute('data-bereit') === '1';";
    wait_until(driver, ready, "the code page never ready").await;
    let field = driver.query(By::Id("code")).first().await.unwrap();
    let focused = driver.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("code"),
        "the code field has no focus"
    );
    field.send_keys(code).await.unwrap();
    mark_page(driver).await;
    field.send_keys(Key::Enter).await.unwrap();
}

/// Whether the page is wider than the window (horizontal scrolling).
async fn scrolls_sideways(driver: &WebDriver) -> bool {
    driver
        .execute(
            "return document.documentElement.scrollWidth > document.documentElement.clientWidth;",
            Vec::new(),
        )
        .await
        .unwrap()
        .convert::<bool>()
        .unwrap()
}

/// A local account without a second factor (as after the
/// administration's reset) signs in by keyboard: the password, then the
/// set-up page with the QR code and the secret, a wrong code (the message
/// at the field), the app's code, the recovery codes once; the next
/// sign-in asks for the code of the app set up.
#[tokio::test]
async fn a_first_sign_in_sets_the_second_factor_up_by_keyboard() {
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let mut tx = app.state.db.begin().await.unwrap();
        outreach_store::second_factor::reset(&mut tx, app.fixtures.victim)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let server = Server::start(&app).await;
        let base = server.base.clone();
        let driver = browser(driver_port).await;
        let tag = format!("{backend:?}").to_lowercase();

        password_step(&driver, &base, "opfer").await;
        wait_for_path(&driver, common::SECOND_FACTOR).await;
        driver
            .find(By::Css(".qr-code svg[role='img']"))
            .await
            .unwrap();
        let secret = driver
            .find(By::Css(".secret code"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .replace(' ', "");
        assert_eq!(secret.len(), 32, "[{tag}] {secret}");
        driver
            .screenshot(&screenshot_dir().join(format!("{tag}-zweiter-faktor-einrichten.png")))
            .await
            .unwrap();

        // A wrong code: the summary has the focus, the field its message.
        type_code(&driver, "12345").await;
        wait_for_next_page(&driver).await;
        let summary = driver.query(By::Id("fehler")).first().await.unwrap();
        assert!(
            summary
                .text()
                .await
                .unwrap()
                .contains("Der Code stimmt nicht")
        );
        // The focus on the summary; Tab: its link to the field, then the
        // field.
        let focused = driver.active_element().await.unwrap();
        assert_eq!(focused.attr("id").await.unwrap().as_deref(), Some("fehler"));
        keys(&driver, Key::Tab).await;
        keys(&driver, Key::Tab).await;
        let focused = driver.active_element().await.unwrap();
        assert_eq!(focused.attr("id").await.unwrap().as_deref(), Some("code"));
        let code =
            outreach_core::second_factor::code_at(&secret, jiff::Timestamp::now().as_second())
                .unwrap();
        keys(&driver, code.as_str()).await;
        mark_page(&driver).await;
        keys(&driver, Key::Enter).await;
        wait_for_next_page(&driver).await;
        let codes = driver
            .query(By::Css(".recovery-codes code"))
            .all_from_selector_required()
            .await
            .unwrap();
        assert_eq!(codes.len(), 10, "[{tag}]");
        driver
            .screenshot(&shots_name(&tag, "wiederherstellungscodes"))
            .await
            .unwrap();
        // On to the start page, signed in.
        driver
            .find(By::LinkText("Weiter zur Startseite"))
            .await
            .unwrap()
            .focus()
            .await
            .unwrap();
        submit(&driver).await;
        wait_for_path(&driver, "/").await;

        // Signed out, the next sign-in asks for the app's code.
        driver.delete_all_cookies().await.unwrap();
        password_step(&driver, &base, "opfer").await;
        assert!(
            driver.find(By::Css(".secret code")).await.is_err(),
            "[{tag}] the secret shown again"
        );
        let next =
            outreach_core::second_factor::code_at(&secret, jiff::Timestamp::now().as_second() + 30)
                .unwrap();
        type_code(&driver, &next).await;
        wait_for_path(&driver, "/").await;
        driver.quit().await.unwrap();
        server.stop().await;
    }
}

fn shots_name(tag: &str, what: &str) -> PathBuf {
    screenshot_dir().join(format!("{tag}-{what}.png"))
}

#[tokio::test]
async fn each_role_logs_in_by_keyboard_and_sees_its_start_page() {
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    let shots = screenshot_dir();
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let server = Server::start(&app).await;
        let base = server.base.clone();
        let driver = browser(driver_port).await;
        let tag = format!("{backend:?}").to_lowercase();

        // The login page with the error summary, for review.
        driver.goto(format!("{base}/login")).await.unwrap();
        driver
            .find(By::Css("form[action='/login'] button"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        // `query` polls until the page after the submit shows the element.
        let summary = driver.query(By::Id("fehler")).first().await.unwrap();
        let text = summary.text().await.unwrap();
        assert!(
            text.contains("Bitte geben Sie Ihren Benutzernamen ein."),
            "{text}"
        );
        assert_accessible(&driver, "the login page with its errors").await;
        driver
            .screenshot(&shots.join(format!("{tag}-anmeldung-fehler.png")))
            .await
            .unwrap();

        for role in Role::ALL {
            log_in(&driver, &base, &username(role, Side::Own)).await;
            let links = driver
                .query(By::Css("nav[aria-label='Hauptnavigation'] a"))
                .all_from_selector_required()
                .await
                .unwrap();
            let mut labels = Vec::new();
            let mut hrefs = Vec::new();
            for link in links {
                labels.push(link.text().await.unwrap());
                hrefs.push(link.attr("href").await.unwrap().unwrap_or_default());
            }
            let (must, must_not) = navigation(role);
            for label in must {
                assert!(
                    labels.iter().any(|l| l == label),
                    "[{tag}] {role:?} misses {label}: {labels:?}"
                );
            }
            for label in must_not {
                assert!(
                    !labels.iter().any(|l| l == label),
                    "[{tag}] {role:?} sees {label}: {labels:?}"
                );
            }
            // Keyboard: the first Tab reaches the skip link.
            driver
                .find(By::Tag("body"))
                .await
                .unwrap()
                .send_keys(Key::Tab)
                .await
                .unwrap();
            let focused = driver.active_element().await.unwrap();
            assert_eq!(
                focused.text().await.unwrap(),
                "Zum Inhalt springen",
                "[{tag}] {role:?}"
            );
            driver
                .screenshot(&shots.join(format!("{tag}-start-{}.png", role.code())))
                .await
                .unwrap();

            // Every page the navigation offers, and the forms and records behind
            // them, open without an error page and, at 640 px (1280 px at 200 %
            // zoom), without sideways scrolling.
            let f = &app.fixtures;
            hrefs.extend(match role {
                Role::JobcenterAdmin => vec![
                    "/auftraege/neu".to_string(),
                    format!("/auftraege/{}", f.mandate),
                    format!("/kunden/{}", f.customer_a),
                ],
                Role::Supervisor => vec![format!("/auftraege/{}", f.mandate)],
                Role::Admin => vec!["/admin/benutzer/neu".to_string()],
                _ => vec![],
            });
            for href in &hrefs {
                for (width, suffix) in [(1280, ""), (640, "-zoom200")] {
                    driver.set_window_rect(0, 0, width, 900).await.unwrap();
                    driver.goto(format!("{base}{href}")).await.unwrap();
                    let title = driver
                        .find(By::Tag("h1"))
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap();
                    for error in [
                        "Keine Berechtigung",
                        "Seite nicht gefunden",
                        "Interner Fehler",
                    ] {
                        assert!(!title.contains(error), "[{tag}] {role:?} {href}: {title}");
                    }
                    assert!(
                        !scrolls_sideways(&driver).await,
                        "[{tag}] {role:?} {href} at {width}px"
                    );
                    assert_accessible(&driver, &format!("[{tag}] {role:?} {href} at {width}px"))
                        .await;
                    let name = match href.trim_matches('/') {
                        "" => "start".to_string(),
                        other => other.replace('/', "-"),
                    };
                    driver
                        .screenshot(
                            &shots.join(format!("{tag}-{}-{name}{suffix}.png", role.code())),
                        )
                        .await
                        .unwrap();
                }
            }
            driver.set_window_rect(0, 0, 1280, 900).await.unwrap();

            if role == Role::JobcenterAdmin {
                import_in_the_browser(&driver, &base, &shots, &tag).await;
                campaign_in_the_browser(&driver, &base, &shots, &tag).await;
            }

            driver
                .find(By::Css("form[action='/logout'] button"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            wait_for_path(&driver, "/login").await;
        }
        driver.quit().await.unwrap();
        server.stop().await;
    }
}

/// WCAG 2.2.1: before the session ends a dialog offers to extend it; one key
/// press keeps the session, doing nothing ends it.
#[tokio::test]
async fn the_session_warning_extends_the_session_by_keyboard() {
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    for backend in backends().await {
        // 8 s idle limit: the warning shows after 4 s.
        let config = outreach_web::WebConfig {
            session_idle_seconds: 8,
            ..outreach_web::WebConfig::default()
        };
        let app = TestApp::with_config(backend, config).await;
        let server = Server::start(&app).await;
        let driver = browser(driver_port).await;
        let user = username(Role::JobcenterAdmin, Side::Own);
        log_in(&driver, &server.base, &user).await;
        let logged_in = Instant::now();

        let dialog = driver.find(By::Id("sitzungswarnung")).await.unwrap();
        let open = |d: WebElement| async move { d.attr("open").await.unwrap().is_some() };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !open(dialog.clone()).await {
            assert!(Instant::now() < deadline, "[{backend:?}] no warning shown");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            logged_in.elapsed() >= Duration::from_secs(3),
            "warned too early"
        );
        let focused = driver.active_element().await.unwrap();
        assert_eq!(
            focused.text().await.unwrap(),
            "Sitzung verlängern",
            "[{backend:?}] focus"
        );
        focused.send_keys(Key::Enter).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while open(dialog.clone()).await {
            assert!(Instant::now() < deadline, "[{backend:?}] dialog stays open");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Past the original limit the session is still valid on the server.
        while logged_in.elapsed() < Duration::from_secs(9) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        driver
            .goto(format!("{}/kunden", server.base))
            .await
            .unwrap();
        assert_eq!(
            driver.current_url().await.unwrap().path(),
            "/kunden",
            "[{backend:?}] extension lost"
        );

        // Without an answer the page leaves for the login page when the session ends.
        let deadline = Instant::now() + Duration::from_secs(20);
        while driver.current_url().await.unwrap().path() != "/login" {
            assert!(
                Instant::now() < deadline,
                "[{backend:?}] no logout after idle time"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let notice = driver.query(By::Css("p.notice")).first().await.unwrap();
        assert!(
            notice
                .text()
                .await
                .unwrap()
                .contains("Ihre Sitzung ist abgelaufen")
        );
        driver
            .goto(format!("{}/kunden", server.base))
            .await
            .unwrap();
        assert_eq!(
            driver.current_url().await.unwrap().path(),
            "/login",
            "[{backend:?}] session outlived its idle limit"
        );
        driver.quit().await.unwrap();
        server.stop().await;
    }
}

/// Sends keys to whatever has the focus.
async fn keys(driver: &WebDriver, keys: impl Into<TypingData>) {
    driver
        .active_element()
        .await
        .unwrap()
        .send_keys(keys)
        .await
        .unwrap();
}

/// The text (or value) of the focused element.
async fn focused_text(driver: &WebDriver) -> String {
    let el = driver.active_element().await.unwrap();
    let text = el.text().await.unwrap();
    if text.is_empty() {
        el.attr("value").await.unwrap().unwrap_or_default()
    } else {
        text
    }
}

/// Marks the current document, to notice when the next page has loaded.
async fn mark_page(driver: &WebDriver) {
    driver
        .execute("window.__vorher = true;", Vec::new())
        .await
        .unwrap();
}

/// Waits until a new document replaced the marked one, finished loading and
/// is ready for the keyboard (`data-bereit`, set by app.js once the focus
/// is where the page puts it).
async fn wait_for_next_page(driver: &WebDriver) {
    let next = "return window.__vorher !== true && document.readyState === 'complete'
                && document.documentElement.getAttribute('data-bereit') === '1';";
    wait_until(driver, next, "no next page").await;
    assert_accessible(driver, "the page after a submit").await;
}

/// Types what the customer says into the identity fields — the first has
/// the focus, Tab leads to the next — and checks them with Enter.
async fn state_identity(driver: &WebDriver, said: &[&str]) {
    let focused = driver.active_element().await.unwrap();
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("angabe_birth_date"),
        "the first statement has the focus"
    );
    for (n, value) in said.iter().enumerate() {
        if n > 0 {
            keys(driver, Key::Tab).await;
        }
        if !value.is_empty() {
            keys(driver, *value).await;
        }
    }
    submit(driver).await;
}

/// Presses Enter on the focused element and waits for the next page.
async fn submit(driver: &WebDriver) {
    mark_page(driver).await;
    keys(driver, Key::Enter).await;
    wait_for_next_page(driver).await;
}

/// Tabs to the button labelled `label` (keyboard only) and presses it.
async fn press_button(driver: &WebDriver, label: &str) {
    for _ in 0..60 {
        // The label, maybe followed by its shortcut (`<kbd>Alt+V</kbd>`).
        let text = focused_text(driver).await;
        if text.trim() == label
            || text
                .trim()
                .strip_prefix(label)
                .is_some_and(|r| r.trim_start().starts_with("Alt+"))
        {
            submit(driver).await;
            return;
        }
        keys(driver, Key::Tab).await;
    }
    panic!("no button „{label}“ reachable by Tab");
}

/// The step heading of the page.
async fn heading(driver: &WebDriver) -> String {
    driver
        .find(By::Id("schritt-titel"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Answers the current question by keyboard: `Some(n)` checks the n-th
/// option of a radio group (arrow keys) and saves; `Text` types into the
/// focused field (replacing it) and presses Enter; `Keep` presses Enter on
/// the prefilled field; `Skip` tabs to "Überspringen".
enum Answer<'a> {
    Option(usize),
    Text(&'a str),
    Keep,
    Skip,
}

async fn answer(driver: &WebDriver, a: Answer<'_>) {
    match a {
        Answer::Option(n) => {
            // The focus is on the first option; arrows move and check.
            if n == 0 {
                keys(driver, Key::Space).await;
            }
            for _ in 0..n {
                keys(driver, Key::Down).await;
            }
            press_button(driver, "Antwort speichern").await;
        }
        Answer::Text(text) => {
            keys(driver, Key::Control + "a").await;
            keys(driver, text).await;
            submit(driver).await;
        }
        Answer::Keep => submit(driver).await,
        Answer::Skip => press_button(driver, "Überspringen (keine Angabe)").await,
    }
}

/// Greeting, identity check (both items), explanation and consent, by keyboard.
async fn preview_opening(driver: &WebDriver, url: &str) {
    open_ready(driver, url).await;
    assert_eq!(heading(driver).await, "Begrüßung");
    submit(driver).await; // Weiter
    assert_eq!(heading(driver).await, "Identitätsprüfung");
    state_identity(driver, &["12.8.1964", "46045"]).await;
    assert_eq!(heading(driver).await, "Erläuterung");
    submit(driver).await;
    assert_eq!(focused_text(driver).await, "Kunde willigt ein");
    submit(driver).await;
}

async fn outcome(driver: &WebDriver) -> String {
    driver
        .find(By::Id("ergebnis"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
