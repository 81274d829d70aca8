//! `outreach import customers` and `outreach export customers`: a job center's
//! customer data in and out, as CSV in the export format.

use crate::commands::open;
use anyhow::{Context, bail};
use outreach_app::imports::{ImportError, ImportReport};
use outreach_core::customer::Field;
use outreach_core::date::{berlin_date, berlin_day_start, parse_de_date};
use outreach_core::results::{ExportRecord, export_csv};
use std::io::Write;
use std::process::ExitCode;

async fn job_center(db: &outreach_app::Db, code: &str) -> anyhow::Result<i64> {
    match outreach_app::administration::job_center_by_code(db, code).await? {
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
        job_id: None,
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
    csv.row(Field::ALL.iter().map(|c| c.label()))?;
    let now = jiff::Timestamp::now().as_second();
    let target = out.unwrap_or("Standardausgabe");
    let count = outreach_app::customers::operator_export(&db, job_center_id, target, now, |c| {
        let values = c.export_values();
        csv.row(Field::ALL.iter().map(|col| values.get(*col).unwrap_or("")))
            .map_err(std::io::Error::other)
    })
    .await;
    let count = match count {
        Ok(count) => count,
        Err(e) => {
            db.close().await;
            return Err(e.into());
        }
    };
    csv.flush()?;
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
    let now = jiff::Timestamp::now().as_second();
    let deliver = |cases: &[outreach_core::results::ExportCase]| -> Result<(), String> {
        let body = if json {
            let records: Vec<ExportRecord> = cases.iter().map(ExportRecord::of).collect();
            let mut body = serde_json::to_vec_pretty(&records).map_err(|e| e.to_string())?;
            body.push(b'\n');
            body
        } else {
            export_csv(cases).map_err(|e| e.to_string())?
        };
        match out {
            Some(path) => std::fs::write(path, &body)
                .map_err(|e| format!("{path} kann nicht geschrieben werden: {e}")),
            None => std::io::stdout()
                .lock()
                .write_all(&body)
                .map_err(|e| e.to_string()),
        }
    };
    let exported = outreach_app::results::operator_export(
        &db,
        campaign_id,
        (since_start, since),
        json,
        now,
        deliver,
    )
    .await;
    db.close().await;
    let Some((campaign, count)) = exported? else {
        bail!("Die Aktion {campaign_id} gibt es nicht.");
    };
    eprintln!(
        "{} Fälle der Aktion „{}“ exportiert und als übergeben markiert.",
        count, campaign.name
    );
    Ok(ExitCode::SUCCESS)
}
