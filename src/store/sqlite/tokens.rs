//! Per-host tokens: only their SHA-256 digests and scopes are stored.

use rusqlite::{OptionalExtension as _, TransactionBehavior, params};

use super::{N_HOST_COLUMNS, Store, host_columns, host_from, host_row};
use crate::store::{StoreError, TokenGrant, TokenScope, User};

impl Store {
    /// Stores the digest and scope of a new token for `fqdn`, replacing the host's previous
    /// token in the same transaction. `false` when there is no such hostname. Under the host
    /// lock, like [`Store::revoke_token`].
    pub(crate) fn set_token(
        &mut self,
        fqdn: &str,
        digest: &[u8],
        scope: &TokenScope,
        now: i64,
    ) -> Result<bool, StoreError> {
        let _held = self.locks.lock([fqdn])?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(false) };
        tx.execute(
            "INSERT OR REPLACE INTO tokens (hostname_id, digest, types, networks, expires_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![host.id, digest, scope.types, scope.networks, scope.expires_at, now],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Removes the token of `fqdn`. `None` when there is no such hostname, `Some(false)` when
    /// it had no token. Under the host lock: a change the token authorised either ran before
    /// (and this waits for it) or finds the token gone when it takes the lock and is refused
    /// (`update::changes::run`), so once this returns, nothing the old token authorised is
    /// still to come.
    pub(crate) fn revoke_token(&mut self, fqdn: &str) -> Result<Option<bool>, StoreError> {
        let _held = self.locks.lock([fqdn])?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(None) };
        let n = tx.execute("DELETE FROM tokens WHERE hostname_id = ?1", [host.id])?;
        tx.commit()?;
        Ok(Some(n > 0))
    }

    /// The token with this digest, with its hostname and owner; one read on `tokens_digest`,
    /// on every token request's path, so prepared once per connection.
    pub(crate) fn token(&self, digest: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        self.memo.token(digest, || self.token_row(digest))
    }

    fn token_row(&self, digest: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(concat!(
                "SELECT ",
                host_columns!(),
                ", u.id, u.name, u.email, u.password_hash, t.digest, t.types, t.networks, t.expires_at
                 FROM tokens t JOIN hostnames h ON h.id = t.hostname_id JOIN users u ON u.id = h.user_id
                 WHERE t.digest = ?1"
            ))?
            .query_row([digest], |r| {
                let n = N_HOST_COLUMNS;
                Ok(TokenGrant {
                    host: host_from(r)?,
                    owner: User {
                        id: r.get(n)?,
                        name: r.get(n + 1)?,
                        email: r.get(n + 2)?,
                        password_hash: r.get(n + 3)?,
                    },
                    digest: r.get(n + 4)?,
                    scope: TokenScope { types: r.get(n + 5)?, networks: r.get(n + 6)?, expires_at: r.get(n + 7)? },
                })
            })
            .optional()?)
    }
}
