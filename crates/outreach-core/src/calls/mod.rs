//! Calling rules: the calling window (Anrufzeiten) — days of the week and
//! hours, in Europe/Berlin; the default is Monday to Friday, 08:00–20:00, and
//! a job center may only narrow it — public holidays per Bundesland
//! ([`holidays`]) and when a case is next due ([`rules`]).

pub mod holidays;
pub mod rules;

use jiff::civil::{Time, Weekday};

/// The days of the week with their German abbreviations, Monday first.
pub const WEEKDAYS: [(Weekday, &str, &str); 7] = [
    (Weekday::Monday, "Mo", "Montag"),
    (Weekday::Tuesday, "Di", "Dienstag"),
    (Weekday::Wednesday, "Mi", "Mittwoch"),
    (Weekday::Thursday, "Do", "Donnerstag"),
    (Weekday::Friday, "Fr", "Freitag"),
    (Weekday::Saturday, "Sa", "Samstag"),
    (Weekday::Sunday, "So", "Sonntag"),
];

/// When calls may be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingWindow {
    days: Vec<Weekday>,
    start: Time,
    end: Time,
}

/// A rule the window breaks: the form field and the German message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowProblem {
    pub field: &'static str,
    pub message: String,
}

fn parse_time(raw: &str) -> Option<Time> {
    let (h, m) = raw.trim().trim_end_matches(" Uhr").split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

fn hhmm(t: Time) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

impl Default for CallingWindow {
    fn default() -> CallingWindow {
        CallingWindow {
            days: WEEKDAYS[..5].iter().map(|(d, _, _)| *d).collect(),
            start: Time::constant(8, 0, 0, 0),
            end: Time::constant(20, 0, 0, 0),
        }
    }
}

impl CallingWindow {
    /// Reads a window from day codes (`Mo`, `Di`, …) and times `HH:MM`, and
    /// checks that it lies within the default window.
    pub fn parse(
        day_codes: &[&str],
        start: &str,
        end: &str,
    ) -> Result<CallingWindow, Vec<WindowProblem>> {
        let outer = CallingWindow::default();
        let mut problems = Vec::new();
        let mut days = Vec::new();
        for (day, code, name) in WEEKDAYS {
            if day_codes.iter().any(|c| c.trim() == code) {
                if outer.days.contains(&day) {
                    days.push(day);
                } else {
                    problems.push(WindowProblem {
                        field: "window_days",
                        message: format!("Am {name} darf nicht angerufen werden."),
                    });
                }
            }
        }
        if days.is_empty() && problems.is_empty() {
            problems.push(WindowProblem {
                field: "window_days",
                message: "Bitte wählen Sie mindestens einen Anruftag.".into(),
            });
        }
        let mut time = |raw: &str, field: &'static str| {
            let parsed = parse_time(raw);
            if parsed.is_none() {
                problems.push(WindowProblem {
                    field,
                    message: "Bitte geben Sie eine Uhrzeit im Format HH:MM an.".into(),
                });
            }
            parsed
        };
        let (start, end) = (time(start, "window_start"), time(end, "window_end"));
        if let (Some(start), Some(end)) = (start, end) {
            if start < outer.start || end > outer.end {
                problems.push(WindowProblem {
                    field: "window_start",
                    message: "Angerufen werden darf nur zwischen 08:00 und 20:00 Uhr.".into(),
                });
            } else if start >= end {
                problems.push(WindowProblem {
                    field: "window_end",
                    message: "Das Ende der Anrufzeit muss nach ihrem Beginn liegen.".into(),
                });
            }
            if problems.is_empty() {
                return Ok(CallingWindow { days, start, end });
            }
        }
        Err(problems)
    }

    /// Reads the stored form (`Mo,Di,…`, `HH:MM`, `HH:MM`); the default when unreadable.
    pub fn from_stored(days: &str, start: &str, end: &str) -> CallingWindow {
        let codes: Vec<&str> = days.split(',').collect();
        CallingWindow::parse(&codes, start, end).unwrap_or_default()
    }

    pub fn stored_days(&self) -> String {
        WEEKDAYS
            .iter()
            .filter(|(d, _, _)| self.days.contains(d))
            .map(|(_, code, _)| *code)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn start(&self) -> String {
        hhmm(self.start)
    }

    pub fn end(&self) -> String {
        hhmm(self.end)
    }

    /// Whether this window lies inside `outer` (days and hours).
    pub fn within(&self, outer: &CallingWindow) -> bool {
        self.days.iter().all(|d| outer.days.contains(d))
            && self.start >= outer.start
            && self.end <= outer.end
    }

    /// Whether calls may be made at the instant `unix_seconds` (Berlin time;
    /// public holidays are the caller's business).
    pub fn open_at(&self, unix_seconds: i64) -> bool {
        let z = jiff::Timestamp::from_second(unix_seconds)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(crate::date::berlin());
        let t = z.time();
        self.days.contains(&z.weekday()) && t >= self.start && t < self.end
    }

    /// The first instant from `after` on at which the window is open (Berlin
    /// time; public holidays are the caller's business): `after` itself
    /// while it is open; `None` when no day of the next week is a calling
    /// day.
    pub fn next_open(&self, after: i64) -> Option<i64> {
        let berlin = crate::date::berlin();
        let first = crate::date::berlin_date(after);
        (0..8).find_map(|d| {
            let day = first.checked_add(jiff::Span::new().days(d)).ok()?;
            if !self.days.contains(&day.weekday()) {
                return None;
            }
            let at = |time: Time| {
                day.to_datetime(time)
                    .to_zoned(berlin.clone())
                    .ok()
                    .map(|z| z.timestamp().as_second())
            };
            let (start, end) = (at(self.start)?, at(self.end)?);
            (after < end).then_some(start.max(after))
        })
    }

    pub fn includes_day(&self, code: &str) -> bool {
        WEEKDAYS
            .iter()
            .any(|(d, c, _)| *c == code && self.days.contains(d))
    }

    /// As people read it: `Mo–Fr, 08:00–20:00 Uhr` or `Mo, Mi, Fr, 09:00–18:00 Uhr`.
    pub fn label(&self) -> String {
        let codes: Vec<&str> = WEEKDAYS
            .iter()
            .filter(|(d, _, _)| self.days.contains(d))
            .map(|(_, c, _)| *c)
            .collect();
        let positions: Vec<usize> = WEEKDAYS
            .iter()
            .enumerate()
            .filter(|(_, (d, _, _))| self.days.contains(d))
            .map(|(i, _)| i)
            .collect();
        let consecutive = positions.windows(2).all(|w| w[1] == w[0] + 1);
        let days = match (codes.first(), codes.last()) {
            (Some(first), Some(last)) if codes.len() > 2 && consecutive => {
                format!("{first}–{last}")
            }
            _ => codes.join(", "),
        };
        format!("{days}, {}–{} Uhr", self.start(), self.end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_window() {
        let w = CallingWindow::default();
        assert_eq!(w.label(), "Mo–Fr, 08:00–20:00 Uhr");
        assert_eq!(w.stored_days(), "Mo,Di,Mi,Do,Fr");
        assert_eq!(
            CallingWindow::from_stored("Mo,Di,Mi,Do,Fr", "08:00", "20:00"),
            w
        );
    }

    #[test]
    fn the_window_opens_next_on_its_next_day() {
        let berlin = |d: jiff::civil::Date, h: i8, m: i8| {
            d.at(h, m, 0, 0)
                .to_zoned(crate::date::berlin())
                .unwrap()
                .timestamp()
                .as_second()
        };
        let w = CallingWindow::parse(&["Mo", "Mi"], "09:00", "18:30").unwrap();
        // Tuesday 12.01.2027, 22:00: next Wednesday 09:00.
        let tuesday = jiff::civil::date(2027, 1, 12);
        let wednesday = jiff::civil::date(2027, 1, 13);
        assert_eq!(
            w.next_open(berlin(tuesday, 22, 0)),
            Some(berlin(wednesday, 9, 0))
        );
        // Wednesday 10:00, open: now. Wednesday 18:30, closed: Monday 09:00.
        assert_eq!(
            w.next_open(berlin(wednesday, 10, 0)),
            Some(berlin(wednesday, 10, 0))
        );
        assert_eq!(
            w.next_open(berlin(wednesday, 18, 30)),
            Some(berlin(jiff::civil::date(2027, 1, 18), 9, 0))
        );
        assert!(w.open_at(berlin(wednesday, 10, 0)) && !w.open_at(berlin(tuesday, 22, 0)));
    }

    #[test]
    fn narrower_windows_are_accepted() {
        let w = CallingWindow::parse(&["Mo", "Mi", "Fr"], "09:00", "18:30").unwrap();
        assert_eq!(w.label(), "Mo, Mi, Fr, 09:00–18:30 Uhr");
        assert!(w.includes_day("Mi") && !w.includes_day("Di"));
    }

    #[test]
    fn wider_or_broken_windows_are_refused() {
        let fields = |r: Result<CallingWindow, Vec<WindowProblem>>| -> Vec<&'static str> {
            r.unwrap_err().iter().map(|p| p.field).collect()
        };
        assert_eq!(
            fields(CallingWindow::parse(&["Sa"], "08:00", "20:00")),
            ["window_days"]
        );
        assert_eq!(
            fields(CallingWindow::parse(&[], "08:00", "20:00")),
            ["window_days"]
        );
        assert_eq!(
            fields(CallingWindow::parse(&["Mo"], "07:30", "20:00")),
            ["window_start"]
        );
        assert_eq!(
            fields(CallingWindow::parse(&["Mo"], "12:00", "11:00")),
            ["window_end"]
        );
        assert_eq!(
            fields(CallingWindow::parse(&["Mo"], "8 Uhr", "25:00")),
            ["window_start", "window_end"]
        );
    }
}
