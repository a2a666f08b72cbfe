//! The web console's rows: users' admin flag, sessions and invitations, each found by the
//! SHA-256 digest of its secret (all that is stored of it).

use rusqlite::{OptionalExtension as _, TransactionBehavior, params};

use super::{Store, host_row};
use crate::store::{SessionEnds, StoreError, WebSession, WebUser};

/// A session's last-seen time is written at most this often: a page view is a read.
const TOUCH_SECONDS: i64 = 60;

fn web_user(r: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<WebUser> {
    Ok(WebUser {
        id: r.get(at)?,
        name: r.get(at + 1)?,
        email: r.get(at + 2)?,
        admin: r.get::<_, i64>(at + 3)? != 0,
        password_hash: r.get(at + 4)?,
    })
}

impl Store {
    pub(crate) fn web_user(&self, name: &str) -> Result<Option<WebUser>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT id, name, email, admin, password_hash FROM users WHERE name = ?1", [name], |r| {
                web_user(r, 0)
            })
            .optional()?)
    }

    pub(crate) fn set_admin(&mut self, name: &str, admin: bool) -> Result<bool, StoreError> {
        Ok(self.conn.execute("UPDATE users SET admin = ?1 WHERE name = ?2", params![i64::from(admin), name])? > 0)
    }

    pub(crate) fn add_session(
        &mut self,
        digest: &[u8],
        user_id: i64,
        now: i64,
        ends: SessionEnds,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(
            "DELETE FROM web_sessions WHERE last_seen < ?1 OR created_at < ?2",
            params![ends.idle_before, ends.created_before],
        )?;
        tx.execute(
            "INSERT INTO web_sessions (digest, user_id, created_at, last_seen) VALUES (?1, ?2, ?3, ?3)",
            params![digest, user_id, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn session(
        &mut self,
        digest: &[u8],
        now: i64,
        ends: SessionEnds,
    ) -> Result<Option<WebSession>, StoreError> {
        let found = self
            .conn
            .query_row(
                "SELECT u.id, u.name, u.email, u.admin, u.password_hash, s.created_at, s.last_seen
                 FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.digest = ?1",
                [digest],
                |r| Ok(WebSession { user: web_user(r, 0)?, created_at: r.get(5)?, last_seen: r.get(6)? }),
            )
            .optional()?;
        let Some(session) = found else { return Ok(None) };
        if session.last_seen < ends.idle_before || session.created_at < ends.created_before {
            self.conn.execute("DELETE FROM web_sessions WHERE digest = ?1", [digest])?;
            return Ok(None);
        }
        if now - session.last_seen >= TOUCH_SECONDS {
            self.conn.execute("UPDATE web_sessions SET last_seen = ?1 WHERE digest = ?2", params![now, digest])?;
        }
        Ok(Some(session))
    }

    pub(crate) fn end_session(&mut self, digest: &[u8]) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM web_sessions WHERE digest = ?1", [digest])?;
        Ok(())
    }

    pub(crate) fn change_password(
        &mut self,
        user_id: i64,
        password_hash: &str,
        keep: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![password_hash, user_id])?;
        tx.execute("DELETE FROM web_sessions WHERE user_id = ?1 AND digest IS NOT ?2", params![user_id, keep])?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn add_invitation(
        &mut self,
        digest: &[u8],
        user_id: i64,
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM invitations WHERE user_id = ?1 OR expires_at <= ?2", params![user_id, now])?;
        tx.execute(
            "INSERT INTO invitations (digest, user_id, expires_at, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![digest, user_id, expires_at, now],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn invitation(&self, digest: &[u8], now: i64) -> Result<Option<WebUser>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT u.id, u.name, u.email, u.admin, u.password_hash
                 FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.digest = ?1 AND i.expires_at > ?2",
                params![digest, now],
                |r| web_user(r, 0),
            )
            .optional()?)
    }

    pub(crate) fn redeem_invitation(
        &mut self,
        digest: &[u8],
        password_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: Option<(i64, String)> = tx
            .query_row(
                "SELECT u.id, u.name FROM invitations i JOIN users u ON u.id = i.user_id
                 WHERE i.digest = ?1 AND i.expires_at > ?2",
                params![digest, now],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((user_id, name)) = found else { return Ok(None) };
        tx.execute("UPDATE users SET password_hash = ?1 WHERE id = ?2", params![password_hash, user_id])?;
        tx.execute("DELETE FROM invitations WHERE user_id = ?1", [user_id])?;
        tx.execute("DELETE FROM web_sessions WHERE user_id = ?1", [user_id])?;
        tx.commit()?;
        Ok(Some(name))
    }

    pub(crate) fn move_host(&mut self, fqdn: &str, user_id: i64) -> Result<bool, StoreError> {
        let _held = self.locks.lock([fqdn])?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(false) };
        tx.execute("UPDATE hostnames SET user_id = ?1 WHERE id = ?2", params![user_id, host.id])?;
        tx.execute("DELETE FROM tokens WHERE hostname_id = ?1", [host.id])?;
        tx.execute("UPDATE hostnames SET derived_from = NULL WHERE id = ?1 OR derived_from = ?1", [host.id])?;
        tx.commit()?;
        Ok(true)
    }
}
