//! Results to the case manager and back to the job center's own system: the
//! inbox flags a final case carries, the task a refusal or an unreachable
//! customer becomes, and the rows of the results export. Pure.

use crate::campaign::FinalDisposition;
use crate::customer::Field as StoredField;
use crate::date::format_de_date;
use crate::guide::Field;
use crate::guide::session::{Change, Flags};
use crate::guide::session::{EndOfUnemployment, Move};
use jiff::civil::Date;
use serde::Serialize;

/// What the inbox filters by (German labels as the issue names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InboxFlag {
    NoLongerUnemployed,
    Moved,
    Restriction,
    WantsAppointment,
    Refused,
    NotReached,
}

impl InboxFlag {
    pub const ALL: [InboxFlag; 6] = [
        InboxFlag::NoLongerUnemployed,
        InboxFlag::Moved,
        InboxFlag::Restriction,
        InboxFlag::WantsAppointment,
        InboxFlag::Refused,
        InboxFlag::NotReached,
    ];

    pub fn code(self) -> &'static str {
        match self {
            InboxFlag::NoLongerUnemployed => "no_longer_unemployed",
            InboxFlag::Moved => "moved",
            InboxFlag::Restriction => "restriction",
            InboxFlag::WantsAppointment => "wants_appointment",
            InboxFlag::Refused => "refused",
            InboxFlag::NotReached => "not_reached",
        }
    }

    pub fn parse(code: &str) -> Option<InboxFlag> {
        InboxFlag::ALL.into_iter().find(|f| f.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            InboxFlag::NoLongerUnemployed => "nicht mehr arbeitslos",
            InboxFlag::Moved => "verzogen",
            InboxFlag::Restriction => "Einschränkung",
            InboxFlag::WantsAppointment => "Termin gewünscht",
            InboxFlag::Refused => "verweigert",
            InboxFlag::NotReached => "nicht erreicht",
        }
    }

    /// Flags that come from the case's final disposition, not from a result.
    pub fn from_disposition(self) -> &'static [&'static str] {
        match self {
            InboxFlag::Refused => &["refused", "objection"],
            InboxFlag::NotReached => &["not_reached", "no_valid_number"],
            _ => &[],
        }
    }
}

/// The result's flags as stored for filtering: codes between spaces.
pub fn flag_codes(flags: &Flags) -> String {
    let mut codes = String::from(" ");
    let mut add = |on: bool, flag: InboxFlag| {
        if on {
            codes.push_str(flag.code());
            codes.push(' ');
        }
    };
    add(
        flags.no_longer_unemployed.is_some(),
        InboxFlag::NoLongerUnemployed,
    );
    add(flags.moved.is_some(), InboxFlag::Moved);
    add(
        flags.health_restriction.as_deref() == Some("yes"),
        InboxFlag::Restriction,
    );
    add(flags.wants_appointment, InboxFlag::WantsAppointment);
    codes
}

/// All flags of a final case: those of its result and those of its disposition.
pub fn flags_of(disposition: &str, result_flags: Option<&Flags>) -> Vec<InboxFlag> {
    let codes = result_flags.map(flag_codes).unwrap_or_default();
    InboxFlag::ALL
        .into_iter()
        .filter(|f| {
            f.from_disposition().contains(&disposition)
                || codes.contains(&format!(" {} ", f.code()))
        })
        .collect()
}

/// The task a final case puts before the pAp, if any: refusals and
/// unreachable customers may be invited personally — a suggestion, never an
/// automatic invitation and never a negative mark (DOMAIN.md, "Voluntary").
pub fn task(disposition: &str) -> Option<&'static str> {
    let d = FinalDisposition::parse(disposition)?;
    matches!(
        d,
        FinalDisposition::Refused
            | FinalDisposition::ObjectionBeforeCall
            | FinalDisposition::NotReached
            | FinalDisposition::NoValidNumber
            | FinalDisposition::IdentityFailed
            | FinalDisposition::Partial
    )
    .then_some("persönliche Einladung erwägen")
}

/// The German label of a final disposition code (the code itself when unknown).
pub fn disposition_label(code: &str) -> String {
    FinalDisposition::parse(code).map_or_else(|| code.to_string(), |d| d.label().to_string())
}

/// One final case as the results export writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportCase {
    pub case_id: i64,
    pub customer_number: String,
    pub campaign_id: i64,
    pub campaign: String,
    /// The final disposition's code.
    pub disposition: String,
    /// The day the case became final (Europe/Berlin).
    pub closed_on: Date,
    pub flags: Option<Flags>,
    pub changes: Vec<Change>,
    /// Field codes the customer disputes.
    pub disputed: Vec<String>,
}

/// The CSV export's header: the case, its flags, leaving unemployment, then
/// an old and a new column for every field a guide can change, the disputed
/// fields and the task.
pub fn export_header() -> Vec<String> {
    let mut header: Vec<String> = [
        "Kundennummer",
        "Aktion",
        "Ergebnis",
        "Ergebnis-Code",
        "Datum",
        "Merkmale",
        "Grund Ende Arbeitslosigkeit",
        "nicht mehr arbeitslos seit",
    ]
    .map(String::from)
    .to_vec();
    for field in Field::ALL {
        header.push(format!("{} alt", field.label()));
        header.push(format!("{} neu", field.label()));
    }
    header.push("bestrittene Felder".into());
    header.push("Aufgabe".into());
    header
}

