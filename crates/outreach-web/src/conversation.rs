//! A conversation step as the page shows it, and the agent's form input as
//! the engine's [`Input`]. Used by the guide preview (and by the agent's
//! call pages).

use crate::forms::FormData;
use outreach_core::guide::answer::{Kind, LICENCE_CLASSES};
use outreach_core::guide::definition::IdentityItem;
use outreach_core::guide::session::{CallResult, Change, Input, Session, Step, View};

/// One option of a radio or check box group.
pub struct Opt {
    pub value: String,
    pub label: String,
    pub checked: bool,
}

/// The input for the current question.
pub struct Widget {
    pub id: String,
    /// "radio", "checkbox", "text" or "occupation".
    pub control: &'static str,
    pub options: Vec<Opt>,
    pub value: String,
    pub kldb: String,
    pub maxlength: usize,
    pub inputmode: &'static str,
    pub input_hint: String,
}

pub struct IdentityRow {
    pub code: String,
    pub label: String,
    /// How to type what the customer says.
    pub hint: &'static str,
    /// Already confirmed as matching.
    pub marked: bool,
    /// The first item still to check: it gets the focus.
    pub focus: bool,
}

pub struct AnswerRow {
    pub id: String,
    pub question: String,
    pub answer: String,
}

pub struct StepView {
    /// greeting, identity, explanation, consent, question, readback, finished
    pub kind: &'static str,
    pub heading: String,
    pub text: String,
    pub points: Vec<(String, String)>,
    pub hint: String,
    pub purpose: String,
    pub required: bool,
    pub progress: String,
    /// Why the number of questions just changed, if it did.
    pub count_change: String,
    pub customer: Vec<(String, String)>,
    /// The identity items to check.
    pub identity: Vec<IdentityRow>,
    /// Why the last identity statement was not taken, if it was not.
    pub identity_miss: String,
    pub widget: Option<Widget>,
    pub changes: Vec<Change>,
    pub answers: Vec<AnswerRow>,
    /// The question being corrected at the read-back ("" otherwise).
    pub correcting: String,
    pub outcome: String,
    pub summary: Vec<(String, String)>,
    pub error: String,
}

fn widget(id: &str, kind: &Kind, inputs: &[String]) -> Widget {
    let first = inputs.first().cloned().unwrap_or_default();
    let options = |pairs: Vec<(String, String)>| -> Vec<Opt> {
        pairs
            .into_iter()
            .map(|(value, label)| Opt {
                checked: inputs.contains(&value),
                value,
                label,
            })
            .collect()
    };
    let mut w = Widget {
        id: id.to_string(),
        control: "text",
        options: Vec::new(),
        value: first.clone(),
        kldb: String::new(),
        maxlength: 0,
        inputmode: "text",
        input_hint: kind.input_hint(),
    };
    match kind {
        Kind::YesNo => {
            w.control = "radio";
            w.options = options(vec![
                ("ja".into(), "Ja".into()),
                ("nein".into(), "Nein".into()),
            ]);
        }
        Kind::SingleChoice(c) => {
            w.control = "radio";
            w.options = options(
                c.iter()
                    .map(|o| (o.code.clone(), o.label.clone()))
                    .collect(),
            );
        }
        Kind::MultipleChoice(c) => {
            w.control = "checkbox";
            w.options = options(
                c.iter()
                    .map(|o| (o.code.clone(), o.label.clone()))
                    .collect(),
            );
        }
        Kind::DrivingLicences => {
            w.control = "checkbox";
            w.options = options(
                LICENCE_CLASSES
                    .iter()
                    .map(|c| (c.to_string(), format!("Klasse {c}")))
                    .collect(),
            );
        }
        Kind::Occupation => {
            w.control = "occupation";
            w.kldb = inputs.get(1).cloned().unwrap_or_default();
            w.maxlength = 200;
        }
        Kind::Text { max_length } => w.maxlength = *max_length,
        Kind::Number { .. } => w.inputmode = "decimal",
        Kind::Phone => w.inputmode = "tel",
        Kind::Email => w.inputmode = "email",
        Kind::Postcode => {
            w.inputmode = "numeric";
            w.maxlength = 5;
        }
        Kind::Date { .. } => w.maxlength = 10,
    }
    w
}

