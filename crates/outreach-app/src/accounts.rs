//! Signing in and out, and a user's own password: each step audited; an
//! account takes only a few password checks per window (parallel requests
//! included), and unknown, deactivated and locked accounts get the same
//! work and the same answer as a wrong password.

use crate::directory::{self, SignOn};
use crate::{Caller, Result, password};
use outreach_core::access::Actor;
use outreach_core::account::{LOCKOUT_SECONDS, MAX_FAILED_LOGINS};
use outreach_core::audit::AuditAction;
use outreach_core::second_factor as totp;
use outreach_store::audit::{self, AuditEvent};
use outreach_store::second_factor;
use outreach_store::user::{self, User};
use outreach_store::{Db, session};

/// The result of a sign-in.
pub enum SignIn {
    /// A new session: the cookie's token, and the hash of the browser's
    /// earlier session that ended with it.
    Started {
        token: String,
        ended: Option<String>,
    },
    /// The password was right; the second factor is asked next (or set up,
    /// for an account of a role that needs one and has none yet): the
    /// challenge's token (the browser's short-lived cookie).
    SecondFactor { token: String },
    /// Refused (the reason is in the audit log, not told to the browser).
    Refused,
    /// The directory could not be reached: directory accounts can't sign in
    /// now (local accounts can).
    DirectoryUnavailable,
    /// The directory knows the person and their password, but none of their
    /// groups is mapped to a role here.
    NoRole,
}

/// Signs in `username` with `password_given` from `client`; the browser's
/// earlier session (`old_session`, its hash) ends. A local account checks
/// its own password; with a directory configured (`sign_on`), everyone
/// else signs in with the directory's password and gets the account their
/// groups give. A local account that `policy` asks for its second factor
/// gets a challenge instead of a session.
#[allow(clippy::too_many_arguments)]
pub async fn sign_in(
    db: &Db,
    sign_on: Option<&SignOn>,
    policy: &SecondFactorPolicy,
    client: &str,
    username: &str,
    password_given: String,
    old_session: Option<String>,
    now: i64,
) -> Result<SignIn> {
    let mut tx = db.begin_read().await?;
    let mut found = user::by_username(&mut tx, username).await?;
    if found.is_none() && sign_on.is_some() {
        // Directory logins are stored as the directory writes them, in
        // lower case.
        found = user::by_username(&mut tx, &username.to_lowercase()).await?;
    }
    drop(tx);
    let attempt = Attempt {
        db,
        client,
        audit_name: username.chars().take(64).collect(),
        old_session,
        now,
    };
    match (found, sign_on) {
        (Some(u), Some(sign_on)) if u.from_directory() => {
            attempt
                .through_directory(sign_on, Some(u), username, password_given)
                .await
        }
        (None, Some(sign_on)) => {
            attempt
                .through_directory(sign_on, None, username, password_given)
                .await
        }
        // A local account; or, without a directory configured, an unknown
        // name or a directory account (whose empty hash matches nothing).
        (found, _) => attempt.local(found, password_given, policy).await,
    }
}

/// One sign-in attempt, in its steps.
struct Attempt<'a> {
    db: &'a Db,
    client: &'a str,
    audit_name: String,
    old_session: Option<String>,
    now: i64,
}

