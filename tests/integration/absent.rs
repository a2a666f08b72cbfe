//! What an update does to an address family the request does not give, per endpoint
//! (`absent`), against a real Knot: nanodnsd's `/api/update` removes it (a Fritz!Box that
//! lost IPv6 sends an empty `ipv6=` and its AAAA goes), `/nic/update` keeps it as dyndns2
//! does; with no address at all both go and the TXT stays; a TXT-only request removes
//! nothing; a host token must be allowed the type it removes; an endpoint written with
//! `absent = "remove"` at another path; one case through `ddns-cgi fastcgi`. Each change is
//! checked in DNS, in the row and in its audit row.

use crate::tokens::new_token;
use crate::util::web::{FcgiClient, Launched, Launcher, fcgi_update_params};
use crate::util::{Cgi, PASSWORD, Setup, USER, World, base64};
use crate::world;

const HOME: &str = "home.dyn.example.test";

fn home_world(extra: &str) -> Option<World> {
    World::new(Setup { extra_config: extra, hosts: &[HOME], ..Setup::default() })
}

/// What DNS holds for [`HOME`]: its A, AAAA and TXT records.
fn dns(w: &World) -> (Vec<String>, Vec<String>, Vec<String>) {
    (w.a(HOME), w.aaaa(HOME), w.dns.query(HOME, "TXT"))
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// The row's addresses, TXT and offline flag.
fn row(w: &World) -> Vec<Option<String>> {
    let rows = w.rows(&format!("SELECT ipv4, ipv6, txt, offline FROM hostnames WHERE fqdn = '{HOME}'"));
    rows.into_iter().next().expect("hostname row")
}

/// The newest audit row of [`HOME`]: answer, old and new addresses.
fn audited(w: &World) -> Vec<Option<String>> {
    let rows = w.rows(&format!(
        "SELECT answer, old_ipv4, old_ipv6, new_ipv4, new_ipv6 FROM audit WHERE hostname = '{HOME}' ORDER BY id DESC LIMIT 1"
    ));
    rows.into_iter().next().expect("audit row")
}

fn some(items: &[Option<&str>]) -> Vec<Option<String>> {
    items.iter().map(|s| s.map(str::to_owned)).collect()
}

/// A request with the owner's password in Basic.
fn req(path: &str, query: &str) -> Cgi {
    Cgi::get(query).path(path).basic(USER, PASSWORD)
}

/// The Fritz!Box's nanodnsd-form request: `<ip6addr>` is empty when the box has no IPv6.
fn fritzbox(path: &str, ipv4: &str, ipv6: &str) -> Cgi {
    Cgi::get(&format!("hostname={HOME}&ipv4={ipv4}&ipv6={ipv6}&username={USER}&token={PASSWORD}")).path(path)
}

#[test]
fn a_fritzbox_that_lost_ipv6_removes_its_aaaa_on_api_update_and_keeps_it_on_nic_update() {
    let w = world!(home_world(""));
    w.cgi(&fritzbox("/api/update", "198.51.100.1", "2001:db8::1")).expect(200, "good 198.51.100.1 2001:db8::1\n");
    assert_eq!(dns(&w), (v(&["198.51.100.1"]), v(&["2001:db8::1"]), v(&[])));
    // The box lost IPv6: `ipv6=` is empty. The answer lists what is published; the AAAA is
    // gone from DNS, the row and, as the family removed, in the audit row.
    w.cgi(&fritzbox("/api/update", "198.51.100.1", "")).expect(200, "good 198.51.100.1\n");
    assert_eq!(dns(&w), (v(&["198.51.100.1"]), v(&[]), v(&[])));
    assert_eq!(row(&w), some(&[Some("198.51.100.1"), None, None, Some("0")]));
    assert_eq!(
        audited(&w),
        some(&[Some("good"), Some("198.51.100.1"), Some("2001:db8::1"), Some("198.51.100.1"), None])
    );
    // Again: nothing left to do.
    w.cgi(&fritzbox("/api/update", "198.51.100.1", "")).expect(200, "nochg 198.51.100.1\n");
    // IPv6 is back.
    w.cgi(&fritzbox("/api/update", "198.51.100.1", "2001:db8::2")).expect(200, "good 198.51.100.1 2001:db8::2\n");
    assert_eq!(dns(&w), (v(&["198.51.100.1"]), v(&["2001:db8::2"]), v(&[])));

    // The same request shape on `/nic/update` (dyndns2): the family not given is kept.
    w.cgi(&fritzbox("/nic/update", "198.51.100.2", "")).expect(200, "good 198.51.100.2\n");
    assert_eq!(dns(&w), (v(&["198.51.100.2"]), v(&["2001:db8::2"]), v(&[])));
    assert_eq!(row(&w), some(&[Some("198.51.100.2"), Some("2001:db8::2"), None, Some("0")]));
    assert_eq!(
        audited(&w),
        some(&[Some("good"), Some("198.51.100.1"), Some("2001:db8::2"), Some("198.51.100.2"), Some("2001:db8::2")])
    );
    // And `ipv4` alone there, without `ipv6` at all: kept too (`myip` as well, on `/update`).
    w.cgi(&req("/nic/update", &format!("hostname={HOME}&ipv4=198.51.100.3"))).expect(200, "good 198.51.100.3\n");
    w.cgi(&req("/update", &format!("hostname={HOME}&myip=198.51.100.4"))).expect(200, "good 198.51.100.4\n");
    assert_eq!(dns(&w), (v(&["198.51.100.4"]), v(&["2001:db8::2"]), v(&[])));
}

#[test]
fn on_api_update_ipv6_alone_removes_the_a_and_no_address_removes_both_but_not_the_txt() {
    let w = world!(home_world(""));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8::1&txt=note"))
        .expect(200, "good 192.0.2.1 2001:db8::1\n");
    let note = v(&["\"note\""]);
    // `ipv6` alone (no `ipv4` parameter at all): the A record goes.
    w.cgi(&req("/api/update", &format!("hostname={HOME}&ipv6=2001:db8::1"))).expect(200, "good 2001:db8::1\n");
    assert_eq!(dns(&w), (v(&[]), v(&["2001:db8::1"]), note.clone()));
    assert_eq!(audited(&w), some(&[Some("good"), Some("192.0.2.1"), Some("2001:db8::1"), None, Some("2001:db8::1")]));
    // A TXT-only request removes no address.
    w.cgi(&req("/api/update", &format!("hostname={HOME}&txt=other"))).expect(200, "good\n");
    assert_eq!(dns(&w), (v(&[]), v(&["2001:db8::1"]), v(&["\"other\""])));
    // No address at all (nanodnsd has no client-address fallback): both families go; the host
    // keeps its TXT record and is not offline.
    let r = w.cgi(&req("/api/update", &format!("hostname={HOME}")).remote("198.51.100.9"));
    r.expect(200, "good\n");
    assert_eq!(dns(&w), (v(&[]), v(&[]), v(&["\"other\""])));
    assert_eq!(row(&w), some(&[None, None, Some("other"), Some("0")]));
    assert_eq!(audited(&w), some(&[Some("good"), None, Some("2001:db8::1"), None, None]));
    // Empty parameters say the same, and there is nothing left to remove.
    w.cgi(&req("/api/update", &format!("hostname={HOME}&ipv4=&ipv6="))).expect(200, "nochg\n");
    // On `/nic/update` the same request takes the client's address, and only that family.
    w.cgi(&req("/nic/update", &format!("hostname={HOME}")).remote("198.51.100.9")).expect(200, "good 198.51.100.9\n");
    assert_eq!(dns(&w), (v(&["198.51.100.9"]), v(&[]), v(&["\"other\""])));
}

/// A change's token must be allowed every rrset the change sends: on `/api/update` a missing
/// `ipv6` deletes the AAAA, so an A-only token is refused (`badauth`, nothing changes) while
/// the host has one, and allowed once it has none.
#[test]
fn an_a_only_token_may_not_remove_the_aaaa_on_api_update() {
    let w = world!(home_world("log_requests = true\n"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8::1")).expect(200, "good 192.0.2.1 2001:db8::1\n");
    let a_only = new_token(&w, HOME, &["--types", "A"]);
    let before = (dns(&w), row(&w));
    for query in [
        format!("hostname={HOME}&ipv4=192.0.2.2&token={a_only}"),
        format!("hostname={HOME}&ipv4=192.0.2.1&ipv6=&token={a_only}"),
    ] {
        let r = w.cgi(&Cgi::get(&query).path("/api/update"));
        r.expect(401, "badauth\n");
        assert!(r.log.contains("type scope"), "{}", r.log);
        assert_eq!((dns(&w), row(&w)), before, "{query}");
    }
    // The same A-only request on `/nic/update` keeps the AAAA: allowed.
    let q = format!("hostname={HOME}&ipv4=192.0.2.3&token={a_only}");
    w.cgi(&Cgi::get(&q).path("/nic/update")).expect(200, "good 192.0.2.3\n");
    assert_eq!(dns(&w), (v(&["192.0.2.3"]), v(&["2001:db8::1"]), v(&[])));
    // A token that may change both removes the AAAA; then the A-only token has nothing of
    // another type left to delete.
    let both = new_token(&w, HOME, &["--types", "A,AAAA"]);
    let q = format!("hostname={HOME}&ipv4=192.0.2.4&token={both}");
    w.cgi(&Cgi::get(&q).path("/api/update")).expect(200, "good 192.0.2.4\n");
    assert_eq!(dns(&w), (v(&["192.0.2.4"]), v(&[]), v(&[])));
    let a_only = new_token(&w, HOME, &["--types", "A"]);
    let q = format!("hostname={HOME}&ipv4=192.0.2.5&token={a_only}");
    w.cgi(&Cgi::get(&q).path("/api/update")).expect(200, "good 192.0.2.5\n");
    assert_eq!(dns(&w), (v(&["192.0.2.5"]), v(&[]), v(&[])));
}

/// Endpoints a user writes: `absent = "remove"` at a path of their own; `/api/update` written
/// without the key keeps, like every endpoint without it.
#[test]
fn an_endpoint_written_with_absent_remove() {
    let w = world!(home_world(
        "[[endpoints]]\npath = \"/nic/update\"\n[[endpoints]]\npath = \"/fritz\"\nabsent = \"remove\"\n[[endpoints]]\npath = \"/api/update\"\n"
    ));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8::1")).expect(200, "good 192.0.2.1 2001:db8::1\n");
    w.cgi(&req("/api/update", &format!("hostname={HOME}&ipv4=192.0.2.2&ipv6="))).expect(200, "good 192.0.2.2\n");
    assert_eq!(dns(&w), (v(&["192.0.2.2"]), v(&["2001:db8::1"]), v(&[])));
    w.cgi(&req("/fritz", &format!("hostname={HOME}&ipv4=192.0.2.3&ipv6="))).expect(200, "good 192.0.2.3\n");
    assert_eq!(dns(&w), (v(&["192.0.2.3"]), v(&[]), v(&[])));
    assert_eq!(row(&w), some(&[Some("192.0.2.3"), None, None, Some("0")]));
}

/// Through `ddns-cgi fastcgi`, where a repeat may be answered from the runtime's thread and a
/// change goes through the zone's group commit: the same removal.
#[test]
fn fastcgi_removes_the_absent_family_on_api_update() {
    let w = world!(home_world("[rate_limit]\nenabled = false\n"));
    let (launched, _, port) = world!(Launched::start(&w, Launcher::Listen));
    let auth = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    let mut c = FcgiClient::connect_tcp(port);
    let mut send = |id: u16, path: &'static str, query: String| {
        let params: Vec<(&str, &str)> = fcgi_update_params(&query, &auth)
            .into_iter()
            .map(|(k, v)| if k == "SCRIPT_NAME" { (k, path) } else { (k, v) })
            .collect();
        assert!(c.request(id, true, &params, b""), "connection closed");
        let raw = c.response(id).unwrap_or_else(|| panic!("no answer\n{}", launched.log()));
        let text = String::from_utf8_lossy(&raw).into_owned();
        text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
    };
    let both = format!("hostname={HOME}&ipv4=192.0.2.1&ipv6=2001:db8::1");
    assert_eq!(send(1, "/api/update", both.clone()), "good 192.0.2.1 2001:db8::1\n");
    assert_eq!(send(2, "/api/update", both), "nochg 192.0.2.1 2001:db8::1\n");
    let lost = format!("hostname={HOME}&ipv4=192.0.2.1&ipv6=");
    assert_eq!(send(3, "/api/update", lost.clone()), "good 192.0.2.1\n");
    assert_eq!(dns(&w), (v(&["192.0.2.1"]), v(&[]), v(&[])));
    assert_eq!(send(4, "/api/update", lost), "nochg 192.0.2.1\n");
    assert_eq!(
        send(5, "/nic/update", format!("hostname={HOME}&ipv4=192.0.2.1&ipv6=2001:db8::2")),
        "good 192.0.2.1 2001:db8::2\n"
    );
    assert_eq!(send(6, "/nic/update", format!("hostname={HOME}&ipv4=192.0.2.3&ipv6=")), "good 192.0.2.3\n");
    assert_eq!(dns(&w), (v(&["192.0.2.3"]), v(&["2001:db8::2"]), v(&[])));
    assert_eq!(w.stored(HOME), (Some("192.0.2.3".to_owned()), Some("2001:db8::2".to_owned())));
    assert!(!launched.log().contains("panicked"), "{}", launched.log());
}
