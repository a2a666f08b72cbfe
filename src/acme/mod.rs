//! An acme-dns compatible API (github.com/joohoi/acme-dns, `api.go`), so that certificate
//! clients which speak acme-dns (certbot's acme-dns plugins, lego, acme.sh, Caddy, Traefik)
//! answer ACME DNS-01 challenges (RFC 8555 §8.4) through ddns-cgi: `POST <path>/update`
//! with `X-Api-User`/`X-Api-Key` and `{"subdomain": "...", "txt": "..."}` publishes the
//! value as a TXT record at `<subdomain>.<[acme] zone>` by RFC 2136, keeping the
//! `[acme] values` newest (two by default, as acme-dns: a certificate for `example.org` and
//! `*.example.org` needs two at once; `values`). The user adds
//! `_acme-challenge.example.org. CNAME <subdomain>.<zone>.` once. Answers, status codes and
//! error strings are acme-dns's, so clients read them as they read acme-dns's.
//! `POST <path>/register` creates accounts when `[acme] register` allows it; `acme add` does
//! the same from the command line ([`register::create_account`]). Beyond acme-dns: `DELETE
//! <path>/update` (or `"delete": true`) removes one value, and `DELETE <path>/register`
//! deletes the account whose credentials it carries, its records first. With `[acme]
//! wait`, an update's answer is held until the acme zone's read-back servers serve the new
//! values (`confirm.rs`; the transport waits), so a client needs no fixed propagation sleep.
//!
//! Keys are 40 random characters (240 bits) and only their SHA-256 digest is stored, as for
//! host tokens: with full entropy a fast digest cannot be searched, so no Argon2 run (and no
//! time an attacker can make us spend) is needed. This module does not touch hostnames.

use std::net::IpAddr;

use serde::Serialize;

use crate::auth::token;
use crate::config::{AcmeConfig, Cidr, Config};
use crate::confirm::{self, Watch};
use crate::dns::DnsError;
use crate::log::{self, Log};
use crate::reply::Reply;
use crate::request;
use crate::request::Incoming;
use crate::secret::Secret;
use crate::store::{AcmeAccount, CapReached, Store, StoreError};

mod body;
mod check;
mod register;
mod values;

use body::{valid_subdomain, valid_txt};
pub(crate) use check::{CheckError, Checked, check as check_cname_of};
pub(crate) use register::create_account_with_names;
use values::Change;
pub(crate) use values::{Times as ValueTimes, delete_account, expire as expire_values};

/// The acme-dns routes below `[acme] path`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Update,
    Register,
    Health,
    Check,
}

/// What a request resulted in; [`render`] gives each its status and body.
#[derive(Debug)]
enum Outcome {
    /// 200 `{"txt": "..."}`.
    Updated { txt: String },
    /// 200 `{"txt": "..."}`: the value is no longer published (or never was).
    Removed { txt: String },
    /// 200 `{"deleted": "<fulldomain>"}`: the account and its records are gone.
    Deregistered { fulldomain: String },
    /// 201 with the new credentials.
    Registered(Registration),
    /// 200, empty: acme-dns's `GET /health`.
    Healthy,
    /// 200 with what the CNAME check found (`GET <path>/check`).
    Checked(Checked),
    /// 400 `bad_domain`: the check's `domain` is not a domain name.
    BadDomain,
    /// 502 `resolver_error`: `[acme] resolver` did not answer the check.
    ResolverError,
    /// 401 `forbidden`: unknown user, wrong key, another account's subdomain, a client
    /// outside `allowfrom` or an unreadable body, as acme-dns's `Auth` answers them all; also
    /// an account deleted while its update waited for the lock, now unknown too.
    Forbidden,
    /// 400 `bad_subdomain`; also a chosen subdomain that is not one DNS label.
    BadSubdomain,
    /// 409 `subdomain_taken`: the chosen subdomain is an account's or a hostname's.
    SubdomainTaken,
    /// 400 `bad_txt`: not 43 characters of base64url.
    BadTxt,
    /// 400 `malformed_json_payload` (registration).
    MalformedJson,
    /// 400 `invalid_allowfrom_cidr` (registration).
    InvalidAllowfrom,
    /// 404: registration is off, as acme-dns without the route.
    NotFound,
    /// 405: the routes take POST (`health` GET).
    MethodNotAllowed,
    /// 403 `too_many_accounts` (registration): `[acme] max_accounts` accounts exist, or the
    /// client's network registered `max_accounts_per_network`. acme-dns has no such cap.
    TooManyAccounts { per_network: bool },
    /// 429 `too_many_requests` (registration): over a rate limit, as dyndns2's `abuse`.
    /// acme-dns has no rate limits; RFC 6585 §4 is the status for it.
    TooManyRequests,
    /// 500 `db_error`: the database failed (acme-dns's word for it).
    DbError,
    /// 500 `dns_error`: the DNS server did not take the TXT records; nothing was stored.
    DnsError,
}

