//! The shipped files that the web-server and client tests do not run: the systemd units and
//! socket, the cron file, the logrotate file, `nginx/example-site.conf`, the OpenWrt
//! ddns-scripts recipe and the router recipes. Each is checked by the program that reads it
//! in production (`systemd-analyze verify`, `logrotate`, `nginx -t`, `systemd-socket-activate`,
//! `/bin/sh` as cron runs it, GNU wget and curl as ddns-scripts runs them) and, where it
//! starts ddns-cgi, by running exactly its command against a real Knot and checking the DNS
//! answer. As in the web tests, only paths, ports and the server name are substituted: the
//! program the units name without a path (`ExecStart=ddns-cgi ...`, which systemd looks up in
//! /usr/local/bin, /usr/bin ...) and the cron file's `PATH` entry `/usr/local/bin` become a
//! directory holding the built binary, `/etc/ddns-cgi/config.toml` the test world's config,
//! `/run/...` and `/var/log/...` paths a temp directory.
//! Each checker is also shown a broken copy once, so a check that cannot fail would fail here.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::dnsserver::{find_program, is_root, require_program};
use crate::util::web::{FcgiClient, Front, WEB_USER, WebServer, curl, fcgi_update_params, give_to_web_user, shipped};
use crate::util::{Cgi, PASSWORD, TempDir, USER, World, ZONE, base64, bin, epoch};
use crate::web::{HOME, web_world};

/// A program's exit status and everything it printed (stdout, then stderr).
#[track_caller]
fn output(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `program` run as `user` (the one a unit or cron line names) when the tests run as root.
fn as_user(user: &str, program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={user}")).arg(format!("--regid={user}")).arg("--clear-groups").arg("--").arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// A directory standing in for systemd's and cron's search path (`/usr/local/bin`,
/// `/usr/bin`): the built binary, reachable by the web user.
fn bin_dir(w: &World) -> PathBuf {
    let dir = w.dir.path().join("usr-local-bin");
    std::fs::create_dir_all(&dir).expect("create bin dir");
    let program = dir.join("ddns-cgi");
    if std::fs::hard_link(bin(), &program).is_err() {
        std::fs::copy(bin(), &program).expect("copy ddns-cgi");
    }
    dir
}

/// A unit's `ExecStart=` with its program found in `dir`, as systemd finds a bare name in its
/// search path; the shipped units name `ddns-cgi` without a path, so that the same unit runs
/// the package's /usr/bin/ddns-cgi and a /usr/local/bin/ddns-cgi built from source.
#[track_caller]
fn exec_start(unit: &str, dir: &Path) -> (PathBuf, Vec<String>) {
    let exec = unit_value(unit, "ExecStart");
    let mut argv = exec.split_whitespace();
    let program = argv.next().expect("a program");
    assert_eq!(program, "ddns-cgi", "{exec}");
    (dir.join(program), argv.map(str::to_owned).collect())
}

/// The values of `key=` lines in a unit file (`Environment=`, `ExecStart=` ...), in order.
fn unit_values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines().filter_map(|l| l.strip_prefix(key)?.strip_prefix('=')).collect()
}

#[track_caller]
fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    match unit_values(unit, key)[..] {
        [one] => one,
        ref all => panic!("expected one `{key}=` line, got {all:?} in:\n{unit}"),
    }
}

/// A Knot world whose host has a record that is due for expiry (updated an hour ago with a
/// 60-second expiry time).
fn world_with_a_due_host() -> Option<World> {
    let w = web_world()?;
    w.update(&format!("hostname={HOME}&myip=192.0.2.70")).expect(200, "good 192.0.2.70\n");
    w.admin(&["hostname", "modify", HOME, "--expiry-ttl", "60"]).success();
    w.sql(&format!("UPDATE hostnames SET last_update = {} WHERE fqdn = '{HOME}'", epoch() - 3600));
    assert_eq!(w.a(HOME), ["192.0.2.70"]);
    Some(w)
}

