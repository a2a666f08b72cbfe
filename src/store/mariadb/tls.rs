//! Opening a session with TLS as `ssl_mode` asks (the MySQL and MariaDB clients' `--ssl-mode`),
//! on the driver's rustls with the `ring` provider the rest of the program already links.
//! Nothing TLS is set up for a session that will not use it: over a Unix socket the driver
//! never starts TLS, whatever the mode says (the bytes do not leave the kernel).
//!
//! What the driver cannot do: it always trusts Mozilla's root certificates (webpki-roots)
//! beside the CA file. With the name checked (`verify-identity`) that is what any TLS client
//! does; without it, any certificate of a public CA would pass, so `verify-ca` is refused
//! here, with what to use instead (see docs/design/mariadb.md, "TLS").

use std::time::Duration;

use mysql::consts::CapabilityFlags;
use mysql::{Conn, OptsBuilder, SslOpts};

use super::{Store, col, first};
use crate::config::{MariadbConfig, MariadbServer, MariadbSslMode};
use crate::store::StoreError;

/// The packet size the driver would otherwise ask the server for (`SELECT
/// @@max_allowed_packet`, a round trip at every connect): MariaDB's smallest default, far
/// above any statement of ours.
const MAX_PACKET: usize = 4 << 20;

/// What `check` learns from one session.
#[derive(Debug)]
pub(crate) struct Probe {
    /// The stored schema version (0: none yet).
    pub(crate) version: i64,
    /// The TLS protocol version when the session is encrypted (`TLSv1.3`), `None` when not.
    pub(crate) tls: Option<String>,
}

impl Store {
    /// The schema version, read without migrating (`ddns-cgi check` changes nothing), and
    /// whether the session is encrypted, as the server sees it.
    pub(crate) fn probe(config: &MariadbConfig, busy_timeout: Duration) -> Result<Probe, StoreError> {
        let (store, version) = Store::connect(config, busy_timeout)?;
        let row = first(&mut *store.c(), "SHOW SESSION STATUS LIKE 'Ssl_version'")?;
        let tls = match row {
            Some(r) => Some(col::<String>(&r, 1, "SHOW SESSION STATUS LIKE 'Ssl_version'")?),
            None => None,
        };
        Ok(Probe { version, tls: tls.filter(|v| !v.is_empty()) })
    }
}

/// Connects as `config.ssl_mode` asks.
pub(super) fn connect(config: &MariadbConfig, busy_timeout: Duration) -> Result<Conn, StoreError> {
    let failed = |source| StoreError::MariadbConnect { shown: config.shown.clone(), source };
    let ssl = match config.ssl_mode {
        MariadbSslMode::Disabled => None,
        // Encrypted against a passive listener; the certificate is not checked.
        MariadbSslMode::Preferred | MariadbSslMode::Required => {
            Some(SslOpts::default().with_danger_accept_invalid_certs(true))
        }
        MariadbSslMode::VerifyCa => {
            return Err(StoreError::MariadbTls {
                shown: config.shown.clone(),
                message: "`verify-ca` is not offered on mariadb (the driver would also accept any certificate of a public CA); use `verify-identity` with a certificate that names the host".to_owned(),
            });
        }
        MariadbSslMode::VerifyIdentity => {
            let Some(ca) = &config.ca_file else {
                return Err(StoreError::MariadbTls {
                    shown: config.shown.clone(),
                    message: "`verify-identity` needs a CA file".to_owned(),
                });
            };
            // The driver reads the file at connect and says little when it cannot: check first.
            check_ca_file(config, ca)?;
            Some(SslOpts::default().with_root_cert_path(Some(ca.clone())))
        }
    };
    let preferred = config.ssl_mode == MariadbSslMode::Preferred;
    match Conn::new(opts(config, busy_timeout, ssl)) {
        // `preferred`: plain text when the server has no TLS, or the handshake fails.
        Err(e) if preferred && tls_failed(&e) => Conn::new(opts(config, busy_timeout, None)).map_err(failed),
        other => other.map_err(failed),
    }
}

fn opts(config: &MariadbConfig, busy_timeout: Duration, ssl: Option<SslOpts>) -> OptsBuilder {
    let builder = OptsBuilder::new()
        .user(Some(&config.user))
        .pass(config.password.as_ref().map(|p| p.expose().clone()))
        .db_name(Some(&config.name))
        // Not a second connection to the socket the server names (another round trip, and a
        // session the operator did not configure).
        .prefer_socket(false)
        .max_allowed_packet(Some(MAX_PACKET))
        // An `UPDATE` counts the rows it matched, as SQLite and PostgreSQL do, not only those
        // whose values changed: `set_email` to the same address still finds its user.
        .additional_capabilities(CapabilityFlags::CLIENT_FOUND_ROWS)
        .tcp_connect_timeout(Some(busy_timeout))
        // A server that stops answering fails the request instead of hanging it.
        .read_timeout(Some(busy_timeout.saturating_mul(7)))
        .write_timeout(Some(busy_timeout.saturating_mul(7)))
        .ssl_opts(ssl);
    match &config.server {
        MariadbServer::Tcp { host, port } => builder.ip_or_hostname(Some(host)).tcp_port(*port),
        MariadbServer::Socket(path) => builder.socket(Some(path.display().to_string())),
    }
}

/// Whether the error is the server offering no TLS, or the TLS handshake failing.
fn tls_failed(e: &mysql::Error) -> bool {
    matches!(e, mysql::Error::TlsError(_) | mysql::Error::DriverError(mysql::DriverError::TlsNotSupported))
}

fn check_ca_file(config: &MariadbConfig, path: &std::path::Path) -> Result<(), StoreError> {
    let shown = path.display();
    let error = |message| StoreError::MariadbTls { shown: config.shown.clone(), message };
    let pem = std::fs::read(path).map_err(|e| error(format!("cannot read CA file `{shown}`: {e}")))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(error(format!("CA file `{shown}` holds no PEM certificate")));
    }
    Ok(())
}
