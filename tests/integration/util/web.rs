//! Real web servers in front of ddns-cgi for tests: nginx with fcgiwrap, nginx with
//! `ddns-cgi fastcgi`, Apache with mod_cgi, Apache with mod_fcgid. Each is configured from the
//! files shipped under `nginx/` and `apache/`, with only paths and ports replaced, listens on a
//! random loopback port, runs as `www-data` when the tests run as root, and is stopped on drop
//! (its logs are printed when the test failed). Requests go through real clients (`curl` here,
//! others in the tests); `FcgiClient` speaks raw FastCGI records to `ddns-cgi fastcgi`.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::dnsserver::{free_port, is_root, require_program};
use super::{World, bin};

/// The unprivileged user the web servers run as when the tests run as root.
pub const WEB_USER: &str = "www-data";

/// Which web server, and how it runs ddns-cgi.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Front {
    /// nginx → fcgiwrap → ddns-cgi as CGI (`nginx/ddns-cgi-fcgiwrap.conf`).
    NginxFcgiwrap,
    /// nginx → `ddns-cgi fastcgi --socket` with keep-alive (`nginx/ddns-cgi-fastcgi.conf`).
    NginxFastcgi,
    /// Apache prefork + mod_cgi (`apache/ddns-cgi.conf`).
    ApacheCgi,
    /// Apache event + mod_cgid, Debian's default (`apache/ddns-cgi.conf`).
    ApacheCgid,
    /// Apache + mod_fcgid, which starts ddns-cgi with the listening socket on fd 0
    /// (`apache/ddns-cgi-fcgid.conf`).
    ApacheFcgid,
}

