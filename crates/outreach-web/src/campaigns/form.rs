//! The campaign form: a new campaign or a draft's settings, with the live
//! preview of how many customers the selection takes.

use super::*;

pub(super) struct Choice {
    pub(super) code: String,
    pub(super) label: String,
    pub(super) checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "campaigns/form.html")]
pub(super) struct NewPage {
    pub(super) layout: Layout,
    pub(super) errors: Errors,
    pub(super) form: FormData,
    pub(super) mandates: Vec<Mandate>,
    pub(super) guides: Vec<StoredGuide>,
    pub(super) statuses: Vec<Choice>,
    pub(super) days: Vec<Choice>,
    pub(super) preview: Option<i64>,
    /// Where the form goes: `/aktionen`, or the draft's edit address.
    pub(super) action: String,
    pub(super) submit_label: &'static str,
}

/// The form's value, or the default when the form was not submitted yet.
pub(super) fn value(
    form: &FormData,
    submitted: bool,
    name: &str,
    default: impl ToString,
) -> String {
    if submitted {
        form.get(name).to_string()
    } else {
        default.to_string()
    }
}

/// The campaign form: new (`editing` None) or a draft's.
pub(super) async fn new_form(
    state: &AppState,
    ctx: &Ctx,
    form: FormData,
    errors: Errors,
    preview: Option<i64>,
    editing: Option<&Campaign>,
) -> Result<NewPage, AppError> {
    let choices = campaigns::form_choices(&state.db, &ctx.user.actor).await?;
    let guides = choices.guides;
    let submitted = form.get("submitted") == "1";
    let defaults = Selection::default();
    let window = CallingWindow::default();
    let mut defaulted = FormData::default();
    for (name, default) in [
        ("contact_weeks", defaults.contact_weeks.to_string()),
        (
            "contact_weeks_under_25",
            defaults.contact_weeks_under_25.to_string(),
        ),
        ("attempts_per_day", "1".into()),
        ("attempts_total", "6".into()),
        ("lead_days", "7".into()),
        ("window_start", window.start()),
        ("window_end", window.end()),
    ] {
        defaulted.set(name, value(&form, submitted, name, default));
    }
    for name in ["name", "mandate", "postcodes", "period_start", "period_end"] {
        defaulted.set(name, form.get(name).to_string());
    }
    // By default the newest built-in guide.
    let default_guide = guides
        .iter()
        .filter(|g| g.built_in())
        .max_by_key(|g| g.id)
        .map(|g| g.id.to_string())
        .unwrap_or_default();
    defaulted.set("guide", value(&form, submitted, "guide", default_guide));
    defaulted.set("submitted", "1".to_string());
    let (title, action, submit_label) = match editing {
        Some(c) => (
            format!("Entwurf bearbeiten: {}", c.name),
            format!("/aktionen/{}/bearbeiten", c.id),
            "Änderungen speichern",
        ),
        None => (
            "Neue Aktion".to_string(),
            "/aktionen".to_string(),
            "Aktion als Entwurf anlegen",
        ),
    };
    Ok(NewPage {
        layout: Layout::new(&ctx.user, title, "/aktionen"),
        action,
        submit_label,
        errors,
        mandates: choices.mandates,
        guides,
        statuses: Status::ALL
            .iter()
            .map(|s| Choice {
                code: s.code().into(),
                label: s.label().into(),
                checked: if submitted {
                    form.all("statuses").contains(&s.code())
                } else {
                    defaults.statuses.iter().any(|c| c == s.code())
                },
            })
            .collect(),
        days: WEEKDAYS[..5]
            .iter()
            .map(|(_, code, name)| Choice {
                code: (*code).into(),
                label: (*name).into(),
                checked: if submitted {
                    form.all("window_days").contains(code)
                } else {
                    window.includes_day(code)
                },
            })
            .collect(),
        form: defaulted,
        preview,
    })
}

pub(super) async fn new_page(State(state): State<AppState>, ctx: Ctx) -> Result<NewPage, AppError> {
    new_form(
        &state,
        &ctx,
        FormData::default(),
        Errors::default(),
        None,
        None,
    )
    .await
}

