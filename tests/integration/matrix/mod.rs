//! The device conformance matrix: for each router, NAS and client, the exact request it sends
//! (method, path and query shape, how it sends credentials, its User-Agent, HTTP/1.0 or 1.1),
//! replayed through nginx + fcgiwrap and nginx + `ddns-cgi fastcgi` from the shipped files,
//! and the answer read the way that device parses it (its `reads` function, taken from its
//! source or documentation). Each row is one device and one case (`good`, `nochg`, `badauth`,
//! `nohost`, `abuse`); the DNS effect is checked in Knot. The Fritz!Box DNS re-check loop runs
//! under the default rate limits. The row comments name where each request shape comes from;
//! `contrib/routers.md` gives the same devices as settings to type in.
//!
//! This module does not run the clients themselves (`clients` runs ddclient, inadyn, wget and
//! the OpenWrt script): it pins what each device sends and reads, for devices that cannot run
//! here.

mod devices;

use devices::{CASES, MATRIX, words};

use crate::util::web::{Front, Http, WebServer, curl, give_to_web_user, shipped};
use crate::util::{PASSWORD, Setup, USER, World};
use crate::web::{HOME, NAS, NO_RATE_LIMIT};

/// A second user, owner of [`OTHER`]: the `nohost` case asks for his host.
const BOB: &str = "bob";
const BOB_PASSWORD: &str = "bobs-password";
const OTHER: &str = "other.dyn.example.test";

/// How a device sends its credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Creds {
    /// `Authorization: Basic` with the first request.
    Basic,
    /// Nothing at first; Basic after the server's `401` challenge.
    Challenge,
    /// In the query string, through the template's user and password placeholders.
    Query,
}

/// How a device writes the values into its URL.
#[derive(Clone, Copy, Debug)]
enum Encoding {
    /// As they are: colons and commas unencoded.
    Verbatim,
    /// inadyn's `url_encode` (plugins/generic.c): letters, digits, `-_.~/?&=` kept, the rest
    /// `%xx` in lower case, so an IPv6 address arrives as `2001%3adb8%3a%3a1`.
    Inadyn,
    /// Python requests' form encoding (OPNsense): `,` is `%2C`, `:` is `%3A`.
    Form,
}

/// What a device concludes from an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// The update counts as done; the text is the status it shows.
    Done(&'static str),
    /// The device reports an error; the text is the status it shows.
    Failed(&'static str),
}

/// One device: what it sends and how it reads the answer.
struct Device {
    name: &'static str,
    method: &'static str,
    /// Path and query with the device's own placeholders, or `{hostname}` and `{myip}` for
    /// clients that build the URL themselves.
    target: &'static str,
    creds: Creds,
    user_agent: Option<&'static str>,
    http10: bool,
    encoding: Encoding,
    /// The hostnames one request carries.
    hosts: &'static [&'static str],
    /// The families it sends (`myip` holds them comma-separated where both are sent).
    v4: bool,
    v6: bool,
    /// A family the request leaves out is removed (`/api/update`), not kept.
    absent_removes: bool,
    /// The URL carries no address: the server takes the connection's (here the web server's
    /// loopback, as ddns-cgi sees every request through it).
    client_address: bool,
    /// How it reads an answer to what it sent.
    reads: fn(&Http, &Vars) -> Seen,
}

/// What a row sends: each case changes the request as the device would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    /// A new address: `good`, and DNS shows it.
    Update,
    /// The same address again: `nochg`, DNS unchanged.
    Resend,
    /// A wrong password: `badauth`, nothing changes.
    Badauth,
    /// Another user's hostname: `nohost`, nothing changes.
    Nohost,
    /// Over the rate limit: `abuse`, nothing changes.
    Abuse,
}

/// One row of the matrix: a device, a case, and what the device must make of the answer.
struct Row {
    device: &'static Device,
    case: Case,
    seen: Seen,
}

