//! The agent's desk: take the next case from the queue, see the case
//! (name, numbers as `tel:` links for the softphone, the advance letter's
//! date, earlier attempts as time and result only), start the call, record
//! the attempt's result (keyboard shortcuts 1–7). State lives on the server:
//! a reload or a second tab shows the same case and the same open attempt.
//! The agent sees nothing of a case once its lease has ended.

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
use jiff::civil::Date;
use outreach_app::calls::{self, AgentCase, CallingTime, Conversation, HeldCase, Opened, Recorded};
use outreach_core::access::Action;
use outreach_core::calls::CallingWindow;
use outreach_core::calls::rules::{AttemptResult, Number};
use outreach_core::date::{berlin_date, format_de_datetime, iso_to_de, parse_de_date};
use outreach_core::phone;

pub fn routes() -> Routes {
    let call = Access::Action(Action::CallCases);
    Routes::new()
        .get("/anrufe", call, desk)
        .post("/anrufe/naechster", call, next_case)
        .get("/anrufe/fall/{id}", call, case_page)
        .post("/anrufe/fall/{id}/start", call, start)
        .post("/anrufe/fall/{id}/ergebnis", call, result)
        .post("/anrufe/fall/{id}/verlaengern", call, renew)
        .get("/anrufe/fall/{id}/gespraech", call, conversation_page)
        .post("/anrufe/fall/{id}/gespraech", call, conversation_step)
}

#[derive(Template, WebTemplate)]
#[template(path = "calls/desk.html")]
struct DeskPage {
    layout: Layout,
    notice: String,
    held: Option<i64>,
    /// Whether "Nächster Fall" can give a case now; else why not, and when.
    open: bool,
    closed: String,
}

async fn desk(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<DeskPage, AppError> {
    let notice = match query.get("meldung") {
        "leer" => "Zurzeit ist kein Fall fällig. Bitte versuchen Sie es gleich noch einmal.",
        "erfasst" => "Das Ergebnis ist gespeichert.",
        "abgelaufen" => {
            "Die Zuteilung dieses Falls ist abgelaufen; er ist zurück in der Warteschlange."
        }
        "confirmed" => {
            "Gespräch beendet: Gespräch geführt, Daten bestätigt. Das Ergebnis ist gespeichert."
        }
        "updated" => {
            "Gespräch beendet: Gespräch geführt, Daten aktualisiert. Das Ergebnis ist gespeichert."
        }
        "refused" => "Gespräch beendet: Auskunft verweigert. Es wird nichts weiter erfasst.",
        "identity_failed" => "Gespräch beendet: Identität nicht bestätigt.",
        "dropped" => "Verbindung abgebrochen: die Antworten bleiben als Entwurf für den Rückruf.",
        _ => "",
    };
    desk_page(&state, &ctx, notice.into()).await
}

/// The desk with `notice` above it: the case held, or "Nächster Fall" while
/// calling is possible, or when it is possible again.
async fn desk_page(state: &AppState, ctx: &Ctx, notice: String) -> Result<DeskPage, AppError> {
    let desk = calls::desk(&state.db, &ctx.user.actor, state.clock.now()).await?;
    let (open, closed) = match desk.calling {
        CallingTime::Open => (true, String::new()),
        CallingTime::OpensAt(at) => (
            false,
            format!(
                "Zurzeit ist keine Anrufzeit; „Nächster Fall“ gibt es erst dann wieder. Die nächste Anrufzeit beginnt am {} {}.",
                outreach_core::calls::WEEKDAYS
                    .iter()
                    .find(|(d, _, _)| *d == berlin_date(at).weekday())
                    .map_or("", |(_, _, name)| name),
                format_de_datetime(at)
            ),
        ),
        CallingTime::NoneRunning => (
            false,
            "Zurzeit läuft keine Aktion Ihres Service-Centers, für die angerufen werden kann."
                .to_string(),
        ),
    };
    let held = desk.held;
    Ok(DeskPage {
        layout: Layout::new(&ctx.user, "Anrufe", "/anrufe"),
        notice,
        held,
        open,
        closed,
    })
}

async fn next_case(State(state): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    Ok(
        match calls::next_case(&state.db, ctx.caller(), state.clock.now()).await? {
            Some(case) => Redirect::to(&format!("/anrufe/fall/{case}")),
            None => Redirect::to("/anrufe?meldung=leer"),
        }
        .into_response(),
    )
}

struct AttemptView {
    when: String,
    result: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "calls/case.html")]
