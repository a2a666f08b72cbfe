//! The devices of the matrix: how each one reads an answer (from its source or
//! documentation), what each one sends, and the table of what each concludes per case. The
//! comment on each device names where its request shape comes from.

use super::{Case, Creds, Device, Encoding, Seen, Vars};
use crate::util::web::{Http, shipped};
use crate::web::{HOME, NAS};

// ---- how each device reads an answer -----------------------------------------------------

/// The first word of each line of the body.
pub(super) fn words(body: &str) -> Vec<&str> {
    body.lines().map(|l| l.split(' ').next().unwrap_or("")).collect()
}

/// A dyndns2 status word as a `'static` label for [`Seen`].
fn label(word: &str) -> &'static str {
    ["good", "nochg", "badauth", "nohost", "abuse", "notfqdn", "badip", "dnserr", "911"]
        .into_iter()
        .find(|w| *w == word)
        .unwrap_or("unknown")
}

/// The dyndns2 rule on the first word, whatever the status. AVM documents no parsing for the
/// Fritz!Box; Synology DSM documents the words its custom providers may answer
/// (`/etc/ddns_provider.conf`: good, nochg, nohost, abuse, notfqdn, badauth, 911, ...) but
/// not how it treats the status, so both are modelled on the body alone.
fn reads_first_word(r: &Http, _sent: &Vars) -> Seen {
    match words(&r.body).first().copied().unwrap_or("") {
        w @ ("good" | "nochg") => Seen::Done(label(w)),
        w => Seen::Failed(label(w)),
    }
}

/// ddclient 3.11 and 4.0 (`nic_dyndns2_update`, `header_ok`): a status other than 2xx is a
/// failure without reading the body ("401 authentication failed"); then one status line per
/// host in order, one line for several hosts applies to all, `nochg` counts as `good`.
fn reads_ddclient(r: &Http, sent: &Vars) -> Seen {
    if !(200..300).contains(&r.status) {
        return Seen::Failed("http status");
    }
    let n_hosts = sent.hosts.len();
    let mut statuses = words(&r.body);
    if statuses.len() == 1 && n_hosts > 1 {
        statuses = vec![statuses[0]; n_hosts];
    }
    let worst =
        (0..n_hosts).map(|i| statuses.get(i).copied().unwrap_or("unknown")).find(|s| *s != "good" && *s != "nochg");
    match worst {
        None => Seen::Done("good"),
        Some(s) => Seen::Failed(label(s)),
    }
}

/// ddclient 3.9 (`header_ok` accepts only `200`; `401` is "authorization failed"), then the
/// first word of each line, lower-cased, `nochg` counted as `good`. EdgeOS and the USG run
/// this generation.
fn reads_ddclient_3_9(r: &Http, sent: &Vars) -> Seen {
    if r.status != 200 {
        return Seen::Failed("http status");
    }
    reads_ddclient(r, sent)
}

/// inadyn 2.x custom provider (`plugins/generic.c` `response`, `src/http.c`
/// `http_status_valid`): only `200` is read further (`401`/`403` are an authentication
/// failure); then the update counts if the body contains, case-insensitively, one of
/// `OK good true updated success nochg`.
fn reads_inadyn(r: &Http, _sent: &Vars) -> Seen {
    match r.status {
        200 => {}
        401 | 403 => return Seen::Failed("auth"),
        _ => return Seen::Failed("http status"),
    }
    let body = r.body.to_ascii_lowercase();
    if ["ok", "good", "true", "updated", "success", "nochg"].iter().any(|w| body.contains(w)) {
        Seen::Done("ok")
    } else {
        Seen::Failed("not ok")
    }
}

/// pfSense "Custom" (`dyndns.class`): the body, trimmed of `\t\n\r`, must equal one of the
/// `|`-separated alternatives of Result Match after `%IP%` is replaced. The Result Match is
/// the one `contrib/routers.md` gives.
fn reads_pfsense(r: &Http, sent: &Vars) -> Seen {
    let body = r.body.trim_matches(['\t', '\n', '\r']);
    // `%IP%` is the address pfSense sent, which is the one it expects back.
    let ip = if sent.v4.is_empty() { &sent.v6 } else { &sent.v4 };
    let matched = pfsense_result_match().split('|').any(|alt| alt.replace("%IP%", ip) == body);
    if matched { Seen::Done("match") } else { Seen::Failed("no match") }
}

