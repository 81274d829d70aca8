//! Print batches of advance letters: record which letters a batch holds, then
//! typeset its files (up to [`LETTERS_PER_FILE`] letters each) with a CSV
//! manifest of customer number → file and page.

use crate::{
    ADVANCE_TEMPLATE_VERSION, AdvanceLetter, LETTERS_PER_FILE, LetterError, Organisation,
    PAGES_PER_LETTER, Recipient, Renderer,
};
use jiff::civil::Date;
use outreach_core::calling::CallingWindow;
use outreach_core::campaign::case_code;
use outreach_core::date::{format_de_date, iso_to_de};
use outreach_store::letters::{self, AdvanceLetterRow};
use outreach_store::{Db, RecordScope, StoreError, Tx};

/// The letter a stored row prints, dated `letter_date`.
pub fn advance_letter(row: &AdvanceLetterRow, letter_date: Date) -> AdvanceLetter {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    AdvanceLetter {
        customer_number: row.customer_number.clone(),
        bg_number: row.bg_number.clone().filter(|b| !b.trim().is_empty()),
        recipient: Recipient {
            salutation: text(&row.salutation),
            first_name: text(&row.first_name),
            last_name: row.last_name.clone(),
            street: text(&row.street),
            house_number: text(&row.house_number),
            postcode: text(&row.postcode),
            city: text(&row.city),
        },
        letter_date: format_de_date(letter_date),
        code: case_code(&row.code_secret, row.case_id),
        job_center: Organisation {
            name: row.jc_name.clone(),
            street: row.jc_street.clone(),
            postcode: row.jc_postcode.clone(),
            city: row.jc_city.clone(),
            phone: row.jc_phone.clone(),
            email: row.jc_email.clone(),
        },
        processor: Organisation {
            name: row.sc_name.clone(),
            city: row.sc_city.clone(),
            ..Organisation::default()
        },
        dpo_contact: row.jc_dpo_contact.clone(),
        supervisory_authority: row.jc_supervisory_authority.clone(),
        window: CallingWindow::from_stored(&row.window_days, &row.window_start, &row.window_end)
            .label(),
        period_start: iso_to_de(&row.period_start),
        period_end: iso_to_de(&row.period_end),
        callback_phone: row.jc_phone.clone(),
        deletion_deadline: iso_to_de(&row.deletion_deadline),
    }
}

/// Letters whose content hash is computed per round trip when a batch is made.
const HASH_CHUNK: i64 = 500;

/// Records a new batch of the campaign's open cases without an advance letter.
/// Returns the batch id and its number of letters, or `None` when every case
/// already has its letter. Works through the letters 500 at a time, so that
/// memory does not grow with the campaign.
pub async fn create_advance_batch(
    tx: &mut Tx,
    scope: RecordScope,
    campaign_id: i64,
    letter_date: Date,
    created_by: Option<i64>,
    now: i64,
) -> Result<Option<(i64, usize)>, StoreError> {
    let Some((id, count)) = letters::create_pending_batch(
        tx,
        scope,
        campaign_id,
        letter_date,
        ADVANCE_TEMPLATE_VERSION,
        created_by,
        now,
    )
    .await?
    else {
        return Ok(None);
    };
    let mut from = 0;
    while from < count {
        let rows = letters::batch_advance_range(tx, scope, id, from, from + HASH_CHUNK).await?;
        let hashes: Vec<(i64, String)> = rows
            .iter()
            .map(|row| {
                (
                    row.position,
                    advance_letter(row, letter_date).content_hash(),
                )
            })
            .collect();
        letters::set_hashes(tx, id, &hashes).await?;
        from += HASH_CHUNK;
    }
    Ok(Some((id, usize::try_from(count).unwrap_or(0))))
}

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

/// Where [`print_batch`] puts each finished file (its index and bytes).
pub type FileSink = std::sync::Arc<dyn Fn(usize, &[u8]) -> std::io::Result<()> + Send + Sync>;

/// What printing a batch did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Printed {
    pub files: usize,
    pub letters: usize,
    /// Letters whose data changed since the batch was made.
    pub changed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error(transparent)]
    Letter(#[from] LetterError),
    #[error("Die Briefdaten konnten nicht gelesen werden: {0}")]
    Store(#[from] StoreError),
}

/// Typesets every file of batch `batch_id` (`count` letters dated
/// `letter_date`) on `threads` threads, reading its letters from the
/// database one part at a time: memory stays flat whatever the batch size.
/// `write` gets each file's index and bytes, in the order they finish.
// The store's reading leaves this crate with the application layer (issue 22).
#[allow(clippy::too_many_arguments)]
pub async fn print_batch(
    db: &Db,
    scope: RecordScope,
    batch_id: i64,
    count: usize,
    letter_date: Date,
    threads: usize,
    progress: std::sync::Arc<dyn Fn(usize) + Send + Sync>,
    write: FileSink,
) -> Result<Printed, PrintError> {
    let threads = threads.max(1);
    let (sender, receiver) = tokio::sync::mpsc::channel::<Part>(threads);
    let receiver = std::sync::Mutex::new(receiver);
    let render = tokio::task::spawn_blocking(move || {
        let renderer = Renderer::new();
        let next = || receiver.lock().ok().and_then(|mut r| r.blocking_recv());
        render_parts(&renderer, threads, &next, &*progress, &*write)
    });
    let mut changed = 0;
    let mut fed = Ok(());
    for part in 0..count.div_ceil(LETTERS_PER_FILE) {
        let from = (part * LETTERS_PER_FILE) as i64;
        let rows = match read_part(db, scope, batch_id, from).await {
            Ok(rows) => rows,
            Err(e) => {
                fed = Err(e);
                break;
            }
        };
        let letters: Vec<AdvanceLetter> = rows
            .iter()
            .map(|row| {
                let letter = advance_letter(row, letter_date);
                if letter.content_hash() != row.recorded_hash {
                    changed += 1;
                }
                letter
            })
            .collect();
        if sender.send((part, letters)).await.is_err() {
            break; // the renderer stopped; its error follows
        }
    }
    drop(sender);
    let files = render
        .await
        .map_err(|e| LetterError::Typeset(format!("Satz-Thread: {e}")))??;
    fed?;
    Ok(Printed {
        files,
        letters: count,
        changed,
    })
}

async fn read_part(
    db: &Db,
    scope: RecordScope,
    batch_id: i64,
    from: i64,
) -> Result<Vec<AdvanceLetterRow>, StoreError> {
    let mut tx = db.begin_read().await?;
    let to = from + LETTERS_PER_FILE as i64;
    let rows = letters::batch_advance_range(&mut tx, scope, batch_id, from, to).await?;
    tx.commit().await?;
    Ok(rows)
}
