//! Derived hostnames (IPv6 prefix fan-out): who follows whom, set and ended by `hostname
//! derive/underive`, and read by the fan-out before an update's host locks are taken. The
//! address arithmetic is `fanout`'s; this module only stores the relation.

use rusqlite::{OptionalExtension as _, TransactionBehavior, params};

use super::Store;
use crate::store::{Derivation, DeriveOutcome, Derived, NewDerivation, StoreError};

impl Store {
    /// The hostnames that follow `parent`, when `parent` belongs to `user_id`, by name.
    pub(crate) fn children(&self, parent: &str, user_id: i64) -> Result<Vec<Derived>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.fqdn, c.ipv4, c.ipv6_iid, c.ipv4_rule, c.derived_ttl
             FROM hostnames p JOIN hostnames c ON c.derived_from = p.id
             WHERE p.fqdn = ?1 AND p.user_id = ?2 AND c.user_id = p.user_id ORDER BY c.fqdn",
        )?;
        let rows = stmt.query_map(params![parent, user_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<u32>>(4)?,
            ))
        })?;
        let mut children = Vec::new();
        for row in rows {
            let (fqdn, ipv4, iid, ipv4_rule, dns_ttl) = row?;
            // Only `derive` writes `ipv6_iid`, from a parsed address; a row without one
            // (edited by hand) has nothing to follow.
            let Some(ipv6_iid) = iid.and_then(|s| s.parse().ok()) else { continue };
            children.push(Derived { fqdn, ipv4: ipv4.and_then(|s| s.parse().ok()), ipv6_iid, ipv4_rule, dns_ttl });
        }
        Ok(children)
    }

    /// The IPv4 stored for `fqdn`, for host-bit rules when an update carries no IPv4.
    pub(crate) fn stored_ipv4(&self, fqdn: &str) -> Result<Option<std::net::Ipv4Addr>, StoreError> {
        let v: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT ipv4 FROM hostnames WHERE fqdn = ?1")?
            .query_row([fqdn], |r| r.get(0))
            .optional()?;
        Ok(v.flatten().and_then(|s| s.parse().ok()))
    }

    /// Makes `new.child` follow `new.parent` in one transaction: creates the child's row
    /// (owned by the parent's owner) when it is missing, refuses a child of another owner
    /// and a cycle (the child is the parent or one of the hosts the parent follows).
    pub(crate) fn derive(&mut self, new: &NewDerivation<'_>, now: i64) -> Result<DeriveOutcome, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let parent: Option<(i64, i64)> = tx
            .query_row("SELECT id, user_id FROM hostnames WHERE fqdn = ?1", [new.parent], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((parent_id, owner_id)) = parent else { return Ok(DeriveOutcome::NoParent) };
        let child: Option<(i64, i64, String)> = tx
            .query_row(
                "SELECT h.id, h.user_id, u.name FROM hostnames h JOIN users u ON u.id = h.user_id WHERE h.fqdn = ?1",
                [new.child.fqdn],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let (child_id, created) = match child {
            Some((_, user_id, owner)) if user_id != owner_id => return Ok(DeriveOutcome::OtherOwner { owner }),
            Some((id, _, _)) => (id, false),
            None => {
                tx.execute(
                    "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![new.child.fqdn, new.child.zone, owner_id, new.child.dns_ttl, new.child.expiry_ttl, now],
                )?;
                (tx.last_insert_rowid(), true)
            }
        };
        // The parent and every host it follows, up the chain; UNION stops at a cycle.
        let cycle: bool = tx.query_row(
            "WITH RECURSIVE up(id) AS (
                 SELECT ?1
                 UNION SELECT h.derived_from FROM hostnames h JOIN up ON h.id = up.id WHERE h.derived_from IS NOT NULL
             ) SELECT EXISTS(SELECT 1 FROM up WHERE id = ?2)",
            params![parent_id, child_id],
            |r| r.get(0),
        )?;
        if cycle {
            // Dropping the transaction rolls back a row created above.
            return Ok(DeriveOutcome::Cycle);
        }
        tx.execute(
            "UPDATE hostnames SET derived_from = ?1, ipv6_iid = ?2, ipv4_rule = ?3, derived_ttl = ?4 WHERE id = ?5",
            params![parent_id, new.ipv6_iid.to_string(), new.ipv4_rule, new.dns_ttl, child_id],
        )?;
        tx.commit()?;
        Ok(DeriveOutcome::Done { created })
    }

    /// Ends a derivation; the child keeps its row and records. `None` when there is no such
    /// hostname, `Some(false)` when it follows nobody.
    pub(crate) fn underive(&mut self, child: &str) -> Result<Option<bool>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let from: Option<Option<i64>> =
            tx.query_row("SELECT derived_from FROM hostnames WHERE fqdn = ?1", [child], |r| r.get(0)).optional()?;
        let Some(from) = from else { return Ok(None) };
        if from.is_none() {
            return Ok(Some(false));
        }
        tx.execute(
            "UPDATE hostnames SET derived_from = NULL, ipv6_iid = NULL, ipv4_rule = NULL, derived_ttl = NULL
             WHERE fqdn = ?1",
            [child],
        )?;
        tx.commit()?;
        Ok(Some(true))
    }

    /// Every derivation, by child name, for `hostname list`.
    pub(crate) fn derivations(&self) -> Result<Vec<Derivation>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT c.fqdn, p.fqdn, c.ipv6_iid, c.ipv4_rule, c.derived_ttl
             FROM hostnames c JOIN hostnames p ON p.id = c.derived_from ORDER BY c.fqdn",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<u32>>(4)?,
            ))
        })?;
        let mut list = Vec::new();
        for row in rows {
            let (child, parent, iid, ipv4_rule, dns_ttl) = row?;
            let Some(ipv6_iid) = iid.and_then(|s| s.parse().ok()) else { continue };
            list.push(Derivation { child, parent, ipv6_iid, ipv4_rule, dns_ttl });
        }
        Ok(list)
    }
}
