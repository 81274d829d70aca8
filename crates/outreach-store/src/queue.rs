//! The call queue: "next case" leases at most one case to exactly one agent.
//!
//! Order: callbacks due for this agent, then callbacks due for the team, then
//! fresh cases (under 25 first, then the longest without personal contact),
//! then retries by due time — from the running campaigns of the agent's
//! service center whose calling window is open now, never for a customer
//! whose Bundesland has a public holiday today. A lease lasts 10 minutes
//! unless renewed; an expired lease returns the case to the queue. An agent
//! holds at most one lease (a unique index). PostgreSQL takes candidates with
//! `FOR UPDATE SKIP LOCKED`; SQLite has a single writer.

use crate::audit::AuditEvent;
use crate::campaign::Campaign;
use crate::{Backend, Db, StoreError, Tx, args};
use outreach_core::calling::holidays::holiday;
use outreach_core::customer::STATES;
use outreach_core::date::berlin_date;

/// How long a lease lasts without renewal.
pub const LEASE_SECONDS: i64 = 600;
/// How long a callback belongs to the agent who agreed it.
pub const CALLBACK_OWN_SECONDS: i64 = 15 * 60;

/// A campaign the agent may take cases from now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenCampaign {
    pub id: i64,
    /// A fresh case is callable when its letter was sent on or before this
    /// day (ISO): today minus the lead time.
    pub letter_cutoff: String,
}

/// What one lease request may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueScope {
    pub agent_id: i64,
    pub now: i64,
    pub campaigns: Vec<OpenCampaign>,
    /// Bundesländer with a public holiday today, joined by commas.
    pub holiday_states: String,
}

