//! Hostile values where the console shows them back, read in chromium's DOM with
//! JavaScript on: a user name on the refused login form (an attribute), a TXT value (stored
//! and in Knot's answer), a hostname and an address that updates were refused for (the
//! admin's audit trail), a hostname in a console URL, and a mail address (refused, then an
//! odd but valid one in an attribute). Each payload would add an element with a known id
//! and set a `window` variable if the page took it as markup; the test checks that no such
//! element exists, that no such variable was set, and that the value shows as the text it is.

use super::{Console, HOME, log_in, quiet};
use crate::util::browser::{Browser, Js, Size};
use crate::util::web::Front;
use crate::util::{PASSWORD, USER};

/// The ids the payloads would create.
const IDS: [&str; 6] = ["xss-login", "xss-txt", "xss-ip", "xss-path", "xss-host", "xss-mail"];

const LOGIN: &str = r#""><img id=xss-login src=x onerror="window.xss='login'"><script>window.xss='login'</script>"#;
const TXT: &str = r#"<script>window.xss='txt'</script><img id=xss-txt src=x onerror="window.xss='txt'">"#;
const IP: &str = "<img id=xss-ip src=x onerror=window.xss=1>";
const PATH: &str = "<img id=xss-path src=x onerror=window.xss=1>";
const HOST: &str = "<b id=xss-host>x</b>.dyn.example.test";
const MAIL: &str = r#""><img id=xss-mail src=x onerror="window.xss='mail'">@example.test"#;

/// Nothing was injected and nothing ran on the page the browser shows.
#[track_caller]
fn clean(b: &Browser, what: &str) {
    for id in IDS {
        assert!(!b.has(&format!("#{id}")), "{what}: an element `#{id}` was injected:\n{}", b.source());
    }
    let ran = b.script("return window.xss === undefined ? null : String(window.xss);", vec![]);
    assert!(ran.is_null(), "{what}: a payload ran ({ran}):\n{}", b.source());
    quiet(b, what);
    b.axe(what);
}

/// Percent-encodes every byte but unreserved ones, for a path segment.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn hostile_values_show_as_text_and_run_nothing() {
    let Some(mut c) = Console::start(Front::NginxFastcgi, &[HOME]) else { return };
    let b = c.browser(Js::On, Size::Desktop);

    // A user name on the refused login, echoed into the form's value attribute.
    b.goto(&c.url("/login"));
    b.fill("#login-user", LOGIN);
    b.fill("#login-password", "whatever-it-is");
    b.click("#login-submit");
    assert!(b.has("#login-error"), "{}", b.source());
    // The form may keep the name typed (then exactly as typed) or clear it.
    let kept = b.prop("#login-user", "value").unwrap_or_default();
    assert!(kept.is_empty() || kept == LOGIN, "{kept:?}");
    clean(&b, "the refused login");
    log_in(&c, &b, USER, PASSWORD);

    // Refused updates: an address that is none, and a hostname that is none.
    let r = c.world.update(&format!("hostname={HOME}&myip={}", encode(IP)));
    assert!(r.body.starts_with("badip") || r.body.starts_with("notfqdn") || r.status >= 400, "{r:?}");
    let r = c.world.update(&format!("hostname={}&myip=192.0.2.9", encode(HOST)));
    assert!(r.status >= 400 || r.body.starts_with("notfqdn") || r.body.starts_with("nohost"), "{r:?}");
    b.goto(&c.url("/hosts"));
    clean(&b, "the hosts page after refused updates");

    // A TXT value, set on the host page: stored, published and shown as text.
    b.goto(&c.url(&format!("/hosts/{HOME}")));
    b.fill("#set-txt input[name=txt]", TXT);
    b.click("#txt-submit");
    assert_eq!(b.text("#stored-txt"), TXT);
    assert!(b.text("#dns-txt").contains("<script>window.xss="), "{}", b.text("#dns-txt"));
    let published = c.world.dns.query(HOME, "TXT");
    assert!(published.iter().any(|t| t.contains("<script>")), "{published:?}");
    clean(&b, "the host page with a hostile TXT");

    // The refused updates on the admin's audit trail: a hostname that is none, and the
    // reason that names an address that is none.
    c.world.admin(&["user", "admin", USER]).success();
    b.goto(&c.url("/admin/audit"));
    let audit = b.text("#audit-table");
    assert!(audit.contains(HOST) && audit.contains(IP), "the refused values show as text:\n{audit}");
    clean(&b, "the audit trail with refused updates");

    // A hostname in the console's own URL: the 404 page may name it, as text.
    b.goto(&c.url(&format!("/hosts/{}", encode(PATH))));
    clean(&b, "the missing host page");

    // A mail address: a hostile one is refused (the browser's own check of `type=email` is
    // switched off first, as a hostile client would not run it), an odd valid one is kept.
    b.click("#nav-account");
    b.script("document.getElementById('email').noValidate = true;", vec![]);
    b.fill("#email input[name=email]", MAIL);
    b.click("#email-submit");
    clean(&b, "the refused mail address");
    let odd = "o'neil&{x}=y@example.test";
    b.goto(&c.url("/account"));
    b.fill("#email input[name=email]", odd);
    b.click("#email-submit");
    b.goto(&c.url("/account"));
    assert_eq!(b.prop("#email input[name=email]", "value").as_deref(), Some(odd));
    clean(&b, "the account page with an odd mail address");
}
