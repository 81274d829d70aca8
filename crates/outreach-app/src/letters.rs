//! Letters of a campaign's batches: the print files of a batch of advance
//! letters, each step audited (the letters carry names and addresses).

use crate::{Caller, Error, Result};
use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::campaign::Campaign;
use outreach_store::letters::{self, Batch};
use outreach_store::{Db, RecordScope};

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
            .map_err(|e| Error::Internal(e.to_string()))
    })
    .await
    .map_err(|e| Error::Internal(format!("join: {e}")))?
}
