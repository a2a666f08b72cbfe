//! Query and body parameters: strict form decoding, and the [`Params`] accessors that read
//! credentials, hostnames, addresses, the IPv6 prefix, `ttl`, `txt` and `offline` through the
//! endpoint's parameter aliases.

use std::net::{IpAddr, Ipv6Addr};

use crate::config::Endpoint;
use crate::secret::Secret;

use super::{
    AddressError, Addresses, Credentials, HostArg, HostsError, Ipv6Prefix, MAX_HOSTS, MAX_PARAMS, MAX_TXT_BYTES,
    OFFLINE_PARAM, RejectError, TTL_PARAM, TXT_PARAM, TtlError, TxtChange, TxtError, normalize_hostname, truncate,
};

pub(super) struct Params<'a> {
    pub(super) pairs: Vec<(String, String)>,
    pub(super) endpoint: &'a Endpoint,
}

impl Params<'_> {
    /// The first non-empty value among `names`, in alias order ("first match wins"), with the
    /// name that supplied it. An empty value counts as absent: ddclient sends `myip=` when it
    /// has no IPv4 address.
    fn first(&self, names: &[String]) -> Option<(&str, &str)> {
        names.iter().find_map(|name| {
            self.pairs.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(k, v)| (k.as_str(), v.as_str()))
        })
    }

    /// The user name and password parameters; the password (or `token`) alone is a token.
    pub(super) fn credentials(&self) -> Option<Credentials> {
        let (_, password) = self.first(&self.endpoint.params.password)?;
        let password = Secret::new(password.to_owned());
        Some(match self.first(&self.endpoint.params.username) {
            Some((_, username)) => Credentials::Password { username: username.to_owned(), password },
            None => Credentials::Token { token: password },
        })
    }

    pub(super) fn hostnames(&self) -> Result<Vec<HostArg>, HostsError> {
        let Some((_, list)) = self.first(&self.endpoint.params.hostname) else {
            return Err(HostsError::Missing);
        };
        // The list is split after percent-decoding: OPNsense sends `hostname=a%2Cb`.
        let n_hosts = list.split(',').count();
        if n_hosts > MAX_HOSTS {
            return Err(HostsError::TooMany { n_hosts });
        }
        Ok(list.split(',').map(host_arg).collect())
    }

    /// The explicit addresses, `None` when the request gives none. An `address` name
    /// (`myip`) may carry either family or one of each; an `ipv4` or `ipv6` name carries
    /// exactly one address of the family it names. Two parameters that give different
    /// addresses of one family make the request ambiguous.
    pub(super) fn addresses(&self) -> Result<Option<Addresses>, AddressError> {
        let mut out = Addresses { ipv4: None, ipv6: None };
        let repeated = |param: &str, family| Err(AddressError::Repeated { param: param.to_owned(), family });
        // ddclient and the Fritz!Box send dual stack in `myip`, comma-separated in either
        // order; an empty part is the Fritz!Box's `<ip6addr>` when it has no IPv6.
        if let Some((param, value)) = self.first(&self.endpoint.params.address) {
            for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match parse_address(param, item)? {
                    IpAddr::V4(a) if out.ipv4.is_none() => out.ipv4 = Some(a),
                    IpAddr::V6(a) if out.ipv6.is_none() => out.ipv6 = Some(a),
                    ip => return repeated(param, if ip.is_ipv4() { 4 } else { 6 }),
                }
            }
        }
        if let Some((param, value)) = self.first(&self.endpoint.params.ipv4) {
            match parse_address(param, value.trim())? {
                IpAddr::V4(a) => match out.ipv4 {
                    Some(existing) if existing != a => return repeated(param, 4),
                    _ => out.ipv4 = Some(a),
                },
                IpAddr::V6(_) => return Err(wrong_family(param, value, 4)),
            }
        }
        if let Some((param, value)) = self.first(&self.endpoint.params.ipv6) {
            match parse_address(param, value.trim())? {
                IpAddr::V6(a) => match out.ipv6 {
                    Some(existing) if existing != a => return repeated(param, 6),
                    _ => out.ipv6 = Some(a),
                },
                IpAddr::V4(_) => return Err(wrong_family(param, value, 6)),
            }
        }
        Ok((out.ipv4.is_some() || out.ipv6.is_some()).then_some(out))
    }

    /// The announced IPv6 prefix, `None` when absent or empty (Fritz!OS leaves
    /// `<ip6lanprefix>` empty without IPv6). The slash may arrive plain or as `%2F`; form
    /// decoding has already turned the latter into a slash.
    pub(super) fn ipv6_prefix(&self) -> Result<Option<Ipv6Prefix>, AddressError> {
        let Some((param, value)) = self.first(&self.endpoint.params.ipv6_prefix) else { return Ok(None) };
        let not_prefix = || AddressError::NotPrefix { param: param.to_owned(), value: truncate(value, 64) };
        let (addr, len) = value.trim().split_once('/').ok_or_else(not_prefix)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| not_prefix())?;
        // Digits only: `u8::from_str` would also take `+64`.
        let len = Some(len)
            .filter(|l| !l.is_empty() && l.len() <= 3 && l.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|l| l.parse::<u8>().ok())
            .filter(|l| (1..=128).contains(l))
            .ok_or_else(not_prefix)?;
        if !is_unicast(IpAddr::V6(addr)) {
            return Err(not_prefix());
        }
        Ok(Some(Ipv6Prefix { addr, len }))
    }

    /// The `txt` parameter: a value to publish, or empty to remove the record; `None` when
    /// absent. Unlike the other parameters an empty value counts: it is the removal.
    pub(super) fn txt(&self) -> Option<Result<TxtChange, TxtError>> {
        let (_, value) = self.pairs.iter().find(|(k, _)| k == TXT_PARAM)?;
        Some(txt_change(value))
    }

    /// dyndns2 `offline=yes` (any case). `no`, `nochg` and anything else keep the host
    /// online: ddclient sends `offline=no` with every update.
    pub(super) fn offline(&self) -> bool {
        self.pairs.iter().find(|(k, _)| k == OFFLINE_PARAM).is_some_and(|(_, v)| v.trim().eq_ignore_ascii_case("yes"))
    }

    /// The requested TTL: decimal seconds within `min..=max`; empty counts as absent.
    pub(super) fn ttl(&self, min: u32, max: u32) -> Result<Option<u32>, TtlError> {
        let Some((_, value)) = self.first(&[TTL_PARAM.to_owned()]) else { return Ok(None) };
        let ttl = Some(value)
            .filter(|v| v.len() <= 10 && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| TtlError::Malformed { value: truncate(value, 32) })?;
        if !(min..=max).contains(&ttl) {
            return Err(TtlError::OutOfRange { ttl, min, max });
        }
        Ok(Some(ttl))
    }
}

