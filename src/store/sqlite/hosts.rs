//! Hostnames: creation, the locked read-modify-write of an update, listing, modification
//! and deletion.

use rusqlite::{TransactionBehavior, params};

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, host_from, host_row};
use crate::store::{Host, HostListing, HostWrite, NewHost, StoreError, TokenInfo, TokenScope};

impl Store {
    #[cfg(test)]
    pub(crate) fn host(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
        host_row(&self.conn, fqdn)
    }

    pub(crate) fn add_host(&mut self, host: &NewHost<'_>, now: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool =
            tx.query_row("SELECT EXISTS(SELECT 1 FROM hostnames WHERE fqdn = ?1)", [host.fqdn], |r| r.get(0))?;
        if exists {
            return Err(StoreError::Exists { what: "hostname", name: host.fqdn.to_owned() });
        }
        tx.execute(
            "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![host.fqdn, host.zone, host.user_id, host.dns_ttl, host.expiry_ttl, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Reads the host under the database write lock, lets `decide` act on it (for example,
    /// send the DNS update), and writes back what it returns, all in one transaction. Holding
    /// the lock across the DNS exchange serialises concurrent updates of the same data, so the
    /// row always matches the last update the DNS server accepted. An `Err` from `decide`
    /// rolls back: nothing is written.
    pub(crate) fn with_host_locked<T, E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(Option<&Host>) -> Result<(HostWrite, T), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let host = host_row(&tx, fqdn)?;
        let (write, value) = decide(host.as_ref())?;
        match (write, &host) {
            (HostWrite::None, _) | (_, None) => {}
            (HostWrite::Touch { now }, Some(h)) => {
                tx.execute("UPDATE hostnames SET last_update = ?1 WHERE id = ?2", params![now, h.id])
                    .map_err(StoreError::from)?;
            }
            (HostWrite::Addresses { ipv4, ipv6, txt, dns_ttl, now }, Some(h)) => {
                tx.execute(
                    "UPDATE hostnames SET ipv4 = ?1, ipv6 = ?2, txt = ?3, dns_ttl = ?4, last_update = ?5, expired = 0,
                     offline = 0 WHERE id = ?6",
                    params![ipv4.map(|a| a.to_string()), ipv6.map(|a| a.to_string()), txt, dns_ttl, now, h.id],
                )
                .map_err(StoreError::from)?;
            }
            (HostWrite::Offline { now }, Some(h)) => {
                tx.execute(
                    "UPDATE hostnames SET ipv4 = NULL, ipv6 = NULL, txt = NULL, last_update = ?1, offline = 1 WHERE id = ?2",
                    params![now, h.id],
                )
                .map_err(StoreError::from)?;
            }
        }
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Hostnames with their owners, by name; only `user_id`'s when given.
    pub(crate) fn hosts(&self, user_id: Option<i64>) -> Result<Vec<HostListing>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {HOST_COLUMNS}, u.name, t.created_at, t.types, t.networks, t.expires_at
             FROM hostnames h JOIN users u ON u.id = h.user_id LEFT JOIN tokens t ON t.hostname_id = h.id
             WHERE ?1 IS NULL OR h.user_id = ?1 ORDER BY h.fqdn"
        ))?;
        let rows = stmt.query_map([user_id], |r| {
            let created_at: Option<i64> = r.get(N_HOST_COLUMNS + 1)?;
            let token = match created_at {
                Some(created_at) => Some(TokenInfo {
                    scope: TokenScope {
                        types: r.get(N_HOST_COLUMNS + 2)?,
                        networks: r.get(N_HOST_COLUMNS + 3)?,
                        expires_at: r.get(N_HOST_COLUMNS + 4)?,
                    },
                    created_at,
                }),
                None => None,
            };
            Ok(HostListing { host: host_from(r)?, owner: r.get(N_HOST_COLUMNS)?, token })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Changes a host's TTLs under the write lock: `decide` sees the row as it is now, may
    /// act on it (re-send its records with a new TTL) and returns the new `(dns_ttl,
    /// expiry_ttl)`. `None` when there is no such host; an `Err` from `decide` changes nothing.
    pub(crate) fn modify_host_locked<E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(&Host) -> Result<(u32, u32), E>,
    ) -> Result<Option<(u32, u32)>, E>
    where
        E: From<StoreError>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(None) };
        let (dns_ttl, expiry_ttl) = decide(&host)?;
        tx.execute(
            "UPDATE hostnames SET dns_ttl = ?1, expiry_ttl = ?2 WHERE id = ?3",
            params![dns_ttl, expiry_ttl, host.id],
        )
        .map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(Some((dns_ttl, expiry_ttl)))
    }

    /// Deletes a host under the write lock after `unpublish` (removing its DNS records)
    /// succeeded; an `Err` from it deletes nothing. Returns whether the host existed.
    pub(crate) fn delete_host_locked<E>(
        &mut self,
        fqdn: &str,
        unpublish: impl FnOnce(&Host) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        E: From<StoreError>,
    {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(false) };
        unpublish(&host)?;
        tx.execute("DELETE FROM hostnames WHERE id = ?1", [host.id]).map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(true)
    }
}
