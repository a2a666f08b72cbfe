//! The integration-test harness: a throwaway world per test (a real Knot or BIND on a random
//! loopback port, a config file, a database with a user and hostnames) and a way to run the
//! built `ddns-cgi` binary as CGI with a clean environment. It asserts nothing itself beyond
//! "the command ran"; tests assert exact statuses, headers, bodies and DNS answers.

#![allow(dead_code, reason = "each test module uses a different part of the harness")]

pub mod browser;
pub mod dnsserver;
pub mod mariadb;
pub mod netns;
pub mod pg;
pub mod relay;
pub mod skip;
pub mod smtp;
pub mod web;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};

pub use dnsserver::{DnsKind, DnsServer, TsigKey};

/// The zone every test world serves.
pub const ZONE: &str = "dyn.example.test";
/// The first user, created in every world, and their password (with a colon on purpose).
pub const USER: &str = "alice";
pub const PASSWORD: &str = "s3cret:with-colon";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ddns-cgi")
}

/// A private temporary directory, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ddns-cgi-it-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One test's world.
pub struct World {
    pub dir: TempDir,
    pub dns: DnsServer,
    pub key: TsigKey,
    pub config: PathBuf,
    /// The SQLite file; on PostgreSQL (`pg`) or MariaDB (`mariadb`), a path where no file is.
    pub db: PathBuf,
    /// The world's database on the shared PostgreSQL, under `DDNS_TEST_DATABASE=postgres`.
    pub pg: Option<String>,
    /// The world's database on the shared MariaDB, under `DDNS_TEST_DATABASE=mariadb`.
    pub mariadb: Option<String>,
}

/// Options for a world.
pub struct Setup<'a> {
    pub kind: DnsKind,
    /// Extra TOML appended to the generated config.
    pub extra_config: &'a str,
    /// Hostnames (inside [`ZONE`]) created for [`USER`].
    pub hosts: &'a [&'a str],
}

impl Default for Setup<'_> {
    fn default() -> Self {
        Setup { kind: DnsKind::default_for_tests(), extra_config: "", hosts: &["home.dyn.example.test"] }
    }
}

impl World {
    /// A Knot world with one host, `home.dyn.example.test` (PowerDNS in the PowerDNS pass,
    /// `DDNS_TEST_DNS=powerdns`). When the server is not installed the test fails; `None`
    /// only under the opt-out `DDNS_SKIP_SERVERS=1` (see [`skip`]).
    pub fn knot() -> Option<World> {
        World::new(Setup::default())
    }

    pub fn bind() -> Option<World> {
        World::new(Setup { kind: DnsKind::Bind, ..Setup::default() })
    }

    pub fn new(setup: Setup<'_>) -> Option<World> {
        World::with_database(setup, pg::world_database(), mariadb::world_database())
    }

    /// A world on PostgreSQL whatever `DDNS_TEST_DATABASE` says (`tests/integration/postgres.rs`).
    pub fn postgres(setup: Setup<'_>) -> Option<World> {
        World::with_database(setup, Some(pg::PgServer::shared().create_database()), None)
    }

    /// A world on SQLite whatever `DDNS_TEST_DATABASE` says (`tests/integration/engines.rs`).
    pub fn sqlite(setup: Setup<'_>) -> Option<World> {
        World::with_database(setup, None, None)
    }

    /// A world on MariaDB whatever `DDNS_TEST_DATABASE` says (`tests/integration/mariadb.rs`).
    pub fn mariadb(setup: Setup<'_>) -> Option<World> {
        World::with_database(setup, None, Some(mariadb::MariaServer::shared().create_database()))
    }

    fn with_database(setup: Setup<'_>, pg: Option<String>, mariadb: Option<String>) -> Option<World> {
        let key = TsigKey::generate("ddns-key.", "hmac-sha256");
        let dns = DnsServer::start(setup.kind, &[&format!("{ZONE}.")], &key)?;
        let dir = TempDir::new("world");
        let config = dir.path().join("config.toml");
        let db = dir.path().join("ddns.db");
        let world = World { dir, dns, key, config, db, pg, mariadb };
        world.write_config(setup.extra_config);
        world.admin(&["init-db"]).success();
        world.add_user(USER, PASSWORD);
        for host in setup.hosts {
            world.admin(&["hostname", "add", USER, host, ZONE]).success();
        }
        Some(world)
    }

