//! Answers that wait for the read-back on request (issue 23): `[dns] confirm_wait =
//! "on_request"` with both secondaries listed, each behind a counting relay, so the test
//! knows when and how often ddns-cgi asked them. Shown: an update without `wait` is answered
//! and the secondaries were never asked; `wait=1` is answered only once both serve the new
//! address (checked at the moment the answer arrives); a stopped secondary gives a late but
//! `good` answer whose JSON names it; 200 waiting requests in FastCGI hold no worker (a
//! `nochg` for another host is answered while they all wait) and share one poll (each
//! secondary sees one query per round, not one per request); `[acme] wait` holds the
//! acme-dns answer until the secondaries serve the TXT value; `hostname status` shows each
//! server's records and serial. No timing assertion: only orderings.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{Deployment, HOME, deployment, serves};
use crate::util::relay::{Plan, Relay};
use crate::util::web::{FcgiClient, LaunchOptions, Launched, Launcher, fcgi_update_params};
use crate::util::{Cgi, DnsKind, PASSWORD, Response, USER, ZONE, base64};

/// A relay in front of each secondary that counts the queries reaching it (only ddns-cgi's
/// read-back goes through them; the test queries the secondaries directly).
struct Counted {
    relays: [Relay; 2],
    counts: [Arc<AtomicUsize>; 2],
}

impl Counted {
    fn queries(&self) -> [usize; 2] {
        [self.counts[0].load(Ordering::SeqCst), self.counts[1].load(Ordering::SeqCst)]
    }
}

/// Read-back of both secondaries through counting relays, `confirm_wait = "on_request"`,
/// bounded by `timeout_ms`; `extra` goes into `[dns]` too.
fn on_request(d: &Deployment, timeout_ms: u64, extra: &str) -> Counted {
    let count = |server| {
        let n = Arc::new(AtomicUsize::new(0));
        let seen = n.clone();
        let relay = Relay::start(server, move |_, _| {
            seen.fetch_add(1, Ordering::SeqCst);
            Plan::forward()
        });
        (relay, n)
    };
    let ((r1, n1), (r2, n2)) = (count(d.ns1.addr()), count(d.ns2.addr()));
    let (a1, a2) = (r1.addr, r2.addr);
    d.w.edit_config(|text| {
        text.replacen(
            "timeout_ms = 1500\n",
            &format!(
                "timeout_ms = 1500\nconfirm = [\"{a1}\", \"{a2}\"]\nconfirm_timeout_ms = {timeout_ms}\nconfirm_wait = \"on_request\"\n{extra}"
            ),
            1,
        )
    });
    Counted { relays: [r1, r2], counts: [n1, n2] }
}

fn json_update(d: &Deployment, query: &str) -> Response {
    d.w.cgi(&Cgi::get(query).basic(USER, PASSWORD).env("HTTP_ACCEPT", "application/json"))
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {:?}\nlog:\n{}", r.body, r.log))
}

#[test]
fn without_wait_the_answer_comes_before_the_secondaries_are_asked() {
    let d = world!(deployment(DnsKind::Knot));
    let counted = on_request(&d, 5_000, "");
    // Both secondaries paused: an answer that waited for them could not come.
    d.ns1.pause();
    d.ns2.pause();
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.50")).expect(200, "good 192.0.2.50\n");
    assert_eq!(counted.queries(), [0, 0], "the secondaries were asked");
    // `wait=0` is the same as no `wait`.
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.51&wait=0")).expect(200, "good 192.0.2.51\n");
    assert_eq!(counted.queries(), [0, 0], "the secondaries were asked");
    d.ns1.resume();
    d.ns2.resume();
    // A `wait` that means nothing is refused before anything changes.
    let r = d.w.update(&format!("hostname={HOME}&myip=192.0.2.52&wait=soon"));
    r.expect(200, "badagent\n");
    assert!(r.log.contains("`wait` value `soon` is not 0, 1 or a number of seconds"), "{}", r.log);
    assert_eq!(d.w.a(HOME), ["192.0.2.51"]);
    assert_eq!(counted.queries(), [0, 0]);
}

