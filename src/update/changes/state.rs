//! A host's records as a run replays its changes (`HostState`), and what to send DNS to go
//! from one state to another (`dns_change`): one RFC 2136 change per host, with each rrset
//! kept, replaced or deleted.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

use super::{Change, Publish, Set};
use crate::auth::token::RecordType;
use crate::dns;
use crate::reply::HostAnswer;
use crate::request::{Addresses, TxtChange};
use crate::store::{Families, Host};

/// A host's state as far as its records go, replayed change by change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HostState {
    pub(super) ipv4: Option<Ipv4Addr>,
    pub(super) ipv6: Option<Ipv6Addr>,
    pub(super) txt: Option<String>,
    pub(super) dns_ttl: u32,
    pub(super) expired: bool,
    pub(super) offline: bool,
    /// The families the host accepts: an update's address of another is ignored.
    pub(super) families: Families,
}

impl HostState {
    pub(super) fn of(host: &Host) -> HostState {
        HostState {
            ipv4: host.ipv4,
            ipv6: host.ipv6,
            txt: host.txt.clone(),
            dns_ttl: host.dns_ttl,
            expired: host.expired,
            offline: host.offline,
            families: host.families,
        }
    }

    /// The addresses of an update that this host accepts (`Families`); the others are
    /// ignored, and the answer lists only what is published.
    pub(super) fn accepted(&self, new: Addresses) -> Addresses {
        Addresses { ipv4: new.ipv4.filter(|_| self.families.ipv4), ipv6: new.ipv6.filter(|_| self.families.ipv6) }
    }

    /// What DNS holds: nothing for an expired or offline host.
    pub(super) fn published(&self) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
        if self.expired || self.offline { (None, None) } else { (self.ipv4, self.ipv6) }
    }

    /// The TXT value DNS holds: none for an expired or offline host.
    pub(super) fn published_txt(&self) -> Option<&str> {
        if self.expired || self.offline { None } else { self.txt.as_deref() }
    }

    /// Applies one change, as if it came alone: the answer it gets. A host that is expired or
    /// offline has no records, so any update restores it (`good`, never `nochg`); the family
    /// not sent stays absent.
    /// A TXT value (`txt=`) is set or cleared the same way; a request without one keeps the
    /// host's TXT as DNS holds it.
    pub(super) fn apply(&mut self, change: &Change) -> HostAnswer {
        match change {
            Change::Publish(Publish { addresses: sent, ttl, txt }) => {
                let new = self.accepted(*sent);
                // An update that carried only a family this host does not accept changes
                // nothing: `nochg` of nothing, which a router takes as done (an error would
                // make it retry), whatever the host's state.
                let ignored_all =
                    (sent.ipv4.is_some() || sent.ipv6.is_some()) && new.ipv4.is_none() && new.ipv6.is_none();
                if ignored_all && ttl.is_none() && txt.is_none() {
                    return HostAnswer::Nochg(new);
                }
                let dns_ttl = ttl.unwrap_or(self.dns_ttl);
                let txt_after = match txt {
                    Some(TxtChange::Set(value)) => Some(value.clone()),
                    Some(TxtChange::Clear) => None,
                    None => self.published_txt().map(str::to_owned),
                };
                let unchanged = new.ipv4.is_none_or(|a| Some(a) == self.ipv4)
                    && new.ipv6.is_none_or(|a| Some(a) == self.ipv6)
                    && (txt.is_none() || txt_after == self.txt);
                if unchanged && dns_ttl == self.dns_ttl && !self.expired && !self.offline {
                    return HostAnswer::Nochg(new);
                }
                let (old_v4, old_v6) = self.published();
                *self = HostState {
                    ipv4: new.ipv4.or(old_v4),
                    ipv6: new.ipv6.or(old_v6),
                    txt: txt_after,
                    dns_ttl,
                    expired: false,
                    offline: false,
                    families: self.families,
                };
                HostAnswer::Good(new)
            }
            Change::Set(Set { ipv4, ipv6 }) => {
                // Each family given is set (or removed); one not given keeps what DNS holds,
                // so a host that was offline or expired comes back with the given ones alone.
                let (old_v4, old_v6) = self.published();
                let after = Addresses { ipv4: ipv4.unwrap_or(old_v4), ipv6: ipv6.unwrap_or(old_v6) };
                if (after.ipv4, after.ipv6) == (self.ipv4, self.ipv6) && !self.expired && !self.offline {
                    return HostAnswer::Nochg(after);
                }
                let txt = self.published_txt().map(str::to_owned);
                *self = HostState {
                    ipv4: after.ipv4,
                    ipv6: after.ipv6,
                    txt,
                    dns_ttl: self.dns_ttl,
                    expired: false,
                    offline: false,
                    families: self.families,
                };
                HostAnswer::Good(after)
            }
            Change::Offline => {
                let none = Addresses { ipv4: None, ipv6: None };
                if self.offline {
                    return HostAnswer::Nochg(none);
                }
                *self = HostState { ipv4: None, ipv6: None, txt: None, offline: true, ..self.clone() };
                HostAnswer::Good(none)
            }
        }
    }
}

