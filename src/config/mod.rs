//! Configuration in two stages: a raw serde view of the TOML file with `deny_unknown_fields`,
//! converted once by [`Config::from_toml`] into a validated [`Config`] (TSIG secrets decoded,
//! zone names parsed, TTLs and addresses range-checked, defaults applied; the Python
//! ddns-daemon's keys folded in first by `compat`, with warnings). Other modules take
//! `&Config` and never re-check. This module reads the config file and the TSIG key files it
//! names, nothing else: it does not touch the environment or the database.

pub(crate) mod compat;
pub(crate) mod duration;
mod mariadb;
mod pg_url;
mod raw;
#[cfg(test)]
mod tests;
mod tsig;
mod validate;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;

use crate::secret::Secret;
pub(crate) use mariadb::{MariadbConfig, MariadbServer, MariadbSslMode};
use raw::RawConfig;
use validate::Validator;

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
    /// The web console (`[web]`); `None` when the section is absent, and its paths answer 404.
    pub(crate) web: Option<WebConfig>,
    /// Keys of the Python ddns-daemon's config that ddns-cgi ignores, one message each
    /// (`compat.rs`): the CLI and `check` print them, CGI and FastCGI log them at start.
    pub(crate) warnings: Vec<String>,
}

/// `[audit]`: the audit trail of changes and refused attempts (`audit.rs`).
#[derive(Debug)]
pub(crate) struct AuditConfig {
    /// How many days rows are kept (the expiry run prunes older ones); 0 records nothing.
    pub(crate) keep_days: u32,
}

/// `[web]`: the web console (`web/`).
#[derive(Debug)]
pub(crate) struct WebConfig {
    /// The path the console lives under (`/console`; `/` for the root of its origin), without
    /// a trailing slash except for `/` itself.
    pub(crate) path: String,
    /// The console's public base URL (`https://ddns.example.com/console`), for the links a
    /// command run in a shell builds (`user invite`), which cannot learn it from a request.
    pub(crate) url: Option<String>,
    /// Seconds a session lives without a request.
    pub(crate) session_idle: u32,
    /// Seconds a session lives at most, however active.
    pub(crate) session_lifetime: u32,
    /// Seconds an invitation link works.
    pub(crate) invitation_lifetime: u32,
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
    /// Challenge values kept per account, the newest (acme-dns keeps two).
    pub(crate) values: u32,
    /// Seconds after it was set that the expiry run removes a value.
    pub(crate) value_ttl: u32,
    /// Whether `POST <path>/register` creates accounts (off unless enabled).
    pub(crate) register: bool,
    /// Whether a registration may choose its subdomain (`"subdomain"` in its body).
    pub(crate) choose_subdomain: bool,
    /// The recursive resolver `GET <path>/check` and `acme check` ask; without one there is
    /// no check.
    pub(crate) resolver: Option<SocketAddr>,
    /// Who may register; empty allows any client (when `register` is on).
    pub(crate) register_from: Vec<Cidr>,
    /// Accounts in all beyond which registration creates none (0: none at all).
    pub(crate) max_accounts: u32,
    /// Accounts one client network (an IPv4 address, an IPv6 prefix of
    /// `[rate_limit] ipv6_prefix` bits) may register (0: none).
    pub(crate) max_accounts_per_network: u32,
    /// Whether `POST <path>/update` answers only once the zone's `confirm` servers serve the
    /// new TXT values (`[acme] wait`; off, as acme-dns answers at once).
    pub(crate) wait: bool,
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
    /// The SQLite file; empty when `postgres` is set.
    pub(crate) path: PathBuf,
    /// How long a writer waits for the SQLite lock (or, on PostgreSQL, for a lock of any
    /// kind: `lock_timeout`) before the request answers `911`.
    pub(crate) busy_timeout: Duration,
    /// `[database] url` or `[database] postgres`: PostgreSQL instead of the SQLite file.
    pub(crate) postgres: Option<PostgresConfig>,
    /// `[database] url = "mysql://..."` or `[database] mariadb`: MariaDB instead of the
    /// SQLite file (never with `postgres`).
    pub(crate) mariadb: Option<MariadbConfig>,
}

/// How to reach PostgreSQL. The password (from the URL or `password_file`) is inside the
/// driver's `Config`, whose `Debug` redacts it.
#[derive(Clone, Debug)]
pub(crate) struct PostgresConfig {
    pub(crate) config: postgres::Config,
    /// What logs and `check` show: `user@host/name`, never the password.
    pub(crate) shown: String,
    /// Whether and how the session is encrypted (`store::postgres::tls`).
    pub(crate) ssl_mode: SslMode,
    /// The CA certificates (PEM) the server's certificate must chain to: `sslrootcert` in the
    /// URL, `ca_file` in the table. Read when a session is opened with TLS, not at load.
    pub(crate) ca_file: Option<PathBuf>,
    /// `[database.postgres] password_file`, for `check`.
    pub(crate) password_file: Option<PathBuf>,
    /// Whether `[database] url` holds a password, which makes the config a secret.
    pub(crate) password_in_url: bool,
}

