//! Copies of the database file for `backup` and `restore`: an online copy through SQLite's
//! backup API (one read transaction, so a consistent state even while FastCGI workers and CGI
//! processes commit), and the checks a file must pass before it may replace the database.
//! The files themselves (their names, modes, owners, the renames) are `admin/backup.rs`'s.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{MIGRATIONS, Store};
use crate::store::{Contents, StoreError};

impl Store {
    /// Copies the database into the empty file at `dest` (created by the caller with the
    /// mode and owner it must have) and says what the copy holds. The copy is in rollback
    /// mode (`journal_mode=DELETE`): one self-contained file, with no `-wal` to lose.
    pub(crate) fn backup_into(&self, dest: &Path, busy_timeout: Duration) -> Result<Contents, StoreError> {
        let mut to =
            Connection::open_with_flags(dest, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        {
            let backup = Backup::new(&self.conn, &mut to)?;
            let deadline = Instant::now() + busy_timeout;
            // All pages in one step: one read transaction on the source, so the copy is one
            // committed state. A WAL reader waits for no writer; `Busy`/`Locked` only come
            // from a checkpoint or recovery under way, which ends.
            loop {
                match backup.step(-1)? {
                    StepResult::Done => break,
                    StepResult::More | StepResult::Busy | StepResult::Locked if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    _ => {
                        return Err(StoreError::Sql(rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                            Some("the backup could not read the database within `busy_timeout_ms`".to_owned()),
                        )));
                    }
                }
            }
        }
        let _: String = to.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))?;
        contents(&to)
    }

    /// Checks the file at `path` (a private copy of what is offered for restore) and readies
    /// it to be the database: it must be a SQLite database that passes `integrity_check`,
    /// of a schema version this ddns-cgi knows, with every table of that version. It is left
    /// in WAL mode, as `init-db` leaves a database, with no `-wal` or `-shm` beside it.
    /// `shown` is the file as the operator named it, for messages.
    pub(crate) fn check_restorable(path: &Path, shown: &Path) -> Result<Contents, StoreError> {
        let not_sqlite = |e: rusqlite::Error| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => {
                StoreError::NotOurs { path: shown.to_owned(), why: "not a SQLite database".to_owned() }
            }
            _ => StoreError::Sql(e),
        };
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
        let problems: Vec<String> = conn
            .prepare("PRAGMA integrity_check(5)")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect::<Result<_, _>>())
            .map_err(not_sqlite)?;
        if problems != ["ok"] {
            return Err(StoreError::Damaged { path: shown.to_owned(), problems: problems.join("; ") });
        }
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { found: version, known });
        }
        let missing: Vec<String> = tables_of_version(version)?.difference(&tables(&conn)?).cloned().collect();
        if version < 1 || !missing.is_empty() {
            let missing = if missing.is_empty() { "every table".to_owned() } else { missing.join(", ") };
            let why = format!("schema version {version}, missing {missing}");
            return Err(StoreError::NotOurs { path: shown.to_owned(), why });
        }
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        let found = contents(&conn)?;
        // Closing the only connection checkpoints and removes the -wal and -shm files.
        conn.close().map_err(|(_, e)| e)?;
        Ok(found)
    }
}

/// The tables of `conn`'s main schema.
fn tables(conn: &Connection) -> Result<BTreeSet<String>, StoreError> {
    let names = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(names)
}

/// The tables a database of schema `version` has: the migrations up to it, run in memory.
fn tables_of_version(version: i64) -> Result<BTreeSet<String>, StoreError> {
    let conn = Connection::open_in_memory()?;
    for sql in MIGRATIONS.iter().take(usize::try_from(version).unwrap_or(0)) {
        conn.execute_batch(sql)?;
    }
    tables(&conn)
}

