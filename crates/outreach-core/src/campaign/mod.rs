//! Campaigns (Aktionen): which customers of a job center are called under a
//! mandate, when, and how often — and, per case, why it can't be called yet.
//! Nobody is called before their advance letter was sent and the lead time
//! has passed.

use crate::calls::CallingWindow;
use crate::customer::{Status, is_postcode};
use crate::date::format_de_date;
use jiff::ToSpan;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

mod hold;
pub use hold::*;
mod disposition;
pub use disposition::*;

/// The life of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CampaignState {
    /// Entwurf: selection and settings can change; nobody is contacted.
    Draft,
    /// aktiv: the selection is frozen into cases; letters and calls follow.
    Active,
    /// pausiert: no calls; letters may still be produced.
    Paused,
    /// abgeschlossen: no more calls.
    Closed,
}

impl CampaignState {
    pub const ALL: [CampaignState; 4] = [
        CampaignState::Draft,
        CampaignState::Active,
        CampaignState::Paused,
        CampaignState::Closed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            CampaignState::Draft => "draft",
            CampaignState::Active => "active",
            CampaignState::Paused => "paused",
            CampaignState::Closed => "closed",
        }
    }

    pub fn parse(code: &str) -> Option<CampaignState> {
        CampaignState::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            CampaignState::Draft => "Entwurf",
            CampaignState::Active => "aktiv",
            CampaignState::Paused => "pausiert",
            CampaignState::Closed => "abgeschlossen",
        }
    }

    /// The action's German name that leads from `self` to `to`, when allowed.
    pub fn transition(self, to: CampaignState) -> Option<&'static str> {
        use CampaignState::*;
        match (self, to) {
            (Draft, Active) => Some("Aktivieren"),
            (Active, Paused) => Some("Pausieren"),
            (Paused, Active) => Some("Fortsetzen"),
            (Draft | Active | Paused, Closed) => Some("Abschließen"),
            _ => None,
        }
    }
}

/// Which customers a campaign selects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// Status codes ([`Status::code`]); default: arbeitslos.
    pub statuses: Vec<String>,
    /// Last personal contact at least this many weeks ago (or never).
    pub contact_weeks: u32,
    /// The same for customers under 25 (U25), usually shorter.
    pub contact_weeks_under_25: u32,
    /// Only these postcodes, when not empty.
    pub postcodes: Vec<String>,
}

impl Default for Selection {
    fn default() -> Selection {
        Selection {
            statuses: vec![Status::Unemployed.code().to_string()],
            contact_weeks: 8,
            contact_weeks_under_25: 4,
            postcodes: Vec::new(),
        }
    }
}

impl Selection {
    /// The latest last-contact date a customer may have to be selected,
    /// for customers aged 25 and over and for those under 25.
    pub fn contact_cutoffs(&self, today: Date) -> (Date, Date) {
        let back = |weeks: u32| {
            today
                .checked_sub(i64::from(weeks).weeks())
                .unwrap_or(Date::MIN)
        };
        (back(self.contact_weeks), back(self.contact_weeks_under_25))
    }

    /// Born after this date means under 25 today.
    pub fn under_25_born_after(today: Date) -> Date {
        today.checked_sub(25.years()).unwrap_or(Date::MIN)
    }

    /// As people read it, for the campaign page.
    pub fn label(&self) -> String {
        let statuses: Vec<&str> = self
            .statuses
            .iter()
            .filter_map(|c| Status::parse(c))
            .map(Status::label)
            .collect();
        let mut text = format!(
            "Status: {}; letzter persönlicher Kontakt vor mindestens {} Wochen (unter 25: {} Wochen)",
            statuses.join(", "),
            self.contact_weeks,
            self.contact_weeks_under_25
        );
        if !self.postcodes.is_empty() {
            text.push_str(&format!("; PLZ: {}", self.postcodes.join(", ")));
        }
        text.push_str("; ohne Kunden, die nicht mehr im Export sind");
        text
    }
}

/// A rule a campaign breaks: the form field and the German message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignProblem {
    pub field: &'static str,
    pub message: String,
}

fn problem(field: &'static str, message: impl Into<String>) -> CampaignProblem {
    CampaignProblem {
        field,
        message: message.into(),
    }
}

