//! Stubs until the queries of this concern are written.
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn import_hosts(&mut self, hosts: &[ImportedHost<'_>], now: i64) -> Result<(), StoreError> {
        Err(StoreError::NotYet("import_hosts"))
    }
}
