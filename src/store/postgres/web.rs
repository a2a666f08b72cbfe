//! As `store::sqlite::web`: the web console's admin flag, sessions and invitations.

use super::{Store, host_row};
use crate::store::{SessionEnds, StoreError, WebSession, WebUser};

/// A session's last-seen time is written at most this often: a page view is a read.
const TOUCH_SECONDS: i64 = 60;

fn web_user(r: &postgres::Row, at: usize) -> WebUser {
    WebUser {
        id: r.get(at),
        name: r.get(at + 1),
        email: r.get(at + 2),
        admin: r.get::<_, i64>(at + 3) != 0,
        password_hash: r.get(at + 4),
    }
}

impl Store {
    pub(crate) fn web_user(&self, name: &str) -> Result<Option<WebUser>, StoreError> {
        let row =
            self.c().query_opt("SELECT id, name, email, admin, password_hash FROM users WHERE name = $1", &[&name])?;
        Ok(row.map(|r| web_user(&r, 0)))
    }

    pub(crate) fn set_admin(&mut self, name: &str, admin: bool) -> Result<bool, StoreError> {
        Ok(self.c().execute("UPDATE users SET admin = $1 WHERE name = $2", &[&i64::from(admin), &name])? > 0)
    }

    pub(crate) fn add_session(
        &mut self,
        digest: &[u8],
        user_id: i64,
        now: i64,
        ends: SessionEnds,
    ) -> Result<(), StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM web_sessions WHERE last_seen < $1 OR created_at < $2",
            &[&ends.idle_before, &ends.created_before],
        )?;
        tx.execute(
            "INSERT INTO web_sessions (digest, user_id, created_at, last_seen) VALUES ($1, $2, $3, $3)",
            &[&digest, &user_id, &now],
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
        let row = self.c().query_opt(
            "SELECT u.id, u.name, u.email, u.admin, u.password_hash, s.created_at, s.last_seen
             FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.digest = $1",
            &[&digest],
        )?;
        let Some(r) = row else { return Ok(None) };
        let session = WebSession { user: web_user(&r, 0), created_at: r.get(5), last_seen: r.get(6) };
        if session.last_seen < ends.idle_before || session.created_at < ends.created_before {
            self.c().execute("DELETE FROM web_sessions WHERE digest = $1", &[&digest])?;
            return Ok(None);
        }
        if now - session.last_seen >= TOUCH_SECONDS {
            self.c().execute("UPDATE web_sessions SET last_seen = $1 WHERE digest = $2", &[&now, &digest])?;
        }
        Ok(Some(session))
    }

    pub(crate) fn end_session(&mut self, digest: &[u8]) -> Result<(), StoreError> {
        self.c().execute("DELETE FROM web_sessions WHERE digest = $1", &[&digest])?;
        Ok(())
    }

    pub(crate) fn change_password(
        &mut self,
        user_id: i64,
        password_hash: &str,
        keep: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        tx.execute("UPDATE users SET password_hash = $1 WHERE id = $2", &[&password_hash, &user_id])?;
        tx.execute("DELETE FROM web_sessions WHERE user_id = $1 AND digest IS DISTINCT FROM $2", &[&user_id, &keep])?;
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
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        tx.execute("DELETE FROM invitations WHERE user_id = $1 OR expires_at <= $2", &[&user_id, &now])?;
        tx.execute(
            "INSERT INTO invitations (digest, user_id, expires_at, created_at) VALUES ($1, $2, $3, $4)",
            &[&digest, &user_id, &expires_at, &now],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn invitation(&self, digest: &[u8], now: i64) -> Result<Option<WebUser>, StoreError> {
        let row = self.c().query_opt(
            "SELECT u.id, u.name, u.email, u.admin, u.password_hash
             FROM invitations i JOIN users u ON u.id = i.user_id WHERE i.digest = $1 AND i.expires_at > $2",
            &[&digest, &now],
        )?;
        Ok(row.map(|r| web_user(&r, 0)))
    }

    pub(crate) fn redeem_invitation(
        &mut self,
        digest: &[u8],
        password_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        // FOR UPDATE: two uses of one link at once redeem it once.
        let row = tx.query_opt(
            "SELECT u.id, u.name FROM invitations i JOIN users u ON u.id = i.user_id
             WHERE i.digest = $1 AND i.expires_at > $2 FOR UPDATE OF i",
            &[&digest, &now],
        )?;
        let Some(r) = row else { return Ok(None) };
        let (user_id, name): (i64, String) = (r.get(0), r.get(1));
        tx.execute("UPDATE users SET password_hash = $1 WHERE id = $2", &[&password_hash, &user_id])?;
        tx.execute("DELETE FROM invitations WHERE user_id = $1", &[&user_id])?;
        tx.execute("DELETE FROM web_sessions WHERE user_id = $1", &[&user_id])?;
        tx.commit()?;
        Ok(Some(name))
    }

    pub(crate) fn move_host(&mut self, fqdn: &str, user_id: i64) -> Result<bool, StoreError> {
        self.locked([fqdn], |store| {
            let mut conn = store.c();
            let mut tx = conn.transaction()?;
            let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(false) };
            tx.execute("UPDATE hostnames SET user_id = $1 WHERE id = $2", &[&user_id, &host.id])?;
            tx.execute("DELETE FROM tokens WHERE hostname_id = $1", &[&host.id])?;
            tx.execute("UPDATE hostnames SET derived_from = NULL WHERE id = $1 OR derived_from = $1", &[&host.id])?;
            tx.commit()?;
            Ok(true)
        })
    }
}