/// acme-dns's error bodies: `{"error": "..."}`.
#[derive(Serialize)]
struct ErrorBody {
    error: &'static str,
}

#[derive(Serialize)]
struct TxtBody<'a> {
    txt: &'a str,
}

#[derive(Serialize)]
struct DeletedBody<'a> {
    deleted: &'a str,
}

/// acme-dns's `RegResponse`, also the value lego, acme.sh and certbot-dns-acmedns keep per
/// domain in their account storage.
#[derive(Debug, Serialize)]
pub(crate) struct Registration {
    pub(crate) username: String,
    #[serde(serialize_with = "expose")]
    pub(crate) password: Secret<String>,
    pub(crate) fulldomain: String,
    pub(crate) subdomain: String,
    pub(crate) allowfrom: Vec<String>,
}

fn expose<S: serde::Serializer>(secret: &Secret<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose())
}

/// Why creating or updating an account failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AcmeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// No random bytes from the operating system.
    #[error("cannot generate credentials: {0}")]
    Random(getrandom::Error),
    /// `[acme] zone` is not among the zones (the config check prevents it).
    #[error("zone `{0}` of `[acme]` is not configured")]
    NoZone(String),
    /// An `allowfrom` entry that is not a network.
    #[error("`allowfrom` entry {0}")]
    Allowfrom(String),
    /// A registration would pass `[acme] max_accounts` or `max_accounts_per_network`.
    #[error("`acme.max_accounts` or `acme.max_accounts_per_network` is reached")]
    Cap(CapReached),
    /// The account was deleted between its authentication and its lock; nothing was sent.
    #[error("the account was deleted after it authenticated")]
    Gone,
}

/// Answers the request when its path is one of the API's, `None` otherwise (dyndns2 then
/// answers it).
/// Whether `handle` answers this request (a path of the API below `[acme] path`).
pub(crate) fn claims(config: &Config, env: &request::Env) -> bool {
    config.acme.as_ref().and_then(|acme| route(env, acme)).is_some()
}

