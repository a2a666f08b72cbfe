//! `hostname import` against a real Knot: a JSON-lines file and a CSV file add their
//! hostnames in one transaction, each with a token of its own printed once as a JSON line,
//! and each token updates its own hostname (checked in DNS) and no other; the settings of a
//! line (TTL, families, scope, no token) are stored as `hostname add` and `hostname token`
//! store them. A file with any wrong line (unknown user, a name outside the zone, a name twice
//! or already stored, a bad TTL, an unknown column or key) is refused whole, naming every
//! wrong line, with nothing written.

use crate::util::{Cgi, USER, World, ZONE};

/// The JSON lines `hostname import` printed: (hostname, user, token).
fn printed(stdout: &str) -> Vec<(String, String, Option<String>)> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
            (field("hostname").expect("hostname"), field("user").expect("user"), field("token"))
        })
        .collect()
}

fn write(w: &World, name: &str, text: &str) -> String {
    let path = w.dir.path().join(name);
    std::fs::write(&path, text).expect("write the import file");
    path.to_string_lossy().into_owned()
}

#[test]
fn a_jsonl_file_adds_every_hostname_with_a_token_that_updates_it() {
    let Some(w) = World::new(crate::util::Setup { hosts: &[], ..Default::default() }) else { return };
    w.add_user("bob", "bob-password");
    let mut text = String::new();
    for i in 0..40 {
        let user = if i % 2 == 0 { USER } else { "bob" };
        text.push_str(&format!("{{\"user\": \"{user}\", \"hostname\": \"r{i}.{ZONE}\"}}\n"));
    }
    text.push_str(&format!(
        "{{\"user\": \"{USER}\", \"hostname\": \"cam.{ZONE}\", \"zone\": \"{ZONE}\", \"dns_ttl\": \"5m\", \"expiry_ttl\": 0, \"ipv6\": \"off\", \"types\": \"A\", \"from\": \"127.0.0.0/8\"}}\n"
    ));
    text.push_str(&format!("{{\"user\": \"bob\", \"hostname\": \"static.{ZONE}\", \"token\": false}}\n"));
    let file = write(&w, "hosts.jsonl", &text);
    let run = w.admin(&["hostname", "import", &file]);
    run.success();
    let lines = printed(&run.stdout());
    assert_eq!(lines.len(), 42, "{}", run.stdout());
    assert_eq!(w.count("SELECT COUNT(*) FROM hostnames"), 42);
    assert_eq!(w.count("SELECT COUNT(*) FROM tokens"), 41);
    let (_, owner, token) = &lines[1];
    assert_eq!(owner, "bob");
    assert!(token.as_deref().is_some_and(|t| t.starts_with("ddns_")), "{lines:?}");
    assert_eq!(lines[41], (format!("static.{ZONE}"), "bob".to_owned(), None));
    assert_eq!(
        w.rows(&format!(
            "SELECT dns_ttl, expiry_ttl, ipv4_enabled, ipv6_enabled FROM hostnames WHERE fqdn = 'cam.{ZONE}'"
        )),
        vec![vec![Some("300".into()), Some("0".into()), Some("1".into()), Some("0".into())]]
    );
    assert_eq!(
        w.rows(&format!(
            "SELECT t.types, t.networks FROM tokens t JOIN hostnames h ON h.id = t.hostname_id WHERE h.fqdn = 'cam.{ZONE}'"
        )),
        vec![vec![Some("A".into()), Some("127.0.0.0/8".into())]]
    );
    assert!(!run.stderr().contains("ddns_"), "a token reached stderr: {}", run.stderr());

    // Every lines token updates its own hostname, seen in DNS, and not another's.
    for (i, (fqdn, _, token)) in lines.iter().take(40).enumerate().step_by(7) {
        let token = token.as_deref().expect("a token");
        let ip = format!("192.0.2.{}", i + 1);
        w.cgi(&Cgi::get(&format!("hostname={fqdn}&myip={ip}")).basic(fqdn, token)).expect(200, &format!("good {ip}\n"));
        assert_eq!(w.a(fqdn), vec![ip.clone()], "DNS A of {fqdn}");
    }
    let (other, _, _) = &lines[2];
    let first_token = lines[0].2.as_deref().expect("a token");
    w.cgi(&Cgi::get(&format!("hostname={other}&myip=192.0.2.200")).basic(USER, first_token)).expect(401, "badauth\n");
    assert!(w.a(other).is_empty(), "another hostname's token changed {other}");
}

