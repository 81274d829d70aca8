//! A campaign's page: its figures, state, batches of letters and cases,
//! and the change of its state.

use super::*;

/// A campaign as listed and shown.
pub(super) struct CampaignView {
    pub(super) c: Campaign,
    pub(super) state_label: &'static str,
    pub(super) period: String,
    pub(super) window: String,
    pub(super) selection: String,
}

impl CampaignView {
    pub(super) fn new(c: Campaign) -> CampaignView {
        CampaignView {
            state_label: c.state().label(),
            period: format!(
                "{} bis {}",
                iso_to_de(&c.period_start),
                iso_to_de(&c.period_end)
            ),
            window: c.window().label(),
            selection: c.selection().label(),
            c,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "campaigns/list.html")]
pub(super) struct ListPage {
    pub(super) layout: Layout,
    pub(super) campaigns: Vec<CampaignView>,
}

pub(super) async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<ListPage, AppError> {
    let campaigns = campaigns::list(&state.db, &ctx.user.actor)
        .await?
        .into_iter()
        .map(CampaignView::new)
        .collect();
    Ok(ListPage {
        layout: Layout::new(&ctx.user, "Aktionen", "/aktionen"),
        campaigns,
    })
}

pub(super) struct HoldRow {
    pub(super) label: String,
    pub(super) count: i64,
}

pub(super) struct BatchView {
    pub(super) b: Batch,
    pub(super) letter_date: String,
    pub(super) sent_on: String,
    pub(super) parts: Vec<(usize, String)>,
}

pub(super) struct CaseRow {
    pub(super) c: CaseListing,
    pub(super) reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "campaigns/detail.html")]
pub(super) struct DetailPage {
    pub(super) layout: Layout,
    pub(super) v: CampaignView,
    pub(super) errors: Errors,
    pub(super) notice: String,
    pub(super) transitions: Vec<(&'static str, &'static str)>,
    pub(super) callable: i64,
    pub(super) held: Vec<HoldRow>,
    pub(super) batches: Vec<BatchView>,
    pub(super) pending_letters: bool,
    pub(super) cases: Vec<CaseRow>,
    pub(super) search: String,
    pub(super) today_hint: String,
}

pub(super) async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    c: Campaign,
    errors: Errors,
    search: &str,
    notice: String,
) -> Result<DetailPage, AppError> {
    let today = today(state);
    let Overview {
        counts,
        batches,
        pending_letters,
        cases,
    } = campaigns::overview(
        &state.db,
        ctx.caller(),
        &c,
        search,
        today,
        state.clock.now(),
    )
    .await?;
    let batches = batches
        .into_iter()
        .map(|b| BatchView {
            letter_date: iso_to_de(&b.letter_date),
            sent_on: b.sent_on.as_deref().map(iso_to_de).unwrap_or_default(),
            parts: campaigns::part_names(&b)
                .into_iter()
                .enumerate()
                .map(|(i, name)| (i + 1, name))
                .collect(),
            b,
        })
        .collect();
    let cases = cases
        .into_iter()
        .map(|k| CaseRow {
            reason: k
                .hold(&c, today)
                .map_or_else(|| "anrufbereit".to_string(), |h| h.label()),
            c: k,
        })
        .collect();
    let transitions = CampaignState::ALL
        .iter()
        .filter_map(|to| c.state().transition(*to).map(|label| (to.code(), label)))
        .collect();
    Ok(DetailPage {
        layout: Layout::new(&ctx.user, format!("Aktion: {}", c.name), "/aktionen"),
        errors,
        notice,
        transitions,
        callable: counts.callable,
        held: counts
            .held
            .into_iter()
            .map(|(h, count)| HoldRow {
                label: h.label(),
                count,
            })
            .collect(),
        batches,
        pending_letters,
        cases,
        search: search.to_string(),
        today_hint: format!("TT.MM.JJJJ, z. B. {}", format_de_date(today)),
        v: CampaignView::new(c),
    })
}

pub(super) async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    QueryData(query): QueryData,
) -> Result<DetailPage, AppError> {
    let c = campaigns::get(&state.db, &ctx.user.actor, id).await?;
    let notice = match query.get("meldung") {
        "stapel" => {
            "Der Briefstapel wurde erstellt. Erzeugen Sie die Druckdateien als ZIP-Archiv oder laden Sie einzelne PDF-Teile herunter."
        }
        "versandt" => "Der Stapel ist als versandt markiert; die Wartefrist läuft.",
        "aktiviert" => "Die Aktion ist aktiv; die Auswahl ist als Fälle festgeschrieben.",
        "gespeichert" => "Die Änderungen am Entwurf sind gespeichert.",
        _ => "",
    };
    detail_page(
        &state,
        &ctx,
        c,
        Errors::default(),
        query.get("suche"),
        notice.into(),
    )
    .await
}

pub(super) async fn change_state(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let to = CampaignState::parse(form.get("state"));
    let now = state.clock.now();
    let changed =
        campaigns::change_state(&state.db, ctx.caller(), id, to, today(&state), now).await?;
    let (c, refusal) = match changed {
        StateChange::Changed { activated: true } => {
            return Ok(Redirect::to(&format!("/aktionen/{id}?meldung=aktiviert")).into_response());
        }
        StateChange::Changed { activated: false } | StateChange::Unchanged => {
            return Ok(Redirect::to(&format!("/aktionen/{id}")).into_response());
        }
        StateChange::Refused(c, refusal) => (*c, refusal),
        // The page's buttons send a known state; anything else is no user's input.
        StateChange::NoState => return Err(AppError::BadRequest("Unbekannter Status.")),
    };
    let mut errors = Errors::default();
    let message = match refusal {
        StateRefusal::NoTransition { from, to } => format!(
            "Von „{}“ nach „{}“ geht es nicht.",
            from.label(),
            to.label()
        ),
        StateRefusal::MandateInactive => "Der Auftrag dieser Aktion ist nicht aktiv.".into(),
    };
    errors.add("state", "Status", message);
    let page = detail_page(&state, &ctx, c, errors, "", String::new()).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
