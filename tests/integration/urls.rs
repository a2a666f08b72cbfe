//! The URL forms other projects document, pasted as users paste them: nanodnsd's
//! `/api/update`, the Fritz!Box "user-defined provider" URL with its placeholders filled as
//! Fritz!OS fills them, the URLs in `contrib/routers.md` (OpenWrt ddns-scripts, pfSense), the
//! dyndns2 `offline=yes` and nsupdate.info's `/nic/delete`, per-request `ttl=`, and parameters
//! whose name says an address family. Every refused case checks that the database row and
//! the DNS records are unchanged.

use crate::util::web::{Front, WebServer, curl, shipped};
use crate::util::{Cgi, PASSWORD, Setup, USER, World};
use crate::web::{HOME, NAS, creds, web_world};
use crate::world;

/// A second user, owner of [`OTHER`].
const BOB: &str = "bob";
const BOB_PASSWORD: &str = "bobs-password";
const OTHER: &str = "other.dyn.example.test";

/// Everything a request can change about a host: its row and its records in DNS.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    row: Row,
    a: Vec<(u32, String)>,
    aaaa: Vec<(u32, String)>,
}

/// The columns of a hostname row a request may write.
#[derive(Debug, PartialEq, Eq)]
struct Row {
    ipv4: Option<String>,
    ipv6: Option<String>,
    dns_ttl: u32,
    offline: bool,
    last_update: Option<i64>,
}

fn row(w: &World, fqdn: &str) -> Row {
    let rows =
        w.rows(&format!("SELECT ipv4, ipv6, dns_ttl, offline, last_update FROM hostnames WHERE fqdn = '{fqdn}'"));
    let r = rows.first().expect("hostname row");
    let int = |i: usize| r[i].as_deref().map(|v| v.parse::<i64>().expect("integer"));
    Row {
        ipv4: r[0].clone(),
        ipv6: r[1].clone(),
        dns_ttl: int(2).and_then(|v| u32::try_from(v).ok()).expect("dns_ttl"),
        offline: int(3).expect("offline") != 0,
        last_update: int(4),
    }
}

fn snapshot(w: &World, fqdn: &str) -> Snapshot {
    Snapshot { row: row(w, fqdn), a: w.dns.query_with_ttl(fqdn, "A"), aaaa: w.dns.query_with_ttl(fqdn, "AAAA") }
}

/// Sends `req` and asserts it answers `status`/`body` and changes nothing about [`HOME`].
#[track_caller]
fn refused(w: &World, req: &Cgi, status: u16, body: &str) {
    let before = snapshot(w, HOME);
    w.cgi(req).expect(status, body);
    assert_eq!(snapshot(w, HOME), before, "{}?{}", req.path, req.query);
}

/// How many RFC 2136 messages a CGI run sent, from its debug log.
fn n_exchanges(log: &str) -> usize {
    log.matches("DNS exchange with").count()
}

/// The first `https://ddns.example.com...` URL in backticks after `marker` in the shipped
/// file `rel`: the tests run the URLs the documentation gives, character for character.
fn documented_url(rel: &str, marker: &str) -> String {
    let text = shipped(rel);
    let (_, after) = text.split_once(marker).unwrap_or_else(|| panic!("{rel} has no `{marker}`"));
    let (_, url) = after.split_once("`https://").unwrap_or_else(|| panic!("{rel}: no URL after `{marker}`"));
    let url = url.split('`').next().unwrap_or("");
    // The README gives the same copy-paste URLs.
    let url = format!("https://{url}");
    assert!(shipped("README.md").contains(&url), "README.md lacks the URL {url} from {rel}");
    url
}

/// The path and query of a documented URL, for a CGI request.
fn cgi_of(url: &str) -> Cgi {
    let rest = url.strip_prefix("https://ddns.example.com").unwrap_or_else(|| panic!("unexpected host in {url}"));
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    Cgi::get(query).path(path)
}

