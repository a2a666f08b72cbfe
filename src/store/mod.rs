//! The database behind one interface: users, hostnames, the digests of their tokens, relays,
//! acme-dns accounts and the rate-limit table. This module holds the domain types every caller sees, the errors, and
//! [`Store`], an enum over the engines whose methods dispatch to the engine; each engine is a
//! submodule that holds all of that engine's SQL (`sqlite`, the embedded default, and
//! `postgres`, shared by several front-ends). Callers never see SQL or the engine. Nothing
//! here knows about DNS or HTTP; callers pass `now`.
//!
//! Why an enum and not a trait object: several methods are generic over the caller's closure
//! and error type (`with_hosts_locked`, `expire_locked`...), which a `dyn` trait cannot
//! have; the enum keeps every call site as it was, and a method missing from one engine does
//! not compile.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use crate::config::DatabaseConfig;

use crate::secret::Secret;

mod lock;
mod postgres;
mod sqlite;

// The metric counter names are the same on both engines.
pub(crate) use postgres::Probe as PgProbe;
pub(crate) use sqlite::{DNS_ERRORS, EXPIRED_HOSTS, LAST_EXPIRY, RATELIMIT_REFUSALS, SCHEMA_VERSION, UPDATES};

/// An open database, on one of the engines.
#[derive(Debug)]
pub(crate) enum Store {
    Sqlite(sqlite::Store),
    Postgres(postgres::Store),
}

/// Calls the same method on whichever engine `$store` is.
macro_rules! dispatch {
    ($store:expr, $s:ident => $call:expr) => {
        match $store {
            Store::Sqlite($s) => $call,
            Store::Postgres($s) => $call,
        }
    };
}

impl Store {
    /// Opens the configured database (`[database] path`, or PostgreSQL with `url` or
    /// `postgres`) and applies pending migrations.
    pub(crate) fn open(config: &DatabaseConfig, mode: OpenMode) -> Result<Store, StoreError> {
        match &config.postgres {
            Some(pg) => Ok(Store::Postgres(postgres::Store::open(pg, config.busy_timeout, mode)?)),
            None => Ok(Store::Sqlite(sqlite::Store::open(&config.path, config.busy_timeout, mode)?)),
        }
    }

