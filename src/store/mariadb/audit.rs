//! Stubs until the queries of this concern are written (see `super`): every method fails with
//! [`StoreError::NotYet`].
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn record_audit(&mut self, audit: &AuditWrite) -> Result<(), StoreError> {
        Err(StoreError::NotYet("record_audit"))
    }

    pub(crate) fn audit_history(&self, fqdn: &str, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        Err(StoreError::NotYet("audit_history"))
    }

    pub(crate) fn audit_since(&self, since: i64, refused_only: bool, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        Err(StoreError::NotYet("audit_since"))
    }

    pub(crate) fn prune_audit(&mut self, before: i64) -> Result<usize, StoreError> {
        Err(StoreError::NotYet("prune_audit"))
    }

    pub(crate) fn counters(&self) -> Result<Vec<CounterValue>, StoreError> {
        Err(StoreError::NotYet("counters"))
    }

    pub(crate) fn add_counter(&mut self, name: &str, label: &str, n: i64) -> Result<(), StoreError> {
        Err(StoreError::NotYet("add_counter"))
    }

    pub(crate) fn set_counter(&mut self, name: &str, label: &str, value: i64) -> Result<(), StoreError> {
        Err(StoreError::NotYet("set_counter"))
    }

    pub(crate) fn host_counts(&self) -> Result<HostCounts, StoreError> {
        Err(StoreError::NotYet("host_counts"))
    }
}

/// Writes the audit rows and counters of `audit` on `conn` (the caller's transaction, in
/// `hosts.rs`: the trail shows exactly the changes the rows hold).
pub(super) fn record(conn: &mut impl mysql::prelude::Queryable, audit: &AuditWrite) -> Result<(), StoreError> {
    if audit.rows.is_empty() {
        return Ok(());
    }
    Err(StoreError::NotYet("audit::record"))
}