#[test]
fn wait_1_answers_only_once_both_secondaries_serve_the_new_address() {
    let d = world!(deployment(DnsKind::Knot));
    let counted = on_request(&d, 20_000, "");
    // The BIND secondary cannot fetch the change until it is resumed; only then may the
    // answer come, and when it comes both serve the new address.
    d.ns2.pause();
    let resumed = std::sync::Mutex::new(None::<Instant>);
    let (r, answered, served) = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(1_500));
            *resumed.lock().expect("lock") = Some(Instant::now());
            d.ns2.resume();
        });
        let r = json_update(&d, &format!("hostname={HOME}&myip=192.0.2.60&wait=1"));
        // At the moment the answer arrives (the scope joins the resuming thread only later).
        let answered = Instant::now();
        (r, answered, [d.ns1.query(HOME, "A"), d.ns2.query(HOME, "A")])
    });
    assert!(resumed.lock().expect("lock").is_some_and(|t| t <= answered), "answered before ns2 was resumed");
    assert_eq!(served, [["192.0.2.60"], ["192.0.2.60"]]);
    assert_eq!(r.status, 200, "{}", r.log);
    let v = json(&r);
    assert_eq!((v["status"].as_str(), v["ipv4"].as_str()), (Some("good"), Some("192.0.2.60")), "{v}");
    let secondaries = v["secondaries"].as_array().unwrap_or_else(|| panic!("no secondaries in {v}"));
    let relays = counted.relays.each_ref().map(|r| r.addr.to_string());
    let servers: Vec<&str> = secondaries.iter().filter_map(|s| s["server"].as_str()).collect();
    assert_eq!(servers, relays.iter().map(String::as_str).collect::<Vec<_>>(), "{v}");
    for s in secondaries {
        assert_eq!(s["served"], true, "{v}");
        assert!(s["after_ms"].is_u64(), "{v}");
    }
    // The paused one took longer than the running one.
    assert!(secondaries[1]["after_ms"].as_u64() >= secondaries[0]["after_ms"].as_u64(), "{v}");
    assert!(counted.queries().iter().all(|n| *n > 0));
    assert!(!r.log.contains("does not serve serial"), "{}", r.log);
    // The plain answer is unchanged: `good` and the address.
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.61&wait=1")).expect(200, "good 192.0.2.61\n");
    assert_eq!(d.ns2.query(HOME, "A"), ["192.0.2.61"]);
}

#[test]
fn a_stopped_secondary_makes_the_answer_late_but_good_and_the_json_names_it() {
    let mut d = world!(deployment(DnsKind::Knot));
    // A bound that leaves the running secondary time for Knot's NOTIFY (about a second).
    let counted = on_request(&d, 2_500, "");
    d.ns2.stop();
    let r = json_update(&d, &format!("hostname={HOME}&myip=192.0.2.70&wait=1"));
    assert_eq!(d.ns1.query(HOME, "A"), ["192.0.2.70"]);
    let v = json(&r);
    assert_eq!(v["status"], "good", "{v}");
    let (ns1, ns2) = (counted.relays[0].addr.to_string(), counted.relays[1].addr.to_string());
    assert_eq!(
        v["secondaries"][0],
        serde_json::json!({"server": ns1, "served": true, "after_ms": v["secondaries"][0]["after_ms"]})
    );
    assert!(v["secondaries"][0]["after_ms"].is_u64(), "{v}");
    assert_eq!(v["secondaries"][1], serde_json::json!({"server": ns2, "served": false, "after_ms": null}), "{v}");
    let lagging: Vec<&str> = r.log.lines().filter(|l| l.contains("does not serve serial")).collect();
    assert_eq!(lagging.len(), 1, "{}", r.log);
    assert!(lagging[0].contains(&format!("secondary {ns2} does not serve serial")), "{}", lagging[0]);
    // `wait=SECONDS` is a shorter bound; the text answer is `good` as ever.
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.71&wait=2")).expect(200, "good 192.0.2.71\n");
    assert_eq!(d.w.a(HOME), ["192.0.2.71"]);
}

/// The `wait` requests' answers: how many have arrived, and the first host answered.
#[derive(Default)]
struct Arrivals {
    n: AtomicUsize,
    first: std::sync::Mutex<Option<usize>>,
}

const BOB: &str = "bob.dyn.example.test";

