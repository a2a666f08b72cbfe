//! The admin commands of the core issue: init-db, user add, hostname add.

use std::os::unix::fs::PermissionsExt as _;

use crate::util::{Cgi, PASSWORD, USER, World, ZONE};
use crate::world;

#[test]
fn init_db_is_idempotent_and_0600() {
    if crate::util::pg::skip_sqlite_only("the file mode and PRAGMA user_version of the database file") {
        return;
    }
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

#[test]
fn init_db_as_root_warns_and_owner_gives_the_database_away() {
    if crate::util::pg::skip_sqlite_only("`init-db --owner` (the owner of the database file)") {
        return;
    }
    use std::os::unix::fs::MetadataExt as _;
    assert!(crate::util::dnsserver::is_root(), "this test changes owners: run the suite as root");
    let w = world!(World::knot());
    // The world's database was created by root: every run of init-db says so.
    let r = w.admin(&["init-db"]);
    r.success();
    assert!(
        r.stderr().contains(&format!(
            "[WARNING] database `{}` is owned by root: a web server running ddns-cgi as another user cannot write it and every update answers `911`; give it to that user with `ddns-cgi init-db --owner www-data`",
            w.db.display()
        )),
        "{}",
        r.stderr()
    );
    // --owner gives an existing database away, and keeps it 0600.
    let r = w.admin(&["init-db", "--owner", "nobody"]);
    assert_eq!(r.success().stderr(), "");
    let version = std::fs::metadata(&w.db).map(|m| (m.uid(), m.gid(), m.mode() & 0o777)).expect("db");
    assert_eq!(version, (65534, 65534, 0o600));
    assert!(r.stdout().starts_with(&format!("database {} ready (schema version ", w.db.display())), "{}", r.stdout());
    assert!(r.stdout().ends_with(", owned by `nobody`)\n"), "{}", r.stdout());

    // A new database in a directory that does not exist yet: both are created for the owner.
    let dir = w.dir.path().join("var-lib-ddns-cgi");
    let db = dir.join("ddns.db");
    w.edit_config(|t| t.replace(&w.db.display().to_string(), &db.display().to_string()));
    w.admin(&["init-db", "--owner", "nobody"]).success();
    let owner = |p: &std::path::Path| std::fs::metadata(p).map(|m| (m.uid(), m.gid(), m.mode() & 0o777)).expect("meta");
    assert_eq!(owner(&dir), (65534, 65534, 0o700));
    assert_eq!(owner(&db), (65534, 65534, 0o600));
    // The database works for that user: an update as `nobody` reaches DNS and is stored.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(crate::util::bin())
        .env_clear()
        .arg("--config")
        .arg(&w.config)
        .args(["hostname", "list", "--json"])
        .output()
        .expect("run as nobody");
    // The config (root's, 0644 here) is readable by nobody; the database is theirs now.
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[]\n");

    let r = w.admin(&["init-db", "--owner", "no-such-user"]);
    assert_eq!(
        (r.code(), r.stderr()),
        (Some(2), "error: user `no-such-user` does not exist (not in /etc/passwd)\n".to_owned())
    );
}

#[test]
fn user_add_without_a_terminal_points_to_password_stdin() {
    let w = world!(World::knot());
    for args in [&["user", "add", "carol", "carol@example.test"][..], &["user", "passwd", USER][..]] {
        // Standard input is a pipe, not a terminal, and the flag is missing.
        let r = w.admin_stdin(args, "pw-carol\n");
        assert_eq!(
            (r.code(), r.stderr()),
            (Some(2), "error: no terminal to ask for the password on; pipe it in with `--password-stdin`\n".to_owned()),
            "{args:?}"
        );
    }
    assert_eq!(w.admin(&["user", "list", "--json"]).success().stdout().matches("\"name\":").count(), 1);
}

#[test]
fn positional_arguments_have_help() {
    let w = world!(World::knot());
    let commands: &[&[&str]] = &[
        &["user", "add"],
        &["user", "delete"],
        &["user", "passwd"],
        &["user", "email"],
        &["hostname", "add"],
        &["hostname", "modify"],
        &["hostname", "delete"],
        &["hostname", "token"],
        &["ratelimit", "clear"],
    ];
    for command in commands {
        let mut args = command.to_vec();
        args.push("--help");
        let help = w.admin(&args).success().stdout();
        let section = help.split("Arguments:\n").nth(1).unwrap_or_else(|| panic!("{command:?}: no arguments:\n{help}"));
        let arguments: Vec<&str> = section.lines().take_while(|l| l.starts_with("  ")).collect();
        assert!(!arguments.is_empty(), "{command:?}:\n{help}");
        for line in arguments {
            // `  <NAME>  What it is`: a name and a text after it.
            let text = line.trim().split_once("  ").map(|(_, t)| t.trim()).unwrap_or("");
            assert!(!text.is_empty(), "{command:?}: `{line}` has no help text:\n{help}");
        }
    }
    let help = w.admin(&["hostname", "add", "--help"]).success().stdout();
    assert!(help.contains("Usage: ddns-cgi hostname add [OPTIONS] <USER> <FQDN> [ZONE]"), "{help}");
}

#[test]
fn hostname_add_finds_the_zone_by_longest_suffix() {
    let w = world!(World::knot());
    // A second zone inside the first (served elsewhere; `hostname add` does not ask DNS).
    w.write_config("[[zones]]\nname = \"sub.dyn.example.test\"\nserver = \"127.0.0.1:9\"\n");
    let add = |fqdn: &str| w.admin(&["hostname", "add", USER, fqdn]);
    assert_eq!(
        add("new.dyn.example.test").success().stdout(),
        "hostname `new.dyn.example.test` added for `alice` in zone `dyn.example.test`\n"
    );
    assert_eq!(
        add("x.sub.dyn.example.test").success().stdout(),
        "hostname `x.sub.dyn.example.test` added for `alice` in zone `sub.dyn.example.test`\n"
    );
    assert_eq!(
        add("Sub.Dyn.Example.Test.").success().stdout(),
        "hostname `sub.dyn.example.test` added for `alice` in zone `sub.dyn.example.test`\n"
    );
    let r = add("x.other.test");
    assert_eq!(
        (r.code(), r.stderr()),
        (
            Some(2),
            format!(
                "error: `x.other.test` is not inside any configured zone (`dyn.example.test`, `sub.dyn.example.test`); add a `[[zones]]` entry to {}\n",
                w.config.display()
            )
        )
    );
    // The derived zone is the one updates go to.
    w.update("hostname=new.dyn.example.test&myip=192.0.2.33").expect(200, "good 192.0.2.33\n");
    assert_eq!(w.a("new.dyn.example.test"), ["192.0.2.33"]);
}

#[test]
fn ratelimit_list_keeps_each_key_of_a_scope_apart() {
    // Mutation gap (issue 12): grouping the listed rows by scope *or* key (merging every
    // client of one scope into one counter) passed every test: no listing had two keys in
    // one scope.
    use crate::util::{Cgi, Setup};
    let w = world!(World::new(Setup { extra_config: "[rate_limit]\nbad_max_requests = 5\n", ..Setup::default() }));
    let home = "home.dyn.example.test";
    for (remote, user) in [("198.51.100.8", "guess-a"), ("198.51.100.9", "guess-b"), ("198.51.100.9", "guess-b")] {
        w.cgi(&Cgi::get(&format!("hostname={home}")).basic(user, "x").remote(remote)).expect(401, "badauth\n");
    }
    let json: serde_json::Value =
        serde_json::from_str(&w.admin(&["ratelimit", "list", "--json"]).success().stdout()).expect("json");
    let counters: Vec<(&str, &str, u64)> = json
        .as_array()
        .expect("a list")
        .iter()
        .map(|c| {
            let field = |k: &str| c[k].as_str().expect("a string");
            (field("scope"), field("key"), c["n_requests"].as_u64().expect("a count"))
        })
        .collect();
    assert_eq!(
        counters,
        [
            ("bad-addr", "198.51.100.8", 1),
            ("bad-addr", "198.51.100.9", 2),
            ("bad-user", "guess-a", 1),
            ("bad-user", "guess-b", 2)
        ]
    );
}

#[test]
fn ratelimit_list_and_clear() {
    use crate::util::{Cgi, PASSWORD, Setup};
    let w = world!(World::new(Setup { extra_config: "[rate_limit]\nbad_max_requests = 2\n", ..Setup::default() }));
    let home = "home.dyn.example.test";
    w.cgi(&Cgi::get(&format!("hostname={home}&myip=192.0.2.1")).basic(USER, PASSWORD).remote("2001:db8:1:2::77"))
        .expect(200, "good 192.0.2.1\n");
    for _ in 0..2 {
        w.cgi(&Cgi::get(&format!("hostname={home}")).basic(USER, "wrong").remote("198.51.100.7"))
            .expect(401, "badauth\n");
    }
    let good = Cgi::get(&format!("hostname={home}&myip=192.0.2.2")).basic(USER, PASSWORD).remote("198.51.100.7");
    w.cgi(&good).expect(200, "abuse\n");

    // What the table holds, read back from the file: when each counted request came.
    let at = |scope: &str, key: &str| -> Vec<i64> {
        let rows =
            w.rows(&format!("SELECT at FROM rate_limit WHERE scope = '{scope}' AND \"key\" = '{key}' ORDER BY at"));
        rows.iter().map(|r| r[0].as_deref().and_then(|v| v.parse().ok()).expect("at")).collect()
    };
    let bad_addr = at("bad-addr", "198.51.100.7");
    let bad_user = at("bad-user", USER);
    assert_eq!((bad_addr.len(), bad_user.len()), (2, 2));
    let json = w.admin(&["ratelimit", "list", "--json"]).success().stdout();
    assert_eq!(
        json,
        format!(
            "[{{\"scope\":\"bad-addr\",\"key\":\"198.51.100.7\",\"n_requests\":2,\"max_requests\":2,\"window_seconds\":60,\"limited_until\":{}}},\
             {{\"scope\":\"bad-user\",\"key\":\"alice\",\"n_requests\":2,\"max_requests\":2,\"window_seconds\":60,\"limited_until\":{}}},\
             {{\"scope\":\"good-addr\",\"key\":\"2001:db8:1:2::/64\",\"n_requests\":1,\"max_requests\":5,\"window_seconds\":60,\"limited_until\":null}}]\n",
            bad_addr[0] + 61,
            bad_user[0] + 61
        )
    );
    let table = w.admin(&["ratelimit", "list"]).success().stdout();
    let rfc3339 = |t: i64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .expect("run date");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        table,
        format!(
            "SCOPE      KEY                REQUESTS  LIMIT  WINDOW  LIMITED_UNTIL\n\
             bad-addr   198.51.100.7       2         2      60      {}\n\
             bad-user   alice              2         2      60      {}\n\
             good-addr  2001:db8:1:2::/64  1         5      60      -\n",
            rfc3339(bad_addr[0] + 61),
            rfc3339(bad_user[0] + 61)
        )
    );

    // Clearing the address is not enough: the user is limited too.
    assert_eq!(
        w.admin(&["ratelimit", "clear", "198.51.100.7"]).success().stdout(),
        "cleared 2 rate-limit rows of `198.51.100.7`\n"
    );
    w.cgi(&good).expect(200, "abuse\n");
    assert_eq!(w.admin(&["ratelimit", "clear", USER]).success().stdout(), "cleared 2 rate-limit rows of `alice`\n");
    w.cgi(&good).expect(200, "good 192.0.2.2\n");
    assert_eq!(w.a(home), ["192.0.2.2"]);
    // Any address of a counted IPv6 prefix names the prefix.
    assert_eq!(
        w.admin(&["ratelimit", "clear", "2001:db8:1:2::1"]).success().stdout(),
        "cleared 1 rate-limit row of `2001:db8:1:2::1`\n"
    );
    let r = w.admin(&["ratelimit", "clear", "203.0.113.1"]);
    assert_eq!((r.code(), r.stderr()), (Some(1), "error: no rate-limit rows of `203.0.113.1`\n".to_owned()));
    assert_eq!(w.admin(&["ratelimit", "clear"]).success().stdout(), "cleared 1 rate-limit row\n");
    assert_eq!(w.admin(&["ratelimit", "list", "--json"]).success().stdout(), "[]\n");
    assert_eq!(
        w.admin(&["ratelimit", "list"]).success().stdout(),
        "SCOPE  KEY  REQUESTS  LIMIT  WINDOW  LIMITED_UNTIL\n"
    );
}

