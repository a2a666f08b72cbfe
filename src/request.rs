//! Turns the CGI meta-variables of one request (RFC 3875 §4.1) and its body into a
//! [`Request`]: method, endpoint, credentials, hostnames and addresses, all decoded and
//! normalised. This is a pure function over explicit inputs, so CGI and FastCGI share it and
//! unit tests feed it a literal map. It authenticates nothing and touches no database or DNS:
//! problems with hostnames and addresses are kept in the `Request` and only reported after the
//! caller has authenticated the user, so an unauthenticated client learns nothing.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::Engine as _;

use crate::config::{Config, Endpoint};
use crate::secret::Secret;

/// Largest request body we read (and `QUERY_STRING` we accept); a dyndns2 request is tiny.
pub(crate) const MAX_BODY_BYTES: usize = 8 * 1024;
pub(crate) const MAX_QUERY_BYTES: usize = 8 * 1024;
/// Parameters beyond this many make the request malformed.
pub(crate) const MAX_PARAMS: usize = 64;
/// dyndns2 allows up to 20 hostnames per request; more answers `numhost`.
pub(crate) const MAX_HOSTS: usize = 20;
/// Longest header value (Authorization, Accept, proxy header) we look at.
pub(crate) const MAX_HEADER_BYTES: usize = 4 * 1024;

/// The CGI variables a request may set. Everything else in a CGI process's environment comes
/// from the web server's own configuration and is not request input.
pub(crate) const REQUEST_VARIABLES: &[&str] = &[
    "REQUEST_METHOD",
    "QUERY_STRING",
    "SCRIPT_NAME",
    "PATH_INFO",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "HTTP_AUTHORIZATION",
    "REMOTE_ADDR",
    "HTTP_ACCEPT",
    "HTTP_USER_AGENT",
];

/// The request's meta-variables: the names in [`REQUEST_VARIABLES`] plus the configured proxy
/// header.
pub(crate) type Env = BTreeMap<String, String>;

/// A request that could be parsed far enough to be answered in dyndns2.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) credentials: Option<Credentials>,
    /// The requested hostnames, each normalised or rejected, in request order.
    pub(crate) hostnames: Result<Vec<HostArg>, HostsError>,
    pub(crate) addresses: Result<Addresses, AddressError>,
    /// The client's address (after trusted-proxy resolution), for logs and rate limits.
    pub(crate) client: Option<IpAddr>,
    /// Why the proxy header of a trusted proxy could not be used, when `client` is that
    /// proxy for want of a better address; the handler logs it.
    pub(crate) proxy_fallback: Option<&'static str>,
    pub(crate) format: Format,
}

/// The credentials a request carries, not yet verified.
#[derive(Debug)]
pub(crate) struct Credentials {
    pub(crate) username: String,
    pub(crate) password: Secret<String>,
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
    #[error("`{param}` value `{value}` is not an IPv6 address")]
    WrongFamily { param: String, value: String },
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
    let path = request_path(env);
    let endpoint = config
        .endpoints
        .iter()
        .find(|e| e.path == path || e.path.strip_suffix('/') == Some(&path) || path.strip_suffix('/') == Some(&e.path))
        .ok_or_else(|| RejectError::NotFound { path: path.clone() })?;

