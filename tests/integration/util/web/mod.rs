//! Real web servers in front of ddns-cgi for tests: nginx with fcgiwrap, nginx with
//! `ddns-cgi fastcgi`, Apache with mod_cgi, Apache with mod_fcgid. Each is configured from the
//! files shipped under `nginx/` and `apache/`, with only paths and ports replaced, listens on a
//! random loopback port, runs as `www-data` when the tests run as root, and is stopped on drop
//! (its logs are printed when the test failed). Requests go through real clients (`curl` here,
//! others in the tests; `http` parses what `curl` printed); `fcgi`'s `FcgiClient` speaks raw
//! FastCGI records to `ddns-cgi fastcgi`, and `launched` starts that server the way a service
//! manager does.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::dnsserver::{free_port, is_root, require_program};
use super::{World, bin};

mod fcgi;
mod http;
mod launched;

pub use fcgi::*;
pub use http::*;
pub use launched::*;

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
    /// nginx serving files and nothing else ([`WebServer::start_static`]): pages for the
    /// tests of the harness itself.
    NginxStatic,
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
            Front::NginxStatic => panic!("a static nginx starts with WebServer::start_static"),
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
            Front::NginxStatic => unreachable!("checked in start"),
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

    /// nginx serving the files under `dir/site` as they are, with no ddns-cgi behind it.
    pub fn start_static(dir: &Path) -> Option<WebServer> {
        require_program("nginx", "nginx")?;
        std::fs::create_dir_all(dir.join("tmp")).expect("create web dir");
        std::fs::create_dir_all(dir.join("site")).expect("create site dir");
        std::fs::write(dir.join("locations.conf"), format!("root {};\n", dir.join("site").display()))
            .expect("write locations");
        let mut last = String::new();
        for _ in 0..5 {
            let mut server =
                WebServer { front: Front::NginxStatic, port: free_port(), dir: dir.to_owned(), procs: Vec::new() };
            match server.spawn_nginx("") {
                Ok(()) => return Some(server),
                Err(e) => {
                    last = e;
                    server.stop();
                }
            }
        }
        panic!("nginx did not start:\n{last}");
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

const APACHE_MODULES: &str = "/usr/lib/apache2/modules";
