//! Password hashing and verification with Argon2id (RFC 9106), in PHC string format. Unknown
//! users cost the same as wrong passwords: the password is hashed at the configured cost and
//! the result thrown away, so timing does not reveal which user names exist. This module
//! does not read the database; callers pass the stored hash.

use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::AuthConfig;

/// Why a hash could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HashError {
    #[error("argon2 parameters rejected: {0}")]
    Params(argon2::Error),
    #[error("cannot hash password: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("no randomness for the salt: {0}")]
    Random(getrandom::Error),
}

/// The result of checking a password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Correct. `rehash` is set when the stored hash uses other parameters than configured.
    Valid { rehash: bool },
    /// Wrong password, unknown user or an unreadable stored hash: all look the same outside.
    Invalid,
}

fn hasher(config: &AuthConfig) -> Result<Argon2<'static>, HashError> {
    let params = Params::new(config.argon2_m_kib, config.argon2_t, config.argon2_p, None).map_err(HashError::Params)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A new PHC string for `password` with a random 16-byte salt.
pub(crate) fn hash_password(password: &str, config: &AuthConfig) -> Result<String, HashError> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(HashError::Random)?;
    let salt = SaltString::encode_b64(&salt).map_err(HashError::Hash)?;
    let hash = hasher(config)?.hash_password(password.as_bytes(), &salt).map_err(HashError::Hash)?;
    Ok(hash.to_string())
}

/// Checks `password` against `stored`, or burns the same work when there is no user.
pub(crate) fn verify(password: &str, stored: Option<&str>, config: &AuthConfig) -> Verdict {
    let Some(stored) = stored else {
        // A fixed salt is fine here: the result is never stored or compared.
        if let (Ok(h), Ok(salt)) = (hasher(config), SaltString::from_b64("ZGRucy1jZ2ktZHVtbXk")) {
            let _ = h.hash_password(password.as_bytes(), &salt);
        }
        return Verdict::Invalid;
    };
    let Ok(parsed) = PasswordHash::new(stored) else { return Verdict::Invalid };
    // The verifier takes the algorithm and cost from the stored hash itself.
    if Argon2::default().verify_password(password.as_bytes(), &parsed).is_err() {
        return Verdict::Invalid;
    }
    let current = Params::try_from(&parsed).ok();
    let rehash = parsed.algorithm != argon2::ARGON2ID_IDENT
        || current.is_none_or(|p| {
            (p.m_cost(), p.t_cost(), p.p_cost()) != (config.argon2_m_kib, config.argon2_t, config.argon2_p)
        });
    Verdict::Valid { rehash }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: AuthConfig = AuthConfig { argon2_m_kib: 64, argon2_t: 1, argon2_p: 1 };

    #[test]
    fn hash_and_verify() {
        let h = hash_password("pa:ss word", &CHEAP).expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert_eq!(verify("pa:ss word", Some(&h), &CHEAP), Verdict::Valid { rehash: false });
        assert_eq!(verify("pa:ss wore", Some(&h), &CHEAP), Verdict::Invalid);
        assert_eq!(verify("x", None, &CHEAP), Verdict::Invalid);
        assert_eq!(verify("x", Some("not a hash"), &CHEAP), Verdict::Invalid);
        let stronger = AuthConfig { argon2_m_kib: 128, ..CHEAP };
        assert_eq!(verify("pa:ss word", Some(&h), &stronger), Verdict::Valid { rehash: true });
    }
}
