//! An HTTP response as a real client (`curl -i`) printed it, parsed into status, headers and
//! body.

/// An HTTP response as a client saw it.
#[derive(Debug)]
pub struct Http {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Everything the client printed, for failure messages.
    pub raw: String,
}

impl Http {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Asserts status and exact body, and that the body came with a Content-Length.
    #[track_caller]
    pub fn expect(&self, status: u16, body: &str) -> &Http {
        assert_eq!((self.status, self.body.as_str()), (status, body), "response:\n{}", self.raw);
        assert_eq!(self.header("Content-Length"), Some(body.len().to_string().as_str()), "{}", self.raw);
        assert_eq!(self.header("Transfer-Encoding"), None, "{}", self.raw);
        self
    }
}

/// Runs `curl -i` with `args` and parses the last response it printed.
pub fn curl(args: &[&str]) -> Http {
    let out = super::super::netns::command("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl: {e}"));
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "curl {args:?} failed: {}{raw}", String::from_utf8_lossy(&out.stderr));
    parse_http(&raw)
}

/// Parses `HTTP/1.x status ...` head(s) and the body after the last one.
pub fn parse_http(raw: &str) -> Http {
    let mut rest = raw;
    let mut parsed = None;
    while rest.starts_with("HTTP/") {
        let Some((head, body)) = rest.split_once("\r\n\r\n") else { break };
        let mut lines = head.split("\r\n");
        let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
        let headers =
            lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
        parsed = Some((status, headers));
        rest = body;
    }
    let (status, headers) = parsed.unwrap_or_else(|| panic!("no HTTP response in:\n{raw}"));
    Http { status, headers, body: rest.to_owned(), raw: raw.to_owned() }
}
