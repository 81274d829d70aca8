//! Long jobs (web imports, print archives) as rows that any server runs and
//! any server answers for (migration 0030). A job is `receiving` while its
//! upload arrives, then `queued`; a server claims it (`running`, leased with
//! a heartbeat), and ends it `done` or `failed`. A running job whose
//! heartbeat lapsed is claimed again by another server. Its contents
//! (upload, archive, the import's issues) are chunks of at most
//! [`CHUNK_BYTES`]. Every time here is the database's clock.
//!
//! PostgreSQL: claimed with `FOR UPDATE SKIP LOCKED`, so that servers never
//! wait for one another; a new job is announced with `NOTIFY outreach_jobs`.
//! SQLite: the one writer serialises claims.

use crate::{Backend, Db, StoreError, Tx, args};

/// The most bytes of one chunk: one short write each.
pub const CHUNK_BYTES: usize = 1 << 20;
/// The channel a new job is announced on (PostgreSQL).
pub const CHANNEL: &str = "outreach_jobs";

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Import,
    Print,
}

impl Kind {
    pub fn code(self) -> &'static str {
        match self {
            Kind::Import => "import",
            Kind::Print => "print",
        }
    }
}

/// A job's stored contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The uploaded export of an import.
    Upload,
    /// A print job's ZIP archive.
    Archive,
    /// An import's rejected and warned rows (CSV).
    Issues,
}

impl Part {
    pub fn code(self) -> &'static str {
        match self {
            Part::Upload => "upload",
            Part::Archive => "archive",
            Part::Issues => "issues",
        }
    }
}

/// A new job, before its upload or its queueing.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: String,
    pub kind: Kind,
    pub job_center_id: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    pub client: String,
    pub file_name: String,
    pub params: String,
    pub progress_total: i64,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Job {
    pub id: String,
    pub kind: String,
    pub job_center_id: i64,
    pub user_id: Option<i64>,
    pub username: String,
    pub role: String,
    pub client: String,
    pub file_name: String,
    pub params: String,
    pub state: String,
    pub progress_done: i64,
    pub progress_total: i64,
    pub owner: Option<String>,
    pub heartbeat_at: Option<i64>,
    pub attempts: i32,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub fetched_at: Option<i64>,
    pub message: String,
    pub result: Option<String>,
    pub input_size: i64,
    pub output_size: i64,
}

impl Job {
    pub fn is_running(&self) -> bool {
        matches!(self.state.as_str(), "queued" | "running")
    }
}

macro_rules! job_columns {
    () => {
        "id, kind, job_center_id, user_id, username, role, client, file_name, params, state,
         progress_done, progress_total, owner, heartbeat_at, attempts, created_at, started_at,
         finished_at, fetched_at, message, result, input_size, output_size"
    };
}

/// The database's clock, UTC seconds.
pub async fn now(tx: &mut Tx) -> Result<i64, StoreError> {
    let sql = match tx.backend() {
        Backend::Sqlite => "SELECT unixepoch()",
        Backend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
    };
    let (now,): (i64,) = tx.fetch_one(sql, vec![]).await?;
    Ok(now)
}

/// Stores `job` as receiving its upload (`queued`: ready to run at once).
pub async fn create(db: &Db, job: &NewJob, queued: bool) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let at = now(&mut tx).await?;
    tx.execute(
        "INSERT INTO jobs (id, kind, job_center_id, user_id, username, role, client, file_name,
                           params, state, progress_total, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        args![
            &job.id,
            job.kind.code(),
            job.job_center_id,
            job.user_id,
            &job.username,
            &job.role,
            &job.client,
            &job.file_name,
            &job.params,
            if queued { "queued" } else { "receiving" },
            job.progress_total,
            at
        ],
    )
    .await?;
    if queued {
        announce(&mut tx).await?;
    }
    tx.commit().await
}

async fn announce(tx: &mut Tx) -> Result<(), StoreError> {
    if tx.backend() == Backend::Postgres {
        tx.execute("SELECT pg_notify('outreach_jobs', '')", vec![])
            .await?;
    }
    Ok(())
}

/// Appends chunk `seq` of `part` (one short write).
pub async fn append_chunk(
    db: &Db,
    id: &str,
    part: Part,
    seq: i64,
    data: Vec<u8>,
) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.execute(
        "INSERT INTO job_chunks (job_id, part, seq, data) VALUES ($1, $2, $3, $4)",
        args![id, part.code(), seq, data],
    )
    .await?;
    tx.commit().await
}

