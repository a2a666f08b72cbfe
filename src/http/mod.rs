//! The transports: CGI (`cgi`, one process per request, RFC 3875) and FastCGI (`fastcgi`, a
//! long-running server). Both turn what the web server sends into the same `Env` and bounded
//! body, call [`serve`], and write the same `Reply` bytes; they decide nothing. `serve` is the
//! one place that picks the handler by path: the acme-dns API below `[acme] path`, the
//! Prometheus metrics at `[metrics] path` (when `[metrics] allow` is set), the web console
//! below `[web] path` (when `[web]` is set; a prefix check, before anything of dyndns2),
//! dyndns2 (`update::handle`) everywhere else.

use crate::auth::PasswordCache;
use crate::config::Config;
use crate::log::Log;
use crate::reply::{self, Reply};
use crate::request::Incoming;
use crate::store::Store;
use crate::{acme, metrics, update, web};

pub(crate) mod cgi;
pub(crate) mod fastcgi;

/// Answers one request, and logs its request line when `[log] log_requests` is on.
pub(crate) fn serve(
    config: &Config,
    store: &mut Store,
    resident: update::Resident<'_>,
    req: &Incoming<'_>,
    log: &Log,
) -> Reply {
    if let Some(reply) = acme::handle(config, store, req, log) {
        return reply;
    }
    if let Some(reply) = metrics::handle(config, store, req, log) {
        return reply;
    }
    if let Some(reply) = web::handle(config, store, req, log) {
        return reply;
    }
    let handled = update::handle(config, store, resident, req.env, req.body, req.now, log);
    finish(config, req, &handled, log)
}

/// Answers the request if it is the common repeat (`update::repeat`), without blocking;
/// `None`, with nothing written or logged, for any other: `serve` answers that.
pub(crate) fn serve_repeat(
    config: &Config,
    store: &mut Store,
    passwords: Option<&PasswordCache>,
    req: &Incoming<'_>,
    log: &Log,
) -> Option<Reply> {
    if acme::claims(config, req.env) || metrics::claims(config, req.env) || web::claims(config, req.env) {
        return None;
    }
    let handled = update::repeat(config, store, passwords, req.env, req.body, req.now, log)?;
    Some(finish(config, req, &handled, log))
}

/// The request line (when `[log] log_requests` is on) and the reply.
fn finish(config: &Config, req: &Incoming<'_>, handled: &update::Handled, log: &Log) -> Reply {
    if config.log.log_requests {
        cgi::log_request(log, config, req.env, handled, req.started);
    }
    reply::render(&handled.answer, handled.format)
}
