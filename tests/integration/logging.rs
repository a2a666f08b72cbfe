//! Log targets (stderr, syslog datagram socket, file), the transaction id on every line, and
//! that no secret the suite uses (passwords, Authorization values, TSIG secrets, query strings
//! with `password=`/`token=`) appears in any line of any target.

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
