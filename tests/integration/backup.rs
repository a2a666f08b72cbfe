//! `ddns-cgi backup` and `restore`, and the files SQLite keeps beside the database
//! (`-wal`, `-shm`), against a running `ddns-cgi fastcgi`: a backup taken while the server
//! writes is one consistent state; a restore after the server stopped (cleanly, or killed with
//! its `-wal` left behind) brings back that state and nothing written after it; a clean stop
//! leaves the database file alone; and the remembered reads of the FastCGI repeat never trust
//! a `-shm` file of a database that is not in WAL mode. Effects are read back from the files
//! and from DNS.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::util::pg::skip_sqlite_only;
use crate::util::web::{FcgiClient, Launched, Launcher, fcgi_update_params};
use crate::util::{PASSWORD, Setup, USER, World, base64};
use crate::web::{HOME, NAS, web_world};

fn auth() -> String {
    format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")))
}

/// `path` with `suffix` appended to its name.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// One update over FastCGI on a new connection; the answer's body.
fn fcgi_update(port: u16, query: &str) -> String {
    let mut c = FcgiClient::connect_tcp(port);
    let auth = auth();
    assert!(c.request(1, false, &fcgi_update_params(query, &auth), b""));
    let raw = c.response(1).unwrap_or_default();
    let text = String::from_utf8_lossy(&raw).into_owned();
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or(text)
}

/// An update of [`HOME`] with its token alone (no Basic credentials) over FastCGI; the body.
fn token_update(port: u16, token: &str, ip: &str) -> String {
    let mut c = FcgiClient::connect_tcp(port);
    let query = format!("hostname={HOME}&myip={ip}&token={token}");
    let params = [
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", "/nic/update"),
        ("QUERY_STRING", query.as_str()),
        ("REMOTE_ADDR", "198.51.100.7"),
    ];
    assert!(c.request(1, false, &params, b""));
    let raw = String::from_utf8_lossy(&c.response(1).unwrap_or_default()).into_owned();
    raw.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or(raw)
}

/// Every row of the tables a restore must bring back as they were, as text, read straight
/// from the file at `db` (read-only, so nothing is created beside it).
fn dump(db: &Path) -> Vec<String> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let conn = rusqlite::Connection::open_with_flags(db, flags).expect("open for reading");
    let mut out = Vec::new();
    for table in ["users", "hostnames", "tokens", "audit", "counters"] {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2")).expect("select");
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                let cells: Vec<String> = (0..n).map(|i| format!("{:?}", r.get_ref(i).expect("cell"))).collect();
                Ok(format!("{table}: {}", cells.join(" | ")))
            })
            .expect("rows");
        out.extend(rows.map(|r| r.expect("row")));
    }
    out
}

fn integrity(db: &Path) -> String {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check")
}

fn count(db: &Path, table: &str) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).expect("count")
}

/// The number before `what` in a `backup`/`restore` summary line (`2 hostnames`).
fn reported(out: &str, what: &str) -> i64 {
    let before = out.split(&format!(" {what}")).next().unwrap_or_default();
    before.rsplit(' ').next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("no `{what}` in {out:?}"))
}

/// Updates both hosts in turn over FastCGI until told to stop; how many were answered `good`.
fn writer(port: u16, stop: Arc<AtomicBool>, good: Arc<AtomicUsize>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut i = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let host = if i.is_multiple_of(2) { HOME } else { NAS };
            let answer = fcgi_update(port, &format!("hostname={host}&myip=192.0.2.{}", 1 + i % 200));
            assert!(answer.starts_with("good "), "{answer}");
            good.fetch_add(1, Ordering::Relaxed);
            i += 1;
        }
    })
}

