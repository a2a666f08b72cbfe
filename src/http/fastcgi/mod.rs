//! The FastCGI transport: a long-running server that answers dyndns2 requests arriving as
//! FastCGI records (the FastCGI 1.0 specification) on a listening socket: the one Apache
//! mod_fcgid or spawn-fcgi leaves on fd 0 (`FCGI_LISTENSOCK_FILENO`, §2.2), a unix or TCP
//! socket of its own (`ddns-cgi fastcgi --socket PATH | --listen ADDR`), or one passed by
//! systemd socket activation. Each request becomes the same `Env` and bounded body as in CGI,
//! goes through the same `update::handle`, and is answered with the same bytes
//! (`cgi::write_reply`). The config is loaded once; a bounded set of workers, each with its own
//! `Store`, runs the blocking work (SQLite, Argon2, the DNS exchange) off the runtime's thread;
//! the common repeat is answered on it, and the change of a router's update queued there for
//! its zone's group commit (`here`); a change waiting for its group commit waits as the
//! connection's task, holding no worker (`handle`), or, for a request that goes on after it,
//! as a parked thread that gave its worker back (`Duty`); an answer held for
//! the read-back waits on the connection's task, not on a worker (`wait`). `records` reads and writes the
//! records, bounding what a peer can make it buffer (the request size, each name-value pair's
//! claimed length), and a connection that does not complete a request within
//! `--idle-timeout` is closed. `--listen` (TCP, which any local user can reach)
//! needs `FCGI_WEB_SERVER_ADDRS` or `--allow-any-local-user`.
//! It decides nothing about updates, and nothing here runs in CGI mode: the tokio runtime is
//! built only when this mode starts.

use std::io;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::sync::{Semaphore, watch};

use crate::auth::PasswordCache;
use crate::config::Config;
use crate::http::{Served, cgi};
use crate::log::{self, Log};
use crate::reply::{self, AccountAnswer, Answer, Reply};
use crate::request::{self, Env, Format};
use crate::store::{OpenMode, Store};
use crate::update;

mod listen;
mod records;
mod wait;

use listen::{AsyncListener, Stream};
pub(crate) use listen::{Listener, bind, check_listen, stdin_listener, web_server_addrs};

use records::{Decoder, Step};

/// Bytes one request may send (params and stdin records with their headers) before the
/// connection is closed. A request is buffered in memory until it is complete, so this bounds
/// memory per connection. It is far above what a dyndns2 request needs, so that a
/// body a little over `request::MAX_BODY_BYTES` still gets CGI's `badagent` answer.
const MAX_REQUEST_BYTES: usize = 1024 * 1024;

/// What one read from the connection may take: a dyndns2 request (nginx's params of a few
/// hundred bytes, the empty stdin) fits whole.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Longest name-value pair (name and value together) a PARAMS or GET_VALUES record may claim;
/// a claim beyond it closes the connection at once, before any of its bytes is waited for.
const MAX_PAIR_BYTES: usize = MAX_REQUEST_BYTES;

/// How long a stop waits for requests in flight before giving up on them.
const STOP_GRACE: Duration = Duration::from_secs(30);

