//! PostgreSQL, the shared engine for several front-ends: one connection (one session) per CGI
//! process or per FastCGI worker, through the synchronous `postgres` driver (it runs its I/O
//! on a small runtime of its own, on this thread; no async runtime is exposed to callers).
//! The schema version lives in a one-row table `schema_version` with ordered migrations
//! (`schema`) applied at open under a transaction-scoped advisory lock, and a newer schema is
//! refused. The queries live in one submodule per concern, as in `store::sqlite`; `tls` opens
//! the session as `sslmode` asks; this file holds what the queries share: the host row
//! mapping and the per-host locks.
//!
//! Per-host ordering across machines: the flock stripes of `store::lock` only order processes
//! of one machine, so here a host's lock is a session-level advisory lock
//! (`pg_advisory_lock`) on a 64-bit FNV-1a hash of its FQDN, taken in ascending key order
//! (like the stripes), held across the DNS exchange, and released after the row write. The
//! server drops a session's advisory locks when the session ends, so a killed front-end never
//! leaves a host locked. A wait is bounded by `lock_timeout` (`database.busy_timeout_ms`).
//! A host's relay lock (`relay`) is a two-key advisory lock in a key space of its own, only
//! ever tried (`pg_try_advisory_lock`), never held with a host lock.
//!
//! Round trips: a statement sent as text with untyped parameters costs the driver a prepare
//! (Parse/Describe, one round trip), then the execution (another), then a Close. The
//! statements on a request's path (the schema check at open, token and user reads, host
//! reads and writes, host locks, the audit and counter rows, rate limits, relays of an
//! update) are sent typed instead (`query_typed*`, `execute_typed`: Parse, Bind and Execute
//! in one round trip, the parameter types given by us), which halves their round trips. The
//! two statements whose plan costs more than their run (the repeat's reads and a run's
//! writes) are kept prepared from their second run in a session (`Store::query_kept`), and
//! prepared again when a migration changed their result type under a long-running FastCGI
//! process; a CGI process never prepares. Admin commands keep the plain form.
//! A locked run takes five statements whatever its number of hosts (`hosts`: the locks, the
//! rows, the mark, the writes with their audit rows, the unlocks), and the FastCGI repeat's
//! reads are one (`together`); see docs/design/postgres.md.

use std::cell::{RefCell, RefMut};

use std::collections::{HashMap, HashSet};

use postgres::types::{ToSql, Type};
use postgres::{Client, Row, Statement};

use super::{Families, Host, OpenMode, StoreError};
use crate::config::PostgresConfig;

mod acme;
mod audit;
mod derived;
mod expiry;
mod hosts;
mod import;
mod ratelimit;
mod relays;
mod schema;
mod tls;
mod together;
mod tokens;
mod users;
mod web;

use schema::MIGRATIONS;

/// The schema version this ddns-cgi writes on PostgreSQL: the number of migrations.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The first key of the two-key advisory locks (`pg_advisory_lock(int, int)`, a key space
/// apart from the one-key host locks): "ddns" in ASCII.
const LOCK_CLASS: i32 = 0x6464_6e73;
/// Second keys under [`LOCK_CLASS`].
const MIGRATION_LOCK: i32 = 1;
const EXPIRY_LOCK: i32 = 2;
/// Held (transaction-scoped) while a registration through the acme-dns API counts the
/// accounts and inserts its own.
const REGISTRATION_LOCK: i32 = 3;
/// The first key of the relay locks (`pg_advisory_lock(int, int)`, "ddnr" in ASCII), whose
/// second key is the low half of the host's [`lock_key`]: a key space apart from the host
/// locks and from [`LOCK_CLASS`]'s.
const RELAY_LOCK_CLASS: i32 = 0x6464_6e72;

/// What `check` learns from one session.
#[derive(Debug)]
pub(crate) struct Probe {
    /// The stored schema version (0: none yet).
    pub(crate) version: i64,
    /// The TLS protocol version when the session is encrypted (`TLSv1.3`), `None` when not.
    pub(crate) tls: Option<String>,
}

/// An open database session.
pub(crate) struct Store {
    /// In a `RefCell` so that reads take `&self` as SQLite's do; a `Store` is used by one
    /// thread at a time, never shared.
    conn: RefCell<Client>,
    /// Host lock keys this session holds; non-empty between a lock and its release, or after a
    /// panic in between, which the next lock call then repairs.
    held: Vec<i64>,
    /// Whether this session holds the expiry run's lock.
    expiry_held: bool,
    /// The relay lock this session holds (its second key), as `held` for the host locks.
    relay_held: Option<i32>,
    /// The reads of `read_together`, in one statement (`together`).
    together: Box<together::Together>,
    /// The statements [`Store::query_kept`] keeps prepared in this session, by name, and the
    /// names it has sent once (typed, not kept).
    kept: RefCell<HashMap<&'static str, Statement>>,
    sent_once: RefCell<HashSet<&'static str>>,
}

