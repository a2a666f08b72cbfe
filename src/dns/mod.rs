//! RFC 2136 dynamic updates signed with TSIG (RFC 8945), sent to the zone's primary server.
//! Building a message ([`replace_message`]) is separate from signing and sending it
//! ([`exchange`]). The transport is a blocking, connected UDP socket, retried over TCP when the
//! answer is truncated: a connected socket reports `ECONNREFUSED` at once when the server is
//! down, and we see the real rcode (NOTAUTH/BADSIG, REFUSED, NOTZONE), which the async
//! `hickory-net` client folds into generic errors. This module knows nothing of users,
//! the database or HTTP.

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode, UpdateMessage as _};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::rdata::{A, AAAA, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, TSigner};

use crate::config::Zone;

/// Allowed clock difference for TSIG (RFC 8945 §10 recommends 300 seconds).
pub(crate) const TSIG_FUDGE: u16 = 300;

/// Why an update did not succeed. Each variant names the server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DnsError {
    /// The name to update is not inside the zone (a configuration/database mismatch).
    #[error("`{fqdn}` is not inside zone `{zone}`")]
    OutsideZone { fqdn: String, zone: String },
    /// Signing or encoding the request failed.
    #[error("cannot build the update for {server}: {reason}")]
    Build { server: SocketAddr, reason: String },
    /// A socket error: connection refused, unreachable network.
    #[error("cannot reach {server}: {source}")]
    Io { server: SocketAddr, source: io::Error },
    /// No answer within the configured timeout.
    #[error("no answer from {server} within {timeout_ms} ms")]
    Timeout { server: SocketAddr, timeout_ms: u128 },
    /// The server answered with an error rcode.
    #[error("{server} answered {}{}", rcode_name(*rcode), tsig_error.map(|e| format!(" (TSIG error {})", tsig_error_name(e))).unwrap_or_default())]
    Rcode { server: SocketAddr, rcode: ResponseCode, tsig_error: Option<TsigError> },
    /// The answer could not be parsed or did not belong to the request.
    #[error("malformed answer from {server}: {reason}")]
    Malformed { server: SocketAddr, reason: String },
    /// The answer's TSIG was missing or did not verify; it may be forged.
    #[error("answer from {server} failed TSIG verification: {reason}")]
    BadSignature { server: SocketAddr, reason: String },
    /// An error rcode in an answer whose TSIG is missing or does not verify, other than the
    /// TSIG errors that RFC 8945 §5.3 lets a server send unsigned: it may be forged, so the
    /// rcode says nothing about what the server did.
    #[error("{server} answered {}, but the answer failed TSIG verification ({reason}); it may be forged", rcode_name(*rcode))]
    UnverifiedRcode { server: SocketAddr, rcode: ResponseCode, reason: String },
}

impl DnsError {
    /// Whether the server could not be reached or did not answer in time: a problem of the
    /// server or the path to it, not of the message, so retrying other messages now is futile.
    pub(crate) fn is_transport(&self) -> bool {
        match self {
            DnsError::Io { .. } | DnsError::Timeout { .. } => true,
            DnsError::OutsideZone { .. }
            | DnsError::Build { .. }
            | DnsError::Rcode { .. }
            | DnsError::Malformed { .. }
            | DnsError::BadSignature { .. }
            | DnsError::UnverifiedRcode { .. } => false,
        }
    }
}

/// Builds one UPDATE that replaces the A and/or AAAA rrset of `fqdn` atomically: for each
/// family given, "delete an rrset" (RFC 2136 §2.5.2) followed by "add to an rrset" (§2.5.1)
/// in the same message. Families not given are left untouched.
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

fn random_id() -> u16 {
    // A predictable id would let an off-path attacker forge the (unsigned) error answers.
    getrandom::u32().map(|v| v as u16).unwrap_or_else(|_| std::process::id() as u16)
}

/// Signs `message` with the zone's key at time `now` (seconds since the epoch), sends it to
/// the zone's server and returns the verified answer. Any rcode other than NOERROR is an
/// error. Every answer must carry a valid TSIG over our request's MAC, except the unsigned
/// TSIG errors of RFC 8945 §5.3; an error rcode without one is [`DnsError::UnverifiedRcode`].
/// `now` must be the clock: the server refuses a time outside its fudge (BADTIME).
pub(crate) fn exchange(zone: &Zone, message: Message, now: u64) -> Result<Message, DnsError> {
    exchange_over(zone, message, now, Transport::Udp)
}

