//! Relaying accepted updates to upstream dyndns2 providers, as DDnsBroker does: a hostname
//! may have relays (`hostname relay`), each an upstream update URL with its own `hostname=`
//! and credentials. After the local RFC 2136 update of such a host (or instead of it, for a
//! relay with `--only`), each relay whose upstream does not hold the new addresses yet gets
//! one GET with `myip=` (both families comma-separated, as ddclient sends them) and HTTP
//! Basic credentials. Its answer maps back: `good`/`nochg` are success, everything else
//! (including timeouts and refused connections) makes the host's answer `dnserr`, and
//! `badauth`/`abuse` pause the relay until an admin clears it, as the dyndns2 client rules
//! require (a client must stop sending after those answers). Hosts without relays cost one
//! indexed read and nothing else: no HTTP client, no TLS roots, no clock.
//!
//! The relay runs after the local update's transaction committed, so the database lock is
//! never held across an HTTP exchange, nor a host lock. A host's relays take turns under its
//! relay lock (`Store::with_relay_locked`), and each turn reads the row and the relays'
//! records again and sends what the row holds (a relay-only host: the request's addresses):
//! two updates of one host may relay in any order, and whoever relays last leaves each
//! upstream with the row's addresses, recorded as what it accepted. Every exchange is bounded
//! (`[relay]` timeouts) and all relays of one request, the wait for the relay lock included,
//! share one total budget, so a slow upstream cannot hold the answer past the web server's
//! timeout. This module never logs a password: it is sent only in the
//! `Authorization` header, URLs carry no user-info (`check_url` refuses it, `display_url`
//! redacts it anyway) and query values other than the hostname are shown as `***`.

use std::cmp::min;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ureq::tls::{PemItem, RootCerts, TlsConfig, TlsProvider};

use crate::config::RelayConfig;
use crate::log::Log;
use crate::reply::HostAnswer;
use crate::request::Addresses;
use crate::store::{Relay, RelayOutcome, Store, StoreError, User};

/// Longest upstream URL accepted by `hostname relay`.
pub(crate) const MAX_URL_LEN: usize = 2048;

/// Longest upstream answer read; a dyndns2 answer for one host is one short line.
const MAX_ANSWER_BYTES: u64 = 4096;

/// Longest part of an upstream answer that is logged.
const MAX_LOGGED_ANSWER: usize = 120;

/// The relays of one request: the shared time budget and, once an `https` upstream is
/// contacted, the CA certificates read for it.
#[derive(Debug)]
pub(crate) struct Session<'a> {
    config: &'a RelayConfig,
    /// When this request's first relay turn started (its wait for the relay lock); the clock
    /// is read only then.
    started: Option<Instant>,
    roots: Option<RootCerts>,
}

impl<'a> Session<'a> {
    pub(crate) fn new(config: &'a RelayConfig) -> Session<'a> {
        Session { config, started: None, roots: None }
    }

    /// What is left of the total budget; starts it on first use.
    fn remaining(&mut self) -> Duration {
        let started = *self.started.get_or_insert_with(Instant::now);
        self.config.total_timeout.saturating_sub(started.elapsed())
    }

    /// The CA certificates for `https` upstreams, read once per request.
    fn roots(&mut self) -> Result<RootCerts, String> {
        if let Some(roots) = &self.roots {
            return Ok(roots.clone());
        }
        let path = &self.config.ca_file;
        let pem = std::fs::read(path).map_err(|e| format!("cannot read CA file `{}`: {e}", path.display()))?;
        let certs: Vec<_> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(PemItem::Certificate(c)) => Some(c),
                Ok(_) | Err(_) => None,
            })
            .collect();
        if certs.is_empty() {
            return Err(format!("no CA certificate in `{}`", path.display()));
        }
        let roots = RootCerts::from(certs);
        self.roots = Some(roots.clone());
        Ok(roots)
    }
}

/// The host an update is for and what it publishes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Target<'a> {
    pub(crate) user: &'a User,
    pub(crate) fqdn: &'a str,
    /// The addresses of the request, as the local update publishes them.
    pub(crate) addresses: Addresses,
}