/// The Python ddns-daemon's config file (its README's example, verbatim) works once the zone
/// and its key are added, the one thing it cannot say; the error says so. Each key ddns-cgi
/// ignores is one warning: on stderr for a command, a `warn` line of `check`, and in the log
/// of a CGI request, which still succeeds. The test also points `[database]` at its own.
#[test]
fn the_python_daemons_config_works_with_warnings() {
    let w = world!(World::knot());
    let ours = std::fs::read_to_string(&w.config).expect("read config");
    let database = ours.split_once("[database]\n").and_then(|(_, r)| r.split_once("\n\n")).expect("[database]").0;
    let daemon = include_str!("../fixtures/ddns-daemon.toml")
        .replace("path = \"/var/lib/ddns-daemon/ddns.db\" # required for sqlite", database);
    std::fs::write(&w.config, &daemon).expect("write config");
    let r = w.admin(&["user", "list"]);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().starts_with("error: `zones` must list at least one `[[zones]]` entry: the Python ddns-daemon's zones came from dns-manager; add `[[zones]]` with `name = \"dyn.example.com\"` for each zone, and under `[dns]` the `server` that accepts its updates and the `tsig_key` (or `tsig_key_file`) that signs them"), "{}", r.stderr());

    let zone = format!(
        "\n[dns]\nserver = \"{}\"\ntsig_key = \"{}\"\n[[zones]]\nname = \"{ZONE}\"\n",
        w.dns.addr(),
        w.key.line()
    );
    std::fs::write(&w.config, format!("{daemon}{zone}")).expect("write config");
    let warnings = [
        "`daemon.ssl_cert_file` is the Python ddns-daemon's and is ignored: TLS is the web server's (nginx or Apache), in front of ddns-cgi",
        "`daemon.ssl_key_file` is the Python ddns-daemon's and is ignored: TLS is the web server's (nginx or Apache), in front of ddns-cgi",
        "`dns_service` is the Python ddns-daemon's and is ignored: ddns-cgi updates the zones listed under `[[zones]]` itself, by RFC 2136 to `[dns] server` signed with `[dns] tsig_key`, without dns-manager",
    ];
    let r = w.admin(&["user", "list"]);
    r.success();
    assert_eq!(r.stderr(), warnings.map(|w| format!("warning: {w}\n")).concat());
    assert!(r.stdout().contains(USER), "{}", r.stdout());

    // The expiry run, every minute from cron, stays quiet: cron would mail each warning.
    let r = w.admin(&["expire"]);
    r.success();
    assert_eq!(r.stderr(), "");

    let check = w.admin(&["check"]);
    let lines: Vec<String> = check.stdout().lines().map(str::to_owned).collect();
    assert!(lines[0].starts_with("ok    config "), "{lines:?}");
    assert_eq!(lines[1..4], warnings.map(|w| format!("warn  config: {w}")), "{lines:?}");

    // The daemon's endpoints and names: `myip` is its IPv4 parameter.
    const HOME: &str = "home.dyn.example.test";
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.41")).path("/update").basic(USER, PASSWORD));
    r.expect(200, "good 192.0.2.41\n");
    for warning in warnings {
        assert!(r.log.contains(&format!("config: {warning}")), "{}", r.log);
    }
    assert_eq!(w.a(HOME), ["192.0.2.41"]);
}

