//! Derived hostnames (IPv6 prefix fan-out), as `store::sqlite::derived`: who follows whom,
//! set and ended by `hostname derive/underive`, read by the fan-out before an update's host
//! locks are taken.

use mysql::TxOpts;

use super::{Store, col, exec, first, insert, rows, sql};
use crate::store::{Derivation, DeriveOutcome, Derived, NewDerivation, StoreError};

fn ttl(v: Option<i64>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

impl Store {
    pub(crate) fn children(&self, parent: &str, user_id: i64) -> Result<Vec<Derived>, StoreError> {
        const Q: &str = "SELECT c.fqdn, c.ipv4, c.ipv6_iid, c.ipv4_rule, c.derived_ttl (children)";
        let statement = sql(
            "SELECT c.fqdn, c.ipv4, c.ipv6_iid, c.ipv4_rule, c.derived_ttl
             FROM hostnames p JOIN hostnames c ON c.derived_from = p.id
             WHERE p.fqdn = ? AND p.user_id = ? AND c.user_id = p.user_id ORDER BY c.fqdn",
            &[&parent, &user_id],
        );
        let mut out = Vec::new();
        for r in rows(&mut *self.c(), &statement)? {
            // Only `derive` writes `ipv6_iid`, from a parsed address.
            let Some(ipv6_iid) = col::<Option<String>>(&r, 2, Q)?.and_then(|s| s.parse().ok()) else { continue };
            out.push(Derived {
                fqdn: col(&r, 0, Q)?,
                ipv4: col::<Option<String>>(&r, 1, Q)?.and_then(|s| s.parse().ok()),
                ipv6_iid,
                ipv4_rule: col(&r, 3, Q)?,
                dns_ttl: ttl(col(&r, 4, Q)?),
            });
        }
        Ok(out)
    }

    pub(crate) fn stored_ipv4(&self, fqdn: &str) -> Result<Option<std::net::Ipv4Addr>, StoreError> {
        const Q: &str = "SELECT ipv4 FROM hostnames WHERE fqdn = ?";
        let Some(r) = first(&mut *self.c(), &sql(Q, &[&fqdn]))? else { return Ok(None) };
        Ok(col::<Option<String>>(&r, 0, Q)?.and_then(|s| s.parse().ok()))
    }

    /// As `store::postgres`'s: the parent's row locked (`FOR UPDATE`) for the transaction, so
    /// that two derivations at once see each other's link in the cycle check.
    pub(crate) fn derive(&mut self, new: &NewDerivation<'_>, now: i64) -> Result<DeriveOutcome, StoreError> {
        const P: &str = "SELECT id, user_id FROM hostnames WHERE fqdn = ? FOR UPDATE";
        const C: &str =
            "SELECT h.id, h.user_id, u.name FROM hostnames h JOIN users u ON u.id = h.user_id WHERE h.fqdn = ?";
        let mut tx = self.conn.get_mut().start_transaction(TxOpts::default())?;
        let Some(r) = first(&mut tx, &sql(P, &[&new.parent]))? else { return Ok(DeriveOutcome::NoParent) };
        let (parent_id, owner_id): (i64, i64) = (col(&r, 0, P)?, col(&r, 1, P)?);
        let child = match first(&mut tx, &sql(C, &[&new.child.fqdn]))? {
            Some(r) => Some((col::<i64>(&r, 0, C)?, col::<i64>(&r, 1, C)?, col::<String>(&r, 2, C)?)),
            None => None,
        };
        let (child_id, created) = match child {
            Some((_, user_id, owner)) if user_id != owner_id => return Ok(DeriveOutcome::OtherOwner { owner }),
            Some((id, _, _)) => (id, false),
            None => {
                let statement = sql(
                    "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at)
                     VALUES (?, ?, ?, ?, ?, ?)",
                    &[&new.child.fqdn, &new.child.zone, &owner_id, &new.child.dns_ttl, &new.child.expiry_ttl, &now],
                );
                (insert(&mut tx, &statement)?, true)
            }
        };
        // The parent and every host it follows, up the chain; UNION stops at a cycle.
        const CYCLE: &str = "WITH RECURSIVE up(id) AS (
                 SELECT CAST(? AS SIGNED)
                 UNION SELECT h.derived_from FROM hostnames h JOIN up ON h.id = up.id WHERE h.derived_from IS NOT NULL
             ) SELECT EXISTS(SELECT 1 FROM up WHERE id = ?)";
        let cycle = match first(&mut tx, &sql(CYCLE, &[&parent_id, &child_id]))? {
            Some(r) => col::<i64>(&r, 0, CYCLE)? != 0,
            None => false,
        };
        if cycle {
            // Dropping the transaction rolls back a row created above.
            return Ok(DeriveOutcome::Cycle);
        }
        exec(
            &mut tx,
            &sql(
                "UPDATE hostnames SET derived_from = ?, ipv6_iid = ?, ipv4_rule = ?, derived_ttl = ? WHERE id = ?",
                &[&parent_id, &new.ipv6_iid.to_string(), &new.ipv4_rule, &new.dns_ttl, &child_id],
            ),
        )?;
        tx.commit()?;
        Ok(DeriveOutcome::Done { created })
    }

    pub(crate) fn underive(&mut self, child: &str) -> Result<Option<bool>, StoreError> {
        const Q: &str = "SELECT derived_from FROM hostnames WHERE fqdn = ? FOR UPDATE";
        let mut tx = self.conn.get_mut().start_transaction(TxOpts::default())?;
        let Some(r) = first(&mut tx, &sql(Q, &[&child]))? else { return Ok(None) };
        if col::<Option<i64>>(&r, 0, Q)?.is_none() {
            return Ok(Some(false));
        }
        exec(
            &mut tx,
            &sql(
                "UPDATE hostnames SET derived_from = NULL, ipv6_iid = NULL, ipv4_rule = NULL, derived_ttl = NULL
                 WHERE fqdn = ?",
                &[&child],
            ),
        )?;
        tx.commit()?;
        Ok(Some(true))
    }

    pub(crate) fn derivations(&self) -> Result<Vec<Derivation>, StoreError> {
        const Q: &str = "SELECT c.fqdn, p.fqdn, c.ipv6_iid, c.ipv4_rule, c.derived_ttl
             FROM hostnames c JOIN hostnames p ON p.id = c.derived_from ORDER BY c.fqdn";
        let mut out = Vec::new();
        for r in rows(&mut *self.c(), Q)? {
            let Some(ipv6_iid) = col::<Option<String>>(&r, 2, Q)?.and_then(|s| s.parse().ok()) else { continue };
            out.push(Derivation {
                child: col(&r, 0, Q)?,
                parent: col(&r, 1, Q)?,
                ipv6_iid,
                ipv4_rule: col(&r, 3, Q)?,
                dns_ttl: ttl(col(&r, 4, Q)?),
            });
        }
        Ok(out)
    }
}
