//! The MariaDB engine of the harness. `DDNS_TEST_DATABASE=mariadb` makes every `World` use a
//! real MariaDB instead of a SQLite file: one server per test process (`mariadb-install-db`
//! into a temporary directory, `mariadbd` listening only on a Unix socket in it), started on
//! first use and shared by the tests, with one database per world (`CREATE DATABASE`). The
//! worlds connect as [`USER`] with its password, as a real install does; the harness itself
//! (setting up, reading rows) connects as `root`, which has no password on the socket. The
//! server runs as the `mysql` user when the tests run as root, keeps Debian's defaults for
//! the character set (`utf8mb4`, a case-insensitive collation, so the store must ask for exact
//! comparison itself), and a watchdog shell stops it and removes its directory when the test
//! process exits. [`TcpServer`] is a test's own server on 127.0.0.1, with TLS or without.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The account the worlds' configs name, and its password (a colon on purpose: the URL form
/// must percent-encode it).
pub const USER: &str = "ddns";
pub const PASSWORD: &str = "mdb-pa55:word";

/// Whether this test process runs the worlds on MariaDB.
pub fn enabled() -> bool {
    std::env::var("DDNS_TEST_DATABASE").is_ok_and(|v| v.eq_ignore_ascii_case("mariadb"))
}

fn as_root() -> bool {
    super::dnsserver::is_root()
}

/// The server program, or the test fails naming the package.
fn server_program() -> PathBuf {
    let path = PathBuf::from("/usr/sbin/mariadbd");
    if path.exists() {
        return path;
    }
    panic!("MariaDB's server is not installed (Debian package `mariadb-server`); DDNS_TEST_DATABASE=mariadb needs it")
}

/// The shared server, or a test's own.
#[derive(Debug)]
pub struct MariaServer {
    /// The directory holding the data, the socket and the log.
    pub dir: PathBuf,
    pub socket: PathBuf,
    /// The port on 127.0.0.1, for a server that listens on TCP too.
    pub tcp_port: Option<u16>,
    /// `mariadbd`, waited for when a test's own server stops.
    child: std::sync::Mutex<std::process::Child>,
}

/// How to start a server.
#[derive(Default)]
struct Launch<'a> {
    /// Listen on 127.0.0.1 on this port too.
    tcp_port: Option<u16>,
    /// More `mariadbd` options.
    options: &'a [String],
}

