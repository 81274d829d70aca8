//! Password hashing (Argon2id) off the async threads, and generated passwords.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Hashes a password with Argon2id (default parameters: 19 MiB, 2 passes).
pub async fn hash(password: String) -> crate::Result<String> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| crate::Error::Internal(format!("password hashing: {e}")))
    })
    .await
    .map_err(|source| crate::Error::Task {
        what: "password hashing",
        source,
    })?
}

/// Whether `password` matches the stored hash. Runs the full hash also for
/// unknown users (`stored` = None), so timing doesn't tell whether a name exists.
pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let target = stored.unwrap_or_else(|| dummy_hash().to_string());
        Argon2::default()
            .verify_password(password.as_bytes(), target.as_str())
            .is_ok()
            && known
    })
    .await
    .unwrap_or(false)
}

/// The hash of a random password nobody knows, made once with the default parameters.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default()
            .hash_password(generate().as_bytes())
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

/// A generated password: 20 characters from an alphabet without look-alikes
/// (no 0/O, 1/l/I), grouped in fours for reading aloud.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 20];
    if getrandom::fill(&mut bytes).is_err() {
        std::process::abort();
    }
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash("richtig-und-lang".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("richtig-und-lang".into(), Some(h.clone())).await);
        assert!(!verify("falsch-und-lang".into(), Some(h)).await);
        assert!(!verify("irgendwas".into(), None).await);
    }

    #[test]
    fn generated_passwords_meet_the_policy() {
        let p = generate();
        assert_eq!(p.len(), 24);
        assert!(outreach_core::account::check_new_password(&p, "demo").is_ok());
        assert_ne!(generate(), p);
    }
}
