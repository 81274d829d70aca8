//! Aggregates for the campaign reports: counts only, never a name. A report
//! covers one campaign, a job center's campaigns or the campaigns a service
//! center carries out; the scope is part of every statement.

use crate::{StoreError, Tx, args};
use outreach_core::guide::Field;
use outreach_core::guide::session::Flags;

/// Which campaigns a report covers; all given bounds apply together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportScope {
    pub campaign_id: Option<i64>,
    pub job_center_id: Option<i64>,
    pub service_center_id: Option<i64>,
}

impl ReportScope {
    fn params(self) -> Vec<crate::Arg> {
        args![self.campaign_id, self.job_center_id, self.service_center_id]
    }
}

/// The campaigns in scope, as a condition on `k` (cases). A campaign whose
/// cases were deleted counts with its kept figures only.
macro_rules! in_scope {
    () => {
        " k.campaign_id IN (SELECT p.id FROM campaigns p JOIN mandates m ON m.id = p.mandate_id
             WHERE ($1 IS NULL OR p.id = $1) AND ($2 IS NULL OR p.job_center_id = $2)
               AND ($3 IS NULL OR m.service_center_id = $3)
               AND NOT EXISTS (SELECT 1 FROM campaign_statistics st WHERE st.campaign_id = p.id)) "
    };
}

/// Completed conversations ("Gespräch geführt").
macro_rules! completed {
    () => {
        " r.outcome IN ('confirmed', 'updated') "
    };
}

/// The raw figures of a report: counts only, so that they can be kept as an
/// anonymous aggregate when a campaign's cases are deleted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Figures {
    /// Cases by state: fresh, retry, callback, final.
    pub states: Vec<(String, i64)>,
    /// Final cases by disposition code.
    pub dispositions: Vec<(String, i64)>,
    pub completed: i64,
    pub no_longer_unemployed: i64,
    /// Reasons for leaving unemployment (German label) and how often.
    pub reasons: Vec<(String, i64)>,
    pub with_change: i64,
    /// Completed conversations that changed each field.
    pub changed_fields: Vec<(Field, i64)>,
    /// Attempts of the completed cases.
    pub attempts_of_completed: i64,
    /// Seconds from the start of the reached attempt to the stored result,
    /// summed over completed conversations, and how many.
    pub talk_seconds: i64,
    pub talks: i64,
    /// Finished attempts per hour (unix hour = seconds / 3600): all, reached.
    pub attempts_by_hour: Vec<(i64, i64, i64)>,
    /// Cases closed per hour (unix hour).
    pub closed_by_hour: Vec<(i64, i64)>,
}

/// The figures of the campaigns in scope: counted from their cases, plus the
/// kept figures of campaigns whose cases were deleted.
pub async fn figures(tx: &mut Tx, scope: ReportScope) -> Result<Figures, StoreError> {
    let mut f = live_figures(tx, scope).await?;
    let kept: Vec<(String,)> = tx
        .fetch_all(
            "SELECT st.figures FROM campaign_statistics st
             JOIN campaigns p ON p.id = st.campaign_id JOIN mandates m ON m.id = p.mandate_id
             WHERE ($1 IS NULL OR p.id = $1) AND ($2 IS NULL OR p.job_center_id = $2)
               AND ($3 IS NULL OR m.service_center_id = $3)
             ORDER BY st.campaign_id",
            scope.params(),
        )
        .await?;
    for (json,) in kept {
        let other: Figures = serde_json::from_str(&json).map_err(|source| StoreError::Json {
            what: "kept campaign figures",
            source,
        })?;
        f.add(&other);
    }
    Ok(f)
}

/// Adds counts keyed alike; keeps the order of `into`, new keys sorted in.
fn add_keyed<K: Clone + Ord>(into: &mut Vec<(K, i64)>, other: &[(K, i64)]) {
    for (key, n) in other {
        match into.iter_mut().find(|(k, _)| k == key) {
            Some((_, m)) => *m += n,
            None => into.push((key.clone(), *n)),
        }
    }
}

impl Figures {
    /// Adds another set of figures (of other campaigns) to these.
    pub fn add(&mut self, other: &Figures) {
        add_keyed(&mut self.states, &other.states);
        self.states.sort();
        add_keyed(&mut self.dispositions, &other.dispositions);
        self.dispositions.sort();
        self.completed += other.completed;
        self.no_longer_unemployed += other.no_longer_unemployed;
        add_keyed(&mut self.reasons, &other.reasons);
        self.reasons
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        self.with_change += other.with_change;
        add_keyed(&mut self.changed_fields, &other.changed_fields);
        self.attempts_of_completed += other.attempts_of_completed;
        self.talk_seconds += other.talk_seconds;
        self.talks += other.talks;
        for (hour, all, reached) in &other.attempts_by_hour {
            match self.attempts_by_hour.iter_mut().find(|(h, ..)| h == hour) {
                Some((_, a, r)) => {
                    *a += all;
                    *r += reached;
                }
                None => self.attempts_by_hour.push((*hour, *all, *reached)),
            }
        }
        self.attempts_by_hour.sort();
        add_keyed(&mut self.closed_by_hour, &other.closed_by_hour);
        self.closed_by_hour.sort();
    }
}

