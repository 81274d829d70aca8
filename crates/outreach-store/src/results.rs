//! Results to the case manager: the inbox of final cases (a case manager's
//! own customers, the administration's whole job center), reading,
//! acknowledging, disputed values, reassignment, and the export back to the
//! job center's system that marks results as handed over. Every query takes
//! the actor's [`CustomerScope`]; a service center's scope sees nothing here.

use crate::{StoreError, Tx, args};
use outreach_core::access::CustomerScope;
use outreach_core::date::berlin_date;
use outreach_core::guide::session::{Change, Flags};
use outreach_core::results::{ExportCase, InboxFlag};

/// Which final cases to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboxFilter {
    pub flag: Option<InboxFlag>,
    pub campaign_id: Option<i64>,
    pub unread_only: bool,
}

/// A line of the inbox.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxItem {
    pub case_id: i64,
    pub customer_id: i64,
    pub customer_number: String,
    pub first_name: Option<String>,
    pub last_name: String,
    pub campaign_id: i64,
    pub campaign_name: String,
    pub disposition: String,
    pub closed_at: i64,
    pub flags: Option<String>,
    /// The pAp the case is assigned to (reassigned or the customer's own).
    pub pap_code: Option<String>,
    pub read_at: Option<i64>,
    pub acknowledged_at: Option<i64>,
}

impl InboxItem {
    /// The result's flags, when the case has a result.
    pub fn result_flags(&self) -> Option<Flags> {
        self.flags
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok())
    }
}

/// One final case with its result, as the detail page shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxDetail {
    #[sqlx(flatten)]
    pub item: InboxItem,
    pub job_center_id: i64,
    pub outcome: Option<String>,
    pub guide_version: Option<String>,
    pub identity_method: Option<String>,
    pub changes: Option<String>,
    pub note: Option<String>,
    pub acknowledged_by_name: Option<String>,
    pub handed_over_at: Option<i64>,
}

impl InboxDetail {
    pub fn changes(&self) -> Vec<Change> {
        self.changes
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default()
    }
}

/// A disputed value.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Dispute {
    pub field: String,
    pub note: String,
    pub marked_at: i64,
}

/// The scope as SQL parameters: the job center and, for a case manager, the
/// pAp-Kennung. `None` where the scope sees no inbox.
fn bounds(scope: &CustomerScope) -> Option<(i64, Option<String>)> {
    match scope {
        CustomerScope::JobCenter { job_center_id } => Some((*job_center_id, None)),
        CustomerScope::CaseManager {
            job_center_id,
            pap_code,
        } => Some((*job_center_id, Some(pap_code.clone()))),
        CustomerScope::ServiceCenter { .. } => None,
    }
}

macro_rules! inbox_from {
    () => {
        " FROM cases k
          JOIN customers c ON c.id = k.customer_id
          JOIN campaigns p ON p.id = k.campaign_id
          LEFT JOIN results r ON r.case_id = k.id
          LEFT JOIN case_reviews v ON v.case_id = k.id
          WHERE k.closed_at IS NOT NULL AND c.job_center_id = $1
            AND ($2 IS NULL OR (COALESCE(v.pap_code, c.pap_code) = $2 AND c.restricted = FALSE)) "
    };
}

macro_rules! inbox_columns {
    () => {
        "SELECT k.id AS case_id, c.id AS customer_id, c.customer_number, c.first_name, c.last_name,
                p.id AS campaign_id, p.name AS campaign_name, k.final_disposition AS disposition,
                k.closed_at, r.flags, COALESCE(v.pap_code, c.pap_code) AS pap_code,
                v.read_at, v.acknowledged_at"
    };
}

macro_rules! inbox_filter {
    () => {
        " AND ($3 = '' OR r.flag_codes LIKE '% ' || $3 || ' %'
                OR ($3 = 'refused' AND k.final_disposition IN ('refused', 'objection'))
                OR ($3 = 'not_reached' AND k.final_disposition IN ('not_reached', 'no_valid_number')))
          AND ($4 IS NULL OR k.campaign_id = $4)
          AND ($5 = FALSE OR v.read_at IS NULL) "
    };
}