/// What to send to take a host from `before` to `after`; `None` when DNS stays as it is. A
/// new TTL is the host's, not one family's: both published families are sent again with it.
/// Going offline deletes both rrsets whatever the row says (deleting an absent rrset is a
/// no-op, RFC 2136 §3.4.2.3), so a host is never left half offline. `before` is `None` when
/// what DNS holds is not known (the row is `dns_pending`): then every rrset is replaced by
/// `after`'s or deleted.
pub(super) fn dns_change(fqdn: Name, before: Option<&HostState>, after: &HostState) -> Option<dns::HostChange> {
    use dns::Rrset;
    let Some(before) = before else {
        let (ipv4, ipv6) = after.published();
        return Some(dns::HostChange {
            fqdn,
            ttl: after.dns_ttl,
            a: ipv4.map_or(Rrset::Delete, Rrset::Replace),
            aaaa: ipv6.map_or(Rrset::Delete, Rrset::Replace),
            txt: after.published_txt().map_or(Rrset::Delete, |t| Rrset::Replace(t.to_owned())),
        });
    };
    if after.offline {
        return (!before.offline).then_some(dns::HostChange {
            fqdn,
            ttl: after.dns_ttl,
            a: Rrset::Delete,
            aaaa: Rrset::Delete,
            txt: Rrset::Delete,
        });
    }
    if after.expired {
        return None;
    }
    let (old_v4, old_v6) = before.published();
    let new_ttl = after.dns_ttl != before.dns_ttl;
    fn rrset<T: PartialEq + Copy>(old: Option<T>, new: Option<T>, new_ttl: bool) -> Rrset<T> {
        match new {
            Some(a) if new_ttl || old != Some(a) => Rrset::Replace(a),
            Some(_) => Rrset::Keep,
            None if old.is_some() => Rrset::Delete,
            None => Rrset::Keep,
        }
    }
    let txt = match rrset(before.published_txt(), after.txt.as_deref(), new_ttl) {
        Rrset::Keep => Rrset::Keep,
        Rrset::Replace(value) => Rrset::Replace(value.to_owned()),
        Rrset::Delete => Rrset::Delete,
    };
    let change = dns::HostChange {
        fqdn,
        ttl: after.dns_ttl,
        a: rrset(old_v4, after.ipv4, new_ttl),
        aaaa: rrset(old_v6, after.ipv6, new_ttl),
        txt,
    };
    (change.a != Rrset::Keep || change.aaaa != Rrset::Keep || change.txt != Rrset::Keep).then_some(change)
}

/// The record types whose rrsets the change from `before` to `after` puts in its message
/// (replaced or deleted): what a host token must be allowed to change for it. Computed by
/// `dns_change` itself, so the check and the message cannot differ. A `nochg` touches none.
pub(super) fn touched(before: &HostState, after: &HostState) -> Vec<RecordType> {
    let Some(change) = dns_change(Name::root(), Some(before), after) else { return Vec::new() };
    [
        (change.a != dns::Rrset::Keep, RecordType::A),
        (change.aaaa != dns::Rrset::Keep, RecordType::Aaaa),
        (change.txt != dns::Rrset::Keep, RecordType::Txt),
    ]
    .into_iter()
    .filter_map(|(sent, t)| sent.then_some(t))
    .collect()
}
