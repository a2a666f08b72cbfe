//! What a user does in the console, over HTTP through each front: log in, see the hosts,
//! create a token and update with it (curl), see the new address stored and served, revoke
//! it (`badauth`), take the host offline, set its address and TXT by hand, change the password
//! (the other session ends); an invitation from the CLI sets a password once.

use super::*;
use crate::util::web::Front;

fn token_on(page: &str) -> String {
    super::text_of(page, "token-value").unwrap_or_else(|| panic!("no token shown:\n{page}"))
}

fn flow(front: Front) {
    let world = world!(console_world(""));
    let Some(console) = Console::start(&world, front) else { return };
    let a = alice(&console);

    // The hosts list shows alice's host, and only hers.
    let hosts = console.get(&a, "/hosts");
    assert_eq!(hosts.status, 200, "{}", hosts.raw);
    assert_security_headers(&hosts);
    assert!(hosts.body.contains(HOME), "{}", hosts.body);
    assert!(!hosts.body.contains(NAS), "{}", hosts.body);
    let css = hosts.body.split("href=\"/console/static/").nth(1).and_then(|r| r.split('"').next()).unwrap_or("");
    let sheet = curl(&[&console.url(&format!("/static/{css}"))]);
    assert_eq!(sheet.status, 200, "{css}: {}", sheet.raw);
    assert!(sheet.header("Cache-Control").is_some_and(|c| c.contains("max-age=31536000")), "{}", sheet.raw);

    // A token, shown once; an update with it lands in DNS and on the host page.
    let r = console.submit(&a, &format!("/hosts/{HOME}"), &format!("/hosts/{HOME}/token"), &[("types", "A")]);
    assert_eq!(r.status, 200, "{}", r.raw);
    let token = token_on(&r.body);
    assert!(token.starts_with("ddns_"), "{token}");
    // With the client settings filled in (routers.md's recipes), the token in them.
    assert!(r.body.contains("ddclient") && r.body.matches(&token).count() > 2, "{}", r.body);
    assert!(!console.get(&a, &format!("/hosts/{HOME}")).body.contains(&token), "the token was shown twice");
    let update = format!("/nic/update?hostname={HOME}&myip=192.0.2.44");
    curl(&["-u", &format!("{USER}:{token}"), &console.web.url(&update)]).expect(200, "good 192.0.2.44\n");
    assert_eq!(world.a(HOME), ["192.0.2.44"]);
    let page = console.get(&a, &format!("/hosts/{HOME}"));
    assert_eq!(text_of(&page.body, "stored-a").as_deref(), Some("192.0.2.44"), "{}", page.body);
    assert_eq!(text_of(&page.body, "dns-a").as_deref(), Some("192.0.2.44"), "{}", page.body);
    assert!(page.body.contains("types=A"), "{}", page.body);
    let list = console.get(&a, "/hosts");
    assert!(list.body.contains("<td class=\"dns-now\">192.0.2.44</td>"), "{}", list.body);
    // The token's creation is in the history with the web user; it is no update answer.
    assert!(page.body.contains("<td>token</td><td>alice (console)</td>"), "{}", page.body);
    assert_eq!(world.count("SELECT COUNT(*) FROM counters WHERE label = 'token'"), 0);
    assert!(page.body.contains("<svg") && page.body.contains("192.0.2.44</text>"), "{}", page.body);

    // Revoked: the token answers badauth.
    let r = console.submit(&a, &format!("/hosts/{HOME}"), &format!("/hosts/{HOME}/revoke"), &[]);
    assert_eq!(r.status, 200, "{}", r.raw);
    let update = format!("/nic/update?hostname={HOME}&myip=192.0.2.45");
    curl(&["-u", &format!("{USER}:{token}"), &console.web.url(&update)]).expect(401, "badauth\n");
    assert_eq!(world.a(HOME), ["192.0.2.44"]);

    // Offline: the records go; the history says who did it.
    let r = console.submit(&a, &format!("/hosts/{HOME}"), &format!("/hosts/{HOME}/offline"), &[]);
    assert_eq!(r.status, 303, "{}", r.raw);
    assert_eq!(world.a(HOME), Vec::<String>::new());
    let page = console.get(&a, &format!("/hosts/{HOME}"));
    assert!(page.body.contains("offline"), "{}", page.body);
    assert!(page.body.contains("alice (console)"), "{}", page.body);

    // By hand: an address, then a TXT value that is markup, shown as text.
    let r = console.submit(&a, &format!("/hosts/{HOME}"), &format!("/hosts/{HOME}/set"), &[("ipv4", "192.0.2.50")]);
    assert_eq!(r.status, 303, "{}", r.raw);
    assert_eq!(world.a(HOME), ["192.0.2.50"]);
    let xss = "<script>alert(1)</script>";
    let r = console.submit(&a, &format!("/hosts/{HOME}"), &format!("/hosts/{HOME}/txt"), &[("txt", xss)]);
    assert_eq!(r.status, 303, "{}", r.raw);
    let page = console.get(&a, &format!("/hosts/{HOME}"));
    assert!(!page.body.contains("<script"), "{}", page.body);
    let shown = text_of(&page.body, "stored-txt").unwrap_or_default();
    assert_eq!(shown.replace("&#60;", "<").replace("&#62;", ">").replace("&lt;", "<").replace("&gt;", ">"), xss);
    assert_eq!(world.dns.query(HOME, "TXT"), [format!("\"{xss}\"")]);

    // A second session ends when the password changes in the first.
    let other = alice(&console);
    assert_eq!(console.get(&other, "/hosts").status, 200);
    let new = "a-new-password-9";
    let r =
        console.submit(&a, "/account", "/account/password", &[("current", PASSWORD), ("new", new), ("repeat", new)]);
    assert_eq!(r.status, 200, "{}", r.raw);
    let gone = console.get(&other, "/hosts");
    assert_eq!((gone.status, gone.header("Location")), (303, Some("/console/login")), "{}", gone.raw);
    assert_eq!(console.get(&a, "/hosts").status, 200, "the session that changed it goes on");
    assert_eq!(console.login_raw(USER, PASSWORD, &[]).status, 401);
    console.login(USER, new);

    // Logout ends the session.
    let r = console.submit(&a, "/hosts", "/logout", &[]);
    assert_eq!(r.status, 303, "{}", r.raw);
    assert_eq!(console.get(&a, "/hosts").status, 303);
}

