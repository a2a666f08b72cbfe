//! Per-host address families against a real Knot (the DDnsBroker's "IPv4 enabled" / "IPv6
//! enabled"): a family switched off is ignored in updates (not published, not stored, said in
//! the log line, left out of the answer), an update of that family alone answers `nochg`,
//! switching a family off removes its record in one update, the listings show the switches,
//! and the hostnames that follow a prefix follow their own switches.

use serde_json::Value;

use crate::util::{USER, World, ZONE};

const V4: &str = "v4.dyn.example.test";
const HOME: &str = "home.dyn.example.test";

#[test]
fn a_family_switched_off_is_ignored_for_that_host_and_said_so() {
    let w = world!(World::knot());
    w.admin(&["hostname", "add", USER, V4, ZONE, "--ipv6", "off"]).success();
    let r = w.update(&format!("hostname={V4}&myip=192.0.2.1,2001:db8::1"));
    r.expect(200, "good 192.0.2.1\n");
    assert!(
        r.log.contains(&format!(
            "{V4}: updated (ipv4=192.0.2.1 ipv6=-, ttl 60); ipv6 `2001:db8::1` ignored: off for this host"
        )),
        "{}",
        r.log
    );
    assert_eq!((w.a(V4), w.aaaa(V4)), (vec!["192.0.2.1".to_owned()], Vec::<String>::new()));
    assert_eq!(w.stored(V4), (Some("192.0.2.1".to_owned()), None));
    // The switched-off family alone: nothing to do, and a router must not retry.
    let r = w.update(&format!("hostname={V4}&myip=2001:db8::2"));
    r.expect(200, "nochg\n");
    assert!(r.log.contains("ipv6 `2001:db8::2` ignored: off for this host"), "{}", r.log);
    assert!(w.aaaa(V4).is_empty());
    assert_eq!(w.stored(V4), (Some("192.0.2.1".to_owned()), None));
    // Even when the host is offline: it stays so.
    w.update(&format!("hostname={V4}&offline=yes")).expect(200, "good\n");
    w.update(&format!("hostname={V4}&myip=2001:db8::2")).expect(200, "nochg\n");
    assert!(w.a(V4).is_empty());
    let offline = w.rows(&format!("SELECT offline FROM hostnames WHERE fqdn = '{V4}'"));
    assert_eq!(offline, [[Some("1".to_owned())]]);
    // `hostname set` of a switched-off family is refused.
    let r = w.admin(&["hostname", "set", V4, "--ipv6", "2001:db8::3"]);
    assert_eq!(
        (r.code(), r.stderr()),
        (Some(2), format!("error: `{V4}` has ipv6 off; turn it on first (`hostname modify {V4} --ipv6 on`)\n"))
    );
}

#[test]
fn switching_a_family_off_removes_its_record_and_the_listing_shows_it() {
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8::1")).expect(200, "good 192.0.2.1 2001:db8::1\n");
    let r = w.admin(&["hostname", "modify", HOME, "--ipv4", "off"]);
    assert_eq!(r.success().stdout(), format!("hostname `{HOME}` now has dns_ttl 60 and expiry_ttl 3600, ipv4 off\n"));
    assert!(w.a(HOME).is_empty());
    assert_eq!(w.dns.query_with_ttl(HOME, "AAAA"), [(60, "2001:db8::1".to_owned())]);
    assert_eq!(w.stored(HOME), (None, Some("2001:db8::1".to_owned())));
    let table = w.admin(&["hostname", "list"]).success().stdout();
    let line = table.lines().find(|l| l.starts_with(HOME)).unwrap_or_default();
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(cells.get(5..7), Some(&["off", "2001:db8::1"][..]), "{table}");
    let hosts: Value =
        serde_json::from_str(&w.admin(&["hostname", "list", "--json"]).success().stdout()).expect("json");
    let home = &hosts[0];
    assert_eq!(
        (&home["ipv4_enabled"], &home["ipv6_enabled"], &home["ipv4"]),
        (&Value::Bool(false), &Value::Bool(true), &Value::Null)
    );
    // Updates now leave A alone; on again, they set it.
    w.update(&format!("hostname={HOME}&myip=192.0.2.2,2001:db8::1")).expect(200, "nochg 2001:db8::1\n");
    assert!(w.a(HOME).is_empty());
    w.admin(&["hostname", "modify", HOME, "--ipv4", "on"]).success();
    w.update(&format!("hostname={HOME}&myip=192.0.2.2,2001:db8::1")).expect(200, "good 192.0.2.2 2001:db8::1\n");
    assert_eq!(w.a(HOME), ["192.0.2.2"]);
}

#[test]
fn fan_out_children_follow_their_own_families() {
    let w = world!(World::knot());
    let cam = "cam.dyn.example.test";
    w.admin(&["hostname", "derive", HOME, cam, "--ipv6-iid", "::c", "--ipv4", "0.0.0.10/24"]).success();
    w.admin(&["hostname", "modify", cam, "--ipv6", "off"]).success();
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1&ipv6prefix=2001:db8:1:2::/64"));
    r.expect(200, "good 192.0.2.1\n");
    assert_eq!((w.a(cam), w.aaaa(cam)), (vec!["192.0.2.10".to_owned()], Vec::<String>::new()));
    assert_eq!(w.stored(cam), (Some("192.0.2.10".to_owned()), None));
    assert!(r.log.contains("ipv6 `2001:db8:1:2::c` ignored: off for this host"), "{}", r.log);
}