#[test]
fn two_hundred_waiting_requests_in_fastcgi_hold_no_worker_and_share_one_poll() {
    const N: usize = 200;
    let d = world!(deployment(DnsKind::Knot));
    let counted = on_request(&d, 30_000, "");
    // 200 updates at once on a small shared machine: give the primary time to answer.
    d.w.edit_config(|text| text.replacen("\ntimeout_ms = 1500\n", "\ntimeout_ms = 10000\n", 1));
    let hosts: Vec<String> = (0..N).map(|i| format!("w{i}.{ZONE}")).collect();
    std::thread::scope(|s| {
        for chunk in hosts.chunks(N / 8) {
            let w = &d.w;
            s.spawn(move || {
                for h in chunk {
                    w.admin(&["hostname", "add", USER, h, ZONE]).success();
                }
            });
        }
    });
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.80")).expect(200, "good 192.0.2.80\n");
    // Another user, whose password the FastCGI server has not verified yet: the repeat below
    // needs a worker (Argon2), it cannot be answered on the runtime's thread.
    d.w.add_user("bob", "bob-password");
    d.w.admin(&["hostname", "add", "bob", BOB, ZONE]).success();
    d.w.cgi(&Cgi::get(&format!("hostname={BOB}&myip=192.0.2.82")).basic("bob", "bob-password"))
        .expect(200, "good 192.0.2.82\n");
    // Two workers (the launcher's `--workers 2`), room for the connections.
    let options = LaunchOptions { args: &["--max-connections", "512"], address_space_bytes: None };
    let (fastcgi, _, port) = world!(Launched::start_with(&d.w, Launcher::Listen, options));
    let auth = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    let address = |i: usize| format!("198.51.100.{}", i % 250 + 1);
    d.ns2.pause();
    let arrivals = Arrivals::default();
    let answers: Vec<Option<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let (auth, arrivals) = (&auth, &arrivals);
                let query = format!("hostname={host}&myip={}&wait=1", address(i));
                s.spawn(move || {
                    let mut c = FcgiClient::connect_tcp(port);
                    c.set_read_timeout(Duration::from_secs(60));
                    c.request(1, false, &fcgi_update_params(&query, auth), b"").then_some(())?;
                    let raw = c.response(1)?;
                    if arrivals.n.fetch_add(1, Ordering::SeqCst) == 0 {
                        *arrivals.first.lock().expect("lock") = Some(i);
                    }
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
                })
            })
            .collect();
        // Every request has been handed over and waits.
        let deadline = Instant::now() + Duration::from_secs(60);
        while fastcgi.log().matches("the answer waits until the secondaries serve serial").count() < N {
            assert!(Instant::now() < deadline, "not all {N} waiting:\n{}", fastcgi.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        // The two workers are free: a repeat for another user's host is answered now, while
        // the 200 still wait (the paused secondary cannot serve their change).
        let bob = format!("Basic {}", base64("bob:bob-password"));
        let mut c = FcgiClient::connect_tcp(port);
        assert!(c.request(1, false, &fcgi_update_params(&format!("hostname={BOB}&myip=192.0.2.82"), &bob), b""));
        let nochg = c.response(1).map(|raw| String::from_utf8_lossy(&raw).into_owned());
        assert!(nochg.as_deref().is_some_and(|r| r.ends_with("\r\n\r\nnochg 192.0.2.82\n")), "{nochg:?}");
        assert!(fastcgi.log().contains("verifying the password of `bob`"), "not on a worker:\n{}", fastcgi.log());
        assert_eq!(arrivals.n.load(Ordering::SeqCst), 0, "a waiting request was answered before ns2 could serve");
        // An update without `wait` for another host does not wait either.
        let mut c = FcgiClient::connect_tcp(port);
        assert!(c.request(1, false, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.81"), &auth), b""));
        let good = c.response(1).map(|raw| String::from_utf8_lossy(&raw).into_owned());
        assert!(good.as_deref().is_some_and(|r| r.ends_with("\r\n\r\ngood 192.0.2.81\n")), "{good:?}");
        assert_eq!(arrivals.n.load(Ordering::SeqCst), 0);
        d.ns2.resume();
        // At the moment the first answer arrives, both secondaries serve its address.
        while arrivals.first.lock().expect("lock").is_none() {
            assert!(Instant::now() < deadline, "no answer after ns2 resumed:\n{}", fastcgi.log());
            std::thread::sleep(Duration::from_millis(5));
        }
        let first = arrivals.first.lock().expect("lock").unwrap_or_default();
        assert_eq!(d.ns1.query(&hosts[first], "A"), [address(first)]);
        assert_eq!(d.ns2.query(&hosts[first], "A"), [address(first)]);
        handles.into_iter().map(|h| h.join().expect("client thread")).collect()
    });
    for (i, answer) in answers.iter().enumerate() {
        assert_eq!(
            answer.as_deref(),
            Some(format!("good {}\n", address(i)).as_str()),
            "{}\n{}",
            hosts[i],
            fastcgi.log()
        );
    }
    serves(&d.ns2, &hosts[N - 1], &address(N - 1));
    // One query per server per round, for all of them; far fewer rounds than requests.
    let log = fastcgi.log();
    let rounds = log.lines().filter(|l| l.contains("read-back round")).count();
    assert_eq!(counted.queries(), [rounds, rounds], "{log}");
    assert!(rounds > 0 && rounds < N / 4, "{rounds} rounds for {N} requests:\n{log}");
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn acme_wait_holds_the_update_until_the_secondaries_serve_the_txt() {
    const TXT: &str = "LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo";
    const TXT_2: &str = "x7b9LVNZ0BAuFkUqn_4XR0gLcCpqYYqYANgOQD-3w_k";
    let d = world!(deployment(DnsKind::Knot));
    let counted = on_request(&d, 20_000, "");
    d.w.edit_config(|text| format!("{text}\n[acme]\nzone = \"{ZONE}\"\n"));
    let run = d.w.admin(&["acme", "add", "example.org", "--json"]);
    run.success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).expect("acme add --json");
    let field = |k: &str| v["example.org"][k].as_str().unwrap_or_default().to_owned();
    let (user, key, fulldomain) = (field("username"), field("password"), field("fulldomain"));
    let update = |txt: &str| {
        let body = format!("{{\"subdomain\": \"{}\", \"txt\": \"{txt}\"}}", field("subdomain"));
        d.w.cgi(
            &Cgi::get("")
                .path("/acme/update")
                .post("application/json", &body)
                .env("HTTP_X_API_USER", &user)
                .env("HTTP_X_API_KEY", &key),
        )
    };
    let served = |server: &crate::util::DnsServer| -> Vec<String> {
        server.query(&fulldomain, "TXT").into_iter().map(|t| t.trim_matches('"').to_owned()).collect()
    };
    // Off by default: answered at once, as acme-dns does, the secondaries never asked.
    d.ns2.pause();
    let r = update(TXT);
    assert_eq!((r.status, r.body.as_str()), (200, format!("{{\"txt\":\"{TXT}\"}}").as_str()), "{}", r.log);
    assert_eq!(counted.queries(), [0, 0]);
    d.ns2.resume();
    serves_txt(&served, &d, TXT);

    // `[acme] wait = true`: the answer, the same bytes, comes once both serve the value.
    d.w.edit_config(|text| format!("{text}wait = true\n"));
    d.ns2.pause();
    let resumed = std::sync::Mutex::new(None::<Instant>);
    let (r, answered, at_answer) = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(1_500));
            *resumed.lock().expect("lock") = Some(Instant::now());
            d.ns2.resume();
        });
        let r = update(TXT_2);
        (r, Instant::now(), [served(&d.ns1), served(&d.ns2)])
    });
    assert!(resumed.lock().expect("lock").is_some_and(|t| t <= answered), "answered before ns2 was resumed");
    for txt in &at_answer {
        assert!(txt.contains(&TXT_2.to_owned()), "{at_answer:?}");
    }
    assert_eq!((r.status, r.body.as_str()), (200, format!("{{\"txt\":\"{TXT_2}\"}}").as_str()), "{}", r.log);
    assert!(counted.queries().iter().all(|n| *n > 0));
    assert!(r.log.contains("every secondary serves serial"), "{}", r.log);
}

