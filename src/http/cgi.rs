//! The CGI transport (RFC 3875): picks the request's meta-variables out of the process
//! environment, reads the body bounded by `CONTENT_LENGTH`, and writes a [`Reply`] as a CGI
//! response (a `Status` header, the headers, a blank line, the body). It decides nothing;
//! `update::handle` does.

use std::ffi::OsString;
use std::io::{self, Read, Write};

use crate::config::Config;
use crate::log::{self, Log};
use crate::reply::Reply;
use crate::request::{self, Env};
use crate::update::Handled;

/// The request variables out of a CGI process environment. Non-UTF-8 values are dropped:
/// none of the variables we read can legitimately carry them.
pub(crate) fn request_env(vars: impl IntoIterator<Item = (OsString, OsString)>, proxy_header: Option<&str>) -> Env {
    vars.into_iter()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| request::REQUEST_VARIABLES.contains(&k.as_str()) || Some(k.as_str()) == proxy_header)
        .collect()
}

/// Reads at most one byte more than the parser accepts, so an oversized body is recognised
/// without reading all of it. RFC 3875 §4.2: the script must not read past `CONTENT_LENGTH`.
/// A body that ends early is returned as it is; `request::parse` refuses it (`badagent`).
pub(crate) fn read_body(env: &Env, input: impl Read) -> io::Result<Vec<u8>> {
    if !request::has_body(env) {
        return Ok(Vec::new());
    }
    let Some(len) = request::content_length(env) else { return Ok(Vec::new()) };
    let limit = len.min(request::MAX_BODY_BYTES + 1);
    let mut body = Vec::with_capacity(limit);
    input.take(limit as u64).read_to_end(&mut body)?;
    Ok(body)
}

/// Writes the reply as a CGI response (RFC 3875 §6.2, §6.3.3 for `Status`).
pub(crate) fn write_reply(out: &mut impl Write, reply: &Reply) -> io::Result<()> {
    let mut head = format!("Status: {} {}\r\n", reply.status, reply.reason());
    for (name, value) in &reply.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    out.write_all(reply.body.as_bytes())?;
    out.flush()
}

/// Bounds of the client's values in the request line: a method is a word, a path or a user
/// name that long is an attack, and 20 hostnames of 253 bytes would swamp the line. The `log`
/// module escapes what remains.
const MAX_LOGGED_METHOD: usize = 16;
const MAX_LOGGED_PATH: usize = 256;
const MAX_LOGGED_USER: usize = 64;
const MAX_LOGGED_HOSTS: usize = 512;

/// The one request line of `log_requests`, shared by CGI and FastCGI, without its duration
/// (a request that waits for the read-back logs it when it answers). The path is
/// `request::log_path`: a token in it is shown as `***`.
pub(crate) fn request_line(config: &Config, env: &Env, handled: &Handled) -> String {
    let get = |k: &str| env.get(k).map(String::as_str).unwrap_or("");
    let hosts = if handled.hosts.is_empty() { "-".to_owned() } else { handled.hosts.join(",") };
    format!(
        "{} {} client={} user={} hosts={} answer={}",
        log::bounded(get("REQUEST_METHOD"), MAX_LOGGED_METHOD),
        log::bounded(&request::log_path(env, config), MAX_LOGGED_PATH),
        handled.client.map_or_else(|| "-".to_owned(), |c| c.to_string()),
        log::bounded(handled.user.as_deref().unwrap_or("-"), MAX_LOGGED_USER),
        log::bounded(&hosts, MAX_LOGGED_HOSTS),
        handled.answer.summary(),
    )
}

/// Logs a request line with the request's duration so far.
pub(crate) fn log_request(log: &Log, line: &str, started: std::time::Instant) {
    log.info(format_args!("{line} duration={}ms", started.elapsed().as_millis()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_request_variables_are_taken() {
        let vars =
            [("QUERY_STRING", "a=1"), ("PATH", "/bin"), ("DDNS_CGI_CONFIG", "/x"), ("HTTP_X_FORWARDED_FOR", "1.2.3.4")]
                .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let env = request_env(vars.clone(), None);
        assert_eq!(env.keys().collect::<Vec<_>>(), ["QUERY_STRING"]);
        let env = request_env(vars, Some("HTTP_X_FORWARDED_FOR"));
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn body_is_bounded_by_content_length() {
        let env: Env = [("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "3")].map(|(k, v)| (k.into(), v.into())).into();
        assert_eq!(read_body(&env, &b"abcdef"[..]).expect("read"), b"abc");
        let env: Env =
            [("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "999999")].map(|(k, v)| (k.into(), v.into())).into();
        assert_eq!(read_body(&env, io::repeat(b'a')).expect("read").len(), request::MAX_BODY_BYTES + 1);
    }

    #[test]
    fn reply_is_written_with_status_and_length() {
        let reply = Reply { status: 200, headers: vec![("Content-Length", "5".into())], body: "good\n".into() };
        let mut out = Vec::new();
        write_reply(&mut out, &reply).expect("write");
        assert_eq!(out, b"Status: 200 OK\r\nContent-Length: 5\r\n\r\ngood\n");
    }
}
