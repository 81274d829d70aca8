//! Property tests of the guide engine: random valid guides, random agents.
//! Whatever the agent does, the engine never panics; no answer is taken
//! before consent; a refusal discards everything; a finished conversation
//! has every required question answered; the change set is exactly the
//! mapped fields whose answer differs from the stored value; the progress
//! counts over the questions that apply now, and at the read-back every one
//! of them was asked.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::date;
use outreach_core::customer::Field as StoredField;
use outreach_core::guide::answer::Kind;
use outreach_core::guide::definition::IdentityItem;
use outreach_core::guide::session::{Context, Customer, Input, Outcome, Step};
use outreach_core::guide::{Field, Guide, Session};
use proptest::prelude::*;
use std::collections::BTreeMap;

const OPENING: &str = r#"
[guide]
name = "Zufall"
version = "p"
valid_from = "01.01.2026"

[opening]
greeting = "Guten Tag {name}"
consent = "Einverstanden?"

[opening.identity]
items = ["birth_date", "postcode"]
or_code = true

[opening.explanation]
purpose = "p"
voluntary = "v"
stop = "s"
refusal = "r"
recipients = "e"
"#;

/// Question kinds the generator uses: TOML lines, and a field it may map to.
const KINDS: [(&str, Option<&str>); 8] = [
    ("type = \"yes_no\"", None),
    (
        "type = \"single_choice\"\noptions = [\"o1\", \"o2\", \"o3\"]",
        Some("working_time"),
    ),
    (
        "type = \"multiple_choice\"\noptions = [\"o1\", \"o2\", \"o3\"]",
        Some("mobility"),
    ),
    ("type = \"date\"", Some("available_from")),
    ("type = \"number\"\nmin = 0\nmax = 40", None),
    ("type = \"text\"\nmax_length = 8", Some("city")),
    ("type = \"phone\"", Some("phone")),
    ("type = \"postcode\"", Some("postcode")),
];

/// A literal each kind can be compared with.
fn literal(kind: usize) -> &'static str {
    match kind {
        0 => "true",
        1 | 2 => "'o2'",
        3 => "'01.01.2026'",
        4 => "20",
        _ => "'x'",
    }
}

#[derive(Debug, Clone)]
struct Spec {
    kind: usize,
    required: bool,
    /// Condition on an earlier question (by offset back), negated or not.
    when: Option<(usize, bool)>,
    map: bool,
}

fn guide_text(specs: &[Spec]) -> String {
    let mut text = OPENING.to_string();
    let mut used = std::collections::BTreeSet::new();
    for (i, s) in specs.iter().enumerate() {
        if i % 3 == 0 {
            text.push_str(&format!(
                "\n[[section]]\nid = \"s{i}\"\ntitle = \"Teil {i}\"\n"
            ));
        }
        let (lines, field) = KINDS[s.kind];
        text.push_str(&format!(
            "\n[[section.question]]\nid = \"q{i}\"\ntext = \"Frage {i}\"\n{lines}\nrequired = {}\npurpose = \"z\"\n",
            s.required
        ));
        if let (true, Some(f)) = (s.map, field)
            && used.insert(f)
        {
            text.push_str(&format!("field = \"{f}\"\n"));
        }
        if let Some((back, negate)) = s.when
            && i > 0
        {
            let target = i - 1 - back % i;
            let cmp = if negate { "!=" } else { "==" };
            text.push_str(&format!(
                "when = \"q{target} {cmp} {}\"\n",
                literal(specs[target].kind).replace('"', "\\\"")
            ));
        }
    }
    text
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..KINDS.len(),
        any::<bool>(),
        proptest::option::of((0usize..5, any::<bool>())),
        any::<bool>(),
    )
        .prop_map(|(kind, required, when, map)| Spec {
            kind,
            required,
            when,
            map,
        })
}

const VALUES: [&str; 14] = [
    "ja",
    "nein",
    "o1",
    "o2",
    "01.01.2026",
    "31.02.2026",
    "20",
    "41",
    "x",
    "zu langer text",
    "0208 1234567",
    "n.v.",
    "46045",
    "",
];

/// The customer's identity as stored (see [`customer`]).
const IDENTITY: [(IdentityItem, &str); 4] = [
    (IdentityItem::BirthDate, "12.08.1964"),
    (IdentityItem::Postcode, "46045"),
    (IdentityItem::Address, "Musterweg 3"),
    (IdentityItem::Code, "K7QM-4XRP"),
];