impl Attempt<'_> {
    /// Takes one of an active account's few password checks per window;
    /// `None` when it has used them all (locked).
    async fn take_check(&self, user: &User) -> Result<Option<user::LoginCheck>> {
        let mut tx = self.db.begin().await?;
        let check = user::take_login_check(
            &mut tx,
            user.id,
            self.now,
            LOCKOUT_SECONDS,
            MAX_FAILED_LOGINS,
        )
        .await?;
        tx.commit().await?;
        Ok(check)
    }

    /// Records the refusal with its reason; `answer` is what the browser is
    /// told.
    async fn refuse(&self, reason: &str, answer: SignIn) -> Result<SignIn> {
        let mut tx = self.db.begin().await?;
        let event = AuditEvent::anonymous(&self.audit_name, AuditAction::LoginFailure, self.client)
            .record("user", &self.audit_name)
            .purpose(reason);
        audit::append(&mut tx, &event, self.now).await?;
        tx.commit().await?;
        Ok(answer)
    }

    /// The reason a wrong password is recorded with.
    fn wrong(check: Option<user::LoginCheck>) -> &'static str {
        match check {
            Some(c) if c.place >= MAX_FAILED_LOGINS => "falsche Anmeldedaten; Konto gesperrt",
            _ => "falsche Anmeldedaten",
        }
    }

    /// A new session for `user` (read again just now); audited.
    async fn start(
        self,
        user: &User,
        actor: &Actor,
        check: Option<user::LoginCheck>,
        how: &str,
    ) -> Result<SignIn> {
        let mut tx = self.db.begin().await?;
        if let Some(check) = check {
            user::clear_login_checks(&mut tx, user.id, check).await?;
        }
        // A new session id at every login; the old one (if any) ends.
        if let Some(old) = &self.old_session {
            session::delete(&mut tx, old).await?;
        }
        let new = session::create(&mut tx, user.id, self.client, self.now).await?;
        let event = AuditEvent::by(actor, AuditAction::LoginSuccess, self.client)
            .record("user", user.id)
            .purpose(how);
        audit::append(&mut tx, &event, self.now).await?;
        tx.commit().await?;
        Ok(SignIn::Started {
            token: new.token,
            ended: self.old_session,
        })
    }

    /// A local account: its own password, checked only in one of the few
    /// checks it allows per window, taken before the check; unknown,
    /// deactivated and locked accounts get the same work (a check against a
    /// dummy hash) and the same answer.
    async fn local(
        self,
        found: Option<User>,
        password_given: String,
        policy: &SecondFactorPolicy,
    ) -> Result<SignIn> {
        let check = match &found {
            Some(u) if u.active => self.take_check(u).await?,
            _ => None,
        };
        let hash = check.and(found.as_ref().map(|u| u.password_hash.clone()));
        let verified = password::verify(password_given, hash).await;
        // Read again after the check: deactivated or changed meanwhile?
        let current = match (&found, verified) {
            (Some(u), true) => {
                let mut tx = self.db.begin_read().await?;
                user::by_id(&mut tx, u.id).await?
            }
            _ => None,
        };
        let usable = current
            .filter(|u| u.active)
            .and_then(|u| u.actor().map(|a| (u, a)));
        match (usable, check) {
            (Some((user, actor)), Some(check)) => {
                let mut tx = self.db.begin_read().await?;
                let enrolled = second_factor::of(&mut tx, user.id)
                    .await?
                    .is_some_and(|e| e.secret().is_some());
                drop(tx);
                if !policy.asks(actor.role, enrolled) {
                    return self.start(&user, &actor, Some(check), "").await;
                }
                // The checks of this window stay counted until the code is
                // right too: a right password doesn't buy more code guesses.
                let (token, _) =
                    ask_second_factor(self.db, user.id, enrolled, self.client, self.now).await?;
                Ok(SignIn::SecondFactor { token })
            }
            _ => {
                let reason = match (&found, check) {
                    (None, _) => "falsche Anmeldedaten",
                    (Some(u), _) if !u.active => "Konto deaktiviert",
                    (Some(_), None) => "gesperrt",
                    (Some(_), check) => Self::wrong(check),
                };
                self.refuse(reason, SignIn::Refused).await
            }
        }
    }

    /// A directory person: the directory checks the password (search, then
    /// their own bind); the account is created or brought up to date from
    /// their groups. A known account's lockout counts these checks too.
    async fn through_directory(
        self,
        sign_on: &SignOn,
        found: Option<User>,
        login: &str,
        password_given: String,
    ) -> Result<SignIn> {
        let check = match &found {
            Some(u) if u.active || u.deactivated_by_sync => match self.take_check(u).await? {
                Some(check) => Some(check),
                None => return self.refuse("gesperrt", SignIn::Refused).await,
            },
            Some(_) => return self.refuse("Konto deaktiviert", SignIn::Refused).await,
            None => None,
        };
        let person = match sign_on.directory.sign_in(login, &password_given).await {
            Ok(Some(person)) => person,
            Ok(None) => return self.refuse(Self::wrong(check), SignIn::Refused).await,
            Err(outreach_directory::Error::Unreachable(why)) => {
                tracing::warn!(%why, "directory unreachable at sign-in");
                return self
                    .refuse("Verzeichnis nicht erreichbar", SignIn::DirectoryUnavailable)
                    .await;
            }
            Err(error) => {
                tracing::warn!(%error, "directory refused the sign-in");
                let reason = format!("Verzeichnis: {error}");
                return self.refuse(&reason, SignIn::DirectoryUnavailable).await;
            }
        };
        let Some(account) = sign_on.account_of(&person) else {
            return self
                .refuse(
                    "in keiner zugeordneten Gruppe des Verzeichnisses",
                    SignIn::NoRole,
                )
                .await;
        };
        let user = directory::provision(self.db, &account, self.client, self.now).await?;
        match user
            .filter(|u| u.active)
            .and_then(|u| u.actor().map(|a| (u, a)))
        {
            Some((user, actor)) => {
                // The check taken on the account found by name, if it is
                // this one.
                let check = check.filter(|_| found.as_ref().is_some_and(|f| f.id == user.id));
                self.start(&user, &actor, check, "über das Verzeichnis")
                    .await
            }
            None => {
                self.refuse(
                    "Konto deaktiviert, oder der Anmeldename gehört einem anderen Konto",
                    SignIn::Refused,
                )
                .await
            }
        }
    }
}

