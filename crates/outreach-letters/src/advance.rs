//! The advance letter (Vorabinformation, Art. 13 GDPR): sent to every customer
//! of a campaign before anyone may call them.

use crate::{LetterError, Renderer};
use serde::Serialize;

/// Changes whenever the template's wording or layout changes; recorded with
/// every letter.
pub const ADVANCE_TEMPLATE_VERSION: &str = "vorabinformation-2026-11";

/// A job center or service center as a letter names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Organisation {
    pub name: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub email: String,
}

impl Organisation {
    pub(crate) fn address(&self) -> String {
        let place = format!("{} {}", self.postcode, self.city);
        [self.street.trim(), place.trim()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The customer the letter goes to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// `Herr`, `Frau` or empty.
    pub salutation: String,
    pub first_name: String,
    pub last_name: String,
    pub street: String,
    pub house_number: String,
    pub postcode: String,
    pub city: String,
}

impl Recipient {
    fn name(&self) -> String {
        format!("{} {}", self.first_name.trim(), self.last_name.trim())
            .trim()
            .to_string()
    }

    /// The lines in the window (DIN 5008: at most six in the recipient zone).
    pub fn address_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        match self.salutation.as_str() {
            "Herr" => lines.push("Herrn".to_string()),
            "Frau" => lines.push("Frau".to_string()),
            _ => {}
        }
        lines.push(self.name());
        let street = format!("{} {}", self.street.trim(), self.house_number.trim());
        if !street.trim().is_empty() {
            lines.push(street.trim().to_string());
        }
        lines.push(
            format!("{} {}", self.postcode.trim(), self.city.trim())
                .trim()
                .to_string(),
        );
        lines
    }

    pub fn greeting(&self) -> String {
        match self.salutation.as_str() {
            "Herr" => format!("Sehr geehrter Herr {},", self.last_name.trim()),
            "Frau" => format!("Sehr geehrte Frau {},", self.last_name.trim()),
            _ => format!("Guten Tag {},", self.name()),
        }
    }
}

/// Everything one advance letter says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AdvanceLetter {
    pub customer_number: String,
    pub bg_number: Option<String>,
    pub recipient: Recipient,
    /// TT.MM.JJJJ
    pub letter_date: String,
    /// The one-time code for the identity check on the phone.
    pub code: String,
    /// The controller.
    pub job_center: Organisation,
    /// The processor that calls (Auftragsverarbeiter, § 80 SGB X).
    pub processor: Organisation,
    pub dpo_contact: String,
    pub supervisory_authority: String,
    /// e.g. `Mo–Fr, 08:00–20:00 Uhr`
    pub window: String,
    /// TT.MM.JJJJ
    pub period_start: String,
    pub period_end: String,
    /// The official number to call back and verify the caller.
    pub callback_phone: String,
    /// TT.MM.JJJJ: when the service center deletes its data at the latest.
    pub deletion_deadline: String,
}

/// The letter as the template reads it: the data and the lines derived from it.
#[derive(Serialize)]
struct TemplateData<'a> {
    #[serde(flatten)]
    letter: &'a AdvanceLetter,
    address_lines: Vec<String>,
    greeting: String,
    return_line: String,
    job_center_address: String,
    processor_address: String,
}

impl AdvanceLetter {
    fn template_data(&self) -> TemplateData<'_> {
        TemplateData {
            letter: self,
            address_lines: self.recipient.address_lines(),
            greeting: self.recipient.greeting(),
            return_line: format!("{}, {}", self.job_center.name, self.job_center.address()),
            job_center_address: self.job_center.address(),
            processor_address: self.processor.address(),
        }
    }

    /// The hash recorded with the letter (see [`crate::content_hash`]).
    pub fn content_hash(&self) -> String {
        crate::content_hash(ADVANCE_TEMPLATE_VERSION, self)
    }
}

impl Renderer {
    /// One PDF with these advance letters, two pages each.
    pub fn advance_letters(&self, letters: &[AdvanceLetter]) -> Result<Vec<u8>, LetterError> {
        let data: Vec<TemplateData<'_>> = letters.iter().map(|l| l.template_data()).collect();
        let value = serde_json::to_value(&data)?;
        self.render("advance.typ", &value, letters.len())
    }
}
