//! A token typed into the user-name field never reaches a log, the audit trail or the
//! rate-limit table: `ddns_***` stands in for it.

use crate::tokens::{HOME, Logged, new_token, token_world};
use crate::util::{Cgi, has_token};

/// A token typed into the user-name field (Basic `TOKEN:`), alone or with an empty or wrong
/// password: never in a log line, the audit trail or a rate-limit key; `ddns_***` stands in.
#[test]
fn a_token_as_the_user_name_is_never_written() {
    let w = world!(token_world("log_requests = true\n[rate_limit]\nbad_max_requests = 3\n"));
    let mut logged = Logged::default();
    let token = new_token(&w, HOME, &[]);
    let t = token.as_str();
    let requests = [
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(t, ""),
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(t, "guess"),
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1&username={t}&password=guess")).remote("198.51.100.2"),
        // Each such name is one per-user key, `ddns_***`, whose limit is reached now; the
        // rate-limit line names the key.
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(&format!("x{t}"), "guess").remote("198.51.100.3"),
        Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(t, "guess").remote("198.51.100.4"),
    ];
    for (i, req) in requests.iter().enumerate() {
        let r = logged.cgi(&w, req);
        let expected = if i >= 3 { (200, "abuse\n") } else { (401, "badauth\n") };
        assert_eq!((r.status, r.body.as_str()), expected, "request {i}:\n{}", r.log);
        assert!(r.log.contains("ddns_***"), "request {i}: the user name shows redacted:\n{}", r.log);
    }
    assert!(logged.0.contains("rate limit: bad-user `ddns_***`"), "{}", logged.0);
    // The token in the password field beside it still works: the redaction is only in what is
    // written.
    logged
        .cgi(&w, &Cgi::get(&format!("hostname={HOME}&myip=192.0.2.5")).basic(HOME, t).remote("198.51.100.9"))
        .expect(200, "good 192.0.2.5\n");
    logged.assert_no_tokens(&[t]);
    for (table, column) in [("audit", "user"), ("audit", "reason"), ("rate_limit", "key")] {
        let values: Vec<String> =
            // Quoted: `user` alone is PostgreSQL's `current_user`.
            w.rows(&format!("SELECT \"{column}\" FROM {table}")).into_iter().flatten().flatten().collect();
        let all = values.join("\n");
        assert!(!has_token(&all) && !all.contains(&t[5..]), "{table}.{column} holds a token:\n{all}");
        if column != "reason" {
            assert!(values.iter().any(|v| v == "ddns_***"), "{table}.{column}: {values:?}");
        }
    }
    // `user add` refuses a name that would be redacted everywhere.
    let r = w.admin_stdin(
        &["user", "add", &format!("ddns_{}", "a".repeat(43)), "a@example.test", "--password-stdin"],
        "pw\n",
    );
    assert_eq!(r.code(), Some(2), "{}", r.stderr());
    assert!(r.stderr().contains("must not have a host token's shape"), "{}", r.stderr());
}
