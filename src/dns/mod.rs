//! RFC 2136 dynamic updates signed with TSIG (RFC 8945), sent to the zone's primary server.
//! Building a message ([`change_message`]) is separate from signing and sending it
//! ([`exchange`]). The transport is a blocking, connected UDP socket, retried over TCP when the
//! answer is truncated: a connected socket reports `ECONNREFUSED` at once when the server is
//! down, and we see the real rcode (NOTAUTH/BADSIG, REFUSED, NOTZONE), which the async
//! `hickory-net` client folds into generic errors. This module knows nothing of users,
//! the database or HTTP.
//!
//! [`message`] builds the UPDATE messages (RFC 2136); [`transport`] signs them, sends them over
//! UDP or TCP and verifies the answer, and reads a zone's SOA for `check` and read-back. This
//! file keeps the error type and the rcode names both use.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::tsig::TsigError;

mod message;
mod transport;

#[cfg(test)]
pub(crate) use message::replace_message;
pub(crate) use message::{
    HostChange, MAX_BATCH_OCTETS, MAX_UDP_OCTETS, Published, Rrset, change_message, delete_message, expire_message,
    probe_message, txt_message,
};
pub(crate) use transport::{exchange, exchange_tcp, query_rrset, query_soa, serial_lag, signed_time, soa_serial};

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

#[cfg(test)]
mod tests;