/// Reads a postcode list as people type it: separated by commas, semicolons,
/// spaces or lines.
pub fn parse_postcodes(raw: &str) -> Result<Vec<String>, CampaignProblem> {
    let mut codes = Vec::new();
    for code in raw
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|c| !c.is_empty())
    {
        if !is_postcode(code) {
            return Err(problem(
                "postcodes",
                format!("„{code}“ ist keine Postleitzahl (fünf Ziffern)."),
            ));
        }
        if !codes.iter().any(|c| c == code) {
            codes.push(code.to_string());
        }
    }
    Ok(codes)
}

/// The most attempts per day a campaign may allow.
pub const MAX_ATTEMPTS_PER_DAY: u32 = 3;
/// The most attempts in total.
pub const MAX_ATTEMPTS_TOTAL: u32 = 20;
/// The shortest lead time after the letter was sent, in days.
pub const MIN_LEAD_DAYS: u32 = 3;

/// The settings of a campaign as entered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSettings {
    pub name: String,
    pub selection: Selection,
    /// Which conversation guide and version the agents follow, as shown.
    pub guide_ref: String,
    /// The stored guide version the campaign pins (None only for campaigns
    /// made before guides were stored).
    pub guide_id: Option<i64>,
    pub window: CallingWindow,
    pub attempts_per_day: u32,
    pub attempts_total: u32,
    pub lead_days: u32,
    pub period_start: Date,
    pub period_end: Date,
}

/// The mandate's limits a campaign must keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MandateLimits {
    pub window: CallingWindow,
    pub period_start: Date,
    pub period_end: Date,
}

