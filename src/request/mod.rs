//! Turns the CGI meta-variables of one request (RFC 3875 §4.1) and its body into a
//! [`Request`]: method, endpoint, credentials, hostnames and addresses, all decoded and
//! normalised. This is a pure function over explicit inputs, so CGI and FastCGI share it and
//! unit tests feed it a literal map. It authenticates nothing and touches no database or DNS:
//! problems with hostnames and addresses are kept in the `Request` and only reported after the
//! caller has authenticated the user, so an unauthenticated client learns nothing. A secret in
//! the path (`/update/TOKEN[/FQDN]`, for devices that cannot send headers) becomes
//! [`Credentials::Token`]; whether it is a valid token is for `update` to find out, and
//! [`log_path`] is the path with it redacted. An endpoint of the Flask dyndns API (`flask`)
//! gives the same `Request` from that API's forms.

mod client;
mod flask;
mod hostname;
mod params;
mod route;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;

use crate::config::{Absent, Action, Api, Config};
use crate::secret::Secret;
pub(crate) use client::client;
use client::client_address;
use flask::FlaskRequest;
pub(crate) use hostname::normalize_hostname;
use params::{Params, host_arg, is_unicast};
pub(crate) use params::{parse_form, txt_change};
use route::{Route, route};
pub(crate) use route::{log_path, request_path, request_uri_path};

/// Largest request body we read (and `QUERY_STRING` we accept); a dyndns2 request is tiny.
pub(crate) const MAX_BODY_BYTES: usize = 8 * 1024;
pub(crate) const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Parameters beyond this many make the request malformed.
pub(crate) const MAX_PARAMS: usize = 64;
/// dyndns2 allows up to 20 hostnames per request; more answers `numhost`.
pub(crate) const MAX_HOSTS: usize = 20;
/// The longest TXT value a host may publish with `txt=`: two RFC 1035 character-strings'
/// worth and then some, enough for an ACME token, an SPF line or a short note, and small
/// enough that an update with it still fits a UDP datagram.
pub(crate) const MAX_TXT_BYTES: usize = 512;
/// Longest header value (Authorization, Accept, proxy header) we look at.
pub(crate) const MAX_HEADER_BYTES: usize = 4 * 1024;

/// The CGI variables a request may set. Everything else in a CGI process's environment comes
/// from the web server's own configuration and is not request input.
pub(crate) const REQUEST_VARIABLES: &[&str] = &[
    "REQUEST_METHOD",
    "QUERY_STRING",
    "SCRIPT_NAME",
    "PATH_INFO",
    // The raw request target; read only when SCRIPT_NAME and PATH_INFO name no endpoint
    // (a web server that maps every path onto one script name).
    "REQUEST_URI",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "HTTP_AUTHORIZATION",
    "REMOTE_ADDR",
    "HTTP_ACCEPT",
    "HTTP_USER_AGENT",
    // The acme-dns API's credentials (`acme.rs`).
    "HTTP_X_API_USER",
    "HTTP_X_API_KEY",
    // The web console (`web/`): its session cookie, where a form post comes from (CSRF), and
    // whether the request came over TLS (no login over plain HTTP but from loopback).
    "HTTP_COOKIE",
    "HTTP_ORIGIN",
    "HTTP_SEC_FETCH_SITE",
    "HTTP_HOST",
    "HTTPS",
    "REQUEST_SCHEME",
];

/// The request's meta-variables: the names in [`REQUEST_VARIABLES`] plus the configured proxy
/// header.
pub(crate) type Env = BTreeMap<String, String>;

/// One request as a transport hands it over.
#[derive(Debug)]
pub(crate) struct Incoming<'a> {
    pub(crate) env: &'a Env,
    /// Bounded by the transport (`request::MAX_BODY_BYTES` + 1).
    pub(crate) body: &'a [u8],
    /// Seconds since the epoch.
    pub(crate) now: i64,
    /// When the request arrived, for the logged duration.
    pub(crate) started: std::time::Instant,
}

/// The dyndns2 parameter that takes a host offline (`offline=yes`).
const OFFLINE_PARAM: &str = "offline";
/// The parameter that asks for a TTL.
const TTL_PARAM: &str = "ttl";
/// The parameter that sets the host's TXT record (`txt=VALUE`) or, empty, removes it.
const TXT_PARAM: &str = "txt";

