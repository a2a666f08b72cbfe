//! PowerDNS Authoritative, set up from `contrib/powerdns/`, where it answers differently from
//! Knot and BIND: `check` names it and words each missing piece of its setup as a PowerDNS
//! administrator knows it (the zone's TSIG-ALLOW-DNSUPDATE and ALLOW-DNSUPDATE-FROM metadata,
//! `dnsupdate=yes`); a wrong key gets an unsigned REFUSED, which ddns-cgi answers `dnserr`;
//! the serial goes up by one per accepted UPDATE (SOA-EDIT-DNSUPDATE INCREASE) and not for
//! `check`'s probes; read-back from the server itself. The modules that send updates run
//! against PowerDNS in their own pass (`DDNS_TEST_DNS=powerdns`, scripts/test.sh); these tests
//! run in every pass.

use std::os::unix::fs::PermissionsExt as _;

use crate::util::{DnsKind, Setup, TsigKey, World, ZONE};

const HOME: &str = "home.dyn.example.test";

fn powerdns() -> Option<World> {
    let w = World::new(Setup { kind: DnsKind::PowerDns, ..Setup::default() })?;
    std::fs::set_permissions(&w.config, std::fs::Permissions::from_mode(0o600)).expect("chmod config");
    Some(w)
}

/// Runs `check`; returns the exit code and the lines about the zone.
fn check_zone(w: &World) -> (Option<i32>, Vec<String>) {
    let r = w.admin(&["check"]);
    let lines = r.stdout().lines().filter(|l| l.contains(&format!("zone `{ZONE}`"))).map(str::to_owned).collect();
    (r.code(), lines)
}

fn failures(lines: &[String]) -> Vec<&str> {
    lines.iter().filter(|l| l.starts_with("FAIL")).map(String::as_str).collect()
}

/// Changes the zone's metadata as its administrator would, and restarts the server so no
/// cached copy of the old value answers.
fn set_meta(w: &mut World, args: &[&str]) {
    let mut all = vec!["set-meta", ZONE];
    all.extend_from_slice(args);
    w.dns.pdnsutil(&all);
    w.dns.restart();
}

#[test]
fn check_names_powerdns_and_passes_on_the_shipped_setup() {
    let w = world!(powerdns());
    let serial = w.dns.serial();
    let (code, lines) = check_zone(&w);
    let addr = w.dns.addr();
    let version = lines.get(2).and_then(|l| l.split('`').nth(3)).unwrap_or_default().to_owned();
    assert!(version.starts_with("PowerDNS Authoritative Server "), "{lines:#?}");
    let clock = lines.iter().position(|l| l.contains("clocks agree")).unwrap_or(usize::MAX);
    let shown: Vec<String> =
        lines.iter().enumerate().map(|(i, l)| if i == clock { "CLOCK".to_owned() } else { l.clone() }).collect();
    assert_eq!(
        shown,
        [
            format!("ok    zone `{ZONE}`: DNS server {addr} answers"),
            format!("ok    zone `{ZONE}`: {addr} is authoritative for it (SOA serial {serial})"),
            format!(
                "ok    zone `{ZONE}`: {addr} is PowerDNS (`{version}`); it allows updates by the zone's metadata (contrib/powerdns/)"
            ),
            format!(
                "ok    zone `{ZONE}`: {addr} accepts updates signed with key `ddns-key.` (an UPDATE that changes nothing)"
            ),
            "CLOCK".to_owned(),
            format!("ok    zone `{ZONE}`: {addr} refuses an UPDATE without TSIG (answered REFUSED)"),
            format!(
                "ok    zone `{ZONE}`: not signed (no DNSKEY, no RRSIG on the SOA); to sign it, see the DNSSEC variants in contrib/"
            ),
        ]
    );
    assert_eq!(code, Some(0));
    // Neither probe changed anything: PowerDNS rolls an UPDATE without changes back, serial
    // and all.
    assert_eq!(w.dns.serial(), serial);
    assert!(w.a(&format!("_ddns-cgi-check.{ZONE}")).is_empty());
}

