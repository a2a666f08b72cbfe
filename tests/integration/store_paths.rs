//! Paths through the store that the rest of the suite left untested, found by the mutation
//! campaign on `store/mod.rs` (issue 12, TESTING.md "Mutation score"): each test names the
//! mutant it kills. Every effect is read back with a DNS query.

use crate::util::World;

const HOME: &str = "home.dyn.example.test";
const CAM: &str = "cam.dyn.example.test";

#[test]
fn an_update_without_ipv4_derives_a_childs_ipv4_from_the_parents_stored_address() {
    // Mutant `Store::stored_ipv4 -> Ok(None)`: an update carrying a prefix but no IPv4 (a
    // router's IPv6-only update) must apply a child's IPv4 host-bit rule to the parent's
    // stored address; otherwise a child derived after the parent's last IPv4 change never
    // gets its A record.
    let w = world!(World::knot());
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    w.admin(&["hostname", "derive", HOME, CAM, "--ipv6-iid", "::c", "--ipv4", "0.0.0.10/24"]).success();
    let r = w.update(&format!("hostname={HOME}&myip=2001:db8:1:2::1&ipv6prefix=2001:db8:1:2::/64"));
    r.expect(200, "good 2001:db8:1:2::1\n");
    assert_eq!(w.a(HOME), ["192.0.2.1"], "the parent's IPv4 stays");
    assert_eq!(w.aaaa(CAM), ["2001:db8:1:2::c"]);
    assert_eq!(w.a(CAM), ["192.0.2.10"], "the host-bit rule on the parent's stored IPv4\n{}", r.log);
}
