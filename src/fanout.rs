//! IPv6 prefix fan-out (the idea of DDnsBroker and nsupdate.info's "related hosts"): a
//! router reports its delegated prefix (`ipv6prefix=2001:db8:1:2::/64`) and every hostname
//! derived from it (`hostname derive`) gets the prefix combined with its own interface
//! identifier. This module holds the address arithmetic, bitwise on `u128` (never on
//! strings), the child's IPv4 rule, and the plan of which children follow which parent. It
//! sends nothing and takes no lock: `update::changes::run_changes` applies the plan with the parent's
//! change in one run.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::request::Ipv6Prefix;
use crate::store::{Derived, Store, StoreError};

/// The shortest prefix fanned out: a /48 is the largest delegation RIRs recommend for a site
/// (RFC 6177), so the bits before it always come from the prefix.
pub(crate) const MIN_PREFIX_LEN: u8 = 48;
/// The longest: a /64 leaves 64 bits for the interface identifier (RFC 4291 §2.5.1).
pub(crate) const MAX_PREFIX_LEN: u8 = 64;

/// How deep a chain of derived hostnames is followed; `hostname derive` refuses cycles, this
/// bounds the walk should the database say otherwise.
const MAX_DEPTH: usize = 8;

/// The mask of the first `len` bits of an IPv6 address.
fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - u32::from(l)),
    }
}

/// The child's address: the first `len` bits of `prefix`, the rest from `iid`. Bits of
/// `iid` inside the prefix are ignored, and so are bits of `prefix` after it (a router may
/// send `2001:db8:1:2::1/64`). With a /56 the eight bits after it (the subnet) come from the
/// interface id, so `::ab:1234:5678:9abc:def0` picks subnet `ab`. `None` for a length
/// outside [`MIN_PREFIX_LEN`]..=[`MAX_PREFIX_LEN`], and when the bits from `iid` are all zero
/// (the Subnet-Router anycast address, RFC 4291 §2.6.1, is no host's).
pub(crate) fn combine(prefix: Ipv6Addr, len: u8, iid: Ipv6Addr) -> Option<Ipv6Addr> {
    if !(MIN_PREFIX_LEN..=MAX_PREFIX_LEN).contains(&len) {
        return None;
    }
    let net = mask(len);
    let host = u128::from(iid) & !net;
    if host == 0 {
        return None;
    }
    Some(Ipv6Addr::from((u128::from(prefix) & net) | host))
}

/// Why an interface identifier cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IidError {
    #[error("interface id `{0}` is all zero; give the bits after the prefix, e.g. `::1234:5678:9abc:def0`")]
    Zero(Ipv6Addr),
    #[error(
        "interface id `{0}` sets bits in the first {MIN_PREFIX_LEN}, which always come from the prefix; give only the bits after it, e.g. `::1234:5678:9abc:def0`"
    )]
    InPrefix(Ipv6Addr),
}

/// Checks an interface id for `hostname derive`: not zero, and nothing in the first
/// [`MIN_PREFIX_LEN`] bits (they would never be used, so they are a typo).
pub(crate) fn check_iid(iid: Ipv6Addr) -> Result<(), IidError> {
    let bits = u128::from(iid);
    if bits == 0 {
        return Err(IidError::Zero(iid));
    }
    if bits & mask(MIN_PREFIX_LEN) != 0 {
        return Err(IidError::InPrefix(iid));
    }
    Ok(())
}

/// What a derived hostname's A record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ipv4Rule {
    /// Always this address (`--ipv4 192.0.2.10`).
    Fixed(Ipv4Addr),
    /// The parent's first `len` bits with these host bits (`--ipv4 0.0.0.10/24`: the parent's
    /// /24 and host 10), for a LAN behind a router whose public /24 or /29 is routed.
    HostBits { bits: Ipv4Addr, len: u8 },
}

/// Why an `--ipv4` rule cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Ipv4RuleError {
    #[error("`--ipv4` value `{0}` is neither an IPv4 address nor host bits with a prefix length such as `0.0.0.10/24`")]
    Malformed(String),
    #[error("`--ipv4` value `{0}`: the prefix length must be 8..=31 and the host bits non-zero and after it")]
    BadHostBits(String),
}

impl FromStr for Ipv4Rule {
    type Err = Ipv4RuleError;

