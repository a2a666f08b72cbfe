//! The Flask dyndns API's URLs against a real Knot, with a host token as the secret:
//! `/update-by-path/SECRET/FQDN` with no, one and two addresses (also split into
//! `SCRIPT_NAME` and `PATH_INFO` as Apache does), `/update-by-query` with `fqdn` and with
//! `zone_name` + `record_name`, `ip_1`/`ip_2`/`ipv4`/`ipv6` and `ttl`, `/delete-by-path` and
//! `/delete-by-query`, once through FastCGI, and through each shipped web-server config
//! (which keeps these URLs out of its access log). Refused forms (two addresses of one family,
//! another host's token, a secret that is no token, unclear hostnames) change neither the
//! row nor DNS. Every test ends with a grep of everything it logged, and of the audit
//! table, for the secrets.

use crate::tokens::{HOME, LOG_REQUESTS, Logged, NAS, new_token, token_world};
use crate::util::web::{FcgiClient, Front, Launched, Launcher, WebServer, curl};
use crate::util::{Cgi, PASSWORD, USER, World, ZONE};

/// The address the harness's CGI requests come from.
const CLIENT: &str = "198.51.100.77";

/// A Flask-era secret (alphanumeric, at least 8 characters): a wrong secret here.
const FLASK_SECRET: &str = "12345678abc";

/// Everything a request can change about a host: the stored row's addresses and what DNS
/// answers.
type Snapshot = ((Option<String>, Option<String>), Vec<(u32, String)>, Vec<(u32, String)>);

fn snapshot(w: &World, fqdn: &str) -> Snapshot {
    (w.stored(fqdn), w.dns.query_with_ttl(fqdn, "A"), w.dns.query_with_ttl(fqdn, "AAAA"))
}

/// Sends `req`, asserts its answer, and that nothing about [`HOME`] changed.
#[track_caller]
fn refused(w: &World, logged: &mut Logged, req: &Cgi, status: u16, body: &str) {
    let before = snapshot(w, HOME);
    logged.cgi(w, req).expect(status, body);
    assert_eq!(snapshot(w, HOME), before, "{}?{}", req.path, req.query);
}

/// DNS and the row hold exactly these addresses.
#[track_caller]
fn assert_records(w: &World, ipv4: Option<&str>, ipv6: Option<&str>) {
    let list = |ip: Option<&str>| ip.into_iter().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(w.a(HOME), list(ipv4), "DNS A of {HOME}");
    assert_eq!(w.aaaa(HOME), list(ipv6), "DNS AAAA of {HOME}");
    assert_eq!(w.stored(HOME), (ipv4.map(str::to_owned), ipv6.map(str::to_owned)), "stored {HOME}");
}

/// No secret in anything logged nor in the audit table: the token forms `Logged` knows, and
/// the Flask-era secret whole.
#[track_caller]
fn assert_no_secrets(w: &World, logged: &Logged, tokens: &[&str]) {
    logged.assert_no_tokens(tokens);
    assert!(!logged.0.contains(FLASK_SECRET), "a log contains the Flask secret:\n{}", logged.0);
    let audit = format!("{:?}", w.rows("SELECT * FROM audit"));
    assert!(audit.len() > 10, "the audit table is empty");
    for secret in tokens.iter().copied().chain([FLASK_SECRET]) {
        assert!(!audit.contains(secret) && !audit.contains(&secret[5..]), "the audit table holds a secret:\n{audit}");
    }
}

