//! The audit trail and the metric counters, as `store::postgres::audit`: rows written with a
//! host's change (in its transaction) or alone for a refused attempt, read back for
//! `hostname history` and `log`, pruned; the counters the metrics are made of.

use std::collections::BTreeMap;

use mysql::prelude::Queryable;

use super::{Store, col, exec, first, rows, sql};
use crate::store::{
    AuditRow, AuditWrite, CounterValue, DNS_ERRORS, HostCounts, RATELIMIT_REFUSALS, StoreError, UPDATES,
};

// `user` is quoted as on PostgreSQL, where it is a reserved word.
const COLUMNS: &str = "at, kind, answer, txn, client, hostname, `user`, auth, old_ipv4, old_ipv6, new_ipv4, new_ipv6,
    old_txt, new_txt, rcode, reason";

impl Store {
    pub(crate) fn record_audit(&mut self, audit: &AuditWrite) -> Result<(), StoreError> {
        if audit.rows.is_empty() {
            return Ok(());
        }
        super::transaction(self.conn.get_mut(), &statements(audit), "")
    }

    pub(crate) fn audit_history(&self, fqdn: &str, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let statement = sql(
            &format!("SELECT {COLUMNS} FROM audit WHERE hostname = ? ORDER BY at DESC, id DESC LIMIT ?"),
            &[&fqdn, &limit],
        );
        rows(&mut *self.c(), &statement)?.iter().map(row_from).collect()
    }

    pub(crate) fn audit_since(&self, since: i64, refused_only: bool, limit: u32) -> Result<Vec<AuditRow>, StoreError> {
        let statement = sql(
            &format!(
                "SELECT {COLUMNS} FROM audit WHERE at >= ? AND (NOT ? OR kind = 'refused') ORDER BY at, id LIMIT ?"
            ),
            &[&since, &refused_only, &limit],
        );
        rows(&mut *self.c(), &statement)?.iter().map(row_from).collect()
    }

    pub(crate) fn prune_audit(&mut self, before: i64) -> Result<usize, StoreError> {
        let n = exec(self.conn.get_mut(), &sql("DELETE FROM audit WHERE at < ?", &[&before]))?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(crate) fn counters(&self) -> Result<Vec<CounterValue>, StoreError> {
        // The binary collation: byte order, as the other engines sort.
        const Q: &str = "SELECT name, label, value FROM counters ORDER BY name, label";
        rows(&mut *self.c(), Q)?
            .iter()
            .map(|r| Ok(CounterValue { name: col(r, 0, Q)?, label: col(r, 1, Q)?, value: col(r, 2, Q)? }))
            .collect()
    }

    pub(crate) fn add_counter(&mut self, name: &str, label: &str, n: i64) -> Result<(), StoreError> {
        bump(self.conn.get_mut(), name, label, n)
    }

    pub(crate) fn set_counter(&mut self, name: &str, label: &str, value: i64) -> Result<(), StoreError> {
        let statement = sql(
            "INSERT INTO counters (name, label, value) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE value = VALUES(value)",
            &[&name, &label, &value],
        );
        exec(self.conn.get_mut(), &statement)?;
        Ok(())
    }

    pub(crate) fn host_counts(&self) -> Result<HostCounts, StoreError> {
        const Q: &str = "SELECT COUNT(*), CAST(COALESCE(SUM(expired), 0) AS SIGNED),
             CAST(COALESCE(SUM(offline), 0) AS SIGNED) FROM hostnames";
        let Some(r) = first(&mut *self.c(), Q)? else {
            return Ok(HostCounts { n_hosts: 0, n_expired: 0, n_offline: 0 });
        };
        Ok(HostCounts { n_hosts: col(&r, 0, Q)?, n_expired: col(&r, 1, Q)?, n_offline: col(&r, 2, Q)? })
    }
}

/// The statements that write the rows (when kept) and count them, for the caller's
/// transaction: the rows in one `INSERT`, the counter bumps in another, whatever their
/// number.
pub(super) fn statements(audit: &AuditWrite) -> Vec<String> {
    let mut out = Vec::with_capacity(2);
    if audit.keep && !audit.rows.is_empty() {
        let mut insert = format!("INSERT INTO audit ({COLUMNS}) VALUES ");
        for (i, row) in audit.rows.iter().enumerate() {
            if i > 0 {
                insert.push_str(", ");
            }
            insert.push_str(&sql(
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                &[
                    &row.at,
                    &row.kind,
                    &row.answer,
                    &row.txn,
                    &row.client,
                    &row.hostname,
                    &row.user,
                    &row.auth,
                    &row.old_ipv4,
                    &row.old_ipv6,
                    &row.new_ipv4,
                    &row.new_ipv6,
                    &row.old_txt,
                    &row.new_txt,
                    &row.rcode,
                    &row.reason,
                ],
            ));
        }
        out.push(insert);
    }
    // Summed per counter, in (name, label) order: every writer locks the counters' rows in
    // one order, so two runs bumping the same counters cannot deadlock.
    let mut sums: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for row in &audit.rows {
        // A console's account change (a token made, a password changed) is no update answer.
        if row.kind != crate::store::ACCOUNT_KIND {
            *sums.entry((UPDATES, &row.answer)).or_default() += 1;
        }
        if let Some(rcode) = &row.rcode {
            *sums.entry((DNS_ERRORS, rcode)).or_default() += 1;
        }
        if row.answer == "abuse" {
            *sums.entry((RATELIMIT_REFUSALS, row.reason.as_deref().unwrap_or_default())).or_default() += 1;
        }
    }
    if !sums.is_empty() {
        let values: Vec<String> = sums.iter().map(|((name, label), n)| sql("(?, ?, ?)", &[name, label, n])).collect();
        out.push(format!(
            "INSERT INTO counters (name, label, value) VALUES {} ON DUPLICATE KEY UPDATE value = value + VALUES(value)",
            values.join(", ")
        ));
    }
    out
}

fn bump(conn: &mut impl Queryable, name: &str, label: &str, n: i64) -> Result<(), StoreError> {
    let statement = sql(
        "INSERT INTO counters (name, label, value) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE value = value + VALUES(value)",
        &[&name, &label, &n],
    );
    exec(conn, &statement)?;
    Ok(())
}

fn row_from(r: &mysql::Row) -> Result<AuditRow, StoreError> {
    const Q: &str = "SELECT COLUMNS FROM audit";
    let kind: String = col(r, 1, Q)?;
    Ok(AuditRow {
        at: col(r, 0, Q)?,
        // Only `record` writes this column, with one of these two.
        kind: if kind == "refused" { "refused" } else { "change" },
        answer: col(r, 2, Q)?,
        txn: col(r, 3, Q)?,
        client: col(r, 4, Q)?,
        hostname: col(r, 5, Q)?,
        user: col(r, 6, Q)?,
        auth: col(r, 7, Q)?,
        old_ipv4: col(r, 8, Q)?,
        old_ipv6: col(r, 9, Q)?,
        new_ipv4: col(r, 10, Q)?,
        new_ipv6: col(r, 11, Q)?,
        old_txt: col(r, 12, Q)?,
        new_txt: col(r, 13, Q)?,
        rcode: col(r, 14, Q)?,
        reason: col(r, 15, Q)?,
    })
}
