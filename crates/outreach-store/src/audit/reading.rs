//! Reading the log: the DPO's filtered list, the chain check and its
//! records, what retention has removed.

use super::*;
use outreach_core::audit::{ChainBreak, ChainVerifier};

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct StoredEvent {
    pub seq: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    pub action: String,
    pub record_type: String,
    pub record_id: String,
    pub fields: String,
    pub purpose: String,
    pub client: String,
    pub job_center_id: Option<i64>,
    pub service_center_id: Option<i64>,
    pub prev_hash: String,
    pub hash: String,
    /// The job center whose data the event concerns, as its attribution
    /// names it (read by [`list`] only; outside the hashed record).
    #[sqlx(default)]
    #[serde(skip)]
    pub about_job_center_id: Option<i64>,
}

impl StoredEvent {
    fn record(&self) -> AuditRecord {
        AuditRecord {
            seq: self.seq,
            at: self.at,
            user_id: self.user_id,
            username: self.username.clone(),
            role: self.role.clone(),
            action: self.action.clone(),
            record_type: self.record_type.clone(),
            record_id: self.record_id.clone(),
            fields: self.fields.clone(),
            purpose: self.purpose.clone(),
            client: self.client.clone(),
            job_center_id: self.job_center_id,
            service_center_id: self.service_center_id,
            prev_hash: self.prev_hash.clone(),
        }
    }
}

/// What the DPO filters the log by. `job_center_id` limits a job center's DPO
/// to events concerning that job center — its own users' and those of the
/// service centers about its customers, cases and campaigns, as the events'
/// attribution names them (migration 0026); `None` (a global DPO) sees all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub job_center_id: Option<i64>,
    /// Events about one customer (by id): see `about_person!`.
    pub person: Option<i64>,
    pub username: Option<String>,
    pub action: Option<AuditAction>,
    pub record_id: Option<String>,
    pub from: Option<i64>,
    pub until: Option<i64>,
}

pub async fn list(
    tx: &mut Tx,
    filter: &AuditFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    tx.fetch_all(
        concat!(
            "SELECT seq, at, user_id, username, role, action, record_type, record_id, fields, purpose, client, job_center_id, service_center_id, prev_hash, hash,
                (SELECT a.job_center_id FROM audit_attribution a WHERE a.event_id = audit_events.id)
                    AS about_job_center_id
         FROM audit_events
         WHERE seq IS NOT NULL
           AND ($1 IS NULL OR EXISTS (SELECT 1 FROM audit_attribution a
                                      WHERE a.event_id = audit_events.id AND a.job_center_id = $1))
           AND ($2 IS NULL OR username = $2)
           AND ($3 IS NULL OR action = $3)
           AND ($4 IS NULL OR record_id = $4)
           AND ($5 IS NULL OR at >= $5)
           AND ($6 IS NULL OR at < $6)
           AND ($9 IS NULL OR ",
            about_person!("$9"),
            ")
         ORDER BY seq DESC LIMIT $7 OFFSET $8"
        ),
        args![
            filter.job_center_id,
            filter.username.clone(),
            filter.action.map(|a| a.code()),
            filter.record_id.clone(),
            filter.from,
            filter.until,
            limit,
            offset,
            filter.person
        ],
    )
    .await
}

/// How many events of `action` concerning job center `job_center_id` (all
/// when `None`) were appended since `since`: by its own users, or
/// attributed to it (PostgreSQL attributes an event when it seals it, so
/// the event's own job center also counts one not yet sealed).
pub async fn count_since(
    tx: &mut Tx,
    job_center_id: Option<i64>,
    action: AuditAction,
    since: i64,
) -> Result<i64, StoreError> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM audit_events
             WHERE action = $2 AND at >= $3
               AND ($1 IS NULL OR audit_events.job_center_id = $1
                    OR EXISTS (SELECT 1 FROM audit_attribution a
                                          WHERE a.event_id = audit_events.id AND a.job_center_id = $1))",
            args![job_center_id, action.code(), since],
        )
        .await?;
    Ok(n)
}

/// The outcome of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub checked: u64,
    pub broken: Option<ChainBreak>,
    /// The last event checked (its place and hash), where the next
    /// incremental check goes on.
    pub through: Option<(i64, String)>,
    /// Checked from the start (or from where retention removed events),
    /// not from the last check.
    pub full: bool,
    /// What retention removed before the first event checked.
    pub retention: RetentionState,
}