#[test]
fn a_csv_file_with_a_header_in_any_order_is_read_as_jsonl_is() {
    let Some(w) = World::new(crate::util::Setup { hosts: &[], ..Default::default() }) else { return };
    let file = write(
        &w,
        "hosts.csv",
        &format!("hostname,user,dns_ttl,token\nnas.{ZONE},{USER},120,\n\"tv.{ZONE}\",{USER},,no\n"),
    );
    let run = w.admin(&["hostname", "import", &file]);
    run.success();
    let lines = printed(&run.stdout());
    assert_eq!(lines.len(), 2);
    assert!(lines[0].2.is_some() && lines[1].2.is_none(), "{lines:?}");
    assert_eq!(w.count(&format!("SELECT dns_ttl FROM hostnames WHERE fqdn = 'nas.{ZONE}'")), 120);
    let token = lines[0].2.as_deref().expect("a token");
    let fqdn = format!("nas.{ZONE}");
    w.cgi(&Cgi::get(&format!("hostname={fqdn}&myip=198.51.100.7")).basic(&fqdn, token))
        .expect(200, "good 198.51.100.7\n");
    assert_eq!(w.a(&fqdn), vec!["198.51.100.7".to_owned()]);

    // Standard input, with the format named.
    let run =
        w.admin_stdin(&["hostname", "import", "-", "--format", "csv"], &format!("user,hostname\n{USER},pi.{ZONE}\n"));
    run.success();
    assert_eq!(printed(&run.stdout()).len(), 1);
}

#[test]
fn a_file_with_any_wrong_line_is_refused_whole_naming_each_line() {
    let Some(w) = World::knot() else { return };
    let before = w.rows("SELECT fqdn, user_id FROM hostnames ORDER BY fqdn");
    let text = [
        format!("{{\"user\": \"{USER}\", \"hostname\": \"ok1.{ZONE}\"}}"),
        format!("{{\"user\": \"nobody\", \"hostname\": \"x.{ZONE}\"}}"),
        format!("{{\"user\": \"{USER}\", \"hostname\": \"elsewhere.example.org\"}}"),
        format!("{{\"user\": \"{USER}\", \"hostname\": \"ok1.{ZONE}\"}}"),
        format!("{{\"user\": \"{USER}\", \"hostname\": \"home.{ZONE}\"}}"),
        format!("{{\"user\": \"{USER}\", \"hostname\": \"t.{ZONE}\", \"dns_ttl\": 0}}"),
        format!("{{\"user\": \"{USER}\", \"hostname\": \"c.{ZONE}\", \"colour\": \"red\"}}"),
        format!("{{\"user\": \"{USER}\", \"hostname\": \"s.{ZONE}\", \"token\": \"no\", \"types\": \"A\"}}"),
        format!("{{\"user\": \"{USER}\", \"hostname\": \"ok2.{ZONE}\"}}"),
    ]
    .join("\n");
    let file = write(&w, "bad.jsonl", &text);
    let run = w.admin(&["hostname", "import", &file]);
    assert_eq!(run.code(), Some(2), "{} {}", run.stdout(), run.stderr());
    let err = run.stderr();
    assert!(err.contains("7 lines are wrong; nothing was imported"), "{err}");
    for expected in [
        "line 2: user `nobody` does not exist",
        "line 3: `elsewhere.example.org` is not inside any configured zone",
        &format!("line 4: hostname `ok1.{ZONE}` is in the file twice"),
        &format!("line 5: hostname `home.{ZONE}` exists already"),
        "line 6: `--dns-ttl` must be between 1 and 86400, got `0`",
        "line 7: not a JSON object of a hostname: unknown field `colour`",
        "line 8: `types`, `from` and `expires` scope a token",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(run.stdout().is_empty(), "{}", run.stdout());
    assert_eq!(w.rows("SELECT fqdn, user_id FROM hostnames ORDER BY fqdn"), before);
    assert_eq!(w.count("SELECT COUNT(*) FROM tokens"), 0);

    let csv = write(&w, "bad.csv", &format!("user,hostname,colour\n{USER},y.{ZONE},red\n"));
    let run = w.admin(&["hostname", "import", &csv]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr().contains("unknown column `colour`"), "{}", run.stderr());
    let empty = write(&w, "empty.csv", "user,hostname\n");
    let run = w.admin(&["hostname", "import", &empty]);
    assert_eq!(run.code(), Some(2));
    assert!(run.stderr().contains("holds no hostname"), "{}", run.stderr());
    assert_eq!(w.rows("SELECT fqdn, user_id FROM hostnames ORDER BY fqdn"), before);
}
