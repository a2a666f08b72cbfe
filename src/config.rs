//! Configuration in two stages: a raw serde view of the TOML file with `deny_unknown_fields`,
//! converted once by [`Config::from_toml`] into a validated [`Config`] (TSIG secrets decoded,
//! zone names parsed, TTLs and addresses range-checked, defaults applied). Other modules take
//! `&Config` and never re-check. This module reads the config file and the TSIG key files it
//! names, nothing else: it does not touch the environment or the database.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use base64::Engine as _;
use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;
use serde::Deserialize;

use crate::secret::Secret;

/// Where the config lives when neither `--config` nor `DDNS_CGI_CONFIG` says otherwise.
pub(crate) const DEFAULT_PATH: &str = "/etc/ddns-cgi/config.toml";

/// Upper bound for a config or key file; both are a few hundred bytes in practice.
const MAX_FILE_BYTES: u64 = 1 << 20;

/// A config that failed to load. Every variant names the file it came from.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read `{}`: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// TOML syntax error, unknown key or wrong type: where it is, and toml's message without
    /// the quoted source line, which may hold a TSIG secret or a password (this error reaches
    /// the web server's log on every CGI request while the file is broken).
    #[error("{}{message} (in {})", parse_location(key.as_deref(), *position), path.display())]
    Parse {
        path: PathBuf,
        /// The dotted key toml was reading, when it knows it.
        key: Option<String>,
        /// 1-based line and column.
        position: Option<(usize, usize)>,
        /// toml's message, with quoted string values redacted.
        message: String,
    },
    /// A value that parsed but is out of range or malformed.
    #[error("`{key}` {message} (in {})", path.display())]
    Invalid { path: PathBuf, key: String, message: String },
}

/// The validated configuration.
#[derive(Debug)]
pub(crate) struct Config {
    /// The file this came from, for messages.
    pub(crate) path: PathBuf,
    pub(crate) database: DatabaseConfig,
    pub(crate) zones: Vec<Zone>,
    pub(crate) defaults: Defaults,
    pub(crate) rate_limit: RateLimit,
    pub(crate) http: Http,
    pub(crate) log: LogConfig,
    pub(crate) auth: AuthConfig,
    pub(crate) endpoints: Vec<Endpoint>,
    pub(crate) email: EmailConfig,
    /// The acme-dns API (`[acme]`); `None` when the section is absent.
    pub(crate) acme: Option<AcmeConfig>,
    pub(crate) relay: RelayConfig,
    pub(crate) audit: AuditConfig,
    pub(crate) metrics: MetricsConfig,
}

/// `[audit]`: the audit trail of changes and refused attempts (`audit.rs`).
#[derive(Debug)]
pub(crate) struct AuditConfig {
    /// How many days rows are kept (the expiry run prunes older ones); 0 records nothing.
    pub(crate) keep_days: u32,
}

/// `[metrics]`: the Prometheus text exposition (`metrics.rs`).
#[derive(Debug)]
pub(crate) struct MetricsConfig {
    /// Where the expiry run writes the node-exporter textfile; `None` when it does not.
    pub(crate) textfile: Option<PathBuf>,
    /// The HTTP path the metrics are served at, to clients in `allow` only.
    pub(crate) path: String,
    /// Who may read `path`; empty serves no metrics over HTTP at all.
    pub(crate) allow: Vec<Cidr>,
}

/// `[acme]`: the acme-dns compatible API (`acme.rs`).
#[derive(Debug)]
pub(crate) struct AcmeConfig {
    /// The configured zone that holds the challenge names `<subdomain>.<zone>`, stored form
    /// (no trailing dot).
    pub(crate) zone: String,
    /// The base path: `<path>/update`, `<path>/register`, `<path>/health`.
    pub(crate) path: String,
    /// TTL of the challenge TXT records (acme-dns publishes them with 1).
    pub(crate) ttl: u32,
    /// Whether `POST <path>/register` creates accounts (off unless enabled).
    pub(crate) register: bool,
    /// Who may register; empty allows any client (when `register` is on).
    pub(crate) register_from: Vec<Cidr>,
}

/// `[relay]`: how updates are forwarded to upstream dyndns2 providers (`hostname relay`).
/// The bounds keep a relayed update well inside a web server's timeout (nginx's
/// `fastcgi_read_timeout` and Apache's `Timeout` default to 60 s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RelayConfig {
    /// Connecting to one upstream (TCP and TLS handshake), 100 ms to 30 s.
    pub(crate) connect_timeout: Duration,
    /// One upstream's whole exchange, name lookup to the last byte, 100 ms to 30 s.
    pub(crate) request_timeout: Duration,
    /// All upstreams of one request together, 100 ms to 30 s; an upstream not reached in
    /// time is not sent to and counts as failed.
    pub(crate) total_timeout: Duration,
    /// PEM file of the CA certificates that `https` upstreams are verified against; read only
    /// when such an upstream is contacted.
    pub(crate) ca_file: PathBuf,
}

/// Debian's bundle of the system's trusted CA certificates (package `ca-certificates`).
pub(crate) const DEFAULT_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `[email]`: how the expiry run tells owners that their hostnames expired.
#[derive(Debug)]
pub(crate) struct EmailConfig {
    pub(crate) enabled: bool,
    pub(crate) transport: MailTransport,
    pub(crate) from_address: String,
}

#[derive(Debug)]
pub(crate) enum MailTransport {
    Smtp(SmtpConfig),
    /// A sendmail-compatible program, given the message on stdin.
    Sendmail {
        command: PathBuf,
    },
}

#[derive(Debug)]
pub(crate) struct SmtpConfig {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Require STARTTLS (RFC 3207) before authenticating or sending.
    pub(crate) starttls: bool,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret<String>>,
}

#[derive(Debug)]
pub(crate) struct DatabaseConfig {
    pub(crate) path: PathBuf,
    /// How long a writer waits for the SQLite lock before the request answers `911`.
    pub(crate) busy_timeout: Duration,
}

/// A zone we may update, with the server and key that accept its updates.
#[derive(Debug)]
pub(crate) struct Zone {
    /// Lower-case, fully qualified (`dyn.example.com.`).
    pub(crate) name: Name,
    pub(crate) server: SocketAddr,
    pub(crate) key: TsigKey,
    pub(crate) timeout: Duration,
    /// Servers (the public secondaries) that must serve the zone's new SOA serial before an
    /// update answers `good` (`confirm`, see `confirm.rs`); empty: answer at once.
    pub(crate) confirm: Vec<SocketAddr>,
    /// How long an update waits for them (`dns.confirm_timeout_ms`).
    pub(crate) confirm_timeout: Duration,
}

impl Zone {
    /// The zone name without the trailing dot, as stored in the database.
    pub(crate) fn name_str(&self) -> String {
        let s = self.name.to_ascii();
        s.strip_suffix('.').unwrap_or(&s).to_owned()
    }
}

