//! Hostnames: creation, the read-modify-write of an update under the host's lock, listing,
//! modification and deletion.

use rusqlite::{Connection, TransactionBehavior, params};

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, host_from, host_row, locked_row};
use crate::store::{
    AuditWrite, Host, HostListing, HostSettings, HostWrite, ImportedHost, MarkPending, NewHost, StoreError, TokenInfo,
    TokenScope,
};

impl Store {
    /// A hostname's row, read without its lock: what it is now, for a decision that the
    /// locked read-modify-write makes again.
    pub(crate) fn host(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
        self.memo.host(fqdn, || host_row(&self.conn, fqdn))
    }

    /// One hostname: an import of one, without a token (the same checks and statements).
    pub(crate) fn add_host(&mut self, host: &NewHost<'_>, now: i64) -> Result<(), StoreError> {
        self.import_hosts(&[ImportedHost { host: *host, token: None }], now)
    }

    /// [`Store::with_hosts_locked`] for one host (unit tests).
    #[cfg(test)]
    pub(crate) fn with_host_locked<T, E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(Option<&Host>) -> Result<(HostWrite, T), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.with_hosts_locked(&[fqdn], |hosts| {
            let (write, value) = decide(hosts.first().and_then(Option::as_ref))?;
            Ok((vec![write], value))
        })
    }

    /// [`Store::with_hosts_locked_audited`] without audit rows.
    #[cfg(test)]
    pub(crate) fn with_hosts_locked<T, E>(
        &mut self,
        fqdns: &[&str],
        decide: impl FnOnce(&[Option<Host>]) -> Result<(Vec<HostWrite>, T), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.with_hosts_locked_audited(fqdns, |hosts, _, _| {
            let (writes, value) = decide(hosts)?;
            Ok((writes, AuditWrite::default(), value))
        })
    }

    /// Reads the hosts under their host locks (`store::lock`, taken in stripe order), lets
    /// `decide` act on them (for example, send the DNS update), and writes back what it returns
    /// for each, in the order of `fqdns` (`None` rows for missing hosts), with the audit rows it
    /// returns (`audit.rs`), in one short transaction, still under the host locks: the trail
    /// never shows a change the rows do not hold, nor misses one they do. The host lock orders
    /// every change of a host's records (updates, admin commands, the expiry run) from all
    /// processes and threads, so the row always matches the last change the DNS server
    /// accepted; updates of other hosts do not wait, and SQLite's write lock is never held
    /// across the DNS exchange. `decide` marks the hosts it is about to send with
    /// [`MarkPending`] (`dns_pending`, in a short transaction of its own, which also fails the
    /// change before DNS moves when the database cannot be written); the final write of an
    /// address or offline state clears the mark. An `Err` from `decide`, or `HostWrite::None`,
    /// writes nothing more.
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
        let _held = self.locks.lock(fqdns.iter().copied())?;
        let (hosts, tokens): (Vec<Option<Host>>, Vec<Option<Vec<u8>>>) = fqdns
            .iter()
            .map(|fqdn| locked_row(&self.conn, fqdn))
            .collect::<Result<Vec<_>, StoreError>>()?
            .into_iter()
            .unzip();
        let conn = &mut self.conn;
        let (writes, audit, value) = decide(&hosts, &tokens, &mut |ids| mark_pending(conn, ids))?;
        let writes: Vec<(i64, HostWrite)> = hosts
            .iter()
            .zip(writes)
            .filter_map(|(h, w)| Some((h.as_ref()?.id, w)))
            .filter(|(_, w)| *w != HostWrite::None)
            .collect();
        if writes.is_empty() && audit.rows.is_empty() {
            return Ok(value);
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        for (id, write) in writes {
            write_host(&tx, id, write).map_err(StoreError::from)?;
        }
        super::audit::record(&tx, &audit).map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(value)
    }

    /// Takes and releases SQLite's write lock before a DNS exchange, so that a database that
    /// cannot be written (read-only, or locked past `busy_timeout` by a long writer) fails the
    /// change before DNS moves, not after. It leaves a window: a writer that takes the lock
    /// during the exchange and keeps it past the busy timeout makes the write after a
    /// successful exchange fail, and DNS is ahead of the row (`911`). An update's run does not
    /// probe: the `dns_pending` mark it writes before sending is its probe, and what makes the
    /// next request repair such a row. An empty transaction writes nothing to the WAL.
    pub(super) fn probe_writable(&mut self) -> Result<(), StoreError> {
        self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?.commit()?;
        Ok(())
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

    /// Changes a host's TTLs under its host lock: `decide` sees the row as it is now, may
    /// act on it (re-send its records with a new TTL) and returns the new `(dns_ttl,
    /// expiry_ttl)`. `None` when there is no such host; an `Err` from `decide` changes nothing.
    pub(crate) fn modify_host_locked<E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(&Host) -> Result<HostSettings, E>,
    ) -> Result<Option<HostSettings>, E>
    where
        E: From<StoreError>,
    {
        let _held = self.locks.lock([fqdn])?;
        self.probe_writable()?;
        let Some(host) = host_row(&self.conn, fqdn)? else { return Ok(None) };
        let settings = decide(&host)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        tx.execute(
            "UPDATE hostnames SET dns_ttl = ?1, expiry_ttl = ?2, ipv4_enabled = ?3, ipv6_enabled = ?4,
                ipv4 = CASE WHEN ?3 THEN ipv4 END, ipv6 = CASE WHEN ?4 THEN ipv6 END
             WHERE id = ?5",
            params![settings.dns_ttl, settings.expiry_ttl, settings.families.ipv4, settings.families.ipv6, host.id],
        )
        .map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(Some(settings))
    }

    /// Deletes a host under its host lock after `unpublish` (removing its DNS records)
    /// succeeded; an `Err` from it deletes nothing. Returns whether the host existed.
    pub(crate) fn delete_host_locked<E>(
        &mut self,
        fqdn: &str,
        unpublish: impl FnOnce(&Host) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        E: From<StoreError>,
    {
        let _held = self.locks.lock([fqdn])?;
        self.probe_writable()?;
        let Some(host) = host_row(&self.conn, fqdn)? else { return Ok(false) };
        unpublish(&host)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        tx.execute("DELETE FROM hostnames WHERE id = ?1", [host.id]).map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(true)
    }
}

