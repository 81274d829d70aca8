//! Campaigns and their cases. A campaign belongs to one job center: callers
//! check ownership with `access::can_on(.., Owner::JobCenter(..))`, and every
//! query for cases' customer data carries the job center too.

use crate::{StoreError, Tx, args};
use jiff::civil::Date;
use outreach_core::calls::CallingWindow;
use outreach_core::campaign::{
    CampaignSettings, CampaignState, CaseFacts, FinalDisposition, Hold, Selection, hold,
};
use outreach_core::date::parse_iso_date;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Campaign {
    pub id: i64,
    pub job_center_id: i64,
    pub mandate_id: i64,
    pub mandate_title: String,
    pub mandate_state: String,
    pub service_center_name: String,
    pub name: String,
    pub state: String,
    pub selection: String,
    pub guide_ref: String,
    pub guide_id: Option<i64>,
    pub window_days: String,
    pub window_start: String,
    pub window_end: String,
    pub attempts_per_day: i64,
    pub attempts_total: i64,
    pub lead_days: i64,
    pub period_start: String,
    pub period_end: String,
    pub code_secret: String,
    pub created_at: i64,
    pub case_count: i64,
}

impl Campaign {
    pub fn state(&self) -> CampaignState {
        CampaignState::parse(&self.state).unwrap_or(CampaignState::Draft)
    }

    pub fn selection(&self) -> Selection {
        serde_json::from_str(&self.selection).unwrap_or_default()
    }

    pub fn window(&self) -> CallingWindow {
        CallingWindow::from_stored(&self.window_days, &self.window_start, &self.window_end)
    }

    pub fn period(&self) -> (Date, Date) {
        (
            parse_iso_date(&self.period_start).unwrap_or(Date::MIN),
            parse_iso_date(&self.period_end).unwrap_or(Date::MIN),
        )
    }

    pub fn lead_days(&self) -> u32 {
        u32::try_from(self.lead_days).unwrap_or(0)
    }
}

macro_rules! campaign_select {
    () => {
        "SELECT p.id, p.job_center_id, p.mandate_id, m.title AS mandate_title, m.state AS mandate_state,
                s.name AS service_center_name, p.name, p.state, p.selection, p.guide_ref, p.guide_id, p.window_days,
                p.window_start, p.window_end, p.attempts_per_day, p.attempts_total, p.lead_days,
                p.period_start, p.period_end, p.code_secret, p.created_at, p.case_count
         FROM campaigns p
         JOIN mandates m ON m.id = p.mandate_id
         JOIN service_centers s ON s.id = m.service_center_id "
    };
}

// The customers a selection takes: $1 job center, $2 status codes joined by
// commas, $3 born after (under 25), $4 last contact on or before (under 25),
// $5 last contact on or before (25 and over), $6 postcodes joined by commas
// or empty. Customers missing from the latest export, restricted ones, and
// those with an open case in another running campaign are left out.
macro_rules! selected_customers {
    () => {
        " FROM customers c
          WHERE c.job_center_id = $1 AND c.in_latest_export = TRUE AND c.restricted = FALSE
            AND (',' || $2 || ',') LIKE ('%,' || c.status || ',%')
            AND (c.last_contact IS NULL
                 OR (c.birth_date > $3 AND c.last_contact <= $4)
                 OR (c.birth_date <= $3 AND c.last_contact <= $5))
            AND ($6 = '' OR (',' || $6 || ',') LIKE ('%,' || COALESCE(c.postcode, '') || ',%'))
            AND NOT EXISTS (SELECT 1 FROM cases k JOIN campaigns o ON o.id = k.campaign_id
                            WHERE k.customer_id = c.id AND o.state IN ('active', 'paused')
                              AND k.final_disposition IS NULL)"
    };
}

fn selection_args(job_center_id: i64, selection: &Selection, today: Date) -> Vec<crate::Arg> {
    let (all, young) = selection.contact_cutoffs(today);
    args![
        job_center_id,
        selection.statuses.join(","),
        Selection::under_25_born_after(today).to_string(),
        young.to_string(),
        all.to_string(),
        selection.postcodes.join(",")
    ]
}

/// How many customers a selection takes today (the live preview).
pub async fn preview_count(
    tx: &mut Tx,
    job_center_id: i64,
    selection: &Selection,
    today: Date,
) -> Result<i64, StoreError> {
    let (count,): (i64,) = tx
        .fetch_one(
            concat!("SELECT COUNT(*)", selected_customers!()),
            selection_args(job_center_id, selection, today),
        )
        .await?;
    Ok(count)
}

