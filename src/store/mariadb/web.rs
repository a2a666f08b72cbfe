//! Stubs until the queries of this concern are written (see `super`): every method fails with
//! [`StoreError::NotYet`].
#![allow(unused_variables)]

use super::Store;
use crate::store::*;

impl Store {
    pub(crate) fn web_user(&self, name: &str) -> Result<Option<WebUser>, StoreError> {
        Err(StoreError::NotYet("web_user"))
    }

    pub(crate) fn set_admin(&mut self, name: &str, admin: bool) -> Result<bool, StoreError> {
        Err(StoreError::NotYet("set_admin"))
    }

    pub(crate) fn add_session(
        &mut self,
        digest: &[u8],
        user_id: i64,
        now: i64,
        ends: SessionEnds,
    ) -> Result<(), StoreError> {
        Err(StoreError::NotYet("add_session"))
    }

    pub(crate) fn session(
        &mut self,
        digest: &[u8],
        now: i64,
        ends: SessionEnds,
    ) -> Result<Option<WebSession>, StoreError> {
        Err(StoreError::NotYet("session"))
    }

    pub(crate) fn end_session(&mut self, digest: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::NotYet("end_session"))
    }

    pub(crate) fn change_password(
        &mut self,
        user_id: i64,
        password_hash: &str,
        keep: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        Err(StoreError::NotYet("change_password"))
    }

    pub(crate) fn add_invitation(
        &mut self,
        digest: &[u8],
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        Err(StoreError::NotYet("add_invitation"))
    }

    pub(crate) fn invitation(&self, digest: &[u8], now: i64) -> Result<Option<WebUser>, StoreError> {
        Err(StoreError::NotYet("invitation"))
    }

    pub(crate) fn redeem_invitation(
        &mut self,
        digest: &[u8],
        password_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        Err(StoreError::NotYet("redeem_invitation"))
    }

    pub(crate) fn move_host(&mut self, fqdn: &str, user_id: i64) -> Result<bool, StoreError> {
        Err(StoreError::NotYet("move_host"))
    }
}
