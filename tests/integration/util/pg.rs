//! The PostgreSQL engine of the harness. `DDNS_TEST_DATABASE=postgres` makes every `World` use
//! a real PostgreSQL instead of a SQLite file: one server per test process (initdb into a
//! temporary directory, `postgres` listening only on a Unix socket in it, trust
//! authentication for the `postgres` role, which is all that socket admits), started on first
//! use and shared by the tests, with one database per world (`CREATE DATABASE`), which keeps
//! a world's start-up cheap. The server runs as the `postgres` user when the tests run as root
//! (PostgreSQL refuses root), and a watchdog shell stops it and removes its directory when
//! the test process exits.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// Whether this test process runs the worlds on PostgreSQL.
pub fn enabled() -> bool {
    std::env::var("DDNS_TEST_DATABASE").is_ok_and(|v| v.eq_ignore_ascii_case("postgres"))
}

/// Prints why a test does not run on PostgreSQL or MariaDB and says whether it should return:
/// `true` on either. For tests about the SQLite file itself (its mode, a corrupt or locked file).
#[must_use]
pub fn skip_sqlite_only(what: &str) -> bool {
    let engine = if enabled() {
        "postgresql"
    } else if super::mariadb::enabled() {
        "mariadb"
    } else {
        return false;
    };
    use std::io::Write as _;
    // The test runner names each test's thread after the test. A direct write, not
    // `eprintln!`: the runner captures the macros, not the stream (as `skip` does).
    let thread = std::thread::current();
    let line = format!("SKIP on {engine}: {}: {what} is about the SQLite file\n", thread.name().unwrap_or("?"));
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
    true
}

/// The shared server.
#[derive(Debug)]
pub struct PgServer {
    /// The directory holding the Unix socket.
    pub socket_dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
}

/// The directory of PostgreSQL's server programs (Debian puts them outside `PATH`).
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok()).map(|e| e.path().join("bin")).filter(|p| p.join("postgres").exists()).collect()
        })
        .unwrap_or_default();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "PostgreSQL's server is not installed (Debian package `postgresql`); DDNS_TEST_DATABASE=postgres needs it"
        )
    })
}

