//! Advance letters typeset for real and read back with poppler
//! (`pdftotext -bbox`, `pdftoppm`): the window geometry of DIN 5008 Form B,
//! every required content item, byte-identical regeneration.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_letters::{AdvanceLetter, LetterError, Organisation, Recipient, Renderer};
use std::path::{Path, PathBuf};
use std::process::Command;

fn letter(last_name: &str) -> AdvanceLetter {
    AdvanceLetter {
        customer_number: "123D456789".into(),
        bg_number: Some("12345BG0000001".into()),
        recipient: Recipient {
            salutation: "Frau".into(),
            first_name: "Jürgen-Özlem".into(),
            last_name: last_name.into(),
            street: "Große Straße".into(),
            house_number: "12a".into(),
            postcode: "46045".into(),
            city: "Oberhausen".into(),
        },
        letter_date: "25.11.2026".into(),
        code: "KQ7M-4TXD".into(),
        job_center: Organisation {
            name: "Jobcenter Oberhausen".into(),
            street: "Marktstraße 1".into(),
            postcode: "46045".into(),
            city: "Oberhausen".into(),
            phone: "0208 12345-0".into(),
            email: "jobcenter-oberhausen@example.org".into(),
        },
        processor: Organisation {
            name: "Service-Center Hamburg".into(),
            city: "Hamburg".into(),
            ..Organisation::default()
        },
        dpo_contact: "Datenschutzbeauftragte des Jobcenters, datenschutz@example.org".into(),
        supervisory_authority: "Landesbeauftragte für Datenschutz NRW, Düsseldorf".into(),
        window: "Mo–Fr, 08:00–20:00 Uhr".into(),
        period_start: "01.12.2026".into(),
        period_end: "31.01.2027".into(),
        callback_phone: "0208 12345-678".into(),
        deletion_deadline: "30.04.2027".into(),
    }
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/letters-test");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// poppler's tools, or `None` (a skip) outside CI.
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

/// A word and its box in millimetres from the sheet's top left corner.
#[derive(Debug)]
struct Word {
    text: String,
    page: usize,
    x_min: f64,
    y_min: f64,
    x_max: f64,
    y_max: f64,
}

fn words(pdf: &Path) -> Vec<Word> {
    let html = pdf.with_extension("html");
    let ok = Command::new("pdftotext")
        .arg("-bbox")
        .arg(pdf)
        .arg(&html)
        .status()
        .unwrap();
    assert!(ok.success());
    let text = std::fs::read_to_string(&html).unwrap();
    let mm = |v: &str| v.parse::<f64>().unwrap() * 25.4 / 72.0;
    let attr = |line: &str, name: &str| -> String {
        let start = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        line[start..].split('"').next().unwrap().to_string()
    };
    let mut page = 0;
    let mut words = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("<page") {
            page += 1;
        }
        if line.trim_start().starts_with("<word") {
            let content = line.split('>').nth(1).unwrap().split('<').next().unwrap();
            words.push(Word {
                text: content.replace("&amp;", "&"),
                page,
                x_min: mm(&attr(line, "xMin")),
                y_min: mm(&attr(line, "yMin")),
                x_max: mm(&attr(line, "xMax")),
                y_max: mm(&attr(line, "yMax")),
            });
        }
    }
    words
}

fn render(letters: &[AdvanceLetter], name: &str) -> PathBuf {
    let pdf = Renderer::new().advance_letters(letters).unwrap();
    let path = out_dir().join(name);
    std::fs::write(&path, pdf).unwrap();
    path
}

#[test]
fn the_address_lies_in_the_window_and_the_customer_number_outside() {
    let Some(()) = poppler() else { return };
    let path = render(&[letter("Weiß")], "vorab-geometrie.pdf");
    let words = words(&path);
    let find = |text: &str, page: usize| -> &Word {
        words
            .iter()
            .find(|w| w.text == text && w.page == page)
            .unwrap_or_else(|| panic!("{text} not on page {page}: {words:?}"))
    };
    // Recipient zone of Form B: x 20–105 mm, y 62.7–90 mm.
    for text in [
        "Frau",
        "Jürgen-Özlem",
        "Weiß",
        "Große",
        "46045",
        "Oberhausen",
    ] {
        let w = words
            .iter()
            .filter(|w| w.text == text && w.page == 1)
            .find(|w| w.y_min >= 62.7)
            .unwrap_or_else(|| panic!("{text} not in the recipient zone"));
        assert!(
            w.x_min >= 20.0 && w.x_max <= 105.0 && w.y_min >= 62.7 && w.y_max <= 90.0,
            "{text} outside the window: {w:?}"
        );
    }
    // The return line sits in the top 17.7 mm of the address field.
    let ret = words
        .iter()
        .find(|w| w.text == "Marktstraße" && w.page == 1 && w.y_min < 62.7 && w.x_max < 105.0)
        .unwrap();
    assert!(
        ret.y_min >= 45.0 && ret.y_max <= 62.7 && ret.x_min >= 20.0,
        "{ret:?}"
    );
    // Kundennummer in the information block (from 125 mm), not in the window.
    let number = find("123D456789", 1);
    assert!(number.x_min >= 125.0 && number.y_min >= 50.0, "{number:?}");
    // The text begins below the address field.
    let subject = find("Telefonische", 1);
    assert!(subject.y_min >= 90.0, "{subject:?}");

    // And a picture of page 1 for a person to look at.
    let png = out_dir().join("vorab-seite");
    let ok = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1"])
        .arg(&path)
        .arg(&png)
        .status()
        .unwrap();
    assert!(ok.success());
    let written = std::fs::read_dir(out_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| {
            e.file_name().to_string_lossy().starts_with("vorab-seite")
                && e.metadata().unwrap().len() > 10_000
        });
    assert!(written, "pdftoppm wrote no page image");
}

