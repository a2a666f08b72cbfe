//! The changes of an update: what a request does to each host (`Change`), each host's
//! changes replayed in order under its host lock (`HostState`), one RFC 2136 message per zone
//! and one transaction for the batch (`run_changes`), and the `ipv6prefix` fan-out's glue. The
//! database changes only after the DNS server answered NOERROR.

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::Name;

use crate::audit::{self, Origin, Records};
use crate::config::{Config, Zone};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::reply::HostAnswer;
use crate::request::{self, Addresses, TxtChange};
use crate::store::{AuditRow, AuditWrite, Host, HostWrite, Store, StoreError, User};

/// What a request does to each of its hosts.
#[derive(Clone, Debug)]
pub(super) enum Change {
    Publish(Publish),
    /// Remove the host's A, AAAA and TXT records.
    Offline,
}

/// Publish these addresses (and TXT change), with this TTL when the client asked for one.
#[derive(Clone, Debug)]
pub(super) struct Publish {
    pub(super) addresses: Addresses,
    pub(super) ttl: Option<u32>,
    pub(super) txt: Option<TxtChange>,
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
}

/// The group commit of FastCGI mode (see `batch`).
pub(crate) type Batcher = crate::batch::Batcher<Pending, HostAnswer>;

/// Changes one hostname: in CGI on its own; in FastCGI through the zone's group commit, where
/// changes that arrive while the zone's runs are in flight go in one message together.
#[allow(clippy::too_many_arguments, reason = "the handler's context, passed down as is")]
pub(super) fn change_host(
    config: &Config,
    store: &mut Store,
    batcher: Option<&Batcher>,
    user: &User,
    origin: &Origin,
    fqdn: &str,
    change: Change,
    now: i64,
    log: &Log,
) -> Result<HostAnswer, StoreError> {
    let pending = Pending {
        fqdn: fqdn.to_owned(),
        user_id: user.id,
        user_name: user.name.clone(),
        change,
        log: log.clone(),
        origin: origin.clone(),
    };
    // One read, without the host's lock: a host's zone never changes, and what it decides here
    // the locked read-modify-write decides again, except for the repeat below.
    let Some(host) = store.host(fqdn)? else {
        log.info(format_args!("{fqdn}: no such hostname for user `{}`", user.name));
        return Ok(HostAnswer::Nohost);
    };
    // A repeat whose row is due for a touch would only wait in the zone's queue: it runs at
    // once under its own lock, which decides again on the row as it is then (and sends its own
    // message if it now needs one).
    let mut alone = false;
    if host.user_id == user.id {
        match repeat_of(&host, &pending.change, now) {
            Repeat::Current(answer, state) => {
                log_answer(log, fqdn, &pending.change, &answer, &state);
                return Ok(answer);
            }
            Repeat::TouchDue => alone = true,
            Repeat::Change => {}
        }
    }
    match batcher {
        Some(batcher) if !alone => Ok(batcher.submit(
            &host.zone,
            &host.fqdn,
            pending,
            |batch| run_changes(config, store, batch, now),
            || HostAnswer::ServerError,
        )),
        _ => Ok(run_changes(config, store, vec![pending], now).pop().unwrap_or(HostAnswer::ServerError)),
    }
}

/// The answer `change_host` gives `change` of `user`'s `fqdn` when it is a repeat of the row
/// as it stands (one unlocked read; see [`repeat_of`]), with its log line. `None` for anything
/// else (no such host, another user's, a change, a row due for a touch), with nothing logged:
/// `change_host` decides those.
pub(super) fn current_repeat(
    store: &Store,
    user: &User,
    fqdn: &str,
    change: &Change,
    now: i64,
    log: &Log,
) -> Result<Option<HostAnswer>, StoreError> {
    let Some(host) = store.host(fqdn)?.filter(|h| h.user_id == user.id) else { return Ok(None) };
    match repeat_of(&host, change, now) {
        Repeat::Current(answer, state) => {
            log_answer(log, fqdn, change, &answer, &state);
            Ok(Some(answer))
        }
        Repeat::TouchDue | Repeat::Change => Ok(None),
    }
}

