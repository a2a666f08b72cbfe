//! `hostname import`: many hostnames and their tokens in one transaction.

use super::{Store, unique_violation};
use crate::store::{ImportedHost, StoreError};

impl Store {
    /// As `store::sqlite`'s: one transaction with its statements prepared once (a round trip
    /// per row, on the admin's shell, never on a request's path); the first hostname that
    /// exists rolls everything back.
    pub(crate) fn import_hosts(&mut self, hosts: &[ImportedHost<'_>], now: i64) -> Result<(), StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        let insert = tx.prepare(
            "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at, ipv4_enabled, ipv6_enabled)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (fqdn) DO NOTHING RETURNING id",
        )?;
        let token = tx.prepare(
            "INSERT INTO tokens (hostname_id, digest, types, networks, expires_at, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )?;
        for imported in hosts {
            let host = &imported.host;
            let row = tx
                .query_opt(
                    &insert,
                    &[
                        &host.fqdn,
                        &host.zone,
                        &host.user_id,
                        &i64::from(host.dns_ttl),
                        &i64::from(host.expiry_ttl),
                        &now,
                        &i64::from(host.families.ipv4),
                        &i64::from(host.families.ipv6),
                    ],
                )
                .map_err(|e| unique_violation(e, "hostname", host.fqdn))?;
            let Some(row) = row else {
                return Err(StoreError::Exists { what: "hostname", name: host.fqdn.to_owned() });
            };
            if let Some((digest, scope)) = imported.token {
                let id: i64 = row.get(0);
                tx.execute(&token, &[&id, &digest, &scope.types, &scope.networks, &scope.expires_at, &now])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
