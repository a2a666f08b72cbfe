//! A minimal FastCGI client that speaks raw records (FastCGI 1.0) to `ddns-cgi fastcgi`, for
//! the robustness tests, and the CGI run of the same parameters to compare answers.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::super::{World, bin};

/// A minimal FastCGI client over a unix socket (FastCGI 1.0 records, §3.3), for the
/// robustness tests: it can stop anywhere in a request.
pub struct FcgiClient {
    pub stream: Box<dyn Conn>,
}

/// A unix or TCP connection.
pub trait Conn: std::io::Read + std::io::Write + Send {
    fn shutdown_write(&self);
    fn set_read_timeout(&self, timeout: Duration);
}

impl Conn for UnixStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }

    fn set_read_timeout(&self, timeout: Duration) {
        UnixStream::set_read_timeout(self, Some(timeout)).expect("timeout");
    }
}

impl Conn for TcpStream {
    fn shutdown_write(&self) {
        let _ = self.shutdown(std::net::Shutdown::Write);
    }

    fn set_read_timeout(&self, timeout: Duration) {
        TcpStream::set_read_timeout(self, Some(timeout)).expect("timeout");
    }
}

/// FastCGI record types used here (§8).
pub const BEGIN_REQUEST: u8 = 1;
pub const ABORT_REQUEST: u8 = 2;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const GET_VALUES: u8 = 9;
pub const GET_VALUES_RESULT: u8 = 10;

/// A name-value pair header (§3.4): each length in 1 byte below 128, else in 4 bytes with the
/// high bit set. The lengths may claim more than follows.
pub fn pair_header(name_len: u32, value_len: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for len in [name_len, value_len] {
        match u8::try_from(len) {
            Ok(b) if b < 128 => out.push(b),
            _ => out.extend_from_slice(&(len | 0x8000_0000).to_be_bytes()),
        }
    }
    out
}

impl FcgiClient {
    pub fn connect(path: &Path) -> FcgiClient {
        let stream = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        FcgiClient { stream: Box::new(stream) }
    }

    /// As `connect`, to a socket whose file may exist before it listens (a socket bound, not
    /// yet listening, refuses): refused connections are tried again for up to 10 s.
    pub fn connect_when_listening(path: &Path) -> FcgiClient {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match UnixStream::connect(path) {
                Ok(stream) => {
                    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
                    return FcgiClient { stream: Box::new(stream) };
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused && std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("connect {}: {e}", path.display()),
            }
        }
    }