#[test]
fn update_by_path_with_no_one_and_two_addresses() {
    let w = world!(token_world(LOG_REQUESTS));
    let mut logged = Logged::default();
    let token = new_token(&w, HOME, &[]);
    let t = token.as_str();
    let path = |rest: &str| Cgi::get("").path(&format!("/update-by-path/{t}/{rest}"));

    // No address: the client's.
    logged.cgi(&w, &path(HOME)).expect(200, &format!("good {CLIENT}\n"));
    assert_records(&w, Some(CLIENT), None);
    logged.cgi(&w, &path(HOME)).expect(200, &format!("nochg {CLIENT}\n"));
    logged.cgi(&w, &path(&format!("{HOME}/192.0.2.1"))).expect(200, "good 192.0.2.1\n");
    assert_records(&w, Some("192.0.2.1"), None);
    // Two addresses of different families, in either order.
    logged.cgi(&w, &path(&format!("{HOME}/2001:db8::2/192.0.2.2"))).expect(200, "good 192.0.2.2 2001:db8::2\n");
    assert_records(&w, Some("192.0.2.2"), Some("2001:db8::2"));
    logged.cgi(&w, &path(&format!("{HOME}/192.0.2.3/2001:db8::3"))).expect(200, "good 192.0.2.3 2001:db8::3\n");
    assert_records(&w, Some("192.0.2.3"), Some("2001:db8::3"));
    // Apache hands the part below the script's path over in PATH_INFO.
    let apache = Cgi::get("").path("/update-by-path").env("PATH_INFO", &format!("/{t}/{HOME}/192.0.2.4"));
    logged.cgi(&w, &apache).expect(200, "good 192.0.2.4\n");
    assert_eq!(w.a(HOME), ["192.0.2.4"]);
    // `ttl` as on every endpoint.
    let ttl = Cgi::get("ttl=120").path(&format!("/update-by-path/{t}/{HOME}/192.0.2.5"));
    logged.cgi(&w, &ttl).expect(200, "good 192.0.2.5\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(120, "192.0.2.5".to_owned())]);

    // Refused: two of one family, a bad address, three addresses (Flask's 404), another
    // host's token, a Flask-era secret, a token never issued, no FQDN.
    refused(&w, &mut logged, &path(&format!("{HOME}/192.0.2.6/192.0.2.7")), 200, "badip\n");
    refused(&w, &mut logged, &path(&format!("{HOME}/2001:db8::6/2001:db8::7")), 200, "badip\n");
    refused(&w, &mut logged, &path(&format!("{HOME}/192.0.2.300")), 200, "badip\n");
    refused(&w, &mut logged, &path(&format!("{HOME}/192.0.2.6/2001:db8::6/192.0.2.7")), 404, "badagent\n");
    let nas_token = new_token(&w, NAS, &[]);
    let other = Cgi::get("").path(&format!("/update-by-path/{nas_token}/{HOME}/192.0.2.6"));
    refused(&w, &mut logged, &other, 401, "badauth\n");
    let flask = Cgi::get("").path(&format!("/update-by-path/{FLASK_SECRET}/{HOME}/192.0.2.6"));
    refused(&w, &mut logged, &flask, 401, "badauth\n");
    let never = Cgi::get("").path(&format!("/update-by-path/ddns_{}/{HOME}/192.0.2.6", "0".repeat(43)));
    refused(&w, &mut logged, &never, 401, "badauth\n");
    refused(&w, &mut logged, &Cgi::get("").path(&format!("/update-by-path/{t}")), 404, "badagent\n");
    assert_eq!(w.a(NAS), Vec::<String>::new());
    assert!(logged.0.contains("/update-by-path/***"), "{}", logged.0);
    assert_no_secrets(&w, &logged, &[t, &nas_token]);
}

#[test]
fn update_by_query_with_fqdn_or_zone_and_record() {
    let w = world!(token_world(LOG_REQUESTS));
    let mut logged = Logged::default();
    let token = new_token(&w, HOME, &[]);
    let t = token.as_str();
    let query = |rest: &str| Cgi::get(&format!("secret={t}&{rest}")).path("/update-by-query");

    logged.cgi(&w, &query(&format!("fqdn={HOME}"))).expect(200, &format!("good {CLIENT}\n"));
    assert_records(&w, Some(CLIENT), None);
    logged
        .cgi(&w, &query(&format!("fqdn={HOME}&ip_1=2001:db8::1&ip_2=192.0.2.1")))
        .expect(200, "good 192.0.2.1 2001:db8::1\n");
    assert_records(&w, Some("192.0.2.1"), Some("2001:db8::1"));
    let record = HOME.strip_suffix(&format!(".{ZONE}")).expect("a host in the zone");
    let joined = query(&format!("zone_name={ZONE}&record_name={record}&ipv4=192.0.2.2&ipv6=2001:db8::2&ttl=90"));
    logged.cgi(&w, &joined).expect(200, "good 192.0.2.2 2001:db8::2\n");
    assert_records(&w, Some("192.0.2.2"), Some("2001:db8::2"));
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(90, "192.0.2.2".to_owned())]);
    assert_eq!(w.dns.query_with_ttl(HOME, "AAAA"), [(90, "2001:db8::2".to_owned())]);
    // A POST form body reads the same.
    let post = Cgi::get("")
        .path("/update-by-query")
        .post("application/x-www-form-urlencoded", &format!("secret={t}&fqdn={HOME}&ipv4=192.0.2.3"));
    logged.cgi(&w, &post).expect(200, "good 192.0.2.3\n");
    assert_eq!(w.a(HOME), ["192.0.2.3"]);

    // Refused: no secret (the Basic challenge), unclear hostnames, two of one family, a
    // family parameter with the other family, a bad TTL, another host's token.
    refused(
        &w,
        &mut logged,
        &Cgi::get(&format!("fqdn={HOME}&ip_1=192.0.2.9")).path("/update-by-query"),
        401,
        "badauth\n",
    );
    refused(&w, &mut logged, &query(&format!("fqdn={HOME}&zone_name={ZONE}&record_name={record}")), 200, "notfqdn\n");
    refused(&w, &mut logged, &query(&format!("zone_name={ZONE}&ip_1=192.0.2.9")), 200, "notfqdn\n");
    refused(&w, &mut logged, &query("ip_1=192.0.2.9"), 200, "notfqdn\n");
    // `@` is no apex here: it names `@.ZONE`, not the token's hostname.
    refused(&w, &mut logged, &query(&format!("zone_name={ZONE}&record_name=@")), 401, "badauth\n");
    refused(&w, &mut logged, &query(&format!("fqdn={HOME}&ip_1=192.0.2.8&ip_2=192.0.2.9")), 200, "badip\n");
    refused(&w, &mut logged, &query(&format!("fqdn={HOME}&ipv4=2001:db8::9")), 200, "badip\n");
    refused(&w, &mut logged, &query(&format!("fqdn={HOME}&ttl=0")), 200, "badttl\n");
    let nas_token = new_token(&w, NAS, &[]);
    let other = Cgi::get(&format!("secret={nas_token}&fqdn={HOME}&ip_1=192.0.2.9")).path("/update-by-query");
    refused(&w, &mut logged, &other, 401, "badauth\n");
    let flask = Cgi::get(&format!("secret={FLASK_SECRET}&fqdn={HOME}&ip_1=192.0.2.9")).path("/update-by-query");
    refused(&w, &mut logged, &flask, 401, "badauth\n");
    assert_no_secrets(&w, &logged, &[t, &nas_token]);
}

