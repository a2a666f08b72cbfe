//! Admin CLI commands against a real Knot: every user and hostname command, its output (table
//! and JSON), and its error paths with exact messages and exit codes (1: not found, 2: usage
//! or failure). Commands that touch DNS are checked by querying the server.

use serde_json::{Value, json};

use crate::util::{PASSWORD, USER, World, ZONE, epoch};
use crate::world;

const HOME: &str = "home.dyn.example.test";

/// Runs a `--json` listing and parses all of it.
#[track_caller]
fn json(w: &World, args: &[&str]) -> Value {
    let out = w.admin(args).success().stdout();
    assert!(out.ends_with("]\n"), "one JSON array and a newline: {out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?} printed invalid JSON ({e}):\n{out}"))
}

/// The row of `fqdn` as stored: `(dns_ttl, expiry_ttl)`, or `None` when it is gone.
fn ttls(w: &World, fqdn: &str) -> Option<(i64, i64)> {
    let rows = w.rows(&format!("SELECT dns_ttl, expiry_ttl FROM hostnames WHERE fqdn = '{fqdn}'"));
    let int = |v: &Option<String>| v.as_deref().and_then(|v| v.parse().ok()).expect("integer");
    rows.first().map(|r| (int(&r[0]), int(&r[1])))
}

/// Takes the integer `key` out of a JSON object, asserting it lies in `range`, so that the
/// rest of the object can be compared whole.
#[track_caller]
fn take_time(v: &mut Value, key: &str, range: std::ops::RangeInclusive<i64>) -> i64 {
    let t = v.get(key).and_then(Value::as_i64).unwrap_or_else(|| panic!("no integer `{key}` in {v}"));
    assert!(range.contains(&t), "`{key}` = {t} outside {range:?}");
    v[key] = Value::Null;
    t
}

#[track_caller]
fn check(w: &World, args: &[&str], code: i32, stderr: &str) {
    let r = w.admin(args);
    assert_eq!((r.code(), r.stderr()), (Some(code), format!("error: {stderr}\n")), "{args:?}\nstdout: {}", r.stdout());
}

#[test]
fn user_commands() {
    let w = world!(World::knot());
    w.add_user("bob", "pw-bob");
    let r = w.admin(&["user", "list"]);
    // The CREATED column holds today's time (20 characters); cut it off before comparing.
    let out = r.success().stdout();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("USER   EMAIL               HOSTNAMES  CREATED"), "{out}");
    let rows: Vec<&str> = lines.map(|l| l.get(..l.len().saturating_sub(20)).unwrap_or(l).trim_end()).collect();
    assert_eq!(rows, ["alice  alice@example.test  1", "bob    bob@example.test    0"], "{out}");
    assert!(out.lines().nth(1).is_some_and(|l| l.ends_with('Z')), "{out}");
    let mut users = json(&w, &["user", "list", "--json"]);
    for user in users.as_array_mut().expect("an array") {
        // Both users were created by this test's world, within the last minutes.
        take_time(user, "created_at", epoch() - 600..=epoch());
    }
    assert_eq!(
        users,
        json!([
            {"name": "alice", "email": "alice@example.test", "created_at": null, "n_hosts": 1},
            {"name": "bob", "email": "bob@example.test", "created_at": null, "n_hosts": 0},
        ])
    );

    assert_eq!(
        w.admin(&["user", "email", "bob", "robert@example.test"]).success().stdout(),
        "email of `bob` set to `robert@example.test`\n"
    );
    check(&w, &["user", "email", "nobody", "n@example.test"], 1, "user `nobody` does not exist");
    check(&w, &["user", "email", "bob", "no-at-sign"], 2, "`no-at-sign` is not an email address");

    // A new password works for updates at once; the old one is refused.
    let r = w.admin_stdin(&["user", "passwd", USER, "--password-stdin"], "n3w pass\n");
    assert_eq!(r.success().stdout(), "password of `alice` changed\n");
    let cgi = crate::util::Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1"));
    w.cgi(&cgi.clone().basic(USER, PASSWORD)).expect(401, "badauth\n");
    w.cgi(&cgi.basic(USER, "n3w pass")).expect(200, "good 192.0.2.1\n");
    let r = w.admin_stdin(&["user", "passwd", USER, "--password-stdin"], "\n");
    assert_eq!((r.code(), r.stderr()), (Some(2), "error: an empty password is not allowed\n".to_owned()));
    check(&w, &["user", "passwd", "nobody", "--password-stdin"], 1, "user `nobody` does not exist");

    // Delete refuses while the user owns hostnames, and names them.
    w.admin(&["hostname", "add", USER, "second.dyn.example.test", ZONE]).success();
    check(
        &w,
        &["user", "delete", USER],
        2,
        "user `alice` still owns hostnames `home.dyn.example.test`, `second.dyn.example.test`; delete them first or use `--force`",
    );
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
    assert_eq!(w.admin(&["user", "delete", "bob"]).success().stdout(), "user `bob` deleted with 0 hostnames\n");
    check(&w, &["user", "delete", "bob"], 1, "user `bob` does not exist");
    // --force removes the records first, then the hostnames, then the user.
    assert_eq!(
        w.admin(&["user", "delete", USER, "--force"]).success().stdout(),
        "user `alice` deleted with 2 hostnames\n"
    );
    assert!(w.a(HOME).is_empty());
    assert_eq!(json(&w, &["user", "list", "--json"]), json!([]));
    assert_eq!(json(&w, &["hostname", "list", "--json"]), json!([]));
    assert_eq!((ttls(&w, HOME), ttls(&w, "second.dyn.example.test")), (None, None));
}

