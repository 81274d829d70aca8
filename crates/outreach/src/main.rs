//! The `outreach` command: parses the command line and calls the libraries.

mod commands;
mod config;
mod demo;
mod letters;
mod transfer;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "outreach",
    version,
    about = "Outreach: telefonische Aktualisierung der Bewerberdaten für Jobcenter und Service-Center",
    disable_help_subcommand = true
)]
struct Cli {
    /// Format der Protokollausgabe (text oder json).
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Startet den Webserver.
    Serve {
        /// Adresse, auf der der Server lauscht.
        #[arg(long, default_value = "127.0.0.1:8080", env = "OUTREACH_BIND")]
        bind: String,
        #[command(flatten)]
        database: DatabaseArg,
        /// Minuten ohne Aktivität, nach denen eine Sitzung endet (5 bis 480).
        #[arg(long, default_value_t = 30, env = "OUTREACH_SESSION_MINUTES",
              value_parser = clap::value_parser!(i64).range(5..=480))]
        session_minutes: i64,
        /// Anfragen, die der Server gleichzeitig bearbeitet; weitere warten
        /// („Nächster Fall“ wartet nie). Vorgabe: 8 mit PostgreSQL, 1024 mit
        /// SQLite.
        #[arg(long, env = "OUTREACH_REQUESTS_AT_ONCE",
              value_parser = clap::value_parser!(u16).range(1..=1024))]
        requests_at_once: Option<u16>,
        /// TOML-Datei mit bind, database_url, session_minutes; Umgebung und
        /// Optionen haben Vorrang.
        #[arg(long, env = "OUTREACH_CONFIG")]
        config: Option<String>,
        #[command(flatten)]
        retention: RetentionArg,
        /// Schulungsbetrieb: erlaubt eine verstellte Uhr (OUTREACH_CLOCK_START),
        /// zeigt auf jeder Seite einen Hinweis und löscht nie etwas von selbst.
        #[arg(long)]
        training: bool,
        #[command(flatten)]
        rates: RateArgs,
        #[command(flatten)]
        network: NetworkArgs,
    },
    /// Legt eine Demo-Datenbank mit Beispieldaten an (oder verwendet sie wieder) und startet den Server.
    Demo {
        /// Adresse, auf der der Server lauscht.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// SQLite-Datei der Demo.
        #[arg(long, default_value = "outreach-demo.db")]
        file: String,
    },
    /// Bringt das Datenbankschema auf den neuesten Stand und beendet sich.
    Migrate {
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Benutzerkonten verwalten.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Kundendaten aus dem Export eines Jobcenters übernehmen.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Kundendaten als CSV ausgeben.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Briefe erzeugen und als versandt markieren.
    Letters {
        #[command(subcommand)]
        command: LettersCommand,
    },
    /// Protokoll (Audit-Log) prüfen.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Löscht Daten nach Fristablauf (Fälle, Versuche, Entwürfe, Schreiben, übergebene Ergebnisse, altes Protokoll).
    Purge {
        /// Nur auflisten, was gelöscht würde (nach Kategorie und Anzahl).
        #[arg(long)]
        dry_run: bool,
        /// Gibt eine angehaltene Protokolllöschung frei: erlaubt in diesem Lauf,
        /// mehr als ein Zehntel der Protokollereignisse zu löschen (protokolliert).
        #[arg(long)]
        confirm_audit_retention: bool,
        #[command(flatten)]
        retention: RetentionArg,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Erstellt das Verzeichnis der Verarbeitungstätigkeiten (Art. 30 DSGVO) für ein Jobcenter.
    Record {
        /// Kennung des Jobcenters.
        #[arg(long)]
        jobcenter: String,
        /// Ausgabedatei (Markdown-ähnlicher Text); ohne Angabe die Standardausgabe.
        #[arg(long)]
        out: Option<String>,
        #[command(flatten)]
        retention: RetentionArg,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Sichert die SQLite-Datenbank im laufenden Betrieb in eine neue Datei (geprüft).
    Backup {
        /// Die Sicherungsdatei; sie darf noch nicht bestehen.
        file: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Ersetzt die SQLite-Datenbank durch eine geprüfte Sicherung (Server vorher beenden).
    Restore {
        /// Die Sicherungsdatei.
        file: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Gesprächsleitfäden prüfen.
    Guide {
        #[command(subcommand)]
        command: GuideCommand,
    },
    /// Anmeldung über das Verzeichnis der Organisation (LDAP, Active Directory).
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
}

#[derive(Subcommand)]
enum DirectoryCommand {
    /// Gleicht die Verzeichniskonten jetzt mit dem Verzeichnis ab: deaktiviert,
    /// wer es verlassen hat oder in keiner zugeordneten Gruppe mehr ist, und
    /// übernimmt geänderte Rollen. Hält an, statt mehr als den erlaubten Anteil
    /// zu deaktivieren.
    Sync {
        /// Die Konfigurationsdatei mit dem Abschnitt [directory].
        #[arg(long, env = "OUTREACH_CONFIG")]
        config: String,
        /// Nur berichten, was sich ändern würde.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum GuideCommand {
    /// Prüft eine Leitfaden-Datei (TOML) und nennt jedes Problem mit seiner Zeile.
    Check {
        /// Die Leitfaden-Datei, z. B. guides/sgb2-bewerberdaten.toml.
        file: String,
    },
}

#[derive(clap::Args)]
struct DatabaseArg {
    /// sqlite://DATEI oder postgres://BENUTZER@HOST/DATENBANK
    #[arg(
        long = "database-url",
        env = "OUTREACH_DATABASE_URL",
        default_value = "sqlite://outreach.db"
    )]
    url: String,
}

/// Rate limits per client address (token buckets; see the README).
#[derive(clap::Args)]
struct RateArgs {
    /// Anmeldungen je Minute und Client-Adresse, nachdem der Vorrat verbraucht ist.
    #[arg(long, default_value_t = 60, env = "OUTREACH_LOGIN_RATE",
          value_parser = clap::value_parser!(u32).range(1..))]
    login_rate: u32,
    /// Anmeldungen, die eine Client-Adresse auf einmal senden darf (Schichtbeginn).
    #[arg(long, default_value_t = 300, env = "OUTREACH_LOGIN_BURST",
          value_parser = clap::value_parser!(u32).range(1..))]
    login_burst: u32,
    /// API-Aufrufe je Minute und Client-Adresse, nachdem der Vorrat verbraucht ist.
    #[arg(long, default_value_t = 120, env = "OUTREACH_API_RATE",
          value_parser = clap::value_parser!(u32).range(1..))]
    api_rate: u32,
    /// API-Aufrufe, die eine Client-Adresse auf einmal senden darf.
    #[arg(long, default_value_t = 60, env = "OUTREACH_API_BURST",
          value_parser = clap::value_parser!(u32).range(1..))]
    api_burst: u32,
}

