//! PostgreSQL as the shared database of several front-ends (issue 11): two `ddns-cgi fastcgi`
//! processes (two front-ends, each with its own sessions) share one PostgreSQL and one Knot.
//! The same host hammered through both ends with the row equal to DNS; two expiry runs at
//! once do the work once; the URL form of `[database]`, `init-db`, `check` and a newer schema
//! refused, and `sslmode` over the socket. Also what only PostgreSQL's store decides, found
//! by its mutation run (TESTING.md): two front-ends migrating an empty database at once, a
//! user two admins delete at once, the token columns of `hostname list`, the dummy hash's
//! cost taken from the stored hashes, a read-only database's refusal, `prefer` keeping a
//! password refused over TLS as the answer, and a child following its parent's stored IPv4;
//! the FastCGI repeat's reads in one statement seeing every other process's commit at once,
//! and its kept statement prepared again after a migration changed its result type.
//! These run in every pass: the worlds here are on
//! PostgreSQL whatever `DDNS_TEST_DATABASE` says (the rest of the suite follows it; see
//! TESTING.md).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::perf::answered_without_a_worker;
use crate::two_front_ends;
use crate::util::{Cgi, PASSWORD, Setup, USER, World, bin, epoch};

const HOME: &str = "home.dyn.example.test";

/// The advisory lock the expiry run takes (`store::postgres`: class "ddns", key 2).
const EXPIRY_LOCK: (i32, i32) = (0x6464_6e73, 2);
/// The transaction-scoped advisory lock a migration takes (class "ddns", key 1).
const MIGRATION_LOCK: (i32, i32) = (0x6464_6e73, 1);

fn world() -> Option<World> {
    World::postgres(Setup::default())
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
    // `pg_terminate_backend` stands in for a restart.
    let w = crate::world!(world());
    let name = w.pg.clone().expect("a postgres world");
    two_front_ends::a_worker_whose_session_the_server_closed_opens_a_new_one(&w, || {
        let mut admin = crate::util::pg::PgServer::shared().connect(&name);
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&name],
            )
            .expect("terminate")
            .len()
    });
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
    two_front_ends::a_newer_schema_is_refused(&w, version);
}

#[test]
fn two_front_ends_migrating_an_empty_database_at_once_both_start() {
    // Both read "no schema" before either migrates, then queue on the migration lock (held
    // here, as by a third front-end): the first migrates, the second must find the work done
    // under the lock (the current version, not a newer one) and start as well.
    let w = crate::world!(world());
    let pg = crate::util::pg::PgServer::shared();
    let version = w.count("SELECT version FROM schema_version");
    let fresh = pg.create_database();
    let name = w.pg.clone().expect("a postgres world");
    w.edit_config(|t| t.replace(&pg.config_lines(&name), &pg.config_lines(&fresh)));
    let mut holder = pg.connect(&fresh);
    let mut tx = holder.transaction().expect("begin");
    tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&MIGRATION_LOCK.0, &MIGRATION_LOCK.1]).expect("hold the lock");
    let runs = two_front_ends::two_init_dbs(&w);
    let mut watcher = pg.connect(&fresh);
    let started = Instant::now();
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                 AND classid = $1::BIGINT::OID AND objid = $2::BIGINT::OID AND objsubid = 2
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[&i64::from(MIGRATION_LOCK.0), &i64::from(MIGRATION_LOCK.1)],
            )
            .expect("pg_locks")
            .get(0);
        if waiting == 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{waiting} of 2 init-db runs wait for the migration lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    tx.commit().expect("release the lock");
    two_front_ends::both_ready(runs, version);
    let versions: Vec<i64> =
        watcher.query("SELECT version FROM schema_version", &[]).expect("versions").iter().map(|r| r.get(0)).collect();
    assert_eq!(versions, [version]);
    two_front_ends::the_migrated_database_serves(&w, || {
        watcher.query_one("SELECT ipv4 FROM hostnames WHERE fqdn = $1", &[&HOME]).expect("the row").get(0)
    });
}

