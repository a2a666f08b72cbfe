//! Per-host tokens: machine-generated secrets that let a device update its one hostname
//! without its owner's password. A token is `ddns_` followed by 32 random bytes in base64url
//! without padding (RFC 4648 §5), 256 bits of entropy, so a plain SHA-256 digest of it is as
//! hard to invert as guessing it and no slow hash is needed: checking a token costs one
//! digest and one indexed read, never an Argon2 run. Only the digest is stored. A token may be
//! scoped to record types, client networks and an expiry date; [`Scope::check`] says which
//! part refused a request. This module reads no database (callers pass the stored row) and
//! decides no answer.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use subtle::ConstantTimeEq as _;

use crate::config::Cidr;
use crate::secret::Secret;
use crate::store::TokenScope;

/// What every token starts with, so people and secret scanners recognise one, and so the
/// handler can tell a token from a password by its shape alone (see `update::auth::authenticate`).
pub(crate) const PREFIX: &str = "ddns_";
/// Random bytes per token: 256 bits, well above the 128 that make guessing hopeless.
const RANDOM_BYTES: usize = 32;
/// Length of the base64url text of [`RANDOM_BYTES`] without padding.
const ENCODED_LEN: usize = 43;
/// Length of a whole token.
pub(crate) const TOKEN_LEN: usize = PREFIX.len() + ENCODED_LEN;

/// A new random token; the caller shows it once and stores only its [`digest`].
pub(crate) fn generate() -> Result<Secret<String>, getrandom::Error> {
    let mut bytes = [0u8; RANDOM_BYTES];
    getrandom::fill(&mut bytes)?;
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    Ok(Secret::new(format!("{PREFIX}{encoded}")))
}

/// Whether `secret` has the shape of a token: the prefix and 43 base64url characters. It says
/// nothing about whether the token exists.
pub(crate) fn looks_like(secret: &str) -> bool {
    secret.len() == TOKEN_LEN
        && secret
            .strip_prefix(PREFIX)
            .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// What a user name that holds a token shows as wherever it is written (log lines, the audit
/// trail, rate-limit keys). Not a valid user name (`*`), so it cannot be taken for one.
pub(crate) const REDACTED_NAME: &str = "ddns_***";

/// `name` as it may be logged or stored: [`REDACTED_NAME`] when it holds a token's shape
/// anywhere (a token typed into the user-name field, alone or with something around it),
/// else itself. Names a client chose go through this before any log line, audit row or
/// rate-limit key; `user add` refuses such names, so no account's name is ever hidden.
pub(crate) fn shown_name(name: &str) -> &str {
    if holds_token(name) { REDACTED_NAME } else { name }
}

/// Whether `s` contains the token prefix followed by at least a token's worth of base64url
/// characters, i.e. a substring of the token's shape.
pub(crate) fn holds_token(s: &str) -> bool {
    s.match_indices(PREFIX).any(|(at, _)| {
        s.as_bytes().get(at + PREFIX.len()..).is_some_and(|rest| {
            rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-' || **b == b'_').count() >= ENCODED_LEN
        })
    })
}

/// The SHA-256 digest (FIPS 180-4) stored for a token and looked up by.
pub(crate) fn digest(token: &str) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Compares two digests in time that does not depend on where they differ.
pub(crate) fn digests_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A record type a token may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RecordType {
    A,
    Aaaa,
    /// Accepted in scopes now so tokens made today keep working when TXT updates arrive.
    Txt,
}

impl RecordType {
    fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::Aaaa => "AAAA",
            RecordType::Txt => "TXT",
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A client network a token may be used from, kept with the text it was given as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Network {
    text: String,
    cidr: Cidr,
}

/// What a token is limited to; an empty list or `None` means no limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) types: Vec<RecordType>,
    pub(crate) from: Vec<Network>,
    /// The first second (since the epoch) at which the token no longer works.
    pub(crate) expires_at: Option<i64>,
}

/// A scope option that cannot be used, for the admin CLI (or a stored scope someone edited).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScopeError {
    #[error("`{0}` is not a record type a token can be limited to; use A, AAAA or TXT")]
    Type(String),
    #[error("`--types` needs at least one record type")]
    NoTypes,
    #[error("{0}")]
    Network(String),
    #[error("`--from` needs at least one network")]
    NoNetworks,
    #[error("`{0}` is not a date; use YYYY-MM-DD")]
    Date(String),
    #[error("`--expires` `{date}` is in the past")]
    Past { date: String },
}

