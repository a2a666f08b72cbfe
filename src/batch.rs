//! Group commit for FastCGI: changes of one zone that arrive while its runs are in flight wait,
//! and go together in the next run (one DNS message, one SQLite transaction;
//! `update::changes::run_changes` does the work). Up to [`RUNS_IN_FLIGHT`] runs of a zone are
//! in flight at once, never two with the same hostname: a change whose hostname is in a run in
//! flight waits for that run to end, so the changes of one host that pile up behind it go
//! together (collapsed to the last) in one later run instead of queueing on the host's lock
//! in several. A run starts with everything that may go then: when a change arrives and a run
//! may start, or when a run ends; a run of a busy zone first waits briefly for changes to join
//! it ([`Timing`]). Its first change's submitter leads it (runs it on its own thread) and
//! hands each other change's submitter its answer, so no request waits for more than the runs
//! in flight and its own. This module knows nothing about DNS, SQL or HTTP; CGI never uses it
//! (a process has one request).

use std::collections::{HashMap, HashSet};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How many runs (UPDATE messages) of one zone may be in flight at once. Measured against Knot
/// 3.2 with 8 clients on 8 hostnames (issue 13), more than one does not help: Knot commits a
/// zone's updates one commit at a time, so a second message in flight waits at the server for
/// the commit under way instead of in this queue, and the batches shrink (4 in flight: 1.5
/// hosts per message, each exchange 33 ms). Each request still waits about two commits (p50
/// 25 ms with 1, 2 or 4 in flight). What lifted the rate was the commit delay of a busy zone
/// ([`Timing`]): with one run in flight, 7.5 hosts per message and a p50 of one commit
/// (13 ms); with 2 or 4 in flight it did not help. The queue takes any limit (a hostname is in
/// one run at most, and runs take their host locks in ascending order), for a server that
/// commits concurrent messages in parallel.
pub(crate) const RUNS_IN_FLIGHT: usize = 1;

/// How long, at most, a run of a busy zone waits for changes to join it before it sends
/// (see [`Timing`]). A few times a client's turnaround (answer, next request, authentication)
/// on loopback, a fraction of one DNS commit (about 10 ms for Knot).
pub(crate) const LINGER: Duration = Duration::from_millis(3);

/// A zone is busy when its last run ended this recently: its clients are coming back.
pub(crate) const BUSY: Duration = Duration::from_millis(20);

/// When a run waits for changes to join it (a group commit's commit delay, as PostgreSQL's
/// `commit_delay`). The DNS server commits a zone's updates one commit at a time; clients that
/// get their answers from one run come back a little later, and a run that started without
/// them would make them wait for it and then for their own: two commits each. So a run of a
/// busy zone (its last run ended within `busy`) waits up to `linger` until it holds as many
/// changes as that last run had and found waiting when it ended (the zone's clients); an
/// idle zone's first change goes at once.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timing {
    pub(crate) linger: Duration,
    pub(crate) busy: Duration,
}

/// The waiting changes of every zone.
#[derive(Debug)]
pub(crate) struct Batcher<I, A> {
    zones: Mutex<HashMap<String, Queue<I, A>>>,
    /// Signalled when a change is queued, for a run waiting for changes to join it.
    arrived: Condvar,
    runs_in_flight: usize,
    timing: Timing,
}

/// One zone's queue (kept once made: zones are the configured ones).
#[derive(Debug)]
struct Queue<I, A> {
    /// Changes not yet in a run, in arrival order.
    pending: Vec<Entry<I, A>>,
    /// Runs whose changes were taken and that have not ended.
    running: usize,
    /// The hostnames of those runs: each in one run at most.
    busy: HashSet<String>,
    /// When the last run ended, and how many changes it had and found waiting.
    last_end: Option<(Instant, usize)>,
}

/// One submitted change: its hostname, the change, and where its submitter waits.
#[derive(Debug)]
struct Entry<I, A> {
    host: String,
    item: I,
    slot: Arc<Slot<I, A>>,
}

/// Changes in arrival order.
type Entries<I, A> = Vec<Entry<I, A>>;

/// A run just started: whose submitter leads it, and its changes.
type Started<I, A> = (Arc<Slot<I, A>>, Entries<I, A>);

/// Where a waiting submitter learns its answer, or that it leads a run (and with which changes).
#[derive(Debug)]
struct Slot<I, A> {
    state: Mutex<State<I, A>>,
    changed: Condvar,
}

