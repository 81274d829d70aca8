//! The organisation's directory (LDAP, Active Directory) as Outreach asks
//! it: who a person is and which groups they are in (nested groups
//! resolved here, not by the server, so that OpenLDAP and Active Directory
//! are asked the same way), and whether their password is right —
//! search-then-bind over LDAPS or StartTLS with rustls (ring), plain LDAP
//! only to a loopback address.

pub mod testing;

use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry, adapters, ldap_escape};
use outreach_core::access::Role;
use outreach_core::directory::{self as rules, Cycle, GroupRule, normalize_dn};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The `[directory]` section of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `ldaps://host:636`, or `ldap://host:389` with `starttls = true`
    /// (plain `ldap://` only to a loopback address).
    pub url: String,
    #[serde(default)]
    pub starttls: bool,
    /// The CA certificate(s) (PEM) the directory's certificate must chain
    /// to; without it, the system's certificate store.
    pub ca_file: Option<PathBuf>,
    /// The service account that searches.
    pub bind_dn: String,
    /// Its password; better in `bind_password_file` or the environment
    /// (`OUTREACH_DIRECTORY_PASSWORD`).
    pub bind_password: Option<Secret>,
    pub bind_password_file: Option<PathBuf>,
    /// Where people are searched.
    pub base_dn: String,
    /// The search for one person, `{login}` standing for the login name as
    /// typed (escaped), e.g. `(&(objectClass=user)(sAMAccountName={login}))`.
    pub user_filter: String,
    /// Where groups are searched (default: `base_dn`).
    pub group_base_dn: Option<String>,
    #[serde(default = "login_attribute")]
    pub login_attribute: String,
    #[serde(default = "display_name_attribute")]
    pub display_name_attribute: String,
    /// The attribute holding a case manager's pAp-Kennung, if any.
    pub pap_code_attribute: Option<String>,
    /// The attribute of a group that names its members.
    #[serde(default = "member_attribute")]
    pub member_attribute: String,
    /// How many levels of groups in groups are followed.
    #[serde(default = "nested_depth")]
    pub nested_depth: usize,
    #[serde(default = "timeout_seconds")]
    pub timeout_seconds: u64,
    /// How often the sync runs.
    #[serde(default = "sync_interval_seconds")]
    pub sync_interval_seconds: u64,
    /// A sync that would deactivate more than this share of the directory's
    /// users stops and reports instead.
    #[serde(default = "max_deactivate_percent")]
    pub max_deactivate_percent: u32,
    /// Which group gives which role at which organisation.
    #[serde(default)]
    pub groups: Vec<GroupSetting>,
}

fn login_attribute() -> String {
    "uid".into()
}
fn display_name_attribute() -> String {
    "displayName".into()
}
fn member_attribute() -> String {
    "member".into()
}
fn nested_depth() -> usize {
    5
}
fn timeout_seconds() -> u64 {
    5
}
fn sync_interval_seconds() -> u64 {
    15 * 60
}
fn max_deactivate_percent() -> u32 {
    10
}

/// One row of the group table (`[[directory.groups]]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSetting {
    /// The group's DN.
    pub group: String,
    /// `agent`, `supervisor`, `case_manager`, `jobcenter_admin`, `dpo`, `admin`.
    pub role: String,
    /// The job center's or service center's code (none for `admin`).
    pub organisation: Option<String>,
    pub precedence: i64,
}

/// A password that never prints.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: String) -> Secret {
        Secret(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Settings {
    /// The group table as rules, checked.
    pub fn rules(&self) -> Result<Vec<GroupRule>, String> {
        let mut rules = Vec::new();
        for (i, row) in self.groups.iter().enumerate() {
            let role = Role::parse(&row.role).ok_or_else(|| {
                format!(
                    "Gruppe {} ({}): unbekannte Rolle „{}“; erlaubt: {}.",
                    i + 1,
                    row.group,
                    row.role,
                    Role::ALL.map(Role::code).join(", ")
                )
            })?;
            rules.push(GroupRule {
                group: normalize_dn(&row.group),
                role,
                organisation: row.organisation.clone().filter(|o| !o.trim().is_empty()),
                precedence: row.precedence,
            });
        }
        rules::check_rules(&rules)?;
        Ok(rules)
    }
}

/// What the directory says of a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub dn: String,
    /// As the directory writes it, in lower case.
    pub login: String,
    pub display_name: String,
    pub pap_code: Option<String>,
    /// Every group they are in, nested ones included (normalised DNs).
    pub groups: BTreeSet<String>,
}

