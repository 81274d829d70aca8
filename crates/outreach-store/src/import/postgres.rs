//! The PostgreSQL pass: COPY into the staging table (or straight into the
//! customers on a first import), then one set of statements merges it.

use super::*;

/// One reading of the file on PostgreSQL: `direct`ly into `customers`, or
/// into the staging table and merged from there.
pub(super) async fn postgres_pass<R: Read + Send + 'static>(
    tx: &mut crate::Tx,
    request: &ImportRequest,
    import_id: i64,
    source: R,
    direct: bool,
    progress: &(impl Fn(u64) + Send),
) -> Result<ImportReport, ImportError> {
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let today = request.today;
    let reading = tokio::task::spawn_blocking(move || read_file(source, today, sender));
    let mut report = ImportReport {
        dry_run: request.dry_run,
        ..ImportReport::default()
    };
    let jc = request.job_center_id;
    if !direct {
        // Customer numbers compare bytewise, as in `customers` (migration 0015).
        let create = CREATE_STAGING.replacen(
            "customer_number TEXT",
            "customer_number TEXT COLLATE \"C\"",
            1,
        );
        tx.execute_generated(format!("{create} ON COMMIT DROP"), vec![])
            .await?;
    }
    let (chunks, chunks_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
    let prefix = format!("{jc}\t{now}\t{now}\t", now = request.now).into_bytes();
    let mut collected = Collected::default();
    let feed = async {
        // Dropped when the feed ends, so that the reading side stops too
        // should the COPY have failed.
        let mut receiver = receiver;
        let chunks = chunks;
        let mut out = Vec::with_capacity(COPY_CHUNK + 4096);
        let mut dates = DateText::default();
        let mut line_prefix = Vec::new();
        while let Some(message) = receiver.recv().await {
            let Some((_, records)) = absorb(&mut report, &mut collected, message, progress)? else {
                continue;
            };
            for r in &records {
                let prefix = if direct {
                    &prefix
                } else {
                    line_prefix.clear();
                    line_prefix.extend_from_slice(format!("{}\t", r.line).as_bytes());
                    &line_prefix
                };
                push_copy_row(&mut out, prefix, &customer_values(r, &mut dates));
            }
            if out.len() >= COPY_CHUNK {
                let full = std::mem::replace(&mut out, Vec::with_capacity(COPY_CHUNK + 4096));
                if chunks.send(full).await.is_err() {
                    // COPY failed; its error is the one reported.
                    break;
                }
            }
        }
        if !out.is_empty() {
            let _ = chunks.send(out).await;
        }
        Ok::<_, ImportError>(())
    };
    let statement = if direct {
        COPY_CUSTOMERS.as_str()
    } else {
        COPY_STAGING.as_str()
    };
    let (fed, copied) = tokio::join!(feed, tx.copy_in_chunks(statement, chunks_rx));
    let _ = reading.await;
    // Dropping the transaction on an error rolls everything back; a file
    // that could not be read is the error to report.
    fed?;
    let copied = copied?;
    let phase = std::time::Instant::now();
    tracing::debug!(rows = report.rows, direct, "import: rows copied");
    if direct {
        report.inserted = copied;
        collected.finish(&mut report, IssueLog::default())?;
        return Ok(report);
    }
    // A hash aggregate finds whether any number repeats.
    let (repeated,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM (SELECT customer_number FROM import_rows GROUP BY customer_number HAVING COUNT(*) > 1) d",
            vec![],
        )
        .await?;
    tx.execute(INDEX_STAGING, vec![]).await?;
    tx.execute("ANALYZE import_rows", vec![]).await?;
    let duplicates: Vec<Duplicate> = if repeated > 0 {
        let found = tx.fetch_all(DUPLICATES, vec![]).await?;
        tx.execute(DELETE_DUPLICATES, vec![]).await?;
        found
    } else {
        Vec::new()
    };
    collected.finish(&mut report, duplicate_issues(duplicates)?)?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: duplicates");
    tx.execute(CHANGES.as_str(), args![import_id, jc]).await?;
    report.updated = tx
        .execute(UPDATE_CHANGED.as_str(), args![jc, request.now, import_id])
        .await?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: updated");
    report.inserted = tx
        .execute(INSERT_NEW.as_str(), args![jc, request.now])
        .await?;
    tracing::debug!(elapsed = ?phase.elapsed(), "import: inserted");
    report.missing = tx.execute(FLAG_MISSING, args![jc, request.now]).await?;
    Ok(report)
}
