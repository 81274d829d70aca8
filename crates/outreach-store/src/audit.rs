//! The append-only, hash-chained audit log. Events are appended inside the
//! transaction of the change they record; the chain head row serialises
//! appenders, so events are chained in commit order on both backends.

use crate::{StoreError, Tx, args};
use outreach_core::access::Actor;
use outreach_core::audit::{AuditAction, AuditRecord, ChainBreak, ChainVerifier, event_hash};

/// An event to append: who did what to which record, for which purpose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    pub action: AuditAction,
    pub record_type: String,
    pub record_id: String,
    pub fields: String,
    pub purpose: String,
    pub client: String,
    pub job_center_id: Option<i64>,
    pub service_center_id: Option<i64>,
}

impl AuditEvent {
    /// An event caused by a logged-in actor.
    pub fn by(actor: &Actor, action: AuditAction, client: &str) -> AuditEvent {
        AuditEvent {
            user_id: Some(actor.user_id),
            username: actor.username.clone(),
            role: actor.role.code().to_string(),
            action,
            record_type: String::new(),
            record_id: String::new(),
            fields: String::new(),
            purpose: String::new(),
            client: client.to_string(),
            job_center_id: actor.home.job_center(),
            service_center_id: actor.home.service_center(),
        }
    }

    /// An event without a logged-in actor (a failed login, a batch job).
    pub fn anonymous(username: &str, action: AuditAction, client: &str) -> AuditEvent {
        AuditEvent {
            user_id: None,
            username: username.to_string(),
            role: String::new(),
            action,
            record_type: String::new(),
            record_id: String::new(),
            fields: String::new(),
            purpose: String::new(),
            client: client.to_string(),
            job_center_id: None,
            service_center_id: None,
        }
    }

    pub fn record(mut self, record_type: &str, record_id: impl ToString) -> AuditEvent {
        self.record_type = record_type.to_string();
        self.record_id = record_id.to_string();
        self
    }

    pub fn fields(mut self, fields: &str) -> AuditEvent {
        self.fields = fields.to_string();
        self
    }

    pub fn purpose(mut self, purpose: &str) -> AuditEvent {
        self.purpose = purpose.to_string();
        self
    }

    /// The job center whose data the event concerns (its DPO sees the event).
    pub fn job_center(mut self, id: Option<i64>) -> AuditEvent {
        if id.is_some() {
            self.job_center_id = id;
        }
        self
    }
}

pub(crate) fn record_of(event: &AuditEvent, seq: i64, prev_hash: String, now: i64) -> AuditRecord {
    AuditRecord {
        seq,
        at: now,
        user_id: event.user_id,
        username: event.username.clone(),
        role: event.role.clone(),
        action: event.action.code().to_string(),
        record_type: event.record_type.clone(),
        record_id: event.record_id.clone(),
        fields: event.fields.clone(),
        purpose: event.purpose.clone(),
        client: event.client.clone(),
        job_center_id: event.job_center_id,
        service_center_id: event.service_center_id,
        prev_hash,
    }
}

/// The columns an event is stored in before it has its place in the chain,
/// in the order of [`unsealed_args`]. The one list of them: every insert into
/// `audit_events` is built from it.
macro_rules! event_columns {
    () => {
        "at, user_id, username, role, action, record_type, record_id, fields, purpose, client, job_center_id, service_center_id"
    };
}
pub(crate) use event_columns;

/// `INSERT INTO audit_events (…)` with the columns of an unsealed event, for
/// a statement that inserts events from a query of its own (the lease).
macro_rules! insert_unsealed_into {
    () => {
        concat!(
            "INSERT INTO audit_events (",
            $crate::audit::event_columns!(),
            ")"
        )
    };
}
pub(crate) use insert_unsealed_into;

/// An event without its place in the chain (PostgreSQL; sealed later).
const INSERT_UNSEALED: &str = concat!(
    insert_unsealed_into!(),
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
);

/// An event chained at once as `seq` after `prev_hash` ($1, $14), inserted
/// only while the head is still the one it was chained to; the parameters are
/// [`chained_args`]. Also the SQLite bulk import's statement (as named
/// parameters `$1`…`$15`).
pub(crate) const INSERT_CHAINED: &str = concat!(
    "INSERT INTO audit_events (seq, ",
    event_columns!(),
    ", prev_hash, hash)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15
     WHERE EXISTS (SELECT 1 FROM audit_head WHERE id = 1 AND last_seq = $1 - 1 AND last_hash = $14)"
);

