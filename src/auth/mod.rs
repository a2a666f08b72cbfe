//! Who may change a hostname: users by password (`password`, Argon2id) and single hostnames
//! by a per-host token (`token`, a SHA-256 digest lookup with no slow hash). The two never
//! mix: a secret is checked as one or the other by its shape alone. In FastCGI mode `cache`
//! remembers verified passwords for a while. Neither module reads the
//! database; `update` looks up the stored hash or token grant and passes it in.

mod cache;
mod password;
pub(crate) mod token;

pub(crate) use cache::PasswordCache;
pub(crate) use password::{DUMMY_SAMPLE, Dummy, Verdict, hash_password, verify};
