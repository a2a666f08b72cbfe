//! PostgreSQL as the shared database of several front-ends (issue 11): two `ddns-cgi fastcgi`
//! processes (two front-ends, each with its own sessions) share one PostgreSQL and one Knot.
//! The same host hammered through both ends with the row equal to DNS; two expiry runs at
//! once do the work once; the URL form of `[database]`, `init-db`, `check` and a newer schema
//! refused, and `sslmode` over the socket. These run in every pass: the worlds here are on PostgreSQL whatever
//! `DDNS_TEST_DATABASE` says (the rest of the suite follows it; see TESTING.md).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::locking::names;
use crate::util::relay::{self, Plan, Relay};
use crate::util::web::{FcgiClient, Launched, Launcher, fcgi_update_params};
use crate::util::{PASSWORD, Setup, USER, World, base64, bin, epoch};

const HOME: &str = "home.dyn.example.test";

/// The advisory lock the expiry run takes (`store::postgres`: class "ddns", key 2).
const EXPIRY_LOCK: (i32, i32) = (0x6464_6e73, 2);

fn world() -> Option<World> {
    World::postgres(Setup::default())
}

/// The body of one FastCGI update through the front-end listening on `port`.
fn update_via(port: u16, query: &str) -> String {
    let auth = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, false, &fcgi_update_params(query, &auth), b""), "send the request");
    let raw = c.response(1).expect("an answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or(text)
}

#[test]
fn one_host_hammered_through_two_front_ends_ends_with_the_row_equal_to_dns() {
    let w = crate::world!(world());
    let Some((_a, _, port_a)) = Launched::start(&w, Launcher::Listen) else { return };
    let Some((_b, _, port_b)) = Launched::start(&w, Launcher::Listen) else { return };
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

#[test]
fn a_change_through_one_front_end_waits_for_the_other_ends_dns_exchange_of_the_same_host() {
    // Front-end A's UPDATE is applied by Knot, but its answer is held at a relay for 2 s.
    // Without a lock shared by both front-ends, B's change of the same host goes through in
    // that time and is stored first, then A stores its older address: the row no longer
    // matches DNS. With the advisory lock, B waits until A has stored its row.
    let w = crate::world!(world());
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
    relay::reroute(&w, &relay);
    w.edit_config(|c| c.replace("timeout_ms = 1500", "timeout_ms = 5000"));
    let Some((_a, _, port_a)) = Launched::start(&w, Launcher::Listen) else { return };
    let Some((_b, _, port_b)) = Launched::start(&w, Launcher::Listen) else { return };
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

#[test]
fn an_expiry_run_finding_the_lock_held_does_nothing_and_exits_0() {
    let w = crate::world!(world());
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let pg = crate::util::pg::PgServer::shared();
    let mut holder = pg.connect(w.pg.as_deref().expect("a postgres world"));
    holder.execute("SELECT pg_advisory_lock($1, $2)", &[&EXPIRY_LOCK.0, &EXPIRY_LOCK.1]).expect("hold the lock");
    let r = w.expire(t0 + 7200);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_eq!(r.stdout(), "another expiry run holds the postgresql expiry lock; this one does nothing\n");
    assert_eq!(w.a(HOME), ["192.0.2.1"], "the run that found the lock held changed DNS");
    assert_eq!(w.count("SELECT COUNT(*) FROM hostnames WHERE expired = 1"), 0);
    holder.execute("SELECT pg_advisory_unlock($1, $2)", &[&EXPIRY_LOCK.0, &EXPIRY_LOCK.1]).expect("release");

    // Two runs started at once: one expires the host; the other finds the lock held or, if
    // it started after the first ended, nothing left to do.
    let spawn = || {
        Command::new(bin())
            .env_clear()
            .arg("--config")
            .arg(&w.config)
            .args(["expire", "--now", &(t0 + 7200).to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start expiry")
    };
    crate::util::one_expiry_run_did_the_work([spawn(), spawn()]);
    assert!(w.a(HOME).is_empty());
    assert_eq!(w.count("SELECT COUNT(*) FROM hostnames WHERE expired = 1"), 1);
}

#[test]
fn url_form_init_db_check_and_a_newer_schema_refused() {
    let w = crate::world!(world());
    let pg = crate::util::pg::PgServer::shared();
    let name = w.pg.clone().expect("a postgres world");
    // The URL form, with the socket directory percent-encoded as the host.
    let socket = pg.socket_dir.display().to_string().replace('/', "%2F");
    let url = format!("url = \"postgresql://postgres@{socket}:{}/{name}?sslmode=disable\"", pg.port);
    let table = pg.config_lines(&name);
    w.edit_config(|t| t.replace(&table, &url));
    let r = w.admin(&["init-db"]);
    // The version the database holds: every migration appended moves it.
    let version = w.count("SELECT version FROM schema_version");
    assert!(version >= 2, "relays are a migration: {version}");
    let shown = format!("postgres@{}/{name}", pg.socket_dir.display());
    assert_eq!(r.success().stdout(), format!("database postgresql `{shown}` ready (schema version {version})\n"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.9")).expect(200, "good 192.0.2.9\n");
    assert_eq!(w.a(HOME), ["192.0.2.9"]);
    let check = w.admin(&["check"]).stdout();
    let line = format!("ok    database postgresql `{shown}`: schema version {version}, current\n");
    assert!(check.contains(&line), "{check}");

    let line = format!("ok    database postgresql `{shown}`: connected without TLS (sslmode `disable`)\n");
    assert!(check.contains(&line), "{check}");

    // Over a Unix socket TLS is never used, whatever `sslmode` asks (as libpq): `require`
    // connects. TLS itself is tested on TCP in `postgres_tls.rs`.
    w.edit_config(|t| t.replace("sslmode=disable", "sslmode=require"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.8")).expect(200, "good 192.0.2.8\n");
    let check = w.admin(&["check"]).stdout();
    let line = format!("ok    database postgresql `{shown}`: connected over a Unix socket, where TLS is never used\n");
    assert!(check.contains(&line), "{check}");
    w.update(&format!("hostname={HOME}&myip=192.0.2.9")).expect(200, "good 192.0.2.9\n");
    w.edit_config(|t| t.replace("sslmode=require", "sslmode=disable"));

    // A schema written by a newer ddns-cgi is refused by updates (911) and by init-db.
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
