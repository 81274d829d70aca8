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
use crate::{Db, StoreError, Tx, args};
use jiff::civil::Date;
use outreach_core::audit::AuditAction;
use outreach_core::customer::{DateText, Field};
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
    /// The web job that runs this import: stored with the import in its
    /// transaction, so that a job taken over is applied once.
    pub job_id: Option<String>,
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

/// The changed fields of existing customers, old → new, in one statement: the
/// export is joined with the stored customers once (not once per field), and
/// only the rows with a difference are split into one change per field. Every
/// stored field but the customer number (the key) is compared.
static CHANGES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let fields: Vec<&str> = Field::ALL
        .into_iter()
        .filter(|f| *f != Field::CustomerNumber)
        .map(Field::code)
        .collect();
    let mut sql = String::from("WITH d AS MATERIALIZED (SELECT c.id");
    for f in &fields {
        sql.push_str(&format!(", c.{f} AS o_{f}, s.{f} AS n_{f}"));
    }
    sql.push_str(
        " FROM import_rows s JOIN customers c ON c.job_center_id = $2 AND c.customer_number = s.customer_number
              WHERE 1 = 0",
    );
    for f in &fields {
        sql.push_str(&format!(" OR c.{f} IS DISTINCT FROM s.{f}"));
    }
    sql.push_str(
        ")
            INSERT INTO customer_changes (customer_id, import_id, field, old_value, new_value)
            SELECT id, $1, '', NULL, NULL FROM d WHERE 1 = 0",
    );
    for f in &fields {
        sql.push_str(&format!(
            " UNION ALL SELECT id, $1, '{f}', o_{f}, n_{f} FROM d WHERE o_{f} IS DISTINCT FROM n_{f}"
        ));
    }
    sql
});

/// The customers the export changed (or that were missing and are back)
/// take the export's values.
static UPDATE_CHANGED: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let set: Vec<String> = Field::ALL
        .into_iter()
        .filter(|f| *f != Field::CustomerNumber)
        .map(|f| format!("{0} = s.{0}", f.code()))
        .collect();
    format!(
        "UPDATE customers AS c SET {}, in_latest_export = TRUE, updated_at = $2
    FROM import_rows s
    WHERE c.job_center_id = $1 AND c.customer_number = s.customer_number
      AND (c.in_latest_export = FALSE
        OR c.id IN (SELECT customer_id FROM customer_changes WHERE import_id = $3))",
        set.join(", ")
    )
});

/// The customers new to the job center.
static INSERT_NEW: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "INSERT INTO customers (job_center_id, {}, created_at, updated_at)
    SELECT $1, {}, $2, $2
    FROM import_rows s
    WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.job_center_id = $1 AND c.customer_number = s.customer_number)",
        copy::field_columns(""),
        copy::field_columns("s.")
    )
});

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

/// The job center's last finished import: file, when, rows taken and refused.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LastImport {
    pub file_name: String,
    pub finished_at: i64,
    pub accepted: i64,
    pub rejected: i64,
}

pub async fn last_finished(
    tx: &mut Tx,
    job_center_id: i64,
) -> Result<Option<LastImport>, StoreError> {
    tx.fetch_optional(
        "SELECT file_name, finished_at, accepted, rejected FROM imports
         WHERE job_center_id = $1 AND finished_at IS NOT NULL ORDER BY finished_at DESC, id DESC LIMIT 1",
        args![job_center_id],
    )
    .await
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
            args![
                jc,
                &request.file_name,
                request.user_id,
                request.now,
                request.job_id.clone()
            ],
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

// The parts, after the macros they use (macros are in scope from
// where they are defined).
mod copy;
use copy::*;
mod postgres;
use postgres::*;
mod sqlite;
use sqlite::*;

#[cfg(test)]
mod tests {
    use super::{LinesById, push_copy_row};
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
