//! Authentication hardening, shown without timing: unknown users go through the dummy Argon2
//! hash (the debug log says so), and a hash with outdated parameters is upgraded on the next
//! successful login.

use crate::util::{Cgi, PASSWORD, Response, USER, World};

const HOME: &str = "home.dyn.example.test";

fn stored_hash(w: &World, user: &str) -> String {
    let conn = rusqlite::Connection::open(&w.db).expect("open db");
    conn.query_row("SELECT password_hash FROM users WHERE name = ?1", [user], |r| r.get(0)).expect("hash")
}

#[test]
fn unknown_users_are_verified_against_the_dummy_hash() {
    let w = world!(World::knot());
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic("mallory", "guess"));
    r.expect(401, "badauth\n");
    assert!(
        r.log.contains("unknown user `mallory`: verifying against a dummy argon2 hash with m=64,t=1,p=1"),
        "{}",
        r.log
    );
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, "guess"));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("verifying the password of `alice` with argon2"), "{}", r.log);
    assert!(!r.log.contains("guess"), "{}", r.log);
}

#[test]
fn outdated_hash_is_upgraded_on_successful_login() {
    let w = world!(World::knot());
    let before = stored_hash(&w, USER);
    assert!(before.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{before}");
    // A failed login must not touch the hash.
    let text = std::fs::read_to_string(&w.config).expect("config");
    std::fs::write(&w.config, text.replace("argon2_m_kib = 64\nargon2_t = 1", "argon2_m_kib = 128\nargon2_t = 2"))
        .expect("write config");
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, "wrong")).expect(401, "badauth\n");
    assert_eq!(stored_hash(&w, USER), before);
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1"));
    r.expect(200, "good 192.0.2.1\n");
    assert!(r.log.contains("upgraded password hash of `alice`"), "{}", r.log);
    let after = stored_hash(&w, USER);
    assert!(after.starts_with("$argon2id$v=19$m=128,t=2,p=1$"), "{after}");
    // The new hash works and is current: no second upgrade.
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1"));
    r.expect(200, "nochg 192.0.2.1\n");
    assert!(!r.log.contains("upgraded"), "{}", r.log);
    assert_eq!(stored_hash(&w, USER), after);
    assert!(!r.log.contains(PASSWORD));
}

#[test]
fn passwords_over_1024_bytes_are_never_verified() {
    // Mutation gap (issue 12): removing the 1,024-byte bound passed every test. A user whose
    // password is 1,025 bytes cannot log in with it: the bound holds before any verification.
    let w = world!(World::knot());
    for (name, len) in [("long", 1025), ("edge", 1024)] {
        let password = "p".repeat(len);
        w.add_user(name, &password);
        w.admin(&["hostname", "add", name, &format!("{name}.dyn.example.test"), "dyn.example.test"]).success();
    }
    let long = "p".repeat(1025);
    let r = w.cgi(&Cgi::get("hostname=long.dyn.example.test&myip=192.0.2.21").basic("long", &long));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("credentials over the length bound"), "{}", r.log);
    assert!(w.a("long.dyn.example.test").is_empty());
    let edge = "p".repeat(1024);
    w.cgi(&Cgi::get("hostname=edge.dyn.example.test&myip=192.0.2.22").basic("edge", &edge))
        .expect(200, "good 192.0.2.22\n");
    assert_eq!(w.a("edge.dyn.example.test"), ["192.0.2.22"]);
}

#[test]
fn user_names_over_256_bytes_are_never_looked_up() {
    // Mutation gaps (issue 12): moving the 256-byte bound on the user name (`>=`, `==`)
    // passed every test. A name at the bound is looked up (an unknown user); one octet more is
    // over the bound and never reaches the database; both answer `badauth` the same way.
    let w = world!(World::knot());
    let query = format!("hostname={HOME}&myip=192.0.2.23");
    let r = w.cgi(&Cgi::get(&query).basic(&"u".repeat(256), PASSWORD));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("unknown user `uuuu"), "{}", r.log);
    assert!(!r.log.contains("over the length bound"), "{}", r.log);
    let r = w.cgi(&Cgi::get(&query).basic(&"u".repeat(257), PASSWORD));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("credentials over the length bound"), "{}", r.log);
    assert!(!r.log.contains("unknown user"), "{}", r.log);
    assert!(w.a(HOME).is_empty());
}