/// Waits (at most 10 s) until both secondaries serve `txt`.
#[track_caller]
fn serves_txt(served: &dyn Fn(&crate::util::DnsServer) -> Vec<String>, d: &Deployment, txt: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(served(&d.ns1).contains(&txt.to_owned()) && served(&d.ns2).contains(&txt.to_owned())) {
        assert!(Instant::now() < deadline, "the secondaries do not serve {txt}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hostname_status_shows_what_each_server_answers_now() {
    let mut d = world!(deployment(DnsKind::Knot));
    d.confirm(5_000);
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.90&myipv6=2001:db8::90&txt=hello"))
        .expect(200, "good 192.0.2.90 2001:db8::90\n");
    let run = d.w.admin(&["hostname", "status", HOME, "--json"]);
    run.success();
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).expect("status --json");
    let serial = d.w.dns.serial();
    let rows = v.as_array().expect("an array");
    let servers: Vec<String> = [d.w.dns.addr(), d.ns1.addr(), d.ns2.addr()].iter().map(|a| a.to_string()).collect();
    assert_eq!(rows.len(), 3, "{v}");
    for (row, (server, role)) in rows.iter().zip(servers.iter().zip(["primary", "secondary", "secondary"])) {
        assert_eq!(
            row,
            &serde_json::json!({"server": server, "role": role, "serial": serial, "a": ["192.0.2.90"],
                "aaaa": ["2001:db8::90"], "txt": ["hello"], "error": null}),
            "{v}"
        );
    }
    // The table; a stopped secondary is a row with its error, the others as before.
    d.ns2.stop();
    let run = d.w.admin(&["hostname", "status", HOME]);
    run.success();
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[0].starts_with("SERVER") && lines[0].contains("SERIAL"), "{out}");
    assert!(lines[1].starts_with(&servers[0]) && lines[1].contains("192.0.2.90"), "{out}");
    assert!(lines[3].starts_with(&servers[2]) && lines[3].contains("cannot reach"), "{out}");
    // A hostname in no configured zone.
    let run = d.w.admin(&["hostname", "status", "host.example.org"]);
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(run.stderr().contains("`host.example.org` is in no configured zone"), "{}", run.stderr());
}

