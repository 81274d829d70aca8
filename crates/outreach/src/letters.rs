//! `outreach letters advance` and `outreach letters sent`: print batches of
//! advance letters, and their dispatch date.

use crate::commands::{CLI_CLIENT, open};
use anyhow::{Context, bail};
use outreach_core::audit::AuditAction;
use outreach_core::campaign::CampaignState;
use outreach_core::date::{berlin_date, format_de_date, parse_de_date, parse_iso_date};
use outreach_letters::batch::{
    advance_letter, create_advance_batch, file_names, manifest, render_files,
};
use outreach_letters::{AdvanceLetter, Renderer};
use outreach_store::audit::{self, AuditEvent};
use outreach_store::{campaign, letters};
use std::path::Path;
use std::process::ExitCode;

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
    let Some(found) = campaign::by_id(&mut tx, campaign_id).await? else {
        bail!("--campaign: Es gibt keine Aktion mit der Nummer {campaign_id}.");
    };
    if found.state() == CampaignState::Draft {
        bail!(
            "Die Aktion „{}“ ist noch im Entwurf; Vorabinformationen gibt es erst nach der Aktivierung.",
            found.name
        );
    }
    let batch_id = match batch {
        Some(id) => match letters::batch_by_id(&mut tx, id).await? {
            Some(b) if b.campaign_id == campaign_id => id,
            _ => bail!("--batch: Die Aktion {campaign_id} hat keinen Stapel {id}."),
        },
        None => match create_advance_batch(&mut tx, campaign_id, today, None, now).await? {
            Some((id, _)) => id,
            None => {
                println!(
                    "Alle offenen Fälle der Aktion „{}“ haben bereits eine Vorabinformation.",
                    found.name
                );
                return Ok(ExitCode::SUCCESS);
            }
        },
    };
    let Some(stored) = letters::batch_by_id(&mut tx, batch_id).await? else {
        bail!("Der Stapel {batch_id} ist verschwunden.");
    };
    let letter_date = parse_iso_date(&stored.letter_date).unwrap_or(today);
    let rows = letters::batch_advance(&mut tx, batch_id).await?;
    let recorded = letters::batch_hashes(&mut tx, batch_id).await?;
    let letters: Vec<AdvanceLetter> = rows
        .iter()
        .map(|row| advance_letter(row, letter_date))
        .collect();
    let changed = letters
        .iter()
        .zip(&recorded)
        .filter(|(l, h)| l.content_hash() != **h)
        .count();
    let event = AuditEvent::anonymous(CLI_CLIENT, AuditAction::LetterPrint, CLI_CLIENT)
        .record("letter_batch", batch_id)
        .fields(&format!(
            "{} Vorabinformationen: Name, Anschrift, Kundennummer, BG-Nummer, Prüfcode",
            letters.len()
        ))
        .purpose(&format!("Vorabinformation zur Aktion „{}“", found.name))
        .job_center(Some(found.job_center_id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    db.close().await;

    std::fs::create_dir_all(out).with_context(|| format!("{out} kann nicht angelegt werden"))?;
    let bar = indicatif::ProgressBar::new(letters.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} {wide_bar} {pos}/{len} Briefe ({per_sec}, noch {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = bar.clone();
    let started = std::time::Instant::now();
    let to_render = letters.clone();
    let names = file_names(batch_id, letters.len());
    let targets: Vec<std::path::PathBuf> = names.iter().map(|n| Path::new(out).join(n)).collect();
    let files = tokio::task::spawn_blocking(move || {
        let renderer = Renderer::new();
        render_files(
            &renderer,
            &to_render,
            2,
            &|done| progress.set_position(done as u64),
            &|i, pdf| std::fs::write(&targets[i], pdf),
        )
    })
    .await??;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let manifest_name = format!("vorabinformation-stapel-{batch_id}-manifest.csv");
    std::fs::write(
        Path::new(out).join(&manifest_name),
        manifest(batch_id, &letters),
    )?;
    println!(
        "Stapel {batch_id} der Aktion „{}“: {} Vorabinformationen vom {} in {} Datei(en), {:.1} s ({:.0} Briefe/s).",
        found.name,
        letters.len(),
        format_de_date(letter_date),
        files,
        seconds,
        letters.len() as f64 / seconds.max(0.001)
    );
    for name in names.iter().chain(std::iter::once(&manifest_name)) {
        println!("  {}", Path::new(out).join(name).display());
    }
    if changed > 0 {
        println!(
            "Hinweis: {changed} Briefe weichen vom Stand bei Erstellung des Stapels ab (Kundendaten geändert)."
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
    let Some(batch) = letters::batch_by_id(&mut tx, batch_id).await? else {
        bail!("--batch: Es gibt keinen Stapel {batch_id}.");
    };
    if !letters::mark_sent(&mut tx, batch_id, sent_on, None).await? {
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
