//! `ddns-cgi check`: the pre-flight check. It reads the configuration and reports one line
//! per item, `ok` or `FAIL` with what to fix (or `warn`: works but deserves a look, such as
//! a key of the Python ddns-daemon's config that is ignored, or signatures that expire soon):
//! the config parses; who may read it, the key
//! files and the PostgreSQL password file (a secret must not be readable by others); the
//! database exists, has the current schema and is writable, with its directory, by the user
//! the web server runs ddns-cgi as (on PostgreSQL: the server takes the session, the schema
//! is current, and whether the session is encrypted, as the server reports it);
//! for each zone, the DNS server answers, is authoritative (and is PowerDNS, when it says so),
//! accepts a TSIG-signed UPDATE that changes nothing, agrees with our clock, and refuses that
//! UPDATE unsigned, and whether the zone is signed and its signatures verify (and until
//! when); the log target takes lines; the mail relay answers. Access is computed
//! from owner, group and mode bits for that user (`--as-user`, else the user running the
//! check), as the kernel does without ACLs; nothing is written anywhere but to the DNS server
//! (the no-op UPDATE, signed and unsigned). This module also resolves user names for
//! `init-db --owner`. It prints nothing itself.
//!
//! [`accounts`] holds the system's users and groups and the permission rule; [`zone`] the
//! checks of each zone's DNS servers, [`server`] the PowerDNS recognition and hints,
//! [`dnssec`] the zone's signatures; this file the report and the other items.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use crate::config::{Config, LogTarget, MailTransport, MariadbServer, MariadbSslMode, SslMode};
use crate::mail;
use crate::store::{self, MariadbProbe, PgProbe, Store};

mod accounts;
mod dnssec;
mod server;
mod zone;

pub(crate) use accounts::{Accounts, Identity};
use accounts::{READ, SEARCH, WRITE};

/// The outcome of a check: its lines, in order.
#[derive(Debug, Default)]
pub(crate) struct Report {
    lines: Vec<(Mark, String)>,
}

/// How one line of a [`Report`] went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mark {
    Ok,
    /// Works, but deserves a look (a key the Python ddns-daemon's config has that is ignored,
    /// signatures that expire soon, NSEC3 opt-out).
    Warn,
    Fail,
}

impl Report {
    fn ok(&mut self, line: impl Into<String>) {
        self.lines.push((Mark::Ok, line.into()));
    }

    fn warn(&mut self, line: impl Into<String>) {
        self.lines.push((Mark::Warn, line.into()));
    }

    fn fail(&mut self, line: impl Into<String>) {
        self.lines.push((Mark::Fail, line.into()));
    }

    /// One line per item: `ok    ...`, `warn  ...` or `FAIL  ...`.
    pub(crate) fn text(&self) -> String {
        self.lines
            .iter()
            .map(|(mark, line)| {
                let mark = match mark {
                    Mark::Ok => "ok  ",
                    Mark::Warn => "warn",
                    Mark::Fail => "FAIL",
                };
                format!("{mark}  {line}\n")
            })
            .collect()
    }

    pub(crate) fn n_failed(&self) -> usize {
        self.lines.iter().filter(|(mark, _)| *mark == Mark::Fail).count()
    }

    pub(crate) fn n_checked(&self) -> usize {
        self.lines.len()
    }
}

/// Runs every check for the config at `path`, as `user` would need it, at time `now`
/// (seconds since the epoch, which signs the UPDATE and is compared with the server's clock).
pub(crate) fn run(path: &Path, user: &Identity, accounts: &Accounts, now: i64) -> Report {
    let mut r = Report::default();
    let config = match Config::load(path) {
        Ok(c) => {
            r.ok(format!("config `{}`: parses, every key known", path.display()));
            for warning in &c.warnings {
                r.warn(format!("config: {warning}"));
            }
            c
        }
        Err(e) => {
            r.fail(format!("config: {e}"));
            return r;
        }
    };
    let c = Checker { user, accounts, report: &mut r };
    c.run(&config, now);
    r
}

struct Checker<'a> {
    user: &'a Identity,
    accounts: &'a Accounts,
    report: &'a mut Report,
}

