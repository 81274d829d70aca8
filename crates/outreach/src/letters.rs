//! `outreach letters advance` and `outreach letters sent`: print batches of
//! advance letters, and their dispatch date.

use crate::commands::{CLI_CLIENT, open};
use anyhow::{Context, bail};
use outreach_app::letters::{create_advance_batch, print_batch};
use outreach_core::audit::AuditAction;
use outreach_core::campaign::CampaignState;
use outreach_core::date::{berlin_date, format_de_date, parse_de_date, parse_iso_date};
use outreach_letters::batch::{file_names, manifest};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::{campaign, letters};
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
    let mut tx = db.begin().await?;
    let Some(found) =
        campaign::by_id(&mut tx, outreach_store::RecordScope::Operator, campaign_id).await?
    else {
        bail!("--campaign: Es gibt keine Aktion mit der Nummer {campaign_id}.");
    };
    if found.state() == CampaignState::Draft {
        bail!(
            "Die Aktion „{}“ ist noch im Entwurf; Vorabinformationen gibt es erst nach der Aktivierung.",
            found.name
        );
    }
    let batch_id = match batch {
        Some(id) => {
            match letters::batch_by_id(&mut tx, outreach_store::RecordScope::Operator, id).await? {
                Some(b) if b.campaign_id == campaign_id => id,
                _ => bail!("--batch: Die Aktion {campaign_id} hat keinen Stapel {id}."),
            }
        }
        None => match create_advance_batch(
            &mut tx,
            outreach_store::RecordScope::Operator,
            campaign_id,
            today,
            None,
            now,
        )
        .await?
        {
            Some((id, count)) => {
                let event =
                    AuditEvent::anonymous(CLI_CLIENT, AuditAction::LetterBatchCreate, CLI_CLIENT)
                        .record("letter_batch", id)
                        .fields(&format!(
                            "{count} Vorabinformationen: Name, Anschrift, Kundennummer, BG-Nummer"
                        ))
                        .purpose(&format!("Aktion „{}“", found.name))
                        .job_center(Some(found.job_center_id));
                audit::append(&mut tx, &event, now).await?;
                id
            }
            None => {
                println!(
                    "Alle offenen Fälle der Aktion „{}“ haben bereits eine Vorabinformation.",
                    found.name
                );
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    let Some(stored) =
        letters::batch_by_id(&mut tx, outreach_store::RecordScope::Operator, batch_id).await?
    else {
        bail!("Der Stapel {batch_id} ist verschwunden.");
    };
    let letter_date = parse_iso_date(&stored.letter_date).unwrap_or(today);
    let count = usize::try_from(stored.letter_count).unwrap_or(0);
    let customer_numbers =
        letters::batch_customer_numbers(&mut tx, outreach_store::RecordScope::Operator, batch_id)
            .await?;
    let event = AuditEvent::anonymous(CLI_CLIENT, AuditAction::LetterPrint, CLI_CLIENT)
        .record("letter_batch", batch_id)
        .fields(&format!(
            "{count} Vorabinformationen: Name, Anschrift, Kundennummer, BG-Nummer, Prüfcode"
        ))
        .purpose(&format!("Vorabinformation zur Aktion „{}“", found.name))
        .job_center(Some(found.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;

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
        outreach_store::RecordScope::Operator,
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
    let mut tx = db.begin().await?;
    let Some(batch) =
        letters::batch_by_id(&mut tx, outreach_store::RecordScope::Operator, batch_id).await?
    else {
        bail!("--batch: Es gibt keinen Stapel {batch_id}.");
    };
    if !letters::mark_sent(
        &mut tx,
        outreach_store::RecordScope::Operator,
        batch_id,
        sent_on,
        None,
    )
    .await?
    {
        bail!(
            "Der Stapel {batch_id} ist bereits seit {} als versandt markiert.",
            batch
                .sent_on
                .as_deref()
                .map(outreach_core::date::iso_to_de)
                .unwrap_or_default()
        );
    }
    let event = AuditEvent::anonymous(CLI_CLIENT, AuditAction::LetterBatchSent, CLI_CLIENT)
        .record("letter_batch", batch_id)
        .fields(&format!("Versand am {}", format_de_date(sent_on)))
        .purpose("Versand der Vorabinformationen")
        .job_center(Some(batch.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    db.close().await;
    println!(
        "Stapel {batch_id} ({} Briefe) am {} versandt; die Wartefrist läuft ab diesem Tag.",
        batch.letter_count,
        format_de_date(sent_on)
    );
    Ok(ExitCode::SUCCESS)
}
