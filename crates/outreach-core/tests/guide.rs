//! The conversation guide: the default guide, broken guide files, and
//! conversations through the engine (paths, refusal, drop and resume,
//! read-back corrections, what the agent sees before the identity check).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jiff::civil::{Date, date};
use outreach_core::customer::Field as StoredField;
use outreach_core::guide::Field;
use outreach_core::guide::definition::IdentityItem;
use outreach_core::guide::session::{Context, Customer, Input, Outcome, Step};
use outreach_core::guide::{Guide, Session};
use std::collections::BTreeMap;

const DEFAULT: &str = include_str!("../../../guides/sgb2-bewerberdaten.toml");
const TODAY: Date = date(2026, 12, 7);

fn default_guide() -> Guide {
    Guide::parse(DEFAULT).unwrap_or_else(|p| panic!("{p:?}"))
}

fn customer() -> Customer {
    Customer {
        salutation: "Frau".into(),
        first_name: "Jördis".into(),
        last_name: "Weiß".into(),
        values: BTreeMap::from([
            (
                Field::Stored(StoredField::Phone),
                "+492081234567".to_string(),
            ),
            (
                Field::Stored(StoredField::Email),
                "j.weiss@example.org".to_string(),
            ),
            (
                Field::Stored(StoredField::Street),
                "Lindenallee".to_string(),
            ),
            (Field::Stored(StoredField::HouseNumber), "5".to_string()),
            (Field::Stored(StoredField::Postcode), "46045".to_string()),
            (Field::Stored(StoredField::City), "Oberhausen".to_string()),
            (
                Field::Stored(StoredField::TargetOccupation),
                "Verkäuferin".to_string(),
            ),
        ]),
        identity: BTreeMap::from([
            (IdentityItem::BirthDate, "14.03.1985".to_string()),
            (IdentityItem::Postcode, "46045".to_string()),
            (IdentityItem::Code, "K7QM-4XRP".to_string()),
        ]),
    }
}

fn context() -> Context {
    Context {
        agent: "Herr Brandt".into(),
        job_center: "Jobcenter Oberhausen".into(),
        service_center: "Service-Center Hamburg".into(),
        letter_date: "20.11.2026".into(),
    }
}

/// What the customer states for `item`, typed by the agent.
fn stated(item: IdentityItem, text: &str) -> Input {
    Input::Identity {
        item,
        stated: text.to_string(),
    }
}

fn answer(values: &[&str]) -> Input {
    Input::Answer(values.iter().map(|v| v.to_string()).collect())
}

/// Greeting, identity (both items, as people say them), explanation,
/// consent.
fn through_opening(s: &mut Session) {
    s.apply(Input::Continue).unwrap();
    s.apply(stated(IdentityItem::BirthDate, "14.3.1985"))
        .unwrap();
    s.apply(stated(IdentityItem::Postcode, "46 045")).unwrap();
    assert_eq!(s.step(), Step::Explanation);
    s.apply(Input::Continue).unwrap();
    s.apply(Input::Consent(true)).unwrap();
}

fn current(s: &Session) -> String {
    s.view().question.map(|q| q.id).unwrap_or_default()
}

#[test]
fn the_default_guide_is_valid() {
    let g = default_guide();
    assert_eq!(g.version, "2026-12");
    assert_eq!(g.valid_from, date(2026, 12, 1));
    assert_eq!(g.hash.len(), 64);
    assert!(g.questions().count() >= 15);
    assert!(g.questions().all(|(_, q)| !q.purpose.is_empty()));
}

#[test]
fn every_broken_guide_fails_with_its_message() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guides");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let expected = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# erwartet: "))
            .unwrap_or_else(|| panic!("{}: first line '# erwartet: …'", path.display()));
        let problems = Guide::parse(&text).expect_err(&path.display().to_string());
        let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(
            all.iter().any(|p| p.contains(expected)),
            "{}: expected „{expected}“, got {all:#?}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} broken guides");
}

