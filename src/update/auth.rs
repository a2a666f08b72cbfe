//! Authentication of an update request: a password (Argon2id, through the resident cache in
//! FastCGI) or a host token, chosen by the secret's shape alone, so unknown users, wrong
//! passwords and wrong tokens cost the same and all answer `badauth`.

use crate::audit::AuthMethod;
use crate::auth::token::{self, RecordType, Scope};
use crate::auth::{self, PasswordCache, Verdict};
use crate::config::Config;
use crate::log::Log;
use crate::request::{self, Credentials, HostArg, Request};
use crate::secret::Secret;
use crate::store::{Store, User};

use super::UpdateError;
use super::changes::TokenHold;

/// Whom a request acts for: a user by password, or the owner of one hostname by its token.
#[derive(Debug)]
pub(super) struct Authorized {
    pub(super) user: User,
    pub(super) auth: AuthMethod,
    /// Set for a token: the only hostname the request may change.
    pub(super) token_host: Option<String>,
    /// Set for a token: what its changes are held to under the host lock.
    pub(super) token: Option<TokenHold>,
}

/// Checks the credentials. Whether a secret is checked as a token or as a password depends
/// on its shape alone (`token::looks_like`), never on the database: a token costs one SHA-256
/// digest and an indexed read, a password always one Argon2 run (against a dummy hash for
/// unknown users). So for a given secret the work, and the time, are the same whether the
/// user name exists or not, and unknown users, wrong passwords and wrong tokens all answer
/// `badauth`. `user add`/`user passwd` refuse passwords of the token's shape.
pub(super) fn authenticate(
    config: &Config,
    store: &mut Store,
    cache: Option<&PasswordCache>,
    request: &Request,
    now: i64,
    log: &Log,
) -> Result<Authorized, UpdateError> {
    match check(store, cache, request, now, log)? {
        Checked::Done(authorized) => Ok(authorized),
        Checked::Argon2 { username, password, user } => {
            let user = verify_password(config, store, cache, username, password, user, now, log)?;
            Ok(Authorized { user, auth: AuthMethod::Password, token_host: None, token: None })
        }
    }
}

/// How far the credentials were checked without Argon2.
#[derive(Debug)]
pub(super) enum Checked<'r> {
    /// A valid token, or a password the cache verified against the user's current hash.
    Done(Authorized),
    /// A password that needs an Argon2 run; `user` is `None` for an unknown user and for
    /// credentials over the length bound (never looked up).
    Argon2 { username: &'r str, password: &'r Secret<String>, user: Option<User> },
}

/// Everything of `authenticate` that needs no Argon2 run: a token in full, a password as far
/// as the user's row and the cache go. Reads only; a refusal is an error as in `authenticate`.
pub(super) fn check<'r>(
    store: &mut Store,
    cache: Option<&PasswordCache>,
    request: &'r Request,
    now: i64,
    log: &Log,
) -> Result<Checked<'r>, UpdateError> {
    let Some(creds) = &request.credentials else { return Err(UpdateError::NoCredentials) };
    let (username, secret) = match creds {
        Credentials::Password { username, password } => (Some(username.as_str()), password),
        Credentials::Token { token } => (None, token),
    };
    if token::looks_like(secret.expose()) {
        return authenticate_token(store, request, username, secret, now, log).map(Checked::Done);
    }
    let Some(username) = username else {
        return Err(UpdateError::BadToken { reason: "a secret without a user name that is not a token".to_owned() });
    };
    // Bound before hashing: Argon2 accepts any length, an attacker should not choose the cost.
    // Over-long credentials are never looked up, and take the dummy's path.
    let user = if too_long(username, secret) { None } else { store.user(username)? };
    if let (Some(cache), Some(u)) = (cache, &user)
        && cache.hit(&u.name, &u.password_hash, secret.expose(), now)
    {
        log.debug(format_args!("password of `{}` verified earlier by this process: no argon2 run", u.name));
        return Ok(Checked::Done(Authorized {
            user: u.clone(),
            auth: AuthMethod::Password,
            token_host: None,
            token: None,
        }));
    }
    Ok(Checked::Argon2 { username, password: secret, user })
}

fn too_long(username: &str, password: &Secret<String>) -> bool {
    username.len() > 256 || password.expose().len() > 1024
}

