//! Relays to upstream dyndns2 providers (`hostname relay`) against real servers: the local
//! world's Knot, and a second ddns-cgi world with its own Knot behind nginx + fcgiwrap as
//! the upstream. An update is relayed with `myip` to the upstream's own hostname (both DNS
//! servers answer the address); a relay with `--only` replaces the local update; an upstream
//! `badauth` answers `dnserr`, keeps the local update and pauses the relay (the next update
//! does not reach the upstream's access log) until `--clear-pause`; an upstream that refuses
//! connections and one that never answers give `dnserr` within the configured bounds, local
//! update kept; concurrent updates of one host reach an upstream of the test's own in the
//! host's order, each relay sending the row's address; a relay lock the test holds for the
//! whole budget gives `dnserr` after waiting it out without spinning, and a host that expired
//! while its update waited is not relayed. Every test ends with a grep over all it logged for
//! the upstream password.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
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
fn user_is_fqdn_sends_the_record_fqdn_as_the_upstream_user() {
    // The upstream knows the record's FQDN as its user (as he.net's dyndns does).
    let up = crate::world!(World::knot());
    up.add_user(OFFICE, UP_PASSWORD);
    up.admin(&["hostname", "add", OFFICE, OFFICE, ZONE]).success();
    let web = crate::world!(WebServer::start(&up, Front::NginxFcgiwrap));
    let w = crate::world!(local_world(""));
    let mut logs = Logs::default();
    let url = web.url(&format!("/nic/update?hostname={OFFICE}"));
    let args = ["hostname", "relay", HOME, "--url", &url, "--user-is-fqdn", "--password-stdin"];
    let run = w.admin_stdin(&args, &format!("{UP_PASSWORD}\n"));
    logs.run(&run);
    assert_eq!(run.success().stdout(), format!("`{HOME}` now relays to {url} (in addition to the local update)\n"));
    update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.20")).expect(200, "good 192.0.2.20\n");
    assert_eq!(up.a(OFFICE), ["192.0.2.20"], "upstream logs:\n{}", web.logs());
    let list = w.admin(&["hostname", "relay", HOME, "--list", "--json"]);
    logs.run(&list);
    assert!(list.stdout().contains(&format!("\"user\":\"{OFFICE}\"")), "{}", list.stdout());
    // Neither a user name given too, nor a URL whose record is not one plain name.
    assert_eq!(
        w.admin(&["hostname", "relay", HOME, "--url", &url, "--user", UP_USER, "--user-is-fqdn"]).code(),
        Some(2)
    );
    let two = web.url(&format!("/nic/update?hostname={OFFICE},{HOME}"));
    let r = w.admin_stdin(&["hostname", "relay", HOME, "--url", &two, "--user-is-fqdn", "--password-stdin"], "pw\n");
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().contains("`--user-is-fqdn` needs one plain name in the URL's `hostname=`"), "{}", r.stderr());
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
    // A family the host does not accept is not forwarded either, nor in the answer.
    w.admin(&["hostname", "modify", LAPTOP, "--ipv6", "off"]).success();
    update(&w, &mut logs, &format!("hostname={LAPTOP}&myip=192.0.2.22,2001:db8::22")).expect(200, "good 192.0.2.22\n");
    assert_eq!((up.a(OFFICE), up.aaaa(OFFICE)), (vec!["192.0.2.22".to_owned()], Vec::<String>::new()));
    update(&w, &mut logs, &format!("hostname={LAPTOP}&myip=2001:db8::23")).expect(200, "nochg\n");
    assert_eq!(n_upstream_requests(&web), 2);
    w.admin(&["hostname", "modify", LAPTOP, "--ipv6", "on"]).success();
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
    assert_eq!(up.a(OFFICE), ["192.0.2.22"]);
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

/// A dyndns2 upstream of the test's own that holds its first update for `delay` before it
/// takes effect and is answered, as if that request had been slow on its way: an update sent
/// meanwhile overtakes it. Every update is answered `good ADDRESSES`; `applied` is the `myip`
/// values in the order they took effect, the last being what the upstream holds.
struct SlowFirstUpstream {
    port: u16,
    applied: Arc<Mutex<Vec<String>>>,
    /// How many updates arrived, and a wake-up for each.
    arrived: Arc<(Mutex<usize>, Condvar)>,
    stop: Arc<AtomicBool>,
}