#[test]
fn a_stopping_fastcgi_server_answers_its_waiting_requests_at_once() {
    const N: usize = 3;
    let d = world!(deployment(DnsKind::Knot));
    let counted = on_request(&d, 60_000, "");
    let hosts: Vec<String> = (0..N).map(|i| format!("s{i}.{ZONE}")).collect();
    for h in &hosts {
        d.w.admin(&["hostname", "add", USER, h, ZONE]).success();
    }
    let (mut fastcgi, _, port) = world!(Launched::start(&d.w, Launcher::Listen));
    let auth = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    // The paused secondary cannot serve the changes: only the stop can end the waits.
    d.ns2.pause();
    let answers: Vec<Option<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let auth = &auth;
                let query = format!("hostname={host}&myip=198.51.100.{}&wait=1", i + 1);
                s.spawn(move || {
                    let mut c = FcgiClient::connect_tcp(port);
                    c.set_read_timeout(Duration::from_secs(90));
                    let params = [fcgi_update_params(&query, auth), vec![("HTTP_ACCEPT", "application/json")]].concat();
                    c.request(1, true, &params, b"").then_some(())?;
                    let raw = c.response(1)?;
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while fastcgi.log().matches("the answer waits until the secondaries serve serial").count() < N {
            assert!(Instant::now() < deadline, "not all {N} waiting:\n{}", fastcgi.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        fastcgi.signal_and_wait("-TERM");
        handles.into_iter().map(|h| h.join().expect("client thread")).collect()
    });
    let ns2 = counted.relays[1].addr.to_string();
    for (host, answer) in hosts.iter().zip(&answers) {
        let body = answer.as_deref().unwrap_or_else(|| panic!("{host}: no answer\n{}", fastcgi.log()));
        let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        assert_eq!((v["status"].as_str(), v["hostname"].as_str()), (Some("good"), Some(host.as_str())), "{v}");
        assert_eq!(v["secondaries"][1], serde_json::json!({"server": ns2, "served": false, "after_ms": null}), "{v}");
    }
    let log = fastcgi.log();
    assert!(log.contains("SIGTERM") && log.contains("fastcgi: stopped"), "{log}");
    assert!(!log.contains("requests still running"), "{log}");
    d.ns2.resume();
}
