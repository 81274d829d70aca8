//! Customer data in and out on the command line: import, export, results.

use super::*;

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
