//! `ddns-cgi fastcgi` against a raw FastCGI client (records written by hand, so a test can
//! stop anywhere): the same bytes as CGI, peers that close mid-request, aborted and oversized
//! requests, 200 requests on one keep-alive connection, 64 concurrent connections, and SIGTERM
//! under load. Every update is checked in Knot and in the database; the server must not panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::util::web::{
    ABORT_REQUEST, FcgiClient, Front, Launched, Launcher, STDIN, WebServer, cgi_raw, fcgi_update_params,
};
use crate::util::{PASSWORD, Setup, USER, World, base64};
use crate::web::{HOME, NO_RATE_LIMIT, web_world};

fn auth() -> String {
    format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")))
}

/// The body of a CGI-style response (after the blank line).
fn body(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default()
}

/// One update on a fresh (non keep-alive) connection; the answer body.
fn update(web: &WebServer, query: &str) -> String {
    let mut c = FcgiClient::connect(&web.fastcgi_socket());
    let auth = auth();
    assert!(c.request(1, false, &fcgi_update_params(query, &auth), b""));
    body(&c.response(1).unwrap_or_else(|| panic!("no answer\n{}", web.logs())))
}

/// FastCGI params and a body.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'a [u8]);

#[track_caller]
fn assert_no_panic(web: &WebServer) {
    let log = web.fastcgi_log();
    assert!(!log.contains("panicked"), "ddns-cgi fastcgi panicked:\n{log}");
}

#[test]
fn answers_are_byte_for_byte_those_of_cgi() {
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    assert_eq!(update(&web, &format!("hostname={HOME}&myip=192.0.2.1")), "good 192.0.2.1\n");
    let auth = auth();
    let q_nochg = format!("hostname={HOME}&myip=192.0.2.1");
    let q_many = format!("hostname={HOME},nope.dyn.example.test,bad..name&myip=192.0.2.1");
    let cases: Vec<Case<'_>> = vec![
        // no credentials: 401 with the challenge
        (vec![("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", "/nic/update"), ("QUERY_STRING", &q_nochg)], b""),
        // nochg, and several hosts with per-host answers
        (fcgi_update_params(&q_nochg, &auth), b""),
        (fcgi_update_params(&q_many, &auth), b""),
        // JSON
        ([fcgi_update_params(&q_nochg, &auth), vec![("HTTP_ACCEPT", "application/json")]].concat(), b""),
        // unknown path, unknown method, bad address
        (vec![("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", "/elsewhere"), ("HTTP_AUTHORIZATION", &auth)], b""),
        (vec![("REQUEST_METHOD", "PUT"), ("SCRIPT_NAME", "/update"), ("HTTP_AUTHORIZATION", &auth)], b""),
        (fcgi_update_params("hostname=home.dyn.example.test&myip=300.1.1.1", &auth), b""),
        // POST with a form body, and one with a body over the limit
        (
            vec![
                ("REQUEST_METHOD", "POST"),
                ("SCRIPT_NAME", "/update"),
                ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
                ("CONTENT_LENGTH", "49"),
                ("HTTP_AUTHORIZATION", &auth),
                ("REMOTE_ADDR", "198.51.100.7"),
            ],
            b"hostname=home.dyn.example.test&myip=192.0.2.1&x=y",
        ),
    ];
    let big = vec![b'a'; 20_000];
    let big_len = big.len().to_string();
    let mut cases = cases;
    cases.push((
        vec![
            ("REQUEST_METHOD", "POST"),
            ("SCRIPT_NAME", "/update"),
            ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
            ("CONTENT_LENGTH", &big_len),
            ("HTTP_AUTHORIZATION", &auth),
        ],
        &big,
    ));
    for (params, req_body) in &cases {
        let mut c = FcgiClient::connect(&web.fastcgi_socket());
        let mut sent = c.begin(1, false) && c.params(1, params);
        for chunk in req_body.chunks(60_000) {
            sent = sent && c.record(STDIN, 1, chunk);
        }
        assert!(sent && c.record(STDIN, 1, &[]));
        let fastcgi = c.response(1).expect("an answer");
        let cgi = cgi_raw(&world, &[params.clone(), vec![("GATEWAY_INTERFACE", "CGI/1.1")]].concat(), req_body);
        assert_eq!(String::from_utf8_lossy(&fastcgi), String::from_utf8_lossy(&cgi), "params {params:?}");
    }
    assert_eq!(world.a(HOME), ["192.0.2.1"]);
    assert_no_panic(&web);
}

