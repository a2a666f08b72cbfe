//! A real SMTP server for the mail tests: Debian's `python3-aiosmtpd` with its `Mailbox`
//! handler, which stores each accepted message in a Maildir and adds the envelope as
//! `X-MailFrom`/`X-RcptTo` headers. Started on a loopback port (as `nobody` when the tests
//! run as root), killed on drop.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::TempDir;
use super::dnsserver::free_port;

/// The Python interpreters that may carry aiosmtpd: Debian's first, then whatever is on PATH.
const PYTHONS: &[&str] = &["/usr/bin/python3", "python3"];

/// A Python that can import aiosmtpd. When there is none the test fails, or skips visibly
/// under `DDNS_SKIP_SERVERS=1` (see `util::skip`).
pub fn require_aiosmtpd() -> Option<PathBuf> {
    super::skip::policy();
    for python in PYTHONS {
        let ok = Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(PathBuf::from(python));
        }
    }
    super::skip::missing("aiosmtpd", "python3-aiosmtpd")
}

/// A port for a server that may start later (to test "SMTP down, then up").
pub struct SmtpServer {
    pub port: u16,
    dir: TempDir,
    python: PathBuf,
    child: Option<Child>,
}

impl SmtpServer {
    /// Picks a port and a Maildir but does not start the server yet.
    pub fn prepare() -> Option<SmtpServer> {
        let python = require_aiosmtpd()?;
        let dir = TempDir::new("smtp");
        Some(SmtpServer { port: free_port(), dir, python, child: None })
    }

    /// A started server.
    pub fn start() -> Option<SmtpServer> {
        let mut s = SmtpServer::prepare()?;
        s.run();
        Some(s)
    }

    /// The `[email]` section that sends to this server.
    pub fn config(&self) -> String {
        format!(
            "[email]\nenabled = true\ntransport = \"smtp\"\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom_address = \"ddns@example.test\"\n",
            self.port
        )
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("Maildir")
    }

    /// Starts the server and waits until it accepts connections.
    pub fn run(&mut self) {
        let maildir = self.maildir();
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).expect("create maildir");
        }
        let mut cmd = if is_root() {
            // A server started by root runs as nobody; it must own its Maildir.
            let status = Command::new("chown").arg("-R").arg("nobody:nogroup").arg(self.dir.path()).status();
            assert!(status.is_ok_and(|s| s.success()), "chown maildir failed");
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]).arg(&self.python);
            c
        } else {
            Command::new(&self.python)
        };
        cmd.args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{}", self.port),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(&maildir)
        .env_clear()
        .env("HOME", self.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("aiosmtpd exited with {status}");
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not listen within 15 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// Every message received so far, as text, oldest first.
    pub fn messages(&self) -> Vec<String> {
        let dir = self.maildir().join("new");
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(Result::ok)
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
            .collect();
        files.sort();
        files.iter().map(|(_, p)| read(p)).collect()
    }
}

fn read(p: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(p).expect("read message")).into_owned()
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)).map(|u| u == "0")
        })
        .unwrap_or(false)
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
