//! Invitation letters typeset for real and read back with poppler: page 1
//! rendered to PNG, and every item DOMAIN.md requires is in the text; an
//! invitation without a purpose or a date is refused before typesetting.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::date;
use outreach_core::invitation::{InvitationInput, check};
use outreach_letters::invitation::{Addressing, InvitationLetter};
use outreach_letters::{Organisation, Recipient, Renderer};
use std::path::{Path, PathBuf};
use std::process::Command;

fn input() -> InvitationInput {
    InvitationInput {
        purpose: "placement".into(),
        date: "02.02.2027".into(),
        time: "09:30".into(),
        place: "Jobcenter Oberhausen, Marktstraße 1, 46045 Oberhausen".into(),
        room: "Raum 2.14".into(),
        contact: "Frau Beispiel".into(),
        contact_phone: "0208 12345-214".into(),
        documents: "Personalausweis\nLebenslauf".into(),
    }
}

fn addressing() -> Addressing {
    Addressing {
        customer_number: "123D456789".into(),
        bg_number: Some("12345BG0000001".into()),
        recipient: Recipient {
            salutation: "Herr".into(),
            first_name: "Björn".into(),
            last_name: "Weiß".into(),
            street: "Große Straße".into(),
            house_number: "12a".into(),
            postcode: "46045".into(),
            city: "Oberhausen".into(),
        },
        job_center: Organisation {
            name: "Jobcenter Oberhausen".into(),
            street: "Marktstraße 1".into(),
            postcode: "46045".into(),
            city: "Oberhausen".into(),
            phone: "0208 12345-0".into(),
            email: "jobcenter-oberhausen@example.org".into(),
        },
        dpo_contact: "Datenschutzbeauftragte, datenschutz@example.org".into(),
        supervisory_authority: "Landesbeauftragte für Datenschutz NRW".into(),
    }
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/letters-test");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn poppler() -> Option<()> {
    let found = Command::new("pdftotext").arg("-v").output().is_ok()
        && Command::new("pdftoppm").arg("-v").output().is_ok();
    if found {
        return Some(());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "pdftotext/pdftoppm missing: apt-get install poppler-utils"
    );
    eprintln!("SKIP: poppler-utils (pdftotext, pdftoppm) not installed");
    None
}

#[test]
fn the_invitation_carries_every_required_item() {
    let Some(()) = poppler() else { return };
    let letter_date = date(2027, 1, 20);
    let appointment = check(&input(), letter_date).unwrap();
    let letter = InvitationLetter::new(&appointment, letter_date, addressing()).unwrap();
    assert_eq!(letter.legal_notice_version, "rfb-2023-01");
    let pdf = Renderer::new()
        .invitations(std::slice::from_ref(&letter))
        .unwrap();
    let path = out_dir().join("einladung.pdf");
    std::fs::write(&path, &pdf).unwrap();
    // Byte-identical again for the same data.
    assert_eq!(Renderer::new().invitations(&[letter]).unwrap(), pdf);

    let text_path = path.with_extension("txt");
    assert!(
        Command::new("pdftotext")
            .arg(&path)
            .arg(&text_path)
            .status()
            .unwrap()
            .success()
    );
    let text = std::fs::read_to_string(&text_path).unwrap();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for item in [
        "Einladung zu einem persönlichen Gespräch",
        "Herrn",
        "Sehr geehrter Herr Weiß",
        // legal basis and purpose
        "§ 59 SGB II",
        "§ 309 Abs. 2 Nr. 2 SGB III",
        "Vermittlung in Ausbildung oder Arbeit",
        // date, time, place, room, contact person
        "Dienstag, 02.02.2027, 09:30 Uhr",
        "Marktstraße 1, 46045 Oberhausen",
        "Raum 2.14",
        "Frau Beispiel",
        // documents to bring
        "Personalausweis",
        "Lebenslauf",
        // unable to attend, travel costs
        "Wenn Sie den Termin nicht wahrnehmen können",
        "Reisekosten",
        "§ 309 Abs. 4 SGB III",
        // the legal-consequences notice valid on the letter's date, named
        "Rechtsfolgenbelehrung (Fassung rfb-2023-01)",
        "für einen Monat gemindert",
        // legal remedy, data protection
        "Rechtsbehelfsbelehrung",
        "Widerspruch",
        "Datenschutz",
        "Landesbeauftragte für Datenschutz NRW",
        "123D456789",
        "20.01.2027",
    ] {
        assert!(flat.contains(item), "missing {item:?} in:\n{flat}");
    }

    let png = out_dir().join("einladung-seite");
    assert!(
        Command::new("pdftoppm")
            .args(["-png", "-r", "60", "-f", "1", "-l", "1"])
            .arg(&path)
            .arg(&png)
            .status()
            .unwrap()
            .success()
    );
    let written = std::fs::read_dir(out_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("einladung-seite")
                && e.metadata().unwrap().len() > 10_000
        });
    assert!(written, "pdftoppm wrote no page image");
}

#[test]
fn an_older_letter_date_takes_the_older_notice() {
    let letter_date = date(2022, 6, 1);
    let mut i = input();
    i.date = "13.06.2022".into();
    let appointment = check(&i, letter_date).unwrap();
    let letter = InvitationLetter::new(&appointment, letter_date, addressing()).unwrap();
    assert_eq!(letter.legal_notice_version, "rfb-2011-04");
    assert!(letter.legal_notice.contains("drei Monate"));
    // Before any stored version: refused with a German message.
    let old = date(2009, 6, 1);
    let mut i = input();
    i.date = "15.06.2009".into();
    let appointment = check(&i, old).unwrap();
    let refused = InvitationLetter::new(&appointment, old, addressing()).unwrap_err();
    assert!(refused.to_string().contains("keine Rechtsfolgenbelehrung"));
}

#[test]
fn without_purpose_or_date_no_letter() {
    let letter_date = date(2027, 1, 20);
    for (purpose, day, field) in [("", "02.02.2027", "zweck"), ("placement", "", "datum")] {
        let mut i = input();
        i.purpose = purpose.into();
        i.date = day.into();
        let problems = check(&i, letter_date).unwrap_err();
        assert!(problems.iter().any(|p| p.0 == field), "{problems:?}");
    }
}