    /// (Re)writes the config file: the world's server and key, cheap Argon2 so debug builds
    /// stay fast, and `extra` appended.
    pub fn write_config(&self, extra: &str) {
        // Many tests send a burst of updates from one address; only tests that bring their
        // own `[rate_limit]` table run with limits on.
        let rate_limit = if extra.contains("[rate_limit]") { "" } else { "\n[rate_limit]\nenabled = false\n" };
        let database = match (&self.pg, &self.mariadb) {
            (Some(name), _) => pg::PgServer::shared().config_lines(name),
            (None, Some(name)) => mariadb::MariaServer::shared().config_lines(name, self.dir.path()),
            (None, None) => format!("path = \"{}\"", self.db.display()),
        };
        let text = format!(
            "[database]\n{database}\n\n[dns]\nserver = \"{}\"\ntimeout_ms = 1500\ntsig_key = \"{}\"\n\n[[zones]]\nname = \"{ZONE}\"\n\n[auth]\nargon2_m_kib = 64\nargon2_t = 1\nargon2_p = 1\n\n[log]\nlevel = \"debug\"\n{extra}\n{rate_limit}",
            self.dns.addr(),
            self.key.line(),
        );
        std::fs::write(&self.config, text).expect("write config");
    }

    /// Rewrites the config file through `edit`, for tests that break one setting.
    pub fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(&self.config).expect("read config");
        std::fs::write(&self.config, edit(text)).expect("write config");
    }

    pub fn add_user(&self, name: &str, password: &str) {
        self.admin_stdin(
            &["user", "add", name, &format!("{name}@example.test"), "--password-stdin"],
            &format!("{password}\n"),
        )
        .success();
    }

    /// Runs an admin command with `--config` and a clean environment.
    pub fn admin(&self, args: &[&str]) -> Run {
        self.admin_stdin(args, "")
    }

    pub fn admin_stdin(&self, args: &[&str], stdin: &str) -> Run {
        self.admin_env(args, stdin, &[])
    }

    /// Runs an admin command with `--config`, `stdin` and only the variables `env`.
    pub fn admin_env(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(bin());
        cmd.env_clear().envs(env.iter().copied()).arg("--config").arg(&self.config).args(args);
        let run = Run::spawn(cmd, stdin.as_bytes(), format!("ddns-cgi {}", args.join(" ")));
        self.assert_no_secrets(&run);
        run
    }

    /// Every output of every run in the suite goes through here: none may show the world's
    /// password, its Basic credential, its TSIG secret or a host token (the security stance:
    /// secrets never reach logs, errors or answers). `hostname token` and `hostname import`
    /// print their new tokens on stdout, and nothing else does.
    #[track_caller]
    fn assert_no_secrets(&self, run: &Run) {
        let basic = base64(&format!("{USER}:{PASSWORD}"));
        let prints_token =
            run.what.starts_with("ddns-cgi hostname token ") || run.what.starts_with("ddns-cgi hostname import ");
        // The database account's password too, on MariaDB (its config carries one).
        let database = if self.mariadb.is_some() { mariadb::PASSWORD } else { PASSWORD };
        for (stream, text) in [("stdout", run.stdout()), ("stderr", run.stderr())] {
            for secret in [PASSWORD, basic.as_str(), self.key.secret_b64.as_str(), database] {
                assert!(!text.contains(secret), "{} printed a secret on {stream}:\n{text}", run.what);
            }
            let token_ok = prints_token && stream == "stdout";
            assert!(token_ok || !has_token(&text), "{} printed a host token on {stream}:\n{text}", run.what);
        }
    }

    /// Runs one CGI request.
    pub fn cgi(&self, req: &Cgi) -> Response {
        self.cgi_wrapped(req, &[])
    }

    /// Runs one CGI request under `wrapper` (a program and its arguments, e.g. `/usr/bin/time
    /// -o FILE`), which must exec the binary with the environment it was given.
    pub fn cgi_wrapped(&self, req: &Cgi, wrapper: &[&std::ffi::OsStr]) -> Response {
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(bin());
                c
            }
            None => Command::new(bin()),
        };
        cmd.env_clear()
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("SERVER_PROTOCOL", "HTTP/1.1")
            .env("DDNS_CGI_CONFIG", &self.config)
            .env("REQUEST_METHOD", &req.method)
            .env("SCRIPT_NAME", &req.path)
            .env("QUERY_STRING", &req.query)
            .env("REMOTE_ADDR", &req.remote_addr);
        if let Some((user, pass)) = &req.basic {
            cmd.env("HTTP_AUTHORIZATION", format!("Basic {}", base64(&format!("{user}:{pass}"))));
        }
        for (k, v) in &req.env {
            cmd.env(k, v);
        }
        if !req.body.is_empty() {
            cmd.env("CONTENT_LENGTH", req.body.len().to_string());
        }
        let run = Run::spawn(cmd, &req.body, format!("CGI {} {}?{}", req.method, req.path, req.query));
        self.assert_no_secrets(&run);
        Response::parse(&run)
    }

    /// An update as ddclient or curl would send it: GET /nic/update with Basic auth.
    pub fn update(&self, query: &str) -> Response {
        self.cgi(&Cgi::get(query).basic(USER, PASSWORD))
    }

    /// The same update started as a CGI process without waiting for it, as a web server
    /// starts several at once; the caller waits for the child and reads its output.
    pub fn spawn_update(&self, query: &str) -> std::process::Child {
        Command::new(bin())
            .env_clear()
            .env("GATEWAY_INTERFACE", "CGI/1.1")
            .env("DDNS_CGI_CONFIG", &self.config)
            .env("REQUEST_METHOD", "GET")
            .env("SCRIPT_NAME", "/nic/update")
            .env("QUERY_STRING", query)
            .env("REMOTE_ADDR", "198.51.100.77")
            .env("HTTP_AUTHORIZATION", format!("Basic {}", base64(&format!("{USER}:{PASSWORD}"))))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ddns-cgi")
    }

    /// The A and AAAA records of `fqdn` as the DNS server answers them.
    pub fn a(&self, fqdn: &str) -> Vec<String> {
        self.dns.query(fqdn, "A")
    }

    pub fn aaaa(&self, fqdn: &str) -> Vec<String> {
        self.dns.query(fqdn, "AAAA")
    }

    /// The stored `(ipv4, ipv6)` of a hostname, read straight from the database.
    pub fn stored(&self, fqdn: &str) -> (Option<String>, Option<String>) {
        if let Some(name) = &self.pg {
            let row = pg::PgServer::shared()
                .connect(name)
                .query_one("SELECT ipv4, ipv6 FROM hostnames WHERE fqdn = $1", &[&fqdn])
                .expect("hostname row");
            return (row.get(0), row.get(1));
        }
        if self.mariadb.is_some() {
            let sql = format!("SELECT ipv4, ipv6 FROM hostnames WHERE fqdn = '{fqdn}'");
            let mut rows = self.rows(&sql).into_iter();
            let mut row = rows.next().expect("hostname row").into_iter();
            return (row.next().flatten(), row.next().flatten());
        }
        let conn = rusqlite::Connection::open(&self.db).expect("open test database");
        conn.query_row("SELECT ipv4, ipv6 FROM hostnames WHERE fqdn = ?1", [fqdn], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("hostname row")
    }
}