/// A request that could be parsed far enough to be answered in dyndns2.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) credentials: Option<Credentials>,
    /// Publish addresses, or take the hosts offline.
    pub(crate) intent: Intent,
    /// The requested hostnames, each normalised or rejected, in request order.
    pub(crate) hostnames: Result<Vec<HostArg>, HostsError>,
    /// The addresses to publish; not looked at when the hosts go offline.
    pub(crate) addresses: Result<Addresses, AddressError>,
    /// What the update does to a family `addresses` lacks: the endpoint's `absent`, but
    /// `Keep` for a TXT-only request, which changes only the TXT record.
    pub(crate) absent: Absent,
    /// The IPv6 prefix the client announced (Fritz!OS `<ip6lanprefix>`), checked but not
    /// used yet; only set when `addresses` is `Ok`.
    pub(crate) ipv6_prefix: Option<Ipv6Prefix>,
    /// The TTL the client asked for, checked against `[defaults] min_dns_ttl`/`max_dns_ttl`.
    pub(crate) ttl: Result<Option<u32>, TtlError>,
    /// What to do with the host's TXT record; `None` when the request has no `txt`. A
    /// request with `txt` and no address parameter changes only the TXT record: its
    /// `addresses` are then empty, never the client's address.
    pub(crate) txt: Option<Result<TxtChange, TxtError>>,
    /// The client's address (after trusted-proxy resolution), for logs and rate limits.
    pub(crate) client: Option<IpAddr>,
    /// Why the proxy header of a trusted proxy could not be used, when `client` is that
    /// proxy for want of a better address; the handler logs it.
    pub(crate) proxy_fallback: Option<&'static str>,
    pub(crate) format: Format,
}

/// The credentials a request carries, not yet verified.
#[derive(Debug)]
pub(crate) enum Credentials {
    /// A user name with a secret: HTTP Basic, or the user name and password parameters. The
    /// secret is a password, or a host token (then the user name is the hostname or its
    /// owner); `update` tells them apart by the token's shape.
    Password { username: String, password: Secret<String> },
    /// A secret without a user name: a token in the path, a `password`/`token` parameter
    /// alone, or Basic with an empty user name. Only a host token can authenticate alone.
    Token { token: Secret<String> },
}

impl Credentials {
    /// The user name given, as the client sent it: for authentication only.
    pub(crate) fn username(&self) -> Option<&str> {
        match self {
            Credentials::Password { username, .. } => Some(username),
            Credentials::Token { .. } => None,
        }
    }
}

/// What a request asks for each of its hosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Intent {
    /// Publish the request's addresses.
    Update,
    /// Remove the A, AAAA and TXT records: dyndns2 `offline=yes`, or a `delete` endpoint.
    Offline,
}

/// An IPv6 prefix as routers announce their delegated LAN prefix: `2001:db8:1:2::/64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv6Prefix {
    pub(crate) addr: Ipv6Addr,
    pub(crate) len: u8,
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Why a requested TTL cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TtlError {
    #[error("`ttl` value `{value}` is not a number of seconds")]
    Malformed { value: String },
    #[error("`ttl` value `{ttl}` is outside {min}..={max} (`defaults.min_dns_ttl`, `defaults.max_dns_ttl`)")]
    OutOfRange { ttl: u32, min: u32, max: u32 },
}

/// What a request asks of the host's TXT record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TxtChange {
    /// Publish this value (printable ASCII, at most [`MAX_TXT_BYTES`]).
    Set(String),
    /// `txt=` with no value: remove the TXT record.
    Clear,
}

/// Why a `txt` value cannot be published.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TxtError {
    #[error("`txt` value of {n_bytes} bytes exceeds {} bytes", MAX_TXT_BYTES)]
    TooLong { n_bytes: usize },
    #[error("`txt` value `{value}` has characters other than printable ASCII")]
    NotPrintable { value: String },
}

