//! The FastCGI 1.0 record layer of a Responder (section numbers are the specification's):
//! records (§3.3: an 8-byte header with version, type, request id, content and padding
//! lengths), name-value pairs (§3.4), the management records `FCGI_GET_VALUES` and unknown
//! types (§4), and one request at a time per connection (§5). [`Decoder`] takes whole records
//! from the bytes read so far and yields a complete request (its params and stdin), or the
//! bytes of an answer the protocol itself requires; [`answer`] encodes a response. Nothing is
//! allocated on a length the peer claims: a record's content is at most 65,535 bytes, a
//! request's records at most `max_request` bytes together, and a name-value pair's claimed
//! length is checked against `max_pair` as soon as its length bytes have arrived, even when
//! they are split across records.
//!
//! Why not a crate: tokio-fastcgi 1.3, used until issue 13, read each record header and
//! content with a read of its own, allocated what a pair's length claimed, `unwrap`ped a short
//! `FCGI_BEGIN_REQUEST` into a panic (both needed a checking reader in front of it), and spent
//! more CPU per request (measured: 21.7 µs for an answer without work, against 8 to 9 µs for
//! records handled here) than ddns-cgi spends on a whole `nochg`.

/// `FCGI_VERSION_1`, the only version (§3.3).
const VERSION: u8 = 1;
/// Record types (§8).
pub(super) const BEGIN_REQUEST: u8 = 1;
pub(super) const ABORT_REQUEST: u8 = 2;
pub(super) const END_REQUEST: u8 = 3;
pub(super) const PARAMS: u8 = 4;
pub(super) const STDIN: u8 = 5;
pub(super) const STDOUT: u8 = 6;
pub(super) const GET_VALUES: u8 = 9;
pub(super) const GET_VALUES_RESULT: u8 = 10;
pub(super) const UNKNOWN_TYPE: u8 = 11;
/// `FCGI_RESPONDER` (§6.2), the one role served.
const RESPONDER: u16 = 1;
/// `FCGI_KEEP_CONN` in `FCGI_BEGIN_REQUEST`'s flags (§5.1).
const KEEP_CONN: u8 = 1;
/// `protocolStatus` of `FCGI_END_REQUEST` (§5.5).
const REQUEST_COMPLETE: u8 = 0;
const CANT_MPX_CONN: u8 = 1;
const UNKNOWN_ROLE: u8 = 3;
const HEADER_BYTES: usize = 8;
const MAX_CONTENT_BYTES: usize = u16::MAX as usize;

/// A request whose params and stdin streams have both ended.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Request {
    pub(super) id: u16,
    /// Whether the web server keeps the connection for further requests (§5.1).
    pub(super) keep_conn: bool,
    /// The params stream: name-value pairs, each checked to be whole.
    params: Vec<u8>,
    pub(super) stdin: Vec<u8>,
}

impl Request {
    /// The name-value pairs of the params stream (§3.4), in the order sent.
    pub(super) fn params(&self) -> Pairs<'_> {
        Pairs { rest: &self.params }
    }
}

/// What [`Decoder::step`] found in the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// No whole record left: read more.
    More,
    /// A complete request.
    Request(Request),
    /// Records to send now: an answer to a management record, or the end of a request that
    /// was refused (another request while one is open, a role other than Responder) or
    /// aborted by the web server.
    Send(Vec<u8>),
}

/// Follows the records of one connection.
#[derive(Debug)]
pub(super) struct Decoder {
    open: Option<Open>,
    /// Bytes of records since the last request was complete (or refused, or aborted).
    used: usize,
    max_request: usize,
    max_pair: usize,
    /// The value of `FCGI_MAX_CONNS` and `FCGI_MAX_REQS` (§4.1): the connections served at
    /// once, each with one request at a time (`FCGI_MPXS_CONNS` is 0).
    max_conns: usize,
}

/// The request being received.
#[derive(Debug)]
struct Open {
    id: u16,
    keep_conn: bool,
    params: Vec<u8>,
    /// Where the first pair not yet complete starts in `params`.
    checked: usize,
    params_done: bool,
    stdin: Vec<u8>,
    stdin_done: bool,
}

