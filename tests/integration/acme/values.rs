//! What the acme-dns API adds to acme-dns, against a real Knot: `[acme] values` challenge
//! values per account, each removed by the expiry run `[acme] value_ttl` after it was set;
//! `DELETE /acme/update` (and `"delete": true`) removing one value, an empty `txt` removing
//! nothing; `DELETE /acme/register` with the account's own credentials and `acme delete`,
//! the records gone from DNS before the account. Every step is checked in DNS.

use super::{Account, TXT_A, TXT_B, TXT_C, acme_world, add_account, expect_json, post, txt, update_req};
use crate::util::{Cgi, World};

/// Challenge-shaped values: 43 characters of base64url, one per letter.
fn value(c: char) -> String {
    format!("{}{}", c.to_string().repeat(42), 'Q')
}

fn sorted(values: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = values.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

fn delete_req(a: &Account, txt: &str) -> Cgi {
    let mut req = update_req(a, &a.subdomain, txt);
    req.method = "DELETE".into();
    req
}

/// The values stored for `a`, newest first.
fn stored(w: &World, a: &Account) -> Vec<String> {
    w.rows(&format!(
        "SELECT v.txt FROM acme_values v JOIN acme_accounts a ON a.id = v.account_id \
         WHERE a.username = '{}' ORDER BY v.position",
        a.username
    ))
    .into_iter()
    .filter_map(|r| r.into_iter().next().flatten())
    .collect()
}

#[test]
fn more_values_each_with_its_lifetime() {
    let w = world!(acme_world("values = 10\nvalue_ttl = \"10m\"\n"));
    let a = add_account(&w, "example.org", &[]);
    // Five names and their wildcards validate at once: ten values, all published.
    let ten: Vec<String> = "abcdefghij".chars().map(value).collect();
    for v in &ten {
        expect_json(&w.cgi(&update_req(&a, &a.subdomain, v)), 200, serde_json::json!({ "txt": v }));
    }
    let all: Vec<&str> = ten.iter().map(String::as_str).collect();
    assert_eq!(txt(&w, &a.fulldomain), sorted(&all));
    // Why a certificate test cannot put them all at one name for pebble: ten TXT records of
    // 43 characters take 560 bytes of answer, more than the 512 a query without EDNS may get
    // over UDP (RFC 1035 §4.2.1). Asked that way, as pebble asks, the server truncates the
    // answer (TC, no record); with EDNS (RFC 6891), or over TCP, all ten come.
    let fqdn = format!("{}.", a.fulldomain);
    let answer = |args: &[&str]| {
        let mut all = vec![fqdn.as_str(), "TXT"];
        all.extend_from_slice(args);
        // kdig exits non-zero on a truncated answer it may not retry: its output is the same.
        w.dns.dig(&all).unwrap_or_else(|e| e)
    };
    let records = |out: &str| {
        let answers = out.lines().filter(|l| !l.starts_with(';'));
        answers.filter(|l| l.split_whitespace().nth(3) == Some("TXT")).count()
    };
    let plain = answer(&["+noedns", "+notcp", "+ignore"]);
    let flags = plain.lines().find(|l| l.to_lowercase().contains("flags:")).unwrap_or_default().to_lowercase();
    assert!(flags.contains(" tc"), "{plain}");
    assert_eq!(records(&plain), 0, "{plain}");
    assert_eq!(records(&answer(&["+bufsize=1232", "+notcp", "+ignore"])), 10);
    assert_eq!(records(&answer(&["+noedns", "+tcp"])), 10);
    // An eleventh pushes out the oldest.
    let k = value('k');
    expect_json(&w.cgi(&update_req(&a, &a.subdomain, &k)), 200, serde_json::json!({ "txt": k }));
    let mut newest: Vec<&str> = all[1..].to_vec();
    newest.push(&k);
    assert_eq!(txt(&w, &a.fulldomain), sorted(&newest));
    assert_eq!(stored(&w, &a).len(), 10);

    // The expiry run removes the values set ten minutes ago or earlier, and no others.
    w.sql(&format!("UPDATE acme_values SET set_at = set_at - 600 WHERE txt IN ('{}', '{}')", all[1], all[2]));
    let before = txt(&w, &a.fulldomain);
    w.admin(&["expire"]).success();
    let left: Vec<String> = before.into_iter().filter(|v| v != all[1] && v != all[2]).collect();
    assert_eq!(txt(&w, &a.fulldomain), left);
    assert_eq!(stored(&w, &a).len(), 8);
    // A second run finds nothing due and sends nothing.
    w.admin(&["expire"]).success();
    assert_eq!(txt(&w, &a.fulldomain), left);
    // All of them old: the rrset goes, the account stays and takes new values.
    w.sql("UPDATE acme_values SET set_at = set_at - 600");
    w.admin(&["expire"]).success();
    assert!(txt(&w, &a.fulldomain).is_empty());
    assert!(stored(&w, &a).is_empty());
    expect_json(&w.cgi(&update_req(&a, &a.subdomain, TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    assert_eq!(txt(&w, &a.fulldomain), [TXT_A]);
}

#[test]
fn values_kept_as_acme_dns_by_default() {
    // Two values, as acme-dns: a repeated value stays with the other one.
    let w = world!(acme_world(""));
    let a = add_account(&w, "example.org", &[]);
    for v in [TXT_A, TXT_B, TXT_A] {
        expect_json(&w.cgi(&update_req(&a, &a.subdomain, v)), 200, serde_json::json!({ "txt": v }));
    }
    assert_eq!(txt(&w, &a.fulldomain), sorted(&[TXT_A, TXT_B]));
    assert_eq!(stored(&w, &a), [TXT_A, TXT_B]);
    // Within the hour, an expiry run leaves them.
    w.admin(&["expire"]).success();
    assert_eq!(txt(&w, &a.fulldomain), sorted(&[TXT_A, TXT_B]));
}

#[test]
fn one_value_is_removed() {
    let w = world!(acme_world("values = 3\n"));
    let a = add_account(&w, "example.org", &[]);
    let b = add_account(&w, "example.net", &[]);
    for v in [TXT_A, TXT_B, TXT_C] {
        expect_json(&w.cgi(&update_req(&a, &a.subdomain, v)), 200, serde_json::json!({ "txt": v }));
    }
    expect_json(&w.cgi(&update_req(&b, &b.subdomain, TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    // `DELETE /acme/update` removes that value and no other.
    expect_json(&w.cgi(&delete_req(&a, TXT_B)), 200, serde_json::json!({ "txt": TXT_B }));
    assert_eq!(txt(&w, &a.fulldomain), sorted(&[TXT_A, TXT_C]));
    // `POST` with `"delete": true`, for clients that cannot send DELETE.
    let body = format!("{{\"subdomain\": \"{}\", \"txt\": \"{TXT_C}\", \"delete\": true}}", a.subdomain);
    let req = post("/acme/update", &body).env("HTTP_X_API_USER", &a.username).env("HTTP_X_API_KEY", &a.password);
    expect_json(&w.cgi(&req), 200, serde_json::json!({ "txt": TXT_C }));
    assert_eq!(txt(&w, &a.fulldomain), [TXT_A]);
    // A value that is not there: the same answer, nothing changes.
    expect_json(&w.cgi(&delete_req(&a, TXT_B)), 200, serde_json::json!({ "txt": TXT_B }));
    assert_eq!(txt(&w, &a.fulldomain), [TXT_A]);
    // An empty `txt` removes nothing, whichever way it comes: acme-dns's `bad_txt`.
    let bad = serde_json::json!({ "error": "bad_txt" });
    expect_json(&w.cgi(&update_req(&a, &a.subdomain, "")), 400, bad.clone());
    expect_json(&w.cgi(&delete_req(&a, "")), 400, bad);
    assert_eq!(txt(&w, &a.fulldomain), [TXT_A]);
    // Another account's credentials or subdomain: forbidden, as an update.
    let forbidden = serde_json::json!({ "error": "forbidden" });
    let mut other = update_req(&b, &a.subdomain, TXT_A);
    other.method = "DELETE".into();
    expect_json(&w.cgi(&other), 401, forbidden.clone());
    let wrong = Account { password: "A".repeat(40), ..add_account(&w, "x.example", &[]) };
    let mut wrong_req = delete_req(&wrong, TXT_A);
    wrong_req = wrong_req.env("HTTP_X_API_USER", &a.username);
    expect_json(&w.cgi(&wrong_req), 401, forbidden);
    assert_eq!(txt(&w, &a.fulldomain), [TXT_A]);
    assert_eq!(txt(&w, &b.fulldomain), [TXT_A]);
    // The last value removed: no TXT rrset left.
    expect_json(&w.cgi(&delete_req(&a, TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    assert!(txt(&w, &a.fulldomain).is_empty());
}

#[test]
fn an_account_deletes_itself_or_the_operator_deletes_it() {
    let w = world!(acme_world(""));
    let a = add_account(&w, "example.org", &[]);
    let b = add_account(&w, "example.net", &[]);
    for x in [&a, &b] {
        expect_json(&w.cgi(&update_req(x, &x.subdomain, TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    }
    let deregister = |x: &Account, key: &str| {
        let mut req = post("/acme/register", "").env("HTTP_X_API_USER", &x.username).env("HTTP_X_API_KEY", key);
        req.method = "DELETE".into();
        w.cgi(&req)
    };
    // A wrong key deletes nothing.
    expect_json(&deregister(&a, &"A".repeat(40)), 401, serde_json::json!({ "error": "forbidden" }));
    assert_eq!(txt(&w, &a.fulldomain), [TXT_A]);
    // Its own credentials: the records go, then the account.
    let r = deregister(&a, &a.password);
    expect_json(&r, 200, serde_json::json!({ "deleted": a.fulldomain }));
    assert!(!r.log.contains(&a.password), "{}", r.log);
    assert!(txt(&w, &a.fulldomain).is_empty());
    assert_eq!(w.count(&format!("SELECT count(*) FROM acme_accounts WHERE username = '{}'", a.username)), 0);
    assert_eq!(w.count("SELECT count(*) FROM acme_values"), 1);
    // Its credentials are unknown now.
    expect_json(&w.cgi(&update_req(&a, &a.subdomain, TXT_B)), 401, serde_json::json!({ "error": "forbidden" }));
    expect_json(&deregister(&a, &a.password), 401, serde_json::json!({ "error": "forbidden" }));
    // The other account is untouched.
    assert_eq!(txt(&w, &b.fulldomain), [TXT_A]);

    // `acme delete` from the shell, by the account's user name.
    let run = w.admin(&["acme", "delete", &b.username]);
    run.success();
    assert!(run.stdout().contains(&format!("deleted acme-dns account `{}`", b.username)), "{}", run.stdout());
    assert!(txt(&w, &b.fulldomain).is_empty());
    assert_eq!(w.count("SELECT count(*) FROM acme_accounts"), 0);
    assert_eq!(w.count("SELECT count(*) FROM acme_values"), 0);
    // Again, or a name that is no account: "not found", exit 1.
    for name in [b.username.as_str(), "not-a-uuid"] {
        let run = w.admin(&["acme", "delete", name]);
        assert_eq!(run.code(), Some(1), "{}", run.stderr());
        assert!(run.stderr().contains(&format!("no acme-dns account `{name}`")), "{}", run.stderr());
    }
}

#[test]
fn one_credential_serves_several_names() {
    let w = world!(acme_world(""));
    let run =
        w.admin(&["acme", "add", "example.org", "--name", "*.example.net", "--name", "shop.example.com", "--json"]);
    run.success();
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).expect("json");
    let names = ["example.org", "example.net", "shop.example.com"];
    let accounts: Vec<Account> = names
        .iter()
        .map(|n| {
            let e = &json[n];
            let field = |k: &str| e[k].as_str().unwrap_or_else(|| panic!("{n}: no {k} in {json}")).to_owned();
            Account {
                username: field("username"),
                password: field("password"),
                subdomain: field("subdomain"),
                fulldomain: field("fulldomain"),
                json: e.to_string(),
            }
        })
        .collect();
    // One user name and key; a subdomain for each name.
    assert!(accounts.iter().all(|a| a.username == accounts[0].username && a.password == accounts[0].password));
    let mut subdomains: Vec<&str> = accounts.iter().map(|a| a.subdomain.as_str()).collect();
    subdomains.dedup();
    assert_eq!(subdomains.len(), 3, "{json}");
    assert_eq!(w.count("SELECT count(*) FROM acme_accounts"), 1);
    // The text form names the CNAME of each.
    let text = w.admin(&["acme", "add", "a.example", "--name", "b.example"]).success().stdout();
    assert!(text.contains("Add these records to the zones of these names"), "{text}");
    assert!(text.contains("_acme-challenge.a.example. CNAME ") && text.contains("_acme-challenge.b.example. CNAME "));
    // The same name twice is refused.
    let twice = w.admin(&["acme", "add", "c.example", "--name", "*.c.example"]);
    assert_eq!(twice.code(), Some(2));
    assert!(twice.stderr().contains("`*.c.example` is named twice"), "{}", twice.stderr());

    // The credential sets values at each of its names, each name its own values.
    for (a, v) in accounts.iter().zip([TXT_A, TXT_B, TXT_C]) {
        expect_json(&w.cgi(&update_req(a, &a.subdomain, v)), 200, serde_json::json!({ "txt": v }));
    }
    expect_json(
        &w.cgi(&update_req(&accounts[1], &accounts[1].subdomain, TXT_A)),
        200,
        serde_json::json!({ "txt": TXT_A }),
    );
    assert_eq!(txt(&w, &accounts[0].fulldomain), [TXT_A]);
    assert_eq!(txt(&w, &accounts[1].fulldomain), sorted(&[TXT_A, TXT_B]));
    assert_eq!(txt(&w, &accounts[2].fulldomain), [TXT_C]);
    // And nowhere else: another account's name is forbidden.
    let other = add_account(&w, "other.example", &[]);
    let forbidden = serde_json::json!({ "error": "forbidden" });
    expect_json(&w.cgi(&update_req(&accounts[0], &other.subdomain, TXT_A)), 401, forbidden.clone());
    expect_json(&w.cgi(&update_req(&other, &accounts[2].subdomain, TXT_A)), 401, forbidden);
    assert!(txt(&w, &other.fulldomain).is_empty());
    // Removing a value at one name leaves the others.
    expect_json(&w.cgi(&delete_req(&accounts[1], TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    assert_eq!(txt(&w, &accounts[1].fulldomain), [TXT_B]);
    assert_eq!(txt(&w, &accounts[0].fulldomain), [TXT_A]);

    // Deleting the account takes every name's records.
    let mut req = post("/acme/register", "")
        .env("HTTP_X_API_USER", &accounts[0].username)
        .env("HTTP_X_API_KEY", &accounts[0].password);
    req.method = "DELETE".into();
    expect_json(&w.cgi(&req), 200, serde_json::json!({ "deleted": accounts[0].fulldomain }));
    for a in &accounts {
        assert!(txt(&w, &a.fulldomain).is_empty(), "{}", a.fulldomain);
    }
    assert_eq!(w.count("SELECT count(*) FROM acme_subdomains WHERE name = 'example.net'"), 0);
    assert_eq!(w.count("SELECT count(*) FROM acme_values"), 0);
}

#[test]
fn a_registration_chooses_its_subdomain() {
    let w = world!(acme_world("register = true\nchoose_subdomain = true\n"));
    let register = |body: &str| w.cgi(&post("/acme/register", body));
    let r = register("{\"subdomain\": \"Shop\"}");
    assert_eq!(r.status, 201, "{}", r.log);
    let reg: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    let field = |k: &str| reg[k].as_str().unwrap_or_default().to_owned();
    assert_eq!((field("subdomain"), field("fulldomain")), ("shop".to_owned(), format!("shop.{}", crate::util::ZONE)));
    let shop = Account {
        username: field("username"),
        password: field("password"),
        subdomain: field("subdomain"),
        fulldomain: field("fulldomain"),
        json: r.body.clone(),
    };
    expect_json(&w.cgi(&update_req(&shop, "shop", TXT_A)), 200, serde_json::json!({ "txt": TXT_A }));
    assert_eq!(txt(&w, &shop.fulldomain), [TXT_A]);
    // Taken: by that account, or by a hostname of the zone (whose TXT records an account
    // would otherwise replace). Nothing is created.
    let taken = serde_json::json!({ "error": "subdomain_taken" });
    expect_json(&register("{\"subdomain\": \"shop\"}"), 409, taken.clone());
    expect_json(&register("{\"subdomain\": \"HOME\"}"), 409, taken);
    // Not one DNS label: acme-dns's `bad_subdomain`.
    let bad = serde_json::json!({ "error": "bad_subdomain" });
    for label in ["a.b", "-x", "x-", "", "_acme-challenge", "ünï", &"x".repeat(64)] {
        expect_json(&register(&format!("{{\"subdomain\": \"{label}\"}}")), 400, bad.clone());
    }
    assert_eq!(w.count("SELECT count(*) FROM acme_accounts"), 1);
    assert_eq!(w.dns.query(&format!("home.{}", crate::util::ZONE), "TXT"), Vec::<String>::new());
    // Without a chosen one, a UUID as before.
    let r = register("");
    assert_eq!(r.status, 201, "{}", r.log);
    let reg: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_eq!(reg["subdomain"].as_str().map(str::len), Some(36), "{}", r.body);
}

#[test]
fn a_chosen_subdomain_is_ignored_unless_allowed() {
    // acme-dns ignores fields it does not know; so does registration without the switch.
    let w = world!(acme_world("register = true\n"));
    let r = w.cgi(&post("/acme/register", "{\"subdomain\": \"shop\"}"));
    assert_eq!(r.status, 201, "{}", r.log);
    let reg: serde_json::Value = serde_json::from_str(&r.body).expect("json");
    assert_ne!(reg["subdomain"], "shop");
    assert_eq!(reg["subdomain"].as_str().map(str::len), Some(36), "{}", r.body);
}
