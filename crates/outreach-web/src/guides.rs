//! Conversation guides for the job center administration: the versions it
//! may use (built in and its own), a new version from TOML text with every
//! problem named by line, a guide's content, and a preview that runs the
//! guide exactly as an agent would, with test data, storing nothing.

use crate::conversation::{StepView, step_view};
use crate::forms::{Errors, FormData, IdPath, QueryData};
use crate::layout::Layout;
use crate::routes::{Access, Routes};
use crate::session::Ctx;
use crate::{AppError, AppState};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use outreach_app::guides as app;
use outreach_app::guides::{NotStored, StoredGuide};
use outreach_core::access::{Action, Actor};
use outreach_core::customer::Field as StoredField;
use outreach_core::date::{berlin_date, format_de_date, iso_to_de};
use outreach_core::guide::definition::IdentityItem;
use outreach_core::guide::session::{Context, Customer, State as Conversation};
use outreach_core::guide::{Field, Guide, Session};
use std::collections::BTreeMap;

pub fn routes() -> Routes {
    let manage = Access::Action(Action::ManageCampaigns);
    Routes::new()
        .get("/leitfaeden", manage, list)
        .get("/leitfaeden/neu", manage, new_page)
        .post("/leitfaeden", manage, create)
        .get("/leitfaeden/{id}", manage, detail)
        .get("/leitfaeden/{id}/vorschau", manage, preview_start)
        .post("/leitfaeden/{id}/vorschau", manage, preview_step)
}

fn job_center_of(actor: &Actor) -> Result<i64, AppError> {
    actor.home.job_center().ok_or(AppError::Forbidden)
}

/// The version if the actor's job center may use it; otherwise "not found".
async fn visible(state: &AppState, actor: &Actor, id: i64) -> Result<StoredGuide, AppError> {
    Ok(app::get(&state.db, actor, id).await?)
}

struct GuideRow {
    g: StoredGuide,
    valid_from: String,
    created: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "guides/list.html")]
struct ListPage {
    layout: Layout,
    guides: Vec<GuideRow>,
}

async fn list(State(state): State<AppState>, ctx: Ctx) -> Result<ListPage, AppError> {
    let guides = app::list(&state.db, &ctx.user.actor)
        .await?
        .into_iter()
        .map(|g| GuideRow {
            valid_from: iso_to_de(&g.valid_from),
            created: outreach_core::date::format_de_datetime(g.created_at),
            g,
        })
        .collect();
    Ok(ListPage {
        layout: Layout::new(&ctx.user, "Gesprächsleitfäden", "/leitfaeden"),
        guides,
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "guides/new.html")]
struct NewPage {
    layout: Layout,
    errors: Errors,
    /// Problems of the text, by line.
    problems: Vec<String>,
    source: String,
    checked: String,
}

async fn new_page(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<NewPage, AppError> {
    job_center_of(&ctx.user.actor)?;
    let source = match query.get("von").parse::<i64>() {
        Ok(id) => visible(&state, &ctx.user.actor, id).await?.source,
        Err(_) => String::new(),
    };
    Ok(NewPage {
        layout: Layout::new(&ctx.user, "Neue Leitfaden-Version", "/leitfaeden"),
        errors: Errors::default(),
        problems: Vec::new(),
        source,
        checked: String::new(),
    })
}

async fn create(
    State(state): State<AppState>,
    ctx: Ctx,
    form: FormData,
) -> Result<Response, AppError> {
    job_center_of(&ctx.user.actor)?;
    let source = form.raw("quelle").replace("\r\n", "\n");
    let page = |errors: Errors, problems: Vec<String>, checked: String| NewPage {
        layout: Layout::new(&ctx.user, "Neue Leitfaden-Version", "/leitfaeden"),
        errors,
        problems,
        source: source.clone(),
        checked,
    };
    let parsed = Guide::parse(&source);
    let guide = match parsed {
        Err(problems) => {
            let mut errors = Errors::default();
            errors.add(
                "quelle",
                "Leitfaden",
                format!(
                    "{} Problem(e) gefunden; die Liste unter dem Textfeld nennt jedes mit seiner Zeile.",
                    problems.len()
                ),
            );
            let lines = problems.iter().map(ToString::to_string).collect();
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(errors, lines, String::new()),
            )
                .into_response());
        }
        Ok(g) => g,
    };
    if form.get("aktion") != "speichern" {
        let checked = format!(
            "Der Leitfaden ist in Ordnung: „{}“, Version {}, gültig ab {}, {} Fragen.",
            guide.name,
            guide.version,
            format_de_date(guide.valid_from),
            guide.questions().count()
        );
        return Ok(page(Errors::default(), Vec::new(), checked).into_response());
    }
    let stored = app::save(&state.db, ctx.caller(), &guide, &source, state.clock.now()).await?;
    let id = match stored {
        Ok(id) => id,
        Err(not) => {
            let message = match not {
                NotStored::Unchanged { .. } => format!(
                    "Genau diese Fassung ist als Version {} schon gespeichert.",
                    guide.version
                ),
                NotStored::VersionTaken { .. } => format!(
                    "Die Version {} von „{}“ gibt es schon. Jede Änderung braucht eine neue Versionsbezeichnung (guide.version).",
                    guide.version, guide.name
                ),
            };
            let mut errors = Errors::default();
            errors.add("quelle", "Leitfaden", message);
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                page(errors, Vec::new(), String::new()),
            )
                .into_response());
        }
    };
    Ok(Redirect::to(&format!("/leitfaeden/{id}")).into_response())
}

