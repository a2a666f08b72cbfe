//! Relays to upstream dyndns2 providers: the admin's changes (add or replace, remove, clear a
//! pause), the relays of one hostname for an update, and each attempt's outcome written
//! back. No HTTP here; `relay` sends and decides.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};

use super::{Store, host_row};
use crate::secret::Secret;
use crate::store::lock::HostGuard;
use crate::store::{NewRelay, Relay, RelayChange, RelayOutcome, RelayPause, StoreError};

/// The columns [`relay_from`] reads, in order, from a `relays` table aliased `r`; a macro so
/// that the query of the request path can be `concat!`ed into constant text.
macro_rules! relay_columns {
    () => {
        "r.id, r.url, r.username, r.password, r.replaces_local, r.paused_at, r.paused_reason,
    r.last_ipv4, r.last_ipv6, r.last_result, r.last_at"
    };
}

/// [`relay_columns!`] as a constant, for the queries built with `format!`.
const RELAY_COLUMNS: &str = relay_columns!();

fn relay_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<Relay> {
    let paused_at: Option<i64> = r.get(5)?;
    let paused_reason: Option<String> = r.get(6)?;
    let last_ipv4: Option<String> = r.get(7)?;
    let last_ipv6: Option<String> = r.get(8)?;
    Ok(Relay {
        id: r.get(0)?,
        url: r.get(1)?,
        username: r.get(2)?,
        password: Secret::new(r.get(3)?),
        replaces_local: r.get(4)?,
        paused: paused_at.map(|since| RelayPause { since, reason: paused_reason.unwrap_or_default() }),
        // Only this module writes these columns, always from parsed addresses.
        last_ipv4: last_ipv4.and_then(|s| s.parse().ok()),
        last_ipv6: last_ipv6.and_then(|s| s.parse().ok()),
        last_result: r.get(9)?,
        last_at: r.get(10)?,
    })
}

