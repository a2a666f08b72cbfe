//! The web console over HTTP, through nginx + `ddns-cgi fastcgi` and Apache + CGI (the shipped
//! snippets), against a real Knot: logging in, tokens, actions, the account, invitations, and
//! the security rules (CSRF, cross-site posts, other users' hosts, headers, cookie flags,
//! plain-HTTP logins, login rate limits). DNS effects are checked by querying Knot. The
//! browser-driven tests (chromium) are elsewhere; these speak HTTP with curl.

mod admin;
mod flows;
mod hostile;

use crate::util::web::{Front, Http, WebServer, curl};
use crate::util::{PASSWORD, Setup, USER, World};

pub const HOME: &str = "home.dyn.example.test";
pub const NAS: &str = "nas.dyn.example.test";
pub const BOB: &str = "bob";
pub const BOB_PASSWORD: &str = "bob-password-1";
pub const WEB: &str = "[web]\nurl = \"https://ddns.example.test/console\"\n";

/// A world with the console on, `alice` owning HOME and `bob` owning NAS.
pub fn console_world(extra: &str) -> Option<World> {
    let config = format!("{WEB}{extra}");
    let world = World::new(Setup { extra_config: &config, hosts: &[HOME], ..Setup::default() })?;
    world.add_user(BOB, BOB_PASSWORD);
    world.admin(&["hostname", "add", BOB, NAS, crate::util::ZONE]).success();
    Some(world)
}

/// A logged-in browser, as far as HTTP goes: its session cookie.
#[derive(Clone, Debug)]
pub struct Browser {
    pub cookie: String,
}

/// The console behind a web server.
pub struct Console {
    pub web: WebServer,
}

impl Console {
    pub fn start(world: &World, front: Front) -> Option<Console> {
        Some(Console { web: WebServer::start(world, front)? })
    }

    pub fn url(&self, path: &str) -> String {
        self.web.url(&format!("/console{path}"))
    }

    /// Logs in; panics unless the console answers with a session.
    pub fn login(&self, user: &str, password: &str) -> Browser {
        let r = self.login_raw(user, password, &[]);
        assert_eq!(r.status, 303, "{}", r.raw);
        let cookie = r.header("Set-Cookie").unwrap_or_else(|| panic!("no cookie: {}", r.raw));
        let pair = cookie.split(';').next().unwrap_or_default().to_owned();
        assert!(pair.starts_with("__Secure-ddns_session="), "{cookie}");
        Browser { cookie: pair }
    }

    pub fn login_raw(&self, user: &str, password: &str, headers: &[&str]) -> Http {
        let mut args: Vec<String> = vec![
            "--data-urlencode".into(),
            format!("user={user}"),
            "--data-urlencode".into(),
            format!("password={password}"),
        ];
        for h in headers {
            args.push("-H".into());
            args.push((*h).to_owned());
        }
        args.push(self.url("/login"));
        curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    pub fn get(&self, b: &Browser, path: &str) -> Http {
        curl(&["-H", &format!("Cookie: {}", b.cookie), &self.url(path)])
    }

    /// The CSRF token on the page at `path` (every page with a form holds it).
    pub fn csrf(&self, b: &Browser, path: &str) -> String {
        let page = self.get(b, path);
        csrf_of(&page.body).unwrap_or_else(|| panic!("no csrf field on {path}: {}", page.raw))
    }

    /// Posts `fields` (URL-encoded) with the session cookie and `headers`.
    pub fn post(&self, b: Option<&Browser>, path: &str, fields: &[(&str, &str)], headers: &[&str]) -> Http {
        let mut args: Vec<String> = Vec::new();
        if let Some(b) = b {
            args.extend(["-H".to_owned(), format!("Cookie: {}", b.cookie)]);
        }
        for h in headers {
            args.extend(["-H".to_owned(), (*h).to_owned()]);
        }
        for (k, v) in fields {
            args.extend(["--data-urlencode".to_owned(), format!("{k}={v}")]);
        }
        if fields.is_empty() {
            args.extend(["--data".to_owned(), String::new()]);
        }
        args.push(self.url(path));
        curl(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Posts a form of the page at `page` with its CSRF token, as a browser on the same
    /// origin does.
    pub fn submit(&self, b: &Browser, page: &str, action: &str, fields: &[(&str, &str)]) -> Http {
        let csrf = self.csrf(b, page);
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post(Some(b), action, &all, &["Sec-Fetch-Site: same-origin"])
    }
}

pub fn csrf_of(body: &str) -> Option<String> {
    let at = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let rest = &body[at..];
    Some(rest[..rest.find('"')?].to_owned())
}

/// The text of the element with `id` (up to its first `<`), for simple cells.
pub fn text_of(body: &str, id: &str) -> Option<String> {
    let at = body.find(&format!("id=\"{id}\""))?;
    let rest = &body[at..];
    let start = rest.find('>')? + 1;
    let end = rest[start..].find('<')?;
    Some(rest[start..start + end].trim().to_owned())
}

/// The headers every console answer carries.
#[track_caller]
pub fn assert_security_headers(r: &Http) {
    let csp = r.header("Content-Security-Policy").unwrap_or_else(|| panic!("no CSP: {}", r.raw));
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"), "{}", r.raw);
    assert_eq!(r.header("Referrer-Policy"), Some("no-referrer"), "{}", r.raw);
    if r.header("Content-Type").is_some_and(|t| t.starts_with("text/html")) {
        assert_eq!(r.header("Cache-Control"), Some("no-store"), "{}", r.raw);
    }
}

pub fn alice(console: &Console) -> Browser {
    console.login(USER, PASSWORD)
}