/// `ddns-cgi fastcgi`'s options: defined with the command line (`cli`), which must not name
/// this module (the console, which `serve` calls, sits above `cli`).
pub(crate) use crate::cli::FastcgiOptions as Options;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FastcgiError {
    /// Neither a flag nor the environment names a socket.
    #[error(
        "no socket to listen on: give `--socket PATH` or `--listen ADDR`, or start under systemd socket activation"
    )]
    NoListener,
    /// The socket could not be created or configured.
    #[error("cannot listen on `{what}`: {source}")]
    Listen { what: String, source: io::Error },
    /// `--listen` without `FCGI_WEB_SERVER_ADDRS`: every local user (and every host that can
    /// reach the address) could send requests with any `REMOTE_ADDR`, past the web server.
    #[error(
        "`--listen {addr}` would let any local user connect and send requests with any client address; set `FCGI_WEB_SERVER_ADDRS` to the web server's addresses, listen on a unix socket with `--socket PATH`, or pass `--allow-any-local-user`"
    )]
    OpenTcp { addr: std::net::SocketAddr },
    /// `FCGI_WEB_SERVER_ADDRS` holds something that is not an address.
    #[error("`FCGI_WEB_SERVER_ADDRS` entry `{entry}` is not an IP address")]
    WebServerAddrs { entry: String },
    /// The async runtime could not be built.
    #[error("cannot start the runtime: {0}")]
    Runtime(io::Error),
    /// The database could not be opened at start.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What `main` hands over: everything read from the environment and the clock.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) config: Config,
    pub(crate) listener: Listener,
    pub(crate) options: Options,
    /// `FCGI_WEB_SERVER_ADDRS` (§3.2): TCP peers allowed to connect; empty allows all. It does
    /// not apply to unix-socket peers, which have no address.
    pub(crate) web_server_addrs: Vec<IpAddr>,
    /// Seconds since the epoch; `main` owns the clock.
    pub(crate) clock: fn() -> i64,
    /// A path to remove at stop (the socket we created).
    pub(crate) cleanup: Option<PathBuf>,
}

/// State shared by all connections.
#[derive(Debug)]
struct Shared {
    config: Config,
    clock: fn() -> i64,
    /// Idle database connections; a worker takes one and gives it back.
    stores: Mutex<Vec<Store>>,
    /// Verified passwords, shared by the workers (`[auth]` `cache_seconds`, `cache_entries`).
    passwords: Option<PasswordCache>,
    /// The group commit: changes of one zone that arrive while one is in flight go together.
    batcher: update::Batcher,
    workers: Arc<Semaphore>,
    /// `--max-connections`, answered to `FCGI_GET_VALUES` as `FCGI_MAX_CONNS` and `FCGI_MAX_REQS`.
    max_conns: u16,
    /// How long a connection may take to send its next request.
    idle_timeout: Duration,
    /// The process's logger (its syslog socket connected once); each request's comes from it.
    log: Log,
    /// The read-back pollers, one per zone with waiting answers (`wait.rs`).
    pollers: wait::Pollers,
}

