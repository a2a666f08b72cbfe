//! The request handler shared by every transport: parse, authenticate, then update each
//! hostname under its host lock and answer in dyndns2. The database changes only after
//! the DNS server answered NOERROR, so the stored state never claims more than DNS has. All
//! failures are typed ([`UpdateError`]) and mapped to an answer in one exhaustive `match`; the
//! log line carries the detail, the client sees only the token.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

use crate::audit::{self, AuthMethod, Origin, Records, Refusal};
use crate::auth::token::{self, RecordType, Scope};
use crate::auth::{self, PasswordCache, Verdict};
use crate::config::{Config, Zone};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::ratelimit::{self, Outcome, Reservation};
use crate::relay;
use crate::reply::{AccountAnswer, Answer, HostAnswer, HostLine};
use crate::request::{
    self, AddressError, Addresses, Credentials, Env, HostArg, HostsError, Intent, RejectError, Request, TtlError,
    TxtChange, TxtError,
};
use crate::secret::Secret;
use crate::store::{AuditRow, AuditWrite, Host, HostWrite, Store, StoreError, User};

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

/// What a FastCGI process keeps across requests; CGI has none of it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Resident<'a> {
    /// Verified passwords (`auth::PasswordCache`).
    pub(crate) passwords: Option<&'a PasswordCache>,
    /// The group commit (`batch`).
    pub(crate) batcher: Option<&'a Batcher>,
}

