//! What issue 13 changed for speed, checked for correctness through real servers: the FastCGI
//! password cache (a correct repeat skips Argon2; a wrong password and a changed password
//! never do).

use crate::util::web::{Front, WebServer, curl};
use std::sync::Arc;

use crate::util::{USER, World};
use crate::web::{HOME, creds, web_world};

/// How many Argon2 verifications of a stored password the FastCGI server has logged.
fn argon2_runs(web: &WebServer) -> usize {
    web.fastcgi_log().matches(&format!("verifying the password of `{USER}` with argon2")).count()
}

#[test]
fn fastcgi_remembers_a_verified_password_until_it_changes() {
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let url = |ip: &str| web.url(&format!("/nic/update?hostname={HOME}&myip={ip}"));
    curl(&["-u", &creds(), &url("192.0.2.1")]).expect(200, "good 192.0.2.1\n");
    assert_eq!(argon2_runs(&web), 1, "{}", web.fastcgi_log());
    // The same credentials again: remembered, no Argon2 run.
    curl(&["-u", &creds(), &url("192.0.2.1")]).expect(200, "nochg 192.0.2.1\n");
    curl(&["-u", &creds(), &url("192.0.2.2")]).expect(200, "good 192.0.2.2\n");
    assert_eq!(argon2_runs(&web), 1, "{}", web.fastcgi_log());
    assert_eq!(world.a(HOME), ["192.0.2.2"]);
    assert!(web.fastcgi_log().contains("verified earlier by this process: no argon2 run"), "{}", web.fastcgi_log());
    // A wrong password always pays Argon2, however recently the right one was seen.
    curl(&["-u", &format!("{USER}:wrong"), &url("192.0.2.3")]).expect(401, "badauth\n");
    assert_eq!(argon2_runs(&web), 2, "{}", web.fastcgi_log());
    // A new password: the old one is refused at once (its entry was for the old hash), and
    // the new one is verified once, then remembered.
    world.admin_stdin(&["user", "passwd", USER, "--password-stdin"], "n3w-secret\n").success();
    curl(&["-u", &creds(), &url("192.0.2.4")]).expect(401, "badauth\n");
    assert_eq!(argon2_runs(&web), 3, "{}", web.fastcgi_log());
    curl(&["-u", &format!("{USER}:n3w-secret"), &url("192.0.2.4")]).expect(200, "good 192.0.2.4\n");
    curl(&["-u", &format!("{USER}:n3w-secret"), &url("192.0.2.5")]).expect(200, "good 192.0.2.5\n");
    assert_eq!(argon2_runs(&web), 4, "{}", web.fastcgi_log());
    assert_eq!(world.a(HOME), ["192.0.2.5"]);
    assert_eq!(world.stored(HOME), (Some("192.0.2.5".into()), None));
}

