//! How a case ended, and the code printed on its advance letter.

/// The one-time verification codes printed in advance letters: eight
/// characters without look-alikes (no 0/O, 1/I/L), shown as `ABCD-EFGH`.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A code from eight random bytes.
pub fn verification_code(random: [u8; 8]) -> String {
    let chars: String = random
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// The code of one case: derived from the campaign's secret, so that a
/// letter printed again carries the same code.
pub fn case_code(secret: &str, case_id: i64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(secret.as_bytes())
        .chain_update(case_id.to_be_bytes())
        .finalize();
    let mut random = [0u8; 8];
    random.copy_from_slice(&digest[..8]);
    verification_code(random)
}

/// A case's final disposition once nobody may call any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinalDisposition {
    /// Gespräch geführt, Daten bestätigt (AAPOR I)
    Confirmed,
    /// Gespräch geführt, Daten aktualisiert (I)
    Updated,
    /// Gespräch abgebrochen (P)
    Partial,
    /// Auskunft verweigert (R)
    Refused,
    /// Widerspruch vor Anruf (R)
    ObjectionBeforeCall,
    /// nicht erreicht nach max. Versuchen (NC)
    NotReached,
    /// keine gültige Rufnummer (UH)
    NoValidNumber,
    /// Identität nicht bestätigt (O)
    IdentityFailed,
    /// nicht mehr zuständig / verzogen (NE)
    NotResponsible,
}

impl FinalDisposition {
    pub const ALL: [FinalDisposition; 9] = [
        FinalDisposition::Confirmed,
        FinalDisposition::Updated,
        FinalDisposition::Partial,
        FinalDisposition::Refused,
        FinalDisposition::ObjectionBeforeCall,
        FinalDisposition::NotReached,
        FinalDisposition::NoValidNumber,
        FinalDisposition::IdentityFailed,
        FinalDisposition::NotResponsible,
    ];

    pub fn code(self) -> &'static str {
        match self {
            FinalDisposition::Confirmed => "confirmed",
            FinalDisposition::Updated => "updated",
            FinalDisposition::Partial => "partial",
            FinalDisposition::Refused => "refused",
            FinalDisposition::ObjectionBeforeCall => "objection",
            FinalDisposition::NotReached => "not_reached",
            FinalDisposition::NoValidNumber => "no_valid_number",
            FinalDisposition::IdentityFailed => "identity_failed",
            FinalDisposition::NotResponsible => "not_responsible",
        }
    }

    pub fn parse(code: &str) -> Option<FinalDisposition> {
        FinalDisposition::ALL.into_iter().find(|d| d.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            FinalDisposition::Confirmed => "Gespräch geführt, Daten bestätigt",
            FinalDisposition::Updated => "Gespräch geführt, Daten aktualisiert",
            FinalDisposition::Partial => "Gespräch abgebrochen",
            FinalDisposition::Refused => "Auskunft verweigert",
            FinalDisposition::ObjectionBeforeCall => "Widerspruch vor Anruf",
            FinalDisposition::NotReached => "nicht erreicht nach max. Versuchen",
            FinalDisposition::NoValidNumber => "keine gültige Rufnummer",
            FinalDisposition::IdentityFailed => "Identität nicht bestätigt",
            FinalDisposition::NotResponsible => "nicht mehr zuständig / verzogen",
        }
    }

    /// The AAPOR class for the response rates (DOMAIN.md).
    pub fn aapor(self) -> &'static str {
        match self {
            FinalDisposition::Confirmed | FinalDisposition::Updated => "I",
            FinalDisposition::Partial => "P",
            FinalDisposition::Refused | FinalDisposition::ObjectionBeforeCall => "R",
            FinalDisposition::NotReached => "NC",
            FinalDisposition::NoValidNumber => "UH",
            FinalDisposition::IdentityFailed => "O",
            FinalDisposition::NotResponsible => "NE",
        }
    }
}
