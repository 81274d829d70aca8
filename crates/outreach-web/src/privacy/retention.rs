//! The job center's retention of results after their hand-over.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "privacy/retention.html")]
pub(super) struct RetentionPage {
    pub(super) layout: Layout,
    pub(super) days: String,
    pub(super) audit_months: i32,
    pub(super) runs: Vec<(String, String)>,
    pub(super) errors: Errors,
    pub(super) saved: bool,
}

pub(super) async fn retention_view(
    state: &AppState,
    ctx: &Ctx,
    days: Option<String>,
    errors: Errors,
    saved: bool,
) -> Result<RetentionPage, AppError> {
    let (stored, runs) = privacy::retention(&state.db, &ctx.user.actor).await?;
    Ok(RetentionPage {
        layout: Layout::new(&ctx.user, "Aufbewahrung und Löschung", "/aufbewahrung"),
        days: days.unwrap_or_else(|| stored.to_string()),
        audit_months: state.config.retention.audit_months,
        runs: runs
            .into_iter()
            .map(|(at, summary)| (format_de_datetime(at), summary))
            .collect(),
        errors,
        saved,
    })
}

pub(super) async fn retention_page(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<RetentionPage, AppError> {
    retention_view(
        &state,
        &ctx,
        None,
        Errors::default(),
        query.get("meldung") == "gespeichert",
    )
    .await
}

pub(super) async fn retention_post(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let raw = form.get("tage").trim();
    let saved = match raw.parse::<i64>() {
        Ok(days) => {
            privacy::set_retention(&state.db, ctx.caller(), days, state.clock.now()).await?
        }
        Err(_) => false,
    };
    if saved {
        return Ok(Redirect::to("/aufbewahrung?meldung=gespeichert").into_response());
    }
    let mut errors = Errors::default();
    errors.add(
        "tage",
        "Aufbewahrung der Ergebnisse",
        "Bitte geben Sie eine ganze Zahl von 1 bis 3650 Tagen an.",
    );
    let page = retention_view(&state, &ctx, Some(raw.to_string()), errors, false).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
