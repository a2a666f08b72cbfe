//! The read-back wait of FastCGI (`http::Later`, `confirm.rs`) without a worker: the worker
//! that ran an update hands over its finished answer with the serial to wait for, and frees
//! its thread, its database connection and every lock; the connection's own task (which
//! owns the connection, as for every request) waits here, on the runtime's thread, and then
//! writes the answer as it would have. One poller task per zone asks each of the zone's
//! `confirm` servers for its SOA serial once per round and publishes the round; every request
//! waiting on the zone reads the same rounds, so 200 waiting requests cost the secondaries
//! what one does. The poller runs while someone waits and ends with the last waiter.
//! Why this is correct, and what a stop or a client that goes away does: `docs/design/propagation.md`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hickory_proto::rr::Name;
use tokio::net::UdpSocket;
use tokio::sync::{Notify, watch};

use super::{Shared, stopped};
use crate::confirm::{FIRST_PAUSE, MAX_PAUSE, MAX_QUERY, Watch};
use crate::dns;
use crate::http::Later;
use crate::reply::Reply;

/// The pollers running, by zone name (as stored, no trailing dot).
#[derive(Debug, Default)]
pub(super) struct Pollers {
    zones: Mutex<HashMap<String, Arc<Poll>>>,
}

/// One zone's poller, as its waiters see it.
#[derive(Debug)]
struct Poll {
    /// The last round; each waiter holds a receiver, and the poller ends when none is left.
    rounds: watch::Sender<Arc<Round>>,
    /// A waiter joined: the next round comes soon (see `poll_zone`).
    joined: Notify,
}

/// What each server answered in one round: its serial, or why it gave none.
#[derive(Debug, Default)]
struct Round {
    at: Option<Instant>,
    answers: Vec<(SocketAddr, Result<u32, String>)>,
}

/// Waits for `later`'s watches (each until its servers serve its change, its deadline, or the
/// server stops), then gives its reply.
pub(super) async fn answer(shared: &Arc<Shared>, mut later: Later, stop: watch::Receiver<bool>) -> Reply {
    // Each zone's poller runs on its own; the watches are followed one after the other, and a
    // round missed meanwhile is no loss: the last one says what each server serves now.
    let receivers: Vec<Option<watch::Receiver<Arc<Round>>>> =
        later.watches.iter().map(|w| subscribe(shared, &w.zone)).collect();
    for (watch, receiver) in later.watches.iter_mut().zip(receivers) {
        if let Some(receiver) = receiver {
            follow(watch, receiver, stop.clone()).await;
        }
    }
    later.reply()
}

/// Joins the zone's poller, starting it when there is none. `None` when the poller cannot be
/// reached (a poisoned lock): the answer then goes out at once, which is what a read-back
/// that cannot ask anyone amounts to.
fn subscribe(shared: &Arc<Shared>, zone: &str) -> Option<watch::Receiver<Arc<Round>>> {
    let mut zones = shared.pollers.zones.lock().ok()?;
    if let Some(poll) = zones.get(zone) {
        let receiver = poll.rounds.subscribe();
        poll.joined.notify_one();
        return Some(receiver);
    }
    let (rounds, receiver) = watch::channel(Arc::new(Round::default()));
    let poll = Arc::new(Poll { rounds, joined: Notify::new() });
    zones.insert(zone.to_owned(), poll.clone());
    tokio::spawn(poll_zone(shared.clone(), zone.to_owned(), poll));
    Some(receiver)
}

/// Reads the rounds until the watch is done, its deadline passes, or the server stops (then
/// the answer goes out at once: it is `good` either way, and a stop must not wait for
/// secondaries). Dropping the receiver on return is what lets the poller end.
async fn follow(watch: &mut Watch, mut rounds: watch::Receiver<Arc<Round>>, stop: watch::Receiver<bool>) {
    let deadline = tokio::time::Instant::from_std(watch.deadline);
    loop {
        let round = rounds.borrow_and_update().clone();
        if let Some(at) = round.at {
            for (server, answer) in &round.answers {
                watch.observe(*server, answer, at);
            }
        }
        if watch.done() {
            return;
        }
        tokio::select! {
            changed = rounds.changed() => if changed.is_err() { return },
            () = tokio::time::sleep_until(deadline) => return,
            () = stopped(stop.clone()) => return,
        }
    }
}

