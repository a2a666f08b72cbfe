//! The changes of an update: what a request (or an administrator's `hostname set`,
//! `admin_set`) does to each host (`Change`), each host's
//! changes replayed in order under its host lock (`state::HostState`), one RFC 2136 message per
//! zone and one transaction for the batch (`run::run_changes`), and the `ipv6prefix` fan-out's
//! glue. The database changes only after the DNS server answered NOERROR.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::audit::{AuthMethod, Origin};
use crate::auth::token::Scope;
use crate::batch::Turn;
use crate::config::{Absent, Config};
use crate::log::Log;
use crate::reply::{self, HostAnswer};
use crate::request::{self, Addresses, TxtChange};
use crate::store::{Host, Store, StoreError, User};

mod run;
mod state;

use run::run_changes;
use state::HostState;

/// What a request does to each of its hosts.
#[derive(Clone, Debug)]
pub(super) enum Change {
    Publish(Publish),
    /// Remove the host's A, AAAA and TXT records.
    Offline,
    /// An administrator's `hostname set`: these addresses, whatever the host's state.
    Set(Set),
}

/// The addresses `hostname set` gives a host: `Some(None)` removes that family's record,
/// `None` keeps what DNS holds of it. The TTL and the TXT value stay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Set {
    pub(crate) ipv4: Option<Option<Ipv4Addr>>,
    pub(crate) ipv6: Option<Option<Ipv6Addr>>,
}

/// Publish these addresses (and TXT change), with this TTL when the client asked for one.
#[derive(Clone, Debug)]
pub(super) struct Publish {
    pub(super) addresses: Addresses,
    /// What happens to the host's records of a family `addresses` lacks: kept, or removed
    /// (the endpoint's `absent`).
    pub(super) absent: Absent,
    pub(super) ttl: Option<u32>,
    pub(super) txt: Option<TxtChange>,
}

/// What a host token authorised, held to it again under the host locks (`run::run_changes`),
/// where the change that will be sent is known. Why there and not at authentication: what a
/// request touches depends on the row. `offline=yes` deletes A, AAAA and TXT; a new TTL
/// sends every published rrset again; neither shows in the request's own addresses, and a
/// `nochg` touches nothing at all. So each change is held to the rrsets that `dns_change`
/// puts in its RFC 2136 message, read under the lock and before anything is sent, and to
/// the token as it is then: one revoked or replaced since authentication authorises nothing.
#[derive(Clone, Debug)]
pub(super) struct TokenHold {
    /// The token's own hostname; a fan-out's children are held to their parent's token.
    pub(super) host: String,
    pub(super) digest: Vec<u8>,
    /// Its scope; only the record types are checked again (the client and the time are the
    /// request's, checked at authentication).
    pub(super) scope: Scope,
}

/// One change of one hostname, as the group commit sees it: whose, what, and the log of the
/// request it came from.
#[derive(Debug)]
pub(crate) struct Pending {
    fqdn: String,
    user_id: i64,
    user_name: String,
    change: Change,
    log: Log,
    /// For the audit trail.
    origin: Origin,
    /// Set when a host token authorised the change.
    token: Option<TokenHold>,
}

/// The group commit of FastCGI mode (see `batch`).
pub(crate) type Batcher = crate::batch::Batcher<Pending, HostAnswer>;

/// A change parked in its zone's group commit (FastCGI, `Resident::park`).
pub(crate) type Parked = crate::batch::Parked<Pending, HostAnswer>;

/// Where `queue_change` left a change: answered, or waiting in its zone's queue.
enum Queued<'b> {
    Answer(HostAnswer),
    Wait(crate::batch::Waiting<'b, Pending, HostAnswer>),
}

