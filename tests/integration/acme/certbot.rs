//! The real thing, all on loopback: Debian's `pebble` ACME server validates DNS-01 against
//! the DNS server ddns-cgi updates, and certbot with the `certbot-dns-acmedns` plugin obtains
//! certificates through ddns-cgi behind nginx: one for a name and its wildcard against a
//! single Knot, and the case, five names and their wildcards at once through one
//! credential, against a Knot hidden primary whose Knot secondary pebble asks, with `[acme]
//! wait` and certbot's propagation wait at 0. That the certificate comes only because the
//! answers waited is shown by the same run without `[acme] wait` failing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{ACME, add_account, add_cname, txt};
use crate::util::dnsserver::{Replication, free_port, require_program};
use crate::util::web::{Front, WebServer, curl};
use crate::util::{DnsKind, DnsServer, TempDir, TsigKey, World, ZONE};

/// certbot with the acme-dns plugin, from `DDNS_CERTBOT` or the virtual environment
/// `scripts/install-deps.sh` makes; `None` (or a panic under `DDNS_REQUIRE_SERVERS=1`) when
/// absent.
fn certbot() -> Option<PathBuf> {
    let from_env = std::env::var_os("DDNS_CERTBOT").map(PathBuf::from);
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .map(|c| c.join("ddns-cgi/certbot-venv/bin/certbot"));
    if let Some(p) = from_env.into_iter().chain(cache).find(|p| p.is_file()) {
        return Some(p);
    }
    require_program("certbot-with-acmedns", "certbot and certbot-dns-acmedns: run scripts/install-deps.sh")
}

/// Pebble with a TLS certificate made here (Debian's package ships none), validating DNS-01
/// against `dns`; killed on drop.
struct Pebble {
    child: Child,
    port: u16,
    ca: PathBuf,
    log: PathBuf,
}

