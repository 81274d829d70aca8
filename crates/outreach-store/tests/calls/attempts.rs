//! Call attempts move a case through the queue, on both databases.

use super::*;

/// Attempts: started only on a held case, once (a reload returns it),
/// finished only by its agent; what follows is stored on the case.
#[tokio::test]
async fn attempts_are_recorded_and_move_the_case() {
    use outreach_store::calls::AfterAttempt;
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, sc) = world(&t.db, 3).await;
        let a = agent(&t.db, sc, "agent.a").await;
        let b = agent(&t.db, sc, "agent.b").await;
        let lease = calls::lease_next(&t.db, &scope(&t.db, sc, a, now()).await)
            .await
            .unwrap()
            .unwrap();
        let case = lease.case_id;
        let mut tx = t.db.begin().await.unwrap();
        assert_eq!(
            calls::start_attempt(&mut tx, case, b, "phone", now())
                .await
                .unwrap(),
            None
        );
        let id = calls::start_attempt(&mut tx, case, a, "phone", now())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            calls::start_attempt(&mut tx, case, a, "phone", now() + 5)
                .await
                .unwrap(),
            Some(id),
            "a reload continues the open attempt"
        );
        let due = now() + 86_400;
        assert!(
            !calls::finish_attempt(
                &mut tx,
                id,
                b,
                "busy",
                None,
                AfterAttempt::Due {
                    at: due,
                    callback: None
                },
                now() + 30
            )
            .await
            .unwrap()
        );
        assert!(
            calls::finish_attempt(
                &mut tx,
                id,
                a,
                "busy",
                None,
                AfterAttempt::Due {
                    at: due,
                    callback: None
                },
                now() + 30
            )
            .await
            .unwrap()
        );
        let rows = calls::attempts(&mut tx, case).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].result.as_deref(), Some("busy"));
        assert_eq!(rows[0].ended_at, Some(now() + 30));
        let (count, due_at, leased): (i64, Option<i64>, Option<i64>) = tx
            .fetch_one(
                "SELECT attempts_count, due_at, leased_to FROM cases WHERE id = $1",
                args![case],
            )
            .await
            .unwrap();
        assert_eq!((count, due_at, leased), (1, Some(due), None), "{backend:?}");
        tx.commit().await.unwrap();

        // The next lease of the agent is another (fresh) case; finished as final.
        let next = calls::lease_next(&t.db, &scope(&t.db, sc, a, now() + 60).await)
            .await
            .unwrap()
            .unwrap();
        assert_ne!(next.case_id, case);
        let mut tx = t.db.begin().await.unwrap();
        let id = calls::start_attempt(&mut tx, next.case_id, a, "mobile", now() + 61)
            .await
            .unwrap()
            .unwrap();
        assert!(
            calls::finish_attempt(
                &mut tx,
                id,
                a,
                "wrong_number",
                None,
                AfterAttempt::Final("no_valid_number"),
                now() + 90
            )
            .await
            .unwrap()
        );
        let (disposition,): (Option<String>,) = tx
            .fetch_one(
                "SELECT final_disposition FROM cases WHERE id = $1",
                args![next.case_id],
            )
            .await
            .unwrap();
        assert_eq!(disposition.as_deref(), Some("no_valid_number"));
        tx.commit().await.unwrap();
    }
}

/// A conversation left unfinished (the tab closed): when the lease has run
/// out the case is due again, for the next agent.
#[tokio::test]
async fn an_unfinished_conversation_returns_to_the_queue() {
    use outreach_store::calls::AfterAttempt;
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, sc) = world(&t.db, 1).await;
        let a = agent(&t.db, sc, "agent.a").await;
        let b = agent(&t.db, sc, "agent.b").await;
        let lease = calls::lease_next(&t.db, &scope(&t.db, sc, a, now()).await)
            .await
            .unwrap()
            .unwrap();
        let mut tx = t.db.begin().await.unwrap();
        let id = calls::start_attempt(&mut tx, lease.case_id, a, "phone", now())
            .await
            .unwrap()
            .unwrap();
        assert!(
            calls::finish_attempt(
                &mut tx,
                id,
                a,
                "reached",
                None,
                AfterAttempt::Conversation,
                now() + 10
            )
            .await
            .unwrap()
        );
        tx.commit().await.unwrap();
        let later = now() + 10 + LEASE_SECONDS + 1;
        let again = calls::lease_next(&t.db, &scope(&t.db, sc, b, later).await)
            .await
            .unwrap();
        assert_eq!(
            again.map(|l| (l.case_id, l.kind)),
            Some((lease.case_id, LeaseKind::Retry)),
            "{backend:?}"
        );
    }
}