    let query = env.get("QUERY_STRING").map(String::as_str).unwrap_or("");
    if query.len() > MAX_QUERY_BYTES {
        return Err(RejectError::Malformed { reason: "query string too long" });
    }
    let mut params = parse_form(query.as_bytes())?;
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
    let addresses = params.addresses().and_then(|a| match a {
        Some(a) => Ok(a),
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

    Ok(Request {
        credentials: basic_credentials(env).or_else(|| params.credentials()),
        hostnames: params.hostnames(),
        addresses,
        client: client.ip(),
        proxy_fallback: client.fallback(),
        format: format(env),
    })
}

/// `SCRIPT_NAME` + `PATH_INFO` (RFC 3875 §4.1.13, §4.1.5).
fn request_path(env: &Env) -> String {
    let script = env.get("SCRIPT_NAME").map(String::as_str).unwrap_or("");
    let info = env.get("PATH_INFO").map(String::as_str).unwrap_or("");
    truncate(&format!("{script}{info}"), 512)
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

    fn credentials(&self) -> Option<Credentials> {
        let (_, username) = self.first(&self.endpoint.params.username)?;
        let (_, password) = self.first(&self.endpoint.params.password)?;
        Some(Credentials { username: username.to_owned(), password: Secret::new(password.to_owned()) })
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
        Ok(list
            .split(',')
            .map(|raw| match normalize_hostname(raw.trim()) {
                Some(fqdn) => HostArg::Valid(fqdn),
                None => HostArg::NotFqdn(truncate(raw, 253)),
            })
            .collect())
    }

    /// The explicit addresses, `None` when the request gives none.
    fn addresses(&self) -> Result<Option<Addresses>, AddressError> {
        let mut out = Addresses { ipv4: None, ipv6: None };
        // The IPv4 parameter (`myip`) may carry an IPv4, an IPv6 or both, comma-separated in
        // either order: that is how ddclient and the Fritz!Box send dual stack.
        if let Some((param, value)) = self.first(&self.endpoint.params.ipv4) {
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match parse_address(param, item)? {
                    IpAddr::V4(a) if out.ipv4.is_none() => out.ipv4 = Some(a),
                    IpAddr::V6(a) if out.ipv6.is_none() => out.ipv6 = Some(a),
                    ip => {
                        return Err(AddressError::Repeated {
                            param: param.to_owned(),
                            family: if ip.is_ipv4() { 4 } else { 6 },
                        });
                    }
                }
            }
        }
        if let Some((param, value)) = self.first(&self.endpoint.params.ipv6) {
            match parse_address(param, value.trim())? {
                IpAddr::V6(a) => match out.ipv6 {
                    Some(existing) if existing != a => {
                        return Err(AddressError::Repeated { param: param.to_owned(), family: 6 });
                    }
                    _ => out.ipv6 = Some(a),
                },
                IpAddr::V4(_) => {
                    return Err(AddressError::WrongFamily { param: param.to_owned(), value: truncate(value, 64) });
                }
            }
        }
        Ok((out.ipv4.is_some() || out.ipv6.is_some()).then_some(out))
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
/// may contain colons. An empty user name counts as none: inadyn sends `Basic Og==` (`:`) when
/// it has no credentials configured.
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
    if username.is_empty() {
        return None;
    }
    Some(Credentials { username: username.to_owned(), password: Secret::new(password.to_owned()) })
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

    #[test]
    fn credentials_from_basic_or_params() {
        let basic = |user_pass: &str| {
            let token = base64::engine::general_purpose::STANDARD.encode(user_pass);
            let e = env(&[
                ("QUERY_STRING", "hostname=a.b&user=q&pass=r"),
                ("HTTP_AUTHORIZATION", &format!("Basic {token}")),
            ]);
            parse(&e, b"", &config("")).expect("parses").credentials.map(|c| (c.username, c.password.expose().clone()))
        };
        assert_eq!(basic("alice:pa:ss"), Some(("alice".into(), "pa:ss".into())));
        // inadyn's `Basic Og==` carries nothing: the parameters are used.
        assert_eq!(basic(":"), Some(("q".into(), "r".into())));
        assert!(get("hostname=a.b&username=u").credentials.is_none());
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
        assert_eq!(parse(&e, b"", &cfg).expect_err("404"), RejectError::NotFound { path: "/cgi-bin/other".into() });
        let e = env(&[("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "application/json")]);
        assert!(matches!(parse(&e, b"{}", &cfg), Err(RejectError::UnsupportedContentType { .. })));
        let e = env(&[("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "application/x-www-form-urlencoded")]);
        let r = parse(&e, b"hostname=a.b&myip=192.0.2.3", &cfg).expect("post");
        assert_eq!(r.hostnames, Ok(vec![HostArg::Valid("a.b".into())]));
    }

    #[test]
    fn json_when_accepted() {
        let e = env(&[("HTTP_ACCEPT", "text/html, application/json;q=0.9")]);
        assert_eq!(parse(&e, b"", &config("")).expect("ok").format, Format::Json);
        assert_eq!(get("").format, Format::Text);
    }
}
