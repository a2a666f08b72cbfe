//! PostgreSQL over TCP, with TLS as libpq's `sslmode` asks (issue 11), against real servers
//! this module starts (`util::pg::TcpServer`): one with `ssl = on`, a certificate for
//! `localhost` from a CA made at test time with openssl, and `hostssl`-only pg_hba.conf, so
//! the server itself refuses every session that is not encrypted (the proof that ours are);
//! and one without TLS. Each case runs the binary: `init-db`, `user add`, an update through
//! CGI checked in DNS, or the clear failure (`911` with nothing written, exit 2) and no
//! password in any output. `ddns-cgi check` judges both `[database]` forms. These run in
//! every pass, whatever `DDNS_TEST_DATABASE` says: the worlds' own database is replaced.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::util::pg::{TCP_PASSWORD, TCP_ROLE, TcpServer};
use crate::util::{PASSWORD, Run, USER, World, ZONE};

const HOME: &str = "home.dyn.example.test";

/// A world whose `[database]` is `lines`, set up through them as an administrator would:
/// `init-db`, the user and the hostname. `None` only under the opt-out.
fn world_on(lines: &str) -> Option<World> {
    let w = World::knot()?;
    use_database(&w, lines);
    no_password(w.admin(&["init-db"]).success());
    w.add_user(USER, PASSWORD);
    no_password(w.admin(&["hostname", "add", USER, HOME, ZONE]).success());
    Some(w)
}

/// Replaces the `[database]` table of the world's config (SQLite or the shared server's).
fn use_database(w: &World, lines: &str) {
    w.edit_config(|t| {
        let start = t.find("[database]\n").expect("[database]") + "[database]\n".len();
        let end = t.find("\n\n[dns]").expect("[dns]");
        format!("{}{lines}{}", &t[..start], &t[end..])
    });
}

/// The password of the TCP role never shows, on any stream.
#[track_caller]
fn no_password(r: &Run) -> &Run {
    for text in [r.stdout(), r.stderr()] {
        assert!(!text.contains(TCP_PASSWORD), "printed the database password:\n{text}");
    }
    r
}

fn url(srv: &TcpServer, host: &str, db: &str, query: &str) -> String {
    format!(
        "url = \"postgresql://{TCP_ROLE}:{}@{host}:{}/{db}{query}\"",
        TCP_PASSWORD.replace(':', "%3A"),
        srv.tcp_port
    )
}

