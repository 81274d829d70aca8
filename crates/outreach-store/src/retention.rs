//! Deletion on schedule. Once a mandate's deletion deadline has passed, the
//! processor-side data of its campaigns goes: conversation drafts, attempts,
//! the stored copies of advance letters, and the cases themselves; a result
//! goes once it was handed over to the job center and the job center's
//! retention period after that has passed. Audit events older than the
//! retention period go too, the chain's anchor moving past them. Before a
//! campaign's cases go, its report figures are kept as an anonymous aggregate.
//!
//! Everything runs in one transaction; a dry run does the same and rolls back,
//! so its counts are exactly what a real run would delete. SQLite overwrites
//! the freed pages (`secure_delete`, set on every connection).
//!
//! Safeguards (issue 21): what is due is decided by the database's clock,
//! never the application's (a moved clock must not delete); the callers
//! refuse to run when the two differ by more than [`MAX_CLOCK_SKEW_SECONDS`].
//! Audit retention that would remove more than a tenth of the log in one run
//! stops and is held until released (`--confirm-audit-retention`); the
//! deletion of a mandate's cases after its deadline is not limited.

use crate::audit::{self, AuditEvent};
use crate::report::{self, ReportScope};
use crate::{Db, StoreError, args};
use jiff::civil::Date;
use outreach_core::audit::AuditAction;

/// How long what is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Audit events older than this many months are deleted.
    pub audit_months: i32,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy { audit_months: 12 }
    }
}

/// What a run deleted (or, as a dry run, would delete), by category.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    /// Campaigns past their mandate's deletion deadline that still held data.
    pub campaigns: u64,
    pub conversations: u64,
    pub attempts: u64,
    pub letters: u64,
    pub results: u64,
    pub cases: u64,
    /// Results kept because they were not yet handed over or their retention
    /// period runs on.
    pub results_kept: u64,
    pub audit_events: u64,
    /// Campaigns whose figures were kept as an anonymous aggregate in this run.
    pub statistics_kept: u64,
    /// Audit retention stopped: it would have removed this many events of
    /// the log's so many (more than [`MAX_AUDIT_SHARE_PERCENT`]).
    pub audit_held: Option<(u64, u64)>,
    /// The database's clock the run decided by (UTC unix seconds).
    pub now: i64,
}

/// The largest share of the log's events one retention run removes without
/// a confirmation; normal retention removes about one day in 365.
pub const MAX_AUDIT_SHARE_PERCENT: u64 = 10;

/// How far the application's and the database's clocks may differ before a
/// deletion refuses to run.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

/// The database's clock, UTC unix seconds.
pub async fn database_now(db: &Db) -> Result<i64, StoreError> {
    let mut tx = db.read().await?;
    let now = now_in(&mut tx).await?;
    drop(tx);
    Ok(now)
}

async fn now_in(tx: &mut crate::Tx) -> Result<i64, StoreError> {
    let sql = match tx.backend() {
        crate::Backend::Sqlite => "SELECT unixepoch()",
        crate::Backend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM now()) AS BIGINT)",
    };
    let (now,): (i64,) = tx.fetch_one(sql, vec![]).await?;
    Ok(now)
}

/// Why a deletion refuses to run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Die Uhr dieses Rechners ({app}) und die der Datenbank ({database}) gehen um {minutes} Minuten auseinander. Gelöscht wird nur, wenn beide höchstens 5 Minuten auseinanderliegen: Bitte die Zeit der Rechner (NTP) prüfen."
)]
pub struct ClockSkew {
    pub app: String,
    pub database: String,
    pub minutes: i64,
}

/// Compares the application's clock with the database's; `Err` when they
/// differ by more than [`MAX_CLOCK_SKEW_SECONDS`].
pub async fn check_clocks(db: &Db, app_now: i64) -> Result<Result<i64, ClockSkew>, StoreError> {
    let database = database_now(db).await?;
    if (database - app_now).abs() <= MAX_CLOCK_SKEW_SECONDS {
        return Ok(Ok(database));
    }
    Ok(Err(ClockSkew {
        app: outreach_core::date::format_de_datetime(app_now),
        database: outreach_core::date::format_de_datetime(database),
        minutes: (database - app_now).abs() / 60,
    }))
}