fn as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// A command run as the server's user.
fn server_cmd(program: &Path) -> Command {
    if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl PgServer {
    /// The process's server, started on first use.
    pub fn shared() -> &'static PgServer {
        // A failed start is kept, not retried: a retry would remove the directory of a
        // server that was only slow.
        static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
        match SERVER.get_or_init(PgServer::start) {
            Ok(server) => server,
            Err(e) => panic!("{e}"),
        }
    }

    fn start() -> Result<PgServer, String> {
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        PgServer::launch("pg", port, "-c listen_addresses=", None)
    }

    /// Starts a server in a directory of its own (`ddns-cgi-it-<tag>-<pid>...`) with the
    /// Unix socket on `port`, `options` for `postgres`, and `hba` as its pg_hba.conf when
    /// given; a watchdog stops it once the test process is gone.
    fn launch(tag: &str, port: u16, options: &str, hba: Option<&str>) -> Result<PgServer, String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let bin = bin_dir();
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(match tag {
            "pg" => format!("ddns-cgi-it-pg-{}", std::process::id()),
            _ => format!("ddns-cgi-it-{tag}-{}-{n}", std::process::id()),
        });
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create postgres dir");
        let data = dir.join("data");
        if as_root() {
            let ok = Command::new("chown").args(["postgres:postgres"]).arg(&dir).status().expect("chown");
            assert!(ok.success(), "chown postgres dir");
        }
        let out = server_cmd(&bin.join("initdb"))
            .args(["--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        if let Some(hba) = hba {
            // Written as the server's user would: the file stays the server's (initdb made it).
            std::fs::write(data.join("pg_hba.conf"), hba).map_err(|e| format!("write pg_hba.conf: {e}"))?;
        }
        let options =
            format!("-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 {options}");
        let out = server_cmd(&bin.join("pg_ctl"))
            .args(["start", "-w", "-t", "120", "-s", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .arg("-o")
            .arg(format!("-k {} -p {port} {options}", dir.display()))
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            return Err(format!("postgres did not start: {}\n{log}", String::from_utf8_lossy(&out.stderr)));
        }
        // The watchdog, as the test's user (it must see the test process): stops the server
        // (fast shutdown) once the test process is gone, then removes its directory.
        let stop = if as_root() { "runuser -u postgres -- " } else { "" };
        let script = format!(
            r#"while kill -0 "$4" 2>/dev/null; do sleep 0.5; done
            {stop}"$1/pg_ctl" stop -m fast -s -D "$2/data"; rm -rf "$2""#
        );
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", &script, "sh"])
            .arg(&bin)
            .arg(&dir)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().map_err(|e| format!("cannot start the watchdog: {e}"))?;
        Ok(PgServer { socket_dir: dir, port, bin })
    }

    /// Runs SQL in `database` as the superuser; the output, or the error text.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-h"])
            .arg(&self.socket_dir)
            .args(["-p", &self.port.to_string(), "-d", database, "-c", sql])
            .env_clear()
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new empty database for one world.
    pub fn create_database(&self) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("w{}", N.fetch_add(1, Ordering::Relaxed));
        self.psql("postgres", &format!("CREATE DATABASE {name}")).expect("create database");
        name
    }

    /// The `[database]` lines of a config that selects `database` on this server.
    pub fn config_lines(&self, database: &str) -> String {
        format!(
            "postgres = {{ host = \"{}\", port = {}, name = \"{database}\", user = \"postgres\" }}",
            self.socket_dir.display(),
            self.port
        )
    }

    /// A client connection to `database`, for reading rows in tests.
    pub fn connect(&self, database: &str) -> postgres::Client {
        postgres::Config::new()
            .host_path(&self.socket_dir)
            .port(self.port)
            .user("postgres")
            .dbname(database)
            .connect(postgres::NoTls)
            .expect("connect to the test postgres")
    }

    /// Where the server programs are.
    pub fn bin(&self) -> &Path {
        &self.bin
    }
}

/// A new database for a world when the worlds run on PostgreSQL; `None` on SQLite.
pub fn world_database() -> Option<String> {
    enabled().then(|| PgServer::shared().create_database())
}