impl Case {
    /// The dyndns2 word ddns-cgi answers (on each line) and its HTTP status.
    fn answer(self) -> (&'static str, u16) {
        match self {
            Case::Update => ("good", 200),
            Case::Resend => ("nochg", 200),
            Case::Badauth => ("badauth", 401),
            Case::Nohost => ("nohost", 200),
            Case::Abuse => ("abuse", 200),
        }
    }
}

/// The rows of [`MATRIX`], each with its device's position (which picks its addresses).
fn matrix_rows() -> impl Iterator<Item = (usize, Row)> {
    MATRIX.iter().enumerate().flat_map(|(i, (device, seen))| {
        CASES.iter().zip(seen.iter()).map(move |(case, seen)| (i, Row { device, case: *case, seen: seen.clone() }))
    })
}

// ---- replaying a row ---------------------------------------------------------------------

/// The values a device puts into its URL for one request.
struct Vars {
    hosts: Vec<&'static str>,
    v4: String,
    v6: String,
    prefix: String,
    password: &'static str,
}

impl Vars {
    /// The values of `case` for the `i`th device: each device has addresses of its own, and the
    /// refused cases send other addresses, so a wrongly accepted request would show in DNS.
    fn of(device: &Device, i: usize, case: Case) -> Vars {
        let n = i + 1;
        let (v4, v6) = match case {
            Case::Update | Case::Resend => (format!("192.0.2.{n}"), format!("2001:db8:{n:x}::1")),
            Case::Badauth | Case::Nohost | Case::Abuse => (format!("198.51.100.{n}"), format!("2001:db8:ffff::{n:x}")),
        };
        Vars {
            hosts: if case == Case::Nohost { vec![OTHER] } else { device.hosts.to_vec() },
            v4: match (device.client_address, device.v4) {
                (true, _) => "127.0.0.1".to_owned(),
                (false, true) => v4,
                (false, false) => String::new(),
            },
            prefix: if device.v6 { format!("2001:db8:{n:x}::/64") } else { String::new() },
            v6: if device.v6 { v6 } else { String::new() },
            password: if case == Case::Badauth { "wrong-password" } else { PASSWORD },
        }
    }

    /// `myip` as dyndns2 clients send it: one address, or both comma-separated.
    fn myip(&self) -> String {
        [self.v4.as_str(), self.v6.as_str()].into_iter().filter(|a| !a.is_empty()).collect::<Vec<_>>().join(",")
    }
}

/// `value` as `encoding` writes it into a URL.
fn encode(encoding: Encoding, value: &str) -> String {
    let keep = |c: char, extra: &str| c.is_ascii_alphanumeric() || "-_.~".contains(c) || extra.contains(c);
    let escape = |value: &str, extra: &str, lower: bool| {
        value
            .chars()
            .map(|c| match c {
                c if keep(c, extra) => c.to_string(),
                c if lower => format!("%{:02x}", u32::from(c)),
                c => format!("%{:02X}", u32::from(c)),
            })
            .collect::<String>()
    };
    match encoding {
        Encoding::Verbatim => value.to_owned(),
        Encoding::Inadyn => escape(value, "/?&=", true),
        Encoding::Form => escape(value, "", false),
    }
}

/// The device's path and query with its placeholders filled as it fills them.
fn fill(device: &Device, vars: &Vars) -> String {
    let enc = |v: &str| encode(device.encoding, v);
    let hostname = enc(&vars.hosts.join(","));
    let one_ip = enc(if vars.v4.is_empty() { &vars.v6 } else { &vars.v4 });
    let mut target = device.target.to_owned();
    for (placeholders, value) in [
        (&["<domain>", "%h", "__HOSTNAME__", "[DOMAIN]", "%HOST%", "{hostname}"][..], hostname.as_str()),
        (&["<username>", "%u", "__USERNAME__", "[USERNAME]", "%USER%"][..], &enc(USER)),
        (&["<pass>", "%p", "__PASSWORD__", "[PASSWORD]", "%PASS%"][..], &enc(vars.password)),
        (&["<ipaddr>"][..], &enc(&vars.v4)),
        (&["<ip6addr>"][..], &enc(&vars.v6)),
        (&["<ip6lanprefix>"][..], &vars.prefix),
        (&["%IP%", "%i", "__MYIP__", "[IP]"][..], &one_ip),
        (&["{myip}"][..], &enc(&vars.myip())),
    ] {
        for p in placeholders {
            target = target.replace(p, value);
        }
    }
    // inadyn appends the hostname to a path without any `%` (plugins/generic.c `request`).
    if matches!(device.encoding, Encoding::Inadyn) && !device.target.contains('%') {
        target.push_str(&hostname);
    }
    assert!(!target.contains('<') && !target.contains('{'), "unfilled placeholder in {target}");
    target
}