/// A TSIG key (RFC 8945): name, algorithm and the decoded secret.
#[derive(Clone, Debug)]
pub(crate) struct TsigKey {
    pub(crate) name: Name,
    pub(crate) algorithm: TsigAlgorithm,
    pub(crate) secret: Secret<Vec<u8>>,
    /// The key file it was read from; `None` when it is inline in the config file, which
    /// then holds a secret (`ddns-cgi check` checks who can read either).
    pub(crate) file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Defaults {
    pub(crate) dns_ttl: u32,
    pub(crate) expiry_ttl: u32,
    /// The TTLs a client may ask for with `ttl=`; `min_dns_ttl <= max_dns_ttl`.
    pub(crate) min_dns_ttl: u32,
    pub(crate) max_dns_ttl: u32,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct RateLimit {
    pub(crate) enabled: bool,
    pub(crate) good_window_seconds: u32,
    pub(crate) good_max_requests: u32,
    pub(crate) bad_window_seconds: u32,
    pub(crate) bad_max_requests: u32,
    /// IPv6 clients are counted per prefix of this length: one subscriber gets a /64 (or a
    /// /56) and can use every address in it. IPv4 clients are counted per address.
    pub(crate) ipv6_prefix: u8,
}

#[derive(Debug)]
pub(crate) struct Http {
    pub(crate) trusted_proxies: Vec<Cidr>,
    /// The proxy header as the CGI variable that carries it (`X-Forwarded-For` becomes
    /// `HTTP_X_FORWARDED_FOR`, RFC 3875 §4.1.18).
    pub(crate) proxy_header: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Error,
    Warn,
    Info,
    Debug,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Error => "ERROR",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
        })
    }
}

#[derive(Clone, Debug)]
pub(crate) struct LogConfig {
    pub(crate) level: Level,
    pub(crate) log_requests: bool,
    pub(crate) target: LogTarget,
    /// With a syslog or file target, the lines at this level or more severe (and at `level`)
    /// also go to stderr, the web server's error log; `None`: none do.
    pub(crate) stderr_level: Option<Level>,
}

/// Where log lines go (`[log] target`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LogTarget {
    /// The web server's error log in CGI mode.
    Stderr,
    /// A syslog datagram socket (RFC 3164 framing); `facility` is the numeric code.
    Syslog { socket: PathBuf, facility: u8 },
    /// A file opened for appending on every line; rotation is left to logrotate.
    File { path: PathBuf },
}

/// Argon2id cost for new hashes (existing hashes carry their own parameters), and the
/// bounds of the FastCGI password cache (`auth::PasswordCache`; 0 disables it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AuthConfig {
    pub(crate) argon2_m_kib: u32,
    pub(crate) argon2_t: u32,
    pub(crate) argon2_p: u32,
    /// How long a verified password is remembered, in seconds.
    pub(crate) cache_seconds: u32,
    /// How many verified passwords are remembered at most.
    pub(crate) cache_entries: u32,
}

/// An HTTP path that accepts requests, what they do, and the parameter names it reads.
#[derive(Clone, Debug)]
pub(crate) struct Endpoint {
    pub(crate) path: String,
    pub(crate) action: Action,
    pub(crate) params: ParamAliases,
}

/// What a request to an endpoint does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Publish addresses (dyndns2 `/nic/update`); `offline=yes` turns it into a removal.
    Update,
    /// Remove the host's address records (nsupdate.info's `/nic/delete`).
    Delete,
}

/// The endpoints that exist when the config lists none.
const DEFAULT_ENDPOINTS: &[(&str, Action)] = &[
    ("/update", Action::Update),
    ("/nic/update", Action::Update),
    // nanodnsd's path, so its documented Fritz!Box URL works when pasted unchanged.
    ("/api/update", Action::Update),
    ("/nic/delete", Action::Delete),
];

/// For each value, the query/body parameter names that carry it; the first one present wins.
/// A name belongs to at most one of the address lists (`address`, `ipv4`, `ipv6`,
/// `ipv6_prefix`), so the parser knows which family the name promised.
#[derive(Clone, Debug)]
pub(crate) struct ParamAliases {
    pub(crate) hostname: Vec<String>,
    /// Either family, or one of each comma-separated: dyndns2's `myip`, as ddclient and the
    /// Fritz!Box send it.
    pub(crate) address: Vec<String>,
    /// Exactly one IPv4 address.
    pub(crate) ipv4: Vec<String>,
    /// Exactly one IPv6 address.
    pub(crate) ipv6: Vec<String>,
    /// An IPv6 prefix such as `2001:db8:1:2::/64` (Fritz!OS `<ip6lanprefix>`).
    pub(crate) ipv6_prefix: Vec<String>,
    pub(crate) username: Vec<String>,
    pub(crate) password: Vec<String>,
}

impl Default for ParamAliases {
    fn default() -> Self {
        let v = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect();
        ParamAliases {
            hostname: v(&["hostname", "host"]),
            address: v(&["myip"]),
            ipv4: v(&["ipv4", "ip4"]),
            ipv6: v(&["myip6", "myipv6", "ipv6", "ip6"]),
            ipv6_prefix: v(&["ipv6prefix", "ip6lanprefix"]),
            username: v(&["username", "user"]),
            password: v(&["password", "pass", "token"]),
        }
    }
}

/// An address block, for `trusted_proxies`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub(crate) fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("`{s}` has a prefix length outside 0..={max}"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