/// Which local accounts are asked for the second factor after their
/// password: every one of `roles` (by default all roles: each sees customer
/// data, or is the system administration), and, in training mode, only
/// those that enrolled (the demo's accounts sign in with a password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorPolicy {
    pub roles: Vec<outreach_core::access::Role>,
    pub training: bool,
}

impl Default for SecondFactorPolicy {
    fn default() -> SecondFactorPolicy {
        SecondFactorPolicy {
            roles: outreach_core::access::Role::ALL.to_vec(),
            training: false,
        }
    }
}

impl SecondFactorPolicy {
    /// Whether an account of `role` is asked (`enrolled`: it has a factor).
    pub fn asks(&self, role: outreach_core::access::Role, enrolled: bool) -> bool {
        enrolled || (!self.training && self.roles.contains(&role))
    }
}

/// Seconds between the right password and the code.
pub const CHALLENGE_SECONDS: i64 = 300;

/// `N` random bytes (the process ends rather than go on without them).
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    if getrandom::fill(&mut bytes).is_err() {
        std::process::abort();
    }
    bytes
}

/// The second step of a sign-in, after the right password: its token (the
/// browser's cookie) and, for an account enrolling now, the secret offered.
pub async fn ask_second_factor(
    db: &Db,
    user_id: i64,
    enrolled: bool,
    client: &str,
    now: i64,
) -> Result<(String, Option<String>)> {
    let (purpose, secret) = if enrolled {
        (second_factor::Purpose::Code, None)
    } else {
        let secret = totp::new_secret(random());
        (second_factor::Purpose::Enrol, Some(secret))
    };
    let mut tx = db.begin().await?;
    second_factor::remove_expired_challenges(&mut tx, now).await?;
    let token = second_factor::create_challenge(
        &mut tx,
        user_id,
        purpose,
        secret.as_deref(),
        client,
        now,
        CHALLENGE_SECONDS,
    )
    .await?;
    tx.commit().await?;
    Ok((token, secret))
}

/// What the sign-in waits for, for the page that asks: enrolment (with
/// the secret and the account's name for the app) or the code.
pub async fn pending(db: &Db, token: &str, now: i64) -> Result<Option<Pending>> {
    let mut tx = db.begin_read().await?;
    let Some(challenge) = second_factor::challenge(&mut tx, token, now).await? else {
        return Ok(None);
    };
    let Some(user) = user::by_id(&mut tx, challenge.user_id).await? else {
        return Ok(None);
    };
    Ok(Some(match (challenge.purpose(), challenge.secret) {
        (second_factor::Purpose::Enrol, Some(secret)) => Pending::Enrol {
            url: totp::otpauth_url(&secret, &user.username).unwrap_or_default(),
            secret,
            username: user.username,
        },
        _ => Pending::Code,
    }))
}

/// A sign-in between the password and the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    Code,
    Enrol {
        secret: String,
        /// The `otpauth://` address for the QR code.
        url: String,
        username: String,
    },
}

/// The answer to the second step.
pub enum SecondStep {
    /// Signed in; after an enrolment with the ten recovery codes (shown once).
    Started {
        token: String,
        ended: Option<String>,
        recovery_codes: Vec<String>,
    },
    /// A wrong, old or used code: the same step may be tried again.
    Wrong,
    /// The account used its checks of this window: locked, start afresh later.
    Locked,
    /// No such sign-in (expired, or never begun): start with the password.
    Expired,
}

