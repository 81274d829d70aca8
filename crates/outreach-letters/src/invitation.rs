//! The invitation letter (Einladung, § 59 SGB II with § 309 SGB III): issued
//! by the job center, never by the service center. Two pages: the letter
//! (purpose, date, time, place and room, contact person, documents, what to
//! do if unable to attend, travel costs) and the notices (legal
//! consequences in the version valid on the letter's date, legal remedy,
//! data protection).

use crate::advance::{Organisation, Recipient};
use crate::{LetterError, Renderer};
use jiff::civil::Date;
use outreach_core::date::{format_de_date, parse_de_date};
use outreach_core::invitation::Appointment;
use serde::Serialize;

/// Changes whenever the template's wording or layout changes; recorded with
/// every invitation.
pub const INVITATION_TEMPLATE_VERSION: &str = "einladung-2026-11";

/// The legal-consequences notice (Rechtsfolgenbelehrung) in one version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalNotice {
    pub version: String,
    pub valid_from: Date,
    pub valid_until: Option<Date>,
    pub text: String,
}

/// The versions, one file each (`texts/rechtsfolgenbelehrung/`): a header
/// with `Fassung`, `gültig ab`, `gültig bis` (empty: open), `---`, the text.
const NOTICE_FILES: [&str; 2] = [
    include_str!("../texts/rechtsfolgenbelehrung/2011-04-01.txt"),
    include_str!("../texts/rechtsfolgenbelehrung/2023-01-01.txt"),
];

fn parse_notice(file: &str) -> Option<LegalNotice> {
    let (head, text) = file.split_once("\n---\n")?;
    let field = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    Some(LegalNotice {
        version: field("Fassung:")?,
        valid_from: parse_de_date(&field("gültig ab:")?).ok()?,
        valid_until: field("gültig bis:").and_then(|v| parse_de_date(&v).ok()),
        text: text.trim().to_string(),
    })
}

/// Every version of the notice, oldest first.
pub fn legal_notices() -> Vec<LegalNotice> {
    let mut all: Vec<LegalNotice> = NOTICE_FILES
        .iter()
        .filter_map(|f| parse_notice(f))
        .collect();
    all.sort_by_key(|n| n.valid_from);
    all
}

/// The notice valid on `day`, if any.
pub fn legal_notice_on(day: Date) -> Option<LegalNotice> {
    legal_notices()
        .into_iter()
        .rev()
        .find(|n| n.valid_from <= day && n.valid_until.is_none_or(|until| day <= until))
}

/// Who writes to whom: the customer and the job center issuing the letter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addressing {
    pub customer_number: String,
    pub bg_number: Option<String>,
    pub recipient: Recipient,
    pub job_center: Organisation,
    pub dpo_contact: String,
    pub supervisory_authority: String,
}

/// Everything one invitation says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InvitationLetter {
    pub customer_number: String,
    pub bg_number: Option<String>,
    pub recipient: Recipient,
    /// TT.MM.JJJJ
    pub letter_date: String,
    pub job_center: Organisation,
    pub dpo_contact: String,
    pub supervisory_authority: String,
    pub purpose: String,
    /// 1–5: the number in § 309 Abs. 2 SGB III.
    pub purpose_number: u8,
    /// `Dienstag, 02.02.2027, 09:30 Uhr`
    pub when: String,
    pub place: String,
    pub room: String,
    pub contact: String,
    pub contact_phone: String,
    pub documents: Vec<String>,
    pub legal_notice_version: String,
    pub legal_notice: String,
}

impl InvitationLetter {
    /// The letter for a checked appointment, dated `letter_date`; refused
    /// when no legal-consequences notice is valid on that day.
    pub fn new(
        appointment: &Appointment,
        letter_date: Date,
        to: Addressing,
    ) -> Result<InvitationLetter, LetterError> {
        let Addressing {
            customer_number,
            bg_number,
            recipient,
            job_center,
            dpo_contact,
            supervisory_authority,
        } = to;
        let notice = legal_notice_on(letter_date).ok_or_else(|| {
            LetterError::Missing(format!(
                "Für den {} ist keine Rechtsfolgenbelehrung hinterlegt.",
                format_de_date(letter_date)
            ))
        })?;
        Ok(InvitationLetter {
            customer_number,
            bg_number,
            recipient,
            letter_date: format_de_date(letter_date),
            job_center,
            dpo_contact,
            supervisory_authority,
            purpose: appointment.purpose.label().to_string(),
            purpose_number: appointment.purpose.paragraph(),
            when: appointment.when(),
            place: appointment.place.clone(),
            room: appointment.room.clone(),
            contact: appointment.contact.clone(),
            contact_phone: appointment.contact_phone.clone(),
            documents: appointment.documents.clone(),
            legal_notice_version: notice.version,
            legal_notice: notice.text,
        })
    }

    /// The hash recorded with the letter (see [`crate::content_hash`]).
    pub fn content_hash(&self) -> String {
        crate::content_hash(INVITATION_TEMPLATE_VERSION, self)
    }
}

#[derive(Serialize)]
struct TemplateData<'a> {
    #[serde(flatten)]
    letter: &'a InvitationLetter,
    address_lines: Vec<String>,
    greeting: String,
    return_line: String,
    job_center_address: String,
}

impl Renderer {
    /// One PDF with these invitations, two pages each.
    pub fn invitations(&self, letters: &[InvitationLetter]) -> Result<Vec<u8>, LetterError> {
        let data: Vec<TemplateData<'_>> = letters
            .iter()
            .map(|l| TemplateData {
                letter: l,
                address_lines: l.recipient.address_lines(),
                greeting: l.recipient.greeting(),
                return_line: format!("{}, {}", l.job_center.name, l.job_center.address()),
                job_center_address: l.job_center.address(),
            })
            .collect();
        let value = serde_json::to_value(&data)?;
        self.render("invitation.typ", &value, letters.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn the_notice_in_force_on_the_letter_date_is_chosen() {
        assert_eq!(legal_notices().len(), 2);
        assert_eq!(
            legal_notice_on(date(2022, 12, 31)).unwrap().version,
            "rfb-2011-04"
        );
        assert_eq!(
            legal_notice_on(date(2023, 1, 1)).unwrap().version,
            "rfb-2023-01"
        );
        assert_eq!(
            legal_notice_on(date(2027, 1, 20)).unwrap().version,
            "rfb-2023-01"
        );
        assert!(legal_notice_on(date(2010, 1, 1)).is_none());
        assert!(
            legal_notice_on(date(2023, 1, 1))
                .unwrap()
                .text
                .contains("für einen Monat")
        );
    }
}