/// Checks a `txt` value: at most [`MAX_TXT_BYTES`], printable ASCII only (RFC 1035
/// character-strings are octets, but a control character or a byte of half a UTF-8
/// sequence in a record helps nobody and would be cut across character-strings).
pub(crate) fn txt_change(value: &str) -> Result<TxtChange, TxtError> {
    if value.is_empty() {
        return Ok(TxtChange::Clear);
    }
    if value.len() > MAX_TXT_BYTES {
        return Err(TxtError::TooLong { n_bytes: value.len() });
    }
    if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(TxtError::NotPrintable { value: truncate(value, 64) });
    }
    Ok(TxtChange::Set(value.to_owned()))
}

pub(super) fn wrong_family(param: &str, value: &str, family: u8) -> AddressError {
    AddressError::WrongFamily { param: param.to_owned(), value: truncate(value, 64), family }
}

pub(super) fn host_arg(raw: &str) -> HostArg {
    match normalize_hostname(raw.trim()) {
        Some(fqdn) => HostArg::Valid(fqdn),
        None => HostArg::NotFqdn(truncate(raw, 253)),
    }
}

/// Parses an address a client asks us to publish. Only addresses that can reach the client
/// are accepted: no unspecified, multicast, broadcast or link-local addresses, no IPv4-mapped
/// IPv6 (send the IPv4 in `myip` instead) and no zone index (`fe80::1%eth0`). Loopback and
/// private ranges are accepted: they are real uses on a LAN or a test bench.
pub(super) fn parse_address(param: &str, value: &str) -> Result<IpAddr, AddressError> {
    let err_value = || truncate(value, 64);
    let ip: IpAddr =
        value.parse().map_err(|_| AddressError::Unparsable { param: param.to_owned(), value: err_value() })?;
    if !is_unicast(ip) {
        return Err(AddressError::NotUnicast { param: param.to_owned(), value: err_value() });
    }
    Ok(ip)
}

/// An address that can reach one host: see [`parse_address`].
pub(super) fn is_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_unspecified() || a.is_multicast() || a.is_broadcast() || a.is_link_local()),
        IpAddr::V6(a) => {
            !(a.is_unspecified()
                || a.is_multicast()
                || a.to_ipv4_mapped().is_some()
                || (a.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

/// Decodes `application/x-www-form-urlencoded` strictly: `+` is a space, `%XX` must be two hex
/// digits, and the result must be UTF-8 without control characters.
pub(crate) fn parse_form(input: &[u8]) -> Result<Vec<(String, String)>, RejectError> {
    let mut out = Vec::new();
    for part in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_PARAMS {
            return Err(RejectError::Malformed { reason: "too many parameters" });
        }
        let (key, value) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &b""[..]),
        };
        out.push((decode_component(key)?, decode_component(value)?));
    }
    Ok(out)
}

pub(super) fn decode_component(raw: &[u8]) -> Result<String, RejectError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = |b: u8| (b as char).to_digit(16);
                let (Some(h), Some(l)) = (raw.get(i + 1).and_then(|b| hex(*b)), raw.get(i + 2).and_then(|b| hex(*b)))
                else {
                    return Err(RejectError::Malformed { reason: "invalid percent-encoding" });
                };
                bytes.push((h * 16 + l) as u8);
                i += 2;
            }
            b => bytes.push(b),
        }
        i += 1;
    }
    let s = String::from_utf8(bytes).map_err(|_| RejectError::Malformed { reason: "invalid UTF-8" })?;
    if s.chars().any(char::is_control) {
        return Err(RejectError::Malformed { reason: "control character" });
    }
    Ok(s)
}