/// The zone's poller: a round (each `confirm` server asked once, all at the same time), then
/// a pause of 10 ms doubling to 200 ms, as CGI's wait does; a waiter that joins restarts the
/// pauses from 10 ms (its change is likely fresh), at most once per 200 ms, so that waiters
/// joining all the time cannot make it poll faster than one round per 10 ms in bursts of a
/// few. Ends, under the registry's lock, when nobody waits: a waiter subscribes under the same
/// lock, so none joins a poller that is ending.
async fn poll_zone(shared: Arc<Shared>, name: String, poll: Arc<Poll>) {
    let servers_and_zone =
        shared.config.zones.iter().find(|z| z.name_str() == name).map(|z| (z.confirm.clone(), z.name.clone()));
    let mut pause = FIRST_PAUSE;
    let mut restarted = Instant::now();
    let mut n_rounds: u64 = 0;
    loop {
        {
            let Ok(mut zones) = shared.pollers.zones.lock() else { return };
            if poll.rounds.receiver_count() == 0 {
                zones.remove(&name);
                return;
            }
        }
        let answers = match &servers_and_zone {
            Some((servers, zone)) => round(servers, zone).await,
            None => Vec::new(),
        };
        n_rounds += 1;
        shared.log.debug(format_args!(
            "zone `{name}`: read-back round {n_rounds} for {} waiting: {}",
            poll.rounds.receiver_count(),
            answers
                .iter()
                .map(|(server, answer)| match answer {
                    Ok(serial) => format!("{server} serial {serial}"),
                    Err(e) => format!("{server} {e}"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ));
        poll.rounds.send_replace(Arc::new(Round { at: Some(Instant::now()), answers }));
        let next = tokio::time::Instant::now() + pause;
        tokio::select! {
            () = tokio::time::sleep_until(next) => pause = (pause * 2).min(MAX_PAUSE),
            () = poll.joined.notified() => {
                if restarted.elapsed() >= MAX_PAUSE {
                    restarted = Instant::now();
                    pause = FIRST_PAUSE;
                    tokio::time::sleep(FIRST_PAUSE).await;
                } else {
                    tokio::time::sleep_until(next).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
            }
        }
    }
}

/// One round: each server asked once, all at the same time, each for at most `MAX_QUERY`.
async fn round(servers: &[SocketAddr], zone: &Name) -> Vec<(SocketAddr, Result<u32, String>)> {
    let asks: Vec<_> = servers
        .iter()
        .map(|server| {
            let (server, zone) = (*server, zone.clone());
            tokio::spawn(async move { soa_serial(server, &zone).await })
        })
        .collect();
    let mut answers = Vec::with_capacity(servers.len());
    for (server, ask) in servers.iter().zip(asks) {
        let answer = ask.await.unwrap_or_else(|e| Err(format!("the query failed: {e}")));
        answers.push((*server, answer));
    }
    answers
}

/// `dns::soa_serial` over a socket of the runtime: one UDP query, bounded by `MAX_QUERY`. A
/// truncated answer (an SOA never is, but RFC 1035 §4.2.1 allows it) is asked again over TCP
/// by the blocking query, on the runtime's blocking pool.
async fn soa_serial(server: SocketAddr, zone: &Name) -> Result<u32, String> {
    let (query, id) = dns::soa_query(server, zone).map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| format!("{server}: {e}");
    let local: SocketAddr = if server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
    let socket = UdpSocket::bind(local).await.map_err(io)?;
    socket.connect(server).await.map_err(io)?;
    socket.send(&query).await.map_err(io)?;
    let mut buf = vec![0u8; 65_535];
    let received = tokio::time::timeout(MAX_QUERY, async {
        loop {
            let n = socket.recv(&mut buf).await?;
            // Datagrams with another id are stale or spoofed; keep waiting for ours.
            if n >= 12 && buf.get(..2) == Some(&id.to_be_bytes()[..]) {
                return Ok::<usize, std::io::Error>(n);
            }
        }
    })
    .await;
    let n = match received {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => return Err(io(e)),
        Err(_) => return Err(format!("no answer from {server} within {} ms", MAX_QUERY.as_millis())),
    };
    let answer = buf.get(..n).unwrap_or_default();
    if answer.get(2).is_some_and(|flags| flags & 0x02 != 0) {
        let zone = zone.clone();
        return tokio::task::spawn_blocking(move || dns::soa_serial(server, &zone, MAX_QUERY))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string());
    }
    dns::soa_in_answer(server, zone, answer).map_err(|e| e.to_string())
}
