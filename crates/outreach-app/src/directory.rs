//! Sign-on through the organisation's directory: the account a directory
//! person gets from their groups, and the periodic sync that deactivates
//! those who left and takes over changed roles — stopping instead when it
//! would deactivate more than the configured share (a wrong mapping or
//! search base would otherwise lock everyone out).

use crate::Result;
use outreach_core::access::{Home, OrgKind, Role};
use outreach_core::audit::AuditAction;
use outreach_core::directory::{self as rules, GroupRule, normalize_dn};
use outreach_directory::{Directory, Person, Secret, Settings};
use outreach_store::user::{self, DirectoryAccount, User};
use outreach_store::{Db, audit, org, session};
use std::collections::{BTreeMap, HashMap};

/// How the audit log names the sync, as user and as client.
pub const SYNC: &str = "Verzeichnisabgleich";

/// A configured directory with its group table, the organisations' codes
/// resolved.
pub struct SignOn {
    pub directory: Directory,
    rules: Vec<GroupRule>,
    homes: HashMap<String, Home>,
    /// Seconds between two syncs.
    pub sync_interval: i64,
    max_deactivate_percent: u32,
}

impl std::fmt::Debug for SignOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SignOn({:?}, {} Gruppen)",
            self.directory,
            self.rules.len()
        )
    }
}

impl SignOn {
    /// The directory of `settings` (`password`, from the environment, before
    /// the file's), its group table checked and each organisation code found
    /// in `db`. German messages for what is wrong.
    pub async fn new(
        db: &Db,
        settings: &Settings,
        password: Option<Secret>,
    ) -> std::result::Result<SignOn, String> {
        let directory = Directory::new(settings, password)?;
        let rules = settings
            .rules()
            .map_err(|e| format!("[directory] groups: {e}"))?;
        let mut homes = HashMap::new();
        let mut tx = db.begin_read().await.map_err(|e| e.to_string())?;
        for rule in &rules {
            let home = match (rule.role.org_kind(), rule.organisation.as_deref()) {
                (OrgKind::Global, _) | (OrgKind::JobCenterOrGlobal, None) => Home::Global,
                (OrgKind::ServiceCenter, Some(code)) => {
                    match org::service_center_by_code(&mut tx, code)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        Some(sc) => Home::ServiceCenter(sc.id),
                        None => {
                            return Err(format!(
                                "[directory] groups: Gruppe {}: kein Service-Center mit dem Kürzel „{code}“.",
                                rule.group
                            ));
                        }
                    }
                }
                (OrgKind::JobCenter | OrgKind::JobCenterOrGlobal, Some(code)) => {
                    match org::job_center_by_code(&mut tx, code)
                        .await
                        .map_err(|e| e.to_string())?
                    {
                        Some(jc) => Home::JobCenter(jc.id),
                        None => {
                            return Err(format!(
                                "[directory] groups: Gruppe {}: kein Jobcenter mit dem Kürzel „{code}“.",
                                rule.group
                            ));
                        }
                    }
                }
                (_, None) => {
                    return Err(format!(
                        "[directory] groups: Gruppe {}: die Rolle {} braucht eine Organisation (organisation = \"Kürzel\").",
                        rule.group,
                        rule.role.code()
                    ));
                }
            };
            homes.insert(rule.group.clone(), home);
        }
        Ok(SignOn {
            directory,
            rules,
            homes,
            sync_interval: i64::try_from(settings.sync_interval_seconds.max(1)).unwrap_or(i64::MAX),
            max_deactivate_percent: settings.max_deactivate_percent,
        })
    }

    /// The account `person` gets: the role and organisation of their mapped
    /// group with the highest precedence; `None` when none of their groups
    /// is mapped.
    pub fn account_of(&self, person: &Person) -> Option<DirectoryAccount> {
        let rule = rules::choose(&self.rules, &person.groups)?;
        let home = *self.homes.get(&rule.group)?;
        Some(DirectoryAccount {
            external_id: normalize_dn(&person.dn),
            username: person.login.clone(),
            display_name: if person.display_name.trim().is_empty() {
                person.login.clone()
            } else {
                person.display_name.clone()
            },
            role: rule.role,
            home,
            pap_code: person
                .pap_code
                .clone()
                .filter(|_| rule.role == Role::CaseManager),
        })
    }
}

