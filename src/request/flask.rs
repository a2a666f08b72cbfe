//! The Flask dyndns API's forms (`jfddns`: `/update-by-path/SECRET/FQDN[/IP_1[/IP_2]]`,
//! `/update-by-query?secret=...&fqdn=...`, and their `delete-by-` twins) read into the parts
//! of a [`Request`](super::Request) the dyndns2 parameters would give: a host token, one
//! hostname, the explicit addresses. Whether the endpoint updates or deletes, the TTL and
//! the client-address fallback are `parse`'s, as for every endpoint. The parameter names are
//! the Flask API's own and fixed; `txt`, `offline` and the IPv6 prefix are not read.

use std::net::IpAddr;

use crate::secret::Secret;

use super::params::{host_arg, parse_address, wrong_family};
use super::route::Route;
use super::{AddressError, Addresses, Credentials, HostArg, HostsError};

/// What a Flask request asks, before the client-address fallback.
#[derive(Debug)]
pub(super) struct FlaskRequest {
    /// The `SECRET` path segment or the `secret` parameter: only a host token can pass.
    pub(super) credentials: Option<Credentials>,
    pub(super) hostnames: Result<Vec<HostArg>, HostsError>,
    /// The explicit addresses, `None` when the request gives none.
    pub(super) addresses: Result<Option<Addresses>, AddressError>,
}

/// Reads the path form when the route carries a secret, else the query form from `pairs`.
pub(super) fn read(route: &Route<'_>, pairs: &[(String, String)]) -> FlaskRequest {
    if let Some(secret) = &route.token {
        let hostnames = Ok(vec![host_arg(route.hostname.as_deref().unwrap_or(""))]);
        let names = ["ip_1", "ip_2"];
        let given: Vec<(&str, &str)> = names.into_iter().zip(route.addresses.iter().map(String::as_str)).collect();
        return FlaskRequest {
            credentials: Some(Credentials::Token { token: Secret::new(secret.clone()) }),
            hostnames,
            addresses: addresses(&given, None, None),
        };
    }
    // Flask's request.args: the first value of a name; an empty one counts as absent, as
    // dyndns2's parameters do.
    let get = |name: &str| pairs.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.as_str());
    let given: Vec<(&str, &str)> = ["ip_1", "ip_2"].into_iter().filter_map(|n| Some((n, get(n)?))).collect();
    FlaskRequest {
        credentials: get("secret").map(|s| Credentials::Token { token: Secret::new(s.to_owned()) }),
        hostnames: hostname(get("fqdn"), get("zone_name"), get("record_name")).map(|h| vec![h]),
        addresses: addresses(&given, get("ipv4"), get("ipv6")),
    }
}

/// `fqdn`, or `record_name` in `zone_name`; one way only, and a zone needs its record.
/// A `record_name` may hold dots (`a.b` in `example.com` is `a.b.example.com`), as the Flask
/// API joined the two; `@` is no hostname (the Flask API has no apex form), so `notfqdn`.
fn hostname(fqdn: Option<&str>, zone: Option<&str>, record: Option<&str>) -> Result<HostArg, HostsError> {
    match (fqdn, zone, record) {
        (Some(fqdn), None, None) => Ok(host_arg(fqdn)),
        (None, Some(zone), Some(record)) => {
            let zone = zone.trim().trim_end_matches('.');
            Ok(host_arg(&format!("{}.{zone}", record.trim())))
        }
        (Some(_), _, _) => Err(HostsError::Unclear { reason: "both `fqdn` and `zone_name`/`record_name` given" }),
        (None, Some(_), None) => Err(HostsError::Unclear { reason: "`zone_name` without `record_name`" }),
        (None, None, Some(_)) => Err(HostsError::Unclear { reason: "`record_name` without `zone_name`" }),
        (None, None, None) => Err(HostsError::Unclear { reason: "no `fqdn`, nor `zone_name` with `record_name`" }),
    }
}

