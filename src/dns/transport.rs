//! Signing a message with the zone's TSIG key (RFC 8945) and exchanging it with the zone's
//! server over a connected UDP socket, retried over TCP when truncated (RFC 1035 §4.2), each
//! bounded by the zone's timeout; verifying the answer's TSIG; the unsigned SOA queries of
//! `check` (`query_soa`) and of read-back (`soa_serial`, with RFC 1982 `serial_lag`).

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
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

/// What `server` answers now for `name`'s rrset of `rtype` (A, AAAA or TXT), unsigned over
/// UDP (TCP when truncated), each value as text: for the web console's host page, which shows
/// the stored addresses beside what the primary serves. NXDOMAIN and an empty answer are an
/// empty list; a TXT value's character-strings are joined.
pub(crate) fn query_rrset(
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    timeout: Duration,
) -> Result<Vec<String>, DnsError> {
    let mut query = Query::new();
    query.set_name(name.clone()).set_query_class(DNSClass::IN).set_query_type(rtype);
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
    if rcode == ResponseCode::NXDomain {
        return Ok(Vec::new());
    }
    if rcode != ResponseCode::NoError {
        return Err(DnsError::Rcode { server, rcode, tsig_error: None });
    }
    let mut values: Vec<String> = response
        .answers
        .iter()
        .filter(|r| r.name == *name)
        .filter_map(|r| match &r.data {
            RData::A(a) if rtype == RecordType::A => Some(a.0.to_string()),
            RData::AAAA(a) if rtype == RecordType::AAAA => Some(a.0.to_string()),
            RData::TXT(t) if rtype == RecordType::TXT => {
                Some(t.txt_data.iter().map(|b| String::from_utf8_lossy(b).into_owned()).collect::<String>())
            }
            _ => None,
        })
        .collect();
    values.sort();
    Ok(values)
}

/// How far `served` is behind `wanted` in serial number arithmetic (RFC 1982 §3.2, as zone
/// serials wrap around): 0 when `served` is `wanted` or newer. Two serials exactly 2^31
/// apart are undefined in RFC 1982; they count as behind, the side that waits.
pub(crate) fn serial_lag(served: u32, wanted: u32) -> u32 {
    let behind = wanted.wrapping_sub(served);
    if behind != 0 && behind <= 1 << 31 { behind } else { 0 }
}
