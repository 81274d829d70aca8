//! The start page: what each role works on, at a glance, and for the DPO
//! what needs their attention.

use crate::Result;
use outreach_core::access::{Actor, Home, Role, customer_scope, mandate_scope};
use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, CheckRecord};
use outreach_store::customer::{self, CustomerFilter};
use outreach_store::mandate::{self, MandateScope};
use outreach_store::results::{self, InboxFilter};
use outreach_store::user::{self, Reset};
use outreach_store::{Db, org};
use outreach_store::{campaign, import, invitation, letters, retention};

/// How long a reset of a DPO's or case manager's password shows on the
/// job center DPO's start page.
const RESETS_SHOWN_DAYS: i64 = 30;

/// The start page's facts for one actor; `None` where the role sees no such
/// figure.
#[derive(Default)]
pub struct Overview {
    pub organisation: String,
    /// For the DPO: the last chain check, when it found a break.
    pub broken_check: Option<CheckRecord>,
    /// For a job center's DPO: resets of DPO and case manager passwords in
    /// the last 30 days.
    pub resets: Vec<Reset>,
    /// For the DPO: the warning that audit retention is held.
    pub retention_held: Option<String>,
    pub customers: Option<i64>,
    pub customers_in_mandates: Option<i64>,
    pub active_mandates: Option<usize>,
    pub job_centers: Option<usize>,
    pub service_centers: Option<usize>,
    /// For the case manager: results not read yet, and appointments of
    /// their invitations in the next seven days.
    pub unread_results: Option<i64>,
    pub appointments_this_week: Option<i64>,
    /// For the team lead: the work of the running campaigns now.
    pub team: Option<TeamWork>,
    /// For the agent: whether calling is possible now, or when next.
    pub calling: Option<crate::calls::CallingTime>,
    /// For the job center's administration: the running campaigns and how
    /// far they are, print batches not marked sent, the last import.
    pub campaigns: Vec<campaign::Progress>,
    pub unsent_batches: Option<i64>,
    pub last_import: Option<import::LastImport>,
    /// For the DPO: the last chain check (whatever it found), the last
    /// deletion runs, access requests in the last 30 days.
    pub last_check: Option<CheckRecord>,
    pub deletion_runs: Vec<(i64, String)>,
    pub access_requests: Option<i64>,
}

/// The team lead's work now, over the running campaigns.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TeamWork {
    pub campaigns: usize,
    /// Of them with their calling window open now.
    pub open: usize,
    pub due_now: i64,
    pub callbacks_next_hour: i64,
    /// Leases held longer than 15 minutes.
    pub stuck_leases: usize,
}

pub async fn overview(db: &Db, actor: &Actor, today: &str, now: i64) -> Result<Overview> {
    let mut tx = db.begin_read().await?;
    let mut o = Overview {
        organisation: match actor.home {
            Home::JobCenter(id) => org::job_center(&mut tx, id).await?.map(|j| j.name),
            Home::ServiceCenter(id) => org::service_center(&mut tx, id).await?.map(|s| s.name),
            Home::Global => Some("Bundesweit".to_string()),
        }
        .unwrap_or_default(),
        ..Overview::default()
    };
    if actor.role == Role::Dpo {
        o.last_check = audit::latest_check(&mut tx).await?;
        o.broken_check = o.last_check.clone().filter(|c| c.broken_seq.is_some());
        o.deletion_runs = retention::recent_runs(&mut tx, 3).await?;
        o.access_requests = Some(
            audit::count_since(
                &mut tx,
                actor.home.job_center(),
                AuditAction::AccessRequest,
                now - RESETS_SHOWN_DAYS * 86_400,
            )
            .await?,
        );
        if let Home::JobCenter(jc) = actor.home {
            let since = now - RESETS_SHOWN_DAYS * 86_400;
            o.resets = user::recent_resets(&mut tx, jc, since).await?;
        }
        o.retention_held = audit::retention_state(&mut tx).await?.held_warning();
    }
    let all = CustomerFilter::default();
    if let Some(scope) = customer_scope(actor) {
        o.customers = Some(customer::count(&mut tx, &scope, today, &all).await?);
    }
    if let Some(scope) = mandate_scope(actor) {
        o.customers_in_mandates = Some(customer::count(&mut tx, &scope, today, &all).await?);
    }
    let mandates = match (actor.role, actor.home) {
        (Role::JobcenterAdmin, Home::JobCenter(id)) => Some(MandateScope::JobCenter(id)),
        (Role::Supervisor, Home::ServiceCenter(id)) => Some(MandateScope::ServiceCenter(id)),
        _ => None,
    };
    if let Some(scope) = mandates {
        let list = mandate::list(&mut tx, scope).await?;
        o.active_mandates = Some(list.iter().filter(|m| m.state == "active").count());
    }
    if let (Role::JobcenterAdmin, Home::JobCenter(jc)) = (actor.role, actor.home) {
        o.campaigns = campaign::running_progress(&mut tx, jc).await?;
        o.unsent_batches = Some(letters::unsent_batches(&mut tx, jc).await?);
        o.last_import = import::last_finished(&mut tx, jc).await?;
    }
    if actor.role == Role::CaseManager
        && let (Some(scope), Home::JobCenter(jc)) = (customer_scope(actor), actor.home)
    {
        let unread = InboxFilter {
            unread_only: true,
            ..InboxFilter::default()
        };
        o.unread_results = Some(results::count(&mut tx, &scope, &unread).await?);
        let week = outreach_core::date::parse_iso_date(today)
            .and_then(|d| d.checked_add(jiff::Span::new().days(6)).ok())
            .map_or_else(|| today.to_string(), |d| d.to_string());
        o.appointments_this_week = Some(
            invitation::appointments_between(&mut tx, jc, actor.user_id, (today, &week)).await?,
        );
    }
    if actor.role == Role::Admin {
        o.job_centers = Some(org::list_job_centers(&mut tx).await?.len());
        o.service_centers = Some(org::list_service_centers(&mut tx).await?.len());
    }
    tx.commit().await?;
    if actor.role == Role::Agent {
        o.calling = Some(crate::calls::desk(db, actor, now).await?.calling);
    }
    if actor.role == Role::Supervisor {
        let queues = crate::supervision::queues(db, actor, now).await?;
        o.team = Some(TeamWork {
            campaigns: queues.campaigns.len(),
            open: queues.campaigns.iter().filter(|q| q.window_open).count(),
            due_now: queues.campaigns.iter().map(|q| q.overview.due_now).sum(),
            callbacks_next_hour: queues
                .campaigns
                .iter()
                .map(|q| q.overview.callbacks_next_hour)
                .sum(),
            stuck_leases: queues
                .campaigns
                .iter()
                .map(|q| q.overview.long_leases.len())
                .sum(),
        });
    }
    Ok(o)
}