impl Drop for Store {
    /// Releases the expiry lock explicitly: the server drops a session's locks only once it
    /// notices the session ended, which can be after the next cron run (or test) connects.
    fn drop(&mut self) {
        self.unlock_hosts();
        self.unlock_relay();
        if self.expiry_held {
            let _ = self.conn.get_mut().execute("SELECT pg_advisory_unlock($1, $2)", &[&LOCK_CLASS, &EXPIRY_LOCK]);
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("postgres::Store").field("held", &self.held).finish_non_exhaustive()
    }
}

/// The host lock key of `fqdn`: FNV-1a (64 bit) of its bytes, as a signed bigint. Stable
/// across processes, machines and versions, which is all that matters.
pub(crate) fn lock_key(fqdn: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in fqdn.as_bytes() {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

impl Store {
    /// Connects and applies pending migrations. Both modes migrate (as SQLite does at every
    /// open); the database itself must exist, as PostgreSQL's administrator creates it.
    pub(crate) fn open(
        pg: &PostgresConfig,
        busy_timeout: std::time::Duration,
        _mode: OpenMode,
    ) -> Result<Store, StoreError> {
        let mut store = Store::connect(pg, busy_timeout)?;
        store.migrate()?;
        Ok(store)
    }

    /// The schema version, read without migrating (`ddns-cgi check` changes nothing), and
    /// whether the session is encrypted, as the server sees it.
    pub(crate) fn probe(pg: &PostgresConfig, busy_timeout: std::time::Duration) -> Result<Probe, StoreError> {
        let store = Store::connect(pg, busy_timeout)?;
        let version = store.schema_version()?;
        let row = store.c().query_one("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])?;
        let tls = if row.get(0) { Some(row.get::<_, Option<String>>(1).unwrap_or_default()) } else { None };
        Ok(Probe { version, tls })
    }

    fn connect(pg: &PostgresConfig, busy_timeout: std::time::Duration) -> Result<Store, StoreError> {
        let mut config = pg.config.clone();
        let ms = busy_timeout.as_millis();
        // Sent in the start-up packet: no extra round trip. `lock_timeout` bounds waits for
        // row, table and advisory locks, as `busy_timeout` does for SQLite's lock.
        config.options(&format!("-c lock_timeout={ms} -c statement_timeout={}", ms.saturating_mul(6)));
        if config.get_application_name().is_none() {
            config.application_name("ddns-cgi");
        }
        config.connect_timeout(busy_timeout);
        let conn = tls::connect(pg, config)?;
        Ok(Store {
            conn: RefCell::new(conn),
            held: Vec::new(),
            expiry_held: false,
            relay_held: None,
            together: Box::default(),
            kept: RefCell::default(),
            sent_once: RefCell::default(),
        })
    }

    fn c(&self) -> RefMut<'_, Client> {
        self.conn.borrow_mut()
    }

    /// The stored version; 0 when there is no `schema_version` table yet.
    pub(crate) fn schema_version(&self) -> Result<i64, StoreError> {
        // Typed (with no parameters): one round trip each, at every CGI request's open.
        let row = self.c().query_typed_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?;
        if !row.get::<_, bool>(0) {
            return Ok(0);
        }
        let row = self.c().query_typed_opt("SELECT version FROM schema_version", &[])?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    /// Brings the schema up to date in one transaction; one read when it is current.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let known = SCHEMA_VERSION;
        let version = self.schema_version()?;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        if version == known {
            return Ok(());
        }
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        // Two front-ends starting at once: the second waits here, then finds the work done.
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&LOCK_CLASS, &MIGRATION_LOCK])?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
        let version: i64 = tx.query_opt("SELECT version FROM schema_version", &[])?.map_or(0, |r| r.get(0));
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        for sql in MIGRATIONS.iter().skip(usize::try_from(version).unwrap_or(0)) {
            tx.batch_execute(sql)?;
        }
        tx.execute("DELETE FROM schema_version", &[])?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&known])?;
        tx.commit()?;
        Ok(())
    }

    /// Runs the statement named `name` (its text from `sql`, built only when sent): typed
    /// the first time in this session (one round trip, as every request-path statement),
    /// then prepared and kept, so that later runs skip the server's parse and plan (measured:
    /// 0.37 ms to plan the repeat's `UNION`, 0.06 ms to run it). A CGI process, which runs
    /// each statement once, never prepares. A kept statement whose result type a migration
    /// changed under this session fails with `feature_not_supported` (PostgreSQL re-plans
    /// it otherwise): it is prepared again, once.
    fn query_kept(
        &self,
        name: &'static str,
        sql: impl Fn() -> String,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, StoreError> {
        let values: Vec<&(dyn ToSql + Sync)> = params.iter().map(|(v, _)| *v).collect();
        let kept = self.kept.borrow().get(name).cloned();
        if let Some(statement) = kept {
            match self.c().query(&statement, &values) {
                Err(e) if e.code() == Some(&postgres::error::SqlState::FEATURE_NOT_SUPPORTED) => {
                    self.kept.borrow_mut().remove(name);
                }
                rows => return Ok(rows?),
            }
        } else if self.sent_once.borrow_mut().insert(name) {
            return Ok(self.c().query_typed(&sql(), params)?);
        }
        let types: Vec<Type> = params.iter().map(|(_, t)| t.clone()).collect();
        let statement = self.c().prepare_typed(&sql(), &types)?;
        self.kept.borrow_mut().insert(name, statement.clone());
        Ok(self.c().query(&statement, &values)?)
    }

    /// Whether this session may serve another request: `false` once the driver saw it
    /// closed, or a statement on this thread found it ended by the server. No round trip.
    pub(crate) fn is_usable(&mut self) -> bool {
        let lost = super::error::lost();
        !lost && !self.conn.get_mut().is_closed()
    }

    /// Takes the host locks of `fqdns` (ascending key order, each once), blocking up to
    /// `lock_timeout`. A caller releases them with [`Store::unlock_hosts`] on every path.
    ///
    /// One statement for all of them (one round trip, not one per host): a function scan
    /// yields the array's elements in order, and each row's `pg_advisory_lock` is evaluated
    /// as it is produced, so the keys are taken in ascending order as one at a time would.
    fn lock_hosts<'a>(&mut self, fqdns: impl IntoIterator<Item = &'a str>) -> Result<(), StoreError> {
        // Left by a panic between a lock and its release (a FastCGI worker survives panics).
        self.unlock_hosts();
        let mut keys: Vec<i64> = fqdns.into_iter().map(lock_key).collect();
        keys.sort_unstable();
        keys.dedup();
        if keys.is_empty() {
            return Ok(());
        }
        let taken = self
            .conn
            .get_mut()
            .execute_typed("SELECT pg_advisory_lock(k) FROM unnest($1) AS k", &[(&keys, Type::INT8_ARRAY)]);
        match taken {
            Ok(_) => {
                self.held = keys;
                Ok(())
            }
            Err(e) => {
                // A session-level advisory lock outlives the failed statement that took it:
                // release the keys taken before the wait that timed out, and only those (an
                // unlock of a key not held is answered with a warning).
                let _ = self.conn.get_mut().execute_typed(
                    "SELECT pg_advisory_unlock(k) FROM unnest($1) AS k
                     WHERE EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'
                         AND l.pid = pg_backend_pid() AND l.granted AND l.objsubid = 1
                         AND ((l.classid::BIGINT << 32) | l.objid::BIGINT) = k)",
                    &[(&keys, Type::INT8_ARRAY)],
                );
                Err(e.into())
            }
        }
    }

    /// Releases the host locks this session holds, in one statement. A failure here means the
    /// session is gone, and the server dropped its locks with it.
    fn unlock_hosts(&mut self) {
        let keys = std::mem::take(&mut self.held);
        if keys.is_empty() {
            return;
        }
        let _ = self
            .conn
            .get_mut()
            .execute_typed("SELECT pg_advisory_unlock(k) FROM unnest($1) AS k", &[(&keys, Type::INT8_ARRAY)]);
    }

    /// Runs `body` under the host locks of `fqdns`, releasing them whatever it returns.
    fn locked<'a, T, E>(
        &mut self,
        fqdns: impl IntoIterator<Item = &'a str>,
        body: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.lock_hosts(fqdns)?;
        let out = body(self);
        self.unlock_hosts();
        out
    }

    /// Tries the relay lock of `fqdn` (a session-level advisory lock under
    /// [`RELAY_LOCK_CLASS`]); `false` while another session holds it. Released with
    /// [`Store::unlock_relay`], or by the next try after a panic in between.
    pub(crate) fn try_lock_relay(&mut self, fqdn: &str) -> Result<bool, StoreError> {
        self.unlock_relay();
        // The low 32 bits of the host key: hosts that share them only wait for each other.
        let key = lock_key(fqdn) as i32;
        let row = self.c().query_one("SELECT pg_try_advisory_lock($1, $2)", &[&RELAY_LOCK_CLASS, &key])?;
        let taken: bool = row.get(0);
        if taken {
            self.relay_held = Some(key);
        }
        Ok(taken)
    }

    /// Releases the relay lock this session holds, if any. A failure means the session is
    /// gone, and its locks with it.
    pub(crate) fn unlock_relay(&mut self) {
        if let Some(key) = self.relay_held.take() {
            let _ = self.conn.get_mut().execute("SELECT pg_advisory_unlock($1, $2)", &[&RELAY_LOCK_CLASS, &key]);
        }
    }

    /// Tries the expiry run's global lock, held by this session until it ends. `false` when
    /// another session (another front-end's run) holds it.
    pub(crate) fn try_expiry_lock(&mut self) -> Result<bool, StoreError> {
        if self.expiry_held {
            return Ok(true);
        }
        let row = self.c().query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &EXPIRY_LOCK])?;
        self.expiry_held = row.get(0);
        Ok(self.expiry_held)
    }
}

