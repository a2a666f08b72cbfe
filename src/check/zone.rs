//! The checks of one zone's DNS servers: the primary answers and is authoritative, accepts a
//! TSIG-signed UPDATE that changes nothing, agrees with our clock and refuses the same UPDATE
//! unsigned; each read-back (`confirm`) server serves the primary's serial; then the zone's
//! DNSSEC items (`dnssec`). A primary that says it is PowerDNS ([`super::server`]) is named,
//! and its hints are in PowerDNS's words.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::tsig::TsigError;

use super::Checker;
use super::server::{self, Software};
use crate::config::Zone;
use crate::confirm;
use crate::dns::{self, DnsError};

impl Checker<'_> {
    pub(super) fn zone(&mut self, zone: &Zone, now: i64) {
        let Some(software) = self.primary(zone) else { return };
        let name = zone.name_str();
        let server = zone.server;
        let key = zone.key.name.to_ascii();
        let probe =
            dns::probe_message(&zone.name).and_then(|m| dns::exchange(zone, m, u64::try_from(now).unwrap_or(0)));
        let response = match probe {
            Ok(r) => {
                self.report.ok(format!(
                    "zone `{name}`: {server} accepts updates signed with key `{key}` (an UPDATE that changes nothing)"
                ));
                r
            }
            Err(e) => {
                let hint =
                    server::powerdns_update_hint(&software, &e, &name, &key).unwrap_or_else(|| update_hint(&e, &key));
                self.report
                    .fail(format!("zone `{name}`: {server} refused an update signed with key `{key}`: {e}{hint}"));
                if let DnsError::Rcode { tsig_error: Some(TsigError::BadTime), .. } = e {
                    self.report.fail(clock_line(&name, server, None));
                }
                return;
            }
        };
        let skew = dns::signed_time(&response).map(|t| i64::try_from(t).unwrap_or(i64::MAX).saturating_sub(now));
        let line = clock_line(&name, server, skew);
        match skew {
            Some(s) if s.unsigned_abs() <= u64::from(dns::TSIG_FUDGE) => self.report.ok(line),
            _ => self.report.fail(line),
        }
        self.unsigned(zone, &software);
        self.secondaries(zone);
        self.dnssec(zone, now);
    }

    /// The primary answers and is authoritative for the zone: one line each, and one naming
    /// PowerDNS when it says it is. `None` (after a failed line) when the rest cannot be
    /// checked.
    fn primary(&mut self, zone: &Zone) -> Option<Software> {
        let name = zone.name_str();
        let server = zone.server;
        let answer = match dns::query_soa(zone) {
            Ok(a) => {
                self.report.ok(format!("zone `{name}`: DNS server {server} answers"));
                a
            }
            Err(e) => {
                self.report.fail(format!(
                    "zone `{name}`: DNS server {server} does not answer ({e}); start it, or correct `server` \
                     (Knot from Debian listens nowhere until `listen` is set in /etc/knot/knot.conf, and \
                     binds a new address only on a restart, not a reload)"
                ));
                return None;
            }
        };
        let rcode = answer.metadata.response_code;
        let serial = answer.answers.iter().find_map(|r| match &r.data {
            RData::SOA(soa) if r.name == zone.name => Some(soa.serial),
            _ => None,
        });
        match (rcode, answer.metadata.authoritative, serial) {
            (ResponseCode::NoError, true, Some(serial)) => {
                self.report.ok(format!("zone `{name}`: {server} is authoritative for it (SOA serial {serial})"));
            }
            (rcode, aa, _) => {
                self.report.fail(format!(
                    "zone `{name}`: {server} is not authoritative for it (answered {}{}); serve the zone there (see contrib/knot/, contrib/bind/, contrib/powerdns/), or correct `server` or the zone's `name`",
                    dns::rcode_name(rcode),
                    if aa { " without its SOA" } else { " without the AA bit" }
                ));
                return None;
            }
        }
        let software = Software::from_version(dns::server_version(zone).as_deref());
        if let Software::PowerDns { version } = &software {
            self.report.ok(format!(
                "zone `{name}`: {server} is PowerDNS (`{version}`); it allows updates by the zone's metadata \
                 (contrib/powerdns/)"
            ));
        }
        Some(software)
    }

    /// One line: whether the primary refuses the probe unsigned. An UPDATE nobody signed that
    /// a server takes lets anyone who reaches it change the zone; PowerDNS takes one whenever
    /// the zone lacks TSIG-ALLOW-DNSUPDATE. The probe changes nothing either way.
    fn unsigned(&mut self, zone: &Zone, software: &Software) {
        let name = zone.name_str();
        let server = zone.server;
        let answer = dns::probe_message(&zone.name).and_then(|m| dns::exchange_unsigned(zone, &m));
        let refused = match answer {
            Ok(a) if a.metadata.response_code == ResponseCode::NoError => {
                let hint = server::unsigned_hint(software, &name, &zone.key.name.to_ascii());
                return self.report.fail(format!(
                    "zone `{name}`: {server} accepts an UPDATE without TSIG (an UPDATE that changes nothing): anyone \
                     who reaches it from here can change the zone; {hint}"
                ));
            }
            Ok(a) => format!("answered {}", dns::rcode_name(a.metadata.response_code)),
            Err(e) => e.to_string(),
        };
        self.report.ok(format!("zone `{name}`: {server} refuses an UPDATE without TSIG ({refused})"));
    }

    /// One line per read-back server (`confirm`): whether it serves the primary's serial. A
    /// secondary one serial behind for a second after an update is normal (Knot sends its
    /// NOTIFY about a second later): run the check again before chasing it.
    fn secondaries(&mut self, zone: &Zone) {
        if zone.confirm.is_empty() {
            return;
        }
        let name = zone.name_str();
        let lags = match confirm::serial_lag(zone, &zone.confirm) {
            Ok(lags) => lags,
            Err(e) => {
                return self.report.fail(format!("zone `{name}`: cannot read the primary's serial to compare: {e}"));
            }
        };
        for confirm::Lag { server, behind } in lags {
            match behind {
                Ok(0) => self.report.ok(format!("zone `{name}`: secondary {server} serves the primary's serial")),
                Ok(n) => self.report.fail(format!(
                    "zone `{name}`: secondary {server} is {n} serial(s) behind the primary; check NOTIFY and \
                     zone transfers (contrib/knot/secondary.conf, contrib/bind/secondary.conf)"
                )),
                Err(e) => {
                    self.report.fail(format!("zone `{name}`: secondary {server} does not answer for the zone: {e}"))
                }
            }
        }
    }
}

