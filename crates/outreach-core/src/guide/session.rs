//! One conversation through a guide: greeting → identity check →
//! explanation → consent → questions → read-back, ending in a
//! [`CallResult`]. The rules the data protection commissioners set are the
//! engine's, not the page's: nothing beyond the name is shown before the
//! identity check passed, no question is answerable before consent, and
//! "Kunde verweigert" ends capture at once and discards the answers.

use super::answer::{Kind, Value};
use super::definition::{Guide, IdentityItem, STORED_PLACEHOLDER};
use super::{END_REASONS, Field, Flag, HEALTH_ANSWERS, code_label};
use crate::customer::Field as StoredField;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The customer as the engine knows them: the name, and the stored values
/// of the fields questions map to (canonical form, see
/// [`Value::canonical`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub salutation: String,
    pub first_name: String,
    pub last_name: String,
    pub values: BTreeMap<Field, String>,
    /// The stored values the identity check compares with (birth date as
    /// TT.MM.JJJJ, postcode, address, the letter's code). Shown to the agent
    /// at the identity check only, for comparing; never part of a result.
    #[serde(default)]
    pub identity: BTreeMap<IdentityItem, String>,
}

impl Customer {
    /// "Frau Müller", or the full name without a salutation.
    pub fn addressed(&self) -> String {
        let s = self.salutation.trim();
        if s == "Frau" || s == "Herr" {
            format!("{s} {}", self.last_name.trim())
        } else {
            format!("{} {}", self.first_name.trim(), self.last_name.trim())
                .trim()
                .to_string()
        }
    }
}

/// Who calls, for the placeholders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub agent: String,
    pub job_center: String,
    pub service_center: String,
    /// The advance letter's date, TT.MM.JJJJ.
    pub letter_date: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Greeting,
    Identity,
    Explanation,
    Consent,
    /// The question at this index of [`Guide::questions`].
    Question(usize),
    ReadBack,
    Finished,
}

/// What the agent does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Input {
    /// Greeting or explanation read: on to the next step.
    Continue,
    /// What the customer states for an identity item, as the agent typed
    /// it: compared with the record, then dropped — the stated value is kept
    /// nowhere, not in the state, the result or a message.
    Identity {
        item: IdentityItem,
        stated: String,
    },
    Consent(bool),
    /// The answer to the current question (several values for multiple
    /// choice; text and KldB code for an occupation).
    Answer(Vec<String>),
    /// Leave the current (optional) question unanswered.
    Skip,
    /// Back to the previous question.
    Back,
    /// At the read-back: correct one answer.
    Correct {
        question: String,
        values: Vec<String>,
    },
    /// At the read-back: the customer confirmed; the conversation is done.
    Confirm,
    /// "Kunde verweigert weitere Auskunft": capture stops, answers are discarded.
    Refuse,
    /// "Verbindung abgebrochen": the answers stay as a draft for the callback.
    Dropped,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Confirmed,
    Updated,
    Refused,
    IdentityFailed,
    Dropped,
}

impl Outcome {
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Confirmed => "confirmed",
            Outcome::Updated => "updated",
            Outcome::Refused => "refused",
            Outcome::IdentityFailed => "identity_failed",
            Outcome::Dropped => "dropped",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Confirmed => "Gespräch geführt, Daten bestätigt",
            Outcome::Updated => "Gespräch geführt, Daten aktualisiert",
            Outcome::Refused => "Auskunft verweigert",
            Outcome::IdentityFailed => "Identität nicht bestätigt",
            Outcome::Dropped => "Verbindung abgebrochen (Entwurf für den Rückruf)",
        }
    }
}

/// Where a conversation stands; kept by the caller between requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub step: Step,
    /// Identity items marked so far (never the stated values).
    pub identity: BTreeMap<IdentityItem, bool>,
    pub consent: bool,
    pub answers: BTreeMap<String, Value>,
    /// Questions answered or skipped, in order, for "back".
    pub trail: Vec<usize>,
    pub outcome: Option<Outcome>,
    /// A read-back correction opened questions: after each, on to the next
    /// open one, then back to the read-back.
    #[serde(default)]
    pub correcting: bool,
    /// What the last answer did to the questions that apply, if anything.
    #[serde(default)]
    pub count_change: Option<CountChange>,
    /// Identity statements that did not match, and the last one's item.
    #[serde(default)]
    pub identity_misses: usize,
    #[serde(default)]
    pub identity_missed: Option<IdentityItem>,
}

