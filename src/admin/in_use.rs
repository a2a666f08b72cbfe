//! Which other processes have the SQLite database open, so that `restore` does not pull the
//! file from under a running FastCGI server, CGI request or admin command (they would go on
//! writing to the replaced file, and their `-wal` would be replayed onto the restored one).
//! Two sources, both read from `/proc` (Linux): the open files of every process this user may
//! look at (`/proc/PID/fd`; root sees all), and the file locks of every process
//! (`/proc/locks`, readable by anyone): a SQLite connection in WAL mode holds a shared lock on
//! a byte of the `-shm` file as long as it is open, and a connection in a transaction locks
//! the database file itself. It reports; it locks nothing.

use std::collections::{BTreeMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// A process that has the database open: its id and its name (`/proc/PID/comm`).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Holder {
    pub(super) pid: u32,
    pub(super) name: String,
}

/// The other processes that have `db`, its `-wal` or its `-shm` file open, by process id.
pub(super) fn holders(db: &Path) -> Vec<Holder> {
    let files: HashSet<(u64, u64)> = [db.to_owned(), beside(db, "-wal"), beside(db, "-shm")]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()))
        .collect();
    if files.is_empty() {
        return Vec::new();
    }
    let mut pids: BTreeMap<u32, ()> = BTreeMap::new();
    let me = std::process::id();
    if let Ok(locks) = std::fs::read_to_string("/proc/locks") {
        for pid in lockers(&locks, &files) {
            pids.insert(pid, ());
        }
    }
    for pid in processes() {
        if pid != me && has_open(pid, &files) {
            pids.insert(pid, ());
        }
    }
    pids.remove(&me);
    pids.into_keys()
        .map(|pid| {
            let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|n| n.trim().to_owned());
            Holder { pid, name: name.unwrap_or_else(|_| "?".to_owned()) }
        })
        .collect()
}

/// `db` with `suffix` appended to its name (`-wal`, `-shm`).
pub(super) fn beside(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The process ids in `/proc`.
fn processes() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// Whether process `pid` has one of `files` (device, inode) open. A process whose open files
/// this user may not see (another user's, unless root) or that ended meanwhile has none.
fn has_open(pid: u32, files: &HashSet<(u64, u64)>) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    // `metadata` follows the magic link to the open file, even one deleted since.
    fds.filter_map(Result::ok)
        .filter_map(|fd| std::fs::metadata(fd.path()).ok())
        .any(|m| files.contains(&(m.dev(), m.ino())))
}

/// The ids of the processes that hold a lock on one of `files`, from the text of
/// `/proc/locks` (proc(5)): `1: POSIX  ADVISORY  READ 1234 fd:00:5678 128 128`, with `->`
/// after the number on the lines of waiters. The device is `MAJOR:MINOR` in hex.
fn lockers(text: &str, files: &HashSet<(u64, u64)>) -> Vec<u32> {
    let wanted: HashSet<(u64, u64, u64)> = files.iter().map(|&(dev, ino)| (major(dev), minor(dev), ino)).collect();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().filter(|f| *f != "->").collect();
            let pid: u32 = fields.get(4)?.parse().ok()?;
            let mut file = fields.get(5)?.split(':');
            let maj = u64::from_str_radix(file.next()?, 16).ok()?;
            let min = u64::from_str_radix(file.next()?, 16).ok()?;
            let ino: u64 = file.next()?.parse().ok()?;
            // Pid 0 or -1: an open-file-description lock, or a holder in another namespace.
            (pid > 0 && wanted.contains(&(maj, min, ino))).then_some(pid)
        })
        .collect()
}

/// The major number of a device id as `stat(2)` gives it (glibc's `gnu_dev_major`).
fn major(dev: u64) -> u64 {
    ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000)
}

/// The minor number of a device id (glibc's `gnu_dev_minor`).
fn minor(dev: u64) -> u64 {
    (dev & 0xff) | ((dev >> 12) & 0xffff_ff00)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockers_are_read_from_proc_locks() {
        // Device 253:1 (0xfd:0x01), as stat(2) encodes it; another file on it, a waiter, and
        // holders whose pid is not given (-1, 0).
        let dev = (253 << 8) | 1;
        let files = HashSet::from([(dev, 5678)]);
        let text = "1: POSIX  ADVISORY  READ 1234 fd:01:5678 128 128\n\
                    2: POSIX  ADVISORY  WRITE 99 fd:01:5679 0 EOF\n\
                    3: -> POSIX  ADVISORY  WRITE 4321 fd:01:5678 128 128\n\
                    4: OFDLCK ADVISORY  READ -1 fd:01:5678 0 0\n\
                    5: POSIX  ADVISORY  READ 0 fd:01:5678 128 128\n\
                    garbage\n";
        assert_eq!(lockers(text, &files), [1234, 4321]);
        assert_eq!((major(dev), minor(dev)), (253, 1));
        // 259:300 (an NVMe partition's numbers), whose minor needs the high bits.
        assert_eq!((major(0x0011_032c), minor(0x0011_032c)), (259, 300));
        // Numbers past 12 and 8 bits, whose high parts sit above bit 32 and 20 (glibc's
        // `gnu_dev_makedev`).
        let (maj, min): (u64, u64) = (0x1234, 0x5_6789);
        let dev = ((maj & 0xfff) << 8) | ((maj & !0xfff) << 32) | (min & 0xff) | ((min & !0xff) << 12);
        assert_eq!((major(dev), minor(dev)), (maj, min));
    }

    #[test]
    fn this_process_is_found_holding_a_file_and_then_left_out() {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-in-use-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("x.db");
        let file = std::fs::File::create(&db).expect("create");
        let files = HashSet::from([(file.metadata().expect("meta").dev(), file.metadata().expect("meta").ino())]);
        assert!(has_open(std::process::id(), &files));
        assert_eq!(holders(&db), []);
        drop(file);
        assert!(!has_open(std::process::id(), &files));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn another_process_holding_only_the_wal_file_is_found_by_name() {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-in-use-other-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("x.db");
        std::fs::write(&db, b"").expect("db");
        std::fs::write(beside(&db, "-wal"), b"").expect("wal");
        // A child with the `-wal` file as its stdin: open, not locked, and not this process.
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .stdin(std::fs::File::open(beside(&db, "-wal")).expect("open wal"))
            .spawn()
            .expect("spawn sleep");
        // Its name is the parent's until it has called exec.
        for _ in 0..500 {
            let comm = std::fs::read_to_string(format!("/proc/{}/comm", child.id())).unwrap_or_default();
            if comm.trim() == "sleep" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let found = holders(&db);
        child.kill().expect("kill");
        child.wait().expect("wait");
        std::fs::remove_dir_all(dir).expect("cleanup");
        assert_eq!(found, [Holder { pid: child.id(), name: "sleep".to_owned() }]);
    }
}
