//! Log lines for one process or one request. Each line carries the level and, for a request,
//! its 8-hex-digit transaction id, so an operator can follow one request through the log.
//! Three targets (`[log] target`): stderr, which in CGI mode is the web server's error log
//! (the web server adds the timestamp); syslog, one RFC 3164 datagram per line to a local
//! socket (`<PRI>ddns-cgi[PID]: ...`, no timestamp: rsyslog and journald add their own); and a
//! file, appended to with one `write` per line and rotated by logrotate. With a syslog or file
//! target, the lines at `stderr_level` (warning by default) or more severe go to stderr too,
//! so the web server's error log shows what needs attention and nothing else. A target that
//! fails falls back to stderr, so a line is never lost silently. Secrets never reach this module:
//! they live in `Secret`, whose formatting is redacted, and no caller logs a query string.
//! Messages carry request data (user names, paths, hostnames), so every line is escaped here,
//! whatever its target: a line break or terminal control in a value is written as `\n`,
//! `\u{1b}`, never as itself, and a client cannot forge or hide a line. Lines are cut at
//! [`MAX_LINE_BYTES`].

use std::borrow::Cow;
use std::fmt::Display;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;

use crate::config::{Level, LogConfig, LogTarget};

/// Longest message written; a longer one is cut and says how much was cut. Request values are
/// bounded before they are logged; this bounds whatever a future caller forgets.
pub(crate) const MAX_LINE_BYTES: usize = 8 * 1024;

/// Where log lines go and which are kept.
#[derive(Clone, Debug)]
pub(crate) struct Log {
    level: Level,
    txn: Option<String>,
    sink: Sink,
    /// With a syslog or file sink, lines at this level or more severe go to stderr too.
    also_stderr: Option<Level>,
}

#[derive(Clone, Debug)]
enum Sink {
    /// Lines are dropped (`silenced`).
    Silent,
    Stderr,
    /// A connected datagram socket; a local syslog socket is a datagram socket on Debian
    /// (rsyslog's imuxsock, journald's /dev/log).
    Syslog {
        socket: Arc<UnixDatagram>,
        path: PathBuf,
        facility: u8,
    },
    /// The file, and the clock that stamps each line when it is written: `main`'s (the one
    /// module that reads the wall clock), handed down as a function, so that a FastCGI
    /// server's lines carry their own time, not the time it started.
    File {
        path: PathBuf,
        clock: fn() -> i64,
    },
}

impl Log {
    pub(crate) fn new(level: Level) -> Log {
        Log { level, txn: None, sink: Sink::Stderr, also_stderr: None }
    }

    /// A logger that writes nothing, for work that may be done again under `self`.
    pub(crate) fn silenced(&self) -> Log {
        Log { level: self.level, txn: self.txn.clone(), sink: Sink::Silent, also_stderr: None }
    }

    /// A logger whose lines carry `txn`.
    pub(crate) fn with_txn(&self, txn: String) -> Log {
        Log { level: self.level, txn: Some(txn), sink: self.sink.clone(), also_stderr: self.also_stderr }
    }

    /// A logger for one request of a long-running process: its lines carry `txn` and go to
    /// this logger's target (the syslog socket connected once, not per request).
    pub(crate) fn for_request(&self, txn: String) -> Log {
        Log { level: self.level, txn: Some(txn), sink: self.sink.clone(), also_stderr: self.also_stderr }
    }

    /// A logger writing to `config.target`, and the lines at `config.stderr_level` or more
    /// severe to stderr as well; `clock` (seconds since the epoch) stamps each file line as it
    /// is written. When the syslog socket cannot be reached, the reason goes to stderr and
    /// lines stay there.
    pub(crate) fn with_target(&self, config: &LogConfig, clock: fn() -> i64) -> Log {
        let sink = match &config.target {
            LogTarget::Stderr => Sink::Stderr,
            LogTarget::Syslog { socket, facility } => match connect_syslog(socket) {
                Ok(s) => Sink::Syslog { socket: Arc::new(s), path: socket.clone(), facility: *facility },
                Err(e) => {
                    stderr_line(&format!(
                        "ddns-cgi[{}]: [WARNING] cannot connect to syslog socket `{}`: {e}; logging to stderr\n",
                        pid(),
                        socket.display()
                    ));
                    Sink::Stderr
                }
            },
            LogTarget::File { path } => Sink::File { path: path.clone(), clock },
        };
        Log { level: self.level, txn: self.txn.clone(), sink, also_stderr: config.stderr_level }
    }

