//! Read-back after an update (`[dns] confirm`, or a zone's own `confirm`): an update may be
//! answered only once the listed servers, the public secondaries of a hidden primary, serve
//! the change, so a client that queries right after its answer sees its new address. Which
//! updates wait is `[dns] confirm_wait` (every one, or only those that ask with `wait=`) and,
//! for the acme-dns API, `[acme] wait` ([`hold`]). The secondaries learn of the change by
//! NOTIFY (RFC 1996) and fetch it by IXFR (RFC 1995); this module only watches their SOA
//! serial, it never talks to them otherwise. The wait is bounded (`confirm_timeout_ms`, or
//! less when the request asks): when it runs out the answer is `good` anyway, since the change
//! is committed on the primary and the secondaries will fetch it, and each lagging server is
//! logged (the log line carries the request's transaction id). What each server did is a
//! [`Watch`]; the JSON answer shows it ([`ReadBack`]). It does not touch the database and
//! runs after the host's lock is released. This module waits by blocking ([`wait_here`], in CGI);
//! FastCGI follows the same watches without a thread (`http/fastcgi/wait.rs`).
//!
//! Which serial holds the change: an UPDATE answer carries no SOA (RFC 2136 §3.8 echoes the
//! zone section only), so right after NOERROR we ask the primary for its serial. The primary
//! commits the change and raises the serial (RFC 2136 §3.6) before it answers, and serials
//! only grow, so the serial read then is that of a version holding the change, or a later
//! one; a server that serves it or a newer serial (RFC 1982 arithmetic) has the change, at
//! whatever moment it was asked. Comparing against a serial read before the update would not
//! be sound: an update through another front-end could raise the serial in between, and a
//! secondary at that serial would not yet have ours.
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

use crate::config::{Config, ConfirmWait, Zone};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::reply::{HostAnswer, HostLine, ReadBack};
use crate::request::{Addresses, Wait};

/// The first pause between two rounds of SOA queries; it doubles up to [`MAX_PAUSE`]. A
/// secondary on the same network fetches an IXFR in a few milliseconds after the NOTIFY.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_millis(10);
pub(crate) const MAX_PAUSE: Duration = Duration::from_millis(200);
/// The longest one SOA query may wait, so a silent server does not use the whole bound at
/// once while the others could still be asked.
pub(crate) const MAX_QUERY: Duration = Duration::from_millis(500);

/// How long a dyndns2 update of `zone` holds its answer for the read-back, given the
/// request's `wait`; `None`: answer at once. A request's own bound (`wait=SECONDS`) is held
/// to `confirm_timeout_ms`; under `confirm_wait = "always"` every update waits (a `wait=0`
/// does not opt out: the operator chose it for every client).
pub(crate) fn hold(zone: &Zone, wait: Option<Wait>) -> Option<Duration> {
    if zone.confirm.is_empty() {
        return None;
    }
    match (zone.confirm_wait, wait) {
        (_, Some(Wait::Seconds(seconds))) => Some(Duration::from_secs(u64::from(seconds)).min(zone.confirm_timeout)),
        (ConfirmWait::Always, _) | (ConfirmWait::OnRequest, Some(Wait::Yes)) => Some(zone.confirm_timeout),
        (ConfirmWait::OnRequest, None | Some(Wait::No)) => None,
    }
}

/// What one request waits for in one zone: the primary's serial after its change, and each
/// read-back server's progress towards it.
#[derive(Debug)]
pub(crate) struct Watch {
    /// The zone's name as stored (no trailing dot).
    pub(crate) zone: String,
    primary: SocketAddr,
    /// The primary's serial right after the change: a server serving it (or newer) has it.
    pub(crate) wanted: u32,
    /// When `wanted` was read: the read-back's times count from here.
    started: Instant,
    /// When the answer goes out whatever the servers serve.
    pub(crate) deadline: Instant,
    servers: Vec<Seen>,
}

