//! The `outreach` command: parses the command line and calls the libraries.

mod commands;
mod demo;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "outreach",
    version,
    about = "Outreach: telefonische Aktualisierung der Bewerberdaten für Jobcenter und Service-Center"
)]
struct Cli {
    /// Log format.
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
    /// Run the web server.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080", env = "OUTREACH_BIND")]
        bind: String,
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Create (or reuse) a demo database with seeded data and serve it.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        bind: String,
        /// The demo's SQLite file.
        #[arg(long, default_value = "outreach-demo.db")]
        file: String,
    },
    /// Apply the database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Work with the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(clap::Args)]
struct DatabaseArg {
    /// sqlite://FILE or postgres://USER@HOST/DB
    #[arg(
        long = "database-url",
        env = "OUTREACH_DATABASE_URL",
        default_value = "sqlite://outreach.db"
    )]
    url: String,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; prints a generated password once, or reads one from stdin.
    Add {
        /// Login name (lower-case letters, digits, . - _).
        #[arg(long)]
        username: String,
        /// Display name, e.g. "Anna Meier".
        #[arg(long)]
        name: String,
        /// agent, supervisor, case_manager, jobcenter_admin, dpo or admin.
        #[arg(long)]
        role: String,
        /// Code of the job center or service center the user belongs to
        /// (none for admin; optional for dpo).
        #[arg(long)]
        organisation: Option<String>,
        /// pAp-Kennung of a case manager.
        #[arg(long)]
        pap_code: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArg,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; names the first broken event.
    Verify {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match cli.command {
        Command::Serve { bind, database } => commands::serve(&database.url, &bind).await,
        Command::Demo { bind, file } => demo::run(&file, &bind).await,
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
        Command::Audit {
            command: AuditCommand::Verify { database },
        } => commands::audit_verify(&database.url).await,
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Fehler: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