pub async fn create(
    tx: &mut Tx,
    job_center_id: i64,
    mandate_id: i64,
    settings: &CampaignSettings,
    created_by: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let selection = serde_json::to_string(&settings.selection).unwrap_or_else(|_| "{}".into());
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO campaigns (job_center_id, mandate_id, name, state, selection, guide_ref, window_days,
                window_start, window_end, attempts_per_day, attempts_total, lead_days, period_start, period_end,
                created_by, created_at, guide_id)
             VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id",
            args![
                job_center_id,
                mandate_id,
                settings.name.trim(),
                selection,
                settings.guide_ref.trim(),
                settings.window.stored_days(),
                settings.window.start(),
                settings.window.end(),
                i64::from(settings.attempts_per_day),
                i64::from(settings.attempts_total),
                i64::from(settings.lead_days),
                settings.period_start.to_string(),
                settings.period_end.to_string(),
                created_by,
                now,
                settings.guide_id
            ],
        )
        .await?;
    Ok(id)
}

/// Changes a draft's settings and mandate. False when the campaign is no
/// longer a draft (once active, its selection and letters are fixed).
pub async fn update(
    tx: &mut Tx,
    scope: crate::RecordScope,
    id: i64,
    mandate_id: i64,
    settings: &CampaignSettings,
) -> Result<bool, StoreError> {
    let selection = serde_json::to_string(&settings.selection).unwrap_or_else(|_| "{}".into());
    let (kind, owner) = scope.args();
    let changed = tx
        .execute(
            concat!(
                "UPDATE campaigns AS p SET mandate_id = $4, name = $5, selection = $6, guide_ref = $7,
                    window_days = $8, window_start = $9, window_end = $10, attempts_per_day = $11,
                    attempts_total = $12, lead_days = $13, period_start = $14, period_end = $15, guide_id = $16
                 WHERE p.id = $1 AND p.state = 'draft' AND",
                crate::campaign_in_scope!()
            ),
            args![
                id,
                kind,
                owner,
                mandate_id,
                settings.name.trim(),
                selection,
                settings.guide_ref.trim(),
                settings.window.stored_days(),
                settings.window.start(),
                settings.window.end(),
                i64::from(settings.attempts_per_day),
                i64::from(settings.attempts_total),
                i64::from(settings.lead_days),
                settings.period_start.to_string(),
                settings.period_end.to_string(),
                settings.guide_id
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// The job center's campaigns, newest first.
/// A running campaign's progress: its cases and how many are closed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Progress {
    pub id: i64,
    pub name: String,
    pub case_count: i64,
    pub closed: i64,
}

/// The job center's running campaigns with their progress.
pub async fn running_progress(
    tx: &mut Tx,
    job_center_id: i64,
) -> Result<Vec<Progress>, StoreError> {
    tx.fetch_all(
        "SELECT p.id, p.name, p.case_count,
                (SELECT COUNT(*) FROM cases k WHERE k.campaign_id = p.id AND k.closed_at IS NOT NULL) AS closed
         FROM campaigns p WHERE p.job_center_id = $1 AND p.state = 'active' ORDER BY p.id",
        args![job_center_id],
    )
    .await
}

pub async fn list(tx: &mut Tx, job_center_id: i64) -> Result<Vec<Campaign>, StoreError> {
    tx.fetch_all(
        concat!(
            campaign_select!(),
            "WHERE p.job_center_id = $1 ORDER BY p.id DESC"
        ),
        args![job_center_id],
    )
    .await
}

/// The campaigns a service center carries out (under a mandate to it, in
/// any state but draft), newest first.
pub async fn for_service_center(
    tx: &mut Tx,
    service_center_id: i64,
) -> Result<Vec<Campaign>, StoreError> {
    tx.fetch_all(
        concat!(
            campaign_select!(),
            "WHERE m.service_center_id = $1 AND p.state <> 'draft' ORDER BY p.id DESC"
        ),
        args![service_center_id],
    )
    .await
}

/// The running campaigns a service center calls for on `today`: active,
/// under an active mandate to it, `today` inside the calling period.
pub async fn running_for_service_center(
    tx: &mut Tx,
    service_center_id: i64,
    today: Date,
) -> Result<Vec<Campaign>, StoreError> {
    tx.fetch_all(
        concat!(
            campaign_select!(),
            "WHERE m.service_center_id = $1 AND p.state = 'active' AND m.state = 'active'
               AND p.period_start <= $2 AND p.period_end >= $2
             ORDER BY p.id"
        ),
        args![service_center_id, today.to_string()],
    )
    .await
}

/// One campaign by id, if it is in `scope`.
pub async fn by_id(
    tx: &mut Tx,
    scope: crate::RecordScope,
    id: i64,
) -> Result<Option<Campaign>, StoreError> {
    let (kind, owner) = scope.args();
    tx.fetch_optional(
        concat!(
            campaign_select!(),
            "WHERE p.id = $1 AND",
            crate::campaign_in_scope!()
        ),
        args![id, kind, owner],
    )
    .await
}

/// Activates a draft: the selection as of `today` is frozen into cases.
/// Returns the number of cases, or `None` when the campaign was no draft.
pub async fn activate(
    tx: &mut Tx,
    campaign: &Campaign,
    today: Date,
    now: i64,
) -> Result<Option<u64>, StoreError> {
    let changed = tx
        .execute(
            "UPDATE campaigns SET state = 'active', code_secret = $2, activated_at = $3 WHERE id = $1 AND state = 'draft'",
            args![campaign.id, crate::random_token(32), now],
        )
        .await?;
    if changed != 1 {
        return Ok(None);
    }
    let mut params = selection_args(campaign.job_center_id, &campaign.selection(), today);
    params.extend(args![campaign.id, now]);
    let cases = tx
        .execute(
            concat!(
                // Queue order of fresh cases: under 25 first, then the longest
                // without personal contact (never contacted first).
                "INSERT INTO cases (campaign_id, customer_id, state, created_at, queue_group, queue_contact)
                 SELECT $7, c.id, 'open', $8, CASE WHEN c.birth_date > $3 THEN 0 ELSE 1 END, COALESCE(c.last_contact, '')",
                selected_customers!(),
                " ORDER BY c.id"
            ),
            params,
        )
        .await?;
    tx.execute(
        "UPDATE campaigns SET case_count = $2 WHERE id = $1",
        args![campaign.id, i64::try_from(cases).unwrap_or(i64::MAX)],
    )
    .await?;
    Ok(Some(cases))
}

/// Moves a campaign from `from` to `to` (not for activating a draft: see
/// [`activate`]). False when it was not in `from`.
pub async fn set_state(
    tx: &mut Tx,
    scope: crate::RecordScope,
    id: i64,
    from: CampaignState,
    to: CampaignState,
) -> Result<bool, StoreError> {
    let (kind, owner) = scope.args();
    let changed = tx
        .execute(
            concat!(
                "UPDATE campaigns AS p SET state = $5 WHERE p.id = $1 AND p.state = $4 AND",
                crate::campaign_in_scope!()
            ),
            args![id, kind, owner, from.code(), to.code()],
        )
        .await?;
    Ok(changed == 1)
}

/// The facts about a case group that decide whether it may be called.
fn facts(campaign: &Campaign, generated: bool, sent_on: Option<&str>, final_: bool) -> CaseFacts {
    let (period_start, period_end) = campaign.period();
    CaseFacts {
        campaign_state: campaign.state(),
        mandate_active: campaign.mandate_state == "active",
        period_start,
        period_end,
        lead_days: campaign.lead_days(),
        letter_generated: generated,
        letter_sent_on: sent_on.and_then(parse_iso_date),
        final_disposition: final_.then(|| "final".to_string()),
    }
}

/// How many cases are callable today, and how many are held for each reason
/// (reasons in their order, with the first case's date where they have one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallableCounts {
    pub callable: i64,
    pub held: Vec<(Hold, i64)>,
}

pub async fn callable_counts(
    tx: &mut Tx,
    campaign: &Campaign,
    today: Date,
) -> Result<CallableCounts, StoreError> {
    let groups: Vec<(bool, bool, Option<String>, i64)> = tx
        .fetch_all(
            "SELECT k.final_disposition IS NOT NULL AS closed,
                    EXISTS (SELECT 1 FROM letters l WHERE l.case_id = k.id AND l.kind = 'advance') AS generated,
                    k.letter_sent_on, COUNT(*) AS n
             FROM cases k WHERE k.campaign_id = $1
             GROUP BY 1, 2, 3",
            args![campaign.id],
        )
        .await?;
    let mut counts = CallableCounts::default();
    let mut held: std::collections::BTreeMap<Hold, (Hold, i64)> = Default::default();
    for (closed, generated, sent_on, n) in groups {
        match hold(
            &facts(campaign, generated, sent_on.as_deref(), closed),
            today,
        ) {
            None => counts.callable += n,
            Some(reason) => {
                let entry = held.entry(reason.kind()).or_insert((reason, 0));
                // Show the earliest date of a dated reason.
                entry.0 = entry.0.min(reason);
                entry.1 += n;
            }
        }
    }
    counts.held = held.into_values().collect();
    Ok(counts)
}

/// A case as the campaign's pages list it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CaseListing {
    pub id: i64,
    pub customer_id: i64,
    pub customer_number: String,
    pub first_name: Option<String>,
    pub last_name: String,
    pub letter_generated: bool,
    pub letter_sent_on: Option<String>,
    pub objection_on: Option<String>,
    pub final_disposition: Option<String>,
}

