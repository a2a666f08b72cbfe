//! Authentication hardening, shown without timing: unknown users go through the dummy Argon2
//! hash (the debug log says so), and a hash with outdated parameters is upgraded on the next
//! successful login.

use crate::util::{Cgi, PASSWORD, USER, World};

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
    assert!(r.log.contains("unknown user `mallory`: verifying against the dummy argon2 hash"), "{}", r.log);
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
