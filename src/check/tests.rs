//! Unit tests of `check`: users and groups from passwd- and group-shaped tables, the
//! process's own identity, access by owner, group and mode bits, the clock lines, and the
//! recognition of PowerDNS.

use super::zone::clock_line;
use super::*;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nadm:x:4:syslog,www-data\nwww-data:x:33:\nddns:x:900:alice,www-data\nnogroup:x:65534:\n";

fn accounts() -> Accounts {
    Accounts { passwd: PASSWD.to_owned(), group: GROUP.to_owned() }
}

#[test]
fn users_come_with_every_group() {
    let a = accounts();
    assert_eq!(a.user("www-data"), Some(Identity { name: "www-data".into(), uid: 33, gids: vec![33, 4, 900] }));
    assert_eq!(a.user("nobody"), Some(Identity { name: "nobody".into(), uid: 65534, gids: vec![65534] }));
    assert_eq!(a.user("www"), None, "a prefix is not a user");
    assert_eq!(a.user("mallory"), None);
    assert_eq!(
        (a.user_name(33), a.group_name(900), a.user_name(7)),
        ("www-data".into(), "ddns".into(), "uid 7".into())
    );
}

#[test]
fn access_follows_owner_then_group_then_other() {
    let www = accounts().user("www-data").expect("www-data");
    let root = accounts().user("root").expect("root");
    // Owner bits decide for the owner, even when the group would allow more.
    assert!(!www.may_mode(33, 33, 0o460, false, WRITE));
    assert!(www.may_mode(33, 0, 0o600, false, READ | WRITE));
    // A supplementary group counts.
    assert!(www.may_mode(0, 900, 0o660, false, READ | WRITE));
    assert!(!www.may_mode(0, 900, 0o640, false, WRITE));
    // Neither owner nor group: the other bits.
    assert!(!www.may_mode(0, 0, 0o600, false, READ));
    assert!(www.may_mode(0, 0, 0o755, true, SEARCH));
    assert!(!www.may_mode(0, 0, 0o750, true, SEARCH));
    // Root reads and writes anything, and runs a file only if some x bit is set.
    assert!(root.may_mode(33, 33, 0o000, false, READ | WRITE));
    assert!(root.may_mode(33, 33, 0o000, true, WRITE | SEARCH));
    assert!(!root.may_mode(0, 0, 0o644, false, SEARCH));
}

#[test]
fn clock_lines() {
    let server: std::net::SocketAddr = "127.0.0.1:53".parse().expect("addr");
    assert_eq!(
        clock_line("dyn.example.com", server, Some(-2)),
        "zone `dyn.example.com`: clocks agree, 127.0.0.1:53's is -2 s from ours (TSIG allows 300 s)"
    );
    assert_eq!(
        clock_line("dyn.example.com", server, Some(301)),
        "zone `dyn.example.com`: 127.0.0.1:53's clock is +301 s from ours, more than TSIG's 300 s; synchronise both (NTP)"
    );
}

#[test]
fn the_process_identity_uses_effective_ids() {
    let status = "Name:\tddns-cgi\nUid:\t0\t33\t33\t33\nGid:\t0\t33\t33\t33\nGroups:\t4 33 900 \n";
    let id = accounts().process(status).expect("identity");
    assert_eq!(id, Identity { name: "www-data".into(), uid: 33, gids: vec![33, 4, 900] });
}

#[test]
fn powerdns_is_recognised_by_its_version_text() {
    use super::server::Software;
    #[track_caller]
    fn check(version: Option<&str>, powerdns: bool) {
        let software = Software::from_version(version);
        assert_eq!(matches!(software, Software::PowerDns { .. }), powerdns, "{version:?}");
    }
    check(Some("PowerDNS Authoritative Server 4.7.3"), true);
    // `version-string=anonymous`.
    check(Some("Served by PowerDNS - https://www.powerdns.com/"), true);
    check(Some("Knot DNS 3.2.6"), false);
    check(Some("9.18.28-1~deb12u2-Debian"), false);
    // `version-string` set to the administrator's own text, or no answer.
    check(Some("none of your business"), false);
    check(None, false);
}