/// Like [`exchange`], but over TCP from the start: for messages too large for a UDP datagram,
/// such as an expiry batch (RFC 1035 §4.2.2 allows 65535 octets).
pub(crate) fn exchange_tcp(zone: &Zone, message: Message, now: u64) -> Result<Message, DnsError> {
    exchange_over(zone, message, now, Transport::Tcp)
}

/// Asks the zone's server for the zone's SOA rrset, unsigned (RFC 1035 §4.1.1), for `ddns-cgi
/// check`: whether the server answers at all, and whether it answers as an authority for the
/// zone (the AA bit). The answer is returned whatever its rcode; only a missing, late or
/// malformed answer is an error.
pub(crate) fn query_soa(zone: &Zone) -> Result<Message, DnsError> {
    let server = zone.server;
    let mut query = Query::new();
    query.set_name(zone.name.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
    let mut message = Message::new(random_id(), MessageType::Query, OpCode::Query);
    message.add_query(query);
    let request = message.to_vec().map_err(|e| DnsError::Build { server, reason: e.to_string() })?;
    let answer = send_udp(server, &request, message.metadata.id, zone.timeout)?;
    let response = Message::from_vec(&answer).map_err(|e| DnsError::Malformed { server, reason: e.to_string() })?;
    if response.metadata.message_type != MessageType::Response {
        return Err(DnsError::Malformed { server, reason: "not a response".to_owned() });
    }
    Ok(response)
}

/// The time the server signed `response` at (TSIG Time Signed, RFC 8945 §4.2), in seconds
/// since the epoch; `None` for an unsigned message.
pub(crate) fn signed_time(response: &Message) -> Option<u64> {
    response.signature.as_ref().map(|s| s.data.time)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// UDP, retried over TCP when the answer is truncated.
    Udp,
    Tcp,
}

fn exchange_over(zone: &Zone, mut message: Message, now: u64, transport: Transport) -> Result<Message, DnsError> {
    let server = zone.server;
    let build = |reason: String| DnsError::Build { server, reason };
    let signer =
        TSigner::new(zone.key.secret.expose().clone(), zone.key.algorithm.clone(), zone.key.name.clone(), TSIG_FUDGE)
            .map_err(|e| build(e.to_string()))?;
    let verifier = message.finalize(&signer, now).map_err(|e| build(e.to_string()))?;
    let request = message.to_vec().map_err(|e| build(e.to_string()))?;
    let id = message.metadata.id;

    let mut answer = match transport {
        Transport::Udp => send_udp(server, &request, id, zone.timeout)?,
        Transport::Tcp => send_tcp(server, &request, id, zone.timeout)?,
    };
    if transport == Transport::Udp && answer.get(2).is_some_and(|flags| flags & 0x02 != 0) {
        // TC bit (RFC 1035 §4.1.1): the full answer only fits over TCP.
        answer = send_tcp(server, &request, id, zone.timeout)?;
    }
    let response = Message::from_vec(&answer).map_err(|e| DnsError::Malformed { server, reason: e.to_string() })?;
    if response.metadata.message_type != MessageType::Response {
        return Err(DnsError::Malformed { server, reason: "not a response".to_owned() });
    }
    let Some(mut verifier) = verifier else {
        return Err(DnsError::BadSignature { server, reason: "no verifier for the request".to_owned() });
    };
    let verified = verifier.verify(&answer).map(drop).map_err(|e| e.to_string());
    let rcode = response.metadata.response_code;
    let tsig_error = response.signature.as_ref().and_then(|s| s.data.error);
    match (rcode, verified) {
        (ResponseCode::NoError, Ok(())) => Ok(response),
        (ResponseCode::NoError, Err(reason)) => Err(DnsError::BadSignature { server, reason }),
        (_, Ok(())) => Err(DnsError::Rcode { server, rcode, tsig_error }),
        // RFC 8945 §5.3.1: a server that cannot verify our request (unknown key, bad MAC)
        // answers NOTAUTH with the TSIG error and no MAC; a BADTIME answer (§5.3.2) is signed
        // but fails our own time check. These are reported as the server's answer; they
        // change nothing on either side, and a forger gains nothing by sending them.
        (ResponseCode::NotAuth, Err(_))
            if matches!(tsig_error, Some(TsigError::BadSig | TsigError::BadKey | TsigError::BadTime)) =>
        {
            Err(DnsError::Rcode { server, rcode, tsig_error })
        }
        // Any other error answer must be signed: an unsigned NXRRSET would make the expiry
        // run believe the records changed, an unsigned REFUSED would hide what happened.
        (_, Err(reason)) => Err(DnsError::UnverifiedRcode { server, rcode, reason }),
    }
}

fn send_udp(server: SocketAddr, request: &[u8], id: u16, timeout: Duration) -> Result<Vec<u8>, DnsError> {
    let io = |source| DnsError::Io { server, source };
    let local: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(local).map_err(io)?;
    socket.connect(server).map_err(io)?;
    socket.send(request).map_err(io)?;
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 65_535];
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(DnsError::Timeout { server, timeout_ms: timeout.as_millis() });
        }
        socket.set_read_timeout(Some(remaining)).map_err(io)?;
        match socket.recv(&mut buf) {
            // Datagrams with another id are stale or spoofed; keep waiting for ours.
            Ok(n) if n >= 12 && u16::from_be_bytes([buf[0], buf[1]]) == id => {
                buf.truncate(n);
                return Ok(buf);
            }
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(DnsError::Timeout { server, timeout_ms: timeout.as_millis() });
            }
            Err(e) => return Err(io(e)),
        }
    }
}

