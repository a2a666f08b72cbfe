//! As `store::postgres::web`: the web console's admin flag, sessions and invitations.

use super::{Store, col, exec, first, host_row, sql};
use crate::store::{SessionEnds, StoreError, WebSession, WebUser};

/// A session's last-seen time is written at most this often: a page view is a read.
const TOUCH_SECONDS: i64 = 60;

/// The columns [`web_user`] reads, in order, from a `users` table aliased `u`.
const USER_COLUMNS: &str = "u.id, u.name, u.email, u.admin, u.password_hash";

fn web_user(r: &mysql::Row) -> Result<WebUser, StoreError> {
    const Q: &str = "SELECT USER_COLUMNS";
    Ok(WebUser {
        id: col(r, 0, Q)?,
        name: col(r, 1, Q)?,
        email: col(r, 2, Q)?,
        admin: col::<i64>(r, 3, Q)? != 0,
        password_hash: col(r, 4, Q)?,
    })
}

impl Store {
    pub(crate) fn web_user(&self, name: &str) -> Result<Option<WebUser>, StoreError> {
        let statement = sql(&format!("SELECT {USER_COLUMNS} FROM users u WHERE u.name = ?"), &[&name]);
        first(&mut *self.c(), &statement)?.map(|r| web_user(&r)).transpose()
    }

    pub(crate) fn set_admin(&mut self, name: &str, admin: bool) -> Result<bool, StoreError> {
        // Matched rows (`CLIENT_FOUND_ROWS`): a user who has the flag already is found.
        let statement = sql("UPDATE users SET admin = ? WHERE name = ?", &[&admin, &name]);
        Ok(exec(self.conn.get_mut(), &statement)? > 0)
    }

    pub(crate) fn add_session(
        &mut self,
        digest: &[u8],
        user_id: i64,
        now: i64,
        ends: SessionEnds,
    ) -> Result<(), StoreError> {
        let conn = self.conn.get_mut();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        exec(
            &mut tx,
            &sql(
                "DELETE FROM web_sessions WHERE last_seen < ? OR created_at < ?",
                &[&ends.idle_before, &ends.created_before],
            ),
        )?;
        exec(
            &mut tx,
            &sql(
                "INSERT INTO web_sessions (digest, user_id, created_at, last_seen) VALUES (?, ?, ?, ?)",
                &[&digest, &user_id, &now, &now],
            ),
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
        const Q: &str = "SELECT USER_COLUMNS, s.created_at, s.last_seen FROM web_sessions s";
        let statement = sql(
            &format!(
                "SELECT {USER_COLUMNS}, s.created_at, s.last_seen
                 FROM web_sessions s JOIN users u ON u.id = s.user_id WHERE s.digest = ?"
            ),
            &[&digest],
        );
        let conn = self.conn.get_mut();
        let Some(r) = first(conn, &statement)? else { return Ok(None) };
        let session = WebSession { user: web_user(&r)?, created_at: col(&r, 5, Q)?, last_seen: col(&r, 6, Q)? };
        if session.last_seen < ends.idle_before || session.created_at < ends.created_before {
            exec(conn, &sql("DELETE FROM web_sessions WHERE digest = ?", &[&digest]))?;
            return Ok(None);
        }
        if now - session.last_seen >= TOUCH_SECONDS {
            exec(conn, &sql("UPDATE web_sessions SET last_seen = ? WHERE digest = ?", &[&now, &digest]))?;
        }
        Ok(Some(session))
    }

    pub(crate) fn end_session(&mut self, digest: &[u8]) -> Result<(), StoreError> {
        exec(self.conn.get_mut(), &sql("DELETE FROM web_sessions WHERE digest = ?", &[&digest]))?;
        Ok(())
    }

    pub(crate) fn change_password(
        &mut self,
        user_id: i64,
        password_hash: &str,
        keep: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let conn = self.conn.get_mut();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        exec(&mut tx, &sql("UPDATE users SET password_hash = ? WHERE id = ?", &[&password_hash, &user_id]))?;
        // `<=>` compares NULL as a value: with nothing to keep, every session of the user ends.
        exec(&mut tx, &sql("DELETE FROM web_sessions WHERE user_id = ? AND NOT (digest <=> ?)", &[&user_id, &keep]))?;
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
        let conn = self.conn.get_mut();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        exec(&mut tx, &sql("DELETE FROM invitations WHERE user_id = ? OR expires_at <= ?", &[&user_id, &now]))?;
        exec(
            &mut tx,
            &sql(
                "INSERT INTO invitations (digest, user_id, expires_at, created_at) VALUES (?, ?, ?, ?)",
                &[&digest, &user_id, &expires_at, &now],
            ),
        )?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn invitation(&self, digest: &[u8], now: i64) -> Result<Option<WebUser>, StoreError> {
        let statement = sql(
            &format!(
                "SELECT {USER_COLUMNS} FROM invitations i JOIN users u ON u.id = i.user_id
                 WHERE i.digest = ? AND i.expires_at > ?"
            ),
            &[&digest, &now],
        );
        first(&mut *self.c(), &statement)?.map(|r| web_user(&r)).transpose()
    }

    pub(crate) fn redeem_invitation(
        &mut self,
        digest: &[u8],
        password_hash: &str,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        const Q: &str = "SELECT u.id, u.name FROM invitations i JOIN users u ON u.id = i.user_id
             WHERE i.digest = ? AND i.expires_at > ? FOR UPDATE";
        let conn = self.conn.get_mut();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        // FOR UPDATE (the invitation's row and its user's): two uses of one link at once
        // redeem it once, the second reading no row once the first deleted it.
        let Some(r) = first(&mut tx, &sql(Q, &[&digest, &now]))? else { return Ok(None) };
        let (user_id, name): (i64, String) = (col(&r, 0, Q)?, col(&r, 1, Q)?);
        exec(&mut tx, &sql("UPDATE users SET password_hash = ? WHERE id = ?", &[&password_hash, &user_id]))?;
        exec(&mut tx, &sql("DELETE FROM invitations WHERE user_id = ?", &[&user_id]))?;
        exec(&mut tx, &sql("DELETE FROM web_sessions WHERE user_id = ?", &[&user_id]))?;
        tx.commit()?;
        Ok(Some(name))
    }

    pub(crate) fn move_host(&mut self, fqdn: &str, user_id: i64) -> Result<bool, StoreError> {
        self.locked([fqdn], |store| {
            let conn = store.conn.get_mut();
            let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
            let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(false) };
            exec(&mut tx, &sql("UPDATE hostnames SET user_id = ? WHERE id = ?", &[&user_id, &host.id]))?;
            exec(&mut tx, &sql("DELETE FROM tokens WHERE hostname_id = ?", &[&host.id]))?;
            exec(
                &mut tx,
                &sql(
                    "UPDATE hostnames SET derived_from = NULL WHERE id = ? OR derived_from = ?",
                    &[&host.id, &host.id],
                ),
            )?;
            tx.commit()?;
            Ok(true)
        })
    }
}