    /// Which engine, for messages: `sqlite` or `postgresql`.
    pub(crate) fn engine(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgresql",
        }
    }

    /// Whether a read may run on a thread that drives an async runtime: SQLite's reads are
    /// short calls into the local file (WAL readers wait for no writer); the PostgreSQL
    /// driver blocks on a runtime of its own, which must not run inside another.
    pub(crate) fn reads_in_async(&self) -> bool {
        match self {
            Store::Sqlite(_) => true,
            Store::Postgres(_) => false,
        }
    }

    /// Runs `reads` in one read transaction: the statements see one snapshot, and SQLite
    /// takes and drops its file locks (a few `fcntl` calls each) once instead of once per
    /// statement. `reads` must not write: a write inside would fail. On SQLite, the rows it
    /// reads of users, tokens, hostnames and relays are remembered until the next commit of
    /// anyone (`sqlite/memo.rs`), and a later `read_together` whose reads are all remembered
    /// runs on them without SQLite; one that asks for a row not remembered sees
    /// `StoreError::Unmemoized` and is run again in a transaction. So `reads` may run twice,
    /// and must have no effect before its last read. On PostgreSQL each statement stays its
    /// own.
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
        if let Store::Sqlite(s) = self {
            s.begin_read()?;
        }
        let out = reads(self);
        if let Store::Sqlite(s) = self {
            s.end_read()?;
        }
        Ok(out)
    }

    /// The schema version this ddns-cgi writes on the engine of `config`.
    pub(crate) fn known_version(config: &DatabaseConfig) -> i64 {
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

    pub(crate) fn add_host(&mut self, host: &NewHost<'_>, now: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_host(host, now))
    }

    /// Reads the hosts under their host locks, lets `decide` act on them (send the DNS
    /// update), and writes back what it returns in one short transaction, still under the
    /// locks (see ARCHITECTURE.md, "Ordering changes of one host").
    pub(crate) fn with_hosts_locked_audited<T, E>(
        &mut self,
        fqdns: &[&str],
        decide: impl FnOnce(&[Option<Host>]) -> Result<(Vec<HostWrite>, AuditWrite, T), E>,
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
        decide: impl FnOnce(&Host) -> Result<(u32, u32), E>,
    ) -> Result<Option<(u32, u32)>, E>
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

    pub(crate) fn add_acme_account(&mut self, account: &NewAcmeAccount<'_>, now: i64) -> Result<(), StoreError> {
        dispatch!(self, s => s.add_acme_account(account, now))
    }

    pub(crate) fn acme_account(&self, username: &str) -> Result<Option<AcmeAccount>, StoreError> {
        dispatch!(self, s => s.acme_account(username))
    }

    pub(crate) fn with_acme_locked<E>(
        &mut self,
        id: i64,
        key: &str,
        now: i64,
        publish: impl FnOnce(&AcmeAccount) -> Result<(String, Option<String>), E>,
    ) -> Result<Option<()>, E>
    where
        E: From<StoreError>,
    {
        dispatch!(self, s => s.with_acme_locked(id, key, now, publish))
    }
}

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
    /// A host's lock file (beside the database) could not be created, opened or locked.
    #[error("cannot lock `{}`: {source} (the directory of the database must be writable by the user the web server runs CGI as)", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    /// Any SQLite error: locked past the busy timeout, read-only, corrupt, I/O. The message
    /// adds what an operator should do for the common cases.
    #[error("database error: {source}{hint}", source = .0, hint = hint(.0))]
    Sql(#[from] rusqlite::Error),
    /// PostgreSQL could not be reached or refused the session (`shown` is `user@host/name`).
    /// The message names the causes too (the server's refusal, rustls' verdict on the
    /// certificate), which the driver's own message leaves out; none of them holds the password.
    #[error("cannot connect to postgresql `{shown}`: {}", causes(source))]
    Connect { shown: String, source: ::postgres::Error },
    /// TLS to PostgreSQL could not be set up (the CA file); the handshake's own failures are
    /// `Connect`.
    #[error("cannot set up TLS to postgresql `{shown}`: {message}")]
    Tls { shown: String, message: String },
    /// Any PostgreSQL error after connecting: a lock wait past `lock_timeout`, a lost session,
    /// a refused statement. The message names the server's reason, which the driver's own
    /// ("db error") leaves out.
    #[error("database error (postgresql): {}", causes(.0))]
    Postgres(#[from] ::postgres::Error),
    /// A read during a replay of remembered reads (`Store::read_together`) that the memo
    /// does not hold; `read_together` then runs the reads again, so this never leaves it.
    #[error("internal: a read that was not remembered")]
    Unmemoized,
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
    /// The TXT value published with `txt=`; `None` when the host has no TXT record.
    pub(crate) txt: Option<String>,
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
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostWrite {
    /// Nothing changes.
    None,
    /// The addresses are current: refresh the last-update time only (`nochg`).
    Touch { now: i64 },
    /// The DNS server accepted these addresses and this TXT value with this TTL: store them
    /// and clear `expired` and `offline`.
    Addresses { ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, txt: Option<String>, dns_ttl: u32, now: i64 },
    /// The DNS server removed the host's records on the owner's request: clear the
    /// addresses and the TXT value (the row never claims more than DNS has) and mark the
    /// host offline.
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
    /// The candidates as first read, in id order, before their host locks were taken (those
    /// still due were handed to the closure); empty when none are left.
    pub(crate) hosts: Vec<Host>,
    /// How many rows were marked expired.
    pub(crate) n_expired: usize,
    /// What the caller's closure returned.
    pub(crate) value: T,
}

/// The rate-limit rows of one counter (scope and key), for `ratelimit list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RateLimitCounter {
    pub(crate) scope: String,
    pub(crate) key: String,
    /// When each counted request came, oldest first.
    pub(crate) at: Vec<i64>,
}

/// An acme-dns account: credentials that may set the challenge TXT records of one name,
/// `<subdomain>.<[acme] zone>`. Only the key's SHA-256 digest is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AcmeAccount {
    pub(crate) id: i64,
    /// What the account is for (the domain given to `acme add`); empty when registered
    /// through the API.
    pub(crate) name: String,
    /// A UUID, lower case.
    pub(crate) username: String,
    pub(crate) key_digest: Vec<u8>,
    /// A UUID, lower case: the label below the acme zone.
    pub(crate) subdomain: String,
    /// Networks updates may come from, comma-separated; empty allows any.
    pub(crate) allowfrom: String,
    /// The newest challenge value, and the one before it: both are published.
    pub(crate) txt_new: Option<String>,
    pub(crate) txt_old: Option<String>,
}