/// Which part of a scope refused a request; logged, never shown to the client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ScopeFailure {
    #[error("type scope: it may change {allowed}, the request changes {wanted}")]
    Type { allowed: String, wanted: RecordType },
    #[error("network scope: client {client} is outside {allowed}")]
    Network { client: String, allowed: String },
    #[error("expiry scope: it expired at {at}")]
    Expired { at: String },
}

/// Parses `A,AAAA,TXT` (any case, repeats ignored).
pub(crate) fn parse_types(list: &str) -> Result<Vec<RecordType>, ScopeError> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let t = match item.to_ascii_uppercase().as_str() {
            "A" => RecordType::A,
            "AAAA" => RecordType::Aaaa,
            "TXT" => RecordType::Txt,
            _ => return Err(ScopeError::Type(truncate(item))),
        };
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err(ScopeError::NoTypes);
    }
    out.sort();
    Ok(out)
}

/// Parses `192.0.2.0/24,2001:db8::/32` (single addresses too) with the config's CIDR parser.
pub(crate) fn parse_networks(list: &str) -> Result<Vec<Network>, ScopeError> {
    let mut out: Vec<Network> = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let cidr = item.parse::<Cidr>().map_err(ScopeError::Network)?;
        if !out.iter().any(|n| n.cidr == cidr) {
            out.push(Network { text: item.to_owned(), cidr });
        }
    }
    if out.is_empty() {
        return Err(ScopeError::NoNetworks);
    }
    Ok(out)
}

