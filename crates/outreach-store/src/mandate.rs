//! Mandates (Aufträge): which job center commissions which service center, for
//! which fields and period. Read only within the caller's organisation.

use crate::{StoreError, Tx, args};
use outreach_core::calls::CallingWindow;
use outreach_core::customer::field_list;
use outreach_core::mandate::{AgentFiguresAgreement, MandateState, NewMandate};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Mandate {
    pub id: i64,
    pub job_center_id: i64,
    pub job_center_name: String,
    pub service_center_id: i64,
    pub service_center_name: String,
    pub title: String,
    pub allowed_fields: String,
    pub period_start: String,
    pub period_end: String,
    pub deletion_deadline: String,
    pub authority_notified_on: Option<String>,
    pub window_days: String,
    pub window_start: String,
    pub window_end: String,
    pub state: String,
    /// The staff-council agreement's date (ISO) and reference where the job
    /// center switched per-agent figures on; both `None` when off.
    pub agent_figures_agreed_on: Option<String>,
    pub agent_figures_reference: Option<String>,
}

impl Mandate {
    pub fn window(&self) -> CallingWindow {
        CallingWindow::from_stored(&self.window_days, &self.window_start, &self.window_end)
    }

    pub fn state(&self) -> MandateState {
        MandateState::parse(&self.state).unwrap_or(MandateState::Draft)
    }

    /// Whether the job center switched per-agent figures on for it.
    pub fn agent_figures_on(&self) -> bool {
        self.agent_figures_agreed_on.is_some() && self.agent_figures_reference.is_some()
    }
}

// The columns of [`Mandate`], with the organisations' names.
macro_rules! mandate_select {
    () => {
        "SELECT m.id, m.job_center_id, j.name AS job_center_name, m.service_center_id, s.name AS service_center_name,
                m.title, m.allowed_fields, m.period_start, m.period_end, m.deletion_deadline, m.authority_notified_on,
                m.window_days, m.window_start, m.window_end, m.state,
                m.agent_figures_agreed_on, m.agent_figures_reference
         FROM mandates m
         JOIN job_centers j ON j.id = m.job_center_id
         JOIN service_centers s ON s.id = m.service_center_id "
    };
}

/// Whose mandates to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MandateScope {
    JobCenter(i64),
    ServiceCenter(i64),
}

pub async fn create(
    tx: &mut Tx,
    job_center_id: i64,
    mandate: &NewMandate,
    created_by: i64,
    now: i64,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO mandates (job_center_id, service_center_id, title, allowed_fields, period_start, period_end, deletion_deadline, authority_notified_on, window_days, window_start, window_end, state, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'draft', $12, $13) RETURNING id",
            args![
                job_center_id,
                mandate.service_center_id,
                mandate.title.trim(),
                field_list(&mandate.allowed_fields),
                mandate.period_start.to_string(),
                mandate.period_end.to_string(),
                mandate.deletion_deadline.to_string(),
                mandate.authority_notified_on.map(|d| d.to_string()),
                mandate.window.stored_days(),
                mandate.window.start(),
                mandate.window.end(),
                created_by,
                now
            ],
        )
        .await?;
    Ok(id)
}

pub async fn list(tx: &mut Tx, scope: MandateScope) -> Result<Vec<Mandate>, StoreError> {
    let (kind, id) = match scope {
        MandateScope::JobCenter(id) => ("jc", id),
        MandateScope::ServiceCenter(id) => ("sc", id),
    };
    tx.fetch_all(
        concat!(
            mandate_select!(),
            "WHERE ($1 = 'jc' AND m.job_center_id = $2) OR ($1 = 'sc' AND m.service_center_id = $2)
         ORDER BY m.period_start DESC, m.id DESC"
        ),
        args![kind, id],
    )
    .await
}

/// The condition "mandate `m` is in the scope of `$2` (kind) and `$3` (id)".
macro_rules! mandate_in_scope {
    () => {
        " ($2 = 'all' OR ($2 = 'jc' AND m.job_center_id = $3) OR ($2 = 'sc' AND m.service_center_id = $3)) "
    };
}

/// One mandate by id, if it is in `scope` (its job center's, or the service
/// center's it was given to).
pub async fn by_id(
    tx: &mut Tx,
    scope: crate::RecordScope,
    id: i64,
) -> Result<Option<Mandate>, StoreError> {
    let (kind, owner) = scope.args();
    tx.fetch_optional(
        concat!(
            mandate_select!(),
            "WHERE m.id = $1 AND",
            mandate_in_scope!()
        ),
        args![id, kind, owner],
    )
    .await
}

/// Moves a mandate in `scope` from `from` to `to`; false when it was not in
/// `from` or is not in `scope`.
pub async fn set_state(
    tx: &mut Tx,
    scope: crate::RecordScope,
    id: i64,
    from: MandateState,
    to: MandateState,
) -> Result<bool, StoreError> {
    let (kind, owner) = scope.args();
    let changed = tx
        .execute(
            concat!(
                "UPDATE mandates AS m SET state = $5 WHERE m.id = $1 AND m.state = $4 AND",
                mandate_in_scope!()
            ),
            args![id, kind, owner, from.code(), to.code()],
        )
        .await?;
    Ok(changed == 1)
}

/// Records when the supervisory authority was told of a mandate in `scope`
/// (§ 80 SGB X); false when it is not in `scope`.
pub async fn set_authority_notified(
    tx: &mut Tx,
    scope: crate::RecordScope,
    id: i64,
    date: &str,
) -> Result<bool, StoreError> {
    let (kind, owner) = scope.args();
    let changed = tx
        .execute(
            concat!(
                "UPDATE mandates AS m SET authority_notified_on = $4 WHERE m.id = $1 AND",
                mandate_in_scope!()
            ),
            args![id, kind, owner, date],
        )
        .await?;
    Ok(changed == 1)
}

/// Switches per-agent figures on (with the staff-council agreement's date
/// and reference) or off (`None`) for a mandate in `scope`; false when it is
/// not in `scope` or already so.
pub async fn set_agent_figures(
    tx: &mut Tx,
    scope: crate::RecordScope,
    id: i64,
    agreement: Option<&AgentFiguresAgreement>,
) -> Result<bool, StoreError> {
    let (kind, owner) = scope.args();
    let agreed_on = agreement.map(|a| a.agreed_on.to_string());
    let reference = agreement.map(|a| a.reference.clone());
    let changed = tx
        .execute(
            concat!(
                "UPDATE mandates AS m SET agent_figures_agreed_on = $4, agent_figures_reference = $5
                 WHERE m.id = $1 AND (m.agent_figures_reference IS NULL) = ($5 IS NOT NULL) AND",
                mandate_in_scope!()
            ),
            args![id, kind, owner, agreed_on, reference],
        )
        .await?;
    Ok(changed == 1)
}
