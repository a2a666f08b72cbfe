//! The web console in a real browser: Debian's headless `chromium` driven over WebDriver
//! (`util::browser`), through the shipped web-server files (nginx with `ddns-cgi fastcgi`,
//! Apache with CGI), against a real Knot. Every page a test opens is checked with axe-core (no
//! serious or critical violation) and for errors in the browser's console (a resource that did
//! not load, a style or script the Content-Security-Policy refused); DNS effects are checked
//! by querying Knot. `harness` proves the browser harness itself on static pages; `flows`
//! walks a user's, an admin's and an invited user's way through the console with JavaScript
//! on and off; `xss` puts hostile values where the console shows them back and reads the DOM.
//! With `DDNS_SCREENSHOTS=1` the flows write the main pages at desktop and phone size to
//! `docs/src/images/console-*.png`.
//!
//! One browser driver per test and one login per user and test: starting Chromium and an
//! Argon2 check are the slow parts.

mod flows;
mod harness;
mod xss;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::util::browser::{Browser, Driver, Js, Size};
use crate::util::skip::parse_flag;
use crate::util::web::{Front, Http, WebServer, parse_http};
use crate::util::{Setup, World};

pub const HOME: &str = "home.dyn.example.test";
/// The console's public URL in the config. The tests reach it at the web server's loopback
/// address instead: a browser's form posts carry `Origin: null` under the console's
/// `Referrer-Policy: no-referrer`, and are judged by `Sec-Fetch-Site` and the CSRF token.
pub const WEB: &str = "[web]\nurl = \"https://ddns.example.test/console\"\n";

/// A world with the console on, behind `front`, and a browser driver.
pub struct Console {
    // Dropped in this order: the browsers' driver, then the web server, then the world.
    pub driver: Driver,
    pub web: WebServer,
    pub world: World,
}

impl Console {
    /// `None` (after a loud skip) only under `DDNS_SKIP_SERVERS=1`.
    pub fn start(front: Front, hosts: &[&str]) -> Option<Console> {
        let world = World::new(Setup { extra_config: WEB, hosts, ..Setup::default() })?;
        let web = WebServer::start(&world, front)?;
        let driver = Driver::start()?;
        Some(Console { driver, web, world })
    }

    /// The console's URL for `path` (below `/console`).
    pub fn url(&self, path: &str) -> String {
        self.web.url(&format!("/console{path}"))
    }

    /// A new browser session.
    pub fn browser(&mut self, js: Js, size: Size) -> Browser {
        self.driver.browser(js, size)
    }

    /// Sends a dyndns2 update through the web server with curl, the token in the query
    /// string; the URL goes to curl on its standard input, not in its arguments, where the
    /// process listing would show the token.
    pub fn update_with_token(&self, fqdn: &str, myip: &str, token: &str) -> Http {
        let url = self.web.url(&format!("/nic/update?hostname={fqdn}&myip={myip}&token={token}"));
        curl_config(&format!("url = \"{url}\"\n"))
    }
}

/// Runs `curl -i` with `config` (curl's config-file syntax) on its standard input.
pub fn curl_config(config: &str) -> Http {
    let mut child = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20", "-K", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run curl: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(config.as_bytes()).expect("write curl config");
    }
    let out = child.wait_with_output().expect("wait for curl");
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "curl failed: {}{raw}", String::from_utf8_lossy(&out.stderr));
    parse_http(&raw)
}

/// Logs `user` in on the login page the browser shows (or opens it first) and checks that
/// the console let them in.
#[track_caller]
pub fn log_in(c: &Console, b: &Browser, user: &str, password: &str) {
    if !b.path().starts_with("/console/login") {
        b.goto(&c.url("/login"));
    }
    b.fill("#login-user", user);
    b.fill("#login-password", password);
    b.click("#login-submit");
    assert_eq!(b.path(), "/console/hosts", "login as `{user}` did not reach the hosts page:\n{}", b.source());
}

/// Checks the page with axe (the test fails on a serious or critical violation), and under
/// `DDNS_SCREENSHOTS=1` writes it to `docs/src/images/console-NAME-SIZE.png`.
#[track_caller]
pub fn look(b: &Browser, name: &str) {
    quiet(b, name);
    let mild = b.axe(&format!("the console's {name} page"));
    if !mild.is_empty() {
        // Not a failure; shown with --nocapture so that someone can mend them.
        let list: String = mild.iter().map(ToString::to_string).collect();
        eprintln!("axe: milder violations on the {name} page:\n{list}");
    }
    if screenshots() {
        b.screenshot(&screenshot_path(name, b.size));
    }
}

/// The page loaded everything it asked for, and its Content-Security-Policy refused nothing
/// (a refused inline style or script is an error in the browser's console).
#[track_caller]
pub fn quiet(b: &Browser, name: &str) {
    let errors = b.console_errors();
    assert!(
        errors.is_empty(),
        "the browser logged errors on the console's {name} page ({}):\n{}",
        b.path(),
        errors.join("\n")
    );
}

fn screenshots() -> bool {
    match parse_flag("DDNS_SCREENSHOTS", std::env::var_os("DDNS_SCREENSHOTS").as_deref()) {
        Ok(on) => on.unwrap_or(false),
        Err(e) => panic!("{e}"),
    }
}

fn screenshot_path(name: &str, size: Size) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("docs/src/images")
        .join(format!("console-{name}-{}.png", size.name()))
}

/// The page's session cookie as chromium holds it, with its attributes.
#[track_caller]
pub fn session_cookie(b: &Browser) -> String {
    let cookies = b.cookies();
    let found = cookies.iter().find(|(name, _, _)| name.ends_with("ddns_session"));
    found.map(|(_, _, whole)| whole.clone()).unwrap_or_else(|| panic!("no session cookie in {cookies:?}"))
}
