//! The rate-limit rows: the read of the counters, the reservation and its settlement, trimming,
//! and the listing and clearing of `ddns-cgi ratelimit`.

use rusqlite::{Connection, TransactionBehavior, params};

use super::Store;
use crate::store::{CountedRow, Counter, RateLimitCounter, StoreError};

impl Store {
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

    /// Deletes rate-limit rows counted before `older_than` (seconds since the epoch); they
    /// are outside every window. Returns how many went.
    pub(crate) fn trim_rate_limit(&mut self, older_than: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM rate_limit WHERE at < ?1", [older_than])?)
    }

    /// Every rate-limit counter with rows counted at or after `since`, by scope and key
    /// (`ratelimit list`).
    pub(crate) fn rate_limit_counters(&self, since: i64) -> Result<Vec<RateLimitCounter>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT scope, key, at FROM rate_limit WHERE at >= ?1 ORDER BY scope, key, at")?;
        let rows = stmt.query_map([since], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
        let mut counters: Vec<RateLimitCounter> = Vec::new();
        for row in rows {
            let (scope, key, at) = row?;
            match counters.last_mut() {
                Some(c) if c.scope == scope && c.key == key => c.at.push(at),
                _ => counters.push(RateLimitCounter { scope, key, at: vec![at] }),
            }
        }
        Ok(counters)
    }

    /// Deletes the rate-limit rows whose key is one of `keys` (every scope), or every row
    /// when `keys` is `None` (`ratelimit clear`). Returns how many went.
    pub(crate) fn clear_rate_limit(&mut self, keys: Option<&[String]>) -> Result<usize, StoreError> {
        let Some(keys) = keys else {
            return Ok(self.conn.execute("DELETE FROM rate_limit", [])?);
        };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        for key in keys {
            n += tx.execute("DELETE FROM rate_limit WHERE key = ?1", [key])?;
        }
        tx.commit()?;
        Ok(n)
    }
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
