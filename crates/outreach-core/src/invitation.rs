//! The invitation to a personal appointment (Einladung, § 59 SGB II with
//! § 309 SGB III): the five purposes the law allows and the check of what a
//! pAp enters. A letter without a purpose, a date, a time, a place, a room or
//! a contact person is refused with a German message per field. Pure.

use crate::date::{format_de_date, parse_de_date};
use jiff::civil::{Date, Time, Weekday};

/// The purposes of § 309 Abs. 2 SGB III.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    CareerGuidance,
    Placement,
    ActivePromotion,
    BenefitDecisions,
    Eligibility,
}

impl Purpose {
    pub const ALL: [Purpose; 5] = [
        Purpose::CareerGuidance,
        Purpose::Placement,
        Purpose::ActivePromotion,
        Purpose::BenefitDecisions,
        Purpose::Eligibility,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Purpose::CareerGuidance => "career_guidance",
            Purpose::Placement => "placement",
            Purpose::ActivePromotion => "active_promotion",
            Purpose::BenefitDecisions => "benefit_decisions",
            Purpose::Eligibility => "eligibility",
        }
    }

    pub fn parse(code: &str) -> Option<Purpose> {
        Purpose::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Purpose::CareerGuidance => "Berufsberatung",
            Purpose::Placement => "Vermittlung in Ausbildung oder Arbeit",
            Purpose::ActivePromotion => "Vorbereitung aktiver Arbeitsförderungsleistungen",
            Purpose::BenefitDecisions => "Vorbereitung von Entscheidungen im Leistungsverfahren",
            Purpose::Eligibility => "Prüfung des Vorliegens der Leistungsvoraussetzungen",
        }
    }

    /// The number in § 309 Abs. 2 SGB III.
    pub fn paragraph(self) -> u8 {
        match self {
            Purpose::CareerGuidance => 1,
            Purpose::Placement => 2,
            Purpose::ActivePromotion => 3,
            Purpose::BenefitDecisions => 4,
            Purpose::Eligibility => 5,
        }
    }
}

/// What the pAp entered, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvitationInput {
    pub purpose: String,
    /// TT.MM.JJJJ
    pub date: String,
    /// HH:MM
    pub time: String,
    pub place: String,
    pub room: String,
    pub contact: String,
    pub contact_phone: String,
    /// One document per line.
    pub documents: String,
}

/// A checked invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub purpose: Purpose,
    pub date: Date,
    pub time: Time,
    pub place: String,
    pub room: String,
    pub contact: String,
    pub contact_phone: String,
    pub documents: Vec<String>,
}

impl Appointment {
    /// `Dienstag, 02.02.2027, 09:30 Uhr`
    pub fn when(&self) -> String {
        let day = crate::calls::WEEKDAYS
            .iter()
            .find(|(w, _, _)| *w == self.date.weekday())
            .map_or("", |(_, _, name)| name);
        format!(
            "{day}, {}, {:02}:{:02} Uhr",
            format_de_date(self.date),
            self.time.hour(),
            self.time.minute()
        )
    }
}

/// A problem with one field: (field id, label, message).
pub type FieldProblem = (&'static str, &'static str, String);

/// Days between the letter and the appointment at least, so that the
/// letter arrives in time.
pub const MIN_LEAD_DAYS: i32 = 3;

const TEXT_MAX: usize = 200;

fn clean(
    raw: &str,
    id: &'static str,
    label: &'static str,
    problems: &mut Vec<FieldProblem>,
) -> String {
    let value = raw.trim();
    if value.chars().count() > TEXT_MAX {
        problems.push((id, label, format!("höchstens {TEXT_MAX} Zeichen.")));
    }
    if value.chars().any(char::is_control) {
        problems.push((id, label, "enthält unzulässige Steuerzeichen.".into()));
    }
    value.to_string()
}

