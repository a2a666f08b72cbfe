//! Per-host tokens: only their SHA-256 digests and scopes are stored.

use mysql::TxOpts;

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, col, exec, first, host_from, host_row, sql};
use crate::store::{StoreError, TokenGrant, TokenScope, User};

impl Store {
    /// As `store::sqlite`'s: under the host's lock, so a change the old token authorised is
    /// ordered before this or refused after it. The old row is deleted and the new one
    /// inserted, in one transaction: `ON DUPLICATE KEY UPDATE` would also fire on the
    /// digest's unique key, and so change another host's row.
    pub(crate) fn set_token(
        &mut self,
        fqdn: &str,
        digest: &[u8],
        scope: &TokenScope,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.locked([fqdn], |store| {
            let mut tx = store.conn.get_mut().start_transaction(TxOpts::default())?;
            let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(false) };
            exec(&mut tx, &sql("DELETE FROM tokens WHERE hostname_id = ?", &[&host.id]))?;
            exec(
                &mut tx,
                &sql(
                    "INSERT INTO tokens (hostname_id, digest, types, networks, expires_at, created_at)
                     VALUES (?, ?, ?, ?, ?, ?)",
                    &[&host.id, &digest, &scope.types, &scope.networks, &scope.expires_at, &now],
                ),
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// As `store::sqlite`'s: under the host's lock.
    pub(crate) fn revoke_token(&mut self, fqdn: &str) -> Result<Option<bool>, StoreError> {
        self.locked([fqdn], |store| {
            let conn = store.conn.get_mut();
            let Some(host) = host_row(conn, fqdn)? else { return Ok(None) };
            let n = exec(conn, &sql("DELETE FROM tokens WHERE hostname_id = ?", &[&host.id]))?;
            Ok(Some(n > 0))
        })
    }

    pub(crate) fn token(&self, digest: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        const Q: &str = "SELECT token";
        let statement = sql(
            &format!(
                "SELECT {HOST_COLUMNS}, u.id, u.name, u.email, u.password_hash,
                        t.digest, t.types, t.networks, t.expires_at
                 FROM tokens t JOIN hostnames h ON h.id = t.hostname_id JOIN users u ON u.id = h.user_id
                 WHERE t.digest = ?"
            ),
            &[&digest],
        );
        let Some(r) = first(&mut *self.c(), &statement)? else { return Ok(None) };
        let n = N_HOST_COLUMNS;
        Ok(Some(TokenGrant {
            host: host_from(&r)?,
            owner: User {
                id: col(&r, n, Q)?,
                name: col(&r, n + 1, Q)?,
                email: col(&r, n + 2, Q)?,
                password_hash: col(&r, n + 3, Q)?,
            },
            digest: col(&r, n + 4, Q)?,
            scope: TokenScope {
                types: col(&r, n + 5, Q)?,
                networks: col(&r, n + 6, Q)?,
                expires_at: col(&r, n + 7, Q)?,
            },
        }))
    }
}