#[derive(Debug)]
enum State<I, A> {
    Waiting,
    Lead(Vec<Entry<I, A>>),
    Done(A),
}

/// What a woken submitter does: return its answer, or run these changes.
enum Woken<I, A> {
    Done(A),
    Lead(Vec<Entry<I, A>>),
}

impl<I, A> Slot<I, A> {
    fn new() -> Self {
        Slot { state: Mutex::new(State::Waiting), changed: Condvar::new() }
    }

    fn set(&self, state: State<I, A>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
        self.changed.notify_one();
    }

    /// Blocks until the slot is answered or handed the lead of a run.
    fn wait(&self) -> Woken<I, A> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match std::mem::replace(&mut *state, State::Waiting) {
                State::Done(a) => return Woken::Done(a),
                State::Lead(batch) => return Woken::Lead(batch),
                State::Waiting => state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner),
            }
        }
    }
}

impl<I, A> Queue<I, A> {
    /// Starts a run if one may start: fewer than `limit` in flight and a change whose hostname
    /// is in none. The run takes every such change, in arrival order (so a host's changes
    /// stay in order: they all go, or none does); its first change's submitter leads it.
    fn start_run(&mut self, limit: usize) -> Option<Started<I, A>> {
        if self.running >= limit {
            return None;
        }
        let batch = self.take_ready(&HashSet::new());
        let lead = batch.first()?.slot.clone();
        self.running += 1;
        Some((lead, batch))
    }

    /// Whether `e` may go in a run that already holds the hostnames `ours`: its hostname is in
    /// no run, or in that one (it follows that run's changes of the host).
    fn may_go(&self, e: &Entry<I, A>, ours: &HashSet<String>) -> bool {
        !self.busy.contains(&e.host) || ours.contains(&e.host)
    }

    /// Takes the pending changes that may go in a run holding `ours` (see [`Queue::may_go`]),
    /// in arrival order, and marks their hostnames as in a run.
    fn take_ready(&mut self, ours: &HashSet<String>) -> Entries<I, A> {
        let (ready, rest): (Entries<I, A>, Entries<I, A>) =
            std::mem::take(&mut self.pending).into_iter().partition(|e| self.may_go(e, ours));
        self.pending = rest;
        self.busy.extend(ready.iter().map(|e| e.host.clone()));
        ready
    }
}

impl<I, A> Default for Batcher<I, A> {
    fn default() -> Self {
        Batcher::new(RUNS_IN_FLIGHT, Timing { linger: LINGER, busy: BUSY })
    }
}

impl<I, A> Batcher<I, A> {
    /// A batcher letting up to `runs_in_flight` runs of a zone be in flight (at least one).
    pub(crate) fn new(runs_in_flight: usize, timing: Timing) -> Self {
        Batcher {
            zones: Mutex::new(HashMap::new()),
            arrived: Condvar::new(),
            runs_in_flight: runs_in_flight.max(1),
            timing,
        }
    }

    /// Submits `item`, a change of `host` in `zone`, and returns its answer. Either another
    /// submitter's run answers it, or this one leads a run: `run` gets the changes taken for it
    /// (this one among them) and returns one answer per change, in order. A run that panics or
    /// returns too few answers answers the rest with `failed()`, so no waiter is left behind.
    pub(crate) fn submit(
        &self,
        zone: &str,
        host: &str,
        item: I,
        run: impl FnOnce(Vec<I>) -> Vec<A>,
        failed: impl Fn() -> A,
    ) -> A {
        let mine = Arc::new(Slot::new());
        let started = {
            let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
            let queue = zones.entry(zone.to_owned()).or_insert_with(|| Queue {
                pending: Vec::new(),
                running: 0,
                busy: HashSet::new(),
                last_end: None,
            });
            queue.pending.push(Entry { host: host.to_owned(), item, slot: mine.clone() });
            self.arrived.notify_all();
            queue.start_run(self.runs_in_flight)
        };
        let batch = match started {
            Some((lead, batch)) if Arc::ptr_eq(&lead, &mine) => batch,
            started => {
                // Between two calls every change that may go is in a run, so a run started
                // now is this change's; handing another submitter its lead is only for safety.
                if let Some((lead, batch)) = started {
                    lead.set(State::Lead(batch));
                }
                match mine.wait() {
                    Woken::Done(answer) => return answer,
                    Woken::Lead(batch) => batch,
                }
            }
        };
        self.lead(zone, &mine, batch, run, failed)
    }