/// Changes one hostname: in CGI on its own; in FastCGI through the zone's group commit, where
/// changes that arrive while the zone's runs are in flight go in one message together. A
/// change that waits holds its thread, with its worker given back (`OffDuty`).
#[allow(clippy::too_many_arguments, reason = "the handler's context, passed down as is")]
pub(super) fn change_host(
    config: &Config,
    store: &mut Store,
    resident: super::Resident<'_>,
    user: &User,
    origin: &Origin,
    token: Option<&TokenHold>,
    fqdn: &str,
    change: Change,
    now: i64,
    log: &Log,
) -> Result<HostAnswer, StoreError> {
    let waiting = match queue_change(config, store, resident, user, origin, token, fqdn, change, now, log)? {
        Queued::Answer(answer) => return Ok(answer),
        Queued::Wait(waiting) => waiting,
    };
    // The wait holds no lock and no transaction: the worker and its connection go back
    // meanwhile, so the changes one message carries are not bounded by them.
    let mut waiting = Some(waiting);
    let mut woken = None;
    let mut wait = || woken = waiting.take().map(crate::batch::Waiting::wait);
    match resident.worker {
        Some(worker) => worker.off_duty(store, &mut wait),
        None => wait(),
    }
    // Waited here if the worker did not: a change handed a run must lead it, or the zone's
    // queue would stall.
    if let Some(waiting) = waiting.take() {
        woken = Some(waiting.wait());
    }
    let failed = || HostAnswer::ServerError;
    match woken {
        Some(Ok(answer)) => Ok(answer),
        Some(Err(leading)) => Ok(leading.run(|batch| run_changes(config, store, batch, now), failed)),
        None => Ok(failed()),
    }
}

/// As [`change_host`], but a change that waits for its zone's group commit gives its thread
/// back too: `Err(parked)`, which the transport awaits as a task and then [`resume`]s on a
/// worker. Only for a change whose request goes on with nothing else of its own but
/// answering (one hostname, no relays, no fan-out): the rest of the request is then
/// `update::Queued`'s.
#[allow(clippy::too_many_arguments, reason = "the handler's context, passed down as is")]
pub(super) fn change_or_park(
    config: &Config,
    store: &mut Store,
    resident: super::Resident<'_>,
    user: &User,
    origin: &Origin,
    token: Option<&TokenHold>,
    fqdn: &str,
    change: Change,
    now: i64,
    log: &Log,
) -> Result<Result<HostAnswer, Parked>, StoreError> {
    Ok(match queue_change(config, store, resident, user, origin, token, fqdn, change, now, log)? {
        Queued::Answer(answer) => Ok(answer),
        Queued::Wait(waiting) => Err(waiting.park()),
    })
}

/// The answer of a parked change, once woken: the one another run gave it, or its own from the
/// run it was handed, which it leads here (on a worker, with its permit and a store).
pub(super) fn resume(config: &Config, store: &mut Store, batcher: &Batcher, parked: Parked, now: i64) -> HostAnswer {
    match parked.resume(batcher) {
        Ok(answer) => answer,
        Err(leading) => leading.run(|batch| run_changes(config, store, batch, now), || HostAnswer::ServerError),
    }
}

/// What [`queue_change`] would do with a change, as far as one unlocked read that writes
/// nothing can tell (FastCGI's first part on the runtime's thread, `update::queued`).
pub(super) enum Ahead {
    /// A current repeat: its answer, logged.
    Answer(HostAnswer),
    /// A change of the user's own host, for its zone's queue.
    Queue { zone: String, fqdn: String },
    /// Anything else (no such host, another user's, a repeat due for a touch): a worker's.
    Worker,
}

/// See [`Ahead`]; nothing is logged but a repeat's answer, after the read.
pub(super) fn look_ahead(
    store: &Store,
    user: &User,
    fqdn: &str,
    change: &Change,
    now: i64,
    log: &Log,
) -> Result<Ahead, StoreError> {
    let Some(host) = store.host(fqdn)?.filter(|h| h.user_id == user.id) else { return Ok(Ahead::Worker) };
    Ok(match repeat_of(&host, change, now) {
        Repeat::Current(answer, state) => {
            log_answer(log, fqdn, change, &answer, &state);
            Ahead::Answer(answer)
        }
        Repeat::TouchDue => Ahead::Worker,
        Repeat::Change => Ahead::Queue { zone: host.zone, fqdn: host.fqdn },
    })
}

