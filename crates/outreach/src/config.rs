//! Settings of `outreach serve` in layers: built-in defaults, then a TOML file
//! (`--config`), then `OUTREACH_*` environment variables, then flags. Checked at
//! start-up; the database URL never prints its password.

use anyhow::{Context, bail};
use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;
use std::fmt;

/// The keys a configuration file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<String>,
    pub database_url: Option<String>,
    pub session_minutes: Option<i64>,
}

impl FileConfig {
    pub fn load(path: &str) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("Konfigurationsdatei {path} kann nicht gelesen werden"))?;
        toml::from_str(&text).map_err(|e| {
            anyhow::anyhow!("Konfigurationsdatei {path} ist fehlerhaft: {}", e.message())
                .context(location(&text, e.span()))
        })
    }
}

/// "Zeile N" for a byte span of the file.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].lines().count().max(1);
            format!("Konfigurationsdatei, Zeile {line}")
        }
        None => "Konfigurationsdatei".to_string(),
    }
}

/// A database URL whose password is hidden when printed.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn new(url: String) -> DatabaseUrl {
        DatabaseUrl(url)
    }

    /// The URL itself, for connecting only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let url = &self.0;
        match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let user = url[scheme + 3..at].split(':').next().unwrap_or("");
                write!(f, "{}{}@{}", &url[..scheme + 3], user, &url[at + 1..])
            }
            _ => f.write_str(url),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// The settings `serve` runs with.
#[derive(Debug)]
pub struct ServeSettings {
    pub bind: String,
    pub database_url: DatabaseUrl,
    pub session_minutes: i64,
    /// Months the audit log is kept (the daily deletion removes older events).
    pub audit_months: i32,
    /// Requests the server works on at once (`None`: the database's default).
    pub requests_at_once: Option<usize>,
    /// Training mode (`--training`): a moved clock is accepted, a banner is
    /// shown, and the server's upkeep deletes nothing.
    pub training: bool,
    /// Rate limits per client address of the login form and the API.
    pub login_rate: outreach_web::rate_limit::Rate,
    pub api_rate: outreach_web::rate_limit::Rate,
}

/// A value from the command line or environment, unless only clap's default
/// stood there and the file has one.
fn layered<T: Clone>(matches: &ArgMatches, id: &str, given: T, file: Option<T>) -> T {
    match (matches.value_source(id), file) {
        (Some(ValueSource::DefaultValue) | None, Some(from_file)) => from_file,
        _ => given,
    }
}

impl ServeSettings {
    pub fn resolve(
        matches: &ArgMatches,
        file: FileConfig,
        bind: String,
        database_url: String,
        session_minutes: i64,
    ) -> anyhow::Result<ServeSettings> {
        let settings = ServeSettings {
            bind: layered(matches, "bind", bind, file.bind),
            database_url: DatabaseUrl::new(layered(
                matches,
                "url",
                database_url,
                file.database_url,
            )),
            session_minutes: layered(
                matches,
                "session_minutes",
                session_minutes,
                file.session_minutes,
            ),
            audit_months: outreach_app::upkeep::Policy::default().audit_months,
            requests_at_once: outreach_web::WebConfig::default().requests_at_once,
            training: false,
            login_rate: outreach_web::rate_limit::Rate::LOGIN,
            api_rate: outreach_web::rate_limit::Rate::API,
        };
        if !(5..=480).contains(&settings.session_minutes) {
            bail!(
                "session_minutes: {} liegt nicht zwischen 5 und 480 Minuten",
                settings.session_minutes
            );
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        let url = DatabaseUrl::new("postgres://u:geheim@h/db".into());
        assert_eq!(url.to_string(), "postgres://u@h/db");
        assert!(!format!("{url:?}").contains("geheim"));
        assert_eq!(
            DatabaseUrl::new("sqlite://x.db".into()).to_string(),
            "sqlite://x.db"
        );
    }

    #[test]
    fn file_errors_name_the_line() {
        let dir = std::env::temp_dir().join(format!("outreach-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("bad.toml");
        std::fs::write(
            &path,
            "bind = \"127.0.0.1:9000\"\nsession_minutes = \"dreißig\"\n",
        )
        .unwrap_or_default();
        let error = FileConfig::load(path.to_str().unwrap_or_default())
            .err()
            .map(|e| format!("{e:#}"));
        let _ = std::fs::remove_dir_all(&dir);
        let error = error.unwrap_or_default();
        assert!(error.contains("Zeile 2"), "{error}");
        let unknown = toml::from_str::<FileConfig>("port = 1").is_err();
        assert!(unknown, "unknown keys are refused");
    }
}