impl SlowFirstUpstream {
    fn start(delay: Duration) -> SlowFirstUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let up = SlowFirstUpstream {
            port,
            applied: Arc::default(),
            arrived: Arc::new((Mutex::new(0), Condvar::new())),
            stop: Arc::default(),
        };
        let (applied, arrived, stop) = (up.applied.clone(), up.arrived.clone(), up.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok((stream, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let (applied, arrived) = (applied.clone(), arrived.clone());
                std::thread::spawn(move || answer_update(stream, delay, &applied, &arrived));
            }
        });
        up
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/nic/update?hostname=office.example.net", self.port)
    }

    /// Waits until `n` updates have arrived.
    fn wait_for(&self, n: usize) {
        let (count, wake) = &*self.arrived;
        let guard = count.lock().expect("count");
        let (guard, timeout) = wake.wait_timeout_while(guard, Duration::from_secs(20), |c| *c < n).expect("count");
        assert!(!timeout.timed_out(), "{} updates arrived, {n} expected", *guard);
    }

    fn applied(&self) -> Vec<String> {
        self.applied.lock().expect("applied").clone()
    }
}

impl Drop for SlowFirstUpstream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads one GET, counts it, holds it when it is the first, applies its `myip` and answers.
fn answer_update(stream: TcpStream, delay: Duration, applied: &Mutex<Vec<String>>, arrived: &(Mutex<usize>, Condvar)) {
    stream.set_nonblocking(false).expect("blocking");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut first_line = String::new();
    reader.read_line(&mut first_line).expect("request line");
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).expect("header") == 0 || header == "\r\n" {
            break;
        }
    }
    let myip = first_line
        .split_whitespace()
        .nth(1)
        .and_then(|target| target.split(['?', '&']).find_map(|p| p.strip_prefix("myip=")))
        .unwrap_or("")
        .replace("%2C", ",");
    let n = {
        let (count, wake) = arrived;
        let mut count = count.lock().expect("count");
        *count += 1;
        wake.notify_all();
        *count
    };
    if n == 1 {
        std::thread::sleep(delay);
    }
    applied.lock().expect("applied").push(myip.clone());
    let body = format!("good {}\n", myip.replace(',', " "));
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