fn unsealed_args(record: AuditRecord) -> Vec<crate::Arg> {
    args![
        record.at,
        record.user_id,
        record.username,
        record.role,
        record.action,
        record.record_type,
        record.record_id,
        record.fields,
        record.purpose,
        record.client,
        record.job_center_id,
        record.service_center_id
    ]
}

/// The parameters of [`INSERT_CHAINED`] for `event` as event `seq` after
/// `prev_hash`, and its hash.
pub(crate) fn chained_args(
    event: &AuditEvent,
    seq: i64,
    prev_hash: String,
    now: i64,
) -> (Vec<crate::Arg>, String) {
    let record = record_of(event, seq, prev_hash, now);
    let hash = event_hash(&record);
    let mut args = args![record.seq];
    let prev_hash = record.prev_hash.clone();
    args.extend(unsealed_args(record));
    args.extend(args![prev_hash, hash.clone()]);
    (args, hash)
}

/// Appends one event.
///
/// PostgreSQL: the event is inserted without its place in the chain and
/// sealed after the commit (see [`seal`]), so that concurrent appenders never
/// wait for one another. SQLite (one writer): the event is chained at once,
/// inserted only if the head is still the one it was chained to — one
/// statement when this process's cached head is right, so an audited read
/// needs no transaction of its own.
pub async fn append(tx: &mut Tx, event: &AuditEvent, now: i64) -> Result<(), StoreError> {
    let Some(cache) = tx.audit_head().cloned() else {
        let record = record_of(event, 0, String::new(), now);
        tx.execute(INSERT_UNSEALED, unsealed_args(record)).await?;
        tx.appended_unsealed();
        return Ok(());
    };
    // Another process may append between reading the head and inserting;
    // then nothing is inserted and the head is read again.
    for _ in 0..16 {
        let (last_seq, last_hash) = match cache.get() {
            Some(head) => head,
            None => {
                tx.fetch_one::<(i64, String)>(
                    "SELECT last_seq, last_hash FROM audit_head WHERE id = 1",
                    vec![],
                )
                .await?
            }
        };
        let seq = last_seq + 1;
        let (args, hash) = chained_args(event, seq, last_hash, now);
        let inserted = tx.execute(INSERT_CHAINED, args).await?;
        if inserted == 1 {
            cache.set(Some((seq, hash)));
            return Ok(());
        }
        cache.set(None);
    }
    Err(StoreError::AuditChain(
        "its head kept moving; event not appended".into(),
    ))
}

/// Appends one event on its own (an audited read): on SQLite a single
/// statement on the writer, without a transaction of its own.
pub async fn append_alone(db: &crate::Db, event: &AuditEvent, now: i64) -> Result<(), StoreError> {
    let mut tx = db.write_once().await?;
    append(&mut tx, event, now).await?;
    tx.commit().await
}

/// An event appended on PostgreSQL and not yet sealed into the chain.
#[derive(sqlx::FromRow)]
struct Unsealed {
    id: i64,
    at: i64,
    user_id: Option<i64>,
    username: String,
    role: String,
    action: String,
    record_type: String,
    record_id: String,
    fields: String,
    purpose: String,
    client: String,
    job_center_id: Option<i64>,
    service_center_id: Option<i64>,
}

/// Events sealed per transaction.
const SEAL_BATCH: i64 = 2000;

/// Seals the appended events into the hash chain: each committed event not
/// yet in the chain gets the next place (in the order the events were
/// appended), its predecessor's hash and its own, and the head moves to the
/// last — one transaction per batch, holding the head's lock. Readers of the
/// log call this first; `outreach serve` runs it continuously. SQLite chains
/// each event as it is appended: nothing to do. Returns the events sealed.
pub async fn seal(db: &crate::Db) -> Result<u64, StoreError> {
    match db.postgres_pool() {
        Some(pool) => seal_postgres(pool, true).await,
        None => Ok(0),
    }
}

