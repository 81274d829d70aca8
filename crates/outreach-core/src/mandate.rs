//! The mandate (Auftrag, § 80 SGB X): a job center commissions a service center
//! to process its customers' data for a period. Without an active mandate the
//! service center sees nothing of that job center.

use crate::calls::CallingWindow;
use crate::customer::FieldGroup;
use jiff::{ToSpan, civil::Date};

/// The life of a mandate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MandateState {
    /// Entwurf: being prepared, no data flows.
    Draft,
    /// aktiv: the service center may work within the period.
    Active,
    /// beendet: no data flows any more; deletion follows the deadline.
    Ended,
}

impl MandateState {
    pub fn code(self) -> &'static str {
        match self {
            MandateState::Draft => "draft",
            MandateState::Active => "active",
            MandateState::Ended => "ended",
        }
    }

    pub fn parse(code: &str) -> Option<MandateState> {
        [
            MandateState::Draft,
            MandateState::Active,
            MandateState::Ended,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            MandateState::Draft => "Entwurf",
            MandateState::Active => "aktiv",
            MandateState::Ended => "beendet",
        }
    }
}

/// Months after the end of a mandate by which processor-side data is deleted.
pub const DEFAULT_DELETION_MONTHS: i32 = 3;

/// The default deletion deadline for a mandate ending on `end`.
pub fn default_deletion_deadline(end: Date) -> Date {
    end.checked_add(DEFAULT_DELETION_MONTHS.months())
        .unwrap_or(end)
}

/// A mandate as entered, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMandate {
    pub service_center_id: i64,
    pub title: String,
    pub allowed_fields: Vec<FieldGroup>,
    pub period_start: Date,
    pub period_end: Date,
    pub deletion_deadline: Date,
    pub authority_notified_on: Option<Date>,
    /// The outer calling window; campaigns under the mandate can only narrow it.
    pub window: CallingWindow,
}

/// A rule a mandate breaks: the form field and the German message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateProblem {
    pub field: &'static str,
    pub message: &'static str,
}

impl NewMandate {
    /// The rules across fields; each field's own format is checked when parsed.
    pub fn problems(&self) -> Vec<MandateProblem> {
        period_problems(
            &self.title,
            Some(self.period_start),
            Some(self.period_end),
            Some(self.deletion_deadline),
        )
    }
}

/// The rules across title, period and deletion deadline, for the values that
/// could be read (a form shows them together with the format errors of the rest).
pub fn period_problems(
    title: &str,
    start: Option<Date>,
    end: Option<Date>,
    deletion_deadline: Option<Date>,
) -> Vec<MandateProblem> {
    let mut problems = Vec::new();
    if title.trim().is_empty() {
        problems.push(MandateProblem {
            field: "title",
            message: "Bitte geben Sie eine Bezeichnung des Auftrags an.",
        });
    }
    if let (Some(start), Some(end)) = (start, end)
        && end < start
    {
        problems.push(MandateProblem {
            field: "period_end",
            message: "Das Ende des Zeitraums liegt vor seinem Beginn.",
        });
    }
    if let (Some(end), Some(deadline)) = (end, deletion_deadline)
        && deadline < end
    {
        problems.push(MandateProblem {
            field: "deletion_deadline",
            message: "Die Löschfrist darf nicht vor dem Ende des Auftrags liegen.",
        });
    }
    problems
}

/// Whether a mandate may move from `from` to `to`. Activation needs the date the
/// supervisory authority was notified (§ 80 Abs. 1 SGB X).
pub fn transition_problem(
    from: MandateState,
    to: MandateState,
    authority_notified: bool,
) -> Option<&'static str> {
    match (from, to) {
        (MandateState::Draft, MandateState::Active) if !authority_notified => Some(
            "Der Auftrag kann erst aktiviert werden, wenn das Datum der Anzeige bei der Aufsichtsbehörde eingetragen ist.",
        ),
        (MandateState::Draft, MandateState::Active)
        | (MandateState::Active, MandateState::Ended) => None,
        (MandateState::Draft, MandateState::Ended) => None,
        _ => Some("Dieser Statuswechsel ist nicht möglich."),
    }
}

