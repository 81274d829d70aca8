//! Access tokens of the JSON API, one job center each. Only the token's
//! SHA-256 is stored; a revoked token opens nothing.

use crate::session::hash_token;
use crate::{StoreError, Tx, args};

/// A token as listed for the administration (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A new token for the job center; returns its id and the token, which is
/// shown once and not kept.
pub async fn create(
    tx: &mut Tx,
    job_center_id: i64,
    name: &str,
    created_by: i64,
    now: i64,
) -> Result<(i64, String), StoreError> {
    let token = format!("oat_{}", crate::random_token(24));
    let (id,): (i64,) = tx
        .fetch_one(
            "INSERT INTO api_tokens (job_center_id, name, token_hash, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            args![job_center_id, name, hash_token(&token), created_by, now],
        )
        .await?;
    Ok((id, token))
}

pub async fn list(tx: &mut Tx, job_center_id: i64) -> Result<Vec<ApiToken>, StoreError> {
    tx.fetch_all(
        "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens
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

/// The job center and name of a valid token, marking it used.
pub async fn authenticate(
    tx: &mut Tx,
    token: &str,
    now: i64,
) -> Result<Option<(i64, String)>, StoreError> {
    let found: Option<(i64, i64, String)> = tx
        .fetch_optional(
            "SELECT id, job_center_id, name FROM api_tokens
             WHERE token_hash = $1 AND revoked_at IS NULL",
            args![hash_token(token)],
        )
        .await?;
    let Some((id, job_center_id, name)) = found else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1",
        args![id, now],
    )
    .await?;
    Ok(Some((job_center_id, name)))
}
