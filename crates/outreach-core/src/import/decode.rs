//! Decoding exports to UTF-8 while streaming. A file is UTF-8 (with or without
//! byte order mark) or Windows-1252; which one is decided at its first non-ASCII
//! byte, since the ASCII part reads the same in both. A stray byte that is not
//! UTF-8 in a UTF-8 file is read as Windows-1252 rather than lost.

use std::io::{self, Read};
use std::sync::OnceLock;

/// The encoding a file turned out to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Only ASCII so far (or the whole file).
    Ascii,
    Utf8,
    Utf8WithBom,
    Windows1252,
}

impl Encoding {
    pub fn label(self) -> &'static str {
        match self {
            Encoding::Ascii => "ASCII",
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf8WithBom => "UTF-8 mit BOM",
            Encoding::Windows1252 => "Windows-1252",
        }
    }
}

const CHUNK: usize = 64 * 1024;

fn windows_1252(byte: u8) -> char {
    static TABLE: OnceLock<[char; 128]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut table = ['\u{FFFD}'; 128];
        for (i, slot) in table.iter_mut().enumerate() {
            let byte = [0x80 + i as u8];
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
            *slot = text.chars().next().unwrap_or('\u{FFFD}');
        }
        table
    });
    table[usize::from(byte - 0x80)]
}

/// The length of the UTF-8 sequence a lead byte starts, if it can start one.
fn sequence_length(lead: u8) -> Option<usize> {
    match lead {
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

/// A reader that yields the file's text as UTF-8.
pub struct Utf8Reader<R> {
    inner: R,
    encoding: Encoding,
    raw: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    started: bool,
    eof: bool,
}

impl<R: Read> Utf8Reader<R> {
    pub fn new(inner: R) -> Utf8Reader<R> {
        Utf8Reader {
            inner,
            encoding: Encoding::Ascii,
            raw: Vec::with_capacity(CHUNK),
            out: Vec::with_capacity(CHUNK * 2),
            out_pos: 0,
            started: false,
            eof: false,
        }
    }

    /// The encoding seen so far.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    fn fill_raw(&mut self) -> io::Result<()> {
        let start = self.raw.len();
        self.raw.resize(start + CHUNK, 0);
        let n = loop {
            match self.inner.read(&mut self.raw[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.raw.truncate(start);
                    return Err(e);
                }
            }
        };
        self.raw.truncate(start + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    fn push_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.out
            .extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }

    /// Decodes what can be decoded of `raw` into `out`.
    fn decode(&mut self) {
        if !self.started {
            if self.raw.len() < 3 && !self.eof {
                return;
            }
            self.started = true;
            if self.raw.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.raw.drain(..3);
                self.encoding = Encoding::Utf8WithBom;
            }
        }
        let mut i = 0;
        while i < self.raw.len() {
            let byte = self.raw[i];
            if byte < 0x80 {
                // A run of ASCII (most of a file) is copied in one go.
                let run = self.raw[i..]
                    .iter()
                    .position(|b| *b >= 0x80)
                    .unwrap_or(self.raw.len() - i);
                self.out.extend_from_slice(&self.raw[i..i + run]);
                i += run;
                continue;
            }
            if self.encoding == Encoding::Windows1252 {
                self.push_char(windows_1252(byte));
                i += 1;
                continue;
            }
            // Ascii (undecided) or UTF-8: try a UTF-8 sequence here.
            let valid = match sequence_length(byte) {
                Some(len) if i + len > self.raw.len() && !self.eof => break,
                Some(len) if i + len <= self.raw.len() => {
                    std::str::from_utf8(&self.raw[i..i + len])
                        .is_ok()
                        .then_some(len)
                }
                _ => None,
            };
            match (valid, self.encoding) {
                (Some(len), _) => {
                    if self.encoding == Encoding::Ascii {
                        self.encoding = Encoding::Utf8;
                    }
                    self.out.extend_from_slice(&self.raw[i..i + len]);
                    i += len;
                }
                (None, Encoding::Ascii) => {
                    self.encoding = Encoding::Windows1252;
                    self.push_char(windows_1252(byte));
                    i += 1;
                }
                (None, _) => {
                    self.push_char(windows_1252(byte));
                    i += 1;
                }
            }
        }
        self.raw.drain(..i);
    }
}

impl<R: Read> Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
            if self.eof && self.raw.is_empty() {
                return Ok(0);
            }
            if !self.eof {
                self.fill_raw()?;
            }
            self.decode();
            if self.eof && self.out.is_empty() && !self.raw.is_empty() {
                // Only an incomplete sequence is left: read it byte by byte.
                let rest = std::mem::take(&mut self.raw);
                for byte in rest {
                    self.push_char(if byte < 0x80 {
                        char::from(byte)
                    } else {
                        windows_1252(byte)
                    });
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> (String, Encoding) {
        let mut reader = Utf8Reader::new(bytes);
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap_or_default();
        (text, reader.encoding())
    }

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(
            decode("Müller;Straße".as_bytes()),
            ("Müller;Straße".into(), Encoding::Utf8)
        );
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice("Köhler".as_bytes());
        assert_eq!(decode(&bom), ("Köhler".into(), Encoding::Utf8WithBom));
        assert_eq!(decode(b"plain"), ("plain".into(), Encoding::Ascii));
    }

    #[test]
    fn windows_1252() {
        // "Müller;Straße;€" in Windows-1252.
        let bytes = b"M\xfcller;Stra\xdfe;\x80";
        assert_eq!(
            decode(bytes),
            ("Müller;Straße;€".into(), Encoding::Windows1252)
        );
    }

    #[test]
    fn late_non_ascii_after_a_long_ascii_prefix() {
        let mut bytes = vec![b'a'; 200_000];
        bytes.extend_from_slice(b"\xe4");
        let (text, encoding) = decode(&bytes);
        assert_eq!(encoding, Encoding::Windows1252);
        assert!(text.ends_with('ä'));
    }

    #[test]
    fn sequences_split_across_chunks_stay_whole() {
        let mut bytes = vec![b'a'; CHUNK - 1];
        bytes.extend_from_slice("ü".as_bytes());
        let (text, encoding) = decode(&bytes);
        assert_eq!(encoding, Encoding::Utf8);
        assert!(text.ends_with('ü'));
        assert_eq!(text.chars().count(), CHUNK);
    }

    #[test]
    fn truncated_sequence_at_the_end() {
        assert_eq!(decode(b"abc\xc3").0, "abcÃ");
    }
}