/// HTTPS and load balancers (README: "Betrieb mit mehreren Servern").
#[derive(clap::Args)]
struct NetworkArgs {
    /// TLS-Zertifikat (PEM, mit Zwischenzertifikaten); zusammen mit --tls-key
    /// spricht der Server HTTPS. Auf SIGHUP liest er beide Dateien neu.
    #[arg(long, env = "OUTREACH_TLS_CERT")]
    tls_cert: Option<String>,
    /// Privater Schlüssel zum TLS-Zertifikat (PEM).
    #[arg(long, env = "OUTREACH_TLS_KEY")]
    tls_key: Option<String>,
    /// Netz (CIDR) oder Adresse eines Load Balancers, dessen X-Forwarded-For
    /// und X-Forwarded-Proto der Server glaubt; mehrfach angebbar (Umgebung:
    /// durch Kommas getrennt).
    #[arg(
        long = "trusted-proxy",
        env = "OUTREACH_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxy: Vec<String>,
    /// Der Server steht hinter einem Load Balancer, der TLS beendet: dann
    /// spricht er HTTP auch auf Adressen außer Loopback (braucht --trusted-proxy).
    #[arg(long, env = "OUTREACH_BEHIND_PROXY")]
    behind_proxy: bool,
    /// Sekunden, die der Server nach SIGTERM „nicht bereit“ meldet, bevor er
    /// keine Verbindungen mehr annimmt (Vorgabe: 5 hinter einem Load
    /// Balancer, sonst 0).
    #[arg(long, env = "OUTREACH_DRAIN_SECONDS",
          value_parser = clap::value_parser!(u16).range(0..=300))]
    drain_seconds: Option<u16>,
}