// ---------------------------------------------------------------------------------------------
// Raw, as written in the file.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    database: RawDatabase,
    #[serde(default)]
    dns: RawDns,
    #[serde(default)]
    zones: Vec<RawZone>,
    #[serde(default)]
    defaults: RawDefaults,
    #[serde(default)]
    rate_limit: RawRateLimit,
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    log: RawLog,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    endpoints: Vec<RawEndpoint>,
    #[serde(default)]
    email: RawEmail,
    acme: Option<RawAcme>,
    #[serde(default)]
    relay: RawRelay,
    #[serde(default)]
    audit: RawAudit,
    #[serde(default)]
    metrics: RawMetrics,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    keep_days: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    textfile: Option<PathBuf>,
    path: Option<String>,
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAcme {
    zone: String,
    path: Option<String>,
    ttl: Option<i64>,
    register: Option<bool>,
    #[serde(default)]
    register_from: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRelay {
    connect_timeout_ms: Option<i64>,
    request_timeout_ms: Option<i64>,
    total_timeout_ms: Option<i64>,
    ca_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEmail {
    enabled: Option<bool>,
    transport: Option<String>,
    smtp_host: Option<String>,
    smtp_port: Option<i64>,
    smtp_starttls: Option<bool>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    sendmail_command: Option<PathBuf>,
    from_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    path: PathBuf,
    busy_timeout_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDns {
    server: Option<String>,
    timeout_ms: Option<u64>,
    tsig_key: Option<String>,
    tsig_key_file: Option<PathBuf>,
    confirm: Option<Vec<String>>,
    confirm_timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: String,
    server: Option<String>,
    tsig_key: Option<String>,
    tsig_key_file: Option<PathBuf>,
    confirm: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    dns_ttl: Option<i64>,
    expiry_ttl: Option<i64>,
    min_dns_ttl: Option<i64>,
    max_dns_ttl: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    enabled: Option<bool>,
    good_window_seconds: Option<i64>,
    good_max_requests: Option<i64>,
    bad_window_seconds: Option<i64>,
    bad_max_requests: Option<i64>,
    ipv6_prefix: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    #[serde(default)]
    trusted_proxies: Vec<String>,
    proxy_header: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<String>,
    log_requests: Option<bool>,
    target: Option<String>,
    syslog_socket: Option<PathBuf>,
    syslog_facility: Option<String>,
    log_file: Option<PathBuf>,
    stderr_level: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    argon2_m_kib: Option<i64>,
    argon2_t: Option<i64>,
    argon2_p: Option<i64>,
    cache_seconds: Option<i64>,
    cache_entries: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    path: String,
    action: Option<String>,
    #[serde(default)]
    params: RawParams,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawParams {
    hostname: Option<Vec<String>>,
    address: Option<Vec<String>>,
    ipv4: Option<Vec<String>>,
    ipv6: Option<Vec<String>>,
    ipv6_prefix: Option<Vec<String>>,
    username: Option<Vec<String>>,
    password: Option<Vec<String>>,
}

/// A `[log]` level name; `warn` is accepted for `warning`.
fn parse_level(s: &str) -> Option<Level> {
    match s.to_ascii_lowercase().as_str() {
        "debug" => Some(Level::Debug),
        "info" => Some(Level::Info),
        "warning" | "warn" => Some(Level::Warn),
        "error" => Some(Level::Error),
        _ => None,
    }
}

/// A bare `local@domain` address the expiry mail can be sent to: what `from_address` and
/// owner addresses must look like, checked the same way everywhere. A deliberate subset of
/// what the mail builder (lettre) accepts, so an address taken here never fails there
/// (`mail::tests` holds both to it): an RFC 5322 §3.2.3 dot-atom local part of at most 64
/// octets (RFC 5321 §4.5.3.1.1), letters beyond ASCII allowed (RFC 6531), and a host name
/// of letters, digits and inner hyphens (RFC 1123 §2.1). No quoted local parts, address
/// literals or display names.
pub(crate) fn is_mailbox(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else { return false };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let atom = |a: &str| !a.is_empty() && a.chars().all(atext);
    let label = |l: &str| {
        l.len() <= 63
            && l.starts_with(char::is_alphanumeric)
            && l.ends_with(char::is_alphanumeric)
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    s.len() <= 254 && local.len() <= 64 && local.split('.').all(atom) && domain.split('.').all(label)
}

// ---------------------------------------------------------------------------------------------
// Validation.

impl Config {
    /// Reads and validates the config file at `path`, and the key files it names.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_bounded(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_toml(path, &text)
    }

    /// Validates config text; `path` is used for messages and to resolve relative key files.
    pub(crate) fn from_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| parse_error(path, text, &e))?;
        Validator { path }.config(raw)
    }

    /// The configured zone whose name is `zone` (stored form, no trailing dot).
    pub(crate) fn zone(&self, zone: &str) -> Option<&Zone> {
        let name = Name::from_ascii(format!("{zone}.")).ok()?;
        self.zones.iter().find(|z| z.name == name)
    }
}

/// The location prefix of a [`ConfigError::Parse`] message.
fn parse_location(key: Option<&str>, position: Option<(usize, usize)>) -> String {
    match (key, position) {
        (Some(key), Some((line, column))) => format!("`{key}`, line {line}, column {column}: "),
        (Some(key), None) => format!("`{key}`: "),
        (None, Some((line, column))) => format!("line {line}, column {column}: "),
        (None, None) => String::new(),
    }
}

/// A toml error without its source snippet. toml's `Display` prints the failing line, which
/// after a typo on a `tsig_key` or `smtp_password` line (or a key wrapped onto the next line)
/// is the secret itself; we keep the position, the key and the message. The key is not public
/// in toml 1.x; its `Display` without input ends with ``in `dotted.key` `` instead of the
/// snippet, and we read it from there. serde's "invalid type" messages quote a string value
/// (`string "..."`): a password typed into the wrong key would show, so quoted strings are
/// redacted.
fn parse_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let position = e.span().map(|span| {
        let before = text.get(..span.start).unwrap_or(text);
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |l| l.chars().count());
        (before.matches('\n').count() + 1, column + 1)
    });
    let mut bare = e.clone();
    bare.set_input(None);
    let key = bare
        .to_string()
        .lines()
        .filter_map(|l| l.strip_prefix("in `")?.strip_suffix('`'))
        .next_back()
        .map(str::to_owned);
    ConfigError::Parse { path: path.to_owned(), key, position, message: redact_quoted(e.message().trim_end()) }
}

