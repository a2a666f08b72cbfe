//! A hidden primary and two public secondaries (issue 11), started from the shipped
//! `contrib/{knot,bind}/hidden-primary.conf` and `secondary.conf`: ddns-cgi updates only the
//! primary, which NOTIFYs (RFC 1996) a Knot and a BIND secondary that fetch each change by
//! IXFR (RFC 1995). Shown: updates reach both secondaries; with one secondary stopped, updates
//! still succeed and the other serves them; a restarted secondary catches up by IXFR; and the
//! optional read-back (`confirm`) answers only once the secondaries serve the change, or after
//! its bound, naming the lagging server. A PowerDNS hidden primary (`contrib/powerdns/`)
//! feeds the same two secondaries. `wait.rs`: answers that wait only on request
//! (`wait=`, `[acme] wait`), in CGI and in FastCGI, and `hostname status`.

use std::time::{Duration, Instant};

use crate::util::dnsserver::Replication;
use crate::util::{DnsKind, DnsServer, PASSWORD, TempDir, TsigKey, USER, World, ZONE};

mod wait;

const HOME: &str = "home.dyn.example.test";

/// A world whose DNS server is a hidden primary, with its Knot secondary (ns1) and BIND
/// secondary (ns2).
struct Deployment {
    w: World,
    ns1: DnsServer,
    ns2: DnsServer,
}

fn deployment(primary: DnsKind) -> Option<Deployment> {
    let replication = Replication::new();
    let key = TsigKey::generate("ddns-key.", "hmac-sha256");
    let dns = DnsServer::start_hidden_primary(primary, ZONE, &key, &replication)?;
    let ns1 = DnsServer::start_secondary(DnsKind::Knot, &dns, &replication, 0)?;
    let ns2 = DnsServer::start_secondary(DnsKind::Bind, &dns, &replication, 1)?;
    let dir = TempDir::new("replicas");
    let config = dir.path().join("config.toml");
    let db = dir.path().join("ddns.db");
    let w = World {
        dir,
        dns,
        key,
        config,
        db,
        pg: crate::util::pg::world_database(),
        mariadb: crate::util::mariadb::world_database(),
    };
    w.write_config("");
    w.admin(&["init-db"]).success();
    w.add_user(USER, PASSWORD);
    w.admin(&["hostname", "add", USER, HOME, ZONE]).success();
    Some(Deployment { w, ns1, ns2 })
}

impl Deployment {
    /// Turns read-back on: both secondaries, waited for at most `timeout_ms`.
    fn confirm(&self, timeout_ms: u64) {
        let (ns1, ns2) = (self.ns1.addr(), self.ns2.addr());
        self.w.edit_config(|text| {
            text.replacen(
                "timeout_ms = 1500\n",
                &format!("timeout_ms = 1500\nconfirm = [\"{ns1}\", \"{ns2}\"]\nconfirm_timeout_ms = {timeout_ms}\n"),
                1,
            )
        });
    }
}

