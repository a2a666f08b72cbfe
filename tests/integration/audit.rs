//! The audit trail and the metrics against a real Knot: `hostname history` after `good`,
//! `nochg` (recorded only when it touches the row), TXT and offline updates (old → new addresses, read back from DNS too), refused
//! attempts in `log --refused` with their reason (and a user name with a newline escaped in
//! the table), pruning by the expiry run, the metrics textfile read back line by line, and
//! `/metrics` through nginx + `ddns-cgi fastcgi`, served only to `[metrics] allow`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::util::web::{Front, WebServer, curl};
use crate::util::{Cgi, PASSWORD, Setup, TsigKey, USER, World, epoch};

const HOME: &str = "home.dyn.example.test";

/// `args` run as an admin command whose `--json` output is an array of rows.
fn rows(w: &World, args: &[&str]) -> Vec<Value> {
    let run = w.admin(args);
    run.success();
    match serde_json::from_str(&run.stdout()) {
        Ok(Value::Array(rows)) => rows,
        other => panic!("{}: not a JSON array: {other:?}\n{}", run.what, run.stdout()),
    }
}

fn history(w: &World) -> Vec<Value> {
    rows(w, &["hostname", "history", HOME, "--json"])
}

fn field<'a>(row: &'a Value, key: &str) -> Option<&'a str> {
    row.get(key).and_then(Value::as_str)
}

/// The samples of a Prometheus text file, `name{labels}` → value; asserts that each sample's
/// family has `# HELP` and `# TYPE` lines before it.
fn samples(text: &str) -> BTreeMap<String, i64> {
    let mut typed = Vec::new();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            typed.push(rest.split(' ').next().unwrap_or_default().to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: `{line}`"));
        let family = series.split('{').next().unwrap_or_default();
        assert!(typed.iter().any(|t| t == family), "`{line}` has no # TYPE line before it");
        out.insert(series.to_owned(), value.parse().unwrap_or_else(|_| panic!("not a number: `{line}`")));
    }
    out
}

fn read_samples(path: &Path) -> BTreeMap<String, i64> {
    samples(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())))
}