/// What `change` is to a host's row as read.
#[derive(Debug)]
enum Repeat {
    /// The common repeat: the records are current and the row was touched recently, so there
    /// is nothing to send and nothing to write. The answer is that of the read (one statement,
    /// one read transaction); see ARCHITECTURE.md, "Repeats".
    Current(HostAnswer, HostState),
    /// Nothing to send, but the row's time is due for a touch: a write under the host lock.
    TouchDue,
    /// Something to send (or an answer other than `nochg`).
    Change,
}

fn repeat_of(host: &Host, change: &Change, now: i64) -> Repeat {
    let mut state = HostState::of(host);
    match state.apply(change) {
        answer @ HostAnswer::Nochg(_) if !touch_due(host, now) => Repeat::Current(answer, state),
        HostAnswer::Nochg(_) => Repeat::TouchDue,
        HostAnswer::Good(_)
        | HostAnswer::Nohost
        | HostAnswer::Notfqdn
        | HostAnswer::Dnserr
        | HostAnswer::ServerError => Repeat::Change,
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
    fqdn: &str,
    publish: &Publish,
    prefix: request::Ipv6Prefix,
    now: i64,
    log: &Log,
) -> Result<Option<HostAnswer>, StoreError> {
    let parent_ipv4 = match publish.addresses.ipv4 {
        Some(a) => Some(a),
        None => store.stored_ipv4(fqdn)?,
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
    }];
    batch.extend(children.iter().map(|c| Pending {
        fqdn: c.fqdn.clone(),
        user_id: user.id,
        user_name: user.name.clone(),
        change: Change::Publish(Publish {
            addresses: Addresses { ipv4: c.ipv4, ipv6: Some(c.ipv6) },
            ttl: c.dns_ttl,
            txt: None,
        }),
        log: log.clone(),
        origin: origin.clone(),
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
            match answer {
                HostAnswer::Good(_) => "good",
                HostAnswer::Nochg(_) => "nochg",
                HostAnswer::Nohost => "nohost",
                HostAnswer::Notfqdn => "notfqdn",
                HostAnswer::Dnserr => "dnserr",
                HostAnswer::ServerError => "911",
            }
        ));
    }
    Ok(Some(parent))
}

/// The longest a repeat (`nochg`) leaves a host's last-update time unwritten. Expiry counts
/// from the stored time, so a host is expired at most this much earlier than its last repeat
/// plus its `expiry_ttl` (and never while it repeats more often than `expiry_ttl` minus this).
const TOUCH_INTERVAL_SECS: i64 = 60;

/// Whether a repeat must write the host's last-update time: when the stored one is older than
/// [`TOUCH_INTERVAL_SECS`], or than a tenth of the host's `expiry_ttl` (at least 60 s, so at
/// least 6 s), whichever is shorter. A host that never updated, or whose clock ran backwards,
/// is touched.
fn touch_due(host: &Host, now: i64) -> bool {
    let interval = match host.expiry_ttl {
        0 => TOUCH_INTERVAL_SECS,
        ttl => TOUCH_INTERVAL_SECS.min(i64::from(ttl) / 10),
    };
    host.last_update.is_none_or(|t| now < t || now - t >= interval)
}

/// A host's state as far as its records go, replayed change by change.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostState {
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    txt: Option<String>,
    dns_ttl: u32,
    expired: bool,
    offline: bool,
}

impl HostState {
    fn of(host: &Host) -> HostState {
        HostState {
            ipv4: host.ipv4,
            ipv6: host.ipv6,
            txt: host.txt.clone(),
            dns_ttl: host.dns_ttl,
            expired: host.expired,
            offline: host.offline,
        }
    }

