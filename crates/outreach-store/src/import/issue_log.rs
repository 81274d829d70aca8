//! The rejected and warned rows of an import, in line order, kept in a
//! temporary file rather than in memory, so that a file with many faulty rows
//! doesn't make the import grow with it. The file has no name (nobody else can
//! open it), only its owner may read it, and it is gone when the last copy of
//! the list is dropped.

use outreach_core::import::Issue;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::Arc;

/// Bytes buffered between the file and the issues.
const BUFFER: usize = 64 << 10;

/// Writes issues one after another; [`IssueWriter::finish`] makes the list.
#[derive(Default)]
pub(crate) struct IssueWriter {
    /// Created with the first issue.
    out: Option<BufWriter<File>>,
    len: u64,
    /// The field names seen, by their place (one byte per issue on file).
    fields: Vec<&'static str>,
}

impl IssueWriter {
    pub(crate) fn push(&mut self, issue: &Issue) -> io::Result<()> {
        self.push_parts(
            issue.line,
            &issue.customer_number,
            issue.field,
            &issue.message,
        )
    }

    /// Appends one issue: its line, field, number and message.
    pub(crate) fn push_parts(
        &mut self,
        line: u64,
        customer_number: &str,
        field: &'static str,
        message: &str,
    ) -> io::Result<()> {
        let field = match self.fields.iter().position(|f| *f == field) {
            Some(at) => at,
            None => {
                self.fields.push(field);
                self.fields.len() - 1
            }
        };
        let field = u8::try_from(field).map_err(|_| io::Error::other("zu viele Feldnamen"))?;
        let out = match &mut self.out {
            Some(out) => out,
            None => self
                .out
                .insert(BufWriter::with_capacity(BUFFER, tempfile::tempfile()?)),
        };
        out.write_all(&line.to_le_bytes())?;
        out.write_all(&[field])?;
        for text in [customer_number, message] {
            let len = u32::try_from(text.len()).map_err(|_| io::Error::other("Text zu lang"))?;
            out.write_all(&len.to_le_bytes())?;
            out.write_all(text.as_bytes())?;
        }
        self.len += 1;
        Ok(())
    }

    pub(crate) fn finish(self) -> io::Result<IssueLog> {
        let Some(out) = self.out else {
            return Ok(IssueLog::default());
        };
        let file = out.into_inner().map_err(|e| e.into_error())?;
        Ok(IssueLog {
            stored: Some(Arc::new(Stored {
                file,
                fields: self.fields,
            })),
            len: self.len,
        })
    }
}

struct Stored {
    file: File,
    fields: Vec<&'static str>,
}

/// Issues in line order, read back from their file on each pass.
#[derive(Clone, Default)]
pub struct IssueLog {
    stored: Option<Arc<Stored>>,
    len: u64,
}

impl IssueLog {
    pub fn len(&self) -> usize {
        usize::try_from(self.len).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The issues from the first on. Several passes may run at once; a pass
    /// that can't read the file ends early (logged).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            reader: self.stored.as_deref().map(|stored| {
                (
                    BufReader::with_capacity(
                        BUFFER,
                        At {
                            file: &stored.file,
                            offset: 0,
                        },
                    ),
                    stored.fields.as_slice(),
                )
            }),
            left: self.len,
        }
    }

    /// All issues in memory (for small lists and tests).
    pub fn to_vec(&self) -> Vec<Issue> {
        self.iter().collect()
    }

    /// Both lists as one, in line order (on the same line `self` first).
    pub(crate) fn merge(self, other: IssueLog) -> io::Result<IssueLog> {
        if other.is_empty() {
            return Ok(self);
        }
        if self.is_empty() {
            return Ok(other);
        }
        let mut out = IssueWriter::default();
        let (mut a, mut b) = (self.iter().peekable(), other.iter().peekable());
        loop {
            let take_a = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => x.line <= y.line,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let next = if take_a { a.next() } else { b.next() };
            if let Some(issue) = next {
                out.push(&issue)?;
            }
        }
        let merged = out.finish()?;
        if merged.len != self.len + other.len {
            return Err(io::Error::other("Meldungen unvollständig gelesen"));
        }
        Ok(merged)
    }
}