/// Asserts that the due host's record is gone from DNS and its row is marked expired.
#[track_caller]
fn assert_expired(w: &World, out: &str) {
    assert!(w.a(HOME).is_empty(), "record still served after the expiry run:\n{out}\n{}", w.dns.log());
    let conn = rusqlite::Connection::open(&w.db).expect("open test database");
    let expired: bool =
        conn.query_row("SELECT expired FROM hostnames WHERE fqdn = ?1", [HOME], |r| r.get(0)).expect("row");
    assert!(expired, "row not marked expired:\n{out}");
}

// ---- systemd -------------------------------------------------------------------------------

const UNITS: [&str; 4] = [
    "nginx/ddns-cgi.service",
    "nginx/ddns-cgi.socket",
    "contrib/systemd/ddns-cgi-expire.service",
    "contrib/systemd/ddns-cgi-expire.timer",
];

/// `systemd-analyze verify` on copies of `units` (file name, text) in a fresh directory.
/// It needs no running systemd; it exits 0 even for settings it ignores, so the check is
/// "exit 0 and not a word printed".
fn verify_units(units: &[(&str, String)]) -> (bool, String) {
    let dir = TempDir::new("units");
    let mut cmd = Command::new("systemd-analyze");
    cmd.arg("verify").current_dir(dir.path());
    for (name, text) in units {
        std::fs::write(dir.path().join(name), text).expect("write unit");
        cmd.arg(dir.path().join(name));
    }
    let (ok, out) = output(&mut cmd);
    (ok && out.is_empty(), out)
}

#[test]
fn systemd_units_pass_systemd_analyze_verify() {
    if require_program("systemd-analyze", "systemd").is_none() {
        return;
    }
    // The one substitution: `verify` checks that ExecStart= names an executable, and the
    // binary is not installed in systemd's search path here.
    let units: Vec<(&str, String)> = UNITS
        .iter()
        .map(|rel| {
            let name = Path::new(rel).file_name().and_then(|n| n.to_str()).expect("file name");
            (name, shipped(rel).replace("ExecStart=ddns-cgi ", &format!("ExecStart={} ", bin())))
        })
        .collect();
    let (ok, out) = verify_units(&units);
    assert!(ok, "systemd-analyze verify complained:\n{out}");
    // The check can fail: a misspelt setting in a copy is reported.
    let broken: Vec<(&str, String)> =
        units.iter().map(|(n, t)| (*n, t.replace("Type=oneshot", "Type=oneshoot"))).collect();
    let (ok, out) = verify_units(&broken);
    assert!(!ok && out.contains("oneshoot"), "a broken unit passed:\n{out}");
}

#[test]
fn expire_service_runs_the_expiry() {
    let w = world!(world_with_a_due_host());
    let unit = shipped("contrib/systemd/ddns-cgi-expire.service");
    assert_eq!(unit_value(&unit, "Type"), "oneshot");
    let user = unit_value(&unit, "User");
    assert_eq!(user, WEB_USER);
    let dir = bin_dir(&w);
    let config = w.config.display().to_string();
    let (program, argv) = exec_start(&unit, &dir);
    let exec = format!("{} {}", program.display(), argv.join(" "));
    let mut cmd = as_user(user, &program);
    cmd.env_clear().args(argv);
    for assignment in unit_values(&unit, "Environment") {
        let (k, v) = assignment.split_once('=').expect("NAME=value");
        cmd.env(k, v.replace("/etc/ddns-cgi/config.toml", &config));
    }
    give_to_web_user(w.dir.path());
    let (ok, out) = output(&mut cmd);
    assert!(ok, "{exec} failed:\n{out}");
    assert_expired(&w, &out);
}

/// A process killed (with its group) on drop.
struct Running(Child, PathBuf);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("--").arg(format!("-{}", self.0.id())).stderr(Stdio::null()).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            eprintln!("--- log ---\n{}", std::fs::read_to_string(&self.1).unwrap_or_default());
        }
    }
}

