//! One run of changes (a CGI request's, or a group commit's in FastCGI): the rows read under
//! their host locks, each host's changes replayed in order (those a host token authorised
//! held to that token as it stands and to the rrsets they send: `token_refusals`), the hosts
//! to send marked `dns_pending`, one UPDATE per zone (split by size; each host alone again
//! when a message with several fails), the rows and their audit rows written in one
//! transaction only for what DNS accepted (which clears the mark). A row still marked when a
//! run reads it gets its records published whole.

use hickory_proto::rr::Name;

use super::state::{HostState, dns_change, touched};
use super::{Pending, log_answer, touch_due};
use crate::audit::{self, Records};
use crate::auth::token;
use crate::config::{Config, Zone};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::reply::HostAnswer;
use crate::store::{AuditRow, AuditWrite, Host, HostWrite, Store, StoreError};

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
    /// Whether the failure is known to have left DNS as it was (never sent, or refused in a
    /// verified answer), so the `dns_pending` mark this run set may go again.
    unapplied: bool,
    /// Whether this run marked the row `dns_pending` before sending.
    marked: bool,
    /// What kept the change from DNS, for the audit trail and metrics (`audit::rcode_label`).
    error: Option<String>,
    /// Each change's position with the state before and after it, for the audit trail.
    steps: Vec<(usize, HostState, HostState)>,
}

