//! The stored fields of a customer, and the groups of them a mandate releases.

use serde::Serialize;

/// A stored field of a customer's master data: the one list of them. The
/// export format has a column for each (the same order, [`Field::ALL`]); the
/// database's `customers` table a column named [`Field::code`]; the other
/// lists (what an import compares, what a customer may dispute, what a
/// mandate releases, what a guide's question maps to) are taken from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Field {
    CustomerNumber,
    LastName,
    BirthDate,
    FirstName,
    BgNumber,
    Salutation,
    Street,
    HouseNumber,
    Postcode,
    City,
    Phone,
    Mobile,
    Email,
    Status,
    UnemployedSince,
    TargetOccupation,
    PapCode,
    LastContact,
    State,
}

impl Field {
    /// In the order of the export format (`shared/samples/README.md`) and of
    /// the stored record.
    pub const ALL: [Field; 19] = [
        Field::CustomerNumber,
        Field::BgNumber,
        Field::Salutation,
        Field::FirstName,
        Field::LastName,
        Field::BirthDate,
        Field::Street,
        Field::HouseNumber,
        Field::Postcode,
        Field::City,
        Field::Phone,
        Field::Mobile,
        Field::Email,
        Field::Status,
        Field::UnemployedSince,
        Field::TargetOccupation,
        Field::PapCode,
        Field::LastContact,
        Field::State,
    ];

    /// The field's place in [`Field::ALL`] (and in a stored record).
    pub fn index(self) -> usize {
        Field::ALL
            .iter()
            .position(|f| *f == self)
            .unwrap_or(Field::ALL.len())
    }

    /// The column of the `customers` table (and of the import's staging
    /// table) that holds the field.
    pub fn code(self) -> &'static str {
        match self {
            Field::CustomerNumber => "customer_number",
            Field::LastName => "last_name",
            Field::BirthDate => "birth_date",
            Field::FirstName => "first_name",
            Field::BgNumber => "bg_number",
            Field::Salutation => "salutation",
            Field::Street => "street",
            Field::HouseNumber => "house_number",
            Field::Postcode => "postcode",
            Field::City => "city",
            Field::Phone => "phone",
            Field::Mobile => "mobile",
            Field::Email => "email",
            Field::Status => "status",
            Field::UnemployedSince => "unemployed_since",
            Field::TargetOccupation => "target_occupation",
            Field::PapCode => "pap_code",
            Field::LastContact => "last_contact",
            Field::State => "state_code",
        }
    }

    /// The field's German name: the export format's column header, and the
    /// field's name in every message and page.
    pub fn label(self) -> &'static str {
        match self {
            Field::CustomerNumber => "Kundennummer",
            Field::LastName => "Nachname",
            Field::BirthDate => "Geburtsdatum",
            Field::FirstName => "Vorname",
            Field::BgNumber => "BG-Nummer",
            Field::Salutation => "Anrede",
            Field::Street => "Straße",
            Field::HouseNumber => "Hausnummer",
            Field::Postcode => "PLZ",
            Field::City => "Ort",
            Field::Phone => "Telefon",
            Field::Mobile => "Mobil",
            Field::Email => "E-Mail",
            Field::Status => "Status",
            Field::UnemployedSince => "Arbeitslos seit",
            Field::TargetOccupation => "Zielberuf",
            Field::PapCode => "pAp-Kennung",
            Field::LastContact => "Letzter Kontakt",
            Field::State => "Bundesland",
        }
    }

    /// The field stored in column `code`.
    pub fn parse(code: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The field a header of an export names, ignoring case and surrounding
    /// spaces.
    pub fn from_header(header: &str) -> Option<Field> {
        let wanted = header.trim().to_lowercase();
        Field::ALL
            .into_iter()
            .find(|f| f.label().to_lowercase() == wanted)
    }

    /// Without it an export record is refused.
    pub fn required(self) -> bool {
        matches!(
            self,
            Field::CustomerNumber | Field::LastName | Field::BirthDate
        )
    }

    /// Contact data: phone, mobile, e-mail.
    pub fn is_contact(self) -> bool {
        matches!(self, Field::Phone | Field::Mobile | Field::Email)
    }

    /// Part of the postal address.
    pub fn is_address(self) -> bool {
        matches!(
            self,
            Field::Street | Field::HouseNumber | Field::Postcode | Field::City
        )
    }

    /// Stored as an ISO date, shown as TT.MM.JJJJ.
    pub fn is_date(self) -> bool {
        matches!(
            self,
            Field::BirthDate | Field::UnemployedSince | Field::LastContact
        )
    }

    /// A stored value of this field as a person reads it: dates as
    /// TT.MM.JJJJ, telephone numbers grouped ([`crate::phone::display`]),
    /// the rest as stored.
    pub fn display(self, stored: &str) -> String {
        match self {
            Field::Phone | Field::Mobile => crate::phone::display(stored),
            _ if self.is_date() => crate::date::iso_to_de(stored),
            _ => stored.to_string(),
        }
    }

    /// A customer may dispute the stored value (§ 84 SGB X): all but what
    /// the job center assigns for its own work (the customer number, the
    /// case manager's pAp code, the federal state it files the customer under).
    pub fn disputable(self) -> bool {
        !matches!(self, Field::CustomerNumber | Field::PapCode | Field::State)
    }
}