/// A world with [`HOME`] for alice, [`OTHER`] for bob, and `extra` config.
fn two_users(extra: &str) -> Option<World> {
    let w = World::new(Setup { extra_config: extra, ..Setup::default() })?;
    w.add_user(BOB, BOB_PASSWORD);
    w.admin(&["hostname", "add", BOB, OTHER, crate::util::ZONE]).success();
    Some(w)
}

// ---- nanodnsd ----------------------------------------------------------------------------

#[test]
fn nanodnsd_url_with_basic_auth() {
    let w = world!(World::knot());
    let q = format!("hostname={HOME}&ipv4=192.0.2.1&ipv6=2001:db8::1");
    w.cgi(&Cgi::get(&q).path("/api/update").basic(USER, PASSWORD)).expect(200, "good 192.0.2.1 2001:db8::1\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["192.0.2.1".to_owned()], vec!["2001:db8::1".to_owned()]));
    assert_eq!(w.stored(HOME), (Some("192.0.2.1".into()), Some("2001:db8::1".into())));
}

#[test]
fn nanodnsd_url_with_user_and_token_parameters() {
    let w = world!(World::knot());
    // nanodnsd's form with the user's password as `token` and the user name beside it.
    let q = format!("hostname={HOME}&ipv4=192.0.2.2&ipv6=2001:db8::2&username={USER}&token={PASSWORD}");
    w.cgi(&Cgi::get(&q).path("/api/update")).expect(200, "good 192.0.2.2 2001:db8::2\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["192.0.2.2".to_owned()], vec!["2001:db8::2".to_owned()]));
    // The same URL again: nothing to do.
    w.cgi(&Cgi::get(&q).path("/api/update")).expect(200, "nochg 192.0.2.2 2001:db8::2\n");
}

/// nanodnsd's exact form carries only `token`, no user name. Until per-host tokens exist a
/// password alone identifies nobody: `401 badauth`, nothing changes. Once tokens are merged,
/// this test gains the positive case (a host token alone updates its host).
#[test]
fn nanodnsd_url_token_only_is_refused_without_a_host_token() {
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.3")).expect(200, "good 192.0.2.3\n");
    let q = format!("hostname={HOME}&ipv4=192.0.2.4&ipv6=2001:db8::4&token={PASSWORD}");
    refused(&w, &Cgi::get(&q).path("/api/update"), 401, "badauth\n");
}

/// nanodnsd's URL exactly as its documentation gives it: a host token alone, no user name.
#[test]
fn nanodnsd_url_with_a_host_token_alone() {
    let w = world!(World::knot());
    let run = w.admin(&["hostname", "token", HOME]);
    run.success();
    let token = run.stdout().trim().to_owned();
    let q = format!("hostname={HOME}&ipv4=192.0.2.5&ipv6=2001:db8::5&token={token}");
    w.cgi(&Cgi::get(&q).path("/api/update")).expect(200, "good 192.0.2.5 2001:db8::5\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["192.0.2.5".to_owned()], vec!["2001:db8::5".to_owned()]));
    assert_eq!(w.stored(HOME), (Some("192.0.2.5".to_owned()), Some("2001:db8::5".to_owned())));
}

// ---- Fritz!Box ---------------------------------------------------------------------------

/// A Fritz!Box URL template with the placeholders filled as Fritz!OS fills them: values put
/// in verbatim (colons and the prefix's slash as they are), empty when the box has none.
fn fritzbox(template: &str, ipv4: &str, ipv6: &str, prefix: &str) -> Cgi {
    let url = template
        .replace("<domain>", HOME)
        .replace("<ipaddr>", ipv4)
        .replace("<ip6addr>", ipv6)
        .replace("<ip6lanprefix>", prefix)
        .replace("<username>", USER)
        .replace("<pass>", PASSWORD);
    assert!(!url.contains('<'), "unfilled placeholder in {url}");
    cgi_of(&url)
}

#[test]
fn fritzbox_nanodnsd_form_with_placeholders() {
    let w = world!(World::knot());
    let template = documented_url("contrib/routers.md", "Update URL (nanodnsd form)");
    assert!(template.contains("<ip6lanprefix>") && template.contains("<pass>"), "{template}");
    // Dual stack, the prefix with a plain slash: both records; the prefix is checked and
    // not used yet.
    w.cgi(&fritzbox(&template, "198.51.100.1", "2001:db8:1:2::1", "2001:db8:1:2::/64"))
        .expect(200, "good 198.51.100.1 2001:db8:1:2::1\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["198.51.100.1".to_owned()], vec!["2001:db8:1:2::1".to_owned()]));
    // A new IPv6 address, the prefix's slash percent-encoded as some Fritz!OS versions send it.
    w.cgi(&fritzbox(&template, "198.51.100.1", "2001:db8:1:3::1", "2001:db8:1:3::%2F64"))
        .expect(200, "good 198.51.100.1 2001:db8:1:3::1\n");
    assert_eq!(w.aaaa(HOME), ["2001:db8:1:3::1"]);
    // The box lost IPv6: `<ip6addr>` and `<ip6lanprefix>` are empty. On `/api/update` a
    // missing IP parameter removes its record, as nanodnsd documents: the AAAA goes.
    w.cgi(&fritzbox(&template, "198.51.100.2", "", "")).expect(200, "good 198.51.100.2\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["198.51.100.2".to_owned()], Vec::<String>::new()));
    assert_eq!(w.stored(HOME), (Some("198.51.100.2".into()), None));
    // A prefix that is not an IPv6 prefix: badip, nothing changes.
    for bad in ["2001:db8:1:2::/129", "192.0.2.0/24", "2001:db8:1:2::", "2001:db8::/x", "fe80::/64"] {
        refused(&w, &fritzbox(&template, "198.51.100.3", "2001:db8:1:2::3", bad), 200, "badip\n");
    }
}

#[test]
fn fritzbox_dyndns2_form_with_placeholders() {
    let w = world!(World::knot());
    let template = documented_url("contrib/routers.md", "Update URL (dyndns2)");
    // The box sends the user name and password as HTTP Basic as well.
    let send = |v4: &str, v6: &str, prefix: &str| fritzbox(&template, v4, v6, prefix).basic(USER, PASSWORD);
    w.cgi(&send("198.51.100.5", "2001:db8:5::1", "2001:db8:5::/64")).expect(200, "good 198.51.100.5 2001:db8:5::1\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["198.51.100.5".to_owned()], vec!["2001:db8:5::1".to_owned()]));
    w.cgi(&send("198.51.100.5", "2001:db8:5::1", "2001:db8:5::%2f64"))
        .expect(200, "nochg 198.51.100.5 2001:db8:5::1\n");
    // No IPv6: `myip=198.51.100.6,` with an empty second part.
    w.cgi(&send("198.51.100.6", "", "")).expect(200, "good 198.51.100.6\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["198.51.100.6".to_owned()], vec!["2001:db8:5::1".to_owned()]));
}

// ---- offline and delete ------------------------------------------------------------------

#[test]
fn offline_yes_removes_both_records_and_the_next_update_restores() {
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.10,2001:db8::10")).expect(200, "good 192.0.2.10 2001:db8::10\n");
    // Regression: `offline=yes` without `myip` was ignored and the host was set to the
    // client's address (198.51.100.77).
    let r = w.update(&format!("hostname={HOME}&offline=yes"));
    r.expect(200, "good\n");
    assert_eq!(n_exchanges(&r.log), 1, "one UPDATE for both families:\n{}", r.log);
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (Vec::<String>::new(), Vec::<String>::new()));
    let offline = row(&w, HOME);
    assert!(offline.offline);
    assert_eq!((offline.ipv4, offline.ipv6), (None, None));
    // Again: already offline, nothing sent.
    let r = w.update(&format!("hostname={HOME}&offline=YES"));
    r.expect(200, "nochg\n");
    assert_eq!(n_exchanges(&r.log), 0, "{}", r.log);
    assert!(w.a(HOME).is_empty());
    // The next update with the very address it had before restores it: `good`, not `nochg`,
    // and only the family given comes back.
    w.update(&format!("hostname={HOME}&myip=192.0.2.10")).expect(200, "good 192.0.2.10\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["192.0.2.10".to_owned()], Vec::<String>::new()));
    let back = row(&w, HOME);
    assert!(!back.offline);
    assert_eq!((back.ipv4.as_deref(), back.ipv6), (Some("192.0.2.10"), None));
    w.update(&format!("hostname={HOME}&myip=192.0.2.10")).expect(200, "nochg 192.0.2.10\n");
    // `offline=no` (ddclient's default) is an ordinary update.
    w.update(&format!("hostname={HOME}&myip=192.0.2.11&offline=no")).expect(200, "good 192.0.2.11\n");
}

#[test]
fn nic_delete_needs_credentials_and_removes_the_records() {
    let w = world!(two_users(""));
    w.update(&format!("hostname={HOME}&myip=192.0.2.20,2001:db8::20")).expect(200, "good 192.0.2.20 2001:db8::20\n");
    let delete = |q: &str| Cgi::get(q).path("/nic/delete");
    // No credentials, a wrong password, another user's credentials: nothing changes.
    refused(&w, &delete(&format!("hostname={HOME}")), 401, "badauth\n");
    refused(&w, &delete(&format!("hostname={HOME}")).basic(USER, "wrong"), 401, "badauth\n");
    refused(&w, &delete(&format!("hostname={HOME}")).basic(BOB, BOB_PASSWORD), 200, "nohost\n");
    // The owner: both records go in one UPDATE.
    let r = w.cgi(&delete(&format!("hostname={HOME}")).basic(USER, PASSWORD));
    r.expect(200, "good\n");
    assert_eq!(n_exchanges(&r.log), 1, "{}", r.log);
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (Vec::<String>::new(), Vec::<String>::new()));
    assert!(row(&w, HOME).offline);
    w.cgi(&delete(&format!("hostname={HOME}")).basic(USER, PASSWORD)).expect(200, "nochg\n");
    // Parameters as credentials work on the delete endpoint too.
    w.update(&format!("hostname={HOME}&myip=2001:db8::21")).expect(200, "good 2001:db8::21\n");
    assert_eq!(w.aaaa(HOME), ["2001:db8::21"]);
    w.cgi(&delete(&format!("hostname={HOME}&username={USER}&password={PASSWORD}"))).expect(200, "good\n");
    assert!(w.aaaa(HOME).is_empty());
}

// ---- ttl ---------------------------------------------------------------------------------

const TTL_BOUNDS: &str = "[defaults]\nmin_dns_ttl = 30\nmax_dns_ttl = 3600\n";

#[test]
fn ttl_inside_the_bounds_is_published_and_stored() {
    let w = world!(World::new(Setup { extra_config: TTL_BOUNDS, ..Setup::default() }));
    w.update(&format!("hostname={HOME}&myip=192.0.2.30,2001:db8::30&ttl=300"))
        .expect(200, "good 192.0.2.30 2001:db8::30\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(300, "192.0.2.30".to_owned())]);
    assert_eq!(w.dns.query_with_ttl(HOME, "AAAA"), [(300, "2001:db8::30".to_owned())]);
    assert_eq!(row(&w, HOME).dns_ttl, 300);
    // The same addresses and TTL: nothing to do.
    w.update(&format!("hostname={HOME}&myip=192.0.2.30&ttl=300")).expect(200, "nochg 192.0.2.30\n");
    // Only the TTL differs: the records are sent again, both families, with the new TTL.
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.30&ttl=30"));
    r.expect(200, "good 192.0.2.30\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(30, "192.0.2.30".to_owned())]);
    assert_eq!(w.dns.query_with_ttl(HOME, "AAAA"), [(30, "2001:db8::30".to_owned())]);
    assert_eq!(row(&w, HOME).dns_ttl, 30);
    // Without `ttl` the stored TTL stays.
    w.update(&format!("hostname={HOME}&myip=192.0.2.31")).expect(200, "good 192.0.2.31\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(30, "192.0.2.31".to_owned())]);
    w.update(&format!("hostname={HOME}&myip=192.0.2.31&ttl=3600")).expect(200, "good 192.0.2.31\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(3600, "192.0.2.31".to_owned())]);
}

#[test]
fn ttl_outside_the_bounds_answers_badttl_and_changes_nothing() {
    let w = world!(World::new(Setup { extra_config: TTL_BOUNDS, ..Setup::default() }));
    w.update(&format!("hostname={HOME}&myip=192.0.2.40&ttl=120")).expect(200, "good 192.0.2.40\n");
    for ttl in ["29", "3601", "0", "-1", "abc", "4294967296", "60s", "1e3"] {
        let q = format!("hostname={HOME}&myip=192.0.2.41&ttl={ttl}");
        refused(&w, &Cgi::get(&q).basic(USER, PASSWORD), 200, "badttl\n");
    }
    // The bounds are checked even when the addresses are current.
    refused(&w, &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.40&ttl=5")).basic(USER, PASSWORD), 200, "badttl\n");
    // Unauthenticated, the TTL is not looked at: badauth.
    refused(&w, &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.41&ttl=5")), 401, "badauth\n");
    assert_eq!(w.dns.query_with_ttl(HOME, "A"), [(120, "192.0.2.40".to_owned())]);
}

// ---- address families --------------------------------------------------------------------

#[test]
fn a_parameter_named_for_one_family_refuses_the_other() {
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.50,2001:db8::50")).expect(200, "good 192.0.2.50 2001:db8::50\n");
    let cases = [
        "ipv4=2001:db8::51",
        "ip4=2001:db8::51",
        "ipv6=192.0.2.51",
        "ip6=192.0.2.51",
        "myip6=192.0.2.51",
        "myipv6=192.0.2.51",
        // A family parameter carries one address, not dyndns2's list.
        "ipv4=192.0.2.51,2001:db8::51",
        "ipv4=192.0.2.51,192.0.2.52",
        // A valid `myip` does not excuse a wrong `ipv4`.
        "myip=192.0.2.51&ipv6=192.0.2.52",
    ];
    for case in cases {
        let q = format!("hostname={HOME}&{case}");
        refused(&w, &Cgi::get(&q).basic(USER, PASSWORD), 200, "badip\n");
        refused(&w, &Cgi::get(&q).path("/api/update").basic(USER, PASSWORD), 200, "badip\n");
    }
    // `myip` takes either family, as dyndns2 clients send it.
    w.update(&format!("hostname={HOME}&myip=2001:db8::52")).expect(200, "good 2001:db8::52\n");
    w.update(&format!("hostname={HOME}&myip=192.0.2.52")).expect(200, "good 192.0.2.52\n");
    assert_eq!((w.a(HOME), w.aaaa(HOME)), (vec!["192.0.2.52".to_owned()], vec!["2001:db8::52".to_owned()]));
    // Each family parameter with its own family.
    w.update(&format!("hostname={HOME}&ip4=192.0.2.53&ip6=2001:db8::53")).expect(200, "good 192.0.2.53 2001:db8::53\n");
}

// ---- through the shipped web-server files ------------------------------------------------

/// `/api/update` and `/nic/delete` reach ddns-cgi through each shipped web-server file, and
/// the OpenWrt and pfSense URLs of `contrib/routers.md` work as written, through curl.
#[test]
fn shipped_routes_and_router_urls_through_web_servers() {
    for front in [Front::NginxFcgiwrap, Front::NginxFastcgi, Front::ApacheCgi, Front::ApacheFcgid] {
        let world = world!(web_world());
        let web = world!(WebServer::start(&world, front));
        let port = web.port;
        let url = |doc: &str| {
            doc.replace("https://", "http://")
                .replace("ddns.example.com", &format!("127.0.0.1:{port}"))
                .replace("dyn.example.com", "dyn.example.test")
        };
        let api = web.url(&format!("/api/update?hostname={HOME}&ipv4=192.0.2.60&ipv6=2001:db8::60"));
        curl(&["-u", &creds(), &api]).expect(200, "good 192.0.2.60 2001:db8::60\n");
        assert_eq!((world.a(HOME), world.aaaa(HOME)), (vec!["192.0.2.60".to_owned()], vec!["2001:db8::60".to_owned()]));
        curl(&[&web.url(&format!("/nic/delete?hostname={HOME}"))]).expect(401, "badauth\n");
        assert_eq!(world.a(HOME), ["192.0.2.60"], "{front:?}");
        curl(&["-u", &creds(), &web.url(&format!("/nic/delete?hostname={HOME}"))]).expect(200, "good\n");
        assert_eq!((world.a(HOME), world.aaaa(HOME)), (Vec::<String>::new(), Vec::<String>::new()), "{front:?}");

        // OpenWrt ddns-scripts: `[USERNAME]:[PASSWORD]@` becomes Basic (ddns-scripts
        // percent-encodes both, curl decodes them), `[DOMAIN]` and `[IP]` are filled in.
        let openwrt = documented_url("contrib/routers.md", "option update_url`");
        let openwrt = url(&openwrt)
            .replace("[USERNAME]", USER)
            .replace("[PASSWORD]", &PASSWORD.replace(':', "%3A"))
            .replace("[DOMAIN]", NAS)
            .replace("[IP]", "192.0.2.61");
        curl(&[&openwrt]).expect(200, "good 192.0.2.61\n");
        assert_eq!(world.a(NAS), ["192.0.2.61"]);

        // pfSense "Custom": `%IP%`, and Result Match `good %IP%|nochg %IP%` against the body.
        let pfsense = documented_url("contrib/routers.md", "| Update URL |");
        let pfsense = url(&pfsense).replace("%IP%", "2001:db8::62");
        curl(&["-u", &creds(), &pfsense]).expect(200, "good 2001:db8::62\n");
        curl(&["-u", &creds(), &pfsense]).expect(200, "nochg 2001:db8::62\n");
        assert_eq!(world.aaaa(HOME), ["2001:db8::62"], "{front:?}");
    }
}

/// The curl lines of `contrib/routers.md` (the console fills in the same ones) update a host
/// with its token through a web server: the address is the one the request comes from.
#[test]
fn routers_md_curl_lines_update_with_a_token() {
    let text = shipped("contrib/routers.md");
    let section = text.split("\n## curl").nth(1).expect("a curl section");
    let lines: Vec<&str> = section.lines().filter(|l| l.starts_with("curl ")).collect();
    assert_eq!(lines.len(), 2, "{section}");
    // One line per family: the same request, over IPv4 or IPv6.
    assert_eq!(lines[0].replacen("curl -4 ", "curl -6 ", 1), lines[1]);
    let world = world!(web_world());
    let web = world!(WebServer::start(&world, Front::NginxFcgiwrap));
    let token = crate::tokens::new_token(&world, HOME, &[]);
    let line = lines[0]
        .replace("https://ddns.example.com", &web.url(""))
        .replace("home.dyn.example.com", HOME)
        .replace("TOKEN", &token);
    let args: Vec<&str> = line.split(' ').skip(1).map(|a| a.trim_matches('\'')).collect();
    assert!(args.iter().all(|a| !a.is_empty()), "{args:?}");
    curl(&args).expect(200, "good 127.0.0.1\n");
    assert_eq!(world.a(HOME), ["127.0.0.1"]);
    curl(&args).expect(200, "nochg 127.0.0.1\n");
    // `-f`: a wrong token is a `401`, which curl turns into a failure.
    let wrong = line.replace(&token, "ddns_0000000000000000000000000000000000000000000");
    let out = crate::util::netns::command("curl").args(wrong.split(' ').skip(1).map(|a| a.trim_matches('\''))).output();
    let out = out.expect("curl runs");
    assert_eq!(out.status.code(), Some(22), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(world.a(HOME), ["127.0.0.1"]);
}