/// Runs the update of one host with its relays: `local` (the RFC 2136 update under the lock)
/// unless every relay of the host replaces it, then the relays, under the host's relay lock
/// ([`relay_turn`]). The host's answer is the local one when every contacted relay succeeded,
/// and `dnserr` when one failed (or the relay lock stayed taken for the whole budget): the
/// local records stay updated, and the client's retry (`nochg` locally) sends again only to
/// the upstreams that do not hold the row's addresses yet. Relays are only looked up for a
/// host of `user`; any other host takes the local path, which answers `nohost`.
pub(crate) fn around(
    store: &mut Store,
    session: &mut Session<'_>,
    mut target: Target<'_>,
    now: i64,
    log: &Log,
    local: impl FnOnce(&mut Store) -> Result<HostAnswer, StoreError>,
) -> Result<HostAnswer, StoreError> {
    let relays = store.relays_for_update(target.fqdn, target.user.id)?;
    if relays.is_empty() {
        return local(store);
    }
    let fqdn = target.fqdn;
    let replaces_local = relays.iter().all(|r| r.replaces_local);
    let local_answer = if replaces_local {
        log.debug(format_args!("{fqdn}: every relay replaces the local update; no RFC 2136 update"));
        // A family the host does not accept (`store::Families`) is not forwarded either; the
        // local path leaves it out of the row, which the other relays send.
        if let Some(host) = store.host(fqdn)? {
            let (ipv4, ipv6) = host.families.accepted(target.addresses.ipv4, target.addresses.ipv6);
            target.addresses = Addresses { ipv4, ipv6 };
        }
        None
    } else {
        match local(store)? {
            answer @ (HostAnswer::Good(_) | HostAnswer::Nochg(_)) => Some(answer),
            // Nothing was accepted locally, so nothing is forwarded.
            answer @ (HostAnswer::Nohost
            | HostAnswer::Notfqdn
            | HostAnswer::Dnserr
            | HostAnswer::ServerError
            | HostAnswer::TokenRefused(_)) => {
                return Ok(answer);
            }
        }
    };
    // Started before the wait: the wait for another update's relays counts against this
    // request's budget.
    let wait = session.remaining();
    let turn =
        store.with_relay_locked(fqdn, wait, |store| relay_turn(store, session, target, replaces_local, now, log));
    let tally = match turn? {
        Some(tally) => tally?,
        None => {
            log.error(format_args!(
                "{fqdn}: relays not sent: another update of this host was relaying for all of `relay.total_timeout_ms` ({} ms)",
                session.config.total_timeout.as_millis()
            ));
            Tally { n_failed: 1, ..Tally::default() }
        }
    };
    let answer = match (local_answer, tally) {
        (_, Tally { n_failed: 1.., .. }) => HostAnswer::Dnserr,
        (Some(local), _) => local,
        (None, Tally { n_sent: 1.., .. }) => HostAnswer::Good(target.addresses),
        (None, Tally { n_current: 1.., .. }) => HostAnswer::Nochg(target.addresses),
        // Every relay is paused: the update went nowhere.
        (None, Tally { .. }) => HostAnswer::Dnserr,
    };
    Ok(answer)
}

/// What the relays of one host did.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    /// Upstreams that accepted the addresses now.
    n_sent: u32,
    /// Upstreams that already held them; not contacted.
    n_current: u32,
    /// Upstreams that failed, refused, timed out or were not reached within the budget.
    n_failed: u32,
}