/// Runs `req` under GNU time and returns the answer and the process's peak RSS in KiB: the
/// Argon2 memory cost shows there without any timing.
fn peak_rss_kib(w: &World, req: &Cgi) -> (Response, u64) {
    let time = std::path::Path::new("/usr/bin/time");
    assert!(time.exists(), "/usr/bin/time is needed (Debian package `time`; scripts/install-deps.sh installs it)");
    let out = w.dir.path().join(format!("rss-{}", next_suffix()));
    let args = [time.as_os_str(), "-f".as_ref(), "%M".as_ref(), "-o".as_ref(), out.as_os_str()];
    let r = w.cgi_wrapped(req, &args);
    let text = std::fs::read_to_string(&out).expect("time output");
    let kib = text.trim().lines().last().and_then(|l| l.trim().parse().ok()).expect("peak RSS in KiB");
    (r, kib)
}

fn next_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Sets `[auth] argon2_m_kib` (the harness writes 64).
fn set_memory_cost(w: &World, from: u32, to: u32) {
    w.edit_config(|t| t.replace(&format!("argon2_m_kib = {from}\n"), &format!("argon2_m_kib = {to}\n")));
}

const BIG_KIB: u64 = 64 * 1024;

#[test]
fn unknown_users_pay_the_argon2_memory_of_a_stored_hash() {
    // Mutation gap (issue 12): skipping the dummy Argon2 for unknown users passed every test,
    // which only looked at a log line. Peak memory shows the work: most users' hashes cost
    // 64 MiB, so a wrong password and an unknown user both touch 64 MiB.
    let w = world!(World::knot());
    set_memory_cost(&w, 64, 65536);
    w.add_user("bob", "bob-password");
    w.add_user("carol", "carol-password");
    set_memory_cost(&w, 65536, 64);
    let (r, known) = peak_rss_kib(&w, &Cgi::get(&format!("hostname={HOME}")).basic("bob", "wrong"));
    r.expect(401, "badauth\n");
    let (r, unknown) = peak_rss_kib(&w, &Cgi::get(&format!("hostname={HOME}")).basic("mallory", "wrong"));
    r.expect(401, "badauth\n");
    assert!(known > BIG_KIB * 15 / 16, "a wrong password for bob verifies at 64 MiB: {known} KiB");
    assert!(
        unknown > BIG_KIB * 15 / 16,
        "the dummy for an unknown user must cost what bob's hash costs: {unknown} KiB"
    );
}

#[test]
fn after_a_cost_increase_unknown_users_cost_what_stored_hashes_cost() {
    // Regression (issue 12, item 13): after raising `[auth]`, users not yet re-hashed were
    // verified at the old cost and unknown users at the new one, so the cost told which
    // names exist. The dummy now takes the parameters most stored hashes have.
    let w = world!(World::knot());
    set_memory_cost(&w, 64, 65536);
    let (r, known) = peak_rss_kib(&w, &Cgi::get(&format!("hostname={HOME}")).basic(USER, "wrong"));
    r.expect(401, "badauth\n");
    let (r, unknown) = peak_rss_kib(&w, &Cgi::get(&format!("hostname={HOME}")).basic("mallory", "wrong"));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("dummy argon2 hash with m=64,t=1,p=1"), "{}", r.log);
    assert!(
        known < BIG_KIB / 2 && unknown < BIG_KIB / 2,
        "alice's hash costs 64 KiB; known {known} KiB, unknown {unknown} KiB"
    );
    // Once most users are re-hashed at the new cost, so are unknown users.
    w.update(&format!("hostname={HOME}&myip=192.0.2.30")).expect(200, "good 192.0.2.30\n");
    assert!(stored_hash(&w, USER).starts_with("$argon2id$v=19$m=65536,t=1,p=1$"));
    let (r, unknown) = peak_rss_kib(&w, &Cgi::get(&format!("hostname={HOME}")).basic("mallory", "wrong"));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("dummy argon2 hash with m=65536,t=1,p=1"), "{}", r.log);
    assert!(unknown > BIG_KIB * 15 / 16, "{unknown} KiB");
}
