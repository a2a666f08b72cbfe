//! Which software a zone's primary runs, as far as `check` can tell, and the hints for a
//! refused update in that software's words. PowerDNS keeps its update permissions in the
//! zone's metadata, not in a config file, and answers an unknown key or a wrong secret with an
//! unsigned REFUSED where RFC 8945 §5.3.1 has NOTAUTH with a TSIG error: both call for their
//! own hints. Knot and BIND keep the generic ones of [`super::zone`].

use hickory_proto::op::ResponseCode;

use crate::dns::DnsError;

/// The server software `check` recognised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Software {
    /// PowerDNS Authoritative, with the `version.bind` text that named it (`PowerDNS
    /// Authoritative Server 4.7.3`, or `Served by PowerDNS - ...` under
    /// `version-string=anonymous`).
    PowerDns { version: String },
    /// Anything else, or a server that does not say (`version-string` set to its own text,
    /// Knot's `version` empty).
    Other,
}

impl Software {
    /// The software a `version.bind` answer names.
    pub(super) fn from_version(version: Option<&str>) -> Software {
        match version {
            Some(v) if v.to_ascii_lowercase().contains("powerdns") => Software::PowerDns { version: v.to_owned() },
            Some(_) | None => Software::Other,
        }
    }
}

/// What to do about a refused probe, in PowerDNS's words: for every server recognised as
/// PowerDNS, and for the unsigned REFUSED that only PowerDNS sends to a signed UPDATE (then
/// without knowing the server, hence the "if"). `None` when the generic hint fits.
pub(super) fn powerdns_update_hint(software: &Software, e: &DnsError, zone: &str, key: &str) -> Option<String> {
    let known = matches!(software, Software::PowerDns { .. });
    let key_id = key.trim_end_matches('.');
    match e {
        DnsError::UnverifiedRcode { rcode: ResponseCode::Refused, .. } => Some(format!(
            "; {}PowerDNS answers so (unsigned, where RFC 8945 has NOTAUTH) when it has no key `{key_id}` with \
             this algorithm and secret: compare `pdnsutil list-tsig-keys` with ddns-cgi's key, or import it \
             (`pdnsutil import-tsig-key`, contrib/powerdns/ddns-cgi-zone.sh)",
            if known { "" } else { "if the server is PowerDNS: " }
        )),
        DnsError::Rcode { rcode: ResponseCode::Refused, tsig_error: None, .. } if known => Some(format!(
            "; PowerDNS refuses a verified UPDATE when pdns.conf lacks `dnsupdate=yes`, when the zone's \
             TSIG-ALLOW-DNSUPDATE metadata does not name `{key_id}`, or when ddns-cgi's address is in neither the \
             zone's ALLOW-DNSUPDATE-FROM nor pdns.conf's `allow-dnsupdate-from` (`pdnsutil get-meta {zone}`; \
             contrib/powerdns/ddns-cgi-zone.sh); its log names the last two"
        )),
        DnsError::Rcode { rcode: ResponseCode::NotAuth | ResponseCode::ServFail, tsig_error: None, .. } if known => {
            Some(format!("; PowerDNS does not serve `{zone}` as a primary: `pdnsutil list-all-zones`"))
        }
        _ => None,
    }
}

/// The hint of the line that fails a server taking unsigned UPDATEs.
pub(super) fn unsigned_hint(software: &Software, zone: &str, key: &str) -> String {
    let key_id = key.trim_end_matches('.');
    match software {
        Software::PowerDns { .. } => format!(
            "PowerDNS takes them from every address ALLOW-DNSUPDATE-FROM or `allow-dnsupdate-from` allows while \
             the zone has no TSIG-ALLOW-DNSUPDATE metadata: `pdnsutil set-meta {zone} TSIG-ALLOW-DNSUPDATE {key_id}`"
        ),
        Software::Other => format!(
            "let only the key `{key_id}` update the zone (Knot: an `acl` with `key`; BIND: `update-policy` instead \
             of `allow-update`; PowerDNS: TSIG-ALLOW-DNSUPDATE metadata)"
        ),
    }
}