#[test]
fn history_shows_each_change_with_old_and_new_records() {
    let w = world!(World::knot());
    let start = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    // A repeat within the touch interval (a minute) writes nothing, not even its audit row;
    // one after it touches the row and is recorded with it.
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    assert_eq!(history(&w).len(), 1);
    w.sql(&format!("UPDATE hostnames SET last_update = last_update - 600 WHERE fqdn = '{HOME}'"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    let r = w.update(&format!("hostname={HOME}&myip=192.0.2.2&txt=v1"));
    r.expect(200, "good 192.0.2.2\n");
    assert_eq!(w.a(HOME), ["192.0.2.2"]);
    w.update(&format!("hostname={HOME}&offline=yes")).expect(200, "good\n");
    assert!(w.a(HOME).is_empty());

    let changes = history(&w);
    let seen: Vec<_> = changes
        .iter()
        .map(|r| {
            (field(r, "answer"), field(r, "old_ipv4"), field(r, "new_ipv4"), field(r, "old_txt"), field(r, "new_txt"))
        })
        .collect();
    // Newest first.
    assert_eq!(
        seen,
        [
            (Some("good"), Some("192.0.2.2"), None, Some("v1"), None),
            (Some("good"), Some("192.0.2.1"), Some("192.0.2.2"), None, Some("v1")),
            (Some("nochg"), Some("192.0.2.1"), Some("192.0.2.1"), None, None),
            (Some("good"), None, Some("192.0.2.1"), None, None),
        ]
    );
    for row in &changes {
        assert_eq!(field(row, "kind"), Some("change"));
        assert_eq!(field(row, "client"), Some("198.51.100.77"));
        assert_eq!((field(row, "user"), field(row, "auth")), (Some(USER), Some("password")));
        let at = row.get("at").and_then(Value::as_i64).unwrap_or_default();
        assert!((start..=epoch()).contains(&at), "{row}");
        let txn = field(row, "txn").unwrap_or_default();
        assert!(txn.len() == 8 && txn.bytes().all(|b| b.is_ascii_hexdigit()), "{row}");
    }
    // The transaction id is the one of the request's log lines.
    let txn = field(&changes[1], "txn").unwrap_or_default();
    assert!(r.log.contains(txn), "{txn} not in\n{}", r.log);

    // A token's change says so; the token itself is nowhere (the harness checks every output).
    let token = w.admin(&["hostname", "token", HOME]).success().stdout().trim().to_owned();
    w.cgi(&Cgi::get("myip=192.0.2.3").path(&format!("/update/{token}"))).expect(200, "good 192.0.2.3\n");
    assert_eq!(w.a(HOME), ["192.0.2.3"]);
    let newest = rows_limited(&w, 1);
    assert_eq!(newest.len(), 1);
    assert_eq!(
        (field(&newest[0], "auth"), field(&newest[0], "old_ipv4"), field(&newest[0], "new_ipv4")),
        (Some("token"), None, Some("192.0.2.3"))
    );

    let table = w.admin(&["hostname", "history", HOME]).success().stdout();
    assert_eq!(table.lines().count(), 1 + 5, "{table}");
    assert!(table.contains("ipv4 192.0.2.1 -> 192.0.2.2") && table.contains("txt (none) -> v1"), "{table}");
    assert!(table.contains(&format!("{USER} (token)")), "{table}");
    // Unknown hostnames have no history; an invalid one is a usage error.
    assert_eq!(rows(&w, &["hostname", "history", "nowhere.dyn.example.test", "--json"]), Vec::<Value>::new());
    assert_eq!(w.admin(&["hostname", "history", "not a name"]).code(), Some(2));
}

fn rows_limited(w: &World, n: u32) -> Vec<Value> {
    rows(w, &["hostname", "history", HOME, "--json", "--limit", &n.to_string()])
}

#[test]
fn refused_attempts_are_listed_with_their_reason_and_escaped() {
    let w = world!(World::knot());
    w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(USER, "wrong")).expect(401, "badauth\n");
    // A user name with a newline would forge a line of a table that printed it raw.
    let forged = "x\nFORGED  change  good";
    w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1")).basic(forged, "pw")).expect(401, "badauth\n");
    w.update("hostname=other.dyn.example.test&myip=192.0.2.1").expect(200, "nohost\n");
    w.update(&format!("hostname={HOME}&myip=300.1.1.1")).expect(200, "badip\n");
    // The credential-less first request of wget-like clients is not an attempt.
    w.cgi(&Cgi::get(&format!("hostname={HOME}&myip=192.0.2.1"))).expect(401, "badauth\n");
    assert!(w.a(HOME).is_empty());

    let refused = rows(&w, &["log", "--since", "1h", "--refused", "--json"]);
    let seen: Vec<_> = refused
        .iter()
        .map(|r| (field(r, "answer"), field(r, "user"), field(r, "hostname"), field(r, "reason").map(|s| s.to_owned())))
        .collect();
    assert_eq!(seen.len(), 4, "{refused:?}");
    assert_eq!((seen[0].0, seen[0].1, seen[0].3.as_deref()), (Some("badauth"), Some(USER), Some("wrong password")));
    assert_eq!((seen[1].0, seen[1].1, seen[1].3.as_deref()), (Some("badauth"), Some(forged), Some("unknown user")));
    assert_eq!((seen[2].0, seen[2].1, seen[2].2), (Some("nohost"), Some(USER), Some("other.dyn.example.test")));
    // Refused after authentication: the row names the host, so its history shows it.
    assert_eq!((seen[3].0, seen[3].2), (Some("badip"), Some(HOME)));
    assert!(seen[3].3.as_deref().is_some_and(|r| r.contains("300.1.1.1")), "{:?}", seen[3]);
    let history = rows(&w, &["hostname", "history", HOME, "--json"]);
    assert!(
        history.iter().any(|r| field(r, "answer") == Some("badip") && field(r, "kind") == Some("refused")),
        "{history:?}"
    );
    for row in &refused {
        assert_eq!(
            (field(row, "kind"), field(row, "client"), field(row, "auth")),
            (Some("refused"), Some("198.51.100.77"), None)
        );
    }
    // Nothing was changed, so the whole log holds the refusals only.
    assert_eq!(rows(&w, &["log", "--since", "1h", "--json"]).len(), 4);
    assert_eq!(rows(&w, &["log", "--since", "2000-01-01", "--json", "--refused"]).len(), 4);

    let table = w.admin(&["log", "--since", "1h", "--refused"]).success().stdout();
    assert_eq!(table.lines().count(), 1 + 4, "{table}");
    assert!(table.contains("x\\nFORGED  change"), "{table}");
    assert!(!table.lines().any(|l| l.starts_with("FORGED")), "{table}");

    let bad = w.admin(&["log", "--since", "yesterday"]);
    assert_eq!(bad.code(), Some(2));
    assert!(bad.stderr().contains("`--since` must be a date"), "{}", bad.stderr());
}

#[test]
fn expiry_run_prunes_rows_older_than_keep_days_by_the_clock() {
    let w = world!(World::new(Setup { extra_config: "[audit]\nkeep_days = 2\n", ..Setup::default() }));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    let (day_old, week_old) = (epoch() - 86_400, epoch() - 7 * 86_400);
    for (at, txn) in [(day_old, "0000000d"), (week_old, "0000000e")] {
        w.sql(&format!(
            "INSERT INTO audit (at, kind, answer, txn, hostname, \"user\", auth) VALUES ({at}, 'change', 'good', '{txn}', '{HOME}', '{USER}', 'password')"
        ));
    }
    assert_eq!(history(&w).len(), 3);
    // `--now` ten days ahead decides only which hosts are due (this one is, and its record
    // goes); rows are pruned by the clock, so the day-old row stays.
    w.expire(epoch() + 10 * 86_400).success();
    assert!(w.a(HOME).is_empty());
    let txns: Vec<_> = history(&w).iter().filter_map(|r| field(r, "txn").map(str::to_owned)).collect();
    assert_eq!(txns.len(), 2, "{txns:?}");
    assert!(txns.contains(&"0000000d".to_owned()) && !txns.contains(&"0000000e".to_owned()), "{txns:?}");
}

#[test]
fn keep_days_zero_records_no_rows_but_still_counts() {
    let w = world!(World::new(Setup { extra_config: "[audit]\nkeep_days = 0\n", ..Setup::default() }));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, "wrong")).expect(401, "badauth\n");
    assert!(history(&w).is_empty());
    assert!(rows(&w, &["log", "--since", "1d", "--json"]).is_empty());
    let metrics = samples(&w.admin(&["metrics"]).success().stdout());
    assert_eq!(metrics.get("ddns_updates_total{answer=\"good\"}"), Some(&1));
    assert_eq!(metrics.get("ddns_updates_total{answer=\"badauth\"}"), Some(&1));
}