#[test]
fn socket_and_service_units_serve_fastcgi() {
    let Some(activate) = require_program("systemd-socket-activate", "systemd") else { return };
    let w = world!(web_world());
    let socket_unit = shipped("nginx/ddns-cgi.socket");
    let service = shipped("nginx/ddns-cgi.service");
    assert_eq!(unit_value(&service, "Requires"), "ddns-cgi.socket");
    let user = unit_value(&service, "User");
    assert_eq!((user, unit_value(&socket_unit, "SocketUser")), (WEB_USER, WEB_USER));
    let dir = bin_dir(&w);
    let run = w.dir.path().join("run");
    std::fs::create_dir_all(&run).expect("run dir");
    let socket = unit_value(&socket_unit, "ListenStream").replace("/run/ddns-cgi", &run.display().to_string());
    // systemd hands the socket over as fd 3 with LISTEN_FDS; systemd-socket-activate does the
    // same, and passes on only the environment given with `-E`, like Environment=.
    let mut cmd = as_user(user, &activate);
    cmd.env_clear().arg("-l").arg(&socket);
    for assignment in unit_values(&service, "Environment") {
        cmd.arg("-E").arg(assignment.replace("/etc/ddns-cgi/config.toml", &w.config.display().to_string()));
    }
    let (program, argv) = exec_start(&service, &dir);
    cmd.arg(program).args(argv);
    give_to_web_user(w.dir.path());
    let log = w.dir.path().join("activate.log");
    let log_file = std::fs::File::create(&log).expect("log");
    cmd.stdin(Stdio::null()).stdout(log_file.try_clone().expect("clone")).stderr(log_file);
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut running = Running(cmd.spawn().expect("start systemd-socket-activate"), log.clone());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !Path::new(&socket).exists() {
        assert!(matches!(running.0.try_wait(), Ok(None)) && Instant::now() < deadline, "no socket {socket}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The first connection starts the service, as socket activation does.
    let auth = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    // The file exists once bound, a moment before systemd-socket-activate listens on it.
    let mut client = FcgiClient::connect_when_listening(Path::new(&socket));
    let query = format!("hostname={HOME}&myip=192.0.2.71");
    assert!(client.request(1, false, &fcgi_update_params(&query, &auth), b""));
    let answer = client.response(1).expect("an answer over the activated socket");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.ends_with("\r\n\r\ngood 192.0.2.71\n"), "{text}");
    assert_eq!(w.a(HOME), ["192.0.2.71"]);
    drop(running);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(!log.contains("panicked"), "{log}");
}

// ---- cron ----------------------------------------------------------------------------------

/// Whether `field` is valid crontab syntax for values in `min..=max` (names allowed for
/// months and weekdays): `*`, `N`, `N-M`, each optionally `/STEP`, comma-separated.
fn cron_field_ok(field: &str, min: u32, max: u32, names: &[&str]) -> bool {
    let value = |s: &str| -> Option<u32> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return u32::try_from(i).ok().map(|i| i + min);
        }
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    field.split(',').all(|item| {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let step_ok = step.is_none_or(|s| s.parse::<u32>().is_ok_and(|s| (1..=max).contains(&s)));
        let range_ok = match range.split_once('-') {
            _ if range == "*" => true,
            Some((a, b)) => matches!((value(a), value(b)), (Some(a), Some(b)) if min <= a && a <= b && b <= max),
            None => step.is_none() && value(range).is_some_and(|v| (min..=max).contains(&v)),
        };
        step_ok && range_ok
    })
}

