//! Turns the CGI meta-variables of one request (RFC 3875 §4.1) and its body into a
//! [`Request`]: method, endpoint, credentials, hostnames and addresses, all decoded and
//! normalised. This is a pure function over explicit inputs, so CGI and FastCGI share it and
//! unit tests feed it a literal map. It authenticates nothing and touches no database or DNS:
//! problems with hostnames and addresses are kept in the `Request` and only reported after the
//! caller has authenticated the user, so an unauthenticated client learns nothing. A secret in
//! the path (`/update/TOKEN[/FQDN]`, for devices that cannot send headers) becomes
//! [`Credentials::Token`]; whether it is a valid token is for `update` to find out, and
//! [`log_path`] is the path with it redacted.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;

use crate::config::{Action, Config, Endpoint};
use crate::secret::Secret;

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
];

/// The request's meta-variables: the names in [`REQUEST_VARIABLES`] plus the configured proxy
/// header.
pub(crate) type Env = BTreeMap<String, String>;

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
    /// The user name given, for logs and the per-user rate limit.
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
    /// More than [`MAX_HOSTS`] entries.
    TooMany { n_hosts: usize },
}

/// The addresses to publish. At least one is set.
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
    let ipv6_prefix = params.ipv6_prefix();
    let txt = params.txt();
    let addresses = ipv6_prefix.clone().and_then(|_| params.addresses()).and_then(|a| match a {
        Some(a) => Ok(a),
        // A TXT-only request leaves the addresses alone: no fallback to the client's.
        None if txt.is_some() => Ok(Addresses { ipv4: None, ipv6: None }),
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
        Action::Update if params.offline() => Intent::Offline,
        Action::Update => Intent::Update,
    };
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
    Ok(Request {
        credentials,
        intent,
        hostnames,
        addresses,
        ipv6_prefix: ipv6_prefix.ok().flatten(),
        ttl: params.ttl(config.defaults.min_dns_ttl, config.defaults.max_dns_ttl),
        txt,
        client: client.ip(),
        proxy_fallback: client.fallback(),
        format: format(env),
    })
}

/// `SCRIPT_NAME` + `PATH_INFO` (RFC 3875 §4.1.13, §4.1.5).
pub(crate) fn request_path(env: &Env) -> String {
    let script = env.get("SCRIPT_NAME").map(String::as_str).unwrap_or("");
    let info = env.get("PATH_INFO").map(String::as_str).unwrap_or("");
    truncate(&format!("{script}{info}"), 512)
}

/// The path part of `REQUEST_URI`, percent-decoded; `None` when absent or unusable.
pub(crate) fn request_uri_path(env: &Env) -> Option<String> {
    let uri = env.get("REQUEST_URI")?;
    if uri.len() > MAX_QUERY_BYTES + 512 {
        return None;
    }
    let raw = uri.split(['?', '#']).next().unwrap_or("");
    // The form decoder also turns `+` into a space; no endpoint, token or hostname contains
    // either, so such a path is unknown whichever way it is read.
    let path = decode_component(raw.as_bytes()).ok()?;
    path.starts_with('/').then(|| truncate(&path, 512))
}

/// Where a request's path leads: the endpoint, and for the path form of a token the token
/// and the hostname after it.
#[derive(Debug)]
struct Route<'a> {
    endpoint: &'a Endpoint,
    token: Option<String>,
    hostname: Option<String>,
}

/// The longest path segment taken as a token. Real tokens are 48 characters; a longer
/// segment is no credential and the path is unknown.
const MAX_PATH_TOKEN: usize = 128;

/// The route of `SCRIPT_NAME` + `PATH_INFO` (CGI under Apache: `/update` + `/TOKEN`; nginx
/// puts the whole path into `SCRIPT_NAME`), else of `REQUEST_URI`'s path.
fn route<'a>(env: &Env, config: &'a Config) -> Option<Route<'a>> {
    route_of(&request_path(env), config).or_else(|| route_of(&request_uri_path(env)?, config))
}

/// An endpoint's path itself (a trailing slash either side is ignored), or below it
/// `/TOKEN` or `/TOKEN/FQDN`. The token segment must be base64url characters; anything else
/// below an endpoint is an unknown path.
fn route_of<'a>(path: &str, config: &'a Config) -> Option<Route<'a>> {
    let exact = config
        .endpoints
        .iter()
        .find(|e| e.path == path || e.path.strip_suffix('/') == Some(path) || path.strip_suffix('/') == Some(&e.path));
    if let Some(endpoint) = exact {
        return Some(Route { endpoint, token: None, hostname: None });
    }
    config.endpoints.iter().find_map(|endpoint| {
        let rest = path.strip_prefix(endpoint.path.trim_end_matches('/'))?.strip_prefix('/')?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (token, hostname) = match rest.split_once('/') {
            Some((t, h)) if !h.is_empty() && !h.contains('/') => (t, Some(h.to_owned())),
            Some(_) => return None,
            None => (rest, None),
        };
        let token_shaped = (1..=MAX_PATH_TOKEN).contains(&token.len())
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        token_shaped.then(|| Route { endpoint, token: Some(token.to_owned()), hostname })
    })
}

