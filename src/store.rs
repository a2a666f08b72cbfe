//! The SQLite database: users, hostnames, the digests of their tokens and the rate-limit
//! table. This is the only module that contains SQL. It keeps a schema version (`PRAGMA
//! user_version`) with ordered migrations applied at open, refuses a schema newer than it
//! knows, and does each read-modify-write in one `BEGIN IMMEDIATE` transaction. It knows
//! nothing about DNS or HTTP; callers pass `now`.

use std::fs::OpenOptions;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _, TransactionBehavior, named_params, params};

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
    // Offline hosts (dyndns2 `offline=yes`, `/nic/delete`): their records were removed on
    // request and the row's addresses cleared; the next update with an address restores them.
    "ALTER TABLE hostnames ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;",
    // Per-host tokens: at most one per hostname (a new one replaces it), found by the
    // SHA-256 digest of the token, which is all that is stored. A scope column left NULL
    // means no limit; `types` and `networks` are comma-separated lists, `expires_at` the
    // first second the token no longer works. Deleting the hostname deletes its token.
    "CREATE TABLE tokens (
        hostname_id INTEGER PRIMARY KEY REFERENCES hostnames(id) ON DELETE CASCADE,
        digest      BLOB NOT NULL,
        types       TEXT,
        networks    TEXT,
        expires_at  INTEGER,
        created_at  INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX tokens_digest ON tokens(digest);",
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
    /// Taken offline by its owner: no records in DNS, no addresses in the row.
    pub(crate) offline: bool,
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
    /// The DNS server accepted these addresses with this TTL: store them and clear
    /// `expired` and `offline`.
    Addresses { ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, dns_ttl: u32, now: i64 },
    /// The DNS server removed the host's records on the owner's request: clear the
    /// addresses (the row never claims more than DNS has) and mark the host offline.
    Offline { now: i64 },
}

/// The limits of a token as stored; `None` is no limit. `token` parses and checks them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenScope {
    pub(crate) types: Option<String>,
    pub(crate) networks: Option<String>,
    pub(crate) expires_at: Option<i64>,
}

/// A token's row with its hostname and owner, found by digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenGrant {
    pub(crate) digest: Vec<u8>,
    pub(crate) host: Host,
    pub(crate) owner: User,
    pub(crate) scope: TokenScope,
}

