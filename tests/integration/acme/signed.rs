//! Challenge records in a DNSSEC-signed acme zone: Knot signs the zone and every update
//! itself (`dnssec-signing: on`, the shipped snippet's DNSSEC variant), so nothing in
//! ddns-cgi may stand in its way. The values an acme-dns update sets are served signed and
//! `delv`, given the zone's own trust anchor, fully validates them; a name whose values were
//! removed (`DELETE /acme/update`, the expiry run) is proven empty by a validated denial.

use super::{ACME, Account, TXT_A, TXT_B, TXT_C, add_account, expect_json, update_req};
use crate::dnssec::signed_world;
use crate::util::dnsserver::Validated;
use crate::util::{Cgi, DnsKind, World};

fn delete_req(a: &Account, txt: &str) -> Cgi {
    let mut req = update_req(a, &a.subdomain, txt);
    req.method = "DELETE".into();
    req
}

/// `delv` fully validates `values`, and no others, as the TXT rrset at `a`'s name.
#[track_caller]
fn signed_values(w: &World, a: &Account, values: &[&str]) {
    let mut quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    quoted.sort();
    assert_eq!(w.dns.validated(&a.fulldomain, "TXT"), Validated::Records(quoted), "{}", a.fulldomain);
}

/// A validated proof that `a`'s name has no TXT records: NXDOMAIN or NODATA.
#[track_caller]
fn proven_empty(w: &World, a: &Account) {
    let v = w.dns.validated(&a.fulldomain, "TXT");
    assert!(matches!(v, Validated::NxDomain | Validated::NoData), "{}: {v:?}", a.fulldomain);
}

#[test]
fn challenge_values_in_a_signed_zone_validate_and_removed_ones_are_proven_gone() {
    let w = world!(signed_world(DnsKind::Knot, &[], &format!("log_requests = true\n{ACME}values = 3\n")));
    let a = add_account(&w, "example.org", &[]);
    let b = add_account(&w, "example.net", &[]);
    proven_empty(&w, &a);

    // Three values at one name, as three challenges at once: one signed rrset.
    for v in [TXT_A, TXT_B, TXT_C] {
        expect_json(&w.cgi(&update_req(&a, &a.subdomain, v)), 200, serde_json::json!({ "txt": v }));
    }
    expect_json(&w.cgi(&update_req(&b, &b.subdomain, TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    signed_values(&w, &a, &[TXT_A, TXT_B, TXT_C]);
    signed_values(&w, &b, &[TXT_A]);

    // One value removed: the rest, signed anew.
    expect_json(&w.cgi(&delete_req(&a, TXT_B)), 200, serde_json::json!({ "txt": TXT_B }));
    signed_values(&w, &a, &[TXT_A, TXT_C]);
    // The last ones removed: the name's absence is proven.
    for v in [TXT_A, TXT_C] {
        expect_json(&w.cgi(&delete_req(&a, v)), 200, serde_json::json!({ "txt": v }));
    }
    proven_empty(&w, &a);

    // The expiry run removes a value past `value_ttl` (an hour by default): proven gone too.
    w.sql("UPDATE acme_values SET set_at = set_at - 7200");
    w.admin(&["expire"]).success();
    proven_empty(&w, &b);
    // A new value at the emptied name validates again.
    expect_json(&w.cgi(&update_req(&a, &a.subdomain, TXT_B)), 200, serde_json::json!({ "txt": TXT_B }));
    signed_values(&w, &a, &[TXT_B]);
}
