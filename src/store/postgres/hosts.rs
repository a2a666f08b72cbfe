//! Hostnames: creation, the read-modify-write of an update under the host's advisory lock,
//! listing, modification and deletion.

use std::collections::HashMap;

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

    /// As `store::sqlite`'s (with the audit rows `decide` returns): reads the rows under the
    /// hosts' advisory locks (held by this session across `decide`, so across the DNS
    /// exchange), lets `decide` mark the hosts it sends (`dns_pending`, one statement), writes
    /// back what `decide` returns in one statement (one transaction), then releases the
    /// locks: five statements whatever the number of hosts (docs/design/postgres.md).
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
            // One statement for every host of the run: one round trip, not one per host.
            let sql = format!(
                "SELECT {HOST_COLUMNS}, t.digest FROM hostnames h LEFT JOIN tokens t ON t.hostname_id = h.id
                 WHERE h.fqdn = ANY($1)"
            );
            let wanted: Vec<&str> = fqdns.to_vec();
            let rows = conn.query_typed(&sql, &[(&wanted, Type::TEXT_ARRAY)]).map_err(StoreError::from)?;
            let mut found: HashMap<String, (Host, Option<Vec<u8>>)> = rows
                .iter()
                .map(|r| {
                    let h = host_from(r);
                    (h.fqdn.clone(), (h, r.get(N_HOST_COLUMNS)))
                })
                .collect();
            let (hosts, tokens): (Vec<Option<Host>>, Vec<Option<Vec<u8>>>) = fqdns
                .iter()
                .map(|fqdn| match found.remove(*fqdn) {
                    Some((host, digest)) => (Some(host), digest),
                    None => (None, None),
                })
                .unzip();
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
            // The row writes and the audit rows in one statement, so one transaction: the
            // trail shows exactly the changes the rows hold.
            write_run(store, &writes, &audit)?;
            Ok(value)
        })
    }

    /// A hostname's row, read without its lock: what it is now, for a decision that the
    /// locked read-modify-write makes again (`host`, one statement).
    pub(super) fn host_unlocked(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
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

/// The row writes of one locked run (at most one per host) and its audit rows, in one
/// statement: one round trip and one transaction whatever the number of hosts, instead of a
/// `BEGIN`, a statement per host, audit row and counter, and a `COMMIT`. The writes go in as
/// arrays, one element per host, and each column takes the value its kind of write sets (a
/// `CASE` on the kind), else keeps its own.
fn write_run(store: &Store, writes: &[(i64, HostWrite)], audit: &AuditWrite) -> Result<(), StoreError> {
    let mut ids: Vec<i64> = Vec::with_capacity(writes.len());
    let mut kinds: Vec<&str> = Vec::with_capacity(writes.len());
    let mut ipv4s: Vec<Option<String>> = Vec::with_capacity(writes.len());
    let mut ipv6s: Vec<Option<String>> = Vec::with_capacity(writes.len());
    let mut txts: Vec<Option<String>> = Vec::with_capacity(writes.len());
    let mut ttls: Vec<Option<i64>> = Vec::with_capacity(writes.len());
    let mut times: Vec<Option<i64>> = Vec::with_capacity(writes.len());
    for (id, write) in writes {
        let (kind, ipv4, ipv6, txt, ttl, at) = match write {
            HostWrite::None => continue,
            HostWrite::Touch { now } => ("touch", None, None, None, None, Some(*now)),
            HostWrite::Unmark => ("unmark", None, None, None, None, None),
            HostWrite::Addresses { ipv4, ipv6, txt, dns_ttl, now } => (
                "addresses",
                ipv4.map(|a| a.to_string()),
                ipv6.map(|a| a.to_string()),
                txt.clone(),
                Some(i64::from(*dns_ttl)),
                Some(*now),
            ),
            HostWrite::Offline { now } => ("offline", None, None, None, None, Some(*now)),
        };
        ids.push(*id);
        kinds.push(kind);
        ipv4s.push(ipv4);
        ipv6s.push(ipv6);
        txts.push(txt);
        ttls.push(ttl);
        times.push(at);
    }
    let sql = || {
        format!(
        "WITH w AS (SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::BIGINT[],
                 $7::BIGINT[]) AS w (id, kind, ipv4, ipv6, txt, dns_ttl, at)),
             hosts AS (UPDATE hostnames h SET
                 ipv4 = CASE w.kind WHEN 'addresses' THEN w.ipv4 WHEN 'offline' THEN NULL ELSE h.ipv4 END,
                 ipv6 = CASE w.kind WHEN 'addresses' THEN w.ipv6 WHEN 'offline' THEN NULL ELSE h.ipv6 END,
                 txt = CASE w.kind WHEN 'addresses' THEN w.txt WHEN 'offline' THEN NULL ELSE h.txt END,
                 dns_ttl = CASE w.kind WHEN 'addresses' THEN w.dns_ttl ELSE h.dns_ttl END,
                 last_update = CASE w.kind WHEN 'unmark' THEN h.last_update ELSE w.at END,
                 expired = CASE w.kind WHEN 'addresses' THEN 0 ELSE h.expired END,
                 offline = CASE w.kind WHEN 'addresses' THEN 0 WHEN 'offline' THEN 1 ELSE h.offline END,
                 dns_pending = CASE w.kind WHEN 'touch' THEN h.dns_pending ELSE 0 END
               FROM w WHERE h.id = w.id RETURNING h.id),
             {}
         SELECT count(*) FROM hosts",
            super::audit::record_ctes(8)
        )
    };
    let rows = super::audit::Columns::of(audit);
    let counts = super::audit::counts(audit);
    let text = Type::TEXT_ARRAY;
    let int8 = Type::INT8_ARRAY;
    let mut params: Vec<(&(dyn postgres::types::ToSql + Sync), Type)> = vec![
        (&ids, int8.clone()),
        (&kinds, text.clone()),
        (&ipv4s, text.clone()),
        (&ipv6s, text.clone()),
        (&txts, text.clone()),
        (&ttls, int8.clone()),
        (&times, int8),
    ];
    rows.push_params(&counts, &mut params);
    store.query_kept("write_run", sql, &params)?;
    Ok(())
}
