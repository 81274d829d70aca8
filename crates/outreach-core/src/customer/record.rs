//! One customer's master data: the record an import accepts, the store keeps
//! and the pages show, and its stored form (one text per [`Field`]).

use super::{CustomerNumber, Field, Status};
use crate::date::parse_iso_date;
use jiff::civil::Date;
use std::borrow::Cow;

/// A customer's master data, checked. Dates are dates, the status is one of
/// the four, phones are E.164; the job center's own identifiers are kept as
/// they came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub customer_number: CustomerNumber,
    pub bg_number: Option<String>,
    /// Herr, Frau or Divers.
    pub salutation: Option<String>,
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
    /// The federal state's two-letter code ([`super::STATES`]).
    pub state_code: Option<String>,
}

/// A stored value that can't be read back into a [`Record`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("the stored customer has no {0}")]
    Missing(&'static str),
    #[error("the stored {field} {value:?} can't be read")]
    Value { field: &'static str, value: String },
}

/// Room for a record's three dates as `JJJJ-MM-TT` text, so that the stored
/// form of a record allocates nothing (an import renders a million of them).
#[derive(Default)]
pub struct DateText([[u8; 10]; 3]);

/// `d` as ISO text in `out`; `None` outside the years 1000–9999.
fn iso_date(d: Date, out: &mut [u8; 10]) -> Option<&str> {
    let year = u16::try_from(d.year())
        .ok()
        .filter(|y| (1000..=9999).contains(y))?;
    let (month, day) = (d.month() as u16, d.day() as u16);
    let digit = |v: u16| b'0' + (v % 10) as u8;
    *out = [
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b'-',
        digit(month / 10),
        digit(month),
        b'-',
        digit(day / 10),
        digit(day),
    ];
    std::str::from_utf8(out).ok()
}

impl Record {
    /// A record with the required fields only (status unknown).
    pub fn new(customer_number: CustomerNumber, last_name: &str, birth_date: Date) -> Record {
        Record {
            customer_number,
            bg_number: None,
            salutation: None,
            first_name: None,
            last_name: last_name.to_string(),
            birth_date,
            street: None,
            house_number: None,
            postcode: None,
            city: None,
            phone: None,
            mobile: None,
            email: None,
            status: Status::Unknown,
            unemployed_since: None,
            target_occupation: None,
            pap_code: None,
            last_contact: None,
            state_code: None,
        }
    }

    /// The stored text of every field, in the order of [`Field::ALL`]: dates
    /// ISO (rendered into `dates`), the status by its code.
    pub fn stored<'a>(&'a self, dates: &'a mut DateText) -> [Option<Cow<'a, str>>; 19] {
        let [birth, unemployed, contact] = &mut dates.0;
        let date = |d: Option<Date>, out: &'a mut [u8; 10]| {
            d.map(|d| match iso_date(d, out) {
                Some(text) => Cow::Borrowed(text),
                None => Cow::Owned(d.to_string()),
            })
        };
        let text = |v: &'a Option<String>| v.as_deref().map(Cow::Borrowed);
        [
            Some(Cow::Borrowed(self.customer_number.as_str())),
            text(&self.bg_number),
            text(&self.salutation),
            text(&self.first_name),
            Some(Cow::Borrowed(self.last_name.as_str())),
            date(Some(self.birth_date), birth),
            text(&self.street),
            text(&self.house_number),
            text(&self.postcode),
            text(&self.city),
            text(&self.phone),
            text(&self.mobile),
            text(&self.email),
            Some(Cow::Borrowed(self.status.code())),
            date(self.unemployed_since, unemployed),
            text(&self.target_occupation),
            text(&self.pap_code),
            date(self.last_contact, contact),
            text(&self.state_code),
        ]
    }

    /// The stored text of one field.
    pub fn stored_value(&self, field: Field) -> Option<String> {
        let mut dates = DateText::default();
        self.stored(&mut dates)
            .into_iter()
            .nth(field.index())
            .flatten()
            .map(Cow::into_owned)
    }

    /// The record from its stored text, in the order of [`Field::ALL`].
    pub fn from_stored(mut values: [Option<String>; 19]) -> Result<Record, RecordError> {
        let mut take = |field: Field| values[field.index()].take();
        let required =
            |field: Field, value: Option<String>| value.ok_or(RecordError::Missing(field.code()));
        let date = |field: Field, value: Option<String>| match value {
            None => Ok(None),
            Some(text) => match parse_iso_date(&text) {
                Some(d) => Ok(Some(d)),
                None => Err(RecordError::Value {
                    field: field.code(),
                    value: text,
                }),
            },
        };
        let status_text = required(Field::Status, take(Field::Status))?;
        let Some(status) = Status::parse(&status_text) else {
            return Err(RecordError::Value {
                field: Field::Status.code(),
                value: status_text,
            });
        };
        let birth_date = required(Field::BirthDate, take(Field::BirthDate))?;
        Ok(Record {
            customer_number: CustomerNumber::from_stored(required(
                Field::CustomerNumber,
                take(Field::CustomerNumber),
            )?),
            bg_number: take(Field::BgNumber),
            salutation: take(Field::Salutation),
            first_name: take(Field::FirstName),
            last_name: required(Field::LastName, take(Field::LastName))?,
            birth_date: date(Field::BirthDate, Some(birth_date))?
                .ok_or(RecordError::Missing(Field::BirthDate.code()))?,
            street: take(Field::Street),
            house_number: take(Field::HouseNumber),
            postcode: take(Field::Postcode),
            city: take(Field::City),
            phone: take(Field::Phone),
            mobile: take(Field::Mobile),
            email: take(Field::Email),
            status,
            unemployed_since: date(Field::UnemployedSince, take(Field::UnemployedSince))?,
            target_occupation: take(Field::TargetOccupation),
            pap_code: take(Field::PapCode),
            last_contact: date(Field::LastContact, take(Field::LastContact))?,
            state_code: take(Field::State),
        })
    }
}

