//! `hostname import`: many hostnames and their tokens in one transaction.

use rusqlite::{TransactionBehavior, params};

use super::Store;
use crate::store::{ImportedHost, StoreError};

impl Store {
    /// As [`crate::store::Store::import_hosts`]: one `BEGIN IMMEDIATE` transaction, the
    /// statements prepared once; dropping it on the first error rolls everything back.
    pub(crate) fn import_hosts(&mut self, hosts: &[ImportedHost<'_>], now: i64) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut exists = tx.prepare("SELECT EXISTS(SELECT 1 FROM hostnames WHERE fqdn = ?1)")?;
            let mut insert = tx.prepare(
                "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at, ipv4_enabled, ipv6_enabled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            let mut token = tx.prepare(
                "INSERT INTO tokens (hostname_id, digest, types, networks, expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for imported in hosts {
                let host = &imported.host;
                if exists.query_row([host.fqdn], |r| r.get::<_, bool>(0))? {
                    return Err(StoreError::Exists { what: "hostname", name: host.fqdn.to_owned() });
                }
                insert.execute(params![
                    host.fqdn,
                    host.zone,
                    host.user_id,
                    host.dns_ttl,
                    host.expiry_ttl,
                    now,
                    host.families.ipv4,
                    host.families.ipv6
                ])?;
                if let Some((digest, scope)) = imported.token {
                    let id = tx.last_insert_rowid();
                    token.execute(params![id, digest, scope.types, scope.networks, scope.expires_at, now])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }
}