    /// What DNS holds: nothing for an expired or offline host.
    fn published(&self) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
        if self.expired || self.offline { (None, None) } else { (self.ipv4, self.ipv6) }
    }

    /// The TXT value DNS holds: none for an expired or offline host.
    fn published_txt(&self) -> Option<&str> {
        if self.expired || self.offline { None } else { self.txt.as_deref() }
    }

    /// Applies one change, as if it came alone: the answer it gets. A host that is expired or
    /// offline has no records, so any update restores it (`good`, never `nochg`); the family
    /// not sent stays absent.
    /// A TXT value (`txt=`) is set or cleared the same way; a request without one keeps the
    /// host's TXT as DNS holds it.
    fn apply(&mut self, change: &Change) -> HostAnswer {
        match change {
            Change::Publish(Publish { addresses: new, ttl, txt }) => {
                let new = *new;
                let dns_ttl = ttl.unwrap_or(self.dns_ttl);
                let txt_after = match txt {
                    Some(TxtChange::Set(value)) => Some(value.clone()),
                    Some(TxtChange::Clear) => None,
                    None => self.published_txt().map(str::to_owned),
                };
                let unchanged = new.ipv4.is_none_or(|a| Some(a) == self.ipv4)
                    && new.ipv6.is_none_or(|a| Some(a) == self.ipv6)
                    && (txt.is_none() || txt_after == self.txt);
                if unchanged && dns_ttl == self.dns_ttl && !self.expired && !self.offline {
                    return HostAnswer::Nochg(new);
                }
                let (old_v4, old_v6) = self.published();
                *self = HostState {
                    ipv4: new.ipv4.or(old_v4),
                    ipv6: new.ipv6.or(old_v6),
                    txt: txt_after,
                    dns_ttl,
                    expired: false,
                    offline: false,
                };
                HostAnswer::Good(new)
            }
            Change::Offline => {
                let none = Addresses { ipv4: None, ipv6: None };
                if self.offline {
                    return HostAnswer::Nochg(none);
                }
                *self = HostState { ipv4: None, ipv6: None, txt: None, offline: true, ..self.clone() };
                HostAnswer::Good(none)
            }
        }
    }
}

/// What to send to take a host from `before` to `after`; `None` when DNS stays as it is. A
/// new TTL is the host's, not one family's: both published families are sent again with it.
/// Going offline deletes both rrsets whatever the row says (deleting an absent rrset is a
/// no-op, RFC 2136 §3.4.2.3), so a host is never left half offline.
fn dns_change(fqdn: Name, before: &HostState, after: &HostState) -> Option<dns::HostChange> {
    use dns::Rrset;
    if after.offline {
        return (!before.offline).then_some(dns::HostChange {
            fqdn,
            ttl: after.dns_ttl,
            a: Rrset::Delete,
            aaaa: Rrset::Delete,
            txt: Rrset::Delete,
        });
    }
    if after.expired {
        return None;
    }
    let (old_v4, old_v6) = before.published();
    let new_ttl = after.dns_ttl != before.dns_ttl;
    fn rrset<T: PartialEq + Copy>(old: Option<T>, new: Option<T>, new_ttl: bool) -> Rrset<T> {
        match new {
            Some(a) if new_ttl || old != Some(a) => Rrset::Replace(a),
            Some(_) => Rrset::Keep,
            None if old.is_some() => Rrset::Delete,
            None => Rrset::Keep,
        }
    }
    let txt = match rrset(before.published_txt(), after.txt.as_deref(), new_ttl) {
        Rrset::Keep => Rrset::Keep,
        Rrset::Replace(value) => Rrset::Replace(value.to_owned()),
        Rrset::Delete => Rrset::Delete,
    };
    let change = dns::HostChange {
        fqdn,
        ttl: after.dns_ttl,
        a: rrset(old_v4, after.ipv4, new_ttl),
        aaaa: rrset(old_v6, after.ipv6, new_ttl),
        txt,
    };
    (change.a != Rrset::Keep || change.aaaa != Rrset::Keep || change.txt != Rrset::Keep).then_some(change)
}

