//! Importing a job center's customer export. The file is read and checked on a
//! thread of its own while the records stream into a staging table; then one
//! set of statements merges them: new customers inserted, changed fields
//! recorded and updated, customers missing from the export flagged. All in one
//! transaction: an import completes or leaves the database as it was. A dry run
//! does the same and rolls back.

use crate::audit::{self, AuditEvent};
use crate::{Arg, Backend, Db, StoreError, Tx, args};
use jiff::civil::Date;
use outreach_core::audit::AuditAction;
use outreach_core::import::{
    Checked, CustomerRecord, ExportReader, Issue, RawRecord, ReadError, check,
};
use std::borrow::Cow;
use std::io::Read;

/// What to import where, and for whom.
#[derive(Debug, Clone)]
pub struct ImportRequest {
    pub job_center_id: i64,
    pub file_name: String,
    /// The event for the audit log (who, from where); its record is set here.
    pub audit: AuditEvent,
    pub user_id: Option<i64>,
    /// Today in Europe/Berlin (dates after it are refused).
    pub today: Date,
    /// UTC unix seconds.
    pub now: i64,
    pub dry_run: bool,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportReport {
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Customers of the job center not in this export (flagged "nicht mehr im Export").
    pub missing: u64,
    pub warnings: u64,
    /// One per rejected row, by line.
    pub errors: Vec<Issue>,
    pub warning_list: Vec<Issue>,
    pub unknown_columns: Vec<String>,
    pub encoding: String,
    pub delimiter: String,
    pub dry_run: bool,
    /// The import run's id (none for a dry run).
    pub import_id: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records per batch sent from the reading thread to the database.
const BATCH: usize = 2000;

enum Message {
    Header {
        unknown_columns: Vec<String>,
        delimiter: char,
    },
    Batch {
        records: Vec<CustomerRecord>,
        errors: Vec<Issue>,
        warnings: Vec<Issue>,
        bytes: u64,
    },
    Done {
        encoding: &'static str,
    },
    Failed(ReadError),
}

/// Threads that check records while one thread reads the file.
const CHECKERS: usize = 2;

/// Raw records read, with the bytes read up to their end.
struct RawBatch {
    records: Vec<RawRecord>,
    bytes: u64,
}

fn check_batches(
    raw: &std::sync::Mutex<std::sync::mpsc::Receiver<RawBatch>>,
    today: Date,
    tx: &tokio::sync::mpsc::Sender<Message>,
) {
    loop {
        let next = raw.lock().ok().and_then(|r| r.recv().ok());
        let Some(batch) = next else { return };
        let (mut records, mut errors, mut warnings) = (
            Vec::with_capacity(batch.records.len()),
            Vec::new(),
            Vec::new(),
        );
        for record in &batch.records {
            match check(record, today) {
                Checked::Accepted {
                    record,
                    warnings: w,
                } => {
                    records.push(*record);
                    warnings.extend(w);
                }
                Checked::Rejected { error } => errors.push(error),
            }
        }
        let message = Message::Batch {
            records,
            errors,
            warnings,
            bytes: batch.bytes,
        };
        if tx.blocking_send(message).is_err() {
            return;
        }
    }
}

/// Reads the file on this thread and checks its records on `CHECKERS` others.
/// Batches may arrive out of order; every record carries its line.
fn read_file<R: Read>(source: R, today: Date, tx: tokio::sync::mpsc::Sender<Message>) {
    let mut reader = match ExportReader::new(source) {
        Ok(reader) => reader,
        Err(e) => {
            let _ = tx.blocking_send(Message::Failed(e));
            return;
        }
    };
    let header = Message::Header {
        unknown_columns: reader.unknown_columns().to_vec(),
        delimiter: reader.delimiter(),
    };
    if tx.blocking_send(header).is_err() {
        return;
    }
    let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<RawBatch>(CHECKERS * 2);
    let raw_rx = std::sync::Mutex::new(raw_rx);
    let failure = std::thread::scope(|scope| {
        for _ in 0..CHECKERS {
            scope.spawn(|| check_batches(&raw_rx, today, &tx));
        }
        let mut records = Vec::with_capacity(BATCH);
        let failure = loop {
            match reader.next_record() {
                Some(Ok(raw)) => {
                    records.push(raw);
                    if records.len() < BATCH {
                        continue;
                    }
                }
                Some(Err(e)) => break Some(e),
                None => {}
            }
            let end = records.len() < BATCH;
            let batch = RawBatch {
                records: std::mem::replace(&mut records, Vec::with_capacity(BATCH)),
                bytes: reader.position(),
            };
            if raw_tx.send(batch).is_err() || end {
                break None;
            }
        };
        // Closing the channel ends the checkers once they have drained it.
        drop(raw_tx);
        failure
    });
    let last = match failure {
        Some(e) => Message::Failed(e),
        None => Message::Done {
            encoding: reader.encoding().label(),
        },
    };
    let _ = tx.blocking_send(last);
}

/// The staging table's columns, in the order of [`staging_values`].
const STAGING_COLUMNS: &str = "line, customer_number, bg_number, salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation, pap_code, last_contact, state_code";
const STAGING_WIDTH: usize = 20;

/// A record's staging values, borrowed where the record holds them as text.
fn text(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(Cow::Borrowed)
}

fn staging_values(r: &CustomerRecord) -> [Option<Cow<'_, str>>; STAGING_WIDTH] {
    let date = |d: Option<Date>| d.map(|d| Cow::Owned(d.to_string()));
    [
        Some(Cow::Owned(r.line.to_string())),
        Some(Cow::Borrowed(r.customer_number.as_str())),
        text(&r.bg_number),
        r.salutation.map(Cow::Borrowed),
        text(&r.first_name),
        Some(Cow::Borrowed(r.last_name.as_str())),
        date(Some(r.birth_date)),
        text(&r.street),
        text(&r.house_number),
        text(&r.postcode),
        text(&r.city),
        text(&r.phone),
        text(&r.mobile),
        text(&r.email),
        Some(Cow::Borrowed(r.status.code())),
        date(r.unemployed_since),
        text(&r.target_occupation),
        text(&r.pap_code),
        date(r.last_contact),
        r.state_code.map(Cow::Borrowed),
    ]
}

async fn create_staging(tx: &mut Tx) -> Result<(), StoreError> {
    match tx.backend() {
        Backend::Postgres => {
            tx.execute(
                "CREATE TEMP TABLE import_rows (line BIGINT NOT NULL, customer_number TEXT NOT NULL, bg_number TEXT, salutation TEXT,
                    first_name TEXT, last_name TEXT NOT NULL, birth_date TEXT NOT NULL, street TEXT, house_number TEXT, postcode TEXT,
                    city TEXT, phone TEXT, mobile TEXT, email TEXT, status TEXT NOT NULL, unemployed_since TEXT, target_occupation TEXT,
                    pap_code TEXT, last_contact TEXT, state_code TEXT) ON COMMIT DROP",
                vec![],
            )
            .await?;
        }
        Backend::Sqlite => {
            tx.execute("DROP TABLE IF EXISTS temp.import_rows", vec![])
                .await?;
            tx.execute(
                "CREATE TEMP TABLE import_rows (line BIGINT NOT NULL, customer_number TEXT NOT NULL, bg_number TEXT, salutation TEXT,
                    first_name TEXT, last_name TEXT NOT NULL, birth_date TEXT NOT NULL, street TEXT, house_number TEXT, postcode TEXT,
                    city TEXT, phone TEXT, mobile TEXT, email TEXT, status TEXT NOT NULL, unemployed_since TEXT, target_occupation TEXT,
                    pap_code TEXT, last_contact TEXT, state_code TEXT)",
                vec![],
            )
            .await?;
        }
    }
    Ok(())
}

/// COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
fn copy_text(records: &[CustomerRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 200);
    for r in records {
        for (i, value) in staging_values(r).iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            match value {
                None => out.extend_from_slice(b"\\N"),
                Some(text) => {
                    for b in text.bytes() {
                        match b {
                            b'\\' => out.extend_from_slice(b"\\\\"),
                            b'\t' => out.extend_from_slice(b"\\t"),
                            b'\n' => out.extend_from_slice(b"\\n"),
                            b'\r' => out.extend_from_slice(b"\\r"),
                            _ => out.push(b),
                        }
                    }
                }
            }
        }
        out.push(b'\n');
    }
    out
}

/// One multi-row `INSERT` per chunk (SQLite takes at most 32,766 parameters).
async fn insert_staging_sqlite(tx: &mut Tx, records: &[CustomerRecord]) -> Result<(), StoreError> {
    const ROWS: usize = 1000;
    for chunk in records.chunks(ROWS) {
        let mut sql = format!("INSERT INTO import_rows ({STAGING_COLUMNS}) VALUES ");
        let mut params: Vec<Arg> = Vec::with_capacity(chunk.len() * STAGING_WIDTH);
        for (row, record) in chunk.iter().enumerate() {
            sql.push_str(if row == 0 { "(" } else { ",(" });
            // Positional `?`: sqlx resolves numbered `$n` names one by one,
            // which grows with the square of the parameter count.
            for col in 0..STAGING_WIDTH {
                sql.push_str(if col == 0 { "?" } else { ",?" });
            }
            sql.push(')');
            let values = staging_values(record);
            params.push(Arg::Int(Some(
                i64::try_from(record.line).unwrap_or(i64::MAX),
            )));
            params.extend(
                values
                    .into_iter()
                    .skip(1)
                    .map(|v| Arg::Text(v.map(Cow::into_owned))),
            );
        }
        tx.execute_generated(sql, params).await?;
    }
    Ok(())
}

