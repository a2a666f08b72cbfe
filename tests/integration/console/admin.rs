//! The admin pages over HTTP: only for users with the admin flag (`user admin NAME`); an
//! admin invites a user whose link sets the password, sees every host, deletes a user (whose
//! session ends at once and whose records leave DNS), adds a hostname, filters the audit
//! trail, clears a rate-limit entry and reads `check`. A non-admin gets 404 everywhere there,
//! and a post changes nothing.

use super::*;
use crate::util::web::Front;
use crate::util::{PASSWORD, USER};

fn admin_pages(front: Front) {
    let world = world!(console_world(""));
    world.update(&format!("hostname={HOME}&myip=192.0.2.80")).expect(200, "good 192.0.2.80\n");
    world.cgi(&crate::util::Cgi::get(&format!("hostname={NAS}&myip=192.0.2.81")).basic(BOB, BOB_PASSWORD));
    assert_eq!(world.a(NAS), ["192.0.2.81"]);
    let Some(console) = Console::start(&world, front) else { return };

    // Not an admin yet: the admin pages are not there, and a post there changes nothing.
    let a = alice(&console);
    let missing = console.get(&a, "/nope");
    for path in ["/admin", "/admin/users", "/admin/audit", "/admin/check", "/admin/ratelimit"] {
        let r = console.get(&a, path);
        assert_eq!((r.status, &r.body), (404, &missing.body), "{path}: {}", r.raw);
    }
    let csrf = console.csrf(&a, "/hosts");
    let r = console.post(Some(&a), "/admin/users/delete", &[("csrf", &csrf), ("name", BOB)], &[]);
    assert_eq!(r.status, 404, "{}", r.raw);
    assert_eq!(world.count("SELECT COUNT(*) FROM users WHERE name = 'bob'"), 1);

    world.admin(&["user", "admin", USER]).success();
    let hosts = console.get(&a, "/hosts");
    assert!(hosts.body.contains(NAS) && hosts.body.contains("nav-admin"), "{}", hosts.body);
    let users = console.get(&a, "/admin/users");
    assert_eq!(users.status, 200, "{}", users.raw);
    assert_security_headers(&users);
    assert!(users.body.contains(BOB), "{}", users.body);

    // An invitation made here; the invited user sets a password and logs in.
    let r =
        console.submit(&a, "/admin/users", "/admin/users/invite", &[("name", "dave"), ("email", "dave@example.test")]);
    let link = text_of(&r.body, "invitation-link").unwrap_or_else(|| panic!("{}", r.body));
    let code = link.split("code=").nth(1).unwrap_or_default().to_owned();
    let fields = [("code", code.as_str()), ("new", "daves-password"), ("repeat", "daves-password")];
    assert_eq!(console.post(None, "/invite", &fields, &[]).status, 303);
    console.login("dave", "daves-password");

    // Deleting bob: his session ends at once, his host's records leave DNS.
    let b = console.login(BOB, BOB_PASSWORD);
    let r = console.submit(&a, "/admin/users", "/admin/users/delete", &[("name", BOB)]);
    assert!(r.body.contains("deleted with 1 hostnames"), "{}", r.body);
    assert_eq!(world.a(NAS), Vec::<String>::new());
    assert_eq!(console.get(&b, "/hosts").status, 303, "bob's session outlived him");

    // A hostname for dave, through `hostname add`.
    let r = console.submit(
        &a,
        "/admin/hostnames",
        "/admin/hostnames/add",
        &[("user", "dave"), ("fqdn", "dave.dyn.example.test")],
    );
    assert!(r.body.contains("hostname `dave.dyn.example.test` added"), "{}", r.body);
    // Moving alice's host to dave: it is his now, and alice's token for it is gone.
    world.admin(&["hostname", "token", HOME]).success();
    let r = console.submit(&a, "/admin/hostnames", "/admin/hostnames/move", &[("fqdn", HOME), ("user", "dave")]);
    assert!(r.body.contains("now belongs to `dave`"), "{}", r.body);
    let d = console.login("dave", "daves-password");
    assert_eq!(console.get(&d, &format!("/hosts/{HOME}")).status, 200);
    assert_eq!(world.count("SELECT COUNT(*) FROM tokens"), 0);

    // The audit trail, filtered; a refused login shows with its escaped user name.
    console.login_raw("<b>x</b>", "wrong-password", &[]);
    let r = console.get(&a, "/admin/audit?answer=badauth");
    assert!(r.body.contains("console login") && !r.body.contains("<b>x"), "{}", r.body);
    assert!(!r.body.contains(">good<"), "{}", r.body);
    let r = console.get(&a, &format!("/admin/audit?host={HOME}"));
    assert!(r.body.contains(">good<") && r.body.contains(HOME), "{}", r.body);

    // The rate-limit table and `check`.
    let r = console.get(&a, "/admin/ratelimit");
    assert!(text_of(&r.body, "ratelimit-list").is_some(), "{}", r.body);
    let r = console.submit(&a, "/admin/ratelimit", "/admin/ratelimit/clear", &[("key", "127.0.0.1")]);
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = console.get(&a, "/admin/check");
    assert!(r.body.contains("config"), "{}", r.body);
    let _ = PASSWORD;
}

#[test]
fn admin_pages_nginx_fastcgi() {
    admin_pages(Front::NginxFastcgi);
}

#[test]
fn admin_pages_apache_cgi() {
    admin_pages(Front::ApacheCgi);
}
