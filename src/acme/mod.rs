//! An acme-dns compatible API (github.com/joohoi/acme-dns, `api.go`), so that certificate
//! clients which speak acme-dns (certbot's acme-dns plugins, lego, acme.sh, Caddy, Traefik)
//! answer ACME DNS-01 challenges (RFC 8555 §8.4) through ddns-cgi: `POST <path>/update`
//! with `X-Api-User`/`X-Api-Key` and `{"subdomain": "...", "txt": "..."}` publishes the
//! value as a TXT record at `<subdomain>.<[acme] zone>` by RFC 2136, keeping the two newest
//! values as acme-dns does (a certificate for `example.org` and `*.example.org` needs two at
//! once). The user adds `_acme-challenge.example.org. CNAME <subdomain>.<zone>.` once.
//! Answers, status codes and error strings are acme-dns's, so clients read them as they
//! read acme-dns's. `POST <path>/register` creates accounts when `[acme] register` allows
//! it; `acme add` does the same from the command line ([`create_account`]). With `[acme]
//! wait`, an update's answer is held until the acme zone's read-back servers serve the new
//! values (`confirm.rs`; the transport waits), so a client needs no fixed propagation sleep.
//!
//! Keys are 40 random characters (240 bits) and only their SHA-256 digest is stored, as for
//! host tokens: with full entropy a fast digest cannot be searched, so no Argon2 run (and no
//! time an attacker can make us spend) is needed. This module does not touch hostnames.

use std::net::IpAddr;

use hickory_proto::rr::Name;
use serde::Serialize;

use crate::auth::token;
use crate::config::{AcmeConfig, Cidr, Config};
use crate::confirm::{self, Watch};
use crate::dns::{self, DnsError};
use crate::log::{self, Log};
use crate::reply::Reply;
use crate::request;
use crate::request::Incoming;
use crate::secret::Secret;
use crate::store::{AcmeAccount, CapReached, Store, StoreError};

mod body;
mod register;

use body::{valid_subdomain, valid_txt};
pub(crate) use register::create_account;

/// The acme-dns routes below `[acme] path`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Update,
    Register,
    Health,
}

/// What a request resulted in; [`render`] gives each its status and body.
#[derive(Debug)]
enum Outcome {
    /// 200 `{"txt": "..."}`.
    Updated { txt: String },
    /// 201 with the new credentials.
    Registered(Registration),
    /// 200, empty: acme-dns's `GET /health`.
    Healthy,
    /// 401 `forbidden`: unknown user, wrong key, another account's subdomain, a client
    /// outside `allowfrom` or an unreadable body, as acme-dns's `Auth` answers them all; also
    /// an account deleted while its update waited for the lock, now unknown too.
    Forbidden,
    /// 400 `bad_subdomain`.
    BadSubdomain,
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
        (Route::Update, "POST") => {
            let (outcome, username) = update(config, acme, store, req, client, log);
            user = username;
            outcome
        }
        (Route::Register, "POST") => register::register(config, acme, store, req, client, log),
        (Route::Health, "GET") => Outcome::Healthy,
        (Route::Update | Route::Register | Route::Health, _) => Outcome::MethodNotAllowed,
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
            _ => None,
        }
    })
}

