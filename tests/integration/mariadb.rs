//! MariaDB as the shared database of several front-ends (issue 25), as `postgres.rs` shows
//! for PostgreSQL: two `ddns-cgi fastcgi` processes share one MariaDB and one Knot (the same
//! host hammered through both ends with the row equal to DNS; a change through one waits for
//! the other's DNS exchange of the same host, `GET_LOCK`); the expiry run's lock held; the URL
//! form of `[database]` with a percent-encoded password, `init-db`, `check` and a newer schema
//! refused; two front-ends migrating an empty database at once; a user two admins delete at
//! once; names compared exactly although the server's collation is Debian's case-insensitive,
//! space-padding one; and TLS over TCP against a server of the test's own that refuses plain
//! sessions (`require_secure_transport`). These run in every pass: the worlds here are on
//! MariaDB whatever `DDNS_TEST_DATABASE` says.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mysql::prelude::Queryable as _;

use crate::two_front_ends::{self, update_via};
use crate::util::mariadb::{MariaServer, PASSWORD as DB_PASSWORD, TcpServer, USER as DB_USER};
use crate::util::web::{Launched, Launcher};
use crate::util::{Cgi, PASSWORD, Run, Setup, USER, World, ZONE, bin, epoch};

pub(crate) const HOME: &str = "home.dyn.example.test";

/// The `GET_LOCK` names the expiry run and a migration take (`store::mariadb`): a lock's
/// name is server-wide, so a hash of the database's name is part of it.
fn expiry_lock(database: &str) -> String {
    format!("{}/expiry", crate::util::mariadb::lock_prefix(database))
}

fn migration_lock(database: &str) -> String {
    format!("{}/migrate", crate::util::mariadb::lock_prefix(database))
}

fn world() -> Option<World> {
    World::mariadb(Setup::default())
}

fn database(w: &World) -> String {
    w.mariadb.clone().expect("a mariadb world")
}

/// How many sessions of ddns-cgi on `database` wait for a lock: in `GET_LOCK` (`User lock`),
/// or for a row lock (a write `Updating` for more than 200 ms; InnoDB does not always list
/// the waiting transaction in `INNODB_TRX`, `PROCESSLIST` shows its statement).
fn lock_waits(watcher: &mut mysql::Conn, database: &str) -> u64 {
    let sql = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = '{database}' AND USER = '{DB_USER}'
         AND (STATE = 'User lock' OR (STATE = 'Updating' AND TIME_MS > 200))"
    );
    watcher.query_first(sql).expect("information_schema").unwrap_or(0)
}