/// The repository file `rel`, as shipped.
pub fn shipped(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Makes `cmd` run as [`WEB_USER`] when we are root, without supplementary groups.
fn unprivileged(program: &Path) -> Command {
    if is_root() {
        let mut cmd = super::netns::command("setpriv");
        cmd.arg(format!("--reuid={WEB_USER}"))
            .arg(format!("--regid={WEB_USER}"))
            .arg("--clear-groups")
            .arg("--")
            .arg(program);
        cmd
    } else {
        super::netns::command(program)
    }
}

/// Hands the world's files (config, database) to the web user, so the CGI/FastCGI process
/// can read the config and write the database and its -wal/-shm files.
pub fn give_to_web_user(dir: &Path) {
    if is_root() {
        // A file that goes away during the walk (a server's temporary file) fails `chown -R`;
        // walking again finds the directory as it is then.
        let chown = || {
            Command::new("chown").arg("-R").arg(format!("{WEB_USER}:{WEB_USER}")).arg(dir).status().expect("run chown")
        };
        let done = (0..3).any(|_| chown().success());
        assert!(done, "chown {} failed three times", dir.display());
    }
}

/// A process of the web stack.
struct Proc {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Proc {
        let out = std::fs::File::create(&log).expect("create log");
        let err = out.try_clone().expect("clone log");
        // Its own process group: Apache prefork signals its whole group when it stops, which
        // would otherwise hit the web servers of tests running in parallel.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { name, child, log }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM to its process group (fcgiwrap's forked workers do not stop with their
    /// parent), then SIGKILL to the group after a while and for any member left.
    fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill").arg(sig).arg("--").arg(&group).stderr(Stdio::null()).status();
        };
        if self.alive() {
            signal("-TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Members that outlive the leader keep the group id, so it is not reused yet.
        signal("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running web server with ddns-cgi behind it.
pub struct WebServer {
    pub front: Front,
    pub port: u16,
    pub dir: PathBuf,
    procs: Vec<Proc>,
}

impl WebServer {
    /// Starts `front` for `world`. `None` (after a loud skip) when a program is missing.
    pub fn start(world: &World, front: Front) -> Option<WebServer> {
        require_program("curl", "curl")?;
        match front {
            Front::NginxFcgiwrap => {
                require_program("nginx", "nginx")?;
                require_program("fcgiwrap", "fcgiwrap")?;
            }
            Front::NginxFastcgi => {
                require_program("nginx", "nginx")?;
            }
            Front::ApacheCgi | Front::ApacheCgid => {
                require_program("apache2", "apache2")?;
            }
            Front::ApacheFcgid => {
                require_program("apache2", "apache2")?;
                if !Path::new(APACHE_MODULES).join("mod_fcgid.so").is_file() {
                    require_program("mod_fcgid.so", "libapache2-mod-fcgid")?;
                }
            }
        }
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = world.dir.path().join(format!("web-{}", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(dir.join("tmp")).expect("create web dir");
        // The binary as the web user can reach it, whatever the permissions of the checkout.
        let program = dir.join("ddns-cgi");
        if std::fs::hard_link(bin(), &program).is_err() {
            std::fs::copy(bin(), &program).expect("copy ddns-cgi");
        }
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let mut server = WebServer { front, port, dir: dir.clone(), procs: Vec::new() };
            give_to_web_user(world.dir.path());
            match server.spawn(world, &program) {
                Ok(()) => return Some(server),
                Err(e) => {
                    last = e;
                    server.stop();
                }
            }
        }
        panic!("{front:?} did not start:\n{last}");
    }

    fn spawn(&mut self, world: &World, program: &Path) -> Result<(), String> {
        let dir = self.dir.clone();
        assert_eq!(program, dir.join("ddns-cgi"));
        let template = |text: String| {
            // The binary sits in the web dir, so `/usr/lib/cgi-bin` (its directory in the shipped
            // files) becomes the web dir.
            text.replace("/usr/lib/cgi-bin", &dir.display().to_string())
                .replace("/etc/ddns-cgi/config.toml", &world.config.display().to_string())
                .replace("/run/fcgiwrap.socket", &dir.join("fcgiwrap.sock").display().to_string())
                .replace("/run/ddns-cgi/fastcgi.sock", &dir.join("fastcgi.sock").display().to_string())
        };
        match self.front {
            Front::NginxFcgiwrap => {
                let mut cmd = unprivileged(&super::dnsserver::find_program("fcgiwrap").expect("checked"));
                cmd.arg("-c").arg("4").arg("-s").arg(format!("unix:{}", dir.join("fcgiwrap.sock").display()));
                self.procs.push(Proc::spawn("fcgiwrap", cmd, dir.join("fcgiwrap.log")));
                self.wait_for_file(&dir.join("fcgiwrap.sock"))?;
                std::fs::write(dir.join("locations.conf"), template(shipped("nginx/ddns-cgi-fcgiwrap.conf")))
                    .expect("write locations");
                self.spawn_nginx("")?;
            }
            Front::NginxFastcgi => {
                let mut cmd = unprivileged(program);
                cmd.env_clear()
                    .arg("--config")
                    .arg(&world.config)
                    .arg("fastcgi")
                    .arg("--socket")
                    .arg(dir.join("fastcgi.sock"));
                self.procs.push(Proc::spawn("ddns-cgi fastcgi", cmd, dir.join("fastcgi.log")));
                self.wait_for_file(&dir.join("fastcgi.sock"))?;
                std::fs::write(dir.join("locations.conf"), template(shipped("nginx/ddns-cgi-fastcgi.conf")))
                    .expect("write locations");
                std::fs::write(dir.join("upstream.conf"), template(shipped("nginx/ddns-cgi-upstream.conf")))
                    .expect("write upstream");
                self.spawn_nginx(&format!("include {}/upstream.conf;", dir.display()))?;
            }
            Front::ApacheCgi => {
                std::fs::write(dir.join("ddns-cgi.conf"), template(shipped("apache/ddns-cgi.conf")))
                    .expect("write apache conf");
                self.spawn_apache(
                    "LoadModule mpm_prefork_module mpm_prefork\nLoadModule cgi_module cgi",
                    "ddns-cgi.conf",
                )?;
            }
            Front::ApacheCgid => {
                std::fs::write(dir.join("ddns-cgi.conf"), template(shipped("apache/ddns-cgi.conf")))
                    .expect("write apache conf");
                let modules = format!(
                    "LoadModule mpm_event_module mpm_event\nLoadModule cgid_module cgid\nScriptSock {}/cgid.sock",
                    dir.display()
                );
                self.spawn_apache(&modules, "ddns-cgi.conf")?;
            }
            Front::ApacheFcgid => {
                std::fs::create_dir_all(dir.join("fcgid")).expect("fcgid dir");
                std::fs::write(dir.join("ddns-cgi-fcgid.conf"), template(shipped("apache/ddns-cgi-fcgid.conf")))
                    .expect("write apache conf");
                let modules = format!(
                    "LoadModule mpm_prefork_module mpm_prefork\nLoadModule fcgid_module fcgid\nFcgidIPCDir {0}/fcgid\nFcgidProcessTableFile {0}/fcgid/shm",
                    dir.display()
                );
                self.spawn_apache(&modules, "ddns-cgi-fcgid.conf")?;
            }
        }
        give_to_web_user(&dir);
        Ok(())
    }

    /// Starts `front` in `dir` in front of what the Debian package installed: the program
    /// (`/usr/lib/cgi-bin/ddns-cgi`), its config and database, and the web-server snippet as
    /// installed. Apache includes `/etc/apache2/conf-available/ddns-cgi.conf` itself; nginx
    /// gets `/etc/nginx/snippets/ddns-cgi-fcgiwrap.conf` with only the fcgiwrap socket moved
    /// into `dir`, since a system fcgiwrap may hold the shipped path. `ApacheCgid` and
    /// `NginxFcgiwrap` only.
    pub fn start_installed(front: Front, dir: &Path) -> WebServer {
        std::fs::create_dir_all(dir.join("tmp")).expect("create web dir");
        let mut last = String::new();
        for _ in 0..5 {
            let mut server = WebServer { front, port: free_port(), dir: dir.to_owned(), procs: Vec::new() };
            match server.spawn_installed() {
                Ok(()) => return server,
                Err(e) => {
                    last = e;
                    server.stop();
                }
            }
        }
        panic!("{front:?} did not start:\n{last}");
    }

    fn spawn_installed(&mut self) -> Result<(), String> {
        let dir = self.dir.clone();
        match self.front {
            Front::ApacheCgid => {
                std::fs::write(dir.join("ddns-cgi.conf"), "Include /etc/apache2/conf-available/ddns-cgi.conf\n")
                    .expect("write apache conf");
                let modules = format!(
                    "LoadModule mpm_event_module mpm_event\nLoadModule cgid_module cgid\nScriptSock {}/cgid.sock",
                    dir.display()
                );
                self.spawn_apache(&modules, "ddns-cgi.conf")
            }
            Front::NginxFcgiwrap => {
                let socket = dir.join("fcgiwrap.sock");
                let _ = std::fs::remove_file(&socket);
                give_to_web_user(&dir);
                let mut cmd = unprivileged(&super::dnsserver::find_program("fcgiwrap").expect("fcgiwrap"));
                cmd.arg("-c").arg("2").arg("-s").arg(format!("unix:{}", socket.display()));
                self.procs.push(Proc::spawn("fcgiwrap", cmd, dir.join("fcgiwrap.log")));
                self.wait_for_file(&socket)?;
                let snippet = std::fs::read_to_string("/etc/nginx/snippets/ddns-cgi-fcgiwrap.conf")
                    .map_err(|e| format!("read the installed nginx snippet: {e}"))?;
                std::fs::write(
                    dir.join("locations.conf"),
                    snippet.replace("/run/fcgiwrap.socket", &socket.display().to_string()),
                )
                .expect("write locations");
                self.spawn_nginx("")
            }
            other => panic!("{other:?} is not started from the package"),
        }
    }

    fn spawn_nginx(&mut self, http_extra: &str) -> Result<(), String> {
        let dir = self.dir.display().to_string();
        // `include fastcgi_params` in the shipped files is relative to the config's directory.
        std::fs::copy("/etc/nginx/fastcgi_params", self.dir.join("fastcgi_params"))
            .map_err(|e| format!("copy fastcgi_params: {e}"))?;
        let conf = format!(
            "daemon off;\nworker_processes 2;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log info;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n  access_log {dir}/access.log;\n  client_body_temp_path {dir}/tmp/body;\n  fastcgi_temp_path {dir}/tmp/fastcgi;\n  proxy_temp_path {dir}/tmp/proxy;\n  uwsgi_temp_path {dir}/tmp/uwsgi;\n  scgi_temp_path {dir}/tmp/scgi;\n  {http_extra}\n\
             server {{\n    listen 127.0.0.1:{};\n    server_name localhost;\n    include {dir}/locations.conf;\n  }}\n}}\n",
            self.port
        );
        std::fs::write(self.dir.join("nginx.conf"), conf).expect("write nginx.conf");
        give_to_web_user(&self.dir);
        let mut cmd = unprivileged(&super::dnsserver::find_program("nginx").expect("checked"));
        cmd.arg("-e")
            .arg(self.dir.join("error.log"))
            .arg("-p")
            .arg(&self.dir)
            .arg("-c")
            .arg(self.dir.join("nginx.conf"));
        self.procs.push(Proc::spawn("nginx", cmd, self.dir.join("nginx.log")));
        self.wait_for_port()
    }

    fn spawn_apache(&mut self, modules: &str, include: &str) -> Result<(), String> {
        let dir = self.dir.display().to_string();
        let m = |name: &str, file: &str| format!("LoadModule {name}_module {APACHE_MODULES}/mod_{file}.so\n");
        let mut load = String::new();
        for (name, file) in [("authz_core", "authz_core"), ("alias", "alias"), ("env", "env"), ("setenvif", "setenvif")]
        {
            load.push_str(&m(name, file));
        }
        for line in modules.lines() {
            match line.strip_prefix("LoadModule ").and_then(|l| l.split_once(' ')) {
                Some((name, file)) => load.push_str(&m(name.trim_end_matches("_module"), file)),
                None => {
                    load.push_str(line);
                    load.push('\n');
                }
            }
        }
        // The access log leaves out requests with a token in the path, as the shipped files
        // tell operators to (`env=!ddns_token_path`).
        let conf = format!(
            "ServerRoot {dir}\nServerName localhost\nListen 127.0.0.1:{port}\nPidFile {dir}/apache.pid\n\
             DefaultRuntimeDir {dir}\nMutex file:{dir} default\nErrorLog {dir}/error.log\nLogLevel info\n\
             {load}\
             StartServers 2\n\
             LogFormat \"%h %l %u %t \\\"%r\\\" %>s %b\" common\nCustomLog {dir}/access.log common env=!ddns_token_path\n\
             Include {dir}/{include}\n",
            port = self.port
        );
        std::fs::write(self.dir.join("apache.conf"), conf).expect("write apache.conf");
        give_to_web_user(&self.dir);
        let mut cmd = unprivileged(&super::dnsserver::find_program("apache2").expect("checked"));
        cmd.arg("-f").arg(self.dir.join("apache.conf")).arg("-DFOREGROUND");
        self.procs.push(Proc::spawn("apache2", cmd, self.dir.join("apache.log")));
        self.wait_for_port()
    }

    fn wait_for_file(&mut self, path: &Path) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !path.exists() {
            if Instant::now() > deadline || !self.procs.iter_mut().all(Proc::alive) {
                return Err(format!("{} did not appear\n{}", path.display(), self.logs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Whether the server's port takes connections: from here, or from inside the namespace
    /// it runs in ([`super::netns::inside`]), where only a command can connect.
    fn port_open(&self) -> bool {
        if super::netns::current().is_none() {
            return TcpStream::connect(("127.0.0.1", self.port)).is_ok();
        }
        let url = format!("http://127.0.0.1:{}/", self.port);
        super::netns::command("curl")
            .args(["-s", "-o", "/dev/null", "--max-time", "1", &url])
            .status()
            .is_ok_and(|s| s.success())
    }

    fn wait_for_port(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if !self.procs.iter_mut().all(Proc::alive) {
                return Err(format!("a process exited\n{}", self.logs()));
            }
            if self.port_open() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("port {} not open within 15 s\n{}", self.port, self.logs()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://127.0.0.1:PORT` + `path_and_query`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("http://127.0.0.1:{}{path_and_query}", self.port)
    }

    /// The process id of `ddns-cgi fastcgi` (NginxFastcgi only).
    pub fn fastcgi_pid(&self) -> Option<u32> {
        self.procs.iter().find(|p| p.name == "ddns-cgi fastcgi").map(|p| p.child.id())
    }

    /// Sends `sig` (e.g. `-TERM`) to `ddns-cgi fastcgi`.
    pub fn signal_fastcgi(&self, sig: &str) {
        let pid = self.fastcgi_pid().expect("a ddns-cgi fastcgi process");
        let status = Command::new("kill").arg(sig).arg(pid.to_string()).status().expect("run kill");
        assert!(status.success(), "kill {sig} {pid} failed");
    }

    /// Waits up to 60 s for `ddns-cgi fastcgi` to exit; its exit status.
    pub fn wait_fastcgi(&mut self) -> Option<std::process::ExitStatus> {
        let p = self.procs.iter_mut().find(|p| p.name == "ddns-cgi fastcgi")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = p.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What `ddns-cgi fastcgi` wrote to stderr.
    pub fn fastcgi_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("fastcgi.log")).unwrap_or_default()
    }

    /// The FastCGI socket of `ddns-cgi fastcgi` (NginxFastcgi only).
    pub fn fastcgi_socket(&self) -> PathBuf {
        self.dir.join("fastcgi.sock")
    }

    /// Every log of the stack, for failure messages.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for p in &self.procs {
            out.push_str(&format!("--- {} ---\n{}", p.name, std::fs::read_to_string(&p.log).unwrap_or_default()));
        }
        for f in ["error.log", "access.log"] {
            let text = std::fs::read_to_string(self.dir.join(f)).unwrap_or_default();
            out.push_str(&format!("--- {f} ---\n{text}"));
        }
        out
    }

    /// Stops the whole stack with SIGTERM, front first.
    pub fn stop(&mut self) {
        while let Some(mut p) = self.procs.pop() {
            p.stop();
        }
    }
}

impl Drop for WebServer {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- {:?} logs ({}) ---\n{}", self.front, self.dir.display(), self.logs());
        }
        self.stop();
    }
}

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

const APACHE_MODULES: &str = "/usr/lib/apache2/modules";

/// An HTTP response as a client saw it.
#[derive(Debug)]
pub struct Http {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Everything the client printed, for failure messages.
    pub raw: String,
}

impl Http {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Asserts status and exact body, and that the body came with a Content-Length.
    #[track_caller]
    pub fn expect(&self, status: u16, body: &str) -> &Http {
        assert_eq!((self.status, self.body.as_str()), (status, body), "response:\n{}", self.raw);
        assert_eq!(self.header("Content-Length"), Some(body.len().to_string().as_str()), "{}", self.raw);
        assert_eq!(self.header("Transfer-Encoding"), None, "{}", self.raw);
        self
    }
}

/// Runs `curl -i` with `args` and parses the last response it printed.
pub fn curl(args: &[&str]) -> Http {
    let out = super::netns::command("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl: {e}"));
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "curl {args:?} failed: {}{raw}", String::from_utf8_lossy(&out.stderr));
    parse_http(&raw)
}

/// Parses `HTTP/1.x status ...` head(s) and the body after the last one.
pub fn parse_http(raw: &str) -> Http {
    let mut rest = raw;
    let mut parsed = None;
    while rest.starts_with("HTTP/") {
        let Some((head, body)) = rest.split_once("\r\n\r\n") else { break };
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers =
            lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
        parsed = Some((status, headers));
        rest = body;
    }
    let (status, headers) = parsed.unwrap_or_else(|| panic!("no HTTP response in:\n{raw}"));
    Http { status, headers, body: rest.to_owned(), raw: raw.to_owned() }
}

/// A minimal FastCGI client over a unix socket (FastCGI 1.0 records, §3.3), for the
/// robustness tests: it can stop anywhere in a request.
pub struct FcgiClient {
    pub stream: Box<dyn Conn>,
}

/// A unix or TCP connection.
pub trait Conn: std::io::Read + std::io::Write + Send {
    fn shutdown_write(&self);
    fn set_read_timeout(&self, timeout: Duration);
}

impl Conn for UnixStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }

    fn set_read_timeout(&self, timeout: Duration) {
        UnixStream::set_read_timeout(self, Some(timeout)).expect("timeout");
    }
}

impl Conn for TcpStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }

    fn set_read_timeout(&self, timeout: Duration) {
        TcpStream::set_read_timeout(self, Some(timeout)).expect("timeout");
    }
}

