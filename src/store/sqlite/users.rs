//! Users and their password hashes.

use rusqlite::{OptionalExtension as _, TransactionBehavior, params};

use super::Store;
use crate::store::{StoreError, User, UserSummary};

impl Store {
    pub(crate) fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        self.memo.user(name, || {
            Ok(self
                .conn
                // On every password request's path: prepared once per connection.
                .prepare_cached("SELECT id, name, email, password_hash FROM users WHERE name = ?1")?
                .query_row([name], |r| {
                    Ok(User { id: r.get(0)?, name: r.get(1)?, email: r.get(2)?, password_hash: r.get(3)? })
                })
                .optional()?)
        })
    }

    pub(crate) fn add_user(
        &mut self,
        name: &str,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let exists: bool = tx.query_row("SELECT EXISTS(SELECT 1 FROM users WHERE name = ?1)", [name], |r| r.get(0))?;
        if exists {
            return Err(StoreError::Exists { what: "user", name: name.to_owned() });
        }
        tx.execute(
            "INSERT INTO users (name, email, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, email, password_hash, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces a user's hash; used on rehash after login and by `user passwd`.
    pub(crate) fn set_password_hash(&mut self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![password_hash, user_id])?;
        Ok(())
    }

    /// The password hashes of the `limit` most recently added users, newest first. The dummy
    /// verification of unknown users takes its cost from them (`auth::Dummy`); the bound keeps
    /// this read the same small cost on every login, however many users there are.
    pub(crate) fn recent_password_hashes(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT password_hash FROM users ORDER BY id DESC LIMIT ?1")?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub(crate) fn users(&self) -> Result<Vec<UserSummary>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT u.name, u.email, u.created_at, (SELECT COUNT(*) FROM hostnames h WHERE h.user_id = u.id)
             FROM users u ORDER BY u.name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(UserSummary { name: r.get(0)?, email: r.get(1)?, created_at: r.get(2)?, n_hosts: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns whether the user existed.
    pub(crate) fn set_email(&mut self, name: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self.conn.execute("UPDATE users SET email = ?1 WHERE name = ?2", params![email, name])? > 0)
    }

    /// Deletes a user who owns no hostnames; the caller removed them first. Returns whether a
    /// row went. A hostname added meanwhile makes this fail on the foreign key, not orphan it.
    pub(crate) fn delete_user(&mut self, user_id: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM users WHERE id = ?1", [user_id])? > 0)
    }
}