/// One host of a run: its row, its changes' positions, and where its replay ended.
#[derive(Debug)]
struct Planned {
    row: Host,
    positions: Vec<usize>,
    state: HostState,
    /// The first of its changes that needs DNS; the answers from there on depend on it.
    first_sent: Option<usize>,
    change: Option<dns::HostChange>,
    failed: bool,
    /// What kept the change from DNS, for the audit trail and metrics (`audit::rcode_label`).
    error: Option<String>,
    /// Each change's position with the state before and after it, for the audit trail.
    steps: Vec<(usize, HostState, HostState)>,
}

/// Runs changes of hostnames under their host locks: reads the rows, replays each host's
/// changes in arrival order (so each request gets the answer it would get alone, in that
/// order; a change superseded by a later one of the same run still answers `good` with its
/// own addresses, as it would had it been sent and then replaced), sends one UPDATE per zone
/// for the hosts whose records change (split by size, over TCP when over a datagram's), and
/// writes the rows in one transaction. If a message with several hosts fails, each host is
/// sent on its own, so one refused name does not fail the others. A host whose change failed
/// answers `dnserr` from its first change that needed DNS on, and nothing of it is stored.
fn run_changes(config: &Config, store: &mut Store, batch: Vec<Pending>, now: i64) -> Vec<HostAnswer> {
    let mut fqdns: Vec<&str> = batch.iter().map(|p| p.fqdn.as_str()).collect();
    fqdns.sort_unstable();
    fqdns.dedup();
    let result = store.with_hosts_locked_audited(&fqdns, |rows| {
        let mut answers = vec![HostAnswer::ServerError; batch.len()];
        let mut planned: Vec<Option<Planned>> = Vec::with_capacity(fqdns.len());
        for (fqdn, row) in fqdns.iter().zip(rows) {
            let positions: Vec<usize> = (0..batch.len()).filter(|i| batch[*i].fqdn == *fqdn).collect();
            let Some(row) = row else {
                for i in &positions {
                    no_such_host(&batch[*i]);
                    answers[*i] = HostAnswer::Nohost;
                }
                planned.push(None);
                continue;
            };
            let mut state = HostState::of(row);
            let mut first_sent = None;
            let mut owned = Vec::new();
            let mut steps = Vec::new();
            for i in positions {
                if batch[i].user_id != row.user_id {
                    no_such_host(&batch[i]);
                    answers[i] = HostAnswer::Nohost;
                    continue;
                }
                let before = state.clone();
                answers[i] = state.apply(&batch[i].change);
                steps.push((i, before, state.clone()));
                if first_sent.is_none() && matches!(answers[i], HostAnswer::Good(_)) {
                    first_sent = Some(i);
                }
                owned.push(i);
            }
            if owned.is_empty() {
                planned.push(None);
                continue;
            }
            let (change, failed) = match Name::from_ascii(format!("{fqdn}.")) {
                Ok(name) => (dns_change(name, &HostState::of(row), &state), false),
                Err(e) => {
                    for i in owned.iter().filter(|i| Some(**i) >= first_sent) {
                        batch[*i].log.error(format_args!("{fqdn}: DNS update failed: not a DNS name: {e}"));
                    }
                    (None, first_sent.is_some())
                }
            };
            let error = failed.then(|| "badname".to_owned());
            planned.push(Some(Planned {
                row: row.clone(),
                positions: owned,
                state,
                first_sent,
                change,
                failed,
                error,
                steps,
            }));
        }
        send_planned(config, &mut planned, &batch, now);
        let writes: Vec<HostWrite> = planned
            .iter()
            .map(|p| match p {
                None => HostWrite::None,
                Some(p) if p.failed => {
                    for i in p.positions.iter().filter(|i| Some(**i) >= p.first_sent) {
                        answers[*i] = HostAnswer::Dnserr;
                    }
                    HostWrite::None
                }
                Some(p) if p.state.offline => HostWrite::Offline { now },
                Some(p) if p.first_sent.is_none() && touch_due(&p.row, now) => HostWrite::Touch { now },
                Some(p) if p.first_sent.is_none() => HostWrite::None,
                Some(p) => HostWrite::Addresses {
                    ipv4: p.state.ipv4,
                    ipv6: p.state.ipv6,
                    txt: p.state.txt.clone(),
                    dns_ttl: p.state.dns_ttl,
                    now,
                },
            })
            .collect();
        for p in planned.iter().flatten() {
            for i in &p.positions {
                let q = &batch[*i];
                log_answer(&q.log, &q.fqdn, &q.change, &answers[*i], &p.state);
            }
        }
        let rows = planned
            .iter()
            .zip(&writes)
            .filter_map(|(p, w)| Some((p.as_ref()?, w)))
            .flat_map(|(p, w)| audit_rows(p, *w != HostWrite::None, &batch, &answers, now))
            .collect();
        let audit = AuditWrite { rows, keep: config.audit.keep_days > 0 };
        Ok::<_, StoreError>((writes, audit, answers))
    });
    match result {
        Ok(answers) => answers,
        Err(e) => {
            for p in &batch {
                p.log.error(format_args!("{}: {e}", p.fqdn));
            }
            vec![HostAnswer::ServerError; batch.len()]
        }
    }
}

