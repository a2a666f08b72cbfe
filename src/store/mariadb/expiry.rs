//! The expiry run's queries: due hosts in chunks under their host locks, and the claim on
//! owners' mail. The run as a whole is guarded by `Store::try_expiry_lock` (see `super`).

use mysql::TxOpts;

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, col, due, exec, first, host_from, list, rows, sql};
use crate::store::{ExpiryChunk, Host, StoreError, Unnotified};

impl Store {
    /// As `store::sqlite`'s `expire_locked`, with named host locks.
    pub(crate) fn expire_locked<T>(
        &mut self,
        zone: &str,
        after: i64,
        limit: usize,
        due_at: i64,
        delete: impl FnOnce(&[Host]) -> (Vec<i64>, T),
    ) -> Result<ExpiryChunk<T>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let statement = sql(
            &format!(
                "SELECT {HOST_COLUMNS} FROM hostnames h
                 WHERE h.zone = ? AND h.id > ? AND {} ORDER BY h.id LIMIT ?",
                due(due_at)
            ),
            &[&zone, &after, &limit],
        );
        let candidates: Vec<Host> =
            rows(&mut *self.c(), &statement)?.iter().map(host_from).collect::<Result<_, _>>()?;
        let fqdns: Vec<String> = candidates.iter().map(|h| h.fqdn.clone()).collect();
        self.locked(fqdns.iter().map(String::as_str), |store| {
            let conn = store.conn.get_mut();
            // An update may have restored a candidate between the first read and the locks.
            let mut hosts = Vec::with_capacity(candidates.len());
            for c in &candidates {
                let statement = sql(
                    &format!("SELECT {HOST_COLUMNS} FROM hostnames h WHERE h.id = ? AND {}", due(due_at)),
                    &[&c.id],
                );
                if let Some(r) = first(conn, &statement)? {
                    hosts.push(host_from(&r)?);
                }
            }
            let (done, value) = delete(&hosts);
            let mut n_expired = 0;
            let mut tx = conn.start_transaction(TxOpts::default())?;
            for id in done {
                let Some(h) = hosts.iter().find(|h| h.id == id) else { continue };
                // `<=>`: equal, NULL included (PostgreSQL's `IS NOT DISTINCT FROM`).
                n_expired += exec(
                    &mut tx,
                    &sql(
                        "UPDATE hostnames SET expired = 1, notified = 0
                         WHERE id = ? AND expired = 0 AND last_update <=> ?",
                        &[&h.id, &h.last_update],
                    ),
                )?;
            }
            tx.commit()?;
            Ok(ExpiryChunk { hosts: candidates, n_expired: usize::try_from(n_expired).unwrap_or(usize::MAX), value })
        })
    }

    pub(crate) fn zones_due(&self, due_at: i64) -> Result<Vec<String>, StoreError> {
        const Q: &str = "SELECT DISTINCT h.zone FROM hostnames h WHERE (due) ORDER BY h.zone";
        let statement = format!("SELECT DISTINCT h.zone FROM hostnames h WHERE {} ORDER BY h.zone", due(due_at));
        rows(&mut *self.c(), &statement)?.iter().map(|r| col(r, 0, Q)).collect()
    }

    pub(crate) fn n_due(&self, zone: &str, due_at: i64) -> Result<usize, StoreError> {
        const Q: &str = "SELECT COUNT(*) FROM hostnames h WHERE h.zone = ? AND (due)";
        let statement =
            sql(&format!("SELECT COUNT(*) FROM hostnames h WHERE h.zone = ? AND {}", due(due_at)), &[&zone]);
        let n: i64 = match first(&mut *self.c(), &statement)? {
            Some(r) => col(&r, 0, Q)?,
            None => 0,
        };
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Claims every expired host whose owner was not told yet: MariaDB has no `UPDATE …
    /// RETURNING`, so the rows are read with `FOR UPDATE` and marked notified in one
    /// transaction. A concurrent run (on any front-end) waits for the row locks, then reads
    /// the rows as committed (a locking read sees the newest version), marked: it gets none
    /// of them.
    pub(crate) fn claim_unnotified(&mut self) -> Result<Vec<Unnotified>, StoreError> {
        const Q: &str = "SELECT HOST_COLUMNS, u.name, u.email (claim_unnotified)";
        let mut tx = self.conn.get_mut().start_transaction(TxOpts::default())?;
        let statement = format!(
            "SELECT {HOST_COLUMNS}, u.name, u.email FROM hostnames h JOIN users u ON u.id = h.user_id
             WHERE h.expired = 1 AND h.notified = 0 ORDER BY u.name, h.fqdn FOR UPDATE"
        );
        let claimed = rows(&mut tx, &statement)?
            .iter()
            .map(|r| {
                Ok(Unnotified {
                    host: host_from(r)?,
                    owner: col(r, N_HOST_COLUMNS, Q)?,
                    email: col(r, N_HOST_COLUMNS + 1, Q)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        if !claimed.is_empty() {
            let ids: Vec<i64> = claimed.iter().map(|c| c.host.id).collect();
            exec(&mut tx, &format!("UPDATE hostnames SET notified = 1 WHERE id IN {}", list(&ids)))?;
        }
        tx.commit()?;
        Ok(claimed)
    }

    pub(crate) fn unclaim_notified(&mut self, host_ids: &[i64]) -> Result<(), StoreError> {
        if host_ids.is_empty() {
            return Ok(());
        }
        exec(
            self.conn.get_mut(),
            &format!("UPDATE hostnames SET notified = 0 WHERE id IN {} AND expired = 1", list(host_ids)),
        )?;
        Ok(())
    }
}
