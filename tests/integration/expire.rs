//! The expiry run (`ddns-cgi expire`) against a real Knot or BIND and a real SMTP server:
//! records vanish from DNS, the owner gets one mail, an update restores the host, hosts
//! updated after the cut-off survive, a record changed behind our back is left alone, two
//! runs at once do the work once, and a failed mail is retried by the next run. `--now`
//! stands in for waiting.

use std::process::{Command, Stdio};

use crate::util::smtp::SmtpServer;
use crate::util::{DnsKind, Setup, World, bin, epoch};
use crate::world;

const HOME: &str = "home.dyn.example.test";
const TWO: &str = "two.dyn.example.test";
const LATE: &str = "late.dyn.example.test";

/// A world whose hosts expire after 60 s, except `late` (one day).
fn world_with(kind: DnsKind, extra: &str, hosts: &[&str]) -> Option<World> {
    let w = World::new(Setup { kind, extra_config: extra, hosts })?;
    for host in hosts {
        let ttl = if *host == LATE { "86400" } else { "60" };
        w.admin(&["hostname", "modify", host, "--expiry-ttl", ttl]).success();
    }
    Some(w)
}

fn summary(n_hosts: usize, n_zones: usize, n_messages: usize, n_mails: usize, n_trimmed: usize) -> String {
    format!(
        "expired {n_hosts} hostnames in {n_zones} zones with {n_messages} DNS messages; sent {n_mails} mails; trimmed {n_trimmed} rate-limit rows; 0 failures\n"
    )
}

#[test]
fn expired_records_vanish_owner_is_mailed_and_an_update_restores() {
    let Some(smtp) = SmtpServer::start() else { return };
    let w = world!(world_with(DnsKind::Knot, &smtp.config(), &[HOME, TWO, LATE]));
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1,2001:db8::1")).expect(200, "good 192.0.2.1 2001:db8::1\n");
    w.update(&format!("hostname={TWO}&myip=192.0.2.2")).expect(200, "good 192.0.2.2\n");
    w.update(&format!("hostname={LATE}&myip=192.0.2.3")).expect(200, "good 192.0.2.3\n");
    // One rate-limit row outside every window (60 s by default), one inside.
    w.sql(&format!(
        "INSERT INTO rate_limit (scope, key, at) VALUES ('bad-addr', '198.51.100.1', {}), ('bad-addr', '198.51.100.1', {})",
        t0 - 1000,
        t0 + 100
    ));

    // Not due yet: nothing happens.
    assert_eq!(w.expire(t0 + 30).success().stdout(), summary(0, 0, 0, 0, 1));
    assert_eq!(w.a(HOME), ["192.0.2.1"]);

    let r = w.expire(t0 + 120);
    assert_eq!(r.success().stdout(), summary(2, 1, 1, 1, 0));
    assert!(w.a(HOME).is_empty() && w.aaaa(HOME).is_empty() && w.a(TWO).is_empty(), "{}", w.dns.log());
    // Updated within its own expiry time: survives.
    assert_eq!(w.a(LATE), ["192.0.2.3"]);

    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    for needle in [
        "X-RcptTo: alice@example.test",
        "To: alice@example.test",
        "From: ddns@example.test",
        "Subject: ddns-cgi: 2 hostnames expired",
        "Message-ID: <",
        "Date: ",
        "home.dyn.example.test  (was 192.0.2.1, 2001:db8::1)",
        "two.dyn.example.test  (was 192.0.2.2)",
    ] {
        assert!(mail.contains(needle), "missing {needle:?} in\n{mail}");
    }
    assert!(!mail.contains(LATE), "{mail}");

    let list = w.admin(&["hostname", "list", "--json"]).success().stdout();
    assert!(list.contains(&format!("\"hostname\":\"{HOME}\",\"user\":\"alice\"")), "{list}");
    assert!(list.contains("\"expired\":true"), "{list}");

    // The same run again finds nothing: no second deletion, no second mail.
    assert_eq!(w.expire(t0 + 120).success().stdout(), summary(0, 0, 0, 0, 0));
    assert_eq!(smtp.messages().len(), 1);

    // An expired host is never `nochg`: the same address publishes the record again.
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
    // Only the family sent comes back; the expired AAAA stays gone.
    assert!(w.aaaa(HOME).is_empty());
}

#[test]
fn a_record_changed_behind_our_back_is_left_alone_and_the_rest_still_expires() {
    let w = world!(world_with(DnsKind::Knot, "", &[HOME, TWO, "three.dyn.example.test"]));
    let t0 = epoch();
    for (host, ip) in [(HOME, "192.0.2.1"), (TWO, "192.0.2.2"), ("three.dyn.example.test", "192.0.2.3")] {
        w.update(&format!("hostname={host}&myip={ip}")).expect(200, &format!("good {ip}\n"));
    }
    // The database now judges a value DNS does not hold, as if the record had been changed
    // after the run looked at it: the prerequisite (RFC 2136 §2.4.2) must stop the deletion.
    w.sql(&format!("UPDATE hostnames SET ipv4 = '192.0.2.99' WHERE fqdn = '{TWO}'"));
    let r = w.expire(t0 + 120);
    // One refused batch, then one message per host.
    assert_eq!(r.success().stdout(), summary(3, 1, 4, 0, 0));
    assert!(r.stderr().contains(&format!("`{TWO}.`: records changed outside ddns-cgi")), "{}", r.stderr());
    assert_eq!(w.a(TWO), ["192.0.2.2"]);
    assert!(w.a(HOME).is_empty() && w.a("three.dyn.example.test").is_empty());
}

