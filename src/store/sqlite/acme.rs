//! acme-dns accounts: creation (with further names), lookup by user name, deletion, and the
//! locked update of a subdomain's challenge values (`acme_values`), also by the expiry run.

use rusqlite::{OptionalExtension as _, TransactionBehavior, params};

use super::Store;
use crate::store::{AccountCaps, AcmeAccount, AcmeValue, CapReached, NewAcmeAccount, StoreError};

const ACCOUNT_COLUMNS: &str = "id, name, username, key_digest, subdomain, allowfrom";

fn account_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<AcmeAccount> {
    Ok(AcmeAccount {
        id: r.get(0)?,
        name: r.get(1)?,
        username: r.get(2)?,
        key_digest: r.get(3)?,
        subdomain: r.get(4)?,
        allowfrom: r.get(5)?,
        extra: Vec::new(),
    })
}

/// The account found by `sql` (on `arg`), with its further subdomains.
fn read_account(
    conn: &rusqlite::Connection,
    sql: &str,
    arg: &dyn rusqlite::ToSql,
) -> Result<Option<AcmeAccount>, StoreError> {
    let Some(mut account) = conn.query_row(sql, [arg], account_from).optional()? else {
        return Ok(None);
    };
    let mut stmt = conn.prepare("SELECT subdomain FROM acme_subdomains WHERE account_id = ?1 ORDER BY subdomain")?;
    account.extra = stmt.query_map([account.id], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
    Ok(Some(account))
}

/// The account `id` and the values of its `subdomain`, newest first; `None` when it does not
/// exist.
fn account_and_values(
    conn: &rusqlite::Connection,
    id: i64,
    subdomain: &str,
) -> Result<Option<(AcmeAccount, Vec<AcmeValue>)>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = ?1");
    let Some(account) = read_account(conn, &sql, &id)? else {
        return Ok(None);
    };
    let mut stmt =
        conn.prepare("SELECT txt, set_at FROM acme_values WHERE account_id = ?1 AND subdomain = ?2 ORDER BY position")?;
    let values = stmt
        .query_map(params![id, subdomain], |r| Ok(AcmeValue { txt: r.get(0)?, set_at: r.get(1)? }))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some((account, values)))
}

impl Store {
    /// Creates an account, unless it would pass `caps` (`Ok(Err(..))`, nothing written). A
    /// user name or a subdomain (its first or a further name's) that is taken is reported as
    /// [`StoreError::Exists`] rather than silently shared. The counts and the insert are one
    /// write transaction, so concurrent registrations are counted one after another.
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
        let subdomains = std::iter::once(account.subdomain).chain(account.extra.iter().map(|(_, s)| s.as_str()));
        for subdomain in subdomains {
            let taken: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM acme_accounts WHERE username = ?1 OR subdomain = ?2)
                 OR EXISTS(SELECT 1 FROM acme_subdomains WHERE subdomain = ?2)",
                params![account.username, subdomain],
                |r| r.get(0),
            )?;
            if taken {
                return Err(StoreError::Exists { what: "acme subdomain", name: subdomain.to_owned() });
            }
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
        let id = tx.last_insert_rowid();
        // SQLite may give a new row the id of a deleted one: rows left by a deletion that did
        // not go through `delete_acme_locked` must not become the new account's.
        tx.execute("DELETE FROM acme_values WHERE account_id = ?1", [id])?;
        tx.execute("DELETE FROM acme_subdomains WHERE account_id = ?1", [id])?;
        for (name, subdomain) in account.extra {
            tx.execute(
                "INSERT INTO acme_subdomains (account_id, subdomain, name) VALUES (?1, ?2, ?3)",
                params![id, subdomain, name],
            )?;
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    /// The account with this user name, with its further subdomains; reads on unique indexes.
    pub(crate) fn acme_account(&self, username: &str) -> Result<Option<AcmeAccount>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE username = ?1");
        read_account(&self.conn, &sql, &username)
    }

    /// The user name of the account that serves the domain `name` (its first or a further
    /// name), for `acme check`.
    pub(crate) fn acme_username_for(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT username FROM acme_accounts WHERE name = ?1
                 UNION ALL SELECT a.username FROM acme_subdomains s JOIN acme_accounts a ON a.id = s.account_id
                 WHERE s.name = ?1 LIMIT 1",
                [name],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Holds the lock of one of the account's challenge names (the host lock of `key`, the
    /// name of `subdomain`) while `publish` acts on the account and that subdomain's values
    /// as read (sends the TXT records to DNS), then stores the values it returns in a short
    /// transaction, as `with_host_locked` does for hosts: two certificate clients updating at
    /// once cannot lose a value, the rows match what DNS accepted, and SQLite's write lock is
    /// never held across the DNS exchange. An `Err` from `publish` writes nothing; `None`
    /// when the account no longer exists.
    pub(crate) fn with_acme_locked<E>(
        &mut self,
        (id, subdomain): (i64, &str),
        key: &str,
        now: i64,
        publish: impl FnOnce(&AcmeAccount, &[AcmeValue]) -> Result<Vec<AcmeValue>, E>,
    ) -> Result<Option<()>, E>
    where
        E: From<StoreError>,
    {
        let _held = self.locks.lock(std::iter::once(key))?;
        self.probe_writable()?;
        let Some((account, values)) = account_and_values(&self.conn, id, subdomain)? else {
            return Ok(None);
        };
        let values = publish(&account, &values)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        tx.execute("DELETE FROM acme_values WHERE account_id = ?1 AND subdomain = ?2", params![id, subdomain])
            .map_err(StoreError::from)?;
        for (position, value) in values.iter().enumerate() {
            tx.execute(
                "INSERT INTO acme_values (account_id, subdomain, position, txt, set_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, subdomain, position as i64, value.txt, value.set_at],
            )
            .map_err(StoreError::from)?;
        }
        tx.execute("UPDATE acme_accounts SET updated_at = ?1 WHERE id = ?2", params![now, id])
            .map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(Some(()))
    }

    /// Deletes the account `id` under the locks of all its challenge names (`keys`) once
    /// `remove` (which takes its records out of DNS) succeeded; an `Err` from `remove`
    /// deletes nothing. `None` when it does not exist.
    pub(crate) fn delete_acme_locked<E>(
        &mut self,
        id: i64,
        keys: &[String],
        remove: impl FnOnce(&AcmeAccount) -> Result<(), E>,
    ) -> Result<Option<()>, E>
    where
        E: From<StoreError>,
    {
        let _held = self.locks.lock(keys.iter().map(String::as_str))?;
        self.probe_writable()?;
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = ?1");
        let Some(account) = read_account(&self.conn, &sql, &id)? else {
            return Ok(None);
        };
        remove(&account)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(StoreError::from)?;
        for table in ["acme_values", "acme_subdomains"] {
            tx.execute(&format!("DELETE FROM {table} WHERE account_id = ?1"), [id]).map_err(StoreError::from)?;
        }
        tx.execute("DELETE FROM acme_accounts WHERE id = ?1", [id]).map_err(StoreError::from)?;
        tx.commit().map_err(StoreError::from)?;
        Ok(Some(()))
    }

    /// The (account id, subdomain) pairs with a value set at or before `cutoff`: the expiry
    /// run's work.
    pub(crate) fn acme_values_due(&self, cutoff: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT DISTINCT account_id, subdomain FROM acme_values WHERE set_at <= ?1 ORDER BY account_id, subdomain",
        )?;
        let rows = stmt.query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}
