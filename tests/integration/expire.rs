//! The expiry run (`ddns-cgi expire`) against a real Knot or BIND and a real SMTP server:
//! records vanish from DNS, the owner gets one mail, an update restores the host, hosts
//! updated after the cut-off survive, a record changed behind our back is left alone, two
//! runs at once do the work once, and a failed mail is retried by the next run. `--now`
//! stands in for waiting.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

/// The touch interval (a tenth of the expiry time, at most a minute) is added to the cut-off
/// in whole seconds on every engine, as `Host::touch_interval` computes it: a host of 65 s is
/// due 71 s after its update, not 71.5 s (MariaDB's `/` would give 6.5).
#[test]
fn the_touch_interval_is_whole_seconds_on_every_engine() {
    let w = world!(world_with(DnsKind::Knot, "", &[HOME]));
    w.admin(&["hostname", "modify", HOME, "--expiry-ttl", "65"]).success();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let t = w.count(&format!("SELECT last_update FROM hostnames WHERE fqdn = '{HOME}'"));
    let r = w.expire(t + 70);
    assert!(r.success().stdout().starts_with("expired 0 hostnames"), "{}", r.stdout());
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
    let r = w.expire(t + 71);
    assert!(r.success().stdout().starts_with("expired 1 hostnames"), "{}", r.stdout());
    assert!(w.a(HOME).is_empty(), "{}", w.dns.log());
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
        "INSERT INTO rate_limit (scope, \"key\", at) VALUES ('bad-addr', '198.51.100.1', {}), ('bad-addr', '198.51.100.1', {})",
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
    // Only the family sent comes back; the expired AAAA stays gone, in DNS and in the row.
    assert!(w.aaaa(HOME).is_empty());
    assert_eq!(w.stored(HOME), (Some("192.0.2.1".into()), None));
    // The update cleared `expired`: the same address again is `nochg`, and the host expires
    // again once it is stale, with a new mail.
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    let list = w.admin(&["hostname", "list", "--json", "--user", "alice"]).success().stdout();
    assert!(list.contains(&format!("\"hostname\":\"{HOME}\",")), "{list}");
    assert_eq!(list.matches("\"expired\":true").count(), 1, "only TWO is still expired: {list}");
    assert_eq!(w.expire(epoch() + 120).success().stdout(), summary(1, 1, 1, 1, 0));
    assert!(w.a(HOME).is_empty(), "{}", w.dns.log());
    assert_eq!(smtp.messages().len(), 2);
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
    // On PostgreSQL or MariaDB the second may find the first's lock and do nothing (exit 0,
    // saying so).
    let totals = stdouts.iter().fold([0; 3], |acc, out| {
        if out.starts_with("another expiry run holds the ") {
            return acc;
        }
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
        "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600)
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
    // Two more zones on a server that does not listen: the first one's deletion fails, the
    // second is not even tried (the server is down, not one zone), the world's zone on
    // another server still expires, and the run exits 2 naming both failures.
    let dead_port = crate::util::dnsserver::free_port();
    let extra = format!(
        "[[zones]]\nname = \"down.example.test\"\nserver = \"127.0.0.1:{dead_port}\"\n\n[[zones]]\nname = \"down2.example.test\"\nserver = \"127.0.0.1:{dead_port}\"\n"
    );
    let w = world!(world_with(DnsKind::Knot, &extra, &[HOME]));
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    for (fqdn, zone) in
        [("gone.down.example.test", "down.example.test"), ("gone.down2.example.test", "down2.example.test")]
    {
        w.admin(&["hostname", "add", "alice", fqdn, zone, "--expiry-ttl", "60"]).success();
        w.sql(&format!("UPDATE hostnames SET ipv4 = '192.0.2.5', last_update = {t0} WHERE fqdn = '{fqdn}'"));
    }

    let r = w.admin(&["cleanup", "--now", &(t0 + 120).to_string()]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    let failures = [
        format!(
            "zone `down.example.test`: stopped at the first transport failure: cannot reach 127.0.0.1:{dead_port}: Connection refused (os error 111); 1 hostnames left for the next run"
        ),
        format!("zone `down2.example.test`: skipped, its server 127.0.0.1:{dead_port} did not answer in this run"),
    ];
    for failure in &failures {
        assert!(r.stderr().contains(&format!("[ERROR] {failure}\n")), "{}", r.stderr());
    }
    assert!(
        r.stderr().ends_with(&format!(
            "error: expired 1 hostnames in 1 zones with 2 DNS messages; sent 0 mails; trimmed 0 rate-limit rows; 2 failures; see the messages above: {}\n",
            failures.join("; ")
        )),
        "{}",
        r.stderr()
    );
    assert!(w.a(HOME).is_empty());
    // The failed hosts are still due: the next run tries again.
    let r = w.expire(t0 + 180);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().contains("expired 0 hostnames in 0 zones with 1 DNS messages"), "{}", r.stderr());
    assert_eq!(n_expired(&w), 1);
}

/// The `at` column of every rate-limit row, oldest first.
fn rate_limit_rows(w: &World) -> Vec<i64> {
    let rows = w.rows("SELECT at FROM rate_limit ORDER BY at");
    rows.iter().map(|r| r[0].as_deref().and_then(|v| v.parse().ok()).expect("at")).collect()
}

/// How many hostname rows are marked expired.
fn n_expired(w: &World) -> i64 {
    w.count("SELECT COUNT(*) FROM hostnames WHERE expired = 1")
}

#[test]
fn a_far_future_now_decides_what_is_due_but_signing_and_trimming_use_the_clock() {
    let w = world!(world_with(DnsKind::Knot, "", &[HOME]));
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    // A rate-limit row of this minute, and one outside every window (60 s by default).
    w.sql(&format!(
        "INSERT INTO rate_limit (scope, \"key\", at) VALUES ('bad-addr', 'x', {t0}), ('bad-addr', 'x', {})",
        t0 - 1000
    ));
    // Ten years ahead: a message signed at that time would be far outside the TSIG fudge
    // (RFC 8945 §5.2.3) and answered BADTIME.
    let r = w.expire(t0 + 10 * 365 * 86_400);
    assert_eq!(r.success().stdout(), summary(1, 1, 1, 0, 1), "{}", r.stderr());
    assert!(w.a(HOME).is_empty(), "{}", w.dns.log());
    assert_eq!(rate_limit_rows(&w), [t0], "the current row must survive");
}

/// The stored last-update time of `fqdn`.
fn last_update(w: &World, fqdn: &str) -> i64 {
    w.count(&format!("SELECT last_update FROM hostnames WHERE fqdn = '{fqdn}'"))
}

#[test]
fn a_repeat_within_the_touch_interval_writes_nothing_and_expiry_adds_the_interval() {
    let w = world!(world_with(DnsKind::Knot, "", &[HOME, TWO]));
    for (host, ip) in [(HOME, "192.0.2.1"), (TWO, "192.0.2.2")] {
        // An hour: the touch interval is then a minute.
        w.admin(&["hostname", "modify", host, "--expiry-ttl", "3600"]).success();
        w.update(&format!("hostname={host}&myip={ip}")).expect(200, &format!("good {ip}\n"));
    }
    // HOME was last written 20 s ago, inside the interval; TWO 600 s ago, beyond it.
    let t0 = epoch();
    w.sql(&format!("UPDATE hostnames SET last_update = {} WHERE fqdn = '{HOME}'", t0 - 20));
    w.sql(&format!("UPDATE hostnames SET last_update = {} WHERE fqdn = '{TWO}'", t0 - 600));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    w.update(&format!("hostname={TWO}&myip=192.0.2.2")).expect(200, "nochg 192.0.2.2\n");
    assert_eq!(last_update(&w, HOME), t0 - 20, "a repeat inside the interval writes nothing");
    assert!(last_update(&w, TWO) >= t0, "a repeat beyond the interval touches the row");

    // Both repeated at t0. The stored time may be up to the interval before the last repeat,
    // so expiry adds the interval: neither is due an hour after the repeat...
    assert_eq!(w.expire(t0 + 3599).success().stdout(), summary(0, 0, 0, 0, 0));
    assert_eq!(w.expire(t0 - 20 + 3600 + 59).success().stdout(), summary(0, 0, 0, 0, 0));
    assert_eq!((w.a(HOME), w.a(TWO)), (vec!["192.0.2.1".to_owned()], vec!["192.0.2.2".to_owned()]));
    // ... then HOME is (its stored time plus an hour and a minute), and TWO, touched, is not.
    assert_eq!(w.expire(t0 - 20 + 3600 + 60).success().stdout(), summary(1, 1, 1, 0, 0));
    assert!(w.a(HOME).is_empty(), "{}", w.dns.log());
    assert_eq!(w.a(TWO), ["192.0.2.2"]);
    // TWO, which sent nothing since, is due an hour and a minute after its touch.
    let touched = last_update(&w, TWO);
    assert_eq!(w.expire(touched + 3659).success().stdout(), summary(0, 0, 0, 0, 0));
    assert_eq!(w.expire(touched + 3660).success().stdout(), summary(1, 1, 1, 0, 0));
    assert!(w.a(TWO).is_empty(), "{}", w.dns.log());
}

/// The hardening issue's case: `expiry_ttl` 60 (touch interval 6 s), updated, refreshed with
/// `nochg` 3 s later (not recorded), and an expiry run 61 s after the update, 58 s after the
/// refresh. It must not remove the host: a host refreshed less than `expiry_ttl` ago stays.
#[test]
fn a_host_refreshed_inside_the_touch_interval_does_not_expire_before_its_expiry_ttl() {
    let w = world!(world_with(DnsKind::Knot, "", &[HOME]));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    // The update as if made 3 s ago: the refresh below comes 3 s after it.
    let updated = last_update(&w, HOME) - 3;
    w.sql(&format!("UPDATE hostnames SET last_update = {updated} WHERE fqdn = '{HOME}'"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    assert_eq!(last_update(&w, HOME), updated, "the refresh is inside the 6 s touch interval: not recorded");

    // 61 s after the update, at most 58 s after the refresh: not due.
    assert_eq!(w.expire(updated + 61).success().stdout(), summary(0, 0, 0, 0, 0));
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
    // The cut-off is the stored time plus `expiry_ttl` plus the touch interval (60 + 6 s):
    // by then the refresh, at most 6 s after the update, is at least 60 s old.
    assert_eq!(w.expire(updated + 65).success().stdout(), summary(0, 0, 0, 0, 0));
    assert_eq!(w.expire(updated + 66).success().stdout(), summary(1, 1, 1, 0, 0));
    assert!(w.a(HOME).is_empty(), "{}", w.dns.log());
}

#[test]
fn now_is_an_option_of_expire_only() {
    let w = world!(World::knot());
    let help = w.admin(&["expire", "--help"]).success().stdout();
    assert!(help.contains("--now <EPOCH_SECONDS>"), "{help}");
    for args in [&["--help"][..], &["user", "--help"], &["user", "add", "--help"], &["hostname", "list", "--help"]] {
        let help = w.admin(args).success().stdout();
        assert!(!help.contains("--now"), "{args:?}:\n{help}");
    }
    let refused: [(&[&str], &str); 3] = [
        (&["user", "list", "--now", "5"], "unexpected argument '--now'"),
        (&["hostname", "list", "--now", "5"], "unexpected argument '--now'"),
        (&["--now", "5", "init-db"], "required arguments were not provided:\n  --expire"),
    ];
    for (args, message) in refused {
        let r = w.admin(args);
        assert_eq!(r.code(), Some(2), "{args:?}: {}", r.stderr());
        assert!(r.stderr().contains(message), "{args:?}: {}", r.stderr());
    }
    // The flag form of the command keeps its option.
    let r = w.admin(&["--expire", "--now", &epoch().to_string()]);
    assert_eq!(r.success().stdout(), summary(0, 0, 0, 0, 0));
}

#[test]
fn unsigned_error_answers_during_expiry_mark_nothing_and_mail_nobody() {
    use crate::util::relay::{self, Plan, Relay};
    let Some(smtp) = SmtpServer::start() else { return };
    let w = world!(world_with(DnsKind::Knot, &smtp.config(), &[HOME, TWO]));
    let t0 = epoch();
    w.update(&format!("hostname={HOME},{TWO}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\ngood 192.0.2.1\n");
    // RFC 8945 §5.3: only TSIG errors may come unsigned. A forged NXRRSET would otherwise read
    // as "changed behind our back" and mark the hosts expired, mailing their owner, while the
    // records are still served.
    for (rcode, name) in [(8, "NXRRSET"), (5, "REFUSED"), (9, "NOTAUTH")] {
        let relay = Relay::start(w.dns.addr(), move |_, request| {
            if relay::n_prerequisites(request) > 0 {
                Plan::Answer(relay::unsigned_answer(request, rcode))
            } else {
                Plan::forward()
            }
        });
        relay::reroute(&w, &relay);
        let r = w.expire(t0 + 120);
        assert_eq!(r.code(), Some(2), "{name}: {}", r.stderr());
        let expected = format!("answered {name}, but the answer failed TSIG verification");
        assert!(r.stderr().contains(&expected), "{name}: {}", r.stderr());
        assert!(r.stderr().contains("error: expired 0 hostnames in 0 zones"), "{name}: {}", r.stderr());
        assert_eq!(n_expired(&w), 0, "{name}");
        assert!(smtp.messages().is_empty(), "{name}");
        assert_eq!((w.a(HOME), w.a(TWO)), (vec!["192.0.2.1".to_owned()], vec!["192.0.2.1".to_owned()]), "{name}");
        drop(relay);
        w.write_config(&smtp.config());
    }
    // Through a clean path the same run does its work.
    assert_eq!(w.expire(t0 + 120).success().stdout(), summary(2, 1, 1, 1, 0));
    assert!(w.a(HOME).is_empty() && w.a(TWO).is_empty());
}

/// `n` due hostnames `h1` .. `hn` and [`LATE`], all at 192.0.2.7; the row of `odd` claims
/// another address than DNS holds, so every batch that includes it is refused (NXRRSET) and
/// the run falls back to one message per host.
fn many_due_hosts(n: usize, odd: usize) -> Option<(World, Vec<String>, i64)> {
    let hosts: Vec<String> = (1..=n).map(|i| format!("h{i}.{}", crate::util::ZONE)).collect();
    let w = world_with(DnsKind::Knot, "", &[LATE])?;
    w.sql(&format!(
        "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at)
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         SELECT 'h' || i || '.dyn.example.test', 'dyn.example.test', (SELECT id FROM users WHERE name = 'alice'), 60, 60, 0
         FROM n"
    ));
    let t0 = epoch();
    for names in hosts.chunks(20) {
        w.update(&format!("hostname={}&myip=192.0.2.7", names.join(",")))
            .expect(200, &"good 192.0.2.7\n".repeat(names.len()));
    }
    w.update(&format!("hostname={LATE}&myip=192.0.2.7")).expect(200, "good 192.0.2.7\n");
    w.sql(&format!("UPDATE hostnames SET ipv4 = '192.0.2.99' WHERE fqdn = '{}'", hosts[odd]));
    Some((w, hosts, t0))
}

/// Starts `expire --debug --now due_at` and returns once it logged that it falls back to one
/// message per host, that is, while it holds the write lock. Returns the process, the time it
/// started and a thread collecting the rest of its log.
fn expire_until_fallback(w: &World, due_at: i64) -> (std::process::Child, Instant, std::thread::JoinHandle<String>) {
    use std::io::BufRead as _;
    let started = Instant::now();
    let mut child = Command::new(bin())
        .env_clear()
        .arg("--config")
        .arg(&w.config)
        .args(["expire", "--debug", "--now", &due_at.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start expiry");
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = String::new();
    loop {
        let Some(Ok(line)) = lines.next() else { panic!("expiry ended before the per-host fallback:\n{seen}") };
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("retrying host by host") {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
        }
        seen
    });
    (child, started, rest)
}

#[test]
fn a_server_that_stops_answering_ends_the_run_at_the_first_timeout() {
    use crate::util::relay::{self, Plan, Proto, Relay};
    let n = 20;
    let Some((w, hosts, t0)) = many_due_hosts(n, 0) else { return };
    // The batch (over TCP) reaches the server and is refused; then the server goes silent
    // for the expiry run's per-host messages, while client updates still get through.
    let relay = Relay::start(w.dns.addr(), |proto, request| match proto {
        Proto::Udp if relay::n_prerequisites(request) > 0 => Plan::Drop,
        Proto::Udp | Proto::Tcp => Plan::forward(),
    });
    relay::reroute(&w, &relay);
    let (child, started, log) = expire_until_fallback(&w, t0 + 120);
    // An update of another host while the run holds the lock: it must not wait for n
    // timeouts (nor hit its own busy timeout of 10 s and answer 911).
    w.update(&format!("hostname={LATE}&myip=192.0.2.8")).expect(200, "good 192.0.2.8\n");
    assert_eq!(w.a(LATE), ["192.0.2.8"]);
    let out = child.wait_with_output().expect("wait");
    let elapsed = started.elapsed();
    let log = log.join().expect("log");
    assert_eq!(out.status.code(), Some(2), "{log}");
    // One timeout (1.5 s), not one per host (30 s); the margin is wide for a busy machine.
    assert!(elapsed < Duration::from_millis(1500) * (n as u32) / 2, "took {elapsed:?}\n{log}");
    assert!(log.contains("stopped at the first transport failure: no answer from"), "{log}");
    assert!(log.contains(&format!("{n} hostnames left for the next run")), "{log}");
    // Nothing was marked, and (the server never saw the deletions) everything is served.
    assert_eq!(n_expired(&w), 0);
    for host in &hosts {
        assert_eq!(w.a(host), ["192.0.2.7"], "{host}");
    }
}

#[test]
fn a_slow_server_does_not_hold_the_lock_for_a_whole_chunk() {
    use crate::util::relay::{self, Plan, Proto, Relay};
    let (n, odd) = (30, 9);
    let Some((w, hosts, t0)) = many_due_hosts(n, odd) else { return };
    // Updates wait at most 3 s for the lock. Each per-host answer takes 150 ms, so the
    // fallback for one chunk of 30 would hold the lock for 4.5 s.
    w.edit_config(|c| c.replacen("[dns]", "busy_timeout_ms = 3000\n\n[dns]", 1));
    let relay = Relay::start(w.dns.addr(), |proto, request| match proto {
        Proto::Udp if relay::n_prerequisites(request) > 0 => {
            Plan::Forward { delay: Duration::from_millis(150), tamper: |_| {} }
        }
        Proto::Udp | Proto::Tcp => Plan::forward(),
    });
    relay::reroute(&w, &relay);
    let (child, _, log) = expire_until_fallback(&w, t0 + 120);
    w.update(&format!("hostname={LATE}&myip=192.0.2.8")).expect(200, "good 192.0.2.8\n");
    assert_eq!(w.a(LATE), ["192.0.2.8"]);
    let out = child.wait_with_output().expect("wait");
    let log = log.join().expect("log");
    assert!(out.status.success(), "{log}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with(&format!("expired {n} hostnames in 1 zones with ")), "{stdout}");
    // The chunk gave up the lock before its fallback was done, and the next one went on.
    assert!(log.contains("leaving the rest of the chunk for the next one"), "{log}");
    assert!(log.matches("retrying host by host").count() >= 2, "{log}");
    for (i, host) in hosts.iter().enumerate() {
        // The odd host's records changed behind our back: left alone, marked expired.
        let expected: &[&str] = if i == odd { &["192.0.2.7"] } else { &[] };
        assert_eq!(w.a(host), expected, "{host}");
    }
    assert_eq!(n_expired(&w), n as i64);
}

#[test]
fn a_batch_slower_than_the_hold_limit_still_makes_progress() {
    use crate::util::relay::{self, Plan, Proto, Relay};
    let (n, odd) = (6, 5);
    let Some((w, hosts, t0)) = many_due_hosts(n, odd) else { return };
    // A chunk may start exchanges for 100 ms (a quarter of 400 ms), but each refused batch
    // alone takes 300 ms: every chunk must still settle a host before it gives up the lock.
    w.edit_config(|c| c.replacen("[dns]", "busy_timeout_ms = 400\n\n[dns]", 1));
    let relay = Relay::start(w.dns.addr(), |proto, _| match proto {
        Proto::Tcp => Plan::Forward { delay: Duration::from_millis(300), tamper: |_| {} },
        Proto::Udp => Plan::forward(),
    });
    relay::reroute(&w, &relay);
    let mut child = Command::new(bin())
        .env_clear()
        .arg("--config")
        .arg(&w.config)
        .args(["expire", "--debug", "--now", &(t0 + 120).to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start expiry");
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!("expiry makes no progress:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("wait");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{log}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&format!("expired {n} hostnames")), "{log}");
    assert!(log.matches("retrying host by host").count() > 1, "{log}");
    for host in &hosts[..odd] {
        assert!(w.a(host).is_empty(), "{host}");
    }
}

#[test]
fn an_undeliverable_owner_does_not_keep_the_others_from_their_mail() {
    use crate::util::{Cgi, ZONE};
    let Some(smtp) = SmtpServer::start() else { return };
    let w = world!(world_with(DnsKind::Knot, &smtp.config(), &[HOME]));
    // `user add` refuses an address lettre cannot mail, with the message of `user email`.
    let r = w.admin_stdin(&["user", "add", "aaron", "aaron@", "--password-stdin"], "pw-aaron\n");
    assert_eq!((r.code(), r.stderr()), (Some(2), "error: `aaron@` is not an email address\n".to_owned()));
    // A database from before that check may still hold one; `aaron` sorts first.
    w.add_user("aaron", "pw-aaron");
    w.sql("UPDATE users SET email = 'aaron@' WHERE name = 'aaron'");
    w.admin(&["hostname", "add", "aaron", "a.dyn.example.test", ZONE, "--expiry-ttl", "60"]).success();
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    w.cgi(&Cgi::get("hostname=a.dyn.example.test&myip=192.0.2.5").basic("aaron", "pw-aaron"))
        .expect(200, "good 192.0.2.5\n");

    let r = w.expire(t0 + 120);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains("`aaron@` is not a usable email address"), "{}", r.stderr());
    assert!(
        r.stderr().contains("; set another with `ddns-cgi user email aaron ADDRESS`; will retry on the next run"),
        "{}",
        r.stderr()
    );
    assert!(
        r.stderr().contains("error: expired 2 hostnames in 1 zones with 1 DNS messages; sent 1 mails"),
        "{}",
        r.stderr()
    );
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("X-RcptTo: alice@example.test"), "{}", mails[0]);
    assert!(w.a(HOME).is_empty() && w.a("a.dyn.example.test").is_empty());

    // The next run retries the failed owner only.
    let r = w.expire(t0 + 180);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains("`aaron@` is not a usable email address"), "{}", r.stderr());
    assert_eq!(smtp.messages().len(), 1);
    // Once the address is fixed, the retry delivers.
    w.admin(&["user", "email", "aaron", "aaron@example.test"]).success();
    assert_eq!(w.expire(t0 + 240).success().stdout(), summary(0, 0, 0, 1, 0));
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    assert!(mails[1].contains("X-RcptTo: aaron@example.test"), "{}", mails[1]);
    assert!(mails[1].contains("a.dyn.example.test  (was 192.0.2.5)"), "{}", mails[1]);
}

/// A refusal is not a dead server: a zone the server does not serve (NOTAUTH, a DNS answer,
/// not a transport failure) fails alone, and the served zone on the same server, which comes
/// after it, still expires.
#[test]
fn a_refused_zone_does_not_stop_the_zones_after_it_on_the_same_server() {
    // `a-unserved.example.test` sorts before the world's zone, so it is tried first.
    let w = world!(world_with(DnsKind::Knot, "[[zones]]\nname = \"a-unserved.example.test\"\n", &[HOME]));
    let t0 = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let stray = "gone.a-unserved.example.test";
    w.admin(&["hostname", "add", "alice", stray, "a-unserved.example.test", "--expiry-ttl", "60"]).success();
    w.sql(&format!("UPDATE hostnames SET ipv4 = '192.0.2.5', last_update = {t0} WHERE fqdn = '{stray}'"));

    let r = w.admin(&["cleanup", "--now", &(t0 + 7_200).to_string()]);
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(!r.stderr().contains("transport failure"), "{}", r.stderr());
    assert!(!r.stderr().contains("did not answer in this run"), "{}", r.stderr());
    // The served zone expired all the same: its record is gone and its row marked.
    assert!(w.a(HOME).is_empty(), "{}", r.stderr());
    assert_eq!(n_expired(&w), 1, "{}", r.stderr());
}