    fn from_str(s: &str) -> Result<Ipv4Rule, Ipv4RuleError> {
        let malformed = || Ipv4RuleError::Malformed(s.to_owned());
        let Some((bits, len)) = s.split_once('/') else {
            return s.parse().map(Ipv4Rule::Fixed).map_err(|_| malformed());
        };
        let bits: Ipv4Addr = bits.parse().map_err(|_| malformed())?;
        let len: u8 = Some(len)
            .filter(|l| !l.is_empty() && l.len() <= 2 && l.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|l| l.parse().ok())
            .ok_or_else(malformed)?;
        let host = u32::from(bits);
        if !(8..=31).contains(&len) || host == 0 || host & v4_mask(len) != 0 {
            return Err(Ipv4RuleError::BadHostBits(s.to_owned()));
        }
        Ok(Ipv4Rule::HostBits { bits, len })
    }
}

impl fmt::Display for Ipv4Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ipv4Rule::Fixed(a) => write!(f, "{a}"),
            Ipv4Rule::HostBits { bits, len } => write!(f, "{bits}/{len}"),
        }
    }
}

fn v4_mask(len: u8) -> u32 {
    match len {
        0 => 0,
        l if l >= 32 => u32::MAX,
        l => u32::MAX << (32 - u32::from(l)),
    }
}

impl Ipv4Rule {
    /// The child's IPv4 given the parent's; `None` (keep the child's A record) when host
    /// bits need a parent address there is not.
    pub(crate) fn apply(self, parent: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
        match self {
            Ipv4Rule::Fixed(a) => Some(a),
            Ipv4Rule::HostBits { bits, len } => {
                let net = v4_mask(len);
                parent.map(|p| Ipv4Addr::from((u32::from(p) & net) | (u32::from(bits) & !net)))
            }
        }
    }
}

/// One child's share of a parent's update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChildChange {
    pub(crate) fqdn: String,
    pub(crate) parent: String,
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Ipv6Addr,
    /// The child's own TTL (`--ttl`), else it keeps its row's.
    pub(crate) dns_ttl: Option<u32>,
}

/// Why a parent's prefix fans out to nobody; logged, the parent's answer is not affected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Skipped {
    /// The prefix length is outside /48../64.
    PrefixLength(u8),
}

/// Whom a parent's prefix reaches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// The children (and their children) with their new addresses, parents first.
    pub(crate) children: Vec<ChildChange>,
    /// Children whose interface id leaves no host bits under this prefix: not changed.
    pub(crate) unusable: Vec<String>,
}