#[test]
fn a_backup_taken_while_fastcgi_writes_is_restored_with_nothing_written_after_it() {
    if skip_sqlite_only("backup and restore") {
        return;
    }
    let world = world!(web_world());
    let (mut server, _, port) = world!(Launched::start(&world, Launcher::Listen));
    let (stop, good) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let writing = writer(port, stop.clone(), good.clone());
    while good.load(Ordering::Relaxed) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let file = world.dir.path().join("backups").join("ddns.db");
    std::fs::create_dir_all(file.parent().expect("dir")).expect("backup dir");
    let out = world.admin(&["backup", &file.display().to_string()]).success().stdout();
    let during = good.load(Ordering::Relaxed);
    while good.load(Ordering::Relaxed) < during + 20 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    writing.join().expect("writer");
    // One consistent state, private, owned like the database, reported as it is.
    assert_eq!(integrity(&file), "ok");
    let (db_meta, meta) = (std::fs::metadata(&world.db).expect("db"), std::fs::metadata(&file).expect("backup"));
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!((meta.uid(), meta.gid()), (db_meta.uid(), db_meta.gid()));
    assert!(out.contains(&format!("to `{}`: schema version ", file.display())), "{out}");
    assert_eq!(reported(&out, "users"), 1, "{out}");
    assert_eq!(reported(&out, "hostnames"), 2, "{out}");
    let n_audit = count(&file, "audit");
    assert_eq!(reported(&out, "audit rows"), n_audit, "{out}");
    assert!(n_audit >= 20 && n_audit < count(&world.db, "audit"), "{n_audit} audit rows in the backup");
    assert!(!beside(&file, "-wal").exists() && !beside(&file, "-journal").exists());
    // Not over an existing file without `--force`.
    let again = world.admin(&["backup", &file.display().to_string()]);
    assert_eq!(
        (again.code(), again.stderr()),
        (Some(2), format!("error: `{}` exists; pass `--force` to replace it\n", file.display()))
    );
    // What an intruder adds after the backup, while the server runs.
    world.add_user("mallory", "intruder-password");
    world.admin(&["hostname", "add", "mallory", "evil.dyn.example.test"]).success();
    assert_eq!(fcgi_update(port, &format!("hostname={HOME}&myip=203.0.113.66")), "good 203.0.113.66\n");
    // While the server runs, `restore` refuses and names it.
    let refused = world.admin(&["restore", &file.display().to_string()]);
    assert_eq!(refused.code(), Some(2), "{}", refused.stderr());
    let err = refused.stderr();
    assert!(err.contains(&format!("is open in process {} (`ddns-cgi`)", server.pid())), "{err}");
    assert!(err.contains("stop the FastCGI server"), "{err}");
    assert_eq!(count(&world.db, "users"), 2, "a refused restore changes nothing");
    // Killed, the server leaves its -wal: what SQLite would replay onto a file put in place.
    server.signal_and_wait("-KILL");
    drop(server);
    assert!(std::fs::metadata(beside(&world.db, "-wal")).is_ok_and(|m| m.len() > 0), "a -wal is left");
    let want = dump(&file);
    let out = world.admin(&["restore", &file.display().to_string()]).success().stdout();
    assert!(
        out.starts_with(&format!("restored `{}` from `{}`: schema version ", world.db.display(), file.display())),
        "{out}"
    );
    assert_eq!(reported(&out, "audit rows"), n_audit, "{out}");
    // Nothing beside it to replay, and exactly the backup's rows.
    for side in ["-wal", "-shm", "-journal"] {
        assert!(!beside(&world.db, side).exists(), "{side} beside the restored database");
    }
    assert_eq!(dump(&world.db), want);
    assert_eq!(integrity(&world.db), "ok");
    let restored = std::fs::metadata(&world.db).expect("restored");
    assert_eq!(restored.permissions().mode() & 0o777, 0o600);
    assert_eq!((restored.uid(), restored.gid()), (db_meta.uid(), db_meta.gid()));
    // The replaced database is kept aside with its -wal, 0600: it opens as the state it held.
    let aside_line = out.lines().nth(1).unwrap_or_default();
    let aside = aside_line.split('`').nth(1).map(PathBuf::from).unwrap_or_else(|| panic!("{out}"));
    assert!(aside_line.contains("(with its -wal and -shm)"), "{out}");
    assert!(aside.display().to_string().starts_with(&format!("{}.replaced-", world.db.display())), "{out}");
    assert_eq!(std::fs::metadata(&aside).expect("aside").permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(beside(&aside, "-wal")).expect("aside -wal").permissions().mode() & 0o777, 0o600);
    // The service starts on it and works: the intruder's host is gone, updates reach DNS.
    let (_server, _, port) = world!(Launched::start(&world, Launcher::Listen));
    assert_eq!(fcgi_update(port, &format!("hostname={HOME}&myip=198.51.100.99")), "good 198.51.100.99\n");
    assert_eq!(world.a(HOME), ["198.51.100.99"]);
    let listed = world.admin(&["hostname", "list"]).success().stdout();
    assert!(!listed.contains("evil.dyn.example.test") && listed.contains(NAS), "{listed}");
    assert!(!world.admin(&["user", "list"]).success().stdout().contains("mallory"));
}

