//! Relays to upstream dyndns2 providers: the admin's changes (add or replace, remove, clear a
//! pause), the relays of one hostname for an update, and each attempt's outcome written
//! back. No HTTP here; `relay` sends and decides. As `store::postgres::relays`.

use std::collections::HashMap;

use mysql::prelude::Queryable;

use super::{DUP_ENTRY, Store, col, exec, first, host_row, rows, sql};
use crate::secret::Secret;
use crate::store::{NewRelay, Relay, RelayChange, RelayOutcome, RelayPause, StoreError};

/// The columns [`relay_from`] reads, in order, from a `relays` table aliased `r`.
const RELAY_COLUMNS: &str = "r.id, r.url, r.username, r.password, r.replaces_local, r.paused_at, r.paused_reason,
    r.last_ipv4, r.last_ipv6, r.last_result, r.last_at";

fn relay_from(r: &mysql::Row) -> Result<Relay, StoreError> {
    const Q: &str = "SELECT RELAY_COLUMNS";
    let paused_at: Option<i64> = col(r, 5, Q)?;
    let paused_reason: Option<String> = col(r, 6, Q)?;
    let last_ipv4: Option<String> = col(r, 7, Q)?;
    let last_ipv6: Option<String> = col(r, 8, Q)?;
    // The URL is bytes (`VARBINARY`, for its unique key); only this module writes it, from text.
    let url: Vec<u8> = col(r, 1, Q)?;
    Ok(Relay {
        id: col(r, 0, Q)?,
        url: String::from_utf8_lossy(&url).into_owned(),
        username: col(r, 2, Q)?,
        password: Secret::new(col(r, 3, Q)?),
        replaces_local: col::<i64>(r, 4, Q)? != 0,
        paused: paused_at.map(|since| RelayPause { since, reason: paused_reason.unwrap_or_default() }),
        // Only this module writes these columns, always from parsed addresses.
        last_ipv4: last_ipv4.and_then(|s| s.parse().ok()),
        last_ipv6: last_ipv6.and_then(|s| s.parse().ok()),
        last_result: col(r, 9, Q)?,
        last_at: col(r, 10, Q)?,
    })
}

fn relays_of(conn: &mut impl Queryable, hostname_id: i64) -> Result<Vec<Relay>, StoreError> {
    let statement =
        sql(&format!("SELECT {RELAY_COLUMNS} FROM relays r WHERE r.hostname_id = ? ORDER BY r.id"), &[&hostname_id]);
    rows(conn, &statement)?.iter().map(relay_from).collect()
}

impl Store {
    pub(crate) fn set_relay(&mut self, fqdn: &str, relay: &NewRelay<'_>, now: i64) -> Result<RelayChange, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let replaces_local = i64::from(relay.replaces_local);
        // The INSERT alone, then the UPDATE when the key is taken: the session counts matched
        // rows (`CLIENT_FOUND_ROWS`), so an upsert's count could not tell an insert from an
        // update that changed nothing. Two admins adding the same URL at once: the second
        // INSERT waits for the first one's key, then fails and updates. A failed statement
        // is undone alone; the transaction goes on.
        let insert = sql(
            "INSERT INTO relays (hostname_id, url, username, password, replaces_local, created_at)
             VALUES (?, ?, ?, ?, ?, ?)",
            &[&host.id, &relay.url, &relay.username, &relay.password.expose(), &replaces_local, &now],
        );
        let change = match exec(&mut tx, &insert) {
            Ok(_) => RelayChange::Added,
            Err(StoreError::Mariadb(mysql::Error::MySqlError(e))) if e.code == DUP_ENTRY => {
                let update = sql(
                    "UPDATE relays SET username = ?, password = ?, replaces_local = ?, paused_at = NULL,
                         paused_reason = NULL, last_ipv4 = NULL, last_ipv6 = NULL
                     WHERE hostname_id = ? AND url = ?",
                    &[&relay.username, &relay.password.expose(), &replaces_local, &host.id, &relay.url],
                );
                exec(&mut tx, &update)?;
                RelayChange::Changed
            }
            Err(e) => return Err(e),
        };
        tx.commit()?;
        Ok(change)
    }