/// Waits (at most 10 s; a NOTIFY and an IXFR on loopback take milliseconds) until `server`
/// serves `expected` as the A record of `fqdn`.
#[track_caller]
fn serves(server: &DnsServer, fqdn: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = server.query(fqdn, "A");
        if found == [expected] {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{:?} on port {} serves {found:?} for {fqdn}, not [{expected}]\nlog:\n{}",
            server.kind(),
            server.addr(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The server's own log file, from `from` bytes on (what it logged since then).
fn log_since(server: &DnsServer, from: usize) -> String {
    let log = std::fs::read_to_string(server.dir().join("server.log")).unwrap_or_default();
    log.get(from..).unwrap_or_default().to_owned()
}

fn log_len(server: &DnsServer) -> usize {
    std::fs::read_to_string(server.dir().join("server.log")).map_or(0, |l| l.len())
}

#[test]
fn updates_reach_both_secondaries_and_a_stopped_one_catches_up_by_ixfr() {
    let Deployment { w, mut ns1, mut ns2 } = world!(deployment(DnsKind::Knot));
    w.update(&format!("hostname={HOME}&myip=192.0.2.10")).expect(200, "good 192.0.2.10\n");
    serves(&ns1, HOME, "192.0.2.10");
    serves(&ns2, HOME, "192.0.2.10");

    // The Knot secondary is gone: updates still succeed, the BIND secondary serves them.
    ns1.stop();
    w.update(&format!("hostname={HOME}&myip=192.0.2.11")).expect(200, "good 192.0.2.11\n");
    serves(&ns2, HOME, "192.0.2.11");
    let from = log_len(&ns1);
    ns1.restart();
    serves(&ns1, HOME, "192.0.2.11");
    assert_eq!(ns1.serial(), w.dns.serial());
    let caught_up = log_since(&ns1, from);
    assert!(caught_up.contains("IXFR, incoming") && !caught_up.contains("AXFR, incoming"), "{caught_up}");

    // And the other way round: the BIND secondary is gone for two updates. BIND does not ask
    // its primary when it starts (it counts the SOA refresh from its zone file's age), so it
    // catches up at the next NOTIFY, with one IXFR over every version it missed.
    let before = ns2.serial();
    ns2.stop();
    w.update(&format!("hostname={HOME}&myip=192.0.2.12")).expect(200, "good 192.0.2.12\n");
    w.update(&format!("hostname={HOME}&myip=192.0.2.13")).expect(200, "good 192.0.2.13\n");
    serves(&ns1, HOME, "192.0.2.13");
    let from = log_len(&ns2);
    ns2.restart();
    w.update(&format!("hostname={HOME}&myip=192.0.2.14")).expect(200, "good 192.0.2.14\n");
    serves(&ns2, HOME, "192.0.2.14");
    assert_eq!(ns2.serial(), w.dns.serial());
    assert!(w.dns.serial() >= before + 3, "the primary moved on while ns2 was gone");
    let caught_up = log_since(&ns2, from);
    assert!(caught_up.contains("requesting IXFR") && !caught_up.contains("requesting AXFR"), "{caught_up}");
}

#[test]
fn a_bind_hidden_primary_feeds_both_secondaries() {
    let Deployment { w, ns1, ns2 } = world!(deployment(DnsKind::Bind));
    w.update(&format!("hostname={HOME}&myip=192.0.2.20")).expect(200, "good 192.0.2.20\n");
    serves(&ns1, HOME, "192.0.2.20");
    serves(&ns2, HOME, "192.0.2.20");
    w.update(&format!("hostname={HOME}&myip=192.0.2.21")).expect(200, "good 192.0.2.21\n");
    serves(&ns1, HOME, "192.0.2.21");
    serves(&ns2, HOME, "192.0.2.21");
    assert!(ns1.log().contains("IXFR, incoming"), "{}", ns1.log());
    assert_eq!((ns1.serial(), ns2.serial()), (w.dns.serial(), w.dns.serial()));
}

#[test]
fn a_powerdns_hidden_primary_feeds_both_secondaries_and_read_back_waits_for_them() {
    // PowerDNS from contrib/powerdns/ (ddns-cgi-zone.sh, then hidden-primary.sh): it NOTIFYs
    // after each UPDATE (NOTIFY-DNSUPDATE) and sends the whole zone, where Knot and BIND send
    // the difference.
    let d = world!(deployment(DnsKind::PowerDns));
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.40")).expect(200, "good 192.0.2.40\n");
    serves(&d.ns1, HOME, "192.0.2.40");
    serves(&d.ns2, HOME, "192.0.2.40");
    // With read-back on, the answer comes once both serve the change.
    d.confirm(5_000);
    let r = d.w.update(&format!("hostname={HOME}&myip=192.0.2.41"));
    r.expect(200, "good 192.0.2.41\n");
    assert!(r.log.contains("every secondary serves serial"), "{}", r.log);
    assert_eq!(d.ns1.query(HOME, "A"), ["192.0.2.41"]);
    assert_eq!(d.ns2.query(HOME, "A"), ["192.0.2.41"]);
    assert_eq!((d.ns1.serial(), d.ns2.serial()), (d.w.dns.serial(), d.w.dns.serial()));
}

#[test]
fn confirm_answers_once_both_secondaries_serve_the_change() {
    let d = world!(deployment(DnsKind::Knot));
    d.confirm(5_000);
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.30")).expect(200, "good 192.0.2.30\n");
    // Right after the answer, without waiting: both secondaries have it.
    assert_eq!(d.ns1.query(HOME, "A"), ["192.0.2.30"]);
    assert_eq!(d.ns2.query(HOME, "A"), ["192.0.2.30"]);

    // A secondary that is slow to fetch (here: paused for 1.5 s) holds the answer back until
    // it serves the change; without read-back the answer would come at once.
    d.ns2.pause();
    let started = Instant::now();
    let r = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(1_500));
            d.ns2.resume();
        });
        d.w.update(&format!("hostname={HOME}&myip=192.0.2.31"))
    });
    let took = started.elapsed();
    r.expect(200, "good 192.0.2.31\n");
    assert!(took >= Duration::from_millis(1_500), "answered after {took:?}, before the paused secondary resumed");
    assert_eq!(d.ns1.query(HOME, "A"), ["192.0.2.31"]);
    assert_eq!(d.ns2.query(HOME, "A"), ["192.0.2.31"]);
    assert!(r.log.contains("every secondary serves serial"), "{}", r.log);
    assert!(!r.log.contains("does not serve serial"), "{}", r.log);
}

