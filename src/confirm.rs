//! Read-back after an update (`[dns] confirm`, or a zone's own `confirm`): an update answers
//! `good` only once the listed servers, the public secondaries of a hidden primary, serve the
//! change, so a client that queries right after its answer sees its new address. The
//! secondaries learn of the change by NOTIFY (RFC 1996) and fetch it by IXFR (RFC 1995); this
//! module only watches their SOA serial, it never talks to them otherwise. The wait is bounded
//! (`confirm_timeout_ms`): when it runs out the answer is `good` anyway, since the change is
//! committed on the primary and the secondaries will fetch it, and each lagging server is
//! logged (the log line carries the request's transaction id). It does not touch the
//! database and runs after the host's lock is released, so a slow secondary delays only the
//! request that waits for it.
//!
//! Which serial holds the change: an UPDATE answer carries no SOA (RFC 2136 §3.8 echoes the
//! zone section only), so right after NOERROR we ask the primary for its serial. The primary
//! commits the change and raises the serial (RFC 2136 §3.6) before it answers, and serials
//! only grow, so the serial read then is that of a version holding the change, or a later
//! one; a server that serves it or a newer serial (RFC 1982 arithmetic) has the change.
//! Comparing against a serial read before the update would not be sound: an update through
//! another front-end could raise the serial in between, and a secondary at that serial
//! would not yet have ours.
//!
//! A primary that signs inline (BIND's `inline-signing yes`) breaks "commits before it
//! answers" for what it serves: it applies the UPDATE to the unsigned zone, answers, and
//! copies the change into the signed zone, the one it serves and transfers, a moment later
//! under a serial of its own; the serial read at once can be the signed zone's old one. So
//! before reading the serial we wait until the primary itself serves each changed host's new
//! addresses (the families the answer names): the serial read after that is of a signed
//! version holding them. A TXT-only or offline change names no address and is not watched
//! this way; a later change of the same host before we look makes the wait run out, logged.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_proto::rr::{Name, RecordType};

use crate::config::{Config, Zone};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::reply::{HostAnswer, HostLine};
use crate::request::Addresses;

/// The first pause between two rounds of SOA queries; it doubles up to [`MAX_PAUSE`]. A
/// secondary on the same network fetches an IXFR in a few milliseconds after the NOTIFY.
const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_millis(200);
/// The longest one SOA query may wait, so a silent server does not use the whole bound at
/// once while the others could still be asked.
const MAX_QUERY: Duration = Duration::from_millis(500);

/// Waits, within each zone's `confirm_timeout`, until the zone's `confirm` servers serve the
/// changes of `lines` (the hosts answered `good`). Returns at once when no changed zone lists
/// any server. Never fails: what it could not confirm is logged, the answers stand.
pub(crate) fn published(config: &Config, lines: &[HostLine], log: &Log) {
    let started = Instant::now();
    // Each zone with read-back, and its changed hosts with the addresses they now have.
    let mut zones: Vec<(&Zone, Vec<(Name, Addresses)>)> = Vec::new();
    for line in lines {
        let addresses = match &line.answer {
            HostAnswer::Good(addresses) => addresses,
            HostAnswer::Nochg(_)
            | HostAnswer::Nohost
            | HostAnswer::Notfqdn
            | HostAnswer::Dnserr
            | HostAnswer::ServerError
            | HostAnswer::TokenRefused(_) => continue,
        };
        let Some(zone) = zone_of(config, &line.hostname).filter(|z| !z.confirm.is_empty()) else { continue };
        let host = Name::from_ascii(format!("{}.", line.hostname)).ok().map(|n| (n, *addresses));
        match zones.iter_mut().find(|(z, _)| z.name == zone.name) {
            Some((_, hosts)) => hosts.extend(host),
            None => zones.push((zone, host.into_iter().collect())),
        }
    }
    for (zone, hosts) in zones {
        let deadline = started + zone.confirm_timeout;
        if primary_serves(zone, &hosts, deadline, log) {
            wait(zone, deadline, log);
        }
    }
}

/// Waits, until `deadline`, until the zone's primary serves each of `hosts`' addresses (the
/// families given; see the module doc on inline signing). Whether it does; what it still
/// lacks at the deadline is logged.
fn primary_serves(zone: &Zone, hosts: &[(Name, Addresses)], deadline: Instant, log: &Log) -> bool {
    let name = zone.name_str();
    let mut pending: Vec<(&Name, RecordType, IpAddr)> = hosts
        .iter()
        .flat_map(|(host, a)| {
            let v4 = a.ipv4.map(|ip| (host, RecordType::A, IpAddr::V4(ip)));
            let v6 = a.ipv6.map(|ip| (host, RecordType::AAAA, IpAddr::V6(ip)));
            v4.into_iter().chain(v6)
        })
        .collect();
    let mut pause = FIRST_PAUSE;
    let mut last = String::new();
    loop {
        pending.retain(|(host, rtype, ip)| {
            let timeout = deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(1), MAX_QUERY);
            match dns::served_addresses(zone.server, host, *rtype, timeout) {
                Ok(served) if served == [*ip] => false,
                Ok(served) => {
                    last = format!("`{host}` {rtype} is {served:?}, not `{ip}`");
                    true
                }
                Err(e) => {
                    last = format!("`{host}` {rtype}: {e}");
                    true
                }
            }
        });
        if pending.is_empty() {
            return true;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            log.warn(format_args!(
                "zone `{name}`: the primary {} does not serve the change yet ({last}); not waiting for the secondaries, answering anyway",
                zone.server
            ));
            return false;
        }
        std::thread::sleep(pause.min(remaining));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// The configured zone a hostname lives in: the longest zone name that contains it, as a
/// hostname of a delegated child zone lives in the child.
fn zone_of<'a>(config: &'a Config, hostname: &str) -> Option<&'a Zone> {
    let fqdn = Name::from_ascii(format!("{hostname}.")).ok()?;
    config.zones.iter().filter(|z| z.name.zone_of(&fqdn)).max_by_key(|z| z.name.num_labels())
}

