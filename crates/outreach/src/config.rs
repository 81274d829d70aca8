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
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub trusted_proxies: Option<Vec<String>>,
    pub behind_proxy: Option<bool>,
    pub drain_seconds: Option<u16>,
    /// Sign-in through the organisation's directory (LDAP / Active
    /// Directory); without it, every account is local.
    pub directory: Option<outreach_directory::Settings>,
    /// The roles (codes, such as `admin` or `agent`) whose local accounts
    /// sign in with a second factor; by default every role.
    pub second_factor_roles: Option<Vec<String>>,
}

/// The network settings as the command line and environment give them.
#[derive(Debug, Default)]
pub struct NetworkGiven {
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub trusted_proxies: Vec<String>,
    pub behind_proxy: bool,
    pub drain_seconds: Option<u16>,
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
    /// HTTPS: the certificate chain's and the key's files.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    pub trusted_proxies: outreach_web::origin::TrustedProxies,
    /// How long the server reports "not ready" after SIGTERM before it
    /// stops accepting connections.
    pub drain: std::time::Duration,
    /// The organisation's directory, if accounts sign in through it.
    pub directory: Option<outreach_directory::Settings>,
    /// The roles whose local accounts sign in with a second factor.
    pub second_factor_roles: Vec<outreach_core::access::Role>,
}

/// The roles of `second_factor_roles` in the file (all when not given).
fn second_factor_roles(
    codes: Option<Vec<String>>,
) -> anyhow::Result<Vec<outreach_core::access::Role>> {
    use outreach_core::access::Role;
    let Some(codes) = codes else {
        return Ok(Role::ALL.to_vec());
    };
    codes
        .iter()
        .map(|code| {
            Role::parse(code).with_context(|| {
                let known: Vec<&str> = Role::ALL.iter().map(|r| r.code()).collect();
                format!(
                    "Konfigurationsdatei: second_factor_roles nennt die unbekannte Rolle „{code}“; bekannt sind {}",
                    known.join(", ")
                )
            })
        })
        .collect()
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
        network: NetworkGiven,
    ) -> anyhow::Result<ServeSettings> {
        let tls_cert = layered(
            matches,
            "tls_cert",
            network.tls_cert,
            file.tls_cert.map(Some),
        )
        .filter(|v| !v.is_empty());
        let tls_key = layered(matches, "tls_key", network.tls_key, file.tls_key.map(Some))
            .filter(|v| !v.is_empty());
        let tls = match (tls_cert, tls_key) {
            (Some(cert), Some(key)) => Some((cert.into(), key.into())),
            (None, None) => None,
            _ => bail!(
                "--tls-cert und --tls-key gehören zusammen: für HTTPS braucht der Server das Zertifikat und den Schlüssel"
            ),
        };
        let proxies = layered(
            matches,
            "trusted_proxy",
            network.trusted_proxies,
            file.trusted_proxies,
        );
        let trusted_proxies =
            outreach_web::origin::TrustedProxies::parse(&proxies).map_err(anyhow::Error::msg)?;
        let behind_proxy = layered(
            matches,
            "behind_proxy",
            network.behind_proxy,
            file.behind_proxy,
        );
        if behind_proxy && trusted_proxies.is_empty() {
            bail!(
                "--behind-proxy braucht mindestens ein --trusted-proxy (die Adresse des Load Balancers): sonst stünde in jedem Protokolleintrag und jeder Anmeldesperre die Adresse des Load Balancers statt die des Clients"
            );
        }
        let drain_seconds = layered(
            matches,
            "drain_seconds",
            network.drain_seconds,
            file.drain_seconds.map(Some),
        )
        .unwrap_or(if behind_proxy || !trusted_proxies.is_empty() {
            5
        } else {
            0
        });
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
            tls,
            trusted_proxies,
            drain: std::time::Duration::from_secs(u64::from(drain_seconds)),
            directory: file.directory,
            second_factor_roles: second_factor_roles(file.second_factor_roles)?,
        };
        if settings.tls.is_none() && !behind_proxy && !binds_loopback_only(&settings.bind) {
            bail!(
                "Ohne TLS spricht der Server nur auf einer Loopback-Adresse (wie 127.0.0.1:8080) unverschlüsseltes HTTP, nicht auf {}: über das Netz gingen sonst Passwörter und Sozialdaten im Klartext. Geben Sie --tls-cert und --tls-key an, oder --behind-proxy mit --trusted-proxy, wenn ein Load Balancer davor TLS beendet.",
                settings.bind
            );
        }
        if !(5..=480).contains(&settings.session_minutes) {
            bail!(
                "session_minutes: {} liegt nicht zwischen 5 und 480 Minuten",
                settings.session_minutes
            );
        }
        Ok(settings)
    }
}

/// Whether every address `bind` stands for is a loopback one (an address
/// that doesn't resolve is left to the listener to refuse).
fn binds_loopback_only(bind: &str) -> bool {
    use std::net::ToSocketAddrs;
    match bind.to_socket_addrs() {
        Ok(addresses) => addresses.into_iter().all(|a| a.ip().is_loopback()),
        Err(_) => true,
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

    /// The example an operator copies is a valid configuration.
    #[test]
    fn the_deployment_example_is_read() {
        let text = include_str!("../../../deploy/outreach.toml.example");
        let file: FileConfig = toml::from_str(text)
            .map_err(|e| e.to_string())
            .unwrap_or_else(|e| {
                panic!("deploy/outreach.toml.example: {e}");
            });
        assert_eq!(file.behind_proxy, Some(true));
        assert_eq!(file.drain_seconds, Some(5));
        let proxies = file.trusted_proxies.unwrap_or_default();
        assert!(outreach_web::origin::TrustedProxies::parse(&proxies).is_ok());
        assert!(
            file.database_url
                .is_some_and(|u| u.contains("sslmode=verify-full"))
        );
        let directory = file.directory.expect("a [directory] section");
        assert!(directory.url.starts_with("ldaps://"));
        assert!(
            directory.bind_password.is_none(),
            "a password in the example"
        );
        let rules = directory.rules().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rules.len(), 3);
        let roles = second_factor_roles(file.second_factor_roles).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(roles, outreach_core::access::Role::ALL.to_vec());
    }

    #[test]
    fn an_unknown_role_for_the_second_factor_is_named() {
        let error = second_factor_roles(Some(vec!["admin".into(), "chef".into()]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("„chef“"), "{error}");
        assert!(error.contains("second_factor_roles"), "{error}");
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