impl PurgeReport {
    /// The categories in German, with their counts, for the dry run's list.
    pub fn lines(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("Aktionen nach Löschfrist", self.campaigns),
            ("Gesprächsentwürfe", self.conversations),
            ("Anrufversuche", self.attempts),
            ("gespeicherte Vorankündigungsschreiben", self.letters),
            (
                "Gesprächsergebnisse (übergeben, Aufbewahrungsfrist abgelaufen)",
                self.results,
            ),
            ("Fälle", self.cases),
            (
                "Protokollereignisse älter als die Aufbewahrungsfrist",
                self.audit_events,
            ),
        ]
    }

    pub fn total(&self) -> u64 {
        self.conversations
            + self.attempts
            + self.letters
            + self.results
            + self.cases
            + self.audit_events
    }

    /// One line for the audit log and the run record.
    pub fn summary(&self) -> String {
        let mut parts: Vec<String> = self
            .lines()
            .into_iter()
            .map(|(label, n)| format!("{label}: {n}"))
            .collect();
        parts.push(format!("Ergebnisse noch aufbewahrt: {}", self.results_kept));
        if let Some((events, of)) = self.audit_held {
            parts.push(format!(
                "Protokolllöschung angehalten: {events} von {of} Ereignissen wären gelöscht worden"
            ));
        }
        parts.join("; ")
    }
}

/// The cases of one campaign, as a condition on a `case_id` column.
macro_rules! cases_of {
    () => {
        "(SELECT k.id FROM cases k WHERE k.campaign_id = $1)"
    };
}

/// The campaign's cases without a result left.
macro_rules! no_result {
    () => {
        "(SELECT k.id FROM cases k WHERE k.campaign_id = $1
          AND NOT EXISTS (SELECT 1 FROM results r WHERE r.case_id = k.id))"
    };
}

/// Results of the campaign that may go: handed over, retention passed.
macro_rules! expired_results {
    () => {
        "(SELECT r.case_id FROM results r
            JOIN cases k ON k.id = r.case_id
            JOIN campaigns p ON p.id = k.campaign_id
            JOIN job_centers j ON j.id = p.job_center_id
            JOIN case_reviews v ON v.case_id = r.case_id
          WHERE k.campaign_id = $1 AND v.handed_over_at IS NOT NULL
            AND v.handed_over_at + j.result_retention_days * 86400 < $2)"
    };
}

/// The last `n` deletion runs: when, and what went.
pub async fn recent_runs(tx: &mut crate::Tx, n: i64) -> Result<Vec<(i64, String)>, StoreError> {
    tx.fetch_all(
        "SELECT ran_at, summary FROM purge_runs ORDER BY id DESC LIMIT $1",
        args![n],
    )
    .await
}

/// How a run is started.
#[derive(Debug, Clone)]
pub struct PurgeRun {
    pub policy: Policy,
    pub dry_run: bool,
    /// Let audit retention remove more than [`MAX_AUDIT_SHARE_PERCENT`] of
    /// the log in this run, releasing a hold (`--confirm-audit-retention`).
    pub confirm_audit_retention: bool,
    /// Who started it (the command line, or the server's daily job).
    pub event: AuditEvent,
    /// Record a run that deleted nothing (the command line does; the daily
    /// job doesn't, so that an idle system's log stays quiet).
    pub record_empty: bool,
}

