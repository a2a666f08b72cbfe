//! Stubs until the queries of this concern are written.
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn set_token(
        &mut self,
        fqdn: &str,
        digest: &[u8],
        scope: &TokenScope,
        now: i64,
    ) -> Result<bool, StoreError> {
        Err(StoreError::NotYet("set_token"))
    }

    pub(crate) fn revoke_token(&mut self, fqdn: &str) -> Result<Option<bool>, StoreError> {
        Err(StoreError::NotYet("revoke_token"))
    }

    pub(crate) fn token(&self, digest: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        Err(StoreError::NotYet("token"))
    }
}
