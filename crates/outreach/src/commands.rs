//! The subcommands other than the demo.

use crate::config::{DatabaseUrl, ServeSettings};
use anyhow::{Context, bail};
use outreach_app::administration::{self, NewUser};
use outreach_app::upkeep;
use outreach_app::{Db, StoreError};
use outreach_core::access::{Home, OrgKind, Role};
use outreach_core::account::{Username, check_new_password};
use outreach_web::{AppState, WebConfig};
use std::process::ExitCode;

pub async fn open(url: &str) -> anyhow::Result<Db> {
    let shown = DatabaseUrl::new(url.to_string());
    match Db::open(url).await {
        Ok(db) => Ok(db),
        Err(StoreError::UnsupportedUrl) => bail!(
            "Datenbank {shown} kann nicht geöffnet werden: erwartet wird sqlite://DATEI oder postgres://BENUTZER@HOST/DATENBANK"
        ),
        Err(e) => Err(e).with_context(|| format!("Datenbank {shown} kann nicht geöffnet werden")),
    }
}

pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// How `serve_db` listens: HTTPS or HTTP, and how long it drains on SIGTERM.
#[derive(Default)]
pub struct Listening {
    pub tls: Option<std::sync::Arc<outreach_web::tls::Tls>>,
    pub drain: std::time::Duration,
}

/// On SIGHUP: reads the certificate and key again.
fn reload_on_hangup(tls: std::sync::Arc<outreach_web::tls::Tls>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate and key read again"),
                Err(error) => {
                    tracing::error!(%error, "TLS certificate not reloaded; the one in use stays")
                }
            }
        }
    });
    #[cfg(not(unix))]
    drop(tls);
}