#[test]
fn a_clean_fastcgi_stop_leaves_the_database_file_alone() {
    // The server's connections skip the checkpoint at close (cheap CGI requests); a clean stop
    // must not leave a -wal that SQLite would replay onto a restored file.
    if skip_sqlite_only("the -wal file") {
        return;
    }
    let world = world!(web_world());
    let (mut server, _, port) = world!(Launched::start(&world, Launcher::Listen));
    assert_eq!(fcgi_update(port, &format!("hostname={HOME}&myip=192.0.2.55")), "good 192.0.2.55\n");
    assert!(beside(&world.db, "-wal").exists(), "the server writes through the WAL");
    server.signal_and_wait("-TERM");
    assert!(server.log().contains("fastcgi: stopped"), "{}", server.log());
    for side in ["-wal", "-shm"] {
        assert!(!beside(&world.db, side).exists(), "{side} left after a clean stop:\n{}", server.log());
    }
    // The file alone holds the update.
    let conn = rusqlite::Connection::open_with_flags(
        format!("file:{}?immutable=1", world.db.display()),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )
    .expect("open the file alone");
    let ipv4: String = conn.query_row("SELECT ipv4 FROM hostnames WHERE fqdn = ?1", [HOME], |r| r.get(0)).expect("row");
    assert_eq!(ipv4, "192.0.2.55");
    assert_eq!(world.a(HOME), ["192.0.2.55"]);
}

#[test]
fn restore_refuses_damaged_foreign_and_newer_files_and_changes_nothing() {
    if skip_sqlite_only("restore") {
        return;
    }
    let world = world!(World::knot());
    let good = world.dir.path().join("good.db");
    world.admin(&["backup", &good.display().to_string()]).success();
    world.admin(&["backup", &good.display().to_string(), "--force"]).success();
    let before = dump(&world.db);
    let check = |file: &Path, expected: &str| {
        let r = world.admin(&["restore", &file.display().to_string()]);
        assert_eq!(r.code(), Some(2), "{}", r.stderr());
        assert!(r.stderr().contains(expected), "{expected:?} not in {}", r.stderr());
        assert_eq!(dump(&world.db), before, "a refused restore changes nothing");
        let names: Vec<String> = std::fs::read_dir(world.dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert!(!names.iter().any(|n| n.contains(".replaced-") || n.contains(".restore-")), "{names:?}");
    };
    // An index that no longer matches its table (what a stale -wal did to a `VACUUM INTO` copy).
    let damaged = world.dir.path().join("damaged.db");
    std::fs::copy(&good, &damaged).expect("copy");
    let conn = rusqlite::Connection::open(&damaged).expect("open");
    conn.execute_batch(
        "PRAGMA writable_schema = ON;
         UPDATE sqlite_schema SET sql = 'CREATE INDEX hostnames_user ON hostnames(zone)' WHERE name = 'hostnames_user';",
    )
    .expect("break the index");
    drop(conn);
    check(&damaged, &format!("`{}` is damaged (SQLite's integrity check: ", damaged.display()));
    let newer = world.dir.path().join("newer.db");
    std::fs::copy(&good, &newer).expect("copy");
    rusqlite::Connection::open(&newer).expect("open").pragma_update(None, "user_version", 999).expect("version");
    check(&newer, "database schema version 999 is newer than this ddns-cgi supports");
    let foreign = world.dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign).expect("open").execute_batch("CREATE TABLE notes (x)").expect("create");
    check(&foreign, &format!("`{}` is not a ddns-cgi database: schema version 0", foreign.display()));
    let text = world.dir.path().join("text.db");
    std::fs::write(&text, "not a database, only text that is long enough to have a header\n".repeat(20))
        .expect("write");
    check(&text, &format!("`{}` is not a ddns-cgi database: not a SQLite database", text.display()));
    check(&world.db, "is the database itself");
    // A copy taken with its -wal beside it lacks what the -wal holds.
    std::fs::write(beside(&good, "-wal"), b"").expect("write");
    check(&good, "-wal` lies beside");
    std::fs::remove_file(beside(&good, "-wal")).expect("remove");
    let missing = world.dir.path().join("missing.db");
    check(&missing, &format!("cannot read `{}`", missing.display()));
    // And the good one goes in.
    world.admin(&["restore", &good.display().to_string()]).success();
}

