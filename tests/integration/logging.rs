//! Log targets (stderr, syslog datagram socket, file), the transaction id on every line, and
//! that no secret the suite uses (passwords, Authorization values, TSIG secrets, query strings
//! with `password=`/`token=`) appears in any line of any target, and that no request value
//! (user name, path, hostname, user agent, proxy header) can break a line or forge one.

use std::os::unix::net::UnixDatagram;

use crate::util::{Cgi, PASSWORD, USER, World, base64};

const HOME: &str = "home.dyn.example.test";
const WRONG: &str = "wrong-guess-7f3a";
const TOKEN: &str = "tok3n-value-91c2";

/// Switches the world's `[log]` table to `settings` (plus debug level and request lines).
fn set_log(w: &World, settings: &str) {
    let text = std::fs::read_to_string(&w.config).expect("config");
    let text = text.replacen(
        "[log]\nlevel = \"debug\"\n",
        &format!("[log]\nlevel = \"debug\"\nlog_requests = true\n{settings}"),
        1,
    );
    std::fs::write(&w.config, text).expect("config");
}

/// Representative requests, good and failing; returns what they wrote to stderr. `after`
/// runs after each request (the syslog test drains its socket there).
fn representative_requests(w: &World) -> String {
    representative_requests_then(w, &mut || {})
}

fn representative_requests_then(w: &World, after: &mut dyn FnMut()) -> String {
    let mut stderr = String::new();
    let reqs = [
        (Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, PASSWORD), "good 192.0.2.1\n"),
        (Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, WRONG), "badauth\n"),
        (Cgi::get(&format!("hostname={HOME}&myip=192.0.2.2&username={USER}&password={WRONG}")), "badauth\n"),
        (Cgi::get(&format!("hostname={HOME}&myip=192.0.2.2&username={USER}&token={TOKEN}")), "badauth\n"),
        (Cgi::get(&format!("hostname={HOME}&myip=%zz&password={WRONG}")).basic(USER, PASSWORD), "badagent\n"),
        (Cgi::get(&format!("hostname=nobody.dyn.example.test&password={WRONG}")).basic(USER, PASSWORD), "nohost\n"),
        (Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic("mallory", TOKEN), "badauth\n"),
    ];
    for (req, body) in reqs {
        let r = w.cgi(&req);
        assert_eq!(r.body, body, "{}", r.log);
        stderr.push_str(&r.log);
        after();
    }
    stderr
}

#[track_caller]
fn assert_no_secrets(w: &World, logs: &str) {
    let auth = base64(&format!("{USER}:{PASSWORD}"));
    let secrets = [PASSWORD, WRONG, TOKEN, &auth, &w.key.secret_b64, "password=", "token=", "Authorization"];
    for s in secrets {
        assert!(!logs.contains(s), "a log line contains `{s}`:\n{logs}");
    }
}

/// Every line carries an 8-hex transaction id in brackets.
#[track_caller]
fn assert_txn_ids(lines: &[String]) {
    assert!(!lines.is_empty());
    for line in lines {
        let id = line.split("] [").nth(1).and_then(|s| s.split(']').next()).unwrap_or("");
        assert!(id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()), "no txn id: {line}");
    }
}

#[test]
fn stderr_target_keeps_secrets_out() {
    let w = world!(World::knot());
    set_log(&w, "");
    let logs = representative_requests(&w);
    let lines: Vec<String> = logs.lines().map(str::to_owned).collect();
    assert_txn_ids(&lines);
    assert!(logs.contains("answer=badauth"), "request lines are on: {logs}");
    assert_no_secrets(&w, &logs);
}

