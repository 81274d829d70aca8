//! Account rules: password policy, login lockout and session idle time.

/// Minimum password length (characters).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Password checks against one account's real hash per window; a correct
/// password after those is refused too, until the window ends.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// The window of those checks, from the first of them, in seconds.
pub const LOCKOUT_SECONDS: i64 = 15 * 60;
/// Idle time after which a session ends, in seconds (default; configurable).
pub const SESSION_IDLE_SECONDS: i64 = 30 * 60;
/// How long before the end of a session the user is warned, in seconds.
pub const SESSION_WARNING_SECONDS: i64 = 5 * 60;

/// When to warn before a session of `idle_seconds` ends: five minutes before,
/// or halfway for short sessions.
pub fn session_warning_seconds(idle_seconds: i64) -> i64 {
    SESSION_WARNING_SECONDS.min(idle_seconds / 2)
}

/// Why a new password is refused; `message` is the German text for the form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Das Passwort muss mindestens {MIN_PASSWORD_CHARS} Zeichen lang sein.")]
    TooShort,
    #[error("Das Passwort darf nicht den Benutzernamen enthalten.")]
    ContainsUsername,
    #[error("Das Passwort darf höchstens 256 Zeichen lang sein.")]
    TooLong,
}

/// Checks a new password against the policy.
pub fn check_new_password(password: &str, username: &str) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > 256 {
        return Err(PasswordError::TooLong);
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(PasswordError::ContainsUsername);
    }
    Ok(())
}

/// Why a username is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("Der Benutzername muss 3 bis 64 Zeichen lang sein.")]
    Length,
    #[error(
        "Der Benutzername darf nur Kleinbuchstaben a–z, Ziffern, Punkt, Bindestrich und Unterstrich enthalten."
    )]
    Characters,
}

/// A validated login name: lower-case ASCII letters, digits, `.`, `-`, `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, UsernameError> {
        let name = raw.trim().to_lowercase();
        if !(3..=64).contains(&name.len()) {
            return Err(UsernameError::Length);
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'))
        {
            return Err(UsernameError::Characters);
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether an account locked until `locked_until` is still locked at `now`.
pub fn is_locked(locked_until: Option<i64>, now: i64) -> bool {
    locked_until.is_some_and(|until| until > now)
}

/// Whether a session last seen at `last_seen` has run out at `now`.
pub fn session_expired(last_seen: i64, now: i64, idle_seconds: i64) -> bool {
    now - last_seen >= idle_seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        assert_eq!(
            check_new_password("kurz", "anna"),
            Err(PasswordError::TooShort)
        );
        assert_eq!(
            check_new_password("elf zeichen", "anna"),
            Err(PasswordError::TooShort)
        );
        assert!(check_new_password("zwölf zeiche", "anna").is_ok());
        assert_eq!(
            check_new_password("mein-Anna.Meier-passwort", "anna.meier"),
            Err(PasswordError::ContainsUsername)
        );
    }

    #[test]
    fn a_lock_ends_when_its_window_does() {
        assert!(is_locked(Some(1000 + LOCKOUT_SECONDS), 1000 + 899));
        assert!(!is_locked(Some(1000 + LOCKOUT_SECONDS), 1000 + 900));
        assert!(!is_locked(None, 1000));
    }

    #[test]
    fn usernames() {
        assert_eq!(
            Username::parse(" Anna.Meier ").map(|u| u.0),
            Ok("anna.meier".into())
        );
        assert_eq!(Username::parse("ab"), Err(UsernameError::Length));
        assert_eq!(
            Username::parse("anna meier"),
            Err(UsernameError::Characters)
        );
    }

    #[test]
    fn session_idle() {
        assert!(!session_expired(
            0,
            SESSION_IDLE_SECONDS - 1,
            SESSION_IDLE_SECONDS
        ));
        assert!(session_expired(
            0,
            SESSION_IDLE_SECONDS,
            SESSION_IDLE_SECONDS
        ));
        assert_eq!(session_warning_seconds(SESSION_IDLE_SECONDS), 300);
        assert_eq!(session_warning_seconds(8), 4);
    }
}