#[test]
fn two_runs_at_once_delete_and_mail_once() {
    let Some(smtp) = SmtpServer::start() else { return };
    let w = world!(world_with(DnsKind::Knot, &smtp.config(), &[HOME, TWO]));
    let t0 = epoch();
    w.update(&format!("hostname={HOME},{TWO}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\ngood 192.0.2.1\n");
    let spawn = || {
        Command::new(bin())
            .env_clear()
            .arg("--config")
            .arg(&w.config)
            .args(["--expire", "--now", &(t0 + 120).to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start expiry")
    };
    let (a, b) = (spawn(), spawn());
    let outputs = [a.wait_with_output().expect("wait"), b.wait_with_output().expect("wait")];
    let stdouts: Vec<String> = outputs
        .iter()
        .map(|o| {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        })
        .collect();
    // Each run may do part of the work (one may expire, the other mail), but together they
    // did it exactly once: summed counts of (hostnames, DNS messages, mails).
    let totals = stdouts.iter().fold([0; 3], |acc, out| {
        let words: Vec<&str> = out.split_whitespace().collect();
        let n = |i: usize| words.get(i).and_then(|w| w.parse::<usize>().ok()).unwrap_or_else(|| panic!("{out}"));
        [acc[0] + n(1), acc[1] + n(7), acc[2] + n(11)]
    });
    assert_eq!(totals, [2, 1, 1], "{stdouts:?}");
    assert_eq!(smtp.messages().len(), 1);
    assert!(w.a(HOME).is_empty() && w.a(TWO).is_empty());
}

#[test]
fn smtp_down_leaves_a_retry_for_the_next_run() {
    let Some(mut smtp) = SmtpServer::prepare() else { return };
    let w = world!(world_with(DnsKind::Knot, &smtp.config(), &[HOME]));
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let r = w.expire(t0 + 120);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    let expected = format!("cannot send the message to `alice@example.test` via SMTP 127.0.0.1:{}: ", smtp.port);
    assert!(r.stderr().contains(&expected), "{}", r.stderr());
    assert!(r.stderr().contains("will retry on the next run"), "{}", r.stderr());
    assert!(r.stderr().contains("expired 1 hostnames in 1 zones with 1 DNS messages; sent 0 mails"), "{}", r.stderr());
    // The mail failure did not block the expiry.
    assert!(w.a(HOME).is_empty());

    smtp.run();
    assert_eq!(w.expire(t0 + 180).success().stdout(), summary(0, 0, 0, 1, 0));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("Subject: ddns-cgi: hostname home.dyn.example.test expired"), "{}", mails[0]);
    assert!(mails[0].contains("home.dyn.example.test  (was 192.0.2.1)"), "{}", mails[0]);
}

#[test]
fn bind_batch_of_600_hosts_takes_two_tcp_messages() {
    let w = world!(World::new(Setup { kind: DnsKind::Bind, extra_config: "", hosts: &[] }));
    w.sql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
         INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at)
         SELECT 'host-' || i || '.dyn.example.test', 'dyn.example.test', (SELECT id FROM users WHERE name = 'alice'), 60, 60, 0
         FROM n",
    );
    let t0 = epoch();
    for batch in 0..30 {
        let names: Vec<String> = (1..=20).map(|i| format!("host-{}.dyn.example.test", batch * 20 + i)).collect();
        w.update(&format!("hostname={}&myip=192.0.2.7", names.join(","))).expect(200, &"good 192.0.2.7\n".repeat(20));
    }
    assert_eq!(w.a("host-600.dyn.example.test"), ["192.0.2.7"]);
    // 500 hosts per locked chunk, each chunk one message: far above UDP's 512 octets.
    assert_eq!(w.expire(t0 + 120).success().stdout(), summary(600, 1, 2, 0, 0));
    for i in [1, 250, 500, 501, 600] {
        assert!(w.a(&format!("host-{i}.dyn.example.test")).is_empty(), "host-{i} still answers");
    }
}

#[test]
fn a_zone_whose_server_is_down_does_not_stop_the_others() {
    // A second zone whose server does not listen: its deletion fails, the first zone's
    // still happens, and the run exits 2 naming the failure.
    let dead_port = crate::util::dnsserver::free_port();
    let extra = format!("[[zones]]\nname = \"down.example.test\"\nserver = \"127.0.0.1:{dead_port}\"\n");
    let w = world!(world_with(DnsKind::Knot, &extra, &[HOME]));
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    w.admin(&["hostname", "add", "alice", "gone.down.example.test", "down.example.test", "--expiry-ttl", "60"])
        .success();
    w.sql(&format!(
        "UPDATE hostnames SET ipv4 = '192.0.2.5', last_update = {t0} WHERE fqdn = 'gone.down.example.test'"
    ));

    let r = w.admin(&["cleanup", "--now", &(t0 + 120).to_string()]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    let failure = format!(
        "zone `down.example.test.`: cannot remove the records of 1 hostnames: cannot reach 127.0.0.1:{dead_port}: Connection refused (os error 111)"
    );
    assert!(r.stderr().contains(&format!("[ERROR] {failure}\n")), "{}", r.stderr());
    assert!(
        r.stderr().ends_with(&format!(
            "error: expired 1 hostnames in 1 zones with 2 DNS messages; sent 0 mails; trimmed 0 rate-limit rows; 1 failures; see the messages above: {failure}\n"
        )),
        "{}",
        r.stderr()
    );
    assert!(w.a(HOME).is_empty());
    // The failed host is still due: the next run tries it again.
    let r = w.expire(t0 + 180);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().contains("expired 0 hostnames in 0 zones with 1 DNS messages"), "{}", r.stderr());
}
