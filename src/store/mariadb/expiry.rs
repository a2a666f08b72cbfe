//! Stubs until the queries of this concern are written.
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn expire_locked<T>(
        &mut self,
        zone: &str,
        after: i64,
        limit: usize,
        due_at: i64,
        delete: impl FnOnce(&[Host]) -> (Vec<i64>, T),
    ) -> Result<ExpiryChunk<T>, StoreError> {
        Err(StoreError::NotYet("expire_locked"))
    }

    pub(crate) fn zones_due(&self, due_at: i64) -> Result<Vec<String>, StoreError> {
        Err(StoreError::NotYet("zones_due"))
    }

    pub(crate) fn n_due(&self, zone: &str, due_at: i64) -> Result<usize, StoreError> {
        Err(StoreError::NotYet("n_due"))
    }

    pub(crate) fn claim_unnotified(&mut self) -> Result<Vec<Unnotified>, StoreError> {
        Err(StoreError::NotYet("claim_unnotified"))
    }

    pub(crate) fn unclaim_notified(&mut self, host_ids: &[i64]) -> Result<(), StoreError> {
        Err(StoreError::NotYet("unclaim_notified"))
    }
}