#[test]
fn peers_that_close_abort_or_send_garbage_do_not_hurt() {
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let sock = web.fastcgi_socket();
    let auth = auth();
    let params = fcgi_update_params("hostname=home.dyn.example.test&myip=192.0.2.66", &auth);
    // Closes after the begin record, in the middle of the params, and before stdin ends:
    // none of these requests is complete, so none may reach DNS.
    {
        let mut c = FcgiClient::connect(&sock);
        assert!(c.begin(1, true));
    }
    {
        let mut c = FcgiClient::connect(&sock);
        assert!(c.begin(1, true));
        let _ = c.write_raw(&[1, 4, 0, 1, 0, 200, 0, 0, 5, 5, b'Q']);
    }
    {
        let mut c = FcgiClient::connect(&sock);
        assert!(c.begin(1, true) && c.params(1, &params) && c.record(STDIN, 1, b"hostname"));
    }
    // Garbage: a wrong version, an empty begin record, a record type that does not exist.
    for junk in [&b"GET / HTTP/1.1\r\n\r\n"[..], &[1, 1, 0, 1, 0, 0, 0, 0], &[1, 99, 0, 1, 0, 0, 0, 0]] {
        let mut c = FcgiClient::connect(&sock);
        let _ = c.write_raw(junk);
        // End our side, so the server sees the end of the stream after the junk.
        c.stream.shutdown_write();
        assert!(c.response(1).is_none(), "junk {junk:?} got an answer");
    }
    // An aborted request is ended without an update; the connection stays usable.
    let mut c = FcgiClient::connect(&sock);
    assert!(c.begin(1, true) && c.params(1, &params) && c.record(ABORT_REQUEST, 1, &[]));
    assert_eq!(c.response(1).map(|b| body(&b)), Some(String::new()));
    // Oversized: more than 1 MiB of stdin closes the connection without an answer.
    let mut c2 = FcgiClient::connect(&sock);
    let mut sent = c2.begin(1, true) && c2.params(1, &params);
    for _ in 0..20 {
        sent = sent && c2.record(STDIN, 1, &vec![b'a'; 60_000]);
    }
    assert!(c2.response(1).is_none(), "an oversized request was answered (sent all: {sent})");
    assert_eq!(world.a(HOME), Vec::<String>::new(), "an incomplete request reached DNS");
    assert_eq!(world.stored(HOME), (None, None));

    // The same server still answers, on the connection that saw the abort too.
    let q = "hostname=home.dyn.example.test&myip=192.0.2.67";
    assert!(c.request(2, true, &fcgi_update_params(q, &auth), b""));
    assert_eq!(c.response(2).map(|b| body(&b)), Some("good 192.0.2.67\n".to_owned()));
    assert_eq!(world.a(HOME), ["192.0.2.67"]);
    assert_no_panic(&web);
}

#[test]
fn two_hundred_requests_on_one_keep_alive_connection() {
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let auth = auth();
    let mut c = FcgiClient::connect(&web.fastcgi_socket());
    for i in 0..200u16 {
        let addr = format!("192.0.2.{}", i % 200 + 1);
        let query = format!("hostname={HOME}&myip={addr}");
        let id = i + 1;
        assert!(c.request(id, true, &fcgi_update_params(&query, &auth), b""), "request {i}: connection closed");
        let answer = c.response(id).map(|b| body(&b));
        assert_eq!(answer, Some(format!("good {addr}\n")), "request {i}\n{}", web.fastcgi_log());
    }
    assert_eq!(world.a(HOME), ["192.0.2.200"]);
    assert_eq!(world.stored(HOME), (Some("192.0.2.200".into()), None));
    assert_no_panic(&web);
}

fn many_hosts(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("h{i}.dyn.example.test")).collect()
}

