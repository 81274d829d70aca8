//! Customer master data: the value types, the one list of stored fields
//! ([`Field`]) and the one record type ([`Record`]) that the import checks,
//! the store keeps and the pages show.

use serde::Serialize;

mod field;
mod record;

pub use field::{Field, FieldGroup};
pub use record::{DateText, Record, RecordError};

/// The job center's customer number: opaque, unique per job center. Not a
/// secret (it is printed in envelope windows), so it never proves identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CustomerNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustomerNumberError {
    #[error("Die Kundennummer fehlt.")]
    Missing,
    #[error("Die Kundennummer darf höchstens 32 Zeichen lang sein.")]
    TooLong,
    #[error(
        "Die Kundennummer darf nur Buchstaben, Ziffern, Bindestrich und Schrägstrich enthalten."
    )]
    Characters,
}

impl CustomerNumber {
    pub fn parse(raw: &str) -> Result<CustomerNumber, CustomerNumberError> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(CustomerNumberError::Missing);
        }
        if value.chars().count() > 32 {
            return Err(CustomerNumberError::TooLong);
        }
        if !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '/'))
        {
            return Err(CustomerNumberError::Characters);
        }
        Ok(CustomerNumber(value.to_uppercase()))
    }

    /// A number read back from the store, as it was stored (it was checked
    /// when it came in).
    pub fn from_stored(stored: String) -> CustomerNumber {
        CustomerNumber(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for CustomerNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The customer's status with the job center.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Status {
    /// arbeitslos
    Unemployed,
    /// arbeitsuchend, nicht arbeitslos
    JobSeeking,
    /// nicht arbeitsuchend
    NotJobSeeking,
    /// unbekannt
    Unknown,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Unemployed,
        Status::JobSeeking,
        Status::NotJobSeeking,
        Status::Unknown,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Status::Unemployed => "unemployed",
            Status::JobSeeking => "job_seeking",
            Status::NotJobSeeking => "not_job_seeking",
            Status::Unknown => "unknown",
        }
    }

    pub fn parse(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The word the export format uses (empty for unknown), so that an export
    /// reads back in unchanged.
    pub fn export_word(self) -> &'static str {
        match self {
            Status::Unemployed => "arbeitslos",
            Status::JobSeeking => "arbeitsuchend",
            Status::NotJobSeeking => "nicht arbeitsuchend",
            Status::Unknown => "",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Unemployed => "arbeitslos",
            Status::JobSeeking => "arbeitsuchend, nicht arbeitslos",
            Status::NotJobSeeking => "nicht arbeitsuchend",
            Status::Unknown => "unbekannt",
        }
    }
}

/// The German federal states (Bundesländer) by their two-letter code.
pub const STATES: [(&str, &str); 16] = [
    ("BW", "Baden-Württemberg"),
    ("BY", "Bayern"),
    ("BE", "Berlin"),
    ("BB", "Brandenburg"),
    ("HB", "Bremen"),
    ("HH", "Hamburg"),
    ("HE", "Hessen"),
    ("MV", "Mecklenburg-Vorpommern"),
    ("NI", "Niedersachsen"),
    ("NW", "Nordrhein-Westfalen"),
    ("RP", "Rheinland-Pfalz"),
    ("SL", "Saarland"),
    ("SN", "Sachsen"),
    ("ST", "Sachsen-Anhalt"),
    ("SH", "Schleswig-Holstein"),
    ("TH", "Thüringen"),
];

/// Whether a text is a German postcode (PLZ): five digits.
pub fn is_postcode(text: &str) -> bool {
    text.len() == 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// Parses the stored comma list of field codes, skipping unknown codes.
pub fn parse_field_list(stored: &str) -> Vec<FieldGroup> {
    stored
        .split(',')
        .filter_map(|code| FieldGroup::parse(code.trim()))
        .collect()
}

/// The stored form of a field list.
pub fn field_list(fields: &[FieldGroup]) -> String {
    fields
        .iter()
        .map(|f| f.code())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_numbers() {
        assert_eq!(
            CustomerNumber::parse(" 333e000001 ").map(|c| c.0),
            Ok("333E000001".to_string())
        );
        assert_eq!(
            CustomerNumber::parse("  "),
            Err(CustomerNumberError::Missing)
        );
        assert_eq!(
            CustomerNumber::parse("333 E"),
            Err(CustomerNumberError::Characters)
        );
    }

    #[test]
    fn postcodes() {
        assert!(is_postcode("46045"));
        assert!(!is_postcode("4604"));
        assert!(!is_postcode("4604a"));
    }

    #[test]
    fn field_lists_round_trip() {
        let fields = FieldGroup::default_for_mandate();
        assert_eq!(parse_field_list(&field_list(&fields)), fields);
        assert_eq!(parse_field_list("phone,bogus"), vec![FieldGroup::Phone]);
    }
}
