//! The group commit's unit tests: runs of a zone, the limit of runs in flight, a host's
//! changes behind its run, panics, and the commit delay of a busy zone, on threads that play
//! the requests.

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