impl Decoder {
    pub(super) fn new(max_request: usize, max_pair: usize, max_conns: usize) -> Decoder {
        Decoder { open: None, used: 0, max_request, max_pair, max_conns }
    }

    /// Takes whole records from the front of `input` until a request is complete or an answer
    /// must be sent. Returns how many bytes it took and what it found. An error is a peer
    /// that breaks the protocol or a bound; the connection is to be closed.
    pub(super) fn step(&mut self, input: &[u8]) -> Result<(usize, Step), String> {
        let mut taken = 0;
        loop {
            let Some(header) = input.get(taken..taken + HEADER_BYTES) else { return Ok((taken, Step::More)) };
            let [version, kind, id_hi, id_lo, len_hi, len_lo, padding, _reserved] =
                <[u8; HEADER_BYTES]>::try_from(header).map_err(|_| "short header".to_owned())?;
            if version != VERSION {
                return Err(format!("not a FastCGI record (version byte {version})"));
            }
            let content_len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
            let record_len = HEADER_BYTES + content_len + usize::from(padding);
            // Counted before the content is waited for: the budget bounds what is buffered.
            if self.used.saturating_add(record_len) > self.max_request {
                return Err(format!("request larger than {} bytes", self.max_request));
            }
            let Some(record) = input.get(taken..taken + record_len) else { return Ok((taken, Step::More)) };
            let content = record.get(HEADER_BYTES..HEADER_BYTES + content_len).unwrap_or_default();
            taken += record_len;
            self.used += record_len;
            let id = u16::from_be_bytes([id_hi, id_lo]);
            if let Some(step) = self.record(kind, id, content)? {
                return Ok((taken, step));
            }
        }
    }

    fn record(&mut self, kind: u8, id: u16, content: &[u8]) -> Result<Option<Step>, String> {
        if id == 0 {
            return self.management(kind, content).map(Some);
        }
        if kind == BEGIN_REQUEST {
            return self.begin(id, content);
        }
        let Some(open) = self.open.as_mut().filter(|o| o.id == id) else {
            // §3.3: records of a request that is not open are ignored.
            return Ok(None);
        };
        match kind {
            PARAMS if open.params_done => return Err("FCGI_PARAMS after the end of its stream".to_owned()),
            PARAMS if content.is_empty() => {
                if open.checked != open.params.len() {
                    return Err("a FastCGI name-value pair runs past the end of FCGI_PARAMS".to_owned());
                }
                open.params_done = true;
            }
            PARAMS => {
                open.params.extend_from_slice(content);
                open.checked = check_pairs(&open.params, open.checked, self.max_pair)?;
            }
            STDIN if open.stdin_done => return Err("FCGI_STDIN after the end of its stream".to_owned()),
            STDIN if content.is_empty() => open.stdin_done = true,
            STDIN => open.stdin.extend_from_slice(content),
            ABORT_REQUEST => {
                // §5.4: the request ends now, with no output.
                self.open = None;
                self.used = 0;
                return Ok(Some(Step::Send(end_request(id, REQUEST_COMPLETE))));
            }
            // FCGI_DATA belongs to the Filter role; anything else has no meaning here.
            _ => {}
        }
        if open.params_done && open.stdin_done {
            let Some(open) = self.open.take() else { return Ok(None) };
            self.used = 0;
            return Ok(Some(Step::Request(Request {
                id: open.id,
                keep_conn: open.keep_conn,
                params: open.params,
                stdin: open.stdin,
            })));
        }
        Ok(None)
    }

    fn begin(&mut self, id: u16, content: &[u8]) -> Result<Option<Step>, String> {
        // §5.1: role (2 bytes), flags, 5 reserved bytes.
        let &[role_hi, role_lo, flags, _, _, _, _, _, ..] = content else {
            return Err("FCGI_BEGIN_REQUEST record shorter than 8 bytes".to_owned());
        };
        if let Some(open) = &self.open {
            if open.id == id {
                return Err(format!("a second FCGI_BEGIN_REQUEST for request {id}"));
            }
            // §5.5: one request at a time on a connection (FCGI_MPXS_CONNS is 0).
            return Ok(Some(Step::Send(end_request(id, CANT_MPX_CONN))));
        }
        // The budget counts this record too (it was counted before this call).
        if u16::from_be_bytes([role_hi, role_lo]) != RESPONDER {
            self.used = 0;
            return Ok(Some(Step::Send(end_request(id, UNKNOWN_ROLE))));
        }
        self.open = Some(Open {
            id,
            keep_conn: flags & KEEP_CONN != 0,
            params: Vec::new(),
            checked: 0,
            params_done: false,
            stdin: Vec::new(),
            stdin_done: false,
        });
        Ok(None)
    }

