//! `ddns-cgi check` against a real Knot and a real BIND: every item `ok` on a working setup
//! (and the no-op UPDATE really changes nothing), then each failure an administrator meets
//! (wrong key, a zone the server does not serve, the server down, a database the web server's
//! user cannot write, a secret readable by others, log and mail targets that do not work),
//! each checked by its exact line and the exit code 2.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::util::dnsserver::{TsigKey, is_root};
use crate::util::smtp::SmtpServer;
use crate::util::{DnsKind, Setup, World, ZONE};
use crate::world;

const KINDS: [DnsKind; 2] = [DnsKind::Knot, DnsKind::Bind];

fn world(kind: DnsKind) -> Option<World> {
    World::new(Setup { kind, ..Setup::default() })
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Runs `check` with `args`; returns the exit code and the report's lines.
fn check(w: &World, args: &[&str]) -> (Option<i32>, Vec<String>) {
    let mut all = vec!["check"];
    all.extend_from_slice(args);
    let r = w.admin(&all);
    let lines: Vec<String> = r.stdout().lines().map(str::to_owned).collect();
    let n_failed = lines.iter().filter(|l| l.starts_with("FAIL")).count();
    let summary =
        if n_failed == 0 { String::new() } else { format!("error: {n_failed} of {} checks failed\n", lines.len()) };
    assert_eq!(r.stderr(), summary, "{}", r.stdout());
    (r.code(), lines)
}

fn failures(lines: &[String]) -> Vec<&str> {
    lines.iter().filter(|l| l.starts_with("FAIL")).map(String::as_str).collect()
}

/// The database's schema version as the file holds it.
fn schema(w: &World) -> i64 {
    let conn = rusqlite::Connection::open(&w.db).expect("open test database");
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("user_version")
}

fn soa_serial(w: &World) -> String {
    let soa = w.dns.query(ZONE, "SOA");
    soa.first().and_then(|s| s.split_whitespace().nth(2)).expect("SOA serial").to_owned()
}

/// The user the tests run as, as `check` names it without `--as-user`.
fn whoami() -> String {
    let out = std::process::Command::new("id").arg("-un").output().expect("run id");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_working_setup_is_all_ok_and_the_probe_changes_nothing() {
    for kind in KINDS {
        let w = world!(world(kind));
        // BIND's world reads its key from the key file rendered from contrib/bind/, as an
        // administrator would point `tsig_key_file` at it; Knot's has it inline.
        let key_file = w.dir.path().join("ddns-key.key");
        if kind == DnsKind::Bind {
            std::fs::copy(w.dns.dir().join("ddns-key.key"), &key_file).expect("copy key file");
            chmod(&key_file, 0o600);
            w.edit_config(|t| {
                t.replace(
                    &format!("tsig_key = \"{}\"", w.key.line()),
                    &format!("tsig_key_file = \"{}\"", key_file.display()),
                )
            });
        }
        chmod(&w.config, 0o600);
        let serial = soa_serial(&w);
        let (code, lines) = check(&w, &[]);
        let (cfg, db, addr, me) = (w.config.display(), w.db.display(), w.dns.addr(), whoami());
        let mut expected = vec![
            format!("ok    config `{cfg}`: parses, every key known"),
            format!("ok    config `{cfg}`: readable by `{me}`"),
        ];
        if kind == DnsKind::Bind {
            let key = key_file.display();
            expected.extend([
                format!("ok    config `{cfg}`: holds no secret (the TSIG keys are in key files)"),
                format!("ok    key file `{key}`: readable by `{me}`"),
                format!("ok    key file `{key}`: holds a secret and is not readable by others"),
            ]);
        } else {
            expected.push(format!("ok    config `{cfg}`: holds a secret and is not readable by others"));
        }
        expected.extend([
            format!("ok    database `{db}`: schema version {}, current", schema(&w)),
            format!("ok    database `{db}`: writable by `{me}`, and so is its directory"),
            format!("ok    zone `{ZONE}`: DNS server {addr} answers"),
            format!("ok    zone `{ZONE}`: {addr} is authoritative for it (SOA serial {serial})"),
            format!(
                "ok    zone `{ZONE}`: {addr} accepts updates signed with key `ddns-key.` (an UPDATE that changes nothing)"
            ),
            "CLOCK".to_owned(),
            // The same UPDATE unsigned: refused, as the shipped policies grant only the key.
            format!(
                "ok    zone `{ZONE}`: {addr} refuses an UPDATE without TSIG (answered {})",
                if kind == DnsKind::Knot { "NOTAUTH" } else { "REFUSED" }
            ),
            format!(
                "ok    zone `{ZONE}`: not signed (no DNSKEY, no RRSIG on the SOA); to sign it, see the DNSSEC variants in contrib/"
            ),
            "ok    log: to stderr (in CGI, the web server's error log)".to_owned(),
            "ok    mail: off (`[email] enabled` is false)".to_owned(),
        ]);
        // The clocks line carries the measured difference; on one machine it is a second at most.
        let clock = lines.iter().position(|l| l.contains("clocks agree")).unwrap_or(usize::MAX);
        let shown: Vec<String> =
            lines.iter().enumerate().map(|(i, l)| if i == clock { "CLOCK".to_owned() } else { l.clone() }).collect();
        assert_eq!(shown, expected, "{kind:?}");
        let clock_line = &lines[clock];
        assert!(
            [-1, 0, 1].iter().any(|s| clock_line
                == &format!("ok    zone `{ZONE}`: clocks agree, {addr}'s is {s:+} s from ours (TSIG allows 300 s)")),
            "{clock_line}"
        );
        assert_eq!(code, Some(0), "{kind:?}");
        // The check wrote no file beside the database (SQLite's side files of a reader).
        for side in ["-wal", "-shm"] {
            assert!(!Path::new(&format!("{db}{side}")).exists(), "{kind:?}: the check left {db}{side}");
        }
        // The UPDATE changed nothing: same serial, no record at the name it touched.
        assert_eq!(soa_serial(&w), serial, "{kind:?}");
        assert!(w.a(&format!("_ddns-cgi-check.{ZONE}")).is_empty(), "{kind:?}");
        // And a real update still goes through afterwards.
        w.update("hostname=home.dyn.example.test&myip=192.0.2.9").expect(200, "good 192.0.2.9\n");
        assert_eq!(w.a("home.dyn.example.test"), ["192.0.2.9"]);
    }
}

#[test]
fn a_wrong_key_is_named() {
    for kind in KINDS {
        let w = world!(world(kind));
        chmod(&w.config, 0o600);
        let addr = w.dns.addr();
        let other = TsigKey::generate("ddns-key.", "hmac-sha256");
        w.edit_config(|t| t.replace(&w.key.secret_b64, &other.secret_b64));
        let (code, lines) = check(&w, &[]);
        assert_eq!(
            failures(&lines),
            [format!(
                "FAIL  zone `{ZONE}`: {addr} refused an update signed with key `ddns-key.`: {addr} answered NOTAUTH (TSIG error BADSIG); the secret of `ddns-key.` differs from the server's"
            )],
            "{kind:?}"
        );
        assert!(!lines.join("\n").contains(&other.secret_b64), "no secret in the report");
        assert_eq!(code, Some(2));

        // A key name the server does not know.
        w.edit_config(|t| t.replace(&other.line(), &w.key.line().replace("ddns-key.", "other-key.")));
        let (code, lines) = check(&w, &[]);
        assert_eq!(
            failures(&lines),
            [format!(
                "FAIL  zone `{ZONE}`: {addr} refused an update signed with key `other-key.`: {addr} answered NOTAUTH (TSIG error BADKEY); the server has no key `other-key.` with this algorithm"
            )],
            "{kind:?}"
        );
        assert_eq!(code, Some(2));
    }
}

#[test]
fn a_zone_the_server_does_not_serve() {
    for kind in KINDS {
        let w = world!(world(kind));
        w.write_config("[[zones]]\nname = \"other.test\"\n");
        chmod(&w.config, 0o600);
        let addr = w.dns.addr();
        let (code, lines) = check(&w, &[]);
        assert_eq!(
            failures(&lines),
            [format!(
                "FAIL  zone `other.test`: {addr} is not authoritative for it (answered REFUSED without the AA bit); serve the zone there (see contrib/knot/, contrib/bind/, contrib/powerdns/), or correct `server` or the zone's `name`"
            )],
            "{kind:?}"
        );
        // The served zone is still checked in full.
        assert!(lines.iter().any(|l| l.starts_with(&format!("ok    zone `{ZONE}`: clocks agree"))), "{lines:?}");
        assert_eq!(code, Some(2));
    }
}

#[test]
fn the_server_down() {
    for kind in KINDS {
        let mut w = world!(world(kind));
        chmod(&w.config, 0o600);
        let addr = w.dns.addr();
        w.dns.stop();
        let (code, lines) = check(&w, &[]);
        assert_eq!(
            failures(&lines),
            [format!(
                "FAIL  zone `{ZONE}`: DNS server {addr} does not answer (cannot reach {addr}: Connection refused (os error 111)); start it, or correct `server` (Knot from Debian listens nowhere until `listen` is set in /etc/knot/knot.conf, and binds a new address only on a restart, not a reload)"
            )],
            "{kind:?}"
        );
        assert_eq!(code, Some(2));
    }
}

#[test]
fn a_database_the_web_servers_user_cannot_write() {
    assert!(is_root(), "this test changes owners: run the suite as root");
    for kind in KINDS {
        let w = world!(world(kind));
        let cfg = w.config.display();
        chmod(&w.config, 0o600);
        let (code, lines) = check(&w, &["--as-user", "nobody"]);
        assert_eq!(
            failures(&lines).first().copied(),
            Some(
                format!(
                    "FAIL  config `{cfg}`: not readable by `nobody` (owner root, group root, mode 0600); ddns-cgi would answer `911`: `chgrp nogroup {cfg} && chmod g+r {cfg}`"
                )
                .as_str()
            ),
            "{kind:?}"
        );
        assert_eq!(code, Some(2));
        // `nobody` may read the config through its group, as www-data would (0640 root:www-data).
        std::os::unix::fs::chown(&w.config, Some(0), Some(65534)).expect("chown config");
        chmod(&w.config, 0o640);
        // The world's database is what `init-db` run as root creates: root's, 0600.
        let dir = w.db.parent().expect("db dir");
        let (db, dir_shown) = (w.db.display(), dir.display());
        let (code, lines) = check(&w, &["--as-user", "nobody"]);
        assert_eq!(
            failures(&lines),
            [
                format!(
                    "FAIL  database `{db}`: not writable by `nobody` (owner root, group root, mode 0600); every update would answer `911`: `ddns-cgi init-db --owner nobody`"
                ),
                format!(
                    "FAIL  database directory `{dir_shown}`: not writable by `nobody` (owner root, group root, mode 0755); SQLite creates the -wal and -shm files there: `chown nobody: {dir_shown}`"
                ),
            ],
            "{kind:?}"
        );
        assert_eq!(code, Some(2));
        assert!(lines.contains(&format!("ok    config `{}`: readable by `nobody`", w.config.display())), "{lines:?}");

        // What the lines say to do makes the check pass.
        w.admin(&["init-db", "--owner", "nobody"]).success();
        std::os::unix::fs::chown(dir, Some(65534), Some(65534)).expect("chown dir");
        let (code, lines) = check(&w, &["--as-user", "nobody"]);
        assert_eq!(failures(&lines), Vec::<&str>::new());
        assert!(lines.contains(&format!("ok    database `{db}`: writable by `nobody`, and so is its directory")));
        assert_eq!(code, Some(0));
    }
    let w = world!(World::knot());
    let r = w.admin(&["check", "--as-user", "no-such-user"]);
    assert_eq!(
        (r.code(), r.stdout(), r.stderr()),
        (Some(2), String::new(), "error: user `no-such-user` does not exist (not in /etc/passwd)\n".to_owned())
    );
}

#[test]
fn a_secret_readable_by_others() {
    for kind in KINDS {
        let w = world!(world(kind));
        let cfg = w.config.display();
        chmod(&w.config, 0o644);
        let (code, lines) = check(&w, &[]);
        assert_eq!(
            failures(&lines),
            [format!(
                "FAIL  config `{cfg}`: holds a secret but is readable by others (owner root, group root, mode 0644): `chmod o-rwx {cfg}`"
            )],
            "{kind:?}"
        );
        assert_eq!(code, Some(2));

        // With the key in a key file, the config holds no secret but the key file does.
        let key_file = w.dir.path().join("tsig.key");
        std::fs::write(&key_file, format!("{}\n", w.key.line())).expect("write key file");
        chmod(&key_file, 0o644);
        w.edit_config(|t| {
            t.replace(
                &format!("tsig_key = \"{}\"", w.key.line()),
                &format!("tsig_key_file = \"{}\"", key_file.display()),
            )
        });
        let key = key_file.display();
        let (code, lines) = check(&w, &[]);
        assert_eq!(
            failures(&lines),
            [format!(
                "FAIL  key file `{key}`: holds a secret but is readable by others (owner root, group root, mode 0644): `chmod o-rwx {key}`"
            )],
            "{kind:?}"
        );
        assert_eq!(code, Some(2));
        chmod(&key_file, 0o600);
        assert_eq!(check(&w, &[]).0, Some(0));
    }
}

#[test]
fn a_config_that_does_not_parse_stops_the_check() {
    let w = world!(World::knot());
    w.write_config("[defaults]\nunknown_key = 1\n");
    let (code, lines) = check(&w, &[]);
    assert_eq!(code, Some(2));
    let [line] = lines.as_slice() else { panic!("one line: {lines:?}") };
    assert!(line.starts_with("FAIL  config: ") && line.contains("unknown_key"), "{line}");
    assert!(line.ends_with(&format!("(in {})", w.config.display())), "{line}");
}

#[test]
fn log_and_mail_targets() {
    let w = world!(World::knot());
    let mut smtp = match SmtpServer::start() {
        Some(s) => s,
        None => return,
    };
    let log_file = w.dir.path().join("no-such-dir").join("ddns-cgi.log");
    w.write_config(&format!("target = \"file\"\nlog_file = \"{}\"\n{}", log_file.display(), smtp.config()));
    chmod(&w.config, 0o600);
    let (code, lines) = check(&w, &[]);
    let port = smtp.port;
    assert_eq!(
        failures(&lines),
        [format!(
            "FAIL  log: file `{}`: directory `{}`: No such file or directory (os error 2); lines would go to stderr",
            log_file.display(),
            log_file.parent().expect("dir").display()
        )]
    );
    assert!(lines.contains(&format!("ok    mail: SMTP server 127.0.0.1:{port} answers")), "{lines:?}");
    assert_eq!(code, Some(2));
    // No mail was sent by the check.
    assert!(smtp.messages().is_empty());

    let socket = w.dir.path().join("log.sock");
    let _syslog = std::os::unix::net::UnixDatagram::bind(&socket).expect("bind syslog socket");
    w.write_config(&format!("target = \"syslog\"\nsyslog_socket = \"{}\"\n{}", socket.display(), smtp.config()));
    chmod(&w.config, 0o600);
    drop(std::mem::replace(&mut smtp, SmtpServer::prepare().expect("smtp")));
    w.edit_config(|t| t.replace(&format!("smtp_port = {port}"), &format!("smtp_port = {}", smtp.port)));
    let (code, lines) = check(&w, &[]);
    let me = whoami();
    assert!(
        lines.contains(&format!("ok    log: syslog socket `{}` takes lines from `{me}`", socket.display())),
        "{lines:?}"
    );
    let failed = failures(&lines);
    let [mail] = failed.as_slice() else { panic!("one failure: {lines:?}") };
    let prefix = format!("FAIL  mail: SMTP server 127.0.0.1:{} does not answer as expected: ", smtp.port);
    assert!(mail.starts_with(&prefix) && mail.ends_with("; expiry mails would not go out"), "{mail}");
    assert_eq!(code, Some(2));
}
