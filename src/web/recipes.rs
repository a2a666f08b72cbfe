//! Ready-to-paste client settings for one host and its freshly created token: the recipes of
//! `contrib/routers.md` (Fritz!Box, OpenWrt ddns-scripts, ddclient, inadyn and UniFi OS,
//! pfSense, OPNsense, curl) with the console's update URL, the hostname and the token filled
//! in. With a token the user name is the hostname (README, "Per-host tokens").
//!
//! One source of truth: the settings are the shipped texts themselves. ddclient's and inadyn's
//! files are `contrib/ddclient.conf` and `contrib/inadyn.conf` (which the client tests run),
//! included here and filled in; the fields and lines of the other clients are kept here in
//! `contrib/routers.md`'s own words (its example server, hostname, user and password), and the
//! unit tests check that `routers.md` and `contrib/openwrt/ddns-scripts.txt` say exactly these.
//! Filling in replaces those example values, once, left to right, so a value filled in is
//! never read again.
//!
//! What this module returns is plain text in a structure (client, fields, file); it writes no
//! HTML: the console's template escapes every value.
#![allow(dead_code, reason = "the console (issue 20) shows these; it is merged separately")]

use std::fmt;

use crate::auth::token;
use crate::store::Families;

/// `contrib/ddclient.conf`, the file the ddclient recipe fills in.
const DDCLIENT_CONF: &str = include_str!("../../contrib/ddclient.conf");
/// `contrib/inadyn.conf`, the file the inadyn recipe fills in.
const INADYN_CONF: &str = include_str!("../../contrib/inadyn.conf");

/// The Fritz!Box's update URL for both families (`routers.md`, "Update URL (dyndns2)").
const FRITZ_URL: &str =
    "https://ddns.example.com/nic/update?hostname=<domain>&myip=<ipaddr>,<ip6addr>&ip6lanprefix=<ip6lanprefix>";
/// What `routers.md` drops from [`FRITZ_URL`] for a box without IPv6 ...
const FRITZ_DROP_V6: [&str; 2] = [",<ip6addr>", "&ip6lanprefix=<ip6lanprefix>"];
/// ... and for a box without IPv4.
const FRITZ_DROP_V4: &str = "<ipaddr>,";

/// OpenWrt's custom update URL; ddns-scripts fills in the bracketed names itself.
const OPENWRT_URL: &str = "https://[USERNAME]:[PASSWORD]@ddns.example.com/nic/update?hostname=[DOMAIN]&myip=[IP]";
/// The IPv4 section of `/etc/config/ddns`, as `contrib/openwrt/ddns-scripts.txt` gives it.
const OPENWRT_SECTION: &str = "\
config service 'ddns_cgi_v4'
    option enabled '1'
    option lookup_host 'home.dyn.example.com'
    option domain 'home.dyn.example.com'
    option username 'alice'
    option password 'secret'
    option update_url 'https://[USERNAME]:[PASSWORD]@ddns.example.com/nic/update?hostname=[DOMAIN]&myip=[IP]'
    option use_https '1'
    option ip_source 'network'
    option ip_network 'wan'
    option interface 'wan'
";
/// What the IPv6 section changes in [`OPENWRT_SECTION`] (the file's comment names them).
const OPENWRT_V6: [(&str, &str); 3] = [
    ("config service 'ddns_cgi_v4'\n", "config service 'ddns_cgi_v6'\n    option use_ipv6 '1'\n"),
    ("option ip_network 'wan'", "option ip_network 'wan6'"),
    ("option interface 'wan'", "option interface 'wan6'"),
];

/// pfSense's update URL and Result Match (`routers.md`, "pfSense"; the table escapes `|`).
const PFSENSE_URL: &str = "https://ddns.example.com/nic/update?hostname=home.dyn.example.com&myip=%IP%";
const PFSENSE_MATCH: &str = "good %IP%|nochg %IP%";

