//! Importing customer exports, on SQLite and PostgreSQL: the sample, messy
//! files, updates, missing customers, dry runs and failures half-way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::date;
use outreach_core::access::{CustomerScope, Home, Role};
use outreach_core::audit::AuditAction;
use outreach_store::audit::AuditEvent;
use outreach_store::import::{ImportError, ImportReport, ImportRequest, import_customers};
use outreach_store::org::{self, NewJobCenter};
use outreach_store::testing::{TestDb, backends};
use outreach_store::user::{self, NewUser};
use outreach_store::{Db, args, customer};
use std::io::Read;

const NOW: i64 = 1_790_000_000;

fn sample() -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/samples/kunden-export-beispiel.csv");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn job_center(db: &Db, code: &str) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let new = NewJobCenter {
        code: code.into(),
        name: code.into(),
        ..NewJobCenter::default()
    };
    let id = org::create_job_center(&mut tx, &new, NOW).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn request(jc: i64, dry_run: bool) -> ImportRequest {
    ImportRequest {
        job_center_id: jc,
        file_name: "export.csv".into(),
        audit: AuditEvent::anonymous("test", AuditAction::CustomerImport, "test"),
        user_id: None,
        today: date(2026, 11, 25),
        now: NOW,
        dry_run,
        job_id: None,
    }
}

async fn import(db: &Db, jc: i64, bytes: Vec<u8>, dry_run: bool) -> ImportReport {
    let report = import_customers(
        db,
        request(jc, dry_run),
        || Ok(std::io::Cursor::new(bytes.clone())),
        |_| {},
    )
    .await
    .unwrap();
    // SQLite's import connection checks its keys itself: every key holds.
    if let Db::Sqlite { .. } = db {
        let mut tx = db.begin_read().await.unwrap();
        let (broken,): (i64,) = tx
            .fetch_one("SELECT COUNT(*) FROM pragma_foreign_key_check", vec![])
            .await
            .unwrap();
        assert_eq!(broken, 0, "rows whose foreign key points nowhere");
    }
    report
}

