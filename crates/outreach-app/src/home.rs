//! The start page: what each role works on, at a glance, and for the DPO
//! what needs their attention.

use crate::Result;
use outreach_core::access::{Actor, Home, Role, customer_scope, mandate_scope};
use outreach_store::audit::{self, CheckRecord};
use outreach_store::customer::{self, CustomerFilter};
use outreach_store::mandate::{self, MandateScope};
use outreach_store::user::{self, Reset};
use outreach_store::{Db, org};

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
        o.broken_check = audit::latest_check(&mut tx)
            .await?
            .filter(|c| c.broken_seq.is_some());
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
    if actor.role == Role::Admin {
        o.job_centers = Some(org::list_job_centers(&mut tx).await?.len());
        o.service_centers = Some(org::list_service_centers(&mut tx).await?.len());
    }
    Ok(o)
}