/// UniFi OS's server field: inadyn's server and path in one (`routers.md`, "UniFi OS").
const UNIFI_SERVER: &str = "ddns.example.com/nic/update?hostname=%h&myip=%i";

/// The curl lines of `routers.md`, one per family.
const CURL_V4: &str =
    "curl -4 -fsS -u home.dyn.example.com:TOKEN 'https://ddns.example.com/nic/update?hostname=home.dyn.example.com'";
const CURL_V6: &str =
    "curl -6 -fsS -u home.dyn.example.com:TOKEN 'https://ddns.example.com/nic/update?hostname=home.dyn.example.com'";

/// Where each client's settings are typed in, in `routers.md`'s words.
const FRITZ_PLACE: &str = "Internet → Permit Access → DynDNS → \"Use DynDNS\", provider \"User-defined\"";
const OPENWRT_PLACE: &str =
    "Services → Dynamic DNS → Edit → \"DDNS Service provider\" = \"-- custom --\", or `/etc/config/ddns`";
const PFSENSE_PLACE: &str = "Services → Dynamic DNS → Add";
const OPNSENSE_PLACE: &str = "Services → Dynamic DNS (os-ddclient plugin) → Accounts → Add";
const UNIFI_PLACE: &str = "Settings → Internet → the WAN → Dynamic DNS → Create";

/// What the recipes are for: where the console answers updates, the host, its new token,
/// and the families the host takes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    /// The public base of the update URL: `https://` or `http://` and the host (and port),
    /// no path, e.g. `https://ddns.example.com`.
    pub(crate) base: &'a str,
    pub(crate) fqdn: &'a str,
    /// The token just created (`ddns_...`); shown once, with these recipes.
    pub(crate) token: &'a str,
    pub(crate) families: Families,
}

/// One client's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Recipe {
    /// The client, as people know it (`AVM Fritz!Box`, `ddclient`).
    pub(crate) client: &'static str,
    /// Where the settings go: a menu path, or a file.
    pub(crate) place: &'static str,
    /// Labelled values to type into a form, in the form's order.
    pub(crate) fields: Vec<Field>,
    /// A file (or command lines) to paste whole, when the client takes one.
    pub(crate) text: Option<String>,
}

/// One labelled value of a form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) label: &'static str,
    pub(crate) value: String,
}

/// Why no recipes could be written: a value that would not read back as itself in a URL or a
/// configuration file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RecipeError {
    /// The base is not `http://` or `https://` followed by a host (and port) alone.
    Base(String),
    /// The hostname holds something other than letters, digits, `-`, `_` and dots.
    Hostname(String),
    /// The secret is not of a host token's shape (it is never quoted).
    Token,
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecipeError::Base(b) => {
                write!(f, "the update url must be `https://` or `http://` and a host name without a path, got `{b}`")
            }
            RecipeError::Hostname(h) => write!(f, "`{h}` is not a hostname a client can be given"),
            RecipeError::Token => f.write_str("the secret is not a host token"),
        }
    }
}

impl std::error::Error for RecipeError {}

/// The base URL taken apart.
struct Base<'a> {
    /// `https://ddns.example.com`, without a trailing slash.
    url: &'a str,
    /// `ddns.example.com` (with a port if there is one).
    authority: &'a str,
    https: bool,
}

impl<'a> Base<'a> {
    fn parse(raw: &'a str) -> Result<Base<'a>, RecipeError> {
        let url = raw.strip_suffix('/').unwrap_or(raw);
        let (https, authority) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
            (Some(a), _) => (true, a),
            (None, Some(a)) => (false, a),
            (None, None) => return Err(RecipeError::Base(raw.to_owned())),
        };
        // A host name, an IPv4 address or a bracketed IPv6 literal, and a port: nothing that
        // could end a quoted value, a URL's authority or a line of a configuration file.
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']');
        if authority.is_empty() || !authority.bytes().all(allowed) {
            return Err(RecipeError::Base(raw.to_owned()));
        }
        Ok(Base { url, authority, https })
    }
}

