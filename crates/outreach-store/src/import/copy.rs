//! PostgreSQL's COPY text format for the staging table and the first
//! import: escaping, dates, the rows of the records and their duplicates.

use super::*;

/// The stored fields' columns in the order of [`Field::ALL`], comma-separated,
/// each after `prefix` (`"s."`, or `""`).
pub(super) fn field_columns(prefix: &str) -> String {
    Field::ALL
        .iter()
        .map(|f| format!("{prefix}{}", f.code()))
        .collect::<Vec<_>>()
        .join(", ")
}

type Sql = std::sync::LazyLock<String>;

/// The staging table's columns: the line, then [`customer_values`].
pub(super) static STAGING_COLUMNS: Sql = Sql::new(|| format!("line, {}", field_columns("")));
/// How many values [`customer_values`] gives.
pub(super) const CUSTOMER_WIDTH: usize = Field::ALL.len();

/// A record's customer values, in the order of the staging table's columns
/// after the line; dates rendered into `dates`.
pub(super) fn customer_values<'a>(
    r: &'a CustomerRecord,
    dates: &'a mut DateText,
) -> [Option<Cow<'a, str>>; CUSTOMER_WIDTH] {
    r.customer.stored(dates)
}

/// The staging table: the line, then every stored field as text (the
/// required ones and the status never empty).
pub(super) static CREATE_STAGING: Sql = Sql::new(|| {
    let columns: Vec<String> = Field::ALL
        .iter()
        .map(|f| {
            let not_null = f.required() || *f == Field::Status;
            format!(
                "{} TEXT{}",
                f.code(),
                if not_null { " NOT NULL" } else { "" }
            )
        })
        .collect();
    format!(
        "CREATE TEMP TABLE import_rows (line BIGINT NOT NULL, {})",
        columns.join(", ")
    )
});

/// One row in COPY's text format (tab-separated, `\N` for NULL, backslash
/// escapes): `prefix` as it is (ending in a tab), then the values.
pub(super) fn push_copy_row(out: &mut Vec<u8>, prefix: &[u8], values: &[Option<Cow<'_, str>>]) {
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
pub(super) static COPY_STAGING: Sql =
    Sql::new(|| format!("COPY import_rows ({}) FROM STDIN", *STAGING_COLUMNS));
/// COPY straight into `customers` on a first import (the values without the line).
pub(super) static COPY_CUSTOMERS: Sql = Sql::new(|| {
    format!(
        "COPY customers (job_center_id, created_at, updated_at, {}) FROM STDIN",
        field_columns("")
    )
});

#[derive(sqlx::FromRow)]
pub(super) struct Duplicate {
    pub(super) line: i64,
    pub(super) customer_number: String,
    pub(super) first_line: i64,
}

/// Later rows whose customer number came before in the file.
pub(super) const DUPLICATES: &str = "SELECT s.line, s.customer_number, f.first_line
     FROM import_rows s
     JOIN (SELECT customer_number, MIN(line) AS first_line FROM import_rows GROUP BY customer_number HAVING COUNT(*) > 1) f
       ON f.customer_number = s.customer_number
     WHERE s.line > f.first_line
     ORDER BY s.line";
pub(super) const DELETE_DUPLICATES: &str = "DELETE FROM import_rows WHERE line > (SELECT MIN(t.line) FROM import_rows t WHERE t.customer_number = import_rows.customer_number)";
pub(super) const INDEX_STAGING: &str =
    "CREATE INDEX import_rows_number ON import_rows (customer_number, line)";
pub(super) const INSERT_IMPORT: &str = "INSERT INTO imports (job_center_id, file_name, user_id, started_at, job_id) VALUES ($1, $2, $3, $4, $5) RETURNING id";
pub(super) const FINISH_IMPORT: &str = "UPDATE imports SET finished_at = $2, rows_read = $3, accepted = $4, rejected = $5, inserted = $6, updated = $7,
    unchanged = $8, missing = $9, warnings = $10 WHERE id = $1";

/// Writes a rejected later row whose number came before.
pub(super) fn push_duplicate(
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
pub(super) fn duplicate_issues(duplicates: Vec<Duplicate>) -> std::io::Result<IssueLog> {
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