    pub(crate) fn remove_relay(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let n = exec(&mut tx, &sql("DELETE FROM relays WHERE hostname_id = ? AND url = ?", &[&host.id, &url]))?;
        tx.commit()?;
        Ok(if n > 0 { RelayChange::Changed } else { RelayChange::NoRelay })
    }

    pub(crate) fn clear_relay_pause(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        const Q: &str = "SELECT paused_at FROM relays WHERE hostname_id = ? AND url = ? FOR UPDATE";
        let mut conn = self.c();
        let mut tx = conn.start_transaction(mysql::TxOpts::default())?;
        let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let paused: Option<Option<i64>> =
            first(&mut tx, &sql(Q, &[&host.id, &url]))?.map(|r| col(&r, 0, Q)).transpose()?;
        let change = match paused {
            None => RelayChange::NoRelay,
            Some(None) => RelayChange::Unchanged,
            Some(Some(_)) => {
                exec(
                    &mut tx,
                    &sql(
                        "UPDATE relays SET paused_at = NULL, paused_reason = NULL WHERE hostname_id = ? AND url = ?",
                        &[&host.id, &url],
                    ),
                )?;
                RelayChange::Changed
            }
        };
        tx.commit()?;
        Ok(change)
    }

    pub(crate) fn relays(&self, fqdn: &str) -> Result<Option<Vec<Relay>>, StoreError> {
        let mut conn = self.c();
        let Some(host) = host_row(&mut *conn, fqdn)? else { return Ok(None) };
        Ok(Some(relays_of(&mut *conn, host.id)?))
    }

    pub(crate) fn relays_for_update(&self, fqdn: &str, user_id: i64) -> Result<Vec<Relay>, StoreError> {
        let statement = sql(
            &format!(
                "SELECT {RELAY_COLUMNS} FROM relays r JOIN hostnames h ON h.id = r.hostname_id
                 WHERE h.fqdn = ? AND h.user_id = ? ORDER BY r.id"
            ),
            &[&fqdn, &user_id],
        );
        rows(&mut *self.c(), &statement)?.iter().map(relay_from).collect()
    }

    pub(crate) fn relay_counts(&self) -> Result<HashMap<String, (u32, u32)>, StoreError> {
        const Q: &str = "SELECT h.fqdn, COUNT(*), CAST(SUM(r.replaces_local) AS SIGNED)
             FROM relays r JOIN hostnames h ON h.id = r.hostname_id GROUP BY h.fqdn";
        let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        rows(&mut *self.c(), Q)?.iter().map(|r| Ok((col(r, 0, Q)?, (n(col(r, 1, Q)?), n(col(r, 2, Q)?))))).collect()
    }

    pub(crate) fn record_relay(&mut self, id: i64, outcome: &RelayOutcome, now: i64) -> Result<(), StoreError> {
        let statement = match outcome {
            RelayOutcome::Accepted { ipv4, ipv6, result } => sql(
                "UPDATE relays SET last_ipv4 = COALESCE(?, last_ipv4), last_ipv6 = COALESCE(?, last_ipv6),
                     last_result = ?, last_at = ? WHERE id = ?",
                &[&ipv4.map(|a| a.to_string()), &ipv6.map(|a| a.to_string()), result, &now, &id],
            ),
            RelayOutcome::Failed { result } => {
                sql("UPDATE relays SET last_result = ?, last_at = ? WHERE id = ?", &[result, &now, &id])
            }
            // The addresses the upstream holds are no longer known once it refused us.
            RelayOutcome::Paused { reason } => sql(
                "UPDATE relays SET paused_at = ?, paused_reason = ?, last_result = ?, last_at = ?,
                     last_ipv4 = NULL, last_ipv6 = NULL WHERE id = ?",
                &[&now, reason, reason, &now, &id],
            ),
        };
        exec(self.conn.get_mut(), &statement)?;
        Ok(())
    }
}