#[test]
fn flow_nginx_fastcgi() {
    flow(Front::NginxFastcgi);
}

#[test]
fn flow_apache_cgi() {
    flow(Front::ApacheCgi);
}

/// The other shipped snippets route the console too.
#[test]
fn flow_nginx_fcgiwrap() {
    flow(Front::NginxFcgiwrap);
}

#[test]
fn flow_apache_fcgid() {
    flow(Front::ApacheFcgid);
}

fn invitation(front: Front) {
    let world = world!(console_world(""));
    let Some(console) = Console::start(&world, front) else { return };
    let out = world.admin(&["user", "invite", "carol", "carol@example.test"]).success().stdout();
    let link = out.lines().next().unwrap_or_default().to_owned();
    let path = link.strip_prefix("https://ddns.example.test/console").unwrap_or_else(|| panic!("{out}"));
    assert!(path.starts_with("/invite?code="), "{out}");
    let code = path.trim_start_matches("/invite?code=");
    // Before the link is used, carol cannot log in with any password.
    assert_eq!(console.login_raw("carol", "", &[]).status, 400);
    assert_eq!(console.login_raw("carol", "!invited", &[]).status, 401);

    let page = curl(&[&console.url(path)]);
    assert_eq!(page.status, 200, "{}", page.raw);
    assert_security_headers(&page);
    assert!(page.body.contains("carol"), "{}", page.body);
    let password = "carols-password-1";
    let fields = [("code", code), ("new", password), ("repeat", password)];
    let r = console.post(None, "/invite", &fields, &[]);
    assert_eq!((r.status, r.header("Location")), (303, Some("/console/login")), "{}", r.raw);
    console.login("carol", password);
    // Once only.
    let again =
        console.post(None, "/invite", &[("code", code), ("new", "x-other-pass"), ("repeat", "x-other-pass")], &[]);
    assert_eq!(again.status, 404, "{}", again.raw);
    console.login("carol", password);
    // The link's code stays out of the web server's access log (the shipped snippets), which
    // is written: wait for a line after it (Apache writes after the answer).
    curl(&[&console.url("/login?after-the-invitation")]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let access = loop {
        let access = std::fs::read_to_string(console.web.dir.join("access.log")).unwrap_or_default();
        if access.contains("after-the-invitation") || std::time::Instant::now() > deadline {
            break access;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(access.contains("after-the-invitation"), "{access}");
    assert!(!access.contains(code), "the invitation's code in the access log:\n{access}");
}

#[test]
fn invitation_nginx_fastcgi() {
    invitation(Front::NginxFastcgi);
}

#[test]
fn invitation_apache_cgi() {
    invitation(Front::ApacheCgi);
}

/// Without `[web]` the console's paths are dyndns2's unknown paths.
#[test]
fn without_web_section_the_console_is_not_there() {
    let world = world!(crate::util::World::knot());
    let Some(web) = crate::util::web::WebServer::start(&world, Front::NginxFastcgi) else { return };
    let r = curl(&[&web.url("/console/login")]);
    assert_eq!(r.status, 404, "{}", r.raw);
    assert!(r.header("Content-Security-Policy").is_none(), "{}", r.raw);
}

/// A derived child from the host page follows the parent's prefix in DNS; the user stops it
/// following; an acme-dns account is shown once with its CNAME. Another user's child cannot be
/// taken, and bob cannot make an account below alice's host.
fn derive_and_acme(front: Front) {
    let world = world!(console_world("[acme]\nzone = \"dyn.example.test\"\n"));
    let Some(console) = Console::start(&world, front) else { return };
    let a = alice(&console);
    let page = format!("/hosts/{HOME}");
    let child = "pc.dyn.example.test";
    let fields = [("child", child), ("ipv6_iid", "::1234:5678:9abc:def0")];
    let r = console.submit(&a, &page, &format!("{page}/derive"), &fields);
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(r.body.contains(&format!("hostname `{child}` added")), "{}", r.body);
    world
        .update(&format!("hostname={HOME}&myip=192.0.2.70&ipv6prefix=2001:db8:aa:bb::/64"))
        .expect(200, "good 192.0.2.70\n");
    assert_eq!(world.aaaa(child), ["2001:db8:aa:bb:1234:5678:9abc:def0"]);
    // Bob's host is not alice's to derive.
    let fields = [("child", NAS), ("ipv6_iid", "::1")];
    let r = console.submit(&a, &page, &format!("{page}/derive"), &fields);
    assert!(r.body.contains("is not yours") && !r.body.contains(BOB), "{}", r.body);
    let r = console.submit(&a, &page, &format!("{page}/underive"), &[("child", child)]);
    assert!(r.body.contains("no longer follows"), "{}", r.body);

    let r = console.submit(&a, &page, &format!("{page}/acme"), &[("domain", HOME)]);
    assert_eq!(r.status, 200, "{}", r.raw);
    let shown = text_of(&r.body, "acme-value").unwrap_or_default();
    assert!(shown.contains("fulldomain") && shown.contains(&format!("_acme-challenge.{HOME}. CNAME")), "{shown}");
    assert!(!console.get(&a, &page).body.contains("fulldomain"), "shown twice");
    let b = console.login(BOB, BOB_PASSWORD);
    let n = world.count("SELECT COUNT(*) FROM acme_accounts");
    let bobs = console.csrf(&b, "/hosts");
    let r = console.post(Some(&b), &format!("{page}/acme"), &[("csrf", &bobs), ("domain", HOME)], &[]);
    assert_eq!(r.status, 404, "{}", r.raw);
    assert_eq!(world.count("SELECT COUNT(*) FROM acme_accounts"), n);
}

#[test]
fn derive_and_acme_nginx_fastcgi() {
    derive_and_acme(Front::NginxFastcgi);
}

#[test]
fn derive_and_acme_apache_cgi() {
    derive_and_acme(Front::ApacheCgi);
}
