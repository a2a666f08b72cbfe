//! The Debian package on this machine, as an administrator uses it: `dpkg -i` of the .deb that
//! `scripts/package.sh` built, the one file edited to point at a real Knot that holds the key
//! the package generated, a user and a hostname added, one update through the installed Apache
//! snippet and one through the installed nginx snippet, the installed logrotate file rotating a
//! real log, the Apache conf enabled with `a2enconf`, a reinstallation that keeps the database
//! and one that must not touch a database of a newer schema, then `dpkg -r` (database kept, the
//! Apache conf disabled, enabled again by a reinstallation) and `dpkg -P` (database gone, no
//! trace in Apache's configuration), checking what is left after each.
//!
//! It installs into the system, so it runs only as root and when `DDNS_DEB` names the package
//! (otherwise it writes a `SKIPPED` line to stderr); `scripts/test.sh` (CI) builds it and sets
//! `DDNS_REQUIRE_PACKAGE=1`, which turns that skip into a failure. It refuses to start where
//! ddns-cgi is installed, and whatever happens, the package is purged at the end.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::util::dnsserver::{is_root, require_program};
use crate::util::skip;
use crate::util::web::{Front, WebServer, curl};
use crate::util::{DnsKind, DnsServer, TempDir, TsigKey};

const PACKAGE: &str = "ddns-cgi";
const ZONE: &str = "dyn.example.test";
const HOST: &str = "home.dyn.example.test";
const CONFIG: &str = "/etc/ddns-cgi/config.toml";
const KEY: &str = "/etc/ddns-cgi/tsig.key";
const STATE: &str = "/var/lib/ddns-cgi";
const DB: &str = "/var/lib/ddns-cgi/ddns.db";
const LOGDIR: &str = "/var/log/ddns-cgi";
const CHANGELOG: &str = "/usr/share/doc/ddns-cgi/changelog.Debian.gz";
/// Where a2enconf links the confs it enables, and where it keeps its state
/// (`{enabled,disabled}_by_{admin,maint}/NAME`).
const APACHE_ENABLED: &str = "/etc/apache2/conf-enabled";
const APACHE_STATE: &str = "/var/lib/apache2/conf";

/// The .deb to test, or `None` after a skip written straight to stderr (which the test runner
/// does not capture), as the harness reports skips.
fn deb() -> Option<PathBuf> {
    let required = skip::parse_flag("DDNS_REQUIRE_PACKAGE", std::env::var_os("DDNS_REQUIRE_PACKAGE").as_deref())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or(false);
    let skip = |why: &str| {
        assert!(!required, "the package test cannot run (DDNS_REQUIRE_PACKAGE is on): {why}");
        let line = format!("SKIPPED: package::package_installs_serves_and_purges: {why}; it checked nothing\n");
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        None
    };
    let Some(path) = std::env::var_os("DDNS_DEB").filter(|p| !p.is_empty()).map(PathBuf::from) else {
        return skip("DDNS_DEB is not set (scripts/package.sh builds the package; scripts/test.sh sets it)");
    };
    assert!(path.is_file(), "DDNS_DEB={} is not a file", path.display());
    if !is_root() {
        return skip("dpkg -i needs root");
    }
    Some(path)
}

/// `dpkg ARGS`, non-interactive; asserts success. stdout and stderr together.
fn dpkg(args: &[&str]) -> String {
    let out = Command::new("dpkg")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run dpkg");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "dpkg {args:?} failed:\n{text}");
    text
}

/// The package's dpkg status: `install ok installed`, `deinstall ok config-files`, or empty
/// when dpkg does not know it.
fn status() -> String {
    let out = Command::new("dpkg-query").args(["-W", "-f", "${Status}", PACKAGE]).output().expect("run dpkg-query");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Purges the package when dropped, and removes what the test enabled in Apache's
/// configuration if the purge left it, so that a failing test leaves the machine as it was.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        if !status().is_empty() {
            let out = Command::new("dpkg").args(["-P", PACKAGE]).output();
            if std::thread::panicking() {
                eprintln!("--- dpkg -P after the failure ---\n{out:?}");
            }
        }
        for trace in apache_traces() {
            let _ = std::fs::remove_file(trace);
        }
    }
}