#[derive(clap::Args)]
struct RetentionArg {
    /// Monate, die Protokollereignisse aufbewahrt werden (1 bis 120).
    #[arg(long, default_value_t = 12, env = "OUTREACH_AUDIT_MONTHS",
          value_parser = clap::value_parser!(i32).range(1..=120))]
    audit_months: i32,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Legt ein Konto an; gibt ein erzeugtes Passwort einmal aus oder liest eines von der Standardeingabe.
    Add {
        /// Benutzername (Kleinbuchstaben, Ziffern, . - _).
        #[arg(long)]
        username: String,
        /// Angezeigter Name, z. B. "Anna Meier".
        #[arg(long)]
        name: String,
        /// Rolle: agent, supervisor, case_manager, jobcenter_admin, dpo oder admin.
        #[arg(long)]
        role: String,
        /// Kürzel des Jobcenters oder Service-Centers
        /// (entfällt bei admin; bei dpo optional).
        #[arg(long)]
        organisation: Option<String>,
        /// pAp-Kennung (für case_manager).
        #[arg(long)]
        pap_code: Option<String>,
        /// Passwort von der Standardeingabe lesen, statt es zu erzeugen.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Liest einen Kundenexport (CSV) ein: neue Kunden anlegen, geänderte
    /// aktualisieren, fehlende als „nicht mehr im Export“ kennzeichnen.
    Customers {
        /// Die CSV-Datei (UTF-8 oder Windows-1252, Trennzeichen ; oder ,).
        file: String,
        /// Kürzel des Jobcenters.
        #[arg(long)]
        jobcenter: String,
        /// Nur prüfen und zählen, nichts speichern.
        #[arg(long)]
        dry_run: bool,
        /// Bericht als JSON in diese Datei schreiben.
        #[arg(long)]
        report: Option<String>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum ExportCommand {
    /// Die Kunden eines Jobcenters im Importformat (; , UTF-8 mit BOM).
    Customers {
        /// Kürzel des Jobcenters.
        #[arg(long)]
        jobcenter: String,
        /// Zieldatei (sonst Standardausgabe).
        #[arg(long)]
        out: Option<String>,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Die Gesprächsergebnisse einer Aktion für das Fachverfahren des
    /// Jobcenters (je Fall eine Zeile); markiert sie als übergeben.
    Results {
        /// Nummer der Aktion.
        #[arg(long)]
        campaign: i64,
        /// Nur Fälle, die an oder nach diesem Tag abgeschlossen wurden (TT.MM.JJJJ).
        #[arg(long)]
        since: Option<String>,
        /// csv (Semikolon, UTF-8 mit BOM) oder json.
        #[arg(long, default_value = "csv")]
        format: String,
        /// Zieldatei (sonst Standardausgabe).
        #[arg(long)]
        out: Option<String>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum LettersCommand {
    /// Vorabinformationen einer Aktion als Druckstapel: PDF-Dateien mit je bis zu 125 Briefen und ein Manifest (CSV).
    Advance {
        /// Nummer der Aktion.
        #[arg(long)]
        campaign: i64,
        /// Zielverzeichnis (wird angelegt).
        #[arg(long)]
        out: String,
        /// Einen vorhandenen Stapel erneut erzeugen (sonst: neuer Stapel mit allen Fällen ohne Vorabinformation).
        #[arg(long)]
        batch: Option<i64>,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Markiert einen Stapel als versandt; ab dem Versanddatum läuft die Wartefrist.
    Sent {
        /// Nummer des Stapels.
        #[arg(long)]
        batch: i64,
        /// Versanddatum TT.MM.JJJJ (sonst heute).
        #[arg(long)]
        date: Option<String>,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Prüft die Hash-Kette und nennt das erste fehlerhafte Ereignis.
    Verify {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // PostgreSQL's notices ("relation … already exists, skipping" when the
        // migrations are checked) are no news for the person at the terminal.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// mimalloc: typesetting letters allocates a lot; with glibc's allocator the
/// advance-letter benchmark runs about 15 % slower (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve {
            bind,
            database,
            session_minutes,
            requests_at_once,
            config,
            retention,
            training,
            rates,
            network,
        } => {
            let serve_matches = matches.subcommand_matches("serve").unwrap_or(&matches);
            let file = match config.as_deref().map(config::FileConfig::load).transpose() {
                Ok(file) => file.unwrap_or_default(),
                Err(error) => {
                    eprintln!("Fehler: {error:#}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let given = config::NetworkGiven {
                tls_cert: network.tls_cert,
                tls_key: network.tls_key,
                trusted_proxies: network.trusted_proxy,
                behind_proxy: network.behind_proxy,
                drain_seconds: network.drain_seconds,
            };
            match config::ServeSettings::resolve(
                serve_matches,
                file,
                bind,
                database.url,
                session_minutes,
                given,
            ) {
                Ok(settings) => {
                    commands::serve(config::ServeSettings {
                        audit_months: retention.audit_months,
                        requests_at_once: requests_at_once.map(usize::from),
                        training,
                        login_rate: outreach_web::rate_limit::Rate {
                            per_minute: rates.login_rate,
                            burst: rates.login_burst,
                        },
                        api_rate: outreach_web::rate_limit::Rate {
                            per_minute: rates.api_rate,
                            burst: rates.api_burst,
                        },
                        ..settings
                    })
                    .await
                }
                Err(error) => Err(error),
            }
        }
        Command::Demo { bind, file } => demo::run(&file, &bind).await,
        Command::Directory {
            command:
                DirectoryCommand::Sync {
                    config,
                    dry_run,
                    database,
                },
        } => commands::directory_sync(&database.url, &config, dry_run).await,
        Command::Migrate { database } => commands::migrate(&database.url).await,
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    name,
                    role,
                    organisation,
                    pap_code,
                    password_stdin,
                    database,
                },
        } => {
            commands::user_add(
                &database.url,
                commands::UserSpec {
                    username,
                    name,
                    role,
                    organisation,
                    pap_code,
                    password_stdin,
                },
            )
            .await
        }
        Command::Letters {
            command:
                LettersCommand::Advance {
                    campaign,
                    out,
                    batch,
                    database,
                },
        } => letters::advance(&database.url, campaign, &out, batch).await,
        Command::Letters {
            command:
                LettersCommand::Sent {
                    batch,
                    date,
                    database,
                },
        } => letters::sent(&database.url, batch, date.as_deref()).await,
        Command::Audit {
            command: AuditCommand::Verify { database },
        } => commands::audit_verify(&database.url).await,
        Command::Purge {
            dry_run,
            confirm_audit_retention,
            retention,
            database,
        } => {
            let run = commands::PurgeOptions {
                dry_run,
                confirm_audit_retention,
                audit_months: retention.audit_months,
            };
            commands::purge(&database.url, run).await
        }
        Command::Record {
            jobcenter,
            out,
            retention,
            database,
        } => {
            commands::processing_record(
                &database.url,
                &jobcenter,
                out.as_deref(),
                retention.audit_months,
            )
            .await
        }
        Command::Backup { file, database } => commands::backup(&database.url, &file).await,
        Command::Restore { file, database } => commands::restore(&database.url, &file).await,
        Command::Guide {
            command: GuideCommand::Check { file },
        } => Ok(commands::guide_check(&file)),
        Command::Import {
            command:
                ImportCommand::Customers {
                    file,
                    jobcenter,
                    dry_run,
                    report,
                    database,
                },
        } => transfer::import(&database.url, &file, &jobcenter, dry_run, report.as_deref()).await,
        Command::Export {
            command:
                ExportCommand::Customers {
                    jobcenter,
                    out,
                    database,
                },
        } => transfer::export(&database.url, &jobcenter, out.as_deref()).await,
        Command::Export {
            command:
                ExportCommand::Results {
                    campaign,
                    since,
                    format,
                    out,
                    database,
                },
        } => {
            transfer::export_results(
                &database.url,
                campaign,
                since.as_deref(),
                &format,
                out.as_deref(),
            )
            .await
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Fehler: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
