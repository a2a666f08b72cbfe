//! MariaDB, the other shared engine for several front-ends (the database most Apache/PHP hosts
//! already run): one connection (one session) per CGI process or per FastCGI worker, through
//! the synchronous `mysql` driver (blocking sockets on this thread, no runtime). The schema
//! version lives in a one-row table `schema_version` with ordered migrations (`schema`)
//! applied at open under a named lock, and a newer schema is refused. The queries live in one
//! submodule per concern, as in `store::postgres`; `tls` opens the session as `ssl_mode`
//! asks; `locks` takes and releases the named locks; this file holds what the queries
//! share: the statement text with its literals, the host row mapping and the lock names. How
//! this engine differs from PostgreSQL, and why, is in docs/design/mariadb.md.
//!
//! Per-host ordering across machines: a host's lock is a named lock of the server
//! (`GET_LOCK`) whose name holds a 64-bit FNV-1a hash of its FQDN (and of the database's name,
//! so two installations on one server do not share locks), taken in ascending name order,
//! held across the DNS exchange and released after the row write. The server drops a
//! session's named locks when the session ends, so a killed front-end never leaves a host
//! locked. A wait is bounded by `database.busy_timeout_ms`. The expiry run's lock and a
//! host's relay lock are only ever tried (`GET_LOCK(name, 0)`).
//!
//! Round trips: every statement is sent as text, its values written into it as literals by
//! [`sql`] (integers in decimal, text and bytes in hexadecimal, so no value is ever parsed as
//! SQL whatever `sql_mode` says): one round trip each, where a prepared statement costs a
//! prepare and an execution, and a CGI process runs most statements once. The session's
//! settings are sent with the first query (`connect`). Several statements go in one query
//! where they follow each other anyway ([`sets`], [`transaction`]): a locked run takes its
//! host locks and reads its rows in one, and writes its rows, audit rows and counters and
//! releases its locks in another, whatever its number of hosts.

use std::cell::{RefCell, RefMut};
use std::fmt::Write as _;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Row};

use super::{Families, Host, OpenMode, StoreError, TOUCH_FRACTION, TOUCH_INTERVAL_SECS};
use crate::config::MariadbConfig;
use locks::release_statement;

mod acme;
mod audit;
mod derived;
mod expiry;
mod hosts;
mod import;
mod locks;
mod ratelimit;
mod relays;
mod schema;
mod tls;
mod tokens;
mod users;
mod web;

use schema::MIGRATIONS;

pub(crate) use tls::Probe;

/// The schema version this ddns-cgi writes on MariaDB: the number of migrations.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// MariaDB's code for a table that does not exist (`ER_NO_SUCH_TABLE`).
const NO_SUCH_TABLE: u16 = 1146;
/// MariaDB's code for a duplicate key (`ER_DUP_ENTRY`).
const DUP_ENTRY: u16 = 1062;

/// An open database session.
pub(crate) struct Store {
    /// In a `RefCell` so that reads take `&self` as SQLite's do; a `Store` is used by one
    /// thread at a time.
    conn: RefCell<Conn>,
    /// The names of the host locks this session holds, in the order taken.
    held: Vec<String>,
    /// Whether this session holds the expiry run's lock (until it ends).
    expiry_held: bool,
    /// The name of the relay lock this session holds, if any.
    relay_held: Option<String>,
    /// Where every lock name of this database starts (see [`lock_prefix`]).
    prefix: String,
    /// How long a host lock is waited for (`database.busy_timeout_ms`).
    busy_timeout: Duration,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("mariadb::Store").field("held", &self.held).finish_non_exhaustive()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // A FastCGI worker's connection goes back to nobody: the server would drop the locks
        // with the session anyway; releasing them first is cheap and immediate.
        self.unlock_hosts();
        self.unlock_relay();
    }
}

/// FNV-1a (64 bit) of `bytes`: stable across processes, machines and versions, which is all
/// that matters for a lock name.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The start of every lock name of the database `name`: named locks are global to the
/// server, so the database's hash keeps two installations on one server apart.
fn lock_prefix(name: &str) -> String {
    format!("ddns-cgi/{:016x}", fnv1a(name.as_bytes()))
}

