//! Every field a form or a query sends: its German name, its length and
//! whether it may hold line breaks. The form extractors check each value
//! against it before a handler sees the form (see [`super::FormData`]); a
//! test keeps it complete for every field the templates name.

use outreach_core::text::Lines;

/// What a field may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRule {
    /// Its name in a message.
    pub label: &'static str,
    /// At most this many characters.
    pub max: usize,
    pub lines: Lines,
    /// Written by the application (a token, the conversation's state), not
    /// typed: only its length is checked.
    pub machine: bool,
}

const fn one(label: &'static str, max: usize) -> FieldRule {
    FieldRule {
        label,
        max,
        lines: Lines::One,
        machine: false,
    }
}

const fn many(label: &'static str, max: usize) -> FieldRule {
    FieldRule {
        label,
        max,
        lines: Lines::Many,
        machine: false,
    }
}

const fn machine(label: &'static str, max: usize) -> FieldRule {
    FieldRule {
        label,
        max,
        lines: Lines::Many,
        machine: true,
    }
}

/// Names of people, organisations, campaigns; a street with its number.
const NAME: usize = 120;
/// A code, a number, a date, a time, a choice.
const SHORT: usize = 40;
/// A note or a reason.
const NOTE: usize = 2_000;

/// The rule of the field `name` (a field no form names: one line of at
/// most 200 characters, named by its name).
pub fn rule(name: &str) -> FieldRule {
    match name {
        // Written by the application.
        "csrf" => machine("Sicherheitsmerkmal", 200),
        "zustand" => machine("Gesprächsstand", 200_000),
        // Buttons, choices and switches.
        "aktion" | "action" => one("Aktion", 200),
        "state" | "jc_state" => one("Zustand", SHORT),
        "format" => one("Format", SHORT),
        "probelauf" => one("Probelauf", SHORT),
        "submitted" | "suchen" | "einschraenken" | "aendern" => one("Schaltfläche", SHORT),
        "ungelesen" | "fehlend" | "abgelaufen" | "abgemeldet" => one("Filter", SHORT),
        "meldung" => one("Meldung", 200),
        "tabelle" => one("Tabelle", SHORT),
        "seite" => one("Seite", SHORT),
        "nummer" => one("Nummer", SHORT),
        "ergebnis" => one("Ergebnis", 100),
        "feld" | "fields" => one("Feld", 100),
        "merkmal" => one("Merkmal", 100),
        "frage" => one("Frage", 200),
        "role" => one("Rolle", SHORT),
        "organisation" => one("Organisation", SHORT),
        "jobcenter" => one("Jobcenter", SHORT),
        "service_center" => one("Service-Center", SHORT),
        "mandate" => one("Auftrag", SHORT),
        "guide" => one("Leitfaden", 200),
        "pap" => one("pAp-Kennung", SHORT),
        "statuses" => one("Status", SHORT),
        "window_days" => one("Anruftage", SHORT),
        "tag" => one("Tag", SHORT),
        "termin" => one("Termin", SHORT),
        "zweck" => one("Zweck", 100),
        "seit" => one("seit", SHORT),
        "viewport" => one("Ansicht", 200),
        // Typed.
        "antwort" => one("Antwort", 1_000),
        "angabe_birth_date" => one("Geburtsdatum, wie genannt", SHORT),
        "angabe_postcode" => one("Postleitzahl, wie genannt", SHORT),
        "angabe_address" => one("Straße und Hausnummer, wie genannt", NAME),
        "angabe_code" => one("Prüfcode, wie genannt", SHORT),
        "kldb" => one("KldB-Code", SHORT),
        "quelle" => FieldRule {
            label: "Leitfaden (TOML)",
            max: 200_000,
            lines: Lines::Source,
            machine: false,
        },
        "notiz" => many("Notiz", NOTE),
        "unterlagen" => many("Mitzubringende Unterlagen", NOTE),
        "grund" => one("Grund / Anmerkung", 500),
        "name" => one("Name", NAME),
        "title" => one("Bezeichnung", NAME),
        "display_name" => one("Name", NAME),
        "username" | "benutzer" => one("Benutzername", 64),
        "password" => one("Passwort", 200),
        // Six digits of the app, or a recovery code (`xxxxx-xxxxx`).
        "code" => one("Code", SHORT),
        "current" => one("Bisheriges Passwort", 200),
        "new" => one("Neues Passwort", 200),
        "repeat" => one("Neues Passwort wiederholen", 200),
        "pap_code" => one("pAp-Kennung", SHORT),
        "kunde" | "kundennummer" => one("Kundennummer", SHORT),
        "datensatz" => one("Datensatz-Nr.", 100),
        "suche" => one("Suche", 200),
        "dateiname" => one("Dateiname", 255),
        "postcodes" => one("Nur diese Postleitzahlen", 6_000),
        "ansprechperson" => one("Ansprechperson", NAME),
        "telefon" => one("Telefon der Ansprechperson", 50),
        "raum" => one("Raum", 60),
        "ort" => one("Ort (Anschrift)", 200),
        "jc_name" | "sc_name" => one("Name", NAME),
        "jc_code" | "sc_code" => one("Kürzel", 20),
        "jc_street" => one("Straße und Hausnummer", NAME),
        "jc_postcode" => one("PLZ", 10),
        "jc_city" | "sc_city" => one("Ort", 80),
        "jc_phone" | "sc_phone" => one("Telefon", 50),
        "jc_email" => one("E-Mail", 254),
        "jc_dpo" => one("Datenschutzbeauftragte/r (Kontakt)", 200),
        "jc_authority" => one("Aufsichtsbehörde", 200),
        "datum" => one("Datum", SHORT),
        "von" => one("Von", SHORT),
        "bis" => one("Bis", SHORT),
        "period_start" => one("Beginn des Zeitraums", SHORT),
        "period_end" => one("Ende des Zeitraums", SHORT),
        "deletion_deadline" => one("Löschfrist", SHORT),
        "authority_notified_on" => one("Anzeige bei der Aufsichtsbehörde am", SHORT),
        "agreed_on" => one("Dienstvereinbarung vom", SHORT),
        "reference" => one("Aktenzeichen oder Bezeichnung der Dienstvereinbarung", NAME),
        "objection_on" => one("Widerspruch eingegangen am", SHORT),
        "rueckruf_datum" => one("Rückruf am", SHORT),
        "rueckruf_zeit" => one("Rückruf um", SHORT),
        "uhrzeit" => one("Uhrzeit", SHORT),
        "window_start" => one("Anrufzeit von", SHORT),
        "window_end" => one("Anrufzeit bis", SHORT),
        "attempts_per_day" => one("Versuche pro Tag", SHORT),
        "attempts_total" => one("Versuche insgesamt", SHORT),
        "lead_days" => one("Wartefrist nach Versand der Vorabinformation (Tage)", SHORT),
        "tage" => one(
            "Aufbewahrung der Ergebnisse nach der Übergabe (Tage)",
            SHORT,
        ),
        "contact_weeks" => one(
            "Letzter persönlicher Kontakt vor mindestens (Wochen)",
            SHORT,
        ),
        "contact_weeks_under_25" => one("Unter 25: letzter Kontakt vor mindestens (Wochen)", SHORT),
        _ => FieldRule {
            label: "Eingabe",
            max: 200,
            lines: Lines::One,
            machine: false,
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The field names in the templates and the script: `name="…"` and the
    /// first argument of the field macros.
    fn names_in_templates() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let pattern =
            regex::Regex::new(r#"name="([a-z_0-9]+)"|m::[a-z_]+\("([a-z_0-9]+)""#).unwrap();
        let mut names = Vec::new();
        let mut dirs = vec![root.join("templates"), root.join("static")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "html" || e == "js") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for c in pattern.captures_iter(&text) {
                        let name = c.get(1).or(c.get(2)).unwrap().as_str().to_string();
                        names.push(name);
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    #[test]
    fn every_field_the_templates_name_has_its_own_rule() {
        let names = names_in_templates();
        assert!(names.len() > 60, "{names:?}");
        // `datei` is a file (checked by the import), `viewport` a meta tag.
        let missing: Vec<&String> = names
            .iter()
            .filter(|n| !matches!(n.as_str(), "datei" | "viewport" | "csrf-token"))
            .filter(|n| rule(n).label == "Eingabe")
            .collect();
        assert!(missing.is_empty(), "fields without a rule: {missing:?}");
    }

    #[test]
    fn typed_fields_have_a_length_a_person_can_type() {
        for name in names_in_templates() {
            let r = rule(&name);
            assert!(r.max >= 10 && r.max <= 200_000, "{name}: {}", r.max);
            if !r.machine {
                assert!(!r.label.is_empty(), "{name}");
            }
        }
        assert_eq!(rule("name").max, NAME);
        assert!(rule("zustand").machine);
    }
}