/// [`seal`] on PostgreSQL. `wait`: wait for a sealer already at work (and
/// then seal what it left); otherwise leave it to that sealer.
pub(crate) async fn seal_postgres(pool: &sqlx::PgPool, wait: bool) -> Result<u64, StoreError> {
    let mut sealed = 0;
    loop {
        let mut tx = pool.begin().await?;
        let head: Option<(i64, String)> = sqlx::query_as(if wait {
            "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE"
        } else {
            "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE SKIP LOCKED"
        })
        .fetch_optional(&mut *tx)
        .await?;
        let Some((mut seq, mut prev_hash)) = head else {
            return Ok(sealed);
        };
        let events: Vec<Unsealed> = sqlx::query_as(
            "SELECT id, at, user_id, username, role, action, record_type, record_id, fields, purpose, client,
                    job_center_id, service_center_id
             FROM audit_events WHERE seq IS NULL ORDER BY id LIMIT $1",
        )
        .bind(SEAL_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if events.is_empty() {
            tx.commit().await?;
            return Ok(sealed);
        }
        let count = events.len();
        let (mut ids, mut seqs, mut prevs, mut hashes) = (
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
            Vec::with_capacity(count),
        );
        for e in events {
            seq += 1;
            let record = AuditRecord {
                seq,
                at: e.at,
                user_id: e.user_id,
                username: e.username,
                role: e.role,
                action: e.action,
                record_type: e.record_type,
                record_id: e.record_id,
                fields: e.fields,
                purpose: e.purpose,
                client: e.client,
                job_center_id: e.job_center_id,
                service_center_id: e.service_center_id,
                prev_hash: prev_hash.clone(),
            };
            let hash = event_hash(&record);
            ids.push(e.id);
            seqs.push(seq);
            prevs.push(std::mem::replace(&mut prev_hash, hash.clone()));
            hashes.push(hash);
        }
        let updated = sqlx::query(
            "UPDATE audit_events e SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash
             FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::TEXT[], $4::TEXT[]) AS v(id, seq, prev_hash, hash)
             WHERE e.id = v.id AND e.seq IS NULL",
        )
        .bind(ids)
        .bind(seqs)
        .bind(prevs)
        .bind(hashes)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if updated != count as u64 {
            // Dropping the transaction leaves everything as it was.
            return Err(StoreError::AuditChain(format!(
                "sealing: {updated} of {count} events sealed"
            )));
        }
        sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&prev_hash)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        sealed += count as u64;
        if (count as i64) < SEAL_BATCH {
            return Ok(sealed);
        }
    }
}

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
/// to events concerning that job center; `None` (a global DPO) sees all.
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
            "SELECT seq, at, user_id, username, role, action, record_type, record_id, fields, purpose, client, job_center_id, service_center_id, prev_hash, hash
         FROM audit_events
         WHERE seq IS NOT NULL AND ($1 IS NULL OR job_center_id = $1)
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

/// The outcome of verifying the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub checked: u64,
    pub broken: Option<ChainBreak>,
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
    const BATCH: i64 = 1000;
    // Events removed by retention end at the anchor; the first remaining
    // event must follow it, so removing events at the front is found too.
    let (anchor_seq, anchor_hash): (i64, String) = tx
        .fetch_one(
            "SELECT through_seq, through_hash FROM audit_retention WHERE id = 1",
            vec![],
        )
        .await?;
    let mut after = anchor_seq;
    let mut verifier = ChainVerifier::new(&anchor_hash, Some(anchor_seq));
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
        None => head_seq == anchor_seq,
    };
    let broken = (!head_matches).then(|| ChainBreak {
        seq: last.as_ref().map_or(anchor_seq + 1, |e| e.seq + 1),
        reason: outreach_core::audit::BreakReason::Gap,
    });
    Ok(Verification {
        checked,
        broken,
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
}

/// Verifies the chain and stores the verdict (the DPO's banner reads the
/// latest one).
pub async fn check_and_record(db: &crate::Db, now: i64) -> Result<Verification, StoreError> {
    seal(db).await?;
    let mut tx = db.begin_read().await?;
    let verification = verify(&mut tx).await?;
    drop(tx);
    let mut tx = db.begin().await?;
    tx.execute(
        "INSERT INTO audit_checks (checked_at, events_checked, broken_seq, reason) VALUES ($1, $2, $3, $4)",
        args![
            now,
            i64::try_from(verification.checked).unwrap_or(i64::MAX),
            verification.broken.as_ref().map(|b| b.seq),
            verification
                .broken
                .as_ref()
                .map(|b| b.reason.label().to_string())
                .unwrap_or_default()
        ],
    )
    .await?;
    tx.commit().await?;
    Ok(verification)
}

/// The latest check's verdict, if any check ran.
pub async fn latest_check(tx: &mut Tx) -> Result<Option<CheckRecord>, StoreError> {
    tx.fetch_optional(
        "SELECT checked_at, events_checked, broken_seq, reason FROM audit_checks ORDER BY id DESC LIMIT 1",
        vec![],
    )
    .await
}