#[test]
fn a_cgi_request_leaves_the_wal_for_the_next_one() {
    // A closing CGI process used to checkpoint the WAL into the database and delete `-wal`
    // and `-shm` (4 fsyncs, 2 unlinks per request, created again by the next process).
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let wal = w.db.with_file_name("ddns.db-wal");
    assert!(wal.exists(), "the -wal file was removed at close");
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    assert!(wal.exists(), "the -wal file was removed at close");
    // Readers (another connection, the next process) see every commit.
    assert_eq!(w.stored(HOME), (Some("192.0.2.1".into()), None));
    w.update(&format!("hostname={HOME}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    assert_eq!(w.stored(HOME), (Some("192.0.2.2".into()), None));
    assert_eq!(w.a(HOME), ["192.0.2.2"]);
}

/// How many UPDATE messages Knot has applied (it logs how many it applies per commit).
fn knot_updates(w: &World) -> u64 {
    w.dns
        .log()
        .lines()
        .filter_map(|l| l.split_once("DDNS, processing ")?.1.strip_suffix(" updates")?.parse::<u64>().ok())
        .sum()
}

/// Waits until the FastCGI server has authenticated `n` requests of [`USER`] in all: they are
/// past the handler's checks and at their host's change.
fn wait_authenticated(web: &WebServer, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while web.fastcgi_log().matches(&format!("password of `{USER}`")).count() < n {
        assert!(std::time::Instant::now() < deadline, "requests did not arrive:\n{}", web.fastcgi_log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // From the log line to the queue is a few instructions; leave them ample time.
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// Starts `curl` for one update through the web server; joins to its (status, body).
fn spawn_curl(web: &WebServer, query: &str, creds: &str) -> std::thread::JoinHandle<(u16, String)> {
    let (url, creds) = (web.url(&format!("/nic/update?{query}")), creds.to_owned());
    std::thread::spawn(move || {
        let r = curl(&["-u", &creds, &url]);
        (r.status, r.body)
    })
}

/// Holds the first of `n` concurrent updates (one host each, one zone) at a relay in front of
/// the DNS server until `queued` more are past authentication, then lets it go; checks every
/// answer, record and row, and returns how many UPDATE messages Knot applied and the largest
/// batch the FastCGI server (shipped defaults) logged; `None` when the servers are missing.
fn batch_behind_a_held_update(n: usize, queued: usize) -> Option<(u64, usize, Option<usize>)> {
    use crate::locking::{Gate, names};
    use crate::util::relay::{self, Plan, Relay};
    use crate::util::{Setup, ZONE};
    let hosts: Vec<String> = (0..n).map(|i| format!("g{i}.{ZONE}")).collect();
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let world = World::new(Setup { extra_config: crate::web::NO_RATE_LIMIT, hosts: &host_refs, ..Setup::default() })?;
    // The first update is held at the relay until the others queue behind it.
    let gate = Arc::new(Gate::default());
    let relay = {
        let gate = gate.clone();
        Relay::start(world.dns.addr(), move |_, request| {
            if names(request, "g0") {
                gate.arrive_and_wait();
            }
            Plan::forward()
        })
    };
    relay::reroute(&world, &relay);
    let web = WebServer::start(&world, Front::NginxFastcgi)?;
    let before = knot_updates(&world);
    let ip = |i: usize| format!("198.51.100.{}", 10 + i);
    let mut running = vec![spawn_curl(&web, &format!("hostname={}&myip={}", hosts[0], ip(0)), &creds())];
    assert!(gate.wait_seen(std::time::Duration::from_secs(30)), "{}", web.fastcgi_log());
    for (i, host) in hosts.iter().enumerate().skip(1) {
        running.push(spawn_curl(&web, &format!("hostname={host}&myip={}", ip(i)), &creds()));
    }
    // One worker holds the zone's message, the others wait in its queue.
    wait_authenticated(&web, 1 + queued);
    gate.release();
    for (i, t) in running.into_iter().enumerate() {
        assert_eq!(t.join().expect("curl"), (200, format!("good {}\n", ip(i))), "{}", web.fastcgi_log());
    }
    for (i, host) in hosts.iter().enumerate() {
        assert_eq!(world.a(host), [ip(i)], "{host}");
        assert_eq!(world.stored(host), (Some(ip(i)), None), "{host}");
    }
    let messages = knot_updates(&world) - before;
    let largest = web
        .fastcgi_log()
        .lines()
        .filter_map(|l| l.split_once(" hostnames: DNS exchange with")?.0.rsplit(' ').next()?.parse::<usize>().ok())
        .max();
    Some((messages, hosts.len(), largest))
}

#[test]
fn concurrent_fastcgi_updates_share_dns_messages() {
    let Some((messages, updates, largest)) = batch_behind_a_held_update(24, 3) else { return };
    assert!(messages < updates as u64, "{messages} messages for {updates} updates");
    assert!(largest >= Some(3), "no message carried the three queued hosts: {largest:?}");
}

#[test]
fn one_batch_holds_every_waiting_client_of_the_benchmark() {
    // scripts/bench.sh drives 8 connections, each its own host: with the shipped default of
    // `--workers`, all 8 that arrive while the zone's message is in flight wait in its queue
    // and go in one message (with 4 workers only 3 could, the others waited for a worker).
    let Some((messages, updates, largest)) = batch_behind_a_held_update(9, 8) else { return };
    assert!(largest >= Some(8), "no message carried the eight queued hosts: {largest:?}");
    assert!(messages <= 2, "{messages} messages for {updates} updates");
}

#[test]
fn a_refused_name_in_a_batch_does_not_fail_the_others() {
    use crate::locking::{Gate, names};
    use crate::util::relay::{self, Plan, Relay};
    use crate::util::{DnsKind, DnsServer, Setup, ZONE};
    let (held, good1, good2, bad) =
        (format!("held.{ZONE}"), format!("ok1.{ZONE}"), format!("ok2.{ZONE}"), format!("bad.{ZONE}"));
    let mut world = world!(World::new(Setup {
        extra_config: crate::web::NO_RATE_LIMIT,
        hosts: &[&held, &good1, &good2, &bad],
        ..Setup::default()
    }));
    // A server whose policy refuses AAAA records: the update of `bad` is refused for real.
    let Some(strict) = DnsServer::start_a_only(DnsKind::Knot, &[&format!("{ZONE}.")], &world.key) else { return };
    let old = world.dns.addr().to_string();
    world.edit_config(|c| c.replace(&old, &strict.addr().to_string()));
    world.dns = strict;
    let gate = Arc::new(Gate::default());
    let relay = {
        let gate = gate.clone();
        Relay::start(world.dns.addr(), move |_, request| {
            if names(request, "held") {
                gate.arrive_and_wait();
            }
            Plan::forward()
        })
    };
    relay::reroute(&world, &relay);
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let first = spawn_curl(&web, &format!("hostname={held}&myip=192.0.2.1"), &creds());
    assert!(gate.wait_seen(std::time::Duration::from_secs(30)), "{}", web.fastcgi_log());
    let others = [
        spawn_curl(&web, &format!("hostname={good1}&myip=192.0.2.2"), &creds()),
        spawn_curl(&web, &format!("hostname={bad}&myip=2001:db8::3"), &creds()),
        spawn_curl(&web, &format!("hostname={good2}&myip=192.0.2.4"), &creds()),
    ];
    wait_authenticated(&web, 4);
    gate.release();
    assert_eq!(first.join().expect("curl"), (200, "good 192.0.2.1\n".to_owned()));
    let answers: Vec<(u16, String)> = others.into_iter().map(|t| t.join().expect("curl")).collect();
    let log = web.fastcgi_log();
    assert_eq!(
        answers,
        [(200, "good 192.0.2.2\n".to_owned()), (200, "dnserr\n".to_owned()), (200, "good 192.0.2.4\n".to_owned())],
        "{log}"
    );
    assert!(log.contains("a message with 3 hostnames failed"), "{log}");
    assert_eq!(world.a(&good1), ["192.0.2.2"]);
    assert_eq!(world.a(&good2), ["192.0.2.4"]);
    assert!(world.aaaa(&bad).is_empty());
    assert_eq!(world.stored(&good1), (Some("192.0.2.2".into()), None));
    assert_eq!(world.stored(&good2), (Some("192.0.2.4".into()), None));
    assert_eq!(world.stored(&bad), (None, None));
}