#[test]
fn user_add_duplicate_is_refused() {
    let w = world!(World::knot());
    let r = w.admin_stdin(&["user", "add", USER, "x@example.test", "--password-stdin"], "pw\n");
    assert_eq!((r.code(), r.stderr()), (Some(2), "error: user `alice` already exists\n".to_owned()));
}

#[test]
fn hostname_list_modify_delete() {
    let mut w = world!(World::knot());
    w.admin(&["hostname", "add", USER, "münchen.dyn.example.test", ZONE, "--expiry-ttl", "0"]).success();
    w.add_user("bob", "pw-bob");
    w.admin(&["hostname", "add", "bob", "bob.dyn.example.test", ZONE]).success();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8::1")).expect(200, "good 192.0.2.1 2001:db8::1\n");

    let table = w.admin(&["hostname", "list", "--user", USER]).success().stdout();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert_eq!(
        lines[0],
        "HOSTNAME                         USER   ZONE              DNS_TTL  EXPIRY_TTL  IPV4       IPV6         LAST_UPDATE           EXPIRES               TOKEN"
    );
    assert!(
        lines[1].starts_with(
            "home.dyn.example.test            alice  dyn.example.test  60       3600        192.0.2.1  2001:db8::1  20"
        ),
        "{table}"
    );
    assert_eq!(
        lines[2],
        "xn--mnchen-3ya.dyn.example.test  alice  dyn.example.test  60       0           -          -            -                     never                 -"
    );
    check(&w, &["hostname", "list", "--user", "nobody"], 1, "user `nobody` does not exist");

    let t_update = epoch();
    let mut hosts = json(&w, &["hostname", "list", "--json"]);
    let home = &mut hosts[1];
    let last = take_time(home, "last_update", t_update - 600..=t_update);
    // The expiry run's cut-off: `expiry_ttl` and the touch interval (a minute) after it.
    assert_eq!(take_time(home, "expires_at", last + 3660..=last + 3660), last + 3660);
    let host = |name: &str, user: &str, expiry_ttl: i64, ipv4: Value, ipv6: Value| {
        json!({
            "hostname": name, "user": user, "zone": ZONE, "dns_ttl": 60, "expiry_ttl": expiry_ttl,
            "ipv4": ipv4, "ipv6": ipv6, "ipv4_enabled": true, "ipv6_enabled": true, "last_update": null, "expires_at": null, "expired": false, "token": null, "n_relays": 0, "relay_only": false,
        })
    };
    assert_eq!(
        hosts,
        json!([
            host("bob.dyn.example.test", "bob", 3600, Value::Null, Value::Null),
            host(HOME, USER, 3600, json!("192.0.2.1"), json!("2001:db8::1")),
            host("xn--mnchen-3ya.dyn.example.test", USER, 0, Value::Null, Value::Null),
        ])
    );

    // A new DNS TTL re-publishes the live records with it.
    let r = w.admin(&["hostname", "modify", HOME, "--dns-ttl", "300"]);
    assert_eq!(r.success().stdout(), "hostname `home.dyn.example.test` now has dns_ttl 300 and expiry_ttl 3600\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(300, "192.0.2.1".to_owned())]);
    assert_eq!(w.dns.query_with_ttl(HOME, "AAAA"), [(300, "2001:db8::1".to_owned())]);
    assert_eq!(ttls(&w, HOME), Some((300, 3600)));
    // A new expiry TTL only changes the row (the name is normalised like in requests); a
    // host without records needs no DNS message.
    let r = w.admin(&["hostname", "modify", "MÜNCHEN.dyn.example.test.", "--expiry-ttl", "120"]);
    assert_eq!(
        r.success().stdout(),
        "hostname `xn--mnchen-3ya.dyn.example.test` now has dns_ttl 60 and expiry_ttl 120\n"
    );
    assert_eq!(ttls(&w, "xn--mnchen-3ya.dyn.example.test"), Some((60, 120)));
    assert!(w.a("xn--mnchen-3ya.dyn.example.test").is_empty());
    check(&w, &["hostname", "modify", HOME, "--dns-ttl", "0"], 2, "`--dns-ttl` must be between 1 and 86400, got `0`");
    check(
        &w,
        &["hostname", "modify", HOME, "--expiry-ttl", "30"],
        2,
        "`--expiry-ttl` must be 0 (never) or at least 60, got `30`",
    );
    check(
        &w,
        &["hostname", "modify", HOME],
        2,
        "nothing to change; give `--dns-ttl`, `--expiry-ttl`, `--ipv4` or `--ipv6`",
    );
    check(
        &w,
        &["hostname", "modify", "none.dyn.example.test", "--dns-ttl", "60"],
        1,
        "hostname `none.dyn.example.test` does not exist",
    );
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(300, "192.0.2.1".to_owned())]);
    // The refused modifications changed no row.
    assert_eq!(ttls(&w, HOME), Some((300, 3600)));

    assert_eq!(w.admin(&["hostname", "delete", HOME]).success().stdout(), "hostname `home.dyn.example.test` deleted\n");
    assert!(w.a(HOME).is_empty() && w.aaaa(HOME).is_empty());
    assert_eq!(ttls(&w, HOME), None);
    check(&w, &["hostname", "delete", HOME], 1, "hostname `home.dyn.example.test` does not exist");
    // The hostname is free again: it can be added anew and updated.
    w.admin(&["hostname", "add", USER, HOME, ZONE]).success();
    w.update(&format!("hostname={HOME}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(60, "192.0.2.2".to_owned())]);
    assert!(w.aaaa(HOME).is_empty());
    // A hostname without records needs no DNS server.
    w.dns.stop();
    assert_eq!(
        w.admin(&["hostname", "delete", "münchen.dyn.example.test"]).success().stdout(),
        "hostname `xn--mnchen-3ya.dyn.example.test` deleted\n"
    );
    assert_eq!(ttls(&w, "xn--mnchen-3ya.dyn.example.test"), None);
    // The other hosts are untouched.
    let names: Vec<Value> = json(&w, &["hostname", "list", "--json"])
        .as_array()
        .expect("array")
        .iter()
        .map(|h| h["hostname"].clone())
        .collect();
    assert_eq!(names, [json!("bob.dyn.example.test"), json!(HOME)]);
}

#[test]
fn dns_failure_deletes_and_changes_nothing() {
    let mut w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    w.dns.stop();
    let refused = format!("cannot reach {}: Connection refused (os error 111)", w.dns.addr());
    check(
        &w,
        &["hostname", "delete", HOME],
        2,
        &format!("cannot remove the DNS records of `{HOME}`, nothing was deleted: {refused}"),
    );
    check(
        &w,
        &["hostname", "modify", HOME, "--dns-ttl", "120"],
        2,
        &format!("cannot re-publish the records of `{HOME}`, nothing was changed: {refused}"),
    );
    check(
        &w,
        &["user", "delete", USER, "--force"],
        2,
        &format!("cannot remove the DNS records of `{HOME}`, nothing was deleted: {refused}"),
    );
    w.dns.restart();
    assert_eq!(w.stored(HOME), (Some("192.0.2.1".to_owned()), None));
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(60, "192.0.2.1".to_owned())]);
    assert!(w.admin(&["user", "list"]).success().stdout().contains("alice"));
}

