//! What every shared engine (PostgreSQL, MariaDB) must do for two `ddns-cgi fastcgi`
//! front-ends on one database and one Knot, and with its schema (a newer one refused, two
//! front-ends migrating at once), written once; `postgres.rs` and `mariadb.rs` run each on a
//! world of their engine (their tests call these with it).

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::locking::names;
use crate::util::relay::{self, Plan, Relay};
use crate::util::web::{FcgiClient, Launched, Launcher, fcgi_update_params};
use crate::util::{PASSWORD, USER, World, ZONE, base64, bin};

/// The host the tests change (added by the engines' `world()`).
pub const HOME: &str = "home.dyn.example.test";

/// The body of one FastCGI update through the front-end listening on `port`.
pub fn update_via(port: u16, query: &str) -> String {
    let auth = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, false, &fcgi_update_params(query, &auth), b""), "send the request");
    let raw = c.response(1).expect("an answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or(text)
}

/// Fifty changes of one host, alternately through two front-ends, at once: every one `good`,
/// and the row equal to DNS at the end.
pub fn one_host_hammered(w: &World) {
    let Some((_a, _, port_a)) = Launched::start(w, Launcher::Listen) else { return };
    let Some((_b, _, port_b)) = Launched::start(w, Launcher::Listen) else { return };
    let serial_before = w.dns.serial();
    let answers: Vec<(String, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..50u8)
            .map(|i| {
                let port = if i % 2 == 0 { port_a } else { port_b };
                s.spawn(move || {
                    let ip = format!("192.0.2.{}", i + 1);
                    (ip.clone(), update_via(port, &format!("hostname={HOME}&myip={ip}")))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("update thread")).collect()
    });
    // Every address differs from every other, so every update is a change.
    for (ip, body) in &answers {
        assert_eq!(body, &format!("good {ip}\n"), "{answers:?}");
    }
    let in_dns = w.a(HOME);
    let (row_v4, _) = w.stored(HOME);
    assert_eq!(in_dns.len(), 1, "{in_dns:?}");
    assert_eq!(row_v4.as_deref(), Some(in_dns[0].as_str()), "the row and DNS disagree");
    // Each accepted UPDATE moves the serial once; Knot commits the updates queued at one
    // moment together, and each front-end's group commit sends several changes in one
    // message, so the serial rose at least once and never more than once per `good`.
    let rose = w.dns.serial().wrapping_sub(serial_before);
    assert!((1..=50).contains(&rose), "the serial rose {rose} times for 50 `good` answers");
}

/// Front-end A's UPDATE is applied by Knot, but its answer is held at a relay for 2 s.
/// Without a lock shared by both front-ends, B's change of the same host goes through in
/// that time and is stored first, then A stores its older address: the row no longer matches
/// DNS. With the engine's host lock (an advisory lock, `GET_LOCK`), B waits until A has
/// stored its row.
pub fn a_change_waits_for_the_other_ends_exchange(w: &World) {
    let seen = Arc::new(AtomicUsize::new(0));
    let relay = {
        let seen = seen.clone();
        Relay::start(w.dns.addr(), move |_, request| {
            if !names(request, "home") {
                return Plan::forward();
            }
            match seen.fetch_add(1, Ordering::SeqCst) {
                0 => Plan::Forward { delay: Duration::from_secs(2), tamper: |_| {} },
                _ => Plan::forward(),
            }
        })
    };
    relay::reroute(w, &relay);
    w.edit_config(|c| c.replace("timeout_ms = 1500", "timeout_ms = 5000"));
    let Some((_a, _, port_a)) = Launched::start(w, Launcher::Listen) else { return };
    let Some((_b, _, port_b)) = Launched::start(w, Launcher::Listen) else { return };
    let started = Instant::now();
    let first = std::thread::spawn(move || update_via(port_a, &format!("hostname={HOME}&myip=192.0.2.1")));
    while seen.load(Ordering::SeqCst) == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "front-end A never reached the DNS server");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(update_via(port_b, &format!("hostname={HOME}&myip=192.0.2.2")), "good 192.0.2.2\n");
    assert!(started.elapsed() >= Duration::from_secs(2), "B's change did not wait for A's exchange");
    assert_eq!(first.join().expect("front-end A"), "good 192.0.2.1\n");
    assert_eq!(w.a(HOME), ["192.0.2.2"]);
    assert_eq!(w.stored(HOME), (Some("192.0.2.2".into()), None), "the row and DNS disagree");
}

/// The server ends the front-end's pooled sessions (`end_sessions`, which says how many it
/// ended), as a restart does. At most the first request on each lost session answers 911;
/// the session is then dropped, not put back, and the next request opens a new one.
pub fn a_worker_whose_session_the_server_closed_opens_a_new_one(w: &World, end_sessions: impl FnOnce() -> usize) {
    let Some((_fcgi, _, port)) = Launched::start(w, Launcher::Listen) else { return };
    assert_eq!(update_via(port, &format!("hostname={HOME}&myip=192.0.2.1")), "good 192.0.2.1\n");
    let ended = end_sessions();
    assert!(ended > 0, "the front-end keeps no session");
    let answers: Vec<String> =
        (0..8).map(|i| update_via(port, &format!("hostname={HOME}&myip=192.0.2.{}", 10 + i))).collect();
    let failed = answers.iter().filter(|a| *a == "911\n").count();
    assert!(failed <= ended, "{answers:?}");
    assert_eq!(answers.last().map(String::as_str), Some("good 192.0.2.17\n"), "{answers:?}");
    assert_eq!(w.a(HOME), ["192.0.2.17"]);
}

/// A schema written by a newer ddns-cgi (`version` is this one's) is refused by updates (911)
/// and by `init-db`, and the host keeps its address (`192.0.2.9`, set by the caller).
pub fn a_newer_schema_is_refused(w: &World, version: i64) {
    w.sql("UPDATE schema_version SET version = 99");
    w.update(&format!("hostname={HOME}&myip=192.0.2.10")).expect(200, "911\n");
    let r = w.admin(&["init-db"]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(
        r.stderr().contains(&format!("database schema version 99 is newer than this ddns-cgi supports ({version})")),
        "{}",
        r.stderr()
    );
    assert_eq!(w.a(HOME), ["192.0.2.9"]);
}

/// Two `init-db` runs of the world's config started at once, as two front-ends starting on an
/// empty database; [`both_ready`] waits for them.
pub fn two_init_dbs(w: &World) -> [Child; 2] {
    let spawn = || {
        Command::new(bin())
            .env_clear()
            .arg("--config")
            .arg(&w.config)
            .arg("init-db")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start init-db")
    };
    [spawn(), spawn()]
}

/// Both runs of [`two_init_dbs`] ended well with the database at `version`.
pub fn both_ready(runs: [Child; 2], version: i64) {
    for run in runs {
        let out = run.wait_with_output().expect("wait for init-db");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stdout.ends_with(&format!("` ready (schema version {version})\n")), "{stdout}{stderr}");
    }
}

/// The freshly migrated database serves: a user, a host, an update in DNS and in the row
/// (`row_v4`, read from the database the config now names).
pub fn the_migrated_database_serves(w: &World, row_v4: impl FnOnce() -> Option<String>) {
    w.add_user(USER, PASSWORD);
    w.admin(&["hostname", "add", USER, HOME, ZONE]).success();
    w.update(&format!("hostname={HOME}&myip=192.0.2.7")).expect(200, "good 192.0.2.7\n");
    assert_eq!(w.a(HOME), ["192.0.2.7"]);
    assert_eq!(row_v4().as_deref(), Some("192.0.2.7"));
}
