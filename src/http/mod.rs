//! The transports: CGI (`cgi`, one process per request, RFC 3875) and FastCGI (`fastcgi`, a
//! long-running server). Both turn what the web server sends into the same `Env` and bounded
//! body, call [`serve`], and write the same `Reply` bytes; they decide nothing. `serve` is the
//! one place that picks the handler by path: the acme-dns API below `[acme] path`, the
//! Prometheus metrics at `[metrics] path` (when `[metrics] allow` is set), the web console
//! below `[web] path` (when `[web]` is set; a prefix check, before anything of dyndns2),
//! dyndns2 (`update::handle`) everywhere else. An answer held for the read-back is a
//! [`Later`]: CGI waits for it in the process, FastCGI without holding a worker.

use std::time::Instant;

use crate::auth::PasswordCache;
use crate::config::Config;
use crate::confirm::{self, Pending, Watch};
use crate::log::Log;
use crate::reply::{self, Answer, Reply};
use crate::request::{Format, Incoming};
use crate::store::Store;
use crate::{acme, metrics, update, web};

pub(crate) mod cgi;
pub(crate) mod fastcgi;

/// A request's answer: ready, or to be sent once the read-back servers serve its change.
#[derive(Debug)]
pub(crate) enum Served {
    Now(Reply),
    Later(Later),
}

/// An answer held for the read-back (`confirm.rs`): the request's work is done (the change
/// committed, its lock released, its rate limit settled), only the answer waits. CGI waits
/// for it in the process ([`Served::wait_here`]); FastCGI follows the same watches without a
/// worker (`fastcgi/wait.rs`) and then calls [`Later::reply`].
#[derive(Debug)]
pub(crate) struct Later {
    /// One per zone the request changed and waits for.
    pub(crate) watches: Vec<Watch>,
    held: Held,
    /// The request's log (its transaction id): the lagging servers are logged with it.
    pub(crate) log: Log,
    /// The request line of `log_requests`, logged with its duration when the answer goes.
    line: Option<String>,
    started: Instant,
}

#[derive(Debug)]
enum Held {
    /// A dyndns2 answer, rendered once the watches are over (the JSON body shows them);
    /// `per_line[i]` is the watch of answer line `i`.
    Update { answer: Answer, format: Format, per_line: Vec<Option<usize>> },
    /// An answer that does not change with the read-back (acme-dns's `{"txt": ...}`).
    Ready(Reply),
}

impl Later {
    /// The reply, with what the watches saw (in the JSON body); logs each watch's outcome
    /// and the request line.
    pub(crate) fn reply(self) -> Reply {
        for watch in &self.watches {
            watch.finish(&self.log);
        }
        if let Some(line) = &self.line {
            cgi::log_request(&self.log, line, self.started);
        }
        match self.held {
            Held::Update { answer, format, per_line } => {
                let pending = Pending { watches: self.watches, per_line };
                reply::render_read_back(&answer, format, &pending.read_back())
            }
            Held::Ready(reply) => reply,
        }
    }
}

impl Served {
    /// The reply, after waiting in this thread for the read-back if it is held for it.
    pub(crate) fn wait_here(self, config: &Config) -> Reply {
        match self {
            Served::Now(reply) => reply,
            Served::Later(mut later) => {
                confirm::wait_here(config, &mut later.watches);
                later.reply()
            }
        }
    }
}

/// Answers one request, and logs its request line when `[log] log_requests` is on.
pub(crate) fn serve(
    config: &Config,
    store: &mut Store,
    resident: update::Resident<'_>,
    req: &Incoming<'_>,
    log: &Log,
) -> Served {
    match serve_or_queue(config, store, resident, req, log) {
        Ok(served) => served,
        // Only with `Resident::park`, which CGI does not set; answered here all the same.
        Err(queued) => resume(config, store, resident, queued, req, log),
    }
}

