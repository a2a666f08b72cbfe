//! The CNAME check (`GET <path>/check?domain=...`, `ddns-cgi acme check DOMAIN`): asks the
//! recursive resolver `[acme] resolver` for the CNAME of `_acme-challenge.DOMAIN`, as a
//! certificate authority resolves it (RFC 8555 §8.4), and says whether it points to one of
//! the account's challenge names. Misconfigured CNAMEs are the failure acme-dns's users report
//! most. This module only reads DNS; it changes nothing.

use std::time::Duration;

use hickory_proto::rr::Name;
use serde::Serialize;

use crate::config::{AcmeConfig, Config};
use crate::dns::{self, DnsError};
use crate::request::normalize_hostname;
use crate::store::AcmeAccount;

/// What the check found; also the JSON answer.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The domain as checked (lower case, without `*.`).
    pub(crate) domain: String,
    /// `_acme-challenge.<domain>`.
    pub(crate) name: String,
    /// Its CNAME target as the resolver answers it (no trailing dot), or none.
    pub(crate) cname: Option<String>,
    /// The account's challenge names, any of which the CNAME may point to.
    pub(crate) expected: Vec<String>,
    pub(crate) ok: bool,
}

/// Why there is no result.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckError {
    #[error("`[acme] resolver` is not set")]
    NoResolver,
    #[error("`{0}` is not a valid domain name")]
    BadDomain(String),
    #[error("the resolver did not answer: {0}")]
    Dns(#[from] DnsError),
}

/// Checks `domain` (`*.` allowed: its challenges are at the same name) for `account`.
pub(crate) fn check(
    config: &Config,
    acme: &AcmeConfig,
    account: &AcmeAccount,
    domain: &str,
) -> Result<Checked, CheckError> {
    let Some(resolver) = acme.resolver else { return Err(CheckError::NoResolver) };
    let bare = domain.strip_prefix("*.").unwrap_or(domain);
    let domain =
        normalize_hostname(bare).ok_or_else(|| CheckError::BadDomain(crate::log::bounded(domain, 255).into_owned()))?;
    let name = format!("_acme-challenge.{domain}");
    let query = Name::from_ascii(format!("{name}.")).map_err(|_| CheckError::BadDomain(domain.clone()))?;
    // The acme zone's DNS timeout (`dns.timeout_ms`) bounds the wait.
    let timeout = config.zone(&acme.zone).map_or(Duration::from_secs(2), |z| z.timeout);
    let cname = dns::query_cname(resolver, &query, timeout)?
        .map(|target| target.to_ascii().trim_end_matches('.').to_ascii_lowercase());
    let expected: Vec<String> = account.subdomains().map(|s| format!("{s}.{}", acme.zone)).collect();
    let ok = cname.as_ref().is_some_and(|c| expected.contains(c));
    Ok(Checked { domain, name, cname, expected, ok })
}