impl QueueScope {
    /// The scope from the service center's running campaigns: those whose
    /// calling window is open at `now`.
    pub fn new(agent_id: i64, now: i64, running: &[Campaign]) -> QueueScope {
        let today = berlin_date(now);
        let campaigns = running
            .iter()
            .filter(|c| c.window().open_at(now))
            .map(|c| OpenCampaign {
                id: c.id,
                letter_cutoff: today
                    .checked_sub(jiff::Span::new().days(c.lead_days()))
                    .unwrap_or(today)
                    .to_string(),
            })
            .collect();
        let holiday_states = STATES
            .iter()
            .filter(|(code, _)| holiday(today, code).is_some())
            .map(|(code, _)| *code)
            .collect::<Vec<_>>()
            .join(",");
        QueueScope {
            agent_id,
            now,
            campaigns,
            holiday_states,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LeaseKind {
    OwnCallback,
    TeamCallback,
    Fresh,
    Retry,
    /// The agent's lease that was still running (a reload, a second tab).
    Held,
}

impl LeaseKind {
    /// How the audit log names the kind of a lease.
    pub fn label(self) -> &'static str {
        match self {
            LeaseKind::OwnCallback => "eigener Rückruf",
            LeaseKind::TeamCallback => "Rückruf für das Team",
            LeaseKind::Fresh => "erster Anruf",
            LeaseKind::Retry => "erneuter Versuch",
            LeaseKind::Held => "laufende Zuteilung",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    pub case_id: i64,
    pub campaign_id: i64,
    pub expires_at: i64,
    pub kind: LeaseKind,
}

// $1 campaign, $2 now, $3 holiday states, $4 letter cutoff, $5 agent.
macro_rules! candidate {
    ($condition:literal, $order:literal) => {
        concat!(
            "SELECT k.id FROM cases k JOIN customers c ON c.id = k.customer_id
             WHERE k.campaign_id = $1 AND k.final_disposition IS NULL AND k.leased_to IS NULL
               AND c.restricted = FALSE
               AND (c.state_code IS NULL OR c.state_code = ''
                    OR (',' || $3 || ',') NOT LIKE ('%,' || c.state_code || ',%'))
               AND $2 = $2 AND $4 = $4 AND $5 = $5 AND ",
            $condition,
            " ORDER BY ",
            $order,
            " LIMIT 1"
        )
    };
}

// The four kinds of candidates, in queue order.
macro_rules! own_callback {
    () => {
        candidate!(
            "k.callback_at IS NOT NULL AND k.callback_user_id = $5 AND k.due_at <= $2",
            "k.due_at"
        )
    };
}
macro_rules! team_callback {
    () => {
        candidate!(
            "k.callback_at IS NOT NULL AND k.due_at <= $2
             AND (k.callback_user_id IS NULL OR k.callback_at + 900 < $2)",
            "k.due_at"
        )
    };
}
macro_rules! fresh {
    () => {
        candidate!(
            "k.attempts_count = 0 AND k.callback_at IS NULL
             AND k.letter_sent_on IS NOT NULL AND k.letter_sent_on <= $4",
            "k.queue_group, k.queue_contact"
        )
    };
}
macro_rules! retry {
    () => {
        candidate!(
            "k.attempts_count > 0 AND k.callback_at IS NULL AND k.due_at <= $2",
            "k.due_at"
        )
    };
}

/// SQLite (the single writer): the first candidate of each kind in one
/// statement, the earliest kind first.
const SQLITE_CANDIDATE: &str = concat!(
    "SELECT kind, id FROM (SELECT 0 AS kind, id FROM (",
    own_callback!(),
    ") UNION ALL SELECT 1, id FROM (",
    team_callback!(),
    ") UNION ALL SELECT 2, id FROM (",
    fresh!(),
    ") UNION ALL SELECT 3, id FROM (",
    retry!(),
    ")) ORDER BY kind LIMIT 1"
);

const KINDS: [LeaseKind; 4] = [
    LeaseKind::OwnCallback,
    LeaseKind::TeamCallback,
    LeaseKind::Fresh,
    LeaseKind::Retry,
];

/// The agent's running lease, if any.
pub async fn current(tx: &mut Tx, agent_id: i64, now: i64) -> Result<Option<Lease>, StoreError> {
    // By the agent alone (one row at most, `cases_one_lease`); the expiry
    // is checked here.
    let row: Option<(i64, i64, i64)> = tx
        .fetch_optional(
            "SELECT id, campaign_id, COALESCE(lease_expires_at, 0) FROM cases
             WHERE leased_to = $1 AND final_disposition IS NULL",
            args![agent_id],
        )
        .await?;
    let row = row.filter(|&(_, _, expires_at)| expires_at >= now);
    Ok(row.map(|(case_id, campaign_id, expires_at)| Lease {
        case_id,
        campaign_id,
        expires_at,
        kind: LeaseKind::Held,
    }))
}

/// The next case for the agent: the running lease if there is one,
/// otherwise a new one in queue order; `None` when nothing is due.
pub async fn lease_next(db: &Db, scope: &QueueScope) -> Result<Option<Lease>, StoreError> {
    lease_next_audited(db, scope, None).await
}

/// The audit event of a new lease: `event` (who, from where) with the case,
/// the kind of lease and the campaign.
pub fn lease_event(event: &AuditEvent, lease: &Lease) -> AuditEvent {
    event
        .clone()
        .record("case", lease.case_id)
        .fields(&format!("Zuteilung ({})", lease.kind.label()))
        .purpose(&format!("Aktion {}", lease.campaign_id))
}

/// [`lease_next`] that appends [`lease_event`] of `event` with a new lease
/// (not for a lease already held), atomically with it.
pub async fn lease_next_audited(
    db: &Db,
    scope: &QueueScope,
    event: Option<&AuditEvent>,
) -> Result<Option<Lease>, StoreError> {
    if db.backend() == Backend::Postgres {
        // One statement on its own: the lease and its event commit together.
        let mut tx = db.write_once().await?;
        let lease = lease_postgres(&mut tx, scope, event, db.queue_memory()).await?;
        tx.commit().await?;
        return Ok(lease);
    }
    let mut tx = db.begin_urgent().await?;
    let (lease, new) = lease_sqlite(&mut tx, scope, db.queue_memory().sweep_due(scope.now)).await?;
    if let Some(lease) = lease.filter(|_| new)
        && let Some(event) = event
    {
        crate::audit::append(&mut tx, &lease_event(event, &lease), scope.now).await?;
    }
    tx.commit().await?;
    Ok(lease)
}

/// PostgreSQL: the steps of [`lease_sqlite`] and the audit event in one
/// statement, through the function `queue_lease` (migration 0016); the event
/// is written as [`lease_event`] writes it.
async fn lease_postgres(
    tx: &mut Tx,
    scope: &QueueScope,
    event: Option<&AuditEvent>,
    memory: &crate::db::QueueMemory,
) -> Result<Option<Lease>, StoreError> {
    let sweep = memory.sweep_due(scope.now);
    let join = |f: fn(&OpenCampaign) -> String| {
        scope.campaigns.iter().map(f).collect::<Vec<_>>().join(",")
    };
    // Per campaign, where the search for a fresh case starts (0: the front).
    let floors: Vec<crate::db::FreshFloor> = scope
        .campaigns
        .iter()
        .map(|c| memory.floor(c.id).unwrap_or((-1, String::new(), 0)))
        .collect();
    let floor_list = |f: fn(&crate::db::FreshFloor) -> i64| {
        floors
            .iter()
            .map(|fl| f(fl).to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let floor_contacts = text_array(floors.iter().map(|(_, contact, _)| contact.as_str()));
    let template = event.map(|e| crate::audit::record_of(e, 0, String::new(), scope.now));
    let t = template.as_ref();
    let text = |f: fn(&outreach_core::audit::AuditRecord) -> &String| {
        t.map(|r| f(r).clone()).unwrap_or_default()
    };
    let [own, team, fresh, retry] = KINDS.map(LeaseKind::label);
    type Row = (i32, i64, i64, i64, Option<i64>, Option<String>);
    let row: Option<Row> = tx
        .fetch_optional(
            "WITH l AS MATERIALIZED (
                 SELECT kind, case_id, campaign_id, expires_at, fresh_group, fresh_contact
                 FROM queue_lease($1, $2, $3, $4, $5, $6, $19, $20, CAST($21 AS TEXT[]), $22)),
             a AS (INSERT INTO audit_events (at, user_id, username, role, action, record_type, record_id,
                       fields, purpose, client, job_center_id, service_center_id)
                   SELECT $2, $8, $9, $10, $11, 'case', CAST(l.case_id AS TEXT),
                       'Zuteilung (' || CASE l.kind WHEN 0 THEN $14 WHEN 1 THEN $15 WHEN 2 THEN $16 ELSE $17 END || ')',
                       'Aktion ' || l.campaign_id, $12, $13, $18
                   FROM l WHERE l.kind < 4 AND $7)
             SELECT kind, case_id, campaign_id, expires_at, fresh_group, fresh_contact FROM l",
            args![
                scope.agent_id,
                scope.now,
                scope.holiday_states.as_str(),
                join(|c| c.id.to_string()),
                join(|c| c.letter_cutoff.clone()),
                LEASE_SECONDS,
                t.is_some(),
                t.and_then(|r| r.user_id),
                text(|r| &r.username),
                text(|r| &r.role),
                text(|r| &r.action),
                text(|r| &r.client),
                t.and_then(|r| r.job_center_id),
                own,
                team,
                fresh,
                retry,
                t.and_then(|r| r.service_center_id),
                sweep,
                floor_list(|f| f.0),
                floor_contacts,
                floor_list(|f| f.2)
            ],
        )
        .await?;
    let Some((kind, case_id, campaign_id, expires_at, group, contact)) = row else {
        return Ok(None);
    };
    if let (Some(group), Some(contact)) = (group, contact) {
        memory.leased_fresh(campaign_id, (group, contact, case_id));
    }
    let kind = usize::try_from(kind)
        .ok()
        .and_then(|k| KINDS.get(k).copied())
        .unwrap_or(LeaseKind::Held);
    if kind != LeaseKind::Held && t.is_some() {
        tx.appended_unsealed();
    }
    Ok(Some(Lease {
        case_id,
        campaign_id,
        expires_at,
        kind,
    }))
}

/// A PostgreSQL array literal of `items` (`{"a","b"}`), each quoted.
fn text_array<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items
        .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// SQLite (the single writer): the running lease if there is one, else the
/// first candidate in queue order, claimed. Whether the lease is new.
async fn lease_sqlite(
    tx: &mut Tx,
    scope: &QueueScope,
    sweep: bool,
) -> Result<(Option<Lease>, bool), StoreError> {
    // The agent's leases: a running one is returned; expired or finished
    // ones are let go (one lease per agent) — usually there is none, and
    // then nothing is written.
    let leases: Vec<(i64, i64, i64, bool)> = tx
        .fetch_all(
            "SELECT id, campaign_id, COALESCE(lease_expires_at, 0),
                    COALESCE(lease_expires_at >= $2 AND final_disposition IS NULL, FALSE)
             FROM cases WHERE leased_to = $1",
            args![scope.agent_id, scope.now],
        )
        .await?;
    if let Some(&(case_id, campaign_id, expires_at, _)) = leases.iter().find(|l| l.3) {
        let held = Lease {
            case_id,
            campaign_id,
            expires_at,
            kind: LeaseKind::Held,
        };
        return Ok((Some(held), false));
    }
    if !leases.is_empty() {
        tx.execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL WHERE leased_to = $1",
            args![scope.agent_id],
        )
        .await?;
    }
    // Expired leases of others return to the queue, and so to the indexes
    // the candidates are read from (migration 0019) — every few seconds
    // (`QueueMemory`), through the leased cases (`cases_one_lease`).
    if sweep {
        tx.execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL
             WHERE leased_to IS NOT NULL AND lease_expires_at < $1",
            args![scope.now],
        )
        .await?;
    }
    // Kinds first, then campaigns in their order.
    let mut found: Option<(LeaseKind, i64, i64)> = None;
    for campaign in &scope.campaigns {
        let params = args![
            campaign.id,
            scope.now,
            scope.holiday_states.as_str(),
            campaign.letter_cutoff.as_str(),
            scope.agent_id
        ];
        let best = tx
            .fetch_optional::<(i64, i64)>(SQLITE_CANDIDATE, params)
            .await?
            .and_then(|(kind, id)| Some((*KINDS.get(usize::try_from(kind).ok()?)?, id)));
        if let Some((kind, id)) = best
            && found.is_none_or(|(earlier, _, _)| kind < earlier)
        {
            found = Some((kind, id, campaign.id));
        }
    }
    let Some((kind, case_id, campaign_id)) = found else {
        return Ok((None, false));
    };
    let expires_at = scope.now + LEASE_SECONDS;
    let claimed = tx
        .execute(
            "UPDATE cases SET leased_to = $1, lease_expires_at = $2, leased_at = $4
             WHERE id = $3 AND final_disposition IS NULL
               AND (leased_to IS NULL OR lease_expires_at < $4)",
            args![scope.agent_id, expires_at, case_id, scope.now],
        )
        .await?;
    let lease = (claimed == 1).then_some(Lease {
        case_id,
        campaign_id,
        expires_at,
        kind,
    });
    Ok((lease, lease.is_some()))
}

/// "Anruf starten" renews the lease only when it is older than this
/// (seconds): the page's own renewals come every two minutes.
const RENEWAL_STEP: i64 = 60;

/// Extends the agent's lease by [`LEASE_SECONDS`] from `now`; false when
/// it is no longer theirs (expired and taken, or released).
pub async fn renew(tx: &mut Tx, case_id: i64, agent_id: i64, now: i64) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "UPDATE cases SET lease_expires_at = $3
             WHERE id = $1 AND leased_to = $2 AND lease_expires_at >= $4",
            args![case_id, agent_id, now + LEASE_SECONDS, now],
        )
        .await?
        == 1)
}