/// An acme-dns account to create.
#[derive(Debug)]
pub(crate) struct NewAcmeAccount<'a> {
    pub(crate) name: &'a str,
    pub(crate) username: &'a str,
    pub(crate) key_digest: &'a [u8],
    pub(crate) subdomain: &'a str,
    pub(crate) allowfrom: &'a str,
}

/// An upstream dyndns2 provider that a hostname's accepted updates are forwarded to (`relay`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Relay {
    pub(crate) id: i64,
    /// The upstream's update URL with its own `hostname=`; never holds credentials.
    pub(crate) url: String,
    pub(crate) username: String,
    /// Sent as HTTP Basic credentials, so stored as given (SECURITY.md, "Relay passwords").
    pub(crate) password: Secret<String>,
    /// Forwarded instead of the local RFC 2136 update, not in addition to it.
    pub(crate) replaces_local: bool,
    /// Set when the upstream answered `badauth` or `abuse`; only an admin clears it.
    pub(crate) paused: Option<RelayPause>,
    /// The addresses the upstream last accepted (`good` or `nochg`).
    pub(crate) last_ipv4: Option<Ipv4Addr>,
    pub(crate) last_ipv6: Option<Ipv6Addr>,
    /// The upstream's last answer as we classified it, and when.
    pub(crate) last_result: Option<String>,
    pub(crate) last_at: Option<i64>,
}

/// Why and since when a relay is paused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RelayPause {
    pub(crate) since: i64,
    /// The upstream's answer token (`badauth`, `abuse`).
    pub(crate) reason: String,
}

/// A relay to add to a hostname, or to replace (same URL).
#[derive(Debug)]
pub(crate) struct NewRelay<'a> {
    pub(crate) url: &'a str,
    pub(crate) username: &'a str,
    pub(crate) password: &'a Secret<String>,
    pub(crate) replaces_local: bool,
}

/// What one relay attempt did, to be written back to its row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RelayOutcome {
    /// The upstream answered `good` or `nochg`: these addresses are current there.
    Accepted { ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, result: String },
    /// Any other answer, a timeout or a transport failure; `result` says which.
    Failed { result: String },
    /// `badauth` or `abuse`: stop sending until an admin clears the pause.
    Paused { reason: String },
}

/// The result of an admin change to one relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RelayChange {
    /// There is no such hostname.
    NoHost,
    /// The hostname has no relay with that URL.
    NoRelay,
    /// Nothing to do (e.g. the relay was not paused).
    Unchanged,
    /// A new relay was added.
    Added,
    /// An existing relay was changed (replaced, removed or resumed).
    Changed,
}

/// A hostname that follows another's IPv6 prefix (`hostname derive`), as the fan-out reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Derived {
    pub(crate) fqdn: String,
    /// The child's stored IPv4, for the host-bit rules of its own children.
    pub(crate) ipv4: Option<Ipv4Addr>,
    /// The bits after the prefix (`--ipv6-iid`).
    pub(crate) ipv6_iid: Ipv6Addr,
    /// `--ipv4` as given (`fanout::Ipv4Rule`); `None` leaves the A record alone.
    pub(crate) ipv4_rule: Option<String>,
    /// `--ttl`; `None` keeps the child's `dns_ttl`.
    pub(crate) dns_ttl: Option<u32>,
}

