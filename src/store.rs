//! The SQLite database: users, hostnames and the rate-limit table. This is the only module that
//! contains SQL. It keeps a schema version (`PRAGMA user_version`) with ordered migrations
//! applied at open, refuses a schema newer than it knows, and does each read-modify-write in one
//! `BEGIN IMMEDIATE` transaction. It knows nothing about DNS or HTTP; callers pass `now`.

use std::fs::OpenOptions;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior, params};

/// Ordered migrations; entry `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        email         TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE hostnames (
        id          INTEGER PRIMARY KEY,
        fqdn        TEXT NOT NULL UNIQUE,
        zone        TEXT NOT NULL,
        user_id     INTEGER NOT NULL REFERENCES users(id),
        dns_ttl     INTEGER NOT NULL,
        expiry_ttl  INTEGER NOT NULL,
        ipv4        TEXT,
        ipv6        TEXT,
        last_update INTEGER,
        expired     INTEGER NOT NULL DEFAULT 0,
        notified    INTEGER NOT NULL DEFAULT 1,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX hostnames_user ON hostnames(user_id);
    -- One row per counted request; `scope` is e.g. `bad-addr`, `key` the address or user.
    CREATE TABLE rate_limit (
        scope TEXT NOT NULL,
        key   TEXT NOT NULL,
        at    INTEGER NOT NULL
    );
    CREATE INDEX rate_limit_lookup ON rate_limit(scope, key, at);",
];

/// A failure of the database layer. Messages say what to fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The file does not exist (CGI mode never creates it).
    #[error("database `{}` does not exist; create it with `ddns-cgi init-db`", path.display())]
    Missing { path: PathBuf },
    /// The file could not be opened or created.
    #[error("cannot open database `{}`: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    /// The schema was written by a newer ddns-cgi.
    #[error("database schema version {found} is newer than this ddns-cgi supports ({known}); upgrade ddns-cgi")]
    TooNew { found: i64, known: i64 },
    /// A name that must be unique is taken.
    #[error("{what} `{name}` already exists")]
    Exists { what: &'static str, name: String },
    /// Any SQLite error: locked past the busy timeout, read-only, corrupt, I/O. The message
    /// adds what an operator should do for the common cases.
    #[error("database error: {source}{hint}", source = .0, hint = hint(.0))]
    Sql(#[from] rusqlite::Error),
}

/// What to fix, for the SQLite failures an operator can act on.
fn hint(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            " (another process held the lock longer than `database.busy_timeout_ms`; raise it or find the long writer)"
        }
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            " (the database file and its directory must be writable by the user the web server runs CGI as)"
        }
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            " (the file is not a valid ddns-cgi database; restore it from a backup or recreate it with `ddns-cgi init-db`)"
        }
        Some(ErrorCode::DiskFull) => " (the disk is full)",
        _ => "",
    }
}

/// How to open the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// Create the file (mode 0600) if it is missing; the admin CLI.
    Create,
    /// The file must exist; the request path.
    Existing,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) password_hash: String,
}

/// A hostname row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Host {
    pub(crate) id: i64,
    /// Punycode, lower case, no trailing dot.
    pub(crate) fqdn: String,
    pub(crate) zone: String,
    pub(crate) user_id: i64,
    pub(crate) dns_ttl: u32,
    pub(crate) expiry_ttl: u32,
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Option<Ipv6Addr>,
    pub(crate) last_update: Option<i64>,
    pub(crate) expired: bool,
}

/// A hostname to create.
#[derive(Debug)]
pub(crate) struct NewHost<'a> {
    pub(crate) fqdn: &'a str,
    pub(crate) zone: &'a str,
    pub(crate) user_id: i64,
    pub(crate) dns_ttl: u32,
    pub(crate) expiry_ttl: u32,
}

/// What to write back after a locked host read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HostWrite {
    /// Nothing changes.
    None,
    /// The addresses are current: refresh the last-update time only (`nochg`).
    Touch { now: i64 },
    /// The DNS server accepted these addresses: store them and clear `expired`.
    Addresses { ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, now: i64 },
}

/// An open database.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Connection,
}

