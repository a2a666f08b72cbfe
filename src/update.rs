//! The request handler shared by every transport: parse, authenticate, then update each
//! hostname under the database lock and answer in dyndns2. The database changes only after
//! the DNS server answered NOERROR, so the stored state never claims more than DNS has. All
//! failures are typed ([`UpdateError`]) and mapped to an answer in one exhaustive `match`; the
//! log line carries the detail, the client sees only the token.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

use crate::auth::token::{self, RecordType, Scope};
use crate::auth::{self, Verdict};
use crate::config::{Config, Zone};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::ratelimit::{self, Outcome, Reservation};
use crate::reply::{AccountAnswer, Answer, HostAnswer, HostLine};
use crate::request::{
    self, AddressError, Addresses, Credentials, Env, HostArg, HostsError, Intent, RejectError, Request, TtlError,
    TxtChange, TxtError,
};
use crate::secret::Secret;
use crate::store::{Host, HostWrite, Store, StoreError, User};

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
    /// A host token that is unknown, presented for another hostname or user, or used outside
    /// its scope; the reason names which, never the token.
    #[error("token refused: {reason}")]
    BadToken { reason: String },
    /// No hostname parameter.
    #[error("no hostname given")]
    NoHostname,
    /// More hostnames than dyndns2 allows.
    #[error("{n_hosts} hostnames given, at most {} allowed", request::MAX_HOSTS)]
    TooManyHosts { n_hosts: usize },
    /// The addresses cannot be used.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The requested TTL is malformed or outside the configured bounds.
    #[error(transparent)]
    Ttl(#[from] TtlError),
    /// The `txt` value is too long or not printable ASCII.
    #[error(transparent)]
    Txt(#[from] TxtError),
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
            | RejectError::ShortBody { .. }
            | RejectError::UnsupportedContentType { .. }
            | RejectError::Malformed { .. },
        ) => AccountAnswer::Badagent,
        UpdateError::NoCredentials | UpdateError::BadCredentials { .. } | UpdateError::BadToken { .. } => {
            AccountAnswer::Badauth
        }
        UpdateError::NoHostname => AccountAnswer::Notfqdn,
        UpdateError::TooManyHosts { .. } => AccountAnswer::Numhost,
        UpdateError::Address(_) => AccountAnswer::Badip,
        UpdateError::Ttl(_) => AccountAnswer::Badttl,
        // dyndns2 has no token for a bad TXT value; it is a malformed request.
        UpdateError::Txt(_) => AccountAnswer::Badagent,
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
        user: request.credentials.as_ref().and_then(Credentials::username).map(str::to_owned),
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
    let username = request.credentials.as_ref().and_then(Credentials::username);
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
    if let Ok(lines) = &result {
        // Outside every lock: a slow secondary delays only this answer.
        crate::confirm::published(config, lines, log);
    }
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
            | UpdateError::BadToken { .. }
            | UpdateError::NoHostname
            | UpdateError::TooManyHosts { .. }
            | UpdateError::Address(_)
            | UpdateError::Ttl(_)
            | UpdateError::Txt(_),
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
    let Authorized { user, token_host } = authenticate(config, store, request, now, log)?;
    // `/update/TOKEN` names no hostname: the token's own is meant.
    let from_token: Vec<HostArg>;
    let hostnames = match (token_host, &request.hostnames) {
        (Some(fqdn), Err(HostsError::Missing)) => {
            from_token = vec![HostArg::Valid(fqdn)];
            &from_token
        }
        (_, hostnames) => hostnames.as_ref().map_err(|e| match e {
            HostsError::Missing => UpdateError::NoHostname,
            HostsError::TooMany { n_hosts } => UpdateError::TooManyHosts { n_hosts: *n_hosts },
        })?,
    };
    let change = match request.intent {
        Intent::Update => {
            let addresses = request.addresses.clone()?;
            let ttl = request.ttl.clone()?;
            if let Some(prefix) = request.ipv6_prefix {
                log.debug(format_args!("IPv6 prefix `{prefix}` checked; prefixes are not published yet"));
            }
            let txt = request.txt.clone().transpose()?;
            Change::Publish(Publish { addresses, ttl, txt })
        }
        Intent::Offline => {
            // Checked although unused: a client that sends a bad TTL learns it either way.
            request.ttl.clone()?;
            Change::Offline
        }
    };
    let mut lines = Vec::with_capacity(hostnames.len());
    for arg in hostnames {
        let line = match arg {
            HostArg::NotFqdn(raw) => {
                log.info(format_args!("not a valid FQDN: `{raw}`"));
                HostLine { hostname: raw.clone(), answer: HostAnswer::Notfqdn }
            }
            HostArg::Valid(fqdn) => {
                let result = match &change {
                    Change::Publish(publish) => update_host(config, store, &user, fqdn, publish, now, log),
                    Change::Offline => offline_host(config, store, &user, fqdn, now, log),
                };
                let answer = match result {
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

/// What a request does to each of its hosts.
#[derive(Clone, Debug)]
enum Change {
    Publish(Publish),
    /// Remove the host's A, AAAA and TXT records.
    Offline,
}

/// Publish these addresses (and TXT change), with this TTL when the client asked for one.
#[derive(Clone, Debug)]
struct Publish {
    addresses: Addresses,
    ttl: Option<u32>,
    txt: Option<TxtChange>,
}

/// Whom a request acts for: a user by password, or the owner of one hostname by its token.
#[derive(Debug)]
struct Authorized {
    user: User,
    /// Set for a token: the only hostname the request may change.
    token_host: Option<String>,
}

/// Checks the credentials. Whether a secret is checked as a token or as a password depends
/// on its shape alone (`token::looks_like`), never on the database: a token costs one SHA-256
/// digest and an indexed read, a password always one Argon2 run (against a dummy hash for
/// unknown users). So for a given secret the work, and the time, are the same whether the
/// user name exists or not, and unknown users, wrong passwords and wrong tokens all answer
/// `badauth`. `user add`/`user passwd` refuse passwords of the token's shape.
fn authenticate(
    config: &Config,
    store: &mut Store,
    request: &Request,
    now: i64,
    log: &Log,
) -> Result<Authorized, UpdateError> {
    let Some(creds) = &request.credentials else { return Err(UpdateError::NoCredentials) };
    let (username, secret) = match creds {
        Credentials::Password { username, password } => (Some(username.as_str()), password),
        Credentials::Token { token } => (None, token),
    };
    if token::looks_like(secret.expose()) {
        return authenticate_token(store, request, username, secret, now, log);
    }
    let Some(username) = username else {
        return Err(UpdateError::BadToken { reason: "a secret without a user name that is not a token".to_owned() });
    };
    let user = authenticate_password(config, store, username, secret, log)?;
    Ok(Authorized { user, token_host: None })
}

fn authenticate_password(
    config: &Config,
    store: &mut Store,
    username: &str,
    password: &Secret<String>,
    log: &Log,
) -> Result<User, UpdateError> {
    // Bound before hashing: Argon2 accepts any length, an attacker should not choose the cost.
    // Over-long credentials are never looked up, and take the dummy's path.
    let too_long = username.len() > 256 || password.expose().len() > 1024;
    let user = if too_long { None } else { store.user(username)? };
    // Read for known and unknown users alike, so both paths ask the database the same.
    let dummy = auth::Dummy::new(&store.recent_password_hashes(auth::DUMMY_SAMPLE)?, &config.auth);
    match &user {
        Some(u) => log.debug(format_args!("verifying the password of `{}` with argon2", u.name)),
        None if too_long => log.debug(format_args!(
            "credentials over the length bound (user name 256, password 1024 bytes): not verified; \
             a dummy argon2 hash with {dummy} takes the time"
        )),
        None => {
            log.debug(format_args!("unknown user `{username}`: verifying against a dummy argon2 hash with {dummy}"))
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
        return Err(UpdateError::BadCredentials { username: username.to_owned(), reason });
    };
    if rehash {
        // Upgrade to the configured cost while we hold the password; failure is harmless.
        match auth::hash_password(password.expose(), &config.auth) {
            Ok(h) => match store.set_password_hash(user.id, &h) {
                Ok(()) => log.info(format_args!("upgraded password hash of `{}`", user.name)),
                Err(e) => log.warn(format_args!("cannot upgrade password hash of `{}`: {e}", user.name)),
            },
            Err(e) => log.warn(format_args!("cannot upgrade password hash of `{}`: {e}", user.name)),
        }
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
    // The types this request would change; unusable addresses change nothing (`badip`).
    let wanted: Vec<RecordType> = match &request.addresses {
        Ok(a) => [
            (a.ipv4.is_some(), RecordType::A),
            (a.ipv6.is_some(), RecordType::Aaaa),
            (matches!(request.txt, Some(Ok(_))), RecordType::Txt),
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
    Ok(Authorized { user: grant.owner, token_host: Some(grant.host.fqdn) })
}

/// Updates one hostname. Holds the database write lock across the DNS exchange so the row
/// and the DNS records move together. A host that is expired or offline has no records, so
/// any update restores it (`good`, never `nochg`).
fn update_host(
    config: &Config,
    store: &mut Store,
    user: &User,
    fqdn: &str,
    publish: &Publish,
    now: i64,
    log: &Log,
) -> Result<HostAnswer, StoreError> {
    let Publish { addresses: new, ttl, txt } = publish;
    let (new, txt) = (*new, txt.as_ref());
    store.with_host_locked(fqdn, |host| {
        let Some(host) = host.filter(|h| h.user_id == user.id) else {
            log.info(format_args!("{fqdn}: no such hostname for user `{}`", user.name));
            return Ok((HostWrite::None, HostAnswer::Nohost));
        };
        let dns_ttl = ttl.unwrap_or(host.dns_ttl);
        let unchanged = new.ipv4.is_none_or(|a| Some(a) == host.ipv4) && new.ipv6.is_none_or(|a| Some(a) == host.ipv6);
        let txt_after = txt_after(host, txt);
        let unchanged = unchanged && (txt.is_none() || txt_after == host.txt);
        if unchanged && dns_ttl == host.dns_ttl && !host.expired && !host.offline {
            log.info(format_args!("{fqdn}: no change ({})", show(new.ipv4, new.ipv6)));
            return Ok((HostWrite::Touch { now }, HostAnswer::Nochg(new)));
        }
        let Some(zone) = zone_of(config, &host.zone, fqdn, log) else {
            return Ok((HostWrite::None, HostAnswer::Dnserr));
        };
        // An expired or offline host has no records left: the family not sent now stays absent.
        let (old_v4, old_v6) = if host.expired || host.offline { (None, None) } else { (host.ipv4, host.ipv6) };
        let (ipv4, ipv6) = (new.ipv4.or(old_v4), new.ipv6.or(old_v6));
        // A new TTL is the host's, not one family's: the family not sent now is sent again
        // with it, so both rrsets carry the TTL the row stores.
        let (send_v4, send_v6) = if dns_ttl == host.dns_ttl { (new.ipv4, new.ipv6) } else { (ipv4, ipv6) };
        let sent = Name::from_ascii(format!("{fqdn}."))
            .map_err(|e| DnsError::Malformed { server: zone.server, reason: e.to_string() })
            .and_then(|name| {
                let mut message = dns::replace_message(&zone.name, &name, dns_ttl, send_v4, send_v6)?;
                add_txt(&mut message, &name, dns_ttl, txt, txt_after.as_deref(), dns_ttl != host.dns_ttl);
                Ok(message)
            })
            .and_then(|message| exchange(zone, message, fqdn, now, log));
        if let Err(e) = sent {
            log.error(format_args!("{fqdn}: DNS update failed: {e}"));
            return Ok((HostWrite::None, HostAnswer::Dnserr));
        }
        log.info(format_args!("{fqdn}: updated ({}{}, ttl {dns_ttl})", show(new.ipv4, new.ipv6), show_txt(txt)));
        Ok((HostWrite::Addresses { ipv4, ipv6, txt: txt_after, dns_ttl, now }, HostAnswer::Good(new)))
    })
}

/// Takes one hostname offline (dyndns2 `offline=yes`, `/nic/delete`): removes its A, AAAA and
/// TXT records in one UPDATE, then clears its addresses and TXT value and marks it offline. `nochg` when it
/// already is.
fn offline_host(
    config: &Config,
    store: &mut Store,
    user: &User,
    fqdn: &str,
    now: i64,
    log: &Log,
) -> Result<HostAnswer, StoreError> {
    let none = Addresses { ipv4: None, ipv6: None };
    store.with_host_locked(fqdn, |host| {
        let Some(host) = host.filter(|h| h.user_id == user.id) else {
            log.info(format_args!("{fqdn}: no such hostname for user `{}`", user.name));
            return Ok((HostWrite::None, HostAnswer::Nohost));
        };
        if host.offline {
            log.info(format_args!("{fqdn}: already offline"));
            return Ok((HostWrite::Touch { now }, HostAnswer::Nochg(none)));
        }
        let Some(zone) = zone_of(config, &host.zone, fqdn, log) else {
            return Ok((HostWrite::None, HostAnswer::Dnserr));
        };
        // Deleting an rrset that does not exist is a no-op (RFC 2136 §3.4.2.3), so an expired
        // host or one that never had records goes offline the same way.
        let sent = Name::from_ascii(format!("{fqdn}."))
            .map_err(|e| DnsError::Malformed { server: zone.server, reason: e.to_string() })
            .and_then(|name| dns::delete_message(&zone.name, &name))
            .and_then(|message| exchange(zone, message, fqdn, now, log));
        if let Err(e) = sent {
            log.error(format_args!("{fqdn}: DNS update failed: {e}"));
            return Ok((HostWrite::None, HostAnswer::Dnserr));
        }
        log.info(format_args!("{fqdn}: offline (A, AAAA and TXT removed)"));
        Ok((HostWrite::Offline { now }, HostAnswer::Good(none)))
    })
}

/// The configured zone of a host, or `None` (logged) when the config no longer has it.
fn zone_of<'a>(config: &'a Config, zone: &str, fqdn: &str, log: &Log) -> Option<&'a Zone> {
    let found = config.zone(zone);
    if found.is_none() {
        log.error(format_args!("{fqdn}: zone `{zone}` is not configured in {}", config.path.display()));
    }
    found
}

/// Signs and sends one message for `fqdn`, logging how long the exchange took.
fn exchange(zone: &Zone, message: hickory_proto::op::Message, fqdn: &str, now: i64, log: &Log) -> Result<(), DnsError> {
    let started = std::time::Instant::now();
    let result = dns::exchange(zone, message, u64::try_from(now).unwrap_or(0));
    log.debug(format_args!("{fqdn}: DNS exchange with {} took {} ms", zone.server, started.elapsed().as_millis()));
    result.map(|_| ())
}

fn show(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>) -> String {
    let v4 = ipv4.map_or_else(|| "-".to_owned(), |a| a.to_string());
    let v6 = ipv6.map_or_else(|| "-".to_owned(), |a| a.to_string());
    format!("ipv4={v4} ipv6={v6}")
}

/// The TXT value a host holds after an update: the request's, else the row's (none for an
/// expired or offline host, whose records are gone).
fn txt_after(host: &Host, change: Option<&TxtChange>) -> Option<String> {
    match change {
        Some(TxtChange::Set(value)) => Some(value.clone()),
        Some(TxtChange::Clear) => None,
        None if host.expired || host.offline => None,
        None => host.txt.clone(),
    }
}

/// Adds the TXT part of a host's update to its message: the requested change, or the kept
/// value again when the TTL changes, so all of the host's rrsets carry the stored TTL.
fn add_txt(
    message: &mut hickory_proto::op::Message,
    name: &Name,
    ttl: u32,
    change: Option<&TxtChange>,
    after: Option<&str>,
    ttl_changed: bool,
) {
    if change.is_some() || (ttl_changed && after.is_some()) {
        dns::replace_txt(message, name, ttl, after.as_slice());
    }
}

fn show_txt(change: Option<&TxtChange>) -> &'static str {
    match change {
        Some(TxtChange::Set(_)) => " txt=set",
        Some(TxtChange::Clear) => " txt=removed",
        None => "",
    }
}
