//! Log lines for one process or one request. Each line carries the level and, for a request,
//! its 8-hex-digit transaction id, so an operator can follow one request through the web
//! server's error log. In CGI mode stderr is that log; the web server adds the timestamp.
//! Secrets never reach this module: they live in `Secret`, whose formatting is redacted.

use std::fmt::Display;
use std::io::Write as _;

use crate::config::Level;

/// Where log lines go and which are kept.
#[derive(Clone, Debug)]
pub(crate) struct Log {
    level: Level,
    txn: Option<String>,
}

impl Log {
    pub(crate) fn new(level: Level) -> Log {
        Log { level, txn: None }
    }

    /// A logger whose lines carry `txn`.
    pub(crate) fn with_txn(&self, txn: String) -> Log {
        Log { level: self.level, txn: Some(txn) }
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
        if level > self.level {
            return;
        }
        let line = match &self.txn {
            Some(txn) => format!("ddns-cgi[{}]: [{level}] [{txn}] {message}\n", std::process::id()),
            None => format!("ddns-cgi[{}]: [{level}] {message}\n", std::process::id()),
        };
        // One write per line so lines of concurrent processes do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
}

/// A random 8-hex-digit id for one request.
pub(crate) fn transaction_id() -> String {
    let n = getrandom::u32().unwrap_or_else(|_| std::process::id());
    format!("{n:08x}")
}
