//! Letters of a campaign's batches: the print files of a batch of advance
//! letters, each step audited (the letters carry names and addresses); the
//! letters' data read from the store and given to the letters crate to
//! typeset.

use crate::{Caller, Error, Result};
use jiff::civil::Date;
use outreach_core::audit::AuditAction;
use outreach_core::calls::CallingWindow;
use outreach_core::campaign::case_code;
use outreach_core::customer::Record;
use outreach_core::date::{format_de_date, iso_to_de, parse_iso_date};
use outreach_letters::batch::{Part, render_parts};
pub use outreach_letters::batch::{file_names, manifest};
use outreach_letters::{
    ADVANCE_TEMPLATE_VERSION, AdvanceLetter, LETTERS_PER_FILE, LetterError, Organisation,
    Recipient, Renderer,
};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::campaign::Campaign;
use outreach_store::letters::{self, AdvanceLetterRow, Batch};
use outreach_store::{Db, RecordScope, StoreError, Tx};

fn purpose(campaign: &Campaign) -> String {
    format!("Vorabinformation zur Aktion „{}“", campaign.name)
}

/// Starts typesetting the print files of batch `b` of `campaign` (both read
/// in the caller's scope); audited. Returns the batch's customer numbers in
/// its order, for the manifest.
pub async fn start_print(
    db: &Db,
    by: Caller<'_>,
    campaign: &Campaign,
    b: &Batch,
    now: i64,
) -> Result<Vec<String>> {
    let scope = RecordScope::of(by.actor).ok_or(Error::NotFound)?;
    let mut tx = db.begin().await?;
    let customer_numbers = letters::batch_customer_numbers(&mut tx, scope, b.id).await?;
    let event = AuditEvent::by(by.actor, AuditAction::LetterPrint, by.client)
        .record("letter_batch", b.id)
        .fields(&format!(
            "{} Vorabinformationen als Druckdateien (ZIP): Name, Anschrift, Kundennummer, BG-Nummer, Prüfcode",
            b.letter_count
        ))
        .purpose(&purpose(campaign));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(customer_numbers)
}

