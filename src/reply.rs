//! The dyndns2 answer: one exhaustive mapping from every outcome to (HTTP status, token), and
//! the text or JSON body built from it. Transports write a [`Reply`] as it is; they add
//! nothing. Every answer has a `Content-Length` (ddclient cannot read a chunked body) and
//! `Cache-Control: no-store`. No error token contains `good`, `ok`, `true` or `updated`:
//! inadyn decides success by a case-insensitive substring match.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::request::{Addresses, Format};

/// An HTTP answer ready to be written by a transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn reason(&self) -> &'static str {
        match self.status {
            200 => "OK",
            201 => "Created",
            303 => "See Other",
            400 => "Bad Request",
            401 => "Unauthorized",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            429 => "Too Many Requests",
            _ => "Internal Server Error",
        }
    }
}

/// The answer for one hostname of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostAnswer {
    /// The DNS server accepted the new addresses.
    Good(Addresses),
    /// The addresses were already current; nothing sent to DNS.
    Nochg(Addresses),
    /// Unknown hostname, or one owned by another user (indistinguishable on purpose).
    Nohost,
    /// Not a valid fully qualified domain name.
    Notfqdn,
    /// The DNS server did not accept the update; nothing was stored. Also: a relay to an
    /// upstream provider failed, after the local update was accepted and stored (`relay`).
    Dnserr,
    /// Our own failure (database); nothing was stored.
    ServerError,
    /// The host token that authorised the change does not cover what it would touch, or was
    /// revoked or replaced before it ran (the reason says which): nothing was sent or stored.
    /// Never shown per host: the handler answers the request `badauth`.
    TokenRefused(String),
}

/// One line of a multi-host answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostLine {
    pub(crate) hostname: String,
    pub(crate) answer: HostAnswer,
}

/// An answer about the request as a whole, given once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AccountAnswer {
    /// Missing or wrong credentials: 401 with a Basic challenge.
    Badauth,
    /// Rate limit reached.
    Abuse,
    /// Configuration or database failure.
    ServerError,
    /// More than 20 hostnames.
    Numhost,
    /// No hostname given at all.
    Notfqdn,
    /// An address parameter that is malformed, of the wrong family or not unicast.
    Badip,
    /// A `ttl` that is malformed or outside the configured bounds.
    Badttl,
    /// A malformed request: bad encoding, unsupported content type, body too large.
    Badagent,
    /// A method other than GET and POST.
    MethodNotAllowed,
    /// No endpoint at this path.
    NotFound,
}

/// What the request resulted in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    Hosts(Vec<HostLine>),
    Account(AccountAnswer),
}

impl Answer {
    /// The tokens, space-joined, for the request log line.
    pub(crate) fn summary(&self) -> String {
        match self {
            Answer::Hosts(lines) => lines.iter().map(|l| host_token(&l.answer)).collect::<Vec<_>>().join(","),
            Answer::Account(a) => account_status(*a).1.to_owned(),
        }
    }
}

/// Every account-level answer's HTTP status and token.
fn account_status(a: AccountAnswer) -> (u16, &'static str) {
    match a {
        AccountAnswer::Badauth => (401, "badauth"),
        AccountAnswer::Abuse => (200, "abuse"),
        AccountAnswer::ServerError => (200, "911"),
        AccountAnswer::Numhost => (200, "numhost"),
        AccountAnswer::Notfqdn => (200, "notfqdn"),
        AccountAnswer::Badip => (200, "badip"),
        AccountAnswer::Badttl => (200, "badttl"),
        AccountAnswer::Badagent => (200, "badagent"),
        AccountAnswer::MethodNotAllowed => (405, "badagent"),
        AccountAnswer::NotFound => (404, "badagent"),
    }
}

/// Every account-level answer, for the manual's answer table and the tests. A new variant
/// must be added here too: `account_meaning` (exhaustive) makes it impossible to forget its
/// text, and the manual test checks that every token listed here is documented.
pub(crate) const ACCOUNT_ANSWERS: [AccountAnswer; 10] = [
    AccountAnswer::Badauth,
    AccountAnswer::Abuse,
    AccountAnswer::ServerError,
    AccountAnswer::Numhost,
    AccountAnswer::Notfqdn,
    AccountAnswer::Badip,
    AccountAnswer::Badttl,
    AccountAnswer::Badagent,
    AccountAnswer::MethodNotAllowed,
    AccountAnswer::NotFound,
];

/// What an account-level answer tells the client, for the manual.
fn account_meaning(a: AccountAnswer) -> &'static str {
    match a {
        AccountAnswer::Badauth => {
            "Missing or wrong credentials (unknown users and wrong passwords look the same), with a Basic challenge."
        }
        AccountAnswer::Abuse => {
            "Too many requests from this client or for this user within the rate-limit window; nothing was checked or changed. Wait for the window to pass."
        }
        AccountAnswer::ServerError => {
            "The server could not handle the request (configuration, database, or a rate-limit count it could not take); nothing was changed. Try again later."
        }
        AccountAnswer::Numhost => "More than 20 hostnames in one request; nothing was changed.",
        AccountAnswer::Notfqdn => "No hostname given.",
        AccountAnswer::Badip => {
            "An address parameter that is malformed, of the wrong family for its name, or not a unicast address."
        }
        AccountAnswer::Badttl => "A ttl parameter that is malformed or outside the configured bounds.",
        AccountAnswer::Badagent => {
            "A malformed request: bad percent-encoding, an unsupported content type, a body over 8 KiB."
        }
        AccountAnswer::MethodNotAllowed => "A method other than GET and POST.",
        AccountAnswer::NotFound => "No endpoint at this path.",
    }
}

