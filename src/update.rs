//! The request handler shared by every transport: parse, authenticate, then update each
//! hostname under the database lock and answer in dyndns2. The database changes only after
//! the DNS server answered NOERROR, so the stored state never claims more than DNS has. All
//! failures are typed ([`UpdateError`]) and mapped to an answer in one exhaustive `match`; the
//! log line carries the detail, the client sees only the token.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

use crate::auth::{self, Verdict};
use crate::config::Config;
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::ratelimit::{self, Outcome, Reservation};
use crate::reply::{AccountAnswer, Answer, HostAnswer, HostLine};
use crate::request::{self, AddressError, Addresses, Env, HostArg, HostsError, RejectError, Request};
use crate::store::{HostWrite, Store, StoreError, User};

/// A failure that ends the request with one account-level answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpdateError {
    /// The request is not a well-formed update (method, path, encoding, body).
    #[error(transparent)]
    Reject(#[from] RejectError),
    /// No credentials at all: answered with the Basic challenge.
    #[error("no credentials")]
    NoCredentials,
    /// Unknown user or wrong password; the log says which, the client cannot tell.
    #[error("authentication failed for user `{username}` ({reason})")]
    BadCredentials { username: String, reason: &'static str },
    /// No hostname parameter.
    #[error("no hostname given")]
    NoHostname,
    /// More hostnames than dyndns2 allows.
    #[error("{n_hosts} hostnames given, at most {} allowed", request::MAX_HOSTS)]
    TooManyHosts { n_hosts: usize },
    /// The addresses cannot be used.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The database failed (missing, locked past the busy timeout, read-only, corrupt).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Chooses the answer for each failure. No `_` arm: a new variant needs a decision here.
pub(crate) fn answer_for(err: &UpdateError) -> AccountAnswer {
    match err {
        UpdateError::Reject(RejectError::MethodNotAllowed { .. }) => AccountAnswer::MethodNotAllowed,
        UpdateError::Reject(RejectError::NotFound { .. }) => AccountAnswer::NotFound,
        UpdateError::Reject(
            RejectError::BodyTooLarge { .. }
            | RejectError::UnsupportedContentType { .. }
            | RejectError::Malformed { .. },
        ) => AccountAnswer::Badagent,
        UpdateError::NoCredentials | UpdateError::BadCredentials { .. } => AccountAnswer::Badauth,
        UpdateError::NoHostname => AccountAnswer::Notfqdn,
        UpdateError::TooManyHosts { .. } => AccountAnswer::Numhost,
        UpdateError::Address(_) => AccountAnswer::Badip,
        UpdateError::Store(_) => AccountAnswer::ServerError,
    }
}

/// What the handler learned, for the transport's request log line.
#[derive(Debug)]
pub(crate) struct Handled {
    pub(crate) answer: Answer,
    pub(crate) format: request::Format,
    pub(crate) user: Option<String>,
    pub(crate) client: Option<IpAddr>,
    pub(crate) hosts: Vec<String>,
}

/// Handles one request. `now` is seconds since the Unix epoch.
pub(crate) fn handle(config: &Config, store: &mut Store, env: &Env, body: &[u8], now: i64, log: &Log) -> Handled {
    let request = match request::parse(env, body, config) {
        Ok(r) => r,
        Err(e) => {
            let client = request::client(env, config);
            warn_proxy_fallback(client.ip(), client.fallback(), log);
            let answer = match reserve(config, store, client.ip(), None, now, log) {
                Err(refused) => refused,
                Ok(reservation) => {
                    log.info(format_args!("rejected: {e}"));
                    settle(store, reservation, Outcome::Bad, now, log);
                    Answer::Account(answer_for(&UpdateError::Reject(e)))
                }
            };
            return Handled {
                answer,
                format: request::Format::Text,
                user: None,
                client: client.ip(),
                hosts: Vec::new(),
            };
        }
    };
    warn_proxy_fallback(request.client, request.proxy_fallback, log);
    let mut handled = Handled {
        answer: Answer::Hosts(Vec::new()),
        format: request.format,
        user: request.credentials.as_ref().map(|c| c.username.clone()),
        client: request.client,
        hosts: match &request.hostnames {
            Ok(list) => list
                .iter()
                .map(|h| match h {
                    HostArg::Valid(s) | HostArg::NotFqdn(s) => s.clone(),
                })
                .collect(),
            Err(_) => Vec::new(),
        },
    };
    let username = request.credentials.as_ref().map(|c| c.username.as_str());
    // Before any Argon2 work, check and count in one step: a limited request costs one
    // indexed read per counter, and parallel attempts each count.
    let reservation = match reserve(config, store, request.client, username, now, log) {
        Ok(r) => r,
        Err(refused) => {
            handled.answer = refused;
            return handled;
        }
    };
    let result = update(config, store, &request, now, log);
    settle(store, reservation, outcome(&result), now, log);
    handled.answer = match result {
        Ok(lines) => Answer::Hosts(lines),
        Err(e) => {
            match &e {
                UpdateError::Store(_) => log.error(format_args!("{e}")),
                _ => log.info(format_args!("{e}")),
            }
            Answer::Account(answer_for(&e))
        }
    };
    handled
}

/// Logs that a trusted proxy's header could not be used and the proxy stands in for the
/// client. The header's value is not logged: whoever sent it chose it.
fn warn_proxy_fallback(client: Option<IpAddr>, fallback: Option<&'static str>, log: &Log) {
    if let (Some(proxy), Some(reason)) = (client, fallback) {
        log.warn(format_args!("client address: {reason}; using the proxy address {proxy} for logs and rate limits"));
    }
}

/// Reserves the attempt with the rate limiter; `Err(abuse)` when over a limit, `Err(911)`
/// when the attempt cannot be counted (locked or read-only database): letting it through
/// would make the limit fail open exactly when the database is under load.
fn reserve(
    config: &Config,
    store: &mut Store,
    client: Option<IpAddr>,
    username: Option<&str>,
    now: i64,
    log: &Log,
) -> Result<Reservation, Answer> {
    match ratelimit::reserve(&config.rate_limit, store, client, username, now) {
        Ok(Ok(reservation)) => Ok(reservation),
        Ok(Err(l)) => {
            log.warn(format_args!(
                "rate limit: {} `{}` made {} counted requests in {} s; answering abuse",
                l.scope, l.key, l.n_requests, l.window_seconds
            ));
            Err(Answer::Account(AccountAnswer::Abuse))
        }
        Err(e) => {
            log.error(format_args!("cannot reserve the rate limit for this request: {e}"));
            Err(Answer::Account(AccountAnswer::ServerError))
        }
    }
}

/// Settles the reservation with the outcome. A failure leaves the attempt counted as bad,
/// which is the safe side; the answer stands.
fn settle(store: &mut Store, reservation: Reservation, outcome: Outcome, now: i64, log: &Log) {
    if let Err(e) = ratelimit::settle(store, reservation, outcome, now) {
        log.error(format_args!("cannot settle the rate limit as {outcome:?}; the request stays counted as bad: {e}"));
    }
}

/// How a handled request counts towards the rate limits. No `_` arm, like `answer_for`.
fn outcome(result: &Result<Vec<HostLine>, UpdateError>) -> Outcome {
    match result {
        Ok(lines) => {
            let good = lines.iter().any(|l| matches!(l.answer, HostAnswer::Good(_) | HostAnswer::Nochg(_)));
            let bad = lines.iter().any(|l| matches!(l.answer, HostAnswer::Nohost | HostAnswer::Notfqdn));
            match (good, bad) {
                (true, _) => Outcome::Good,
                (false, true) => Outcome::Bad,
                (false, false) => Outcome::Neutral,
            }
        }
        Err(
            UpdateError::Reject(_)
            | UpdateError::BadCredentials { .. }
            | UpdateError::NoHostname
            | UpdateError::TooManyHosts { .. }
            | UpdateError::Address(_),
        ) => Outcome::Bad,
        Err(UpdateError::NoCredentials | UpdateError::Store(_)) => Outcome::Neutral,
    }
}

fn update(
    config: &Config,
    store: &mut Store,
    request: &Request,
    now: i64,
    log: &Log,
) -> Result<Vec<HostLine>, UpdateError> {
    let user = authenticate(config, store, request, log)?;
    let hostnames = request.hostnames.as_ref().map_err(|e| match e {
        HostsError::Missing => UpdateError::NoHostname,
        HostsError::TooMany { n_hosts } => UpdateError::TooManyHosts { n_hosts: *n_hosts },
    })?;
    let addresses = request.addresses.clone()?;
    let mut lines = Vec::with_capacity(hostnames.len());
    for arg in hostnames {
        let line = match arg {
            HostArg::NotFqdn(raw) => {
                log.info(format_args!("not a valid FQDN: `{raw}`"));
                HostLine { hostname: raw.clone(), answer: HostAnswer::Notfqdn }
            }
            HostArg::Valid(fqdn) => {
                let answer = match update_host(config, store, &user, fqdn, addresses, now, log) {
                    Ok(a) => a,
                    Err(e) => {
                        log.error(format_args!("{fqdn}: {e}"));
                        HostAnswer::ServerError
                    }
                };
                HostLine { hostname: fqdn.clone(), answer }
            }
        };
        lines.push(line);
    }
    Ok(lines)
}

fn authenticate(config: &Config, store: &mut Store, request: &Request, log: &Log) -> Result<User, UpdateError> {
    let Some(creds) = &request.credentials else { return Err(UpdateError::NoCredentials) };
    // Bound before hashing: Argon2 accepts any length, an attacker should not choose the cost.
    // Over-long credentials are never looked up, and take the dummy's path.
    let too_long = creds.username.len() > 256 || creds.password.expose().len() > 1024;
    let user = if too_long { None } else { store.user(&creds.username)? };
    // Read for known and unknown users alike, so both paths ask the database the same.
    let dummy = auth::Dummy::new(&store.recent_password_hashes(auth::DUMMY_SAMPLE)?, &config.auth);
    match &user {
        Some(u) => log.debug(format_args!("verifying the password of `{}` with argon2", u.name)),
        None if too_long => log.debug(format_args!(
            "credentials over the length bound (user name 256, password 1024 bytes): not verified; \
             a dummy argon2 hash with {dummy} takes the time"
        )),
        None => log.debug(format_args!(
            "unknown user `{}`: verifying against a dummy argon2 hash with {dummy}",
            creds.username
        )),
    }
    let stored = user.as_ref().map(|u| u.password_hash.as_str());
    let verdict = auth::verify(creds.password.expose(), stored, &dummy, &config.auth);
    let (Some(user), Verdict::Valid { rehash }) = (user.as_ref(), verdict) else {
        let reason = match (&user, too_long) {
            (_, true) => "credentials too long",
            (None, false) => "unknown user",
            (Some(_), false) => "wrong password",
        };
        return Err(UpdateError::BadCredentials { username: creds.username.clone(), reason });
    };
    if rehash {
        // Upgrade to the configured cost while we hold the password; failure is harmless.
        match auth::hash_password(creds.password.expose(), &config.auth) {
            Ok(h) => match store.set_password_hash(user.id, &h) {
                Ok(()) => log.info(format_args!("upgraded password hash of `{}`", user.name)),
                Err(e) => log.warn(format_args!("cannot upgrade password hash of `{}`: {e}", user.name)),
            },
            Err(e) => log.warn(format_args!("cannot upgrade password hash of `{}`: {e}", user.name)),
        }
    }
    Ok(user.clone())
}

/// Updates one hostname. Holds the database write lock across the DNS exchange so the row
/// and the DNS records move together.
fn update_host(
    config: &Config,
    store: &mut Store,
    user: &User,
    fqdn: &str,
    new: Addresses,
    now: i64,
    log: &Log,
) -> Result<HostAnswer, StoreError> {
    store.with_host_locked(fqdn, |host| {
        let Some(host) = host.filter(|h| h.user_id == user.id) else {
            log.info(format_args!("{fqdn}: no such hostname for user `{}`", user.name));
            return Ok((HostWrite::None, HostAnswer::Nohost));
        };
        let unchanged = new.ipv4.is_none_or(|a| Some(a) == host.ipv4) && new.ipv6.is_none_or(|a| Some(a) == host.ipv6);
        if unchanged && !host.expired {
            log.info(format_args!("{fqdn}: no change ({})", show(new.ipv4, new.ipv6)));
            return Ok((HostWrite::Touch { now }, HostAnswer::Nochg(new)));
        }
        let Some(zone) = config.zone(&host.zone) else {
            log.error(format_args!("{fqdn}: zone `{}` is not configured in {}", host.zone, config.path.display()));
            return Ok((HostWrite::None, HostAnswer::Dnserr));
        };
        let started = std::time::Instant::now();
        let sent = Name::from_ascii(format!("{fqdn}."))
            .map_err(|e| DnsError::Malformed { server: zone.server, reason: e.to_string() })
            .and_then(|name| dns::replace_message(&zone.name, &name, host.dns_ttl, new.ipv4, new.ipv6))
            .and_then(|message| dns::exchange(zone, message, u64::try_from(now).unwrap_or(0)));
        log.debug(format_args!("{fqdn}: DNS exchange with {} took {} ms", zone.server, started.elapsed().as_millis()));
        if let Err(e) = sent {
            log.error(format_args!("{fqdn}: DNS update failed: {e}"));
            return Ok((HostWrite::None, HostAnswer::Dnserr));
        }
        // An expired host has no records left: the family not sent now stays absent.
        let (old_v4, old_v6) = if host.expired { (None, None) } else { (host.ipv4, host.ipv6) };
        let (ipv4, ipv6) = (new.ipv4.or(old_v4), new.ipv6.or(old_v6));
        log.info(format_args!("{fqdn}: updated ({})", show(new.ipv4, new.ipv6)));
        Ok((HostWrite::Addresses { ipv4, ipv6, now }, HostAnswer::Good(new)))
    })
}

fn show(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>) -> String {
    let v4 = ipv4.map_or_else(|| "-".to_owned(), |a| a.to_string());
    let v6 = ipv6.map_or_else(|| "-".to_owned(), |a| a.to_string());
    format!("ipv4={v4} ipv6={v6}")
}
