//! acme-dns accounts: creation, lookup by user name, and the locked update of their two
//! challenge values.

use super::{Store, unique_violation};
use crate::store::{AcmeAccount, NewAcmeAccount, StoreError};

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
    pub(crate) fn add_acme_account(&mut self, account: &NewAcmeAccount<'_>, now: i64) -> Result<(), StoreError> {
        let n = self
            .c()
            .execute(
                "INSERT INTO acme_accounts (name, username, key_digest, subdomain, allowfrom, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                &[&account.name, &account.username, &account.key_digest, &account.subdomain, &account.allowfrom, &now],
            )
            .map_err(|e| unique_violation(e, "acme account", account.username))?;
        if n == 0 {
            return Err(StoreError::Exists { what: "acme account", name: account.username.to_owned() });
        }
        Ok(())
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
