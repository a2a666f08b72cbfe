//! PowerDNS Authoritative (`pdns_server`) for tests, from the files shipped in
//! `contrib/powerdns/`: the server-wide snippet `ddns-cgi.conf` (gsqlite3 backend, `dnsupdate`)
//! included by the harness's own `pdns.conf` (loopback port, private directory, logs on
//! stdout), a fresh SQLite database made from the schema Debian ships, and
//! `ddns-cgi-zone.sh` run with the test's zone names, key and paths (the zone loaded with
//! `pdnsutil load-zone`, the key imported, the update metadata set); as a hidden primary, with
//! `hidden-primary.sh` run after it. Runs as `pdns` when the tests run as root. Queried with
//! `dig`, like BIND.

use super::*;

const SNIPPET: &str = include_str!("../../../../contrib/powerdns/ddns-cgi.conf");
const ZONE_SCRIPT: &str = include_str!("../../../../contrib/powerdns/ddns-cgi-zone.sh");
pub(super) const ZONE_FILE: &str = include_str!("../../../../contrib/powerdns/dyn.example.com.zone");
/// The schema of the gsqlite3 backend, as `pdns-backend-sqlite3` installs it.
const SCHEMA: &str = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql";
/// Where the shipped files keep the database and the zone file.
const SHIPPED_DATABASE: &str = "/var/lib/powerdns/pdns.sqlite3";
const SHIPPED_ZONE_FILE_DIR: &str = "/etc/powerdns/";

/// The PowerDNS kind when `DDNS_TEST_DNS=powerdns`: the suite's PowerDNS pass
/// (`scripts/test.sh`) runs the modules that send updates with every default world, and the
/// tests that loop over Knot and BIND, against PowerDNS instead. Anything else is refused, so
/// a misspelt pass does not quietly run against Knot.
pub fn powerdns_pass() -> bool {
    match std::env::var("DDNS_TEST_DNS") {
        Err(_) => false,
        Ok(v) if v.is_empty() || v.eq_ignore_ascii_case("knot") => false,
        Ok(v) if v.eq_ignore_ascii_case("powerdns") => true,
        Ok(v) => panic!("`DDNS_TEST_DNS` must be `powerdns` or unset, got `{v}`"),
    }
}

impl DnsKind {
    /// The kind of a test's default world: Knot, or PowerDNS in the PowerDNS pass.
    pub fn default_for_tests() -> DnsKind {
        if powerdns_pass() { DnsKind::PowerDns } else { DnsKind::Knot }
    }

    /// The kinds a test that runs against "each server" loops over: Knot and BIND, or only
    /// PowerDNS in the PowerDNS pass (the first pass ran the other two).
    pub fn each() -> Vec<DnsKind> {
        if powerdns_pass() { vec![DnsKind::PowerDns] } else { vec![DnsKind::Knot, DnsKind::Bind] }
    }
}

impl DnsServer {
    /// Requires what PowerDNS needs besides `pdns_server` and `dig`: the gsqlite3 backend
    /// (its schema file) and the `sqlite3` client that loads the schema, as an administrator
    /// does.
    pub(super) fn require_powerdns_parts() -> Option<()> {
        if !Path::new(SCHEMA).is_file() {
            super::super::skip::missing("the gsqlite3 backend of PowerDNS", "pdns-backend-sqlite3")?;
        }
        require_program("pdnsutil", "pdns-server")?;
        require_program("sqlite3", "sqlite3")?;
        Some(())
    }

