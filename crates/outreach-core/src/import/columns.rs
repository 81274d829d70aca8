//! A record's values by column. The export's columns are the customer's
//! stored fields ([`Field`]), in the same order.

use crate::customer::Field;

/// One record's values by column; `None` where the column is missing or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values([Option<String>; Field::ALL.len()]);

impl Values {
    pub fn get(&self, column: Field) -> Option<&str> {
        self.0[column as usize].as_deref()
    }

    pub fn set(&mut self, column: Field, value: &str) {
        let value = value.trim();
        self.0[column as usize] = (!value.is_empty()).then(|| value.to_string());
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
            Field::from_header("  kundennummer "),
            Some(Field::CustomerNumber)
        );
        assert_eq!(Field::from_header("STRASSE"), None);
        assert_eq!(Field::from_header("straße"), Some(Field::Street));
        assert_eq!(Field::from_header("PAP-KENNUNG"), Some(Field::PapCode));
        for c in Field::ALL {
            assert_eq!(Field::from_header(c.label()), Some(c));
        }
    }
}
