//! Unit tests of the SQLite engine against temporary database files.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;

use super::{MIGRATIONS, Store};
use crate::store::{CountedRow, Counter, HostWrite, NewHost, OpenMode, StoreError, TokenInfo, TokenScope};

fn temp_store() -> (PathBuf, Store) {
    let dir = std::env::temp_dir().join(format!("ddns-cgi-store-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("t.db");
    let store = Store::open(&path, Duration::from_secs(1), OpenMode::Create).expect("open");
    (dir, store)
}

fn rand_suffix() -> u64 {
    getrandom::u64().expect("random")
}

#[test]
fn schema_of_reads_without_leaving_files() {
    let (dir, store) = temp_store();
    let path = dir.join("t.db");
    drop(store);
    assert_eq!(Store::schema_of(&path).expect("version"), super::SCHEMA_VERSION);
    assert!(!dir.join("t.db-wal").exists() && !dir.join("t.db-shm").exists());
    let odd = dir.join("a ?#%.db");
    drop(Store::open(&odd, Duration::from_secs(1), OpenMode::Create).expect("open"));
    assert_eq!(Store::schema_of(&odd).expect("version"), super::SCHEMA_VERSION);
    std::fs::write(dir.join("not.db"), b"not a database, but long enough to have a header").expect("write");
    assert!(Store::schema_of(&dir.join("not.db")).is_err());
    assert!(matches!(Store::schema_of(&dir.join("none.db")), Err(StoreError::Missing { .. })));
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn created_0600_and_migrated_idempotently() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, store) = temp_store();
    let path = dir.join("t.db");
    assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
    assert_eq!(store.schema_version().expect("v"), MIGRATIONS.len() as i64);
    drop(store);
    let again = Store::open(&path, Duration::from_secs(1), OpenMode::Existing).expect("reopen");
    assert_eq!(again.schema_version().expect("v"), MIGRATIONS.len() as i64);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn version_1_database_gains_the_offline_column() {
    let dir = std::env::temp_dir().join(format!("ddns-cgi-store-v1-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("t.db");
    {
        let conn = Connection::open(&path).expect("create");
        conn.execute_batch(MIGRATIONS[0]).expect("version 1 schema");
        conn.pragma_update(None, "user_version", 1).expect("version");
        conn.execute_batch(
            "INSERT INTO users (name, email, password_hash, created_at) VALUES ('alice', 'a@example.com', 'h', 1);
             INSERT INTO hostnames (fqdn, zone, user_id, dns_ttl, expiry_ttl, ipv4, created_at)
             VALUES ('h.dyn.example.com', 'dyn.example.com', 1, 60, 0, '192.0.2.1', 1);",
        )
        .expect("rows");
    }
    let store = Store::open(&path, Duration::from_secs(1), OpenMode::Existing).expect("migrate");
    assert_eq!(store.schema_version().expect("v"), MIGRATIONS.len() as i64);
    let h = store.host("h.dyn.example.com").expect("q").expect("h");
    assert_eq!((h.ipv4, h.offline), (Some("192.0.2.1".parse().expect("ip")), false));
    std::fs::remove_dir_all(dir).expect("cleanup");
}

/// The migration to `acme_values` keeps an account's two values, newest first, set when the
/// account was last updated; the old columns are emptied.
#[test]
fn acme_values_move_from_their_two_columns() {
    let dir = std::env::temp_dir().join(format!("ddns-cgi-store-acme-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("t.db");
    let before = MIGRATIONS.iter().position(|m| m.contains("CREATE TABLE acme_values")).expect("the migration");
    {
        let conn = Connection::open(&path).expect("create");
        for m in &MIGRATIONS[..before] {
            conn.execute_batch(m).expect("older schema");
        }
        conn.pragma_update(None, "user_version", before as i64).expect("version");
        conn.execute_batch(
            "INSERT INTO acme_accounts (name, username, key_digest, subdomain, txt_new, txt_old, updated_at, created_at)
             VALUES ('a', 'u1', x'00', 's1', 'new', 'old', 50, 1),
                    ('b', 'u2', x'00', 's2', 'only', NULL, NULL, 7),
                    ('c', 'u3', x'00', 's3', NULL, NULL, NULL, 9);",
        )
        .expect("rows");
    }
    let store = Store::open(&path, Duration::from_secs(1), OpenMode::Existing).expect("migrate");
    let rows: Vec<(String, i64, String, i64)> = store
        .conn
        .prepare(
            "SELECT a.username, v.position, v.txt, v.set_at FROM acme_values v JOIN acme_accounts a
             ON a.id = v.account_id ORDER BY a.username, v.position",
        )
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let row = |u: &str, p: i64, t: &str, at: i64| (u.to_owned(), p, t.to_owned(), at);
    assert_eq!(rows, [row("u1", 0, "new", 50), row("u1", 1, "old", 50), row("u2", 0, "only", 7)]);
    let left: i64 = store
        .conn
        .query_row("SELECT count(*) FROM acme_accounts WHERE txt_new IS NOT NULL OR txt_old IS NOT NULL", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(left, 0);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn refuses_newer_schema() {
    let (dir, store) = temp_store();
    store.conn.pragma_update(None, "user_version", 99).expect("set");
    drop(store);
    let err = Store::open(&dir.join("t.db"), Duration::from_secs(1), OpenMode::Existing).expect_err("too new");
    assert_eq!(
        err.to_string(),
        format!(
            "database schema version 99 is newer than this ddns-cgi supports ({}); upgrade ddns-cgi",
            MIGRATIONS.len()
        )
    );
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn missing_database_is_not_created_in_existing_mode() {
    let path = std::env::temp_dir().join(format!("ddns-cgi-none-{}.db", rand_suffix()));
    let err = Store::open(&path, Duration::from_secs(1), OpenMode::Existing).expect_err("missing");
    assert!(matches!(err, StoreError::Missing { .. }));
    assert!(!path.exists());
}

fn counters(max: u64, since: i64) -> [Counter<'static>; 2] {
    [Counter { scope: "bad-addr", key: "192.0.2.1", since, max }, Counter { scope: "bad-user", key: "u", since, max }]
}

fn n_rows(store: &Store, scope: &str) -> i64 {
    store.conn.query_row("SELECT COUNT(*) FROM rate_limit WHERE scope = ?1", [scope], |r| r.get(0)).expect("count")
}

#[test]
fn rate_limit_reserve_counts_settle_and_trim() {
    let (dir, mut store) = temp_store();
    let rows = || vec![("bad-addr", "192.0.2.1".to_owned()), ("bad-user", "u".to_owned())];
    let first = store.rate_limit_reserve(&counters(2, 0), &rows(), 100, 0).expect("reserve").expect("under");
    assert_eq!(first.iter().map(|r| (r.scope, r.at)).collect::<Vec<_>>(), [("bad-addr", 100), ("bad-user", 100)]);
    let second = store.rate_limit_reserve(&counters(2, 0), &rows(), 101, 0).expect("reserve").expect("under");
    // Two reservations stand: the third attempt is over, and writes nothing.
    let [addr, _] = counters(2, 0);
    assert_eq!(store.rate_limit_over(&counters(2, 0)).expect("read"), Some((addr, 2)));
    assert_eq!(store.rate_limit_reserve(&counters(2, 0), &rows(), 102, 0).expect("reserve"), Err((addr, 2)));
    assert_eq!(n_rows(&store, "bad-addr"), 2);
    // Only rows inside the window count.
    assert_eq!(store.rate_limit_over(&counters(2, 101)).expect("read"), None);
    // Good: the reservation goes, a good row comes; the other reservation stays bad.
    store.rate_limit_settle(&second, &[("good-addr", "192.0.2.1".to_owned())], 101).expect("settle");
    assert_eq!((n_rows(&store, "bad-addr"), n_rows(&store, "bad-user"), n_rows(&store, "good-addr")), (1, 1, 1));
    // Settling removes only the rows it wrote, even when another row has the same id.
    let stale = CountedRow { id: first[0].id, scope: "bad-addr", key: "192.0.2.9".to_owned(), at: 100 };
    store.rate_limit_settle(&[stale], &[], 102).expect("settle");
    assert_eq!(n_rows(&store, "bad-addr"), 1);
    // Reserving trims rows older than the cut-off.
    store.rate_limit_reserve(&counters(9, 0), &rows(), 300, 200).expect("reserve").expect("under");
    assert_eq!((n_rows(&store, "bad-addr"), n_rows(&store, "good-addr")), (1, 0));
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn rate_limit_reservation_fails_closed_when_locked() {
    let (dir, mut store) = temp_store();
    store.conn.busy_timeout(Duration::from_millis(50)).expect("timeout");
    let rows = vec![("bad-addr", "192.0.2.1".to_owned())];
    let reserved = store.rate_limit_reserve(&counters(5, 0), &rows, 100, 0).expect("reserve").expect("under");
    let holder = Connection::open(dir.join("t.db")).expect("second connection");
    holder.execute_batch("BEGIN IMMEDIATE; DELETE FROM users;").expect("hold the write lock");
    // Neither a new reservation nor the settling of the old one gets through...
    assert!(store.rate_limit_reserve(&counters(5, 0), &rows, 101, 0).is_err());
    assert!(store.rate_limit_settle(&reserved, &[], 101).is_err());
    holder.execute_batch("ROLLBACK").expect("release");
    // ... and the reserved row still counts as bad.
    assert_eq!(n_rows(&store, "bad-addr"), 1);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn recent_password_hashes_are_bounded_and_newest_first() {
    let (dir, mut store) = temp_store();
    assert!(store.recent_password_hashes(2).expect("q").is_empty());
    for i in 0..3 {
        store.add_user(&format!("u{i}"), "u@example.com", &format!("hash{i}"), 1).expect("user");
    }
    assert_eq!(store.recent_password_hashes(2).expect("q"), ["hash2", "hash1"]);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn locked_write_rolls_back_on_error() {
    let (dir, mut store) = temp_store();
    store.add_user("alice", "a@example.com", "hash", 1).expect("user");
    let user = store.user("alice").expect("q").expect("some");
    let new = NewHost {
        fqdn: "h.dyn.example.com",
        zone: "dyn.example.com",
        user_id: user.id,
        dns_ttl: 60,
        expiry_ttl: 0,
        families: crate::store::Families::BOTH,
    };
    store.add_host(&new, 1).expect("host");
    assert!(matches!(store.add_host(&new, 1), Err(StoreError::Exists { .. })));

    let ip: Ipv4Addr = "192.0.2.1".parse().expect("ip");
    let r: Result<(), StoreError> =
        store.with_host_locked("h.dyn.example.com", |_| Err(StoreError::Exists { what: "x", name: "y".into() }));
    assert!(r.is_err());
    assert_eq!(store.host("h.dyn.example.com").expect("q").expect("h").ipv4, None);

    store
        .with_host_locked::<_, StoreError>("h.dyn.example.com", |h| {
            assert!(h.is_some());
            Ok((HostWrite::Addresses { ipv4: Some(ip), ipv6: None, txt: None, dns_ttl: 120, now: 5 }, ()))
        })
        .expect("write");
    let h = store.host("h.dyn.example.com").expect("q").expect("h");
    assert_eq!((h.ipv4, h.ipv6, h.dns_ttl, h.last_update, h.expired), (Some(ip), None, 120, Some(5), false));

    // Offline clears the addresses; the next address write brings the host back.
    store
        .with_host_locked::<_, StoreError>("h.dyn.example.com", |_| Ok((HostWrite::Offline { now: 6 }, ())))
        .expect("offline");
    let h = store.host("h.dyn.example.com").expect("q").expect("h");
    assert_eq!((h.ipv4, h.ipv6, h.last_update, h.offline), (None, None, Some(6), true));
    store
        .with_host_locked::<_, StoreError>("h.dyn.example.com", |_| {
            Ok((HostWrite::Addresses { ipv4: None, ipv6: None, txt: None, dns_ttl: 120, now: 7 }, ()))
        })
        .expect("write");
    assert!(!store.host("h.dyn.example.com").expect("q").expect("h").offline);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn tokens_are_found_by_digest_replaced_revoked_and_deleted_with_the_host() {
    let (dir, mut store) = temp_store();
    store.add_user("alice", "a@example.com", "hash", 1).expect("user");
    let user = store.user("alice").expect("q").expect("some");
    for fqdn in ["a.dyn.example.com", "b.dyn.example.com"] {
        let new = NewHost {
            fqdn,
            zone: "dyn.example.com",
            user_id: user.id,
            dns_ttl: 60,
            expiry_ttl: 0,
            families: crate::store::Families::BOTH,
        };
        store.add_host(&new, 1).expect("host");
    }
    let scope = TokenScope { types: Some("A".into()), networks: None, expires_at: Some(99) };
    assert!(!store.set_token("nobody.dyn.example.com", &[1; 32], &scope, 5).expect("set"));
    assert!(store.set_token("a.dyn.example.com", &[1; 32], &scope, 5).expect("set"));
    let grant = store.token(&[1; 32]).expect("q").expect("found");
    assert_eq!((grant.host.fqdn.as_str(), grant.owner.name.as_str()), ("a.dyn.example.com", "alice"));
    assert_eq!((grant.digest, grant.scope), (vec![1; 32], scope.clone()));
    assert_eq!(store.token(&[2; 32]).expect("q"), None);
    // A new token replaces the old one.
    assert!(store.set_token("a.dyn.example.com", &[2; 32], &TokenScope::default(), 6).expect("set"));
    assert_eq!(store.token(&[1; 32]).expect("q"), None);
    assert_eq!(store.token(&[2; 32]).expect("q").expect("found").scope, TokenScope::default());
    let listed: Vec<_> = store.hosts(None).expect("list").into_iter().map(|l| l.token).collect();
    assert_eq!(listed, [Some(TokenInfo { scope: TokenScope::default(), created_at: 6 }), None]);
    // Revoked; revoking again finds nothing.
    assert_eq!(store.revoke_token("a.dyn.example.com").expect("revoke"), Some(true));
    assert_eq!(store.revoke_token("a.dyn.example.com").expect("revoke"), Some(false));
    assert_eq!(store.revoke_token("nobody.dyn.example.com").expect("revoke"), None);
    assert_eq!(store.token(&[2; 32]).expect("q"), None);
    // Deleting the hostname deletes its token.
    assert!(store.set_token("b.dyn.example.com", &[3; 32], &scope, 7).expect("set"));
    assert!(store.delete_host_locked::<StoreError>("b.dyn.example.com", |_| Ok(())).expect("delete"));
    let n: i64 = store.conn.query_row("SELECT COUNT(*) FROM tokens", [], |r| r.get(0)).expect("count");
    assert_eq!(n, 0);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn expiry_marks_only_what_was_deleted_and_mail_is_claimed_once() {
    let (dir, mut store) = temp_store();
    store.add_user("alice", "a@example.com", "hash", 1).expect("user");
    let user = store.user("alice").expect("q").expect("some");
    for fqdn in ["a.dyn.example.com", "b.dyn.example.com"] {
        let new = NewHost {
            fqdn,
            zone: "dyn.example.com",
            user_id: user.id,
            dns_ttl: 60,
            expiry_ttl: 60,
            families: crate::store::Families::BOTH,
        };
        store.add_host(&new, 1).expect("host");
        let ip: Ipv4Addr = "192.0.2.1".parse().expect("ip");
        store
            .with_host_locked::<_, StoreError>(fqdn, |_| {
                Ok((HostWrite::Addresses { ipv4: Some(ip), ipv6: None, txt: None, dns_ttl: 60, now: 100 }, ()))
            })
            .expect("write");
    }
    // Not due at 165, due at 166 (60 s and the touch interval, 6 s, after the write at 100).
    let chunk = store.expire_locked("dyn.example.com", 0, 10, 165, |h| (Vec::new(), h.len())).expect("chunk");
    assert_eq!(chunk.value, 0);
    // Only the host the closure reports as deleted is marked.
    let chunk = store
        .expire_locked("dyn.example.com", 0, 10, 166, |h| (h.first().map(|h| h.id).into_iter().collect(), h.len()))
        .expect("chunk");
    assert_eq!((chunk.value, chunk.n_expired), (2, 1));
    assert!(store.host("a.dyn.example.com").expect("q").expect("h").expired);
    assert!(!store.host("b.dyn.example.com").expect("q").expect("h").expired);

    let claimed = store.claim_unnotified().expect("claim");
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].owner.as_str(), claimed[0].email.as_str()), ("alice", "a@example.com"));
    assert!(store.claim_unnotified().expect("claim again").is_empty());
    store.unclaim_notified(&[claimed[0].host.id]).expect("unclaim");
    assert_eq!(store.claim_unnotified().expect("retry").len(), 1);

    store
        .conn
        .execute("INSERT INTO rate_limit (scope, key, at) VALUES ('s', 'k', 5), ('s', 'k', 50)", [])
        .expect("rows");
    assert_eq!(store.trim_rate_limit(50).expect("trim"), 1);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn the_rate_limit_trim_uses_an_index() {
    // The trim runs on every counted request: a full scan grows with the table.
    let (dir, store) = temp_store();
    let plan: Vec<String> = store
        .conn
        .prepare("EXPLAIN QUERY PLAN DELETE FROM rate_limit WHERE at < ?1")
        .expect("prepare")
        .query_map([0], |r| r.get::<_, String>(3))
        .expect("plan")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(plan.iter().any(|step| step.contains("USING INDEX rate_limit_at")), "{plan:?}");
    drop(store);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn reads_together_see_one_snapshot_and_leave_no_transaction() {
    let (dir, store) = temp_store();
    let mut store = crate::store::Store::Sqlite(store);
    let other = Connection::open(dir.join("t.db")).expect("second connection");
    let count = |s: &crate::store::Store| s.recent_password_hashes(10).expect("read").len();
    // Another connection's commit between the two reads is not seen by the second.
    let (before, during) = store
        .read_together(|s| {
            let before = count(s);
            other.execute("INSERT INTO users (name, email, password_hash, created_at) VALUES ('bob', 'b@example.test', 'x', 1)", []).expect("insert");
            (before, count(s))
        })
        .expect("read transaction");
    assert_eq!((before, during), (0, 0));
    // Afterwards the transaction is over: the commit shows, and writes work.
    assert_eq!(count(&store), 1);
    other.execute("DELETE FROM users", []).expect("a write beside the ended read");
    assert_eq!(count(&store), 0);
    drop(store);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

/// Reads `name`'s email through `read_together`, and whether each run of the reads was in a
/// transaction (a replay of remembered reads runs without one).
fn email_together(store: &mut crate::store::Store, name: &str) -> (Vec<bool>, Option<String>) {
    let mut runs = Vec::new();
    let found = store
        .read_together(|s| {
            runs.push(in_transaction(s));
            s.user(name).ok().flatten().map(|u| u.email)
        })
        .expect("read");
    (runs, found)
}

/// Whether the reads of `read_together` run in a transaction now (a replay runs without one).
fn in_transaction(store: &crate::store::Store) -> bool {
    let crate::store::Store::Sqlite(sqlite) = store else { panic!("a SQLite store") };
    !sqlite.conn.is_autocommit()
}

fn memo_held(store: &crate::store::Store) -> (usize, bool) {
    let crate::store::Store::Sqlite(sqlite) = store else { panic!("a SQLite store") };
    sqlite.memo.held()
}

#[test]
fn remembered_reads_replay_until_anyone_commits() {
    let (dir, store) = temp_store();
    let mut store = crate::store::Store::Sqlite(store);
    let other = Connection::open(dir.join("t.db")).expect("second connection");
    let add = |name: &str| {
        other
            .execute(
                "INSERT INTO users (name, email, password_hash, created_at) VALUES (?1, ?1 || '@example.test', 'h', 1)",
                [name],
            )
            .expect("insert");
    };
    let alice = Some("alice@example.test".to_owned());
    add("alice");
    // Read in a transaction and remembered; then replayed, with no transaction.
    assert_eq!(email_together(&mut store, "alice"), (vec![true], alice.clone()));
    assert_eq!(memo_held(&store), (1, true));
    assert_eq!(email_together(&mut store, "alice"), (vec![false], alice.clone()));
    // A row not remembered: the replay stops at it and the reads run again in a transaction;
    // then its absence is remembered too.
    assert_eq!(email_together(&mut store, "bob"), (vec![false, true], None));
    assert_eq!(email_together(&mut store, "bob"), (vec![false], None));
    assert_eq!(memo_held(&store), (2, true));
    // Another connection's commit: read again, and the new row is there.
    add("bob");
    assert_eq!(email_together(&mut store, "bob"), (vec![true], Some("bob@example.test".to_owned())));
    other.execute("UPDATE users SET email = 'new@example.test' WHERE name = 'alice'", []).expect("update");
    assert_eq!(email_together(&mut store, "alice"), (vec![true], Some("new@example.test".to_owned())));
    // This store's own commit ends the replays as well.
    assert_eq!(email_together(&mut store, "carol"), (vec![false, true], None));
    assert_eq!(email_together(&mut store, "carol"), (vec![false], None));
    store.add_user("carol", "carol@example.test", "h", 1).expect("add");
    assert_eq!(email_together(&mut store, "carol"), (vec![true], Some("carol@example.test".to_owned())));
    // A commit while the reads run in their transaction: their snapshot is answered, and not
    // remembered.
    let during = store
        .read_together(|s| {
            let before = s.user("alice").ok().flatten().map(|u| u.email);
            if in_transaction(s) {
                other
                    .execute("UPDATE users SET email = 'during@example.test' WHERE name = 'alice'", [])
                    .expect("update");
            }
            before
        })
        .expect("read");
    assert_eq!(during.as_deref(), Some("new@example.test"));
    assert_eq!(memo_held(&store), (0, false));
    assert_eq!(email_together(&mut store, "alice"), (vec![true], Some("during@example.test".to_owned())));
    // A commit between a replay that stopped at a missing row and the transaction that reads
    // again: the transaction sees it, and its rows are not kept under the replay's header.
    let mut runs = Vec::new();
    let after = store
        .read_together(|s| {
            let open = in_transaction(s);
            runs.push(open);
            if !open {
                other
                    .execute("UPDATE users SET email = 'between@example.test' WHERE name = 'alice'", [])
                    .expect("update");
            }
            (s.user("dave").ok().flatten(), s.user("alice").ok().flatten().map(|u| u.email))
        })
        .expect("read");
    assert_eq!((runs, after), (vec![false, true], (None, Some("between@example.test".to_owned()))));
    assert_eq!(memo_held(&store), (0, false));
    assert_eq!(email_together(&mut store, "alice"), (vec![true], Some("between@example.test".to_owned())));
    drop(store);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn the_memo_is_bounded_and_reads_outside_read_together_pass_it_by() {
    let (dir, store) = temp_store();
    let mut store = crate::store::Store::Sqlite(store);
    let n = super::memo::MAX_ENTRIES + 10;
    store
        .read_together(|s| {
            for i in 0..n {
                assert_eq!(s.user(&format!("u{i}")).expect("read"), None);
            }
        })
        .expect("read");
    assert_eq!(memo_held(&store), (10, true));
    // A plain read (the full path's) neither uses nor fills the memo.
    let other = Connection::open(dir.join("t.db")).expect("second connection");
    assert_eq!(store.user("u1").expect("read"), None);
    assert_eq!(store.user("zed").expect("read"), None);
    assert_eq!(memo_held(&store), (10, true));
    drop(other);
    drop(store);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn every_remembered_kind_replays_as_read() {
    use crate::secret::Secret;
    use crate::store::NewRelay;
    let (dir, mut sqlite) = temp_store();
    sqlite.add_user("alice", "a@example.com", "hash", 1).expect("user");
    let user = sqlite.user("alice").expect("q").expect("some");
    let fqdn = "h.dyn.example.com";
    let new = NewHost {
        fqdn,
        zone: "dyn.example.com",
        user_id: user.id,
        dns_ttl: 60,
        expiry_ttl: 0,
        families: crate::store::Families::BOTH,
    };
    sqlite.add_host(&new, 1).expect("host");
    let password = Secret::new("upstream-secret".to_owned());
    let relay = NewRelay {
        url: "https://upstream.example.net/nic/update",
        username: "u",
        password: &password,
        replaces_local: false,
    };
    sqlite.set_relay(fqdn, &relay, 1).expect("relay");
    let scope = TokenScope { types: None, networks: None, expires_at: None };
    sqlite.set_token(fqdn, b"0123456789abcdef0123456789abcdef", &scope, 1).expect("token");
    let mut store = crate::store::Store::Sqlite(sqlite);
    let read_all = |store: &mut crate::store::Store| {
        let mut runs = Vec::new();
        let rows = store
            .read_together(|s| {
                runs.push(in_transaction(s));
                (
                    s.user("alice").ok().flatten().map(|u| u.id),
                    s.host(fqdn).ok().flatten().map(|h| h.fqdn),
                    s.token(b"0123456789abcdef0123456789abcdef").ok().flatten().map(|t| t.host.fqdn),
                    s.relays_for_update(fqdn, user.id)
                        .ok()
                        .map(|r| r.iter().map(|r| r.url.clone()).collect::<Vec<_>>()),
                )
            })
            .expect("read");
        (runs, rows)
    };
    let want = (
        Some(user.id),
        Some(fqdn.to_owned()),
        Some(fqdn.to_owned()),
        Some(vec!["https://upstream.example.net/nic/update".to_owned()]),
    );
    // Read in a transaction, then replayed without one: the same rows.
    assert_eq!(read_all(&mut store), (vec![true], want.clone()));
    assert_eq!(read_all(&mut store), (vec![false], want));
    assert_eq!(memo_held(&store), (4, true));
    drop(store);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn only_a_whole_initialised_known_wal_index_header_is_trusted() {
    let dir = std::env::temp_dir().join(format!("ddns-cgi-memo-{}", rand_suffix()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = dir.join("x.db");
    let header = |version: u32, init: u8, change: u32| {
        let mut h = [0u8; 48];
        h[..4].copy_from_slice(&version.to_ne_bytes());
        h[8..12].copy_from_slice(&change.to_ne_bytes());
        h[12] = init;
        h
    };
    let write = |first: [u8; 48], second: [u8; 48]| {
        std::fs::write(dir.join("x.db-shm"), [first, second].concat()).expect("write -shm");
    };
    let memo = super::memo::Memo::new(db.to_str());
    let good = header(3_007_000, 1, 7);
    write(good, good);
    // Until the store says its connection reads in WAL mode, no header is trusted.
    assert_eq!(memo.generation(), None);
    memo.set_wal(false);
    assert_eq!(memo.generation(), None);
    memo.set_wal(true);
    assert_eq!(memo.generation(), Some(good));
    // Torn (a commit under way), not initialised, or of another format: not trusted.
    write(header(3_007_000, 1, 8), good);
    assert_eq!(memo.generation(), None);
    write(header(3_007_000, 0, 7), header(3_007_000, 0, 7));
    assert_eq!(memo.generation(), None);
    write(header(3_007_001, 1, 7), header(3_007_001, 1, 7));
    assert_eq!(memo.generation(), None);
    // No -shm file (not in WAL mode, or no reader yet), or an in-memory database: nothing.
    std::fs::remove_file(dir.join("x.db-shm")).expect("remove");
    let fresh = super::memo::Memo::new(db.to_str());
    fresh.set_wal(true);
    assert_eq!(fresh.generation(), None);
    assert_eq!(super::memo::Memo::new(None).generation(), None);
    assert_eq!(super::memo::Memo::new(Some("")).generation(), None);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn a_database_out_of_wal_mode_is_never_remembered_whatever_its_old_shm_says() {
    // A `-shm` file left beside a database in rollback mode (`journal_mode=DELETE`) keeps the
    // header of its last WAL commit for ever: commits no longer touch it. Trusting it replayed
    // a revoked token's grant until the FastCGI server restarted.
    let (dir, store) = temp_store();
    let path = dir.join("t.db");
    let stale = dir.join("stale-shm");
    {
        let reader = Connection::open(&path).expect("reader");
        let _: i64 = reader.query_row("SELECT count(*) FROM users", [], |r| r.get(0)).expect("read");
        std::fs::copy(dir.join("t.db-shm"), &stale).expect("copy the -shm");
    }
    drop(store);
    let conn = Connection::open(&path).expect("switch");
    let mode: String = conn.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0)).expect("journal mode");
    assert_eq!(mode, "delete");
    drop(conn);
    std::fs::copy(&stale, dir.join("t.db-shm")).expect("put the old -shm back");
    let mut store =
        crate::store::Store::Sqlite(Store::open(&path, Duration::from_secs(1), OpenMode::Existing).expect("open"));
    let other = Connection::open(&path).expect("second connection");
    other
        .execute(
            "INSERT INTO users (name, email, password_hash, created_at) VALUES ('alice', 'a@example.test', 'h', 1)",
            [],
        )
        .expect("insert");
    let alice = Some("a@example.test".to_owned());
    assert_eq!(email_together(&mut store, "alice"), (vec![true], alice));
    assert_eq!(email_together(&mut store, "alice"), (vec![true], Some("a@example.test".to_owned())));
    assert_eq!(memo_held(&store), (0, false));
    other.execute("DELETE FROM users", []).expect("delete");
    assert_eq!(email_together(&mut store, "alice"), (vec![true], None));
    drop(store);
    std::fs::remove_dir_all(dir).expect("cleanup");
}

#[test]
fn the_expiry_cut_off_uses_the_touch_interval_of_the_repeat() {
    // The SQL form and `Host::touch_interval` are one rule: the expiry run must add exactly
    // the time a repeat may leave unwritten.
    let conn = Connection::open_in_memory().expect("memory");
    let sql = format!("SELECT {} FROM (SELECT ?1 AS expiry_ttl) h", crate::store::touch_interval_sql("MIN"));
    for expiry_ttl in [60_u32, 61, 69, 70, 599, 600, 601, 3_600, 86_400, u32::MAX] {
        let in_sql: i64 = conn.query_row(&sql, [expiry_ttl], |r| r.get(0)).expect("interval");
        let host = crate::store::Host {
            id: 1,
            fqdn: "h.dyn.example.com".to_owned(),
            zone: "dyn.example.com".to_owned(),
            user_id: 1,
            dns_ttl: 60,
            expiry_ttl,
            ipv4: None,
            ipv6: None,
            last_update: None,
            expired: false,
            offline: false,
            txt: None,
            dns_pending: false,
            families: crate::store::Families::BOTH,
        };
        assert_eq!(in_sql, host.touch_interval(), "expiry_ttl {expiry_ttl}");
    }
}

#[test]
fn an_import_with_a_name_that_exists_writes_nothing() {
    let (dir, mut store) = temp_store();
    store.add_user("alice", "a@example.com", "hash", 1).expect("user");
    let user = store.user("alice").expect("q").expect("some");
    let host = |fqdn| NewHost {
        fqdn,
        zone: "dyn.example.com",
        user_id: user.id,
        dns_ttl: 60,
        expiry_ttl: 0,
        families: crate::store::Families::BOTH,
    };
    store.add_host(&host("b.dyn.example.com"), 1).expect("host");
    let scope = TokenScope { types: None, networks: None, expires_at: None };
    let digest = [7u8; 32];
    let rows = [
        crate::store::ImportedHost { host: host("a.dyn.example.com"), token: Some((&digest, &scope)) },
        crate::store::ImportedHost { host: host("b.dyn.example.com"), token: None },
    ];
    assert!(matches!(store.import_hosts(&rows, 2), Err(StoreError::Exists { .. })));
    assert!(store.host("a.dyn.example.com").expect("q").is_none(), "the first row stayed");
    assert!(store.token(&digest).expect("q").is_none(), "its token stayed");

    store.import_hosts(&rows[..1], 2).expect("import");
    let grant = store.token(&digest).expect("q").expect("the token");
    assert_eq!(grant.host.fqdn, "a.dyn.example.com");
    std::fs::remove_dir_all(dir).expect("cleanup");
}