/// A received upload of `size` bytes: the job is queued, with its
/// parameters as they are known now.
pub async fn queue(db: &Db, id: &str, size: i64, params: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    tx.execute(
        "UPDATE jobs SET state = 'queued', input_size = $2, progress_total = $2, params = $3
         WHERE id = $1 AND state = 'receiving'",
        args![id, size, params],
    )
    .await?;
    announce(&mut tx).await?;
    tx.commit().await
}

/// Chunk `seq` of `part`, if stored.
pub async fn chunk(
    tx: &mut Tx,
    id: &str,
    part: Part,
    seq: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let row: Option<(Vec<u8>,)> = tx
        .fetch_optional(
            "SELECT data FROM job_chunks WHERE job_id = $1 AND part = $2 AND seq = $3",
            args![id, part.code(), seq],
        )
        .await?;
    Ok(row.map(|(data,)| data))
}

/// How many chunks of `part` are stored.
pub async fn chunk_count(tx: &mut Tx, id: &str, part: Part) -> Result<i64, StoreError> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM job_chunks WHERE job_id = $1 AND part = $2",
            args![id, part.code()],
        )
        .await?;
    Ok(n)
}

/// Deletes `part` of job `id`, a few chunks per write.
pub async fn delete_part(db: &Db, id: &str, part: Part) -> Result<(), StoreError> {
    loop {
        let mut tx = db.begin().await?;
        let deleted = tx
            .execute(
                "DELETE FROM job_chunks WHERE job_id = $1 AND part = $2 AND seq IN
                   (SELECT seq FROM job_chunks WHERE job_id = $1 AND part = $2 ORDER BY seq LIMIT 16)",
                args![id, part.code()],
            )
            .await?;
        tx.commit().await?;
        if deleted == 0 {
            return Ok(());
        }
    }
}

/// Gives the chunks of `part` of job `from` to job `to` (a confirmed dry
/// run's upload goes to the real import).
pub async fn move_part(tx: &mut Tx, from: &str, to: &str, part: Part) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE job_chunks SET job_id = $2 WHERE job_id = $1 AND part = $3",
        args![from, to, part.code()],
    )
    .await?;
    Ok(())
}

/// The job `id`.
pub async fn get(tx: &mut Tx, id: &str) -> Result<Option<Job>, StoreError> {
    tx.fetch_optional(
        concat!("SELECT ", job_columns!(), " FROM jobs WHERE id = $1"),
        args![id],
    )
    .await
}

/// The newest job of `kind` of a job center whose parameters are `params`
/// (a batch's print job).
pub async fn latest(
    tx: &mut Tx,
    job_center_id: i64,
    kind: Kind,
    params: &str,
) -> Result<Option<Job>, StoreError> {
    tx.fetch_optional(
        concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE job_center_id = $1 AND kind = $2 AND params = $3
              ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
        args![job_center_id, kind.code(), params],
    )
    .await
}

/// Claims the oldest queued job, or a running one whose heartbeat is older
/// than `lapse` seconds, for `owner`.
pub async fn claim(db: &Db, owner: &str, lapse: i64) -> Result<Option<Job>, StoreError> {
    let mut tx = db.begin().await?;
    let at = now(&mut tx).await?;
    let job = match tx.backend() {
        Backend::Postgres => {
            tx.fetch_optional(
                concat!(
                    "UPDATE jobs SET state = 'running', owner = $1, heartbeat_at = $2,
                            started_at = COALESCE(started_at, $2), attempts = attempts + 1
                     WHERE id = (SELECT id FROM jobs
                                 WHERE state = 'queued' OR (state = 'running' AND heartbeat_at < $3)
                                 ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                     RETURNING ",
                    job_columns!()
                ),
                args![owner, at, at - lapse],
            )
            .await?
        }
        Backend::Sqlite => {
            tx.fetch_optional(
                concat!(
                    "UPDATE jobs SET state = 'running', owner = $1, heartbeat_at = $2,
                            started_at = COALESCE(started_at, $2), attempts = attempts + 1
                     WHERE id = (SELECT id FROM jobs
                                 WHERE state = 'queued' OR (state = 'running' AND heartbeat_at < $3)
                                 ORDER BY created_at, id LIMIT 1)
                     RETURNING ",
                    job_columns!()
                ),
                args![owner, at, at - lapse],
            )
            .await?
        }
    };
    tx.commit().await?;
    Ok(job)
}

/// Renews `owner`'s lease of job `id` and stores its progress; `false` when
/// the job is no longer the owner's (taken over, or ended).
pub async fn heartbeat(
    db: &Db,
    id: &str,
    owner: &str,
    done: i64,
    total: i64,
) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let at = now(&mut tx).await?;
    let n = tx
        .execute(
            "UPDATE jobs SET heartbeat_at = $3, progress_done = $4, progress_total = $5
             WHERE id = $1 AND owner = $2 AND state = 'running'",
            args![id, owner, at, done, total],
        )
        .await?;
    tx.commit().await?;
    Ok(n == 1)
}