/// What customers say for an identity item: the right values as people
/// write them, and wrong ones.
const STATED: [&str; 9] = [
    "12.8.1964",
    "12.08.1964",
    "46 045",
    "musterweg 3",
    "k7qm4xrp",
    "13.08.1964",
    "46046",
    "Musterweg 4",
    "",
];

/// Stored values no view may show before the identity check passed.
const NEVER_BEFORE_THE_CHECK: [&str; 8] = [
    "12.08.1964",
    "1964",
    "46045",
    "Musterweg",
    "K7QM",
    "+492081234567",
    "0208 1234567",
    "2026-01-01",
];

fn input() -> impl Strategy<Value = Input> {
    let values = proptest::collection::vec(proptest::sample::select(&VALUES[..]), 0..3)
        .prop_map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
    let item = proptest::sample::select(vec![
        IdentityItem::BirthDate,
        IdentityItem::Postcode,
        IdentityItem::Address,
        IdentityItem::Code,
    ]);
    prop_oneof![
        4 => Just(Input::Continue),
        3 => (item, proptest::sample::select(&STATED[..])).prop_map(|(item, said)| Input::Identity { item, stated: said.to_string() }),
        2 => prop::bool::weighted(0.9).prop_map(Input::Consent),
        10 => values.clone().prop_map(Input::Answer),
        2 => Just(Input::Skip),
        1 => Just(Input::Back),
        2 => (0usize..12, values).prop_map(|(q, values)| Input::Correct { question: format!("q{q}"), values }),
        2 => Just(Input::Confirm),
        1 => prop_oneof![9 => Just(Input::Continue), 1 => Just(Input::Refuse), 1 => Just(Input::Dropped)],
    ]
}

fn customer(stored: &[(Field, &str)]) -> Customer {
    Customer {
        salutation: "Herr".into(),
        first_name: "Ömer".into(),
        last_name: "Groß".into(),
        values: stored.iter().map(|(f, v)| (*f, v.to_string())).collect(),
        identity: IDENTITY.iter().map(|(i, v)| (*i, v.to_string())).collect(),
    }
}

/// A valid answer for a question of `kind`.
fn valid(kind: &Kind) -> Vec<String> {
    let v = match kind {
        Kind::YesNo => "ja",
        Kind::SingleChoice(_) | Kind::MultipleChoice(_) => "o1",
        Kind::Date { .. } => "01.01.2026",
        Kind::Number { .. } => "20",
        Kind::Text { .. } => "x",
        Kind::Phone => "0208 1234567",
        Kind::Postcode => "46045",
        _ => "x",
    };
    vec![v.to_string()]
}