/// Our entries in Apache's `conf-enabled/` (links, dangling or not) and in a2enconf's state.
fn apache_traces() -> Vec<String> {
    let mut dirs = vec![PathBuf::from(APACHE_ENABLED)];
    if let Ok(states) = std::fs::read_dir(APACHE_STATE) {
        dirs.extend(states.filter_map(Result::ok).map(|e| e.path()));
    }
    let mut traces: Vec<String> = dirs
        .iter()
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flatten()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(PACKAGE))
        .map(|e| e.path().display().to_string())
        .collect();
    traces.sort();
    traces
}

/// `apache2ctl -t` on the system's configuration (every file in `conf-enabled/`) passes.
fn assert_apache_config_ok(when: &str) {
    let out = Command::new("apache2ctl").arg("-t").output().expect("run apache2ctl");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("Syntax OK"), "apache2ctl -t {when}:\n{text}");
}

/// The installed changelog is the package's: gzip, and its newest entry names the installed
/// version (lintian's `no-changelog` when it is missing).
fn assert_changelog() {
    let gunzip = Command::new("gzip").args(["-dc", CHANGELOG]).output().expect("run gzip");
    assert!(gunzip.status.success(), "{CHANGELOG}: {}", String::from_utf8_lossy(&gunzip.stderr));
    let mut parse = Command::new("dpkg-parsechangelog")
        .args(["-l-", "-S", "Version"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dpkg-parsechangelog");
    if let Some(mut input) = parse.stdin.take() {
        input.write_all(&gunzip.stdout).expect("write the changelog");
    }
    let parsed = parse.wait_with_output().expect("wait for dpkg-parsechangelog");
    let warnings = String::from_utf8_lossy(&parsed.stderr);
    assert!(parsed.status.success() && warnings.is_empty(), "dpkg-parsechangelog: {warnings}");
    let installed = Command::new("dpkg-query").args(["-W", "-f", "${Version}", PACKAGE]).output().expect("dpkg-query");
    assert_eq!(String::from_utf8_lossy(&parsed.stdout).trim(), String::from_utf8_lossy(&installed.stdout));
}

/// The number of a user or a group (`getent passwd|group NAME`).
fn id(database: &str, name: &str) -> String {
    let out = Command::new("getent").args([database, name]).output().expect("run getent");
    assert!(out.status.success(), "getent {database} {name}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split(':').nth(2).expect("an id field").to_owned()
}

/// The installed logrotate file, run by logrotate with a state file of the test's own: it
/// parses without an error, rotates as the log directory's owner (not as root, CVE-2016-1247),
/// and a forced rotation, twice, leaves the logs owned and protected as the directory is.
fn assert_logrotate(tmp: &Path) {
    let conf = "/etc/logrotate.d/ddns-cgi";
    let log = format!("{LOGDIR}/ddns-cgi.log");
    let state = tmp.join("logrotate.state");
    let run = |args: &[&str]| {
        let out = Command::new("logrotate").args(args).arg("-s").arg(&state).arg(conf).output().expect("run logrotate");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && !text.to_lowercase().contains("error"), "logrotate {args:?}:\n{text}");
        text
    };
    assert_eq!(mode_owner_group(LOGDIR), "750 www-data adm");
    let write_line = |line: &str| {
        std::fs::write(&log, format!("{line}\n")).expect("write the log");
        let chown = Command::new("chown").args(["www-data:adm", &log]).status().expect("chown");
        let chmod = Command::new("chmod").args(["0640", &log]).status().expect("chmod");
        assert!(chown.success() && chmod.success());
    };
    write_line("first line");

    let planned = run(&["-d"]);
    let (uid, gid) = (id("passwd", "www-data"), id("group", "adm"));
    assert!(planned.contains(&format!("switching euid from 0 to {uid} and egid from 0 to {gid}")), "{planned}");

    run(&["-f"]);
    assert_eq!(std::fs::read_to_string(format!("{log}.1")).expect("rotated log (delaycompress)"), "first line\n");
    assert_eq!(mode_owner_group(&format!("{log}.1")), "640 www-data adm");
    assert_eq!(std::fs::metadata(&log).expect("new log created").len(), 0);
    assert_eq!(mode_owner_group(&log), "640 www-data adm");
    // The second rotation compresses the first, gzip running as the directory's owner too.
    write_line("second line");
    run(&["-f"]);
    assert_eq!(mode_owner_group(&format!("{log}.2.gz")), "640 www-data adm");
    assert_eq!(std::fs::read_to_string(format!("{log}.1")).expect("rotated log"), "second line\n");
}

/// `ddns-cgi ARGS` as the web server's user, the way the README says to run it.
fn as_www_data(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new("runuser")
        .args(["-u", "www-data", "--", "ddns-cgi"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run runuser");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().expect("wait for ddns-cgi");
    assert!(out.status.success(), "ddns-cgi {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `stat -c '%a %U %G'`.
fn mode_owner_group(path: &str) -> String {
    let out = Command::new("stat").args(["-c", "%a %U %G", path]).output().expect("run stat");
    assert!(out.status.success(), "stat {path}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The package's files that are not directories (nor links to one, like a merged `/lib`),
/// from `dpkg -L`.
fn package_files() -> BTreeSet<String> {
    let out = Command::new("dpkg").args(["-L", PACKAGE]).output().expect("run dpkg -L");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|p| exists(p) && !Path::new(p).is_dir())
        .map(str::to_owned)
        .collect()
}

fn conffiles() -> BTreeSet<String> {
    let out = Command::new("dpkg-query").args(["-W", "-f", "${Conffiles}", PACKAGE]).output().expect("dpkg-query");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn exists(path: &str) -> bool {
    Path::new(path).symlink_metadata().is_ok()
}

fn schema_version() -> i64 {
    let conn = rusqlite::Connection::open(DB).expect("open the installed database");
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("user_version")
}

/// The key postinst generated, as the test DNS server takes it.
fn generated_key() -> TsigKey {
    let text = std::fs::read_to_string(KEY).expect("read the generated key");
    assert!(text.starts_with("key \"ddns-key\" {\n\talgorithm hmac-sha256;\n"), "{KEY} is not a tsig-keygen block");
    let secret = text.split('"').nth(3).expect("a quoted secret").to_owned();
    assert_eq!(secret.len(), 44, "32 random bytes in base64");
    TsigKey { name: "ddns-key.".to_owned(), algorithm: "hmac-sha256".to_owned(), secret_b64: secret }
}

#[test]
fn package_installs_serves_and_purges() {
    let Some(deb) = deb() else { return };
    for (program, package) in [
        ("apache2", "apache2"),
        ("apache2ctl", "apache2"),
        ("a2enconf", "apache2"),
        ("nginx", "nginx"),
        ("fcgiwrap", "fcgiwrap"),
        ("curl", "curl"),
        ("logrotate", "logrotate"),
        ("dpkg-parsechangelog", "dpkg-dev"),
    ] {
        require_program(program, package).unwrap_or_else(|| panic!("the package test needs {program}"));
    }
    assert_eq!(status(), "", "ddns-cgi is already installed here; the test installs and purges it: dpkg -P ddns-cgi");
    for left in ["/etc/ddns-cgi", STATE] {
        assert!(!exists(left), "{left} exists from an earlier installation; remove it first");
    }
    assert_eq!(apache_traces(), Vec::<String>::new(), "Apache's configuration names ddns-cgi already; remove it first");
    let _purge = Purge;
    let deb = deb.display().to_string();

    // Install: the files where Debian expects them, owned and protected as promised.
    let said = dpkg(&["-i", &deb]);
    assert!(said.contains("ddns-cgi: generated the TSIG key /etc/ddns-cgi/tsig.key"), "{said}");
    assert!(said.contains("ddns-cgi: database /var/lib/ddns-cgi/ddns.db ready (schema version"), "{said}");
    assert_eq!(status(), "install ok installed");
    assert_eq!(mode_owner_group(CONFIG), "640 root www-data");
    assert_eq!(mode_owner_group(KEY), "640 root www-data");
    assert_eq!(mode_owner_group(STATE), "700 www-data www-data");
    assert_eq!(mode_owner_group(DB), "600 www-data www-data");
    assert_eq!(std::fs::canonicalize("/usr/lib/cgi-bin/ddns-cgi").expect("CGI entry"), Path::new("/usr/bin/ddns-cgi"));
    for conffile in [
        CONFIG,
        "/etc/apache2/conf-available/ddns-cgi.conf",
        "/etc/apache2/conf-available/ddns-cgi-fcgid.conf",
        "/etc/nginx/snippets/ddns-cgi-fcgiwrap.conf",
        "/etc/nginx/snippets/ddns-cgi-fastcgi.conf",
        "/etc/cron.d/ddns-cgi-expire",
        "/etc/logrotate.d/ddns-cgi",
    ] {
        assert!(conffiles().contains(conffile), "{conffile} is not a conffile: {:?}", conffiles());
    }
    // Not enabled by the package: the administrator picks one front.
    assert_eq!(apache_traces(), Vec::<String>::new());
    // The expiry timer is, as dh_installsystemd would enable it.
    assert!(exists("/etc/systemd/system/timers.target.wants/ddns-cgi-expire.timer"));
    for path in [
        "/usr/share/man/man8/ddns-cgi.8.gz",
        "/usr/share/man/man5/ddns-cgi.toml.5.gz",
        "/usr/share/bash-completion/completions/ddns-cgi",
        "/usr/share/zsh/vendor-completions/_ddns-cgi",
        "/usr/share/fish/vendor_completions.d/ddns-cgi.fish",
        "/lib/systemd/system/ddns-cgi.socket",
        "/usr/share/doc/ddns-cgi/examples/config.example.toml",
        // The licence of Pico CSS, compiled into the console.
        "/usr/share/doc/ddns-cgi/pico-LICENSE.md",
    ] {
        assert!(exists(path), "{path} is missing");
    }
    assert_changelog();
    let files = package_files();
    // The units load, and their `ExecStart=ddns-cgi ...` finds the installed binary.
    if let Some(analyze) = require_program("systemd-analyze", "systemd") {
        let units = ["ddns-cgi-expire.service", "ddns-cgi-expire.timer", "ddns-cgi.service", "ddns-cgi.socket"];
        let out = Command::new(analyze)
            .arg("verify")
            .args(units.map(|u| format!("/lib/systemd/system/{u}")))
            .output()
            .expect("run systemd-analyze");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let ours: Vec<&str> = text.lines().filter(|l| l.contains("ddns-cgi")).collect();
        assert!(ours.is_empty(), "systemd-analyze verify:\n{text}");
    }

    // The one file to edit: the zone and the server (which holds the generated key).
    let key = generated_key();
    let Some(dns) = DnsServer::start(DnsKind::Knot, &[&format!("{ZONE}.")], &key) else { return };
    let config = std::fs::read_to_string(CONFIG).expect("read the installed config");
    let edited = config
        .replace("server = \"127.0.0.1:53\"", &format!("server = \"{}\"", dns.addr()))
        .replace("name = \"dyn.example.com\"", &format!("name = \"{ZONE}\""));
    assert_ne!(edited, config);
    std::fs::write(CONFIG, edited).expect("edit the installed config");
    // The README's next step: the check passes on the packaged layout (modes, owners, the
    // generated key against the server).
    // The packaged config logs to syslog: where no syslog daemon runs (a test container), that
    // one line fails, and only that one.
    let check = Command::new("ddns-cgi").args(["check", "--as-user", "www-data"]).output().expect("run check");
    let report = String::from_utf8_lossy(&check.stdout).into_owned();
    let failed: Vec<&str> = report.lines().filter(|l| !l.starts_with("ok ")).collect();
    if Path::new("/dev/log").exists() {
        assert!(check.status.success() && failed.is_empty(), "ddns-cgi check:\n{report}");
    } else {
        assert!(
            matches!(failed[..], [line] if line.starts_with("FAIL  log: syslog socket `/dev/log`")),
            "ddns-cgi check:\n{report}"
        );
    }
    assert!(report.contains("accepts updates signed with key `ddns-key.`"), "{report}");
    as_www_data(&["user", "add", "alice", "alice@example.test", "--password-stdin"], "pass-word\n");
    as_www_data(&["hostname", "add", "alice", HOST, ZONE], "");

    // One update through each installed snippet, checked in DNS.
    let tmp = TempDir::new("package");
    for (front, address) in [(Front::ApacheCgid, "192.0.2.10"), (Front::NginxFcgiwrap, "192.0.2.11")] {
        let web = WebServer::start_installed(front, &tmp.path().join(format!("{front:?}")));
        let url = web.url(&format!("/nic/update?hostname={HOST}&myip={address}"));
        curl(&["-u", "alice:pass-word", &url]).expect(200, &format!("good {address}\n"));
        assert_eq!(dns.query(HOST, "A"), [address], "{front:?}");
    }
    let expired = as_www_data(&["expire"], "");
    assert!(String::from_utf8_lossy(&expired.stdout).starts_with("expired 0 hostnames"), "{expired:?}");
    assert_logrotate(tmp.path());

    // The administrator enables the Apache conf, as the README says.
    let enabled = Command::new("a2enconf").args(["-q", "ddns-cgi"]).output().expect("run a2enconf");
    assert!(enabled.status.success(), "a2enconf: {}", String::from_utf8_lossy(&enabled.stderr));
    let enabled_by_admin =
        [format!("{APACHE_ENABLED}/ddns-cgi.conf"), format!("{APACHE_STATE}/enabled_by_admin/ddns-cgi")];
    assert_eq!(apache_traces(), enabled_by_admin);
    assert_apache_config_ok("with the conf enabled");

    // Reinstalling migrates the database in place; the user is still there.
    let said = dpkg(&["-i", &deb]);
    assert!(said.contains("ddns-cgi: database /var/lib/ddns-cgi/ddns.db ready"), "{said}");
    assert!(String::from_utf8_lossy(&as_www_data(&["user", "list"], "").stdout).contains("alice"));

    // A database of a newer schema (after a downgrade) is left alone, and the install goes on.
    let version = schema_version();
    rusqlite::Connection::open(DB).expect("open").execute_batch("PRAGMA user_version = 999").expect("set version");
    let said = dpkg(&["-i", &deb]);
    assert!(said.contains("ddns-cgi: warning: the database was not created or migrated"), "{said}");
    assert!(said.contains("is newer than this ddns-cgi supports"), "{said}");
    assert_eq!(schema_version(), 999);
    rusqlite::Connection::open(DB)
        .expect("open")
        .execute_batch(&format!("PRAGMA user_version = {version}"))
        .expect("reset");

    // An upgrade leaves the enabled conf as it is.
    assert_eq!(apache_traces(), enabled_by_admin);

    // Remove disables the conf (Apache, reloaded, would run a removed program), and a
    // reinstallation enables it again.
    dpkg(&["-r", PACKAGE]);
    assert_eq!(apache_traces(), [format!("{APACHE_STATE}/disabled_by_maint/ddns-cgi")]);
    assert_apache_config_ok("after dpkg -r");
    dpkg(&["-i", &deb]);
    assert_eq!(
        apache_traces(),
        [format!("{APACHE_ENABLED}/ddns-cgi.conf"), format!("{APACHE_STATE}/enabled_by_maint/ddns-cgi")]
    );

    // Remove: the program goes, the configuration, the key and the database stay.
    let said = dpkg(&["-r", PACKAGE]);
    assert!(
        said.contains(
            "ddns-cgi: the database in /var/lib/ddns-cgi and the TSIG key /etc/ddns-cgi/tsig.key stay until the package is purged"
        ),
        "{said}"
    );
    assert_eq!(status(), "deinstall ok config-files");
    let kept: Vec<&String> = files.iter().filter(|f| exists(f)).collect();
    let expected_kept: Vec<&String> = files.iter().filter(|f| conffiles().contains(*f)).collect();
    assert_eq!(kept, expected_kept, "only conffiles stay after dpkg -r");
    assert!(!exists("/usr/bin/ddns-cgi") && !exists("/usr/lib/cgi-bin/ddns-cgi"));
    for path in [CONFIG, KEY, DB] {
        assert!(exists(path), "{path} should be kept by dpkg -r");
    }

    // Purge: everything goes, after saying so.
    let said = dpkg(&["-P", PACKAGE]);
    assert!(said.contains("ddns-cgi: removing the database in /var/lib/ddns-cgi"), "{said}");
    assert!(said.contains("ddns-cgi: removing the TSIG key /etc/ddns-cgi/tsig.key"), "{said}");
    assert_eq!(status(), "");
    let left: Vec<&String> = files.iter().filter(|f| exists(f)).collect();
    assert!(left.is_empty(), "left after dpkg -P: {left:?}");
    for path in
        ["/etc/ddns-cgi", STATE, "/var/log/ddns-cgi", "/etc/systemd/system/timers.target.wants/ddns-cgi-expire.timer"]
    {
        assert!(!exists(path), "{path} is left after dpkg -P");
    }
    let overrides = Command::new("dpkg-statoverride").args(["--list", CONFIG]).output().expect("dpkg-statoverride");
    assert!(!overrides.status.success(), "the stat override of {CONFIG} is left");
    // No link to the removed conf in conf-enabled/, and no a2enconf state of it.
    assert_eq!(apache_traces(), Vec::<String>::new(), "left in Apache's configuration after dpkg -P");
    assert_apache_config_ok("after dpkg -P");
}
