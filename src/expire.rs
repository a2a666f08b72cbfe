//! The expiry run (`ddns-cgi expire`, from cron or a systemd timer): removes the A/AAAA records
//! of hostnames not updated within their `expiry_ttl`, marks them expired, mails their owners,
//! removes acme-dns challenge values past `[acme] value_ttl` (`acme::expire_values`) and trims
//! the rate-limit table. Deletions are batched: one RFC 2136 UPDATE per zone and
//! chunk, sent over TCP, each host guarded by a prerequisite on the stored value. Every chunk
//! runs under the host locks of its hosts, which the request path also takes, so an update
//! of one of them that arrives meanwhile either happens before (the host is no longer due) or
//! after (it restores the host); updates of other hosts do not wait. A chunk holds the locks
//! for a bounded time and gives them up before the next one, so updates waiting for them get
//! their turn. A server that does not answer ends the work on
//! it at once: that is not a problem of one host. One failing zone, host or mail does not
//! stop the others; each is reported.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::Name;

use crate::config::{Config, Zone};
use crate::dns::{self, DnsError, Published};
use crate::log::Log;
use crate::mail::{self, MailError, Notice};
use crate::store::{Host, Store};

/// Hosts read and judged under one hold of their host locks, at most. Large enough for few
/// messages; the hold is bounded by time as well (see [`hold_limit`]).
const CHUNK_HOSTS: usize = 500;

/// The pause between two chunks that held the locks for `held`, with the locks released. An
/// update waiting for a host lock wakes when it is released, but it still needs a moment of
/// CPU (and, for SQLite's write lock, its busy handler sleeps up to 100 ms between tries); a
/// pause a little longer than that lets every waiting update take its lock before the next
/// chunk does, and costs little after the short holds of a healthy server.
fn chunk_pause(held: Duration) -> Duration {
    held.min(Duration::from_millis(100)) + Duration::from_millis(20)
}

/// How long one chunk may keep starting DNS exchanges under its host locks: a quarter of
/// `database.busy_timeout_ms`, the time an update is prepared to wait for the database. The exchange in flight at the limit
/// may add one DNS timeout; with the defaults (10 s and 2 s) a waiting update gets the lock
/// after at most 4.5 s.
fn hold_limit(config: &Config) -> Duration {
    config.database.busy_timeout / 4
}

/// What one run did; `failures` lists every problem, each already logged.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) n_hosts: usize,
    pub(crate) n_zones: usize,
    pub(crate) n_messages: usize,
    pub(crate) n_mails: usize,
    pub(crate) n_rate_limit_rows: usize,
    pub(crate) failures: Vec<String>,
}

impl Report {
    /// The one-line summary the command prints.
    pub(crate) fn summary(&self) -> String {
        format!(
            "expired {} hostnames in {} zones with {} DNS messages; sent {} mails; trimmed {} rate-limit rows; {} failures",
            self.n_hosts,
            self.n_zones,
            self.n_messages,
            self.n_mails,
            self.n_rate_limit_rows,
            self.failures.len()
        )
    }

    fn fail(&mut self, log: &Log, message: String) {
        log.error(&message);
        self.failures.push(message);
    }
}

/// The two times of a run, in seconds since the epoch. They differ only when an operator or
/// a test chose `expire --now`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Times {
    /// The clock, for everything that others check against their own clock or that must not
    /// reach into the future: the TSIG signing time (RFC 8945 §5.2.3 allows 300 s of
    /// difference), the mail's date, and the rate-limit rows to trim.
    pub(crate) now: i64,
    /// Which hosts are due is judged as of this time.
    pub(crate) due_at: i64,
}

