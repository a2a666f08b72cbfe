//! acme-dns accounts: creation, lookup by user name, and the locked update of their two
//! challenge values.

use rusqlite::{OptionalExtension as _, TransactionBehavior, params};

use super::Store;
use crate::store::{AccountCaps, AcmeAccount, CapReached, NewAcmeAccount, StoreError};

const ACCOUNT_COLUMNS: &str = "id, name, username, key_digest, subdomain, allowfrom, txt_new, txt_old";

fn account_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<AcmeAccount> {
    Ok(AcmeAccount {
        id: r.get(0)?,
        name: r.get(1)?,
        username: r.get(2)?,
        key_digest: r.get(3)?,
        subdomain: r.get(4)?,
        allowfrom: r.get(5)?,
        txt_new: r.get(6)?,
        txt_old: r.get(7)?,
    })
}

impl Store {
    /// Creates an account, unless it would pass `caps` (`Ok(Err(..))`, nothing written). User
    /// name and subdomain are random UUIDs; a collision is reported as
    /// [`StoreError::Exists`] rather than silently sharing a name. The counts and the insert
    /// are one write transaction, so concurrent registrations are counted one after another.
    pub(crate) fn add_acme_account(
        &mut self,
        account: &NewAcmeAccount<'_>,
        caps: Option<AccountCaps>,
        now: i64,
    ) -> Result<Result<(), CapReached>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(caps) = caps {
            let total: i64 = tx.query_row("SELECT count(*) FROM acme_accounts", [], |r| r.get(0))?;
            let total = u64::try_from(total).unwrap_or(0);
            if total >= caps.max_total {
                return Ok(Err(CapReached::Total(total)));
            }
            let mine: i64 = tx.query_row(
                "SELECT count(*) FROM acme_accounts WHERE registered_from = ?1",
                [account.registered_from],
                |r| r.get(0),
            )?;
            let mine = u64::try_from(mine).unwrap_or(0);
            if mine >= caps.max_per_network {
                return Ok(Err(CapReached::Network(mine)));
            }
        }
        let taken: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM acme_accounts WHERE username = ?1 OR subdomain = ?2)",
            params![account.username, account.subdomain],
            |r| r.get(0),
        )?;
        if taken {
            return Err(StoreError::Exists { what: "acme account", name: account.username.to_owned() });
        }
        tx.execute(
            "INSERT INTO acme_accounts (name, username, key_digest, subdomain, allowfrom, registered_from, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                account.name,
                account.username,
                account.key_digest,
                account.subdomain,
                account.allowfrom,
                account.registered_from,
                now
            ],
        )?;
        tx.commit()?;
        Ok(Ok(()))
    }

    /// The account with this user name; one read on its unique index.
    pub(crate) fn acme_account(&self, username: &str) -> Result<Option<AcmeAccount>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE username = ?1");
        Ok(self.conn.query_row(&sql, [username], account_from).optional()?)
    }

    /// Holds the account's lock (the host lock of its challenge name, `key`) while `publish`
    /// acts on the account as read (sends the TXT records to DNS), then stores the `(txt_new,
    /// txt_old)` it returns in a short transaction, as `with_host_locked` does for hosts: two
    /// certificate clients updating at once cannot lose a value, the row matches what DNS
    /// accepted, and SQLite's write lock is never held across the DNS exchange. An `Err` from
    /// `publish` writes nothing; `None` when the account no longer exists.
    pub(crate) fn with_acme_locked<E>(
        &mut self,
        id: i64,
        key: &str,
        now: i64,
        publish: impl FnOnce(&AcmeAccount) -> Result<(String, Option<String>), E>,
    ) -> Result<Option<()>, E>
    where
        E: From<StoreError>,
    {
        let _held = self.locks.lock(std::iter::once(key))?;
        self.probe_writable()?;
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = ?1");
        let Some(account) = self.conn.query_row(&sql, [id], account_from).optional().map_err(StoreError::from)? else {
            return Ok(None);
        };
        let (txt_new, txt_old) = publish(&account)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        tx.execute(
            "UPDATE acme_accounts SET txt_new = ?1, txt_old = ?2, updated_at = ?3 WHERE id = ?4",
            params![txt_new, txt_old, now, id],
        )
        .map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(Some(()))
    }
}