/// One entry of the `hostname` list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostArg {
    /// Normalised: punycode, lower case, no trailing dot.
    Valid(String),
    /// Not a valid FQDN; answers `notfqdn` on its line.
    NotFqdn(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostsError {
    /// No `hostname` parameter, or an empty one.
    Missing,
    /// The Flask API's hostname parameters are incomplete or contradict each other
    /// (`zone_name` without `record_name`, or with `fqdn`). Unlike `Missing`, a token never
    /// stands in for the hostname: the client meant to name one.
    Unclear { reason: &'static str },
    /// More than [`MAX_HOSTS`] entries.
    TooMany { n_hosts: usize },
}

/// The addresses to publish. Both are `None` for a TXT-only request, and on an endpoint with
/// `absent = "remove"` when the request gives no address (both families are removed);
/// otherwise at least one is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Addresses {
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Option<Ipv6Addr>,
}

/// Why the addresses of a request cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AddressError {
    #[error("`{param}` value `{value}` is not an IP address")]
    Unparsable { param: String, value: String },
    #[error("`{param}` value `{value}` is not an IPv{family} address")]
    WrongFamily { param: String, value: String, family: u8 },
    #[error("`{param}` value `{value}` is not an IPv6 prefix such as `2001:db8:1:2::/64`")]
    NotPrefix { param: String, value: String },
    #[error("`{param}` value `{value}` is not a public unicast address")]
    NotUnicast { param: String, value: String },
    #[error("`{param}` gives two IPv{family} addresses")]
    Repeated { param: String, family: u8 },
    #[error("no address given and the client address is unknown ({reason})")]
    NoClientAddress { reason: &'static str },
}

/// How the answer is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json,
}

/// A request that cannot be answered as a dyndns2 update at all.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RejectError {
    #[error("method `{method}` is not allowed")]
    MethodNotAllowed { method: String },
    #[error("no endpoint at `{path}`")]
    NotFound { path: String },
    #[error("request body of {n_bytes} bytes exceeds {MAX_BODY_BYTES}")]
    BodyTooLarge { n_bytes: usize },
    /// The body ended before `CONTENT_LENGTH` bytes: cut in transit, so what arrived may be a
    /// different request (`myip=203.0.113.2` from `myip=203.0.113.254`).
    #[error("request body ended after {n_bytes} of the {content_length} bytes `CONTENT_LENGTH` announced")]
    ShortBody { n_bytes: usize, content_length: usize },
    #[error("unsupported content type `{content_type}`")]
    UnsupportedContentType { content_type: String },
    #[error("malformed parameters: {reason}")]
    Malformed { reason: &'static str },
}

/// The method, read first so the CGI adapter knows whether to read a body.
pub(crate) fn method(env: &Env) -> &str {
    env.get("REQUEST_METHOD").map(String::as_str).unwrap_or("GET")
}

/// The body length the client announces, `None` when absent or unparsable.
pub(crate) fn content_length(env: &Env) -> Option<usize> {
    env.get("CONTENT_LENGTH").and_then(|v| v.trim().parse().ok())
}

/// Parses one request. `body` is already bounded by the transport.
pub(crate) fn parse(env: &Env, body: &[u8], config: &Config) -> Result<Request, RejectError> {
    let method = method(env).to_owned();
    if method != "GET" && method != "POST" {
        return Err(RejectError::MethodNotAllowed { method });
    }
    let route = route(env, config).ok_or_else(|| RejectError::NotFound { path: log_path(env, config) })?;
    let endpoint = route.endpoint;

    let query = env.get("QUERY_STRING").map(String::as_str).unwrap_or("");
    if query.len() > MAX_QUERY_BYTES {
        return Err(RejectError::Malformed { reason: "query string too long" });
    }
    let mut params = parse_form(query.as_bytes())?;
    // RFC 3875 §4.2: the body is `CONTENT_LENGTH` bytes. The transports read at most one byte
    // past the bound, so anything less than that is a body that ended early.
    if method == "POST"
        && let Some(content_length) = content_length(env)
        && body.len() < content_length.min(MAX_BODY_BYTES + 1)
    {
        return Err(RejectError::ShortBody { n_bytes: body.len(), content_length });
    }
    if !body.is_empty() {
        if body.len() > MAX_BODY_BYTES {
            return Err(RejectError::BodyTooLarge { n_bytes: body.len() });
        }
        let content_type = env.get("CONTENT_TYPE").map(String::as_str).unwrap_or("");
        let media = content_type.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(RejectError::UnsupportedContentType { content_type: truncate(content_type, 64) });
        }
        params.extend(parse_form(body)?);
        if params.len() > MAX_PARAMS {
            return Err(RejectError::Malformed { reason: "too many parameters" });
        }
    }
    let params = Params { pairs: params, endpoint };

    let client = client_address(env, config);
    let Explicit { credentials, hostnames, addresses, ipv6_prefix, txt } = match endpoint.api {
        Api::Dyndns2 => dyndns2(env, route, &params),
        Api::Flask => {
            let FlaskRequest { credentials, hostnames, addresses } = flask::read(&route, &params.pairs);
            Explicit { credentials, hostnames, addresses, ipv6_prefix: Ok(None), txt: None }
        }
    };
    // A TXT-only request changes only the TXT record, whatever the endpoint's `absent`.
    let absent = match (&addresses, &txt) {
        (Ok(None), Some(_)) => Absent::Keep,
        _ => endpoint.absent,
    };
    let addresses = ipv6_prefix.clone().and(addresses).and_then(|a| match a {
        Some(a) => Ok(a),
        // A TXT-only request leaves the addresses alone: no fallback to the client's.
        None if txt.is_some() => Ok(Addresses { ipv4: None, ipv6: None }),
        // nanodnsd has no fallback to the client's address: a request without any IP
        // parameter removes both records, as every missing one removes its own.
        None if absent == Absent::Remove => Ok(Addresses { ipv4: None, ipv6: None }),
        None => match &client.publishable() {
            // The peer's address gets the same unicast check as an explicit one: a
            // misconfigured proxy header must not publish a multicast or unspecified address.
            Ok(ip) if !is_unicast(*ip) => {
                Err(AddressError::NotUnicast { param: "client address".to_owned(), value: ip.to_string() })
            }
            Ok(IpAddr::V4(v4)) => Ok(Addresses { ipv4: Some(*v4), ipv6: None }),
            Ok(IpAddr::V6(v6)) => Ok(Addresses { ipv4: None, ipv6: Some(*v6) }),
            Err(reason) => Err(AddressError::NoClientAddress { reason }),
        },
    });

    let intent = match endpoint.action {
        Action::Delete => Intent::Offline,
        // The Flask API has no `offline`: its deletion is its delete endpoint.
        Action::Update if endpoint.api == Api::Dyndns2 && params.offline() => Intent::Offline,
        Action::Update => Intent::Update,
    };
    Ok(Request {
        credentials,
        intent,
        hostnames,
        addresses,
        absent,
        ipv6_prefix: ipv6_prefix.ok().flatten(),
        ttl: params.ttl(config.defaults.min_dns_ttl, config.defaults.max_dns_ttl),
        txt,
        client: client.ip(),
        proxy_fallback: client.fallback(),
        format: format(env),
    })
}

