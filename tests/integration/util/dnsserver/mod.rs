//! Real authoritative DNS servers for tests: Knot (`knotd`), BIND (`named`) or PowerDNS
//! (`pdns_server`, [`powerdns`]) started on a random free loopback port in a temporary
//! directory, run as the `knot`/`bind`/`pdns` user when the tests run as root, and killed on
//! drop. The key, the update policy, the zones and the zone file are the snippets shipped in
//! `contrib/knot/`, `contrib/bind/` and `contrib/powerdns/`, rendered with the test's zone
//! names, key and paths; only the server-wide settings (port, directory, log) are the
//! harness's. Queries go through the real `kdig`/`dig` clients. This module knows nothing of
//! ddns-cgi.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod powerdns;
mod replication;
mod signed;

pub use replication::*;
pub use signed::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsKind {
    Knot,
    Bind,
    PowerDns,
}

impl DnsKind {
    fn binary(self) -> &'static str {
        match self {
            DnsKind::Knot => "knotd",
            DnsKind::Bind => "named",
            DnsKind::PowerDns => "pdns_server",
        }
    }

    fn package(self) -> &'static str {
        match self {
            DnsKind::Knot => "knot",
            DnsKind::Bind => "bind9",
            DnsKind::PowerDns => "pdns-server",
        }
    }

    fn user(self) -> &'static str {
        match self {
            DnsKind::Knot => "knot",
            DnsKind::Bind => "bind",
            DnsKind::PowerDns => "pdns",
        }
    }
}

/// A TSIG key as both servers and ddns-cgi take it.
#[derive(Clone, Debug)]
pub struct TsigKey {
    pub name: String,
    pub algorithm: String,
    pub secret_b64: String,
}

impl TsigKey {
    pub fn generate(name: &str, algorithm: &str) -> TsigKey {
        let mut bytes = [0u8; 32];
        use std::io::Read as _;
        std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).expect("read /dev/urandom");
        TsigKey { name: name.to_owned(), algorithm: algorithm.to_owned(), secret_b64: base64_bytes(&bytes) }
    }

    /// `algorithm:name:secret`, the form of `nsupdate -y` and ddns-cgi's `tsig_key`.
    pub fn line(&self) -> String {
        format!("{}:{}:{}", self.algorithm, self.name, self.secret_b64)
    }
}

pub fn base64_bytes(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in b.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if c.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

/// Finds a program on PATH, also looking in the sbin directories a non-root PATH may lack.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The path of `program`. When it is missing the test fails naming `package`, or, only under
/// the opt-out `DDNS_SKIP_SERVERS=1`, skips visibly with `None` (see `util::skip`).
#[track_caller]
pub fn require_program(program: &str, package: &str) -> Option<PathBuf> {
    // Read the policy first: an invalid variable fails even when everything is installed.
    super::skip::policy();
    find_program(program).or_else(|| super::skip::missing(program, package))
}

/// A port free on 127.0.0.1 for both UDP and TCP at the time of the call.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
        let port = tcp.local_addr().expect("addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

pub fn is_root() -> bool {
    // The effective uid without libc: /proc/self/status has "Uid: real effective ...".
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)).map(|u| u == "0")
        })
        .unwrap_or(false)
}

/// The DNS-server files shipped for administrators (`contrib/knot/`, `contrib/bind/`): the
/// servers here run these very files, with the harness's zone names, key and paths put in.
const KNOT_SNIPPET: &str = include_str!("../../../../contrib/knot/ddns-cgi.conf");
const KNOT_ZONE: &str = include_str!("../../../../contrib/knot/dyn.example.com.zone");
const BIND_SNIPPET: &str = include_str!("../../../../contrib/bind/named.conf.ddns-cgi");
const BIND_KEY: &str = include_str!("../../../../contrib/bind/ddns-key.key");
const BIND_ZONE: &str = include_str!("../../../../contrib/bind/dyn.example.com.zone");
/// The example values in those files.
const SHIPPED_ZONE: &str = "dyn.example.com";
const SHIPPED_KEY: &str = "ddns-key";
const SHIPPED_ALGORITHM: &str = "hmac-sha256";
const SHIPPED_SECRET: &str = "REPLACE-WITH-BASE64-SECRET";

/// `text` with each `(from, to)` replaced; every `from` must occur, so a shipped file that
/// loses a value the harness fills in fails here instead of starting a different server.
fn render(text: &str, replacements: &[(&str, &str)]) -> String {
    assert_shipped(text, replacements);
    replace_all(text, replacements)
}

