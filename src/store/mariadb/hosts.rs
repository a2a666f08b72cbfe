//! Stubs until the queries of this concern are written.
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn add_host(&mut self, host: &NewHost<'_>, now: i64) -> Result<(), StoreError> {
        Err(StoreError::NotYet("add_host"))
    }

    pub(crate) fn with_hosts_locked_audited<T, E>(
        &mut self,
        fqdns: &[&str],
        decide: impl FnOnce(
            &[Option<Host>],
            &[Option<Vec<u8>>],
            &mut MarkPending<'_>,
        ) -> Result<(Vec<HostWrite>, AuditWrite, T), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        Err(StoreError::NotYet("with_hosts_locked_audited").into())
    }

    pub(crate) fn host(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
        Err(StoreError::NotYet("host"))
    }

    pub(crate) fn hosts(&self, user_id: Option<i64>) -> Result<Vec<HostListing>, StoreError> {
        Err(StoreError::NotYet("hosts"))
    }

    pub(crate) fn modify_host_locked<E>(
        &mut self,
        fqdn: &str,
        decide: impl FnOnce(&Host) -> Result<HostSettings, E>,
    ) -> Result<Option<HostSettings>, E>
    where
        E: From<StoreError>,
    {
        Err(StoreError::NotYet("modify_host_locked").into())
    }

    pub(crate) fn delete_host_locked<E>(
        &mut self,
        fqdn: &str,
        unpublish: impl FnOnce(&Host) -> Result<(), E>,
    ) -> Result<bool, E>
    where
        E: From<StoreError>,
    {
        Err(StoreError::NotYet("delete_host_locked").into())
    }
}
