//! The floor of a CGI request for `scripts/bench.sh`: the smallest useful compiled CGI
//! program (RFC 3875 §6: a header block, a blank line, the body), answering what a dyndns2
//! `nochg` answers, run by fcgiwrap like ddns-cgi. The CGI rows of the benchmark state their
//! ratio to this one, which pays the same fork, exec and fcgiwrap plumbing and nothing else.

use std::io::Write as _;

fn main() {
    // A failed write means the web server has gone; there is nobody left to tell.
    let _ = std::io::stdout().write_all(b"Content-Type: text/plain; charset=utf-8\r\n\r\nnochg\n");
}