/// Questions an answer made apply or drop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountChange {
    /// The question answered (its place in the guide).
    pub question: usize,
    pub added: usize,
    pub dropped: usize,
}

/// A field that changes: old and new value (canonical and for reading).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub field: Field,
    pub question: String,
    pub old: String,
    pub new: String,
    pub old_display: String,
    pub new_display: String,
}

impl Change {
    /// The old and the new value as a person reads them. Telephone numbers
    /// are grouped from their stored E.164 form, also in results stored
    /// before they were (their `…_display` held the number as stored).
    pub fn shown(&self) -> (String, String) {
        match self.field {
            Field::Stored(field @ (StoredField::Phone | StoredField::Mobile)) => {
                (field.display(&self.old), field.display(&self.new))
            }
            _ => (self.old_display.clone(), self.new_display.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndOfUnemployment {
    pub reason: Option<String>,
    pub reason_label: Option<String>,
    #[serde(with = "crate::date::serde_iso_opt")]
    pub since: Option<Date>,
    pub hours_per_week: Option<f64>,
    pub social_insurance: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Move {
    /// The new address as it will be stored.
    pub address: String,
    /// The postcode changed: another job center may be responsible.
    pub other_job_center_possible: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Flags {
    pub no_longer_unemployed: Option<EndOfUnemployment>,
    pub moved: Option<Move>,
    /// `yes`, `no` or `no_answer` (never a diagnosis); None when not asked.
    pub health_restriction: Option<String>,
    pub wants_appointment: bool,
    pub contact_updated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswerRecord {
    pub question: String,
    pub value: Value,
    pub display: String,
}

/// What a conversation produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallResult {
    pub outcome: Outcome,
    pub guide_name: String,
    pub guide_version: String,
    pub guide_hash: String,
    /// `items` (the two items) or `code`; None when the check was not reached.
    pub identity_method: Option<String>,
    pub identity_passed: bool,
    pub consent: bool,
    pub answers: Vec<AnswerRecord>,
    pub changes: Vec<Change>,
    pub flags: Flags,
}

/// Why an input was not taken, in German.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, InputError> {
    Err(InputError(message.into()))
}

/// The current question as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionView {
    pub id: String,
    pub section: String,
    pub kind: Kind,
    pub required: bool,
    pub purpose: String,
    pub hint: String,
    /// The answer given so far, as form values.
    pub inputs: Vec<String>,
    /// The stored value of the mapped field, for reading.
    pub stored: Option<String>,
}

/// What the page shows at the current step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    pub step: Step,
    pub heading: String,
    /// What the agent reads aloud, placeholders filled in.
    pub text: String,
    /// The explanation's points (heading, text).
    pub points: Vec<(String, String)>,
    pub question: Option<QuestionView>,
    /// The identity items the agent asks for and types in; the engine
    /// compares (the stored values are never in a view).
    pub identity_items: Vec<IdentityItem>,
    /// After a statement that did not match: what to tell the agent.
    pub identity_miss: Option<String>,
    /// Identity items already marked as matching.
    pub identity_marked: Vec<IdentityItem>,
    /// The customer data the agent may see now: only the name before the
    /// identity check passed.
    pub customer: Vec<(String, String)>,
    /// At the read-back: every field that will change.
    pub changes: Vec<Change>,
    /// Every answer given, for the read-back.
    pub answers: Vec<(String, String)>,
    /// Of the questions that apply now (given the answers so far): how
    /// many there are, how many were asked (answered or left without an
    /// answer), how many answered, and the current one's place among them.
    pub total: usize,
    pub asked: usize,
    pub answered: usize,
    pub position: Option<usize>,
    /// On the question after an answer that made questions apply or drop:
    /// the sentence that says so.
    pub count_change: Option<String>,
}

/// One conversation.
#[derive(Debug, Clone)]
pub struct Session<'g> {
    guide: &'g Guide,
    customer: Customer,
    context: Context,
    today: Date,
    state: State,
}

impl<'g> Session<'g> {
    pub fn new(guide: &'g Guide, customer: Customer, context: Context, today: Date) -> Session<'g> {
        Session::from_state(
            guide,
            customer,
            context,
            today,
            State {
                step: Step::Greeting,
                identity: BTreeMap::new(),
                consent: false,
                answers: BTreeMap::new(),
                trail: Vec::new(),
                outcome: None,
                correcting: false,
                count_change: None,
                identity_misses: 0,
                identity_missed: None,
            },
        )
    }

    /// A callback after a dropped line: the whole opening again, with the
    /// draft's answers filled in.
    pub fn resume(
        guide: &'g Guide,
        customer: Customer,
        context: Context,
        today: Date,
        draft: BTreeMap<String, Value>,
    ) -> Session<'g> {
        let mut session = Session::new(guide, customer, context, today);
        session.state.answers = draft
            .into_iter()
            .filter(|(id, _)| guide.question(id).is_some())
            .collect();
        session
    }

    /// Continues a conversation whose state was kept.
    pub fn from_state(
        guide: &'g Guide,
        customer: Customer,
        context: Context,
        today: Date,
        state: State,
    ) -> Session<'g> {
        Session {
            guide,
            customer,
            context,
            today,
            state,
        }
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn step(&self) -> Step {
        self.state.step
    }

    fn question(&self, index: usize) -> Option<&'g super::Question> {
        self.guide.questions().nth(index).map(|(_, q)| q)
    }

    fn count(&self) -> usize {
        self.guide.questions().count()
    }

    /// The answers that count: those of questions whose condition holds,
    /// in question order. Each condition sees only the answers before it.
    fn effective(&self) -> Vec<(usize, &'g super::Question, Option<&Value>)> {
        let mut seen: BTreeMap<&str, &Value> = BTreeMap::new();
        let mut out = Vec::new();
        for (i, (_, q)) in self.guide.questions().enumerate() {
            let applies = q
                .when
                .as_ref()
                .is_none_or(|w| w.holds(&|id| seen.get(id).map(|v| (*v).clone())));
            if applies {
                let answer = self.state.answers.get(&q.id);
                if let Some(a) = answer {
                    seen.insert(q.id.as_str(), a);
                }
                out.push((i, q, answer));
            }
        }
        out
    }

    fn applies(&self, index: usize) -> bool {
        self.effective().iter().any(|(i, _, _)| *i == index)
    }

    /// The next applicable question after `after`, or the read-back.
    fn next_after(&self, after: Option<usize>) -> Step {
        self.effective()
            .iter()
            .map(|(i, _, _)| *i)
            .find(|i| after.is_none_or(|a| *i > a))
            .map_or(Step::ReadBack, Step::Question)
    }

    /// Where to go after question `i`: the next question, or — while
    /// correcting — the first applicable question not yet asked.
    fn after(&self, i: usize) -> Step {
        if !self.state.correcting {
            return self.next_after(Some(i));
        }
        let open = self
            .effective()
            .iter()
            .find(|(j, _, a)| a.is_none() && !self.state.trail.contains(j))
            .map(|(j, _, _)| *j);
        match open {
            Some(j) => Step::Question(j),
            None => Step::ReadBack,
        }
    }

    /// An applicable required question without an answer, if any.
    fn missing_required(&self) -> Option<usize> {
        self.effective()
            .iter()
            .find(|(_, q, a)| q.required && a.is_none())
            .map(|(i, _, _)| *i)
    }

    /// Sets (or removes) the answer to question `i` and notes which
    /// questions it made apply or drop.
    fn set_answer(&mut self, i: usize, q: &super::Question, value: Option<Value>) {
        let before: Vec<usize> = self.effective().iter().map(|(j, _, _)| *j).collect();
        match value {
            Some(value) => {
                self.state.answers.insert(q.id.clone(), value);
            }
            None => {
                self.state.answers.remove(&q.id);
            }
        }
        let after: Vec<usize> = self.effective().iter().map(|(j, _, _)| *j).collect();
        let added = after.iter().filter(|j| !before.contains(j)).count();
        let dropped = before.iter().filter(|j| !after.contains(j)).count();
        self.state.count_change = (added > 0 || dropped > 0).then_some(CountChange {
            question: i,
            added,
            dropped,
        });
    }

    fn finish(&mut self, outcome: Outcome) {
        if matches!(outcome, Outcome::Refused | Outcome::IdentityFailed) {
            self.state.answers.clear();
        }
        self.state.outcome = Some(outcome);
        self.state.step = Step::Finished;
    }

    fn parse_answer(
        &self,
        q: &super::Question,
        values: &[String],
    ) -> Result<Option<Value>, InputError> {
        let value = q
            .kind
            .parse(values, self.today)
            .map_err(|e| InputError(format!("{}: {e}", short(&q.text))))?;
        if value.is_none() && q.required {
            return refuse(format!(
                "{}: Bitte eine Antwort eintragen – oder „Kunde verweigert“ wählen, wenn der Kunde nicht weiter antworten möchte.",
                short(&q.text)
            ));
        }
        // Saving a yes/no or single choice without a choice is refused, not
        // taken for "no answer": a lost click or keystroke must not lose the
        // customer's answer unnoticed. Not answering is its own button.
        if value.is_none() && matches!(q.kind, Kind::YesNo | Kind::SingleChoice(_)) {
            return refuse(format!(
                "{}: Bitte eine Antwort auswählen – oder „Überspringen (keine Angabe)“, wenn der Kunde dazu nichts sagen möchte.",
                short(&q.text)
            ));
        }
        Ok(value)
    }

    /// Takes one input. An input that doesn't fit the step is refused with
    /// a German message and changes nothing.
    pub fn apply(&mut self, input: Input) -> Result<(), InputError> {
        let step = self.state.step;
        if step == Step::Finished {
            return refuse("Das Gespräch ist beendet.");
        }
        match input {
            Input::Refuse => {
                self.finish(Outcome::Refused);
                Ok(())
            }
            Input::Dropped => {
                self.finish(Outcome::Dropped);
                Ok(())
            }
            Input::Continue => match step {
                Step::Greeting => {
                    self.state.step = Step::Identity;
                    Ok(())
                }
                Step::Explanation => {
                    self.state.step = Step::Consent;
                    Ok(())
                }
                _ => refuse("„Weiter“ gibt es nur nach der Begrüßung und nach der Erläuterung."),
            },
            Input::Identity { item, stated } => {
                if step != Step::Identity {
                    return refuse("Die Identität wird nur in der Identitätsprüfung bestätigt.");
                }
                let opening = &self.guide.opening;
                let by_code = item == IdentityItem::Code;
                if by_code && !opening.code_alternative {
                    return refuse("Dieser Leitfaden sieht den Prüfcode nicht vor.");
                }
                if !by_code && !opening.identity.contains(&item) {
                    return refuse(format!(
                        "„{}“ gehört nicht zur Identitätsprüfung dieses Leitfadens.",
                        item.label()
                    ));
                }
                let marked_code = self.state.identity.contains_key(&IdentityItem::Code);
                let marked_items = self.state.identity.keys().any(|i| *i != IdentityItem::Code);
                if (by_code && marked_items) || (!by_code && marked_code) {
                    return refuse(
                        "Bitte entweder die zwei Angaben oder den Prüfcode prüfen, nicht beides.",
                    );
                }
                if stated.trim().is_empty() {
                    return refuse(format!(
                        "{}: Bitte tragen Sie ein, was die Person nennt.",
                        item.label()
                    ));
                }
                let stored = self.customer.identity.get(&item).map_or("", String::as_str);
                if identity_matches(item, &stated, stored) {
                    self.state.identity.insert(item, true);
                    self.state.identity_missed = None;
                    if by_code
                        || opening
                            .identity
                            .iter()
                            .all(|i| self.state.identity.get(i) == Some(&true))
                    {
                        self.state.step = Step::Explanation;
                    }
                    return Ok(());
                }
                self.state.identity_misses += 1;
                self.state.identity_missed = Some(item);
                if self.state.identity_misses >= opening.identity_attempts {
                    // The method tried is recorded, not what was said.
                    self.state.identity.insert(item, false);
                    self.finish(Outcome::IdentityFailed);
                }
                Ok(())
            }
            Input::Consent(given) => {
                if step != Step::Consent {
                    return refuse("Die Einwilligung wird nach der Erläuterung erfragt.");
                }
                if given {
                    self.state.consent = true;
                    self.state.step = self.next_after(None);
                } else {
                    self.finish(Outcome::Refused);
                }
                Ok(())
            }
            Input::Answer(values) => {
                let Step::Question(i) = step else {
                    return refuse(if self.state.consent {
                        "Gerade ist keine Frage offen."
                    } else {
                        "Fragen können erst nach Identitätsprüfung, Erläuterung und Einwilligung beantwortet werden."
                    });
                };
                let Some(q) = self.question(i) else {
                    return refuse("Diese Frage gibt es nicht.");
                };
                let value = self.parse_answer(q, &values)?;
                self.set_answer(i, q, value);
                self.state.trail.push(i);
                self.state.step = self.after(i);
                Ok(())
            }
            Input::Skip => {
                let Step::Question(i) = step else {
                    return refuse("Gerade ist keine Frage offen.");
                };
                let Some(q) = self.question(i) else {
                    return refuse("Diese Frage gibt es nicht.");
                };
                if q.required {
                    return refuse(format!(
                        "{}: Diese Frage ist Pflicht und kann nicht übersprungen werden.",
                        short(&q.text)
                    ));
                }
                self.set_answer(i, q, None);
                self.state.trail.push(i);
                self.state.step = self.after(i);
                Ok(())
            }
            Input::Back => {
                if !matches!(step, Step::Question(_) | Step::ReadBack) {
                    return refuse("Zurück geht es nur zwischen den Fragen.");
                }
                self.state.count_change = None;
                // Skip trail entries whose question no longer applies.
                while let Some(prev) = self.state.trail.pop() {
                    if self.applies(prev) {
                        self.state.step = Step::Question(prev);
                        return Ok(());
                    }
                }
                refuse("Vor der ersten Frage geht es nicht zurück.")
            }
            Input::Correct { question, values } => {
                if step != Step::ReadBack {
                    return refuse("Korrigiert wird bei der Zusammenfassung am Ende.");
                }
                let found = self
                    .effective()
                    .into_iter()
                    .find(|(_, q, _)| q.id == question)
                    .map(|(i, q, _)| (i, q));
                let Some((i, q)) = found else {
                    return refuse(format!(
                        "Die Frage „{question}“ wurde in diesem Gespräch nicht gestellt."
                    ));
                };
                let value = self.parse_answer(q, &values)?;
                self.set_answer(i, q, value);
                if !self.state.trail.contains(&i) {
                    self.state.trail.push(i);
                }
                // A correction can open questions not asked yet.
                self.state.correcting = true;
                self.state.step = self.after(i);
                Ok(())
            }
            Input::Confirm => {
                if step != Step::ReadBack {
                    return refuse("Abgeschlossen wird nach der Zusammenfassung.");
                }
                if let Some(open) = self.missing_required() {
                    self.state.step = Step::Question(open);
                    return refuse("Eine Pflichtfrage ist noch offen.");
                }
                let outcome = if self.changes().is_empty() {
                    Outcome::Confirmed
                } else {
                    Outcome::Updated
                };
                self.finish(outcome);
                Ok(())
            }
        }
    }

    /// Every mapped field whose answer differs from the stored value.
    pub fn changes(&self) -> Vec<Change> {
        self.effective()
            .into_iter()
            .filter_map(|(_, q, answer)| {
                let (field, value) = (q.field?, answer?);
                let new = value.canonical();
                let old = self
                    .customer
                    .values
                    .get(&field)
                    .cloned()
                    .unwrap_or_default();
                (new != old).then(|| Change {
                    field,
                    question: q.id.clone(),
                    old_display: field.display(&old),
                    new_display: value.display(&q.kind),
                    old,
                    new,
                })
            })
            .collect()
    }

    fn flag_value(&self, flag: Flag) -> Option<Value> {
        self.effective()
            .into_iter()
            .find(|(_, q, _)| q.flag == Some(flag))
            .and_then(|(_, _, a)| a.cloned())
    }

    fn flags(&self, changes: &[Change]) -> Flags {
        let bool_of = |flag| match self.flag_value(flag) {
            Some(Value::Bool(b)) => Some(b),
            _ => None,
        };
        let no_longer_unemployed = (bool_of(Flag::StillUnemployed) == Some(false)).then(|| {
            let reason = match self.flag_value(Flag::EndReason) {
                Some(Value::Choice(c)) => Some(c),
                _ => None,
            };
            EndOfUnemployment {
                reason_label: reason
                    .as_deref()
                    .and_then(|r| code_label(&END_REASONS, r))
                    .map(String::from),
                reason,
                since: match self.flag_value(Flag::EndDate) {
                    Some(Value::Date(d)) => Some(d),
                    _ => None,
                },
                hours_per_week: match self.flag_value(Flag::EmploymentHours) {
                    Some(Value::Number(n)) => Some(n),
                    _ => None,
                },
                social_insurance: bool_of(Flag::SocialInsurance),
            }
        });
        let address_changed = changes.iter().any(|c| c.field.is_address());
        let moved = (bool_of(Flag::Moved) == Some(true) || address_changed).then(|| {
            let value = |field: Field| {
                changes
                    .iter()
                    .find(|c| c.field == field)
                    .map(|c| c.new.clone())
                    .or_else(|| self.customer.values.get(&field).cloned())
                    .unwrap_or_default()
            };
            Move {
                address: format!(
                    "{} {}, {} {}",
                    value(Field::Stored(StoredField::Street)),
                    value(Field::Stored(StoredField::HouseNumber)),
                    value(Field::Stored(StoredField::Postcode)),
                    value(Field::Stored(StoredField::City))
                )
                .trim()
                .to_string(),
                other_job_center_possible: changes
                    .iter()
                    .any(|c| c.field == Field::Stored(StoredField::Postcode)),
            }
        });
        Flags {
            no_longer_unemployed,
            moved,
            health_restriction: match self.flag_value(Flag::HealthRestriction) {
                Some(Value::Choice(c)) if code_label(&HEALTH_ANSWERS, &c).is_some() => Some(c),
                _ => None,
            },
            wants_appointment: bool_of(Flag::WantsAppointment) == Some(true),
            contact_updated: changes.iter().any(|c| c.field.is_contact()),
        }
    }

    /// The result, once the conversation is finished.
    pub fn result(&self) -> Option<CallResult> {
        let outcome = self.state.outcome?;
        let identity_method = if self.state.identity.is_empty() {
            None
        } else if self.state.identity.contains_key(&IdentityItem::Code) {
            Some("code".to_string())
        } else {
            Some("items".to_string())
        };
        let identity_passed = !self.state.identity.is_empty()
            && self.state.identity.values().all(|m| *m)
            && (self.state.identity.contains_key(&IdentityItem::Code)
                || self.state.identity.len() == 2);
        let kept = matches!(
            outcome,
            Outcome::Confirmed | Outcome::Updated | Outcome::Dropped
        );
        let answers = if kept {
            self.effective()
                .into_iter()
                .filter_map(|(_, q, a)| {
                    a.map(|v| AnswerRecord {
                        question: q.id.clone(),
                        display: v.display(&q.kind),
                        value: v.clone(),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        let done = matches!(outcome, Outcome::Confirmed | Outcome::Updated);
        let changes = if done { self.changes() } else { Vec::new() };
        let flags = if done {
            self.flags(&changes)
        } else {
            Flags::default()
        };
        Some(CallResult {
            outcome,
            guide_name: self.guide.name.clone(),
            guide_version: self.guide.version.clone(),
            guide_hash: self.guide.hash.clone(),
            identity_method,
            identity_passed,
            consent: self.state.consent,
            answers,
            changes,
            flags,
        })
    }

    fn identity_passed(&self) -> bool {
        matches!(
            self.state.step,
            Step::Explanation | Step::Consent | Step::Question(_) | Step::ReadBack
        ) || (self.state.step == Step::Finished
            && matches!(
                self.state.outcome,
                Some(Outcome::Confirmed | Outcome::Updated)
            ))
    }

    /// Fills the placeholders of `text` (`{bisher}` with `stored`).
    fn fill(&self, text: &str, stored: Option<&str>) -> String {
        let mut out = text.to_string();
        let c = &self.customer;
        for (name, value) in [
            ("anrede", c.salutation.as_str()),
            ("vorname", c.first_name.as_str()),
            ("nachname", c.last_name.as_str()),
            ("name", c.addressed().as_str()),
            ("agent", self.context.agent.as_str()),
            ("jobcenter", self.context.job_center.as_str()),
            ("servicecenter", self.context.service_center.as_str()),
            ("briefdatum", self.context.letter_date.as_str()),
            (STORED_PLACEHOLDER, stored.unwrap_or("(nichts gespeichert)")),
        ] {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }

    /// What the page shows now.
    pub fn view(&self) -> View {
        let effective = self.effective();
        let total = effective.len();
        let answered = effective.iter().filter(|(_, _, a)| a.is_some()).count();
        let asked = effective
            .iter()
            .filter(|(i, _, a)| a.is_some() || self.state.trail.contains(i))
            .count();
        let position = match self.state.step {
            Step::Question(current) => effective
                .iter()
                .position(|(i, _, _)| *i == current)
                .map(|p| p + 1),
            _ => None,
        };
        let mut customer = vec![("Name".to_string(), self.customer.addressed())];
        if self.identity_passed() {
            customer.extend(
                self.customer
                    .values
                    .iter()
                    .map(|(f, v)| (f.label().to_string(), f.display(v))),
            );
        }
        let opening = &self.guide.opening;
        let mut view = View {
            step: self.state.step,
            heading: String::new(),
            text: String::new(),
            points: Vec::new(),
            question: None,
            identity_items: Vec::new(),
            identity_miss: None,
            identity_marked: self
                .state
                .identity
                .iter()
                .filter(|(_, m)| **m)
                .map(|(i, _)| *i)
                .collect(),
            customer,
            changes: Vec::new(),
            answers: Vec::new(),
            total,
            asked,
            answered,
            position,
            count_change: match self.state.step {
                Step::Question(_) => self
                    .state
                    .count_change
                    .as_ref()
                    .and_then(|c| self.count_sentence(c)),
                _ => None,
            },
        };
        match self.state.step {
            Step::Greeting => {
                view.heading = "Begrüßung".into();
                view.text = self.fill(&opening.greeting, None);
            }
            Step::Identity => {
                view.heading = "Identitätsprüfung".into();
                view.text = format!(
                    "Bitte lassen Sie sich {} nennen{} und tragen Sie ein, was die Person sagt; das System vergleicht mit den gespeicherten Daten. Die genannten Werte werden nicht gespeichert.",
                    opening
                        .identity
                        .iter()
                        .map(|i| i.label())
                        .collect::<Vec<_>>()
                        .join(" und "),
                    if opening.code_alternative {
                        " – oder den Prüfcode aus der Vorabinformation"
                    } else {
                        ""
                    }
                );
                let mut items = opening.identity.to_vec();
                if opening.code_alternative {
                    items.push(IdentityItem::Code);
                }
                view.identity_items = items;
                view.identity_miss = self.state.identity_missed.map(|item| {
                    let left = opening
                        .identity_attempts
                        .saturating_sub(self.state.identity_misses);
                    format!(
                        "„{}“ stimmt nicht mit den gespeicherten Daten überein. Bitte fragen Sie noch einmal nach (noch {} Versuch{}); danach endet das Gespräch als „Identität nicht bestätigt“.",
                        item.label(),
                        left,
                        if left == 1 { "" } else { "e" }
                    )
                });
            }
            Step::Explanation => {
                view.heading = "Erläuterung".into();
                view.points = opening
                    .explanation
                    .points()
                    .iter()
                    .map(|(h, t)| (h.to_string(), self.fill(t, None)))
                    .collect();
            }
            Step::Consent => {
                view.heading = "Einwilligung".into();
                view.text = self.fill(&opening.consent, None);
            }
            Step::Question(i) => {
                if let Some((section, q)) = self.guide.questions().nth(i) {
                    let stored = q
                        .field
                        .and_then(|f| self.customer.values.get(&f).map(|v| f.display(v)));
                    view.heading = section.title.clone();
                    view.text = self.fill(&q.text, stored.as_deref());
                    view.question = Some(QuestionView {
                        id: q.id.clone(),
                        section: section.title.clone(),
                        kind: q.kind.clone(),
                        required: q.required,
                        purpose: q.purpose.clone(),
                        hint: self.fill(&q.hint, stored.as_deref()),
                        // The answer so far, or else the stored value to confirm.
                        inputs: match self.state.answers.get(&q.id) {
                            Some(answer) => answer.inputs(&q.kind),
                            None => q
                                .field
                                .and_then(|f| {
                                    self.customer
                                        .values
                                        .get(&f)
                                        .map(|raw| stored_inputs(&q.kind, f, raw))
                                })
                                .unwrap_or_default(),
                        },
                        stored,
                    });
                }
            }
            Step::ReadBack | Step::Finished => {
                view.heading = if self.state.step == Step::ReadBack {
                    "Zusammenfassung zum Vorlesen".into()
                } else {
                    "Gespräch beendet".into()
                };
                if self.identity_passed() {
                    view.changes = self.changes();
                    view.answers = effective
                        .iter()
                        .filter_map(|(_, q, a)| a.map(|v| (short(&q.text), v.display(&q.kind))))
                        .collect();
                }
                if let Some(outcome) = self.state.outcome {
                    view.text = outcome.label().to_string();
                }
            }
        }
        view
    }

    /// "Die Antwort auf „…“ bringt 7 weitere Fragen dazu."
    fn count_sentence(&self, change: &CountChange) -> Option<String> {
        let q = self.question(change.question)?;
        let questions = |n: usize| {
            if n == 1 {
                "1 Frage".to_string()
            } else {
                format!("{n} Fragen")
            }
        };
        let what = match (change.added, change.dropped) {
            (0, 0) => return None,
            (added, 0) => format!("bringt {} dazu", questions(added)),
            (0, dropped) => format!("lässt {} entfallen", questions(dropped)),
            (added, dropped) => format!(
                "bringt {} dazu und lässt {} entfallen",
                questions(added),
                questions(dropped)
            ),
        };
        let stored = q
            .field
            .and_then(|f| self.customer.values.get(&f).map(|v| f.display(v)));
        Some(format!(
            "Die Antwort auf „{}“ {what}; es gelten jetzt {}.",
            short(&self.fill(&q.text, stored.as_deref())),
            questions(self.effective().len())
        ))
    }

    /// Every answer that counts, for the read-back: question id, question
    /// text (placeholders filled) and the answer as read.
    pub fn answers_for_read_back(&self) -> Vec<(String, String, String)> {
        if !self.identity_passed() {
            return Vec::new();
        }
        self.effective()
            .into_iter()
            .filter_map(|(_, q, a)| {
                let stored = q
                    .field
                    .and_then(|f| self.customer.values.get(&f).map(|v| f.display(v)));
                a.map(|v| {
                    (
                        q.id.clone(),
                        self.fill(&q.text, stored.as_deref()),
                        v.display(&q.kind),
                    )
                })
            })
            .collect()
    }

    /// A question asked in this conversation, for a correction at the
    /// read-back: its text, type and the answer so far as form values.
    pub fn question_for_correction(&self, id: &str) -> Option<(String, Kind, Vec<String>)> {
        if self.state.step != Step::ReadBack {
            return None;
        }
        let (_, q, answer) = self.effective().into_iter().find(|(_, q, _)| q.id == id)?;
        let stored = q
            .field
            .and_then(|f| self.customer.values.get(&f).map(|v| f.display(v)));
        Some((
            self.fill(&q.text, stored.as_deref()),
            q.kind.clone(),
            answer.map(|a| a.inputs(&q.kind)).unwrap_or_default(),
        ))
    }

    /// The questions in the guide (for a progress display).
    pub fn question_count(&self) -> usize {
        self.count()
    }
}

/// Whether what the customer stated for `item` is the stored value, as
/// people say it: dates in any German form (`1.2.1980` = `01.02.1980`),
/// postcodes and codes by their letters and digits, addresses without case,
/// punctuation and the spelling of "Straße".
fn identity_matches(item: IdentityItem, stated: &str, stored: &str) -> bool {
    if stored.trim().is_empty() {
        return false;
    }
    match item {
        IdentityItem::BirthDate => {
            match (
                crate::date::parse_de_date(stated),
                crate::date::parse_de_date(stored),
            ) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            }
        }
        IdentityItem::Postcode | IdentityItem::Code => {
            let plain = |s: &str| -> String {
                s.chars()
                    .filter(char::is_ascii_alphanumeric)
                    .map(|c| c.to_ascii_uppercase())
                    .collect()
            };
            plain(stated) == plain(stored)
        }
        IdentityItem::Address => {
            let plain = |s: &str| -> String {
                let lower = s.to_lowercase();
                let lower = lower
                    .replace("straße", "str")
                    .replace("strasse", "str")
                    .replace("str.", "str");
                lower.chars().filter(|c| c.is_alphanumeric()).collect()
            };
            plain(stated) == plain(stored)
        }
    }
}

/// A stored canonical value as form values for a question of `kind`.
fn stored_inputs(kind: &Kind, field: Field, raw: &str) -> Vec<String> {
    match kind {
        Kind::MultipleChoice(_) | Kind::DrivingLicences => raw
            .split(',')
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect(),
        Kind::YesNo => vec![if raw == "true" { "ja" } else { "nein" }.into()],
        _ => vec![field.display(raw)],
    }
}

/// A question's text, shortened for messages.
fn short(text: &str) -> String {
    let t = text.trim();
    if t.chars().count() <= 60 {
        t.to_string()
    } else {
        format!("{} …", t.chars().take(57).collect::<String>().trim_end())
    }
}
