//! The per-host stripe files beside a SQLite database (`store::lock`) belong to the database's
//! owner whoever creates them: an admin command or cron job run as root must not leave a lock
//! file (or the lock directory) that the web server's user cannot open, or every update of the
//! hosts on that stripe answers `911`.

use std::ffi::OsStr;
use std::os::unix::fs::MetadataExt as _;
use std::os::unix::fs::PermissionsExt as _;

use crate::util::dnsserver::is_root;
use crate::util::web::WEB_USER;
use crate::util::{Cgi, PASSWORD, USER, World, ZONE};

const HOST: &str = "home.dyn.example.test";

/// The uid and gid of `user` from `/etc/passwd`.
fn ids_of(user: &str) -> (u32, u32) {
    let passwd = std::fs::read_to_string("/etc/passwd").expect("read /etc/passwd");
    let line = passwd
        .lines()
        .find(|l| l.split(':').next() == Some(user))
        .unwrap_or_else(|| panic!("no user `{user}` in /etc/passwd: the web server tests need it"));
    let field = |i: usize| line.split(':').nth(i).and_then(|v| v.parse().ok()).expect("numeric id");
    (field(2), field(3))
}

#[test]
fn stripe_files_created_by_root_belong_to_the_databases_owner() {
    if crate::util::pg::skip_sqlite_only("the owner of stripe files") {
        return;
    }
    assert!(is_root(), "this test gives files to `{WEB_USER}` and creates others as root: run the suite as root");
    let web = ids_of(WEB_USER);
    assert_ne!(web.0, 0);
    let w = world!(World::knot());
    // The layout `init-db --owner www-data` makes (as the package does): a state directory and
    // a 0600 database of the web server's user. The rest of the world's directory is root's.
    let state = w.dir.path().join("state");
    let db = state.join("ddns.db");
    w.edit_config(|t| t.replace(&w.db.display().to_string(), &db.display().to_string()));
    for path in [w.dir.path(), w.config.as_path()] {
        // The web server's user reads the config (the TSIG key is in it) on its way in.
        let mode = if path == w.dir.path() { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }
    w.admin(&["init-db", "--owner", WEB_USER]).success();
    w.add_user(USER, PASSWORD);
    w.admin(&["hostname", "add", USER, HOST, ZONE]).success();
    let meta = std::fs::metadata(&db).expect("db");
    assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o777), (web.0, web.1, 0o600));

    // An admin command as root locks the host: the lock directory and the stripe file appear.
    let locks = state.join("ddns.db-locks");
    let _ = std::fs::remove_dir_all(&locks);
    w.admin(&["hostname", "modify", HOST, "--dns-ttl", "120"]).success();
    let mut stripes: Vec<_> =
        std::fs::read_dir(&locks).expect("the lock directory").map(|e| e.expect("entry").path()).collect();
    assert_eq!(stripes.len(), 1, "{stripes:?}");
    stripes.push(locks.clone());
    for path in &stripes {
        let meta = std::fs::metadata(path).expect("meta");
        assert_eq!((meta.uid(), meta.gid()), web, "{} is not {WEB_USER}'s", path.display());
    }

    // The web server's user then updates that host: it opens and locks the stripe root made.
    let setpriv: Vec<&OsStr> = ["setpriv", "--reuid", WEB_USER, "--regid", WEB_USER, "--clear-groups", "--"]
        .into_iter()
        .map(OsStr::new)
        .collect();
    let req = Cgi::get(&format!("hostname={HOST}&myip=192.0.2.55")).basic(USER, PASSWORD);
    w.cgi_wrapped(&req, &setpriv).expect(200, "good 192.0.2.55\n");
    assert_eq!(w.a(HOST), ["192.0.2.55"]);
}
