//! Paths through the store that the rest of the suite left untested, found by the mutation
//! campaign on `store/mod.rs` (issue 12, TESTING.md "Mutation score"): each test names the
//! mutant it kills. Every effect is read back with a DNS query.

use std::os::unix::fs::PermissionsExt as _;

use crate::util::World;
use crate::util::pg::{TCP_PASSWORD, TCP_ROLE, TcpServer};

const HOME: &str = "home.dyn.example.test";
const CAM: &str = "cam.dyn.example.test";

#[test]
fn an_update_without_ipv4_derives_a_childs_ipv4_from_the_parents_stored_address() {
    // Mutant `Store::stored_ipv4 -> Ok(None)`: an update carrying a prefix but no IPv4 (a
    // router's IPv6-only update) must apply a child's IPv4 host-bit rule to the parent's
    // stored address; otherwise a child derived after the parent's last IPv4 change never
    // gets its A record.
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    w.admin(&["hostname", "derive", HOME, CAM, "--ipv6-iid", "::c", "--ipv4", "0.0.0.10/24"]).success();
    let r = w.update(&format!("hostname={HOME}&myip=2001:db8:1:2::1&ipv6prefix=2001:db8:1:2::/64"));
    r.expect(200, "good 2001:db8:1:2::1\n");
    assert_eq!(w.a(HOME), ["192.0.2.1"], "the parent's IPv4 stays");
    assert_eq!(w.aaaa(CAM), ["2001:db8:1:2::c"]);
    assert_eq!(w.a(CAM), ["192.0.2.10"], "the host-bit rule on the parent's stored IPv4\n{}", r.log);
}

#[test]
fn a_refused_server_certificate_is_named_once_in_the_error() {
    // Mutant `delete ! in causes`: the rustls verdict that an `io::Error` wraps is already in
    // the message through the `io::Error`'s own text; appending it again would print every
    // refusal twice (`...: invalid peer certificate: UnknownIssuer: invalid peer certificate:
    // UnknownIssuer`).
    let Some(srv) = TcpServer::start(true) else { return };
    let pki = srv.pki.as_ref().expect("a pki");
    let db = srv.create_database();
    let w = world!(World::knot());
    let file = w.dir.path().join("pg.password");
    std::fs::write(&file, format!("{TCP_PASSWORD}\n")).expect("write password file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    // A CA that did not sign the server's certificate.
    let lines = format!(
        "postgres = {{ host = \"localhost\", port = {}, name = \"{db}\", user = \"{TCP_ROLE}\", password_file = \"{}\", sslmode = \"verify-full\", ca_file = \"{}\" }}",
        srv.tcp_port,
        file.display(),
        pki.wrong_ca.display()
    );
    w.edit_config(|t| {
        let start = t.find("[database]\n").expect("[database]") + "[database]\n".len();
        let end = t.find("\n\n[dns]").expect("[dns]");
        format!("{}{lines}{}", &t[..start], &t[end..])
    });
    let r = w.admin(&["user", "list"]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    let err = r.stderr();
    assert!(err.starts_with("error: cannot connect to postgresql `"), "{err}");
    assert_eq!(err.matches("invalid peer certificate").count(), 1, "{err}");
    assert_eq!(err.matches("UnknownIssuer").count(), 1, "{err}");
    assert!(!err.contains(TCP_PASSWORD), "{err}");
}
