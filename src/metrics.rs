//! Metrics in the Prometheus text exposition format (version 0.0.4: `# HELP`, `# TYPE`, one
//! sample per line): the counts of answers, rate-limit refusals and DNS errors (the counters
//! `store` bumps with each audit write), the hostnames by state, and the time of the last
//! successful expiry run. Written for node-exporter's textfile collector (`write_textfile`:
//! a temporary file in the same directory, fsync, rename, so the collector never reads half a
//! file) by `ddns-cgi metrics --textfile` and the expiry run, and served at `[metrics] path`
//! to the networks in `[metrics] allow` (`http::serve`). It holds no secret and no user name.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::log::Log;
use crate::reply::{self, AccountAnswer, Answer, Reply};
use crate::request;
use crate::request::Incoming;
use crate::store::{DNS_ERRORS, EXPIRED_HOSTS, LAST_EXPIRY, RATELIMIT_REFUSALS, Store, StoreError, UPDATES};

/// A failure to write the textfile.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetricsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the metrics file `{}`: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// Answers always shown, at 0 until they happen, so alert rules find the series.
const KNOWN_ANSWERS: &[&str] = &["good", "nochg", "dnserr", "nohost", "badauth", "abuse"];

/// The metrics as Prometheus text.
pub(crate) fn render(store: &Store) -> Result<String, StoreError> {
    let counters = store.counters()?;
    let hosts = store.host_counts()?;
    let of = |name: &'static str| counters.iter().filter(move |c| c.name == name);
    let mut out = String::new();

    family(
        &mut out,
        "ddns_updates_total",
        "counter",
        "Answers given, by dyndns2 answer: one per hostname for changes (good, dnserr; nochg when it touched the row), one per request for refusals.",
    );
    let mut answers: Vec<(String, i64)> = of(UPDATES).map(|c| (c.label.clone(), c.value)).collect();
    for known in KNOWN_ANSWERS {
        if !answers.iter().any(|(a, _)| a == known) {
            answers.push(((*known).to_owned(), 0));
        }
    }
    answers.sort();
    for (answer, value) in answers {
        sample(&mut out, "ddns_updates_total", Some(("answer", &answer)), value);
    }

    family(&mut out, "ddns_ratelimit_refusals_total", "counter", "Requests answered abuse, by the limit they reached.");
    for c in of(RATELIMIT_REFUSALS) {
        sample(&mut out, "ddns_ratelimit_refusals_total", Some(("scope", &c.label)), c.value);
    }

    family(
        &mut out,
        "ddns_dns_errors_total",
        "counter",
        "Hostname changes answered dnserr, by the DNS server's rcode or what kept it from answering.",
    );
    for c in of(DNS_ERRORS) {
        sample(&mut out, "ddns_dns_errors_total", Some(("rcode", &c.label)), c.value);
    }

    family(&mut out, "ddns_hosts", "gauge", "Hostnames in the database.");
    sample(&mut out, "ddns_hosts", None, hosts.n_hosts);
    family(
        &mut out,
        "ddns_hosts_expired",
        "gauge",
        "Hostnames whose records the expiry run removed and that were not updated since.",
    );
    sample(&mut out, "ddns_hosts_expired", None, hosts.n_expired);
    family(&mut out, "ddns_hosts_offline", "gauge", "Hostnames taken offline by their owner.");
    sample(&mut out, "ddns_hosts_offline", None, hosts.n_offline);

    family(&mut out, "ddns_expired_hosts_total", "counter", "Hostnames whose records the expiry run removed.");
    sample(&mut out, "ddns_expired_hosts_total", None, of(EXPIRED_HOSTS).map(|c| c.value).sum());

    family(
        &mut out,
        "ddns_last_expiry_success_timestamp_seconds",
        "gauge",
        "When the last expiry run without failures ended (0: never).",
    );
    sample(
        &mut out,
        "ddns_last_expiry_success_timestamp_seconds",
        None,
        of(LAST_EXPIRY).map(|c| c.value).max().unwrap_or(0),
    );
    Ok(out)
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, label: Option<(&str, &str)>, value: i64) {
    match label {
        Some((key, v)) => {
            let _ = writeln!(out, "{name}{{{key}=\"{}\"}} {value}", escape_label(v));
        }
        None => {
            let _ = writeln!(out, "{name} {value}");
        }
    }
}

/// A label value as the exposition format quotes it: backslash, double quote and line feed
/// escaped.
fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Writes `text` to `path` atomically: a temporary file beside it (same directory, so the
/// rename stays in one file system), fsync, rename. node-exporter reads either the old file
/// or the new one, never a part.
pub(crate) fn write_textfile(path: &Path, text: &str) -> Result<(), MetricsError> {
    let err = |source| MetricsError::Write { path: path.to_owned(), source };
    let Some(name) = path.file_name() else {
        return Err(err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")));
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    // node-exporter ignores files not ending in `.prom`, so the half-written one is invisible.
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o644).open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Renders the metrics and writes them to `path`.
pub(crate) fn write(store: &Store, path: &Path) -> Result<(), MetricsError> {
    write_textfile(path, &render(store)?)
}

/// Serves the metrics at `[metrics] path` to clients in `[metrics] allow`; `None` when the
/// request is for another path or metrics are not served (`allow` empty). A client outside
/// `allow` gets exactly the reply of a path with no endpoint (404), so it cannot tell that
/// metrics exist.
/// Whether `handle` answers this request (`[metrics] path`, when `[metrics] allow` is set).
pub(crate) fn claims(config: &Config, env: &request::Env) -> bool {
    let metrics = &config.metrics;
    let wanted = |p: String| p.strip_suffix('/').unwrap_or(&p) == metrics.path.trim_end_matches('/');
    let paths = [Some(request::request_path(env)), request::request_uri_path(env)];
    !metrics.allow.is_empty() && paths.into_iter().flatten().any(wanted)
}

pub(crate) fn handle(config: &Config, store: &Store, req: &Incoming<'_>, log: &Log) -> Option<Reply> {
    if !claims(config, req.env) {
        return None;
    }
    let metrics = &config.metrics;
    let client = request::client(req.env, config).ip();
    if !client.is_some_and(|ip| metrics.allow.iter().any(|net| net.contains(ip))) {
        log.info(format_args!(
            "metrics: client {} is not in `[metrics] allow`; answering 404",
            client.map_or_else(|| "-".to_owned(), |ip| ip.to_string())
        ));
        return Some(reply::render(&Answer::Account(AccountAnswer::NotFound), request::Format::Text));
    }
    let (status, body) = match render(store) {
        Ok(text) => (200, text),
        Err(e) => {
            log.error(format_args!("metrics: {e}"));
            (500, "metrics unavailable\n".to_owned())
        }
    };
    let headers = vec![
        // The exposition format's media type (Prometheus text format 0.0.4).
        ("Content-Type", "text/plain; version=0.0.4; charset=utf-8".to_owned()),
        ("Content-Length", body.len().to_string()),
        ("Cache-Control", "no-store".to_owned()),
    ];
    Some(Reply { status, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