/// `POST <path>/update`, in acme-dns's order: credentials, source network, body, subdomain
/// (all `forbidden`), then the subdomain's and the value's syntax. Also returns the user
/// name of an authenticated account, for the log line.
fn update(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    req: &Incoming<'_>,
    client: Option<IpAddr>,
    log: &Log,
) -> (Outcome, Option<String>) {
    let account = match authenticate(store, req.env, log) {
        Ok(Some(a)) => a,
        Ok(None) => return (Outcome::Forbidden, None),
        Err(e) => {
            log.error(format_args!("acme: {e}"));
            return (Outcome::DbError, None);
        }
    };
    let user = Some(account.username.clone());
    if !allowed_from(&account.allowfrom, client) {
        log.info(format_args!("acme: update for `{}` from a client outside its allowfrom", account.username));
        return (Outcome::Forbidden, user);
    }
    let post = match body::update(req.body) {
        Ok(p) => p,
        Err(e) => {
            log.info(format_args!("acme: update refused: {e}"));
            return (Outcome::Forbidden, user);
        }
    };
    if post.subdomain != account.subdomain {
        log.info(format_args!(
            "acme: `{}` may update `{}`, not `{}`",
            account.username,
            account.subdomain,
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
    let outcome = match publish(config, acme, store, &account, &post.txt, req.now) {
        Ok(()) => {
            log.info(format_args!("acme: `{}.{}` TXT updated", account.subdomain, acme.zone));
            Outcome::Updated { txt: post.txt }
        }
        Err(AcmeError::Dns(e)) => {
            log.error(format_args!("acme: `{}.{}`: DNS update failed: {e}", account.subdomain, acme.zone));
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
            log.error(format_args!("acme: `{}.{}`: {e}", account.subdomain, acme.zone));
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

/// Publishes `txt` with the account's previous newest value, under the database lock: one
/// UPDATE replaces the TXT rrset (RFC 2136 §2.5.2, §2.5.1), and the row is written only after
/// the server accepted it. The same value twice does not push out the older one.
fn publish(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    account: &AcmeAccount,
    txt: &str,
    now: i64,
) -> Result<(), AcmeError> {
    let Some(zone) = config.zone(&acme.zone) else {
        return Err(AcmeError::NoZone(acme.zone.clone()));
    };
    let fqdn = Name::from_ascii(format!("{}.{}.", account.subdomain, acme.zone))
        .map_err(|e| DnsError::Malformed { server: zone.server, reason: e.to_string() })?;
    // The lock of the challenge name: the same stripes as hosts, so an update of a host of
    // that name (there should be none) is ordered with it too.
    let key = fqdn.to_ascii();
    let key = key.trim_end_matches('.');
    let published = store.with_acme_locked(account.id, key, now, |current| {
        // The row read under the lock must still be the account that authenticated: the id
        // of a deleted account may be taken by a new one.
        if current.username != account.username || current.key_digest != account.key_digest {
            return Err(AcmeError::Gone);
        }
        let (new, old) = next_values(current, txt);
        let values: Vec<&str> = [Some(new.as_str()), old.as_deref()].into_iter().flatten().collect();
        let message = dns::txt_message(&zone.name, &fqdn, acme.ttl, &values)?;
        dns::exchange(zone, message, u64::try_from(now).unwrap_or(0))?;
        Ok::<_, AcmeError>((new, old))
    })?;
    published.ok_or(AcmeError::Gone)
}

/// The two values to keep after `txt` arrives: it, and the newest before it.
fn next_values(account: &AcmeAccount, txt: &str) -> (String, Option<String>) {
    match &account.txt_new {
        Some(newest) if newest == txt => (txt.to_owned(), account.txt_old.clone()),
        newest => (txt.to_owned(), newest.clone()),
    }
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
        Outcome::Updated { txt } => (200, serde_json::to_string(&TxtBody { txt })),
        Outcome::Registered(r) => (201, serde_json::to_string(r)),
        Outcome::Healthy => (200, Ok(String::new())),
        Outcome::Forbidden => error(401, "forbidden"),
        Outcome::BadSubdomain => error(400, "bad_subdomain"),
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
        headers.push(("Allow", if route == Route::Health { "GET" } else { "POST" }.to_owned()));
    }
    Reply { status, headers, body }
}

/// The word for the log line.
fn summary(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Updated { .. } => "updated",
        Outcome::Registered(_) => "registered",
        Outcome::Healthy => "healthy",
        Outcome::Forbidden => "forbidden",
        Outcome::BadSubdomain => "bad_subdomain",
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
    fn two_newest_values_are_kept() {
        let mut account = AcmeAccount {
            id: 1,
            name: String::new(),
            username: String::new(),
            key_digest: Vec::new(),
            subdomain: String::new(),
            allowfrom: String::new(),
            txt_new: None,
            txt_old: None,
        };
        assert_eq!(next_values(&account, "a"), ("a".to_owned(), None));
        account.txt_new = Some("a".to_owned());
        assert_eq!(next_values(&account, "b"), ("b".to_owned(), Some("a".to_owned())));
        account.txt_new = Some("b".to_owned());
        account.txt_old = Some("a".to_owned());
        assert_eq!(next_values(&account, "c"), ("c".to_owned(), Some("b".to_owned())));
        // A repeated value does not push out the other one.
        assert_eq!(next_values(&account, "b"), ("b".to_owned(), Some("a".to_owned())));
    }

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