#[test]
fn hostname_set_publishes_by_hand_in_one_update_and_audits_the_admin() {
    let mut w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.1&txt=v1")).expect(200, "good 192.0.2.1\n");
    let set = |args: &[&str]| {
        let mut all = vec!["hostname", "set", HOME];
        all.extend_from_slice(args);
        w.admin_env(&all, "", &[("SUDO_USER", "carol"), ("USER", "root")])
    };
    // One family given: the other and the TXT record stay.
    let r = set(&["--ipv6", "2001:db8::5"]);
    assert_eq!(r.success().stdout(), format!("hostname `{HOME}` now has ipv4 192.0.2.1, ipv6 2001:db8::5 in DNS\n"));
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["192.0.2.1".to_owned()], vec!["2001:db8::5".to_owned()]));
    assert_eq!(w.dns.query(HOME, "TXT"), ["\"v1\""]);
    assert_eq!(w.stored(HOME), (Some("192.0.2.1".to_owned()), Some("2001:db8::5".to_owned())));
    // The same again sends nothing.
    let r = set(&["--ipv4", "192.0.2.1", "--ipv6", "2001:db8::5"]);
    assert_eq!(
        r.success().stdout(),
        format!("hostname `{HOME}` already has ipv4 192.0.2.1, ipv6 2001:db8::5 in DNS; nothing sent\n")
    );
    // `none` removes a family, the other set in the same message.
    let r = set(&["--ipv4", "none", "--ipv6", "2001:db8::6"]);
    assert_eq!(r.success().stdout(), format!("hostname `{HOME}` now has ipv4 none, ipv6 2001:db8::6 in DNS\n"));
    assert!(w.a(HOME).is_empty());
    assert_eq!(w.aaaa(HOME), ["2001:db8::6"]);
    assert_eq!(w.stored(HOME), (None, Some("2001:db8::6".to_owned())));
    // An offline host comes back online with the given addresses alone.
    w.update(&format!("hostname={HOME}&offline=yes")).expect(200, "good\n");
    assert!(w.aaaa(HOME).is_empty());
    let r = set(&["--ipv4", "192.0.2.9"]);
    assert_eq!(
        r.success().stdout(),
        format!("hostname `{HOME}` now has ipv4 192.0.2.9, ipv6 none in DNS (it was offline and is online again)\n")
    );
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["192.0.2.9".to_owned()], Vec::<String>::new()));
    let row = w.rows(&format!("SELECT offline, ipv4, ipv6 FROM hostnames WHERE fqdn = '{HOME}'"));
    assert_eq!(row, [[Some("0".to_owned()), Some("192.0.2.9".to_owned()), None]]);
    // Each change is audited as the admin's: the login behind sudo, method `admin`.
    let history = json(&w, &["hostname", "history", HOME, "--json", "--limit", "3"]);
    let seen: Vec<_> = history
        .as_array()
        .expect("array")
        .iter()
        .map(|r| {
            let f = |k: &str| r[k].as_str().map(str::to_owned);
            (f("kind"), f("answer"), f("user"), f("auth"), f("old_ipv4"), f("new_ipv4"), f("new_ipv6"))
        })
        .collect();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        seen,
        [
            (s("change"), s("good"), s("carol"), s("admin"), None, s("192.0.2.9"), None),
            (s("change"), s("good"), s(USER), s("password"), None, None, None),
            (s("change"), s("good"), s("carol"), s("admin"), s("192.0.2.1"), None, s("2001:db8::6")),
        ]
    );

    // Usage errors, an unknown hostname, and DNS down: nothing changes.
    assert_eq!(w.admin(&["hostname", "set", HOME]).code(), Some(2));
    check(
        &w,
        &["hostname", "set", HOME, "--ipv4", "2001:db8::1"],
        2,
        "`2001:db8::1` is not an IPv4 address (or `none`)",
    );
    check(&w, &["hostname", "set", HOME, "--ipv6", "nope"], 2, "`nope` is not an IPv6 address (or `none`)");
    check(
        &w,
        &["hostname", "set", "none.dyn.example.test", "--ipv4", "192.0.2.2"],
        1,
        "hostname `none.dyn.example.test` does not exist",
    );
    w.dns.stop();
    let r = w.admin(&["hostname", "set", HOME, "--ipv4", "192.0.2.2"]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    let refused = format!("cannot reach {}: Connection refused (os error 111)", w.dns.addr());
    assert!(r.stderr().contains(&format!("{HOME}: DNS update failed: {refused}")), "{}", r.stderr());
    assert!(
        r.stderr().ends_with(&format!(
            "error: the DNS server did not accept the addresses of `{HOME}` (see the error above); its row is unchanged\n"
        )),
        "{}",
        r.stderr()
    );
    w.dns.restart();
    assert_eq!(w.stored(HOME), (Some("192.0.2.9".to_owned()), None));
    assert_eq!(w.a(HOME), ["192.0.2.9"]);
}

