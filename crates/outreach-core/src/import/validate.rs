//! Checking one record: required fields reject the row, broken optional fields
//! are left out with a warning. Messages are German and name the field.

use super::columns::Column;
use super::phone;
use super::reader::RawRecord;
use crate::customer::{CustomerNumber, STATES, Status, is_postcode};
use crate::date::{DateError, format_de_date, parse_de_date};
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

/// A record that passed: values in the form they are stored in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    pub line: u64,
    pub customer_number: CustomerNumber,
    pub bg_number: Option<String>,
    pub salutation: Option<&'static str>,
    pub first_name: Option<String>,
    pub last_name: String,
    pub birth_date: Date,
    pub street: Option<String>,
    pub house_number: Option<String>,
    pub postcode: Option<String>,
    pub city: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    /// E.164.
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub status: Status,
    pub unemployed_since: Option<Date>,
    pub target_occupation: Option<String>,
    pub pap_code: Option<String>,
    pub last_contact: Option<Date>,
    pub state_code: Option<&'static str>,
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
    fn issue(&self, column: Column, message: String) -> Issue {
        Issue {
            line: self.raw.line,
            customer_number: self.number.clone(),
            field: column.header(),
            message,
        }
    }

    fn warn(&mut self, column: Column, message: String) {
        let issue = self.issue(column, message);
        self.warnings.push(issue);
    }

    fn text(&self, column: Column) -> Option<String> {
        self.raw.values.get(column).map(str::to_string)
    }

    /// An optional value, or `None` with a warning when `parse` refuses it.
    fn optional<T>(
        &mut self,
        column: Column,
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
    let number_text = raw.values.get(Column::CustomerNumber).unwrap_or("");
    let mut c = Check {
        raw,
        number: number_text.to_string(),
        warnings: Vec::new(),
    };
    let reject = |c: &Check, column: Column, message: String| Checked::Rejected {
        error: c.issue(column, message),
    };

    let customer_number = match CustomerNumber::parse(number_text) {
        Ok(n) => n,
        Err(e) => return reject(&c, Column::CustomerNumber, e.to_string()),
    };
    c.number = customer_number.as_str().to_string();
    let Some(last_name) = c.text(Column::LastName) else {
        return reject(&c, Column::LastName, "Der Nachname fehlt.".into());
    };
    let birth_date = match raw.values.get(Column::BirthDate) {
        None => return reject(&c, Column::BirthDate, "Das Geburtsdatum fehlt.".into()),
        Some(text) => match past_date(text, today) {
            Err(message) => return reject(&c, Column::BirthDate, message),
            Ok(d) if d < EARLIEST_BIRTH => {
                return reject(
                    &c,
                    Column::BirthDate,
                    format!("Das Geburtsdatum {text} ist nicht plausibel."),
                );
            }
            Ok(d) => d,
        },
    };

    if let Some(bg) = raw.values.get(Column::BgNumber)
        && !bg_number_looks_right(bg)
    {
        // Kept: the number is the job center's; it may follow an older scheme.
        c.warn(
            Column::BgNumber,
            format!("„{bg}“ hat nicht die übliche Form 12345BG1234567 oder 12345//1234567; der Wert wird trotzdem übernommen."),
        );
    }
    let salutation = c.optional(Column::Salutation, |v| match v.to_lowercase().as_str() {
        "herr" => Ok("Herr"),
        "frau" => Ok("Frau"),
        "divers" => Ok("Divers"),
        _ => Err("Erlaubt sind Herr, Frau, Divers oder ein leeres Feld.".into()),
    });
    let postcode = c.optional(Column::Postcode, |v| {
        if is_postcode(v) {
            Ok(v.to_string())
        } else {
            Err("Die Postleitzahl hat fünf Ziffern.".into())
        }
    });
    let phone_rule = |v: &str| {
        phone::normalize(v).ok_or_else(|| "Das ist keine gültige Telefonnummer.".to_string())
    };
    let phone = c.optional(Column::Phone, phone_rule);
    let mobile = c.optional(Column::Mobile, phone_rule);
    let email = c.optional(Column::Email, |v| {
        if email_looks_right(v) {
            Ok(v.to_string())
        } else {
            Err("Das ist keine gültige E-Mail-Adresse.".into())
        }
    });
    let status = c
        .optional(Column::Status, |v| match v.to_lowercase().as_str() {
            "arbeitslos" => Ok(Status::Unemployed),
            "arbeitsuchend" | "arbeitssuchend" => Ok(Status::JobSeeking),
            "nicht arbeitsuchend" | "nicht arbeitssuchend" => Ok(Status::NotJobSeeking),
            "unbekannt" => Ok(Status::Unknown),
            _ => Err("Erlaubt sind arbeitslos, arbeitsuchend, nicht arbeitsuchend oder ein leeres Feld (unbekannt).".into()),
        })
        .unwrap_or(Status::Unknown);
    let unemployed_since = c.optional(Column::UnemployedSince, |v| past_date(v, today));
    let last_contact = c.optional(Column::LastContact, |v| past_date(v, today));
    let state_code = c.optional(Column::State, |v| {
        let upper = v.to_uppercase();
        STATES
            .iter()
            .find(|(code, _)| *code == upper)
            .map(|(code, _)| *code)
            .ok_or_else(|| {
                "Erwartet wird das Kürzel eines Bundeslands (BW, BY, BE, …, TH).".to_string()
            })
    });

    Checked::Accepted {
        record: Box::new(CustomerRecord {
            line: raw.line,
            customer_number,
            bg_number: c.text(Column::BgNumber),
            salutation,
            first_name: c.text(Column::FirstName),
            last_name,
            birth_date,
            street: c.text(Column::Street),
            house_number: c.text(Column::HouseNumber),
            postcode,
            city: c.text(Column::City),
            phone,
            mobile,
            email,
            status,
            unemployed_since,
            target_occupation: c.text(Column::TargetOccupation),
            pap_code: c.text(Column::PapCode),
            last_contact,
            state_code,
        }),
        warnings: c.warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::columns::Values;

    const TODAY: Date = date(2026, 11, 25);

    fn record(pairs: &[(Column, &str)]) -> RawRecord {
        let mut values = Values::default();
        values.set(Column::CustomerNumber, "A1");
        values.set(Column::LastName, "Meier");
        values.set(Column::BirthDate, "01.02.1980");
        for (column, value) in pairs {
            values.set(*column, value);
        }
        RawRecord { line: 7, values }
    }

    fn rejected(pairs: &[(Column, &str)]) -> Issue {
        match check(&record(pairs), TODAY) {
            Checked::Rejected { error } => error,
            other => panic!("accepted: {other:?}"),
        }
    }

    fn accepted(pairs: &[(Column, &str)]) -> (CustomerRecord, Vec<Issue>) {
        match check(&record(pairs), TODAY) {
            Checked::Accepted { record, warnings } => (*record, warnings),
            other => panic!("rejected: {other:?}"),
        }
    }

    #[test]
    fn required_fields_reject_the_row() {
        let e = rejected(&[(Column::BirthDate, "31.02.1980")]);
        assert_eq!(
            (e.line, e.field, e.customer_number.as_str()),
            (7, "Geburtsdatum", "A1")
        );
        assert_eq!(e.message, "Den 31.02.1980 gibt es nicht.");
        assert_eq!(
            rejected(&[(Column::BirthDate, "1980-02-01")]).message,
            "„1980-02-01“ ist kein Datum im Format TT.MM.JJJJ."
        );
        assert_eq!(
            rejected(&[(Column::BirthDate, "01.01.2030")]).message,
            "Das Datum 01.01.2030 liegt in der Zukunft."
        );
        assert_eq!(
            rejected(&[(Column::BirthDate, "")]).message,
            "Das Geburtsdatum fehlt."
        );
        assert_eq!(rejected(&[(Column::LastName, " ")]).field, "Nachname");
        assert_eq!(
            rejected(&[(Column::CustomerNumber, "")]).message,
            "Die Kundennummer fehlt."
        );
        assert_eq!(
            rejected(&[(Column::CustomerNumber, "A 1")]).field,
            "Kundennummer"
        );
    }

    #[test]
    fn broken_optional_fields_warn_and_are_left_out() {
        let (r, warnings) = accepted(&[
            (Column::Phone, "n.v."),
            (Column::Mobile, "0171-1234567"),
            (Column::Email, "anna@"),
            (Column::Postcode, "4604"),
            (Column::LastContact, "32.13.2020"),
            (Column::Status, "beschäftigt"),
            (Column::State, "XX"),
            (Column::Salutation, "Dr."),
            (Column::BgNumber, "12345/1234"),
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
            (Column::Salutation, "frau"),
            (Column::Status, "Arbeitslos"),
            (Column::State, "nw"),
            (Column::Phone, "0208 / 123 45-67"),
            (Column::BgNumber, "12345BG1234567"),
            (Column::UnemployedSince, "1.7.2024"),
        ]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(r.salutation, Some("Frau"));
        assert_eq!(r.status, Status::Unemployed);
        assert_eq!(r.state_code, Some("NW"));
        assert_eq!(r.phone.as_deref(), Some("+492081234567"));
        assert_eq!(r.unemployed_since, Some(date(2024, 7, 1)));
        assert!(bg_number_looks_right("12345//1234567"));
    }
}
