//! Stubs until the queries of this concern are written (see `super`): every method fails with
//! [`StoreError::NotYet`].
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn rate_limit_over<'a>(
        &self,
        counters: &[Counter<'a>],
    ) -> Result<Option<(Counter<'a>, u64)>, StoreError> {
        Err(StoreError::NotYet("rate_limit_over"))
    }

    pub(crate) fn rate_limit_reserve<'a>(
        &mut self,
        counters: &[Counter<'a>],
        rows: &[(&'static str, String)],
        now: i64,
        older_than: i64,
    ) -> Result<Result<Vec<CountedRow>, (Counter<'a>, u64)>, StoreError> {
        Err(StoreError::NotYet("rate_limit_reserve"))
    }

    pub(crate) fn rate_limit_settle(
        &mut self,
        remove: &[CountedRow],
        add: &[(&'static str, String)],
        now: i64,
    ) -> Result<(), StoreError> {
        Err(StoreError::NotYet("rate_limit_settle"))
    }

    pub(crate) fn trim_rate_limit(&mut self, older_than: i64) -> Result<usize, StoreError> {
        Err(StoreError::NotYet("trim_rate_limit"))
    }

    pub(crate) fn rate_limit_counters(&self, since: i64) -> Result<Vec<RateLimitCounter>, StoreError> {
        Err(StoreError::NotYet("rate_limit_counters"))
    }

    pub(crate) fn clear_rate_limit(&mut self, keys: Option<&[String]>) -> Result<usize, StoreError> {
        Err(StoreError::NotYet("clear_rate_limit"))
    }
}