/// Gives the case back to the queue.
pub async fn release(tx: &mut Tx, case_id: i64, agent_id: i64) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL WHERE id = $1 AND leased_to = $2",
            args![case_id, agent_id],
        )
        .await?
        == 1)
}

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

macro_rules! attempt_select {
    () => {
        "SELECT id, case_id, user_id, started_at, ended_at, result, phone_used, callback_at FROM attempts "
    };
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

/// A leased case as the agent's pages need it: the customer's name and
/// numbers (nothing more before the conversation), the campaign's rules.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgentCase {
    pub case_id: i64,
    pub campaign_id: i64,
    pub campaign_name: String,
    pub job_center_id: i64,
    pub salutation: Option<String>,
    pub first_name: Option<String>,
    pub last_name: String,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub state_code: Option<String>,
    pub letter_sent_on: Option<String>,
    pub lease_expires_at: i64,
    pub window_days: String,
    pub window_start: String,
    pub window_end: String,
    pub attempts_per_day: i64,
    pub attempts_total: i64,
    pub period_end: String,
}

/// The case if the agent holds its lease at `now`; otherwise `None` (the
/// agent sees nothing of a case after the lease ends).
pub async fn case_for_agent(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
    now: i64,
) -> Result<Option<AgentCase>, StoreError> {
    tx.fetch_optional(
        concat!(
            agent_case_select!(),
            agent_case_from!(),
            agent_case_where!()
        ),
        args![case_id, agent_id, now],
    )
    .await
}