/// The audit rows of one host's changes: `good`, `nochg` and `dnserr` answers, each from the
/// state before it to the state after it (what DNS holds: nothing for an offline host). A
/// `nochg` is recorded only when its host's row is `written` (a touch, or with a change of
/// the same run): a repeat within the touch interval leaves no trace in the database at all.
fn audit_rows(p: &Planned, written: bool, batch: &[Pending], answers: &[HostAnswer], now: i64) -> Vec<AuditRow> {
    fn records(s: &HostState) -> Records<'_> {
        let (ipv4, ipv6) = s.published();
        Records { ipv4, ipv6, txt: s.published_txt() }
    }
    p.steps
        .iter()
        .filter_map(|(i, before, after)| {
            let (answer, rcode) = match answers[*i] {
                HostAnswer::Good(_) => ("good", None),
                HostAnswer::Nochg(_) if written => ("nochg", None),
                HostAnswer::Nochg(_) => return None,
                HostAnswer::Dnserr => ("dnserr", Some(p.error.as_deref().unwrap_or("unknown"))),
                HostAnswer::Nohost | HostAnswer::Notfqdn | HostAnswer::ServerError => return None,
            };
            let pending = &batch[*i];
            Some(audit::change(&pending.origin, &pending.fqdn, answer, &records(before), &records(after), rcode, now))
        })
        .collect()
}

fn no_such_host(p: &Pending) {
    p.log.info(format_args!("{}: no such hostname for user `{}`", p.fqdn, p.user_name));
}

fn log_answer(log: &Log, fqdn: &str, change: &Change, answer: &HostAnswer, state: &HostState) {
    match (answer, change) {
        (HostAnswer::Good(_), Change::Offline) => {
            log.info(format_args!("{fqdn}: offline (A, AAAA and TXT removed)"));
        }
        (HostAnswer::Good(new), Change::Publish(publish)) => log.info(format_args!(
            "{fqdn}: updated ({}{}, ttl {})",
            show(new.ipv4, new.ipv6),
            show_txt(publish.txt.as_ref()),
            state.dns_ttl
        )),
        (HostAnswer::Nochg(_), Change::Offline) => log.info(format_args!("{fqdn}: already offline")),
        (HostAnswer::Nochg(new), Change::Publish(_)) => {
            log.info(format_args!("{fqdn}: no change ({})", show(new.ipv4, new.ipv6)))
        }
        (HostAnswer::Nohost | HostAnswer::Notfqdn | HostAnswer::Dnserr | HostAnswer::ServerError, _) => {}
    }
}

