//! Rate limiting, persisted in SQLite so every CGI process and FastCGI worker shares it. The
//! policy lives here; the rows (`scope`, `key`, `at`) live in `store`. Three counters:
//! bad requests per client address (`bad-addr`) and per user name (`bad-user`, so a guess at
//! one account spread over many addresses is stopped too), and successful requests (`good`
//! and `nochg`) per client address (`good-addr`). The check is one indexed count per counter
//! and runs before any Argon2 verification, so a flood of bad passwords costs a read each.
//! This module does not decide the answer token; `update` answers `abuse` when it says so.

use std::net::IpAddr;

use crate::config::RateLimit;
use crate::store::{Store, StoreError};

/// Counter scopes as stored in the `rate_limit.scope` column.
const BAD_ADDR: &str = "bad-addr";
const BAD_USER: &str = "bad-user";
const GOOD_ADDR: &str = "good-addr";

/// How a finished request counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Failed authentication, unknown host, malformed input.
    Bad,
    /// At least one `good` or `nochg` line.
    Good,
    /// Not counted: the credential-less first request of wget/uclient-fetch (they send
    /// credentials only after the 401 challenge), server-side failures (`911`, `dnserr`) that
    /// are not the client's fault, and `abuse` itself (counting it would extend a block
    /// forever for a client that keeps retrying on a timer).
    Neutral,
}

/// Which limit a request hit, for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Limited {
    pub(crate) scope: &'static str,
    pub(crate) key: String,
    pub(crate) n_requests: u64,
    pub(crate) window_seconds: u32,
}

/// Whether the request from `client` for `username` is over a limit at `now`. `Ok(None)`
/// when it may proceed.
pub(crate) fn check(
    limits: &RateLimit,
    store: &Store,
    client: Option<IpAddr>,
    username: Option<&str>,
    now: i64,
) -> Result<Option<Limited>, StoreError> {
    if !limits.enabled {
        return Ok(None);
    }
    let bad_since = now - i64::from(limits.bad_window_seconds);
    let good_since = now - i64::from(limits.good_window_seconds);
    let mut checks: Vec<(&'static str, String, i64, u32, u32)> = Vec::with_capacity(3);
    if let Some(ip) = client {
        let key = ip.to_string();
        checks.push((BAD_ADDR, key.clone(), bad_since, limits.bad_max_requests, limits.bad_window_seconds));
        checks.push((GOOD_ADDR, key, good_since, limits.good_max_requests, limits.good_window_seconds));
    }
    if let Some(user) = username {
        checks.push((BAD_USER, user_key(user), bad_since, limits.bad_max_requests, limits.bad_window_seconds));
    }
    for (scope, key, since, max, window_seconds) in checks {
        let n_requests = store.rate_limit_count(scope, &key, since)?;
        if n_requests >= u64::from(max) {
            return Ok(Some(Limited { scope, key, n_requests, window_seconds }));
        }
    }
    Ok(None)
}

/// Records a finished request and trims rows older than the longest window.
pub(crate) fn record(
    limits: &RateLimit,
    store: &mut Store,
    client: Option<IpAddr>,
    username: Option<&str>,
    outcome: Outcome,
    now: i64,
) -> Result<(), StoreError> {
    if !limits.enabled {
        return Ok(());
    }
    let mut rows: Vec<(&'static str, String)> = Vec::with_capacity(2);
    match outcome {
        Outcome::Neutral => {}
        Outcome::Good => rows.extend(client.map(|ip| (GOOD_ADDR, ip.to_string()))),
        Outcome::Bad => {
            rows.extend(client.map(|ip| (BAD_ADDR, ip.to_string())));
            rows.extend(username.map(|u| (BAD_USER, user_key(u))));
        }
    }
    if rows.is_empty() {
        return Ok(());
    }
    let longest = limits.good_window_seconds.max(limits.bad_window_seconds);
    store.rate_limit_record(&rows, now, now - i64::from(longest))
}

/// User names are bounded before they become keys: an attacker chooses them.
fn user_key(user: &str) -> String {
    user.chars().take(256).collect()
}