fn filter_args(scope: (i64, Option<String>), filter: &InboxFilter) -> Vec<crate::Arg> {
    args![
        scope.0,
        scope.1,
        filter.flag.map_or("", InboxFlag::code),
        filter.campaign_id,
        filter.unread_only
    ]
}

/// How many final cases match.
pub async fn count(
    tx: &mut Tx,
    scope: &CustomerScope,
    filter: &InboxFilter,
) -> Result<i64, StoreError> {
    let Some(b) = bounds(scope) else {
        return Ok(0);
    };
    let (n,): (i64,) = tx
        .fetch_one(
            concat!("SELECT COUNT(*)", inbox_from!(), inbox_filter!()),
            filter_args(b, filter),
        )
        .await?;
    Ok(n)
}

/// Final cases, newest first.
pub async fn list(
    tx: &mut Tx,
    scope: &CustomerScope,
    filter: &InboxFilter,
    limit: i64,
    offset: i64,
) -> Result<Vec<InboxItem>, StoreError> {
    let Some(b) = bounds(scope) else {
        return Ok(Vec::new());
    };
    let mut params = filter_args(b, filter);
    params.extend(args![limit, offset]);
    tx.fetch_all(
        concat!(
            inbox_columns!(),
            inbox_from!(),
            inbox_filter!(),
            " ORDER BY k.closed_at DESC, k.id DESC LIMIT $6 OFFSET $7"
        ),
        params,
    )
    .await
}

/// One final case in scope, with its result.
pub async fn get(
    tx: &mut Tx,
    scope: &CustomerScope,
    case_id: i64,
) -> Result<Option<InboxDetail>, StoreError> {
    let Some((jc, pap)) = bounds(scope) else {
        return Ok(None);
    };
    tx.fetch_optional(
        concat!(
            inbox_columns!(),
            ", c.job_center_id, r.outcome, r.guide_version, r.identity_method, r.changes, r.note,
               u.display_name AS acknowledged_by_name, v.handed_over_at",
            " FROM cases k
              JOIN customers c ON c.id = k.customer_id
              JOIN campaigns p ON p.id = k.campaign_id
              LEFT JOIN results r ON r.case_id = k.id
              LEFT JOIN case_reviews v ON v.case_id = k.id
              LEFT JOIN users u ON u.id = v.acknowledged_by
              WHERE k.closed_at IS NOT NULL AND c.job_center_id = $1
                AND ($2 IS NULL OR (COALESCE(v.pap_code, c.pap_code) = $2 AND c.restricted = FALSE)) AND k.id = $3"
        ),
        args![jc, pap, case_id],
    )
    .await
}

/// The condition "final case `$1` is in the scope of `$2` (job center) and
/// `$3` (pAp-Kennung or NULL)", the inbox's own condition.
macro_rules! case_in_scope {
    () => {
        " EXISTS (SELECT 1 FROM cases sk
                  JOIN customers sc ON sc.id = sk.customer_id
                  LEFT JOIN case_reviews sv ON sv.case_id = sk.id
                  WHERE sk.id = $1 AND sk.closed_at IS NOT NULL AND sc.job_center_id = $2
                    AND ($3 IS NULL OR (COALESCE(sv.pap_code, sc.pap_code) = $3
                                        AND sc.restricted = FALSE))) "
    };
}

/// The disputed values of a case in scope.
pub async fn disputes(
    tx: &mut Tx,
    scope: &CustomerScope,
    case_id: i64,
) -> Result<Vec<Dispute>, StoreError> {
    let Some((jc, pap)) = bounds(scope) else {
        return Ok(Vec::new());
    };
    tx.fetch_all(
        concat!(
            "SELECT field, note, marked_at FROM result_disputes WHERE case_id = $1 AND",
            case_in_scope!(),
            "ORDER BY field"
        ),
        args![case_id, jc, pap],
    )
    .await
}

