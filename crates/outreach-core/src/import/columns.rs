//! The columns of a customer export and how header names map to them.

/// A known column of the export format (`shared/samples/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
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

impl Column {
    pub const ALL: [Column; 19] = [
        Column::CustomerNumber,
        Column::BgNumber,
        Column::Salutation,
        Column::FirstName,
        Column::LastName,
        Column::BirthDate,
        Column::Street,
        Column::HouseNumber,
        Column::Postcode,
        Column::City,
        Column::Phone,
        Column::Mobile,
        Column::Email,
        Column::Status,
        Column::UnemployedSince,
        Column::TargetOccupation,
        Column::PapCode,
        Column::LastContact,
        Column::State,
    ];

    /// The header text of the export format; also the field name in messages.
    pub fn header(self) -> &'static str {
        match self {
            Column::CustomerNumber => "Kundennummer",
            Column::LastName => "Nachname",
            Column::BirthDate => "Geburtsdatum",
            Column::FirstName => "Vorname",
            Column::BgNumber => "BG-Nummer",
            Column::Salutation => "Anrede",
            Column::Street => "Straße",
            Column::HouseNumber => "Hausnummer",
            Column::Postcode => "PLZ",
            Column::City => "Ort",
            Column::Phone => "Telefon",
            Column::Mobile => "Mobil",
            Column::Email => "E-Mail",
            Column::Status => "Status",
            Column::UnemployedSince => "Arbeitslos seit",
            Column::TargetOccupation => "Zielberuf",
            Column::PapCode => "pAp-Kennung",
            Column::LastContact => "Letzter Kontakt",
            Column::State => "Bundesland",
        }
    }

    pub fn required(self) -> bool {
        matches!(
            self,
            Column::CustomerNumber | Column::LastName | Column::BirthDate
        )
    }

    /// The column a header names, ignoring case and surrounding spaces.
    pub fn from_header(header: &str) -> Option<Column> {
        let wanted = header.trim().to_lowercase();
        Column::ALL
            .into_iter()
            .find(|c| c.header().to_lowercase() == wanted)
    }

    /// The column a stored field (database column name) comes from.
    pub fn from_field_code(code: &str) -> Option<Column> {
        Some(match code {
            "customer_number" => Column::CustomerNumber,
            "last_name" => Column::LastName,
            "birth_date" => Column::BirthDate,
            "first_name" => Column::FirstName,
            "bg_number" => Column::BgNumber,
            "salutation" => Column::Salutation,
            "street" => Column::Street,
            "house_number" => Column::HouseNumber,
            "postcode" => Column::Postcode,
            "city" => Column::City,
            "phone" => Column::Phone,
            "mobile" => Column::Mobile,
            "email" => Column::Email,
            "status" => Column::Status,
            "unemployed_since" => Column::UnemployedSince,
            "target_occupation" => Column::TargetOccupation,
            "pap_code" => Column::PapCode,
            "last_contact" => Column::LastContact,
            "state_code" => Column::State,
            _ => return None,
        })
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One record's values by column; `None` where the column is missing or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values([Option<String>; 19]);

impl Values {
    pub fn get(&self, column: Column) -> Option<&str> {
        self.0[column.index()].as_deref()
    }

    pub fn set(&mut self, column: Column, value: &str) {
        let value = value.trim();
        self.0[column.index()] = (!value.is_empty()).then(|| value.to_string());
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_ignoring_case_and_spaces() {
        assert_eq!(
            Column::from_header("  kundennummer "),
            Some(Column::CustomerNumber)
        );
        assert_eq!(Column::from_header("STRASSE"), None);
        assert_eq!(Column::from_header("straße"), Some(Column::Street));
        assert_eq!(Column::from_header("PAP-KENNUNG"), Some(Column::PapCode));
        for c in Column::ALL {
            assert_eq!(Column::from_header(c.header()), Some(c));
        }
    }
}
