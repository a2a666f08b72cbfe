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
use std::task::{Context, Poll, Waker};
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

/// What a queued change's submitter does next ([`Batcher::enqueue`]).
#[derive(Debug)]
pub(crate) enum Turn<'b, I, A> {
    /// Lead a run holding this change.
    Lead(Leading<'b, I, A>),
    /// Wait for another run's answer (or to be handed a run).
    Wait(Waiting<'b, I, A>),
}

/// A run this submitter leads: [`Leading::run`] it, or its changes' submitters wait for ever.
#[derive(Debug)]
#[must_use = "the changes of a run wait until it is run"]
pub(crate) struct Leading<'b, I, A> {
    batcher: &'b Batcher<I, A>,
    zone: String,
    mine: Arc<Slot<I, A>>,
    batch: Entries<I, A>,
}

/// A queued change waiting for its run.
#[derive(Debug)]
#[must_use = "a waiting change may be handed a run to lead"]
pub(crate) struct Waiting<'b, I, A> {
    batcher: &'b Batcher<I, A>,
    zone: String,
    mine: Arc<Slot<I, A>>,
}

impl<'b, I, A> Waiting<'b, I, A> {
    /// Blocks until another run answers this change (`Ok`) or this submitter is handed the
    /// lead of a run (`Err`), which it must run.
    pub(crate) fn wait(self) -> Result<A, Leading<'b, I, A>> {
        match self.mine.wait() {
            Woken::Done(answer) => Ok(answer),
            Woken::Lead(batch) => Err(Leading { batcher: self.batcher, zone: self.zone, mine: self.mine, batch }),
        }
    }

    /// Gives up the thread while the change waits: a task awaits [`Parked::woken`], then
    /// [`Parked::resume`]s with the batcher (on a thread that may block and lead a run).
    pub(crate) fn park(self) -> Parked<I, A> {
        Parked { zone: self.zone, mine: self.mine }
    }
}

/// A queued change whose submitter waits without a thread (FastCGI: a task on the runtime,
/// `docs/design/group-commit.md`). It holds nothing of the batcher's but its queue entry;
/// like [`Waiting`], it must be resumed, or a run handed to it is never run: the task that
/// holds it is not cancelled but at the process's end.
#[derive(Debug)]
#[must_use = "a parked change may be handed a run to lead"]
pub(crate) struct Parked<I, A> {
    zone: String,
    mine: Arc<Slot<I, A>>,
}

impl<I, A> Parked<I, A> {
    /// Ready once the change is answered or its submitter is handed a run, after which
    /// [`Parked::resume`] does not block.
    pub(crate) fn woken(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| self.mine.poll_woken(cx))
    }

    /// The answer another run gave, if it did (`Err(self)` when the change is still waiting
    /// or was handed a run to lead).
    pub(crate) fn answer(self) -> Result<A, Self> {
        self.mine.take_answer().ok_or(self)
    }

    /// As [`Waiting::wait`]: the answer, or the run this submitter must lead (blocking until
    /// one of them comes, if it has not yet).
    pub(crate) fn resume(self, batcher: &Batcher<I, A>) -> Result<A, Leading<'_, I, A>> {
        Waiting { batcher, zone: self.zone, mine: self.mine }.wait()
    }
}

impl<I, A> Leading<'_, I, A> {
    /// Hands this run to this submitter's own slot and parks it: for a submitter that cannot
    /// run it where it is (a task on the runtime), and resumes it on a thread that may block.
    pub(crate) fn park(self) -> Parked<I, A> {
        self.mine.set(State::Lead(self.batch));
        Parked { zone: self.zone, mine: self.mine }
    }

    /// Runs the changes: `run` gets them (this submitter's among them) and returns one answer
    /// per change, in order; returns this submitter's answer and hands each other its own. A
    /// run that panics or returns too few answers answers the rest with `failed()`, so no
    /// waiter is left behind.
    pub(crate) fn run(self, run: impl FnOnce(Vec<I>) -> Vec<A>, failed: impl Fn() -> A) -> A {
        self.batcher.lead(&self.zone, &self.mine, self.batch, run, failed)
    }
}