    /// Runs `batch`, ends the run (starting the next one if changes wait), and answers each
    /// change's submitter; returns the answer of `mine`.
    fn lead(
        &self,
        zone: &str,
        mine: &Arc<Slot<I, A>>,
        batch: Vec<Entry<I, A>>,
        run: impl FnOnce(Vec<I>) -> Vec<A>,
        failed: impl Fn() -> A,
    ) -> A {
        let batch = self.gather(zone, batch);
        let mut hosts = Vec::with_capacity(batch.len());
        let mut items = Vec::with_capacity(batch.len());
        let mut slots = Vec::with_capacity(batch.len());
        for Entry { host, item, slot } in batch {
            hosts.push(host);
            items.push(item);
            slots.push(slot);
        }
        let answers = std::panic::catch_unwind(AssertUnwindSafe(|| run(items))).unwrap_or_default();
        // The run's hosts are written (or not) and unlocked: free them, and start the next
        // run with what waits, before answering, so it is on its way while this one answers.
        let next = {
            let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
            zones.get_mut(zone).and_then(|queue| {
                queue.running = queue.running.saturating_sub(1);
                for host in &hosts {
                    queue.busy.remove(host);
                }
                // The clients of this zone now: this run's and those that waited for it. Its
                // size alone would keep two groups that alternate (each waiting for the other's
                // run and then its own) apart for good; expecting both joins them.
                queue.last_end = Some((Instant::now(), hosts.len() + queue.pending.len()));
                queue.start_run(self.runs_in_flight)
            })
        };
        if let Some((lead, batch)) = next {
            lead.set(State::Lead(batch));
        }
        let mut answers = answers.into_iter();
        let mut own = None;
        for slot in slots {
            let answer = answers.next().unwrap_or_else(&failed);
            if Arc::ptr_eq(&slot, mine) {
                own = Some(answer);
            } else {
                slot.set(State::Done(answer));
            }
        }
        own.unwrap_or_else(failed)
    }

    /// A run of a busy zone waits (up to `linger`, see [`Timing`]) until it holds as many
    /// changes as the zone's last run had and found waiting, taking in the changes that arrive meanwhile and may
    /// go: of hostnames in no run, or in this one (they follow its changes of that host).
    fn gather(&self, zone: &str, mut batch: Vec<Entry<I, A>>) -> Vec<Entry<I, A>> {
        if self.timing.linger.is_zero() {
            return batch;
        }
        let started = Instant::now();
        let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(&(ended, expected)) = zones.get(zone).and_then(|q| q.last_end.as_ref()) else { return batch };
        if started.saturating_duration_since(ended) > self.timing.busy {
            return batch;
        }
        let deadline = started + self.timing.linger;
        let ours: HashSet<String> = batch.iter().map(|e| e.host.clone()).collect();
        loop {
            let Some(queue) = zones.get(zone) else { return batch };
            let ready = queue.pending.iter().filter(|e| queue.may_go(e, &ours)).count();
            let now = Instant::now();
            if batch.len() + ready >= expected || now >= deadline {
                break;
            }
            zones = self.arrived.wait_timeout(zones, deadline - now).unwrap_or_else(PoisonError::into_inner).0;
        }
        let Some(queue) = zones.get_mut(zone) else { return batch };
        batch.extend(queue.take_ready(&ours));
        batch
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};
    use std::time::{Duration, Instant};

    use super::*;

    type Runs = Arc<Mutex<Vec<Vec<u32>>>>;

    const NO_LINGER: Timing = Timing { linger: Duration::ZERO, busy: Duration::ZERO };

    /// No change waits and no run is in flight: nobody was left behind.
    #[track_caller]
    fn assert_idle(batcher: &Batcher<u32, u32>) {
        for (zone, q) in batcher.zones.lock().expect("lock").iter() {
            assert!(q.pending.is_empty() && q.running == 0 && q.busy.is_empty(), "zone {zone}: {q:?}");
        }
    }

