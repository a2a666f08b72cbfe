//! Opening a session with TLS as libpq's `sslmode` asks (PostgreSQL documentation, "SSL
//! Support", table "SSL Mode Descriptions"), on rustls with the `ring` provider the rest of
//! the program already links, through `tokio-postgres-rustls` (which also gives the driver
//! the `tls-server-end-point` channel binding for SCRAM-SHA-256-PLUS, RFC 5929 §4). The
//! rustls configuration is built here, for each session that will try TLS, and nowhere
//! else: a CGI request on SQLite, or on PostgreSQL over a Unix socket or with `disable`,
//! never builds one. This module does not decide what the modes mean for the config
//! (`config::validate` does: a verifying mode without a CA file never gets here).

use std::sync::Arc;

use postgres::config::{Host, SslMode as DriverMode};
use postgres::{Client, NoTls};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{PostgresConfig, SslMode};
use crate::store::StoreError;

/// Connects with `config` (the driver's, with our session options set) as `pg.ssl_mode` asks.
pub(super) fn connect(pg: &PostgresConfig, mut config: postgres::Config) -> Result<Client, StoreError> {
    let failed = |source| StoreError::Connect { shown: pg.shown.clone(), source };
    // libpq never uses TLS over a Unix socket, whatever `sslmode` says: the bytes do not
    // leave the kernel, and the server would not offer it there.
    let local = config.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)));
    let verify = match (pg.ssl_mode, &pg.ca_file) {
        (_, _) if local => None,
        (SslMode::Disable, _) => None,
        // libpq's `prefer` never verifies: it would fall back to plain text anyway.
        (SslMode::Prefer, _) | (SslMode::Require, None) => Some(Verify::Nothing),
        // `require` with a root certificate is `verify-ca`, as libpq keeps it.
        (SslMode::Require | SslMode::VerifyCa, Some(ca)) => Some(Verify::Chain(roots(pg, ca)?)),
        (SslMode::VerifyFull, Some(ca)) => Some(Verify::ChainAndName(roots(pg, ca)?)),
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(tls_error(pg, format!("`{}` needs a CA file", pg.ssl_mode.name())));
        }
    };
    let Some(verify) = verify else {
        config.ssl_mode(DriverMode::Disable);
        return config.connect(NoTls).map_err(failed);
    };
    let tls = MakeRustlsConnect::new(client_config(pg, verify)?);
    if pg.ssl_mode != SslMode::Prefer {
        config.ssl_mode(DriverMode::Require);
        return config.connect(tls).map_err(failed);
    }
    // `prefer`: the driver already goes on in plain text when the server answers that it has
    // no TLS; libpq also starts over in plain text when the TLS handshake itself fails.
    config.ssl_mode(DriverMode::Prefer);
    match config.connect(tls) {
        Err(e) if handshake_failed(&e) => {
            config.ssl_mode(DriverMode::Disable);
            config.connect(NoTls).map_err(failed)
        }
        other => other.map_err(failed),
    }
}

fn tls_error(pg: &PostgresConfig, message: String) -> StoreError {
    StoreError::Tls { shown: pg.shown.clone(), message }
}

/// Whether the driver's error is rustls refusing the handshake (as opposed to the network
/// or the server's answer): rustls' error arrives wrapped in an `io::Error`, whose `source`
/// skips the wrapped error, so both levels are looked at.
fn handshake_failed(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let wrapped = s.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
        if s.is::<rustls::Error>() || wrapped.is_some_and(|w| w.is::<rustls::Error>()) {
            return true;
        }
        source = s.source();
    }
    false
}

/// What the client checks of the server's certificate.
enum Verify {
    /// Nothing (`prefer`, `require`): the session is encrypted, against a passive listener.
    Nothing,
    /// That it chains to one of these roots (`verify-ca`).
    Chain(RootCertStore),
    /// The chain, and that it names the host connected to (`verify-full`).
    ChainAndName(RootCertStore),
}

/// The CA certificates in `path` (PEM).
fn roots(pg: &PostgresConfig, path: &std::path::Path) -> Result<RootCertStore, StoreError> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| tls_error(pg, format!("cannot read CA file `{shown}`: {e}")))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| tls_error(pg, format!("CA file `{shown}`: {e}")))?;
        roots.add(cert).map_err(|e| tls_error(pg, format!("CA file `{shown}`: {e}")))?;
    }
    if roots.is_empty() {
        return Err(tls_error(pg, format!("CA file `{shown}` holds no PEM certificate")));
    }
    Ok(roots)
}

fn client_config(pg: &PostgresConfig, verify: Verify) -> Result<rustls::ClientConfig, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(NameNotChecked { roots: None, provider: provider.clone() }),
        Verify::Chain(roots) => Arc::new(NameNotChecked { roots: Some(roots), provider: provider.clone() }),
        Verify::ChainAndName(roots) => WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| tls_error(pg, e.to_string()))?,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(pg, e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(config)
}

/// The server's certificate as `prefer`/`require` (`roots: None`: any certificate) and
/// `verify-ca` (the chain to these roots: validity dates, CA constraints, signatures, with
/// rustls' own path validation; not the name) check it. Either way the handshake's signatures
/// are checked against the certificate: that is what makes the key exchange the server's.
#[derive(Debug)]
struct NameNotChecked {
    roots: Option<RootCertStore>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for NameNotChecked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(roots) = &self.roots {
            let cert = ParsedCertificate::try_from(end_entity)?;
            rustls::client::verify_server_cert_signed_by_trust_anchor(
                &cert,
                roots,
                intermediates,
                now,
                self.provider.signature_verification_algorithms.all,
            )?;
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}
