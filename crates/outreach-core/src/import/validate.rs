//! Checking one record: required fields reject the row, broken optional fields
//! are left out with a warning. Messages are German and name the field.

use super::reader::RawRecord;
use crate::customer::Field;
use crate::customer::{CustomerNumber, Record, STATES, Status, is_postcode};
use crate::date::{DateError, format_de_date, parse_de_date};
use crate::phone;
use jiff::civil::{Date, date};

/// A problem with one field of one record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Issue {
    /// The file line on which the record starts (the header is line 1).
    pub line: u64,
    pub customer_number: String,
    /// The column's header text.
    pub field: &'static str,
    pub message: String,
}

/// A record that passed, with the file line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub line: u64,
    pub customer: Record,
}

/// The outcome of checking one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    Accepted {
        record: Box<CustomerRecord>,
        warnings: Vec<Issue>,
    },
    Rejected {
        error: Issue,
    },
}

/// The earliest birth date taken as real.
const EARLIEST_BIRTH: Date = date(1900, 1, 1);

struct Check<'a> {
    raw: &'a RawRecord,
    number: String,
    warnings: Vec<Issue>,
}

impl Check<'_> {
    fn issue(&self, column: Field, message: String) -> Issue {
        Issue {
            line: self.raw.line,
            customer_number: self.number.clone(),
            field: column.label(),
            message,
        }
    }

    fn warn(&mut self, column: Field, message: String) {
        let issue = self.issue(column, message);
        self.warnings.push(issue);
    }

    fn text(&self, column: Field) -> Option<String> {
        self.raw.values.get(column).map(str::to_string)
    }

    /// An optional value, or `None` with a warning when `parse` refuses it.
    fn optional<T>(
        &mut self,
        column: Field,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.raw.values.get(column)?;
        match parse(raw) {
            Ok(value) => Some(value),
            Err(reason) => {
                self.warn(
                    column,
                    format!("{reason} Der Wert „{raw}“ wird nicht übernommen."),
                );
                None
            }
        }
    }
}

fn date_message(raw: &str, error: &DateError) -> String {
    match error {
        DateError::Format => format!("„{raw}“ ist kein Datum im Format TT.MM.JJJJ."),
        DateError::Impossible => format!("Den {raw} gibt es nicht."),
    }
}

fn past_date(raw: &str, today: Date) -> Result<Date, String> {
    let d = parse_de_date(raw).map_err(|e| date_message(raw, &e))?;
    if d > today {
        return Err(format!(
            "Das Datum {} liegt in der Zukunft.",
            format_de_date(d)
        ));
    }
    Ok(d)
}

