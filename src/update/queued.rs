//! A FastCGI request whose one change waits for its zone's group commit without a thread
//! (`Resident::park`; docs/design/group-commit.md, "Waiting without a worker"): what the rest
//! of the request needs while it waits, how it is finished once woken (on the runtime's thread
//! when that writes nothing, else on a worker, which also leads a run it was handed), and
//! `queue_here`, the whole first part of such a request on the runtime's thread when it needs
//! no blocking work at all.

use super::auth::{self, Authorized, Checked};
use super::changes::{self, Ahead, Parked};
use super::{Batcher, Handled, HostLine, Request, UpdateError, change_of, conclude, host_line, targets};
use crate::audit::Origin;
use crate::auth::PasswordCache;
use crate::config::{Config, Level};
use crate::log::Log;
use crate::ratelimit::Reservation;
use crate::reply::{Answer, HostAnswer};
use crate::request::{self, Env, HostArg};
use crate::store::Store;

/// What [`super::handle`] did: answered, or stopped where the request's one change waits for its
/// zone's group commit, holding no thread, worker, connection or lock (FastCGI).
#[derive(Debug)]
pub(crate) enum Handling {
    Done(Handled),
    Queued(Queued),
}

/// A request whose one change waits in its zone's queue (`Resident::park`), with what the rest
/// of it needs: the rest is what `handle` does after `update` (the rate limit settled, refusals
/// recorded, the read-back), which needs no lock. The transport awaits [`Queued::woken`], then
/// finishes it with [`Queued::answer_here`] or, on a worker, [`Queued::resume`].
#[derive(Debug)]
pub(crate) struct Queued(pub(super) Box<Rest>);

/// What a queued request holds (boxed: it travels between the task and the workers).
#[derive(Debug)]
pub(super) struct Rest {
    pub(super) wait: Wait,
    pub(super) fqdn: String,
    pub(super) request: Request,
    pub(super) reservation: Reservation,
    pub(super) handled: Handled,
    pub(super) now: i64,
}

/// Where a queued request's change stands.
#[derive(Debug)]
pub(super) enum Wait {
    Parked(Parked),
    /// Another run answered it; the rest needs a store.
    Answered(HostAnswer),
}

impl Queued {
    /// Ready once the change is answered or handed a run to lead.
    pub(crate) async fn woken(&self) {
        if let Wait::Parked(parked) = &self.0.wait {
            parked.woken().await;
        }
    }

    /// Finishes the request without a store, when its change was answered by another run and
    /// the rest writes nothing (no rate limit to settle, no refusal to record): what it does is
    /// then logging and the answer. `Err(self)` otherwise, for [`Queued::resume`].
    pub(crate) fn answer_here(mut self, config: &Config, log: &Log) -> Result<Handled, Queued> {
        let rest = &mut *self.0;
        let wait = std::mem::replace(&mut rest.wait, Wait::Answered(HostAnswer::ServerError));
        rest.wait = match wait {
            Wait::Parked(parked) => parked.answer().map_or_else(Wait::Parked, Wait::Answered),
            answered @ Wait::Answered(_) => answered,
        };
        let Wait::Answered(answer) = &rest.wait else { return Err(self) };
        let result = host_line(&rest.fqdn, Ok(answer.clone()), log).map(|line| vec![line]);
        if !writes_nothing(config, &result) {
            return Err(self);
        }
        let Rest { request, reservation, handled, now, .. } = *self.0;
        Ok(conclude(config, None, &request, reservation, result, handled, now, log))
    }

    /// Answers nothing of the request (its transport answers `911`: no store could be had);
    /// a run its change was handed answers `911` to each of its changes, sending and storing
    /// nothing, so the zone's queue goes on.
    pub(crate) fn abandon(self, batcher: &Batcher) {
        if let Wait::Parked(parked) = self.0.wait
            && let Err(leading) = parked.resume(batcher)
        {
            leading.run(|_| Vec::new(), || HostAnswer::ServerError);
        }
    }

    /// Finishes the request on a worker: leads the run its change was handed (or waits for its
    /// answer, if not yet woken), then the rest of `handle`.
    pub(crate) fn resume(self, config: &Config, store: &mut Store, batcher: &Batcher, log: &Log) -> Handled {
        let Rest { wait, fqdn, request, reservation, handled, now } = *self.0;
        let answer = match wait {
            Wait::Parked(parked) => changes::resume(config, store, batcher, parked, now),
            Wait::Answered(answer) => answer,
        };
        let result = host_line(&fqdn, Ok(answer), log).map(|line| vec![line]);
        conclude(config, Some(store), &request, reservation, result, handled, now, log)
    }
}