/// What audit retention removed so far, and whether it is held.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RetentionState {
    /// Events removed by retention since the log began.
    pub removed_total: i64,
    /// Events the last removing run took, and when (UTC unix seconds).
    pub last_removed: i64,
    pub last_removed_at: Option<i64>,
    /// Set while retention is held because one run would have removed more
    /// than a tenth of the log: since when, and how many of how many.
    pub held_at: Option<i64>,
    pub held_events: Option<i64>,
    pub held_of: Option<i64>,
}

impl RetentionState {
    /// The German sentence for the DPO's chain check.
    pub fn removed_sentence(&self) -> String {
        if self.removed_total == 0 {
            return "Die Aufbewahrungsfrist hat bisher keine Ereignisse gelöscht.".to_string();
        }
        let when = self.last_removed_at.map_or_else(String::new, |at| {
            format!(
                ", zuletzt {} am {}",
                events_de(self.last_removed),
                outreach_core::date::format_de_datetime(at)
            )
        });
        format!(
            "Nach Ablauf der Aufbewahrungsfrist wurden bisher {} gelöscht{when}; geprüft wird die Kette ab dem ersten verbliebenen Ereignis.",
            events_de(self.removed_total)
        )
    }

    /// The DPO's warning while retention is held, if it is.
    pub fn held_warning(&self) -> Option<String> {
        let at = self.held_at?;
        Some(format!(
            "Warnung: Die Löschung alter Protokollereignisse wurde am {} angehalten, weil ein Lauf {} von {} gelöscht hätte (mehr als ein Zehntel des Protokolls; üblich ist etwa ein Tag von 365). Das deutet auf eine verstellte Uhr oder eine falsche Einstellung hin. Bitte prüfen Sie das mit der Systemadministration; erst `outreach purge --confirm-audit-retention` gibt die Löschung frei.",
            outreach_core::date::format_de_datetime(at),
            events_de(self.held_events.unwrap_or(0)),
            self.held_of.unwrap_or(0)
        ))
    }
}

fn events_de(n: i64) -> String {
    if n == 1 {
        "1 Ereignis".to_string()
    } else {
        format!("{n} Ereignisse")
    }
}

/// What retention removed so far, and its hold.
pub async fn retention_state(tx: &mut Tx) -> Result<RetentionState, StoreError> {
    tx.fetch_one(
        "SELECT removed_total, last_removed, last_removed_at, held_at, held_events, held_of
         FROM audit_retention WHERE id = 1",
        vec![],
    )
    .await
}

/// Walks the whole chain in sequence order and names the first broken event.
/// The head row must also agree with the last event, so truncating the tail is
/// found too.
pub async fn verify(tx: &mut Tx) -> Result<Verification, StoreError> {
    verify_from(tx, None).await
}

/// Walks the chain from event `from` (its place and hash, as an earlier
/// intact check ended), or from the start when `from` is `None` or lies
/// before what retention removed; see [`verify`].
pub async fn verify_from(
    tx: &mut Tx,
    from: Option<(i64, String)>,
) -> Result<Verification, StoreError> {
    const BATCH: i64 = 1000;
    // Events removed by retention end at the anchor; the first remaining
    // event must follow it, so removing events at the front is found too.
    let (anchor_seq, anchor_hash): (i64, String) = tx
        .fetch_one(
            "SELECT through_seq, through_hash FROM audit_retention WHERE id = 1",
            vec![],
        )
        .await?;
    let (start_seq, start_hash, full) = match from {
        Some((seq, hash)) if seq > anchor_seq => (seq, hash, false),
        _ => (anchor_seq, anchor_hash, true),
    };
    let mut after = start_seq;
    let mut verifier = ChainVerifier::new(&start_hash, Some(start_seq));
    let mut last: Option<StoredEvent> = None;
    loop {
        let events: Vec<StoredEvent> = tx
            .fetch_all(
                "SELECT seq, at, user_id, username, role, action, record_type, record_id, fields, purpose, client, job_center_id, service_center_id, prev_hash, hash
                 FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
                args![after, BATCH],
            )
            .await?;
        let Some(tail) = events.last() else { break };
        after = tail.seq;
        for event in &events {
            if let Err(broken) = verifier.check(&event.record(), &event.hash) {
                return Ok(Verification {
                    checked: verifier.checked,
                    broken: Some(broken),
                    through: None,
                    full,
                    retention: retention_state(tx).await?,
                });
            }
        }
        last = events.into_iter().last();
    }
    let checked = verifier.checked;
    let (head_seq, head_hash): (i64, String) = tx
        .fetch_one(
            "SELECT last_seq, last_hash FROM audit_head WHERE id = 1",
            vec![],
        )
        .await?;
    let head_matches = match &last {
        Some(event) => event.seq == head_seq && event.hash == head_hash,
        None => head_seq == start_seq,
    };
    let broken = (!head_matches).then(|| ChainBreak {
        seq: last.as_ref().map_or(start_seq + 1, |e| e.seq + 1),
        reason: outreach_core::audit::BreakReason::Gap,
    });
    let through = match (&broken, last) {
        (Some(_), _) => None,
        (None, Some(event)) => Some((event.seq, event.hash)),
        (None, None) => Some((head_seq, head_hash)),
    };
    Ok(Verification {
        checked,
        broken,
        through,
        full,
        retention: retention_state(tx).await?,
    })
}