#[test]
fn metrics_file_counts_answers_refusals_dns_errors_hosts_and_expiry() {
    let w = world!(World::new(Setup {
        extra_config: "[rate_limit]\nbad_max_requests = 2\n\n[metrics]\ntextfile = \"expiry.prom\"\n",
        ..Setup::default()
    }));
    let start = epoch();
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
    // Counted with its audit row, when a repeat touches the row: not within the touch interval
    // (a minute), once beyond it.
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    w.sql(&format!("UPDATE hostnames SET last_update = last_update - 600 WHERE fqdn = '{HOME}'"));
    w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "nochg 192.0.2.1\n");
    // A wrong TSIG secret: Knot answers NOTAUTH, the client dnserr.
    let good_key = w.key.line();
    w.edit_config(|c| c.replace(&good_key, &TsigKey::generate("ddns-key.", "hmac-sha256").line()));
    w.update(&format!("hostname={HOME}&myip=192.0.2.2")).expect(200, "dnserr\n");
    assert_eq!(w.a(HOME), ["192.0.2.1"]);
    let dnserr = &history(&w)[0];
    assert_eq!((field(dnserr, "answer"), field(dnserr, "rcode")), (Some("dnserr"), Some("NOTAUTH")));
    // Back to the world's key.
    w.write_config("[rate_limit]\nbad_max_requests = 2\n\n[metrics]\ntextfile = \"expiry.prom\"\n");
    // Guesses at other names from one address: the third reaches the address's limit.
    for (i, expected) in [(401, "badauth\n"), (401, "badauth\n"), (200, "abuse\n")].into_iter().enumerate() {
        w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(&format!("guess{i}"), "wrong").remote("203.0.113.9"))
            .expect(expected.0, expected.1);
    }

    let file = w.dir.path().join("cli.prom");
    w.admin(&["metrics", "--textfile", file.to_str().unwrap_or_default()]).success();
    let m = read_samples(&file);
    let get = |m: &BTreeMap<String, i64>, k: &str| m.get(k).copied();
    assert_eq!(get(&m, "ddns_updates_total{answer=\"good\"}"), Some(1), "{m:?}");
    assert_eq!(get(&m, "ddns_updates_total{answer=\"nochg\"}"), Some(1));
    assert_eq!(get(&m, "ddns_updates_total{answer=\"badauth\"}"), Some(2));
    assert_eq!(get(&m, "ddns_updates_total{answer=\"abuse\"}"), Some(1));
    assert_eq!(get(&m, "ddns_updates_total{answer=\"dnserr\"}"), Some(1));
    assert_eq!(get(&m, "ddns_updates_total{answer=\"nohost\"}"), Some(0));
    assert_eq!(get(&m, "ddns_ratelimit_refusals_total{scope=\"bad-addr\"}"), Some(1));
    assert_eq!(get(&m, "ddns_dns_errors_total{rcode=\"NOTAUTH\"}"), Some(1));
    assert_eq!(get(&m, "ddns_hosts"), Some(1));
    assert_eq!(get(&m, "ddns_hosts_expired"), Some(0));
    assert_eq!(get(&m, "ddns_expired_hosts_total"), Some(0));
    assert_eq!(get(&m, "ddns_last_expiry_success_timestamp_seconds"), Some(0));
    // Without --textfile the same text goes to stdout.
    assert_eq!(samples(&w.admin(&["metrics"]).success().stdout()), m);

    // The expiry run removes the host (due ten days ahead) and writes `[metrics] textfile`.
    w.expire(epoch() + 10 * 86_400).success();
    assert!(w.a(HOME).is_empty());
    let m = read_samples(&w.dir.path().join("expiry.prom"));
    assert_eq!(get(&m, "ddns_hosts_expired"), Some(1), "{m:?}");
    assert_eq!(get(&m, "ddns_expired_hosts_total"), Some(1));
    let last = get(&m, "ddns_last_expiry_success_timestamp_seconds").unwrap_or_default();
    assert!((start..=epoch()).contains(&last), "{last}");
    // Written by rename: no temporary file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(w.dir.path())
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(!leftovers.iter().any(|n| n.ends_with(".tmp")), "{leftovers:?}");
}

