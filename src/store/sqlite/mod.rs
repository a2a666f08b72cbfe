//! SQLite, the embedded engine: one file, opened per CGI request or per FastCGI worker. It
//! keeps a schema version (`PRAGMA user_version`) with ordered migrations (`schema`) applied
//! at open, refuses a schema newer than it knows, and does each read-modify-write in one
//! `BEGIN IMMEDIATE` transaction. The queries live in one submodule per concern; this file
//! opens the connection and holds the host row mapping they share.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior};

use self::memo::Memo;
use super::lock::HostLocks;
use super::{Families, Host, OpenMode, StoreError};

mod acme;
mod audit;
mod backup;
mod derived;
mod expiry;
mod hosts;
mod import;
mod memo;
mod ratelimit;
mod relays;
mod schema;
#[cfg(test)]
mod tests;
mod tokens;
mod users;
mod web;

pub(crate) use audit::{DNS_ERRORS, EXPIRED_HOSTS, LAST_EXPIRY, RATELIMIT_REFUSALS, UPDATES};
use schema::MIGRATIONS;
pub(crate) use schema::SCHEMA_VERSION;

/// An open database.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Connection,
    /// The per-host locks every change of a host's records takes (see `store::lock`).
    locks: HostLocks,
    /// The reads of `Store::read_together`, remembered until the next commit.
    memo: Memo,
}

impl Store {
    /// Starts a read transaction that the next statements share (`Store::read_together`).
    /// Its reads are remembered (`memo`) when nobody commits until it ends.
    pub(crate) fn begin_read(&self) -> Result<(), StoreError> {
        if self.memo.needs_journal_mode() {
            // Asked once per connection, after `open` read the database (so the answer is the
            // file's mode), and not at open: a CGI request never remembers anything.
            let mode: String = self.conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            self.memo.set_wal(mode.eq_ignore_ascii_case("wal"));
        }
        self.memo.start_recording();
        // Cached like the reads: on the FastCGI repeat path, parsing it each time showed.
        if let Err(e) = self.conn.prepare_cached("BEGIN DEFERRED").and_then(|mut s| s.execute([])) {
            self.memo.end_recording();
            return Err(e.into());
        }
        Ok(())
    }

    /// Ends the transaction of [`Store::begin_read`]; a no-op when none is open.
    pub(crate) fn end_read(&self) -> Result<(), StoreError> {
        let ended = if self.conn.is_autocommit() {
            Ok(())
        } else {
            self.conn.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).map(drop)
        };
        self.memo.end_recording();
        Ok(ended?)
    }

    /// Starts answering reads from the memo, when it is of the database as it is now.
    pub(crate) fn start_replay(&self) -> bool {
        self.memo.start_replay()
    }

    /// Ends a replay: `false` when the reads must run again in a transaction.
    pub(crate) fn end_replay(&self) -> bool {
        self.memo.end_replay()
    }

    /// Opens (or creates) the database and applies pending migrations.
    pub(crate) fn open(path: &Path, busy_timeout: Duration, mode: OpenMode) -> Result<Store, StoreError> {
        match mode {
            OpenMode::Create => {
                // Create the file ourselves so it is 0600 from the first byte: it holds
                // password hashes. SQLite gives its -wal and -shm files the same mode.
                OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .mode(0o600)
                    .open(path)
                    .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
            }
            OpenMode::Existing => {}
        }
        let meta = std::fs::metadata(path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => StoreError::Missing { path: path.to_owned() },
            _ => StoreError::Open { path: path.to_owned(), source },
        })?;
        let locks = HostLocks::beside(path, &meta);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // In WAL mode NORMAL fsyncs at checkpoints, not at every commit: a power cut can lose
        // the last commits but never corrupts the file. That is safe here: a lost row update
        // only makes the next client update re-send its addresses to DNS.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // A CGI process is usually the database's only connection when it closes, and SQLite
        // then checkpoints the WAL into the file (two fsyncs) and deletes the -wal and -shm
        // files, which the next process creates again (another fsync): most of a `nochg`
        // request's cost. On the request path, leave checkpoints to the automatic one at
        // commit (every 1000 WAL pages), so both files stay. What a power cut can lose is
        // unchanged (see above). Admin commands still checkpoint when they close, so after
        // one (`init-db`, `user list`, ...) the database file alone holds everything.
        if mode == OpenMode::Existing {
            conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        }
        let memo = Memo::new(conn.path());
        let mut store = Store { conn, locks, memo };
        store.migrate()?;
        Ok(store)
    }

    /// A store of no database (an empty in-memory one, its locks `HostLocks::none`), which
    /// holds a FastCGI worker's place while its connection serves others (`Store::detached`).
    pub(crate) fn detached() -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()?;
        Ok(Store { conn, locks: HostLocks::none(), memo: Memo::new(None) })
    }

    /// Whether this is a [`Store::detached`].
    pub(crate) fn is_detached(&self) -> bool {
        self.locks.is_none()
    }

    /// Closes the connection as an admin command's closes: when it is the last connection to
    /// the file (of any process), SQLite copies the WAL into the database and removes the
    /// `-wal` and `-shm` files, so the database file alone holds everything (a FastCGI
    /// server's clean stop; see `open` for why request paths skip this).
    pub(crate) fn close(self) {
        // Failing to switch it back only leaves the files as a crash would: SQLite replays them.
        let _ = self.conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false);
    }

    /// Brings the schema up to date in one transaction; a no-op when it is current.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = MIGRATIONS.len() as i64;
        let version: i64 = self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        if version == known {
            return Ok(());
        }
        // WAL lets readers proceed while one CGI process writes; it is a property of the
        // file, so it is set once here rather than on every open.
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the lock: a concurrent process may have migrated meanwhile.
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self.conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// The schema version of the database at `path`, read without migrating and without
    /// creating a file (`ddns-cgi check`, which may run as another user than the database's).
    /// A read-only connection to a WAL database creates the -wal and -shm files and cannot
    /// remove them when it closes; so when there is no -wal file, the database was closed
    /// cleanly and everything is in the main file, which is then read as immutable (no
    /// locks, no side files; SQLite URI `immutable=1`). When a -wal file exists, another
    /// process has the database open (or crashed) and the version may be in it: then it is
    /// read through the WAL, read-only.
    pub(crate) fn schema_of(path: &Path) -> Result<i64, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.to_owned() });
        }
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = if Path::new(&wal).exists() {
            Connection::open_with_flags(path, flags)?
        } else {
            let Some(utf8) = path.to_str() else {
                return Err(StoreError::Open {
                    path: path.to_owned(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path is not UTF-8"),
                });
            };
            // RFC 3986 §2.1 for the three characters that end a URI path or start an escape.
            let uri = format!("file:{}?immutable=1", utf8.replace('%', "%25").replace('?', "%3f").replace('#', "%23"));
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?
        };
        Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}

