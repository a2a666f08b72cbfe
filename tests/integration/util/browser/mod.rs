//! Real browsers for the web console's tests: Debian's `chromium`, headless, driven over
//! WebDriver by Debian's `chromedriver` (package `chromium-driver`) through the `fantoccini`
//! client. A [`Driver`] is one chromedriver on a free loopback port, stopped with every browser
//! it started on drop (its log printed when the test failed); a [`Browser`] is one session with
//! a fresh profile, JavaScript on or off, at desktop or phone size. Several browsers of one
//! driver share nothing (cookies, storage), so a test can hold two sessions of one user.
//!
//! Chromium runs with its background networking off: this closed network refuses the
//! connections it would open to its vendor's services at start-up, and a refused connection
//! must not slow or break a test. The harness asserts nothing about pages; `axe` runs the
//! accessibility check, and the tests assert what they see.
//!
//! The window's size is set through Chromium's DevTools protocol (chromedriver passes such
//! commands on): headless Chromium will not make a window narrower than 500 pixels, and a
//! phone is narrower, and it is a mobile viewport (the page's `<meta name="viewport">` counts).
//!
//! The calls are blocking, like the rest of the harness: each browser owns a current-thread
//! runtime and waits for every WebDriver command on it.

mod axe;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use super::TempDir;
use super::dnsserver::{free_port, is_root, require_program};

pub use axe::Violation;

/// How long a wait for an element or a page may take before the test fails.
const WAIT: Duration = Duration::from_secs(15);

/// Whether a browser runs the pages' scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Js {
    On,
    /// Chromium's content setting blocks every page script; WebDriver's own scripts (the
    /// accessibility check, reading the page's size) still run, as they are not the page's.
    Off,
}

/// The window a browser shows pages in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A laptop's window.
    Desktop,
    /// A phone held upright (CSS pixels of a current mid-size phone).
    Phone,
}

impl Size {
    /// Width and height in CSS pixels.
    pub fn pixels(self) -> (u32, u32) {
        match self {
            Size::Desktop => (1280, 800),
            Size::Phone => (390, 844),
        }
    }

    /// The word used in screenshot names.
    pub fn name(self) -> &'static str {
        match self {
            Size::Desktop => "desktop",
            Size::Phone => "phone",
        }
    }
}

/// A running chromedriver.
pub struct Driver {
    child: Child,
    port: u16,
    dir: TempDir,
    chromium: PathBuf,
    n_sessions: u32,
}

impl Driver {
    /// Starts chromedriver. Fails the test naming the Debian package when chromium or
    /// chromedriver is missing; `None` only under the opt-out `DDNS_SKIP_SERVERS=1`.
    pub fn start() -> Option<Driver> {
        let chromium = require_program("chromium", "chromium")?;
        let chromedriver = require_program("chromedriver", "chromium-driver")?;
        let mut last = String::new();
        for _ in 0..5 {
            let dir = TempDir::new("browser");
            let port = free_port();
            let log = dir.path().join("chromedriver.log");
            let out = std::fs::File::create(dir.path().join("chromedriver.out")).expect("create chromedriver output");
            let err = out.try_clone().expect("clone output");
            let mut cmd = Command::new(&chromedriver);
            cmd.env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("HOME", dir.path())
                .arg(format!("--port={port}"))
                .arg(format!("--log-path={}", log.display()))
                .stdin(Stdio::null())
                .stdout(Stdio::from(out))
                .stderr(Stdio::from(err));
            // Its own process group, so that drop stops the browsers it started with it.
            std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
            let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start chromedriver: {e}"));
            let mut driver = Driver { child, port, dir, chromium: chromium.clone(), n_sessions: 0 };
            match driver.wait_ready() {
                Ok(()) => return Some(driver),
                Err(e) => {
                    last = e;
                    driver.stop();
                }
            }
        }
        panic!("chromedriver did not start:\n{last}");
    }

