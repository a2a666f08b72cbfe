//! The database behind one interface: users, hostnames, the digests of their tokens, relays,
//! acme-dns accounts and the rate-limit table. This module holds [`Store`], an enum over the
//! engines whose methods dispatch to the engine; the domain types every caller sees are in
//! `types`, the errors in `error`; each engine is a submodule that holds all of that engine's
//! SQL (`sqlite`, the embedded default, and `postgres` and `mariadb`, shared by several
//! front-ends). Callers
//! never see SQL or the engine. Nothing here knows about DNS or HTTP; callers pass `now`.
//!
//! Why an enum and not a trait object: several methods are generic over the caller's closure
//! and error type (`with_hosts_locked`, `expire_locked`...), which a `dyn` trait cannot
//! have; the enum keeps every call site as it was, and a method missing from one engine does
//! not compile.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::DatabaseConfig;

mod error;
mod lock;
mod mariadb;
mod postgres;
mod sqlite;
mod types;

pub(crate) use error::StoreError;
pub(crate) use types::*;

// The metric counter names are the same on both engines.
pub(crate) use mariadb::Probe as MariadbProbe;
pub(crate) use postgres::Probe as PgProbe;
pub(crate) use sqlite::{DNS_ERRORS, EXPIRED_HOSTS, LAST_EXPIRY, RATELIMIT_REFUSALS, SCHEMA_VERSION, UPDATES};

/// [`Host::touch_interval`] of the row `hostnames h` in SQL, for a host that expires
/// (`expiry_ttl > 0`, the only rows the expiry run reads); `least` is the engine's
/// two-argument minimum (`MIN` on SQLite, `LEAST` on PostgreSQL). Both engines divide
/// integers as Rust does for non-negative values, rounding down; MariaDB's `/` does not
/// (it gives a decimal), so `store::mariadb` writes its own with `DIV`.
fn touch_interval_sql(least: &str) -> String {
    format!("{least}({TOUCH_INTERVAL_SECS}, h.expiry_ttl / {TOUCH_FRACTION})")
}

/// What [`Store::with_hosts_locked_audited`] hands its `decide`: marks the hosts with these
/// ids `dns_pending` (`Host::dns_pending`), committed before it returns, so that a change
/// whose row write then fails, or whose process dies after the DNS server accepted it,
/// leaves a row the next request repairs. The write that stores the accepted change clears it.
pub(crate) type MarkPending<'a> = dyn FnMut(&[i64]) -> Result<(), StoreError> + 'a;

/// An open database, on one of the engines.
#[derive(Debug)]
pub(crate) enum Store {
    Sqlite(sqlite::Store),
    Postgres(postgres::Store),
    Mariadb(mariadb::Store),
}

/// Calls the same method on whichever engine `$store` is.
macro_rules! dispatch {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
            Store::Mariadb($s) => $call,
        }
    };
}

impl Store {
    /// Opens the configured database (`[database] path`, PostgreSQL with `url` or
    /// `postgres`, MariaDB with `url` or `mariadb`) and applies pending migrations.
    pub(crate) fn open(config: &DatabaseConfig, mode: OpenMode) -> Result<Store, StoreError> {
        if let Some(m) = &config.mariadb {
            return Ok(Store::Mariadb(mariadb::Store::open(m, config.busy_timeout, mode)?));
        }
        match &config.postgres {
            Some(pg) => Ok(Store::Postgres(postgres::Store::open(pg, config.busy_timeout, mode)?)),
            None => Ok(Store::Sqlite(sqlite::Store::open(&config.path, config.busy_timeout, mode)?)),
        }
    }

    /// Closes the store. On SQLite, the last connection to the file (of any process) leaves
    /// the database file holding everything, with no `-wal` or `-shm` beside it.
    pub(crate) fn close(self) {
        match self {
            Store::Sqlite(s) => s.close(),
            Store::Postgres(s) => drop(s),
            Store::Mariadb(s) => drop(s),
        }
    }

    /// A store of no database, in the place of a FastCGI worker's connection while that serves
    /// other requests (`update::OffDuty`): a cheap empty in-memory SQLite connection whose
    /// statements and locks fail, never put in the pool ([`Store::is_detached`]).
    pub(crate) fn detached() -> Result<Store, StoreError> {
        Ok(Store::Sqlite(sqlite::Store::detached()?))
    }

