//! acme-dns accounts: creation (with further names), lookup by user name, deletion, and the
//! locked update of a subdomain's challenge values (`acme_values`), also by the expiry run.
//! As `store::postgres::acme`; registrations are counted under a named lock of the database
//! (`with_named_lock`), the counterpart of PostgreSQL's transaction-scoped advisory lock.

use mysql::prelude::Queryable;

use super::{Store, col, exec, first, rows, sql, unique_violation};
use crate::store::{AccountCaps, AcmeAccount, AcmeValue, CapReached, NewAcmeAccount, StoreError};

const ACCOUNT_COLUMNS: &str = "id, name, username, key_digest, subdomain, allowfrom";

/// The account whose `column` (`id` or `username`) is `value`, with its further subdomains.
fn read_account(
    conn: &mut impl Queryable,
    column: &'static str,
    value: &dyn super::Lit,
) -> Result<Option<AcmeAccount>, StoreError> {
    const Q: &str = "SELECT ACCOUNT_COLUMNS FROM acme_accounts";
    let statement = sql(&format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE {column} = ?"), &[value]);
    let Some(r) = first(conn, &statement)? else { return Ok(None) };
    let mut account = AcmeAccount {
        id: col(&r, 0, Q)?,
        name: col(&r, 1, Q)?,
        username: col(&r, 2, Q)?,
        key_digest: col(&r, 3, Q)?,
        subdomain: col(&r, 4, Q)?,
        allowfrom: col(&r, 5, Q)?,
        extra: Vec::new(),
    };
    const S: &str = "SELECT subdomain FROM acme_subdomains WHERE account_id = ? ORDER BY subdomain";
    account.extra = rows(conn, &sql(S, &[&account.id]))?.iter().map(|r| col(r, 0, S)).collect::<Result<_, _>>()?;
    Ok(Some(account))
}

/// The account `id` and the values of its `subdomain`, newest first; `None` when it does not
/// exist.
fn account_and_values(
    conn: &mut impl Queryable,
    id: i64,
    subdomain: &str,
) -> Result<Option<(AcmeAccount, Vec<AcmeValue>)>, StoreError> {
    const Q: &str = "SELECT txt, set_at FROM acme_values WHERE account_id = ? AND subdomain = ? ORDER BY position";
    let Some(account) = read_account(conn, "id", &id)? else {
        return Ok(None);
    };
    let values = rows(conn, &sql(Q, &[&id, &subdomain]))?
        .iter()
        .map(|r| Ok(AcmeValue { txt: col(r, 0, Q)?, set_at: col(r, 1, Q)? }))
        .collect::<Result<_, StoreError>>()?;
    Ok(Some((account, values)))
}

/// `COUNT(*)` of `statement`.
fn count(conn: &mut impl Queryable, statement: &str) -> Result<u64, StoreError> {
    let n: i64 = match first(conn, statement)? {
        Some(r) => col(&r, 0, "SELECT COUNT(*) FROM acme_accounts")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

impl Store {
    /// As `store::sqlite`'s; the counts and the insert hold the registration lock, so
    /// registrations on every front-end are counted one after another.
    pub(crate) fn add_acme_account(
        &mut self,
        account: &NewAcmeAccount<'_>,
        caps: Option<AccountCaps>,
        now: i64,
    ) -> Result<Result<(), CapReached>, StoreError> {
        // Also when uncapped: the subdomain checks below must not pass for two at once.
        self.with_named_lock("registration", |store| {
            let conn = store.conn.get_mut();
            let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
            if let Some(caps) = caps {
                let total = count(&mut tx, "SELECT COUNT(*) FROM acme_accounts")?;
                if total >= caps.max_total {
                    return Ok(Err(CapReached::Total(total)));
                }
                let mine = count(
                    &mut tx,
                    &sql("SELECT COUNT(*) FROM acme_accounts WHERE registered_from = ?", &[&account.registered_from]),
                )?;
                if mine >= caps.max_per_network {
                    return Ok(Err(CapReached::Network(mine)));
                }
            }
            let subdomains = std::iter::once(account.subdomain).chain(account.extra.iter().map(|(_, s)| s.as_str()));
            for subdomain in subdomains {
                let taken = count(
                    &mut tx,
                    &sql(
                        "SELECT EXISTS(SELECT 1 FROM acme_accounts WHERE username = ? OR subdomain = ?)
                         OR EXISTS(SELECT 1 FROM acme_subdomains WHERE subdomain = ?)",
                        &[&account.username, &subdomain, &subdomain],
                    ),
                )?;
                if taken != 0 {
                    return Err(StoreError::Exists { what: "acme subdomain", name: subdomain.to_owned() });
                }
            }
            // No `INSERT IGNORE`: it would also hide a value too long for its column; a name
            // taken meanwhile is the unique key's error.
            let insert = sql(
                "INSERT INTO acme_accounts (name, username, key_digest, subdomain, allowfrom, registered_from, created_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
                &[
                    &account.name,
                    &account.username,
                    &account.key_digest,
                    &account.subdomain,
                    &account.allowfrom,
                    &account.registered_from,
                    &now,
                ],
            );
            exec(&mut tx, &insert).map_err(|e| unique_violation(e, "acme account", account.username))?;
            let id = tx.last_insert_id().and_then(|id| i64::try_from(id).ok()).unwrap_or_default();
            for (name, subdomain) in account.extra {
                let statement = sql(
                    "INSERT INTO acme_subdomains (account_id, subdomain, name) VALUES (?, ?, ?)",
                    &[&id, subdomain, name],
                );
                exec(&mut tx, &statement).map_err(|e| unique_violation(e, "acme subdomain", subdomain))?;
            }
            tx.commit()?;
            Ok(Ok(()))
        })
    }

    pub(crate) fn acme_account(&self, username: &str) -> Result<Option<AcmeAccount>, StoreError> {
        read_account(&mut *self.c(), "username", &username)
    }

    /// As `store::sqlite`'s.
    pub(crate) fn acme_username_for(&self, name: &str) -> Result<Option<String>, StoreError> {
        const Q: &str = "SELECT username FROM acme_accounts WHERE name = ?
             UNION ALL SELECT a.username FROM acme_subdomains s JOIN acme_accounts a ON a.id = s.account_id
             WHERE s.name = ? LIMIT 1";
        first(&mut *self.c(), &sql(Q, &[&name, &name]))?.map(|r| col(&r, 0, Q)).transpose()
    }

    /// As `store::sqlite`'s, under the host lock of the challenge name `key`.
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
        self.locked([key], |store| {
            let conn = store.conn.get_mut();
            let Some((account, values)) = account_and_values(conn, id, subdomain)? else {
                return Ok(None);
            };
            let values = publish(&account, &values)?;
            let mut tx = conn.start_transaction(mysql::TxOpts::default()).map_err(StoreError::from)?;
            let delete = sql("DELETE FROM acme_values WHERE account_id = ? AND subdomain = ?", &[&id, &subdomain]);
            exec(&mut tx, &delete)?;
            for (position, value) in values.iter().enumerate() {
                let position = i64::try_from(position).unwrap_or(i64::MAX);
                let insert = sql(
                    "INSERT INTO acme_values (account_id, subdomain, position, txt, set_at) VALUES (?, ?, ?, ?, ?)",
                    &[&id, &subdomain, &position, &value.txt, &value.set_at],
                );
                exec(&mut tx, &insert)?;
            }
            exec(&mut tx, &sql("UPDATE acme_accounts SET updated_at = ? WHERE id = ?", &[&now, &id]))?;
            tx.commit().map_err(StoreError::from)?;
            Ok(Some(()))
        })
    }

    /// As `store::sqlite`'s.
    pub(crate) fn delete_acme_locked<E>(
        &mut self,
        id: i64,
        keys: &[String],
        remove: impl FnOnce(&AcmeAccount) -> Result<(), E>,
    ) -> Result<Option<()>, E>
    where
        E: From<StoreError>,
    {
        self.locked(keys.iter().map(String::as_str), |store| {
            let conn = store.conn.get_mut();
            let Some(account) = read_account(conn, "id", &id)? else {
                return Ok(None);
            };
            remove(&account)?;
            let mut tx = conn.start_transaction(mysql::TxOpts::default()).map_err(StoreError::from)?;
            for table in ["acme_values", "acme_subdomains"] {
                exec(&mut tx, &sql(&format!("DELETE FROM {table} WHERE account_id = ?"), &[&id]))?;
            }
            exec(&mut tx, &sql("DELETE FROM acme_accounts WHERE id = ?", &[&id]))?;
            tx.commit().map_err(StoreError::from)?;
            Ok(Some(()))
        })
    }

    /// As `store::sqlite`'s.
    pub(crate) fn acme_values_due(&self, cutoff: i64) -> Result<Vec<(i64, String)>, StoreError> {
        const Q: &str = "SELECT DISTINCT account_id, subdomain FROM acme_values WHERE set_at <= ?
             ORDER BY account_id, subdomain";
        rows(&mut *self.c(), &sql(Q, &[&cutoff]))?.iter().map(|r| Ok((col(r, 0, Q)?, col(r, 1, Q)?))).collect()
    }
}