#[test]
fn every_required_item_is_in_the_letter() {
    let Some(()) = poppler() else { return };
    let path = render(&[letter("Groß")], "vorab-inhalt.pdf");
    let text_path = path.with_extension("txt");
    let ok = Command::new("pdftotext")
        .arg(&path)
        .arg(&text_path)
        .status()
        .unwrap();
    assert!(ok.success());
    let text = std::fs::read_to_string(&text_path)
        .unwrap()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for (item, needle) in [
        ("controller", "Verantwortlich: Jobcenter Oberhausen"),
        ("processor", "Auftragsverarbeiter: Service-Center Hamburg"),
        ("purpose", "Zweck:"),
        (
            "legal basis",
            "Rechtsgrundlage: Art. 6 Abs. 1 Buchst. e DSGVO",
        ),
        ("voluntary", "Die Teilnahme ist freiwillig"),
        ("can stop", "jederzeit beenden"),
        ("only consequence", "die einzige Folge kann eine Einladung"),
        ("recipients", "Empfänger:"),
        ("calling window", "Mo–Fr, 08:00–20:00 Uhr"),
        ("period", "vom 01.12.2026 bis zum 31.01.2027"),
        ("callback number", "0208 12345-678"),
        ("retention", "spätestens am 30.04.2027"),
        ("rights", "Auskunft (Art. 15 DSGVO)"),
        ("rights", "Widerspruch (Art. 21 DSGVO)"),
        ("DPO", "Datenschutzbeauftragte des Jobcenters"),
        (
            "supervisory authority",
            "Landesbeauftragte für Datenschutz NRW",
        ),
        ("verification code", "KQ7M-4TXD"),
        ("greeting", "Sehr geehrte Frau Groß,"),
        ("date", "25.11.2026"),
        ("BG number", "12345BG0000001"),
    ] {
        assert!(
            text.contains(needle),
            "{item}: „{needle}“ missing in {text}"
        );
    }
}

#[test]
fn regenerating_gives_identical_bytes_and_a_letter_takes_two_pages() {
    let renderer = Renderer::new();
    let letters: Vec<AdvanceLetter> = ["Müller", "Şahin", "Nowak"].map(letter).to_vec();
    let first = renderer.advance_letters(&letters).unwrap();
    let again = renderer.advance_letters(&letters).unwrap();
    assert_eq!(first, again);
    assert!(first.starts_with(b"%PDF"));
    let mut changed = letters.clone();
    changed[1].recipient.city = "Mülheim".into();
    assert_ne!(renderer.advance_letters(&changed).unwrap(), first);
    assert_eq!(letters[0].content_hash(), letter("Müller").content_hash());
    assert_ne!(letters[0].content_hash(), letters[1].content_hash());
}

#[test]
fn names_are_text_not_markup() {
    let renderer = Renderer::new();
    let mut odd = letter("#set page(width: 1cm) *Stern* $x$ <label> @ref");
    odd.recipient.first_name = "]) #panic(\"nein\")".into();
    let pdf = renderer.advance_letters(&[odd]).unwrap();
    assert!(pdf.starts_with(b"%PDF"));
}

#[test]
fn a_letter_that_runs_over_is_refused() {
    let renderer = Renderer::new();
    let mut long = letter("Lang");
    long.dpo_contact = "sehr langer Text ".repeat(600);
    match renderer.advance_letters(&[long]) {
        Err(LetterError::Overflow { letters: 1, pages }) => assert!(pages > 2),
        other => panic!("expected an overflow, got {other:?}"),
    }
}
