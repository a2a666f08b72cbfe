//! The audit trail and the metric counters, as `store::sqlite::audit`: rows written with a
//! host's change (in its transaction) or alone for a refused attempt, read back for
//! `hostname history` and `log`, pruned; the counters the metrics are made of.

use std::collections::BTreeMap;

use postgres::GenericClient;
use postgres::types::{ToSql, Type};

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
        // One statement: its own transaction, one round trip.
        let sql = format!("WITH {} SELECT 1", record_ctes(1));
        let rows = Columns::of(audit);
        let counts = counts(audit);
        let mut params = Vec::new();
        rows.push_params(&counts, &mut params);
        self.c().query_typed(&sql, &params)?;
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

/// The common table expressions that write an [`AuditWrite`]: its rows (when kept) and its
/// counter bumps, from the arrays [`Columns::push_params`] adds as parameters `$first` on
/// (16 audit columns, then the counters' names, labels and amounts). Part of one statement,
/// so of the caller's transaction; one round trip whatever the number of rows.
pub(super) fn record_ctes(first: usize) -> String {
    let f = first;
    let text = |i: usize| format!("${}::TEXT[]", f + i);
    let audit_arrays: Vec<String> = std::iter::once(format!("${f}::BIGINT[]")).chain((1..16).map(text)).collect();
    format!(
        "audit_rows AS (INSERT INTO audit ({COLUMNS}) SELECT * FROM unnest({})),
         counted AS (INSERT INTO counters (name, label, value)
             SELECT * FROM unnest({}, {}, ${}::BIGINT[])
             ON CONFLICT (name, label) DO UPDATE SET value = counters.value + EXCLUDED.value)",
        audit_arrays.join(", "),
        text(16),
        text(17),
        f + 18
    )
}

/// An [`AuditWrite`]'s rows as one array per audit column (empty when not kept), for
/// [`record_ctes`].
pub(super) struct Columns<'a> {
    at: Vec<i64>,
    text: [Vec<Option<&'a str>>; 15],
}

/// The counter bumps of an [`AuditWrite`], one per (name, label), in that order: the rows are
/// locked in one order by every writer, so two runs bumping the same counters cannot deadlock.
pub(super) struct Counts<'a> {
    names: Vec<&'a str>,
    labels: Vec<&'a str>,
    amounts: Vec<i64>,
}

impl<'a> Columns<'a> {
    pub(super) fn of(audit: &'a AuditWrite) -> Columns<'a> {
        let mut columns = Columns { at: Vec::new(), text: Default::default() };
        if !audit.keep {
            return columns;
        }
        for row in &audit.rows {
            columns.at.push(row.at);
            let values = [
                Some(row.kind),
                Some(row.answer.as_str()),
                Some(row.txn.as_str()),
                row.client.as_deref(),
                row.hostname.as_deref(),
                row.user.as_deref(),
                row.auth.as_deref(),
                row.old_ipv4.as_deref(),
                row.old_ipv6.as_deref(),
                row.new_ipv4.as_deref(),
                row.new_ipv6.as_deref(),
                row.old_txt.as_deref(),
                row.new_txt.as_deref(),
                row.rcode.as_deref(),
                row.reason.as_deref(),
            ];
            for (column, value) in columns.text.iter_mut().zip(values) {
                column.push(value);
            }
        }
        columns
    }

    /// Adds the parameters of [`record_ctes`], in its order.
    pub(super) fn push_params<'p>(&'p self, counts: &'p Counts<'_>, params: &mut Vec<(&'p (dyn ToSql + Sync), Type)>) {
        params.push((&self.at, Type::INT8_ARRAY));
        for column in &self.text {
            params.push((column, Type::TEXT_ARRAY));
        }
        params.push((&counts.names, Type::TEXT_ARRAY));
        params.push((&counts.labels, Type::TEXT_ARRAY));
        params.push((&counts.amounts, Type::INT8_ARRAY));
    }
}

/// What the rows add to the counters, whether or not the rows are kept.
pub(super) fn counts(audit: &AuditWrite) -> Counts<'_> {
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
    let mut counts = Counts { names: Vec::new(), labels: Vec::new(), amounts: Vec::new() };
    for ((name, label), n) in sums {
        counts.names.push(name);
        counts.labels.push(label);
        counts.amounts.push(n);
    }
    counts
}

fn bump(conn: &mut impl GenericClient, name: &str, label: &str, n: i64) -> Result<(), StoreError> {
    conn.execute_typed(
        "INSERT INTO counters (name, label, value) VALUES ($1, $2, $3)
         ON CONFLICT (name, label) DO UPDATE SET value = counters.value + EXCLUDED.value",
        &[(&name, Type::TEXT), (&label, Type::TEXT), (&n, Type::INT8)],
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
