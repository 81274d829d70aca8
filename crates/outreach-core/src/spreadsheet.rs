//! The one CSV writer of every export (customers, results, the audit log,
//! reports, an import's problems, a print batch's manifest): `;`, UTF-8 with
//! a byte order mark, as the job centers' Excel opens it — and no cell that
//! a spreadsheet would run as a formula.
//!
//! The rule (OWASP, "CSV injection"): a cell starting with `=`, `+`, `-`,
//! `@`, a tab or a carriage return gets a leading `'`, unless it is exactly
//! a number — an E.164 phone number such as `+492081234567` or a decimal
//! such as `-3,5` — which stays as it is, so that phone numbers keep their
//! format and our own exports read back unchanged. The import takes such a
//! `'` away again ([`restore`]), so a value that begins like a formula also
//! survives the round trip.

use std::borrow::Cow;
use std::io::Write;

/// The characters a spreadsheet reads as the start of a formula.
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `cell` is exactly a number: optional sign, digits, at most one
/// decimal separator (`,` or `.`) with digits after it.
fn is_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (whole, fraction) = match digits.split_once([',', '.']) {
        Some((w, f)) => (w, Some(f)),
        None => (digits, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

/// Whether a spreadsheet would read `cell` as a formula.
pub fn would_run(cell: &str) -> bool {
    cell.starts_with(FORMULA_START) && !is_number(cell)
}

/// The cell as written: with a leading `'` where a spreadsheet would
/// otherwise read a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if would_run(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The value of a cell [`neutralise`] wrote (the import reads our exports).
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if would_run(rest) => rest,
        _ => cell,
    }
}

/// Rows into `out`, one at a time (exports of any size stream).
pub struct CsvWriter<W: Write> {
    inner: csv::Writer<W>,
}

impl<W: Write> CsvWriter<W> {
    /// Writes the byte order mark; the first row is the header.
    pub fn new(mut out: W) -> std::io::Result<CsvWriter<W>> {
        out.write_all(b"\xEF\xBB\xBF")?;
        Ok(CsvWriter {
            inner: csv::WriterBuilder::new().delimiter(b';').from_writer(out),
        })
    }

    pub fn row<I, F>(&mut self, cells: I) -> Result<(), csv::Error>
    where
        I: IntoIterator<Item = F>,
        F: AsRef<str>,
    {
        self.inner.write_record(
            cells
                .into_iter()
                .map(|c| neutralise(c.as_ref()).into_owned()),
        )
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }

    /// The writer, flushed.
    pub fn into_inner(self) -> Result<W, csv::Error> {
        self.inner
            .into_inner()
            .map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))
    }
}

/// Rows (the first is the header) as the bytes of a CSV file.
pub fn to_bytes<R, I, F>(rows: R) -> Result<Vec<u8>, csv::Error>
where
    R: IntoIterator<Item = I>,
    I: IntoIterator<Item = F>,
    F: AsRef<str>,
{
    let mut out = CsvWriter::new(Vec::new())?;
    for row in rows {
        out.row(row)?;
    }
    out.into_inner()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_numbers_stay() {
        for hostile in [
            "=1+2+cmd|' /C calc'!A0",
            "+SUM(A1)",
            "-1+2",
            "@SUM(1)",
            "\t=1",
            "\r=1",
            "=1+2",
            "-",
            "+49 208",
        ] {
            let written = neutralise(hostile);
            assert_eq!(written, format!("'{hostile}"), "{hostile:?}");
            assert_eq!(restore(&written), hostile, "{hostile:?}");
        }
        for plain in [
            "+492081234567",
            "-3,5",
            "3.25",
            "+1",
            "-12",
            "Müller",
            "",
            "K0000001",
            "'schon",
            "01.02.1980",
        ] {
            assert_eq!(neutralise(plain), plain, "{plain:?}");
            assert_eq!(restore(plain), plain, "{plain:?}");
        }
    }

    #[test]
    fn the_file_has_a_bom_semicolons_and_no_formula() {
        let bytes =
            to_bytes([vec!["Kundennummer", "Name"], vec!["=1+2", "+492081234567"]]).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text, "\u{feff}Kundennummer;Name\n'=1+2;+492081234567\n");
    }
}
