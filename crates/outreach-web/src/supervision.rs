//! The supervisor's page: per running campaign of the service center the
//! cases by state and by reason not callable, due now, callbacks in the next
//! hour, leases open longer than 15 minutes (with a release action), and the
//! number of agents online — team figures only (per-agent figures are
//! personnel data, see DOMAIN.md).

use crate::forms::IdPath;
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use outreach_core::access::{Action, Actor};
use outreach_core::audit::AuditAction;
use outreach_core::campaign::FinalDisposition;
use outreach_core::date::{berlin_date, format_de_datetime};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::campaign;
use outreach_store::queue::{self, QueueScope};

pub fn routes() -> Routes {
    let supervise = Access::Action(Action::SuperviseCalls);
    Routes::new().get("/teamleitung", supervise, page).post(
        "/teamleitung/faelle/{id}/freigeben",
        supervise,
        release,
    )
}

fn service_center_of(actor: &Actor) -> Result<i64, AppError> {
    actor.home.service_center().ok_or(AppError::Forbidden)
}

struct CampaignRow {
    name: String,
    open: i64,
    due_now: i64,
    window_open: bool,
    callbacks_next_hour: i64,
    finals: Vec<(String, i64)>,
    held: Vec<(String, i64)>,
    long_leases: Vec<(i64, String, String)>,
}

#[derive(Template, WebTemplate)]
#[template(path = "supervision.html")]
struct Page {
    layout: Layout,
    campaigns: Vec<CampaignRow>,
    agents_online: i64,
    now: String,
}

async fn page(State(state): State<AppState>, ctx: Ctx) -> Result<Page, AppError> {
    let sc = service_center_of(&ctx.user.actor)?;
    let now = state.clock.now();
    let today = berlin_date(now);
    let mut tx = state.db.begin_read().await?;
    let running = campaign::running_for_service_center(&mut tx, sc, today).await?;
    let scope = QueueScope::new(ctx.user.actor.user_id, now, &running);
    let mut campaigns = Vec::new();
    for c in &running {
        let open = scope.campaigns.iter().find(|o| o.id == c.id);
        let o = queue::overview(&mut tx, c.id, open, &scope.holiday_states, now).await?;
        let counts = campaign::callable_counts(&mut tx, c, today).await?;
        campaigns.push(CampaignRow {
            name: c.name.clone(),
            open: o.open,
            due_now: o.due_now,
            window_open: open.is_some(),
            callbacks_next_hour: o.callbacks_next_hour,
            finals: o
                .finals
                .into_iter()
                .map(|(code, n)| {
                    (
                        FinalDisposition::parse(&code).map_or(code, |d| d.label().to_string()),
                        n,
                    )
                })
                .collect(),
            held: counts
                .held
                .into_iter()
                .map(|(h, n)| (h.label(), n))
                .collect(),
            long_leases: o
                .long_leases
                .into_iter()
                .map(|(case, agent, since)| (case, agent, format_de_datetime(since)))
                .collect(),
        });
    }
    let agents_online = queue::agents_online(&mut tx, sc, now).await?;
    tx.commit().await?;
    Ok(Page {
        layout: Layout::new(&ctx.user, "Warteschlange", "/teamleitung"),
        campaigns,
        agents_online,
        now: format_de_datetime(now),
    })
}

async fn release(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let sc = service_center_of(&ctx.user.actor)?;
    let mut tx = state.db.begin().await?;
    if !queue::release_by_supervisor(&mut tx, id, sc).await? {
        return Err(AppError::NotFound);
    }
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::LeaseRelease, &ctx.client)
        .record("case", id)
        .fields("Zuteilung aufgehoben");
    audit::append(&mut tx, &event, state.clock.now()).await?;
    tx.commit().await?;
    Ok(Redirect::to("/teamleitung").into_response())
}
