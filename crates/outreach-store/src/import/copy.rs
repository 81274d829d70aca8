//! PostgreSQL's COPY text format for the staging table and the first
//! import: escaping, dates, the rows of the records and their duplicates.

use super::*;

/// The staging table's columns: the line, then [`customer_values`].
pub(super) const STAGING_COLUMNS: &str = "line, customer_number, bg_number, salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation, pap_code, last_contact, state_code";
/// How many values [`customer_values`] gives.
pub(super) const CUSTOMER_WIDTH: usize = 19;

/// A record's values borrowed where the record holds them as text.
pub(super) fn text(value: &Option<String>) -> Option<Cow<'_, str>> {
    value.as_deref().map(Cow::Borrowed)
}

/// Room for a record's three dates as `JJJJ-MM-TT` text, so that rendering
/// a row allocates nothing (a million rows, three dates each).
#[derive(Default)]
pub(super) struct DateText([[u8; 10]; 3]);

/// `d` as ISO text in `out`; `None` outside the years 1000–9999.
pub(super) fn iso_date(d: Date, out: &mut [u8; 10]) -> Option<&str> {
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
pub(super) fn customer_values<'a>(
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

pub(super) const CREATE_STAGING: &str = "CREATE TEMP TABLE import_rows (line BIGINT NOT NULL, customer_number TEXT NOT NULL, bg_number TEXT, salutation TEXT,
    first_name TEXT, last_name TEXT NOT NULL, birth_date TEXT NOT NULL, street TEXT, house_number TEXT, postcode TEXT,
    city TEXT, phone TEXT, mobile TEXT, email TEXT, status TEXT NOT NULL, unemployed_since TEXT, target_occupation TEXT,
    pap_code TEXT, last_contact TEXT, state_code TEXT)";

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
pub(super) const COPY_STAGING: &str = "COPY import_rows (line, customer_number, bg_number, salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation, pap_code, last_contact, state_code) FROM STDIN";
/// COPY straight into `customers` on a first import (the values without the line).
pub(super) const COPY_CUSTOMERS: &str = "COPY customers (job_center_id, created_at, updated_at, customer_number, bg_number, salutation, first_name, last_name, birth_date, street, house_number, postcode, city, phone, mobile, email, status, unemployed_since, target_occupation, pap_code, last_contact, state_code) FROM STDIN";

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
pub(super) const INSERT_IMPORT: &str = "INSERT INTO imports (job_center_id, file_name, user_id, started_at) VALUES ($1, $2, $3, $4) RETURNING id";
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