impl CaseListing {
    /// Why this case can't be called today, or `None` when it can.
    pub fn hold(&self, campaign: &Campaign, today: Date) -> Option<Hold> {
        hold(
            &facts(
                campaign,
                self.letter_generated,
                self.letter_sent_on.as_deref(),
                self.final_disposition.is_some(),
            ),
            today,
        )
    }

    pub fn final_label(&self) -> Option<&'static str> {
        self.final_disposition
            .as_deref()
            .and_then(FinalDisposition::parse)
            .map(FinalDisposition::label)
    }
}

macro_rules! case_select {
    () => {
        "SELECT k.id, k.customer_id, c.customer_number, c.first_name, c.last_name,
                EXISTS (SELECT 1 FROM letters l WHERE l.case_id = k.id AND l.kind = 'advance') AS letter_generated,
                k.letter_sent_on, k.objection_on, k.final_disposition
         FROM cases k
         JOIN campaigns p ON p.id = k.campaign_id
         JOIN customers c ON c.id = k.customer_id AND c.job_center_id = p.job_center_id "
    };
}

/// A page of the campaign's cases by customer number, for its job center.
pub async fn cases(
    tx: &mut Tx,
    campaign: &Campaign,
    search: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<CaseListing>, StoreError> {
    tx.fetch_all(
        concat!(
            case_select!(),
            "WHERE k.campaign_id = $1 AND p.job_center_id = $2
               AND ($3 = '' OR c.customer_number = $3 OR LOWER(c.last_name) LIKE LOWER($3) || '%')
             ORDER BY c.customer_number LIMIT $4 OFFSET $5"
        ),
        args![
            campaign.id,
            campaign.job_center_id,
            search.trim(),
            limit,
            offset
        ],
    )
    .await
}

/// One case of the campaign, for its job center.
pub async fn case_by_id(
    tx: &mut Tx,
    campaign: &Campaign,
    case_id: i64,
) -> Result<Option<CaseListing>, StoreError> {
    tx.fetch_optional(
        concat!(
            case_select!(),
            "WHERE k.id = $1 AND k.campaign_id = $2 AND p.job_center_id = $3"
        ),
        args![case_id, campaign.id, campaign.job_center_id],
    )
    .await
}

/// Records a written objection received on `date`: the case leaves calling at
/// once ("Widerspruch vor Anruf") and the pAp may consider an invitation.
/// False when the case was already closed.
pub async fn record_objection(
    tx: &mut Tx,
    scope: crate::RecordScope,
    case_id: i64,
    date: Date,
    user_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let (kind, owner) = scope.args();
    let changed = tx
        .execute(
            concat!(
                "UPDATE cases SET objection_on = $4, objection_recorded_by = $5, final_disposition = $6,
                        state = 'final', invitation_candidate = TRUE, leased_to = NULL, lease_expires_at = NULL,
                        closed_at = $7
                 WHERE id = $1 AND final_disposition IS NULL
                   AND campaign_id IN (SELECT p.id FROM campaigns p WHERE",
                crate::campaign_in_scope!(),
                ")"
            ),
            args![
                case_id,
                kind,
                owner,
                date.to_string(),
                user_id,
                FinalDisposition::ObjectionBeforeCall.code(),
                now
            ],
        )
        .await?;
    Ok(changed == 1)
}
