//! What issue 13 changed for speed, checked for correctness through real servers: the FastCGI
//! password cache (a correct repeat skips Argon2; a wrong password and a changed password
//! never do).

use crate::util::web::{Front, WebServer, curl};
use crate::util::{USER, World};
use crate::web::{HOME, creds, web_world};

/// How many Argon2 verifications of a stored password the FastCGI server has logged.
fn argon2_runs(web: &WebServer) -> usize {
    web.fastcgi_log().matches(&format!("verifying the password of `{USER}` with argon2")).count()
}

#[test]
fn fastcgi_remembers_a_verified_password_until_it_changes() {
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let url = |ip: &str| web.url(&format!("/nic/update?hostname={HOME}&myip={ip}"));
    curl(&["-u", &creds(), &url("192.0.2.1")]).expect(200, "good 192.0.2.1\n");
    assert_eq!(argon2_runs(&web), 1, "{}", web.fastcgi_log());
    // The same credentials again: remembered, no Argon2 run.
    curl(&["-u", &creds(), &url("192.0.2.1")]).expect(200, "nochg 192.0.2.1\n");
    curl(&["-u", &creds(), &url("192.0.2.2")]).expect(200, "good 192.0.2.2\n");
    assert_eq!(argon2_runs(&web), 1, "{}", web.fastcgi_log());
    assert_eq!(world.a(HOME), ["192.0.2.2"]);
    assert!(web.fastcgi_log().contains("verified earlier by this process: no argon2 run"), "{}", web.fastcgi_log());
    // A wrong password always pays Argon2, however recently the right one was seen.
    curl(&["-u", &format!("{USER}:wrong"), &url("192.0.2.3")]).expect(401, "badauth\n");
    assert_eq!(argon2_runs(&web), 2, "{}", web.fastcgi_log());
    // A new password: the old one is refused at once (its entry was for the old hash), and
    // the new one is verified once, then remembered.
    world.admin_stdin(&["user", "passwd", USER, "--password-stdin"], "n3w-secret\n").success();
    curl(&["-u", &creds(), &url("192.0.2.4")]).expect(401, "badauth\n");
    assert_eq!(argon2_runs(&web), 3, "{}", web.fastcgi_log());
    curl(&["-u", &format!("{USER}:n3w-secret"), &url("192.0.2.4")]).expect(200, "good 192.0.2.4\n");
    curl(&["-u", &format!("{USER}:n3w-secret"), &url("192.0.2.5")]).expect(200, "good 192.0.2.5\n");
    assert_eq!(argon2_runs(&web), 4, "{}", web.fastcgi_log());
    assert_eq!(world.a(HOME), ["192.0.2.5"]);
    assert_eq!(world.stored(HOME), (Some("192.0.2.5".into()), None));
}

#[test]
fn a_cgi_request_leaves_the_wal_for_the_next_one() {
    // A closing CGI process used to checkpoint the WAL into the database and delete `-wal`
    // and `-shm` (4 fsyncs, 2 unlinks per request, created again by the next process).
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let wal = w.db.with_file_name("ddns.db-wal");
    assert!(wal.exists(), "the -wal file was removed at close");
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    assert!(wal.exists(), "the -wal file was removed at close");
    // Readers (another connection, the next process) see every commit.
    assert_eq!(w.stored(HOME), (Some("192.0.2.1".into()), None));
    w.update(&format!("hostname={HOME}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    assert_eq!(w.stored(HOME), (Some("192.0.2.2".into()), None));
    assert_eq!(w.a(HOME), ["192.0.2.2"]);
}
