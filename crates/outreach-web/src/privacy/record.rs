//! The record of processing activities (Art. 30 GDPR) as a page and as
//! text.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "privacy/processing_record.html")]
pub(super) struct RecordPage {
    pub(super) layout: Layout,
    pub(super) sections: Vec<Section>,
    pub(super) job_centers: Vec<(i64, String)>,
    pub(super) selected: i64,
}

pub(super) async fn record_sections(
    state: &AppState,
    ctx: &Ctx,
    query: &FormData,
) -> Result<ProcessingRecord, AppError> {
    Ok(privacy::processing_record_of(
        &state.db,
        ctx.caller(),
        query.get("jobcenter").parse::<i64>().ok(),
        state.config.retention.audit_months,
        state.clock.now(),
    )
    .await?)
}

pub(super) async fn record_page(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<RecordPage, AppError> {
    let ProcessingRecord {
        sections,
        job_centers,
        selected,
    } = record_sections(&state, &ctx, &query).await?;
    Ok(RecordPage {
        layout: Layout::new(
            &ctx.user,
            "Verzeichnis von Verarbeitungstätigkeiten (Art. 30 DSGVO)",
            "/verzeichnis",
        ),
        sections,
        job_centers,
        selected,
    })
}

pub(super) async fn record_download(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    let ProcessingRecord {
        sections, selected, ..
    } = record_sections(&state, &ctx, &query).await?;
    Ok(crate::download::attachment(
        record_text(&sections).into_bytes(),
        "text/plain; charset=utf-8",
        &format!("verarbeitungsverzeichnis-{selected}.txt"),
    ))
}
