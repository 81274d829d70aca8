//! A leased case's call attempts: start, finish with the calling rules'
//! verdict, reschedule.

use super::*;

/// One call attempt as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AttemptRow {
    pub id: i64,
    pub case_id: i64,
    pub user_id: Option<i64>,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub result: Option<String>,
    pub phone_used: Option<String>,
    pub callback_at: Option<i64>,
}

/// The case's attempts, oldest first.
pub async fn attempts(tx: &mut Tx, case_id: i64) -> Result<Vec<AttemptRow>, StoreError> {
    tx.fetch_all(
        concat!(
            attempt_select!(),
            "WHERE case_id = $1 ORDER BY started_at, id"
        ),
        args![case_id],
    )
    .await
}

/// The attempt `agent_id` started and has not finished, among a case's
/// attempts (as [`attempts`] returns them) — what [`open_attempt`] reads.
pub fn open_among(attempts: &[AttemptRow], agent_id: i64) -> Option<AttemptRow> {
    attempts
        .iter()
        .filter(|a| a.user_id == Some(agent_id) && a.ended_at.is_none())
        .max_by_key(|a| a.id)
        .cloned()
}

/// The attempt the agent started on the case and has not finished.
pub async fn open_attempt(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
) -> Result<Option<AttemptRow>, StoreError> {
    tx.fetch_optional(
        concat!(
            attempt_select!(),
            "WHERE case_id = $1 AND user_id = $2 AND ended_at IS NULL ORDER BY id DESC LIMIT 1"
        ),
        args![case_id, agent_id],
    )
    .await
}

/// Records the start of a call ("Anruf starten") on a case the agent holds;
/// an attempt already open is returned as it is (a reload). `None` when the
/// lease is not the agent's.
pub async fn start_attempt(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
    number: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let started: Option<(i64,)> = tx
        .fetch_optional(
            "INSERT INTO attempts (case_id, user_id, started_at, phone_used)
             SELECT $1, $2, $3, $4
             WHERE EXISTS (SELECT 1 FROM cases WHERE id = $1 AND leased_to = $2
                             AND lease_expires_at >= $3 AND final_disposition IS NULL)
               AND NOT EXISTS (SELECT 1 FROM attempts
                               WHERE case_id = $1 AND user_id = $2 AND ended_at IS NULL)
             RETURNING id",
            args![case_id, agent_id, now, number],
        )
        .await?;
    if let Some((id,)) = started {
        return Ok(Some(id));
    }
    // Not started: an attempt is open already (a reload), or the lease is gone.
    let held: Option<(i64,)> = tx
        .fetch_optional(
            "SELECT id FROM cases WHERE id = $1 AND leased_to = $2 AND lease_expires_at >= $3
               AND final_disposition IS NULL",
            args![case_id, agent_id, now],
        )
        .await?;
    if held.is_none() {
        return Ok(None);
    }
    Ok(open_attempt(tx, case_id, agent_id).await?.map(|a| a.id))
}

/// "Anruf starten": [`start_attempt`], the lease renewed (when older than
/// a minute) and `event` appended, in one transaction; `{}` in the event's fields stands for the
/// attempt. Returns the attempt, `None` when the lease is not the agent's.
pub async fn start_attempt_audited(
    db: &Db,
    case_id: i64,
    agent_id: i64,
    number: &str,
    now: i64,
    event: &AuditEvent,
) -> Result<Option<i64>, StoreError> {
    let mut tx = db.begin().await?;
    let Some(attempt) = start_attempt(&mut tx, case_id, agent_id, number, now).await? else {
        return Ok(None);
    };
    // The lease is the agent's (checked above). Renewed unless it was
    // taken or renewed within the last minute: a call started right after
    // the lease writes nothing more to the case.
    tx.execute(
        "UPDATE cases SET lease_expires_at = $3
         WHERE id = $1 AND leased_to = $2 AND lease_expires_at < $4",
        args![
            case_id,
            agent_id,
            now + LEASE_SECONDS,
            now + LEASE_SECONDS - RENEWAL_STEP
        ],
    )
    .await?;
    let fields = event.fields.replace("{}", &attempt.to_string());
    crate::audit::append(&mut tx, &event.clone().fields(&fields), now).await?;
    tx.commit().await?;
    Ok(Some(attempt))
}

