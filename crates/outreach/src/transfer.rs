//! `outreach import customers` and `outreach export customers`: a job center's
//! customer data in and out, as CSV in the export format.

use crate::commands::{CLI_CLIENT, open};
use anyhow::{Context, bail};
use outreach_core::access::CustomerScope;
use outreach_core::audit::AuditAction;
use outreach_core::date::{berlin_date, berlin_day_start, parse_de_date};
use outreach_core::handover::{ExportRecord, export_csv};
use outreach_core::import::Column;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::import::{ImportError, ImportReport};
use outreach_store::{customer, handover, org};
use std::io::Write;
use std::process::ExitCode;

async fn job_center(db: &outreach_store::Db, code: &str) -> anyhow::Result<i64> {
    let mut tx = db.begin_read().await?;
    match org::job_center_by_code(&mut tx, code).await? {
        Some(jc) => Ok(jc.id),
        None => bail!("--jobcenter: Es gibt kein Jobcenter mit dem Kürzel „{code}“."),
    }
}

fn summary(file: &str, r: &ImportReport) -> String {
    let mut out = format!(
        "{}{file}: {} Zeilen gelesen ({}, Trennzeichen „{}“)\n  übernommen: {}  (neu {}, geändert {}, unverändert {})\n  abgelehnt:  {}\n  Warnungen:  {}\n  nicht mehr im Export: {}\n",
        if r.dry_run {
            "PROBELAUF – nichts gespeichert. "
        } else {
            ""
        },
        r.rows,
        r.encoding,
        r.delimiter,
        r.accepted,
        r.inserted,
        r.updated,
        r.unchanged,
        r.rejected,
        r.warnings,
        r.missing
    );
    if !r.unknown_columns.is_empty() {
        out.push_str(&format!(
            "  unbekannte Spalten (ignoriert): {}\n",
            r.unknown_columns.join(", ")
        ));
    }
    const SHOWN: usize = 20;
    for e in r.errors.iter().take(SHOWN) {
        out.push_str(&format!(
            "  Zeile {}, {} ({}): {}\n",
            e.line,
            e.field,
            if e.customer_number.is_empty() {
                "ohne Kundennummer"
            } else {
                &e.customer_number
            },
            e.message
        ));
    }
    if r.errors.len() > SHOWN {
        out.push_str(&format!(
            "  … und {} weitere abgelehnte Zeilen (vollständig im Bericht, --report)\n",
            r.errors.len() - SHOWN
        ));
    }
    out
}