async fn stored(db: &Db, jc: i64) -> Vec<(String, String, Option<String>, bool)> {
    let mut tx = db.begin_read().await.unwrap();
    tx.fetch_all(
        "SELECT customer_number, last_name, phone, in_latest_export FROM customers WHERE job_center_id = $1 ORDER BY customer_number",
        args![jc],
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn the_sample_imports_and_a_second_import_changes_nothing() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let jc = job_center(&t.db, "a").await;
        let first = import(&t.db, jc, sample(), false).await;
        assert_eq!(
            (first.rows, first.accepted, first.rejected, first.inserted),
            (25, 25, 0, 25),
            "{backend:?}: {:?}",
            first.errors
        );
        assert!(first.unknown_columns.is_empty());
        let before = stored(&t.db, jc).await;
        let second = import(&t.db, jc, sample(), false).await;
        assert_eq!(
            (
                second.accepted,
                second.inserted,
                second.updated,
                second.unchanged,
                second.missing
            ),
            (25, 0, 0, 25, 0),
            "{backend:?}"
        );
        assert_eq!(stored(&t.db, jc).await, before);
        let scope = CustomerScope::JobCenter { job_center_id: jc };
        let mut tx = t.db.begin_read().await.unwrap();
        assert_eq!(
            customer::count(
                &mut tx,
                &scope,
                "2026-11-25",
                &customer::CustomerFilter::default()
            )
            .await
            .unwrap(),
            25
        );
        let (phone,): (Option<String>,) = tx
            .fetch_one(
                "SELECT phone FROM customers WHERE customer_number = '333E000001'",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(phone.as_deref(), Some("+49408916615"), "E.164");
    }
}

/// A messy export: Windows-1252, commas, shuffled and unknown headers, quoted
/// delimiters and line breaks, CRLF, trailing empty lines, and each kind of fault.
fn messy() -> Vec<u8> {
    let text = "Nachname,Geburtsdatum,Bemerkung, KUNDENNUMMER ,Telefon,PLZ,E-Mail,Straße\r\n\
        M\u{fc}ller,01.02.1980,x,K1,0208 / 123 45-67,46045,a@b.de,\"Haupt-\r\nstra\u{df}e 1\"\r\n\
        \"Wei\u{df}, Anna\",31.02.1980,,K2,,,,\r\n\
        Schmidt,01.01.2090,,K3,,,,\r\n\
        ,01.01.1970,,K4,,,,\r\n\
        Kurz,01.01.1970,,,,,,\r\n\
        Doppelt,02.02.1972,,K1,,,,\r\n\
        Gut,03.03.1973,,K5,n.v.,123,keine-mail,\r\n\
        \r\n\r\n";
    // Windows-1252 bytes: ü = FC, ß = DF.
    text.chars()
        .map(|c| match c {
            'ü' => 0xFC,
            'ß' => 0xDF,
            c => c as u8,
        })
        .collect()
}

#[tokio::test]
async fn a_messy_file_keeps_every_valid_row_and_names_each_fault() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let jc = job_center(&t.db, "a").await;
        let r = import(&t.db, jc, messy(), false).await;
        assert_eq!(
            (r.rows, r.accepted, r.rejected, r.inserted),
            (7, 2, 5, 2),
            "{backend:?}: {r:?}"
        );
        assert_eq!(r.encoding, "Windows-1252");
        assert_eq!(r.delimiter, ",");
        assert_eq!(r.unknown_columns, ["Bemerkung"]);
        let error_list = r.errors.to_vec();
        let errors: Vec<(u64, &str, &str)> = error_list
            .iter()
            .map(|e| (e.line, e.customer_number.as_str(), e.field))
            .collect();
        assert_eq!(
            errors,
            [
                (4, "K2", "Geburtsdatum"),
                (5, "K3", "Geburtsdatum"),
                (6, "K4", "Nachname"),
                (7, "", "Kundennummer"),
                (8, "K1", "Kundennummer"),
            ],
            "{backend:?}"
        );
        assert!(
            error_list[4].message.contains("steht schon in Zeile 2"),
            "{}",
            error_list[4].message
        );
        let warned: Vec<(u64, &str)> = r.warning_list.iter().map(|w| (w.line, w.field)).collect();
        assert_eq!(
            warned,
            [(9, "PLZ"), (9, "Telefon"), (9, "E-Mail")],
            "{backend:?}"
        );
        let rows = stored(&t.db, jc).await;
        assert_eq!(rows[0].0, "K1");
        assert_eq!(rows[0].1, "Müller");
        assert_eq!(rows[0].2.as_deref(), Some("+492081234567"));
        assert_eq!(rows[1].2, None, "invalid phone left out");
        let mut tx = t.db.begin_read().await.unwrap();
        let (street,): (String,) = tx
            .fetch_one(
                "SELECT street FROM customers WHERE customer_number = 'K1'",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(street, "Haupt-\r\nstraße 1");
    }
}

const HEADER: &str = "Kundennummer;Nachname;Geburtsdatum;Telefon;Ort\n";