impl World {
    /// Runs the expiry as of `now` (seconds since the epoch).
    pub fn expire(&self, now: i64) -> Run {
        self.admin(&["expire", "--now", &now.to_string()])
    }

    /// The rows a query returns, each value as text (`None` for NULL), from any engine.
    /// The SQL must mean the same to all three (no parameters: tests inline their constants).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        if let Some(name) = &self.pg {
            let messages = pg::PgServer::shared().connect(name).simple_query(sql).expect("test query");
            return messages
                .iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => {
                        Some((0..r.len()).map(|i| r.get(i).map(str::to_owned)).collect())
                    }
                    _ => None,
                })
                .collect();
        }
        if let Some(name) = &self.mariadb {
            return mariadb::rows(&mut mariadb::MariaServer::shared().connect(name), sql);
        }
        let conn = rusqlite::Connection::open(&self.db).expect("open test database");
        let mut stmt = conn.prepare(sql).expect("test query");
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            (0..n)
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        rusqlite::types::ValueRef::Null => None,
                        rusqlite::types::ValueRef::Integer(v) => Some(v.to_string()),
                        rusqlite::types::ValueRef::Real(v) => Some(v.to_string()),
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    })
                })
                .collect()
        })
        .expect("test query")
        .collect::<Result<_, _>>()
        .expect("test rows")
    }

    /// The one integer a query returns (a count), from any engine.
    pub fn count(&self, sql: &str) -> i64 {
        let rows = self.rows(sql);
        rows.first()
            .and_then(|r| r.first())
            .and_then(|v| v.as_deref())
            .and_then(|v| v.parse().ok())
            .expect("one integer")
    }

    /// Runs SQL on the database, for setting up states the CLI cannot reach quickly. The
    /// SQL must mean the same to every engine.
    pub fn sql(&self, sql: &str) {
        if let Some(name) = &self.pg {
            pg::PgServer::shared().connect(name).batch_execute(sql).expect("test SQL");
            return;
        }
        if let Some(name) = &self.mariadb {
            use mysql::prelude::Queryable as _;
            let mut conn = mariadb::MariaServer::shared().connect(name);
            conn.query_drop(sql).unwrap_or_else(|e| panic!("test SQL `{sql}`: {e}"));
            return;
        }
        let conn = rusqlite::Connection::open(&self.db).expect("open test database");
        conn.execute_batch(sql).expect("test SQL");
    }
}

