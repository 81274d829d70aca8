//! Question types and the answers they take: what the agent enters is
//! checked and brought into one canonical form (a phone number in E.164, a
//! date as a date), so that comparing with the stored data is exact.

use crate::customer::is_postcode;
use crate::date::{format_de_date, parse_de_date, parse_iso_date};
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// Driving-licence classes (Fahrerlaubnisklassen, FeV).
pub const LICENCE_CLASSES: [&str; 16] = [
    "AM", "A1", "A2", "A", "B", "BE", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE", "L", "T",
];

/// One option of a choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    pub code: String,
    pub label: String,
}

/// The type of a question, with what it needs to check answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Kind {
    YesNo,
    SingleChoice(Vec<Choice>),
    MultipleChoice(Vec<Choice>),
    /// A date; `not_future`: no later than today.
    Date {
        not_future: bool,
    },
    /// A number in `min..=max`, with at most one decimal place.
    Number {
        min: f64,
        max: f64,
    },
    Text {
        max_length: usize,
    },
    Phone,
    Email,
    Postcode,
    /// Free text (up to 200 characters) and an optional 5-digit KldB code.
    Occupation,
    DrivingLicences,
}

impl Kind {
    /// The type's name in guide files.
    pub fn code(&self) -> &'static str {
        match self {
            Kind::YesNo => "yes_no",
            Kind::SingleChoice(_) => "single_choice",
            Kind::MultipleChoice(_) => "multiple_choice",
            Kind::Date { .. } => "date",
            Kind::Number { .. } => "number",
            Kind::Text { .. } => "text",
            Kind::Phone => "phone",
            Kind::Email => "email",
            Kind::Postcode => "postcode",
            Kind::Occupation => "occupation",
            Kind::DrivingLicences => "driving_licences",
        }
    }

    /// How the agent enters an answer, in German.
    pub fn input_hint(&self) -> String {
        match self {
            Kind::YesNo => "Ja oder Nein".into(),
            Kind::SingleChoice(_) => "eine Auswahl".into(),
            Kind::MultipleChoice(_) => "eine oder mehrere Auswahlen".into(),
            Kind::Date { .. } => "Datum TT.MM.JJJJ".into(),
            Kind::Number { min, max } => {
                format!("Zahl von {} bis {}", de_number(*min), de_number(*max))
            }
            Kind::Text { max_length } => format!("Text, höchstens {max_length} Zeichen"),
            Kind::Phone => "Telefonnummer".into(),
            Kind::Email => "E-Mail-Adresse".into(),
            Kind::Postcode => "Postleitzahl (fünf Ziffern)".into(),
            Kind::Occupation => "Beruf, optional mit KldB-Schlüssel (fünf Ziffern)".into(),
            Kind::DrivingLicences => "Führerscheinklassen".into(),
        }
    }

    pub fn choices(&self) -> &[Choice] {
        match self {
            Kind::SingleChoice(c) | Kind::MultipleChoice(c) => c,
            _ => &[],
        }
    }
}

/// A checked answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Value {
    Bool(bool),
    Choice(String),
    Choices(Vec<String>),
    Date(#[serde(with = "crate::date::serde_iso")] Date),
    Number(f64),
    Text(String),
    Occupation { text: String, kldb: Option<String> },
}

/// A number the German way: decimal comma, no needless ",0".
pub fn de_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n:.1}").replace('.', ",")
    }
}

fn email_looks_right(value: &str) -> bool {
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && value.len() <= 254
        && !value.chars().any(char::is_whitespace)
}

fn choice_code(choices: &[Choice], raw: &str) -> Option<String> {
    let raw = raw.trim();
    choices
        .iter()
        .find(|c| c.code == raw || c.label.eq_ignore_ascii_case(raw))
        .map(|c| c.code.clone())
}