/// The review row of a case in scope; `false` when the case is not.
async fn ensure_review(
    tx: &mut Tx,
    case_id: i64,
    (jc, pap): (i64, Option<String>),
) -> Result<bool, StoreError> {
    tx.execute(
        concat!(
            "INSERT INTO case_reviews (case_id) SELECT $1 WHERE",
            case_in_scope!(),
            "ON CONFLICT (case_id) DO NOTHING"
        ),
        args![case_id, jc, pap.clone()],
    )
    .await?;
    let (n,): (i64,) = tx
        .fetch_one(
            concat!(
                "SELECT COUNT(*) FROM case_reviews WHERE case_id = $1 AND",
                case_in_scope!()
            ),
            args![case_id, jc, pap],
        )
        .await?;
    Ok(n == 1)
}

/// Marks a case in scope read (once); `false` when it is not in scope.
pub async fn mark_read(
    tx: &mut Tx,
    scope: &CustomerScope,
    case_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(b) = bounds(scope) else {
        return Ok(false);
    };
    if !ensure_review(tx, case_id, b.clone()).await? {
        return Ok(false);
    }
    tx.execute(
        concat!(
            "UPDATE case_reviews SET read_at = $4 WHERE case_id = $1 AND read_at IS NULL AND",
            case_in_scope!()
        ),
        args![case_id, b.0, b.1, now],
    )
    .await?;
    Ok(true)
}

/// "zur Kenntnis genommen" of a case in scope; `false` when it was
/// acknowledged before or is not in scope.
pub async fn acknowledge(
    tx: &mut Tx,
    scope: &CustomerScope,
    case_id: i64,
    user_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let Some(b) = bounds(scope) else {
        return Ok(false);
    };
    if !ensure_review(tx, case_id, b.clone()).await? {
        return Ok(false);
    }
    let n = tx
        .execute(
            concat!(
                "UPDATE case_reviews SET acknowledged_at = $4, acknowledged_by = $5,
                     read_at = COALESCE(read_at, $4)
                 WHERE case_id = $1 AND acknowledged_at IS NULL AND",
                case_in_scope!()
            ),
            args![case_id, b.0, b.1, now, user_id],
        )
        .await?;
    Ok(n == 1)
}

/// Marks `field` of a case in scope disputed (§ 84 SGB X): the value stays,
/// with the mark; `false` when the case is not in scope.
pub async fn dispute(
    tx: &mut Tx,
    scope: &CustomerScope,
    case_id: i64,
    field: &str,
    note: &str,
    user_id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let Some((jc, pap)) = bounds(scope) else {
        return Ok(false);
    };
    let n = tx
        .execute(
            concat!(
                "INSERT INTO result_disputes (case_id, field, note, marked_by, marked_at)
                 SELECT $1, $4, $5, $6, $7 WHERE",
                case_in_scope!(),
                "ON CONFLICT (case_id, field) DO UPDATE SET note = excluded.note,
                     marked_by = excluded.marked_by, marked_at = excluded.marked_at"
            ),
            args![case_id, jc, pap, field, note, user_id, now],
        )
        .await?;
    Ok(n == 1)
}

/// Hands a case in scope to another pAp (it shows as unread there);
/// `false` when the case is not in scope.
pub async fn reassign(
    tx: &mut Tx,
    scope: &CustomerScope,
    case_id: i64,
    pap_code: &str,
) -> Result<bool, StoreError> {
    let Some(b) = bounds(scope) else {
        return Ok(false);
    };
    if !ensure_review(tx, case_id, b.clone()).await? {
        return Ok(false);
    }
    let n = tx
        .execute(
            concat!(
                "UPDATE case_reviews SET pap_code = $4, read_at = NULL WHERE case_id = $1 AND",
                case_in_scope!()
            ),
            args![case_id, b.0, b.1, pap_code],
        )
        .await?;
    Ok(n == 1)
}