/// Runs changes of hostnames under their host locks: reads the rows, replays each host's
/// changes in arrival order (so each request gets the answer it would get alone, in that
/// order; a change superseded by a later one of the same run still answers `good` with its
/// own addresses, as it would had it been sent and then replaced), sends one UPDATE per zone
/// for the hosts whose records change (split by size, over TCP when over a datagram's; each
/// marked `dns_pending` first), and writes the rows in one transaction. If a message with
/// several hosts fails, each host is sent on its own, so one refused name does not fail the
/// others. A host whose change failed answers `dnserr` from its first change that needed DNS
/// on, and nothing of it is stored but the mark (the server may have applied it all the same,
/// e.g. when its answer was lost; a verified refusal clears the mark again). A host whose row
/// is marked has its records sent whole, and answers `dnserr` for every change when that
/// fails.
pub(super) fn run_changes(config: &Config, store: &mut Store, batch: Vec<Pending>, now: i64) -> Vec<HostAnswer> {
    let mut fqdns: Vec<&str> = batch.iter().map(|p| p.fqdn.as_str()).collect();
    fqdns.sort_unstable();
    fqdns.dedup();
    let result = store.with_hosts_locked_audited(&fqdns, |rows, tokens, mark_pending| {
        let refused = token_refusals(&fqdns, rows, tokens, &batch);
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
                if let Some(reason) = &refused[i] {
                    answers[i] = HostAnswer::TokenRefused(reason.clone());
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
            // A change of this host reached DNS without its row write (or may have): DNS is
            // not known to hold the row, so the row's records go out whole, and every change
            // of this run depends on that message, a repeat too.
            let before = if row.dns_pending {
                batch[owned[0]].log.warn(format_args!(
                    "{fqdn}: an earlier change may be in DNS without its row; publishing the row's records again"
                ));
                first_sent = Some(owned[0]);
                None
            } else {
                Some(HostState::of(row))
            };
            let (change, failed) = match Name::from_ascii(format!("{fqdn}.")) {
                Ok(name) => (dns_change(name, before.as_ref(), &state), false),
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
                unapplied: failed,
                marked: false,
                error,
                steps,
            }));
        }
        // Marked before anything is sent: if the row write below fails, or this process dies
        // first, the mark stays and the next request for the host publishes its row again
        // (ARCHITECTURE.md, the invariant on rows and DNS). A mark that cannot be written
        // fails the run before DNS moves.
        let mut sending = Vec::new();
        for p in planned.iter_mut().flatten() {
            if p.change.is_some() && config.zone(&p.row.zone).is_some() {
                p.marked = true;
                sending.push(p.row.id);
            }
        }
        mark_pending(&sending)?;
        send_planned(config, &mut planned, &batch, now);
        let writes: Vec<HostWrite> = planned
            .iter()
            .map(|p| match p {
                None => HostWrite::None,
                Some(p) if p.failed => {
                    for i in p.positions.iter().filter(|i| Some(**i) >= p.first_sent) {
                        answers[*i] = HostAnswer::Dnserr;
                    }
                    // This run's mark goes when DNS is known unchanged; one it found stays.
                    if p.marked && p.unapplied && !p.row.dns_pending { HostWrite::Unmark } else { HostWrite::None }
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
            .flat_map(|(p, w)| {
                let written = !matches!(w, HostWrite::None | HostWrite::Unmark);
                audit_rows(p, written, &batch, &answers, now)
            })
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

/// Which changes of the run their host token does not authorise (see `TokenHold`), with the
/// reason. Replays each host's changes as the run will, leaving out those refused so far: a
/// change is refused when its token is no longer the one stored for the token's hostname
/// (revoked or replaced since authentication), or when the rrsets its own step puts in the
/// message (`touched`, from the state before it) include a type outside the token's scope.
/// A refusal takes every other change of the same request with it (a fan-out's parent and
/// children go together or not at all), and a change left out alters the state the later
/// ones start from: hence the loop, until a replay finds nothing new (refusals only grow).
/// Checking each step rather than the host's whole message holds each request to its own
/// effect: another request's TXT change in the same group commit is not this token's.
fn token_refusals(
    fqdns: &[&str],
    rows: &[Option<Host>],
    tokens: &[Option<Vec<u8>>],
    batch: &[Pending],
) -> Vec<Option<String>> {
    let mut refused: Vec<Option<String>> = vec![None; batch.len()];
    if batch.iter().all(|p| p.token.is_none()) {
        return refused;
    }
    let stored = |host: &str| fqdns.iter().position(|f| *f == host).and_then(|k| tokens.get(k)?.as_deref());
    loop {
        let mut found: Vec<(usize, String)> = Vec::new();
        for (fqdn, row) in fqdns.iter().zip(rows) {
            let Some(row) = row else { continue };
            let mut state = HostState::of(row);
            for (i, p) in batch.iter().enumerate() {
                if p.fqdn != *fqdn || p.user_id != row.user_id || refused[i].is_some() {
                    continue;
                }
                let before = state.clone();
                state.apply(&p.change);
                let Some(hold) = &p.token else { continue };
                let reason = if !stored(&hold.host).is_some_and(|d| token::digests_equal(d, &hold.digest)) {
                    Some(format!(
                        "the token of `{}` was revoked or replaced before the change of `{fqdn}` ran",
                        hold.host
                    ))
                } else {
                    hold.scope.check_types(&touched(&before, &state)).err().map(|failure| {
                        format!("the token of `{}` is outside its {failure} (under the host lock, `{fqdn}`)", hold.host)
                    })
                };
                if let Some(reason) = reason {
                    state = before;
                    found.push((i, reason));
                }
            }
        }
        if found.is_empty() {
            return refused;
        }
        for (i, reason) in found {
            let txn = &batch[i].origin.txn;
            for (j, q) in batch.iter().enumerate() {
                if refused[j].is_none() && q.token.is_some() && (j == i || q.origin.txn == *txn) {
                    refused[j] = Some(reason.clone());
                }
            }
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
                // A refused change is recorded as the request's refusal (`record_refusals`).
                HostAnswer::Nohost | HostAnswer::Notfqdn | HostAnswer::ServerError | HostAnswer::TokenRefused(_) => {
                    return None;
                }
            };
            let pending = &batch[*i];
            Some(audit::change(&pending.origin, &pending.fqdn, answer, &records(before), &records(after), rcode, now))
        })
        .collect()
}

fn no_such_host(p: &Pending) {
    p.log.info(format_args!("{}: no such hostname for user `{}`", p.fqdn, p.user_name));
}

/// Sends the planned changes, one message per zone as far as size allows; marks the hosts
/// whose change failed (logged to their requests).
fn send_planned(config: &Config, planned: &mut [Option<Planned>], batch: &[Pending], now: i64) {
    let fail = |p: &mut Planned, reason: &dyn std::fmt::Display, label: String, unapplied: bool| {
        p.failed = true;
        p.unapplied = unapplied;
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
                    fail(p, &"zone not configured", "notconfigured".to_owned(), true);
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
                        fail(p, &e, audit::rcode_label(&e), left_dns_unchanged(&e));
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
                            fail(p, &e, audit::rcode_label(&e), left_dns_unchanged(&e));
                        }
                    }
                }
            }
        }
    }
}

/// Whether a failed exchange is known to have changed nothing in DNS: the message was never
/// sent, or the server refused it in an answer that verified (an error rcode is the server
/// saying it did not apply the UPDATE), or nothing listened where it went: a refused TCP
/// connection, or the ICMP port-unreachable that a connected UDP socket reports as refused
/// for its one datagram (`dns::exchange` sends each message once, on a socket of its own). A
/// lost or unverifiable answer says nothing of what the server did, nor does a connection
/// that broke after the message went out.
fn left_dns_unchanged(e: &DnsError) -> bool {
    match e {
        DnsError::OutsideZone { .. } | DnsError::Build { .. } | DnsError::Rcode { .. } => true,
        DnsError::Io { source, .. } => source.kind() == std::io::ErrorKind::ConnectionRefused,
        DnsError::Timeout { .. }
        | DnsError::Malformed { .. }
        | DnsError::BadSignature { .. }
        | DnsError::UnverifiedRcode { .. } => false,
    }
}