/// With `[acme] wait`, an update that published its values comes with the [`Watch`] of the
/// acme zone's read-back: the transport sends the (unchanged) answer once the zone's
/// `confirm` servers serve the values, or after `confirm_timeout_ms`.
pub(crate) fn handle(
    config: &Config,
    store: &mut Store,
    req: &Incoming<'_>,
    log: &Log,
) -> Option<(Reply, Option<Watch>)> {
    let acme = config.acme.as_ref()?;
    let route = route(req.env, acme)?;
    let method = request::method(req.env);
    let client = request::client(req.env, config).ip();
    let mut user = None;
    let outcome = match (route, method) {
        (Route::Update, "POST" | "DELETE") => {
            let (outcome, username) = update(config, acme, store, req, client, method == "DELETE", log);
            user = username;
            outcome
        }
        (Route::Register, "POST") => register::register(config, acme, store, req, client, log),
        (Route::Register, "DELETE") => {
            let (outcome, username) = deregister(config, acme, store, req, client, log);
            user = username;
            outcome
        }
        (Route::Health, "GET") => Outcome::Healthy,
        (Route::Check, "GET") => {
            let (outcome, username) = check_cname(config, acme, store, req, client, log);
            user = username;
            outcome
        }
        (Route::Update | Route::Register | Route::Health | Route::Check, _) => Outcome::MethodNotAllowed,
    };
    let reply = render(&outcome, route);
    if config.log.log_requests {
        log.info(format_args!(
            "{} {}{} client={} user={} answer={} {} duration={}ms",
            log::bounded(method, 16),
            acme.path,
            match route {
                Route::Update => "/update",
                Route::Register => "/register",
                Route::Health => "/health",
                Route::Check => "/check",
            },
            client.map_or_else(|| "-".to_owned(), |c| c.to_string()),
            user.as_deref().unwrap_or("-"),
            reply.status,
            summary(&outcome),
            req.started.elapsed().as_millis(),
        ));
    }
    let watch = match outcome {
        Outcome::Updated { .. } if acme.wait => config
            .zone(&acme.zone)
            .and_then(|zone| Some((zone, confirm::hold(zone, Some(request::Wait::Yes))?)))
            .and_then(|(zone, bound)| Watch::start(zone, bound, log)),
        _ => None,
    };
    Some((reply, watch))
}

/// The route of the request's path (`SCRIPT_NAME` + `PATH_INFO`, else `REQUEST_URI`), when
/// it is below `[acme] path`.
fn route(env: &request::Env, acme: &AcmeConfig) -> Option<Route> {
    let paths = [Some(request::request_path(env)), request::request_uri_path(env)];
    paths.into_iter().flatten().find_map(|path| {
        let rest = path.strip_prefix(&acme.path)?;
        match rest.strip_suffix('/').unwrap_or(rest) {
            "/update" => Some(Route::Update),
            "/register" => Some(Route::Register),
            "/health" => Some(Route::Health),
            "/check" => Some(Route::Check),
            _ => None,
        }
    })
}