/// Verifies a password with Argon2 against `user`'s stored hash, or against a dummy hash when
/// there is no such user, and remembers a success in `cache`.
#[allow(clippy::too_many_arguments, reason = "the handler's context, passed down as is")]
fn verify_password(
    config: &Config,
    store: &mut Store,
    cache: Option<&PasswordCache>,
    username: &str,
    password: &Secret<String>,
    user: Option<User>,
    now: i64,
    log: &Log,
) -> Result<User, UpdateError> {
    let too_long = too_long(username, password);
    // Read for known and unknown users alike, so both paths ask the database the same.
    let dummy = auth::Dummy::new(&store.recent_password_hashes(auth::DUMMY_SAMPLE)?, &config.auth);
    match &user {
        Some(u) => log.debug(format_args!("verifying the password of `{}` with argon2", u.name)),
        None if too_long => log.debug(format_args!(
            "credentials over the length bound (user name 256, password 1024 bytes): not verified; \
             a dummy argon2 hash with {dummy} takes the time"
        )),
        None => {
            let shown = token::shown_name(username);
            log.debug(format_args!("unknown user `{shown}`: verifying against a dummy argon2 hash with {dummy}"))
        }
    }
    let stored = user.as_ref().map(|u| u.password_hash.as_str());
    let verdict = auth::verify(password.expose(), stored, &dummy, &config.auth);
    let (Some(user), Verdict::Valid { rehash }) = (user.as_ref(), verdict) else {
        let reason = match (&user, too_long) {
            (_, true) => "credentials too long",
            (None, false) => "unknown user",
            (Some(_), false) => "wrong password",
        };
        // A token typed into the user-name field lands here, and this name is logged.
        return Err(UpdateError::BadCredentials { username: token::shown_name(username).to_owned(), reason });
    };
    let mut stored = user.password_hash.clone();
    if rehash {
        // Upgrade to the configured cost while we hold the password; failure is harmless.
        match auth::hash_password(password.expose(), &config.auth) {
            Ok(h) => match store.set_password_hash(user.id, &h) {
                Ok(()) => {
                    log.info(format_args!("upgraded password hash of `{}`", user.name));
                    stored = h;
                }
                Err(e) => log.warn(format_args!("cannot upgrade password hash of `{}`: {e}", user.name)),
            },
            Err(e) => log.warn(format_args!("cannot upgrade password hash of `{}`: {e}", user.name)),
        }
    }
    if let Some(cache) = cache {
        cache.insert(&user.name, &stored, password.expose(), now);
    }
    Ok(user.clone())
}

/// Checks a host token: found by its digest, compared in constant time, then held to its
/// hostname (every hostname of the request must be it), to the user name given with it (the
/// hostname or its owner), and to its scope.
fn authenticate_token(
    store: &Store,
    request: &Request,
    username: Option<&str>,
    token: &Secret<String>,
    now: i64,
    log: &Log,
) -> Result<Authorized, UpdateError> {
    let refuse = |reason: String| Err(UpdateError::BadToken { reason });
    log.debug("checking a host token by its SHA-256 digest");
    let digest = token::digest(token.expose());
    let Some(grant) = store.token(&digest)? else { return refuse("unknown token".to_owned()) };
    // The lookup already matched the digest; comparing again in constant time keeps the
    // decision out of SQLite's comparison, whose timing nobody promises.
    if !token::digests_equal(&grant.digest, &digest) {
        return refuse("unknown token".to_owned());
    }
    let fqdn = grant.host.fqdn.as_str();
    if let Some(name) = username
        && name != grant.owner.name
        && request::normalize_hostname(name).as_deref() != Some(fqdn)
    {
        let name = token::shown_name(name);
        return refuse(format!("the token of `{fqdn}` came with user name `{name}`, not the hostname or its owner"));
    }
    if let Ok(hostnames) = &request.hostnames {
        for arg in hostnames {
            match arg {
                HostArg::Valid(other) | HostArg::NotFqdn(other) if other != fqdn => {
                    return refuse(format!("the token of `{fqdn}` cannot update `{other}`"));
                }
                HostArg::Valid(_) | HostArg::NotFqdn(_) => {}
            }
        }
    }
    let scope = Scope::from_stored(&grant.scope);
    let scope = match scope {
        Ok(s) => s,
        Err(e) => return refuse(format!("the token of `{fqdn}` has an unreadable scope: {e}")),
    };
    // The types this request names; unusable addresses change nothing (`badip`). Only a
    // first check: what a change really touches (an offline request every type, a new TTL
    // every published rrset) is known under the host lock, where `run_changes` holds each
    // change to this scope again (`TokenHold`).
    let wanted: Vec<RecordType> = match &request.addresses {
        Ok(a) => [
            (a.ipv4.is_some(), RecordType::A),
            (a.ipv6.is_some(), RecordType::Aaaa),
            (matches!(request.txt, Some(Ok(_))), RecordType::Txt),
            // A prefix changes the AAAA records of the hosts derived from this one.
            (request.ipv6_prefix.is_some() && a.ipv6.is_none(), RecordType::Aaaa),
        ]
        .into_iter()
        .filter_map(|(set, t)| set.then_some(t))
        .collect(),
        Err(_) => Vec::new(),
    };
    if let Err(failure) = scope.check(&wanted, request.client, now) {
        return refuse(format!("the token of `{fqdn}` is outside its {failure}"));
    }
    log.debug(format_args!("host token of `{fqdn}` accepted"));
    let hold = TokenHold { host: grant.host.fqdn.clone(), digest: grant.digest, scope };
    Ok(Authorized { user: grant.owner, auth: AuthMethod::Token, token_host: Some(grant.host.fqdn), token: Some(hold) })
}
