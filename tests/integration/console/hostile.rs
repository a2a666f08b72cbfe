//! The console's security rules over HTTP, each checking that nothing changed: form posts
//! without the CSRF token, with another session's, from another site (`Origin`,
//! `Sec-Fetch-Site`); another user's host and token action (404, as a missing host); admin
//! pages for a non-admin; the headers and cookie flags; a login over plain HTTP from afar; and
//! parallel wrong passwords, each counted.

use super::*;
use crate::util::web::Front;
use crate::util::{Cgi, PASSWORD, USER};

fn tokens(world: &World) -> i64 {
    world.count("SELECT COUNT(*) FROM tokens")
}

fn refused(r: &Http) {
    assert_eq!(r.status, 403, "{}", r.raw);
    assert_security_headers(r);
}

fn hostile(front: Front) {
    let world = world!(console_world(""));
    world.update(&format!("hostname={HOME}&myip=192.0.2.60")).expect(200, "good 192.0.2.60\n");
    let Some(console) = Console::start(&world, front) else { return };
    let a = alice(&console);
    let b = console.login(BOB, BOB_PASSWORD);
    let offline = format!("/hosts/{HOME}/offline");
    let same = "Sec-Fetch-Site: same-origin";

    // No token, another session's token, a foreign Origin, a cross-site fetch: all 403.
    refused(&console.post(Some(&a), &offline, &[], &[same]));
    let bobs = console.csrf(&b, "/hosts");
    refused(&console.post(Some(&a), &offline, &[("csrf", &bobs)], &[same]));
    let mine = console.csrf(&a, "/hosts");
    refused(&console.post(Some(&a), &offline, &[("csrf", &mine)], &["Origin: https://evil.example"]));
    refused(&console.post(Some(&a), &offline, &[("csrf", &mine)], &["Sec-Fetch-Site: cross-site"]));
    refused(&console.post(Some(&a), &offline, &[("csrf", &mine)], &["Sec-Fetch-Site: same-site"]));
    refused(&console.post(None, &offline, &[("csrf", &mine)], &[same]));
    // A login from another site is refused before any password check.
    refused(&console.login_raw(USER, PASSWORD, &["Sec-Fetch-Site: cross-site"]));
    assert_eq!(world.a(HOME), ["192.0.2.60"], "a refused post changed DNS");
    // `Origin: null` (a page with no-referrer) with the token and same-origin passes.
    let r = console.post(
        Some(&a),
        &format!("/hosts/{HOME}/set"),
        &[("csrf", &mine), ("ipv4", "192.0.2.61")],
        &[same, "Origin: null"],
    );
    assert_eq!(r.status, 303, "{}", r.raw);
    assert_eq!(world.a(HOME), ["192.0.2.61"]);

    // Bob on alice's host: the 404 of a host that does not exist, and nothing changes.
    let missing = console.get(&b, "/hosts/nothing.dyn.example.test");
    let theirs = console.get(&b, &format!("/hosts/{HOME}"));
    assert_eq!((missing.status, theirs.status), (404, 404), "{}", theirs.raw);
    assert_eq!(missing.body, theirs.body);
    let n_tokens = tokens(&world);
    let r = console.post(Some(&b), &format!("/hosts/{HOME}/token"), &[("csrf", &bobs)], &[same]);
    assert_eq!((r.status, &r.body), (404, &missing.body), "{}", r.raw);
    let r = console.post(Some(&b), &offline, &[("csrf", &bobs)], &[same]);
    assert_eq!(r.status, 404, "{}", r.raw);
    assert_eq!(tokens(&world), n_tokens);
    assert_eq!(world.a(HOME), ["192.0.2.61"]);

    // Admin pages are not there for a non-admin.
    for path in ["/admin", "/admin/users", "/admin/audit"] {
        let r = console.get(&b, path);
        assert_eq!((r.status, &r.body), (404, &missing.body), "{path}: {}", r.raw);
    }

    // Headers on every page, the cookie's flags.
    for path in ["/hosts", &format!("/hosts/{HOME}"), "/account", "/nope", "/hosts/x.invalid"] {
        assert_security_headers(&console.get(&a, path));
    }
    assert_security_headers(&curl(&[&console.url("/login")]));
    let r = console.login_raw(USER, PASSWORD, &[]);
    let cookie = r.header("Set-Cookie").unwrap_or_default();
    for flag in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.split("; ").any(|f| f == flag), "{flag} missing: {cookie}");
    }
}

#[test]
fn hostile_nginx_fastcgi() {
    hostile(Front::NginxFastcgi);
}

#[test]
fn hostile_apache_cgi() {
    hostile(Front::ApacheCgi);
}

/// A login over plain HTTP from a non-loopback client is refused before its password is
/// checked (nothing counted); over TLS (`HTTPS=on`) it goes on.
#[test]
fn plain_http_login_from_afar_is_refused() {
    let world = world!(console_world(""));
    let body = format!("user={USER}&password={}", PASSWORD.replace(':', "%3A"));
    let login =
        Cgi::get("").path("/console/login").remote("192.0.2.7").post("application/x-www-form-urlencoded", &body);
    let r = world.cgi(&login);
    assert_eq!(r.status, 403, "{r:?}");
    assert!(r.header("Set-Cookie").is_none());
    let r = world.cgi(&login.env("HTTPS", "on"));
    assert_eq!(r.status, 303, "{r:?}");
    assert!(r.header("Set-Cookie").is_some_and(|c| c.starts_with("__Secure-ddns_session=")));
}

