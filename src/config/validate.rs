//! The [`Validator`]: turns the raw serde view into a validated [`Config`], decoding TSIG
//! secrets, parsing zone names, range-checking TTLs and addresses, and applying defaults.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::Name;

use crate::secret::Secret;

use super::mariadb::is_mariadb_url;
use super::pg_url::split_tls_params;
use super::raw::{RawAcme, RawConfig, RawDatabase, RawEmail, RawLog, RawMetrics, RawWeb};
use super::tsig::{parse_key_file, parse_key_line};
use super::{
    AcmeConfig, AuditConfig, AuthConfig, Cidr, Config, ConfigError, ConfirmWait, DEFAULT_CA_FILE, DEFAULT_ENDPOINTS,
    DatabaseConfig, Defaults, EmailConfig, Endpoint, Http, Level, LogConfig, LogTarget, MailTransport, MetricsConfig,
    ParamAliases, PostgresConfig, RateLimit, RelayConfig, SmtpConfig, SslMode, TsigKey, WebConfig, Zone, is_mailbox,
    read_bounded,
};

mod endpoints;

const ONE_OF: &str = "has more than one of `path`, `url`, `postgres` and `mariadb`; choose one";

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

pub(super) struct Validator<'a> {
    pub(super) path: &'a Path,
}

