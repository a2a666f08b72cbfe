//! acme-dns accounts: creation, lookup by user name, and the locked update of their two
//! challenge values.

use super::{LOCK_CLASS, REGISTRATION_LOCK, Store, unique_violation};
use crate::store::{AccountCaps, AcmeAccount, CapReached, NewAcmeAccount, StoreError};

const ACCOUNT_COLUMNS: &str = "id, name, username, key_digest, subdomain, allowfrom, txt_new, txt_old";

fn account_from(r: &postgres::Row) -> AcmeAccount {
    AcmeAccount {
        id: r.get(0),
        name: r.get(1),
        username: r.get(2),
        key_digest: r.get(3),
        subdomain: r.get(4),
        allowfrom: r.get(5),
        txt_new: r.get(6),
        txt_old: r.get(7),
    }
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
        if let Some(caps) = caps {
            tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&LOCK_CLASS, &REGISTRATION_LOCK])?;
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
        let n = tx
            .execute(
                "INSERT INTO acme_accounts (name, username, key_digest, subdomain, allowfrom, registered_from, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
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
        if n == 0 {
            return Err(StoreError::Exists { what: "acme account", name: account.username.to_owned() });
        }
        tx.commit()?;
        Ok(Ok(()))
    }

    pub(crate) fn acme_account(&self, username: &str) -> Result<Option<AcmeAccount>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE username = $1");
        Ok(self.c().query_opt(&sql, &[&username])?.map(|r| account_from(&r)))
    }

    /// As `store::sqlite`'s, under the advisory host lock of the challenge name `key`.
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
        self.locked([key], |store| {
            let conn = store.conn.get_mut();
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = $1");
            let Some(account) = conn.query_opt(&sql, &[&id]).map_err(StoreError::from)?.map(|r| account_from(&r))
            else {
                return Ok(None);
            };
            let (txt_new, txt_old) = publish(&account)?;
            conn.execute(
                "UPDATE acme_accounts SET txt_new = $1, txt_old = $2, updated_at = $3 WHERE id = $4",
                &[&txt_new, &txt_old, &now, &id],
            )
            .map_err(StoreError::from)?;
            Ok(Some(()))
        })
    }
}
