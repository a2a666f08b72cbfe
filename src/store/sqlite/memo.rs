//! The reads of the FastCGI repeat, remembered while the database has not changed.
//!
//! A repeat (`update::queue_here`) reads the token or the user, the hostname's relays and its
//! row, in one read transaction (`Store::read_together`). Between two commits those reads give
//! the same rows, so this memo keeps them and answers the next repeat's reads itself: no read
//! transaction, no file lock, no statement. What tells that nothing was committed is the one
//! thing SQLite itself trusts for it: the WAL-index header at the start of the `-shm` file.
//! Every commit, by any process or connection, rewrites it before a new reader can see the
//! commit (the frame count and a change counter move; a WAL restart changes the salts), and
//! SQLite's readers compare it to decide whether their page cache is still good. Its layout is
//! the unix VFS's documented WAL-index format: two copies of a 48-byte header, the first
//! written last, so a header read in the middle of a commit has unequal copies.
//!
//! So a memo entry is tagged with the header read before and after the transaction that read
//! it (both equal, or nothing is kept), and is used only while the header reads the same. A
//! replay that needs a read the memo lacks fails with `StoreError::Unmemoized` before it can
//! answer anything, and `read_together` runs the reads again in a transaction, as they would
//! have run without the memo. Everything else (writes, the full path, admin commands) reads
//! around the memo, and a write's commit makes it stale. Bounded: it is emptied when it holds
//! [`MAX_ENTRIES`] rows of one kind. When the header cannot be read (the `-shm` file missing or
//! unreadable, a layout this code does not know) nothing is remembered.
//!
//! The header says something only while the database is in WAL mode: in any other journal mode
//! a commit never touches the `-shm` file, and one left beside the database (by a crash, a
//! copy, a restore) keeps an old header for ever. So nothing is remembered until the store has
//! told the memo ([`Memo::set_wal`]) that its own connection reads the database in WAL mode;
//! from then on it stays so, and the `-shm` file at the path is the live one: a connection in
//! WAL mode holds a shared lock on it (the unix VFS's "DMS" byte) while it is open, and SQLite
//! neither deletes that file nor lets any connection leave WAL mode while the lock is held.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::PathBuf;

use crate::store::{Host, Relay, StoreError, TokenGrant, User};

/// Rows of one kind kept at most; a FastCGI process serves a few thousand hosts at most
/// between two commits, and one more read refills what emptying dropped.
pub(super) const MAX_ENTRIES: usize = 4096;

/// Bytes of one copy of the WAL-index header (`WalIndexHdr`).
const HEADER_BYTES: usize = 48;
/// `iVersion` of the WAL-index format this code reads (the only one since SQLite 3.7.0).
const WAL_INDEX_VERSION: u32 = 3_007_000;
/// Offset of `isInit`, 1 once the header is valid.
const IS_INIT: usize = 12;

/// One copy of the WAL-index header: equal headers, equal database.
type Generation = [u8; HEADER_BYTES];

#[derive(Debug)]
pub(super) struct Memo {
    /// The database's `-shm` file; opened when first needed (it exists once a connection has
    /// read in WAL mode).
    shm_path: Option<PathBuf>,
    shm: RefCell<Option<File>>,
    /// Whether this connection reads the database in WAL mode: `None` until the store has
    /// asked SQLite (the first recording), and nothing is remembered unless `Some(true)`.
    wal: Cell<Option<bool>>,
    state: RefCell<State>,
}

#[derive(Debug, Default)]
struct State {
    mode: Mode,
    /// The generation of the rows below; `None` while a recording has not been confirmed.
    generation: Option<Generation>,
    /// The generation read before the recording transaction began: by a replay that did not
    /// go ahead or stopped at a missing row (its reads came before the transaction's, so its
    /// header is as good a "before"), else by `start_recording`.
    recording: Option<Generation>,
    /// A replay asked for a row the memo lacks.
    missed: bool,
    users: HashMap<String, Option<User>>,
    tokens: HashMap<Vec<u8>, Option<TokenGrant>>,
    hosts: HashMap<String, Option<Host>>,
    relays: HashMap<(String, i64), Vec<Relay>>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    /// Reads go to SQLite and are not kept (every read outside `read_together`).
    #[default]
    Off,
    /// Reads come from the memo; one it lacks fails with `StoreError::Unmemoized`.
    Replay,
    /// Reads go to SQLite, in a transaction, and are kept.
    Record,
}

impl Memo {
    /// A memo for the database SQLite opened as `db_path` (its full name, `Connection::path`);
    /// `None` (an in-memory database) remembers nothing.
    pub(super) fn new(db_path: Option<&str>) -> Memo {
        Memo {
            shm_path: db_path.filter(|p| !p.is_empty()).map(|p| PathBuf::from(format!("{p}-shm"))),
            shm: RefCell::new(None),
            wal: Cell::new(None),
            state: RefCell::default(),
        }
    }

    /// Whether the store has yet to say in which journal mode its connection reads.
    pub(super) fn needs_journal_mode(&self) -> bool {
        self.wal.get().is_none()
    }

    /// What the store's connection answered to `PRAGMA journal_mode` after it read the
    /// database: only WAL mode lets the memo trust the `-shm` file's header.
    pub(super) fn set_wal(&self, wal: bool) {
        self.wal.set(Some(wal));
    }

