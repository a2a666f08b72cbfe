//! Per-host tokens against a real Knot: `hostname token` prints one, and it updates its own
//! hostname in every form a device can send it (Basic with the hostname or the owner as user
//! name, the `password`/`token` parameters, `/update/TOKEN[/FQDN]` through CGI and through
//! the shipped nginx configs), without an Argon2 run. Scopes (types, source networks, expiry)
//! allow and refuse; replaced and revoked tokens, tokens for another hostname and wrong
//! tokens answer `badauth` and change neither the database nor DNS; wrong tokens count toward
//! the rate limit. Every test ends with a grep over everything it logged for the tokens.

use crate::util::web::{Front, WebServer, curl};
use crate::util::{Cgi, Response, Setup, USER, World, base64, epoch, has_token};

pub(crate) const HOME: &str = "home.dyn.example.test";
pub(crate) const NAS: &str = "nas.dyn.example.test";
/// Requests log their request line; limits are off unless a test brings its own.
pub(crate) const LOG_REQUESTS: &str = "log_requests = true\n";

pub(crate) fn token_world(extra: &'static str) -> Option<World> {
    World::new(Setup { extra_config: extra, hosts: &[HOME, NAS], ..Setup::default() })
}

/// A token-shaped secret that was never issued.
const NEVER_ISSUED: &str = "ddns_0000000000000000000000000000000000000000000";