/// A derivation for `hostname list`: the child, its parent and its rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Derivation {
    pub(crate) child: String,
    pub(crate) parent: String,
    pub(crate) ipv6_iid: Ipv6Addr,
    pub(crate) ipv4_rule: Option<String>,
    pub(crate) dns_ttl: Option<u32>,
}

/// What `hostname derive` asks: `child` follows `parent`; it is created as given when
/// missing, owned by the parent's owner whatever `child.user_id` says.
#[derive(Debug)]
pub(crate) struct NewDerivation<'a> {
    pub(crate) parent: &'a str,
    pub(crate) child: NewHost<'a>,
    pub(crate) ipv6_iid: Ipv6Addr,
    pub(crate) ipv4_rule: Option<String>,
    pub(crate) dns_ttl: Option<u32>,
}

/// What `hostname derive` did, or why it refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeriveOutcome {
    /// The child follows the parent now; `created` when its row was made for it.
    Done { created: bool },
    /// There is no such parent hostname.
    NoParent,
    /// The child exists and belongs to someone other than the parent's owner.
    OtherOwner { owner: String },
    /// The child is the parent, or one of the hosts the parent follows.
    Cycle,
}

/// One row of the audit trail (`audit.rs`): an accepted change of a host (`kind` `change`:
/// `good`, `nochg`, or `dnserr` with the rcode) or a refused attempt (`kind` `refused`: the
/// answer given, such as `badauth`, `abuse`, `nohost`, `badip`). It never holds a secret:
/// the user name is the one given or authenticated, `auth` names the method only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct AuditRow {
    /// Seconds since the epoch.
    pub(crate) at: i64,
    /// `change` or `refused`.
    pub(crate) kind: &'static str,
    /// The dyndns2 answer token.
    pub(crate) answer: String,
    /// The request's transaction id, as in its log lines.
    pub(crate) txn: String,
    pub(crate) client: Option<String>,
    pub(crate) hostname: Option<String>,
    /// The authenticated user (a change), or the user name given, bounded (a refusal).
    pub(crate) user: Option<String>,
    /// `password` or `token` for a change; none for a refusal.
    pub(crate) auth: Option<String>,
    pub(crate) old_ipv4: Option<String>,
    pub(crate) old_ipv6: Option<String>,
    pub(crate) new_ipv4: Option<String>,
    pub(crate) new_ipv6: Option<String>,
    /// The TXT values before and after, only when the change set or cleared TXT.
    pub(crate) old_txt: Option<String>,
    pub(crate) new_txt: Option<String>,
    /// The DNS server's rcode name (or `timeout`, `unreachable`...) of a `dnserr`.
    pub(crate) rcode: Option<String>,
    /// A short detail: the rate-limit scope of an `abuse`, why credentials failed.
    pub(crate) reason: Option<String>,
}

/// What the store writes for the audit trail with a change: the rows, and whether to keep
/// them (`[audit] keep_days` > 0). The metric counters count them either way.
#[derive(Debug, Default)]
pub(crate) struct AuditWrite {
    pub(crate) rows: Vec<AuditRow>,
    pub(crate) keep: bool,
}

/// One metric counter as stored: its name, its label value (empty for none), its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CounterValue {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) value: i64,
}

/// How many hostnames are in each state, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HostCounts {
    pub(crate) n_hosts: i64,
    pub(crate) n_expired: i64,
    pub(crate) n_offline: i64,
}

/// An error and its chain of sources, `: `-separated, on one line.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        // `io::Error`'s source skips the error it wraps (rustls' verdict, for one).
        if let Some(inner) = s.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            let shown = inner.to_string();
            if !text.ends_with(&shown) {
                text.push_str(": ");
                text.push_str(&shown);
            }
        }
        source = s.source();
    }
    text.replace('\n', "; ")
}
