//! Stubs until the queries of this concern are written (see `super`): every method fails with
//! [`StoreError::NotYet`].
#![allow(unused_variables)]

use std::collections::HashMap;

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn set_relay(&mut self, fqdn: &str, relay: &NewRelay<'_>, now: i64) -> Result<RelayChange, StoreError> {
        Err(StoreError::NotYet("set_relay"))
    }

    pub(crate) fn remove_relay(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        Err(StoreError::NotYet("remove_relay"))
    }

    pub(crate) fn clear_relay_pause(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        Err(StoreError::NotYet("clear_relay_pause"))
    }

    pub(crate) fn relays(&self, fqdn: &str) -> Result<Option<Vec<Relay>>, StoreError> {
        Err(StoreError::NotYet("relays"))
    }

    pub(crate) fn relays_for_update(&self, fqdn: &str, user_id: i64) -> Result<Vec<Relay>, StoreError> {
        Err(StoreError::NotYet("relays_for_update"))
    }

    pub(crate) fn relay_counts(&self) -> Result<HashMap<String, (u32, u32)>, StoreError> {
        Err(StoreError::NotYet("relay_counts"))
    }

    pub(crate) fn record_relay(&mut self, id: i64, outcome: &RelayOutcome, now: i64) -> Result<(), StoreError> {
        Err(StoreError::NotYet("record_relay"))
    }
}
