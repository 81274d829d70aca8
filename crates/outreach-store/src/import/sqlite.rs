//! The SQLite path: the first import straight into the customers in file
//! order, a later one through the staging table, in the writer's turn.

use super::*;

/// SQLite: the same steps on a connection of the import's own, with
/// prepared statements (sqlx's per-value overhead made the staging insert
/// cost more than SQLite's own work). `BEGIN IMMEDIATE` takes SQLite's one
/// write lock for the whole import, as the writer connection would.
pub(super) async fn import_sqlite<R>(
    db: &Db,
    path: std::path::PathBuf,
    request: ImportRequest,
    source: R,
    progress: impl Fn(u64) + Send,
) -> Result<ImportReport, ImportError>
where
    R: Read + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let (bytes_tx, mut bytes_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let today = request.today;
    let reading = tokio::task::spawn_blocking(move || read_file(source, today, sender));
    let req = request.clone();
    let writing =
        tokio::task::spawn_blocking(move || sqlite_bulk::run(&path, &req, receiver, bytes_tx));
    while let Some(bytes) = bytes_rx.recv().await {
        progress(bytes);
    }
    let _ = reading.await;
    let (report, event) = writing.await.map_err(|source| StoreError::Thread {
        what: "import",
        source,
    })??;
    // The import appended to the audit chain behind the writer's back.
    if let Db::Sqlite { head, .. } = db {
        head.set(None);
    }
    if let Some(event) = event {
        // A dry run: rolled back; the run itself is recorded.
        let mut tx = db.begin().await?;
        audit::append(&mut tx, &event, request.now).await?;
        tx.commit().await?;
    }
    Ok(report)
}

mod sqlite_bulk {
    use super::*;
    use rusqlite::{Connection, named_params};