struct QuestionRow {
    section: String,
    id: String,
    text: String,
    kind: String,
    required: bool,
    when: String,
    field: String,
    purpose: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "guides/detail.html")]
struct DetailPage {
    layout: Layout,
    g: StoredGuide,
    guide: Guide,
    valid_from: String,
    questions: Vec<QuestionRow>,
}

async fn detail(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<DetailPage, AppError> {
    let g = visible(&state, &ctx.user.actor, id).await?;
    let guide = g
        .guide()
        .map_err(|_| AppError::internal("guide", format!("stored guide {id} no longer checks")))?;
    let questions = guide
        .questions()
        .map(|(s, q)| QuestionRow {
            section: s.title.clone(),
            id: q.id.clone(),
            text: q.text.clone(),
            kind: q.kind.input_hint(),
            required: q.required,
            when: q.when_text.clone(),
            field: q
                .field
                .map(|f| f.label().to_string())
                .or_else(|| q.flag.map(|f| format!("Merkmal: {}", f.code())))
                .unwrap_or_default(),
            purpose: q.purpose.clone(),
        })
        .collect();
    Ok(DetailPage {
        layout: Layout::new(
            &ctx.user,
            format!("Leitfaden: {}, Version {}", g.name, g.version),
            "/leitfaeden",
        ),
        valid_from: iso_to_de(&g.valid_from),
        questions,
        guide,
        g,
    })
}

// ---- preview ----

/// The test customer of the preview (no real data).
fn test_customer() -> Customer {
    Customer {
        salutation: "Frau".into(),
        first_name: "Erika".into(),
        last_name: "Mustermann".into(),
        values: BTreeMap::from([
            (
                Field::Stored(StoredField::Phone),
                "+492081234567".to_string(),
            ),
            (
                Field::Stored(StoredField::Email),
                "erika.mustermann@example.org".to_string(),
            ),
            (
                Field::Stored(StoredField::Street),
                "Musterstraße".to_string(),
            ),
            (Field::Stored(StoredField::HouseNumber), "12".to_string()),
            (Field::Stored(StoredField::Postcode), "46045".to_string()),
            (Field::Stored(StoredField::City), "Oberhausen".to_string()),
            (
                Field::Stored(StoredField::TargetOccupation),
                "Kauffrau im Einzelhandel".to_string(),
            ),
        ]),
        identity: BTreeMap::from([
            (IdentityItem::BirthDate, "12.08.1964".to_string()),
            (IdentityItem::Postcode, "46045".to_string()),
            (IdentityItem::Address, "Musterstraße 12".to_string()),
            (IdentityItem::Code, "K7QM-4XRP".to_string()),
        ]),
    }
}

async fn test_context(state: &AppState, ctx: &Ctx) -> Result<Context, AppError> {
    let name = app::job_center_name(&state.db, &ctx.user.actor).await?;
    Ok(Context {
        agent: ctx.user.display_name.clone(),
        job_center: name,
        service_center: "Service-Center (Vorschau)".into(),
        letter_date: format_de_date(berlin_date(state.clock.now())),
    })
}

#[derive(Template, WebTemplate)]
#[template(path = "guides/preview.html")]
struct PreviewPage {
    layout: Layout,
    g: StoredGuide,
    /// The conversation state, carried by the page (the preview stores nothing).
    conversation: String,
    step: StepView,
    errors: Errors,
}

async fn preview_page(
    state: &AppState,
    ctx: &Ctx,
    g: StoredGuide,
    conversation: Option<Conversation>,
    form: Option<&FormData>,
) -> Result<Response, AppError> {
    let guide = g.guide().map_err(|_| {
        AppError::internal("guide", format!("stored guide {} no longer checks", g.id))
    })?;
    let today = berlin_date(state.clock.now());
    let context = test_context(state, ctx).await?;
    let mut session = match conversation {
        Some(c) => Session::from_state(&guide, test_customer(), context, today, c),
        None => Session::new(&guide, test_customer(), context, today),
    };
    let applied = form
        .map(|f| crate::conversation::apply_form(&mut session, f))
        .unwrap_or_default();
    let (error, correcting, entered) = (applied.error, applied.correcting, applied.entered);
    let step = step_view(
        &session,
        correcting.as_deref(),
        entered.as_deref(),
        error.clone(),
    );
    let mut errors = Errors::default();
    if !error.is_empty() {
        errors.add("antwort", "Eingabe", error);
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let conversation = serde_json::to_string(session.state())
        .map_err(|e| AppError::internal("conversation state", e))?;
    let page = PreviewPage {
        layout: Layout::new(
            &ctx.user,
            format!("Vorschau: {}, Version {}", g.name, g.version),
            "/leitfaeden",
        ),
        g,
        conversation,
        step,
        errors,
    };
    Ok((status, page).into_response())
}

async fn preview_start(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let g = visible(&state, &ctx.user.actor, id).await?;
    preview_page(&state, &ctx, g, None, None).await
}

async fn preview_step(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let g = visible(&state, &ctx.user.actor, id).await?;
    // A state that doesn't parse starts the preview again.
    let conversation = serde_json::from_str::<Conversation>(form.raw("zustand")).ok();
    preview_page(&state, &ctx, g, conversation, Some(&form)).await
}