impl CampaignSettings {
    /// The rules across fields; formats are checked when the form is read.
    pub fn problems(&self, mandate: &MandateLimits) -> Vec<CampaignProblem> {
        let mut problems = Vec::new();
        if self.name.trim().is_empty() {
            problems.push(problem("name", "Bitte geben Sie einen Namen an."));
        }
        if self.selection.statuses.is_empty() {
            problems.push(problem(
                "statuses",
                "Bitte wählen Sie mindestens einen Status.",
            ));
        }
        if self.selection.contact_weeks_under_25 > self.selection.contact_weeks {
            problems.push(problem(
                "contact_weeks_under_25",
                "Für Kunden unter 25 darf die Frist nicht länger sein als für alle anderen.",
            ));
        }
        if !(1..=MAX_ATTEMPTS_PER_DAY).contains(&self.attempts_per_day) {
            problems.push(problem(
                "attempts_per_day",
                format!("Erlaubt sind 1 bis {MAX_ATTEMPTS_PER_DAY} Versuche pro Tag."),
            ));
        }
        if !(1..=MAX_ATTEMPTS_TOTAL).contains(&self.attempts_total) {
            problems.push(problem(
                "attempts_total",
                format!("Erlaubt sind 1 bis {MAX_ATTEMPTS_TOTAL} Versuche insgesamt."),
            ));
        } else if self.attempts_total < self.attempts_per_day {
            problems.push(problem(
                "attempts_total",
                "Insgesamt müssen mindestens so viele Versuche erlaubt sein wie pro Tag.",
            ));
        }
        if self.lead_days < MIN_LEAD_DAYS {
            problems.push(problem(
                "lead_days",
                format!("Die Wartefrist beträgt mindestens {MIN_LEAD_DAYS} Tage."),
            ));
        }
        if self.period_end < self.period_start {
            problems.push(problem(
                "period_end",
                "Das Ende des Anrufzeitraums liegt vor seinem Beginn.",
            ));
        }
        if self.period_start < mandate.period_start || self.period_end > mandate.period_end {
            problems.push(problem(
                "period_start",
                format!(
                    "Der Anrufzeitraum muss im Zeitraum des Auftrags liegen ({} bis {}).",
                    format_de_date(mandate.period_start),
                    format_de_date(mandate.period_end)
                ),
            ));
        }
        if !self.window.within(&mandate.window) {
            problems.push(problem(
                "window_start",
                format!(
                    "Die Anrufzeiten dürfen die des Auftrags nur einschränken ({}).",
                    mandate.window.label()
                ),
            ));
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn facts() -> CaseFacts {
        CaseFacts {
            campaign_state: CampaignState::Active,
            mandate_active: true,
            period_start: date(2026, 3, 1),
            period_end: date(2026, 4, 30),
            lead_days: 7,
            letter_generated: true,
            letter_sent_on: Some(date(2026, 3, 2)),
            final_disposition: None,
        }
    }

    #[test]
    fn callable_after_the_lead_time_inside_the_period() {
        let case = facts();
        assert_eq!(
            hold(&case, date(2026, 3, 8)),
            Some(Hold::LeadTime(date(2026, 3, 8)))
        );
        assert_eq!(
            hold(&case, date(2026, 3, 8)).map(Hold::label).as_deref(),
            Some("Wartefrist bis 08.03.2026")
        );
        assert_eq!(hold(&case, date(2026, 3, 9)), None);
        assert_eq!(hold(&case, date(2026, 4, 30)), None);
        assert_eq!(hold(&case, date(2026, 5, 1)), Some(Hold::PeriodOver));
    }

    #[test]
    fn every_reason_in_order() {
        let today = date(2026, 3, 20);
        let mut case = facts();
        case.letter_sent_on = None;
        assert_eq!(hold(&case, today), Some(Hold::LetterNotSent));
        case.letter_generated = false;
        assert_eq!(hold(&case, today), Some(Hold::LetterMissing));
        assert_eq!(
            Hold::LetterMissing.label(),
            "Vorabinformation noch nicht erstellt"
        );
        case.mandate_active = false;
        assert_eq!(hold(&case, today), Some(Hold::MandateInactive));
        case.campaign_state = CampaignState::Paused;
        assert_eq!(hold(&case, today), Some(Hold::CampaignPaused));
        case.final_disposition = Some("objection".into());
        assert_eq!(hold(&case, today), Some(Hold::Final));

        let mut early = facts();
        early.period_start = date(2026, 3, 25);
        assert_eq!(
            hold(&early, today),
            Some(Hold::BeforePeriod(date(2026, 3, 25)))
        );
        assert_eq!(
            Hold::LeadTime(date(2026, 3, 8)).kind(),
            Hold::LeadTime(date(2026, 3, 9)).kind()
        );
    }

    fn settings() -> (CampaignSettings, MandateLimits) {
        (
            CampaignSettings {
                name: "Frühjahr".into(),
                selection: Selection::default(),
                guide_ref: "standard@1".into(),
                guide_id: None,
                window: CallingWindow::default(),
                attempts_per_day: 1,
                attempts_total: 6,
                lead_days: 7,
                period_start: date(2026, 3, 1),
                period_end: date(2026, 4, 30),
            },
            MandateLimits {
                window: CallingWindow::default(),
                period_start: date(2026, 1, 1),
                period_end: date(2026, 12, 31),
            },
        )
    }

    #[test]
    fn the_defaults_are_valid() {
        let (s, m) = settings();
        assert_eq!(s.problems(&m), vec![]);
        assert_eq!(s.selection.statuses, ["unemployed"]);
    }

    #[test]
    fn limits_are_enforced() {
        let (mut s, mut m) = settings();
        s.attempts_per_day = 4;
        s.attempts_total = 0;
        s.lead_days = 1;
        s.period_end = date(2027, 1, 10);
        s.selection.contact_weeks_under_25 = 10;
        m.window = CallingWindow::parse(&["Mo", "Di"], "09:00", "17:00").unwrap();
        let fields: Vec<&str> = s.problems(&m).iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "contact_weeks_under_25",
                "attempts_per_day",
                "attempts_total",
                "lead_days",
                "period_start",
                "window_start"
            ]
        );
    }

    #[test]
    fn cutoffs_and_codes() {
        let s = Selection::default();
        let (all, young) = s.contact_cutoffs(date(2026, 3, 20));
        assert_eq!(all, date(2026, 1, 23));
        assert_eq!(young, date(2026, 2, 20));
        assert_eq!(
            Selection::under_25_born_after(date(2026, 3, 20)),
            date(2001, 3, 20)
        );
        let code = verification_code([0, 1, 2, 3, 30, 31, 32, 255]);
        assert_eq!(code, "ABCD-9ABH");
        assert_eq!(
            parse_postcodes("46045, 46047;46045\n46049").unwrap(),
            ["46045", "46047", "46049"]
        );
        assert_eq!(case_code("s", 1), case_code("s", 1));
        assert_ne!(case_code("s", 1), case_code("s", 2));
        assert_ne!(case_code("s", 1), case_code("t", 1));
        assert_eq!(parse_postcodes("4604x").unwrap_err().field, "postcodes");
    }

    #[test]
    fn transitions() {
        use CampaignState::*;
        assert_eq!(Draft.transition(Active), Some("Aktivieren"));
        assert_eq!(Active.transition(Draft), None);
        assert_eq!(Closed.transition(Active), None);
        assert_eq!(Paused.transition(Active), Some("Fortsetzen"));
    }
}
