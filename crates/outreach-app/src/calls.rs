//! The agent's calls: take the next case from the queue, open it, start a
//! call, record the attempt's result, keep the lease, and hold the
//! conversation by the guide. The agent sees nothing of a case once its
//! lease has ended ("not found").

use crate::{Caller, Error, Result};
use outreach_core::access::Actor;
use outreach_core::audit::AuditAction;
use outreach_core::calls::CallingWindow;
use outreach_core::calls::rules::{self, Attempt, AttemptResult, Final, Next, Number, Rules};
use outreach_core::campaign::FinalDisposition;
use outreach_core::date::{berlin_date, format_de_date, iso_to_de, parse_iso_date};
use outreach_core::guide::session::{self as guide_session, Outcome, Session};
use outreach_store::audit::{self, AuditEvent};
pub use outreach_store::calls::AgentCase;
use outreach_store::calls::{self, AfterAttempt, AttemptRow, QueueScope};
use outreach_store::conversation::{self, CaseCustomer};
use outreach_store::{Db, RecordScope, Tx, campaign};

fn service_center_of(actor: &Actor) -> Result<i64> {
    actor.home.service_center().ok_or(Error::Forbidden)
}

/// Whether the agent can be given a case now, as far as the calling times
/// of the running campaigns go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallingTime {
    /// A running campaign's window is open.
    Open,
    /// All are closed; the next one opens then (unix seconds).
    OpensAt(i64),
    /// No campaign of the service center runs (or none opens within a week).
    NoneRunning,
}

/// The agent's desk: the case held, and whether calling is possible now —
/// so that "Nächster Fall" is offered only when it can give a case.
pub struct Desk {
    pub held: Option<i64>,
    pub calling: CallingTime,
}

pub async fn desk(db: &Db, actor: &Actor, now: i64) -> Result<Desk> {
    let sc = service_center_of(actor)?;
    let mut tx = db.read().await?;
    let held = calls::current(&mut tx, actor.user_id, now).await?;
    let running = campaign::running_for_service_center(&mut tx, sc, berlin_date(now)).await?;
    tx.commit().await?;
    Ok(Desk {
        held: held.map(|l| l.case_id),
        calling: calling_time(&running, now),
    })
}

/// The calling time of `running` at `now`: open when a window is open on a
/// day that is not a public holiday everywhere; else the next such opening
/// within the campaigns' periods.
fn calling_time(running: &[campaign::Campaign], now: i64) -> CallingTime {
    let holiday_everywhere = |at: i64| {
        let day = berlin_date(at);
        outreach_core::customer::STATES
            .iter()
            .all(|(state, _)| outreach_core::calls::holidays::holiday(day, state).is_some())
    };
    let mut next: Option<i64> = None;
    for c in running {
        let (_, last_day) = c.period();
        let window = c.window();
        let mut from = now;
        // A week of calling days at most, past days that are holidays
        // everywhere.
        for _ in 0..14 {
            let Some(at) = window.next_open(from) else {
                break;
            };
            if berlin_date(at) > last_day {
                break;
            }
            if !holiday_everywhere(at) {
                next = Some(next.map_or(at, |n| n.min(at)));
                break;
            }
            from = start_of_next_day(at);
        }
    }
    match next {
        Some(at) if at <= now => CallingTime::Open,
        Some(at) => CallingTime::OpensAt(at),
        None => CallingTime::NoneRunning,
    }
}

/// 00:00 (Berlin) of the day after the one `at` falls on.
fn start_of_next_day(at: i64) -> i64 {
    berlin_date(at)
        .tomorrow()
        .map_or(at + 86_400, outreach_core::date::berlin_day_start)
}

/// Leases the next due case of the agent's service center (audited with
/// the lease); `None` when no case is due.
pub async fn next_case(db: &Db, by: Caller<'_>, now: i64) -> Result<Option<i64>> {
    let sc = service_center_of(by.actor)?;
    let running = {
        let mut tx = db.read().await?;
        campaign::running_for_service_center(&mut tx, sc, berlin_date(now)).await?
    };
    let scope = QueueScope::new(by.actor.user_id, now, &running);
    let event = AuditEvent::by(by.actor, AuditAction::CaseLease, by.client);
    let lease = calls::lease_next_audited(db, &scope, Some(&event)).await?;
    Ok(lease.map(|l| l.case_id))
}