impl Checker<'_> {
    fn run(mut self, config: &Config, now: i64) {
        self.secrets(config);
        let known = Store::known_version(&config.database);
        if let Some((shown, probe)) = Store::schema_of_mariadb(&config.database) {
            self.mariadb(config, &shown, probe, known);
        } else if let Some((shown, probe)) = Store::schema_of_postgres(&config.database) {
            self.postgres(config, &shown, probe, known);
        } else {
            self.database(&config.database.path);
        }
        for zone in &config.zones {
            self.zone(zone, now);
        }
        self.log(&config.log.target);
        self.mail(config);
    }

    /// The config must be readable by the user; a file holding a secret must not be
    /// readable by others (the web server's group is fine: mode 0640, root:www-data).
    fn secrets(&mut self, config: &Config) {
        let inline = config.zones.iter().any(|z| z.key.file.is_none())
            || matches!(&config.email.transport, MailTransport::Smtp(s) if s.password.is_some())
            || config.database.postgres.as_ref().is_some_and(|pg| pg.password_in_url)
            || config.database.mariadb.as_ref().is_some_and(|m| m.password_in_url);
        self.secret_file("config", &config.path, inline);
        let password_file = (config.database.postgres.as_ref().and_then(|pg| pg.password_file.as_ref()))
            .or_else(|| config.database.mariadb.as_ref().and_then(|m| m.password_file.as_ref()));
        if let Some(file) = password_file {
            self.secret_file("password file", file, true);
        }
        let mut files: Vec<&PathBuf> = config.zones.iter().filter_map(|z| z.key.file.as_ref()).collect();
        files.sort();
        files.dedup();
        for file in files {
            self.secret_file("key file", file, true);
        }
    }

    fn secret_file(&mut self, what: &str, path: &Path, holds_secret: bool) {
        let shown = path.display();
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return self.report.fail(format!("{what} `{shown}`: {e}")),
        };
        let user = &self.user.name;
        if let Some(why) = self.unsearchable(path) {
            return self.report.fail(format!("{what} `{shown}`: {why}"));
        }
        if self.user.may(&meta, READ) {
            self.report.ok(format!("{what} `{shown}`: readable by `{user}`"));
        } else {
            let group = self.user.gids.first().map_or_else(|| user.clone(), |g| self.accounts.group_name(*g));
            self.report.fail(format!(
                "{what} `{shown}`: not readable by `{user}` ({}); ddns-cgi would answer `911`: `chgrp {group} {shown} && chmod g+r {shown}`",
                self.accounts.describe(&meta)
            ));
        }
        if !holds_secret {
            self.report.ok(format!("{what} `{shown}`: holds no secret (the TSIG keys are in key files)"));
        } else if meta.mode() & 0o004 != 0 {
            self.report.fail(format!(
                "{what} `{shown}`: holds a secret but is readable by others ({}): `chmod o-rwx {shown}`",
                self.accounts.describe(&meta)
            ));
        } else {
            self.report.ok(format!("{what} `{shown}`: holds a secret and is not readable by others"));
        }
    }

    /// The PostgreSQL database: reachable, its schema current, and the session encrypted
    /// when `sslmode` asks for it (as the server sees the session, `pg_stat_ssl`).
    fn postgres(&mut self, config: &Config, shown: &str, probe: Result<PgProbe, store::StoreError>, known: i64) {
        let probe = match probe {
            Ok(p) => p,
            Err(e) => return self.report.fail(format!("database postgresql `{shown}`: {e}")),
        };
        match probe.version {
            v if v == known => self.report.ok(format!("database postgresql `{shown}`: schema version {v}, current")),
            v if v < known => self.report.fail(format!(
                "database postgresql `{shown}`: schema version {v}, this ddns-cgi uses {known}; migrate it: `ddns-cgi init-db`"
            )),
            v => self.report.fail(format!(
                "database postgresql `{shown}`: schema version {v} is newer than this ddns-cgi knows ({known}); upgrade ddns-cgi"
            )),
        }
        let Some(pg) = &config.database.postgres else { return };
        let mode = pg.ssl_mode.name();
        match (probe.tls, pg.ssl_mode) {
            (Some(version), _) => self
                .report
                .ok(format!("database postgresql `{shown}`: connected with TLS (sslmode `{mode}`, {version})")),
            (None, SslMode::Disable) => {
                self.report.ok(format!("database postgresql `{shown}`: connected without TLS (sslmode `disable`)"));
            }
            (None, SslMode::Prefer | SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull) => {
                let local = pg.config.get_hosts().iter().all(|h| matches!(h, ::postgres::config::Host::Unix(_)));
                if local {
                    self.report.ok(format!(
                        "database postgresql `{shown}`: connected over a Unix socket, where TLS is never used"
                    ));
                } else {
                    // Only `prefer` gets here over TCP: the others fail to connect instead.
                    self.report.ok(format!(
                        "database postgresql `{shown}`: connected without TLS, which the server does not offer (sslmode `{mode}`); set `require` or stronger if the network is not trusted"
                    ));
                }
            }
        }
    }

    /// The MariaDB database: reachable, its schema current, and the session encrypted when
    /// `ssl_mode` asks for it (as the server sees the session, `Ssl_version`).
    fn mariadb(&mut self, config: &Config, shown: &str, probe: Result<MariadbProbe, store::StoreError>, known: i64) {
        let probe = match probe {
            Ok(p) => p,
            Err(e) => return self.report.fail(format!("database mariadb `{shown}`: {e}")),
        };
        match probe.version {
            v if v == known => self.report.ok(format!("database mariadb `{shown}`: schema version {v}, current")),
            v if v < known => self.report.fail(format!(
                "database mariadb `{shown}`: schema version {v}, this ddns-cgi uses {known}; migrate it: `ddns-cgi init-db`"
            )),
            v => self.report.fail(format!(
                "database mariadb `{shown}`: schema version {v} is newer than this ddns-cgi knows ({known}); upgrade ddns-cgi"
            )),
        }
        let Some(m) = &config.database.mariadb else { return };
        let mode = m.ssl_mode.name();
        match (probe.tls, m.ssl_mode, &m.server) {
            (Some(version), _, _) => {
                self.report.ok(format!("database mariadb `{shown}`: connected with TLS (ssl-mode `{mode}`, {version})"));
            }
            (None, MariadbSslMode::Disabled, _) => {
                self.report.ok(format!("database mariadb `{shown}`: connected without TLS (ssl-mode `disabled`)"));
            }
            (None, _, MariadbServer::Socket(_)) => self
                .report
                .ok(format!("database mariadb `{shown}`: connected over a Unix socket, where TLS is never used")),
            // Only `preferred` gets here over TCP: the others fail to connect instead.
            (None, _, MariadbServer::Tcp { .. }) => self.report.ok(format!(
                "database mariadb `{shown}`: connected without TLS, which the server does not offer (ssl-mode `{mode}`); set `required` or stronger if the network is not trusted"
            )),
        }
    }

    fn database(&mut self, path: &Path) {
        let shown = path.display();
        let user = self.user.name.clone();
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return self
                    .report
                    .fail(format!("database `{shown}`: does not exist; create it: `ddns-cgi init-db --owner {user}`"));
            }
            Err(e) => return self.report.fail(format!("database `{shown}`: {e}")),
        };
        match Store::schema_of(path) {
            Ok(v) if v == store::SCHEMA_VERSION => self.report.ok(format!("database `{shown}`: schema version {v}, current")),
            Ok(0) => self.report.fail(format!(
                "database `{shown}`: holds no schema; create it: `ddns-cgi init-db --owner {user}`"
            )),
            Ok(v) if v < store::SCHEMA_VERSION => self.report.fail(format!(
                "database `{shown}`: schema version {v}, this ddns-cgi uses {}; migrate it: `ddns-cgi init-db --owner {user}`",
                store::SCHEMA_VERSION
            )),
            Ok(v) => self.report.fail(format!(
                "database `{shown}`: schema version {v} is newer than this ddns-cgi knows ({}); upgrade ddns-cgi",
                store::SCHEMA_VERSION
            )),
            Err(e) => self.report.fail(format!("database `{shown}`: {e}")),
        }
        let mut problems = Vec::new();
        if let Some(why) = self.unsearchable(path) {
            problems.push(format!("database `{shown}`: {why}"));
        }
        if !self.user.may(&meta, READ | WRITE) {
            problems.push(format!(
                "database `{shown}`: not writable by `{user}` ({}); every update would answer `911`: `ddns-cgi init-db --owner {user}`",
                self.accounts.describe(&meta)
            ));
        }
        let dir = parent(path);
        match std::fs::metadata(&dir) {
            Ok(m) if self.user.may(&m, WRITE | SEARCH) => {}
            Ok(m) => problems.push(format!(
                "database directory `{}`: not writable by `{user}` ({}); SQLite creates the -wal and -shm files there: `chown {user}: {}`",
                dir.display(),
                self.accounts.describe(&m),
                dir.display()
            )),
            Err(e) => problems.push(format!("database directory `{}`: {e}", dir.display())),
        }
        // Left by a process that did not close the database (or one run by another user).
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = PathBuf::from(side);
            if let Ok(m) = std::fs::metadata(&side)
                && !self.user.may(&m, READ | WRITE)
            {
                problems.push(format!(
                    "database `{}`: not writable by `{user}` ({}): `chown {user}: {}`",
                    side.display(),
                    self.accounts.describe(&m),
                    side.display()
                ));
            }
        }
        if problems.is_empty() {
            self.report.ok(format!("database `{shown}`: writable by `{user}`, and so is its directory"));
        }
        for p in problems {
            self.report.fail(p);
        }
    }

    fn log(&mut self, target: &LogTarget) {
        let user = self.user.name.clone();
        match target {
            LogTarget::Stderr => self.report.ok("log: to stderr (in CGI, the web server's error log)"),
            LogTarget::Syslog { socket, .. } => {
                let shown = socket.display();
                let writable = match std::fs::metadata(socket) {
                    Ok(m) if !m.file_type().is_socket() => Err(format!("`{shown}` is not a socket")),
                    Ok(m) if !self.user.may(&m, WRITE) => {
                        Err(format!("not writable by `{user}` ({})", self.accounts.describe(&m)))
                    }
                    Ok(_) => UnixDatagram::unbound()
                        .and_then(|s| s.connect(socket))
                        .map_err(|e| format!("cannot connect: {e}")),
                    Err(e) => Err(e.to_string()),
                };
                match writable {
                    Ok(()) => self.report.ok(format!("log: syslog socket `{shown}` takes lines from `{user}`")),
                    Err(e) => self.report.fail(format!(
                        "log: syslog socket `{shown}`: {e}; lines would go to stderr: start rsyslog or journald, or correct `syslog_socket`"
                    )),
                }
            }
            LogTarget::File { path } => {
                let shown = path.display();
                let verdict = match std::fs::metadata(path) {
                    Ok(m) if self.user.may(&m, WRITE) => Ok(()),
                    Ok(m) => Err(format!("not writable by `{user}` ({})", self.accounts.describe(&m))),
                    Err(_) => {
                        // Created at the first line: the directory must let the user do it.
                        let dir = parent(path);
                        match std::fs::metadata(&dir) {
                            Ok(m) if self.user.may(&m, WRITE | SEARCH) => Ok(()),
                            Ok(m) => Err(format!(
                                "does not exist and `{user}` cannot create it in `{}` ({})",
                                dir.display(),
                                self.accounts.describe(&m)
                            )),
                            Err(e) => Err(format!("directory `{}`: {e}", dir.display())),
                        }
                    }
                };
                match verdict {
                    Ok(()) => self.report.ok(format!("log: file `{shown}` is writable by `{user}`")),
                    Err(e) => self.report.fail(format!("log: file `{shown}`: {e}; lines would go to stderr")),
                }
            }
        }
    }

    fn mail(&mut self, config: &Config) {
        if !config.email.enabled {
            return self.report.ok("mail: off (`[email] enabled` is false)");
        }
        match &config.email.transport {
            MailTransport::Smtp(smtp) => match mail::check_relay(smtp) {
                Ok(()) => self.report.ok(format!("mail: SMTP server {}:{} answers", smtp.host, smtp.port)),
                Err(e) => self.report.fail(format!(
                    "mail: SMTP server {}:{} does not answer as expected: {e}; expiry mails would not go out",
                    smtp.host, smtp.port
                )),
            },
            MailTransport::Sendmail { command } => {
                let shown = command.display();
                let user = &self.user.name;
                match std::fs::metadata(command) {
                    Ok(m) if m.is_file() && self.user.may(&m, SEARCH) => {
                        self.report.ok(format!("mail: `{shown}` can be run by `{user}`"));
                    }
                    Ok(m) => self
                        .report
                        .fail(format!("mail: `{shown}` cannot be run by `{user}` ({})", self.accounts.describe(&m))),
                    Err(e) => self
                        .report
                        .fail(format!("mail: `{shown}`: {e}; install a sendmail, or correct `sendmail_command`")),
                }
            }
        }
    }

    /// Why the user cannot reach `path`: the first directory above it without search
    /// permission for them.
    fn unsearchable(&self, path: &Path) -> Option<String> {
        let mut above: Vec<&Path> = path.ancestors().skip(1).filter(|p| !p.as_os_str().is_empty()).collect();
        above.reverse();
        above.into_iter().find_map(|dir| match std::fs::metadata(dir) {
            Ok(m) if self.user.may(&m, SEARCH) => None,
            Ok(m) => {
                Some(format!("`{}` cannot enter `{}` ({})", self.user.name, dir.display(), self.accounts.describe(&m)))
            }
            Err(_) => None,
        })
    }
}

/// The directory a file lives in (`.` for a bare file name).
fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests;
