//! The dyndns2 answers, checked as exact bodies and then against the DNS server's records.

use crate::util::{Cgi, DnsKind, PASSWORD, Setup, USER, World, ZONE};
use crate::world;

const HOME: &str = "home.dyn.example.test";

/// Runs `test` against Knot and BIND (PowerDNS in the PowerDNS pass).
fn both_kinds(test: impl Fn(World)) {
    for kind in DnsKind::each() {
        let w = world!(World::new(Setup { kind, ..Setup::default() }));
        test(w);
    }
}

#[test]
fn good_then_nochg_on_knot_and_bind() {
    both_kinds(|w| {
        w.update(&format!("hostname={HOME}&myip=192.0.2.10")).expect(200, "good 192.0.2.10\n");
        assert_eq!(w.a(HOME), ["192.0.2.10"]);
        assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(60, "192.0.2.10".to_owned())]);
        let r = w.update(&format!("hostname={HOME}&myip=192.0.2.10"));
        r.expect(200, "nochg 192.0.2.10\n");
        assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
        // A change replaces the rrset: the old address is gone, not accumulated.
        w.update(&format!("hostname={HOME}&myip=192.0.2.11")).expect(200, "good 192.0.2.11\n");
        assert_eq!(w.a(HOME), ["192.0.2.11"]);
        assert_eq!(w.stored(HOME), (Some("192.0.2.11".into()), None));
    });
}

#[test]
fn dual_stack_in_one_myip_and_ipv6_first() {
    both_kinds(|w| {
        w.update(&format!("hostname={HOME}&myip=192.0.2.20,2001:db8::20"))
            .expect(200, "good 192.0.2.20 2001:db8::20\n");
        assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["192.0.2.20".to_owned()], vec!["2001:db8::20".to_owned()]));
        w.update(&format!("hostname={HOME}&myip=2001:db8::21,192.0.2.20"))
            .expect(200, "good 192.0.2.20 2001:db8::21\n");
        assert_eq!(w.aaaa(HOME), ["2001:db8::21"]);
        assert_eq!(w.a(HOME), ["192.0.2.20"]);
    });
}

#[test]
fn only_the_supplied_family_changes() {
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.30,2001:db8::30")).expect(200, "good 192.0.2.30 2001:db8::30\n");
    w.update(&format!("hostname={HOME}&myip6=2001:db8::31")).expect(200, "good 2001:db8::31\n");
    assert_eq!(w.a(HOME), ["192.0.2.30"]);
    assert_eq!(w.aaaa(HOME), ["2001:db8::31"]);
    w.update(&format!("hostname={HOME}&myip=192.0.2.30")).expect(200, "nochg 192.0.2.30\n");
    assert_eq!(w.stored(HOME), (Some("192.0.2.30".into()), Some("2001:db8::31".into())));
}

#[test]
fn empty_myip_counts_as_absent() {
    let w = world!(World::knot());
    // ddclient with only `usev6` sends `myip=` empty.
    w.update(&format!("hostname={HOME}&myip=&myip6=2001:db8::40")).expect(200, "good 2001:db8::40\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec![], vec!["2001:db8::40".to_owned()]));
    // Nothing at all: the client address is used.
    w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=")).basic(USER, PASSWORD).remote("203.0.113.41"))
        .expect(200, "good 203.0.113.41\n");
    assert_eq!(w.a(HOME), ["203.0.113.41"]);
}

#[test]
fn client_address_fallback_ipv4_and_ipv6() {
    let w = world!(World::knot());
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, PASSWORD).remote("203.0.113.50"))
        .expect(200, "good 203.0.113.50\n");
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, PASSWORD).remote("2001:db8::50"))
        .expect(200, "good 2001:db8::50\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["203.0.113.50".to_owned()], vec!["2001:db8::50".to_owned()]));
}

#[test]
fn proxy_header_only_from_trusted_proxies() {
    let w = world!(World::new(Setup {
        extra_config: "[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n",
        ..Setup::default()
    }));
    let req = |remote: &str, xff: &str| {
        Cgi::get(&format!("hostname={HOME}")).basic(USER, PASSWORD).remote(remote).env("HTTP_X_FORWARDED_FOR", xff)
    };
    // Trusted proxy: the right-most untrusted entry is the client, the spoofed one is ignored.
    w.cgi(&req("127.0.0.1", "6.6.6.6, 203.0.113.60")).expect(200, "good 203.0.113.60\n");
    assert_eq!(w.a(HOME), ["203.0.113.60"]);
    // Untrusted peer: its header is ignored, its own address counts.
    w.cgi(&req("198.51.100.61", "203.0.113.99")).expect(200, "good 198.51.100.61\n");
    assert_eq!(w.a(HOME), ["198.51.100.61"]);
    // Through the proxy but without the header: refused, not the proxy's address published.
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, PASSWORD).remote("127.0.0.1")).expect(200, "badip\n");
    assert_eq!(w.a(HOME), ["198.51.100.61"]);
}