fn bg_number_looks_right(value: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let (head, tail) = value.split_at(value.len().min(5));
    digits(head, 5)
        && (tail.strip_prefix("BG").is_some_and(|t| digits(t, 7))
            || tail.strip_prefix("//").is_some_and(|t| digits(t, 7)))
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

/// Checks one record as of `today` (Europe/Berlin).
pub fn check(raw: &RawRecord, today: Date) -> Checked {
    let number_text = raw.values.get(Field::CustomerNumber).unwrap_or("");
    let mut c = Check {
        raw,
        number: number_text.to_string(),
        warnings: Vec::new(),
    };
    let reject = |c: &Check, column: Field, message: String| Checked::Rejected {
        error: c.issue(column, message),
    };

    let customer_number = match CustomerNumber::parse(number_text) {
        Ok(n) => n,
        Err(e) => return reject(&c, Field::CustomerNumber, e.to_string()),
    };
    c.number = customer_number.as_str().to_string();
    let Some(last_name) = c.text(Field::LastName) else {
        return reject(&c, Field::LastName, "Der Nachname fehlt.".into());
    };
    let birth_date = match raw.values.get(Field::BirthDate) {
        None => return reject(&c, Field::BirthDate, "Das Geburtsdatum fehlt.".into()),
        Some(text) => match past_date(text, today) {
            Err(message) => return reject(&c, Field::BirthDate, message),
            Ok(d) if d < EARLIEST_BIRTH => {
                return reject(
                    &c,
                    Field::BirthDate,
                    format!("Das Geburtsdatum {text} ist nicht plausibel."),
                );
            }
            Ok(d) => d,
        },
    };

    if let Some(bg) = raw.values.get(Field::BgNumber)
        && !bg_number_looks_right(bg)
    {
        // Kept: the number is the job center's; it may follow an older scheme.
        c.warn(
            Field::BgNumber,
            format!("„{bg}“ hat nicht die übliche Form 12345BG1234567 oder 12345//1234567; der Wert wird trotzdem übernommen."),
        );
    }
    let salutation = c.optional(Field::Salutation, |v| match v.to_lowercase().as_str() {
        "herr" => Ok("Herr".to_string()),
        "frau" => Ok("Frau".to_string()),
        "divers" => Ok("Divers".to_string()),
        _ => Err("Erlaubt sind Herr, Frau, Divers oder ein leeres Feld.".into()),
    });
    let postcode = c.optional(Field::Postcode, |v| {
        if is_postcode(v) {
            Ok(v.to_string())
        } else {
            Err("Die Postleitzahl hat fünf Ziffern.".into())
        }
    });
    let phone_rule = |v: &str| {
        phone::normalize(v).ok_or_else(|| "Das ist keine gültige Telefonnummer.".to_string())
    };
    let phone = c.optional(Field::Phone, phone_rule);
    let mobile = c.optional(Field::Mobile, phone_rule);
    let email = c.optional(Field::Email, |v| {
        if email_looks_right(v) {
            Ok(v.to_string())
        } else {
            Err("Das ist keine gültige E-Mail-Adresse.".into())
        }
    });
    let status = c
        .optional(Field::Status, |v| match v.to_lowercase().as_str() {
            "arbeitslos" => Ok(Status::Unemployed),
            "arbeitsuchend" | "arbeitssuchend" => Ok(Status::JobSeeking),
            "nicht arbeitsuchend" | "nicht arbeitssuchend" => Ok(Status::NotJobSeeking),
            "unbekannt" => Ok(Status::Unknown),
            _ => Err("Erlaubt sind arbeitslos, arbeitsuchend, nicht arbeitsuchend oder ein leeres Feld (unbekannt).".into()),
        })
        .unwrap_or(Status::Unknown);
    let unemployed_since = c.optional(Field::UnemployedSince, |v| past_date(v, today));
    let last_contact = c.optional(Field::LastContact, |v| past_date(v, today));
    let state_code = c.optional(Field::State, |v| {
        let upper = v.to_uppercase();
        STATES
            .iter()
            .find(|(code, _)| *code == upper)
            .map(|(code, _)| code.to_string())
            .ok_or_else(|| {
                "Erwartet wird das Kürzel eines Bundeslands (BW, BY, BE, …, TH).".to_string()
            })
    });

    Checked::Accepted {
        record: Box::new(CustomerRecord {
            line: raw.line,
            customer: Record {
                customer_number,
                bg_number: c.text(Field::BgNumber),
                salutation,
                first_name: c.text(Field::FirstName),
                last_name,
                birth_date,
                street: c.text(Field::Street),
                house_number: c.text(Field::HouseNumber),
                postcode,
                city: c.text(Field::City),
                phone,
                mobile,
                email,
                status,
                unemployed_since,
                target_occupation: c.text(Field::TargetOccupation),
                pap_code: c.text(Field::PapCode),
                last_contact,
                state_code,
            },
        }),
        warnings: c.warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::columns::Values;

    const TODAY: Date = date(2026, 11, 25);

    fn record(pairs: &[(Field, &str)]) -> RawRecord {
        let mut values = Values::default();
        values.set(Field::CustomerNumber, "A1");
        values.set(Field::LastName, "Meier");
        values.set(Field::BirthDate, "01.02.1980");
        for (column, value) in pairs {
            values.set(*column, value);
        }
        RawRecord { line: 7, values }
    }

    fn rejected(pairs: &[(Field, &str)]) -> Issue {
        match check(&record(pairs), TODAY) {
            Checked::Rejected { error } => error,
            other => panic!("accepted: {other:?}"),
        }
    }

    fn accepted(pairs: &[(Field, &str)]) -> (Record, Vec<Issue>) {
        match check(&record(pairs), TODAY) {
            Checked::Accepted { record, warnings } => (record.customer, warnings),
            other => panic!("rejected: {other:?}"),
        }
    }

    #[test]
    fn required_fields_reject_the_row() {
        let e = rejected(&[(Field::BirthDate, "31.02.1980")]);
        assert_eq!(
            (e.line, e.field, e.customer_number.as_str()),
            (7, "Geburtsdatum", "A1")
        );
        assert_eq!(e.message, "Den 31.02.1980 gibt es nicht.");
        assert_eq!(
            rejected(&[(Field::BirthDate, "1980-02-01")]).message,
            "„1980-02-01“ ist kein Datum im Format TT.MM.JJJJ."
        );
        assert_eq!(
            rejected(&[(Field::BirthDate, "01.01.2030")]).message,
            "Das Datum 01.01.2030 liegt in der Zukunft."
        );
        assert_eq!(
            rejected(&[(Field::BirthDate, "")]).message,
            "Das Geburtsdatum fehlt."
        );
        assert_eq!(rejected(&[(Field::LastName, " ")]).field, "Nachname");
        assert_eq!(
            rejected(&[(Field::CustomerNumber, "")]).message,
            "Die Kundennummer fehlt."
        );
        assert_eq!(
            rejected(&[(Field::CustomerNumber, "A 1")]).field,
            "Kundennummer"
        );
    }

    #[test]
    fn broken_optional_fields_warn_and_are_left_out() {
        let (r, warnings) = accepted(&[
            (Field::Phone, "n.v."),
            (Field::Mobile, "0171-1234567"),
            (Field::Email, "anna@"),
            (Field::Postcode, "4604"),
            (Field::LastContact, "32.13.2020"),
            (Field::Status, "beschäftigt"),
            (Field::State, "XX"),
            (Field::Salutation, "Dr."),
            (Field::BgNumber, "12345/1234"),
        ]);
        assert_eq!(r.phone, None);
        assert_eq!(r.mobile.as_deref(), Some("+491711234567"));
        assert_eq!(
            (
                r.email,
                r.postcode,
                r.last_contact,
                r.state_code,
                r.salutation
            ),
            (None, None, None, None, None)
        );
        assert_eq!(r.status, Status::Unknown);
        assert_eq!(
            r.bg_number.as_deref(),
            Some("12345/1234"),
            "kept despite the warning"
        );
        let fields: Vec<_> = warnings.iter().map(|w| w.field).collect();
        assert_eq!(
            fields,
            [
                "BG-Nummer",
                "Anrede",
                "PLZ",
                "Telefon",
                "E-Mail",
                "Status",
                "Letzter Kontakt",
                "Bundesland"
            ]
        );
        assert!(
            warnings
                .iter()
                .all(|w| w.line == 7 && w.customer_number == "A1")
        );
        assert!(
            warnings[3].message.contains("„n.v.“ wird nicht übernommen"),
            "{}",
            warnings[3].message
        );
    }

    #[test]
    fn good_values_are_normalised() {
        let (r, warnings) = accepted(&[
            (Field::Salutation, "frau"),
            (Field::Status, "Arbeitslos"),
            (Field::State, "nw"),
            (Field::Phone, "0208 / 123 45-67"),
            (Field::BgNumber, "12345BG1234567"),
            (Field::UnemployedSince, "1.7.2024"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(r.salutation.as_deref(), Some("Frau"));
        assert_eq!(r.status, Status::Unemployed);
        assert_eq!(r.state_code.as_deref(), Some("NW"));
        assert_eq!(r.phone.as_deref(), Some("+492081234567"));
        assert_eq!(r.unemployed_since, Some(date(2024, 7, 1)));
        assert!(bg_number_looks_right("12345//1234567"));
    }
}