/// `hostname token FQDN ARGS...`: the token it printed, checked for its shape.
#[track_caller]
pub(crate) fn new_token(w: &World, fqdn: &str, args: &[&str]) -> String {
    let mut all = vec!["hostname", "token", fqdn];
    all.extend_from_slice(args);
    let run = w.admin(&all);
    run.success();
    let out = run.stdout();
    let token = out.strip_suffix('\n').unwrap_or_else(|| panic!("one line expected: {out:?}"));
    assert!(token.starts_with("ddns_") && token.len() == 48, "{token:?}");
    assert!(token[5..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token:?}");
    assert!(run.stderr().is_empty(), "{}", run.stderr());
    token.to_owned()
}

/// Everything a test's requests and servers logged, to grep for tokens at the end.
#[derive(Default)]
pub(crate) struct Logged(pub(crate) String);

impl Logged {
    #[track_caller]
    pub(crate) fn cgi(&mut self, w: &World, req: &Cgi) -> Response {
        let r = w.cgi(req);
        self.0.push_str(&r.log);
        r
    }

    /// No token in any form: whole, its random part, a 16-character piece of it (truncated
    /// logging), or inside a Basic credential with any user name the tests use.
    #[track_caller]
    pub(crate) fn assert_no_tokens(&self, tokens: &[&str]) {
        assert!(!self.0.is_empty(), "nothing was logged");
        assert!(!has_token(&self.0), "a log contains a token-shaped secret:\n{}", self.0);
        for token in tokens {
            let mut forms = vec![token.to_string(), token[5..].to_owned(), token[20..36].to_owned()];
            for user in ["", USER, HOME, NAS, "bob"] {
                forms.push(base64(&format!("{user}:{token}")));
            }
            for form in forms {
                assert!(!self.0.contains(&form), "a log contains the token form `{form}`:\n{}", self.0);
            }
        }
    }
}

/// An update with a path token as CGI under Apache: SCRIPT_NAME is the endpoint, the rest is
/// PATH_INFO.
pub(crate) fn path_info(path_info: &str, query: &str) -> Cgi {
    Cgi::get(query).path("/update").env("PATH_INFO", path_info)
}

#[track_caller]
fn assert_a(w: &World, fqdn: &str, ip: Option<&str>) {
    assert_eq!(w.a(fqdn), ip.into_iter().map(str::to_owned).collect::<Vec<_>>(), "DNS A of {fqdn}");
    assert_eq!(w.stored(fqdn).0.as_deref(), ip, "stored IPv4 of {fqdn}");
}

/// The debug line `authenticate` logs before an Argon2 run.
fn ran_argon2(log: &str) -> bool {
    log.contains("argon2")
}

#[test]
fn every_token_form_updates_its_host_through_cgi() {
    let w = world!(token_world(LOG_REQUESTS));
    let mut logged = Logged::default();
    let token = new_token(&w, HOME, &[]);
    let t = token.as_str();
    let forms: Vec<(&str, Cgi)> = vec![
        ("Basic, hostname as user", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(HOME, t)),
        ("Basic, owner as user", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.2")).basic(USER, t)),
        ("Basic, no user name", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.3")).basic("", t)),
        ("password= with user", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.4&username={USER}&password={t}"))),
        ("password= with hostname as user", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.5&user={HOME}&pass={t}"))),
        ("token= without user", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.6&token={t}"))),
        ("token= without user or hostname", Cgi::get(&format!("myip=192.0.2.7&token={t}"))),
        (
            "token= in a POST body",
            Cgi::get("")
                .path("/update")
                .post("application/x-www-form-urlencoded", &format!("myip=192.0.2.8&token={t}")),
        ),
        ("PATH_INFO /TOKEN", path_info(&format!("/{t}"), "myip=192.0.2.9")),
        ("PATH_INFO /TOKEN/FQDN", path_info(&format!("/{t}/{HOME}"), "myip=192.0.2.10")),
        ("SCRIPT_NAME /update/TOKEN", Cgi::get("myip=192.0.2.11").path(&format!("/update/{t}"))),
        ("SCRIPT_NAME /update/TOKEN/FQDN", Cgi::get("myip=192.0.2.12").path(&format!("/update/{t}/{HOME}"))),
        (
            "REQUEST_URI only",
            Cgi::get("myip=192.0.2.13")
                .path("/cgi-bin/ddns-cgi")
                .env("REQUEST_URI", &format!("/update/{t}/{HOME}?myip=192.0.2.13")),
        ),
    ];
    for (i, (name, req)) in forms.iter().enumerate() {
        let ip = format!("192.0.2.{}", i + 1);
        let r = logged.cgi(&w, req);
        assert_eq!((r.status, r.body.as_str()), (200, format!("good {ip}\n").as_str()), "{name}:\n{}", r.log);
        assert!(!ran_argon2(&r.log), "{name}: a token must not cost an Argon2 run:\n{}", r.log);
        assert!(r.log.contains(&format!("host token of `{HOME}` accepted")), "{name}:\n{}", r.log);
        assert_a(&w, HOME, Some(&ip));
        // The other host of the same owner is untouched.
        assert_a(&w, NAS, None);
    }
    // The request line shows the path with the token redacted.
    assert!(logged.0.contains(" /update/*** client="), "{}", logged.0);
    // The owner's password still works beside the token.
    let r = logged.cgi(&w, &Cgi::get(&format!("hostname={NAS}&myip=192.0.2.99")).basic(USER, crate::util::PASSWORD));
    r.expect(200, "good 192.0.2.99\n");
    assert!(ran_argon2(&r.log), "{}", r.log);
    assert_a(&w, NAS, Some("192.0.2.99"));
    logged.assert_no_tokens(&[t]);
}

#[test]
fn refused_tokens_change_nothing() {
    let w = world!(token_world(LOG_REQUESTS));
    w.add_user("bob", "pw-bob");
    let mut logged = Logged::default();
    let home = new_token(&w, HOME, &[]);
    let nas = new_token(&w, NAS, &[]);
    let h = home.as_str();
    let cases: Vec<(&str, Cgi, &str)> = vec![
        ("HOME's token for NAS", Cgi::get(&format!("hostname={NAS}&myip=192.0.2.1&token={h}")), "cannot update"),
        ("HOME's token, Basic NAS", Cgi::get(&format!("hostname={NAS}&myip=192.0.2.1")).basic(NAS, h), "user name"),
        ("HOME's token in NAS's path", path_info(&format!("/{h}/{NAS}"), "myip=192.0.2.1"), "cannot update"),
        (
            "HOME's token for both",
            Cgi::get(&format!("hostname={HOME},{NAS}&myip=192.0.2.1")).basic(USER, h),
            "cannot update",
        ),
        ("another user's name", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic("bob", h), "user name"),
        ("unknown token", path_info(&format!("/{NEVER_ISSUED}"), "myip=192.0.2.1"), "unknown token"),
        (
            "unknown token, Basic",
            Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(HOME, NEVER_ISSUED),
            "unknown token",
        ),
        ("not a token, no user", Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1&token=guess")), "not a token"),
        ("truncated token", path_info(&format!("/{}", &h[..40]), "myip=192.0.2.1"), "not a token"),
    ];
    for (name, req, reason) in &cases {
        let r = logged.cgi(&w, req);
        assert_eq!((r.status, r.body.as_str()), (401, "badauth\n"), "{name}:\n{}", r.log);
        assert!(r.log.contains("token refused:") && r.log.contains(reason), "{name}: {reason}\n{}", r.log);
        assert!(!ran_argon2(&r.log), "{name}: a token must not cost an Argon2 run:\n{}", r.log);
        assert_a(&w, HOME, None);
        assert_a(&w, NAS, None);
    }
    // The hostname as user name with a password (not a token) is an unknown user: Argon2
    // runs against the dummy hash, as for any unknown user.
    let r = logged.cgi(&w, &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(HOME, "not-a-token"));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("unknown user") && ran_argon2(&r.log), "{}", r.log);
    // Each token still works for its own host.
    logged.cgi(&w, &path_info(&format!("/{nas}"), "myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    assert_a(&w, NAS, Some("192.0.2.2"));
    assert_a(&w, HOME, None);
    logged.assert_no_tokens(&[h, &nas]);
}

#[test]
fn replaced_and_revoked_tokens_are_refused() {
    let w = world!(token_world(LOG_REQUESTS));
    let mut logged = Logged::default();
    let first = new_token(&w, HOME, &[]);
    logged.cgi(&w, &path_info(&format!("/{first}"), "myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");

    let second = new_token(&w, HOME, &[]);
    assert_ne!(first, second);
    let r = logged.cgi(&w, &path_info(&format!("/{first}"), "myip=192.0.2.2"));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("unknown token"), "{}", r.log);
    assert_a(&w, HOME, Some("192.0.2.1"));
    logged.cgi(&w, &path_info(&format!("/{second}"), "myip=192.0.2.3")).expect(200, "good 192.0.2.3\n");
    assert_a(&w, HOME, Some("192.0.2.3"));

    let listed = w.admin(&["hostname", "list"]).success().stdout();
    assert!(listed.lines().next().is_some_and(|l| l.ends_with("  TOKEN")), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with(HOME) && l.ends_with("  any")), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with(NAS) && l.ends_with("  -")), "{listed}");
    let json = w.admin(&["hostname", "list", "--json"]).success().stdout();
    assert!(json.contains("\"token\":{\"types\":null,\"from\":null,\"expires\":null,\"created_at\":"), "{json}");
    assert!(json.contains("\"token\":null"), "{json}");
    for out in [&listed, &json] {
        assert!(!out.contains(&second) && !out.contains(&second[5..]), "{out}");
    }

    let r = w.admin(&["hostname", "token", HOME, "--revoke"]);
    assert_eq!(r.success().stdout(), format!("token of `{HOME}` revoked\n"));
    let r = logged.cgi(&w, &path_info(&format!("/{second}"), "myip=192.0.2.4"));
    r.expect(401, "badauth\n");
    assert_a(&w, HOME, Some("192.0.2.3"));
    let again = w.admin(&["hostname", "token", HOME, "--revoke"]);
    assert_eq!((again.code(), again.stderr()), (Some(1), format!("error: hostname `{HOME}` has no token\n")));
    let listed = w.admin(&["hostname", "list"]).success().stdout();
    assert!(listed.lines().any(|l| l.starts_with(HOME) && l.ends_with("  -")), "{listed}");

    // Deleting the hostname deletes its token: a host of the same name added later does not
    // inherit it.
    let third = new_token(&w, NAS, &[]);
    w.admin(&["hostname", "delete", NAS]).success();
    w.admin(&["hostname", "add", USER, NAS, crate::util::ZONE]).success();
    logged.cgi(&w, &path_info(&format!("/{third}"), "myip=192.0.2.5")).expect(401, "badauth\n");
    assert_a(&w, NAS, None);
    logged.assert_no_tokens(&[&first, &second, &third]);
}

#[test]
fn token_command_errors() {
    let w = world!(token_world(""));
    let check = |args: &[&str], code: i32, message: &str| {
        let mut all = vec!["hostname", "token"];
        all.extend_from_slice(args);
        let r = w.admin(&all);
        assert_eq!(r.code(), Some(code), "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains(message), "{args:?}: {}", r.stderr());
        assert_eq!(r.stdout(), "", "{args:?}");
    };
    check(&["nobody.dyn.example.test"], 1, "hostname `nobody.dyn.example.test` does not exist");
    check(&["nobody.dyn.example.test", "--revoke"], 1, "does not exist");
    check(&[HOME, "--types", "A,MX"], 2, "`MX` is not a record type a token can be limited to");
    check(&[HOME, "--from", "192.0.2.0/40"], 2, "`192.0.2.0/40` has a prefix length outside 0..=32");
    check(&[HOME, "--expires", "2027-02-30"], 2, "`2027-02-30` is not a date; use YYYY-MM-DD");
    check(&[HOME, "--expires", "2001-01-01"], 2, "`--expires` `2001-01-01` is in the past");
    check(&[HOME, "--revoke", "--types", "A"], 2, "cannot be used with");
    check(&["bad_name"], 2, "`bad_name` is not a valid hostname");
    // None of these stored a token.
    let json = w.admin(&["hostname", "list", "--json"]).success().stdout();
    assert!(!json.contains("\"token\":{"), "{json}");
    // A password of a token's shape could never be used as one; it is refused.
    let r = w.admin_stdin(&["user", "passwd", USER, "--password-stdin"], &format!("{NEVER_ISSUED}\n"));
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains("must not look like a host token"), "{}", r.stderr());
}

/// `YYYY-MM-DD` of the UTC day `days` after today.
fn utc_date(days: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{}", epoch() + days * 86_400), "+%F"])
        .output()
        .expect("run date");
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

#[test]
fn scopes_allow_and_refuse() {
    let w = world!(token_world(LOG_REQUESTS));
    let mut logged = Logged::default();
    #[track_caller]
    fn refused(logged: &mut Logged, w: &World, req: &Cgi, scope: &str) {
        let r = logged.cgi(w, req);
        r.expect(401, "badauth\n");
        assert!(r.log.contains(&format!("is outside its {scope} scope")), "{scope}:\n{}", r.log);
    }

    // Record types: AAAA only.
    let t = new_token(&w, HOME, &["--types", "aaaa"]);
    refused(&mut logged, &w, &path_info(&format!("/{t}"), "myip=192.0.2.1"), "type");
    refused(&mut logged, &w, &path_info(&format!("/{t}"), "myip=192.0.2.1,2001:db8::1"), "type");
    // The client's own (IPv4) address is an A change too.
    refused(&mut logged, &w, &path_info(&format!("/{t}"), ""), "type");
    assert_a(&w, HOME, None);
    assert_eq!(w.aaaa(HOME), Vec::<String>::new());
    logged.cgi(&w, &path_info(&format!("/{t}"), "myip6=2001:db8::1")).expect(200, "good 2001:db8::1\n");
    assert_eq!(w.aaaa(HOME), ["2001:db8::1"]);
    assert_eq!(w.stored(HOME), (None, Some("2001:db8::1".into())));
    // TXT is accepted in the scope syntax.
    let txt = new_token(&w, NAS, &["--types", "TXT,A"]);
    logged.cgi(&w, &path_info(&format!("/{txt}"), "myip=192.0.2.5")).expect(200, "good 192.0.2.5\n");
    assert_a(&w, NAS, Some("192.0.2.5"));
    let listed = w.admin(&["hostname", "list"]).success().stdout();
    assert!(listed.lines().any(|l| l.starts_with(NAS) && l.ends_with("  types=A,TXT")), "{listed}");

    // Source networks: the client address (REMOTE_ADDR here) must be inside one.
    let t = new_token(&w, HOME, &["--from", "192.0.2.0/24,2001:db8::/32"]);
    let outside = path_info(&format!("/{t}"), "myip=192.0.2.2").remote("198.51.100.7");
    refused(&mut logged, &w, &outside, "network");
    assert_a(&w, HOME, None);
    let inside = path_info(&format!("/{t}"), "myip=192.0.2.2").remote("192.0.2.200");
    logged.cgi(&w, &inside).expect(200, "good 192.0.2.2\n");
    assert_a(&w, HOME, Some("192.0.2.2"));
    let inside6 = path_info(&format!("/{t}"), "myip=192.0.2.3").remote("2001:db8:1::9");
    logged.cgi(&w, &inside6).expect(200, "good 192.0.2.3\n");
    assert_a(&w, HOME, Some("192.0.2.3"));

    // Expiry: a token whose date has passed is refused (the command refuses a past date, so
    // the stored end is moved back to the start of today); one that expires at the end of
    // today works.
    let expired = new_token(&w, HOME, &["--expires", &utc_date(0)]);
    w.sql(&format!("UPDATE tokens SET expires_at = {}", epoch() - epoch().rem_euclid(86_400)));
    refused(&mut logged, &w, &path_info(&format!("/{expired}"), "myip=192.0.2.4"), "expiry");
    assert_a(&w, HOME, Some("192.0.2.3"));
    let today = new_token(&w, HOME, &["--expires", &utc_date(0), "--types", "A", "--from", "198.51.100.0/24"]);
    logged.cgi(&w, &path_info(&format!("/{today}"), "myip=192.0.2.4")).expect(200, "good 192.0.2.4\n");
    assert_a(&w, HOME, Some("192.0.2.4"));
    let listed = w.admin(&["hostname", "list"]).success().stdout();
    let expected = format!("  types=A;from=198.51.100.0/24;expires={}", utc_date(0));
    assert!(listed.lines().any(|l| l.starts_with(HOME) && l.ends_with(&expected)), "{listed}");
    let json = w.admin(&["hostname", "list", "--json"]).success().stdout();
    let expected =
        format!("\"token\":{{\"types\":[\"A\"],\"from\":[\"198.51.100.0/24\"],\"expires\":\"{}\"", utc_date(0));
    assert!(json.contains(&expected), "{json}");
    logged.assert_no_tokens(&[&t, &txt, &expired, &today]);
}

#[test]
fn wrong_tokens_count_toward_the_rate_limit() {
    let w = world!(token_world("log_requests = true\n[rate_limit]\nbad_max_requests = 3\n"));
    let mut logged = Logged::default();
    let token = new_token(&w, HOME, &[]);
    // Three wrong tokens from one address, in three forms.
    let wrong = [
        path_info(&format!("/{NEVER_ISSUED}"), "myip=192.0.2.1"),
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1&token={NEVER_ISSUED}")),
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(HOME, NEVER_ISSUED),
    ];
    for req in &wrong {
        logged.cgi(&w, req).expect(401, "badauth\n");
    }
    // Now even the right token from that address is not checked.
    let right = path_info(&format!("/{token}"), "myip=192.0.2.2");
    let r = logged.cgi(&w, &right);
    r.expect(200, "abuse\n");
    assert!(r.log.contains("rate limit:") && !r.log.contains("host token"), "{}", r.log);
    assert_a(&w, HOME, None);
    // From another address it works.
    logged.cgi(&w, &right.clone().remote("198.51.100.200")).expect(200, "good 192.0.2.2\n");
    assert_a(&w, HOME, Some("192.0.2.2"));
    // The hostname used as a Basic user name is a per-user key like any other: wrong tokens
    // for it from many addresses stop the next one.
    for i in 0..3 {
        let req = Cgi::get(&format!("myip=192.0.2.3&hostname={NAS}")).basic(NAS, NEVER_ISSUED);
        logged.cgi(&w, &req.remote(&format!("203.0.113.{i}"))).expect(401, "badauth\n");
    }
    let nas = new_token(&w, NAS, &[]);
    let r = logged.cgi(&w, &Cgi::get(&format!("myip=192.0.2.3&hostname={NAS}")).basic(NAS, &nas).remote("203.0.113.9"));
    r.expect(200, "abuse\n");
    assert_a(&w, NAS, None);
    logged.assert_no_tokens(&[&token, &nas]);
}

/// The path forms through a shipped web-server config: good updates, a wrong token, the other
/// host refused, and no token in any log of the stack (error and access logs, fcgiwrap's or
/// `ddns-cgi fastcgi`'s output).
fn path_tokens_through(front: Front) {
    let w = world!(token_world("log_requests = true\n[rate_limit]\nenabled = false\n"));
    let Some(web) = WebServer::start(&w, front) else { return };
    let token = new_token(&w, HOME, &[]);
    let t = token.as_str();
    curl(&[&web.url(&format!("/update/{t}?myip=192.0.2.1"))]).expect(200, "good 192.0.2.1\n");
    assert_a(&w, HOME, Some("192.0.2.1"));
    curl(&[&web.url(&format!("/update/{t}/{HOME}?myip=192.0.2.2"))]).expect(200, "good 192.0.2.2\n");
    assert_a(&w, HOME, Some("192.0.2.2"));
    // Without `myip` the client's address (nginx's peer, 127.0.0.1) is published.
    curl(&[&web.url(&format!("/update/{t}/{HOME}/"))]).expect(200, "good 127.0.0.1\n");
    assert_a(&w, HOME, Some("127.0.0.1"));
    curl(&[&web.url(&format!("/update/{NEVER_ISSUED}/{HOME}?myip=192.0.2.3"))]).expect(401, "badauth\n");
    curl(&[&web.url(&format!("/update/{t}/{NAS}?myip=192.0.2.3"))]).expect(401, "badauth\n");
    curl(&[&web.url(&format!("/nic/update/{t}?myip=192.0.2.4"))]).expect(200, "good 192.0.2.4\n");
    assert_a(&w, HOME, Some("192.0.2.4"));
    // Basic with the hostname as user name, through the same server. (Not a query-string
    // token: the access log records query strings, as it does `password=`; see README.)
    curl(&["-u", &format!("{HOME}:{t}"), &web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.5"))])
        .expect(200, "good 192.0.2.5\n");
    assert_a(&w, HOME, Some("192.0.2.5"));
    assert_a(&w, NAS, None);
    // Every log of the stack: the error and access logs, and fcgiwrap's or `ddns-cgi
    // fastcgi`'s output (the request lines under nginx; Apache puts them in its error log).
    let logged = Logged(web.logs());
    assert!(logged.0.contains("/update/***"), "request lines are on:\n{}", logged.0);
    // The access log is written, only without the token paths.
    let access = std::fs::read_to_string(web.dir.join("access.log")).expect("access log");
    assert!(access.contains(&format!("GET /nic/update?hostname={HOME}&myip=192.0.2.5")), "{access}");
    logged.assert_no_tokens(&[t]);
}

#[test]
fn path_tokens_through_nginx_fcgiwrap() {
    path_tokens_through(Front::NginxFcgiwrap);
}

#[test]
fn path_tokens_through_nginx_fastcgi() {
    path_tokens_through(Front::NginxFastcgi);
}

#[test]
fn path_tokens_through_apache_mod_cgi() {
    path_tokens_through(Front::ApacheCgi);
}

#[test]
fn path_tokens_through_apache_mod_fcgid() {
    path_tokens_through(Front::ApacheFcgid);
}