/// What the directory says that differs from the stored account, in words
/// for the audit log; empty when nothing changed.
fn changes(old: &User, new: &DirectoryAccount) -> Vec<String> {
    let mut said = Vec::new();
    if old.role != new.role.code() {
        said.push(format!("Rolle {} → {}", old.role, new.role.code()));
    }
    if old.home() != new.home {
        said.push("Organisation geändert".to_string());
    }
    if old.username != new.username {
        said.push(format!("Anmeldename {} → {}", old.username, new.username));
    }
    if old.display_name != new.display_name {
        said.push("Name geändert".to_string());
    }
    if old.pap_code != new.pap_code {
        said.push("pAp-Kennung geändert".to_string());
    }
    said
}

/// Whether the account's rights change (and its sessions should end).
fn rights_change(old: &User, new: &DirectoryAccount) -> bool {
    old.role != new.role.code() || old.home() != new.home || old.pap_code != new.pap_code
}

/// The account of a directory person who just signed in: created at the
/// first sign-in, otherwise brought up to what the directory says (role,
/// organisation, name), each step audited. `None` when the administration
/// deactivated the account (the directory can't undo that) or another
/// account has the login.
pub async fn provision(
    db: &Db,
    account: &DirectoryAccount,
    client: &str,
    now: i64,
) -> Result<Option<User>> {
    let mut tx = db.begin().await?;
    let by = |action| {
        audit::AuditEvent::anonymous(&account.username, action, client)
            .job_center(account.home.job_center())
    };
    let id = match user::by_external_id(&mut tx, user::Source::Ldap, &account.external_id).await? {
        None => {
            let id = match user::provision(&mut tx, user::Source::Ldap, account, now).await {
                // The login belongs to another account already (a person
                // renamed in the directory, or someone who left): refused
                // rather than merged.
                Err(outreach_store::StoreError::UniqueViolation) => return Ok(None),
                other => other?,
            };
            let event = by(AuditAction::UserCreate)
                .record("user", id)
                .fields(&format!("Rolle {}", account.role.code()))
                .purpose("aus dem Verzeichnis bei der ersten Anmeldung angelegt");
            audit::append(&mut tx, &event, now).await?;
            id
        }
        Some(old) if !old.active && !old.deactivated_by_sync => {
            tx.commit().await?;
            return Ok(None);
        }
        Some(old) => {
            let said = changes(&old, account);
            if rights_change(&old, account) {
                session::delete_for_user(&mut tx, old.id, None).await?;
            }
            user::update_from_directory(&mut tx, old.id, account).await?;
            if !said.is_empty() {
                let event = by(AuditAction::UserChange)
                    .record("user", old.id)
                    .fields(&said.join("; "))
                    .purpose("bei der Anmeldung aus dem Verzeichnis übernommen");
                audit::append(&mut tx, &event, now).await?;
            }
            if !old.active {
                let event = by(AuditAction::UserActivate)
                    .record("user", old.id)
                    .purpose("wieder im Verzeichnis mit zugeordneter Gruppe");
                audit::append(&mut tx, &event, now).await?;
            }
            old.id
        }
    };
    let user = user::by_id(&mut tx, id).await?;
    tx.commit().await?;
    Ok(user)
}

/// What a sync found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Active directory accounts before the sync.
    pub active: usize,
    /// Those who left the directory or every mapped group (user names).
    pub deactivated: Vec<String>,
    /// Those whose role, organisation or name changed (user names).
    pub changed: Vec<String>,
    /// Nothing was changed because of this (German).
    pub stopped: Option<String>,
    /// Only reported, nothing changed.
    pub dry_run: bool,
}

impl SyncReport {
    /// The report in one German sentence or two.
    pub fn summary(&self) -> String {
        let names = |list: &[String]| {
            if list.is_empty() {
                String::new()
            } else {
                format!(" ({})", list.join(", "))
            }
        };
        let verb = if self.dry_run {
            "würden deaktiviert"
        } else {
            "deaktiviert"
        };
        let changed = if self.dry_run {
            "würden geändert"
        } else {
            "geändert"
        };
        let mut text = format!(
            "{} aktive Verzeichniskonten; {} {verb}{}; {} {changed}{}.",
            self.active,
            self.deactivated.len(),
            names(&self.deactivated),
            self.changed.len(),
            names(&self.changed)
        );
        if let Some(why) = &self.stopped {
            text = format!("Abgleich angehalten, nichts geändert: {why} {text}");
        }
        text
    }
}