impl Kind {
    /// Checks what the agent entered (one value, or several for multiple
    /// choice and driving licences; text and KldB code for an occupation).
    /// `Ok(None)`: nothing entered. The error says what is wrong, in German.
    pub fn parse(&self, values: &[String], today: Date) -> Result<Option<Value>, String> {
        let values: Vec<&str> = values
            .iter()
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .collect();
        let Some(first) = values.first().copied() else {
            return Ok(None);
        };
        let one = || {
            if values.len() > 1 {
                Err("Bitte geben Sie nur einen Wert an.".to_string())
            } else {
                Ok(first)
            }
        };
        let value = match self {
            Kind::YesNo => match one()?.to_lowercase().as_str() {
                "ja" | "j" | "true" => Value::Bool(true),
                "nein" | "n" | "false" => Value::Bool(false),
                other => return Err(format!("„{other}“ ist weder Ja noch Nein.")),
            },
            Kind::SingleChoice(choices) => {
                let raw = one()?;
                Value::Choice(
                    choice_code(choices, raw)
                        .ok_or_else(|| format!("„{raw}“ ist keine der Auswahlmöglichkeiten."))?,
                )
            }
            Kind::MultipleChoice(choices) => {
                let mut codes = Vec::new();
                for raw in &values {
                    let code = choice_code(choices, raw)
                        .ok_or_else(|| format!("„{raw}“ ist keine der Auswahlmöglichkeiten."))?;
                    if !codes.contains(&code) {
                        codes.push(code);
                    }
                }
                // In the order of the options, so that equal sets compare equal.
                codes.sort_by_key(|c| choices.iter().position(|o| &o.code == c));
                Value::Choices(codes)
            }
            Kind::Date { not_future } => {
                let raw = one()?;
                let d = parse_de_date(raw).map_err(|_| {
                    format!("„{raw}“ ist kein gültiges Datum im Format TT.MM.JJJJ.")
                })?;
                if *not_future && d > today {
                    return Err(format!(
                        "Das Datum {} liegt in der Zukunft.",
                        format_de_date(d)
                    ));
                }
                Value::Date(d)
            }
            Kind::Number { min, max } => {
                let raw = one()?;
                let n: f64 = raw
                    .replace(',', ".")
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| format!("„{raw}“ ist keine Zahl."))?;
                if n < *min || n > *max {
                    return Err(format!(
                        "Bitte eine Zahl von {} bis {} angeben.",
                        de_number(*min),
                        de_number(*max)
                    ));
                }
                if (n * 10.0).fract() != 0.0 {
                    return Err("Bitte höchstens eine Nachkommastelle angeben.".into());
                }
                Value::Number(n)
            }
            Kind::Text { max_length } => {
                let raw = one()?;
                let length = raw.chars().count();
                if length > *max_length {
                    return Err(format!(
                        "Der Text ist {length} Zeichen lang; höchstens {max_length} sind erlaubt."
                    ));
                }
                Value::Text(raw.to_string())
            }
            Kind::Phone => {
                let raw = one()?;
                Value::Text(
                    crate::phone::normalize(raw)
                        .ok_or_else(|| format!("„{raw}“ ist keine gültige Telefonnummer."))?,
                )
            }
            Kind::Email => {
                let raw = one()?;
                if !email_looks_right(raw) {
                    return Err(format!("„{raw}“ ist keine gültige E-Mail-Adresse."));
                }
                Value::Text(raw.to_string())
            }
            Kind::Postcode => {
                let raw = one()?;
                if !is_postcode(raw) {
                    return Err(format!("„{raw}“ ist keine Postleitzahl (fünf Ziffern)."));
                }
                Value::Text(raw.to_string())
            }
            Kind::Occupation => {
                if values.len() > 2 {
                    return Err("Bitte Beruf und höchstens einen KldB-Schlüssel angeben.".into());
                }
                let text = values[0];
                if text.chars().count() > 200 {
                    return Err("Die Berufsbezeichnung ist länger als 200 Zeichen.".into());
                }
                let kldb = values.get(1).map(|k| k.to_string());
                if let Some(k) = &kldb
                    && !(k.len() == 5 && k.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err(format!("„{k}“ ist kein KldB-Schlüssel (fünf Ziffern)."));
                }
                Value::Occupation {
                    text: text.to_string(),
                    kldb,
                }
            }
            Kind::DrivingLicences => {
                let mut classes = Vec::new();
                for raw in values.iter().flat_map(|v| v.split([',', ' '])) {
                    let raw = raw.trim();
                    if raw.is_empty() {
                        continue;
                    }
                    let upper = raw.to_uppercase();
                    if upper == "KEINE" {
                        continue;
                    }
                    let class = LICENCE_CLASSES
                        .iter()
                        .find(|c| **c == upper)
                        .ok_or_else(|| format!("„{raw}“ ist keine Führerscheinklasse."))?;
                    if !classes.iter().any(|c| c == class) {
                        classes.push((*class).to_string());
                    }
                }
                classes.sort_by_key(|c| LICENCE_CLASSES.iter().position(|l| l == c));
                Value::Choices(classes)
            }
        };
        Ok(Some(value))
    }
}