/// The figures counted from the cases still stored.
pub async fn live_figures(tx: &mut Tx, scope: ReportScope) -> Result<Figures, StoreError> {
    let mut f = Figures {
        states: tx
            .fetch_all(
                concat!(
                    "SELECT CASE WHEN k.final_disposition IS NOT NULL THEN 'final'
                                 WHEN k.callback_at IS NOT NULL THEN 'callback'
                                 WHEN k.attempts_count > 0 THEN 'retry'
                                 ELSE 'fresh' END AS s, COUNT(*)
                     FROM cases k WHERE",
                    in_scope!(),
                    "GROUP BY 1 ORDER BY 1"
                ),
                scope.params(),
            )
            .await?,
        dispositions: tx
            .fetch_all(
                concat!(
                    "SELECT k.final_disposition, COUNT(*) FROM cases k WHERE",
                    in_scope!(),
                    "AND k.final_disposition IS NOT NULL
                     GROUP BY k.final_disposition ORDER BY k.final_disposition"
                ),
                scope.params(),
            )
            .await?,
        ..Figures::default()
    };
    let (completed, leaving, with_change): (i64, i64, i64) = tx
        .fetch_one(
            concat!(
                "SELECT COUNT(*),
                        COALESCE(SUM(CASE WHEN r.flag_codes LIKE '% no_longer_unemployed %' THEN 1 ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN r.changes <> '[]' THEN 1 ELSE 0 END), 0)
                 FROM results r JOIN cases k ON k.id = r.case_id WHERE",
                in_scope!(),
                "AND",
                completed!()
            ),
            scope.params(),
        )
        .await?;
    (f.completed, f.no_longer_unemployed, f.with_change) = (completed, leaving, with_change);
    // Reasons are few (about 7 % of conversations): read and counted here.
    let leaving: Vec<(String,)> = tx
        .fetch_all(
            concat!(
                "SELECT r.flags FROM results r JOIN cases k ON k.id = r.case_id WHERE",
                in_scope!(),
                "AND",
                completed!(),
                "AND r.flag_codes LIKE '% no_longer_unemployed %'"
            ),
            scope.params(),
        )
        .await?;
    let mut reasons: std::collections::BTreeMap<String, i64> = Default::default();
    for (flags,) in leaving {
        let reason = serde_json::from_str::<Flags>(&flags)
            .ok()
            .and_then(|f| f.no_longer_unemployed)
            .and_then(|e| e.reason_label.or(e.reason))
            .unwrap_or_else(|| "ohne Angabe".into());
        *reasons.entry(reason).or_default() += 1;
    }
    f.reasons = reasons.into_iter().collect();
    f.reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for field in Field::ALL {
        let mut params = scope.params();
        params.extend(args![format!("%\"field\":\"{}\"%", field.code())]);
        let (n,): (i64,) = tx
            .fetch_one(
                concat!(
                    "SELECT COUNT(*) FROM results r JOIN cases k ON k.id = r.case_id WHERE",
                    in_scope!(),
                    "AND",
                    completed!(),
                    "AND r.changes LIKE $4"
                ),
                params,
            )
            .await?;
        f.changed_fields.push((field, n));
    }
    let (attempts,): (i64,) = tx
        .fetch_one(
            concat!(
                "SELECT COUNT(*) FROM attempts a JOIN results r ON r.case_id = a.case_id
                 JOIN cases k ON k.id = a.case_id WHERE",
                in_scope!(),
                "AND",
                completed!()
            ),
            scope.params(),
        )
        .await?;
    f.attempts_of_completed = attempts;
    let (talk_seconds, talks): (i64, i64) = tx
        .fetch_one(
            concat!(
                "SELECT CAST(COALESCE(SUM(r.created_at - s.started), 0) AS BIGINT), COUNT(s.started)
                 FROM results r JOIN cases k ON k.id = r.case_id
                 JOIN (SELECT a.case_id, MAX(a.started_at) AS started FROM attempts a
                       WHERE a.result = 'reached' GROUP BY a.case_id) s ON s.case_id = r.case_id
                 WHERE",
                in_scope!(),
                "AND",
                completed!()
            ),
            scope.params(),
        )
        .await?;
    (f.talk_seconds, f.talks) = (talk_seconds, talks);
    f.attempts_by_hour = tx
        .fetch_all(
            concat!(
                "SELECT a.started_at / 3600 AS hour, COUNT(*),
                        COALESCE(SUM(CASE WHEN a.result = 'reached' THEN 1 ELSE 0 END), 0)
                 FROM attempts a JOIN cases k ON k.id = a.case_id WHERE",
                in_scope!(),
                "AND a.ended_at IS NOT NULL GROUP BY a.started_at / 3600 ORDER BY 1"
            ),
            scope.params(),
        )
        .await?;
    f.closed_by_hour = tx
        .fetch_all(
            concat!(
                "SELECT k.closed_at / 3600 AS hour, COUNT(*) FROM cases k WHERE",
                in_scope!(),
                "AND k.closed_at IS NOT NULL GROUP BY k.closed_at / 3600 ORDER BY 1"
            ),
            scope.params(),
        )
        .await?;
    Ok(f)
}