/// The groups of stored fields a mandate may release to the service center
/// (the address is four fields, "Telefon und Mobil" two). Name and customer
/// number are always needed to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FieldGroup {
    Salutation,
    BirthDate,
    Address,
    Phone,
    Email,
    Status,
    UnemployedSince,
    TargetOccupation,
    LastContact,
    BgNumber,
}

impl FieldGroup {
    pub const ALL: [FieldGroup; 10] = [
        FieldGroup::Salutation,
        FieldGroup::BirthDate,
        FieldGroup::Address,
        FieldGroup::Phone,
        FieldGroup::Email,
        FieldGroup::Status,
        FieldGroup::UnemployedSince,
        FieldGroup::TargetOccupation,
        FieldGroup::LastContact,
        FieldGroup::BgNumber,
    ];

    /// Stored in a mandate's list: a group of one field has the field's code.
    pub fn code(self) -> &'static str {
        match self {
            FieldGroup::Address => "address",
            FieldGroup::Phone => "phone",
            single => single.fields()[0].code(),
        }
    }

    pub fn parse(code: &str) -> Option<FieldGroup> {
        FieldGroup::ALL.into_iter().find(|f| f.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            FieldGroup::Address => "Anschrift",
            FieldGroup::Phone => "Telefon und Mobil",
            single => single.fields()[0].label(),
        }
    }

    /// The stored fields of the group.
    pub fn fields(self) -> &'static [Field] {
        match self {
            FieldGroup::Salutation => &[Field::Salutation],
            FieldGroup::BirthDate => &[Field::BirthDate],
            FieldGroup::Address => &[
                Field::Street,
                Field::HouseNumber,
                Field::Postcode,
                Field::City,
            ],
            FieldGroup::Phone => &[Field::Phone, Field::Mobile],
            FieldGroup::Email => &[Field::Email],
            FieldGroup::Status => &[Field::Status],
            FieldGroup::UnemployedSince => &[Field::UnemployedSince],
            FieldGroup::TargetOccupation => &[Field::TargetOccupation],
            FieldGroup::LastContact => &[Field::LastContact],
            FieldGroup::BgNumber => &[Field::BgNumber],
        }
    }

    /// The fields a new mandate releases unless the job center chooses otherwise:
    /// what the call needs, nothing more.
    pub fn default_for_mandate() -> Vec<FieldGroup> {
        vec![
            FieldGroup::Salutation,
            FieldGroup::BirthDate,
            FieldGroup::Address,
            FieldGroup::Phone,
            FieldGroup::Status,
            FieldGroup::TargetOccupation,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_reads_back_from_its_code_and_its_header() {
        for (i, f) in Field::ALL.into_iter().enumerate() {
            assert_eq!(Field::parse(f.code()), Some(f));
            assert_eq!(Field::from_header(f.label()), Some(f));
            assert_eq!(f.index(), i);
        }
        assert_eq!(Field::parse("state_code"), Some(Field::State));
        assert_eq!(Field::parse("Bundesland"), None);
    }

    #[test]
    fn the_job_centers_identifiers_are_not_disputable() {
        let not: Vec<Field> = Field::ALL.into_iter().filter(|f| !f.disputable()).collect();
        assert_eq!(not, [Field::CustomerNumber, Field::PapCode, Field::State]);
    }

    #[test]
    fn release_groups_cover_distinct_fields_and_name_single_ones_alike() {
        let mut seen = std::collections::HashSet::new();
        for group in FieldGroup::ALL {
            for f in group.fields() {
                assert!(seen.insert(*f), "{f:?} in two groups");
            }
            if let [single] = group.fields() {
                assert_eq!(
                    (group.code(), group.label()),
                    (single.code(), single.label())
                );
            }
            assert_eq!(FieldGroup::parse(group.code()), Some(group));
        }
        assert_eq!(FieldGroup::Address.fields().len(), 4);
        assert_eq!(FieldGroup::Phone.label(), "Telefon und Mobil");
    }
}
