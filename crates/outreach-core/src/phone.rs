//! Telephone numbers: as people write them, normalised to E.164
//! (`+492081234567`) for storage, exports and `tel:` links, and as a person
//! reads them (`0208 1234567`), both with the `phonenumber` crate for
//! region DE.

use phonenumber::country::Id;

/// The number in E.164, or `None` when the text is no valid number
/// (`n.v.`, `keine`, `0000`, too short, letters).
///
/// German numbers in the usual shapes take a memoised path: the crate's
/// verdict for a German national number depends only on its first six digits
/// and its length (every pattern in the crate's metadata for DE is a prefix of
/// at most six digits followed by `\d{m,n}`), so the crate decides once per
/// (prefix, length) on each thread and later numbers of that kind reuse the
/// decision. A test compares both paths on random numbers.
pub fn normalize(raw: &str) -> Option<String> {
    let cleaned = clean(raw)?;
    match german_national(&cleaned) {
        Some(national) => normalize_german(&cleaned, national),
        None => normalize_with_crate(&cleaned),
    }
}

/// A stored number as a person reads it: German numbers in national
/// notation grouped as the crate groups them (`0208 3261592`,
/// `0176 27805504`), others in international notation (`+31 20 123 4567`).
/// Text the crate cannot read is shown as it is.
pub fn display(stored: &str) -> String {
    let Ok(number) = phonenumber::parse(Some(Id::DE), stored) else {
        return stored.to_string();
    };
    let mode = if number.code().value() == 49 {
        phonenumber::Mode::National
    } else {
        phonenumber::Mode::International
    };
    number.format().mode(mode).to_string()
}

/// Digits with an optional leading `+`; `00` becomes `+`. `None` for text
/// that cannot be a number at all.
fn clean(raw: &str) -> Option<String> {
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
    Some(cleaned)
}

/// The national number of `0…` or `+49…` with a first digit 1–9.
fn german_national(cleaned: &str) -> Option<&str> {
    let national = cleaned
        .strip_prefix("+49")
        .or_else(|| cleaned.strip_prefix('0'))?;
    national
        .starts_with(|c: char| ('1'..='9').contains(&c))
        .then_some(national)
}

/// Decisions remembered per thread; bounded, after that the crate decides.
const MEMO_LIMIT: usize = 100_000;

thread_local! {
    static MEMO: std::cell::RefCell<std::collections::HashMap<(u32, usize), bool>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

fn normalize_german(cleaned: &str, national: &str) -> Option<String> {
    let prefix = national
        .bytes()
        .take(6)
        .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'));
    let key = (prefix, national.len());
    if let Some(valid) = MEMO.with(|memo| memo.borrow().get(&key).copied()) {
        return valid.then(|| format!("+49{national}"));
    }
    let result = normalize_with_crate(cleaned);
    let verdict = match result.as_deref() {
        None => Some(false),
        Some(e164) if e164.strip_prefix("+49") == Some(national) => Some(true),
        // Not the plain shape this memo stands for: decide each time.
        Some(_) => None,
    };
    if let Some(verdict) = verdict {
        MEMO.with(|memo| {
            let mut memo = memo.borrow_mut();
            if memo.len() < MEMO_LIMIT {
                memo.insert(key, verdict);
            }
        });
    }
    result
}

fn normalize_with_crate(cleaned: &str) -> Option<String> {
    let number = phonenumber::parse(Some(Id::DE), cleaned).ok()?;
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
    use super::{clean, display, normalize, normalize_with_crate};
    use phonenumber::country::Id;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// The memoised path gives what the crate alone gives, for numbers
        /// that share prefixes and lengths with numbers decided before.
        #[test]
        fn memoised_path_agrees_with_the_crate(
            shape in 0usize..4,
            first in 1u8..10,
            rest in proptest::collection::vec(0u8..10, 3..15),
            seen in proptest::collection::vec(0u8..10, 0..8),
        ) {
            let digits: String = std::iter::once(first).chain(rest.iter().copied())
                .map(|d| char::from(b'0' + d)).collect();
            // A number with the same prefix decided first fills the memo.
            let mut sibling: Vec<u8> = digits.bytes().take(6).collect();
            sibling.extend(seen.iter().map(|d| b'0' + d));
            let sibling = String::from_utf8(sibling).unwrap_or_default();
            for national in [sibling.as_str(), digits.as_str()] {
                let written = match shape {
                    0 => format!("0{national}"),
                    1 => format!("+49 {national}"),
                    2 => format!("0049{national}"),
                    _ => format!("+49 (0){national}"),
                };
                let expected = clean(&written).and_then(|c| normalize_with_crate(&c));
                prop_assert_eq!(normalize(&written), expected, "{}", written);
            }
        }
    }

    #[test]
    fn numbers_as_a_person_reads_them() {
        for (stored, shown) in [
            ("+492083261592", "0208 3261592"),
            ("+4917627805504", "0176 27805504"),
            ("+49301234567", "030 1234567"),
            ("+31201234567", "+31 20 123 4567"),
            ("+41446681800", "+41 44 668 18 00"),
            // Not a number the crate reads: as stored.
            ("unbekannt", "unbekannt"),
            ("", ""),
        ] {
            assert_eq!(display(stored), shown, "{stored}");
        }
        // What is shown is read back as the same number.
        for stored in ["+492083261592", "+4917627805504", "+31201234567"] {
            assert_eq!(normalize(&display(stored)).as_deref(), Some(stored));
        }
    }

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
