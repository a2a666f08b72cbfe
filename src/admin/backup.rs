//! `backup` and `restore` of the SQLite database. A copy of `ddns.db` alone is not the
//! database: SQLite in WAL mode keeps the latest commits in `ddns.db-wal` until a checkpoint,
//! and replays whatever `-wal` lies beside `ddns.db` when it next opens it, even onto another
//! file put in its place. So `backup` copies through SQLite's backup API (one consistent
//! state while the service runs) into a private file beside the target, and renames it into
//! place; `restore` refuses while any process has the database open, checks the file, moves
//! the database it replaces aside with its `-wal` and `-shm` (so nothing is replayed onto the
//! restored file, and the replaced state is kept), and puts a checked copy in place. Both
//! files are 0600 and owned like the database. On PostgreSQL both name the server's own tools.
//! The SQL (the copy, the checks) is the store's.

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use super::in_use::{self, beside};
use super::init_db::{Fresh, create_private};
use crate::cli::{BackupArgs, CliError, RestoreArgs};
use crate::config::{Config, PostgresConfig};
use crate::store::{Contents, OpenMode, Store, StoreError};

/// The files SQLite may keep beside a database: the WAL and its index, or a rollback journal.
const SIDE_FILES: [&str; 3] = ["-wal", "-shm", "-journal"];

/// `backup FILE`: an online, consistent copy of the database.
pub(crate) fn backup(config: &Config, args: &BackupArgs) -> Result<String, CliError> {
    if let Some(m) = &config.database.mariadb {
        return Err(CliError::failure(format!(
            "`backup` copies a SQLite database; mariadb `{}` is backed up with its own tools: `mariadb-dump --single-transaction {} > FILE` (restore it with `mariadb {}` < FILE)",
            m.shown, m.name, m.name
        )));
    }
    if let Some(pg) = &config.database.postgres {
        let (options, name) = pg_target(pg);
        return Err(CliError::failure(format!(
            "`backup` copies a SQLite database; postgresql `{}` is backed up with its own tools: `pg_dump --format=custom --file=FILE {options} {name}` (restore it with `pg_restore`, or a plain-text dump with `psql`)",
            pg.shown
        )));
    }
    let db = &config.database.path;
    let db_meta = std::fs::metadata(db).map_err(|e| open_error(db, e))?;
    let target = &args.file;
    if let Ok(meta) = std::fs::metadata(target) {
        if is_database(db, &meta) {
            return Err(CliError::failure(format!("`{}` is the database itself; name another file", target.display())));
        }
        if meta.is_dir() {
            return Err(CliError::failure(format!("`{}` is a directory; name a file", target.display())));
        }
        if !args.force {
            return Err(CliError::failure(format!("`{}` exists; pass `--force` to replace it", target.display())));
        }
    }
    let temp = Temp::beside(target, "backup")?;
    create_private(&temp.0, Fresh::Only, Some((db_meta.uid(), db_meta.gid())))?;
    let store = Store::open(&config.database, OpenMode::Existing)?;
    let copied = store.backup_into(&temp.0, config.database.busy_timeout);
    // The last connection leaves the database file holding everything, as admin commands do.
    store.close();
    let contents = copied.ok_or_else(|| CliError::failure("`backup` copies a SQLite database"))??;
    temp.sync_and_rename(target)?;
    Ok(format!("backed up `{}` to `{}`: {}\n", db.display(), target.display(), summary(&contents)))
}

