//! Hostnames: creation, the read-modify-write of an update under the host's named lock,
//! listing, modification and deletion.

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, col, exec, host_from, host_row, list, rows, sql};
use crate::store::{
    AuditWrite, Host, HostListing, HostSettings, HostWrite, ImportedHost, MarkPending, NewHost, StoreError, TokenInfo,
    TokenScope,
};

impl Store {
    /// One hostname: an import of one, without a token (the same checks and statements).
    pub(crate) fn add_host(&mut self, host: &NewHost<'_>, now: i64) -> Result<(), StoreError> {
        self.import_hosts(&[ImportedHost { host: *host, token: None }], now)
    }

    /// As `store::postgres`'s: reads the rows under the hosts' named locks (held by this
    /// session across `decide`, so across the DNS exchange), all in one statement sent with
    /// the one that takes the locks; lets `decide` mark the hosts it sends (`dns_pending`,
    /// one statement); writes back what `decide` returns with its audit rows in one short
    /// transaction, sent with the release of the locks after its `COMMIT`. The locks order
    /// every writer of these rows, so the reads need no `FOR UPDATE`. Round trips: two for a
    /// run that sends nothing, three for one that does, whatever its number of hosts.
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
        let read = (!fqdns.is_empty()).then(|| {
            format!(
                "SELECT {HOST_COLUMNS}, t.digest FROM hostnames h LEFT JOIN tokens t ON t.hostname_id = h.id
                 WHERE h.fqdn IN {}",
                list(fqdns)
            )
        });
        self.locked_reading(fqdns.iter().copied(), read.as_deref(), |store, read| {
            const Q: &str = "SELECT HOST_COLUMNS, t.digest";
            let mut found: Vec<(Host, Option<Vec<u8>>)> = Vec::with_capacity(fqdns.len());
            for r in read {
                found.push((host_from(&r)?, col(&r, N_HOST_COLUMNS, Q)?));
            }
            let mut hosts: Vec<Option<Host>> = Vec::with_capacity(fqdns.len());
            let mut tokens: Vec<Option<Vec<u8>>> = Vec::with_capacity(fqdns.len());
            for fqdn in fqdns {
                let row = found.iter().find(|(h, _)| h.fqdn == *fqdn);
                hosts.push(row.map(|(h, _)| h.clone()));
                tokens.push(row.and_then(|(_, t)| t.clone()));
            }
            let conn = store.conn.get_mut();
            let (writes, audit, value) = decide(&hosts, &tokens, &mut |ids| {
                // One statement: its own transaction.
                if !ids.is_empty() {
                    exec(conn, &format!("UPDATE hostnames SET dns_pending = 1 WHERE id IN {}", list(ids)))?;
                }
                Ok(())
            })?;
            let mut statements: Vec<String> =
                hosts.iter().zip(writes).filter_map(|(h, w)| write_statement(h.as_ref()?.id, w)).collect();
            // The audit rows in the same transaction: the trail shows exactly the changes
            // the rows hold.
            statements.extend(super::audit::statements(&audit));
            if statements.is_empty() {
                return Ok(value);
            }
            // The locks released after the `COMMIT`, in its round trip; on an error,
            // `locked_reading` releases them.
            let release = super::release_statement(&store.held);
            super::transaction(store.conn.get_mut(), &statements, &release)?;
            store.held.clear();
            Ok(value)
        })
    }

    /// A hostname's row, read without its lock: what it is now, for a decision that the
    /// locked read-modify-write makes again.
    pub(crate) fn host(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
        host_row(&mut *self.c(), fqdn)
    }

    pub(crate) fn hosts(&self, user_id: Option<i64>) -> Result<Vec<HostListing>, StoreError> {
        const Q: &str = "SELECT HOST_COLUMNS, u.name, t.created_at, t.types, t.networks, t.expires_at";
        let only = match user_id {
            Some(id) => sql("WHERE h.user_id = ?", &[&id]),
            None => String::new(),
        };
        let statement = format!(
            "SELECT {HOST_COLUMNS}, u.name, t.created_at, t.types, t.networks, t.expires_at
             FROM hostnames h JOIN users u ON u.id = h.user_id LEFT JOIN tokens t ON t.hostname_id = h.id
             {only} ORDER BY h.fqdn"
        );
        rows(&mut *self.c(), &statement)?
            .iter()
            .map(|r| {
                let n = N_HOST_COLUMNS;
                let token = match col::<Option<i64>>(r, n + 1, Q)? {
                    Some(created_at) => Some(TokenInfo {
                        scope: TokenScope {
                            types: col(r, n + 2, Q)?,
                            networks: col(r, n + 3, Q)?,
                            expires_at: col(r, n + 4, Q)?,
                        },
                        created_at,
                    }),
                    None => None,
                };
                Ok(HostListing { host: host_from(r)?, owner: col(r, n, Q)?, token })
            })
            .collect()
    }

    pub(crate) fn modify_host_locked<E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(&Host) -> Result<HostSettings, E>,
    ) -> Result<Option<HostSettings>, E>
    where
        E: From<StoreError>,
    {
        self.locked([fqdn], |store| {
            let conn = store.conn.get_mut();
            let Some(host) = host_row(conn, fqdn)? else { return Ok(None) };
            let settings = decide(&host)?;
            let f = settings.families;
            let statement = sql(
                "UPDATE hostnames SET dns_ttl = ?, expiry_ttl = ?, ipv4_enabled = ?, ipv6_enabled = ?,
                    ipv4 = CASE WHEN ? THEN ipv4 END, ipv6 = CASE WHEN ? THEN ipv6 END
                 WHERE id = ?",
                &[&settings.dns_ttl, &settings.expiry_ttl, &f.ipv4, &f.ipv6, &f.ipv4, &f.ipv6, &host.id],
            );
            exec(conn, &statement)?;
            Ok(Some(settings))
        })
    }

    pub(crate) fn delete_host_locked<E>(
        &mut self,
        fqdn: &str,
        unpublish: impl FnOnce(&Host) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        E: From<StoreError>,
    {
        self.locked([fqdn], |store| {
            let conn = store.conn.get_mut();
            let Some(host) = host_row(conn, fqdn)? else { return Ok(false) };
            unpublish(&host)?;
            exec(conn, &sql("DELETE FROM hostnames WHERE id = ?", &[&host.id]))?;
            Ok(true)
        })
    }
}

/// The statement that writes what a locked update decided for the host with id `id`;
/// `None` when there is nothing to write.
fn write_statement(id: i64, write: HostWrite) -> Option<String> {
    Some(match write {
        HostWrite::None => return None,
        HostWrite::Touch { now } => sql("UPDATE hostnames SET last_update = ? WHERE id = ?", &[&now, &id]),
        HostWrite::Unmark => sql("UPDATE hostnames SET dns_pending = 0 WHERE id = ?", &[&id]),
        HostWrite::Addresses { ipv4, ipv6, txt, dns_ttl, now } => sql(
            "UPDATE hostnames SET ipv4 = ?, ipv6 = ?, txt = ?, dns_ttl = ?, last_update = ?, expired = 0,
             offline = 0, dns_pending = 0 WHERE id = ?",
            &[&ipv4.map(|a| a.to_string()), &ipv6.map(|a| a.to_string()), &txt, &dns_ttl, &now, &id],
        ),
        HostWrite::Offline { now } => sql(
            "UPDATE hostnames SET ipv4 = NULL, ipv6 = NULL, txt = NULL, last_update = ?, offline = 1, dns_pending = 0
             WHERE id = ?",
            &[&now, &id],
        ),
    })
}