/// `ip_1` and `ip_2` sorted into their families (two of one family are refused, as the
/// Flask API refused them), then `ipv4` and `ipv6`, each of its family; a family given twice
/// must be the same address.
fn addresses(
    given: &[(&str, &str)],
    ipv4: Option<&str>,
    ipv6: Option<&str>,
) -> Result<Option<Addresses>, AddressError> {
    let mut out = Addresses { ipv4: None, ipv6: None };
    let repeated = |param: &str, family| AddressError::Repeated { param: param.to_owned(), family };
    for (param, value) in given {
        match parse_address(param, value.trim())? {
            IpAddr::V4(a) if out.ipv4.is_none() => out.ipv4 = Some(a),
            IpAddr::V6(a) if out.ipv6.is_none() => out.ipv6 = Some(a),
            ip => return Err(repeated(param, if ip.is_ipv4() { 4 } else { 6 })),
        }
    }
    if let Some(value) = ipv4 {
        match parse_address("ipv4", value.trim())? {
            IpAddr::V4(a) if out.ipv4.is_none_or(|e| e == a) => out.ipv4 = Some(a),
            IpAddr::V4(_) => return Err(repeated("ipv4", 4)),
            IpAddr::V6(_) => return Err(wrong_family("ipv4", value, 4)),
        }
    }
    if let Some(value) = ipv6 {
        match parse_address("ipv6", value.trim())? {
            IpAddr::V6(a) if out.ipv6.is_none_or(|e| e == a) => out.ipv6 = Some(a),
            IpAddr::V6(_) => return Err(repeated("ipv6", 6)),
            IpAddr::V4(_) => return Err(wrong_family("ipv6", value, 6)),
        }
    }
    Ok((out.ipv4.is_some() || out.ipv6.is_some()).then_some(out))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    use super::super::{Env, Intent, RejectError, Request, parse};
    use super::*;

    const TOKEN: &str = "ddns_AAAAbbbbCCCCdddd0000111122223333444455556";
    const CLIENT: &str = "198.51.100.7";

    fn config() -> Config {
        let text = "[database]\npath = \"/tmp/x.db\"\n[dns]\ntsig_key = \"hmac-sha256:k.:c2VjcmV0\"\n\
                    [[zones]]\nname = \"dyn.example.com\"\n";
        Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), text).expect("config")
    }

    fn request(path: &str, query: &str) -> Result<Request, RejectError> {
        let pairs =
            [("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", path), ("QUERY_STRING", query), ("REMOTE_ADDR", CLIENT)];
        let env: Env = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        parse(&env, b"", &config())
    }

    fn v4(s: &str) -> Option<std::net::Ipv4Addr> {
        Some(s.parse().expect("ipv4"))
    }

    fn v6(s: &str) -> Option<std::net::Ipv6Addr> {
        Some(s.parse().expect("ipv6"))
    }

    /// What a request should read as: the secret, the hostname, the addresses (or their
    /// error), and the intent.
    struct Want {
        secret: Option<&'static str>,
        hostnames: Result<Vec<HostArg>, HostsError>,
        addresses: Result<Addresses, AddressError>,
        intent: Intent,
    }

    fn update(hostname: &str, ipv4: Option<std::net::Ipv4Addr>, ipv6: Option<std::net::Ipv6Addr>) -> Want {
        Want {
            secret: Some(TOKEN),
            hostnames: Ok(vec![HostArg::Valid(hostname.to_owned())]),
            addresses: Ok(Addresses { ipv4, ipv6 }),
            intent: Intent::Update,
        }
    }

    #[track_caller]
    fn check(path: &str, query: &str, want: Want) {
        let r = request(path, query).expect("parses");
        let secret = match &r.credentials {
            Some(Credentials::Token { token }) => Some(token.expose().as_str()),
            Some(Credentials::Password { .. }) => panic!("{path}?{query}: a password, not a token"),
            None => None,
        };
        assert_eq!(secret, want.secret, "{path}?{query}: secret");
        assert_eq!(r.hostnames, want.hostnames, "{path}?{query}: hostnames");
        assert_eq!(r.addresses, want.addresses, "{path}?{query}: addresses");
        assert_eq!(r.intent, want.intent, "{path}?{query}: intent");
    }

    #[test]
    fn path_forms() {
        let p = |rest: &str| format!("/update-by-path/{TOKEN}/{rest}");
        // No address: the client's, as dyndns2's auto-detect.
        check(&p("h.dyn.example.com"), "", update("h.dyn.example.com", v4(CLIENT), None));
        check(&p("H.Dyn.Example.com./"), "", update("h.dyn.example.com", v4(CLIENT), None));
        check(&p("h.dyn.example.com/192.0.2.1"), "", update("h.dyn.example.com", v4("192.0.2.1"), None));
        check(&p("h.dyn.example.com/2001:db8::1"), "", update("h.dyn.example.com", None, v6("2001:db8::1")));
        // `ip_1` and `ip_2` are sorted into families, in either order.
        let both = update("h.dyn.example.com", v4("192.0.2.1"), v6("2001:db8::1"));
        check(&p("h.dyn.example.com/192.0.2.1/2001:db8::1"), "", both);
        let both = update("h.dyn.example.com", v4("192.0.2.1"), v6("2001:db8::1"));
        check(&p("h.dyn.example.com/2001:db8::1/192.0.2.1"), "", both);
        // `ttl` in the query is read as on every endpoint.
        assert_eq!(request(&p("h.dyn.example.com"), "ttl=120").expect("parses").ttl, Ok(Some(120)));
        // Deletion: both families, whatever addresses.
        let delete = Want { intent: Intent::Offline, ..update("h.dyn.example.com", v4(CLIENT), None) };
        check(&format!("/delete-by-path/{TOKEN}/h.dyn.example.com"), "", delete);
        // The secret is whatever the segment holds; only a host token will pass `update`.
        let other = Want { secret: Some("12345678"), ..update("h.dyn.example.com", v4(CLIENT), None) };
        check("/update-by-path/12345678/h.dyn.example.com", "", other);
    }

    #[test]
    fn bad_path_forms() {
        let p = |rest: &str| format!("/update-by-path/{TOKEN}/{rest}");
        let bad = |addresses| Want { addresses: Err(addresses), ..update("h.dyn.example.com", None, None) };
        let repeated = |param: &str, family| AddressError::Repeated { param: param.to_owned(), family };
        check(&p("h.dyn.example.com/192.0.2.1/192.0.2.2"), "", bad(repeated("ip_2", 4)));
        check(&p("h.dyn.example.com/2001:db8::1/2001:db8::2"), "", bad(repeated("ip_2", 6)));
        let unparsable = AddressError::Unparsable { param: "ip_1".to_owned(), value: "192.0.2".to_owned() };
        check(&p("h.dyn.example.com/192.0.2"), "", bad(unparsable));
        let multicast = AddressError::NotUnicast { param: "ip_2".to_owned(), value: "224.0.0.1".to_owned() };
        check(&p("h.dyn.example.com/2001:db8::1/224.0.0.1"), "", bad(multicast));
        let not_fqdn =
            Want { hostnames: Ok(vec![HostArg::NotFqdn("single".to_owned())]), ..update("x", v4(CLIENT), None) };
        check(&p("single"), "", not_fqdn);
        // Flask's routes know no other shapes: a missing FQDN, three addresses, an empty
        // segment are unknown paths.
        for path in [
            format!("/update-by-path/{TOKEN}"),
            format!("/update-by-path/{TOKEN}/"),
            p("h.dyn.example.com/192.0.2.1/2001:db8::1/192.0.2.3"),
            p("h.dyn.example.com//192.0.2.1"),
            "/update-by-path/a.b/h.dyn.example.com".to_owned(),
            format!("/delete-by-path/{TOKEN}"),
        ] {
            assert!(matches!(request(&path, ""), Err(RejectError::NotFound { .. })), "{path}");
        }
    }

    #[test]
    fn query_forms() {
        let q = |rest: &str| format!("secret={TOKEN}&{rest}");
        check("/update-by-query", &q("fqdn=h.dyn.example.com"), update("h.dyn.example.com", v4(CLIENT), None));
        let joined = update("h.dyn.example.com", v4("192.0.2.1"), None);
        check("/update-by-query", &q("zone_name=dyn.example.com&record_name=h&ip_1=192.0.2.1"), joined);
        let dotted = update("a.b.dyn.example.com", v4(CLIENT), None);
        check("/update-by-query", &q("zone_name=dyn.example.com.&record_name=a.b"), dotted);
        let both = update("h.dyn.example.com", v4("192.0.2.1"), v6("2001:db8::1"));
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ip_1=2001:db8::1&ip_2=192.0.2.1"), both);
        let both = update("h.dyn.example.com", v4("192.0.2.1"), v6("2001:db8::1"));
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ipv4=192.0.2.1&ipv6=2001:db8::1"), both);
        // The same address twice is the same request.
        let same = update("h.dyn.example.com", v4("192.0.2.1"), None);
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ip_1=192.0.2.1&ipv4=192.0.2.1"), same);
        // Empty values count as absent, as on dyndns2's endpoints.
        let empty = update("h.dyn.example.com", None, v6("2001:db8::1"));
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ip_1=&ipv4=&ipv6=2001:db8::1"), empty);
        let ttl = request("/update-by-query", &q("fqdn=h.dyn.example.com&ttl=300")).expect("parses");
        assert_eq!(ttl.ttl, Ok(Some(300)));
        let delete = Want { intent: Intent::Offline, ..update("h.dyn.example.com", v4(CLIENT), None) };
        check("/delete-by-query", &q("fqdn=h.dyn.example.com"), delete);
        // dyndns2's names mean nothing here: no `offline`, no `hostname`, no `password`.
        let plain = update("h.dyn.example.com", v4(CLIENT), None);
        check("/update-by-query", &q("fqdn=h.dyn.example.com&offline=yes&hostname=x.dyn.example.com"), plain);
        let none = Want { secret: None, ..update("h.dyn.example.com", v4(CLIENT), None) };
        check("/update-by-query", &format!("password={TOKEN}&fqdn=h.dyn.example.com"), none);
    }

    #[test]
    fn bad_query_forms() {
        let q = |rest: &str| format!("secret={TOKEN}&{rest}");
        let unclear = |reason| Want { hostnames: Err(HostsError::Unclear { reason }), ..update("x", v4(CLIENT), None) };
        check(
            "/update-by-query",
            &q(&format!("ip_1={CLIENT}")),
            unclear("no `fqdn`, nor `zone_name` with `record_name`"),
        );
        check("/update-by-query", &q("zone_name=dyn.example.com"), unclear("`zone_name` without `record_name`"));
        check("/update-by-query", &q("record_name=h"), unclear("`record_name` without `zone_name`"));
        let both = "both `fqdn` and `zone_name`/`record_name` given";
        check("/update-by-query", &q("fqdn=h.dyn.example.com&zone_name=dyn.example.com&record_name=h"), unclear(both));
        check("/update-by-query", &q("fqdn=h.dyn.example.com&zone_name=dyn.example.com"), unclear(both));
        // The Flask API has no apex form: `@` is no hostname.
        let apex = Want {
            hostnames: Ok(vec![HostArg::NotFqdn("@.dyn.example.com".to_owned())]),
            ..update("x", v4(CLIENT), None)
        };
        check("/update-by-query", &q("zone_name=dyn.example.com&record_name=@"), apex);
        let bad = |addresses| Want { addresses: Err(addresses), ..update("h.dyn.example.com", None, None) };
        let repeated = |param: &str, family| AddressError::Repeated { param: param.to_owned(), family };
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ip_1=192.0.2.1&ip_2=192.0.2.2"), bad(repeated("ip_2", 4)));
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ip_1=192.0.2.1&ipv4=192.0.2.2"), bad(repeated("ipv4", 4)));
        let wrong = AddressError::WrongFamily { param: "ipv4".to_owned(), value: "2001:db8::1".to_owned(), family: 4 };
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ipv4=2001:db8::1"), bad(wrong));
        let wrong = AddressError::WrongFamily { param: "ipv6".to_owned(), value: "192.0.2.1".to_owned(), family: 6 };
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ipv6=192.0.2.1"), bad(wrong));
        let unparsable = AddressError::Unparsable { param: "ip_1".to_owned(), value: "x".to_owned() };
        check("/update-by-query", &q("fqdn=h.dyn.example.com&ip_1=x"), bad(unparsable));
        let ttl = request("/update-by-query", &q("fqdn=h.dyn.example.com&ttl=abc")).expect("parses");
        assert!(ttl.ttl.is_err());
        // No secret: no credentials (the Basic challenge).
        let none = Want { secret: None, ..update("h.dyn.example.com", v4(CLIENT), None) };
        check("/update-by-query", "fqdn=h.dyn.example.com", none);
    }
}
