//! Signing a message with the zone's TSIG key (RFC 8945) and exchanging it with the zone's
//! server over a connected UDP socket, retried over TCP when truncated (RFC 1035 §4.2), each
//! bounded by the zone's timeout; verifying the answer's TSIG; the unsigned SOA queries of
//! `check` (`query_soa`, and `query_dnssec` with the DO bit for its DNSSEC items), of
//! read-back (`soa_serial`, with RFC 1982 `serial_lag`, and `served_addresses`; its query
//! and answer check also apart, `soa_query` and `soa_in_answer`, for FastCGI's async poll),
//! `check`'s other unsigned messages (`server_version`, `exchange_unsigned`), and the
//! record queries of `hostname status` (`query_rrset`), and `acme check`'s recursive CNAME
//! query (`query_cname`).

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{DNSClass, Name, RData, RecordType, TSigner};

use super::message::random_id;
use super::{DnsError, TSIG_FUDGE};
use crate::config::Zone;

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
    let mut query = Query::new();
    query.set_name(zone.name.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
    let mut message = Message::new(random_id(), MessageType::Query, OpCode::Query);
    message.add_query(query);
    exchange_unsigned(zone, &message)
}

/// Asks the zone's server what software it runs: the TXT record `version.bind` in class CH,
/// which BIND, Knot and PowerDNS answer unless told not to. The text, or `None` when the
/// server does not say (refused, no answer, no TXT); for `check`, which words its hints for
/// the server it recognises.
pub(crate) fn server_version(zone: &Zone) -> Option<String> {
    let name = Name::from_ascii("version.bind.").ok()?;
    let mut query = Query::new();
    query.set_name(name).set_query_class(DNSClass::CH).set_query_type(RecordType::TXT);
    let mut message = Message::new(random_id(), MessageType::Query, OpCode::Query);
    message.add_query(query);
    let response = exchange_unsigned(zone, &message).ok()?;
    response.answers.iter().find_map(|r| match &r.data {
        RData::TXT(txt) => {
            Some(txt.txt_data.iter().map(|s| String::from_utf8_lossy(s).into_owned()).collect::<String>())
        }
        _ => None,
    })
}

/// Sends `message` to the zone's server without a TSIG record and returns the answer whatever
/// its rcode; only a missing, late or malformed answer is an error. For `check`'s queries and
/// its unsigned UPDATE probe, which asks whether the server takes an UPDATE nobody signed.
pub(crate) fn exchange_unsigned(zone: &Zone, message: &Message) -> Result<Message, DnsError> {
    let server = zone.server;
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

/// Asks `server` for the SOA serial of `zone` (RFC 1035 §3.3.13), for read-back after an
/// update (`confirm`). The query is unsigned, over UDP, retried over TCP when truncated. Only
/// an authoritative answer (the AA bit, RFC 1035 §4.1.1) holding the zone's SOA gives a
/// serial: a secondary that has lost the zone (expired, RFC 1996 §3) answers SERVFAIL,
/// REFUSED or without AA, and that is an error, not a serial. Being unsigned, a forged answer
/// can at worst end a read-back wait early; it changes nothing.
pub(crate) fn soa_serial(server: SocketAddr, zone: &Name, timeout: Duration) -> Result<u32, DnsError> {
    let (request, id) = soa_query(server, zone)?;
    let mut answer = send_udp(server, &request, id, timeout)?;
    if answer.get(2).is_some_and(|flags| flags & 0x02 != 0) {
        answer = send_tcp(server, &request, id, timeout)?;
    }
    soa_in_answer(server, zone, &answer)
}

/// The query of [`soa_serial`] on the wire, and its id: for FastCGI's read-back, which sends
/// it without a thread (`http/fastcgi/wait.rs`).
pub(crate) fn soa_query(server: SocketAddr, zone: &Name) -> Result<(Vec<u8>, u16), DnsError> {
    let mut query = Query::new();
    query.set_name(zone.clone()).set_query_class(DNSClass::IN).set_query_type(RecordType::SOA);
    let mut message = Message::new(random_id(), MessageType::Query, OpCode::Query);
    message.add_query(query);
    let request = message.to_vec().map_err(|e| DnsError::Build { server, reason: e.to_string() })?;
    Ok((request, message.metadata.id))
}

/// The serial in an answer to [`soa_query`], held to the rules of [`soa_serial`]: NOERROR,
/// authoritative, the zone's own SOA.
pub(crate) fn soa_in_answer(server: SocketAddr, zone: &Name, answer: &[u8]) -> Result<u32, DnsError> {
    let malformed = |reason: String| DnsError::Malformed { server, reason };
    let response = Message::from_vec(answer).map_err(|e| malformed(e.to_string()))?;
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

/// The addresses `server` serves for `fqdn` of type `rtype` (A or AAAA), for read-back: the
/// primary must serve a change before its serial can say which version holds it (see
/// `confirm`). Unsigned and over UDP like [`soa_serial`] (retried over TCP when truncated);
/// only an authoritative answer counts, NXDOMAIN and no data being no addresses.
pub(crate) fn served_addresses(
    server: SocketAddr,
    fqdn: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Vec<std::net::IpAddr>, DnsError> {
    let malformed = |reason: String| DnsError::Malformed { server, reason };
    let response = ask(server, fqdn, rtype, Asking::Authority, timeout)?;
    let rcode = response.metadata.response_code;
    if !matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain) {
        return Err(DnsError::Rcode { server, rcode, tsig_error: None });
    }
    if !response.metadata.authoritative {
        return Err(malformed(format!("not authoritative for `{fqdn}`")));
    }
    let mut addresses: Vec<std::net::IpAddr> = response
        .answers
        .iter()
        .filter(|r| r.name == *fqdn)
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(std::net::IpAddr::V4(a.0)),
            RData::AAAA(a) => Some(std::net::IpAddr::V6(a.0)),
            _ => None,
        })
        .collect();
    addresses.sort();
    Ok(addresses)
}