/// The recipes for `target`, in the order of `routers.md`.
pub(crate) fn recipes(target: &Target<'_>) -> Result<Vec<Recipe>, RecipeError> {
    let base = Base::parse(target.base)?;
    let host_ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_');
    if target.fqdn.is_empty() || !target.fqdn.bytes().all(host_ok) {
        return Err(RecipeError::Hostname(target.fqdn.to_owned()));
    }
    if !token::looks_like(target.token) {
        return Err(RecipeError::Token);
    }
    let filled = Filled { base: &base, fqdn: target.fqdn, token: target.token };
    let families = target.families;
    Ok(vec![
        fritz_box(&filled, families),
        openwrt(&filled, families),
        pfsense(&filled, families),
        opnsense(&filled),
        ddclient(&filled, families),
        unifi_os(&filled),
        inadyn(&filled, families),
        curl(&filled, families),
    ])
}

/// The values a recipe fills in.
struct Filled<'a> {
    base: &'a Base<'a>,
    fqdn: &'a str,
    token: &'a str,
}

impl Filled<'_> {
    /// `template` (in `routers.md`'s words) with its example server, hostname, user and
    /// password replaced. Longer examples come first where one starts another.
    fn fill(&self, template: &str) -> String {
        let quoted_single = format!("'{}'", self.token);
        let quoted_double = format!("\"{}\"", self.token);
        let ssl = if self.base.https { "ssl=yes" } else { "ssl=no" };
        let inadyn_ssl = if self.base.https { "ssl         = true" } else { "ssl         = false" };
        let use_https = if self.base.https { "use_https '1'" } else { "use_https '0'" };
        let inadyn_hosts = format!("\"{}\"", self.fqdn);
        replace_once(
            template,
            &[
                ("https://ddns.example.com", self.base.url),
                ("https://[USERNAME]:[PASSWORD]@ddns.example.com", &self.openwrt_url_base()),
                ("ddns.example.com", self.base.authority),
                ("home.dyn.example.com,nas.dyn.example.com", self.fqdn),
                ("{ \"home.dyn.example.com\", \"nas.dyn.example.com\" }", &inadyn_hosts),
                ("home.dyn.example.com", self.fqdn),
                ("alice", self.fqdn),
                ("'secret'", &quoted_single),
                ("\"secret\"", &quoted_double),
                ("TOKEN", self.token),
                ("ssl=yes", ssl),
                ("ssl         = true", inadyn_ssl),
                ("use_https '1'", use_https),
            ],
        )
    }

    /// OpenWrt's URL keeps ddns-scripts' own placeholders for the credentials.
    fn openwrt_url_base(&self) -> String {
        let scheme = if self.base.https { "https" } else { "http" };
        format!("{scheme}://[USERNAME]:[PASSWORD]@{}", self.base.authority)
    }

    fn credentials(&self, user: &'static str, password: &'static str) -> [Field; 2] {
        [field(user, self.fqdn), field(password, self.token)]
    }
}

fn field(label: &'static str, value: &str) -> Field {
    Field { label, value: value.to_owned() }
}