#[track_caller]
fn assert_shipped(text: &str, replacements: &[(&str, &str)]) {
    for (from, _) in replacements {
        assert!(text.contains(from), "a shipped DNS-server file no longer contains `{from}`:\n{text}");
    }
}

fn replace_all(text: &str, replacements: &[(&str, &str)]) -> String {
    replacements.iter().fold(text.to_owned(), |t, (from, to)| t.replace(from, to))
}

/// A running server.
pub struct DnsServer {
    kind: DnsKind,
    port: u16,
    dir: PathBuf,
    zones: Vec<String>,
    /// Grant updates of A records only (to provoke a policy refusal).
    a_only: bool,
    /// Whether and how the zones are signed (see [`signed`]).
    signing: Signing,
    child: Option<Child>,
    /// The network namespace the server runs in (`ip netns exec`), and its address there
    /// besides 127.0.0.1; see [`super::netns`].
    netns: Option<String>,
    also_listen: Option<Ipv4Addr>,
}

impl DnsServer {
    /// Starts a server of `kind` that is primary for each of `zones` (e.g. `dyn.example.test.`)
    /// and accepts updates signed with `key`. `None` only when the server is not installed and
    /// skipping is allowed (see [`require_program`]).
    pub fn start(kind: DnsKind, zones: &[&str], key: &TsigKey) -> Option<DnsServer> {
        DnsServer::start_with(kind, zones, key, false, Signing::Unsigned)
    }

    /// Like [`start`](Self::start), but the update policy grants A records only: an update of
    /// AAAA records is refused by policy (BIND `update-policy`, Knot `update-type`).
    pub fn start_a_only(kind: DnsKind, zones: &[&str], key: &TsigKey) -> Option<DnsServer> {
        DnsServer::start_with(kind, zones, key, true, Signing::Unsigned)
    }

    /// A fresh private directory for a server of `kind` (`ddns-cgi-TAG-USER-PID-N` under the
    /// temp dir), once the server and its query tool are known to be installed; `None` when
    /// they are not and skipping is allowed (see [`require_program`]).
    fn server_dir(kind: DnsKind, tag: &str) -> Option<PathBuf> {
        require_program(kind.binary(), kind.package())?;
        if kind == DnsKind::PowerDns {
            DnsServer::require_powerdns_parts()?;
        }
        require_program(
            if kind == DnsKind::Knot { "kdig" } else { "dig" },
            if kind == DnsKind::Knot { "knot-dnsutils" } else { "bind9-dnsutils" },
        )?;
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ddns-cgi-{tag}-{}-{}-{}",
            kind.user(),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create server dir");
        Some(dir)
    }

    fn start_with(kind: DnsKind, zones: &[&str], key: &TsigKey, a_only: bool, signing: Signing) -> Option<DnsServer> {
        let dir = DnsServer::server_dir(kind, "dns")?;
        let zones: Vec<String> = zones.iter().map(|z| z.trim_end_matches('.').to_owned()).collect();
        for zone in &zones {
            // Both servers read the same RFC 1035 zone file (owner names relative to `@`);
            // each directory ships its own copy.
            let shipped = match kind {
                DnsKind::Knot => KNOT_ZONE,
                DnsKind::Bind => BIND_ZONE,
                DnsKind::PowerDns => powerdns::ZONE_FILE,
            };
            let text = signing.zone_text(shipped, zone, &dir);
            std::fs::write(dir.join(format!("{zone}.zone")), text).expect("write zone");
        }
        let mut server = DnsServer {
            kind,
            port: 0,
            dir,
            zones,
            a_only,
            signing,
            child: None,
            netns: super::netns::current(),
            also_listen: None,
        };
        let mut last_error = String::new();
        // A port picked free can be taken before the server binds it; try a few.
        for _ in 0..5 {
            server.port = free_port();
            server.write_config(key);
            match server.spawn() {
                Ok(()) => return Some(server),
                Err(e) => last_error = e,
            }
        }
        panic!("{} did not start:\n{last_error}", kind.binary());
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The server's working directory (zone files, journal, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn kind(&self) -> DnsKind {
        self.kind
    }