#[test]
fn syslog_target_sends_rfc3164_datagrams() {
    let w = world!(World::knot());
    let sock_path = w.dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind syslog socket");
    sock.set_nonblocking(true).expect("nonblocking");
    set_log(
        &w,
        &format!("target = \"syslog\"\nsyslog_socket = \"{}\"\nsyslog_facility = \"local3\"\n", sock_path.display()),
    );
    let mut lines = Vec::new();
    let mut buf = vec![0u8; 65_536];
    let stderr = representative_requests_then(&w, &mut || {
        while let Ok(n) = sock.recv(&mut buf) {
            lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
    assert_eq!(stderr, "", "nothing on stderr when syslog works");
    // local3 = 19: INFO is <158>, DEBUG <159>, WARNING <156>; the tag is `ddns-cgi[PID]:`.
    for line in &lines {
        let (pri, rest) = line.split_once('>').expect("PRI");
        assert!(["<156", "<158", "<159", "<155"].contains(&pri), "{line}");
        assert!(rest.starts_with("ddns-cgi[") && rest.contains("]: ["), "{line}");
        assert!(!rest.starts_with(|c: char| c.is_ascii_digit()), "no timestamp: {line}");
    }
    assert!(lines.iter().any(|l| l.starts_with("<158>") && l.contains("answer=good")), "{lines:?}");
    assert_txn_ids(&lines);
    assert_no_secrets(&w, &lines.join("\n"));
}

#[test]
fn file_target_appends_stamped_lines() {
    let w = world!(World::knot());
    let file = w.dir.path().join("ddns-cgi.log");
    set_log(&w, &format!("target = \"file\"\nlog_file = \"{}\"\n", file.display()));
    let stderr = representative_requests(&w);
    assert_eq!(stderr, "");
    let text = std::fs::read_to_string(&file).expect("log file");
    let lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for line in &lines {
        // `2026-01-02T03:04:05Z ddns-cgi[PID]: [LEVEL] [txn] ...`
        let (stamp, rest) = line.split_once(' ').expect("stamp");
        assert!(stamp.len() == 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T', "{line}");
        assert!(rest.starts_with("ddns-cgi["), "{line}");
    }
    assert_eq!(lines.iter().filter(|l| l.contains("answer=")).count(), 7, "one request line each");
    assert_txn_ids(&lines);
    assert_no_secrets(&w, &text);
}

#[test]
fn unreachable_syslog_falls_back_to_stderr() {
    let w = world!(World::knot());
    set_log(&w, "target = \"syslog\"\nsyslog_socket = \"/nonexistent/log\"\n");
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.5"));
    r.expect(200, "good 192.0.2.5\n");
    assert!(r.log.contains("cannot connect to syslog socket `/nonexistent/log`"), "{}", r.log);
    assert!(r.log.contains("answer=good"), "{}", r.log);
}

/// A whole log line as the file target writes it, for an update that never happened.
const FORGED: &str =
    "2026-01-01T00:00:00Z ddns-cgi[1]: [INFO] [0badf00d] home.dyn.example.test: updated (ipv4=203.0.113.66 ipv6=-)";

/// Characters that end or rewrite a line on a terminal or in a log viewer: C0 (LF, CR, ESC),
/// DEL, C1 (NEL) and the Unicode line and paragraph separators.
const BREAKERS: [char; 7] = ['\n', '\r', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}', '\u{2029}'];

/// `FORGED` behind each breaker, so every kind of line break is tried.
fn forged(prefix: &str) -> String {
    BREAKERS.iter().map(|c| format!("{prefix}{c}{FORGED}")).collect()
}

/// A Basic user name ends at the first colon (RFC 7617 §2), so an attacker writes the forged
/// line's colons as U+A789, which looks the same in a log viewer.
fn forged_user() -> String {
    forged("mallory").replace(':', "\u{a789}")
}

/// Each place that logs request data, as (what, a benign request, the same request carrying a
/// forged log line). Both of a pair get the same answer and so the same number of log lines.
fn injection_cases() -> Vec<(&'static str, Cgi, Cgi)> {
    let q = format!("hostname={HOME}&myip=192.0.2.9");
    let get = || Cgi::get(&q);
    let percent = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    vec![
        ("user name", get().basic("mallory", WRONG), get().basic(&forged_user(), WRONG)),
        (
            "SCRIPT_NAME",
            get().basic(USER, PASSWORD).path("/nic/elsewhere"),
            get().basic(USER, PASSWORD).path(&forged("/nic/update")),
        ),
        (
            "PATH_INFO",
            // Not a `/TOKEN[/FQDN]` route below the endpoint, like the forged value: both 404.
            get().basic(USER, PASSWORD).env("PATH_INFO", "/else/where/x"),
            get().basic(USER, PASSWORD).env("PATH_INFO", &forged("/x")),
        ),
        (
            // C0 and C1 controls in a form value are refused (`badagent`); U+2028 is not a
            // control and reaches the `notfqdn` line.
            "hostname",
            Cgi::get(&format!("hostname=bad_name.{HOME}&myip=192.0.2.9")).basic(USER, PASSWORD),
            Cgi::get(&format!("hostname=bad{}&myip=192.0.2.9", percent(&format!("\u{2028}{FORGED}\u{2029}{FORGED}"))))
                .basic(USER, PASSWORD),
        ),
        (
            "hostname with controls",
            Cgi::get(&format!("hostname={HOME}%zz")).basic(USER, PASSWORD),
            Cgi::get(&format!("hostname={HOME}{}", percent(&forged("")))).basic(USER, PASSWORD),
        ),
        (
            "user agent",
            get().basic("mallory", WRONG).env("HTTP_USER_AGENT", "curl/8"),
            get().basic("mallory", WRONG).env("HTTP_USER_AGENT", &forged("curl/8")),
        ),
        (
            "proxy header",
            get().basic("mallory", WRONG).remote("127.0.0.1").env("HTTP_X_FORWARDED_FOR", "203.0.113.5, junk"),
            get().basic("mallory", WRONG).remote("127.0.0.1").env("HTTP_X_FORWARDED_FOR", &forged("203.0.113.5")),
        ),
    ]
}

/// Runs each injection case with `target` settings; `read` returns the log text written by one
/// request (given its stderr). Asserts: the forged request writes exactly as many lines as the
/// benign one, no line break or terminal control reaches the log, no line starts like a forged
/// one, and DNS is untouched.
fn check_injection(target: &str, read: &mut dyn FnMut(&str) -> String) {
    let w = world!(World::knot());
    set_log(&w, &format!("{target}[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n"));
    for (what, benign, hostile) in injection_cases() {
        let b = w.cgi(&benign);
        let b_log = read(&b.log);
        let h = w.cgi(&hostile);
        let h_log = read(&h.log);
        assert_eq!((h.status, &h.body), (b.status, &b.body), "{what}: same answer\n{b_log}\n{h_log}");
        let n_lines = |s: &str| s.split_inclusive('\n').count();
        assert!(n_lines(&b_log) >= 2, "{what}: the benign request logs:\n{b_log}");
        assert_eq!(n_lines(&h_log), n_lines(&b_log), "{what}: a forged line?\n{h_log}\n--- benign:\n{b_log}");
        for line in h_log.split_inclusive('\n') {
            let line = line.strip_suffix('\n').unwrap_or(line);
            for c in BREAKERS {
                assert!(!line.contains(c), "{what}: {c:?} reached the log:\n{h_log}");
            }
            assert!(!line.starts_with("2026-01-01") && !line.starts_with("ddns-cgi[1]"), "{what}: forged: {line}");
        }
    }
    // The escaped value is still there for the operator to read.
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(&forged_user(), WRONG));
    let log = read(&r.log);
    assert!(log.contains("mallory\\n2026-01-01T00\u{a789}00\u{a789}00Z ddns-cgi[1]\u{a789} [INFO]"), "{log}");
    assert_eq!(w.a(HOME), Vec::<String>::new());
    assert_eq!(w.stored(HOME), (None, None));
}

#[test]
fn request_data_cannot_forge_lines_on_stderr() {
    check_injection("", &mut |stderr| stderr.to_owned());
}

#[test]
fn request_data_cannot_forge_lines_in_the_log_file() {
    let dir = crate::util::TempDir::new("log-file");
    let file = dir.path().join("ddns-cgi.log");
    let mut seen = 0;
    // `stderr_level = "off"`: the proxy-fallback warning would go to stderr as well.
    let target = format!("target = \"file\"\nlog_file = \"{}\"\nstderr_level = \"off\"\n", file.display());
    check_injection(&target, &mut |stderr| {
        assert_eq!(stderr, "", "the file target writes nothing to stderr");
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let new = text.get(seen..).unwrap_or_default().to_owned();
        seen = text.len();
        new
    });
}

#[test]
fn request_values_in_the_request_line_are_bounded() {
    let w = world!(World::knot());
    set_log(&w, "");
    let long_user = "u".repeat(3000);
    let long_path = format!("/nic/update/{}", "p".repeat(3000));
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(&long_user, WRONG).env("PATH_INFO", &long_path));
    r.expect(404, "badagent\n");
    let line = r.log.lines().find(|l| l.contains("answer=")).unwrap_or_else(|| panic!("no request line:\n{}", r.log));
    assert!(line.len() < 1024, "request line of {} bytes: {line}", line.len());
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(&long_user, WRONG));
    r.expect(401, "badauth\n");
    let line = r.log.lines().find(|l| l.contains("answer=")).unwrap_or_else(|| panic!("no request line:\n{}", r.log));
    assert!(line.len() < 1024, "request line of {} bytes: {line}", line.len());
    assert!(line.contains(&format!("user={}", "u".repeat(32))), "{line}");
}

/// The 1-based line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1).unwrap_or_else(|| panic!("no `{needle}`:\n{text}"))
}