struct CasePage {
    layout: Layout,
    k: AgentCase,
    name: String,
    /// The numbers as a person reads them (the links dial E.164).
    phone: String,
    mobile: String,
    letter: String,
    attempts: Vec<AttemptView>,
    /// The open attempt's start (unix seconds) and number, if a call runs.
    running: Option<(i64, String)>,
    choices: Vec<(usize, &'static str, &'static str)>,
    errors: Errors,
    today_hint: String,
}

fn case_page_of(state: &AppState, ctx: &Ctx, held: HeldCase, errors: Errors) -> CasePage {
    let HeldCase {
        case: k,
        attempts,
        running,
    } = held;
    let name = match k.salutation.as_deref() {
        Some(s @ ("Frau" | "Herr")) => format!(
            "{s} {} {}",
            k.first_name.clone().unwrap_or_default(),
            k.last_name
        ),
        _ => format!(
            "{} {}",
            k.first_name.clone().unwrap_or_default(),
            k.last_name
        ),
    }
    .split_whitespace()
    .collect::<Vec<_>>()
    .join(" ");
    let shown = |n: &Option<String>| n.as_deref().map(phone::display).unwrap_or_default();
    CasePage {
        layout: Layout::new(&ctx.user, format!("Fall: {name}"), "/anrufe"),
        phone: shown(&k.phone),
        mobile: shown(&k.mobile),
        letter: k
            .letter_sent_on
            .as_deref()
            .map(iso_to_de)
            .unwrap_or_default(),
        attempts: attempts
            .iter()
            .map(|(at, result)| AttemptView {
                when: format_de_datetime(*at),
                result: result.label().to_string(),
            })
            .collect(),
        running,
        choices: AttemptResult::CHOICES
            .iter()
            .enumerate()
            .map(|(i, (code, label))| (i + 1, *code, *label))
            .collect(),
        errors,
        today_hint: format!(
            "TT.MM.JJJJ, z. B. {}",
            outreach_core::date::format_de_date(berlin_date(state.clock.now()))
        ),
        name,
        k,
    }
}

async fn case_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    match calls::open_case(&state.db, ctx.caller(), id, state.clock.now()).await {
        Ok(Opened::Case(held)) => {
            Ok(case_page_of(&state, &ctx, *held, Errors::default()).into_response())
        }
        Ok(Opened::Conversation) => {
            Ok(Redirect::to(&format!("/anrufe/fall/{id}/gespraech")).into_response())
        }
        // A case the agent finished: say so, with its result and time.
        Err(outreach_app::Error::NotFound) => {
            match calls::finished(&state.db, ctx.caller(), id, state.clock.now()).await? {
                Some(done) => {
                    let when = done
                        .closed_at
                        .map(|at| format!(" ({})", format_de_datetime(at)))
                        .unwrap_or_default();
                    let notice = format!(
                        "Dieser Fall ist abgeschlossen{when}: {}. Er wird nicht mehr angerufen.",
                        done.disposition.label()
                    );
                    Ok(desk_page(&state, &ctx, notice).await?.into_response())
                }
                // The lease ended: back to the desk, nothing of the case shown.
                None => Ok(Redirect::to("/anrufe?meldung=abgelaufen").into_response()),
            }
        }
        Err(e) => Err(e.into()),
    }
}

async fn start(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let number = Number::parse(form.get("nummer")).unwrap_or(Number::Phone);
    calls::start_attempt(&state.db, ctx.caller(), id, number, state.clock.now()).await?;
    Ok(Redirect::to(&format!("/anrufe/fall/{id}")).into_response())
}

