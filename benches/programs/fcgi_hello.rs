//! The ceiling of a FastCGI answer for `scripts/bench.sh`: the smallest useful FastCGI
//! responder (FastCGI 1.0 §6.2: a Responder writes a header block, a blank line and the
//! body to FCGI_STDOUT), answering what a dyndns2 `nochg` answers, behind the same nginx and
//! built on the same library and runtime shape as `ddns-cgi fastcgi` (tokio-fastcgi on a
//! two-thread tokio runtime, one connection task each, kept alive). It reads no database and
//! parses no request: the FastCGI `nochg` rows compare with it to see how far any FastCGI
//! program can get on the machine, and what of the gap to nginx's own static answer is the
//! protocol hop rather than ddns-cgi's work. It shares no code with `src/`.
//!
//! Usage: `fcgi_hello --socket PATH` (a unix socket, replaced if it exists; mode 0666).

use std::os::unix::fs::PermissionsExt as _;

use tokio_fastcgi::{RequestResult, Requests};

const ANSWER: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\n\r\nnochg\n";

fn main() {
    let mut args = std::env::args().skip(1);
    let path = match (args.next().as_deref(), args.next()) {
        (Some("--socket"), Some(path)) => path,
        _ => {
            eprintln!("usage: fcgi_hello --socket PATH");
            std::process::exit(2);
        }
    };
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
