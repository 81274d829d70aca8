//! The command line against real databases (SQLite and PostgreSQL): migrate,
//! user add, audit verify, and the demo serving its login page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_store::testing::{TestDb, backends};
use outreach_store::user;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

mod operations;
mod transfer;

const BIN: &str = env!("CARGO_BIN_EXE_outreach");

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("OUTREACH_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test]
async fn user_add_and_audit_verify() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let url = t.url.as_str();
        let migrate = run(&["migrate", "--database-url", url], None);
        assert!(migrate.status.success(), "{backend:?}: {}", text(&migrate));

        let added = run(
            &[
                "user",
                "add",
                "--database-url",
                url,
                "--username",
                "root.admin",
                "--name",
                "Erste Administratorin",
                "--role",
                "admin",
            ],
            None,
        );
        assert!(added.status.success(), "{backend:?}: {}", text(&added));
        let out = text(&added);
        assert!(
            out.contains("Passwort (wird nur jetzt angezeigt): "),
            "{out}"
        );

        let from_stdin = run(
            &[
                "user",
                "add",
                "--database-url",
                url,
                "--username",
                "zweite",
                "--name",
                "Zweite",
                "--role",
                "admin",
                "--password-stdin",
            ],
            Some("ein-eigenes-langes-passwort\n"),
        );
        assert!(from_stdin.status.success(), "{}", text(&from_stdin));
        assert!(!text(&from_stdin).contains("ein-eigenes-langes-passwort"));

        let short = run(
            &[
                "user",
                "add",
                "--database-url",
                url,
                "--username",
                "dritte",
                "--name",
                "Dritte",
                "--role",
                "admin",
                "--password-stdin",
            ],
            Some("kurz\n"),
        );
        assert!(!short.status.success());
        assert!(
            text(&short).contains("mindestens 12 Zeichen"),
            "{}",
            text(&short)
        );

        let no_org = run(
            &[
                "user",
                "add",
                "--database-url",
                url,
                "--username",
                "agentin",
                "--name",
                "A",
                "--role",
                "agent",
            ],
            None,
        );
        assert!(!no_org.status.success());
        assert!(
            text(&no_org).contains("--organisation"),
            "{}",
            text(&no_org)
        );
        let duplicate = run(
            &[
                "user",
                "add",
                "--database-url",
                url,
                "--username",
                "zweite",
                "--name",
                "Zweite",
                "--role",
                "admin",
            ],
            None,
        );
        assert!(
            text(&duplicate).contains("gibt es schon"),
            "{}",
            text(&duplicate)
        );

        let mut tx = t.db.begin_read().await.unwrap();
        let stored = user::by_username(&mut tx, "root.admin")
            .await
            .unwrap()
            .unwrap();
        assert!(stored.password_hash.starts_with("$argon2id$"));
        drop(tx);

        let verified = run(&["audit", "verify", "--database-url", url], None);
        assert!(verified.status.success(), "{}", text(&verified));
        assert!(
            text(&verified).contains("2 Ereignisse geprüft"),
            "{}",
            text(&verified)
        );

        outreach_store::testing::tamper_with_audit(
            &t.db,
            "UPDATE audit_events SET fields = 'Rolle agent' WHERE seq = 2",
        )
        .await
        .unwrap();
        let broken = run(&["audit", "verify", "--database-url", url], None);
        assert_eq!(
            broken.status.code(),
            Some(2),
            "{backend:?}: {}",
            text(&broken)
        );
        assert!(text(&broken).contains("Nr. 2"), "{}", text(&broken));
    }
}

#[test]
fn unreadable_database_url_is_a_german_error() {
    let output = run(&["migrate", "--database-url", "mysql://x"], None);
    assert!(!output.status.success());
    let out = text(&output);
    assert!(
        out.contains("Fehler: Datenbank mysql://x kann nicht geöffnet werden"),
        "{out}"
    );
}

