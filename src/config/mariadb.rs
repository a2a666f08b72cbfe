//! `[database] url = "mysql://..."` (or `mariadb://`) and `[database.mariadb]`: how to reach
//! MariaDB, validated into a [`MariadbConfig`]. The URL is parsed here, not by the driver:
//! only the parts we apply are accepted (user, password, host, port, database, and the
//! `ssl-mode`, `ssl-ca` and `socket` parameters), so a parameter the driver would act on
//! unseen is refused by name. Messages never quote the URL, which may hold a password.

use std::path::{Path, PathBuf};

use super::ConfigError;
use super::raw::RawMariadb;
use super::validate::Validator;

use crate::secret::Secret;

/// How to reach MariaDB.
#[derive(Clone, Debug)]
pub(crate) struct MariadbConfig {
    pub(crate) server: MariadbServer,
    pub(crate) user: String,
    /// From the URL or `password_file`; `None`: no password (a Unix socket's
    /// `unix_socket` authentication, for one).
    pub(crate) password: Option<Secret<String>>,
    /// The database (MariaDB's schema).
    pub(crate) name: String,
    /// What logs and `check` show: `user@host/name`, never the password.
    pub(crate) shown: String,
    /// Whether and how the session is encrypted (`store::mariadb::tls`).
    pub(crate) ssl_mode: MariadbSslMode,
    /// The CA certificates (PEM) for the verifying modes. Read when a session is opened.
    pub(crate) ca_file: Option<PathBuf>,
    /// `[database.mariadb] password_file`, for `check`.
    pub(crate) password_file: Option<PathBuf>,
    /// Whether `[database] url` holds a password, which makes the config a secret.
    pub(crate) password_in_url: bool,
}

/// Where the server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum MariadbServer {
    Tcp {
        host: String,
        port: u16,
    },
    /// The server's Unix socket file (`/run/mysqld/mysqld.sock` on Debian).
    Socket(PathBuf),
}

/// The port MariaDB listens on unless told otherwise.
pub(crate) const DEFAULT_PORT: u16 = 3306;

/// The MySQL and MariaDB clients' `--ssl-mode`, spelled in lower case with hyphens
/// (`VERIFY_IDENTITY` is accepted as `verify-identity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MariadbSslMode {
    /// Never TLS.
    Disabled,
    /// TLS when the server offers it, plain otherwise; the certificate is not checked.
    Preferred,
    /// TLS or no session; the certificate is not checked.
    Required,
    /// TLS, with the server's certificate chaining to the CA file; any name.
    VerifyCa,
    /// TLS, the chain as `VerifyCa`, and the certificate issued for the host connected to.
    VerifyIdentity,
}

impl MariadbSslMode {
    pub(crate) fn parse(s: &str) -> Option<MariadbSslMode> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "disabled" => Some(MariadbSslMode::Disabled),
            "preferred" => Some(MariadbSslMode::Preferred),
            "required" => Some(MariadbSslMode::Required),
            "verify-ca" => Some(MariadbSslMode::VerifyCa),
            "verify-identity" => Some(MariadbSslMode::VerifyIdentity),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            MariadbSslMode::Disabled => "disabled",
            MariadbSslMode::Preferred => "preferred",
            MariadbSslMode::Required => "required",
            MariadbSslMode::VerifyCa => "verify-ca",
            MariadbSslMode::VerifyIdentity => "verify-identity",
        }
    }

    /// Whether the mode checks the server's certificate, and so needs a CA file.
    pub(crate) fn verifies(self) -> bool {
        matches!(self, MariadbSslMode::VerifyCa | MariadbSslMode::VerifyIdentity)
    }
}

/// The expected values, for messages.
pub(super) const SSL_MODES: &str = "disabled, preferred, required, verify-ca or verify-identity";

/// Whether `url` names MariaDB (`mysql://` or `mariadb://`).
pub(super) fn is_mariadb_url(url: &str) -> bool {
    url.starts_with("mysql://") || url.starts_with("mariadb://")
}

/// The parts of a `mysql://` URL. Errors are messages for `database.url` that quote no part
/// of the URL but a parameter's name or the mode.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ParsedUrl {
    pub(super) server: MariadbServer,
    pub(super) user: String,
    pub(super) password: Option<String>,
    pub(super) name: String,
    pub(super) ssl_mode: Option<String>,
    pub(super) ssl_ca: Option<String>,
}