    /// §4: `FCGI_GET_VALUES` gets the values this server knows; another management type gets
    /// `FCGI_UNKNOWN_TYPE`.
    fn management(&mut self, kind: u8, content: &[u8]) -> Result<Step, String> {
        // Between requests a management exchange is complete in itself; inside one, its
        // bytes count toward the request's budget like any other record.
        if self.open.is_none() {
            self.used = 0;
        }
        if kind != GET_VALUES {
            let mut out = Vec::with_capacity(2 * HEADER_BYTES);
            push_record(&mut out, UNKNOWN_TYPE, 0, &[kind, 0, 0, 0, 0, 0, 0, 0]);
            return Ok(Step::Send(out));
        }
        if check_pairs(content, 0, self.max_pair)? != content.len() {
            return Err("a FastCGI name-value pair runs past the end of FCGI_GET_VALUES".to_owned());
        }
        // §4.1: the known names get their values, in decimal, and unknown ones are left out.
        // Each known name is answered once however often it is asked, so the answer is three
        // pairs at most and always fits one record (65,535 bytes of repeated names would
        // otherwise ask for more than a record holds, and the answer was cut mid-pair).
        let max_conns = self.max_conns.to_string();
        let known: [(&[u8], &[u8]); 3] = [
            (b"FCGI_MAX_CONNS", max_conns.as_bytes()),
            (b"FCGI_MAX_REQS", max_conns.as_bytes()),
            (b"FCGI_MPXS_CONNS", b"0"),
        ];
        let mut values = Vec::new();
        for (name, value) in known {
            if (Pairs { rest: content }).any(|(asked, _)| asked == name) {
                push_pair(&mut values, name, value);
            }
        }
        let mut out = Vec::with_capacity(HEADER_BYTES + values.len());
        push_record(&mut out, GET_VALUES_RESULT, 0, &values);
        Ok(Step::Send(out))
    }
}

/// Checks the pairs of `stream` from `from` (the start of a pair): each whole pair is skipped,
/// and a pair whose lengths have arrived is refused when name and value together claim more
/// than `max_pair`. Returns where the first pair not yet whole starts.
fn check_pairs(stream: &[u8], from: usize, max_pair: usize) -> Result<usize, String> {
    let mut at = from;
    loop {
        let rest = stream.get(at..).unwrap_or_default();
        let Some((name_len, rest_after)) = length(rest) else { return Ok(at) };
        let Some((value_len, data)) = length(rest_after) else { return Ok(at) };
        let claimed = name_len.saturating_add(value_len);
        if claimed > max_pair {
            return Err(format!("a FastCGI name-value pair claims {claimed} bytes, more than {max_pair}"));
        }
        if data.len() < claimed {
            return Ok(at);
        }
        at = stream.len() - data.len() + claimed;
    }
}

/// A pair's length (§3.4): one byte below 128, or four with the high bit set (31 bits); and
/// the bytes after it. `None` while the bytes are not all there.
fn length(bytes: &[u8]) -> Option<(usize, &[u8])> {
    let first = *bytes.first()?;
    if first & 0x80 == 0 {
        return Some((usize::from(first), bytes.get(1..)?));
    }
    let four: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(four) & 0x7fff_ffff;
    Some((usize::try_from(len).unwrap_or(usize::MAX), bytes.get(4..)?))
}

/// The pairs of a stream that [`check_pairs`] found whole; a cut-off pair ends the iteration.
#[derive(Debug)]
pub(super) struct Pairs<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (name_len, rest) = length(self.rest)?;
        let (value_len, rest) = length(rest)?;
        let name = rest.get(..name_len)?;
        let value = rest.get(name_len..name_len.checked_add(value_len)?)?;
        self.rest = rest.get(name_len + value_len..)?;
        Some((name, value))
    }
}