#[test]
fn check_words_each_missing_piece_in_powerdns_terms() {
    let mut w = world!(powerdns());
    let addr = w.dns.addr();
    let refused = format!(
        "FAIL  zone `{ZONE}`: {addr} refused an update signed with key `ddns-key.`: {addr} answered REFUSED; PowerDNS refuses a verified UPDATE when pdns.conf lacks `dnsupdate=yes`, when the zone's TSIG-ALLOW-DNSUPDATE metadata does not name `ddns-key`, or when ddns-cgi's address is in neither the zone's ALLOW-DNSUPDATE-FROM nor pdns.conf's `allow-dnsupdate-from` (`pdnsutil get-meta {ZONE}`; contrib/powerdns/ddns-cgi-zone.sh); its log names the last two"
    );

    // No TSIG-ALLOW-DNSUPDATE: PowerDNS takes signed updates, and unsigned ones too.
    set_meta(&mut w, &["TSIG-ALLOW-DNSUPDATE"]);
    let (code, lines) = check_zone(&w);
    assert_eq!(
        failures(&lines),
        [format!(
            "FAIL  zone `{ZONE}`: {addr} accepts an UPDATE without TSIG (an UPDATE that changes nothing): anyone who reaches it from here can change the zone; PowerDNS takes them from every address ALLOW-DNSUPDATE-FROM or `allow-dnsupdate-from` allows while the zone has no TSIG-ALLOW-DNSUPDATE metadata: `pdnsutil set-meta {ZONE} TSIG-ALLOW-DNSUPDATE ddns-key`"
        )]
    );
    assert_eq!(code, Some(2));
    // What the line says to do makes the check pass.
    set_meta(&mut w, &["TSIG-ALLOW-DNSUPDATE", "ddns-key"]);
    let (code, lines) = check_zone(&w);
    assert_eq!((code, failures(&lines)), (Some(0), vec![]));

    // Another key named in TSIG-ALLOW-DNSUPDATE.
    set_meta(&mut w, &["TSIG-ALLOW-DNSUPDATE", "other-key"]);
    let (code, lines) = check_zone(&w);
    assert_eq!((code, failures(&lines)), (Some(2), vec![refused.as_str()]));
    w.update(&format!("hostname={HOME}&myip=192.0.2.7")).expect(200, "dnserr\n");
    set_meta(&mut w, &["TSIG-ALLOW-DNSUPDATE", "ddns-key"]);

    // No ALLOW-DNSUPDATE-FROM, and the shipped pdns.conf allows no address.
    set_meta(&mut w, &["ALLOW-DNSUPDATE-FROM"]);
    let (code, lines) = check_zone(&w);
    assert_eq!((code, failures(&lines)), (Some(2), vec![refused.as_str()]));
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.7"));
    r.expect(200, "dnserr\n");
    assert!(r.log.contains("answered REFUSED"), "{}", r.log);
    set_meta(&mut w, &["ALLOW-DNSUPDATE-FROM", "127.0.0.1/32"]);

    // `dnsupdate=no` (PowerDNS's default): REFUSED, and nothing in its log.
    let off = w.dns.dir().join("pdns.d/zz-dnsupdate-off.conf");
    std::fs::write(&off, "dnsupdate=no\n").expect("write pdns.d file");
    w.dns.restart();
    let (code, lines) = check_zone(&w);
    assert_eq!((code, failures(&lines)), (Some(2), vec![refused.as_str()]));
    std::fs::remove_file(&off).expect("remove pdns.d file");
    w.dns.restart();
    assert_eq!(check_zone(&w).0, Some(0));
    w.update(&format!("hostname={HOME}&myip=192.0.2.7")).expect(200, "good 192.0.2.7\n");
    assert_eq!(w.a(HOME), ["192.0.2.7"]);
}

#[test]
fn a_wrong_key_gets_an_unsigned_refused_named_in_check_and_dnserr_in_updates() {
    let w = world!(powerdns());
    let addr = w.dns.addr();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let hint = "PowerDNS answers so (unsigned, where RFC 8945 has NOTAUTH) when it has no key `KEY` with this algorithm and secret: compare `pdnsutil list-tsig-keys` with ddns-cgi's key, or import it (`pdnsutil import-tsig-key`, contrib/powerdns/ddns-cgi-zone.sh)";
    // A wrong secret, then a key PowerDNS does not have: the same unsigned REFUSED, which
    // RFC 8945 §5.3.1 would have as NOTAUTH with BADSIG or BADKEY.
    let other = TsigKey::generate("ddns-key.", "hmac-sha256");
    for (line, key) in [(other.line(), "ddns-key"), (w.key.line().replace("ddns-key.", "other-key."), "other-key")] {
        w.edit_config(|t| {
            let old = t.lines().find(|l| l.starts_with("tsig_key = ")).expect("tsig_key line").to_owned();
            t.replace(&old, &format!("tsig_key = \"{line}\""))
        });
        let (code, lines) = check_zone(&w);
        assert_eq!(
            failures(&lines),
            [format!(
                "FAIL  zone `{ZONE}`: {addr} refused an update signed with key `{key}.`: {addr} answered REFUSED, but the answer failed TSIG verification (proto error: missing tsig from response that must be authenticated); it may be forged; {}",
                hint.replace("KEY", key)
            )]
        );
        assert_eq!(code, Some(2));
        let r = w.update(&format!("hostname={HOME}&myip=192.0.2.2"));
        r.expect(200, "dnserr\n");
        assert!(r.log.contains("answered REFUSED, but the answer failed TSIG verification"), "{}", r.log);
        assert_eq!(w.a(HOME), ["192.0.2.1"]);
        assert_eq!(w.stored(HOME), (Some("192.0.2.1".into()), None));
    }
}

#[test]
fn the_serial_goes_up_by_one_per_update_and_read_back_waits_for_it() {
    let w = world!(powerdns());
    // Read-back from the primary itself: PowerDNS serves the new serial once it answered.
    let addr = w.dns.addr();
    w.edit_config(|t| t.replacen("timeout_ms = 1500\n", &format!("timeout_ms = 1500\nconfirm = [\"{addr}\"]\n"), 1));
    let serial = w.dns.serial();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8::1")).expect(200, "good 192.0.2.1 2001:db8::1\n");
    // One UPDATE, both families: one step (SOA-EDIT-DNSUPDATE INCREASE in the shipped script).
    assert_eq!(w.dns.serial(), serial + 1);
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.2"));
    r.expect(200, "good 192.0.2.2\n");
    assert!(r.log.contains("every secondary serves serial"), "{}", r.log);
    assert_eq!(w.dns.serial(), serial + 2);
    // `nochg` sends nothing; `offline` deletes both rrsets in one step.
    w.update(&format!("hostname={HOME}&myip=192.0.2.2")).expect(200, "nochg 192.0.2.2\n");
    assert_eq!(w.dns.serial(), serial + 2);
    w.update(&format!("hostname={HOME}&offline=yes")).expect(200, "good\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec![], vec![]));
    assert_eq!(w.dns.serial(), serial + 3);
}