#[test]
fn data_confirmed_no_change() {
    let g = default_guide();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    // Before the identity check: only the name.
    let v = s.view();
    assert_eq!(
        v.customer,
        vec![("Name".to_string(), "Frau Weiß".to_string())]
    );
    assert!(v.text.contains("Herr Brandt") && v.text.contains("Frau Weiß"));
    assert!(v.text.contains("20.11.2026"));
    through_opening(&mut s);
    assert!(s.view().customer.len() > 1, "after the check: stored data");
    assert_eq!(current(&s), "still_unemployed");
    s.apply(answer(&["ja"])).unwrap();
    s.apply(answer(&["ja"])).unwrap(); // available
    s.apply(answer(&["no"])).unwrap(); // health
    let v = s.view();
    // The phone question offers the stored number as a person reads it;
    // confirming it is no change.
    assert_eq!(v.question.as_ref().unwrap().inputs, vec!["0208 1234567"]);
    assert!(
        v.text.contains("Bei uns ist 0208 1234567 gespeichert."),
        "{}",
        v.text
    );
    s.apply(answer(&["0208 1234567"])).unwrap();
    s.apply(answer(&["j.weiss@example.org"])).unwrap();
    s.apply(answer(&["ja"])).unwrap(); // same address
    assert_eq!(current(&s), "occupation");
    s.apply(answer(&["Verkäuferin"])).unwrap();
    for _ in [
        "working_time",
        "mobility",
        "licences",
        "care",
        "support_wish",
    ] {
        s.apply(Input::Skip).unwrap();
    }
    s.apply(answer(&["nein"])).unwrap(); // appointment
    assert_eq!(s.step(), Step::ReadBack);
    assert!(s.view().changes.is_empty());
    s.apply(Input::Confirm).unwrap();
    let r = s.result().unwrap();
    assert_eq!(r.outcome, Outcome::Confirmed);
    assert_eq!(r.outcome.label(), "Gespräch geführt, Daten bestätigt");
    assert!(r.changes.is_empty());
    assert!(r.consent && r.identity_passed);
    assert_eq!(r.identity_method.as_deref(), Some("items"));
    assert_eq!(r.guide_version, "2026-12");
    assert_eq!(r.flags.health_restriction.as_deref(), Some("no"));
    assert!(r.flags.no_longer_unemployed.is_none() && r.flags.moved.is_none());
    assert!(!r.flags.contact_updated && !r.flags.wants_appointment);
}

#[test]
fn no_longer_unemployed_job_taken_up_with_new_phone() {
    let g = default_guide();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    through_opening(&mut s);
    s.apply(answer(&["nein"])).unwrap();
    assert_eq!(current(&s), "end_reason");
    s.apply(answer(&["employment_1"])).unwrap();
    s.apply(answer(&["01.11.2026"])).unwrap();
    s.apply(answer(&["38,5"])).unwrap();
    s.apply(answer(&["ja"])).unwrap();
    // Questions for the unemployed are not asked.
    assert_eq!(current(&s), "phone");
    s.apply(answer(&["0171-1234567"])).unwrap();
    s.apply(Input::Skip).unwrap(); // email left as it is: no change
    s.apply(answer(&["nein"])).unwrap(); // moved
    s.apply(answer(&["Bahnhofstraße"])).unwrap();
    s.apply(answer(&["12a"])).unwrap();
    s.apply(answer(&["45127"])).unwrap();
    s.apply(answer(&["Essen"])).unwrap();
    assert_eq!(current(&s), "support_wish");
    s.apply(Input::Skip).unwrap();
    s.apply(answer(&["ja"])).unwrap();
    let changes = s.view().changes;
    let fields: Vec<Field> = changes.iter().map(|c| c.field).collect();
    assert_eq!(
        fields,
        vec![
            Field::Stored(StoredField::Phone),
            Field::Stored(StoredField::Street),
            Field::Stored(StoredField::HouseNumber),
            Field::Stored(StoredField::Postcode),
            Field::Stored(StoredField::City)
        ]
    );
    // Stored in E.164, read back as a person reads it.
    assert_eq!(changes[0].old_display, "0208 1234567");
    assert_eq!(changes[0].new, "+491711234567");
    assert_eq!(changes[0].new_display, "0171 1234567");
    s.apply(Input::Confirm).unwrap();
    let r = s.result().unwrap();
    assert_eq!(r.outcome, Outcome::Updated);
    let end = r.flags.no_longer_unemployed.unwrap();
    assert_eq!(end.reason.as_deref(), Some("employment_1"));
    assert_eq!(
        end.reason_label.as_deref(),
        Some("Beschäftigung 1. Arbeitsmarkt")
    );
    assert_eq!(end.since, Some(date(2026, 11, 1)));
    assert_eq!(end.hours_per_week, Some(38.5));
    assert_eq!(end.social_insurance, Some(true));
    let moved = r.flags.moved.unwrap();
    assert_eq!(moved.address, "Bahnhofstraße 12a, 45127 Essen");
    assert!(moved.other_job_center_possible);
    assert!(r.flags.contact_updated && r.flags.wants_appointment);
    assert!(r.flags.health_restriction.is_none(), "not asked");
}