/// A `/etc/cron.d` job line: the five time fields, the user, the command.
fn cron_job(line: &str) -> Option<([&str; 5], &str, &str)> {
    const MONTHS: &[&str] = &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let mut rest = line.trim_start();
    let mut fields = [""; 6];
    for f in &mut fields {
        let (word, tail) = rest.split_once([' ', '\t'])?;
        *f = word;
        rest = tail.trim_start();
    }
    let [minute, hour, day, month, weekday, user] = fields;
    let ok = cron_field_ok(minute, 0, 59, &[])
        && cron_field_ok(hour, 0, 23, &[])
        && cron_field_ok(day, 1, 31, &[])
        && cron_field_ok(month, 1, 12, MONTHS)
        && cron_field_ok(weekday, 0, 7, DAYS)
        && !user.is_empty()
        && !rest.is_empty();
    ok.then_some(([minute, hour, day, month, weekday], user, rest))
}

#[test]
fn cron_line_syntax_is_checked() {
    for good in ["* * * * * www-data x", "*/5 0-23/2 1,15 jan-dec mon-fri root x y", "0 3 * * 7 u cmd"] {
        assert!(cron_job(good).is_some(), "{good}");
    }
    for bad in [
        "* * * * www-data",
        "* * * * * www-data",
        "60 * * * * u x",
        "* 24 * * * u x",
        "* * 0 * * u x",
        "* * * 13 * u x",
        "* * * * 8 u x",
        "*/0 * * * * u x",
        "5-1 * * * * u x",
        "1/5 * * * * u x",
        "x * * * * u y",
        "@hourly u x",
    ] {
        assert!(cron_job(bad).is_none(), "{bad}");
    }
}

#[test]
fn cron_file_is_valid_and_its_command_expires() {
    let rel = "contrib/cron/ddns-cgi-expire";
    let text = shipped(rel);
    // cron ignores files in /etc/cron.d whose names are not run-parts names, and a last line
    // without a newline.
    let name = Path::new(rel).file_name().and_then(|n| n.to_str()).expect("name");
    assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'), "{name}");
    assert!(text.ends_with('\n'));
    let mut env: Vec<(&str, &str)> = Vec::new();
    let mut jobs = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')) {
        match line.split_once('=') {
            Some((k, v)) if !k.contains(' ') => env.push((k, v)),
            _ => jobs.push(cron_job(line).unwrap_or_else(|| panic!("not a cron.d job line: {line:?}"))),
        }
    }
    let [(_, user, command)] = jobs[..] else { panic!("expected one job, got {jobs:?}") };
    assert_eq!(user, WEB_USER);
    // Guarded: nothing runs once the binary is gone (a removed, not purged, package keeps
    // its conffiles), and the job steps aside while the systemd timer runs the same.
    assert!(command.starts_with("command -v ddns-cgi >/dev/null && "), "{command}");
    assert!(command.ends_with(" && ddns-cgi expire >/dev/null"), "{command}");
    let names: Vec<&str> = env.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["SHELL", "PATH", "DDNS_CGI_CONFIG"]);

    // Run the command the way cron does: the file's SHELL with `-c`, only the file's
    // variables (plus HOME/LOGNAME, which cron adds), as the file's user.
    let w = world!(world_with_a_due_host());
    // The shipped config has no `[log] level`: info. A successful run must print nothing,
    // or cron mails the administrator every minute.
    w.edit_config(|c| c.replace("level = \"debug\"", ""));
    let dir = bin_dir(&w);
    let (_, shell) = env[0];
    let mut cmd = as_user(user, Path::new(shell));
    cmd.env_clear().env("HOME", "/").env("LOGNAME", user).arg("-c").arg(command);
    for (k, v) in &env {
        let v = v.replace("/usr/local/bin", &dir.display().to_string());
        cmd.env(k, v.replace("/etc/ddns-cgi/config.toml", &w.config.display().to_string()));
    }
    give_to_web_user(w.dir.path());
    // Without the binary on its PATH, the job does nothing and says nothing.
    // (PATH is set inside the script: the same variable on the command would also hide
    // setpriv from the lookup of the program to start.)
    let mut gone = as_user(user, Path::new(shell));
    gone.env_clear().env("HOME", "/").env("LOGNAME", user).arg("-c");
    gone.arg(format!("PATH={}; {command}", w.dir.path().display()));
    let (_, out) = output(&mut gone);
    assert_eq!(out, "", "the job complained with the binary gone (cron would mail it)");
    assert_eq!(w.a(HOME), ["192.0.2.70"]);
    let (ok, out) = output(&mut cmd);
    assert!(ok, "{command} failed:\n{out}");
    assert_eq!(out, "", "a successful run printed something (cron would mail it)");
    assert_expired(&w, &out);
}