/// `message` with every string value serde quotes (`string "..."`, its `Unexpected::Str`,
/// written with `Debug` escapes) replaced by `...`. Other quotes (toml's expected `"`) stay.
fn redact_quoted(message: &str) -> String {
    const MARK: &str = "string \"";
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find(MARK) {
        out.push_str(rest.get(..i + MARK.len()).unwrap_or_default());
        out.push_str("...\"");
        let mut escaped = false;
        let quoted = rest.get(i + MARK.len()..).unwrap_or_default();
        let end = quoted
            .char_indices()
            .find(|&(_, c)| {
                let close = !escaped && c == '"';
                escaped = !escaped && c == '\\';
                close
            })
            .map_or(quoted.len(), |(j, _)| j + 1);
        rest = quoted.get(end..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

struct Validator<'a> {
    path: &'a Path,
}

impl Validator<'_> {
    fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { path: self.path.to_owned(), key: key.to_owned(), message: message.into() }
    }

    fn range(&self, key: &str, value: Option<i64>, default: u32, min: u32, max: u32) -> Result<u32, ConfigError> {
        let Some(v) = value else { return Ok(default) };
        u32::try_from(v)
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| self.invalid(key, format!("must be between {min} and {max}, got `{v}`")))
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let busy_ms = raw.database.busy_timeout_ms.unwrap_or(10_000);
        if !(100..=600_000).contains(&busy_ms) {
            return Err(
                self.invalid("database.busy_timeout_ms", format!("must be between 100 and 600000, got `{busy_ms}`"))
            );
        }
        let database =
            DatabaseConfig { path: self.relative(&raw.database.path), busy_timeout: Duration::from_millis(busy_ms) };

        let default_server = match &raw.dns.server {
            Some(s) => self.socket_addr("dns.server", s)?,
            None => SocketAddr::from(([127, 0, 0, 1], 53)),
        };
        let timeout_ms = raw.dns.timeout_ms.unwrap_or(2_000);
        if !(10..=60_000).contains(&timeout_ms) {
            return Err(self.invalid("dns.timeout_ms", format!("must be between 10 and 60000, got `{timeout_ms}`")));
        }
        let default_key = self.key("dns", raw.dns.tsig_key.as_deref(), raw.dns.tsig_key_file.as_deref())?;
        let default_confirm = self.confirm("dns.confirm", raw.dns.confirm.as_deref())?;
        let confirm_timeout_ms = raw.dns.confirm_timeout_ms.unwrap_or(2_000);
        if !(10..=60_000).contains(&confirm_timeout_ms) {
            return Err(self.invalid(
                "dns.confirm_timeout_ms",
                format!("must be between 10 and 60000, got `{confirm_timeout_ms}`"),
            ));
        }

        if raw.zones.is_empty() {
            return Err(self.invalid("zones", "must list at least one `[[zones]]` entry"));
        }
        let mut zones: Vec<Zone> = Vec::with_capacity(raw.zones.len());
        for (i, z) in raw.zones.into_iter().enumerate() {
            let key_prefix = format!("zones[{i}]");
            let name = self.zone_name(&format!("{key_prefix}.name"), &z.name)?;
            if zones.iter().any(|other| other.name == name) {
                return Err(self.invalid(&format!("{key_prefix}.name"), format!("repeats zone `{}`", z.name)));
            }
            let server = match &z.server {
                Some(s) => self.socket_addr(&format!("{key_prefix}.server"), s)?,
                None => default_server,
            };
            let key = match self.key(&key_prefix, z.tsig_key.as_deref(), z.tsig_key_file.as_deref())? {
                Some(k) => k,
                None => default_key.clone().ok_or_else(|| {
                    self.invalid(
                        &format!("{key_prefix}.tsig_key"),
                        format!("is missing for zone `{}` and `dns.tsig_key` is not set either", z.name),
                    )
                })?,
            };
            let confirm = match z.confirm.as_deref() {
                Some(list) => self.confirm(&format!("{key_prefix}.confirm"), Some(list))?,
                None => default_confirm.clone(),
            };
            zones.push(Zone {
                name,
                server,
                key,
                timeout: Duration::from_millis(timeout_ms),
                confirm,
                confirm_timeout: Duration::from_millis(confirm_timeout_ms),
            });
        }

        let defaults = Defaults {
            dns_ttl: self.range("defaults.dns_ttl", raw.defaults.dns_ttl, 60, 1, 86_400)?,
            expiry_ttl: self.expiry_ttl("defaults.expiry_ttl", raw.defaults.expiry_ttl)?,
            min_dns_ttl: self.range("defaults.min_dns_ttl", raw.defaults.min_dns_ttl, 30, 1, 86_400)?,
            max_dns_ttl: self.range("defaults.max_dns_ttl", raw.defaults.max_dns_ttl, 86_400, 1, 86_400)?,
        };
        if defaults.min_dns_ttl > defaults.max_dns_ttl {
            return Err(self.invalid(
                "defaults.min_dns_ttl",
                format!(
                    "must not exceed `defaults.max_dns_ttl`, got `{}` > `{}`",
                    defaults.min_dns_ttl, defaults.max_dns_ttl
                ),
            ));
        }

        let r = raw.rate_limit;
        let rate_limit = RateLimit {
            enabled: r.enabled.unwrap_or(true),
            good_window_seconds: self.range("rate_limit.good_window_seconds", r.good_window_seconds, 60, 1, 86_400)?,
            good_max_requests: self.range("rate_limit.good_max_requests", r.good_max_requests, 5, 1, 1_000_000)?,
            bad_window_seconds: self.range("rate_limit.bad_window_seconds", r.bad_window_seconds, 60, 1, 86_400)?,
            bad_max_requests: self.range("rate_limit.bad_max_requests", r.bad_max_requests, 3, 1, 1_000_000)?,
            // Shorter than /32 would lump whole providers together (RFC 6177 suggests /48 to
            // /64 per site); 128 counts every address on its own.
            ipv6_prefix: u8::try_from(self.range("rate_limit.ipv6_prefix", r.ipv6_prefix, 64, 32, 128)?).unwrap_or(64),
        };

        let trusted_proxies = raw
            .http
            .trusted_proxies
            .iter()
            .map(|s| s.parse::<Cidr>().map_err(|m| self.invalid("http.trusted_proxies", m)))
            .collect::<Result<Vec<_>, _>>()?;
        let proxy_header = match raw.http.proxy_header.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(h) => Some(self.header_to_cgi(h)?),
        };

        let level = match raw.log.level.as_deref() {
            None => Level::Info,
            Some(s) => parse_level(s).ok_or_else(|| {
                self.invalid("log.level", format!("must be debug, info, warning or error, got `{s}`"))
            })?,
        };
        // Under nginx + fcgiwrap every stderr line is logged as `[error] FastCGI sent in
        // stderr`, and Apache stamps none of them: with a syslog or file target, stderr keeps
        // only what needs attention.
        let stderr_level = match raw.log.stderr_level.as_deref() {
            None => Some(Level::Warn),
            Some(s) if s.eq_ignore_ascii_case("off") => None,
            Some(s) => Some(parse_level(s).ok_or_else(|| {
                self.invalid("log.stderr_level", format!("must be debug, info, warning, error or off, got `{s}`"))
            })?),
        };

        // Defaults follow the argon2 crate's recommendation (OWASP: m=19 MiB, t=2, p=1).
        let auth = AuthConfig {
            argon2_m_kib: self.range("auth.argon2_m_kib", raw.auth.argon2_m_kib, 19_456, 8, 4_194_304)?,
            argon2_t: self.range("auth.argon2_t", raw.auth.argon2_t, 2, 1, 64)?,
            argon2_p: self.range("auth.argon2_p", raw.auth.argon2_p, 1, 1, 64)?,
            cache_seconds: self.range("auth.cache_seconds", raw.auth.cache_seconds, 300, 0, 86_400)?,
            cache_entries: self.range("auth.cache_entries", raw.auth.cache_entries, 10_000, 0, 1_000_000)?,
        };

        let endpoints = if raw.endpoints.is_empty() {
            DEFAULT_ENDPOINTS
                .iter()
                .map(|(path, action)| Endpoint {
                    path: (*path).to_owned(),
                    action: *action,
                    params: ParamAliases::default(),
                })
                .collect()
        } else {
            self.endpoints(raw.endpoints)?
        };

        let email = self.email(raw.email)?;
        let acme = raw.acme.map(|a| self.acme(a, &zones, &endpoints)).transpose()?;
        let audit = AuditConfig { keep_days: self.range("audit.keep_days", raw.audit.keep_days, 90, 0, 36_500)? };
        let metrics = self.metrics(raw.metrics, &endpoints)?;

        let ms = |key: &str, value: Option<i64>, default: u32| {
            self.range(key, value, default, 100, 30_000).map(|v| Duration::from_millis(u64::from(v)))
        };
        let relay = RelayConfig {
            connect_timeout: ms("relay.connect_timeout_ms", raw.relay.connect_timeout_ms, 5_000)?,
            request_timeout: ms("relay.request_timeout_ms", raw.relay.request_timeout_ms, 5_000)?,
            total_timeout: ms("relay.total_timeout_ms", raw.relay.total_timeout_ms, 10_000)?,
            ca_file: raw.relay.ca_file.unwrap_or_else(|| PathBuf::from(DEFAULT_CA_FILE)),
        };

        Ok(Config {
            path: self.path.to_owned(),
            database,
            zones,
            defaults,
            rate_limit,
            http: Http { trusted_proxies, proxy_header },
            log: LogConfig {
                level,
                log_requests: raw.log.log_requests.unwrap_or(false),
                target: self.log_target(&raw.log)?,
                stderr_level,
            },
            auth,
            endpoints,
            email,
            acme,
            relay,
            audit,
            metrics,
        })
    }

    fn metrics(&self, raw: RawMetrics, endpoints: &[Endpoint]) -> Result<MetricsConfig, ConfigError> {
        let path = raw.path.unwrap_or_else(|| "/metrics".to_owned());
        let plain = path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
        if !path.starts_with('/') || !plain || path.contains("//") || path.len() > 64 {
            return Err(
                self.invalid("metrics.path", format!("must be a plain absolute path such as `/metrics`, got `{path}`"))
            );
        }
        if let Some(e) = endpoints.iter().find(|e| e.path.trim_end_matches('/') == path.trim_end_matches('/')) {
            return Err(self.invalid("metrics.path", format!("is also the endpoint `{}`", e.path)));
        }
        let allow = raw
            .allow
            .iter()
            .map(|s| s.parse::<Cidr>().map_err(|m| self.invalid("metrics.allow", m)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MetricsConfig { textfile: raw.textfile.as_deref().map(|p| self.relative(p)), path, allow })
    }

    fn acme(&self, raw: RawAcme, zones: &[Zone], endpoints: &[Endpoint]) -> Result<AcmeConfig, ConfigError> {
        let name = self.zone_name("acme.zone", &raw.zone)?;
        let Some(zone) = zones.iter().find(|z| z.name == name) else {
            return Err(self.invalid("acme.zone", format!("must name a `[[zones]]` entry, got `{}`", raw.zone)));
        };
        let path = raw.path.unwrap_or_else(|| "/acme".to_owned());
        let path = path.trim_end_matches('/').to_owned();
        let plain = path.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
        if !path.starts_with('/') || !plain || path.contains("//") || path.len() > 64 {
            return Err(
                self.invalid("acme.path", format!("must be a plain absolute path such as `/acme`, got `{path}`"))
            );
        }
        if let Some(e) = endpoints.iter().find(|e| e.path.trim_end_matches('/') == path) {
            return Err(self.invalid("acme.path", format!("is also the endpoint `{}`", e.path)));
        }
        let register_from = raw
            .register_from
            .iter()
            .map(|s| s.parse::<Cidr>().map_err(|m| self.invalid("acme.register_from", m)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AcmeConfig {
            zone: zone.name_str(),
            path,
            ttl: self.range("acme.ttl", raw.ttl, 1, 1, 86_400)?,
            register: raw.register.unwrap_or(false),
            register_from,
        })
    }

    fn email(&self, raw: RawEmail) -> Result<EmailConfig, ConfigError> {
        let enabled = raw.enabled.unwrap_or(false);
        let from_address = raw.from_address.unwrap_or_default();
        if enabled && !is_mailbox(&from_address) {
            return Err(self.invalid("email.from_address", format!("must be an email address, got `{from_address}`")));
        }
        let transport = match raw.transport.as_deref().unwrap_or("smtp") {
            "smtp" => {
                let port = self.range("email.smtp_port", raw.smtp_port, 25, 1, 65_535)?;
                if raw.smtp_password.is_some() != raw.smtp_username.is_some() {
                    return Err(self.invalid("email.smtp_password", "and `email.smtp_username` must be set together"));
                }
                MailTransport::Smtp(SmtpConfig {
                    host: raw.smtp_host.unwrap_or_else(|| "localhost".to_owned()),
                    port: u16::try_from(port).unwrap_or(25),
                    starttls: raw.smtp_starttls.unwrap_or(false),
                    username: raw.smtp_username,
                    password: raw.smtp_password.map(Secret::new),
                })
            }
            "sendmail" => MailTransport::Sendmail {
                command: raw.sendmail_command.unwrap_or_else(|| PathBuf::from("/usr/sbin/sendmail")),
            },
            other => {
                return Err(self.invalid("email.transport", format!("must be `smtp` or `sendmail`, got `{other}`")));
            }
        };
        Ok(EmailConfig { enabled, transport, from_address })
    }

    fn endpoints(&self, raw: Vec<RawEndpoint>) -> Result<Vec<Endpoint>, ConfigError> {
        let mut out: Vec<Endpoint> = Vec::with_capacity(raw.len());
        for (i, e) in raw.into_iter().enumerate() {
            let key = format!("endpoints[{i}].path");
            if !e.path.starts_with('/') || e.path.len() > 256 {
                return Err(self.invalid(&key, format!("must start with `/`, got `{}`", e.path)));
            }
            if out.iter().any(|o| o.path == e.path) {
                return Err(self.invalid(&key, format!("repeats path `{}`", e.path)));
            }
            let d = ParamAliases::default();
            let list = |name: &str, v: Option<Vec<String>>, default: Vec<String>| match v {
                None => Ok(default),
                Some(v) if v.is_empty() || v.iter().any(|s| s.is_empty()) => {
                    Err(self.invalid(&format!("endpoints[{i}].params.{name}"), "must be a list of non-empty names"))
                }
                Some(v) => Ok(v),
            };
            let params = ParamAliases {
                hostname: list("hostname", e.params.hostname, d.hostname)?,
                address: list("address", e.params.address, d.address)?,
                ipv4: list("ipv4", e.params.ipv4, d.ipv4)?,
                ipv6: list("ipv6", e.params.ipv6, d.ipv6)?,
                ipv6_prefix: list("ipv6_prefix", e.params.ipv6_prefix, d.ipv6_prefix)?,
                username: list("username", e.params.username, d.username)?,
                password: list("password", e.params.password, d.password)?,
            };
            // A name in two address lists would make the family it promises ambiguous (and
            // a config written before `address` existed had `myip` under `ipv4`).
            let lists = [
                ("address", &params.address),
                ("ipv4", &params.ipv4),
                ("ipv6", &params.ipv6),
                ("ipv6_prefix", &params.ipv6_prefix),
            ];
            for (n, (key, names)) in lists.iter().enumerate() {
                for (other, other_names) in &lists[n + 1..] {
                    if let Some(name) = names.iter().find(|name| other_names.contains(name)) {
                        return Err(self.invalid(
                            &format!("endpoints[{i}].params.{other}"),
                            format!("repeats `{name}` from `params.{key}`; a name belongs to one address list"),
                        ));
                    }
                }
            }
            let action = match e.action.as_deref() {
                None | Some("update") => Action::Update,
                Some("delete") => Action::Delete,
                Some(other) => {
                    return Err(self.invalid(
                        &format!("endpoints[{i}].action"),
                        format!("must be `update` or `delete`, got `{other}`"),
                    ));
                }
            };
            out.push(Endpoint { path: e.path, action, params });
        }
        Ok(out)
    }

    fn log_target(&self, raw: &RawLog) -> Result<LogTarget, ConfigError> {
        match raw.target.as_deref().unwrap_or("stderr") {
            "stderr" => Ok(LogTarget::Stderr),
            "syslog" => {
                // RFC 5424 §6.2.1 facility codes; the ones a local service may use.
                let facility = match raw.syslog_facility.as_deref().unwrap_or("daemon") {
                    "user" => 1,
                    "daemon" => 3,
                    "local0" => 16,
                    "local1" => 17,
                    "local2" => 18,
                    "local3" => 19,
                    "local4" => 20,
                    "local5" => 21,
                    "local6" => 22,
                    "local7" => 23,
                    other => {
                        return Err(self.invalid(
                            "log.syslog_facility",
                            format!("must be daemon, user or local0 to local7, got `{other}`"),
                        ));
                    }
                };
                let socket = raw.syslog_socket.clone().unwrap_or_else(|| PathBuf::from("/dev/log"));
                Ok(LogTarget::Syslog { socket, facility })
            }
            "file" => match &raw.log_file {
                Some(p) => Ok(LogTarget::File { path: self.relative(p) }),
                None => Err(self.invalid("log.log_file", "must be set when `log.target` is `file`")),
            },
            other => Err(self.invalid("log.target", format!("must be stderr, syslog or file, got `{other}`"))),
        }
    }

    fn expiry_ttl(&self, key: &str, value: Option<i64>) -> Result<u32, ConfigError> {
        let v = self.range(key, value, 3_600, 0, 31_536_000)?;
        if v != 0 && v < 60 {
            return Err(self.invalid(key, format!("must be 0 (never) or at least 60, got `{v}`")));
        }
        Ok(v)
    }

    fn relative(&self, p: &Path) -> PathBuf {
        match self.path.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_owned(),
        }
    }

    fn socket_addr(&self, key: &str, s: &str) -> Result<SocketAddr, ConfigError> {
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(a);
        }
        // A bare address means the standard DNS port.
        s.parse::<IpAddr>()
            .map(|ip| SocketAddr::new(ip, 53))
            .map_err(|_| self.invalid(key, format!("must be `ip:port` (e.g. `127.0.0.1:53`), got `{s}`")))
    }

    /// A `confirm` list: servers as `ip:port` (or a bare address for port 53), each once.
    fn confirm(&self, key: &str, list: Option<&[String]>) -> Result<Vec<SocketAddr>, ConfigError> {
        let mut servers: Vec<SocketAddr> = Vec::new();
        for s in list.unwrap_or_default() {
            let server = self.socket_addr(key, s)?;
            if servers.contains(&server) {
                return Err(self.invalid(key, format!("repeats `{s}`")));
            }
            servers.push(server);
        }
        Ok(servers)
    }

    fn zone_name(&self, key: &str, s: &str) -> Result<Name, ConfigError> {
        let ascii = idna::domain_to_ascii(s.trim_end_matches('.'))
            .map_err(|_| self.invalid(key, format!("is not a valid domain name, got `{s}`")))?;
        if ascii.is_empty() {
            return Err(self.invalid(key, format!("is not a valid domain name, got `{s}`")));
        }
        Name::from_ascii(format!("{ascii}."))
            .map_err(|_| self.invalid(key, format!("is not a valid domain name, got `{s}`")))
    }

    fn header_to_cgi(&self, h: &str) -> Result<String, ConfigError> {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(self.invalid("http.proxy_header", format!("must be an HTTP header name, got `{h}`")));
        }
        Ok(format!("HTTP_{}", h.to_ascii_uppercase().replace('-', "_")))
    }

    /// The key given inline or in a file under `section`; `None` when neither is set.
    fn key(&self, section: &str, inline: Option<&str>, file: Option<&Path>) -> Result<Option<TsigKey>, ConfigError> {
        match (inline, file) {
            (Some(_), Some(_)) => {
                Err(self.invalid(&format!("{section}.tsig_key"), "and `tsig_key_file` are both set; choose one"))
            }
            (Some(line), None) => {
                parse_key_line(line).map(Some).map_err(|m| self.invalid(&format!("{section}.tsig_key"), m))
            }
            (None, Some(file)) => {
                let file = self.relative(file);
                let key = format!("{section}.tsig_key_file");
                let text = read_bounded(&file)
                    .map_err(|e| self.invalid(&key, format!("cannot read `{}`: {e}", file.display())))?;
                parse_key_file(&text)
                    .map(|k| Some(TsigKey { file: Some(file.clone()), ..k }))
                    .map_err(|m| self.invalid(&key, format!("{m} (key file `{}`)", file.display())))
            }
            (None, None) => Ok(None),
        }
    }
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_FILE_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