/// Handles one request. `now` is seconds since the Unix epoch.
pub(crate) fn handle(
    config: &Config,
    store: &mut Store,
    resident: Resident<'_>,
    env: &Env,
    body: &[u8],
    now: i64,
    log: &Log,
) -> Handled {
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
                    let reason = e.to_string();
                    let answer = Answer::Account(answer_for(&UpdateError::Reject(e)));
                    let refusal = Refusal {
                        answer: &answer.summary(),
                        client: client.ip(),
                        user: None,
                        hostname: None,
                        reason: Some(&reason),
                    };
                    audit::record_refused(config, store, vec![refusal.row(log.txn(), now)], log);
                    answer
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
    let result = update(config, store, resident, &request, now, log);
    if let Ok(lines) = &result {
        // Outside every lock: a slow secondary delays only this answer.
        crate::confirm::published(config, lines, log);
    }
    settle(store, reservation, outcome(&result), now, log);
    record_refusals(config, store, &request, &result, now, log);
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

/// Records what the request was refused, as a whole or per hostname (`nohost`, `notfqdn`), in
/// the audit trail. Not recorded: the credential-less first request of wget-like clients
/// (answered with the Basic challenge, then retried with credentials) and server-side
/// failures (`911`), which the log holds. No `_` arm: a new error needs a decision here.
fn record_refusals(
    config: &Config,
    store: &mut Store,
    request: &Request,
    result: &Result<Vec<HostLine>, UpdateError>,
    now: i64,
    log: &Log,
) {
    let user = request.credentials.as_ref().and_then(Credentials::username);
    let refusal = |answer: &str, hostname: Option<&str>, reason: Option<&str>| {
        Refusal { answer, client: request.client, user, hostname, reason }.row(log.txn(), now)
    };
    let rows: Vec<AuditRow> = match result {
        Ok(lines) => lines
            .iter()
            .filter_map(|l| match l.answer {
                HostAnswer::Nohost => Some(refusal("nohost", Some(&l.hostname), None)),
                HostAnswer::Notfqdn => Some(refusal("notfqdn", Some(&l.hostname), None)),
                HostAnswer::Good(_) | HostAnswer::Nochg(_) | HostAnswer::Dnserr | HostAnswer::ServerError => None,
            })
            .collect(),
        Err(UpdateError::NoCredentials | UpdateError::Store(_)) => Vec::new(),
        Err(e @ UpdateError::BadCredentials { reason, .. }) => {
            vec![refusal(&Answer::Account(answer_for(e)).summary(), None, Some(reason))]
        }
        Err(e @ UpdateError::BadToken { reason }) => {
            vec![refusal(&Answer::Account(answer_for(e)).summary(), None, Some(reason))]
        }
        Err(
            e @ (UpdateError::Reject(_)
            | UpdateError::NoHostname
            | UpdateError::TooManyHosts { .. }
            | UpdateError::Address(_)
            | UpdateError::Ttl(_)
            | UpdateError::Txt(_)),
        ) => vec![refusal(&Answer::Account(answer_for(e)).summary(), None, Some(&e.to_string()))],
    };
    if !rows.is_empty() {
        audit::record_refused(config, store, rows, log);
    }
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
            let refusal = Refusal { answer: "abuse", client, user: username, hostname: None, reason: Some(l.scope) };
            audit::record_refused(config, store, vec![refusal.row(log.txn(), now)], log);
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
    resident: Resident<'_>,
    request: &Request,
    now: i64,
    log: &Log,
) -> Result<Vec<HostLine>, UpdateError> {
    let Authorized { user, auth, token_host } = authenticate(config, store, resident.passwords, request, now, log)?;
    let origin = Origin { client: request.client, auth, user: user.name.clone(), txn: log.txn().to_owned() };
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
    let mut relays = relay::Session::new(&config.relay);
    for arg in hostnames {
        let line = match arg {
            HostArg::NotFqdn(raw) => {
                log.info(format_args!("not a valid FQDN: `{raw}`"));
                HostLine { hostname: raw.clone(), answer: HostAnswer::Notfqdn }
            }
            HostArg::Valid(fqdn) => {
                let result = match &change {
                    // The local update (with the children that follow the host's prefix), and
                    // the host's relays to upstream providers, if any.
                    Change::Publish(publish) => {
                        let target = relay::Target { user: &user, fqdn, addresses: publish.addresses };
                        relay::around(store, &mut relays, target, now, log, |store| {
                            let fanned = match request.ipv6_prefix {
                                Some(prefix) => {
                                    fan_out(config, store, &user, &origin, fqdn, publish, prefix, now, log).transpose()
                                }
                                None => None,
                            };
                            fanned.unwrap_or_else(|| {
                                change_host(
                                    config,
                                    store,
                                    resident.batcher,
                                    &user,
                                    &origin,
                                    fqdn,
                                    change.clone(),
                                    now,
                                    log,
                                )
                            })
                        })
                    }
                    Change::Offline => {
                        change_host(config, store, resident.batcher, &user, &origin, fqdn, change.clone(), now, log)
                    }
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
    auth: AuthMethod,
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
    cache: Option<&PasswordCache>,
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
    let user = authenticate_password(config, store, cache, username, secret, now, log)?;
    Ok(Authorized { user, auth: AuthMethod::Password, token_host: None })
}

/// Checks a password with Argon2, unless `cache` remembers that this password verified
/// against the user's current stored hash (a correct repeat; never a wrong password).
fn authenticate_password(
    config: &Config,
    store: &mut Store,
    cache: Option<&PasswordCache>,
    username: &str,
    password: &Secret<String>,
    now: i64,
    log: &Log,
) -> Result<User, UpdateError> {
    // Bound before hashing: Argon2 accepts any length, an attacker should not choose the cost.
    // Over-long credentials are never looked up, and take the dummy's path.
    let too_long = username.len() > 256 || password.expose().len() > 1024;
    let user = if too_long { None } else { store.user(username)? };
    if let (Some(cache), Some(u)) = (cache, &user)
        && cache.hit(&u.name, &u.password_hash, password.expose(), now)
    {
        log.debug(format_args!("password of `{}` verified earlier by this process: no argon2 run", u.name));
        return Ok(u.clone());
    }
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
    Ok(Authorized { user: grant.owner, auth: AuthMethod::Token, token_host: Some(grant.host.fqdn) })
}

/// One change of one hostname, as the group commit sees it: whose, what, and the log of the
/// request it came from.
#[derive(Debug)]
pub(crate) struct Pending {
    fqdn: String,
    user_id: i64,
    user_name: String,
    change: Change,
    log: Log,
    /// For the audit trail.
    origin: Origin,
}

/// The group commit of FastCGI mode (see `batch`).
pub(crate) type Batcher = crate::batch::Batcher<Pending, HostAnswer>;

/// Changes one hostname: in CGI on its own; in FastCGI through the zone's group commit, where
/// changes that arrive while another of the zone is in flight go in one message together.
#[allow(clippy::too_many_arguments, reason = "the handler's context, passed down as is")]
fn change_host(
    config: &Config,
    store: &mut Store,
    batcher: Option<&Batcher>,
    user: &User,
    origin: &Origin,
    fqdn: &str,
    change: Change,
    now: i64,
    log: &Log,
) -> Result<HostAnswer, StoreError> {
    let pending = Pending {
        fqdn: fqdn.to_owned(),
        user_id: user.id,
        user_name: user.name.clone(),
        change,
        log: log.clone(),
        origin: origin.clone(),
    };
    let Some(batcher) = batcher else {
        return Ok(run_changes(config, store, vec![pending], now).pop().unwrap_or(HostAnswer::ServerError));
    };
    // A host's zone never changes, so it can be read before the host's lock is taken.
    let Some(host) = store.host(fqdn)? else {
        log.info(format_args!("{fqdn}: no such hostname for user `{}`", user.name));
        return Ok(HostAnswer::Nohost);
    };
    // A change that, as the row stands, needs no DNS (`nochg`, the common repeat) would only
    // wait in the zone's queue: it runs at once under its own lock, which decides again on
    // the row as it is then (and sends its own message if it now needs one).
    if host.user_id == user.id && matches!(HostState::of(&host).apply(&pending.change), HostAnswer::Nochg(_)) {
        return Ok(run_changes(config, store, vec![pending], now).pop().unwrap_or(HostAnswer::ServerError));
    }
    Ok(batcher.submit(&host.zone, pending, |batch| run_changes(config, store, batch, now), || HostAnswer::ServerError))
}

/// Changes `fqdn` and the hostnames derived from it (`fanout`) in one run, so that those of
/// one zone go in one UPDATE message with it. `None` when no hostname follows `fqdn` (or the
/// prefix length is outside /48../64, logged): then it is an ordinary change. The children's
/// answers are logged with the request's transaction id; the request answers for `fqdn`
/// alone. A child whose address is unchanged answers `nochg` in `run_changes` and is not sent;
/// a child that fails is sent again on its own (the per-host fallback) and fails alone.
#[allow(clippy::too_many_arguments, reason = "the handler's context, passed down as is")]
fn fan_out(
    config: &Config,
    store: &mut Store,
    user: &User,
    origin: &Origin,
    fqdn: &str,
    publish: &Publish,
    prefix: request::Ipv6Prefix,
    now: i64,
    log: &Log,
) -> Result<Option<HostAnswer>, StoreError> {
    let parent_ipv4 = match publish.addresses.ipv4 {
        Some(a) => Some(a),
        None => store.stored_ipv4(fqdn)?,
    };
    let crate::fanout::Plan { children, unusable } =
        match crate::fanout::plan(store, fqdn, user.id, prefix, parent_ipv4)? {
            Ok(plan) => plan,
            Err(crate::fanout::Skipped::PrefixLength(len)) => {
                log.warn(format_args!(
                    "{fqdn}: IPv6 prefix `{prefix}` is not fanned out: its length /{len} is outside /{}../{}",
                    crate::fanout::MIN_PREFIX_LEN,
                    crate::fanout::MAX_PREFIX_LEN
                ));
                return Ok(None);
            }
        };
    for child in &unusable {
        log.warn(format_args!("{child}: its interface id leaves no host bits under `{prefix}`; not updated"));
    }
    if children.is_empty() {
        log.debug(format_args!("{fqdn}: IPv6 prefix `{prefix}`: no hostname follows it"));
        return Ok(None);
    }
    let mut batch = vec![Pending {
        fqdn: fqdn.to_owned(),
        user_id: user.id,
        user_name: user.name.clone(),
        change: Change::Publish(publish.clone()),
        log: log.clone(),
        origin: origin.clone(),
    }];
    batch.extend(children.iter().map(|c| Pending {
        fqdn: c.fqdn.clone(),
        user_id: user.id,
        user_name: user.name.clone(),
        change: Change::Publish(Publish {
            addresses: Addresses { ipv4: c.ipv4, ipv6: Some(c.ipv6) },
            ttl: c.dns_ttl,
            txt: None,
        }),
        log: log.clone(),
        origin: origin.clone(),
    }));
    // Not through the group commit: its runs hold one zone, and the children may be in
    // others. The host locks order this run with every other change of these hosts.
    let mut answers = run_changes(config, store, batch, now).into_iter();
    let parent = answers.next().unwrap_or(HostAnswer::ServerError);
    for (child, answer) in children.iter().zip(answers) {
        log.info(format_args!(
            "{}: fan-out of `{prefix}` from `{}`: {}",
            child.fqdn,
            child.parent,
            match answer {
                HostAnswer::Good(_) => "good",
                HostAnswer::Nochg(_) => "nochg",
                HostAnswer::Nohost => "nohost",
                HostAnswer::Notfqdn => "notfqdn",
                HostAnswer::Dnserr => "dnserr",
                HostAnswer::ServerError => "911",
            }
        ));
    }
    Ok(Some(parent))
}

/// A host's state as far as its records go, replayed change by change.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostState {
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    txt: Option<String>,
    dns_ttl: u32,
    expired: bool,
    offline: bool,
}

impl HostState {
    fn of(host: &Host) -> HostState {
        HostState {
            ipv4: host.ipv4,
            ipv6: host.ipv6,
            txt: host.txt.clone(),
            dns_ttl: host.dns_ttl,
            expired: host.expired,
            offline: host.offline,
        }
    }

    /// What DNS holds: nothing for an expired or offline host.
    fn published(&self) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
        if self.expired || self.offline { (None, None) } else { (self.ipv4, self.ipv6) }
    }

    /// The TXT value DNS holds: none for an expired or offline host.
    fn published_txt(&self) -> Option<&str> {
        if self.expired || self.offline { None } else { self.txt.as_deref() }
    }

    /// Applies one change, as if it came alone: the answer it gets. A host that is expired or
    /// offline has no records, so any update restores it (`good`, never `nochg`); the family
    /// not sent stays absent.
    /// A TXT value (`txt=`) is set or cleared the same way; a request without one keeps the
    /// host's TXT as DNS holds it.
    fn apply(&mut self, change: &Change) -> HostAnswer {
        match change {
            Change::Publish(Publish { addresses: new, ttl, txt }) => {
                let new = *new;
                let dns_ttl = ttl.unwrap_or(self.dns_ttl);
                let txt_after = match txt {
                    Some(TxtChange::Set(value)) => Some(value.clone()),
                    Some(TxtChange::Clear) => None,
                    None => self.published_txt().map(str::to_owned),
                };
                let unchanged = new.ipv4.is_none_or(|a| Some(a) == self.ipv4)
                    && new.ipv6.is_none_or(|a| Some(a) == self.ipv6)
                    && (txt.is_none() || txt_after == self.txt);
                if unchanged && dns_ttl == self.dns_ttl && !self.expired && !self.offline {
                    return HostAnswer::Nochg(new);
                }
                let (old_v4, old_v6) = self.published();
                *self = HostState {
                    ipv4: new.ipv4.or(old_v4),
                    ipv6: new.ipv6.or(old_v6),
                    txt: txt_after,
                    dns_ttl,
                    expired: false,
                    offline: false,
                };
                HostAnswer::Good(new)
            }
            Change::Offline => {
                let none = Addresses { ipv4: None, ipv6: None };
                if self.offline {
                    return HostAnswer::Nochg(none);
                }
                *self = HostState { ipv4: None, ipv6: None, txt: None, offline: true, ..self.clone() };
                HostAnswer::Good(none)
            }
        }
    }
}

/// What to send to take a host from `before` to `after`; `None` when DNS stays as it is. A
/// new TTL is the host's, not one family's: both published families are sent again with it.
/// Going offline deletes both rrsets whatever the row says (deleting an absent rrset is a
/// no-op, RFC 2136 §3.4.2.3), so a host is never left half offline.
fn dns_change(fqdn: Name, before: &HostState, after: &HostState) -> Option<dns::HostChange> {
    use dns::Rrset;
    if after.offline {
        return (!before.offline).then_some(dns::HostChange {
            fqdn,
            ttl: after.dns_ttl,
            a: Rrset::Delete,
            aaaa: Rrset::Delete,
            txt: Rrset::Delete,
        });
    }
    if after.expired {
        return None;
    }
    let (old_v4, old_v6) = before.published();
    let new_ttl = after.dns_ttl != before.dns_ttl;
    fn rrset<T: PartialEq + Copy>(old: Option<T>, new: Option<T>, new_ttl: bool) -> Rrset<T> {
        match new {
            Some(a) if new_ttl || old != Some(a) => Rrset::Replace(a),
            Some(_) => Rrset::Keep,
            None if old.is_some() => Rrset::Delete,
            None => Rrset::Keep,
        }
    }
    let txt = match rrset(before.published_txt(), after.txt.as_deref(), new_ttl) {
        Rrset::Keep => Rrset::Keep,
        Rrset::Replace(value) => Rrset::Replace(value.to_owned()),
        Rrset::Delete => Rrset::Delete,
    };
    let change = dns::HostChange {
        fqdn,
        ttl: after.dns_ttl,
        a: rrset(old_v4, after.ipv4, new_ttl),
        aaaa: rrset(old_v6, after.ipv6, new_ttl),
        txt,
    };
    (change.a != Rrset::Keep || change.aaaa != Rrset::Keep || change.txt != Rrset::Keep).then_some(change)
}

/// One host of a run: its row, its changes' positions, and where its replay ended.
#[derive(Debug)]
struct Planned {
    row: Host,
    positions: Vec<usize>,
    state: HostState,
    /// The first of its changes that needs DNS; the answers from there on depend on it.
    first_sent: Option<usize>,
    change: Option<dns::HostChange>,
    failed: bool,
    /// What kept the change from DNS, for the audit trail and metrics (`audit::rcode_label`).
    error: Option<String>,
    /// Each change's position with the state before and after it, for the audit trail.
    steps: Vec<(usize, HostState, HostState)>,
}

/// Runs changes of hostnames under their host locks: reads the rows, replays each host's
/// changes in arrival order (so each request gets the answer it would get alone, in that
/// order; a change superseded by a later one of the same run still answers `good` with its
/// own addresses, as it would had it been sent and then replaced), sends one UPDATE per zone
/// for the hosts whose records change (split by size, over TCP when over a datagram's), and
/// writes the rows in one transaction. If a message with several hosts fails, each host is
/// sent on its own, so one refused name does not fail the others. A host whose change failed
/// answers `dnserr` from its first change that needed DNS on, and nothing of it is stored.
pub(crate) fn run_changes(config: &Config, store: &mut Store, batch: Vec<Pending>, now: i64) -> Vec<HostAnswer> {
    let mut fqdns: Vec<&str> = batch.iter().map(|p| p.fqdn.as_str()).collect();
    fqdns.sort_unstable();
    fqdns.dedup();
    let result = store.with_hosts_locked_audited(&fqdns, |rows| {
        let mut answers = vec![HostAnswer::ServerError; batch.len()];
        let mut planned: Vec<Option<Planned>> = Vec::with_capacity(fqdns.len());
        for (fqdn, row) in fqdns.iter().zip(rows) {
            let positions: Vec<usize> = (0..batch.len()).filter(|i| batch[*i].fqdn == *fqdn).collect();
            let Some(row) = row else {
                for i in &positions {
                    no_such_host(&batch[*i]);
                    answers[*i] = HostAnswer::Nohost;
                }
                planned.push(None);
                continue;
            };
            let mut state = HostState::of(row);
            let mut first_sent = None;
            let mut owned = Vec::new();
            let mut steps = Vec::new();
            for i in positions {
                if batch[i].user_id != row.user_id {
                    no_such_host(&batch[i]);
                    answers[i] = HostAnswer::Nohost;
                    continue;
                }
                let before = state.clone();
                answers[i] = state.apply(&batch[i].change);
                steps.push((i, before, state.clone()));
                if first_sent.is_none() && matches!(answers[i], HostAnswer::Good(_)) {
                    first_sent = Some(i);
                }
                owned.push(i);
            }
            if owned.is_empty() {
                planned.push(None);
                continue;
            }
            let (change, failed) = match Name::from_ascii(format!("{fqdn}.")) {
                Ok(name) => (dns_change(name, &HostState::of(row), &state), false),
                Err(e) => {
                    for i in owned.iter().filter(|i| Some(**i) >= first_sent) {
                        batch[*i].log.error(format_args!("{fqdn}: DNS update failed: not a DNS name: {e}"));
                    }
                    (None, first_sent.is_some())
                }
            };
            let error = failed.then(|| "badname".to_owned());
            planned.push(Some(Planned {
                row: row.clone(),
                positions: owned,
                state,
                first_sent,
                change,
                failed,
                error,
                steps,
            }));
        }
        send_planned(config, &mut planned, &batch, now);
        let writes = planned
            .iter()
            .map(|p| match p {
                None => HostWrite::None,
                Some(p) if p.failed => {
                    for i in p.positions.iter().filter(|i| Some(**i) >= p.first_sent) {
                        answers[*i] = HostAnswer::Dnserr;
                    }
                    HostWrite::None
                }
                Some(p) if p.state.offline => HostWrite::Offline { now },
                Some(p) if p.first_sent.is_none() => HostWrite::Touch { now },
                Some(p) => HostWrite::Addresses {
                    ipv4: p.state.ipv4,
                    ipv6: p.state.ipv6,
                    txt: p.state.txt.clone(),
                    dns_ttl: p.state.dns_ttl,
                    now,
                },
            })
            .collect();
        for p in planned.iter().flatten() {
            for i in &p.positions {
                log_answer(&batch[*i], &answers[*i], &p.state);
            }
        }
        let rows = planned.iter().flatten().flat_map(|p| audit_rows(p, &batch, &answers, now)).collect();
        let audit = AuditWrite { rows, keep: config.audit.keep_days > 0 };
        Ok::<_, StoreError>((writes, audit, answers))
    });
    match result {
        Ok(answers) => answers,
        Err(e) => {
            for p in &batch {
                p.log.error(format_args!("{}: {e}", p.fqdn));
            }
            vec![HostAnswer::ServerError; batch.len()]
        }
    }
}

/// The audit rows of one host's changes: `good`, `nochg` and `dnserr` answers, each from the
/// state before it to the state after it (what DNS holds: nothing for an offline host).
fn audit_rows(p: &Planned, batch: &[Pending], answers: &[HostAnswer], now: i64) -> Vec<AuditRow> {
    fn records(s: &HostState) -> Records<'_> {
        let (ipv4, ipv6) = s.published();
        Records { ipv4, ipv6, txt: s.published_txt() }
    }
    p.steps
        .iter()
        .filter_map(|(i, before, after)| {
            let (answer, rcode) = match answers[*i] {
                HostAnswer::Good(_) => ("good", None),
                HostAnswer::Nochg(_) => ("nochg", None),
                HostAnswer::Dnserr => ("dnserr", Some(p.error.as_deref().unwrap_or("unknown"))),
                HostAnswer::Nohost | HostAnswer::Notfqdn | HostAnswer::ServerError => return None,
            };
            let pending = &batch[*i];
            Some(audit::change(&pending.origin, &pending.fqdn, answer, &records(before), &records(after), rcode, now))
        })
        .collect()
}

fn no_such_host(p: &Pending) {
    p.log.info(format_args!("{}: no such hostname for user `{}`", p.fqdn, p.user_name));
}

fn log_answer(p: &Pending, answer: &HostAnswer, state: &HostState) {
    let fqdn = &p.fqdn;
    match (answer, &p.change) {
        (HostAnswer::Good(_), Change::Offline) => {
            p.log.info(format_args!("{fqdn}: offline (A, AAAA and TXT removed)"));
        }
        (HostAnswer::Good(new), Change::Publish(publish)) => p.log.info(format_args!(
            "{fqdn}: updated ({}{}, ttl {})",
            show(new.ipv4, new.ipv6),
            show_txt(publish.txt.as_ref()),
            state.dns_ttl
        )),
        (HostAnswer::Nochg(_), Change::Offline) => p.log.info(format_args!("{fqdn}: already offline")),
        (HostAnswer::Nochg(new), Change::Publish(_)) => {
            p.log.info(format_args!("{fqdn}: no change ({})", show(new.ipv4, new.ipv6)))
        }
        (HostAnswer::Nohost | HostAnswer::Notfqdn | HostAnswer::Dnserr | HostAnswer::ServerError, _) => {}
    }
}

/// Sends the planned changes, one message per zone as far as size allows; marks the hosts
/// whose change failed (logged to their requests).
fn send_planned(config: &Config, planned: &mut [Option<Planned>], batch: &[Pending], now: i64) {
    let fail = |p: &mut Planned, reason: &dyn std::fmt::Display, label: String| {
        p.failed = true;
        p.error = Some(label);
        for i in p.positions.iter().filter(|i| Some(**i) >= p.first_sent) {
            batch[*i].log.error(format_args!("{}: DNS update failed: {reason}", batch[*i].fqdn));
        }
    };
    let mut zones: Vec<String> =
        planned.iter().flatten().filter(|p| p.change.is_some()).map(|p| p.row.zone.clone()).collect();
    zones.sort_unstable();
    zones.dedup();
    for zone_name in zones {
        let members: Vec<usize> = (0..planned.len())
            .filter(|i| planned[*i].as_ref().is_some_and(|p| p.change.is_some() && p.row.zone == zone_name))
            .collect();
        let Some(zone) = config.zone(&zone_name) else {
            for i in members {
                if let Some(p) = planned[i].as_mut() {
                    batch[p.positions[0]].log.error(format_args!(
                        "{}: zone `{zone_name}` is not configured in {}",
                        p.row.fqdn,
                        config.path.display()
                    ));
                    fail(p, &"zone not configured", "notconfigured".to_owned());
                }
            }
            continue;
        };
        // Messages as large as TCP allows; hosts in name order (the lock order).
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut octets = 0;
        for i in members {
            let size = planned[i].as_ref().and_then(|p| p.change.as_ref()).map_or(0, dns::HostChange::wire_estimate);
            match groups.last_mut() {
                Some(group) if octets + size <= dns::MAX_BATCH_OCTETS => group.push(i),
                _ => {
                    groups.push(vec![i]);
                    octets = 0;
                }
            }
            octets += size;
        }
        for group in groups {
            let changes: Vec<dns::HostChange> =
                group.iter().filter_map(|i| planned[*i].as_ref()?.change.clone()).collect();
            let log = planned[group[0]]
                .as_ref()
                .map_or_else(|| Log::new(config.log.level), |p| batch[p.positions[0]].log.clone());
            match send_changes(zone, &changes, now, &log) {
                Ok(()) => {}
                Err(e) if group.len() == 1 => {
                    if let Some(p) = planned[group[0]].as_mut() {
                        fail(p, &e, audit::rcode_label(&e));
                    }
                }
                Err(e) => {
                    log.info(format_args!(
                        "zone `{}`: a message with {} hostnames failed ({e}); sending them one by one",
                        zone.name,
                        group.len()
                    ));
                    for i in group {
                        let Some(p) = planned[i].as_mut() else { continue };
                        let Some(change) = p.change.clone() else { continue };
                        if let Err(e) = send_changes(zone, &[change], now, &batch[p.positions[0]].log) {
                            fail(p, &e, audit::rcode_label(&e));
                        }
                    }
                }
            }
        }
    }
}

/// Signs and sends one message for `changes` (over TCP when too large for a datagram),
/// logging how long the exchange took.
fn send_changes(zone: &Zone, changes: &[dns::HostChange], now: i64, log: &Log) -> Result<(), DnsError> {
    let octets: usize = changes.iter().map(dns::HostChange::wire_estimate).sum();
    let message = dns::change_message(&zone.name, changes)?;
    let started = std::time::Instant::now();
    let now = u64::try_from(now).unwrap_or(0);
    let result = if octets > dns::MAX_UDP_OCTETS {
        dns::exchange_tcp(zone, message, now)
    } else {
        dns::exchange(zone, message, now)
    };
    log.debug(format_args!(
        "{} hostnames: DNS exchange with {} took {} ms",
        changes.len(),
        zone.server,
        started.elapsed().as_millis()
    ));
    result.map(|_| ())
}

fn show(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>) -> String {
    let v4 = ipv4.map_or_else(|| "-".to_owned(), |a| a.to_string());
    let v6 = ipv6.map_or_else(|| "-".to_owned(), |a| a.to_string());
    format!("ipv4={v4} ipv6={v6}")
}

fn show_txt(change: Option<&TxtChange>) -> &'static str {
    match change {
        Some(TxtChange::Set(_)) => " txt=set",
        Some(TxtChange::Clear) => " txt=removed",
        None => "",
    }
}