fn pfsense_result_match() -> String {
    let text = shipped("contrib/routers.md");
    let row = text.lines().find(|l| l.starts_with("| Result Match |")).expect("pfSense Result Match row");
    row.split('`').nth(1).expect("Result Match in backticks").replace("\\|", "|")
}

/// QNAP QTS "Customized" DDNS: a QNAP's `ddns.conf` holds `pass_criteria = nochg,good` beside
/// the `update_url`; QNAP documents neither, so this reads the words anywhere in the body,
/// whatever the status.
fn reads_qnap(r: &Http, _sent: &Vars) -> Seen {
    let first = words(&r.body).first().copied().unwrap_or("");
    if ["nochg", "good"].iter().any(|w| r.body.contains(w)) {
        Seen::Done(label(first))
    } else {
        Seen::Failed(label(first))
    }
}

/// OPNsense's native dyndns2 backend (`lib/account/dyndns2.py`): any 2xx is success and the
/// first word becomes the account's status; anything else is logged as a failure.
fn reads_opnsense(r: &Http, _sent: &Vars) -> Seen {
    let first = words(&r.body).first().copied().unwrap_or("");
    if (200..300).contains(&r.status) { Seen::Done(label(first)) } else { Seen::Failed("http status") }
}

/// OpenWrt ddns-scripts with a custom `update_url` (`dynamic_dns_functions.sh`
/// `send_update`): the transfer must succeed (uclient-fetch and wget fail on a 4xx), and
/// without `UPD_ANSWER`, which custom URLs do not set, any body is accepted.
fn reads_openwrt(r: &Http, _sent: &Vars) -> Seen {
    if r.status == 200 { Seen::Done("ok") } else { Seen::Failed("transfer") }
}

/// The RouterOS script of `contrib/routers.md`: `/tool fetch ... output=user as-value` inside
/// `:do {} on-error=`, done when the data starts with `good` or `nochg`.
fn reads_mikrotik(r: &Http, sent: &Vars) -> Seen {
    if r.status != 200 {
        return Seen::Failed("fetch error");
    }
    reads_first_word(r, sent)
}

// ---- the devices -------------------------------------------------------------------------

