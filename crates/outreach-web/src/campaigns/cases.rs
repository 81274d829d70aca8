//! One case of a campaign: why it can't be called yet, and the customer's
//! objection.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "campaigns/case.html")]
pub(super) struct CasePage {
    pub(super) layout: Layout,
    pub(super) campaign: Campaign,
    pub(super) k: CaseListing,
    pub(super) reason: String,
    pub(super) letter: String,
    pub(super) objection_on: String,
    pub(super) errors: Errors,
    pub(super) today_hint: String,
}

pub(super) async fn owned_case(
    state: &AppState,
    ctx: &Ctx,
    ids: &[i64],
) -> Result<(Campaign, CaseListing), AppError> {
    let &[id, case_id, ..] = ids else {
        return Err(AppError::NotFound);
    };
    Ok(campaigns::case(&state.db, &ctx.user.actor, id, case_id).await?)
}

pub(super) async fn case_view(
    state: &AppState,
    ctx: &Ctx,
    c: Campaign,
    k: CaseListing,
    errors: Errors,
) -> Result<CasePage, AppError> {
    campaigns::record_case_read(&state.db, ctx.caller(), (&c, &k), state.clock.now()).await?;
    let today = today(state);
    Ok(CasePage {
        layout: Layout::new(
            &ctx.user,
            format!("Fall {} – {}", k.customer_number, c.name),
            "/aktionen",
        ),
        reason: k
            .hold(&c, today)
            .map_or_else(|| "anrufbereit".to_string(), |h| h.label()),
        letter: match (&k.letter_sent_on, k.letter_generated) {
            (Some(sent), _) => format!("versandt am {}", iso_to_de(sent)),
            (None, true) => "erstellt, noch nicht versandt".into(),
            (None, false) => "noch nicht erstellt".into(),
        },
        objection_on: k.objection_on.as_deref().map(iso_to_de).unwrap_or_default(),
        today_hint: format!("TT.MM.JJJJ, z. B. {}", format_de_date(today)),
        campaign: c,
        k,
        errors,
    })
}

pub(super) async fn case_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<CasePage, AppError> {
    let (c, k) = owned_case(&state, &ctx, &ids).await?;
    case_view(&state, &ctx, c, k, Errors::default()).await
}

pub(super) async fn objection(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
    form: FormData,
) -> Result<Response, AppError> {
    let (c, k) = owned_case(&state, &ctx, &ids).await?;
    let mut errors = Errors::default();
    let label = "Widerspruch eingegangen am";
    let received = date(&form, &mut errors, "objection_on", label);
    let now = state.clock.now();
    let recorded = campaigns::record_objection(
        &state.db,
        ctx.caller(),
        (&c, &k),
        received,
        today(&state),
        now,
    )
    .await?;
    match recorded {
        Ok(()) if errors.is_empty() => {
            return Ok(Redirect::to(&format!("/aktionen/{}/faelle/{}", c.id, k.id)).into_response());
        }
        Ok(()) => {}
        Err(problems) => {
            for problem in problems {
                let message = match problem {
                    ObjectionProblem::InTheFuture => "Das Datum liegt in der Zukunft.",
                    ObjectionProblem::Closed => "Dieser Fall ist bereits abgeschlossen.",
                };
                errors.add("objection_on", label, message);
            }
        }
    }
    let page = case_view(&state, &ctx, c, k, errors).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