/// Runs expiry.
pub(crate) fn run(config: &Config, store: &mut Store, times: Times, log: &Log) -> Report {
    let Times { now, due_at } = times;
    let mut report = Report::default();
    // Servers that did not answer in this run: their other zones are skipped.
    let mut silent: Vec<SocketAddr> = Vec::new();
    match store.zones_due(due_at) {
        Ok(zones) => {
            for zone in zones {
                expire_zone(config, store, &zone, times, log, &mut report, &mut silent);
            }
        }
        Err(e) => report.fail(log, format!("cannot read the hostnames due: {e}")),
    }
    notify(config, store, now, log, &mut report);
    let acme_times = crate::acme::ValueTimes { now, judged_at: due_at };
    let (_, acme_failures) = crate::acme::expire_values(config, store, acme_times, log);
    report.failures.extend(acme_failures);
    let window = config.rate_limit.good_window_seconds.max(config.rate_limit.bad_window_seconds);
    match store.trim_rate_limit(now - i64::from(window)) {
        Ok(n) => report.n_rate_limit_rows = n,
        Err(e) => report.fail(log, format!("cannot trim the rate-limit table: {e}")),
    }
    after_run(config, store, now, log, &mut report);
    log.info(report.summary());
    report
}

/// The audit and metrics part of a run: counts the expired hosts, prunes audit rows older
/// than `[audit] keep_days` (by the clock, not `--now`), stamps a run without failures as the
/// last successful one, and writes `[metrics] textfile`.
fn after_run(config: &Config, store: &mut Store, now: i64, log: &Log, report: &mut Report) {
    if let Err(e) = store.add_counter(crate::store::EXPIRED_HOSTS, "", report.n_hosts as i64) {
        report.fail(log, format!("cannot count the expired hostnames: {e}"));
    }
    if config.audit.keep_days > 0 {
        match store.prune_audit(now - i64::from(config.audit.keep_days) * 86_400) {
            Ok(n) => log.info(format_args!("pruned {n} audit rows older than {} days", config.audit.keep_days)),
            Err(e) => report.fail(log, format!("cannot prune the audit trail: {e}")),
        }
    }
    if report.failures.is_empty()
        && let Err(e) = store.set_counter(crate::store::LAST_EXPIRY, "", now)
    {
        report.fail(log, format!("cannot store the time of this run: {e}"));
    }
    if let Some(path) = &config.metrics.textfile
        && let Err(e) = crate::metrics::write(store, path)
    {
        report.fail(log, e.to_string());
    }
}

/// What one chunk's DNS work did, besides the ids of the hosts whose records are gone.
#[derive(Debug, Default)]
struct ChunkOutcome {
    n_messages: usize,
    failures: Vec<String>,
    /// The first host not dealt with, when the chunk ended early; the next chunk starts there.
    stopped_at: Option<i64>,
    /// Why it ended early: `Some` when the server did not answer, `None` when the chunk used
    /// up its time under the lock.
    transport_failure: Option<DnsError>,
}

fn expire_zone(
    config: &Config,
    store: &mut Store,
    zone_str: &str,
    Times { now, due_at }: Times,
    log: &Log,
    report: &mut Report,
    silent: &mut Vec<SocketAddr>,
) {
    let Some(zone) = config.zone(zone_str) else {
        report.fail(
            log,
            format!("zone `{zone_str}` has hostnames due but is not configured in {}", config.path.display()),
        );
        return;
    };
    if silent.contains(&zone.server) {
        report.fail(log, format!("zone `{zone_str}`: skipped, its server {} did not answer in this run", zone.server));
        return;
    }
    let hold = hold_limit(config);
    let n_before = report.n_hosts;
    let mut after = 0;
    loop {
        let started = Instant::now();
        let chunk = store
            .expire_locked(zone_str, after, CHUNK_HOSTS, due_at, |hosts| delete_chunk(zone, hosts, now, hold, log));
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                report.fail(log, format!("zone `{zone_str}`: {e}"));
                break;
            }
        };
        let Some(last) = chunk.hosts.last() else { break };
        let outcome = chunk.value;
        report.n_hosts += chunk.n_expired;
        report.n_messages += outcome.n_messages;
        report.failures.extend(outcome.failures);
        if let Some(e) = outcome.transport_failure {
            // The server is down or unreachable: every other host would wait for the same
            // timeout, holding the lock.
            let left = match store.n_due(zone_str, due_at) {
                Ok(n) => format!("{n} hostnames left for the next run"),
                Err(_) => "the rest left for the next run".to_owned(),
            };
            report.fail(log, format!("zone `{zone_str}`: stopped at the first transport failure: {e}; {left}"));
            silent.push(zone.server);
            break;
        }
        after = match outcome.stopped_at {
            Some(id) => id - 1,
            None if chunk.hosts.len() < CHUNK_HOSTS => break,
            None => last.id,
        };
        std::thread::sleep(chunk_pause(started.elapsed()));
    }
    if report.n_hosts > n_before {
        report.n_zones += 1;
    }
}

