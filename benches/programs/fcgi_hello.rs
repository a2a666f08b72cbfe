//! The ceiling of a FastCGI answer for `scripts/bench.sh`: the smallest useful FastCGI
//! responder (FastCGI 1.0 §6.2: a Responder writes a header block, a blank line and the
//! body to FCGI_STDOUT), answering what a dyndns2 `nochg` answers, behind the same nginx and
//! in the same shape as `ddns-cgi fastcgi` (a current-thread tokio runtime, one task per
//! kept-alive connection, one read for what has arrived, the three records of an answer in
//! one write). It reads no database and parses no request beyond the record headers
//! (§3.3; BEGIN_REQUEST, PARAMS and STDIN skipped; STDOUT, an empty STDOUT and END_REQUEST
//! written, §5): the FastCGI `nochg` rows compare with it to see how far any FastCGI program
//! can get on the machine, and what of the gap to nginx's own static answer is the protocol
//! hop rather than ddns-cgi's work. It shares no code with `src/`.
//!
//! Usage: `fcgi_hello --socket PATH` (a unix socket, replaced if it exists; mode 0666).

use std::os::unix::fs::PermissionsExt as _;

const ANSWER: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n\r\nnochg\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let path = match (args.next().as_deref(), args.next(), args.next()) {
        (Some("--socket"), Some(path), None) => path,
        _ => {
            eprintln!("usage: fcgi_hello --socket PATH");
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fcgi_hello: cannot start the runtime: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = runtime.block_on(serve(&path)) {
        eprintln!("fcgi_hello: {e}");
        std::process::exit(2);
    }
}

const FCGI_END_REQUEST: u8 = 3;
const FCGI_PARAMS: u8 = 4;
const FCGI_STDIN: u8 = 5;
const FCGI_STDOUT: u8 = 6;

async fn serve(path: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    loop {
        let (stream, _) = listener.accept().await?;
        // A read or write error ends the connection: nginx has gone or sent garbage.
        tokio::spawn(async move { drop(connection(stream).await) });
    }
}

/// Answers the requests of one connection (nginx does not multiplex): every read takes what
/// has arrived, every complete request gets its three records in one write.
async fn connection(mut stream: tokio::net::UnixStream) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut input: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut out = Vec::with_capacity(256);
    let mut params_done = false;
    loop {
        if stream.read_buf(&mut input).await? == 0 {
            return Ok(());
        }
        let mut at = 0;
        // Whole records only; a partial one waits for the next read.
        while let Some(header) = input.get(at..at + 8) {
            let content = usize::from(u16::from_be_bytes([header[4], header[5]]));
            let len = 8 + content + usize::from(header[6]);
            if input.len() - at < len {
                break;
            }
            let (kind, id) = (header[1], [header[2], header[3]]);
            at += len;
            match kind {
                FCGI_PARAMS if content == 0 => params_done = true,
                FCGI_STDIN if content == 0 && params_done => {
                    params_done = false;
                    for (kind, body) in [(FCGI_STDOUT, ANSWER), (FCGI_STDOUT, &[][..]), (FCGI_END_REQUEST, &[0; 8][..])]
                    {
                        let len = u16::try_from(body.len()).unwrap_or(0).to_be_bytes();
                        out.extend_from_slice(&[1, kind, id[0], id[1], len[0], len[1], 0, 0]);
                        out.extend_from_slice(body);
                    }
                }
                _ => {}
            }
        }
        input.drain(..at);
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}
