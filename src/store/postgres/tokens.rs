//! Per-host tokens: only their SHA-256 digests and scopes are stored.

use postgres::types::Type;

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, host_from, host_row};
use crate::store::{StoreError, TokenGrant, TokenScope, User};

impl Store {
    /// As `store::sqlite`'s: under the host's advisory lock, so a change the old token
    /// authorised is ordered before this or refused after it.
    pub(crate) fn set_token(
        &mut self,
        fqdn: &str,
        digest: &[u8],
        scope: &TokenScope,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.locked([fqdn], |store| {
            let mut conn = store.c();
            let mut tx = conn.transaction()?;
            let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(false) };
            tx.execute(
                "INSERT INTO tokens (hostname_id, digest, types, networks, expires_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (hostname_id) DO UPDATE SET digest = EXCLUDED.digest, types = EXCLUDED.types,
                     networks = EXCLUDED.networks, expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at",
                &[&host.id, &digest, &scope.types, &scope.networks, &scope.expires_at, &now],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    /// As `store::sqlite`'s: under the host's advisory lock.
    pub(crate) fn revoke_token(&mut self, fqdn: &str) -> Result<Option<bool>, StoreError> {
        self.locked([fqdn], |store| {
            let mut conn = store.c();
            let mut tx = conn.transaction()?;
            let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(None) };
            let n = tx.execute("DELETE FROM tokens WHERE hostname_id = $1", &[&host.id])?;
            tx.commit()?;
            Ok(Some(n > 0))
        })
    }

    /// A token's grant, one statement (`token`).
    pub(super) fn token_row(&self, digest: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        let row = self.c().query_typed_opt(
            &format!(
                "SELECT {HOST_COLUMNS}, u.id, u.name, u.email, u.password_hash,
                        t.digest, t.types, t.networks, t.expires_at
                 FROM tokens t JOIN hostnames h ON h.id = t.hostname_id JOIN users u ON u.id = h.user_id
                 WHERE t.digest = $1"
            ),
            &[(&digest, Type::BYTEA)],
        )?;
        Ok(row.map(|r| {
            let n = N_HOST_COLUMNS;
            TokenGrant {
                host: host_from(&r),
                owner: User { id: r.get(n), name: r.get(n + 1), email: r.get(n + 2), password_hash: r.get(n + 3) },
                digest: r.get(n + 4),
                scope: TokenScope { types: r.get(n + 5), networks: r.get(n + 6), expires_at: r.get(n + 7) },
            }
        }))
    }
}