    /// Waits (bounded: a failure, not a hang) until `runs` holds `run`.
    #[track_caller]
    fn wait_run(runs: &Runs, run: &[u32]) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !runs.lock().expect("runs").iter().any(|r| r == run) {
            assert!(Instant::now() < deadline, "no run {run:?} in {:?}", runs.lock().expect("runs"));
            std::thread::yield_now();
        }
    }

    /// A run that records its items and answers each with ten times its value.
    fn record(runs: &Runs, items: Vec<u32>) -> Vec<u32> {
        runs.lock().expect("runs").push(items.clone());
        items.iter().map(|i| i * 10).collect()
    }

    /// The host of item `i` in the tests: its own unless told otherwise.
    fn host(i: u32) -> String {
        format!("h{i}")
    }

    /// Spawns a submitter of `item` (of `host`) whose run is recorded in `runs`.
    fn spawn_submit(
        batcher: &Arc<Batcher<u32, u32>>,
        runs: &Runs,
        host: String,
        item: u32,
    ) -> std::thread::JoinHandle<u32> {
        let (batcher, runs) = (batcher.clone(), runs.clone());
        std::thread::spawn(move || batcher.submit("z", &host, item, |items| record(&runs, items), || 0))
    }

    /// A submitter whose run (if it leads one) counts itself in `started`, then holds until
    /// `release`.
    fn spawn_held(
        batcher: &Arc<Batcher<u32, u32>>,
        runs: &Runs,
        host: String,
        item: u32,
        started: Arc<AtomicUsize>,
        release: Arc<Barrier>,
    ) -> std::thread::JoinHandle<u32> {
        let (batcher, runs) = (batcher.clone(), runs.clone());
        std::thread::spawn(move || {
            batcher.submit(
                "z",
                &host,
                item,
                |items| {
                    started.fetch_add(1, Ordering::SeqCst);
                    release.wait();
                    record(&runs, items)
                },
                || 0,
            )
        })
    }

    /// Waits (bounded: a failure, not a hang) until `n` held runs have started.
    #[track_caller]
    fn wait_started(started: &AtomicUsize, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while started.load(Ordering::SeqCst) < n {
            assert!(Instant::now() < deadline, "only {} of {n} runs started", started.load(Ordering::SeqCst));
            std::thread::yield_now();
        }
    }

    /// Waits (bounded: a failure, not a hang) until the zone's queue satisfies `ready`.
    #[track_caller]
    fn wait_queue(batcher: &Batcher<u32, u32>, what: &str, ready: impl Fn(Option<&Queue<u32, u32>>) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready(batcher.zones.lock().expect("lock").get("z")) {
            assert!(Instant::now() < deadline, "never reached: {what}");
            std::thread::yield_now();
        }
    }

    fn pending(q: Option<&Queue<u32, u32>>) -> Vec<(String, u32)> {
        q.map_or_else(Vec::new, |q| q.pending.iter().map(|e| (e.host.clone(), e.item)).collect())
    }

    #[test]
    fn a_lone_change_runs_at_once() {
        let batcher: Batcher<u32, u32> = Batcher::default();
        assert_eq!(batcher.submit("z", "h", 7, |items| items.iter().map(|i| i * 2).collect(), || 0), 14);
        assert_idle(&batcher);
    }

    #[test]
    fn changes_arriving_during_a_run_go_together_in_the_next() {
        // One run in flight at most: the four that arrive during it go together next.
        let batcher: Arc<Batcher<u32, u32>> = Arc::new(Batcher::new(1, NO_LINGER));
        let runs = Runs::default();
        let (started, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(Barrier::new(2)));
        let first = spawn_held(&batcher, &runs, host(1), 1, started.clone(), release.clone());
        wait_started(&started, 1);
        let others: Vec<_> = (2..=5).map(|i| spawn_submit(&batcher, &runs, host(i), i)).collect();
        wait_queue(&batcher, "four queued", |q| pending(q).len() == 4);
        release.wait();
        assert_eq!(first.join().expect("first"), 10);
        let mut answers: Vec<u32> = others.into_iter().map(|t| t.join().expect("other")).collect();
        answers.sort_unstable();
        assert_eq!(answers, [20, 30, 40, 50]);
        let runs = runs.lock().expect("runs");
        assert_eq!(runs.len(), 2, "{runs:?}");
        assert_eq!(runs[0], [1]);
        let mut second = runs[1].clone();
        second.sort_unstable();
        assert_eq!(second, [2, 3, 4, 5]);
        assert_idle(&batcher);
    }

    #[test]
    fn up_to_the_limit_runs_overlap_and_the_next_changes_wait_for_a_free_one() {
        let batcher: Arc<Batcher<u32, u32>> = Arc::new(Batcher::new(2, NO_LINGER));
        let runs = Runs::default();
        // Two runs of different hosts in flight at once: both start, neither has ended.
        let started = Arc::new(AtomicUsize::new(0));
        let (release1, release2) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        let first = spawn_held(&batcher, &runs, host(1), 1, started.clone(), release1.clone());
        wait_started(&started, 1);
        let second = spawn_held(&batcher, &runs, host(2), 2, started.clone(), release2.clone());
        wait_started(&started, 2);
        // Both slots taken: the next changes wait, though their hosts are free.
        let later: Vec<_> = (3..=5).map(|i| spawn_submit(&batcher, &runs, host(i), i)).collect();
        wait_queue(&batcher, "three waiting behind two runs", |q| {
            pending(q).len() == 3 && q.is_some_and(|q| q.running == 2)
        });
        // One run ends: the next free run takes all three together.
        release1.wait();
        assert_eq!(first.join().expect("first"), 10);
        let mut answers: Vec<u32> = later.into_iter().map(|t| t.join().expect("later")).collect();
        answers.sort_unstable();
        assert_eq!(answers, [30, 40, 50]);
        release2.wait();
        assert_eq!(second.join().expect("second"), 20);
        let runs = runs.lock().expect("runs");
        assert_eq!(runs.len(), 3, "{runs:?}");
        assert_eq!(runs[0], [1]);
        let mut third = runs[1].clone();
        third.sort_unstable();
        assert_eq!(third, [3, 4, 5], "{runs:?}");
        assert_eq!(runs[2], [2]);
        assert_idle(&batcher);
    }

    #[test]
    fn changes_of_a_host_in_flight_wait_for_its_run_and_go_together() {
        let batcher: Arc<Batcher<u32, u32>> = Arc::new(Batcher::new(4, NO_LINGER));
        let runs = Runs::default();
        let (started, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(Barrier::new(2)));
        let first = spawn_held(&batcher, &runs, "a".to_owned(), 1, started.clone(), release.clone());
        wait_started(&started, 1);
        // Two more changes of `a` wait although runs are free; one of `b` does not wait.
        let a2 = spawn_submit(&batcher, &runs, "a".to_owned(), 2);
        wait_queue(&batcher, "a2 queued", |q| pending(q).len() == 1);
        let a3 = spawn_submit(&batcher, &runs, "a".to_owned(), 3);
        wait_queue(&batcher, "a3 queued", |q| pending(q).len() == 2);
        let b = spawn_submit(&batcher, &runs, "b".to_owned(), 4);
        wait_run(&runs, &[4]);
        assert_eq!(b.join().expect("b"), 40);
        wait_queue(&batcher, "a's changes still waiting, b done", |q| {
            pending(q) == [("a".to_owned(), 2), ("a".to_owned(), 3)] && q.is_some_and(|q| q.running == 1)
        });
        release.wait();
        assert_eq!(first.join().expect("first"), 10);
        assert_eq!(a2.join().expect("a2"), 20);
        assert_eq!(a3.join().expect("a3"), 30);
        let runs = runs.lock().expect("runs");
        assert_eq!(*runs, [vec![4], vec![1], vec![2, 3]], "in arrival order, together");
        assert_idle(&batcher);
    }

    #[test]
    fn a_panicking_run_answers_every_waiter() {
        let batcher: Batcher<u32, u32> = Batcher::default();
        let answer = batcher.submit("z", "h", 1, |_| panic!("boom"), || 911);
        assert_eq!(answer, 911);
        assert_eq!(batcher.submit("z", "h", 2, |items| items, || 911), 2, "the zone is free again");
        // A run with waiters in it panics: each of them gets `failed()`, and the zone is free.
        let batcher: Arc<Batcher<u32, u32>> = Arc::new(Batcher::new(1, NO_LINGER));
        let (started, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(Barrier::new(2)));
        let runs = Runs::default();
        let first = spawn_held(&batcher, &runs, host(1), 1, started.clone(), release.clone());
        wait_started(&started, 1);
        let waiters: Vec<_> = (2..=4)
            .map(|i| {
                let batcher = batcher.clone();
                std::thread::spawn(move || batcher.submit("z", &host(i), i, |_| panic!("boom"), || 911))
            })
            .collect();
        wait_queue(&batcher, "three queued", |q| pending(q).len() == 3);
        release.wait();
        assert_eq!(first.join().expect("first"), 10);
        for w in waiters {
            assert_eq!(w.join().expect("waiter"), 911);
        }
        assert_idle(&batcher);
    }

    #[test]
    fn a_run_of_a_busy_zone_waits_for_the_changes_of_its_last_run_and_those_that_waited() {
        // A long linger: the run must end its wait because the changes came, not by time.
        let timing = Timing { linger: Duration::from_secs(60), busy: Duration::from_secs(60) };
        let batcher: Arc<Batcher<u32, u32>> = Arc::new(Batcher::new(1, timing));
        let runs = Runs::default();
        let went_together = |want: &[u32]| {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let mut sorted: Vec<Vec<u32>> = runs.lock().expect("runs").clone();
                sorted.iter_mut().for_each(|r| r.sort_unstable());
                if sorted.iter().any(|r| r == want) {
                    return;
                }
                assert!(Instant::now() < deadline, "{want:?} did not go together: {sorted:?}");
                std::thread::yield_now();
            }
        };
        // The zone's first change goes at once, however long the linger.
        assert_eq!(spawn_submit(&batcher, &runs, host(1), 1).join().expect("first"), 10);
        // One change held in flight, two waiting behind it: three clients in all.
        let (started, release) = (Arc::new(AtomicUsize::new(0)), Arc::new(Barrier::new(2)));
        let held = spawn_held(&batcher, &runs, host(2), 2, started.clone(), release.clone());
        wait_started(&started, 1);
        let pair: Vec<_> = (3..=4).map(|i| spawn_submit(&batcher, &runs, host(i), i)).collect();
        wait_queue(&batcher, "two queued", |q| pending(q).len() == 2);
        release.wait();
        assert_eq!(held.join().expect("held"), 20);
        // The two that waited wait for a third (the held run's client coming back), and go
        // with it: two groups that alternate would each wait for the other's run.
        let third = spawn_submit(&batcher, &runs, host(7), 7);
        went_together(&[3, 4, 7]);
        for t in pair {
            t.join().expect("pair");
        }
        assert_eq!(third.join().expect("third"), 70);
        // The zone is busy and its last run had three changes, none waiting: a lone change
        // waits for two more.
        let trio: Vec<_> = [5, 6, 8].into_iter().map(|i| spawn_submit(&batcher, &runs, host(i), i)).collect();
        went_together(&[5, 6, 8]);
        let answers: Vec<u32> = trio.into_iter().map(|t| t.join().expect("trio")).collect();
        assert_eq!(answers, [50, 60, 80]);
        assert_idle(&batcher);
    }

    #[test]
    fn under_load_every_change_is_answered_by_at_most_the_limit_of_runs_each_host_in_one() {
        under_load(NO_LINGER);
        under_load(Timing { linger: Duration::from_millis(2), busy: Duration::from_secs(1) });
    }

    fn under_load(timing: Timing) {
        // 12 clients on 5 hosts, 40 changes each: every answer is its own change's, no two
        // runs in flight share a host, never more than 3 are in flight, the zone ends idle.
        const LIMIT: usize = 3;
        let batcher: Arc<Batcher<u32, u32>> = Arc::new(Batcher::new(LIMIT, timing));
        let in_flight: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
        let most = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..12u32)
            .map(|c| {
                let (batcher, in_flight, most) = (batcher.clone(), in_flight.clone(), most.clone());
                std::thread::spawn(move || {
                    for k in 0..40u32 {
                        let item = c * 1000 + k;
                        let host = host(c % 5);
                        let answer = batcher.submit(
                            "z",
                            &host,
                            item,
                            |items| {
                                let hosts: Vec<String> = items.iter().map(|i| self::host((i / 1000) % 5)).collect();
                                {
                                    let mut runs = in_flight.lock().expect("in flight");
                                    for other in runs.iter() {
                                        assert!(!other.iter().any(|h| hosts.contains(h)), "{other:?} and {hosts:?}");
                                    }
                                    runs.push(hosts.clone());
                                    most.fetch_max(runs.len(), Ordering::SeqCst);
                                }
                                std::thread::yield_now();
                                in_flight.lock().expect("in flight").retain(|h| *h != hosts);
                                items.iter().map(|i| i + 1).collect()
                            },
                            || 0,
                        );
                        assert_eq!(answer, item + 1);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().expect("client");
        }
        assert!(most.load(Ordering::SeqCst) <= LIMIT);
        assert_idle(&batcher);
    }
}