/// The name of `fqdn`'s host lock under `prefix`, fixed-width so that the order of names is
/// the order of hashes: 43 characters, within MariaDB's 64.
fn host_lock_name(prefix: &str, fqdn: &str) -> String {
    format!("{prefix}/h/{:016x}", fnv1a(fqdn.as_bytes()))
}

/// The name of `fqdn`'s relay lock under `prefix`: a name space apart from the host locks.
fn relay_lock_name(prefix: &str, fqdn: &str) -> String {
    format!("{prefix}/r/{:016x}", fnv1a(fqdn.as_bytes()))
}

/// A value written into a statement as a literal by [`sql`].
pub(super) trait Lit {
    fn write_lit(&self, out: &mut String);
}

impl Lit for i64 {
    fn write_lit(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Lit for u32 {
    fn write_lit(&self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Lit for bool {
    fn write_lit(&self, out: &mut String) {
        out.push(if *self { '1' } else { '0' });
    }
}

/// Text as `_utf8mb4 X'…'`: a hexadecimal literal in the connection's character set, which
/// no `sql_mode` (`NO_BACKSLASH_ESCAPES`, `ANSI_QUOTES`) reads differently.
impl Lit for str {
    fn write_lit(&self, out: &mut String) {
        out.push_str("_utf8mb4 X'");
        hex(self.as_bytes(), out);
        out.push('\'');
    }
}

impl Lit for String {
    fn write_lit(&self, out: &mut String) {
        self.as_str().write_lit(out);
    }
}

/// Bytes (digests) as `X'…'`, a binary string.
impl Lit for [u8] {
    fn write_lit(&self, out: &mut String) {
        out.push_str("X'");
        hex(self, out);
        out.push('\'');
    }
}

impl Lit for Vec<u8> {
    fn write_lit(&self, out: &mut String) {
        self.as_slice().write_lit(out);
    }
}

impl<T: Lit + ?Sized> Lit for &T {
    fn write_lit(&self, out: &mut String) {
        (**self).write_lit(out);
    }
}

impl<T: Lit> Lit for Option<T> {
    fn write_lit(&self, out: &mut String) {
        match self {
            Some(v) => v.write_lit(out),
            None => out.push_str("NULL"),
        }
    }
}

fn hex(bytes: &[u8], out: &mut String) {
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

/// `template` with each `?` replaced by the next of `args` as a literal. Templates are this
/// engine's own text and hold no other `?`.
pub(super) fn sql(template: &str, args: &[&dyn Lit]) -> String {
    let mut out = String::with_capacity(template.len() + 32 * args.len());
    let mut args = args.iter();
    let mut parts = template.split('?');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for part in parts {
        match args.next() {
            Some(arg) => arg.write_lit(&mut out),
            // A template with more `?` than values: a bug of ours, which the tests find; the
            // statement then fails on MariaDB's parser instead of running with a guess.
            None => out.push('?'),
        }
        out.push_str(part);
    }
    debug_assert!(args.next().is_none(), "more values than `?` in {template}");
    out
}

/// Column `i` of `r` as `T`; `query` names the statement in the error.
pub(super) fn col<T: mysql::prelude::FromValue>(r: &Row, i: usize, query: &'static str) -> Result<T, StoreError> {
    match r.get_opt::<T, usize>(i) {
        Some(Ok(v)) => Ok(v),
        _ => Err(StoreError::MariadbColumn { query, column: i }),
    }
}

/// The rows of `statement` (its text), read whole.
pub(super) fn rows(conn: &mut impl Queryable, statement: &str) -> Result<Vec<Row>, StoreError> {
    Ok(conn.query::<Row, _>(statement)?)
}

/// The first row of `statement`, if any.
pub(super) fn first(conn: &mut impl Queryable, statement: &str) -> Result<Option<Row>, StoreError> {
    Ok(conn.query_first::<Row, _>(statement)?)
}

/// Runs `statement`; the number of rows it changed.
pub(super) fn exec(conn: &mut impl Queryable, statement: &str) -> Result<u64, StoreError> {
    let result = conn.query_iter(statement)?;
    Ok(result.affected_rows())
}

/// The result sets of `statements` (several, `;`-separated, sent as one query: one round
/// trip), read whole, one per statement. The server runs them in order and stops at the
/// first that fails, whose error this returns.
pub(super) fn sets(conn: &mut impl Queryable, statements: &str) -> Result<Vec<Vec<Row>>, StoreError> {
    let mut result = conn.query_iter(statements)?;
    let mut out = Vec::new();
    while let Some(set) = result.iter() {
        out.push(set.collect::<Result<Vec<Row>, _>>()?);
    }
    Ok(out)
}

/// Runs `statements` as one transaction, then `after` (statements that belong to no
/// transaction, or nothing), all sent as one query: one round trip whatever their number,
/// where a `START TRANSACTION`, a statement each and a `COMMIT` cost one each. Safe as text:
/// every value in them is a literal written by [`sql`], which no value can end. When one
/// fails, the server runs none after it, and the transaction it leaves open is rolled back
/// here (one more round trip, on that path only).
pub(super) fn transaction(conn: &mut impl Queryable, statements: &[String], after: &str) -> Result<(), StoreError> {
    let mut text = String::from("START TRANSACTION; ");
    for statement in statements {
        text.push_str(statement);
        text.push_str("; ");
    }
    text.push_str("COMMIT");
    if !after.is_empty() {
        text.push_str("; ");
        text.push_str(after);
    }
    match sets(conn, &text) {
        Ok(_) => Ok(()),
        Err(e) => {
            let _ = exec(conn, "ROLLBACK");
            Err(e)
        }
    }
}

/// Runs `statement` (an `INSERT`); the id it gave its row.
pub(super) fn insert(conn: &mut impl Queryable, statement: &str) -> Result<i64, StoreError> {
    let result = conn.query_iter(statement)?;
    let id = result.last_insert_id().unwrap_or(0);
    Ok(i64::try_from(id).unwrap_or(i64::MAX))
}

/// `(?, ?, …)` of `values`, for `IN`.
pub(super) fn list<T: Lit>(values: &[T]) -> String {
    let mut out = String::from("(");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        v.write_lit(&mut out);
    }
    out.push(')');
    out
}

/// Maps a duplicate key to [`StoreError::Exists`].
pub(super) fn unique_violation(e: StoreError, what: &'static str, name: &str) -> StoreError {
    match e {
        StoreError::Mariadb(mysql::Error::MySqlError(ref m)) if m.code == DUP_ENTRY => {
            StoreError::Exists { what, name: name.to_owned() }
        }
        e => e,
    }
}

impl Store {
    /// Whether this session may serve another request: `false` once a statement on this
    /// thread found its session lost (a FastCGI worker then drops it rather than put it
    /// back, and the next request opens a new one). No round trip.
    pub(crate) fn is_usable(&mut self) -> bool {
        !super::error::lost()
    }

    /// Connects and applies pending migrations. Both modes migrate (as the other engines);
    /// the database itself must exist, as MariaDB's administrator creates it.
    pub(crate) fn open(config: &MariadbConfig, busy_timeout: Duration, _mode: OpenMode) -> Result<Store, StoreError> {
        let (mut store, version) = Store::connect(config, busy_timeout)?;
        store.migrate(version)?;
        Ok(store)
    }

    /// Opens the session and reads the schema version in the same round trip as the
    /// session's settings.
    fn connect(config: &MariadbConfig, busy_timeout: Duration) -> Result<(Store, i64), StoreError> {
        let conn = tls::connect(config, busy_timeout)?;
        let store = Store {
            conn: RefCell::new(conn),
            held: Vec::new(),
            expiry_held: false,
            relay_held: None,
            prefix: lock_prefix(&config.name),
            busy_timeout,
        };
        // Row lock waits bounded as the named locks are (whole seconds, at least one), and a
        // statement by six times that, as on PostgreSQL. READ COMMITTED, PostgreSQL's
        // default: each statement sees what was committed before it, and InnoDB takes no gap
        // locks (see docs/design/mariadb.md, "Isolation"). Strict mode: a value that does not
        // fit is an error, never a silent truncation. `wait_timeout` at its maximum (a year):
        // a FastCGI worker's session idle overnight must not be closed under it by the
        // server's default of eight hours.
        let secs = busy_timeout.as_secs().max(1);
        let settings = format!(
            "SET SESSION innodb_lock_wait_timeout = {secs}, max_statement_time = {}, wait_timeout = 31536000, \
             sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'; \
             SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; ",
            secs.saturating_mul(6)
        );
        let version = store.version_after(&settings)?;
        Ok((store, version))
    }

    fn c(&self) -> RefMut<'_, Conn> {
        self.conn.borrow_mut()
    }

    /// The stored version; 0 when there is no `schema_version` table yet.
    pub(crate) fn schema_version(&self) -> Result<i64, StoreError> {
        self.version_after("")
    }

    /// The stored version, read by the last statement of `before` + one `SELECT` (one round
    /// trip); 0 when there is no `schema_version` table yet.
    fn version_after(&self, before: &str) -> Result<i64, StoreError> {
        let statement = format!("{before}SELECT version FROM schema_version");
        let mut conn = self.c();
        let mut result = match conn.query_iter(&statement) {
            Ok(r) => r,
            Err(mysql::Error::MySqlError(e)) if e.code == NO_SUCH_TABLE => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        let mut version = 0;
        while let Some(set) = result.iter() {
            for row in set {
                let row = match row {
                    Ok(row) => row,
                    Err(mysql::Error::MySqlError(e)) if e.code == NO_SUCH_TABLE => return Ok(0),
                    Err(e) => return Err(e.into()),
                };
                version = col(&row, 0, "SELECT version FROM schema_version")?;
            }
        }
        Ok(version)
    }

    /// Brings the schema up to date; nothing when it is current. MariaDB commits each
    /// `CREATE` and `ALTER` on its own, so a migration cannot be one transaction: they run
    /// under a named lock (two front-ends starting at once: the second waits, then finds the
    /// work done), each statement is one that may run again (`IF NOT EXISTS`), and the
    /// version is written after each migration, so an interrupted one is completed by the
    /// next open.
    fn migrate(&mut self, version: i64) -> Result<(), StoreError> {
        let known = SCHEMA_VERSION;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        if version == known {
            return Ok(());
        }
        let name = format!("{}/migrate", self.prefix);
        if !self.get_lock(&name, Some(self.busy_timeout))? {
            return Err(StoreError::MariadbLockTimeout { what: "the migration lock" });
        }
        let out = self.migrate_locked(known);
        self.release_locks(&[name]);
        out
    }

    fn migrate_locked(&mut self, known: i64) -> Result<(), StoreError> {
        let conn = self.conn.get_mut();
        exec(
            conn,
            "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)
             ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin",
        )?;
        let version: i64 = match first(conn, "SELECT version FROM schema_version")? {
            Some(r) => col(&r, 0, "SELECT version FROM schema_version")?,
            None => 0,
        };
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        for (i, statements) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            for statement in *statements {
                exec(conn, statement)?;
            }
            let reached = i64::try_from(i + 1).unwrap_or(i64::MAX);
            let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
            exec(&mut tx, "DELETE FROM schema_version")?;
            exec(&mut tx, &sql("INSERT INTO schema_version (version) VALUES (?)", &[&reached]))?;
            tx.commit()?;
        }
        Ok(())
    }
}

/// When a host of `hostnames h` is due for expiry at `due_at` (a literal): as in
/// `store::sqlite`, its touch interval ([`Host::touch_interval`]) added to the cut-off.
/// MariaDB's `/` divides into a decimal (`65 / 10` is `6.5`); `DIV` rounds down as Rust and
/// the other engines do (`super::touch_interval_sql`, which this engine cannot share).
fn due(due_at: i64) -> String {
    format!(
        "h.expiry_ttl > 0 AND h.expired = 0 AND h.last_update IS NOT NULL
         AND h.last_update + h.expiry_ttl + LEAST({TOUCH_INTERVAL_SECS}, h.expiry_ttl DIV {TOUCH_FRACTION}) <= {due_at}
         AND (h.ipv4 IS NOT NULL OR h.ipv6 IS NOT NULL OR h.txt IS NOT NULL)"
    )
}

/// The columns [`host_from`] reads, in order, from a `hostnames` table aliased `h`.
const HOST_COLUMNS: &str = "h.id, h.fqdn, h.zone, h.user_id, h.dns_ttl, h.expiry_ttl, h.ipv4, h.ipv6, h.last_update, h.expired, h.offline, h.txt, h.dns_pending, h.ipv4_enabled, h.ipv6_enabled";

/// How many columns [`HOST_COLUMNS`] names: the index of the first column a query adds.
const N_HOST_COLUMNS: usize = 15;

fn host_from(r: &Row) -> Result<Host, StoreError> {
    const Q: &str = "SELECT HOST_COLUMNS";
    let flag = |i| col::<i64>(r, i, Q).map(|v| v != 0);
    let ipv4: Option<String> = col(r, 6, Q)?;
    let ipv6: Option<String> = col(r, 7, Q)?;
    Ok(Host {
        id: col(r, 0, Q)?,
        fqdn: col(r, 1, Q)?,
        zone: col(r, 2, Q)?,
        user_id: col(r, 3, Q)?,
        // Only this module writes these columns, always from a `u32`.
        dns_ttl: u32::try_from(col::<i64>(r, 4, Q)?).unwrap_or(u32::MAX),
        expiry_ttl: u32::try_from(col::<i64>(r, 5, Q)?).unwrap_or(u32::MAX),
        // Only this module writes these columns, always from parsed addresses.
        ipv4: ipv4.and_then(|s| s.parse().ok()),
        ipv6: ipv6.and_then(|s| s.parse().ok()),
        last_update: col(r, 8, Q)?,
        expired: flag(9)?,
        offline: flag(10)?,
        txt: col(r, 11, Q)?,
        dns_pending: flag(12)?,
        families: Families { ipv4: flag(13)?, ipv6: flag(14)? },
    })
}

fn host_row(conn: &mut impl Queryable, fqdn: &str) -> Result<Option<Host>, StoreError> {
    let statement = sql(&format!("SELECT {HOST_COLUMNS} FROM hostnames h WHERE h.fqdn = ?"), &[&fqdn]);
    first(conn, &statement)?.map(|r| host_from(&r)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_hexadecimal_text_and_decimal_numbers() {
        let none: Option<i64> = None;
        let digest: &[u8] = &[0, 0xff];
        assert_eq!(
            sql("f(?, ?, ?, ?, ?)", &[&"a'b\\", &7_i64, &none, &digest, &true]),
            "f(_utf8mb4 X'6127625c', 7, NULL, X'00ff', 1)"
        );
        assert_eq!(sql("x = ?", &[&""]), "x = _utf8mb4 X''");
    }

    #[test]
    fn lock_names_fit_and_sort_as_their_hashes() {
        let prefix = lock_prefix("ddns");
        let name = host_lock_name(&prefix, "a.dyn.example.com");
        assert!(name.len() <= 64, "{name}");
        assert_eq!(name, format!("{prefix}/h/{:016x}", fnv1a(b"a.dyn.example.com")));
        assert_ne!(lock_prefix("ddns"), lock_prefix("ddns2"));
        assert_ne!(relay_lock_name(&prefix, "a"), host_lock_name(&prefix, "a"));
        // Fixed width: the string order is the numeric order of the hashes.
        let mut names: Vec<String> = ["a", "b", "c", "d"].iter().map(|f| host_lock_name(&prefix, f)).collect();
        names.sort();
        let mut hashes: Vec<u64> = ["a", "b", "c", "d"].iter().map(|f| fnv1a(f.as_bytes())).collect();
        hashes.sort_unstable();
        assert_eq!(names, hashes.iter().map(|h| format!("{prefix}/h/{h:016x}")).collect::<Vec<_>>());
    }
}