/// Asks `server` for `name`/`rtype` with the DO bit (RFC 3225) and RD set, so a signed zone's
/// answer comes with its RRSIGs and denial proofs, for `check`'s DNSSEC items (also of a
/// resolver, for the parent's DS). Unsigned, over
/// UDP with a 4096-octet EDNS buffer, retried over TCP when truncated; the answer is returned
/// whatever its rcode.
pub(crate) fn query_dnssec(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Message, DnsError> {
    ask(server, name, rtype, Asking::Dnssec, timeout)
}

/// What `server` answers now for `name`'s rrset of `rtype` (A, AAAA or TXT), unsigned, for
/// `hostname status`: each record's data as text (a TXT record's strings joined), empty when
/// the name or the type does not exist (NXDOMAIN, NODATA). Only an authoritative answer
/// counts, as for [`soa_serial`]: a secondary that lost the zone is an error, not "no records".
pub(crate) fn query_rrset(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Vec<String>, DnsError> {
    let response = ask(server, name, rtype, Asking::Authority, timeout)?;
    let rcode = response.metadata.response_code;
    if rcode != ResponseCode::NoError && rcode != ResponseCode::NXDomain {
        return Err(DnsError::Rcode { server, rcode, tsig_error: None });
    }
    if !response.metadata.authoritative {
        return Err(DnsError::Malformed { server, reason: format!("not authoritative for `{name}`") });
    }
    Ok(response
        .answers
        .iter()
        .filter(|r| r.name == *name && r.record_type() == rtype)
        .map(|r| match &r.data {
            RData::TXT(txt) => txt.txt_data.iter().map(|s| String::from_utf8_lossy(s)).collect::<String>(),
            other => other.to_string(),
        })
        .collect())
}

/// Asks the recursive resolver `server` (RD set, RFC 1035 §4.1.1) for the CNAME record of
/// `name`, as a certificate authority would find it (`acme check`): `Some(target)`, or `None`
/// when the name has none (NXDOMAIN, or no CNAME in the answer). Unsigned, over UDP, retried
/// over TCP when truncated; any other rcode is an error.
pub(crate) fn query_cname(server: SocketAddr, name: &Name, timeout: Duration) -> Result<Option<Name>, DnsError> {
    let response = ask(server, name, RecordType::CNAME, Asking::Recursion, timeout)?;
    match response.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(None),
        rcode => return Err(DnsError::Rcode { server, rcode, tsig_error: None }),
    }
    Ok(response.answers.iter().find_map(|r| match &r.data {
        RData::CNAME(target) if r.name == *name => Some(target.0.clone()),
        _ => None,
    }))
}

/// What an unsigned query of [`ask`] asks for besides the record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Asking {
    /// The server's own authoritative data.
    Authority,
    /// Recursion desired (RFC 1035 §4.1.1): a resolver's answer.
    Recursion,
    /// Recursion desired and the DO bit with a 4096-octet EDNS buffer (RFC 3225), so a
    /// signed zone's answer comes with its RRSIGs and denial proofs; an authority ignores RD.
    Dnssec,
}

/// One unsigned query and its parsed response (any rcode), over UDP, retried over TCP when
/// the answer is truncated.
fn ask(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    asking: Asking,
    timeout: Duration,
) -> Result<Message, DnsError> {
    let mut query = Query::new();
    query.set_name(name.clone()).set_query_class(DNSClass::IN).set_query_type(rtype);
    let mut message = Message::new(random_id(), MessageType::Query, OpCode::Query);
    message.add_query(query);
    message.metadata.recursion_desired = asking != Asking::Authority;
    if asking == Asking::Dnssec {
        let mut edns = Edns::new();
        edns.set_max_payload(4096).set_dnssec_ok(true);
        message.set_edns(edns);
    }
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
    Ok(response)
}

/// How far `served` is behind `wanted` in serial number arithmetic (RFC 1982 §3.2, as zone
/// serials wrap around): 0 when `served` is `wanted` or newer. Two serials exactly 2^31
/// apart are undefined in RFC 1982; they count as behind, the side that waits.
pub(crate) fn serial_lag(served: u32, wanted: u32) -> u32 {
    let behind = wanted.wrapping_sub(served);
    if behind != 0 && behind <= 1 << 31 { behind } else { 0 }
}
