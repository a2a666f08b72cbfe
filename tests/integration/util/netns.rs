//! Network namespaces for tests that need separate hosts (issue 11): a test builds a small
//! network of namespaces of its own (`ip netns add`), each joined by a veth pair to a bridge
//! in a hub namespace, with addresses from the test network 10.213.0.0/24 only, and removes
//! them all on drop, on failure too. The root namespace gets neither an address nor a link.
//! A harness process (a DNS server, a web server, `curl`, `dig`) runs in a namespace through
//! `ip netns exec`: [`inside`] sets the namespace for the commands the harness starts on
//! this thread, and a [`super::DnsServer`] remembers the namespace it was started in.

use std::cell::RefCell;
use std::ffi::OsStr;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};

use super::skip::{self, Servers};

thread_local! {
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// The namespace the harness starts its commands in on this thread (`None`: the test's own).
pub fn current() -> Option<String> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Runs `f` with the harness's commands on this thread started in namespace `ns`.
pub fn inside<T>(ns: &str, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<String>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = self.0.take());
        }
    }
    let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(ns.to_owned())));
    f()
}

/// A command for `program`, run in namespace `ns` when there is one.
pub fn command_in(ns: Option<&str>, program: impl AsRef<OsStr>) -> Command {
    match ns {
        Some(ns) => {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns]).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// A command for `program` in this thread's namespace ([`inside`]).
pub fn command(program: impl AsRef<OsStr>) -> Command {
    command_in(current().as_deref(), program)
}

/// The hub's address: the bridge every namespace's veth is joined to.
pub const HUB: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 1);

/// A set of namespaces joined in one test network; removed on drop.
pub struct Net {
    prefix: String,
    /// (tag, address) of each member namespace.
    members: Vec<(String, Ipv4Addr)>,
}

fn ip(args: &[&str]) -> Result<Output, String> {
    let out = Command::new("ip").args(args).output().map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!("`ip {}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

impl Net {
    /// A hub namespace with a bridge on [`HUB`], and one namespace per `(tag, address)`,
    /// joined to the bridge by a veth pair (`eth0` inside, the tag on the hub's side). `None`
    /// (after a loud skip line) only under `DDNS_SKIP_SERVERS=1` when namespaces cannot be
    /// made here; otherwise such a failure fails the test with the reason.
    #[track_caller]
    pub fn create(members: &[(&str, Ipv4Addr)]) -> Option<Net> {
        super::dnsserver::require_program("ip", "iproute2")?;
        static N: AtomicU64 = AtomicU64::new(0);
        let prefix = format!("ddns-it-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let net = Net { prefix, members: members.iter().map(|(t, a)| ((*t).to_owned(), *a)).collect() };
        match net.build() {
            Ok(()) => Some(net),
            Err(reason) => match skip::policy() {
                Servers::Required => panic!(
                    "cannot build the test's network namespaces: {reason}; this test needs root and \
                     `ip netns` (set DDNS_SKIP_SERVERS=1 to skip it instead)"
                ),
                Servers::MaySkip => {
                    let thread = std::thread::current();
                    let line = format!(
                        "SKIPPED: {}: cannot build network namespaces: {reason}; DDNS_SKIP_SERVERS is on, so this test checked nothing\n",
                        thread.name().unwrap_or("?")
                    );
                    let _ = std::io::stderr().lock().write_all(line.as_bytes());
                    None
                }
            },
        }
    }

    fn build(&self) -> Result<(), String> {
        let hub = self.hub();
        ip(&["netns", "add", &hub])?;
        ip(&["-n", &hub, "link", "set", "lo", "up"])?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "addr", "add", &format!("{HUB}/24"), "dev", "br0"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        for (tag, addr) in &self.members {
            let ns = self.ns(tag);
            ip(&["netns", "add", &ns])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &hub, "link", "add", tag, "type", "veth", "peer", "name", "eth0", "netns", &ns])?;
            ip(&["-n", &hub, "link", "set", tag, "master", "br0", "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{addr}/24"), "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    /// The hub namespace's name.
    pub fn hub(&self) -> String {
        format!("{}-hub", self.prefix)
    }

    /// The name of member `tag`'s namespace.
    pub fn ns(&self, tag: &str) -> String {
        format!("{}-{tag}", self.prefix)
    }

    /// Takes member `tag`'s link down (`false`) or up (`true`) on the hub's side of its veth:
    /// the member is cut off from every other, or back.
    pub fn link(&self, tag: &str, up: bool) {
        let state = if up { "up" } else { "down" };
        if let Err(e) = ip(&["-n", &self.hub(), "link", "set", tag, state]) {
            panic!("{e}");
        }
        if !up {
            return;
        }
        // The kernel reports a veth's carrier, and the bridge puts the port back to
        // forwarding, only at its next link-watch run (up to a second later); until then the
        // member's packets are dropped. Wait for both, as a returning host would.
        let (hub, ns) = (self.hub(), self.ns(tag));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let inside = ip(&["-n", &ns, "-br", "link", "show", "dev", "eth0"]).map(|o| o.stdout).unwrap_or_default();
            let port = Command::new("bridge").args(["-n", &hub, "link", "show", "dev", tag]).output();
            let port = port.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
            if String::from_utf8_lossy(&inside).contains(" UP ") && port.contains("state forwarding") {
                return;
            }
            assert!(std::time::Instant::now() < deadline, "link {tag} not back within 10 s: {port}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth ends, and with them their peers.
        for (tag, _) in &self.members {
            let _ = ip(&["netns", "del", &self.ns(tag)]);
        }
        let _ = ip(&["netns", "del", &self.hub()]);
    }
}