impl Value {
    /// The canonical stored form, for comparing with the customer's data:
    /// dates ISO, yes/no `true`/`false`, several values joined by `,`.
    pub fn canonical(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Choice(c) | Value::Text(c) => c.clone(),
            Value::Choices(c) => c.join(","),
            Value::Date(d) => d.to_string(),
            Value::Number(n) => de_number(*n).replace(',', "."),
            Value::Occupation { text, .. } => text.clone(),
        }
    }

    /// The value as the agent reads it back, in German.
    pub fn display(&self, kind: &Kind) -> String {
        match self {
            Value::Bool(true) => "Ja".into(),
            Value::Bool(false) => "Nein".into(),
            Value::Choice(c) => label(kind, c),
            Value::Choices(c) if c.is_empty() => "keine".into(),
            Value::Choices(c) => c
                .iter()
                .map(|code| label(kind, code))
                .collect::<Vec<_>>()
                .join(", "),
            Value::Date(d) => format_de_date(*d),
            Value::Number(n) => de_number(*n),
            Value::Text(t) if *kind == Kind::Phone => crate::phone::display(t),
            Value::Text(t) => t.clone(),
            Value::Occupation { text, kldb: None } => text.clone(),
            Value::Occupation {
                text,
                kldb: Some(k),
            } => format!("{text} (KldB {k})"),
        }
    }

    /// The form values that enter this answer again (a question of `kind`).
    pub fn inputs(&self, kind: &Kind) -> Vec<String> {
        match self {
            Value::Text(t) if *kind == Kind::Phone => vec![crate::phone::display(t)],
            Value::Bool(b) => vec![if *b { "ja" } else { "nein" }.into()],
            Value::Choices(c) => c.clone(),
            Value::Date(d) => vec![format_de_date(*d)],
            Value::Occupation { text, kldb } => {
                let mut v = vec![text.clone()];
                v.extend(kldb.clone());
                v
            }
            other => vec![match other {
                Value::Number(n) => de_number(*n),
                _ => other.canonical(),
            }],
        }
    }
}

fn label(kind: &Kind, code: &str) -> String {
    kind.choices()
        .iter()
        .find(|c| c.code == code)
        .map_or_else(|| code.to_string(), |c| c.label.clone())
}

/// A stored canonical value as the agent reads it (dates German).
pub fn display_stored(raw: &str) -> String {
    match parse_iso_date(raw) {
        Some(d) if raw.len() == 10 => format_de_date(d),
        _ => raw.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use jiff::civil::date;

    const TODAY: Date = date(2026, 11, 25);

    fn parse(kind: &Kind, raw: &[&str]) -> Result<Option<Value>, String> {
        kind.parse(
            &raw.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            TODAY,
        )
    }

    #[test]
    fn answers_are_checked_and_made_canonical() {
        assert_eq!(parse(&Kind::YesNo, &["Ja"]), Ok(Some(Value::Bool(true))));
        assert_eq!(parse(&Kind::YesNo, &[" "]), Ok(None));
        assert!(parse(&Kind::YesNo, &["vielleicht"]).is_err());
        assert_eq!(
            parse(&Kind::Phone, &["0208 / 123 45-67"]),
            Ok(Some(Value::Text("+492081234567".into())))
        );
        assert_eq!(
            parse(&Kind::Phone, &["n.v."]),
            Err("„n.v.“ ist keine gültige Telefonnummer.".into())
        );
        assert_eq!(
            parse(&Kind::Date { not_future: true }, &["31.02.2026"]),
            Err("„31.02.2026“ ist kein gültiges Datum im Format TT.MM.JJJJ.".into())
        );
        assert!(parse(&Kind::Date { not_future: true }, &["26.11.2026"]).is_err());
        assert!(parse(&Kind::Date { not_future: false }, &["26.11.2026"]).is_ok());
        let hours = Kind::Number {
            min: 1.0,
            max: 60.0,
        };
        assert_eq!(parse(&hours, &["19,5"]), Ok(Some(Value::Number(19.5))));
        assert!(parse(&hours, &["61"]).is_err());
        assert!(parse(&hours, &["19,25"]).is_err());
        assert_eq!(
            parse(&Kind::DrivingLicences, &["b, be", "C1"]),
            Ok(Some(Value::Choices(vec![
                "B".into(),
                "BE".into(),
                "C1".into()
            ])))
        );
        assert!(parse(&Kind::DrivingLicences, &["X"]).is_err());
        assert!(parse(&Kind::Text { max_length: 5 }, &["sechss"]).is_err());
        assert!(parse(&Kind::Postcode, &["4604"]).is_err());
        assert!(parse(&Kind::Email, &["a@b"]).is_err());
        assert_eq!(
            parse(&Kind::Occupation, &["Koch", "29302"]),
            Ok(Some(Value::Occupation {
                text: "Koch".into(),
                kldb: Some("29302".into())
            }))
        );
        let choices = Kind::MultipleChoice(vec![
            Choice {
                code: "vz".into(),
                label: "Vollzeit".into(),
            },
            Choice {
                code: "tz".into(),
                label: "Teilzeit".into(),
            },
        ]);
        // Order of entry does not matter.
        assert_eq!(
            parse(&choices, &["tz", "Vollzeit"]),
            Ok(Some(Value::Choices(vec!["vz".into(), "tz".into()])))
        );
    }
}