/// Sends the planned changes, one message per zone as far as size allows; marks the hosts
/// whose change failed (logged to their requests).
fn send_planned(config: &Config, planned: &mut [Option<Planned>], batch: &[Pending], now: i64) {
    let fail = |p: &mut Planned, reason: &dyn std::fmt::Display, label: String| {
        p.failed = true;
        p.error = Some(label);
        for i in p.positions.iter().filter(|i| Some(**i) >= p.first_sent) {
            batch[*i].log.error(format_args!("{}: DNS update failed: {reason}", batch[*i].fqdn));
        }
    };
    let mut zones: Vec<String> =
        planned.iter().flatten().filter(|p| p.change.is_some()).map(|p| p.row.zone.clone()).collect();
    zones.sort_unstable();
    zones.dedup();
    for zone_name in zones {
        let members: Vec<usize> = (0..planned.len())
            .filter(|i| planned[*i].as_ref().is_some_and(|p| p.change.is_some() && p.row.zone == zone_name))
            .collect();
        let Some(zone) = config.zone(&zone_name) else {
            for i in members {
                if let Some(p) = planned[i].as_mut() {
                    batch[p.positions[0]].log.error(format_args!(
                        "{}: zone `{zone_name}` is not configured in {}",
                        p.row.fqdn,
                        config.path.display()
                    ));
                    fail(p, &"zone not configured", "notconfigured".to_owned());
                }
            }
            continue;
        };
        // Messages as large as TCP allows; hosts in name order (the lock order).
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut octets = 0;
        for i in members {
            let size = planned[i].as_ref().and_then(|p| p.change.as_ref()).map_or(0, dns::HostChange::wire_estimate);
            match groups.last_mut() {
                Some(group) if octets + size <= dns::MAX_BATCH_OCTETS => group.push(i),
                _ => {
                    groups.push(vec![i]);
                    octets = 0;
                }
            }
            octets += size;
        }
        for group in groups {
            let changes: Vec<dns::HostChange> =
                group.iter().filter_map(|i| planned[*i].as_ref()?.change.clone()).collect();
            let log = planned[group[0]]
                .as_ref()
                .map_or_else(|| Log::new(config.log.level), |p| batch[p.positions[0]].log.clone());
            match send_changes(zone, &changes, now, &log) {
                Ok(()) => {}
                Err(e) if group.len() == 1 => {
                    if let Some(p) = planned[group[0]].as_mut() {
                        fail(p, &e, audit::rcode_label(&e));
                    }
                }
                Err(e) => {
                    log.info(format_args!(
                        "zone `{}`: a message with {} hostnames failed ({e}); sending them one by one",
                        zone.name,
                        group.len()
                    ));
                    for i in group {
                        let Some(p) = planned[i].as_mut() else { continue };
                        let Some(change) = p.change.clone() else { continue };
                        if let Err(e) = send_changes(zone, &[change], now, &batch[p.positions[0]].log) {
                            fail(p, &e, audit::rcode_label(&e));
                        }
                    }
                }
            }
        }
    }
}

/// Signs and sends one message for `changes` (over TCP when too large for a datagram),
/// logging how long the exchange took.
fn send_changes(zone: &Zone, changes: &[dns::HostChange], now: i64, log: &Log) -> Result<(), DnsError> {
    let octets: usize = changes.iter().map(dns::HostChange::wire_estimate).sum();
    let message = dns::change_message(&zone.name, changes)?;
    let started = std::time::Instant::now();
    let now = u64::try_from(now).unwrap_or(0);
    let result = if octets > dns::MAX_UDP_OCTETS {
        dns::exchange_tcp(zone, message, now)
    } else {
        dns::exchange(zone, message, now)
    };
    log.debug(format_args!(
        "{} hostnames: DNS exchange with {} took {} ms",
        changes.len(),
        zone.server,
        started.elapsed().as_millis()
    ));
    result.map(|_| ())
}

fn show(ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>) -> String {
    let v4 = ipv4.map_or_else(|| "-".to_owned(), |a| a.to_string());
    let v6 = ipv6.map_or_else(|| "-".to_owned(), |a| a.to_string());
    format!("ipv4={v4} ipv6={v6}")
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