#[test]
fn multiple_hosts_mixed_results() {
    let w = world!(World::new(Setup { hosts: &["a.dyn.example.test", "b.dyn.example.test"], ..Setup::default() }));
    w.add_user("bob", "bobs-password");
    w.admin(&["hostname", "add", "bob", "bob.dyn.example.test", ZONE]).success();
    w.update("hostname=b.dyn.example.test&myip=192.0.2.70").expect(200, "good 192.0.2.70\n");
    w.update("hostname=a.dyn.example.test,b.dyn.example.test,missing.dyn.example.test,bob.dyn.example.test,bad_name.x,A.DYN.example.test.&myip=192.0.2.70")
        .expect(200, "good 192.0.2.70\nnochg 192.0.2.70\nnohost\nnohost\nnotfqdn\nnochg 192.0.2.70\n");
    assert_eq!(
        (w.a("a.dyn.example.test"), w.a("b.dyn.example.test")),
        (vec!["192.0.2.70".to_owned()], vec!["192.0.2.70".to_owned()])
    );
    assert_eq!(w.stored("a.dyn.example.test"), (Some("192.0.2.70".to_owned()), None));
    // Another user's host is not touched.
    assert!(w.a("bob.dyn.example.test").is_empty());
    assert_eq!(w.stored("bob.dyn.example.test"), (None, None));
}

#[test]
fn idn_trailing_dot_and_upper_case() {
    let w = world!(World::new(Setup { hosts: &["bücher.dyn.example.test"], ..Setup::default() }));
    let puny = "xn--bcher-kva.dyn.example.test";
    w.update("hostname=B%C3%BCcher.DYN.example.test.&myip=192.0.2.80").expect(200, "good 192.0.2.80\n");
    assert_eq!(w.a(puny), ["192.0.2.80"]);
    w.update(&format!("hostname={}&myip=192.0.2.80", puny.to_uppercase())).expect(200, "nochg 192.0.2.80\n");
}

#[test]
fn nohost_notfqdn_numhost_badip() {
    let w = world!(World::knot());
    w.update("hostname=nobody.dyn.example.test&myip=192.0.2.1").expect(200, "nohost\n");
    w.update("hostname=no-dots&myip=192.0.2.1").expect(200, "notfqdn\n");
    w.update("myip=192.0.2.1").expect(200, "notfqdn\n");
    let many = vec![HOME; 21].join(",");
    w.update(&format!("hostname={many}&myip=192.0.2.1")).expect(200, "numhost\n");
    w.update(&format!("hostname={HOME}&myip=192.0.2.300")).expect(200, "badip\n");
    w.update(&format!("hostname={HOME}&myip6=192.0.2.1")).expect(200, "badip\n");
    w.update(&format!("hostname={HOME}&myip=224.0.0.1")).expect(200, "badip\n");
    assert!(w.a(HOME).is_empty());
    assert_eq!(w.stored(HOME), (None, None));
}

#[test]
fn post_form_body() {
    let w = world!(World::knot());
    let req = Cgi::get("")
        .basic(USER, PASSWORD)
        .post("application/x-www-form-urlencoded", &format!("hostname={HOME}&myip=192.0.2.90"));
    w.cgi(&req).expect(200, "good 192.0.2.90\n");
    assert_eq!(w.a(HOME), ["192.0.2.90"]);
    let req = Cgi::get("").basic(USER, PASSWORD).post("application/json", "{}");
    w.cgi(&req).expect(200, "badagent\n");
}

#[test]
fn unknown_endpoint_and_method() {
    let w = world!(World::knot());
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, PASSWORD).path("/other")).expect(404, "badagent\n");
    let mut put = Cgi::get(&format!("hostname={HOME}")).basic(USER, PASSWORD);
    put.method = "PUT".into();
    let r = w.cgi(&put);
    r.expect(405, "badagent\n");
    assert_eq!(r.header("Allow"), Some("GET, POST"));
    // Both default endpoints work.
    w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.91")).basic(USER, PASSWORD).path("/update"))
        .expect(200, "good 192.0.2.91\n");
    assert_eq!(w.a(HOME), ["192.0.2.91"]);
}

#[test]
fn json_answers() {
    let w = world!(World::knot());
    let json = |q: &str| Cgi::get(q).basic(USER, PASSWORD).env("HTTP_ACCEPT", "application/json");
    let r = w.cgi(&json(&format!("hostname={HOME}&myip=192.0.2.95")));
    r.expect(
        200,
        "{\"status\":\"good\",\"hostname\":\"home.dyn.example.test\",\"ipv4\":\"192.0.2.95\",\"ipv6\":null}\n",
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    w.cgi(&json(&format!("hostname={HOME},x.dyn.example.test&myip=192.0.2.95")))
        .expect(200, "[{\"status\":\"nochg\",\"hostname\":\"home.dyn.example.test\",\"ipv4\":\"192.0.2.95\",\"ipv6\":null},{\"status\":\"nohost\",\"hostname\":\"x.dyn.example.test\",\"ipv4\":null,\"ipv6\":null}]\n");
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).env("HTTP_ACCEPT", "application/json"));
    r.expect(401, "{\"status\":\"badauth\"}\n");
}

#[test]
fn transaction_id_on_every_log_line() {
    let w = world!(World::knot());
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.99"));
    r.expect(200, "good 192.0.2.99\n");
    let lines: Vec<&str> = r.log.lines().collect();
    assert!(!lines.is_empty());
    let txn = lines[0].split("] [").nth(1).and_then(|s| s.split(']').next()).expect("txn id");
    assert_eq!(txn.len(), 8);
    assert!(txn.bytes().all(|b| b.is_ascii_hexdigit()), "{txn}");
    for line in lines {
        assert!(line.contains(&format!("[{txn}]")), "line without txn id: {line}");
    }
    assert!(!r.log.contains(PASSWORD));
}
