#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Report figures on both databases for a fixed set of cases; the expected
//! numbers are worked out by hand from DOMAIN.md's formulas.

use jiff::civil::date;
use outreach_core::customer::Field as StoredField;
use outreach_core::guide::Field;
use outreach_core::metrics::AaporCounts;
use outreach_store::report::{self, ReportScope};
use outreach_store::testing::{TestDb, backends, letter_campaign, letter_customer};
use outreach_store::{args, campaign};

/// Tuesday 12.01.2027 10:00 Berlin (09:00 UTC).
const TUESDAY_10: i64 = 1_799_744_400;

#[tokio::test]
async fn figures_of_a_fixed_set_of_cases() {
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let id = letter_campaign(&t.db, (0..20).map(letter_customer))
            .await
            .unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let c = campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, id)
            .await
            .unwrap()
            .unwrap();
        campaign::activate(&mut tx, &c, date(2027, 1, 4), 0)
            .await
            .unwrap();
        let cases: Vec<(i64,)> = tx
            .fetch_all(
                "SELECT id FROM cases WHERE campaign_id = $1 ORDER BY id",
                args![id],
            )
            .await
            .unwrap();
        // 20 cases: 4 confirmed, 2 updated (I = 6), 1 partial (P), 3 refused
        // and 1 objection (R = 4), 3 not reached (NC), 1 identity failed (O),
        // 1 no valid number (UH), 1 not responsible (NE); 2 still open, one
        // of them with a callback.
        let plan = [
            "confirmed",
            "confirmed",
            "confirmed",
            "confirmed",
            "updated",
            "updated",
            "partial",
            "refused",
            "refused",
            "refused",
            "objection",
            "not_reached",
            "not_reached",
            "not_reached",
            "identity_failed",
            "no_valid_number",
            "not_responsible",
        ];
        for (n, ((case,), code)) in cases.iter().zip(plan).enumerate() {
            let closed = TUESDAY_10 + 86_400 * i64::try_from(n % 2).unwrap();
            tx.execute(
                "UPDATE cases SET final_disposition = $2, state = 'final', closed_at = $3 WHERE id = $1",
                args![*case, code, closed],
            )
            .await
            .unwrap();
        }
        tx.execute(
            "UPDATE cases SET callback_at = 1, attempts_count = 1 WHERE id = $1",
            args![cases[17].0],
        )
        .await
        .unwrap();
        // Results of the six complete conversations: one no longer
        // unemployed, both updated ones change the phone, one the city too.
        for (n, (case,)) in cases.iter().take(6).enumerate() {
            let outcome = if n < 4 { "confirmed" } else { "updated" };
            let changes = match n {
                4 => {
                    r#"[{"field":"phone","question":"t","old":"a","new":"b","old_display":"a","new_display":"b"},{"field":"city","question":"o","old":"a","new":"b","old_display":"a","new_display":"b"}]"#
                }
                5 => {
                    r#"[{"field":"phone","question":"t","old":"a","new":"b","old_display":"a","new_display":"b"}]"#
                }
                _ => "[]",
            };
            let (flags, codes) = if n == 0 {
                (
                    r#"{"no_longer_unemployed":{"reason":"x","reason_label":"Beschäftigung 1. Arbeitsmarkt","since":null,"hours_per_week":null,"social_insurance":null},"moved":null,"health_restriction":null,"wants_appointment":false,"contact_updated":false}"#,
                    " no_longer_unemployed ",
                )
            } else {
                ("{}", " ")
            };
            // The reached attempt started 5 minutes (n even) or 7 minutes
            // (n odd) before the result: mean talk time 6 minutes.
            let talk = if n % 2 == 0 { 300 } else { 420 };
            tx.execute(
                "INSERT INTO results (case_id, outcome, guide_version, changes, flags, flag_codes, created_at)
                 VALUES ($1, $2, 'v', $3, $4, $5, $6)",
                args![*case, outcome, changes, flags, codes, TUESDAY_10 + talk],
            )
            .await
            .unwrap();
            // Before the conversation: one "no answer" the day before at
            // 17:00 for the first three.
            if n < 3 {
                tx.execute(
                    "INSERT INTO attempts (case_id, started_at, ended_at, result) VALUES ($1, $2, $2, 'no_answer')",
                    args![*case, TUESDAY_10 - 86_400 + 7 * 3600],
                )
                .await
                .unwrap();
            }
            tx.execute(
                "INSERT INTO attempts (case_id, started_at, ended_at, result) VALUES ($1, $2, $2, 'reached')",
                args![*case, TUESDAY_10],
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();

        let mut tx = t.db.begin_read().await.unwrap();
        let scope = ReportScope {
            campaign_id: Some(id),
            job_center_id: Some(c.job_center_id),
            service_center_id: None,
        };
        let f = report::figures(&mut tx, scope).await.unwrap();
        assert_eq!(
            f.states,
            vec![
                ("callback".to_string(), 1),
                ("final".to_string(), 17),
                ("fresh".to_string(), 2)
            ]
        );
        let mut aapor = AaporCounts::default();
        for (code, n) in &f.dispositions {
            aapor.add(code, *n);
        }
        // Denominator I+P+R+NC+O+UH+UO = 6+1+4+3+1+1+0 = 16.
        assert_eq!(aapor.rr1(), Some(6.0 / 16.0));
        assert_eq!(aapor.rr2(), Some(7.0 / 16.0));
        assert_eq!(aapor.coop1(), Some(6.0 / 12.0));
        assert_eq!(aapor.ref1(), Some(4.0 / 16.0));
        assert_eq!(aapor.con1(), Some(12.0 / 16.0));
        assert_eq!(aapor.not_eligible, 1);
        assert_eq!(f.completed, 6);
        assert_eq!(f.no_longer_unemployed, 1);
        assert_eq!(
            f.reasons,
            vec![("Beschäftigung 1. Arbeitsmarkt".to_string(), 1)]
        );
        assert_eq!(f.with_change, 2);
        let changed = |field: Field| f.changed_fields.iter().find(|x| x.0 == field).unwrap().1;
        assert_eq!(changed(Field::Stored(StoredField::Phone)), 2);
        assert_eq!(changed(Field::Stored(StoredField::City)), 1);
        assert_eq!(changed(Field::Stored(StoredField::Email)), 0);
        // 6 reached + 3 earlier attempts for 6 conversations.
        assert_eq!(f.attempts_of_completed, 9);
        assert_eq!((f.talk_seconds, f.talks), (3 * 300 + 3 * 420, 6));
        // Attempts: 6 at 10:00 (all reached), 3 at 17:00 the day before.
        assert_eq!(
            f.attempts_by_hour,
            vec![
                ((TUESDAY_10 - 86_400 + 7 * 3600) / 3600, 3, 0),
                (TUESDAY_10 / 3600, 6, 6)
            ]
        );
        // Closed: 9 on Tuesday, 8 on Wednesday.
        assert_eq!(
            f.closed_by_hour,
            vec![(TUESDAY_10 / 3600, 9), ((TUESDAY_10 + 86_400) / 3600, 8)]
        );
        // Another job center's scope sees nothing of it.
        let foreign = ReportScope {
            campaign_id: Some(id),
            job_center_id: Some(c.job_center_id + 1000),
            service_center_id: None,
        };
        let nothing = report::figures(&mut tx, foreign).await.unwrap();
        assert!(nothing.states.is_empty() && nothing.dispositions.is_empty());
        assert_eq!(nothing.completed, 0);
        tx.commit().await.unwrap();
    }
}
