//! Access tokens of the job center's systems (the JSON API): created,
//! renewed and revoked by its administration, each change audited; checked
//! on every API request.

use crate::{Caller, Error, Result};
use outreach_core::access::Actor;
use outreach_core::api_token::{ApiScope, VALID_DAYS};
use outreach_core::audit::AuditAction;
use outreach_core::date::format_de_datetime;
use outreach_store::Db;
pub use outreach_store::api_token::Presented;
use outreach_store::api_token::{self, ApiToken};
use outreach_store::audit::{self, AuditEvent};

fn job_center_of(actor: &Actor) -> Result<i64> {
    actor.home.job_center().ok_or(Error::Forbidden)
}

/// What the token presented with an API request is (its last use is
/// recorded).
pub async fn authenticate(db: &Db, token: &str, now: i64) -> Result<Presented> {
    let mut tx = db.begin().await?;
    let found = api_token::authenticate(&mut tx, token, now).await?;
    tx.commit().await?;
    Ok(found)
}

/// The tokens of the actor's job center.
pub async fn list(db: &Db, actor: &Actor) -> Result<Vec<ApiToken>> {
    let jc = job_center_of(actor)?;
    let mut tx = db.read().await?;
    let tokens = api_token::list(&mut tx, jc).await?;
    tx.commit().await?;
    Ok(tokens)
}

/// A new token of the caller's job center, valid for [`VALID_DAYS`];
/// audited. Returns the token, shown once and not kept.
pub async fn create(
    db: &Db,
    by: Caller<'_>,
    name: &str,
    scopes: &[ApiScope],
    now: i64,
) -> Result<String> {
    let jc = job_center_of(by.actor)?;
    let mut tx = db.begin().await?;
    let (id, token) = api_token::create(&mut tx, jc, name, scopes, by.actor.user_id, now).await?;
    let labels: Vec<&str> = scopes.iter().map(|s| s.label()).collect();
    let e = AuditEvent::by(by.actor, AuditAction::ApiTokenChange, by.client)
        .record("api_token", id)
        .fields(&format!(
            "Zugangstoken „{name}“ angelegt: {}; gültig bis {}",
            labels.join(", "),
            format_de_datetime(now + VALID_DAYS * 86_400)
        ));
    audit::append(&mut tx, &e, now).await?;
    tx.commit().await?;
    Ok(token)
}

/// Renews a token of the caller's job center for [`VALID_DAYS`] from now;
/// audited. "Not found" for a token it doesn't have.
pub async fn renew(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<()> {
    change(db, by, id, true, now).await
}

/// Revokes a token of the caller's job center; audited.
pub async fn revoke(db: &Db, by: Caller<'_>, id: i64, now: i64) -> Result<()> {
    change(db, by, id, false, now).await
}

async fn change(db: &Db, by: Caller<'_>, id: i64, renew: bool, now: i64) -> Result<()> {
    let jc = job_center_of(by.actor)?;
    let mut tx = db.begin().await?;
    let (done, fields) = if renew {
        let until = now + VALID_DAYS * 86_400;
        (
            api_token::renew(&mut tx, jc, id, now).await?,
            format!("Zugangstoken verlängert bis {}", format_de_datetime(until)),
        )
    } else {
        (
            api_token::revoke(&mut tx, jc, id, now).await?,
            "Zugangstoken widerrufen".to_string(),
        )
    };
    if !done {
        return Err(Error::NotFound);
    }
    let e = AuditEvent::by(by.actor, AuditAction::ApiTokenChange, by.client)
        .record("api_token", id)
        .fields(&fields);
    audit::append(&mut tx, &e, now).await?;
    tx.commit().await?;
    Ok(())
}
