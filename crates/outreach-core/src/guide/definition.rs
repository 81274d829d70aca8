//! The guide file (TOML, documented in `guides/README.md`) and its checks.
//! [`Guide::parse`] reports every problem it finds, each with its line.

use super::answer::{Choice, Kind};
use super::condition::{Condition, Literal};
use super::{END_REASONS, Field, Flag, HEALTH_ANSWERS, code_label};
use crate::customer::Field as StoredField;
use crate::date::parse_de_date;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use toml::Spanned;

/// A problem in a guide file: the line (1-based; 0 when it concerns the
/// whole file) and what is wrong, in German.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "Zeile {}: {}", self.line, self.message)
        }
    }
}

/// What a customer states for the identity check; the agent marks each as
/// matching or not, and the stated values are never stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityItem {
    BirthDate,
    Postcode,
    Address,
    /// The one-time code printed inside the advance letter.
    Code,
}

impl IdentityItem {
    pub fn code(self) -> &'static str {
        match self {
            IdentityItem::BirthDate => "birth_date",
            IdentityItem::Postcode => "postcode",
            IdentityItem::Address => "address",
            IdentityItem::Code => "code",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IdentityItem::BirthDate => "Geburtsdatum",
            IdentityItem::Postcode => "Postleitzahl",
            IdentityItem::Address => "Straße und Hausnummer",
            IdentityItem::Code => "Prüfcode aus der Vorabinformation",
        }
    }

    pub fn parse(code: &str) -> Option<IdentityItem> {
        [
            IdentityItem::BirthDate,
            IdentityItem::Postcode,
            IdentityItem::Address,
            IdentityItem::Code,
        ]
        .into_iter()
        .find(|i| i.code() == code)
    }
}

/// The explanation every conversation gives before consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub purpose: String,
    pub voluntary: String,
    pub stop: String,
    pub refusal: String,
    pub recipients: String,
}

