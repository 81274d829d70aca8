//! A ZIP archive of stored (uncompressed) entries, written as the entries
//! arrive: print files are compressed PDFs already, and a print shop's
//! Windows opens such an archive without extra software.

use std::io::{self, Write};

/// Classic ZIP limits; a print archive beyond them is refused.
const MAX_ENTRIES: usize = u16::MAX as usize;
const MAX_OFFSET: u64 = u32::MAX as u64;

/// Writes entries one after another, then the central directory on
/// [`ZipWriter::finish`].
#[derive(Debug)]
pub struct ZipWriter<W: Write> {
    out: W,
    offset: u64,
    directory: Vec<u8>,
    entries: usize,
    dos_date: u16,
}

fn too_big() -> io::Error {
    io::Error::other(
        "Das Archiv wird zu groß (über 4 GB oder 65.535 Dateien); bitte kleinere Stapel bilden.",
    )
}

impl<W: Write> ZipWriter<W> {
    /// Every entry carries `date` (year, month, day) as its time stamp, so
    /// the same files give the same archive.
    pub fn new(out: W, (year, month, day): (i16, i8, i8)) -> ZipWriter<W> {
        let year = u16::try_from(year.clamp(1980, 2107) - 1980).unwrap_or(0);
        let dos_date = (year << 9)
            | (u16::try_from(month.clamp(1, 12)).unwrap_or(1) << 5)
            | u16::try_from(day.clamp(1, 31)).unwrap_or(1);
        ZipWriter {
            out,
            offset: 0,
            directory: Vec::new(),
            entries: 0,
            dos_date,
        }
    }

    /// Adds the file `name` (UTF-8) with the given bytes.
    pub fn add(&mut self, name: &str, data: &[u8]) -> io::Result<()> {
        let size = u32::try_from(data.len()).map_err(|_| too_big())?;
        let name_len = u16::try_from(name.len()).map_err(|_| too_big())?;
        let offset = u32::try_from(self.offset).map_err(|_| too_big())?;
        if self.entries >= MAX_ENTRIES {
            return Err(too_big());
        }
        let crc = crc32fast::hash(data);
        // Version 2.0, bit 11: the name is UTF-8, method 0: stored.
        let common = |buf: &mut Vec<u8>, dos_date: u16| {
            buf.extend_from_slice(&20u16.to_le_bytes());
            buf.extend_from_slice(&0x0800u16.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
            buf.extend_from_slice(&dos_date.to_le_bytes());
            buf.extend_from_slice(&crc.to_le_bytes());
            buf.extend_from_slice(&size.to_le_bytes());
            buf.extend_from_slice(&size.to_le_bytes());
            buf.extend_from_slice(&name_len.to_le_bytes());
            buf.extend_from_slice(&0u16.to_le_bytes());
        };
        let mut local = Vec::with_capacity(30 + name.len());
        local.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut local, self.dos_date);
        local.extend_from_slice(name.as_bytes());
        self.out.write_all(&local)?;
        self.out.write_all(data)?;

        let dir = &mut self.directory;
        dir.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        dir.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(dir, self.dos_date);
        dir.extend_from_slice(&0u16.to_le_bytes()); // comment
        dir.extend_from_slice(&0u16.to_le_bytes()); // disk
        dir.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
        dir.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        dir.extend_from_slice(&offset.to_le_bytes());
        dir.extend_from_slice(name.as_bytes());

        self.offset += (local.len() + data.len()) as u64;
        self.entries += 1;
        if self.offset > MAX_OFFSET {
            return Err(too_big());
        }
        Ok(())
    }

    /// Writes the central directory and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let entries = u16::try_from(self.entries).map_err(|_| too_big())?;
        let size = u32::try_from(self.directory.len()).map_err(|_| too_big())?;
        let offset = u32::try_from(self.offset).map_err(|_| too_big())?;
        self.out.write_all(&self.directory)?;
        let mut end = Vec::with_capacity(22);
        end.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        end.extend_from_slice(&entries.to_le_bytes());
        end.extend_from_slice(&entries.to_le_bytes());
        end.extend_from_slice(&size.to_le_bytes());
        end.extend_from_slice(&offset.to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes());
        self.out.write_all(&end)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// `unzip` (Info-ZIP) tests the archive: an independent reader.
    #[test]
    fn unzip_reads_the_archive_back() {
        let dir = std::env::temp_dir().join(format!("outreach-zip-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("probe.zip");
        let mut zip = ZipWriter::new(std::fs::File::create(&path).unwrap(), (2026, 11, 25));
        zip.add("teil-1.pdf", b"%PDF-1.7 erste Datei").unwrap();
        zip.add("manifest.csv", "Kundennummer;Datei\r\n".as_bytes())
            .unwrap();
        zip.add("leer.txt", b"").unwrap();
        zip.finish().unwrap();
        let Ok(test) = std::process::Command::new("unzip")
            .arg("-t")
            .arg(&path)
            .output()
        else {
            eprintln!("unzip fehlt: Test übersprungen");
            assert!(std::env::var_os("CI").is_none(), "unzip is required in CI");
            return;
        };
        let out = String::from_utf8_lossy(&test.stdout);
        assert!(test.status.success(), "{out}");
        assert!(out.contains("No errors detected"), "{out}");
        let printed = std::process::Command::new("unzip")
            .args(["-p"])
            .arg(&path)
            .arg("teil-1.pdf")
            .output()
            .unwrap();
        assert_eq!(printed.stdout, b"%PDF-1.7 erste Datei");
        let listing = std::process::Command::new("unzip")
            .arg("-l")
            .arg(&path)
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(listing.contains("manifest.csv"), "{listing}");
        // The time stamp is the given date (unzip prints it either way round).
        assert!(
            listing.contains("2026-11-25") || listing.contains("11-25-2026"),
            "{listing}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