/// Where the conversation stands among the questions that apply now:
/// "Frage 3 von 9" while asking, what was asked at the read-back.
fn progress(view: &View) -> String {
    let plural = |n: usize| {
        if n == 1 {
            "1 Frage".to_string()
        } else {
            format!("{n} Fragen")
        }
    };
    match (view.step, view.position) {
        (Step::Question(_), Some(position)) => format!("Frage {position} von {}", view.total),
        (Step::ReadBack | Step::Finished, _) => {
            let asked = match (view.asked, view.total) {
                (1, 1) => "Die zutreffende Frage gestellt".to_string(),
                (asked, total) if asked == total => {
                    format!("Alle {total} zutreffenden Fragen gestellt")
                }
                (asked, total) => format!("{asked} von {total} zutreffenden Fragen gestellt"),
            };
            match view.asked.saturating_sub(view.answered) {
                0 => format!("{asked}, alle beantwortet."),
                without => format!(
                    "{asked}: {} beantwortet, {without} ohne Angabe.",
                    view.answered
                ),
            }
        }
        _ => format!(
            "Nach der Einwilligung folgen zurzeit {}.",
            plural(view.total)
        ),
    }
}

/// The page's view of the session's current step. `correcting`: the
/// question the agent chose to correct at the read-back; `entered`: the
/// values of a refused answer, shown again with `error`.
pub fn step_view(
    session: &Session,
    correcting: Option<&str>,
    entered: Option<&[String]>,
    error: String,
) -> StepView {
    let view = session.view();
    let mut out = StepView {
        kind: "",
        heading: view.heading.clone(),
        text: view.text.clone(),
        points: view.points.clone(),
        hint: String::new(),
        purpose: String::new(),
        required: false,
        progress: progress(&view),
        count_change: view.count_change.clone().unwrap_or_default(),
        customer: view.customer.clone(),
        identity: {
            let first_open = view
                .identity_items
                .iter()
                .position(|i| !view.identity_marked.contains(i));
            view.identity_items
                .iter()
                .enumerate()
                .map(|(n, i)| IdentityRow {
                    code: i.code().to_string(),
                    label: i.label().to_string(),
                    hint: match i {
                        IdentityItem::BirthDate => "wie genannt, z. B. 1.2.1980",
                        IdentityItem::Postcode => "fünf Ziffern",
                        IdentityItem::Address => "Straße und Hausnummer, wie genannt",
                        IdentityItem::Code => "die acht Zeichen aus dem Schreiben",
                    },
                    marked: view.identity_marked.contains(i),
                    focus: Some(n) == first_open,
                })
                .collect()
        },
        identity_miss: view.identity_miss.clone().unwrap_or_default(),
        widget: None,
        changes: view.changes.clone(),
        answers: Vec::new(),
        correcting: String::new(),
        outcome: String::new(),
        summary: Vec::new(),
        error,
    };
    out.kind = match view.step {
        Step::Greeting => "greeting",
        Step::Identity => "identity",
        Step::Explanation => "explanation",
        Step::Consent => "consent",
        Step::Question(_) => "question",
        Step::ReadBack => "readback",
        Step::Finished => "finished",
    };
    if let Some(q) = &view.question {
        out.hint = q.hint.clone();
        out.purpose = q.purpose.clone();
        out.required = q.required;
        let inputs = entered.map_or_else(|| q.inputs.clone(), <[String]>::to_vec);
        out.widget = Some(widget(&q.id, &q.kind, &inputs));
    }
    let guide_questions = session.answers_for_read_back();
    out.answers = guide_questions
        .into_iter()
        .map(|(id, question, answer)| AnswerRow {
            id,
            question,
            answer,
        })
        .collect();
    if view.step == Step::ReadBack
        && let Some(id) = correcting
        && let Some((text, kind, inputs)) = session.question_for_correction(id)
    {
        out.correcting = id.to_string();
        out.text = text;
        let inputs = entered.map_or(inputs, <[String]>::to_vec);
        out.widget = Some(widget(id, &kind, &inputs));
    }
    if let Some(result) = session.result() {
        out.outcome = result.outcome.label().to_string();
        out.summary = summary(&result);
    }
    out
}