/// Deletes the records of `hosts` (one zone, id order), batched into as few messages as fit,
/// until the chunk has held the lock for `hold`. Returns the ids whose records are gone.
fn delete_chunk(zone: &Zone, hosts: &[Host], now: i64, hold: Duration, log: &Log) -> (Vec<i64>, ChunkOutcome) {
    let mut chunk = Chunk {
        zone,
        now,
        log,
        started: Instant::now(),
        hold,
        n_settled: 0,
        done: Vec::new(),
        outcome: ChunkOutcome::default(),
    };
    let mut batch: Vec<(i64, Published)> = Vec::new();
    let mut octets = 0;
    for host in hosts {
        let Ok(fqdn) = Name::from_ascii(format!("{}.", host.fqdn)) else {
            chunk.fail(format!("`{}`: the stored name is not a valid DNS name", host.fqdn));
            chunk.n_settled += 1;
            continue;
        };
        let published = Published { fqdn, ipv4: host.ipv4, ipv6: host.ipv6, txt: host.txt.clone() };
        let size = published.wire_estimate();
        if octets + size > dns::MAX_BATCH_OCTETS && !batch.is_empty() {
            if !chunk.send_batch(&std::mem::take(&mut batch)) {
                return (chunk.done, chunk.outcome);
            }
            octets = 0;
        }
        octets += size;
        batch.push((host.id, published));
    }
    if !batch.is_empty() {
        chunk.send_batch(&batch);
    }
    (chunk.done, chunk.outcome)
}

/// One chunk's DNS work in progress.
struct Chunk<'a> {
    zone: &'a Zone,
    now: i64,
    log: &'a Log,
    started: Instant,
    hold: Duration,
    /// Hosts whose fate this chunk decided: records removed, left alone, or failed.
    n_settled: usize,
    done: Vec<i64>,
    outcome: ChunkOutcome,
}

impl Chunk<'_> {
    fn fail(&mut self, message: String) {
        self.log.error(&message);
        self.outcome.failures.push(message);
    }

    /// Whether to leave the hosts from `id` on for the next chunk, having held the lock long
    /// enough. Every chunk settles at least one host first, so each makes progress even when
    /// one refused batch alone takes longer than the limit.
    fn out_of_time(&mut self, id: i64) -> bool {
        let held = self.started.elapsed();
        if self.n_settled == 0 || held < self.hold {
            return false;
        }
        self.log.debug(format_args!(
            "zone `{}`: held the lock for {} ms; leaving the rest of the chunk for the next one",
            self.zone.name,
            held.as_millis()
        ));
        self.outcome.stopped_at = Some(id);
        true
    }

    /// Signs (with the clock, not the time judged) and sends one deletion message.
    fn send(&mut self, hosts: &[Published], over_tcp: bool) -> Result<Message, DnsError> {
        self.outcome.n_messages += 1;
        let now = u64::try_from(self.now).unwrap_or(0);
        let message = dns::expire_message(&self.zone.name, hosts)?;
        if over_tcp { dns::exchange_tcp(self.zone, message, now) } else { dns::exchange(self.zone, message, now) }
    }

    /// Sends one batch over TCP. If a prerequisite fails (some host's records changed outside
    /// us), the server applied nothing (RFC 2136 §3.2.5), so each host is retried on its own:
    /// one odd host must not keep the others published. Returns whether to go on with the
    /// chunk.
    fn send_batch(&mut self, batch: &[(i64, Published)]) -> bool {
        let Some((first, _)) = batch.first() else { return true };
        if self.out_of_time(*first) {
            return false;
        }
        let hosts: Vec<Published> = batch.iter().map(|(_, p)| p.clone()).collect();
        match self.send(&hosts, true) {
            Ok(_) => {
                self.log.debug(format_args!(
                    "zone `{}`: removed the records of {} hostnames in one message",
                    self.zone.name,
                    batch.len()
                ));
                self.done.extend(batch.iter().map(|(id, _)| *id));
                self.n_settled += batch.len();
                true
            }
            Err(e) if is_prerequisite_failure(&e) => {
                self.log.info(format_args!(
                    "zone `{}`: batch of {} refused ({e}); retrying host by host",
                    self.zone.name,
                    batch.len()
                ));
                batch.iter().all(|(id, host)| self.send_one(*id, host))
            }
            Err(e) if e.is_transport() => {
                self.outcome.stopped_at = Some(*first);
                self.outcome.transport_failure = Some(e);
                false
            }
            Err(e) => {
                self.fail(format!(
                    "zone `{}`: cannot remove the records of {} hostnames: {e}",
                    self.zone.name,
                    batch.len()
                ));
                self.n_settled += batch.len();
                true
            }
        }
    }

    /// The per-host fallback for one host. Returns whether to go on with the chunk.
    fn send_one(&mut self, id: i64, host: &Published) -> bool {
        if self.out_of_time(id) {
            return false;
        }
        match self.send(std::slice::from_ref(host), false) {
            Ok(_) => self.done.push(id),
            Err(e) if is_prerequisite_failure(&e) => {
                // The records no longer hold what we published: someone else changed them.
                // Ours are gone already; leave theirs alone.
                self.log.warn(format_args!(
                    "`{}`: records changed outside ddns-cgi ({e}); left untouched, marked expired",
                    host.fqdn
                ));
                self.done.push(id);
            }
            Err(e) if e.is_transport() => {
                self.outcome.stopped_at = Some(id);
                self.outcome.transport_failure = Some(e);
                return false;
            }
            Err(e) => self.fail(format!("`{}`: cannot remove the records: {e}", host.fqdn)),
        }
        self.n_settled += 1;
        true
    }
}

