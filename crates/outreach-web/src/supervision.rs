//! The supervisor's page: per running campaign of the service center the
//! cases by state and by reason not callable, due now, callbacks in the next
//! hour, leases open longer than 15 minutes (with a release action), and the
//! number of agents online — team figures, and per-agent figures only
//! where the mandate's job center switched them on (personnel data, see
//! DOMAIN.md).

use crate::forms::IdPath;
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::supervision as app;
use outreach_core::access::Action;
use outreach_core::campaign::FinalDisposition;
use outreach_core::date::{format_de_datetime, iso_to_de};

pub fn routes() -> Routes {
    let supervise = Access::Action(Action::SuperviseCalls);
    Routes::new().get("/teamleitung", supervise, page).post(
        "/teamleitung/faelle/{id}/freigeben",
        supervise,
        release,
    )
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
    agent_figures: Option<AgentFiguresRows>,
}

/// Per-agent figures as shown, with the agreement that allows them.
struct AgentFiguresRows {
    agreement: String,
    rows: Vec<AgentRow>,
}

struct AgentRow {
    name: String,
    attempts_today: i64,
    attempts: i64,
    conversations_today: i64,
    conversations: i64,
    talk_today: String,
    talk: String,
}

/// A duration as `h:mm:ss`.
fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn agent_figures(shown: app::AgentFiguresShown) -> AgentFiguresRows {
    AgentFiguresRows {
        agreement: format!(
            "Dienstvereinbarung vom {}, {}",
            iso_to_de(&shown.agreed_on),
            shown.reference
        ),
        rows: shown
            .agents
            .into_iter()
            .map(|a| AgentRow {
                name: a.display_name,
                attempts_today: a.attempts_today,
                attempts: a.attempts,
                conversations_today: a.conversations_today,
                conversations: a.conversations,
                talk_today: duration(a.talk_seconds_today),
                talk: duration(a.talk_seconds),
            })
            .collect(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "supervision/queues.html")]
struct Page {
    layout: Layout,
    campaigns: Vec<CampaignRow>,
    agents_online: i64,
    now: String,
    /// Whether any campaign shows per-agent figures.
    any_agent_figures: bool,
}

async fn page(State(state): State<AppState>, ctx: Ctx) -> Result<Page, AppError> {
    let now = state.clock.now();
    let queues = app::queues(&state.db, &ctx.user.actor, now).await?;
    let campaigns = queues
        .campaigns
        .into_iter()
        .map(|q| CampaignRow {
            name: q.campaign.name,
            open: q.overview.open,
            due_now: q.overview.due_now,
            window_open: q.window_open,
            callbacks_next_hour: q.overview.callbacks_next_hour,
            finals: q
                .overview
                .finals
                .into_iter()
                .map(|(code, n)| {
                    (
                        FinalDisposition::parse(&code).map_or(code, |d| d.label().to_string()),
                        n,
                    )
                })
                .collect(),
            held: q
                .counts
                .held
                .into_iter()
                .map(|(h, n)| (h.label(), n))
                .collect(),
            long_leases: q
                .overview
                .long_leases
                .into_iter()
                .map(|(case, agent, since)| (case, agent, format_de_datetime(since)))
                .collect(),
            agent_figures: q.agent_figures.map(agent_figures),
        })
        .collect();
    let campaigns: Vec<CampaignRow> = campaigns;
    Ok(Page {
        layout: Layout::new(&ctx.user, "Warteschlange", "/teamleitung"),
        any_agent_figures: campaigns.iter().any(|c| c.agent_figures.is_some()),
        campaigns,
        agents_online: queues.agents_online,
        now: format_de_datetime(now),
    })
}

async fn release(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    app::release(&state.db, ctx.caller(), id, state.clock.now()).await?;
    Ok(Redirect::to("/teamleitung").into_response())
}