/// Parses `mysql://user[:password]@host[:port]/name[?ssl-mode=MODE&ssl-ca=FILE&socket=PATH]`.
pub(super) fn parse_url(url: &str) -> Result<ParsedUrl, String> {
    const FORM: &str = "is not a MariaDB URL (`mysql://user[:password]@host[:port]/name`)";
    let rest = url.strip_prefix("mysql://").or_else(|| url.strip_prefix("mariadb://")).ok_or(FORM)?;
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    // The last `@`: a password may hold one, percent-encoded or not.
    let (userinfo, rest) = rest.rsplit_once('@').ok_or("names no user (`mysql://user@host/name`)")?;
    let (authority, name) = rest.split_once('/').ok_or("names no database (`mysql://user@host/name`)")?;
    let (user, password) = match userinfo.split_once(':') {
        Some((u, p)) => (decode(u)?, Some(decode(p)?)),
        None => (decode(userinfo)?, None),
    };
    let name = decode(name)?;
    if user.is_empty() {
        return Err("names no user (`mysql://user@host/name`)".to_owned());
    }
    if name.is_empty() || name.contains('/') {
        return Err("names no database, or more than one path segment (`mysql://user@host/name`)".to_owned());
    }
    let (mut ssl_mode, mut ssl_ca, mut socket) = (None, None, None);
    for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(k)?.as_str() {
            "ssl-mode" | "ssl_mode" | "sslmode" => ssl_mode = Some(decode(v)?),
            "ssl-ca" | "ssl_ca" => ssl_ca = Some(decode(v)?),
            "socket" => socket = Some(decode(v)?),
            name @ ("ssl-cert" | "ssl-key" | "ssl_cert" | "ssl_key") => {
                return Err(format!(
                    "has `{name}`: client certificates are not supported; authenticate with a password"
                ));
            }
            other => {
                let other: String = other.chars().take(32).collect();
                return Err(format!("has the parameter `{other}`; known are `ssl-mode`, `ssl-ca` and `socket`"));
            }
        }
    }
    let server = match socket {
        Some(path) if path.starts_with('/') => MariadbServer::Socket(PathBuf::from(path)),
        Some(_) => return Err("has a `socket` that is not an absolute path".to_owned()),
        None => tcp(authority)?,
    };
    Ok(ParsedUrl { server, user, password, name, ssl_mode, ssl_ca })
}

/// `host[:port]`, `[v6]` or `[v6]:port`.
fn tcp(authority: &str) -> Result<MariadbServer, String> {
    let bad_port = || "has a port that is not a number from 1 to 65535".to_owned();
    let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad_port);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("has an IPv6 address without its closing `]`")?;
        match after.strip_prefix(':') {
            Some(p) => (host.to_owned(), port(p)?),
            None if after.is_empty() => (host.to_owned(), DEFAULT_PORT),
            None => return Err("has something after the IPv6 address".to_owned()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (decode(h)?, port(p)?),
            None => (decode(authority)?, DEFAULT_PORT),
        }
    };
    if host.is_empty() {
        return Err("names no host (`mysql://user@host/name`)".to_owned());
    }
    Ok(MariadbServer::Tcp { host, port })
}

/// `%XX` decoded; the bytes must be UTF-8.
fn decode(s: &str) -> Result<String, String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(std::borrow::Cow::into_owned)
        .map_err(|_| "has a part that is not UTF-8 after percent-decoding".to_owned())
}

/// `host` of `[database.mariadb]`: an absolute path is the server's socket file.
pub(super) fn table_server(host: &str, port: Option<u16>) -> MariadbServer {
    if host.starts_with('/') {
        MariadbServer::Socket(PathBuf::from(host))
    } else {
        MariadbServer::Tcp { host: host.to_owned(), port: port.unwrap_or(DEFAULT_PORT) }
    }
}

/// `user@host/name` for messages.
pub(super) fn shown(user: &str, server: &MariadbServer, name: &str) -> String {
    let host = match server {
        MariadbServer::Tcp { host, .. } => host.clone(),
        MariadbServer::Socket(path) => path.display().to_string(),
    };
    format!("{user}@{host}/{name}")
}

