//! The rate-limit rows: the read of the counters, the reservation and its settlement, trimming,
//! and the listing and clearing of `ddns-cgi ratelimit`.

use postgres::GenericClient;
use postgres::types::Type;

use super::{Store, lock_key};
use crate::store::{CountedRow, Counter, RateLimitCounter, StoreError};

impl Store {
    pub(crate) fn rate_limit_over<'a>(
        &self,
        counters: &[Counter<'a>],
    ) -> Result<Option<(Counter<'a>, u64)>, StoreError> {
        first_over(&mut *self.c(), counters)
    }

    /// Checks and counts in one step. SQLite gets this from its write lock; here two
    /// front-ends could both count below the maximum and both insert, so the transaction first
    /// takes a transaction-scoped advisory lock per counted key (ascending order), which
    /// orders reservations of the same client or user and nothing else.
    pub(crate) fn rate_limit_reserve<'a>(
        &mut self,
        counters: &[Counter<'a>],
        rows: &[(&'static str, String)],
        now: i64,
        older_than: i64,
    ) -> Result<Result<Vec<CountedRow>, (Counter<'a>, u64)>, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        let mut keys: Vec<i64> = counters
            .iter()
            .map(|c| (c.scope, c.key))
            .chain(rows.iter().map(|(s, k)| (*s, k.as_str())))
            .map(|(s, k)| lock_key(&format!("rate-limit\0{s}\0{k}")))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            tx.execute_typed("SELECT pg_advisory_xact_lock($1)", &[(&key, Type::INT8)])?;
        }
        if let Some(over) = first_over(&mut tx, counters)? {
            return Ok(Err(over));
        }
        tx.execute_typed("DELETE FROM rate_limit WHERE at < $1", &[(&older_than, Type::INT8)])?;
        let mut counted = Vec::with_capacity(rows.len());
        for (scope, key) in rows {
            let row = tx.query_typed_one(
                "INSERT INTO rate_limit (scope, key, at) VALUES ($1, $2, $3) RETURNING id",
                &[(scope, Type::TEXT), (key, Type::TEXT), (&now, Type::INT8)],
            )?;
            counted.push(CountedRow { id: row.get(0), scope, key: key.clone(), at: now });
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
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        for row in remove {
            // Identity ids are never reused; the other columns are checked all the same.
            tx.execute_typed(
                "DELETE FROM rate_limit WHERE id = $1 AND scope = $2 AND key = $3 AND at = $4",
                &[(&row.id, Type::INT8), (&row.scope, Type::TEXT), (&row.key, Type::TEXT), (&row.at, Type::INT8)],
            )?;
        }
        for (scope, key) in add {
            tx.execute_typed(
                "INSERT INTO rate_limit (scope, key, at) VALUES ($1, $2, $3)",
                &[(scope, Type::TEXT), (key, Type::TEXT), (&now, Type::INT8)],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn trim_rate_limit(&mut self, older_than: i64) -> Result<usize, StoreError> {
        Ok(count(self.c().execute("DELETE FROM rate_limit WHERE at < $1", &[&older_than])?))
    }

    pub(crate) fn rate_limit_counters(&self, since: i64) -> Result<Vec<RateLimitCounter>, StoreError> {
        let rows = self.c().query(
            "SELECT scope, key, at FROM rate_limit WHERE at >= $1
             ORDER BY scope COLLATE \"C\", key COLLATE \"C\", at, id",
            &[&since],
        )?;
        let mut counters: Vec<RateLimitCounter> = Vec::new();
        for row in rows {
            let (scope, key, at): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
            match counters.last_mut() {
                Some(c) if c.scope == scope && c.key == key => c.at.push(at),
                _ => counters.push(RateLimitCounter { scope, key, at: vec![at] }),
            }
        }
        Ok(counters)
    }

    pub(crate) fn clear_rate_limit(&mut self, keys: Option<&[String]>) -> Result<usize, StoreError> {
        let Some(keys) = keys else {
            return Ok(count(self.c().execute("DELETE FROM rate_limit", &[])?));
        };
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        let mut n = 0;
        for key in keys {
            n += count(tx.execute("DELETE FROM rate_limit WHERE key = $1", &[key])?);
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
    conn: &mut impl GenericClient,
    counters: &[Counter<'a>],
) -> Result<Option<(Counter<'a>, u64)>, StoreError> {
    for c in counters {
        let row = conn.query_typed_one(
            "SELECT COUNT(*) FROM rate_limit WHERE scope = $1 AND key = $2 AND at >= $3",
            &[(&c.scope, Type::TEXT), (&c.key, Type::TEXT), (&c.since, Type::INT8)],
        )?;
        let n = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        if n >= c.max {
            return Ok(Some((*c, n)));
        }
    }
    Ok(None)
}