/// Sends the device's request for `vars` through `web` as the device sends it.
fn send(web: &WebServer, device: &Device, vars: &Vars) -> Http {
    let url = web.url(&fill(device, vars));
    let creds = format!("{USER}:{}", vars.password);
    let mut args = vec!["-X", device.method];
    match device.creds {
        Creds::Basic => args.extend(["-u", creds.as_str()]),
        Creds::Challenge => args.extend(["--anyauth", "-u", creds.as_str()]),
        Creds::Query => {}
    }
    let no_agent = "User-Agent:";
    match device.user_agent {
        Some(ua) => args.extend(["-A", ua]),
        None => args.extend(["-H", no_agent]),
    }
    if device.http10 {
        args.push("--http1.0");
    }
    args.push(&url);
    curl(&args)
}

/// The A and AAAA records of every host a row can touch.
fn records(w: &World) -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    [HOME, NAS, OTHER].into_iter().map(|h| (h, w.a(h), w.aaaa(h))).collect()
}

/// What DNS must hold after `case`: the new addresses for an update, else what it held.
fn expected(
    before: &[(&'static str, Vec<String>, Vec<String>)],
    device: &Device,
    case: Case,
    vars: &Vars,
) -> Vec<(&'static str, Vec<String>, Vec<String>)> {
    let set = |sent: bool, addr: &str, old: &[String]| match (sent, device.absent_removes) {
        (true, _) => vec![addr.to_owned()],
        (false, true) => Vec::new(),
        (false, false) => old.to_vec(),
    };
    before
        .iter()
        .map(|(h, a, aaaa)| match case {
            Case::Update if vars.hosts.contains(h) => (*h, set(device.v4, &vars.v4, a), set(device.v6, &vars.v6, aaaa)),
            _ => (*h, a.clone(), aaaa.clone()),
        })
        .collect()
}

/// Replays `row` through `web` and checks the answer on the wire, the device's reading of it,
/// and DNS.
#[track_caller]
fn replay(w: &World, web: &WebServer, i: usize, row: &Row) {
    let vars = Vars::of(row.device, i, row.case);
    let before = records(w);
    let r = send(web, row.device, &vars);
    let what = format!("{} / {:?} through {:?}: {}", row.device.name, row.case, web.front, r.raw);
    let (word, status) = row.case.answer();
    assert_eq!(r.status, status, "{what}");
    assert!(!r.body.is_empty() && words(&r.body).iter().all(|w| *w == word), "{what}");
    // Account answers come once, host answers once per host (dyndns2 return codes).
    let n_lines = if matches!(row.case, Case::Badauth | Case::Abuse) { 1 } else { vars.hosts.len() };
    assert_eq!(words(&r.body).len(), n_lines, "{what}");
    assert_eq!((row.device.reads)(&r, &vars), row.seen, "{what}");
    assert_eq!(records(w), expected(&before, row.device, row.case, &vars), "{what}");
}

/// A world with [`HOME`] and [`NAS`] for alice and [`OTHER`] for bob.
fn matrix_world(extra_config: &'static str) -> Option<World> {
    let w = World::new(Setup { extra_config, hosts: &[HOME, NAS], ..Setup::default() })?;
    w.add_user(BOB, BOB_PASSWORD);
    w.admin(&["hostname", "add", BOB, OTHER, crate::util::ZONE]).success();
    Some(w)
}

const FRONTS: [Front; 2] = [Front::NginxFcgiwrap, Front::NginxFastcgi];

#[test]
fn every_device_reads_every_answer_as_it_should() {
    for front in FRONTS {
        // Without limits: many devices from one address (the web server's loopback).
        let w = world!(matrix_world(NO_RATE_LIMIT));
        let web = world!(WebServer::start(&w, front));
        for (i, row) in matrix_rows().filter(|(_, r)| r.case != Case::Abuse) {
            replay(&w, &web, i, &row);
        }
        // One successful request uses up a limit of one; every device then meets `abuse`.
        let w = world!(matrix_world("[rate_limit]\ngood_max_requests = 1\n"));
        let web = world!(WebServer::start(&w, front));
        curl(&[
            "-u",
            &format!("{USER}:{PASSWORD}"),
            &web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.200")),
        ])
        .expect(200, "good 192.0.2.200\n");
        for (i, row) in matrix_rows().filter(|(_, r)| r.case == Case::Abuse) {
            replay(&w, &web, i, &row);
        }
    }
}

/// The default `[rate_limit] good_window_seconds` (`src/manual/keys.rs`).
const DEFAULT_WINDOW_SECONDS: i64 = 60;
/// How often the Fritz!Box checks its name in DNS and resends when DNS shows another address
/// (a cached answer, a secondary not yet notified). AVM documents no interval; "every few
/// minutes" is what users report, and one minute is the shortest reading of it.
const RECHECK_SECONDS: i64 = 60;
/// How long the loop runs: half an hour of re-checks.
const N_RECHECKS: i64 = 30;

/// A dual-stack Fritz!Box sends its update over IPv4 and over IPv6, then resends both after
/// each DNS re-check that shows another address. Through the web server every request comes
/// from its loopback, one client where the box is two, which is the harder case for the
/// per-client limit. Under the default limits none of it may answer `abuse`: the resends of
/// an unchanged address answer `nochg`, the box reads it as done, DNS does not move. Between
/// re-checks the clock moves on by ageing the counted rows, without sleeping; the window
/// counts `at >= now - window`, so each re-check still sees the one before it.
#[test]
fn fritzbox_recheck_loop_never_sees_abuse_under_the_default_limits() {
    let device = &devices::FRITZ_DYNDNS2;
    for front in FRONTS {
        let w = world!(matrix_world("[rate_limit]\nenabled = true\n"));
        let web = world!(WebServer::start(&w, front));
        let vars = Vars::of(device, 0, Case::Update);
        let check = |r: &Http, word: &str, recheck: i64| {
            let what = format!("re-check {recheck} through {front:?}: {}", r.raw);
            assert_eq!((r.status, words(&r.body)), (200, vec![word]), "{what}");
            assert_eq!((device.reads)(r, &vars), Seen::Done(if word == "good" { "good" } else { "nochg" }), "{what}");
        };
        let tick = || {
            w.sql(&format!("UPDATE rate_limit SET at = at - {RECHECK_SECONDS}"));
            give_to_web_user(w.dir.path());
        };
        check(&send(&web, device, &vars), "good", 0);
        check(&send(&web, device, &vars), "nochg", 0);
        let published = records(&w);
        const { assert!(N_RECHECKS * RECHECK_SECONDS > DEFAULT_WINDOW_SECONDS) };
        for recheck in 1..=N_RECHECKS {
            tick();
            check(&send(&web, device, &vars), "nochg", recheck);
            check(&send(&web, device, &vars), "nochg", recheck);
        }
        assert_eq!(records(&w), published, "{front:?}");
        assert_eq!(w.a(HOME), [vars.v4.as_str()]);
    }
}
/// The URLs `contrib/routers.md` gives are the ones the matrix replays.
#[test]
fn routers_md_gives_the_replayed_urls() {
    let text = shipped("contrib/routers.md");
    for (device, _) in MATRIX.iter().filter(|(d, _)| !d.target.contains("{hostname}")) {
        let with_host = device.target.replace("<domain>", "home.dyn.example.com");
        let documented =
            [device.target, &with_host].into_iter().any(|t| text.contains(&format!("ddns.example.com{t}")));
        assert!(documented, "contrib/routers.md lacks {} ({})", device.target, device.name);
    }
}