/// Runs the deletion (or, as a dry run, counts it). A run is audited, a
/// dry run too; the daily job's empty runs are not.
pub async fn purge(db: &Db, run: PurgeRun) -> Result<PurgeReport, StoreError> {
    let PurgeRun {
        policy,
        dry_run,
        confirm_audit_retention,
        event,
        record_empty,
    } = run;
    // The audit events to remove are found by their places in the chain.
    crate::audit::seal(db).await?;
    let mut tx = db.begin().await?;
    let now = now_in(&mut tx).await?;
    let today = outreach_core::date::berlin_date(now);
    let mut report = PurgeReport {
        dry_run,
        now,
        ..PurgeReport::default()
    };
    let due: Vec<(i64, bool)> = tx
        .fetch_all(
            "SELECT p.id, EXISTS (SELECT 1 FROM campaign_statistics st WHERE st.campaign_id = p.id)
             FROM campaigns p JOIN mandates m ON m.id = p.mandate_id
             WHERE m.deletion_deadline < $1
               AND EXISTS (SELECT 1 FROM cases k WHERE k.campaign_id = p.id)
             ORDER BY p.id",
            args![today.to_string()],
        )
        .await?;
    for (campaign, kept) in due {
        report.campaigns += 1;
        if !kept {
            let scope = ReportScope {
                campaign_id: Some(campaign),
                job_center_id: None,
                service_center_id: None,
            };
            let figures = report::live_figures(&mut tx, scope).await?;
            let json = serde_json::to_string(&figures).map_err(|source| StoreError::Json {
                what: "campaign figures",
                source,
            })?;
            tx.execute(
                "INSERT INTO campaign_statistics (campaign_id, figures, saved_at) VALUES ($1, $2, $3)",
                args![campaign, json, now],
            )
            .await?;
            report.statistics_kept += 1;
        }
        purge_campaign(&mut tx, campaign, now, &mut report).await?;
    }
    let audit = AuditRun {
        policy,
        today,
        now,
        confirmed: confirm_audit_retention,
    };
    match purge_audit(&mut tx, audit).await? {
        Ok(removed) => report.audit_events = removed,
        Err(held) => report.audit_held = Some(held),
    }

    if report.total() == 0
        && report.statistics_kept == 0
        && report.audit_held.is_none()
        && !record_empty
        && !confirm_audit_retention
    {
        tx.rollback().await?;
        return Ok(report);
    }
    let mut event = event;
    event.action = AuditAction::Purge;
    let event = event
        .record("database", if dry_run { "Probelauf" } else { "Löschlauf" })
        .fields(&report.summary())
        .purpose(if confirm_audit_retention {
            "Löschung nach Fristablauf; Protokolllöschung über ein Zehntel hinaus bestätigt"
        } else {
            "Löschung nach Fristablauf"
        });
    if dry_run {
        tx.rollback().await?;
        let mut tx = db.begin().await?;
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
    } else {
        tx.execute(
            "INSERT INTO purge_runs (ran_at, summary) VALUES ($1, $2)",
            args![now, report.summary()],
        )
        .await?;
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
    }
    Ok(report)
}

async fn purge_campaign(
    tx: &mut crate::Tx,
    campaign: i64,
    now: i64,
    report: &mut PurgeReport,
) -> Result<(), StoreError> {
    report.conversations += tx
        .execute(
            concat!("DELETE FROM conversations WHERE case_id IN ", cases_of!()),
            args![campaign],
        )
        .await?;
    report.attempts += tx
        .execute(
            concat!("DELETE FROM attempts WHERE case_id IN ", cases_of!()),
            args![campaign],
        )
        .await?;
    report.letters += tx
        .execute(
            concat!(
                "DELETE FROM letters WHERE case_id IN ",
                cases_of!(),
                " OR batch_id IN (SELECT b.id FROM letter_batches b WHERE b.campaign_id = $1)"
            ),
            args![campaign],
        )
        .await?;
    // Results handed over and past the job center's retention, with what
    // hangs on them.
    tx.execute(
        concat!(
            "DELETE FROM result_disputes WHERE case_id IN ",
            expired_results!()
        ),
        args![campaign, now],
    )
    .await?;
    tx.execute(
        concat!(
            "UPDATE invitations SET case_id = NULL WHERE case_id IN ",
            expired_results!()
        ),
        args![campaign, now],
    )
    .await?;
    report.results += tx
        .execute(
            concat!("DELETE FROM results WHERE case_id IN ", expired_results!()),
            args![campaign, now],
        )
        .await?;
    let (kept,): (i64,) = tx
        .fetch_one(
            concat!(
                "SELECT COUNT(*) FROM results WHERE case_id IN ",
                cases_of!()
            ),
            args![campaign],
        )
        .await?;
    report.results_kept += u64::try_from(kept).unwrap_or(0);
    // Cases without a result left go, with their review rows.
    tx.execute(
        concat!("DELETE FROM case_reviews WHERE case_id IN ", no_result!()),
        args![campaign],
    )
    .await?;
    tx.execute(
        concat!(
            "DELETE FROM result_disputes WHERE case_id IN ",
            no_result!()
        ),
        args![campaign],
    )
    .await?;
    tx.execute(
        concat!(
            "UPDATE invitations SET case_id = NULL WHERE case_id IN ",
            no_result!()
        ),
        args![campaign],
    )
    .await?;
    report.cases += tx
        .execute(
            "DELETE FROM cases WHERE campaign_id = $1
               AND NOT EXISTS (SELECT 1 FROM results r WHERE r.case_id = cases.id)",
            args![campaign],
        )
        .await?;
    Ok(())
}

