//! Hostnames: creation, the read-modify-write of an update under the host's advisory lock,
//! listing, modification and deletion.

use postgres::GenericClient;
use postgres::types::Type;

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, host_from, host_row};
use crate::store::{
    AuditWrite, Host, HostListing, HostSettings, HostWrite, ImportedHost, MarkPending, NewHost, StoreError, TokenInfo,
    TokenScope,
};

impl Store {
    /// One hostname: an import of one, without a token (the same checks and statements).
    pub(crate) fn add_host(&mut self, host: &NewHost<'_>, now: i64) -> Result<(), StoreError> {
        self.import_hosts(&[ImportedHost { host: *host, token: None }], now)
    }

    /// As `store::sqlite`'s (with the audit rows `decide` returns): reads the rows under the hosts' advisory locks (held by this
    /// session across `decide`, so across the DNS exchange), lets `decide` mark the hosts it
    /// sends (`dns_pending`, one statement), writes back what `decide` returns in one short
    /// transaction, then releases the locks.
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
        self.locked(fqdns.iter().copied(), |store| {
            let conn = store.conn.get_mut();
            let sql = format!(
                "SELECT {HOST_COLUMNS}, t.digest FROM hostnames h LEFT JOIN tokens t ON t.hostname_id = h.id
                 WHERE h.fqdn = $1"
            );
            let mut hosts: Vec<Option<Host>> = Vec::with_capacity(fqdns.len());
            let mut tokens: Vec<Option<Vec<u8>>> = Vec::with_capacity(fqdns.len());
            for fqdn in fqdns {
                let row = conn.query_typed_opt(&sql, &[(fqdn, Type::TEXT)]).map_err(StoreError::from)?;
                hosts.push(row.as_ref().map(host_from));
                tokens.push(row.and_then(|r| r.get(N_HOST_COLUMNS)));
            }
            let (writes, audit, value) = decide(&hosts, &tokens, &mut |ids| {
                // One statement: its own transaction.
                if !ids.is_empty() {
                    conn.execute_typed(
                        "UPDATE hostnames SET dns_pending = 1 WHERE id = ANY($1)",
                        &[(&ids, Type::INT8_ARRAY)],
                    )?;
                }
                Ok(())
            })?;
            let writes: Vec<(i64, HostWrite)> = hosts
                .iter()
                .zip(writes)
                .filter_map(|(h, w)| Some((h.as_ref()?.id, w)))
                .filter(|(_, w)| *w != HostWrite::None)
                .collect();
            if writes.is_empty() && audit.rows.is_empty() {
                return Ok(value);
            }
            let mut tx = conn.transaction().map_err(StoreError::from)?;
            for (id, write) in writes {
                write_host(&mut tx, id, write)?;
            }
            // The audit rows in the same transaction: the trail shows exactly the changes
            // the rows hold.
            super::audit::record(&mut tx, &audit)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(value)
        })
    }

    /// A hostname's row, read without its lock: what it is now, for a decision that the
    /// locked read-modify-write makes again.
    pub(crate) fn host(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
        let sql = format!("SELECT {HOST_COLUMNS} FROM hostnames h WHERE h.fqdn = $1");
        Ok(self.c().query_typed_opt(&sql, &[(&fqdn, Type::TEXT)])?.map(|r| host_from(&r)))
    }

    pub(crate) fn hosts(&self, user_id: Option<i64>) -> Result<Vec<HostListing>, StoreError> {
        let rows = self.c().query(
            &format!(
                "SELECT {HOST_COLUMNS}, u.name, t.created_at, t.types, t.networks, t.expires_at
                 FROM hostnames h JOIN users u ON u.id = h.user_id LEFT JOIN tokens t ON t.hostname_id = h.id
                 WHERE $1::BIGINT IS NULL OR h.user_id = $1 ORDER BY h.fqdn COLLATE \"C\""
            ),
            &[&user_id],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let n = N_HOST_COLUMNS;
                let token = r.get::<_, Option<i64>>(n + 1).map(|created_at| TokenInfo {
                    scope: TokenScope { types: r.get(n + 2), networks: r.get(n + 3), expires_at: r.get(n + 4) },
                    created_at,
                });
                HostListing { host: host_from(r), owner: r.get(n), token }
            })
            .collect())
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
            let (ipv4_enabled, ipv6_enabled) = (i64::from(settings.families.ipv4), i64::from(settings.families.ipv6));
            conn.execute(
                "UPDATE hostnames SET dns_ttl = $1, expiry_ttl = $2, ipv4_enabled = $3, ipv6_enabled = $4,
                    ipv4 = CASE WHEN $6 THEN ipv4 END, ipv6 = CASE WHEN $7 THEN ipv6 END
                 WHERE id = $5",
                &[
                    &i64::from(settings.dns_ttl),
                    &i64::from(settings.expiry_ttl),
                    &ipv4_enabled,
                    &ipv6_enabled,
                    &host.id,
                    &settings.families.ipv4,
                    &settings.families.ipv6,
                ],
            )
            .map_err(StoreError::from)?;
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
            conn.execute("DELETE FROM hostnames WHERE id = $1", &[&host.id]).map_err(StoreError::from)?;
            Ok(true)
        })
    }
}

/// Writes what a locked update decided for the host with id `id`. Typed statements: one
/// round trip each (see `store::postgres`, "Round trips").
fn write_host(conn: &mut impl GenericClient, id: i64, write: HostWrite) -> Result<(), StoreError> {
    match write {
        HostWrite::None => {}
        HostWrite::Touch { now } => {
            conn.execute_typed(
                "UPDATE hostnames SET last_update = $1 WHERE id = $2",
                &[(&now, Type::INT8), (&id, Type::INT8)],
            )?;
        }
        HostWrite::Unmark => {
            conn.execute_typed("UPDATE hostnames SET dns_pending = 0 WHERE id = $1", &[(&id, Type::INT8)])?;
        }
        HostWrite::Addresses { ipv4, ipv6, txt, dns_ttl, now } => {
            let (ipv4, ipv6) = (ipv4.map(|a| a.to_string()), ipv6.map(|a| a.to_string()));
            conn.execute_typed(
                "UPDATE hostnames SET ipv4 = $1, ipv6 = $2, txt = $3, dns_ttl = $4, last_update = $5, expired = 0,
                 offline = 0, dns_pending = 0 WHERE id = $6",
                &[
                    (&ipv4, Type::TEXT),
                    (&ipv6, Type::TEXT),
                    (&txt, Type::TEXT),
                    (&i64::from(dns_ttl), Type::INT8),
                    (&now, Type::INT8),
                    (&id, Type::INT8),
                ],
            )?;
        }
        HostWrite::Offline { now } => {
            conn.execute_typed(
                "UPDATE hostnames SET ipv4 = NULL, ipv6 = NULL, txt = NULL, last_update = $1, offline = 1, dns_pending = 0
                 WHERE id = $2",
                &[(&now, Type::INT8), (&id, Type::INT8)],
            )?;
        }
    }
    Ok(())
}
