//! The expiry run's queries: due hosts in chunks under their host locks, and the claim on
//! owners' mail. The run as a whole is guarded by `Store::try_expiry_lock` (see `super`).

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, due, host_from};
use crate::store::{ExpiryChunk, Host, StoreError, Unnotified};

impl Store {
    /// As `store::sqlite`'s `expire_locked`, with advisory host locks.
    pub(crate) fn expire_locked<T>(
        &mut self,
        zone: &str,
        after: i64,
        limit: usize,
        due_at: i64,
        delete: impl FnOnce(&[Host]) -> (Vec<i64>, T),
    ) -> Result<ExpiryChunk<T>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let candidates: Vec<Host> = self
            .c()
            .query(
                &format!(
                    "SELECT {HOST_COLUMNS} FROM hostnames h
                     WHERE h.zone = $1 AND h.id > $2 AND {} ORDER BY h.id LIMIT $4",
                    due("$3")
                ),
                &[&zone, &after, &due_at, &limit],
            )?
            .iter()
            .map(host_from)
            .collect();
        let fqdns: Vec<String> = candidates.iter().map(|h| h.fqdn.clone()).collect();
        self.locked(fqdns.iter().map(String::as_str), |store| {
            let conn = store.conn.get_mut();
            // An update may have restored a candidate between the first read and the locks.
            let mut hosts = Vec::with_capacity(candidates.len());
            let sql = format!("SELECT {HOST_COLUMNS} FROM hostnames h WHERE h.id = $1 AND {}", due("$2"));
            for c in &candidates {
                if let Some(r) = conn.query_opt(&sql, &[&c.id, &due_at])? {
                    hosts.push(host_from(&r));
                }
            }
            let (done, value) = delete(&hosts);
            let mut n_expired = 0;
            let mut tx = conn.transaction()?;
            for id in done {
                let Some(h) = hosts.iter().find(|h| h.id == id) else { continue };
                n_expired += tx.execute(
                    "UPDATE hostnames SET expired = 1, notified = 0
                     WHERE id = $1 AND expired = 0 AND last_update IS NOT DISTINCT FROM $2",
                    &[&h.id, &h.last_update],
                )?;
            }
            tx.commit()?;
            Ok(ExpiryChunk { hosts: candidates, n_expired: usize::try_from(n_expired).unwrap_or(usize::MAX), value })
        })
    }

    pub(crate) fn zones_due(&self, due_at: i64) -> Result<Vec<String>, StoreError> {
        let rows = self.c().query(
            &format!("SELECT DISTINCT h.zone FROM hostnames h WHERE {} ORDER BY h.zone", due("$1")),
            &[&due_at],
        )?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub(crate) fn n_due(&self, zone: &str, due_at: i64) -> Result<usize, StoreError> {
        let row = self.c().query_one(
            &format!("SELECT COUNT(*) FROM hostnames h WHERE h.zone = $1 AND {}", due("$2")),
            &[&zone, &due_at],
        )?;
        Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    /// Claims every expired host whose owner was not told yet in one statement: the rows are
    /// marked notified as they are returned, so a concurrent run (on any front-end) gets none
    /// of them.
    pub(crate) fn claim_unnotified(&mut self) -> Result<Vec<Unnotified>, StoreError> {
        let rows = self.c().query(
            &format!(
                "WITH h AS (UPDATE hostnames SET notified = 1 WHERE expired = 1 AND notified = 0 RETURNING *)
                 SELECT {HOST_COLUMNS}, u.name, u.email FROM h JOIN users u ON u.id = h.user_id
                 ORDER BY u.name COLLATE \"C\", h.fqdn COLLATE \"C\""
            ),
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| Unnotified { host: host_from(r), owner: r.get(N_HOST_COLUMNS), email: r.get(N_HOST_COLUMNS + 1) })
            .collect())
    }

    pub(crate) fn unclaim_notified(&mut self, host_ids: &[i64]) -> Result<(), StoreError> {
        self.c().execute("UPDATE hostnames SET notified = 0 WHERE id = ANY($1) AND expired = 1", &[&host_ids])?;
        Ok(())
    }
}
