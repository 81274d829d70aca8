//! The record of processing activities (Art. 30 GDPR) for "Telefonische
//! Aktualisierung der Bewerberdaten", written from the job center's settings
//! and its mandates: the same sections on the page and from the command line.

use crate::customer::{FieldGroup, parse_field_list};
use crate::date::{format_de_date, iso_to_de};
use jiff::civil::Date;

/// The controller (the job center) as the record names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Controller {
    pub name: String,
    pub street: String,
    pub postcode: String,
    pub city: String,
    pub phone: String,
    pub email: String,
    pub dpo_contact: String,
    pub supervisory_authority: String,
}

/// A mandate as the record names it (stored forms: ISO dates, field codes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MandateEntry {
    pub service_center: String,
    pub title: String,
    pub allowed_fields: String,
    pub period_start: String,
    pub period_end: String,
    pub deletion_deadline: String,
    pub authority_notified_on: Option<String>,
    pub state_label: String,
}

/// Everything the record is written from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecordInput {
    pub controller: Controller,
    pub mandates: Vec<MandateEntry>,
    pub result_retention_days: i64,
    pub audit_months: i32,
}

/// One section: a heading and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub lines: Vec<String>,
}

pub const PROCESSING_NAME: &str = "Telefonische Aktualisierung der Bewerberdaten";

/// The technical and organisational measures the system itself enforces.
const MEASURES: [&str; 11] = [
    "Zugriff nur nach Rolle und Organisation; jede Abfrage von Kundendaten ist in der Datenhaltung auf Jobcenter bzw. aktiven Auftrag beschränkt (Need-to-know).",
    "Service-Center sehen nur den ihnen zugeteilten Fall und nur die im Auftrag freigegebenen Felder; ohne aktiven Auftrag nichts.",
    "Systemadministration ohne Zugriff auf Kundendaten.",
    "Passwörter mit Argon2id gespeichert; keine Standardkennwörter; Sperre nach wiederholten Fehlanmeldungen; serverseitige Sitzungen mit Zeitablauf.",
    "Schutz vor Cross-Site-Request-Forgery in jedem Formular; TLS im Produktivbetrieb.",
    "Jeder Lese- und Schreibzugriff auf Kundendaten, jeder Export, jede Anmeldung und jede Rechteänderung wird protokolliert (wer, Rolle, wann, Datensatz, Felder, Zweck, Client).",
    "Das Protokoll ist eine Hash-Kette: Änderungen und Lücken werden erkannt; die Kette wird täglich geprüft, ein Bruch wird der/dem Datenschutzbeauftragten angezeigt; Ereignisse können in der Anwendung weder geändert noch gelöscht werden, außer durch die Aufbewahrungsfrist.",
    "Löschung nach Frist täglich und auf Befehl (mit Probelauf); gelöschte Daten werden aus der Datenbank entfernt, freigegebene Seiten überschrieben (SQLite secure_delete).",
    "Einschränkung der Verarbeitung: eingeschränkte Personen verlassen jede Anrufliste und sind nur für Datenschutzbeauftragte und Jobcenter-Administration sichtbar.",
    "Bestrittene Werte werden gekennzeichnet und nicht überschrieben (§ 84 SGB X).",
    "Datensicherung im laufenden Betrieb mit Prüfung der Sicherung; Wiederherstellung geprüft.",
];

