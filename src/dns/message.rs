//! Building the RFC 2136 UPDATE messages: one host's replacement or deletion, many hosts'
//! changes at once (`change_message`), the expiry batch with its value-dependent
//! prerequisites (`expire_message`), TXT values split into character-strings, and the no-op
//! probe of `ddns-cgi check`. Nothing here signs or sends; that is [`super::transport`].

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Message, MessageType, OpCode, Query, UpdateMessage as _};
use hickory_proto::rr::rdata::{A, AAAA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::DnsError;

/// Builds one UPDATE that replaces the A and/or AAAA rrset of `fqdn` atomically: for each
/// family given, "delete an rrset" (RFC 2136 §2.5.2) followed by "add to an rrset" (§2.5.1)
/// in the same message. Families not given are left untouched. The tests' plain replacement;
/// the service builds its changes with [`change_message`].
#[cfg(test)]
pub(crate) fn replace_message(
    zone: &Name,
    fqdn: &Name,
    ttl: u32,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
) -> Result<Message, DnsError> {
    let mut message = update_message(zone, fqdn)?;
    if let Some(a) = ipv4 {
        message.add_update(delete_rrset(fqdn, RecordType::A));
        message.add_update(Record::from_rdata(fqdn.clone(), ttl, RData::A(A(a))));
    }
    if let Some(a) = ipv6 {
        message.add_update(delete_rrset(fqdn, RecordType::AAAA));
        message.add_update(Record::from_rdata(fqdn.clone(), ttl, RData::AAAA(AAAA(a))));
    }
    Ok(message)
}

/// Builds one UPDATE that removes the A, AAAA and TXT rrsets of `fqdn` (RFC 2136 §2.5.2),
/// whatever they hold; `hostname delete`, dyndns2 `offline=yes` and `/nic/delete` use it. All
/// go in one message, so a host is never left half offline. Deleting an rrset that
/// does not exist is a no-op (§3.4.2.3), so this also succeeds for a host that never had
/// records.
pub(crate) fn delete_message(zone: &Name, fqdn: &Name) -> Result<Message, DnsError> {
    let mut message = update_message(zone, fqdn)?;
    message.add_update(delete_rrset(fqdn, RecordType::A));
    message.add_update(delete_rrset(fqdn, RecordType::AAAA));
    message.add_update(delete_rrset(fqdn, RecordType::TXT));
    Ok(message)
}

/// What a [`change_message`] does to one rrset of a host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rrset<T> {
    /// Left as it is.
    Keep,
    /// Replaced by this one record: "delete an rrset" (RFC 2136 §2.5.2), then "add to an
    /// rrset" (§2.5.1).
    Replace(T),
    /// Deleted (§2.5.2); a no-op when it does not exist (§3.4.2.3).
    Delete,
}

/// One host's part of a [`change_message`].
#[derive(Clone, Debug)]
pub(crate) struct HostChange {
    pub(crate) fqdn: Name,
    pub(crate) ttl: u32,
    pub(crate) a: Rrset<Ipv4Addr>,
    pub(crate) aaaa: Rrset<Ipv6Addr>,
    /// The TXT value (`txt=`), split into character-strings by [`txt_rdata`].
    pub(crate) txt: Rrset<String>,
}

impl HostChange {
    /// An upper bound of the octets this host adds to a [`change_message`]: per rrset one
    /// deletion and one addition with an uncompressed owner name.
    pub(crate) fn wire_estimate(&self) -> usize {
        let name = self.fqdn.len() + 1;
        let size = |data: Option<usize>| data.map_or(name + 10, |d| 2 * (name + 10) + d);
        let a = match self.a {
            Rrset::Keep => 0,
            Rrset::Replace(_) => size(Some(4)),
            Rrset::Delete => size(None),
        };
        let aaaa = match self.aaaa {
            Rrset::Keep => 0,
            Rrset::Replace(_) => size(Some(16)),
            Rrset::Delete => size(None),
        };
        // A length octet per character-string of at most 255 octets.
        let txt = match &self.txt {
            Rrset::Keep => 0,
            Rrset::Replace(value) => size(Some(value.len() + value.len().div_ceil(MAX_CHARACTER_STRING).max(1))),
            Rrset::Delete => size(None),
        };
        a + aaaa + txt
    }
}

/// Octets of update records a message may carry and still go over UDP: RFC 1035 §4.2.1 keeps
/// UDP messages to 512 octets, and the header, zone section and TSIG record (about 100
/// octets with a SHA-256 MAC) come on top. Larger messages go over TCP.
pub(crate) const MAX_UDP_OCTETS: usize = 380;

