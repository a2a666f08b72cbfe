//! MariaDB's weaker TLS modes against real servers (`util::mariadb::TcpServer`), beside the
//! verifying ones in `mariadb.rs`: against a server with TLS and `require_secure_transport`
//! (which refuses every plain session), `preferred` (the default) and `required` are
//! encrypted; against a server without TLS, `preferred` goes on in plain text and says so in
//! `check`, while `required` fails with nothing written. These run in every pass.

use crate::mariadb::{HOME, tcp_world};
use crate::util::mariadb::TcpServer;
use crate::util::{PASSWORD, USER, World, ZONE};

/// `check`'s line about the session.
fn session_line(w: &World) -> String {
    let out = w.admin(&["check"]).stdout();
    out.lines().find(|l| l.contains("`: connected ")).unwrap_or_default().to_owned()
}

#[test]
fn preferred_and_required_encrypt_where_the_server_offers_tls() {
    let Some(srv) = TcpServer::start(true) else { return };
    for (query, mode) in [("", "preferred"), ("?ssl-mode=required", "required")] {
        let Some((w, r)) = tcp_world(&srv, "127.0.0.1", query) else { return };
        r.success();
        w.add_user(USER, PASSWORD);
        w.admin(&["hostname", "add", USER, HOME, ZONE]).success();
        w.update(&format!("hostname={HOME}&myip=192.0.2.31")).expect(200, "good 192.0.2.31\n");
        assert_eq!(w.a(HOME), ["192.0.2.31"]);
        let line = session_line(&w);
        assert!(line.contains(&format!("connected with TLS (ssl-mode `{mode}`, TLSv1.")), "{mode}: {line}");
    }
}

#[test]
fn preferred_goes_on_in_plain_text_where_required_fails() {
    let Some(srv) = TcpServer::start(false) else { return };
    let Some((w, r)) = tcp_world(&srv, "127.0.0.1", "") else { return };
    r.success();
    let line = session_line(&w);
    assert!(line.contains("connected without TLS, which the server does not offer (ssl-mode `preferred`)"), "{line}");
    let Some((w, r)) = tcp_world(&srv, "127.0.0.1", "?ssl-mode=required") else { return };
    assert_eq!(r.code(), Some(2), "{}{}", r.stdout(), r.stderr());
    assert!(r.stderr().contains("cannot connect to mariadb"), "{}", r.stderr());
    w.update(&format!("hostname={HOME}&myip=192.0.2.32")).expect(200, "911\n");
    assert!(w.a(HOME).is_empty());
}