/// Writes the record's sections.
pub fn processing_record(input: &RecordInput, generated_on: Date) -> Vec<Section> {
    let c = &input.controller;
    let place = format!("{} {}", c.postcode.trim(), c.city.trim());
    let address = [c.street.trim(), place.trim()]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    let or_missing = |s: &str| {
        if s.trim().is_empty() {
            "(nicht hinterlegt)".to_string()
        } else {
            s.trim().to_string()
        }
    };
    let mut sections = vec![
        Section {
            title: "Bezeichnung der Verarbeitungstätigkeit",
            lines: vec![
                PROCESSING_NAME.to_string(),
                format!("Stand: {}", format_de_date(generated_on)),
            ],
        },
        Section {
            title: "Verantwortlicher (Art. 30 Abs. 1 lit. a DSGVO)",
            lines: vec![
                c.name.clone(),
                format!("Anschrift: {}", or_missing(&address)),
                format!("Telefon: {}", or_missing(&c.phone)),
                format!("E-Mail: {}", or_missing(&c.email)),
                format!("Datenschutzbeauftragte/r: {}", or_missing(&c.dpo_contact)),
                format!("Aufsichtsbehörde: {}", or_missing(&c.supervisory_authority)),
            ],
        },
        Section {
            title: "Zwecke und Rechtsgrundlage (lit. b)",
            lines: {
                let mut lines = vec![
                    "Aktualisierung der Bewerberdaten (Erreichbarkeit, Anschrift, Status, Zielberuf, Verfügbarkeit) für die Vermittlung und Eingliederung in Arbeit; Vorbereitung persönlicher Einladungen durch die pAp (§ 59 SGB II i. V. m. § 309 SGB III).".to_string(),
                    "Rechtsgrundlage: Art. 6 Abs. 1 lit. e DSGVO i. V. m. §§ 67a ff. SGB X, § 50 SGB II; Auftragsverarbeitung durch Service-Center nach § 80 SGB X und Art. 28 DSGVO. Die Teilnahme am Gespräch ist freiwillig.".to_string(),
                ];
                lines.extend(
                    input
                        .mandates
                        .iter()
                        .map(|m| format!("Auftrag „{}“", m.title)),
                );
                lines
            },
        },
        Section {
            title: "Kategorien betroffener Personen (lit. c)",
            lines: vec![
                "Kundinnen und Kunden des Jobcenters (erwerbsfähige Leistungsberechtigte nach dem SGB II), die im Kundenexport des Jobcenters stehen.".to_string(),
            ],
        },
        Section {
            title: "Kategorien personenbezogener Daten (lit. c)",
            lines: data_categories(input),
        },
        Section {
            title: "Empfänger (lit. d)",
            lines: recipients(input),
        },
        Section {
            title: "Übermittlung an Drittländer (lit. e)",
            lines: vec!["Keine. Die Daten werden nur in der eigenen Datenbank des Betreibers in Deutschland verarbeitet.".to_string()],
        },
        Section {
            title: "Fristen für die Löschung (lit. f)",
            lines: deletion_periods(input),
        },
        Section {
            title: "Technische und organisatorische Maßnahmen (lit. g, Art. 32 DSGVO)",
            lines: MEASURES.iter().map(|m| m.to_string()).collect(),
        },
    ];
    sections.retain(|s| !s.lines.is_empty());
    sections
}