#[test]
fn refusal_after_the_explanation_discards_everything() {
    let g = default_guide();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    s.apply(Input::Continue).unwrap();
    s.apply(stated(IdentityItem::Code, "k7qm 4xrp")).unwrap();
    assert_eq!(s.step(), Step::Explanation);
    assert_eq!(s.view().points.len(), 5);
    s.apply(Input::Continue).unwrap();
    // No question before consent.
    let early = s.apply(answer(&["ja"])).unwrap_err();
    assert!(early.0.contains("erst nach"), "{early}");
    s.apply(Input::Refuse).unwrap();
    let r = s.result().unwrap();
    assert_eq!(r.outcome, Outcome::Refused);
    assert_eq!(r.outcome.label(), "Auskunft verweigert");
    assert!(r.answers.is_empty() && r.changes.is_empty());
    assert_eq!(r.flags, Default::default(), "no negative flag, nothing");
    assert_eq!(r.identity_method.as_deref(), Some("code"));
    assert!(s.apply(Input::Continue).is_err(), "finished");
}

#[test]
fn refusal_mid_questions_and_declined_consent() {
    let g = default_guide();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    through_opening(&mut s);
    s.apply(answer(&["nein"])).unwrap();
    s.apply(answer(&["minijob"])).unwrap();
    s.apply(Input::Refuse).unwrap();
    let r = s.result().unwrap();
    assert!(r.answers.is_empty() && r.flags.no_longer_unemployed.is_none());

    let mut s = Session::new(&g, customer(), context(), TODAY);
    s.apply(Input::Continue).unwrap();
    s.apply(stated(IdentityItem::BirthDate, "14.03.1985"))
        .unwrap();
    s.apply(stated(IdentityItem::Postcode, "46045")).unwrap();
    s.apply(Input::Continue).unwrap();
    s.apply(Input::Consent(false)).unwrap();
    assert_eq!(s.result().unwrap().outcome, Outcome::Refused);
}

#[test]
fn a_failed_identity_check_shows_nothing_and_ends_the_call() {
    let g = default_guide();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    s.apply(Input::Continue).unwrap();
    s.apply(stated(IdentityItem::BirthDate, "14.03.1985"))
        .unwrap();
    assert_eq!(s.step(), Step::Identity, "one of two items is not enough");
    let v = s.view();
    assert_eq!(v.customer.len(), 1);
    // The agent types what is said; nothing stored is shown to compare.
    assert_eq!(
        v.identity_items,
        vec![
            IdentityItem::BirthDate,
            IdentityItem::Postcode,
            IdentityItem::Code
        ]
    );
    let shown = format!("{v:?}");
    for stored in ["14.03.1985", "1985-03-14", "46045", "K7QM"] {
        assert!(!shown.contains(stored), "{stored} in {shown}");
    }
    // Mixing the methods is refused; nothing typed is no statement.
    assert!(s.apply(stated(IdentityItem::Code, "K7QM-4XRP")).is_err());
    assert!(s.apply(stated(IdentityItem::Postcode, "  ")).is_err());
    // A mismatch may be retried once.
    s.apply(stated(IdentityItem::Postcode, "46046")).unwrap();
    assert_eq!(s.step(), Step::Identity);
    let miss = s.view().identity_miss.unwrap();
    assert!(
        miss.contains("„Postleitzahl“ stimmt nicht") && miss.contains("noch 1 Versuch)"),
        "{miss}"
    );
    s.apply(stated(IdentityItem::Postcode, "46047")).unwrap();
    let r = s.result().unwrap();
    assert_eq!(r.outcome, Outcome::IdentityFailed);
    assert_eq!(r.outcome.label(), "Identität nicht bestätigt");
    assert_eq!(r.identity_method.as_deref(), Some("items"));
    assert!(!r.identity_passed && !r.consent);
    assert_eq!(s.view().customer.len(), 1);
    // What was said is kept nowhere: not in the state, not in the result.
    let kept = format!("{}{:?}", serde_json::to_string(s.state()).unwrap(), r);
    for said in ["46046", "46047"] {
        assert!(!kept.contains(said), "{said} kept: {kept}");
    }
}

