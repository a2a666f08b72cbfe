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
    let conn = rusqlite::Connection::open(&w.db).expect("open db");
    for _ in 0..5 {
        conn.execute("INSERT INTO rate_limit (scope, key, at) VALUES ('bad-addr', '198.51.100.77', ?1)", [now - 3600])
            .expect("insert");
    }
    w.update(&format!("hostname={HOME}&myip=192.0.2.10")).expect(200, "good 192.0.2.10\n");
    let rows: Vec<(String, i64)> = conn
        .prepare("SELECT scope, at FROM rate_limit")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "good-addr");
    assert!(rows[0].1 >= now);
}
