//! Relays to upstream dyndns2 providers: the admin's changes (add or replace, remove, clear a
//! pause), the relays of one hostname for an update, and each attempt's outcome written
//! back. No HTTP here; `relay` sends and decides. As `store::sqlite::relays`.

use std::collections::HashMap;

use postgres::GenericClient;
use postgres::types::Type;

use super::{Store, host_row};
use crate::secret::Secret;
use crate::store::{NewRelay, Relay, RelayChange, RelayOutcome, RelayPause, StoreError};

/// The columns [`relay_from`] reads, in order, from a `relays` table aliased `r`.
pub(super) const RELAY_COLUMNS: &str =
    "r.id, r.url, r.username, r.password, r.replaces_local, r.paused_at, r.paused_reason,
    r.last_ipv4, r.last_ipv6, r.last_result, r.last_at";

/// How many columns [`RELAY_COLUMNS`] names.
pub(super) const N_RELAY_COLUMNS: usize = 11;

fn relay_from(r: &postgres::Row) -> Relay {
    relay_at(r, 0)
}

/// [`relay_from`] of the [`RELAY_COLUMNS`] starting at column `at`.
pub(super) fn relay_at(r: &postgres::Row, at: usize) -> Relay {
    let paused_at: Option<i64> = r.get(at + 5);
    let paused_reason: Option<String> = r.get(at + 6);
    let last_ipv4: Option<String> = r.get(at + 7);
    let last_ipv6: Option<String> = r.get(at + 8);
    Relay {
        id: r.get(at),
        url: r.get(at + 1),
        username: r.get(at + 2),
        password: Secret::new(r.get(at + 3)),
        replaces_local: r.get::<_, i64>(at + 4) != 0,
        paused: paused_at.map(|since| RelayPause { since, reason: paused_reason.unwrap_or_default() }),
        // Only this module writes these columns, always from parsed addresses.
        last_ipv4: last_ipv4.and_then(|s| s.parse().ok()),
        last_ipv6: last_ipv6.and_then(|s| s.parse().ok()),
        last_result: r.get(at + 9),
        last_at: r.get(at + 10),
    }
}

fn relays_of(conn: &mut impl GenericClient, hostname_id: i64) -> Result<Vec<Relay>, StoreError> {
    let rows = conn.query(
        &format!("SELECT {RELAY_COLUMNS} FROM relays r WHERE r.hostname_id = $1 ORDER BY r.id"),
        &[&hostname_id],
    )?;
    Ok(rows.iter().map(relay_from).collect())
}

impl Store {
    pub(crate) fn set_relay(&mut self, fqdn: &str, relay: &NewRelay<'_>, now: i64) -> Result<RelayChange, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let replaces_local = i64::from(relay.replaces_local);
        // One statement, so two admins adding the same URL at once cannot both insert.
        let inserted: bool = tx
            .query_one(
                "INSERT INTO relays (hostname_id, url, username, password, replaces_local, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (hostname_id, url) DO UPDATE SET username = EXCLUDED.username,
                     password = EXCLUDED.password, replaces_local = EXCLUDED.replaces_local, paused_at = NULL,
                     paused_reason = NULL, last_ipv4 = NULL, last_ipv6 = NULL
                 RETURNING (xmax = 0)",
                &[&host.id, &relay.url, &relay.username, relay.password.expose(), &replaces_local, &now],
            )?
            .get(0);
        tx.commit()?;
        Ok(if inserted { RelayChange::Added } else { RelayChange::Changed })
    }

    pub(crate) fn remove_relay(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let n = tx.execute("DELETE FROM relays WHERE hostname_id = $1 AND url = $2", &[&host.id, &url])?;
        tx.commit()?;
        Ok(if n > 0 { RelayChange::Changed } else { RelayChange::NoRelay })
    }

    pub(crate) fn clear_relay_pause(&mut self, fqdn: &str, url: &str) -> Result<RelayChange, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        let Some(host) = host_row(&mut tx, fqdn)? else { return Ok(RelayChange::NoHost) };
        let paused: Option<Option<i64>> = tx
            .query_opt(
                "SELECT paused_at FROM relays WHERE hostname_id = $1 AND url = $2 FOR UPDATE",
                &[&host.id, &url],
            )?
            .map(|r| r.get(0));
        let change = match paused {
            None => RelayChange::NoRelay,
            Some(None) => RelayChange::Unchanged,
            Some(Some(_)) => {
                tx.execute(
                    "UPDATE relays SET paused_at = NULL, paused_reason = NULL WHERE hostname_id = $1 AND url = $2",
                    &[&host.id, &url],
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

    /// The relays of `fqdn` when `user_id` owns it, one statement (`relays_for_update`).
    pub(super) fn relay_rows_for_update(&self, fqdn: &str, user_id: i64) -> Result<Vec<Relay>, StoreError> {
        let rows = self.c().query_typed(
            &format!(
                "SELECT {RELAY_COLUMNS} FROM relays r JOIN hostnames h ON h.id = r.hostname_id
                 WHERE h.fqdn = $1 AND h.user_id = $2 ORDER BY r.id"
            ),
            &[(&fqdn, Type::TEXT), (&user_id, Type::INT8)],
        )?;
        Ok(rows.iter().map(relay_from).collect())
    }

    pub(crate) fn relay_counts(&self) -> Result<HashMap<String, (u32, u32)>, StoreError> {
        let rows = self.c().query(
            "SELECT h.fqdn, COUNT(*), SUM(r.replaces_local)::BIGINT FROM relays r JOIN hostnames h ON h.id = r.hostname_id
             GROUP BY h.fqdn",
            &[],
        )?;
        let n = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(rows.iter().map(|r| (r.get(0), (n(r.get(1)), n(r.get(2))))).collect())
    }

    pub(crate) fn record_relay(&mut self, id: i64, outcome: &RelayOutcome, now: i64) -> Result<(), StoreError> {
        let mut conn = self.c();
        match outcome {
            RelayOutcome::Accepted { ipv4, ipv6, result } => conn.execute(
                "UPDATE relays SET last_ipv4 = COALESCE($2, last_ipv4), last_ipv6 = COALESCE($3, last_ipv6),
                     last_result = $4, last_at = $5 WHERE id = $1",
                &[&id, &ipv4.map(|a| a.to_string()), &ipv6.map(|a| a.to_string()), result, &now],
            )?,
            RelayOutcome::Failed { result } => {
                conn.execute("UPDATE relays SET last_result = $2, last_at = $3 WHERE id = $1", &[&id, result, &now])?
            }
            // The addresses the upstream holds are no longer known once it refused us.
            RelayOutcome::Paused { reason } => conn.execute(
                "UPDATE relays SET paused_at = $3, paused_reason = $2, last_result = $2, last_at = $3,
                     last_ipv4 = NULL, last_ipv6 = NULL WHERE id = $1",
                &[&id, reason, &now],
            )?,
        };
        Ok(())
    }
}