#[test]
fn delete_by_path_and_by_query_remove_both_families() {
    let w = world!(token_world(LOG_REQUESTS));
    let mut logged = Logged::default();
    let token = new_token(&w, HOME, &[]);
    let t = token.as_str();
    let set = Cgi::get("").path(&format!("/update-by-path/{t}/{HOME}/192.0.2.1/2001:db8::1"));
    logged.cgi(&w, &set).expect(200, "good 192.0.2.1 2001:db8::1\n");
    assert_records(&w, Some("192.0.2.1"), Some("2001:db8::1"));
    // Another host's token deletes nothing.
    let nas_token = new_token(&w, NAS, &[]);
    refused(&w, &mut logged, &Cgi::get("").path(&format!("/delete-by-path/{nas_token}/{HOME}")), 401, "badauth\n");

    let by_path = Cgi::get("").path(&format!("/delete-by-path/{t}/{HOME}"));
    logged.cgi(&w, &by_path).expect(200, "good\n");
    assert_records(&w, None, None);
    assert_eq!(w.count(&format!("SELECT offline FROM hostnames WHERE fqdn = '{HOME}'")), 1);

    logged.cgi(&w, &set).expect(200, "good 192.0.2.1 2001:db8::1\n");
    assert_records(&w, Some("192.0.2.1"), Some("2001:db8::1"));
    let by_query = Cgi::get(&format!("secret={t}&fqdn={HOME}")).path("/delete-by-query");
    logged.cgi(&w, &by_query).expect(200, "good\n");
    assert_records(&w, None, None);
    logged.cgi(&w, &by_query).expect(200, "nochg\n");
    assert!(logged.0.contains("/delete-by-path/***"), "{}", logged.0);
    assert_no_secrets(&w, &logged, &[t, &nas_token]);
}