#[test]
fn config_errors_do_not_quote_secrets() {
    let w = world!(World::knot());
    let good = std::fs::read_to_string(&w.config).expect("config");
    let key_line = format!("tsig_key = \"{}\"", w.key.line());
    let secret = w.key.secret_b64.clone();
    let (head, tail) = secret.split_at(secret.len() / 2);
    const SMTP_PASSWORD: &str = "smtp-pa55word-Qx7v";
    let email = |password_line: &str| {
        format!(
            "{good}\n[email]\nenabled = true\nsmtp_host = \"127.0.0.1\"\n{password_line}\nfrom_address = \"ddns@example.test\"\n"
        )
    };
    // (what, config text, a text on the line the error must name, secrets that must not show)
    let cases = [
        (
            "a typo on the line after tsig_key",
            good.replace(&key_line, &format!("{key_line}\nserver_typo \"127.0.0.1\"")),
            "server_typo",
            vec![secret.as_str()],
        ),
        (
            // An editor wrapped the key: the rest of the secret is on the line after. toml
            // reports the unterminated string at the end of the `tsig_key` line.
            "the line after tsig_key",
            good.replace(&key_line, &format!("tsig_key = \"{}:{}:{head}\n{tail}\"", w.key.algorithm, w.key.name)),
            "tsig_key",
            vec![head, tail],
        ),
        (
            "unquoted smtp_password",
            email(&format!("smtp_password = {SMTP_PASSWORD}")),
            "smtp_password",
            vec![SMTP_PASSWORD],
        ),
        (
            "`=` missing on the smtp_password line",
            email(&format!("smtp_password \"{SMTP_PASSWORD}\"")),
            "smtp_password",
            vec![SMTP_PASSWORD],
        ),
        (
            // A password in the wrong key: serde quotes a value of the wrong type.
            "a password where a number belongs",
            email(&format!("smtp_port = \"{SMTP_PASSWORD}\"")),
            "smtp_port",
            vec![SMTP_PASSWORD],
        ),
        // Last: the harness itself fails a run that prints the world's TSIG secret.
        (
            "`=` missing on the tsig_key line",
            good.replace(&key_line, &format!("tsig_key \"{}\"", w.key.line())),
            "tsig_key",
            vec![secret.as_str()],
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, at, secrets) in cases {
        std::fs::write(&w.config, &text).expect("write config");
        let line = format!("line {}", line_of(&text, at));
        let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1"));
        r.expect(200, "911\n");
        let admin = w.admin(&["user", "list"]);
        assert_eq!(admin.code(), Some(2), "{what}: {}", admin.stderr());
        for (run, stderr) in [("CGI", r.log.as_str()), ("admin", &admin.stderr())] {
            if !stderr.contains(&line) {
                failures.push(format!("{what}: {run} stderr does not say `{line}`:\n{stderr}"));
            }
            for s in secrets.iter().filter(|s| stderr.contains(**s)) {
                failures.push(format!("{what}: {run} stderr shows `{s}`:\n{stderr}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(w.a(HOME), Vec::<String>::new());
}

/// With `target = "syslog"` (the shipped config's), everything goes to syslog and stderr
/// (the web server's error log) keeps what needs attention: `stderr_level`, warning by
/// default. Under nginx + fcgiwrap every stderr line shows as `[error] FastCGI sent in
/// stderr`, so INFO lines must not go there.
#[test]
fn syslog_keeps_warnings_and_errors_on_stderr() {
    let mut w = world!(World::knot());
    let sock_path = w.dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind syslog socket");
    sock.set_nonblocking(true).expect("nonblocking");
    let drain = || {
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok(n) = sock.recv(&mut buf) {
            lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        lines
    };
    let syslog = format!("target = \"syslog\"\nsyslog_socket = \"{}\"\n", sock_path.display());
    set_log(&w, &syslog);
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1"));
    r.expect(200, "good 192.0.2.1\n");
    assert_eq!(r.log, "", "INFO and DEBUG lines stay off stderr");
    assert!(drain().iter().any(|l| l.contains("answer=good")));

    w.dns.stop();
    let failing = format!("hostname={HOME}&myip=192.0.2.2");
    let r = w.update(&failing);
    r.expect(200, "dnserr\n");
    let lines = drain();
    let error: Vec<&String> = lines.iter().filter(|l| l.contains("[ERROR]")).collect();
    assert_eq!(error.len(), 1, "{lines:?}");
    // The same line, without the syslog priority, on stderr; the request line is INFO.
    let (_, line) = error[0].split_once('>').expect("PRI");
    assert!(line.contains("home.dyn.example.test: DNS update failed"), "{line}");
    assert_eq!(r.log, format!("{line}\n"));
    assert!(lines.iter().any(|l| l.contains("answer=dnserr")), "{lines:?}");

    for (level, on_stderr) in [("off", 0), ("error", 1), ("info", 2)] {
        w.write_config(&format!("log_requests = true\n{syslog}stderr_level = \"{level}\"\n"));
        let r = w.update(&failing);
        r.expect(200, "dnserr\n");
        let n_syslog = drain().len();
        assert_eq!(r.log.lines().count(), on_stderr, "stderr_level = {level}: {}", r.log);
        assert!(n_syslog >= 2, "syslog has every line whatever `stderr_level` says");
    }
    w.write_config("stderr_level = \"loud\"\n");
    let r = w.admin(&["user", "list"]);
    assert_eq!(r.code(), Some(2));
    assert!(
        r.stderr().contains("`log.stderr_level` must be debug, info, warning, error or off, got `loud`"),
        "{}",
        r.stderr()
    );
}

#[test]
fn each_host_answer_has_its_log_line() {
    // Mutation gap (issue 12): dropping the per-host line that says what an update did
    // (`updated`, `no change`, `offline`, `already offline`, and what became of TXT) passed
    // every test.
    let w = world!(World::knot());
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.40"));
    r.expect(200, "good 192.0.2.40\n");
    assert!(r.log.contains(&format!("{HOME}: updated (ipv4=192.0.2.40 ipv6=-")), "{}", r.log);
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.40"));
    r.expect(200, "nochg 192.0.2.40\n");
    assert!(r.log.contains(&format!("{HOME}: no change (ipv4=192.0.2.40 ipv6=-)")), "{}", r.log);
    // A TXT change is named, never its value.
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.41&txt=logged-value"));
    r.expect(200, "good 192.0.2.41\n");
    assert!(r.log.contains(&format!("{HOME}: updated (ipv4=192.0.2.41 ipv6=- txt=set, ttl ")), "{}", r.log);
    assert!(!r.log.contains("logged-value"), "{}", r.log);
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.41&txt="));
    r.expect(200, "good 192.0.2.41\n");
    assert!(r.log.contains(&format!("{HOME}: updated (ipv4=192.0.2.41 ipv6=- txt=removed, ttl ")), "{}", r.log);
    let r = w.update(&format!("hostname={HOME}&offline=yes"));
    r.expect(200, "good\n");
    assert!(r.log.contains(&format!("{HOME}: offline (A, AAAA and TXT removed)")), "{}", r.log);
    let r = w.update(&format!("hostname={HOME}&offline=yes"));
    r.expect(200, "nochg\n");
    assert!(r.log.contains(&format!("{HOME}: already offline")), "{}", r.log);
}

/// Seconds since the epoch of a file line's `2026-01-02T03:04:05Z` stamp (days from civil,
/// proleptic Gregorian).
fn stamp_epoch(line: &str) -> i64 {
    let stamp = line.split_once(' ').map_or(line, |(s, _)| s);
    let n = |range: std::ops::Range<usize>| -> i64 {
        stamp.get(range).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a stamp: {line}"))
    };
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)
}

#[test]
fn a_fastcgi_servers_file_lines_carry_the_time_they_were_written() {
    // Issue: with `target = "file"`, every line of a FastCGI server was stamped with the
    // server's start time (a hostile-peer warning at 18:39:10 read 18:38:16).
    use crate::util::web::{FcgiClient, GET_VALUES, Launched, Launcher, pair_header};
    let w = world!(World::knot());
    let file = w.dir.path().join("ddns-cgi.log");
    set_log(&w, &format!("target = \"file\"\nlog_file = \"{}\"\n", file.display()));
    let started = crate::util::epoch();
    let (launched, _, port) = world!(Launched::start(&w, Launcher::Listen));
    let read = || std::fs::read_to_string(&file).unwrap_or_default();
    // The socket accepts before the server has written its first line.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let serving = loop {
        if let Some(line) = read().lines().find(|l| l.contains("fastcgi: serving with")) {
            break line.to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "no start line:\n{}\n{}", read(), launched.log());
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(stamp_epoch(&serving) >= started, "{serving}");
    // Not a timing assertion: the wait only makes "now" differ from the start by seconds.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let before = crate::util::epoch();
    // A hostile peer: a GET_VALUES pair claiming 2 GiB closes its connection with a warning.
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.record(GET_VALUES, 0, &[pair_header(14, u32::MAX >> 1), b"FCGI_MAX_CONNS".to_vec()].concat()));
    assert!(c.wait_closed(std::time::Duration::from_secs(10)).is_some(), "{}", launched.log());
    let after = crate::util::epoch();
    let text = read();
    let warning = text.lines().find(|l| l.contains("[WARNING] fastcgi: closing the connection"));
    let warning = warning.unwrap_or_else(|| panic!("no warning in the file:\n{text}"));
    let at = stamp_epoch(warning);
    assert!((before..=after).contains(&at), "{warning}: not within {before}..={after}\n{text}");
    assert!(at >= stamp_epoch(&serving) + 2, "stamped with the start time: {warning}\n{serving}");
}