#[test]
fn debug_and_usage() {
    let w = world!(World::knot());
    let r = w.admin(&["--debug", "hostname", "list"]);
    assert!(r.success().stderr().contains(&format!("[DEBUG] using config {}", w.config.display())), "{}", r.stderr());
    // Without --debug an admin command is quiet on stderr, even with `log.level = "debug"`.
    assert_eq!(w.admin(&["user", "list"]).success().stderr(), "");
    let r = w.admin(&["user", "frobnicate"]);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().contains("unrecognized subcommand 'frobnicate'"), "{}", r.stderr());
    let r = w.admin(&["--init-db", "--expire"]);
    assert_eq!(
        (r.code(), r.stderr()),
        (Some(2), "error: `--init-db` cannot be combined with another command\n".to_owned())
    );
    // Each help names its commands and options; `cleanup` is the same command as `expire`.
    let help = |args: &[&str], usage: &str, names: &[&str]| {
        let out = w.admin(args).success().stdout();
        assert!(out.contains(&format!("Usage: ddns-cgi {usage}")), "{args:?}:\n{out}");
        for name in names {
            let listed = out.lines().any(|l| l.trim_start().split([' ', ',']).next() == Some(*name));
            assert!(listed, "{args:?} does not list `{name}`:\n{out}");
        }
        out
    };
    help(&["--help"], "[OPTIONS] [COMMAND]", &["init-db", "user", "hostname", "expire", "fastcgi", "--config"]);
    // `--now` means something to `expire` only, and shows only there.
    let top = w.admin(&["--help"]).success().stdout();
    assert!(!top.contains("--now"), "{top}");
    help(&["hostname", "--help"], "hostname [OPTIONS] <COMMAND>", &["list", "modify", "delete", "add"]);
    help(&["user", "--help"], "user [OPTIONS] <COMMAND>", &["list", "delete", "passwd", "email", "add"]);
    help(&["user", "delete", "--help"], "user delete [OPTIONS] <NAME>", &["--force", "--config"]);
    let expire = help(&["expire", "--help"], "expire [OPTIONS]", &["--now", "--config"]);
    assert_eq!(help(&["cleanup", "--help"], "expire [OPTIONS]", &["--now"]), expire);
    assert_eq!(w.admin(&["help", "hostname"]).success().stdout(), w.admin(&["hostname", "--help"]).stdout());
}

