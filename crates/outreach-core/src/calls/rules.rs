//! When is a case next due? Pure: given the campaign's rules, the case's
//! attempts so far and now, the answer is a time (and for whom), or a final
//! disposition.
//!
//! - Busy, no answer, answering machine: the next day — or later the same day
//!   where the campaign allows more attempts a day — in a time slot
//!   (08–12, 12–16, 16–20, within the calling window) not used before, or the
//!   least used one once every slot was tried.
//! - Wrong number (or the wrong person on it): the other number; with none
//!   left, final "keine gültige Rufnummer".
//! - All attempts used: final "nicht erreicht".
//! - Callback agreed: due at the agreed time (moved to the window's next
//!   opening if agreed outside it; not held to the daily limit), for the same
//!   agent until 15 minutes after it, then for the team.
//! - Never outside the window's days and hours, never on a public holiday of
//!   the customer's Bundesland, never beyond the daily or total limit, never
//!   after the calling period.

use super::CallingWindow;
use super::holidays::holiday;
use crate::date::berlin;
use jiff::Timestamp;
use jiff::civil::{Date, Time};

/// The time slots of a day, rotated between attempts.
pub const SLOTS: [(i8, i8); 3] = [(8, 12), (12, 16), (16, 20)];

/// How long a callback belongs to the agent who agreed it.
pub const CALLBACK_OWN_SECONDS: i64 = 15 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    Reached,
    Busy,
    NoAnswer,
    AnsweringMachine,
    WrongNumber,
    WrongPerson,
    /// A callback agreed for this instant (unix seconds).
    Callback(i64),
}

impl AttemptResult {
    /// The results an agent records, code and German label, in the order of
    /// their keyboard shortcuts 1–7.
    pub const CHOICES: [(&'static str, &'static str); 7] = [
        ("reached", "erreicht"),
        ("busy", "besetzt"),
        ("no_answer", "keine Antwort"),
        ("answering_machine", "Anrufbeantworter"),
        ("wrong_number", "kein Anschluss / falsche Nummer"),
        ("wrong_person", "falsche Person"),
        ("callback", "Rückruf vereinbart"),
    ];

    pub fn code(self) -> &'static str {
        match self {
            AttemptResult::Reached => "reached",
            AttemptResult::Busy => "busy",
            AttemptResult::NoAnswer => "no_answer",
            AttemptResult::AnsweringMachine => "answering_machine",
            AttemptResult::WrongNumber => "wrong_number",
            AttemptResult::WrongPerson => "wrong_person",
            AttemptResult::Callback(_) => "callback",
        }
    }

    /// From the stored code (a callback with its agreed instant).
    pub fn parse(code: &str, callback_at: Option<i64>) -> Option<AttemptResult> {
        Some(match code {
            "reached" => AttemptResult::Reached,
            "busy" => AttemptResult::Busy,
            "no_answer" => AttemptResult::NoAnswer,
            "answering_machine" => AttemptResult::AnsweringMachine,
            "wrong_number" => AttemptResult::WrongNumber,
            "wrong_person" => AttemptResult::WrongPerson,
            "callback" => AttemptResult::Callback(callback_at?),
            _ => return None,
        })
    }

    pub fn label(self) -> &'static str {
        AttemptResult::CHOICES
            .iter()
            .find(|(c, _)| *c == self.code())
            .map_or("", |(_, l)| *l)
    }
}

impl Number {
    pub fn code(self) -> &'static str {
        match self {
            Number::Phone => "phone",
            Number::Mobile => "mobile",
        }
    }

    pub fn parse(code: &str) -> Option<Number> {
        match code {
            "phone" => Some(Number::Phone),
            "mobile" => Some(Number::Mobile),
            _ => None,
        }
    }
}

/// Which of the customer's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Number {
    Phone,
    Mobile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// When the attempt started (unix seconds).
    pub at: i64,
    pub number: Number,
    pub result: AttemptResult,
    pub agent_id: i64,
}

/// The campaign's rules for one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub window: CallingWindow,
    pub per_day: u32,
    pub total: u32,
    /// The customer's Bundesland (for public holidays).
    pub state: String,
    /// The last day of the calling period.
    pub period_end: Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Final {
    /// Reached: the conversation's result decides.
    Reached,
    /// "nicht erreicht" after the maximum of attempts.
    NotReached,
    /// "keine gültige Rufnummer".
    NoValidNumber,
    /// The calling period is over before another attempt fits.
    PeriodOver,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Due {
        /// From when (unix seconds).
        at: i64,
        number: Number,
        /// A callback: the agent it belongs to, until this instant.
        agent: Option<(i64, i64)>,
    },
    Final(Final),
}

fn zoned(at: i64) -> jiff::Zoned {
    Timestamp::from_second(at)
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(berlin())
}

fn instant(day: Date, time: Time) -> i64 {
    day.to_datetime(time)
        .to_zoned(berlin())
        .map_or(0, |z| z.timestamp().as_second())
}

/// The slot an instant falls into (by Berlin time), if any.
pub fn slot_of(at: i64) -> Option<usize> {
    let hour = zoned(at).hour();
    SLOTS
        .iter()
        .position(|(from, to)| hour >= *from && hour < *to)
}