#[test]
fn update_by_path_through_fastcgi() {
    let w = world!(token_world(LOG_REQUESTS));
    let token = new_token(&w, HOME, &[]);
    let (launched, _, port) = world!(Launched::start(&w, Launcher::Listen));
    let mut c = FcgiClient::connect_tcp(port);
    let path = format!("/update-by-path/{token}/{HOME}/192.0.2.1/2001:db8::1");
    let params = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", path.as_str()),
        ("QUERY_STRING", ""),
        ("REMOTE_ADDR", CLIENT),
    ];
    let body = |raw: Vec<u8>| String::from_utf8_lossy(&raw).rsplit("\r\n\r\n").next().unwrap_or("").to_owned();
    assert!(c.request(1, true, &params, b""));
    assert_eq!(c.response(1).map(body).as_deref(), Some("good 192.0.2.1 2001:db8::1\n"), "{}", launched.log());
    assert_records(&w, Some("192.0.2.1"), Some("2001:db8::1"));
    // The repeat goes the resident path of a token's `nochg`.
    assert!(c.request(2, true, &params, b""));
    assert_eq!(c.response(2).map(body).as_deref(), Some("nochg 192.0.2.1 2001:db8::1\n"), "{}", launched.log());
    let log = launched.log();
    assert!(log.contains("/update-by-path/***"), "{log}");
    assert_no_secrets(&w, &Logged(log), &[&token]);
}

/// Every form through a shipped web-server config; no secret in any log of the stack, and
/// none of these URLs in the access log, which is written.
fn flask_urls_through(front: Front) {
    let w = world!(token_world("log_requests = true\n[rate_limit]\nenabled = false\n"));
    let Some(web) = WebServer::start(&w, front) else { return };
    let token = new_token(&w, HOME, &[]);
    let t = token.as_str();
    // Without an address, the client's (the web server's peer, 127.0.0.1).
    curl(&[&web.url(&format!("/update-by-path/{t}/{HOME}"))]).expect(200, "good 127.0.0.1\n");
    assert_records(&w, Some("127.0.0.1"), None);
    curl(&[&web.url(&format!("/update-by-path/{t}/{HOME}/192.0.2.1"))]).expect(200, "good 192.0.2.1\n");
    let both = web.url(&format!("/update-by-path/{t}/{HOME}/192.0.2.2/2001:db8::2"));
    curl(&[&both]).expect(200, "good 192.0.2.2 2001:db8::2\n");
    assert_records(&w, Some("192.0.2.2"), Some("2001:db8::2"));
    let query = web.url(&format!("/update-by-query?secret={t}&fqdn={HOME}&ip_1=192.0.2.3&ttl=120"));
    curl(&[&query]).expect(200, "good 192.0.2.3\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(120, "192.0.2.3".to_owned())]);
    curl(&[&web.url(&format!("/update-by-path/{FLASK_SECRET}/{HOME}/192.0.2.4"))]).expect(401, "badauth\n");
    curl(&[&web.url(&format!("/delete-by-path/{t}/{HOME}"))]).expect(200, "good\n");
    assert_records(&w, None, None);
    curl(&[&both]).expect(200, "good 192.0.2.2 2001:db8::2\n");
    curl(&[&web.url(&format!("/delete-by-query?secret={t}&fqdn={HOME}"))]).expect(200, "good\n");
    assert_records(&w, None, None);
    curl(&["-u", &format!("{USER}:{PASSWORD}"), &web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.5"))])
        .expect(200, "good 192.0.2.5\n");
    let logged = Logged(web.logs());
    assert!(logged.0.contains("/update-by-path/***"), "request lines are on:\n{}", logged.0);
    // Apache writes the access log line after the answer: wait for the last request's, and
    // the earlier ones are written too.
    let last = format!("GET /nic/update?hostname={HOME}&myip=192.0.2.5");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let access = loop {
        let access = std::fs::read_to_string(web.dir.join("access.log")).expect("access log");
        if access.contains(&last) || std::time::Instant::now() > deadline {
            break access;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(access.contains(&last), "{access}");
    assert!(!access.contains("-by-"), "a Flask URL in the access log:\n{access}");
    assert_no_secrets(&w, &logged, &[t]);
}

#[test]
fn flask_urls_through_nginx_fcgiwrap() {
    flask_urls_through(Front::NginxFcgiwrap);
}

#[test]
fn flask_urls_through_nginx_fastcgi() {
    flask_urls_through(Front::NginxFastcgi);
}

#[test]
fn flask_urls_through_apache_mod_cgi() {
    flask_urls_through(Front::ApacheCgi);
}

#[test]
fn flask_urls_through_apache_mod_fcgid() {
    flask_urls_through(Front::ApacheFcgid);
}
