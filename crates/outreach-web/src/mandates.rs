//! Mandates (Aufträge): the job center administration creates and activates
//! them; a service center's team leads read their own.

use crate::forms::{Errors, FormData, IdPath};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use jiff::civil::Date;
use outreach_app::mandates as app;
use outreach_app::mandates::{Mandate, ServiceCenter};
use outreach_core::access::{Action, Home, can, can_on};
use outreach_core::calls::{CallingWindow, WEEKDAYS};
use outreach_core::customer::{FieldGroup, parse_field_list};
use outreach_core::date::{format_de_date, iso_to_de, parse_de_date};
use outreach_core::mandate::{
    AgentFiguresAgreement, MandateState, NewMandate, default_deletion_deadline, period_problems,
    transition_problem,
};

pub fn routes() -> Routes {
    let view = Access::Action(Action::ViewMandates);
    let manage = Access::Action(Action::ManageMandates);
    Routes::new()
        .get("/auftraege", view, list)
        .get("/auftraege/neu", manage, new_page)
        .post("/auftraege", manage, create)
        .get("/auftraege/{id}", view, detail)
        .post("/auftraege/{id}/status", manage, change_state)
        .post("/auftraege/{id}/mitarbeiterzahlen", manage, agent_figures)
}

/// A mandate as shown: dates in German, state and fields labelled.
struct MandateView {
    m: Mandate,
    state_label: &'static str,
    period: String,
    deletion_deadline: String,
    authority_notified_on: String,
    fields: Vec<&'static str>,
    window: String,
    /// The staff-council agreement where per-agent figures are on; empty when off.
    agent_figures: String,
}

impl MandateView {
    fn new(m: Mandate) -> MandateView {
        MandateView {
            state_label: m.state().label(),
            period: format!(
                "{} bis {}",
                iso_to_de(&m.period_start),
                iso_to_de(&m.period_end)
            ),
            deletion_deadline: iso_to_de(&m.deletion_deadline),
            authority_notified_on: m
                .authority_notified_on
                .as_deref()
                .map(iso_to_de)
                .unwrap_or_default(),
            fields: parse_field_list(&m.allowed_fields)
                .into_iter()
                .map(FieldGroup::label)
                .collect(),
            window: m.window().label(),
            agent_figures: match (&m.agent_figures_agreed_on, &m.agent_figures_reference) {
                (Some(on), Some(reference)) => {
                    format!("Dienstvereinbarung vom {}, {reference}", iso_to_de(on))
                }
                _ => String::new(),
            },
            m,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "mandates/list.html")]
struct ListPage {
    layout: Layout,
    mandates: Vec<MandateView>,
    can_manage: bool,
}

async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<ListPage, AppError> {
    let mandates = app::list(&state.db, &ctx.user.actor)
        .await?
        .into_iter()
        .map(MandateView::new)
        .collect();
    Ok(ListPage {
        layout: Layout::new(&ctx.user, "Aufträge", "/auftraege"),
        mandates,
        can_manage: can(&ctx.user.actor, Action::ManageMandates),
    })
}

struct FieldChoice {
    code: &'static str,
    label: &'static str,
    checked: bool,
}

/// A day of the calling window's checkboxes.
struct DayChoice {
    code: &'static str,
    name: &'static str,
    checked: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "mandates/new.html")]
struct NewPage {
    layout: Layout,
    errors: Errors,
    form: FormData,
    service_centers: Vec<ServiceCenter>,
    fields: Vec<FieldChoice>,
    days: Vec<DayChoice>,
    window_start: String,
    window_end: String,
}

async fn new_form(
    state: &AppState,
    ctx: &Ctx,
    form: FormData,
    errors: Errors,
    submitted: bool,
) -> Result<NewPage, AppError> {
    let chosen = form.all("fields");
    let defaults = FieldGroup::default_for_mandate();
    let fields = FieldGroup::ALL
        .iter()
        .map(|f| FieldChoice {
            code: f.code(),
            label: f.label(),
            checked: if submitted {
                chosen.contains(&f.code())
            } else {
                defaults.contains(f)
            },
        })
        .collect();
    let window = CallingWindow::default();
    Ok(NewPage {
        layout: Layout::new(&ctx.user, "Neuer Auftrag", "/auftraege"),
        errors,
        service_centers: app::service_centers(&state.db).await?,
        fields,
        days: WEEKDAYS[..5]
            .iter()
            .map(|(_, code, name)| DayChoice {
                code,
                name,
                checked: if submitted {
                    form.all("window_days").contains(code)
                } else {
                    window.includes_day(code)
                },
            })
            .collect(),
        window_start: if submitted {
            form.get("window_start").to_string()
        } else {
            window.start()
        },
        window_end: if submitted {
            form.get("window_end").to_string()
        } else {
            window.end()
        },
        form,
    })
}

async fn new_page(State(state): State<AppState>, ctx: Ctx) -> Result<NewPage, AppError> {
    new_form(&state, &ctx, FormData::default(), Errors::default(), false).await
}