/// How a job ended.
#[derive(Debug, Clone)]
pub enum End {
    Done { result: String, output_size: i64 },
    Failed { message: String },
}

/// Ends `owner`'s job `id`; `false` when it was no longer the owner's.
pub async fn finish(db: &Db, id: &str, owner: &str, end: End) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let finished = finish_in(&mut tx, id, owner, end).await?;
    tx.commit().await?;
    Ok(finished)
}

/// [`finish`] in the caller's transaction.
pub async fn finish_in(tx: &mut Tx, id: &str, owner: &str, end: End) -> Result<bool, StoreError> {
    let at = now(tx).await?;
    let (state, message, result, size) = match end {
        End::Done {
            result,
            output_size,
        } => ("done", String::new(), Some(result), output_size),
        End::Failed { message } => ("failed", message, None, 0),
    };
    let n = tx
        .execute(
            "UPDATE jobs SET state = $3, message = $4, result = $5, output_size = $6,
                    finished_at = $7, progress_done = progress_total
             WHERE id = $1 AND owner = $2 AND state = 'running'",
            args![id, owner, state, message, result, size, at],
        )
        .await?;
    Ok(n == 1)
}

/// Notes a download of the job's result (its archive is kept an hour from
/// then).
pub async fn fetched(db: &Db, id: &str) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    let at = now(&mut tx).await?;
    tx.execute(
        "UPDATE jobs SET fetched_at = $2 WHERE id = $1",
        args![id, at],
    )
    .await?;
    tx.commit().await
}

/// Deletes job `id` with its chunks (the chunks first, a few per write).
pub async fn delete(db: &Db, id: &str) -> Result<(), StoreError> {
    for part in [Part::Upload, Part::Archive, Part::Issues] {
        delete_part(db, id, part).await?;
    }
    let mut tx = db.begin().await?;
    tx.execute("DELETE FROM jobs WHERE id = $1", args![id])
        .await?;
    tx.commit().await
}

/// The jobs whose contents are no longer needed: ended more than `kept`
/// seconds ago (and not downloaded within that time), and uploads that
/// never finished arriving within it.
pub async fn expired(db: &Db, kept: i64) -> Result<Vec<String>, StoreError> {
    let mut tx = db.read().await?;
    let at = now(&mut tx).await?;
    let rows: Vec<(String,)> = tx
        .fetch_all(
            "SELECT id FROM jobs
             WHERE (state IN ('done', 'failed')
                    AND COALESCE(fetched_at, finished_at) < $1 AND finished_at < $1)
                OR (state = 'receiving' AND created_at < $1)",
            args![at - kept],
        )
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// A job that holds a person's data (for the Art. 15 disclosure).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Holding {
    pub id: String,
    pub kind: String,
    pub file_name: String,
    pub created_at: i64,
    pub username: String,
    pub state: String,
}

/// The print jobs of job center `job_center_id` whose archive (kept or
/// being made) holds customer `customer_id`'s letter.
pub async fn prints_holding(
    tx: &mut Tx,
    job_center_id: i64,
    customer_id: i64,
) -> Result<Vec<Holding>, StoreError> {
    let jobs: Vec<(String, String, String, i64, String, String, String)> = tx
        .fetch_all(
            "SELECT id, kind, file_name, created_at, username, state, params FROM jobs
             WHERE job_center_id = $1 AND kind = 'print'
               AND (state IN ('queued', 'running')
                    OR EXISTS (SELECT 1 FROM job_chunks c WHERE c.job_id = jobs.id AND c.part = 'archive'))
             ORDER BY created_at",
            args![job_center_id],
        )
        .await?;
    let mut holding = Vec::new();
    for (id, kind, file_name, created_at, username, state, params) in jobs {
        let batch = serde_json::from_str::<serde_json::Value>(&params)
            .ok()
            .and_then(|v| v.get("batch_id").and_then(serde_json::Value::as_i64));
        let Some(batch) = batch else { continue };
        let (n,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM letters WHERE batch_id = $1 AND customer_id = $2",
                args![batch, customer_id],
            )
            .await?;
        if n > 0 {
            holding.push(Holding {
                id,
                kind,
                file_name,
                created_at,
                username,
                state,
            });
        }
    }
    Ok(holding)
}

