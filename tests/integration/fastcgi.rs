//! `ddns-cgi fastcgi` against a raw FastCGI client (records written by hand, so a test can
//! stop anywhere): the same bytes as CGI, peers that close mid-request, aborted and oversized
//! requests, 200 requests on one keep-alive connection, 64 concurrent connections, SIGTERM
//! under load, a group commit whose message fails, one whose row write fails,
//! `FCGI_GET_VALUES`, and a relay turn that releases its relay lock in the long-lived server. Every update is checked in Knot and in
//! the database; the server must not panic.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::util::web::{
    ABORT_REQUEST, FcgiClient, Front, GET_VALUES, GET_VALUES_RESULT, LaunchOptions, Launched, Launcher, PARAMS, STDIN,
    WebServer, cgi_raw, decode_pairs, fcgi_update_params, pair_header,
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

/// A name, and a function that opens a connection and sends the attack on it.
type Attack<'a> = (&'a str, Box<dyn Fn() -> FcgiClient + 'a>);

/// `ddns-cgi fastcgi --listen` under a 1 GiB address-space limit, as on a small machine where
/// a 2 GiB allocation fails (and aborts the process) instead of being overcommitted.
fn small_machine(world: &World, args: &[&str]) -> Option<(Launched, u16)> {
    let options = LaunchOptions { args, address_space_bytes: Some(1 << 30) };
    Launched::start_with(world, Launcher::Listen, options).map(|(l, _, port)| (l, port))
}

#[test]
fn a_params_pair_claiming_2_gib_closes_its_connection_and_the_server_keeps_serving() {
    let world = world!(web_world());
    let (mut launched, port) = world!(small_machine(&world, &[]));
    let auth = auth();
    let params = |content: &[u8]| {
        let mut c = FcgiClient::connect_tcp(port);
        assert!(c.begin(1, true) && c.record(PARAMS, 1, content));
        c
    };
    let huge = u32::MAX >> 1;
    // (what, a connection that has sent the attack)
    let attacks: Vec<Attack<'_>> = vec![
        // 20 bytes on the wire: `NAME` and a value claiming 2 GiB.
        ("2 GiB value", Box::new(|| params(&[pair_header(4, huge), b"NAME".to_vec()].concat()))),
        ("2 GiB name", Box::new(|| params(&[pair_header(huge, 1), b"N".to_vec()].concat()))),
        (
            // FastCGI §3.4: a pair may span records; here its value length is split between
            // two. tokio-fastcgi parses each record on its own and fails on the first, unless
            // our reader, which may see both in one read, refuses the claim first.
            "2 GiB value split across records",
            Box::new(|| {
                let pairs = [pair_header(1, 1), b"ab".to_vec(), pair_header(4, huge)].concat();
                let (first, second) = pairs.split_at(6);
                let mut c = params(first);
                assert!(c.record(PARAMS, 1, &[second, b"NAME"].concat()));
                c
            }),
        ),
        (
            // FCGI_GET_VALUES (§4.1) carries pairs as well, on request id 0.
            "2 GiB pair in FCGI_GET_VALUES",
            Box::new(|| {
                let mut c = FcgiClient::connect_tcp(port);
                assert!(c.record(GET_VALUES, 0, &[pair_header(14, huge), b"FCGI_MAX_CONNS".to_vec()].concat()));
                c
            }),
        ),
    ];
    for (what, attack) in &attacks {
        let mut c = attack();
        assert!(c.wait_closed(std::time::Duration::from_secs(10)).is_some(), "{what}: the connection stays open");
        assert!(launched.alive(), "{what}: the server died:\n{}", launched.log());
        // A normal request on a new connection.
        let mut c = FcgiClient::connect_tcp(port);
        assert!(c.request(1, false, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.70"), &auth), b""));
        let answer = c.response(1).map(|b| body(&b));
        assert!(
            matches!(answer.as_deref(), Some("good 192.0.2.70\n" | "nochg 192.0.2.70\n")),
            "{what}: {answer:?}\n{}",
            launched.log()
        );
    }
    assert_eq!(world.a(HOME), ["192.0.2.70"]);
    let peak = launched.peak_rss_kib();
    assert!(peak < 100 * 1024, "peak RSS {peak} KiB");
    let log = launched.log();
    let warnings = log.matches("[WARNING] fastcgi: closing the connection: a FastCGI name-value pair claims 21474836");
    assert!(warnings.count() >= attacks.len() - 1, "a warning for each unsplit claim:\n{log}");
    assert!(!log.contains("panicked") && !log.contains("memory allocation"), "{log}");
}

#[test]
fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let world = world!(web_world());
    let (launched, port) = world!(small_machine(&world, &["--idle-timeout", "1"]));
    let limit = std::time::Duration::from_secs(10);
    let auth = auth();
    // Sends nothing at all. Timed from before the connection: the server's clock starts later.
    let started = std::time::Instant::now();
    let mut c = FcgiClient::connect_tcp(port);
    c.wait_closed(limit).unwrap_or_else(|| panic!("still open after {limit:?}\n{}", launched.log()));
    let closed = started.elapsed();
    assert!(closed >= std::time::Duration::from_secs(1), "closed after {closed:?}\n{}", launched.log());
    // Stops in the middle of a request.
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.begin(1, true) && c.write_raw(&[1, PARAMS, 0, 1, 0, 10, 0, 0, 3]));
    assert!(c.wait_closed(limit).is_some(), "a stalled request keeps its connection");
    // Goes quiet after an answer on a kept-alive connection.
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, true, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.71"), &auth), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 192.0.2.71\n".to_owned()));
    assert!(c.wait_closed(limit).is_some(), "an idle kept-alive connection stays open");
    assert_eq!(world.a(HOME), ["192.0.2.71"]);
    assert!(!launched.log().contains("panicked"), "{}", launched.log());
}