/// "Anruf starten" and the result with their audit events, as the agent's
/// pages record them: only on the
/// agent's own lease, a reload continues the open attempt and renews the
/// lease once it is older than a minute, and each kind of what follows is stored on the case.
#[tokio::test]
async fn audited_attempts_move_the_case_on_both_databases() {
    use outreach_core::audit::AuditAction;
    use outreach_store::audit::AuditEvent;
    use outreach_store::calls::{AfterAttempt, Finished};
    type CaseRow = (
        i64,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        String,
        Option<i64>,
    );
    for backend in backends().await {
        let t = TestDb::new(backend).await.unwrap();
        let (_, sc) = world(&t.db, 4).await;
        let a = agent(&t.db, sc, "agent.a").await;
        let b = agent(&t.db, sc, "agent.b").await;
        let t0 = now();
        let callback = t0 + 3 * 3600;
        // (result, callback time, what follows, the case afterwards)
        let kinds: [(&str, Option<i64>, AfterAttempt, CaseRow); 4] = [
            (
                "busy",
                None,
                AfterAttempt::Due {
                    at: t0 + 86_400,
                    callback: None,
                },
                (
                    1,
                    Some(t0 + 86_400),
                    None,
                    None,
                    None,
                    None,
                    "open".into(),
                    None,
                ),
            ),
            (
                "callback",
                Some(callback),
                AfterAttempt::Due {
                    at: callback,
                    callback: Some((a, callback + 900)),
                },
                (
                    1,
                    Some(callback),
                    Some(callback),
                    Some(a),
                    None,
                    None,
                    "open".into(),
                    None,
                ),
            ),
            (
                "no_answer",
                None,
                AfterAttempt::Final("not_reached"),
                (
                    1,
                    None,
                    None,
                    None,
                    None,
                    Some("not_reached".into()),
                    "final".into(),
                    Some(t0 + 30),
                ),
            ),
            (
                "reached",
                None,
                AfterAttempt::Conversation,
                (
                    1,
                    Some(t0 + 30),
                    None,
                    None,
                    Some(a),
                    None,
                    "open".into(),
                    None,
                ),
            ),
        ];
        for (result, callback_at, after, expected) in kinds {
            let lease = calls::lease_next(&t.db, &scope(&t.db, sc, a, t0).await)
                .await
                .unwrap()
                .unwrap();
            let case = lease.case_id;
            let (state_before,): (String,) = {
                let mut tx = t.db.read().await.unwrap();
                tx.fetch_one("SELECT state FROM cases WHERE id = $1", args![case])
                    .await
                    .unwrap()
            };
            let start = AuditEvent::anonymous("agent.a", AuditAction::CallAttempt, "test")
                .record("case", case)
                .fields("Versuch {}, Nummer: phone");
            let started =
                |agent, at| calls::start_attempt_audited(&t.db, case, agent, "phone", at, &start);
            assert_eq!(
                started(b, t0).await.unwrap(),
                None,
                "{backend:?}: not b's lease"
            );
            let id = started(a, t0).await.unwrap().unwrap();
            assert_eq!(
                started(a, t0 + 5).await.unwrap(),
                Some(id),
                "{backend:?}: a reload continues the open attempt"
            );
            let expires = || async {
                let mut tx = t.db.read().await.unwrap();
                let (at,): (i64,) = tx
                    .fetch_one(
                        "SELECT lease_expires_at FROM cases WHERE id = $1",
                        args![case],
                    )
                    .await
                    .unwrap();
                at
            };
            assert_eq!(
                expires().await,
                t0 + LEASE_SECONDS,
                "{backend:?}: within its first minute the lease is left as it is"
            );
            assert_eq!(started(a, t0 + 61).await.unwrap(), Some(id));
            assert_eq!(
                expires().await,
                t0 + 61 + LEASE_SECONDS,
                "{backend:?}: renewed"
            );

            let event = AuditEvent::anonymous("agent.a", AuditAction::CallResult, "test")
                .record("case", case)
                .fields(&format!("Ergebnis: {result}"))
                .purpose("Aktion „Test“");
            let finished = |agent_id| Finished {
                attempt_id: id,
                agent_id,
                result,
                callback_at,
                after,
                now: t0 + 30,
            };
            assert!(
                !calls::finish_attempt_audited(&t.db, finished(b), &event)
                    .await
                    .unwrap(),
                "{backend:?}: not b's attempt"
            );
            assert!(
                calls::finish_attempt_audited(&t.db, finished(a), &event)
                    .await
                    .unwrap(),
                "{backend:?}: {result}"
            );
            let mut tx = t.db.read().await.unwrap();
            let mut row: CaseRow = tx
                .fetch_one(
                    "SELECT attempts_count, due_at, callback_at, callback_user_id, leased_to,
                            final_disposition, state, closed_at
                     FROM cases WHERE id = $1",
                    args![case],
                )
                .await
                .unwrap();
            if row.6 == state_before {
                row.6 = "open".into();
            }
            assert_eq!(row, expected, "{backend:?}: {result}");
            let attempts = calls::attempts(&mut tx, case).await.unwrap();
            assert_eq!(attempts.len(), 1, "{backend:?}");
            assert_eq!(
                (
                    attempts[0].result.as_deref(),
                    attempts[0].ended_at,
                    attempts[0].callback_at
                ),
                (Some(result), Some(t0 + 30), callback_at),
                "{backend:?}"
            );
            let events: Vec<(String, String, String)> = tx
                .fetch_all(
                    "SELECT action, fields, purpose FROM audit_events
                     WHERE record_type = 'case' AND record_id = $1 AND action IN ('call_attempt', 'call_result')
                     ORDER BY action, fields",
                    args![case.to_string()],
                )
                .await
                .unwrap();
            let attempt = (
                "call_attempt".to_string(),
                format!("Versuch {id}, Nummer: phone"),
                String::new(),
            );
            assert_eq!(
                events,
                vec![
                    attempt.clone(),
                    attempt.clone(),
                    attempt,
                    (
                        "call_result".into(),
                        format!("Ergebnis: {result}"),
                        "Aktion „Test“".into()
                    )
                ],
                "{backend:?}: {result}"
            );
            tx.commit().await.unwrap();
            // The next case for the next kind (the conversation keeps its lease).
            if after == AfterAttempt::Conversation {
                break;
            }
        }
    }
}
