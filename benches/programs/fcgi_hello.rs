//! The ceiling of a FastCGI answer for `scripts/bench.sh`: the smallest useful FastCGI
//! responder (FastCGI 1.0 §6.2: a Responder writes a header block, a blank line and the
//! body to FCGI_STDOUT), answering what a dyndns2 `nochg` answers, behind the same nginx and
//! built on the same library and runtime shape as `ddns-cgi fastcgi` (tokio-fastcgi on a
//! two-thread tokio runtime, one connection task each, kept alive). It reads no database and
//! parses no request: the FastCGI `nochg` rows compare with it to see how far any FastCGI
//! program can get on the machine, and what of the gap to nginx's own static answer is the
//! protocol hop rather than ddns-cgi's work. It shares no code with `src/`.
//!
//! `--threads` serves each connection on a blocking thread of its own instead, with a
//! minimal record reader (§3.3 headers; BEGIN_REQUEST, PARAMS and STDIN read and skipped,
//! STDOUT, an empty STDOUT and END_REQUEST written, §5): the ceiling of a FastCGI program with
//! no async runtime and no hand-off between threads.
//!
//! Usage: `fcgi_hello --socket PATH [--threads]` (a unix socket, replaced if it exists; mode
//! 0666).

use std::io::{Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;

use tokio_fastcgi::{RequestResult, Requests};

const ANSWER: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n\r\nnochg\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let (path, threads) = match (args.next().as_deref(), args.next(), args.next().as_deref()) {
        (Some("--socket"), Some(path), None) => (path, false),
        (Some("--socket"), Some(path), Some("--threads")) => (path, true),
        _ => {
            eprintln!("usage: fcgi_hello --socket PATH [--threads]");
            std::process::exit(2);
        }
    };
    if threads {
        if let Err(e) = serve_threads(&path) {
            eprintln!("fcgi_hello: {e}");
            std::process::exit(2);
        }
        return;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_io().build() {
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

fn serve_threads(path: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
    for stream in listener.incoming() {
        let stream = stream?;
        std::thread::spawn(move || {
            // A read or write error ends the connection: nginx has gone or sent garbage.
            let _ = connection(stream);
        });
    }
    Ok(())
}

/// Answers the requests of one connection, one at a time (nginx does not multiplex).
fn connection(mut stream: std::os::unix::net::UnixStream) -> std::io::Result<()> {
    let mut input = std::io::BufReader::new(stream.try_clone()?);
    let mut content = vec![0u8; 65_535 + 255];
    loop {
        // Records until the empty STDIN that ends the request (PARAMS end first, §3.3).
        let mut params_done = false;
        let id = loop {
            let mut header = [0u8; 8];
            input.read_exact(&mut header)?;
            let len = usize::from(u16::from_be_bytes([header[4], header[5]])) + usize::from(header[6]);
            input.read_exact(&mut content[..len])?;
            let empty = header[4] == 0 && header[5] == 0;
            match header[1] {
                FCGI_PARAMS if empty => params_done = true,
                FCGI_STDIN if empty && params_done => break [header[2], header[3]],
                _ => {}
            }
        };
        let mut out = Vec::with_capacity(128);
        let record = |out: &mut Vec<u8>, kind: u8, body: &[u8]| {
            let len = u16::try_from(body.len()).unwrap_or(0).to_be_bytes();
            out.extend_from_slice(&[1, kind, id[0], id[1], len[0], len[1], 0, 0]);
            out.extend_from_slice(body);
        };
        record(&mut out, FCGI_STDOUT, ANSWER);
        record(&mut out, FCGI_STDOUT, b"");
        record(&mut out, FCGI_END_REQUEST, &[0, 0, 0, 0, 0, 0, 0, 0]);
        stream.write_all(&out)?;
    }
}
