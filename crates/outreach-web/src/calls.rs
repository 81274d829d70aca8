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
use outreach_core::access::{Action, Actor};
use outreach_core::audit::AuditAction;
use outreach_core::calling::CallingWindow;
use outreach_core::calling::rules::{self, Attempt, AttemptResult, Final, Next, Number, Rules};
use outreach_core::campaign::FinalDisposition;
use outreach_core::date::{
    berlin_date, format_de_datetime, iso_to_de, parse_de_date, parse_iso_date,
};
use outreach_core::guide::session as guide_session;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::queue::{self, AfterAttempt, AgentCase, QueueScope};
use outreach_store::{Tx, campaign};

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

fn service_center_of(actor: &Actor) -> Result<i64, AppError> {
    actor.home.service_center().ok_or(AppError::Forbidden)
}

#[derive(Template, WebTemplate)]
#[template(path = "calls.html")]
struct DeskPage {
    layout: Layout,
    notice: String,
    held: Option<i64>,
}

async fn desk(
    State(state): State<AppState>,
    ctx: Ctx,
    QueryData(query): QueryData,
) -> Result<DeskPage, AppError> {
    service_center_of(&ctx.user.actor)?;
    let mut tx = state.db.read().await?;
    let held = queue::current(&mut tx, ctx.user.actor.user_id, state.clock.now())
        .await?
        .map(|l| l.case_id);
    tx.commit().await?;
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
    Ok(DeskPage {
        layout: Layout::new(&ctx.user, "Anrufe", "/anrufe"),
        notice: notice.into(),
        held,
    })
}

async fn next_case(State(state): State<AppState>, ctx: Ctx) -> Result<Response, AppError> {
    let sc = service_center_of(&ctx.user.actor)?;
    let now = state.clock.now();
    let running = {
        let mut tx = state.db.read().await?;
        campaign::running_for_service_center(&mut tx, sc, berlin_date(now)).await?
    };
    let scope = QueueScope::new(ctx.user.actor.user_id, now, &running);
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::CaseLease, &ctx.client);
    let lease = queue::lease_next_audited(&state.db, &scope, Some(&event)).await?;
    let Some(lease) = lease else {
        return Ok(Redirect::to("/anrufe?meldung=leer").into_response());
    };
    Ok(Redirect::to(&format!("/anrufe/fall/{}", lease.case_id)).into_response())
}

/// The case if the agent holds it now; otherwise "not found".
async fn held(
    state: &AppState,
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
) -> Result<AgentCase, AppError> {
    queue::case_for_agent(tx, id, actor.user_id, state.clock.now())
        .await?
        .ok_or(AppError::NotFound)
}

/// [`held`] with the case's attempts, oldest first, in one query.
async fn held_with_attempts(
    state: &AppState,
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
) -> Result<(AgentCase, Vec<queue::AttemptRow>), AppError> {
    queue::case_with_attempts(tx, id, actor.user_id, state.clock.now())
        .await?
        .ok_or(AppError::NotFound)
}

struct AttemptView {
    when: String,
    result: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "call_case.html")]
struct CasePage {
    layout: Layout,
    k: AgentCase,
    name: String,
    letter: String,
    attempts: Vec<AttemptView>,
    /// The open attempt's start (unix seconds) and number, if a call runs.
    running: Option<(i64, String)>,
    choices: Vec<(usize, &'static str, &'static str)>,
    errors: Errors,
    today_hint: String,
}

/// What the case page shows, read without writing.
struct Loaded {
    k: AgentCase,
    history: Vec<queue::AttemptRow>,
    open: Option<queue::AttemptRow>,
}

async fn load_case(state: &AppState, ctx: &Ctx, id: i64) -> Result<Loaded, AppError> {
    let mut tx = state.db.read().await?;
    let (k, history) = held_with_attempts(state, &mut tx, &ctx.user.actor, id).await?;
    tx.commit().await?;
    let open = queue::open_among(&history, ctx.user.actor.user_id);
    Ok(Loaded { k, history, open })
}