/// Parses `YYYY-MM-DD` as the end of that day in UTC: the token works through 23:59:59 and
/// stops at the next midnight, which is what is returned. A date already over at `now` is
/// refused: such a token could never be used.
pub(crate) fn parse_expiry(date: &str, now: i64) -> Result<i64, ScopeError> {
    let bad = || ScopeError::Date(truncate(date));
    let parts: Vec<&str> = date.trim().split('-').collect();
    let [y, m, d] = parts.as_slice() else { return Err(bad()) };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y, 4) && digits(m, 2) && digits(d, 2)) {
        return Err(bad());
    }
    let (Ok(year), Ok(month), Ok(day)) = (y.parse::<i64>(), m.parse::<i64>(), d.parse::<i64>()) else {
        return Err(bad());
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1..=days_in_month).contains(&day) {
        return Err(bad());
    }
    let end = (days_from_civil(year, month, day) + 1) * 86_400;
    if end <= now {
        return Err(ScopeError::Past { date: date.trim().to_owned() });
    }
    Ok(end)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`; the
/// inverse of the one in `log::rfc3339`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The last day a token whose validity ends at `expires_at` works, as `YYYY-MM-DD`.
fn last_day(expires_at: i64) -> String {
    let stamp = crate::log::rfc3339(expires_at - 1);
    stamp.get(..10).unwrap_or(&stamp).to_owned()
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

impl Scope {
    /// The scope as the admin CLI gives it: each option is optional.
    pub(crate) fn from_options(
        types: Option<&str>,
        from: Option<&str>,
        expires: Option<&str>,
        now: i64,
    ) -> Result<Scope, ScopeError> {
        Ok(Scope {
            types: types.map(parse_types).transpose()?.unwrap_or_default(),
            from: from.map(parse_networks).transpose()?.unwrap_or_default(),
            expires_at: expires.map(|d| parse_expiry(d, now)).transpose()?,
        })
    }

    /// Reads a stored scope. An unreadable one (only possible if the database was edited) is
    /// an error, and the caller refuses the token: a scope must never fail open.
    pub(crate) fn from_stored(stored: &TokenScope) -> Result<Scope, ScopeError> {
        Ok(Scope {
            types: stored.types.as_deref().map(parse_types).transpose()?.unwrap_or_default(),
            from: stored.networks.as_deref().map(parse_networks).transpose()?.unwrap_or_default(),
            expires_at: stored.expires_at,
        })
    }

    pub(crate) fn to_stored(&self) -> TokenScope {
        let join = |items: Vec<String>| (!items.is_empty()).then(|| items.join(","));
        TokenScope {
            types: join(self.types.iter().map(ToString::to_string).collect()),
            networks: join(self.from.iter().map(|n| n.text.clone()).collect()),
            expires_at: self.expires_at,
        }
    }

    /// Whether a request from `client` that changes `wanted` record types may go ahead at
    /// `now`. Expiry is checked first, then the network, then the types.
    pub(crate) fn check(&self, wanted: &[RecordType], client: Option<IpAddr>, now: i64) -> Result<(), ScopeFailure> {
        if let Some(at) = self.expires_at
            && now >= at
        {
            return Err(ScopeFailure::Expired { at: crate::log::rfc3339(at) });
        }
        if !self.from.is_empty() && !client.is_some_and(|ip| self.from.iter().any(|n| n.cidr.contains(ip))) {
            return Err(ScopeFailure::Network {
                client: client.map_or_else(|| "(unknown)".to_owned(), |ip| ip.to_string()),
                allowed: self.networks_list().join(","),
            });
        }
        self.check_types(wanted)
    }

    /// The type part of [`Scope::check`] alone: under the host lock, a change is held again to
    /// the types whose rrsets its RFC 2136 message really touches (`update::changes`).
    pub(crate) fn check_types(&self, wanted: &[RecordType]) -> Result<(), ScopeFailure> {
        if !self.types.is_empty()
            && let Some(t) = wanted.iter().find(|t| !self.types.contains(t))
        {
            return Err(ScopeFailure::Type { allowed: self.types_list().join(","), wanted: *t });
        }
        Ok(())
    }

    pub(crate) fn types_list(&self) -> Vec<String> {
        self.types.iter().map(ToString::to_string).collect()
    }

    pub(crate) fn networks_list(&self) -> Vec<String> {
        self.from.iter().map(|n| n.text.clone()).collect()
    }

    /// The last valid day, `YYYY-MM-DD`.
    pub(crate) fn expires(&self) -> Option<String> {
        self.expires_at.map(last_day)
    }

    /// One cell for `hostname list`: `any` for an unscoped token, else each limit.
    pub(crate) fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.types.is_empty() {
            parts.push(format!("types={}", self.types_list().join(",")));
        }
        if !self.from.is_empty() {
            parts.push(format!("from={}", self.networks_list().join(",")));
        }
        if let Some(day) = self.expires() {
            parts.push(format!("expires={day}"));
        }
        if parts.is_empty() { "any".to_owned() } else { parts.join(";") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z.
    const NOW: i64 = 1_767_225_600;

    #[test]
    fn generated_tokens_have_the_shape_and_differ() {
        let a = generate().expect("random");
        let b = generate().expect("random");
        assert!(looks_like(a.expose()), "{}", a.expose());
        assert_eq!(a.expose().len(), TOKEN_LEN);
        assert_ne!(a.expose(), b.expose());
        assert_ne!(digest(a.expose()), digest(b.expose()));
        // Redacted when formatted by accident.
        assert!(!format!("{a:?} {a}").contains(PREFIX));
    }

    #[track_caller]
    fn check_shape(s: &str, expected: bool) {
        assert_eq!(looks_like(s), expected, "{s:?}");
    }

    #[test]
    fn token_shape() {
        let body = "A".repeat(ENCODED_LEN);
        check_shape(&format!("ddns_{body}"), true);
        check_shape(&format!("ddns_{}-_9", "a".repeat(ENCODED_LEN - 3)), true);
        check_shape(&format!("DDNS_{body}"), false);
        check_shape(&format!("ddns_{body}A"), false);
        check_shape(&format!("ddns_{}", &body[1..]), false);
        check_shape(&format!("ddns_{}=", &body[1..]), false);
        check_shape(&format!("ddns_{}+", &body[1..]), false);
        check_shape(&format!("ddns_{}é", &body[2..]), false);
        check_shape("s3cret:with-colon", false);
        check_shape("", false);
    }

    #[test]
    fn user_names_holding_a_token_are_redacted() {
        let token = format!("ddns_{}", "a".repeat(ENCODED_LEN));
        assert_eq!(shown_name(&token), REDACTED_NAME);
        assert_eq!(shown_name(&format!("x{token}y")), REDACTED_NAME);
        assert_eq!(shown_name(&format!("{token}-more")), REDACTED_NAME);
        assert_eq!(shown_name(&format!("ddns_ ddns_{}", "b".repeat(ENCODED_LEN))), REDACTED_NAME);
        assert_eq!(shown_name(&token[..token.len() - 1]), &token[..token.len() - 1]);
        assert_eq!(shown_name("ddns_user"), "ddns_user");
        assert_eq!(shown_name("alice"), "alice");
        assert_eq!(shown_name(REDACTED_NAME), REDACTED_NAME);
        assert!(!holds_token("ddns_"));
        // `-` and `_` are base64url, as a real token's random part may hold; `+` is not.
        assert!(holds_token(&format!("ddns_{}", "-".repeat(ENCODED_LEN))));
        assert!(holds_token(&format!("ddns_{}", "_".repeat(ENCODED_LEN))));
        assert!(!holds_token(&format!("ddns_{}", "+".repeat(ENCODED_LEN))));
    }

    #[test]
    fn digest_is_sha256_and_compared_whole() {
        // FIPS 180-4 test vector "abc".
        let d = digest("abc");
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert!(digests_equal(&d, &digest("abc")));
        assert!(!digests_equal(&d, &digest("abd")));
        assert!(!digests_equal(&d, &d[..31]));
    }

    #[test]
    fn types_parse() {
        assert_eq!(parse_types("aaaa, A,a"), Ok(vec![RecordType::A, RecordType::Aaaa]));
        assert_eq!(parse_types("TXT"), Ok(vec![RecordType::Txt]));
        assert_eq!(parse_types("A,MX"), Err(ScopeError::Type("MX".into())));
        assert_eq!(parse_types(" , "), Err(ScopeError::NoTypes));
    }

    #[test]
    fn networks_parse() {
        let n = parse_networks("192.0.2.0/24, 2001:db8::/32,192.0.2.0/24").expect("ok");
        assert_eq!(n.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(), ["192.0.2.0/24", "2001:db8::/32"]);
        assert!(matches!(parse_networks("192.0.2.0/33"), Err(ScopeError::Network(_))));
        assert!(matches!(parse_networks("example.com"), Err(ScopeError::Network(_))));
        assert_eq!(parse_networks(""), Err(ScopeError::NoNetworks));
    }

    #[track_caller]
    fn check_date(date: &str, expected: Result<&str, ()>) {
        let got = parse_expiry(date, NOW).map(crate::log::rfc3339).map_err(|_| ());
        assert_eq!(got.as_deref().map_err(|_| ()), expected, "{date:?}");
    }

    #[test]
    fn expiry_dates_end_at_the_next_utc_midnight() {
        check_date("2027-06-30", Ok("2027-07-01T00:00:00Z"));
        check_date("2026-12-31", Ok("2027-01-01T00:00:00Z"));
        check_date("2028-02-29", Ok("2028-03-01T00:00:00Z"));
        check_date("2026-01-01", Ok("2026-01-02T00:00:00Z"));
        check_date("2027-02-29", Err(()));
        check_date("2100-02-29", Err(()));
        check_date("2027-13-01", Err(()));
        check_date("2027-06-31", Err(()));
        check_date("2027-6-30", Err(()));
        check_date("2027-06-30T00:00:00Z", Err(()));
        check_date("+2027-06-30", Err(()));
        check_date("tomorrow", Err(()));
        // Over already: the day before `now`.
        assert_eq!(parse_expiry("2025-12-31", NOW), Err(ScopeError::Past { date: "2025-12-31".into() }));
        assert_eq!(last_day(parse_expiry("2027-06-30", NOW).expect("ok")), "2027-06-30");
    }

    /// Mutation gaps (issue 12): the 400-year leap rule, the 28-day February and the century
    /// term of `days_from_civil` (zero for every year of this century) had no date that needs
    /// them.
    #[test]
    fn expiry_dates_of_other_centuries_and_common_februaries() {
        check_date("2027-02-28", Ok("2027-03-01T00:00:00Z"));
        check_date("2400-02-29", Ok("2400-03-01T00:00:00Z"));
        check_date("2100-02-28", Ok("2100-03-01T00:00:00Z"));
        check_date("2100-03-01", Ok("2100-03-02T00:00:00Z"));
        check_date("2399-12-31", Ok("2400-01-01T00:00:00Z"));
    }

    #[test]
    fn scope_checks_each_part() {
        let scope =
            Scope::from_options(Some("A"), Some("192.0.2.0/24,2001:db8::/32"), Some("2026-06-30"), NOW).expect("scope");
        let inside: IpAddr = "192.0.2.9".parse().expect("ip");
        let outside: IpAddr = "198.51.100.1".parse().expect("ip");
        assert_eq!(scope.check(&[RecordType::A], Some(inside), NOW), Ok(()));
        assert_eq!(scope.check(&[], Some("2001:db8::5".parse().expect("ip")), NOW), Ok(()));
        assert!(matches!(
            scope.check(&[RecordType::A, RecordType::Aaaa], Some(inside), NOW),
            Err(ScopeFailure::Type { wanted: RecordType::Aaaa, .. })
        ));
        assert!(matches!(scope.check(&[RecordType::A], Some(outside), NOW), Err(ScopeFailure::Network { .. })));
        assert!(matches!(scope.check(&[RecordType::A], None, NOW), Err(ScopeFailure::Network { .. })));
        let end = parse_expiry("2026-06-30", NOW).expect("date");
        assert_eq!(scope.check(&[RecordType::A], Some(inside), end - 1), Ok(()));
        assert!(matches!(scope.check(&[RecordType::A], Some(inside), end), Err(ScopeFailure::Expired { .. })));
        assert_eq!(
            scope.check(&[RecordType::A], Some(outside), end).map_err(|e| e.to_string()),
            Err("expiry scope: it expired at 2026-07-01T00:00:00Z".to_owned())
        );
        assert_eq!(scope.summary(), "types=A;from=192.0.2.0/24,2001:db8::/32;expires=2026-06-30");
        assert_eq!(Scope::default().summary(), "any");
        assert_eq!(Scope::default().check(&[RecordType::Txt], None, i64::MAX), Ok(()));
    }

    #[test]
    fn scope_round_trips_through_the_store_and_fails_closed() {
        let scope = Scope::from_options(Some("aaaa,a"), Some("2001:db8::/32"), None, NOW).expect("scope");
        let stored = scope.to_stored();
        assert_eq!(stored.types.as_deref(), Some("A,AAAA"));
        assert_eq!(Scope::from_stored(&stored), Ok(scope));
        assert_eq!(Scope::default().to_stored(), TokenScope::default());
        let edited = TokenScope { networks: Some("not a network".into()), ..TokenScope::default() };
        assert!(Scope::from_stored(&edited).is_err());
    }
}