/// `acme delete`: the account with this user name deleted, its records first; `Ok(None)` when
/// there is none.
pub(crate) fn delete_by_username(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    username: &str,
    now: i64,
) -> Result<Option<String>, AcmeError> {
    let Some(username) = body::parse_uuid(username) else { return Ok(None) };
    let Some(account) = store.acme_account(&username)? else { return Ok(None) };
    match delete_account(config, acme, store, &account, now) {
        Ok(()) => Ok(Some(format!("{}.{}", account.subdomain, acme.zone))),
        Err(AcmeError::Gone) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Why a request has no account to act on.
#[derive(Debug)]
enum Unauthorized {
    /// `forbidden`, with the user name when the credentials were right (for the log line).
    Forbidden(Option<String>),
    /// The database failed.
    DbError,
}

impl Unauthorized {
    /// The answer, and the user name for the log line.
    fn answer(self) -> (Outcome, Option<String>) {
        match self {
            Unauthorized::Forbidden(user) => (Outcome::Forbidden, user),
            Unauthorized::DbError => (Outcome::DbError, None),
        }
    }
}

/// The account whose credentials the request carries, held to its `allowfrom`: acme-dns's
/// first two checks, both `forbidden`.
fn authorized(
    store: &Store,
    req: &Incoming<'_>,
    client: Option<IpAddr>,
    log: &Log,
) -> Result<AcmeAccount, Unauthorized> {
    let account = match authenticate(store, req.env, log) {
        Ok(Some(a)) => a,
        Ok(None) => return Err(Unauthorized::Forbidden(None)),
        Err(e) => {
            log.error(format_args!("acme: {e}"));
            return Err(Unauthorized::DbError);
        }
    };
    if !allowed_from(&account.allowfrom, client) {
        log.info(format_args!("acme: request for `{}` from a client outside its allowfrom", account.username));
        return Err(Unauthorized::Forbidden(Some(account.username)));
    }
    Ok(account)
}

/// `POST <path>/update`, in acme-dns's order: credentials, source network, body, subdomain
/// (all `forbidden`), then the subdomain's and the value's syntax. `DELETE` (or `"delete":
/// true` in the body) removes the value instead, after the same checks: an empty or
/// malformed `txt` is `bad_txt` and removes nothing. Also returns the user name of an
/// authenticated account, for the log line.
fn update(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    req: &Incoming<'_>,
    client: Option<IpAddr>,
    delete: bool,
    log: &Log,
) -> (Outcome, Option<String>) {
    let account = match authorized(store, req, client, log) {
        Ok(a) => a,
        Err(refused) => return refused.answer(),
    };
    let user = Some(account.username.clone());
    let post = match body::update(req.body) {
        Ok(p) => p,
        Err(e) => {
            log.info(format_args!("acme: update refused: {e}"));
            return (Outcome::Forbidden, user);
        }
    };
    if !account.subdomains().any(|s| s == post.subdomain) {
        log.info(format_args!(
            "acme: `{}` may update `{}`, not `{}`",
            account.username,
            account.subdomains().collect::<Vec<_>>().join("`, `"),
            log::bounded(&post.subdomain, 64)
        ));
        return (Outcome::Forbidden, user);
    }
    if !valid_subdomain(&post.subdomain) {
        return (Outcome::BadSubdomain, user);
    }
    if !valid_txt(&post.txt) {
        log.info(format_args!("acme: `{}` sent a TXT value that is not 43 characters of base64url", account.username));
        return (Outcome::BadTxt, user);
    }
    let delete = delete || post.delete;
    let change = if delete { Change::Remove(&post.txt) } else { Change::Add(&post.txt) };
    let target = (account.id, post.subdomain.as_str());
    let times = values::Times { now: req.now, judged_at: req.now };
    let outcome = match values::apply(config, acme, store, target, Some(&account), change, times) {
        Ok(()) if delete => {
            log.info(format_args!("acme: `{}.{}` TXT value removed", post.subdomain, acme.zone));
            Outcome::Removed { txt: post.txt }
        }
        Ok(()) => {
            log.info(format_args!("acme: `{}.{}` TXT updated", post.subdomain, acme.zone));
            Outcome::Updated { txt: post.txt }
        }
        Err(AcmeError::Dns(e)) => {
            log.error(format_args!("acme: `{}.{}`: DNS update failed: {e}", post.subdomain, acme.zone));
            Outcome::DnsError
        }
        // Answered as an unknown account is, since that is what it now is.
        Err(AcmeError::Gone) => {
            log.info(format_args!(
                "acme: update refused: account `{}` was deleted after it authenticated; nothing published",
                account.username
            ));
            Outcome::Forbidden
        }
        Err(e) => {
            log.error(format_args!("acme: `{}.{}`: {e}", post.subdomain, acme.zone));
            Outcome::DbError
        }
    };
    (outcome, user)
}

/// The account whose user name and key the headers carry, `None` (logged) when they do not
/// match one. Unknown users and wrong keys cost the same: one SHA-256 digest and one
/// indexed read; the digest is compared in constant time.
fn authenticate(store: &Store, env: &request::Env, log: &Log) -> Result<Option<AcmeAccount>, StoreError> {
    let header = |k: &str| env.get(k).map(String::as_str).unwrap_or("");
    let username = body::parse_uuid(header("HTTP_X_API_USER"));
    let key = header("HTTP_X_API_KEY");
    let key_shaped = body::key_shaped(key);
    let digest = token::digest(if key_shaped { key } else { "" });
    let account = match (&username, key_shaped) {
        (Some(u), true) => store.acme_account(u)?,
        (Some(_) | None, _) => None,
    };
    let verified = account.filter(|a| token::digests_equal(&a.key_digest, &digest));
    if verified.is_none() {
        let reason = match (&username, key_shaped) {
            (None, _) => "an `X-Api-User` that is not a UUID",
            (Some(_), false) => "an `X-Api-Key` that is not 40 characters of base64url",
            (Some(_), true) => "an unknown user or a wrong key",
        };
        log.info(format_args!("acme: update refused: {reason}"));
    }
    Ok(verified)
}

/// `GET <path>/check?domain=DOMAIN`: whether `_acme-challenge.DOMAIN` is a CNAME to one of the
/// account's names, as `[acme] resolver` answers. acme-dns has no such route.
fn check_cname(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    req: &Incoming<'_>,
    client: Option<IpAddr>,
    log: &Log,
) -> (Outcome, Option<String>) {
    // Without a resolver to ask the route does not exist, as registration while it is off.
    if acme.resolver.is_none() {
        return (Outcome::NotFound, None);
    }
    let account = match authorized(store, req, client, log) {
        Ok(a) => a,
        Err(refused) => return refused.answer(),
    };
    let user = Some(account.username.clone());
    let query = req.env.get("QUERY_STRING").map(String::as_str).unwrap_or("");
    let params = if query.len() > request::MAX_QUERY_BYTES { None } else { request::parse_form(query.as_bytes()).ok() };
    let Some(domain) = params.and_then(|p| p.into_iter().find(|(k, _)| k == "domain").map(|(_, v)| v)) else {
        return (Outcome::BadDomain, user);
    };
    let outcome = match check::check(config, acme, &account, &domain) {
        Ok(checked) => {
            log.info(format_args!(
                "acme: check of `{}`: CNAME `{}`, {}",
                checked.name,
                checked.cname.as_deref().unwrap_or("none"),
                if checked.ok { "right" } else { "not the account's" }
            ));
            Outcome::Checked(checked)
        }
        Err(CheckError::BadDomain(_)) => Outcome::BadDomain,
        Err(e @ (CheckError::Dns(_) | CheckError::NoResolver)) => {
            log.warn(format_args!("acme: check of `{}`: {e}", log::bounded(&domain, 255)));
            Outcome::ResolverError
        }
    };
    (outcome, user)
}

/// `DELETE <path>/register`: the account whose credentials the request carries is deleted,
/// its TXT records first. acme-dns has no such route.
fn deregister(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    req: &Incoming<'_>,
    client: Option<IpAddr>,
    log: &Log,
) -> (Outcome, Option<String>) {
    let account = match authorized(store, req, client, log) {
        Ok(a) => a,
        Err(refused) => return refused.answer(),
    };
    let user = Some(account.username.clone());
    let fulldomain = format!("{}.{}", account.subdomain, acme.zone);
    let outcome = match delete_account(config, acme, store, &account, req.now) {
        Ok(()) => {
            log.info(format_args!("acme: account `{}` deleted with `{fulldomain}`", account.username));
            Outcome::Deregistered { fulldomain }
        }
        Err(AcmeError::Dns(e)) => {
            log.error(format_args!("acme: `{fulldomain}`: DNS update failed, account kept: {e}"));
            Outcome::DnsError
        }
        Err(AcmeError::Gone) => {
            log.info(format_args!("acme: account `{}` was deleted meanwhile", account.username));
            Outcome::Forbidden
        }
        Err(e) => {
            log.error(format_args!("acme: `{fulldomain}`: {e}"));
            Outcome::DbError
        }
    };
    (outcome, user)
}

/// Whether the client may update an account limited to `allowfrom` (empty: any client).
fn allowed_from(allowfrom: &str, client: Option<IpAddr>) -> bool {
    let networks: Vec<Cidr> = allowfrom.split(',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
    allowfrom.is_empty() || client.is_some_and(|ip| networks.iter().any(|n| n.contains(ip)))
}

/// Every outcome's status and body, acme-dns's. No `_` arm.
fn render(outcome: &Outcome, route: Route) -> Reply {
    let error = |status: u16, error: &'static str| (status, serde_json::to_string(&ErrorBody { error }));
    let (status, body) = match outcome {
        Outcome::Updated { txt } | Outcome::Removed { txt } => (200, serde_json::to_string(&TxtBody { txt })),
        Outcome::Deregistered { fulldomain } => (200, serde_json::to_string(&DeletedBody { deleted: fulldomain })),
        Outcome::Registered(r) => (201, serde_json::to_string(r)),
        Outcome::Healthy => (200, Ok(String::new())),
        Outcome::Checked(c) => (200, serde_json::to_string(c)),
        Outcome::BadDomain => error(400, "bad_domain"),
        Outcome::ResolverError => error(502, "resolver_error"),
        Outcome::Forbidden => error(401, "forbidden"),
        Outcome::BadSubdomain => error(400, "bad_subdomain"),
        Outcome::SubdomainTaken => error(409, "subdomain_taken"),
        Outcome::BadTxt => error(400, "bad_txt"),
        Outcome::MalformedJson => error(400, "malformed_json_payload"),
        Outcome::InvalidAllowfrom => error(400, "invalid_allowfrom_cidr"),
        Outcome::NotFound => error(404, "not_found"),
        Outcome::MethodNotAllowed => error(405, "method_not_allowed"),
        Outcome::TooManyAccounts { .. } => error(403, "too_many_accounts"),
        Outcome::TooManyRequests => error(429, "too_many_requests"),
        Outcome::DbError => error(500, "db_error"),
        Outcome::DnsError => error(500, "dns_error"),
    };
    // Serialising these types cannot fail; should it, the answer is still acme-dns's error.
    let body = body.unwrap_or_else(|_| "{\"error\": \"json_error\"}".to_owned());
    let mut headers = vec![
        ("Content-Type", "application/json".to_owned()),
        ("Content-Length", body.len().to_string()),
        ("Cache-Control", "no-store".to_owned()),
    ];
    if matches!(outcome, Outcome::MethodNotAllowed) {
        let allow = match route {
            Route::Health | Route::Check => "GET",
            Route::Update | Route::Register => "POST, DELETE",
        };
        headers.push(("Allow", allow.to_owned()));
    }
    Reply { status, headers, body }
}

/// The word for the log line.
fn summary(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Updated { .. } => "updated",
        Outcome::Removed { .. } => "removed",
        Outcome::Deregistered { .. } => "deregistered",
        Outcome::Registered(_) => "registered",
        Outcome::Healthy => "healthy",
        Outcome::Checked(c) if c.ok => "cname_right",
        Outcome::Checked(_) => "cname_wrong",
        Outcome::BadDomain => "bad_domain",
        Outcome::ResolverError => "resolver_error",
        Outcome::Forbidden => "forbidden",
        Outcome::BadSubdomain => "bad_subdomain",
        Outcome::SubdomainTaken => "subdomain_taken",
        Outcome::BadTxt => "bad_txt",
        Outcome::MalformedJson => "malformed_json_payload",
        Outcome::InvalidAllowfrom => "invalid_allowfrom_cidr",
        Outcome::NotFound => "not_found",
        Outcome::MethodNotAllowed => "method_not_allowed",
        Outcome::TooManyAccounts { .. } => "too_many_accounts",
        Outcome::TooManyRequests => "too_many_requests",
        Outcome::DbError => "db_error",
        Outcome::DnsError => "dns_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowfrom_lists() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().expect("ip"));
        assert!(allowed_from("", None));
        assert!(allowed_from("192.0.2.0/24,2001:db8::/32", ip("2001:db8::5")));
        assert!(!allowed_from("192.0.2.0/24", ip("198.51.100.1")));
        assert!(!allowed_from("192.0.2.0/24", None));
    }

    #[test]
    fn answers_are_acme_dns_json() {
        let r = render(&Outcome::Forbidden, Route::Update);
        assert_eq!((r.status, r.body.as_str()), (401, "{\"error\":\"forbidden\"}"));
        let r = render(&Outcome::Updated { txt: "x".into() }, Route::Update);
        assert_eq!((r.status, r.body.as_str()), (200, "{\"txt\":\"x\"}"));
        assert_eq!(render(&Outcome::BadTxt, Route::Update).body, "{\"error\":\"bad_txt\"}");
    }
}
