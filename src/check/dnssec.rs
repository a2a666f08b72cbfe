//! The DNSSEC items of a zone's check: whether the zone is signed (a DNSKEY rrset at the apex,
//! an RRSIG over the SOA), whether the SOA's and the DNSKEY rrset's signatures verify with the
//! zone's own keys (RFC 4035 §5.3) and until when, and whether NSEC3 opt-out (RFC 5155 §6)
//! leaves names of the zone without a secure proof of absence; with `[dns] resolver` set,
//! whether the parent zone holds a DS record for one of the zone's keys. It asks the primary
//! (and the resolver) with the DO bit; it does not build a chain of trust from the root (a
//! validating resolver's job), so "verifies" means "signed by a key the zone publishes".
//! Nothing here sends an UPDATE.

use hickory_proto::dnssec::Verifier as _;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::Checker;
use crate::config::Zone;
use crate::dns;

/// Signatures that expire sooner than this deserve a warning: Knot and BIND re-sign a week
/// (Knot) or five days (BIND) before the end of their default 14-day validity, so a healthy
/// signer never gets this close.
const EXPIRES_SOON: i64 = 2 * 86_400;

/// How the signatures over one rrset stand at `now`.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// At least one RRSIG verifies with a zone key and is within its validity; the latest
    /// expiration among those (seconds since the epoch).
    Valid { until: i64 },
    /// Every RRSIG that verifies has expired; the latest expiration among them.
    Expired { at: i64 },
    /// Every RRSIG that verifies is not valid yet (the signer's clock, or ours, is off).
    NotYet { from: i64 },
    /// No RRSIG verifies with any of the zone's keys (or none covers the rrset).
    Bogus,
}

/// The verdict on the RRSIGs in `sigs` over the records of `rtype` at `name` in `records`,
/// with `keys` the zone's DNSKEYs, at `now`. Pure, for the unit tests.
pub(super) fn verdict(name: &Name, rtype: RecordType, records: &[Record], keys: &[DNSKEY], now: i64) -> Verdict {
    let rrset: Vec<&Record> = records.iter().filter(|r| r.name == *name && r.record_type() == rtype).collect();
    let sigs = records.iter().filter(|r| r.name == *name).filter_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().type_covered == rtype => Some(sig),
        _ => None,
    });
    let mut verified: Vec<(i64, i64)> = Vec::new();
    for sig in sigs {
        if verifies(name, sig, &rrset, keys) {
            let input = sig.input();
            verified.push((i64::from(input.sig_inception.get()), i64::from(input.sig_expiration.get())));
        }
    }
    if let Some(until) = verified.iter().filter(|(from, until)| *from <= now && now <= *until).map(|v| v.1).max() {
        return Verdict::Valid { until };
    }
    if let Some(at) = verified.iter().filter(|(_, until)| *until < now).map(|v| v.1).max() {
        return Verdict::Expired { at };
    }
    match verified.iter().map(|v| v.0).min() {
        Some(from) => Verdict::NotYet { from },
        None => Verdict::Bogus,
    }
}

/// Whether `sig` over `rrset` verifies with one of `keys` of its key tag and algorithm.
fn verifies(name: &Name, sig: &RRSIG, rrset: &[&Record], keys: &[DNSKEY]) -> bool {
    let input = sig.input();
    !rrset.is_empty()
        && keys.iter().filter(|k| k.zone_key() && !k.revoke() && k.algorithm() == input.algorithm).any(|k| {
            k.calculate_key_tag().is_ok_and(|tag| tag == input.key_tag)
                && k.verify_rrsig(name, DNSClass::IN, sig, rrset.iter().copied()).is_ok()
        })
}