/// The request path as it may be logged: a secret in the path becomes `***`
/// (`/update/***`). An unknown path may be a token URL sent to the wrong place, so only its
/// first segment is kept, and only when it is a short lower-case word.
pub(crate) fn log_path(env: &Env, config: &Config) -> String {
    if let Some(route) = route(env, config) {
        return match route.token {
            Some(_) => format!("{}/***", route.endpoint.path.trim_end_matches('/')),
            None => route.endpoint.path.clone(),
        };
    }
    let path = request_path(env);
    let mut segments = path.split('/').skip(1);
    let first = segments.next().unwrap_or("");
    let word = first.len() <= 16 && first.bytes().all(|b| b.is_ascii_lowercase() || matches!(b, b'-' | b'.' | b'_'));
    let mut out = if word { format!("/{first}") } else { "/***".to_owned() };
    if segments.next().is_some() {
        out.push_str("/***");
    }
    out
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

struct Params<'a> {
    pairs: Vec<(String, String)>,
    endpoint: &'a Endpoint,
}

impl Params<'_> {
    /// The first non-empty value among `names`, in alias order ("first match wins"), with the
    /// name that supplied it. An empty value counts as absent: ddclient sends `myip=` when it
    /// has no IPv4 address.
    fn first(&self, names: &[String]) -> Option<(&str, &str)> {
        names.iter().find_map(|name| {
            self.pairs.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str()))
        })
    }

    /// The user name and password parameters; the password (or `token`) alone is a token.
    fn credentials(&self) -> Option<Credentials> {
        let (_, password) = self.first(&self.endpoint.params.password)?;
        let password = Secret::new(password.to_owned());
        Some(match self.first(&self.endpoint.params.username) {
            Some((_, username)) => Credentials::Password { username: username.to_owned(), password },
            None => Credentials::Token { token: password },
        })
    }

    fn hostnames(&self) -> Result<Vec<HostArg>, HostsError> {
        let Some((_, list)) = self.first(&self.endpoint.params.hostname) else {
            return Err(HostsError::Missing);
        };
        // The list is split after percent-decoding: OPNsense sends `hostname=a%2Cb`.
        let n_hosts = list.split(',').count();
        if n_hosts > MAX_HOSTS {
            return Err(HostsError::TooMany { n_hosts });
        }
        Ok(list.split(',').map(host_arg).collect())
    }

    /// The explicit addresses, `None` when the request gives none. An `address` name
    /// (`myip`) may carry either family or one of each; an `ipv4` or `ipv6` name carries
    /// exactly one address of the family it names. Two parameters that give different
    /// addresses of one family make the request ambiguous.
    fn addresses(&self) -> Result<Option<Addresses>, AddressError> {
        let mut out = Addresses { ipv4: None, ipv6: None };
        let repeated = |param: &str, family| Err(AddressError::Repeated { param: param.to_owned(), family });
        // ddclient and the Fritz!Box send dual stack in `myip`, comma-separated in either
        // order; an empty part is the Fritz!Box's `<ip6addr>` when it has no IPv6.
        if let Some((param, value)) = self.first(&self.endpoint.params.address) {
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match parse_address(param, item)? {
                    IpAddr::V4(a) if out.ipv4.is_none() => out.ipv4 = Some(a),
                    IpAddr::V6(a) if out.ipv6.is_none() => out.ipv6 = Some(a),
                    ip => return repeated(param, if ip.is_ipv4() { 4 } else { 6 }),
                }
            }
        }
        if let Some((param, value)) = self.first(&self.endpoint.params.ipv4) {
            match parse_address(param, value.trim())? {
                IpAddr::V4(a) => match out.ipv4 {
                    Some(existing) if existing != a => return repeated(param, 4),
                    _ => out.ipv4 = Some(a),
                },
                IpAddr::V6(_) => return Err(wrong_family(param, value, 4)),
            }
        }
        if let Some((param, value)) = self.first(&self.endpoint.params.ipv6) {
            match parse_address(param, value.trim())? {
                IpAddr::V6(a) => match out.ipv6 {
                    Some(existing) if existing != a => return repeated(param, 6),
                    _ => out.ipv6 = Some(a),
                },
                IpAddr::V4(_) => return Err(wrong_family(param, value, 6)),
            }
        }
        Ok((out.ipv4.is_some() || out.ipv6.is_some()).then_some(out))
    }

    /// The announced IPv6 prefix, `None` when absent or empty (Fritz!OS leaves
    /// `<ip6lanprefix>` empty without IPv6). The slash may arrive plain or as `%2F`; form
    /// decoding has already turned the latter into a slash.
    fn ipv6_prefix(&self) -> Result<Option<Ipv6Prefix>, AddressError> {
        let Some((param, value)) = self.first(&self.endpoint.params.ipv6_prefix) else { return Ok(None) };
        let not_prefix = || AddressError::NotPrefix { param: param.to_owned(), value: truncate(value, 64) };
        let (addr, len) = value.trim().split_once('/').ok_or_else(not_prefix)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| not_prefix())?;
        // Digits only: `u8::from_str` would also take `+64`.
        let len = Some(len)
            .filter(|l| !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|l| l.parse::<u8>().ok())
            .filter(|l| (1..=128).contains(l))
            .ok_or_else(not_prefix)?;
        if !is_unicast(IpAddr::V6(addr)) {
            return Err(not_prefix());
        }
        Ok(Some(Ipv6Prefix { addr, len }))
    }

    /// The `txt` parameter: a value to publish, or empty to remove the record; `None` when
    /// absent. Unlike the other parameters an empty value counts: it is the removal.
    fn txt(&self) -> Option<Result<TxtChange, TxtError>> {
        let (_, value) = self.pairs.iter().find(|(k, _)| k == TXT_PARAM)?;
        Some(txt_change(value))
    }

    /// dyndns2 `offline=yes` (any case). `no`, `nochg` and anything else keep the host
    /// online: ddclient sends `offline=no` with every update.
    fn offline(&self) -> bool {
        self.pairs.iter().find(|(k, _)| k == OFFLINE_PARAM).is_some_and(|(_, v)| v.trim().eq_ignore_ascii_case("yes"))
    }

    /// The requested TTL: decimal seconds within `min..=max`; empty counts as absent.
    fn ttl(&self, min: u32, max: u32) -> Result<Option<u32>, TtlError> {
        let Some((_, value)) = self.first(&[TTL_PARAM.to_owned()]) else { return Ok(None) };
        let ttl = Some(value)
            .filter(|v| v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| TtlError::Malformed { value: truncate(value, 32) })?;
        if !(min..=max).contains(&ttl) {
            return Err(TtlError::OutOfRange { ttl, min, max });
        }
        Ok(Some(ttl))
    }
}

