//! Signed zones for the DNSSEC tests: a server that signs its zones and every update itself,
//! as the commented DNSSEC variants of the shipped snippets set it up (Knot `dnssec-signing:
//! on`, BIND `dnssec-policy default; inline-signing yes;`, PowerDNS `pdnsutil secure-zone`), or one that serves a zone file
//! signed once by hand (`dnssec-signzone`) with signatures that have expired or with NSEC3
//! opt-out, for `check`'s verdicts. Answers are validated with `delv` given the zone's own trust anchor: the
//! KSK the server publishes, as the admin would hand its DS to the parent. Like the rest of
//! the harness, it knows nothing of ddns-cgi.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::{DnsKind, DnsServer, TsigKey, find_program, require_program};

/// How a test server's zones are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    Unsigned,
    /// The server signs the zones and each update, with keys it makes (the snippets' DNSSEC
    /// variants).
    Live,
    /// The zone file is signed by hand with signatures that expired an hour ago; the server
    /// serves it as it is and signs nothing.
    Expired,
    /// The zone file is signed by hand, valid for 30 days, with NSEC3 and opt-out.
    OptOut,
}

impl Signing {
    /// The lines of the shipped snippet to uncomment (`(commented, active)`).
    pub(super) fn uncomment(self, kind: DnsKind) -> Vec<(&'static str, &'static str)> {
        match (self, kind) {
            (Signing::Live, DnsKind::Knot) => vec![("    # dnssec-signing: on", "    dnssec-signing: on")],
            (Signing::Live, DnsKind::Bind) => vec![
                ("\t// dnssec-policy default;", "\tdnssec-policy default;"),
                ("\t// inline-signing yes;", "\tinline-signing yes;"),
            ],
            (Signing::Live, DnsKind::PowerDns) => vec![
                ("# pdnsutil secure-zone dyn.example.com", "pdnsutil secure-zone dyn.example.com"),
                ("# pdnsutil rectify-zone dyn.example.com", "pdnsutil rectify-zone dyn.example.com"),
            ],
            _ => Vec::new(),
        }
    }

    /// BIND's worker threads (`named -n`). One is enough for the tests, but a lone thread
    /// answers a query only after it has signed the update before it, which hides how BIND's
    /// inline signing lags behind an update; a signing server gets several, as in production.
    pub(super) fn bind_threads(self) -> &'static str {
        match self {
            Signing::Live => "4",
            Signing::Unsigned | Signing::Expired | Signing::OptOut => "1",
        }
    }

    /// The zone file the server starts from: the shipped one, signed here for `Expired`.
    pub(super) fn zone_text(self, shipped: &str, zone: &str, dir: &Path) -> String {
        match self {
            Signing::Unsigned | Signing::Live => shipped.to_owned(),
            Signing::Expired | Signing::OptOut => sign_by_hand(self, shipped, zone, dir),
        }
    }
}

/// What `delv` made of an answer, every part of it validated from the zone's trust anchor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Validated {
    /// The rrset's rdata, sorted (`; fully validated`).
    Records(Vec<String>),
    /// A validated proof that the name does not exist.
    NxDomain,
    /// A validated proof that the name exists without records of the type.
    NoData,
}

