//! Property: arbitrary bytes never make the reader or the checks panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::date;
use outreach_core::import::{ExportReader, check};
use proptest::prelude::*;

fn read_all(bytes: &[u8]) -> usize {
    let Ok(reader) = ExportReader::new(bytes) else {
        return 0;
    };
    let mut n = 0;
    for record in reader {
        let Ok(record) = record else { break };
        let _ = check(&record, date(2026, 11, 25));
        n += 1;
    }
    n
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        read_all(&bytes);
    }

    #[test]
    fn arbitrary_rows_under_a_valid_header(body in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut bytes = b"Kundennummer;Nachname;Geburtsdatum;Telefon;Mobil;E-Mail;PLZ;Status;Bundesland\r\n".to_vec();
        bytes.extend_from_slice(&body);
        read_all(&bytes);
    }

    #[test]
    fn arbitrary_text_in_every_field(fields in proptest::collection::vec("[^\\x00]{0,30}", 19)) {
        let header = "Kundennummer;BG-Nummer;Anrede;Vorname;Nachname;Geburtsdatum;Straße;Hausnummer;PLZ;Ort;Telefon;Mobil;E-Mail;Status;Arbeitslos seit;Zielberuf;pAp-Kennung;Letzter Kontakt;Bundesland";
        let row: Vec<String> = fields.iter().map(|f| format!("\"{}\"", f.replace('"', "\"\""))).collect();
        let file = format!("{header}\n{}\n", row.join(";"));
        prop_assert!(read_all(file.as_bytes()) <= 1);
    }
}