    /// Writes the shipped snippet and makes the database with the shipped zone script, once
    /// (the database keeps the zones across a restart); returns the harness's `pdns.conf`.
    pub(super) fn powerdns_config(&self, key: &TsigKey) -> String {
        let dir = self.dir.display().to_string();
        let database = format!("{dir}/pdns.sqlite3");
        let port = self.port;
        // PowerDNS has no per-type update policy but a Lua script that replaces every other
        // check; the tests that need a narrower policy run against Knot.
        assert!(!self.a_only, "the PowerDNS harness has no A-only update policy");
        let user = if is_root() { "setuid=pdns\nsetgid=pdns\n" } else { "" };
        std::fs::create_dir_all(self.dir.join("pdns.d")).expect("create pdns.d");
        let snippet = render(SNIPPET, &[(SHIPPED_DATABASE, database.as_str())]);
        std::fs::write(self.dir.join("pdns.d/ddns-cgi.conf"), snippet).expect("write pdns snippet");
        // The server-wide settings are the harness's: a loopback port, the private directory,
        // logs on stdout (`stdout.log`), no security poll (a DNS query to the internet).
        let conf = format!(
            "local-address=127.0.0.1\nlocal-port={port}\nsocket-dir={dir}\n{user}guardian=no\ndaemon=no\n\
             disable-syslog=yes\nloglevel=6\nlog-dns-details=yes\nsecurity-poll-suffix=\nlaunch=\n\
             include-dir={dir}/pdns.d\n"
        );
        std::fs::write(self.config_path(), &conf).expect("write pdns.conf");
        if !Path::new(&database).exists() {
            self.make_powerdns_database(&database, key);
        }
        conf
    }

    fn make_powerdns_database(&self, database: &str, key: &TsigKey) {
        let schema = std::fs::File::open(SCHEMA).expect("open the gsqlite3 schema");
        let sqlite3 = find_program("sqlite3").expect("checked in start");
        let out = Command::new(sqlite3).arg(database).stdin(schema).output().expect("run sqlite3");
        assert!(out.status.success(), "sqlite3 {database} < {SCHEMA}: {}", String::from_utf8_lossy(&out.stderr));
        // As the shipped instructions say: the database will hold the TSIG secret.
        std::fs::set_permissions(database, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod database");
        let dir_slash = format!("{}/", self.dir.display());
        let key_id = key.name.trim_end_matches('.');
        let mut replacements = vec![
            (SHIPPED_SECRET, key.secret_b64.as_str()),
            (SHIPPED_ALGORITHM, key.algorithm.as_str()),
            (SHIPPED_KEY, key_id),
            (SHIPPED_ZONE_FILE_DIR, dir_slash.as_str()),
        ];
        replacements.extend(self.signing.uncomment(self.kind));
        let script = self.render_zones(ZONE_SCRIPT, "\n# Keep the zone's commands last", &replacements);
        self.run_shipped_script(&script, "ddns-cgi-zone.sh");
    }

    /// Runs a rendered shipped script, each `pdnsutil` pointed at this server's configuration.
    fn run_shipped_script(&self, script: &str, name: &str) {
        let pdnsutil = find_program("pdnsutil").expect("checked in start");
        let script =
            script.replace("\npdnsutil ", &format!("\n{} --config-dir={} ", pdnsutil.display(), self.dir.display()));
        let out = Command::new("sh").arg("-c").arg(&script).output().expect("run sh");
        assert!(
            out.status.success(),
            "the shipped {name} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Makes this server the hidden primary of its zone: the update setup of
    /// [`powerdns_config`](Self::powerdns_config), `primary=yes` as the shipped
    /// `hidden-primary.sh` says, then that script (`hidden`, rendered by the caller with the
    /// replication's addresses, ports and transfer key); starts the server.
    pub(super) fn start_powerdns_primary(&mut self, key: &TsigKey, hidden: &str) {
        self.powerdns_config(key);
        std::fs::write(self.dir.join("pdns.d/primary.conf"), "primary=yes\n").expect("write primary.conf");
        self.run_shipped_script(hidden, "hidden-primary.sh");
        self.give_to_server_user();
        if let Err(e) = self.spawn() {
            panic!("pdns_server did not start as a hidden primary on port {}:\n{e}", self.port);
        }
    }

    /// Runs `pdnsutil` with this server's configuration (a PowerDNS zone lives in the
    /// database, not in a zone file); returns its stdout, panics with its stderr on failure.
    pub fn pdnsutil(&self, args: &[&str]) -> String {
        assert_eq!(self.kind, DnsKind::PowerDns, "pdnsutil is PowerDNS's");
        let pdnsutil = find_program("pdnsutil").expect("checked in start");
        let out = Command::new(pdnsutil)
            .arg(format!("--config-dir={}", self.dir.display()))
            .args(args)
            .output()
            .expect("run pdnsutil");
        assert!(
            out.status.success(),
            "pdnsutil {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}