/// A verified NXRRSET or YXRRSET: a prerequisite did not hold. An unsigned one is
/// [`DnsError::UnverifiedRcode`] and never counts: it would mark hosts expired whose records
/// are still served.
fn is_prerequisite_failure(e: &DnsError) -> bool {
    matches!(e, DnsError::Rcode { rcode: ResponseCode::NXRRSet | ResponseCode::YXRRSet, .. })
}

/// Mails each owner once about all their expired, not yet notified hostnames. The rows are
/// claimed before sending, so a concurrent run cannot mail them too; a failed mail hands its
/// rows back for the next run.
fn notify(config: &Config, store: &mut Store, now: i64, log: &Log, report: &mut Report) {
    let claimed = match store.claim_unnotified() {
        Ok(c) => c,
        Err(e) => return report.fail(log, format!("cannot read the hostnames to notify: {e}")),
    };
    if !config.email.enabled {
        if !claimed.is_empty() {
            log.debug(format_args!("mail is disabled; {} expired hostnames not mailed", claimed.len()));
        }
        return;
    }
    // `claim_unnotified` orders by owner, so each owner's hosts are adjacent.
    for group in claimed.chunk_by(|a, b| a.host.user_id == b.host.user_id) {
        let Some(first) = group.first() else { continue };
        let notice =
            Notice { owner: &first.owner, email: &first.email, hosts: group.iter().map(|u| &u.host).collect() };
        let sent = mail::build(&config.email, &notice, now).and_then(|m| mail::send(&config.email, &first.email, &m));
        match sent {
            Ok(()) => {
                report.n_mails += 1;
                log.info(format_args!("mailed `{}` about {} expired hostnames", first.email, group.len()));
            }
            Err(e) => {
                // One owner's mail failing never keeps the others from theirs. An address
                // stored before `user add` checked it the way `user email` does needs the
                // operator; say how to fix it.
                let hint = match &e {
                    MailError::Address { address, .. } if *address == first.email => {
                        format!("; set another with `ddns-cgi user email {} ADDRESS`", first.owner)
                    }
                    MailError::Address { .. } | MailError::Build { .. } | MailError::Send { .. } => String::new(),
                };
                report.fail(log, format!("{e}{hint}; will retry on the next run"));
                let ids: Vec<i64> = group.iter().map(|u| u.host.id).collect();
                if let Err(e) = store.unclaim_notified(&ids) {
                    report.fail(log, format!("cannot mark hostnames for a mail retry: {e}"));
                }
            }
        }
    }
}
