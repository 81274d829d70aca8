//! Print batches of advance letters: their files (up to [`LETTERS_PER_FILE`]
//! letters each), typeset on several threads, with a CSV manifest of
//! customer number → file and page. The application layer reads the
//! letters' data and feeds it.

use crate::{AdvanceLetter, LETTERS_PER_FILE, LetterError, PAGES_PER_LETTER, Renderer};

/// The file names of batch `batch_id` with `count` letters.
pub fn file_names(batch_id: i64, count: usize) -> Vec<String> {
    let files = count.div_ceil(LETTERS_PER_FILE).max(1);
    (1..=files)
        .map(|n| format!("vorabinformation-stapel-{batch_id}-teil-{n}.pdf"))
        .collect()
}

/// The manifest: for each letter its customer number, file and first page.
/// CSV with `;`, UTF-8 with BOM, German headers.
pub fn manifest(batch_id: i64, customer_numbers: &[String]) -> Vec<u8> {
    let names = file_names(batch_id, customer_numbers.len());
    let header = ["Kundennummer", "Datei", "Seite", "Brief"].map(String::from);
    let rows = customer_numbers
        .iter()
        .enumerate()
        .map(|(i, customer_number)| {
            let file = &names[i / LETTERS_PER_FILE];
            let page = (i % LETTERS_PER_FILE) * PAGES_PER_LETTER + 1;
            [
                customer_number.clone(),
                file.clone(),
                page.to_string(),
                (i + 1).to_string(),
            ]
        });
    // Written to memory: only a failing allocation could fail it.
    outreach_core::spreadsheet::to_bytes(std::iter::once(header).chain(rows)).unwrap_or_default()
}

/// A part of a batch to typeset: its index and its letters.
pub type Part = (usize, Vec<AdvanceLetter>);

/// Typesets the files of a batch already in memory; see [`render_parts`].
pub fn render_files(
    renderer: &Renderer,
    letters: &[AdvanceLetter],
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
    write: &(dyn Fn(usize, &[u8]) -> std::io::Result<()> + Sync),
) -> Result<usize, LetterError> {
    let parts = std::sync::Mutex::new(letters.chunks(LETTERS_PER_FILE).enumerate());
    let next = || {
        parts
            .lock()
            .ok()
            .and_then(|mut p| p.next())
            .map(|(i, chunk)| (i, chunk.to_vec()))
    };
    render_parts(renderer, threads, &next, progress, write)
}

/// Typesets parts of a batch on `threads` threads (typst wants 16 MiB
/// stacks) as `next` hands them out, and gives each finished file to `write`
/// (its index and bytes), so that no more than one part per thread is held in
/// memory; `progress` is told the letters done so far. Returns the number of
/// files written; stops at the first error.
pub fn render_parts(
    renderer: &Renderer,
    threads: usize,
    next: &(dyn Fn() -> Option<Part> + Sync),
    progress: &(dyn Fn(usize) + Sync),
    write: &(dyn Fn(usize, &[u8]) -> std::io::Result<()> + Sync),
) -> Result<usize, LetterError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let done = AtomicUsize::new(0);
    let files = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let error = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            let worker = || {
                while !failed.load(Ordering::SeqCst) {
                    let Some((i, letters)) = next() else { return };
                    let result = renderer.advance_letters(&letters).and_then(|pdf| {
                        write(i, &pdf).map_err(|e| {
                            LetterError::Typeset(format!("Datei {} nicht geschrieben: {e}", i + 1))
                        })
                    });
                    if let Err(e) = result {
                        failed.store(true, Ordering::SeqCst);
                        if let Ok(mut slot) = error.lock() {
                            slot.get_or_insert(e);
                        }
                        return;
                    }
                    files.fetch_add(1, Ordering::SeqCst);
                    progress(done.fetch_add(letters.len(), Ordering::SeqCst) + letters.len());
                }
            };
            let spawned = std::thread::Builder::new()
                .stack_size(16 << 20)
                .spawn_scoped(scope, worker);
            if spawned.is_err() {
                failed.store(true, Ordering::SeqCst);
                if let Ok(mut slot) = error.lock() {
                    slot.get_or_insert(LetterError::Typeset("kein Satz-Thread".into()));
                }
                break;
            }
        }
    });
    if let Some(e) = error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(files.into_inner())
}