/// The stored form, one entry per field by its code (`null` where empty):
/// what a disclosure to the customer lists.
impl serde::Serialize for Record {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut dates = DateText::default();
        let mut map = serializer.serialize_map(Some(Field::ALL.len()))?;
        for (field, value) in Field::ALL.iter().zip(self.stored(&mut dates)) {
            map.serialize_entry(field.code(), &value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn sample() -> Record {
        let mut r = Record::new(
            CustomerNumber::parse("333E000001").unwrap(),
            "Müller",
            date(1980, 2, 29),
        );
        r.first_name = Some("Erika".into());
        r.status = Status::JobSeeking;
        r.last_contact = Some(date(2026, 11, 3));
        r.state_code = Some("NW".into());
        r
    }

    #[test]
    fn dates_render_as_jiff_renders_them() {
        let mut out = [0u8; 10];
        for (y, m, d) in [
            (1900, 1, 1),
            (1980, 2, 29),
            (2026, 11, 26),
            (9999, 12, 31),
            (1000, 10, 9),
        ] {
            let date = jiff::civil::date(y, m, d);
            assert_eq!(iso_date(date, &mut out), Some(date.to_string().as_str()));
        }
        // Outside four-digit years the caller falls back to jiff.
        assert_eq!(iso_date(jiff::civil::date(999, 1, 1), &mut out), None);
        assert_eq!(iso_date(jiff::civil::date(-5, 1, 1), &mut out), None);
    }

    #[test]
    fn stored_form_reads_back() {
        let r = sample();
        let mut dates = DateText::default();
        let stored = r.stored(&mut dates).map(|v| v.map(Cow::into_owned));
        assert_eq!(stored[5].as_deref(), Some("1980-02-29"));
        assert_eq!(stored[13].as_deref(), Some("job_seeking"));
        assert_eq!(Record::from_stored(stored), Ok(r));
    }

    #[test]
    fn stored_value_is_the_fields_column() {
        let r = sample();
        for field in Field::ALL {
            let mut dates = DateText::default();
            let all = r.stored(&mut dates);
            let at = Field::ALL.iter().position(|f| *f == field).unwrap();
            assert_eq!(
                r.stored_value(field),
                all[at].clone().map(Cow::into_owned),
                "{field:?}"
            );
        }
        assert_eq!(
            r.stored_value(Field::LastContact).as_deref(),
            Some("2026-11-03")
        );
    }

    #[test]
    fn unreadable_values_are_errors_not_defaults() {
        let mut dates = DateText::default();
        let r = sample();
        let mut stored = r.stored(&mut dates).map(|v| v.map(Cow::into_owned));
        stored[13] = Some("retired".into());
        assert!(matches!(
            Record::from_stored(stored.clone()),
            Err(RecordError::Value {
                field: "status",
                ..
            })
        ));
        stored[13] = Some("unknown".into());
        stored[17] = Some("03.11.2026".into());
        assert!(matches!(
            Record::from_stored(stored),
            Err(RecordError::Value {
                field: "last_contact",
                ..
            })
        ));
    }
}