/// A throwaway PKI made with the openssl CLI at test time: a CA, a server certificate it
/// signed for the name `localhost` only (no IP address, so that `verify-full` to
/// `127.0.0.1` fails on the name while `verify-ca` passes), and a second CA that signed
/// nothing (the wrong one). Every file is 0600.
#[derive(Debug)]
pub struct Pki {
    pub ca: PathBuf,
    pub wrong_ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// Makes the files in `dir`; `None` only when openssl is missing under the opt-out.
    pub fn generate(dir: &Path) -> Option<Pki> {
        let openssl = super::dnsserver::require_program("openssl", "openssl")?;
        let run = |args: &[&str]| {
            let out = Command::new(&openssl).args(args).current_dir(dir).output().expect("run openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for (name, cn) in [("ca", "ddns-cgi test CA"), ("wrong-ca", "ddns-cgi wrong CA")] {
            let (key, crt, subj) = (format!("{name}.key"), format!("{name}.crt"), format!("/CN={cn}"));
            let mut args = vec!["req", "-x509", "-new"];
            args.extend(ec);
            args.extend(["-keyout", &key, "-out", &crt, "-days", "2", "-subj", &subj]);
            args.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"]);
            run(&args);
        }
        let mut args = vec!["req", "-new"];
        args.extend(ec);
        args.extend(["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]);
        run(&args);
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write server.ext");
        run(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        for entry in std::fs::read_dir(dir).expect("read pki dir").flatten() {
            std::fs::set_permissions(entry.path(), std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod 0600");
        }
        Some(Pki {
            ca: dir.join("ca.crt"),
            wrong_ca: dir.join("wrong-ca.crt"),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        })
    }
}

/// The role the TCP servers admit (with a password, over TCP only) and its password.
pub const TCP_ROLE: &str = "ddns_tcp";
pub const TCP_PASSWORD: &str = "pg-pa55:word";

/// A PostgreSQL of one test, listening on 127.0.0.1 as well as on its Unix socket (where the
/// superuser gets in without a password, for setting up and reading rows). Over TCP only
/// [`TCP_ROLE`] gets in, with its password (SCRAM); with TLS, pg_hba.conf has `hostssl`
/// lines only, so a session that is not encrypted is refused by the server itself. Stopped
/// on drop.
#[derive(Debug)]
pub struct TcpServer {
    pub server: PgServer,
    /// The port on 127.0.0.1 (the same number names the Unix socket).
    pub tcp_port: u16,
    /// The PKI the server's certificate comes from, when it has TLS on.
    pub pki: Option<Pki>,
    /// Where the PKI lives; removed on drop.
    _pki_dir: super::TempDir,
}

impl TcpServer {
    /// Starts one, with `ssl = on` and a fresh PKI when `tls`; `None` only when openssl is
    /// missing under the opt-out. A missing PostgreSQL fails the test (as the shared one).
    pub fn start(tls: bool) -> Option<TcpServer> {
        TcpServer::start_with(tls, if tls { "hostssl" } else { "host" }, "")
    }

    /// A server whose TLS no client of ours can speak (TLS 1.1 at most; rustls has 1.2 and
    /// 1.3), admitting plain sessions too: libpq's `prefer` starts over in plain text there.
    pub fn start_with_old_tls() -> Option<TcpServer> {
        TcpServer::start_with(true, "host", "-c ssl_min_protocol_version=TLSv1 -c ssl_max_protocol_version=TLSv1.1")
    }

    fn start_with(tls: bool, kind: &str, extra: &str) -> Option<TcpServer> {
        let pki_dir = super::TempDir::new("pgpki");
        let pki = if tls { Some(Pki::generate(pki_dir.path())?) } else { None };
        let tcp_port = super::dnsserver::free_port();
        let hba = format!(
            "local all postgres trust\n{kind} all {TCP_ROLE} 127.0.0.1/32 scram-sha-256\n{kind} all {TCP_ROLE} ::1/128 scram-sha-256\n"
        );
        let mut options = format!("-c listen_addresses=127.0.0.1 -c password_encryption=scram-sha-256 {extra}");
        if let Some(pki) = &pki {
            if as_root() {
                // The server refuses a key file that is not its own.
                for f in [&pki.cert, &pki.key] {
                    let ok = Command::new("chown").arg("postgres:postgres").arg(f).status().expect("chown");
                    assert!(ok.success(), "chown {}", f.display());
                }
                // And it must reach them: the temporary directory is the test user's.
                std::fs::set_permissions(pki_dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711))
                    .expect("chmod pki dir");
            }
            options.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                pki.cert.display(),
                pki.key.display()
            ));
        }
        let server = PgServer::launch(if tls { "pgtls" } else { "pgtcp" }, tcp_port, &options, Some(&hba))
            .unwrap_or_else(|e| panic!("{e}"));
        server
            .psql("postgres", &format!("CREATE ROLE {TCP_ROLE} LOGIN PASSWORD '{TCP_PASSWORD}'"))
            .expect("create the tcp role");
        Some(TcpServer { server, tcp_port, pki, _pki_dir: pki_dir })
    }

    /// A new database owned by [`TCP_ROLE`].
    pub fn create_database(&self) -> String {
        let name = self.server.create_database();
        self.server.psql("postgres", &format!("ALTER DATABASE {name} OWNER TO {TCP_ROLE}")).expect("owner");
        self.server.psql(&name, &format!("ALTER SCHEMA public OWNER TO {TCP_ROLE}")).expect("schema owner");
        name
    }

    /// The server's log so far, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.server.socket_dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        let _ = server_cmd(&self.server.bin.join("pg_ctl"))
            .args(["stop", "-m", "immediate", "-s", "-D"])
            .arg(self.server.socket_dir.join("data"))
            .stdin(std::process::Stdio::null())
            .output();
        let _ = std::fs::remove_dir_all(&self.server.socket_dir);
    }
}