/// Runs `ddns-cgi fastcgi ARGS` with `env` for at most 10 s; `None` if it was still running
/// (it is killed then).
fn run_fastcgi(world: &World, args: &[&str], env: &[(&str, &str)]) -> Option<std::process::Output> {
    let mut cmd = std::process::Command::new(crate::util::bin());
    cmd.env_clear().envs(env.iter().copied()).arg("--config").arg(&world.config).arg("fastcgi").args(args);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start ddns-cgi fastcgi");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Some(child.wait_with_output().expect("output"));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn listen_without_web_server_addrs_refuses_to_start() {
    let world = world!(web_world());
    let port = crate::util::dnsserver::free_port();
    let addr = format!("127.0.0.1:{port}");
    let refused = |env: &[(&str, &str)], expected: &[&str]| {
        let out = run_fastcgi(&world, &["--listen", &addr], env).expect("it refuses at once instead of serving");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        for e in expected {
            assert!(stderr.contains(e), "no `{e}` in:\n{stderr}");
        }
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the port is open");
    };
    refused(&[], &["`--listen 127.0.0.1:", "any local user", "FCGI_WEB_SERVER_ADDRS", "--allow-any-local-user"]);
    refused(&[("FCGI_WEB_SERVER_ADDRS", "")], &["FCGI_WEB_SERVER_ADDRS"]);
    // An unparsable list must not silently become "everyone".
    refused(&[("FCGI_WEB_SERVER_ADDRS", "localhost")], &["`FCGI_WEB_SERVER_ADDRS`", "`localhost`"]);
    // With the flag it starts, and says what it allows.
    let (launched, port) = world!(small_machine(&world, &["--allow-any-local-user"]));
    let mut c = FcgiClient::connect_tcp(port);
    let auth = auth();
    assert!(c.request(1, false, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.72"), &auth), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 192.0.2.72\n".to_owned()));
    assert!(launched.log().contains("any local user can connect"), "{}", launched.log());
}

