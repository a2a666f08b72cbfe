//! Users and their password hashes.

use postgres::types::Type;

use super::{Store, unique_violation};
use crate::store::{StoreError, User, UserSummary};

impl Store {
    /// A user's row, one statement (`user`).
    pub(super) fn user_row(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = self.c().query_typed_opt(
            "SELECT id, name, email, password_hash FROM users WHERE name = $1",
            &[(&name, Type::TEXT)],
        )?;
        Ok(row.map(|r| User { id: r.get(0), name: r.get(1), email: r.get(2), password_hash: r.get(3) }))
    }

    pub(crate) fn add_user(
        &mut self,
        name: &str,
        email: &str,
        password_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let n = self
            .c()
            .execute(
                "INSERT INTO users (name, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &email, &password_hash, &now],
            )
            .map_err(|e| unique_violation(e, "user", name))?;
        if n == 0 {
            return Err(StoreError::Exists { what: "user", name: name.to_owned() });
        }
        Ok(())
    }

    pub(crate) fn set_password_hash(&mut self, user_id: i64, password_hash: &str) -> Result<(), StoreError> {
        self.c().execute("UPDATE users SET password_hash = $1 WHERE id = $2", &[&password_hash, &user_id])?;
        Ok(())
    }

    pub(crate) fn recent_password_hashes(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.c().query("SELECT password_hash FROM users ORDER BY id DESC LIMIT $1", &[&limit])?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    pub(crate) fn users(&self) -> Result<Vec<UserSummary>, StoreError> {
        let rows = self.c().query(
            "SELECT u.name, u.email, u.created_at, (SELECT COUNT(*) FROM hostnames h WHERE h.user_id = u.id)
             FROM users u ORDER BY u.name COLLATE \"C\"",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| UserSummary { name: r.get(0), email: r.get(1), created_at: r.get(2), n_hosts: r.get(3) })
            .collect())
    }

    pub(crate) fn set_email(&mut self, name: &str, email: &str) -> Result<bool, StoreError> {
        Ok(self.c().execute("UPDATE users SET email = $1 WHERE name = $2", &[&email, &name])? > 0)
    }

    pub(crate) fn delete_user(&mut self, user_id: i64) -> Result<bool, StoreError> {
        Ok(self.c().execute("DELETE FROM users WHERE id = $1", &[&user_id])? > 0)
    }
}
