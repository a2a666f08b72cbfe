//! Stubs until the queries of this concern are written (see `super`): every method fails with
//! [`StoreError::NotYet`].
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn add_acme_account(
        &mut self,
        account: &NewAcmeAccount<'_>,
        caps: Option<AccountCaps>,
        now: i64,
    ) -> Result<Result<(), CapReached>, StoreError> {
        Err(StoreError::NotYet("add_acme_account"))
    }

    pub(crate) fn acme_account(&self, username: &str) -> Result<Option<AcmeAccount>, StoreError> {
        Err(StoreError::NotYet("acme_account"))
    }

    pub(crate) fn acme_username_for(&self, name: &str) -> Result<Option<String>, StoreError> {
        Err(StoreError::NotYet("acme_username_for"))
    }

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
        Err(StoreError::NotYet("with_acme_locked").into())
    }

    pub(crate) fn delete_acme_locked<E>(
        &mut self,
        id: i64,
        keys: &[String],
        remove: impl FnOnce(&AcmeAccount) -> Result<(), E>,
    ) -> Result<Option<()>, E>
    where
        E: From<StoreError>,
    {
        Err(StoreError::NotYet("delete_acme_locked").into())
    }

    pub(crate) fn acme_values_due(&self, cutoff: i64) -> Result<Vec<(i64, String)>, StoreError> {
        Err(StoreError::NotYet("acme_values_due"))
    }
}