/// Maps a unique-constraint violation to [`StoreError::Exists`].
fn unique_violation(e: postgres::Error, what: &'static str, name: &str) -> StoreError {
    if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
        return StoreError::Exists { what, name: name.to_owned() };
    }
    e.into()
}

/// When a host of `hostnames h` is due for expiry at `$due`: as in `store::sqlite`, its
/// touch interval added to the cut-off.
fn due(due_at: &str) -> String {
    format!(
        "h.expiry_ttl > 0 AND h.expired = 0 AND h.last_update IS NOT NULL
         AND h.last_update + h.expiry_ttl + {} <= {due_at}
         AND (h.ipv4 IS NOT NULL OR h.ipv6 IS NOT NULL OR h.txt IS NOT NULL)",
        super::touch_interval_sql("LEAST")
    )
}

/// The columns [`host_from`] reads, in order, from a `hostnames` table aliased `h`.
const HOST_COLUMNS: &str = "h.id, h.fqdn, h.zone, h.user_id, h.dns_ttl, h.expiry_ttl, h.ipv4, h.ipv6, h.last_update, h.expired, h.offline, h.txt, h.dns_pending, h.ipv4_enabled, h.ipv6_enabled";

/// How many columns [`HOST_COLUMNS`] names: the index of the first column a query adds.
const N_HOST_COLUMNS: usize = 15;