/// The answer body of a finished CGI update, and its log.
fn finish(child: std::process::Child) -> (String, String) {
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let body = stdout.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (body, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The hardening issue's case: two concurrent updates of one host, the first one's relay held
/// up by the upstream while the second one's relay would overtake it. The relays must reach
/// the upstream in the host's order, so that it ends with the row's address, the relay's
/// record is what the upstream holds, and a later repeat needs to send nothing.
#[test]
fn two_concurrent_updates_of_one_host_reach_the_upstream_in_the_hosts_order() {
    let w = crate::world!(local_world(""));
    let mut logs = Logs::default();
    let up = SlowFirstUpstream::start(Duration::from_millis(1500));
    let run = w.admin_stdin(
        &["hostname", "relay", HOME, "--url", &up.url(), "--user", UP_USER, "--password-stdin"],
        &format!("{UP_PASSWORD}\n"),
    );
    run.success();
    logs.run(&run);

    let first = w.spawn_update(&format!("hostname={HOME}&myip=192.0.2.60"));
    // The first update is done locally and its relay is at the upstream, held there.
    up.wait_for(1);
    let second = w.spawn_update(&format!("hostname={HOME}&myip=192.0.2.61"));
    let ((first, first_log), (second, second_log)) = (finish(first), finish(second));
    logs.0.push_str(&first_log);
    logs.0.push_str(&second_log);
    assert_eq!(
        (first.as_str(), second.as_str()),
        ("good 192.0.2.60\n", "good 192.0.2.61\n"),
        "{first_log}{second_log}"
    );
    assert_eq!(w.a(HOME), ["192.0.2.61"]);
    assert_eq!(w.stored(HOME), (Some("192.0.2.61".to_owned()), None));
    // The upstream took them in the host's order and holds what the row holds...
    assert_eq!(up.applied(), ["192.0.2.60", "192.0.2.61"], "{first_log}{second_log}");
    // ... and the relay's record says so.
    assert_eq!(w.rows("SELECT last_ipv4, last_ipv6 FROM relays"), [[Some("192.0.2.61".to_owned()), None]]);
    // A later repeat: `nochg`, and the upstream, which has the address, is not asked again.
    update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.61")).expect(200, "nochg 192.0.2.61\n");
    assert_eq!(up.applied().len(), 2);
    // Had a record and the upstream parted (an answer lost), the repeat would send the row's
    // address: the record is what decides.
    w.sql("UPDATE relays SET last_ipv4 = '192.0.2.60'");
    update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.61")).expect(200, "nochg 192.0.2.61\n");
    assert_eq!(up.applied(), ["192.0.2.60", "192.0.2.61", "192.0.2.61"]);
    assert_eq!(w.rows("SELECT last_ipv4 FROM relays"), [[Some("192.0.2.61".to_owned())]]);
    let all = logs.0.clone();
    assert!(!all.contains(UP_PASSWORD), "the upstream password was logged:\n{all}");
}

/// Two updates queue behind a third one's relay, their local updates done: whichever takes
/// its turn first sends the row's address (the newer one, whatever its own request said), and
/// the other finds the upstream holding it. Sending each request's own address would end, in
/// one of the two orders, with the upstream behind the row, and always with three sends.
#[test]
fn relays_that_queue_behind_another_send_the_rows_address_once() {
    let w = crate::world!(local_world(""));
    let up = SlowFirstUpstream::start(Duration::from_millis(3000));
    w.admin_stdin(
        &["hostname", "relay", HOME, "--url", &up.url(), "--user", UP_USER, "--password-stdin"],
        &format!("{UP_PASSWORD}\n"),
    )
    .success();
    let until_stored = |ip: &str| {
        let until = Instant::now() + Duration::from_secs(10);
        while w.stored(HOME).0.as_deref() != Some(ip) {
            assert!(Instant::now() < until, "{ip} was not stored in time");
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let held = w.spawn_update(&format!("hostname={HOME}&myip=192.0.2.59"));
    up.wait_for(1);
    let older = w.spawn_update(&format!("hostname={HOME}&myip=192.0.2.60"));
    until_stored("192.0.2.60");
    let newer = w.spawn_update(&format!("hostname={HOME}&myip=192.0.2.61"));
    until_stored("192.0.2.61");
    let answers: Vec<(String, String)> = [held, older, newer].into_iter().map(finish).collect();
    let bodies: Vec<&str> = answers.iter().map(|(b, _)| b.as_str()).collect();
    let logs: String = answers.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(bodies, ["good 192.0.2.59\n", "good 192.0.2.60\n", "good 192.0.2.61\n"], "{logs}");
    assert_eq!(up.applied(), ["192.0.2.59", "192.0.2.61"], "{logs}");
    assert!(logs.contains("upstream already has 192.0.2.61; not sent"), "{logs}");
    assert_eq!(w.rows("SELECT last_ipv4 FROM relays"), [[Some("192.0.2.61".to_owned())]]);
    assert_eq!(w.a(HOME), ["192.0.2.61"]);
    assert!(!logs.contains(UP_PASSWORD), "the upstream password was logged:\n{logs}");
}

/// The relay lock of `fqdn` held by the test as ddns-cgi takes it: the flock of its
/// `relay-XX` stripe file beside the SQLite database, the two-key advisory lock on
/// PostgreSQL, or the named lock (`GET_LOCK`) on MariaDB. Released on drop.
pub(crate) enum HeldRelayLock {
    Stripe(#[allow(dead_code)] std::fs::File),
    Pg(Box<postgres::Client>),
    Mariadb(Box<mysql::Conn>),
}

impl HeldRelayLock {
    /// Takes the lock without waiting: `None` while ddns-cgi (or anyone) holds it.
    pub(crate) fn try_take(w: &World, fqdn: &str) -> Option<HeldRelayLock> {
        Self::lock(w, fqdn, false)
    }

    fn take(w: &World, fqdn: &str) -> HeldRelayLock {
        Self::lock(w, fqdn, true).expect("waited for the relay lock")
    }

    fn lock(w: &World, fqdn: &str, wait: bool) -> Option<HeldRelayLock> {
        let hash =
            fqdn.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
        if let Some(name) = &w.pg {
            let mut client = crate::util::pg::PgServer::shared().connect(name);
            // `store::postgres`'s relay lock class, and the low 32 bits of the host key.
            let (class, key) = (0x6464_6e72_i32, hash as i32);
            let sql = if wait {
                "SELECT pg_advisory_lock($1, $2)::text"
            } else {
                "SELECT pg_try_advisory_lock($1, $2)::text"
            };
            let taken: String = client.query_one(sql, &[&class, &key]).expect("advisory lock").get(0);
            return (wait || taken == "true").then(|| HeldRelayLock::Pg(Box::new(client)));
        }
        if let Some(name) = &w.mariadb {
            use mysql::prelude::Queryable as _;
            let mut conn = crate::util::mariadb::MariaServer::shared().connect(name);
            let lock = crate::util::mariadb::relay_lock_name(name, fqdn);
            let wait_s = if wait { 60 } else { 0 };
            let taken: Option<i64> = conn.exec_first("SELECT GET_LOCK(?, ?)", (lock, wait_s)).expect("GET_LOCK");
            return (taken == Some(1)).then(|| HeldRelayLock::Mariadb(Box::new(conn)));
        }
        let mut dir = w.db.file_name().expect("database file").to_os_string();
        dir.push("-locks");
        let dir = w.db.with_file_name(dir);
        std::fs::create_dir_all(&dir).expect("lock directory");
        let path = dir.join(format!("relay-{:02x}", hash % 256));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if wait {
            file.lock().expect("flock");
        } else if file.try_lock().is_err() {
            return None;
        }
        Some(HeldRelayLock::Stripe(file))
    }
}

impl Drop for HeldRelayLock {
    fn drop(&mut self) {
        match self {
            HeldRelayLock::Pg(client) => {
                let _ = client.execute("SELECT pg_advisory_unlock_all()", &[]);
            }
            HeldRelayLock::Mariadb(conn) => {
                use mysql::prelude::Queryable as _;
                let _ = conn.query_drop("DO RELEASE_ALL_LOCKS()");
            }
            HeldRelayLock::Stripe(_) => {}
        }
    }
}

#[test]
fn a_relay_given_again_is_replaced_not_added_even_with_the_same_settings() {
    // The store tells an added relay from a replaced one itself: on MariaDB, an upsert's row
    // count cannot (the session counts matched rows, so a row left as it was counts as one
    // inserted), which would answer "now relays" for a relay given a second time.
    let w = crate::world!(local_world(""));
    let up = SlowFirstUpstream::start(Duration::ZERO);
    let url = up.url();
    let set = |extra: &[&str]| {
        let mut args = vec!["hostname", "relay", HOME, "--url", &url, "--user", UP_USER, "--password-stdin"];
        args.extend_from_slice(extra);
        w.admin_stdin(&args, &format!("{UP_PASSWORD}\n")).success().stdout()
    };
    assert_eq!(set(&[]), format!("`{HOME}` now relays to {url} (in addition to the local update)\n"));
    let replaced = format!(
        "relay of `{HOME}` to {url} replaced (in addition to the local update); its pause, if any, is cleared\n"
    );
    assert_eq!(set(&[]), replaced);
    assert_eq!(set(&["--only"]), replaced.replace("in addition to", "instead of"));
    assert_eq!(w.count("SELECT COUNT(*) FROM relays"), 1);
}

/// Another update's relay turn that outlasts this request's budget: the local update stays,
/// the answer is `dnserr` (the client retries; the upstream was not sent the address) after
/// waiting the whole budget, not at once; a turn released within the budget is waited for
/// and relays.
#[test]
fn a_relay_lock_held_for_the_whole_budget_answers_dnserr_and_keeps_the_local_update() {
    let w = crate::world!(local_world("[relay]\ntotal_timeout_ms = 1500\n"));
    let mut logs = Logs::default();
    let up = SlowFirstUpstream::start(Duration::ZERO);
    let run = w.admin_stdin(
        &["hostname", "relay", HOME, "--url", &up.url(), "--user", UP_USER, "--password-stdin"],
        &format!("{UP_PASSWORD}\n"),
    );
    run.success();
    logs.run(&run);

    let held = HeldRelayLock::take(&w, HOME);
    let started = Instant::now();
    let r = update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.70"));
    let took = started.elapsed();
    r.expect(200, "dnserr\n");
    assert!(r.log.contains("another update of this host was relaying"), "{}", r.log);
    assert!(took >= Duration::from_millis(1000), "gave up before the budget was spent: {took:?}\n{}", r.log);
    assert_eq!(w.a(HOME), ["192.0.2.70"]);
    assert!(up.applied().is_empty(), "{:?}", up.applied());

    // Released while the next update waits: it takes its turn and relays.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(held);
    });
    update(&w, &mut logs, &format!("hostname={HOME}&myip=192.0.2.71")).expect(200, "good 192.0.2.71\n");
    release.join().expect("release");
    assert_eq!(up.applied(), ["192.0.2.71"]);
    assert_eq!(w.a(HOME), ["192.0.2.71"]);
    let all = logs.0.clone();
    assert!(!all.contains(UP_PASSWORD), "the upstream password was logged:\n{all}");
}

/// A host that expired while its update waited for the relay lock: the turn reads the row
/// again, finds it expired (its addresses kept for a restoring update, but out of DNS), and
/// relays nothing; the answer is the local one.
#[test]
fn a_host_that_expires_while_its_relay_waits_is_not_relayed() {
    let w = crate::world!(local_world("[relay]\ntotal_timeout_ms = 10000\n"));
    w.admin(&["hostname", "modify", HOME, "--expiry-ttl", "60"]).success();
    let up = SlowFirstUpstream::start(Duration::ZERO);
    w.admin_stdin(
        &["hostname", "relay", HOME, "--url", &up.url(), "--user", UP_USER, "--password-stdin"],
        &format!("{UP_PASSWORD}\n"),
    )
    .success();
    let held = HeldRelayLock::take(&w, HOME);
    let child = w.spawn_update(&format!("hostname={HOME}&myip=192.0.2.80"));
    let until = Instant::now() + Duration::from_secs(8);
    while w.stored(HOME).0.as_deref() != Some("192.0.2.80") {
        assert!(Instant::now() < until, "the local update was not stored in time");
        std::thread::sleep(Duration::from_millis(10));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    w.admin(&["expire", "--now", &(now + 100_000).to_string()]).success();
    assert!(w.a(HOME).is_empty(), "expired");
    drop(held);
    let (body, log) = finish(child);
    assert_eq!(body, "good 192.0.2.80\n", "{log}");
    assert!(log.contains("not relayed: the host has no address since"), "{log}");
    assert!(up.applied().is_empty(), "{:?}\n{log}", up.applied());
    assert!(!log.contains(UP_PASSWORD), "the upstream password was logged:\n{log}");
}

/// The CPU time (user and system, in clock ticks) process `pid` has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // After the command name in parentheses: state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat").1.split_whitespace().collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// An update waiting for another's relay turn sleeps between its tries (a flock or an
/// advisory lock cannot wait with a deadline): a CGI process that spun for the whole budget
/// would take a core from the server it waits for.
#[test]
fn a_relay_turn_is_waited_for_without_spinning() {
    let w = crate::world!(local_world("[relay]\ntotal_timeout_ms = 4000\n"));
    let up = SlowFirstUpstream::start(Duration::ZERO);
    w.admin_stdin(
        &["hostname", "relay", HOME, "--url", &up.url(), "--user", UP_USER, "--password-stdin"],
        &format!("{UP_PASSWORD}\n"),
    )
    .success();
    let held = HeldRelayLock::take(&w, HOME);
    let child = w.spawn_update(&format!("hostname={HOME}&myip=192.0.2.90"));
    let until = Instant::now() + Duration::from_secs(3);
    while w.stored(HOME).0.as_deref() != Some("192.0.2.90") {
        assert!(Instant::now() < until, "the local update was not stored in time");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    let before = cpu_ticks(child.id());
    std::thread::sleep(Duration::from_millis(1500));
    let used = cpu_ticks(child.id()) - before;
    drop(held);
    let (body, log) = finish(child);
    assert_eq!(body, "good 192.0.2.90\n", "{log}");
    assert_eq!(up.applied(), ["192.0.2.90"]);
    // Backing off to 20 ms between tries costs next to nothing; spinning costs about as many
    // ticks as the scheduler gives it (100 a second on an idle core).
    assert!(used <= 10, "the wait used {used} clock ticks of CPU in 1.5 s\n{log}");
    assert!(!log.contains(UP_PASSWORD), "the upstream password was logged:\n{log}");
}
