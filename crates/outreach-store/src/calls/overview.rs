//! The team lead's view of the queue: team figures, agents online, and
//! releasing a case an agent holds.

use super::*;

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

/// One agent's figures in a campaign, in total and since `today_from`:
/// finished call attempts, conversations (attempts that reached the
/// customer) and their talk time in seconds (from the call's start to the
/// result the agent stored, or to the attempt's end where the conversation
/// broke off). Personnel data: read only where the mandate's job center
/// switched them on (the caller's duty).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AgentFigures {
    pub agent_id: i64,
    pub display_name: String,
    pub attempts: i64,
    pub attempts_today: i64,
    pub conversations: i64,
    pub conversations_today: i64,
    pub talk_seconds: i64,
    pub talk_seconds_today: i64,
}

/// Every agent's figures in campaign `campaign_id`, by name; `today_from`
/// is the start of today (Berlin) in seconds.
pub async fn agent_figures(
    tx: &mut Tx,
    campaign_id: i64,
    today_from: i64,
) -> Result<Vec<AgentFigures>, StoreError> {
    tx.fetch_all(
        "WITH finished AS (
           SELECT a.user_id, a.started_at,
                  CASE WHEN a.result = 'reached' THEN 1 ELSE 0 END AS reached,
                  CASE WHEN a.result = 'reached'
                       THEN COALESCE(r.created_at, a.ended_at) - a.started_at ELSE 0 END AS talk
           FROM attempts a
           JOIN cases k ON k.id = a.case_id
           LEFT JOIN results r ON a.result = 'reached' AND r.case_id = a.case_id
                AND r.created_by = a.user_id AND r.created_at >= a.ended_at
                AND NOT EXISTS (SELECT 1 FROM attempts b WHERE b.case_id = a.case_id AND b.id <> a.id
                                  AND b.started_at > a.started_at AND b.started_at <= r.created_at)
           WHERE k.campaign_id = $1 AND a.ended_at IS NOT NULL AND a.user_id IS NOT NULL)
         SELECT f.user_id AS agent_id, u.display_name,
                COUNT(*) AS attempts,
                CAST(SUM(CASE WHEN f.started_at >= $2 THEN 1 ELSE 0 END) AS BIGINT) AS attempts_today,
                CAST(SUM(f.reached) AS BIGINT) AS conversations,
                CAST(SUM(CASE WHEN f.started_at >= $2 THEN f.reached ELSE 0 END) AS BIGINT) AS conversations_today,
                CAST(SUM(f.talk) AS BIGINT) AS talk_seconds,
                CAST(SUM(CASE WHEN f.started_at >= $2 THEN f.talk ELSE 0 END) AS BIGINT) AS talk_seconds_today
         FROM finished f JOIN users u ON u.id = f.user_id
         GROUP BY f.user_id, u.display_name
         ORDER BY u.display_name, f.user_id",
        args![campaign_id, today_from],
    )
    .await
}
