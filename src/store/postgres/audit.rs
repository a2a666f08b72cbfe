//! The audit trail and the metric counters, as `store::sqlite::audit`: rows written with a
//! host's change (in its transaction) or alone for a refused attempt, read back for
//! `hostname history` and `log`, pruned; the counters the metrics are made of.

use postgres::GenericClient;

use super::Store;
use crate::store::{
    AuditRow, AuditWrite, CounterValue, DNS_ERRORS, HostCounts, RATELIMIT_REFUSALS, StoreError, UPDATES,
};

// `user` is a reserved word in PostgreSQL: quoted.
const COLUMNS: &str = "at, kind, answer, txn, client, hostname, \"user\", auth, old_ipv4, old_ipv6, new_ipv4, new_ipv6,
    old_txt, new_txt, rcode, reason";

impl Store {
    pub(crate) fn record_audit(&mut self, audit: &AuditWrite) -> Result<(), StoreError> {
        if audit.rows.is_empty() {
            return Ok(());
        }
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        record(&mut tx, audit)?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn audit_history(&self, fqdn: &str, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let rows = self.c().query(
            &format!("SELECT {COLUMNS} FROM audit WHERE hostname = $1 ORDER BY at DESC, id DESC LIMIT $2"),
            &[&fqdn, &i64::from(limit)],
        )?;
        Ok(rows.iter().map(row_from).collect())
    }

    pub(crate) fn audit_since(&self, since: i64, refused_only: bool, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let rows = self.c().query(
            &format!(
                "SELECT {COLUMNS} FROM audit WHERE at >= $1 AND (NOT $2 OR kind = 'refused') ORDER BY at, id LIMIT $3"
            ),
            &[&since, &refused_only, &i64::from(limit)],
        )?;
        Ok(rows.iter().map(row_from).collect())
    }

    pub(crate) fn prune_audit(&mut self, before: i64) -> Result<usize, StoreError> {
        let n = self.c().execute("DELETE FROM audit WHERE at < $1", &[&before])?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(crate) fn counters(&self) -> Result<Vec<CounterValue>, StoreError> {
        let rows = self
            .c()
            .query("SELECT name, label, value FROM counters ORDER BY name COLLATE \"C\", label COLLATE \"C\"", &[])?;
        Ok(rows.iter().map(|r| CounterValue { name: r.get(0), label: r.get(1), value: r.get(2) }).collect())
    }

    pub(crate) fn add_counter(&mut self, name: &str, label: &str, n: i64) -> Result<(), StoreError> {
        bump(&mut *self.c(), name, label, n)
    }

    pub(crate) fn set_counter(&mut self, name: &str, label: &str, value: i64) -> Result<(), StoreError> {
        self.c().execute(
            "INSERT INTO counters (name, label, value) VALUES ($1, $2, $3)
             ON CONFLICT (name, label) DO UPDATE SET value = EXCLUDED.value",
            &[&name, &label, &value],
        )?;
        Ok(())
    }

    pub(crate) fn host_counts(&self) -> Result<HostCounts, StoreError> {
        let r = self.c().query_one(
            "SELECT COUNT(*), COALESCE(SUM(expired), 0)::BIGINT, COALESCE(SUM(offline), 0)::BIGINT FROM hostnames",
            &[],
        )?;
        Ok(HostCounts { n_hosts: r.get(0), n_expired: r.get(1), n_offline: r.get(2) })
    }
}

/// Writes the rows (when kept) and counts them, inside the caller's transaction.
pub(super) fn record(conn: &mut impl GenericClient, audit: &AuditWrite) -> Result<(), StoreError> {
    for row in &audit.rows {
        if audit.keep {
            conn.execute(
                &format!(
                    "INSERT INTO audit ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
                ),
                &[
                    &row.at, &row.kind, &row.answer, &row.txn, &row.client, &row.hostname, &row.user, &row.auth,
                    &row.old_ipv4, &row.old_ipv6, &row.new_ipv4, &row.new_ipv6, &row.old_txt, &row.new_txt, &row.rcode,
                    &row.reason,
                ],
            )?;
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

fn bump(conn: &mut impl GenericClient, name: &str, label: &str, n: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO counters (name, label, value) VALUES ($1, $2, $3)
         ON CONFLICT (name, label) DO UPDATE SET value = counters.value + EXCLUDED.value",
        &[&name, &label, &n],
    )?;
    Ok(())
}

fn row_from(r: &postgres::Row) -> AuditRow {
    let kind: String = r.get(1);
    AuditRow {
        at: r.get(0),
        // Only `record` writes this column, with one of these two.
        kind: if kind == "refused" { "refused" } else { "change" },
        answer: r.get(2),
        txn: r.get(3),
        client: r.get(4),
        hostname: r.get(5),
        user: r.get(6),
        auth: r.get(7),
        old_ipv4: r.get(8),
        old_ipv6: r.get(9),
        new_ipv4: r.get(10),
        new_ipv6: r.get(11),
        old_txt: r.get(12),
        new_txt: r.get(13),
        rcode: r.get(14),
        reason: r.get(15),
    }
}
