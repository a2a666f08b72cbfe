//! The CNAME check against a real resolver on loopback: Knot serves the parent zone with the
//! `_acme-challenge` CNAMEs (right, wrong target, missing), and a BIND resolver (recursion on,
//! the zone forwarded to Knot) answers ddns-cgi as a certificate authority's resolver would.
//! `GET /acme/check?domain=` with the account's credentials, and `ddns-cgi acme check`.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::{TXT_A, acme_world, add_account, add_cname, expect_json, update_req};
use crate::util::dnsserver::{free_port, is_root, require_program};
use crate::util::{Cgi, TempDir, World, ZONE};

/// A BIND recursive resolver on `port`, forwarding the test zone to the world's Knot.
struct Resolver {
    child: Child,
    dir: TempDir,
}

impl Resolver {
    fn start(w: &World, port: u16) -> Option<Resolver> {
        let named = require_program("named", "bind9")?;
        let dir = TempDir::new("resolver");
        let d = dir.path().display();
        let knot = w.dns.addr();
        let conf = format!(
            "options {{\n  directory \"{d}\";\n  pid-file \"{d}/named.pid\";\n  session-keyfile \"{d}/session.key\";\n  \
             listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  recursion yes;\n  \
             allow-recursion {{ 127.0.0.0/8; }};\n  dnssec-validation no;\n  notify no;\n}};\n\
             zone \"{ZONE}\" {{\n  type forward;\n  forward only;\n  forwarders {{ {} port {}; }};\n}};\n",
            knot.ip(),
            knot.port()
        );
        std::fs::write(dir.path().join("named.conf"), conf).expect("named.conf");
        if is_root() {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
        }
        let mut cmd = crate::util::netns::command(named);
        cmd.arg("-f").arg("-c").arg(dir.path().join("named.conf")).arg("-n").arg("1");
        if is_root() {
            cmd.arg("-u").arg("bind");
        }
        let log = std::fs::File::create(dir.path().join("named.log")).expect("log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn named");
        let resolver = Resolver { child, dir };
        // Ready once it answers (recursively) for the zone.
        let deadline = Instant::now() + Duration::from_secs(15);
        while !resolver.dig(&format!("{ZONE}."), "SOA").contains("hostmaster") {
            assert!(Instant::now() < deadline, "the resolver never answered:\n{}", resolver.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(resolver)
    }

    fn dig(&self, name: &str, rtype: &str) -> String {
        let port = self.port();
        let out = crate::util::netns::command("dig")
            .args(["@127.0.0.1", "-p", &port.to_string(), "+time=1", "+tries=1", "+short", name, rtype])
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
    }

    fn port(&self) -> u16 {
        let conf = std::fs::read_to_string(self.dir.path().join("named.conf")).unwrap_or_default();
        conf.split("listen-on port ").nth(1).and_then(|r| r.split(' ').next()).and_then(|p| p.parse().ok()).unwrap_or(0)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("named.log")).unwrap_or_default()
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn check_req(a: &super::Account, domain: &str) -> Cgi {
    Cgi::get(&format!("domain={domain}"))
        .path("/acme/check")
        .env("HTTP_X_API_USER", &a.username)
        .env("HTTP_X_API_KEY", &a.password)
}

#[test]
fn the_cname_check_asks_a_real_resolver() {
    let port = free_port();
    let mut w = world!(acme_world(&format!("resolver = \"127.0.0.1:{port}\"\n")));
    let (right, wrong, missing) = (format!("right.{ZONE}"), format!("wrong.{ZONE}"), format!("missing.{ZONE}"));
    let a = add_account(&w, &right, &["--name", &wrong, "--name", &missing]);
    let other = add_account(&w, "other.example", &[]);
    // The operator's CNAMEs in the parent zone: one right, one to another account's name.
    add_cname(&mut w, &format!("_acme-challenge.{right}"), &a.fulldomain);
    add_cname(&mut w, &format!("_acme-challenge.{wrong}"), &other.fulldomain);
    let Some(resolver) = Resolver::start(&w, port) else { return };
    assert_eq!(resolver.dig(&format!("_acme-challenge.{right}."), "CNAME").trim(), format!("{}.", a.fulldomain));

    // Right: the CNAME points to the account's name (of any of its names).
    let r = w.cgi(&check_req(&a, &format!("*.{right}")));
    let body: serde_json::Value =
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}\n{}", r.body, r.log));
    assert_eq!(r.status, 200, "{}", r.log);
    assert_eq!(body["ok"], true, "{body}");
    assert_eq!(body["domain"], right.as_str());
    assert_eq!(body["name"], format!("_acme-challenge.{right}"));
    assert_eq!(body["cname"], a.fulldomain.as_str());
    // Wrong target: found, and not the account's.
    let r = w.cgi(&check_req(&a, &wrong));
    let body: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(
        (r.status, &body["ok"], &body["cname"]),
        (200, &serde_json::json!(false), &serde_json::json!(other.fulldomain))
    );
    // Missing: no CNAME at all.
    let r = w.cgi(&check_req(&a, &missing));
    let body: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!((r.status, &body["ok"], &body["cname"]), (200, &serde_json::json!(false), &serde_json::Value::Null));
    // Credentials as for an update; a domain that is not one.
    expect_json(
        &w.cgi(&check_req(&super::Account { password: "A".repeat(40), ..add_account(&w, "x.example", &[]) }, &right)),
        401,
        serde_json::json!({ "error": "forbidden" }),
    );
    expect_json(&w.cgi(&check_req(&a, "not%20a%20domain")), 400, serde_json::json!({ "error": "bad_domain" }));
    // The check changes nothing; the account still updates.
    expect_json(&w.cgi(&update_req(&a, &a.subdomain, TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));

    // From the shell, by the name the account serves.
    let run = w.admin(&["acme", "check", &right]);
    run.success();
    assert_eq!(run.stdout(), format!("ok: `_acme-challenge.{right}` is a CNAME to `{}`\n", a.fulldomain));
    let run = w.admin(&["acme", "check", &wrong]);
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(run.stderr().contains(&format!("is a CNAME to `{}`; it needs:", other.fulldomain)), "{}", run.stderr());
    let run = w.admin(&["acme", "check", &missing]);
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    assert!(run.stderr().contains(&format!("`_acme-challenge.{missing}` has no CNAME")), "{}", run.stderr());
    // With --json, the answer is on stdout either way (a script reads it there); a wrong or
    // missing CNAME still exits 1 and says so on stderr.
    let run = w.admin(&["acme", "check", &right, "--json"]);
    run.success();
    let body: serde_json::Value = serde_json::from_str(&run.stdout()).expect("json on stdout");
    assert_eq!(body["ok"], serde_json::json!(true), "{body}");
    let run = w.admin(&["acme", "check", &wrong, "--json"]);
    assert_eq!(run.code(), Some(1), "{}", run.stderr());
    let body: serde_json::Value =
        serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: stdout {:?}", run.stdout()));
    assert_eq!((&body["ok"], &body["cname"]), (&serde_json::json!(false), &serde_json::json!(other.fulldomain)));
    assert!(run.stderr().contains("does not point at its acme-dns name"), "{}", run.stderr());
    let run = w.admin(&["acme", "check", "nobody.example"]);
    assert_eq!(run.code(), Some(1));
    assert!(run.stderr().contains("no acme-dns account serves `nobody.example`"), "{}", run.stderr());
    drop(resolver);
    // Without an answer from the resolver: 502.
    expect_json(&w.cgi(&check_req(&a, &right)), 502, serde_json::json!({ "error": "resolver_error" }));
}

#[test]
fn without_a_resolver_there_is_no_check() {
    let w = world!(acme_world(""));
    let a = add_account(&w, "example.org", &[]);
    expect_json(&w.cgi(&check_req(&a, "example.org")), 404, serde_json::json!({ "error": "not_found" }));
}