/// Waits until `n` sessions on `database` wait for a lock ([`lock_waits`]); fails after 30 s.
fn wait_for_lock_waits(watcher: &mut mysql::Conn, database: &str, n: u64) {
    let started = Instant::now();
    loop {
        let waiting = lock_waits(watcher, database);
        if waiting >= n {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{waiting} of {n} sessions wait for the lock held here");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_host_hammered_through_two_front_ends_ends_with_the_row_equal_to_dns() {
    two_front_ends::one_host_hammered(&crate::world!(world()));
}

#[test]
fn a_change_through_one_front_end_waits_for_the_other_ends_dns_exchange_of_the_same_host() {
    two_front_ends::a_change_waits_for_the_other_ends_exchange(&crate::world!(world()));
}

#[test]
fn a_worker_whose_session_the_server_closed_opens_a_new_one() {
    // `KILL CONNECTION` stands in for a restart (the shared server survives it).
    let w = crate::world!(world());
    let name = database(&w);
    two_front_ends::a_worker_whose_session_the_server_closed_opens_a_new_one(&w, || {
        let mut root = MariaServer::shared().connect(&name);
        let sessions: Vec<u64> = root
            .query(format!("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = '{name}' AND USER = '{DB_USER}'"))
            .expect("processlist");
        for id in &sessions {
            root.query_drop(format!("KILL CONNECTION {id}")).expect("kill");
        }
        sessions.len()
    });
}

#[test]
fn a_session_keeps_no_host_lock_after_a_run_that_timed_out_or_succeeded() {
    // A run's host locks are taken by one statement and released after its row writes in
    // the write's round trip (store::mariadb). A host whose lock is held elsewhere answers
    // 911 after `busy_timeout_ms`; the worker's pooled session then holds none of the locks,
    // neither after that run nor after one that succeeded.
    const OTHER: &str = "other.dyn.example.test";
    let w = crate::world!(World::mariadb(Setup { hosts: &[HOME, OTHER], ..Setup::default() }));
    w.edit_config(|c| c.replacen("[dns]", "busy_timeout_ms = 1000\n\n[dns]", 1));
    let name = database(&w);
    let [home, other] = [HOME, OTHER].map(|fqdn| crate::util::mariadb::host_lock_name(&name, fqdn));
    let take = |conn: &mut mysql::Conn, lock: &str| -> Option<i64> {
        conn.exec_first("SELECT GET_LOCK(?, 0)", (lock,)).expect("GET_LOCK")
    };
    let release = |conn: &mut mysql::Conn, lock: &str| conn.exec_drop("DO RELEASE_LOCK(?)", (lock,)).expect("release");
    let mut holder = MariaServer::shared().connect(&name);
    assert_eq!(take(&mut holder, &other), Some(1));
    let Some((_fcgi, _, port)) = Launched::start(&w, Launcher::Listen) else { return };
    let query = format!("hostname={HOME},{OTHER}&myip=192.0.2.1");
    assert_eq!(update_via(port, &query).trim_end(), "good 192.0.2.1\n911");
    let mut watcher = MariaServer::shared().connect(&name);
    for lock in [&home, &other] {
        release(&mut holder, lock);
        assert_eq!(
            take(&mut watcher, lock),
            Some(1),
            "the worker kept a lock after a request with a run that timed out"
        );
        release(&mut watcher, lock);
    }
    assert_eq!(w.stored(OTHER), (None, None), "a host that answered 911 has a row written");

    assert_eq!(update_via(port, &query).trim_end(), "nochg 192.0.2.1\ngood 192.0.2.1");
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
    assert_eq!(w.a(OTHER), ["192.0.2.1"]);
    for lock in [&home, &other] {
        assert_eq!(take(&mut watcher, lock), Some(1), "the worker kept a lock after its run");
    }
}

#[test]
fn an_expiry_run_finding_the_lock_held_does_nothing_and_exits_0() {
    let w = crate::world!(world());
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let name = database(&w);
    let mut holder = MariaServer::shared().connect(&name);
    let taken: Option<i64> = holder.exec_first("SELECT GET_LOCK(?, 0)", (expiry_lock(&name),)).expect("hold the lock");
    assert_eq!(taken, Some(1));
    let r = w.expire(t0 + 7200);
    assert_eq!(r.code(), Some(0), "{}", r.stderr());
    assert_eq!(r.stdout(), "another expiry run holds the mariadb expiry lock; this one does nothing\n");
    assert_eq!(w.a(HOME), ["192.0.2.1"], "the run that found the lock held changed DNS");
    assert_eq!(w.count("SELECT COUNT(*) FROM hostnames WHERE expired = 1"), 0);
    holder.exec_drop("DO RELEASE_LOCK(?)", (expiry_lock(&name),)).expect("release");

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
    let server = MariaServer::shared();
    let name = database(&w);
    // The URL form: the password percent-encoded (it holds a colon), the socket a parameter.
    let socket = server.socket.display().to_string();
    let url = format!(
        "url = \"mysql://{DB_USER}:{}@localhost/{name}?socket={}\"",
        DB_PASSWORD.replace(':', "%3A"),
        socket.replace('/', "%2F")
    );
    w.edit_config(|t| t.replace(&server.config_lines(&name, w.dir.path()), &url));
    std::fs::set_permissions(&w.config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod config");
    let r = w.admin(&["init-db"]);
    let version = w.count("SELECT version FROM schema_version");
    assert!(version >= 1, "{version}");
    let shown = format!("{DB_USER}@{socket}/{name}");
    assert_eq!(r.success().stdout(), format!("database mariadb `{shown}` ready (schema version {version})\n"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.9")).expect(200, "good 192.0.2.9\n");
    assert_eq!(w.a(HOME), ["192.0.2.9"]);
    let check = w.admin(&["check"]).stdout();
    let line = format!("ok    database mariadb `{shown}`: schema version {version}, current\n");
    assert!(check.contains(&line), "{check}");

    // A wrong password: every front-end fails clearly, and the password never shows.
    w.edit_config(|t| t.replace("%3Aword@", "%3Awrong@"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.11")).expect(200, "911\n");
    let r = w.admin(&["user", "list"]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains("Access denied for user"), "{}", r.stderr());
    assert!(!r.stderr().contains("wrong"), "{}", r.stderr());
    w.edit_config(|t| t.replace("%3Awrong@", "%3Aword@"));

    // A schema written by a newer ddns-cgi is refused by updates (911) and by init-db.
    two_front_ends::a_newer_schema_is_refused(&w, version);
}

#[test]
fn two_front_ends_migrating_an_empty_database_at_once_both_start() {
    // Both read "no schema" before either migrates, then queue on the migration lock (held
    // here, as by a third front-end): the first migrates, the second must find the work done
    // under the lock and start as well. MariaDB commits each DDL statement on its own, so
    // only the lock keeps the second from running the migrations again.
    let w = crate::world!(world());
    let server = MariaServer::shared();
    let version = w.count("SELECT version FROM schema_version");
    let fresh = server.create_database();
    let name = database(&w);
    w.edit_config(|t| t.replace(&server.config_lines(&name, w.dir.path()), &server.config_lines(&fresh, w.dir.path())));
    let mut holder = server.connect(&fresh);
    let taken: Option<i64> =
        holder.exec_first("SELECT GET_LOCK(?, 0)", (migration_lock(&fresh),)).expect("hold the lock");
    assert_eq!(taken, Some(1));
    let runs = two_front_ends::two_init_dbs(&w);
    let mut watcher = server.connect(&fresh);
    wait_for_lock_waits(&mut watcher, &fresh, 2);
    holder.exec_drop("DO RELEASE_LOCK(?)", (migration_lock(&fresh),)).expect("release the lock");
    two_front_ends::both_ready(runs, version);
    let versions: Vec<i64> = watcher.query("SELECT version FROM schema_version").expect("versions");
    assert_eq!(versions, [version]);
    two_front_ends::the_migrated_database_serves(&w, || {
        let row: Option<Option<String>> =
            watcher.exec_first("SELECT ipv4 FROM hostnames WHERE fqdn = ?", (HOME,)).expect("the row");
        row.flatten()
    });
}

#[test]
fn a_user_another_admin_deletes_meanwhile_is_not_reported_deleted_twice() {
    // Two admins delete bob at once: the second's DELETE waits for the first one's row lock
    // and finds no row once that commits. It must say bob does not exist, not "deleted".
    let w = crate::world!(world());
    w.add_user("bob", "bob-password");
    let server = MariaServer::shared();
    let name = database(&w);
    let mut first = server.connect(&name);
    let mut tx = first.start_transaction(mysql::TxOpts::default()).expect("begin");
    tx.query_drop("DELETE FROM users WHERE name = 'bob'").expect("the first deletion");
    assert_eq!(tx.affected_rows(), 1);
    let second = Command::new(bin())
        .env_clear()
        .arg("--config")
        .arg(&w.config)
        .args(["user", "delete", "bob"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start user delete");
    let mut watcher = server.connect(&name);
    let mut second = second;
    let started = Instant::now();
    while lock_waits(&mut watcher, &name) == 0 {
        if let Some(status) = second.try_wait().expect("try_wait") {
            let out = second.wait_with_output().expect("output");
            panic!("user delete ended ({status}) without waiting:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(started.elapsed() < Duration::from_secs(30), "user delete never waited for the row lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    tx.commit().expect("commit the first deletion");
    let out = second.wait_with_output().expect("wait for user delete");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("user `bob` does not exist"), "{stderr}");
    assert_eq!(w.count("SELECT COUNT(*) FROM users WHERE name = 'bob'"), 0);
}

#[test]
fn names_are_compared_exactly_whatever_the_servers_collation() {
    // Debian's MariaDB compares text case-insensitively and ignores trailing spaces
    // (`utf8mb4_general_ci`, PAD SPACE); the store's names must not: `ALICE` and `alice `
    // are not alice, as on SQLite and PostgreSQL.
    let w = crate::world!(world());
    for user in ["ALICE", "alice ", "Alice"] {
        let r = w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.3")).basic(user, PASSWORD));
        assert_eq!((r.status, r.body.as_str()), (401, "badauth\n"), "`{user}`: {}", r.log);
    }
    assert!(w.a(HOME).is_empty());
    // Other users may take those names.
    w.add_user("Alice", "other-password");
    let listed = w.admin(&["user", "list"]).success().stdout();
    assert!(listed.lines().any(|l| l.starts_with("Alice ")), "{listed}");
    w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.4")).basic("Alice", "other-password"))
        .expect(200, "nohost\n");
    w.update(&format!("hostname={HOME}&myip=192.0.2.5")).expect(200, "good 192.0.2.5\n");
}

/// Replaces the `[database]` table of the world's config.
fn use_database(w: &World, lines: &str) {
    w.edit_config(|t| {
        let start = t.find("[database]\n").expect("[database]") + "[database]\n".len();
        let end = t.find("\n\n[dns]").expect("[dns]");
        format!("{}{lines}{}", &t[..start], &t[end..])
    });
}

/// The database password never shows, on any stream.
#[track_caller]
fn no_password(r: &Run) -> &Run {
    for text in [r.stdout(), r.stderr()] {
        assert!(!text.contains(DB_PASSWORD), "printed the database password:\n{text}");
    }
    r
}

/// A world on the server `srv` over TCP, `[database]` given by `url`'s query, set up through
/// it as an administrator would; the `init-db` run (`mariadb_tls.rs` too).
pub(crate) fn tcp_world(srv: &TcpServer, host: &str, query: &str) -> Option<(World, Run)> {
    let db = srv.server.create_database();
    let w = World::knot()?;
    let url =
        format!("url = \"mysql://{DB_USER}:{}@{host}:{}/{db}{query}\"", DB_PASSWORD.replace(':', "%3A"), srv.port());
    use_database(&w, &url);
    // It holds a password now: the admin's mode for it.
    std::fs::set_permissions(&w.config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod config");
    let r = w.admin(&["init-db"]);
    no_password(&r);
    Some((w, r))
}

#[test]
fn tls_verified_against_the_ca_stores_and_updates() {
    let Some(srv) = TcpServer::start(true) else { return };
    let pki = srv.pki.as_ref().expect("a pki");
    let query = format!("?ssl-mode=verify-identity&ssl-ca={}", pki.ca.display().to_string().replace('/', "%2F"));
    let Some((w, r)) = tcp_world(&srv, "localhost", &query) else { return };
    r.success();
    w.add_user(USER, PASSWORD);
    no_password(w.admin(&["hostname", "add", USER, HOME, ZONE]).success());
    w.update(&format!("hostname={HOME}&myip=192.0.2.21")).expect(200, "good 192.0.2.21\n");
    assert_eq!(w.a(HOME), ["192.0.2.21"]);
    let check = no_password(&w.admin(&["check"])).stdout();
    assert!(check.contains("`: connected with TLS (ssl-mode `verify-identity`, TLSv1."), "{check}");
}

#[test]
fn tls_with_the_wrong_ca_or_name_is_refused_and_nothing_written() {
    let Some(srv) = TcpServer::start(true) else { return };
    let pki = srv.pki.as_ref().expect("a pki");
    let enc = |p: &std::path::Path| p.display().to_string().replace('/', "%2F");
    // The wrong CA, and the right one with a name the certificate does not hold.
    let cases = [
        ("localhost", &pki.wrong_ca, "invalid peer certificate: UnknownIssuer"),
        ("127.0.0.1", &pki.ca, "certificate not valid for name \"127.0.0.1\""),
    ];
    for (host, ca, why) in cases {
        let query = format!("?ssl-mode=verify-identity&ssl-ca={}", enc(ca));
        let Some((w, r)) = tcp_world(&srv, host, &query) else { return };
        assert_eq!(r.code(), Some(2), "{host}: {}{}", r.stdout(), r.stderr());
        assert!(r.stderr().contains(why), "{host}: {}", r.stderr());
        // A front-end on that config answers 911 and writes nothing.
        w.update(&format!("hostname={HOME}&myip=192.0.2.22")).expect(200, "911\n");
        assert!(w.a(HOME).is_empty());
    }
    // Without TLS the server itself refuses the session: MariaDB 10.11 answers a plain session
    // under `require_secure_transport` as it answers a wrong password (the same user and
    // password get in over TLS in the test above).
    let Some((_w, r)) = tcp_world(&srv, "127.0.0.1", "?ssl-mode=disabled") else { return };
    assert_eq!(r.code(), Some(2), "{}{}", r.stdout(), r.stderr());
    assert!(r.stderr().contains("Access denied for user 'ddns'"), "{}", r.stderr());
}
