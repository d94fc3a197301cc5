//! Password hashes: argon2id PHC strings (`outpost auth hash`) and bcrypt `$2y$`/`$2b$`/`$2a$`
//! (as `htpasswd -nbB` prints them).
//!
//! Comparison is constant time: both `argon2`'s `verify_password` and `bcrypt::verify`
//! compare the derived hashes in constant time, and a login for an unknown user runs
//! [`dummy_verify`] against a hash of the same cost so that the time taken does not reveal
//! which user names exist.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Which scheme a stored hash uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Argon2,
    Bcrypt,
}

/// The scheme of `hash`, or `None` when it is neither an argon2 PHC string nor bcrypt.
pub fn scheme(hash: &str) -> Option<Scheme> {
    if hash.starts_with("$argon2") {
        PasswordHash::new(hash).ok().map(|_| Scheme::Argon2)
    } else if ["$2y$", "$2b$", "$2a$"].iter().any(|p| hash.starts_with(p)) && hash.len() == 60 {
        Some(Scheme::Bcrypt)
    } else {
        None
    }
}

/// Whether `password` matches `hash` (false for a hash in no known scheme).
pub fn verify(password: &str, hash: &str) -> bool {
    match scheme(hash) {
        Some(Scheme::Argon2) => match PasswordHash::new(hash) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        },
        Some(Scheme::Bcrypt) => bcrypt::verify(password, hash).unwrap_or(false),
        None => false,
    }
}

/// Spends the time a real verification takes against `like` (a hash of the configured
/// users), for a user that does not exist.
pub fn dummy_verify(password: &str, like: &str) {
    let _ = verify(password, like);
}

/// An argon2id PHC string for `password` (argon2's default cost: 19 MiB, 2 passes).
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip() {
        let h = hash("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert_eq!(scheme(&h), Some(Scheme::Argon2));
        assert!(verify("s3cret", &h));
        assert!(!verify("s3creT", &h));
    }

    #[test]
    fn bcrypt_from_htpasswd() {
        // `htpasswd -nbB alice pw`, cost 5.
        let h = bcrypt::hash("pw", 5).unwrap().replacen("$2b$", "$2y$", 1);
        assert_eq!(scheme(&h), Some(Scheme::Bcrypt));
        assert!(verify("pw", &h));
        assert!(!verify("pW", &h));
    }

    #[test]
    fn unknown_schemes_never_match() {
        assert_eq!(scheme("plain"), None);
        assert_eq!(scheme("$1$abc$def"), None);
        assert!(!verify("plain", "plain"));
    }
}
