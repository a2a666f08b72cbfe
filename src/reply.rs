//! The dyndns2 answer: one exhaustive mapping from every outcome to (HTTP status, token), and
//! the text or JSON body built from it. Transports write a [`Reply`] as it is; they add
//! nothing. Every answer has a `Content-Length` (ddclient cannot read a chunked body) and
//! `Cache-Control: no-store`. No error token contains `good`, `ok`, `true` or `updated`:
//! inadyn decides success by a case-insensitive substring match.

use std::fmt::Write as _;

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
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            405 => "Method Not Allowed",
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

fn host_token(a: &HostAnswer) -> &'static str {
    match a {
        HostAnswer::Good(_) => "good",
        HostAnswer::Nochg(_) => "nochg",
        HostAnswer::Nohost => "nohost",
        HostAnswer::Notfqdn => "notfqdn",
        HostAnswer::Dnserr => "dnserr",
        HostAnswer::ServerError => "911",
    }
}

fn host_addresses(a: &HostAnswer) -> Option<&Addresses> {
    match a {
        HostAnswer::Good(addrs) | HostAnswer::Nochg(addrs) => Some(addrs),
        HostAnswer::Nohost | HostAnswer::Notfqdn | HostAnswer::Dnserr | HostAnswer::ServerError => None,
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
            (status, format!("{{\"status\":\"{token}\"}}\n"))
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
            let objects: Vec<String> = lines.iter().map(json_line).collect();
            let body = match objects.as_slice() {
                [one] => format!("{one}\n"),
                many => format!("[{}]\n", many.join(",")),
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

fn json_line(line: &HostLine) -> String {
    let addrs = host_addresses(&line.answer);
    let field = |v: Option<String>| v.map_or_else(|| "null".to_owned(), |s| format!("\"{s}\""));
    format!(
        "{{\"status\":\"{}\",\"hostname\":{},\"ipv4\":{},\"ipv6\":{}}}",
        host_token(&line.answer),
        json_string(&line.hostname),
        field(addrs.and_then(|a| a.ipv4).map(|a| a.to_string())),
        field(addrs.and_then(|a| a.ipv6).map(|a| a.to_string())),
    )
}

/// A JSON string literal (RFC 8259 §7). Hostnames are echoed from the request.
pub(crate) fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
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
    fn no_error_token_looks_like_success_to_inadyn() {
        let all = [
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
        let hosts = [HostAnswer::Nohost, HostAnswer::Notfqdn, HostAnswer::Dnserr, HostAnswer::ServerError];
        let tokens = all.iter().map(|a| account_status(*a).1).chain(hosts.iter().map(host_token));
        for t in tokens {
            for word in ["good", "ok", "true", "updated"] {
                assert!(!t.contains(word), "{t} contains {word}");
            }
        }
    }
}