/// Checks an invitation for a letter dated `letter_date`; every problem is
/// named with its field.
pub fn check(input: &InvitationInput, letter_date: Date) -> Result<Appointment, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let purpose = Purpose::parse(input.purpose.trim());
    if purpose.is_none() {
        problems.push((
            "zweck",
            "Zweck",
            "Bitte wählen Sie einen der fünf Zwecke nach § 309 Abs. 2 SGB III.".into(),
        ));
    }
    let date = match input.date.trim() {
        "" => {
            problems.push((
                "datum",
                "Datum",
                "Bitte geben Sie das Datum des Termins an (TT.MM.JJJJ).".into(),
            ));
            None
        }
        raw => match parse_de_date(raw) {
            Err(_) => {
                problems.push((
                    "datum",
                    "Datum",
                    "Bitte geben Sie das Datum als TT.MM.JJJJ an, zum Beispiel 02.02.2027.".into(),
                ));
                None
            }
            Ok(d) if (d - letter_date).get_days() < MIN_LEAD_DAYS => {
                problems.push((
                    "datum",
                    "Datum",
                    format!(
                        "Der Termin muss mindestens {MIN_LEAD_DAYS} Tage nach dem Briefdatum ({}) liegen, damit der Brief rechtzeitig ankommt.",
                        format_de_date(letter_date)
                    ),
                ));
                None
            }
            Ok(d) if matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) => {
                problems.push((
                    "datum",
                    "Datum",
                    "Der Termin muss an einem Werktag (Montag bis Freitag) liegen.".into(),
                ));
                None
            }
            Ok(d) => Some(d),
        },
    };
    let time = match input.time.trim() {
        "" => {
            problems.push((
                "uhrzeit",
                "Uhrzeit",
                "Bitte geben Sie die Uhrzeit an (HH:MM).".into(),
            ));
            None
        }
        raw => match raw
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<i8>().ok()?, m.parse::<i8>().ok()?)))
            .filter(|_| raw.len() == 5)
            .and_then(|(h, m)| Time::new(h, m, 0, 0).ok())
        {
            Some(t) if t.hour() >= 7 && (t.hour() < 18 || (t.hour() == 18 && t.minute() == 0)) => {
                Some(t)
            }
            Some(_) => {
                problems.push((
                    "uhrzeit",
                    "Uhrzeit",
                    "Termine sind zwischen 07:00 und 18:00 Uhr möglich.".into(),
                ));
                None
            }
            None => {
                problems.push((
                    "uhrzeit",
                    "Uhrzeit",
                    "Bitte geben Sie die Uhrzeit als HH:MM an, zum Beispiel 09:30.".into(),
                ));
                None
            }
        },
    };
    let place = clean(&input.place, "ort", "Ort", &mut problems);
    if place.is_empty() {
        problems.push((
            "ort",
            "Ort",
            "Bitte geben Sie die Anschrift an, an der der Termin stattfindet.".into(),
        ));
    }
    let room = clean(&input.room, "raum", "Raum", &mut problems);
    if room.is_empty() {
        problems.push(("raum", "Raum", "Bitte geben Sie den Raum an.".into()));
    }
    let contact = clean(
        &input.contact,
        "ansprechperson",
        "Ansprechperson",
        &mut problems,
    );
    if contact.is_empty() {
        problems.push((
            "ansprechperson",
            "Ansprechperson",
            "Bitte geben Sie an, wer den Termin führt.".into(),
        ));
    }
    let contact_phone = clean(&input.contact_phone, "telefon", "Telefon", &mut problems);
    let mut documents = Vec::new();
    for line in input.documents.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.chars().count() > TEXT_MAX || line.chars().any(char::is_control) {
            problems.push((
                "unterlagen",
                "Unterlagen",
                format!("je Zeile höchstens {TEXT_MAX} Zeichen, ohne Steuerzeichen."),
            ));
            break;
        }
        documents.push(line.to_string());
    }
    if documents.len() > 10 {
        problems.push((
            "unterlagen",
            "Unterlagen",
            "höchstens zehn Unterlagen.".into(),
        ));
    }
    match (purpose, date, time) {
        (Some(purpose), Some(date), Some(time)) if problems.is_empty() => Ok(Appointment {
            purpose,
            date,
            time,
            place,
            room,
            contact,
            contact_phone,
            documents,
        }),
        _ => Err(problems),
    }
}

