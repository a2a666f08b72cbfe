//! Rate limits against a real Knot: bad requests per address and per user, successful ones
//! per address, `abuse` before any Argon2 work, defaults that real clients stay inside, and
//! old rows trimmed. The harness turns limits off unless a test brings its own table.

use crate::util::{Cgi, PASSWORD, Setup, USER, World};

const HOME: &str = "home.dyn.example.test";

fn limited(extra: &'static str) -> Option<World> {
    World::new(Setup { extra_config: extra, ..Setup::default() })
}

/// Evidence that the request reached Argon2: the debug line `authenticate` logs before it.
fn reached_argon2(log: &str) -> bool {
    log.contains("argon2")
}

#[track_caller]
fn assert_abuse_without_argon2(w: &World, req: &Cgi) {
    let r = w.cgi(req);
    r.expect(200, "abuse\n");
    assert!(!reached_argon2(&r.log), "a limited request must not hash:\n{}", r.log);
    assert!(r.log.contains("rate limit:"), "{}", r.log);
    assert!(!r.log.contains(PASSWORD));
}

#[test]
fn bad_requests_are_limited_per_address() {
    let w = world!(limited("[rate_limit]\nbad_max_requests = 3\n"));
    for i in 0..3 {
        let r = w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(&format!("guess{i}"), "x"));
        r.expect(401, "badauth\n");
        assert!(reached_argon2(&r.log), "{}", r.log);
    }
    // The right password from the same address no longer gets checked.
    let ok = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, PASSWORD);
    assert_abuse_without_argon2(&w, &ok);
    // Malformed input counts too, and is also answered `abuse` once over the limit.
    w.cgi(&Cgi::get("hostname=%zz")).expect(200, "abuse\n");
    assert!(w.a(HOME).is_empty());
    assert_eq!(w.stored(HOME), (None, None));
    // Another address is not affected.
    w.cgi(&ok.clone().remote("198.51.100.200")).expect(200, "good 192.0.2.1\n");
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
}

#[test]
fn bad_requests_are_limited_per_user_across_addresses() {
    let w = world!(limited("[rate_limit]\nbad_max_requests = 3\n"));
    for i in 0..3 {
        let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, "wrong").remote(&format!("203.0.113.{i}")));
        r.expect(401, "badauth\n");
    }
    let ok = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.2")).basic(USER, PASSWORD).remote("203.0.113.99");
    assert_abuse_without_argon2(&w, &ok);
    assert!(w.a(HOME).is_empty());
    assert_eq!(w.stored(HOME), (None, None));
}

