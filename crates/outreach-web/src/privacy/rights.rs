//! The data subject's rights: restriction of processing (Art. 18 GDPR)
//! and disputed values (§ 84 SGB X).

use super::*;

pub(super) fn note_message(problem: NoteProblem) -> String {
    match problem {
        NoteProblem::TooLong => format!("Die Notiz darf höchstens {NOTE_MAX} Zeichen lang sein."),
        NoteProblem::ControlCharacters => "Die Notiz enthält unzulässige Steuerzeichen.".into(),
        NoteProblem::Missing => "Bitte nennen Sie den Grund der Einschränkung (z. B. Antrag vom …, Art. 18 Abs. 1 lit. a DSGVO).".into(),
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "privacy/subject_rights.html")]
pub(super) struct RightsPage {
    pub(super) layout: Layout,
    pub(super) id: i64,
    pub(super) customer_number: String,
    pub(super) name: String,
    pub(super) restricted: bool,
    pub(super) restriction: String,
    pub(super) disputes: Vec<(String, String, String, String)>,
    pub(super) fields: Vec<(&'static str, &'static str)>,
    pub(super) form: FormData,
    pub(super) errors: Errors,
    pub(super) message: &'static str,
    pub(super) can_disclose: bool,
}

pub(super) async fn rights_view(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    form: FormData,
    errors: Errors,
    message: &'static str,
) -> Result<RightsPage, AppError> {
    let actor = &ctx.user.actor;
    let d = privacy::rights(&state.db, ctx.caller(), id, state.clock.now()).await?;
    let c = &d.customer;
    Ok(RightsPage {
        layout: Layout::new(
            &ctx.user,
            format!(
                "Betroffenenrechte: Kundennummer {}",
                c.record.customer_number
            ),
            if actor.role == Role::Dpo {
                "/auskunft"
            } else {
                "/kunden"
            },
        ),
        id,
        customer_number: c.record.customer_number.to_string(),
        name: format!("{} {}", opt(&c.record.first_name), c.record.last_name)
            .trim()
            .to_string(),
        restricted: c.restricted,
        restriction: if c.restricted {
            format!(
                "Eingeschränkt seit {}{}",
                opt_time(d.restricted_at),
                if d.restriction_note.is_empty() {
                    String::new()
                } else {
                    format!(": {}", d.restriction_note)
                }
            )
        } else {
            String::new()
        },
        disputes: d
            .disputes
            .iter()
            .map(|x| {
                (
                    x.field.clone(),
                    field_label(&x.field).to_string(),
                    x.note.clone(),
                    format!(
                        "{}, {}",
                        x.marked_by_name.clone().unwrap_or_default(),
                        format_de_datetime(x.marked_at)
                    ),
                )
            })
            .collect(),
        fields: disputable(),
        form,
        errors,
        message,
        can_disclose: outreach_core::access::can(actor, Action::AnswerAccessRequests),
    })
}

pub(super) async fn rights_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    QueryData(query): QueryData,
) -> Result<RightsPage, AppError> {
    let message = match query.get("meldung") {
        "eingeschraenkt" => {
            "Die Verarbeitung ist jetzt eingeschränkt: die Person ist aus allen Anruflisten genommen."
        }
        "freigegeben" => "Die Einschränkung ist aufgehoben.",
        "bestritten" => "Der Wert ist als bestritten markiert; er bleibt gespeichert.",
        "aufgehoben" => "Die Markierung „bestritten“ ist entfernt.",
        _ => "",
    };
    rights_view(
        &state,
        &ctx,
        id,
        FormData::default(),
        Errors::default(),
        message,
    )
    .await
}

/// The rights page again with the form's problems (422).
pub(super) async fn refuse(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    form: FormData,
    errors: Errors,
) -> Result<Response, AppError> {
    let page = rights_view(state, ctx, id, form, errors, "").await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

pub(super) async fn restrict_post(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let restrict = match form.get("einschraenken") {
        "ja" => Some(true),
        "nein" => Some(false),
        _ => None,
    };
    let note = form.get("grund").trim();
    let now = state.clock.now();
    match privacy::restrict(&state.db, ctx.caller(), id, restrict, note, now).await? {
        Ok(()) => {}
        // The page's buttons send one of the two; anything else is no user's input.
        Err(RestrictProblem::NoChoice) => {
            return Err(AppError::BadRequest(
                "Bitte wählen Sie „einschränken“ oder „aufheben“.",
            ));
        }
        Err(RestrictProblem::Note(problem)) => {
            let mut errors = Errors::default();
            errors.add("grund", "Grund", note_message(problem));
            return refuse(&state, &ctx, id, form, errors).await;
        }
    }
    let message = if restrict == Some(true) {
        "eingeschraenkt"
    } else {
        "freigegeben"
    };
    Ok(Redirect::to(&format!("/betroffenenrechte/{id}?meldung={message}")).into_response())
}

pub(super) async fn dispute_post(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let field = form.get("feld");
    let note = form.get("notiz").trim();
    let now = state.clock.now();
    let Err(problems) = privacy::dispute(&state.db, ctx.caller(), id, field, note, now).await?
    else {
        return Ok(
            Redirect::to(&format!("/betroffenenrechte/{id}?meldung=bestritten")).into_response(),
        );
    };
    let mut errors = Errors::default();
    for problem in problems {
        match problem {
            DisputeProblem::UnknownField => errors.add(
                "feld",
                "Feld",
                "Bitte wählen Sie das Feld, dessen Wert bestritten wird.",
            ),
            DisputeProblem::Note(problem) => errors.add("notiz", "Notiz", note_message(problem)),
        }
    }
    refuse(&state, &ctx, id, form, errors).await
}

pub(super) async fn dispute_clear(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let field = form.get("feld");
    if !privacy::clear_dispute(&state.db, ctx.caller(), id, field, state.clock.now()).await? {
        let mut errors = Errors::default();
        errors.add(
            "feld",
            "Feld",
            "Dieser Wert ist nicht als bestritten markiert.",
        );
        return refuse(&state, &ctx, id, FormData::default(), errors).await;
    }
    Ok(Redirect::to(&format!("/betroffenenrechte/{id}?meldung=aufgehoben")).into_response())
}