/// Marks the hosts `ids` as `dns_pending` in one short transaction, before their change goes
/// to the DNS server.
fn mark_pending(conn: &mut Connection, ids: &[i64]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let mut stmt = tx.prepare_cached("UPDATE hostnames SET dns_pending = 1 WHERE id = ?1")?;
        for id in ids {
            stmt.execute([id])?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Writes what a locked update decided for the host with id `id`.
pub(super) fn write_host(conn: &Connection, id: i64, write: HostWrite) -> rusqlite::Result<()> {
    match write {
        HostWrite::None => {}
        HostWrite::Touch { now } => {
            conn.execute("UPDATE hostnames SET last_update = ?1 WHERE id = ?2", params![now, id])?;
        }
        HostWrite::Unmark => {
            conn.execute("UPDATE hostnames SET dns_pending = 0 WHERE id = ?1", [id])?;
        }
        HostWrite::Addresses { ipv4, ipv6, txt, dns_ttl, now } => {
            conn.execute(
                "UPDATE hostnames SET ipv4 = ?1, ipv6 = ?2, txt = ?3, dns_ttl = ?4, last_update = ?5, expired = 0,
                 offline = 0, dns_pending = 0 WHERE id = ?6",
                params![ipv4.map(|a| a.to_string()), ipv6.map(|a| a.to_string()), txt, dns_ttl, now, id],
            )?;
        }
        HostWrite::Offline { now } => {
            conn.execute(
                "UPDATE hostnames SET ipv4 = NULL, ipv6 = NULL, txt = NULL, last_update = ?1, offline = 1, dns_pending = 0
                 WHERE id = ?2",
                params![now, id],
            )?;
        }
    }
    Ok(())
}
