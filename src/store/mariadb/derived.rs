//! Stubs until the queries of this concern are written.
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn children(&self, parent: &str, user_id: i64) -> Result<Vec<Derived>, StoreError> {
        Err(StoreError::NotYet("children"))
    }

    pub(crate) fn stored_ipv4(&self, fqdn: &str) -> Result<Option<std::net::Ipv4Addr>, StoreError> {
        Err(StoreError::NotYet("stored_ipv4"))
    }

    pub(crate) fn derive(&mut self, new: &NewDerivation<'_>, now: i64) -> Result<DeriveOutcome, StoreError> {
        Err(StoreError::NotYet("derive"))
    }

    pub(crate) fn underive(&mut self, child: &str) -> Result<Option<bool>, StoreError> {
        Err(StoreError::NotYet("underive"))
    }

    pub(crate) fn derivations(&self) -> Result<Vec<Derivation>, StoreError> {
        Err(StoreError::NotYet("derivations"))
    }
}
