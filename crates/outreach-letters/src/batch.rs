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
use outreach_store::letters::{self, AdvanceLetterRow, NewLetter};
use outreach_store::{StoreError, Tx};

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

/// Records a new batch of the campaign's open cases without an advance letter.
/// Returns the batch id and its number of letters, or `None` when every case
/// already has its letter.
pub async fn create_advance_batch(
    tx: &mut Tx,
    campaign_id: i64,
    letter_date: Date,
    created_by: Option<i64>,
    now: i64,
) -> Result<Option<(i64, usize)>, StoreError> {
    let rows = letters::pending_advance(tx, campaign_id).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let new: Vec<NewLetter> = rows
        .iter()
        .map(|row| NewLetter {
            case_id: row.case_id,
            customer_id: row.customer_id,
            content_hash: advance_letter(row, letter_date).content_hash(),
        })
        .collect();
    let id = letters::create_batch(
        tx,
        campaign_id,
        letter_date,
        ADVANCE_TEMPLATE_VERSION,
        &new,
        created_by,
        now,
    )
    .await?;
    Ok(Some((id, new.len())))
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
pub fn manifest(batch_id: i64, letters: &[AdvanceLetter]) -> Vec<u8> {
    let names = file_names(batch_id, letters.len());
    let mut out = "\u{feff}Kundennummer;Datei;Seite;Brief\r\n".to_string();
    for (i, letter) in letters.iter().enumerate() {
        let file = &names[i / LETTERS_PER_FILE];
        let page = (i % LETTERS_PER_FILE) * PAGES_PER_LETTER + 1;
        out.push_str(&format!(
            "{};{};{};{}\r\n",
            letter.customer_number,
            file,
            page,
            i + 1
        ));
    }
    out.into_bytes()
}

/// Typesets the files of a batch on `threads` threads (typst wants 16 MiB
/// stacks) and hands each finished file to `write` (its index and bytes), so
/// that no more than one file per thread is held in memory; `progress` is
/// told the letters done so far. Returns the number of files.
pub fn render_files(
    renderer: &Renderer,
    letters: &[AdvanceLetter],
    threads: usize,
    progress: &(dyn Fn(usize) + Sync),
    write: &(dyn Fn(usize, &[u8]) -> std::io::Result<()> + Sync),
) -> Result<usize, LetterError> {
    let chunks: Vec<&[AdvanceLetter]> = letters.chunks(LETTERS_PER_FILE).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results = std::sync::Mutex::new((0..chunks.len()).map(|_| None).collect::<Vec<_>>());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, chunks.len().max(1)) {
            let worker = || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(chunk) = chunks.get(i) else { return };
                    let pdf = renderer.advance_letters(chunk).and_then(|pdf| {
                        write(i, &pdf).map_err(|e| {
                            LetterError::Typeset(format!("Datei {} nicht geschrieben: {e}", i + 1))
                        })
                    });
                    let failed = pdf.is_err();
                    if let Ok(mut results) = results.lock() {
                        results[i] = Some(pdf);
                    }
                    let total = done.fetch_add(chunk.len(), std::sync::atomic::Ordering::SeqCst)
                        + chunk.len();
                    progress(total);
                    if failed {
                        return;
                    }
                }
            };
            let spawned = std::thread::Builder::new()
                .stack_size(16 << 20)
                .spawn_scoped(scope, worker);
            if spawned.is_err() {
                break;
            }
        }
    });
    let results = results
        .into_inner()
        .map_err(|_| LetterError::Typeset("ein Satz-Thread ist abgebrochen".into()))?;
    for result in &mut results.into_iter() {
        result.unwrap_or_else(|| Err(LetterError::Typeset("nicht gesetzt".into())))?;
    }
    Ok(chunks.len())
}