fn contents(conn: &Connection) -> Result<Contents, StoreError> {
    let count = |table: &str| -> Result<i64, StoreError> {
        Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
    };
    let has_audit = tables(conn)?.contains("audit");
    Ok(Contents {
        schema_version: conn.query_row("PRAGMA user_version", [], |r| r.get(0))?,
        n_users: count("users")?,
        n_hostnames: count("hostnames")?,
        n_audit: if has_audit { count("audit")? } else { 0 },
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use rusqlite::Connection;

    use super::super::Store;
    use crate::store::{OpenMode, StoreError};

    fn temp_store() -> (PathBuf, Store) {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-backup-{}-{}", std::process::id(), rand()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let store = Store::open(&dir.join("t.db"), Duration::from_secs(1), OpenMode::Create).expect("open");
        (dir, store)
    }

    fn rand() -> u64 {
        getrandom::u64().expect("random")
    }

    #[test]
    fn a_backup_copies_every_page_in_one_step() {
        let (dir, store) = temp_store();
        // Many pages: copied a page a step, the copy would need more than one step.
        let writer = Connection::open(dir.join("t.db")).expect("writer");
        writer
            .execute_batch("CREATE TABLE filler(x BLOB); INSERT INTO filler VALUES (zeroblob(200000));")
            .expect("fill");
        let dest = dir.join("copy.db");
        std::fs::File::create(&dest).expect("dest");
        // No time to wait at all: nothing holds the database, so none is needed.
        let copied = store.backup_into(&dest, Duration::ZERO).expect("one-step backup");
        assert_eq!(copied.schema_version, super::MIGRATIONS.len() as i64);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn a_backup_waits_up_to_busy_timeout_for_a_database_held_exclusively() {
        // A database in rollback mode (a restored or hand-made file before any migration
        // set WAL), opened without a busy handler of its own: a reader's lock is refused
        // while another connection holds an exclusive one, and the backup step says `Busy`.
        let (dir, store) = temp_store();
        drop(store);
        let path = dir.join("t.db");
        let _: String = Connection::open(&path)
            .and_then(|c| c.query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0)))
            .expect("rollback mode");
        let store = Store::open(&path, Duration::ZERO, OpenMode::Existing).expect("open");
        let holder = Connection::open(&path).expect("holder");
        holder.execute_batch("BEGIN EXCLUSIVE;").expect("hold");
        let dest = dir.join("copy.db");
        std::fs::File::create(&dest).expect("dest");
        let refused = store.backup_into(&dest, Duration::from_millis(100));
        assert!(
            matches!(&refused, Err(StoreError::Sql(e)) if e.to_string().contains("busy_timeout_ms")),
            "{refused:?}"
        );
        let release = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            holder.execute_batch("COMMIT;").expect("release");
        });
        let copied = store.backup_into(&dest, Duration::from_secs(10));
        release.join().expect("release thread");
        assert_eq!(copied.expect("backup after the release").schema_version, super::MIGRATIONS.len() as i64);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    /// A database file made by hand: the first `version` migrations, `user_version` set.
    fn made(dir: &std::path::Path, name: &str, version: usize, extra: &str) -> PathBuf {
        let path = dir.join(name);
        let conn = Connection::open(&path).expect("create");
        for sql in &super::MIGRATIONS[..version] {
            conn.execute_batch(sql).expect("migration");
        }
        conn.execute_batch(&format!("{extra} PRAGMA user_version = {version};")).expect("version");
        path
    }

    #[test]
    fn only_a_whole_database_of_a_known_version_is_restorable() {
        let dir = std::env::temp_dir().join(format!("ddns-cgi-restorable-{}-{}", std::process::id(), rand()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let known = super::MIGRATIONS.len();
        // The current version and the oldest one are both taken, with what they hold.
        for version in [known, 1] {
            let path = made(&dir, &format!("v{version}.db"), version, "");
            let found = Store::check_restorable(&path, &path).expect("restorable");
            assert_eq!((found.schema_version, found.n_users, found.n_hostnames), (version as i64, 0, 0));
        }
        let newer = made(&dir, "newer.db", known, "");
        Connection::open(&newer).and_then(|c| c.pragma_update(None, "user_version", known as i64 + 1)).expect("newer");
        assert!(matches!(Store::check_restorable(&newer, &newer), Err(StoreError::TooNew { .. })));
        let foreign = made(&dir, "foreign.db", 0, "CREATE TABLE photos(id INTEGER);");
        let refused = Store::check_restorable(&foreign, &foreign);
        assert!(
            matches!(&refused, Err(StoreError::NotOurs { why, .. }) if why.contains("missing every table")),
            "{refused:?}"
        );
        let short = made(&dir, "short.db", known, "DROP TABLE users;");
        let refused = Store::check_restorable(&short, &short);
        assert!(
            matches!(&refused, Err(StoreError::NotOurs { why, .. }) if why.contains("missing users")),
            "{refused:?}"
        );
        let text = dir.join("text.db");
        std::fs::write(&text, "not a database, but long enough to have a header ".repeat(40)).expect("text");
        let refused = Store::check_restorable(&text, &text);
        assert!(
            matches!(&refused, Err(StoreError::NotOurs { why, .. }) if why == "not a SQLite database"),
            "{refused:?}"
        );
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