/// Reads the primary's serial, then asks each of the zone's `confirm` servers for theirs until
/// all serve it or `deadline` passes.
fn wait(zone: &Zone, deadline: Instant, log: &Log) {
    let started = Instant::now();
    let name = zone.name_str();
    let wanted = match dns::soa_serial(zone.server, &zone.name, zone.timeout) {
        Ok(serial) => serial,
        Err(e) => {
            log.warn(format_args!(
                "zone `{name}`: cannot read the primary's SOA serial after the update, not waiting for the secondaries: {e}"
            ));
            return;
        }
    };
    // Each server not yet confirmed, with what it last answered, for the log.
    let mut pending: Vec<(SocketAddr, String)> = zone.confirm.iter().map(|s| (*s, String::new())).collect();
    let mut pause = FIRST_PAUSE;
    loop {
        pending.retain_mut(|(server, last)| {
            let timeout = deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(1), MAX_QUERY);
            match lag(*server, zone, wanted, timeout) {
                Ok(0) => false,
                Ok(behind) => {
                    *last = format!("{behind} serials behind");
                    true
                }
                Err(e) => {
                    *last = e.to_string();
                    true
                }
            }
        });
        let waited = started.elapsed().as_millis();
        if pending.is_empty() {
            log.debug(format_args!("zone `{name}`: every secondary serves serial {wanted} after {waited} ms"));
            return;
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            for (server, last) in &pending {
                log.warn(format_args!(
                    "zone `{name}`: secondary {server} does not serve serial {wanted} after {waited} ms ({last}); \
                     answering anyway, the change is committed on the primary {}",
                    zone.server
                ));
            }
            return;
        }
        std::thread::sleep(pause.min(remaining));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// How many serials `server` is behind `wanted` for the zone; 0 when it serves it or newer.
fn lag(server: SocketAddr, zone: &Zone, wanted: u32, timeout: Duration) -> Result<u32, DnsError> {
    dns::soa_serial(server, &zone.name, timeout).map(|served| dns::serial_lag(served, wanted))
}

/// One server's distance from the primary, for `ddns-cgi check`.
#[derive(Debug)]
pub(crate) struct Lag {
    pub(crate) server: SocketAddr,
    /// Serials behind the primary (0: up to date), or why the server could not be asked.
    pub(crate) behind: Result<u32, DnsError>,
}

/// For `ddns-cgi check`: how far each of `servers` (usually the zone's `confirm` list) is
/// behind the zone's primary. `Err` when the primary's serial cannot be read. Each query
/// waits at most the zone's `timeout`.
pub(crate) fn serial_lag(zone: &Zone, servers: &[SocketAddr]) -> Result<Vec<Lag>, DnsError> {
    let wanted = dns::soa_serial(zone.server, &zone.name, zone.timeout)?;
    Ok(servers.iter().map(|server| Lag { server: *server, behind: lag(*server, zone, wanted, zone.timeout) }).collect())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn config(zones: &str) -> Config {
        let text = format!(
            "[database]\npath = \"/var/lib/ddns-cgi/ddns.db\"\n[dns]\ntsig_key = \"hmac-sha256:k:c2VjcmV0\"\n{zones}"
        );
        Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), &text).expect("valid config")
    }

    #[test]
    fn a_hostname_lives_in_the_longest_zone_that_contains_it() {
        let c = config(
            "[[zones]]\nname = \"example.com\"\n[[zones]]\nname = \"dyn.example.com\"\n[[zones]]\nname = \"example.net\"\n",
        );
        let zone = |h: &str| zone_of(&c, h).map(Zone::name_str);
        assert_eq!(zone("h.dyn.example.com").as_deref(), Some("dyn.example.com"));
        assert_eq!(zone("h.example.com").as_deref(), Some("example.com"));
        assert_eq!(zone("h.example.org"), None);
    }

    #[test]
    fn serial_lag_needs_the_primary() {
        // A port nobody listens on: the primary's serial cannot be read, and that is the error.
        let port = std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).expect("port").port();
        let c = config(&format!("[[zones]]\nname = \"dyn.example.com\"\nserver = \"127.0.0.1:{port}\"\n"));
        let err = serial_lag(&c.zones[0], &[]).expect_err("nobody answers");
        assert!(err.is_transport(), "{err}");
    }
}
