//! Reading an export: encoding and delimiter detected, quoted fields, any line
//! ending, headers in any order; yields one record at a time with the file line
//! on which it starts.

use super::columns::Values;
use super::decode::{Encoding, Utf8Reader};
use crate::customer::Field;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};

/// Remembers where line breaks are in the text passing through, so that a
/// record's byte position can be turned into the line it starts on. (The csv
/// crate's own line count lags behind by the previous record's line ending and
/// skipped blank lines.) Holds only the breaks of the text read ahead.
struct LineTracker<R> {
    inner: R,
    offset: u64,
    state: RefCell<Lines>,
}

#[derive(Default)]
struct Lines {
    /// Offsets of `\r` and `\n` not yet passed, with whether each is `\n`.
    breaks: VecDeque<(u64, bool)>,
    /// `\n` before the first remembered break.
    newlines_before: u64,
}

impl<R: Read> Read for LineTracker<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let state = self.state.get_mut();
        for (i, b) in buf[..n].iter().enumerate() {
            if *b == b'\n' || *b == b'\r' {
                state
                    .breaks
                    .push_back((self.offset + i as u64, *b == b'\n'));
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

impl<R> LineTracker<R> {
    /// The line of the first character at or after `position` that is not a
    /// line break (positions must not decrease from call to call).
    fn line_at(&self, position: u64) -> u64 {
        let mut state = self.state.borrow_mut();
        let mut next = position;
        while let Some(&(offset, is_newline)) = state.breaks.front() {
            if offset < position || offset == next {
                if offset == next {
                    next += 1;
                }
                state.breaks.pop_front();
                state.newlines_before += u64::from(is_newline);
            } else {
                break;
            }
        }
        state.newlines_before + 1
    }
}

/// Why a file can't be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("Die Datei ist leer.")]
    Empty,
    #[error("In der Kopfzeile fehlen Spalten: {}.", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
    #[error("Die Spalte „{0}“ kommt in der Kopfzeile mehrfach vor.")]
    DuplicateColumn(&'static str),
    #[error("Die Datei kann nicht gelesen werden: {0}")]
    Io(#[from] std::io::Error),
    #[error("Die Datei kann nicht gelesen werden (Zeile {line}): {message}")]
    Csv { line: u64, message: String },
}

/// A record as read: its values and the file line it starts on (header = 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub line: u64,
    pub values: Values,
}

/// The reader of one export file.
pub struct ExportReader<R: Read> {
    csv: csv::Reader<BufReader<LineTracker<Utf8Reader<R>>>>,
    /// For each field position of the file, the column it holds.
    positions: Vec<Option<Field>>,
    unknown: Vec<String>,
    delimiter: u8,
    record: csv::StringRecord,
}

/// `;` or `,`, whichever the header line uses more (outside quotes).
fn detect_delimiter(header: &[u8]) -> u8 {
    let (mut semicolons, mut commas, mut quoted) = (0usize, 0usize, false);
    for &b in header {
        match b {
            b'"' => quoted = !quoted,
            b';' if !quoted => semicolons += 1,
            b',' if !quoted => commas += 1,
            b'\n' if !quoted => break,
            _ => {}
        }
    }
    if commas > semicolons { b',' } else { b';' }
}

impl<R: Read> ExportReader<R> {
    pub fn new(input: R) -> Result<ExportReader<R>, ReadError> {
        let tracker = LineTracker {
            inner: Utf8Reader::new(input),
            offset: 0,
            state: RefCell::new(Lines::default()),
        };
        let mut buffered = BufReader::with_capacity(256 * 1024, tracker);
        let head = buffered.fill_buf()?;
        if head.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(ReadError::Empty);
        }
        let delimiter = detect_delimiter(head);
        let mut csv = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .has_headers(false)
            .from_reader(buffered);
        let mut header = csv::StringRecord::new();
        let read = csv.read_record(&mut header).map_err(|e| csv_error(&e))?;
        if !read {
            return Err(ReadError::Empty);
        }
        let mut positions = Vec::with_capacity(header.len());
        let mut unknown = Vec::new();
        let mut seen = Vec::new();
        for name in header.iter() {
            // A BOM the decoder left (a second one) or stray spaces don't count.
            let name = name.trim_start_matches('\u{FEFF}');
            match Field::from_header(name) {
                Some(column) if seen.contains(&column) => {
                    return Err(ReadError::DuplicateColumn(column.label()));
                }
                Some(column) => {
                    seen.push(column);
                    positions.push(Some(column));
                }
                None => {
                    if !name.trim().is_empty() {
                        unknown.push(name.trim().to_string());
                    }
                    positions.push(None);
                }
            }
        }
        let missing: Vec<&'static str> = Field::ALL
            .into_iter()
            .filter(|c| c.required() && !seen.contains(c))
            .map(Field::label)
            .collect();
        if !missing.is_empty() {
            return Err(ReadError::MissingColumns(missing));
        }
        Ok(ExportReader {
            csv,
            positions,
            unknown,
            delimiter,
            record: csv::StringRecord::new(),
        })
    }

    /// Header names that are not part of the format (ignored).
    pub fn unknown_columns(&self) -> &[String] {
        &self.unknown
    }

    pub fn delimiter(&self) -> char {
        char::from(self.delimiter)
    }

    /// The file's encoding, as far as read.
    pub fn encoding(&self) -> Encoding {
        self.csv.get_ref().get_ref().inner.encoding()
    }

    /// Bytes of the file read so far (for progress).
    pub fn position(&self) -> u64 {
        self.csv.position().byte()
    }

    /// The next record; blank lines and lines of empty fields are skipped.
    pub fn next_record(&mut self) -> Option<Result<RawRecord, ReadError>> {
        loop {
            match self.csv.read_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => return Some(Err(csv_error(&e))),
                Ok(true) => {
                    let start = self.record.position().map_or(0, |p| p.byte());
                    let line = self.csv.get_ref().get_ref().line_at(start);
                    let mut values = Values::default();
                    for (field, column) in self.record.iter().zip(&self.positions) {
                        if let Some(column) = column {
                            // A value our own export neutralised reads back as it was.
                            values.set(*column, crate::spreadsheet::restore(field));
                        }
                    }
                    if !values.is_empty() {
                        return Some(Ok(RawRecord { line, values }));
                    }
                }
            }
        }
    }
}