/// Answers the second step of sign-in `token` with `code` (the app's six
/// digits, or a recovery code): each step and each recovery code counts
/// once, and every try takes one of the account's checks (the lockout of
/// the password counts these too). Audited. The code is checked against
/// `wall`, the real time the person's app follows (in training mode the
/// application's clock `now` may be moved).
pub async fn answer_second_factor(
    db: &Db,
    token: &str,
    code: &str,
    client: &str,
    old_session: Option<String>,
    now: i64,
    wall: i64,
) -> Result<SecondStep> {
    let mut tx = db.begin_read().await?;
    let challenge = second_factor::challenge(&mut tx, token, now).await?;
    let found = match &challenge {
        Some(c) => user::by_id(&mut tx, c.user_id).await?,
        None => None,
    };
    let enrolment = match &found {
        Some(u) => second_factor::of(&mut tx, u.id).await?,
        None => None,
    };
    drop(tx);
    let (Some(challenge), Some(found), Some(enrolment)) = (challenge, found, enrolment) else {
        return Ok(SecondStep::Expired);
    };
    let Some(actor) = found.actor().filter(|_| found.active) else {
        return Ok(SecondStep::Expired);
    };
    let attempt = Attempt {
        db,
        client,
        audit_name: found.username.clone(),
        old_session,
        now,
    };
    let end = |db: &Db, token: &str| {
        let (db, token) = (db.clone(), token.to_string());
        async move {
            let mut tx = db.begin().await?;
            second_factor::end_challenge(&mut tx, &token).await?;
            tx.commit().await?;
            Ok::<_, crate::Error>(())
        }
    };
    let Some(check) = attempt.take_check(&found).await? else {
        end(db, token).await?;
        attempt.refuse("gesperrt", SignIn::Refused).await?;
        return Ok(SecondStep::Locked);
    };
    let mut tx = db.begin().await?;
    let accepted = match challenge.purpose() {
        second_factor::Purpose::Enrol => {
            let secret = challenge.secret.clone().unwrap_or_default();
            match totp::check(&secret, code, wall, 0) {
                Some(step) => {
                    let codes: Vec<String> = (0..totp::RECOVERY_CODES)
                        .map(|_| totp::recovery_code(random()))
                        .collect();
                    let hashes: Vec<String> =
                        codes.iter().map(|c| totp::recovery_hash(c)).collect();
                    second_factor::enrol(&mut tx, found.id, &secret, step, &hashes, now).await?;
                    let event = AuditEvent::by(&actor, AuditAction::SecondFactorEnrol, client)
                        .record("user", found.id)
                        .fields(&format!("{} Wiederherstellungscodes", codes.len()));
                    audit::append(&mut tx, &event, now).await?;
                    Some(("mit zweitem Faktor, neu eingerichtet", codes))
                }
                None => None,
            }
        }
        second_factor::Purpose::Code => match enrolment.secret() {
            Some(secret) if totp::is_app_code(code) => {
                match totp::check(secret, code, wall, enrolment.totp_last_step) {
                    Some(step) if second_factor::accept_step(&mut tx, found.id, step).await? => {
                        Some(("mit zweitem Faktor", Vec::new()))
                    }
                    _ => None,
                }
            }
            Some(_) => {
                let hash = totp::recovery_hash(code);
                if second_factor::use_recovery_code(&mut tx, found.id, &hash, now).await? {
                    Some(("mit Wiederherstellungscode", Vec::new()))
                } else {
                    None
                }
            }
            None => None,
        },
    };
    let Some((how, recovery_codes)) = accepted else {
        drop(tx);
        let locked = check.place >= MAX_FAILED_LOGINS;
        if locked {
            end(db, token).await?;
        }
        let reason = if locked {
            "falscher Code; Konto gesperrt"
        } else {
            "falscher Code"
        };
        attempt.refuse(reason, SignIn::Refused).await?;
        return Ok(if locked {
            SecondStep::Locked
        } else {
            SecondStep::Wrong
        });
    };
    second_factor::end_challenge(&mut tx, token).await?;
    tx.commit().await?;
    match attempt.start(&found, &actor, Some(check), how).await? {
        SignIn::Started { token, ended } => Ok(SecondStep::Started {
            token,
            ended,
            recovery_codes,
        }),
        _ => Ok(SecondStep::Expired),
    }
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
    // A directory account's password is the directory's.
    if user::by_id(&mut tx, by.actor.user_id)
        .await?
        .is_none_or(|u| u.from_directory())
    {
        return Err(crate::Error::Forbidden);
    }
    user::set_password(&mut tx, by.actor.user_id, &hash, now).await?;
    session::delete_for_user(&mut tx, by.actor.user_id, Some(session_hash)).await?;
    let event = AuditEvent::by(by.actor, AuditAction::PasswordChange, by.client)
        .record("user", by.actor.user_id);
    audit::append(&mut tx, &event, now).await?;
    tx.commit().await?;
    Ok(())
}