/// Parses `hmac-sha256:ddns-key.:BASE64`, the form `nsupdate -y` and `knsupdate -y` take.
/// Messages never contain the secret.
fn parse_key_line(line: &str) -> Result<TsigKey, String> {
    let mut parts = line.trim().splitn(3, ':');
    let (Some(alg), Some(name), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("must be `algorithm:name:base64-secret`".to_owned());
    };
    make_key(alg, name, secret)
}

/// Parses a key file: the one-line form, BIND's `key "name" { algorithm ..; secret ".."; };`
/// block (`tsig-keygen`), or Knot's YAML `key:` list (`keymgr -t`, whose first line is also a
/// commented one-line form).
fn parse_key_file(text: &str) -> Result<TsigKey, String> {
    let trimmed = text.trim();
    if let Some(block) = trimmed.strip_prefix("key") {
        if block.trim_start().starts_with('"') {
            return parse_bind_block(block);
        }
        if block.trim_start().starts_with(':') {
            return parse_knot_yaml(block);
        }
    }
    for line in trimmed.lines() {
        let line = line.trim().trim_start_matches('#').trim();
        if line.starts_with("hmac-") {
            return parse_key_line(line);
        }
        if line.starts_with("key:") {
            let rest = trimmed.split_once("key:").map(|(_, r)| r).unwrap_or("");
            return parse_knot_yaml(rest);
        }
    }
    Err("holds no TSIG key: expected `algorithm:name:secret`, a BIND `key` block or a Knot `key:` list".to_owned())
}