/// Queues a change [`look_ahead`] found for its zone's queue, parked: waiting, or handed the
/// run it would lead, which a worker runs when it resumes it (`resume`).
#[allow(clippy::too_many_arguments, reason = "the change's context, passed down as is")]
pub(super) fn enqueue_parked(
    batcher: &Batcher,
    user: &User,
    origin: &Origin,
    token: Option<&TokenHold>,
    fqdn: &str,
    (zone, host): (&str, &str),
    change: Change,
    log: &Log,
) -> Parked {
    let pending = Pending {
        fqdn: fqdn.to_owned(),
        user_id: user.id,
        user_name: user.name.clone(),
        change,
        log: log.clone(),
        origin: origin.clone(),
        token: token.cloned(),
    };
    match batcher.enqueue(zone, host, pending) {
        Turn::Lead(leading) => leading.park(),
        Turn::Wait(waiting) => {
            log.debug(format_args!("{fqdn}: waits for the group commit of zone `{zone}`, queued without a worker"));
            waiting.park()
        }
    }
}

/// A change up to its zone's queue: answered at once (no such host, a current repeat, a
/// repeat due for a touch run alone, CGI's run, or a run it leads now), or waiting there.
#[allow(clippy::too_many_arguments, reason = "the handler's context, passed down as is")]
fn queue_change<'b>(
    config: &Config,
    store: &mut Store,
    resident: super::Resident<'b>,
    user: &User,
    origin: &Origin,
    token: Option<&TokenHold>,
    fqdn: &str,
    change: Change,
    now: i64,
    log: &Log,
) -> Result<Queued<'b>, StoreError> {
    let pending = Pending {
        fqdn: fqdn.to_owned(),
        user_id: user.id,
        user_name: user.name.clone(),
        change,
        log: log.clone(),
        origin: origin.clone(),
        token: token.cloned(),
    };
    // One read, without the host's lock: a host's zone never changes, and what it decides here
    // the locked read-modify-write decides again, except for the repeat below.
    let Some(host) = store.host(fqdn)? else {
        log.info(format_args!("{fqdn}: no such hostname for user `{}`", user.name));
        return Ok(Queued::Answer(HostAnswer::Nohost));
    };
    // A repeat whose row is due for a touch would only wait in the zone's queue: it runs at
    // once under its own lock, which decides again on the row as it is then (and sends its own
    // message if it now needs one).
    let mut alone = false;
    if host.user_id == user.id {
        match repeat_of(&host, &pending.change, now) {
            Repeat::Current(answer, state) => {
                log_answer(log, fqdn, &pending.change, &answer, &state);
                return Ok(Queued::Answer(answer));
            }
            Repeat::TouchDue => alone = true,
            Repeat::Change => {}
        }
    }
    let failed = || HostAnswer::ServerError;
    let Some(batcher) = resident.batcher.filter(|_| !alone) else {
        return Ok(Queued::Answer(run_changes(config, store, vec![pending], now).pop().unwrap_or_else(failed)));
    };
    let leading = match batcher.enqueue(&host.zone, &host.fqdn, pending) {
        Turn::Lead(leading) => leading,
        Turn::Wait(waiting) => {
            log.debug(format_args!("{fqdn}: waits for the group commit of zone `{}`", host.zone));
            return Ok(Queued::Wait(waiting));
        }
    };
    Ok(Queued::Answer(leading.run(|batch| run_changes(config, store, batch, now), failed)))
}

/// What `change` is to a host's row as read.
#[derive(Debug)]
enum Repeat {
    /// The common repeat: the records are current and the row was touched recently, so there
    /// is nothing to send and nothing to write. The answer is that of the read (one statement,
    /// one read transaction); see docs/design/repeats.md.
    Current(HostAnswer, HostState),
    /// Nothing to send, but the row's time is due for a touch: a write under the host lock.
    TouchDue,
    /// Something to send (or an answer other than `nochg`), or a row marked `dns_pending`,
    /// whose records are sent again.
    Change,
}