/// The audit part of a run.
struct AuditRun {
    policy: Policy,
    today: Date,
    now: i64,
    confirmed: bool,
}

/// Removes audit events older than the policy's months; the anchor moves to
/// the last removed event so that the rest of the chain still verifies.
/// `Err((would remove, of))` when that is more than a tenth of the log and
/// not confirmed: nothing is removed and the hold is recorded.
async fn purge_audit(
    tx: &mut crate::Tx,
    run: AuditRun,
) -> Result<Result<u64, (u64, u64)>, StoreError> {
    let AuditRun {
        policy,
        today,
        now,
        confirmed,
    } = run;
    let cutoff_day = today.checked_sub(jiff::Span::new().months(policy.audit_months))?;
    let cutoff = outreach_core::date::berlin_day_start(cutoff_day);
    // Everything before the first event that is young enough (events are
    // appended in time order; this never removes a younger one).
    let (through,): (Option<i64>,) = tx
        .fetch_one(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM audit_events WHERE at >= $1)
                         THEN (SELECT MIN(seq) - 1 FROM audit_events WHERE at >= $1)
                         ELSE (SELECT MAX(seq) FROM audit_events) END",
            args![cutoff],
        )
        .await?;
    let (anchor, head): (i64, i64) = tx
        .fetch_one(
            "SELECT r.through_seq, h.last_seq FROM audit_retention r, audit_head h
             WHERE r.id = 1 AND h.id = 1",
            vec![],
        )
        .await?;
    let Some(through) = through.filter(|t| *t > anchor) else {
        tx.execute(
            "UPDATE audit_retention SET held_at = NULL, held_events = NULL, held_of = NULL WHERE id = 1",
            vec![],
        )
        .await?;
        return Ok(Ok(0));
    };
    // The sealed chain is numbered without gaps: the events after the
    // anchor are the log, those up to `through` the ones due.
    let due = u64::try_from(through - anchor).unwrap_or(0);
    let log = u64::try_from(head.max(through) - anchor).unwrap_or(0);
    if !confirmed && due * 100 > log * MAX_AUDIT_SHARE_PERCENT {
        tx.execute(
            "UPDATE audit_retention SET held_at = COALESCE(held_at, $1), held_events = $2, held_of = $3 WHERE id = 1",
            args![now, i64::try_from(due).unwrap_or(i64::MAX), i64::try_from(log).unwrap_or(i64::MAX)],
        )
        .await?;
        return Ok(Err((due, log)));
    }
    tx.execute(
        "UPDATE audit_retention SET through_seq = $1,
             through_hash = (SELECT hash FROM audit_events WHERE seq = $1) WHERE id = 1",
        args![through],
    )
    .await?;
    let removed = tx
        .execute("DELETE FROM audit_events WHERE seq <= $1", args![through])
        .await?;
    let removed_i64 = i64::try_from(removed).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE audit_retention SET removed_total = removed_total + $1, last_removed = $1,
             last_removed_at = $2, held_at = NULL, held_events = NULL, held_of = NULL
         WHERE id = 1",
        args![removed_i64, now],
    )
    .await?;
    tx.execute(
        "DELETE FROM audit_checks WHERE checked_at < $1",
        args![cutoff],
    )
    .await?;
    Ok(Ok(removed))
}
