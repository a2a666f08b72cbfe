//! The request data of the acme-dns API, parsed without the store, the network or the clock:
//! the bodies of `POST <path>/update` (`{"subdomain": "...", "txt": "..."}`) and `POST
//! <path>/register` (`{"allowfrom": [...]}`), each bounded before parsing, and the shapes
//! acme-dns checks (`validTXT`, `validSubdomain`, `validKey`, UUID user names, `allowfrom`
//! networks). It decides no answer: `acme` maps what comes back to acme-dns's. The fuzz
//! target `acme_body` compiles this file by `#[path]`.

use serde::Deserialize;

use crate::config::Cidr;

/// Largest JSON body parsed: an update is about 100 bytes, a registration with a few
/// networks not much more.
pub(crate) const MAX_BODY_BYTES: usize = 2048;
/// acme-dns keys: 40 characters of the base64url alphabet (`validKey`).
pub(crate) const KEY_LEN: usize = 40;
/// ACME key authorisation digests: SHA-256 in unpadded base64url (RFC 8555 §8.4), which
/// acme-dns requires exactly (`validTXT`).
const TXT_LEN: usize = 43;
/// Most networks an account may be limited to.
pub(crate) const MAX_ALLOWFROM: usize = 32;

/// acme-dns's `ACMETxtPost`; missing fields are empty, as Go's decoder leaves them. `delete`
/// is ours: `true` removes the value, for clients that cannot send `DELETE`.
#[derive(Debug, Deserialize)]
pub(crate) struct UpdateBody {
    #[serde(default)]
    pub(crate) subdomain: String,
    #[serde(default)]
    pub(crate) txt: String,
    #[serde(default)]
    pub(crate) delete: bool,
}

/// acme-dns's registration body, and the subdomain a registration may choose
/// (`[acme] choose_subdomain`).
#[derive(Debug, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct RegisterBody {
    #[serde(default)]
    pub(crate) allowfrom: Vec<String>,
    #[serde(default)]
    pub(crate) subdomain: Option<String>,
}

/// Why a body was not read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    /// Longer than [`MAX_BODY_BYTES`]; not parsed.
    #[error("body of {0} bytes exceeds {MAX_BODY_BYTES}")]
    TooLarge(usize),
    /// Not JSON of the expected shape (serde_json's reason, which quotes no input).
    #[error("malformed body: {0}")]
    Json(String),
}

fn bounded(body: &[u8]) -> Result<&[u8], BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge(body.len()));
    }
    Ok(body)
}

/// The body of `POST <path>/update`.
pub(crate) fn update(body: &[u8]) -> Result<UpdateBody, BodyError> {
    serde_json::from_slice(bounded(body)?).map_err(|e| BodyError::Json(e.to_string()))
}

/// The body of `POST <path>/register`, as sent; an empty body is an empty `allowfrom` list
/// (acme-dns registers without one).
pub(crate) fn register(body: &[u8]) -> Result<RegisterBody, BodyError> {
    if body.is_empty() {
        return Ok(RegisterBody::default());
    }
    serde_json::from_slice(bounded(body)?).map_err(|e| BodyError::Json(e.to_string()))
}

/// An `allowfrom` list as it is stored: each entry a network (brackets around IPv6 dropped
/// and surrounding space trimmed, as acme-dns does), at most [`MAX_ALLOWFROM`]. The error
/// says which entry is wrong and why.
pub(crate) fn networks(allowfrom: &[String]) -> Result<Vec<String>, String> {
    if allowfrom.len() > MAX_ALLOWFROM {
        return Err(format!("list has {} networks, at most {MAX_ALLOWFROM}", allowfrom.len()));
    }
    let mut networks = Vec::with_capacity(allowfrom.len());
    for entry in allowfrom {
        let clean: String = entry.chars().filter(|c| !matches!(c, '[' | ']')).collect();
        clean.trim().parse::<Cidr>()?;
        networks.push(clean.trim().to_owned());
    }
    Ok(networks)
}

pub(crate) fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// acme-dns's `validKey`: the shape of an `X-Api-Key`.
pub(crate) fn key_shaped(key: &str) -> bool {
    key.len() == KEY_LEN && key.bytes().all(is_base64url)
}

