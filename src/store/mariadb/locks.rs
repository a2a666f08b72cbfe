//! The named locks of a session (`GET_LOCK`): the host locks of a locked run, taken in one
//! statement and released after its writes, the relay and expiry locks only ever tried, and
//! the waited-for locks of work that must not run twice at once (see `store::mariadb`,
//! "Per-host ordering").

use std::time::Duration;

use mysql::Row;

use super::{Store, col, exec, first, host_lock_name, relay_lock_name, rows, sets, sql};
use crate::store::StoreError;

impl Store {
    /// `GET_LOCK(name, wait)`: `true` when taken; `None` waits not at all.
    pub(super) fn get_lock(&mut self, name: &str, wait: Option<Duration>) -> Result<bool, StoreError> {
        let secs = wait.map_or(0.0, |w| w.as_secs_f64());
        let statement = format!("SELECT GET_LOCK({}, {secs:.3})", sql("?", &[&name]));
        let taken: Option<i64> = match first(self.conn.get_mut(), &statement)? {
            Some(r) => col(&r, 0, "SELECT GET_LOCK(?, ?)")?,
            None => None,
        };
        Ok(taken == Some(1))
    }

    /// Releases the named locks `names` in one statement. A failure here means the session is
    /// gone, and the server dropped its locks with it.
    pub(super) fn release_locks(&mut self, names: &[String]) {
        if names.is_empty() {
            return;
        }
        let _ = exec(self.conn.get_mut(), &release_statement(names));
    }

    /// Takes the host locks of `fqdns` (ascending name order, each once), each waited for up
    /// to `database.busy_timeout_ms`, then runs `read` (a statement that only reads) in the
    /// same round trip and returns its rows (none without `read`). A caller releases the locks
    /// with [`Store::unlock_hosts`] on every path.
    ///
    /// One statement takes them all: `GET_LOCK(a) AND GET_LOCK(b) AND …`, which MariaDB
    /// evaluates left to right and stops at the first lock not taken (a 0), so the locks are taken
    /// in ascending order as one statement each would, and a wait that timed out is followed
    /// by no other. Its `max_statement_time` is lifted: each lock's wait is bounded on its
    /// own, as when each was a statement. `read` runs whether or not the locks were taken (the
    /// server runs the next statement of a query after one that succeeded); its rows are
    /// only returned when they were.
    pub(super) fn lock_hosts<'a>(
        &mut self,
        fqdns: impl IntoIterator<Item = &'a str>,
        read: Option<&str>,
    ) -> Result<Vec<Row>, StoreError> {
        // Left by a panic between a lock and its release (a FastCGI worker survives panics).
        self.unlock_hosts();
        let mut names: Vec<String> = fqdns.into_iter().map(|f| host_lock_name(&self.prefix, f)).collect();
        names.sort_unstable();
        names.dedup();
        if names.is_empty() {
            return match read {
                Some(read) => rows(self.conn.get_mut(), read),
                None => Ok(Vec::new()),
            };
        }
        let secs = self.busy_timeout.as_secs_f64();
        let calls: Vec<String> = names.iter().map(|n| format!("GET_LOCK({}, {secs:.3})", sql("?", &[n]))).collect();
        let mut text = format!("SET STATEMENT max_statement_time = 0 FOR SELECT {}", calls.join(" AND "));
        if let Some(read) = read {
            text.push_str("; ");
            text.push_str(read);
        }
        // Whatever happens next, the names are released: a lock not taken, or taken by
        // another session, is left as it is by `RELEASE_LOCK`.
        self.held = names;
        let mut sets = match sets(self.conn.get_mut(), &text) {
            Ok(sets) => sets,
            Err(e) => {
                self.unlock_hosts();
                return Err(e);
            }
        };
        // 1 when every lock was taken; 0 when a wait timed out; NULL on an error of the
        // server's (the `AND` then goes on, and its result is not 1 either).
        let taken = match sets.first().and_then(|set| set.first()) {
            Some(r) => col::<Option<i64>>(r, 0, "SELECT GET_LOCK(?, ?) AND …"),
            None => Ok(None),
        };
        if !matches!(taken, Ok(Some(1))) {
            self.unlock_hosts();
            return Err(taken.err().unwrap_or(StoreError::MariadbLockTimeout { what: "a hostname's lock" }));
        }
        Ok(if read.is_some() { sets.pop().unwrap_or_default() } else { Vec::new() })
    }

    /// Releases the host locks this session holds.
    pub(super) fn unlock_hosts(&mut self) {
        let held = std::mem::take(&mut self.held);
        self.release_locks(&held);
    }

    /// Runs `body` under the host locks of `fqdns`, releasing them whatever it returns.
    pub(super) fn locked<'a, T, E>(
        &mut self,
        fqdns: impl IntoIterator<Item = &'a str>,
        body: impl FnOnce(&mut Store) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.locked_reading(fqdns, None, |store, _| body(store))
    }

    /// As [`Store::locked`], `body` given the rows of `read`, run in the round trip that
    /// takes the locks (see [`Store::lock_hosts`]).
    pub(super) fn locked_reading<'a, T, E>(
        &mut self,
        fqdns: impl IntoIterator<Item = &'a str>,
        read: Option<&str>,
        body: impl FnOnce(&mut Store, Vec<Row>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let rows = self.lock_hosts(fqdns, read)?;
        let out = body(self, rows);
        self.unlock_hosts();
        out
    }

    /// Runs `body` holding the named lock `what` of this database (waited for up to
    /// `database.busy_timeout_ms`), released whatever it returns: for work that must not run
    /// twice at once on any front-end (the acme-dns registration's count and insert).
    pub(super) fn with_named_lock<T>(
        &mut self,
        what: &'static str,
        body: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let name = format!("{}/{what}", self.prefix);
        if !self.get_lock(&name, Some(self.busy_timeout))? {
            return Err(StoreError::MariadbLockTimeout { what });
        }
        let out = body(self);
        self.release_locks(&[name]);
        out
    }

    /// Tries the relay lock of `fqdn`; `false` while another session holds it. Released with
    /// [`Store::unlock_relay`], or by the next try after a panic in between.
    pub(crate) fn try_lock_relay(&mut self, fqdn: &str) -> Result<bool, StoreError> {
        self.unlock_relay();
        let name = relay_lock_name(&self.prefix, fqdn);
        let taken = self.get_lock(&name, None)?;
        if taken {
            self.relay_held = Some(name);
        }
        Ok(taken)
    }

    /// Releases the relay lock this session holds, if any.
    pub(crate) fn unlock_relay(&mut self) {
        if let Some(name) = self.relay_held.take() {
            self.release_locks(&[name]);
        }
    }

    /// Tries the expiry run's global lock, held by this session until it ends. `false` when
    /// another session (another front-end's run) holds it.
    pub(crate) fn try_expiry_lock(&mut self) -> Result<bool, StoreError> {
        if self.expiry_held {
            return Ok(true);
        }
        let name = format!("{}/expiry", self.prefix);
        self.expiry_held = self.get_lock(&name, None)?;
        Ok(self.expiry_held)
    }
}

/// The statement that releases the named locks `names`, for [`Store::release_locks`] or
/// to follow a transaction in its round trip; empty for no names.
pub(super) fn release_statement(names: &[String]) -> String {
    if names.is_empty() {
        return String::new();
    }
    let calls: Vec<String> = names.iter().map(|n| sql("RELEASE_LOCK(?)", &[n])).collect();
    format!("SELECT {}", calls.join(", "))
}
