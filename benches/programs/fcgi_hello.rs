//! The ceiling of a FastCGI answer for `scripts/bench.sh`: the smallest useful FastCGI
//! responder (FastCGI 1.0 §6.2: a Responder writes a header block, a blank line and the
//! body to FCGI_STDOUT), answering what a dyndns2 `nochg` answers, behind the same nginx and
//! built on the same library and runtime shape as `ddns-cgi fastcgi` (tokio-fastcgi on a
//! current-thread tokio runtime, one connection task each, kept alive). It reads no database and
//! parses no request: the FastCGI `nochg` rows compare with it to see how far any FastCGI
//! program can get on the machine, and what of the gap to nginx's own static answer is the
//! protocol hop rather than ddns-cgi's work. It shares no code with `src/`.
//!
//! `--raw` reads and writes the records itself on the same runtime (§3.3 headers; BEGIN_REQUEST,
//! PARAMS and STDIN read and skipped, STDOUT, an empty STDOUT and END_REQUEST written in one
//! write, §5): the ceiling of a FastCGI program without tokio-fastcgi's per-record reads and
//! allocations.
//!
//! Usage: `fcgi_hello --socket PATH [--raw]` (a unix socket, replaced if it exists; mode
//! 0666).

use std::os::unix::fs::PermissionsExt as _;

use tokio_fastcgi::{RequestResult, Requests};

const ANSWER: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n\r\nnochg\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let (path, raw) = match (args.next().as_deref(), args.next(), args.next().as_deref()) {
        (Some("--socket"), Some(path), None) => (path, false),
        (Some("--socket"), Some(path), Some("--raw")) => (path, true),
        _ => {
            eprintln!("usage: fcgi_hello --socket PATH [--raw]");
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
    let served = if raw { runtime.block_on(serve_raw(&path)) } else { runtime.block_on(serve(&path)) };
    if let Err(e) = served {
        eprintln!("fcgi_hello: {e}");
        std::process::exit(2);
    }
}

async fn serve(path: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let (reader, writer) = stream.into_split();
            let mut requests = Requests::new(reader, writer, 1, 1);
            while let Ok(Some(request)) = requests.next().await {
                let done = request
                    .process(|request| async move {
                        // A failed write means nginx has gone; there is nobody to tell.
                        let _ = request.get_stdout().write(ANSWER).await;
                        RequestResult::Complete(0)
                    })
                    .await;
                if done.is_err() {
                    return;
                }
            }
        });
    }
}

const FCGI_END_REQUEST: u8 = 3;
const FCGI_PARAMS: u8 = 4;
const FCGI_STDIN: u8 = 5;
const FCGI_STDOUT: u8 = 6;

async fn serve_raw(path: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    loop {
        let (stream, _) = listener.accept().await?;
        // A read or write error ends the connection: nginx has gone or sent garbage.
        tokio::spawn(async move { drop(raw_connection(stream).await) });
    }
}

/// Answers the requests of one connection (nginx does not multiplex): every read takes what
/// has arrived, every complete request gets its three records in one write.
async fn raw_connection(mut stream: tokio::net::UnixStream) -> std::io::Result<()> {
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