impl<R: Read> Iterator for ExportReader<R> {
    type Item = Result<RawRecord, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

fn csv_error(e: &csv::Error) -> ReadError {
    let line = e.position().map_or(0, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Io(io) => ReadError::Csv {
            line,
            message: io.to_string(),
        },
        _ => ReadError::Csv {
            line,
            message: "unlesbarer Datensatz".to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> (Vec<RawRecord>, Vec<String>) {
        let mut reader = ExportReader::new(bytes).expect("readable");
        let records = reader.by_ref().map(|r| r.expect("record")).collect();
        (records, reader.unknown_columns().to_vec())
    }

    #[test]
    fn semicolons_crlf_quotes_and_line_breaks() {
        let file = "Kundennummer;Nachname;Geburtsdatum;Straße\r\n\
                    A1;\"Müller; geb. Schmidt\";01.02.1980;\"Haupt-\r\nstraße \"\"alt\"\"\"\r\n\
                    A2;Weiß;02.03.1970;\r\n\r\n\r\n";
        let (records, unknown) = read(file.as_bytes());
        assert!(unknown.is_empty());
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].line, 2);
        assert_eq!(
            records[0].values.get(Field::LastName),
            Some("Müller; geb. Schmidt")
        );
        assert_eq!(
            records[0].values.get(Field::Street),
            Some("Haupt-\r\nstraße \"alt\"")
        );
        assert_eq!(
            records[1].line, 4,
            "the record after a quoted line break starts on line 4"
        );
        assert_eq!(records[1].values.get(Field::Street), None);
    }

    #[test]
    fn line_numbers_count_blank_lines_and_quoted_breaks() {
        let file = "Kundennummer;Nachname;Geburtsdatum\n\nA1;M;01.01.1990\n\n\nA2;\"x\ny\";01.01.1990\nA3;M;01.01.1990";
        let (records, _) = read(file.as_bytes());
        let lines: Vec<u64> = records.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 6, 8]);
        let crlf = file.replace('\n', "\r\n");
        let (records, _) = read(crlf.as_bytes());
        let lines: Vec<u64> = records.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 6, 8]);
    }

    #[test]
    fn commas_shuffled_headers_and_unknown_columns() {
        let file = " nachname ,Bemerkung,GEBURTSDATUM,kundennummer\nMeier,x,01.01.1990,B7\n";
        let (records, unknown) = read(file.as_bytes());
        assert_eq!(unknown, ["Bemerkung"]);
        assert_eq!(records[0].values.get(Field::CustomerNumber), Some("B7"));
        assert_eq!(records[0].values.get(Field::LastName), Some("Meier"));
    }

    #[test]
    fn windows_1252_file() {
        let file = b"Kundennummer;Nachname;Geburtsdatum\nA1;K\xf6hler;01.01.1990\n";
        let mut reader = ExportReader::new(&file[..]).expect("readable");
        let record = reader.next_record().expect("one").expect("ok");
        assert_eq!(record.values.get(Field::LastName), Some("Köhler"));
        assert_eq!(reader.encoding(), Encoding::Windows1252);
    }

    #[test]
    fn unreadable_files() {
        assert!(matches!(ExportReader::new(&b""[..]), Err(ReadError::Empty)));
        assert!(matches!(
            ExportReader::new(&b"\r\n\r\n"[..]),
            Err(ReadError::Empty)
        ));
        let missing = ExportReader::new(&b"Kundennummer;Vorname\nA;B\n"[..]).err();
        assert_eq!(
            missing.map(|e| e.to_string()),
            Some("In der Kopfzeile fehlen Spalten: Nachname, Geburtsdatum.".into())
        );
        let twice = ExportReader::new(&b"Kundennummer;Nachname;Geburtsdatum;nachname\n"[..]).err();
        assert!(matches!(
            twice,
            Some(ReadError::DuplicateColumn("Nachname"))
        ));
    }

    #[test]
    fn short_rows_and_rows_of_empty_fields() {
        let file = "Kundennummer;Nachname;Geburtsdatum;Ort\nA1;Meier\n;;;\nA2;Kurz;01.01.1990;Essen;zu viel\n";
        let (records, _) = read(file.as_bytes());
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].values.get(Field::BirthDate), None);
        assert_eq!(records[1].line, 4);
        assert_eq!(records[1].values.get(Field::City), Some("Essen"));
    }
}