/// The counts the agent sees are over the same questions: those that apply
/// now. The current question is one of them; an announced change of the
/// count names the count there is now.
fn counts_agree(s: &Session) -> Result<(), TestCaseError> {
    let v = s.view();
    prop_assert!(
        v.answered <= v.asked && v.asked <= v.total,
        "{} {} {}",
        v.answered,
        v.asked,
        v.total
    );
    match s.step() {
        Step::Question(_) => {
            let position = v.position.unwrap_or(0);
            prop_assert!(
                position >= 1 && position <= v.total,
                "Frage {} von {}",
                position,
                v.total
            );
        }
        _ => prop_assert_eq!(v.position, None),
    }
    if let Some(sentence) = &v.count_change {
        let now = if v.total == 1 {
            "1 Frage".to_string()
        } else {
            format!("{} Fragen", v.total)
        };
        prop_assert!(
            sentence.ends_with(&format!("es gelten jetzt {now}.")),
            "{}",
            sentence
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn any_agent_through_any_guide(
        specs in proptest::collection::vec(spec(), 1..12),
        inputs in proptest::collection::vec(input(), 0..60),
        stored in proptest::sample::subsequence(vec![
            (Field::Stored(StoredField::Phone), "+492081234567"),
            (Field::Stored(StoredField::Postcode), "46045"),
            (Field::Stored(StoredField::City), "x"),
            (Field::WorkingTime, "o1"),
            (Field::AvailableFrom, "2026-01-01"),
        ], 0..5),
    ) {
        let text = guide_text(&specs);
        let guide = Guide::parse(&text).unwrap_or_else(|p| panic!("{p:?}\n{text}"));
        let context = Context::default();
        let today = date(2026, 6, 1);
        let mut s = Session::new(&guide, customer(&stored), context, today);
        for input in inputs {
            let said = input.clone();
            let before = s.state().clone();
            let answering = matches!(input, Input::Answer(_) | Input::Correct { .. } | Input::Skip);
            let refusing = input == Input::Refuse;
            match s.apply(input) {
                Ok(()) => {
                    if answering {
                        prop_assert!(before.consent, "an answer was taken before consent");
                    }
                    if refusing {
                        let r = s.result().unwrap();
                        prop_assert_eq!(r.outcome, Outcome::Refused);
                        prop_assert!(r.answers.is_empty() && r.changes.is_empty());
                        prop_assert!(s.state().answers.is_empty());
                    }
                }
                // A refused input changes nothing.
                Err(e) => {
                    prop_assert!(!e.0.is_empty());
                    prop_assert_eq!(&before, s.state());
                }
            }
            // Nothing beyond the name before the identity check passed:
            // no stored value anywhere in the view.
            if !s.state().consent && matches!(s.step(), Step::Greeting | Step::Identity) {
                let v = s.view();
                prop_assert_eq!(v.customer.len(), 1);
                let shown = format!("{v:?}");
                for stored in NEVER_BEFORE_THE_CHECK {
                    prop_assert!(!shown.contains(stored), "{} shown before the check: {}", stored, shown);
                }
            }
            // What a customer said is kept nowhere.
            if let Input::Identity { stated, .. } = &said
                && stated.len() > 3
            {
                let kept = serde_json::to_string(s.state()).unwrap();
                prop_assert!(!kept.contains(stated.as_str()), "{} kept: {}", stated, kept);
            }
            counts_agree(&s)?;
        }
        // Then a careful agent finishes the call (within a bound).
        let mut steps = 0;
        while s.step() != Step::Finished && steps < 200 {
            steps += 1;
            let input = match s.step() {
                Step::Greeting | Step::Explanation => Input::Continue,
                Step::Identity => Input::Identity { item: IdentityItem::Code, stated: "K7QM-4XRP".into() },
                Step::Consent => Input::Consent(true),
                Step::Question(_) => Input::Answer(valid(&s.view().question.unwrap().kind)),
                Step::ReadBack => Input::Confirm,
                Step::Finished => break,
            };
            let at_read_back = s.step() == Step::ReadBack;
            if at_read_back {
                // The careful agent has been asked every question that applies.
                let v = s.view();
                prop_assert_eq!(v.asked, v.total, "asked of applicable at the read-back");
            }
            counts_agree(&s)?;
            if s.apply(input).is_err() {
                // e.g. the code after items were marked: fail the check instead.
                s.apply(Input::Identity { item: IdentityItem::BirthDate, stated: "01.01.1900".into() })
                    .or_else(|_| s.apply(Input::Refuse))
                    .unwrap();
            }
        }
        prop_assert_eq!(s.step(), Step::Finished);
        let r = s.result().unwrap();
        if matches!(r.outcome, Outcome::Confirmed | Outcome::Updated) {
            prop_assert!(r.consent && r.identity_passed);
            // Every applicable required question has its answer.
            let answered: BTreeMap<&str, _> = r.answers.iter().map(|a| (a.question.as_str(), &a.value)).collect();
            for (_, q) in guide.questions() {
                let applies = q.when.as_ref().is_none_or(|w| w.holds(&|id| answered.get(id).map(|v| (*v).clone())));
                if applies && q.required {
                    prop_assert!(answered.contains_key(q.id.as_str()), "{} unanswered", q.id);
                }
            }
            // The change set is exactly the mapped answers that differ.
            let expected: Vec<(Field, String)> = r.answers.iter().filter_map(|a| {
                let field = guide.question(&a.question)?.field?;
                let new = a.value.canonical();
                let old = stored.iter().find(|(f, _)| *f == field).map(|(_, v)| v.to_string()).unwrap_or_default();
                (new != old).then_some((field, new))
            }).collect();
            let got: Vec<(Field, String)> = r.changes.iter().map(|c| (c.field, c.new.clone())).collect();
            prop_assert_eq!(got, expected);
            prop_assert_eq!(r.outcome == Outcome::Updated, !r.changes.is_empty());
        } else {
            prop_assert!(r.changes.is_empty());
        }
        if r.outcome == Outcome::Refused || r.outcome == Outcome::IdentityFailed {
            prop_assert!(r.answers.is_empty());
        }
    }
}