async fn insert_staging(tx: &mut Tx, records: &[CustomerRecord]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    match tx.backend() {
        Backend::Postgres => {
            tx.copy_in(
                "COPY import_rows (line, customer_number, bg_number, salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation, pap_code, last_contact, state_code) FROM STDIN",
                &copy_text(records),
            )
            .await?;
        }
        Backend::Sqlite => insert_staging_sqlite(tx, records).await?,
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Duplicate {
    line: i64,
    customer_number: String,
    first_line: i64,
}

/// Rejects later rows whose customer number came before in the file.
async fn reject_duplicates(tx: &mut Tx) -> Result<Vec<Issue>, StoreError> {
    let duplicates: Vec<Duplicate> = tx
        .fetch_all(
            "SELECT s.line, s.customer_number, f.first_line
             FROM import_rows s
             JOIN (SELECT customer_number, MIN(line) AS first_line FROM import_rows GROUP BY customer_number HAVING COUNT(*) > 1) f
               ON f.customer_number = s.customer_number
             WHERE s.line > f.first_line
             ORDER BY s.line",
            vec![],
        )
        .await?;
    if !duplicates.is_empty() {
        tx.execute(
            "DELETE FROM import_rows WHERE line > (SELECT MIN(t.line) FROM import_rows t WHERE t.customer_number = import_rows.customer_number)",
            vec![],
        )
        .await?;
    }
    Ok(duplicates
        .into_iter()
        .map(|d| Issue {
            line: u64::try_from(d.line).unwrap_or(0),
            message: format!(
                "Die Kundennummer {} steht schon in Zeile {}; diese Zeile wird nicht übernommen.",
                d.customer_number, d.first_line
            ),
            customer_number: d.customer_number,
            field: "Kundennummer",
        })
        .collect())
}

// One statement per field: the changed fields of existing customers, old → new.
macro_rules! change_sql {
    ($($field:literal),*) => {
        [$(concat!(
            "INSERT INTO customer_changes (customer_id, import_id, field, old_value, new_value)
             SELECT c.id, $1, '", $field, "', c.", $field, ", s.", $field, "
             FROM import_rows s JOIN customers c ON c.job_center_id = $2 AND c.customer_number = s.customer_number
             WHERE c.", $field, " IS DISTINCT FROM s.", $field
        )),*]
    };
}

const CHANGES: [&str; 18] = change_sql!(
    "bg_number",
    "salutation",
    "first_name",
    "last_name",
    "birth_date",
    "street",
    "house_number",
    "postcode",
    "city",
    "phone",
    "mobile",
    "email",
    "status",
    "unemployed_since",
    "target_occupation",
    "pap_code",
    "last_contact",
    "state_code"
);

const UPDATE_CHANGED: &str = "UPDATE customers AS c SET
        bg_number = s.bg_number, salutation = s.salutation, first_name = s.first_name, last_name = s.last_name,
        birth_date = s.birth_date, street = s.street, house_number = s.house_number, postcode = s.postcode, city = s.city,
        phone = s.phone, mobile = s.mobile, email = s.email, status = s.status, unemployed_since = s.unemployed_since,
        target_occupation = s.target_occupation, pap_code = s.pap_code, last_contact = s.last_contact,
        state_code = s.state_code, in_latest_export = TRUE, updated_at = $2
    FROM import_rows s
    WHERE c.job_center_id = $1 AND c.customer_number = s.customer_number
      AND (c.in_latest_export = FALSE
        OR c.id IN (SELECT customer_id FROM customer_changes WHERE import_id = $3))";

const INSERT_NEW: &str = "INSERT INTO customers (job_center_id, customer_number, bg_number, salutation, first_name, last_name,
        birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since,
        target_occupation, pap_code, last_contact, state_code, created_at, updated_at)
    SELECT $1, s.customer_number, s.bg_number, s.salutation, s.first_name, s.last_name, s.birth_date, s.street,
        s.house_number, s.postcode, s.city, s.phone, s.mobile, s.email, s.status, s.unemployed_since,
        s.target_occupation, s.pap_code, s.last_contact, s.state_code, $2, $2
    FROM import_rows s
    WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.job_center_id = $1 AND c.customer_number = s.customer_number)";

const FLAG_MISSING: &str = "UPDATE customers SET in_latest_export = FALSE, updated_at = $2
    WHERE job_center_id = $1 AND in_latest_export = TRUE
      AND NOT EXISTS (SELECT 1 FROM import_rows s WHERE s.customer_number = customers.customer_number)";

