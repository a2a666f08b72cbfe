//! Password hashing and verification with Argon2id (RFC 9106), in PHC string format. Unknown
//! users cost the same as wrong passwords: their password is verified against a [`Dummy`]
//! hash that can never match, through the same code path and with the parameters most stored
//! hashes have, so timing does not reveal which user names exist, not even after `[auth]`
//! raised the cost and most users still have hashes at the old one. This module does not
//! read the database; callers pass the stored hash and a sample of stored hashes.

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

/// How many stored hashes [`Dummy::new`] looks at: every user of a typical installation, and
/// a bounded read for every login on a large one.
pub(crate) const DUMMY_SAMPLE: usize = 256;

/// What an unknown user's password is verified against. Its cost must be what verifying a
/// stored hash costs, and stored hashes keep the parameters they were made with until their
/// user logs in again (see `rehash`): right after `[auth]` raises the cost, most users are
/// still at the old one. So the dummy takes the parameters most stored hashes have (among
/// the [`DUMMY_SAMPLE`] newest users), and the configured ones only when there are no
/// users. The remaining tell is a user whose hash is in the minority (one who has not logged
/// in for a long time after a change); `user passwd` re-hashes such an account at once.
#[derive(Clone, Debug)]
pub(crate) struct Dummy {
    phc: String,
    m_kib: u32,
    t: u32,
    p: u32,
    from_store: bool,
}

impl Dummy {
    /// `stored` is a sample of stored PHC strings (`Store::recent_password_hashes`); those
    /// that are not Argon2 hashes are skipped. Ties go to the earlier entry (the newer user).
    pub(crate) fn new(stored: &[String], config: &AuthConfig) -> Dummy {
        // Keyed by what sets the cost; `Params` itself also holds the output length.
        type Head = (Algorithm, Version, u32, u32, u32);
        let mut heads: Vec<(Head, usize)> = Vec::new();
        for phc in stored {
            let Ok(parsed) = PasswordHash::new(phc) else { continue };
            let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
                continue;
            };
            let version = parsed.version.and_then(|v| Version::try_from(v).ok()).unwrap_or_default();
            let head = (algorithm, version, params.m_cost(), params.t_cost(), params.p_cost());
            match heads.iter_mut().find(|(h, _)| *h == head) {
                Some((_, n)) => *n += 1,
                None => heads.push((head, 1)),
            }
        }
        // `max_by_key` keeps the last maximum; reversed, that is the first one.
        let common = heads.into_iter().rev().max_by_key(|(_, n)| *n).map(|(head, _)| head);
        let from_store = common.is_some();
        let (algorithm, version, m, t, p) = common.unwrap_or((
            Algorithm::Argon2id,
            Version::V0x13,
            config.argon2_m_kib,
            config.argon2_t,
            config.argon2_p,
        ));
        let phc =
            format!("${}$v={}$m={m},t={t},p={p}${DUMMY_SALT}${DUMMY_OUTPUT}", algorithm.ident(), u32::from(version));
        Dummy { phc, m_kib: m, t, p, from_store }
    }
}

impl std::fmt::Display for Dummy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let source =
            if self.from_store { "the parameters most stored hashes have" } else { "the configured parameters" };
        write!(f, "m={},t={},p={}, {source}", self.m_kib, self.t, self.p)
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

    const CHEAP: AuthConfig =
        AuthConfig { argon2_m_kib: 64, argon2_t: 1, argon2_p: 1, cache_seconds: 0, cache_entries: 0 };

    #[test]
    fn hash_and_verify() {
        let dummy = Dummy::new(&[], &CHEAP);
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
        let stronger = AuthConfig { argon2_m_kib: 256, argon2_t: 3, argon2_p: 2, ..CHEAP };
        let sample: Vec<String> = [
            "$argon2id$v=19$m=128,t=2,p=1$c2FsdHNhbHRzYWx0$ZGRucy1jZ2kgdGVzdCBoYXNoLCAzMiBieXRlcyBsb25n",
            "not a hash",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$ZGRucy1jZ2kgdGVzdCBoYXNoLCAzMiBieXRlcyBsb25n",
            "$scrypt$ln=1,r=8,p=1$c2FsdA$aGFzaA",
            "$argon2id$v=19$m=64,t=1,p=1$b3RoZXJzYWx0c2FsdA$ZGRucy1jZ2kgb3RoZXIgaGFzaCwgMzIgYnl0ZXMgbG9uZw",
        ]
        .map(String::from)
        .into();
        let from_store = Dummy::new(&sample, &stronger);
        assert_eq!(from_store.to_string(), "m=64,t=1,p=1, the parameters most stored hashes have");
        assert!(from_store.phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{}", from_store.phc);
        // A tie goes to the newest user's parameters.
        let tie = Dummy::new(&sample[..3], &stronger);
        assert_eq!(tie.to_string(), "m=128,t=2,p=1, the parameters most stored hashes have");
        for sample in [&[][..], &sample[1..2], &sample[3..4]] {
            let configured = Dummy::new(sample, &stronger);
            assert_eq!(configured.to_string(), "m=256,t=3,p=2, the configured parameters", "{sample:?}");
        }
        // Verifying against the dummy takes the ordinary path and never succeeds.
        let h = hash_password("pw", &CHEAP).expect("hash");
        assert_eq!(verify("pw", Some(&from_store.phc), &from_store, &CHEAP), Verdict::Invalid);
        assert_eq!(verify("pw", Some(&h), &from_store, &CHEAP), Verdict::Valid { rehash: false });
    }
}