/// What `hostname list` shows of a token: its scope and age, never the digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenInfo {
    pub(crate) scope: TokenScope,
    pub(crate) created_at: i64,
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
        // In WAL mode NORMAL fsyncs at checkpoints, not at every commit: a power cut can lose
        // the last commits but never corrupts the file. That is safe here: a lost row update
        // only makes the next client update re-send its addresses to DNS.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
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
            (HostWrite::Addresses { ipv4, ipv6, dns_ttl, now }, Some(h)) => {
                tx.execute(
                    "UPDATE hostnames SET ipv4 = ?1, ipv6 = ?2, dns_ttl = ?3, last_update = ?4, expired = 0, offline = 0
                     WHERE id = ?5",
                    params![ipv4.map(|a| a.to_string()), ipv6.map(|a| a.to_string()), dns_ttl, now, h.id],
                )
                .map_err(StoreError::from)?;
            }
            (HostWrite::Offline { now }, Some(h)) => {
                tx.execute(
                    "UPDATE hostnames SET ipv4 = NULL, ipv6 = NULL, last_update = ?1, offline = 1 WHERE id = ?2",
                    params![now, h.id],
                )
                .map_err(StoreError::from)?;
            }
        }
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    // ---- tokens ------------------------------------------------------------------------------

    /// Stores the digest and scope of a new token for `fqdn`, replacing the host's previous
    /// token in the same transaction. `false` when there is no such hostname.
    pub(crate) fn set_token(
        &mut self,
        fqdn: &str,
        digest: &[u8],
        scope: &TokenScope,
        now: i64,
    ) -> Result<bool, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(false) };
        tx.execute(
            "INSERT OR REPLACE INTO tokens (hostname_id, digest, types, networks, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![host.id, digest, scope.types, scope.networks, scope.expires_at, now],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Removes the token of `fqdn`. `None` when there is no such hostname, `Some(false)` when
    /// it had no token.
    pub(crate) fn revoke_token(&mut self, fqdn: &str) -> Result<Option<bool>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(None) };
        let n = tx.execute("DELETE FROM tokens WHERE hostname_id = ?1", [host.id])?;
        tx.commit()?;
        Ok(Some(n > 0))
    }

    /// The token with this digest, with its hostname and owner; one read on `tokens_digest`.
    pub(crate) fn token(&self, digest: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {HOST_COLUMNS}, u.id, u.name, u.email, u.password_hash,
                            t.digest, t.types, t.networks, t.expires_at
                     FROM tokens t JOIN hostnames h ON h.id = t.hostname_id JOIN users u ON u.id = h.user_id
                     WHERE t.digest = ?1"
                ),
                [digest],
                |r| {
                    let n = N_HOST_COLUMNS;
                    Ok(TokenGrant {
                        host: host_from(r)?,
                        owner: User {
                            id: r.get(n)?,
                            name: r.get(n + 1)?,
                            email: r.get(n + 2)?,
                            password_hash: r.get(n + 3)?,
                        },
                        digest: r.get(n + 4)?,
                        scope: TokenScope { types: r.get(n + 5)?, networks: r.get(n + 6)?, expires_at: r.get(n + 7)? },
                    })
                },
            )
            .optional()?)
    }

    // ---- rate limits -------------------------------------------------------------------------

    /// The first of `counters` that is at its maximum, with its count; a plain read, so a
    /// flood of limited requests never waits for the write lock.
    pub(crate) fn rate_limit_over<'a>(
        &self,
        counters: &[Counter<'a>],
    ) -> Result<Option<(Counter<'a>, u64)>, StoreError> {
        first_over(&self.conn, counters)
    }

    /// Checks and counts in one step: under the write lock, counts each of `counters` and,
    /// if none is at its maximum, inserts `rows` at `now` and returns them (a reservation the
    /// caller settles with [`Store::rate_limit_settle`]). Rows older than `older_than` are
    /// trimmed in the same transaction, so the table stays small without a separate job.
    /// Over a limit nothing is written and the answer is `Err` with the counter and its count.
    pub(crate) fn rate_limit_reserve<'a>(
        &mut self,
        counters: &[Counter<'a>],
        rows: &[(&'static str, String)],
        now: i64,
        older_than: i64,
    ) -> Result<Result<Vec<CountedRow>, (Counter<'a>, u64)>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(over) = first_over(&tx, counters)? {
            return Ok(Err(over));
        }
        tx.execute("DELETE FROM rate_limit WHERE at < ?1", [older_than])?;
        let mut counted = Vec::with_capacity(rows.len());
        for (scope, key) in rows {
            tx.execute("INSERT INTO rate_limit (scope, key, at) VALUES (?1, ?2, ?3)", params![scope, key, now])?;
            counted.push(CountedRow { id: tx.last_insert_rowid(), scope, key: key.clone(), at: now });
        }
        tx.commit()?;
        Ok(Ok(counted))
    }

    /// Settles a reservation in one transaction: deletes the reserved rows in `remove` and
    /// inserts `add` at `now`.
    pub(crate) fn rate_limit_settle(
        &mut self,
        remove: &[CountedRow],
        add: &[(&'static str, String)],
        now: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for row in remove {
            // The rowid alone could name a later row if a trim removed this one meanwhile
            // and SQLite reused its id; the other columns make sure it is the row we wrote.
            tx.execute(
                "DELETE FROM rate_limit WHERE rowid = ?1 AND scope = ?2 AND key = ?3 AND at = ?4",
                params![row.id, row.scope, row.key, row.at],
            )?;
        }
        for (scope, key) in add {
            tx.execute("INSERT INTO rate_limit (scope, key, at) VALUES (?1, ?2, ?3)", params![scope, key, now])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The password hashes of the `limit` most recently added users, newest first. The dummy
    /// verification of unknown users takes its cost from them (`auth::Dummy`); the bound keeps
    /// this read the same small cost on every login, however many users there are.
    pub(crate) fn recent_password_hashes(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT password_hash FROM users ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// One rate-limit counter to check: rows of `scope`/`key` at or after `since`, of which
/// there may be at most `max - 1` for the request to go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counter<'a> {
    pub(crate) scope: &'static str,
    pub(crate) key: &'a str,
    pub(crate) since: i64,
    pub(crate) max: u64,
}

/// A rate-limit row as it was written, to remove it again when a reservation settles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CountedRow {
    pub(crate) id: i64,
    pub(crate) scope: &'static str,
    pub(crate) key: String,
    pub(crate) at: i64,
}

/// One indexed count per counter (`rate_limit_lookup`), stopping at the first one over.
fn first_over<'a>(conn: &Connection, counters: &[Counter<'a>]) -> Result<Option<(Counter<'a>, u64)>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT COUNT(*) FROM rate_limit WHERE scope = ?1 AND key = ?2 AND at >= ?3")?;
    for c in counters {
        let n: i64 = stmt.query_row(params![c.scope, c.key, c.since], |r| r.get(0))?;
        let n = u64::try_from(n).unwrap_or(0);
        if n >= c.max {
            return Ok(Some((*c, n)));
        }
    }
    Ok(None)
}

/// A user with the number of hostnames they own, for `user list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserSummary {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) created_at: i64,
    pub(crate) n_hosts: i64,
}

/// A hostname with its owner's name, for `hostname list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostListing {
    pub(crate) host: Host,
    pub(crate) owner: String,
    pub(crate) token: Option<TokenInfo>,
}