/// An exchange this slow holds every change queued for the zone behind it (one run at a
/// time), so it is logged at info: an operator sees the DNS server's stalls, and the
/// benchmark's storm counts them apart from the program's own time.
const SLOW_EXCHANGE: std::time::Duration = std::time::Duration::from_millis(500);

/// Signs and sends one message for `changes` (over TCP when too large for a datagram),
/// logging how long the exchange took (at info from [`SLOW_EXCHANGE`]).
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
    let took = started.elapsed();
    let line =
        format_args!("{} hostnames: DNS exchange with {} took {} ms", changes.len(), zone.server, took.as_millis());
    if took >= SLOW_EXCHANGE {
        log.info(line);
    } else {
        log.debug(line);
    }
    result.map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::super::{Change, Publish, TokenHold};
    use super::*;
    use crate::audit::{AuthMethod, Origin};
    use crate::auth::token::Scope;
    use crate::config::{Absent, Level};
    use crate::request::{Addresses, TxtChange};

    const HOME: &str = "home.dyn.example.test";
    const CAM: &str = "cam.dyn.example.test";
    const DIGEST: &[u8] = &[7; 32];

    fn row(id: i64, fqdn: &str) -> Host {
        Host {
            id,
            fqdn: fqdn.to_owned(),
            zone: "dyn.example.test".to_owned(),
            user_id: 1,
            dns_ttl: 60,
            expiry_ttl: 0,
            ipv4: Some(Ipv4Addr::new(192, 0, 2, 1)),
            ipv6: Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            last_update: Some(0),
            expired: false,
            offline: false,
            txt: None,
            dns_pending: false,
            families: crate::store::Families::BOTH,
        }
    }

    fn publish(ipv4: Option<[u8; 4]>, ipv6: Option<Ipv6Addr>, ttl: Option<u32>, txt: Option<&str>) -> Change {
        Change::Publish(Publish {
            addresses: Addresses { ipv4: ipv4.map(Ipv4Addr::from), ipv6 },
            absent: Absent::Keep,
            ttl,
            txt: txt.map(|t| TxtChange::Set(t.to_owned())),
        })
    }

    fn hold(types: &str) -> Option<TokenHold> {
        let scope = Scope::from_options(Some(types), None, None, 0).expect("scope");
        Some(TokenHold { host: HOME.to_owned(), digest: DIGEST.to_vec(), scope })
    }

    fn pending(fqdn: &str, txn: &str, change: Change, token: Option<TokenHold>) -> Pending {
        Pending {
            fqdn: fqdn.to_owned(),
            user_id: 1,
            user_name: "alice".to_owned(),
            change,
            log: Log::new(Level::Info),
            origin: Origin { client: None, auth: AuthMethod::Token, user: "alice".to_owned(), txn: txn.to_owned() },
            token,
        }
    }

    /// Which positions are refused, and the first words of why; `stored` is HOME's token.
    fn refusals(rows: &[Host], batch: &[Pending], stored: Option<&[u8]>) -> Vec<Option<&'static str>> {
        let fqdns: Vec<&str> = rows.iter().map(|r| r.fqdn.as_str()).collect();
        let tokens: Vec<Option<Vec<u8>>> =
            fqdns.iter().map(|f| if *f == HOME { stored.map(<[u8]>::to_vec) } else { None }).collect();
        let rows: Vec<Option<Host>> = rows.iter().cloned().map(Some).collect();
        token_refusals(&fqdns, &rows, &tokens, batch)
            .into_iter()
            .map(|r| {
                r.map(|r| match r {
                    r if r.contains("type scope") => "type",
                    r if r.contains("revoked or replaced") => "revoked",
                    _ => "other",
                })
            })
            .collect()
    }

    #[test]
    fn each_change_is_held_to_the_rrsets_its_own_step_sends() {
        let home = [row(1, HOME)];
        let batch = [
            // Another request (a password) sets TXT in the same group commit: not this token's.
            pending(HOME, "a", publish(None, None, None, Some("x")), None),
            // A new A address: A alone.
            pending(HOME, "b", publish(Some([192, 0, 2, 2]), None, None, None), hold("A")),
            // A new TTL sends A, AAAA and TXT again.
            pending(HOME, "c", publish(Some([192, 0, 2, 2]), None, Some(300), None), hold("A")),
            // Offline deletes all three, even for a token that may change two of them.
            pending(HOME, "d", Change::Offline, hold("A,AAAA")),
            // The same TTL again, and nothing new: a `nochg`, which touches nothing.
            pending(HOME, "e", publish(Some([192, 0, 2, 2]), None, Some(60), None), hold("TXT")),
            pending(HOME, "f", Change::Offline, hold("A,AAAA,TXT")),
        ];
        assert_eq!(refusals(&home, &batch, Some(DIGEST)), [None, None, Some("type"), Some("type"), None, None]);
        // A token that is no longer the host's authorises nothing, not even a `nochg`.
        assert_eq!(refusals(&home, &batch[1..2], Some(&[8; 32])), [Some("revoked")]);
        assert_eq!(refusals(&home, &batch[4..5], None), [Some("revoked")]);
        // Password changes alone are never held.
        assert_eq!(refusals(&home, &batch[..1], None), [None]);
    }

    /// On an endpoint with `absent = "remove"` (nanodnsd's `/api/update`), the family a
    /// request leaves out is deleted, so its type is the token's business too.
    #[test]
    fn a_removed_family_needs_its_type_in_the_scope() {
        let removing = |ipv4: [u8; 4]| {
            Change::Publish(Publish {
                addresses: Addresses { ipv4: Some(Ipv4Addr::from(ipv4)), ipv6: None },
                absent: Absent::Remove,
                ttl: None,
                txt: None,
            })
        };
        // HOME has A and AAAA: the new A deletes the AAAA, which an A-only token may not.
        let home = [row(1, HOME)];
        assert_eq!(
            refusals(&home, &[pending(HOME, "a", removing([192, 0, 2, 2]), hold("A"))], Some(DIGEST)),
            [Some("type")]
        );
        assert_eq!(
            refusals(&home, &[pending(HOME, "a", removing([192, 0, 2, 2]), hold("A,AAAA"))], Some(DIGEST)),
            [None]
        );
        // Even with the A unchanged, the deletion alone needs AAAA.
        assert_eq!(
            refusals(&home, &[pending(HOME, "a", removing([192, 0, 2, 1]), hold("A"))], Some(DIGEST)),
            [Some("type")]
        );
        // With no AAAA to delete, the A-only token is enough.
        let v4_only = [Host { ipv6: None, ..row(1, HOME) }];
        assert_eq!(
            refusals(&v4_only, &[pending(HOME, "a", removing([192, 0, 2, 2]), hold("A"))], Some(DIGEST)),
            [None]
        );
    }

    #[test]
    fn a_refusal_takes_the_whole_request_and_the_replay_starts_again() {
        // HOME has only an AAAA record.
        let home = Host { ipv4: None, ..row(2, HOME) };
        let v6 = Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 1);
        let batch = [
            // A fan-out with an AAAA-only token: the parent's new AAAA and TTL touch AAAA
            // alone, the child's new A address is outside the scope, so neither goes.
            pending(CAM, "a", publish(Some([192, 0, 2, 10]), Some(v6), None, None), hold("AAAA")),
            pending(HOME, "a", publish(None, Some(v6), Some(300), None), hold("AAAA")),
            // Then another request's A with TTL 300: after the parent's change it would add A
            // alone; without it, it changes the TTL and sends AAAA again.
            pending(HOME, "b", publish(Some([192, 0, 2, 1]), None, Some(300), None), hold("A")),
        ];
        assert_eq!(refusals(&[row(1, CAM), home.clone()], &batch, Some(DIGEST)), [Some("type"); 3]);
        // Without the child, both go ahead.
        assert_eq!(refusals(&[row(1, CAM), home], &batch[1..], Some(DIGEST)), [None, None]);
    }

    #[test]
    fn only_a_failure_that_never_reached_a_listener_leaves_dns_known_unchanged() {
        // DNS down: nothing listened, so no `dns_pending` mark is left to warn about on the
        // next request. A reset or a timeout may come after the server applied the UPDATE.
        let server = "127.0.0.1:53".parse().expect("address");
        let io = |kind| DnsError::Io { server, source: std::io::Error::from(kind) };
        assert!(left_dns_unchanged(&io(std::io::ErrorKind::ConnectionRefused)));
        assert!(!left_dns_unchanged(&io(std::io::ErrorKind::ConnectionReset)));
        assert!(!left_dns_unchanged(&DnsError::Timeout { server, timeout_ms: 1 }));
    }
}
