//! Letters and their print batches. A batch records which letters were
//! produced (case, kind, template version, content hash, place in the batch);
//! the PDFs are typeset again from the data whenever they are needed, and are
//! byte-identical while the data is unchanged.

use crate::customer::RecordColumns;
use crate::{Arg, Backend, StoreError, Tx, args};
use jiff::civil::Date;

/// Everything an advance letter prints, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AdvanceLetterRow {
    pub case_id: i64,
    pub customer_id: i64,
    #[sqlx(flatten)]
    pub customer: RecordColumns,
    pub code_secret: String,
    pub window_days: String,
    pub window_start: String,
    pub window_end: String,
    pub period_start: String,
    pub period_end: String,
    pub deletion_deadline: String,
    pub jc_name: String,
    pub jc_street: String,
    pub jc_postcode: String,
    pub jc_city: String,
    pub jc_phone: String,
    pub jc_email: String,
    pub jc_dpo_contact: String,
    pub jc_supervisory_authority: String,
    pub sc_name: String,
    pub sc_city: String,
    /// The letter's place in its batch (0 for a letter not yet in one).
    pub position: i64,
    /// The content hash recorded when the batch was made ("" outside a batch).
    pub recorded_hash: String,
}

macro_rules! letter_select {
    () => {
        "SELECT k.id AS case_id, c.id AS customer_id, c.*, p.code_secret, p.window_days,
                p.window_start, p.window_end, p.period_start, p.period_end, m.deletion_deadline,
                j.name AS jc_name, j.street AS jc_street, j.postcode AS jc_postcode, j.city AS jc_city,
                j.phone AS jc_phone, j.email AS jc_email, j.dpo_contact AS jc_dpo_contact,
                j.supervisory_authority AS jc_supervisory_authority, s.name AS sc_name, s.city AS sc_city, "
    };
}

macro_rules! letter_joins {
    () => {
        " FROM cases k
          JOIN campaigns p ON p.id = k.campaign_id
          JOIN customers c ON c.id = k.customer_id AND c.job_center_id = p.job_center_id
          JOIN mandates m ON m.id = p.mandate_id
          JOIN job_centers j ON j.id = p.job_center_id
          JOIN service_centers s ON s.id = m.service_center_id "
    };
}

macro_rules! pending_where {
    () => {
        " WHERE k.campaign_id = $1 AND k.final_disposition IS NULL
            AND NOT EXISTS (SELECT 1 FROM letters l WHERE l.case_id = k.id AND l.kind = 'advance')"
    };
}

/// Postal order; NULL postcodes first on both databases.
macro_rules! postal_order {
    () => {
        "COALESCE(c.postcode, ''), c.customer_number"
    };
}

/// The campaign's cases that have no advance letter yet and are still open,
/// in postal order (postcode, then customer number).
pub async fn pending_advance(
    tx: &mut Tx,
    scope: crate::RecordScope,
    campaign_id: i64,
) -> Result<Vec<AdvanceLetterRow>, StoreError> {
    let (kind, owner) = scope.args();
    tx.fetch_all(
        concat!(
            letter_select!(),
            "CAST(0 AS BIGINT) AS position, '' AS recorded_hash",
            letter_joins!(),
            pending_where!(),
            " AND",
            crate::campaign_in_scope!(),
            " ORDER BY ",
            postal_order!()
        ),
        args![campaign_id, kind, owner],
    )
    .await
}

/// The number of the campaign's open cases without an advance letter.
/// Counted only when the campaign is in `scope`.
pub async fn pending_count(
    tx: &mut Tx,
    scope: crate::RecordScope,
    campaign_id: i64,
) -> Result<i64, StoreError> {
    let (kind, owner) = scope.args();
    let (n,): (i64,) = tx
        .fetch_one(
            concat!(
                "SELECT COUNT(*) FROM cases k JOIN campaigns p ON p.id = k.campaign_id ",
                pending_where!(),
                " AND",
                crate::campaign_in_scope!()
            ),
            args![campaign_id, kind, owner],
        )
        .await?;
    Ok(n)
}

