//! Text as people type or paste it into a form: how long it may be, and the
//! characters nobody means to enter — control characters, the marks that
//! turn the direction of writing around (which make `exe.txt` of
//! `txt.exe`), zero-width characters and the byte-order mark. They are
//! refused, not removed: what is stored is what the person saw. And whole
//! numbers as a German reader reads them.

/// Where line breaks belong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// A one-line field: no line breaks.
    One,
    /// A multi-line field (a note): line breaks, no tabs.
    Many,
    /// A source text (a guide in TOML): line breaks and tabs.
    Source,
}

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Longer than `max` characters (it has `len`).
    TooLong { max: usize, len: usize },
    /// A line break in a one-line field.
    LineBreak,
    /// A control character (C0, DEL, C1).
    Control(char),
    /// A mark that overrides or isolates the direction of writing.
    Direction(char),
    /// A character of no width, or the byte-order mark.
    Invisible(char),
}

impl Refusal {
    /// The German message for the field labelled `label`.
    pub fn message(&self, label: &str) -> String {
        let code = |c: &char| format!("U+{:04X}", u32::from(*c));
        match self {
            Refusal::TooLong { max, len } => format!(
                "„{label}“ darf höchstens {} Zeichen lang sein; eingegeben wurden {}.",
                de_count(*max),
                de_count(*len)
            ),
            Refusal::LineBreak => {
                format!("„{label}“ ist einzeilig; bitte ohne Zeilenumbruch eingeben.")
            }
            Refusal::Control(c) => format!(
                "„{label}“ enthält ein Steuerzeichen ({}), das nicht erlaubt ist. Bitte geben Sie den Text neu ein, statt ihn einzufügen.",
                code(c)
            ),
            Refusal::Direction(c) => format!(
                "„{label}“ enthält ein Zeichen, das die Schreibrichtung umkehrt ({}); es ist nicht erlaubt.",
                code(c)
            ),
            Refusal::Invisible(c) => format!(
                "„{label}“ enthält ein unsichtbares Zeichen ({}), das nicht erlaubt ist. Bitte geben Sie den Text neu ein, statt ihn einzufügen.",
                code(c)
            ),
        }
    }
}

/// An integer with German thousands separators (`100.000`, `-1.234`).
pub fn de_integer(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(d);
    }
    out
}

fn de_count(n: usize) -> String {
    de_integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// Checks `value` for a field of at most `max` characters.
pub fn check(value: &str, max: usize, lines: Lines) -> Result<(), Refusal> {
    for c in value.chars() {
        if let Some(refusal) = refused(c, lines) {
            return Err(refusal);
        }
    }
    check_length(value, max)
}

/// Checks only the length of `value` (a value the application wrote).
pub fn check_length(value: &str, max: usize) -> Result<(), Refusal> {
    let len = value.chars().count();
    if len > max {
        return Err(Refusal::TooLong { max, len });
    }
    Ok(())
}

fn refused(c: char, lines: Lines) -> Option<Refusal> {
    match c {
        '\n' | '\r' => (lines == Lines::One).then_some(Refusal::LineBreak),
        '\t' if lines == Lines::Source => None,
        c if c.is_control() => Some(Refusal::Control(c)),
        // Embeddings, overrides and isolates; the marks LRM, RLM and ALM.
        '\u{202A}'..='\u{202E}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200E}'
        | '\u{200F}'
        | '\u{061C}' => Some(Refusal::Direction(c)),
        // Zero width space, non-joiner, joiner, word joiner, the invisible
        // operators, the soft hyphen, the byte-order mark.
        '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{00AD}' | '\u{FEFF}' => {
            Some(Refusal::Invisible(c))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_people_write_passes() {
        for text in [
            "Winter 2027",
            "Müller-Lüdenscheidt, Straße 12a",
            "José Ñúñez",
            "Zoë O’Brien",
            "محمد",
            "",
        ] {
            assert_eq!(check(text, 100, Lines::One), Ok(()), "{text}");
        }
        assert_eq!(check("Zeile 1\r\nZeile 2", 100, Lines::Many), Ok(()));
        assert_eq!(check("[a]\n\tb = 1", 100, Lines::Source), Ok(()));
    }

    #[test]
    fn what_nobody_means_to_enter_is_refused() {
        for (text, lines, refusal) in [
            ("a\0b", Lines::Many, Refusal::Control('\0')),
            ("a\u{1b}[31mb", Lines::One, Refusal::Control('\u{1b}')),
            ("a\u{7f}", Lines::One, Refusal::Control('\u{7f}')),
            ("a\u{85}", Lines::Many, Refusal::Control('\u{85}')),
            ("a\tb", Lines::Many, Refusal::Control('\t')),
            ("a\nb", Lines::One, Refusal::LineBreak),
            ("txt\u{202E}exe", Lines::One, Refusal::Direction('\u{202E}')),
            ("a\u{2066}b", Lines::One, Refusal::Direction('\u{2066}')),
            ("a\u{200F}b", Lines::One, Refusal::Direction('\u{200F}')),
            ("a\u{200B}b", Lines::One, Refusal::Invisible('\u{200B}')),
            ("\u{FEFF}Name", Lines::One, Refusal::Invisible('\u{FEFF}')),
        ] {
            assert_eq!(check(text, 100, lines), Err(refusal), "{text:?}");
        }
    }

    #[test]
    fn integers_the_german_way() {
        for (n, shown) in [
            (0, "0"),
            (999, "999"),
            (1000, "1.000"),
            (-1234567, "-1.234.567"),
        ] {
            assert_eq!(de_integer(n), shown);
        }
    }

    #[test]
    fn the_length_is_counted_in_characters_and_named() {
        assert_eq!(check(&"ä".repeat(100), 100, Lines::One), Ok(()));
        let refusal = check(&"a".repeat(100_000), 100, Lines::One).unwrap_err();
        assert_eq!(
            refusal,
            Refusal::TooLong {
                max: 100,
                len: 100_000
            }
        );
        assert_eq!(
            refusal.message("Name der Aktion"),
            "„Name der Aktion“ darf höchstens 100 Zeichen lang sein; eingegeben wurden 100.000."
        );
        assert_eq!(
            Refusal::Control('\0').message("Antwort"),
            "„Antwort“ enthält ein Steuerzeichen (U+0000), das nicht erlaubt ist. Bitte geben Sie den Text neu ein, statt ihn einzufügen."
        );
    }
}