    pub(crate) fn txn(&self) -> &str {
        self.txn.as_deref().unwrap_or("-")
    }

    pub(crate) fn error(&self, message: impl Display) {
        self.write(Level::Error, message);
    }

    pub(crate) fn warn(&self, message: impl Display) {
        self.write(Level::Warn, message);
    }

    pub(crate) fn info(&self, message: impl Display) {
        self.write(Level::Info, message);
    }

    pub(crate) fn debug(&self, message: impl Display) {
        self.write(Level::Debug, message);
    }

    fn write(&self, level: Level, message: impl Display) {
        if level > self.level || matches!(self.sink, Sink::Silent) {
            return;
        }
        let message = message.to_string();
        let message = escape(&message);
        let message = bounded(&message, MAX_LINE_BYTES);
        let body = match &self.txn {
            Some(txn) => format!("[{level}] [{txn}] {message}"),
            None => format!("[{level}] {message}"),
        };
        let tag = format!("ddns-cgi[{}]:", pid());
        let on_stderr = || stderr_line(&format!("{tag} {body}\n"));
        let also = || {
            if self.also_stderr.is_some_and(|l| level <= l) {
                on_stderr();
            }
        };
        match &self.sink {
            Sink::Silent => {}
            Sink::Stderr => on_stderr(),
            Sink::Syslog { socket, path, facility } => {
                // RFC 3164 §4.1: `<PRI>TAG: MSG`; the local daemon adds time and host.
                let pri = u16::from(*facility) * 8 + severity(level);
                let datagram = format!("<{pri}>{tag} {body}");
                // A FastCGI server keeps its socket for its lifetime; when the daemon was
                // restarted since, the line goes through a socket connected anew (each line
                // then pays a connect, as in CGI, until the server restarts).
                let sent = socket.send(datagram.as_bytes()).is_ok()
                    || connect_syslog(path).and_then(|s| s.send(datagram.as_bytes())).is_ok();
                if sent {
                    also();
                } else {
                    on_stderr();
                }
            }
            Sink::File { path, clock } => {
                let line = format!("{} {tag} {body}\n", rfc3339(clock()));
                let written = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o640)
                    .open(path)
                    .and_then(|mut f| f.write_all(line.as_bytes()));
                if written.is_ok() {
                    also();
                } else {
                    on_stderr();
                }
            }
        }
    }
}