fn repeat_of(host: &Host, change: &Change, now: i64) -> Repeat {
    // DNS may hold a change whose row write failed: only the locked run, which publishes the
    // row's records again, may answer.
    if host.dns_pending {
        return Repeat::Change;
    }
    let mut state = HostState::of(host);
    match state.apply(change) {
        answer @ HostAnswer::Nochg(_) if !touch_due(host, now) => Repeat::Current(answer, state),
        HostAnswer::Nochg(_) => Repeat::TouchDue,
        HostAnswer::Good(_)
        | HostAnswer::Nohost
        | HostAnswer::Notfqdn
        | HostAnswer::Dnserr
        | HostAnswer::ServerError
        | HostAnswer::TokenRefused(_) => Repeat::Change,
    }
}

/// Changes `fqdn` and the hostnames derived from it (`fanout`) in one run, so that those of
/// one zone go in one UPDATE message with it. `None` when no hostname follows `fqdn` (or the
/// prefix length is outside /48../64, logged): then it is an ordinary change. The children's
/// answers are logged with the request's transaction id; the request answers for `fqdn`
/// alone. A child whose address is unchanged answers `nochg` in `run_changes` and is not sent;
/// a child that fails is sent again on its own (the per-host fallback) and fails alone.
#[allow(clippy::too_many_arguments, reason = "the handler's context, passed down as is")]
pub(super) fn fan_out(
    config: &Config,
    store: &mut Store,
    user: &User,
    origin: &Origin,
    token: Option<&TokenHold>,
    fqdn: &str,
    publish: &Publish,
    prefix: request::Ipv6Prefix,
    now: i64,
    log: &Log,
) -> Result<Option<HostAnswer>, StoreError> {
    // A parent whose A record this update removes has no IPv4 for its children to follow:
    // they keep their own.
    let parent_ipv4 = match (publish.addresses.ipv4, publish.absent) {
        (Some(a), _) => Some(a),
        (None, Absent::Keep) => store.stored_ipv4(fqdn)?,
        (None, Absent::Remove) => None,
    };
    let crate::fanout::Plan { children, unusable } =
        match crate::fanout::plan(store, fqdn, user.id, prefix, parent_ipv4)? {
            Ok(plan) => plan,
            Err(crate::fanout::Skipped::PrefixLength(len)) => {
                log.warn(format_args!(
                    "{fqdn}: IPv6 prefix `{prefix}` is not fanned out: its length /{len} is outside /{}../{}",
                    crate::fanout::MIN_PREFIX_LEN,
                    crate::fanout::MAX_PREFIX_LEN
                ));
                return Ok(None);
            }
        };
    for child in &unusable {
        log.warn(format_args!("{child}: its interface id leaves no host bits under `{prefix}`; not updated"));
    }
    if children.is_empty() {
        log.debug(format_args!("{fqdn}: IPv6 prefix `{prefix}`: no hostname follows it"));
        return Ok(None);
    }
    let mut batch = vec![Pending {
        fqdn: fqdn.to_owned(),
        user_id: user.id,
        user_name: user.name.clone(),
        change: Change::Publish(publish.clone()),
        log: log.clone(),
        origin: origin.clone(),
        token: token.cloned(),
    }];
    batch.extend(children.iter().map(|c| Pending {
        fqdn: c.fqdn.clone(),
        user_id: user.id,
        user_name: user.name.clone(),
        change: Change::Publish(Publish {
            addresses: Addresses { ipv4: c.ipv4, ipv6: Some(c.ipv6) },
            absent: Absent::Keep,
            ttl: c.dns_ttl,
            txt: None,
        }),
        log: log.clone(),
        origin: origin.clone(),
        token: token.cloned(),
    }));
    // Not through the group commit: its runs hold one zone, and the children may be in
    // others. The host locks order this run with every other change of these hosts.
    let mut answers = run_changes(config, store, batch, now).into_iter();
    let parent = answers.next().unwrap_or(HostAnswer::ServerError);
    for (child, answer) in children.iter().zip(answers) {
        log.info(format_args!(
            "{}: fan-out of `{prefix}` from `{}`: {}",
            child.fqdn,
            child.parent,
            reply::host_token(&answer)
        ));
    }
    Ok(Some(parent))
}

