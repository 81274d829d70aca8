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
    if !phonenumber::is_valid(&number) {
        return None;
    }
    // E.164 is "+", the country code and the national number (with the
    // leading zeros some countries keep); writing it directly is several
    // times cheaper than the crate's general formatter.
    let national = number.national();
    let zeros = "0".repeat(usize::from(national.zeros()));
    Some(format!(
        "+{}{zeros}{}",
        number.code().value(),
        national.value()
    ))
}

#[cfg(test)]
mod tests {
    use super::normalize;
    use phonenumber::country::Id;

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
    fn e164_written_directly_matches_the_crate_formatter() {
        let mut valid = 0;
        for written in [
            "+39 06 6982 1234",
            "+39 06 698 12345",
            "+39 347 123 4567",
            "0033 1 42 68 53 00",
            "+43 1 5877 4560",
            "+41 44 668 18 00",
            "+1 202 456 1111",
            "0208 1234567",
            "0171 1234567",
            "089 2287834",
        ] {
            let Some(fast) = normalize(written) else {
                continue;
            };
            let number = phonenumber::parse(Some(Id::DE), fast.as_str())
                .map(|n| n.format().mode(phonenumber::Mode::E164).to_string());
            assert_eq!(number.ok().as_deref(), Some(fast.as_str()), "{written}");
            valid += 1;
        }
        assert!(valid >= 6, "{valid}");
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
