//! When a case is next due: examples on known dates, and properties over
//! random campaigns and histories — never outside the window, on a holiday,
//! beyond the daily or total limit or the period; slots rotate.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::{Date, date};
use outreach_core::calls::CallingWindow;
use outreach_core::calls::rules::{
    Attempt, AttemptResult, Final, Next, Number, Rules, next_due, slot_of,
};
use proptest::prelude::*;

/// Unix seconds of a Berlin wall-clock time.
fn at(day: Date, hour: i8, minute: i8) -> i64 {
    day.at(hour, minute, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap())
        .unwrap()
        .timestamp()
        .as_second()
}

fn rules(per_day: u32, total: u32) -> Rules {
    Rules {
        window: CallingWindow::default(),
        per_day,
        total,
        state: "NW".into(),
        period_end: date(2026, 12, 31),
    }
}

fn attempt(when: i64, result: AttemptResult) -> Attempt {
    Attempt {
        at: when,
        number: Number::Phone,
        result,
        agent_id: 7,
    }
}

const BOTH: [Number; 2] = [Number::Phone, Number::Mobile];

#[test]
fn no_answer_moves_to_the_next_day_and_another_slot() {
    // Monday 09.03.2026, 09:10: no answer → Tuesday 12:00.
    let monday = date(2026, 3, 9);
    let h = [attempt(at(monday, 9, 10), AttemptResult::NoAnswer)];
    let next = next_due(&rules(1, 6), &h, &BOTH, at(monday, 9, 11));
    assert_eq!(
        next,
        Next::Due {
            at: at(date(2026, 3, 10), 12, 0),
            number: Number::Phone,
            agent: None
        }
    );
    // Two a day allowed: the same day, in the next slot.
    let next = next_due(&rules(2, 6), &h, &BOTH, at(monday, 9, 11));
    assert!(matches!(next, Next::Due { at: t, .. } if t == at(monday, 12, 0)));
    // After 12:00 and 16:00 tried: 08:00 the next day.
    let h2 = [
        attempt(at(monday, 12, 5), AttemptResult::Busy),
        attempt(
            at(date(2026, 3, 10), 16, 30),
            AttemptResult::AnsweringMachine,
        ),
    ];
    let next = next_due(&rules(1, 6), &h2, &BOTH, at(date(2026, 3, 10), 16, 31));
    assert!(matches!(next, Next::Due { at: t, .. } if t == at(date(2026, 3, 11), 8, 0)));
}

#[test]
fn holidays_and_weekends_are_skipped() {
    // Thursday 02.04.2026 in NW: Karfreitag, the weekend, Ostermontag → Tuesday 07.04.
    let thursday = date(2026, 4, 2);
    let h = [attempt(at(thursday, 17, 0), AttemptResult::Busy)];
    let next = next_due(&rules(1, 6), &h, &BOTH, at(thursday, 17, 1));
    assert!(
        matches!(next, Next::Due { at: t, .. } if t == at(date(2026, 4, 7), 8, 0)),
        "{next:?}"
    );
}

#[test]
fn wrong_numbers_limits_callbacks_and_the_period() {
    let monday = date(2026, 3, 9);
    let wrong = [attempt(at(monday, 9, 0), AttemptResult::WrongNumber)];
    assert!(matches!(
        next_due(&rules(1, 6), &wrong, &BOTH, at(monday, 9, 1)),
        Next::Due {
            number: Number::Mobile,
            ..
        }
    ));
    assert_eq!(
        next_due(&rules(1, 6), &wrong, &[Number::Phone], at(monday, 9, 1)),
        Next::Final(Final::NoValidNumber)
    );
    let mut both_wrong = wrong.to_vec();
    both_wrong.push(Attempt {
        number: Number::Mobile,
        ..attempt(at(date(2026, 3, 10), 12, 0), AttemptResult::WrongPerson)
    });
    assert_eq!(
        next_due(&rules(1, 6), &both_wrong, &BOTH, at(monday, 13, 0)),
        Next::Final(Final::NoValidNumber)
    );
    // All attempts used.
    let six: Vec<Attempt> = (0..6)
        .map(|d| attempt(at(date(2026, 3, 9 + d), 9, 0), AttemptResult::NoAnswer))
        .collect();
    assert_eq!(
        next_due(&rules(1, 6), &six, &BOTH, at(date(2026, 3, 16), 9, 0)),
        Next::Final(Final::NotReached)
    );
    // A callback: at the agreed time, for the same agent until 15 minutes after.
    let callback = at(monday, 14, 30);
    let h = [attempt(at(monday, 9, 0), AttemptResult::Callback(callback))];
    assert_eq!(
        next_due(&rules(1, 6), &h, &BOTH, at(monday, 9, 1)),
        Next::Due {
            at: callback,
            number: Number::Phone,
            agent: Some((7, callback + 15 * 60))
        }
    );
    // Agreed for 21:00: moved to the next morning.
    let late = [attempt(
        at(monday, 9, 0),
        AttemptResult::Callback(at(monday, 21, 0)),
    )];
    assert!(matches!(
        next_due(&rules(1, 6), &late, &BOTH, at(monday, 9, 1)),
        Next::Due { at: t, .. } if t == at(date(2026, 3, 10), 8, 0)
    ));
    // The period ends on the day of the attempt: nothing fits any more.
    let mut short = rules(1, 6);
    short.period_end = monday;
    let h = [attempt(at(monday, 9, 0), AttemptResult::Busy)];
    assert_eq!(
        next_due(&short, &h, &BOTH, at(monday, 9, 1)),
        Next::Final(Final::PeriodOver)
    );
    // Reached: no further attempt.
    let h = [attempt(at(monday, 9, 0), AttemptResult::Reached)];
    assert_eq!(
        next_due(&rules(1, 6), &h, &BOTH, at(monday, 9, 1)),
        Next::Final(Final::Reached)
    );
}