/// The staff-council agreement (*Dienstvereinbarung*) on which a job center
/// switched per-agent figures on for a mandate: per-agent performance
/// figures are co-determined personnel data, shown nowhere without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentFiguresAgreement {
    /// The day the agreement was concluded.
    pub agreed_on: Date,
    /// Its reference (Aktenzeichen or title), as the job center names it.
    pub reference: String,
}

impl AgentFiguresAgreement {
    /// The agreement from the form's values, or what is wrong with them; the
    /// date must not lie after `today`.
    pub fn new(
        agreed_on: Option<Date>,
        reference: &str,
        today: Date,
    ) -> Result<AgentFiguresAgreement, Vec<MandateProblem>> {
        let mut problems = Vec::new();
        if agreed_on.is_some_and(|d| d > today) {
            problems.push(MandateProblem {
                field: "agreed_on",
                message: "Die Dienstvereinbarung kann nicht nach dem heutigen Tag geschlossen sein.",
            });
        }
        if reference.trim().is_empty() {
            problems.push(MandateProblem {
                field: "reference",
                message: "Bitte geben Sie das Aktenzeichen oder die Bezeichnung der Dienstvereinbarung an.",
            });
        }
        match (agreed_on, problems.is_empty()) {
            (Some(agreed_on), true) => Ok(AgentFiguresAgreement {
                agreed_on,
                reference: reference.trim().to_string(),
            }),
            _ => Err(problems),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn mandate() -> NewMandate {
        NewMandate {
            service_center_id: 1,
            title: "Aktualisierung 2027".into(),
            allowed_fields: FieldGroup::default_for_mandate(),
            period_start: date(2027, 1, 1),
            period_end: date(2027, 6, 30),
            deletion_deadline: date(2027, 9, 30),
            authority_notified_on: None,
            window: CallingWindow::default(),
        }
    }

    #[test]
    fn valid_mandate_has_no_problems() {
        assert!(mandate().problems().is_empty());
    }

    #[test]
    fn period_and_deadline_are_ordered() {
        let m = NewMandate {
            period_end: date(2026, 12, 1),
            deletion_deadline: date(2026, 11, 1),
            ..mandate()
        };
        let fields: Vec<_> = m.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, vec!["period_end", "deletion_deadline"]);
    }

    #[test]
    fn deletion_deadline_defaults_to_three_months_after_end() {
        assert_eq!(
            default_deletion_deadline(date(2027, 6, 30)),
            date(2027, 9, 30)
        );
    }

    #[test]
    fn activation_needs_authority_notification() {
        assert!(transition_problem(MandateState::Draft, MandateState::Active, false).is_some());
        assert!(transition_problem(MandateState::Draft, MandateState::Active, true).is_none());
        assert!(transition_problem(MandateState::Ended, MandateState::Active, true).is_some());
    }

    #[test]
    fn an_agreement_needs_a_past_date_and_a_reference() {
        let today = date(2026, 12, 2);
        let ok = AgentFiguresAgreement::new(Some(date(2026, 11, 3)), " DV 2026/04 ", today);
        assert_eq!(ok.map(|a| a.reference).as_deref(), Ok("DV 2026/04"));
        let fields = |r: Result<AgentFiguresAgreement, Vec<MandateProblem>>| {
            r.err()
                .unwrap_or_default()
                .iter()
                .map(|p| p.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(AgentFiguresAgreement::new(
                Some(date(2026, 12, 3)),
                "",
                today
            )),
            ["agreed_on", "reference"]
        );
        // A missing date is the form's to name; nothing is agreed without it.
        assert!(AgentFiguresAgreement::new(None, "DV 1", today).is_err());
    }
}