/// Durations on the command line take nanodnsd's units, like the config.
#[test]
fn ttl_flags_take_units() {
    let w = world!(World::knot());
    const HOST: &str = "units.dyn.example.test";
    w.admin(&["hostname", "add", USER, HOST, ZONE, "--dns-ttl", "2m", "--expiry-ttl", "1d"]).success();
    w.update(&format!("hostname={HOST}&myip=192.0.2.5")).expect(200, "good 192.0.2.5\n");
    assert_eq!(w.dns.query_with_ttl(HOST, "A"), [(120, "192.0.2.5".to_owned())]);
    let list = w.admin(&["hostname", "list", "--json"]).success().stdout();
    assert!(list.contains("\"expiry_ttl\":86400"), "{list}");
    w.admin(&["hostname", "modify", HOST, "--expiry-ttl", "90m"]).success();
    let list = w.admin(&["hostname", "list", "--json"]).success().stdout();
    assert!(list.contains("\"expiry_ttl\":5400"), "{list}");
    let r = w.admin(&["hostname", "modify", HOST, "--expiry-ttl", "1h30m"]);
    assert_eq!(r.code(), Some(2));
    assert!(
        r.stderr().contains("'--expiry-ttl <SECONDS>': must be a number of seconds or a duration such as `90`, `15m`, `1h`, `1d`, got `1h30m`"),
        "{}",
        r.stderr()
    );
    // The bounds are the flag's, whatever the unit.
    let r = w.admin(&["hostname", "modify", HOST, "--dns-ttl", "2d"]);
    assert_eq!(
        (r.code(), r.stderr()),
        (Some(2), "error: `--dns-ttl` must be between 1 and 86400, got `172800`\n".to_owned())
    );
}