/// Compares every directory account with the directory: deactivates (and
/// signs out at once) those the directory no longer gives a role, and takes
/// over changed roles and names. When the deactivations would exceed the
/// configured share of the active accounts, nothing changes and the report
/// says why. `dry_run` only reports. Audited (each change, and the sync).
/// An unreachable directory changes nothing (`Err`).
pub async fn sync(
    db: &Db,
    sign_on: &SignOn,
    dry_run: bool,
    now: i64,
) -> std::result::Result<SyncReport, String> {
    let people = sign_on
        .directory
        .everyone()
        .await
        .map_err(|e| e.to_string())?;
    let by_dn: BTreeMap<String, &Person> =
        people.iter().map(|p| (normalize_dn(&p.dn), p)).collect();
    let run = async {
        let mut tx = db.begin().await?;
        let accounts = user::managed_by(&mut tx, user::Source::Ldap).await?;
        let mut report = SyncReport {
            dry_run,
            ..SyncReport::default()
        };
        let mut leaving = Vec::new();
        let mut changing = Vec::new();
        for old in accounts.iter().filter(|u| u.active) {
            report.active += 1;
            let now_says = old
                .external_id
                .as_ref()
                .and_then(|dn| by_dn.get(dn))
                .and_then(|person| sign_on.account_of(person));
            match now_says {
                None => leaving.push(old),
                Some(account) if !changes(old, &account).is_empty() => {
                    changing.push((old, account))
                }
                Some(_) => {}
            }
        }
        report.deactivated = leaving.iter().map(|u| u.username.clone()).collect();
        report.changed = changing.iter().map(|(u, _)| u.username.clone()).collect();
        if !rules::within_share(leaving.len(), report.active, sign_on.max_deactivate_percent) {
            report.stopped = Some(format!(
                "{} von {} Konten wären zu deaktivieren, mehr als die erlaubten {} %. Prüfen Sie die Gruppenzuordnung und die Suchbasis; der Abgleich mit --dry-run zeigt, wen es träfe.",
                leaving.len(),
                report.active,
                sign_on.max_deactivate_percent
            ));
        }
        if !dry_run && report.stopped.is_none() {
            let sync = |action| audit::AuditEvent::anonymous(SYNC, action, SYNC);
            for old in &leaving {
                user::deactivate_by_sync(&mut tx, old.id).await?;
                session::delete_for_user(&mut tx, old.id, None).await?;
                let event = sync(AuditAction::UserDeactivate)
                    .record("user", old.id)
                    .purpose("nicht mehr im Verzeichnis oder in keiner zugeordneten Gruppe")
                    .job_center(old.job_center_id);
                audit::append(&mut tx, &event, now).await?;
            }
            for (old, account) in &changing {
                if rights_change(old, account) {
                    session::delete_for_user(&mut tx, old.id, None).await?;
                }
                user::update_from_directory(&mut tx, old.id, account).await?;
                let event = sync(AuditAction::UserChange)
                    .record("user", old.id)
                    .fields(&changes(old, account).join("; "))
                    .purpose("aus dem Verzeichnis übernommen")
                    .job_center(account.home.job_center());
                audit::append(&mut tx, &event, now).await?;
            }
        }
        let summary = report.summary();
        if !dry_run {
            user::record_directory_sync(&mut tx, &summary, now).await?;
        }
        let event =
            audit::AuditEvent::anonymous(SYNC, AuditAction::DirectorySync, SYNC).purpose(&summary);
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
        Ok::<_, crate::Error>(report)
    };
    run.await.map_err(|e| e.to_string())
}

/// Runs the sync when it is due and no other server claimed it; `None`
/// when it was not this server's turn.
pub async fn sync_if_due(
    db: &Db,
    sign_on: &SignOn,
    now: i64,
) -> std::result::Result<Option<SyncReport>, String> {
    let mut tx = db.begin().await.map_err(|e| e.to_string())?;
    let claimed = user::claim_directory_sync(&mut tx, now, sign_on.sync_interval)
        .await
        .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(|e| e.to_string())?;
    if !claimed {
        return Ok(None);
    }
    match sync(db, sign_on, false, now).await {
        Ok(report) => Ok(Some(report)),
        Err(why) => {
            // Recorded for the administration; nothing was changed.
            let text = format!("Abgleich nicht möglich, nichts geändert: {why}");
            if let Ok(mut tx) = db.begin().await {
                let _ = user::record_directory_sync(&mut tx, &text, now).await;
                let _ = tx.commit().await;
            }
            Err(text)
        }
    }
}
