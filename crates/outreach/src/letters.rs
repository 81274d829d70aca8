//! `outreach letters advance` and `outreach letters sent`: print batches of
//! advance letters, and their dispatch date.

use crate::commands::open;
use anyhow::{Context, bail};
use outreach_app::RecordScope;
use outreach_app::letters::{NoPrintRun, NotSent, PrintRun, print_batch};
use outreach_app::letters::{file_names, manifest};
use outreach_core::date::{berlin_date, format_de_date, parse_de_date};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

pub async fn advance(
    url: &str,
    campaign_id: i64,
    out: &str,
    batch: Option<i64>,
) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let now = jiff::Timestamp::now().as_second();
    let today = berlin_date(now);
    let run =
        outreach_app::letters::operator_print_run(&db, campaign_id, batch, today, now).await?;
    let PrintRun {
        campaign: found,
        batch: stored,
        letter_date,
        customer_numbers,
    } = match run {
        Ok(run) => run,
        Err(NoPrintRun::NoCampaign) => {
            bail!("--campaign: Es gibt keine Aktion mit der Nummer {campaign_id}.")
        }
        Err(NoPrintRun::Draft(name)) => bail!(
            "Die Aktion „{name}“ ist noch im Entwurf; Vorabinformationen gibt es erst nach der Aktivierung."
        ),
        Err(NoPrintRun::NoBatch) => bail!(
            "--batch: Die Aktion {campaign_id} hat keinen Stapel {}.",
            batch.unwrap_or_default()
        ),
        Err(NoPrintRun::AllLettersMade(name)) => {
            println!("Alle offenen Fälle der Aktion „{name}“ haben bereits eine Vorabinformation.");
            return Ok(ExitCode::SUCCESS);
        }
    };
    let batch_id = stored.id;
    let count = usize::try_from(stored.letter_count).unwrap_or(0);

    std::fs::create_dir_all(out).with_context(|| format!("{out} kann nicht angelegt werden"))?;
    let bar = indicatif::ProgressBar::new(count as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {wide_bar} {pos}/{len} Briefe ({per_sec}, noch {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = bar.clone();
    let started = std::time::Instant::now();
    let names = file_names(batch_id, count);
    let targets: Vec<std::path::PathBuf> = names.iter().map(|n| Path::new(out).join(n)).collect();
    let printed = print_batch(
        &db,
        RecordScope::Operator,
        batch_id,
        count,
        letter_date,
        2,
        Arc::new(move |done| progress.set_position(done as u64)),
        Arc::new(move |i, pdf| std::fs::write(&targets[i], pdf)),
    )
    .await;
    db.close().await;
    bar.finish_and_clear();
    let printed = printed?;
    let seconds = started.elapsed().as_secs_f64();
    let manifest_name = format!("vorabinformation-stapel-{batch_id}-manifest.csv");
    std::fs::write(
        Path::new(out).join(&manifest_name),
        manifest(batch_id, &customer_numbers),
    )?;
    println!(
        "Stapel {batch_id} der Aktion „{}“: {count} Vorabinformationen vom {} in {} Datei(en), {:.1} s ({:.0} Briefe/s).",
        found.name,
        format_de_date(letter_date),
        printed.files,
        seconds,
        count as f64 / seconds.max(0.001)
    );
    for name in names.iter().chain(std::iter::once(&manifest_name)) {
        println!("  {}", Path::new(out).join(name).display());
    }
    if printed.changed > 0 {
        println!(
            "Hinweis: {} Briefe weichen vom Stand bei Erstellung des Stapels ab (Kundendaten geändert).",
            printed.changed
        );
    }
    match &stored.sent_on {
        Some(sent) => println!(
            "Der Stapel ist seit {} als versandt markiert.",
            outreach_core::date::iso_to_de(sent)
        ),
        None => {
            println!("Nach dem Versand: outreach letters sent --batch {batch_id} --date TT.MM.JJJJ")
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn sent(url: &str, batch_id: i64, date: Option<&str>) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let now = jiff::Timestamp::now().as_second();
    let today = berlin_date(now);
    let sent_on = match date {
        Some(raw) => parse_de_date(raw).map_err(|e| anyhow::anyhow!("--date: „{raw}“: {e}"))?,
        None => today,
    };
    if sent_on > today {
        bail!(
            "--date: Das Versanddatum {raw} liegt in der Zukunft.",
            raw = format_de_date(sent_on)
        );
    }
    let batch = match outreach_app::letters::operator_mark_sent(&db, batch_id, sent_on, now).await?
    {
        Ok(batch) => batch,
        Err(NotSent::NoBatch) => bail!("--batch: Es gibt keinen Stapel {batch_id}."),
        Err(NotSent::Already(on)) => bail!(
            "Der Stapel {batch_id} ist bereits seit {} als versandt markiert.",
            on.as_deref()
                .map(outreach_core::date::iso_to_de)
                .unwrap_or_default()
        ),
    };
    db.close().await;
    println!(
        "Stapel {batch_id} ({} Briefe) am {} versandt; die Wartefrist läuft ab diesem Tag.",
        batch.letter_count,
        format_de_date(sent_on)
    );
    Ok(ExitCode::SUCCESS)
}
