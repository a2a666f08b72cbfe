//! Parameter aliases and the ways credentials arrive.

use crate::util::{Cgi, PASSWORD, USER, World, base64};
use crate::world;

const HOME: &str = "home.dyn.example.test";

#[test]
fn every_default_alias() {
    let w = world!(World::knot());
    // hostname aliases, with the IPv4 aliases.
    let cases = [("hostname", "myip", "192.0.2.1"), ("host", "ipv4", "192.0.2.2"), ("hostname", "ip4", "192.0.2.3")];
    for (h, p, ip) in cases {
        w.update(&format!("{h}={HOME}&{p}={ip}")).expect(200, &format!("good {ip}\n"));
        assert_eq!(w.a(HOME), [ip], "{h}/{p}");
    }
    for (i, p) in ["myip6", "myipv6", "ipv6", "ip6"].iter().enumerate() {
        let ip = format!("2001:db8::{}", i + 1);
        w.update(&format!("host={HOME}&{p}={ip}")).expect(200, &format!("good {ip}\n"));
        assert_eq!(w.aaaa(HOME), vec![ip], "{p}");
    }
    // Credential aliases, no Authorization header.
    for (i, (u, p)) in [("username", "password"), ("user", "pass"), ("username", "token")].iter().enumerate() {
        let ip = format!("192.0.2.{}", 10 + i);
        let q = format!("hostname={HOME}&myip={ip}&{u}={USER}&{p}={}", PASSWORD.replace(':', "%3A"));
        w.cgi(&Cgi::get(&q)).expect(200, &format!("good {ip}\n"));
        assert_eq!(w.a(HOME), [ip], "{u}/{p}");
    }
}

#[test]
fn inadyn_encoded_ipv6_colons() {
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=2001%3adb8%3a%3a7")).expect(200, "good 2001:db8::7\n");
    assert_eq!(w.aaaa(HOME), ["2001:db8::7"]);
}

#[test]
fn opnsense_encoded_comma_in_hostname_list() {
    let w = world!(World::new(crate::util::Setup {
        hosts: &["a.dyn.example.test", "b.dyn.example.test"],
        ..Default::default()
    }));
    w.update("hostname=a.dyn.example.test%2Cb.dyn.example.test&myip=192.0.2.5")
        .expect(200, "good 192.0.2.5\ngood 192.0.2.5\n");
    assert_eq!(
        (w.a("a.dyn.example.test"), w.a("b.dyn.example.test")),
        (vec!["192.0.2.5".to_owned()], vec!["192.0.2.5".to_owned()])
    );
}

#[test]
fn challenge_when_no_credentials() {
    let w = world!(World::knot());
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")));
    r.expect(401, "badauth\n");
    assert_eq!(r.header("WWW-Authenticate"), Some("Basic realm=\"ddns-cgi\", charset=\"UTF-8\""));
    // inadyn with no credentials configured sends an empty user-pass.
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).env("HTTP_AUTHORIZATION", "Basic Og=="));
    r.expect(401, "badauth\n");
    assert!(w.a(HOME).is_empty());
}

#[test]
fn wrong_credentials_look_like_unknown_user() {
    let w = world!(World::knot());
    let wrong = w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, "nope"));
    let unknown = w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic("mallory", "nope"));
    for r in [&wrong, &unknown] {
        r.expect(401, "badauth\n");
        assert!(r.header("WWW-Authenticate").is_some());
    }
    assert_eq!(wrong.headers, unknown.headers);
    // Only the log tells them apart, and it never holds the password.
    assert!(wrong.log.contains("wrong password"), "{}", wrong.log);
    assert!(unknown.log.contains("unknown user"), "{}", unknown.log);
    assert!(!wrong.log.contains("nope"));
    // A password differing only after the colon is wrong too: the split is at the first colon.
    let (head, _) = PASSWORD.split_once(':').expect("colon");
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, head)).expect(401, "badauth\n");
    // A malformed Authorization header is treated as none.
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).env("HTTP_AUTHORIZATION", "Basic !!!")).expect(401, "badauth\n");
    assert!(w.a(HOME).is_empty());
}

#[test]
fn basic_auth_with_colon_in_password() {
    let w = world!(World::knot());
    assert!(PASSWORD.contains(':'));
    let header = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.44")).env("HTTP_AUTHORIZATION", &header))
        .expect(200, "good 192.0.2.44\n");
    assert_eq!(w.a(HOME), ["192.0.2.44"]);
}

#[test]
fn ignored_client_parameters() {
    let w = world!(World::knot());
    w.update(&format!("system=dyndns&hostname={HOME}&myip=192.0.2.55&wildcard=NOCHG&mx=NOCHG&backmx=NOCHG&offline=no"))
        .expect(200, "good 192.0.2.55\n");
    // Ignored means ignored: no MX, no wildcard, and `offline=no` leaves the records live.
    assert_eq!(w.a(HOME), ["192.0.2.55"]);
    assert!(w.dns.query(HOME, "MX").is_empty() && w.a("x.home.dyn.example.test").is_empty());
    assert_eq!(w.stored(HOME), (Some("192.0.2.55".to_owned()), None));
}