/// What a request names explicitly, before the client-address fallback.
struct Explicit {
    credentials: Option<Credentials>,
    hostnames: Result<Vec<HostArg>, HostsError>,
    addresses: Result<Option<Addresses>, AddressError>,
    ipv6_prefix: Result<Option<Ipv6Prefix>, AddressError>,
    txt: Option<Result<TxtChange, TxtError>>,
}

/// The dyndns2 parameters through the endpoint's aliases, with `/TOKEN[/FQDN]` from the path.
fn dyndns2(env: &Env, route: Route<'_>, params: &Params<'_>) -> Explicit {
    // The path names the credentials and host most explicitly, so it wins, as Basic wins
    // over parameters.
    let hostnames = match route.hostname {
        Some(raw) => Ok(vec![host_arg(&raw)]),
        None => params.hostnames(),
    };
    let credentials = match route.token {
        Some(token) => Some(Credentials::Token { token: Secret::new(token) }),
        None => basic_credentials(env).or_else(|| params.credentials()),
    };
    Explicit {
        credentials,
        hostnames,
        addresses: params.addresses(),
        ipv6_prefix: params.ipv6_prefix(),
        txt: params.txt(),
    }
}

/// HTTP Basic credentials (RFC 7617). The user-pass is split at the first colon, so passwords
/// may contain colons. An empty user name with a password is a token alone; both empty count
/// as none: inadyn sends `Basic Og==` (`:`) when it has no credentials configured.
pub(crate) fn basic_credentials(env: &Env) -> Option<Credentials> {
    let header = env.get("HTTP_AUTHORIZATION")?;
    if header.len() > MAX_HEADER_BYTES {
        return None;
    }
    let (scheme, token) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (username, password) = decoded.split_once(':')?;
    let password = Secret::new(password.to_owned());
    match (username.is_empty(), password.expose().is_empty()) {
        (true, true) => None,
        (true, false) => Some(Credentials::Token { token: password }),
        (false, _) => Some(Credentials::Password { username: username.to_owned(), password }),
    }
}

/// JSON when the client's `Accept` lists `application/json`; text otherwise.
fn format(env: &Env) -> Format {
    let accept = env.get("HTTP_ACCEPT").map(String::as_str).unwrap_or("");
    let json = accept.len() <= MAX_HEADER_BYTES
        && accept
            .split(',')
            .any(|range| range.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json"));
    if json { Format::Json } else { Format::Text }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}
