//! Output of the listings: the aligned table for people, the one-line `--json` writer for
//! scripts, the cells of `hostname list`, and the `#[derive(Serialize)]` wire shapes of the
//! user and hostname listings. Nothing here prints.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::auth::token::Scope;
use crate::cli::CliError;
use crate::store::{Derivation, Host, HostListing, TokenInfo, UserSummary};

/// Left-aligned columns separated by two spaces; widths count characters, so IDN names in
/// punycode (always ASCII) line up.
pub(super) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<w$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `--json` output: one line, the listing's array.
pub(super) fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, CliError> {
    let mut out = serde_json::to_string(value).map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
    out.push('\n');
    Ok(out)
}

/// When the host's records go: `never`, `expired`, `-` (no records yet), or a time: the
/// expiry run's cut-off, the touch interval included (`Host::touch_interval`).
fn expires(host: &Host) -> Option<i64> {
    match (host.expiry_ttl, host.last_update) {
        (0, _) | (_, None) => None,
        (ttl, Some(t)) => Some(t + i64::from(ttl) + host.touch_interval()),
    }
}

pub(super) fn host_row(listing: &HostListing, relays: (u32, u32)) -> Vec<String> {
    let h = &listing.host;
    let expires = if h.expiry_ttl == 0 {
        "never".to_owned()
    } else if h.expired {
        "expired".to_owned()
    } else {
        expires(h).map_or_else(|| "-".to_owned(), crate::log::rfc3339)
    };
    vec![
        hostname_cell(&h.fqdn, relays),
        listing.owner.clone(),
        h.zone.clone(),
        h.dns_ttl.to_string(),
        h.expiry_ttl.to_string(),
        // A family switched off has no address: `off` says why.
        family_cell(h.ipv4, h.families.ipv4),
        family_cell(h.ipv6, h.families.ipv6),
        h.last_update.map_or_else(|| "-".to_owned(), crate::log::rfc3339),
        expires,
        token_cell(listing.token.as_ref()),
    ]
}

fn family_cell(address: Option<impl std::fmt::Display>, on: bool) -> String {
    match address {
        _ if !on => "off".to_owned(),
        Some(a) => a.to_string(),
        None => "-".to_owned(),
    }
}

/// The HOSTNAME cell: the name, marked when it has relays (` (relays: 2)`, and `, only` when
/// they replace the local update: every relay has `--only`). A mark rather than a column, so
/// the table of hosts without relays is what it always was.
fn hostname_cell(fqdn: &str, (n_relays, n_only): (u32, u32)) -> String {
    match (n_relays, n_only) {
        (0, _) => fqdn.to_owned(),
        (n, m) if m == n => format!("{fqdn} (relays: {n}, only)"),
        (n, _) => format!("{fqdn} (relays: {n})"),
    }
}

/// The TOKEN column: `-` without a token, `any` for an unscoped one, else its limits. A
/// scope that cannot be read (an edited database) refuses every request and says so here.
fn token_cell(info: Option<&TokenInfo>) -> String {
    match info.map(|t| Scope::from_stored(&t.scope)) {
        None => "-".to_owned(),
        Some(Ok(scope)) => scope.summary(),
        Some(Err(_)) => "unreadable".to_owned(),
    }
}

/// The FOLLOWS column: `-`, or the parent with the child's interface id, IPv4 rule and TTL.
pub(super) fn follows_cell(derivation: Option<&Derivation>) -> String {
    let Some(d) = derivation else { return "-".to_owned() };
    let mut cell = format!("{} iid={}", d.parent, d.ipv6_iid);
    if let Some(rule) = &d.ipv4_rule {
        cell.push_str(&format!(" ipv4={rule}"));
    }
    if let Some(ttl) = d.dns_ttl {
        cell.push_str(&format!(" ttl={ttl}"));
    }
    cell
}

/// One user of `user list --json`.
#[derive(Serialize)]
pub(super) struct UserJson<'a> {
    name: &'a str,
    email: &'a str,
    created_at: i64,
    n_hosts: i64,
}

impl<'a> From<&'a UserSummary> for UserJson<'a> {
    fn from(u: &'a UserSummary) -> Self {
        UserJson { name: &u.name, email: &u.email, created_at: u.created_at, n_hosts: u.n_hosts }
    }
}

/// One hostname of `hostname list --json`; times are seconds since the epoch.
#[derive(Serialize)]
pub(super) struct HostJson<'a> {
    hostname: &'a str,
    user: &'a str,
    zone: &'a str,
    dns_ttl: u32,
    expiry_ttl: u32,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    /// Whether updates may set each family (`hostname add/modify --ipv4 on|off`).
    ipv4_enabled: bool,
    ipv6_enabled: bool,
    last_update: Option<i64>,
    expires_at: Option<i64>,
    expired: bool,
    /// `null` without a token.
    token: Option<TokenJson>,
    /// Relays to upstream providers, and whether all of them replace the local update.
    n_relays: u32,
    relay_only: bool,
    /// Only for a hostname that follows another's prefix (`hostname derive`), so listings
    /// without fan-out keep their shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    follows: Option<FollowsJson<'a>>,
}

/// The rule a derived hostname follows its parent by.
#[derive(Serialize)]
struct FollowsJson<'a> {
    parent: &'a str,
    ipv6_iid: Ipv6Addr,
    ipv4: Option<&'a str>,
    ttl: Option<u32>,
}

impl<'a> HostJson<'a> {
    pub(super) fn new(
        listing: &'a HostListing,
        (n_relays, n_only): (u32, u32),
        derivation: Option<&'a Derivation>,
    ) -> Self {
        let h = &listing.host;
        HostJson {
            hostname: &h.fqdn,
            user: &listing.owner,
            zone: &h.zone,
            dns_ttl: h.dns_ttl,
            expiry_ttl: h.expiry_ttl,
            ipv4: h.ipv4,
            ipv6: h.ipv6,
            ipv4_enabled: h.families.ipv4,
            ipv6_enabled: h.families.ipv6,
            last_update: h.last_update,
            expires_at: expires(h),
            expired: h.expired,
            token: listing.token.as_ref().map(TokenJson::from),
            n_relays,
            relay_only: n_relays > 0 && n_only == n_relays,
            follows: derivation.map(|d| FollowsJson {
                parent: &d.parent,
                ipv6_iid: d.ipv6_iid,
                ipv4: d.ipv4_rule.as_deref(),
                ttl: d.dns_ttl,
            }),
        }
    }
}

/// A token's limits; in each, `null` means no limit. A scope that cannot be read (an edited
/// database) refuses every request and shows as `{"unreadable":true,...}`.
#[derive(Serialize)]
#[serde(untagged)]
enum TokenJson {
    Scope { types: Option<Vec<String>>, from: Option<Vec<String>>, expires: Option<String>, created_at: i64 },
    Unreadable { unreadable: bool, created_at: i64 },
}

impl From<&TokenInfo> for TokenJson {
    fn from(info: &TokenInfo) -> Self {
        let Ok(scope) = Scope::from_stored(&info.scope) else {
            return TokenJson::Unreadable { unreadable: true, created_at: info.created_at };
        };
        let limit = |items: Vec<String>| Some(items).filter(|v| !v.is_empty());
        TokenJson::Scope {
            types: limit(scope.types_list()),
            from: limit(scope.networks_list()),
            expires: scope.expires(),
            created_at: info.created_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(&["A", "BB"], vec![vec!["long".into(), "x".into()], vec!["s".into(), "yy".into()]]);
        assert_eq!(t, "A     BB\nlong  x\ns     yy\n");
    }
}