impl MariaServer {
    /// The process's server, started on first use.
    pub fn shared() -> &'static MariaServer {
        // A failed start is kept, not retried (as the PostgreSQL one).
        static SERVER: OnceLock<Result<MariaServer, String>> = OnceLock::new();
        match SERVER.get_or_init(|| MariaServer::launch("mariadb", &Launch::default())) {
            Ok(server) => server,
            Err(e) => panic!("{e}"),
        }
    }

    /// Starts a server in a directory of its own (`ddns-cgi-it-<tag>-<pid>...`); a watchdog
    /// stops it once the test process is gone.
    fn launch(tag: &str, launch: &Launch<'_>) -> Result<MariaServer, String> {
        static N: AtomicU64 = AtomicU64::new(0);
        let program = server_program();
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ddns-cgi-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let data = dir.join("data");
        let mut user = Vec::new();
        if as_root() {
            // mariadbd refuses to run as root; its user must own the directory.
            let ok = Command::new("chown").arg("mysql:mysql").arg(&dir).status().map_err(|e| e.to_string())?;
            if !ok.success() {
                return Err(format!("chown mysql {}", dir.display()));
            }
            user.push("--user=mysql".to_owned());
        }
        // `normal`: root gets in over the socket without a password whatever the test's user
        // (the default, `unix_socket`, admits only the system's root).
        let out = Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .args(&user)
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run mariadb-install-db (Debian package `mariadb-server`): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mariadb-install-db failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let socket = dir.join("mariadb.sock");
        let log = dir.join("server.log");
        let mut cmd = Command::new(&program);
        // `--no-defaults` must come first: the system's my.cnf is not the test's.
        cmd.arg("--no-defaults")
            .args(&user)
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mariadb.pid").display()))
            .arg(format!("--log-error={}", log.display()))
            // Debian's own defaults (50-server.cnf): the store must not rely on the server's.
            .args(["--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci"])
            // Cheap and durable enough for a throwaway server.
            .args([
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--innodb-buffer-pool-size=32M",
                "--performance-schema=OFF",
                "--max-connections=500",
            ])
            .args(launch.options);
        match launch.tcp_port {
            Some(port) => cmd.args(["--bind-address=127.0.0.1", &format!("--port={port}")]),
            None => cmd.arg("--skip-networking"),
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start mariadbd: {e}"))?;
        let pid = child.id();
        let child = std::sync::Mutex::new(child);
        // The watchdog: stops the server once the test process is gone (SIGTERM is a clean
        // shutdown), then removes its directory.
        let script = r#"while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
            kill "$2" 2>/dev/null; while kill -0 "$2" 2>/dev/null; do sleep 0.2; done; rm -rf "$3""#;
        Command::new("/bin/sh")
            .args(["-c", script, "sh"])
            .arg(std::process::id().to_string())
            .arg(pid.to_string())
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the watchdog: {e}"))?;
        let server = MariaServer { dir, socket, tcp_port: launch.tcp_port, child };
        let started = Instant::now();
        while server.sql("", "SELECT 1").is_err() {
            let exited = server.child.lock().map(|mut c| c.try_wait().ok().flatten().is_some()).unwrap_or(true);
            if exited || started.elapsed() > Duration::from_secs(120) {
                return Err(format!("mariadbd did not start:\n{}", server.log()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let hosts = ["localhost", "127.0.0.1"];
        let create: Vec<String> =
            hosts.iter().map(|h| format!("CREATE USER '{USER}'@'{h}' IDENTIFIED BY '{PASSWORD}';")).collect();
        server.sql("", &create.concat()).map_err(|e| format!("create the user: {e}"))?;
        Ok(server)
    }

    /// Runs SQL in `database` (none when empty) as root over the socket with the `mariadb`
    /// client, given on its stdin (not its command line, where a password would show in the
    /// process listing); its tab-separated output, or the error text.
    pub fn sql(&self, database: &str, sql: &str) -> Result<String, String> {
        use std::io::Write as _;
        let mut child = Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["--user=root", "--batch", "--skip-column-names"])
            .args((!database.is_empty()).then_some(database))
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(sql.as_bytes()).map_err(|e| e.to_string())?;
        }
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new empty database for one world, all of whose rights [`USER`] has.
    pub fn create_database(&self) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("w{}", N.fetch_add(1, Ordering::Relaxed));
        let sql =
            format!("CREATE DATABASE {name}; GRANT ALL ON {name}.* TO '{USER}'@'localhost', '{USER}'@'127.0.0.1'");
        self.sql("", &sql).expect("create database");
        name
    }

    /// The `[database]` lines of a config that selects `database` on this server, over the
    /// socket, as [`USER`] with the password in the file `dir/mariadb.password` (written here,
    /// 0600: `dir` is the world's, which a test may give to the web server's user).
    pub fn config_lines(&self, database: &str, dir: &Path) -> String {
        let password_file = dir.join("mariadb.password");
        std::fs::write(&password_file, format!("{PASSWORD}\n")).expect("write the password file");
        std::fs::set_permissions(&password_file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .expect("chmod the password file");
        format!(
            "mariadb = {{ host = \"{}\", name = \"{database}\", user = \"{USER}\", password_file = \"{}\" }}",
            self.socket.display(),
            password_file.display()
        )
    }

    /// A root client connection to `database`, for reading rows and holding locks in tests.
    /// With `ANSI_QUOTES` and `PIPES_AS_CONCAT`: a test's SQL quotes a reserved column name
    /// (`"user"`, `"key"`) and joins text with `||` as SQLite and PostgreSQL read them, and
    /// means the same on all three.
    pub fn connect(&self, database: &str) -> mysql::Conn {
        let opts = mysql::OptsBuilder::new()
            .socket(Some(self.socket.display().to_string()))
            .user(Some("root"))
            .db_name(Some(database))
            .init(vec!["SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES,PIPES_AS_CONCAT')"]);
        mysql::Conn::new(opts).expect("connect to the test mariadb")
    }

    /// The server's log so far, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

/// A new database for a world when the worlds run on MariaDB; `None` otherwise.
pub fn world_database() -> Option<String> {
    enabled().then(|| MariaServer::shared().create_database())
}

/// The rows `sql` returns on `conn`, each value as text (`None` for NULL), as
/// `World::rows` gives them.
pub fn rows(conn: &mut mysql::Conn, sql: &str) -> Vec<Vec<Option<String>>> {
    use mysql::prelude::Queryable as _;
    let rows: Vec<mysql::Row> = conn.query(sql).unwrap_or_else(|e| panic!("test query `{sql}`: {e}"));
    rows.into_iter().map(|row| row.unwrap().into_iter().map(text).collect()).collect()
}

/// A value of the text protocol as the other engines' rows show it.
fn text(value: mysql::Value) -> Option<String> {
    match value {
        mysql::Value::NULL => None,
        mysql::Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        mysql::Value::Int(v) => Some(v.to_string()),
        mysql::Value::UInt(v) => Some(v.to_string()),
        mysql::Value::Float(v) => Some(v.to_string()),
        mysql::Value::Double(v) => Some(v.to_string()),
        other => Some(other.as_sql(true)),
    }
}

/// A MariaDB of one test, listening on 127.0.0.1 as well as on its socket. With TLS (a
/// certificate for `localhost` from a CA the test makes, as `pg::Pki`), the server has
/// `require_secure_transport`: it refuses a session over TCP that is not encrypted, which
/// proves ours are. Stopped on drop.
#[derive(Debug)]
pub struct TcpServer {
    pub server: MariaServer,
    pub pki: Option<super::pg::Pki>,
    /// Where the PKI lives; removed on drop.
    _pki_dir: super::TempDir,
}

impl TcpServer {
    /// Starts one, with TLS from a fresh PKI when `tls`; `None` only when openssl is missing
    /// under the opt-out. A missing MariaDB fails the test (as the shared one).
    pub fn start(tls: bool) -> Option<TcpServer> {
        let pki_dir = super::TempDir::new("mdbpki");
        let pki = if tls { Some(super::pg::Pki::generate(pki_dir.path())?) } else { None };
        let mut options = Vec::new();
        if let Some(pki) = &pki {
            if as_root() {
                // The server reads them as `mysql`; the files stay 0600.
                for f in [&pki.cert, &pki.key, &pki.ca] {
                    let ok = Command::new("chown").arg("mysql:mysql").arg(f).status().expect("chown");
                    assert!(ok.success(), "chown {}", f.display());
                }
                std::fs::set_permissions(pki_dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o711))
                    .expect("chmod pki dir");
            }
            options.push(format!("--ssl-cert={}", pki.cert.display()));
            options.push(format!("--ssl-key={}", pki.key.display()));
            options.push(format!("--ssl-ca={}", pki.ca.display()));
            options.push("--require-secure-transport=ON".to_owned());
        }
        // A free port is free when asked, not always when the server binds it: another test
        // (or the other engine's pass, run at the same time) may take it in between. The
        // server then exits at start saying so, and is started again on another port.
        let mut attempts = 0;
        let server = loop {
            let launch = Launch { tcp_port: Some(super::dnsserver::free_port()), options: &options };
            match MariaServer::launch(if tls { "mdbtls" } else { "mdbtcp" }, &launch) {
                Ok(server) => break server,
                Err(e) if attempts < 3 && e.contains("Bind on TCP/IP port") => attempts += 1,
                Err(e) => panic!("{e}"),
            }
        };
        Some(TcpServer { server, pki, _pki_dir: pki_dir })
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.tcp_port.expect("a tcp server")
    }
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        if let Ok(child) = self.server.child.get_mut() {
            // SIGKILL as PostgreSQL's `immediate`: nothing of a test's own server is kept.
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.server.dir);
    }
}

/// FNV-1a (64 bit), as `store::mariadb` names its locks.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Where every `GET_LOCK` name of `database` starts (`store::mariadb::lock_prefix`).
pub fn lock_prefix(database: &str) -> String {
    format!("ddns-cgi/{:016x}", fnv1a(database.as_bytes()))
}

/// The name of `fqdn`'s host lock in `database` (`store::mariadb::host_lock_name`).
pub fn host_lock_name(database: &str, fqdn: &str) -> String {
    format!("{}/h/{:016x}", lock_prefix(database), fnv1a(fqdn.as_bytes()))
}

/// The name of `fqdn`'s relay lock in `database` (`store::mariadb::relay_lock_name`).
pub fn relay_lock_name(database: &str, fqdn: &str) -> String {
    format!("{}/r/{:016x}", lock_prefix(database), fnv1a(fqdn.as_bytes()))
}
