//! Access tokens of the JSON API, one job center each. Only the token's
//! SHA-256 is stored; a revoked or expired token opens nothing, and a token
//! does only what its scopes allow.

use crate::session::hash_token;
use crate::{StoreError, Tx, args};
use outreach_core::api_token::ApiScope;

/// A token as listed for the administration (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// Space-separated scope codes (see [`ApiScope::split`]).
    pub scopes: String,
}

/// What a presented token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// A valid token: its job center, name and scopes.
    Valid {
        job_center_id: i64,
        name: String,
        scopes: Vec<ApiScope>,
    },
    /// A token that was valid until then.
    Expired { expired_at: i64 },
    /// Unknown or revoked.
    Invalid,
}

/// A new token for the job center; returns its id and the token, which is
/// shown once and not kept.
pub async fn create(
    tx: &mut Tx,
    job_center_id: i64,
    name: &str,
    scopes: &[ApiScope],
    created_by: i64,
    now: i64,
) -> Result<(i64, String), StoreError> {
    let token = format!("oat_{}", crate::random_token(24));
    let expires_at = now + outreach_core::api_token::VALID_DAYS * 86_400;
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO api_tokens (job_center_id, name, token_hash, created_by, created_at, expires_at, scopes)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            args![
                job_center_id,
                name,
                hash_token(&token),
                created_by,
                now,
                expires_at,
                ApiScope::join(scopes)
            ],
        )
        .await?;
    Ok((id, token))
}

/// Renews a token of the job center for another [`VALID_DAYS`] from now
/// (also an expired one); `false` if there is none, or it was revoked.
///
/// [`VALID_DAYS`]: outreach_core::api_token::VALID_DAYS
pub async fn renew(tx: &mut Tx, job_center_id: i64, id: i64, now: i64) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "UPDATE api_tokens SET expires_at = $3
             WHERE job_center_id = $1 AND id = $2 AND revoked_at IS NULL",
            args![
                job_center_id,
                id,
                now + outreach_core::api_token::VALID_DAYS * 86_400
            ],
        )
        .await?
        == 1)
}

pub async fn list(tx: &mut Tx, job_center_id: i64) -> Result<Vec<ApiToken>, StoreError> {
    tx.fetch_all(
        "SELECT id, name, created_at, last_used_at, revoked_at, expires_at, scopes FROM api_tokens
         WHERE job_center_id = $1 ORDER BY id DESC",
        args![job_center_id],
    )
    .await
}

/// Revokes a token of the job center; `false` if there is none to revoke.
pub async fn revoke(
    tx: &mut Tx,
    job_center_id: i64,
    id: i64,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(tx
        .execute(
            "UPDATE api_tokens SET revoked_at = $3
             WHERE job_center_id = $1 AND id = $2 AND revoked_at IS NULL",
            args![job_center_id, id, now],
        )
        .await?
        == 1)
}

/// What the token opens; a valid one is marked used.
pub async fn authenticate(tx: &mut Tx, token: &str, now: i64) -> Result<Presented, StoreError> {
    let found: Option<(i64, i64, String, Option<i64>, String)> = tx
        .fetch_optional(
            "SELECT id, job_center_id, name, expires_at, scopes FROM api_tokens
             WHERE token_hash = $1 AND revoked_at IS NULL",
            args![hash_token(token)],
        )
        .await?;
    let Some((id, job_center_id, name, expires_at, scopes)) = found else {
        return Ok(Presented::Invalid);
    };
    if let Some(expired_at) = expires_at.filter(|at| *at <= now) {
        return Ok(Presented::Expired { expired_at });
    }
    tx.execute(
        "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
        args![id, now],
    )
    .await?;
    Ok(Presented::Valid {
        job_center_id,
        name,
        scopes: ApiScope::split(&scopes),
    })
}
