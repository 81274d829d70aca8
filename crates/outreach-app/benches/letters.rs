//! Advance-letter benchmark, the whole way `outreach letters advance` goes:
//! a campaign of N customers (default 10,000; `BENCH_LETTERS`) is activated,
//! its batch recorded (content hash per letter), and the batch typeset part by
//! part from the database into PDF files of 125 letters on two threads.
//! Prints the time of each phase, letters per second and the process's peak
//! memory (VmHWM). SQLite by default; `BENCH_DATABASE=postgres` uses a fresh
//! PostgreSQL database.
//!
//! Run: `cargo bench -p outreach-app --bench letters`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use outreach_app::letters::{advance_letter, create_advance_batch, print_batch};
use outreach_store::testing::{TestDb, letter_campaign, letter_customer};
use outreach_store::{Backend, campaign};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("BENCH_LETTERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let backend = match std::env::var("BENCH_DATABASE").as_deref() {
        Ok("postgres") => Backend::Postgres,
        _ => Backend::Sqlite,
    };
    let t = TestDb::new(backend).await.unwrap();
    let id = letter_campaign(&t.db, (0..count).map(letter_customer))
        .await
        .unwrap();
    let today = jiff::civil::date(2026, 11, 25);
    let mut tx = t.db.begin().await.unwrap();
    let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
        .await
        .unwrap()
        .unwrap();
    campaign::activate(&mut tx, &c, today, 0).await.unwrap();
    tx.commit().await.unwrap();
    let seeded_mb = peak_mb();

    let started = Instant::now();
    let mut tx = t.db.begin().await.unwrap();
    let (batch, letters) = create_advance_batch(
        &mut tx,
        outreach_store::RecordScope::Operator,
        id,
        today,
        None,
        0,
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    let recorded = started.elapsed().as_secs_f64();
    assert_eq!(letters, count);

    // Reading alone, for comparison: every part of the batch from the database.
    let started = Instant::now();
    let mut read = 0;
    for part in 0..count.div_ceil(125) {
        let mut tx = t.db.begin_read().await.unwrap();
        let from = (part * 125) as i64;
        read += outreach_store::letters::batch_advance_range(
            &mut tx,
            outreach_store::RecordScope::Operator,
            batch,
            from,
            from + 125,
        )
        .await
        .unwrap()
        .len();
        tx.commit().await.unwrap();
    }
    assert_eq!(read, count);
    let reading = started.elapsed().as_secs_f64();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-letters");
    std::fs::create_dir_all(&dir).unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let bytes = written.clone();
    let started = Instant::now();
    let printed = print_batch(
        &t.db,
        outreach_store::RecordScope::Operator,
        batch,
        count,
        today,
        2,
        Arc::new(|_| {}),
        Arc::new(move |i, pdf| {
            bytes.fetch_add(pdf.len(), Ordering::SeqCst);
            std::fs::write(dir.join(format!("teil-{}.pdf", i + 1)), pdf)
        }),
    )
    .await
    .unwrap();
    let typeset = started.elapsed().as_secs_f64();
    let peak = peak_mb();

    // For comparison in the same run: the same letters typeset from memory
    // (all rows loaded first), without the database in the loop.
    let mut tx = t.db.begin_read().await.unwrap();
    let rows = outreach_store::letters::batch_advance(
        &mut tx,
        outreach_store::RecordScope::Operator,
        batch,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let letters: Vec<_> = rows.iter().map(|r| advance_letter(r, today)).collect();
    let started = Instant::now();
    let in_memory = tokio::task::spawn_blocking(move || {
        let renderer = outreach_letters::Renderer::new();
        outreach_letters::batch::render_files(&renderer, &letters, 2, &|_| {}, &|_, _| Ok(()))
            .unwrap();
        started.elapsed().as_secs_f64()
    })
    .await
    .unwrap();
    let total = recorded + typeset;
    println!(
        "Advance letters ({backend:?}): {count} letters ({} pages) in {} files; batch recorded in {recorded:.2} s, typeset in {typeset:.2} s (reading the letters alone {reading:.2} s); {:.0} letters/s overall; {:.1} MB of PDF; peak memory {peak:.0} MB (after seeding {seeded_mb:.0} MB); the same letters from memory: {in_memory:.2} s",
        count * 2,
        printed.files,
        count as f64 / total,
        written.load(Ordering::SeqCst) as f64 / 1e6,
    );
}