/// Runs `program` with `args`; its stdout, or a panic with what it printed.
fn run(program: &str, package: &str, args: &[&str], cwd: &Path) -> String {
    let path = find_program(program).unwrap_or_else(|| panic!("`{program}` missing: install `{package}`"));
    let out = Command::new(path).args(args).current_dir(cwd).output().expect("run signing tool");
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `shipped` (for `zone`) signed with a fresh KSK and ZSK: for `Expired` with NSEC and
/// signatures valid from two hours ago until one hour ago, for `OptOut` with NSEC3 opt-out
/// and signatures valid for 30 days; the keys stay in `dir/presign`.
fn sign_by_hand(signing: Signing, shipped: &str, zone: &str, dir: &Path) -> String {
    let keys = dir.join("presign");
    std::fs::create_dir_all(&keys).expect("create presign dir");
    let unsigned = keys.join(format!("{zone}.zone"));
    std::fs::write(&unsigned, shipped).expect("write zone to sign");
    for extra in [&["-f", "KSK"][..], &[]] {
        let mut args = vec!["-K", ".", "-a", "ECDSAP256SHA256", "-q"];
        args.extend_from_slice(extra);
        args.push(zone);
        run("dnssec-keygen", "bind9-utils", &args, &keys);
    }
    let now = super::super::epoch();
    let (start, end) =
        if signing == Signing::Expired { (now - 7200, now - 3600) } else { (now - 3600, now + 30 * 86_400) };
    let (start, end) = (start.to_string(), end.to_string());
    let signed = format!("{zone}.signed");
    let unsigned = format!("{zone}.zone");
    // -P: no verification of the result, which would refuse the expired signatures.
    let mut args = vec!["-K", ".", "-S", "-P", "-q", "-s", &start, "-e", &end, "-o", zone, "-f", &signed];
    if signing == Signing::OptOut {
        args.extend(["-3", "-", "-A"]);
    }
    args.push(&unsigned);
    run("dnssec-signzone", "bind9-utils", &args, &keys);
    std::fs::read_to_string(keys.join(signed)).expect("read signed zone")
}

impl DnsServer {
    /// A server of `kind` that signs each of `zones` and every update (the shipped snippet's
    /// DNSSEC variant), once its zones are signed; `None` when the server or `delv` is
    /// missing and skipping is allowed.
    pub fn start_signed(kind: DnsKind, zones: &[&str], key: &TsigKey) -> Option<DnsServer> {
        require_program("delv", "bind9-dnsutils")?;
        let server = DnsServer::start_with(kind, zones, key, false, Signing::Live)?;
        server.wait_signed();
        Some(server)
    }

    /// A server of `kind` serving `zones` signed by hand (`Expired` or `OptOut`), signing
    /// nothing itself.
    pub fn start_signed_by_hand(kind: DnsKind, zones: &[&str], key: &TsigKey, signing: Signing) -> Option<DnsServer> {
        assert!(matches!(signing, Signing::Expired | Signing::OptOut), "not signed by hand: {signing:?}");
        require_program("dnssec-signzone", "bind9-utils")?;
        require_program("delv", "bind9-dnsutils")?;
        DnsServer::start_with(kind, zones, key, false, signing)
    }

    /// Waits until every zone's SOA comes with its RRSIG and a KSK is published.
    fn wait_signed(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for zone in &self.zones {
            loop {
                let soa = self.dig(&[&format!("{zone}."), "SOA", "+dnssec", "+noall", "+answer"]).unwrap_or_default();
                if soa.contains("RRSIG") && !self.ksk(zone).is_empty() {
                    break;
                }
                assert!(Instant::now() < deadline, "{zone} not signed within 30 s\n{}", self.log());
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }

    /// The zone's DNSKEY records with the SEP flag (257), as `257 3 ALG KEY`.
    fn ksk(&self, zone: &str) -> Vec<String> {
        let out = self.dig(&[&format!("{zone}."), "DNSKEY", "+noall", "+answer"]).unwrap_or_default();
        out.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() >= 8 && f[3] == "DNSKEY" && f[4] == "257")
            .map(|f| format!("{} {} {} \"{}\"", f[4], f[5], f[6], f[7..].concat()))
            .collect()
    }

    /// The DS records (SHA-256) of `zone`'s KSKs as its parent would publish them, rdata only
    /// (`TAG ALG 2 HEX`), made by `dnssec-dsfromkey` from the DNSKEYs the server serves.
    pub fn ds(&self, zone: &str) -> Vec<String> {
        let zone = zone.trim_end_matches('.');
        let keys = self.dig(&[&format!("{zone}."), "DNSKEY", "+noall", "+answer"]).expect("DNSKEY query");
        let file = self.dir.join(format!("{zone}.dnskey"));
        std::fs::write(&file, keys).expect("write DNSKEY set");
        let file = file.display().to_string();
        let out = run("dnssec-dsfromkey", "bind9-utils", &["-2", "-f", &file, &format!("{zone}.")], &self.dir);
        out.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .filter(|f| f.len() >= 7 && f[2] == "DS")
            .map(|f| f[3..].join(" "))
            .collect()
    }

    /// The zone holding `fqdn` (the longest served zone that is a suffix of it).
    fn zone_of(&self, fqdn: &str) -> String {
        let fqdn = fqdn.trim_end_matches('.');
        self.zones
            .iter()
            .filter(|z| fqdn == z.as_str() || fqdn.ends_with(&format!(".{z}")))
            .max_by_key(|z| z.len())
            .unwrap_or_else(|| panic!("{fqdn} is in no zone of the server"))
            .clone()
    }

    /// `delv`'s verdict on `name`/`rtype`, asked of this server with the zone's KSK as the
    /// only trust anchor; panics unless the answer or the proof of its absence is fully
    /// validated.
    pub fn validated(&self, name: &str, rtype: &str) -> Validated {
        let out = self.delv(name, rtype);
        if out.starts_with("; fully validated") {
            let mut records: Vec<String> = out
                .lines()
                .filter(|l| !l.starts_with(';'))
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f.len() >= 5 && f[3].eq_ignore_ascii_case(rtype)).then(|| f[4..].join(" "))
                })
                .collect();
            records.sort();
            return Validated::Records(records);
        }
        if out.starts_with("; negative response, fully validated") {
            if out.contains(";-$NXDOMAIN") {
                return Validated::NxDomain;
            }
            if out.contains(";-$NXRRSET") {
                return Validated::NoData;
            }
        }
        panic!("delv did not validate {name} {rtype}:\n{out}\nserver log:\n{}", self.log());
    }

    /// `delv`'s output (stdout and stderr) for `name`/`rtype` against this server, with the
    /// zone's KSK as the trust anchor.
    pub fn delv(&self, name: &str, rtype: &str) -> String {
        let zone = self.zone_of(name);
        let anchors = self.dir.join(format!("{zone}.anchors"));
        let keys = self.ksk(&zone);
        assert!(!keys.is_empty(), "{zone} publishes no KSK\n{}", self.log());
        let text: String = keys.iter().map(|k| format!("  \"{zone}.\" static-key {k};\n")).collect();
        std::fs::write(&anchors, format!("trust-anchors {{\n{text}}};\n")).expect("write trust anchors");
        let program = find_program("delv").expect("checked at start");
        let fqdn = if name.ends_with('.') { name.to_owned() } else { format!("{name}.") };
        let out = super::super::netns::command_in(self.netns.as_deref(), program)
            .arg("@127.0.0.1")
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-a")
            .arg(&anchors)
            .arg(format!("+root={zone}."))
            .args([&fqdn, rtype])
            .output()
            .expect("run delv");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }
}
