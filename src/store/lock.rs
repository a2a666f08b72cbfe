//! Per-host locks that order every change of one hostname's records across processes (CGI)
//! and threads (FastCGI workers), without a global wait. A host maps to one of [`N_STRIPES`]
//! stripe files in a directory beside the database (`<database>-locks/`), chosen by a stable
//! hash of its FQDN; holding a host's lock is holding an advisory `flock(2)` on its stripe
//! file. flock belongs to the open file description, so two threads that each open the file
//! exclude each other like two processes do, and the kernel drops the lock when its holder
//! dies: a killed CGI process never leaves a host locked. This module knows nothing about SQL
//! or DNS; the store takes these locks around its read-modify-write of a host row.
//!
//! Deadlock freedom: a holder of several locks takes them in ascending stripe order, each
//! stripe once, and nobody waits for a stripe while holding SQLite's write lock (the store
//! writes in a short transaction after the DNS exchange, with its stripes already held).
//!
//! A host also has a relay lock (`relay-XX` files, the same stripes), which orders its relays
//! to upstream providers (`relay`); it is only ever tried, never waited for in the kernel,
//! and never held together with a host lock.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::StoreError;

/// How many stripe files there are. Two hosts that share a stripe wait on each other; with
/// 256 a handful of concurrent updates rarely do, and the directory stays small.
pub(crate) const N_STRIPES: usize = 256;

/// The lock directory of one database.
#[derive(Debug)]
pub(crate) struct HostLocks {
    dir: PathBuf,
    /// The database file's permission bits: stripe files get them (they hold nothing, but the
    /// users that may write the database must be able to open them), the directory gets them
    /// with search permission added where reading is allowed.
    mode: u32,
    /// The database file's owner and group, which created files get too: an operator who runs
    /// an admin command as root must not leave files the web server's user cannot open.
    owner: (u32, u32),
}

/// Held host locks; dropping it closes the files, which releases them.
#[derive(Debug)]
#[must_use = "the locks are released when the guard is dropped"]
pub(crate) struct HostGuard {
    _files: Vec<File>,
}

/// The stripe of `fqdn`: FNV-1a (64 bit) of its bytes. Stable across processes, builds and
/// versions, which is all that matters: every process must map a name to the same file.
pub(crate) fn stripe(fqdn: &str) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in fqdn.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % N_STRIPES as u64) as usize
}

impl HostLocks {
    /// Locks of no database (`Store::detached`): every lock fails, as a lock directory that
    /// cannot be opened does.
    pub(crate) fn none() -> HostLocks {
        HostLocks { dir: PathBuf::new(), mode: 0o600, owner: (0, 0) }
    }

    /// Whether these are [`HostLocks::none`].
    pub(crate) fn is_none(&self) -> bool {
        self.dir.as_os_str().is_empty()
    }

    /// The locks of the database at `db`, whose metadata is `meta`. Creates nothing: the
    /// directory and its files appear on first use.
    pub(crate) fn beside(db: &Path, meta: &std::fs::Metadata) -> HostLocks {
        let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push("-locks");
        HostLocks { dir: db.with_file_name(name), mode: meta.mode() & 0o666, owner: (meta.uid(), meta.gid()) }
    }