/// Checks a `txt` value: at most [`MAX_TXT_BYTES`], printable ASCII only (RFC 1035
/// character-strings are octets, but a control character or a byte of half a UTF-8
/// sequence in a record helps nobody and would be cut across character-strings).
fn txt_change(value: &str) -> Result<TxtChange, TxtError> {
    if value.is_empty() {
        return Ok(TxtChange::Clear);
    }
    if value.len() > MAX_TXT_BYTES {
        return Err(TxtError::TooLong { n_bytes: value.len() });
    }
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(TxtError::NotPrintable { value: truncate(value, 64) });
    }
    Ok(TxtChange::Set(value.to_owned()))
}

fn wrong_family(param: &str, value: &str, family: u8) -> AddressError {
    AddressError::WrongFamily { param: param.to_owned(), value: truncate(value, 64), family }
}

fn host_arg(raw: &str) -> HostArg {
    match normalize_hostname(raw.trim()) {
        Some(fqdn) => HostArg::Valid(fqdn),
        None => HostArg::NotFqdn(truncate(raw, 253)),
    }
}

/// Parses an address a client asks us to publish. Only addresses that can reach the client
/// are accepted: no unspecified, multicast, broadcast or link-local addresses, no IPv4-mapped
/// IPv6 (send the IPv4 in `myip` instead) and no zone index (`fe80::1%eth0`). Loopback and
/// private ranges are accepted: they are real uses on a LAN or a test bench.
fn parse_address(param: &str, value: &str) -> Result<IpAddr, AddressError> {
    let err_value = || truncate(value, 64);
    let ip: IpAddr =
        value.parse().map_err(|_| AddressError::Unparsable { param: param.to_owned(), value: err_value() })?;
    if !is_unicast(ip) {
        return Err(AddressError::NotUnicast { param: param.to_owned(), value: err_value() });
    }
    Ok(ip)
}

/// An address that can reach one host: see [`parse_address`].
fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast() || a.is_link_local()),
        IpAddr::V6(a) => {
            !(a.is_unspecified()
                || a.is_multicast()
                || a.to_ipv4_mapped().is_some()
                || (a.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// The client's address for a request that could not be parsed (rate limits still count it).
pub(crate) fn client(env: &Env, config: &Config) -> ClientAddress {
    client_address(env, config)
}

/// Where a request comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClientAddress {
    /// `REMOTE_ADDR`, or the client the proxy header names when `REMOTE_ADDR` is a trusted
    /// proxy.
    Resolved(IpAddr),
    /// `REMOTE_ADDR` is a trusted proxy whose header is missing, oversized or unparsable. The
    /// proxy stands in for the client in logs and rate limits, so a broken header cannot
    /// shed the per-address limits; it is never published as the client's address.
    Proxy { proxy: IpAddr, reason: &'static str },
    /// `REMOTE_ADDR` is missing or malformed (a web server bug).
    Unknown,
}

impl ClientAddress {
    /// The address logs and rate limits key on.
    pub(crate) fn ip(self) -> Option<IpAddr> {
        match self {
            ClientAddress::Resolved(ip) | ClientAddress::Proxy { proxy: ip, .. } => Some(ip),
            ClientAddress::Unknown => None,
        }
    }

    /// Why the proxy stands in for the client, if it does.
    pub(crate) fn fallback(self) -> Option<&'static str> {
        match self {
            ClientAddress::Proxy { reason, .. } => Some(reason),
            ClientAddress::Resolved(_) | ClientAddress::Unknown => None,
        }
    }

    /// The address to publish when the request names none.
    fn publishable(self) -> Result<IpAddr, &'static str> {
        match self {
            ClientAddress::Resolved(ip) => Ok(ip),
            ClientAddress::Proxy { reason, .. } => Err(reason),
            ClientAddress::Unknown => Err("REMOTE_ADDR is missing or malformed"),
        }
    }
}

/// The client's address: `REMOTE_ADDR`, or the configured proxy header when `REMOTE_ADDR` is
/// a trusted proxy. In `X-Forwarded-For`, each proxy appends the address it saw, so the client
/// is the right-most entry that is not itself a trusted proxy; entries further left are
/// whatever the client claimed and are ignored. The header is bounded before it is parsed.
fn client_address(env: &Env, config: &Config) -> ClientAddress {
    let Some(remote) = env.get("REMOTE_ADDR").and_then(|s| s.trim().parse::<IpAddr>().ok()).map(canonical) else {
        return ClientAddress::Unknown;
    };
    let http = &config.http;
    let Some(header) = &http.proxy_header else { return ClientAddress::Resolved(remote) };
    let trusted = |ip: IpAddr| http.trusted_proxies.iter().any(|c| c.contains(ip));
    if !trusted(remote) {
        return ClientAddress::Resolved(remote);
    }
    let proxy = |reason| ClientAddress::Proxy { proxy: remote, reason };
    let value = env.get(header).map(String::as_str).unwrap_or("");
    if value.trim().is_empty() {
        return proxy("a trusted proxy sent no proxy header");
    }
    if value.len() > MAX_HEADER_BYTES {
        return proxy("the proxy header from a trusted proxy is longer than the header bound");
    }
    for item in value.rsplit(',') {
        let Ok(ip) = item.trim().parse::<IpAddr>().map(canonical) else {
            return proxy("the proxy header from a trusted proxy holds a malformed address");
        };
        if !trusted(ip) {
            return ClientAddress::Resolved(ip);
        }
    }
    proxy("the proxy header names only trusted proxies")
}

/// A dual-stack socket reports IPv4 clients as `::ffff:a.b.c.d`; they are IPv4 clients.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
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

/// Decodes `application/x-www-form-urlencoded` strictly: `+` is a space, `%XX` must be two hex
/// digits, and the result must be UTF-8 without control characters.
pub(crate) fn parse_form(input: &[u8]) -> Result<Vec<(String, String)>, RejectError> {
    let mut out = Vec::new();
    for part in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_PARAMS {
            return Err(RejectError::Malformed { reason: "too many parameters" });
        }
        let (key, value) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        out.push((decode_component(key)?, decode_component(value)?));
    }
    Ok(out)
}