#[test]
fn fastcgi_never_remembers_reads_of_a_database_out_of_wal_mode() {
    // A database switched to `journal_mode=DELETE` with an old -shm file beside it: no commit
    // touches that file any more, so its header stays the same whatever changes; a revoked
    // token used to answer `nochg` from the remembered reads until the server restarted.
    if skip_sqlite_only("the journal mode") {
        return;
    }
    let world = world!(World::new(Setup {
        extra_config: "[rate_limit]\nenabled = false\n",
        hosts: &[HOME],
        ..Setup::default()
    }));
    let token = world.admin(&["hostname", "token", HOME]).success().stdout().trim().to_owned();
    // The address is current before the server starts: its first read is already a repeat's.
    world.update(&format!("hostname={HOME}&myip=192.0.2.5")).expect(200, "good 192.0.2.5\n");
    let shm = beside(&world.db, "-shm");
    let old_shm = world.dir.path().join("old-shm");
    {
        let conn = rusqlite::Connection::open(&world.db).expect("open");
        let _: i64 = conn.query_row("SELECT count(*) FROM tokens", [], |r| r.get(0)).expect("read");
        std::fs::copy(&shm, &old_shm).expect("keep the -shm");
    }
    let conn = rusqlite::Connection::open(&world.db).expect("open");
    let mode: String = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0)).expect("switch");
    assert_eq!(mode, "delete");
    drop(conn);
    std::fs::copy(&old_shm, &shm).expect("an old -shm beside it");
    let (server, _, port) = world!(Launched::start(&world, Launcher::Listen));
    let update = |ip: &str| token_update(port, &token, ip);
    for _ in 0..3 {
        assert_eq!(update("192.0.2.5"), "nochg 192.0.2.5\n");
    }
    world.admin(&["hostname", "token", "--revoke", HOME]).success();
    assert_eq!(update("192.0.2.5"), "badauth\n", "{}", server.log());
    assert_eq!(world.a(HOME), ["192.0.2.5"]);
}

#[test]
fn the_journal_mode_cannot_leave_wal_under_a_running_fastcgi_server() {
    // The other way a -shm could stop telling commits: the database leaving WAL mode while
    // the server reads it. SQLite refuses that while any connection has it open in WAL mode,
    // and the server keeps seeing every commit.
    if skip_sqlite_only("the journal mode") {
        return;
    }
    let world = world!(World::new(Setup {
        extra_config: "[rate_limit]\nenabled = false\n",
        hosts: &[HOME],
        ..Setup::default()
    }));
    let (server, _, port) = world!(Launched::start(&world, Launcher::Listen));
    let token = world.admin(&["hostname", "token", HOME]).success().stdout().trim().to_owned();
    let update = |ip: &str| token_update(port, &token, ip);
    assert_eq!(update("192.0.2.6"), "good 192.0.2.6\n", "{}", server.log());
    assert_eq!(update("192.0.2.6"), "nochg 192.0.2.6\n");
    let conn = rusqlite::Connection::open(&world.db).expect("open");
    let switched = conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0));
    assert!(!matches!(switched.as_deref(), Ok("delete")), "left WAL mode under the server: {switched:?}");
    drop(conn);
    world.admin(&["hostname", "token", "--revoke", HOME]).success();
    assert_eq!(update("192.0.2.6"), "badauth\n", "{}", server.log());
}

#[test]
fn on_postgresql_backup_and_restore_name_the_servers_tools() {
    let Some(world) = World::postgres(Setup::default()) else { return };
    let name = world.pg.clone().expect("a database");
    let r = world.admin(&["backup", "/nonexistent/ddns.dump"]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    let err = r.stderr();
    assert!(err.contains("pg_dump --format=custom --file=FILE --host="), "{err}");
    assert!(err.contains(&format!("--username=postgres {name}`")), "{err}");
    assert!(err.contains("`pg_restore`") && err.contains("`psql`"), "{err}");
    let r = world.admin(&["restore", "/nonexistent/ddns.dump"]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    let err = r.stderr();
    assert!(err.contains("`pg_restore --clean --if-exists --host="), "{err}");
    assert!(err.contains(&format!("--username=postgres --dbname={name} FILE`")), "{err}");
    assert!(err.contains(&format!("--username=postgres --dbname={name} --file=FILE`")), "{err}");
    assert!(!Path::new("/nonexistent").exists());
}
