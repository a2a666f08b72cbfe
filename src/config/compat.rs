//! The Python ddns-daemon's config file, accepted as it is. Its keys that mean a ddns-cgi key
//! (`[daemon] log_level` is `[log] level`, and so on) are moved to that key before
//! validation; its keys ddns-cgi has no use for are dropped with a warning that names what
//! replaces each. This module does not touch keys the daemon does not have: anything else
//! unknown is still refused by serde.

use super::ConfigError;
use super::raw::{RawConfig, RawDaemon};
use super::validate::Validator;

/// What became of one of the daemon's keys.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fate {
    /// It means this ddns-cgi key, with the same values and default.
    Same(&'static str),
    /// It is ignored; the text says what does its work here.
    Ignored(&'static str),
    /// It is checked and has no other effect; the text says what it allows.
    Checked(&'static str),
}

const WEB_SERVER: &str = "ddns-cgi does not listen itself, the web server in front of it does (nginx or Apache; the book's \"Web servers\" chapter)";
const TLS: &str = "TLS is the web server's (nginx or Apache), in front of ddns-cgi";
const ROTATION: &str = "logrotate rotates `log_file` (contrib/logrotate/ddns-cgi)";
const ZONES: &str = "ddns-cgi updates the zones listed under `[[zones]]` itself, by RFC 2136 to `[dns] server` signed with `[dns] tsig_key`, without dns-manager";
const EXPIRY: &str =
    "`ddns-cgi expire`, run every minute by the expiry timer (or cron), removes the records of expired hostnames";
const PRUNING: &str = "`ddns-cgi expire`, run every minute by the expiry timer (or cron), prunes the rate-limit counts";

/// Every key of the daemon's config (its README's example) that ddns-cgi does not have under
/// the same name, and its fate; the manual lists them from here.
pub(crate) const DAEMON_KEYS: &[(&str, Fate)] = &[
    ("daemon.host", Fate::Ignored(WEB_SERVER)),
    ("daemon.port", Fate::Ignored(WEB_SERVER)),
    ("daemon.log_level", Fate::Same("log.level")),
    ("daemon.log_target", Fate::Same("log.target")),
    ("daemon.syslog_socket", Fate::Same("log.syslog_socket")),
    ("daemon.syslog_facility", Fate::Same("log.syslog_facility")),
    ("daemon.log_file", Fate::Same("log.log_file")),
    ("daemon.log_file_size", Fate::Ignored(ROTATION)),
    ("daemon.log_versions", Fate::Ignored(ROTATION)),
    ("daemon.log_requests", Fate::Same("log.log_requests")),
    ("daemon.ssl", Fate::Ignored(TLS)),
    ("daemon.ssl_cert_file", Fate::Ignored(TLS)),
    ("daemon.ssl_key_file", Fate::Ignored(TLS)),
    ("daemon.proxy_header", Fate::Same("http.proxy_header")),
    ("daemon.trusted_proxies", Fate::Same("http.trusted_proxies")),
    (
        "database.backend",
        Fate::Checked(
            "`sqlite`, which `path` already says, or `mariadb`, which `url = \"mysql://...\"` or `[database.mariadb]` already says",
        ),
    ),
    ("dns_service", Fate::Ignored(ZONES)),
    ("dns_service.manager_config_file", Fate::Ignored(ZONES)),
    ("dns_service.cleanup_interval", Fate::Ignored(EXPIRY)),
    ("rate_limit.cleanup_interval", Fate::Ignored(PRUNING)),
];

/// The warning for an ignored key.
fn ignored(key: &str) -> String {
    let why = DAEMON_KEYS.iter().find_map(|(k, fate)| match fate {
        Fate::Ignored(why) if *k == key => Some(*why),
        _ => None,
    });
    format!("`{key}` is the Python ddns-daemon's and is ignored: {}", why.unwrap_or("ddns-cgi has no use for it"))
}

/// Moves the daemon's keys that mean ddns-cgi keys to those keys, and returns one warning per
/// key that is ignored. A key given both ways is an error: which one wins would be a guess.
pub(super) fn fold_daemon(v: &Validator<'_>, raw: &mut RawConfig) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    let from_daemon = raw.daemon.is_some() || raw.dns_service.is_some();
    if let Some(d) = raw.daemon.take() {
        fold_daemon_table(v, raw, d, &mut warnings)?;
    }
    if let Some(s) = raw.dns_service.take() {
        warnings.push(ignored(if s.manager_config_file.is_some() {
            "dns_service.manager_config_file"
        } else {
            "dns_service"
        }));
        if s.cleanup_interval.is_some() {
            warnings.push(ignored("dns_service.cleanup_interval"));
        }
    }
    if raw.rate_limit.cleanup_interval.take().is_some() {
        warnings.push(ignored("rate_limit.cleanup_interval"));
    }
    match raw.database.backend.take().as_deref() {
        None => {}
        Some("sqlite")
            if raw.database.url.is_none() && raw.database.postgres.is_none() && raw.database.mariadb.is_none() => {}
        Some("sqlite") => {
            return Err(v.invalid(
                "database.backend",
                "is `sqlite`, which contradicts `database.url`, `postgres` or `mariadb`",
            ));
        }
        Some("mariadb")
            if raw.database.mariadb.is_some()
                || raw.database.url.as_deref().is_some_and(super::mariadb::is_mariadb_url) => {}
        Some("mariadb") => {
            return Err(v.invalid(
                "database.backend",
                "is `mariadb`: say where it is with `database.url = \"mysql://user@host/name\"` or a `[database.mariadb]` table (`host`, `name`, `user`, `password_file`)",
            ));
        }
        Some(other) => {
            return Err(v.invalid(
                "database.backend",
                format!("must be `sqlite` or `mariadb`, got `{}`", other.escape_debug()),
            ));
        }
    }
    // The daemon finds its zones through dns-manager; ddns-cgi needs them named here.
    if from_daemon && raw.zones.is_empty() {
        return Err(v.invalid(
            "zones",
            "must list at least one `[[zones]]` entry: the Python ddns-daemon's zones came from dns-manager; add `[[zones]]` with `name = \"dyn.example.com\"` for each zone, and under `[dns]` the `server` that accepts its updates and the `tsig_key` (or `tsig_key_file`) that signs them",
        ));
    }
    Ok(warnings)
}

fn fold_daemon_table(
    v: &Validator<'_>,
    raw: &mut RawConfig,
    d: RawDaemon,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let ignored_keys = [
        ("daemon.host", d.host.is_some()),
        ("daemon.port", d.port.is_some()),
        ("daemon.log_file_size", d.log_file_size.is_some()),
        ("daemon.log_versions", d.log_versions.is_some()),
        ("daemon.ssl", d.ssl.is_some()),
        ("daemon.ssl_cert_file", d.ssl_cert_file.is_some()),
        ("daemon.ssl_key_file", d.ssl_key_file.is_some()),
    ];
    warnings.extend(ignored_keys.iter().filter(|(_, set)| *set).map(|(key, _)| ignored(key)));

    // The daemon writes its log to stdout; here stdout carries the CGI answer, and stderr
    // goes where the daemon's stdout went under systemd: the service's log.
    let log_target = d.log_target.map(|t| if t.eq_ignore_ascii_case("stdout") { "stderr".to_owned() } else { t });
    let log = &mut raw.log;
    same(v, "daemon.log_level", d.log_level, &mut log.level)?;
    same(v, "daemon.log_target", log_target, &mut log.target)?;
    same(v, "daemon.syslog_socket", d.syslog_socket, &mut log.syslog_socket)?;
    same(v, "daemon.syslog_facility", d.syslog_facility, &mut log.syslog_facility)?;
    same(v, "daemon.log_file", d.log_file, &mut log.log_file)?;
    same(v, "daemon.log_requests", d.log_requests, &mut log.log_requests)?;
    same(v, "daemon.proxy_header", d.proxy_header, &mut raw.http.proxy_header)?;
    if let Some(list) = d.trusted_proxies {
        if !raw.http.trusted_proxies.is_empty() {
            return Err(both(v, "daemon.trusted_proxies"));
        }
        raw.http.trusted_proxies = list;
    }
    Ok(())
}

/// Puts the daemon's `value` into the ddns-cgi key `slot`, unless that is set too.
fn same<T>(v: &Validator<'_>, key: &str, value: Option<T>, slot: &mut Option<T>) -> Result<(), ConfigError> {
    let Some(value) = value else { return Ok(()) };
    if slot.is_some() {
        return Err(both(v, key));
    }
    *slot = Some(value);
    Ok(())
}

fn both(v: &Validator<'_>, key: &str) -> ConfigError {
    let other = DAEMON_KEYS.iter().find_map(|(k, fate)| match fate {
        Fate::Same(other) if *k == key => Some(*other),
        _ => None,
    });
    v.invalid(key, format!("is also set as `{}`; keep one of the two", other.unwrap_or("?")))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Config, Level, LogTarget};

    /// The example config of the Python ddns-daemon's README, verbatim.
    const DAEMON_EXAMPLE: &str = include_str!("../../tests/fixtures/ddns-daemon.toml");
    /// What ddns-cgi needs that the daemon's file cannot say: a zone and the key for it.
    const ZONE: &str = "[dns]\ntsig_key = \"hmac-sha256:ddns-key.:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\"\n[[zones]]\nname = \"dyn.example.com\"\n";
    const PATH: &str = "/etc/ddns-daemon/config.toml";

    fn load(text: &str) -> Result<Config, String> {
        Config::from_toml(Path::new(PATH), text).map_err(|e| e.to_string())
    }

    fn ignored(key: &str) -> String {
        super::ignored(key)
    }

    /// The daemon's example with every commented-out key set to its documented default.
    fn every_key_set() -> String {
        DAEMON_EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest) if rest.contains(" = ") => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn the_daemon_example_alone_says_what_to_add() {
        let err = load(DAEMON_EXAMPLE).expect_err("no zone");
        assert_eq!(
            err,
            format!(
                "`zones` must list at least one `[[zones]]` entry: the Python ddns-daemon's zones came from dns-manager; add `[[zones]]` with `name = \"dyn.example.com\"` for each zone, and under `[dns]` the `server` that accepts its updates and the `tsig_key` (or `tsig_key_file`) that signs them (in {PATH})"
            )
        );
    }

    #[test]
    fn the_daemon_example_loads_with_a_warning_per_ignored_key() {
        let c = load(&format!("{DAEMON_EXAMPLE}{ZONE}")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            c.warnings,
            [ignored("daemon.ssl_cert_file"), ignored("daemon.ssl_key_file"), ignored("dns_service")]
        );
        assert_eq!(
            c.warnings[0],
            "`daemon.ssl_cert_file` is the Python ddns-daemon's and is ignored: TLS is the web server's (nginx or Apache), in front of ddns-cgi"
        );
        assert!(c.warnings[2].contains("`[[zones]]`"), "{}", c.warnings[2]);
        // The keys it shares keep their meaning.
        assert_eq!(c.database.path, Path::new("/var/lib/ddns-daemon/ddns.db"));
        assert_eq!(c.email.from_address, "ddns@example.com");
        assert!(!c.email.enabled);
        assert_eq!((c.defaults.dns_ttl, c.defaults.expiry_ttl), (60, 3_600));
        let paths: Vec<&str> = c.endpoints.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/update", "/nic/update"]);
        let p = &c.endpoints[0].params;
        assert_eq!((p.ipv4.join(","), p.ipv6.join(",")), ("myip,ipv4,ip4".to_owned(), "myip6,ipv6,ip6".to_owned()));
        assert!(p.address.is_empty(), "the daemon's `myip` is IPv4 only");
        assert_eq!(p.password.join(","), "password,pass,token");
    }

    /// Every key of the example, set to the default its comment documents, changes nothing
    /// but the warnings: the daemon's defaults are ddns-cgi's.
    #[test]
    fn every_daemon_key_is_accepted_and_its_defaults_are_ours() {
        let plain = load(&format!("{DAEMON_EXAMPLE}{ZONE}")).unwrap_or_else(|e| panic!("{e}"));
        let full = load(&format!("{}{ZONE}", every_key_set())).unwrap_or_else(|e| panic!("{e}"));
        let ignored_keys = [
            "daemon.host",
            "daemon.port",
            "daemon.log_file_size",
            "daemon.log_versions",
            "daemon.ssl",
            "daemon.ssl_cert_file",
            "daemon.ssl_key_file",
            "dns_service.manager_config_file",
            "dns_service.cleanup_interval",
            "rate_limit.cleanup_interval",
        ];
        assert_eq!(full.warnings, ignored_keys.map(ignored));
        let without_warnings = |c: Config| format!("{:?}", Config { warnings: Vec::new(), ..c });
        assert_eq!(without_warnings(full), without_warnings(plain));
    }

    #[test]
    fn shared_daemon_keys_mean_ours() {
        let c = load(&format!(
            "[daemon]\nlog_level = \"DEBUG\"\nlog_target = \"syslog\"\nsyslog_facility = \"local3\"\nlog_requests = true\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n[database]\nbackend = \"sqlite\"\npath = \"ddns.db\"\n[dns_service]\ncleanup_interval = \"5m\"\n{ZONE}"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.log.level, c.log.log_requests), (Level::Debug, true));
        assert_eq!(c.log.target, LogTarget::Syslog { socket: "/dev/log".into(), facility: 19 });
        assert_eq!(c.http.proxy_header.as_deref(), Some("HTTP_X_FORWARDED_FOR"));
        assert_eq!(c.http.trusted_proxies.len(), 1);
        assert_eq!(c.warnings, [ignored("dns_service"), ignored("dns_service.cleanup_interval")]);
        let c = load(&format!("[daemon]\nlog_target = \"stdout\"\n[database]\npath = \"ddns.db\"\n{ZONE}"));
        assert_eq!(c.map(|c| c.log.target), Ok(LogTarget::Stderr));
        let c = load(&format!(
            "[daemon]\nlog_target = \"file\"\nlog_file = \"/var/log/d.log\"\n[database]\npath = \"d.db\"\n{ZONE}"
        ));
        assert_eq!(c.map(|c| c.log.target), Ok(LogTarget::File { path: "/var/log/d.log".into() }));
    }

    #[test]
    fn what_the_daemon_has_that_we_cannot_do_is_refused() {
        let with = |extra: &str| load(&format!("[database]\npath = \"ddns.db\"\n{extra}{ZONE}")).map(|_| ());
        assert_eq!(
            load(&format!("[database]\nbackend = \"mariadb\"\npath = \"x\"\n{ZONE}")).map(|_| ()),
            Err(format!(
                "`database.backend` is `mariadb`: say where it is with `database.url = \"mysql://user@host/name\"` or a `[database.mariadb]` table (`host`, `name`, `user`, `password_file`) (in {PATH})"
            ))
        );
        let mariadb = load(&format!("[database]\nbackend = \"mariadb\"\nurl = \"mysql://d@h/d\"\n{ZONE}"));
        assert_eq!(mariadb.map(|c| c.database.mariadb.map(|m| m.shown)), Ok(Some("d@h/d".to_owned())));
        assert_eq!(
            with("[daemon]\nlog_level = \"debug\"\n[log]\nlevel = \"info\"\n"),
            Err(format!("`daemon.log_level` is also set as `log.level`; keep one of the two (in {PATH})"))
        );
        assert_eq!(
            with("[daemon]\ntrusted_proxies = []\n[http]\ntrusted_proxies = [\"::1\"]\n"),
            Err(format!(
                "`daemon.trusted_proxies` is also set as `http.trusted_proxies`; keep one of the two (in {PATH})"
            ))
        );
        // A bad value in a shared key is reported under the key it means.
        let err = with("[daemon]\nlog_level = \"loud\"\n").expect_err("bad level");
        assert!(err.starts_with("`log.level` must be debug, info, warning or error, got `loud`"), "{err}");
        // A key neither system has is still unknown.
        let err = with("[daemon]\nworkers = 4\n").expect_err("unknown key");
        assert!(err.contains("unknown field `workers`"), "{err}");
        let err = with("[dns_service]\ncleanup_interval = \"soon\"\n").expect_err("bad duration");
        assert!(err.contains("`dns_service.cleanup_interval`"), "{err}");
    }
}