/// The MariaDB forms of `[database]`, validated as the rest of the config.
impl Validator<'_> {
    /// `[database] url = "mysql://..."` (or `mariadb://`).
    pub(super) fn mariadb_url(&self, url: &str) -> Result<MariadbConfig, ConfigError> {
        let key = "database.url";
        let p = parse_url(url).map_err(|m| self.invalid(key, m))?;
        let ssl_mode = self.mariadb_ssl_mode(key, p.ssl_mode.as_deref())?;
        let ca_file = p.ssl_ca.map(|f| self.relative(Path::new(&f)));
        self.mariadb_tls(key, "`ssl-ca=FILE` in the URL", ssl_mode, ca_file.as_ref())?;
        Ok(MariadbConfig {
            shown: shown(&p.user, &p.server, &p.name),
            server: p.server,
            user: p.user,
            password_in_url: p.password.is_some(),
            password: p.password.map(Secret::new),
            name: p.name,
            ssl_mode,
            ca_file,
            password_file: None,
        })
    }

    /// `[database.mariadb]`: the password from `password_file`.
    pub(super) fn mariadb_table(&self, t: RawMariadb) -> Result<MariadbConfig, ConfigError> {
        let server = table_server(&t.host, t.port);
        let password_file = t.password_file.as_deref().map(|f| self.relative(f));
        let password = match &password_file {
            Some(file) => {
                let text = super::read_bounded(file).map_err(|e| {
                    self.invalid("database.mariadb.password_file", format!("cannot read `{}`: {e}", file.display()))
                })?;
                Some(Secret::new(text.trim_end_matches(['\r', '\n']).to_owned()))
            }
            None => None,
        };
        let key = "database.mariadb.ssl_mode";
        let ssl_mode = self.mariadb_ssl_mode(key, t.ssl_mode.as_deref())?;
        let ca_file = t.ca_file.as_deref().map(|f| self.relative(f));
        self.mariadb_tls(key, "`database.mariadb.ca_file`", ssl_mode, ca_file.as_ref())?;
        Ok(MariadbConfig {
            shown: shown(&t.user, &server, &t.name),
            server,
            user: t.user,
            password,
            name: t.name,
            ssl_mode,
            ca_file,
            password_file,
            password_in_url: false,
        })
    }

    /// The mode, `preferred` when absent, as the MySQL and MariaDB clients.
    fn mariadb_ssl_mode(&self, key: &str, mode: Option<&str>) -> Result<MariadbSslMode, ConfigError> {
        let Some(mode) = mode else { return Ok(MariadbSslMode::Preferred) };
        MariadbSslMode::parse(mode).ok_or_else(|| {
            let mode: String = mode.chars().take(32).collect();
            self.invalid(key, format!("has `ssl-mode` `{mode}`; expected {SSL_MODES}"))
        })
    }

    /// A verifying mode needs the CA file: a CGI process has no home or default store to look in.
    fn mariadb_tls(
        &self,
        key: &str,
        wanted: &str,
        mode: MariadbSslMode,
        ca_file: Option<&PathBuf>,
    ) -> Result<(), ConfigError> {
        // The driver always trusts the public web roots beside the CA file: a chain checked
        // without the name would accept any certificate a public CA issued.
        if mode == MariadbSslMode::VerifyCa {
            return Err(self.invalid(
                key,
                "asks for `verify-ca`, which ddns-cgi does not offer on MariaDB (its driver also trusts the public CAs, so a chain without the name would accept any of their certificates); use `verify-identity` with a server certificate that names the host",
            ));
        }
        if mode.verifies() && ca_file.is_none() {
            return Err(self.invalid(
                key,
                format!(
                    "asks for `{}`, which needs the CA that signed the server's certificate: {wanted}",
                    mode.name()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn ok(url: &str) -> ParsedUrl {
        parse_url(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn urls_name_user_password_host_port_and_database() {
        let p = ok("mysql://ddns:p%40ss@db.example:3307/ddns");
        assert_eq!(p.server, MariadbServer::Tcp { host: "db.example".into(), port: 3307 });
        assert_eq!((p.user.as_str(), p.password.as_deref(), p.name.as_str()), ("ddns", Some("p@ss"), "ddns"));
        let p = ok("mariadb://ddns@[::1]/d?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fetc%2Fca.pem");
        assert_eq!(p.server, MariadbServer::Tcp { host: "::1".into(), port: 3306 });
        assert_eq!(p.password, None);
        assert_eq!(p.ssl_mode.as_deref(), Some("VERIFY_IDENTITY"));
        assert_eq!(p.ssl_ca.as_deref(), Some("/etc/ca.pem"));
        // A password with an unencoded `@`: the host is after the last one.
        let p = ok("mysql://u:a@b@127.0.0.1/d?socket=/run/mysqld/mysqld.sock");
        assert_eq!(p.password.as_deref(), Some("a@b"));
        assert_eq!(p.server, MariadbServer::Socket("/run/mysqld/mysqld.sock".into()));
    }

    #[test]
    fn bad_urls_are_refused_without_quoting_them() {
        for (url, want) in [
            ("postgresql://u@h/d", "is not a MariaDB URL"),
            ("mysql://h/d", "names no user"),
            ("mysql://u:secret@h", "names no database"),
            ("mysql://u:secret@h:0/d", "port"),
            ("mysql://u:secret@h:99999/d", "port"),
            ("mysql://u:secret@[::1/d", "closing"),
            ("mysql://u:secret@h/d?compress=true", "`compress`"),
            ("mysql://u:secret@h/d?ssl-key=k", "client certificates"),
            ("mysql://u:secret@h/d?socket=rel", "absolute"),
            ("mysql://u:%FFsecret@h/d", "UTF-8"),
        ] {
            let e = parse_url(url).expect_err(url);
            assert!(e.contains(want) && !e.contains("secret"), "{url}: {e}");
        }
    }

    #[test]
    fn ssl_modes_as_the_mysql_client_spells_them() {
        for mode in [
            MariadbSslMode::Disabled,
            MariadbSslMode::Preferred,
            MariadbSslMode::Required,
            MariadbSslMode::VerifyCa,
            MariadbSslMode::VerifyIdentity,
        ] {
            assert_eq!(MariadbSslMode::parse(mode.name()), Some(mode));
            assert_eq!(MariadbSslMode::parse(&mode.name().to_ascii_uppercase().replace('-', "_")), Some(mode));
        }
        assert_eq!(MariadbSslMode::parse("prefer"), None);
        assert_eq!(MariadbSslMode::parse("verify-full"), None);
    }
}