fn parse_bind_block(block: &str) -> Result<TsigKey, String> {
    let bad = || "has a malformed `key \"name\" { algorithm ...; secret \"...\"; };` block".to_owned();
    let block = block.trim_start();
    let rest = block.strip_prefix('"').ok_or_else(bad)?;
    let (name, rest) = rest.split_once('"').ok_or_else(bad)?;
    let body = rest.trim_start().strip_prefix('{').ok_or_else(bad)?;
    let body = body.split_once('}').map(|(b, _)| b).ok_or_else(bad)?;
    let mut alg = None;
    let mut secret = None;
    for stmt in body.split(';') {
        let stmt = stmt.trim();
        if let Some(v) = stmt.strip_prefix("algorithm") {
            alg = Some(v.trim().trim_matches('"').to_owned());
        } else if let Some(v) = stmt.strip_prefix("secret") {
            secret = Some(v.trim().trim_matches('"').to_owned());
        }
    }
    make_key(&alg.ok_or_else(bad)?, name, &secret.ok_or_else(bad)?)
}

fn parse_knot_yaml(rest: &str) -> Result<TsigKey, String> {
    let field = |k: &str| {
        rest.lines()
            .map(|l| l.trim().trim_start_matches('-').trim())
            .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().trim_matches('"')))
    };
    let bad = || "has a malformed Knot `key:` entry (needs `id`, `algorithm`, `secret`)".to_owned();
    make_key(field("algorithm").ok_or_else(bad)?, field("id").ok_or_else(bad)?, field("secret").ok_or_else(bad)?)
}