#[tokio::test]
async fn a_newer_export_updates_records_changes_and_flags_missing_customers() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let jc = job_center(&t.db, "a").await;
        let other = job_center(&t.db, "b").await;
        let first = format!(
            "{HEADER}A1;Alt;01.01.1980;0208 1234567;Essen\nA2;Bleibt;01.01.1981;;Bochum\nA3;Geht;01.01.1982;;Duisburg\n"
        );
        import(&t.db, jc, first.clone().into_bytes(), false).await;
        import(&t.db, other, first.into_bytes(), false).await;
        let newer = format!(
            "{HEADER}A1;Neu;01.01.1980;;Oberhausen\nA2;Bleibt;01.01.1981;;Bochum\nA4;Dazu;01.01.1984;;Mülheim\n"
        );
        let r = import(&t.db, jc, newer.into_bytes(), false).await;
        assert_eq!(
            (r.accepted, r.inserted, r.updated, r.unchanged, r.missing),
            (3, 1, 1, 1, 1),
            "{backend:?}"
        );
        let rows = stored(&t.db, jc).await;
        let flags: Vec<(&str, &str, bool)> = rows
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.3))
            .collect();
        assert_eq!(
            flags,
            [
                ("A1", "Neu", true),
                ("A2", "Bleibt", true),
                ("A3", "Geht", false),
                ("A4", "Dazu", true)
            ],
            "{backend:?}: missing customers stay, flagged"
        );
        let mut tx = t.db.begin_read().await.unwrap();
        let changes: Vec<(String, Option<String>, Option<String>)> = tx
            .fetch_all(
                "SELECT field, old_value, new_value FROM customer_changes WHERE import_id = $1 ORDER BY field",
                args![r.import_id.unwrap()],
            )
            .await
            .unwrap();
        assert_eq!(
            changes,
            [
                (
                    "city".into(),
                    Some("Essen".into()),
                    Some("Oberhausen".into())
                ),
                ("last_name".into(), Some("Alt".into()), Some("Neu".into())),
                ("phone".into(), Some("+492081234567".into()), None),
            ],
            "{backend:?}"
        );
        drop(tx);
        // The other job center's customers are untouched.
        assert!(stored(&t.db, other).await.iter().all(|r| r.3));
        // A3 comes back: updated, flag cleared.
        let back = format!("{HEADER}A3;Geht;01.01.1982;;Duisburg\n");
        let r = import(&t.db, jc, back.into_bytes(), false).await;
        assert_eq!((r.updated, r.missing), (1, 3), "{backend:?}");
    }
}

#[tokio::test]
async fn a_dry_run_reports_but_stores_nothing() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let jc = job_center(&t.db, "a").await;
        let r = import(&t.db, jc, sample(), true).await;
        assert_eq!(
            (r.accepted, r.inserted, r.import_id),
            (25, 25, None),
            "{backend:?}"
        );
        assert!(stored(&t.db, jc).await.is_empty());
        let mut tx = t.db.begin_read().await.unwrap();
        let (events,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM audit_events WHERE action = 'customer_import'",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(events, 1, "the dry run is audited");
        let (runs,): (i64,) = tx
            .fetch_one("SELECT COUNT(*) FROM imports", vec![])
            .await
            .unwrap();
        assert_eq!(runs, 0);
    }
}

/// A source that fails after `left` bytes, like a broken upload or a killed reader.
struct Failing {
    data: std::io::Cursor<Vec<u8>>,
    left: usize,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other("Verbindung abgebrochen"));
        }
        let n = buf.len().min(self.left);
        let n = self.data.read(&mut buf[..n])?;
        self.left -= n;
        Ok(n)
    }
}

#[tokio::test]
async fn an_import_that_fails_half_way_leaves_the_database_as_it_was() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let jc = job_center(&t.db, "a").await;
        let mut big = HEADER.to_string();
        for i in 0..20_000 {
            big.push_str(&format!("N{i:06};Name;01.01.1980;;Ort\n"));
        }
        let source = || {
            Ok(Failing {
                data: std::io::Cursor::new(big.clone().into_bytes()),
                left: big.len() / 2,
            })
        };
        let result = import_customers(&t.db, request(jc, false), source, |_| {}).await;
        assert!(matches!(result, Err(ImportError::Read(_))), "{backend:?}");
        assert!(
            stored(&t.db, jc).await.is_empty(),
            "{backend:?}: half an import stored"
        );
        // Running it again completes.
        let r = import(&t.db, jc, big.into_bytes(), false).await;
        assert_eq!(r.inserted, 20_000, "{backend:?}");
        assert_eq!(stored(&t.db, jc).await.len(), 20_000);
    }
}

#[tokio::test]
async fn unreadable_files_are_errors_not_reports() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let jc = job_center(&t.db, "a").await;
        let result = import_customers(
            &t.db,
            request(jc, false),
            || Ok(std::io::Cursor::new(b"Vorname;Ort\nA;B\n".to_vec())),
            |_| {},
        )
        .await;
        match result {
            Err(ImportError::Read(e)) => assert!(
                e.to_string()
                    .contains("Kundennummer, Nachname, Geburtsdatum")
            ),
            other => panic!("{backend:?}: {other:?}"),
        }
    }
}