/// FastCGI record types used here (§8).
pub const BEGIN_REQUEST: u8 = 1;
pub const ABORT_REQUEST: u8 = 2;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const GET_VALUES: u8 = 9;

/// A name-value pair header (§3.4): each length in 1 byte below 128, else in 4 bytes with the
/// high bit set. The lengths may claim more than follows.
pub fn pair_header(name_len: u32, value_len: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for len in [name_len, value_len] {
        match u8::try_from(len) {
            Ok(b) if b < 128 => out.push(b),
            _ => out.extend_from_slice(&(len | 0x8000_0000).to_be_bytes()),
        }
    }
    out
}

impl FcgiClient {
    pub fn connect(path: &Path) -> FcgiClient {
        let stream = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        FcgiClient { stream: Box::new(stream) }
    }

    pub fn connect_tcp(port: u16) -> FcgiClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect port {port}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        FcgiClient { stream: Box::new(stream) }
    }

    /// Waits until the server closes the connection (end of stream or reset); how long that
    /// took, or `None` if it was still open after `limit`. Anything the server sends first is
    /// read and dropped.
    pub fn wait_closed(&mut self, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        while started.elapsed() < limit {
            match self.stream.read(&mut buf) {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => {}
                // A read interrupted by a signal (the suite's child processes come and go) is
                // not the peer closing.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    eprintln!("wait_closed: read failed after {:?}: {e}", started.elapsed());
                    return Some(started.elapsed());
                }
            }
        }
        None
    }

    /// Sets the read timeout (30 s after `connect`).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(timeout);
    }

    /// Raw bytes, for malformed input; false when the peer closed.
    pub fn write_raw(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// One record with `content`; returns false when the peer closed.
    pub fn record(&mut self, kind: u8, id: u16, content: &[u8]) -> bool {
        let len = u16::try_from(content.len()).expect("record content fits in u16");
        let [id_hi, id_lo] = id.to_be_bytes();
        let [len_hi, len_lo] = len.to_be_bytes();
        let mut rec = vec![1, kind, id_hi, id_lo, len_hi, len_lo, 0, 0];
        rec.extend_from_slice(content);
        self.stream.write_all(&rec).is_ok()
    }

    pub fn begin(&mut self, id: u16, keep_conn: bool) -> bool {
        self.record(BEGIN_REQUEST, id, &[0, 1, u8::from(keep_conn), 0, 0, 0, 0, 0])
    }

    pub fn params(&mut self, id: u16, params: &[(&str, &str)]) -> bool {
        let mut content = Vec::new();
        for (k, v) in params {
            let len = |s: &str| u32::try_from(s.len()).expect("param fits in u32");
            content.extend_from_slice(&pair_header(len(k), len(v)));
            content.extend_from_slice(k.as_bytes());
            content.extend_from_slice(v.as_bytes());
        }
        self.record(PARAMS, id, &content) && self.record(PARAMS, id, &[])
    }

    /// A whole request; the stdin stream is closed with an empty record.
    pub fn request(&mut self, id: u16, keep_conn: bool, params: &[(&str, &str)], body: &[u8]) -> bool {
        self.begin(id, keep_conn)
            && self.params(id, params)
            && (body.is_empty() || self.record(STDIN, id, body))
            && self.record(STDIN, id, &[])
    }

    /// Reads records until END_REQUEST of `id`; returns the STDOUT bytes, `None` when the
    /// connection ended first.
    pub fn response(&mut self, id: u16) -> Option<Vec<u8>> {
        let mut stdout = Vec::new();
        loop {
            let mut head = [0u8; 8];
            self.stream.read_exact(&mut head).ok()?;
            let len = usize::from(u16::from_be_bytes([head[4], head[5]]));
            let mut content = vec![0u8; len + usize::from(head[6])];
            self.stream.read_exact(&mut content).ok()?;
            let rid = u16::from_be_bytes([head[2], head[3]]);
            match head[1] {
                STDOUT if rid == id => stdout.extend_from_slice(&content[..len]),
                END_REQUEST if rid == id => return Some(stdout),
                _ => {}
            }
        }
    }
}

/// FastCGI params as nginx's `fastcgi_params` sends them for an update.
pub fn fcgi_update_params<'a>(query: &'a str, authorization: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", "/nic/update"),
        ("QUERY_STRING", query),
        ("REMOTE_ADDR", "198.51.100.7"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("HTTP_AUTHORIZATION", authorization),
        ("HTTP_HOST", "ddns.example.test"),
    ]
}

/// Runs the binary as CGI with exactly `params` as its environment (plus the config) and
/// `body` on stdin; the raw stdout, to compare with a FastCGI answer byte for byte.
pub fn cgi_raw(world: &World, params: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(bin());
    cmd.env_clear().env("DDNS_CGI_CONFIG", &world.config);
    for (k, v) in params {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run ddns-cgi");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(body);
    }
    let out = child.wait_with_output().expect("wait for ddns-cgi");
    assert!(out.status.success(), "CGI failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}