/// DNS over TCP (RFC 1035 §4.2.2): a two-octet length before each message.
fn send_tcp(server: SocketAddr, request: &[u8], id: u16, timeout: Duration) -> Result<Vec<u8>, DnsError> {
    let io = |source: io::Error| match source.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            DnsError::Timeout { server, timeout_ms: timeout.as_millis() }
        }
        _ => DnsError::Io { server, source },
    };
    let deadline = Instant::now() + timeout;
    let mut stream = TcpStream::connect_timeout(&server, timeout).map_err(io)?;
    let len = u16::try_from(request.len())
        .map_err(|_| DnsError::Build { server, reason: "message exceeds 65535 octets".to_owned() })?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    let remaining = || deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    stream.set_write_timeout(Some(remaining())).map_err(io)?;
    stream.write_all(&framed).map_err(io)?;
    let mut len = [0u8; 2];
    stream.set_read_timeout(Some(remaining())).map_err(io)?;
    stream.read_exact(&mut len).map_err(io)?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.set_read_timeout(Some(remaining())).map_err(io)?;
    stream.read_exact(&mut answer).map_err(io)?;
    if answer.len() < 12 || u16::from_be_bytes([answer[0], answer[1]]) != id {
        return Err(DnsError::Malformed { server, reason: "answer over TCP has another id".to_owned() });
    }
    Ok(answer)
}

/// The mnemonic of an rcode as operators know it from dig and the RFCs.
pub(crate) fn rcode_name(rcode: ResponseCode) -> RcodeName {
    RcodeName(rcode)
}

pub(crate) struct RcodeName(ResponseCode);

impl fmt::Display for RcodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            ResponseCode::FormErr => "FORMERR",
            ResponseCode::ServFail => "SERVFAIL",
            ResponseCode::NXDomain => "NXDOMAIN",
            ResponseCode::NotImp => "NOTIMP",
            ResponseCode::Refused => "REFUSED",
            ResponseCode::YXDomain => "YXDOMAIN",
            ResponseCode::YXRRSet => "YXRRSET",
            ResponseCode::NXRRSet => "NXRRSET",
            ResponseCode::NotAuth => "NOTAUTH",
            ResponseCode::NotZone => "NOTZONE",
            other => return write!(f, "rcode {}", u16::from(other)),
        };
        f.write_str(name)
    }
}

fn tsig_error_name(e: TsigError) -> String {
    match e {
        TsigError::BadSig => "BADSIG".to_owned(),
        TsigError::BadKey => "BADKEY".to_owned(),
        TsigError::BadTime => "BADTIME".to_owned(),
        TsigError::BadTrunc => "BADTRUNC".to_owned(),
        TsigError::Unknown(code) => format!("{code}"),
    }
}