    /// Whether this store may serve another request (a FastCGI worker's pool): `false` for a
    /// PostgreSQL or MariaDB session found closed (the server restarted), which is then
    /// dropped and opened again by the next request, never put back. No round trip.
    pub(crate) fn is_usable(&mut self) -> bool {
        match self {
            Store::Sqlite(_) => true,
            Store::Postgres(s) => s.is_usable(),
            Store::Mariadb(s) => s.is_usable(),
        }
    }

    /// Whether this is a [`Store::detached`].
    pub(crate) fn is_detached(&self) -> bool {
        match self {
            Store::Sqlite(s) => s.is_detached(),
            Store::Postgres(_) | Store::Mariadb(_) => false,
        }
    }

    /// Which engine, for messages: `sqlite`, `postgresql` or `mariadb`.
    pub(crate) fn engine(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgresql",
            Store::Mariadb(_) => "mariadb",
        }
    }

    /// Whether a read may run on a thread that drives an async runtime: SQLite's reads are
    /// short calls into the local file (WAL readers wait for no writer); the PostgreSQL
    /// driver blocks on a runtime of its own, which must not run inside another, and
    /// MariaDB's blocks on the network, which would stall the runtime's other requests.
    pub(crate) fn reads_in_async(&self) -> bool {
        match self {
            Store::Sqlite(_) => true,
            Store::Postgres(_) | Store::Mariadb(_) => false,
        }
    }

    /// Runs `reads` in one read transaction: the statements see one snapshot, and SQLite
    /// takes and drops its file locks (a few `fcntl` calls each) once instead of once per
    /// statement. `reads` must not write: a write inside would fail. On SQLite, the rows it
    /// reads of users, tokens, hostnames and relays are remembered until the next commit of
    /// anyone (`sqlite/memo.rs`), and a later `read_together` whose reads are all remembered
    /// runs on them without SQLite; one that asks for a row not remembered sees
    /// `StoreError::Unmemoized` and is run again in a transaction. So `reads` may run twice,
    /// and must have no effect before its last read. On PostgreSQL, the first read fetches
    /// in one statement (one round trip, one snapshot) what the others will ask for
    /// (`postgres/together.rs`); a read it did not fetch sees `StoreError::Unmemoized`, and
    /// `reads` runs again one statement a read. On MariaDB each statement stays its own.
    pub(crate) fn read_together<T>(&mut self, mut reads: impl FnMut(&mut Store) -> T) -> Result<T, StoreError> {
        if let Store::Sqlite(s) = self
            && s.start_replay()
        {
            let out = reads(self);
            if let Store::Sqlite(s) = self
                && s.end_replay()
            {
                return Ok(out);
            }
        }
        if let Store::Postgres(s) = self {
            s.start_together();
            let out = reads(self);
            if let Store::Postgres(s) = self
                && s.end_together()
            {
                return Ok(out);
            }
        }
        match self {
            Store::Sqlite(s) => s.begin_read()?,
            Store::Postgres(s) => s.start_learning(),
            Store::Mariadb(_) => {}
        }
        let out = reads(self);
        match self {
            Store::Sqlite(s) => s.end_read()?,
            Store::Postgres(s) => s.end_learning(),
            Store::Mariadb(_) => {}
        }
        Ok(out)
    }

    /// The schema version this ddns-cgi writes on the engine of `config`.
    pub(crate) fn known_version(config: &DatabaseConfig) -> i64 {
        if config.mariadb.is_some() {
            return mariadb::SCHEMA_VERSION;
        }
        match config.postgres {
            Some(_) => postgres::SCHEMA_VERSION,
            None => sqlite::SCHEMA_VERSION,
        }
    }

    /// The schema version of the configured PostgreSQL database, read without migrating
    /// (`check`); `None` for SQLite, which `check` reads with [`Store::schema_of`].
    pub(crate) fn schema_of_postgres(config: &DatabaseConfig) -> Option<(String, Result<PgProbe, StoreError>)> {
        let pg = config.postgres.as_ref()?;
        Some((pg.shown.clone(), postgres::Store::probe(pg, config.busy_timeout)))
    }

    /// The schema version of the configured MariaDB database, read without migrating
    /// (`check`), and whether the session is encrypted; `None` for the other engines.
    pub(crate) fn schema_of_mariadb(config: &DatabaseConfig) -> Option<(String, Result<MariadbProbe, StoreError>)> {
        let m = config.mariadb.as_ref()?;
        Some((m.shown.clone(), mariadb::Store::probe(m, config.busy_timeout)))
    }

    /// Copies the SQLite database into the empty file `dest` (`backup`): one consistent state,
    /// while others write. `None` on PostgreSQL and MariaDB, whose own tools copy them
    /// (`pg_dump`, `mariadb-dump`).
    pub(crate) fn backup_into(&self, dest: &Path, busy_timeout: Duration) -> Option<Result<Contents, StoreError>> {
        match self {
            Store::Sqlite(s) => Some(s.backup_into(dest, busy_timeout)),
            Store::Postgres(_) | Store::Mariadb(_) => None,
        }
    }

    /// Checks the SQLite file at `path`, a private copy of `shown`, before it replaces the
    /// database (`restore`), and leaves it in WAL mode.
    pub(crate) fn check_restorable(path: &Path, shown: &Path) -> Result<Contents, StoreError> {
        sqlite::Store::check_restorable(path, shown)
    }

    /// The schema version of the SQLite file at `path`, read without migrating (`check`).
    pub(crate) fn schema_of(path: &Path) -> Result<i64, StoreError> {
        sqlite::Store::schema_of(path)
    }

    /// The expiry run's global lock: `true` when this run may do the work. On PostgreSQL
    /// several front-ends may start `expire` from cron at once; one takes the advisory lock
    /// (held until its session ends) and the others are told to stop. On SQLite, where every
    /// run shares one machine's file, concurrent runs are already ordered by the host locks.
    pub(crate) fn try_expiry_lock(&mut self) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(_) => Ok(true),
            Store::Postgres(s) => s.try_expiry_lock(),
            Store::Mariadb(s) => s.try_expiry_lock(),
        }
    }

    pub(crate) fn schema_version(&self) -> Result<i64, StoreError> {
        dispatch!(self, s => s.schema_version())
    }

    pub(crate) fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        dispatch!(self, s => s.user(name))
    }

    pub(crate) fn add_user(
        &mut self,
        name: &str,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_user(name, email, password_hash, now))
    }

    pub(crate) fn set_password_hash(&mut self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_password_hash(user_id, password_hash))
    }

    pub(crate) fn recent_password_hashes(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.recent_password_hashes(limit))
    }

    pub(crate) fn users(&self) -> Result<Vec<UserSummary>, StoreError> {
        dispatch!(self, s => s.users())
    }

    pub(crate) fn set_email(&mut self, name: &str, email: &str) -> Result<bool, StoreError> {
        dispatch!(self, s => s.set_email(name, email))
    }

    pub(crate) fn delete_user(&mut self, user_id: i64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.delete_user(user_id))
    }

    pub(crate) fn web_user(&self, name: &str) -> Result<Option<WebUser>, StoreError> {
        dispatch!(self, s => s.web_user(name))
    }

    /// Sets or clears a user's admin flag; `false` when there is no such user.
    pub(crate) fn set_admin(&mut self, name: &str, admin: bool) -> Result<bool, StoreError> {
        dispatch!(self, s => s.set_admin(name, admin))
    }

    /// Stores a new session by the digest of its id, and drops the sessions that ended
    /// (idle since `idle_before`, or created before `created_before`).
    pub(crate) fn add_session(
        &mut self,
        digest: &[u8],
        user_id: i64,
        now: i64,
        ends: SessionEnds,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_session(digest, user_id, now, ends))
    }

    /// The live session with this digest, with its user, its last-seen time set to `now`
    /// (one write only when it is older than a minute); `None` when there is none or it ended.
    pub(crate) fn session(
        &mut self,
        digest: &[u8],
        now: i64,
        ends: SessionEnds,
    ) -> Result<Option<WebSession>, StoreError> {
        dispatch!(self, s => s.session(digest, now, ends))
    }

    pub(crate) fn end_session(&mut self, digest: &[u8]) -> Result<(), StoreError> {
        dispatch!(self, s => s.end_session(digest))
    }

    /// Sets a user's password hash and ends their sessions but `keep`, in one transaction.
    pub(crate) fn change_password(
        &mut self,
        user_id: i64,
        password_hash: &str,
        keep: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.change_password(user_id, password_hash, keep))
    }

    /// Stores an invitation for the user (replacing any earlier one of theirs).
    pub(crate) fn add_invitation(
        &mut self,
        digest: &[u8],
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_invitation(digest, user_id, expires_at, now))
    }

    /// The user a live invitation with this digest is for.
    pub(crate) fn invitation(&self, digest: &[u8], now: i64) -> Result<Option<WebUser>, StoreError> {
        dispatch!(self, s => s.invitation(digest, now))
    }

    /// Redeems a live invitation: sets the password hash, deletes the invitation and ends the
    /// user's sessions, in one transaction. The user's name, or `None` when the invitation was
    /// gone or expired (a second use of the link).
    pub(crate) fn redeem_invitation(
        &mut self,
        digest: &[u8],
        password_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.redeem_invitation(digest, password_hash, now))
    }

    /// Gives a hostname to another user (the console's admin pages), under its host lock: its
    /// token is deleted (it was the old owner's) and it leaves any derivation in either
    /// direction (a hostname follows only one of its owner's). Its records stay. `false` when
    /// there is no such hostname.
    pub(crate) fn move_host(&mut self, fqdn: &str, user_id: i64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.move_host(fqdn, user_id))
    }

    pub(crate) fn add_host(&mut self, host: &NewHost<'_>, now: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_host(host, now))
    }

    /// `hostname import`: every host, and its token if it has one, in one transaction; a
    /// hostname that exists already refuses the whole import ([`StoreError::Exists`]), with
    /// nothing written. The hosts are new, so no change authorised by an older token can be
    /// in flight for them: no host lock is needed.
    pub(crate) fn import_hosts(&mut self, hosts: &[ImportedHost<'_>], now: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.import_hosts(hosts, now))
    }

    /// Reads the hosts under their host locks, lets `decide` act on them (mark the hosts it
    /// sends with [`MarkPending`], send the DNS update), and writes back what it returns in
    /// one short transaction, still under the locks (see docs/design/host-ordering.md, "The
    /// host lock"). `decide` also gets the digest of each host's token as it stands under
    /// the lock (`None`: no such host, or no token), in the same read: a change a token
    /// authorised goes ahead only if it is still there, and `set_token`/`revoke_token` take
    /// the host lock too.
    pub(crate) fn with_hosts_locked_audited<T, E>(
        &mut self,
        fqdns: &[&str],
        decide: impl FnOnce(
            &[Option<Host>],
            &[Option<Vec<u8>>],
            &mut MarkPending<'_>,
        ) -> Result<(Vec<HostWrite>, AuditWrite, T), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        dispatch!(self, s => s.with_hosts_locked_audited(fqdns, decide))
    }

    pub(crate) fn record_audit(&mut self, audit: &AuditWrite) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_audit(audit))
    }

    pub(crate) fn audit_history(&self, fqdn: &str, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        dispatch!(self, s => s.audit_history(fqdn, limit))
    }

    pub(crate) fn audit_since(&self, since: i64, refused_only: bool, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        dispatch!(self, s => s.audit_since(since, refused_only, limit))
    }

    pub(crate) fn prune_audit(&mut self, before: i64) -> Result<usize, StoreError> {
        dispatch!(self, s => s.prune_audit(before))
    }

    pub(crate) fn counters(&self) -> Result<Vec<CounterValue>, StoreError> {
        dispatch!(self, s => s.counters())
    }

    pub(crate) fn add_counter(&mut self, name: &str, label: &str, n: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_counter(name, label, n))
    }

    pub(crate) fn set_counter(&mut self, name: &str, label: &str, value: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.set_counter(name, label, value))
    }

    pub(crate) fn host_counts(&self) -> Result<HostCounts, StoreError> {
        dispatch!(self, s => s.host_counts())
    }

    pub(crate) fn children(&self, parent: &str, user_id: i64) -> Result<Vec<Derived>, StoreError> {
        dispatch!(self, s => s.children(parent, user_id))
    }

    pub(crate) fn stored_ipv4(&self, fqdn: &str) -> Result<Option<Ipv4Addr>, StoreError> {
        dispatch!(self, s => s.stored_ipv4(fqdn))
    }

    pub(crate) fn derive(&mut self, new: &NewDerivation<'_>, now: i64) -> Result<DeriveOutcome, StoreError> {
        dispatch!(self, s => s.derive(new, now))
    }

    pub(crate) fn underive(&mut self, child: &str) -> Result<Option<bool>, StoreError> {
        dispatch!(self, s => s.underive(child))
    }

    pub(crate) fn derivations(&self) -> Result<Vec<Derivation>, StoreError> {
        dispatch!(self, s => s.derivations())
    }

    /// A hostname's row, read without its lock (the locked read-modify-write decides again).
    pub(crate) fn host(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
        dispatch!(self, s => s.host(fqdn))
    }

    pub(crate) fn hosts(&self, user_id: Option<i64>) -> Result<Vec<HostListing>, StoreError> {
        dispatch!(self, s => s.hosts(user_id))
    }

    pub(crate) fn modify_host_locked<E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(&Host) -> Result<HostSettings, E>,
    ) -> Result<Option<HostSettings>, E>
    where
        E: From<StoreError>,
    {
        dispatch!(self, s => s.modify_host_locked(fqdn, decide))
    }

    pub(crate) fn delete_host_locked<E>(
        &mut self,
        fqdn: &str,
        unpublish: impl FnOnce(&Host) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        E: From<StoreError>,
    {
        dispatch!(self, s => s.delete_host_locked(fqdn, unpublish))
    }

    pub(crate) fn set_token(
        &mut self,
        fqdn: &str,
        digest: &[u8],
        scope: &TokenScope,
        now: i64,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.set_token(fqdn, digest, scope, now))
    }

    pub(crate) fn revoke_token(&mut self, fqdn: &str) -> Result<Option<bool>, StoreError> {
        dispatch!(self, s => s.revoke_token(fqdn))
    }

    pub(crate) fn token(&self, digest: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        dispatch!(self, s => s.token(digest))
    }

    pub(crate) fn rate_limit_over<'a>(
        &self,
        counters: &[Counter<'a>],
    ) -> Result<Option<(Counter<'a>, u64)>, StoreError> {
        dispatch!(self, s => s.rate_limit_over(counters))
    }

    pub(crate) fn rate_limit_reserve<'a>(
        &mut self,
        counters: &[Counter<'a>],
        rows: &[(&'static str, String)],
        now: i64,
        older_than: i64,
    ) -> Result<Result<Vec<CountedRow>, (Counter<'a>, u64)>, StoreError> {
        dispatch!(self, s => s.rate_limit_reserve(counters, rows, now, older_than))
    }

    pub(crate) fn rate_limit_settle(
        &mut self,
        remove: &[CountedRow],
        add: &[(&'static str, String)],
        now: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.rate_limit_settle(remove, add, now))
    }

    pub(crate) fn trim_rate_limit(&mut self, older_than: i64) -> Result<usize, StoreError> {
        dispatch!(self, s => s.trim_rate_limit(older_than))
    }

    pub(crate) fn rate_limit_counters(&self, since: i64) -> Result<Vec<RateLimitCounter>, StoreError> {
        dispatch!(self, s => s.rate_limit_counters(since))
    }

    pub(crate) fn clear_rate_limit(&mut self, keys: Option<&[String]>) -> Result<usize, StoreError> {
        dispatch!(self, s => s.clear_rate_limit(keys))
    }

    pub(crate) fn expire_locked<T>(
        &mut self,
        zone: &str,
        after: i64,
        limit: usize,
        due_at: i64,
        delete: impl FnOnce(&[Host]) -> (Vec<i64>, T),
    ) -> Result<ExpiryChunk<T>, StoreError> {
        dispatch!(self, s => s.expire_locked(zone, after, limit, due_at, delete))
    }

    pub(crate) fn zones_due(&self, due_at: i64) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.zones_due(due_at))
    }

    pub(crate) fn n_due(&self, zone: &str, due_at: i64) -> Result<usize, StoreError> {
        dispatch!(self, s => s.n_due(zone, due_at))
    }

    pub(crate) fn claim_unnotified(&mut self) -> Result<Vec<Unnotified>, StoreError> {
        dispatch!(self, s => s.claim_unnotified())
    }

    pub(crate) fn unclaim_notified(&mut self, host_ids: &[i64]) -> Result<(), StoreError> {
        dispatch!(self, s => s.unclaim_notified(host_ids))
    }

    pub(crate) fn set_relay(&mut self, fqdn: &str, relay: &NewRelay<'_>, now: i64) -> Result<RelayChange, StoreError> {
        dispatch!(self, s => s.set_relay(fqdn, relay, now))
    }

    pub(crate) fn remove_relay(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        dispatch!(self, s => s.remove_relay(fqdn, url))
    }

    pub(crate) fn clear_relay_pause(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        dispatch!(self, s => s.clear_relay_pause(fqdn, url))
    }

    pub(crate) fn relays(&self, fqdn: &str) -> Result<Option<Vec<Relay>>, StoreError> {
        dispatch!(self, s => s.relays(fqdn))
    }

    pub(crate) fn relays_for_update(&self, fqdn: &str, user_id: i64) -> Result<Vec<Relay>, StoreError> {
        dispatch!(self, s => s.relays_for_update(fqdn, user_id))
    }

    pub(crate) fn relay_counts(&self) -> Result<std::collections::HashMap<String, (u32, u32)>, StoreError> {
        dispatch!(self, s => s.relay_counts())
    }

    pub(crate) fn record_relay(&mut self, id: i64, outcome: &RelayOutcome, now: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.record_relay(id, outcome, now))
    }

    /// Runs `body` under the relay lock of `fqdn` (docs/design/host-ordering.md, "The relay lock"):
    /// a lock per host apart from its host lock, so that one host's relays take turns while
    /// its updates go on. Waits at most `wait`, trying again with short pauses (a flock or an
    /// advisory lock cannot wait with a deadline of the caller's own); `Ok(None)` when
    /// another holder kept it that long. The caller must hold no host lock.
    pub(crate) fn with_relay_locked<T>(
        &mut self,
        fqdn: &str,
        wait: Duration,
        body: impl FnOnce(&mut Store) -> T,
    ) -> Result<Option<T>, StoreError> {
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            let guard = match self {
                Store::Sqlite(s) => s.try_lock_relay(fqdn)?.map(Some),
                Store::Postgres(s) => s.try_lock_relay(fqdn)?.then_some(None),
                Store::Mariadb(s) => s.try_lock_relay(fqdn)?.then_some(None),
            };
            if let Some(guard) = guard {
                let out = body(self);
                match self {
                    Store::Postgres(s) => s.unlock_relay(),
                    Store::Mariadb(s) => s.unlock_relay(),
                    Store::Sqlite(_) => {}
                }
                drop(guard);
                return Ok(Some(out));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    pub(crate) fn add_acme_account(
        &mut self,
        account: &NewAcmeAccount<'_>,
        caps: Option<AccountCaps>,
        now: i64,
    ) -> Result<Result<(), CapReached>, StoreError> {
        dispatch!(self, s => s.add_acme_account(account, caps, now))
    }

    pub(crate) fn acme_account(&self, username: &str) -> Result<Option<AcmeAccount>, StoreError> {
        dispatch!(self, s => s.acme_account(username))
    }

    pub(crate) fn with_acme_locked<E>(
        &mut self,
        target: (i64, &str),
        key: &str,
        now: i64,
        publish: impl FnOnce(&AcmeAccount, &[AcmeValue]) -> Result<Vec<AcmeValue>, E>,
    ) -> Result<Option<()>, E>
    where
        E: From<StoreError>,
    {
        dispatch!(self, s => s.with_acme_locked(target, key, now, publish))
    }

    pub(crate) fn delete_acme_locked<E>(
        &mut self,
        id: i64,
        keys: &[String],
        remove: impl FnOnce(&AcmeAccount) -> Result<(), E>,
    ) -> Result<Option<()>, E>
    where
        E: From<StoreError>,
    {
        dispatch!(self, s => s.delete_acme_locked(id, keys, remove))
    }

    pub(crate) fn acme_username_for(&self, name: &str) -> Result<Option<String>, StoreError> {
        dispatch!(self, s => s.acme_username_for(name))
    }

    pub(crate) fn acme_values_due(&self, cutoff: i64) -> Result<Vec<(i64, String)>, StoreError> {
        dispatch!(self, s => s.acme_values_due(cutoff))
    }
}