    fn write_config(&self, key: &TsigKey) {
        let dir = self.dir.display();
        let port = self.port;
        let key_id = key.name.trim_end_matches('.');
        let root = is_root();
        // The server-wide settings are the harness's own (loopback port, private directory,
        // debug log); the key, the update policy and the zones come from the shipped snippet.
        let text = match self.kind {
            DnsKind::Knot => {
                let mut replacements = vec![
                    (SHIPPED_SECRET, key.secret_b64.as_str()),
                    (SHIPPED_ALGORITHM, key.algorithm.as_str()),
                    (SHIPPED_KEY, key_id),
                ];
                if self.a_only {
                    replacements.push(("update-type: [A, AAAA, TXT]", "update-type: [A]"));
                }
                replacements.extend(self.signing.uncomment(self.kind));
                let snippet = self.render_zones(KNOT_SNIPPET, "\n  - domain:", &replacements);
                std::fs::write(self.dir.join("ddns-cgi.conf"), snippet).expect("write knot snippet");
                let user = if root { "    user: knot:knot\n" } else { "" };
                format!(
                    "server:\n    listen: 127.0.0.1@{port}\n    rundir: \"{dir}\"\n{user}\
                     database:\n    storage: \"{dir}\"\n\
                     log:\n  - target: \"{dir}/server.log\"\n    any: debug\n\
                     template:\n  - id: default\n    storage: \"{dir}\"\n    zonefile-sync: -1\n    journal-content: all\n\
                     include: \"{dir}/ddns-cgi.conf\"\n"
                )
            }
            DnsKind::Bind => {
                let dir_slash = format!("{dir}/");
                let mut replacements = vec![
                    ("/etc/bind/", dir_slash.as_str()),
                    ("/var/lib/bind/", dir_slash.as_str()),
                    (SHIPPED_KEY, key_id),
                ];
                if self.a_only {
                    replacements.push(("zonesub A AAAA TXT;", "zonesub A;"));
                }
                replacements.extend(self.signing.uncomment(self.kind));
                let snippet = self.render_zones(BIND_SNIPPET, "\nzone \"", &replacements);
                std::fs::write(self.dir.join("named.conf.ddns-cgi"), snippet).expect("write named snippet");
                let key_file = render(
                    BIND_KEY,
                    &[
                        (SHIPPED_SECRET, key.secret_b64.as_str()),
                        (SHIPPED_ALGORITHM, key.algorithm.as_str()),
                        (SHIPPED_KEY, key_id),
                    ],
                );
                std::fs::write(self.dir.join(format!("{key_id}.key")), key_file).expect("write key file");
                format!(
                    "options {{\n  directory \"{dir}\";\n  listen-on port {port} {{ 127.0.0.1; }};\n  listen-on-v6 {{ none; }};\n  pid-file \"{dir}/named.pid\";\n  session-keyfile \"{dir}/session.key\";\n  recursion no;\n  dnssec-validation no;\n  notify no;\n}};\n\
                     controls {{ }};\n\
                     logging {{ channel file {{ file \"{dir}/server.log\"; severity debug 1; print-time yes; print-severity yes; print-category yes; }}; category default {{ file; }}; category update {{ file; }}; category security {{ file; }}; }};\n\
                     include \"{dir}/named.conf.ddns-cgi\";\n"
                )
            }
            DnsKind::PowerDns => self.powerdns_config(key),
        };
        std::fs::write(self.config_path(), text).expect("write server config");
        self.give_to_server_user();
    }

    /// When the tests run as root, hands the server's directory to its user (`knot`, `bind`).
    fn give_to_server_user(&self) {
        if !is_root() {
            return;
        }
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{0}:{0}", self.kind.user()))
            .arg(&self.dir)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown {} failed", self.dir.display());
        // The temp root may be private to us; the server user needs to traverse to its dir.
        let _ = Command::new("chmod").arg("755").arg(&self.dir).status();
    }

    /// The shipped snippet `text` with `replacements` applied and its zone entry (everything
    /// from `zone_start` on, which the snippet keeps last) repeated for each served zone.
    fn render_zones(&self, text: &str, zone_start: &str, replacements: &[(&str, &str)]) -> String {
        let mut all = replacements.to_vec();
        all.push((SHIPPED_ZONE, ""));
        assert_shipped(text, &all);
        let at = text.find(zone_start).unwrap_or_else(|| panic!("the shipped snippet has no {zone_start:?}"));
        let (head, entry) = text.split_at(at);
        let mut out = replace_all(head, replacements);
        for zone in &self.zones {
            all.pop();
            all.push((SHIPPED_ZONE, zone));
            out.push_str(&replace_all(entry, &all));
        }
        out
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join(match self.kind {
            DnsKind::Knot => "knot.conf",
            DnsKind::Bind => "named.conf",
            DnsKind::PowerDns => "pdns.conf",
        })
    }