    /// The store's parameters bound by rusqlite, so that the bulk import
    /// appends its audit event with the same statement as everyone else.
    impl rusqlite::ToSql for crate::Arg {
        fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
            match self {
                crate::Arg::Int(v) => v.to_sql(),
                crate::Arg::Text(v) => v.to_sql(),
                crate::Arg::Bool(v) => v.to_sql(),
                crate::Arg::Bytes(v) => v.to_sql(),
            }
        }
    }

    fn failed(e: rusqlite::Error) -> StoreError {
        StoreError::Sqlite(e)
    }

    /// Runs the import; returns the report and, for a dry run, the audit
    /// event still to append (the rolled-back transaction can't hold it).
    pub(super) fn run(
        path: &std::path::Path,
        request: &ImportRequest,
        mut receiver: tokio::sync::mpsc::Receiver<Message>,
        bytes: tokio::sync::mpsc::UnboundedSender<u64>,
    ) -> Result<(ImportReport, Option<AuditEvent>), ImportError> {
        let mut conn = Connection::open(path).map_err(failed)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(failed)?;
        // As on every connection of the store, but without foreign key
        // enforcement: SQLite keeps a statement journal for every statement
        // that could fail half-way on a key, and a first import writes many
        // rows with one statement. What the keys would check is checked below
        // under the write lock (the job center and the user exist); all else
        // the import writes refers to rows it read itself. Plus a page cache
        // large enough for the new customers' index pages.
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF; PRAGMA secure_delete = ON; PRAGMA cache_size = -32768;
             PRAGMA temp.cache_size = -16384; DROP TABLE IF EXISTS temp.import_rows;",
        )
        .map_err(failed)?;
        conn.execute_batch(&CREATE_STAGING).map_err(failed)?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(failed)?;
        let jc = request.job_center_id;
        let exists = |sql: &str, id: i64| {
            tx.query_row(sql, [id], |row| row.get::<_, bool>(0))
                .map_err(failed)
        };
        if !exists(
            "SELECT EXISTS (SELECT 1 FROM job_centers WHERE id = ?1)",
            jc,
        )? {
            return Err(StoreError::NotFound(format!("job center {jc}")).into());
        }
        if let Some(user) = request.user_id
            && !exists("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", user)?
        {
            return Err(StoreError::NotFound(format!("user {user}")).into());
        }
        let import_id: i64 = tx
            .query_row(
                INSERT_IMPORT,
                named_params! {"$1": jc, "$2": request.file_name, "$3": request.user_id, "$4": request.now, "$5": request.job_id},
                |row| row.get(0),
            )
            .map_err(failed)?;
        let mut report = ImportReport {
            dry_run: request.dry_run,
            ..ImportReport::default()
        };
        // The write lock is held: nobody adds customers meanwhile.
        let existing: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM customers WHERE job_center_id = ?1",
                [jc],
                |row| row.get(0),
            )
            .map_err(failed)?;
        tracing::debug!(existing, "import: started");
        let count = |n: usize| n as u64;
        let phase = std::time::Instant::now();
        if existing == 0 {
            // A first import: straight into the customers table, in file
            // order, a number seen before turned away on the way.
            let mut collected = Collected::default();
            let duplicates = load_first(
                &tx,
                request,
                &mut receiver,
                &bytes,
                &mut report,
                &mut collected,
            )?;
            report.inserted = report.accepted - duplicates.len() as u64;
            collected.finish(&mut report, duplicates)?;
            tracing::debug!(elapsed = ?phase.elapsed(), "import: inserted");
        } else {
            let mut collected = Collected::default();
            load_staging(&tx, &mut receiver, &bytes, &mut report, &mut collected)?;
            tracing::debug!(elapsed = ?phase.elapsed(), rows = report.rows, "import: staging loaded");
            tx.execute_batch(INDEX_STAGING).map_err(failed)?;
            let duplicates = query_duplicates(&tx, DUPLICATES)?;
            if !duplicates.is_empty() {
                tx.execute(DELETE_DUPLICATES, []).map_err(failed)?;
            }
            collected.finish(&mut report, duplicate_issues(duplicates)?)?;
            tx.execute(CHANGES.as_str(), named_params! {"$1": import_id, "$2": jc})
                .map_err(failed)?;
            tracing::debug!(elapsed = ?phase.elapsed(), "import: changes");
            report.updated = count(
                tx.execute(
                    UPDATE_CHANGED.as_str(),
                    named_params! {"$1": jc, "$2": request.now, "$3": import_id},
                )
                .map_err(failed)?,
            );
            report.inserted = count(
                tx.execute(
                    INSERT_NEW.as_str(),
                    named_params! {"$1": jc, "$2": request.now},
                )
                .map_err(failed)?,
            );
            report.missing = count(
                tx.execute(FLAG_MISSING, named_params! {"$1": jc, "$2": request.now})
                    .map_err(failed)?,
            );
            tracing::debug!(elapsed = ?phase.elapsed(), "import: merged");
        }
        drop(bytes);
        report.unchanged = report.accepted - report.inserted - report.updated;
        tx.execute_batch("DROP TABLE temp.import_rows;")
            .map_err(failed)?;
        let [a, b, c, d, e, f, g, h] = finish_args(&report);
        tx.execute(
            FINISH_IMPORT,
            named_params! {"$1": import_id, "$2": request.now, "$3": a, "$4": b, "$5": c, "$6": d, "$7": e, "$8": f, "$9": g, "$10": h},
        )
        .map_err(failed)?;
        let event = import_event(request, &report, import_id);
        if request.dry_run {
            tx.rollback().map_err(failed)?;
            return Ok((report, Some(event)));
        }
        // The write lock is held: the head can't move while this appends.
        let (last_seq, last_hash): (i64, String) = tx
            .query_row(
                "SELECT last_seq, last_hash FROM audit_head WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(failed)?;
        let (args, _) = audit::chained_args(&event, last_seq + 1, last_hash, request.now);
        let appended = tx
            .execute(audit::INSERT_CHAINED, rusqlite::params_from_iter(args))
            .map_err(failed)?;
        if appended != 1 {
            return Err(StoreError::AuditChain("its head moved during the import".into()).into());
        }
        tx.commit().map_err(failed)?;
        tracing::debug!(elapsed = ?phase.elapsed(), "import: committed");
        report.import_id = Some(import_id);
        Ok((report, None))
    }

    /// The staging path: every record into `import_rows`.
    fn load_staging(
        tx: &rusqlite::Transaction<'_>,
        receiver: &mut tokio::sync::mpsc::Receiver<Message>,
        bytes: &tokio::sync::mpsc::UnboundedSender<u64>,
        report: &mut ImportReport,
        collected: &mut Collected,
    ) -> Result<(), ImportError> {
        let mut insert = tx
            .prepare(&format!(
                "INSERT INTO import_rows ({}) VALUES ({})",
                *STAGING_COLUMNS,
                (1..=CUSTOMER_WIDTH + 1)
                    .map(|i| format!("?{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .map_err(failed)?;
        let progress = |n: u64| {
            let _ = bytes.send(n);
        };
        let mut dates = DateText::default();
        while let Some(message) = receiver.blocking_recv() {
            let Some((_, records)) = absorb(report, collected, message, &progress)? else {
                continue;
            };
            for record in records {
                insert
                    .raw_bind_parameter(1, i64::try_from(record.line).unwrap_or(i64::MAX))
                    .map_err(failed)?;
                bind_customer(&mut insert, 2, &record, &mut dates).map_err(failed)?;
                insert.raw_execute().map_err(failed)?;
            }
        }
        Ok(())
    }

    /// Rows per INSERT on a first import: the work a statement does once
    /// (its end, the list of the status check, the AUTOINCREMENT counter)
    /// shared by many rows.
    const ROWS_PER_INSERT: usize = 64;

    /// An INSERT of `rows` customers: the job center and the time in `?1` and
    /// `?2`, then [`customer_values`] row after row; a number already stored
    /// is left out.
    fn customer_insert(rows: usize) -> String {
        let mut sql = format!(
            "INSERT OR IGNORE INTO customers (job_center_id, created_at, updated_at, {}) VALUES ",
            field_columns("")
        );
        for row in 0..rows {
            sql.push_str(if row == 0 {
                "(?1, ?2, ?2"
            } else {
                ", (?1, ?2, ?2"
            });
            for column in 0..CUSTOMER_WIDTH {
                sql.push_str(&format!(", ?{}", 3 + row * CUSTOMER_WIDTH + column));
            }
            sql.push(')');
        }
        sql
    }

    /// Binds a record's [`customer_values`] from parameter `first` on. The
    /// statement keeps its other parameters between rows, so nothing is
    /// collected per row.
    fn bind_customer(
        stmt: &mut rusqlite::Statement<'_>,
        first: usize,
        record: &CustomerRecord,
        dates: &mut DateText,
    ) -> rusqlite::Result<()> {
        for (i, value) in customer_values(record, dates).iter().enumerate() {
            stmt.raw_bind_parameter(first + i, value.as_deref())?;
        }
        Ok(())
    }

    /// A first import's writer: records go straight into `customers`, in
    /// file order and [`ROWS_PER_INSERT`] to a statement; the unique key
    /// turns away a number seen before, and the line it was first seen on is
    /// found from its id (see [`LinesById`]). Nothing is kept per customer.
    struct FirstWriter<'c> {
        conn: &'c Connection,
        many: rusqlite::Statement<'c>,
        one: rusqlite::Statement<'c>,
        stored: rusqlite::Statement<'c>,
        job_center_id: i64,
        pending: Vec<CustomerRecord>,
        /// The largest id this import stored so far (0 before the first).
        last_id: i64,
        lines: LinesById,
        duplicates: IssueWriter,
        dates: DateText,
    }

    impl<'c> FirstWriter<'c> {
        fn new(conn: &'c Connection, request: &ImportRequest) -> Result<Self, ImportError> {
            let mut many = conn
                .prepare(&customer_insert(ROWS_PER_INSERT))
                .map_err(failed)?;
            let mut one = conn.prepare(&customer_insert(1)).map_err(failed)?;
            for stmt in [&mut many, &mut one] {
                stmt.raw_bind_parameter(1, request.job_center_id)
                    .map_err(failed)?;
                stmt.raw_bind_parameter(2, request.now).map_err(failed)?;
            }
            let stored = conn
                .prepare(
                    "SELECT id FROM customers WHERE job_center_id = ?1 AND customer_number = ?2",
                )
                .map_err(failed)?;
            Ok(FirstWriter {
                conn,
                many,
                one,
                stored,
                job_center_id: request.job_center_id,
                pending: Vec::with_capacity(ROWS_PER_INSERT),
                last_id: 0,
                lines: LinesById::default(),
                duplicates: IssueWriter::default(),
                dates: DateText::default(),
            })
        }

        fn take(&mut self, record: CustomerRecord) -> Result<(), ImportError> {
            self.pending.push(record);
            if self.pending.len() == ROWS_PER_INSERT {
                self.write(true)?;
            }
            Ok(())
        }

        /// Writes the rest one by one; returns the rejected later lines.
        fn finish(mut self) -> Result<IssueLog, ImportError> {
            let rest = std::mem::take(&mut self.pending);
            for record in rest {
                self.pending.push(record);
                self.write(false)?;
            }
            Ok(self.duplicates.finish()?)
        }

        /// Writes the pending records with one statement (`many` of them or
        /// one).
        fn write(&mut self, many: bool) -> Result<(), ImportError> {
            let FirstWriter {
                conn,
                many: many_rows,
                one,
                stored,
                job_center_id,
                pending,
                last_id,
                lines,
                duplicates,
                dates,
            } = self;
            let stmt = if many { many_rows } else { one };
            for (row, record) in pending.iter().enumerate() {
                bind_customer(stmt, 3 + row * CUSTOMER_WIDTH, record, dates).map_err(failed)?;
            }
            let inserted = stmt.raw_execute().map_err(failed)?;
            let before = *last_id;
            if inserted == pending.len() {
                // All stored, with the ids up to the last one in order.
                let last = conn.last_insert_rowid();
                for (k, record) in pending.iter().enumerate() {
                    lines.note(last - (pending.len() - 1 - k) as i64, record.line);
                }
                *last_id = last;
            } else {
                // Some turned away by the unique key: each record's number
                // tells the id it is stored under, by this statement (the
                // first of them) or by an earlier one.
                let mut here: Vec<(i64, u64)> = Vec::new();
                for record in pending.iter() {
                    let number = record.customer.customer_number.as_str();
                    let id: i64 = stored
                        .query_row(rusqlite::params![*job_center_id, number], |row| row.get(0))
                        .map_err(failed)?;
                    let first = if id > before {
                        match here.iter().find(|(stored, _)| *stored == id) {
                            Some(&(_, first)) => Some(first),
                            None => {
                                here.push((id, record.line));
                                lines.note(id, record.line);
                                *last_id = (*last_id).max(id);
                                None
                            }
                        }
                    } else {
                        Some(lines.line_of(id).unwrap_or(0))
                    };
                    if let Some(first) = first {
                        push_duplicate(duplicates, record.line, number, first)?;
                    }
                }
            }
            pending.clear();
            Ok(())
        }
    }

    /// A first import: see [`FirstWriter`].
    fn load_first(
        tx: &rusqlite::Transaction<'_>,
        request: &ImportRequest,
        receiver: &mut tokio::sync::mpsc::Receiver<Message>,
        bytes: &tokio::sync::mpsc::UnboundedSender<u64>,
        report: &mut ImportReport,
        collected: &mut Collected,
    ) -> Result<IssueLog, ImportError> {
        let mut writer = FirstWriter::new(tx, request)?;
        let progress = |n: u64| {
            let _ = bytes.send(n);
        };
        let mut in_order = InOrder::default();
        while let Some(message) = receiver.blocking_recv() {
            let Some((seq, records)) = absorb(report, collected, message, &progress)? else {
                continue;
            };
            in_order.push(seq, records, |record| writer.take(record))?;
        }
        debug_assert!(in_order.waiting.is_empty(), "a batch never became due");
        writer.finish()
    }

    fn query_duplicates(
        tx: &rusqlite::Transaction<'_>,
        sql: &str,
    ) -> Result<Vec<Duplicate>, ImportError> {
        let mut stmt = tx.prepare(sql).map_err(failed)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(Duplicate {
                    line: row.get(0)?,
                    customer_number: row.get(1)?,
                    first_line: row.get(2)?,
                })
            })
            .map_err(failed)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(failed)?;
        Ok(rows)
    }
}
