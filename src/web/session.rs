//! Sessions and their anti-CSRF tokens. A session's id is 32 random bytes (base64url) in a
//! cookie that is `HttpOnly`, `Secure` and `SameSite=Strict`, named with the `__Host-` prefix
//! when the console is at the root of its origin (the prefix demands `Path=/`) and with
//! `__Secure-` otherwise; only its SHA-256 digest is stored, so a copy of the database opens no
//! session. The CSRF token of a session is the SHA-256 of a fixed label and the id: it is
//! per session, never stored, and no one without the cookie can compute it. A form post is
//! refused without it, with another session's, from a foreign `Origin`, or with
//! `Sec-Fetch-Site` other than `same-origin` (browsers send `Origin: null` from pages with
//! `Referrer-Policy: no-referrer`, so a `null` origin is judged by `Sec-Fetch-Site` and the
//! token alone).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Ctx;
use crate::auth::token;
use crate::secret::Secret;
use crate::store::{SessionEnds, Store, StoreError, WebSession};

/// Longest cookie header read; a longer one holds no session of ours.
const MAX_COOKIE_BYTES: usize = 4096;

/// A live session: its row and user, and the id from the cookie (to derive the CSRF token
/// and to end it).
#[derive(Debug)]
pub(super) struct Session {
    pub(super) found: WebSession,
    id: Secret<String>,
}

impl Session {
    pub(super) fn csrf(&self) -> String {
        csrf_token(self.id.expose())
    }

    pub(super) fn digest(&self) -> [u8; 32] {
        token::digest(self.id.expose())
    }
}

/// The cookie's name for this console.
pub(super) fn cookie_name(ctx: &Ctx<'_>) -> &'static str {
    if ctx.web.path == "/" { "__Host-ddns_session" } else { "__Secure-ddns_session" }
}

/// `Set-Cookie` for a new session id; the cookie lives as long as the browser runs (the
/// server ends the session by its idle timeout and lifetime).
pub(super) fn set_cookie(ctx: &Ctx<'_>, id: &str) -> String {
    let path = if ctx.web.path == "/" { "/" } else { ctx.web.path.as_str() };
    format!("{}={id}; Path={path}; Secure; HttpOnly; SameSite=Strict", cookie_name(ctx))
}

/// `Set-Cookie` that removes the cookie.
pub(super) fn clear_cookie(ctx: &Ctx<'_>) -> String {
    let path = if ctx.web.path == "/" { "/" } else { ctx.web.path.as_str() };
    format!("{}=; Path={path}; Secure; HttpOnly; SameSite=Strict; Max-Age=0", cookie_name(ctx))
}

/// When sessions end, as of now.
pub(super) fn ends(ctx: &Ctx<'_>) -> SessionEnds {
    SessionEnds {
        idle_before: ctx.now - i64::from(ctx.web.session_idle),
        created_before: ctx.now - i64::from(ctx.web.session_lifetime),
    }
}

/// A new session id: 32 random bytes, base64url.
pub(super) fn new_id() -> Result<Secret<String>, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(Secret::new(URL_SAFE_NO_PAD.encode(bytes)))
}

/// The session id the cookie carries, if it has the shape of one.
fn cookie_id(ctx: &Ctx<'_>) -> Option<Secret<String>> {
    let header = ctx.env.get("HTTP_COOKIE")?;
    if header.len() > MAX_COOKIE_BYTES {
        return None;
    }
    let name = cookie_name(ctx);
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        let ok = k == name && v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Secret::new(v.to_owned()))
    })
}

/// The request's live session, if any.
pub(super) fn find(ctx: &Ctx<'_>, store: &mut Store) -> Result<Option<Session>, StoreError> {
    let Some(id) = cookie_id(ctx) else { return Ok(None) };
    let found = store.session(&token::digest(id.expose()), ctx.now, ends(ctx))?;
    Ok(found.map(|found| Session { found, id }))
}

fn csrf_token(id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("ddns-cgi console csrf\0{id}").as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Why a form post of `session` must be refused, or `None` when it may go on.
pub(super) fn forged(ctx: &Ctx<'_>, session: &Session) -> Option<&'static str> {
    if let Some(why) = cross_site(ctx) {
        return Some(why);
    }
    let given = ctx.field("csrf");
    if given.is_empty() {
        return Some("no csrf token");
    }
    if !token::digests_equal(given.as_bytes(), session.csrf().as_bytes()) {
        return Some("wrong csrf token");
    }
    None
}

/// Why a form post looks cross-site, from what the browser says: `Sec-Fetch-Site` where it
/// sends it, and an `Origin` other than `null` that is not the console's.
pub(super) fn cross_site(ctx: &Ctx<'_>) -> Option<&'static str> {
    if let Some(site) = ctx.env.get("HTTP_SEC_FETCH_SITE")
        && site != "same-origin"
    {
        return Some("Sec-Fetch-Site is not same-origin");
    }
    let origin = ctx.env.get("HTTP_ORIGIN")?;
    if origin == "null" {
        return None;
    }
    let ours = match &ctx.web.url {
        Some(url) => origin_of(url).is_some_and(|o| o.eq_ignore_ascii_case(origin)),
        // Without `[web] url`, the origin's host must be the one the request was sent to.
        None => match (origin.split_once("://"), ctx.env.get("HTTP_HOST")) {
            (Some((scheme, host)), Some(wanted)) => {
                matches!(scheme, "http" | "https") && host.eq_ignore_ascii_case(wanted)
            }
            _ => false,
        },
    };
    (!ours).then_some("foreign Origin")
}

/// `https://host[:port]` of a URL.
pub(super) fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    let host_len = rest.find('/').unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + host_len])
}

/// Whether the request came over TLS (`HTTPS=on`, RFC 3875's extension every server sets, or
/// `REQUEST_SCHEME=https`).
pub(super) fn over_tls(ctx: &Ctx<'_>) -> bool {
    ctx.env.get("HTTPS").is_some_and(|v| v.eq_ignore_ascii_case("on") || v == "1")
        || ctx.env.get("REQUEST_SCHEME").is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_differ_by_session() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert_eq!(csrf_token("a"), csrf_token("a"));
        assert_eq!(origin_of("https://ddns.example.com/console"), Some("https://ddns.example.com"));
        assert_eq!(origin_of("https://ddns.example.com"), Some("https://ddns.example.com"));
    }
}
