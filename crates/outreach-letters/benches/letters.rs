//! Advance-letter benchmark: typesets N letters (default 10,000;
//! `BENCH_LETTERS`) as print files of 1,000 letters on two threads, as
//! `outreach letters advance` does, and prints letters per second and the
//! process's peak memory (VmHWM).
//!
//! Run: `cargo bench -p outreach-letters --bench letters`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_letters::batch::render_files;
use outreach_letters::{AdvanceLetter, Organisation, Recipient, Renderer};
use std::time::Instant;

const LAST: [&str; 8] = [
    "Müller",
    "Yılmaz",
    "Weiß",
    "Schulze-Bäumer",
    "Nowak",
    "Öztürk",
    "Groß",
    "Şahin",
];
const FIRST: [&str; 8] = [
    "Jürgen",
    "Ayşe",
    "Marie-Luise",
    "Björn",
    "Małgorzata",
    "Zoë",
    "Hans-Jörg",
    "Elif",
];

fn letter(i: usize) -> AdvanceLetter {
    AdvanceLetter {
        customer_number: format!("{:03}D{:06}", i % 1000, i),
        bg_number: (!i.is_multiple_of(3)).then(|| format!("12345BG{i:07}")),
        recipient: Recipient {
            salutation: ["Herr", "Frau", ""][i % 3].into(),
            first_name: FIRST[i % 8].into(),
            last_name: LAST[(i / 8) % 8].into(),
            street: "Mülheimer Straße".into(),
            house_number: format!("{}", i % 200 + 1),
            postcode: format!("{:05}", 46000 + i % 100),
            city: "Oberhausen".into(),
        },
        letter_date: "25.11.2026".into(),
        code: format!("ABCD-{:04}", i % 10000),
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
        dpo_contact: "Datenschutzbeauftragte, datenschutz@example.org".into(),
        supervisory_authority: "Landesbeauftragte für Datenschutz NRW".into(),
        window: "Mo–Fr, 08:00–20:00 Uhr".into(),
        period_start: "01.12.2026".into(),
        period_end: "31.01.2027".into(),
        callback_phone: "0208 12345-678".into(),
        deletion_deadline: "30.04.2027".into(),
    }
}

fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let count: usize = std::env::var("BENCH_LETTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let letters: Vec<AdvanceLetter> = (0..count).map(letter).collect();
    let renderer = Renderer::new();
    let started = Instant::now();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-letters");
    std::fs::create_dir_all(&dir).unwrap();
    let written = std::sync::atomic::AtomicUsize::new(0);
    let files = render_files(&renderer, &letters, 2, &|_| {}, &|i, pdf| {
        written.fetch_add(pdf.len(), std::sync::atomic::Ordering::SeqCst);
        std::fs::write(dir.join(format!("teil-{}.pdf", i + 1)), pdf)
    })
    .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    let bytes = written.into_inner();
    println!(
        "Advance letters: {count} letters ({} pages) in {} files, {seconds:.2} s, {:.0} letters/s, {:.1} MB of PDF, peak memory {:.0} MB",
        count * 2,
        files,
        count as f64 / seconds,
        bytes as f64 / 1e6,
        peak_mb()
    );
}
