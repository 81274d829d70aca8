//! The append-only, hash-chained audit log. Events are appended inside the
//! transaction of the change they record; the chain head row serialises
//! appenders, so events are chained in commit order on both backends.

use crate::{StoreError, Tx, args};
use outreach_core::access::Actor;
use outreach_core::audit::{AuditAction, AuditRecord, event_hash};

mod reading;
pub use reading::*;

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
/// last, and each is attributed to the job center whose data it is about —
/// one transaction per batch, holding the head's lock. Readers of the log
/// (and the deletion run, before it deletes cases) call this first; `outreach serve` runs it continuously. SQLite chains
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
        .bind(&ids)
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
        // Whose data each event is about, off the request that appended it
        // (migration 0029); an event appended before that migration is
        // attributed already.
        sqlx::query(
            "INSERT INTO audit_attribution (event_id, job_center_id, service_center_id, customer_id)
             SELECT e.id, s.job_center_id, e.service_center_id, s.customer_id
             FROM audit_events e,
                  LATERAL audit_subject(e.record_type, e.record_id, e.action, e.purpose, e.job_center_id) s
             WHERE e.id = ANY($1)
               AND (s.job_center_id IS NOT NULL OR e.service_center_id IS NOT NULL
                    OR s.customer_id IS NOT NULL)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
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