fn push_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    for len in [name.len(), value.len()] {
        match u8::try_from(len) {
            Ok(short) if short < 0x80 => out.push(short),
            _ => out.extend_from_slice(&(u32::try_from(len).unwrap_or(0) | 0x8000_0000).to_be_bytes()),
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
}

/// Appends one record of `kind` for request `id` holding `content` (at most 65,535 bytes; the
/// callers' contents are far below), without padding.
fn push_record(out: &mut Vec<u8>, kind: u8, id: u16, content: &[u8]) {
    let len = u16::try_from(content.len()).unwrap_or(u16::MAX);
    let [id_hi, id_lo] = id.to_be_bytes();
    let [len_hi, len_lo] = len.to_be_bytes();
    out.extend_from_slice(&[VERSION, kind, id_hi, id_lo, len_hi, len_lo, 0, 0]);
    out.extend_from_slice(content.get(..usize::from(len)).unwrap_or(content));
}

/// `FCGI_END_REQUEST` (§5.5) with `appStatus` 0.
fn end_request(id: u16, protocol_status: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * HEADER_BYTES);
    push_record(&mut out, END_REQUEST, id, &[0, 0, 0, 0, protocol_status, 0, 0, 0]);
    out
}

/// The records of a Responder's answer (§6.2): `stdout` in records of at most 65,535 bytes,
/// the empty record that ends the stream, and `FCGI_END_REQUEST`, appended to `out` so that
/// they go in one write (nginx drops a kept-alive connection now and then when the end of an
/// answer and its `FCGI_END_REQUEST` arrive in different reads).
pub(super) fn answer(out: &mut Vec<u8>, id: u16, stdout: &[u8]) {
    for chunk in stdout.chunks(MAX_CONTENT_BYTES) {
        push_record(out, STDOUT, id, chunk);
    }
    push_record(out, STDOUT, id, &[]);
    out.extend_from_slice(&end_request(id, REQUEST_COMPLETE));
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1024 * 1024;

    fn record(kind: u8, id: u16, content: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_record(&mut out, kind, id, content);
        out
    }

    fn begin(id: u16, role: u16, flags: u8) -> Vec<u8> {
        let [hi, lo] = role.to_be_bytes();
        record(BEGIN_REQUEST, id, &[hi, lo, flags, 0, 0, 0, 0, 0])
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, v) in list {
            push_pair(&mut out, n.as_bytes(), v.as_bytes());
        }
        out
    }

    /// Feeds `bytes` in pieces of `chunk` bytes, as reads would bring them, and collects the
    /// steps other than `More`; the first error ends it.
    fn feed(decoder: &mut Decoder, bytes: &[u8], chunk: usize) -> Result<Vec<Step>, String> {
        let mut buffered = Vec::new();
        let mut steps = Vec::new();
        for piece in bytes.chunks(chunk) {
            buffered.extend_from_slice(piece);
            loop {
                let (taken, step) = decoder.step(&buffered)?;
                buffered.drain(..taken);
                match step {
                    Step::More => break,
                    other => steps.push(other),
                }
            }
        }
        Ok(steps)
    }

    fn request(id: u16, keep: bool, params: &[(&str, &str)], stdin: &[u8]) -> Vec<u8> {
        let p = pairs(params);
        let mut out = begin(id, RESPONDER, u8::from(keep));
        // The params split across two records, a pair cut in the middle.
        let (a, b) = p.split_at(p.len() / 2);
        out.extend([record(PARAMS, id, a), record(PARAMS, id, b), record(PARAMS, id, &[])].concat());
        if !stdin.is_empty() {
            out.extend(record(STDIN, id, stdin));
        }
        out.extend(record(STDIN, id, &[]));
        out
    }

    #[test]
    fn requests_arrive_whole_whatever_the_reads() {
        let params = [("REQUEST_METHOD", "POST"), ("QUERY_STRING", &"q".repeat(300)), ("CONTENT_LENGTH", "4")];
        let wire = [request(1, true, &params, b"body"), request(2, false, &params, b"")].concat();
        for chunk in [1, 3, 8, 1000, wire.len()] {
            let steps = feed(&mut Decoder::new(MAX, MAX, 8), &wire, chunk).expect("valid");
            let [Step::Request(first), Step::Request(second)] = &steps[..] else { panic!("{steps:?}") };
            assert_eq!((first.id, first.keep_conn, &first.stdin[..]), (1, true, &b"body"[..]));
            assert_eq!((second.id, second.keep_conn, &second.stdin[..]), (2, false, &b""[..]));
            let got: Vec<(&[u8], &[u8])> = first.params().collect();
            let want: Vec<(&[u8], &[u8])> = params.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn short_begin_requests_wrong_versions_and_repeated_streams_are_refused() {
        let short = record(BEGIN_REQUEST, 1, &[0, 1, 1]);
        assert!(feed(&mut Decoder::new(MAX, MAX, 8), &short, 2).is_err());
        assert!(feed(&mut Decoder::new(MAX, MAX, 8), b"GET / HTTP/1.1\r\n\r\n", 100).is_err());
        let twice = [begin(1, RESPONDER, 1), record(PARAMS, 1, &[]), record(PARAMS, 1, &[])].concat();
        assert!(feed(&mut Decoder::new(MAX, MAX, 8), &twice, 100).is_err());
        // An unknown record type of a request, or a record of a request not open: ignored.
        let ignored = [record(99, 1, b"x"), record(STDIN, 7, b"x")].concat();
        assert_eq!(feed(&mut Decoder::new(MAX, MAX, 8), &ignored, 100), Ok(vec![]));
    }

    #[test]
    fn pair_lengths_are_bounded_as_soon_as_they_arrive() {
        // A value claiming 2 GiB, in 20 bytes: refused without waiting for the value.
        let huge = (u32::MAX >> 1) | 0x8000_0000;
        let claim = [&[4][..], &huge.to_be_bytes(), b"NAME"].concat();
        let wire = [begin(1, RESPONDER, 1), record(PARAMS, 1, &claim)].concat();
        let err = feed(&mut Decoder::new(MAX, MAX, 8), &wire, 7).expect_err("refused");
        assert!(err.starts_with("a FastCGI name-value pair claims 2147483651 bytes"), "{err}");
        // The length split between two records.
        let (a, b) = claim.split_at(3);
        let wire = [begin(1, RESPONDER, 1), record(PARAMS, 1, a), record(PARAMS, 1, b)].concat();
        assert!(feed(&mut Decoder::new(MAX, MAX, 8), &wire, 5).is_err());
        // At the bound it waits; past it, refused; a pair cut off by the stream's end, refused.
        let at = |n: u32| [&[0x80, 0, 0, 1][..], &(n | 0x8000_0000).to_be_bytes()].concat();
        let max = u32::try_from(MAX).expect("fits");
        let wire = [begin(1, RESPONDER, 1), record(PARAMS, 1, &at(max - 1))].concat();
        assert_eq!(feed(&mut Decoder::new(2 * MAX, MAX, 8), &wire, 100), Ok(vec![]));
        let wire = [begin(1, RESPONDER, 1), record(PARAMS, 1, &at(max))].concat();
        assert!(feed(&mut Decoder::new(2 * MAX, MAX, 8), &wire, 100).is_err());
        let wire = [begin(1, RESPONDER, 1), record(PARAMS, 1, &[5, 5, b'a']), record(PARAMS, 1, &[])].concat();
        assert!(feed(&mut Decoder::new(MAX, MAX, 8), &wire, 100).is_err());
        // FCGI_GET_VALUES carries pairs too.
        let values = record(GET_VALUES, 0, &[&[14][..], &huge.to_be_bytes(), b"FCGI_MAX_CONNS"].concat());
        assert!(feed(&mut Decoder::new(MAX, MAX, 8), &values, 100).is_err());
    }

    #[test]
    fn a_request_is_bounded_in_bytes() {
        let mut wire = [begin(1, RESPONDER, 1), record(PARAMS, 1, &[]), record(STDIN, 1, &[b'a'; 1000])].concat();
        wire.extend(record(STDIN, 1, &[]));
        assert!(feed(&mut Decoder::new(1000, 1000, 8), &wire, 100).is_err());
        let steps = feed(&mut Decoder::new(1100, 1000, 8), &wire, 100).expect("within");
        assert!(matches!(&steps[..], [Step::Request(_)]), "{steps:?}");
        // Management records inside a request count toward its budget.
        let values = record(GET_VALUES, 0, &pairs(&[("FCGI_MAX_CONNS", "")]));
        let mut interleaved = [begin(1, RESPONDER, 1), record(PARAMS, 1, &[])].concat();
        for _ in 0..10 {
            interleaved.extend([record(STDIN, 1, &[b'a'; 200]), values.clone()].concat());
        }
        assert!(feed(&mut Decoder::new(1000, 1000, 8), &interleaved, 100).is_err());
        // The budget starts again with each request.
        let two = [wire.clone(), wire].concat();
        assert_eq!(feed(&mut Decoder::new(1100, 1000, 8), &two, 100).map(|s| s.len()), Ok(2));
    }

    #[test]
    fn management_refusals_and_aborts_are_answered() {
        let asked = pairs(&[("FCGI_MAX_CONNS", ""), ("FCGI_MPXS_CONNS", ""), ("OTHER", "")]);
        let steps = feed(&mut Decoder::new(MAX, MAX, 8), &record(GET_VALUES, 0, &asked), 100).expect("valid");
        let expected = record(GET_VALUES_RESULT, 0, &pairs(&[("FCGI_MAX_CONNS", "8"), ("FCGI_MPXS_CONNS", "0")]));
        assert_eq!(steps, [Step::Send(expected)]);
        let steps = feed(&mut Decoder::new(MAX, MAX, 8), &record(42, 0, &[]), 100).expect("valid");
        assert_eq!(steps, [Step::Send(record(UNKNOWN_TYPE, 0, &[42, 0, 0, 0, 0, 0, 0, 0]))]);
        // A second request while one is open, and an Authorizer.
        let wire = [begin(1, RESPONDER, 1), begin(2, RESPONDER, 1), begin(2, 2, 1)].concat();
        let steps = feed(&mut Decoder::new(MAX, MAX, 8), &wire, 100).expect("valid");
        assert_eq!(steps, [Step::Send(end_request(2, CANT_MPX_CONN)), Step::Send(end_request(2, CANT_MPX_CONN))]);
        let steps = feed(&mut Decoder::new(MAX, MAX, 8), &begin(3, 2, 1), 100).expect("valid");
        assert_eq!(steps, [Step::Send(end_request(3, UNKNOWN_ROLE))]);
        // An abort ends the open request with no output; the next one is served.
        let wire =
            [begin(1, RESPONDER, 1), record(ABORT_REQUEST, 1, &[]), request(2, true, &[("A", "b")], b"")].concat();
        let steps = feed(&mut Decoder::new(MAX, MAX, 8), &wire, 100).expect("valid");
        assert!(
            matches!(&steps[..], [Step::Send(end), Step::Request(r)] if *end == end_request(1, REQUEST_COMPLETE) && r.id == 2),
            "{steps:?}"
        );
    }

    #[test]
    fn get_values_answers_true_values_each_known_name_once() {
        let all = pairs(&[("FCGI_MAX_REQS", ""), ("FCGI_MAX_CONNS", ""), ("FCGI_MPXS_CONNS", "")]);
        // Above 255: the value was once a `u8`.
        let steps = feed(&mut Decoder::new(MAX, MAX, 4096), &record(GET_VALUES, 0, &all), 100).expect("valid");
        let expected = pairs(&[("FCGI_MAX_CONNS", "4096"), ("FCGI_MAX_REQS", "4096"), ("FCGI_MPXS_CONNS", "0")]);
        assert_eq!(steps, [Step::Send(record(GET_VALUES_RESULT, 0, &expected))]);
        // A whole record of repeated names: each known one answered once, whole pairs, one
        // record. Answering each repetition made 65,535 bytes of questions ask for more than
        // a record holds, and the answer was cut in the middle of a pair.
        let one = pairs(&[("FCGI_MAX_CONNS", "")]);
        let mut repeated: Vec<u8> = one.repeat(MAX_CONTENT_BYTES / one.len());
        // Filled to the last byte with an unknown name (two length bytes and `X`).
        repeated.extend(pairs(&[("X", &"v".repeat(MAX_CONTENT_BYTES - repeated.len() - 3))]));
        assert_eq!(repeated.len(), MAX_CONTENT_BYTES);
        let steps = feed(&mut Decoder::new(2 * MAX, MAX, 300), &record(GET_VALUES, 0, &repeated), 4096).expect("valid");
        let expected = record(GET_VALUES_RESULT, 0, &pairs(&[("FCGI_MAX_CONNS", "300")]));
        assert_eq!(steps, [Step::Send(expected)]);
        // Only unknown names: an empty answer (§4.1), still a record.
        let steps = feed(&mut Decoder::new(MAX, MAX, 8), &record(GET_VALUES, 0, &pairs(&[("FCGI_X", "")])), 100);
        assert_eq!(steps, Ok(vec![Step::Send(record(GET_VALUES_RESULT, 0, &[]))]));
    }

    /// `record` with `padding` bytes after the content, as nginx aligns records to 8 bytes.
    fn padded(kind: u8, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
        let mut out = record(kind, id, content);
        out[6] = padding;
        out.extend(std::iter::repeat_n(0xee, usize::from(padding)));
        out
    }

    #[test]
    fn padding_is_skipped_and_counted() {
        let p = pairs(&[("REQUEST_METHOD", "GET"), ("QUERY_STRING", "a=b")]);
        let wire = [
            padded(BEGIN_REQUEST, 1, &[0, 1, 1, 0, 0, 0, 0, 0], 0),
            padded(PARAMS, 1, &p, 7),
            padded(PARAMS, 1, &[], 3),
            padded(STDIN, 1, b"xyz", 5),
            padded(STDIN, 1, &[], 255),
        ]
        .concat();
        let steps = feed(&mut Decoder::new(MAX, MAX, 8), &wire, 5).expect("valid");
        let [Step::Request(r)] = &steps[..] else { panic!("{steps:?}") };
        assert_eq!((r.params().count(), &r.stdin[..]), (2, &b"xyz"[..]));
        // The budget counts the padding: exactly at it passes, one byte less does not.
        assert!(feed(&mut Decoder::new(wire.len(), MAX, 8), &wire, 100).is_ok());
        assert!(feed(&mut Decoder::new(wire.len() - 1, MAX, 8), &wire, 100).is_err());
        // A stream does not go on after its end.
        let more = [begin(1, RESPONDER, 1), record(STDIN, 1, &[]), record(STDIN, 1, b"x")].concat();
        assert!(feed(&mut Decoder::new(MAX, MAX, 8), &more, 100).is_err());
    }

    #[test]
    fn pair_lengths_of_128_and_more_take_four_bytes() {
        for len in [0, 127, 128, 200, 70_000] {
            let value = "v".repeat(len);
            let mut out = Vec::new();
            push_pair(&mut out, b"N", value.as_bytes());
            let header = if len < 128 { 1 } else { 4 };
            assert_eq!(out.len(), 1 + header + 1 + len, "{len}");
            let got: Vec<(&[u8], &[u8])> = (Pairs { rest: &out }).collect();
            assert_eq!(got, [(&b"N"[..], value.as_bytes())], "{len}");
        }
    }

    #[test]
    fn answers_are_split_into_records_and_ended() {
        let mut out = Vec::new();
        let body = vec![b'x'; 70_000];
        answer(&mut out, 5, &body);
        let expected = [
            record(STDOUT, 5, &body[..65_535]),
            record(STDOUT, 5, &body[65_535..]),
            record(STDOUT, 5, &[]),
            end_request(5, REQUEST_COMPLETE),
        ]
        .concat();
        assert_eq!(out, expected);
        assert_eq!(&out[..8], &[1, STDOUT, 0, 5, 0xff, 0xff, 0, 0]);
        assert_eq!(&out[out.len() - 16..], &[1, END_REQUEST, 0, 5, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
}