/// Records a batch of all the campaign's open cases without an advance
/// letter, in postal order, with empty content hashes for [`set_hashes`] to
/// fill in. Returns the batch id and its number of letters, or `None` when
/// every case already has its letter.
pub async fn create_pending_batch(
    tx: &mut Tx,
    scope: crate::RecordScope,
    campaign_id: i64,
    letter_date: Date,
    template_version: &str,
    created_by: Option<i64>,
    now: i64,
) -> Result<Option<(i64, i64)>, StoreError> {
    // Only a campaign in scope gets a batch: its cases have no letter else.
    if pending_count(tx, scope, campaign_id).await? == 0 {
        return Ok(None);
    }
    let (batch_id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO letter_batches (campaign_id, kind, letter_date, letter_count, created_by, created_at)
             VALUES ($1, 'advance', $2, 0, $3, $4) RETURNING id",
            args![campaign_id, letter_date.to_string(), created_by, now],
        )
        .await?;
    let count = tx
        .execute(
            concat!(
                "INSERT INTO letters (customer_id, case_id, kind, template_version, content_hash, batch_id, position, generated_at)
                 SELECT k.customer_id, k.id, 'advance', $2, '', $3, ROW_NUMBER() OVER (ORDER BY ",
                postal_order!(),
                ") - 1, $4 FROM cases k JOIN customers c ON c.id = k.customer_id ",
                pending_where!()
            ),
            args![campaign_id, template_version, batch_id, now],
        )
        .await?;
    if count == 0 {
        tx.execute("DELETE FROM letter_batches WHERE id = $1", args![batch_id])
            .await?;
        return Ok(None);
    }
    let count = i64::try_from(count).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE letter_batches SET letter_count = $2 WHERE id = $1",
        args![batch_id, count],
    )
    .await?;
    Ok(Some((batch_id, count)))
}

/// Records the content hashes of a batch's letters, by position.
pub async fn set_hashes(
    tx: &mut Tx,
    batch_id: i64,
    hashes: &[(i64, String)],
) -> Result<(), StoreError> {
    for chunk in hashes.chunks(500) {
        let mut values = Vec::with_capacity(chunk.len());
        let mut params: Vec<Arg> = Vec::with_capacity(chunk.len() * 2 + 1);
        for (i, (position, hash)) in chunk.iter().enumerate() {
            values.push(match tx.backend() {
                Backend::Sqlite => "(?, ?)".to_string(),
                Backend::Postgres => format!("(${}, ${})", 2 * i + 1, 2 * i + 2),
            });
            params.extend(args![*position, hash.as_str()]);
        }
        let batch_param = match tx.backend() {
            Backend::Sqlite => "?".to_string(),
            Backend::Postgres => format!("${}", chunk.len() * 2 + 1),
        };
        params.extend(args![batch_id]);
        let sql = format!(
            "WITH v(pos, h) AS (VALUES {})
             UPDATE letters SET content_hash = (SELECT h FROM v WHERE v.pos = letters.position)
             WHERE batch_id = {batch_param} AND position IN (SELECT pos FROM v)",
            values.join(", ")
        );
        tx.execute_generated(sql, params).await?;
    }
    Ok(())
}

/// The letters of a batch, in batch order, with today's data.
pub async fn batch_advance(
    tx: &mut Tx,
    scope: crate::RecordScope,
    batch_id: i64,
) -> Result<Vec<AdvanceLetterRow>, StoreError> {
    batch_advance_range(tx, scope, batch_id, 0, i64::MAX).await
}

/// The letters of a batch at positions `from..to`, in batch order, with
/// today's data.
pub async fn batch_advance_range(
    tx: &mut Tx,
    scope: crate::RecordScope,
    batch_id: i64,
    from: i64,
    to: i64,
) -> Result<Vec<AdvanceLetterRow>, StoreError> {
    let (kind, owner) = scope.args();
    tx.fetch_all(
        concat!(
            letter_select!(),
            "l.position, l.content_hash AS recorded_hash",
            letter_joins!(),
            "JOIN letters l ON l.case_id = k.id AND l.batch_id = $1
             WHERE l.position >= $4 AND l.position < $5 AND",
            crate::campaign_in_scope!(),
            "ORDER BY l.position"
        ),
        args![batch_id, kind, owner, from, to],
    )
    .await
}

