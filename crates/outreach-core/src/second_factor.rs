//! The second factor of local accounts: a time-based one-time password
//! (TOTP, RFC 6238, with the `totp-rs` crate) as every authenticator app
//! reads it — six digits, 30-second steps, HMAC-SHA-1 — each step accepted
//! once, one step of clock drift either side; and ten one-time recovery
//! codes, stored only as hashes.

use sha2::{Digest, Sha256};
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds of one step.
pub const STEP_SECONDS: u64 = 30;
/// Steps of clock drift accepted either side.
pub const SKEW: u16 = 1;
/// Recovery codes per enrolment.
pub const RECOVERY_CODES: usize = 10;
/// The name an authenticator app shows above the account.
pub const ISSUER: &str = "Outreach";
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// Bytes of randomness of a recovery code.
pub const RECOVERY_BYTES: usize = 10;

/// A new secret from `random` bytes, in Base32 (what the app is given).
pub fn new_secret(random: [u8; SECRET_BYTES]) -> String {
    Secret::from(random.to_vec()).to_base32()
}

fn totp(secret: &str, account: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret).ok()?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account.replace(':', "_"))
        .build()
        .ok()
}

/// The step `code` is right for at `now` (UTC seconds) with `secret`, when
/// it is later than `last_step` (the last one accepted: no code counts
/// twice). `None` for a wrong, old or used code.
pub fn check(secret: &str, code: &str, now: i64, last_step: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret, "")?;
    let now = u64::try_from(now).ok()?;
    let step = totp.check(&code, now)?;
    i64::try_from(step).ok().filter(|step| *step > last_step)
}

/// The code of `secret` at `time` (UTC seconds): what the app shows. For
/// tests and the tests' sign-in helpers.
pub fn code_at(secret: &str, time: i64) -> Option<String> {
    let totp = totp(secret, "")?;
    Some(totp.generate(u64::try_from(time).ok()?).to_string())
}

/// The `otpauth://` address the QR code holds, naming `username`.
pub fn otpauth_url(secret: &str, username: &str) -> Option<String> {
    totp(secret, username)?.to_url().ok()
}

/// Whether `code` has the shape of an app's code (six digits, spaces
/// allowed) rather than of a recovery code.
pub fn is_app_code(code: &str) -> bool {
    let digits: Vec<char> = code.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == usize::from(DIGITS) && digits.iter().all(char::is_ascii_digit)
}

/// Letters of recovery codes: no 0/o, 1/l/i, to be read off paper.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A recovery code from `random` bytes: `xxxxx-xxxxx`.
pub fn recovery_code(random: [u8; RECOVERY_BYTES]) -> String {
    let letters: Vec<char> = random
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!(
        "{}-{}",
        letters[..5].iter().collect::<String>(),
        letters[5..].iter().collect::<String>()
    )
}

/// The stored form of a recovery code as typed (case, spaces and dashes
/// don't matter): SHA-256, hex.
pub fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(normal.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; SECRET_BYTES] = *b"12345678901234567890";

    #[test]
    fn the_rfc_6238_vectors_hold() {
        // RFC 6238, appendix B, SHA-1 (eight digits there; the last six here).
        let secret = new_secret(SECRET);
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        assert_eq!(code_at(&secret, 1_111_111_109).unwrap(), "081804");
        assert_eq!(code_at(&secret, 2_000_000_000).unwrap(), "279037");
    }

    #[test]
    fn a_code_counts_once_within_a_step_of_drift() {
        let secret = new_secret(SECRET);
        let now = 1_111_111_109;
        let code = code_at(&secret, now).unwrap();
        let step = check(&secret, &code, now, 0).unwrap();
        assert_eq!(step, now / 30);
        // Used: not again, not even 20 seconds later.
        assert_eq!(check(&secret, &code, now + 20, step), None);
        // Drift: the previous and the next step's code count, one further doesn't.
        let before = code_at(&secret, now - 30).unwrap();
        assert_eq!(check(&secret, &before, now, 0), Some(step - 1));
        let after = code_at(&secret, now + 30).unwrap();
        assert_eq!(check(&secret, &after, now, 0), Some(step + 1));
        let far = code_at(&secret, now + 90).unwrap();
        assert_eq!(check(&secret, &far, now, 0), None);
        // Spaces are fine; letters, short codes and another secret aren't.
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(check(&secret, &spaced, now, 0), Some(step));
        assert_eq!(check(&secret, "12345", now, 0), None);
        assert_eq!(check(&secret, "abcdef", now, 0), None);
        let other = new_secret(*b"abcdefghijabcdefghij");
        assert_eq!(check(&other, &code, now, 0), None);
        assert_eq!(check("nicht base32!", &code, now, 0), None);
    }

    #[test]
    fn recovery_codes_read_off_paper() {
        let code = recovery_code([0, 1, 2, 3, 4, 5, 6, 7, 8, 250]);
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert!(!code.contains(['0', 'o', '1', 'l', 'i']));
        assert_eq!(
            recovery_hash(&code),
            recovery_hash(&code.to_uppercase().replace('-', " "))
        );
        assert_ne!(recovery_hash(&code), recovery_hash("abcde-fghjk"));
        assert!(!is_app_code(&code));
        assert!(is_app_code("123 456"));
    }

    #[test]
    fn the_app_is_given_the_issuer_and_the_account() {
        let url = otpauth_url(&new_secret(SECRET), "anna.meier").unwrap();
        assert!(
            url.starts_with("otpauth://totp/Outreach:anna.meier?"),
            "{url}"
        );
        assert!(url.contains("issuer=Outreach"), "{url}");
        assert!(
            url.contains(&format!("secret={}", new_secret(SECRET))),
            "{url}"
        );
    }
}