/// The instant of a callback from the form's date and time (Berlin).
fn callback_instant(form: &FormData, errors: &mut Errors, now: i64) -> Option<i64> {
    let day: Option<Date> = match parse_de_date(form.get("rueckruf_datum")) {
        Ok(d) => Some(d),
        Err(_) => {
            errors.add(
                "rueckruf_datum",
                "Rückruf am",
                "Bitte ein Datum im Format TT.MM.JJJJ angeben.",
            );
            None
        }
    };
    let time = CallingWindow::parse(&["Mo"], form.get("rueckruf_zeit"), "20:00")
        .ok()
        .map(|w| w.start());
    let Some(time) = time.filter(|t| !t.is_empty()) else {
        errors.add(
            "rueckruf_zeit",
            "Rückruf um",
            "Bitte eine Uhrzeit im Format HH:MM zwischen 08:00 und 20:00 Uhr angeben.",
        );
        return None;
    };
    let (h, m) = time.split_once(':')?;
    let at = day?
        .at(h.parse().ok()?, m.parse().ok()?, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").ok()?)
        .ok()?
        .timestamp()
        .as_second();
    if at <= now {
        errors.add(
            "rueckruf_datum",
            "Rückruf am",
            "Der Rückruf muss in der Zukunft liegen.",
        );
        return None;
    }
    Some(at)
}

async fn result(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let mut errors = Errors::default();
    let code = form.get("ergebnis");
    if !AttemptResult::CHOICES.iter().any(|(c, _)| *c == code) {
        errors.add(
            "ergebnis",
            "Ergebnis",
            "Bitte wählen Sie das Ergebnis des Anrufversuchs.",
        );
    }
    let callback_at = if code == "callback" {
        callback_instant(&form, &mut errors, now)
    } else {
        None
    };
    let this = AttemptResult::parse(code, callback_at).filter(|_| errors.is_empty());
    match calls::record_attempt(&state.db, ctx.caller(), id, this, now).await? {
        Recorded::Conversation => {
            Ok(Redirect::to(&format!("/anrufe/fall/{id}/gespraech")).into_response())
        }
        Recorded::Done => Ok(Redirect::to("/anrufe?meldung=erfasst").into_response()),
        Recorded::Refused { no_open_attempt } => {
            if no_open_attempt {
                errors.add(
                    "ergebnis",
                    "Ergebnis",
                    "Es läuft kein Anrufversuch: bitte zuerst „Anruf starten“.",
                );
            }
            let held = calls::show_case(&state.db, ctx.caller(), id, now).await?;
            let page = case_page_of(&state, &ctx, held, errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// Called by the open case page every two minutes: the lease stays.
async fn renew(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let renewed = calls::keep_lease(&state.db, &ctx.user.actor, id, state.clock.now()).await?;
    Ok(if renewed {
        StatusCode::NO_CONTENT.into_response()
    } else {
        // Read by the page's script; a person who opens it sees why.
        (
            StatusCode::GONE,
            "Dieser Fall ist Ihnen nicht mehr zugeteilt; die Reservierung ist abgelaufen.",
        )
            .into_response()
    })
}

// ---- the conversation ----

#[derive(Template, WebTemplate)]
#[template(path = "calls/conversation.html")]
struct ConversationPage {
    layout: Layout,
    case_id: i64,
    step: crate::conversation::StepView,
    errors: Errors,
}

/// Shows the conversation (`form` None; `correct`: a question to correct
/// at the read-back) or takes a step. A step that was taken answers with a
/// redirect to the page (a reload never repeats it); a refused input shows
/// the page with the error and changes nothing.
async fn conversation(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    form: Option<&FormData>,
    correct: Option<String>,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let talk = format!("/anrufe/fall/{id}/gespraech");
    if let Some(q) = form.and_then(|f| f.get("aktion").strip_prefix("aendern:")) {
        // Choosing the answer to correct changes nothing: shown by GET.
        if !calls::holds(&state.db, &ctx.user.actor, id, now).await? {
            return Ok(Redirect::to("/anrufe?meldung=abgelaufen").into_response());
        }
        let q: String = q
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        return Ok(Redirect::to(&format!("{talk}?aendern={q}")).into_response());
    }
    let turn = calls::converse(
        &state.db,
        ctx.caller(),
        &ctx.user.display_name,
        id,
        now,
        |session| {
            form.map(|f| crate::conversation::apply_form(session, f))
                .unwrap_or_default()
        },
        |session, applied| {
            crate::conversation::step_view(
                session,
                applied.correcting.as_deref().or(correct.as_deref()),
                applied.entered.as_deref(),
                applied.error.clone(),
            )
        },
    )
    .await?;
    let (last_name, applied, step) = match turn {
        Conversation::Lapsed => {
            return Ok(Redirect::to("/anrufe?meldung=abgelaufen").into_response());
        }
        // The case is closed (or rescheduled) and the lease ended: the desk
        // says how the call ended, nothing more of the case.
        Conversation::Ended(outcome) => {
            return Ok(Redirect::to(&format!("/anrufe?meldung={}", outcome.code())).into_response());
        }
        Conversation::Going {
            last_name,
            step,
            view,
        } => (last_name, step, view),
    };
    if form.is_some() && applied.error.is_empty() {
        return Ok(Redirect::to(&talk).into_response());
    }
    let mut errors = Errors::default();
    if !applied.error.is_empty() {
        errors.add("antwort", "Eingabe", applied.error);
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = ConversationPage {
        layout: Layout::new(&ctx.user, format!("Gespräch: {last_name}"), "/anrufe"),
        case_id: id,
        step,
        errors,
    };
    Ok((status, page).into_response())
}

async fn conversation_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    QueryData(query): QueryData,
) -> Result<Response, AppError> {
    let correct = Some(query.get("aendern").to_string()).filter(|q| !q.is_empty());
    conversation(&state, &ctx, id, None, correct).await
}

async fn conversation_step(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    conversation(&state, &ctx, id, Some(&form), None).await
}