// ---- logrotate -----------------------------------------------------------------------------

#[test]
fn logrotate_file_rotates_and_the_next_request_writes_the_new_log() {
    let Some(logrotate) = require_program("logrotate", "logrotate") else { return };
    let w = world!(World::knot());
    let logs = w.dir.path().join("log");
    std::fs::create_dir_all(&logs).expect("log dir");
    // As the Debian package creates /var/log/ddns-cgi: the web server's user owns it.
    if is_root() {
        let (ok, out) = output(Command::new("chown").arg("www-data:adm").arg(&logs));
        assert!(ok, "chown: {out}");
        std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o750)).expect("chmod log dir");
    }
    let log = logs.join("ddns-cgi.log");
    // `extra` lands in the `[log]` section of the world's config.
    w.write_config(&format!("target = \"file\"\nlog_file = \"{}\"\n", log.display()));
    let conf = w.dir.path().join("logrotate.conf");
    let state = w.dir.path().join("logrotate.state");
    let mut text =
        shipped("contrib/logrotate/ddns-cgi").replace("/var/log/ddns-cgi/ddns-cgi.log", &log.display().to_string());
    if !is_root() {
        // Only root can switch to the directory's owner; a user rotates as itself.
        text = text.replace("\n    su www-data adm\n", "\n");
    }
    std::fs::write(&conf, text).expect("write logrotate.conf");
    let run = |args: &[&str], conf: &Path| output(Command::new(&logrotate).args(args).arg("-s").arg(&state).arg(conf));

    // `-d` parses and plans; it exits 0 even on unknown options, which it reports as errors.
    let (ok, out) = run(&["-d"], &conf);
    assert!(ok && !out.to_lowercase().contains("error"), "logrotate -d:\n{out}");
    // Rotating as root in a directory another user owns is CVE-2016-1247's pattern: it runs
    // as that user.
    if is_root() {
        let (_, uid) = output(Command::new("id").args(["-u", "www-data"]));
        let (_, group) = output(Command::new("getent").args(["group", "adm"]));
        let gid = group.split(':').nth(2).expect("adm's gid");
        let switch = format!("switching euid from 0 to {} and egid from 0 to {gid}", uid.trim());
        assert!(out.contains(&switch), "logrotate -d:\n{out}");
    }
    let broken = w.dir.path().join("broken.conf");
    std::fs::write(&broken, std::fs::read_to_string(&conf).expect("conf").replace("weekly", "weakly")).expect("w");
    let (_, out) = run(&["-d"], &broken);
    assert!(out.contains("error") && out.contains("weakly"), "a broken file passed:\n{out}");

    // A real rotation, then a request: ddns-cgi opens the file per line, so the next line
    // goes to the new file without a signal.
    w.update(&format!("hostname={HOME}&myip=192.0.2.72")).expect(200, "good 192.0.2.72\n");
    let before = std::fs::read_to_string(&log).expect("log written");
    assert!(before.contains("192.0.2.72"), "{before}");
    let (ok, out) = run(&["-f", "-v"], &conf);
    assert!(ok && !out.contains("error"), "logrotate -f:\n{out}");
    assert_eq!(std::fs::read_to_string(logs.join("ddns-cgi.log.1")).expect("rotated log (delaycompress)"), before);
    let meta = std::fs::metadata(&log).expect("new log created");
    assert_eq!((meta.len(), meta.permissions().mode() & 0o777), (0, 0o640));
    if is_root() {
        let (_, owner) = output(Command::new("stat").args(["-c", "%U:%G"]).arg(&log));
        assert_eq!(owner, "www-data:adm\n");
    }
    w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.73")).basic(USER, PASSWORD))
        .expect(200, "good 192.0.2.73\n");
    let after = std::fs::read_to_string(&log).expect("new log");
    assert!(after.contains("192.0.2.73") && !after.contains("192.0.2.72"), "{after}");
    assert_eq!(std::fs::read_to_string(logs.join("ddns-cgi.log.1")).expect("rotated"), before);
    assert_eq!(w.a(HOME), ["192.0.2.73"]);
}