#[test]
fn metrics_path_is_served_through_nginx_only_to_allowed_networks() {
    for (allow, allowed) in [("127.0.0.0/8", true), ("192.0.2.0/24", false)] {
        let extra = format!("[metrics]\nallow = [\"{allow}\"]\n");
        let w = world!(World::new(Setup { extra_config: &extra, ..Setup::default() }));
        w.update(&format!("hostname={HOME}&myip=192.0.2.1")).expect(200, "good 192.0.2.1\n");
        let web = world!(WebServer::start(&w, Front::NginxFastcgi));
        let r = curl(&[
            "-u",
            &format!("{USER}:{PASSWORD}"),
            &web.url(&format!("/nic/update?hostname={HOME}&myip=192.0.2.2")),
        ]);
        r.expect(200, "good 192.0.2.2\n");
        let r = curl(&[&web.url("/metrics")]);
        if allowed {
            assert_eq!(r.status, 200, "{}\n{}", r.raw, web.logs());
            assert_eq!(r.header("Content-Type"), Some("text/plain; version=0.0.4; charset=utf-8"));
            let m = samples(&r.body);
            assert_eq!(m.get("ddns_updates_total{answer=\"good\"}"), Some(&2), "{}", r.body);
            assert_eq!(m.get("ddns_hosts"), Some(&1));
        } else {
            // Exactly what a path without an endpoint gets.
            r.expect(404, "badagent\n");
            assert!(!r.body.contains("ddns_"));
        }
    }
}

#[test]
fn a_failed_refusal_write_is_logged_and_the_answer_stands() {
    let w = world!(World::knot());
    // A long user name is kept cut, never whole.
    let long = "u".repeat(1000);
    w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(&long, "pw")).expect(401, "badauth\n");
    let refused = rows(&w, &["log", "--since", "1h", "--refused", "--json"]);
    let user = refused.first().and_then(|r| field(r, "user")).unwrap_or_default();
    assert!(user.starts_with("uuu") && user.len() < 200, "{user}");
    // Now every audit write fails.
    if crate::util::pg::enabled() {
        w.sql(
            "CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused'; END $$;
             CREATE TRIGGER no_audit BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION no_audit();",
        );
    } else if w.mariadb.is_some() {
        w.sql("CREATE TRIGGER no_audit BEFORE INSERT ON audit FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit refused'");
    } else {
        w.sql("CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused'); END;");
    }
    let r = w.cgi(&Cgi::get(&format!("hostname={HOME}")).basic(USER, "wrong"));
    r.expect(401, "badauth\n");
    assert!(r.log.contains("cannot record the refused attempt in the audit trail"), "{}", r.log);
    assert_eq!(rows(&w, &["log", "--since", "1h", "--refused", "--json"]).len(), 1);
}