    fn spawn(&mut self) -> Result<(), String> {
        let binary = find_program(self.kind.binary()).expect("checked in start");
        let mut cmd = super::netns::command_in(self.netns.as_deref(), binary);
        match self.kind {
            DnsKind::Knot => {
                cmd.arg("-c").arg(self.config_path());
            }
            DnsKind::Bind => {
                cmd.arg("-f").arg("-c").arg(self.config_path()).arg("-n").arg(self.signing.bind_threads());
                if is_root() {
                    cmd.arg("-u").arg("bind");
                }
            }
            DnsKind::PowerDns => {
                cmd.arg(format!("--config-dir={}", self.dir.display()));
            }
        }
        let out = std::fs::File::create(self.dir.join("stdout.log")).expect("stdout log");
        let err = out.try_clone().expect("clone log");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|e| format!("spawn: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("exited with {status}\n{}", self.log()));
            }
            if self.answers_soa() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no SOA answer within 15 s\n{}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers_soa(&self) -> bool {
        let Some(zone) = self.zones.first() else { return true };
        self.dig(&[&format!("{zone}."), "SOA", "+short"]).is_ok_and(|out| out.contains("hostmaster"))
    }

    /// Runs the client that belongs to the server (kdig for Knot, dig for BIND).
    pub fn dig(&self, args: &[&str]) -> Result<String, String> {
        let (prog, opts): (&str, &[&str]) = match self.kind {
            DnsKind::Knot => ("kdig", &["+timeout=1", "+retry=1"]),
            DnsKind::Bind | DnsKind::PowerDns => ("dig", &["+time=1", "+tries=2"]),
        };
        let program = find_program(prog).ok_or_else(|| format!("{prog} missing"))?;
        let out = super::netns::command_in(self.netns.as_deref(), program)
            .arg(format!("@{}", "127.0.0.1"))
            .arg("-p")
            .arg(self.port.to_string())
            .args(opts)
            .args(args)
            .output()
            .map_err(|e| e.to_string())?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() || stdout.contains(";; connection timed out") || stdout.contains("ERROR") {
            return Err(format!("{prog} {args:?} failed: {stdout}{}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(stdout)
    }

    /// The sorted rdata of `name`/`rtype`; empty for NXDOMAIN or no data.
    pub fn query(&self, name: &str, rtype: &str) -> Vec<String> {
        self.query_with_ttl(name, rtype).into_iter().map(|(_, r)| r).collect()
    }

    /// `(ttl, rdata)` pairs of `name`/`rtype`, sorted by rdata.
    pub fn query_with_ttl(&self, name: &str, rtype: &str) -> Vec<(u32, String)> {
        let fqdn = if name.ends_with('.') { name.to_owned() } else { format!("{name}.") };
        let out = self
            .dig(&[&fqdn, rtype, "+noall", "+answer"])
            .unwrap_or_else(|e| panic!("query {fqdn} {rtype}: {e}\nserver log:\n{}", self.log()));
        let mut records: Vec<(u32, String)> = out
            .lines()
            .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                // name ttl class type rdata...
                (f.len() >= 5 && f[3].eq_ignore_ascii_case(rtype))
                    .then(|| (f[1].parse().unwrap_or(0), f[4..].join(" ")))
            })
            .collect();
        records.sort_by(|a, b| a.1.cmp(&b.1));
        records
    }

    /// Kills the server (SIGKILL); the port stays recorded for [`restart`](Self::restart).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the data it had.
    pub fn restart(&mut self) {
        self.stop();
        // Knot keeps updates in its journal, BIND in the .jnl beside the zone file, PowerDNS in
        // its database.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if Instant::now() > deadline => panic!("restart failed: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    fn signal(&self, sig: &str) {
        if let Some(child) = &self.child {
            let status = Command::new("kill").arg(sig).arg(child.id().to_string()).status().expect("run kill");
            assert!(status.success(), "kill {sig} failed");
        }
    }

    /// SIGSTOP: the server stops answering but keeps its sockets.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// The server's log and stdout, for failure messages.
    pub fn log(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(&self.dir.join("stdout.log")), read(&self.dir.join("server.log")))
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused server would not die on SIGKILL until continued on some kernels' views
            // of the process; continue it first.
            let _ = Command::new("kill").arg("-CONT").arg(child.id().to_string()).status();
        }
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- {} log ({}) ---\n{}", self.kind.binary(), self.dir.display(), self.log());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
