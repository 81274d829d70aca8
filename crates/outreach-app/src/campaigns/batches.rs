//! A campaign's batches of advance letters: a new batch, its PDF parts
//! and manifest (each read audited), and its dispatch.

use super::*;

/// What asking for a batch of advance letters came to.
pub enum BatchCreation {
    Created,
    /// No case waits for its letter.
    Nothing,
    /// A draft has no cases yet.
    Draft(Box<Campaign>),
}

/// Puts the advance letters of campaign `id`'s cases that have none into a
/// new batch, dated `today` (audited).
pub async fn create_batch(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    today: Date,
    now: i64,
) -> Result<BatchCreation> {
    let c = get(db, by.actor, id).await?;
    if c.state() == CampaignState::Draft {
        return Ok(BatchCreation::Draft(Box::new(c)));
    }
    let mut tx = db.begin().await?;
    let created = create_advance_batch(
        &mut tx,
        scope_of(by.actor)?,
        c.id,
        today,
        Some(by.actor.user_id),
        now,
    )
    .await?;
    let Some((batch_id, count)) = created else {
        return Ok(BatchCreation::Nothing);
    };
    let event = AuditEvent::by(by.actor, AuditAction::LetterBatchCreate, by.client)
        .record("letter_batch", batch_id)
        .fields(&format!(
            "{count} Vorabinformationen: Name, Anschrift, Kundennummer, BG-Nummer"
        ))
        .purpose(&format!("Aktion „{}“", c.name));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(BatchCreation::Created)
}

/// Batch `batch_id` if it belongs to campaign `id` (which the actor owns).
pub async fn batch(db: &Db, actor: &Actor, id: i64, batch_id: i64) -> Result<(Campaign, Batch)> {
    let c = get(db, actor, id).await?;
    let mut tx = db.begin_read().await?;
    let scope = RecordScope::JobCenter(c.job_center_id);
    let b = letters::batch_by_id(&mut tx, scope, batch_id).await?;
    tx.commit().await?;
    match b {
        Some(b) if b.campaign_id == c.id => Ok((c, b)),
        _ => Err(Error::NotFound),
    }
}

/// Records that the caller reads a batch's letters (`what`).
pub(super) async fn audit_print(
    db: &Db,
    by: Caller<'_>,
    c: &Campaign,
    b: &Batch,
    what: &str,
    now: i64,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let event = AuditEvent::by(by.actor, AuditAction::LetterPrint, by.client)
        .record("letter_batch", b.id)
        .fields(what)
        .purpose(&format!("Vorabinformation zur Aktion „{}“", c.name));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// The file names of a batch's PDF parts, in order.
pub fn part_names(b: &Batch) -> Vec<String> {
    file_names(b.id, usize::try_from(b.letter_count).unwrap_or(0))
}

/// Part `part` (from 1) of batch `batch_id` of campaign `id` as a PDF,
/// typeset now from the current data (audited): its file name and content.
pub async fn batch_part(
    db: &Db,
    by: Caller<'_>,
    (id, batch_id, part): (i64, i64, i64),
    now: i64,
) -> Result<(String, Vec<u8>)> {
    let (c, b) = batch(db, by.actor, id, batch_id).await?;
    let names = part_names(&b);
    let Some((index, name)) = usize::try_from(part - 1)
        .ok()
        .and_then(|i| names.get(i).map(|n| (i, n.clone())))
    else {
        return Err(Error::NotFound);
    };
    audit_print(
        db,
        by,
        &c,
        &b,
        &format!("PDF Teil {part}: Name, Anschrift, Kundennummer, BG-Nummer, Prüfcode"),
        now,
    )
    .await?;
    let letter_date = parse_iso_date(&b.letter_date)
        .ok_or_else(|| Error::Internal(format!("batch {}: letter date unreadable", b.id)))?;
    let from = (index * LETTERS_PER_FILE) as i64;
    let mut tx = db.begin_read().await?;
    let rows = letters::batch_advance_range(
        &mut tx,
        scope_of(by.actor)?,
        b.id,
        from,
        from + LETTERS_PER_FILE as i64,
    )
    .await?;
    tx.commit().await?;
    let chunk: Vec<AdvanceLetter> = rows
        .iter()
        .map(|row| advance_letter(row, letter_date))
        .collect();
    let pdf = crate::letters::typeset(move |renderer| renderer.advance_letters(&chunk)).await?;
    Ok((name, pdf))
}

/// The manifest of batch `batch_id` of campaign `id` (which customer's
/// letter is in which file on which page) as CSV (audited).
pub async fn batch_manifest(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    batch_id: i64,
    now: i64,
) -> Result<Vec<u8>> {
    let (c, b) = batch(db, by.actor, id, batch_id).await?;
    audit_print(db, by, &c, &b, "Manifest: Kundennummer, Datei, Seite", now).await?;
    let mut tx = db.begin_read().await?;
    let numbers = letters::batch_customer_numbers(&mut tx, scope_of(by.actor)?, b.id).await?;
    tx.commit().await?;
    Ok(manifest(b.id, &numbers))
}

/// Why a batch could not be marked sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentProblem {
    /// The date lies after today.
    InTheFuture,
}

/// Marks batch `b` of campaign `c` as sent on `sent_on` (audited): the
/// waiting period after the letters starts.
pub async fn mark_sent(
    db: &Db,
    by: Caller<'_>,
    (c, b): (&Campaign, &Batch),
    sent_on: Date,
    today: Date,
    now: i64,
) -> Result<std::result::Result<(), SentProblem>> {
    if sent_on > today {
        return Ok(Err(SentProblem::InTheFuture));
    }
    let mut tx = db.begin().await?;
    if letters::mark_sent(
        &mut tx,
        scope_of(by.actor)?,
        b.id,
        sent_on,
        Some(by.actor.user_id),
    )
    .await?
    {
        let event = AuditEvent::by(by.actor, AuditAction::LetterBatchSent, by.client)
            .record("letter_batch", b.id)
            .fields(&format!("Versand am {}", format_de_date(sent_on)))
            .purpose(&format!("Aktion „{}“", c.name));
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
    }
    Ok(Ok(()))
}