/// Where a waiting submitter learns its answer, or that it leads a run (and with which changes):
/// a thread blocks on it ([`Waiting::wait`]), a task polls it ([`Parked::woken`]).
#[derive(Debug)]
struct Slot<I, A> {
    inner: Mutex<Inner<I, A>>,
    changed: Condvar,
}

/// A slot's state, with the task to wake when it changes (one that polled it while waiting).
#[derive(Debug)]
struct Inner<I, A> {
    state: State<I, A>,
    waker: Option<Waker>,
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
        Slot { inner: Mutex::new(Inner { state: State::Waiting, waker: None }), changed: Condvar::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<I, A>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set(&self, state: State<I, A>) {
        let waker = {
            let mut inner = self.lock();
            inner.state = state;
            inner.waker.take()
        };
        self.changed.notify_one();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Blocks until the slot is answered or handed the lead of a run.
    fn wait(&self) -> Woken<I, A> {
        let mut inner = self.lock();
        loop {
            match std::mem::replace(&mut inner.state, State::Waiting) {
                State::Done(a) => return Woken::Done(a),
                State::Lead(batch) => return Woken::Lead(batch),
                State::Waiting => inner = self.changed.wait(inner).unwrap_or_else(PoisonError::into_inner),
            }
        }
    }

    /// Ready once the slot is answered or handed the lead of a run; until then the task is
    /// woken by [`Slot::set`]. The waker is kept under the state's lock, so none is lost.
    fn poll_woken(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.lock();
        if matches!(inner.state, State::Waiting) {
            inner.waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Poll::Ready(())
    }

    /// The answer, if the slot holds one (not a run to lead, not yet nothing).
    fn take_answer(&self) -> Option<A> {
        let mut inner = self.lock();
        match std::mem::replace(&mut inner.state, State::Waiting) {
            State::Done(a) => Some(a),
            other => {
                inner.state = other;
                None
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

    /// Submits `item`, a change of `host` in `zone`, and returns its answer, waiting on this
    /// thread: [`Batcher::enqueue`], then [`Waiting::wait`] if another run answers it, and
    /// [`Leading::run`] if this submitter leads one.
    #[cfg(test)]
    pub(crate) fn submit(
        &self,
        zone: &str,
        host: &str,
        item: I,
        run: impl FnOnce(Vec<I>) -> Vec<A>,
        failed: impl Fn() -> A,
    ) -> A {
        let leading = match self.enqueue(zone, host, item) {
            Turn::Lead(leading) => leading,
            Turn::Wait(waiting) => match waiting.wait() {
                Ok(answer) => return answer,
                Err(leading) => leading,
            },
        };
        leading.run(run, failed)
    }

    /// Queues `item`, a change of `host` in `zone`: either its submitter leads a run now, or
    /// it waits ([`Waiting::wait`]) until another run answers it or it is handed a run to
    /// lead. The caller may give back what it holds while it waits (a FastCGI worker's
    /// thread permit and database connection), since a waiting submitter holds nothing the
    /// queue needs: no host lock, no transaction.
    pub(crate) fn enqueue<'b>(&'b self, zone: &str, host: &str, item: I) -> Turn<'b, I, A> {
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
        match started {
            Some((lead, batch)) if Arc::ptr_eq(&lead, &mine) => {
                Turn::Lead(Leading { batcher: self, zone: zone.to_owned(), mine, batch })
            }
            started => {
                // Between two calls every change that may go is in a run, so a run started
                // now is this change's; handing another submitter its lead is only for safety.
                if let Some((lead, batch)) = started {
                    lead.set(State::Lead(batch));
                }
                Turn::Wait(Waiting { batcher: self, zone: zone.to_owned(), mine })
            }
        }
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
mod tests;
