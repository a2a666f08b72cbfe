//! Users and their password hashes.

use super::{Store, col, exec, first, rows, sql, unique_violation};
use crate::store::{StoreError, User, UserSummary};

impl Store {
    pub(crate) fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        const Q: &str = "SELECT id, name, email, password_hash FROM users WHERE name = ?";
        let Some(r) = first(&mut *self.c(), &sql(Q, &[&name]))? else { return Ok(None) };
        Ok(Some(User {
            id: col(&r, 0, Q)?,
            name: col(&r, 1, Q)?,
            email: col(&r, 2, Q)?,
            password_hash: col(&r, 3, Q)?,
        }))
    }

    /// A name taken already is [`StoreError::Exists`] (the unique key's error: unlike
    /// `INSERT IGNORE`, which would also hide a value too long for its column).
    pub(crate) fn add_user(
        &mut self,
        name: &str,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let statement = sql(
            "INSERT INTO users (name, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
            &[&name, &email, &password_hash, &now],
        );
        exec(self.conn.get_mut(), &statement).map_err(|e| unique_violation(e, "user", name))?;
        Ok(())
    }

    pub(crate) fn set_password_hash(&mut self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        let statement = sql("UPDATE users SET password_hash = ? WHERE id = ?", &[&password_hash, &user_id]);
        exec(self.conn.get_mut(), &statement)?;
        Ok(())
    }

    pub(crate) fn recent_password_hashes(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        const Q: &str = "SELECT password_hash FROM users ORDER BY id DESC LIMIT ?";
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        rows(&mut *self.c(), &sql(Q, &[&limit]))?.iter().map(|r| col(r, 0, Q)).collect()
    }

    pub(crate) fn users(&self) -> Result<Vec<UserSummary>, StoreError> {
        // The binary collation: byte order, as the other engines sort.
        const Q: &str =
            "SELECT u.name, u.email, u.created_at, (SELECT COUNT(*) FROM hostnames h WHERE h.user_id = u.id)
             FROM users u ORDER BY u.name";
        rows(&mut *self.c(), Q)?
            .iter()
            .map(|r| {
                Ok(UserSummary {
                    name: col(r, 0, Q)?,
                    email: col(r, 1, Q)?,
                    created_at: col(r, 2, Q)?,
                    n_hosts: col(r, 3, Q)?,
                })
            })
            .collect()
    }

    pub(crate) fn set_email(&mut self, name: &str, email: &str) -> Result<bool, StoreError> {
        // Matched rows, not changed ones (`CLIENT_FOUND_ROWS`, see `tls::opts`).
        let statement = sql("UPDATE users SET email = ? WHERE name = ?", &[&email, &name]);
        Ok(exec(self.conn.get_mut(), &statement)? > 0)
    }

    pub(crate) fn delete_user(&mut self, user_id: i64) -> Result<bool, StoreError> {
        Ok(exec(self.conn.get_mut(), &sql("DELETE FROM users WHERE id = ?", &[&user_id]))? > 0)
    }
}
