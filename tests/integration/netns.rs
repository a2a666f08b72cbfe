//! Two front-ends on two hosts, shown with network namespaces (issue 11). The test builds its
//! own network (`util::netns`: a hub namespace with a bridge, and one namespace per host
//! joined to it by a veth pair, addresses in 10.213.0.0/24 only): the hidden-primary Knot in
//! the hub, a Knot secondary (ns1) and a BIND secondary (ns2) in namespaces of their own, and
//! two front-ends (nginx + `ddns-cgi fastcgi`), each in its own namespace, sharing one
//! PostgreSQL through its Unix socket (a file, which namespaces do not separate) and reaching
//! the primary over their veth links. Each front-end's clients talk to it inside its
//! namespace, as through a local load balancer. Shown: updates through either front-end reach
//! both secondaries; with one front-end and one secondary cut off (their links down), updates
//! through the other front-end still succeed and the remaining secondary serves them; the
//! cut-off secondary catches up by IXFR when its link returns; one host hammered through both
//! front-ends ends with the row equal to DNS on every server; two expiry runs started at once,
//! one on each front-end, do the work once.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::dnsserver::Replication;
use crate::util::netns::{self, HUB, Net};
use crate::util::pg::PgServer;
use crate::util::web::{Front, Http, WebServer, curl};
use crate::util::{DnsKind, DnsServer, PASSWORD, TempDir, TsigKey, USER, World, ZONE, bin, epoch};

const HOME: &str = "home.dyn.example.test";
const NS1: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 3);
const NS2: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 4);
const FE_A: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 11);
const FE_B: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 12);

/// A front-end: its namespace and its web server there.
struct FrontEnd {
    ns: String,
    web: WebServer,
}

impl FrontEnd {
    fn start(net: &Net, tag: &str, w: &World) -> Option<FrontEnd> {
        let ns = net.ns(tag);
        let web = netns::inside(&ns, || WebServer::start(w, Front::NginxFastcgi))?;
        Some(FrontEnd { ns, web })
    }

    /// One update through this front-end, from a client beside it.
    fn update(&self, ip: &str) -> Http {
        let url = self.web.url(&format!("/nic/update?hostname={HOME}&myip={ip}"));
        netns::inside(&self.ns, || curl(&["-u", &format!("{USER}:{PASSWORD}"), &url]))
    }
}

