//! An OpenLDAP `slapd` of a test's own (Debian's package `slapd`): a
//! throwaway configuration and database in a temporary directory, on free
//! ports for `ldap://` (StartTLS) and `ldaps://`, with the test's
//! certificate, loaded with `slapadd` before it starts. Required in CI
//! (`CI`, `OUTREACH_REQUIRE_DIRECTORY`): there a missing `slapd` fails the
//! test; elsewhere it is skipped with a message.
#![allow(
    clippy::panic,
    reason = "test support: a missing slapd in CI must fail"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The test directory's suffix.
pub const BASE: &str = "dc=jobcenter,dc=test";
/// Its manager (the `rootdn`), for changes a test makes.
pub const ADMIN_DN: &str = "cn=admin,dc=jobcenter,dc=test";
pub const ADMIN_PASSWORD: &str = "verwaltung-geheim";
/// The service account Outreach searches with.
pub const SERVICE_DN: &str = "cn=outreach,ou=dienste,dc=jobcenter,dc=test";
pub const SERVICE_PASSWORD: &str = "dienst-geheim";

/// Whether a missing `slapd` must fail the test.
pub fn required() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("OUTREACH_REQUIRE_DIRECTORY").is_some()
}

/// A running `slapd`; stopped and removed when dropped.
pub struct Slapd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    conf: PathBuf,
    urls: String,
    pub ldap_port: u16,
    pub ldaps_port: u16,
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("kein freier Port: {e}"))
}

fn binary(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// The test directory's tree: `ou=dienste` with the service account,
/// `ou=personen`, `ou=gruppen`; then `ldif`, the test's people and groups.
fn tree(ldif: &str) -> String {
    format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: jobcenter\no: Jobcenter Test\n\n\
         dn: ou=dienste,{BASE}\nobjectClass: organizationalUnit\nou: dienste\n\n\
         dn: {SERVICE_DN}\nobjectClass: person\ncn: outreach\nsn: Outreach\nuserPassword: {SERVICE_PASSWORD}\n\n\
         dn: ou=personen,{BASE}\nobjectClass: organizationalUnit\nou: personen\n\n\
         dn: ou=gruppen,{BASE}\nobjectClass: organizationalUnit\nou: gruppen\n\n\
         {ldif}\n"
    )
}

/// One person of the test directory, as LDIF (`uid` = login).
pub fn person(uid: &str, display_name: &str, password: &str) -> String {
    format!(
        "dn: uid={uid},ou=personen,{BASE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {display_name}\nsn: {display_name}\ndisplayName: {display_name}\nuserPassword: {password}\n\n"
    )
}

/// A group with `members` (full DNs), as LDIF.
pub fn group(cn: &str, members: &[String]) -> String {
    let mut text = format!(
        "dn: {}\nobjectClass: groupOfNames\ncn: {cn}\n",
        group_dn(cn)
    );
    // groupOfNames needs a member: the service account stands in, so that
    // a test can remove every person from a group.
    text.push_str(&format!("member: {SERVICE_DN}\n"));
    for m in members {
        text.push_str(&format!("member: {m}\n"));
    }
    text.push('\n');
    text
}

pub fn person_dn(uid: &str) -> String {
    format!("uid={uid},ou=personen,{BASE}")
}

pub fn group_dn(cn: &str) -> String {
    format!("cn={cn},ou=gruppen,{BASE}")
}