/// Whether the rest of a request (`conclude`) writes nothing: the rate limits are off (nothing
/// reserved, nothing to settle) and no line is a refusal for the audit trail.
fn writes_nothing(config: &Config, result: &Result<Vec<HostLine>, UpdateError>) -> bool {
    !config.rate_limit.enabled
        && matches!(result, Ok(lines) if lines.iter().all(|l| !matches!(l.answer, HostAnswer::Nohost | HostAnswer::Notfqdn)))
}

/// What [`queue_here`] did with a request.
#[derive(Debug)]
pub(crate) enum Here {
    /// A current repeat, answered (with `handle`'s answer and log line).
    Answered(Handled),
    /// Its change waits in its zone's queue (or holds the run it leads, for a worker).
    Queued(Queued),
}

/// The first part of a request up to its zone's queue, without blocking, on the thread that
/// read it (FastCGI): what the repeat reads (docs/design/repeats.md: the token or a password
/// verified earlier, the relays, the host's row; one snapshot, writing nothing), and then, for
/// a change of the user's own host that `handle` would queue (one hostname, no relays, no fan-out, the rate
/// limits off, which need a write first), the change queued as `handle` queues it. So a
/// storm's request takes no worker at all unless it leads a run. `None` for every other
/// request, before anything was queued or logged: a worker's `handle` answers it.
#[allow(clippy::too_many_arguments, reason = "the request's context, passed down as is")]
pub(crate) fn queue_here(
    config: &Config,
    store: &mut Store,
    passwords: Option<&PasswordCache>,
    batcher: &Batcher,
    env: &Env,
    body: &[u8],
    now: i64,
    log: &Log,
) -> Option<Here> {
    if config.rate_limit.enabled {
        return None;
    }
    let request = request::parse(env, body, config).ok()?;
    if request.proxy_fallback.is_some() || request.ipv6_prefix.is_some() {
        return None;
    }
    let read = store.read_together(|store| {
        let quiet = log.silenced();
        let Ok(Checked::Done(authorized)) = auth::check(store, passwords, &request, now, &quiet) else {
            return None;
        };
        let change = change_of(&request).ok()?;
        request.wait.as_ref().ok()?;
        let hostnames = targets(authorized.token_host.clone(), &request.hostnames).ok()?;
        let [HostArg::Valid(fqdn)] = hostnames.as_ref() else { return None };
        if !store.relays_for_update(fqdn, authorized.user.id).ok()?.is_empty() {
            return None;
        }
        let ahead = changes::look_ahead(store, &authorized.user, fqdn, &change, now, log).ok()?;
        Some((authorized, change, fqdn.clone(), ahead))
    });
    let (Authorized { user, auth, token, .. }, change, fqdn, ahead) = read.ok()??;
    let mut handled = Handled::of(&request);
    let (zone, host) = match ahead {
        Ahead::Answer(answer) => {
            log.debug(format_args!("{fqdn}: answered from the row, without a worker"));
            handled.answer = Answer::Hosts(vec![HostLine { hostname: fqdn, answer }]);
            return Some(Here::Answered(handled));
        }
        Ahead::Queue { zone, fqdn } => (zone, fqdn),
        Ahead::Worker => return None,
    };
    // Authentication logs only debug lines when it needs no Argon2 (a token checked, a
    // password verified earlier), which the snapshot's pass kept quiet (it may run twice): at
    // debug level they are logged by checking once more, as a worker's `handle` logs them;
    // the answer is the snapshot's.
    if config.log.level >= Level::Debug {
        let _ = auth::check(store, passwords, &request, now, log);
    }
    let origin = Origin { client: request.client, auth, user: user.name.clone(), txn: log.txn().to_owned() };
    let parked = changes::enqueue_parked(batcher, &user, &origin, token.as_ref(), &fqdn, (&zone, &host), change, log);
    let rest = Rest { wait: Wait::Parked(parked), fqdn, request, reservation: Reservation::default(), handled, now };
    Some(Here::Queued(Queued(Box::new(rest))))
}
