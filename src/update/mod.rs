//! The request handler shared by every transport: parse, authenticate, then update each
//! hostname under its host lock and answer in dyndns2. The database changes only after
//! the DNS server answered NOERROR, so the stored state never claims more than DNS has. All
//! failures are typed ([`UpdateError`]) and mapped to an answer in one exhaustive `match`; the
//! log line carries the detail, the client sees only the token.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::audit::{self, Origin, Refusal};
use crate::auth::PasswordCache;
use crate::config::Config;
use crate::log::Log;
use crate::ratelimit::{self, Outcome, Reservation};
use crate::relay;
use crate::reply::{AccountAnswer, Answer, HostAnswer, HostLine};
use crate::request::{
    self, AddressError, Credentials, Env, HostArg, HostsError, Intent, RejectError, Request, TtlError, TxtError,
    WaitError,
};
use crate::store::{AuditRow, Store, StoreError};

mod auth;
mod changes;
mod queued;

use auth::{Authorized, authenticate};
pub(crate) use changes::{Batcher, ConsoleChange, Set, admin_set, console_change};
use changes::{Change, Parked, Publish, change_host, change_or_park, fan_out};
pub(crate) use queued::{Handling, Here, Queued, queue_here};
use queued::{Rest, Wait};

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
    /// The Flask API's hostname parameters are incomplete or contradict each other.
    #[error("hostname unclear: {reason}")]
    UnclearHostname { reason: &'static str },
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
    /// The `wait` value is not 0, 1 or a number of seconds.
    #[error(transparent)]
    Wait(#[from] WaitError),
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
        UpdateError::NoHostname | UpdateError::UnclearHostname { .. } => AccountAnswer::Notfqdn,
        UpdateError::TooManyHosts { .. } => AccountAnswer::Numhost,
        UpdateError::Address(_) => AccountAnswer::Badip,
        UpdateError::Ttl(_) => AccountAnswer::Badttl,
        // dyndns2 has no token for a bad TXT value; it is a malformed request.
        UpdateError::Txt(_) => AccountAnswer::Badagent,
        // Nor for a bad `wait`: the client sent something no client means.
        UpdateError::Wait(_) => AccountAnswer::Badagent,
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
    /// The read-back the answer waits for (`confirm`); empty: answer at once.
    pub(crate) read_back: crate::confirm::Pending,
}

impl Handled {
    /// The request's facts for the log line, with no answer yet.
    fn of(request: &Request) -> Handled {
        Handled {
            answer: Answer::Hosts(Vec::new()),
            format: request.format,
            user: request.credentials.as_ref().and_then(shown_username).map(str::to_owned),
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
            read_back: crate::confirm::Pending::default(),
        }
    }
}

/// What a FastCGI process keeps across requests; CGI has none of it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Resident<'a> {
    /// Verified passwords (`auth::PasswordCache`).
    pub(crate) passwords: Option<&'a PasswordCache>,
    /// The group commit (`batch`).
    pub(crate) batcher: Option<&'a Batcher>,
    /// The FastCGI worker running the request, which a change waiting for its group commit
    /// gives back meanwhile (`OffDuty`).
    pub(crate) worker: Option<&'a dyn OffDuty>,
    /// Whether the transport can await a change's group commit as a task ([`Handling::Queued`]):
    /// a request with one hostname, no relays and no fan-out then gives its thread back too.
    pub(crate) park: bool,
}

/// A FastCGI worker that a request can give back while it waits for its zone's group commit
/// (docs/design/group-commit.md): the waiting holds no host lock, no transaction and no
/// database connection, so the worker's permit and its connection serve other requests
/// meanwhile, and `--workers` bounds the blocking work (Argon2, SQLite writes, the DNS
/// exchange of a run) but not how many changes wait for one message.
pub(crate) trait OffDuty: std::fmt::Debug {
    /// Gives back the worker's permit and `store` (putting a detached one in its place),
    /// calls `wait`, then takes a permit and a connection again before returning. A worker
    /// that cannot give them back (no detached store could be made) simply waits.
    fn off_duty(&self, store: &mut Store, wait: &mut dyn FnMut());
}