fn relays_of(conn: &Connection, hostname_id: i64) -> Result<Vec<Relay>, StoreError> {
    let mut stmt =
        conn.prepare(&format!("SELECT {RELAY_COLUMNS} FROM relays r WHERE r.hostname_id = ?1 ORDER BY r.id"))?;
    let rows = stmt.query_map([hostname_id], relay_from)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Store {
    /// Adds a relay to `fqdn`, or replaces the one with the same URL: new credentials and
    /// mode, the pause cleared and the last accepted addresses forgotten, so the next update
    /// is sent there whatever it carries.
    pub(crate) fn set_relay(&mut self, fqdn: &str, relay: &NewRelay<'_>, now: i64) -> Result<RelayChange, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let n = tx.execute(
            "UPDATE relays SET username = ?3, password = ?4, replaces_local = ?5, paused_at = NULL,
                 paused_reason = NULL, last_ipv4 = NULL, last_ipv6 = NULL
             WHERE hostname_id = ?1 AND url = ?2",
            params![host.id, relay.url, relay.username, relay.password.expose(), relay.replaces_local],
        )?;
        let change = if n > 0 {
            RelayChange::Changed
        } else {
            tx.execute(
                "INSERT INTO relays (hostname_id, url, username, password, replaces_local, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![host.id, relay.url, relay.username, relay.password.expose(), relay.replaces_local, now],
            )?;
            RelayChange::Added
        };
        tx.commit()?;
        Ok(change)
    }

    /// Removes the relay of `fqdn` with this URL.
    pub(crate) fn remove_relay(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let n = tx.execute("DELETE FROM relays WHERE hostname_id = ?1 AND url = ?2", params![host.id, url])?;
        tx.commit()?;
        Ok(if n > 0 { RelayChange::Changed } else { RelayChange::NoRelay })
    }

    /// Clears the pause of the relay of `fqdn` with this URL; `Unchanged` when it was not
    /// paused.
    pub(crate) fn clear_relay_pause(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(host) = host_row(&tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let paused: Option<Option<i64>> = tx
            .query_row("SELECT paused_at FROM relays WHERE hostname_id = ?1 AND url = ?2", params![host.id, url], |r| {
                r.get(0)
            })
            .optional()?;
        let change = match paused {
            None => RelayChange::NoRelay,
            Some(None) => RelayChange::Unchanged,
            Some(Some(_)) => {
                tx.execute(
                    "UPDATE relays SET paused_at = NULL, paused_reason = NULL WHERE hostname_id = ?1 AND url = ?2",
                    params![host.id, url],
                )?;
                RelayChange::Changed
            }
        };
        tx.commit()?;
        Ok(change)
    }

    /// The relays of `fqdn` in the order they were added; `None` when there is no such
    /// hostname.
    pub(crate) fn relays(&self, fqdn: &str) -> Result<Option<Vec<Relay>>, StoreError> {
        let Some(host) = host_row(&self.conn, fqdn)? else { return Ok(None) };
        Ok(Some(relays_of(&self.conn, host.id)?))
    }

    /// The relays of `fqdn` when it is owned by `user_id`, for an update: one indexed read,
    /// empty for the hosts without relays (nearly all). On every update's path, so prepared
    /// once per connection: parsing this join cost more than running it.
    pub(crate) fn relays_for_update(&self, fqdn: &str, user_id: i64) -> Result<Vec<Relay>, StoreError> {
        self.memo.relays(fqdn, user_id, || self.relay_rows_for_update(fqdn, user_id))
    }

    fn relay_rows_for_update(&self, fqdn: &str, user_id: i64) -> Result<Vec<Relay>, StoreError> {
        let mut stmt = self.conn.prepare_cached(concat!(
            "SELECT ",
            relay_columns!(),
            " FROM relays r JOIN hostnames h ON h.id = r.hostname_id
             WHERE h.fqdn = ?1 AND h.user_id = ?2 ORDER BY r.id"
        ))?;
        let rows = stmt.query_map(params![fqdn, user_id], relay_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many relays each hostname has, and how many of them replace the local update, by
    /// hostname; for `hostname list`.
    pub(crate) fn relay_counts(&self) -> Result<HashMap<String, (u32, u32)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT h.fqdn, COUNT(*), SUM(r.replaces_local) FROM relays r JOIN hostnames h ON h.id = r.hostname_id
             GROUP BY h.fqdn",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Tries the relay lock of `fqdn` (`store::lock`); `None` while another holds it. Held
    /// until the guard is dropped.
    pub(crate) fn try_lock_relay(&self, fqdn: &str) -> Result<Option<HostGuard>, StoreError> {
        self.locks.try_lock_relay(fqdn)
    }

    /// Writes one attempt's outcome to the relay's row. A relay removed meanwhile is not an
    /// error: there is nothing left to record.
    pub(crate) fn record_relay(&mut self, id: i64, outcome: &RelayOutcome, now: i64) -> Result<(), StoreError> {
        match outcome {
            RelayOutcome::Accepted { ipv4, ipv6, result } => self.conn.execute(
                "UPDATE relays SET last_ipv4 = COALESCE(?2, last_ipv4), last_ipv6 = COALESCE(?3, last_ipv6),
                     last_result = ?4, last_at = ?5 WHERE id = ?1",
                params![id, ipv4.map(|a| a.to_string()), ipv6.map(|a| a.to_string()), result, now],
            )?,
            RelayOutcome::Failed { result } => self
                .conn
                .execute("UPDATE relays SET last_result = ?2, last_at = ?3 WHERE id = ?1", params![id, result, now])?,
            // The addresses the upstream holds are no longer known once it refused us.
            RelayOutcome::Paused { reason } => self.conn.execute(
                "UPDATE relays SET paused_at = ?3, paused_reason = ?2, last_result = ?2, last_at = ?3,
                     last_ipv4 = NULL, last_ipv6 = NULL WHERE id = ?1",
                params![id, reason, now],
            )?,
        };
        Ok(())
    }
}