#[test]
fn identity_statements_are_compared_as_people_say_them() {
    let g = default_guide();
    let check = |item, said: &str| {
        let mut s = Session::new(&g, customer(), context(), TODAY);
        s.apply(Input::Continue).unwrap();
        s.apply(stated(item, said)).unwrap();
        s.state().identity.get(&item) == Some(&true)
    };
    for said in ["14.03.1985", "14.3.1985", " 14.03.1985 "] {
        assert!(check(IdentityItem::BirthDate, said), "{said}");
    }
    for said in ["13.03.1985", "14.03.85", "1985-03-14", "vierzehnter März"] {
        assert!(!check(IdentityItem::BirthDate, said), "{said}");
    }
    assert!(check(IdentityItem::Postcode, "46 045"));
    assert!(!check(IdentityItem::Postcode, "4604"));
    assert!(check(IdentityItem::Code, "k7qm4xrp"));
    assert!(!check(IdentityItem::Code, "K7QM-4XRQ"));

    // One attempt only, where the guide says so; a wrong setting is named.
    let strict = DEFAULT.replacen("[opening]\n", "[opening]\nidentity_attempts = 1\n", 1);
    let g = Guide::parse(&strict).unwrap();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    s.apply(Input::Continue).unwrap();
    s.apply(stated(IdentityItem::BirthDate, "01.01.1990"))
        .unwrap();
    assert_eq!(s.result().unwrap().outcome, Outcome::IdentityFailed);
    let wrong = DEFAULT.replacen("[opening]\n", "[opening]\nidentity_attempts = 5\n", 1);
    let problems = Guide::parse(&wrong).unwrap_err();
    assert!(
        format!("{problems:?}").contains("identity_attempts"),
        "{problems:?}"
    );
}

#[test]
fn a_dropped_line_keeps_a_draft_and_the_callback_starts_over() {
    let g = default_guide();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    through_opening(&mut s);
    s.apply(answer(&["ja"])).unwrap();
    s.apply(answer(&["nein"])).unwrap();
    s.apply(answer(&["15.01.2027"])).unwrap();
    s.apply(Input::Dropped).unwrap();
    let r = s.result().unwrap();
    assert_eq!(r.outcome, Outcome::Dropped);
    assert_eq!(r.answers.len(), 3);
    assert!(r.changes.is_empty(), "nothing confirmed yet");
    let draft: BTreeMap<_, _> = r
        .answers
        .into_iter()
        .map(|a| (a.question, a.value))
        .collect();

    let mut again = Session::resume(&g, customer(), context(), TODAY, draft);
    assert_eq!(again.step(), Step::Greeting);
    assert!(again.apply(answer(&["ja"])).is_err(), "opening first");
    through_opening(&mut again);
    let v = again.view();
    assert_eq!(
        v.question.unwrap().inputs,
        vec!["ja"],
        "draft answer filled in"
    );
    assert_eq!(v.answered, 3);
}

