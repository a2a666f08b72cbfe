//! Rate limiting, persisted in SQLite so every CGI process and FastCGI worker shares it. The
//! policy lives here; the rows (`scope`, `key`, `at`) live in `store`. Three counters:
//! bad requests per client (`bad-addr`) and per user name (`bad-user`, so a guess at one
//! account spread over many addresses is stopped too), and successful requests (`good` and
//! `nochg`) per client (`good-addr`). A client is an IPv4 address or an IPv6 prefix
//! (`ipv6_prefix`, a /64 by default), since a subscriber can use every address of its prefix.
//!
//! Check and count are one step, taken before any Argon2 work: [`reserve`] counts each
//! counter under the database write lock and, when the request is under every limit, writes
//! its rows as a bad attempt at once. N parallel attempts therefore count as N, however long
//! their verification takes. [`settle`] then corrects the reservation to the outcome: a bad
//! attempt keeps its rows, a good one trades them for a `good-addr` row, a neutral one drops
//! them. Whatever fails on the way leaves the attempt counted as bad: the limit fails closed.
//! This module does not decide the answer: `update` answers `abuse` when it says so, and the
//! acme-dns registration (`acme::register`) `429 too_many_requests`.

use std::net::{IpAddr, Ipv6Addr};

use crate::config::RateLimit;
use crate::store::{CountedRow, Counter, Store, StoreError};

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
    /// are not the client's fault. `abuse` is not counted either (counting it would extend a
    /// block forever for a client that keeps retrying on a timer); it never gets a
    /// reservation to settle.
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

/// The log line's account of the limit hit, the same for every request that can hit one
/// (dyndns2's updates, acme-dns registrations).
impl std::fmt::Display for Limited {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} `{}` made {} counted requests in {} s",
            self.scope, self.key, self.n_requests, self.window_seconds
        )
    }
}

/// An attempt counted as bad until [`settle`] says otherwise. Empty when limits are off.
#[derive(Debug, Default)]
#[must_use = "a reservation stays counted as bad unless it is settled"]
pub(crate) struct Reservation {
    rows: Vec<CountedRow>,
    /// The client's counter key, for the `good-addr` row of a good outcome.
    client_key: Option<String>,
}

/// Reserves an attempt by `client` for `username` at `now`: `Ok(Err(limited))` when a
/// limit is reached (nothing is written), `Ok(Ok(reservation))` when the request may go on.
/// An `Err` means the limit could not be checked and counted; the caller must not go on.
pub(crate) fn reserve(
    limits: &RateLimit,
    store: &mut Store,
    client: Option<IpAddr>,
    username: Option<&str>,
    now: i64,
) -> Result<Result<Reservation, Limited>, StoreError> {
    if !limits.enabled {
        return Ok(Ok(Reservation::default()));
    }
    let client_key = client.map(|ip| client_key(ip, limits.ipv6_prefix));
    let user_key = username.map(user_key);
    let bad = |scope, key| Counter {
        scope,
        key,
        since: now - i64::from(limits.bad_window_seconds),
        max: u64::from(limits.bad_max_requests),
    };
    let mut counters: Vec<Counter<'_>> = Vec::with_capacity(3);
    if let Some(key) = &client_key {
        counters.push(bad(BAD_ADDR, key));
        counters.push(Counter {
            scope: GOOD_ADDR,
            key,
            since: now - i64::from(limits.good_window_seconds),
            max: u64::from(limits.good_max_requests),
        });
    }
    if let Some(key) = &user_key {
        counters.push(bad(BAD_USER, key));
    }
    let limited = |(c, n_requests): (Counter<'_>, u64)| Limited {
        scope: c.scope,
        key: c.key.to_owned(),
        n_requests,
        window_seconds: if c.scope == GOOD_ADDR { limits.good_window_seconds } else { limits.bad_window_seconds },
    };
    // A plain read first: a flood of requests that are over a limit anyway gets its `abuse`
    // without queueing for the write lock. Counts only grow within a window, so a request
    // found over the limit here would be found over it under the lock too.
    if let Some(over) = store.rate_limit_over(&counters)? {
        return Ok(Err(limited(over)));
    }
    let rows: Vec<(&'static str, String)> =
        [client_key.clone().map(|k| (BAD_ADDR, k)), user_key.clone().map(|k| (BAD_USER, k))]
            .into_iter()
            .flatten()
            .collect();
    let longest = limits.good_window_seconds.max(limits.bad_window_seconds);
    Ok(match store.rate_limit_reserve(&counters, &rows, now, now - i64::from(longest))? {
        Ok(rows) => Ok(Reservation { rows, client_key }),
        Err(over) => Err(limited(over)),
    })
}

/// Corrects a reservation to the request's outcome at `now`. Bad keeps the reserved rows,
/// Good replaces them with one `good-addr` row, Neutral removes them. On an `Err` the
/// reservation stays as it is: counted as bad.
pub(crate) fn settle(
    store: &mut Store,
    reservation: Reservation,
    outcome: Outcome,
    now: i64,
) -> Result<(), StoreError> {
    let add: Vec<(&'static str, String)> = match outcome {
        Outcome::Bad => return Ok(()),
        Outcome::Good => reservation.client_key.into_iter().map(|k| (GOOD_ADDR, k)).collect(),
        Outcome::Neutral => Vec::new(),
    };
    if reservation.rows.is_empty() && add.is_empty() {
        return Ok(());
    }
    store.rate_limit_settle(&reservation.rows, &add, now)
}

/// The counter key of a client: the IPv4 address, or the IPv6 network of `ipv6_prefix` bits
/// in CIDR notation (`2001:db8:1:2::/64`).
pub(crate) fn client_key(ip: IpAddr, ipv6_prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u32::from(ipv6_prefix.min(128));
            let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
            format!("{}/{prefix}", Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

/// User names are bounded before they become keys: an attacker chooses them. One that holds
/// a token (typed into the wrong field) is stored as `ddns_***`, never in clear: the keys are
/// listed by `ratelimit list` (the handler passes names already redacted; this keeps the
/// operator's `ratelimit clear` naming the same key).
fn user_key(user: &str) -> String {
    crate::auth::token::shown_name(user).chars().take(256).collect()
}

/// The window and maximum that apply to the counters of `scope`, for `ratelimit list`;
/// `None` for a scope this version does not count.
pub(crate) fn limit_of(limits: &RateLimit, scope: &str) -> Option<(u32, u32)> {
    match scope {
        BAD_ADDR | BAD_USER => Some((limits.bad_window_seconds, limits.bad_max_requests)),
        GOOD_ADDR => Some((limits.good_window_seconds, limits.good_max_requests)),
        _ => None,
    }
}

/// The counter keys an operator's `ratelimit clear ARG` names: `ARG` as listed (an IPv4
/// address, an IPv6 prefix, a user name) and, for an address, its client key, so that any
/// IPv6 address of a counted prefix clears the prefix.
pub(crate) fn keys_for(limits: &RateLimit, arg: &str) -> Vec<String> {
    let mut keys = vec![user_key(arg)];
    if let Ok(ip) = arg.parse::<IpAddr>() {
        let key = client_key(ip, limits.ipv6_prefix);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}