/// The pAp-Kennungen of a job center's case managers (for reassignment).
pub async fn pap_codes(tx: &mut Tx, job_center_id: i64) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = tx
        .fetch_all(
            "SELECT DISTINCT pap_code FROM users
             WHERE job_center_id = $1 AND role = 'case_manager' AND active = TRUE
               AND pap_code IS NOT NULL ORDER BY pap_code",
            args![job_center_id],
        )
        .await?;
    Ok(rows.into_iter().map(|(c,)| c).collect())
}

#[derive(sqlx::FromRow)]
struct ExportRow {
    case_id: i64,
    customer_number: String,
    campaign_id: i64,
    campaign_name: String,
    disposition: String,
    closed_at: i64,
    flags: Option<String>,
    changes: Option<String>,
}

/// The final cases of a campaign of the job center (closed at or after
/// `since`, unix seconds), for the export; oldest first.
pub async fn export_cases(
    tx: &mut Tx,
    job_center_id: i64,
    campaign_id: i64,
    since: Option<i64>,
) -> Result<Vec<ExportCase>, StoreError> {
    let rows: Vec<ExportRow> = tx
        .fetch_all(
            "SELECT k.id AS case_id, c.customer_number, p.id AS campaign_id, p.name AS campaign_name,
                    k.final_disposition AS disposition, k.closed_at, r.flags, r.changes
             FROM cases k
             JOIN customers c ON c.id = k.customer_id
             JOIN campaigns p ON p.id = k.campaign_id
             LEFT JOIN results r ON r.case_id = k.id
             WHERE p.job_center_id = $1 AND p.id = $2 AND k.closed_at IS NOT NULL
               AND ($3 IS NULL OR k.closed_at >= $3)
             ORDER BY k.closed_at, k.id",
            args![job_center_id, campaign_id, since],
        )
        .await?;
    let disputed: Vec<(i64, String)> = tx
        .fetch_all(
            "SELECT d.case_id, d.field FROM result_disputes d
             JOIN cases k ON k.id = d.case_id
             WHERE k.campaign_id = $1 ORDER BY d.case_id, d.field",
            args![campaign_id],
        )
        .await?;
    let mut disputed_by_case: std::collections::HashMap<i64, Vec<String>> = Default::default();
    for (id, field) in disputed {
        disputed_by_case.entry(id).or_default().push(field);
    }
    Ok(rows
        .into_iter()
        .map(|r| ExportCase {
            case_id: r.case_id,
            customer_number: r.customer_number,
            campaign_id: r.campaign_id,
            campaign: r.campaign_name,
            disposition: r.disposition,
            closed_on: berlin_date(r.closed_at),
            flags: r
                .flags
                .as_deref()
                .and_then(|f| serde_json::from_str(f).ok()),
            changes: r
                .changes
                .as_deref()
                .and_then(|c| serde_json::from_str(c).ok())
                .unwrap_or_default(),
            disputed: disputed_by_case.remove(&r.case_id).unwrap_or_default(),
        })
        .collect())
}

/// Marks the exported cases handed over (a case handed over before keeps
/// the first time).
pub async fn mark_handed_over(tx: &mut Tx, case_ids: &[i64], now: i64) -> Result<(), StoreError> {
    for chunk in case_ids.chunks(500) {
        let mut sql = String::from("INSERT INTO case_reviews (case_id, handed_over_at) VALUES ");
        let mut params = Vec::with_capacity(chunk.len() + 1);
        params.push(crate::Arg::from(now));
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("(${}, $1)", i + 2));
            params.push(crate::Arg::from(*id));
        }
        sql.push_str(
            " ON CONFLICT (case_id) DO UPDATE
              SET handed_over_at = COALESCE(case_reviews.handed_over_at, excluded.handed_over_at)",
        );
        tx.execute_generated(sql, params).await?;
    }
    Ok(())
}