impl Checker<'_> {
    /// The DNSSEC lines of `zone` at `now`: one saying whether it is signed, and for a signed
    /// zone one on its signatures and one on NSEC3 opt-out where it applies.
    pub(super) fn dnssec(&mut self, zone: &Zone, now: i64) {
        let name = zone.name_str();
        let ask = |rtype| dns::query_dnssec(zone.server, &zone.name, rtype, zone.timeout);
        let (soa, keys) = match (ask(RecordType::SOA), ask(RecordType::DNSKEY)) {
            (Ok(soa), Ok(keys)) => (soa, keys),
            (Err(e), _) | (_, Err(e)) => {
                return self.report.fail(format!("zone `{name}`: cannot ask for its DNSSEC records: {e}"));
            }
        };
        let dnskeys: Vec<DNSKEY> = keys
            .answers
            .iter()
            .filter(|r| r.name == zone.name)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DNSKEY(k)) => Some(k.clone()),
                _ => None,
            })
            .collect();
        let soa_signed = soa.answers.iter().any(
            |r| matches!(&r.data, RData::DNSSEC(DNSSECRData::RRSIG(s)) if s.input().type_covered == RecordType::SOA),
        );
        match (dnskeys.is_empty(), soa_signed) {
            (true, false) => {
                return self.report.ok(format!(
                    "zone `{name}`: not signed (no DNSKEY, no RRSIG on the SOA); to sign it, see the DNSSEC variants in contrib/"
                ));
            }
            (true, true) => {
                return self.report.fail(format!(
                    "zone `{name}`: the SOA has an RRSIG but the zone publishes no DNSKEY; validating resolvers answer SERVFAIL for its names: sign it again, or unsign it"
                ));
            }
            (false, false) => {
                return self.report.fail(format!(
                    "zone `{name}`: publishes DNSKEYs but its SOA has no RRSIG; validating resolvers answer SERVFAIL for its names: let the server sign the zone (Knot `dnssec-signing: on`, BIND `dnssec-policy`)"
                ));
            }
            (false, true) => {}
        }
        let n_keys = dnskeys.len();
        let verdicts = [
            ("SOA", verdict(&zone.name, RecordType::SOA, &soa.answers, &dnskeys, now)),
            ("DNSKEY", verdict(&zone.name, RecordType::DNSKEY, &keys.answers, &dnskeys, now)),
        ];
        let fix = "validating resolvers answer SERVFAIL for every name in the zone: is the server still signing it (Knot `dnssec-signing: on`, BIND `dnssec-policy`)?";
        let mut until = i64::MAX;
        for (rrset, v) in &verdicts {
            match v {
                Verdict::Valid { until: u } => until = until.min(*u),
                Verdict::Expired { at } => {
                    return self.report.fail(format!(
                        "zone `{name}`: signed, but the signatures over its {rrset} expired {} ago ({}); {fix}",
                        span(now - at),
                        utc(*at)
                    ));
                }
                Verdict::NotYet { from } => {
                    return self.report.fail(format!(
                        "zone `{name}`: signed, but the signatures over its {rrset} are valid only from {} (in {}); check the clocks (NTP) of the server and of this machine",
                        utc(*from),
                        span(from - now)
                    ));
                }
                Verdict::Bogus => {
                    return self.report.fail(format!(
                        "zone `{name}`: signed, but no signature over its {rrset} verifies with the zone's {n_keys} DNSKEY(s); {fix}"
                    ));
                }
            }
        }
        let line = format!(
            "zone `{name}`: signed ({n_keys} DNSKEY(s)); the signatures over its SOA and DNSKEY verify, valid until {} (in {})",
            utc(until),
            span(until - now)
        );
        if until - now < EXPIRES_SOON {
            self.report.warn(format!("{line}; they expire soon: is the server still re-signing the zone?"));
        } else {
            self.report.ok(line);
        }
        self.opt_out(zone);
        if let Some(resolver) = zone.resolver {
            self.parent_ds(zone, resolver, &dnskeys);
        }
    }

    /// Whether the parent zone holds a DS record for one of the zone's keys, as `resolver`
    /// sees it (RFC 4035 §5: without one the chain of trust ends at the parent, and validators
    /// treat the zone as unsigned; with DS records none of which matches a key, as bogus).
    fn parent_ds(&mut self, zone: &Zone, resolver: std::net::SocketAddr, keys: &[DNSKEY]) {
        let name = zone.name_str();
        let answer = match dns::query_dnssec(resolver, &zone.name, RecordType::DS, zone.timeout) {
            Ok(a) => a,
            Err(e) => {
                return self.report.warn(format!(
                    "zone `{name}`: cannot ask the resolver {resolver} for the zone's DS record: {e}; the delegation is not checked"
                ));
            }
        };
        let rcode = answer.metadata.response_code;
        if !matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
            return self.report.warn(format!(
                "zone `{name}`: the resolver {resolver} answered {} for the zone's DS record; the delegation is not checked",
                dns::rcode_name(rcode)
            ));
        }
        let ds: Vec<&DS> = answer
            .answers
            .iter()
            .filter(|r| r.name == zone.name)
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::DS(ds)) => Some(ds),
                _ => None,
            })
            .collect();
        if ds.is_empty() {
            return self.report.warn(format!(
                "zone `{name}`: the parent zone has no DS record for it (resolver {resolver}); validators treat the zone as unsigned: hand the parent the DS of the zone's KSK (Knot `keymgr {name} ds`, BIND `dnssec-dsfromkey`)"
            ));
        }
        // RFC 4035 §5.2: the key tag, the algorithm and the digest of the DNSKEY must match.
        let matches = |d: &DS, k: &DNSKEY| {
            d.algorithm() == k.algorithm()
                && k.calculate_key_tag().is_ok_and(|tag| tag == d.key_tag())
                && d.covers(&zone.name, k).unwrap_or(false)
        };
        match ds.iter().find(|d| keys.iter().any(|k| matches(d, k))) {
            Some(d) => self.report.ok(format!(
                "zone `{name}`: the parent zone holds a DS record for key {} (resolver {resolver}): validators can see the zone as secure",
                d.key_tag()
            )),
            None => self.report.fail(format!(
                "zone `{name}`: the parent zone's DS records (key tags {}) match none of the zone's DNSKEYs (resolver {resolver}); validators answer SERVFAIL for its names: hand the parent the DS of the current KSK",
                ds.iter().map(|d| d.key_tag().to_string()).collect::<Vec<_>>().join(", ")
            )),
        }
    }

    /// NSEC3 with opt-out (RFC 5155 §6): a proof that a name does not exist may cover it by
    /// an opt-out span, which validators take as insecure, not secure; a zone of hosts has no
    /// delegations to skip, so it gains nothing by it.
    fn opt_out(&mut self, zone: &Zone) {
        let name = zone.name_str();
        // A label no host has; the NXDOMAIN proof shows the zone's NSEC or NSEC3 records.
        let Ok(absent) = Name::from_ascii("ddns-cgi-check-absent").and_then(|l| l.append_domain(&zone.name)) else {
            return;
        };
        let Ok(answer) = dns::query_dnssec(zone.server, &absent, RecordType::A, zone.timeout) else { return };
        let nsec3: Vec<bool> = answer
            .authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::NSEC3(n)) => Some(n.opt_out()),
                _ => None,
            })
            .collect();
        if nsec3.iter().any(|o| *o) {
            self.report.warn(format!(
                "zone `{name}`: NSEC3 with opt-out: validators take the absence of an offline or expired host as insecure, not proven; sign without opt-out (Knot `nsec3-opt-out: off`, BIND `nsec3param optout no`)"
            ));
        }
    }
}