    pub fn connect_tcp(port: u16) -> FcgiClient {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("connect port {port}: {e}"));
        stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
        FcgiClient { stream: Box::new(stream) }
    }

    /// Waits until the server closes the connection (end of stream or reset); how long that
    /// took, or `None` if it was still open after `limit`. Anything the server sends first is
    /// read and dropped.
    pub fn wait_closed(&mut self, limit: Duration) -> Option<Duration> {
        let started = Instant::now();
        let mut buf = [0u8; 4096];
        while started.elapsed() < limit {
            match self.stream.read(&mut buf) {
                Ok(0) => return Some(started.elapsed()),
                Ok(_) => {}
                // A read interrupted by a signal (the suite's child processes come and go) is
                // not the peer closing.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => {
                    eprintln!("wait_closed: read failed after {:?}: {e}", started.elapsed());
                    return Some(started.elapsed());
                }
            }
        }
        None
    }

    /// Sets the read timeout (30 s after `connect`).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(timeout);
    }

    /// Raw bytes, for malformed input; false when the peer closed.
    pub fn write_raw(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    /// One record with `content`; returns false when the peer closed.
    pub fn record(&mut self, kind: u8, id: u16, content: &[u8]) -> bool {
        let len = u16::try_from(content.len()).expect("record content fits in u16");
        let [id_hi, id_lo] = id.to_be_bytes();
        let [len_hi, len_lo] = len.to_be_bytes();
        let mut rec = vec![1, kind, id_hi, id_lo, len_hi, len_lo, 0, 0];
        rec.extend_from_slice(content);
        self.stream.write_all(&rec).is_ok()
    }

    pub fn begin(&mut self, id: u16, keep_conn: bool) -> bool {
        self.record(BEGIN_REQUEST, id, &[0, 1, u8::from(keep_conn), 0, 0, 0, 0, 0])
    }

    pub fn params(&mut self, id: u16, params: &[(&str, &str)]) -> bool {
        let mut content = Vec::new();
        for (k, v) in params {
            let len = |s: &str| u32::try_from(s.len()).expect("param fits in u32");
            content.extend_from_slice(&pair_header(len(k), len(v)));
            content.extend_from_slice(k.as_bytes());
            content.extend_from_slice(v.as_bytes());
        }
        self.record(PARAMS, id, &content) && self.record(PARAMS, id, &[])
    }

    /// A whole request; the stdin stream is closed with an empty record.
    pub fn request(&mut self, id: u16, keep_conn: bool, params: &[(&str, &str)], body: &[u8]) -> bool {
        self.begin(id, keep_conn)
            && self.params(id, params)
            && (body.is_empty() || self.record(STDIN, id, body))
            && self.record(STDIN, id, &[])
    }

    /// Reads one record: its type, request id and content (padding dropped); `None` when the
    /// connection ended first.
    pub fn read_record(&mut self) -> Option<(u8, u16, Vec<u8>)> {
        let mut head = [0u8; 8];
        self.stream.read_exact(&mut head).ok()?;
        let len = usize::from(u16::from_be_bytes([head[4], head[5]]));
        let mut content = vec![0u8; len + usize::from(head[6])];
        self.stream.read_exact(&mut content).ok()?;
        content.truncate(len);
        Some((head[1], u16::from_be_bytes([head[2], head[3]]), content))
    }

    /// Reads records until END_REQUEST of `id`; returns the STDOUT bytes, `None` when the
    /// connection ended first.
    pub fn response(&mut self, id: u16) -> Option<Vec<u8>> {
        let mut stdout = Vec::new();
        loop {
            let mut head = [0u8; 8];
            self.stream.read_exact(&mut head).ok()?;
            let len = usize::from(u16::from_be_bytes([head[4], head[5]]));
            let mut content = vec![0u8; len + usize::from(head[6])];
            self.stream.read_exact(&mut content).ok()?;
            let rid = u16::from_be_bytes([head[2], head[3]]);
            match head[1] {
                STDOUT if rid == id => stdout.extend_from_slice(&content[..len]),
                END_REQUEST if rid == id => return Some(stdout),
                _ => {}
            }
        }
    }
}

/// The name-value pairs of a record's content (§3.4), as text; `None` when a pair is cut off.
pub fn decode_pairs(mut content: &[u8]) -> Option<Vec<(String, String)>> {
    fn length(bytes: &mut &[u8]) -> Option<usize> {
        let first = *bytes.first()?;
        let (len, used) = if first < 0x80 {
            (usize::from(first), 1)
        } else {
            let four: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
            (usize::try_from(u32::from_be_bytes(four) & 0x7fff_ffff).ok()?, 4)
        };
        *bytes = bytes.get(used..)?;
        Some(len)
    }
    let mut out = Vec::new();
    while !content.is_empty() {
        let (name_len, value_len) = (length(&mut content)?, length(&mut content)?);
        let name = content.get(..name_len)?;
        let value = content.get(name_len..name_len + value_len)?;
        out.push((String::from_utf8_lossy(name).into_owned(), String::from_utf8_lossy(value).into_owned()));
        content = content.get(name_len + value_len..)?;
    }
    Some(out)
}

/// FastCGI params as nginx's `fastcgi_params` sends them for an update.
pub fn fcgi_update_params<'a>(query: &'a str, authorization: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", "/nic/update"),
        ("QUERY_STRING", query),
        ("REMOTE_ADDR", "198.51.100.7"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("HTTP_AUTHORIZATION", authorization),
        ("HTTP_HOST", "ddns.example.test"),
    ]
}

/// Runs the binary as CGI with exactly `params` as its environment (plus the config) and
/// `body` on stdin; the raw stdout, to compare with a FastCGI answer byte for byte.
pub fn cgi_raw(world: &World, params: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut cmd = Command::new(bin());
    cmd.env_clear().env("DDNS_CGI_CONFIG", &world.config);
    for (k, v) in params {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run ddns-cgi");
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(body);
    }
    let out = child.wait_with_output().expect("wait for ddns-cgi");
    assert!(out.status.success(), "CGI failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}