impl Pebble {
    fn start(dir: &Path, dns: SocketAddr) -> Option<Pebble> {
        let pebble = require_program("pebble", "pebble")?;
        let openssl = require_program("openssl", "openssl")?;
        let (cert, key) = (dir.join("pebble-cert.pem"), dir.join("pebble-key.pem"));
        let status = Command::new(openssl)
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("run openssl");
        assert!(status.success(), "openssl req failed");
        let port = free_port();
        let config = serde_json::json!({ "pebble": {
            "listenAddress": format!("127.0.0.1:{port}"),
            "managementListenAddress": format!("127.0.0.1:{}", free_port()),
            "certificate": cert, "privateKey": key,
            "httpPort": free_port(), "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        std::fs::write(dir.join("pebble.json"), config.to_string()).expect("write pebble config");
        let log = dir.join("pebble.log");
        let out = std::fs::File::create(&log).expect("pebble log");
        let child = Command::new(pebble)
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .arg("-dnsserver")
            .arg(dns.to_string())
            // Answer at once, and never reject a nonce: the test wants the protocol, not the
            // chaos pebble adds by default to harden clients.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(Stdio::from(out.try_clone().expect("clone")))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start pebble");
        let mut p = Pebble { child, port, ca: cert, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pebble did not listen:\n{}", p.log_text());
            assert!(matches!(p.child.try_wait(), Ok(None)), "pebble exited:\n{}", p.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(p)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn certbot_gets_a_wildcard_certificate_from_pebble_through_nginx() {
    let Some(certbot) = certbot() else { return };
    let mut w = world!(super::acme_world(""));
    let name = "cert.dyn.example.test";
    let account = add_account(&w, name, &[]);
    add_cname(&mut w, &format!("_acme-challenge.{name}"), &account.fulldomain);
    let domains = [name.to_owned(), format!("*.{name}")];
    let web = WebServer::start(&w, Front::NginxFcgiwrap).expect("nginx");
    let Some(run) = certbot_run("wildcard", &w, &web, &certbot, &account.json, &domains, w.dns.addr(), 1) else {
        return;
    };
    assert!(run.success, "certbot failed\n{}", run.logs);
    // Both challenges were answered at the one name, through the CNAME.
    assert_eq!(txt(&w, &account.fulldomain).len(), 2, "{}", run.logs);
    assert_eq!(run.san, sorted_names(&domains), "{}", run.logs);
}

/// The case: one certificate for five names and their wildcards, ten challenges at
/// once, all through one credential (`acme add NAME --name ...`) with `[acme] values = 10`,
/// against a Knot hidden primary and its Knot secondary, which pebble asks and `[dns]
/// confirm` lists; certbot waits 0 seconds for propagation. The secondary is paused when
/// the updates arrive: without `[acme] wait` ddns-cgi answers at once, pebble asks the
/// paused secondary and certbot fails; with it each answer comes once the secondary serves
/// the value, and the certificate is issued.
///
/// Each domain has its own challenge name (`--name` gives each a subdomain), two values at
/// each: ten values at one name cannot reach pebble. Its resolver (miekg/dns, as pebble 2.4
/// uses it) asks over UDP without EDNS and reads at most 512 bytes, never retrying over TCP,
/// and ten 43-character TXT records alone take 560 bytes of answer; Knot truncates the
/// answer (TC, no TXT records) and pebble reports "No TXT records found". The truncation,
/// and the whole answer over EDNS or TCP, are shown by `values::more_values_each_with_its_lifetime`.
#[test]
fn certbot_gets_five_names_and_their_wildcards_through_one_credential_from_a_waited_for_secondary() {
    let Some(certbot) = certbot() else { return };
    let replication = Replication::new();
    let key = TsigKey::generate("ddns-key.", "hmac-sha256");
    let dns = world!(DnsServer::start_hidden_primary(DnsKind::Knot, ZONE, &key, &replication));
    let dir = TempDir::new("acme-replicas");
    let (config, db) = (dir.path().join("config.toml"), dir.path().join("ddns.db"));
    let mut w = World {
        dir,
        dns,
        key,
        config,
        db,
        pg: crate::util::pg::world_database(),
        mariadb: crate::util::mariadb::world_database(),
    };
    w.write_config(&format!("log_requests = true\n{ACME}values = 10\n"));
    w.admin(&["init-db"]).success();

    let names: Vec<String> = (1..=5).map(|i| format!("site{i}.dyn.example.test")).collect();
    let further: Vec<&str> = names[1..].iter().flat_map(|n| ["--name", n.as_str()]).collect();
    let account = add_account(&w, &names[0], &further);
    // The storage certbot-dns-acmedns reads: one entry per domain, one credential.
    let storage: serde_json::Value = serde_json::from_str(&account.json).expect("json");
    let fulldomain = |n: &str| storage[n]["fulldomain"].as_str().expect("fulldomain").to_owned();
    // The operator's CNAMEs go into the primary's zone file before the secondary first
    // transfers the zone (the serial stays; a secondary that had it would not ask again).
    for name in &names {
        assert_eq!(storage[name.as_str()]["username"].as_str(), Some(account.username.as_str()));
        add_cname(&mut w, &format!("_acme-challenge.{name}"), &fulldomain(name));
    }
    let ns1 = world!(DnsServer::start_secondary(DnsKind::Knot, &w.dns, &replication, 0));
    let cname = format!("_acme-challenge.{}", names[4]);
    assert_eq!(ns1.query(&cname, "CNAME"), [format!("{}.", fulldomain(&names[4]))]);
    let ns1_addr = ns1.addr();
    // While the secondary is paused, Knot holds each update until its NOTIFY to it has timed
    // out (about two seconds; a zone's events run one at a time): the update's own timeout
    // must outlast that.
    w.edit_config(|text| {
        text.replacen(
            "timeout_ms = 1500\n",
            &format!("timeout_ms = 10000\nconfirm = [\"{ns1_addr}\"]\nconfirm_timeout_ms = 20000\n"),
            1,
        )
    });
    let domains: Vec<String> = names.iter().flat_map(|n| [n.clone(), format!("*.{n}")]).collect();
    let web = WebServer::start(&w, Front::NginxFcgiwrap).expect("nginx");
    let values_at =
        |server: &DnsServer| -> usize { names.iter().map(|n| server.query(&fulldomain(n), "TXT").len()).sum() };

    // Without `[acme] wait`: the answers come while the secondary is paused, pebble's
    // queries to it time out, and no certificate is issued.
    ns1.pause();
    let Some(run) = certbot_run("at-once", &w, &web, &certbot, &account.json, &domains, ns1_addr, 0) else {
        return;
    };
    ns1.resume();
    assert!(!run.success, "a certificate without waiting for the secondary\n{}", run.logs);
    assert!(run.logs.contains("Error retrieving TXT records"), "{}", run.logs);
    assert_eq!(values_at(&w.dns), 10, "{}", run.logs);

    // With it: the secondary is paused as the updates arrive and resumed a second after the
    // first value reached the primary; each answer waits for the secondary to serve its
    // value, so pebble, asked with no sleep, finds all ten.
    w.edit_config(|text| text.replacen("values = 10\n", "values = 10\nwait = true\n", 1));
    ns1.pause();
    let resumed = std::sync::Mutex::new(None::<Instant>);
    let run = std::thread::scope(|s| {
        s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(60);
            while values_at(&w.dns) <= 10 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
            let arrived = values_at(&w.dns) > 10;
            std::thread::sleep(Duration::from_secs(1));
            *resumed.lock().expect("lock") = arrived.then(Instant::now);
            ns1.resume();
        });
        certbot_run("waited", &w, &web, &certbot, &account.json, &domains, ns1_addr, 0)
    });
    let Some(run) = run else { return };
    assert!(resumed.lock().expect("lock").is_some_and(|t| t <= run.finished), "no value arrived\n{}", run.logs);
    assert!(run.success, "certbot failed\n{}", run.logs);
    assert_eq!(run.san, sorted_names(&domains), "{}", run.logs);
    // Ten updates, each answered once the secondary served it.
    let waited = run.logs.matches("every secondary serves serial").count();
    assert!(waited >= 10, "{waited} updates waited for the secondary\n{}", run.logs);
    for name in &names {
        assert_eq!(ns1.query(&fulldomain(name), "TXT").len(), 4, "{name}\n{}", run.logs);
    }
}

fn sorted_names(names: &[String]) -> Vec<String> {
    let mut v = names.to_vec();
    v.sort();
    v
}

/// What a certbot run gave: whether it succeeded, the sorted names of the certificate it
/// got, when it ended, and every log for a failing assertion.
struct CertbotRun {
    success: bool,
    san: Vec<String>,
    finished: Instant,
    logs: String,
}

/// certbot with the acme-dns plugin against a new pebble that asks `dns`, through ddns-cgi
/// behind `web`, for `domains` with the account storage `storage`, waiting `propagation`
/// seconds after the updates; its files in `certbot-LABEL`; `None` after a loud skip.
#[allow(clippy::too_many_arguments)]
fn certbot_run(
    label: &str,
    w: &World,
    web: &WebServer,
    certbot: &Path,
    storage: &str,
    domains: &[String],
    dns: SocketAddr,
    propagation: u32,
) -> Option<CertbotRun> {
    // The API answers through the shipped nginx route.
    let health = curl(&["-s", "-i", &web.url("/acme/health")]);
    assert_eq!(health.status, 200, "{}", web.logs());
    let dir = w.dir.path().join(format!("certbot-{label}"));
    std::fs::create_dir_all(&dir).expect("certbot dir");
    let pebble = Pebble::start(&dir, dns)?;

    let registration = dir.join("acmedns.json");
    std::fs::write(&registration, storage).expect("write registration");
    let credentials = dir.join("acmedns.ini");
    std::fs::write(
        &credentials,
        format!(
            "dns_acmedns_api_url = {}\ndns_acmedns_registration_file = {}\n",
            web.url("/acme"),
            registration.display()
        ),
    )
    .expect("write credentials");
    // certbot refuses credentials that others can read.
    for f in [&registration, &credentials] {
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
        std::fs::set_permissions(f, mode).expect("chmod 600");
    }
    let mut cmd = Command::new(certbot);
    cmd.args(["certonly", "--non-interactive", "--agree-tos", "--register-unsafely-without-email"])
        .args(["--server", &format!("https://127.0.0.1:{}/dir", pebble.port)])
        .arg("--config-dir")
        .arg(dir.join("config"))
        .arg("--work-dir")
        .arg(dir.join("work"))
        .arg("--logs-dir")
        .arg(dir.join("logs"))
        .args(["--authenticator", "dns-acmedns"])
        .args(["--dns-acmedns-propagation-seconds", &propagation.to_string()])
        .arg("--dns-acmedns-credentials")
        .arg(&credentials)
        .args(["--cert-name", "test"])
        .env("REQUESTS_CA_BUNDLE", &pebble.ca);
    for d in domains {
        cmd.args(["-d", d]);
    }
    let out = cmd.output().expect("run certbot");
    let finished = Instant::now();
    let logs = format!(
        "certbot stdout:\n{}\nstderr:\n{}\npebble:\n{}\nweb:\n{}\nknot:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        pebble.log_text(),
        web.logs(),
        w.dns.log()
    );
    let cert = dir.join("config/live/test/cert.pem");
    let san = Command::new("openssl")
        .args(["x509", "-noout", "-ext", "subjectAltName", "-in"])
        .arg(&cert)
        .output()
        .expect("openssl x509");
    let san = String::from_utf8_lossy(&san.stdout);
    let mut names: Vec<String> = san
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter_map(|s| s.strip_prefix("DNS:"))
        .map(str::to_owned)
        .collect();
    names.sort();
    Some(CertbotRun { success: out.status.success(), san: names, finished, logs })
}