/// A datagram socket connected to the syslog daemon's. Non-blocking: a daemon that stops
/// reading must not stall requests; a line it cannot take goes to stderr.
fn connect_syslog(path: &std::path::Path) -> std::io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(path)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// This process's id, asked of the kernel once (a system call per line otherwise); ddns-cgi
/// never forks.
fn pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// `text` with every character that could end a line, rewrite it on a terminal or reorder it
/// in a viewer written as a Rust escape (`\n`, `\r`, `\u{1b}`): C0 controls, DEL, C1
/// controls (NEL ends a line for some viewers), the Unicode line and paragraph separators, and
/// the bidirectional overrides and isolates.
pub(crate) fn escape(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.contains(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `text` cut to at most `max` bytes (at a character boundary), saying how much was cut.
pub(crate) fn bounded(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}...[{} bytes cut]", text.get(..end).unwrap_or_default(), text.len() - end))
}

/// One write per line so lines of concurrent processes do not interleave.
fn stderr_line(line: &str) {
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// RFC 5424 §6.2.1 severities.
fn severity(level: Level) -> u16 {
    match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug => 7,
    }
}

/// `2026-01-02T03:04:05Z` for seconds since the epoch (civil-from-days, proleptic Gregorian).
pub(crate) fn rfc3339(now: i64) -> String {
    let days = now.div_euclid(86_400);
    let secs = now.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// An 8-hex-digit id for one request: a random number drawn once per process, then the
/// next of a sequence that visits every 32-bit value once (an odd multiplier is a bijection),
/// so a FastCGI server's ids never repeat within 2^32 requests and cost no system call.
pub(crate) fn transaction_id() -> String {
    static BASE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let base = *BASE.get_or_init(|| getrandom::u32().unwrap_or_else(|_| std::process::id()));
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:08x}", base.wrapping_add(n.wrapping_mul(0x9E37_79B1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-log-{name}-{}", getrandom::u64().expect("random")));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    fn config(target: LogTarget) -> LogConfig {
        LogConfig { level: Level::Debug, log_requests: false, target, stderr_level: None }
    }

    /// A clock the test moves; a plain `fn`, as `main` hands its clock down.
    static NOW: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    fn test_clock() -> i64 {
        NOW.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[test]
    fn lines_below_the_level_are_dropped_and_file_lines_carry_the_time_they_are_written() {
        let dir = temp_dir("file");
        let path = dir.join("ddns.log");
        NOW.store(0, std::sync::atomic::Ordering::SeqCst);
        // As a FastCGI server: its logger is made at start, each request's from it later.
        let base = Log::new(Level::Info).with_target(&config(LogTarget::File { path: path.clone() }), test_clock);
        NOW.store(86_400, std::sync::atomic::Ordering::SeqCst);
        let log = base.for_request("0000abcd".to_owned());
        log.debug("not this");
        log.info("this");
        log.warn("and this");
        NOW.store(86_461, std::sync::atomic::Ordering::SeqCst);
        log.error("and that, a minute later");
        base.warn("the server's own line");
        Log::new(Level::Warn).with_target(&config(LogTarget::File { path: path.clone() }), test_clock).info("nor this");
        let tag = |stamp: &str| format!("{stamp} ddns-cgi[{}]:", pid());
        let text = std::fs::read_to_string(&path).expect("log file");
        let want = [
            format!("{} [INFO] [0000abcd] this", tag("1970-01-02T00:00:00Z")),
            format!("{} [WARNING] [0000abcd] and this", tag("1970-01-02T00:00:00Z")),
            format!("{} [ERROR] [0000abcd] and that, a minute later", tag("1970-01-02T00:01:01Z")),
            format!("{} [WARNING] the server's own line", tag("1970-01-02T00:01:01Z")),
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), want, "{text}");
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn syslog_datagrams_carry_facility_and_severity_and_outlive_a_daemon_restart() {
        let dir = temp_dir("syslog");
        let path = dir.join("log.sock");
        let daemon = UnixDatagram::bind(&path).expect("bind");
        daemon.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
        let recv = |daemon: &UnixDatagram| {
            let mut buf = [0u8; 512];
            let n = daemon.recv(&mut buf).expect("a datagram");
            String::from_utf8_lossy(&buf[..n]).into_owned()
        };
        // local0 (16): PRI = 16 * 8 + severity.
        let target = LogTarget::Syslog { socket: path.clone(), facility: 16 };
        let log = Log::new(Level::Debug).with_target(&config(target), || 0).for_request("t1".to_owned());
        let tag = format!("ddns-cgi[{}]:", pid());
        log.warn("w");
        assert_eq!(recv(&daemon), format!("<132>{tag} [WARNING] [t1] w"));
        log.debug("d");
        assert_eq!(recv(&daemon), format!("<135>{tag} [DEBUG] [t1] d"));
        // The daemon restarts: a new socket at the same path gets the next line.
        drop(daemon);
        std::fs::remove_file(&path).expect("remove");
        let daemon = UnixDatagram::bind(&path).expect("bind again");
        daemon.set_read_timeout(Some(std::time::Duration::from_secs(5))).expect("timeout");
        log.info("after");
        assert_eq!(recv(&daemon), format!("<134>{tag} [INFO] [t1] after"));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn the_tag_names_this_process() {
        assert_eq!(pid(), std::process::id());
    }

    #[test]
    fn transaction_ids_differ_from_request_to_request() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| transaction_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    }

    #[test]
    fn escape_keeps_every_line_one_line() {
        assert_eq!(escape("plain `alice` élan"), "plain `alice` élan");
        assert_eq!(escape("a\nb\rc\td"), "a\\nb\\rc\\td");
        assert_eq!(escape("\u{1b}[2K\u{7f}\u{85}\u{0}"), "\\u{1b}[2K\\u{7f}\\u{85}\\u{0}");
        assert_eq!(escape("x\u{2028}y\u{2029}z\u{202e}w"), "x\\u{2028}y\\u{2029}z\\u{202e}w");
    }

    #[test]
    fn bounded_cuts_at_a_char_boundary() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcdef", 3), "abc...[3 bytes cut]");
        assert_eq!(bounded("aéb", 2), "a...[3 bytes cut]");
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(1_767_323_045), "2026-01-02T03:04:05Z");
    }
}
