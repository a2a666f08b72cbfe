//! Group commit for FastCGI: changes for one zone that arrive while a change of that zone is
//! being sent wait, and go together in the next run (one DNS message, one SQLite transaction;
//! `update::changes::run_changes` does the work). The first submitter of an idle zone leads: it runs
//! everything pending, including its own change, hands each waiter its answer, and passes
//! the lead to the first change that arrived meanwhile, so no request waits for more than the
//! run in flight and its own. This module knows nothing about DNS, SQL or HTTP; CGI never
//! uses it (a process has one request).

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

/// The waiting changes of every zone.
#[derive(Debug)]
pub(crate) struct Batcher<I, A> {
    zones: Mutex<HashMap<String, Queue<I, A>>>,
}

#[derive(Debug)]
struct Queue<I, A> {
    pending: Vec<(I, Arc<Slot<A>>)>,
}

/// Where a waiting submitter learns its answer, or that it leads the next run.
#[derive(Debug)]
struct Slot<A> {
    state: Mutex<State<A>>,
    changed: Condvar,
}

#[derive(Debug)]
enum State<A> {
    Waiting,
    Lead,
    Done(A),
}

impl<A> Slot<A> {
    fn set(&self, state: State<A>) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
        self.changed.notify_one();
    }

    /// Blocks until the slot is answered (`Some`) or handed the lead (`None`).
    fn wait(&self) -> Option<A> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            match std::mem::replace(&mut *state, State::Waiting) {
                State::Done(a) => return Some(a),
                State::Lead => return None,
                State::Waiting => state = self.changed.wait(state).unwrap_or_else(PoisonError::into_inner),
            }
        }
    }
}

impl<I, A> Default for Batcher<I, A> {
    fn default() -> Self {
        Batcher { zones: Mutex::new(HashMap::new()) }
    }
}

impl<I, A> Batcher<I, A> {
    /// Submits `item` for `zone` and returns its answer. Either another submitter's run
    /// answers it, or this one leads: `run` gets every change pending for the zone (this one
    /// among them) and returns one answer per change, in order. A run that panics or returns
    /// too few answers answers the rest with `failed()`, so no waiter is left behind.
    pub(crate) fn submit(&self, zone: &str, item: I, run: impl FnOnce(Vec<I>) -> Vec<A>, failed: impl Fn() -> A) -> A {
        let mine = Arc::new(Slot { state: Mutex::new(State::Waiting), changed: Condvar::new() });
        // A zone has a queue exactly while a leader holds it (running, or about to).
        let lead = {
            let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
            match zones.get_mut(zone) {
                Some(queue) => {
                    queue.pending.push((item, mine.clone()));
                    false
                }
                None => {
                    zones.insert(zone.to_owned(), Queue { pending: vec![(item, mine.clone())] });
                    true
                }
            }
        };
        if !lead && let Some(answer) = mine.wait() {
            return answer;
        }
        // Leading: take everything pending, this change included.
        let batch = {
            let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
            zones.get_mut(zone).map(|q| std::mem::take(&mut q.pending)).unwrap_or_default()
        };
        let (items, slots): (Vec<I>, Vec<Arc<Slot<A>>>) = batch.into_iter().unzip();
        let answers = std::panic::catch_unwind(AssertUnwindSafe(|| run(items))).unwrap_or_default();
        let mut answers = answers.into_iter();
        let mut own = None;
        for slot in slots {
            let answer = answers.next().unwrap_or_else(&failed);
            if Arc::ptr_eq(&slot, &mine) {
                own = Some(answer);
            } else {
                slot.set(State::Done(answer));
            }
        }
        // Pass the lead to the first change that arrived during the run, or free the zone.
        let mut zones = self.zones.lock().unwrap_or_else(PoisonError::into_inner);
        match zones.get_mut(zone).and_then(|q| q.pending.first().map(|(_, slot)| slot.clone())) {
            Some(next) => next.set(State::Lead),
            None => {
                zones.remove(zone);
            }
        }
        own.unwrap_or_else(failed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Barrier};

    use super::*;

    #[test]
    fn a_lone_change_runs_at_once() {
        let batcher: Batcher<u32, u32> = Batcher::default();
        assert_eq!(batcher.submit("z", 7, |items| items.iter().map(|i| i * 2).collect(), || 0), 14);
        assert!(batcher.zones.lock().expect("lock").is_empty(), "an idle zone keeps no queue");
    }

    #[test]
    fn changes_arriving_during_a_run_go_together_in_the_next() {
        let batcher: Arc<Batcher<u32, u32>> = Arc::new(Batcher::default());
        let runs = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let started = Arc::new(Barrier::new(2));
        let release = Arc::new(Barrier::new(2));
        // The first change's run blocks until the others are queued.
        let first = {
            let (batcher, runs, started, release) = (batcher.clone(), runs.clone(), started.clone(), release.clone());
            std::thread::spawn(move || {
                batcher.submit(
                    "z",
                    1,
                    |items| {
                        started.wait();
                        release.wait();
                        runs.lock().expect("runs").push(items.clone());
                        items.iter().map(|i| i * 10).collect()
                    },
                    || 0,
                )
            })
        };
        started.wait();
        let queued = Arc::new(AtomicUsize::new(0));
        let others: Vec<_> = (2..=5)
            .map(|i| {
                let (batcher, runs, queued) = (batcher.clone(), runs.clone(), queued.clone());
                std::thread::spawn(move || {
                    queued.fetch_add(1, Ordering::SeqCst);
                    batcher.submit(
                        "z",
                        i,
                        |items| {
                            runs.lock().expect("runs").push(items.clone());
                            items.iter().map(|i| i * 10).collect()
                        },
                        || 0,
                    )
                })
            })
            .collect();
        // Wait until all four are in the queue behind the running one.
        while batcher.zones.lock().expect("lock").get("z").map_or(0, |q| q.pending.len()) < 4 {
            std::thread::yield_now();
        }
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
        assert!(batcher.zones.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_panicking_run_answers_every_waiter() {
        let batcher: Batcher<u32, u32> = Batcher::default();
        let answer = batcher.submit("z", 1, |_| panic!("boom"), || 911);
        assert_eq!(answer, 911);
        assert_eq!(batcher.submit("z", 2, |items| items, || 911), 2, "the zone is free again");
    }
}
