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

/// Prints why a test does not run on PostgreSQL and says whether it should return: `true`
/// on PostgreSQL. For tests about the SQLite file itself (its mode, a corrupt or locked file).
#[must_use]
pub fn skip_sqlite_only(what: &str) -> bool {
    if enabled() {
        use std::io::Write as _;
        // The test runner names each test's thread after the test. A direct write, not
        // `eprintln!`: the runner captures the macros, not the stream (as `skip` does).
        let thread = std::thread::current();
        let line = format!("SKIP on postgresql: {}: {what} is about the SQLite file\n", thread.name().unwrap_or("?"));
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
        return true;
    }
    false
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
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!("ddns-cgi-it-pg-{}", std::process::id()));
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
        let port = 20_000 + (std::process::id() % 20_000) as u16;
        let options = "-c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
                       -c max_connections=300";
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
