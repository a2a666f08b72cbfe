//! The config file as written: serde structs with `deny_unknown_fields`, one per TOML table,
//! turned into the validated types by [`super::validate`].

use std::path::PathBuf;

use serde::Deserialize;

use super::duration::Seconds;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub(super) database: RawDatabase,
    #[serde(default)]
    pub(super) dns: RawDns,
    #[serde(default)]
    pub(super) zones: Vec<RawZone>,
    #[serde(default)]
    pub(super) defaults: RawDefaults,
    #[serde(default)]
    pub(super) rate_limit: RawRateLimit,
    #[serde(default)]
    pub(super) http: RawHttp,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) auth: RawAuth,
    #[serde(default)]
    pub(super) endpoints: Vec<RawEndpoint>,
    #[serde(default)]
    pub(super) email: RawEmail,
    pub(super) acme: Option<RawAcme>,
    #[serde(default)]
    pub(super) relay: RawRelay,
    #[serde(default)]
    pub(super) audit: RawAudit,
    #[serde(default)]
    pub(super) metrics: RawMetrics,
    /// The web console (`web/`); absent: no console.
    pub(super) web: Option<RawWeb>,
    /// The Python ddns-daemon's tables (`compat.rs`).
    pub(super) daemon: Option<RawDaemon>,
    pub(super) dns_service: Option<RawDnsService>,
}

/// The Python ddns-daemon's `[daemon]`: its log and proxy keys mean `[log]` and `[http]`
/// keys here, the listener and TLS keys are ignored with a warning (`compat.rs`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDaemon {
    pub(super) host: Option<String>,
    pub(super) port: Option<i64>,
    pub(super) log_level: Option<String>,
    pub(super) log_target: Option<String>,
    pub(super) syslog_socket: Option<PathBuf>,
    pub(super) syslog_facility: Option<String>,
    pub(super) log_file: Option<PathBuf>,
    pub(super) log_file_size: Option<i64>,
    pub(super) log_versions: Option<i64>,
    pub(super) log_requests: Option<bool>,
    pub(super) ssl: Option<bool>,
    pub(super) ssl_cert_file: Option<PathBuf>,
    pub(super) ssl_key_file: Option<PathBuf>,
    pub(super) proxy_header: Option<String>,
    pub(super) trusted_proxies: Option<Vec<String>>,
}

