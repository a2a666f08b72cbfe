//! A host's records as a run replays its changes (`HostState`), and what to send DNS to go
//! from one state to another (`dns_change`): one RFC 2136 change per host, with each rrset
//! kept, replaced or deleted.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

use super::{Change, Publish, Set};
use crate::auth::token::RecordType;
use crate::config::Absent;
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
        let (ipv4, ipv6) = self.families.accepted(new.ipv4, new.ipv6);
        Addresses { ipv4, ipv6 }
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
    /// not sent stays absent. A family the change does not give is kept as DNS holds it, or
    /// removed when the endpoint says so (`absent = "remove"`, nanodnsd's `/api/update`): a
    /// host left with no address keeps its TXT record and is not offline. An address of a
    /// family the host does not accept (`hostname modify --ipv6 off`) is dropped first.
    /// A TXT value (`txt=`) is set or cleared the same way; a request without one keeps the
    /// host's TXT as DNS holds it.
    pub(super) fn apply(&mut self, change: &Change) -> HostAnswer {
        match change {
            Change::Publish(Publish { addresses: sent, absent, ttl, txt }) => {
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
                let (old_v4, old_v6) = self.published();
                let (ipv4, ipv6) = match absent {
                    Absent::Keep => (new.ipv4.or(old_v4), new.ipv6.or(old_v6)),
                    Absent::Remove => (new.ipv4, new.ipv6),
                };
                let unchanged = ipv4 == self.ipv4 && ipv6 == self.ipv6 && (txt.is_none() || txt_after == self.txt);
                if unchanged && dns_ttl == self.dns_ttl && !self.expired && !self.offline {
                    return HostAnswer::Nochg(new);
                }
                *self = HostState {
                    ipv4,
                    ipv6,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::Rrset;

    const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const V4_NEW: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

    fn state(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, txt: Option<&str>) -> HostState {
        HostState {
            ipv4,
            ipv6,
            txt: txt.map(str::to_owned),
            dns_ttl: 60,
            expired: false,
            offline: false,
            families: crate::store::Families::BOTH,
        }
    }

    fn publish(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, absent: Absent, txt: Option<TxtChange>) -> Change {
        Change::Publish(Publish { addresses: Addresses { ipv4, ipv6 }, absent, ttl: None, txt })
    }

    /// What one change does to a host with A, AAAA and TXT: the answer's token and
    /// addresses, the state after it, and the A and AAAA rrsets of its message.
    #[track_caller]
    fn check(change: Change, answer: &str, after: HostState, a: Rrset<Ipv4Addr>, aaaa: Rrset<Ipv6Addr>) {
        let before = state(Some(V4), Some(V6), Some("note"));
        let mut s = before.clone();
        let got = s.apply(&change);
        let shown = match &got {
            HostAnswer::Good(x) | HostAnswer::Nochg(x) => {
                format!("{} {:?} {:?}", crate::reply::host_token(&got), x.ipv4, x.ipv6)
            }
            other => crate::reply::host_token(other).to_owned(),
        };
        assert_eq!((shown.as_str(), &s), (answer, &after), "{change:?}");
        let message = dns_change(Name::root(), Some(&before), &s);
        let rrsets = message.map_or((Rrset::Keep, Rrset::Keep), |m| (m.a, m.aaaa));
        assert_eq!(rrsets, (a, aaaa), "{change:?}");
    }

    #[test]
    fn an_absent_family_is_kept_or_removed_as_the_endpoint_says() {
        use Absent::{Keep, Remove};
        let txt = Some("note");
        // dyndns2: the family not given stays.
        check(
            publish(Some(V4_NEW), None, Keep, None),
            "good Some(192.0.2.2) None",
            state(Some(V4_NEW), Some(V6), txt),
            Rrset::Replace(V4_NEW),
            Rrset::Keep,
        );
        check(
            publish(Some(V4), None, Keep, None),
            "nochg Some(192.0.2.1) None",
            state(Some(V4), Some(V6), txt),
            Rrset::Keep,
            Rrset::Keep,
        );
        // nanodnsd: `ipv4` alone (no `ipv6`, or an empty one) deletes the AAAA, even when
        // the A is unchanged; the TXT stays.
        check(
            publish(Some(V4_NEW), None, Remove, None),
            "good Some(192.0.2.2) None",
            state(Some(V4_NEW), None, txt),
            Rrset::Replace(V4_NEW),
            Rrset::Delete,
        );
        check(
            publish(Some(V4), None, Remove, None),
            "good Some(192.0.2.1) None",
            state(Some(V4), None, txt),
            Rrset::Keep,
            Rrset::Delete,
        );
        // `ipv6` alone deletes the A.
        check(
            publish(None, Some(V6), Remove, None),
            "good None Some(2001:db8::1)",
            state(None, Some(V6), txt),
            Rrset::Delete,
            Rrset::Keep,
        );
        // Both given and current: nothing to do.
        check(
            publish(Some(V4), Some(V6), Remove, None),
            "nochg Some(192.0.2.1) Some(2001:db8::1)",
            state(Some(V4), Some(V6), txt),
            Rrset::Keep,
            Rrset::Keep,
        );
        // Neither: both go, the host is not offline and keeps its TXT.
        check(
            publish(None, None, Remove, None),
            "good None None",
            state(None, None, txt),
            Rrset::Delete,
            Rrset::Delete,
        );
    }

    #[test]
    fn a_host_with_no_address_left_repeats_as_nochg_and_comes_back() {
        let mut s = state(None, None, Some("note"));
        assert_eq!(
            s.apply(&publish(None, None, Absent::Remove, None)),
            HostAnswer::Nochg(Addresses { ipv4: None, ipv6: None })
        );
        let back = publish(Some(V4), None, Absent::Remove, None);
        assert_eq!(s.apply(&back), HostAnswer::Good(Addresses { ipv4: Some(V4), ipv6: None }));
        assert_eq!(s, state(Some(V4), None, Some("note")));
    }
}
