//! The errors of the database layer, with what an operator should do about the common ones.

use std::path::PathBuf;

/// A failure of the database layer. Messages say what to fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The file does not exist (CGI mode never creates it).
    #[error("database `{}` does not exist; create it with `ddns-cgi init-db`", path.display())]
    Missing { path: PathBuf },
    /// The file could not be opened or created.
    #[error("cannot open database `{}`: {source}", path.display())]
    Open { path: PathBuf, source: std::io::Error },
    /// The schema was written by a newer ddns-cgi.
    #[error("database schema version {found} is newer than this ddns-cgi supports ({known}); upgrade ddns-cgi")]
    TooNew { found: i64, known: i64 },
    /// A file offered for restore fails SQLite's `integrity_check`.
    #[error("`{}` is damaged (SQLite's integrity check: {problems}); restore another backup", path.display())]
    Damaged { path: PathBuf, problems: String },
    /// A file offered for restore is a SQLite database, but not one of ddns-cgi's.
    #[error("`{}` is not a ddns-cgi database: {why}", path.display())]
    NotOurs { path: PathBuf, why: String },
    /// A name that must be unique is taken.
    #[error("{what} `{name}` already exists")]
    Exists { what: &'static str, name: String },
    /// A host's lock file (beside the database) could not be created, opened or locked.
    #[error("cannot lock `{}`: {source} (the directory of the database must be writable by the user the web server runs CGI as)", path.display())]
    Lock { path: PathBuf, source: std::io::Error },
    /// Any SQLite error: locked past the busy timeout, read-only, corrupt, I/O. The message
    /// adds what an operator should do for the common cases.
    #[error("database error: {source}{hint}", source = .0, hint = hint(.0))]
    Sql(#[from] rusqlite::Error),
    /// PostgreSQL could not be reached or refused the session (`shown` is `user@host/name`).
    /// The message names the causes too (the server's refusal, rustls' verdict on the
    /// certificate), which the driver's own message leaves out; none of them holds the password.
    #[error("cannot connect to postgresql `{shown}`: {}", causes(source))]
    Connect { shown: String, source: ::postgres::Error },
    /// TLS to PostgreSQL could not be set up (the CA file); the handshake's own failures are
    /// `Connect`.
    #[error("cannot set up TLS to postgresql `{shown}`: {message}")]
    Tls { shown: String, message: String },
    /// Any PostgreSQL error after connecting: a lock wait past `lock_timeout`, a lost session,
    /// a refused statement. The message names the server's reason, which the driver's own
    /// ("db error") leaves out.
    #[error("database error (postgresql): {}", causes(.0))]
    Postgres(::postgres::Error),
    /// MariaDB could not be reached or refused the session (`shown` is `user@host/name`).
    #[error("cannot connect to mariadb `{shown}`: {}", causes(source))]
    MariadbConnect { shown: String, source: ::mysql::Error },
    /// TLS to MariaDB could not be set up (the CA file); the handshake's own failures are
    /// `MariadbConnect`.
    #[error("cannot set up TLS to mariadb `{shown}`: {message}")]
    MariadbTls { shown: String, message: String },
    /// Any MariaDB error after connecting: a lock wait past `database.busy_timeout_ms`, a
    /// lost session, a refused statement, with the server's code and reason.
    #[error("database error (mariadb): {}", causes(.0))]
    Mariadb(::mysql::Error),
    /// A MariaDB column that does not hold the type its query expects (a schema changed
    /// under us). The value is not shown: it may be a password hash.
    #[error("database error (mariadb): column {column} of `{query}` holds an unexpected value")]
    MariadbColumn { query: &'static str, column: usize },
    /// A lock of MariaDB's (`GET_LOCK`) not taken within `database.busy_timeout_ms`.
    #[error(
        "database error (mariadb): another session held {what} longer than `database.busy_timeout_ms`; raise it or find the long writer"
    )]
    MariadbLockTimeout { what: &'static str },
    /// A read during a replay of remembered reads (`Store::read_together`) that the memo
    /// does not hold; `read_together` then runs the reads again, so this never leaves it.
    #[error("internal: a read that was not remembered")]
    Unmemoized,
}

/// What to fix, for the SQLite failures an operator can act on.
fn hint(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode;
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            " (another process held the lock longer than `database.busy_timeout_ms`; raise it or find the long writer)"
        }
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            " (the database file and its directory must be writable by the user the web server runs CGI as)"
        }
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            " (the file is not a valid ddns-cgi database; restore it from a backup or recreate it with `ddns-cgi init-db`)"
        }
        Some(ErrorCode::DiskFull) => " (the disk is full)",
        _ => "",
    }
}

/// An error and its chain of sources, `: `-separated, on one line.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        // `io::Error`'s source skips the error it wraps (rustls' verdict, for one).
        if let Some(inner) = s.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
            let shown = inner.to_string();
            if !text.ends_with(&shown) {
                text.push_str(": ");
                text.push_str(&shown);
            }
        }
        source = s.source();
    }
    text.replace('\n', "; ")
}

impl From<::mysql::Error> for StoreError {
    /// Notes a lost session on this thread first ([`lost`]).
    fn from(e: ::mysql::Error) -> StoreError {
        // Server shutdown, connection killed, idle disconnect (ER_SERVER_SHUTDOWN,
        // ER_CONNECTION_KILLED, ER_CLIENT_INTERACTION_TIMEOUT); the driver's own errors are
        // a socket that failed or a protocol it lost track of.
        let lost = match &e {
            ::mysql::Error::IoError(_) | ::mysql::Error::DriverError(_) | ::mysql::Error::CodecError(_) => true,
            ::mysql::Error::MySqlError(m) => matches!(m.code, 1053 | 1927 | 4031),
            _ => false,
        };
        if lost {
            LOST.with(|l| l.set(true));
        }
        StoreError::Mariadb(e)
    }
}

impl From<::postgres::Error> for StoreError {
    /// Notes a lost session on this thread first ([`lost`]).
    fn from(e: ::postgres::Error) -> StoreError {
        // Class 57P: the server ended the session (`pg_terminate_backend`, a shutdown, a
        // crash); `is_closed`: the socket is gone.
        let ended = e.as_db_error().is_some_and(|d| d.code().code().starts_with("57P"));
        if e.is_closed() || ended {
            LOST.with(|l| l.set(true));
        }
        StoreError::Postgres(e)
    }
}

thread_local! {
    /// Whether a PostgreSQL or MariaDB session used on this thread was found lost (closed by
    /// the server: restarted, its session killed, idle past a timeout) since [`lost`] last
    /// asked. Every driver error passes through `From` on its way into a [`StoreError`].
    static LOST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a session used on this thread was found lost since the last call (which forgets
/// it), for `Store::is_usable`. A session is used by one thread at a time, from its taking to
/// its return, so a note on the thread is one on the session in use (or, at worst, drops a
/// healthy session that is opened again).
pub(super) fn lost() -> bool {
    LOST.with(|l| l.replace(false))
}