/// An expired hostname whose owner has not been told yet, claimed for one mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unnotified {
    pub(crate) host: Host,
    pub(crate) owner: String,
    pub(crate) email: String,
}

/// What one locked expiry chunk saw and did.
#[derive(Debug)]
pub(crate) struct ExpiryChunk<T> {
    /// The candidates read under the lock, in id order; empty when none are left.
    pub(crate) hosts: Vec<Host>,
    /// How many rows were marked expired.
    pub(crate) n_expired: usize,
    /// What the caller's closure returned.
    pub(crate) value: T,
}

impl Store {
    pub(crate) fn users(&self) -> Result<Vec<UserSummary>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT u.name, u.email, u.created_at, (SELECT COUNT(*) FROM hostnames h WHERE h.user_id = u.id)
             FROM users u ORDER BY u.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(UserSummary { name: r.get(0)?, email: r.get(1)?, created_at: r.get(2)?, n_hosts: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns whether the user existed.
    pub(crate) fn set_email(&mut self, name: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute("UPDATE users SET email = ?1 WHERE name = ?2", params![email, name])? > 0)
    }

    /// Deletes a user who owns no hostnames; the caller removed them first. Returns whether a
    /// row went. A hostname added meanwhile makes this fail on the foreign key, not orphan it.
    pub(crate) fn delete_user(&mut self, user_id: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM users WHERE id = ?1", [user_id])? > 0)
    }

    /// Hostnames with their owners, by name; only `user_id`'s when given.
    pub(crate) fn hosts(&self, user_id: Option<i64>) -> Result<Vec<HostListing>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {HOST_COLUMNS}, u.name, t.created_at, t.types, t.networks, t.expires_at
             FROM hostnames h JOIN users u ON u.id = h.user_id LEFT JOIN tokens t ON t.hostname_id = h.id
             WHERE ?1 IS NULL OR h.user_id = ?1 ORDER BY h.fqdn"
        ))?;
        let rows = stmt.query_map([user_id], |r| {
            let created_at: Option<i64> = r.get(N_HOST_COLUMNS + 1)?;
            let token = match created_at {
                Some(created_at) => Some(TokenInfo {
                    scope: TokenScope {
                        types: r.get(N_HOST_COLUMNS + 2)?,
                        networks: r.get(N_HOST_COLUMNS + 3)?,
                        expires_at: r.get(N_HOST_COLUMNS + 4)?,
                    },
                    created_at,
                }),
                None => None,
            };
            Ok(HostListing { host: host_from(r)?, owner: r.get(N_HOST_COLUMNS)?, token })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Changes a host's TTLs under the write lock: `decide` sees the row as it is now, may
    /// act on it (re-send its records with a new TTL) and returns the new `(dns_ttl,
    /// expiry_ttl)`. `None` when there is no such host; an `Err` from `decide` changes nothing.
    pub(crate) fn modify_host_locked<E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(&Host) -> Result<(u32, u32), E>,
    ) -> Result<Option<(u32, u32)>, E>
    where
        E: From<StoreError>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(None) };
        let (dns_ttl, expiry_ttl) = decide(&host)?;
        tx.execute(
            "UPDATE hostnames SET dns_ttl = ?1, expiry_ttl = ?2 WHERE id = ?3",
            params![dns_ttl, expiry_ttl, host.id],
        )
        .map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(Some((dns_ttl, expiry_ttl)))
    }

    /// Deletes a host under the write lock after `unpublish` (removing its DNS records)
    /// succeeded; an `Err` from it deletes nothing. Returns whether the host existed.
    pub(crate) fn delete_host_locked<E>(
        &mut self,
        fqdn: &str,
        unpublish: impl FnOnce(&Host) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        E: From<StoreError>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(false) };
        unpublish(&host)?;
        tx.execute("DELETE FROM hostnames WHERE id = ?1", [host.id]).map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(true)
    }

    /// One expiry step, under the write lock: reads up to `limit` hosts of `zone` with id
    /// above `after` that are due at `due_at` (`expiry_ttl > 0`, last update at least
    /// `expiry_ttl` seconds ago, not yet expired, with an address), lets `delete` remove
    /// their records, and marks the hosts whose ids it returns as expired and not yet
    /// notified. Holding the lock across the DNS exchange serialises this against updates
    /// (which hold the same lock) and against a concurrent expiry run, which then finds the
    /// rows already expired. The `last_update` condition restates what was read: a host is
    /// never marked expired with a last update other than the one judged.
    pub(crate) fn expire_locked<T>(
        &mut self,
        zone: &str,
        after: i64,
        limit: usize,
        due_at: i64,
        delete: impl FnOnce(&[Host]) -> (Vec<i64>, T),
    ) -> Result<ExpiryChunk<T>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let hosts: Vec<Host> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {HOST_COLUMNS} FROM hostnames h
                 WHERE h.zone = :zone AND h.id > :after AND {DUE} ORDER BY h.id LIMIT :limit"
            ))?;
            let rows = stmt.query_map(
                named_params! {":zone": zone, ":after": after, ":due_at": due_at, ":limit": limit as i64},
                host_from,
            )?;
            rows.collect::<Result<_, _>>()?
        };
        let (done, value) = delete(&hosts);
        let mut n_expired = 0;
        {
            let mut stmt = tx.prepare(
                "UPDATE hostnames SET expired = 1, notified = 0 WHERE id = ?1 AND expired = 0 AND last_update IS ?2",
            )?;
            for id in done {
                let Some(h) = hosts.iter().find(|h| h.id == id) else { continue };
                n_expired += stmt.execute(params![h.id, h.last_update])?;
            }
        }
        tx.commit()?;
        Ok(ExpiryChunk { hosts, n_expired, value })
    }

    /// Zones that have hosts due at `due_at`, so the expiry run skips the others.
    pub(crate) fn zones_due(&self, due_at: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT DISTINCT h.zone FROM hostnames h WHERE {DUE} ORDER BY h.zone"))?;
        let rows = stmt.query_map(named_params! {":due_at": due_at}, |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many hosts of `zone` are due at `due_at`: what an interrupted expiry run left.
    pub(crate) fn n_due(&self, zone: &str, due_at: i64) -> Result<usize, StoreError> {
        let n: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM hostnames h WHERE h.zone = :zone AND {DUE}"),
            named_params! {":zone": zone, ":due_at": due_at},
            |r| r.get(0),
        )?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Claims every expired host whose owner was not told yet, in one transaction: the rows
    /// are marked notified before any mail goes out, so a concurrent run finds nothing to
    /// send. A failed mail hands its hosts back with [`Store::unclaim_notified`].
    pub(crate) fn claim_unnotified(&mut self) -> Result<Vec<Unnotified>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let claimed: Vec<Unnotified> = {
            let mut stmt = tx.prepare(&format!(
                "SELECT {HOST_COLUMNS}, u.name, u.email FROM hostnames h JOIN users u ON u.id = h.user_id
                 WHERE h.expired = 1 AND h.notified = 0 ORDER BY u.name, h.fqdn"
            ))?;
            let rows = stmt.query_map([], |r| {
                Ok(Unnotified { host: host_from(r)?, owner: r.get(N_HOST_COLUMNS)?, email: r.get(N_HOST_COLUMNS + 1)? })
            })?;
            rows.collect::<Result<_, _>>()?
        };
        tx.execute("UPDATE hostnames SET notified = 1 WHERE expired = 1 AND notified = 0", [])?;
        tx.commit()?;
        Ok(claimed)
    }

    /// Marks hosts as not yet notified again, so the next run retries their mail. A host
    /// restored by an update meanwhile is no longer expired and stays out of the next mail.
    pub(crate) fn unclaim_notified(&mut self, host_ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for id in host_ids {
            tx.execute("UPDATE hostnames SET notified = 0 WHERE id = ?1 AND expired = 1", [id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes rate-limit rows counted before `older_than` (seconds since the epoch); they
    /// are outside every window. Returns how many went.
    pub(crate) fn trim_rate_limit(&mut self, older_than: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM rate_limit WHERE at < ?1", [older_than])?)
    }
}

/// When a host of `hostnames h` is due for expiry at `:due_at`: it expires at all, is not
/// expired yet, was updated at least `expiry_ttl` seconds before, and has records to remove.
const DUE: &str = "h.expiry_ttl > 0 AND h.expired = 0 AND h.last_update IS NOT NULL
    AND h.last_update + h.expiry_ttl <= :due_at AND (h.ipv4 IS NOT NULL OR h.ipv6 IS NOT NULL)";

/// The columns [`host_from`] reads, in order, from a `hostnames` table aliased `h`.
const HOST_COLUMNS: &str =
    "h.id, h.fqdn, h.zone, h.user_id, h.dns_ttl, h.expiry_ttl, h.ipv4, h.ipv6, h.last_update, h.expired, h.offline";
/// How many columns [`HOST_COLUMNS`] names: the index of the first column a query adds.
const N_HOST_COLUMNS: usize = 11;

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
    })
}

fn host_row(conn: &Connection, fqdn: &str) -> Result<Option<Host>, StoreError> {
    let sql = format!("SELECT {HOST_COLUMNS} FROM hostnames h WHERE h.fqdn = ?1");
    Ok(conn.query_row(&sql, [fqdn], host_from).optional()?)
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
    fn version_1_database_gains_the_offline_column() {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-store-v1-{}", rand_suffix()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("t.db");
        {
            let conn = Connection::open(&path).expect("create");
            conn.execute_batch(MIGRATIONS[0]).expect("version 1 schema");
            conn.pragma_update(None, "user_version", 1).expect("version");
            conn.execute_batch(
                "INSERT INTO users (name, email, password_hash, created_at) VALUES ('alice', 'a@example.com', 'h', 1);
                 INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, ipv4, created_at)
                 VALUES ('h.dyn.example.com', 'dyn.example.com', 1, 60, 0, '192.0.2.1', 1);",
            )
            .expect("rows");
        }
        let store = Store::open(&path, Duration::from_secs(1), OpenMode::Existing).expect("migrate");
        assert_eq!(store.schema_version().expect("v"), MIGRATIONS.len() as i64);
        let h = store.host("h.dyn.example.com").expect("q").expect("h");
        assert_eq!((h.ipv4, h.offline), (Some("192.0.2.1".parse().expect("ip")), false));
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
            format!(
                "database schema version 99 is newer than this ddns-cgi supports ({}); upgrade ddns-cgi",
                MIGRATIONS.len()
            )
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

    fn counters(max: u64, since: i64) -> [Counter<'static>; 2] {
        [
            Counter { scope: "bad-addr", key: "192.0.2.1", since, max },
            Counter { scope: "bad-user", key: "u", since, max },
        ]
    }

    fn n_rows(store: &Store, scope: &str) -> i64 {
        store.conn.query_row("SELECT COUNT(*) FROM rate_limit WHERE scope = ?1", [scope], |r| r.get(0)).expect("count")
    }

    #[test]
    fn rate_limit_reserve_counts_settle_and_trim() {
        let (dir, mut store) = temp_store();
        let rows = || vec![("bad-addr", "192.0.2.1".to_owned()), ("bad-user", "u".to_owned())];
        let first = store.rate_limit_reserve(&counters(2, 0), &rows(), 100, 0).expect("reserve").expect("under");
        assert_eq!(first.iter().map(|r| (r.scope, r.at)).collect::<Vec<_>>(), [("bad-addr", 100), ("bad-user", 100)]);
        let second = store.rate_limit_reserve(&counters(2, 0), &rows(), 101, 0).expect("reserve").expect("under");
        // Two reservations stand: the third attempt is over, and writes nothing.
        let [addr, _] = counters(2, 0);
        assert_eq!(store.rate_limit_over(&counters(2, 0)).expect("read"), Some((addr, 2)));
        assert_eq!(store.rate_limit_reserve(&counters(2, 0), &rows(), 102, 0).expect("reserve"), Err((addr, 2)));
        assert_eq!(n_rows(&store, "bad-addr"), 2);
        // Only rows inside the window count.
        assert_eq!(store.rate_limit_over(&counters(2, 101)).expect("read"), None);
        // Good: the reservation goes, a good row comes; the other reservation stays bad.
        store.rate_limit_settle(&second, &[("good-addr", "192.0.2.1".to_owned())], 101).expect("settle");
        assert_eq!((n_rows(&store, "bad-addr"), n_rows(&store, "bad-user"), n_rows(&store, "good-addr")), (1, 1, 1));
        // Settling removes only the rows it wrote, even when another row has the same id.
        let stale = CountedRow { id: first[0].id, scope: "bad-addr", key: "192.0.2.9".to_owned(), at: 100 };
        store.rate_limit_settle(&[stale], &[], 102).expect("settle");
        assert_eq!(n_rows(&store, "bad-addr"), 1);
        // Reserving trims rows older than the cut-off.
        store.rate_limit_reserve(&counters(9, 0), &rows(), 300, 200).expect("reserve").expect("under");
        assert_eq!((n_rows(&store, "bad-addr"), n_rows(&store, "good-addr")), (1, 0));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn rate_limit_reservation_fails_closed_when_locked() {
        let (dir, mut store) = temp_store();
        store.conn.busy_timeout(Duration::from_millis(50)).expect("timeout");
        let rows = vec![("bad-addr", "192.0.2.1".to_owned())];
        let reserved = store.rate_limit_reserve(&counters(5, 0), &rows, 100, 0).expect("reserve").expect("under");
        let holder = Connection::open(dir.join("t.db")).expect("second connection");
        holder.execute_batch("BEGIN IMMEDIATE; DELETE FROM users;").expect("hold the write lock");
        // Neither a new reservation nor the settling of the old one gets through...
        assert!(store.rate_limit_reserve(&counters(5, 0), &rows, 101, 0).is_err());
        assert!(store.rate_limit_settle(&reserved, &[], 101).is_err());
        holder.execute_batch("ROLLBACK").expect("release");
        // ... and the reserved row still counts as bad.
        assert_eq!(n_rows(&store, "bad-addr"), 1);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn recent_password_hashes_are_bounded_and_newest_first() {
        let (dir, mut store) = temp_store();
        assert!(store.recent_password_hashes(2).expect("q").is_empty());
        for i in 0..3 {
            store.add_user(&format!("u{i}"), "u@example.com", &format!("hash{i}"), 1).expect("user");
        }
        assert_eq!(store.recent_password_hashes(2).expect("q"), ["hash2", "hash1"]);
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
                Ok((HostWrite::Addresses { ipv4: Some(ip), ipv6: None, dns_ttl: 120, now: 5 }, ()))
            })
            .expect("write");
        let h = store.host("h.dyn.example.com").expect("q").expect("h");
        assert_eq!((h.ipv4, h.ipv6, h.dns_ttl, h.last_update, h.expired), (Some(ip), None, 120, Some(5), false));

        // Offline clears the addresses; the next address write brings the host back.
        store
            .with_host_locked::<_, StoreError>("h.dyn.example.com", |_| Ok((HostWrite::Offline { now: 6 }, ())))
            .expect("offline");
        let h = store.host("h.dyn.example.com").expect("q").expect("h");
        assert_eq!((h.ipv4, h.ipv6, h.last_update, h.offline), (None, None, Some(6), true));
        store
            .with_host_locked::<_, StoreError>("h.dyn.example.com", |_| {
                Ok((HostWrite::Addresses { ipv4: None, ipv6: None, dns_ttl: 120, now: 7 }, ()))
            })
            .expect("write");
        assert!(!store.host("h.dyn.example.com").expect("q").expect("h").offline);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn tokens_are_found_by_digest_replaced_revoked_and_deleted_with_the_host() {
        let (dir, mut store) = temp_store();
        store.add_user("alice", "a@example.com", "hash", 1).expect("user");
        let user = store.user("alice").expect("q").expect("some");
        for fqdn in ["a.dyn.example.com", "b.dyn.example.com"] {
            let new = NewHost { fqdn, zone: "dyn.example.com", user_id: user.id, dns_ttl: 60, expiry_ttl: 0 };
            store.add_host(&new, 1).expect("host");
        }
        let scope = TokenScope { types: Some("A".into()), networks: None, expires_at: Some(99) };
        assert!(!store.set_token("nobody.dyn.example.com", &[1; 32], &scope, 5).expect("set"));
        assert!(store.set_token("a.dyn.example.com", &[1; 32], &scope, 5).expect("set"));
        let grant = store.token(&[1; 32]).expect("q").expect("found");
        assert_eq!((grant.host.fqdn.as_str(), grant.owner.name.as_str()), ("a.dyn.example.com", "alice"));
        assert_eq!((grant.digest, grant.scope), (vec![1; 32], scope.clone()));
        assert_eq!(store.token(&[2; 32]).expect("q"), None);
        // A new token replaces the old one.
        assert!(store.set_token("a.dyn.example.com", &[2; 32], &TokenScope::default(), 6).expect("set"));
        assert_eq!(store.token(&[1; 32]).expect("q"), None);
        assert_eq!(store.token(&[2; 32]).expect("q").expect("found").scope, TokenScope::default());
        let listed: Vec<_> = store.hosts(None).expect("list").into_iter().map(|l| l.token).collect();
        assert_eq!(listed, [Some(TokenInfo { scope: TokenScope::default(), created_at: 6 }), None]);
        // Revoked; revoking again finds nothing.
        assert_eq!(store.revoke_token("a.dyn.example.com").expect("revoke"), Some(true));
        assert_eq!(store.revoke_token("a.dyn.example.com").expect("revoke"), Some(false));
        assert_eq!(store.revoke_token("nobody.dyn.example.com").expect("revoke"), None);
        assert_eq!(store.token(&[2; 32]).expect("q"), None);
        // Deleting the hostname deletes its token.
        assert!(store.set_token("b.dyn.example.com", &[3; 32], &scope, 7).expect("set"));
        assert!(store.delete_host_locked::<StoreError>("b.dyn.example.com", |_| Ok(())).expect("delete"));
        let n: i64 = store.conn.query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get(0)).expect("count");
        assert_eq!(n, 0);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn expiry_marks_only_what_was_deleted_and_mail_is_claimed_once() {
        let (dir, mut store) = temp_store();
        store.add_user("alice", "a@example.com", "hash", 1).expect("user");
        let user = store.user("alice").expect("q").expect("some");
        for fqdn in ["a.dyn.example.com", "b.dyn.example.com"] {
            let new = NewHost { fqdn, zone: "dyn.example.com", user_id: user.id, dns_ttl: 60, expiry_ttl: 60 };
            store.add_host(&new, 1).expect("host");
            let ip: Ipv4Addr = "192.0.2.1".parse().expect("ip");
            store
                .with_host_locked::<_, StoreError>(fqdn, |_| {
                    Ok((HostWrite::Addresses { ipv4: Some(ip), ipv6: None, dns_ttl: 60, now: 100 }, ()))
                })
                .expect("write");
        }
        // Not due at 159, due at 160.
        let chunk = store.expire_locked("dyn.example.com", 0, 10, 159, |h| (Vec::new(), h.len())).expect("chunk");
        assert_eq!(chunk.value, 0);
        // Only the host the closure reports as deleted is marked.
        let chunk = store
            .expire_locked("dyn.example.com", 0, 10, 160, |h| (h.first().map(|h| h.id).into_iter().collect(), h.len()))
            .expect("chunk");
        assert_eq!((chunk.value, chunk.n_expired), (2, 1));
        assert!(store.host("a.dyn.example.com").expect("q").expect("h").expired);
        assert!(!store.host("b.dyn.example.com").expect("q").expect("h").expired);

        let claimed = store.claim_unnotified().expect("claim");
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].owner.as_str(), claimed[0].email.as_str()), ("alice", "a@example.com"));
        assert!(store.claim_unnotified().expect("claim again").is_empty());
        store.unclaim_notified(&[claimed[0].host.id]).expect("unclaim");
        assert_eq!(store.claim_unnotified().expect("retry").len(), 1);

        store
            .conn
            .execute("INSERT INTO rate_limit (scope, key, at) VALUES ('s', 'k', 5), ('s', 'k', 50)", [])
            .expect("rows");
        assert_eq!(store.trim_rate_limit(50).expect("trim"), 1);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
