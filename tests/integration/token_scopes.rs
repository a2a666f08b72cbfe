//! What a type-scoped host token may do, held to what its change really sends (issue items 1
//! and 2): `offline=yes` and `/nic/delete` delete A, AAAA and TXT, a new TTL sends every
//! published rrset again, an `ipv6prefix` fan-out changes its children too; each needs every
//! type it touches, and a refused one answers `badauth` with DNS and the row unchanged, in CGI
//! and through FastCGI's group commit. A token typed into the user-name field never reaches a
//! log, the audit trail or the rate-limit table (item 3). A revoke waits for the change its
//! token has in flight, and a change whose token went away before it took the host lock is
//! refused (item 16).

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::locking::{Gate, names};
use crate::tokens::{HOME, LOG_REQUESTS, Logged, NAS, new_token, path_info, token_world};
use crate::util::relay::{self, Plan, Relay};
use crate::util::web::{Front, WebServer, curl};
use crate::util::{Cgi, USER, World, bin, has_token};

/// Everything DNS and the row hold of `fqdn`: A, AAAA and TXT with their TTLs, and the row's
/// addresses, TXT, TTL and offline flag.
fn snapshot(w: &World, fqdn: &str) -> String {
    let dns: Vec<String> =
        ["A", "AAAA", "TXT"].iter().map(|t| format!("{t} {:?}", w.dns.query_with_ttl(fqdn, t))).collect();
    let row = w.rows(&format!("SELECT ipv4, ipv6, txt, dns_ttl, offline FROM hostnames WHERE fqdn = '{fqdn}'"));
    format!("{}; row {row:?}", dns.join("; "))
}

/// Publishes A, AAAA and TXT for `fqdn` with the owner's password.
fn publish_all(w: &World, fqdn: &str) -> String {
    w.update(&format!("hostname={fqdn}&myip=192.0.2.1,2001:db8::1&txt=hello"))
        .expect(200, "good 192.0.2.1 2001:db8::1\n");
    let before = snapshot(w, fqdn);
    assert!(before.contains("2001:db8::1") && before.contains("hello"), "{before}");
    before
}

/// `req` answers `badauth` for a type scope refused under the host lock, changes nothing,
/// and leaves a refusal with that reason in the audit trail.
#[track_caller]
fn refused_in_scope(w: &World, logged: &mut Logged, req: &Cgi, fqdn: &str, before: &str) {
    let r = logged.cgi(w, req);
    assert_eq!((r.status, r.body.as_str()), (401, "badauth\n"), "{}", r.log);
    assert!(r.log.contains("token refused:") && r.log.contains("type scope"), "{}", r.log);
    assert_eq!(snapshot(w, fqdn), before, "DNS and the row must be unchanged:\n{}", r.log);
    let reasons = w.rows("SELECT reason FROM audit WHERE answer = 'badauth' ORDER BY id DESC LIMIT 1");
    let reason = reasons.first().and_then(|r| r.first().cloned().flatten()).unwrap_or_default();
    assert!(reason.contains("type scope"), "audited refusal: {reason:?}");
}

