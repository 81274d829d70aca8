//! Telephone numbers as people write them, normalised to E.164 (`+492081234567`)
//! with the `phonenumber` crate for region DE.

use phonenumber::country::Id;

/// The number in E.164, or `None` when the text is no valid number
/// (`n.v.`, `keine`, `0000`, too short, letters).
pub fn normalize(raw: &str) -> Option<String> {
    // "+49 (0)208 …": the bracketed national prefix is written but not dialled.
    let text = raw.trim().replace("(0)", "");
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '0'..='9' => cleaned.push(c),
            '+' if cleaned.is_empty() => cleaned.push('+'),
            ' ' | '-' | '/' | '(' | ')' | '.' | '\u{a0}' => {}
            _ => return None,
        }
    }
    if let Some(rest) = cleaned.strip_prefix("00") {
        cleaned = format!("+{rest}");
    }
    let digits = cleaned.trim_start_matches('+');
    if digits.len() < 6 || digits.bytes().all(|b| b == b'0') {
        return None;
    }
    let number = phonenumber::parse(Some(Id::DE), &cleaned).ok()?;
    phonenumber::is_valid(&number)
        .then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn the_ways_people_write_numbers() {
        for written in [
            "0208 / 123 45-67",
            "+49 (0)208 1234567",
            "0049 208 1234567",
            "(0208) 12 34567",
            "  0208-1234567  ",
            "+49 208 1234567",
        ] {
            assert_eq!(
                normalize(written).as_deref(),
                Some("+492081234567"),
                "{written}"
            );
        }
        assert_eq!(normalize("0171-1234567").as_deref(), Some("+491711234567"));
        assert_eq!(normalize("040 8916615").as_deref(), Some("+49408916615"));
    }

    #[test]
    fn text_that_is_no_number() {
        for written in [
            "n.v.",
            "keine",
            "0000",
            "",
            "12",
            "0208 abc",
            "+",
            "000000000",
        ] {
            assert_eq!(normalize(written), None, "{written}");
        }
    }
}