/// Imports `source` (an export file) for one job center. `progress` is told
/// the bytes read so far after each batch.
pub async fn import_customers<R>(
    db: &Db,
    request: ImportRequest,
    source: R,
    progress: impl Fn(u64) + Send,
) -> Result<ImportReport, ImportError>
where
    R: Read + Send + 'static,
{
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let today = request.today;
    let reading = tokio::task::spawn_blocking(move || read_file(source, today, sender));

    let mut report = ImportReport {
        dry_run: request.dry_run,
        ..ImportReport::default()
    };
    let mut tx = db.begin().await?;
    let (import_id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO imports (job_center_id, file_name, user_id, started_at) VALUES ($1, $2, $3, $4) RETURNING id",
            args![request.job_center_id, &request.file_name, request.user_id, request.now],
        )
        .await?;
    create_staging(&mut tx).await?;
    while let Some(message) = receiver.recv().await {
        match message {
            Message::Header {
                unknown_columns,
                delimiter,
            } => {
                report.unknown_columns = unknown_columns;
                report.delimiter = delimiter.to_string();
            }
            Message::Batch {
                records,
                errors,
                warnings,
                bytes,
            } => {
                report.rows += (records.len() + errors.len()) as u64;
                report.accepted += records.len() as u64;
                insert_staging(&mut tx, &records).await?;
                report.errors.extend(errors);
                report.warning_list.extend(warnings);
                progress(bytes);
            }
            Message::Done { encoding } => report.encoding = encoding.to_string(),
            // Dropping the transaction rolls everything back.
            Message::Failed(e) => return Err(e.into()),
        }
    }
    let _ = reading.await;
    let phase = std::time::Instant::now();
    tracing::debug!(rows = report.rows, "import: staging loaded");
    tx.execute(
        "CREATE INDEX import_rows_number ON import_rows (customer_number, line)",
        vec![],
    )
    .await?;

    let duplicates = reject_duplicates(&mut tx).await?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: duplicates");
    report.accepted -= duplicates.len() as u64;
    report.errors.extend(duplicates);
    report.errors.sort_by_key(|e| e.line);
    report.rejected = report.errors.len() as u64;
    report.warnings = report.warning_list.len() as u64;

    let jc = request.job_center_id;
    let (existing,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM customers WHERE job_center_id = $1",
            args![jc],
        )
        .await?;
    for sql in CHANGES {
        tx.execute(sql, args![import_id, jc]).await?;
    }
    tracing::debug!(elapsed = ?phase.elapsed(), "import: changes");
    report.updated = tx
        .execute(UPDATE_CHANGED, args![jc, request.now, import_id])
        .await?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: updated");
    report.inserted = tx.execute(INSERT_NEW, args![jc, request.now]).await?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: inserted");
    report.unchanged = report.accepted - report.inserted - report.updated;
    // On a first import every customer came from this file: nobody is missing.
    if existing > 0 {
        report.missing = tx.execute(FLAG_MISSING, args![jc, request.now]).await?;
    }
    if tx.backend() == Backend::Sqlite {
        tx.execute("DROP TABLE temp.import_rows", vec![]).await?;
    }
    let r = &report;
    tx.execute(
        "UPDATE imports SET finished_at = $2, rows_read = $3, accepted = $4, rejected = $5, inserted = $6, updated = $7,
            unchanged = $8, missing = $9, warnings = $10 WHERE id = $1",
        args![
            import_id,
            request.now,
            r.rows as i64,
            r.accepted as i64,
            r.rejected as i64,
            r.inserted as i64,
            r.updated as i64,
            r.unchanged as i64,
            r.missing as i64,
            r.warnings as i64
        ],
    )
    .await?;
    let counts = format!(
        "Zeilen {}, übernommen {}, abgelehnt {}, neu {}, geändert {}, unverändert {}, nicht mehr im Export {}",
        r.rows, r.accepted, r.rejected, r.inserted, r.updated, r.unchanged, r.missing
    );
    let mut event = request.audit.clone();
    event.action = AuditAction::CustomerImport;
    let event = event
        .record(
            "import",
            format!(
                "{} ({})",
                request.file_name,
                if request.dry_run {
                    "Probelauf".to_string()
                } else {
                    format!("Nr. {import_id}")
                }
            ),
        )
        .fields(&counts)
        .purpose("Übernahme des Kundenexports")
        .job_center(Some(jc));
    if request.dry_run {
        tx.rollback().await?;
        let mut tx = db.begin().await?;
        audit::append(&mut tx, &event, request.now).await?;
        tx.commit().await?;
    } else {
        audit::append(&mut tx, &event, request.now).await?;
        tx.commit().await?;
        report.import_id = Some(import_id);
    }
    Ok(report)
}