/// The customer numbers of a batch's letters, in batch order (for its manifest).
pub async fn batch_customer_numbers(
    tx: &mut Tx,
    scope: crate::RecordScope,
    batch_id: i64,
) -> Result<Vec<String>, StoreError> {
    let (kind, owner) = scope.args();
    let rows: Vec<(String,)> = tx
        .fetch_all(
            concat!(
                "SELECT c.customer_number FROM letters l JOIN customers c ON c.id = l.customer_id
                 JOIN letter_batches b ON b.id = l.batch_id JOIN campaigns p ON p.id = b.campaign_id
                 WHERE l.batch_id = $1 AND",
                crate::campaign_in_scope!(),
                "ORDER BY l.position"
            ),
            args![batch_id, kind, owner],
        )
        .await?;
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// A letter to record in a new batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLetter {
    pub case_id: i64,
    pub customer_id: i64,
    pub content_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Batch {
    pub id: i64,
    pub campaign_id: i64,
    pub job_center_id: i64,
    pub kind: String,
    pub letter_date: String,
    pub letter_count: i64,
    pub created_at: i64,
    pub sent_on: Option<String>,
}

macro_rules! batch_select {
    () => {
        "SELECT b.id, b.campaign_id, p.job_center_id, b.kind, b.letter_date, b.letter_count, b.created_at, b.sent_on
         FROM letter_batches b JOIN campaigns p ON p.id = b.campaign_id "
    };
}

/// Records a batch of advance letters dated `letter_date`, in the given order.
pub async fn create_batch(
    tx: &mut Tx,
    campaign_id: i64,
    letter_date: Date,
    template_version: &str,
    letters: &[NewLetter],
    created_by: Option<i64>,
    now: i64,
) -> Result<i64, StoreError> {
    let (batch_id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO letter_batches (campaign_id, kind, letter_date, letter_count, created_by, created_at)
             VALUES ($1, 'advance', $2, $3, $4, $5) RETURNING id",
            args![
                campaign_id,
                letter_date.to_string(),
                letters.len() as i64,
                created_by,
                now
            ],
        )
        .await?;
    // Multi-row inserts, 500 letters (3,500 parameters) at a time.
    for (chunk_index, chunk) in letters.chunks(500).enumerate() {
        let mut sql = String::from(
            "INSERT INTO letters (customer_id, case_id, kind, template_version, content_hash, batch_id, position, generated_at) VALUES ",
        );
        let mut params: Vec<Arg> = Vec::with_capacity(chunk.len() * 7);
        for (i, letter) in chunk.iter().enumerate() {
            let n = i * 7;
            if i > 0 {
                sql.push(',');
            }
            // SQLite resolves numbered names one by one: positional `?` there.
            let p: Vec<String> = (1..=7)
                .map(|k| match tx.backend() {
                    Backend::Sqlite => "?".to_string(),
                    Backend::Postgres => format!("${}", n + k),
                })
                .collect();
            sql.push_str(&format!(
                "({}, {}, 'advance', {}, {}, {}, {}, {})",
                p[0], p[1], p[2], p[3], p[4], p[5], p[6]
            ));
            let position = (chunk_index * 500 + i) as i64;
            params.extend(args![
                letter.customer_id,
                letter.case_id,
                template_version,
                letter.content_hash.as_str(),
                batch_id,
                position,
                now
            ]);
        }
        tx.execute_generated(sql, params).await?;
    }
    Ok(batch_id)
}

/// How many of the job center's print batches are not marked sent yet.
pub async fn unsent_batches(tx: &mut Tx, job_center_id: i64) -> Result<i64, StoreError> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM letter_batches b JOIN campaigns p ON p.id = b.campaign_id
             WHERE p.job_center_id = $1 AND b.sent_on IS NULL",
            args![job_center_id],
        )
        .await?;
    Ok(n)
}

/// The campaign's letter batches, if the campaign is in `scope`.
pub async fn batches(
    tx: &mut Tx,
    scope: crate::RecordScope,
    campaign_id: i64,
) -> Result<Vec<Batch>, StoreError> {
    let (kind, owner) = scope.args();
    tx.fetch_all(
        concat!(
            batch_select!(),
            "WHERE b.campaign_id = $1 AND",
            crate::campaign_in_scope!(),
            "ORDER BY b.id"
        ),
        args![campaign_id, kind, owner],
    )
    .await
}

/// One batch by id, if its campaign is in `scope`.
pub async fn batch_by_id(
    tx: &mut Tx,
    scope: crate::RecordScope,
    batch_id: i64,
) -> Result<Option<Batch>, StoreError> {
    let (kind, owner) = scope.args();
    tx.fetch_optional(
        concat!(
            batch_select!(),
            "WHERE b.id = $1 AND",
            crate::campaign_in_scope!()
        ),
        args![batch_id, kind, owner],
    )
    .await
}

/// Marks a batch dispatched on `sent_on`; its cases' lead time starts then.
/// False when the batch was already marked or its campaign is not in `scope`.
pub async fn mark_sent(
    tx: &mut Tx,
    scope: crate::RecordScope,
    batch_id: i64,
    sent_on: Date,
    user_id: Option<i64>,
) -> Result<bool, StoreError> {
    let (kind, owner) = scope.args();
    let changed = tx
        .execute(
            concat!(
                "UPDATE letter_batches SET sent_on = $4, sent_by = $5
                 WHERE id = $1 AND sent_on IS NULL
                   AND campaign_id IN (SELECT p.id FROM campaigns p WHERE",
                crate::campaign_in_scope!(),
                ")"
            ),
            args![batch_id, kind, owner, sent_on.to_string(), user_id],
        )
        .await?;
    if changed != 1 {
        return Ok(false);
    }
    tx.execute(
        "UPDATE letters SET sent_on = $2 WHERE batch_id = $1",
        args![batch_id, sent_on.to_string()],
    )
    .await?;
    tx.execute(
        "UPDATE cases SET letter_sent_on = $2
         WHERE letter_sent_on IS NULL AND id IN (SELECT case_id FROM letters WHERE batch_id = $1)",
        args![batch_id, sent_on.to_string()],
    )
    .await?;
    Ok(true)
}