/// Every per-host answer (with example addresses where the answer carries them).
pub(crate) fn host_answers() -> [HostAnswer; 6] {
    let addrs = Addresses { ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)), ipv6: None };
    [
        HostAnswer::Good(addrs),
        HostAnswer::Nochg(addrs),
        HostAnswer::Nohost,
        HostAnswer::Notfqdn,
        HostAnswer::Dnserr,
        HostAnswer::ServerError,
    ]
}

/// What a per-host answer tells the client, for the manual.
fn host_meaning(a: &HostAnswer) -> &'static str {
    match a {
        HostAnswer::Good(_) => "The DNS server accepted the new addresses, which follow the token.",
        HostAnswer::Nochg(_) => {
            "The addresses, which follow the token, were already published; nothing was sent to the DNS server."
        }
        HostAnswer::Nohost => "The hostname does not exist or belongs to another user (the two look the same).",
        HostAnswer::Notfqdn => "The hostname is not a valid fully qualified domain name.",
        HostAnswer::Dnserr => "The DNS server refused the update or did not answer; nothing was stored.",
        HostAnswer::ServerError => "The database failed for this hostname; nothing was stored.",
        HostAnswer::TokenRefused(_) => "The host token does not cover this change; the request answers `badauth`.",
    }
}

/// One row of the manual's answer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AnswerDoc {
    pub(crate) token: &'static str,
    pub(crate) status: u16,
    /// Whether the answer is given per hostname (one line each) or once per request.
    pub(crate) per_host: bool,
    pub(crate) meaning: &'static str,
}

/// Every answer the service can give, per-host answers first.
pub(crate) fn answer_docs() -> Vec<AnswerDoc> {
    let hosts = host_answers().into_iter().map(|a| AnswerDoc {
        token: host_token(&a),
        status: 200,
        per_host: true,
        meaning: host_meaning(&a),
    });
    let accounts = ACCOUNT_ANSWERS.into_iter().map(|a| {
        let (status, token) = account_status(a);
        AnswerDoc { token, status, per_host: false, meaning: account_meaning(a) }
    });
    hosts.chain(accounts).collect()
}

/// The dyndns2 token of a host's answer (`good`, `nochg`, ..., `911`).
pub(crate) fn host_token(a: &HostAnswer) -> &'static str {
    match a {
        HostAnswer::Good(_) => "good",
        HostAnswer::Nochg(_) => "nochg",
        HostAnswer::Nohost => "nohost",
        HostAnswer::Notfqdn => "notfqdn",
        HostAnswer::Dnserr => "dnserr",
        HostAnswer::ServerError => "911",
        HostAnswer::TokenRefused(_) => "badauth",
    }
}

fn host_addresses(a: &HostAnswer) -> Option<&Addresses> {
    match a {
        HostAnswer::Good(addrs) | HostAnswer::Nochg(addrs) => Some(addrs),
        HostAnswer::Nohost
        | HostAnswer::Notfqdn
        | HostAnswer::Dnserr
        | HostAnswer::ServerError
        | HostAnswer::TokenRefused(_) => None,
    }
}

/// Builds the HTTP answer.
pub(crate) fn render(answer: &Answer, format: Format) -> Reply {
    let (status, body) = match (answer, format) {
        (Answer::Account(a), Format::Text) => {
            let (status, token) = account_status(*a);
            (status, format!("{token}\n"))
        }
        (Answer::Account(a), Format::Json) => {
            let (status, token) = account_status(*a);
            (status, json(&AccountJson { status: token }))
        }
        (Answer::Hosts(lines), Format::Text) => {
            let mut body = String::new();
            for line in lines {
                body.push_str(host_token(&line.answer));
                if let Some(a) = host_addresses(&line.answer) {
                    if let Some(v4) = a.ipv4 {
                        let _ = write!(body, " {v4}");
                    }
                    if let Some(v6) = a.ipv6 {
                        let _ = write!(body, " {v6}");
                    }
                }
                body.push('\n');
            }
            (200, body)
        }
        (Answer::Hosts(lines), Format::Json) => {
            let objects: Vec<HostJson<'_>> = lines.iter().map(HostJson::from).collect();
            let body = match objects.as_slice() {
                [one] => json(one),
                many => json(&many),
            };
            (200, body)
        }
    };
    let content_type = match format {
        Format::Text => "text/plain; charset=utf-8",
        Format::Json => "application/json",
    };
    let mut headers = vec![
        ("Content-Type", content_type.to_owned()),
        ("Content-Length", body.len().to_string()),
        ("Cache-Control", "no-store".to_owned()),
    ];
    match answer {
        // RFC 7617: GNU wget and OpenWrt's uclient-fetch send credentials only after this.
        Answer::Account(AccountAnswer::Badauth) => {
            headers.push(("WWW-Authenticate", "Basic realm=\"ddns-cgi\", charset=\"UTF-8\"".to_owned()));
        }
        Answer::Account(AccountAnswer::MethodNotAllowed) => headers.push(("Allow", "GET, POST".to_owned())),
        Answer::Account(_) | Answer::Hosts(_) => {}
    }
    Reply { status, headers, body }
}