// AVM knowledge base "Setting up dynamic DNS in the FRITZ!Box", "User-defined" provider: the
// box fills <domain> <ipaddr> <ip6addr> <ip6lanprefix> <username> <pass> verbatim, empty
// without IPv6; the dyndns2 form relies on the Basic credentials it sends.
pub(super) const FRITZ_DYNDNS2: Device = Device {
    name: "Fritz!Box, dyndns2 URL, dual stack",
    method: "GET",
    target: "/nic/update?hostname=<domain>&myip=<ipaddr>,<ip6addr>&ip6lanprefix=<ip6lanprefix>",
    creds: Creds::Basic,
    user_agent: None,
    http10: false,
    encoding: Encoding::Verbatim,
    hosts: &[HOME],
    v4: true,
    v6: true,
    absent_removes: false,
    client_address: false,
    reads: reads_first_word,
};
const FRITZ_DYNDNS2_V4: Device = Device { name: "Fritz!Box, dyndns2 URL, no IPv6", v6: false, ..FRITZ_DYNDNS2 };
// The same box with nanodnsd's URL, credentials in the query (models that send no Basic).
const FRITZ_NANODNSD: Device = Device {
    name: "Fritz!Box, nanodnsd URL, dual stack",
    target: "/api/update?hostname=<domain>&ipv4=<ipaddr>&ipv6=<ip6addr>&ip6lanprefix=<ip6lanprefix>&username=<username>&token=<pass>",
    creds: Creds::Query,
    absent_removes: true,
    ..FRITZ_DYNDNS2
};
const FRITZ_NANODNSD_V4: Device = Device { name: "Fritz!Box, nanodnsd URL, no IPv6", v6: false, ..FRITZ_NANODNSD };
// UniFi OS runs inadyn with a generated `custom` section; inadyn's generic plugin sends
// "GET path HTTP/1.0" with Basic always, replaces %h %i %u %p, and URL-encodes the result
// (plugins/generic.c); User-Agent DDNS_USER_AGENT (include/ddns.h).
const INADYN: Device = Device {
    name: "UniFi OS / inadyn 2.x custom, %h %i",
    method: "GET",
    target: "/nic/update?hostname=%h&myip=%i",
    creds: Creds::Basic,
    user_agent: Some("inadyn/2.13.0"),
    http10: true,
    encoding: Encoding::Inadyn,
    hosts: &[HOME],
    v4: true,
    v6: false,
    absent_removes: false,
    client_address: false,
    reads: reads_inadyn,
};
const INADYN_V6: Device = Device { name: "UniFi OS / inadyn 2.x custom, IPv6", v4: false, v6: true, ..INADYN };
// Without any `%` in the path inadyn appends the hostname to it (plugins/generic.c
// `request`, "Backwards compat, default to append hostname"); the address comes from the
// client's connection.
const INADYN_APPEND: Device = Device {
    name: "UniFi OS / inadyn 2.x custom, hostname appended",
    target: "/nic/update?hostname=",
    client_address: true,
    ..INADYN
};
// EdgeOS and the USG: ddclient's dyndns2 protocol builds
// http://SERVER/nic/update?system=dyndns&hostname=H&myip=IP itself, HTTP/1.0, Basic up
// front, "ddclient/3.9.1" (ddclient 3.9.1 `nic_dyndns2_update`, `geturl`).
const EDGEOS: Device = Device {
    name: "EdgeOS / USG (ddclient 3.9)",
    method: "GET",
    target: "/nic/update?system=dyndns&hostname={hostname}&myip={myip}",
    creds: Creds::Basic,
    user_agent: Some("ddclient/3.9.1"),
    http10: true,
    encoding: Encoding::Verbatim,
    hosts: &[HOME],
    v4: true,
    v6: false,
    absent_removes: false,
    client_address: false,
    reads: reads_ddclient_3_9,
};
// ddclient 3.11+: several hosts in one request and `myip=v4,v6`, through curl with --user
// (ddclient.in `nic_dyndns2_update`, `geturl`).
const DDCLIENT: Device = Device {
    name: "ddclient 3.11+, two hosts, myip=v4,v6",
    target: "/nic/update?hostname={hostname}&myip={myip}",
    user_agent: Some("ddclient/3.11.2"),
    http10: false,
    hosts: &[HOME, NAS],
    v6: true,
    reads: reads_ddclient,
    ..EDGEOS
};
// Synology DSM "Customize Provider": the query URL with __HOSTNAME__ __MYIP__ __USERNAME__
// __PASSWORD__, run by the DynDNS module with GET (DSM help "DDNS", /etc/ddns_provider.conf).
const SYNOLOGY: Device = Device {
    name: "Synology DSM custom provider",
    method: "GET",
    target: "/nic/update?hostname=__HOSTNAME__&myip=__MYIP__&username=__USERNAME__&password=__PASSWORD__",
    creds: Creds::Query,
    user_agent: None,
    http10: false,
    encoding: Encoding::Verbatim,
    hosts: &[HOME],
    v4: true,
    v6: false,
    absent_removes: false,
    client_address: false,
    reads: reads_first_word,
};
// QNAP QTS: Network & Virtual Switch > DDNS > Add > "Customized", with %HOST% %IP% %USER%
// %PASS% in the URL. QNAP publishes no reference for it: the placeholders are those public
// QNAP recipes use, with the credentials in the query, which works whether or not QTS also
// sends them as Basic.
const QNAP: Device = Device {
    name: "QNAP QTS customized DDNS",
    target: "/nic/update?hostname=%HOST%&myip=%IP%&username=%USER%&password=%PASS%",
    reads: reads_qnap,
    ..SYNOLOGY
};
// pfSense "Custom" and "Custom (v6)": %IP% replaced, Basic through CURLOPT_USERPWD,
// "phpDynDNS/0.7" (dyndns.class `_update`); the URL is the one in `contrib/routers.md`.
const PFSENSE: Device = Device {
    name: "pfSense Custom",
    method: "GET",
    target: "/nic/update?hostname=<domain>&myip=%IP%",
    creds: Creds::Basic,
    user_agent: Some("phpDynDNS/0.7"),
    http10: false,
    encoding: Encoding::Verbatim,
    hosts: &[HOME],
    v4: true,
    v6: false,
    absent_removes: false,
    client_address: false,
    reads: reads_pfsense,
};
const PFSENSE_V6: Device = Device { name: "pfSense Custom (v6)", v4: false, v6: true, ..PFSENSE };
// OPNsense's native backend, Service "Custom", protocol DynDNS 2: requests.get with
// hostname (comma-separated as typed), myip and wildcard=NOCHG as form-encoded parameters,
// HTTPBasicAuth, "OPNsense-dyndns" (lib/account/dyndns2.py).
const OPNSENSE: Device = Device {
    name: "OPNsense Custom, dyndns2, two hosts",
    method: "GET",
    target: "/nic/update?hostname={hostname}&myip={myip}&wildcard=NOCHG",
    creds: Creds::Basic,
    user_agent: Some("OPNsense-dyndns"),
    http10: false,
    encoding: Encoding::Form,
    hosts: &[HOME, NAS],
    v4: true,
    v6: false,
    absent_removes: false,
    client_address: false,
    reads: reads_opnsense,
};
// OpenWrt ddns-scripts, custom update_url as `contrib/routers.md` gives it: [USERNAME] and
// [PASSWORD] in the URL's user part, which uclient-fetch sends only after the 401 challenge.
const OPENWRT: Device = Device {
    name: "OpenWrt ddns-scripts custom URL",
    method: "GET",
    target: "/nic/update?hostname=[DOMAIN]&myip=[IP]",
    creds: Creds::Challenge,
    user_agent: None,
    http10: false,
    encoding: Encoding::Verbatim,
    hosts: &[HOME],
    v4: true,
    v6: false,
    absent_removes: false,
    client_address: false,
    reads: reads_openwrt,
};
// MikroTik RouterOS `/tool fetch` (help.mikrotik.com "Fetch": user, password,
// http-auth-scheme basic by default, output=user as-value): the documentation does not say
// whether Basic goes with the first request, so the row takes the challenge first.
const MIKROTIK: Device = Device {
    name: "MikroTik RouterOS /tool fetch script",
    target: "/nic/update?hostname={hostname}&myip={myip}",
    reads: reads_mikrotik,
    ..OPENWRT
};