/// Asks `server` for the SOA serial of `zone` (RFC 1035 §3.3.13), for read-back after an
/// update (`confirm`). The query is unsigned, over UDP, retried over TCP when truncated. Only
/// an authoritative answer (the AA bit, RFC 1035 §4.1.1) holding the zone's SOA gives a
/// serial: a secondary that has lost the zone (expired, RFC 1996 §3) answers SERVFAIL,
/// REFUSED or without AA, and that is an error, not a serial. Being unsigned, a forged answer
/// can at worst end a read-back wait early; it changes nothing.
pub(crate) fn soa_serial(server: SocketAddr, zone: &Name, timeout: Duration) -> Result<u32, DnsError> {
    let mut query = Query::new();
    query.set_name(zone.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
    let mut message = Message::new(random_id(), MessageType::Query, OpCode::Query);
    message.add_query(query);
    let request = message.to_vec().map_err(|e| DnsError::Build { server, reason: e.to_string() })?;
    let id = message.metadata.id;
    let mut answer = send_udp(server, &request, id, timeout)?;
    if answer.get(2).is_some_and(|flags| flags & 0x02 != 0) {
        answer = send_tcp(server, &request, id, timeout)?;
    }
    let malformed = |reason: String| DnsError::Malformed { server, reason };
    let response = Message::from_vec(&answer).map_err(|e| malformed(e.to_string()))?;
    if response.metadata.message_type != MessageType::Response {
        return Err(malformed("not a response".to_owned()));
    }
    let rcode = response.metadata.response_code;
    if rcode != ResponseCode::NoError {
        return Err(DnsError::Rcode { server, rcode, tsig_error: None });
    }
    if !response.metadata.authoritative {
        return Err(malformed(format!("not authoritative for `{zone}`")));
    }
    response
        .answers
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) if r.name == *zone => Some(soa.serial),
            _ => None,
        })
        .ok_or_else(|| malformed(format!("no SOA of `{zone}` in the answer")))
}