/// Waits (at most 10 s) until `server` serves `expected` as the A record of [`HOME`].
#[track_caller]
fn serves(server: &DnsServer, expected: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = server.query(HOME, "A");
        if found == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{:?} serves {found:?} for {HOME}, not {expected:?}\nlog:\n{}",
            server.kind(),
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (at most 10 s) until namespace `ns` gets an SOA answer from the primary over its
/// link: after a link comes back, the first packets wait for address resolution.
#[track_caller]
fn reaches(ns: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = netns::command_in(Some(ns), "kdig")
            .args([&format!("@{HUB}"), "-p", &port.to_string(), "+timeout=1", "+retry=0", "+short"])
            .args([&format!("{ZONE}."), "SOA"])
            .output();
        if out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("hostmaster")) {
            return;
        }
        assert!(Instant::now() < deadline, "{ns} does not reach the primary at {HUB}:{port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn log_len(server: &DnsServer) -> usize {
    std::fs::read_to_string(server.dir().join("server.log")).map_or(0, |l| l.len())
}

fn log_since(server: &DnsServer, from: usize) -> String {
    let log = std::fs::read_to_string(server.dir().join("server.log")).unwrap_or_default();
    log.get(from..).unwrap_or_default().to_owned()
}

#[test]
fn two_front_ends_in_their_own_namespaces_share_postgresql_and_a_hidden_primary() {
    let started = Instant::now();
    let net = crate::world!(Net::create(&[("ns1", NS1), ("ns2", NS2), ("fea", FE_A), ("feb", FE_B)]));
    let replication = Replication::across([HUB, NS1, NS2]);
    let key = TsigKey::generate("ddns-key.", "hmac-sha256");
    let primary = crate::world!(netns::inside(&net.hub(), || DnsServer::start_hidden_primary(
        DnsKind::Knot,
        ZONE,
        &key,
        &replication
    )));
    // Each secondary is ready once it serves the zone it fetched from the primary over its link.
    let ns1 = crate::world!(netns::inside(&net.ns("ns1"), || DnsServer::start_secondary(
        DnsKind::Knot,
        &primary,
        &replication,
        0
    )));
    let ns2 = crate::world!(netns::inside(&net.ns("ns2"), || DnsServer::start_secondary(
        DnsKind::Bind,
        &primary,
        &replication,
        1
    )));
    let dir = TempDir::new("netns");
    let config = dir.path().join("config.toml");
    let db = dir.path().join("ddns.db");
    let port = primary.addr().port();
    let w = World { dir, dns: primary, key, config, db, pg: Some(PgServer::shared().create_database()), mariadb: None };
    w.write_config("");
    // The front-ends reach the primary at its address on the test network, not on loopback.
    w.edit_config(|t| t.replace(&format!("\"127.0.0.1:{port}\""), &format!("\"{HUB}:{port}\"")));
    assert!(std::fs::read_to_string(&w.config).is_ok_and(|t| t.contains(&format!("server = \"{HUB}:{port}\""))));
    w.admin(&["init-db"]).success();
    w.add_user(USER, PASSWORD);
    w.admin(&["hostname", "add", USER, HOME, ZONE]).success();
    let fe_a = crate::world!(FrontEnd::start(&net, "fea", &w));
    let fe_b = crate::world!(FrontEnd::start(&net, "feb", &w));

    // Through either front-end, to both secondaries.
    fe_a.update("192.0.2.10").expect(200, "good 192.0.2.10\n");
    serves(&ns1, &["192.0.2.10"]);
    serves(&ns2, &["192.0.2.10"]);
    fe_b.update("192.0.2.11").expect(200, "good 192.0.2.11\n");
    serves(&ns1, &["192.0.2.11"]);
    serves(&ns2, &["192.0.2.11"]);

    // Front-end A and the Knot secondary cut off: B's updates still succeed, and the BIND
    // secondary serves them while the cut-off one keeps the old answer.
    net.link("fea", false);
    net.link("ns1", false);
    let from = log_len(&ns1);
    fe_b.update("192.0.2.12").expect(200, "good 192.0.2.12\n");
    serves(&ns2, &["192.0.2.12"]);
    assert_eq!(w.a(HOME), ["192.0.2.12"]);
    assert_eq!(ns1.query(HOME, "A"), ["192.0.2.11"], "the cut-off secondary got the change");
    // A cannot reach the primary: its answer says so, and nothing changed.
    fe_a.update("192.0.2.99").expect(200, "dnserr\n");
    assert_eq!(w.stored(HOME), (Some("192.0.2.12".into()), None));

    // The link back: at the primary's next NOTIFY the Knot secondary fetches what it missed by
    // IXFR (RFC 1995), not a whole AXFR.
    net.link("ns1", true);
    fe_b.update("192.0.2.13").expect(200, "good 192.0.2.13\n");
    serves(&ns1, &["192.0.2.13"]);
    serves(&ns2, &["192.0.2.13"]);
    assert_eq!((ns1.serial(), ns2.serial()), (w.dns.serial(), w.dns.serial()));
    let caught_up = log_since(&ns1, from);
    assert!(caught_up.contains("IXFR, incoming") && !caught_up.contains("AXFR, incoming"), "{caught_up}");
    net.link("fea", true);
    reaches(&fe_a.ns, w.dns.addr().port());

    // One host hammered through both front-ends at once: every answer `good`, and the row,
    // the primary and both secondaries end on the same address.
    let answers: Vec<(String, Http)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..24u8)
            .map(|i| {
                let fe = if i % 2 == 0 { &fe_a } else { &fe_b };
                s.spawn(move || {
                    let ip = format!("198.51.100.{}", i + 1);
                    let r = fe.update(&ip);
                    (ip, r)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("update thread")).collect()
    });
    for (ip, r) in &answers {
        let why = || format!("A:\n{}\nB:\n{}", fe_a.web.fastcgi_log(), fe_b.web.fastcgi_log());
        assert_eq!((r.status, r.body.as_str()), (200, format!("good {ip}\n").as_str()), "{}", why());
    }
    let in_dns = w.a(HOME);
    assert_eq!(in_dns.len(), 1, "{in_dns:?}");
    assert_eq!(w.stored(HOME).0.as_deref(), Some(in_dns[0].as_str()), "the row and DNS disagree");
    serves(&ns1, &[in_dns[0].as_str()]);
    serves(&ns2, &[in_dns[0].as_str()]);

    // Two expiry runs, one on each front-end, started at once: one expires the host, the
    // other finds the advisory lock held (or, had it started after the first ended, nothing
    // left to do); the host is gone from the primary and from both secondaries.
    let spawn = |fe: &FrontEnd| {
        netns::command_in(Some(&fe.ns), bin())
            .env_clear()
            .arg("--config")
            .arg(&w.config)
            .args(["expire", "--now", &(epoch() + 7200).to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start expiry")
    };
    crate::util::one_expiry_run_did_the_work([spawn(&fe_a), spawn(&fe_b)]);
    assert!(w.a(HOME).is_empty());
    serves(&ns1, &[]);
    serves(&ns2, &[]);
    assert_eq!(w.count("SELECT COUNT(*) FROM hostnames WHERE expired = 1"), 1);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(60), "took {took:?}");
}
