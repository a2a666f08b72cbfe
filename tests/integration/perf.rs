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
pub(crate) fn wait_authenticated(web: &WebServer, n: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while web.fastcgi_log().matches(&format!("password of `{USER}`")).count() < n {
        assert!(std::time::Instant::now() < deadline, "requests did not arrive:\n{}", web.fastcgi_log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // From the log line to the queue is a few instructions; leave them ample time.
    std::thread::sleep(std::time::Duration::from_millis(300));
}

/// Starts `curl` for one update through the web server; joins to its (status, body).
pub(crate) fn spawn_curl(web: &WebServer, query: &str, creds: &str) -> std::thread::JoinHandle<(u16, String)> {
    let (url, creds) = (web.url(&format!("/nic/update?{query}")), creds.to_owned());
    std::thread::spawn(move || {
        let r = curl(&["-u", &creds, &url]);
        (r.status, r.body)
    })
}

/// A hold at a relay in front of the DNS server: while closed, every UPDATE message that
/// arrives waits there, and is counted.
#[derive(Default)]
pub(crate) struct Hold {
    /// (messages held so far, open)
    state: std::sync::Mutex<(usize, bool)>,
    changed: std::sync::Condvar,
}

impl Hold {
    /// Starts a relay in front of `world`'s DNS server that holds every UPDATE at `hold`
    /// until it opens, and points the world's config at it.
    pub(crate) fn relay(world: &World) -> (Arc<Hold>, crate::util::relay::Relay) {
        use crate::util::relay::{self, Plan, Relay};
        let hold = Arc::new(Hold::default());
        let relay = {
            let hold = hold.clone();
            Relay::start(world.dns.addr(), move |_, request| {
                // RFC 2136 §2.2: the opcode of an UPDATE is 5.
                if request.get(2).is_some_and(|b| (b >> 3) & 0xf == 5) {
                    hold.arrive_and_wait();
                }
                Plan::forward()
            })
        };
        relay::reroute(world, &relay);
        (hold, relay)
    }

    fn arrive_and_wait(&self) {
        let mut s = self.state.lock().expect("hold");
        s.0 += 1;
        self.changed.notify_all();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !s.1 && std::time::Instant::now() < deadline {
            s = self.changed.wait_timeout(s, std::time::Duration::from_millis(100)).expect("hold").0;
        }
    }

    /// Waits (bounded) until `n` messages are held; whether they are.
    pub(crate) fn wait_held(&self, n: usize) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut s = self.state.lock().expect("hold");
        while s.0 < n && std::time::Instant::now() < deadline {
            s = self.changed.wait_timeout(s, std::time::Duration::from_millis(100)).expect("hold").0;
        }
        s.0 >= n
    }

    pub(crate) fn held(&self) -> usize {
        self.state.lock().expect("hold").0
    }

    pub(crate) fn release(&self) {
        self.state.lock().expect("hold").1 = true;
        self.changed.notify_all();
    }
}

/// What [`held_then_batched`] saw.
#[derive(Debug)]
struct Batched {
    /// Messages at the DNS server at once while the `n` updates waited.
    held: usize,
    /// UPDATE messages Knot applied for the `n` updates.
    messages: u64,
    /// The most hostnames one message carried (from the FastCGI server's debug log).
    largest: Option<usize>,
}

/// Sends `n` concurrent updates (at most the 16 workers), one host each, one zone, through
/// FastCGI (shipped defaults)
/// while a relay holds every UPDATE message at the DNS server's door; once all `n` are past
/// authentication (in a run, or waiting for one), lets them go. Checks every answer, record
/// and row, and returns what was held and how the updates went out; `None` when the servers
/// are missing.
fn held_then_batched(n: usize) -> Option<Batched> {
    use crate::util::{Setup, ZONE};
    let hosts: Vec<String> = (0..n).map(|i| format!("g{i}.{ZONE}")).collect();
    let host_refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let world = World::new(Setup { extra_config: crate::web::NO_RATE_LIMIT, hosts: &host_refs, ..Setup::default() })?;
    // Held messages must not time out on a loaded machine.
    world.edit_config(|c| c.replace("timeout_ms = 1500", "timeout_ms = 30000"));
    let (hold, _relay) = Hold::relay(&world);
    let web = WebServer::start(&world, Front::NginxFastcgi)?;
    let before = knot_updates(&world);
    let ip = |i: usize| format!("198.51.100.{}", 10 + i);
    let mut running = vec![spawn_curl(&web, &format!("hostname={}&myip={}", hosts[0], ip(0)), &creds())];
    assert!(hold.wait_held(1), "{}", web.fastcgi_log());
    for (i, host) in hosts.iter().enumerate().skip(1) {
        running.push(spawn_curl(&web, &format!("hostname={host}&myip={}", ip(i)), &creds()));
    }
    wait_authenticated(&web, n);
    let held = hold.held();
    hold.release();
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
    Some(Batched { held, messages, largest })
}

#[test]
fn concurrent_fastcgi_updates_share_dns_messages() {
    let Some(b) = held_then_batched(9) else { return };
    // The zone's runs in flight were at the DNS server (`batch::RUNS_IN_FLIGHT`, one), the
    // other updates waited and all went in one message when the first run ended.
    assert!((1..=4).contains(&b.held), "{b:?}");
    assert_eq!(b.messages, b.held as u64 + 1, "{b:?}");
    assert_eq!(b.largest, Some(9 - b.held), "{b:?}");
}

#[test]
fn one_batch_holds_every_waiting_client_of_the_benchmark() {
    // scripts/bench.sh drives 8 connections, each its own host. With the shipped default of
    // `--workers` (16), 8 changes waiting behind the runs in flight (`batch::RUNS_IN_FLIGHT`)
    // go in one message (with 4 workers only 3 could, the others waited for a worker).
    let Some(b) = held_then_batched(12) else { return };
    assert!(b.held <= 4, "{b:?}");
    assert!(b.largest >= Some(8), "no message carried the eight waiting hosts: {b:?}");
    assert_eq!(b.messages, b.held as u64 + 1, "{b:?}");
}

#[test]
fn a_refused_name_in_a_batch_does_not_fail_the_others() {
    use crate::util::{DnsKind, DnsServer, Setup, ZONE};
    let fillers: Vec<String> = (0..8).map(|i| format!("f{i}.{ZONE}")).collect();
    let (good1, good2, bad) = (format!("ok1.{ZONE}"), format!("ok2.{ZONE}"), format!("bad.{ZONE}"));
    let mut hosts: Vec<&str> = fillers.iter().map(String::as_str).collect();
    hosts.extend([good1.as_str(), good2.as_str(), bad.as_str()]);
    let mut world =
        world!(World::new(Setup { extra_config: crate::web::NO_RATE_LIMIT, hosts: &hosts, ..Setup::default() }));
    // A server whose policy refuses AAAA records: the update of `bad` is refused for real.
    let Some(strict) = DnsServer::start_a_only(DnsKind::Knot, &[&format!("{ZONE}.")], &world.key) else { return };
    let old = world.dns.addr().to_string();
    world.edit_config(|c| {
        c.replace(&old, &strict.addr().to_string()).replace("timeout_ms = 1500", "timeout_ms = 30000")
    });
    world.dns = strict;
    let (hold, _relay) = Hold::relay(&world);
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    // The fillers take every run the zone may have in flight (held at the relay) and wait
    // behind them; then the three wait too, so all go together when the first run ends.
    let first = spawn_curl(&web, &format!("hostname={}&myip=192.0.2.1", fillers[0]), &creds());
    assert!(hold.wait_held(1), "{}", web.fastcgi_log());
    let fill: Vec<_> =
        fillers[1..].iter().map(|f| spawn_curl(&web, &format!("hostname={f}&myip=192.0.2.1"), &creds())).collect();
    wait_authenticated(&web, 8);
    let others = [
        spawn_curl(&web, &format!("hostname={good1}&myip=192.0.2.2"), &creds()),
        spawn_curl(&web, &format!("hostname={bad}&myip=2001:db8::3"), &creds()),
        spawn_curl(&web, &format!("hostname={good2}&myip=192.0.2.4"), &creds()),
    ];
    wait_authenticated(&web, 11);
    let held = hold.held();
    hold.release();
    for t in std::iter::once(first).chain(fill) {
        assert_eq!(t.join().expect("curl"), (200, "good 192.0.2.1\n".to_owned()));
    }
    let answers: Vec<(u16, String)> = others.into_iter().map(|t| t.join().expect("curl")).collect();
    let log = web.fastcgi_log();
    assert_eq!(
        answers,
        [(200, "good 192.0.2.2\n".to_owned()), (200, "dnserr\n".to_owned()), (200, "good 192.0.2.4\n".to_owned())],
        "{log}"
    );
    assert!(log.contains(&format!("a message with {} hostnames failed", 11 - held)), "{held} held\n{log}");
    assert_eq!(world.a(&good1), ["192.0.2.2"]);
    assert_eq!(world.a(&good2), ["192.0.2.4"]);
    assert!(world.aaaa(&bad).is_empty());
    assert_eq!(world.stored(&good1), (Some("192.0.2.2".into()), None));
    assert_eq!(world.stored(&good2), (Some("192.0.2.4".into()), None));
    assert_eq!(world.stored(&bad), (None, None));
    for f in &fillers {
        assert_eq!(world.a(f), ["192.0.2.1"], "{f}");
    }
}

/// How many requests the FastCGI server answered by the repeat's reads (`update::queue_here`:
/// on SQLite on its runtime thread, on PostgreSQL and MariaDB on a worker) instead of the
/// full path.
pub(crate) fn answered_without_a_worker(web: &WebServer) -> usize {
    web.fastcgi_log().matches(": answered from the row, without a worker").count()
}

#[test]
fn a_fastcgi_repeat_is_answered_without_a_worker_and_logged_once() {
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    // Only SQLite's reads may run on the runtime's thread (`Store::reads_in_async`); on
    // PostgreSQL a worker tries the repeat first, with the same answers and log lines.
    let inline = 1;
    let run = world.admin(&["hostname", "token", HOME]);
    run.success();
    let token = run.stdout().trim().to_owned();
    let url = |ip: &str| web.url(&format!("/nic/update?hostname={HOME}&myip={ip}&token={token}"));
    curl(&[&url("192.0.2.1")]).expect(200, "good 192.0.2.1\n");
    assert_eq!(answered_without_a_worker(&web), 0, "{}", web.fastcgi_log());
    // The repeat: the same answer as a worker gives, from the runtime's thread.
    curl(&[&url("192.0.2.1")]).expect(200, "nochg 192.0.2.1\n");
    assert_eq!(answered_without_a_worker(&web), inline, "{}", web.fastcgi_log());
    let log = web.fastcgi_log();
    assert_eq!(log.matches(&format!("{HOME}: no change (ipv4=192.0.2.1")).count(), 1, "{log}");
    // The first request was tried there too, then handed to a worker: that try logged
    // nothing, so the token check shows once, for the worker's run; the repeat's shows none.
    assert_eq!(log.matches("checking a host token").count(), 2 - inline, "{log}");
    assert_eq!(world.a(HOME), ["192.0.2.1"]);
    // A change, a wrong token and a cached password's repeat.
    curl(&[&url("192.0.2.2")]).expect(200, "good 192.0.2.2\n");
    let wrong = format!("ddns_{}", "A".repeat(43));
    curl(&[&web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.2&token={wrong}"))]).expect(401, "badauth\n");
    let basic = web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.2"));
    curl(&["-u", &creds(), &basic]).expect(200, "nochg 192.0.2.2\n");
    assert_eq!(argon2_runs(&web), 1, "{}", web.fastcgi_log());
    curl(&["-u", &creds(), &basic]).expect(200, "nochg 192.0.2.2\n");
    assert_eq!(answered_without_a_worker(&web), 2 * inline, "{}", web.fastcgi_log());
    assert_eq!(argon2_runs(&web), 1, "{}", web.fastcgi_log());
    assert_eq!(world.a(HOME), ["192.0.2.2"]);
    assert_eq!(world.stored(HOME), (Some("192.0.2.2".into()), None));
}

#[test]
fn fastcgi_repeats_still_count_towards_the_rate_limit() {
    let world = world!(World::new(crate::util::Setup {
        extra_config: "[rate_limit]\ngood_max_requests = 2\n",
        hosts: &[HOME],
        ..crate::util::Setup::default()
    }));
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let url = web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.7"));
    curl(&["-u", &creds(), &url]).expect(200, "good 192.0.2.7\n");
    curl(&["-u", &creds(), &url]).expect(200, "nochg 192.0.2.7\n");
    // The third request of the address within the window: limited, even as a repeat.
    curl(&["-u", &creds(), &url]).expect(200, "abuse\n");
    assert_eq!(answered_without_a_worker(&web), 0, "{}", web.fastcgi_log());
    assert_eq!(world.a(HOME), ["192.0.2.7"]);
}

#[test]
fn a_fastcgi_repeat_sees_what_other_processes_committed_at_once() {
    // The repeat's reads are remembered until anyone commits (`store/sqlite/memo.rs`): every
    // change by another process must show in the very next answer.
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let token = |w: &World| {
        let run = w.admin(&["hostname", "token", HOME]);
        run.success();
        run.stdout().trim().to_owned()
    };
    let first = token(&world);
    let url = |ip: &str, token: &str| web.url(&format!("/nic/update?hostname={HOME}&myip={ip}&token={token}"));
    curl(&[&url("192.0.2.1", &first)]).expect(200, "good 192.0.2.1\n");
    for _ in 0..3 {
        curl(&[&url("192.0.2.1", &first)]).expect(200, "nochg 192.0.2.1\n");
    }
    // A CGI process changes the address: the repeat of the old one is a change again.
    world.update(&format!("hostname={HOME}&myip=192.0.2.9")).expect(200, "good 192.0.2.9\n");
    curl(&[&url("192.0.2.1", &first)]).expect(200, "good 192.0.2.1\n");
    curl(&[&url("192.0.2.1", &first)]).expect(200, "nochg 192.0.2.1\n");
    assert_eq!(world.a(HOME), ["192.0.2.1"]);
    // A new token replaces the old one: the old one is refused at once.
    let second = token(&world);
    curl(&[&url("192.0.2.1", &first)]).expect(401, "badauth\n");
    curl(&[&url("192.0.2.1", &second)]).expect(200, "nochg 192.0.2.1\n");
    curl(&[&url("192.0.2.1", &second)]).expect(200, "nochg 192.0.2.1\n");
    // Revoked, then the hostname deleted: refused, and nothing comes back.
    world.admin(&["hostname", "token", "--revoke", HOME]).success();
    curl(&[&url("192.0.2.1", &second)]).expect(401, "badauth\n");
    let third = token(&world);
    curl(&[&url("192.0.2.1", &third)]).expect(200, "nochg 192.0.2.1\n");
    world.admin(&["hostname", "delete", HOME]).success();
    curl(&[&url("192.0.2.1", &third)]).expect(401, "badauth\n");
    assert!(world.a(HOME).is_empty(), "{:?}", world.a(HOME));
    // The repeats above were answered by the repeat's reads (on SQLite on the runtime's
    // thread, on PostgreSQL on a worker in one statement), the remembered
    // reads among them; a password's repeat is `fastcgi_remembers_a_verified_password_...`.
    assert_eq!(answered_without_a_worker(&web), 7, "{}", web.fastcgi_log());
}
