//! Public holidays per Bundesland: nobody is called on one in their state.
//! Fixed days, days counted from Easter Sunday (Gauss's algorithm, Gregorian
//! calendar), and the regional ones, with the years they began.

use jiff::ToSpan;
use jiff::civil::{Date, Weekday, date};

/// Easter Sunday of `year` (Gregorian; anonymous Gregorian algorithm).
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    date(year, month as i8, day as i8)
}

fn states(list: &[&str], state: &str) -> bool {
    list.contains(&state)
}

/// The public holidays of `year` in `state` (Bundesland code such as `NW`),
/// with their German names, in date order.
pub fn holidays(year: i16, state: &str) -> Vec<(Date, &'static str)> {
    let easter = easter_sunday(year);
    let from_easter = |days: i32| easter.checked_add(days.days()).unwrap_or(easter);
    let mut out: Vec<(Date, &'static str)> = vec![
        (date(year, 1, 1), "Neujahr"),
        (from_easter(-2), "Karfreitag"),
        (from_easter(1), "Ostermontag"),
        (date(year, 5, 1), "Tag der Arbeit"),
        (from_easter(39), "Christi Himmelfahrt"),
        (from_easter(50), "Pfingstmontag"),
        (date(year, 10, 3), "Tag der Deutschen Einheit"),
        (date(year, 12, 25), "1. Weihnachtstag"),
        (date(year, 12, 26), "2. Weihnachtstag"),
    ];
    if states(&["BW", "BY", "ST"], state) {
        out.push((date(year, 1, 6), "Heilige Drei Könige"));
    }
    if (state == "BE" && year >= 2019) || (state == "MV" && year >= 2023) {
        out.push((date(year, 3, 8), "Internationaler Frauentag"));
    }
    if state == "BE" && (year == 2020 || year == 2025) {
        out.push((date(year, 5, 8), "Tag der Befreiung"));
    }
    if state == "BB" {
        out.push((easter, "Ostersonntag"));
        out.push((from_easter(49), "Pfingstsonntag"));
    }
    if states(&["BW", "BY", "HE", "NW", "RP", "SL"], state) {
        out.push((from_easter(60), "Fronleichnam"));
    }
    if state == "SL" {
        out.push((date(year, 8, 15), "Mariä Himmelfahrt"));
    }
    if state == "TH" && year >= 2019 {
        out.push((date(year, 9, 20), "Weltkindertag"));
    }
    let reformation_always = ["BB", "MV", "SN", "ST", "TH"];
    let reformation_since_2018 = ["HB", "HH", "NI", "SH"];
    if states(&reformation_always, state)
        || (year >= 2018 && states(&reformation_since_2018, state))
        || year == 2017
    {
        out.push((date(year, 10, 31), "Reformationstag"));
    }
    if states(&["BW", "BY", "NW", "RP", "SL"], state) {
        out.push((date(year, 11, 1), "Allerheiligen"));
    }
    if state == "SN" {
        // The Wednesday before 23 November.
        let mut d = date(year, 11, 22);
        while d.weekday() != Weekday::Wednesday {
            d = d.yesterday().unwrap_or(d);
        }
        out.push((d, "Buß- und Bettag"));
    }
    out.sort();
    out
}

/// The holiday's name if `day` is a public holiday in `state`.
pub fn holiday(day: Date, state: &str) -> Option<&'static str> {
    holidays(day.year(), state)
        .into_iter()
        .find(|(d, _)| *d == day)
        .map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_on_known_dates() {
        for (year, month, day) in [
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
        ] {
            assert_eq!(easter_sunday(year), date(year, month, day), "{year}");
        }
    }

    #[test]
    fn holidays_on_known_dates() {
        // 2026: Karfreitag 03.04., Ostermontag 06.04., Himmelfahrt 14.05.,
        // Pfingstmontag 25.05., Fronleichnam 04.06. (NW, not HH).
        assert_eq!(holiday(date(2026, 4, 3), "HH"), Some("Karfreitag"));
        assert_eq!(holiday(date(2026, 4, 6), "BE"), Some("Ostermontag"));
        assert_eq!(
            holiday(date(2026, 5, 14), "SN"),
            Some("Christi Himmelfahrt")
        );
        assert_eq!(holiday(date(2026, 5, 25), "BW"), Some("Pfingstmontag"));
        assert_eq!(holiday(date(2026, 6, 4), "NW"), Some("Fronleichnam"));
        assert_eq!(holiday(date(2026, 6, 4), "HH"), None);
        // Regional fixed days.
        assert_eq!(holiday(date(2026, 1, 6), "BY"), Some("Heilige Drei Könige"));
        assert_eq!(holiday(date(2026, 1, 6), "NW"), None);
        assert_eq!(
            holiday(date(2026, 3, 8), "BE"),
            Some("Internationaler Frauentag")
        );
        assert_eq!(holiday(date(2022, 3, 8), "MV"), None);
        assert_eq!(
            holiday(date(2023, 3, 8), "MV"),
            Some("Internationaler Frauentag")
        );
        assert_eq!(holiday(date(2026, 8, 15), "SL"), Some("Mariä Himmelfahrt"));
        assert_eq!(holiday(date(2026, 9, 20), "TH"), Some("Weltkindertag"));
        assert_eq!(holiday(date(2026, 10, 31), "NI"), Some("Reformationstag"));
        assert_eq!(holiday(date(2016, 10, 31), "NI"), None);
        assert_eq!(holiday(date(2017, 10, 31), "NW"), Some("Reformationstag"));
        assert_eq!(holiday(date(2026, 11, 1), "RP"), Some("Allerheiligen"));
        // Buß- und Bettag: 18.11.2026, 22.11.2023, 20.11.2024 in Sachsen only.
        assert_eq!(holiday(date(2026, 11, 18), "SN"), Some("Buß- und Bettag"));
        assert_eq!(holiday(date(2023, 11, 22), "SN"), Some("Buß- und Bettag"));
        assert_eq!(holiday(date(2024, 11, 20), "SN"), Some("Buß- und Bettag"));
        assert_eq!(holiday(date(2026, 11, 18), "BY"), None);
        assert_eq!(holiday(date(2025, 5, 8), "BE"), Some("Tag der Befreiung"));
        // Nationwide.
        assert_eq!(
            holiday(date(2026, 10, 3), "HB"),
            Some("Tag der Deutschen Einheit")
        );
        assert_eq!(holiday(date(2026, 12, 26), "ST"), Some("2. Weihnachtstag"));
        assert_eq!(holiday(date(2026, 12, 24), "ST"), None);
        // Counts: NW has 11 in 2026, Berlin 10, Hamburg 10, Bayern 12 (without
        // Mariä Himmelfahrt, which holds only in Catholic communities).
        assert_eq!(holidays(2026, "NW").len(), 11);
        assert_eq!(holidays(2026, "BE").len(), 10);
        assert_eq!(holidays(2026, "HH").len(), 10);
        assert_eq!(holidays(2026, "BY").len(), 12);
    }
}
