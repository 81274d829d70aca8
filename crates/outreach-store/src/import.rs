//! Importing a job center's customer export. The file is read on a thread of
//! its own and checked on two more while the records stream into the
//! database. A job center's first import goes straight into `customers`: on
//! SQLite in file order, the unique key turning away a number seen before; on
//! PostgreSQL with COPY, and should the file repeat a number, read a second
//! time through the staging table. A later import goes into a staging table;
//! then one set of statements merges it: new customers inserted, changed
//! fields recorded and updated, customers missing from the export flagged. All
//! in one transaction: an import completes or leaves the database as it was.
//! A dry run does the same and rolls back. Nothing is kept in memory per
//! customer or per issue: rejected and warned rows go to a temporary file.

use crate::audit::{self, AuditEvent};
use crate::{Db, StoreError, args};
use jiff::civil::Date;
use outreach_core::audit::AuditAction;
use outreach_core::import::{
    Checked, CustomerRecord, ExportReader, Issue, RawRecord, ReadError, check,
};
use std::borrow::Cow;
use std::io::Read;

mod issue_log;
use issue_log::IssueWriter;
pub use issue_log::{IssueLog, Iter as IssueIter};

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
    pub errors: IssueLog,
    /// One per warning, by line.
    pub warning_list: IssueLog,
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
    #[error("Die Meldungen des Imports konnten nicht zwischengespeichert werden: {0}")]
    Spill(#[from] std::io::Error),
}

/// Records per batch sent from the reading thread to the database.
const BATCH: usize = 2000;

/// Bytes of COPY text per message to PostgreSQL.
const COPY_CHUNK: usize = 1 << 20;

enum Message {
    Header {
        unknown_columns: Vec<String>,
        delimiter: char,
    },
    Batch {
        /// The batch's place in the file (0, 1, 2, …); batches are checked
        /// on several threads and may arrive out of order.
        seq: u64,
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
    seq: u64,
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
            seq: batch.seq,
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
        let mut seq = 0;
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
                seq,
                records: std::mem::replace(&mut records, Vec::with_capacity(BATCH)),
                bytes: reader.position(),
            };
            seq += 1;
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

/// The staging table's columns: the line, then [`customer_values`].
const STAGING_COLUMNS: &str = "line, customer_number, bg_number, salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation, pap_code, last_contact, state_code";
/// How many values [`customer_values`] gives.
const CUSTOMER_WIDTH: usize = 19;

/// A record's values borrowed where the record holds them as text.
fn text(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(Cow::Borrowed)
}

/// Room for a record's three dates as `JJJJ-MM-TT` text, so that rendering
/// a row allocates nothing (a million rows, three dates each).
#[derive(Default)]
struct DateText([[u8; 10]; 3]);

/// `d` as ISO text in `out`; `None` outside the years 1000–9999.
fn iso_date(d: Date, out: &mut [u8; 10]) -> Option<&str> {
    let year = u16::try_from(d.year())
        .ok()
        .filter(|y| (1000..=9999).contains(y))?;
    let (month, day) = (d.month() as u16, d.day() as u16);
    let digit = |v: u16| b'0' + (v % 10) as u8;
    *out = [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
        b'-',
        digit(day / 10),
        digit(day),
    ];
    std::str::from_utf8(out).ok()
}

/// A record's customer values, in the order of the staging table's columns
/// after the line; dates rendered into `dates`.
fn customer_values<'a>(
    r: &'a CustomerRecord,
    dates: &'a mut DateText,
) -> [Option<Cow<'a, str>>; CUSTOMER_WIDTH] {
    let [birth, unemployed, contact] = &mut dates.0;
    let date = |d: Option<Date>, out: &'a mut [u8; 10]| {
        d.map(|d| match iso_date(d, out) {
            Some(text) => Cow::Borrowed(text),
            None => Cow::Owned(d.to_string()),
        })
    };
    [
        Some(Cow::Borrowed(r.customer_number.as_str())),
        text(&r.bg_number),
        r.salutation.map(Cow::Borrowed),
        text(&r.first_name),
        Some(Cow::Borrowed(r.last_name.as_str())),
        date(Some(r.birth_date), birth),
        text(&r.street),
        text(&r.house_number),
        text(&r.postcode),
        text(&r.city),
        text(&r.phone),
        text(&r.mobile),
        text(&r.email),
        Some(Cow::Borrowed(r.status.code())),
        date(r.unemployed_since, unemployed),
        text(&r.target_occupation),
        text(&r.pap_code),
        date(r.last_contact, contact),
        r.state_code.map(Cow::Borrowed),
    ]
}

const CREATE_STAGING: &str = "CREATE TEMP TABLE import_rows (line BIGINT NOT NULL, customer_number TEXT NOT NULL, bg_number TEXT, salutation TEXT,
    first_name TEXT, last_name TEXT NOT NULL, birth_date TEXT NOT NULL, street TEXT, house_number TEXT, postcode TEXT,
    city TEXT, phone TEXT, mobile TEXT, email TEXT, status TEXT NOT NULL, unemployed_since TEXT, target_occupation TEXT,
    pap_code TEXT, last_contact TEXT, state_code TEXT)";