/// The clock, in seconds since the epoch; updates over CGI stamp this time.
pub fn epoch() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A finished process.
#[derive(Debug)]
pub struct Run {
    pub what: String,
    pub output: Output,
}

impl Run {
    fn spawn(mut cmd: Command, stdin: &[u8], what: String) -> Run {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        if let Some(mut input) = child.stdin.take() {
            let _ = input.write_all(stdin);
        }
        let output = child.wait_with_output().unwrap_or_else(|e| panic!("cannot wait for {what}: {e}"));
        Run { what, output }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.output.status.code()
    }

    #[track_caller]
    pub fn success(&self) -> &Run {
        assert!(
            self.output.status.success(),
            "{} failed ({:?})\nstdout:\n{}\nstderr:\n{}",
            self.what,
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// A CGI request to run.
#[derive(Clone, Debug)]
pub struct Cgi {
    pub method: String,
    pub path: String,
    pub query: String,
    pub remote_addr: String,
    pub basic: Option<(String, String)>,
    pub env: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Cgi {
    pub fn get(query: &str) -> Cgi {
        Cgi {
            method: "GET".into(),
            path: "/nic/update".into(),
            query: query.into(),
            remote_addr: "198.51.100.77".into(),
            basic: None,
            env: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn basic(mut self, user: &str, pass: &str) -> Cgi {
        self.basic = Some((user.into(), pass.into()));
        self
    }

    pub fn path(mut self, path: &str) -> Cgi {
        self.path = path.into();
        self
    }

    pub fn remote(mut self, addr: &str) -> Cgi {
        self.remote_addr = addr.into();
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Cgi {
        self.env.push((k.into(), v.into()));
        self
    }

    pub fn post(mut self, content_type: &str, body: &str) -> Cgi {
        self.method = "POST".into();
        self.body = body.as_bytes().to_vec();
        self.env.push(("CONTENT_TYPE".into(), content_type.into()));
        self
    }
}

/// A parsed CGI response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub log: String,
}

impl Response {
    #[track_caller]
    fn parse(run: &Run) -> Response {
        let out = run.stdout();
        let log = run.stderr();
        let (head, body) = out
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no header/body separator in CGI output:\n{out}\nstderr:\n{log}"));
        let mut status = 0;
        let mut headers = Vec::new();
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(": ").unwrap_or_else(|| panic!("bad header line {line:?}"));
            if k == "Status" {
                status = v.split(' ').next().and_then(|s| s.parse().ok()).expect("numeric status");
            } else {
                headers.push((k.to_owned(), v.to_owned()));
            }
        }
        assert!(run.output.status.success(), "CGI process failed: {:?}\n{log}", run.output.status);
        Response { status, headers, body: body.to_owned(), log }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Asserts the status and exact body, and the headers every answer must have.
    #[track_caller]
    pub fn expect(&self, status: u16, body: &str) -> &Response {
        assert_eq!((self.status, self.body.as_str()), (status, body), "log:\n{}", self.log);
        assert_eq!(self.header("Content-Length"), Some(body.len().to_string().as_str()));
        assert_eq!(self.header("Cache-Control"), Some("no-store"));
        self
    }
}

/// Whether `text` holds a host token: `ddns_` and at least 43 base64url characters.
pub fn has_token(text: &str) -> bool {
    text.match_indices("ddns_").any(|(i, m)| {
        text[i + m.len()..].bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_').count() >= 43
    })
}

/// Standard base64, for Basic credentials.
pub fn base64(input: &str) -> String {
    dnsserver::base64_bytes(input.as_bytes())
}

/// Waits for two expiry runs started at once and asserts that exactly one expired the due
/// host while the other did nothing (it found the lock held, or nothing left), both exiting 0.
#[track_caller]
pub fn one_expiry_run_did_the_work(runs: [std::process::Child; 2]) {
    let outs: Vec<String> = runs
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().expect("wait");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            String::from_utf8_lossy(&o.stdout).into_owned()
        })
        .collect();
    let worked = outs.iter().filter(|o| o.starts_with("expired 1 hostnames")).count();
    let idle = outs
        .iter()
        .filter(|o| o.starts_with("another expiry run holds") || o.starts_with("expired 0 hostnames"))
        .count();
    assert_eq!((worked, idle), (1, 1), "{outs:?}");
}