/// `text` with each `(example, value)` replaced, scanning once from the left: at each position
/// the first example that starts there wins, and a value put in is not scanned again (a
/// hostname that contains `alice` stays as it is).
fn replace_once(text: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for (example, value) in pairs {
            if let Some(after) = rest.strip_prefix(example) {
                out.push_str(value);
                rest = after;
                continue 'scan;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The paragraphs of `text` (separated by an empty line) whose first line does not start
/// with one of `dropped`, ending in a newline as the file does.
fn without_paragraphs(text: &str, dropped: &[&str]) -> String {
    let kept: Vec<&str> =
        text.trim_end_matches('\n').split("\n\n").filter(|p| !dropped.iter().any(|d| p.starts_with(d))).collect();
    kept.join("\n\n") + "\n"
}

fn fritz_box(f: &Filled<'_>, families: Families) -> Recipe {
    let mut url = FRITZ_URL.to_owned();
    if !families.ipv6 {
        for drop in FRITZ_DROP_V6 {
            url = url.replace(drop, "");
        }
    } else if !families.ipv4 {
        url = url.replace(FRITZ_DROP_V4, "");
    }
    let [user, password] = f.credentials("User name", "Password");
    Recipe {
        client: "AVM Fritz!Box",
        place: FRITZ_PLACE,
        fields: vec![field("Update URL", &f.fill(&url)), field("Domain name", f.fqdn), user, password],
        text: None,
    }
}

fn openwrt(f: &Filled<'_>, families: Families) -> Recipe {
    let mut sections = Vec::new();
    if families.ipv4 {
        sections.push(f.fill(OPENWRT_SECTION));
    }
    if families.ipv6 {
        let v6 = OPENWRT_V6.iter().fold(OPENWRT_SECTION.to_owned(), |s, (from, to)| s.replace(from, to));
        sections.push(f.fill(&v6));
    }
    Recipe {
        client: "OpenWrt (ddns-scripts)",
        place: OPENWRT_PLACE,
        fields: vec![
            field("DDNS Service provider", "-- custom --"),
            field("Custom update-URL", &f.fill(OPENWRT_URL)),
            field("Lookup Hostname", f.fqdn),
            field("Domain", f.fqdn),
            field("Username", f.fqdn),
            field("Password", f.token),
        ],
        text: Some(sections.join("\n")),
    }
}

fn pfsense(f: &Filled<'_>, families: Families) -> Recipe {
    let service = match (families.ipv4, families.ipv6) {
        (true, true) => "Custom, and a second entry with Custom (v6)",
        (false, true) => "Custom (v6)",
        (_, false) => "Custom",
    };
    let [user, password] = f.credentials("Username", "Password");
    Recipe {
        client: "pfSense",
        place: PFSENSE_PLACE,
        fields: vec![
            field("Service Type", service),
            field("Interface to monitor", "WAN"),
            user,
            password,
            field("Update URL", &f.fill(PFSENSE_URL)),
            field("Result Match", PFSENSE_MATCH),
        ],
        text: None,
    }
}

fn opnsense(f: &Filled<'_>) -> Recipe {
    let [user, password] = f.credentials("Username", "Password");
    Recipe {
        client: "OPNsense",
        place: OPNSENSE_PLACE,
        fields: vec![
            field("Service", "Custom"),
            field("Protocol", "DynDNS 2"),
            field("Server", f.base.authority),
            user,
            password,
            field("Hostname(s)", f.fqdn),
        ],
        text: None,
    }
}

fn ddclient(f: &Filled<'_>, families: Families) -> Recipe {
    // The dual-stack paragraph explains a second ddclient for AAAA records: only for a host
    // that has them.
    let text =
        if families.ipv6 { DDCLIENT_CONF.to_owned() } else { without_paragraphs(DDCLIENT_CONF, &["# Dual stack"]) };
    Recipe {
        client: "ddclient",
        place: "/etc/ddclient.conf (chmod 600)",
        fields: Vec::new(),
        text: Some(f.fill(&text)),
    }
}

fn unifi_os(f: &Filled<'_>) -> Recipe {
    let [user, password] = f.credentials("Username", "Password");
    Recipe {
        client: "UniFi OS (inadyn)",
        place: UNIFI_PLACE,
        fields: vec![
            field("Service", "custom"),
            field("Hostname", f.fqdn),
            user,
            password,
            field("Server", &f.fill(UNIFI_SERVER)),
        ],
        text: None,
    }
}

fn inadyn(f: &Filled<'_>, families: Families) -> Recipe {
    let mut dropped = Vec::new();
    if !families.ipv4 {
        dropped.push("# IPv4:");
    }
    if !families.ipv6 {
        dropped.extend(["# IPv6 sections", "# IPv6:"]);
    }
    let text = without_paragraphs(INADYN_CONF, &dropped);
    Recipe { client: "inadyn", place: "/etc/inadyn.conf (chmod 600)", fields: Vec::new(), text: Some(f.fill(&text)) }
}

fn curl(f: &Filled<'_>, families: Families) -> Recipe {
    let mut lines = String::new();
    for (on, line) in [(families.ipv4, CURL_V4), (families.ipv6, CURL_V6)] {
        if on {
            lines.push_str(&f.fill(line));
            lines.push('\n');
        }
    }
    Recipe { client: "curl", place: "a script or a cron job", fields: Vec::new(), text: Some(lines) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTERS_MD: &str = include_str!("../../contrib/routers.md");
    const OPENWRT_TXT: &str = include_str!("../../contrib/openwrt/ddns-scripts.txt");
    /// A token's shape: `ddns_` and 43 base64url characters.
    const TOKEN: &str = "ddns_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    fn target(base: &'static str, fqdn: &'static str, families: Families) -> Target<'static> {
        Target { base, fqdn, token: TOKEN, families }
    }

    const V4: Families = Families { ipv4: true, ipv6: false };
    const V6: Families = Families { ipv4: false, ipv6: true };

    #[track_caller]
    fn recipe(recipes: &[Recipe], client: &str) -> Recipe {
        recipes.iter().find(|r| r.client == client).cloned().unwrap_or_else(|| panic!("no recipe for {client}"))
    }

    #[track_caller]
    fn value(recipe: &Recipe, label: &str) -> String {
        recipe.fields.iter().find(|f| f.label == label).map(|f| f.value.clone()).unwrap_or_else(|| panic!("no {label}"))
    }

    #[track_caller]
    fn text(recipes: &[Recipe], client: &str) -> String {
        recipe(recipes, client).text.unwrap_or_else(|| panic!("no text for {client}"))
    }

    #[track_caller]
    fn says(document: &str, what: &str) {
        assert!(document.contains(what), "the document lacks: {what}");
    }

    /// The texts kept here are `routers.md`'s and `ddns-scripts.txt`'s own, word for word: a
    /// change there fails here until the recipes follow.
    #[test]
    fn the_recipes_are_the_documented_ones() {
        says(ROUTERS_MD, &format!("| Update URL (dyndns2) | `{FRITZ_URL}` |"));
        says(
            ROUTERS_MD,
            &format!("Drop `{}` if you like; for IPv4 only, drop `{}` too.", FRITZ_DROP_V6[1], FRITZ_DROP_V6[0]),
        );
        says(
            ROUTERS_MD,
            &format!("For IPv6 only (no public IPv4 address, as behind DS-Lite), drop `{FRITZ_DROP_V4}`."),
        );
        says(ROUTERS_MD, FRITZ_PLACE);
        says(ROUTERS_MD, "| User name | `alice` |");
        says(ROUTERS_MD, &format!("the `option update_url`: `{OPENWRT_URL}`"));
        says(ROUTERS_MD, &OPENWRT_PLACE.replace(", or `/etc/config/ddns`", ""));
        says(ROUTERS_MD, &format!("{PFSENSE_PLACE}, \"Service Type\" = Custom:"));
        says(ROUTERS_MD, "\"Custom (v6)\"");
        says(ROUTERS_MD, "| Interface to monitor | WAN |");
        says(ROUTERS_MD, &format!("| Update URL | `{PFSENSE_URL}` |"));
        says(ROUTERS_MD, &format!("| Result Match | `{}` |", PFSENSE_MATCH.replace('|', "\\|")));
        says(
            ROUTERS_MD,
            &format!(
                "{OPNSENSE_PLACE}: Service \"Custom\", Protocol\n\"DynDNS 2\", Server `ddns.example.com`, Username, Password, Hostname(s)."
            ),
        );
        says(ROUTERS_MD, &format!("{UNIFI_PLACE}: Service `custom`, Hostname"));
        says(ROUTERS_MD, &format!("| Server | `{UNIFI_SERVER}` |"));
        says(ROUTERS_MD, &format!("```\n{CURL_V4}\n{CURL_V6}\n```"));
        // The IPv4 section of /etc/config/ddns, indented in the text, and what the IPv6 one
        // changes.
        let indented: String = OPENWRT_SECTION.lines().map(|l| format!("    {l}\n")).collect();
        says(OPENWRT_TXT, &indented);
        says(OPENWRT_TXT, "a second section with `option use_ipv6 '1'`, `option ip_network 'wan6'`,");
        says(OPENWRT_TXT, "`option interface 'wan6'` and the same update_url");
        // The file recipes fill in the anchors they replace.
        for anchor in ["login=alice", "password='secret'", "server=ddns.example.com", "ssl=yes", "# Dual stack"] {
            says(DDCLIENT_CONF, anchor);
        }
        for anchor in ["username    = alice", "password    = \"secret\"", "ddns-server = ddns.example.com"] {
            says(INADYN_CONF, anchor);
        }
        for anchor in
            ["ssl         = true", "# IPv4:", "# IPv6:", "# IPv6 sections", "{ \"home.dyn.example.com\", \"nas"]
        {
            says(INADYN_CONF, anchor);
        }
    }

    /// For the documents' own server and hostname, each recipe is the document's text with
    /// only the user name (the hostname, with a token) and the password (the token) replaced.
    #[test]
    fn filled_in_with_the_documents_values_they_are_the_documents() {
        let fqdn = "home.dyn.example.com";
        let all = recipes(&target("https://ddns.example.com", fqdn, Families::BOTH)).expect("recipes");
        let ddclient = DDCLIENT_CONF
            .replace("alice", fqdn)
            .replace("'secret'", &format!("'{TOKEN}'"))
            .replace("home.dyn.example.com,nas.dyn.example.com", fqdn);
        assert_eq!(text(&all, "ddclient"), ddclient);
        let inadyn = INADYN_CONF
            .replace("alice", fqdn)
            .replace("\"secret\"", &format!("\"{TOKEN}\""))
            .replace("{ \"home.dyn.example.com\", \"nas.dyn.example.com\" }", &format!("\"{fqdn}\""));
        assert_eq!(text(&all, "inadyn"), inadyn);
        let fritz = recipe(&all, "AVM Fritz!Box");
        assert_eq!(value(&fritz, "Update URL"), FRITZ_URL);
        assert_eq!((value(&fritz, "User name"), value(&fritz, "Password")), (fqdn.to_owned(), TOKEN.to_owned()));
        assert_eq!(value(&recipe(&all, "pfSense"), "Update URL"), PFSENSE_URL);
        assert_eq!(value(&recipe(&all, "UniFi OS (inadyn)"), "Server"), UNIFI_SERVER);
        assert_eq!(value(&recipe(&all, "OpenWrt (ddns-scripts)"), "Custom update-URL"), OPENWRT_URL);
        let openwrt_v4 =
            OPENWRT_SECTION.replace("'alice'", &format!("'{fqdn}'")).replace("'secret'", &format!("'{TOKEN}'"));
        assert!(
            text(&all, "OpenWrt (ddns-scripts)").starts_with(&openwrt_v4),
            "{}",
            text(&all, "OpenWrt (ddns-scripts)")
        );
        assert_eq!(text(&all, "curl"), format!("{CURL_V4}\n{CURL_V6}\n").replace("TOKEN", TOKEN));
    }

    /// Another server (with a port) and a hostname that holds an example value: every example
    /// value is gone, and what was filled in is not replaced again.
    #[test]
    fn filled_in_for_a_host() {
        let fqdn = "alice.home.example.org";
        let all = recipes(&target("https://dyn.example.net:8443/", fqdn, Families::BOTH)).expect("recipes");
        assert_eq!(all.len(), 8);
        for r in &all {
            let everything = format!("{} {:?}", r.text.clone().unwrap_or_default(), r.fields);
            for example in ["ddns.example.com", "home.dyn.example.com", "nas.dyn", "secret", "TOKEN", "8443//"] {
                assert!(!everything.contains(example), "{}: {example} in {everything}", r.client);
            }
            assert!(!everything.replace(fqdn, "").contains("alice"), "{}: {everything}", r.client);
        }
        let fritz = recipe(&all, "AVM Fritz!Box");
        assert_eq!(
            value(&fritz, "Update URL"),
            "https://dyn.example.net:8443/nic/update?hostname=<domain>&myip=<ipaddr>,<ip6addr>&ip6lanprefix=<ip6lanprefix>"
        );
        assert_eq!(value(&fritz, "Domain name"), fqdn);
        let ddclient = text(&all, "ddclient");
        for line in [
            "server=dyn.example.net:8443\n",
            "login=alice.home.example.org\n",
            "ssl=yes ",
            "\nalice.home.example.org\n",
        ] {
            says(&ddclient, line);
        }
        says(&ddclient, &format!("\npassword='{TOKEN}'\n"));
        says(&ddclient, "# Dual stack");
        let inadyn = text(&all, "inadyn");
        assert_eq!(inadyn.matches("hostname    = \"alice.home.example.org\"\n").count(), 2, "{inadyn}");
        assert_eq!(inadyn.matches(&format!("password    = \"{TOKEN}\"\n")).count(), 2, "{inadyn}");
        assert_eq!(inadyn.matches("ddns-server = dyn.example.net:8443\n").count(), 2, "{inadyn}");
        let openwrt = text(&all, "OpenWrt (ddns-scripts)");
        says(
            &openwrt,
            "option update_url 'https://[USERNAME]:[PASSWORD]@dyn.example.net:8443/nic/update?hostname=[DOMAIN]&myip=[IP]'",
        );
        says(&openwrt, "config service 'ddns_cgi_v4'\n");
        says(&openwrt, "config service 'ddns_cgi_v6'\n    option use_ipv6 '1'\n");
        assert_eq!(openwrt.matches("option interface 'wan6'").count(), 1, "{openwrt}");
        assert_eq!(openwrt.matches(&format!("option password '{TOKEN}'")).count(), 2, "{openwrt}");
        let pfsense = recipe(&all, "pfSense");
        assert_eq!(
            value(&pfsense, "Update URL"),
            "https://dyn.example.net:8443/nic/update?hostname=alice.home.example.org&myip=%IP%"
        );
        assert_eq!(value(&pfsense, "Service Type"), "Custom, and a second entry with Custom (v6)");
        assert_eq!(value(&recipe(&all, "OPNsense"), "Server"), "dyn.example.net:8443");
        assert_eq!(
            value(&recipe(&all, "UniFi OS (inadyn)"), "Server"),
            "dyn.example.net:8443/nic/update?hostname=%h&myip=%i"
        );
        assert_eq!(
            text(&all, "curl"),
            format!(
                "curl -4 -fsS -u alice.home.example.org:{TOKEN} 'https://dyn.example.net:8443/nic/update?hostname=alice.home.example.org'\n\
                 curl -6 -fsS -u alice.home.example.org:{TOKEN} 'https://dyn.example.net:8443/nic/update?hostname=alice.home.example.org'\n"
            )
        );
    }

    /// A host of one family gets the settings of that family only.
    #[test]
    fn one_family() {
        let v4 = recipes(&target("https://ddns.example.com", "h.example.org", V4)).expect("recipes");
        assert_eq!(
            value(&recipe(&v4, "AVM Fritz!Box"), "Update URL"),
            "https://ddns.example.com/nic/update?hostname=<domain>&myip=<ipaddr>"
        );
        let openwrt = text(&v4, "OpenWrt (ddns-scripts)");
        assert!(!openwrt.contains("ddns_cgi_v6") && openwrt.contains("ddns_cgi_v4"), "{openwrt}");
        let inadyn = text(&v4, "inadyn");
        assert!(!inadyn.contains("ddns-cgi-v6") && !inadyn.contains("allow-ipv6"), "{inadyn}");
        assert!(inadyn.contains("custom ddns-cgi-v4 {") && inadyn.ends_with("}\n"), "{inadyn}");
        let ddclient = text(&v4, "ddclient");
        assert!(!ddclient.contains("Dual stack") && ddclient.ends_with("\nh.example.org\n"), "{ddclient}");
        assert_eq!(text(&v4, "curl").lines().count(), 1);
        assert!(text(&v4, "curl").starts_with("curl -4 "));
        assert_eq!(value(&recipe(&v4, "pfSense"), "Service Type"), "Custom");

        let v6 = recipes(&target("https://ddns.example.com", "h.example.org", V6)).expect("recipes");
        assert_eq!(
            value(&recipe(&v6, "AVM Fritz!Box"), "Update URL"),
            "https://ddns.example.com/nic/update?hostname=<domain>&myip=<ip6addr>&ip6lanprefix=<ip6lanprefix>"
        );
        let openwrt = text(&v6, "OpenWrt (ddns-scripts)");
        assert!(openwrt.contains("ddns_cgi_v6") && !openwrt.contains("ddns_cgi_v4"), "{openwrt}");
        let inadyn = text(&v6, "inadyn");
        assert!(inadyn.contains("custom ddns-cgi-v6 {") && !inadyn.contains("ddns-cgi-v4"), "{inadyn}");
        assert!(inadyn.contains("allow-ipv6 = true"), "{inadyn}");
        assert!(text(&v6, "curl").starts_with("curl -6 ") && text(&v6, "curl").lines().count() == 1);
        assert_eq!(value(&recipe(&v6, "pfSense"), "Service Type"), "Custom (v6)");
    }

    /// A console served over plain HTTP gets settings without TLS, else the clients would try
    /// TLS and fail.
    #[test]
    fn plain_http() {
        let all = recipes(&target("http://192.0.2.7:8080", "h.example.org", Families::BOTH)).expect("recipes");
        says(&text(&all, "ddclient"), "\nssl=no ");
        assert_eq!(text(&all, "inadyn").matches("ssl         = false\n").count(), 2);
        says(&text(&all, "OpenWrt (ddns-scripts)"), "option use_https '0'");
        says(&text(&all, "OpenWrt (ddns-scripts)"), "'http://[USERNAME]:[PASSWORD]@192.0.2.7:8080/nic/update?");
        assert!(value(&recipe(&all, "AVM Fritz!Box"), "Update URL").starts_with("http://192.0.2.7:8080/nic/update?"));
    }

    #[test]
    fn refused_values() {
        for base in [
            "ftp://x.example",
            "https://x.example/path",
            "https://a b",
            "https://",
            "x.example",
            "https://a'b",
            "https://a\nb",
        ] {
            let err = recipes(&target(base, "h.example.org", Families::BOTH)).expect_err(base);
            assert_eq!(err, RecipeError::Base(base.to_owned()));
            assert!(err.to_string().contains(&format!("`{base}`")), "{err}");
        }
        for fqdn in ["", "h.example.org\nlogin=x", "h'x", "h x"] {
            let err = recipes(&target("https://ddns.example.com", fqdn, Families::BOTH)).expect_err(fqdn);
            assert_eq!(err, RecipeError::Hostname(fqdn.to_owned()));
        }
        let wrong =
            Target { token: "secret-password", ..target("https://ddns.example.com", "h.example.org", Families::BOTH) };
        assert_eq!(recipes(&wrong), Err(RecipeError::Token));
        assert!(!RecipeError::Token.to_string().contains("secret-password"));
    }

    #[test]
    fn replace_once_does_not_replace_what_it_put_in() {
        let pairs = [("alice", "bob alice"), ("bob", "carol")];
        assert_eq!(replace_once("alice and bob", &pairs), "bob alice and carol");
        assert_eq!(replace_once("", &pairs), "");
        assert_eq!(replace_once("é alice é", &pairs), "é bob alice é");
    }
}
