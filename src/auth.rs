//! Password hashing and verification with Argon2id (RFC 9106), in PHC string format. Unknown
//! users cost the same as wrong passwords: their password is verified against a [`Dummy`]
//! hash that can never match, through the same code path and with the parameters most stored
//! hashes have, so timing does not reveal which user names exist, not even after `[auth]`
//! raised the cost and most users still have hashes at the old one. This module does not
//! read the database; callers pass the stored hash and the most common stored parameters.

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

/// The salt and output of every dummy hash. Fixed values are fine: the verification result
/// is thrown away (and an Argon2 output equal to this text would be a preimage).
const DUMMY_SALT: &str = "ZGRucy1jZ2ktZHVtbXk";
const DUMMY_OUTPUT: &str = "ZGRucy1jZ2kgZHVtbXkgaGFzaCwgbmV2ZXIgdmFsaWQ";

/// What an unknown user's password is verified against. Its cost must be what verifying a
/// stored hash costs, and stored hashes keep the parameters they were made with until their
/// user logs in again (see `rehash`): right after `[auth]` raises the cost, most users are
/// still at the old one. So the dummy takes the parameters most stored hashes have, and the
/// configured ones only when there are no users. The remaining tell is a user whose hash is
/// in the minority (not re-hashed long after a change, or re-hashed early); `user passwd`
/// re-hashes such an account at once.
#[derive(Clone, Debug)]
pub(crate) struct Dummy {
    phc: String,
    params: Params,
    from_store: bool,
}

impl Dummy {
    /// `common_head` is the parameter part most stored hashes share (`$argon2id$v=19$m=...,
    /// t=...,p=...$`, see `Store::common_hash_head`); without it, or when it is not a usable
    /// Argon2 head, the configured parameters are used.
    pub(crate) fn new(common_head: Option<&str>, config: &AuthConfig) -> Dummy {
        let stored = common_head.and_then(|head| {
            let phc = format!("{head}{DUMMY_SALT}${DUMMY_OUTPUT}");
            let parsed = PasswordHash::new(&phc).ok()?;
            Algorithm::try_from(parsed.algorithm).ok()?;
            let params = Params::try_from(&parsed).ok()?;
            Some(Dummy { phc: phc.clone(), params, from_store: true })
        });
        stored.unwrap_or_else(|| {
            let (m, t, p) = (config.argon2_m_kib, config.argon2_t, config.argon2_p);
            let phc = format!("$argon2id$v=19$m={m},t={t},p={p}${DUMMY_SALT}${DUMMY_OUTPUT}");
            // Config validation keeps the parameters inside Argon2's bounds; should they not be,
            // the verification below fails at once, as it would for every stored hash.
            let params = Params::new(m, t, p, None).unwrap_or_default();
            Dummy { phc, params, from_store: false }
        })
    }
}

impl std::fmt::Display for Dummy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = &self.params;
        let source =
            if self.from_store { "the parameters most stored hashes have" } else { "the configured parameters" };
        write!(f, "m={},t={},p={}, {source}", p.m_cost(), p.t_cost(), p.p_cost())
    }
}

/// Checks `password` against `stored`, or does the same work against `dummy` when there is
/// no user (or the stored hash cannot be read).
pub(crate) fn verify(password: &str, stored: Option<&str>, dummy: &Dummy, config: &AuthConfig) -> Verdict {
    let burn = || {
        // The same calls as for a stored hash; the outcome is ignored.
        if let Ok(parsed) = PasswordHash::new(&dummy.phc) {
            let _ = Argon2::default().verify_password(password.as_bytes(), &parsed);
        }
        Verdict::Invalid
    };
    let Some(stored) = stored else { return burn() };
    let Ok(parsed) = PasswordHash::new(stored) else { return burn() };
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
        let dummy = Dummy::new(None, &CHEAP);
        let h = hash_password("pa:ss word", &CHEAP).expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{h}");
        assert_eq!(verify("pa:ss word", Some(&h), &dummy, &CHEAP), Verdict::Valid { rehash: false });
        assert_eq!(verify("pa:ss wore", Some(&h), &dummy, &CHEAP), Verdict::Invalid);
        assert_eq!(verify("x", None, &dummy, &CHEAP), Verdict::Invalid);
        assert_eq!(verify("x", Some("not a hash"), &dummy, &CHEAP), Verdict::Invalid);
        let stronger = AuthConfig { argon2_m_kib: 128, ..CHEAP };
        assert_eq!(verify("pa:ss word", Some(&h), &dummy, &stronger), Verdict::Valid { rehash: true });
    }

    #[test]
    fn dummy_follows_the_stored_parameters() {
        let stronger = AuthConfig { argon2_m_kib: 256, argon2_t: 3, argon2_p: 2 };
        let from_store = Dummy::new(Some("$argon2id$v=19$m=64,t=1,p=1$"), &stronger);
        assert_eq!(from_store.to_string(), "m=64,t=1,p=1, the parameters most stored hashes have");
        assert!(from_store.phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        for head in [None, Some(""), Some("$argon2id$v=19$m=x$"), Some("$scrypt$ln=1,r=8,p=1$")] {
            let configured = Dummy::new(head, &stronger);
            assert_eq!(configured.to_string(), "m=256,t=3,p=2, the configured parameters", "{head:?}");
        }
        // Verifying against either takes the ordinary path and never succeeds.
        let h = hash_password("pw", &CHEAP).expect("hash");
        let dummy_phc = &from_store.phc;
        assert_eq!(verify("pw", Some(dummy_phc), &from_store, &CHEAP), Verdict::Invalid);
        assert_eq!(verify("pw", Some(&h), &from_store, &CHEAP), Verdict::Valid { rehash: false });
    }
}