/// Checks an appointment slot (date, time, place, room) as an invitation
/// on `today` would: the same rules, the same messages.
pub fn check_slot(
    date: &str,
    time: &str,
    place: &str,
    room: &str,
    today: Date,
) -> Result<(Date, Time, String, String), Vec<FieldProblem>> {
    let input = InvitationInput {
        purpose: Purpose::Placement.code().into(),
        date: date.into(),
        time: time.into(),
        place: place.into(),
        room: room.into(),
        contact: "–".into(),
        ..InvitationInput::default()
    };
    check(&input, today)
        .map(|a| (a.date, a.time, a.place, a.room))
        .map_err(|problems| {
            problems
                .into_iter()
                .filter(|p| matches!(p.0, "datum" | "uhrzeit" | "ort" | "raum"))
                .collect()
        })
}

/// `HH:MM`
pub fn format_time(time: Time) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn input() -> InvitationInput {
        InvitationInput {
            purpose: "placement".into(),
            date: "02.02.2027".into(),
            time: "09:30".into(),
            place: "Jobcenter Oberhausen, Marktstraße 1, 46045 Oberhausen".into(),
            room: "Raum 2.14".into(),
            contact: "Frau Beispiel".into(),
            contact_phone: "0208 12345-214".into(),
            documents: "Personalausweis\n\nLebenslauf\n".into(),
        }
    }

    #[test]
    fn a_complete_invitation_is_accepted() {
        let a = check(&input(), date(2027, 1, 20)).unwrap();
        assert_eq!(a.purpose, Purpose::Placement);
        assert_eq!(a.documents, vec!["Personalausweis", "Lebenslauf"]);
        assert_eq!(a.when(), "Dienstag, 02.02.2027, 09:30 Uhr");
    }

    #[test]
    fn without_purpose_or_date_it_is_refused() {
        let no_purpose = InvitationInput {
            purpose: String::new(),
            ..input()
        };
        let problems = check(&no_purpose, date(2027, 1, 20)).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "zweck");
        let no_date = InvitationInput {
            date: String::new(),
            ..input()
        };
        assert_eq!(
            check(&no_date, date(2027, 1, 20)).unwrap_err()[0].0,
            "datum"
        );
        let unknown = InvitationInput {
            purpose: "sanction".into(),
            ..input()
        };
        assert_eq!(
            check(&unknown, date(2027, 1, 20)).unwrap_err()[0].0,
            "zweck"
        );
    }

    #[test]
    fn dates_times_and_places_are_checked() {
        let letter = date(2027, 1, 20);
        for (field, value, expected) in [
            ("datum", "31.02.2027", "datum"),
            ("datum", "21.01.2027", "datum"),
            ("datum", "30.01.2027", "datum"),
            ("uhrzeit", "25:00", "uhrzeit"),
            ("uhrzeit", "06:30", "uhrzeit"),
            ("uhrzeit", "9.30", "uhrzeit"),
            ("ort", "", "ort"),
            ("raum", " ", "raum"),
            ("ansprechperson", "", "ansprechperson"),
        ] {
            let mut i = input();
            match field {
                "datum" => i.date = value.into(),
                "uhrzeit" => i.time = value.into(),
                "ort" => i.place = value.into(),
                "raum" => i.room = value.into(),
                _ => i.contact = value.into(),
            }
            let problems = check(&i, letter).unwrap_err();
            assert_eq!(problems[0].0, expected, "{field} = {value:?}");
        }
        let mut control = input();
        control.place = "Markt\u{7}straße".into();
        assert_eq!(check(&control, letter).unwrap_err()[0].0, "ort");
    }
}