/// One update's turn at the host's relays, under its relay lock: the relays (their records of
/// what each upstream accepted) and the row are read again now, and each upstream that does
/// not hold the row's addresses gets them. Another update of the host may have changed the row
/// after this one's local update; then it is the row's newer addresses that go, and that
/// update's own turn, which comes later, finds them there. A relay-only host's row holds no
/// addresses: its turn sends the request's.
fn relay_turn(
    store: &mut Store,
    session: &mut Session<'_>,
    target: Target<'_>,
    replaces_local: bool,
    now: i64,
    log: &Log,
) -> Result<Tally, StoreError> {
    let fqdn = target.fqdn;
    let relays = store.relays_for_update(fqdn, target.user.id)?;
    let new = if replaces_local {
        target.addresses
    } else {
        let Some(host) = store.host(fqdn)? else { return Ok(Tally::default()) };
        if host.offline || host.expired || (host.ipv4.is_none() && host.ipv6.is_none()) {
            log.info(format_args!("{fqdn}: not relayed: the host has no address since (offline or expired)"));
            return Ok(Tally::default());
        }
        Addresses { ipv4: host.ipv4, ipv6: host.ipv6 }
    };
    Ok(forward(store, session, &relays, fqdn, new, now, log))
}

fn forward(
    store: &mut Store,
    session: &mut Session<'_>,
    relays: &[Relay],
    fqdn: &str,
    new: Addresses,
    now: i64,
    log: &Log,
) -> Tally {
    let mut tally = Tally::default();
    for relay in relays {
        let shown = display_url(&relay.url);
        if let Some(pause) = &relay.paused {
            log.warn(format_args!(
                "{fqdn}: relay to {shown} paused since {} (upstream answered `{}`); not sent; \
                 `ddns-cgi hostname relay {fqdn} --clear-pause URL` resumes it",
                crate::log::rfc3339(pause.since),
                pause.reason
            ));
            continue;
        }
        let current =
            new.ipv4.is_none_or(|a| Some(a) == relay.last_ipv4) && new.ipv6.is_none_or(|a| Some(a) == relay.last_ipv6);
        if current {
            log.info(format_args!("{fqdn}: relay to {shown}: upstream already has {}; not sent", myip(new)));
            tally.n_current += 1;
            continue;
        }
        let remaining = session.remaining();
        let outcome = if remaining.is_zero() {
            log.error(format_args!(
                "{fqdn}: relay to {shown}: not sent, `relay.total_timeout_ms` ({} ms) is used up",
                session.config.total_timeout.as_millis()
            ));
            RelayOutcome::Failed { result: "not sent: total timeout".to_owned() }
        } else {
            let started = Instant::now();
            let result = send(session, relay, new, remaining);
            let ms = started.elapsed().as_millis();
            match result {
                Ok((status, body)) => {
                    let upstream = classify(status, &body);
                    let said = loggable(&body);
                    match &upstream {
                        Upstream::Accepted(_) => {
                            log.info(format_args!("{fqdn}: relay to {shown}: upstream answered `{said}` ({ms} ms)"));
                        }
                        Upstream::Pause(token) => log.error(format_args!(
                            "{fqdn}: relay to {shown}: upstream answered `{said}` (HTTP {status}, {ms} ms); \
                             relaying there is paused until an admin runs \
                             `ddns-cgi hostname relay {fqdn} --clear-pause URL` (dyndns2 clients must stop after `{token}`)"
                        )),
                        Upstream::Failed => log.error(format_args!(
                            "{fqdn}: relay to {shown}: upstream answered `{said}` (HTTP {status}, {ms} ms)"
                        )),
                    }
                    match upstream {
                        Upstream::Accepted(token) => {
                            RelayOutcome::Accepted { ipv4: new.ipv4, ipv6: new.ipv6, result: token.to_owned() }
                        }
                        Upstream::Pause(token) => RelayOutcome::Paused { reason: token.to_owned() },
                        Upstream::Failed => RelayOutcome::Failed { result: format!("answer `{said}`") },
                    }
                }
                Err(reason) => {
                    log.error(format_args!("{fqdn}: relay to {shown}: {reason} ({ms} ms)"));
                    RelayOutcome::Failed { result: reason }
                }
            }
        };
        match &outcome {
            RelayOutcome::Accepted { .. } => tally.n_sent += 1,
            RelayOutcome::Failed { .. } | RelayOutcome::Paused { .. } => tally.n_failed += 1,
        }
        // The answer stands either way; an unrecorded success is only re-sent next time.
        if let Err(e) = store.record_relay(relay.id, &outcome, now) {
            log.error(format_args!("{fqdn}: relay to {shown}: cannot record the outcome: {e}"));
        }
    }
    tally
}