// ---- nginx example site --------------------------------------------------------------------

/// `nginx -t` on the example site inside a minimal `http { }`, with its certificate paths
/// pointed at a fresh self-signed pair and its includes at the shipped snippets.
fn nginx_t(dir: &Path, site: &str, http_extra: &str) -> (bool, String) {
    let d = dir.display();
    std::fs::write(dir.join("site.conf"), site).expect("write site");
    let conf = format!(
        "pid {d}/nginx.pid;\nerror_log {d}/error.log;\nevents {{ }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/tmp;\n  {http_extra}\n  include {d}/site.conf;\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("write nginx.conf");
    let nginx = find_program("nginx").expect("checked");
    output(
        Command::new(nginx)
            .arg("-t")
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(dir.join("nginx.conf")),
    )
}

#[test]
fn nginx_example_site_passes_nginx_t_with_either_snippet() {
    if require_program("nginx", "nginx").is_none() || require_program("openssl", "openssl").is_none() {
        return;
    }
    let dir = TempDir::new("example-site");
    let d = dir.path();
    let (ok, out) = output(
        Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=ddns.example.com", "-keyout"])
            .arg(d.join("privkey.pem"))
            .arg("-out")
            .arg(d.join("fullchain.pem")),
    );
    assert!(ok, "openssl:\n{out}");
    // `include fastcgi_params` in the snippets is relative to the configuration's directory.
    std::fs::copy("/etc/nginx/fastcgi_params", d.join("fastcgi_params")).expect("copy fastcgi_params");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("nginx");
    let site = shipped("nginx/example-site.conf")
        .replace("/etc/letsencrypt/live/ddns.example.com", &d.display().to_string())
        .replace("/etc/nginx/snippets", &repo.display().to_string());
    let success =
        |out: &str| out.contains("syntax is ok") && out.contains("test is successful") && !out.contains("[warn]");

    // As shipped: the fcgiwrap snippet.
    let (ok, out) = nginx_t(d, &site, "");
    assert!(ok && success(&out), "nginx -t (fcgiwrap):\n{out}");
    // The alternative it documents: the FastCGI snippet, and the upstream at the http level.
    let fcgiwrap = format!("    include {}/ddns-cgi-fcgiwrap.conf;", repo.display());
    let fastcgi = format!("    # include {}/ddns-cgi-fastcgi.conf;", repo.display());
    assert!(site.contains(&fcgiwrap) && site.contains(&fastcgi), "{site}");
    let alternative = site.replace(&fcgiwrap, "").replace(&fastcgi, &fastcgi.replacen("# ", "", 1));
    let upstream = format!("include {}/ddns-cgi-upstream.conf;", repo.display());
    let (ok, out) = nginx_t(d, &alternative, &upstream);
    assert!(ok && success(&out), "nginx -t (fastcgi):\n{alternative}\n{out}");
    // The check can fail: without the upstream the FastCGI variant is refused.
    let (ok, out) = nginx_t(d, &alternative, "");
    assert!(!ok && out.contains("ddns_cgi"), "nginx -t accepted a missing upstream:\n{out}");
}

// ---- client recipes without a client of their own ------------------------------------------

/// ddns-scripts' `urlencode`: every byte outside `[-_.~a-zA-Z0-9]` as `%xx`, lower-case hex.
fn ddns_scripts_urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'-' | b'_' | b'.' | b'~' | b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => char::from(b).to_string(),
            _ => format!("%{b:02x}"),
        })
        .collect()
}

