//! acme-dns accounts: creation (with further names), lookup by user name, deletion, and the
//! locked update of a subdomain's challenge values (`acme_values`), also by the expiry run.

use super::{LOCK_CLASS, REGISTRATION_LOCK, Store, unique_violation};
use crate::store::{AccountCaps, AcmeAccount, AcmeValue, CapReached, NewAcmeAccount, StoreError};

const ACCOUNT_COLUMNS: &str = "id, name, username, key_digest, subdomain, allowfrom";

fn account_from(r: &postgres::Row) -> AcmeAccount {
    AcmeAccount {
        id: r.get(0),
        name: r.get(1),
        username: r.get(2),
        key_digest: r.get(3),
        subdomain: r.get(4),
        allowfrom: r.get(5),
        extra: Vec::new(),
    }
}

/// The account found by `sql` (on `arg`), with its further subdomains.
fn read_account(
    conn: &mut impl postgres::GenericClient,
    sql: &str,
    arg: &(dyn postgres::types::ToSql + Sync),
) -> Result<Option<AcmeAccount>, StoreError> {
    let Some(mut account) = conn.query_opt(sql, &[arg])?.map(|r| account_from(&r)) else {
        return Ok(None);
    };
    account.extra = conn
        .query("SELECT subdomain FROM acme_subdomains WHERE account_id = $1 ORDER BY subdomain", &[&account.id])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Some(account))
}

/// The account `id` and the values of its `subdomain`, newest first; `None` when it does not
/// exist.
fn account_and_values(
    conn: &mut postgres::Client,
    id: i64,
    subdomain: &str,
) -> Result<Option<(AcmeAccount, Vec<AcmeValue>)>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = $1");
    let Some(account) = read_account(conn, &sql, &id)? else {
        return Ok(None);
    };
    let values = conn
        .query(
            "SELECT txt, set_at FROM acme_values WHERE account_id = $1 AND subdomain = $2 ORDER BY position",
            &[&id, &subdomain],
        )?
        .iter()
        .map(|r| AcmeValue { txt: r.get(0), set_at: r.get(1) })
        .collect();
    Ok(Some((account, values)))
}

impl Store {
    /// As `store::sqlite`'s; the counts and the insert hold a transaction-scoped advisory
    /// lock, so registrations on every front-end are counted one after another.
    pub(crate) fn add_acme_account(
        &mut self,
        account: &NewAcmeAccount<'_>,
        caps: Option<AccountCaps>,
        now: i64,
    ) -> Result<Result<(), CapReached>, StoreError> {
        let conn = self.conn.get_mut();
        let mut tx = conn.transaction()?;
        // Also when uncapped: the subdomain checks below must not pass for two at once.
        tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&LOCK_CLASS, &REGISTRATION_LOCK])?;
        if let Some(caps) = caps {
            let total: i64 = tx.query_one("SELECT count(*) FROM acme_accounts", &[])?.get(0);
            let total = u64::try_from(total).unwrap_or(0);
            if total >= caps.max_total {
                return Ok(Err(CapReached::Total(total)));
            }
            let mine: i64 = tx
                .query_one(
                    "SELECT count(*) FROM acme_accounts WHERE registered_from = $1",
                    &[&account.registered_from],
                )?
                .get(0);
            let mine = u64::try_from(mine).unwrap_or(0);
            if mine >= caps.max_per_network {
                return Ok(Err(CapReached::Network(mine)));
            }
        }
        let subdomains = std::iter::once(account.subdomain).chain(account.extra.iter().map(|(_, s)| s.as_str()));
        for subdomain in subdomains {
            let taken: bool = tx
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM acme_accounts WHERE username = $1 OR subdomain = $2)
                     OR EXISTS(SELECT 1 FROM acme_subdomains WHERE subdomain = $2)",
                    &[&account.username, &subdomain],
                )?
                .get(0);
            if taken {
                return Err(StoreError::Exists { what: "acme subdomain", name: subdomain.to_owned() });
            }
        }
        let row = tx
            .query_opt(
                "INSERT INTO acme_accounts (name, username, key_digest, subdomain, allowfrom, registered_from, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING id",
                &[
                    &account.name,
                    &account.username,
                    &account.key_digest,
                    &account.subdomain,
                    &account.allowfrom,
                    &account.registered_from,
                    &now,
                ],
            )
            .map_err(|e| unique_violation(e, "acme account", account.username))?;
        let Some(row) = row else {
            return Err(StoreError::Exists { what: "acme account", name: account.username.to_owned() });
        };
        let id: i64 = row.get(0);
        for (name, subdomain) in account.extra {
            tx.execute(
                "INSERT INTO acme_subdomains (account_id, subdomain, name) VALUES ($1, $2, $3)",
                &[&id, subdomain, name],
            )
            .map_err(|e| unique_violation(e, "acme subdomain", subdomain))?;
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    pub(crate) fn acme_account(&self, username: &str) -> Result<Option<AcmeAccount>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE username = $1");
        let mut conn = self.c();
        read_account(&mut *conn, &sql, &username)
    }

    /// As `store::sqlite`'s.
    pub(crate) fn acme_username_for(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = self.c().query_opt(
            "SELECT username FROM acme_accounts WHERE name = $1
             UNION ALL SELECT a.username FROM acme_subdomains s JOIN acme_accounts a ON a.id = s.account_id
             WHERE s.name = $1 LIMIT 1",
            &[&name],
        )?;
        Ok(row.map(|r| r.get(0)))
    }

    /// As `store::sqlite`'s, under the advisory host lock of the challenge name `key`.
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
            let mut tx = conn.transaction().map_err(StoreError::from)?;
            tx.execute("DELETE FROM acme_values WHERE account_id = $1 AND subdomain = $2", &[&id, &subdomain])
                .map_err(StoreError::from)?;
            for (position, value) in values.iter().enumerate() {
                tx.execute(
                    "INSERT INTO acme_values (account_id, subdomain, position, txt, set_at) VALUES ($1, $2, $3, $4, $5)",
                    &[&id, &subdomain, &(position as i64), &value.txt, &value.set_at],
                )
                .map_err(StoreError::from)?;
            }
            tx.execute("UPDATE acme_accounts SET updated_at = $1 WHERE id = $2", &[&now, &id])
                .map_err(StoreError::from)?;
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
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = $1");
            let Some(account) = read_account(conn, &sql, &id)? else {
                return Ok(None);
            };
            remove(&account)?;
            let mut tx = conn.transaction().map_err(StoreError::from)?;
            for table in ["acme_values", "acme_subdomains"] {
                tx.execute(&format!("DELETE FROM {table} WHERE account_id = $1"), &[&id]).map_err(StoreError::from)?;
            }
            tx.execute("DELETE FROM acme_accounts WHERE id = $1", &[&id]).map_err(StoreError::from)?;
            tx.commit().map_err(StoreError::from)?;
            Ok(Some(()))
        })
    }

    /// As `store::sqlite`'s.
    pub(crate) fn acme_values_due(&self, cutoff: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = self.c().query(
            "SELECT DISTINCT account_id, subdomain FROM acme_values WHERE set_at <= $1 ORDER BY account_id, subdomain",
            &[&cutoff],
        )?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
