//! Stubs until the queries of this concern are written.
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        Err(StoreError::NotYet("user"))
    }

    pub(crate) fn add_user(
        &mut self,
        name: &str,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        Err(StoreError::NotYet("add_user"))
    }

    pub(crate) fn set_password_hash(&mut self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        Err(StoreError::NotYet("set_password_hash"))
    }

    pub(crate) fn recent_password_hashes(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        Err(StoreError::NotYet("recent_password_hashes"))
    }

    pub(crate) fn users(&self) -> Result<Vec<UserSummary>, StoreError> {
        Err(StoreError::NotYet("users"))
    }

    pub(crate) fn set_email(&mut self, name: &str, email: &str) -> Result<bool, StoreError> {
        Err(StoreError::NotYet("set_email"))
    }

    pub(crate) fn delete_user(&mut self, user_id: i64) -> Result<bool, StoreError> {
        Err(StoreError::NotYet("delete_user"))
    }
}