// The columns of [`AgentCase`] and the joins behind them.
macro_rules! agent_case_select {
    () => {
        "SELECT k.id AS case_id, p.id AS campaign_id, p.name AS campaign_name, p.job_center_id,
                c.salutation, c.first_name, c.last_name, c.phone, c.mobile, c.state_code, k.letter_sent_on,
                k.lease_expires_at, p.window_days, p.window_start, p.window_end, p.attempts_per_day,
                p.attempts_total, p.period_end"
    };
}
macro_rules! agent_case_from {
    () => {
        " FROM cases k
         JOIN campaigns p ON p.id = k.campaign_id
         JOIN customers c ON c.id = k.customer_id AND c.job_center_id = p.job_center_id"
    };
}
// $1 case, $2 agent, $3 now: the case only while the agent holds it.
macro_rules! agent_case_where {
    () => {
        " WHERE k.id = $1 AND k.leased_to = $2 AND k.lease_expires_at >= $3 AND k.final_disposition IS NULL
           AND c.restricted = FALSE"
    };
}
use {agent_case_from, agent_case_select, agent_case_where};

/// A row of [`case_with_attempts`]: the case, and one attempt if it has any.
#[derive(sqlx::FromRow)]
struct CaseAttemptRow {
    #[sqlx(flatten)]
    case: AgentCase,
    a_id: Option<i64>,
    a_user_id: Option<i64>,
    a_started_at: Option<i64>,
    a_ended_at: Option<i64>,
    a_result: Option<String>,
    a_phone_used: Option<String>,
    a_callback_at: Option<i64>,
}