#[test]
fn the_read_back_can_correct_and_conditions_follow() {
    let g = default_guide();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    through_opening(&mut s);
    s.apply(answer(&["ja"])).unwrap();
    s.apply(answer(&["ja"])).unwrap();
    s.apply(answer(&["no_answer"])).unwrap();
    // Bad input: named, nothing changes.
    let e = s.apply(answer(&["n.v."])).unwrap_err();
    assert!(e.0.contains("keine gültige Telefonnummer"), "{e}");
    assert_eq!(current(&s), "phone");
    s.apply(answer(&["0208 999999"])).unwrap();
    // Back goes to the phone question again.
    s.apply(Input::Back).unwrap();
    assert_eq!(current(&s), "phone");
    s.apply(answer(&["0208 999999"])).unwrap();
    while s.step() != Step::ReadBack {
        let required = s.view().question.unwrap().required;
        if required {
            s.apply(answer(&["ja"])).unwrap();
        } else {
            s.apply(Input::Skip).unwrap();
        }
    }
    assert_eq!(s.view().changes.len(), 1);
    // The customer corrects: the old number is right after all.
    s.apply(Input::Correct {
        question: "phone".into(),
        values: vec!["0208 1234567".into()],
    })
    .unwrap();
    assert!(s.view().changes.is_empty());
    // A correction that opens required questions sends the agent there.
    s.apply(Input::Correct {
        question: "still_unemployed".into(),
        values: vec!["nein".into()],
    })
    .unwrap();
    assert_eq!(current(&s), "end_reason");
    // A question not asked can't be corrected.
    s.apply(answer(&["pension"])).unwrap();
    s.apply(answer(&["01.12.2026"])).unwrap();
    assert_eq!(s.step(), Step::ReadBack);
    assert!(
        s.apply(Input::Correct {
            question: "available".into(),
            values: vec!["ja".into()]
        })
        .is_err()
    );
    s.apply(Input::Confirm).unwrap();
    let r = s.result().unwrap();
    assert_eq!(
        r.flags.no_longer_unemployed.unwrap().reason.as_deref(),
        Some("pension")
    );
    assert!(r.answers.iter().all(|a| a.question != "available"));
}

/// The progress counts the questions that apply given the answers so far:
/// an answer that makes questions apply says so, and the read-back of a
/// complete conversation says every applicable question was asked.
#[test]
fn the_guide_counts_the_same_way_everywhere() {
    let g = default_guide();
    let mut s = Session::new(&g, customer(), context(), TODAY);
    through_opening(&mut s);
    let v = s.view();
    assert_eq!((v.position, v.total), (Some(1), 6), "only what applies yet");
    assert_eq!(v.count_change, None);
    s.apply(answer(&["ja"])).unwrap(); // still unemployed
    let v = s.view();
    assert_eq!((v.position, v.total), (Some(2), 13));
    assert_eq!(
        v.count_change.as_deref(),
        Some(
            "Die Antwort auf „Sind Sie zurzeit noch arbeitslos?“ bringt 7 Fragen dazu; es gelten jetzt 13 Fragen."
        )
    );
    s.apply(answer(&["nein"])).unwrap(); // not available at once
    let v = s.view();
    assert_eq!((v.position, v.total), (Some(3), 14), "{:?}", v.count_change);
    assert!(v.count_change.unwrap().contains("bringt 1 Frage dazu"));
    // Back and the other answer: the question goes again.
    s.apply(Input::Back).unwrap();
    assert_eq!(s.view().count_change, None, "nothing changed by going back");
    s.apply(answer(&["ja"])).unwrap();
    let v = s.view();
    assert_eq!((v.position, v.total), (Some(3), 13));
    assert!(v.count_change.unwrap().contains("lässt 1 Frage entfallen"));
    // On to the end, skipping what may be skipped.
    while s.step() != Step::ReadBack {
        let v = s.view();
        let q = v.question.unwrap();
        if !q.required {
            s.apply(Input::Skip).unwrap();
        } else if q.kind == outreach_core::guide::answer::Kind::YesNo {
            s.apply(answer(&["ja"])).unwrap();
        } else {
            s.apply(answer(&["no"])).unwrap();
        }
        assert!(s.view().position.is_none_or(|p| p <= s.view().total));
    }
    let v = s.view();
    assert_eq!(
        (v.asked, v.total),
        (13, 13),
        "every applicable question asked"
    );
    assert!(v.answered < v.asked, "some skipped: {}", v.answered);
}