impl Store {
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
            OpenMode::Existing => {
                if !path.exists() {
                    return Err(StoreError::Missing { path: path.to_owned() });
                }
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
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

    // ---- users -------------------------------------------------------------------------------

    pub(crate) fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT id, name, email, password_hash FROM users WHERE name = ?1", [name], |r| {
                Ok(User { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, password_hash: r.get(3)? })
            })
            .optional()?)
    }

    pub(crate) fn add_user(
        &mut self,
        name: &str,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE name = ?1)", [name], |r| r.get(0))?;
        if exists {
            return Err(StoreError::Exists { what: "user", name: name.to_owned() });
        }
        tx.execute(
            "INSERT INTO users (name, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, email, password_hash, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces a user's hash; used on rehash after login and by `user passwd`.
    pub(crate) fn set_password_hash(&mut self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![password_hash, user_id])?;
        Ok(())
    }

    // ---- hostnames ---------------------------------------------------------------------------

    #[cfg(test)]
    pub(crate) fn host(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
        host_row(&self.conn, fqdn)
    }

    pub(crate) fn add_host(&mut self, host: &NewHost<'_>, now: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool =
            tx.query_row("SELECT EXISTS(SELECT 1 FROM hostnames WHERE fqdn = ?1)", [host.fqdn], |r| r.get(0))?;
        if exists {
            return Err(StoreError::Exists { what: "hostname", name: host.fqdn.to_owned() });
        }
        tx.execute(
            "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![host.fqdn, host.zone, host.user_id, host.dns_ttl, host.expiry_ttl, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Reads the host under the database write lock, lets `decide` act on it (for example,
    /// send the DNS update), and writes back what it returns, all in one transaction. Holding
    /// the lock across the DNS exchange serialises concurrent updates of the same data, so the
    /// row always matches the last update the DNS server accepted. An `Err` from `decide`
    /// rolls back: nothing is written.
    pub(crate) fn with_host_locked<T, E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(Option<&Host>) -> Result<(HostWrite, T), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let host = host_row(&tx, fqdn)?;
        let (write, value) = decide(host.as_ref())?;
        match (write, &host) {
            (HostWrite::None, _) | (_, None) => {}
            (HostWrite::Touch { now }, Some(h)) => {
                tx.execute("UPDATE hostnames SET last_update = ?1 WHERE id = ?2", params![now, h.id])
                    .map_err(StoreError::from)?;
            }
            (HostWrite::Addresses { ipv4, ipv6, now }, Some(h)) => {
                tx.execute(
                    "UPDATE hostnames SET ipv4 = ?1, ipv6 = ?2, last_update = ?3, expired = 0 WHERE id = ?4",
                    params![ipv4.map(|a| a.to_string()), ipv6.map(|a| a.to_string()), now, h.id],
                )
                .map_err(StoreError::from)?;
            }
        }
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    // ---- rate limits -------------------------------------------------------------------------

    /// How many requests of `scope`/`key` were recorded at or after `since`; one read on the
    /// `rate_limit_lookup` index.
    pub(crate) fn rate_limit_count(&self, scope: &str, key: &str, since: i64) -> Result<u64, StoreError> {
        let n: i64 = self.conn.query_row(
            "SELECT COUNT(*) FROM rate_limit WHERE scope = ?1 AND key = ?2 AND at >= ?3",
            params![scope, key, since],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Records one request under each `(scope, key)` at `now` and, in the same transaction,
    /// drops rows older than `older_than` so the table stays small without a separate job.
    pub(crate) fn rate_limit_record(
        &mut self,
        rows: &[(&str, String)],
        now: i64,
        older_than: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (scope, key) in rows {
            tx.execute("INSERT INTO rate_limit (scope, key, at) VALUES (?1, ?2, ?3)", params![scope, key, now])?;
        }
        tx.execute("DELETE FROM rate_limit WHERE at < ?1", [older_than])?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes rate-limit rows older than `older_than`; returns how many went. For the expiry
    /// run; the request path trims as it records.
    #[allow(dead_code, reason = "called by the expiry run")]
    pub(crate) fn trim_rate_limit(&mut self, older_than: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM rate_limit WHERE at < ?1", [older_than])?)
    }
}

fn host_row(conn: &Connection, fqdn: &str) -> Result<Option<Host>, StoreError> {
    let row = conn
        .query_row(
            "SELECT id, fqdn, zone, user_id, dns_ttl, expiry_ttl, ipv4, ipv6, last_update, expired
             FROM hostnames WHERE fqdn = ?1",
            [fqdn],
            |r| {
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
                })
            },
        )
        .optional()?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_store() -> (PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-store-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.db");
        let store = Store::open(&path, Duration::from_secs(1), OpenMode::Create).expect("open");
        (dir, store)
    }

    fn rand_suffix() -> u64 {
        getrandom::u64().expect("random")
    }

    #[test]
    fn created_0600_and_migrated_idempotently() {
        use std::os::unix::fs::PermissionsExt as _;
        let (dir, store) = temp_store();
        let path = dir.join("t.db");
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        assert_eq!(store.schema_version().expect("v"), MIGRATIONS.len() as i64);
        drop(store);
        let again = Store::open(&path, Duration::from_secs(1), OpenMode::Existing).expect("reopen");
        assert_eq!(again.schema_version().expect("v"), MIGRATIONS.len() as i64);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn refuses_newer_schema() {
        let (dir, store) = temp_store();
        store.conn.pragma_update(None, "user_version", 99).expect("set");
        drop(store);
        let err = Store::open(&dir.join("t.db"), Duration::from_secs(1), OpenMode::Existing).expect_err("too new");
        assert_eq!(
            err.to_string(),
            "database schema version 99 is newer than this ddns-cgi supports (1); upgrade ddns-cgi"
        );
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn missing_database_is_not_created_in_existing_mode() {
        let path = std::env::temp_dir().join(format!("ddns-cgi-none-{}.db", rand_suffix()));
        let err = Store::open(&path, Duration::from_secs(1), OpenMode::Existing).expect_err("missing");
        assert!(matches!(err, StoreError::Missing { .. }));
        assert!(!path.exists());
    }

    #[test]
    fn rate_limit_rows_count_and_trim() {
        let (dir, mut store) = temp_store();
        store.rate_limit_record(&[("bad-addr", "192.0.2.1".into()), ("bad-user", "u".into())], 100, 0).expect("rec");
        store.rate_limit_record(&[("bad-addr", "192.0.2.1".into())], 200, 0).expect("rec");
        assert_eq!(store.rate_limit_count("bad-addr", "192.0.2.1", 100).expect("n"), 2);
        assert_eq!(store.rate_limit_count("bad-addr", "192.0.2.1", 101).expect("n"), 1);
        assert_eq!(store.rate_limit_count("bad-user", "192.0.2.1", 0).expect("n"), 0);
        assert_eq!(store.trim_rate_limit(150).expect("trim"), 2);
        assert_eq!(store.rate_limit_count("bad-addr", "192.0.2.1", 0).expect("n"), 1);
        // Recording trims as it goes.
        store.rate_limit_record(&[("good-addr", "192.0.2.2".into())], 300, 250).expect("rec");
        assert_eq!(store.rate_limit_count("bad-addr", "192.0.2.1", 0).expect("n"), 0);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn locked_write_rolls_back_on_error() {
        let (dir, mut store) = temp_store();
        store.add_user("alice", "a@example.com", "hash", 1).expect("user");
        let user = store.user("alice").expect("q").expect("some");
        let new = NewHost {
            fqdn: "h.dyn.example.com",
            zone: "dyn.example.com",
            user_id: user.id,
            dns_ttl: 60,
            expiry_ttl: 0,
        };
        store.add_host(&new, 1).expect("host");
        assert!(matches!(store.add_host(&new, 1), Err(StoreError::Exists { .. })));

        let ip: Ipv4Addr = "192.0.2.1".parse().expect("ip");
        let r: Result<(), StoreError> =
            store.with_host_locked("h.dyn.example.com", |_| Err(StoreError::Exists { what: "x", name: "y".into() }));
        assert!(r.is_err());
        assert_eq!(store.host("h.dyn.example.com").expect("q").expect("h").ipv4, None);

        store
            .with_host_locked::<_, StoreError>("h.dyn.example.com", |h| {
                assert!(h.is_some());
                Ok((HostWrite::Addresses { ipv4: Some(ip), ipv6: None, now: 5 }, ()))
            })
            .expect("write");
        let h = store.host("h.dyn.example.com").expect("q").expect("h");
        assert_eq!((h.ipv4, h.ipv6, h.last_update, h.expired), (Some(ip), None, Some(5), false));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
