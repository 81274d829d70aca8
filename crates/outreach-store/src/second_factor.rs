//! The second factor of local accounts (migration 0032): the TOTP secret
//! and the last step accepted, the recovery codes (hashes), and the
//! sign-in challenges between the password and the code.

use crate::{StoreError, Tx, args};

/// A user's second factor as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Enrolment {
    pub totp_secret: Option<String>,
    pub totp_enrolled_at: Option<i64>,
    pub totp_last_step: i64,
}

impl Enrolment {
    /// The secret, once confirmed by a first code.
    pub fn secret(&self) -> Option<&str> {
        self.totp_secret
            .as_deref()
            .filter(|_| self.totp_enrolled_at.is_some())
    }
}

pub async fn of(tx: &mut Tx, user_id: i64) -> Result<Option<Enrolment>, StoreError> {
    tx.fetch_optional(
        "SELECT totp_secret, totp_enrolled_at, totp_last_step FROM users WHERE id = $1",
        args![user_id],
    )
    .await
}

/// Stores a confirmed secret, its first step as used, and the recovery
/// codes' hashes (replacing any earlier ones).
pub async fn enrol(
    tx: &mut Tx,
    user_id: i64,
    secret: &str,
    step: i64,
    recovery_hashes: &[String],
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET totp_secret = $2, totp_enrolled_at = $3, totp_last_step = $4 WHERE id = $1",
        args![user_id, secret, now, step],
    )
    .await?;
    tx.execute(
        "DELETE FROM recovery_codes WHERE user_id = $1",
        args![user_id],
    )
    .await?;
    for hash in recovery_hashes {
        tx.execute(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)",
            args![user_id, hash],
        )
        .await?;
    }
    Ok(())
}

/// Takes `step` as the account's last accepted one, if it is later than
/// the stored one: atomically, so that one code sent twice at once counts
/// once. `false` when the step was used already.
pub async fn accept_step(tx: &mut Tx, user_id: i64, step: i64) -> Result<bool, StoreError> {
    let changed = tx
        .execute(
            "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
            args![user_id, step],
        )
        .await?;
    Ok(changed == 1)
}

/// Uses the recovery code with `hash`, once. `false` for an unknown or used
/// code.
pub async fn use_recovery_code(
    tx: &mut Tx,
    user_id: i64,
    hash: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let changed = tx
        .execute(
            "UPDATE recovery_codes SET used_at = $3
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            args![user_id, hash, now],
        )
        .await?;
    Ok(changed == 1)
}

/// Recovery codes not yet used.
pub async fn recovery_codes_left(tx: &mut Tx, user_id: i64) -> Result<i64, StoreError> {
    let (n,): (i64,) = tx
        .fetch_one(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
            args![user_id],
        )
        .await?;
    Ok(n)
}

/// Removes the second factor (the system administration's reset): the
/// account enrols again at its next sign-in.
pub async fn reset(tx: &mut Tx, user_id: i64) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE users SET totp_secret = NULL, totp_enrolled_at = NULL, totp_last_step = 0 WHERE id = $1",
        args![user_id],
    )
    .await?;
    tx.execute(
        "DELETE FROM recovery_codes WHERE user_id = $1",
        args![user_id],
    )
    .await?;
    Ok(())
}

/// What a sign-in waits for after the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The code of the enrolled app (or a recovery code).
    Code,
    /// The first code of a new secret (enrolment).
    Enrol,
}

impl Purpose {
    pub fn code(self) -> &'static str {
        match self {
            Purpose::Code => "code",
            Purpose::Enrol => "enrol",
        }
    }
}

/// A sign-in between the password and the code.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Challenge {
    pub user_id: i64,
    pub purpose: String,
    /// The secret offered for enrolment.
    pub secret: Option<String>,
    pub client: String,
    pub expires_at: i64,
}

impl Challenge {
    pub fn purpose(&self) -> Purpose {
        if self.purpose == "enrol" {
            Purpose::Enrol
        } else {
            Purpose::Code
        }
    }
}

/// A new challenge; the token (for the browser's cookie) is returned, only
/// its hash is stored.
pub async fn create_challenge(
    tx: &mut Tx,
    user_id: i64,
    purpose: Purpose,
    secret: Option<&str>,
    client: &str,
    now: i64,
    lifetime: i64,
) -> Result<String, StoreError> {
    let token = crate::random_token(32);
    tx.execute(
        "INSERT INTO login_challenges (token_hash, user_id, purpose, secret, client, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            crate::session::hash_token(&token),
            user_id,
            purpose.code(),
            secret.map(str::to_string),
            client,
            now,
            now + lifetime
        ],
    )
    .await?;
    Ok(token)
}

/// The challenge of `token`, if it hasn't expired at `now`.
pub async fn challenge(
    tx: &mut Tx,
    token: &str,
    now: i64,
) -> Result<Option<Challenge>, StoreError> {
    tx.fetch_optional(
        "SELECT user_id, purpose, secret, client, expires_at FROM login_challenges
         WHERE token_hash = $1 AND expires_at > $2",
        args![crate::session::hash_token(token), now],
    )
    .await
}

/// Ends the challenge of `token` (signed in, or given up).
pub async fn end_challenge(tx: &mut Tx, token: &str) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM login_challenges WHERE token_hash = $1",
        args![crate::session::hash_token(token)],
    )
    .await?;
    Ok(())
}

/// Removes challenges expired before `now`.
pub async fn remove_expired_challenges(tx: &mut Tx, now: i64) -> Result<u64, StoreError> {
    tx.execute(
        "DELETE FROM login_challenges WHERE expires_at <= $1",
        args![now],
    )
    .await
}
