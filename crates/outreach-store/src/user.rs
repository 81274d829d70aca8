//! User accounts: role, home organisation, password hash and lockout state.

use crate::{StoreError, Tx, args};
use outreach_core::access::{Actor, Home, Role};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub job_center_id: Option<i64>,
    pub service_center_id: Option<i64>,
    pub pap_code: Option<String>,
    pub password_hash: String,
    pub active: bool,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    /// The system administration reset the password: a new one must be
    /// chosen before anything else.
    pub must_change_password: bool,
    /// `local`, `ldap` (or `oidc`, reserved): see [`Source`].
    pub identity_source: String,
    /// The directory's name for the person (the normalised DN).
    pub external_id: Option<String>,
    /// Deactivated by the directory sync, not by the administration.
    pub deactivated_by_sync: bool,
}

/// Where an account's identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Its own password (and second factor) in this database.
    Local,
    /// The organisation's LDAP / Active Directory.
    Ldap,
    /// An OpenID Connect provider (reserved for the next step).
    Oidc,
}

impl Source {
    pub fn code(self) -> &'static str {
        match self {
            Source::Local => "local",
            Source::Ldap => "ldap",
            Source::Oidc => "oidc",
        }
    }

    pub fn parse(code: &str) -> Option<Source> {
        [Source::Local, Source::Ldap, Source::Oidc]
            .into_iter()
            .find(|s| s.code() == code)
    }
}

impl User {
    pub fn source(&self) -> Source {
        Source::parse(&self.identity_source).unwrap_or(Source::Local)
    }

    /// Whether the account comes from a directory (no password of its own).
    pub fn from_directory(&self) -> bool {
        self.source() != Source::Local
    }

    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }

    pub fn home(&self) -> Home {
        match (self.job_center_id, self.service_center_id) {
            (Some(jc), _) => Home::JobCenter(jc),
            (None, Some(sc)) => Home::ServiceCenter(sc),
            (None, None) => Home::Global,
        }
    }

    /// The user as an authorisation subject; `None` for an unknown role code.
    pub fn actor(&self) -> Option<Actor> {
        Some(Actor {
            user_id: self.id,
            username: self.username.clone(),
            role: self.role()?,
            home: self.home(),
            pap_code: self.pap_code.clone(),
        })
    }
}

/// A user as listed on the admin page, with the organisation's name.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserListing {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub organisation: Option<String>,
    pub pap_code: Option<String>,
    pub active: bool,
    pub locked_until: Option<i64>,
    pub identity_source: String,
    /// A local account with a second factor set up.
    pub second_factor: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub home: Home,
    pub pap_code: Option<String>,
    pub password_hash: String,
}

// The columns of [`User`].
macro_rules! user_select {
    () => {
        "SELECT id, username, display_name, role, job_center_id, service_center_id, pap_code, password_hash, active, failed_logins, locked_until, must_change_password, identity_source, external_id, deactivated_by_sync FROM users"
    };
}

pub async fn create(tx: &mut Tx, user: &NewUser, now: i64) -> Result<i64, StoreError> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO users (username, display_name, role, job_center_id, service_center_id, pap_code, password_hash, active, failed_logins, password_changed_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE, 0, $8, $8) RETURNING id",
            args![
                &user.username,
                &user.display_name,
                user.role.code(),
                user.home.job_center(),
                user.home.service_center(),
                user.pap_code.clone(),
                &user.password_hash,
                now
            ],
        )
        .await?;
    Ok(id)
}

pub async fn by_username(tx: &mut Tx, username: &str) -> Result<Option<User>, StoreError> {
    tx.fetch_optional(
        concat!(user_select!(), " WHERE username = $1"),
        args![username],
    )
    .await
}

pub async fn by_id(tx: &mut Tx, id: i64) -> Result<Option<User>, StoreError> {
    tx.fetch_optional(concat!(user_select!(), " WHERE id = $1"), args![id])
        .await
}