/// The result of the agent's open attempt: [`finish_attempt`] with `event`
/// appended, in one transaction. False as there.
pub async fn finish_attempt_audited(
    db: &Db,
    finished: Finished<'_>,
    event: &AuditEvent,
) -> Result<bool, StoreError> {
    let Finished {
        attempt_id,
        agent_id,
        result,
        callback_at,
        after,
        now,
    } = finished;
    let mut tx = db.begin().await?;
    if !finish_attempt(
        &mut tx,
        attempt_id,
        agent_id,
        result,
        callback_at,
        after,
        now,
    )
    .await?
    {
        return Ok(false);
    }
    crate::audit::append(&mut tx, event, now).await?;
    tx.commit().await?;
    Ok(true)
}

/// An attempt's result as [`finish_attempt_audited`] records it.
#[derive(Debug, Clone, Copy)]
pub struct Finished<'a> {
    pub attempt_id: i64,
    pub agent_id: i64,
    /// The result's code.
    pub result: &'a str,
    pub callback_at: Option<i64>,
    pub after: AfterAttempt,
    pub now: i64,
}

/// What follows an attempt for its case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Reached: the conversation follows; the lease stays.
    Conversation,
    /// Due again from `at`; a callback belongs to `agent` until `own_until`.
    Due {
        at: i64,
        callback: Option<(i64, i64)>,
    },
    /// The case is closed with this disposition (its code).
    Final(&'static str),
}

/// Records an attempt's result and what follows for the case. False when
/// the attempt is not the agent's open one on a case they hold.
pub async fn finish_attempt(
    tx: &mut Tx,
    attempt_id: i64,
    agent_id: i64,
    result: &str,
    callback_at: Option<i64>,
    after: AfterAttempt,
    now: i64,
) -> Result<bool, StoreError> {
    let finished: Option<(i64,)> = tx
        .fetch_optional(
            "UPDATE attempts SET ended_at = $3, result = $4, callback_at = $5
             WHERE id = $1 AND user_id = $2 AND ended_at IS NULL
               AND case_id IN (SELECT id FROM cases WHERE leased_to = $2)
             RETURNING case_id",
            args![attempt_id, agent_id, now, result, callback_at],
        )
        .await?;
    let Some((case_id,)) = finished else {
        return Ok(false);
    };
    match after {
        AfterAttempt::Conversation => {
            // Due at once: should the conversation be left unfinished, the
            // case is called again when the lease has run out.
            tx.execute(
                "UPDATE cases SET attempts_count = attempts_count + 1, callback_at = NULL, callback_user_id = NULL,
                    due_at = $2
                 WHERE id = $1",
                args![case_id, now],
            )
            .await?;
        }
        AfterAttempt::Due { at, callback } => {
            let (callback_at, callback_user) = match callback {
                Some((agent, _)) => (callback_at, Some(agent)),
                None => (None, None),
            };
            tx.execute(
                "UPDATE cases SET attempts_count = attempts_count + 1, due_at = $2, callback_at = $3,
                    callback_user_id = $4, leased_to = NULL, lease_expires_at = NULL
                 WHERE id = $1",
                args![case_id, at, callback_at, callback_user],
            )
            .await?;
        }
        AfterAttempt::Final(code) => {
            tx.execute(
                "UPDATE cases SET attempts_count = attempts_count + 1, final_disposition = $2, state = 'final',
                    due_at = NULL, callback_at = NULL, callback_user_id = NULL, leased_to = NULL, lease_expires_at = NULL,
                    closed_at = $3
                 WHERE id = $1",
                args![case_id, code, now],
            )
            .await?;
        }
    }
    Ok(true)
}

/// After a dropped conversation: the case is due again at `due_at` (or
/// closed with `final_code`), and the lease ends.
pub async fn reschedule(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
    due_at: Option<i64>,
    final_code: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "UPDATE cases SET due_at = $3, final_disposition = $4,
                state = CASE WHEN $4 IS NULL THEN state ELSE 'final' END,
                closed_at = CASE WHEN $4 IS NULL THEN closed_at ELSE $5 END,
                leased_to = NULL, lease_expires_at = NULL
             WHERE id = $1 AND leased_to = $2",
            args![case_id, agent_id, due_at, final_code, now],
        )
        .await?
        == 1)
}