/// Wrong passwords sent together each count in the persisted limits (reserved before the
/// Argon2 run); once over, even the right password gets "too many attempts".
#[test]
fn parallel_wrong_logins_each_count() {
    let limits = "[rate_limit]\nbad_max_requests = 4\nbad_window_seconds = 600\n";
    let world = world!(console_world(limits));
    let Some(console) = Console::start(&world, Front::NginxFastcgi) else { return };
    let url = console.url("/login");
    let children: Vec<_> = (0..4)
        .map(|i| {
            std::process::Command::new("curl")
                .args([
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    "--data",
                    &format!("user={USER}&password=wrong{i}"),
                    &url,
                ])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("start curl")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().expect("curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    }
    assert_eq!(world.count("SELECT COUNT(*) FROM rate_limit WHERE scope = 'bad-user'"), 4);
    let r = console.login_raw(USER, PASSWORD, &[]);
    assert_eq!(r.status, 429, "{}", r.raw);
    assert!(r.body.contains("Too many attempts"), "{}", r.body);
    assert!(r.header("Set-Cookie").is_none());
}

/// A session ends after `[web] session_idle` without a request and after `session_lifetime`
/// in any case; an action's path read with GET changes nothing.
#[test]
fn sessions_end_and_get_changes_nothing() {
    let world = world!(console_world("session_idle = 600\nsession_lifetime = 3600\n"));
    world.update(&format!("hostname={HOME}&myip=192.0.2.90")).expect(200, "good 192.0.2.90\n");
    let body = format!("user={USER}&password={}", PASSWORD.replace(':', "%3A"));
    let login = || {
        let r = world.cgi(
            &Cgi::get("").path("/console/login").remote("127.0.0.1").post("application/x-www-form-urlencoded", &body),
        );
        let cookie = r.header("Set-Cookie").unwrap_or_else(|| panic!("{r:?}")).to_owned();
        cookie.split(';').next().unwrap_or_default().to_owned()
    };
    let get = |cookie: &str, path: &str| {
        world.cgi(&Cgi::get("").path(&format!("/console{path}")).remote("127.0.0.1").env("HTTP_COOKIE", cookie))
    };
    let cookie = login();
    assert_eq!(get(&cookie, "/hosts").status, 200);
    for path in [format!("/hosts/{HOME}/offline"), format!("/hosts/{HOME}/token"), "/logout".to_owned()] {
        let r = get(&cookie, &path);
        assert_eq!(r.status, 404, "GET {path}: {r:?}");
    }
    assert_eq!(world.a(HOME), ["192.0.2.90"]);
    assert_eq!(world.count("SELECT COUNT(*) FROM tokens"), 0);
    assert_eq!(get(&cookie, "/hosts").status, 200, "GET /logout ended the session");

    world.sql("UPDATE web_sessions SET last_seen = last_seen - 601");
    let r = get(&cookie, "/hosts");
    assert_eq!((r.status, r.header("Location")), (303, Some("/console/login")), "{r:?}");
    let cookie = login();
    world.sql("UPDATE web_sessions SET created_at = created_at - 3601");
    assert_eq!(get(&cookie, "/hosts").status, 303, "a session outlived its lifetime");
    assert_eq!(world.count("SELECT COUNT(*) FROM web_sessions"), 0);

    // `user passwd` on the command line ends the user's sessions at once.
    let cookie = login();
    assert_eq!(get(&cookie, "/hosts").status, 200);
    world.admin_stdin(&["user", "passwd", USER, "--password-stdin"], "another-password-7\n").success();
    assert_eq!(get(&cookie, "/hosts").status, 303, "a session outlived `user passwd`");
}

/// At the root of its origin (`[web] path = "/"`) the session cookie takes the `__Host-`
/// prefix with `Path=/`, and the update endpoints keep their paths.
#[test]
fn at_the_root_the_cookie_is_host_prefixed() {
    let world = world!(World::new(crate::util::Setup {
        extra_config: "[web]\npath = \"/\"\n",
        hosts: &[HOME],
        ..crate::util::Setup::default()
    }));
    let body = format!("user={USER}&password={}", PASSWORD.replace(':', "%3A"));
    let r =
        world.cgi(&Cgi::get("").path("/login").remote("127.0.0.1").post("application/x-www-form-urlencoded", &body));
    assert_eq!((r.status, r.header("Location")), (303, Some("/hosts")), "{r:?}");
    let cookie = r.header("Set-Cookie").unwrap_or_default();
    assert!(cookie.starts_with("__Host-ddns_session=") && cookie.contains("; Path=/;"), "{cookie}");
    assert!(
        cookie.contains("; Secure;") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap_or_default();
    let page = world.cgi(&Cgi::get("").path("/hosts").remote("127.0.0.1").env("HTTP_COOKIE", pair));
    assert!(page.status == 200 && page.body.contains(HOME), "{page:?}");
    world.update(&format!("hostname={HOME}&myip=192.0.2.95")).expect(200, "good 192.0.2.95\n");
    assert_eq!(world.a(HOME), ["192.0.2.95"]);
}