/// As [`serve`], but a dyndns2 request whose one change waits for its zone's group commit
/// (`Resident::park`, FastCGI) stops there: `Err(queued)`, which the transport awaits without a
/// thread ([`update::Queued::woken`]), then finishes with [`answer_queued`] or, on a worker,
/// [`resume`].
pub(crate) fn serve_or_queue(
    config: &Config,
    store: &mut Store,
    resident: update::Resident<'_>,
    req: &Incoming<'_>,
    log: &Log,
) -> Result<Served, update::Queued> {
    if let Some((reply, watch)) = acme::handle(config, store, req, log) {
        return Ok(match watch {
            Some(watch) => Served::Later(Later {
                watches: vec![watch],
                held: Held::Ready(reply),
                log: log.clone(),
                line: None,
                started: req.started,
            }),
            None => Served::Now(reply),
        });
    }
    if let Some(reply) = metrics::handle(config, store, req, log) {
        return Ok(Served::Now(reply));
    }
    if let Some(reply) = web::handle(config, store, req, log) {
        return Ok(Served::Now(reply));
    }
    match update::handle(config, store, resident, req.env, req.body, req.now, log) {
        update::Handling::Done(handled) => Ok(served(config, req, handled, log)),
        update::Handling::Queued(queued) => Err(queued),
    }
}

/// Finishes a queued request on a worker (see [`serve_or_queue`]).
pub(crate) fn resume(
    config: &Config,
    store: &mut Store,
    resident: update::Resident<'_>,
    queued: update::Queued,
    req: &Incoming<'_>,
    log: &Log,
) -> Served {
    let Some(batcher) = resident.batcher else {
        // No group commit, so nothing was queued; a `911` rather than a wait for nothing.
        log.error("internal error: a queued request without its group commit");
        return Served::Now(reply::render(&Answer::Account(reply::AccountAnswer::ServerError), Format::Text));
    };
    let handled = queued.resume(config, store, batcher, log);
    served(config, req, handled, log)
}

/// Finishes a queued request without a store when its change was answered and the rest
/// writes nothing (`update::Queued::answer_here`); `Err` for [`resume`] otherwise.
pub(crate) fn answer_queued(
    config: &Config,
    queued: update::Queued,
    req: &Incoming<'_>,
    log: &Log,
) -> Result<Served, update::Queued> {
    let handled = queued.answer_here(config, log)?;
    Ok(served(config, req, handled, log))
}

/// A handled dyndns2 request's answer: now, or held for the read-back.
fn served(config: &Config, req: &Incoming<'_>, mut handled: update::Handled, log: &Log) -> Served {
    let Pending { watches, per_line } = std::mem::take(&mut handled.read_back);
    if watches.is_empty() {
        return Served::Now(finish(config, req, &handled, log));
    }
    let line = config.log.log_requests.then(|| cgi::request_line(config, req.env, &handled));
    Served::Later(Later {
        watches,
        held: Held::Update { answer: handled.answer, format: handled.format, per_line },
        log: log.clone(),
        line,
        started: req.started,
    })
}

/// Answers the request without blocking if it is the common repeat, or queues it if it is a
/// change that `handle` would queue for its zone's group commit (`update::queue_here`):
/// `Err(queued)` for the transport to await, as from [`serve_or_queue`]. `None`, with nothing
/// written, queued or logged, for any other request: [`serve`] answers that.
pub(crate) fn serve_here(
    config: &Config,
    store: &mut Store,
    passwords: Option<&PasswordCache>,
    batcher: &update::Batcher,
    req: &Incoming<'_>,
    log: &Log,
) -> Option<Result<Reply, update::Queued>> {
    if acme::claims(config, req.env) || metrics::claims(config, req.env) || web::claims(config, req.env) {
        return None;
    }
    match update::queue_here(config, store, passwords, batcher, req.env, req.body, req.now, log)? {
        update::Here::Answered(handled) => Some(Ok(finish(config, req, &handled, log))),
        update::Here::Queued(queued) => Some(Err(queued)),
    }
}

/// The request line (when `[log] log_requests` is on) and the reply.
fn finish(config: &Config, req: &Incoming<'_>, handled: &update::Handled, log: &Log) -> Reply {
    if config.log.log_requests {
        cgi::log_request(log, &cgi::request_line(config, req.env, handled), req.started);
    }
    reply::render(&handled.answer, handled.format)
}