/// Handles one request. `now` is seconds since the Unix epoch. `Queued` only with
/// `Resident::park`.
pub(crate) fn handle(
    config: &Config,
    store: &mut Store,
    resident: Resident<'_>,
    env: &Env,
    body: &[u8],
    now: i64,
    log: &Log,
) -> Handling {
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
            return Handling::Done(Handled {
                answer,
                format: request::Format::Text,
                user: None,
                client: client.ip(),
                hosts: Vec::new(),
                read_back: crate::confirm::Pending::default(),
            });
        }
    };
    warn_proxy_fallback(request.client, request.proxy_fallback, log);
    let mut handled = Handled::of(&request);
    let username = request.credentials.as_ref().and_then(shown_username);
    // Before any Argon2 work, check and count in one step: a limited request costs one
    // indexed read per counter, and parallel attempts each count.
    let reservation = match reserve(config, store, request.client, username, now, log) {
        Ok(r) => r,
        Err(refused) => {
            handled.answer = refused;
            return Handling::Done(handled);
        }
    };
    let result = match update(config, store, resident, &request, now, log) {
        Ok(Updated::Lines(lines)) => Ok(lines),
        Ok(Updated::Queued(wait, fqdn)) => {
            let rest = Rest { wait: Wait::Parked(wait), fqdn, request, reservation, handled, now };
            return Handling::Queued(Queued(Box::new(rest)));
        }
        Err(e) => Err(e),
    };
    Handling::Done(conclude(config, Some(store), &request, reservation, result, handled, now, log))
}

/// The rest of a request after `update`: the read-back to wait for, the rate limit settled,
/// refusals recorded, the answer. `store` is `None` only when that writes nothing
/// (`queued::writes_nothing`).
#[allow(clippy::too_many_arguments, reason = "the request's state, passed on as is")]
fn conclude(
    config: &Config,
    store: Option<&mut Store>,
    request: &Request,
    reservation: Reservation,
    result: Result<Vec<HostLine>, UpdateError>,
    mut handled: Handled,
    now: i64,
    log: &Log,
) -> Handled {
    if let Ok(lines) = &result {
        // Outside every lock; the transport waits (`http::Served`): a slow secondary delays
        // only this answer. `update` refused a bad `wait`, so it is `Ok` here.
        handled.read_back = crate::confirm::watch_hosts(config, lines, request.wait.clone().ok().flatten(), log);
    }
    if let Some(store) = store {
        settle(store, reservation, outcome(&result), now, log);
        record_refusals(config, store, request, &result, now, log);
    }
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
    let user = request.credentials.as_ref().and_then(shown_username);
    let refusal = |answer: &str, hostname: Option<&str>, reason: Option<&str>| {
        Refusal { answer, client: request.client, user, hostname, reason }.row(log.txn(), now)
    };
    let rows: Vec<AuditRow> = match result {
        Ok(lines) => lines
            .iter()
            .filter_map(|l| match l.answer {
                HostAnswer::Nohost => Some(refusal("nohost", Some(&l.hostname), None)),
                HostAnswer::Notfqdn => Some(refusal("notfqdn", Some(&l.hostname), None)),
                HostAnswer::Good(_)
                | HostAnswer::Nochg(_)
                | HostAnswer::Dnserr
                | HostAnswer::ServerError
                | HostAnswer::TokenRefused(_) => None,
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
            | UpdateError::UnclearHostname { .. }
            | UpdateError::TooManyHosts { .. }),
        ) => vec![refusal(&Answer::Account(answer_for(e)).summary(), None, Some(&e.to_string()))],
        // Refused after authentication, for what the request would have done to the hosts it
        // names: a row per named host, so each host's history shows the attempt and why.
        Err(e @ (UpdateError::Address(_) | UpdateError::Ttl(_) | UpdateError::Txt(_) | UpdateError::Wait(_))) => {
            let answer = Answer::Account(answer_for(e)).summary();
            let reason = e.to_string();
            let named: Vec<&str> = match &request.hostnames {
                Ok(args) => args
                    .iter()
                    .filter_map(|a| match a {
                        HostArg::Valid(fqdn) => Some(fqdn.as_str()),
                        HostArg::NotFqdn(_) => None,
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            if named.is_empty() {
                vec![refusal(&answer, None, Some(&reason))]
            } else {
                named.into_iter().map(|fqdn| refusal(&answer, Some(fqdn), Some(&reason))).collect()
            }
        }
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
            log.warn(format_args!("rate limit: {l}; answering abuse"));
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
            | UpdateError::UnclearHostname { .. }
            | UpdateError::TooManyHosts { .. }
            | UpdateError::Address(_)
            | UpdateError::Ttl(_)
            | UpdateError::Txt(_)
            | UpdateError::Wait(_),
        ) => Outcome::Bad,
        Err(UpdateError::NoCredentials | UpdateError::Store(_)) => Outcome::Neutral,
    }
}

/// What `update` did to the request's hosts: their lines, or its one change parked in its
/// zone's queue (`Resident::park`).
#[derive(Debug)]
enum Updated {
    Lines(Vec<HostLine>),
    Queued(Parked, String),
}

fn update(
    config: &Config,
    store: &mut Store,
    resident: Resident<'_>,
    request: &Request,
    now: i64,
    log: &Log,
) -> Result<Updated, UpdateError> {
    let Authorized { user, auth, token_host, token } =
        authenticate(config, store, resident.passwords, request, now, log)?;
    let token = token.as_ref();
    let origin = Origin { client: request.client, auth, user: user.name.clone(), txn: log.txn().to_owned() };
    let hostnames = targets(token_host, &request.hostnames)?;
    let change = change_of(request)?;
    // Checked before anything changes, like `ttl`: a client that sends a bad `wait` learns it
    // rather than getting an answer that did not wait.
    request.wait.clone()?;
    // One hostname with nothing around its change (no relays, which `relay::around` would
    // send after it, no fan-out): the change may wait in its zone's queue as a task, since the
    // rest of the request is `Queued`'s. A failed relay read takes the path below, which
    // answers it as before.
    if resident.park
        && let [HostArg::Valid(fqdn)] = hostnames.as_ref()
        && (matches!(change, Change::Offline) || request.ipv6_prefix.is_none())
        && store.relays_for_update(fqdn, user.id).is_ok_and(|relays| relays.is_empty())
    {
        let result = change_or_park(config, store, resident, &user, &origin, token, fqdn, change, now, log);
        return match result {
            Ok(Err(parked)) => Ok(Updated::Queued(parked, fqdn.clone())),
            Ok(Ok(answer)) => Ok(Updated::Lines(vec![host_line(fqdn, Ok(answer), log)?])),
            Err(e) => Ok(Updated::Lines(vec![host_line(fqdn, Err(e), log)?])),
        };
    }
    let mut lines = Vec::with_capacity(hostnames.len());
    let mut relays = relay::Session::new(&config.relay);
    for arg in hostnames.iter() {
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
                                    fan_out(config, store, &user, &origin, token, fqdn, publish, prefix, now, log)
                                        .transpose()
                                }
                                None => None,
                            };
                            fanned.unwrap_or_else(|| {
                                change_host(
                                    config,
                                    store,
                                    resident,
                                    &user,
                                    &origin,
                                    token,
                                    fqdn,
                                    change.clone(),
                                    now,
                                    log,
                                )
                            })
                        })
                    }
                    // A request never carries an administrator's `Set`.
                    Change::Offline | Change::Set(_) => {
                        change_host(config, store, resident, &user, &origin, token, fqdn, change.clone(), now, log)
                    }
                };
                host_line(fqdn, result, log)?
            }
        };
        lines.push(line);
    }
    Ok(Updated::Lines(lines))
}