    /// Polls chromedriver's `/status` until it answers that it is ready.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + WAIT;
        let url = format!("http://127.0.0.1:{}/status", self.port);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited ({status})\n{}", self.logs()));
            }
            let answer = Command::new("curl").args(["-s", "--max-time", "1", &url]).output();
            if answer.is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("\"ready\":true")) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("chromedriver not ready on port {} within {WAIT:?}\n{}", self.port, self.logs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A new browser session with its own fresh profile.
    pub fn browser(&mut self, js: Js, size: Size) -> Browser {
        self.n_sessions += 1;
        let profile = self.dir.path().join(format!("profile-{}", self.n_sessions));
        std::fs::create_dir_all(&profile).expect("create profile dir");
        let (width, height) = Size::Desktop.pixels();
        let mut args = vec![
            "--headless".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            // Without these three, Chromium dials its vendor's services at start-up, which
            // this closed network refuses.
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.display()),
        ];
        if is_root() {
            // Chromium refuses to start its sandbox as root.
            args.push("--no-sandbox".to_owned());
        }
        // 1 allows, 2 blocks; a managed setting, so no page can ask for it back.
        let javascript = match js {
            Js::On => 1,
            Js::Off => 2,
        };
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            // The page's console messages, CSP refusals among them (`Browser::console_errors`).
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": self.chromium,
                "args": args,
                "prefs": {
                    "profile.managed_default_content_settings.javascript": javascript,
                    "credentials_enable_service": false,
                    "profile.password_manager_enabled": false,
                },
            },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!("a JSON object") };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
        let url = format!("http://127.0.0.1:{}", self.port);
        let client = rt
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities)
                    .connect(&url),
            )
            .unwrap_or_else(|e| panic!("chromium did not start a session: {e}\n{}", self.logs()));
        let mut browser = Browser { rt, client: Some(client), js, size, log: self.dir.path().join("chromedriver.log") };
        browser.resize(size);
        browser
    }

    fn logs(&self) -> String {
        let read = |f: &str| std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
        // chromedriver's own log is long (every command); its tail says what went wrong.
        let log = read("chromedriver.log");
        let tail: Vec<&str> = log.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!(
            "--- chromedriver output ---\n{}--- chromedriver.log (last 60 lines) ---\n{}\n",
            read("chromedriver.out"),
            tail.join("\n")
        )
    }

    fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            let _ = Command::new("kill").arg(sig).arg("--").arg(&group).stderr(Stdio::null()).status();
        };
        if matches!(self.child.try_wait(), Ok(None)) {
            signal("-TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Chromium's helpers outlive chromedriver in its group.
        signal("-KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- browser logs ({}) ---\n{}", self.dir.path().display(), self.logs());
        }
        self.stop();
    }
}

/// One browser session (a window with its own profile).
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    pub js: Js,
    pub size: Size,
    log: PathBuf,
}

impl Browser {
    fn client(&self) -> &Client {
        self.client.as_ref().expect("an open session")
    }