/// One CSV row, in the order of [`export_header`]; each change appears once,
/// in its field's columns.
pub fn export_row(case: &ExportCase) -> Vec<String> {
    let flags = flags_of(&case.disposition, case.flags.as_ref());
    let end = case
        .flags
        .as_ref()
        .and_then(|f| f.no_longer_unemployed.as_ref());
    let mut row = vec![
        case.customer_number.clone(),
        case.campaign.clone(),
        disposition_label(&case.disposition),
        case.disposition.clone(),
        format_de_date(case.closed_on),
        flags
            .iter()
            .map(|f| f.label())
            .collect::<Vec<_>>()
            .join(", "),
        end.and_then(|e| e.reason_label.clone().or_else(|| e.reason.clone()))
            .unwrap_or_default(),
        end.and_then(|e| e.since)
            .map(format_de_date)
            .unwrap_or_default(),
    ];
    for field in Field::ALL {
        let change = case.changes.iter().find(|c| c.field == field);
        // Phone numbers in E.164, as everywhere a system reads them (and a
        // spreadsheet takes them for numbers); the rest as a person reads it.
        let phone = matches!(
            field,
            Field::Stored(StoredField::Phone) | Field::Stored(StoredField::Mobile)
        );
        let (old, new) = match change {
            Some(c) if phone => (c.old.clone(), c.new.clone()),
            Some(c) => (c.old_display.clone(), c.new_display.clone()),
            None => Default::default(),
        };
        row.push(old);
        row.push(new);
    }
    row.push(
        case.disputed
            .iter()
            .map(|code| Field::parse(code).map_or_else(|| code.clone(), |f| f.label().to_string()))
            .collect::<Vec<_>>()
            .join(", "),
    );
    row.push(task(&case.disposition).unwrap_or_default().to_string());
    row
}

/// The results export as CSV: `;`, UTF-8 with BOM (Excel opens it), the
/// header of [`export_header`].
pub fn export_csv(cases: &[ExportCase]) -> Result<Vec<u8>, csv::Error> {
    crate::spreadsheet::to_bytes(
        std::iter::once(export_header()).chain(cases.iter().map(export_row)),
    )
}

/// A changed field in the JSON export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportChange<'a> {
    pub field: &'static str,
    pub label: &'static str,
    pub old: &'a str,
    pub new: &'a str,
    pub disputed: bool,
}

/// One case in the JSON export (documented in the README).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportRecord<'a> {
    pub customer_number: &'a str,
    pub campaign_id: i64,
    pub campaign: &'a str,
    pub outcome: &'a str,
    pub outcome_label: String,
    #[serde(with = "crate::date::serde_iso")]
    pub date: Date,
    pub flags: Vec<&'static str>,
    pub no_longer_unemployed: Option<&'a EndOfUnemployment>,
    pub moved: Option<&'a Move>,
    pub health_restriction: Option<&'a str>,
    pub changes: Vec<ExportChange<'a>>,
    pub task: Option<&'static str>,
}

impl<'a> ExportRecord<'a> {
    pub fn of(case: &'a ExportCase) -> ExportRecord<'a> {
        let flags = case.flags.as_ref();
        ExportRecord {
            customer_number: &case.customer_number,
            campaign_id: case.campaign_id,
            campaign: &case.campaign,
            outcome: &case.disposition,
            outcome_label: disposition_label(&case.disposition),
            date: case.closed_on,
            flags: flags_of(&case.disposition, flags)
                .into_iter()
                .map(InboxFlag::code)
                .collect(),
            no_longer_unemployed: flags.and_then(|f| f.no_longer_unemployed.as_ref()),
            moved: flags.and_then(|f| f.moved.as_ref()),
            health_restriction: flags.and_then(|f| f.health_restriction.as_deref()),
            changes: case
                .changes
                .iter()
                .map(|c| ExportChange {
                    field: c.field.code(),
                    label: c.field.label(),
                    old: &c.old,
                    new: &c.new,
                    disputed: case.disputed.iter().any(|d| d == c.field.code()),
                })
                .collect(),
            task: task(&case.disposition),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_codes_name_each_flag_once() {
        let flags = Flags {
            no_longer_unemployed: Some(EndOfUnemployment {
                reason: Some("employment".into()),
                reason_label: None,
                since: None,
                hours_per_week: None,
                social_insurance: None,
            }),
            moved: Some(Move {
                address: "x".into(),
                other_job_center_possible: false,
            }),
            health_restriction: Some("no".into()),
            wants_appointment: true,
            contact_updated: true,
        };
        assert_eq!(
            flag_codes(&flags),
            " no_longer_unemployed moved wants_appointment "
        );
        assert_eq!(
            flags_of("updated", Some(&flags)),
            vec![
                InboxFlag::NoLongerUnemployed,
                InboxFlag::Moved,
                InboxFlag::WantsAppointment
            ]
        );
        assert_eq!(flag_codes(&Flags::default()), " ");
    }

    #[test]
    fn refusals_and_unreachables_become_tasks_without_marks() {
        assert_eq!(flags_of("refused", None), vec![InboxFlag::Refused]);
        assert_eq!(flags_of("objection", None), vec![InboxFlag::Refused]);
        assert_eq!(flags_of("not_reached", None), vec![InboxFlag::NotReached]);
        assert_eq!(task("refused"), Some("persönliche Einladung erwägen"));
        assert_eq!(task("not_reached"), Some("persönliche Einladung erwägen"));
        assert_eq!(task("confirmed"), None);
        assert_eq!(task("updated"), None);
    }
}
