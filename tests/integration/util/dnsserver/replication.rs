//! A hidden primary and its public secondaries, from the shipped files in `contrib/knot/` and
//! `contrib/bind/` (`hidden-primary.conf`, `secondary.conf`) and `contrib/powerdns/`
//! (`hidden-primary.sh`, a primary only) with this test's zone, ports, keys and paths put in
//! for the documentation values they hold.

// The shipped files and the server start of `DnsServer`, shared with the parent.
use super::*;

/// The shipped replication files, per server kind: (hidden primary, secondary).
fn replication_files(kind: DnsKind) -> (&'static str, &'static str) {
    match kind {
        DnsKind::Knot => (
            include_str!("../../../../contrib/knot/hidden-primary.conf"),
            include_str!("../../../../contrib/knot/secondary.conf"),
        ),
        DnsKind::Bind => (
            include_str!("../../../../contrib/bind/hidden-primary.conf"),
            include_str!("../../../../contrib/bind/secondary.conf"),
        ),
        // PowerDNS ships a hidden primary only: the secondaries are Knot and BIND.
        DnsKind::PowerDns => (include_str!("../../../../contrib/powerdns/hidden-primary.sh"), ""),
    }
}

/// Where a hidden primary and its two secondaries listen (all on 127.0.0.1, each on its own
/// port, NOTIFY sent to those ports), and the key that signs their NOTIFYs and transfers.
#[derive(Clone, Debug)]
pub struct Replication {
    pub primary: u16,
    /// ns1 and ns2 of the shipped files.
    pub secondaries: [u16; 2],
    pub xfr_key: TsigKey,
    /// The addresses of the primary, ns1 and ns2: 127.0.0.1 each, or each server's address
    /// in its own network namespace ([`Replication::across`]).
    pub hosts: [Ipv4Addr; 3],
}

impl Replication {
    pub fn new() -> Replication {
        Replication {
            primary: replication_port(),
            secondaries: [replication_port(), replication_port()],
            xfr_key: TsigKey::generate("xfr-key.", "hmac-sha256"),
            hosts: [Ipv4Addr::LOCALHOST; 3],
        }
    }

    /// Servers on `hosts` (primary, ns1, ns2), each started in its own network namespace
    /// (through [`super::super::netns::inside`]) where it listens on its address and on 127.0.0.1.
    pub fn across(hosts: [Ipv4Addr; 3]) -> Replication {
        Replication { hosts, ..Replication::new() }
    }

    /// A shipped file with this test's values in place of its documentation values.
    fn render(&self, text: &str, zone: &str, dir: &Path) -> String {
        // A file that loses the values filled in here would start a different server.
        for value in [SHIPPED_ZONE, "REPLACE-WITH-BASE64-XFR-SECRET"] {
            assert!(text.contains(value), "a shipped replication file lost `{value}`:\n{text}");
        }
        let mut text = text.to_owned();
        let hosts = [
            ("192.0.2.1", self.primary, self.hosts[0]),
            ("198.51.100.53", self.secondaries[0], self.hosts[1]),
            ("203.0.113.53", self.secondaries[1], self.hosts[2]),
        ];
        for (ip, port, to) in hosts {
            text = text.replace(&format!("{ip}@53"), &format!("{to}@{port}"));
            text = text.replace(&format!("{ip} port 53"), &format!("{to} port {port}"));
            text = text.replace(&format!("{ip}:53"), &format!("{to}:{port}"));
        }
        for (ip, _, to) in hosts {
            text = text.replace(ip, &to.to_string());
        }
        // Every server address was one of the three, on the port this test gave it.
        assert!(
            !text.contains("@53") && !text.contains(" port 53 ") && !text.contains(":53"),
            "an address the harness does not fill in:\n{text}"
        );
        let dir = dir.display().to_string();
        text.replace("dyn.example.com", zone)
            .replace("REPLACE-WITH-BASE64-XFR-SECRET", &self.xfr_key.secret_b64)
            .replace("/var/lib/bind", &dir)
            .replace("/var/cache/bind", &dir)
    }
}

/// A port free on 127.0.0.1 for UDP and TCP, below the kernel's ephemeral range (32768 and
/// up on Linux). The primary's config names all three ports before any of the servers runs;
/// a port from [`free_port`] could meanwhile be handed to another test's server, or to a
/// client or transfer socket, which the kernel picks from the ephemeral range.
fn replication_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let base = 20_000 + (std::process::id() % 100) as u16 * 100;
    for _ in 0..100 {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 100;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() && UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {base}..{}", base + 100);
}

