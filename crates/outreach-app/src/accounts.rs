//! Signing in and out, and a user's own password: each step audited; an
//! account takes only a few password checks per window (parallel requests
//! included), and unknown, deactivated and locked accounts get the same
//! work and the same answer as a wrong password.

use crate::{Caller, Result, password};
use outreach_core::access::Actor;
use outreach_core::account::{LOCKOUT_SECONDS, MAX_FAILED_LOGINS};
use outreach_core::audit::AuditAction;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::{Db, session, user};

/// The result of a sign-in.
pub enum SignIn {
    /// A new session: the cookie's token, and the hash of the browser's
    /// earlier session that ended with it.
    Started {
        token: String,
        ended: Option<String>,
    },
    /// Refused (the reason is in the audit log, not told to the browser).
    Refused,
}

/// Signs in `username` with `password_given` from `client`; the browser's
/// earlier session (`old_session`, its hash) ends.
pub async fn sign_in(
    db: &Db,
    client: &str,
    username: &str,
    password_given: String,
    old_session: Option<String>,
    now: i64,
) -> Result<SignIn> {
    let mut tx = db.begin_read().await?;
    let found = user::by_username(&mut tx, username).await?;
    drop(tx);
    let audit_name: String = username.chars().take(64).collect();
    // An active account's password is checked against its hash only in one
    // of the few checks it allows per window, taken before the check;
    // unknown, deactivated and locked accounts get the same work (a check
    // against a dummy hash) and the same answer.
    let check = match &found {
        Some(u) if u.active => {
            let mut tx = db.begin().await?;
            let check =
                user::take_login_check(&mut tx, u.id, now, LOCKOUT_SECONDS, MAX_FAILED_LOGINS)
                    .await?;
            tx.commit().await?;
            check
        }
        _ => None,
    };
    let hash = check.and(found.as_ref().map(|u| u.password_hash.clone()));
    let verified = password::verify(password_given, hash).await;

    let mut tx = db.begin().await?;
    // Read again after the check: deactivated or changed meanwhile?
    let current = match (&found, verified) {
        (Some(u), true) => user::by_id(&mut tx, u.id).await?,
        _ => None,
    };
    let usable = current
        .filter(|u| u.active)
        .and_then(|u| u.actor().map(|a| (u, a)));
    let (Some((user, actor)), Some(check)) = (usable, check) else {
        let reason = match (&found, check) {
            (None, _) => "falsche Anmeldedaten",
            (Some(u), _) if !u.active => "Konto deaktiviert",
            (Some(_), None) => "gesperrt",
            (Some(_), Some(c)) if c.place >= MAX_FAILED_LOGINS => {
                "falsche Anmeldedaten; Konto gesperrt"
            }
            (Some(_), Some(_)) => "falsche Anmeldedaten",
        };
        let event = AuditEvent::anonymous(&audit_name, AuditAction::LoginFailure, client)
            .record("user", &audit_name)
            .purpose(reason);
        audit::append(&mut tx, &event, now).await?;
        tx.commit().await?;
        return Ok(SignIn::Refused);
    };
    user::clear_login_checks(&mut tx, user.id, check).await?;
    // A new session id at every login; the old one (if any) ends.
    if let Some(old) = &old_session {
        session::delete(&mut tx, old).await?;
    }
    let new = session::create(&mut tx, user.id, client, now).await?;
    let event = AuditEvent::by(&actor, AuditAction::LoginSuccess, client).record("user", user.id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(SignIn::Started {
        token: new.token,
        ended: old_session,
    })
}

/// Ends the caller's session (hash `session_hash`); audited.
pub async fn sign_out(db: &Db, by: Caller<'_>, session_hash: &str, now: i64) -> Result<()> {
    let mut tx = db.begin().await?;
    session::delete(&mut tx, session_hash).await?;
    let event =
        AuditEvent::by(by.actor, AuditAction::Logout, by.client).record("user", by.actor.user_id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether `given` is the actor's current password.
pub async fn is_current_password(db: &Db, actor: &Actor, given: String) -> Result<bool> {
    let mut tx = db.begin_read().await?;
    let stored = user::by_id(&mut tx, actor.user_id)
        .await?
        .map(|u| u.password_hash);
    drop(tx);
    Ok(password::verify(given, stored).await)
}

/// Sets the caller's new password (checked against the rules by the
/// caller); the caller's other sessions end, the one with `session_hash`
/// stays; audited.
pub async fn change_password(
    db: &Db,
    by: Caller<'_>,
    new: String,
    session_hash: &str,
    now: i64,
) -> Result<()> {
    let hash = password::hash(new).await?;
    let mut tx = db.begin().await?;
    user::set_password(&mut tx, by.actor.user_id, &hash, now).await?;
    session::delete_for_user(&mut tx, by.actor.user_id, Some(session_hash)).await?;
    let event = AuditEvent::by(by.actor, AuditAction::PasswordChange, by.client)
        .record("user", by.actor.user_id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}
