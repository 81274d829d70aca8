//! The operator's commands: letters, logs without social data, purge,
//! processing record, backup and restore.

use super::*;

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