#[test]
fn sixty_four_concurrent_connections() {
    let hosts = many_hosts(64);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let world = world!(World::new(Setup { extra_config: NO_RATE_LIMIT, hosts: &refs, ..Setup::default() }));
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let sock = web.fastcgi_socket();
    // Connect all first, so 64 connections are open at once, then send.
    let clients: Vec<FcgiClient> = (0..64).map(|_| FcgiClient::connect(&sock)).collect();
    let answers: Vec<Option<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .into_iter()
            .zip(&hosts)
            .enumerate()
            .map(|(i, (mut c, host))| {
                s.spawn(move || {
                    let auth = auth();
                    let query = format!("hostname={host}&myip=192.0.2.{}", i + 1);
                    c.request(1, true, &fcgi_update_params(&query, &auth), b"").then_some(())?;
                    c.response(1).map(|b| body(&b))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("client thread")).collect()
    });
    for (i, (host, answer)) in hosts.iter().zip(answers).enumerate() {
        let addr = format!("192.0.2.{}", i + 1);
        assert_eq!(answer, Some(format!("good {addr}\n")), "{host}\n{}", web.fastcgi_log());
        assert_eq!(world.a(host), std::slice::from_ref(&addr), "{host}");
        assert_eq!(world.stored(host), (Some(addr), None), "{host}");
    }
    assert_no_panic(&web);
}

#[test]
fn sigterm_under_load_finishes_requests_in_flight() {
    let hosts = many_hosts(8);
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let world = world!(World::new(Setup { extra_config: NO_RATE_LIMIT, hosts: &refs, ..Setup::default() }));
    let mut web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let sock = web.fastcgi_socket();
    let answered = Arc::new(AtomicUsize::new(0));
    // The last address each host was answered `good` for.
    let last_good: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(vec![None; hosts.len()]));
    let status = std::thread::scope(|s| {
        for (h, host) in hosts.iter().enumerate() {
            let (sock, answered, last_good) = (sock.clone(), answered.clone(), last_good.clone());
            s.spawn(move || {
                let auth = auth();
                let mut c = FcgiClient::connect(&sock);
                for i in 1..=250u16 {
                    let addr = format!("192.0.{}.{}", h + 1, i % 250 + 1);
                    let query = format!("hostname={host}&myip={addr}");
                    if !c.request(i, true, &fcgi_update_params(&query, &auth), b"") {
                        return;
                    }
                    let Some(raw) = c.response(i) else { return };
                    assert_eq!(body(&raw), format!("good {addr}\n"));
                    last_good.lock().expect("lock")[h] = Some(addr);
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        // Load first: stop once requests are flowing on every connection.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while answered.load(Ordering::Relaxed) < 40 {
            assert!(std::time::Instant::now() < deadline, "no load reached the server\n{}", web.logs());
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        web.signal_fastcgi("-TERM");
        web.wait_fastcgi()
    });
    let status = status.expect("ddns-cgi fastcgi did not stop within 60 s");
    assert!(status.success(), "exit status {status}\n{}", web.fastcgi_log());
    assert!(web.fastcgi_log().contains("SIGTERM"), "{}", web.fastcgi_log());
    assert!(!sock.exists(), "the socket file was left behind");
    // No lost update, nothing extra: DNS and the database hold exactly the last answered address.
    for (host, last) in hosts.iter().zip(last_good.lock().expect("lock").iter()) {
        let expected: Vec<String> = last.iter().cloned().collect();
        assert_eq!(world.a(host), expected, "{host}");
        assert_eq!(world.stored(host).0, last.clone(), "{host}");
    }
    assert_no_panic(&web);
}

#[test]
fn systemd_socket_activation_a_tcp_socket_on_fd_0_and_listen() {
    let world = world!(web_world());
    let auth = auth();
    // systemd socket activation: the socket comes in LISTEN_FDS.
    let (launched, socket, _) = world!(Launched::start(&world, Launcher::SystemdUnix));
    let mut c = FcgiClient::connect(&socket);
    assert!(c.request(1, true, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.90"), &auth), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 192.0.2.90\n".to_owned()), "{}", launched.log());
    assert_eq!(world.a(HOME), ["192.0.2.90"]);
    drop(launched);
    // spawn-fcgi leaves a TCP listener on fd 0, as mod_fcgid leaves a unix one.
    let (launched, _, port) = world!(Launched::start(&world, Launcher::SpawnFcgiTcp));
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, true, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.91"), &auth), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 192.0.2.91\n".to_owned()), "{}", launched.log());
    assert_eq!(world.a(HOME), ["192.0.2.91"]);
    assert!(!launched.log().contains("panicked"), "{}", launched.log());
    drop(launched);
    // `--listen`: a TCP socket of its own.
    let (launched, _, port) = world!(Launched::start(&world, Launcher::Listen));
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, true, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.92"), &auth), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 192.0.2.92\n".to_owned()), "{}", launched.log());
    assert_eq!(world.a(HOME), ["192.0.2.92"]);
}

#[test]
fn a_body_shorter_than_content_length_is_badagent_in_cgi_and_fastcgi() {
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    assert_eq!(update(&web, &format!("hostname={HOME}&myip=192.0.2.1")), "good 192.0.2.1\n");
    let auth = auth();
    // The client announced `myip=203.0.113.254` and the stream ended after `203.0.113.2`.
    let full = format!("hostname={HOME}&myip=203.0.113.254");
    let cut = &full.as_bytes()[..full.len() - 2];
    let len = full.len().to_string();
    let params = vec![
        ("REQUEST_METHOD", "POST"),
        ("SCRIPT_NAME", "/nic/update"),
        ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
        ("CONTENT_LENGTH", len.as_str()),
        ("HTTP_AUTHORIZATION", auth.as_str()),
        ("REMOTE_ADDR", "198.51.100.7"),
    ];
    let unchanged = |what: &str| {
        assert_eq!(world.a(HOME), ["192.0.2.1"], "{what}");
        assert_eq!(world.stored(HOME), (Some("192.0.2.1".into()), None), "{what}");
    };
    // CGI: stdin ends early.
    let cgi = cgi_raw(&world, &[params.clone(), vec![("GATEWAY_INTERFACE", "CGI/1.1")]].concat(), cut);
    assert_eq!(body(&cgi), "badagent\n", "CGI");
    unchanged("CGI");
    // FastCGI: the stdin stream ends (empty FCGI_STDIN record) early; also with no body at all.
    for sent in [cut, &b""[..]] {
        let mut c = FcgiClient::connect(&web.fastcgi_socket());
        assert!(c.request(1, false, &params, sent));
        assert_eq!(c.response(1).map(|b| body(&b)), Some("badagent\n".to_owned()), "FastCGI, {} bytes", sent.len());
        unchanged("FastCGI");
    }
    // The whole body still works, on both.
    let mut c = FcgiClient::connect(&web.fastcgi_socket());
    assert!(c.request(1, false, &params, full.as_bytes()));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 203.0.113.254\n".to_owned()));
    assert_eq!(world.a(HOME), ["203.0.113.254"]);
    assert_no_panic(&web);
}