/// Builds one UPDATE that changes the A and AAAA rrsets of several hosts of one zone at once
/// (FastCGI's group commit): the server applies it as one transaction and one commit (RFC
/// 2136 §3.7), and refuses all of it if any part is refused.
pub(crate) fn change_message(zone: &Name, hosts: &[HostChange]) -> Result<Message, DnsError> {
    let mut message = update_message(zone, zone)?;
    for host in hosts {
        if !zone.zone_of(&host.fqdn) {
            return Err(DnsError::OutsideZone { fqdn: host.fqdn.to_ascii(), zone: zone.to_ascii() });
        }
        match host.a {
            Rrset::Keep => {}
            Rrset::Replace(a) => {
                message.add_update(delete_rrset(&host.fqdn, RecordType::A));
                message.add_update(Record::from_rdata(host.fqdn.clone(), host.ttl, RData::A(A(a))));
            }
            Rrset::Delete => {
                message.add_update(delete_rrset(&host.fqdn, RecordType::A));
            }
        }
        match host.aaaa {
            Rrset::Keep => {}
            Rrset::Replace(a) => {
                message.add_update(delete_rrset(&host.fqdn, RecordType::AAAA));
                message.add_update(Record::from_rdata(host.fqdn.clone(), host.ttl, RData::AAAA(AAAA(a))));
            }
            Rrset::Delete => {
                message.add_update(delete_rrset(&host.fqdn, RecordType::AAAA));
            }
        }
        match &host.txt {
            Rrset::Keep => {}
            Rrset::Replace(value) => replace_txt(&mut message, &host.fqdn, host.ttl, &[value]),
            Rrset::Delete => replace_txt(&mut message, &host.fqdn, host.ttl, &[]),
        }
    }
    Ok(message)
}

/// One host's records as the database knows them, to be removed by [`expire_message`].
#[derive(Clone, Debug)]
pub(crate) struct Published {
    pub(crate) fqdn: Name,
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Option<Ipv6Addr>,
    /// The host's TXT value (`txt=` on an update).
    pub(crate) txt: Option<String>,
}

impl Published {
    /// An upper bound of the octets this host adds to an [`expire_message`]: per family one
    /// prerequisite and one deletion, each with an uncompressed owner name (hickory
    /// compresses, so the real size is smaller).
    pub(crate) fn wire_estimate(&self) -> usize {
        let name = self.fqdn.len() + 1;
        let v4 = if self.ipv4.is_some() { 2 * (name + 10) + 4 } else { 0 };
        let v6 = if self.ipv6.is_some() { 2 * (name + 10) + 16 } else { 0 };
        // One length octet per character-string of at most 255 (RFC 1035 §3.3).
        let txt = self.txt.as_ref().map_or(0, |t| 2 * (name + 10) + t.len() + t.len() / 255 + 1);
        v4 + v6 + txt
    }
}

/// Octets an [`expire_message`] may use before its TSIG record: a DNS message over TCP is at
/// most 65535 octets (RFC 1035 §4.2.2); the rest leaves room for the header, the zone
/// section and the signature.
pub(crate) const MAX_BATCH_OCTETS: usize = 64_000;

/// Builds one UPDATE that removes the records of many hosts of one zone, each guarded by a
/// value-dependent prerequisite (RFC 2136 §2.4.2: the rrset must hold exactly the stored
/// address). If any host's records changed, the server refuses the whole message with
/// NXRRSET (§3.2.5) and nothing is deleted; the caller then retries host by host.
pub(crate) fn expire_message(zone: &Name, hosts: &[Published]) -> Result<Message, DnsError> {
    let mut message = update_message(zone, zone)?;
    for host in hosts {
        if !zone.zone_of(&host.fqdn) {
            return Err(DnsError::OutsideZone { fqdn: host.fqdn.to_ascii(), zone: zone.to_ascii() });
        }
        if let Some(a) = host.ipv4 {
            message.add_pre_requisite(Record::from_rdata(host.fqdn.clone(), 0, RData::A(A(a))));
            message.add_update(delete_rrset(&host.fqdn, RecordType::A));
        }
        if let Some(a) = host.ipv6 {
            message.add_pre_requisite(Record::from_rdata(host.fqdn.clone(), 0, RData::AAAA(AAAA(a))));
            message.add_update(delete_rrset(&host.fqdn, RecordType::AAAA));
        }
        if let Some(txt) = &host.txt {
            message.add_pre_requisite(Record::from_rdata(host.fqdn.clone(), 0, RData::TXT(txt_rdata(txt))));
            message.add_update(delete_rrset(&host.fqdn, RecordType::TXT));
        }
    }
    Ok(message)
}

