//! The admin commands of the core issue: init-db, user add, hostname add.

use std::os::unix::fs::PermissionsExt as _;

use crate::util::{USER, World, ZONE};
use crate::world;

#[test]
fn init_db_is_idempotent_and_0600() {
    let w = world!(World::knot());
    const HOME: &str = "home.dyn.example.test";
    w.update(&format!("hostname={HOME}&myip=192.0.2.7")).expect(200, "good 192.0.2.7\n");
    let listing = |args: &[&str]| w.admin(args).success().stdout();
    let (users, hosts) = (listing(&["user", "list", "--json"]), listing(&["hostname", "list", "--json"]));
    let r = w.admin(&["init-db"]);
    r.success();
    // The version the file holds: every migration appended moves it.
    let conn = rusqlite::Connection::open(&w.db).expect("open test database");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("user_version");
    assert!(version >= 2, "the tokens table is a migration: {version}");
    assert_eq!(r.stdout(), format!("database {} ready (schema version {version})\n", w.db.display()));
    w.admin(&["--init-db"]).success();
    let mode = std::fs::metadata(&w.db).expect("db").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // Running it again kept every user and hostname as they were, with the stored address.
    assert_eq!(listing(&["user", "list", "--json"]), users);
    assert_eq!(listing(&["hostname", "list", "--json"]), hosts);
    assert_eq!(w.stored(HOME), (Some("192.0.2.7".to_owned()), None));
    // The password still verifies, the row is still the one compared against, and an update
    // still reaches DNS.
    w.update(&format!("hostname={HOME}&myip=192.0.2.7")).expect(200, "nochg 192.0.2.7\n");
    w.update(&format!("hostname={HOME}&myip=192.0.2.8")).expect(200, "good 192.0.2.8\n");
    assert_eq!(w.a(HOME), ["192.0.2.8"]);
    assert_eq!(w.stored(HOME), (Some("192.0.2.8".to_owned()), None));
}

#[test]
fn user_add_errors() {
    let w = world!(World::knot());
    let r = w.admin_stdin(&["user", "add", USER, "a@example.test", "--password-stdin"], "pw\n");
    assert_eq!((r.code(), r.stderr()), (Some(2), "error: user `alice` already exists\n".to_owned()));
    let r = w.admin_stdin(&["user", "add", "carol", "c@example.test", "--password-stdin"], "\n");
    assert_eq!((r.code(), r.stderr()), (Some(2), "error: an empty password is not allowed\n".to_owned()));
    let r = w.admin_stdin(&["user", "add", "ca:rol", "c@example.test", "--password-stdin"], "pw\n");
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().starts_with("error: `ca:rol` is not a valid user name"), "{}", r.stderr());
    let r = w.admin_stdin(&["user", "add", "carol", "not-an-email", "--password-stdin"], "pw\n");
    assert_eq!((r.code(), r.stderr()), (Some(2), "error: `not-an-email` is not an email address\n".to_owned()));
}

#[test]
fn hostname_add_errors() {
    let w = world!(World::knot());
    let check = |args: &[&str], code: i32, message: &str| {
        let r = w.admin(args);
        assert_eq!((r.code(), r.stderr()), (Some(code), format!("error: {message}\n")), "{args:?}");
    };
    check(
        &["hostname", "add", USER, "home.dyn.example.test", ZONE],
        2,
        "hostname `home.dyn.example.test` already exists",
    );
    check(&["hostname", "add", USER, "x.other.test", ZONE], 2, "`x.other.test` is not inside zone `dyn.example.test`");
    check(
        &["hostname", "add", USER, "x.other.test", "other.test"],
        2,
        &format!("zone `other.test` is not configured in {}", w.config.display()),
    );
    check(&["hostname", "add", "nobody", "x.dyn.example.test", ZONE], 1, "user `nobody` does not exist");
    check(
        &["hostname", "add", USER, "x.dyn.example.test", ZONE, "--dns-ttl", "0"],
        2,
        "`--dns-ttl` must be between 1 and 86400, got `0`",
    );
    check(
        &["hostname", "add", USER, "x.dyn.example.test", ZONE, "--expiry-ttl", "59"],
        2,
        "`--expiry-ttl` must be 0 (never) or at least 60, got `59`",
    );
    check(
        &["hostname", "add", USER, "bad_name.dyn.example.test", ZONE],
        2,
        "`bad_name.dyn.example.test` is not a valid hostname",
    );
    w.admin(&["hostname", "add", USER, "Ttl.DYN.example.test.", ZONE, "--dns-ttl", "120"]).success();
    w.update("hostname=ttl.dyn.example.test&myip=192.0.2.4").expect(200, "good 192.0.2.4\n");
    assert_eq!(w.dns.query_with_ttl("ttl.dyn.example.test", "A"), [(120, "192.0.2.4".to_owned())]);
}

#[test]
fn bad_config_is_a_clear_cli_error() {
    let w = world!(World::knot());
    w.write_config("[defaults]\nunknown_key = 1\n");
    let r = w.admin(&["init-db"]);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().contains("unknown_key"), "{}", r.stderr());
    assert!(r.stderr().contains(&w.config.display().to_string()), "{}", r.stderr());
}

#[test]
fn the_harness_secret_check_fires() {
    // The harness checks every run's output for the world's secrets. Prove the check can fail:
    // an invalid user name is echoed in the error, so a name equal to the password trips it.
    let w = world!(World::knot());
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        w.admin_stdin(&["user", "add", crate::util::PASSWORD, "x@example.test", "--password-stdin"], "pw\n");
    }));
    let message = caught.expect_err("the secret check must fire");
    let text = message.downcast_ref::<String>().map(String::as_str).unwrap_or("");
    assert!(text.contains("printed a secret on stderr"), "{text}");
}