#[test]
fn user_add_and_user_email_accept_the_same_addresses() {
    let w = world!(World::knot());
    // Each of these would make every expiry mail to its owner fail.
    for bad in [
        "carol@",
        "@example.test",
        "carol",
        "carol@exa mple.test",
        "carol@example..test",
        "carol@-example.test",
        "carol@example.test.",
        "car..ol@example.test",
        ".carol@example.test",
        "carol@[192.0.2.1]",
        "<carol@example.test>",
        "carol@example.test\n",
    ] {
        let r = w.admin_stdin(&["user", "add", "carol", bad, "--password-stdin"], "pw-carol\n");
        let message = format!("error: `{bad}` is not an email address\n");
        assert_eq!((r.code(), r.stderr()), (Some(2), message.clone()), "user add {bad:?}");
        check(&w, &["user", "email", USER, bad], 2, message.trim_start_matches("error: ").trim_end());
    }
    assert_eq!(w.admin(&["user", "list", "--json"]).success().stdout().matches("\"name\":").count(), 1);
    for (i, good) in
        ["carol@example.test", "carol+ddns@example.test", "jörg@bücher.example", "root@localhost"].iter().enumerate()
    {
        let name = format!("carol{i}");
        w.admin_stdin(&["user", "add", &name, good, "--password-stdin"], "pw-carol\n").success();
        w.admin(&["user", "email", USER, good]).success();
    }
}