impl Explanation {
    /// The points in the order they are read, with a heading each.
    pub fn points(&self) -> [(&'static str, &str); 5] {
        [
            ("Zweck", &self.purpose),
            ("Freiwilligkeit", &self.voluntary),
            ("Abbruch jederzeit möglich", &self.stop),
            ("Folge einer Ablehnung", &self.refusal),
            ("Empfänger der Ergebnisse", &self.recipients),
        ]
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opening {
    pub greeting: String,
    /// The two items checked by default.
    pub identity: [IdentityItem; 2],
    /// Whether the one-time code may be used instead.
    pub code_alternative: bool,
    /// Statements that may fail to match before the call ends as "Identität
    /// nicht bestätigt" (`identity_attempts`, default 2: one retry).
    #[serde(default = "two_attempts")]
    pub identity_attempts: usize,
    pub explanation: Explanation,
    pub consent: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub hint: String,
    pub kind: Kind,
    pub required: bool,
    pub when: Option<Condition>,
    /// The condition as written in the file.
    pub when_text: String,
    pub field: Option<Field>,
    pub flag: Option<Flag>,
    pub purpose: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub id: String,
    pub title: String,
    pub questions: Vec<Question>,
}

/// A checked guide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guide {
    pub name: String,
    pub version: String,
    #[serde(with = "crate::date::serde_iso")]
    pub valid_from: Date,
    pub opening: Opening,
    pub sections: Vec<Section>,
    /// SHA-256 of the file's text: the version's fingerprint.
    pub hash: String,
}

impl Guide {
    /// Every question in order, with its section.
    pub fn questions(&self) -> impl Iterator<Item = (&Section, &Question)> {
        self.sections
            .iter()
            .flat_map(|s| s.questions.iter().map(move |q| (s, q)))
    }

    pub fn question(&self, id: &str) -> Option<&Question> {
        self.questions().map(|(_, q)| q).find(|q| q.id == id)
    }
}

/// Placeholders any text may use.
pub const PLACEHOLDERS: [(&str, &str); 8] = [
    ("anrede", "Anrede (Frau/Herr)"),
    ("vorname", "Vorname"),
    ("nachname", "Nachname"),
    ("name", "Anrede und Nachname, z. B. Frau Müller"),
    (
        "agent",
        "Name der Mitarbeiterin oder des Mitarbeiters am Telefon",
    ),
    ("jobcenter", "Name des Jobcenters"),
    ("servicecenter", "Name des Service-Centers"),
    ("briefdatum", "Datum der Vorabinformation"),
];

/// The placeholder only question texts may use: the stored value of the
/// question's field (after the identity check).
pub const STORED_PLACEHOLDER: &str = "bisher";

// ---- the file as written ----

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuide {
    guide: Option<Spanned<RawMeta>>,
    opening: Option<Spanned<RawOpening>>,
    #[serde(default)]
    section: Vec<Spanned<RawSection>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: Option<String>,
    version: Option<String>,
    valid_from: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOpening {
    greeting: Option<Spanned<String>>,
    identity: Option<Spanned<RawIdentity>>,
    identity_attempts: Option<Spanned<i64>>,
    explanation: Option<Spanned<RawExplanation>>,
    consent: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    items: Vec<String>,
    #[serde(default = "yes")]
    or_code: bool,
}

fn yes() -> bool {
    true
}

fn two_attempts() -> usize {
    2
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExplanation {
    purpose: Option<String>,
    voluntary: Option<String>,
    stop: Option<String>,
    refusal: Option<String>,
    recipients: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    id: Spanned<String>,
    title: String,
    #[serde(default)]
    question: Vec<Spanned<RawQuestion>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawChoice {
    Code(String),
    Full { code: String, label: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    id: Spanned<String>,
    text: Option<String>,
    #[serde(default)]
    hint: String,
    #[serde(rename = "type")]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    required: bool,
    when: Option<Spanned<String>>,
    field: Option<Spanned<String>>,
    flag: Option<Spanned<String>>,
    purpose: Option<String>,
    #[serde(default)]
    options: Vec<RawChoice>,
    min: Option<f64>,
    max: Option<f64>,
    max_length: Option<usize>,
    #[serde(default)]
    not_future: bool,
}

const TYPES: &str = "yes_no, single_choice, multiple_choice, date, number, text, phone, email, postcode, occupation, driving_licences";

struct Checker<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn line(&self, offset: usize) -> usize {
        self.text
            .get(..offset)
            .map_or(0, |t| t.bytes().filter(|b| *b == b'\n').count() + 1)
    }

    fn at(&mut self, offset: usize, message: impl Into<String>) {
        let line = self.line(offset);
        self.problems.push(Problem {
            line,
            message: message.into(),
        });
    }

    /// Every `{placeholder}` in `text` must be known.
    fn placeholders(&mut self, offset: usize, text: &str, in_question: bool) {
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                self.at(
                    offset,
                    "Eine geschweifte Klammer „{“ wird nicht geschlossen.",
                );
                return;
            };
            let name = &after[..end];
            let known = PLACEHOLDERS.iter().any(|(p, _)| *p == name);
            if name == STORED_PLACEHOLDER && !in_question {
                self.at(
                    offset,
                    "Der Platzhalter {bisher} zeigt gespeicherte Daten und ist nur in Fragen erlaubt, nicht in der Eröffnung vor der Identitätsprüfung.",
                );
            } else if !known && name != STORED_PLACEHOLDER {
                self.at(
                    offset,
                    format!(
                        "Unbekannter Platzhalter {{{name}}}; erlaubt: {}.",
                        PLACEHOLDERS
                            .iter()
                            .map(|(p, _)| format!("{{{p}}}"))
                            .chain(std::iter::once("{bisher} (nur in Fragen)".to_string()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            rest = &after[end + 1..];
        }
    }
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Guide {
    /// Reads and checks a guide file. Every problem is reported, each with
    /// its line.
    pub fn parse(text: &str) -> Result<Guide, Vec<Problem>> {
        let mut c = Checker {
            text,
            problems: Vec::new(),
        };
        let raw: RawGuide = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                let line = e.span().map_or(0, |s| c.line(s.start));
                let message = e.message().trim().to_string();
                return Err(vec![Problem {
                    line,
                    message: translate_toml(&message),
                }]);
            }
        };
        let (name, version, valid_from) = match &raw.guide {
            None => {
                c.at(
                    0,
                    "Der Abschnitt [guide] mit name, version und valid_from fehlt.",
                );
                (String::new(), String::new(), None)
            }
            Some(meta) => {
                let at = meta.span().start;
                let meta = meta.get_ref();
                let name = meta.name.clone().unwrap_or_default();
                let version = meta.version.clone().unwrap_or_default();
                if name.trim().is_empty() {
                    c.at(at, "Der Leitfaden braucht einen Namen (guide.name).");
                }
                if version.trim().is_empty() {
                    c.at(at, "Der Leitfaden braucht eine Version (guide.version).");
                }
                let valid_from = match meta.valid_from.as_deref().map(parse_de_date) {
                    Some(Ok(d)) => Some(d),
                    Some(Err(_)) => {
                        c.at(at, "guide.valid_from ist kein Datum im Format TT.MM.JJJJ.");
                        None
                    }
                    None => {
                        c.at(at, "guide.valid_from (gültig ab, TT.MM.JJJJ) fehlt.");
                        None
                    }
                };
                (name, version, valid_from)
            }
        };
        let opening = check_opening(&mut c, raw.opening.as_ref());
        let sections = check_sections(&mut c, &raw.section);
        match (opening, valid_from, c.problems.is_empty()) {
            (Some(opening), Some(valid_from), true) => Ok(Guide {
                name: name.trim().to_string(),
                version: version.trim().to_string(),
                valid_from,
                opening,
                sections,
                hash: hex::encode(Sha256::digest(text.as_bytes())),
            }),
            _ => {
                c.problems.sort_by_key(|p| p.line);
                Err(c.problems)
            }
        }
    }
}

/// toml's messages, where they are about the guide's own keys, in German.
fn translate_toml(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or("");
        return format!("Unbekannter Schlüssel „{field}“ ({message}).");
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or("");
        return format!("Der Schlüssel „{field}“ fehlt.");
    }
    format!("Die Datei ist kein gültiges TOML: {message}")
}

fn check_opening(c: &mut Checker, raw: Option<&Spanned<RawOpening>>) -> Option<Opening> {
    let Some(raw) = raw else {
        c.at(
            0,
            "Die Eröffnung [opening] fehlt: Begrüßung, Identitätsprüfung, Erläuterung und Einwilligung sind Pflicht.",
        );
        return None;
    };
    let at = raw.span().start;
    let raw = raw.get_ref();
    let text = |c: &mut Checker, value: &Option<Spanned<String>>, what: &str| match value {
        Some(v) if !v.get_ref().trim().is_empty() => {
            c.placeholders(v.span().start, v.get_ref(), false);
            Some(v.get_ref().trim().to_string())
        }
        _ => {
            c.at(at, format!("Die Eröffnung braucht {what}."));
            None
        }
    };
    let greeting = text(c, &raw.greeting, "die Begrüßung (opening.greeting)");
    let consent = text(
        c,
        &raw.consent,
        "die Frage nach der Einwilligung (opening.consent)",
    );
    let identity_attempts = match &raw.identity_attempts {
        None => two_attempts(),
        Some(n) => match usize::try_from(*n.get_ref()) {
            Ok(n @ 1..=3) => n,
            _ => {
                c.at(
                    n.span().start,
                    "opening.identity_attempts ist die Zahl der Versuche für die Identitätsprüfung: 1, 2 oder 3.",
                );
                two_attempts()
            }
        },
    };
    let identity = match &raw.identity {
        None => {
            c.at(
                at,
                "Die Eröffnung braucht die Identitätsprüfung (opening.identity) mit zwei Angaben.",
            );
            None
        }
        Some(id) => {
            let at = id.span().start;
            let id = id.get_ref();
            let mut items = Vec::new();
            for item in &id.items {
                match IdentityItem::parse(item) {
                    Some(IdentityItem::Code) | None if item == "customer_number" => c.at(
                        at,
                        "Die Kundennummer ist nicht geheim (sie steht im Adressfeld) und genügt nie zur Identitätsprüfung.",
                    ),
                    Some(IdentityItem::Code) => c.at(
                        at,
                        "Der Prüfcode ist die Alternative zu den zwei Angaben: or_code = true statt in items.",
                    ),
                    Some(i) if items.contains(&i) => {
                        c.at(at, format!("„{item}“ steht zweimal in opening.identity.items."));
                    }
                    Some(i) => items.push(i),
                    None => c.at(
                        at,
                        format!(
                            "Unbekannte Angabe „{item}“ für die Identitätsprüfung; erlaubt: birth_date, postcode, address."
                        ),
                    ),
                }
            }
            match items.as_slice() {
                [a, b] => Some(([*a, *b], id.or_code)),
                _ => {
                    c.at(
                        at,
                        "Die Identitätsprüfung braucht genau zwei Angaben (opening.identity.items), z. B. [\"birth_date\", \"postcode\"].",
                    );
                    None
                }
            }
        }
    };
    let explanation = match &raw.explanation {
        None => {
            c.at(
                at,
                "Die Eröffnung braucht die Erläuterung (opening.explanation): purpose, voluntary, stop, refusal, recipients.",
            );
            None
        }
        Some(e) => {
            let at = e.span().start;
            let e = e.get_ref();
            let mut part = |value: &Option<String>, key: &str, what: &str| match value {
                Some(v) if !v.trim().is_empty() => {
                    c.placeholders(at, v, false);
                    Some(v.trim().to_string())
                }
                _ => {
                    c.at(
                        at,
                        format!("Die Erläuterung muss {what} nennen (opening.explanation.{key})."),
                    );
                    None
                }
            };
            let purpose = part(&e.purpose, "purpose", "den Zweck des Anrufs");
            let voluntary = part(
                &e.voluntary,
                "voluntary",
                "sagen, dass die Teilnahme freiwillig ist",
            );
            let stop = part(
                &e.stop,
                "stop",
                "sagen, dass das Gespräch jederzeit beendet werden kann",
            );
            let refusal = part(
                &e.refusal,
                "refusal",
                "sagen, dass eine Ablehnung höchstens zu einer Einladung zu einem persönlichen Termin führt",
            );
            let recipients = part(&e.recipients, "recipients", "die Empfänger der Ergebnisse");
            match (purpose, voluntary, stop, refusal, recipients) {
                (Some(purpose), Some(voluntary), Some(stop), Some(refusal), Some(recipients)) => {
                    Some(Explanation {
                        purpose,
                        voluntary,
                        stop,
                        refusal,
                        recipients,
                    })
                }
                _ => None,
            }
        }
    };
    match (greeting, identity, explanation, consent) {
        (Some(greeting), Some((identity, code_alternative)), Some(explanation), Some(consent)) => {
            Some(Opening {
                greeting,
                identity,
                code_alternative,
                identity_attempts,
                explanation,
                consent,
            })
        }
        _ => None,
    }
}

fn choices(c: &mut Checker, at: usize, raw: &[RawChoice], flag: Option<Flag>) -> Vec<Choice> {
    let mut out: Vec<Choice> = Vec::new();
    for choice in raw {
        let (code, label) = match choice {
            RawChoice::Full { code, label } => (code.clone(), label.clone()),
            RawChoice::Code(code) => {
                let label = match flag {
                    Some(Flag::EndReason) => code_label(&END_REASONS, code),
                    Some(Flag::HealthRestriction) => code_label(&HEALTH_ANSWERS, code),
                    _ => code_label(&super::WORKING_TIMES, code),
                };
                (
                    code.clone(),
                    label.map_or_else(|| code.clone(), String::from),
                )
            }
        };
        if out.iter().any(|o| o.code == code) {
            c.at(
                at,
                format!("Die Auswahl „{code}“ steht zweimal in options."),
            );
        }
        out.push(Choice { code, label });
    }
    if out.len() < 2 {
        c.at(
            at,
            "Eine Auswahlfrage braucht mindestens zwei Möglichkeiten (options).",
        );
    }
    out
}

fn check_kind(c: &mut Checker, at: usize, q: &RawQuestion, flag: Option<Flag>) -> Option<Kind> {
    let Some(kind) = &q.kind else {
        c.at(
            at,
            format!(
                "Der Frage „{}“ fehlt der Typ (type); erlaubt: {TYPES}.",
                q.id.get_ref()
            ),
        );
        return None;
    };
    let kind_at = kind.span().start;
    let kind = match kind.get_ref().as_str() {
        "yes_no" => Kind::YesNo,
        "single_choice" => Kind::SingleChoice(choices(c, kind_at, &q.options, flag)),
        "multiple_choice" => Kind::MultipleChoice(choices(c, kind_at, &q.options, flag)),
        "date" => Kind::Date {
            not_future: q.not_future,
        },
        "number" => match (q.min, q.max) {
            (Some(min), Some(max)) if min < max => Kind::Number { min, max },
            _ => {
                c.at(
                    kind_at,
                    "Eine Zahlenfrage braucht einen Bereich: min < max.",
                );
                return None;
            }
        },
        "text" => match q.max_length {
            Some(n) if (1..=2000).contains(&n) => Kind::Text { max_length: n },
            _ => {
                c.at(
                    kind_at,
                    "Eine Textfrage braucht eine Höchstlänge max_length von 1 bis 2000 Zeichen.",
                );
                return None;
            }
        },
        "phone" => Kind::Phone,
        "email" => Kind::Email,
        "postcode" => Kind::Postcode,
        "occupation" => Kind::Occupation,
        "driving_licences" => Kind::DrivingLicences,
        other => {
            c.at(
                kind_at,
                format!("Unbekannter Fragetyp „{other}“; erlaubt: {TYPES}."),
            );
            return None;
        }
    };
    if !q.options.is_empty() && kind.choices().is_empty() {
        c.at(kind_at, "options gibt es nur bei Auswahlfragen.");
    }
    Some(kind)
}

/// Whether answers of `kind` can be stored in `field`.
fn fits_field(field: Field, kind: &Kind) -> bool {
    match field {
        Field::Stored(StoredField::Phone) | Field::Stored(StoredField::Mobile) => {
            matches!(kind, Kind::Phone)
        }
        Field::Stored(StoredField::Email) => matches!(kind, Kind::Email),
        Field::Stored(StoredField::Postcode) => matches!(kind, Kind::Postcode),
        Field::Stored(StoredField::Street)
        | Field::Stored(StoredField::HouseNumber)
        | Field::Stored(StoredField::City) => matches!(kind, Kind::Text { .. }),
        Field::Stored(StoredField::TargetOccupation) => matches!(kind, Kind::Occupation),
        Field::WorkingTime | Field::Mobility => matches!(
            kind,
            Kind::SingleChoice(_) | Kind::MultipleChoice(_) | Kind::Text { .. }
        ),
        Field::AvailableFrom => matches!(kind, Kind::Date { .. }),
        Field::DrivingLicences => matches!(kind, Kind::DrivingLicences),
        Field::CareSecured => matches!(kind, Kind::YesNo | Kind::SingleChoice(_)),
        // Not among the fields a question can map to (`Field::ALL`).
        Field::Stored(_) => false,
    }
}

/// Whether `flag` can be carried by a question of `kind`; the message when not.
fn flag_problem(flag: Flag, kind: &Kind) -> Option<String> {
    let codes_in = |list: &[(&str, &str)]| {
        kind.choices()
            .iter()
            .all(|o| list.iter().any(|(c, _)| *c == o.code))
    };
    let ok = match flag {
        Flag::StillUnemployed | Flag::SocialInsurance | Flag::Moved | Flag::WantsAppointment => {
            matches!(kind, Kind::YesNo)
        }
        Flag::EndReason => matches!(kind, Kind::SingleChoice(_)) && codes_in(&END_REASONS),
        Flag::EndDate => matches!(kind, Kind::Date { .. }),
        Flag::EmploymentHours => matches!(kind, Kind::Number { .. }),
        Flag::HealthRestriction => {
            matches!(kind, Kind::SingleChoice(_)) && codes_in(&HEALTH_ANSWERS)
        }
    };
    (!ok).then(|| match flag {
        Flag::EndReason => format!(
            "flag = \"end_reason\" braucht eine Einfachauswahl aus der Liste der Abgangsgründe: {}.",
            END_REASONS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
        ),
        Flag::HealthRestriction => "flag = \"health_restriction\" braucht eine Einfachauswahl aus yes, no, no_answer – nie eine Diagnose.".to_string(),
        other => format!(
            "flag = \"{}\" passt nicht zum Fragetyp „{}“.",
            other.code(),
            kind.code()
        ),
    })
}

fn literal_fits(kind: &Kind, literal: &Literal) -> bool {
    match (kind, literal) {
        (Kind::YesNo, Literal::Bool(_)) => true,
        (Kind::Number { .. }, Literal::Number(_)) => true,
        (Kind::SingleChoice(c) | Kind::MultipleChoice(c), Literal::Text(t)) => {
            c.iter().any(|o| &o.code == t)
        }
        (Kind::DrivingLicences, Literal::Text(t)) => {
            super::answer::LICENCE_CLASSES.contains(&t.as_str())
        }
        (Kind::Date { .. }, Literal::Text(t)) => parse_de_date(t).is_ok(),
        (
            Kind::Text { .. } | Kind::Phone | Kind::Email | Kind::Postcode | Kind::Occupation,
            Literal::Text(_),
        ) => true,
        _ => false,
    }
}

fn check_sections(c: &mut Checker, raw: &[Spanned<RawSection>]) -> Vec<Section> {
    let mut sections = Vec::new();
    // Question id → (line, kind) of the questions so far; all ids for "later".
    let mut earlier: BTreeMap<String, Option<Kind>> = BTreeMap::new();
    // Where each id first occurs.
    let mut all_ids: BTreeMap<String, usize> = BTreeMap::new();
    for q in raw.iter().flat_map(|s| s.get_ref().question.iter()) {
        let line = c.line(q.get_ref().id.span().start);
        all_ids
            .entry(q.get_ref().id.get_ref().clone())
            .or_insert(line);
    }
    let mut section_ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut fields: BTreeMap<Field, String> = BTreeMap::new();
    let mut flags: BTreeMap<Flag, String> = BTreeMap::new();
    for s in raw {
        let s_at = s.get_ref().id.span().start;
        let s = s.get_ref();
        let sid = s.id.get_ref();
        if !valid_id(sid) {
            c.at(s_at, format!("Die Abschnitts-ID „{sid}“ ist ungültig: Kleinbuchstaben, Ziffern und _, beginnend mit einem Buchstaben."));
        }
        if let Some(line) = section_ids.insert(sid.clone(), c.line(s_at)) {
            c.at(
                s_at,
                format!("Die Abschnitts-ID „{sid}“ gibt es schon (Zeile {line})."),
            );
        }
        let mut questions = Vec::new();
        for q in &s.question {
            let q = q.get_ref();
            let at = q.id.span().start;
            let id = q.id.get_ref().clone();
            if !valid_id(&id) {
                c.at(at, format!("Die Frage-ID „{id}“ ist ungültig: Kleinbuchstaben, Ziffern und _, beginnend mit einem Buchstaben."));
            }
            if earlier.contains_key(&id) {
                let first = all_ids.get(&id).copied().unwrap_or(0);
                c.at(
                    at,
                    format!("Die Frage-ID „{id}“ gibt es schon (Zeile {first})."),
                );
            }
            let text = q.text.clone().unwrap_or_default();
            if text.trim().is_empty() {
                c.at(
                    at,
                    format!(
                        "Der Frage „{id}“ fehlt der Text, den die Mitarbeiterin vorliest (text)."
                    ),
                );
            }
            c.placeholders(at, &text, true);
            c.placeholders(at, &q.hint, true);
            let purpose = q.purpose.clone().unwrap_or_default();
            if purpose.trim().is_empty() {
                c.at(at, format!("Zur Frage „{id}“ gehört ihr Zweck (purpose): wozu werden diese Daten gebraucht?"));
            }
            let flag = match &q.flag {
                None => None,
                Some(f) => match Flag::parse(f.get_ref()) {
                    Some(flag) => {
                        if let Some(other) = flags.insert(flag, id.clone()) {
                            c.at(
                                f.span().start,
                                format!(
                                    "flag = \"{}\" trägt schon die Frage „{other}“.",
                                    flag.code()
                                ),
                            );
                        }
                        Some(flag)
                    }
                    None => {
                        c.at(
                            f.span().start,
                            format!(
                                "Unbekanntes Merkmal flag = \"{}\"; erlaubt: {}.",
                                f.get_ref(),
                                Flag::ALL
                                    .iter()
                                    .map(|f| f.code())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                        None
                    }
                },
            };
            let kind = check_kind(c, at, q, flag);
            let field = match &q.field {
                None => None,
                Some(f) => match Field::parse(f.get_ref()) {
                    Some(field) => {
                        if let Some(other) = fields.insert(field, id.clone()) {
                            c.at(
                                f.span().start,
                                format!(
                                    "Das Feld „{}“ ist schon der Frage „{other}“ zugeordnet.",
                                    field.code()
                                ),
                            );
                        }
                        if let Some(k) = &kind
                            && !fits_field(field, k)
                        {
                            c.at(
                                f.span().start,
                                format!(
                                    "Das Feld „{}“ passt nicht zum Fragetyp „{}“.",
                                    field.code(),
                                    k.code()
                                ),
                            );
                        }
                        Some(field)
                    }
                    None => {
                        c.at(
                            f.span().start,
                            format!(
                                "Unbekanntes Kundenfeld field = \"{}\"; erlaubt: {}.",
                                f.get_ref(),
                                Field::ALL
                                    .iter()
                                    .map(|f| f.code())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        );
                        None
                    }
                },
            };
            if let (Some(flag), Some(k)) = (flag, &kind)
                && let Some(message) = flag_problem(flag, k)
            {
                c.at(at, message);
            }
            if text.contains("{bisher}") && field.is_none() {
                c.at(at, format!("Die Frage „{id}“ nutzt {{bisher}}, ist aber keinem Kundenfeld zugeordnet (field)."));
            }
            let when = match &q.when {
                None => None,
                Some(w) => {
                    let w_at = w.span().start;
                    match Condition::parse(w.get_ref()) {
                        Err(e) => {
                            c.at(w_at, format!("Bedingung der Frage „{id}“: {e}"));
                            None
                        }
                        Ok(condition) => {
                            for (target, literals) in condition.comparisons() {
                                match earlier.get(target) {
                                    Some(target_kind) => {
                                        if let Some(k) = target_kind {
                                            for l in literals {
                                                if !literal_fits(k, l) {
                                                    c.at(w_at, format!(
                                                        "Bedingung der Frage „{id}“: {} ist keine mögliche Antwort auf „{target}“ ({}).",
                                                        l.describe(),
                                                        k.code()
                                                    ));
                                                }
                                            }
                                        }
                                    }
                                    None if target == id => c.at(w_at, format!(
                                        "Die Bedingung der Frage „{id}“ bezieht sich auf die Frage selbst."
                                    )),
                                    None => match all_ids.get(target) {
                                        Some(line) => c.at(w_at, format!(
                                            "Die Bedingung der Frage „{id}“ bezieht sich auf die spätere Frage „{target}“ (Zeile {line}); Bedingungen dürfen nur frühere Antworten prüfen."
                                        )),
                                        None => c.at(w_at, format!(
                                            "Die Bedingung der Frage „{id}“ bezieht sich auf die unbekannte Frage „{target}“."
                                        )),
                                    },
                                }
                            }
                            Some(condition)
                        }
                    }
                }
            };
            earlier.insert(id.clone(), kind.clone());
            if let Some(kind) = kind {
                questions.push(Question {
                    id,
                    text: text.trim().to_string(),
                    hint: q.hint.trim().to_string(),
                    kind,
                    required: q.required,
                    when,
                    when_text: q
                        .when
                        .as_ref()
                        .map(|w| w.get_ref().trim().to_string())
                        .unwrap_or_default(),
                    field,
                    flag,
                    purpose: purpose.trim().to_string(),
                    line: c.line(at),
                });
            }
        }
        sections.push(Section {
            id: sid.clone(),
            title: s.title.trim().to_string(),
            questions,
        });
    }
    if earlier.is_empty() {
        c.at(0, "Der Leitfaden hat keine Fragen ([[section.question]]).");
    }
    sections
}