fn data_categories(input: &RecordInput) -> Vec<String> {
    let mut released: Vec<FieldGroup> = Vec::new();
    for m in &input.mandates {
        for f in parse_field_list(&m.allowed_fields) {
            if !released.contains(&f) {
                released.push(f);
            }
        }
    }
    released.sort_by_key(|f| FieldGroup::ALL.iter().position(|g| g == f));
    let mut lines = vec![
        "Stammdaten aus dem Kundenexport: Kundennummer, BG-Nummer, Anrede, Vor- und Nachname, Geburtsdatum, Anschrift, Telefon, Mobil, E-Mail, Status, arbeitslos seit, Zielberuf, pAp-Kennung, letzter Kontakt, Bundesland.".to_string(),
        if released.is_empty() {
            "An Service-Center freigegeben: nur Kundennummer und Name (kein Auftrag mit weiteren Feldern).".to_string()
        } else {
            format!(
                "An Service-Center freigegeben (nach den Aufträgen): Kundennummer, Name, {}.",
                released
                    .iter()
                    .map(|f| f.label())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        },
        "Anrufversuche (Zeitpunkt und Ergebnis), Gesprächsergebnis mit geänderten Angaben (alt → neu), Hinweise (nicht mehr arbeitslos, verzogen, Terminwunsch), Notiz der Gesprächsführung.".to_string(),
        "Gesundheit nur als „Einschränkung ja / nein / keine Angabe“, nie eine Diagnose.".to_string(),
        "Vorankündigungs- und Einladungsschreiben (Inhalt als Prüfsumme, Versanddatum), Widersprüche, bestrittene Werte, Einschränkungen der Verarbeitung.".to_string(),
        "Protokoll der Zugriffe (Benutzer, Rolle, Zeitpunkt, Datensatz, Felder, Zweck, Client).".to_string(),
    ];
    for m in &input.mandates {
        let fields = parse_field_list(&m.allowed_fields);
        lines.push(format!(
            "Auftrag „{}“ ({}): {}",
            m.title,
            m.service_center,
            if fields.is_empty() {
                "Kundennummer, Name".to_string()
            } else {
                format!(
                    "Kundennummer, Name, {}",
                    fields
                        .iter()
                        .map(|f| f.label())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        ));
    }
    lines
}

fn recipients(input: &RecordInput) -> Vec<String> {
    let mut lines = vec![
        "Persönliche Ansprechpartner/innen (pAp) und Fallmanagement des Jobcenters: die Gesprächsergebnisse ihrer eigenen Kundinnen und Kunden.".to_string(),
        "Jobcenter-Administration: Import, Aktionen, Schreiben, Berichte (Berichte ohne Namen).".to_string(),
    ];
    if input.mandates.is_empty() {
        lines.push("Auftragsverarbeiter: keine (es besteht kein Auftrag).".to_string());
    }
    for m in &input.mandates {
        lines.push(format!(
            "Auftragsverarbeiter {} (§ 80 SGB X), Auftrag „{}“, {} bis {}, Status {}; Anzeige an die Aufsichtsbehörde: {}.",
            m.service_center,
            m.title,
            iso_to_de(&m.period_start),
            iso_to_de(&m.period_end),
            m.state_label,
            m.authority_notified_on
                .as_deref()
                .map(iso_to_de)
                .unwrap_or_else(|| "noch nicht erfolgt".to_string())
        ));
    }
    lines
}

fn deletion_periods(input: &RecordInput) -> Vec<String> {
    let mut lines: Vec<String> = input
        .mandates
        .iter()
        .map(|m| {
            format!(
                "Auftrag „{}“: Fälle, Anrufversuche, Gesprächsentwürfe und gespeicherte Schreiben des Service-Centers werden nach dem {} gelöscht (Auftragsende {} zuzüglich der vereinbarten Frist).",
                m.title,
                iso_to_de(&m.deletion_deadline),
                iso_to_de(&m.period_end)
            )
        })
        .collect();
    lines.push(format!(
        "Gesprächsergebnisse: {} Tage nach der Übergabe an das Jobcenter (Export oder Schnittstelle); nicht übergebene Ergebnisse bleiben bis zur Übergabe.",
        input.result_retention_days
    ));
    lines.push(format!(
        "Protokoll der Zugriffe: {} Monate.",
        input.audit_months
    ));
    lines.push(
        "Statistik der Aktionen bleibt ohne Personenbezug (nur Zählwerte) erhalten.".to_string(),
    );
    lines
}

/// The record as plain text (the command's output).
pub fn record_text(sections: &[Section]) -> String {
    let mut out = String::from("Verzeichnis von Verarbeitungstätigkeiten (Art. 30 DSGVO)\n\n");
    for s in sections {
        out.push_str(s.title);
        out.push('\n');
        out.push_str(&"-".repeat(s.title.chars().count()));
        out.push('\n');
        for line in &s.lines {
            out.push_str("- ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RecordInput {
        RecordInput {
            controller: Controller {
                name: "Jobcenter Oberhausen".into(),
                street: "Marktstraße 1".into(),
                postcode: "46045".into(),
                city: "Oberhausen".into(),
                dpo_contact: "datenschutz@example.org".into(),
                ..Controller::default()
            },
            mandates: vec![MandateEntry {
                service_center: "Service-Center Ruhr".into(),
                title: "Aktualisierung 2027".into(),
                allowed_fields: "salutation,phone".into(),
                period_start: "2027-01-04".into(),
                period_end: "2027-03-31".into(),
                deletion_deadline: "2027-06-30".into(),
                authority_notified_on: None,
                state_label: "aktiv".into(),
            }],
            result_retention_days: 30,
            audit_months: 12,
        }
    }

    #[test]
    fn the_record_names_what_the_mandates_set() {
        let sections = processing_record(&input(), Date::constant(2027, 1, 5));
        let text = record_text(&sections);
        for expected in [
            "Telefonische Aktualisierung der Bewerberdaten",
            "Stand: 05.01.2027",
            "Jobcenter Oberhausen",
            "Marktstraße 1, 46045 Oberhausen",
            "datenschutz@example.org",
            "Telefon: (nicht hinterlegt)",
            "Auftragsverarbeiter Service-Center Ruhr (§ 80 SGB X), Auftrag „Aktualisierung 2027“, 04.01.2027 bis 31.03.2027",
            "Anzeige an die Aufsichtsbehörde: noch nicht erfolgt",
            "Kundennummer, Name, Anrede, Telefon und Mobil",
            "nach dem 30.06.2027 gelöscht",
            "30 Tage nach der Übergabe",
            "Protokoll der Zugriffe: 12 Monate.",
            "Hash-Kette",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        let released = text
            .lines()
            .find(|l| l.starts_with("- An Service-Center freigegeben"))
            .unwrap_or_default();
        assert!(released.contains("Telefon und Mobil"), "{released}");
        assert!(
            !released.contains("E-Mail"),
            "e-mail was not released: {released}"
        );
    }

    #[test]
    fn without_a_mandate_there_is_no_processor() {
        let mut i = input();
        i.mandates.clear();
        let text = record_text(&processing_record(&i, Date::constant(2027, 1, 5)));
        assert!(text.contains("Auftragsverarbeiter: keine"), "{text}");
    }
}
