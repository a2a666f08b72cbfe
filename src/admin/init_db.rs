//! `init-db`: creates the database (0600, optionally given to the web server's user) or
//! migrates it; on PostgreSQL it creates or migrates the tables only.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use crate::check::{self, Identity};
use crate::cli::{self, CliError};
use crate::config::Config;
use crate::log::Log;
use crate::store::{OpenMode, Store};

/// Whether [`create_private`] may open a file that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fresh {
    /// A new file or an error (a temporary file: never anyone else's).
    Only,
    /// A new file, or the one there (`init-db` on a database that exists).
    OrExisting,
}

/// Creates `path` 0600 from its first byte, as every copy of the database must be (it holds
/// password hashes, token digests and relay passwords), and gives it to `owner` (user and
/// group ids) when one is named and it is not theirs yet, before anything is written to it.
pub(super) fn create_private(path: &Path, fresh: Fresh, owner: Option<(u32, u32)>) -> Result<File, CliError> {
    let file = OpenOptions::new()
        .write(true)
        .create(fresh == Fresh::OrExisting)
        .create_new(fresh == Fresh::Only)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::failure(format!("cannot create `{}`: {e}", path.display())))?;
    let current = file.metadata().map(|m| (m.uid(), m.gid())).ok();
    if let Some((uid, gid)) = owner.filter(|o| Some(*o) != current) {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).map_err(|e| {
            CliError::failure(format!("cannot give `{}` to user id {uid}, group id {gid}: {e}", path.display()))
        })?;
    }
    Ok(file)
}

/// `init-db`: creates the database (0600) or migrates it. With `owner`, the file (and its
/// directory when this command creates it) is that user's before SQLite writes a byte, so the
/// -wal and -shm files SQLite creates beside it get that owner too (SQLite gives them the
/// database's owner when it runs as root). Without `owner`, a database owned by root gets a
/// warning: the web server cannot write it, and every update would answer `911`.
pub(crate) fn init_db(config: &Config, owner: Option<&str>, log: &Log) -> Result<String, CliError> {
    if let Some(m) = &config.database.mariadb {
        // MariaDB's administrator creates the database and its user (`CREATE DATABASE`,
        // `GRANT`); `init-db` creates or migrates the tables in it.
        if owner.is_some() {
            return Err(CliError::failure(
                "`--owner` gives a SQLite file to a user; on mariadb the database's user is given its rights with `GRANT`",
            ));
        }
        let version = Store::open(&config.database, OpenMode::Create)?.schema_version()?;
        return Ok(format!("database mariadb `{}` ready (schema version {version})\n", m.shown));
    }
    if let Some(pg) = &config.database.postgres {
        // PostgreSQL's administrator creates the database and its owner; `init-db` creates
        // or migrates the tables in it.
        if owner.is_some() {
            return Err(CliError::failure(
                "`--owner` gives a SQLite file to a user; on postgresql the database's owner is set with `createdb --owner`",
            ));
        }
        let version = Store::open(&config.database, OpenMode::Create)?.schema_version()?;
        return Ok(format!("database postgresql `{}` ready (schema version {version})\n", pg.shown));
    }
    let path = &config.database.path;
    let owner = match owner {
        Some(name) => Some(check::Accounts::load().user(name).ok_or_else(|| cli::user_unknown(name))?),
        None => None,
    };
    let failed =
        |what: &str, p: &Path, e: std::io::Error| CliError::failure(format!("cannot {what} `{}`: {e}", p.display()));
    let give = |p: &Path, o: &Identity| {
        std::os::unix::fs::chown(p, Some(o.uid), o.gids.first().copied())
            .map_err(|e| failed(&format!("give to `{}`", o.name), p, e))
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::DirBuilder::new().mode(0o700).create(dir).map_err(|e| failed("create directory", dir, e))?;
        if let Some(o) = &owner {
            give(dir, o)?;
        }
    }
    if let Some(o) = &owner {
        // Created here, 0600 from the first byte, so it is never root's with data in it.
        create_private(path, Fresh::OrExisting, None)?;
        give(path, o)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if side.exists() {
                give(&side, o)?;
            }
        }
    }
    let version = Store::open(&config.database, OpenMode::Create)?.schema_version()?;
    let shown = path.display();
    match owner {
        Some(o) => Ok(format!("database {shown} ready (schema version {version}, owned by `{}`)\n", o.name)),
        None => {
            if std::fs::metadata(path).is_ok_and(|m| m.uid() == 0) {
                log.warn(format_args!(
                    "database `{shown}` is owned by root: a web server running ddns-cgi as another user cannot write it and every update answers `911`; give it to that user with `ddns-cgi init-db --owner www-data`"
                ));
            }
            Ok(format!("database {shown} ready (schema version {version})\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn private_files_are_created_0600_and_only_if_asked_taken_as_found() {
        let dir = std::env::temp_dir().join(format!(
            "ddns-cgi-private-{}-{}",
            std::process::id(),
            getrandom::u64().expect("random")
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("d.db");
        // `OrExisting` creates a missing file, and opens it again when it is there.
        drop(create_private(&path, Fresh::OrExisting, None).expect("created"));
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        drop(create_private(&path, Fresh::OrExisting, None).expect("opened as found"));
        // `Only` never takes a file that is there.
        assert!(create_private(&path, Fresh::Only, None).is_err());
        drop(create_private(&dir.join("new.db"), Fresh::Only, None).expect("created new"));
        std::fs::remove_dir_all(dir).expect("cleanup");
    }
}
