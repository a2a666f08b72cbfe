//! A user's way through the console in chromium, through nginx + `ddns-cgi fastcgi` and
//! through Apache + CGI, with JavaScript on and off: logging in (a wrong password first),
//! creating a token for a host, an update with it by curl that the host page then shows
//! stored and in Knot's answer, revoking it (the token then answers `badauth`), taking the
//! host offline (its records leave Knot) and setting its address by hand, changing the
//! password (the user's second browser is logged out, the first stays in), logging out; and an
//! invited user setting a password from the link and logging in. Every page on the way passes
//! axe. The last test walks the main pages at desktop and phone size, where the screenshots
//! of the documentation come from (`DDNS_SCREENSHOTS=1`).

use super::{Console, HOME, log_in, look, quiet, session_cookie};
use crate::util::browser::{Browser, Js, Size};
use crate::util::web::Front;
use crate::util::{PASSWORD, USER};

const NAS: &str = "nas.dyn.example.test";
const NEW_PASSWORD: &str = "a-new-passphrase-7";

/// The host page's URL path.
fn host_path(fqdn: &str) -> String {
    format!("/console/hosts/{fqdn}")
}

#[track_caller]
fn check(b: &Browser, what: &str) {
    quiet(b, what);
    b.axe(&format!("the console's {what} page"));
}

/// The user's flow, on a fresh world behind `front`, with JavaScript `js`.
fn user_flow(front: Front, js: Js) {
    let Some(mut c) = Console::start(front, &[HOME]) else { return };
    let b = c.browser(js, Size::Desktop);

    // Not logged in: the console sends the browser to its login page.
    b.goto(&c.url("/hosts"));
    assert!(b.path().starts_with("/console/login"), "{}", b.url());
    check(&b, "login");
    b.fill("#login-user", USER);
    b.fill("#login-password", "not-the-password");
    b.click("#login-submit");
    assert!(b.has("#login-error"), "a wrong password must say so:\n{}", b.source());
    check(&b, "refused login");
    log_in(&c, &b, USER, PASSWORD);
    let cookie = session_cookie(&b);
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(cookie.contains(flag), "the session cookie lacks {flag}: {cookie}");
    }
    assert!(b.texts(".host-link").contains(&HOME.to_owned()), "{}", b.source());
    check(&b, "hosts");
    // The same user in a second browser, to be logged out by the password change.
    let second = c.browser(js, Size::Desktop);
    log_in(&c, &second, USER, PASSWORD);

    // A token for HOME, and an update with it.
    b.click(".host-link");
    assert_eq!(b.path(), host_path(HOME));
    assert_eq!(b.text("#fqdn"), HOME);
    check(&b, "host");
    b.click("#token-submit");
    let token = b.text("#token-value");
    assert!(token.starts_with("ddns_") && token.len() == 48, "{token:?}");
    assert!(b.has("#recipes"), "the token comes with the devices' settings");
    check(&b, "new token");
    let r = c.update_with_token(HOME, "192.0.2.44", &token);
    assert_eq!((r.status, r.body.as_str()), (200, "good 192.0.2.44\n"), "{}", r.raw);
    assert_eq!(c.world.a(HOME), ["192.0.2.44"]);
    b.goto(&c.url(&format!("/hosts/{HOME}")));
    assert_eq!(b.text("#stored-a"), "192.0.2.44");
    assert_eq!(b.text("#dns-a"), "192.0.2.44");
    assert!(b.text("#history-table").contains("good"), "{}", b.text("#history-table"));
    assert!(!b.has("#token-value"), "a token is shown once");

    // Revoked, the token answers badauth and changes nothing.
    b.click("#revoke-submit");
    assert_eq!(b.text("#fqdn"), HOME);
    assert!(!b.has("#revoke-submit"), "no token left to revoke:\n{}", b.source());
    check(&b, "host without a token");
    let r = c.update_with_token(HOME, "192.0.2.45", &token);
    assert_eq!((r.status, r.body.as_str()), (401, "badauth\n"), "{}", r.raw);
    assert_eq!(c.world.a(HOME), ["192.0.2.44"]);

    // Offline: the A record leaves Knot; an address set by hand brings it back.
    b.click("#offline-submit");
    assert!(b.has("#offline-note"), "{}", b.source());
    assert_eq!(c.world.a(HOME), Vec::<String>::new());
    assert!(!b.text("#dns-a").contains("192.0.2.44"), "{}", b.text("#dns-a"));
    check(&b, "offline host");
    b.fill("#set-address input[name=ipv4]", "198.51.100.7");
    b.click("#set-submit");
    assert_eq!(c.world.a(HOME), ["198.51.100.7"]);
    assert_eq!(b.text("#stored-a"), "198.51.100.7");
    assert_eq!(b.text("#dns-a"), "198.51.100.7");
    assert!(!b.has("#offline-note"));

    // The password: the other session ends, this one stays.
    b.click("#nav-account");
    assert_eq!(b.text("#account-user"), USER);
    check(&b, "account");
    b.fill("#password input[name=current]", PASSWORD);
    b.fill("#password input[name=new]", NEW_PASSWORD);
    b.fill("#password input[name=repeat]", NEW_PASSWORD);
    b.click("#password-submit");
    assert!(b.has("#notice"), "{}", b.source());
    check(&b, "account after the change");
    second.goto(&c.url("/hosts"));
    assert!(second.path().starts_with("/console/login"), "the other session survived: {}", second.url());
    b.goto(&c.url("/hosts"));
    assert_eq!(b.path(), "/console/hosts", "the session that changed the password ended");
    second.fill("#login-user", USER);
    second.fill("#login-password", PASSWORD);
    second.click("#login-submit");
    assert!(second.has("#login-error"), "the old password still works");
    log_in(&c, &second, USER, NEW_PASSWORD);

    // Logging out ends the session.
    b.click("#logout button");
    assert!(b.path().starts_with("/console/login"), "{}", b.url());
    b.goto(&c.url("/hosts"));
    assert!(b.path().starts_with("/console/login"), "logged out, yet {}", b.url());

    invitation(&mut c, js);
}