pub async fn serve_db(
    db: Db,
    bind: &str,
    config: WebConfig,
    listening: Listening,
) -> anyhow::Result<ExitCode> {
    let clock_start = clock_start(config.training)?;
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("Adresse {bind} kann nicht belegt werden"))?;
    tracing::info!(address = %bind, "listening");
    if db.autovacuum_off().await? {
        tracing::warn!(
            "PostgreSQL's autovacuum is switched off: tables are neither vacuumed nor analyzed, \
             and the call queue slows down as cases are called; switch it on, or run \
             VACUUM ANALYZE regularly"
        );
    }
    if config.training {
        tracing::warn!(
            "training mode: the server deletes nothing on schedule (no deletion, no audit retention)"
        );
    }
    let state = AppState::new(db.clone(), config);
    if let Some(start) = clock_start {
        state.clock.advance(start - state.clock.now());
        tracing::warn!(
            start = %jiff::Timestamp::from_second(start).unwrap_or_default(),
            "the application clock is moved (OUTREACH_CLOCK_START): training mode"
        );
    }
    let upkeep = outreach_web::maintenance::spawn(state.clone());
    let sealer = outreach_web::maintenance::spawn_sealer(db.clone());
    let sessions = outreach_web::maintenance::spawn_session_watch(state.clone());
    let jobs = outreach_web::maintenance::spawn_jobs(&state);
    let directory_sync = outreach_web::maintenance::spawn_directory_sync(&state);
    let checkpointer = outreach_web::maintenance::spawn_checkpointer(db.clone()).await?;
    if let Some(tls) = &listening.tls {
        reload_on_hangup(tls.clone());
    }
    // On SIGTERM: first "not ready" for the drain time, so that the load
    // balancer sends nothing new; then the listener closes and the requests
    // in flight end.
    let draining = state.clone();
    let drain = listening.drain;
    let shutdown = async move {
        shutdown_signal().await;
        draining
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        if !drain.is_zero() {
            tracing::info!(
                seconds = drain.as_secs(),
                "not ready: draining before shutdown"
            );
            tokio::time::sleep(drain).await;
        }
    };
    outreach_web::serve_with(listener, state, listening.tls, shutdown).await?;
    upkeep.abort();
    if let Some(checkpointer) = checkpointer {
        checkpointer.abort();
    }
    sessions.abort();
    jobs.abort();
    if let Some(sync) = directory_sync {
        sync.abort();
    }
    if let Some(sealer) = sealer {
        sealer.abort();
        // What the last requests appended.
        upkeep::seal(&db).await?;
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `OUTREACH_CLOCK_START`: the instant (RFC 3339, e.g.
/// `2027-01-12T10:00:00+01:00`) the application clock shows at start-up; it
/// runs on from there. For tests, benchmarks and training installations that
/// must work inside the calling window at any hour: accepted in training
/// mode only (`outreach demo`, `outreach serve --training`); a production
/// server refuses to start with it, since its upkeep would run by it.
fn clock_start(training: bool) -> anyhow::Result<Option<i64>> {
    let Ok(text) = std::env::var("OUTREACH_CLOCK_START") else {
        return Ok(None);
    };
    if !training {
        bail!(
            "OUTREACH_CLOCK_START ist gesetzt: Eine verstellte Uhr ist nur im Schulungsbetrieb erlaubt (outreach serve --training oder outreach demo). Im Echtbetrieb würden mit ihr Fristen berechnet und Daten gelöscht. Der Server startet nicht; bitte die Variable entfernen."
        );
    }
    let at: jiff::Timestamp = text.trim().parse().map_err(|_| {
        anyhow::anyhow!(
            "OUTREACH_CLOCK_START: „{text}“ ist kein Zeitpunkt wie 2027-01-12T10:00:00+01:00"
        )
    })?;
    Ok(Some(at.as_second()))
}

pub async fn serve(settings: ServeSettings) -> anyhow::Result<ExitCode> {
    tracing::info!(
        database = %settings.database_url,
        session_minutes = settings.session_minutes,
        "starting"
    );
    // The certificate first: a wrong file is named before anything else.
    let tls = match &settings.tls {
        Some((cert, key)) => Some(std::sync::Arc::new(
            outreach_web::tls::Tls::load(cert, key).map_err(anyhow::Error::msg)?,
        )),
        None => None,
    };
    let db = open(settings.database_url.expose()).await?;
    let sign_on = match &settings.directory {
        Some(directory) => Some(std::sync::Arc::new(sign_on(&db, directory).await?)),
        None => None,
    };
    let config = WebConfig {
        sign_on,
        session_idle_seconds: settings.session_minutes * 60,
        retention: upkeep::Policy {
            audit_months: settings.audit_months,
        },
        requests_at_once: settings.requests_at_once,
        training: settings.training,
        login_rate: settings.login_rate,
        api_rate: settings.api_rate,
        trusted_proxies: settings.trusted_proxies,
        second_factor_roles: settings.second_factor_roles,
        ..WebConfig::default()
    };
    let listening = Listening {
        tls,
        drain: settings.drain,
    };
    serve_db(db, &settings.bind, config, listening).await
}

/// The `--database-url` when none is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://outreach.db";

/// The environment variable that holds the directory's service password
/// (before the file's `bind_password` and `bind_password_file`).
pub const DIRECTORY_PASSWORD: &str = "OUTREACH_DIRECTORY_PASSWORD";

/// The directory of the `[directory]` section, checked (group table,
/// organisation codes, transport).
async fn sign_on(
    db: &Db,
    settings: &outreach_directory::Settings,
) -> anyhow::Result<outreach_app::directory::SignOn> {
    let password = std::env::var(DIRECTORY_PASSWORD)
        .ok()
        .filter(|p| !p.is_empty())
        .map(outreach_directory::Secret::new);
    outreach_app::directory::SignOn::new(db, settings, password)
        .await
        .map_err(|e| anyhow::anyhow!("Konfiguration [directory]: {e}"))
}

/// `outreach directory sync`: compares the directory accounts with the
/// directory once, now; `dry_run` only reports.
pub async fn directory_sync(url: &str, config: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let file = crate::config::FileConfig::load(config)?;
    let Some(settings) = file.directory else {
        bail!("Die Konfigurationsdatei {config} hat keinen Abschnitt [directory].");
    };
    // The file's database unless one was named on the command line or in
    // the environment (not just the default).
    let url = match file.database_url {
        Some(from_file) if url == DEFAULT_DATABASE_URL => from_file,
        _ => url.to_string(),
    };
    let db = open(&url).await?;
    let sign_on = sign_on(&db, &settings).await?;
    let now = jiff::Timestamp::now().as_second();
    let report = outreach_app::directory::sync(&db, &sign_on, dry_run, now)
        .await
        .map_err(|e| anyhow::anyhow!("Verzeichnisabgleich nicht möglich, nichts geändert: {e}"))?;
    db.close().await;
    println!("{}", report.summary());
    Ok(if report.stopped.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn migrate(url: &str) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    db.close().await;
    println!("Die Datenbank ist auf dem neuesten Stand.");
    Ok(ExitCode::SUCCESS)
}

pub struct UserSpec {
    pub username: String,
    pub name: String,
    pub role: String,
    pub organisation: Option<String>,
    pub pap_code: Option<String>,
    pub password_stdin: bool,
}

pub async fn user_add(url: &str, spec: UserSpec) -> anyhow::Result<ExitCode> {
    let username =
        Username::parse(&spec.username).map_err(|e| anyhow::anyhow!("--username: {e}"))?;
    let Some(role) = Role::parse(&spec.role) else {
        bail!(
            "--role: unbekannte Rolle „{}“. Möglich: agent, supervisor, case_manager, jobcenter_admin, dpo, admin",
            spec.role
        );
    };
    if spec.name.trim().is_empty() {
        bail!("--name: Bitte einen Anzeigenamen angeben.");
    }
    let password = if spec.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("Passwort kann nicht von der Standardeingabe gelesen werden")?;
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        check_new_password(&password, username.as_str())
            .map_err(|e| anyhow::anyhow!("Passwort: {e}"))?;
        Some(password)
    } else {
        None
    };
    let db = open(url).await?;
    let home = match (role.org_kind(), spec.organisation.as_deref()) {
        (OrgKind::Global, None) | (OrgKind::JobCenterOrGlobal, None) => Home::Global,
        (OrgKind::Global, Some(_)) => {
            bail!("--organisation: Die Systemadministration gehört zu keiner Organisation.")
        }
        (OrgKind::JobCenter | OrgKind::JobCenterOrGlobal, Some(code)) => {
            match administration::job_center_by_code(&db, code).await? {
                Some(jc) => Home::JobCenter(jc.id),
                None => bail!("--organisation: Es gibt kein Jobcenter mit dem Kürzel „{code}“."),
            }
        }
        (OrgKind::ServiceCenter, Some(code)) => {
            match administration::service_center_by_code(&db, code).await? {
                Some(sc) => Home::ServiceCenter(sc.id),
                None => {
                    bail!("--organisation: Es gibt kein Service-Center mit dem Kürzel „{code}“.")
                }
            }
        }
        (OrgKind::JobCenter | OrgKind::ServiceCenter, None) => {
            bail!(
                "--organisation: Für die Rolle {} ist die Organisation anzugeben.",
                role.code()
            )
        }
    };
    if role == Role::CaseManager && spec.pap_code.is_none() {
        bail!("--pap-code: Für pAp / Fallmanager/innen ist die pAp-Kennung anzugeben.");
    }
    let generated = password.is_none();
    let password = password.unwrap_or_else(outreach_app::password::generate);
    let hash = outreach_app::password::hash(password.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let now = jiff::Timestamp::now().as_second();
    let new = NewUser {
        username: username.as_str().to_string(),
        display_name: spec.name.trim().to_string(),
        role,
        home,
        pap_code: spec.pap_code,
        password_hash: hash,
    };
    let by = outreach_app::Source::CommandLine;
    if outreach_app::administration::create_user(&db, by, &new, now)
        .await?
        .is_err()
    {
        bail!(
            "--username: Den Benutzernamen „{}“ gibt es schon.",
            username.as_str()
        );
    }
    db.close().await;
    println!(
        "Benutzer {} ({}) angelegt.",
        username.as_str(),
        role.label()
    );
    if generated {
        println!("Passwort (wird nur jetzt angezeigt): {password}");
    }
    println!(
        "Bei der ersten Anmeldung richtet das Konto nach dem Passwort seinen zweiten Faktor ein (Authenticator-App), wenn die Konfiguration ihn für seine Rolle verlangt (Voreinstellung: für jede Rolle)."
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn audit_verify(url: &str) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let result = upkeep::verify_chain(&db).await;
    db.close().await;
    let result = result?;
    match result.broken {
        None => {
            println!(
                "Protokoll unversehrt: {} Ereignisse geprüft. {}",
                result.checked,
                result.retention.removed_sentence()
            );
            if let Some(held) = result.retention.held_warning() {
                println!("{held}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(b) => {
            println!(
                "Protokoll VERLETZT: erstes fehlerhaftes Ereignis Nr. {} ({}); davor {} Ereignisse in Ordnung.",
                b.seq,
                b.reason.label(),
                result.checked
            );
            Ok(ExitCode::from(2))
        }
    }
}

/// `outreach guide check FILE`: every problem with its line; exit status 1
/// when there is one, 2 when the file can't be read.
pub fn guide_check(file: &str) -> ExitCode {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{file}: Die Datei kann nicht gelesen werden: {e}");
            return ExitCode::from(2);
        }
    };
    match outreach_core::guide::Guide::parse(&text) {
        Ok(guide) => {
            let questions = guide.questions().count();
            println!(
                "{file}: in Ordnung – „{}“, Version {}, gültig ab {}, {} Abschnitte, {questions} Fragen, SHA-256 {}.",
                guide.name,
                guide.version,
                outreach_core::date::format_de_date(guide.valid_from),
                guide.sections.len(),
                guide.hash
            );
            ExitCode::SUCCESS
        }
        Err(problems) => {
            for p in &problems {
                if p.line == 0 {
                    eprintln!("{file}: {}", p.message);
                } else {
                    eprintln!("{file}:{}: {}", p.line, p.message);
                }
            }
            eprintln!(
                "{file}: {} Problem(e); der Leitfaden kann so nicht verwendet werden.",
                problems.len()
            );
            ExitCode::FAILURE
        }
    }
}

/// `outreach backup FILE`: a consistent copy of the running SQLite database.
pub async fn backup(url: &str, file: &str) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let now = jiff::Timestamp::now().as_second();
    let summary = upkeep::backup(&db, std::path::Path::new(file), now).await;
    db.close().await;
    let summary = summary?;
    println!(
        "Sicherung geschrieben: {file} ({} Kunden, {} Protokollereignisse, Schema-Version {}, {:.1} MB). Geprüft: unversehrt.",
        summary.customers,
        summary.audit_events,
        summary.migration,
        summary.bytes as f64 / 1_000_000.0
    );
    Ok(ExitCode::SUCCESS)
}

/// `outreach restore FILE`: replaces the SQLite database (server stopped) by
/// a checked backup; the restore is recorded in the restored database's log.
pub async fn restore(url: &str, file: &str) -> anyhow::Result<ExitCode> {
    let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        bail!(
            "Wiederherstellen gibt es nur für SQLite; PostgreSQL wird mit pg_restore wiederhergestellt (siehe README)"
        );
    };
    let path = path.split('?').next().unwrap_or(path);
    let file_path = std::path::Path::new(file);
    let summary = upkeep::restore(file_path, std::path::Path::new(path)).await?;
    let db = open(url).await?;
    let now = jiff::Timestamp::now().as_second();
    let recorded = upkeep::record_restore(&db, file_path, &summary, now).await;
    db.close().await;
    recorded?;
    println!(
        "Wiederhergestellt aus {file}: {} Kunden, {} Protokollereignisse. Die vorige Datenbank liegt als {path}.vor-wiederherstellung daneben.",
        summary.customers, summary.audit_events
    );
    Ok(ExitCode::SUCCESS)
}

/// How `outreach purge` was started.
pub struct PurgeOptions {
    pub dry_run: bool,
    pub confirm_audit_retention: bool,
    pub audit_months: i32,
}

/// `outreach purge [--dry-run] [--confirm-audit-retention]`: deletion on
/// schedule, by category. Refuses to run when this machine's clock and the
/// database's differ by more than five minutes.
pub async fn purge(url: &str, options: PurgeOptions) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let app_now = jiff::Timestamp::now().as_second();
    let purge = upkeep::Purge {
        policy: upkeep::Policy {
            audit_months: options.audit_months,
        },
        dry_run: options.dry_run,
        confirm_audit_retention: options.confirm_audit_retention,
    };
    let purged = upkeep::purge(&db, purge, app_now).await;
    db.close().await;
    let report = match purged? {
        Ok(report) => report,
        Err(skew) => {
            eprintln!("Fehler: {skew} Es wurde nichts gelöscht.");
            return Ok(ExitCode::FAILURE);
        }
    };
    println!(
        "{}",
        if options.dry_run {
            "Probelauf – gelöscht würden:"
        } else {
            "Gelöscht:"
        }
    );
    for (label, n) in report.lines() {
        println!("  {label}: {n}");
    }
    println!(
        "Aufbewahrt, weil noch nicht übergeben oder die Frist des Jobcenters läuft: {} Ergebnisse",
        report.results_kept
    );
    if report.statistics_kept > 0 {
        println!(
            "Statistik ohne Personenbezug aufbewahrt für {} Aktionen.",
            report.statistics_kept
        );
    }
    if let Some((events, of)) = report.audit_held {
        eprintln!(
            "Die Löschung alter Protokollereignisse ist angehalten: Sie hätte {events} von {of} Ereignissen gelöscht, mehr als ein Zehntel des Protokolls (üblich ist etwa ein Tag von 365). Bitte die Uhr der Datenbank und --audit-months prüfen; ist die Löschung richtig, gibt `outreach purge --confirm-audit-retention` sie frei."
        );
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// `outreach record --jobcenter CODE`: the record of processing activities.
pub async fn processing_record(
    url: &str,
    jobcenter: &str,
    out: Option<&str>,
    audit_months: i32,
) -> anyhow::Result<ExitCode> {
    let db = open(url).await?;
    let now = jiff::Timestamp::now().as_second();
    let sections =
        outreach_app::privacy::operator_processing_record(&db, jobcenter, audit_months, now).await;
    db.close().await;
    let Some(sections) = sections? else {
        bail!("Jobcenter mit der Kennung „{jobcenter}“ gibt es nicht");
    };
    let text = outreach_core::privacy::record_text(&sections);
    match out {
        Some(path) => {
            std::fs::write(path, &text)
                .with_context(|| format!("{path} kann nicht geschrieben werden"))?;
            println!("Verzeichnis geschrieben: {path}");
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