/// [`case_for_agent`] and the case's [`attempts`] (oldest first) in one
/// query: the case page and the result form read both on every request.
pub async fn case_with_attempts(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
    now: i64,
) -> Result<Option<(AgentCase, Vec<AttemptRow>)>, StoreError> {
    let rows: Vec<CaseAttemptRow> = tx
        .fetch_all(
            concat!(
                agent_case_select!(),
                ", a.id AS a_id, a.user_id AS a_user_id, a.started_at AS a_started_at, a.ended_at AS a_ended_at,
                 a.result AS a_result, a.phone_used AS a_phone_used, a.callback_at AS a_callback_at",
                agent_case_from!(),
                " LEFT JOIN attempts a ON a.case_id = k.id",
                agent_case_where!(),
                " ORDER BY a.started_at, a.id"
            ),
            args![case_id, agent_id, now],
        )
        .await?;
    let mut rows = rows.into_iter().peekable();
    let Some(case) = rows.peek().map(|r| r.case.clone()) else {
        return Ok(None);
    };
    let attempts = rows
        .filter_map(|r| {
            Some(AttemptRow {
                id: r.a_id?,
                case_id,
                user_id: r.a_user_id,
                started_at: r.a_started_at?,
                ended_at: r.a_ended_at,
                result: r.a_result,
                phone_used: r.a_phone_used,
                callback_at: r.a_callback_at,
            })
        })
        .collect();
    Ok(Some((case, attempts)))
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

/// A service center's view of one campaign, for its supervisor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overview {
    /// Final dispositions (code) and how many cases each.
    pub finals: Vec<(String, i64)>,
    pub open: i64,
    /// Callable now and not leased.
    pub due_now: i64,
    pub callbacks_next_hour: i64,
    /// Leases running longer than 15 minutes: case, agent's name, since.
    pub long_leases: Vec<(i64, String, i64)>,
}