#[test]
fn unknown_hosts_and_bad_input_count_as_bad() {
    let w = world!(limited("[rate_limit]\nbad_max_requests = 2\n"));
    w.update("hostname=nobody.dyn.example.test&myip=192.0.2.1").expect(200, "nohost\n");
    w.update(&format!("hostname={HOME}&myip=192.0.2.300")).expect(200, "badip\n");
    assert_abuse_without_argon2(&w, &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.3")).basic(USER, PASSWORD));
    assert!(w.a(HOME).is_empty());
}

#[test]
fn successful_requests_are_limited_per_address() {
    let w = world!(limited("[rate_limit]\ngood_max_requests = 2\n"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.4")).expect(200, "good 192.0.2.4\n");
    w.update(&format!("hostname={HOME}&myip=192.0.2.4")).expect(200, "nochg 192.0.2.4\n");
    assert_abuse_without_argon2(&w, &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.5")).basic(USER, PASSWORD));
    assert_eq!(w.a(HOME), ["192.0.2.4"]);
    assert_eq!(w.stored(HOME), (Some("192.0.2.4".into()), None));
}

#[test]
fn real_clients_stay_inside_the_defaults() {
    let w = world!(limited("[rate_limit]\nenabled = true\n"));
    // A dual-stack Fritz!Box: IPv4 and IPv6 updates from its two addresses, each sent again
    // after its DNS check.
    let v4 = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.6")).basic(USER, PASSWORD).remote("192.0.2.6");
    let v6 = Cgi::get(&format!("hostname={HOME}&myip6=2001:db8::6")).basic(USER, PASSWORD).remote("2001:db8::6");
    w.cgi(&v4).expect(200, "good 192.0.2.6\n");
    w.cgi(&v6).expect(200, "good 2001:db8::6\n");
    w.cgi(&v4).expect(200, "nochg 192.0.2.6\n");
    w.cgi(&v6).expect(200, "nochg 2001:db8::6\n");
    // wget sends credentials only after the 401 challenge: the challenge does not count.
    for ip in ["192.0.2.7", "192.0.2.8", "192.0.2.9"] {
        let q = format!("hostname={HOME}&myip={ip}");
        w.cgi(&Cgi::get(&q).remote("198.51.100.5")).expect(401, "badauth\n");
        w.cgi(&Cgi::get(&q).basic(USER, PASSWORD).remote("198.51.100.5")).expect(200, &format!("good {ip}\n"));
    }
    assert_eq!(w.a(HOME), ["192.0.2.9"]);
    assert_eq!(w.aaaa(HOME), ["2001:db8::6"]);
}

#[test]
fn old_rows_do_not_count_and_are_trimmed() {
    let w = world!(limited("[rate_limit]\nbad_max_requests = 1\n"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    for _ in 0..5 {
        w.sql(&format!(
            "INSERT INTO rate_limit (scope, \"key\", at) VALUES ('bad-addr', '198.51.100.77', {})",
            now - 3600
        ));
    }
    w.update(&format!("hostname={HOME}&myip=192.0.2.10")).expect(200, "good 192.0.2.10\n");
    let rows: Vec<(String, i64)> = w
        .rows("SELECT scope, at FROM rate_limit")
        .into_iter()
        .map(|r| (r[0].clone().expect("scope"), r[1].as_deref().and_then(|v| v.parse().ok()).expect("at")))
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "good-addr");
    assert!(rows[0].1 >= now);
}

/// A user whose hash costs a few milliseconds even in a debug build, so parallel attempts
/// overlap inside Argon2 as they do in production.
fn add_costly_user(w: &World, name: &str, password: &str) {
    w.edit_config(|t| t.replace("argon2_m_kib = 64\nargon2_t = 1", "argon2_m_kib = 8192\nargon2_t = 2"));
    w.add_user(name, password);
    w.edit_config(|t| t.replace("argon2_m_kib = 8192\nargon2_t = 2", "argon2_m_kib = 64\nargon2_t = 1"));
}

#[test]
fn parallel_wrong_passwords_each_count() {
    // Regression (issue 12): the limit was read before Argon2 and written after it, so 40
    // parallel wrong passwords all answered `badauth` against a limit of 3.
    let w = world!(limited("[rate_limit]\nbad_max_requests = 3\n"));
    add_costly_user(&w, "bob", "bob-password");
    let req = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic("bob", "wrong").remote("203.0.113.40");
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..40)
            .map(|_| {
                s.spawn(|| {
                    let r = w.cgi(&req);
                    (r.status, r.body.clone())
                })
            })
            .collect();
        runs.into_iter().map(|t| t.join().expect("request thread")).collect()
    });
    let n_badauth = answers.iter().filter(|a| *a == &(401, "badauth\n".to_owned())).count();
    let n_abuse = answers.iter().filter(|a| *a == &(200, "abuse\n".to_owned())).count();
    assert_eq!(n_badauth + n_abuse, 40, "{answers:?}");
    assert!((1..=3).contains(&n_badauth), "{n_badauth} of 40 parallel attempts were verified: {answers:?}");
    // Counted as bad, each of them: the right password is refused too until the window ends.
    let ok = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, PASSWORD).remote("203.0.113.40");
    assert_abuse_without_argon2(&w, &ok);
    assert!(w.a(HOME).is_empty());
}

#[test]
fn ipv6_clients_share_a_counter_per_prefix() {
    // Regression (issue 12): every IPv6 address had its own counter, so a client rotating
    // through its /64 was never limited.
    let w = world!(limited("[rate_limit]\nbad_max_requests = 3\n"));
    let guess = |i: u32, addr: &str| {
        w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(&format!("guess{i}"), "x").remote(addr))
    };
    for i in 1..=6 {
        let r = guess(i, &format!("2001:db8:1:2::{i:x}"));
        if i <= 3 {
            r.expect(401, "badauth\n");
        } else {
            r.expect(200, "abuse\n");
            assert!(r.log.contains("bad-addr `2001:db8:1:2::/64`"), "{}", r.log);
        }
    }
    // The next /64 is another client; IPv4 keeps the full address.
    guess(7, "2001:db8:1:3::1").expect(401, "badauth\n");
    guess(8, "192.0.2.200").expect(401, "badauth\n");

    // Providers that hand out a /56: every /64 inside it is one client.
    let w = world!(limited("[rate_limit]\nbad_max_requests = 3\nipv6_prefix = 56\n"));
    let guess = |i: u32, addr: &str| {
        w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(&format!("guess{i}"), "x").remote(addr))
    };
    for (i, addr) in ["2001:db8:1:200::1", "2001:db8:1:2ff::2", "2001:db8:1:2a0::3"].iter().enumerate() {
        guess(i as u32, addr).expect(401, "badauth\n");
    }
    let r = guess(4, "2001:db8:1:201::4");
    r.expect(200, "abuse\n");
    assert!(r.log.contains("bad-addr `2001:db8:1:200::/56`"), "{}", r.log);
    guess(5, "2001:db8:1:300::1").expect(401, "badauth\n");
}