/// The line about the clocks; `skew` is the server's time minus ours, `None` when the server
/// refused our time (BADTIME).
pub(super) fn clock_line(zone: &str, server: std::net::SocketAddr, skew: Option<i64>) -> String {
    let fudge = dns::TSIG_FUDGE;
    match skew {
        Some(s) if s.unsigned_abs() <= u64::from(fudge) => {
            format!("zone `{zone}`: clocks agree, {server}'s is {s:+} s from ours (TSIG allows {fudge} s)")
        }
        Some(s) => format!(
            "zone `{zone}`: {server}'s clock is {s:+} s from ours, more than TSIG's {fudge} s; synchronise both (NTP)"
        ),
        None => format!(
            "zone `{zone}`: {server}'s clock and ours differ by more than TSIG's {fudge} s (BADTIME); synchronise both (NTP)"
        ),
    }
}

/// What to do about a refused update, for the errors whose cause is clear.
fn update_hint(e: &DnsError, key: &str) -> String {
    match e {
        DnsError::Rcode { tsig_error: Some(TsigError::BadSig), .. } => {
            format!("; the secret of `{key}` differs from the server's")
        }
        DnsError::Rcode { tsig_error: Some(TsigError::BadKey), .. } => {
            format!("; the server has no key `{key}` with this algorithm")
        }
        DnsError::Rcode { rcode: ResponseCode::Refused, tsig_error: None, .. } => format!(
            "; the server's update policy does not let `{key}` change A records in the zone (Knot `acl`, BIND `update-policy`)"
        ),
        DnsError::Rcode { rcode: ResponseCode::NotAuth, tsig_error: None, .. } => {
            "; the server is not the zone's primary".to_owned()
        }
        DnsError::OutsideZone { .. }
        | DnsError::Build { .. }
        | DnsError::Io { .. }
        | DnsError::Timeout { .. }
        | DnsError::Rcode { .. }
        | DnsError::Malformed { .. }
        | DnsError::BadSignature { .. }
        | DnsError::UnverifiedRcode { .. } => String::new(),
    }
}