#[test]
fn type_scoped_tokens_cannot_take_their_host_offline() {
    let w = world!(token_world(LOG_REQUESTS));
    let mut logged = Logged::default();
    let before = publish_all(&w, HOME);
    let txt_only = new_token(&w, HOME, &["--types", "TXT"]);
    let a_only = new_token(&w, NAS, &["--types", "A"]);
    let delete = |q: &str| Cgi::get(q).path("/nic/delete");

    // A TXT-only token with `txt=`: the request names TXT, the change deletes all three.
    let req = Cgi::get(&format!("hostname={HOME}&offline=yes&txt=x")).basic(HOME, &txt_only);
    refused_in_scope(&w, &mut logged, &req, HOME, &before);
    // An unusable address on the delete endpoint names no type at all.
    let req = delete(&format!("hostname={HOME}&myip=garbage")).basic(HOME, &txt_only);
    refused_in_scope(&w, &mut logged, &req, HOME, &before);
    let req = path_info(&format!("/{txt_only}"), "offline=yes");
    refused_in_scope(&w, &mut logged, &req, HOME, &before);

    // An A-only token, on a host with only an A record: the message deletes AAAA and TXT as
    // well (whatever the row says), so it needs them too.
    w.update(&format!("hostname={NAS}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    let nas_before = snapshot(&w, NAS);
    let req = path_info(&format!("/{a_only}"), "offline=yes");
    refused_in_scope(&w, &mut logged, &req, NAS, &nas_before);
    let req = delete(&format!("hostname={NAS}")).basic(USER, &a_only);
    refused_in_scope(&w, &mut logged, &req, NAS, &nas_before);

    // A token that may change every type takes its host offline, and once it is offline, a
    // `nochg` needs no type at all.
    let all = new_token(&w, HOME, &["--types", "A,AAAA,TXT"]);
    logged.cgi(&w, &path_info(&format!("/{all}"), "offline=yes")).expect(200, "good\n");
    assert_eq!(w.a(HOME), Vec::<String>::new());
    assert_eq!(w.aaaa(HOME), Vec::<String>::new());
    assert_eq!(w.dns.query(HOME, "TXT"), Vec::<String>::new());
    w.admin(&["hostname", "token", NAS, "--revoke"]).success();
    w.update(&format!("hostname={NAS}&offline=yes")).expect(200, "good\n");
    let a_only = new_token(&w, NAS, &["--types", "A"]);
    logged.cgi(&w, &path_info(&format!("/{a_only}"), "offline=yes")).expect(200, "nochg\n");
    logged.assert_no_tokens(&[&txt_only, &a_only, &all]);
}

#[test]
fn a_ttl_change_needs_every_type_it_publishes_again() {
    let w = world!(token_world(LOG_REQUESTS));
    let mut logged = Logged::default();
    let before = publish_all(&w, HOME);
    let a_only = new_token(&w, HOME, &["--types", "A"]);
    // The same address with a new TTL sends AAAA and TXT again with it.
    let req = path_info(&format!("/{a_only}"), "myip=192.0.2.1&ttl=3600");
    refused_in_scope(&w, &mut logged, &req, HOME, &before);
    let req = path_info(&format!("/{a_only}"), "myip=192.0.2.9&ttl=3600");
    refused_in_scope(&w, &mut logged, &req, HOME, &before);
    // The TTL it already has changes nothing more: the A change alone goes ahead.
    logged.cgi(&w, &path_info(&format!("/{a_only}"), "myip=192.0.2.9&ttl=60")).expect(200, "good 192.0.2.9\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(60, "192.0.2.9".to_owned())]);
    assert_eq!(w.dns.query_with_ttl(HOME, "AAAA"), [(60, "2001:db8::1".to_owned())]);
    // On a host with only an A record, the TTL change touches A alone.
    w.update(&format!("hostname={NAS}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    let nas = new_token(&w, NAS, &["--types", "A"]);
    logged.cgi(&w, &path_info(&format!("/{nas}"), "myip=192.0.2.2&ttl=3600")).expect(200, "good 192.0.2.2\n");
    assert_eq!(w.dns.query_with_ttl(NAS, "A"), [(3600, "192.0.2.2".to_owned())]);
    logged.assert_no_tokens(&[&a_only, &nas]);
}

/// The same holds through `ddns-cgi fastcgi`, whose changes go through the zone's group
/// commit (`batch`), and whose repeats are answered without a worker.
#[test]
fn type_scopes_hold_through_fastcgi() {
    let w = world!(token_world("log_requests = true\n[rate_limit]\nenabled = false\n"));
    let Some(web) = WebServer::start(&w, Front::NginxFastcgi) else { return };
    let before = publish_all(&w, HOME);
    let a_only = new_token(&w, HOME, &["--types", "A"]);
    for path in [format!("/update/{a_only}?offline=yes"), format!("/update/{a_only}?myip=192.0.2.1&ttl=3600")] {
        curl(&[&web.url(&path)]).expect(401, "badauth\n");
        assert_eq!(snapshot(&w, HOME), before, "{path}");
    }
    // The repeat (nothing to send) and an A change still answer.
    curl(&[&web.url(&format!("/update/{a_only}?myip=192.0.2.1"))]).expect(200, "nochg 192.0.2.1\n");
    curl(&[&web.url(&format!("/update/{a_only}?myip=192.0.2.3"))]).expect(200, "good 192.0.2.3\n");
    assert_eq!(w.a(HOME), ["192.0.2.3"]);
    assert_eq!(w.aaaa(HOME), ["2001:db8::1"]);
    Logged(web.logs()).assert_no_tokens(&[&a_only]);
}

/// A fan-out (`ipv6prefix`) is held to the types its children's changes touch as well: a
/// child whose derived IPv4 address is new needs `A`, and the request goes ahead as a whole
/// or not at all.
#[test]
fn a_fan_out_needs_every_type_its_children_touch() {
    const CAM: &str = "cam.dyn.example.test";
    let w = world!(crate::util::World::new(crate::util::Setup {
        extra_config: LOG_REQUESTS,
        hosts: &[HOME, CAM],
        ..crate::util::Setup::default()
    }));
    let mut logged = Logged::default();
    w.admin(&["hostname", "derive", HOME, CAM, "--ipv6-iid", "::c", "--ipv4", "0.0.0.10/24"]).success();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8:1::1")).expect(200, "good 192.0.2.1 2001:db8:1::1\n");
    let (home_before, cam_before) = (snapshot(&w, HOME), snapshot(&w, CAM));
    let aaaa = new_token(&w, HOME, &["--types", "AAAA"]);
    let req = path_info(&format!("/{aaaa}"), "myipv6=2001:db8:2::1&ipv6prefix=2001:db8:2::/64");
    refused_in_scope(&w, &mut logged, &req, HOME, &home_before);
    assert_eq!(snapshot(&w, CAM), cam_before);
    // With `A` in its scope the same request changes both.
    let both = new_token(&w, HOME, &["--types", "A,AAAA"]);
    let req = path_info(&format!("/{both}"), "myipv6=2001:db8:2::1&ipv6prefix=2001:db8:2::/64");
    logged.cgi(&w, &req).expect(200, "good 2001:db8:2::1\n");
    assert_eq!(w.aaaa(HOME), ["2001:db8:2::1"]);
    assert_eq!(w.aaaa(CAM), ["2001:db8:2::c"]);
    assert_eq!(w.a(CAM), ["192.0.2.10"]);
    logged.assert_no_tokens(&[&aaaa, &both]);
}

/// A token typed into the user-name field (Basic `TOKEN:`), alone or with an empty or wrong
/// password: never in a log line, the audit trail or a rate-limit key; `ddns_***` stands in.
#[test]
fn a_token_as_the_user_name_is_never_written() {
    let w = world!(token_world("log_requests = true\n[rate_limit]\nbad_max_requests = 3\n"));
    let mut logged = Logged::default();
    let token = new_token(&w, HOME, &[]);
    let t = token.as_str();
    let requests = [
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(t, ""),
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(t, "guess"),
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1&username={t}&password=guess")).remote("198.51.100.2"),
        // Each such name is one per-user key, `ddns_***`, whose limit is reached now; the
        // rate-limit line names the key.
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(&format!("x{t}"), "guess").remote("198.51.100.3"),
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(t, "guess").remote("198.51.100.4"),
    ];
    for (i, req) in requests.iter().enumerate() {
        let r = logged.cgi(&w, req);
        let expected = if i >= 3 { (200, "abuse\n") } else { (401, "badauth\n") };
        assert_eq!((r.status, r.body.as_str()), expected, "request {i}:\n{}", r.log);
        assert!(r.log.contains("ddns_***"), "request {i}: the user name shows redacted:\n{}", r.log);
    }
    assert!(logged.0.contains("rate limit: bad-user `ddns_***`"), "{}", logged.0);
    // The token in the password field beside it still works: the redaction is only in what is
    // written.
    logged
        .cgi(&w, &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.5")).basic(HOME, t).remote("198.51.100.9"))
        .expect(200, "good 192.0.2.5\n");
    logged.assert_no_tokens(&[t]);
    for (table, column) in [("audit", "user"), ("audit", "reason"), ("rate_limit", "key")] {
        let values: Vec<String> =
            // Quoted: `user` alone is PostgreSQL's `current_user`.
            w.rows(&format!("SELECT \"{column}\" FROM {table}")).into_iter().flatten().flatten().collect();
        let all = values.join("\n");
        assert!(!has_token(&all) && !all.contains(&t[5..]), "{table}.{column} holds a token:\n{all}");
        if column != "reason" {
            assert!(values.iter().any(|v| v == "ddns_***"), "{table}.{column}: {values:?}");
        }
    }
    // `user add` refuses a name that would be redacted everywhere.
    let r = w.admin_stdin(
        &["user", "add", &format!("ddns_{}", "a".repeat(43)), "a@example.test", "--password-stdin"],
        "pw\n",
    );
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains("must not have a host token's shape"), "{}", r.stderr());
}

/// A CGI update with a host token in the path, started without waiting for it; its stderr
/// (the log) is read line by line on a thread and sent to the returned channel.
fn spawn_token_update(w: &World, token: &str, query: &str) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(bin())
        .env_clear()
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("DDNS_CGI_CONFIG", &w.config)
        .env("REQUEST_METHOD", "GET")
        .env("SCRIPT_NAME", format!("/update/{token}"))
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "198.51.100.78")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ddns-cgi");
    let stderr = child.stderr.take().expect("stderr");
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (child, lines)
}

/// Waits until `lines` brings one containing `needle`; every line seen is kept in `seen`.
fn wait_for_line(lines: &mpsc::Receiver<String>, needle: &str, seen: &mut String) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.contains(needle) {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// The child's answer body and everything it logged.
fn finish(mut child: Child, lines: mpsc::Receiver<String>, mut seen: String) -> (String, String) {
    let mut out = String::new();
    if let Some(mut stdout) = child.stdout.take() {
        std::io::Read::read_to_string(&mut stdout, &mut out).expect("read stdout");
    }
    child.wait().expect("wait ddns-cgi");
    seen.extend(lines.iter().map(|l| l + "\n"));
    let body = out.split_once("\r\n\r\n").or_else(|| out.split_once("\n\n")).map_or(out.clone(), |(_, b)| b.to_owned());
    (body, seen)
}

/// A world whose UPDATEs of `home` pass a gate in a relay, held there until it opens, with a
/// DNS timeout long enough for the hold.
fn gated_world() -> Option<(World, Arc<Gate>, Relay)> {
    let w = token_world(LOG_REQUESTS)?;
    w.edit_config(|c| c.replace("timeout_ms = 1500", "timeout_ms = 30000"));
    let gate = Arc::new(Gate::default());
    let relay = {
        let gate = gate.clone();
        Relay::start(w.dns.addr(), move |_, request| {
            if names(request, "home") {
                gate.arrive_and_wait();
            }
            Plan::forward()
        })
    };
    relay::reroute(&w, &relay);
    Some((w, gate, relay))
}

/// A revoke waits for the change its token has in flight (it takes the host lock), so once
/// it returns, nothing that token authorised is still to come.
#[test]
fn a_revoke_waits_for_the_change_its_token_has_in_flight() {
    let Some((w, gate, _relay)) = gated_world() else { return };
    let token = new_token(&w, HOME, &[]);
    let (update, lines) = spawn_token_update(&w, &token, "myip=192.0.2.7");
    assert!(gate.wait_seen(Duration::from_secs(30)), "the update never reached the DNS server");
    // The update holds the host lock inside its DNS exchange now.
    let mut revoke = Command::new(bin())
        .env_clear()
        .args([std::ffi::OsStr::new("--config"), w.config.as_os_str()])
        .args(["hostname", "token", HOME, "--revoke"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn revoke");
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut returned_early = false;
    while Instant::now() < deadline {
        if revoke.try_wait().expect("revoke status").is_some() {
            returned_early = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    gate.release();
    let (body, log) = finish(update, lines, String::new());
    let revoked = revoke.wait_with_output().expect("revoke");
    assert!(revoked.status.success(), "{}", String::from_utf8_lossy(&revoked.stderr));
    assert!(!returned_early, "the revoke returned while a change of its token held the host lock");
    assert_eq!(body, "good 192.0.2.7\n", "{log}");
    assert_eq!(w.a(HOME), ["192.0.2.7"]);
    w.cgi(&path_info(&format!("/{token}"), "myip=192.0.2.8")).expect(401, "badauth\n");
    assert!(!has_token(&log), "{log}");
}

/// A change whose token was removed after it was authenticated and before it took the host
/// lock goes nowhere: it checks the token again under the lock (here the row is deleted
/// behind the lock's back, as a revoke before this fix did, while a password update holds it).
#[test]
fn a_token_gone_before_its_change_takes_the_lock_authorises_nothing() {
    let Some((w, gate, _relay)) = gated_world() else { return };
    let token = new_token(&w, HOME, &[]);
    let mut held = w.spawn_update(&format!("hostname={HOME}&myip=192.0.2.1"));
    assert!(gate.wait_seen(Duration::from_secs(30)), "the password update never reached the DNS server");
    let (update, lines) = spawn_token_update(&w, &token, "myip=192.0.2.7");
    let mut seen = String::new();
    assert!(wait_for_line(&lines, &format!("host token of `{HOME}` accepted"), &mut seen), "{seen}");
    // Authenticated; it waits for the host lock the password update holds.
    w.sql("DELETE FROM tokens");
    gate.release();
    assert!(held.wait().expect("password update").success());
    let (body, log) = finish(update, lines, seen);
    assert_eq!(body, "badauth\n", "{log}");
    assert!(log.contains("was revoked or replaced before the change"), "{log}");
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
    assert_eq!(w.stored(HOME).0.as_deref(), Some("192.0.2.1"));
    assert!(!has_token(&log), "{log}");
}
