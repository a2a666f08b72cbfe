//! Updates through real web servers configured from the shipped files: nginx + fcgiwrap,
//! nginx + `ddns-cgi fastcgi`, Apache + mod_cgi (prefork), Apache + mod_cgid (event),
//! Apache + mod_fcgid. Each drives real updates
//! with curl (Basic auth up front, GET and POST) and checks the answer on the wire (status,
//! exact body, `Content-Length`, no chunking) and the records in Knot.

use crate::util::web::{Front, WebServer, curl};
use crate::util::{PASSWORD, Setup, USER, World};

pub const HOME: &str = "home.dyn.example.test";
pub const NAS: &str = "nas.dyn.example.test";
/// Web tests send many updates from one address; rate limiting is tested elsewhere.
pub const NO_RATE_LIMIT: &str = "[rate_limit]\nenabled = false\n";

/// A Knot world with two hosts, without rate limiting.
pub fn web_world() -> Option<World> {
    World::new(Setup { extra_config: NO_RATE_LIMIT, hosts: &[HOME, NAS], ..Setup::default() })
}

pub fn creds() -> String {
    format!("{USER}:{PASSWORD}")
}

/// The common updates through `front`; the server, still running, and its world for more
/// checks (`None` after a loud skip).
fn updates_through(front: Front) -> Option<(WebServer, World)> {
    let world = web_world()?;
    let web = WebServer::start(&world, front)?;

    // No credentials: the Basic challenge that wget and uclient-fetch wait for.
    let r = curl(&[&web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.10"))]);
    r.expect(401, "badauth\n");
    assert!(r.header("WWW-Authenticate").is_some_and(|v| v.starts_with("Basic ")), "{}", r.raw);
    assert_eq!(world.a(HOME), Vec::<String>::new());

    // curl sends Basic credentials at once; the web server must pass them on.
    let url = web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.10,2001:db8::10"));
    let r = curl(&["-u", &creds(), &url]);
    r.expect(200, "good 192.0.2.10 2001:db8::10\n");
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!((world.a(HOME), world.aaaa(HOME)), (vec!["192.0.2.10".to_owned()], vec!["2001:db8::10".to_owned()]));
    curl(&["-u", &creds(), &url]).expect(200, "nochg 192.0.2.10 2001:db8::10\n");

    // POST to the short endpoint, a form body.
    let body = format!("hostname={NAS}&myip=192.0.2.11");
    curl(&["-u", &creds(), "--data", &body, &web.url("/update")]).expect(200, "good 192.0.2.11\n");
    assert_eq!(world.a(NAS), ["192.0.2.11"]);

    // A wrong password and an unknown path come back with their own status codes.
    curl(&["-u", &format!("{USER}:wrong"), &url]).expect(401, "badauth\n");
    assert_eq!(world.a(HOME), ["192.0.2.10"]);
    assert_eq!(world.stored(NAS), (Some("192.0.2.11".into()), None));
    Some((web, world))
}

#[test]
fn nginx_fcgiwrap_with_curl() {
    updates_through(Front::NginxFcgiwrap);
}

#[test]
fn nginx_fastcgi_with_curl() {
    let Some((web, _world)) = updates_through(Front::NginxFastcgi) else { return };
    // `keepalive` + `fastcgi_keep_conn on` in the shipped files: each of nginx's two workers
    // keeps its connection instead of opening one per request (5 requests were sent; without
    // keep-alive that is 5 connections). Regression: before answers went out in one write,
    // nginx now and then dropped a kept connection and opened another.
    let log = web.fastcgi_log();
    let n_connections = log.matches("fastcgi: connection accepted").count();
    assert!((1..=2).contains(&n_connections), "{n_connections} connections for 5 requests:\n{log}");
}

#[test]
fn apache_mod_cgi_with_curl() {
    updates_through(Front::ApacheCgi);
}

#[test]
fn apache_mod_cgid_with_curl() {
    updates_through(Front::ApacheCgid);
}

#[test]
fn apache_mod_fcgid_with_curl() {
    updates_through(Front::ApacheFcgid);
}