/// Sends one update to the upstream; its HTTP status and (bounded) body, or why there is none.
fn send(
    session: &mut Session<'_>,
    relay: &Relay,
    new: Addresses,
    remaining: Duration,
) -> Result<(u16, String), String> {
    let config = session.config;
    let mut tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        // `ring` is already linked for TSIG and the mail transport: no second crypto stack.
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()));
    if is_https(&relay.url) {
        tls = tls.root_certs(session.roots()?);
    }
    let agent = ureq::Agent::config_builder()
        // Never a proxy from the environment: in CGI a client's `Proxy:` header arrives as
        // `HTTP_PROXY` (httpoxy, CVE-2016-5385) and would receive the upstream's credentials.
        // (ureq's default config reads the proxy variables; this discards what it found.)
        .proxy(None)
        .http_status_as_error(false)
        // A redirect could carry the credentials elsewhere; dyndns2 servers do not redirect.
        .max_redirects(0)
        .user_agent(concat!("ddns-cgi/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(min(config.connect_timeout, remaining)))
        .timeout_global(Some(min(config.request_timeout, remaining)))
        .tls_config(tls.build())
        .build()
        .new_agent();
    let url = format!("{}&myip={}", relay.url, myip(new));
    let credentials = format!("{}:{}", relay.username, relay.password.expose());
    let authorization = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(credentials));
    let mut response = agent.get(&url).header("Authorization", &authorization).call().map_err(describe)?;
    let status = response.status().as_u16();
    let body = response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_string().map_err(describe)?;
    Ok((status, body))
}

/// A transport failure, without the request (ureq's messages name neither URL nor headers).
fn describe(e: ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(kind) => format!("no answer in time ({kind})"),
        ureq::Error::ConnectionFailed => "cannot connect".to_owned(),
        ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "cannot connect (connection refused)".to_owned()
        }
        ureq::Error::HostNotFound => "the upstream's host name does not resolve".to_owned(),
        // Its message quotes the URL, whose query may hold a provider's key.
        ureq::Error::BadUri(_) => "the stored URL cannot be requested".to_owned(),
        other => format!("request failed: {other}"),
    }
}