#[test]
fn the_demo_serves_the_login_page_and_prints_logins() {
    let dir = std::env::temp_dir().join(format!("outreach-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let log = dir.join("demo.log");
    let mut child = Command::new(BIN)
        .args([
            "--log-format",
            "json",
            "demo",
            "--bind",
            &format!("127.0.0.1:{port}"),
            "--file",
        ])
        .arg(dir.join("demo.db"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let page = wait_get(&mut child, port, "/login");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("Anmeldung"));
    let printed = std::fs::read_to_string(&log).unwrap();
    // Each printed login works: the login form answers with the start page.
    for login in [
        "agent.hamburg",
        "teamleitung.hamburg",
        "pap.oberhausen",
        "pap2.oberhausen",
        "pap3.oberhausen",
        "admin.oberhausen",
        "datenschutz.oberhausen",
        "sysadmin",
    ] {
        let line = printed
            .lines()
            .find(|l| l.trim_start().starts_with(login))
            .unwrap_or_else(|| panic!("{login} missing in {printed}"));
        let password = line.split_whitespace().last().unwrap();
        assert_eq!(log_in(port, login, password), "/", "{login}");
    }
    let _ = child.kill();
    let _ = child.wait();
    // A few calls are already made: the pAp's inbox and the reports show them.
    let url = format!("sqlite://{}", dir.join("demo.db").display());
    let (results, finals) = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = outreach_store::Db::connect(&url).await.unwrap();
        let mut tx = db.begin_read().await.unwrap();
        let counts: (i64, i64) = tx
            .fetch_one(
                "SELECT (SELECT COUNT(*) FROM results), (SELECT COUNT(*) FROM cases WHERE closed_at IS NOT NULL)",
                vec![],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        db.close().await;
        counts
    });
    assert_eq!((results, finals), (3, 4));
    // Structured logs: every line is a JSON object; none carries a password.
    let logs = std::fs::read_to_string(dir.join("stderr.log")).unwrap();
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "listening"),
        "{logs}"
    );
    let password = printed
        .lines()
        .find(|l| l.contains("admin.oberhausen"))
        .and_then(|l| l.split_whitespace().last())
        .unwrap();
    assert!(!logs.contains(password));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One HTTP/1.1 request over a fresh connection; returns the raw response.
fn http(port: u16, request: &str) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Posts the login form; returns the raw response.
fn login_response(port: u16, username: &str, password: &str) -> String {
    let page = http(
        port,
        "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let cookie = page
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_string();
    let token = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let body = format!("csrf={token}&username={username}&password={password}");
    http(
        port,
        &format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// Logs in through the login form; returns where the server sends the browser.
fn log_in(port: u16, username: &str, password: &str) -> String {
    login_response(port, username, password)
        .lines()
        .find_map(|l| l.strip_prefix("location: "))
        .unwrap_or("")
        .to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `GET path` on `port` until it answers, while `child` runs.
fn wait_get(child: &mut std::process::Child, port: u16, path: &str) -> String {
    use std::io::Read;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            write!(
                stream,
                "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            return response;
        }
        assert!(Instant::now() < deadline, "server did not start");
        assert!(child.try_wait().unwrap().is_none(), "server exited");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn serve_reads_a_config_file_and_the_environment_wins() {
    let dir = std::env::temp_dir().join(format!("outreach-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file_port, env_port) = (free_port(), free_port());
    let config = dir.join("outreach.toml");
    std::fs::write(
        &config,
        format!(
            "bind = \"127.0.0.1:{file_port}\"\ndatabase_url = \"sqlite://{}\"\nsession_minutes = 20\n",
            dir.join("serve.db").display()
        ),
    )
    .unwrap();
    for (env_bind, port) in [
        (None, file_port),
        (Some(format!("127.0.0.1:{env_port}")), env_port),
    ] {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--config"])
            .arg(&config)
            .env_remove("OUTREACH_DATABASE_URL")
            .env_remove("OUTREACH_BIND")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(bind) = &env_bind {
            command.env("OUTREACH_BIND", bind);
        }
        let mut child = command.spawn().unwrap();
        let health = wait_get(&mut child, port, "/healthz");
        let _ = child.kill();
        let _ = child.wait();
        assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    }
    assert!(
        dir.join("serve.db").exists(),
        "the file's database_url was used"
    );

    std::fs::write(&config, "session_minutes = \"dreißig\"\n").unwrap();
    let bad = run(&["serve", "--config", config.to_str().unwrap()], None);
    assert!(!bad.status.success());
    assert!(text(&bad).contains("Zeile 1"), "{}", text(&bad));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A moved clock reaches only a training server: `serve` without
/// `--training` refuses to start and says why in German; with it, every
/// page carries the training banner (both databases).
#[tokio::test]
async fn a_moved_clock_is_refused_outside_training_mode() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let args = ["serve", "--bind", &bind, "--database-url", &t.url];
        let mut child = Command::new(BIN)
            .args(args)
            .env("OUTREACH_CLOCK_START", "2099-01-04T10:00:00+01:00")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("{backend:?}: serve runs with a moved clock and without --training");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let refused = child.wait_with_output().unwrap();
        assert!(!refused.status.success(), "{backend:?}");
        let said = text(&refused);
        assert!(
            said.contains("OUTREACH_CLOCK_START ist gesetzt")
                && said.contains("--training")
                && said.contains("Der Server startet nicht"),
            "{backend:?}: {said}"
        );
        // Nothing listens: the server did not start.
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());

        let mut child = Command::new(BIN)
            .args(args)
            .arg("--training")
            .env("OUTREACH_CLOCK_START", "2099-01-04T10:00:00+01:00")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let login = wait_get(&mut child, port, "/login");
        let missing = wait_get(&mut child, port, "/gibt-es-nicht");
        let _ = child.kill();
        let _ = child.wait();
        assert!(login.contains("Schulungsbetrieb"), "{backend:?}: {login}");
        assert!(
            missing.contains("Schulungsbetrieb"),
            "{backend:?}: {missing}"
        );
    }
}

/// CPU time a process has used, in clock ticks (Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .nth(11)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[test]
fn guide_check_passes_the_default_guide_and_names_problems_by_line() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let default = root.join("guides/sgb2-bewerberdaten.toml");
    let ok = run(&["guide", "check", default.to_str().unwrap()], None);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("in Ordnung"), "{}", text(&ok));
    assert!(text(&ok).contains("Version 2026-12"));

    let broken = root.join("crates/outreach-core/tests/guides/condition-later.toml");
    let bad = run(&["guide", "check", broken.to_str().unwrap()], None);
    assert_eq!(bad.status.code(), Some(1));
    let said = text(&bad);
    assert!(
        said.contains("condition-later.toml:37: Die Bedingung der Frage „b“ bezieht sich auf die spätere Frage „c“"),
        "{said}"
    );

    let missing = run(&["guide", "check", "/nonexistent/leitfaden.toml"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing).contains("kann nicht gelesen werden"));
}

/// Logs in; returns the session cookie (`name=value`).
fn session(port: u16, username: &str, password: &str) -> String {
    let response = login_response(port, username, password);
    response
        .lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .filter_map(|c| c.split(';').next())
        .find(|c| c.starts_with("outreach_sitzung="))
        .unwrap_or_else(|| panic!("no session for {username}: {response}"))
        .to_string()
}

fn get_with(port: u16, cookie: &str, path: &str) -> String {
    http(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {cookie}\r\n\r\n"),
    )
}

/// The first link to `prefix` + digits on a page.
fn first_link(page: &str, prefix: &str) -> Option<String> {
    page.split(&format!("href=\"{prefix}"))
        .skip(1)
        .filter_map(|rest| {
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!id.is_empty()).then(|| format!("{prefix}{id}"))
        })
        .next()
}

/// A customer's first and last name, birth date, phone and mobile.
type Secret = (String, String, String, Option<String>, Option<String>);