/// libpq's `sslmode`, with libpq's meaning for each value this ddns-cgi accepts (`allow`,
/// plain first and TLS only if the server insists, is not one: it protects nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SslMode {
    /// Never TLS.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not checked.
    Prefer,
    /// TLS or no session; the certificate is not checked, unless a CA file is given, when
    /// its chain is (libpq's `verify-ca`, kept so for compatibility by libpq).
    Require,
    /// TLS, with the server's certificate chaining to the CA file; any name.
    VerifyCa,
    /// TLS, the chain as `VerifyCa`, and the certificate issued for the host connected to.
    VerifyFull,
}

impl SslMode {
    pub(crate) fn parse(s: &str) -> Option<SslMode> {
        match s {
            "disable" => Some(SslMode::Disable),
            "prefer" => Some(SslMode::Prefer),
            "require" => Some(SslMode::Require),
            "verify-ca" => Some(SslMode::VerifyCa),
            "verify-full" => Some(SslMode::VerifyFull),
            _ => None,
        }
    }

    /// The value as libpq spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
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
    /// A recursive resolver `check` asks for the zone's DS record in its parent
    /// (`dns.resolver`); `None`: the delegation is not checked.
    pub(crate) resolver: Option<SocketAddr>,
    /// Which updates wait for them (`dns.confirm_wait`).
    pub(crate) confirm_wait: ConfirmWait,
}

/// Which dyndns2 updates wait for the read-back servers (`[dns] confirm_wait`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConfirmWait {
    /// Every update that changed DNS (the behaviour before the key existed).
    Always,
    /// Only updates that ask with `wait=`; the others answer as if `confirm` were empty.
    OnRequest,
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
    pub(crate) api: Api,
    /// What an update does to the host's records of an address family the request does not
    /// give.
    pub(crate) absent: Absent,
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

/// The URL and parameter shapes an endpoint reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    /// dyndns2: the parameters named by `ParamAliases`, `/PATH/TOKEN[/FQDN]` below the path.
    Dyndns2,
    /// The Flask dyndns API (`jfddns`): `/PATH/SECRET/FQDN[/IP_1[/IP_2]]` below the path, or
    /// at the path `secret`, `fqdn` (or `zone_name` with `record_name`), `ip_1`, `ip_2`,
    /// `ipv4`, `ipv6` and `ttl`; its names are fixed, `ParamAliases` is not read.
    Flask,
}

/// What an update does to the host's records of an address family the request does not give
/// (no parameter for it, or an empty one: the Fritz!Box's `ipv6=` when it has no IPv6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Absent {
    /// Leave them as they are: dyndns2, where `myip=192.0.2.1` says nothing about AAAA.
    Keep,
    /// Remove them: nanodnsd, whose `/api/update` removes the record of an IP parameter
    /// that is missing, so a router that lost IPv6 takes its AAAA record down with it.
    Remove,
}

/// The endpoints that exist when the config lists none.
const DEFAULT_ENDPOINTS: &[(&str, Action, Api, Absent)] = &[
    ("/update", Action::Update, Api::Dyndns2, Absent::Keep),
    ("/nic/update", Action::Update, Api::Dyndns2, Absent::Keep),
    // nanodnsd's path, so its documented Fritz!Box URL works when pasted unchanged, with
    // nanodnsd's meaning: a missing `ipv4` or `ipv6` removes that record.
    ("/api/update", Action::Update, Api::Dyndns2, Absent::Remove),
    ("/nic/delete", Action::Delete, Api::Dyndns2, Absent::Keep),
    // The Flask dyndns API's paths, so its URLs work unchanged with a host token as secret.
    ("/update-by-path", Action::Update, Api::Flask, Absent::Keep),
    ("/update-by-query", Action::Update, Api::Flask, Absent::Keep),
    ("/delete-by-path", Action::Delete, Api::Flask, Absent::Keep),
    ("/delete-by-query", Action::Delete, Api::Flask, Absent::Keep),
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

impl Config {
    /// Reads and validates the config file at `path`, and the key files it names.
    pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read_bounded(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Config::from_toml(path, &text)
    }

    /// Validates config text; `path` is used for messages and to resolve relative key files.
    pub(crate) fn from_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut raw: RawConfig = toml::from_str(text).map_err(|e| parse_error(path, text, &e))?;
        let validator = Validator { path };
        let warnings = compat::fold_daemon(&validator, &mut raw)?;
        Ok(Config { warnings, ..validator.config(raw)? })
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

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_FILE_BYTES).read_to_string(&mut text)?;
    Ok(text)
}