/// An upstream's answer, classified.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Upstream {
    /// `good` or `nochg`.
    Accepted(&'static str),
    /// `badauth` or `abuse`: a dyndns2 client must not send again until a person acted.
    Pause(&'static str),
    /// Anything else: `nohost`, `notfqdn`, `dnserr`, `911`, an unknown answer, an HTTP error.
    Failed,
}

/// The first word of the first line decides (dyndns2 answers `TOKEN [ADDRESS]`, one line per
/// host); a 401 without a dyndns2 body is a refused login all the same.
fn classify(status: u16, body: &str) -> Upstream {
    let token = body.lines().next().and_then(|l| l.split_whitespace().next()).map(str::to_ascii_lowercase);
    match (status, token.as_deref()) {
        (200, Some("good")) => Upstream::Accepted("good"),
        (200, Some("nochg")) => Upstream::Accepted("nochg"),
        (_, Some("badauth")) | (401, None) => Upstream::Pause("badauth"),
        (_, Some("abuse")) => Upstream::Pause("abuse"),
        (_, Some(_) | None) => Upstream::Failed,
    }
}

/// The `myip` value: one address, or both families comma-separated (ddclient's form).
fn myip(a: Addresses) -> String {
    match (a.ipv4, a.ipv6) {
        (Some(v4), Some(v6)) => format!("{v4},{v6}"),
        (Some(v4), None) => v4.to_string(),
        (None, Some(v6)) => v6.to_string(),
        (None, None) => String::new(),
    }
}

fn is_https(url: &str) -> bool {
    url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// The first line of an upstream's answer, bounded for the log (which escapes it).
fn loggable(body: &str) -> String {
    let line = body.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(MAX_LOGGED_ANSWER).collect();
    if line.chars().count() > MAX_LOGGED_ANSWER {
        out.push_str("...");
    }
    if out.is_empty() { "(empty)".to_owned() } else { out }
}

/// Why `hostname relay --url` refuses a URL.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    #[error("the URL `{0}` is longer than {MAX_URL_LEN} bytes")]
    TooLong(String),
    #[error("the URL `{0}` must start with `http://` or `https://`")]
    Scheme(String),
    #[error("the URL `{0}` must not contain spaces, control or non-ASCII characters, or a `#` fragment")]
    Characters(String),
    #[error("the URL `{0}` must not carry credentials; give them with `--user` and `--password-stdin`")]
    Credentials(String),
    #[error("the URL `{0}` has no host")]
    NoHost(String),
    #[error("the URL `{0}` must name the upstream's hostname in its query, e.g. `?hostname=home.example.net`")]
    NoHostname(String),
    #[error("the URL `{0}` must not set `myip`; ddns-cgi adds the update's addresses")]
    Myip(String),
}

/// Checks an upstream update URL given to `hostname relay`: `http` or `https`, a host, no
/// user-info (credentials travel only in the `Authorization` header), a query with a
/// non-empty `hostname=` and no `myip=`.
pub(crate) fn check_url(url: &str) -> Result<(), UrlError> {
    let shown = || display_url(url);
    if url.len() > MAX_URL_LEN {
        return Err(UrlError::TooLong(format!("{}...", url.chars().take(40).collect::<String>())));
    }
    if url.chars().any(|c| !c.is_ascii_graphic() || c == '#') {
        return Err(UrlError::Characters(shown()));
    }
    let rest = if is_https(url) {
        &url[8..]
    } else if url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://")) {
        &url[7..]
    } else {
        return Err(UrlError::Scheme(shown()));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(UrlError::Credentials(shown()));
    }
    if authority.is_empty() || url.parse::<ureq::http::Uri>().is_err() {
        return Err(UrlError::NoHost(shown()));
    }
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    let names = || query.split('&').filter_map(|p| p.split_once('=').or(Some((p, ""))));
    if !names().any(|(k, v)| k == "hostname" && !v.is_empty()) {
        return Err(UrlError::NoHostname(shown()));
    }
    if names().any(|(k, _)| k == "myip") {
        return Err(UrlError::Myip(shown()));
    }
    Ok(())
}

/// The upstream record's FQDN in a checked URL: its one `hostname=` value, for
/// `--user-is-fqdn` (the DDnsBroker's "Username is FQDN"). `None` for several names
/// (`a,b`) or a percent-encoded one: which would be the user is then not plain.
pub(crate) fn url_hostname(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    let value = query.split('&').find_map(|p| p.strip_prefix("hostname="))?;
    (!value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
        .then_some(value)
}

/// A URL as it may be logged or listed: user-info replaced by `***@`, and every query value
/// but `hostname` and `myip` replaced by `***` (some providers take a password or token in
/// the query).
pub(crate) fn display_url(url: &str) -> String {
    let (before, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match before.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
            let host = authority.rsplit_once('@').map_or(authority.to_owned(), |(_, h)| format!("***@{h}"));
            format!("{scheme}://{host}{path}")
        }
        None => before.to_owned(),
    };
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((k @ ("hostname" | "myip"), v)) => {
                    let _ = write!(out, "{k}={v}");
                }
                Some((k, _)) => {
                    let _ = write!(out, "{k}=***");
                }
                None => out.push_str(pair),
            }
        }
    }
    out
}

