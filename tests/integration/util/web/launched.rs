//! `ddns-cgi fastcgi` started the way a service manager starts it: systemd socket activation,
//! `spawn-fcgi` (the socket on fd 0, as mod_fcgid does), or `--listen`, as the web user.

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::super::dnsserver::{free_port, require_program};
use super::super::{World, bin};
use super::{Proc, give_to_web_user, unprivileged};

/// `ddns-cgi` started by a launcher the way a service manager would: systemd socket
/// activation (`systemd-socket-activate`, LISTEN_FDS) or `spawn-fcgi` (the socket on fd 0,
/// as mod_fcgid does it), as the web user; stopped with SIGTERM on drop.
pub struct Launched {
    proc: Proc,
}

/// How [`Launched`] starts ddns-cgi.
#[derive(Clone, Copy, Debug)]
pub enum Launcher {
    /// `systemd-socket-activate -l SOCKET ddns-cgi fastcgi`.
    SystemdUnix,
    /// `spawn-fcgi -a 127.0.0.1 -p PORT -n -- ddns-cgi`: a TCP listener on fd 0.
    SpawnFcgiTcp,
    /// `FCGI_WEB_SERVER_ADDRS=127.0.0.1 ddns-cgi fastcgi --listen 127.0.0.1:PORT`.
    Listen,
}

/// Extras for [`Launched::start_with`] (`ddns-cgi fastcgi --listen` only).
#[derive(Clone, Copy, Debug, Default)]
pub struct LaunchOptions<'a> {
    /// More `ddns-cgi fastcgi` arguments, e.g. `["--idle-timeout", "1"]`.
    pub args: &'a [&'a str],
    /// The process's address-space limit (`prlimit --as`), so that an allocation a small
    /// machine could not make fails here too instead of being overcommitted.
    pub address_space_bytes: Option<u64>,
}

impl Launched {
    /// Starts it; the unix socket path or TCP port to connect to. `None` if the launcher is
    /// missing (loud skip).
    pub fn start(world: &World, launcher: Launcher) -> Option<(Launched, PathBuf, u16)> {
        Launched::start_with(world, launcher, LaunchOptions::default())
    }

    pub fn start_with(
        world: &World,
        launcher: Launcher,
        options: LaunchOptions<'_>,
    ) -> Option<(Launched, PathBuf, u16)> {
        let (program, package) = match launcher {
            Launcher::SystemdUnix => ("systemd-socket-activate", "systemd"),
            Launcher::SpawnFcgiTcp => ("spawn-fcgi", "spawn-fcgi"),
            Launcher::Listen => ("ddns-cgi", ""),
        };
        let path = match launcher {
            Launcher::Listen => PathBuf::from(bin()),
            _ => require_program(program, package)?,
        };
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = world.dir.path().join(format!("launched-{}", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).expect("create dir");
        let bin_copy = dir.join("ddns-cgi");
        if std::fs::hard_link(bin(), &bin_copy).is_err() {
            std::fs::copy(bin(), &bin_copy).expect("copy ddns-cgi");
        }
        give_to_web_user(world.dir.path());
        let socket = dir.join("fastcgi.sock");
        let port = free_port();
        assert!(
            matches!(launcher, Launcher::Listen) || (options.args.is_empty() && options.address_space_bytes.is_none()),
            "launch options are for `--listen` only"
        );
        let prlimit = match options.address_space_bytes {
            Some(_) => Some(require_program("prlimit", "util-linux")?),
            None => None,
        };
        let exe = match (&prlimit, launcher) {
            (Some(prlimit), _) => prlimit.as_path(),
            (None, Launcher::Listen) => bin_copy.as_path(),
            (None, _) => path.as_path(),
        };
        let mut cmd = unprivileged(exe);
        if let Some(bytes) = options.address_space_bytes {
            // prlimit sets the limit and executes the program: the pid stays ddns-cgi's.
            cmd.arg(format!("--as={bytes}")).arg("--").arg(&bin_copy);
        }
        match launcher {
            Launcher::Listen => {
                // The web server's address: `--listen` refuses to start without it.
                cmd.env_clear().env("FCGI_WEB_SERVER_ADDRS", "127.0.0.1").arg("--config").arg(&world.config).args([
                    "fastcgi",
                    "--workers",
                    "2",
                    "--listen",
                    &format!("127.0.0.1:{port}"),
                ]);
                cmd.args(options.args);
            }
            Launcher::SystemdUnix => {
                cmd.arg("-l").arg(&socket).arg(&bin_copy).arg("--config").arg(&world.config).arg("fastcgi");
            }
            Launcher::SpawnFcgiTcp => {
                cmd.env("DDNS_CGI_CONFIG", &world.config)
                    .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-n", "--"])
                    .arg(&bin_copy);
            }
        }
        let mut launched = Launched { proc: Proc::spawn(program_name(launcher), cmd, dir.join("launched.log")) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let ready = match launcher {
                Launcher::SystemdUnix => socket.exists(),
                Launcher::SpawnFcgiTcp | Launcher::Listen => TcpStream::connect(("127.0.0.1", port)).is_ok(),
            };
            if ready {
                return Some((launched, socket, port));
            }
            assert!(launched.proc.alive() && Instant::now() < deadline, "{program} did not start:\n{}", launched.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.proc.log).unwrap_or_default()
    }

    /// The launched process's id (ddns-cgi's own with `Launcher::Listen`).
    pub fn pid(&self) -> u32 {
        self.proc.child.id()
    }

    /// Sends `sig` (`-TERM`, `-KILL`) and waits up to 30 s for the process to end.
    pub fn signal_and_wait(&mut self, sig: &str) {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill").arg(sig).arg(&pid).status().expect("run kill");
        assert!(sent.success(), "kill {sig} {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.proc.alive() {
            assert!(Instant::now() < deadline, "{pid} did not end after {sig}:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the launched process still runs.
    pub fn alive(&mut self) -> bool {
        self.proc.alive()
    }

    /// The peak resident set size of the launched process (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.child.id())).expect("proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in:\n{status}"))
    }
}

fn program_name(launcher: Launcher) -> &'static str {
    match launcher {
        Launcher::SystemdUnix => "systemd-socket-activate",
        Launcher::SpawnFcgiTcp => "spawn-fcgi",
        Launcher::Listen => "ddns-cgi fastcgi --listen",
    }
}

impl Drop for Launched {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- {} log ---\n{}", self.proc.name, self.log());
        }
        self.proc.stop();
    }
}
