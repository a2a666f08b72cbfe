//! What happens when the DNS server, the config or the database is not as it should be.

use crate::util::{DnsKind, Setup, TsigKey, World};
use crate::world;

const HOME: &str = "home.dyn.example.test";

#[test]
fn dns_server_down_then_back() {
    for kind in [DnsKind::Knot, DnsKind::Bind] {
        let mut w = world!(World::new(Setup { kind, ..Setup::default() }));
        w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
        w.dns.stop();
        let r = w.update(&format!("hostname={HOME}&myip=192.0.2.2"));
        r.expect(200, "dnserr\n");
        assert!(r.log.contains("DNS update failed"), "{}", r.log);
        assert_eq!(w.stored(HOME), (Some("192.0.2.1".into()), None), "state unchanged");
        w.dns.restart();
        assert_eq!(w.a(HOME), ["192.0.2.1"]);
        w.update(&format!("hostname={HOME}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
        assert_eq!(w.a(HOME), ["192.0.2.2"]);
    }
}

#[test]
fn wrong_tsig_key_is_dnserr_with_rcode_in_log() {
    for kind in [DnsKind::Knot, DnsKind::Bind] {
        let w = world!(World::new(Setup { kind, ..Setup::default() }));
        w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
        let good_key = w.key.line();
        // Same key name, different secret: the server answers NOTAUTH with TSIG error BADSIG.
        let wrong = TsigKey::generate("ddns-key.", "hmac-sha256").line();
        w.edit_config(|c| c.replace(&good_key, &wrong));
        let r = w.update(&format!("hostname={HOME}&myip=192.0.2.9"));
        r.expect(200, "dnserr\n");
        assert!(r.log.contains("answered NOTAUTH (TSIG error BADSIG)"), "{kind:?}: {}", r.log);
        // No secret in the log.
        let secret = wrong.rsplit(':').next().expect("secret");
        assert!(!r.log.contains(secret));
        assert_eq!(w.a(HOME), ["192.0.2.1"]);
        assert_eq!(w.stored(HOME), (Some("192.0.2.1".into()), None));
    }
}

#[test]
fn unknown_key_name_is_dnserr() {
    let w = world!(World::knot());
    w.edit_config(|c| c.replace("ddns-key.", "other-key."));
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.9"));
    r.expect(200, "dnserr\n");
    assert!(r.log.contains("NOTAUTH (TSIG error BADKEY)"), "{}", r.log);
}

#[test]
fn config_errors_answer_911_and_log_the_reason() {
    let w = world!(World::knot());
    w.write_config("[defaults]\ndns_ttl = 0\n");
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1"));
    r.expect(200, "911\n");
    assert!(r.log.contains("`defaults.dns_ttl` must be between 1 and 86400, got `0`"), "{}", r.log);
    let inline = format!("tsig_key = \"{}\"", w.key.line());
    w.edit_config(|c| c.replace(&inline, "tsig_key_file = \"/nonexistent/key\""));
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1"));
    r.expect(200, "911\n");
    assert!(r.log.contains("`dns.tsig_key_file` cannot read `/nonexistent/key`"), "{}", r.log);
}

#[test]
fn missing_database_answers_911() {
    let w = world!(World::knot());
    std::fs::remove_file(&w.db).expect("remove db");
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.1"));
    r.expect(200, "911\n");
    assert!(r.log.contains("does not exist; create it with `ddns-cgi init-db`"), "{}", r.log);
    assert!(!w.db.exists(), "CGI mode must not create the database");
}

#[test]
fn key_file_in_bind_format() {
    let w = world!(World::knot());
    let secret = w.key.secret_b64.clone();
    let key_file = w.dir.path().join("tsig.key");
    std::fs::write(&key_file, format!("key \"ddns-key\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{secret}\";\n}};\n"))
        .expect("key file");
    let inline = format!("tsig_key = \"{}\"", w.key.line());
    w.edit_config(|c| c.replace(&inline, &format!("tsig_key_file = \"{}\"", key_file.display())));
    w.update(&format!("hostname={HOME}&myip=192.0.2.33")).expect(200, "good 192.0.2.33\n");
    assert_eq!(w.a(HOME), ["192.0.2.33"]);
}