/// How far `served` is behind `wanted` in serial number arithmetic (RFC 1982 §3.2, as zone
/// serials wrap around): 0 when `served` is `wanted` or newer. Two serials exactly 2^31
/// apart are undefined in RFC 1982; they count as behind, the side that waits.
pub(crate) fn serial_lag(served: u32, wanted: u32) -> u32 {
    let behind = wanted.wrapping_sub(served);
    if behind != 0 && behind <= 1 << 31 { behind } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    #[test]
    fn replace_builds_delete_then_add_per_family() {
        let m = replace_message(
            &name("dyn.example.com."),
            &name("h.dyn.example.com."),
            60,
            Some("192.0.2.1".parse().expect("ip")),
            None,
        )
        .expect("message");
        assert_eq!(m.metadata.op_code, OpCode::Update);
        let updates = &m.authorities;
        assert_eq!(updates.len(), 2);
        assert_eq!((updates[0].dns_class, updates[0].ttl), (DNSClass::ANY, 0));
        assert_eq!(updates[1].data, RData::A(A("192.0.2.1".parse().expect("ip"))));
        assert_eq!(updates[1].ttl, 60);
    }

    #[test]
    fn delete_removes_both_families_in_one_message() {
        let m = delete_message(&name("dyn.example.com."), &name("h.dyn.example.com.")).expect("message");
        assert_eq!(m.metadata.op_code, OpCode::Update);
        assert!(m.answers.is_empty(), "no prerequisites");
        let del = &m.authorities;
        assert_eq!(del.len(), 3);
        assert!(del.iter().all(|r| r.dns_class == DNSClass::ANY && r.ttl == 0 && r.name == name("h.dyn.example.com.")));
        let types: Vec<RecordType> = del.iter().map(Record::record_type).collect();
        assert_eq!(types, [RecordType::A, RecordType::AAAA, RecordType::TXT]);
    }

    #[test]
    fn expire_guards_each_deletion_with_the_stored_value() {
        let hosts = [
            Published {
                fqdn: name("a.dyn.example.com."),
                ipv4: Some("192.0.2.1".parse().expect("ip")),
                ipv6: None,
                txt: None,
            },
            Published {
                fqdn: name("b.dyn.example.com."),
                ipv4: None,
                ipv6: Some("2001:db8::1".parse().expect("ip")),
                txt: None,
            },
        ];
        let m = expire_message(&name("dyn.example.com."), &hosts).expect("message");
        // RFC 2136 §2.4.2: class of the zone, TTL 0, the exact value.
        let pre = &m.answers;
        assert_eq!(pre.len(), 2);
        assert_eq!(
            (pre[0].dns_class, pre[0].ttl, &pre[0].data),
            (DNSClass::IN, 0, &RData::A(A("192.0.2.1".parse().expect("ip"))))
        );
        assert_eq!(pre[1].record_type(), RecordType::AAAA);
        // §2.5.2: class ANY, TTL 0, no data.
        let del = &m.authorities;
        assert_eq!(del.len(), 2);
        assert!(del.iter().all(|r| r.dns_class == DNSClass::ANY && r.ttl == 0));
        assert_eq!((del[0].record_type(), del[1].record_type()), (RecordType::A, RecordType::AAAA));
        assert!(hosts.iter().all(|h| h.wire_estimate() > 0));
        let err = expire_message(&name("other.com."), &hosts).expect_err("outside");
        assert_eq!(err.to_string(), "`a.dyn.example.com.` is not inside zone `other.com.`");
    }

    #[test]
    fn probe_changes_nothing_and_guards_its_name() {
        let m = probe_message(&name("dyn.example.com.")).expect("message");
        assert_eq!(m.metadata.op_code, OpCode::Update);
        let pre = &m.answers;
        assert_eq!(pre.len(), 2);
        // RFC 2136 §2.4.1: the apex SOA exists (class ANY, type SOA, TTL 0, no data).
        assert_eq!(
            (&pre[0].name, pre[0].dns_class, pre[0].record_type(), pre[0].ttl),
            (&name("dyn.example.com."), DNSClass::ANY, RecordType::SOA, 0)
        );
        // §2.4.5: the probe name is not in use (class NONE, type ANY).
        assert_eq!(
            (&pre[1].name, pre[1].dns_class, pre[1].record_type()),
            (&name("_ddns-cgi-check.dyn.example.com."), DNSClass::NONE, RecordType::ANY)
        );
        // §2.5.2: delete its A rrset, which does not exist.
        let del = &m.authorities;
        assert_eq!(del.len(), 1);
        assert_eq!(
            (&del[0].name, del[0].dns_class, del[0].record_type()),
            (&name("_ddns-cgi-check.dyn.example.com."), DNSClass::ANY, RecordType::A)
        );
    }

    #[test]
    fn txt_values_are_split_into_character_strings() {
        let long = "x".repeat(crate::request::MAX_TXT_BYTES);
        let rdata = txt_rdata(&long);
        let strings: Vec<usize> = rdata.txt_data.iter().map(|s| s.len()).collect();
        assert_eq!(strings, [255, 255, 2]);
        assert_eq!(txt_rdata("abc").txt_data.len(), 1);
        let m =
            txt_message(&name("acme.example.com."), &name("s.acme.example.com."), 1, &["one", "two"]).expect("message");
        let types: Vec<(RecordType, DNSClass)> = m.authorities.iter().map(|r| (r.record_type(), r.dns_class)).collect();
        assert_eq!(
            types,
            [(RecordType::TXT, DNSClass::ANY), (RecordType::TXT, DNSClass::IN), (RecordType::TXT, DNSClass::IN)]
        );
        // An expired host's TXT is removed only if it still holds the stored value.
        let host = Published { fqdn: name("a.dyn.example.com."), ipv4: None, ipv6: None, txt: Some("v".into()) };
        let m = expire_message(&name("dyn.example.com."), std::slice::from_ref(&host)).expect("message");
        assert_eq!(m.answers[0].data, RData::TXT(txt_rdata("v")));
        assert_eq!((m.authorities[0].record_type(), m.authorities[0].dns_class), (RecordType::TXT, DNSClass::ANY));
    }

    /// `HostChange::wire_estimate` is exact for names written without compression: the
    /// message of several hosts, encoded uncompressed, is the header, the zone section and
    /// the hosts' estimates, octet for octet. So a batch bounded by the estimates fits.
    #[test]
    fn host_change_estimates_are_the_uncompressed_size() {
        use hickory_proto::serialize::binary::{BinEncodable as _, BinEncoder, NameEncoding};
        let zone = name("dyn.example.com.");
        let hosts = vec![
            HostChange {
                fqdn: name("a.dyn.example.com."),
                ttl: 60,
                a: Rrset::Replace(Ipv4Addr::new(192, 0, 2, 1)),
                aaaa: Rrset::Replace("2001:db8::1".parse().expect("v6")),
                txt: Rrset::Replace("x".repeat(300)),
            },
            HostChange {
                fqdn: name("longer-name.dyn.example.com."),
                ttl: 60,
                a: Rrset::Delete,
                aaaa: Rrset::Keep,
                txt: Rrset::Delete,
            },
        ];
        let message = change_message(&zone, &hosts).expect("message");
        let mut wire = Vec::new();
        let mut encoder = BinEncoder::new(&mut wire);
        encoder.set_name_encoding(NameEncoding::Uncompressed);
        message.emit(&mut encoder).expect("encode");
        // Header (RFC 1035 §4.1.1) and one zone record: its name, type and class.
        let overhead = 12 + (zone.len() + 1) + 4;
        let estimated: usize = hosts.iter().map(HostChange::wire_estimate).sum();
        assert_eq!(wire.len(), overhead + estimated);
        assert_eq!(hosts[1].wire_estimate(), 2 * ("longer-name.dyn.example.com.".len() + 1 + 10));
    }

    /// The expiry batches (`MAX_BATCH_OCTETS`) trust this estimate to keep a message under
    /// TCP's 64 KiB: it is the uncompressed wire size, octet for octet, for a TXT value that
    /// is not a multiple of 255 octets long (one that is gets one octet too many).
    #[test]
    fn published_estimates_are_the_uncompressed_size() {
        use hickory_proto::serialize::binary::{BinEncodable as _, BinEncoder, NameEncoding};
        let zone = name("dyn.example.com.");
        let hosts = vec![
            Published {
                fqdn: name("a.dyn.example.com."),
                ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)),
                ipv6: Some("2001:db8::1".parse().expect("v6")),
                txt: Some("x".repeat(300)),
            },
            Published { fqdn: name("longer-name.dyn.example.com."), ipv4: None, ipv6: None, txt: Some("y".into()) },
            Published {
                fqdn: name("v6.dyn.example.com."),
                ipv4: None,
                ipv6: Some("2001:db8::2".parse().expect("v6")),
                txt: None,
            },
        ];
        let message = expire_message(&zone, &hosts).expect("message");
        let mut wire = Vec::new();
        let mut encoder = BinEncoder::new(&mut wire);
        encoder.set_name_encoding(NameEncoding::Uncompressed);
        message.emit(&mut encoder).expect("encode");
        // Header (RFC 1035 §4.1.1) and one zone record: its name, type and class.
        let overhead = 12 + (zone.len() + 1) + 4;
        let estimated: usize = hosts.iter().map(Published::wire_estimate).sum();
        assert_eq!(wire.len(), overhead + estimated);
        // Per record: owner name, type, class, TTL and RDLENGTH (10 octets), then the data.
        let per_record = |fqdn: &str| fqdn.len() + 1 + 10;
        assert_eq!(hosts[1].wire_estimate(), 2 * per_record("longer-name.dyn.example.com.") + 2);
        assert_eq!(hosts[2].wire_estimate(), 2 * per_record("v6.dyn.example.com.") + 16);
    }

    /// A fixed message id would let an off-path attacker forge the unsigned error answers
    /// (RFC 5452 asks for unpredictable ids); the suite's servers answer whatever the id,
    /// so only this shows it. Sixteen equal ids in a row from 16 random bits: 2^-240.
    #[test]
    fn message_ids_differ_from_message_to_message() {
        let (zone, fqdn) = (name("dyn.example.com."), name("h.dyn.example.com."));
        let ids: std::collections::HashSet<u16> =
            (0..16).map(|_| delete_message(&zone, &fqdn).expect("message").metadata.id).collect();
        assert!(ids.len() > 1, "{ids:?}");
    }

    #[test]
    fn refuses_names_outside_the_zone() {
        let err =
            replace_message(&name("dyn.example.com."), &name("h.other.com."), 60, None, None).expect_err("outside");
        assert_eq!(err.to_string(), "`h.other.com.` is not inside zone `dyn.example.com.`");
    }

    #[test]
    fn serial_lag_wraps_around() {
        assert_eq!(serial_lag(5, 5), 0);
        assert_eq!(serial_lag(6, 5), 0);
        assert_eq!(serial_lag(3, 5), 2);
        // RFC 1982 §3.2: 1 follows 4294967295, so a server at 1 is not behind one at u32::MAX.
        assert_eq!(serial_lag(1, u32::MAX), 0);
        assert_eq!(serial_lag(u32::MAX, 1), 2);
        assert_eq!(serial_lag(0, 1 << 31), 1 << 31);
    }

    #[test]
    fn rcode_messages_name_the_code() {
        let e = DnsError::Rcode {
            server: "127.0.0.1:53".parse().expect("addr"),
            rcode: ResponseCode::NotAuth,
            tsig_error: Some(TsigError::BadSig),
        };
        assert_eq!(e.to_string(), "127.0.0.1:53 answered NOTAUTH (TSIG error BADSIG)");
    }
}
