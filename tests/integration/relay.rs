//! Relays to upstream dyndns2 providers (`hostname relay`) against real servers: the local
//! world's Knot, and a second ddns-cgi world with its own Knot behind nginx + fcgiwrap as
//! the upstream. An update is relayed with `myip` to the upstream's own hostname (both DNS
//! servers answer the address); a relay with `--only` replaces the local update; an upstream
//! `badauth` answers `dnserr`, keeps the local update and pauses the relay (the next update
//! does not reach the upstream's access log) until `--clear-pause`; an upstream that refuses
//! connections and one that never answers give `dnserr` within the configured bounds, local
//! update kept. Every test ends with a grep over all it logged for the upstream password.

use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::util::web::{Front, WebServer};
use crate::util::{Response, Run, Setup, World, ZONE, base64};

const HOME: &str = "home.dyn.example.test";
const LAPTOP: &str = "laptop.dyn.example.test";
/// The upstream's own name for the host, which differs from ours.
const OFFICE: &str = "office.dyn.example.test";
const UP_USER: &str = "relayer";
const UP_PASSWORD: &str = "up-stream-Pass-93f1";

/// Everything a test logged or printed, to grep for the upstream password at the end.
#[derive(Default)]
struct Logs(String);

impl Logs {
    fn run(&mut self, run: &Run) {
        self.0.push_str(&run.stdout());
        self.0.push_str(&run.stderr());
    }

    fn response(&mut self, r: &Response) {
        self.0.push_str(&r.body);
        self.0.push_str(&r.log);
    }

    #[track_caller]
    fn assert_no_password(&self, upstream: &WebServer) {
        let all = format!("{}{}", self.0, upstream.logs());
        let basic = base64(&format!("{UP_USER}:{UP_PASSWORD}"));
        assert!(!all.is_empty());
        for secret in [UP_PASSWORD, basic.as_str()] {
            assert!(!all.contains(secret), "the upstream password was logged:\n{all}");
        }
    }
}

/// The local world (HOME and LAPTOP for alice) with `relay` as its `[relay]` table.
fn local_world(relay: &str) -> Option<World> {
    World::new(Setup { extra_config: relay, hosts: &[HOME, LAPTOP], ..Setup::default() })
}

/// A second ddns-cgi world behind nginx: user `relayer` owns OFFICE there.
fn upstream(password: &str) -> Option<(World, WebServer)> {
    let world = World::knot()?;
    world.add_user(UP_USER, password);
    world.admin(&["hostname", "add", UP_USER, OFFICE, ZONE]).success();
    let web = WebServer::start(&world, Front::NginxFcgiwrap)?;
    Some((world, web))
}

/// How many update requests reached the upstream's nginx.
fn n_upstream_requests(web: &WebServer) -> usize {
    std::fs::read_to_string(web.dir.join("access.log")).unwrap_or_default().matches("GET /nic/update?").count()
}

/// `hostname relay FQDN --url URL --user relayer --password-stdin EXTRA...`.
#[track_caller]
fn add_relay(w: &World, logs: &mut Logs, fqdn: &str, url: &str, extra: &[&str]) {
    let mut args = vec!["hostname", "relay", fqdn, "--url", url, "--user", UP_USER, "--password-stdin"];
    args.extend_from_slice(extra);
    let run = w.admin_stdin(&args, &format!("{UP_PASSWORD}\n"));
    run.success();
    logs.run(&run);
}

#[track_caller]
fn update(w: &World, logs: &mut Logs, query: &str) -> Response {
    let r = w.update(query);
    logs.response(&r);
    r
}