impl Validator<'_> {
    pub(super) fn invalid(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { path: self.path.to_owned(), key: key.to_owned(), message: message.into() }
    }

    /// `value` (an integer, or [`Seconds`](super::duration::Seconds) written with a unit) within
    /// `min..=max`, or `default` when absent.
    fn range(
        &self,
        key: &str,
        value: Option<impl Into<i64>>,
        default: u32,
        min: u32,
        max: u32,
    ) -> Result<u32, ConfigError> {
        let Some(v) = value.map(Into::into) else { return Ok(default) };
        u32::try_from(v)
            .ok()
            .filter(|v| (min..=max).contains(v))
            .ok_or_else(|| self.invalid(key, format!("must be between {min} and {max}, got `{v}`")))
    }

    pub(super) fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let busy_ms = raw.database.busy_timeout_ms.unwrap_or(10_000);
        if !(100..=600_000).contains(&busy_ms) {
            return Err(
                self.invalid("database.busy_timeout_ms", format!("must be between 100 and 600000, got `{busy_ms}`"))
            );
        }
        let database = self.database(raw.database, Duration::from_millis(busy_ms))?;

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
        let confirm_wait = match raw.dns.confirm_wait.as_deref() {
            None | Some("always") => ConfirmWait::Always,
            Some("on_request") => ConfirmWait::OnRequest,
            Some(other) => {
                return Err(
                    self.invalid("dns.confirm_wait", format!("must be `always` or `on_request`, got `{other}`"))
                );
            }
        };

        let resolver = raw.dns.resolver.as_deref().map(|s| self.socket_addr("dns.resolver", s)).transpose()?;

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
                resolver,
                confirm_wait,
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
                .map(|(path, action, api, absent)| Endpoint {
                    path: (*path).to_owned(),
                    action: *action,
                    api: *api,
                    absent: *absent,
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
        let web = raw.web.map(|w| self.web(w, &endpoints, acme.as_ref(), &metrics)).transpose()?;

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
            web,
            warnings: Vec::new(),
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

    /// `[web]`: a plain path that is no other handler's (the console answers everything below
    /// it, so an endpoint, `[acme] path` or `[metrics] path` below it would never be reached),
    /// an `https://` URL, and the session and invitation lifetimes.
    fn web(
        &self,
        raw: RawWeb,
        endpoints: &[Endpoint],
        acme: Option<&AcmeConfig>,
        metrics: &MetricsConfig,
    ) -> Result<WebConfig, ConfigError> {
        let path = raw.path.unwrap_or_else(|| "/console".to_owned());
        let trimmed = if path == "/" { "/".to_owned() } else { path.trim_end_matches('/').to_owned() };
        let plain = trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
        // No `.` or `..` segment: a web server would resolve it, and the prefix check would not.
        let dots = trimmed.split('/').any(|seg| seg == "." || seg == "..");
        if !trimmed.starts_with('/') || !plain || dots || trimmed.contains("//") || trimmed.len() > 64 {
            return Err(
                self.invalid("web.path", format!("must be a plain absolute path such as `/console`, got `{path}`"))
            );
        }
        let below = |other: &str| {
            let other = other.trim_end_matches('/');
            trimmed == "/"
                || other == trimmed
                || other.starts_with(&format!("{trimmed}/"))
                || trimmed.starts_with(&format!("{other}/"))
        };
        if trimmed != "/" {
            if let Some(e) = endpoints.iter().find(|e| below(&e.path)) {
                return Err(self.invalid("web.path", format!("overlaps the endpoint `{}`", e.path)));
            }
            if let Some(a) = acme.filter(|a| below(&a.path)) {
                return Err(self.invalid("web.path", format!("overlaps `acme.path` `{}`", a.path)));
            }
            if below(&metrics.path) {
                return Err(self.invalid("web.path", format!("overlaps `metrics.path` `{}`", metrics.path)));
            }
        }
        let url = match raw.url {
            None => None,
            Some(u) => {
                let u = u.trim_end_matches('/').to_owned();
                let ok = u.strip_prefix("https://").is_some_and(|rest| {
                    !rest.is_empty()
                        && rest.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'?' | b'#' | b'"' | b'<' | b'>'))
                });
                if !ok {
                    return Err(self.invalid(
                        "web.url",
                        format!("must be the console's public `https://` URL such as `https://ddns.example.com/console`, got `{u}`"),
                    ));
                }
                Some(u)
            }
        };
        Ok(WebConfig {
            path: trimmed,
            url,
            session_idle: self.range("web.session_idle", raw.session_idle, 1_800, 60, 86_400)?,
            session_lifetime: self.range("web.session_lifetime", raw.session_lifetime, 43_200, 60, 2_592_000)?,
            invitation_lifetime: self.range(
                "web.invitation_lifetime",
                raw.invitation_lifetime,
                259_200,
                60,
                2_592_000,
            )?,
        })
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
            values: self.range("acme.values", raw.values, 2, 1, 100)?,
            value_ttl: self.range("acme.value_ttl", raw.value_ttl, 3600, 60, 604_800)?,
            register: raw.register.unwrap_or(false),
            choose_subdomain: raw.choose_subdomain.unwrap_or(false),
            resolver: raw.resolver.as_deref().map(|r| self.socket_addr("acme.resolver", r)).transpose()?,
            register_from,
            max_accounts: self.range("acme.max_accounts", raw.max_accounts, 1000, 0, 1_000_000)?,
            max_accounts_per_network: self.range(
                "acme.max_accounts_per_network",
                raw.max_accounts_per_network,
                10,
                0,
                1_000_000,
            )?,
            wait: raw.wait.unwrap_or(false),
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

    fn expiry_ttl(&self, key: &str, value: Option<impl Into<i64>>) -> Result<u32, ConfigError> {
        let v = self.range(key, value, 3_600, 0, 31_536_000)?;
        if v != 0 && v < 60 {
            return Err(self.invalid(key, format!("must be 0 (never) or at least 60, got `{v}`")));
        }
        Ok(v)
    }

    /// Exactly one of `path` (SQLite), `url` (PostgreSQL or MariaDB), `postgres` and `mariadb`.
    fn database(&self, mut raw: RawDatabase, busy_timeout: Duration) -> Result<DatabaseConfig, ConfigError> {
        let mariadb_url = raw.url.take_if(|u| is_mariadb_url(u));
        if mariadb_url.is_some() || raw.mariadb.is_some() {
            if raw.path.is_some()
                || raw.url.is_some()
                || raw.postgres.is_some()
                || mariadb_url.is_some() == raw.mariadb.is_some()
            {
                return Err(self.invalid("database", ONE_OF));
            }
            let mariadb = match (mariadb_url, raw.mariadb) {
                (Some(url), _) => self.mariadb_url(&url)?,
                (None, Some(table)) => self.mariadb_table(table)?,
                (None, None) => return Err(self.invalid("database", ONE_OF)),
            };
            return Ok(DatabaseConfig { path: PathBuf::new(), busy_timeout, postgres: None, mariadb: Some(mariadb) });
        }
        let (postgres, key) = match (raw.path, raw.url, raw.postgres) {
            (Some(path), None, None) => {
                return Ok(DatabaseConfig { path: self.relative(&path), busy_timeout, postgres: None, mariadb: None });
            }
            (None, Some(url), None) => {
                let tls = split_tls_params(&url).map_err(|m| self.invalid("database.url", m))?;
                // The driver's parse error may quote the URL, which can hold a password.
                let config: postgres::Config = tls.rest.parse().map_err(|_| {
                    self.invalid(
                        "database.url",
                        "is not a PostgreSQL URL (`postgresql://user@host/name`) or a MariaDB URL (`mysql://user@host/name`)",
                    )
                })?;
                let ssl_mode = match tls.sslmode.as_deref() {
                    Some(mode) => self.ssl_mode("database.url", mode)?,
                    // The key=value form, which the driver parsed: it knows the first three.
                    None => match config.get_ssl_mode() {
                        postgres::config::SslMode::Disable => SslMode::Disable,
                        postgres::config::SslMode::Require => SslMode::Require,
                        _ => SslMode::Prefer,
                    },
                };
                let user = config.get_user().unwrap_or("");
                let host = match config.get_hosts().first() {
                    Some(postgres::config::Host::Tcp(h)) => h.clone(),
                    Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
                    None => String::new(),
                };
                let shown = format!("{user}@{host}/{}", config.get_dbname().unwrap_or(""));
                let password_in_url = config.get_password().is_some();
                let ca_file = tls.sslrootcert.map(|p| self.relative(Path::new(&p)));
                (
                    PostgresConfig { config, shown, ssl_mode, ca_file, password_file: None, password_in_url },
                    "database.url",
                )
            }
            (None, None, Some(pg)) => {
                let mut config = postgres::Config::new();
                config.host(&pg.host).dbname(&pg.name).user(&pg.user);
                if let Some(port) = pg.port {
                    config.port(port);
                }
                let password_file = pg.password_file.as_deref().map(|f| self.relative(f));
                if let Some(file) = &password_file {
                    let text = read_bounded(file).map_err(|e| {
                        self.invalid(
                            "database.postgres.password_file",
                            format!("cannot read `{}`: {e}", file.display()),
                        )
                    })?;
                    config.password(text.trim_end_matches(['\r', '\n']));
                }
                let ssl_mode = match pg.sslmode.as_deref() {
                    Some(mode) => self.ssl_mode("database.postgres.sslmode", mode)?,
                    None => SslMode::Prefer,
                };
                let ca_file = pg.ca_file.as_deref().map(|f| self.relative(f));
                let shown = format!("{}@{}/{}", pg.user, pg.host, pg.name);
                let pg = PostgresConfig { config, shown, ssl_mode, ca_file, password_file, password_in_url: false };
                (pg, "database.postgres.sslmode")
            }
            (None, None, None) => {
                return Err(self.invalid(
                    "database",
                    "needs `path` (SQLite), `url` (PostgreSQL or MariaDB), `postgres` or `mariadb`",
                ));
            }
            _ => return Err(self.invalid("database", ONE_OF)),
        };
        // libpq would look for `~/.postgresql/root.crt`; a CGI process has no home to look in.
        if matches!(postgres.ssl_mode, SslMode::VerifyCa | SslMode::VerifyFull) && postgres.ca_file.is_none() {
            let wanted =
                if key == "database.url" { "`sslrootcert=FILE` in the URL" } else { "`database.postgres.ca_file`" };
            return Err(self.invalid(
                key,
                format!(
                    "asks for `{}`, which needs the CA that signed the server's certificate: {wanted}",
                    postgres.ssl_mode.name()
                ),
            ));
        }
        Ok(DatabaseConfig { path: PathBuf::new(), busy_timeout, postgres: Some(postgres), mariadb: None })
    }

    fn ssl_mode(&self, key: &str, mode: &str) -> Result<SslMode, ConfigError> {
        SslMode::parse(mode).ok_or_else(|| {
            let mode: String = mode.chars().take(32).collect();
            self.invalid(
                key,
                format!("has `sslmode` `{mode}`; expected disable, prefer, require, verify-ca or verify-full"),
            )
        })
    }

    pub(super) fn relative(&self, p: &Path) -> PathBuf {
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