/// The result in German, line by line.
pub fn summary(r: &CallResult) -> Vec<(String, String)> {
    let mut lines = vec![
        ("Ergebnis".to_string(), r.outcome.label().to_string()),
        (
            "Leitfaden".to_string(),
            format!("{}, Version {}", r.guide_name, r.guide_version),
        ),
        (
            "Identitätsprüfung".to_string(),
            match (&r.identity_method, r.identity_passed) {
                (None, _) => "nicht erreicht".to_string(),
                (Some(m), passed) => format!(
                    "{} – {}",
                    if m == "code" {
                        "Prüfcode"
                    } else {
                        "zwei Angaben"
                    },
                    if passed {
                        "bestanden"
                    } else {
                        "nicht bestanden"
                    }
                ),
            },
        ),
        (
            "Einwilligung".to_string(),
            if r.consent {
                "erteilt"
            } else {
                "nicht erteilt"
            }
            .to_string(),
        ),
    ];
    for c in &r.changes {
        let (old, new) = c.shown();
        lines.push((
            format!("Änderung {}", c.field.label()),
            format!("{} → {}", dash(&old), new),
        ));
    }
    let f = &r.flags;
    if let Some(end) = &f.no_longer_unemployed {
        let mut text = "ja".to_string();
        if let Some(label) = &end.reason_label {
            text.push_str(&format!(", {label}"));
        }
        if let Some(since) = end.since {
            text.push_str(&format!(
                ", seit {}",
                outreach_core::date::format_de_date(since)
            ));
        }
        if let Some(h) = end.hours_per_week {
            text.push_str(&format!(
                ", {} Std./Woche",
                outreach_core::guide::answer::de_number(h)
            ));
        }
        if let Some(s) = end.social_insurance {
            text.push_str(if s {
                ", sozialversicherungspflichtig"
            } else {
                ", nicht sozialversicherungspflichtig"
            });
        }
        lines.push(("Nicht mehr arbeitslos".into(), text));
    }
    if let Some(m) = &f.moved {
        lines.push((
            "Umgezogen".into(),
            if m.other_job_center_possible {
                format!("{} (anderes Jobcenter möglich)", m.address)
            } else {
                m.address.clone()
            },
        ));
    }
    if let Some(h) = &f.health_restriction {
        let label = outreach_core::guide::code_label(&outreach_core::guide::HEALTH_ANSWERS, h)
            .unwrap_or("keine Angabe");
        lines.push(("Gesundheit".into(), label.to_string()));
    }
    if f.wants_appointment {
        lines.push(("Wunsch".into(), "persönlicher Termin".into()));
    }
    if f.contact_updated {
        lines.push(("Kontaktdaten".into(), "aktualisiert".into()));
    }
    lines
}

fn dash(s: &str) -> String {
    if s.is_empty() {
        "–".into()
    } else {
        s.to_string()
    }
}

/// The answer values of the form (`antwort`, several for check boxes; the
/// KldB code of an occupation as a second value).
pub fn answer_values(form: &FormData) -> Vec<String> {
    let mut values: Vec<String> = form.all("antwort").into_iter().map(String::from).collect();
    let kldb = form.get("kldb").trim();
    if !kldb.is_empty() {
        if values.is_empty() {
            values.push(String::new());
        }
        values.push(kldb.to_string());
    }
    values
}

/// The identity items in the order the form shows them.
const IDENTITY_ITEMS: [IdentityItem; 4] = [
    IdentityItem::BirthDate,
    IdentityItem::Postcode,
    IdentityItem::Address,
    IdentityItem::Code,
];

/// The engine's input for the button pressed (`aktion`).
pub fn input_from_form(form: &FormData) -> Option<Input> {
    let action = form.get("aktion");
    Some(match action {
        "weiter" => Input::Continue,
        "antwort" => Input::Answer(answer_values(form)),
        "ueberspringen" => Input::Skip,
        "zurueck" => Input::Back,
        "korrektur" => Input::Correct {
            question: form.get("frage").to_string(),
            values: answer_values(form),
        },
        "bestaetigen" => Input::Confirm,
        "verweigert" => Input::Refuse,
        "abgebrochen" => Input::Dropped,
        "einwilligung:ja" => Input::Consent(true),
        "einwilligung:nein" => Input::Consent(false),
        _ => return None,
    })
}

/// What applying a form did: the refusal's message with the values entered
/// (shown again), and the question being corrected at the read-back.
#[derive(Default)]
pub struct Applied {
    pub error: String,
    pub entered: Option<Vec<String>>,
    pub correcting: Option<String>,
}

/// Applies the button pressed to the session. "aendern:ID" only chooses the
/// question to correct; a refused input changes nothing and is named.
pub fn apply_form(session: &mut Session, form: &FormData) -> Applied {
    let mut applied = Applied::default();
    if let Some(id) = form.get("aktion").strip_prefix("aendern:") {
        applied.correcting = Some(id.to_string());
    } else if form.get("aktion") == "identitaet" {
        // Each statement typed, in the order of the form; the first that is
        // refused stops. What was typed is not shown again.
        let stated: Vec<Input> = IDENTITY_ITEMS
            .into_iter()
            .filter_map(|item| {
                let said = form.get(&format!("angabe_{}", item.code()));
                (!said.is_empty()).then(|| Input::Identity {
                    item,
                    stated: said.to_string(),
                })
            })
            .collect();
        if stated.is_empty() {
            applied.error = "Bitte tragen Sie ein, was die Person nennt.".into();
        }
        for input in stated {
            if session.step() != Step::Identity {
                break;
            }
            if let Err(e) = session.apply(input) {
                applied.error = e.0;
                break;
            }
        }
    } else if let Some(input) = input_from_form(form) {
        let values = answer_values(form);
        if let Err(e) = session.apply(input) {
            applied.error = e.0;
            applied.entered = Some(values);
            if form.get("aktion") == "korrektur" {
                applied.correcting = Some(form.get("frage").to_string());
            }
        }
    }
    applied
}