#[test]
fn relayed_update_reaches_both_dns_servers() {
    let (up, web) = crate::world!(upstream(UP_PASSWORD));
    let w = crate::world!(local_world(""));
    let mut logs = Logs::default();
    let url = web.url(&format!("/nic/update?hostname={OFFICE}"));
    add_relay(&w, &mut logs, HOME, &url, &[]);

    let r = update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.10,2001:db8::10"));
    r.expect(200, "good 192.0.2.10 2001:db8::10\n");
    assert_eq!(w.a(HOME), ["192.0.2.10"]);
    assert_eq!(w.aaaa(HOME), ["2001:db8::10"]);
    assert_eq!(up.a(OFFICE), ["192.0.2.10"], "upstream logs:\n{}", web.logs());
    assert_eq!(up.aaaa(OFFICE), ["2001:db8::10"]);
    assert_eq!(n_upstream_requests(&web), 1);
    let line = r.log.lines().find(|l| l.contains("relay to")).expect("a relay log line");
    assert!(line.contains("upstream answered `good 192.0.2.10 2001:db8::10`"), "{line}");
    // The line carries the request's transaction id (8 hex digits in brackets).
    let txn = line.split(['[', ']']).find(|p| p.len() == 8 && p.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(txn.is_some(), "{line}");

    // The same addresses again: `nochg` here, and the upstream, which has them, is not asked.
    update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.10,2001:db8::10"))
        .expect(200, "nochg 192.0.2.10 2001:db8::10\n");
    assert_eq!(n_upstream_requests(&web), 1);
    // A new IPv4 address goes to both.
    update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.11")).expect(200, "good 192.0.2.11\n");
    assert_eq!(up.a(OFFICE), ["192.0.2.11"]);
    assert_eq!(up.aaaa(OFFICE), ["2001:db8::10"]);
    assert_eq!(n_upstream_requests(&web), 2);

    // Listings show the relay, never the password.
    let list = w.admin(&["hostname", "relay", HOME, "--list"]);
    list.success();
    logs.run(&list);
    let out = list.stdout();
    assert!(out.contains(&url) && out.contains(UP_USER) && out.contains("***"), "{out}");
    assert!(out.contains("active") && out.contains("good") && out.contains("192.0.2.11,2001:db8::10"), "{out}");
    let json = w.admin(&["hostname", "relay", HOME, "--list", "--json"]);
    logs.run(&json);
    assert!(json.stdout().contains("\"password\":\"***\""), "{}", json.stdout());
    let hosts = w.admin(&["hostname", "list", "--json"]);
    logs.run(&hosts);
    assert!(hosts.stdout().contains(&format!("\"hostname\":\"{HOME}\"")), "{}", hosts.stdout());
    assert!(hosts.stdout().contains("\"n_relays\":1,\"relay_only\":false"), "{}", hosts.stdout());
    let table = w.admin(&["hostname", "list"]).success().stdout();
    assert!(table.lines().any(|l| l.starts_with(&format!("{HOME} (relays: 1)  "))), "{table}");
    logs.assert_no_password(&web);
}

#[test]
fn relay_only_skips_the_local_update() {
    let (up, web) = crate::world!(upstream(UP_PASSWORD));
    let w = crate::world!(local_world(""));
    let mut logs = Logs::default();
    add_relay(&w, &mut logs, LAPTOP, &web.url(&format!("/nic/update?hostname={OFFICE}")), &["--only"]);
    update(&w, &mut logs, &format!("hostname={LAPTOP}&myip=192.0.2.20")).expect(200, "good 192.0.2.20\n");
    assert_eq!(up.a(OFFICE), ["192.0.2.20"]);
    assert!(w.a(LAPTOP).is_empty(), "no local record for a relay-only host");
    assert_eq!(w.stored(LAPTOP), (None, None));
    update(&w, &mut logs, &format!("hostname={LAPTOP}&myip=192.0.2.20")).expect(200, "nochg 192.0.2.20\n");
    assert_eq!(n_upstream_requests(&web), 1);
    let list = w.admin(&["hostname", "list"]);
    logs.run(&list);
    let row = list.stdout().lines().find(|l| l.starts_with(LAPTOP)).expect("laptop row").to_owned();
    assert!(row.starts_with(&format!("{LAPTOP} (relays: 1, only)  ")), "{row}");
    // Removing the relay returns the host to local updates.
    let run = w.admin(&["hostname", "relay", LAPTOP, "--remove", &web.url(&format!("/nic/update?hostname={OFFICE}"))]);
    run.success();
    logs.run(&run);
    update(&w, &mut logs, &format!("hostname={LAPTOP}&myip=192.0.2.21")).expect(200, "good 192.0.2.21\n");
    assert_eq!(w.a(LAPTOP), ["192.0.2.21"]);
    assert_eq!(up.a(OFFICE), ["192.0.2.20"]);
    logs.assert_no_password(&web);
}

#[test]
fn upstream_badauth_pauses_the_relay_until_cleared() {
    // The upstream knows the user with another password: it answers `badauth`.
    let (up, web) = crate::world!(upstream("another-password-7"));
    let w = crate::world!(local_world(""));
    let mut logs = Logs::default();
    let url = web.url(&format!("/nic/update?hostname={OFFICE}"));
    add_relay(&w, &mut logs, HOME, &url, &[]);

    let r = update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.30"));
    r.expect(200, "dnserr\n");
    assert!(r.log.contains("upstream answered `badauth` (HTTP 401"), "{}", r.log);
    // The local update is done and stays done.
    assert_eq!(w.a(HOME), ["192.0.2.30"]);
    assert_eq!(w.stored(HOME), (Some("192.0.2.30".to_owned()), None));
    assert!(up.a(OFFICE).is_empty());
    assert_eq!(n_upstream_requests(&web), 1);
    let list = w.admin(&["hostname", "relay", HOME, "--list"]);
    logs.run(&list);
    assert!(list.stdout().contains("paused (badauth"), "{}", list.stdout());

    // Paused: the next update is local only, and the upstream is not contacted.
    let r = update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.31"));
    r.expect(200, "good 192.0.2.31\n");
    assert!(r.log.contains("paused since") && r.log.contains("not sent"), "{}", r.log);
    assert_eq!(w.a(HOME), ["192.0.2.31"]);
    assert_eq!(n_upstream_requests(&web), 1, "a paused relay contacted the upstream:\n{}", web.logs());

    // The upstream account is fixed and the admin clears the pause: relaying resumes.
    up.admin_stdin(&["user", "passwd", UP_USER, "--password-stdin"], &format!("{UP_PASSWORD}\n")).success();
    let run = w.admin(&["hostname", "relay", HOME, "--clear-pause", &url]);
    run.success();
    logs.run(&run);
    assert!(run.stdout().contains("resumed"), "{}", run.stdout());
    // Same address as stored: `nochg` here, but the upstream does not have it yet.
    update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.31")).expect(200, "nochg 192.0.2.31\n");
    assert_eq!(up.a(OFFICE), ["192.0.2.31"]);
    assert_eq!(n_upstream_requests(&web), 2);
    logs.assert_no_password(&web);
}

#[test]
fn upstream_down_is_dnserr_with_the_local_update_kept() {
    let (_up, web) = crate::world!(upstream(UP_PASSWORD));
    let w = crate::world!(local_world(""));
    let mut logs = Logs::default();
    // Nothing listens there: the port is the local end of a connection this test holds, so
    // no other test's server can bind it meanwhile, and a new connection to it is refused.
    let anchor = TcpListener::bind("127.0.0.1:0").expect("bind");
    let held = TcpStream::connect(anchor.local_addr().expect("addr")).expect("connect");
    let _accepted = anchor.accept().expect("accept");
    let port = held.local_addr().expect("local addr").port();
    let url = format!("http://127.0.0.1:{port}/nic/update?hostname={OFFICE}");
    add_relay(&w, &mut logs, HOME, &url, &[]);
    let r = update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.40"));
    r.expect(200, "dnserr\n");
    assert!(r.log.contains("cannot connect"), "{}", r.log);
    assert_eq!(w.a(HOME), ["192.0.2.40"]);
    assert_eq!(w.stored(HOME), (Some("192.0.2.40".to_owned()), None));
    // Not paused: the client's retry tries the upstream again.
    let r = update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.40"));
    r.expect(200, "dnserr\n");
    assert!(r.log.contains("cannot connect"), "{}", r.log);
    logs.assert_no_password(&web);
}

#[test]
fn slow_upstreams_are_bounded_in_total() {
    let (_up, web) = crate::world!(upstream(UP_PASSWORD));
    // Each exchange may take 2 s, both together 2.5 s: less than the two would take alone.
    let w = crate::world!(local_world(
        "[relay]\nconnect_timeout_ms = 1000\nrequest_timeout_ms = 2000\ntotal_timeout_ms = 2500\n"
    ));
    let mut logs = Logs::default();
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    listener.set_nonblocking(true).expect("nonblocking");
    let holder = std::thread::spawn(move || {
        let mut held = Vec::new();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until && held.len() < 2 {
            match listener.accept() {
                Ok((stream, _)) => held.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        std::thread::sleep(Duration::from_secs(6));
        held.len()
    });
    for name in ["a.example.net", "b.example.net"] {
        add_relay(&w, &mut logs, HOME, &format!("http://127.0.0.1:{port}/nic/update?hostname={name}"), &[]);
    }
    let started = Instant::now();
    let r = update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.50"));
    let took = started.elapsed();
    r.expect(200, "dnserr\n");
    assert!(took >= Duration::from_millis(2000), "answered before the first timeout: {took:?}\n{}", r.log);
    assert!(took < Duration::from_millis(3800), "the total bound did not hold: {took:?}\n{}", r.log);
    assert!(r.log.contains("no answer in time"), "{}", r.log);
    assert_eq!(w.a(HOME), ["192.0.2.50"]);
    assert_eq!(holder.join().expect("listener thread"), 2, "both upstreams were connected to");
    logs.assert_no_password(&web);
}

#[test]
fn relay_command_refuses_bad_input() {
    let w = crate::world!(local_world(""));
    let check = |args: &[&str], stdin: &str, code: i32, message: &str| {
        let run = w.admin_stdin(args, stdin);
        assert_eq!(run.code(), Some(code), "{}", run.stderr());
        assert!(run.stderr().contains(message), "{}", run.stderr());
        assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());
    };
    let url = "http://127.0.0.1:9/nic/update?hostname=x.example.net";
    check(
        &["hostname", "relay", HOME, "--url", "http://u:hunter2@h/?hostname=x", "--user", "u"],
        "pw\n",
        2,
        "must not carry credentials",
    );
    check(
        &["hostname", "relay", HOME, "--url", "http://h/nic/update", "--user", "u"],
        "pw\n",
        2,
        "must name the upstream's hostname",
    );
    check(&["hostname", "relay", HOME, "--url", url], "pw\n", 2, "needs `--user`");
    check(&["hostname", "relay", HOME, "--url", url, "--user", "a:b"], "pw\n", 2, "no `:`");
    check(&["hostname", "relay", HOME, "--url", url, "--user", "u"], "\n", 2, "upstream password must be");
    check(&["hostname", "relay", "nope.dyn.example.test", "--url", url, "--user", "u"], "pw\n", 1, "does not exist");
    check(&["hostname", "relay", HOME, "--remove", url], "", 1, "has no relay");
    check(&["hostname", "relay", HOME, "--clear-pause", url], "", 1, "has no relay");
    check(&["hostname", "relay", HOME], "", 2, "");
    assert!(w.admin(&["hostname", "relay", HOME, "--list"]).success().stdout().lines().count() == 1);
    // Deleting a hostname deletes its relays.
    w.admin_stdin(&["hostname", "relay", HOME, "--url", url, "--user", "u"], "pw\n").success();
    assert_eq!(w.admin(&["hostname", "relay", HOME, "--list"]).success().stdout().lines().count(), 2);
    w.admin(&["hostname", "delete", HOME]).success();
    w.admin(&["hostname", "add", crate::util::USER, HOME, ZONE]).success();
    assert_eq!(w.admin(&["hostname", "relay", HOME, "--list"]).success().stdout().lines().count(), 1);
}