const STATES: [&str; 6] = ["NW", "BY", "BE", "SN", "HH", "TH"];
const DAYS: [&str; 5] = ["Mo", "Di", "Mi", "Do", "Fr"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// A case followed through its attempts (none reached): every due time
    /// lies in the window on a callable day, within the daily and total
    /// limits and the period; a retry's slot differs from the last attempt's
    /// where the window has more than one slot.
    #[test]
    fn retries_keep_every_rule(
        day_mask in 1u8..32,
        start_hour in 8i8..15,
        length in 2i8..12,
        per_day in 1u32..=3,
        total in 1u32..=20,
        state in 0usize..STATES.len(),
        first_day in 0i32..330,
        delays in proptest::collection::vec(0i64..50, 20),
        results in proptest::collection::vec(0u8..3, 20),
    ) {
        let days: Vec<&str> = DAYS.iter().enumerate().filter(|(i, _)| day_mask & (1 << i) != 0).map(|(_, d)| *d).collect();
        let end_hour = (start_hour + length).min(20);
        let window = CallingWindow::parse(&days, &format!("{start_hour:02}:00"), &format!("{end_hour:02}:00")).unwrap();
        let rules = Rules {
            window: window.clone(),
            per_day,
            total,
            state: STATES[state].into(),
            period_end: date(2026, 12, 31),
        };
        let slots_open = (0..3).filter(|s| {
            let (from, to) = outreach_core::calls::rules::SLOTS[*s];
            from.max(start_hour) < to.min(end_hour)
        }).count();
        let mut now = at(date(2026, 1, 5).checked_add(jiff::ToSpan::days(first_day)).unwrap(), 7, 0);
        let mut history: Vec<Attempt> = Vec::new();
        for step in 0..25 {
            match next_due(&rules, &history, &BOTH, now) {
                Next::Final(Final::NotReached) => {
                    prop_assert_eq!(history.len() as u32, total);
                    break;
                }
                Next::Final(Final::PeriodOver) => break,
                Next::Final(other) => prop_assert!(false, "unexpected {:?}", other),
                Next::Due { at: due, agent, .. } => {
                    prop_assert!(agent.is_none());
                    prop_assert!(due >= now, "due in the past");
                    prop_assert!(rules.allows(due), "outside window or on a holiday: {}", outreach_core::date::format_de_datetime(due));
                    let day = outreach_core::date::berlin_date(due);
                    prop_assert!(day <= rules.period_end);
                    let today = history.iter().filter(|a| outreach_core::date::berlin_date(a.at) == day).count() as u32;
                    prop_assert!(today < per_day, "daily limit");
                    prop_assert!((history.len() as u32) < total, "total limit");
                    if slots_open > 1 && let Some(last) = history.last() {
                        prop_assert_ne!(slot_of(last.at), slot_of(due), "slot not rotated");
                    }
                    // The agent calls a little after the due time, still in the window.
                    let delay = delays[step % delays.len()] * 60;
                    let when = if rules.allows(due + delay) { due + delay } else { due };
                    let result = [AttemptResult::Busy, AttemptResult::NoAnswer, AttemptResult::AnsweringMachine][results[step % results.len()] as usize];
                    history.push(attempt(when, result));
                    now = when + 60;
                }
            }
        }
    }
}