/// Serves until SIGTERM or SIGINT, then finishes the requests in flight.
pub(crate) fn serve(server: Server) -> Result<(), FastcgiError> {
    let log = Log::new(server.config.log.level).with_target(&server.config.log, server.clock);
    for warning in &server.config.warnings {
        log.warn(format_args!("config: {warning}"));
    }
    let store = Store::open(&server.config.database, OpenMode::Existing)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        // The workers, and one thread per request waiting for its group commit (it gives its
        // worker back, `Duty`): each connection has one request at a time.
        .max_blocking_threads(usize::from(server.options.workers) + usize::from(server.options.max_connections) + 2)
        .enable_io()
        .enable_time()
        .build()
        .map_err(FastcgiError::Runtime)?;
    let passwords = PasswordCache::new(server.config.auth.cache_seconds, server.config.auth.cache_entries);
    let shared = Arc::new(Shared {
        passwords,
        batcher: update::Batcher::default(),
        config: server.config,
        clock: server.clock,
        stores: Mutex::new(vec![store]),
        workers: Arc::new(Semaphore::new(usize::from(server.options.workers))),
        max_conns: server.options.max_connections,
        idle_timeout: Duration::from_secs(u64::from(server.options.idle_timeout)),
        log: log.clone(),
        pollers: wait::Pollers::default(),
    });
    let result = runtime.block_on(run(server.listener, server.options, server.web_server_addrs, shared, log.clone()));
    if let Some(path) = server.cleanup {
        let _ = std::fs::remove_file(path);
    }
    // Blocking workers that outlived the grace period are abandoned, not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run(
    listener: Listener,
    options: Options,
    allowed: Vec<IpAddr>,
    shared: Arc<Shared>,
    log: Log,
) -> Result<(), FastcgiError> {
    let listen_err = |source| FastcgiError::Listen { what: "the inherited socket".into(), source };
    let listener = match listener {
        Listener::Unix(l) => {
            l.set_nonblocking(true).map_err(listen_err)?;
            AsyncListener::Unix(tokio::net::UnixListener::from_std(l).map_err(listen_err)?)
        }
        Listener::Tcp(l) => {
            l.set_nonblocking(true).map_err(listen_err)?;
            AsyncListener::Tcp(tokio::net::TcpListener::from_std(l).map_err(listen_err)?)
        }
    };
    if let AsyncListener::Tcp(l) = &listener {
        let addr = l.local_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string());
        // FastCGI has no authentication of its own: whoever connects is trusted like the web
        // server, and may claim any REMOTE_ADDR. Loopback peers include every local user.
        if allowed.is_empty() {
            log.warn(format_args!(
                "fastcgi: TCP socket {addr} without `FCGI_WEB_SERVER_ADDRS`: any local user can connect (and any host that can reach it)"
            ));
        } else if let Some(ip) = allowed.iter().find(|ip| ip.is_loopback()) {
            log.warn(format_args!("fastcgi: TCP socket {addr} allows {ip}: any local user can connect from it"));
        }
    }
    let (stop_tx, stop) = watch::channel(false);
    let signals = tokio::spawn(wait_for_signal(stop_tx, log.clone()));
    let max_connections = u32::from(options.max_connections);
    let connections = Arc::new(Semaphore::new(usize::from(options.max_connections)));
    log.info(format_args!("fastcgi: serving with {} workers", options.workers));
    loop {
        let permit = tokio::select! {
            _ = stopped(stop.clone()) => break,
            p = connections.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let accepted = tokio::select! {
            _ = stopped(stop.clone()) => break,
            a = listener.accept(&allowed) => a,
        };
        let (shared, stop, log) = (shared.clone(), stop.clone(), log.clone());
        if let Ok(Some(_)) = &accepted {
            log.debug("fastcgi: connection accepted");
        }
        match accepted {
            Ok(Some(Stream::Unix(s))) => {
                tokio::spawn(async move {
                    connection(s, shared, stop, &log).await;
                    drop(permit);
                });
            }
            Ok(Some(Stream::Tcp(s))) => {
                tokio::spawn(async move {
                    connection(s, shared, stop, &log).await;
                    drop(permit);
                });
            }
            Ok(None) => {}
            Err(e) => {
                // EMFILE and friends: back off instead of spinning on the error.
                log.warn(format_args!("fastcgi: accept failed: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    signals.abort();
    drop(listener);
    // Every connection holds a permit until its request in flight is answered.
    let all = tokio::time::timeout(STOP_GRACE, connections.acquire_many(max_connections)).await;
    match all {
        Ok(_) => log.info("fastcgi: stopped"),
        Err(_) => log.warn(format_args!("fastcgi: stopped with requests still running after {STOP_GRACE:?}")),
    }
    // Closing a PostgreSQL session blocks on the driver's own runtime, which must not happen
    // on a thread that drives this one: close the pooled stores on a blocking thread. On
    // SQLite the last of them checkpoints the WAL into the database and removes the `-wal`
    // and `-shm` files (when no other process has it open), so a stopped service leaves one
    // file: what a restore puts in its place is not undone by an old `-wal` replayed onto it.
    let stores = shared.stores.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
    let _ = tokio::task::spawn_blocking(move || stores.into_iter().for_each(Store::close)).await;
    Ok(())
}

async fn wait_for_signal(stop: watch::Sender<bool>, log: Log) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        log.error("fastcgi: cannot install the SIGTERM handler");
        return;
    };
    tokio::select! {
        _ = term.recv() => log.info("fastcgi: SIGTERM, finishing requests in flight"),
        _ = int.recv() => log.info("fastcgi: SIGINT, finishing requests in flight"),
    }
    let _ = stop.send(true);
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Serves the requests of one connection, one at a time, until the peer closes it, asks to
/// close it (no `FCGI_KEEP_CONN`), sends something malformed or too large, does not complete
/// its next request within the idle timeout, or the server stops between two requests.
async fn connection<S>(mut stream: S, shared: Arc<Shared>, stop: watch::Receiver<bool>, log: &Log)
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let mut decoder = Decoder::new(MAX_REQUEST_BYTES, MAX_PAIR_BYTES, usize::from(shared.max_conns));
    // What was read and not yet taken by the decoder: at most one partial record.
    let mut input = Vec::with_capacity(READ_BUFFER_BYTES);
    let mut out = Vec::new();
    loop {
        // The whole next request must arrive within the idle timeout: a peer that sends
        // nothing, or too slowly, does not hold a connection slot for ever.
        let next = tokio::select! {
            biased;
            _ = stopped(stop.clone()) => return,
            n = tokio::time::timeout(shared.idle_timeout, next_request(&mut stream, &mut decoder, &mut input)) => n,
        };
        let request = match next {
            Err(_) => {
                log.debug(format_args!("fastcgi: closing a connection with no request for {:?}", shared.idle_timeout));
                return;
            }
            Ok(Ok(Some(request))) => request,
            Ok(Ok(None)) => return,
            Ok(Err(Ended::Refused(reason))) => {
                log.warn(format_args!("fastcgi: closing the connection: {reason}"));
                return;
            }
            Ok(Err(Ended::Io(e))) => {
                // A peer that closes mid-request: nothing to answer.
                log.debug(format_args!("fastcgi: connection closed: {e}"));
                return;
            }
        };
        let started = Instant::now();
        // The read buffer is given back while the request is handled, which may take a
        // while (its zone's group commit): a connection holds one only while it reads, so a
        // storm's waiting requests do not each keep `READ_BUFFER_BYTES`.
        if input.is_empty() {
            input = Vec::new();
        }
        let (env, body) = request_input(&request, &shared.config);
        let reply = match handle(shared.clone(), env, body, started).await {
            Served::Now(reply) => reply,
            // The worker is free; this task, which owns the connection, waits for the
            // read-back and answers on it as usual (keep-alive included).
            Served::Later(later) => wait::answer(&shared, later, stop.clone()).await,
        };
        let mut wire = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = cgi::write_reply(&mut wire, &reply);
        out.clear();
        records::answer(&mut out, request.id, &wire);
        if let Err(e) = stream.write_all(&out).await {
            log.debug(format_args!("fastcgi: cannot answer: {e}"));
            return;
        }
        if !request.keep_conn {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Why a connection ends without a request.
#[derive(Debug)]
enum Ended {
    /// The peer broke the protocol or a bound (logged as a warning).
    Refused(String),
    Io(io::Error),
}

/// Reads until a request is complete, sending what the protocol asks for on the way
/// (management answers, the end of refused or aborted requests). `None`: the peer closed the
/// connection between requests.
async fn next_request<S>(
    stream: &mut S,
    decoder: &mut Decoder,
    input: &mut Vec<u8>,
) -> Result<Option<records::Request>, Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let mut taken = 0;
        let found = loop {
            let (n, step) = decoder.step(input.get(taken..).unwrap_or_default()).map_err(Ended::Refused)?;
            taken += n;
            match step {
                Step::More => break None,
                Step::Request(request) => break Some(request),
                Step::Send(bytes) => stream.write_all(&bytes).await.map_err(Ended::Io)?,
            }
        };
        input.drain(..taken);
        if found.is_some() {
            return Ok(found);
        }
        // One read takes whatever has arrived: nginx writes a request's records at once.
        input.reserve(READ_BUFFER_BYTES);
        match stream.read_buf(input).await.map_err(Ended::Io)? {
            0 if input.is_empty() => return Ok(None),
            0 => return Err(Ended::Io(io::ErrorKind::UnexpectedEof.into())),
            _ => {}
        }
    }
}

/// The request's `Env` (only [`request::REQUEST_VARIABLES`] and the proxy header, as in CGI)
/// and its body bounded like `cgi::read_body`; a stdin stream that ended before
/// `CONTENT_LENGTH` bytes is refused by `request::parse`, as in CGI.
fn request_input(request: &records::Request, config: &Config) -> (Env, Vec<u8>) {
    let proxy = config.http.proxy_header.as_deref();
    let env: Env = request
        .params()
        .filter_map(|(name, value)| {
            // CGI names are upper case (RFC 3875 §4.1); a peer's lower case is forgiven.
            let name = std::str::from_utf8(name).ok()?.to_ascii_uppercase();
            if !request::REQUEST_VARIABLES.contains(&name.as_str()) && Some(name.as_str()) != proxy {
                return None;
            }
            Some((name, std::str::from_utf8(value).ok()?.to_owned()))
        })
        .collect();
    let mut body = Vec::new();
    if request::has_body(&env)
        && let Some(len) = request::content_length(&env)
    {
        let limit = len.min(request::MAX_BODY_BYTES + 1);
        body.extend_from_slice(request.stdin.get(..limit).unwrap_or(&request.stdin));
    }
    (env, body)
}

/// The `911` of a request that could not be handled.
fn server_error() -> Reply {
    reply::render(&Answer::Account(AccountAnswer::ServerError), Format::Text)
}

impl Shared {
    /// Returns a store to the pool for the next request (a detached one, left in a worker's
    /// place when no connection could be opened again, and one whose session was found
    /// closed, are dropped).
    fn put_back(&self, mut store: Store) {
        // A session the server closed (restarted) would answer every later request with 911.
        if store.is_detached() || !store.is_usable() {
            return;
        }
        if let Ok(mut stores) = self.stores.lock() {
            stores.push(store);
        }
    }

    /// A pooled store, or a new connection.
    fn take_store(&self) -> Result<Store, crate::store::StoreError> {
        match self.stores.lock().ok().and_then(|mut s| s.pop()) {
            Some(store) => Ok(store),
            None => Store::open(&self.config.database, OpenMode::Existing),
        }
    }
}

/// The worker running one request on a blocking thread: its permit, which it gives back with
/// its database connection while the request waits for its zone's group commit.
#[derive(Debug)]
struct Duty<'s> {
    shared: &'s Shared,
    permit: Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
    runtime: tokio::runtime::Handle,
}

impl update::OffDuty for Duty<'_> {
    fn off_duty(&self, store: &mut Store, wait: &mut dyn FnMut()) {
        let Ok(detached) = Store::detached() else {
            wait();
            return;
        };
        self.shared.put_back(std::mem::replace(store, detached));
        let permit = self.permit.lock().ok().and_then(|mut p| p.take());
        drop(permit);
        // Nothing is held here but this thread: no worker, no connection, no lock.
        wait();
        // Back on duty: a worker as any request takes one (the semaphore is fair, so a
        // request that waited does not overtake those queued meanwhile), then a connection.
        let permit = self.runtime.block_on(self.shared.workers.clone().acquire_owned()).ok();
        if let Ok(mut slot) = self.permit.lock() {
            *slot = permit;
        }
        match self.shared.take_store() {
            Ok(back) => *store = back,
            // The detached store stays: the request's statements fail and it answers `911`,
            // as a worker that cannot open its connection does.
            Err(e) => self.shared.log.error(format_args!("{e}")),
        }
    }
}

/// Runs the handler on a worker thread with a database connection from the pool. A request
/// whose one change waits for its zone's group commit gives the worker back and waits here,
/// as this task (`update::Queued`): answered by another run, it is finished on this thread
/// when the rest writes nothing, else on a worker again, which also leads the run it may
/// have been handed. A panic answers `911`, as in CGI; the worker's connection is then
/// dropped and reopened later.
async fn handle(shared: Arc<Shared>, env: Env, body: Vec<u8>, started: Instant) -> Served {
    let log = shared.log.for_request(log::transaction_id());
    let now = (shared.clock)();
    let incoming = crate::request::Incoming { env: &env, body: &body, now, started };
    let mut queued = match here(&shared, &incoming, &log) {
        Some(Ok(reply)) => return Served::Now(reply),
        Some(Err(queued)) => Some(queued),
        None => None,
    };
    let input = Arc::new((env, body));
    loop {
        if let Some(waiting) = queued.take() {
            let waiting: update::Queued = waiting;
            // Holding no thread, worker, connection or lock: only its queue entry and this task.
            waiting.woken().await;
            let incoming = crate::request::Incoming { env: &input.0, body: &input.1, now, started };
            match super::answer_queued(&shared.config, waiting, &incoming, &log) {
                Ok(served) => return served,
                Err(waiting) => queued = Some(waiting),
            }
        }
        let Ok(permit) = shared.workers.clone().acquire_owned().await else { return Served::Now(server_error()) };
        let (shared, input, worker_log) = (shared.clone(), input.clone(), log.clone());
        let runtime = tokio::runtime::Handle::current();
        let resuming = queued.take();
        let job = tokio::task::spawn_blocking(move || {
            let duty = Duty { shared: &shared, permit: Mutex::new(Some(permit)), runtime };
            let config = &shared.config;
            let mut store = match shared.take_store() {
                Ok(s) => s,
                Err(e) => {
                    worker_log.error(format_args!("{e}"));
                    // A run handed to it is answered `911` too, so the zone's queue goes on.
                    if let Some(waiting) = resuming {
                        waiting.abandon(&shared.batcher);
                    }
                    return Ok(Served::Now(server_error()));
                }
            };
            let resident = update::Resident {
                passwords: shared.passwords.as_ref(),
                batcher: Some(&shared.batcher),
                worker: Some(&duty),
                park: true,
            };
            let incoming = crate::request::Incoming { env: &input.0, body: &input.1, now, started };
            // A store whose reads block (PostgreSQL, MariaDB) answers the repeat or queues a
            // router's change here, as SQLite's does on the runtime's thread (`here`): its reads
            // in one round trip where the engine can (`Store::read_together`).
            if resuming.is_none() && !store.reads_in_async() {
                let here = super::serve_here(
                    config,
                    &mut store,
                    shared.passwords.as_ref(),
                    &shared.batcher,
                    &incoming,
                    &worker_log,
                );
                if let Some(answer) = here {
                    shared.put_back(store);
                    return answer.map(Served::Now);
                }
            }
            let served = match resuming {
                Some(waiting) => Ok(super::resume(config, &mut store, resident, waiting, &incoming, &worker_log)),
                None => super::serve_or_queue(config, &mut store, resident, &incoming, &worker_log),
            };
            shared.put_back(store);
            served
        });
        match job.await {
            Ok(Ok(served)) => return served,
            Ok(Err(waiting)) => queued = Some(waiting),
            Err(e) => {
                log.error(format_args!("internal error: the request handler failed: {e}"));
                return Served::Now(server_error());
            }
        }
    }
}

/// Answers the common repeat, or queues a change for its zone's group commit
/// (`http::serve_here`: a few reads of the local SQLite file), on this runtime thread, with no
/// hand-off to a worker and back (measured: about ten futex calls and two thread wake-ups per
/// request), with a pooled store that allows it. `None` for any other request, and when no
/// pooled store is idle (opening one would block). A panic answers `911`, as on a worker, and
/// its store is dropped.
fn here(shared: &Shared, incoming: &crate::request::Incoming<'_>, log: &Log) -> Option<Result<Reply, update::Queued>> {
    let mut store = {
        let mut stores = shared.stores.lock().ok()?;
        if !stores.last()?.reads_in_async() {
            return None;
        }
        stores.pop()?
    };
    let config = &shared.config;
    let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        super::serve_here(config, &mut store, shared.passwords.as_ref(), &shared.batcher, incoming, log)
    }));
    match answered {
        Ok(answer) => {
            shared.put_back(store);
            answer
        }
        Err(_) => {
            log.error("internal error: the request handler panicked");
            Some(Ok(server_error()))
        }
    }
}