#[test]
fn unusable_proxy_header_falls_back_to_the_proxy_address() {
    // Regression (issue 12): an oversized or malformed header from a trusted proxy left the
    // request without a client address (`client=-`), and so without per-address limits.
    let w = world!(limited(
        "log_requests = true\n[rate_limit]\nbad_max_requests = 3\n[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n"
    ));
    let oversized = "203.0.113.9, ".repeat(400);
    let headers = [oversized.as_str(), "203.0.113.5, bogus", "not-an-address"];
    for (i, xff) in headers.iter().enumerate() {
        let req = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1"))
            .basic(&format!("guess{i}"), "x")
            .remote("127.0.0.1")
            .env("HTTP_X_FORWARDED_FOR", xff);
        let r = w.cgi(&req);
        r.expect(401, "badauth\n");
        assert!(r.log.contains("client=127.0.0.1 "), "{}", r.log);
        assert!(r.log.contains("using the proxy address 127.0.0.1"), "{}", r.log);
    }
    let r = w.cgi(
        &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1"))
            .basic(USER, PASSWORD)
            .remote("127.0.0.1")
            .env("HTTP_X_FORWARDED_FOR", &oversized),
    );
    r.expect(200, "abuse\n");
    assert!(r.log.contains("bad-addr `127.0.0.1`"), "{}", r.log);
    assert!(w.a(HOME).is_empty());
    // A usable header still names the client, which is not limited.
    let r = w.cgi(
        &Cgi::get(&format!("hostname={HOME}"))
            .basic(USER, PASSWORD)
            .remote("127.0.0.1")
            .env("HTTP_X_FORWARDED_FOR", "192.0.2.77"),
    );
    r.expect(200, "good 192.0.2.77\n");
    assert_eq!(w.a(HOME), ["192.0.2.77"]);
}

#[test]
fn unusable_proxy_header_never_publishes_the_proxy_address() {
    let w = world!(limited(
        "[rate_limit]\nbad_max_requests = 9\n[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n"
    ));
    let req = Cgi::get(&format!("hostname={HOME}"))
        .basic(USER, PASSWORD)
        .remote("127.0.0.1")
        .env("HTTP_X_FORWARDED_FOR", "bogus");
    w.cgi(&req).expect(200, "badip\n");
    assert!(w.a(HOME).is_empty());
    assert_eq!(w.stored(HOME), (None, None));
}

#[test]
fn locked_database_makes_no_attempt_free() {
    if crate::util::pg::skip_sqlite_only("a database file locked by another SQLite writer") {
        return;
    }
    // Regression (issue 12): the limit was read (WAL readers pass a writer's lock) and the
    // failed write only logged, so a wrong password was verified and never counted.
    let w = world!(limited("[rate_limit]\nbad_max_requests = 3\n"));
    w.edit_config(|t| t.replacen("[dns]", "busy_timeout_ms = 300\n\n[dns]", 1));
    let holder = rusqlite::Connection::open(&w.db).expect("open db");
    holder.execute_batch("BEGIN IMMEDIATE; UPDATE users SET email = email;").expect("hold the write lock");
    for _ in 0..5 {
        let r = w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, "wrong"));
        r.expect(200, "911\n");
        assert!(!reached_argon2(&r.log), "no verification without a counted attempt:\n{}", r.log);
        assert!(r.log.contains("cannot reserve the rate limit"), "{}", r.log);
    }
    holder.execute_batch("ROLLBACK").expect("release");
    // Once the lock is gone, attempts count as before.
    for _ in 0..3 {
        w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, "wrong")).expect(401, "badauth\n");
    }
    assert_abuse_without_argon2(&w, &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, PASSWORD));
}

