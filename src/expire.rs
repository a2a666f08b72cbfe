//! The expiry run (`ddns-cgi expire`, from cron or a systemd timer): removes the A/AAAA records
//! of hostnames not updated within their `expiry_ttl`, marks them expired, mails their owners
//! and trims the rate-limit table. Deletions are batched: one RFC 2136 UPDATE per zone and
//! chunk, sent over TCP, each host guarded by a prerequisite on the stored value. Every step
//! runs under the database write lock that the request path also takes, so an update that
//! arrives meanwhile either happens before (the host is no longer due) or after (it restores
//! the host). One failing zone, host or mail does not stop the others; each is reported.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;

use crate::config::{Config, Zone};
use crate::dns::{self, DnsError, Published};
use crate::log::Log;
use crate::mail::{self, Notice};
use crate::store::{Host, Store};

/// Hosts read and judged under one hold of the write lock. Small enough that updates waiting
/// for the lock (up to `database.busy_timeout_ms`) get it soon, large enough for few messages.
const CHUNK_HOSTS: usize = 500;

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

/// Runs expiry as of `now` (seconds since the epoch).
pub(crate) fn run(config: &Config, store: &mut Store, now: i64, log: &Log) -> Report {
    let mut report = Report::default();
    match store.zones_due(now) {
        Ok(zones) => {
            for zone in zones {
                expire_zone(config, store, &zone, now, log, &mut report);
            }
        }
        Err(e) => report.fail(log, format!("cannot read the hostnames due: {e}")),
    }
    notify(config, store, now, log, &mut report);
    let window = config.rate_limit.good_window_seconds.max(config.rate_limit.bad_window_seconds);
    match store.trim_rate_limit(now - i64::from(window)) {
        Ok(n) => report.n_rate_limit_rows = n,
        Err(e) => report.fail(log, format!("cannot trim the rate-limit table: {e}")),
    }
    log.info(report.summary());
    report
}

/// What one chunk's DNS work did, besides the ids of the hosts whose records are gone.
#[derive(Debug, Default)]
struct ChunkOutcome {
    n_messages: usize,
    failures: Vec<String>,
    /// The server cannot be reached: stop this zone instead of timing out per chunk.
    give_up: bool,
}

fn expire_zone(config: &Config, store: &mut Store, zone_str: &str, now: i64, log: &Log, report: &mut Report) {
    let Some(zone) = config.zone(zone_str) else {
        report.fail(
            log,
            format!("zone `{zone_str}` has hostnames due but is not configured in {}", config.path.display()),
        );
        return;
    };
    let n_before = report.n_hosts;
    let mut after = 0;
    loop {
        let chunk = store.expire_locked(zone_str, after, CHUNK_HOSTS, now, |hosts| delete_chunk(zone, hosts, now, log));
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                report.fail(log, format!("zone `{zone_str}`: {e}"));
                return;
            }
        };
        let Some(last) = chunk.hosts.last() else { break };
        after = last.id;
        let outcome = chunk.value;
        report.n_hosts += chunk.n_expired;
        report.n_messages += outcome.n_messages;
        for f in outcome.failures {
            report.failures.push(f);
        }
        if outcome.give_up {
            break;
        }
    }
    if report.n_hosts > n_before {
        report.n_zones += 1;
    }
}

/// Deletes the records of `hosts` (one zone), batched into as few messages as fit. Returns
/// the ids whose records are gone, and the outcome for the report.
fn delete_chunk(zone: &Zone, hosts: &[Host], now: i64, log: &Log) -> (Vec<i64>, ChunkOutcome) {
    let mut outcome = ChunkOutcome::default();
    let mut done = Vec::with_capacity(hosts.len());
    let mut batch: Vec<(i64, Published)> = Vec::new();
    let mut octets = 0;
    for host in hosts {
        let Ok(fqdn) = Name::from_ascii(format!("{}.", host.fqdn)) else {
            let message = format!("`{}`: the stored name is not a valid DNS name", host.fqdn);
            log.error(&message);
            outcome.failures.push(message);
            continue;
        };
        let published = Published { fqdn, ipv4: host.ipv4, ipv6: host.ipv6 };
        let size = published.wire_estimate();
        if octets + size > dns::MAX_BATCH_OCTETS && !batch.is_empty() {
            send_batch(zone, &std::mem::take(&mut batch), now, log, &mut done, &mut outcome);
            octets = 0;
            if outcome.give_up {
                break;
            }
        }
        octets += size;
        batch.push((host.id, published));
    }
    if !batch.is_empty() && !outcome.give_up {
        send_batch(zone, &batch, now, log, &mut done, &mut outcome);
    }
    (done, outcome)
}

/// Sends one batch over TCP. If a prerequisite fails (some host's records changed outside
/// us), the server applied nothing (RFC 2136 §3.2.5), so each host is retried on its own:
/// one odd host must not keep the others published.
fn send_batch(
    zone: &Zone,
    batch: &[(i64, Published)],
    now: i64,
    log: &Log,
    done: &mut Vec<i64>,
    outcome: &mut ChunkOutcome,
) {
    let hosts: Vec<Published> = batch.iter().map(|(_, p)| p.clone()).collect();
    let sent = dns::expire_message(&zone.name, &hosts)
        .and_then(|m| dns::exchange_tcp(zone, m, u64::try_from(now).unwrap_or(0)));
    outcome.n_messages += 1;
    match sent {
        Ok(_) => {
            log.debug(format_args!(
                "zone `{}`: removed the records of {} hostnames in one message",
                zone.name,
                batch.len()
            ));
            done.extend(batch.iter().map(|(id, _)| *id));
        }
        Err(e) if is_prerequisite_failure(&e) => {
            log.info(format_args!(
                "zone `{}`: batch of {} refused ({e}); retrying host by host",
                zone.name,
                batch.len()
            ));
            for (id, host) in batch {
                outcome.n_messages += 1;
                let sent = dns::expire_message(&zone.name, std::slice::from_ref(host))
                    .and_then(|m| dns::exchange(zone, m, u64::try_from(now).unwrap_or(0)));
                match sent {
                    Ok(_) => done.push(*id),
                    Err(e) if is_prerequisite_failure(&e) => {
                        // The records no longer hold what we published: someone else changed
                        // them. Ours are gone already; leave theirs alone.
                        log.warn(format_args!(
                            "`{}`: records changed outside ddns-cgi ({e}); left untouched, marked expired",
                            host.fqdn
                        ));
                        done.push(*id);
                    }
                    Err(e) => {
                        let message = format!("`{}`: cannot remove the records: {e}", host.fqdn);
                        log.error(&message);
                        outcome.failures.push(message);
                    }
                }
            }
        }
        Err(e) => {
            let message = format!("zone `{}`: cannot remove the records of {} hostnames: {e}", zone.name, batch.len());
            log.error(&message);
            outcome.failures.push(message);
            outcome.give_up = matches!(e, DnsError::Io { .. } | DnsError::Timeout { .. });
        }
    }
}

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
                report.fail(log, format!("{e}; will retry on the next run"));
                let ids: Vec<i64> = group.iter().map(|u| u.host.id).collect();
                if let Err(e) = store.unclaim_notified(&ids) {
                    report.fail(log, format!("cannot mark hostnames for a mail retry: {e}"));
                }
            }
        }
    }
}