/// Why the directory gave no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("Das Verzeichnis ist nicht erreichbar: {0}")]
    Unreachable(String),
    #[error("{0}")]
    Cycle(Cycle),
    #[error(
        "Die Suche im Verzeichnis fand {count} Einträge für „{login}“; erwartet ist genau einer."
    )]
    Ambiguous { login: String, count: usize },
    #[error("Das Verzeichnis lehnte die Anfrage ab: {0}")]
    Refused(String),
}

/// A configured directory.
pub struct Directory {
    url: String,
    starttls: bool,
    tls: Arc<rustls::ClientConfig>,
    bind_dn: String,
    bind_password: Secret,
    base_dn: String,
    group_base_dn: String,
    user_filter: String,
    login_attribute: String,
    display_name_attribute: String,
    pap_code_attribute: Option<String>,
    member_attribute: String,
    depth: usize,
    timeout: Duration,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Directory({} as {})", self.url, self.bind_dn)
    }
}

/// Whether `host` is a loopback name or address.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Directory {
    /// The directory of `settings`; `password` (from the environment)
    /// before the file's. German messages for what is wrong.
    pub fn new(settings: &Settings, password: Option<Secret>) -> Result<Directory, String> {
        let (scheme, rest) = settings.url.split_once("://").ok_or_else(|| {
            format!(
                "Verzeichnis: die Adresse „{}“ ist keine LDAP-Adresse (ldaps://… oder ldap://…).",
                settings.url
            )
        })?;
        let authority = rest.split('/').next().unwrap_or("");
        let host = match authority.rsplit_once(':') {
            Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
            _ => authority,
        };
        match scheme.to_ascii_lowercase().as_str() {
            "ldaps" => {
                if settings.starttls {
                    return Err("Verzeichnis: starttls gilt nur für ldap://-Adressen; ldaps:// ist schon verschlüsselt.".into());
                }
            }
            "ldap" if settings.starttls || is_loopback(host) => {}
            "ldap" => {
                return Err(format!(
                    "Verzeichnis: „{}“ wäre unverschlüsselt, und über das Netz gehen Passwörter. Bitte ldaps:// verwenden oder starttls = true setzen (unverschlüsselt nur zu localhost).",
                    settings.url
                ));
            }
            other => {
                return Err(format!(
                    "Verzeichnis: unbekanntes Schema „{other}“; erlaubt sind ldaps:// und ldap://."
                ));
            }
        }
        if !settings.user_filter.contains("{login}") {
            return Err(
                "Verzeichnis: user_filter muss {login} enthalten, z. B. (&(objectClass=user)(sAMAccountName={login})).".into(),
            );
        }
        let password = match (
            password,
            &settings.bind_password,
            &settings.bind_password_file,
        ) {
            (Some(p), _, _) => p,
            (None, Some(p), _) => p.clone(),
            (None, None, Some(file)) => {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    format!(
                        "Verzeichnis: die Passwortdatei {} kann nicht gelesen werden: {e}",
                        file.display()
                    )
                })?;
                Secret(text.trim_end_matches(['\n', '\r']).to_string())
            }
            (None, None, None) => {
                return Err("Verzeichnis: das Passwort des Dienstkontos fehlt (bind_password_file, bind_password oder OUTREACH_DIRECTORY_PASSWORD).".into());
            }
        };
        let tls = client_config(settings.ca_file.as_ref())?;
        Ok(Directory {
            url: settings.url.clone(),
            starttls: settings.starttls,
            tls,
            bind_dn: settings.bind_dn.clone(),
            bind_password: password,
            base_dn: settings.base_dn.clone(),
            group_base_dn: settings
                .group_base_dn
                .clone()
                .unwrap_or_else(|| settings.base_dn.clone()),
            user_filter: settings.user_filter.clone(),
            login_attribute: settings.login_attribute.clone(),
            display_name_attribute: settings.display_name_attribute.clone(),
            pap_code_attribute: settings.pap_code_attribute.clone(),
            member_attribute: settings.member_attribute.clone(),
            depth: settings.nested_depth,
            timeout: Duration::from_secs(settings.timeout_seconds.max(1)),
        })
    }

    /// A connection bound as the service account.
    async fn connect(&self) -> Result<ldap3::Ldap, Error> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.starttls)
            .set_config(self.tls.clone());
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        ldap3::drive!(conn);
        ldap.with_timeout(self.timeout)
            .simple_bind(&self.bind_dn, self.bind_password.expose())
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?
            .success()
            .map_err(|e| {
                Error::Refused(format!(
                    "das Dienstkonto {} kann sich nicht anmelden ({e})",
                    self.bind_dn
                ))
            })?;
        Ok(ldap)
    }

    /// Checks `password` for `login`: search as the service account, then
    /// bind as the person found. `None` for an unknown login and a wrong
    /// password alike.
    pub async fn sign_in(&self, login: &str, password: &str) -> Result<Option<Person>, Error> {
        // An empty password would be an unauthenticated bind, which
        // directories answer with success.
        if login.is_empty() || password.is_empty() {
            return Ok(None);
        }
        let work = async {
            let mut ldap = self.connect().await?;
            let Some(entry) = self.find(&mut ldap, login).await? else {
                return Ok(None);
            };
            let groups = self.groups_of(&mut ldap, &entry.dn).await?;
            let bound = ldap
                .with_timeout(self.timeout)
                .simple_bind(&entry.dn, password)
                .await
                .map_err(|e| Error::Unreachable(e.to_string()))?;
            let _ = ldap.unbind().await;
            match bound.rc {
                0 => Ok(Some(self.person(entry, groups))),
                // invalidCredentials; AD also for a disabled or expired account.
                49 | 53 => Ok(None),
                _ => Err(Error::Refused(bound.to_string())),
            }
        };
        tokio::time::timeout(self.timeout * 4, work)
            .await
            .unwrap_or_else(|_| Err(Error::Unreachable("Zeitüberschreitung".into())))
    }

    /// The person with `login`, without a password (for a check of one
    /// account); `None` when the directory doesn't have them.
    pub async fn lookup(&self, login: &str) -> Result<Option<Person>, Error> {
        let work = async {
            let mut ldap = self.connect().await?;
            let Some(entry) = self.find(&mut ldap, login).await? else {
                return Ok(None);
            };
            let groups = self.groups_of(&mut ldap, &entry.dn).await?;
            let _ = ldap.unbind().await;
            Ok(Some(self.person(entry, groups)))
        };
        tokio::time::timeout(self.timeout * 4, work)
            .await
            .unwrap_or_else(|_| Err(Error::Unreachable("Zeitüberschreitung".into())))
    }

    fn attributes(&self) -> Vec<String> {
        let mut attrs = vec![
            self.login_attribute.clone(),
            self.display_name_attribute.clone(),
        ];
        attrs.extend(self.pap_code_attribute.clone());
        attrs
    }

    async fn find(
        &self,
        ldap: &mut ldap3::Ldap,
        login: &str,
    ) -> Result<Option<SearchEntry>, Error> {
        let filter = self.user_filter.replace("{login}", &ldap_escape(login));
        let (entries, _) = ldap
            .with_timeout(self.timeout)
            .search(&self.base_dn, Scope::Subtree, &filter, self.attributes())
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?
            .success()
            .map_err(|e| Error::Refused(e.to_string()))?;
        let mut people: Vec<SearchEntry> = entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(SearchEntry::construct)
            .collect();
        match people.len() {
            0 => Ok(None),
            1 => Ok(people.pop()),
            count => Err(Error::Ambiguous {
                login: login.to_string(),
                count,
            }),
        }
    }

    /// The groups whose member attribute names `dn`.
    async fn containing(
        &self,
        ldap: &mut ldap3::Ldap,
        dn: &str,
    ) -> Result<BTreeSet<String>, Error> {
        let filter = format!("({}={})", self.member_attribute, ldap_escape(dn));
        let (entries, _) = ldap
            .with_timeout(self.timeout)
            .search(&self.group_base_dn, Scope::Subtree, &filter, vec!["1.1"])
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?
            .success()
            .map_err(|e| Error::Refused(e.to_string()))?;
        Ok(entries
            .into_iter()
            .filter(|e| !e.is_ref() && !e.is_intermediate())
            .map(|e| normalize_dn(&SearchEntry::construct(e).dn))
            .collect())
    }

    /// Every group of `dn`, asked level by level to the configured depth.
    async fn groups_of(&self, ldap: &mut ldap3::Ldap, dn: &str) -> Result<BTreeSet<String>, Error> {
        let direct = self.containing(ldap, dn).await?;
        let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut level = direct.clone();
        for _ in 0..self.depth {
            let mut next = BTreeSet::new();
            for group in &level {
                if parents.contains_key(group) {
                    continue;
                }
                let up = self.containing(ldap, group).await?;
                next.extend(up.iter().cloned());
                parents.insert(group.clone(), up);
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        rules::closure(&direct, &parents, self.depth).map_err(Error::Cycle)
    }

    fn person(&self, entry: SearchEntry, groups: BTreeSet<String>) -> Person {
        let first = |attrs: &HashMap<String, Vec<String>>, name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.first().cloned())
        };
        let login = first(&entry.attrs, &self.login_attribute)
            .unwrap_or_default()
            .to_lowercase();
        let display_name =
            first(&entry.attrs, &self.display_name_attribute).unwrap_or_else(|| login.clone());
        let pap_code = self
            .pap_code_attribute
            .as_deref()
            .and_then(|a| first(&entry.attrs, a))
            .filter(|c| !c.trim().is_empty());
        Person {
            dn: entry.dn,
            login,
            display_name,
            pap_code,
            groups,
        }
    }

    /// Everyone the user filter finds (paged), with their groups, for the
    /// sync: the groups are read once, with their members, and nested here.
    pub async fn everyone(&self) -> Result<Vec<Person>, Error> {
        let work = async {
            let mut ldap = self.connect().await?;
            let filter = self.user_filter.replace("{login}", "*");
            let people = self
                .paged(&mut ldap, &self.base_dn, &filter, self.attributes())
                .await?;
            let member_filter = format!("({}=*)", self.member_attribute);
            let groups = self
                .paged(
                    &mut ldap,
                    &self.group_base_dn,
                    &member_filter,
                    vec![self.member_attribute.clone()],
                )
                .await?;
            let _ = ldap.unbind().await;
            // member → the groups it is in.
            let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
            for group in &groups {
                let dn = normalize_dn(&group.dn);
                let members = group
                    .attrs
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(&self.member_attribute))
                    .flat_map(|(_, v)| v.iter());
                for member in members {
                    parents
                        .entry(normalize_dn(member))
                        .or_default()
                        .insert(dn.clone());
                }
            }
            let mut found = Vec::new();
            for entry in people {
                let direct = parents
                    .get(&normalize_dn(&entry.dn))
                    .cloned()
                    .unwrap_or_default();
                let groups = rules::closure(&direct, &parents, self.depth).map_err(Error::Cycle)?;
                found.push(self.person(entry, groups));
            }
            Ok(found)
        };
        tokio::time::timeout(self.timeout * 60, work)
            .await
            .unwrap_or_else(|_| Err(Error::Unreachable("Zeitüberschreitung".into())))
    }

    async fn paged(
        &self,
        ldap: &mut ldap3::Ldap,
        base: &str,
        filter: &str,
        attrs: Vec<String>,
    ) -> Result<Vec<SearchEntry>, Error> {
        let adapters: Vec<Box<dyn adapters::Adapter<_, _>>> = vec![
            Box::new(adapters::EntriesOnly::new()),
            Box::new(adapters::PagedResults::new(500)),
        ];
        let mut stream = ldap
            .with_timeout(self.timeout)
            .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?;
        let mut found = Vec::new();
        while let Some(entry) = stream
            .next()
            .await
            .map_err(|e| Error::Unreachable(e.to_string()))?
        {
            found.push(SearchEntry::construct(entry));
        }
        stream
            .finish()
            .await
            .success()
            .map_err(|e| Error::Refused(e.to_string()))?;
        Ok(found)
    }
}

/// rustls with ring, trusting `ca_file` (or the system's store).
fn client_config(ca_file: Option<&PathBuf>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            let certs: Vec<_> = CertificateDer::pem_file_iter(file)
                .map_err(|e| {
                    format!(
                        "Verzeichnis: die CA-Datei {} kann nicht gelesen werden: {e}",
                        file.display()
                    )
                })?
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    format!(
                        "Verzeichnis: die CA-Datei {} ist kein PEM-Zertifikat: {e}",
                        file.display()
                    )
                })?;
            if certs.is_empty() {
                return Err(format!(
                    "Verzeichnis: die CA-Datei {} enthält kein Zertifikat.",
                    file.display()
                ));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| {
                    format!("Verzeichnis: ein Zertifikat in {}: {e}", file.display())
                })?;
            }
        }
        None => {
            // The system's store (Debian: ca-certificates).
            if let Ok(certs) = CertificateDer::pem_file_iter("/etc/ssl/certs/ca-certificates.crt") {
                roots.add_parsable_certificates(certs.filter_map(Result::ok));
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
