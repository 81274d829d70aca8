//! Browser test in Debian's Chromium through chromedriver: each role logs in
//! by keyboard, sees its own navigation, and a screenshot of its start page is
//! written to `target/screenshots/` for review.
//!
//! Needs `chromium` and `chromium-driver` (`apt-get install chromium
//! chromium-driver`). Without them the test is skipped with a message, except in
//! CI (`CI` set) or with `OUTREACH_REQUIRE_BROWSER`, where that is a failure.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

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
    wait_for_path(driver, "/").await;
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

/// The job center's administration uploads the sample export as a dry run,
/// the page follows the progress by itself and shows the result; then the
/// import is run for real.
async fn import_in_the_browser(driver: &WebDriver, base: &str, shots: &Path, tag: &str) {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/samples/kunden-export-beispiel.csv");
    let sample = sample.canonicalize().unwrap();
    driver.goto(format!("{base}/kunden/import")).await.unwrap();
    driver
        .find(By::Id("datei"))
        .await
        .unwrap()
        .send_keys(sample.to_str().unwrap())
        .await
        .unwrap();
    driver
        .find(By::Css("form[enctype='multipart/form-data'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let done = driver
        .query(By::Css("p.notice"))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(
        done.text()
            .await
            .unwrap()
            .contains("Probelauf abgeschlossen"),
        "[{tag}]"
    );
    let body = driver
        .find(By::Tag("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("übernommen\n25") || body.contains("übernommen 25"),
        "[{tag}] {body}"
    );
    driver
        .screenshot(&shots.join(format!("{tag}-import-probelauf.png")))
        .await
        .unwrap();
    driver
        .find(By::Css("form[action$='/ausfuehren'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let saved = driver
        .query(By::XPath(
            "//p[contains(., 'Import abgeschlossen und gespeichert.')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(saved.text().await.unwrap().contains("gespeichert"));
    driver
        .screenshot(&shots.join(format!("{tag}-import-gespeichert.png")))
        .await
        .unwrap();
}

/// The job center's administration creates a campaign (the count of
/// selected customers appears as the selection is entered), activates it,
/// produces the advance letters, marks the batch sent, and sees the reasons
/// of the cases change from "not sent" to the lead time.
async fn campaign_in_the_browser(driver: &WebDriver, base: &str, shots: &Path, tag: &str) {
    let today = outreach_core::date::berlin_date(jiff::Timestamp::now().as_second());
    let de = outreach_core::date::format_de_date;
    driver.goto(format!("{base}/aktionen/neu")).await.unwrap();
    let preview = driver
        .query(By::XPath(
            "//p[@id='vorschau' and contains(., 'umfasst heute')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(preview.text().await.unwrap().contains("Kunden"), "[{tag}]");
    let type_into = |id: &'static str, text: String| async move {
        let field = driver.find(By::Id(id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    };
    type_into("name", "Aktion im Browser".into()).await;
    type_into("period_start", de(today)).await;
    type_into("period_end", de(today.tomorrow().unwrap())).await;
    driver
        .find(By::Css("#mandate option:nth-child(2)"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    driver
        .find(By::Css("button[value='anlegen']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let click = |xpath: &'static str| async move {
        driver
            .query(By::XPath(xpath))
            .wait(Duration::from_secs(30), Duration::from_millis(100))
            .first()
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    };
    click("//button[normalize-space()='Aktivieren']").await;
    click("//button[starts-with(normalize-space(), 'Briefstapel')]").await;
    let reasons = driver
        .query(By::XPath(
            "//table[@id='gruende' and contains(., 'Vorabinformation noch nicht versandt')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(reasons.is_displayed().await.unwrap(), "[{tag}]");
    driver
        .screenshot(&shots.join(format!("{tag}-aktion-stapel.png")))
        .await
        .unwrap();
    // All print files: the progress page reloads itself when they are done.
    click("//button[normalize-space()='Alle Druckdateien erzeugen (ZIP)']").await;
    let ready = driver
        .query(By::Id("druck-fertig"))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    assert!(
        ready
            .text()
            .await
            .unwrap()
            .contains("Die Druckdateien sind fertig"),
        "[{tag}]"
    );
    let zip = driver
        .find(By::XPath(
            "//a[starts-with(normalize-space(), 'Druckdateien herunterladen')]",
        ))
        .await
        .unwrap();
    assert!(
        zip.attr("href")
            .await
            .unwrap()
            .unwrap_or_default()
            .ends_with("/druck/zip")
    );
    driver
        .screenshot(&shots.join(format!("{tag}-aktion-druck.png")))
        .await
        .unwrap();
    driver
        .find(By::PartialLinkText("Zurück zur Aktion"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let sent_on = driver.find(By::Css("input[id^='sent_on_']")).await.unwrap();
    sent_on.send_keys(de(today)).await.unwrap();
    click("//button[normalize-space()='Als versandt markieren']").await;
    let waiting = driver
        .query(By::XPath(
            "//table[@id='gruende' and contains(., 'Wartefrist bis')]",
        ))
        .wait(Duration::from_secs(30), Duration::from_millis(100))
        .first()
        .await
        .unwrap();
    let text = waiting.text().await.unwrap();
    assert!(!text.contains("noch nicht versandt"), "[{tag}] {text}");
    driver
        .screenshot(&shots.join(format!("{tag}-aktion-versandt.png")))
        .await
        .unwrap();
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
    assert_eq!(focused_text(driver).await, "Geburtsdatum stimmt");
    submit(driver).await;
    assert_eq!(focused_text(driver).await, "Postleitzahl stimmt");
    submit(driver).await;
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

/// The preview of the default guide, walked by keyboard alone along three
/// paths: data confirmed, no longer unemployed (job taken up), refusal
/// after the explanation.
#[tokio::test]
async fn the_guide_preview_by_keyboard_alone() {
    use Answer::*;
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    let shots = screenshot_dir();
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let server = Server::start(&app).await;
        let driver = browser(driver_port).await;
        log_in(
            &driver,
            &server.base,
            &username(Role::JobcenterAdmin, Side::Own),
        )
        .await;
        let url = format!("{}/leitfaeden/{}/vorschau", server.base, app.fixtures.guide);
        let tag = format!("{backend:?}").to_lowercase();

        // 1. Data confirmed.
        preview_opening(&driver, &url).await;
        assert_eq!(heading(&driver).await, "Arbeitslosigkeit");
        answer(&driver, Option(0)).await; // still unemployed: Ja
        answer(&driver, Option(0)).await; // available: Ja
        answer(&driver, Option(1)).await; // health: nein
        driver
            .screenshot(&shots.join(format!("{tag}-leitfaden-frage.png")))
            .await
            .unwrap();
        answer(&driver, Keep).await; // phone as stored
        answer(&driver, Keep).await; // e-mail as stored
        answer(&driver, Option(0)).await; // same address: Ja
        answer(&driver, Keep).await; // occupation as stored
        for _ in ["working time", "mobility", "licences", "care"] {
            answer(&driver, Skip).await;
        }
        answer(&driver, Keep).await; // no support wish (empty)
        answer(&driver, Option(1)).await; // appointment: Nein
        assert_eq!(heading(&driver).await, "Zusammenfassung zum Vorlesen");
        let table = driver.find(By::Id("aenderungen")).await.unwrap();
        assert!(table.text().await.unwrap().contains("Keine Änderungen"));
        submit(&driver).await; // confirmed
        assert_eq!(
            outcome(&driver).await,
            "Gespräch geführt, Daten bestätigt",
            "[{tag}]"
        );

        // 2. No longer unemployed: a job taken up, a new phone number.
        preview_opening(&driver, &url).await;
        answer(&driver, Option(1)).await; // still unemployed: Nein
        assert!(
            driver
                .find(By::XPath("//legend[contains(., 'nicht mehr arbeitslos')]"))
                .await
                .is_ok()
        );
        answer(&driver, Option(0)).await; // Beschäftigung 1. Arbeitsmarkt
        answer(&driver, Text("01.11.2026")).await;
        answer(&driver, Text("38")).await;
        answer(&driver, Option(0)).await; // social insurance: Ja
        answer(&driver, Text("0171 2345678")).await;
        answer(&driver, Keep).await; // e-mail
        answer(&driver, Option(0)).await; // same address
        answer(&driver, Keep).await; // no support wish
        answer(&driver, Option(1)).await; // appointment: Nein
        let changes = driver.find(By::Id("aenderungen")).await.unwrap();
        let text = changes.text().await.unwrap();
        assert!(
            text.contains("+492081234567") && text.contains("+491712345678"),
            "{text}"
        );
        driver
            .screenshot(&shots.join(format!("{tag}-leitfaden-zusammenfassung.png")))
            .await
            .unwrap();
        submit(&driver).await;
        assert_eq!(
            outcome(&driver).await,
            "Gespräch geführt, Daten aktualisiert"
        );
        let result = driver.find(By::Css("section.call-step dl")).await.unwrap();
        let result = result.text().await.unwrap();
        assert!(
            result.contains("Beschäftigung 1. Arbeitsmarkt, seit 01.11.2026, 38 Std./Woche, sozialversicherungspflichtig"),
            "{result}"
        );

        // 3. Refusal after the explanation (identity by the letter's code).
        open_ready(&driver, &url).await;
        submit(&driver).await;
        press_button(&driver, "Prüfcode aus der Vorabinformation stimmt").await;
        assert_eq!(heading(&driver).await, "Erläuterung");
        press_button(&driver, "Kunde verweigert weitere Auskunft").await;
        assert_eq!(outcome(&driver).await, "Auskunft verweigert");
        let result = driver.find(By::Css("section.call-step dl")).await.unwrap();
        assert!(!result.text().await.unwrap().contains("Änderung"));
        driver.quit().await.unwrap();
        server.stop().await;
    }
}

/// An agent by keyboard alone: next case, "keine Antwort" (shortcut 3), the
/// next case reached (shortcut 1), the whole conversation with a new phone
/// number, a reload in the middle that resumes the call; the result stored.
#[tokio::test]
async fn an_agent_calls_by_keyboard_alone() {
    use Answer::*;
    if !browser_available() {
        return;
    }
    let _one_browser = ONE_BROWSER.lock().await;
    let (_chromedriver, driver_port) = start_chromedriver().await;
    let shots = screenshot_dir();
    for backend in backends().await {
        let app = TestApp::new(backend).await;
        let campaign_id = common::running_campaign(&app).await;
        // Both customers are the own pAp's, whichever the queue hands out.
        let mut tx = app.state.db.begin().await.unwrap();
        tx.execute(
            "UPDATE customers SET pap_code = 'PAP1' WHERE job_center_id = $1",
            outreach_store::args![app.fixtures.jc_a],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let server = Server::start(&app).await;
        let driver = browser(driver_port).await;
        let tag = format!("{backend:?}").to_lowercase();
        log_in(&driver, &server.base, &username(Role::Agent, Side::Own)).await;
        open_ready(&driver, &format!("{}/anrufe", server.base)).await;
        assert_eq!(focused_text(&driver).await, "Nächster Fall");
        submit(&driver).await;
        assert_eq!(focused_text(&driver).await, "Anruf starten (Telefon)");
        submit(&driver).await;
        driver
            .screenshot(&shots.join(format!("{tag}-anruf-ergebnis.png")))
            .await
            .unwrap();
        keys(&driver, "3").await; // keine Antwort
        press_button(&driver, "Ergebnis speichern").await;
        let notice = driver.find(By::Css("p.notice")).await.unwrap();
        assert!(
            notice
                .text()
                .await
                .unwrap()
                .contains("Das Ergebnis ist gespeichert")
        );

        // The next case: reached.
        assert_eq!(focused_text(&driver).await, "Nächster Fall");
        submit(&driver).await;
        submit(&driver).await; // Anruf starten
        keys(&driver, "1").await; // erreicht
        press_button(&driver, "Ergebnis speichern").await;
        assert_eq!(heading(&driver).await, "Begrüßung");
        submit(&driver).await;
        submit(&driver).await; // Geburtsdatum stimmt
        submit(&driver).await; // Postleitzahl stimmt
        submit(&driver).await; // Erläuterung gegeben
        submit(&driver).await; // Kunde willigt ein
        answer(&driver, Option(0)).await; // still unemployed
        // A reload in the middle of the call: the same step again.
        mark_page(&driver).await;
        driver.refresh().await.unwrap();
        wait_for_next_page(&driver).await;
        assert!(
            driver
                .find(By::XPath(
                    "//legend[contains(., 'kurzfristig eine Arbeit')]"
                ))
                .await
                .is_ok(),
            "[{tag}] the call did not resume"
        );
        answer(&driver, Option(0)).await; // available
        answer(&driver, Option(1)).await; // health: nein
        answer(&driver, Text("0171 2345678")).await;
        answer(&driver, Skip).await; // e-mail
        answer(&driver, Option(0)).await; // same address
        for _ in [
            "occupation",
            "working time",
            "mobility",
            "licences",
            "care",
            "support",
        ] {
            answer(&driver, Skip).await;
        }
        answer(&driver, Option(1)).await; // appointment: nein
        assert_eq!(heading(&driver).await, "Zusammenfassung zum Vorlesen");
        submit(&driver).await;
        let notice = driver.find(By::Css("p.notice")).await.unwrap();
        assert!(
            notice
                .text()
                .await
                .unwrap()
                .contains("Gespräch geführt, Daten aktualisiert"),
            "[{tag}]"
        );
        assert_eq!(focused_text(&driver).await, "Nächster Fall");
        driver
            .screenshot(&shots.join(format!("{tag}-anruf-ende.png")))
            .await
            .unwrap();
        let mut tx = app.state.db.begin_read().await.unwrap();
        let (changes,): (String,) = tx
            .fetch_one(
                "SELECT r.changes FROM results r JOIN cases k ON k.id = r.case_id WHERE k.campaign_id = $1",
                outreach_store::args![campaign_id],
            )
            .await
            .unwrap();
        assert!(changes.contains("+491712345678"), "[{tag}] {changes}");
        drop(tx);
        the_pap_takes_over(&app, &driver, &server.base, campaign_id, &tag).await;
        driver.quit().await.unwrap();
        server.stop().await;
    }
}

/// After the agent's call: the pAp sees the result with the changed phone
/// number, acknowledges it, invites the customer who refused (the fixture's
/// refusal) by keyboard, and the administration's report counts the
/// conversation.
async fn the_pap_takes_over(
    app: &TestApp,
    driver: &WebDriver,
    base: &str,
    campaign_id: i64,
    tag: &str,
) {
    let shots = screenshot_dir();
    let mut tx = app.state.db.begin_read().await.unwrap();
    let (case,): (i64,) = tx
        .fetch_one(
            "SELECT r.case_id FROM results r JOIN cases k ON k.id = r.case_id WHERE k.campaign_id = $1",
            outreach_store::args![campaign_id],
        )
        .await
        .unwrap();
    drop(tx);
    driver.delete_all_cookies().await.unwrap();
    log_in(driver, base, &username(Role::CaseManager, Side::Own)).await;
    driver.goto(format!("{base}/ergebnisse")).await.unwrap();
    let link = driver
        .find(By::Css(format!("a[href='/ergebnisse/{case}']")))
        .await
        .unwrap_or_else(|_| panic!("[{tag}] the result is not in the inbox"));
    mark_page(driver).await;
    link.send_keys(Key::Enter).await.unwrap();
    wait_for_next_page(driver).await;
    let page = driver.source().await.unwrap();
    assert!(
        page.contains("Gespräch geführt, Daten aktualisiert"),
        "[{tag}]"
    );
    assert!(
        page.contains("2345678"),
        "[{tag}] the new phone number is shown"
    );
    driver
        .screenshot(&shots.join(format!("{tag}-pap-ergebnis.png")))
        .await
        .unwrap();
    // Acknowledge by keyboard.
    driver
        .find(By::Tag("h1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    press_button(driver, "zur Kenntnis genommen").await;
    let notice = driver.find(By::Css("p.notice")).await.unwrap();
    assert!(
        notice
            .text()
            .await
            .unwrap()
            .contains("zur Kenntnis genommen vermerkt"),
        "[{tag}]"
    );

    // The refusal: an invitation.
    let refusal = app.fixtures.result_case;
    driver
        .goto(format!("{base}/ergebnisse/{refusal}/einladung"))
        .await
        .unwrap();
    let purpose = driver.find(By::Id("zweck")).await.unwrap();
    purpose.send_keys("Vermittlung").await.unwrap();
    let day = outreach_core::date::berlin_date(app.state.clock.now())
        .checked_add(jiff::Span::new().days(7))
        .unwrap();
    let day = match day.weekday() {
        jiff::civil::Weekday::Saturday => day.checked_add(jiff::Span::new().days(2)).unwrap(),
        jiff::civil::Weekday::Sunday => day.tomorrow().unwrap(),
        _ => day,
    };
    let date = driver.find(By::Id("datum")).await.unwrap();
    date.send_keys(outreach_core::date::format_de_date(day))
        .await
        .unwrap();
    driver
        .find(By::Id("raum"))
        .await
        .unwrap()
        .send_keys("2.14")
        .await
        .unwrap();
    driver
        .find(By::Id("datum"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    press_button(driver, "Einladung erstellen").await;
    let notice = driver.find(By::Css("p.notice")).await.unwrap();
    assert!(
        notice
            .text()
            .await
            .unwrap()
            .contains("Die Einladung ist erstellt"),
        "[{tag}] {}",
        driver.source().await.unwrap()
    );
    driver
        .screenshot(&shots.join(format!("{tag}-pap-einladung.png")))
        .await
        .unwrap();

    // The administration's report counts the conversation.
    driver.delete_all_cookies().await.unwrap();
    log_in(driver, base, &username(Role::JobcenterAdmin, Side::Own)).await;
    driver
        .goto(format!("{base}/berichte?aktion={campaign_id}"))
        .await
        .unwrap();
    let report = driver.source().await.unwrap();
    assert!(
        report.contains("<td>geführte Gespräche</td><td>1</td>"),
        "[{tag}] {report}"
    );
    assert!(
        report
            .contains("<td>Gespräche mit mindestens einer geänderten Angabe</td><td>100,0 %</td>"),
        "[{tag}]"
    );
    driver
        .screenshot(&shots.join(format!("{tag}-bericht.png")))
        .await
        .unwrap();
}