/// A duration in the largest unit that fits: `3 d`, `5 h`, `12 min`, `40 s`.
fn span(seconds: i64) -> String {
    match seconds.max(0) {
        s if s >= 2 * 86_400 => format!("{} d", s / 86_400),
        s if s >= 2 * 3_600 => format!("{} h", s / 3_600),
        s if s >= 120 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM UTC` (H. Hinnant's `civil_from_days`).
fn utc(epoch: i64) -> String {
    let (days, secs) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", secs / 3_600, secs % 3_600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_spans_read_as_an_admin_writes_them() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_796_687_999), "2026-12-07 23:59 UTC");
        assert_eq!(span(59), "59 s");
        assert_eq!(span(3 * 3_600), "3 h");
        assert_eq!(span(14 * 86_400 + 5), "14 d");
        assert_eq!(span(-5), "0 s");
    }

    use hickory_proto::dnssec::crypto::Ed25519SigningKey;
    use hickory_proto::dnssec::rdata::sig::SigInput;
    use hickory_proto::dnssec::{Algorithm, SigningKey as _, TBS};
    use hickory_proto::rr::SerialNumber;
    use hickory_proto::rr::rdata::SOA;

    const NOW: i64 = 1_800_000_000;

    /// The zone's SOA, and a zone key (flags 257) with its signing half.
    fn zone() -> (Name, Record, Ed25519SigningKey, DNSKEY) {
        let name = Name::from_ascii("dyn.example.com.").expect("name");
        let soa = SOA::new(
            Name::from_ascii("ns1.example.com.").expect("name"),
            Name::from_ascii("hostmaster.example.com.").expect("name"),
            1,
            3600,
            600,
            86_400,
            60,
        );
        let record = Record::from_rdata(name.clone(), 300, RData::SOA(soa));
        let pkcs8 = Ed25519SigningKey::generate_pkcs8().expect("generate");
        let key = Ed25519SigningKey::from_pkcs8(&pkcs8).expect("key");
        let dnskey = DNSKEY::with_flags(257, key.to_public_key().expect("public key"));
        (name, record, key, dnskey)
    }

    /// An RRSIG over `soa` by `key` valid from `inception` to `expiration`.
    fn rrsig(
        name: &Name,
        soa: &Record,
        key: &Ed25519SigningKey,
        dnskey: &DNSKEY,
        inception: i64,
        expiration: i64,
    ) -> Record {
        let stamp = |t: i64| SerialNumber::new(u32::try_from(t).expect("time"));
        let input = SigInput {
            type_covered: RecordType::SOA,
            algorithm: Algorithm::ED25519,
            num_labels: name.num_labels(),
            original_ttl: 300,
            sig_expiration: stamp(expiration),
            sig_inception: stamp(inception),
            key_tag: dnskey.calculate_key_tag().expect("key tag"),
            signer_name: name.clone(),
        };
        let tbs = TBS::from_input(name, DNSClass::IN, &input, std::iter::once(soa)).expect("tbs");
        let sig = key.sign(&tbs).expect("sign");
        Record::from_rdata(name.clone(), 300, RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, sig))))
    }

    #[test]
    fn signatures_are_judged_by_key_and_time() {
        let (name, soa, key, dnskey) = zone();
        let keys = std::slice::from_ref(&dnskey);
        let judge = |inception: i64, expiration: i64| {
            let sig = rrsig(&name, &soa, &key, &dnskey, inception, expiration);
            verdict(&name, RecordType::SOA, &[soa.clone(), sig], keys, NOW)
        };
        assert_eq!(judge(NOW - 3600, NOW + 86_400), Verdict::Valid { until: NOW + 86_400 });
        assert_eq!(judge(NOW - 7200, NOW - 3600), Verdict::Expired { at: NOW - 3600 });
        assert_eq!(judge(NOW + 3600, NOW + 7200), Verdict::NotYet { from: NOW + 3600 });
        // Of two good signatures the later end counts; an expired one beside a valid one is
        // no failure (a server rolling its signatures serves both for a while).
        let old = rrsig(&name, &soa, &key, &dnskey, NOW - 7200, NOW - 3600);
        let new = rrsig(&name, &soa, &key, &dnskey, NOW - 60, NOW + 600);
        assert_eq!(
            verdict(&name, RecordType::SOA, &[soa.clone(), old, new], keys, NOW),
            Verdict::Valid { until: NOW + 600 }
        );
    }

    #[test]
    fn a_signature_no_zone_key_verifies_is_bogus() {
        let (name, soa, key, dnskey) = zone();
        let sig = rrsig(&name, &soa, &key, &dnskey, NOW - 3600, NOW + 86_400);
        // Another key, a changed SOA, or no signature at all.
        let (_, _, _, other) = zone();
        assert_eq!(verdict(&name, RecordType::SOA, &[soa.clone(), sig.clone()], &[other], NOW), Verdict::Bogus);
        let mut edited = soa.clone();
        if let RData::SOA(s) = &mut edited.data {
            s.serial = 2;
        }
        assert_eq!(verdict(&name, RecordType::SOA, &[edited, sig], std::slice::from_ref(&dnskey), NOW), Verdict::Bogus);
        assert_eq!(verdict(&name, RecordType::SOA, &[soa], &[dnskey], NOW), Verdict::Bogus);
    }
}
