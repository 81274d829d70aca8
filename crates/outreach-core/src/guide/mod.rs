//! The conversation guide (Gesprächsleitfaden): a versioned script the agent
//! reads and fills in during the call, with the legal opening built in.
//!
//! - [`definition`]: the TOML format, checked into a [`Guide`] (every problem
//!   with its line), see `guides/README.md`;
//! - [`session`]: one conversation, step by step — greeting, identity check,
//!   explanation, consent, the questions, read-back — ending in a
//!   [`CallResult`](session::CallResult);
//! - [`answer`]: question types and the answers they take;
//! - [`condition`]: conditions on earlier answers.
//!
//! The engine is pure: no storage, no clock (today is passed in).

pub mod answer;
pub mod condition;
pub mod definition;
pub mod session;

pub use definition::{Guide, Problem, Question, Section};

/// The built-in guide (`guides/sgb2-bewerberdaten.toml`), stored in every
/// database on migration.
pub const DEFAULT_GUIDE: &str = include_str!("../../../../guides/sgb2-bewerberdaten.toml");
pub use session::{CallResult, Input, Outcome, Session};

use crate::customer::Field as StoredField;

/// What a question's answer can be mapped to: a field of the customer's stored
/// record (compared with the stored value; a difference is a change for the
/// case manager) or an item of the applicant profile the record doesn't hold.
/// Stored in guides, drafts and results by its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Stored(StoredField),
    WorkingTime,
    AvailableFrom,
    DrivingLicences,
    Mobility,
    CareSecured,
}

impl Field {
    /// The stored fields a question can map to, then the profile items; also
    /// the order in which changes are listed.
    pub const ALL: [Field; 13] = [
        Field::Stored(StoredField::Phone),
        Field::Stored(StoredField::Mobile),
        Field::Stored(StoredField::Email),
        Field::Stored(StoredField::Street),
        Field::Stored(StoredField::HouseNumber),
        Field::Stored(StoredField::Postcode),
        Field::Stored(StoredField::City),
        Field::Stored(StoredField::TargetOccupation),
        Field::WorkingTime,
        Field::AvailableFrom,
        Field::DrivingLicences,
        Field::Mobility,
        Field::CareSecured,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Field::Stored(field) => field.code(),
            Field::WorkingTime => "working_time",
            Field::AvailableFrom => "available_from",
            Field::DrivingLicences => "driving_licences",
            Field::Mobility => "mobility",
            Field::CareSecured => "care_secured",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Field::Stored(field) => field.label(),
            Field::WorkingTime => "Arbeitszeit",
            Field::AvailableFrom => "verfügbar ab",
            Field::DrivingLicences => "Führerscheinklassen",
            Field::Mobility => "Mobilität",
            Field::CareSecured => "Kinderbetreuung/Pflege gesichert",
        }
    }

    pub fn parse(code: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The stored field, if the answer is compared with the record.
    pub fn stored(self) -> Option<StoredField> {
        match self {
            Field::Stored(field) => Some(field),
            _ => None,
        }
    }

    /// A stored value of this field as the agent reads it (dates German,
    /// telephone numbers grouped).
    pub fn display(self, stored: &str) -> String {
        match self {
            Field::Stored(field) => field.display(stored),
            _ => answer::display_stored(stored),
        }
    }

    /// Contact data: a change here sets "contact data updated".
    pub fn is_contact(self) -> bool {
        self.stored().is_some_and(StoredField::is_contact)
    }

    /// Part of the postal address: a change here is a move.
    pub fn is_address(self) -> bool {
        self.stored().is_some_and(StoredField::is_address)
    }

    fn position(self) -> usize {
        Field::ALL
            .iter()
            .position(|f| *f == self)
            .unwrap_or(usize::MAX)
    }
}

impl PartialOrd for Field {
    fn partial_cmp(&self, other: &Field) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Field {
    fn cmp(&self, other: &Field) -> std::cmp::Ordering {
        self.position().cmp(&other.position())
    }
}

impl serde::Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

impl<'de> serde::Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Field, D::Error> {
        let code = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Field::parse(&code)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown field `{code}`")))
    }
}