pub async fn list(tx: &mut Tx) -> Result<Vec<UserListing>, StoreError> {
    tx.fetch_all(
        "SELECT u.id, u.username, u.display_name, u.role,
                COALESCE(j.name, s.name) AS organisation, u.pap_code, u.active, u.locked_until,
                u.identity_source, (u.totp_enrolled_at IS NOT NULL) AS second_factor
         FROM users u
         LEFT JOIN job_centers j ON j.id = u.job_center_id
         LEFT JOIN service_centers s ON s.id = u.service_center_id
         ORDER BY u.username",
        vec![],
    )
    .await
}

/// One password check an account allowed: its place among the checks of
/// the current window, and when that window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct LoginCheck {
    pub place: i64,
    pub window_ends: i64,
}

/// Takes one of the account's password checks, atomically: at most `max`
/// checks against the real hash per window of `window_seconds`, the window
/// starting with its first check. `None` when the account has used them
/// all (it is locked until the window ends). Concurrent calls are ordered
/// by the row's lock (PostgreSQL re-evaluates the condition on the updated
/// row) or by the one writer (SQLite), so no two get the same place and
/// none gets a place after the last.
pub async fn take_login_check(
    tx: &mut Tx,
    id: i64,
    now: i64,
    window_seconds: i64,
    max: i64,
) -> Result<Option<LoginCheck>, StoreError> {
    let check: Option<LoginCheck> = tx
        .fetch_optional(
            "UPDATE users SET
                 login_checks = CASE WHEN COALESCE(login_window_ends, 0) <= $2 THEN 1
                                     ELSE login_checks + 1 END,
                 login_window_ends = CASE WHEN COALESCE(login_window_ends, 0) <= $2 THEN $2 + $3
                                          ELSE login_window_ends END
             WHERE id = $1 AND (COALESCE(login_window_ends, 0) <= $2 OR login_checks < $4)
             RETURNING login_checks AS place, login_window_ends AS window_ends",
            args![id, now, window_seconds, max],
        )
        .await?;
    if let Some(check) = check
        && check.place >= max
    {
        // Shown as locked in the administration's user list.
        tx.execute(
            "UPDATE users SET locked_until = $2, failed_logins = $3 WHERE id = $1",
            args![id, check.window_ends, check.place],
        )
        .await?;
    }
    Ok(check)
}

/// After a successful check: the account's window starts afresh, unless
/// other checks were taken after this one (guesses sent alongside the right
/// password keep their lock).
pub async fn clear_login_checks(tx: &mut Tx, id: i64, check: LoginCheck) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET login_checks = 0, login_window_ends = NULL, failed_logins = 0, locked_until = NULL
         WHERE id = $1 AND login_checks = $2 AND login_window_ends = $3",
        args![id, check.place, check.window_ends],
    )
    .await?;
    Ok(())
}

pub async fn set_password(
    tx: &mut Tx,
    id: i64,
    password_hash: &str,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET password_hash = $2, password_changed_at = $3, failed_logins = 0, locked_until = NULL,
             login_checks = 0, login_window_ends = NULL, must_change_password = FALSE WHERE id = $1",
        args![id, password_hash, now],
    )
    .await?;
    Ok(())
}

/// The system administration's reset: a generated password, to be changed
/// at the next login; when and by whom is kept for the job center's DPO.
pub async fn reset_password(
    tx: &mut Tx,
    id: i64,
    password_hash: &str,
    by: &str,
    now: i64,
) -> Result<(), StoreError> {
    set_password(tx, id, password_hash, now).await?;
    tx.execute(
        "UPDATE users SET must_change_password = TRUE, password_reset_at = $2, password_reset_by = $3
         WHERE id = $1",
        args![id, now, by],
    )
    .await?;
    Ok(())
}

/// A reset of a DPO's or case manager's password, for the job center's DPO.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Reset {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password_reset_at: i64,
    pub password_reset_by: String,
}

/// The job center's DPO and case manager accounts whose password the
/// system administration reset since `since`, newest first.
pub async fn recent_resets(
    tx: &mut Tx,
    job_center_id: i64,
    since: i64,
) -> Result<Vec<Reset>, StoreError> {
    tx.fetch_all(
        "SELECT username, display_name, role, password_reset_at, COALESCE(password_reset_by, '') AS password_reset_by
         FROM users
         WHERE job_center_id = $1 AND role IN ('dpo', 'case_manager') AND password_reset_at >= $2
         ORDER BY password_reset_at DESC",
        args![job_center_id, since],
    )
    .await
}