/// A case as the agent's case page shows it.
pub struct HeldCase {
    pub case: AgentCase,
    /// The finished attempts, oldest first, with their results.
    pub attempts: Vec<(i64, AttemptResult)>,
    /// The open attempt's start and number, if a call runs.
    pub running: Option<(i64, String)>,
}

/// What opening a case leads to.
pub enum Opened {
    /// The agent's own call reached the customer and the conversation is
    /// not finished: it continues (nothing of the case page is read).
    Conversation,
    Case(Box<HeldCase>),
}

/// The case with its attempts if the agent holds it now; otherwise "not
/// found".
async fn held_with_attempts(
    tx: &mut Tx,
    actor: &Actor,
    id: i64,
    now: i64,
) -> Result<(AgentCase, Vec<AttemptRow>)> {
    calls::case_with_attempts(tx, id, actor.user_id, now)
        .await?
        .ok_or(Error::NotFound)
}

/// Opens the case the agent holds: the conversation if the agent's own
/// call reached the customer, otherwise the case page ([`show_case`]).
pub async fn open_case(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<Opened> {
    let mut tx = db.read().await?;
    let (case, history) = held_with_attempts(&mut tx, by.actor, id, now).await?;
    tx.commit().await?;
    // For this agent's own call only: another agent whose colleague left a
    // conversation unfinished calls anew.
    let reached = history.last().is_some_and(|a| {
        a.ended_at.is_some()
            && a.result.as_deref() == Some("reached")
            && a.user_id == Some(by.actor.user_id)
    });
    if reached {
        return Ok(Opened::Conversation);
    }
    Ok(Opened::Case(Box::new(
        shown(db, by, case, &history, now).await?,
    )))
}

/// A case the agent can't open because it is finished: how it ended and
/// when (a reopened bookmark or the browser's back button). Only for a case
/// the agent called; the read is audited.
pub struct Finished {
    pub disposition: FinalDisposition,
    pub closed_at: Option<i64>,
}

/// Why the agent can't open case `id`: [`Finished`] if it is finished and the
/// agent called it, `None` otherwise (the lease ended or it was never theirs).
pub async fn finished(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<Option<Finished>> {
    let mut tx = db.read().await?;
    let row = calls::finished_for_agent(&mut tx, id, by.actor.user_id).await?;
    tx.commit().await?;
    let Some((code, closed_at)) = row else {
        return Ok(None);
    };
    let disposition = FinalDisposition::parse(&code)
        .ok_or_else(|| Error::Internal(format!("case {id}: final disposition {code:?}")))?;
    let event = AuditEvent::by(by.actor, AuditAction::CustomerRead, by.client)
        .record("case", id)
        .fields("Ergebnis des Falls");
    audit::append_alone(db, &event, now).await?;
    Ok(Some(Finished {
        disposition,
        closed_at,
    }))
}

/// The case page's data; reading it is audited.
pub async fn show_case(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<HeldCase> {
    let mut tx = db.read().await?;
    let (case, history) = held_with_attempts(&mut tx, by.actor, id, now).await?;
    tx.commit().await?;
    shown(db, by, case, &history, now).await
}

async fn shown(
    db: &Db,
    by: Caller<'_>,
    case: AgentCase,
    history: &[AttemptRow],
    now: i64,
) -> Result<HeldCase> {
    let event = AuditEvent::by(by.actor, AuditAction::CustomerRead, by.client)
        .record("case", case.case_id)
        .fields("Name, Telefon, Mobil, Datum der Vorabinformation, frühere Anrufversuche")
        .purpose(&format!("Aktion „{}“", case.campaign_name));
    audit::append_alone(db, &event, now).await?;
    let open = calls::open_among(history, by.actor.user_id);
    Ok(HeldCase {
        attempts: history
            .iter()
            .filter(|a| a.ended_at.is_some())
            .filter_map(|a| {
                let result = AttemptResult::parse(a.result.as_deref()?, a.callback_at.or(Some(0)))?;
                Some((a.started_at, result))
            })
            .collect(),
        running: open.map(|a| (a.started_at, a.phone_used.unwrap_or_default())),
        case,
    })
}

/// Starts a call on `number` of the case the agent holds (audited).
pub async fn start_attempt(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    number: Number,
    now: i64,
) -> Result<()> {
    // "{}": the attempt, filled in by the store.
    let event = AuditEvent::by(by.actor, AuditAction::CallAttempt, by.client)
        .record("case", id)
        .fields(&format!("Versuch {{}}, Nummer: {}", number.code()));
    calls::start_attempt_audited(db, id, by.actor.user_id, number.code(), now, &event)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(())
}

/// What recording an attempt's result came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Nothing stored: no call runs, or the result was not valid.
    Refused { no_open_attempt: bool },
    /// The customer was reached: the conversation follows.
    Conversation,
    /// The result is stored and the case is due again or closed.
    Done,
}

/// Records the result of the agent's open attempt (`None`: the form's
/// result was not valid), and lets the calling rules decide what follows.
pub async fn record_attempt(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    result: Option<AttemptResult>,
    now: i64,
) -> Result<Recorded> {
    let agent = by.actor.user_id;
    // Read first, then write briefly: the write is guarded (the attempt
    // still open, the case still leased to the agent).
    let mut tx = db.read().await?;
    let (case, rows) = held_with_attempts(&mut tx, by.actor, id, now).await?;
    tx.commit().await?;
    let Some(open) = calls::open_among(&rows, agent) else {
        return Ok(Recorded::Refused {
            no_open_attempt: true,
        });
    };
    let Some(this) = result else {
        return Ok(Recorded::Refused {
            no_open_attempt: false,
        });
    };
    let callback_at = match this {
        AttemptResult::Callback(at) => Some(at),
        _ => None,
    };
    let this_attempt = Attempt {
        at: open.started_at,
        number: Number::parse(open.phone_used.as_deref().unwrap_or("phone"))
            .unwrap_or(Number::Phone),
        result: this,
        agent_id: agent,
    };
    let after = decide(&case, &rows, Some(this_attempt), now)?;
    let event = AuditEvent::by(by.actor, AuditAction::CallResult, by.client)
        .record("case", id)
        .fields(&format!("Ergebnis: {}", this.label()))
        .purpose(&format!("Aktion „{}“", case.campaign_name));
    let finished = calls::Finished {
        attempt_id: open.id,
        agent_id: agent,
        result: this.code(),
        callback_at,
        after,
        now,
    };
    if !calls::finish_attempt_audited(db, finished, &event).await? {
        return Err(Error::NotFound);
    }
    Ok(match after {
        AfterAttempt::Conversation => Recorded::Conversation,
        _ => Recorded::Done,
    })
}

/// The campaign's calling rules as the case carries them.
fn rules_of(case: &AgentCase) -> Result<Rules> {
    let broken = |what: &str| Error::Internal(format!("case {}: {what}", case.case_id));
    Ok(Rules {
        window: CallingWindow::from_stored(&case.window_days, &case.window_start, &case.window_end),
        per_day: u32::try_from(case.attempts_per_day).map_err(|_| broken("attempts per day"))?,
        total: u32::try_from(case.attempts_total).map_err(|_| broken("attempts in total"))?,
        state: case.state_code.clone().unwrap_or_default(),
        period_end: parse_iso_date(&case.period_end).ok_or_else(|| broken("period end"))?,
    })
}

/// What follows for the case, by the calling rules: its finished attempts
/// and `this` one (not yet stored as finished).
fn decide(
    case: &AgentCase,
    rows: &[AttemptRow],
    this: Option<Attempt>,
    now: i64,
) -> Result<AfterAttempt> {
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
    let rules = rules_of(case)?;
    let numbers: Vec<Number> = [
        (Number::Phone, case.phone.as_deref()),
        (Number::Mobile, case.mobile.as_deref()),
    ]
    .into_iter()
    .filter(|(_, n)| n.is_some_and(|n| !n.trim().is_empty()))
    .map(|(n, _)| n)
    .collect();
    Ok(match rules::next_due(&rules, &history, &numbers, now) {
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
    })
}

/// Keeps the agent's lease on the open case; `false` when it has lapsed.
pub async fn keep_lease(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<bool> {
    let mut tx = db.begin().await?;
    let renewed = calls::renew(&mut tx, id, actor.user_id, now).await?;
    tx.commit().await?;
    Ok(renewed)
}

// ---- the conversation ----

/// Where a conversation stands after a turn.
pub enum Conversation<S, V> {
    /// The lease ended: nothing of the case is shown.
    Lapsed,
    /// The conversation ended with this outcome; the case is closed or due
    /// again and the lease ended.
    Ended(Outcome),
    /// It goes on: `step` is what the turn returned, `view` the page.
    Going { last_name: String, step: S, view: V },
}

fn engine_customer(case: &CaseCustomer) -> guide_session::Customer {
    use outreach_core::guide::Field;
    use outreach_core::guide::definition::IdentityItem;
    let c = &case.customer;
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    // The stored value of each field a question can map to.
    let values = Field::ALL
        .into_iter()
        .filter_map(|f| {
            let value = c.stored_value(f.stored()?)?;
            (!value.is_empty()).then_some((f, value))
        })
        .collect();
    guide_session::Customer {
        salutation: text(&c.salutation),
        first_name: text(&c.first_name),
        last_name: c.last_name.clone(),
        values,
        identity: [
            (IdentityItem::BirthDate, format_de_date(c.birth_date)),
            (IdentityItem::Postcode, text(&c.postcode)),
            (
                IdentityItem::Address,
                format!("{} {}", text(&c.street), text(&c.house_number))
                    .trim()
                    .to_string(),
            ),
            (
                IdentityItem::Code,
                outreach_core::campaign::case_code(&case.code_secret, case.case_id),
            ),
        ]
        .into_iter()
        .collect(),
    }
}

fn disposition(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Confirmed => FinalDisposition::Confirmed.code(),
        Outcome::Updated => FinalDisposition::Updated.code(),
        Outcome::Refused => FinalDisposition::Refused.code(),
        Outcome::IdentityFailed => FinalDisposition::IdentityFailed.code(),
        Outcome::Dropped => FinalDisposition::Partial.code(),
    }
}

/// One turn of the conversation on the case the agent holds: `turn` takes
/// the agent's input to the session (or nothing, to show it), `view` draws
/// the page from the session afterwards. Reading it is audited; a finished
/// conversation stores its result (or, when the line dropped, the answers
/// as a draft and the case due again) with its audit event; otherwise the
/// state is kept and the lease renewed — all in one transaction.
pub async fn converse<S, V>(
    db: &Db,
    by: Caller<'_>,
    agent_name: &str,
    id: i64,
    now: i64,
    turn: impl FnOnce(&mut Session<'_>) -> S,
    view: impl FnOnce(&Session<'_>, &S) -> V,
) -> Result<Conversation<S, V>> {
    let agent = by.actor.user_id;
    let mut tx = db.begin().await?;
    let Some(c) = conversation::case_customer(&mut tx, id, agent, now).await? else {
        tx.rollback().await?;
        return Ok(Conversation::Lapsed);
    };
    let stored_guide = match c.guide_id {
        Some(g) => {
            let scope = RecordScope::of(by.actor).ok_or(Error::NotFound)?;
            outreach_store::guide::by_id(&mut tx, scope, g).await?
        }
        None => outreach_store::guide::builtin(&mut tx).await?,
    }
    .ok_or_else(|| Error::Internal(format!("case {id}: no guide")))?;
    let guide = stored_guide
        .guide()
        .map_err(|_| Error::Internal(format!("guide {} no longer checks", stored_guide.id)))?;
    let context = guide_session::Context {
        agent: agent_name.to_string(),
        job_center: c.jc_name.clone(),
        service_center: c.sc_name.clone(),
        letter_date: c.letter_date.as_deref().map(iso_to_de).unwrap_or_default(),
    };
    let today = berlin_date(now);
    let stored = conversation::load(&mut tx, id).await?;
    let kept_state = stored
        .as_ref()
        .filter(|s| s.agent_id == Some(agent) && !s.state.is_empty())
        .and_then(|s| serde_json::from_str::<guide_session::State>(&s.state).ok());
    let draft = stored
        .as_ref()
        .and_then(|s| serde_json::from_str(&s.draft).ok())
        .unwrap_or_default();
    let customer = engine_customer(&c);
    let mut session = match kept_state {
        Some(st) => Session::from_state(&guide, customer, context, today, st),
        None => Session::resume(&guide, customer, context, today, draft),
    };
    let step = turn(&mut session);
    let step_name = format!("{:?}", session.step());
    let event = AuditEvent::by(by.actor, AuditAction::CustomerRead, by.client)
        .record("case", id)
        .fields(&format!("Gespräch nach Leitfaden, Schritt {step_name}"))
        .purpose(&format!("Aktion „{}“", c.campaign_name));
    audit::append(&mut tx, &event, now).await?;
    match session.result() {
        Some(r) if r.outcome == Outcome::Dropped => {
            // The answers stay as a draft; the case is due again like an
            // unanswered call.
            let draft: std::collections::BTreeMap<String, outreach_core::guide::answer::Value> = r
                .answers
                .iter()
                .map(|a| (a.question.clone(), a.value.clone()))
                .collect();
            let draft = serde_json::to_string(&draft).unwrap_or_default();
            conversation::save(&mut tx, id, agent, Some(stored_guide.id), "", &draft, now).await?;
            let case = calls::case_for_agent(&mut tx, id, agent, now)
                .await?
                .ok_or(Error::NotFound)?;
            let mut finished = calls::attempts(&mut tx, id).await?;
            if let Some(last) = finished.last_mut() {
                last.result = Some("no_answer".into());
            }
            let (due, final_code) = match decide(&case, &finished, None, now)? {
                AfterAttempt::Due { at, .. } => (Some(at), None),
                AfterAttempt::Final(code) => (None, Some(code)),
                AfterAttempt::Conversation => (Some(now), None),
            };
            calls::reschedule(&mut tx, id, agent, due, final_code, now).await?;
            let event = AuditEvent::by(by.actor, AuditAction::CallResult, by.client)
                .record("case", id)
                .fields("Verbindung abgebrochen: Antworten als Entwurf für den Rückruf");
            audit::append(&mut tx, &event, now).await?;
        }
        Some(r) => {
            let answers = serde_json::to_string(&r.answers).unwrap_or_default();
            let changes = serde_json::to_string(&r.changes).unwrap_or_default();
            let flags = serde_json::to_string(&r.flags).unwrap_or_default();
            let flag_codes = outreach_core::results::flag_codes(&r.flags);
            let result = conversation::NewResult {
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
            if !conversation::finish(&mut tx, id, agent, &result, disposition(r.outcome), now)
                .await?
            {
                return Err(Error::NotFound);
            }
            let event = AuditEvent::by(by.actor, AuditAction::CallResult, by.client)
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
                .map_err(|e| Error::Internal(format!("conversation state not stored: {e}")))?;
            let draft = stored.as_ref().map(|s| s.draft.clone()).unwrap_or_default();
            conversation::save(&mut tx, id, agent, Some(stored_guide.id), &st, &draft, now).await?;
            calls::renew(&mut tx, id, agent, now).await?;
        }
    }
    tx.commit().await?;
    if let Some(r) = session.result() {
        return Ok(Conversation::Ended(r.outcome));
    }
    let view = view(&session, &step);
    Ok(Conversation::Going {
        last_name: c.customer.last_name,
        step,
        view,
    })
}

/// Whether the agent holds the case at `now`.
pub async fn holds(db: &Db, actor: &Actor, id: i64, now: i64) -> Result<bool> {
    let mut tx = db.read().await?;
    let held = calls::case_for_agent(&mut tx, id, actor.user_id, now).await?;
    tx.commit().await?;
    Ok(held.is_some())
}