fn make_key(alg: &str, name: &str, secret: &str) -> Result<TsigKey, String> {
    let algorithm = match alg.trim().to_ascii_lowercase().as_str() {
        "hmac-sha256" => TsigAlgorithm::HmacSha256,
        "hmac-sha384" => TsigAlgorithm::HmacSha384,
        "hmac-sha512" => TsigAlgorithm::HmacSha512,
        other => {
            return Err(format!(
                "uses unsupported TSIG algorithm `{other}`; use hmac-sha256, hmac-sha384 or hmac-sha512"
            ));
        }
    };
    let name = name.trim();
    let key_name = Name::from_ascii(if name.ends_with('.') { name.to_owned() } else { format!("{name}.") })
        .map_err(|_| format!("has an invalid key name `{name}`"))?;
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret.trim())
        .map_err(|_| "has a secret that is not valid base64".to_owned())?;
    if secret.is_empty() {
        return Err("has an empty secret".to_owned());
    }
    Ok(TsigKey { name: key_name.to_lowercase(), algorithm, secret: Secret::new(secret), file: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "hmac-sha256:ddns-key.:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=";

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), text)
    }

    fn minimal(extra: &str) -> String {
        format!(
            "[database]\npath = \"/var/lib/ddns-cgi/ddns.db\"\n[dns]\ntsig_key = \"{KEY}\"\n[[zones]]\nname = \"dyn.example.com\"\n{extra}"
        )
    }

    #[test]
    fn acme_section() {
        let c = load(&minimal("[acme]\nzone = \"DYN.example.com.\"\n")).expect("acme");
        let acme = c.acme.expect("section");
        assert_eq!(
            (acme.zone.as_str(), acme.path.as_str(), acme.ttl, acme.register),
            ("dyn.example.com", "/acme", 1, false)
        );
        let c = load(&minimal("[acme]\nzone = \"dyn.example.com\"\npath = \"/x/acme/\"\nregister = true\nregister_from = [\"127.0.0.0/8\"]\n"))
            .expect("acme");
        assert_eq!(c.acme.map(|a| (a.path, a.register, a.register_from.len())), Some(("/x/acme".to_owned(), true, 1)));
        assert!(load(&minimal("")).expect("no acme").acme.is_none());
        check_err(
            &minimal("[acme]\nzone = \"other.example.com\"\n"),
            "`acme.zone` must name a `[[zones]]` entry, got `other.example.com` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[acme]\nzone = \"dyn.example.com\"\npath = \"acme\"\n"),
            "`acme.path` must be a plain absolute path such as `/acme`, got `acme` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[acme]\nzone = \"dyn.example.com\"\npath = \"/update\"\n"),
            "`acme.path` is also the endpoint `/update` (in /etc/ddns-cgi/config.toml)",
        );
    }

    #[track_caller]
    fn check_err(text: &str, expected: &str) {
        let err = load(text).expect_err("config should be rejected").to_string();
        assert_eq!(err, expected);
    }

    #[test]
    fn relay_timeouts_default_and_bounds() {
        let c = load(&minimal("")).expect("valid").relay;
        assert_eq!(
            (c.connect_timeout, c.request_timeout, c.total_timeout),
            (Duration::from_secs(5), Duration::from_secs(5), Duration::from_secs(10))
        );
        assert_eq!(c.ca_file, PathBuf::from(DEFAULT_CA_FILE));
        let c = load(&minimal("[relay]\nrequest_timeout_ms = 800\nca_file = \"/etc/ssl/mine.pem\"\n")).expect("valid");
        assert_eq!(c.relay.request_timeout, Duration::from_millis(800));
        check_err(
            &minimal("[relay]\ntotal_timeout_ms = 60000\n"),
            "`relay.total_timeout_ms` must be between 100 and 30000, got `60000` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[relay]\nconnect_timeout_ms = 0\n"),
            "`relay.connect_timeout_ms` must be between 100 and 30000, got `0` (in /etc/ddns-cgi/config.toml)",
        );
    }

    #[test]
    fn defaults_apply() {
        let c = load(&minimal("")).expect("valid");
        assert_eq!(c.defaults.dns_ttl, 60);
        assert_eq!(c.defaults.expiry_ttl, 3600);
        assert_eq!(c.zones[0].server, "127.0.0.1:53".parse().expect("addr"));
        assert_eq!(c.zones[0].name_str(), "dyn.example.com");
        assert_eq!((&c.log.target, c.log.stderr_level), (&LogTarget::Stderr, Some(Level::Warn)));
        assert_eq!(
            c.endpoints.iter().map(|e| (e.path.as_str(), e.action)).collect::<Vec<_>>(),
            [
                ("/update", Action::Update),
                ("/nic/update", Action::Update),
                ("/api/update", Action::Update),
                ("/nic/delete", Action::Delete)
            ]
        );
        assert!(c.endpoints.iter().all(|e| e.params.password.contains(&"token".to_owned())));
        assert_eq!((c.defaults.min_dns_ttl, c.defaults.max_dns_ttl), (30, 86_400));
        assert_eq!(c.rate_limit.bad_max_requests, 3);
        assert!(c.http.proxy_header.is_none());
    }

    #[test]
    fn confirm_lists_default_from_dns_and_are_checked() {
        let c = load(&minimal("")).expect("valid");
        assert!(c.zones[0].confirm.is_empty());
        assert_eq!(c.zones[0].confirm_timeout, Duration::from_millis(2_000));
        let text = minimal("confirm = [\"192.0.2.53\"]\n[[zones]]\nname = \"other.example.com\"\n")
            .replace("[dns]\n", "[dns]\nconfirm = [\"127.0.0.1:5301\", \"[::1]:5302\"]\nconfirm_timeout_ms = 500\n");
        let c = load(&text).expect("valid");
        let addr = |s: &str| s.parse::<SocketAddr>().expect("addr");
        assert_eq!(c.zones[0].confirm, [addr("192.0.2.53:53")]);
        assert_eq!(c.zones[1].confirm, [addr("127.0.0.1:5301"), addr("[::1]:5302")]);
        assert_eq!(c.zones[1].confirm_timeout, Duration::from_millis(500));
        check_err(
            &minimal("").replace("[dns]\n", "[dns]\nconfirm = [\"ns1.example.com:53\"]\n"),
            "`dns.confirm` must be `ip:port` (e.g. `127.0.0.1:53`), got `ns1.example.com:53` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("confirm = [\"192.0.2.53\", \"192.0.2.53:53\"]\n"),
            "`zones[0].confirm` repeats `192.0.2.53:53` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("").replace("[dns]\n", "[dns]\nconfirm_timeout_ms = 0\n"),
            "`dns.confirm_timeout_ms` must be between 10 and 60000, got `0` (in /etc/ddns-cgi/config.toml)",
        );
    }

    #[test]
    fn ipv6_prefix_is_bounded() {
        assert_eq!(load(&minimal("")).expect("valid").rate_limit.ipv6_prefix, 64);
        assert_eq!(load(&minimal("[rate_limit]\nipv6_prefix = 56\n")).expect("valid").rate_limit.ipv6_prefix, 56);
        check_err(
            &minimal("[rate_limit]\nipv6_prefix = 16\n"),
            "`rate_limit.ipv6_prefix` must be between 32 and 128, got `16` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[rate_limit]\nipv6_prefix = 129\n"),
            "`rate_limit.ipv6_prefix` must be between 32 and 128, got `129` (in /etc/ddns-cgi/config.toml)",
        );
    }

    #[test]
    fn unknown_key_names_key_and_file() {
        let err = load(&minimal("[defaults]\ndns_tll = 5\n")).expect_err("rejected").to_string();
        assert!(err.starts_with("`defaults`, line 8, column 1: "), "{err}");
        assert!(err.ends_with(" (in /etc/ddns-cgi/config.toml)"), "{err}");
        assert!(err.contains("dns_tll"), "{err}");
    }

    #[test]
    fn bad_values() {
        check_err(
            &minimal("[audit]\nkeep_days = -1\n"),
            "`audit.keep_days` must be between 0 and 36500, got `-1` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[metrics]\npath = \"metrics\"\n"),
            "`metrics.path` must be a plain absolute path such as `/metrics`, got `metrics` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[metrics]\npath = \"/nic/update\"\n"),
            "`metrics.path` is also the endpoint `/nic/update` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[metrics]\nallow = [\"10.0.0.0/33\"]\n"),
            "`metrics.allow` `10.0.0.0/33` has a prefix length outside 0..=32 (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[log]\nstderr_level = \"loud\"\n"),
            "`log.stderr_level` must be debug, info, warning, error or off, got `loud` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[defaults]\ndns_ttl = 0\n"),
            "`defaults.dns_ttl` must be between 1 and 86400, got `0` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[defaults]\nexpiry_ttl = 30\n"),
            "`defaults.expiry_ttl` must be 0 (never) or at least 60, got `30` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[http]\ntrusted_proxies = [\"10.0.0.0/33\"]\n"),
            "`http.trusted_proxies` `10.0.0.0/33` has a prefix length outside 0..=32 (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[dns]\n").replacen("[dns]\ntsig_key", "[x]\ntsig_key", 1),
            "line 3, column 2: unknown field `x`, expected one of `database`, `dns`, `zones`, `defaults`, `rate_limit`, `http`, `log`, `auth`, `endpoints`, `email`, `acme`, `relay`, `audit`, `metrics` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[defaults]\nmin_dns_ttl = 600\nmax_dns_ttl = 300\n"),
            "`defaults.min_dns_ttl` must not exceed `defaults.max_dns_ttl`, got `600` > `300` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[defaults]\nmax_dns_ttl = 0\n"),
            "`defaults.max_dns_ttl` must be between 1 and 86400, got `0` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[[endpoints]]\npath = \"/x\"\naction = \"remove\"\n"),
            "`endpoints[0].action` must be `update` or `delete`, got `remove` (in /etc/ddns-cgi/config.toml)",
        );
        // A config from before `params.address` existed, with `myip` under `ipv4`.
        check_err(
            &minimal("[[endpoints]]\npath = \"/x\"\n[endpoints.params]\nipv4 = [\"myip\", \"ipv4\"]\n"),
            "`endpoints[0].params.ipv4` repeats `myip` from `params.address`; a name belongs to one address list (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[[endpoints]]\npath = \"/x\"\n[endpoints.params]\nipv6 = [\"ip\"]\nipv6_prefix = [\"ip\"]\n"),
            "`endpoints[0].params.ipv6_prefix` repeats `ip` from `params.ipv6`; a name belongs to one address list (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[email]\nenabled = true\nfrom_address = \"nobody\"\n"),
            "`email.from_address` must be an email address, got `nobody` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[email]\ntransport = \"pigeon\"\n"),
            "`email.transport` must be `smtp` or `sendmail`, got `pigeon` (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[email]\nsmtp_password = \"hunter2\"\n"),
            "`email.smtp_password` and `email.smtp_username` must be set together (in /etc/ddns-cgi/config.toml)",
        );
    }

    #[test]
    fn unsupported_algorithm_is_named_and_secret_is_not() {
        let text = minimal("").replace("hmac-sha256:", "hmac-md5:");
        let err = load(&text).expect_err("rejected").to_string();
        assert_eq!(
            err,
            "`dns.tsig_key` uses unsupported TSIG algorithm `hmac-md5`; use hmac-sha256, hmac-sha384 or hmac-sha512 (in /etc/ddns-cgi/config.toml)"
        );
        assert!(!err.contains("c2VjcmV0"));
    }

    #[test]
    fn key_file_forms() {
        let bind = "key \"ddns-key\" {\n\talgorithm hmac-sha512;\n\tsecret \"c2VjcmV0\";\n};\n";
        let k = parse_key_file(bind).expect("bind block");
        assert_eq!(k.name.to_ascii(), "ddns-key.");
        assert_eq!(k.algorithm, TsigAlgorithm::HmacSha512);
        assert_eq!(k.secret.expose(), b"secret");

        let knot =
            "# hmac-sha384:sftdyn:c2VjcmV0\nkey:\n  - id: sftdyn\n    algorithm: hmac-sha384\n    secret: c2VjcmV0\n";
        let k = parse_key_file(knot).expect("knot yaml");
        assert_eq!(k.name.to_ascii(), "sftdyn.");
        assert_eq!(k.algorithm, TsigAlgorithm::HmacSha384);

        let knot_only_yaml = "key:\n  - id: k2\n    algorithm: hmac-sha256\n    secret: c2VjcmV0\n";
        assert_eq!(parse_key_file(knot_only_yaml).expect("yaml").name.to_ascii(), "k2.");

        let line = parse_key_file("hmac-sha256:Line-Key:c2VjcmV0\n").expect("line");
        assert_eq!(line.name.to_ascii(), "line-key.");
        assert!(parse_key_file("nothing here").is_err());
    }

    /// `key = value` with a bare key, or a `[table]` header.
    fn is_setting(line: &str) -> bool {
        line.starts_with('[')
            || line.split_once(" = ").is_some_and(|(k, _)| {
                !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            })
    }

    #[test]
    fn example_config_is_valid_with_every_option_uncommented() {
        let example = include_str!("../config.example.toml").replace("REPLACE-WITH-BASE64-SECRET", "c2VjcmV0");
        load(&example).expect("config.example.toml as shipped");
        // Uncomment every `# key = value` line and `# [[table]]` header: each documented key
        // must exist with a valid default.
        let uncommented: String = example
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if is_setting(rest) => rest.split("  #").next().unwrap_or(rest),
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let uncommented = uncommented.replace("tsig_key_file = \"/etc/ddns-cgi/tsig.key\"\n", "");
        let uncommented = uncommented.replace("tsig_key_file = \"/etc/ddns-cgi/dyn.example.com.key\"\n", "");
        let c = load(&uncommented).expect("config.example.toml with every option set");
        assert_eq!(c.zones[0].server, "127.0.0.1:5353".parse().expect("addr"));
        assert_eq!(c.endpoints.len(), 1);
    }

    #[test]
    fn cidr_contains() {
        let c: Cidr = "10.0.0.0/8".parse().expect("cidr");
        assert!(c.contains("10.1.2.3".parse().expect("ip")));
        assert!(!c.contains("11.0.0.1".parse().expect("ip")));
        let one: Cidr = "::1".parse().expect("cidr");
        assert!(one.contains("::1".parse().expect("ip")));
        assert!(!one.contains("::2".parse().expect("ip")));
        let all: Cidr = "0.0.0.0/0".parse().expect("cidr");
        assert!(all.contains("192.0.2.1".parse().expect("ip")));
    }

    #[test]
    fn proxy_header_becomes_cgi_variable() {
        let c = load(&minimal("[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n"))
            .expect("valid");
        assert_eq!(c.http.proxy_header.as_deref(), Some("HTTP_X_FORWARDED_FOR"));
    }

    #[test]
    fn parse_errors_name_the_place_but_quote_no_value() {
        let secret = KEY.rsplit(':').next().expect("secret");
        check_err(
            &minimal("").replace("tsig_key =", "tsig_key"),
            "line 4, column 10: key with no value, expected `=` (in /etc/ddns-cgi/config.toml)",
        );
        let (head, tail) = secret.split_at(20);
        let wrapped = minimal("").replace(secret, &format!("{head}\n{tail}"));
        let err = load(&wrapped).expect_err("wrapped key").to_string();
        assert!(err.starts_with("line 4, column 55: ") && !err.contains(head) && !err.contains(tail), "{err}");
        check_err(
            &minimal("[email]\nsmtp_port = \"pa55word\"\n"),
            "`email.smtp_port`, line 8, column 13: invalid type: string \"...\", expected i64 (in /etc/ddns-cgi/config.toml)",
        );
        check_err(
            &minimal("[email]\nsmtp_password = pa55word\n"),
            "line 8, column 17: string values must be quoted, expected literal string (in /etc/ddns-cgi/config.toml)",
        );
        assert!(!load(&minimal("").replace("tsig_key =", "tsig_key")).expect_err("typo").to_string().contains(secret));
    }

    #[test]
    fn quoted_strings_are_redacted() {
        assert_eq!(
            redact_quoted(r#"invalid type: string "a\"b", expected i64"#),
            r#"invalid type: string "...", expected i64"#
        );
        assert_eq!(redact_quoted("invalid basic string, expected `\"`"), "invalid basic string, expected `\"`");
        assert_eq!(redact_quoted(r#"string "a" or string "b\\" c"#), r#"string "..." or string "..." c"#);
        assert_eq!(redact_quoted(r#"open string "quote"#), r#"open string "...""#);
    }
}
