//! Dynamic hosts in DNSSEC-signed zones, against Knot (`dnssec-signing: on`), BIND
//! (`dnssec-policy default; inline-signing yes;`) and PowerDNS (`pdnsutil secure-zone`, live
//! signing) started from the shipped snippets' DNSSEC variants: every update (A, AAAA, TXT), fan-out, offline, expiry and a group-committed
//! multi-host message comes out signed, and `delv`, given the zone's own trust anchor, fully
//! validates the new records and the proofs that removed ones are gone (NXDOMAIN or NODATA).
//! `ddns-cgi check` says so on those zones, fails a zone whose signatures expired, warns of
//! NSEC3 opt-out, and judges the parent's DS (missing, matching, stale) as a resolver serves
//! it (the unsigned verdict is in `check`'s own test). [`batch`] holds the FastCGI group commit and BIND's inline-signing lag under
//! read-back.
//! One signed server per test, reused for every step, keeps the suite's time modest.

use crate::util::dnsserver::{Signing, Validated};
use crate::util::{DnsKind, DnsServer, Setup, World, ZONE, epoch};

mod batch;

pub(crate) const HOME: &str = "home.dyn.example.test";
const PC: &str = "pc.dyn.example.test";
const NAS: &str = "nas.dyn.example.test";
const OFF: &str = "off.dyn.example.test";
const OLD: &str = "old.dyn.example.test";

/// A world like [`World::new`]'s whose DNS server signs the zone.
pub(crate) fn signed_world(kind: DnsKind, hosts: &[&str], extra: &str) -> Option<World> {
    world_on(kind, hosts, extra, Signing::Live)
}

/// A world like [`World::new`]'s whose DNS server serves the zone signed as `signing` says.
fn world_on(kind: DnsKind, hosts: &[&str], extra: &str, signing: Signing) -> Option<World> {
    let mut w = World::new(Setup { kind, extra_config: extra, hosts })?;
    let zones = [format!("{ZONE}.")];
    let zones = [zones[0].as_str()];
    let signed = match signing {
        Signing::Live => DnsServer::start_signed(kind, &zones, &w.key)?,
        Signing::Expired | Signing::OptOut => DnsServer::start_signed_by_hand(kind, &zones, &w.key, signing)?,
        Signing::Unsigned => panic!("use World::new"),
    };
    let old = w.dns.addr().to_string();
    w.edit_config(|c| c.replace(&old, &signed.addr().to_string()));
    w.dns = signed;
    Some(w)
}

fn records(values: &[&str]) -> Validated {
    Validated::Records(values.iter().map(|v| (*v).to_owned()).collect())
}

/// A validated proof that `fqdn` has no `rtype` records: NXDOMAIN or NODATA.
#[track_caller]
fn absent(w: &World, fqdn: &str, rtype: &str) {
    let v = w.dns.validated(fqdn, rtype);
    assert!(matches!(v, Validated::NxDomain | Validated::NoData), "{fqdn} {rtype}: {v:?}");
}