/// FastCGI mode (`ddns-cgi fastcgi`, mod_fcgid) writes to the configured `[log] target` as a
/// CGI request does: the request line goes to syslog, and stderr keeps only warnings.
#[test]
fn fastcgi_logs_to_the_configured_target() {
    let world = world!(web_world());
    let sock_path = world.dir.path().join("log.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).expect("bind syslog socket");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
    world.write_config(&format!(
        "log_requests = true\ntarget = \"syslog\"\nsyslog_socket = \"{}\"\n",
        sock_path.display()
    ));
    let (launched, _, port) = world!(Launched::start(&world, Launcher::Listen));
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, true, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.93"), &auth()), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 192.0.2.93\n".to_owned()), "{}", launched.log());
    assert_eq!(world.a(HOME), ["192.0.2.93"]);
    // The datagrams up to the request line of a `good` answer.
    let until_request_line = |sock: &std::os::unix::net::UnixDatagram| {
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 65_536];
        while !lines.iter().any(|l: &String| l.contains("answer=good")) {
            let n = sock.recv(&mut buf).unwrap_or_else(|e| panic!("no request line on syslog ({e}): {lines:?}"));
            lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        lines
    };
    let lines = until_request_line(&sock);
    assert!(lines.iter().any(|l| l.contains("fastcgi: serving with")), "{lines:?}");
    let stderr = launched.log();
    assert!(!stderr.contains("answer=good") && !stderr.contains("[INFO]"), "INFO lines stay off stderr:\n{stderr}");
    // The server keeps one socket to syslog; when the daemon restarts (a new socket at the
    // same path), the next lines still reach it.
    drop(sock);
    std::fs::remove_file(&sock_path).expect("remove the old socket");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).expect("bind syslog socket again");
    // Writable by the server's user, as /dev/log is.
    std::fs::set_permissions(&sock_path, std::os::unix::fs::PermissionsExt::from_mode(0o666)).expect("chmod");
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
    assert!(c.request(2, true, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.94"), &auth()), b""));
    assert_eq!(c.response(2).map(|b| body(&b)), Some("good 192.0.2.94\n".to_owned()), "{}", launched.log());
    until_request_line(&sock);
    let stderr = launched.log();
    assert!(!stderr.contains("[INFO]"), "INFO lines stay off stderr after the restart:\n{stderr}");
}

#[test]
fn every_change_of_a_host_in_a_failed_group_commit_answers_dnserr() {
    // Mutation gap (issue 12): when one group-commit run holds several changes of one host
    // and its message fails, every change from the host's first one that needed DNS answers
    // `dnserr`. Taking the last such change as the first answered the earlier ones `good`
    // for addresses DNS never got. Here the server grants A records only; a first update
    // (A) is held at a relay, two AAAA changes of the same host queue behind it and go in
    // the next run together, which the server refuses.
    use std::time::{Duration, Instant};

    use crate::locking::{Gate, names};
    use crate::util::relay::{self, Plan, Relay};
    use crate::util::{DnsKind, DnsServer, ZONE};

    let mut world = world!(web_world());
    let Some(strict) = DnsServer::start_a_only(DnsKind::Knot, &[&format!("{ZONE}.")], &world.key) else { return };
    let old = world.dns.addr().to_string();
    world.edit_config(|c| {
        c.replace(&old, &strict.addr().to_string()).replace("timeout_ms = 1500", "timeout_ms = 30000")
    });
    world.dns = strict;
    let gate = Arc::new(Gate::default());
    let messages = Arc::new(AtomicUsize::new(0));
    let relay = {
        let (gate, messages) = (gate.clone(), messages.clone());
        Relay::start(world.dns.addr(), move |_, request| {
            if names(request, "home") && messages.fetch_add(1, Ordering::SeqCst) == 0 {
                gate.arrive_and_wait();
            }
            Plan::forward()
        })
    };
    relay::reroute(&world, &relay);
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let web = &web;
    let answers: Vec<String> = std::thread::scope(|s| {
        let first = s.spawn(move || update(web, &format!("hostname={HOME}&myip=192.0.2.1")));
        assert!(gate.wait_seen(Duration::from_secs(30)), "the first update never reached the DNS server");
        let queued: Vec<_> = ["2001:db8::2", "2001:db8::3"]
            .map(|ip| s.spawn(move || update(web, &format!("hostname={HOME}&myip6={ip}"))))
            .into_iter()
            .collect();
        // The held message is let go once both queued changes are past authentication (and
        // so in the zone's queue); the relay's count below confirms they went in one run.
        let deadline = Instant::now() + Duration::from_secs(20);
        while web.fastcgi_log().matches(&format!("password of `{USER}`")).count() < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(500));
        gate.release();
        std::iter::once(first).chain(queued).map(|h| h.join().expect("client thread")).collect()
    });
    assert_eq!(answers, ["good 192.0.2.1\n", "dnserr\n", "dnserr\n"], "{}", web.fastcgi_log());
    assert_eq!(messages.load(Ordering::SeqCst), 2, "the two queued changes were not one run\n{}", web.fastcgi_log());
    assert_eq!((world.a(HOME), world.aaaa(HOME)), (vec!["192.0.2.1".to_owned()], Vec::new()));
    assert_eq!(world.stored(HOME), (Some("192.0.2.1".into()), None));
    assert_no_panic(web);
}

#[test]
fn a_peer_that_closes_mid_request_frees_its_connection_slot() {
    // With one connection allowed, a peer that sends half a request and closes must give its
    // slot back at once: the end of its stream ends the connection (reading on would spin).
    let world = world!(web_world());
    let (launched, port) = world!(small_machine(&world, &["--max-connections", "1"]));
    let limit = std::time::Duration::from_secs(10);
    for _ in 0..2 {
        let mut c = FcgiClient::connect_tcp(port);
        assert!(c.begin(1, true) && c.write_raw(&[1, PARAMS, 0, 1, 0, 10, 0, 0, 3]));
        c.stream.shutdown_write();
        assert!(c.wait_closed(limit).is_some(), "the half request keeps its connection\n{}", launched.log());
    }
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, false, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.72"), &auth()), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 192.0.2.72\n".to_owned()), "{}", launched.log());
    assert_eq!(world.a(HOME), ["192.0.2.72"]);
}

