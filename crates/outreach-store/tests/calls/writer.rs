//! SQLite's single writer: urgent writes first, half-done writes rolled
//! back, the log copied beside it.

use super::*;

/// SQLite has one writer. An agent's next case waits only for the write at
/// it, not behind the writes waiting in line for it (`Db::begin_urgent`).
#[tokio::test]
async fn an_urgent_write_goes_before_the_writes_in_line() {
    let t = TestDb::new(outreach_store::Backend::Sqlite).await.unwrap();
    let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let at_writer = t.db.begin().await.unwrap();
    let waiting = |urgent: bool| {
        let (db, order) = (t.db.clone(), order.clone());
        tokio::spawn(async move {
            let tx = if urgent {
                db.begin_urgent().await.unwrap()
            } else {
                db.begin().await.unwrap()
            };
            order
                .lock()
                .unwrap()
                .push(if urgent { "dringend" } else { "normal" });
            tx.commit().await.unwrap();
        })
    };
    // Waits (polled, with a deadline) until `n` writes wait for the writer.
    let until_waiting = |n: usize| {
        let db = t.db.clone();
        async move {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while db.writes_waiting() < n {
                assert!(
                    std::time::Instant::now() < deadline,
                    "{n} writes never waited"
                );
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
    };
    let normal = waiting(false);
    until_waiting(1).await;
    let urgent = waiting(true);
    until_waiting(2).await;
    assert!(order.lock().unwrap().is_empty(), "the writer is held");
    at_writer.commit().await.unwrap();
    normal.await.unwrap();
    urgent.await.unwrap();
    assert_eq!(*order.lock().unwrap(), ["dringend", "normal"]);
}

/// SQLite's writer is handed from write to write without a pool. A write
/// dropped in the middle of its transaction (an error, a cancelled request)
/// is rolled back before the next write has the writer: nothing of it is
/// stored, and the next write begins its own transaction.
#[tokio::test]
async fn a_write_dropped_half_way_is_rolled_back_before_the_next() {
    let t = TestDb::new(outreach_store::Backend::Sqlite).await.unwrap();
    let count = |db: Db| async move {
        let mut tx = db.read().await.unwrap();
        tx.fetch_one::<(i64,)>(
            "SELECT COUNT(*) FROM job_centers WHERE code LIKE 'abgebrochen%'",
            vec![],
        )
        .await
        .unwrap()
        .0
    };
    for urgent in [false, true] {
        let mut tx = if urgent {
            t.db.begin_urgent().await.unwrap()
        } else {
            t.db.begin().await.unwrap()
        };
        tx.execute(
            "INSERT INTO job_centers (code, name, created_at) VALUES ('abgebrochen-' || $1, 'x', 0)",
            args![i64::from(urgent)],
        )
        .await
        .unwrap();
        drop(tx);
        let mut next = t.db.begin().await.unwrap();
        next.execute(
            "INSERT INTO job_centers (code, name, created_at) VALUES ('danach-' || $1, 'x', 0)",
            args![i64::from(urgent)],
        )
        .await
        .unwrap();
        next.commit().await.unwrap();
    }
    assert_eq!(
        count(t.db.clone()).await,
        0,
        "the dropped writes left nothing"
    );
    let mut tx = t.db.read().await.unwrap();
    let (after,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM job_centers WHERE code LIKE 'danach-%'",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(after, 2, "the writes after them are stored");
}

/// `outreach serve` on SQLite copies the write-ahead log into the database
/// file in a task of its own; the writer then never does it in a commit.
#[tokio::test]
async fn the_log_is_copied_beside_the_writer() {
    let t = TestDb::new(outreach_store::Backend::Sqlite).await.unwrap();
    let autocheckpoint = |db: Db| async move {
        let mut tx = db.write_once().await.unwrap();
        tx.fetch_one::<(i64,)>("PRAGMA wal_autocheckpoint", vec![])
            .await
            .unwrap()
            .0
    };
    assert_eq!(autocheckpoint(t.db.clone()).await, 1000, "SQLite's default");
    assert!(t.db.checkpoint_in_background().await.unwrap());
    assert_eq!(
        autocheckpoint(t.db.clone()).await,
        0,
        "the writer leaves it"
    );
    let mut tx = t.db.begin().await.unwrap();
    tx.execute(
        "INSERT INTO job_centers (code, name, created_at) VALUES ('im-log', 'x', 0)",
        vec![],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(t.db.checkpoint().await.unwrap() > 0, "pages copied");
    if backends()
        .await
        .contains(&outreach_store::Backend::Postgres)
    {
        let pg = TestDb::new(outreach_store::Backend::Postgres)
            .await
            .unwrap();
        assert!(
            !pg.db.checkpoint_in_background().await.unwrap(),
            "nothing to do"
        );
        assert_eq!(pg.db.checkpoint().await.unwrap(), 0);
    }
}
