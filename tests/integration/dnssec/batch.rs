//! Messages of several hosts into a signed zone: the FastCGI group commit's multi-host
//! message (held at a relay until every client waits behind it, as `perf` does), and BIND's
//! inline signing under read-back (`confirm`), where the signed version of the zone, the one
//! served, takes the change a moment after the UPDATE's answer.

use crate::perf::{Hold, spawn_curl, wait_authenticated};
use crate::util::web::{Front, WebServer};
use crate::util::{DnsKind, ZONE};
use crate::web::{NO_RATE_LIMIT, creds};

use super::{records, signed_world};

/// `n` clients, one host each, through FastCGI: all but the first wait behind the first
/// run and go in one message; every new record validates.
fn group_commit_validates(kind: DnsKind) {
    let n = 6;
    let hosts: Vec<String> = (0..n).map(|i| format!("g{i}.{ZONE}")).collect();
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let world = world!(signed_world(kind, &refs, NO_RATE_LIMIT));
    world.edit_config(|c| c.replace("timeout_ms = 1500", "timeout_ms = 30000"));
    let (hold, _relay) = Hold::relay(&world);
    let web = world!(WebServer::start(&world, Front::NginxFastcgi));
    let ip = |i: usize| format!("198.51.100.{}", 10 + i);
    let mut running = vec![spawn_curl(&web, &format!("hostname={}&myip={}", hosts[0], ip(0)), &creds())];
    assert!(hold.wait_held(1), "{}", web.fastcgi_log());
    for (i, host) in hosts.iter().enumerate().skip(1) {
        running.push(spawn_curl(&web, &format!("hostname={host}&myip={}", ip(i)), &creds()));
    }
    wait_authenticated(&web, n);
    hold.release();
    for (i, t) in running.into_iter().enumerate() {
        assert_eq!(t.join().expect("curl"), (200, format!("good {}\n", ip(i))), "{}", web.fastcgi_log());
    }
    let largest = web
        .fastcgi_log()
        .lines()
        .filter_map(|l| l.split_once(" hostnames: DNS exchange with")?.0.rsplit(' ').next()?.parse::<usize>().ok())
        .max();
    assert!(largest.is_some_and(|m| m > 1), "no multi-host message: {largest:?}\n{}", web.fastcgi_log());
    for (i, host) in hosts.iter().enumerate() {
        assert_eq!(world.dns.validated(host, "A"), records(&[&ip(i)]), "{host}");
    }
}

#[test]
fn knot_group_commit_validates() {
    group_commit_validates(DnsKind::Knot);
}

#[test]
fn bind_group_commit_validates() {
    group_commit_validates(DnsKind::Bind);
}

#[test]
fn powerdns_group_commit_validates() {
    group_commit_validates(DnsKind::PowerDns);
}

/// With BIND's inline signing an update lands in the unsigned zone, and the signed zone, the
/// one BIND serves, takes it a moment later under a serial of its own. Read-back listing the
/// primary itself must wait for the signed version that holds the change: a client asking
/// right after `good` gets its new, signed records. Twenty hosts in one message make the
/// signing take long enough to see the lag.
#[test]
fn bind_read_back_waits_for_the_signed_serial() {
    let hosts: Vec<String> = (0..20).map(|i| format!("r{i}.{ZONE}")).collect();
    let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
    let w = world!(signed_world(DnsKind::Bind, &refs, ""));
    let primary = w.dns.addr();
    w.edit_config(|c| {
        c.replacen(
            "timeout_ms = 1500\n",
            &format!("timeout_ms = 1500\nconfirm = [\"{primary}\"]\nconfirm_timeout_ms = 5000\n"),
            1,
        )
    });
    let all = hosts.join(",");
    for round in 1..=5 {
        let ip = format!("192.0.2.{round}");
        let r = w.update(&format!("hostname={all}&myip={ip}"));
        assert_eq!(r.body, format!("good {ip}\n").repeat(20), "{}", r.log);
        // The serial read-back waited for is that of the signed version holding the last
        // host's change: the one served now, nothing having changed since. (A dig started
        // after the answer is too slow to catch the lag itself; ddns-cgi's own query is not.)
        let waited: Option<u32> = r
            .log
            .lines()
            .find_map(|l| l.split_once("every secondary serves serial ")?.1.split(' ').next()?.parse().ok());
        assert_eq!(waited, Some(w.dns.serial()), "round {round}\n{}", r.log);
        assert_eq!(w.dns.validated(&hosts[19], "A"), records(&[&ip]));
    }
}