/// An administrator's `hostname set` of `fqdn`: the same run as a request's change (under the
/// host lock, `dns_pending` first, the row written only after NOERROR), with an audit row of
/// kind `change` whose method is `admin` and whose user is `actor`, the login that ran the
/// command. The host's relays are not sent (an upstream provider hears from the host's own
/// updates), nor are the hostnames that follow its prefix. `Nochg` when DNS already holds
/// these addresses; a DNS failure is logged to `log` with the server and the rcode.
pub(crate) fn admin_set(
    config: &Config,
    store: &mut Store,
    fqdn: &str,
    set: Set,
    actor: &str,
    now: i64,
    log: &Log,
) -> Result<HostAnswer, StoreError> {
    let log = log.with_txn(crate::log::transaction_id());
    let origin = Origin { client: None, auth: AuthMethod::Admin, user: actor.to_owned(), txn: log.txn().to_owned() };
    change_as_owner(config, store, fqdn, Change::Set(set), origin, log, now)
}

/// Runs `change` of `fqdn` alone, on its owner's row, as `origin` made it (the console's or an
/// administrator's change, whose user is the one who made it, not the owner); `Nohost` when
/// there is no such host.
fn change_as_owner(
    config: &Config,
    store: &mut Store,
    fqdn: &str,
    change: Change,
    origin: Origin,
    log: Log,
    now: i64,
) -> Result<HostAnswer, StoreError> {
    let Some(host) = store.host(fqdn)? else { return Ok(HostAnswer::Nohost) };
    let pending = Pending {
        fqdn: host.fqdn,
        // The owner's, so the run treats the row as this change's own.
        user_id: host.user_id,
        user_name: origin.user.clone(),
        change,
        log,
        origin,
        token: None,
    };
    Ok(run_changes(config, store, vec![pending], now).pop().unwrap_or(HostAnswer::ServerError))
}

/// What the web console asks of one host (`web/`), in its web user's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ConsoleChange {
    /// As dyndns2 `offline=yes`: remove the A, AAAA and TXT records.
    Offline,
    /// As `hostname set`: these addresses, whatever the host's state (back online too).
    Set(Set),
    /// As a TXT-only update (`txt=`): publish this value or remove the record.
    Txt(TxtChange),
}

/// A change the web console's user `actor` made to `fqdn` from `client`: the same run as a
/// request's change and `hostname set` (under the host lock, `dns_pending` first, the row
/// written only after NOERROR), with an audit row whose method is `console` and whose user is
/// the web user. The console checked that `actor` may change the host; the row is the owner's.
/// The host's relays and the hostnames that follow it are not sent, as for `hostname set`.
#[allow(clippy::too_many_arguments, reason = "the console's context, passed down as is")]
pub(crate) fn console_change(
    config: &Config,
    store: &mut Store,
    fqdn: &str,
    change: ConsoleChange,
    actor: &str,
    client: Option<std::net::IpAddr>,
    now: i64,
    log: &Log,
) -> Result<HostAnswer, StoreError> {
    let origin = Origin { client, auth: AuthMethod::Console, user: actor.to_owned(), txn: log.txn().to_owned() };
    let change = match change {
        ConsoleChange::Offline => Change::Offline,
        ConsoleChange::Set(set) => Change::Set(set),
        ConsoleChange::Txt(txt) => Change::Publish(Publish {
            addresses: Addresses { ipv4: None, ipv6: None },
            absent: Absent::Keep,
            ttl: None,
            txt: Some(txt),
        }),
    };
    change_as_owner(config, store, fqdn, change, origin, log.clone(), now)
}

/// Whether a repeat must write the host's last-update time: when the stored one is at least
/// the host's touch interval old ([`Host::touch_interval`], which the expiry run adds to its
/// cut-off). A host that never updated, or whose clock ran backwards, is touched.
fn touch_due(host: &Host, now: i64) -> bool {
    host.last_update.is_none_or(|t| now < t || now - t >= host.touch_interval())
}