/// A repeated number names the line its first row is on, also when rows
/// before it were rejected or spanned several lines.
#[tokio::test]
async fn a_duplicate_names_the_first_line_past_rejected_and_multiline_rows() {
    const FILE: &str = "Kundennummer;Nachname;Geburtsdatum;Bemerkung\n\
        A1;Eins;01.01.1980;\n\
        A2;;01.01.1980;\n\
        A3;Drei;01.01.1980;\"zwei\nZeilen\"\n\
        A4;Vier;01.01.1980;\n\
        A4;Doppelt;01.01.1980;\n\
        A3;Doppelt;01.01.1980;\n\
        A1;Doppelt;01.01.1980;\n";
    for backend in backends().await {
        for later in [false, true] {
            let t = TestDb::new(backend).await.unwrap();
            let jc = job_center(&t.db, "zeilen").await;
            if later {
                let before = b"Kundennummer;Nachname;Geburtsdatum\nX1;Vorher;01.01.1970\n";
                import(&t.db, jc, before.to_vec(), false).await;
            }
            let report = import(&t.db, jc, FILE.as_bytes().to_vec(), false).await;
            let errors: Vec<(u64, String)> =
                report.errors.iter().map(|e| (e.line, e.message)).collect();
            let lines: Vec<u64> = errors.iter().map(|e| e.0).collect();
            assert_eq!(lines, [3, 7, 8, 9], "{backend:?} {later}: {errors:?}");
            for ((_, message), first) in errors[1..].iter().zip([6, 4, 2]) {
                assert!(
                    message.contains(&format!("steht schon in Zeile {first};")),
                    "{backend:?} {later}: {message}"
                );
            }
            let names: Vec<String> = stored(&t.db, jc)
                .await
                .into_iter()
                .filter(|c| c.3)
                .map(|c| format!("{}={}", c.0, c.1))
                .collect();
            assert_eq!(
                names,
                ["A1=Eins", "A3=Drei", "A4=Vier"],
                "{backend:?} {later}"
            );
        }
    }
}

/// Batches are checked on two threads and can arrive out of order: a number
/// that repeats across batches keeps its first line's values, and every
/// later line is the rejected duplicate — on a first import and on a later one.
#[tokio::test]
async fn a_number_repeated_across_batches_keeps_the_first_line() {
    for backend in backends().await {
        for round in 0..6 {
            let t = TestDb::new(backend).await.unwrap();
            let jc = job_center(&t.db, "dup").await;
            if round % 2 == 1 {
                // A later import: one customer already stored.
                import(
                    &t.db,
                    jc,
                    b"Kundennummer;Nachname;Geburtsdatum\nX1;Vorher;01.01.1970\n".to_vec(),
                    false,
                )
                .await;
            }
            let mut file = String::from("Kundennummer;Nachname;Geburtsdatum\n");
            // Batches of 2,000: the first D1 is in the second batch, the
            // repeats in the third — a single record, often checked first.
            for i in 0..4001 {
                match i {
                    2500 => file.push_str("D1;Erste;01.01.1980\n"),
                    3999 => file.push_str("D1;Spaete;02.02.1982\n"),
                    4000 => file.push_str("D1;Dritte;03.03.1983\n"),
                    _ => file.push_str(&format!("N{i};Name{i};01.01.1990\n")),
                }
            }
            let report = import(&t.db, jc, file.into_bytes(), false).await;
            assert_eq!(
                (report.rows, report.rejected),
                (4001, 2),
                "{backend:?} {round}"
            );
            // The header is line 1: row 2500 is on line 2502.
            let error_list = report.errors.to_vec();
            let lines: Vec<u64> = error_list.iter().map(|e| e.line).collect();
            assert_eq!(lines, vec![4001, 4002], "{backend:?} {round}");
            assert!(
                error_list[0].message.contains("Zeile 2502"),
                "{:?}",
                error_list[0]
            );
            let mut tx = t.db.read().await.unwrap();
            let (name, birth): (String, String) = tx
                .fetch_one(
                    "SELECT last_name, birth_date FROM customers WHERE job_center_id = $1 AND customer_number = 'D1'",
                    args![jc],
                )
                .await
                .unwrap();
            assert_eq!(
                (name.as_str(), birth.as_str()),
                ("Erste", "1980-01-01"),
                "{backend:?} {round}"
            );
        }
    }
}