/// The draft's settings as the form shows them.
pub(super) fn draft_form(c: &Campaign) -> FormData {
    let selection = c.selection();
    let window = c.window();
    let mut form = FormData::default();
    form.set("submitted", "1".into());
    form.set("name", c.name.clone());
    form.set("mandate", c.mandate_id.to_string());
    for status in &selection.statuses {
        form.push("statuses", status.clone());
    }
    form.set("contact_weeks", selection.contact_weeks.to_string());
    form.set(
        "contact_weeks_under_25",
        selection.contact_weeks_under_25.to_string(),
    );
    form.set("postcodes", selection.postcodes.join(", "));
    form.set(
        "guide",
        c.guide_id.map(|g| g.to_string()).unwrap_or_default(),
    );
    for (_, code, _) in WEEKDAYS.iter() {
        if window.includes_day(code) {
            form.push("window_days", (*code).to_string());
        }
    }
    form.set("window_start", window.start());
    form.set("window_end", window.end());
    form.set("attempts_per_day", c.attempts_per_day.to_string());
    form.set("attempts_total", c.attempts_total.to_string());
    form.set("lead_days", c.lead_days.to_string());
    form.set("period_start", iso_to_de(&c.period_start));
    form.set("period_end", iso_to_de(&c.period_end));
    form
}

/// The campaign if it is still a draft; otherwise its page says why it
/// can't be changed.
pub(super) async fn owned_draft(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
) -> Result<Result<Campaign, Response>, AppError> {
    let c = match campaigns::editable(&state.db, &ctx.user.actor, id).await? {
        Editable::Draft(c) => return Ok(Ok(c)),
        Editable::Fixed(c) => c,
    };
    let mut errors = Errors::default();
    errors.add(
        "state",
        "Status",
        "Nur ein Entwurf kann geändert werden; nach der Aktivierung sind Auswahl und Briefe festgeschrieben.",
    );
    let page = detail_page(state, ctx, c, errors, "", String::new()).await?;
    Ok(Err((StatusCode::CONFLICT, page).into_response()))
}

pub(super) async fn edit_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let c = match owned_draft(&state, &ctx, id).await? {
        Ok(c) => c,
        Err(refused) => return Ok(refused),
    };
    let form = draft_form(&c);
    Ok(
        new_form(&state, &ctx, form, Errors::default(), None, Some(&c))
            .await?
            .into_response(),
    )
}

pub(super) fn number(form: &FormData, errors: &mut Errors, field: &str, label: &str) -> u32 {
    match form.get(field).trim().parse::<u32>() {
        Ok(n) => n,
        Err(_) => {
            errors.add(field, label, "Bitte geben Sie eine ganze Zahl an.");
            0
        }
    }
}

/// The selection as entered; errors named per field.
pub(super) fn read_selection(form: &FormData, errors: &mut Errors) -> Selection {
    let postcodes = match parse_postcodes(form.get("postcodes")) {
        Ok(codes) => codes,
        Err(p) => {
            errors.add(p.field, "Postleitzahlen", p.message);
            Vec::new()
        }
    };
    Selection {
        statuses: form
            .all("statuses")
            .into_iter()
            .filter(|c| Status::parse(c).is_some())
            .map(String::from)
            .collect(),
        contact_weeks: number(
            form,
            errors,
            "contact_weeks",
            "Letzter Kontakt vor mindestens",
        ),
        contact_weeks_under_25: number(
            form,
            errors,
            "contact_weeks_under_25",
            "Unter 25: letzter Kontakt vor mindestens",
        ),
        postcodes,
    }
}

pub(super) fn label_of(field: &str) -> &'static str {
    match field {
        "name" => "Name",
        "statuses" => "Status",
        "contact_weeks_under_25" => "Unter 25: letzter Kontakt vor mindestens",
        "attempts_per_day" => "Versuche pro Tag",
        "attempts_total" => "Versuche insgesamt",
        "lead_days" => "Wartefrist nach Versand",
        "period_start" | "period_end" => "Anrufzeitraum",
        _ => "Anrufzeiten",
    }
}

/// What the campaign form asks for, as far as it can be read; problems of
/// reading named in `errors`.
pub(super) fn read_input(
    form: &FormData,
    selection: Selection,
    errors: &mut Errors,
) -> CampaignInput {
    let attempts_per_day = number(form, errors, "attempts_per_day", "Versuche pro Tag");
    let attempts_total = number(form, errors, "attempts_total", "Versuche insgesamt");
    let lead_days = number(form, errors, "lead_days", "Wartefrist nach Versand");
    let period_start = date(form, errors, "period_start", "Beginn des Anrufzeitraums");
    let period_end = date(form, errors, "period_end", "Ende des Anrufzeitraums");
    let window = match CallingWindow::parse(
        &form.all("window_days"),
        form.get("window_start"),
        form.get("window_end"),
    ) {
        Ok(w) => Some(w),
        Err(problems) => {
            for p in problems {
                errors.add(p.field, "Anrufzeiten", p.message);
            }
            None
        }
    };
    CampaignInput {
        name: form.get("name").to_string(),
        mandate_id: form.get("mandate").parse::<i64>().ok(),
        guide_id: form.get("guide").parse::<i64>().ok(),
        selection,
        attempts_per_day,
        attempts_total,
        lead_days,
        period_start,
        period_end,
        window,
        readable: errors.is_empty(),
    }
}