fn decode_component(raw: &[u8]) -> Result<String, RejectError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let (Some(h), Some(l)) = (raw.get(i + 1).and_then(|b| hex(*b)), raw.get(i + 2).and_then(|b| hex(*b)))
                else {
                    return Err(RejectError::Malformed { reason: "invalid percent-encoding" });
                };
                bytes.push((h * 16 + l) as u8);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    let s = String::from_utf8(bytes).map_err(|_| RejectError::Malformed { reason: "invalid UTF-8" })?;
    if s.chars().any(char::is_control) {
        return Err(RejectError::Malformed { reason: "control character" });
    }
    Ok(s)
}

/// Normalises a hostname to the form stored in the database: IDN to punycode (UTS #46),
/// lower case, one trailing dot removed. Returns `None` for anything that is not a valid
/// FQDN of at least two labels: empty labels, labels over 63 octets, names over 253, leading
/// or trailing hyphens, underscores, wildcards.
pub(crate) fn normalize_hostname(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > 1024 {
        return None;
    }
    let raw = raw.strip_suffix('.').unwrap_or(raw);
    // Plain LDH names skip the IDN machinery; `xn--` labels go through it so that invalid
    // punycode is rejected (UTS #46 §4.1 decodes and re-checks them).
    let plain = raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !raw.to_ascii_lowercase().split('.').any(|l| l.starts_with("xn--"));
    let ascii = if plain {
        raw.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_cow(raw.as_bytes(), idna::AsciiDenyList::STD3).ok()?.into_owned()
    };
    if ascii.len() > 253 {
        return None;
    }
    let mut n_labels = 0;
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return None;
        }
        n_labels += 1;
    }
    (n_labels >= 2).then_some(ascii)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "[database]\npath = \"/tmp/x.db\"\n[dns]\ntsig_key = \"hmac-sha256:k.:c2VjcmV0\"\n[[zones]]\nname = \"dyn.example.com\"\n{extra}"
        );
        Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), &text).expect("config")
    }

    fn env(pairs: &[(&str, &str)]) -> Env {
        let mut e: Env = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        e.entry("REQUEST_METHOD".into()).or_insert_with(|| "GET".into());
        e.entry("SCRIPT_NAME".into()).or_insert_with(|| "/nic/update".into());
        e.entry("REMOTE_ADDR".into()).or_insert_with(|| "198.51.100.7".into());
        e
    }

    fn get(query: &str) -> Request {
        parse(&env(&[("QUERY_STRING", query)]), b"", &config("")).expect("parses")
    }

    #[track_caller]
    fn check_host(raw: &str, expected: Option<&str>) {
        assert_eq!(normalize_hostname(raw).as_deref(), expected, "input {raw:?}");
    }

    #[test]
    fn hostnames_normalise() {
        check_host("Home.Dyn.Example.COM.", Some("home.dyn.example.com"));
        check_host("bücher.dyn.example.com", Some("xn--bcher-kva.dyn.example.com"));
        check_host("xn--bcher-kva.dyn.example.com", Some("xn--bcher-kva.dyn.example.com"));
        check_host("a.b", Some("a.b"));
        check_host("single", None);
        check_host("a..b", None);
        check_host("a.b..", None);
        check_host("-a.example.com", None);
        check_host("a-.example.com", None);
        check_host("under_score.example.com", None);
        check_host("*.example.com", None);
        check_host(&format!("{}.example.com", "a".repeat(64)), None);
        check_host(&format!("{}.example.com", "a".repeat(63)), Some(&format!("{}.example.com", "a".repeat(63))));
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(long.len() > 253);
        check_host(&long, None);
        check_host("", None);
    }

    #[test]
    fn form_decoding_is_strict() {
        assert_eq!(
            parse_form(b"a=1&b=x+y&c=%3A%3a&d").expect("ok"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "::".into()),
                ("d".into(), "".into())
            ]
        );
        assert!(parse_form(b"a=%zz").is_err());
        assert!(parse_form(b"a=%4").is_err());
        assert!(parse_form(b"a=%ff").is_err());
        assert!(parse_form(b"a=%00").is_err());
        let many = vec!["a=1"; MAX_PARAMS + 1].join("&");
        assert!(parse_form(many.as_bytes()).is_err());
    }

    #[test]
    fn aliases_first_match_wins_and_empty_is_absent() {
        let r = get("host=h.dyn.example.com&hostname=x.dyn.example.com&myip=&ip4=192.0.2.1&ipv4=192.0.2.2");
        assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("x.dyn.example.com".into())]));
        assert_eq!(r.addresses, Ok(Addresses { ipv4: Some("192.0.2.2".parse().expect("ip")), ipv6: None }));
    }

    #[test]
    fn dual_stack_in_myip_either_order() {
        let both =
            Addresses { ipv4: Some("192.0.2.1".parse().expect("ip")), ipv6: Some("2001:db8::1".parse().expect("ip")) };
        assert_eq!(get("hostname=a.b&myip=192.0.2.1,2001:db8::1").addresses, Ok(both));
        assert_eq!(get("hostname=a.b&myip=2001:db8::1,192.0.2.1").addresses, Ok(both));
        assert_eq!(get("hostname=a.b&myip=2001%3adb8%3a%3a1").addresses.map(|a| a.ipv6), Ok(both.ipv6));
        assert!(matches!(get("hostname=a.b&myip=192.0.2.1,192.0.2.2").addresses, Err(AddressError::Repeated { .. })));
        assert!(matches!(get("hostname=a.b&myip6=192.0.2.1").addresses, Err(AddressError::WrongFamily { .. })));
        assert!(matches!(get("hostname=a.b&myip=1.2.3").addresses, Err(AddressError::Unparsable { .. })));
        assert!(matches!(get("hostname=a.b&myip=0.0.0.0").addresses, Err(AddressError::NotUnicast { .. })));
        assert!(matches!(get("hostname=a.b&myip6=fe80::1%25eth0").addresses, Err(AddressError::Unparsable { .. })));
        assert!(matches!(get("hostname=a.b&myip6=::ffff:192.0.2.1").addresses, Err(AddressError::NotUnicast { .. })));
    }

    #[test]
    fn family_parameters_carry_their_family() {
        let v4 = |s: &str| Some(s.parse::<Ipv4Addr>().expect("ip"));
        let v6 = |s: &str| Some(s.parse::<Ipv6Addr>().expect("ip"));
        let wrong = |q: &str, param: &str, family: u8| {
            let err = get(q).addresses.expect_err(q);
            assert!(
                matches!(&err, AddressError::WrongFamily { param: p, family: f, .. } if p == param && *f == family),
                "{q}: {err:?}"
            );
        };
        wrong("hostname=a.b&ipv4=2001:db8::1", "ipv4", 4);
        wrong("hostname=a.b&ip4=2001:db8::1", "ip4", 4);
        wrong("hostname=a.b&ipv6=192.0.2.1", "ipv6", 6);
        wrong("hostname=a.b&ip6=192.0.2.1", "ip6", 6);
        // One address per family parameter: a list is not an address.
        assert!(matches!(
            get("hostname=a.b&ipv4=192.0.2.1,2001:db8::1").addresses,
            Err(AddressError::Unparsable { .. })
        ));
        // `myip` takes either family.
        assert_eq!(
            get("hostname=a.b&myip=2001:db8::1").addresses,
            Ok(Addresses { ipv4: None, ipv6: v6("2001:db8::1") })
        );
        // nanodnsd's form, and agreeing or disagreeing values across parameters.
        assert_eq!(
            get("hostname=a.b&ipv4=192.0.2.1&ipv6=2001:db8::1").addresses,
            Ok(Addresses { ipv4: v4("192.0.2.1"), ipv6: v6("2001:db8::1") })
        );
        assert_eq!(
            get("hostname=a.b&myip=192.0.2.1&ipv4=192.0.2.1").addresses,
            Ok(Addresses { ipv4: v4("192.0.2.1"), ipv6: None })
        );
        assert!(matches!(
            get("hostname=a.b&myip=192.0.2.1&ipv4=192.0.2.2").addresses,
            Err(AddressError::Repeated { family: 4, .. })
        ));
        assert_eq!(
            get("hostname=a.b&myip=192.0.2.1,&ipv6=").addresses,
            Ok(Addresses { ipv4: v4("192.0.2.1"), ipv6: None })
        );
    }

    #[test]
    fn ipv6_prefixes_are_checked_and_kept() {
        let prefix = Some(Ipv6Prefix { addr: "2001:db8:1:2::".parse().expect("ip"), len: 64 });
        for q in
            ["ip6lanprefix=2001:db8:1:2::/64", "ip6lanprefix=2001:db8:1:2::%2F64", "ipv6prefix=2001:db8:1:2::%2f64"]
        {
            let r = get(&format!("hostname=a.b&myip=192.0.2.1&{q}"));
            assert_eq!((r.ipv6_prefix, r.addresses.is_ok()), (prefix, true), "{q}");
        }
        let r = get("hostname=a.b&myip=192.0.2.1&ip6lanprefix=");
        assert_eq!((r.ipv6_prefix, r.addresses.is_ok()), (None, true));
        for bad in [
            "2001:db8::",
            "2001:db8::/0",
            "2001:db8::/129",
            "2001:db8::/+64",
            "2001:db8::/",
            "192.0.2.0/24",
            "fe80::/64",
            "ff00::/8",
            "::/64",
        ] {
            let r = get(&format!("hostname=a.b&myip=192.0.2.1&ip6lanprefix={bad}"));
            assert!(matches!(r.addresses, Err(AddressError::NotPrefix { .. })), "{bad}: {:?}", r.addresses);
            assert_eq!(r.ipv6_prefix, None);
        }
    }

    #[test]
    fn txt_values_and_txt_only_requests() {
        let r = get("hostname=a.b&txt=hello%20world");
        assert_eq!(r.txt, Some(Ok(TxtChange::Set("hello world".into()))));
        // TXT only: no address, and none taken from the client.
        let e = env(&[("QUERY_STRING", "hostname=a.b&txt="), ("REMOTE_ADDR", "198.51.100.9")]);
        let r = parse(&e, b"", &config("")).expect("parses");
        assert_eq!((r.txt, r.addresses), (Some(Ok(TxtChange::Clear)), Ok(Addresses { ipv4: None, ipv6: None })));
        let r = get("hostname=a.b&txt=v&myip=192.0.2.1");
        assert_eq!(r.addresses, Ok(Addresses { ipv4: Some("192.0.2.1".parse().expect("ip")), ipv6: None }));
        assert_eq!(get("hostname=a.b").txt, None);
        let long = "x".repeat(MAX_TXT_BYTES);
        assert_eq!(get(&format!("hostname=a.b&txt={long}")).txt, Some(Ok(TxtChange::Set(long.clone()))));
        assert_eq!(get(&format!("hostname=a.b&txt={long}x")).txt, Some(Err(TxtError::TooLong { n_bytes: 513 })));
        for bad in ["%C3%A9", "caf%C3%A9"] {
            assert!(matches!(get(&format!("hostname=a.b&txt={bad}")).txt, Some(Err(TxtError::NotPrintable { .. }))));
        }
    }

    #[test]
    fn offline_and_delete_intents() {
        assert_eq!(get("hostname=a.b").intent, Intent::Update);
        assert_eq!(get("hostname=a.b&offline=no").intent, Intent::Update);
        assert_eq!(get("hostname=a.b&offline=NOCHG").intent, Intent::Update);
        assert_eq!(get("hostname=a.b&offline=yes").intent, Intent::Offline);
        assert_eq!(get("hostname=a.b&offline=YES&myip=192.0.2.1").intent, Intent::Offline);
        let e = env(&[("QUERY_STRING", "hostname=a.b"), ("SCRIPT_NAME", "/nic/delete")]);
        assert_eq!(parse(&e, b"", &config("")).expect("parses").intent, Intent::Offline);
        let e = env(&[("QUERY_STRING", "hostname=a.b"), ("SCRIPT_NAME", "/api/update")]);
        assert_eq!(parse(&e, b"", &config("")).expect("parses").intent, Intent::Update);
    }

    #[test]
    fn ttl_within_bounds() {
        let cfg = config("[defaults]\nmin_dns_ttl = 30\nmax_dns_ttl = 3600\n");
        let ttl = |q: &str| parse(&env(&[("QUERY_STRING", q)]), b"", &cfg).expect("parses").ttl;
        assert_eq!(ttl("hostname=a.b"), Ok(None));
        assert_eq!(ttl("hostname=a.b&ttl="), Ok(None));
        assert_eq!(ttl("hostname=a.b&ttl=30"), Ok(Some(30)));
        assert_eq!(ttl("hostname=a.b&ttl=3600"), Ok(Some(3600)));
        assert_eq!(ttl("hostname=a.b&ttl=29"), Err(TtlError::OutOfRange { ttl: 29, min: 30, max: 3600 }));
        assert_eq!(ttl("hostname=a.b&ttl=3601"), Err(TtlError::OutOfRange { ttl: 3601, min: 30, max: 3600 }));
        for bad in ["-1", "+60", "60s", "1e3", "4294967296", "99999999999", " 60"] {
            assert!(matches!(ttl(&format!("hostname=a.b&ttl={bad}")), Err(TtlError::Malformed { .. })), "{bad}");
        }
    }

    #[test]
    fn client_address_fallback_and_proxies() {
        let cfg =
            config("[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n");
        let run = |remote: &str, xff: Option<&str>| {
            let mut e = env(&[("QUERY_STRING", "hostname=a.b"), ("REMOTE_ADDR", remote)]);
            if let Some(x) = xff {
                e.insert("HTTP_X_FORWARDED_FOR".into(), x.into());
            }
            parse(&e, b"", &cfg).expect("parses").addresses
        };
        let v4 = |s: &str| Ok(Addresses { ipv4: Some(s.parse().expect("ip")), ipv6: None });
        assert_eq!(run("198.51.100.9", Some("203.0.113.5")), v4("198.51.100.9"));
        assert_eq!(run("127.0.0.1", Some("203.0.113.5")), v4("203.0.113.5"));
        assert_eq!(run("127.0.0.1", Some("6.6.6.6, 203.0.113.5, 10.1.1.1")), v4("203.0.113.5"));
        assert_eq!(run("::ffff:198.51.100.9", None), v4("198.51.100.9"));
        assert!(matches!(run("127.0.0.1", None), Err(AddressError::NoClientAddress { .. })));
    }

    #[test]
    fn unusable_proxy_header_leaves_the_proxy_as_client() {
        let cfg = config("[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n");
        let run = |xff: &str| {
            let e =
                env(&[("QUERY_STRING", "hostname=a.b"), ("REMOTE_ADDR", "127.0.0.1"), ("HTTP_X_FORWARDED_FOR", xff)]);
            parse(&e, b"", &cfg).expect("parses")
        };
        let proxy: Option<IpAddr> = Some("127.0.0.1".parse().expect("ip"));
        let oversized = "203.0.113.9,".repeat(400);
        for xff in ["", oversized.as_str(), "203.0.113.5, bogus", "127.0.0.1"] {
            let r = run(xff);
            assert_eq!(r.client, proxy, "{xff}");
            assert!(r.proxy_fallback.is_some(), "{xff}");
            // The proxy's own address is never published for the client.
            assert!(matches!(r.addresses, Err(AddressError::NoClientAddress { .. })), "{xff}");
        }
        let r = run("bogus, 203.0.113.5");
        assert_eq!((r.client, r.proxy_fallback), (Some("203.0.113.5".parse().expect("ip")), None));
    }

    #[test]
    fn client_address_fallback_must_be_unicast() {
        // Regression (hostile-input table): a multicast REMOTE_ADDR was published as is.
        let e = env(&[("QUERY_STRING", "hostname=a.b"), ("REMOTE_ADDR", "224.0.0.1")]);
        let r = parse(&e, b"", &config("")).expect("parses");
        assert!(matches!(r.addresses, Err(AddressError::NotUnicast { .. })), "{:?}", r.addresses);
    }

    #[test]
    fn invalid_punycode_is_not_a_hostname() {
        // Regression (hostile-input table): `xn--` labels skipped IDN validation.
        assert_eq!(normalize_hostname("xn--a.dyn.example.com"), None);
        assert_eq!(normalize_hostname("XN--BCHER-KVA.example.com").as_deref(), Some("xn--bcher-kva.example.com"));
    }

    /// Credentials as `(user name or "", secret)`, to compare in tables.
    fn shown(c: Option<Credentials>) -> Option<(String, String)> {
        c.map(|c| match c {
            Credentials::Password { username, password } => (username, password.expose().clone()),
            Credentials::Token { token } => (String::new(), token.expose().clone()),
        })
    }

    #[test]
    fn credentials_from_basic_or_params() {
        let basic = |user_pass: &str| {
            let token = base64::engine::general_purpose::STANDARD.encode(user_pass);
            let e = env(&[
                ("QUERY_STRING", "hostname=a.b&user=q&pass=r"),
                ("HTTP_AUTHORIZATION", &format!("Basic {token}")),
            ]);
            shown(parse(&e, b"", &config("")).expect("parses").credentials)
        };
        assert_eq!(basic("alice:pa:ss"), Some(("alice".into(), "pa:ss".into())));
        // inadyn's `Basic Og==` carries nothing: the parameters are used.
        assert_eq!(basic(":"), Some(("q".into(), "r".into())));
        // A password without a user name is a token alone.
        assert_eq!(basic(":tok"), Some(("".into(), "tok".into())));
        assert!(get("hostname=a.b&username=u").credentials.is_none());
        assert_eq!(shown(get("hostname=a.b&token=t").credentials), Some(("".into(), "t".into())));
        assert_eq!(shown(get("hostname=a.b&password=t").credentials), Some(("".into(), "t".into())));
        assert_eq!(shown(get("hostname=a.b&user=u&token=t").credentials), Some(("u".into(), "t".into())));
    }

    fn at(path: &str, extra: &[(&str, &str)]) -> Result<Request, RejectError> {
        let mut pairs = vec![("SCRIPT_NAME", path), ("QUERY_STRING", "myip=192.0.2.1")];
        pairs.extend_from_slice(extra);
        parse(&env(&pairs), b"", &config(""))
    }

    #[test]
    fn token_in_the_path() {
        let tok = "ddns_Ab-9_x";
        // nginx: the whole path in SCRIPT_NAME.
        let r = at(&format!("/update/{tok}"), &[]).expect("parses");
        assert_eq!(shown(r.credentials), Some(("".into(), tok.into())));
        assert_eq!(r.hostnames, Err(HostsError::Missing));
        let r = at(&format!("/nic/update/{tok}/Home.Dyn.Example.com./"), &[]).expect("parses");
        assert_eq!(shown(r.credentials), Some(("".into(), tok.into())));
        assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("home.dyn.example.com".into())]));
        // Apache: the script in SCRIPT_NAME, the rest in PATH_INFO. The path wins over Basic
        // and over the hostname parameter.
        let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("alice:pw"));
        let r = at(
            "/update",
            &[
                ("PATH_INFO", &format!("/{tok}/a.b")),
                ("HTTP_AUTHORIZATION", &basic),
                ("QUERY_STRING", "hostname=c.d&myip=192.0.2.1"),
            ],
        )
        .expect("parses");
        assert_eq!(shown(r.credentials), Some(("".into(), tok.into())));
        assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("a.b".into())]));
        // Only REQUEST_URI names the path (the script name is something else).
        let r = at("/cgi-bin/ddns-cgi", &[("REQUEST_URI", &format!("/update/{tok}/a%2Eb?myip=192.0.2.1"))])
            .expect("parses");
        assert_eq!(shown(r.credentials), Some(("".into(), tok.into())));
        assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("a.b".into())]));
        // Anything else below an endpoint is an unknown path.
        for bad in [
            "/update//a.b".to_owned(),
            format!("/update/{tok}/a.b/c"),
            "/update/to.ken".to_owned(),
            "/update/../etc".to_owned(),
            format!("/update/{}", "a".repeat(MAX_PATH_TOKEN + 1)),
            format!("/updates/{tok}"),
        ] {
            assert!(matches!(at(&bad, &[]), Err(RejectError::NotFound { .. })), "{bad}");
        }
    }

    #[track_caller]
    fn check_log_path(pairs: &[(&str, &str)], expected: &str) {
        assert_eq!(log_path(&env(pairs), &config("")), expected, "{pairs:?}");
    }

    #[test]
    fn logged_paths_hide_tokens() {
        let tok = "ddns_AAAAbbbbCCCCdddd0000111122223333444455556";
        check_log_path(&[("SCRIPT_NAME", "/nic/update")], "/nic/update");
        check_log_path(&[("SCRIPT_NAME", "/update/")], "/update");
        check_log_path(&[("SCRIPT_NAME", &format!("/update/{tok}"))], "/update/***");
        check_log_path(&[("SCRIPT_NAME", &format!("/update/{tok}/a.b"))], "/update/***");
        check_log_path(&[("SCRIPT_NAME", "/update"), ("PATH_INFO", &format!("/{tok}"))], "/update/***");
        check_log_path(&[("SCRIPT_NAME", "/x"), ("REQUEST_URI", &format!("/update/{tok}?a=b"))], "/update/***");
        // Unknown paths keep one short word.
        check_log_path(&[("SCRIPT_NAME", "/cgi-bin/other")], "/cgi-bin/***");
        check_log_path(&[("SCRIPT_NAME", "/other")], "/other");
        check_log_path(&[("SCRIPT_NAME", &format!("/update/{tok}/a.b/c"))], "/update/***");
        check_log_path(&[("SCRIPT_NAME", &format!("/{tok}"))], "/***");
        check_log_path(&[("SCRIPT_NAME", &format!("/updates/{tok}"))], "/updates/***");
    }

    #[test]
    fn hostname_lists() {
        assert_eq!(get("myip=192.0.2.1").hostnames, Err(HostsError::Missing));
        assert_eq!(
            get("hostname=a.b%2CBAD_.x,c.d.").hostnames,
            Ok(vec![HostArg::Valid("a.b".into()), HostArg::NotFqdn("BAD_.x".into()), HostArg::Valid("c.d".into())])
        );
        let many = vec!["a.b"; 21].join(",");
        assert_eq!(get(&format!("hostname={many}")).hostnames, Err(HostsError::TooMany { n_hosts: 21 }));
    }

    #[test]
    fn rejects() {
        let cfg = config("");
        let e = env(&[("REQUEST_METHOD", "PUT")]);
        assert_eq!(parse(&e, b"", &cfg).expect_err("405"), RejectError::MethodNotAllowed { method: "PUT".into() });
        let e = env(&[("SCRIPT_NAME", "/cgi-bin/other")]);
        assert_eq!(parse(&e, b"", &cfg).expect_err("404"), RejectError::NotFound { path: "/cgi-bin/***".into() });
        let e = env(&[("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "application/json")]);
        assert!(matches!(parse(&e, b"{}", &cfg), Err(RejectError::UnsupportedContentType { .. })));
        let e = env(&[("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "application/x-www-form-urlencoded")]);
        let r = parse(&e, b"hostname=a.b&myip=192.0.2.3", &cfg).expect("post");
        assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("a.b".into())]));
        // Regression: a body cut short published `203.0.113.2` for `203.0.113.254`.
        let e = env(&[
            ("REQUEST_METHOD", "POST"),
            ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
            ("CONTENT_LENGTH", "31"),
        ]);
        assert!(parse(&e, b"hostname=a.b&myip=203.0.113.254", &cfg).is_ok());
        assert_eq!(
            parse(&e, b"hostname=a.b&myip=203.0.113.2", &cfg).expect_err("short"),
            RejectError::ShortBody { n_bytes: 29, content_length: 31 }
        );
        assert!(matches!(parse(&e, b"", &cfg), Err(RejectError::ShortBody { n_bytes: 0, .. })));
    }

    #[test]
    fn json_when_accepted() {
        let e = env(&[("HTTP_ACCEPT", "text/html, application/json;q=0.9")]);
        assert_eq!(parse(&e, b"", &config("")).expect("ok").format, Format::Json);
        assert_eq!(get("").format, Format::Text);
    }
}