/// A stored verdict of a chain check.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CheckRecord {
    pub checked_at: i64,
    pub events_checked: i64,
    pub broken_seq: Option<i64>,
    pub reason: String,
    /// From the start, not only the events since the check before.
    pub full_check: bool,
}

/// How often the whole chain is checked from the start; in between, the
/// daily check covers the events since the last intact check, so that its
/// cost follows the day's events and a change anywhere is still found
/// within a week.
pub const FULL_CHECK_SECONDS: i64 = 7 * 86_400;

/// Which check to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckScope {
    /// The daily check: from the last intact check, or the whole chain
    /// when the last full check is a week old (or there is none).
    Due,
    /// The whole chain now (the DPO's "Jetzt prüfen", the command line).
    Full,
}

/// Verifies the chain and stores the verdict (the DPO's banner reads the
/// latest one).
pub async fn check_and_record(
    db: &crate::Db,
    now: i64,
    scope: CheckScope,
) -> Result<Verification, StoreError> {
    seal(db).await?;
    let mut tx = db.begin_read().await?;
    let from = match scope {
        CheckScope::Full => None,
        CheckScope::Due => {
            let last_full: Option<(i64,)> = tx
                .fetch_optional(
                    "SELECT checked_at FROM audit_checks
                     WHERE full_check AND broken_seq IS NULL AND through_seq IS NOT NULL
                     ORDER BY id DESC LIMIT 1",
                    vec![],
                )
                .await?;
            let from: Option<(i64, String)> = tx
                .fetch_optional(
                    "SELECT through_seq, through_hash FROM audit_checks
                     WHERE broken_seq IS NULL AND through_seq IS NOT NULL AND through_hash IS NOT NULL
                     ORDER BY id DESC LIMIT 1",
                    vec![],
                )
                .await?;
            match last_full {
                Some((at,)) if now - at < FULL_CHECK_SECONDS => from,
                _ => None,
            }
        }
    };
    let verification = verify_from(&mut tx, from).await?;
    drop(tx);
    let mut tx = db.begin().await?;
    let (through_seq, through_hash) = match &verification.through {
        Some((seq, hash)) => (Some(*seq), Some(hash.clone())),
        None => (None, None),
    };
    tx.execute(
        "INSERT INTO audit_checks (checked_at, events_checked, broken_seq, reason, through_seq, through_hash, full_check)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            now,
            i64::try_from(verification.checked).unwrap_or(i64::MAX),
            verification.broken.as_ref().map(|b| b.seq),
            verification
                .broken
                .as_ref()
                .map(|b| b.reason.label().to_string())
                .unwrap_or_default(),
            through_seq,
            through_hash,
            verification.full
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(verification)
}

/// The latest check's verdict, if any check ran.
pub async fn latest_check(tx: &mut Tx) -> Result<Option<CheckRecord>, StoreError> {
    tx.fetch_optional(
        "SELECT checked_at, events_checked, broken_seq, reason, full_check FROM audit_checks ORDER BY id DESC LIMIT 1",
        vec![],
    )
    .await
}