#[test]
fn dnserr_is_not_counted() {
    // Mutation gap (issue 12): counting a `dnserr`-only request as bad passed every test.
    let w = world!(limited("[rate_limit]\nbad_max_requests = 2\n"));
    // A host whose zone is no longer configured answers `dnserr` without a DNS exchange.
    w.edit_config(|t| t.replace("name = \"dyn.example.test\"", "name = \"elsewhere.example.test\""));
    for _ in 0..4 {
        w.update(&format!("hostname={HOME}&myip=192.0.2.11")).expect(200, "dnserr\n");
    }
    w.edit_config(|t| t.replace("name = \"elsewhere.example.test\"", "name = \"dyn.example.test\""));
    w.update(&format!("hostname={HOME}&myip=192.0.2.11")).expect(200, "good 192.0.2.11\n");
    assert_eq!(w.a(HOME), ["192.0.2.11"]);
}

#[test]
fn abuse_is_not_counted() {
    // Mutation gap (issue 12): counting `abuse` itself passed every test. The clock cannot be
    // moved for a CGI process, so the rows are: 40 s back after the bad attempts, 30 s more
    // after the limited ones. Then the bad attempts are outside the 60 s window, and limited
    // requests, were they counted, would still be inside it.
    let w = world!(limited("[rate_limit]\nbad_max_requests = 3\nbad_window_seconds = 60\n"));
    for i in 0..3 {
        w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(&format!("guess{i}"), "x")).expect(401, "badauth\n");
    }
    w.sql("UPDATE rate_limit SET at = at - 40");
    let ok = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.12")).basic(USER, PASSWORD);
    for _ in 0..4 {
        assert_abuse_without_argon2(&w, &ok);
    }
    w.sql("UPDATE rate_limit SET at = at - 30");
    w.cgi(&ok).expect(200, "good 192.0.2.12\n");
    assert_eq!(w.a(HOME), ["192.0.2.12"]);
}

#[test]
fn old_good_rows_do_not_count_and_each_limit_logs_its_own_window() {
    // Mutation gaps (issue 12): the good window taken as `now / window` (every successful
    // request counted forever) and the good limit logged with the bad limit's window passed
    // every test: no test had a successful request older than the window, and every test
    // used the same length for both windows.
    let w = world!(limited(
        "[rate_limit]\ngood_max_requests = 1\ngood_window_seconds = 120\nbad_max_requests = 1\nbad_window_seconds = 90\n"
    ));
    w.update(&format!("hostname={HOME}&myip=192.0.2.13")).expect(200, "good 192.0.2.13\n");
    let again = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.14")).basic(USER, PASSWORD);
    let r = w.cgi(&again);
    r.expect(200, "abuse\n");
    assert!(
        r.log.contains("rate limit: good-addr `") && r.log.contains("made 1 counted requests in 120 s"),
        "{}",
        r.log
    );
    // Once the successful request is older than the good window, it no longer counts.
    w.sql("UPDATE rate_limit SET at = at - 121");
    w.cgi(&again).expect(200, "good 192.0.2.14\n");
    assert_eq!(w.a(HOME), ["192.0.2.14"]);
    assert_eq!(w.stored(HOME), (Some("192.0.2.14".into()), None));
    // The bad limit names its own window.
    let guess = Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic("guess", "x").remote("198.51.100.21");
    w.cgi(&guess).expect(401, "badauth\n");
    let r = w.cgi(&guess);
    r.expect(200, "abuse\n");
    assert!(r.log.contains("made 1 counted requests in 90 s"), "{}", r.log);
    assert_eq!(w.a(HOME), ["192.0.2.14"]);
}
