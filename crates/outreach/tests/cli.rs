//! The command line against real databases (SQLite and PostgreSQL): migrate,
//! user add, audit verify, and the demo serving its login page.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_store::testing::{TestDb, backends};
use outreach_store::user;
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

#[tokio::test]
async fn import_report_export_and_round_trip() {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/samples/kunden-export-beispiel.csv");
    let sample = sample.to_str().unwrap().to_string();
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let url = t.url.as_str();
        let mut tx = t.db.begin().await.unwrap();
        let jc = outreach_store::org::NewJobCenter {
            code: "ob".into(),
            name: "Jobcenter Oberhausen".into(),
            ..Default::default()
        };
        outreach_store::org::create_job_center(&mut tx, &jc, 0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let dir = std::env::temp_dir().join(format!(
            "outreach-import-{}-{backend:?}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let report = dir.join("report.json");

        let first = run(
            &[
                "import",
                "customers",
                &sample,
                "--jobcenter",
                "ob",
                "--database-url",
                url,
                "--report",
                report.to_str().unwrap(),
            ],
            None,
        );
        assert!(first.status.success(), "{backend:?}: {}", text(&first));
        assert!(
            text(&first).contains("übernommen: 25  (neu 25"),
            "{}",
            text(&first)
        );
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        for key in [
            "rows",
            "accepted",
            "rejected",
            "inserted",
            "updated",
            "unchanged",
            "warnings",
            "errors",
            "warning_list",
            "unknown_columns",
        ] {
            assert!(json.get(key).is_some(), "{key} missing in the report");
        }
        assert_eq!(json["accepted"], 25);

        let again = run(
            &[
                "import",
                "customers",
                &sample,
                "--jobcenter",
                "ob",
                "--database-url",
                url,
            ],
            None,
        );
        assert!(
            text(&again).contains("unverändert 25"),
            "{backend:?}: {}",
            text(&again)
        );

        // Values that begin like formulas (a name, a street).
        let mut tx = t.db.begin().await.unwrap();
        tx.execute(
            "UPDATE customers SET last_name = '=HYPERLINK(\"http://x\")', street = '-Weg 1' WHERE id = (SELECT MIN(id) FROM customers)",
            vec![],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let exported = dir.join("export.csv");
        let export = run(
            &[
                "export",
                "customers",
                "--jobcenter",
                "ob",
                "--database-url",
                url,
                "--out",
                exported.to_str().unwrap(),
            ],
            None,
        );
        assert!(export.status.success(), "{}", text(&export));
        let bytes = std::fs::read(&exported).unwrap();
        assert!(
            bytes.starts_with(b"\xEF\xBB\xBFKundennummer;BG-Nummer;"),
            "BOM and German headers"
        );
        let written = String::from_utf8_lossy(&bytes);
        assert!(written.contains(";+49408916615;"), "phones in E.164");
        assert!(
            written.contains(";\"'=HYPERLINK(\"\"http://x\"\")\";")
                && written.contains(";'-Weg 1;"),
            "{written}"
        );
        for line in written.lines() {
            for cell in line.split(';') {
                assert!(
                    !outreach_core::spreadsheet::would_run(cell.trim_matches('"')),
                    "a formula cell: {cell}"
                );
            }
        }
        let round = run(
            &[
                "import",
                "customers",
                exported.to_str().unwrap(),
                "--jobcenter",
                "ob",
                "--database-url",
                url,
                "--dry-run",
            ],
            None,
        );
        assert!(
            text(&round).contains("unverändert 25"),
            "{backend:?}: the export reads back unchanged: {}",
            text(&round)
        );

        let bad_rows = dir.join("bad.csv");
        std::fs::write(
            &bad_rows,
            "Kundennummer;Nachname;Geburtsdatum\nX1;;01.01.1980\nX2;Gut;01.01.1980\n",
        )
        .unwrap();
        let partly = run(
            &[
                "import",
                "customers",
                bad_rows.to_str().unwrap(),
                "--jobcenter",
                "ob",
                "--database-url",
                url,
                "--dry-run",
            ],
            None,
        );
        assert!(partly.status.success(), "rejected rows are no failure");
        assert!(
            text(&partly).contains("Zeile 2, Nachname (X1): Der Nachname fehlt."),
            "{}",
            text(&partly)
        );

        let unreadable = dir.join("unreadable.csv");
        std::fs::write(&unreadable, "Name;Ort\n").unwrap();
        let failed = run(
            &[
                "import",
                "customers",
                unreadable.to_str().unwrap(),
                "--jobcenter",
                "ob",
                "--database-url",
                url,
            ],
            None,
        );
        assert!(!failed.status.success());
        assert!(
            text(&failed).contains("In der Kopfzeile fehlen Spalten"),
            "{}",
            text(&failed)
        );
        let unknown = run(
            &[
                "import",
                "customers",
                &sample,
                "--jobcenter",
                "xx",
                "--database-url",
                url,
            ],
            None,
        );
        assert!(text(&unknown).contains("kein Jobcenter mit dem Kürzel „xx“"));
        std::fs::remove_dir_all(&dir).unwrap();
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

/// Kills `outreach import` while it works, then runs it again: the database
/// holds exactly the file's customers, on both backends.
#[tokio::test]
async fn an_import_killed_half_way_and_run_again_ends_right() {
    let dir = std::env::temp_dir().join(format!("outreach-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gross.csv");
    let mut content = String::from("Kundennummer;Nachname;Geburtsdatum;Telefon\n");
    for i in 0..150_000 {
        content.push_str(&format!(
            "K{i:07};Name{i};01.01.1980;0208 {}\n",
            1_000_000 + i
        ));
    }
    std::fs::write(&path, content).unwrap();
    let file = path.to_str().unwrap().to_string();
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let jc = outreach_store::org::NewJobCenter {
            code: "ob".into(),
            name: "Oberhausen".into(),
            ..Default::default()
        };
        outreach_store::org::create_job_center(&mut tx, &jc, 0)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut child = Command::new(BIN)
            .args([
                "import",
                "customers",
                &file,
                "--jobcenter",
                "ob",
                "--database-url",
                &t.url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill it once it has worked for a while (a quarter second of CPU):
        // by then it is reading the file and writing the staging table.
        let deadline = Instant::now() + Duration::from_secs(60);
        while cpu_ticks(child.id()) < 25 && child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "import did not start");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let killed = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        let mut tx = t.db.begin_read().await.unwrap();
        let (stored,): (i64,) = tx
            .fetch_one("SELECT COUNT(*) FROM customers", vec![])
            .await
            .unwrap();
        drop(tx);
        assert!(
            killed,
            "{backend:?}: the import finished before it could be killed"
        );
        assert_eq!(
            stored, 0,
            "{backend:?}: a killed import left customers behind"
        );
        let again = run(
            &[
                "import",
                "customers",
                &file,
                "--jobcenter",
                "ob",
                "--database-url",
                &t.url,
            ],
            None,
        );
        assert!(again.status.success(), "{backend:?}: {}", text(&again));
        let mut tx = t.db.begin_read().await.unwrap();
        let (stored,): (i64,) = tx
            .fetch_one("SELECT COUNT(*) FROM customers", vec![])
            .await
            .unwrap();
        assert_eq!(stored, 150_000, "{backend:?}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn letters_advance_and_sent() {
    use outreach_core::date::{berlin_date, format_de_date};
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let url = t.url.as_str();
        // 130 letters: two files of at most 125.
        let customers = (0..130).map(outreach_store::testing::letter_customer);
        let id = outreach_store::testing::letter_campaign(&t.db, customers)
            .await
            .unwrap();
        let campaign = id.to_string();
        let dir = std::env::temp_dir().join(format!(
            "outreach-letters-{}-{backend:?}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let out = dir.join("erster-druck");
        let out_s = out.to_str().unwrap();

        // A draft has no cases yet: refused in German, non-zero.
        let draft = run(
            &[
                "letters",
                "advance",
                "--campaign",
                &campaign,
                "--out",
                out_s,
                "--database-url",
                url,
            ],
            None,
        );
        assert!(!draft.status.success());
        assert!(text(&draft).contains("noch im Entwurf"), "{}", text(&draft));
        let unknown = run(
            &[
                "letters",
                "advance",
                "--campaign",
                "99999",
                "--out",
                out_s,
                "--database-url",
                url,
            ],
            None,
        );
        assert!(!unknown.status.success());
        assert!(text(&unknown).contains("Es gibt keine Aktion mit der Nummer 99999"));

        let mut tx = t.db.begin().await.unwrap();
        let c = outreach_store::campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap()
            .unwrap();
        let today = berlin_date(jiff::Timestamp::now().as_second());
        let cases = outreach_store::campaign::activate(&mut tx, &c, today, 0)
            .await
            .unwrap();
        assert_eq!(cases, Some(130), "{backend:?}");
        tx.commit().await.unwrap();

        let first = run(
            &[
                "letters",
                "advance",
                "--campaign",
                &campaign,
                "--out",
                out_s,
                "--database-url",
                url,
            ],
            None,
        );
        let said = text(&first);
        assert!(first.status.success(), "{backend:?}: {said}");
        let batch: String = said
            .split("Stapel ")
            .nth(1)
            .unwrap()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        assert!(said.contains("130 Vorabinformationen"), "{said}");
        assert!(said.contains("in 2 Datei(en)"), "{said}");
        assert!(
            said.contains(&format!(
                "outreach letters sent --batch {batch} --date TT.MM.JJJJ"
            )),
            "{said}"
        );
        let part = |dir: &std::path::Path, n: usize| {
            std::fs::read(dir.join(format!("vorabinformation-stapel-{batch}-teil-{n}.pdf")))
                .unwrap()
        };
        assert!(part(&out, 1).starts_with(b"%PDF"));
        assert!(part(&out, 2).starts_with(b"%PDF"));
        let manifest = std::fs::read_to_string(
            out.join(format!("vorabinformation-stapel-{batch}-manifest.csv")),
        )
        .unwrap();
        let lines: Vec<&str> = manifest.lines().collect();
        assert_eq!(lines.len(), 131);
        assert_eq!(lines[0], "\u{feff}Kundennummer;Datei;Seite;Brief");
        // Letter 126 is the first of file 2, page 1.
        assert!(
            lines[126].ends_with(&format!(
                ";vorabinformation-stapel-{batch}-teil-2.pdf;1;126"
            )),
            "{}",
            lines[126]
        );

        // Every open case has its letter: nothing new to print.
        let again = run(
            &[
                "letters",
                "advance",
                "--campaign",
                &campaign,
                "--out",
                out_s,
                "--database-url",
                url,
            ],
            None,
        );
        assert!(again.status.success());
        assert!(text(&again).contains("haben bereits eine Vorabinformation"));

        // The batch printed again: byte for byte the same files.
        let reprint = dir.join("nachdruck");
        let second = run(
            &[
                "letters",
                "advance",
                "--campaign",
                &campaign,
                "--batch",
                &batch,
                "--out",
                reprint.to_str().unwrap(),
                "--database-url",
                url,
            ],
            None,
        );
        assert!(second.status.success(), "{}", text(&second));
        assert!(part(&out, 1) == part(&reprint, 1) && part(&out, 2) == part(&reprint, 2));
        assert!(!text(&second).contains("weichen vom Stand"));

        // Dispatch: not in the future, once only; the lead time starts. The
        // day after tomorrow stays in the future should midnight pass meanwhile.
        let later = format_de_date(today.checked_add(jiff::Span::new().days(2)).unwrap());
        let future = run(
            &[
                "letters",
                "sent",
                "--batch",
                &batch,
                "--date",
                &later,
                "--database-url",
                url,
            ],
            None,
        );
        assert!(!future.status.success());
        assert!(
            text(&future).contains("liegt in der Zukunft"),
            "{}",
            text(&future)
        );
        let yesterday = format_de_date(today.yesterday().unwrap());
        let sent = run(
            &[
                "letters",
                "sent",
                "--batch",
                &batch,
                "--date",
                &yesterday,
                "--database-url",
                url,
            ],
            None,
        );
        assert!(sent.status.success(), "{}", text(&sent));
        assert!(
            text(&sent).contains(&format!("am {yesterday} versandt")),
            "{}",
            text(&sent)
        );
        let twice = run(
            &["letters", "sent", "--batch", &batch, "--database-url", url],
            None,
        );
        assert!(!twice.status.success());
        assert!(
            text(&twice).contains(&format!("bereits seit {yesterday}")),
            "{}",
            text(&twice)
        );
        let mut tx = t.db.begin_read().await.unwrap();
        let (marked,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM cases WHERE campaign_id = $1 AND letter_sent_on = $2",
                outreach_store::args![id, today.yesterday().unwrap().to_string()],
            )
            .await
            .unwrap();
        assert_eq!(marked, 130, "{backend:?}");
        let (printed,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM audit_events
                 WHERE action IN ('letter_batch_create', 'letter_print', 'letter_batch_sent')",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            printed, 4,
            "one batch, two prints and one dispatch: {backend:?}"
        );
        drop(tx);
        std::fs::remove_dir_all(&dir).unwrap();
    }
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

#[tokio::test]
async fn export_results_writes_csv_and_json_and_marks_handed_over() {
    use outreach_store::args;
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let url = t.url.as_str();
        let customers = (0..3).map(outreach_store::testing::letter_customer);
        let id = outreach_store::testing::letter_campaign(&t.db, customers)
            .await
            .unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let c = outreach_store::campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap()
            .unwrap();
        outreach_store::campaign::activate(&mut tx, &c, jiff::civil::date(2027, 1, 4), 0)
            .await
            .unwrap();
        // Two final cases, one on 15.01.2027 with a changed phone, one
        // refused on 18.01.2027; the third stays open.
        let cases: Vec<(i64,)> = tx
            .fetch_all(
                "SELECT id FROM cases WHERE campaign_id = $1 ORDER BY id",
                args![id],
            )
            .await
            .unwrap();
        let jan15 = 1_800_000_000;
        let jan18 = jan15 + 3 * 86_400;
        tx.execute(
            "UPDATE cases SET final_disposition = 'updated', state = 'final', closed_at = $2 WHERE id = $1",
            args![cases[0].0, jan15],
        )
        .await
        .unwrap();
        tx.execute(
            "INSERT INTO results (case_id, outcome, guide_version, changes, flags, created_at)
             VALUES ($1, 'updated', 'v', $2, '{}', $3)",
            args![
                cases[0].0,
                r#"[{"field":"phone","question":"t","old":"+492081234567","new":"+491701234567","old_display":"+49 208 1234567","new_display":"+49 170 1234567"}]"#,
                jan15
            ],
        )
        .await
        .unwrap();
        tx.execute(
            "UPDATE cases SET final_disposition = 'refused', state = 'final', closed_at = $2 WHERE id = $1",
            args![cases[1].0, jan18],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let dir = std::env::temp_dir().join(format!(
            "outreach-results-{}-{backend:?}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let csv_path = dir.join("ergebnisse.csv");
        let campaign = id.to_string();
        let csv = run(
            &[
                "export",
                "results",
                "--campaign",
                &campaign,
                "--format",
                "csv",
                "--out",
                csv_path.to_str().unwrap(),
                "--database-url",
                url,
            ],
            None,
        );
        assert!(csv.status.success(), "{}", text(&csv));
        assert!(text(&csv).contains("2 Fälle der Aktion „Winter“ exportiert"));
        let bytes = std::fs::read(&csv_path).unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
        let body = String::from_utf8(bytes).unwrap();
        assert_eq!(body.lines().count(), 3, "{body}");
        assert_eq!(
            body.matches(";+492081234567;+491701234567;").count(),
            1,
            "{body}"
        );
        assert!(
            body.contains("K0000001;Winter;Auskunft verweigert;refused;18.01.2027;verweigert;")
        );

        // Since 16.01.2027, as JSON on standard output: the refusal only.
        let json = run(
            &[
                "export",
                "results",
                "--campaign",
                &campaign,
                "--since",
                "16.01.2027",
                "--format",
                "json",
                "--database-url",
                url,
            ],
            None,
        );
        assert!(json.status.success(), "{}", text(&json));
        let records: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(records.as_array().unwrap().len(), 1);
        assert_eq!(records[0]["customer_number"], "K0000001");
        assert_eq!(records[0]["task"], "persönliche Einladung erwägen");

        // Bad input: German message, non-zero, nothing marked.
        for (flag, value, message) in [
            ("--format", "xml", "Unbekanntes Format"),
            ("--since", "31.02.2027", "kein Datum im Format TT.MM.JJJJ"),
        ] {
            let bad = run(
                &[
                    "export",
                    "results",
                    "--campaign",
                    &campaign,
                    flag,
                    value,
                    "--database-url",
                    url,
                ],
                None,
            );
            assert!(!bad.status.success());
            assert!(text(&bad).contains(message), "{}", text(&bad));
        }
        let mut tx = t.db.begin_read().await.unwrap();
        let (handed,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM case_reviews WHERE handed_over_at IS NOT NULL",
                args![],
            )
            .await
            .unwrap();
        let (exports,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'result_export'",
                args![],
            )
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(handed, 2);
        assert_eq!(exports, 2);
        let _ = std::fs::remove_dir_all(&dir);
    }
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

/// Everything the server and the command line log at the most detailed
/// level while customer data is read (lists, a customer, a result, an access
/// request, an import) holds no customer's name, birth date or phone number.
#[test]
fn logs_hold_no_customer_names_birth_dates_or_phone_numbers() {
    let dir = std::env::temp_dir().join(format!("outreach-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let stdout = dir.join("stdout.log");
    let stderr = dir.join("stderr.log");
    let mut child = Command::new(BIN)
        .env("RUST_LOG", "trace")
        .args(["demo", "--bind", &format!("127.0.0.1:{port}"), "--file"])
        .arg(dir.join("demo.db"))
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    wait_get(&mut child, port, "/login");
    let printed = std::fs::read_to_string(&stdout).unwrap();
    let password = |login: &str| {
        printed
            .lines()
            .find(|l| l.trim_start().starts_with(login))
            .and_then(|l| l.split_whitespace().last())
            .unwrap()
            .to_string()
    };
    let admin = session(port, "admin.oberhausen", &password("admin.oberhausen"));
    let list = get_with(port, &admin, "/kunden");
    let customer = first_link(&list, "/kunden/").expect("a customer link");
    let detail = get_with(port, &admin, &customer);
    assert!(detail.starts_with("HTTP/1.1 200"), "{detail}");
    let pap = session(port, "pap.oberhausen", &password("pap.oberhausen"));
    let inbox = get_with(port, &pap, "/ergebnisse");
    let result = first_link(&inbox, "/ergebnisse/").expect("a result link");
    assert!(get_with(port, &pap, &result).starts_with("HTTP/1.1 200"));
    let dpo = session(
        port,
        "datenschutz.oberhausen",
        &password("datenschutz.oberhausen"),
    );
    let id = customer.trim_start_matches("/kunden/");
    let access = get_with(port, &dpo, &format!("/auskunft/{id}"));
    assert!(access.starts_with("HTTP/1.1 200"), "{access}");
    let _ = child.kill();
    let _ = child.wait();
    // An import at the same level of detail.
    let url = format!("sqlite://{}", dir.join("demo.db").display());
    let sample_path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/samples/kunden-export-beispiel.csv");
    let import = Command::new(BIN)
        .env("RUST_LOG", "trace")
        .args(["import", "customers"])
        .arg(&sample_path)
        .args([
            "--jobcenter",
            "oberhausen",
            "--dry-run",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(import.status.success(), "{}", text(&import));
    let mut logs = std::fs::read_to_string(&stderr).unwrap();
    logs.push_str(&String::from_utf8_lossy(&import.stderr));
    assert!(
        logs.len() > 10_000,
        "trace logs were written: {} bytes",
        logs.len()
    );

    let secrets: Vec<Secret> =
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let db = outreach_store::Db::connect(&url).await.unwrap();
            let mut tx = db.read().await.unwrap();
            let rows = tx
                .fetch_all(
                    "SELECT COALESCE(first_name, ''), last_name, birth_date, phone, mobile FROM customers",
                    vec![],
                )
                .await
                .unwrap();
            drop(tx);
            db.close().await;
            rows
        });
    assert!(secrets.len() >= 300);
    let sample = std::fs::read_to_string(&sample_path).unwrap();
    let mut leaks = Vec::new();
    for (first, last, birth, phone, mobile) in &secrets {
        let mut needles = vec![
            format!("{first} {last}"),
            birth.clone(),
            outreach_core::date::iso_to_de(birth),
        ];
        for number in [phone, mobile].into_iter().flatten() {
            needles.push(number.clone());
            needles.push(number.trim_start_matches('+').to_string());
        }
        for needle in needles {
            if needle.trim().len() > 5 && logs.contains(&needle) {
                leaks.push(needle);
            }
        }
    }
    // The sample file's names, birth dates and numbers as written there.
    for line in sample.lines().skip(1) {
        let cells: Vec<&str> = line.split(';').map(str::trim).collect();
        if cells.len() < 12 {
            continue;
        }
        for needle in [
            format!("{} {}", cells[3], cells[4]),
            cells[5].to_string(),
            cells[10].to_string(),
            cells[11].to_string(),
        ] {
            if needle.trim().len() > 5 && logs.contains(&needle) {
                leaks.push(needle);
            }
        }
    }
    assert!(leaks.is_empty(), "customer data in the logs: {leaks:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `purge --dry-run` and `purge`, `record`, and (SQLite) `backup` and
/// `restore` on both databases: each prints what it did in German and is in
/// the audit log; PostgreSQL's backup points to pg_dump.
#[tokio::test]
async fn purge_record_backup_and_restore() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        outreach_store::testing::letter_campaign(
            &t.db,
            (0..3).map(outreach_store::testing::letter_customer),
        )
        .await
        .unwrap();
        let url = t.url.as_str();
        let dry = run(&["purge", "--dry-run", "--database-url", url], None);
        assert!(dry.status.success(), "{}", text(&dry));
        assert!(
            text(&dry).contains("Probelauf – gelöscht würden:"),
            "{}",
            text(&dry)
        );
        assert!(text(&dry).contains("Anrufversuche: 0"));
        let real = run(
            &["purge", "--audit-months", "6", "--database-url", url],
            None,
        );
        assert!(real.status.success(), "{}", text(&real));
        assert!(text(&real).starts_with("Gelöscht:"));
        let bad = run(
            &["purge", "--audit-months", "0", "--database-url", url],
            None,
        );
        assert!(!bad.status.success());

        let record = run(
            &["record", "--jobcenter", "ob", "--database-url", url],
            None,
        );
        assert!(record.status.success(), "{}", text(&record));
        let shown = String::from_utf8_lossy(&record.stdout).to_string();
        assert!(shown.contains("Verzeichnis von Verarbeitungstätigkeiten (Art. 30 DSGVO)"));
        assert!(
            shown.contains("Auftragsverarbeiter Service-Center Hamburg"),
            "{shown}"
        );
        let unknown = run(
            &["record", "--jobcenter", "nix", "--database-url", url],
            None,
        );
        assert!(!unknown.status.success());
        assert!(text(&unknown).contains("Jobcenter mit der Kennung „nix“ gibt es nicht"));

        let dir = std::env::temp_dir().join(format!(
            "outreach-cli-backup-{}",
            outreach_store::random_token(4)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("sicherung.db");
        let backup = run(
            &["backup", file.to_str().unwrap(), "--database-url", url],
            None,
        );
        match backend {
            outreach_store::Backend::Postgres => {
                assert!(!backup.status.success());
                assert!(text(&backup).contains("pg_dump"), "{}", text(&backup));
            }
            outreach_store::Backend::Sqlite => {
                assert!(backup.status.success(), "{}", text(&backup));
                assert!(text(&backup).contains("Sicherung geschrieben"));
                assert!(text(&backup).contains("3 Kunden"), "{}", text(&backup));
                let again = run(
                    &["backup", file.to_str().unwrap(), "--database-url", url],
                    None,
                );
                assert!(!again.status.success());
                t.db.close().await;
                let restore = run(
                    &["restore", file.to_str().unwrap(), "--database-url", url],
                    None,
                );
                assert!(restore.status.success(), "{}", text(&restore));
                assert!(text(&restore).contains("Wiederhergestellt"));
                let verify = run(&["audit", "verify", "--database-url", url], None);
                assert!(verify.status.success(), "{}", text(&verify));
            }
        }
        let events: Vec<String> = {
            let db = outreach_store::Db::connect(url).await.unwrap();
            let mut tx = db.read().await.unwrap();
            let rows: Vec<(String,)> = tx
                .fetch_all("SELECT action FROM audit_events ORDER BY seq", vec![])
                .await
                .unwrap();
            drop(tx);
            db.close().await;
            rows.into_iter().map(|r| r.0).collect()
        };
        for action in ["purge", "processing_record"] {
            assert!(
                events.iter().any(|a| a == action),
                "{backend:?}: {action} in {events:?}"
            );
        }
        if backend == outreach_store::Backend::Sqlite {
            assert!(events.iter().any(|a| a == "restore"), "{events:?}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