pub async fn set_active(tx: &mut Tx, id: i64, active: bool) -> Result<bool, StoreError> {
    let changed = tx
        .execute(
            "UPDATE users SET active = $2 WHERE id = $1",
            args![id, active],
        )
        .await?;
    Ok(changed == 1)
}

/// A person as the directory describes them, with the role and
/// organisation their groups give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryAccount {
    pub external_id: String,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub home: Home,
    pub pap_code: Option<String>,
}

/// The account of a directory person, by their directory name.
pub async fn by_external_id(
    tx: &mut Tx,
    source: Source,
    external_id: &str,
) -> Result<Option<User>, StoreError> {
    tx.fetch_optional(
        concat!(
            user_select!(),
            " WHERE identity_source = $1 AND external_id = $2"
        ),
        args![source.code(), external_id],
    )
    .await
}

/// Creates the account of a directory person at their first sign-in: no
/// password of its own (the empty hash matches none).
pub async fn provision(
    tx: &mut Tx,
    source: Source,
    account: &DirectoryAccount,
    now: i64,
) -> Result<i64, StoreError> {
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO users (username, display_name, role, job_center_id, service_center_id, pap_code,
                 password_hash, active, failed_logins, password_changed_at, created_at,
                 identity_source, external_id)
             VALUES ($1, $2, $3, $4, $5, $6, '', TRUE, 0, $7, $7, $8, $9) RETURNING id",
            args![
                &account.username,
                &account.display_name,
                account.role.code(),
                account.home.job_center(),
                account.home.service_center(),
                account.pap_code.clone(),
                now,
                source.code(),
                &account.external_id
            ],
        )
        .await?;
    Ok(id)
}

/// Writes what the directory now says of account `id` (login, name, role,
/// organisation, pAp-Kennung); an account the sync had deactivated is
/// active again, one the administration deactivated stays so.
pub async fn update_from_directory(
    tx: &mut Tx,
    id: i64,
    account: &DirectoryAccount,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET username = $2, display_name = $3, role = $4, job_center_id = $5,
             service_center_id = $6, pap_code = $7,
             active = CASE WHEN deactivated_by_sync THEN TRUE ELSE active END,
             deactivated_by_sync = FALSE
         WHERE id = $1",
        args![
            id,
            &account.username,
            &account.display_name,
            account.role.code(),
            account.home.job_center(),
            account.home.service_center(),
            account.pap_code.clone()
        ],
    )
    .await?;
    Ok(())
}

/// Deactivates a directory account the directory no longer gives a role.
pub async fn deactivate_by_sync(tx: &mut Tx, id: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET active = FALSE, deactivated_by_sync = TRUE WHERE id = $1 AND active",
        args![id],
    )
    .await?;
    Ok(())
}

/// Every account of `source`, active or not.
pub async fn managed_by(tx: &mut Tx, source: Source) -> Result<Vec<User>, StoreError> {
    tx.fetch_all(
        concat!(user_select!(), " WHERE identity_source = $1 ORDER BY id"),
        args![source.code()],
    )
    .await
}

/// Claims the periodic directory sync for this server when it is due: the
/// next run moves `interval` seconds on. `false` when another server
/// claimed it or it is not due.
pub async fn claim_directory_sync(
    tx: &mut Tx,
    now: i64,
    interval: i64,
) -> Result<bool, StoreError> {
    let claimed = tx
        .execute(
            "UPDATE directory_sync SET next_run_at = $1 + $2, last_run_at = $1
             WHERE id = 1 AND next_run_at <= $1",
            args![now, interval],
        )
        .await?;
    Ok(claimed == 1)
}

/// Keeps the last sync's report (German, for the administration).
pub async fn record_directory_sync(tx: &mut Tx, report: &str, now: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE directory_sync SET last_report = $1, last_run_at = $2 WHERE id = 1",
        args![report, now],
    )
    .await?;
    Ok(())
}

/// When the sync last ran, and its report.
pub async fn last_directory_sync(tx: &mut Tx) -> Result<(Option<i64>, String), StoreError> {
    tx.fetch_one(
        "SELECT last_run_at, last_report FROM directory_sync WHERE id = 1",
        vec![],
    )
    .await
}