fn date_field(
    form: &FormData,
    errors: &mut Errors,
    field: &str,
    label: &str,
    required: bool,
) -> Option<Date> {
    let raw = form.get(field);
    if raw.is_empty() {
        if required {
            errors.add(
                field,
                label,
                "Bitte geben Sie ein Datum im Format TT.MM.JJJJ an.",
            );
        }
        return None;
    }
    match parse_de_date(raw) {
        Ok(d) => Some(d),
        Err(e) => {
            errors.add(field, label, e);
            None
        }
    }
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    let Home::JobCenter(_) = ctx.user.actor.home else {
        return Err(AppError::Forbidden);
    };
    let mut errors = Errors::default();
    let service_center = match form.get("service_center").parse::<i64>() {
        Ok(id) => app::service_center(&state.db, id).await?,
        Err(_) => None,
    };
    if service_center.is_none() {
        errors.add(
            "service_center",
            "Service-Center",
            "Bitte wählen Sie das beauftragte Service-Center aus.",
        );
    }
    let fields: Vec<FieldGroup> = form
        .all("fields")
        .into_iter()
        .filter_map(FieldGroup::parse)
        .collect();
    let start = date_field(&form, &mut errors, "period_start", "Beginn", true);
    let end = date_field(&form, &mut errors, "period_end", "Ende", true);
    let deadline = date_field(&form, &mut errors, "deletion_deadline", "Löschfrist", false);
    let notified = date_field(
        &form,
        &mut errors,
        "authority_notified_on",
        "Anzeige bei der Aufsichtsbehörde",
        false,
    );
    let window = match CallingWindow::parse(
        &form.all("window_days"),
        form.get("window_start"),
        form.get("window_end"),
    ) {
        Ok(window) => Some(window),
        Err(problems) => {
            for p in problems {
                errors.add(p.field, "Anrufzeiten", p.message);
            }
            None
        }
    };
    let deadline = deadline.or_else(|| end.map(default_deletion_deadline));
    for p in period_problems(form.get("title"), start, end, deadline) {
        let label = match p.field {
            "title" => "Bezeichnung",
            "period_end" => "Ende",
            _ => "Löschfrist",
        };
        errors.add(p.field, label, p.message);
    }
    let (Some(sc), Some(start), Some(end), Some(deadline), Some(window), true) = (
        service_center,
        start,
        end,
        deadline,
        window,
        errors.is_empty(),
    ) else {
        let page = new_form(&state, &ctx, form, errors, true).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let new = NewMandate {
        service_center_id: sc.id,
        title: form.get("title").to_string(),
        allowed_fields: fields,
        period_start: start,
        period_end: end,
        deletion_deadline: deadline,
        authority_notified_on: notified,
        window,
    };
    let id = app::create(&state.db, ctx.caller(), &new, state.clock.now()).await?;
    Ok(Redirect::to(&format!("/auftraege/{id}")).into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "mandates/detail.html")]
struct DetailPage {
    layout: Layout,
    v: MandateView,
    can_manage: bool,
    errors: Errors,
    form: FormData,
    today_hint: String,
}

async fn detail_page(
    state: &AppState,
    ctx: &Ctx,
    m: Mandate,
    errors: Errors,
    form: FormData,
) -> DetailPage {
    let owner = app::owner(&m);
    DetailPage {
        layout: Layout::new(&ctx.user, format!("Auftrag: {}", m.title), "/auftraege"),
        can_manage: can_on(&ctx.user.actor, Action::ManageMandates, owner),
        v: MandateView::new(m),
        errors,
        form,
        today_hint: format!(
            "TT.MM.JJJJ, z. B. {}",
            format_de_date(outreach_core::date::berlin_date(state.clock.now()))
        ),
    }
}

async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<DetailPage, AppError> {
    let m = app::get(&state.db, &ctx.user.actor, id, Action::ViewMandates).await?;
    Ok(detail_page(&state, &ctx, m, Errors::default(), FormData::default()).await)
}

async fn change_state(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let m = app::get(&state.db, &ctx.user.actor, id, Action::ManageMandates).await?;
    let mut errors = Errors::default();
    // The page's buttons send a known state; anything else is no user's input.
    let to = MandateState::parse(form.get("state"))
        .ok_or(AppError::BadRequest("Unbekannter Status."))?;
    let notified = date_field(
        &form,
        &mut errors,
        "authority_notified_on",
        "Anzeige bei der Aufsichtsbehörde",
        false,
    );
    let has_notification = m.authority_notified_on.is_some() || notified.is_some();
    if let Some(problem) = transition_problem(m.state(), to, has_notification) {
        errors.add("authority_notified_on", "Status", problem);
    }
    if !errors.is_empty() {
        let page = detail_page(&state, &ctx, m, errors, form).await;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    // Changed by someone else meanwhile or not: the page shows the current state.
    app::change_state(&state.db, ctx.caller(), &m, to, notified, state.clock.now()).await?;
    Ok(Redirect::to(&format!("/auftraege/{id}")).into_response())
}

/// Switches per-agent figures on (with the staff-council agreement's date
/// and reference) or off.
async fn agent_figures(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let m = app::get(&state.db, &ctx.user.actor, id, Action::ManageMandates).await?;
    let now = state.clock.now();
    let agreement = match form.get("state") {
        "off" => None,
        "on" => {
            let mut errors = Errors::default();
            let agreed_on = date_field(
                &form,
                &mut errors,
                "agreed_on",
                "Dienstvereinbarung vom",
                true,
            );
            let today = outreach_core::date::berlin_date(now);
            match AgentFiguresAgreement::new(agreed_on, form.get("reference"), today) {
                Ok(a) if errors.is_empty() => Some(a),
                result => {
                    for p in result.err().unwrap_or_default() {
                        let label = match p.field {
                            "agreed_on" => "Dienstvereinbarung vom",
                            _ => "Aktenzeichen oder Bezeichnung",
                        };
                        errors.add(p.field, label, p.message);
                    }
                    let page = detail_page(&state, &ctx, m, errors, form).await;
                    return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
                }
            }
        }
        // The page's buttons send one of the two; anything else is no user's input.
        _ => return Err(AppError::BadRequest("Unbekannte Einstellung.")),
    };
    // Changed by someone else meanwhile or not: the page shows the current state.
    app::set_agent_figures(&state.db, ctx.caller(), &m, agreement.as_ref(), now).await?;
    Ok(Redirect::to(&format!("/auftraege/{id}#mitarbeiterzahlen")).into_response())
}