/// acme-dns's `validTXT`.
pub(crate) fn valid_txt(s: &str) -> bool {
    s.len() == TXT_LEN && s.bytes().all(is_base64url)
}

/// acme-dns's `validSubdomain`: one DNS label of letters, digits and inner hyphens.
pub(crate) fn valid_subdomain(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// A UUID in its hyphenated form (RFC 9562 §4), lower-cased; `None` for anything else.
pub(crate) fn parse_uuid(s: &str) -> Option<String> {
    let groups: Vec<&str> = s.split('-').collect();
    let shaped = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_hexdigit()));
    shaped.then(|| s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_as_acme_dns_checks_them() {
        assert!(valid_txt(&"a".repeat(43)));
        assert!(valid_txt("LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo"));
        assert!(
            !valid_txt(&"a".repeat(42)) && !valid_txt(&"a".repeat(44)) && !valid_txt(&format!("{}=", "a".repeat(42)))
        );
        assert!(valid_subdomain("d420c923-bbd7-4056-ab64-c3ca54c9b3cf"));
        assert!(!valid_subdomain("") && !valid_subdomain("-a") && !valid_subdomain("a.b"));
        let id = "D420C923-BBD7-4056-AB64-C3CA54C9B3CF";
        assert_eq!(parse_uuid(id), Some(id.to_ascii_lowercase()));
        assert_eq!(parse_uuid("not-a-uuid"), None);
        assert_eq!(parse_uuid(&format!("{id}0")), None);
        assert!(key_shaped(&"a".repeat(40)) && !key_shaped(&"a".repeat(39)) && !key_shaped(&"+".repeat(40)));
    }

    #[test]
    fn bodies_are_bounded_before_parsing() {
        let big = format!("{{\"subdomain\": \"{}\"}}", "a".repeat(MAX_BODY_BYTES));
        assert!(matches!(update(big.as_bytes()), Err(BodyError::TooLarge(_))));
        assert!(matches!(register(big.as_bytes()), Err(BodyError::TooLarge(_))));
        let ok = update(b"{\"txt\": \"x\"}").expect("missing fields are empty");
        assert_eq!((ok.subdomain.as_str(), ok.txt.as_str()), ("", "x"));
        assert!(matches!(update(b"{\"subdomain\": "), Err(BodyError::Json(_))));
        assert!(matches!(update(b"{\"subdomain\": 5}"), Err(BodyError::Json(_))));
        assert_eq!(register(b"").map(|b| b.allowfrom), Ok(vec![]));
        assert_eq!(
            register(b"{\"allowfrom\": [\"192.0.2.0/24\"]}").map(|b| b.allowfrom),
            Ok(vec!["192.0.2.0/24".to_owned()])
        );
        assert_eq!(register(b"{\"subdomain\": \"shop\"}").map(|b| b.subdomain), Ok(Some("shop".to_owned())));
        assert!(matches!(register(b"\"x\""), Err(BodyError::Json(_))));
        // The bound itself is allowed: a body of exactly MAX_BODY_BYTES is parsed.
        let pad = MAX_BODY_BYTES - "{\"txt\": \"\"}".len();
        let exact = format!("{{\"txt\": \"{}\"}}", "a".repeat(pad));
        assert_eq!(exact.len(), MAX_BODY_BYTES);
        assert_eq!(update(exact.as_bytes()).map(|b| b.txt.len()), Ok(pad));
    }

    #[test]
    fn allowfrom_networks_are_cleaned_and_bounded() {
        let list = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            networks(&list(&[" [2001:db8::]/32 ", "192.0.2.0/24"])),
            Ok(list(&["2001:db8::/32", "192.0.2.0/24"]))
        );
        assert!(networks(&list(&["not-a-network"])).is_err());
        assert!(networks(&vec!["192.0.2.0/24".to_owned(); MAX_ALLOWFROM + 1]).is_err());
        assert_eq!(networks(&vec!["192.0.2.0/24".to_owned(); MAX_ALLOWFROM]).map(|n| n.len()), Ok(MAX_ALLOWFROM));
        assert_eq!(networks(&[]), Ok(vec![]));
    }
}