/// The addresses a listing shows as last accepted by an upstream.
pub(crate) fn last_accepted(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>) -> String {
    let s = myip(Addresses { ipv4, ipv6 });
    if s.is_empty() { "-".to_owned() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_class(status: u16, body: &str, expected: Upstream) {
        assert_eq!(classify(status, body), expected, "{status} {body:?}");
    }

    #[test]
    fn upstream_answers_map_to_success_pause_or_failure() {
        check_class(200, "good 192.0.2.1\n", Upstream::Accepted("good"));
        check_class(200, "nochg 192.0.2.1", Upstream::Accepted("nochg"));
        check_class(200, "GOOD", Upstream::Accepted("good"));
        check_class(401, "badauth\n", Upstream::Pause("badauth"));
        check_class(401, "", Upstream::Pause("badauth"));
        check_class(200, "badauth", Upstream::Pause("badauth"));
        check_class(200, "abuse\n", Upstream::Pause("abuse"));
        for failed in ["nohost", "notfqdn", "dnserr", "911", "numhost", "badagent", "!donator", "", "<html>"] {
            check_class(200, failed, Upstream::Failed);
        }
        // An HTTP error is never success, whatever the body says.
        check_class(500, "good 192.0.2.1", Upstream::Failed);
        check_class(404, "", Upstream::Failed);
    }

    #[track_caller]
    fn check_url_err(url: &str, expected: &str) {
        assert_eq!(check_url(url).expect_err("refused").to_string(), expected);
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(check_url("https://members.example.net/nic/update?hostname=home.example.net"), Ok(()));
        assert_eq!(check_url("http://127.0.0.1:8080/nic/update?system=dyndns&hostname=a.example"), Ok(()));
        check_url_err("ftp://x/?hostname=a", "the URL `ftp://x/?hostname=a` must start with `http://` or `https://`");
        check_url_err(
            "https://u:secret@x/nic/update?hostname=a",
            "the URL `https://***@x/nic/update?hostname=a` must not carry credentials; give them with `--user` and `--password-stdin`",
        );
        check_url_err(
            "https://x/nic/update",
            "the URL `https://x/nic/update` must name the upstream's hostname in its query, e.g. `?hostname=home.example.net`",
        );
        check_url_err(
            "https://x/nic/update?hostname=",
            "the URL `https://x/nic/update?hostname=` must name the upstream's hostname in its query, e.g. `?hostname=home.example.net`",
        );
        check_url_err(
            "https://x/nic/update?hostname=a&myip=1.2.3.4",
            "the URL `https://x/nic/update?hostname=a&myip=1.2.3.4` must not set `myip`; ddns-cgi adds the update's addresses",
        );
        check_url_err("https:///nic/update?hostname=a", "the URL `https:///nic/update?hostname=a` has no host");
        assert!(matches!(check_url("https://x/a b?hostname=a"), Err(UrlError::Characters(_))));
        assert!(matches!(check_url("https://x/?hostname=a#f"), Err(UrlError::Characters(_))));
        assert!(matches!(check_url(&format!("https://x/?hostname={}", "a".repeat(3000))), Err(UrlError::TooLong(_))));
    }

    #[test]
    fn display_url_hides_credentials_and_query_secrets() {
        assert_eq!(
            display_url("https://user:pw@x.example:8443/nic/update?hostname=h.example&password=pw&myip=192.0.2.1"),
            "https://***@x.example:8443/nic/update?hostname=h.example&password=***&myip=192.0.2.1"
        );
        assert_eq!(display_url("http://x/u?hostname=a"), "http://x/u?hostname=a");
    }

    #[test]
    fn myip_joins_both_families() {
        let v4: Ipv4Addr = "192.0.2.1".parse().expect("v4");
        let v6: Ipv6Addr = "2001:db8::1".parse().expect("v6");
        assert_eq!(myip(Addresses { ipv4: Some(v4), ipv6: Some(v6) }), "192.0.2.1,2001:db8::1");
        assert_eq!(myip(Addresses { ipv4: None, ipv6: Some(v6) }), "2001:db8::1");
        assert_eq!(last_accepted(None, None), "-");
    }

    #[test]
    fn the_record_fqdn_is_the_one_plain_hostname_of_the_url() {
        assert_eq!(url_hostname("https://x/nic/update?hostname=Office.example.net&k=v"), Some("Office.example.net"));
        assert_eq!(url_hostname("https://x/nic/update?a=b&hostname=h.example"), Some("h.example"));
        for url in
            ["https://x/nic/update?hostname=a.example,b.example", "https://x/u?hostname=a%2Eb", "https://x/u?hostname="]
        {
            assert_eq!(url_hostname(url), None, "{url}");
        }
    }
}
