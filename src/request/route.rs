//! Where a request's path leads: the endpoint, or below it the path form of a token
//! (`/TOKEN[/FQDN]`, or the Flask API's `/SECRET/FQDN[/IP_1[/IP_2]]`), from `SCRIPT_NAME` +
//! `PATH_INFO` or `REQUEST_URI`; and [`log_path`], the path with such a secret redacted.

use crate::config::{Api, Config, Endpoint};

use super::params::decode_component;
use super::{Env, MAX_QUERY_BYTES, truncate};

/// `SCRIPT_NAME` + `PATH_INFO` (RFC 3875 §4.1.13, §4.1.5).
pub(crate) fn request_path(env: &Env) -> String {
    let script = env.get("SCRIPT_NAME").map(String::as_str).unwrap_or("");
    let info = env.get("PATH_INFO").map(String::as_str).unwrap_or("");
    truncate(&format!("{script}{info}"), 512)
}

/// The path part of `REQUEST_URI`, percent-decoded; `None` when absent or unusable.
pub(crate) fn request_uri_path(env: &Env) -> Option<String> {
    let uri = env.get("REQUEST_URI")?;
    if uri.len() > MAX_QUERY_BYTES + 512 {
        return None;
    }
    let raw = uri.split(['?', '#']).next().unwrap_or("");
    // The form decoder also turns `+` into a space; no endpoint, token or hostname contains
    // either, so such a path is unknown whichever way it is read.
    let path = decode_component(raw.as_bytes()).ok()?;
    path.starts_with('/').then(|| truncate(&path, 512))
}

/// Where a request's path leads: the endpoint, and for the path form of a token the token
/// and the hostname after it (and for the Flask API's, the addresses after that).
#[derive(Debug)]
pub(super) struct Route<'a> {
    pub(super) endpoint: &'a Endpoint,
    pub(super) token: Option<String>,
    pub(super) hostname: Option<String>,
    /// The Flask path form's `IP_1` and `IP_2` segments, unparsed; empty otherwise.
    pub(super) addresses: Vec<String>,
}

/// The longest path segment taken as a token. Real tokens are 48 characters; a longer
/// segment is no credential and the path is unknown.
pub(super) const MAX_PATH_TOKEN: usize = 128;

/// The route of `SCRIPT_NAME` + `PATH_INFO` (CGI under Apache: `/update` + `/TOKEN`; nginx
/// puts the whole path into `SCRIPT_NAME`), else of `REQUEST_URI`'s path.
pub(super) fn route<'a>(env: &Env, config: &'a Config) -> Option<Route<'a>> {
    route_of(&request_path(env), config).or_else(|| route_of(&request_uri_path(env)?, config))
}

/// An endpoint's path itself (a trailing slash either side is ignored), or below it
/// `/TOKEN` or `/TOKEN/FQDN` (a Flask endpoint: `/SECRET/FQDN`, `/SECRET/FQDN/IP_1` or
/// `/SECRET/FQDN/IP_1/IP_2`). The token segment must be base64url characters; anything else
/// below an endpoint is an unknown path.
fn route_of<'a>(path: &str, config: &'a Config) -> Option<Route<'a>> {
    let exact = config
        .endpoints
        .iter()
        .find(|e| e.path == path || e.path.strip_suffix('/') == Some(path) || path.strip_suffix('/') == Some(&e.path));
    if let Some(endpoint) = exact {
        return Some(Route { endpoint, token: None, hostname: None, addresses: Vec::new() });
    }
    config.endpoints.iter().find_map(|endpoint| {
        let rest = path.strip_prefix(endpoint.path.trim_end_matches('/'))?.strip_prefix('/')?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let mut segments = rest.split('/');
        let token = segments.next().unwrap_or("");
        let rest: Vec<&str> = segments.collect();
        if rest.iter().any(|s| s.is_empty()) {
            return None;
        }
        // Flask's routes take the FQDN and at most two addresses; another shape is its 404.
        let (hostname, addresses) = match (endpoint.api, rest.as_slice()) {
            (Api::Dyndns2, []) => (None, Vec::new()),
            (Api::Dyndns2, [hostname]) => (Some(*hostname), Vec::new()),
            (Api::Flask, [hostname, addresses @ ..]) if addresses.len() <= 2 => (Some(*hostname), addresses.to_vec()),
            (Api::Dyndns2 | Api::Flask, _) => return None,
        };
        let token_shaped = (1..=MAX_PATH_TOKEN).contains(&token.len())
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        token_shaped.then(|| Route {
            endpoint,
            token: Some(token.to_owned()),
            hostname: hostname.map(str::to_owned),
            addresses: addresses.into_iter().map(str::to_owned).collect(),
        })
    })
}

/// The request path as it may be logged: a secret in the path becomes `***`, and what
/// follows it with it (`/update/***`, `/update-by-path/***`); the query string is never logged. An unknown path may be a token URL sent to the wrong place, so only its
/// first segment is kept, and only when it is a short lower-case word.
pub(crate) fn log_path(env: &Env, config: &Config) -> String {
    if let Some(route) = route(env, config) {
        return match route.token {
            Some(_) => format!("{}/***", route.endpoint.path.trim_end_matches('/')),
            None => route.endpoint.path.clone(),
        };
    }
    let path = request_path(env);
    let mut segments = path.split('/').skip(1);
    let first = segments.next().unwrap_or("");
    let word = first.len() <= 16 && first.bytes().all(|b| b.is_ascii_lowercase() || matches!(b, b'-' | b'.' | b'_'));
    let mut out = if word { format!("/{first}") } else { "/***".to_owned() };
    if segments.next().is_some() {
        out.push_str("/***");
    }
    out
}