fn host_from(r: &postgres::Row) -> Host {
    host_at(r, 0)
}

/// [`host_from`] of the [`HOST_COLUMNS`] starting at column `at`.
fn host_at(r: &postgres::Row, at: usize) -> Host {
    let ipv4: Option<String> = r.get(at + 6);
    let ipv6: Option<String> = r.get(at + 7);
    let flag = |i: usize| r.get::<_, i64>(at + i) != 0;
    Host {
        id: r.get(at),
        fqdn: r.get(at + 1),
        zone: r.get(at + 2),
        user_id: r.get(at + 3),
        // Only this module writes these columns, always from a `u32`.
        dns_ttl: u32::try_from(r.get::<_, i64>(at + 4)).unwrap_or(u32::MAX),
        expiry_ttl: u32::try_from(r.get::<_, i64>(at + 5)).unwrap_or(u32::MAX),
        // Only this module writes these columns, always from parsed addresses.
        ipv4: ipv4.and_then(|s| s.parse().ok()),
        ipv6: ipv6.and_then(|s| s.parse().ok()),
        last_update: r.get(at + 8),
        expired: flag(9),
        offline: flag(10),
        txt: r.get(at + 11),
        dns_pending: flag(12),
        families: Families { ipv4: flag(13), ipv6: flag(14) },
    }
}

fn host_row(conn: &mut impl postgres::GenericClient, fqdn: &str) -> Result<Option<Host>, StoreError> {
    let sql = format!("SELECT {HOST_COLUMNS} FROM hostnames h WHERE h.fqdn = $1");
    Ok(conn.query_typed_opt(&sql, &[(&fqdn, Type::TEXT)])?.map(|r| host_from(&r)))
}