#[test]
fn confirm_answers_good_within_its_bound_and_names_a_stopped_secondary() {
    let mut d = world!(deployment(DnsKind::Knot));
    // Knot, as the primary, sends its NOTIFY about a second after an update: a bound of 2.5 s
    // leaves the running secondary time to fetch the change.
    d.confirm(2_500);
    d.ns2.stop();
    let started = Instant::now();
    let r = d.w.update(&format!("hostname={HOME}&myip=192.0.2.40"));
    let took = started.elapsed();
    // The change is committed on the primary: `good` anyway, after the bound.
    r.expect(200, "good 192.0.2.40\n");
    // The bound, plus at most one last SOA query (500 ms) and the CGI process's own time.
    assert!(took >= Duration::from_millis(2_500) && took < Duration::from_millis(5_000), "answered after {took:?}");
    assert_eq!(d.w.a(HOME), ["192.0.2.40"]);
    assert_eq!(d.ns1.query(HOME, "A"), ["192.0.2.40"]);
    // One warning, for the stopped server only, with the request's transaction id.
    let lagging: Vec<&str> = r.log.lines().filter(|l| l.contains("does not serve serial")).collect();
    assert_eq!(lagging.len(), 1, "{}", r.log);
    let line = lagging[0];
    assert!(line.contains(&format!("secondary {} does not serve serial", d.ns2.addr())), "{line}");
    assert!(line.contains("answering anyway"), "{line}");
    let txn = line.split("[WARNING] [").nth(1).and_then(|rest| rest.split(']').next()).unwrap_or_default();
    assert!(txn.len() == 8 && txn.bytes().all(|b| b.is_ascii_hexdigit()), "no transaction id in {line}");
    assert!(r.log.lines().filter(|l| l.contains(&format!("[{txn}]"))).count() > 1, "{}", r.log);
}

/// `ddns-cgi check` reports each read-back server: both serving the primary's serial once the
/// change has reached them; a stopped one is a failed line naming it, and a non-zero exit.
#[test]
fn check_reports_each_secondary() {
    use std::os::unix::fs::PermissionsExt as _;
    let mut d = world!(deployment(DnsKind::Knot));
    d.confirm(2_500);
    // The config holds the TSIG secret inline: `check` wants it private.
    std::fs::set_permissions(&d.w.config, std::fs::Permissions::from_mode(0o600)).expect("chmod config");
    d.w.update(&format!("hostname={HOME}&myip=192.0.2.41")).expect(200, "good 192.0.2.41\n");
    let (ns1, ns2) = (d.ns1.addr(), d.ns2.addr());
    let run = d.w.admin(&["check"]);
    let out = run.stdout();
    for ns in [ns1, ns2] {
        let line = format!("ok    zone `{ZONE}`: secondary {ns} serves the primary's serial");
        assert!(out.lines().any(|l| l == line), "no {line:?} in\n{out}{}", run.stderr());
    }
    d.ns2.stop();
    let run = d.w.admin(&["check"]);
    assert_eq!(run.code(), Some(2), "{}{}", run.stdout(), run.stderr());
    let out = run.stdout();
    let failed: Vec<&str> = out.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert_eq!(failed.len(), 1, "{out}");
    assert!(failed[0].contains(&format!("secondary {ns2} does not answer for the zone")), "{out}");
}
