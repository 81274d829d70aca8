//! The system administration: job centers, service centers and accounts.
//! Every change is audited; it never reads customer data.

use crate::{Caller, Error, Result, Source};
use outreach_core::audit::AuditAction;
use outreach_store::audit;
use outreach_store::org;
pub use outreach_store::org::{JobCenter, NewJobCenter, ServiceCenter};
use outreach_store::user::{self, User};
pub use outreach_store::user::{NewUser, UserListing};
use outreach_store::{Db, StoreError, session};

/// A code or user name someone else has: nothing was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken;

/// All job centers and service centers.
pub async fn organisations(db: &Db) -> Result<(Vec<JobCenter>, Vec<ServiceCenter>)> {
    let mut tx = db.begin_read().await?;
    let job_centers = org::list_job_centers(&mut tx).await?;
    let service_centers = org::list_service_centers(&mut tx).await?;
    Ok((job_centers, service_centers))
}

/// A new job center; audited. `Err(Taken)` when its code is in use.
pub async fn create_job_center(
    db: &Db,
    by: Caller<'_>,
    new: &NewJobCenter,
    now: i64,
) -> Result<std::result::Result<i64, Taken>> {
    let mut tx = db.begin().await?;
    let id = match org::create_job_center(&mut tx, new, now).await {
        Err(StoreError::UniqueViolation) => return Ok(Err(Taken)),
        other => other?,
    };
    let event = Source::User(by)
        .event(AuditAction::OrganisationCreate)
        .record("job_center", id)
        .job_center(Some(id));
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// A new service center; audited. `Err(Taken)` when its code is in use.
pub async fn create_service_center(
    db: &Db,
    by: Caller<'_>,
    (code, name, city, phone): (&str, &str, &str, &str),
    now: i64,
) -> Result<std::result::Result<i64, Taken>> {
    let mut tx = db.begin().await?;
    let id = match org::create_service_center(&mut tx, code, name, city, phone, now).await {
        Err(StoreError::UniqueViolation) => return Ok(Err(Taken)),
        other => other?,
    };
    let event = Source::User(by)
        .event(AuditAction::OrganisationCreate)
        .record("service_center", id)
        .job_center(None);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// All accounts.
pub async fn users(db: &Db) -> Result<Vec<UserListing>> {
    let mut tx = db.begin_read().await?;
    Ok(user::list(&mut tx).await?)
}

/// A new account (its password already hashed); audited with its role.
/// `Err(Taken)` when the user name is in use.
pub async fn create_user(
    db: &Db,
    by: Source<'_>,
    new: &NewUser,
    now: i64,
) -> Result<std::result::Result<i64, Taken>> {
    let mut tx = db.begin().await?;
    let id = match user::create(&mut tx, new, now).await {
        Err(StoreError::UniqueViolation) => return Ok(Err(Taken)),
        other => other?,
    };
    let event = by
        .event(AuditAction::UserCreate)
        .record("user", id)
        .fields(&format!("Rolle {}", new.role.code()))
        .job_center(new.home.job_center());
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(id))
}

/// Deactivates an account, ending its sessions, or activates it again;
/// audited. Returns the account as it was.
pub async fn set_active(db: &Db, by: Caller<'_>, id: i64, active: bool, now: i64) -> Result<User> {
    let mut tx = db.begin().await?;
    let target = user::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    user::set_active(&mut tx, id, active).await?;
    let action = if active {
        AuditAction::UserActivate
    } else {
        session::delete_for_user(&mut tx, id, None).await?;
        AuditAction::UserDeactivate
    };
    let event = Source::User(by)
        .event(action)
        .record("user", id)
        .job_center(target.job_center_id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(target)
}

/// The account's password is the directory's: it has none here to reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryManaged;

/// Resets an account's password to `hash` (of a generated one the caller
/// shows once): its sessions end, and it must choose a new one at the next
/// sign-in; audited. Returns the account as it was; `Err(DirectoryManaged)`
/// (nothing changed) for an account of the directory.
pub async fn reset_password(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    hash: &str,
    now: i64,
) -> Result<std::result::Result<User, DirectoryManaged>> {
    let by_name = by.actor.username.clone();
    reset_local(db, by, id, AuditAction::PasswordReset, now, async |tx| {
        user::reset_password(tx, id, hash, &by_name, now).await
    })
    .await
}

/// A reset of local account `id` by the system administration (`reset`):
/// its sessions end; audited as `action`. `Err(DirectoryManaged)`, with
/// nothing changed, for an account of the directory.
async fn reset_local(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    action: AuditAction,
    now: i64,
    reset: impl AsyncFnOnce(&mut outreach_store::Tx) -> std::result::Result<(), StoreError>,
) -> Result<std::result::Result<User, DirectoryManaged>> {
    let mut tx = db.begin().await?;
    let target = user::by_id(&mut tx, id).await?.ok_or(Error::NotFound)?;
    if target.from_directory() {
        return Ok(Err(DirectoryManaged));
    }
    reset(&mut tx).await?;
    session::delete_for_user(&mut tx, id, None).await?;
    let event = Source::User(by)
        .event(action)
        .record("user", id)
        .job_center(target.job_center_id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(Ok(target))
}

/// The job center with code `code`, if there is one.
pub async fn job_center_by_code(db: &Db, code: &str) -> Result<Option<JobCenter>> {
    let mut tx = db.begin_read().await?;
    let jc = org::job_center_by_code(&mut tx, code).await?;
    tx.commit().await?;
    Ok(jc)
}

/// The service center with code `code`, if there is one.
pub async fn service_center_by_code(db: &Db, code: &str) -> Result<Option<ServiceCenter>> {
    let mut tx = db.begin_read().await?;
    let sc = org::service_center_by_code(&mut tx, code).await?;
    tx.commit().await?;
    Ok(sc)
}

/// When the directory sync last ran (UTC seconds) and its report.
pub async fn last_directory_sync(db: &Db) -> Result<(Option<i64>, String)> {
    let mut tx = db.begin_read().await?;
    let last = user::last_directory_sync(&mut tx).await?;
    tx.commit().await?;
    Ok(last)
}

/// Removes an account's second factor (a lost phone): it enrols again at
/// its next sign-in; its sessions end; audited. `Err(DirectoryManaged)` for
/// an account of the directory (its sign-in is the directory's).
pub async fn reset_second_factor(
    db: &Db,
    by: Caller<'_>,
    id: i64,
    now: i64,
) -> Result<std::result::Result<User, DirectoryManaged>> {
    reset_local(
        db,
        by,
        id,
        AuditAction::SecondFactorReset,
        now,
        async |tx| outreach_store::second_factor::reset(tx, id).await,
    )
    .await
}
