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
use outreach_core::calls::holidays::holiday;
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

macro_rules! attempt_select {
    () => {
        "SELECT id, case_id, user_id, started_at, ended_at, result, phone_used, callback_at FROM attempts "
    };
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

/// How a case the agent called ended: its final disposition and when (unix
/// seconds). Only for a finished case this agent made an attempt on; any
/// other case gives `None`, so nothing is learned about cases one never
/// called.
pub async fn finished_for_agent(
    tx: &mut Tx,
    case_id: i64,
    agent_id: i64,
) -> Result<Option<(String, Option<i64>)>, StoreError> {
    tx.fetch_optional(
        "SELECT k.final_disposition, k.closed_at FROM cases k
         WHERE k.id = $1 AND k.final_disposition IS NOT NULL
           AND EXISTS (SELECT 1 FROM attempts a WHERE a.case_id = k.id AND a.user_id = $2)",
        args![case_id, agent_id],
    )
    .await
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

// The parts, after the macros they use (macros are in scope from
// where they are defined).
mod lease;
use lease::*;
mod attempts;
pub use attempts::*;
mod overview;
pub use overview::*;

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