impl DnsServer {
    /// Starts the hidden primary of `zone` for `replication` from the shipped
    /// `hidden-primary.conf` (PowerDNS: `hidden-primary.sh`), accepting updates signed with `key` (which must be named
    /// `ddns-key`, as in the shipped files) and notifying both secondaries.
    pub fn start_hidden_primary(
        kind: DnsKind,
        zone: &str,
        key: &TsigKey,
        replication: &Replication,
    ) -> Option<DnsServer> {
        assert_eq!(key.name.trim_end_matches('.'), "ddns-key", "the shipped files name the update key ddns-key");
        let mut server = DnsServer::replica_dir(kind, zone, replication.primary, replication.hosts[0])?;
        let zone = &server.zones[0];
        let soa = format!(
            "$TTL 300\n@ SOA ns1.{zone}. hostmaster.{zone}. 1 3600 600 86400 60\n@ NS ns1.{zone}.\nns1 A 127.0.0.1\n"
        );
        std::fs::write(server.dir.join(format!("{zone}.zone")), soa).expect("write zone");
        let shipped = replication.render(replication_files(kind).0, zone, &server.dir);
        if kind == DnsKind::PowerDns {
            server.start_powerdns_primary(key, &shipped);
            return Some(server);
        }
        // The update key and policy come from the shipped update setup (`ddns-cgi.conf`
        // without its zone entry, which `hidden-primary.conf` replaces; BIND's key file).
        let secret = [(SHIPPED_SECRET, key.secret_b64.as_str()), (SHIPPED_ALGORITHM, key.algorithm.as_str())];
        let text = match kind {
            DnsKind::Knot => {
                let update = KNOT_SNIPPET.split_once("\nzone:\n").map_or(KNOT_SNIPPET, |(head, _)| head);
                format!(
                    "{}template:\n  - id: default\n    storage: \"{}\"\n    zonefile-sync: -1\n    journal-content: all\n{}\n{shipped}",
                    server.replica_head(),
                    server.dir.display(),
                    render(update, &secret),
                )
            }
            DnsKind::Bind => format!("{}{}{shipped}", server.replica_head(), render(BIND_KEY, &secret)),
            DnsKind::PowerDns => unreachable!("started above"),
        };
        server.spawn_replica(&text);
        Some(server)
    }

    /// Starts secondary `index` (0: ns1, 1: ns2) of `replication`'s hidden primary from the
    /// shipped `secondary.conf`; it is ready once it serves the zone it transferred.
    pub fn start_secondary(
        kind: DnsKind,
        primary: &DnsServer,
        replication: &Replication,
        index: usize,
    ) -> Option<DnsServer> {
        assert_eq!(primary.port, replication.primary, "a secondary of this replication's primary");
        let mut server = DnsServer::replica_dir(
            kind,
            &primary.zones[0],
            replication.secondaries[index],
            replication.hosts[index + 1],
        )?;
        assert_ne!(kind, DnsKind::PowerDns, "the shipped secondaries are Knot and BIND");
        let shipped = replication.render(replication_files(kind).1, &server.zones[0], &server.dir);
        let text = match kind {
            // Knot's defaults for a secondary: the zone file is written after each transfer
            // and read at start, so a restarted secondary asks for an IXFR from its serial.
            DnsKind::Knot => {
                format!(
                    "{}template:\n  - id: default\n    storage: \"{}\"\n{shipped}",
                    server.replica_head(),
                    server.dir.display()
                )
            }
            DnsKind::Bind => format!("{}{shipped}", server.replica_head()),
            DnsKind::PowerDns => unreachable!("refused above"),
        };
        server.spawn_replica(&text);
        Some(server)
    }

    /// A new server directory for one zone and a fixed port, or `None` when not installed.
    fn replica_dir(kind: DnsKind, zone: &str, port: u16, host: Ipv4Addr) -> Option<DnsServer> {
        let dir = DnsServer::server_dir(kind, "replica")?;
        let zones = vec![zone.trim_end_matches('.').to_owned()];
        let netns = super::super::netns::current();
        let also_listen = (!host.is_loopback()).then_some(host);
        Some(DnsServer {
            kind,
            port,
            dir,
            zones,
            a_only: false,
            signing: Signing::Unsigned,
            child: None,
            netns,
            also_listen,
        })
    }

    /// The part of a config that is the test's, not the shipped file's: where to listen, the
    /// working directory and a debug log (which names each transfer, AXFR or IXFR).
    fn replica_head(&self) -> String {
        let dir = self.dir.display();
        let port = self.port;
        let also = self.also_listen.map(|ip| format!(" {ip};")).unwrap_or_default();
        match self.kind {
            DnsKind::Knot => {
                let user = if is_root() { "    user: knot:knot\n" } else { "" };
                let listen = match self.also_listen {
                    Some(ip) => format!("[127.0.0.1@{port}, {ip}@{port}]"),
                    None => format!("127.0.0.1@{port}"),
                };
                format!(
                    "server:\n    listen: {listen}\n    rundir: \"{dir}\"\n{user}\
                     database:\n    storage: \"{dir}\"\n\
                     log:\n  - target: \"{dir}/server.log\"\n    any: debug\n"
                )
            }
            DnsKind::Bind => format!(
                "options {{\n  directory \"{dir}\";\n  listen-on port {port} {{ 127.0.0.1;{also} }};\n  listen-on-v6 {{ none; }};\n  pid-file \"{dir}/named.pid\";\n  session-keyfile \"{dir}/session.key\";\n  recursion no;\n  dnssec-validation no;\n  notify no;\n}};\n\
                 controls {{ }};\n\
                 logging {{ channel file {{ file \"{dir}/server.log\"; severity debug 1; print-time yes; print-severity yes; print-category yes; }}; category default {{ file; }}; }};\n"
            ),
            DnsKind::PowerDns => unreachable!("PowerDNS starts from its own config (powerdns.rs)"),
        }
    }

    /// Writes `text` as the config, hands the directory to the server's user, and starts it.
    fn spawn_replica(&mut self, text: &str) {
        std::fs::write(self.config_path(), text).expect("write server config");
        self.give_to_server_user();
        if let Err(e) = self.spawn() {
            panic!(
                "{} did not start on port {} ({}):\n{e}",
                self.kind.binary(),
                self.port,
                self.config_path().display()
            );
        }
    }

    /// The SOA serial the server serves for its zone.
    pub fn serial(&self) -> u32 {
        let zone = &self.zones[0];
        let soa = self.query(zone, "SOA");
        soa.first()
            .and_then(|s| s.split_whitespace().nth(2))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no SOA serial for {zone} in {soa:?}\nserver log:\n{}", self.log()))
    }
}