/// An invited user opens the link, sets a password and logs in; the link works once.
fn invitation(c: &mut Console, js: Js) {
    let out = c.world.admin(&["user", "invite", "carol", "carol@example.test"]).success().stdout();
    let link = out.lines().next().unwrap_or_default();
    let path = link.strip_prefix("https://ddns.example.test").unwrap_or_else(|| panic!("not a link: {out}"));
    let b = c.browser(js, Size::Desktop);
    b.goto(&c.web.url(path));
    assert!(b.text("h1").contains("carol"), "{}", b.source());
    check(&b, "invitation");
    let password = "carols-password-1";
    b.fill("#invite input[name=new]", password);
    b.fill("#invite input[name=repeat]", password);
    b.click("#invite-submit");
    assert!(b.path().starts_with("/console/login"), "{}", b.url());
    log_in(c, &b, "carol", password);
    assert!(b.has("#no-hosts"), "carol has no hostnames yet:\n{}", b.source());
    check(&b, "hosts without hostnames");
    b.goto(&c.web.url(path));
    assert!(!b.has("#invite-submit"), "the link worked twice:\n{}", b.source());
}

#[test]
fn a_user_and_an_invited_user_through_nginx_fastcgi_with_javascript_on() {
    user_flow(Front::NginxFastcgi, Js::On);
}

#[test]
fn a_user_and_an_invited_user_through_apache_cgi_with_javascript_off() {
    user_flow(Front::ApacheCgi, Js::Off);
}

/// The main pages at desktop and phone size, with a host that has a history, checked with
/// axe at both sizes (and written as screenshots under `DDNS_SCREENSHOTS=1`).
#[test]
fn the_main_pages_at_desktop_and_phone_size() {
    let Some(mut c) = Console::start(Front::NginxFastcgi, &[HOME, NAS]) else { return };
    c.world.admin(&["user", "admin", USER]).success();
    // A history worth showing: updates from a router over a few addresses, one refused.
    for (host, query) in [
        (HOME, "myip=203.0.113.10"),
        (HOME, "myip=203.0.113.10,2001:db8:10::1"),
        (HOME, "myip=203.0.113.24,2001:db8:10::1"),
        (HOME, "myip=999.1.1.1"),
        (NAS, "myip=198.51.100.20"),
    ] {
        c.world.update(&format!("hostname={host}&{query}"));
    }
    for size in [Size::Desktop, Size::Phone] {
        let b = c.browser(Js::On, size);
        b.goto(&c.url("/login"));
        look(&b, "login");
        log_in(&c, &b, USER, PASSWORD);
        look(&b, "hosts");
        b.goto(&c.url(&format!("/hosts/{HOME}")));
        look(&b, "host");
        b.click("#token-submit");
        assert!(b.has("#token-value"), "{size:?} {}:\n{}", b.url(), b.source());
        look(&b, "token");
        b.click("#nav-account");
        look(&b, "account");
        // alice is an admin here, so the tour shows the admin pages too.
        b.click("#nav-admin");
        b.fill("#invite-user input[name=name]", &format!("dana-{}", size.name()));
        b.fill("#invite-user input[name=email]", "dana@example.test");
        b.click("#invite-user-submit");
        look(&b, "admin-users");
        let link = b.text("#invitation-link");
        b.click("#tab-audit");
        look(&b, "admin-audit");
        let path = link.strip_prefix("https://ddns.example.test").unwrap_or_default().to_owned();
        let guest = c.browser(Js::On, size);
        guest.goto(&c.web.url(&path));
        look(&guest, "invitation");
    }
}