/// `restore FILE`: replaces the database with a backup, the service stopped.
pub(crate) fn restore(config: &Config, args: &RestoreArgs, now: i64) -> Result<String, CliError> {
    if let Some(m) = &config.database.mariadb {
        return Err(CliError::failure(format!(
            "`restore` replaces a SQLite database; mariadb `{}` is restored with its own tools, the FastCGI servers stopped: `mariadb {} < FILE` for a `mariadb-dump` file",
            m.shown, m.name
        )));
    }
    if let Some(pg) = &config.database.postgres {
        let (options, name) = pg_target(pg);
        return Err(CliError::failure(format!(
            "`restore` replaces a SQLite database; postgresql `{}` is restored with its own tools, the FastCGI servers stopped: `pg_restore --clean --if-exists {options} --dbname={name} FILE` for a `pg_dump --format=custom` file, `psql {options} --dbname={name} --file=FILE` for a plain-text one",
            pg.shown
        )));
    }
    let db = &config.database.path;
    let source = &args.file;
    let source_meta =
        std::fs::metadata(source).map_err(|e| CliError::failure(format!("cannot read `{}`: {e}", source.display())))?;
    if is_database(db, &source_meta) {
        return Err(CliError::failure(format!("`{}` is the database itself; name a backup", source.display())));
    }
    // A backup is one file; one with a -wal or a hot journal beside it was copied while open
    // (or taken with `cp`), and the file alone would lack what those hold.
    if let Some(side) = SIDE_FILES.iter().map(|s| beside(source, s)).find(|p| p.exists()) {
        return Err(CliError::failure(format!(
            "`{}` lies beside `{}`: the file alone may lack its last commits; take a backup with `ddns-cgi backup`",
            side.display(),
            source.display()
        )));
    }
    refuse_if_open(db)?;
    // The copy's owner: the database's, or, when there is none, its directory's.
    let dir = parent(db);
    let like = std::fs::metadata(db)
        .or_else(|_| std::fs::metadata(&dir))
        .map_err(|e| CliError::failure(format!("cannot read `{}`: {e}", dir.display())))?;
    let temp = Temp::beside(db, "restore")?;
    let mut copy = create_private(&temp.0, Fresh::Only, Some((like.uid(), like.gid())))?;
    let mut from = std::fs::File::open(source)
        .map_err(|e| CliError::failure(format!("cannot read `{}`: {e}", source.display())))?;
    std::io::copy(&mut from, &mut copy)
        .map_err(|e| CliError::failure(format!("cannot copy `{}` to `{}`: {e}", source.display(), temp.0.display())))?;
    drop(copy);
    let contents = Store::check_restorable(&temp.0, source)?;
    // Again: the copy and its checks take a while on a large file.
    refuse_if_open(db)?;
    let aside = set_aside(db, now)?;
    temp.sync_and_rename(db)?;
    let mut out = format!("restored `{}` from `{}`: {}\n", db.display(), source.display(), summary(&contents));
    if let Some((aside, sides)) = aside {
        let with = if sides.is_empty() { String::new() } else { format!(" (with its {})", sides.join(" and ")) };
        out.push_str(&format!(
            "the database it replaced is `{}`{with}; remove it when it is no longer needed\n",
            aside.display()
        ));
    }
    Ok(out)
}

/// Refuses (and names them) while other processes have the database open: they would go on
/// writing to the file set aside, and their `-wal` would be replayed onto the restored one.
fn refuse_if_open(db: &Path) -> Result<(), CliError> {
    let holders = in_use::holders(db);
    if holders.is_empty() {
        return Ok(());
    }
    let named: Vec<String> = holders.iter().map(|h| format!("{} (`{}`)", h.pid, h.name)).collect();
    Err(CliError::failure(format!(
        "`{}` is open in process {}; stop the FastCGI server and the web server (and let admin commands and the expiry run finish) before restoring",
        db.display(),
        named.join(", ")
    )))
}

/// Moves the database and the files SQLite keeps beside it to `<database>.replaced-<UTC
/// time>` (the side files keep their suffix, so that name opens as the state it held), 0600.
/// `None` when there is no database. The stripe lock files (`<database>-locks/`) stay.
fn set_aside(db: &Path, now: i64) -> Result<Option<(PathBuf, Vec<&'static str>)>, CliError> {
    if !db.exists() {
        return Ok(None);
    }
    let stamp: String = crate::log::rfc3339(now).chars().filter(|c| !matches!(c, '-' | ':')).collect();
    let mut aside = beside(db, &format!(".replaced-{stamp}"));
    for n in 2.. {
        if !aside.exists() && SIDE_FILES.iter().all(|s| !beside(&aside, s).exists()) {
            break;
        }
        aside = beside(db, &format!(".replaced-{stamp}-{n}"));
    }
    let mut moved = Vec::new();
    for (suffix, from) in std::iter::once(("", db.to_owned())).chain(SIDE_FILES.iter().map(|s| (*s, beside(db, s)))) {
        if !from.exists() {
            continue;
        }
        let to = beside(&aside, suffix);
        std::fs::rename(&from, &to).map_err(|e| {
            CliError::failure(format!("cannot move `{}` aside to `{}`: {e}", from.display(), to.display()))
        })?;
        let _ = std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600));
        if !suffix.is_empty() {
            moved.push(suffix);
        }
    }
    Ok(Some((aside, moved)))
}

/// A private file beside its destination, removed (with any side files SQLite left) unless it
/// was renamed into place.
struct Temp(PathBuf);

impl Temp {
    fn beside(dest: &Path, what: &str) -> Result<Temp, CliError> {
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(Temp(parent(dest).join(format!(".{name}.{what}-{}", std::process::id()))))
    }