/// The overview of campaign `campaign` at `now` (`open`: the campaign's
/// queue scope entry when its window is open now, for "due now").
pub async fn overview(
    tx: &mut Tx,
    campaign_id: i64,
    open: Option<&OpenCampaign>,
    holiday_states: &str,
    now: i64,
) -> Result<Overview, StoreError> {
    let finals: Vec<(Option<String>, i64)> = tx
        .fetch_all(
            "SELECT final_disposition, COUNT(*) FROM cases WHERE campaign_id = $1
             GROUP BY final_disposition ORDER BY final_disposition",
            args![campaign_id],
        )
        .await?;
    let mut out = Overview::default();
    for (code, n) in finals {
        match code {
            Some(code) => out.finals.push((code, n)),
            None => out.open = n,
        }
    }
    if let Some(open) = open {
        let (due,): (i64,) = tx
            .fetch_one(
                "SELECT COUNT(*) FROM cases k JOIN customers c ON c.id = k.customer_id
                 WHERE k.campaign_id = $1 AND k.final_disposition IS NULL
                   AND (k.leased_to IS NULL OR k.lease_expires_at < $2)
                   AND c.restricted = FALSE
                   AND (c.state_code IS NULL OR c.state_code = ''
                        OR (',' || $3 || ',') NOT LIKE ('%,' || c.state_code || ',%'))
                   AND ((k.attempts_count = 0 AND k.callback_at IS NULL
                         AND k.letter_sent_on IS NOT NULL AND k.letter_sent_on <= $4)
                        OR (k.attempts_count > 0 AND k.due_at <= $2))",
                args![
                    campaign_id,
                    now,
                    holiday_states,
                    open.letter_cutoff.as_str()
                ],
            )
            .await?;
        out.due_now = due;
    }
    let (callbacks,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM cases WHERE campaign_id = $1 AND final_disposition IS NULL
               AND callback_at IS NOT NULL AND callback_at >= $2 AND callback_at < $3",
            args![campaign_id, now, now + 3600],
        )
        .await?;
    out.callbacks_next_hour = callbacks;
    out.long_leases = tx
        .fetch_all(
            "SELECT k.id, u.display_name, k.leased_at FROM cases k JOIN users u ON u.id = k.leased_to
             WHERE k.leased_to IS NOT NULL AND k.campaign_id = $1 AND k.final_disposition IS NULL
               AND k.lease_expires_at >= $2 AND k.leased_at IS NOT NULL AND k.leased_at < $3
             ORDER BY k.leased_at",
            args![campaign_id, now, now - 15 * 60],
        )
        .await?;
    Ok(out)
}

/// Agents of the service center active in the last five minutes.
pub async fn agents_online(
    tx: &mut Tx,
    service_center_id: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(DISTINCT s.user_id) FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE u.role = 'agent' AND u.service_center_id = $1 AND s.last_seen_at >= $2",
            args![service_center_id, now - 300],
        )
        .await?;
    Ok(n)
}

/// The supervisor ends a lease (the case returns to the queue). False when
/// the case is not of this service center or not leased.
pub async fn release_by_supervisor(
    tx: &mut Tx,
    case_id: i64,
    service_center_id: i64,
) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "UPDATE cases SET leased_to = NULL, lease_expires_at = NULL, leased_at = NULL
             WHERE id = $1 AND leased_to IS NOT NULL
               AND campaign_id IN (SELECT p.id FROM campaigns p JOIN mandates m ON m.id = p.mandate_id
                                   WHERE m.service_center_id = $2)",
            args![case_id, service_center_id],
        )
        .await?
        == 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_arrays_quote_each_item() {
        assert_eq!(super::text_array([].into_iter()), "{}");
        assert_eq!(
            super::text_array(["", "2026-01-01", "a,\"b\"\\"].into_iter()),
            r#"{"","2026-01-01","a,\"b\"\\"}"#
        );
    }
}