    /// Blocks until it holds the locks of all `fqdns` (ascending stripe order, each stripe
    /// once, so concurrent holders of several never deadlock). The wait is bounded by the
    /// holders: each holds a lock for one DNS exchange and a short write, and a holder that
    /// dies releases it.
    pub(crate) fn lock<'a>(&self, fqdns: impl IntoIterator<Item = &'a str>) -> Result<HostGuard, StoreError> {
        let mut stripes: Vec<usize> = fqdns.into_iter().map(stripe).collect();
        stripes.sort_unstable();
        stripes.dedup();
        let mut files = Vec::with_capacity(stripes.len());
        for s in stripes {
            let path = self.dir.join(format!("{s:02x}"));
            let file = self.open(&path)?;
            file.lock().map_err(|source| StoreError::Lock { path: path.clone(), source })?;
            files.push(file);
        }
        Ok(HostGuard { _files: files })
    }

    /// Tries to take the relay lock of `fqdn` without waiting: a stripe of its own
    /// (`relay-XX` beside the host stripes, the same hash), so that one host's relays go one at
    /// a time without holding its host lock. `None` while another holds it. Nobody holds a
    /// relay lock and a host lock at once, so no order between the two is needed.
    pub(crate) fn try_lock_relay(&self, fqdn: &str) -> Result<Option<HostGuard>, StoreError> {
        let path = self.dir.join(format!("relay-{:02x}", stripe(fqdn)));
        let file = self.open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(HostGuard { _files: vec![file] })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Lock { path, source }),
        }
    }

    /// Opens a stripe file, creating it (and the directory) with the database's permissions
    /// when missing. Read access is enough for flock.
    fn open(&self, path: &Path) -> Result<File, StoreError> {
        let fail = |source: std::io::Error| StoreError::Lock { path: path.to_owned(), source };
        match File::open(path) {
            Ok(f) => return Ok(f),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(fail(e)),
        }
        self.create_dir().map_err(|source| StoreError::Lock { path: self.dir.clone(), source })?;
        self.create(path)
    }

    /// Creates a missing stripe file, or opens it when another process (a CGI request, a
    /// FastCGI worker, cron) created it between our failed open and this call: both then lock
    /// the same file, and neither fails.
    fn create(&self, path: &Path) -> Result<File, StoreError> {
        let fail = |source: std::io::Error| StoreError::Lock { path: path.to_owned(), source };
        match OpenOptions::new().write(true).create_new(true).mode(self.mode).open(path) {
            Ok(f) => {
                // The umask may have taken bits the database has (a group that shares it).
                f.set_permissions(std::fs::Permissions::from_mode(self.mode)).map_err(fail)?;
                self.give_to_owner(path);
                Ok(f)
            }
            // The other process won the race: its file is as good as ours.
            Err(e) if e.kind() == ErrorKind::AlreadyExists => File::open(path).map_err(fail),
            Err(e) => Err(fail(e)),
        }
    }

    /// Hands a created file to the database's owner. Only root may; for anyone else the file
    /// is theirs already when they own the database, and the failure changes nothing.
    fn give_to_owner(&self, path: &Path) {
        let _ = std::os::unix::fs::chown(path, Some(self.owner.0), Some(self.owner.1));
    }

    fn create_dir(&self) -> std::io::Result<()> {
        // Search permission wherever the database may be read.
        let mode = self.mode | ((self.mode & 0o444) >> 2);
        match std::fs::DirBuilder::new().mode(mode).create(&self.dir) {
            Ok(()) => {
                std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(mode))?;
                self.give_to_owner(&self.dir);
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_are_stable_and_spread() {
        // Fixed values: every process and every version must agree on them.
        assert_eq!(stripe("home.dyn.example.test"), 39);
        let used: std::collections::HashSet<usize> =
            (0..1000).map(|i| stripe(&format!("h{i}.dyn.example.test"))).collect();
        assert!(used.len() > 200, "{}", used.len());
        assert!(used.iter().all(|s| *s < N_STRIPES));
    }

    #[test]
    fn a_held_stripe_excludes_another_descriptor_in_the_same_process() {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-lock-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("db.sqlite");
        std::fs::write(&db, b"").expect("db");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let locks = HostLocks::beside(&db, &std::fs::metadata(&db).expect("meta"));
        let held = locks.lock(["a.example.test", "b.example.test", "a.example.test"]).expect("lock");
        let path = locks.dir.join(format!("{:02x}", stripe("a.example.test")));
        let other = File::open(&path).expect("open");
        assert!(matches!(other.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        drop(held);
        other.try_lock().expect("free after the guard is dropped");
        let meta = std::fs::metadata(&locks.dir).expect("dir meta");
        assert_eq!(meta.permissions().mode() & 0o777, 0o700);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_relay_lock_excludes_another_relay_turn_and_not_the_host_lock() {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-relay-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("db.sqlite");
        std::fs::write(&db, b"").expect("db");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let locks = HostLocks::beside(&db, &std::fs::metadata(&db).expect("meta"));
        let turn = locks.try_lock_relay("a.example.test").expect("try").expect("free");
        assert!(locks.try_lock_relay("a.example.test").expect("try").is_none(), "a second turn waits");
        // The host's updates go on meanwhile: its host lock is another file.
        drop(locks.lock(["a.example.test"]).expect("host lock"));
        drop(turn);
        assert!(locks.try_lock_relay("a.example.test").expect("try").is_some(), "free after the turn");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_loser_of_a_race_to_create_a_stripe_file_locks_the_winners_file() {
        // Two processes find a stripe file missing at the same moment; one creates it, then the
        // other's `create_new` meets it. Pre-creating the file is that moment, deterministically.
        let dir = std::env::temp_dir().join(format!("ddns-cgi-lock-race-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("db.sqlite");
        std::fs::write(&db, b"").expect("db");
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let locks = HostLocks::beside(&db, &std::fs::metadata(&db).expect("meta"));
        locks.create_dir().expect("lock dir");
        let path = locks.dir.join(format!("{:02x}", stripe("race.example.test")));
        let winner = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path).expect("winner");
        let loser = locks.create(&path).expect("the loser opens the winner's file instead of failing");
        let inode = |f: &File| f.metadata().map(|m| (m.dev(), m.ino())).expect("file meta");
        assert_eq!(inode(&loser), inode(&winner));
        // Both exclude each other on it, as two processes locking one host must.
        winner.lock().expect("winner locks");
        assert!(matches!(loser.try_lock(), Err(std::fs::TryLockError::WouldBlock)));
        drop(winner);
        loser.try_lock().expect("free once the winner is gone");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