/// A FastCGI server on TCP whose requests come from a trusted proxy (`198.51.100.7`, the
/// `REMOTE_ADDR` of `fcgi_update_params`) with `X-Forwarded-For`; `log` goes in `[log]`.
fn behind_a_proxy(log: &str) -> Option<(World, Launched, u16)> {
    let world = World::new(Setup {
        extra_config: &format!(
            "{log}{NO_RATE_LIMIT}[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"198.51.100.7\"]\n"
        ),
        hosts: &[HOME],
        ..Setup::default()
    })?;
    let (launched, _, port) = Launched::start(&world, Launcher::Listen)?;
    Some((world, launched, port))
}

#[test]
fn a_repeat_with_an_unusable_proxy_header_logs_the_fallback_too() {
    // The repeat answered on the runtime's thread logs nothing of its own beyond its answer,
    // so a request whose trusted proxy sent an unusable header goes to a worker, which says
    // that the proxy's address stands in for the client's.
    let (world, launched, port) = world!(behind_a_proxy(""));
    let auth = auth();
    let query = format!("hostname={HOME}&myip=192.0.2.73");
    let mut params = fcgi_update_params(&query, &auth);
    params.push(("HTTP_X_FORWARDED_FOR", "not an address"));
    let mut c = FcgiClient::connect_tcp(port);
    for (id, answer) in [(1, "good 192.0.2.73\n"), (2, "nochg 192.0.2.73\n")] {
        assert!(c.request(id, true, &params, b""));
        assert_eq!(c.response(id).map(|b| body(&b)).as_deref(), Some(answer), "{}", launched.log());
    }
    let log = launched.log();
    assert_eq!(log.matches("using the proxy address 198.51.100.7").count(), 2, "{log}");
    assert_eq!(world.a(HOME), ["192.0.2.73"]);
}

#[test]
fn the_proxy_header_and_a_large_body_reach_the_handler_as_in_cgi() {
    // What `request_input` keeps of the params and the stdin: the trusted proxy's header (the
    // client's address for logs and limits) and the body up to one byte past its bound (so
    // that an oversized body is told from a cut one).
    let (world, launched, port) = world!(behind_a_proxy("log_requests = true\n"));
    let auth = auth();
    let query = format!("hostname={HOME}&myip=192.0.2.74");
    let mut params = fcgi_update_params(&query, &auth);
    params.push(("HTTP_X_FORWARDED_FOR", "203.0.113.9"));
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, true, &params, b""));
    assert_eq!(c.response(1).map(|b| body(&b)).as_deref(), Some("good 192.0.2.74\n"), "{}", launched.log());
    let big = vec![b'a'; 9000];
    let length = big.len().to_string();
    let mut post = fcgi_update_params("", &auth);
    post.retain(|(k, _)| *k != "REQUEST_METHOD");
    post.extend([
        ("REQUEST_METHOD", "POST"),
        ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
        ("CONTENT_LENGTH", length.as_str()),
    ]);
    assert!(c.request(2, true, &post, &big));
    assert_eq!(c.response(2).map(|b| body(&b)).as_deref(), Some("badagent\n"), "{}", launched.log());
    let log = launched.log();
    assert!(log.contains("client=203.0.113.9 "), "{log}");
    assert!(log.contains("request body of 8193 bytes exceeds 8192"), "{log}");
    assert_eq!(world.a(HOME), ["192.0.2.74"]);
}

/// The content of an `FCGI_GET_VALUES` record asking for `names` (§4.1: empty values).
fn asking(names: &[&str]) -> Vec<u8> {
    let len = |n: &str| u32::try_from(n.len()).expect("short name");
    names.iter().flat_map(|n| [pair_header(len(n), 0), n.as_bytes().to_vec()].concat()).collect()
}

