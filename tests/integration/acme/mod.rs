//! The acme-dns API against a real Knot: `acme add` credentials, `POST /acme/update` with the
//! answers, status codes and error strings of acme-dns (github.com/joohoi/acme-dns, `api.go`,
//! `auth.go`), the two newest values published, `allowfrom`, and `POST /acme/register` off by
//! default and limited by `register_from` when on. [`certbot`]: certbot and Debian's
//! `pebble` obtain certificates through it; [`signed`]: challenge records in a signed zone.

mod certbot;
mod check;
mod signed;
mod values;

use std::time::{Duration, Instant};

use crate::util::web::{Front, WebServer, curl};
use crate::util::{Cgi, DnsKind, Response, Setup, World, ZONE};

/// The challenge names live in the test zone itself, so Knot answers the CNAME and the TXT
/// it points to in one response.
const ACME: &str = "[acme]\nzone = \"dyn.example.test\"\n";
const TXT_A: &str = "LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo";
const TXT_B: &str = "x7b9LVNZ0BAuFkUqn_4XR0gLcCpqYYqYANgOQD-3w_k";
const TXT_C: &str = "c0EXfHfYd5kGSJtG_2Cx8Wlam47w5Ka1TaotXhHbJK0";

fn acme_world(extra: &str) -> Option<World> {
    // The harness appends this inside its `[log]` table.
    let config = format!("log_requests = true\n{ACME}{extra}");
    World::new(Setup { extra_config: &config, ..Setup::default() })
}

/// An account as `acme add --json` prints it: `{DOMAIN: {username, password, ...}}`.
struct Account {
    username: String,
    password: String,
    subdomain: String,
    fulldomain: String,
    json: String,
}

#[track_caller]
fn add_account(w: &World, domain: &str, args: &[&str]) -> Account {
    let mut all = vec!["acme", "add", domain, "--json"];
    all.extend_from_slice(args);
    let run = w.admin(&all);
    run.success();
    let json = run.stdout();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let entry = &v[domain.trim_start_matches("*.")];
    let field = |k: &str| entry[k].as_str().unwrap_or_else(|| panic!("no `{k}` in {json}")).to_owned();
    let account = Account {
        username: field("username"),
        password: field("password"),
        subdomain: field("subdomain"),
        fulldomain: field("fulldomain"),
        json,
    };
    assert_eq!(account.fulldomain, format!("{}.{ZONE}", account.subdomain));
    assert_eq!(account.password.len(), 40, "{}", account.json);
    assert!(entry["allowfrom"].is_array(), "{}", account.json);
    account
}

fn post(path: &str, body: &str) -> Cgi {
    Cgi::get("").path(path).post("application/json", body)
}

fn update_req(a: &Account, subdomain: &str, txt: &str) -> Cgi {
    post("/acme/update", &format!("{{\"subdomain\": \"{subdomain}\", \"txt\": \"{txt}\"}}"))
        .env("HTTP_X_API_USER", &a.username)
        .env("HTTP_X_API_KEY", &a.password)
}

#[track_caller]
fn expect_json(r: &Response, status: u16, expected: serde_json::Value) {
    let body: serde_json::Value =
        serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {:?}\nlog:\n{}", r.body, r.log));
    assert_eq!((r.status, body), (status, expected), "log:\n{}", r.log);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
}

/// The TXT values at `name`, unquoted and sorted.
fn txt(w: &World, name: &str) -> Vec<String> {
    w.dns.query(name, "TXT").into_iter().map(|t| t.trim_matches('"').to_owned()).collect()
}

