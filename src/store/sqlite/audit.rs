//! The audit trail and the metric counters: writing rows (with a host's change, in its
//! transaction, or alone for a refused attempt), reading them back for `hostname history` and
//! `log`, pruning them, and the counters the metrics are made of. What is recorded, and
//! when, is decided in `audit.rs`; this module only stores it.

use rusqlite::{Connection, TransactionBehavior, params};

use super::Store;
use crate::store::{AuditRow, AuditWrite, CounterValue, HostCounts, StoreError};

/// Counter names as stored in `counters.name` (`metrics.rs` exposes them).
pub(crate) const UPDATES: &str = "updates";
pub(crate) const DNS_ERRORS: &str = "dns_errors";
pub(crate) const RATELIMIT_REFUSALS: &str = "ratelimit_refusals";
pub(crate) const EXPIRED_HOSTS: &str = "expired_hosts";
pub(crate) const LAST_EXPIRY: &str = "last_expiry";

const COLUMNS: &str = "at, kind, answer, txn, client, hostname, user, auth, old_ipv4, old_ipv6, new_ipv4, new_ipv6,
    old_txt, new_txt, rcode, reason";

impl Store {
    /// Records `audit` in a transaction of its own (a refused attempt).
    pub(crate) fn record_audit(&mut self, audit: &AuditWrite) -> Result<(), StoreError> {
        if audit.rows.is_empty() {
            return Ok(());
        }
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        record(&tx, audit)?;
        tx.commit()?;
        Ok(())
    }

    /// The rows of one hostname, newest first, at most `limit`.
    pub(crate) fn audit_history(&self, fqdn: &str, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM audit WHERE hostname = ?1 ORDER BY at DESC, id DESC LIMIT ?2"))?;
        let rows = stmt.query_map(params![fqdn, limit], row_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The rows from `since` on, oldest first, at most `limit`; only refusals when asked.
    pub(crate) fn audit_since(&self, since: i64, refused_only: bool, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM audit WHERE at >= ?1 AND (?2 = 0 OR kind = 'refused')
             ORDER BY at, id LIMIT ?3"
        ))?;
        let rows = stmt.query_map(params![since, refused_only, limit], row_from)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes the rows older than `before`; returns how many.
    pub(crate) fn prune_audit(&mut self, before: i64) -> Result<usize, StoreError> {
        Ok(self.conn.execute("DELETE FROM audit WHERE at < ?1", [before])?)
    }

    /// Every counter, by name and label.
    pub(crate) fn counters(&self) -> Result<Vec<CounterValue>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT name, label, value FROM counters ORDER BY name, label")?;
        let rows = stmt.query_map([], |r| Ok(CounterValue { name: r.get(0)?, label: r.get(1)?, value: r.get(2)? }))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Adds `n` to a counter.
    pub(crate) fn add_counter(&mut self, name: &str, label: &str, n: i64) -> Result<(), StoreError> {
        bump(&self.conn, name, label, n)?;
        Ok(())
    }

    /// Sets a single value (such as the time of the last successful expiry run).
    pub(crate) fn set_counter(&mut self, name: &str, label: &str, value: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO counters (name, label, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (name, label) DO UPDATE SET value = excluded.value",
            params![name, label, value],
        )?;
        Ok(())
    }

    /// How many hostnames there are, and how many of them are expired or offline.
    pub(crate) fn host_counts(&self) -> Result<HostCounts, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(expired), 0), COALESCE(SUM(offline), 0) FROM hostnames",
            [],
            |r| Ok(HostCounts { n_hosts: r.get(0)?, n_expired: r.get(1)?, n_offline: r.get(2)? }),
        )?)
    }
}

/// Writes the rows (when kept) and counts them, inside the caller's transaction.
pub(super) fn record(conn: &Connection, audit: &AuditWrite) -> rusqlite::Result<()> {
    for row in &audit.rows {
        if audit.keep {
            conn.prepare_cached(&format!(
                "INSERT INTO audit ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
            ))?
            .execute(params![
                row.at, row.kind, row.answer, row.txn, row.client, row.hostname, row.user, row.auth, row.old_ipv4,
                row.old_ipv6, row.new_ipv4, row.new_ipv6, row.old_txt, row.new_txt, row.rcode, row.reason
            ])?;
        }
        // A console's account change (a token made, a password changed) is no update answer.
        if row.kind != crate::store::ACCOUNT_KIND {
            bump(conn, UPDATES, &row.answer, 1)?;
        }
        if let Some(rcode) = &row.rcode {
            bump(conn, DNS_ERRORS, rcode, 1)?;
        }
        if row.answer == "abuse" {
            bump(conn, RATELIMIT_REFUSALS, row.reason.as_deref().unwrap_or_default(), 1)?;
        }
    }
    Ok(())
}

fn bump(conn: &Connection, name: &str, label: &str, n: i64) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO counters (name, label, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (name, label) DO UPDATE SET value = value + excluded.value",
    )?
    .execute(params![name, label, n])?;
    Ok(())
}

fn row_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    let kind: String = r.get(1)?;
    Ok(AuditRow {
        at: r.get(0)?,
        // Only `record` writes this column, with one of these two.
        kind: if kind == "refused" { "refused" } else { "change" },
        answer: r.get(2)?,
        txn: r.get(3)?,
        client: r.get(4)?,
        hostname: r.get(5)?,
        user: r.get(6)?,
        auth: r.get(7)?,
        old_ipv4: r.get(8)?,
        old_ipv6: r.get(9)?,
        new_ipv4: r.get(10)?,
        new_ipv6: r.get(11)?,
        old_txt: r.get(12)?,
        new_txt: r.get(13)?,
        rcode: r.get(14)?,
        reason: r.get(15)?,
    })
}