    /// Opens `url` and waits for it to load.
    #[track_caller]
    pub fn goto(&self, url: &str) {
        let result = self.rt.block_on(self.client().goto(url));
        result.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// The address the browser shows now.
    pub fn url(&self) -> String {
        self.rt.block_on(self.client().current_url()).map(|u| u.to_string()).expect("current url")
    }

    /// The path and query of [`Browser::url`] (what follows the origin).
    pub fn path(&self) -> String {
        let url = self.url();
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        after_scheme.find('/').map_or_else(|| "/".to_owned(), |i| after_scheme[i..].to_owned())
    }

    /// The page's `<title>`.
    pub fn title(&self) -> String {
        self.rt.block_on(self.client().title()).expect("page title")
    }

    /// The page as the browser holds it now (the DOM serialised, not the bytes received).
    pub fn source(&self) -> String {
        self.rt.block_on(self.client().source()).expect("page source")
    }

    /// The first element matching the CSS selector, waiting up to [`WAIT`] for it to appear.
    #[track_caller]
    fn element(&self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.rt.block_on(self.client().find(Locator::Css(css))) {
                Ok(e) => return e,
                Err(e) if Instant::now() > deadline => {
                    panic!("no element `{css}` on {} within {WAIT:?}: {e}\npage:\n{}", self.url(), self.source())
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// How many elements match the CSS selector now (no waiting).
    pub fn count(&self, css: &str) -> usize {
        self.rt.block_on(self.client().find_all(Locator::Css(css))).map_or(0, |v| v.len())
    }

    /// Whether an element matches the CSS selector now (no waiting).
    pub fn has(&self, css: &str) -> bool {
        self.count(css) > 0
    }

    /// The rendered text of the first element matching `css`.
    #[track_caller]
    pub fn text(&self, css: &str) -> String {
        let e = self.element(css);
        self.rt.block_on(e.text()).unwrap_or_else(|err| panic!("text of `{css}`: {err}"))
    }

    /// The rendered text of every element matching `css`.
    pub fn texts(&self, css: &str) -> Vec<String> {
        let all = self.rt.block_on(self.client().find_all(Locator::Css(css))).unwrap_or_default();
        all.iter().map(|e| self.rt.block_on(e.text()).unwrap_or_default()).collect()
    }

    /// An attribute of the first element matching `css` (`None` when it has none).
    #[track_caller]
    pub fn attr(&self, css: &str, name: &str) -> Option<String> {
        let e = self.element(css);
        self.rt.block_on(e.attr(name)).unwrap_or_else(|err| panic!("attribute `{name}` of `{css}`: {err}"))
    }

    /// A DOM property of the first element matching `css` (e.g. an input's current `value`).
    #[track_caller]
    pub fn prop(&self, css: &str, name: &str) -> Option<String> {
        let e = self.element(css);
        self.rt.block_on(e.prop(name)).unwrap_or_else(|err| panic!("property `{name}` of `{css}`: {err}"))
    }

    /// Clears the field matching `css` and types `text` into it.
    #[track_caller]
    pub fn fill(&self, css: &str, text: &str) {
        let e = self.element(css);
        self.rt.block_on(e.clear()).unwrap_or_else(|err| panic!("clear `{css}`: {err}"));
        self.rt.block_on(e.send_keys(text)).unwrap_or_else(|err| panic!("type into `{css}`: {err}"));
    }

    /// Clicks the element matching `css`, a link or a submit button, and waits until the
    /// page it leads to has loaded. chromedriver waits for a navigation it sees start, but a
    /// form's submission can start after the click returned; so the old page is marked
    /// first, and the wait is over when the page shown has no mark and is complete.
    #[track_caller]
    pub fn click(&self, css: &str) {
        let e = self.element(css);
        self.script("window.__harness_old_page = true;", vec![]);
        self.rt.block_on(e.click()).unwrap_or_else(|err| panic!("click `{css}` on {}: {err}", self.url()));
        let deadline = Instant::now() + WAIT;
        let check = "return window.__harness_old_page !== true && document.readyState === 'complete';";
        // A script sent while the old page unloads may fail; that is "not yet".
        while !self.rt.block_on(self.client().execute(check, vec![])).is_ok_and(|v| v == Value::Bool(true)) {
            assert!(Instant::now() < deadline, "clicking `{css}` led to no new page within {WAIT:?}: {}", self.url());
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Runs `script` (a function body; `arguments` are `args`) as WebDriver's own script,
    /// which runs with the page's scripts off too, and returns its value.
    #[track_caller]
    pub fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.rt.block_on(self.client().execute(script, args)).unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// Runs `script` whose last argument is a callback it calls with its result.
    #[track_caller]
    pub fn script_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.rt.block_on(self.client().execute_async(script, args)).unwrap_or_else(|e| panic!("script failed: {e}"))
    }

    /// The cookies the browser holds for the current page: (name, value, the whole cookie as
    /// `Set-Cookie` would spell it).
    pub fn cookies(&self) -> Vec<(String, String, String)> {
        let all = self.rt.block_on(self.client().get_all_cookies()).expect("cookies");
        all.iter().map(|c| (c.name().to_owned(), c.value().to_owned(), c.to_string())).collect()
    }

    /// Sends a command of Chromium's DevTools protocol through chromedriver; its result.
    #[track_caller]
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        let command = Cdp { cmd: cmd.to_owned(), params };
        let result = self.rt.block_on(self.client().issue_cmd(command));
        result.unwrap_or_else(|e| panic!("DevTools `{cmd}`: {e}"))
    }

    /// The errors the browser logged to its console since the last call: a resource that
    /// failed to load, a style or script the page's Content-Security-Policy refused, a script
    /// error. Left out: the browser's own request for `/favicon.ico`, and the status of the
    /// page itself (a refused login is a 401 page), which the tests read from the page.
    pub fn console_errors(&self) -> Vec<String> {
        let own = format!("{} - Failed to load resource", self.url());
        let log = self.rt.block_on(self.client().issue_cmd(BrowserLog));
        let entries = log.unwrap_or_else(|e| panic!("read the browser's log: {e}"));
        let entries = entries.as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .filter(|e| e["level"].as_str() == Some("SEVERE"))
            .filter_map(|e| e["message"].as_str().map(str::to_owned))
            .filter(|m| !m.contains("/favicon.ico") && !m.starts_with(&own))
            .collect()
    }

    /// Shows pages at `size` from now on: the viewport's CSS pixels, and for a phone a mobile
    /// viewport that honours `<meta name="viewport">`, as a phone's browser does.
    pub fn resize(&mut self, size: Size) {
        let (width, height) = size.pixels();
        let metrics =
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": size == Size::Phone });
        self.cdp("Emulation.setDeviceMetricsOverride", metrics);
        self.cdp("Emulation.setTouchEmulationEnabled", json!({ "enabled": size == Size::Phone }));
        self.size = size;
    }

    /// A screenshot of the whole page, not only what the window shows, as PNG in `path`.
    #[track_caller]
    pub fn screenshot(&self, path: &Path) {
        let metrics = self.cdp("Page.getLayoutMetrics", json!({}));
        let content = &metrics["cssContentSize"];
        let (w, h) = self.size.pixels();
        let width = content["width"].as_f64().unwrap_or(f64::from(w)).max(f64::from(w));
        let height = content["height"].as_f64().unwrap_or(f64::from(h)).clamp(f64::from(h), 8000.0);
        let shot = self.cdp(
            "Page.captureScreenshot",
            json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
            }),
        );
        let data = shot["data"].as_str().unwrap_or_else(|| panic!("no screenshot in {shot}"));
        let png = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).expect("base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("create screenshot dir");
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Runs axe-core on the page and fails the test on any violation of impact "serious" or
    /// "critical", listing them. `what` names the page in the failure. Returns the milder
    /// violations, which the test may report.
    #[track_caller]
    pub fn axe(&self, what: &str) -> Vec<Violation> {
        axe::check(self, what)
    }

    /// Runs axe-core on the page and returns every violation, whatever its impact.
    pub fn axe_violations(&self) -> Vec<Violation> {
        axe::run(self)
    }

    /// The tail of chromedriver's log, for failure messages.
    pub fn driver_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        }
    }
}

/// A DevTools command sent through chromedriver's `goog/cdp/execute` endpoint.
#[derive(Debug)]
struct Cdp {
    cmd: String,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// chromedriver's log of the browser's console (`goog:loggingPrefs`), emptied by reading it.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}