#[test]
fn update_answers_as_acme_dns() {
    let w = world!(acme_world(""));
    let a = add_account(&w, "example.org", &[]);
    let b = add_account(&w, "*.other.example", &[]);
    let mut logs = String::new();
    let mut run = |req: Cgi| {
        let r = w.cgi(&req);
        logs.push_str(&r.log);
        r
    };
    // Success answers the value; the two newest values are published.
    expect_json(&run(update_req(&a, &a.subdomain, TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    assert_eq!(txt(&w, &a.fulldomain), [TXT_A]);
    expect_json(&run(update_req(&a, &a.subdomain, TXT_B)), 200, serde_json::json!({ "txt": TXT_B }));
    let mut both = vec![TXT_A.to_owned(), TXT_B.to_owned()];
    both.sort();
    assert_eq!(txt(&w, &a.fulldomain), both);
    expect_json(&run(update_req(&a, &a.subdomain, TXT_C)), 200, serde_json::json!({ "txt": TXT_C }));
    let mut newest = vec![TXT_B.to_owned(), TXT_C.to_owned()];
    newest.sort();
    assert_eq!(txt(&w, &a.fulldomain), newest);

    let forbidden = serde_json::json!({ "error": "forbidden" });
    // Another account's subdomain, a wrong key, an unknown user, no credentials, a body that
    // is not JSON: all `forbidden` with 401, as acme-dns's Auth answers them.
    expect_json(&run(update_req(&a, &b.subdomain, TXT_A)), 401, forbidden.clone());
    let wrong_key = Account { password: "A".repeat(40), ..add_account(&w, "x.example", &[]) };
    expect_json(&run(update_req(&wrong_key, &wrong_key.subdomain, TXT_A)), 401, forbidden.clone());
    let unknown =
        Account { username: "d420c923-bbd7-4056-ab64-c3ca54c9b3cf".into(), ..add_account(&w, "y.example", &[]) };
    expect_json(&run(update_req(&unknown, &unknown.subdomain, TXT_A)), 401, forbidden.clone());
    expect_json(&run(post("/acme/update", "{}")), 401, forbidden.clone());
    let garbage =
        post("/acme/update", "{\"subdomain\": ").env("HTTP_X_API_USER", &a.username).env("HTTP_X_API_KEY", &a.password);
    expect_json(&run(garbage), 401, forbidden.clone());
    // A value that is not 43 characters of base64url: 400 bad_txt.
    for bad in ["short", &format!("{}=", &TXT_A[..42]), &format!("{TXT_A}A")] {
        expect_json(&run(update_req(&a, &a.subdomain, bad)), 400, serde_json::json!({ "error": "bad_txt" }));
    }
    // Nothing of that changed DNS.
    assert_eq!(txt(&w, &a.fulldomain), newest);
    assert!(txt(&w, &b.fulldomain).is_empty());
    // Registration is off by default: the route does not exist.
    expect_json(&run(post("/acme/register", "")), 404, serde_json::json!({ "error": "not_found" }));
    // GET is not the update.
    let r = run(Cgi::get("").path("/acme/update"));
    assert_eq!((r.status, r.header("Allow")), (405, Some("POST, DELETE")));
    // The keys never reach a log; the request line names the account by its user name.
    for key in [&a.password, &b.password] {
        assert!(!logs.contains(key.as_str()), "a key was logged:\n{logs}");
    }
    assert!(logs.contains(&format!("POST /acme/update client=198.51.100.77 user={} answer=200 updated", a.username)));
}

#[test]
fn allowfrom_and_registration() {
    let w = world!(acme_world("register = true\nregister_from = [\"198.51.100.0/24\"]\n"));
    // `acme add --allowfrom`: updates from elsewhere are forbidden.
    let a = add_account(&w, "example.org", &["--allowfrom", "192.0.2.0/24"]);
    let forbidden = serde_json::json!({ "error": "forbidden" });
    expect_json(&w.cgi(&update_req(&a, &a.subdomain, TXT_A)), 401, forbidden.clone());
    expect_json(
        &w.cgi(&update_req(&a, &a.subdomain, TXT_A).remote("192.0.2.9")),
        200,
        serde_json::json!({ "txt": TXT_A }),
    );
    let r = w.admin(&["acme", "add", "example.org", "--allowfrom", "192.0.2.0/99"]);
    assert_eq!(r.code(), Some(2));
    assert!(
        r.stderr().contains("`allowfrom` entry `192.0.2.0/99` has a prefix length outside 0..=32"),
        "{}",
        r.stderr()
    );

    // Registration from `register_from`, with acme-dns's answer; then the account works.
    let r = w.cgi(&post("/acme/register", "{\"allowfrom\": [\"198.51.100.0/24\", \"[2001:db8::]/32\"]}"));
    assert_eq!(r.status, 201, "{}", r.log);
    let reg: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    let field = |k: &str| reg[k].as_str().unwrap_or_default().to_owned();
    assert_eq!(field("fulldomain"), format!("{}.{ZONE}", field("subdomain")));
    assert_eq!(reg["allowfrom"], serde_json::json!(["198.51.100.0/24", "2001:db8::/32"]));
    let registered = Account {
        username: field("username"),
        password: field("password"),
        subdomain: field("subdomain"),
        fulldomain: field("fulldomain"),
        json: r.body.clone(),
    };
    assert!(!r.log.contains(&registered.password), "{}", r.log);
    let ok = w.cgi(&update_req(&registered, &registered.subdomain, TXT_B));
    expect_json(&ok, 200, serde_json::json!({ "txt": TXT_B }));
    assert_eq!(txt(&w, &registered.fulldomain), [TXT_B]);
    // acme-dns's registration errors, and a client outside `register_from`.
    let malformed = serde_json::json!({ "error": "malformed_json_payload" });
    expect_json(&w.cgi(&post("/acme/register", "{\"allowfrom\": ")), 400, malformed);
    let bad_cidr = serde_json::json!({ "error": "invalid_allowfrom_cidr" });
    expect_json(&w.cgi(&post("/acme/register", "{\"allowfrom\": [\"not-a-network\"]}")), 400, bad_cidr);
    expect_json(&w.cgi(&post("/acme/register", "").remote("203.0.113.1")), 401, forbidden);
}

/// FNV-1a (64 bit) of a name, as `store` picks a host's stripe file and advisory lock key.
fn fnv1a(fqdn: &str) -> u64 {
    fqdn.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A host lock held by the test as ddns-cgi takes it: the flock of the name's stripe file
/// beside the SQLite database, the session advisory lock on PostgreSQL, or the named lock
/// (`GET_LOCK`) on MariaDB. Released on drop (the session ends).
enum HeldLock {
    Stripe(std::fs::File),
    Pg(Box<postgres::Client>),
    Mariadb(Box<mysql::Conn>),
}

impl HeldLock {
    fn take(w: &World, fqdn: &str) -> HeldLock {
        if let Some(name) = &w.pg {
            let mut client = crate::util::pg::PgServer::shared().connect(name);
            let key = i64::from_ne_bytes(fnv1a(fqdn).to_ne_bytes());
            client.execute("SELECT pg_advisory_lock($1)", &[&key]).expect("advisory lock");
            return HeldLock::Pg(Box::new(client));
        }
        if let Some(name) = &w.mariadb {
            use mysql::prelude::Queryable as _;
            let mut conn = crate::util::mariadb::MariaServer::shared().connect(name);
            let lock = crate::util::mariadb::host_lock_name(name, fqdn);
            let taken: Option<i64> = conn.exec_first("SELECT GET_LOCK(?, 60)", (lock,)).expect("GET_LOCK");
            assert_eq!(taken, Some(1), "the host lock");
            return HeldLock::Mariadb(Box::new(conn));
        }
        let mut dir = w.db.file_name().expect("database file").to_os_string();
        dir.push("-locks");
        let path = w.db.with_file_name(dir).join(format!("{:02x}", fnv1a(fqdn) % 256));
        // ddns-cgi made it at the account's first update, with the database's owner.
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        file.lock().expect("flock");
        HeldLock::Stripe(file)
    }

    /// Whether another holder waits for this lock now (`/proc/locks` marks a blocked flock
    /// with `->`; PostgreSQL lists an advisory lock not granted; MariaDB a session of the
    /// database in the state `User lock`, waiting in `GET_LOCK`).
    fn waited_for(&mut self, w: &World) -> bool {
        match self {
            HeldLock::Stripe(file) => {
                let inode = std::os::unix::fs::MetadataExt::ino(&file.metadata().expect("stat"));
                let locks = std::fs::read_to_string("/proc/locks").expect("/proc/locks");
                let on_file = format!(":{inode}");
                locks.lines().any(|l| l.contains("->") && l.split_whitespace().any(|f| f.ends_with(&on_file)))
            }
            HeldLock::Pg(client) => {
                let db = w.pg.as_deref().expect("postgres");
                let sql = "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
                           WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = $1";
                let n: i64 = client.query_one(sql, &[&db]).expect("pg_locks").get(0);
                n > 0
            }
            HeldLock::Mariadb(conn) => {
                use mysql::prelude::Queryable as _;
                let db = w.mariadb.as_deref().expect("mariadb");
                let sql = "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND STATE = 'User lock'";
                let n: Option<i64> = conn.exec_first(sql, (db,)).expect("PROCESSLIST");
                n.unwrap_or(0) > 0
            }
        }
    }
}

#[test]
fn an_account_deleted_while_its_update_waits_for_the_lock_is_forbidden() {
    // Issue: an account deleted between its authentication and the challenge name's lock
    // answered 200 with the value, though nothing was published or stored.
    let w = world!(acme_world(""));
    let a = add_account(&w, "example.org", &[]);
    expect_json(&w.cgi(&update_req(&a, &a.subdomain, TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    let mut lock = HeldLock::take(&w, &a.fulldomain);
    let r = std::thread::scope(|s| {
        let request = s.spawn(|| w.cgi(&update_req(&a, &a.subdomain, TXT_B)));
        // It has authenticated once it waits for the lock.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !lock.waited_for(&w) {
            assert!(Instant::now() < deadline && !request.is_finished(), "the update never waited for the lock");
            std::thread::sleep(Duration::from_millis(10));
        }
        w.sql(&format!("DELETE FROM acme_accounts WHERE username = '{}'", a.username));
        drop(lock);
        request.join().expect("the request thread")
    });
    // What an unknown account gets, and nothing changed.
    expect_json(&r, 401, serde_json::json!({ "error": "forbidden" }));
    assert!(r.log.contains(&format!("account `{}` was deleted after it authenticated", a.username)), "{}", r.log);
    assert_eq!(txt(&w, &a.fulldomain), [TXT_A]);
    assert_eq!(w.count("SELECT count(*) FROM acme_accounts"), 0);
}

/// `POST /acme/register` from `client` with an empty body.
fn register_from(w: &World, client: &str) -> Response {
    w.cgi(&post("/acme/register", "").remote(client))
}

#[test]
fn registration_counts_in_the_rate_limits() {
    // Issue: `POST /acme/register`, when enabled, had no rate limit.
    let limits = "[rate_limit]\nenabled = true\ngood_max_requests = 2\nbad_max_requests = 2\n";
    let w = world!(acme_world(&format!("register = true\n\n{limits}")));
    let limited = serde_json::json!({ "error": "too_many_requests" });
    // Registrations count as good requests of their client: two, then no more.
    for _ in 0..2 {
        let r = register_from(&w, "198.51.100.7");
        assert_eq!(r.status, 201, "{}", r.log);
    }
    let r = register_from(&w, "198.51.100.7");
    expect_json(&r, 429, limited.clone());
    assert!(r.log.contains("rate limit: good-addr `198.51.100.7`"), "{}", r.log);
    assert_eq!(w.count("SELECT count(*) FROM acme_accounts"), 2);
    // Refused registrations count as bad ones: two, then even a good one is limited.
    for _ in 0..2 {
        expect_json(
            &w.cgi(&post("/acme/register", "{\"allowfrom\": ").remote("203.0.113.9")),
            400,
            serde_json::json!({ "error": "malformed_json_payload" }),
        );
    }
    expect_json(&register_from(&w, "203.0.113.9"), 429, limited);
    assert_eq!(w.count("SELECT count(*) FROM acme_accounts"), 2, "a limited registration writes nothing");
    // As `abuse` is: in the audit trail, and not itself counted (the two limited requests
    // added no rows to the three counted ones per client).
    assert_eq!(w.count("SELECT count(*) FROM audit WHERE kind = 'refused' AND answer = 'abuse'"), 2);
    assert_eq!(w.count("SELECT count(*) FROM rate_limit"), 4);
    // Another client is not limited by them.
    assert_eq!(register_from(&w, "192.0.2.44").status, 201);
}

#[test]
fn registration_is_capped_in_all_and_per_network() {
    // Issue: `POST /acme/register` had no cap on accounts.
    let w = world!(acme_world("register = true\nmax_accounts = 5\nmax_accounts_per_network = 2\n"));
    let capped = serde_json::json!({ "error": "too_many_accounts" });
    let accounts = || w.count("SELECT count(*) FROM acme_accounts");
    // Two per IPv4 address.
    for _ in 0..2 {
        assert_eq!(register_from(&w, "198.51.100.7").status, 201);
    }
    let r = register_from(&w, "198.51.100.7");
    expect_json(&r, 403, capped.clone());
    assert!(r.log.contains("`198.51.100.7` registered 2 accounts, `acme.max_accounts_per_network` is 2"), "{}", r.log);
    assert_eq!(accounts(), 2);
    // Two per IPv6 /64, whichever of its addresses asks.
    assert_eq!(register_from(&w, "2001:db8:1:2::1").status, 201);
    assert_eq!(register_from(&w, "2001:db8:1:2:ffff::99").status, 201);
    expect_json(&register_from(&w, "2001:db8:1:2::abc"), 403, capped.clone());
    assert_eq!(accounts(), 4);
    // Five in all.
    assert_eq!(register_from(&w, "192.0.2.1").status, 201);
    let r = register_from(&w, "192.0.2.2");
    expect_json(&r, 403, capped);
    assert!(r.log.contains("5 accounts exist, `acme.max_accounts` is 5"), "{}", r.log);
    assert_eq!(accounts(), 5);
    // The operator's `acme add` is not held to them.
    add_account(&w, "example.org", &[]);
    assert_eq!(accounts(), 6);
}

#[test]
fn parallel_registrations_from_one_network_stop_at_its_cap() {
    // The caps are counted and the account inserted under one lock of the store (SQLite's
    // write lock, PostgreSQL's advisory lock, MariaDB's named lock): registrations at once
    // from one network must not all count below the cap before any of them inserts.
    let w = world!(acme_world("register = true\nmax_accounts_per_network = 2\n"));
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..12).map(|_| s.spawn(|| register_from(&w, "198.51.100.9").status)).collect();
        handles.into_iter().map(|h| h.join().expect("registration thread")).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 10, "{statuses:?}");
    assert_eq!(w.count("SELECT count(*) FROM acme_accounts"), 2);
}

#[test]
fn acme_add_needs_the_section_and_prints_the_cname() {
    let w = world!(World::knot());
    let r = w.admin(&["acme", "add", "example.org"]);
    assert_eq!(r.code(), Some(2));
    assert!(r.stderr().contains("no `[acme]` section"), "{}", r.stderr());
    let w = world!(acme_world(""));
    let run = w.admin(&["acme", "add", "*.Example.ORG"]);
    run.success();
    let out = run.stdout();
    let (json, rest) = out.split_once("\n\n").expect("json, then the record");
    let v: serde_json::Value = serde_json::from_str(json).expect("storage json");
    let sub = v["example.org"]["subdomain"].as_str().expect("subdomain");
    assert!(rest.ends_with(&format!("_acme-challenge.example.org. CNAME {sub}.{ZONE}.\n")), "{out}");
}

#[test]
fn every_shipped_front_routes_the_api() {
    for front in [Front::NginxFastcgi, Front::ApacheCgid, Front::ApacheFcgid] {
        let w = world!(acme_world(""));
        let a = add_account(&w, "example.org", &[]);
        let Some(web) = WebServer::start(&w, front) else { return };
        let body = format!("{{\"subdomain\": \"{}\", \"txt\": \"{TXT_A}\"}}", a.subdomain);
        let (user, key) = (format!("X-Api-User: {}", a.username), format!("X-Api-Key: {}", a.password));
        let r = curl(&[
            "-H",
            &user,
            "-H",
            &key,
            "-H",
            "Content-Type: application/json",
            "--data",
            &body,
            &web.url("/acme/update"),
        ]);
        assert_eq!(r.status, 200, "{front:?}: {}\n{}", r.raw, web.logs());
        assert_eq!(serde_json::from_str::<serde_json::Value>(&r.body).ok(), Some(serde_json::json!({ "txt": TXT_A })));
        assert_eq!(txt(&w, &a.fulldomain), [TXT_A], "{front:?}");
        let r = curl(&["-H", &user, "-H", "X-Api-Key: wrong", "--data", &body, &web.url("/acme/update")]);
        assert_eq!((r.status, r.body.as_str()), (401, "{\"error\":\"forbidden\"}"), "{front:?}: {}", r.raw);
        // `DELETE` carries its body through each front too (the transports read a body for
        // it), and removes the value.
        let r = curl(&["-X", "DELETE", "-H", &user, "-H", &key, "--data", &body, &web.url("/acme/update")]);
        assert_eq!(
            (r.status, r.body.as_str()),
            (200, format!("{{\"txt\":\"{TXT_A}\"}}").as_str()),
            "{front:?}: {}",
            r.raw
        );
        assert!(txt(&w, &a.fulldomain).is_empty(), "{front:?}");
        let r = curl(&["-X", "DELETE", "-H", &user, "-H", &key, &web.url("/acme/register")]);
        assert_eq!(r.status, 200, "{front:?}: {}", r.raw);
        assert_eq!(w.count("SELECT count(*) FROM acme_accounts"), 0, "{front:?}");
        assert!(!web.logs().contains(&a.password), "{front:?} logged the key");
    }
}

/// Adds `name CNAME target` to the test zone as an operator adds the challenge CNAME: in the
/// zone file, outside ddns-cgi (the update key may change only A, AAAA and TXT records, as the
/// shipped policy grants). The server is restarted to load it, before any update. PowerDNS
/// keeps the zone in its database: there the operator's `pdnsutil add-record`.
pub(super) fn add_cname(w: &mut World, name: &str, target: &str) {
    if w.dns.kind() == DnsKind::PowerDns {
        let relative = name.trim_end_matches('.').trim_end_matches(ZONE).trim_end_matches('.');
        w.dns.pdnsutil(&["add-record", ZONE, relative, "CNAME", "60", &format!("{target}.")]);
        assert_eq!(w.dns.query(name, "CNAME"), [format!("{target}.")]);
        return;
    }
    w.dns.stop();
    let file = w.dns.dir().join(format!("{ZONE}.zone"));
    let mut zone = std::fs::read_to_string(&file).expect("read the zone file");
    zone.push_str(&format!("{name}. 60 IN CNAME {target}.\n"));
    std::fs::write(&file, zone).expect("write the zone file");
    w.dns.restart();
    assert_eq!(w.dns.query(name, "CNAME"), [format!("{target}.")]);
}