/// Records that the caller downloads the print files of batch `b`.
pub async fn record_print_download(
    db: &Db,
    by: Caller<'_>,
    campaign: &Campaign,
    b: &Batch,
    now: i64,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let event = AuditEvent::by(by.actor, AuditAction::LetterPrint, by.client)
        .record("letter_batch", b.id)
        .fields(&format!(
            "Druckdateien (ZIP) heruntergeladen: {} Vorabinformationen",
            b.letter_count
        ))
        .purpose(&purpose(campaign));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Typesets on a thread of its own with the deep stack typst needs, off the
/// async workers.
pub async fn typeset<F>(work: F) -> Result<Vec<u8>>
where
    F: FnOnce(
            &outreach_letters::Renderer,
        ) -> std::result::Result<Vec<u8>, outreach_letters::LetterError>
        + Send
        + 'static,
{
    tokio::task::spawn_blocking(move || {
        std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(move || work(&outreach_letters::Renderer::new()))
            .map_err(|e| Error::Internal(format!("thread: {e}")))?
            .join()
            .map_err(|_| Error::Internal("typst thread panicked".into()))?
            .map_err(Error::from)
    })
    .await
    .map_err(|source| Error::Task {
        what: "typesetting",
        source,
    })?
}

/// Whom a letter to the customer goes to: the name and postal address of
/// the record.
pub(crate) fn recipient(c: &Record) -> Recipient {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    Recipient {
        salutation: text(&c.salutation),
        first_name: text(&c.first_name),
        last_name: c.last_name.clone(),
        street: text(&c.street),
        house_number: text(&c.house_number),
        postcode: text(&c.postcode),
        city: text(&c.city),
    }
}

/// The letter a stored row prints, dated `letter_date`.
pub fn advance_letter(row: &AdvanceLetterRow, letter_date: Date) -> AdvanceLetter {
    AdvanceLetter {
        customer_number: row.customer.customer_number.to_string(),
        bg_number: row
            .customer
            .bg_number
            .clone()
            .filter(|b| !b.trim().is_empty()),
        recipient: recipient(&row.customer),
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
) -> std::result::Result<Option<(i64, usize)>, StoreError> {
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
) -> std::result::Result<Printed, PrintError> {
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
) -> std::result::Result<Vec<AdvanceLetterRow>, StoreError> {
    let mut tx = db.begin_read().await?;
    let to = from + LETTERS_PER_FILE as i64;
    let rows = letters::batch_advance_range(&mut tx, scope, batch_id, from, to).await?;
    tx.commit().await?;
    Ok(rows)
}

/// A batch to print into one archive: its letters read in `scope`.
pub struct PrintedBatch<'a> {
    pub scope: RecordScope,
    pub batch: &'a Batch,
    /// Its number of letters.
    pub count: usize,
    /// Its customer numbers in order, for the manifest.
    pub customer_numbers: &'a [String],
}

/// Typesets every file of the batch into one ZIP archive written to `file`,
/// with the manifest; `done` counts the letters typeset so far. Returns the
/// archive's size and the number of letters whose data changed since the
/// batch was made; a German message when it failed.
pub async fn write_archive(
    db: &Db,
    printed: PrintedBatch<'_>,
    file: std::fs::File,
    done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> std::result::Result<(u64, usize), String> {
    use outreach_letters::zip::ZipWriter;
    use std::sync::{Arc, Mutex};
    let b = printed.batch;
    let letter_date = parse_iso_date(&b.letter_date)
        .ok_or_else(|| format!("Stapel {}: Briefdatum unlesbar", b.id))?;
    let zip = Arc::new(Mutex::new(Some(ZipWriter::new(
        std::io::BufWriter::new(file),
        (letter_date.year(), letter_date.month(), letter_date.day()),
    ))));
    let names = file_names(b.id, printed.count);
    let sink = zip.clone();
    let result = print_batch(
        db,
        printed.scope,
        b.id,
        printed.count,
        letter_date,
        2,
        Arc::new(move |n| done.store(n, std::sync::atomic::Ordering::Relaxed)),
        Arc::new(move |i, pdf| {
            let mut guard = sink
                .lock()
                .map_err(|_| std::io::Error::other("Archiv gesperrt"))?;
            let writer = guard
                .as_mut()
                .ok_or_else(|| std::io::Error::other("Archiv geschlossen"))?;
            writer.add(&names[i], pdf)
        }),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut writer = zip
        .lock()
        .ok()
        .and_then(|mut z| z.take())
        .ok_or("Archiv nicht verfügbar")?;
    let manifest_name = format!("vorabinformation-stapel-{}-manifest.csv", b.id);
    writer
        .add(&manifest_name, &manifest(b.id, printed.customer_numbers))
        .map_err(|e| e.to_string())?;
    let file = writer
        .finish()
        .map_err(|e| e.to_string())?
        .into_inner()
        .map_err(|e| e.to_string())?;
    file.sync_all().map_err(|e| e.to_string())?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((size, result.changed))
}

// ---- the command line's print run ----

/// What the command line prints: a batch of a campaign.
pub struct PrintRun {
    pub campaign: Campaign,
    pub batch: Batch,
    pub letter_date: Date,
    pub customer_numbers: Vec<String>,
}

/// Why the command line prints nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoPrintRun {
    NoCampaign,
    /// The campaign (named) is a draft: no cases, no letters yet.
    Draft(String),
    /// The campaign has no such batch.
    NoBatch,
    /// Every open case of the campaign (named) has its letter already.
    AllLettersMade(String),
}

/// The batch the operator prints from the command line: batch `batch` of
/// campaign `campaign_id`, or a new one of the cases that have no letter
/// yet, dated `today` (its creation audited); the printing is audited.
pub async fn operator_print_run(
    db: &Db,
    campaign_id: i64,
    batch: Option<i64>,
    today: Date,
    now: i64,
) -> Result<std::result::Result<PrintRun, NoPrintRun>> {
    let by = crate::Source::CommandLine;
    let scope = RecordScope::Operator;
    let mut tx = db.begin().await?;
    let Some(campaign) = outreach_store::campaign::by_id(&mut tx, scope, campaign_id).await? else {
        return Ok(Err(NoPrintRun::NoCampaign));
    };
    if campaign.state() == outreach_core::campaign::CampaignState::Draft {
        return Ok(Err(NoPrintRun::Draft(campaign.name)));
    }
    let batch_id = match batch {
        Some(id) => match letters::batch_by_id(&mut tx, scope, id).await? {
            Some(b) if b.campaign_id == campaign_id => id,
            _ => return Ok(Err(NoPrintRun::NoBatch)),
        },
        None => match create_advance_batch(&mut tx, scope, campaign_id, today, None, now).await? {
            Some((id, count)) => {
                let event = by
                    .event(AuditAction::LetterBatchCreate)
                    .record("letter_batch", id)
                    .fields(&format!(
                        "{count} Vorabinformationen: Name, Anschrift, Kundennummer, BG-Nummer"
                    ))
                    .purpose(&format!("Aktion „{}“", campaign.name))
                    .job_center(Some(campaign.job_center_id));
                audit::append(&mut tx, &event, now).await?;
                id
            }
            None => return Ok(Err(NoPrintRun::AllLettersMade(campaign.name))),
        },
    };
    let batch = letters::batch_by_id(&mut tx, scope, batch_id)
        .await?
        .ok_or_else(|| Error::Internal(format!("batch {batch_id} vanished")))?;
    let letter_date = parse_iso_date(&batch.letter_date)
        .ok_or_else(|| Error::Internal(format!("batch {batch_id}: letter date unreadable")))?;
    let customer_numbers = letters::batch_customer_numbers(&mut tx, scope, batch_id).await?;
    let event = by
        .event(AuditAction::LetterPrint)
        .record("letter_batch", batch_id)
        .fields(&format!(
            "{} Vorabinformationen: Name, Anschrift, Kundennummer, BG-Nummer, Prüfcode",
            batch.letter_count
        ))
        .purpose(&purpose(&campaign))
        .job_center(Some(campaign.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(PrintRun {
        campaign,
        batch,
        letter_date,
        customer_numbers,
    }))
}

/// Why the operator could not mark a batch sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotSent {
    NoBatch,
    /// Marked sent already, on this day (ISO).
    Already(Option<String>),
}

/// Marks batch `batch_id` sent on `sent_on` from the command line
/// (audited): the waiting period after the letters starts.
pub async fn operator_mark_sent(
    db: &Db,
    batch_id: i64,
    sent_on: Date,
    now: i64,
) -> Result<std::result::Result<Batch, NotSent>> {
    let scope = RecordScope::Operator;
    let mut tx = db.begin().await?;
    let Some(batch) = letters::batch_by_id(&mut tx, scope, batch_id).await? else {
        return Ok(Err(NotSent::NoBatch));
    };
    if !letters::mark_sent(&mut tx, scope, batch_id, sent_on, None).await? {
        return Ok(Err(NotSent::Already(batch.sent_on)));
    }
    let event = crate::Source::CommandLine
        .event(AuditAction::LetterBatchSent)
        .record("letter_batch", batch_id)
        .fields(&format!("Versand am {}", format_de_date(sent_on)))
        .purpose("Versand der Vorabinformationen")
        .job_center(Some(batch.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(batch))
}