fn log_answer(log: &Log, fqdn: &str, change: &Change, answer: &HostAnswer, state: &HostState) {
    match (answer, change) {
        (HostAnswer::Good(_), Change::Offline) => {
            log.info(format_args!("{fqdn}: offline (A, AAAA and TXT removed)"));
        }
        (HostAnswer::Good(new), Change::Publish(publish)) => log.info(format_args!(
            "{fqdn}: updated ({}{}, ttl {}){}",
            show(new.ipv4, new.ipv6, publish.absent),
            show_txt(publish.txt.as_ref()),
            state.dns_ttl,
            ignored(publish, state)
        )),
        (HostAnswer::Good(new), Change::Set(_)) => log.info(format_args!(
            "{fqdn}: set by an administrator ({}, ttl {})",
            show(new.ipv4, new.ipv6, Absent::Remove),
            state.dns_ttl
        )),
        (HostAnswer::Nochg(_), Change::Offline) => log.info(format_args!("{fqdn}: already offline")),
        (HostAnswer::Nochg(new), Change::Set(_)) => log.info(format_args!(
            "{fqdn}: no change by the administrator ({})",
            show(new.ipv4, new.ipv6, Absent::Remove)
        )),
        (HostAnswer::Nochg(new), Change::Publish(publish)) => log.info(format_args!(
            "{fqdn}: no change ({}){}",
            show(new.ipv4, new.ipv6, publish.absent),
            ignored(publish, state)
        )),
        (
            HostAnswer::Nohost
            | HostAnswer::Notfqdn
            | HostAnswer::Dnserr
            | HostAnswer::ServerError
            | HostAnswer::TokenRefused(_),
            _,
        ) => {}
    }
}

/// The addresses of a log line; a family not given shows as `-` when it is kept and as
/// `none` when it is removed (`absent = "remove"`).
fn show(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, absent: Absent) -> String {
    let missing = match absent {
        Absent::Keep => "-",
        Absent::Remove => "none",
    };
    let v4 = ipv4.map_or_else(|| missing.to_owned(), |a| a.to_string());
    let v6 = ipv6.map_or_else(|| missing.to_owned(), |a| a.to_string());
    format!("ipv4={v4} ipv6={v6}")
}

/// What of an update the host's families left out, for its log line (the DDnsBroker's "IPv4
/// enabled"/"IPv6 enabled" off): `; ipv6 `…` ignored: off for this host`.
fn ignored(publish: &Publish, state: &HostState) -> String {
    let mut out = String::new();
    if let Some(a) = publish.addresses.ipv4.filter(|_| !state.families.ipv4) {
        out.push_str(&format!("; ipv4 `{a}` ignored: off for this host"));
    }
    if let Some(a) = publish.addresses.ipv6.filter(|_| !state.families.ipv6) {
        out.push_str(&format!("; ipv6 `{a}` ignored: off for this host"));
    }
    out
}

fn show_txt(change: Option<&TxtChange>) -> &'static str {
    match change {
        Some(TxtChange::Set(_)) => " txt=set",
        Some(TxtChange::Clear) => " txt=removed",
        None => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(expiry_ttl: u32, last_update: Option<i64>) -> Host {
        Host {
            id: 1,
            fqdn: "home.dyn.example.test".to_owned(),
            zone: "dyn.example.test".to_owned(),
            user_id: 1,
            dns_ttl: 60,
            expiry_ttl,
            ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ipv6: None,
            last_update,
            expired: false,
            offline: false,
            txt: None,
            dns_pending: false,
            families: crate::store::Families::BOTH,
        }
    }

    #[test]
    fn a_repeat_touches_the_row_once_per_interval() {
        // Never expiring, or expiring after an hour: a minute.
        for ttl in [0, 3_600] {
            assert!(!touch_due(&host(ttl, Some(1_000)), 1_000));
            assert!(!touch_due(&host(ttl, Some(1_000)), 1_059));
            assert!(touch_due(&host(ttl, Some(1_000)), 1_060));
        }
        // The shortest expiry (60 s): a tenth of it.
        assert!(!touch_due(&host(60, Some(1_000)), 1_005));
        assert!(touch_due(&host(60, Some(1_000)), 1_006));
        // Never updated, or stamped in the future (a clock that went back): touched.
        assert!(touch_due(&host(3_600, None), 1_000));
        assert!(touch_due(&host(3_600, Some(1_001)), 1_000));
    }
}
