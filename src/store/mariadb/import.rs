//! `hostname import`: many hostnames and their tokens in one transaction.

use mysql::TxOpts;

use super::{Store, exec, insert, sql, unique_violation};
use crate::store::{ImportedHost, StoreError};

impl Store {
    /// As `store::sqlite`'s: one transaction, a round trip per row (on the admin's shell,
    /// never on a request's path); the first hostname that exists rolls everything back
    /// (the transaction is dropped, which rolls it back).
    pub(crate) fn import_hosts(&mut self, hosts: &[ImportedHost<'_>], now: i64) -> Result<(), StoreError> {
        let mut tx = self.conn.get_mut().start_transaction(TxOpts::default())?;
        for imported in hosts {
            let host = &imported.host;
            let statement = sql(
                "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at, ipv4_enabled, ipv6_enabled)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    &host.fqdn,
                    &host.zone,
                    &host.user_id,
                    &host.dns_ttl,
                    &host.expiry_ttl,
                    &now,
                    &host.families.ipv4,
                    &host.families.ipv6,
                ],
            );
            let id = insert(&mut tx, &statement).map_err(|e| unique_violation(e, "hostname", host.fqdn))?;
            if let Some((digest, scope)) = imported.token {
                exec(
                    &mut tx,
                    &sql(
                        "INSERT INTO tokens (hostname_id, digest, types, networks, expires_at, created_at)
                         VALUES (?, ?, ?, ?, ?, ?)",
                        &[&id, &digest, &scope.types, &scope.networks, &scope.expires_at, &now],
                    ),
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
