//! Reports: the figures of the campaigns a job center's administration or a
//! service center's team lead may see (team figures only).

use crate::{Error, Result};
use outreach_core::access::{Actor, Home, Role};
use outreach_store::Db;
use outreach_store::campaign::{self, Campaign};
pub use outreach_store::report::Figures;
use outreach_store::report::{self, ReportScope};

/// The report of one campaign or of all the actor may see.
pub struct Report {
    /// The campaigns the actor may report on.
    pub campaigns: Vec<Campaign>,
    /// The one chosen, when `chosen` named one of them.
    pub selected: Option<i64>,
    pub figures: Figures,
}

/// The figures of campaign `chosen` (an id as typed; empty or unknown: all
/// the actor's campaigns).
pub async fn figures(db: &Db, actor: &Actor, chosen: &str) -> Result<Report> {
    let mut tx = db.read().await?;
    let (campaigns, mut scope) = match (actor.role, actor.home) {
        (Role::JobcenterAdmin, Home::JobCenter(jc)) => (
            campaign::list(&mut tx, jc).await?,
            ReportScope {
                campaign_id: None,
                job_center_id: Some(jc),
                service_center_id: None,
            },
        ),
        (Role::Supervisor, Home::ServiceCenter(sc)) => (
            campaign::for_service_center(&mut tx, sc).await?,
            ReportScope {
                campaign_id: None,
                job_center_id: None,
                service_center_id: Some(sc),
            },
        ),
        _ => return Err(Error::Forbidden),
    };
    tx.commit().await?;
    let selected = chosen
        .parse::<i64>()
        .ok()
        .filter(|id| campaigns.iter().any(|c| c.id == *id));
    scope.campaign_id = selected;
    let mut tx = db.read().await?;
    let figures = report::figures(&mut tx, scope).await?;
    tx.commit().await?;
    Ok(Report {
        campaigns,
        selected,
        figures,
    })
}