/// The cases in the order of [`MATRIX`]'s columns.
pub(super) const CASES: [Case; 5] = [Case::Update, Case::Resend, Case::Badauth, Case::Nohost, Case::Abuse];

use Seen::{Done, Failed};

/// The matrix: per device, what it concludes for each of [`CASES`]. OPNsense counts any 2xx
/// as done and shows the word as the account's status, so `nohost` and `abuse` raise no
/// error there; OpenWrt's custom URLs accept any `200` body; ddclient shows `nochg` as
/// `good` (with a warning).
pub(super) const MATRIX: &[(&Device, [Seen; 5])] = &[
    (&FRITZ_DYNDNS2, [Done("good"), Done("nochg"), Failed("badauth"), Failed("nohost"), Failed("abuse")]),
    (&FRITZ_DYNDNS2_V4, [Done("good"), Done("nochg"), Failed("badauth"), Failed("nohost"), Failed("abuse")]),
    (&FRITZ_NANODNSD, [Done("good"), Done("nochg"), Failed("badauth"), Failed("nohost"), Failed("abuse")]),
    (&FRITZ_NANODNSD_V4, [Done("good"), Done("nochg"), Failed("badauth"), Failed("nohost"), Failed("abuse")]),
    (&INADYN, [Done("ok"), Done("ok"), Failed("auth"), Failed("not ok"), Failed("not ok")]),
    (&INADYN_V6, [Done("ok"), Done("ok"), Failed("auth"), Failed("not ok"), Failed("not ok")]),
    (&INADYN_APPEND, [Done("ok"), Done("ok"), Failed("auth"), Failed("not ok"), Failed("not ok")]),
    (&EDGEOS, [Done("good"), Done("good"), Failed("http status"), Failed("nohost"), Failed("abuse")]),
    (&DDCLIENT, [Done("good"), Done("good"), Failed("http status"), Failed("nohost"), Failed("abuse")]),
    (&SYNOLOGY, [Done("good"), Done("nochg"), Failed("badauth"), Failed("nohost"), Failed("abuse")]),
    (&QNAP, [Done("good"), Done("nochg"), Failed("badauth"), Failed("nohost"), Failed("abuse")]),
    (&PFSENSE, [Done("match"), Done("match"), Failed("no match"), Failed("no match"), Failed("no match")]),
    (&PFSENSE_V6, [Done("match"), Done("match"), Failed("no match"), Failed("no match"), Failed("no match")]),
    (&OPNSENSE, [Done("good"), Done("nochg"), Failed("http status"), Done("nohost"), Done("abuse")]),
    (&OPENWRT, [Done("ok"), Done("ok"), Failed("transfer"), Done("ok"), Done("ok")]),
    (&MIKROTIK, [Done("good"), Done("nochg"), Failed("fetch error"), Failed("nohost"), Failed("abuse")]),
];