/// The JSON answer about the request as a whole: `{"status":"badauth"}`.
#[derive(Serialize)]
struct AccountJson {
    status: &'static str,
}

/// One hostname's JSON answer; a request for several gets an array of these. Addresses are
/// `null` unless the answer is `good` or `nochg`.
#[derive(Serialize)]
struct HostJson<'a> {
    status: &'static str,
    /// Echoed from the request: serde_json escapes it (RFC 8259 §7).
    hostname: &'a str,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
}

impl<'a> From<&'a HostLine> for HostJson<'a> {
    fn from(line: &'a HostLine) -> Self {
        let addrs = host_addresses(&line.answer);
        HostJson {
            status: host_token(&line.answer),
            hostname: &line.hostname,
            ipv4: addrs.and_then(|a| a.ipv4),
            ipv6: addrs.and_then(|a| a.ipv6),
        }
    }
}

/// `value` as one line of JSON. Serialising these structs (string keys, strings, addresses,
/// options) cannot fail; if it ever did, the client gets a `911` rather than a broken body.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    match serde_json::to_string(value) {
        Ok(mut s) => {
            s.push('\n');
            s
        }
        Err(_) => "{\"status\":\"911\"}\n".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(v4: Option<&str>, v6: Option<&str>) -> Addresses {
        Addresses { ipv4: v4.map(|s| s.parse().expect("v4")), ipv6: v6.map(|s| s.parse().expect("v6")) }
    }

    #[test]
    fn text_lines_in_order() {
        let answer = Answer::Hosts(vec![
            HostLine {
                hostname: "a.x".into(),
                answer: HostAnswer::Good(addrs(Some("192.0.2.1"), Some("2001:db8::1"))),
            },
            HostLine { hostname: "b.x".into(), answer: HostAnswer::Nochg(addrs(None, Some("2001:db8::1"))) },
            HostLine { hostname: "c.x".into(), answer: HostAnswer::Nohost },
        ]);
        let r = render(&answer, Format::Text);
        assert_eq!(r.status, 200);
        assert_eq!(r.body, "good 192.0.2.1 2001:db8::1\nnochg 2001:db8::1\nnohost\n");
        assert!(r.headers.contains(&("Content-Length", r.body.len().to_string())));
    }

    #[test]
    fn json_single_and_account() {
        let one = Answer::Hosts(vec![HostLine {
            hostname: "a\"x".into(),
            answer: HostAnswer::Good(addrs(Some("192.0.2.1"), None)),
        }]);
        assert_eq!(
            render(&one, Format::Json).body,
            "{\"status\":\"good\",\"hostname\":\"a\\\"x\",\"ipv4\":\"192.0.2.1\",\"ipv6\":null}\n"
        );
        let r = render(&Answer::Account(AccountAnswer::Badauth), Format::Json);
        assert_eq!((r.status, r.body.as_str()), (401, "{\"status\":\"badauth\"}\n"));
    }

    #[test]
    fn json_many_hosts_parse_back_whatever_the_hostname() {
        let name = "q\"b\\s\u{1}\n\u{7f}\u{e9}";
        let many = Answer::Hosts(vec![
            HostLine { hostname: name.into(), answer: HostAnswer::Notfqdn },
            HostLine { hostname: "b.x".into(), answer: HostAnswer::Nochg(addrs(None, Some("2001:db8::1"))) },
        ]);
        let body = render(&many, Format::Json).body;
        assert_eq!(body.lines().count(), 1, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(v[0]["hostname"], name);
        assert_eq!(v[0]["ipv4"], serde_json::Value::Null);
        assert_eq!(
            body,
            "[{\"status\":\"notfqdn\",\"hostname\":\"q\\\"b\\\\s\\u0001\\n\u{7f}\u{e9}\",\"ipv4\":null,\"ipv6\":null},\
             {\"status\":\"nochg\",\"hostname\":\"b.x\",\"ipv4\":null,\"ipv6\":\"2001:db8::1\"}]\n"
        );
    }

    #[test]
    fn no_error_token_looks_like_success_to_inadyn() {
        let hosts = [HostAnswer::Nohost, HostAnswer::Notfqdn, HostAnswer::Dnserr, HostAnswer::ServerError];
        let tokens = ACCOUNT_ANSWERS.iter().map(|a| account_status(*a).1).chain(hosts.iter().map(host_token));
        for t in tokens {
            for word in ["good", "ok", "true", "updated"] {
                assert!(!t.contains(word), "{t} contains {word}");
            }
        }
    }
}
