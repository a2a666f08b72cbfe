//! The rate-limit rows: the read of the counters, the reservation and its settlement, trimming,
//! and the listing and clearing of `ddns-cgi ratelimit`. As `store::postgres::ratelimit`;
//! `key` is a reserved word in MariaDB, so the column is quoted.

use mysql::prelude::Queryable;

use super::{Store, col, exec, first, fnv1a, rows, sql};
use crate::store::{CountedRow, Counter, RateLimitCounter, StoreError};

impl Store {
    pub(crate) fn rate_limit_over<'a>(
        &self,
        counters: &[Counter<'a>],
    ) -> Result<Option<(Counter<'a>, u64)>, StoreError> {
        first_over(&mut *self.c(), counters)
    }

    /// Checks and counts in one step. SQLite gets this from its write lock; here two
    /// front-ends could both count below the maximum and both insert, so this first takes a
    /// named lock (`GET_LOCK`) per counted key (ascending order), which orders reservations of
    /// the same client or user and nothing else, and releases them after the commit (MariaDB
    /// has no lock that ends with the transaction, as PostgreSQL's `pg_advisory_xact_lock`).
    pub(crate) fn rate_limit_reserve<'a>(
        &mut self,
        counters: &[Counter<'a>],
        rows: &[(&'static str, String)],
        now: i64,
        older_than: i64,
    ) -> Result<Result<Vec<CountedRow>, (Counter<'a>, u64)>, StoreError> {
        // Fixed-width hashes: the order of the names is the order of the keys.
        let mut names: Vec<String> = counters
            .iter()
            .map(|c| (c.scope, c.key))
            .chain(rows.iter().map(|(s, k)| (*s, k.as_str())))
            .map(|(s, k)| format!("{}/l/{:016x}", self.prefix, fnv1a(format!("{s}\0{k}").as_bytes())))
            .collect();
        names.sort_unstable();
        names.dedup();
        let mut held = Vec::with_capacity(names.len());
        for name in names {
            match self.get_lock(&name, Some(self.busy_timeout)) {
                Ok(true) => held.push(name),
                Ok(false) => {
                    self.release_locks(&held);
                    return Err(StoreError::MariadbLockTimeout { what: "a rate-limit counter's lock" });
                }
                Err(e) => {
                    self.release_locks(&held);
                    return Err(e);
                }
            }
        }
        let out = self.reserve_locked(counters, rows, now, older_than);
        self.release_locks(&held);
        out
    }

    fn reserve_locked<'a>(
        &mut self,
        counters: &[Counter<'a>],
        rows: &[(&'static str, String)],
        now: i64,
        older_than: i64,
    ) -> Result<Result<Vec<CountedRow>, (Counter<'a>, u64)>, StoreError> {
        let conn = self.conn.get_mut();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        if let Some(over) = first_over(&mut tx, counters)? {
            return Ok(Err(over));
        }
        exec(&mut tx, &sql("DELETE FROM rate_limit WHERE at < ?", &[&older_than]))?;
        let mut counted = Vec::with_capacity(rows.len());
        for (scope, key) in rows {
            exec(&mut tx, &sql("INSERT INTO rate_limit (scope, `key`, at) VALUES (?, ?, ?)", &[scope, key, &now]))?;
            // The id this session's INSERT was given; ids are never reused while rows remain.
            let id = tx.last_insert_id().and_then(|id| i64::try_from(id).ok()).unwrap_or_default();
            counted.push(CountedRow { id, scope, key: key.clone(), at: now });
        }
        tx.commit()?;
        Ok(Ok(counted))
    }

    pub(crate) fn rate_limit_settle(
        &mut self,
        remove: &[CountedRow],
        add: &[(&'static str, String)],
        now: i64,
    ) -> Result<(), StoreError> {
        let conn = self.conn.get_mut();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        for row in remove {
            // Auto-increment ids are not reused while rows remain; the other columns are
            // checked all the same.
            exec(
                &mut tx,
                &sql(
                    "DELETE FROM rate_limit WHERE id = ? AND scope = ? AND `key` = ? AND at = ?",
                    &[&row.id, &row.scope, &row.key, &row.at],
                ),
            )?;
        }
        for (scope, key) in add {
            exec(&mut tx, &sql("INSERT INTO rate_limit (scope, `key`, at) VALUES (?, ?, ?)", &[scope, key, &now]))?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn trim_rate_limit(&mut self, older_than: i64) -> Result<usize, StoreError> {
        Ok(count(exec(self.conn.get_mut(), &sql("DELETE FROM rate_limit WHERE at < ?", &[&older_than]))?))
    }

    pub(crate) fn rate_limit_counters(&self, since: i64) -> Result<Vec<RateLimitCounter>, StoreError> {
        // The binary collation: byte order, as the other engines sort.
        const Q: &str = "SELECT scope, `key`, at FROM rate_limit WHERE at >= ? ORDER BY scope, `key`, at, id";
        let mut counters: Vec<RateLimitCounter> = Vec::new();
        for r in rows(&mut *self.c(), &sql(Q, &[&since]))? {
            let (scope, key, at): (String, String, i64) = (col(&r, 0, Q)?, col(&r, 1, Q)?, col(&r, 2, Q)?);
            match counters.last_mut() {
                Some(c) if c.scope == scope && c.key == key => c.at.push(at),
                _ => counters.push(RateLimitCounter { scope, key, at: vec![at] }),
            }
        }
        Ok(counters)
    }

    pub(crate) fn clear_rate_limit(&mut self, keys: Option<&[String]>) -> Result<usize, StoreError> {
        let conn = self.conn.get_mut();
        let Some(keys) = keys else {
            return Ok(count(exec(conn, "DELETE FROM rate_limit")?));
        };
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        let mut n = 0;
        for key in keys {
            n += count(exec(&mut tx, &sql("DELETE FROM rate_limit WHERE `key` = ?", &[key]))?);
        }
        tx.commit()?;
        Ok(n)
    }
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// One indexed count per counter (`rate_limit_lookup`), stopping at the first one over.
fn first_over<'a>(
    conn: &mut impl Queryable,
    counters: &[Counter<'a>],
) -> Result<Option<(Counter<'a>, u64)>, StoreError> {
    const Q: &str = "SELECT COUNT(*) FROM rate_limit WHERE scope = ? AND `key` = ? AND at >= ?";
    for c in counters {
        let n: i64 = match first(conn, &sql(Q, &[&c.scope, &c.key, &c.since]))? {
            Some(r) => col(&r, 0, Q)?,
            None => 0,
        };
        let n = u64::try_from(n).unwrap_or(0);
        if n >= c.max {
            return Ok(Some((*c, n)));
        }
    }
    Ok(None)
}