/// `ddns-cgi check`'s output, the config made private first (it holds the TSIG secret).
pub(crate) fn check(w: &World) -> crate::util::Run {
    std::fs::set_permissions(&w.config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod config");
    w.admin(&["check"])
}

/// Every kind of change ddns-cgi sends, in one signed zone, each validated.
fn updates_validate(kind: DnsKind) {
    let w = world!(signed_world(kind, &[HOME, OFF, OLD], ""));
    // The zone itself validates from its trust anchor before anything changes.
    assert!(matches!(w.dns.validated(ZONE, "SOA"), Validated::Records(r) if r.len() == 1));
    absent(&w, HOME, "A");

    // Dual stack with a fan-out: the parent and its children in one message.
    for (child, iid) in [(PC, "::5"), (NAS, "::6")] {
        w.admin(&["hostname", "derive", HOME, child, "--ipv6-iid", iid]).success();
    }
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8:1:2::1&ipv6prefix=2001:db8:1:2::/64"));
    assert!(r.body.starts_with("good 192.0.2.1"), "{}\n{}", r.body, r.log);
    assert!(r.log.contains("3 hostnames: DNS exchange"), "{}", r.log);
    assert_eq!(w.dns.validated(HOME, "A"), records(&["192.0.2.1"]));
    assert_eq!(w.dns.validated(HOME, "AAAA"), records(&["2001:db8:1:2::1"]));
    assert_eq!(w.dns.validated(PC, "AAAA"), records(&["2001:db8:1:2::5"]));
    assert_eq!(w.dns.validated(NAS, "AAAA"), records(&["2001:db8:1:2::6"]));
    // A name between two hosts, and a type a host lacks, are proven absent.
    absent(&w, "nobody.dyn.example.test", "A");
    absent(&w, PC, "A");

    // A new address replaces the old one, signed anew.
    w.update(&format!("hostname={HOME}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    assert_eq!(w.dns.validated(HOME, "A"), records(&["192.0.2.2"]));

    // TXT, set and removed.
    w.update(&format!("hostname={HOME}&txt=hello%20world")).expect(200, "good\n");
    assert_eq!(w.dns.validated(HOME, "TXT"), records(&["\"hello world\""]));
    w.update(&format!("hostname={HOME}&txt=")).expect(200, "good\n");
    absent(&w, HOME, "TXT");
    assert_eq!(w.dns.validated(HOME, "A"), records(&["192.0.2.2"]));

    // Offline: the name's records go, and their absence is proven.
    w.update(&format!("hostname={OFF}&myip=192.0.2.9,2001:db8::9")).expect(200, "good 192.0.2.9 2001:db8::9\n");
    assert_eq!(w.dns.validated(OFF, "A"), records(&["192.0.2.9"]));
    w.update(&format!("hostname={OFF}&offline=yes")).expect(200, "good\n");
    absent(&w, OFF, "A");
    absent(&w, OFF, "AAAA");

    // Expiry: a host not updated within its expiry time loses its records.
    w.admin(&["hostname", "modify", OLD, "--expiry-ttl", "60"]).success();
    let t0 = epoch();
    w.update(&format!("hostname={OLD}&myip=192.0.2.7")).expect(200, "good 192.0.2.7\n");
    assert_eq!(w.dns.validated(OLD, "A"), records(&["192.0.2.7"]));
    let run = w.expire(t0 + 120);
    assert!(run.success().stdout().starts_with("expired 1 hostnames"), "{}", run.stdout());
    absent(&w, OLD, "A");

    // What stayed still validates, and the zone's own keys and proofs are untouched.
    assert_eq!(w.dns.validated(HOME, "A"), records(&["192.0.2.2"]));
    assert_eq!(w.dns.validated(PC, "AAAA"), records(&["2001:db8:1:2::5"]));
    assert!(matches!(w.dns.validated(ZONE, "DNSKEY"), Validated::Records(r) if !r.is_empty()));

    // `check` sees a signed zone whose signatures verify, for days to come.
    let r = check(&w);
    let line = r.stdout().lines().find(|l| l.contains(": signed")).map(str::to_owned);
    let prefix = format!("ok    zone `{ZONE}`: signed (");
    assert!(line.as_deref().is_some_and(|l| l.starts_with(&prefix)), "{}", r.stdout());
    assert!(line.as_deref().is_some_and(|l| l.contains("DNSKEY verify, valid until")), "{}", r.stdout());
    assert_eq!(r.code(), Some(0), "{}{}", r.stdout(), r.stderr());
}

/// `check` on a zone signed by hand whose signatures expired an hour ago: it names the
/// expiry and exits 2; delv agrees the zone does not validate.
#[test]
fn check_fails_a_zone_whose_signatures_expired() {
    let w = world!(world_on(DnsKind::Knot, &[HOME], "", Signing::Expired));
    let r = check(&w);
    let expected = format!("FAIL  zone `{ZONE}`: signed, but the signatures over its SOA expired 60 min ago (");
    assert!(r.stdout().lines().any(|l| l.starts_with(&expected)), "{}", r.stdout());
    assert_eq!(r.code(), Some(2), "{}{}", r.stdout(), r.stderr());
    let delv = w.dns.delv(ZONE, "SOA");
    assert!(!delv.contains("fully validated") && delv.contains("expired"), "{delv}");
}

/// `check` on a zone signed with NSEC3 opt-out, with `[dns] resolver` pointing at a PowerDNS
/// serving the parent zone: the signatures verify and opt-out is named; the parent's DS is
/// missing (warn), then the zone's own (ok), then one of another key (FAIL).
#[test]
fn check_warns_of_nsec3_opt_out_and_judges_the_parents_ds() {
    let w = world!(world_on(DnsKind::Knot, &[HOME], "", Signing::OptOut));
    let Some(mut parent) = DnsServer::start(DnsKind::PowerDns, &["example.test."], &w.key) else { return };
    let resolver = parent.addr();
    w.edit_config(|c| c.replacen("timeout_ms = 1500\n", &format!("timeout_ms = 1500\nresolver = \"{resolver}\"\n"), 1));
    let zone_lines = |w: &World| {
        let r = check(w);
        let lines: Vec<String> =
            r.stdout().lines().filter(|l| l.contains(&format!("zone `{ZONE}`: "))).map(str::to_owned).collect();
        (r.code(), lines)
    };
    let (code, lines) = zone_lines(&w);
    // The DNSSEC lines come last among the zone's.
    let expected = [
        format!(
            "ok    zone `{ZONE}`: signed (2 DNSKEY(s)); the signatures over its SOA and DNSKEY verify, valid until "
        ),
        format!(
            "warn  zone `{ZONE}`: NSEC3 with opt-out: validators take the absence of an offline or expired host as insecure, not proven; "
        ),
        format!(
            "warn  zone `{ZONE}`: the parent zone has no DS record for it (resolver {resolver}); validators treat the zone as unsigned: "
        ),
    ];
    let dnssec = &lines[lines.len().saturating_sub(expected.len())..];
    assert!(dnssec.len() == expected.len(), "{lines:#?}");
    for (line, prefix) in dnssec.iter().zip(&expected) {
        assert!(line.starts_with(prefix.as_str()), "{line}\nexpected {prefix}");
    }
    assert_eq!(code, Some(0), "{lines:#?}");

    // The parent gets the zone's DS (restarted, so no cached denial answers).
    let ds = w.dns.ds(ZONE);
    assert_eq!(ds.len(), 1, "{ds:?}");
    parent.pdnsutil(&["add-record", "example.test", "dyn", "DS", &ds[0]]);
    parent.restart();
    let tag = ds[0].split(' ').next().unwrap_or_default();
    let (code, lines) = zone_lines(&w);
    let ok = format!(
        "ok    zone `{ZONE}`: the parent zone holds a DS record for key {tag} (resolver {resolver}): validators can see the zone as secure"
    );
    assert_eq!(lines.last(), Some(&ok), "{lines:#?}");
    assert_eq!(code, Some(0), "{lines:#?}");

    // A DS whose digest is of no key the zone has: validators would answer SERVFAIL.
    let last = if ds[0].ends_with('0') { '1' } else { '0' };
    let stale = format!("{}{last}", &ds[0][..ds[0].len() - 1]);
    parent.pdnsutil(&["replace-rrset", "example.test", "dyn", "DS", &stale]);
    parent.restart();
    let (code, lines) = zone_lines(&w);
    let fail = format!("FAIL  zone `{ZONE}`: the parent zone's DS records (key tags {tag}) match none");
    assert!(lines.last().is_some_and(|l| l.starts_with(&fail)), "{lines:#?}");
    assert_eq!(code, Some(2), "{lines:#?}");
}

#[test]
fn knot_signs_every_change_and_delv_validates_it() {
    updates_validate(DnsKind::Knot);
}

#[test]
fn bind_signs_every_change_and_delv_validates_it() {
    updates_validate(DnsKind::Bind);
}

#[test]
fn powerdns_signs_every_change_and_delv_validates_it() {
    updates_validate(DnsKind::PowerDns);
}

/// The shipped update policies let ddns-cgi's key change A, AAAA and TXT records only, in the
/// unsigned and the signed variant: never the DNSSEC records (RRSIG, NSEC, NSEC3, DNSKEY) the
/// server maintains. Uncommenting the DNSSEC lines must not widen them.
#[test]
fn the_shipped_update_policies_allow_only_a_aaaa_and_txt() {
    let knot = include_str!("../../../contrib/knot/ddns-cgi.conf");
    let bind = include_str!("../../../contrib/bind/named.conf.ddns-cgi");
    let active = |text: &str, comment: &str| -> Vec<String> {
        text.lines().filter(|l| !l.trim_start().starts_with(comment)).map(str::to_owned).collect()
    };
    let knot_types: Vec<String> = active(knot, "#").into_iter().filter(|l| l.contains("update-type")).collect();
    assert_eq!(knot_types, ["    update-type: [A, AAAA, TXT]"]);
    let bind_grants: Vec<String> = active(bind, "//").into_iter().filter(|l| l.contains("grant")).collect();
    assert_eq!(bind_grants, ["\tupdate-policy { grant ddns-key zonesub A AAAA TXT; };"]);
    for (text, comment) in [(knot, "#"), (bind, "//")] {
        for l in active(text, comment) {
            for rtype in ["RRSIG", "NSEC", "DNSKEY", "ANY"] {
                assert!(!l.contains(rtype), "a shipped policy line names {rtype}: {l}");
            }
        }
    }
}