impl Rules {
    /// The part of slot `slot` inside the calling window, as times of day.
    fn slot_hours(&self, slot: usize) -> Option<(Time, Time)> {
        let (from, to) = SLOTS[slot];
        let start = Time::constant(from, 0, 0, 0).max(self.window.start);
        let end = Time::constant(to, 0, 0, 0).min(self.window.end);
        (start < end).then_some((start, end))
    }

    /// Whether calls may be made on `day` at all.
    fn callable_day(&self, day: Date) -> bool {
        self.window.days.contains(&day.weekday()) && holiday(day, &self.state).is_none()
    }

    /// Whether the instant is inside the window, on a callable day.
    pub fn allows(&self, at: i64) -> bool {
        let z = zoned(at);
        let t = z.time();
        self.callable_day(z.date()) && t >= self.window.start && t < self.window.end
    }
}

/// The numbers not yet found wrong, in the order they are tried.
fn numbers_left(history: &[Attempt], numbers: &[Number]) -> Vec<Number> {
    numbers
        .iter()
        .copied()
        .filter(|n| {
            !history.iter().any(|a| {
                a.number == *n
                    && matches!(
                        a.result,
                        AttemptResult::WrongNumber | AttemptResult::WrongPerson
                    )
            })
        })
        .collect()
}

/// When the case is next due. `numbers`: the customer's numbers, in the
/// order to try them.
pub fn next_due(rules: &Rules, history: &[Attempt], numbers: &[Number], now: i64) -> Next {
    if history.iter().any(|a| a.result == AttemptResult::Reached) {
        return Next::Final(Final::Reached);
    }
    let left = numbers_left(history, numbers);
    let Some(&number) = left.first() else {
        return Next::Final(Final::NoValidNumber);
    };
    if history.len() as u32 >= rules.total {
        return Next::Final(Final::NotReached);
    }
    // A callback agreed in the last attempt: due then (moved into the window
    // if it was agreed outside it).
    if let Some(last) = history.last()
        && let AttemptResult::Callback(at) = last.result
    {
        let due = first_allowed(rules, at).unwrap_or(at);
        if due_day_within_period(rules, due) {
            return Next::Due {
                at: due,
                number,
                agent: Some((last.agent_id, at + CALLBACK_OWN_SECONDS)),
            };
        }
        return Next::Final(Final::PeriodOver);
    }
    let from = now.max(history.last().map_or(now, |a| a.at));
    match retry(rules, history, from) {
        Some(at) => Next::Due {
            at,
            number,
            agent: None,
        },
        None => Next::Final(Final::PeriodOver),
    }
}

fn due_day_within_period(rules: &Rules, at: i64) -> bool {
    zoned(at).date() <= rules.period_end
}

fn attempts_on(history: &[Attempt], day: Date) -> u32 {
    history.iter().filter(|a| zoned(a.at).date() == day).count() as u32
}

/// The first instant at or after `at` that the window and the holidays
/// allow (for a callback: an agreed time is not held to the daily limit).
fn first_allowed(rules: &Rules, at: i64) -> Option<i64> {
    let z = zoned(at);
    let mut day = z.date();
    for _ in 0..60 {
        if rules.callable_day(day) {
            let start = instant(day, rules.window.start);
            let end = instant(day, rules.window.end);
            let candidate = start.max(at);
            if candidate < end {
                return Some(candidate);
            }
        }
        day = day.tomorrow().ok()?;
    }
    None
}

/// The next retry after the last attempt at `after`: a later slot the same
/// day where the daily limit allows, else the next callable day; a slot not
/// used before, else the least used.
fn retry(rules: &Rules, history: &[Attempt], after: i64) -> Option<i64> {
    let mut used = [0u32; 3];
    for a in history {
        if let Some(s) = slot_of(a.at) {
            used[s] += 1;
        }
    }
    let last_slot = history.last().and_then(|a| slot_of(a.at));
    let start_day = zoned(after).date();
    let mut day = start_day;
    while day <= rules.period_end {
        let today = day == start_day;
        if rules.callable_day(day) && attempts_on(history, day) < rules.per_day {
            // Slots that fit this day (after `after` when it is the same day).
            let mut options: Vec<(u32, usize, i64)> = (0..SLOTS.len())
                .filter(|s| Some(*s) != last_slot || history.is_empty() || SLOTS.len() == 1)
                .filter_map(|s| {
                    let (from, to) = rules.slot_hours(s)?;
                    let begin = instant(day, from);
                    let end = instant(day, to);
                    let at = if today { begin.max(after) } else { begin };
                    // Same day: never the slot of an attempt made today.
                    let used_today = history
                        .iter()
                        .any(|a| zoned(a.at).date() == day && slot_of(a.at) == Some(s));
                    (at < end && !used_today).then_some((used[s], s, at))
                })
                .collect();
            // Only one slot fits the window: rotation is impossible, use it.
            if options.is_empty() && !today && rules.window_slots() == 1 {
                options = (0..SLOTS.len())
                    .filter_map(|s| {
                        let (from, _) = rules.slot_hours(s)?;
                        Some((used[s], s, instant(day, from)))
                    })
                    .collect();
            }
            if let Some(&(_, _, at)) = options.iter().min_by_key(|(u, s, at)| (*u, *at, *s)) {
                return Some(at);
            }
        }
        day = day.tomorrow().ok()?;
    }
    None
}

impl Rules {
    /// How many slots the window leaves open.
    fn window_slots(&self) -> usize {
        (0..SLOTS.len())
            .filter(|s| self.slot_hours(*s).is_some())
            .count()
    }
}