/// `--json` listings are written by serde_json: what a stored value may hold (an email's
/// apostrophe, slash, braces and letters beyond ASCII) comes back intact through a JSON parser,
/// and `null` means "none". (Quotes and control characters: `reply`'s unit tests.)
#[test]
fn json_listings_parse_back() {
    let w = world!(World::knot());
    let email = "o'brien/{x}+\u{e9}t\u{e9}@example.test";
    w.admin(&["user", "email", USER, email]).success();
    let users: serde_json::Value =
        serde_json::from_str(&w.admin(&["user", "list", "--json"]).success().stdout()).expect("user list JSON");
    assert_eq!(users[0]["email"], email, "{users}");
    assert_eq!(users[0]["n_hosts"], 1, "{users}");
    w.admin(&["hostname", "token", HOME, "--types", "A", "--from", "192.0.2.0/24"]).success();
    let hosts: serde_json::Value =
        serde_json::from_str(&w.admin(&["hostname", "list", "--json"]).success().stdout()).expect("host list JSON");
    assert_eq!(hosts[0]["hostname"], HOME, "{hosts}");
    assert_eq!(hosts[0]["ipv4"], serde_json::Value::Null, "{hosts}");
    assert_eq!(hosts[0]["token"]["types"], serde_json::json!(["A"]), "{hosts}");
    assert_eq!(hosts[0]["token"]["from"], serde_json::json!(["192.0.2.0/24"]), "{hosts}");
    assert_eq!(hosts[0]["token"]["expires"], serde_json::Value::Null, "{hosts}");
}