/// The answer line of one hostname's change.
fn host_line(fqdn: &str, result: Result<HostAnswer, StoreError>, log: &Log) -> Result<HostLine, UpdateError> {
    let answer = match result {
        // The token's refusal under the host lock is the request's: `badauth`, audited and
        // counted like a refusal at authentication. A token names one hostname, so nothing of
        // this request went ahead before it (but for a hostname named twice, `hostname=h,h`,
        // whose first change went ahead when the token was revoked between the two).
        Ok(HostAnswer::TokenRefused(reason)) => return Err(UpdateError::BadToken { reason }),
        Ok(a) => a,
        Err(e) => {
            log.error(format_args!("{fqdn}: {e}"));
            HostAnswer::ServerError
        }
    };
    Ok(HostLine { hostname: fqdn.to_owned(), answer })
}

/// The hostnames a request changes: those it names, or for `/update/TOKEN`, which names none,
/// the token's own.
fn targets(
    token_host: Option<String>,
    hostnames: &Result<Vec<HostArg>, HostsError>,
) -> Result<Cow<'_, [HostArg]>, UpdateError> {
    match (token_host, hostnames) {
        (Some(fqdn), Err(HostsError::Missing)) => Ok(Cow::Owned(vec![HostArg::Valid(fqdn)])),
        (_, Ok(list)) => Ok(Cow::Borrowed(list)),
        (_, Err(HostsError::Missing)) => Err(UpdateError::NoHostname),
        (_, Err(HostsError::Unclear { reason })) => Err(UpdateError::UnclearHostname { reason }),
        (_, Err(HostsError::TooMany { n_hosts })) => Err(UpdateError::TooManyHosts { n_hosts: *n_hosts }),
    }
}

/// What the request does to each of its hosts, or why it cannot be done.
fn change_of(request: &Request) -> Result<Change, UpdateError> {
    match request.intent {
        Intent::Update => {
            let addresses = request.addresses.clone()?;
            let ttl = request.ttl.clone()?;
            let txt = request.txt.clone().transpose()?;
            Ok(Change::Publish(Publish { addresses, absent: request.absent, ttl, txt }))
        }
        Intent::Offline => {
            // Checked although unused: a client that sends a bad TTL learns it either way.
            request.ttl.clone()?;
            Ok(Change::Offline)
        }
    }
}

/// The user name given, for logs, the audit trail and the per-user rate limit: one that holds
/// a token (typed into the wrong field) shows as `ddns_***` (`token::shown_name`). Here and
/// not in `request`, which parses and knows nothing of token shapes (the fuzz targets build
/// it alone).
fn shown_username(credentials: &Credentials) -> Option<&str> {
    credentials.username().map(crate::auth::token::shown_name)
}