/// The first import streams straight into `customers`; on PostgreSQL the
/// customers' job center is checked per statement instead of per row. The
/// rule is the same on both databases: a customer belongs to a job center
/// that exists, keeps it, and a job center with customers stays.
#[tokio::test]
async fn customers_belong_to_a_job_center_that_exists_and_keep_it() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let jc = job_center(&t.db, "a").await;
        let other = job_center(&t.db, "b").await;
        let insert = "INSERT INTO customers (job_center_id, customer_number, last_name, birth_date, created_at, updated_at)
                      VALUES ($1, $2, 'Name', '1980-01-01', 0, 0)";
        let attempt = |sql: &'static str, args: Vec<outreach_store::Arg>| {
            let db = t.db.clone();
            async move {
                let mut tx = db.begin().await.unwrap();
                let result = tx.execute(sql, args).await;
                if result.is_ok() {
                    tx.commit().await.unwrap();
                }
                result
            }
        };
        assert!(
            attempt(insert, args![jc + other + 1000, "K1"])
                .await
                .is_err(),
            "{backend:?}: a customer of an unknown job center was stored"
        );
        assert_eq!(attempt(insert, args![jc, "K1"]).await.unwrap(), 1);
        assert!(
            attempt(
                "UPDATE customers SET job_center_id = $1 WHERE customer_number = 'K1'",
                args![other]
            )
            .await
            .is_err(),
            "{backend:?}: a customer moved to another job center"
        );
        assert!(
            attempt("DELETE FROM job_centers WHERE id = $1", args![jc])
                .await
                .is_err(),
            "{backend:?}: a job center with customers was deleted"
        );
        // Other changes to the customer go through.
        assert_eq!(
            attempt(
                "UPDATE customers SET last_name = 'Neu' WHERE customer_number = 'K1'",
                vec![]
            )
            .await
            .unwrap(),
            1
        );
        // Who restricted a customer is a user that exists, and stays.
        let user = |name: &'static str| {
            let db = t.db.clone();
            async move {
                let mut tx = db.begin().await.unwrap();
                let new = NewUser {
                    username: name.into(),
                    display_name: name.into(),
                    role: Role::JobcenterAdmin,
                    home: Home::JobCenter(jc),
                    pap_code: None,
                    password_hash: "x".into(),
                };
                let id = user::create(&mut tx, &new, NOW).await.unwrap();
                tx.commit().await.unwrap();
                id
            }
        };
        let restricting = user("restricting").await;
        let bystander = user("bystander").await;
        let restrict = "UPDATE customers SET restricted = TRUE, restricted_by = $1 WHERE customer_number = 'K1'";
        assert!(
            attempt(restrict, args![restricting + bystander + 1000])
                .await
                .is_err(),
            "{backend:?}: a restriction by an unknown user was stored"
        );
        assert_eq!(attempt(restrict, args![restricting]).await.unwrap(), 1);
        assert!(
            attempt("DELETE FROM users WHERE id = $1", args![restricting])
                .await
                .is_err(),
            "{backend:?}: the user who restricted a customer was deleted"
        );
        assert_eq!(
            attempt("DELETE FROM users WHERE id = $1", args![bystander])
                .await
                .unwrap(),
            1,
            "{backend:?}: a user without restrictions can be deleted"
        );
        // An import into a job center that doesn't exist stores nothing.
        let bytes = b"Kundennummer;Nachname;Geburtsdatum\nX1;Name;01.01.1970\n".to_vec();
        let result = import_customers(
            &t.db,
            request(jc + other + 1000, false),
            || Ok(std::io::Cursor::new(bytes.clone())),
            |_| {},
        )
        .await;
        assert!(result.is_err(), "{backend:?}: {result:?}");
        assert_eq!(stored(&t.db, jc).await.len(), 1, "{backend:?}");
    }
}