#[test]
fn get_values_answers_the_true_limits_each_name_once() {
    // Issue: `FCGI_MAX_CONNS` was answered as a `u8` (at most 255), and 65,535 bytes of
    // repeated names got an answer cut at 65,535 bytes, in the middle of a pair.
    let world = world!(web_world());
    let (launched, port) = world!(small_machine(&world, &["--max-connections", "300"]));
    let mut c = FcgiClient::connect_tcp(port);
    let values = |c: &mut FcgiClient| {
        let (kind, id, content) = c.read_record().unwrap_or_else(|| panic!("no answer\n{}", launched.log()));
        assert_eq!((kind, id), (GET_VALUES_RESULT, 0));
        decode_pairs(&content)
            .unwrap_or_else(|| panic!("a pair is cut off in the {} bytes of the answer", content.len()))
    };
    let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
    assert!(c.record(GET_VALUES, 0, &asking(&["FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS", "FCGI_OTHER"])));
    let all = [pair("FCGI_MAX_CONNS", "300"), pair("FCGI_MAX_REQS", "300"), pair("FCGI_MPXS_CONNS", "0")];
    assert_eq!(values(&mut c), all);
    // A whole record of repeated names, on the same connection: each known name once.
    let mut repeated = asking(&["FCGI_MAX_REQS", "FCGI_MPXS_CONNS"]).repeat(2000);
    repeated.extend(asking(&["FCGI_MAX_CONNS"]).repeat((65_535 - repeated.len()) / 16));
    assert!(repeated.len() > 65_000, "{}", repeated.len());
    assert!(c.record(GET_VALUES, 0, &repeated));
    assert_eq!(values(&mut c), all);
    // The connection still serves a request.
    let auth = auth();
    assert!(c.request(1, false, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.73"), &auth), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("good 192.0.2.73\n".to_owned()), "{}", launched.log());
    assert_eq!(world.a(HOME), ["192.0.2.73"]);
}

/// DNS ahead of the row (the row write failed after the server accepted, `911`) is repaired
/// by the next request through the group commit, a repeat too, which the runtime thread must
/// not answer from the row.
#[test]
fn dns_ahead_of_a_failed_row_write_is_repaired_through_the_group_commit() {
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    crate::resilience::dns_ahead_of_the_row_is_repaired(&world, &|q| update(&web, q));
    assert_no_panic(&web);
}

/// A key of the Python ddns-daemon's config that ddns-cgi ignores is logged once, when the
/// FastCGI server starts, not per request; requests are served as usual.
#[test]
fn fastcgi_logs_the_daemon_config_warnings_once_at_start() {
    let world = world!(web_world());
    world.write_config("[dns_service]\ncleanup_interval = \"1m\"\n");
    let (launched, _, port) = world!(Launched::start(&world, Launcher::Listen));
    let mut c = FcgiClient::connect_tcp(port);
    for (id, addr) in [(1, "192.0.2.95"), (2, "192.0.2.96")] {
        assert!(c.request(id, true, &fcgi_update_params(&format!("hostname={HOME}&myip={addr}"), &auth()), b""));
        assert_eq!(c.response(id).map(|b| body(&b)), Some(format!("good {addr}\n")), "{}", launched.log());
    }
    assert_eq!(world.a(HOME), ["192.0.2.96"]);
    let log = launched.log();
    for key in ["`dns_service` is", "`dns_service.cleanup_interval` is"] {
        let line = format!("[WARNING] config: {key} the Python ddns-daemon's and is ignored: ");
        assert_eq!(log.matches(&line).count(), 1, "{line}\n{log}");
    }
}

/// A relay turn releases the host's relay lock when it ends, also in the FastCGI server,
/// whose pooled stores outlive the request: on PostgreSQL the lock is a session-level advisory
/// lock that only an explicit unlock (or the session's end) releases, so a turn that kept it
/// would make every other process's relay of the host wait out its budget.
#[test]
fn a_relay_turn_releases_the_relay_lock_in_the_long_lived_server() {
    let world = world!(web_world());
    // An upstream that refuses connections: the turn is taken, and fails at once.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let url = format!("http://127.0.0.1:{port}/nic/update?hostname=office.example.net");
    world
        .admin_stdin(&["hostname", "relay", HOME, "--url", &url, "--user", "relayer", "--password-stdin"], "up-pw\n")
        .success();
    let (launched, _, port) = world!(Launched::start(&world, Launcher::Listen));
    let mut c = FcgiClient::connect_tcp(port);
    assert!(c.request(1, true, &fcgi_update_params(&format!("hostname={HOME}&myip=192.0.2.74"), &auth()), b""));
    assert_eq!(c.response(1).map(|b| body(&b)), Some("dnserr\n".to_owned()), "{}", launched.log());
    assert_eq!(world.a(HOME), ["192.0.2.74"]);
    assert!(
        crate::relay::HeldRelayLock::try_take(&world, HOME).is_some(),
        "the server still holds the relay lock after its answer\n{}",
        launched.log()
    );
    assert!(!launched.log().contains("panicked"), "{}", launched.log());
}