/// One row in COPY's text format (tab-separated, `\N` for NULL, backslash
/// escapes): `prefix` as it is (ending in a tab), then the values.
fn push_copy_row(out: &mut Vec<u8>, prefix: &[u8], values: &[Option<Cow<'_, str>>]) {
    out.extend_from_slice(prefix);
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match value {
            None => out.extend_from_slice(b"\\N"),
            Some(text) => {
                let special = |b: &u8| matches!(b, b'\\' | b'\t' | b'\n' | b'\r');
                if !text.as_bytes().iter().any(special) {
                    // Nearly every value: nothing to escape.
                    out.extend_from_slice(text.as_bytes());
                    continue;
                }
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

/// COPY into the staging table (all values, the line first).
const COPY_STAGING: &str = "COPY import_rows (line, customer_number, bg_number, salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation, pap_code, last_contact, state_code) FROM STDIN";
/// COPY straight into `customers` on a first import (the values without the line).
const COPY_CUSTOMERS: &str = "COPY customers (job_center_id, created_at, updated_at, customer_number, bg_number, salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation, pap_code, last_contact, state_code) FROM STDIN";

#[derive(sqlx::FromRow)]
struct Duplicate {
    line: i64,
    customer_number: String,
    first_line: i64,
}

/// Later rows whose customer number came before in the file.
const DUPLICATES: &str = "SELECT s.line, s.customer_number, f.first_line
     FROM import_rows s
     JOIN (SELECT customer_number, MIN(line) AS first_line FROM import_rows GROUP BY customer_number HAVING COUNT(*) > 1) f
       ON f.customer_number = s.customer_number
     WHERE s.line > f.first_line
     ORDER BY s.line";
const DELETE_DUPLICATES: &str = "DELETE FROM import_rows WHERE line > (SELECT MIN(t.line) FROM import_rows t WHERE t.customer_number = import_rows.customer_number)";
const INDEX_STAGING: &str =
    "CREATE INDEX import_rows_number ON import_rows (customer_number, line)";
const INSERT_IMPORT: &str = "INSERT INTO imports (job_center_id, file_name, user_id, started_at) VALUES ($1, $2, $3, $4) RETURNING id";
const FINISH_IMPORT: &str = "UPDATE imports SET finished_at = $2, rows_read = $3, accepted = $4, rejected = $5, inserted = $6, updated = $7,
    unchanged = $8, missing = $9, warnings = $10 WHERE id = $1";

/// Writes a rejected later row whose number came before.
fn push_duplicate(
    out: &mut IssueWriter,
    line: u64,
    customer_number: &str,
    first_line: u64,
) -> std::io::Result<()> {
    out.push_parts(
        line,
        customer_number,
        "Kundennummer",
        &format!(
            "Die Kundennummer {customer_number} steht schon in Zeile {first_line}; diese Zeile wird nicht übernommen."
        ),
    )
}

/// Duplicates found by the database, in line order, as issues.
fn duplicate_issues(duplicates: Vec<Duplicate>) -> std::io::Result<IssueLog> {
    let mut out = IssueWriter::default();
    for d in duplicates {
        let line = |v: i64| u64::try_from(v).unwrap_or(0);
        push_duplicate(
            &mut out,
            line(d.line),
            &d.customer_number,
            line(d.first_line),
        )?;
    }
    out.finish()
}

// The changed fields of existing customers, old → new, in one statement: the
// export is joined with the stored customers once (not once per field), and
// only the rows with a difference are split into one change per field.
macro_rules! change_sql {
    ($($field:literal),*) => {
        concat!(
            "WITH d AS MATERIALIZED (SELECT c.id",
            $(", c.", $field, " AS o_", $field, ", s.", $field, " AS n_", $field,)*
            " FROM import_rows s JOIN customers c ON c.job_center_id = $2 AND c.customer_number = s.customer_number
              WHERE 1 = 0",
            $(" OR c.", $field, " IS DISTINCT FROM s.", $field,)*
            ")
            INSERT INTO customer_changes (customer_id, import_id, field, old_value, new_value)
            SELECT id, $1, '', NULL, NULL FROM d WHERE 1 = 0",
            $(" UNION ALL SELECT id, $1, '", $field, "', o_", $field, ", n_", $field,
              " FROM d WHERE o_", $field, " IS DISTINCT FROM n_", $field,)*
        )
    };
}

const CHANGES: &str = change_sql!(
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

/// The issues of the checked batches, written in file order: batches are
/// checked on several threads and may arrive out of order, so a batch's
/// issues wait until the batches before it are written.
#[derive(Default)]
struct Collected {
    next: u64,
    waiting: std::collections::BTreeMap<u64, (Vec<Issue>, Vec<Issue>)>,
    errors: IssueWriter,
    warnings: IssueWriter,
}

impl Collected {
    fn push(&mut self, seq: u64, errors: Vec<Issue>, warnings: Vec<Issue>) -> std::io::Result<()> {
        self.waiting.insert(seq, (errors, warnings));
        while let Some((errors, warnings)) = self.waiting.remove(&self.next) {
            self.next += 1;
            for e in &errors {
                self.errors.push(e)?;
            }
            for w in &warnings {
                self.warnings.push(w)?;
            }
        }
        Ok(())
    }

    /// Puts the issues into the report, the rejected duplicates (in line
    /// order) among the rejected rows.
    fn finish(self, report: &mut ImportReport, duplicates: IssueLog) -> Result<(), ImportError> {
        debug_assert!(self.waiting.is_empty(), "a batch's issues never became due");
        report.accepted -= duplicates.len() as u64;
        report.errors = self.errors.finish()?.merge(duplicates)?;
        report.warning_list = self.warnings.finish()?;
        report.rejected = report.errors.len() as u64;
        report.warnings = report.warning_list.len() as u64;
        Ok(())
    }
}

/// Takes a message from the reading side into the report; returns a batch's
/// place in the file and its records, which the caller stores.
fn absorb(
    report: &mut ImportReport,
    collected: &mut Collected,
    message: Message,
    progress: &(impl Fn(u64) + Send),
) -> Result<Option<(u64, Vec<CustomerRecord>)>, ImportError> {
    match message {
        Message::Header {
            unknown_columns,
            delimiter,
        } => {
            report.unknown_columns = unknown_columns;
            report.delimiter = delimiter.to_string();
        }
        Message::Batch {
            seq,
            records,
            errors,
            warnings,
            bytes,
        } => {
            report.rows += (records.len() + errors.len()) as u64;
            report.accepted += records.len() as u64;
            collected.push(seq, errors, warnings)?;
            progress(bytes);
            return Ok(Some((seq, records)));
        }
        Message::Done { encoding } => report.encoding = encoding.to_string(),
        Message::Failed(e) => return Err(e.into()),
    }
    Ok(None)
}

/// Puts the checked batches back in file order: a first import on SQLite
/// stores the records in that order, so that the earliest line of a number
/// is the one kept.
#[derive(Default)]
struct InOrder {
    waiting: std::collections::BTreeMap<u64, Vec<CustomerRecord>>,
    next: u64,
}

impl InOrder {
    /// Takes a batch; hands every record that is now due, in file order, to
    /// `take`.
    fn push<E>(
        &mut self,
        seq: u64,
        records: Vec<CustomerRecord>,
        mut take: impl FnMut(CustomerRecord) -> Result<(), E>,
    ) -> Result<(), E> {
        self.waiting.insert(seq, records);
        while let Some(records) = self.waiting.remove(&self.next) {
            self.next += 1;
            for record in records {
                take(record)?;
            }
        }
        Ok(())
    }
}

/// The file line of each customer a first import stored, by its id: only the
/// points where `line - id` changes are kept (after a rejected row or a
/// record over several lines), not one entry per customer.
#[derive(Default)]
struct LinesById {
    points: Vec<(i64, u64)>,
}

impl LinesById {
    /// Notes the line of a stored customer; ids only grow.
    fn note(&mut self, id: i64, line: u64) {
        let offset = |id: i64, line: u64| i128::from(line) - i128::from(id);
        if let Some(&(last_id, last_line)) = self.points.last()
            && offset(last_id, last_line) == offset(id, line)
        {
            return;
        }
        self.points.push((id, line));
    }

    fn line_of(&self, id: i64) -> Option<u64> {
        let after = self.points.partition_point(|&(point, _)| point <= id);
        let &(point, line) = self.points.get(after.checked_sub(1)?)?;
        line.checked_add_signed(id - point)
    }
}

/// The run's counts for the `imports` row, after its id and end time.
fn finish_args(r: &ImportReport) -> [i64; 8] {
    let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    [
        n(r.rows),
        n(r.accepted),
        n(r.rejected),
        n(r.inserted),
        n(r.updated),
        n(r.unchanged),
        n(r.missing),
        n(r.warnings),
    ]
}

/// The audit event of an import: who, which file, the counts; no row content.
fn import_event(request: &ImportRequest, r: &ImportReport, import_id: i64) -> AuditEvent {
    let counts = format!(
        "Zeilen {}, übernommen {}, abgelehnt {}, neu {}, geändert {}, unverändert {}, nicht mehr im Export {}",
        r.rows, r.accepted, r.rejected, r.inserted, r.updated, r.unchanged, r.missing
    );
    let mut event = request.audit.clone();
    event.action = AuditAction::CustomerImport;
    event
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
        .job_center(Some(request.job_center_id))
}

/// Imports an export file for one job center; `open` opens it. A first
/// import on PostgreSQL whose file repeats a customer number opens it a second
/// time (see below). `progress` is told the bytes read so far after each batch.
pub async fn import_customers<R, O>(
    db: &Db,
    request: ImportRequest,
    mut open: O,
    progress: impl Fn(u64) + Send,
) -> Result<ImportReport, ImportError>
where
    R: Read + Send + 'static,
    O: FnMut() -> std::io::Result<R>,
{
    if let Db::Sqlite { path, .. } = db {
        let source = open().map_err(ReadError::from)?;
        return import_sqlite(db, path.clone(), request, source, progress).await;
    }
    let jc = request.job_center_id;
    let mut tx = db.begin().await?;
    // One import of a job center at a time (the customers' job-center check
    // takes KEY SHARE locks, which this lock lets through).
    tx.execute(
        "SELECT id FROM job_centers WHERE id = $1 FOR NO KEY UPDATE",
        args![jc],
    )
    .await?;
    let (import_id,): (i64,) = tx
        .fetch_one(
            INSERT_IMPORT,
            args![jc, &request.file_name, request.user_id, request.now],
        )
        .await?;
    let (existing,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM (SELECT 1 FROM customers WHERE job_center_id = $1 LIMIT 1) c",
            args![jc],
        )
        .await?;
    // A first import streams straight into `customers` (COPY) and keeps
    // nothing per customer. Should the file repeat a customer number, the
    // unique key stops the COPY; the file is then read again into the staging
    // table, as for a later import, where each repeat is found with its line.
    let mut direct = existing == 0;
    let mut report = loop {
        if direct {
            tx.execute("SAVEPOINT direct_copy", vec![]).await?;
        }
        let source = open().map_err(ReadError::from)?;
        match postgres_pass(&mut tx, &request, import_id, source, direct, &progress).await {
            Err(ImportError::Store(StoreError::UniqueViolation)) if direct => {
                tx.execute("ROLLBACK TO SAVEPOINT direct_copy", vec![])
                    .await?;
                tracing::debug!("import: a customer number repeats; reading again into staging");
                direct = false;
            }
            other => break other?,
        }
    };
    report.unchanged = report.accepted - report.inserted - report.updated;
    let [a, b, c, d, e, f, g, h] = finish_args(&report);
    tx.execute(
        FINISH_IMPORT,
        args![import_id, request.now, a, b, c, d, e, f, g, h],
    )
    .await?;
    let event = import_event(&request, &report, import_id);
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

/// One reading of the file on PostgreSQL: `direct`ly into `customers`, or
/// into the staging table and merged from there.
async fn postgres_pass<R: Read + Send + 'static>(
    tx: &mut crate::Tx,
    request: &ImportRequest,
    import_id: i64,
    source: R,
    direct: bool,
    progress: &(impl Fn(u64) + Send),
) -> Result<ImportReport, ImportError> {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let today = request.today;
    let reading = tokio::task::spawn_blocking(move || read_file(source, today, sender));
    let mut report = ImportReport {
        dry_run: request.dry_run,
        ..ImportReport::default()
    };
    let jc = request.job_center_id;
    if !direct {
        // Customer numbers compare bytewise, as in `customers` (migration 0015).
        let create = CREATE_STAGING.replacen(
            "customer_number TEXT",
            "customer_number TEXT COLLATE \"C\"",
            1,
        );
        tx.execute_generated(format!("{create} ON COMMIT DROP"), vec![])
            .await?;
    }
    let (chunks, chunks_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let prefix = format!("{jc}\t{now}\t{now}\t", now = request.now).into_bytes();
    let mut collected = Collected::default();
    let feed = async {
        // Dropped when the feed ends, so that the reading side stops too
        // should the COPY have failed.
        let mut receiver = receiver;
        let chunks = chunks;
        let mut out = Vec::with_capacity(COPY_CHUNK + 4096);
        let mut dates = DateText::default();
        let mut line_prefix = Vec::new();
        while let Some(message) = receiver.recv().await {
            let Some((_, records)) = absorb(&mut report, &mut collected, message, progress)? else {
                continue;
            };
            for r in &records {
                let prefix = if direct {
                    &prefix
                } else {
                    line_prefix.clear();
                    line_prefix.extend_from_slice(format!("{}\t", r.line).as_bytes());
                    &line_prefix
                };
                push_copy_row(&mut out, prefix, &customer_values(r, &mut dates));
            }
            if out.len() >= COPY_CHUNK {
                let full = std::mem::replace(&mut out, Vec::with_capacity(COPY_CHUNK + 4096));
                if chunks.send(full).await.is_err() {
                    // COPY failed; its error is the one reported.
                    break;
                }
            }
        }
        if !out.is_empty() {
            let _ = chunks.send(out).await;
        }
        Ok::<_, ImportError>(())
    };
    let statement = if direct { COPY_CUSTOMERS } else { COPY_STAGING };
    let (fed, copied) = tokio::join!(feed, tx.copy_in_chunks(statement, chunks_rx));
    let _ = reading.await;
    // Dropping the transaction on an error rolls everything back; a file
    // that could not be read is the error to report.
    fed?;
    let copied = copied?;
    let phase = std::time::Instant::now();
    tracing::debug!(rows = report.rows, direct, "import: rows copied");
    if direct {
        report.inserted = copied;
        collected.finish(&mut report, IssueLog::default())?;
        return Ok(report);
    }
    // A hash aggregate finds whether any number repeats.
    let (repeated,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM (SELECT customer_number FROM import_rows GROUP BY customer_number HAVING COUNT(*) > 1) d",
            vec![],
        )
        .await?;
    tx.execute(INDEX_STAGING, vec![]).await?;
    tx.execute("ANALYZE import_rows", vec![]).await?;
    let duplicates: Vec<Duplicate> = if repeated > 0 {
        let found = tx.fetch_all(DUPLICATES, vec![]).await?;
        tx.execute(DELETE_DUPLICATES, vec![]).await?;
        found
    } else {
        Vec::new()
    };
    collected.finish(&mut report, duplicate_issues(duplicates)?)?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: duplicates");
    tx.execute(CHANGES, args![import_id, jc]).await?;
    report.updated = tx
        .execute(UPDATE_CHANGED, args![jc, request.now, import_id])
        .await?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: updated");
    report.inserted = tx.execute(INSERT_NEW, args![jc, request.now]).await?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: inserted");
    report.missing = tx.execute(FLAG_MISSING, args![jc, request.now]).await?;
    Ok(report)
}

/// SQLite: the same steps on a connection of the import's own, with
/// prepared statements (sqlx's per-value overhead made the staging insert
/// cost more than SQLite's own work). `BEGIN IMMEDIATE` takes SQLite's one
/// write lock for the whole import, as the writer connection would.
async fn import_sqlite<R>(
    db: &Db,
    path: std::path::PathBuf,
    request: ImportRequest,
    source: R,
    progress: impl Fn(u64) + Send,
) -> Result<ImportReport, ImportError>
where
    R: Read + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let (bytes_tx, mut bytes_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let today = request.today;
    let reading = tokio::task::spawn_blocking(move || read_file(source, today, sender));
    let req = request.clone();
    let writing =
        tokio::task::spawn_blocking(move || sqlite_bulk::run(&path, &req, receiver, bytes_tx));
    while let Some(bytes) = bytes_rx.recv().await {
        progress(bytes);
    }
    let _ = reading.await;
    let (report, event) = writing
        .await
        .map_err(|e| StoreError::Integrity(format!("import thread: {e}")))??;
    // The import appended to the audit chain behind the writer's back.
    if let Db::Sqlite { head, .. } = db {
        head.set(None);
    }
    if let Some(event) = event {
        // A dry run: rolled back; the run itself is recorded.
        let mut tx = db.begin().await?;
        audit::append(&mut tx, &event, request.now).await?;
        tx.commit().await?;
    }
    Ok(report)
}

mod sqlite_bulk {
    use super::*;
    use rusqlite::{Connection, named_params};

    fn failed(e: rusqlite::Error) -> StoreError {
        StoreError::Integrity(format!("SQLite: {e}"))
    }

    /// Runs the import; returns the report and, for a dry run, the audit
    /// event still to append (the rolled-back transaction can't hold it).
    pub(super) fn run(
        path: &std::path::Path,
        request: &ImportRequest,
        mut receiver: tokio::sync::mpsc::Receiver<Message>,
        bytes: tokio::sync::mpsc::UnboundedSender<u64>,
    ) -> Result<(ImportReport, Option<AuditEvent>), ImportError> {
        let mut conn = Connection::open(path).map_err(failed)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(failed)?;
        // As on every connection of the store, but without foreign key
        // enforcement: SQLite keeps a statement journal for every statement
        // that could fail half-way on a key, and a first import writes many
        // rows with one statement. What the keys would check is checked below
        // under the write lock (the job center and the user exist); all else
        // the import writes refers to rows it read itself. Plus a page cache
        // large enough for the new customers' index pages.
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF; PRAGMA secure_delete = ON; PRAGMA cache_size = -32768;
             PRAGMA temp.cache_size = -16384; DROP TABLE IF EXISTS temp.import_rows;",
        )
        .map_err(failed)?;
        conn.execute_batch(CREATE_STAGING).map_err(failed)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(failed)?;
        let jc = request.job_center_id;
        let exists = |sql: &str, id: i64| {
            tx.query_row(sql, [id], |row| row.get::<_, bool>(0))
                .map_err(failed)
        };
        if !exists(
            "SELECT EXISTS (SELECT 1 FROM job_centers WHERE id = ?1)",
            jc,
        )? {
            return Err(StoreError::Integrity(format!("Das Jobcenter {jc} gibt es nicht.")).into());
        }
        if let Some(user) = request.user_id
            && !exists("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", user)?
        {
            return Err(
                StoreError::Integrity(format!("Den Benutzer {user} gibt es nicht.")).into(),
            );
        }
        let import_id: i64 = tx
            .query_row(
                INSERT_IMPORT,
                named_params! {"$1": jc, "$2": request.file_name, "$3": request.user_id, "$4": request.now},
                |row| row.get(0),
            )
            .map_err(failed)?;
        let mut report = ImportReport {
            dry_run: request.dry_run,
            ..ImportReport::default()
        };
        // The write lock is held: nobody adds customers meanwhile.
        let existing: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM customers WHERE job_center_id = ?1",
                [jc],
                |row| row.get(0),
            )
            .map_err(failed)?;
        tracing::debug!(existing, "import: started");
        let count = |n: usize| n as u64;
        let phase = std::time::Instant::now();
        if existing == 0 {
            // A first import: straight into the customers table, in file
            // order, a number seen before turned away on the way.
            let mut collected = Collected::default();
            let duplicates = load_first(
                &tx,
                request,
                &mut receiver,
                &bytes,
                &mut report,
                &mut collected,
            )?;
            report.inserted = report.accepted - duplicates.len() as u64;
            collected.finish(&mut report, duplicates)?;
            tracing::debug!(elapsed = ?phase.elapsed(), "import: inserted");
        } else {
            let mut collected = Collected::default();
            load_staging(&tx, &mut receiver, &bytes, &mut report, &mut collected)?;
            tracing::debug!(elapsed = ?phase.elapsed(), rows = report.rows, "import: staging loaded");
            tx.execute_batch(INDEX_STAGING).map_err(failed)?;
            let duplicates = query_duplicates(&tx, DUPLICATES)?;
            if !duplicates.is_empty() {
                tx.execute(DELETE_DUPLICATES, []).map_err(failed)?;
            }
            collected.finish(&mut report, duplicate_issues(duplicates)?)?;
            tx.execute(CHANGES, named_params! {"$1": import_id, "$2": jc})
                .map_err(failed)?;
            tracing::debug!(elapsed = ?phase.elapsed(), "import: changes");
            report.updated = count(
                tx.execute(
                    UPDATE_CHANGED,
                    named_params! {"$1": jc, "$2": request.now, "$3": import_id},
                )
                .map_err(failed)?,
            );
            report.inserted = count(
                tx.execute(INSERT_NEW, named_params! {"$1": jc, "$2": request.now})
                    .map_err(failed)?,
            );
            report.missing = count(
                tx.execute(FLAG_MISSING, named_params! {"$1": jc, "$2": request.now})
                    .map_err(failed)?,
            );
            tracing::debug!(elapsed = ?phase.elapsed(), "import: merged");
        }
        drop(bytes);
        report.unchanged = report.accepted - report.inserted - report.updated;
        tx.execute_batch("DROP TABLE temp.import_rows;")
            .map_err(failed)?;
        let [a, b, c, d, e, f, g, h] = finish_args(&report);
        tx.execute(
            FINISH_IMPORT,
            named_params! {"$1": import_id, "$2": request.now, "$3": a, "$4": b, "$5": c, "$6": d, "$7": e, "$8": f, "$9": g, "$10": h},
        )
        .map_err(failed)?;
        let event = import_event(request, &report, import_id);
        if request.dry_run {
            tx.rollback().map_err(failed)?;
            return Ok((report, Some(event)));
        }
        // The write lock is held: the head can't move while this appends.
        let (last_seq, last_hash): (i64, String) = tx
            .query_row(
                "SELECT last_seq, last_hash FROM audit_head WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(failed)?;
        let (record, hash) = audit::chained(&event, last_seq + 1, last_hash, request.now);
        tx.execute(
            "INSERT INTO audit_events (seq, at, user_id, username, role, action, record_type, record_id, fields, purpose, client, job_center_id, service_center_id, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            rusqlite::params![
                record.seq,
                record.at,
                record.user_id,
                record.username,
                record.role,
                record.action,
                record.record_type,
                record.record_id,
                record.fields,
                record.purpose,
                record.client,
                record.job_center_id,
                record.service_center_id,
                record.prev_hash,
                hash
            ],
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
        tracing::debug!(elapsed = ?phase.elapsed(), "import: committed");
        report.import_id = Some(import_id);
        Ok((report, None))
    }

    /// The staging path: every record into `import_rows`.
    fn load_staging(
        tx: &rusqlite::Transaction<'_>,
        receiver: &mut tokio::sync::mpsc::Receiver<Message>,
        bytes: &tokio::sync::mpsc::UnboundedSender<u64>,
        report: &mut ImportReport,
        collected: &mut Collected,
    ) -> Result<(), ImportError> {
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO import_rows ({STAGING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
            ))
            .map_err(failed)?;
        let progress = |n: u64| {
            let _ = bytes.send(n);
        };
        let mut dates = DateText::default();
        while let Some(message) = receiver.blocking_recv() {
            let Some((_, records)) = absorb(report, collected, message, &progress)? else {
                continue;
            };
            for record in records {
                insert
                    .raw_bind_parameter(1, i64::try_from(record.line).unwrap_or(i64::MAX))
                    .map_err(failed)?;
                bind_customer(&mut insert, 2, &record, &mut dates).map_err(failed)?;
                insert.raw_execute().map_err(failed)?;
            }
        }
        Ok(())
    }

    /// Rows per INSERT on a first import: the work a statement does once
    /// (its end, the list of the status check, the AUTOINCREMENT counter)
    /// shared by many rows.
    const ROWS_PER_INSERT: usize = 64;

    /// An INSERT of `rows` customers: the job center and the time in `?1` and
    /// `?2`, then [`customer_values`] row after row; a number already stored
    /// is left out.
    fn customer_insert(rows: usize) -> String {
        let mut sql = String::from(
            "INSERT OR IGNORE INTO customers (job_center_id, created_at, updated_at, customer_number, bg_number,
            salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email,
            status, unemployed_since, target_occupation, pap_code, last_contact, state_code) VALUES ",
        );
        for row in 0..rows {
            sql.push_str(if row == 0 {
                "(?1, ?2, ?2"
            } else {
                ", (?1, ?2, ?2"
            });
            for column in 0..CUSTOMER_WIDTH {
                sql.push_str(&format!(", ?{}", 3 + row * CUSTOMER_WIDTH + column));
            }
            sql.push(')');
        }
        sql
    }

    /// Binds a record's [`customer_values`] from parameter `first` on. The
    /// statement keeps its other parameters between rows, so nothing is
    /// collected per row.
    fn bind_customer(
        stmt: &mut rusqlite::Statement<'_>,
        first: usize,
        record: &CustomerRecord,
        dates: &mut DateText,
    ) -> rusqlite::Result<()> {
        for (i, value) in customer_values(record, dates).iter().enumerate() {
            stmt.raw_bind_parameter(first + i, value.as_deref())?;
        }
        Ok(())
    }

    /// A first import's writer: records go straight into `customers`, in
    /// file order and [`ROWS_PER_INSERT`] to a statement; the unique key
    /// turns away a number seen before, and the line it was first seen on is
    /// found from its id (see [`LinesById`]). Nothing is kept per customer.
    struct FirstWriter<'c> {
        conn: &'c Connection,
        many: rusqlite::Statement<'c>,
        one: rusqlite::Statement<'c>,
        stored: rusqlite::Statement<'c>,
        job_center_id: i64,
        pending: Vec<CustomerRecord>,
        /// The largest id this import stored so far (0 before the first).
        last_id: i64,
        lines: LinesById,
        duplicates: IssueWriter,
        dates: DateText,
    }

    impl<'c> FirstWriter<'c> {
        fn new(conn: &'c Connection, request: &ImportRequest) -> Result<Self, ImportError> {
            let mut many = conn
                .prepare(&customer_insert(ROWS_PER_INSERT))
                .map_err(failed)?;
            let mut one = conn.prepare(&customer_insert(1)).map_err(failed)?;
            for stmt in [&mut many, &mut one] {
                stmt.raw_bind_parameter(1, request.job_center_id)
                    .map_err(failed)?;
                stmt.raw_bind_parameter(2, request.now).map_err(failed)?;
            }
            let stored = conn
                .prepare(
                    "SELECT id FROM customers WHERE job_center_id = ?1 AND customer_number = ?2",
                )
                .map_err(failed)?;
            Ok(FirstWriter {
                conn,
                many,
                one,
                stored,
                job_center_id: request.job_center_id,
                pending: Vec::with_capacity(ROWS_PER_INSERT),
                last_id: 0,
                lines: LinesById::default(),
                duplicates: IssueWriter::default(),
                dates: DateText::default(),
            })
        }

        fn take(&mut self, record: CustomerRecord) -> Result<(), ImportError> {
            self.pending.push(record);
            if self.pending.len() == ROWS_PER_INSERT {
                self.write(true)?;
            }
            Ok(())
        }

        /// Writes the rest one by one; returns the rejected later lines.
        fn finish(mut self) -> Result<IssueLog, ImportError> {
            let rest = std::mem::take(&mut self.pending);
            for record in rest {
                self.pending.push(record);
                self.write(false)?;
            }
            Ok(self.duplicates.finish()?)
        }

        /// Writes the pending records with one statement (`many` of them or
        /// one).
        fn write(&mut self, many: bool) -> Result<(), ImportError> {
            let FirstWriter {
                conn,
                many: many_rows,
                one,
                stored,
                job_center_id,
                pending,
                last_id,
                lines,
                duplicates,
                dates,
            } = self;
            let stmt = if many { many_rows } else { one };
            for (row, record) in pending.iter().enumerate() {
                bind_customer(stmt, 3 + row * CUSTOMER_WIDTH, record, dates).map_err(failed)?;
            }
            let inserted = stmt.raw_execute().map_err(failed)?;
            let before = *last_id;
            if inserted == pending.len() {
                // All stored, with the ids up to the last one in order.
                let last = conn.last_insert_rowid();
                for (k, record) in pending.iter().enumerate() {
                    lines.note(last - (pending.len() - 1 - k) as i64, record.line);
                }
                *last_id = last;
            } else {
                // Some turned away by the unique key: each record's number
                // tells the id it is stored under, by this statement (the
                // first of them) or by an earlier one.
                let mut here: Vec<(i64, u64)> = Vec::new();
                for record in pending.iter() {
                    let number = record.customer_number.as_str();
                    let id: i64 = stored
                        .query_row(rusqlite::params![*job_center_id, number], |row| row.get(0))
                        .map_err(failed)?;
                    let first = if id > before {
                        match here.iter().find(|(stored, _)| *stored == id) {
                            Some(&(_, first)) => Some(first),
                            None => {
                                here.push((id, record.line));
                                lines.note(id, record.line);
                                *last_id = (*last_id).max(id);
                                None
                            }
                        }
                    } else {
                        Some(lines.line_of(id).unwrap_or(0))
                    };
                    if let Some(first) = first {
                        push_duplicate(duplicates, record.line, number, first)?;
                    }
                }
            }
            pending.clear();
            Ok(())
        }
    }

    /// A first import: see [`FirstWriter`].
    fn load_first(
        tx: &rusqlite::Transaction<'_>,
        request: &ImportRequest,
        receiver: &mut tokio::sync::mpsc::Receiver<Message>,
        bytes: &tokio::sync::mpsc::UnboundedSender<u64>,
        report: &mut ImportReport,
        collected: &mut Collected,
    ) -> Result<IssueLog, ImportError> {
        let mut writer = FirstWriter::new(tx, request)?;
        let progress = |n: u64| {
            let _ = bytes.send(n);
        };
        let mut in_order = InOrder::default();
        while let Some(message) = receiver.blocking_recv() {
            let Some((seq, records)) = absorb(report, collected, message, &progress)? else {
                continue;
            };
            in_order.push(seq, records, |record| writer.take(record))?;
        }
        debug_assert!(in_order.waiting.is_empty(), "a batch never became due");
        writer.finish()
    }

    fn query_duplicates(
        tx: &rusqlite::Transaction<'_>,
        sql: &str,
    ) -> Result<Vec<Duplicate>, ImportError> {
        let mut stmt = tx.prepare(sql).map_err(failed)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(Duplicate {
                    line: row.get(0)?,
                    customer_number: row.get(1)?,
                    first_line: row.get(2)?,
                })
            })
            .map_err(failed)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::{LinesById, iso_date, push_copy_row};
    use std::borrow::Cow;

    #[test]
    fn copy_rows_escape_what_copy_reads_as_syntax() {
        let mut out = Vec::new();
        let values = [
            Some(Cow::Borrowed("Müller")),
            None,
            Some(Cow::Borrowed("a\\b\tc")),
            Some(Cow::Borrowed("Zeile 1\r\nZeile 2")),
            Some(Cow::Borrowed("")),
        ];
        push_copy_row(&mut out, b"7\t", &values);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "7\tMüller\t\\N\ta\\\\b\\tc\tZeile 1\\r\\nZeile 2\t\n"
        );
    }

    #[test]
    fn dates_render_as_jiff_renders_them() {
        let mut out = [0u8; 10];
        for (y, m, d) in [
            (1900, 1, 1),
            (1980, 2, 29),
            (2026, 11, 26),
            (9999, 12, 31),
            (1000, 10, 9),
        ] {
            let date = jiff::civil::date(y, m, d);
            assert_eq!(iso_date(date, &mut out), Some(date.to_string().as_str()));
        }
        // Outside four-digit years the caller falls back to jiff.
        assert_eq!(iso_date(jiff::civil::date(999, 1, 1), &mut out), None);
        assert_eq!(iso_date(jiff::civil::date(-5, 1, 1), &mut out), None);
    }

    #[test]
    fn lines_by_id_keep_only_where_the_offset_changes() {
        let mut lines = LinesById::default();
        // Lines 2..=5 as ids 10..=13; line 6 rejected; a record on lines 7-8
        // as id 14; line 9 as id 15; ids 16-17 taken by someone else.
        let stored = [
            (10, 2),
            (11, 3),
            (12, 4),
            (13, 5),
            (14, 7),
            (15, 9),
            (18, 10),
        ];
        for (id, line) in stored {
            lines.note(id, line);
        }
        assert_eq!(lines.points.len(), 4);
        for (id, line) in stored {
            assert_eq!(lines.line_of(id), Some(line), "{id}");
        }
        assert_eq!(lines.line_of(9), None);
    }
}