fn password_file(w: &World, mode: u32) -> std::path::PathBuf {
    let file = w.dir.path().join("pg.password");
    std::fs::write(&file, format!("{TCP_PASSWORD}\n")).expect("write password file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).expect("chmod");
    file
}

/// The `postgres = { ... }` table with a password file and `extra` keys.
fn table(srv: &TcpServer, host: &str, db: &str, file: &Path, extra: &str) -> String {
    format!(
        "postgres = {{ host = \"{host}\", port = {}, name = \"{db}\", user = \"{TCP_ROLE}\", password_file = \"{}\"{extra} }}",
        srv.tcp_port,
        file.display()
    )
}

/// The stored IPv4 address of `HOME`, read over the server's Unix socket.
fn stored(srv: &TcpServer, db: &str) -> Option<String> {
    srv.server.connect(db).query_one("SELECT ipv4 FROM hostnames WHERE fqdn = $1", &[&HOME]).expect("row").get(0)
}

/// An update that must fail on the database: `911`, DNS and the row as they were, and the
/// admin CLI exits 2 with an error that contains every one of `says`.
#[track_caller]
fn refused(w: &World, srv: &TcpServer, db: &str, says: &[&str]) {
    let before = (w.a(HOME), stored(srv, db));
    w.update(&format!("hostname={HOME}&myip=192.0.2.99")).expect(200, "911\n");
    assert_eq!((w.a(HOME), stored(srv, db)), before, "a refused connection wrote something");
    let r = w.admin(&["user", "list"]);
    no_password(&r);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    for s in says {
        assert!(r.stderr().contains(s), "expected {s:?} in:\n{}", r.stderr());
    }
}

#[test]
fn sslmode_require_and_prefer_encrypt_the_session_and_updates_go_through() {
    let Some(srv) = TcpServer::start(true) else { return };
    let db = srv.create_database();
    let w = crate::world!(world_on(&url(&srv, "127.0.0.1", &db, "?sslmode=require")));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
    assert_eq!(stored(&srv, &db).as_deref(), Some("192.0.2.1"));

    // The default (`prefer`, as libpq) takes TLS when the server offers it: this server
    // admits nothing else.
    use_database(&w, &url(&srv, "127.0.0.1", &db, ""));
    w.update(&format!("hostname={HOME}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    assert_eq!(w.a(HOME), ["192.0.2.2"]);

    // The proof that the server refuses a plain session, so that the two above were
    // encrypted: the same URL with `sslmode=disable` is turned away by pg_hba.conf.
    use_database(&w, &url(&srv, "127.0.0.1", &db, "?sslmode=disable"));
    refused(&w, &srv, &db, &["cannot connect to postgresql `ddns_tcp@127.0.0.1/", "no encryption"]);
    assert_eq!(w.a(HOME), ["192.0.2.2"]);
    assert!(srv.log().contains("no encryption"), "{}", srv.log());
}

#[test]
fn verify_full_accepts_the_right_ca_and_name_only() {
    let Some(srv) = TcpServer::start(true) else { return };
    let pki = srv.pki.as_ref().expect("a pki");
    let db = srv.create_database();
    let (ca, wrong) = (pki.ca.display().to_string(), pki.wrong_ca.display().to_string());
    // The table form, with the password in a file and the CA in `ca_file`.
    let dir = crate::util::TempDir::new("pgpass");
    let file = dir.path().join("pg.password");
    std::fs::write(&file, format!("{TCP_PASSWORD}\n")).expect("write password file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let full = |host: &str, ca: &str| {
        table(&srv, host, &db, &file, &format!(", sslmode = \"verify-full\", ca_file = \"{ca}\""))
    };
    let w = crate::world!(world_on(&full("localhost", &ca)));
    w.update(&format!("hostname={HOME}&myip=192.0.2.3")).expect(200, "good 192.0.2.3\n");
    assert_eq!(w.a(HOME), ["192.0.2.3"]);

    // A CA that did not sign the server's certificate: no session, nothing written.
    use_database(&w, &full("localhost", &wrong));
    refused(&w, &srv, &db, &["error performing TLS handshake", "invalid peer certificate", "UnknownIssuer"]);
    // The right CA, but the certificate names `localhost`, not `127.0.0.1`.
    use_database(&w, &full("127.0.0.1", &ca));
    refused(&w, &srv, &db, &["invalid peer certificate: certificate not valid for name \"127.0.0.1\""]);
    // `verify-ca` checks the chain and not the name (libpq's meaning).
    let ca_only = table(&srv, "127.0.0.1", &db, &file, &format!(", sslmode = \"verify-ca\", ca_file = \"{ca}\""));
    use_database(&w, &ca_only);
    w.update(&format!("hostname={HOME}&myip=192.0.2.4")).expect(200, "good 192.0.2.4\n");
    assert_eq!(w.a(HOME), ["192.0.2.4"]);
    // …but still the chain: the wrong CA is refused there too.
    use_database(&w, &ca_only.replace(&ca, &wrong));
    refused(&w, &srv, &db, &["UnknownIssuer"]);

    // The URL form: `sslrootcert=FILE`, as libpq spells it (percent-encoded path).
    let query = format!("?sslmode=verify-full&sslrootcert={}", ca.replace('/', "%2F"));
    use_database(&w, &url(&srv, "localhost", &db, &query));
    w.update(&format!("hostname={HOME}&myip=192.0.2.5")).expect(200, "good 192.0.2.5\n");
    assert_eq!(w.a(HOME), ["192.0.2.5"]);
    use_database(&w, &url(&srv, "localhost", &db, &query.replace(&ca.replace('/', "%2F"), &wrong.replace('/', "%2F"))));
    refused(&w, &srv, &db, &["UnknownIssuer"]);
    // `require` with a root certificate verifies the chain, as libpq does for compatibility.
    let query = format!("?sslmode=require&sslrootcert={}", wrong.replace('/', "%2F"));
    use_database(&w, &url(&srv, "127.0.0.1", &db, &query));
    refused(&w, &srv, &db, &["UnknownIssuer"]);

    // Verification without a CA to verify against is a start-up error naming the key.
    use_database(&w, &url(&srv, "localhost", &db, "?sslmode=verify-full"));
    let r = w.admin(&["user", "list"]);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().contains("`database.url`") && r.stderr().contains("sslrootcert"), "{}", r.stderr());
    no_password(&r);
    assert_eq!(w.a(HOME), ["192.0.2.5"]);
}

#[test]
fn a_server_without_tls_refuses_require_and_prefer_goes_plain() {
    let Some(srv) = TcpServer::start(false) else { return };
    let db = srv.create_database();
    let w = crate::world!(world_on(&url(&srv, "127.0.0.1", &db, "?sslmode=prefer")));
    w.update(&format!("hostname={HOME}&myip=192.0.2.6")).expect(200, "good 192.0.2.6\n");
    assert_eq!(w.a(HOME), ["192.0.2.6"]);
    use_database(&w, &url(&srv, "127.0.0.1", &db, "?sslmode=require"));
    refused(&w, &srv, &db, &["error performing TLS handshake", "server does not support TLS"]);
    assert_eq!(w.a(HOME), ["192.0.2.6"]);
}

#[test]
fn check_judges_the_password_file_the_connection_and_the_schema() {
    let Some(srv) = TcpServer::start(true) else { return };
    let pki = srv.pki.as_ref().expect("a pki");
    let db = srv.create_database();
    let ca = pki.ca.display().to_string();
    let w = crate::world!(World::knot());
    let file = password_file(&w, 0o600);
    let extra = format!(", sslmode = \"verify-full\", ca_file = \"{ca}\"");
    use_database(&w, &table(&srv, "localhost", &db, &file, &extra));
    no_password(w.admin(&["init-db"]).success());
    std::fs::set_permissions(&w.config, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let check = || {
        let r = w.admin(&["check"]);
        no_password(&r);
        (r.code(), r.stdout())
    };
    let shown = format!("{TCP_ROLE}@localhost/{db}");
    let pw = file.display();
    let (code, out) = check();
    for line in [
        format!("ok    password file `{pw}`: readable by `root`\n"),
        format!("ok    password file `{pw}`: holds a secret and is not readable by others\n"),
        format!("ok    database postgresql `{shown}`: schema version "),
        format!("ok    database postgresql `{shown}`: connected with TLS (sslmode `verify-full`, TLSv1.3)\n"),
    ] {
        assert!(out.contains(&line), "expected {line:?} in:\n{out}");
    }
    assert_eq!(code, Some(0), "{out}");

    // A password file others can read.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (code, out) = check();
    let line = format!(
        "FAIL  password file `{pw}`: holds a secret but is readable by others (owner root, group root, mode 0644): `chmod o-rwx {pw}`\n"
    );
    assert!(out.contains(&line), "{out}");
    assert_eq!(code, Some(2));
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    // A wrong password: the server refuses the session, and the line says so.
    std::fs::write(&file, "not-the-password\n").expect("write");
    let (code, out) = check();
    assert!(
        out.contains(&format!("FAIL  database postgresql `{shown}`: cannot connect to postgresql `{shown}`: "))
            && out.contains("password authentication failed"),
        "{out}"
    );
    assert_eq!(code, Some(2));

    // A missing password file stops the check at the config.
    std::fs::remove_file(&file).expect("rm");
    let (code, out) = check();
    assert!(out.starts_with("FAIL  config: `database.postgres.password_file` cannot read"), "{out}");
    assert_eq!(code, Some(2));

    // The URL form, the password in it.
    use_database(
        &w,
        &url(&srv, "localhost", &db, &format!("?sslmode=verify-full&sslrootcert={}", ca.replace('/', "%2F"))),
    );
    let (code, out) = check();
    assert!(out.contains(&format!("ok    database postgresql `{shown}`: connected with TLS")), "{out}");
    assert!(!out.contains("password file"), "{out}");
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn prefer_starts_over_in_plain_text_when_the_handshake_fails() {
    // The server offers TLS, but only versions rustls refuses: `require` fails in the
    // handshake, and `prefer` does what libpq does, a second session in plain text.
    let Some(srv) = TcpServer::start_with_old_tls() else { return };
    let db = srv.create_database();
    let w = crate::world!(world_on(&url(&srv, "127.0.0.1", &db, "?sslmode=prefer")));
    w.update(&format!("hostname={HOME}&myip=192.0.2.7")).expect(200, "good 192.0.2.7\n");
    assert_eq!(w.a(HOME), ["192.0.2.7"]);
    use_database(&w, &url(&srv, "127.0.0.1", &db, "?sslmode=require"));
    refused(&w, &srv, &db, &["error performing TLS handshake"]);
}