/// When a host of `hostnames h` is due for expiry at `:due_at`: it expires at all, is not
/// expired yet, was updated at least `expiry_ttl` plus its touch interval seconds before (a
/// repeat within the interval leaves the stored time as it was, so the host may have been
/// refreshed up to that much later), and has records to remove.
fn due() -> String {
    format!(
        "h.expiry_ttl > 0 AND h.expired = 0 AND h.last_update IS NOT NULL
         AND h.last_update + h.expiry_ttl + {} <= :due_at
         AND (h.ipv4 IS NOT NULL OR h.ipv6 IS NOT NULL OR h.txt IS NOT NULL)",
        super::touch_interval_sql("MIN")
    )
}

/// The columns [`host_from`] reads, in order, from a `hostnames` table aliased `h`; a macro so
/// that the queries of the request path can be `concat!`ed into constant text.
macro_rules! host_columns {
    () => {
        "h.id, h.fqdn, h.zone, h.user_id, h.dns_ttl, h.expiry_ttl, h.ipv4, h.ipv6, h.last_update, h.expired, h.offline, h.txt,
        h.dns_pending, h.ipv4_enabled, h.ipv6_enabled"
    };
}
use host_columns;

/// [`host_columns!`] as a constant, for the queries built with `format!`.
const HOST_COLUMNS: &str = host_columns!();

/// How many columns [`HOST_COLUMNS`] names: the index of the first column a query adds.
const N_HOST_COLUMNS: usize = 15;

fn host_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Host> {
    let ipv4: Option<String> = r.get(6)?;
    let ipv6: Option<String> = r.get(7)?;
    Ok(Host {
        id: r.get(0)?,
        fqdn: r.get(1)?,
        zone: r.get(2)?,
        user_id: r.get(3)?,
        dns_ttl: r.get(4)?,
        expiry_ttl: r.get(5)?,
        // Only this module writes these columns, always from parsed addresses.
        ipv4: ipv4.and_then(|s| s.parse().ok()),
        ipv6: ipv6.and_then(|s| s.parse().ok()),
        last_update: r.get(8)?,
        expired: r.get(9)?,
        offline: r.get(10)?,
        txt: r.get(11)?,
        dns_pending: r.get(12)?,
        families: Families { ipv4: r.get(13)?, ipv6: r.get(14)? },
    })
}

/// A host's row with the digest of its token, read under the host lock by a change
/// (`with_hosts_locked_audited`); prepared once per connection like [`host_row`].
/// `(None, None)` when there is no such host.
fn locked_row(conn: &Connection, fqdn: &str) -> Result<(Option<Host>, Option<Vec<u8>>), StoreError> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        host_columns!(),
        ", t.digest FROM hostnames h LEFT JOIN tokens t ON t.hostname_id = h.id WHERE h.fqdn = ?1"
    ))?;
    let row = stmt.query_row([fqdn], |r| Ok((host_from(r)?, r.get(N_HOST_COLUMNS)?))).optional()?;
    Ok(row.map_or((None, None), |(host, digest)| (Some(host), digest)))
}

/// A host's row. On every request's path, so its statement is prepared once per connection
/// (rusqlite's statement cache) rather than parsed each time.
fn host_row(conn: &Connection, fqdn: &str) -> Result<Option<Host>, StoreError> {
    let mut stmt = conn.prepare_cached(concat!("SELECT ", host_columns!(), " FROM hostnames h WHERE h.fqdn = ?1"))?;
    Ok(stmt.query_row([fqdn], host_from).optional()?)
}