#[test]
fn openwrt_ddns_scripts_update_url_updates_through_cgi() {
    if require_program("wget", "wget").is_none() {
        return;
    }
    let text = shipped("contrib/openwrt/ddns-scripts.txt");
    // The LuCI field and the /etc/config/ddns option document the same URL.
    let luci = text.lines().map(str::trim).find(|l| l.starts_with("https://[USERNAME]")).expect("LuCI URL");
    let option = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("option update_url '")?.strip_suffix('\''))
        .expect("update_url option");
    assert_eq!(luci, option);
    assert!(text.contains("option use_https '1'"));

    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFcgiwrap));
    // ddns-scripts' send_update(): sed replaces the placeholders with the url-encoded user
    // and password, the domain and the address as they are. The server name and scheme are
    // this test's web server (the documented https:// needs a certificate the clients trust).
    let url = |ip: &str| {
        option
            .replace("[USERNAME]", &ddns_scripts_urlencode(USER))
            .replace("[PASSWORD]", &ddns_scripts_urlencode(PASSWORD))
            .replace("[DOMAIN]", HOME)
            .replace("[IP]", ip)
            .replacen("https://", "http://", 1)
            .replace("@ddns.example.com/", &format!("@127.0.0.1:{}/", web.port))
    };
    assert_eq!(
        url("192.0.2.80"),
        web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.80")).replacen(
            "//",
            "//alice:s3cret%3awith-colon@",
            1
        )
    );
    let dir = web.dir.join("ddns-scripts");
    std::fs::create_dir_all(&dir).expect("dir");
    let (dat, err) = (dir.join("dat"), dir.join("err"));
    // ddns-scripts counts an answer as success when it contains `good` or `nochg`.
    let answered = |label: &str| {
        let body = std::fs::read_to_string(&dat).unwrap_or_default();
        let lower = body.to_lowercase();
        assert!(lower.contains("good") || lower.contains("nochg"), "{label}: {body}\n{}", web.logs());
        body
    };

    // do_transfer() with GNU wget, its first choice (IPv4 section).
    let (ok, out) = output(
        Command::new("wget")
            .arg(format!("--hsts-file={}", dir.join("hsts").display()))
            .args(["-nv", "-t", "1", "-O"])
            .arg(&dat)
            .arg("-o")
            .arg(&err)
            .arg("--no-proxy")
            .arg(url("192.0.2.80")),
    );
    assert!(ok, "wget: {out}{}", std::fs::read_to_string(&err).unwrap_or_default());
    assert_eq!(answered("wget"), "good 192.0.2.80\n");
    assert_eq!(world.a(HOME), ["192.0.2.80"]);
    // GNU wget sent the credentials only after the challenge.
    let access = std::fs::read_to_string(web.dir.join("access.log")).expect("access log");
    let statuses: Vec<&str> = access.lines().filter_map(|l| l.split("\" ").nth(1)?.split(' ').next()).collect();
    assert_eq!(statuses, ["401", "200"], "{access}");

    // do_transfer() with curl (IPv6 section: the same URL, [IP] is the IPv6 address).
    let (ok, out) = output(
        Command::new("curl")
            .args(["-RsS", "-o"])
            .arg(&dat)
            .arg("--stderr")
            .arg(&err)
            .args(["--noproxy", "*"])
            .arg(url("2001:db8::80")),
    );
    assert!(ok, "curl: {out}{}", std::fs::read_to_string(&err).unwrap_or_default());
    assert_eq!(answered("curl"), "good 2001:db8::80\n");
    assert_eq!((world.a(HOME), world.aaaa(HOME)), (vec!["192.0.2.80".to_owned()], vec!["2001:db8::80".to_owned()]));
}