/// One read-back server as a [`Watch`] saw it.
#[derive(Clone, Debug)]
struct Seen {
    server: SocketAddr,
    /// How long after `Watch::started` it was first seen serving the change.
    after: Option<Duration>,
    /// What it answered last while it did not, for the log.
    last: String,
}

impl Watch {
    /// Reads the primary's serial (right after its NOERROR) and starts watching the zone's
    /// `confirm` servers for at most `bound`. `None`, logged, when the serial cannot be read:
    /// then nothing can tell when a server has the change, and the answer goes out at once.
    pub(crate) fn start(zone: &Zone, bound: Duration, log: &Log) -> Option<Watch> {
        let started = Instant::now();
        let name = zone.name_str();
        let wanted = match dns::soa_serial(zone.server, &zone.name, zone.timeout) {
            Ok(serial) => serial,
            Err(e) => {
                log.warn(format_args!(
                    "zone `{name}`: cannot read the primary's SOA serial after the update, not waiting for the secondaries: {e}"
                ));
                return None;
            }
        };
        log.debug(format_args!(
            "zone `{name}`: the answer waits until the secondaries serve serial {wanted} (at most {} ms)",
            bound.as_millis()
        ));
        let servers =
            zone.confirm.iter().map(|s| Seen { server: *s, after: None, last: "not asked yet".to_owned() }).collect();
        Some(Watch { zone: name, primary: zone.server, wanted, started, deadline: started + bound, servers })
    }

    /// Takes one server's answer (its serial, or why it gave none), received at `at`.
    pub(crate) fn observe(&mut self, server: SocketAddr, answer: &Result<u32, String>, at: Instant) {
        let wanted = self.wanted;
        let started = self.started;
        for seen in self.servers.iter_mut().filter(|s| s.server == server && s.after.is_none()) {
            match answer {
                Ok(served) => match dns::serial_lag(*served, wanted) {
                    0 => seen.after = Some(at.saturating_duration_since(started)),
                    behind => seen.last = format!("{behind} serials behind"),
                },
                Err(e) => seen.last.clone_from(e),
            }
        }
    }

    /// The servers not yet seen serving the change.
    pub(crate) fn pending(&self) -> Vec<SocketAddr> {
        self.servers.iter().filter(|s| s.after.is_none()).map(|s| s.server).collect()
    }

    /// Whether every server serves the change.
    pub(crate) fn done(&self) -> bool {
        self.servers.iter().all(|s| s.after.is_some())
    }

    /// Logs the outcome: one debug line when all serve the change, else one warning per
    /// server that does not (the log carries the request's transaction id).
    pub(crate) fn finish(&self, log: &Log) {
        let name = &self.zone;
        let wanted = self.wanted;
        let waited = self.started.elapsed().as_millis();
        if self.done() {
            log.debug(format_args!("zone `{name}`: every secondary serves serial {wanted} after {waited} ms"));
            return;
        }
        for seen in self.servers.iter().filter(|s| s.after.is_none()) {
            log.warn(format_args!(
                "zone `{name}`: secondary {} does not serve serial {wanted} after {waited} ms ({}); \
                 answering anyway, the change is committed on the primary {}",
                seen.server, seen.last, self.primary
            ));
        }
    }

    /// What each server did, for the JSON answer.
    pub(crate) fn read_back(&self) -> Vec<ReadBack> {
        self.servers
            .iter()
            .map(|s| ReadBack {
                server: s.server,
                served: s.after.is_some(),
                after_ms: s.after.map(|a| u64::try_from(a.as_millis()).unwrap_or(u64::MAX)),
            })
            .collect()
    }
}

/// The read-back a dyndns2 request waits for: one [`Watch`] per zone it changed, and for each
/// of its answer lines the watch of that line's zone.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    pub(crate) watches: Vec<Watch>,
    /// Per answer line, the index of its watch in `watches`.
    pub(crate) per_line: Vec<Option<usize>>,
}