pub async fn import(
    url: &str,
    file: &str,
    code: &str,
    dry_run: bool,
    report_path: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let job_center_id = job_center(&db, code).await?;
    let source = std::fs::File::open(file)
        .with_context(|| format!("Die Datei {file} kann nicht geöffnet werden"))?;
    let size = source.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, noch {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let now = jiff::Timestamp::now().as_second();
    let name = std::path::Path::new(file)
        .file_name()
        .map_or_else(|| file.to_string(), |n| n.to_string_lossy().into_owned());
    let import = outreach_app::imports::Import {
        job_center_id,
        file_name: name,
        dry_run,
    };
    let progress = bar.clone();
    // The file opened above first; opened again should the import need a
    // second reading.
    let mut source = Some(source);
    let open = || match source.take() {
        Some(file) => Ok(std::io::BufReader::new(file)),
        None => std::fs::File::open(file).map(std::io::BufReader::new),
    };
    let by = outreach_app::Source::CommandLine;
    let show = move |bytes| progress.set_position(bytes);
    let today = berlin_date(now);
    let result = outreach_app::imports::run(&db, by, import, open, show, today, now).await;
    bar.finish_and_clear();
    db.close().await;
    let report = match result {
        Ok(report) => report,
        Err(ImportError::Read(e)) => bail!("{file}: {e} Es wurde nichts gespeichert."),
        Err(ImportError::Store(e)) => {
            return Err(e).context("Der Import ist fehlgeschlagen; es wurde nichts gespeichert");
        }
        Err(ImportError::Spill(e)) => {
            return Err(e).context(
                "Der Import ist fehlgeschlagen, weil die Meldungen nicht zwischengespeichert werden konnten; es wurde nichts gespeichert",
            );
        }
    };
    print!("{}", summary(file, &report));
    if let Some(path) = report_path {
        // Written as it is read from the report's file, not built in memory.
        let written = std::fs::File::create(path).and_then(|file| {
            let mut out = std::io::BufWriter::new(file);
            serde_json::to_writer_pretty(&mut out, &report)?;
            std::io::Write::flush(&mut out)
        });
        written.with_context(|| format!("Der Bericht {path} kann nicht geschrieben werden"))?;
        println!("Bericht: {path}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn export(url: &str, code: &str, out: Option<&str>) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let job_center_id = job_center(&db, code).await?;
    let target: Box<dyn Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("{path} kann nicht angelegt werden"))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut csv = outreach_core::spreadsheet::CsvWriter::new(target)?;
    csv.row(Column::ALL.iter().map(|c| c.header()))?;
    let scope = CustomerScope::JobCenter { job_center_id };
    let now = jiff::Timestamp::now().as_second();
    let today = berlin_date(now).to_string();
    let (mut after, mut count) = (0i64, 0u64);
    loop {
        let mut tx = db.begin_read().await?;
        let page = customer::page_after(&mut tx, &scope, &today, after, 5000).await?;
        drop(tx);
        let Some(last) = page.last() else { break };
        after = last.id;
        for c in &page {
            let values = c.export_values();
            csv.row(Column::ALL.iter().map(|col| values.get(*col).unwrap_or("")))?;
            count += 1;
        }
    }
    csv.flush()?;
    let mut tx = db.begin().await?;
    let event = AuditEvent::anonymous(CLI_CLIENT, AuditAction::CustomerExport, CLI_CLIENT)
        .record("export", out.unwrap_or("Standardausgabe"))
        .fields(&format!("{count} Kunden, alle Spalten des Exportformats"))
        .purpose("Export der Kundendaten des Jobcenters")
        .job_center(Some(job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    db.close().await;
    if out.is_some() {
        eprintln!("{count} Kunden exportiert.");
    }
    Ok(ExitCode::SUCCESS)
}

/// `outreach export results`: the final cases of a campaign as CSV or JSON;
/// the exported cases are marked handed over, the export is audited.
pub async fn export_results(
    url: &str,
    campaign_id: i64,
    since: Option<&str>,
    format: &str,
    out: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let json = match format {
        "csv" => false,
        "json" => true,
        other => bail!("Unbekanntes Format „{other}“: erlaubt sind csv und json."),
    };
    let since_start = match since {
        Some(raw) => Some(berlin_day_start(parse_de_date(raw).map_err(|_| {
            anyhow::anyhow!("--since: „{raw}“ ist kein Datum im Format TT.MM.JJJJ.")
        })?)),
        None => None,
    };
    let db = open(url).await?;
    let campaign = {
        let mut tx = db.begin_read().await?;
        let c = outreach_store::campaign::by_id(
            &mut tx,
            outreach_store::RecordScope::Operator,
            campaign_id,
        )
        .await?;
        tx.commit().await?;
        c.ok_or_else(|| anyhow::anyhow!("Die Aktion {campaign_id} gibt es nicht."))?
    };
    let now = jiff::Timestamp::now().as_second();
    let mut tx = db.begin().await?;
    let cases =
        handover::export_cases(&mut tx, campaign.job_center_id, campaign.id, since_start).await?;
    let body = if json {
        let records: Vec<ExportRecord> = cases.iter().map(ExportRecord::of).collect();
        let mut body = serde_json::to_vec_pretty(&records)?;
        body.push(b'\n');
        body
    } else {
        export_csv(&cases)?
    };
    match out {
        Some(path) => std::fs::write(path, &body)
            .with_context(|| format!("{path} kann nicht geschrieben werden"))?,
        None => std::io::stdout().lock().write_all(&body)?,
    }
    let ids: Vec<i64> = cases.iter().map(|c| c.case_id).collect();
    handover::mark_handed_over(&mut tx, &ids, now).await?;
    let event = AuditEvent::anonymous(CLI_CLIENT, AuditAction::ResultExport, CLI_CLIENT)
        .record("campaign", campaign.id)
        .fields(&format!(
            "{} Fälle als {}{}",
            cases.len(),
            if json { "JSON" } else { "CSV" },
            since
                .map(|s| format!(", abgeschlossen seit {s}"))
                .unwrap_or_default()
        ))
        .purpose("Übergabe an das Fachverfahren des Jobcenters")
        .job_center(Some(campaign.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    db.close().await;
    eprintln!(
        "{} Fälle der Aktion „{}“ exportiert und als übergeben markiert.",
        cases.len(),
        campaign.name
    );
    Ok(ExitCode::SUCCESS)
}