    /// Flushes the file to disk and renames it to `dest`, then flushes the directory, so a
    /// crash leaves the old file or the whole new one.
    fn sync_and_rename(self, dest: &Path) -> Result<(), CliError> {
        let failed = |what: &str, p: &Path, e: std::io::Error| {
            CliError::failure(format!("cannot {what} `{}`: {e}", p.display()))
        };
        std::fs::File::open(&self.0).and_then(|f| f.sync_all()).map_err(|e| failed("flush", &self.0, e))?;
        std::fs::rename(&self.0, dest).map_err(|e| failed("rename into place", dest, e))?;
        let dir = parent(dest);
        std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| failed("flush", &dir, e))?;
        std::mem::forget(self);
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        for p in std::iter::once(self.0.clone()).chain(SIDE_FILES.iter().map(|s| beside(&self.0, s))) {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The directory of `path` (`.` for a bare name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Whether `meta` is of the database or a file SQLite keeps beside it.
fn is_database(db: &Path, meta: &std::fs::Metadata) -> bool {
    std::iter::once(db.to_owned())
        .chain(SIDE_FILES.iter().map(|s| beside(db, s)))
        .filter_map(|p| std::fs::metadata(p).ok())
        .any(|m| (m.dev(), m.ino()) == (meta.dev(), meta.ino()))
}

fn open_error(db: &Path, e: std::io::Error) -> CliError {
    match e.kind() {
        std::io::ErrorKind::NotFound => StoreError::Missing { path: db.to_owned() }.into(),
        _ => StoreError::Open { path: db.to_owned(), source: e }.into(),
    }
}

/// What a copy holds, for the command's output.
fn summary(c: &Contents) -> String {
    format!(
        "schema version {}, {} users, {} hostnames, {} audit rows",
        c.schema_version, c.n_users, c.n_hostnames, c.n_audit
    )
}

/// The connection options of libpq's tools (`--host`, `--port`, `--username`) for the
/// configured database, and its name; never the password (the tools take it from
/// `~/.pgpass` or `PGPASSWORD`, not from the command line `ps` shows).
fn pg_target(pg: &PostgresConfig) -> (String, String) {
    let c = &pg.config;
    let mut out = Vec::new();
    if let Some(host) = c.get_hosts().first() {
        let host = match host {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(dir) => dir.display().to_string(),
        };
        out.push(format!("--host={host}"));
    }
    if let Some(port) = c.get_ports().first() {
        out.push(format!("--port={port}"));
    }
    if let Some(user) = c.get_user() {
        out.push(format!("--username={user}"));
    }
    (out.join(" "), c.get_dbname().unwrap_or("NAME").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_set_aside_twice_in_one_second_keeps_both_under_stamped_names() {
        let dir = std::env::temp_dir().join(format!(
            "ddns-cgi-aside-{}-{}",
            std::process::id(),
            getrandom::u64().expect("random")
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let db = dir.join("d.db");
        let now = 1_800_000_000; // 2027-01-15T08:00:00Z
        let stamped = |tail: &str| dir.join(format!("d.db.replaced-20270115T080000Z{tail}"));
        std::fs::write(&db, b"first").expect("db");
        assert_eq!(set_aside(&db, now).expect("aside"), Some((stamped(""), vec![])));
        // Within the same second, without side files: the first one is not overwritten.
        std::fs::write(&db, b"second").expect("db");
        assert_eq!(set_aside(&db, now).expect("aside"), Some((stamped("-2"), vec![])));
        assert_eq!(std::fs::read(stamped("")).expect("first"), b"first");
        assert_eq!(std::fs::read(stamped("-2")).expect("second"), b"second");
        // A name whose main file is gone but whose `-wal` is left is taken too.
        std::fs::write(beside(&stamped("-3"), "-wal"), b"left").expect("wal");
        std::fs::write(&db, b"third").expect("db");
        assert_eq!(set_aside(&db, now).expect("aside"), Some((stamped("-4"), vec![])));
        assert_eq!(set_aside(&db, now).expect("nothing to move"), None);
        std::fs::remove_dir_all(dir).expect("cleanup");
    }

    #[test]
    fn a_bare_database_name_lives_in_the_current_directory() {
        // `File::open("")` fails: the directory flushed after a rename must be `.`.
        assert_eq!(parent(Path::new("ddns.db")), PathBuf::from("."));
        assert_eq!(parent(Path::new("/var/lib/ddns/ddns.db")), PathBuf::from("/var/lib/ddns"));
    }

    #[test]
    fn a_missing_database_is_named_with_the_command_that_creates_it() {
        let db = Path::new("/nonexistent/ddns.db");
        let missing = open_error(db, std::io::Error::from(std::io::ErrorKind::NotFound)).message;
        assert!(missing.contains("does not exist; create it with `ddns-cgi init-db`"), "{missing}");
        let denied = open_error(db, std::io::Error::from(std::io::ErrorKind::PermissionDenied)).message;
        assert!(denied.starts_with("cannot open database `/nonexistent/ddns.db`"), "{denied}");
    }
}
