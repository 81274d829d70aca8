//! Why a case can't be called yet (its hold), from the facts of the case
//! and its campaign.

use super::*;

/// What is known about a case when deciding whether it may be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub campaign_state: CampaignState,
    pub mandate_active: bool,
    pub period_start: Date,
    pub period_end: Date,
    pub lead_days: u32,
    pub letter_generated: bool,
    pub letter_sent_on: Option<Date>,
    pub final_disposition: Option<String>,
}

/// Why a case can't be called (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hold {
    /// The case is closed, e.g. after an objection.
    Final,
    CampaignDraft,
    CampaignPaused,
    CampaignClosed,
    MandateInactive,
    LetterMissing,
    LetterNotSent,
    /// The lead time runs until this day (inclusive).
    LeadTime(Date),
    /// The calling period starts on this day.
    BeforePeriod(Date),
    PeriodOver,
}

impl Hold {
    /// The reason in German, as the campaign and case pages show it.
    pub fn label(self) -> String {
        match self {
            Hold::Final => "abgeschlossen".into(),
            Hold::CampaignDraft => "Aktion ist noch im Entwurf".into(),
            Hold::CampaignPaused => "Aktion ist pausiert".into(),
            Hold::CampaignClosed => "Aktion ist abgeschlossen".into(),
            Hold::MandateInactive => "Auftrag ist nicht aktiv".into(),
            Hold::LetterMissing => "Vorabinformation noch nicht erstellt".into(),
            Hold::LetterNotSent => "Vorabinformation noch nicht versandt".into(),
            Hold::LeadTime(until) => format!("Wartefrist bis {}", format_de_date(until)),
            Hold::BeforePeriod(start) => {
                format!("Anrufzeitraum beginnt am {}", format_de_date(start))
            }
            Hold::PeriodOver => "Anrufzeitraum ist beendet".into(),
        }
    }

    /// The reason without its date, for counting cases per reason.
    pub fn kind(self) -> Hold {
        match self {
            Hold::LeadTime(_) => Hold::LeadTime(Date::MIN),
            Hold::BeforePeriod(_) => Hold::BeforePeriod(Date::MIN),
            other => other,
        }
    }
}

/// The first day a case may be called after its letter was sent.
pub fn callable_from(sent_on: Date, lead_days: u32) -> Date {
    sent_on
        .checked_add(i64::from(lead_days).days())
        .unwrap_or(Date::MAX)
}

/// `None` when the case may be called today (the calling rules of the queue
/// still apply: window, holidays, attempts); otherwise the first reason why not.
pub fn hold(case: &CaseFacts, today: Date) -> Option<Hold> {
    if case.final_disposition.is_some() {
        return Some(Hold::Final);
    }
    match case.campaign_state {
        CampaignState::Draft => return Some(Hold::CampaignDraft),
        CampaignState::Paused => return Some(Hold::CampaignPaused),
        CampaignState::Closed => return Some(Hold::CampaignClosed),
        CampaignState::Active => {}
    }
    if !case.mandate_active {
        return Some(Hold::MandateInactive);
    }
    if today > case.period_end {
        return Some(Hold::PeriodOver);
    }
    let Some(sent_on) = case.letter_sent_on else {
        return Some(if case.letter_generated {
            Hold::LetterNotSent
        } else {
            Hold::LetterMissing
        });
    };
    let from = callable_from(sent_on, case.lead_days);
    if today < from {
        return Some(Hold::LeadTime(from.yesterday().unwrap_or(from)));
    }
    if today < case.period_start {
        return Some(Hold::BeforePeriod(case.period_start));
    }
    None
}