/// Answers with a meaning of their own for the result's flags.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// yes/no: "still unemployed?" — no sets "no longer unemployed".
    StillUnemployed,
    /// single choice from [`END_REASONS`].
    EndReason,
    /// date: since when no longer unemployed.
    EndDate,
    /// number: hours per week of the new employment.
    EmploymentHours,
    /// yes/no: the new employment is subject to social insurance.
    SocialInsurance,
    /// yes/no: moved (the address questions follow).
    Moved,
    /// single choice from [`HEALTH_ANSWERS`].
    HealthRestriction,
    /// yes/no: wants a personal appointment.
    WantsAppointment,
}

impl Flag {
    pub const ALL: [Flag; 8] = [
        Flag::StillUnemployed,
        Flag::EndReason,
        Flag::EndDate,
        Flag::EmploymentHours,
        Flag::SocialInsurance,
        Flag::Moved,
        Flag::HealthRestriction,
        Flag::WantsAppointment,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Flag::StillUnemployed => "still_unemployed",
            Flag::EndReason => "end_reason",
            Flag::EndDate => "end_date",
            Flag::EmploymentHours => "employment_hours",
            Flag::SocialInsurance => "social_insurance",
            Flag::Moved => "moved",
            Flag::HealthRestriction => "health_restriction",
            Flag::WantsAppointment => "wants_appointment",
        }
    }

    pub fn parse(code: &str) -> Option<Flag> {
        Flag::ALL.into_iter().find(|f| f.code() == code)
    }
}

/// Reasons for no longer being unemployed (BA statistics), code and label.
pub const END_REASONS: [(&str, &str); 14] = [
    ("employment_1", "Beschäftigung 1. Arbeitsmarkt"),
    ("employment_2", "Beschäftigung 2. Arbeitsmarkt"),
    ("self_employed", "Selbständigkeit"),
    ("minijob", "Minijob"),
    ("training", "betriebliche/außerbetriebliche Ausbildung"),
    ("school", "Schule/Studium"),
    ("measure", "Maßnahme"),
    ("incapacity", "Arbeitsunfähigkeit"),
    ("availability", "fehlende Verfügbarkeit/Mitwirkung"),
    ("moved", "Umzug (anderes Jobcenter zuständig)"),
    ("pension", "Rente"),
    ("no_benefits", "kein Leistungsbezug mehr"),
    ("deceased", "verstorben"),
    ("other", "sonstiges"),
];

/// The only answers on health: a restriction or not, or no answer. Never a diagnosis.
pub const HEALTH_ANSWERS: [(&str, &str); 3] = [
    ("yes", "Einschränkung: ja"),
    ("no", "Einschränkung: nein"),
    ("no_answer", "keine Angabe"),
];

/// Working time (Arbeitszeit) codes.
pub const WORKING_TIMES: [(&str, &str); 5] = [
    ("vz", "Vollzeit"),
    ("tz", "Teilzeit"),
    ("snw", "Schicht/Nacht/Wochenende"),
    ("ho", "Heim-/Telearbeit"),
    ("mj", "Minijob"),
];

/// The label of a code in one of the code lists above (or the code itself).
pub fn code_label(list: &[(&str, &'static str)], code: &str) -> Option<&'static str> {
    list.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_stored_by_their_code_and_ordered_as_listed() {
        for f in Field::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{}\"", f.code()));
            assert_eq!(serde_json::from_str::<Field>(&json).unwrap(), f);
        }
        assert_eq!(
            serde_json::to_string(&Field::Stored(StoredField::HouseNumber)).unwrap(),
            "\"house_number\""
        );
        assert!(serde_json::from_str::<Field>("\"birth_date\"").is_err());
        let mut sorted = Field::ALL;
        sorted.sort();
        assert_eq!(sorted, Field::ALL);
        assert!(Field::Stored(StoredField::Phone) < Field::Stored(StoredField::Street));
        assert!(Field::Stored(StoredField::Postcode).is_address());
        assert!(Field::Stored(StoredField::Mobile).is_contact());
        assert!(!Field::Mobility.is_contact());
    }
}
