//! A campaign's batches of advance letters: a new batch, its PDF parts
//! and manifest, and its dispatch.

use super::*;

pub(super) async fn create_batch(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    match campaigns::create_batch(&state.db, ctx.caller(), id, today(&state), now).await? {
        BatchCreation::Created => {
            Ok(Redirect::to(&format!("/aktionen/{id}?meldung=stapel")).into_response())
        }
        BatchCreation::Nothing => Ok(Redirect::to(&format!("/aktionen/{id}")).into_response()),
        BatchCreation::Draft(c) => {
            let mut errors = Errors::default();
            errors.add(
                "letters",
                "Vorabinformationen",
                "Erst nach der Aktivierung gibt es Fälle, denen ein Brief geschrieben werden kann.",
            );
            let page = detail_page(&state, &ctx, *c, errors, "", String::new()).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// The batch if it belongs to the campaign (which the actor owns).
pub(crate) async fn owned_batch(
    state: &AppState,
    actor: &Actor,
    ids: &[i64],
) -> Result<(Campaign, Batch), AppError> {
    let &[id, batch_id, ..] = ids else {
        return Err(AppError::NotFound);
    };
    Ok(campaigns::batch(&state.db, actor, id, batch_id).await?)
}

/// One PDF part of a batch, typeset now from the current data.
pub(super) async fn batch_pdf(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let &[id, batch_id, part, ..] = ids.as_slice() else {
        return Err(AppError::NotFound);
    };
    let (name, pdf) = campaigns::batch_part(
        &state.db,
        ctx.caller(),
        (id, batch_id, part),
        state.clock.now(),
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        pdf,
    )
        .into_response())
}

pub(super) async fn batch_manifest(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
) -> Result<Response, AppError> {
    let &[id, batch_id, ..] = ids.as_slice() else {
        return Err(AppError::NotFound);
    };
    let csv =
        campaigns::batch_manifest(&state.db, ctx.caller(), id, batch_id, state.clock.now()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"vorabinformation-stapel-{batch_id}-manifest.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}

pub(super) async fn batch_sent(
    State(state): State<AppState>,
    ctx: Ctx,
    IdsPath(ids): IdsPath,
    form: FormData,
) -> Result<Response, AppError> {
    let (c, b) = owned_batch(&state, &ctx.user.actor, &ids).await?;
    let mut errors = Errors::default();
    let field = format!("sent_on_{}", b.id);
    if let Some(sent_on) = date(&form, &mut errors, &field, "Versanddatum") {
        let now = state.clock.now();
        match campaigns::mark_sent(
            &state.db,
            ctx.caller(),
            (&c, &b),
            sent_on,
            today(&state),
            now,
        )
        .await?
        {
            Ok(()) => {
                return Ok(
                    Redirect::to(&format!("/aktionen/{}?meldung=versandt", c.id)).into_response(),
                );
            }
            Err(SentProblem::InTheFuture) => errors.add(
                &field,
                "Versanddatum",
                "Das Versanddatum liegt in der Zukunft.",
            ),
        }
    }
    let page = detail_page(&state, &ctx, c, errors, "", String::new()).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}