/// Reads the file from an offset of its own, so that passes don't disturb
/// each other.
struct At<'a> {
    file: &'a File,
    offset: u64,
}

impl Read for At<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

pub struct Iter<'a> {
    reader: Option<(BufReader<At<'a>>, &'a [&'static str])>,
    left: u64,
}

impl Iter<'_> {
    fn read_one(&mut self) -> io::Result<Option<Issue>> {
        let Some((reader, fields)) = &mut self.reader else {
            return Ok(None);
        };
        let mut head = [0u8; 9];
        reader.read_exact(&mut head)?;
        let line = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
        let field = fields
            .get(usize::from(head[8]))
            .copied()
            .ok_or_else(|| io::Error::other("unbekanntes Feld"))?;
        let mut text = || -> io::Result<String> {
            let mut len = [0u8; 4];
            reader.read_exact(&mut len)?;
            let mut bytes = vec![0; u32::from_le_bytes(len) as usize];
            reader.read_exact(&mut bytes)?;
            String::from_utf8(bytes).map_err(io::Error::other)
        };
        let customer_number = text()?;
        let message = text()?;
        Ok(Some(Issue {
            line,
            customer_number,
            field,
            message,
        }))
    }
}

impl Iterator for Iter<'_> {
    type Item = Issue;

    fn next(&mut self) -> Option<Issue> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        match self.read_one() {
            Ok(issue) => issue,
            Err(e) => {
                tracing::error!(error = %e, "import: Meldungen nicht lesbar");
                self.left = 0;
                None
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, usize::try_from(self.left).ok())
    }
}

impl serde::Serialize for IssueLog {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl std::fmt::Debug for IssueLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for IssueLog {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for IssueLog {}

#[cfg(test)]
mod tests {
    use super::*;

    fn issue(line: u64, field: &'static str, message: &str) -> Issue {
        Issue {
            line,
            customer_number: format!("K{line}"),
            field,
            message: message.to_string(),
        }
    }

    fn log(issues: &[Issue]) -> IssueLog {
        let mut w = IssueWriter::default();
        for i in issues {
            w.push(i).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn issues_come_back_as_written_and_merge_by_line() {
        let a = [
            issue(2, "Telefon", "„n.v.“ ist keine Telefonnummer"),
            issue(7, "E-Mail", ""),
            issue(9, "Telefon", "ä ö ü ß"),
        ];
        let b = [
            issue(3, "Kundennummer", "steht schon in Zeile 2"),
            issue(9, "PLZ", "x"),
        ];
        let (la, lb) = (log(&a), log(&b));
        assert_eq!(la.len(), 3);
        assert_eq!(la.iter().collect::<Vec<_>>(), a);
        // Two passes at once don't disturb each other.
        let mut first = la.iter();
        assert_eq!(first.next().as_ref(), Some(&a[0]));
        assert_eq!(la.iter().nth(2).as_ref(), Some(&a[2]));
        assert_eq!(first.next().as_ref(), Some(&a[1]));

        let merged = la.merge(lb).unwrap();
        let lines: Vec<(u64, &str)> = merged.iter().map(|i| (i.line, i.field)).collect();
        assert_eq!(
            lines,
            [
                (2, "Telefon"),
                (3, "Kundennummer"),
                (7, "E-Mail"),
                (9, "Telefon"),
                (9, "PLZ")
            ]
        );
        assert_eq!(
            serde_json::to_value(&merged).unwrap()[1]["message"],
            "steht schon in Zeile 2"
        );
        assert!(IssueLog::default().is_empty());
        assert_eq!(IssueLog::default().iter().count(), 0);
    }
}