impl Pending {
    /// Per answer line, what its zone's servers did (empty for a line that did not wait).
    pub(crate) fn read_back(&self) -> Vec<Vec<ReadBack>> {
        self.per_line
            .iter()
            .map(|i| i.and_then(|i| self.watches.get(i)).map(Watch::read_back).unwrap_or_default())
            .collect()
    }
}

/// Starts the watches for the zones of `lines` answered `good` that hold their answer
/// ([`hold`]); none when no changed zone lists a server or the request does not wait. A zone's
/// watch starts once its primary serves the changed hosts' new addresses (see the module doc
/// on inline signing); a primary that does not within the bound gets no watch, logged.
pub(crate) fn watch_hosts(config: &Config, lines: &[HostLine], wait: Option<Wait>, log: &Log) -> Pending {
    let mut zones: Vec<HeldZone<'_>> = Vec::new();
    let mut per_line = Vec::with_capacity(lines.len());
    for line in lines {
        let index = match &line.answer {
            HostAnswer::Good(addresses) => held_zone(config, &line.hostname, *addresses, wait, &mut zones),
            HostAnswer::Nochg(_)
            | HostAnswer::Nohost
            | HostAnswer::Notfqdn
            | HostAnswer::Dnserr
            | HostAnswer::ServerError
            | HostAnswer::TokenRefused(_) => None,
        };
        per_line.push(index);
    }
    let mut pending = Pending::default();
    let mut watch_of: Vec<Option<usize>> = Vec::with_capacity(zones.len());
    for held in &zones {
        let deadline = Instant::now() + held.bound;
        let watch = if primary_serves(held.zone, &held.hosts, deadline, log) {
            Watch::start(held.zone, deadline.saturating_duration_since(Instant::now()), log)
        } else {
            None
        };
        watch_of.push(watch.map(|w| {
            pending.watches.push(w);
            pending.watches.len() - 1
        }));
    }
    pending.per_line = per_line.into_iter().map(|i| i.and_then(|i| watch_of.get(i).copied().flatten())).collect();
    pending
}

/// A zone whose changes hold the answer: its bound and its changed hosts with their new
/// addresses.
struct HeldZone<'a> {
    zone: &'a Zone,
    bound: Duration,
    hosts: Vec<(Name, Addresses)>,
}

/// The index in `zones` of the zone of `hostname` when it holds the answer, added when it is
/// the first line of that zone.
fn held_zone<'a>(
    config: &'a Config,
    hostname: &str,
    addresses: Addresses,
    wait: Option<Wait>,
    zones: &mut Vec<HeldZone<'a>>,
) -> Option<usize> {
    let zone = zone_of(config, hostname)?;
    let bound = hold(zone, wait)?;
    let host = Name::from_ascii(format!("{hostname}.")).ok().map(|n| (n, addresses));
    if let Some(i) = zones.iter().position(|z| z.zone.name == zone.name) {
        zones[i].hosts.extend(host);
        return Some(i);
    }
    zones.push(HeldZone { zone, bound, hosts: host.into_iter().collect() });
    Some(zones.len() - 1)
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
pub(crate) fn zone_of<'a>(config: &'a Config, hostname: &str) -> Option<&'a Zone> {
    let fqdn = Name::from_ascii(format!("{hostname}.")).ok()?;
    config.zones.iter().filter(|z| z.name.zone_of(&fqdn)).max_by_key(|z| z.name.num_labels())
}

