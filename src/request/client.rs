//! The client's address: `REMOTE_ADDR`, or the configured proxy header when `REMOTE_ADDR` is a
//! trusted proxy, and what to do when that header is missing or broken.

use std::net::IpAddr;

use crate::config::Config;

use super::{Env, MAX_HEADER_BYTES};

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
    pub(super) fn publishable(self) -> Result<IpAddr, &'static str> {
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
pub(super) fn client_address(env: &Env, config: &Config) -> ClientAddress {
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