async fn case_view(
    state: &AppState,
    ctx: &Ctx,
    id: i64,
    errors: Errors,
) -> Result<CasePage, AppError> {
    let loaded = load_case(state, ctx, id).await?;
    render_case(state, ctx, loaded, errors).await
}

/// The case page; showing it is a read of customer data, so no page
/// without its audit event.
async fn render_case(
    state: &AppState,
    ctx: &Ctx,
    Loaded { k, history, open }: Loaded,
    errors: Errors,
) -> Result<CasePage, AppError> {
    let now = state.clock.now();
    let id = k.case_id;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::CustomerRead, &ctx.client)
        .record("case", id)
        .fields("Name, Telefon, Mobil, Datum der Vorabinformation, frühere Anrufversuche")
        .purpose(&format!("Aktion „{}“", k.campaign_name));
    audit::append_alone(&state.db, &event, now).await?;
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
    Ok(CasePage {
        layout: Layout::new(&ctx.user, format!("Fall: {name}"), "/anrufe"),
        letter: k
            .letter_sent_on
            .as_deref()
            .map(iso_to_de)
            .unwrap_or_default(),
        attempts: history
            .iter()
            .filter(|a| a.ended_at.is_some())
            .map(|a| AttemptView {
                when: format_de_datetime(a.started_at),
                result: a
                    .result
                    .as_deref()
                    .and_then(|r| AttemptResult::parse(r, a.callback_at.or(Some(0))))
                    .map(|r| r.label().to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        running: open.map(|a| (a.started_at, a.phone_used.unwrap_or_default())),
        choices: AttemptResult::CHOICES
            .iter()
            .enumerate()
            .map(|(i, (code, label))| (i + 1, *code, *label))
            .collect(),
        errors,
        today_hint: format!(
            "TT.MM.JJJJ, z. B. {}",
            outreach_core::date::format_de_date(berlin_date(now))
        ),
        name,
        k,
    })
}

async fn case_page(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let loaded = match load_case(&state, &ctx, id).await {
        Ok(loaded) => loaded,
        // The lease ended: back to the desk, nothing of the case shown.
        Err(AppError::NotFound) => {
            return Ok(Redirect::to("/anrufe?meldung=abgelaufen").into_response());
        }
        Err(e) => return Err(e),
    };
    // Reached and not yet finished: the conversation continues — for this
    // agent's own call (another agent whose colleague left a conversation
    // unfinished calls anew).
    let reached = loaded.history.last().is_some_and(|a| {
        a.ended_at.is_some()
            && a.result.as_deref() == Some("reached")
            && a.user_id == Some(ctx.user.actor.user_id)
    });
    if reached {
        return Ok(Redirect::to(&format!("/anrufe/fall/{id}/gespraech")).into_response());
    }
    Ok(render_case(&state, &ctx, loaded, Errors::default())
        .await?
        .into_response())
}

async fn start(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
    form: FormData,
) -> Result<Response, AppError> {
    let now = state.clock.now();
    let number = Number::parse(form.get("nummer")).unwrap_or(Number::Phone);
    // "{}": the attempt, filled in by the store.
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::CallAttempt, &ctx.client)
        .record("case", id)
        .fields(&format!("Versuch {{}}, Nummer: {}", number.code()));
    let user = ctx.user.actor.user_id;
    if queue::start_attempt_audited(&state.db, id, user, number.code(), now, &event)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
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
    let agent = ctx.user.actor.user_id;
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
    // Read first, then write briefly: the write is guarded (the attempt
    // still open, the case still leased to the agent).
    let mut tx = state.db.read().await?;
    // The history; this attempt is the agent's open one.
    let (k, rows) = held_with_attempts(&state, &mut tx, &ctx.user.actor, id).await?;
    let Some(open) = queue::open_among(&rows, agent) else {
        errors.add(
            "ergebnis",
            "Ergebnis",
            "Es läuft kein Anrufversuch: bitte zuerst „Anruf starten“.",
        );
        tx.rollback().await?;
        let page = case_view(&state, &ctx, id, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    let Some(this) = AttemptResult::parse(code, callback_at).filter(|_| errors.is_empty()) else {
        tx.rollback().await?;
        let page = case_view(&state, &ctx, id, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    // The history with this attempt, then the calling rules decide.
    let this_attempt = Attempt {
        at: open.started_at,
        number: Number::parse(open.phone_used.as_deref().unwrap_or("phone"))
            .unwrap_or(Number::Phone),
        result: this,
        agent_id: agent,
    };
    let after = decide(&k, &rows, Some(this_attempt), now);
    tx.commit().await?;
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::CallResult, &ctx.client)
        .record("case", id)
        .fields(&format!("Ergebnis: {}", this.label()))
        .purpose(&format!("Aktion „{}“", k.campaign_name));
    let finished = queue::Finished {
        attempt_id: open.id,
        agent_id: agent,
        result: code,
        callback_at,
        after,
        now,
    };
    if !queue::finish_attempt_audited(&state.db, finished, &event).await? {
        return Err(AppError::NotFound);
    }
    Ok(match after {
        AfterAttempt::Conversation => Redirect::to(&format!("/anrufe/fall/{id}/gespraech")),
        _ => Redirect::to("/anrufe?meldung=erfasst"),
    }
    .into_response())
}

/// What follows for the case, by the calling rules: its finished attempts
/// and `this` one (not yet stored as finished).
fn decide(
    k: &AgentCase,
    rows: &[queue::AttemptRow],
    this: Option<Attempt>,
    now: i64,
) -> AfterAttempt {
    let mut history: Vec<Attempt> = rows
        .iter()
        .filter(|a| a.ended_at.is_some())
        .filter_map(|a| {
            Some(Attempt {
                at: a.started_at,
                number: Number::parse(a.phone_used.as_deref().unwrap_or("phone"))?,
                result: AttemptResult::parse(a.result.as_deref()?, a.callback_at)?,
                agent_id: a.user_id.unwrap_or(0),
            })
        })
        .collect();
    history.extend(this);
    let rules = Rules {
        window: CallingWindow::from_stored(&k.window_days, &k.window_start, &k.window_end),
        per_day: u32::try_from(k.attempts_per_day).unwrap_or(1),
        total: u32::try_from(k.attempts_total).unwrap_or(6),
        state: k.state_code.clone().unwrap_or_default(),
        period_end: parse_iso_date(&k.period_end).unwrap_or(Date::MAX),
    };
    let numbers: Vec<Number> = [
        (Number::Phone, k.phone.as_deref()),
        (Number::Mobile, k.mobile.as_deref()),
    ]
    .into_iter()
    .filter(|(_, n)| n.is_some_and(|n| !n.trim().is_empty()))
    .map(|(n, _)| n)
    .collect();
    match rules::next_due(&rules, &history, &numbers, now) {
        Next::Final(Final::Reached) => AfterAttempt::Conversation,
        Next::Final(Final::NoValidNumber) => {
            AfterAttempt::Final(FinalDisposition::NoValidNumber.code())
        }
        Next::Final(Final::NotReached | Final::PeriodOver) => {
            AfterAttempt::Final(FinalDisposition::NotReached.code())
        }
        Next::Due { at, agent, .. } => AfterAttempt::Due {
            at,
            callback: agent,
        },
    }
}

/// Called by the open case page every two minutes: the lease stays.
async fn renew(
    State(state): State<AppState>,
    ctx: Ctx,
    IdPath(id): IdPath,
) -> Result<Response, AppError> {
    let mut tx = state.db.begin().await?;
    let renewed = queue::renew(&mut tx, id, ctx.user.actor.user_id, state.clock.now()).await?;
    tx.commit().await?;
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
#[template(path = "call_conversation.html")]
struct ConversationPage {
    layout: Layout,
    case_id: i64,
    step: crate::conversation::StepView,
    errors: Errors,
}

fn engine_customer(c: &outreach_store::conversation::CaseCustomer) -> guide_session::Customer {
    use outreach_core::guide::Field;
    use outreach_core::guide::definition::IdentityItem;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let values = [
        (Field::Phone, &c.phone),
        (Field::Mobile, &c.mobile),
        (Field::Email, &c.email),
        (Field::Street, &c.street),
        (Field::HouseNumber, &c.house_number),
        (Field::Postcode, &c.postcode),
        (Field::City, &c.city),
        (Field::TargetOccupation, &c.target_occupation),
    ]
    .into_iter()
    .filter_map(|(f, v)| v.clone().filter(|v| !v.is_empty()).map(|v| (f, v)))
    .collect();
    guide_session::Customer {
        salutation: text(&c.salutation),
        first_name: text(&c.first_name),
        last_name: c.last_name.clone(),
        values,
        identity: [
            (IdentityItem::BirthDate, iso_to_de(&c.birth_date)),
            (IdentityItem::Postcode, text(&c.postcode)),
            (
                IdentityItem::Address,
                format!("{} {}", text(&c.street), text(&c.house_number))
                    .trim()
                    .to_string(),
            ),
            (
                IdentityItem::Code,
                outreach_core::campaign::case_code(&c.code_secret, c.case_id),
            ),
        ]
        .into_iter()
        .collect(),
    }
}

fn disposition(outcome: guide_session::Outcome) -> &'static str {
    use guide_session::Outcome;
    match outcome {
        Outcome::Confirmed => FinalDisposition::Confirmed.code(),
        Outcome::Updated => FinalDisposition::Updated.code(),
        Outcome::Refused => FinalDisposition::Refused.code(),
        Outcome::IdentityFailed => FinalDisposition::IdentityFailed.code(),
        Outcome::Dropped => FinalDisposition::Partial.code(),
    }
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
    let agent = ctx.user.actor.user_id;
    let mut tx = state.db.begin().await?;
    let Some(c) = outreach_store::conversation::case_customer(&mut tx, id, agent, now).await?
    else {
        tx.rollback().await?;
        return Ok(Redirect::to("/anrufe?meldung=abgelaufen").into_response());
    };
    let stored_guide = match c.guide_id {
        Some(g) => {
            let scope = ctx.scope()?;
            outreach_store::guide::by_id(&mut tx, scope, g).await?
        }
        None => outreach_store::guide::builtin(&mut tx).await?,
    }
    .ok_or_else(|| AppError::Internal(format!("case {id}: no guide")))?;
    let guide = stored_guide
        .guide()
        .map_err(|_| AppError::Internal(format!("guide {} no longer checks", stored_guide.id)))?;
    let customer = engine_customer(&c);
    let context = guide_session::Context {
        agent: ctx.user.display_name.clone(),
        job_center: c.jc_name.clone(),
        service_center: c.sc_name.clone(),
        letter_date: c.letter_date.as_deref().map(iso_to_de).unwrap_or_default(),
    };
    let today = berlin_date(now);
    let stored = outreach_store::conversation::load(&mut tx, id).await?;
    let kept_state = stored
        .as_ref()
        .filter(|s| s.agent_id == Some(agent) && !s.state.is_empty())
        .and_then(|s| serde_json::from_str::<guide_session::State>(&s.state).ok());
    let draft = stored
        .as_ref()
        .and_then(|s| serde_json::from_str(&s.draft).ok())
        .unwrap_or_default();
    let mut session = match kept_state {
        Some(st) => guide_session::Session::from_state(&guide, customer, context, today, st),
        None => guide_session::Session::resume(&guide, customer, context, today, draft),
    };
    let talk = format!("/anrufe/fall/{id}/gespraech");
    if let Some(q) = form.and_then(|f| f.get("aktion").strip_prefix("aendern:")) {
        // Choosing the answer to correct changes nothing: shown by GET.
        tx.rollback().await?;
        let q: String = q
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        return Ok(Redirect::to(&format!("{talk}?aendern={q}")).into_response());
    }
    let applied = form
        .map(|f| crate::conversation::apply_form(&mut session, f))
        .unwrap_or_default();
    let error = applied.error;
    let correcting = applied.correcting.or(correct);
    let entered = applied.entered;
    let step_name = format!("{:?}", session.step());
    let event = AuditEvent::by(&ctx.user.actor, AuditAction::CustomerRead, &ctx.client)
        .record("case", id)
        .fields(&format!("Gespräch nach Leitfaden, Schritt {step_name}"))
        .purpose(&format!("Aktion „{}“", c.campaign_name));
    audit::append(&mut tx, &event, now).await?;
    match session.result() {
        Some(r) if r.outcome == guide_session::Outcome::Dropped => {
            // The answers stay as a draft; the case is due again like an
            // unanswered call.
            let draft: std::collections::BTreeMap<String, outreach_core::guide::answer::Value> = r
                .answers
                .iter()
                .map(|a| (a.question.clone(), a.value.clone()))
                .collect();
            let draft = serde_json::to_string(&draft).unwrap_or_default();
            outreach_store::conversation::save(
                &mut tx,
                id,
                agent,
                Some(stored_guide.id),
                "",
                &draft,
                now,
            )
            .await?;
            let k = held(state, &mut tx, &ctx.user.actor, id).await?;
            let rows = queue::attempts(&mut tx, id).await?;
            let mut finished: Vec<queue::AttemptRow> = rows;
            if let Some(last) = finished.last_mut() {
                last.result = Some("no_answer".into());
            }
            let (due, final_code) = match decide(&k, &finished, None, now) {
                AfterAttempt::Due { at, .. } => (Some(at), None),
                AfterAttempt::Final(code) => (None, Some(code)),
                AfterAttempt::Conversation => (Some(now), None),
            };
            queue::reschedule(&mut tx, id, agent, due, final_code, now).await?;
            let event = AuditEvent::by(&ctx.user.actor, AuditAction::CallResult, &ctx.client)
                .record("case", id)
                .fields("Verbindung abgebrochen: Antworten als Entwurf für den Rückruf");
            audit::append(&mut tx, &event, now).await?;
        }
        Some(r) => {
            let answers = serde_json::to_string(&r.answers).unwrap_or_default();
            let changes = serde_json::to_string(&r.changes).unwrap_or_default();
            let flags = serde_json::to_string(&r.flags).unwrap_or_default();
            let flag_codes = outreach_core::handover::flag_codes(&r.flags);
            let result = outreach_store::conversation::NewResult {
                outcome: r.outcome.code(),
                guide_version: &r.guide_version,
                identity_method: r.identity_method.as_deref(),
                identity_passed: r.identity_passed,
                consent: r.consent,
                answers: &answers,
                changes: &changes,
                flags: &flags,
                flag_codes: &flag_codes,
            };
            if !outreach_store::conversation::finish(
                &mut tx,
                id,
                agent,
                &result,
                disposition(r.outcome),
                now,
            )
            .await?
            {
                return Err(AppError::NotFound);
            }
            let event = AuditEvent::by(&ctx.user.actor, AuditAction::CallResult, &ctx.client)
                .record("case", id)
                .fields(&format!(
                    "{}; geänderte Felder: {}",
                    r.outcome.label(),
                    r.changes
                        .iter()
                        .map(|c| c.field.label())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .purpose(&format!("Aktion „{}“", c.campaign_name));
            audit::append(&mut tx, &event, now).await?;
        }
        None => {
            let st = serde_json::to_string(session.state())
                .map_err(|e| AppError::Internal(format!("state: {e}")))?;
            let draft = stored.as_ref().map(|s| s.draft.clone()).unwrap_or_default();
            outreach_store::conversation::save(
                &mut tx,
                id,
                agent,
                Some(stored_guide.id),
                &st,
                &draft,
                now,
            )
            .await?;
            queue::renew(&mut tx, id, agent, now).await?;
        }
    }
    tx.commit().await?;
    if let Some(r) = session.result() {
        // The case is closed (or rescheduled) and the lease ended: the desk
        // says how the call ended, nothing more of the case.
        return Ok(Redirect::to(&format!("/anrufe?meldung={}", r.outcome.code())).into_response());
    }
    if form.is_some() && error.is_empty() {
        return Ok(Redirect::to(&talk).into_response());
    }
    let step = crate::conversation::step_view(
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
    let page = ConversationPage {
        layout: Layout::new(&ctx.user, format!("Gespräch: {}", c.last_name), "/anrufe"),
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