/// The owner name [`probe_message`] guards and touches: a label with an underscore, which no
/// hostname of ours can have (`request::normalize_hostname` refuses it).
const PROBE_LABEL: &str = "_ddns-cgi-check";

/// Builds an UPDATE for `ddns-cgi check` that changes nothing but is checked like a real one:
/// two prerequisites, "the zone apex has an SOA rrset" (RFC 2136 §2.4.1, value independent:
/// class ANY, TTL 0, no data), which holds in every zone, and "`_ddns-cgi-check.ZONE` is not in
/// use" (§2.4.5: class NONE, type ANY), and one update, "delete the A rrset of that name"
/// (§2.5.2). Deleting an rrset that does not exist is a no-op (§3.4.2.3), and if the name did
/// exist the prerequisite fails first (YXDOMAIN) and nothing is deleted. So a NOERROR answer
/// says that the server knows the key, verified the signature, and lets the key change A
/// records in the zone (BIND checks `update-policy` for each update record, so an UPDATE
/// with prerequisites alone would not show the last).
pub(crate) fn probe_message(zone: &Name) -> Result<Message, DnsError> {
    // Only a zone name near the 255-octet limit leaves no room for the label.
    let fqdn = format!("{PROBE_LABEL}.{}", zone.to_ascii());
    let probe = Name::from_ascii(&fqdn).map_err(|_| DnsError::OutsideZone { fqdn, zone: zone.to_ascii() })?;
    let mut message = update_message(zone, &probe)?;
    let mut soa_exists = Record::update0(zone.clone(), 0, RecordType::SOA);
    soa_exists.dns_class = DNSClass::ANY;
    message.add_pre_requisite(soa_exists);
    let mut name_unused = Record::update0(probe.clone(), 0, RecordType::ANY);
    name_unused.dns_class = DNSClass::NONE;
    message.add_pre_requisite(name_unused);
    message.add_update(delete_rrset(&probe, RecordType::A));
    Ok(message)
}

/// The longest character-string of a TXT record (RFC 1035 §3.3: one length octet).
const MAX_CHARACTER_STRING: usize = 255;

/// One TXT rdata holding `value` as consecutive character-strings of at most 255 octets
/// (RFC 1035 §3.3.14, RFC 7208 §3.3): a resolver's client joins them back into the value.
/// Callers pass printable ASCII, so every cut falls between characters.
pub(crate) fn txt_rdata(value: &str) -> TXT {
    TXT::from_bytes(value.as_bytes().chunks(MAX_CHARACTER_STRING).collect())
}

/// Appends to `message` the replacement of the TXT rrset of `fqdn` by `values` (RFC 2136
/// §2.5.2 then §2.5.1, in the same message): each value becomes one TXT record. No values
/// deletes the rrset. Host updates add this to their address update, so both change
/// together; the acme-dns API sends it alone with the two newest challenge values.
pub(crate) fn replace_txt(message: &mut Message, fqdn: &Name, ttl: u32, values: &[&str]) {
    message.add_update(delete_rrset(fqdn, RecordType::TXT));
    for value in values {
        message.add_update(Record::from_rdata(fqdn.clone(), ttl, RData::TXT(txt_rdata(value))));
    }
}

/// One UPDATE that replaces the TXT rrset of `fqdn` by `values` and touches nothing else.
pub(crate) fn txt_message(zone: &Name, fqdn: &Name, ttl: u32, values: &[&str]) -> Result<Message, DnsError> {
    let mut message = update_message(zone, fqdn)?;
    replace_txt(&mut message, fqdn, ttl, values);
    Ok(message)
}

/// An empty UPDATE for `zone` (RFC 2136 §2.3: the zone section holds the zone's SOA).
fn update_message(zone: &Name, fqdn: &Name) -> Result<Message, DnsError> {
    if !zone.zone_of(fqdn) {
        return Err(DnsError::OutsideZone { fqdn: fqdn.to_ascii(), zone: zone.to_ascii() });
    }
    let mut zone_query = Query::new();
    zone_query.set_name(zone.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
    let mut message = Message::new(random_id(), MessageType::Query, OpCode::Update);
    message.add_zone(zone_query);
    Ok(message)
}

/// RFC 2136 §2.5.2: CLASS ANY, TTL 0, empty RDATA deletes the whole rrset.
fn delete_rrset(fqdn: &Name, rtype: RecordType) -> Record {
    let mut r = Record::update0(fqdn.clone(), 0, rtype);
    r.dns_class = DNSClass::ANY;
    r
}

pub(super) fn random_id() -> u16 {
    // A predictable id would let an off-path attacker forge the (unsigned) error answers.
    getrandom::u32().map(|v| v as u16).unwrap_or_else(|_| std::process::id() as u16)
}