/// Follows `watches` by blocking (CGI, where the process simply waits): each round asks each
/// server not yet serving its change once, then pauses (10 ms doubling to 200 ms), until every
/// watch is done or past its deadline. The caller logs the outcome ([`Watch::finish`]).
pub(crate) fn wait_here(config: &Config, watches: &mut [Watch]) {
    let settled = |w: &Watch| w.done() || Instant::now() >= w.deadline;
    let mut pause = FIRST_PAUSE;
    loop {
        for watch in watches.iter_mut().filter(|w| !settled(w)) {
            let Some(zone) = config.zones.iter().find(|z| z.name_str() == watch.zone) else { continue };
            for server in watch.pending() {
                let timeout =
                    watch.deadline.saturating_duration_since(Instant::now()).clamp(Duration::from_millis(1), MAX_QUERY);
                let answer = dns::soa_serial(server, &zone.name, timeout).map_err(|e| e.to_string());
                watch.observe(server, &answer, Instant::now());
            }
        }
        let Some(next) = watches.iter().filter(|w| !settled(w)).map(|w| w.deadline).min() else { break };
        std::thread::sleep(pause.min(next.saturating_duration_since(Instant::now())));
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
    fn which_updates_wait_and_for_how_long() {
        let dns = |extra: &str| format!("confirm = [\"127.0.0.1:5301\"]\nconfirm_timeout_ms = 5000\n{extra}");
        let zone_with = |dns_keys: &str| {
            let text = format!(
                "[database]\npath = \"/var/lib/ddns-cgi/ddns.db\"\n[dns]\ntsig_key = \"hmac-sha256:k:c2VjcmV0\"\n{dns_keys}[[zones]]\nname = \"dyn.example.com\"\n"
            );
            Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), &text).expect("valid config")
        };
        let five = Some(Duration::from_secs(5));
        let always = zone_with(&dns(""));
        let z = &always.zones[0];
        assert_eq!(z.confirm_wait, ConfirmWait::Always);
        assert_eq!(hold(z, None), five);
        assert_eq!(hold(z, Some(Wait::No)), five, "`always` is the operator's choice");
        assert_eq!(hold(z, Some(Wait::Seconds(2))), Some(Duration::from_secs(2)));
        assert_eq!(hold(z, Some(Wait::Seconds(3600))), five, "held to confirm_timeout_ms");
        let on_request = zone_with(&dns("confirm_wait = \"on_request\"\n"));
        let z = &on_request.zones[0];
        assert_eq!(hold(z, None), None);
        assert_eq!(hold(z, Some(Wait::No)), None);
        assert_eq!(hold(z, Some(Wait::Yes)), five);
        assert_eq!(hold(z, Some(Wait::Seconds(2))), Some(Duration::from_secs(2)));
        // No read-back servers: nothing to wait for, whatever the request asks.
        let none = zone_with("confirm_wait = \"on_request\"\n");
        assert_eq!(hold(&none.zones[0], Some(Wait::Yes)), None);
    }

    #[test]
    fn a_watch_is_done_when_each_server_serves_the_serial_or_newer() {
        let (a, b): (SocketAddr, SocketAddr) =
            ("127.0.0.1:5301".parse().expect("a"), "127.0.0.1:5302".parse().expect("b"));
        let started = Instant::now();
        let seen = |server| Seen { server, after: None, last: String::new() };
        let mut w = Watch {
            zone: "dyn.example.com".into(),
            primary: "127.0.0.1:53".parse().expect("primary"),
            wanted: 5,
            started,
            deadline: started + Duration::from_secs(1),
            servers: vec![seen(a), seen(b)],
        };
        w.observe(a, &Ok(4), started);
        w.observe(b, &Err("refused".into()), started);
        assert_eq!(w.pending(), [a, b]);
        w.observe(a, &Ok(5), started + Duration::from_millis(7));
        // A serial that wrapped around (RFC 1982) is newer, not older.
        w.observe(b, &Ok(4_294_967_295), started);
        assert_eq!(w.pending(), [b]);
        assert!(!w.done());
        w.observe(b, &Ok(6), started + Duration::from_millis(9));
        // A later "behind" (a server answering from an older copy) does not undo it.
        w.observe(a, &Ok(1), started + Duration::from_millis(20));
        assert!(w.done());
        let read_back: Vec<(bool, Option<u64>)> = w.read_back().iter().map(|r| (r.served, r.after_ms)).collect();
        assert_eq!(read_back, [(true, Some(7)), (true, Some(9))]);
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