/// The UTC date `days` from now, as `hostname token --expires` takes it and the listing shows it.
fn utc_date(days: i64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{}", epoch() + days * 86_400), "+%F"])
        .output()
        .expect("run date");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

#[test]
fn hostname_list_shows_the_token_scope_postgresql_stored() {
    // The listing reads the token's columns after the host's, each by its index. The host was
    // updated today and its token ends in 30 days: its end must not read as another column.
    let w = crate::world!(world());
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.5")).expect(200, "good 192.0.2.5\n");
    let ends = utc_date(30);
    let run = w.admin(&["hostname", "token", HOME, "--expires", &ends, "--types", "A", "--from", "198.51.100.0/24"]);
    run.success();
    let listed = w.admin(&["hostname", "list"]).success().stdout();
    let cell = format!("  types=A;from=198.51.100.0/24;expires={ends}");
    assert!(listed.lines().any(|l| l.starts_with(HOME) && l.ends_with(&cell)), "{listed}");
    let json: serde_json::Value =
        serde_json::from_str(&w.admin(&["hostname", "list", "--json"]).success().stdout()).expect("JSON");
    let token = &json[0]["token"];
    let created = token["created_at"].as_i64().unwrap_or_else(|| panic!("{json}"));
    assert!((t0..=epoch()).contains(&created), "{json}");
    let expected = serde_json::json!({
        "types": ["A"], "from": ["198.51.100.0/24"], "expires": ends, "created_at": created,
    });
    assert_eq!(token, &expected, "{json}");
}

/// Waits until a session of `ddns-cgi` on `database` waits for a lock (a row or an advisory
/// lock another session holds); fails the test after 30 s.
fn wait_for_a_lock_wait(watcher: &mut postgres::Client, database: &str) {
    let started = Instant::now();
    loop {
        let waiting: i64 = watcher
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'ddns-cgi'
                 AND wait_event_type = 'Lock'",
                &[&database],
            )
            .expect("pg_stat_activity")
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "ddns-cgi never waited for the lock held here");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_user_another_admin_deletes_meanwhile_is_not_reported_deleted_twice() {
    // Two admins delete bob at once: the second found bob, then its DELETE waits for the
    // first one's row lock and finds no row once that commits. It must say bob does not
    // exist, not "deleted".
    let w = crate::world!(world());
    w.add_user("bob", "bob-password");
    let pg = crate::util::pg::PgServer::shared();
    let name = w.pg.clone().expect("a postgres world");
    let mut first = pg.connect(&name);
    let mut tx = first.transaction().expect("begin");
    assert_eq!(tx.execute("DELETE FROM users WHERE name = 'bob'", &[]).expect("the first deletion"), 1);
    let second = Command::new(bin())
        .env_clear()
        .arg("--config")
        .arg(&w.config)
        .args(["user", "delete", "bob"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start user delete");
    wait_for_a_lock_wait(&mut pg.connect(&name), &name);
    tx.commit().expect("commit the first deletion");
    let out = second.wait_with_output().expect("wait for user delete");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "");
    assert!(stderr.contains("user `bob` does not exist"), "{stderr}");
    assert_eq!(w.count("SELECT COUNT(*) FROM users WHERE name = 'bob'"), 0);
}

#[test]
fn unknown_users_are_verified_at_the_cost_most_stored_hashes_have() {
    // After a cost change, the dummy hash for an unknown user takes the parameters most of the
    // hashes PostgreSQL holds have (bob's and carol's, made at 128 KiB), not the configured
    // ones (64 KiB, alice's).
    let w = crate::world!(world());
    let cost = |from: u32, to: u32| {
        w.edit_config(|t| t.replace(&format!("argon2_m_kib = {from}\n"), &format!("argon2_m_kib = {to}\n")));
    };
    cost(64, 128);
    w.add_user("bob", "bob-password");
    w.add_user("carol", "carol-password");
    cost(128, 64);
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic("mallory", "guess"));
    r.expect(401, "badauth\n");
    let line = concat!(
        "unknown user `mallory`: verifying against a dummy argon2 hash with m=128,t=1,p=1, ",
        "the parameters most stored hashes have"
    );
    assert!(r.log.contains(line), "{}", r.log);
}

#[test]
fn a_read_only_database_refuses_new_users_and_hostnames_with_the_servers_reason() {
    // A front-end pointed at a database that takes no writes (a hot standby, or
    // `default_transaction_read_only`): `user add` and `hostname add` fail with the server's
    // reason. Their INSERTs skip a conflicting row themselves, so no failure of theirs may
    // read as "already exists".
    let w = crate::world!(world());
    let name = w.pg.clone().expect("a postgres world");
    let pg = crate::util::pg::PgServer::shared();
    // From another database: a session of this one can no longer undo it.
    let read_only = |how: &str| pg.psql("postgres", &format!("ALTER DATABASE {name} {how}")).expect("alter database");
    read_only("SET default_transaction_read_only = on");
    let user = || w.admin_stdin(&["user", "add", "bob", "bob@example.test", "--password-stdin"], "bob-password\n");
    let host = || w.admin(&["hostname", "add", USER, "nas.dyn.example.test", crate::util::ZONE]);
    for r in [user(), host()] {
        assert_eq!(r.code(), Some(2), "{}{}", r.stdout(), r.stderr());
        assert!(r.stderr().contains("cannot execute INSERT in a read-only transaction"), "{}", r.stderr());
        assert!(!r.stderr().contains("exists"), "{}", r.stderr());
    }
    assert_eq!(w.count("SELECT COUNT(*) FROM users"), 1);
    assert_eq!(w.count("SELECT COUNT(*) FROM hostnames"), 1);
    read_only("RESET default_transaction_read_only");
    user().success();
    host().success();
}

#[test]
fn prefer_reports_a_password_refused_over_tls_without_a_plain_text_retry() {
    // `prefer` starts over in plain text only when the TLS handshake itself fails. A password
    // the server refuses inside the TLS session is the answer, not a reason to log in again
    // unencrypted (which this `hostssl`-only server would refuse for another reason).
    let Some(srv) = crate::util::pg::TcpServer::start(true) else { return };
    let db = srv.create_database();
    let w = crate::world!(World::knot());
    let role = crate::util::pg::TCP_ROLE;
    let url = format!("url = \"postgresql://{role}:not-the-password@127.0.0.1:{}/{db}?sslmode=prefer\"", srv.tcp_port);
    w.edit_config(|t| {
        let start = t.find("[database]\n").expect("[database]") + "[database]\n".len();
        let end = t.find("\n\n[dns]").expect("[dns]");
        format!("{}{url}{}", &t[..start], &t[end..])
    });
    let r = w.admin(&["user", "list"]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains(&format!("password authentication failed for user \"{role}\"")), "{}", r.stderr());
    assert!(!r.stderr().contains("no encryption"), "{}", r.stderr());
    assert!(!srv.log().contains("no encryption"), "a second session in plain text:\n{}", srv.log());
}

#[test]
fn a_child_follows_the_parents_stored_ipv4_when_an_update_brings_only_ipv6() {
    // The camera follows the parent's /24 (host bits `.10`) and is derived after the parent's
    // IPv4 was stored. An update with only an IPv6 address and a prefix gives the camera its
    // AAAA and, from the parent's row, its A.
    const CAM: &str = "cam.dyn.example.test";
    let w = crate::world!(world());
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let derive = ["hostname", "derive", HOME, CAM, "--ipv6-iid", "::c", "--ipv4", "0.0.0.10/24"];
    w.admin(&derive).success();
    w.update(&format!("hostname={HOME}&myip=2001:db8:1:2::1&ipv6prefix=2001:db8:1:2::/64"))
        .expect(200, "good 2001:db8:1:2::1\n");
    assert_eq!(w.aaaa(CAM), ["2001:db8:1:2::c"]);
    assert_eq!(w.a(CAM), ["192.0.2.10"]);
    assert_eq!(w.stored(CAM), (Some("192.0.2.10".into()), Some("2001:db8:1:2::c".into())));
}

#[test]
fn a_fastcgi_repeat_in_one_statement_sees_what_other_processes_committed_at_once() {
    // The repeat's reads are one statement, built from what the last ones asked for
    // (`store/postgres/together.rs`): every change by another process must show in the very
    // next answer, and a hostname the statement did not read falls back to the full reads.
    use crate::util::web::{Front, WebServer, curl};
    let Some(world) = World::postgres(Setup {
        extra_config: "[rate_limit]\nenabled = false\n",
        hosts: &[HOME, "nas.dyn.example.test"],
        ..Setup::default()
    }) else {
        return;
    };
    let Some(web) = WebServer::start(&world, Front::NginxFastcgi) else { return };
    let token = |w: &World| {
        let run = w.admin(&["hostname", "token", HOME]);
        run.success();
        run.stdout().trim().to_owned()
    };
    let first = token(&world);
    let url = |ip: &str, token: &str| web.url(&format!("/nic/update?hostname={HOME}&myip={ip}&token={token}"));
    curl(&[&url("192.0.2.1", &first)]).expect(200, "good 192.0.2.1\n");
    for _ in 0..3 {
        curl(&[&url("192.0.2.1", &first)]).expect(200, "nochg 192.0.2.1\n");
    }
    assert_eq!(answered_without_a_worker(&web), 3, "{}", web.fastcgi_log());
    // A CGI process changes the address: the repeat of the old one is a change again.
    world.update(&format!("hostname={HOME}&myip=192.0.2.9")).expect(200, "good 192.0.2.9\n");
    curl(&[&url("192.0.2.1", &first)]).expect(200, "good 192.0.2.1\n");
    curl(&[&url("192.0.2.1", &first)]).expect(200, "nochg 192.0.2.1\n");
    assert_eq!(world.a(HOME), ["192.0.2.1"]);
    // A new token replaces the old one: the old one is refused at once.
    let second = token(&world);
    curl(&[&url("192.0.2.1", &first)]).expect(401, "badauth\n");
    curl(&[&url("192.0.2.1", &second)]).expect(200, "nochg 192.0.2.1\n");
    // A password's repeats, on one hostname and then the other: the second's first repeat
    // is read the old way (the user's statement did not read it), then in one statement.
    let basic = |host: &str, ip: &str| web.url(&format!("/nic/update?hostname={host}&myip={ip}"));
    let creds = format!("{USER}:{PASSWORD}");
    let nas = "nas.dyn.example.test";
    curl(&["-u", &creds, &basic(nas, "192.0.2.5")]).expect(200, "good 192.0.2.5\n");
    curl(&["-u", &creds, &basic(nas, "192.0.2.5")]).expect(200, "nochg 192.0.2.5\n");
    curl(&["-u", &creds, &basic(HOME, "192.0.2.1")]).expect(200, "nochg 192.0.2.1\n");
    curl(&["-u", &creds, &basic(nas, "192.0.2.5")]).expect(200, "nochg 192.0.2.5\n");
    // A new password: the old one is refused at once (the user's row is read with the rest).
    world.admin_stdin(&["user", "passwd", USER, "--password-stdin"], "n3w-secret\n").success();
    curl(&["-u", &creds, &basic(nas, "192.0.2.5")]).expect(401, "badauth\n");
    // Revoked, then the hostname deleted: refused, and nothing comes back.
    world.admin(&["hostname", "token", "--revoke", HOME]).success();
    curl(&[&url("192.0.2.1", &second)]).expect(401, "badauth\n");
    let third = token(&world);
    curl(&[&url("192.0.2.1", &third)]).expect(200, "nochg 192.0.2.1\n");
    world.admin(&["hostname", "delete", HOME]).success();
    curl(&[&url("192.0.2.1", &third)]).expect(401, "badauth\n");
    assert!(world.a(HOME).is_empty(), "{:?}", world.a(HOME));
    assert_eq!(answered_without_a_worker(&web), 9, "{}", web.fastcgi_log());
}

#[test]
fn a_kept_statement_whose_result_type_a_migration_changed_is_prepared_again() {
    // A FastCGI worker keeps the repeat's statement prepared from its second run on
    // (`Store::query_kept`). A migration that changes a column's type under the running
    // process makes PostgreSQL refuse the kept statement (`cached plan must not change
    // result type`): the worker prepares it again and the repeat still answers from its one
    // statement, not by the fallback.
    use crate::util::web::{Front, WebServer, curl};
    let Some(world) = World::postgres(Setup { extra_config: "[rate_limit]\nenabled = false\n", ..Setup::default() })
    else {
        return;
    };
    // Requests one at a time take the same pooled connection (the pool is a stack), so the
    // statement kept is the one used next.
    let Some(web) = WebServer::start(&world, Front::NginxFastcgi) else { return };
    let run = world.admin(&["hostname", "token", HOME]);
    run.success();
    let token = run.stdout().trim().to_owned();
    let url = web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.1&token={token}"));
    curl(&[&url]).expect(200, "good 192.0.2.1\n");
    for _ in 0..3 {
        curl(&[&url]).expect(200, "nochg 192.0.2.1\n");
    }
    let name = world.pg.clone().expect("a postgres world");
    let mut pg = crate::util::pg::PgServer::shared().connect(&name);
    pg.batch_execute("ALTER TABLE hostnames ALTER COLUMN txt TYPE VARCHAR(4000)").expect("alter the column");
    curl(&[&url]).expect(200, "nochg 192.0.2.1\n");
    curl(&[&url]).expect(200, "nochg 192.0.2.1\n");
    assert_eq!(answered_without_a_worker(&web), 5, "{}", web.fastcgi_log());
    curl(&[&web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.2&token={token}"))])
        .expect(200, "good 192.0.2.2\n");
    assert_eq!(world.a(HOME), ["192.0.2.2"]);
}