/// The children of `parent` (owned by `user_id`) and their children, each with its address
/// from `prefix`; `parent_ipv4` is the parent's IPv4 after this update, for host-bit rules.
/// A child whose interface id leaves no host bits under this prefix is left out
/// ([`Plan::unusable`], logged by the caller). Read before the host locks are taken: the relation
/// changes only by `hostname derive/underive`, and each child's records are decided under its
/// lock in `run_changes`, so a stale read costs at most one update sent to a child that was
/// just underived.
pub(crate) fn plan(
    store: &Store,
    parent: &str,
    user_id: i64,
    prefix: Ipv6Prefix,
    parent_ipv4: Option<Ipv4Addr>,
) -> Result<Result<Plan, Skipped>, StoreError> {
    if !(MIN_PREFIX_LEN..=MAX_PREFIX_LEN).contains(&prefix.len) {
        return Ok(Err(Skipped::PrefixLength(prefix.len)));
    }
    let mut changes = Vec::new();
    let mut unusable = Vec::new();
    let mut level: Vec<(String, Option<Ipv4Addr>)> = vec![(parent.to_owned(), parent_ipv4)];
    let mut seen = vec![parent.to_owned()];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for (fqdn, ipv4) in &level {
            for child in store.children(fqdn, user_id)? {
                if seen.contains(&child.fqdn) {
                    continue;
                }
                seen.push(child.fqdn.clone());
                let Some(change) = child_change(fqdn, &child, prefix, *ipv4) else {
                    unusable.push(child.fqdn);
                    continue;
                };
                next.push((change.fqdn.clone(), change.ipv4.or(child.ipv4)));
                changes.push(change);
            }
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Ok(Ok(Plan { children: changes, unusable }))
}

fn child_change(
    parent: &str,
    child: &Derived,
    prefix: Ipv6Prefix,
    parent_ipv4: Option<Ipv4Addr>,
) -> Option<ChildChange> {
    let ipv6 = combine(prefix.addr, prefix.len, child.ipv6_iid)?;
    // A rule the store cannot read (an edited database) leaves the A record alone.
    let rule = child.ipv4_rule.as_deref().and_then(|r| r.parse::<Ipv4Rule>().ok());
    Some(ChildChange {
        fqdn: child.fqdn.clone(),
        parent: parent.to_owned(),
        ipv4: rule.and_then(|r| r.apply(parent_ipv4)),
        ipv6,
        dns_ttl: child.dns_ttl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> Ipv6Addr {
        s.parse().unwrap_or(Ipv6Addr::UNSPECIFIED)
    }

    #[track_caller]
    fn check(prefix: &str, len: u8, iid: &str, expected: Option<&str>) {
        assert_eq!(combine(v6(prefix), len, v6(iid)), expected.map(v6), "{prefix}/{len} + {iid}");
    }

    #[test]
    fn combines_bitwise_for_every_length_from_48_to_64() {
        let iid = "::1234:5678:9abc:def0";
        check("2001:db8:1:2::", 64, iid, Some("2001:db8:1:2:1234:5678:9abc:def0"));
        check("2001:db8:1:200::", 56, iid, Some("2001:db8:1:200:1234:5678:9abc:def0"));
        check("2001:db8:1:20::", 60, iid, Some("2001:db8:1:20:1234:5678:9abc:def0"));
        check("2001:db8:1::", 48, iid, Some("2001:db8:1:0:1234:5678:9abc:def0"));
        // The subnet bits after a /56 or /48 come from the interface id.
        check("2001:db8:1:200::", 56, "::ab:1234:5678:9abc:def0", Some("2001:db8:1:2ab:1234:5678:9abc:def0"));
        check("2001:db8:1::", 48, "::7:0:0:0:1", Some("2001:db8:1:7::1"));
        // Every length in between.
        for len in 48..=64 {
            assert_eq!(combine(v6("2001:db8:1::"), len, v6("::1")), Some(v6("2001:db8:1::1")), "/{len}");
        }
    }

    #[test]
    fn bits_outside_their_part_are_masked() {
        // Interface id bits inside the prefix are ignored...
        check("2001:db8:1:2::", 64, "ffff:ffff:ffff:ffff:1:2:3:4", Some("2001:db8:1:2:1:2:3:4"));
        check("2001:db8:1:200::", 56, "ffff:ffff:ffff:ff12:1:2:3:4", Some("2001:db8:1:212:1:2:3:4"));
        // ...and so are prefix bits after the length (a router's own address with its /len).
        check("2001:db8:1:2:aaaa:bbbb:cccc:1", 64, "::5", Some("2001:db8:1:2::5"));
        check("2001:db8:1:2ff::1", 56, "::1", Some("2001:db8:1:200::1"));
        // Concatenating strings would get this wrong: the /60 ends inside a group.
        check("2001:db8:1:2f::", 60, "::3:0:0:0:1", Some("2001:db8:1:23::1"));
    }

    #[test]
    fn refuses_lengths_outside_48_to_64_and_empty_host_bits() {
        check("2001:db8::", 47, "::1", None);
        check("2001:db8:1:2::", 65, "::1", None);
        check("2001:db8:1:2::", 128, "::1", None);
        // Only bits inside the prefix: nothing left for the host.
        check("2001:db8:1:2::", 64, "ffff:ffff:ffff:ffff::", None);
        check("2001:db8:1:2::", 64, "::", None);
    }

    #[test]
    fn interface_ids_are_checked() {
        assert_eq!(check_iid(v6("::")), Err(IidError::Zero(v6("::"))));
        assert_eq!(check_iid(v6("2001::1")), Err(IidError::InPrefix(v6("2001::1"))));
        assert_eq!(check_iid(v6("::1234:5678:9abc:def0")), Ok(()));
        assert_eq!(check_iid(v6("::ab:1234:5678:9abc:def0")), Ok(()));
    }

    #[test]
    fn ipv4_rules() {
        let parent = Some(Ipv4Addr::new(198, 51, 100, 77));
        let rule = |s: &str| s.parse::<Ipv4Rule>();
        assert_eq!(rule("192.0.2.10").map(|r| r.apply(parent)), Ok(Some(Ipv4Addr::new(192, 0, 2, 10))));
        assert_eq!(rule("0.0.0.10/24").map(|r| r.apply(parent)), Ok(Some(Ipv4Addr::new(198, 51, 100, 10))));
        assert_eq!(rule("0.0.0.3/29").map(|r| r.apply(parent)), Ok(Some(Ipv4Addr::new(198, 51, 100, 75))));
        assert_eq!(rule("0.0.0.10/24").map(|r| r.apply(None)), Ok(None));
        assert_eq!(rule("0.0.0.10/24").map(|r| r.to_string()), Ok("0.0.0.10/24".to_owned()));
        for bad in ["", "x", "0.0.0.10/", "0.0.0.10/+4", "0.0.0.10/32", "0.0.0.10/7", "0.0.1.10/24", "0.0.0.0/24"] {
            assert!(rule(bad).is_err(), "{bad}");
        }
    }
}