/// The import jobs of job center `job_center_id` whose stored upload holds
/// customer number `number` as a field of its own (read chunk by chunk).
pub async fn imports_holding(
    db: &Db,
    job_center_id: i64,
    number: &str,
) -> Result<Vec<Holding>, StoreError> {
    let mut tx = db.read().await?;
    let jobs: Vec<Holding> = tx
        .fetch_all(
            "SELECT id, kind, file_name, created_at, username, state FROM jobs
             WHERE job_center_id = $1 AND kind = 'import'
               AND EXISTS (SELECT 1 FROM job_chunks c WHERE c.job_id = jobs.id AND c.part = 'upload')
             ORDER BY created_at",
            args![job_center_id],
        )
        .await?;
    let mut holding = Vec::new();
    for job in jobs {
        let count = chunk_count(&mut tx, &job.id, Part::Upload).await?;
        let mut carry: Vec<u8> = Vec::new();
        let mut found = false;
        for seq in 0..count {
            let Some(data) = chunk(&mut tx, &job.id, Part::Upload, seq).await? else {
                break;
            };
            // A number may straddle two chunks: the end of the last one
            // is searched again with this one.
            let mut window = std::mem::take(&mut carry);
            window.extend_from_slice(&data);
            if holds_field(&window, number.as_bytes()) {
                found = true;
                break;
            }
            let keep = window.len().min(number.len() + 2);
            carry = window[window.len() - keep..].to_vec();
        }
        if found {
            holding.push(job);
        }
    }
    Ok(holding)
}

/// Whether `text` holds `field` between field boundaries (start or end,
/// `;`, `,`, tab, a quote or a line break).
fn holds_field(text: &[u8], field: &[u8]) -> bool {
    if field.is_empty() || text.len() < field.len() {
        return false;
    }
    let boundary = |b: u8| matches!(b, b';' | b',' | b'\t' | b'"' | b'\r' | b'\n');
    text.windows(field.len()).enumerate().any(|(i, w)| {
        w == field
            && (i == 0 || boundary(text[i - 1]))
            && text.get(i + field.len()).is_none_or(|&b| boundary(b))
    })
}

#[cfg(test)]
mod tests {
    use super::holds_field;

    #[test]
    fn a_number_is_found_as_a_field_only() {
        assert!(holds_field(b"123;A0001;x", b"A0001"));
        assert!(holds_field(b"A0001;x", b"A0001"));
        assert!(holds_field(b"x;\"A0001\"\n", b"A0001"));
        assert!(!holds_field(b"x;A00012;y", b"A0001"));
        assert!(!holds_field(b"x;BA0001;y", b"A0001"));
    }
}

/// The counts of the import that job `id` stored, if it stored one (in the
/// import's own transaction: then the job must not run it again).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredImport {
    pub id: i64,
    pub rows_read: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub inserted: i64,
    pub updated: i64,
    pub unchanged: i64,
    pub missing: i64,
    pub warnings: i64,
}

pub async fn stored_import(tx: &mut Tx, id: &str) -> Result<Option<StoredImport>, StoreError> {
    tx.fetch_optional(
        "SELECT id, rows_read, accepted, rejected, inserted, updated, unchanged, missing, warnings
         FROM imports WHERE job_id = $1 AND finished_at IS NOT NULL",
        args![id],
    )
    .await
}

/// PostgreSQL: calls `queued` whenever any server announces a new job
/// (`NOTIFY outreach_jobs`), until the task is dropped; after a lost
/// connection it listens again (the workers also look every second).
/// SQLite: returns at once (one process; its own queueing wakes it).
pub async fn hear_queued(db: &Db, queued: impl Fn()) {
    let Some(pool) = db.postgres_pool() else {
        return;
    };
    loop {
        match sqlx::postgres::PgListener::connect_with(pool).await {
            Ok(mut listener) => match listener.listen(CHANNEL).await {
                Ok(()) => {
                    while let Ok(Some(_)) = listener.try_recv().await {
                        queued();
                    }
                }
                Err(error) => tracing::warn!(%error, "listening for new jobs failed"),
            },
            Err(error) => tracing::warn!(%error, "listening for new jobs failed"),
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
