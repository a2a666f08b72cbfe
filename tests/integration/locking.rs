//! Ordering without a global wait: an update of one hostname never waits for the DNS exchange
//! of another (each holds only its own host lock across the round trip), while the same
//! hostname stays ordered (see `resilience` for 50 writers and killed processes).

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::util::relay::{self, Plan, Relay};
use crate::util::{Setup, World};

const SLOW: &str = "slow.dyn.example.test";
const FAST: &str = "fast.dyn.example.test";

/// A gate the relay holds `SLOW`'s UPDATE at: `seen` once it arrived, forwarded only after
/// `release`.
#[derive(Default)]
pub struct Gate {
    state: Mutex<(bool, bool)>,
    changed: Condvar,
}

impl Gate {
    pub fn arrive_and_wait(&self) {
        let mut s = self.state.lock().expect("gate");
        s.0 = true;
        self.changed.notify_all();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !s.1 && Instant::now() < deadline {
            s = self.changed.wait_timeout(s, Duration::from_millis(100)).expect("gate").0;
        }
    }

    pub fn wait_seen(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        let mut s = self.state.lock().expect("gate");
        while !s.0 && Instant::now() < deadline {
            s = self.changed.wait_timeout(s, Duration::from_millis(100)).expect("gate").0;
        }
        s.0
    }

    pub fn release(&self) {
        self.state.lock().expect("gate").1 = true;
        self.changed.notify_all();
    }
}

/// Whether a DNS message names `label` (as a wire-format label).
pub fn names(message: &[u8], label: &str) -> bool {
    let mut wire = vec![u8::try_from(label.len()).expect("label")];
    wire.extend_from_slice(label.as_bytes());
    message.windows(wire.len()).any(|w| w == wire.as_slice())
}

#[test]
fn an_update_does_not_wait_for_another_hosts_dns_exchange() {
    let w = world!(World::new(Setup { hosts: &[SLOW, FAST], ..Setup::default() }));
    // The held exchange must outlive the other update by far: a long DNS timeout for it, and
    // a database busy timeout the other update would run into if it waited for a lock held
    // across that exchange.
    w.edit_config(|c| {
        c.replace("timeout_ms = 1500", "timeout_ms = 30000").replacen("[dns]", "busy_timeout_ms = 2000\n\n[dns]", 1)
    });
    let gate = Arc::new(Gate::default());
    let relay = {
        let gate = gate.clone();
        Relay::start(w.dns.addr(), move |_, request| {
            if names(request, "slow") {
                gate.arrive_and_wait();
            }
            Plan::forward()
        })
    };
    relay::reroute(&w, &relay);
    let mut slow = w.spawn_update(&format!("hostname={SLOW}&myip=192.0.2.1"));
    assert!(gate.wait_seen(Duration::from_secs(30)), "the slow update never reached the DNS server");
    // `slow` is now inside its DNS exchange, and stays there until the gate opens.
    let r = w.update(&format!("hostname={FAST}&myip=192.0.2.2"));
    let slow_still_waiting = matches!(slow.try_wait(), Ok(None));
    gate.release();
    r.expect(200, "good 192.0.2.2\n");
    assert!(slow_still_waiting, "the slow update was not held at the relay");
    assert_eq!(w.a(FAST), ["192.0.2.2"]);
    assert_eq!(w.stored(FAST), (Some("192.0.2.2".into()), None));
    let out = slow.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.ends_with("\r\n\r\ngood 192.0.2.1\n"), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(w.a(SLOW), ["192.0.2.1"]);
    assert_eq!(w.stored(SLOW), (Some("192.0.2.1".into()), None));
}
