//! The expiry run's queries: due hosts in chunks under their host locks, and the claim on owners' mail.

use rusqlite::{OptionalExtension as _, TransactionBehavior, named_params, params};

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, due, host_from};
use crate::store::{ExpiryChunk, Host, StoreError, Unnotified};

impl Store {
    /// One expiry step: reads up to `limit` hosts of `zone` with id above `after` that are due
    /// at `due_at` (`expiry_ttl > 0`, last update at least `expiry_ttl` plus the touch interval
    /// seconds ago, not yet expired, with an address), takes their host locks (ascending stripe order, like every
    /// holder of several), reads them again, lets `delete` remove the records of those still
    /// due, and marks the hosts whose ids it returns as expired and not yet notified, all
    /// before releasing the locks. The host locks order this against updates and admin
    /// commands of the same hosts, and against a concurrent expiry run, which then finds the
    /// rows already expired; updates of other hosts go on. The `last_update` condition restates
    /// what was read: a host is never marked expired with a last update other than the one
    /// judged. `ExpiryChunk::hosts` are the candidates as first read, for the caller's cursor.
    pub(crate) fn expire_locked<T>(
        &mut self,
        zone: &str,
        after: i64,
        limit: usize,
        due_at: i64,
        delete: impl FnOnce(&[Host]) -> (Vec<i64>, T),
    ) -> Result<ExpiryChunk<T>, StoreError> {
        let candidates: Vec<Host> = {
            let mut stmt = self.conn.prepare(&format!(
                "SELECT {HOST_COLUMNS} FROM hostnames h
                 WHERE h.zone = :zone AND h.id > :after AND {} ORDER BY h.id LIMIT :limit",
                due()
            ))?;
            let rows = stmt.query_map(
                named_params! {":zone": zone, ":after": after, ":due_at": due_at, ":limit": limit as i64},
                host_from,
            )?;
            rows.collect::<Result<_, _>>()?
        };
        let _held = self.locks.lock(candidates.iter().map(|h| h.fqdn.as_str()))?;
        // An update may have restored a candidate between the first read and the locks.
        let hosts: Vec<Host> = {
            let mut stmt =
                self.conn.prepare(&format!("SELECT {HOST_COLUMNS} FROM hostnames h WHERE h.id = :id AND {}", due()))?;
            let mut hosts = Vec::with_capacity(candidates.len());
            for c in &candidates {
                if let Some(h) = stmt.query_row(named_params! {":id": c.id, ":due_at": due_at}, host_from).optional()? {
                    hosts.push(h);
                }
            }
            hosts
        };
        let (done, value) = delete(&hosts);
        let mut n_expired = 0;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        Ok(ExpiryChunk { hosts: candidates, n_expired, value })
    }

    /// Zones that have hosts due at `due_at`, so the expiry run skips the others.
    pub(crate) fn zones_due(&self, due_at: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt =
            self.conn.prepare(&format!("SELECT DISTINCT h.zone FROM hostnames h WHERE {} ORDER BY h.zone", due()))?;
        let rows = stmt.query_map(named_params! {":due_at": due_at}, |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many hosts of `zone` are due at `due_at`: what an interrupted expiry run left.
    pub(crate) fn n_due(&self, zone: &str, due_at: i64) -> Result<usize, StoreError> {
        let n: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM hostnames h WHERE h.zone = :zone AND {}", due()),
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
}
