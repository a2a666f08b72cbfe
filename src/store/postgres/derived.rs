//! Derived hostnames (IPv6 prefix fan-out), as `store::sqlite::derived`: who follows whom,
//! set and ended by `hostname derive/underive`, read by the fan-out before an update's host
//! locks are taken.

use super::Store;
use crate::store::{Derivation, DeriveOutcome, Derived, NewDerivation, StoreError};

fn ttl(v: Option<i64>) -> Option<u32> {
    v.and_then(|v| u32::try_from(v).ok())
}

impl Store {
    pub(crate) fn children(&self, parent: &str, user_id: i64) -> Result<Vec<Derived>, StoreError> {
        let rows = self.c().query(
            "SELECT c.fqdn, c.ipv4, c.ipv6_iid, c.ipv4_rule, c.derived_ttl
             FROM hostnames p JOIN hostnames c ON c.derived_from = p.id
             WHERE p.fqdn = $1 AND p.user_id = $2 AND c.user_id = p.user_id ORDER BY c.fqdn COLLATE \"C\"",
            &[&parent, &user_id],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                // Only `derive` writes `ipv6_iid`, from a parsed address.
                let ipv6_iid = r.get::<_, Option<String>>(2)?.parse().ok()?;
                Some(Derived {
                    fqdn: r.get(0),
                    ipv4: r.get::<_, Option<String>>(1).and_then(|s| s.parse().ok()),
                    ipv6_iid,
                    ipv4_rule: r.get(3),
                    dns_ttl: ttl(r.get(4)),
                })
            })
            .collect())
    }

    pub(crate) fn stored_ipv4(&self, fqdn: &str) -> Result<Option<std::net::Ipv4Addr>, StoreError> {
        let v: Option<Option<String>> =
            self.c().query_opt("SELECT ipv4 FROM hostnames WHERE fqdn = $1", &[&fqdn])?.map(|r| r.get(0));
        Ok(v.flatten().and_then(|s| s.parse().ok()))
    }

    pub(crate) fn derive(&mut self, new: &NewDerivation<'_>, now: i64) -> Result<DeriveOutcome, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        let parent: Option<(i64, i64)> = tx
            .query_opt("SELECT id, user_id FROM hostnames WHERE fqdn = $1 FOR UPDATE", &[&new.parent])?
            .map(|r| (r.get(0), r.get(1)));
        let Some((parent_id, owner_id)) = parent else { return Ok(DeriveOutcome::NoParent) };
        let child: Option<(i64, i64, String)> = tx
            .query_opt(
                "SELECT h.id, h.user_id, u.name FROM hostnames h JOIN users u ON u.id = h.user_id WHERE h.fqdn = $1",
                &[&new.child.fqdn],
            )?
            .map(|r| (r.get(0), r.get(1), r.get(2)));
        let (child_id, created) = match child {
            Some((_, user_id, owner)) if user_id != owner_id => return Ok(DeriveOutcome::OtherOwner { owner }),
            Some((id, _, _)) => (id, false),
            None => {
                let id: i64 = tx
                    .query_one(
                        "INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                        &[
                            &new.child.fqdn,
                            &new.child.zone,
                            &owner_id,
                            &i64::from(new.child.dns_ttl),
                            &i64::from(new.child.expiry_ttl),
                            &now,
                        ],
                    )?
                    .get(0);
                (id, true)
            }
        };
        // The parent and every host it follows, up the chain; UNION stops at a cycle.
        let cycle: bool = tx
            .query_one(
                "WITH RECURSIVE up(id) AS (
                     SELECT $1::BIGINT
                     UNION SELECT h.derived_from FROM hostnames h JOIN up ON h.id = up.id WHERE h.derived_from IS NOT NULL
                 ) SELECT EXISTS(SELECT 1 FROM up WHERE id = $2)",
                &[&parent_id, &child_id],
            )?
            .get(0);
        if cycle {
            // Dropping the transaction rolls back a row created above.
            return Ok(DeriveOutcome::Cycle);
        }
        tx.execute(
            "UPDATE hostnames SET derived_from = $1, ipv6_iid = $2, ipv4_rule = $3, derived_ttl = $4 WHERE id = $5",
            &[&parent_id, &new.ipv6_iid.to_string(), &new.ipv4_rule, &new.dns_ttl.map(i64::from), &child_id],
        )?;
        tx.commit()?;
        Ok(DeriveOutcome::Done { created })
    }

    pub(crate) fn underive(&mut self, child: &str) -> Result<Option<bool>, StoreError> {
        let mut conn = self.c();
        let mut tx = conn.transaction()?;
        let from: Option<Option<i64>> =
            tx.query_opt("SELECT derived_from FROM hostnames WHERE fqdn = $1 FOR UPDATE", &[&child])?.map(|r| r.get(0));
        let Some(from) = from else { return Ok(None) };
        if from.is_none() {
            return Ok(Some(false));
        }
        tx.execute(
            "UPDATE hostnames SET derived_from = NULL, ipv6_iid = NULL, ipv4_rule = NULL, derived_ttl = NULL
             WHERE fqdn = $1",
            &[&child],
        )?;
        tx.commit()?;
        Ok(Some(true))
    }

    pub(crate) fn derivations(&self) -> Result<Vec<Derivation>, StoreError> {
        let rows = self.c().query(
            "SELECT c.fqdn, p.fqdn, c.ipv6_iid, c.ipv4_rule, c.derived_ttl
             FROM hostnames c JOIN hostnames p ON p.id = c.derived_from ORDER BY c.fqdn COLLATE \"C\"",
            &[],
        )?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let ipv6_iid = r.get::<_, Option<String>>(2)?.parse().ok()?;
                Some(Derivation {
                    child: r.get(0),
                    parent: r.get(1),
                    ipv6_iid,
                    ipv4_rule: r.get(3),
                    dns_ttl: ttl(r.get(4)),
                })
            })
            .collect())
    }
}