#[test]
fn router_recipes_update_through_cgi() {
    let text = shipped("contrib/routers.md");
    // The `Update URL` row of the section whose heading contains `heading`.
    let url_of = |heading: &str| -> String {
        let section = text.split("\n## ").find(|s| s.starts_with(heading)).expect("section");
        // The first `Update URL` row: the Fritz!Box section also documents nanodnsd's form.
        let row = section.lines().find(|l| l.starts_with("| Update URL")).expect("Update URL row");
        row.split('`').nth(1).expect("URL in backticks").to_owned()
    };
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFcgiwrap));
    let local = |url: &str| url.replace("https://ddns.example.com", &web.url("")).replace("dyn.example.com", ZONE);
    let creds = format!("{USER}:{PASSWORD}");

    // Fritz!Box: it fills the placeholders and sends Basic credentials.
    let fritz = local(&url_of("AVM Fritz!Box"));
    // Fritz!OS sends the LAN prefix beside the address, empty without IPv6.
    let fill = |v4: &str, v6: &str| {
        let prefix = if v6.is_empty() { "" } else { "2001:db8::/64" };
        fritz
            .replace("<domain>", HOME)
            .replace("<ipaddr>", v4)
            .replace("<ip6addr>", v6)
            .replace("<ip6lanprefix>", prefix)
    };
    curl(&["-u", &creds, &fill("192.0.2.90", "2001:db8::90")]).expect(200, "good 192.0.2.90 2001:db8::90\n");
    assert_eq!((world.a(HOME), world.aaaa(HOME)), (vec!["192.0.2.90".to_owned()], vec!["2001:db8::90".to_owned()]));
    // Without an IPv6 address on the WAN, `<ip6addr>` stays empty: only IPv4 changes.
    curl(&["-u", &creds, &fill("192.0.2.91", "")]).expect(200, "good 192.0.2.91\n");
    assert_eq!((world.a(HOME), world.aaaa(HOME)), (vec!["192.0.2.91".to_owned()], vec!["2001:db8::90".to_owned()]));
    // Models that do not send Basic: nanodnsd's form, with the credentials in the URL.
    let row = text.lines().find(|l| l.starts_with("| Update URL (nanodnsd form) |")).expect("nanodnsd row");
    let nanodnsd = local(row.split('`').nth(1).expect("URL in backticks"));
    assert!(nanodnsd.contains("<username>") && nanodnsd.contains("<pass>"), "{nanodnsd}");
    let in_url = nanodnsd
        .replace("<domain>", HOME)
        .replace("<ipaddr>", "192.0.2.92")
        .replace("<ip6addr>", "")
        .replace("<ip6lanprefix>", "")
        .replace("<username>", USER)
        .replace("<pass>", PASSWORD);
    curl(&[&in_url]).expect(200, "good 192.0.2.92\n");
    assert_eq!(world.a(HOME), ["192.0.2.92"]);

    // pfSense: Basic credentials, `%IP%`, and the whole body (trimmed) matched against
    // Result Match's alternatives after `%IP%` is replaced.
    let pfsense = local(&url_of("pfSense"));
    let section = text.split("\n## ").find(|s| s.starts_with("pfSense")).expect("pfSense");
    let matcher = section.lines().find(|l| l.starts_with("| Result Match |")).and_then(|l| l.split('`').nth(1));
    let matcher = matcher.expect("Result Match").replace("\\|", "|");
    for ip in ["192.0.2.93", "192.0.2.93", "2001:db8::93"] {
        let r = curl(&["-u", &creds, &pfsense.replace("%IP%", ip)]);
        assert_eq!(r.status, 200, "{}", r.raw);
        let accepted = matcher.replace("%IP%", ip);
        assert!(accepted.split('|').any(|alt| alt == r.body.trim()), "{:?} does not match {accepted:?}", r.body);
    }
    assert_eq!((world.a(HOME), world.aaaa(HOME)), (vec!["192.0.2.93".to_owned()], vec!["2001:db8::93".to_owned()]));
}