/// The form's problems in the order the form asks: what the selection could
/// not read (`read_first`), the mandate and the guide, what the rest could
/// not read (`read_then`), then the rules.
pub(super) fn refused(read_first: Errors, refusal: Refusal, read_then: Errors) -> Errors {
    let mut errors = read_first;
    if refusal.no_mandate {
        errors.add(
            "mandate",
            "Auftrag",
            "Bitte wählen Sie einen aktiven Auftrag aus.",
        );
    }
    if refusal.no_guide {
        errors.add(
            "guide",
            "Gesprächsleitfaden",
            "Bitte wählen Sie eine Version des Gesprächsleitfadens aus.",
        );
    }
    errors.0.extend(read_then.0);
    for p in refusal.problems {
        errors.add(p.field, label_of(p.field), p.message);
    }
    errors
}

/// The count for "Anzahl anzeigen" (without script), when the selection is valid.
pub(super) async fn preview_form(
    state: &AppState,
    ctx: &Ctx,
    selection: &Selection,
    errors: &Errors,
) -> Result<Option<i64>, AppError> {
    Ok(if errors.is_empty() {
        Some(campaigns::preview_count(&state.db, &ctx.user.actor, selection, today(state)).await?)
    } else {
        None
    })
}

pub(super) async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    if form.get("action") == "vorschau" {
        let count = preview_form(&state, &ctx, &selection, &errors).await?;
        let page = new_form(&state, &ctx, form, errors, count, None).await?;
        return Ok(page.into_response());
    }
    let mut read_then = Errors::default();
    let mut input = read_input(&form, selection, &mut read_then);
    input.readable = errors.is_empty() && read_then.is_empty();
    match campaigns::create(&state.db, ctx.caller(), input, state.clock.now()).await? {
        Saved::Saved(id) => Ok(Redirect::to(&format!("/aktionen/{id}")).into_response()),
        Saved::Refused(refusal) => {
            let errors = refused(errors, refusal, read_then);
            let page = new_form(&state, &ctx, form, errors, None, None).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        Saved::NotDraft => Err(AppError::internal("campaign", "a new campaign is no draft")),
    }
}

/// Saves a draft's changed settings.
pub(super) async fn update(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let c = match owned_draft(&state, &ctx, id).await? {
        Ok(c) => c,
        Err(refused) => return Ok(refused),
    };
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    if form.get("action") == "vorschau" {
        let count = preview_form(&state, &ctx, &selection, &errors).await?;
        let page = new_form(&state, &ctx, form, errors, count, Some(&c)).await?;
        return Ok(page.into_response());
    }
    let mut read_then = Errors::default();
    let mut input = read_input(&form, selection, &mut read_then);
    input.readable = errors.is_empty() && read_then.is_empty();
    match campaigns::update(&state.db, ctx.caller(), &c, input, state.clock.now()).await? {
        Saved::Saved(_) => {
            Ok(Redirect::to(&format!("/aktionen/{id}?meldung=gespeichert")).into_response())
        }
        Saved::Refused(refusal) => {
            let errors = refused(errors, refusal, read_then);
            let page = new_form(&state, &ctx, form, errors, None, Some(&c)).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
        // Activated in the meantime: nothing was changed.
        Saved::NotDraft => Ok(owned_draft(&state, &ctx, id)
            .await?
            .err()
            .unwrap_or_else(|| Redirect::to(&format!("/aktionen/{id}")).into_response())),
    }
}

/// The live preview: how many customers the selection in the query takes.
pub(super) async fn preview(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(form): QueryData,
) -> Result<Response, AppError> {
    let mut errors = Errors::default();
    let selection = read_selection(&form, &mut errors);
    let body = if let Some(e) = errors.0.first() {
        serde_json::json!({ "count": null, "text": format!("{}: {}", e.label, e.message) })
    } else {
        let count =
            campaigns::preview_count(&state.db, &ctx.user.actor, &selection, today(&state)).await?;
        serde_json::json!({ "count": count, "text": format!("Diese Auswahl umfasst heute {count} Kunden.") })
    };
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response())
}