    /// The WAL-index header as it is now: one `pread`, no lock. `None` when it cannot be
    /// read, is not initialised, is of another format, or was read in the middle of a commit
    /// (its two copies differ).
    pub(super) fn generation(&self) -> Option<Generation> {
        if self.wal.get() != Some(true) {
            return None;
        }
        let mut shm = self.shm.borrow_mut();
        if shm.is_none() {
            *shm = File::open(self.shm_path.as_ref()?).ok();
        }
        let mut both = [0u8; 2 * HEADER_BYTES];
        shm.as_ref()?.read_exact_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(HEADER_BYTES);
        let version = u32::from_ne_bytes(first.get(..4)?.try_into().ok()?);
        if first != second || version != WAL_INDEX_VERSION || first.get(IS_INIT) != Some(&1) {
            return None;
        }
        first.try_into().ok()
    }

    /// Starts a replay when the remembered rows are of the database as it is now.
    pub(super) fn start_replay(&self) -> bool {
        let mut state = self.state.borrow_mut();
        if state.generation.is_none() {
            return false;
        }
        let now = self.generation();
        state.recording = now;
        if now.is_none() || now != state.generation {
            return false;
        }
        state.mode = Mode::Replay;
        state.missed = false;
        true
    }

    /// Ends a replay: `true` when the memo held every row it asked for, so its outcome
    /// stands; `false` when the reads must run again in a transaction.
    pub(super) fn end_replay(&self) -> bool {
        let mut state = self.state.borrow_mut();
        state.mode = Mode::Off;
        if !state.missed {
            // Its outcome stands: no transaction follows that could use its header.
            state.recording = None;
        }
        !state.missed
    }

    /// Starts recording the reads of a transaction about to begin; rows of another
    /// generation are dropped.
    pub(super) fn start_recording(&self) {
        let read = self.state.borrow_mut().recording.take();
        let now = read.or_else(|| self.generation());
        let mut state = self.state.borrow_mut();
        if now.is_none() || now != state.generation {
            state.clear();
        }
        state.generation = None;
        state.recording = now;
        state.mode = Mode::Record;
    }

    /// Ends a recording after its transaction ended: what it read is kept when the database
    /// did not change meanwhile, so the transaction read the generation it started with.
    pub(super) fn end_recording(&self) {
        let now = self.generation();
        let mut state = self.state.borrow_mut();
        state.mode = Mode::Off;
        match state.recording.take() {
            Some(before) if now == Some(before) => state.generation = Some(before),
            _ => state.clear(),
        }
    }

    pub(super) fn user(
        &self,
        name: &str,
        read: impl FnOnce() -> Result<Option<User>, StoreError>,
    ) -> Result<Option<User>, StoreError> {
        self.through(|s| &mut s.users, name, str::to_owned, read)
    }

    pub(super) fn token(
        &self,
        digest: &[u8],
        read: impl FnOnce() -> Result<Option<TokenGrant>, StoreError>,
    ) -> Result<Option<TokenGrant>, StoreError> {
        self.through(|s| &mut s.tokens, digest, <[u8]>::to_vec, read)
    }

    pub(super) fn host(
        &self,
        fqdn: &str,
        read: impl FnOnce() -> Result<Option<Host>, StoreError>,
    ) -> Result<Option<Host>, StoreError> {
        self.through(|s| &mut s.hosts, fqdn, str::to_owned, read)
    }

    pub(super) fn relays(
        &self,
        fqdn: &str,
        user_id: i64,
        read: impl FnOnce() -> Result<Vec<Relay>, StoreError>,
    ) -> Result<Vec<Relay>, StoreError> {
        let key = (fqdn.to_owned(), user_id);
        self.through(|s| &mut s.relays, &key, Clone::clone, read)
    }

    /// One read, as the mode says: from SQLite, from the memo, or from SQLite and kept.
    fn through<K, Q, V>(
        &self,
        map: impl Fn(&mut State) -> &mut HashMap<K, V>,
        key: &Q,
        owned: impl FnOnce(&Q) -> K,
        read: impl FnOnce() -> Result<V, StoreError>,
    ) -> Result<V, StoreError>
    where
        K: std::borrow::Borrow<Q> + std::hash::Hash + Eq,
        Q: std::hash::Hash + Eq + ?Sized,
        V: Clone,
    {
        let mode = self.state.borrow().mode;
        match mode {
            Mode::Off => read(),
            Mode::Replay => {
                let mut state = self.state.borrow_mut();
                let found = map(&mut state).get(key).cloned();
                state.missed |= found.is_none();
                found.ok_or(StoreError::Unmemoized)
            }
            Mode::Record => {
                let value = read()?;
                let mut state = self.state.borrow_mut();
                let rows = map(&mut state);
                if rows.len() >= MAX_ENTRIES {
                    rows.clear();
                }
                rows.insert(owned(key), value.clone());
                Ok(value)
            }
        }
    }

    /// How many rows of each kind are remembered, and whether they are usable (tests).
    #[cfg(test)]
    pub(super) fn held(&self) -> (usize, bool) {
        let s = self.state.borrow();
        (s.users.len() + s.tokens.len() + s.hosts.len() + s.relays.len(), s.generation.is_some())
    }
}

impl State {
    fn clear(&mut self) {
        self.generation = None;
        self.users.clear();
        self.tokens.clear();
        self.hosts.clear();
        self.relays.clear();
    }
}