/// The Python ddns-daemon's `[dns_service]` (dns-manager), ignored with a warning.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDnsService {
    pub(super) manager_config_file: Option<PathBuf>,
    pub(super) cleanup_interval: Option<Seconds>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAudit {
    pub(super) keep_days: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub(super) textfile: Option<PathBuf>,
    pub(super) path: Option<String>,
    #[serde(default)]
    pub(super) allow: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWeb {
    pub(super) path: Option<String>,
    pub(super) url: Option<String>,
    pub(super) session_idle: Option<Seconds>,
    pub(super) session_lifetime: Option<Seconds>,
    pub(super) invitation_lifetime: Option<Seconds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAcme {
    pub(super) zone: String,
    pub(super) path: Option<String>,
    pub(super) ttl: Option<Seconds>,
    pub(super) values: Option<i64>,
    pub(super) value_ttl: Option<Seconds>,
    pub(super) register: Option<bool>,
    pub(super) choose_subdomain: Option<bool>,
    pub(super) resolver: Option<String>,
    #[serde(default)]
    pub(super) register_from: Vec<String>,
    pub(super) max_accounts: Option<i64>,
    pub(super) max_accounts_per_network: Option<i64>,
    pub(super) wait: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRelay {
    pub(super) connect_timeout_ms: Option<i64>,
    pub(super) request_timeout_ms: Option<i64>,
    pub(super) total_timeout_ms: Option<i64>,
    pub(super) ca_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEmail {
    pub(super) enabled: Option<bool>,
    pub(super) transport: Option<String>,
    pub(super) smtp_host: Option<String>,
    pub(super) smtp_port: Option<i64>,
    pub(super) smtp_starttls: Option<bool>,
    pub(super) smtp_username: Option<String>,
    pub(super) smtp_password: Option<String>,
    pub(super) sendmail_command: Option<PathBuf>,
    pub(super) from_address: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDatabase {
    pub(super) path: Option<PathBuf>,
    pub(super) busy_timeout_ms: Option<u64>,
    pub(super) url: Option<String>,
    pub(super) postgres: Option<RawPostgres>,
    pub(super) mariadb: Option<RawMariadb>,
    /// The Python ddns-daemon's `sqlite` or `mariadb` (`compat.rs`).
    pub(super) backend: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPostgres {
    /// A host name, an address, or a directory holding the server's Unix socket.
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) name: String,
    pub(super) user: String,
    pub(super) password_file: Option<PathBuf>,
    /// libpq's `sslmode`: `disable`, `prefer` (the default), `require`, `verify-ca`, `verify-full`.
    pub(super) sslmode: Option<String>,
    /// The CA certificates (PEM) for `verify-ca` and `verify-full` (libpq's `sslrootcert`).
    pub(super) ca_file: Option<PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMariadb {
    /// A host name, an address, or the path of the server's Unix socket file.
    pub(super) host: String,
    pub(super) port: Option<u16>,
    pub(super) name: String,
    pub(super) user: String,
    pub(super) password_file: Option<PathBuf>,
    /// The MySQL client's `--ssl-mode`: `disabled`, `preferred` (the default), `required`,
    /// `verify-ca`, `verify-identity`.
    pub(super) ssl_mode: Option<String>,
    /// The CA certificates (PEM) for `verify-ca` and `verify-identity` (the client's `--ssl-ca`).
    pub(super) ca_file: Option<PathBuf>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDns {
    pub(super) server: Option<String>,
    pub(super) timeout_ms: Option<u64>,
    pub(super) tsig_key: Option<String>,
    pub(super) tsig_key_file: Option<PathBuf>,
    pub(super) confirm: Option<Vec<String>>,
    pub(super) confirm_timeout_ms: Option<u64>,
    pub(super) resolver: Option<String>,
    pub(super) confirm_wait: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawZone {
    pub(super) name: String,
    pub(super) server: Option<String>,
    pub(super) tsig_key: Option<String>,
    pub(super) tsig_key_file: Option<PathBuf>,
    pub(super) confirm: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) dns_ttl: Option<Seconds>,
    pub(super) expiry_ttl: Option<Seconds>,
    pub(super) min_dns_ttl: Option<Seconds>,
    pub(super) max_dns_ttl: Option<Seconds>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    pub(super) enabled: Option<bool>,
    pub(super) good_window_seconds: Option<Seconds>,
    pub(super) good_max_requests: Option<i64>,
    pub(super) bad_window_seconds: Option<Seconds>,
    pub(super) bad_max_requests: Option<i64>,
    pub(super) ipv6_prefix: Option<i64>,
    /// The Python ddns-daemon's pruning interval, ignored with a warning (`compat.rs`).
    pub(super) cleanup_interval: Option<Seconds>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
    pub(super) proxy_header: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) level: Option<String>,
    pub(super) log_requests: Option<bool>,
    pub(super) target: Option<String>,
    pub(super) syslog_socket: Option<PathBuf>,
    pub(super) syslog_facility: Option<String>,
    pub(super) log_file: Option<PathBuf>,
    pub(super) stderr_level: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    pub(super) argon2_m_kib: Option<i64>,
    pub(super) argon2_t: Option<i64>,
    pub(super) argon2_p: Option<i64>,
    pub(super) cache_seconds: Option<Seconds>,
    pub(super) cache_entries: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEndpoint {
    pub(super) path: String,
    pub(super) action: Option<String>,
    pub(super) api: Option<String>,
    pub(super) absent: Option<String>,
    #[serde(default)]
    pub(super) params: RawParams,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParams {
    pub(super) hostname: Option<Vec<String>>,
    pub(super) address: Option<Vec<String>>,
    pub(super) ipv4: Option<Vec<String>>,
    pub(super) ipv6: Option<Vec<String>>,
    pub(super) ipv6_prefix: Option<Vec<String>>,
    pub(super) username: Option<Vec<String>>,
    pub(super) password: Option<Vec<String>>,
}

impl RawParams {
    /// Whether any parameter name is configured.
    pub(super) fn is_set(&self) -> bool {
        let RawParams { hostname, address, ipv4, ipv6, ipv6_prefix, username, password } = self;
        [hostname, address, ipv4, ipv6, ipv6_prefix, username, password].iter().any(|l| l.is_some())
    }
}