impl Slapd {
    /// Starts a directory with `ldif` (see [`person`], [`group`]) and TLS
    /// from `cert_pem`/`key_pem` (for `localhost` and `127.0.0.1`).
    pub fn start(cert_pem: &str, key_pem: &str, ldif: &str) -> Result<Slapd, String> {
        let slapd = binary("slapd").ok_or("slapd fehlt (Debian-Paket slapd)")?;
        let slapadd = binary("slapadd").ok_or("slapadd fehlt (Debian-Paket slapd)")?;
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path();
        let data = path.join("data");
        std::fs::create_dir(&data).map_err(|e| e.to_string())?;
        std::fs::write(path.join("server.crt"), cert_pem).map_err(|e| e.to_string())?;
        std::fs::write(path.join("server.key"), key_pem).map_err(|e| e.to_string())?;
        let schema = "/etc/ldap/schema";
        let conf = path.join("slapd.conf");
        std::fs::write(
            &conf,
            format!(
                "include {schema}/core.schema\ninclude {schema}/cosine.schema\n\
                 include {schema}/inetorgperson.schema\ninclude {schema}/nis.schema\n\
                 pidfile {p}/slapd.pid\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\n\
                 TLSCertificateFile {p}/server.crt\nTLSCertificateKeyFile {p}/server.key\n\
                 sizelimit 100\n\
                 access to attrs=userPassword by self write by anonymous auth by * none\n\
                 access to * by * read\n\
                 database mdb\nmaxsize 104857600\nsuffix \"{BASE}\"\nrootdn \"{ADMIN_DN}\"\n\
                 rootpw {ADMIN_PASSWORD}\ndirectory {d}\n\
                 index objectClass eq\nindex uid eq\nindex member eq\n",
                p = path.display(),
                d = data.display()
            ),
        )
        .map_err(|e| e.to_string())?;
        let ldif_file = path.join("tree.ldif");
        std::fs::write(&ldif_file, tree(ldif)).map_err(|e| e.to_string())?;
        let loaded = Command::new(&slapadd)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&ldif_file)
            .output()
            .map_err(|e| format!("slapadd: {e}"))?;
        if !loaded.status.success() {
            return Err(format!(
                "slapadd: {}",
                String::from_utf8_lossy(&loaded.stderr)
            ));
        }
        let ldap_port = free_port()?;
        let ldaps_port = free_port()?;
        let urls = format!("ldap://127.0.0.1:{ldap_port}/ ldaps://127.0.0.1:{ldaps_port}/");
        let mut started = Slapd {
            child: None,
            dir,
            conf,
            urls,
            ldap_port,
            ldaps_port,
        };
        started.run(&slapd)?;
        Ok(started)
    }

    fn run(&mut self, slapd: &Path) -> Result<(), String> {
        let log =
            std::fs::File::create(self.dir.path().join("slapd.log")).map_err(|e| e.to_string())?;
        // `-d 0`: in the foreground (a child of the test), logging nothing.
        let child = Command::new(slapd)
            .arg("-f")
            .arg(&self.conf)
            .arg("-h")
            .arg(&self.urls)
            .arg("-d")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|e| format!("slapd: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.ldaps_port)).is_err()
            || std::net::TcpStream::connect(("127.0.0.1", self.ldap_port)).is_err()
        {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("slapd ended ({status}): {}", self.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("slapd not listening: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// What slapd wrote.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd.log")).unwrap_or_default()
    }

    /// `ldaps://localhost:PORT`.
    pub fn ldaps_url(&self) -> String {
        format!("ldaps://localhost:{}", self.ldaps_port)
    }

    /// `ldap://localhost:PORT` (for StartTLS, or plain to loopback).
    pub fn ldap_url(&self) -> String {
        format!("ldap://localhost:{}", self.ldap_port)
    }

    /// Stops it (the directory is down) until [`Slapd::start_again`].
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn start_again(&mut self) -> Result<(), String> {
        let slapd = binary("slapd").ok_or("slapd fehlt")?;
        self.run(&slapd)
    }

    /// A manager's connection over StartTLS without checking the
    /// certificate (the test changing its own directory).
    pub async fn manager(&self) -> Result<ldap3::Ldap, String> {
        let settings = ldap3::LdapConnSettings::new().set_conn_timeout(Duration::from_secs(5));
        let (conn, mut ldap) = ldap3::LdapConnAsync::with_settings(
            settings,
            &format!("ldap://127.0.0.1:{}", self.ldap_port),
        )
        .await
        .map_err(|e| e.to_string())?;
        ldap3::drive!(conn);
        ldap.simple_bind(ADMIN_DN, ADMIN_PASSWORD)
            .await
            .and_then(ldap3::LdapResult::success)
            .map_err(|e| e.to_string())?;
        Ok(ldap)
    }

    /// Takes `member` (a DN) out of group `cn`.
    pub async fn remove_member(&self, cn: &str, member: &str) -> Result<(), String> {
        let mut ldap = self.manager().await?;
        let values = std::collections::HashSet::from([member]);
        ldap.modify(&group_dn(cn), vec![ldap3::Mod::Delete("member", values)])
            .await
            .and_then(ldap3::LdapResult::success)
            .map_err(|e| e.to_string())?;
        let _ = ldap.unbind().await;
        Ok(())
    }

    /// Puts `member` (a DN) into group `cn`.
    pub async fn add_member(&self, cn: &str, member: &str) -> Result<(), String> {
        let mut ldap = self.manager().await?;
        let values = std::collections::HashSet::from([member]);
        ldap.modify(&group_dn(cn), vec![ldap3::Mod::Add("member", values)])
            .await
            .and_then(ldap3::LdapResult::success)
            .map_err(|e| e.to_string())?;
        let _ = ldap.unbind().await;
        Ok(())
    }

    /// Removes the person `uid` from the directory.
    pub async fn remove_person(&self, uid: &str) -> Result<(), String> {
        let mut ldap = self.manager().await?;
        ldap.delete(&person_dn(uid))
            .await
            .and_then(ldap3::LdapResult::success)
            .map_err(|e| e.to_string())?;
        let _ = ldap.unbind().await;
        Ok(())
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A directory for a test, or `None` (with a message) where `slapd` is
/// missing outside CI.
pub fn for_test(cert_pem: &str, key_pem: &str, ldif: &str) -> Option<Slapd> {
    match Slapd::start(cert_pem, key_pem, ldif) {
        Ok(slapd) => Some(slapd),
        Err(why) if !required() => {
            eprintln!("HINWEIS: kein eigenes OpenLDAP ({why}); Test übersprungen.");
            None
        }
        Err(why) => panic!("OpenLDAP startet nicht (in CI ein Fehler): {why}"),
    }
}

/// The `[directory]` settings for `slapd` at `url`, trusting `ca_file`,
/// with the group table `groups` (group cn, role, organisation, precedence).
pub fn settings(
    url: &str,
    starttls: bool,
    ca_file: Option<PathBuf>,
    groups: &[(&str, &str, Option<&str>, i64)],
) -> crate::Settings {
    crate::Settings {
        url: url.to_string(),
        starttls,
        ca_file,
        bind_dn: SERVICE_DN.into(),
        bind_password: Some(crate::Secret::new(SERVICE_PASSWORD.into())),
        bind_password_file: None,
        base_dn: format!("ou=personen,{BASE}"),
        user_filter: "(&(objectClass=inetOrgPerson)(uid={login}))".into(),
        group_base_dn: Some(format!("ou=gruppen,{BASE}")),
        login_attribute: "uid".into(),
        display_name_attribute: "displayName".into(),
        pap_code_attribute: Some("employeeNumber".into()),
        member_attribute: "member".into(),
        nested_depth: 5,
        timeout_seconds: 3,
        sync_interval_seconds: 900,
        max_deactivate_percent: 10,
        groups: groups
            .iter()
            .map(|(cn, role, org, precedence)| crate::GroupSetting {
                group: group_dn(cn),
                role: (*role).to_string(),
                organisation: org.map(str::to_string),
                precedence: *precedence,
            })
            .collect(),
    }
}
