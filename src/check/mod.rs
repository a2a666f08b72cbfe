//! `ddns-cgi check`: the pre-flight check. It reads the configuration and reports one line
//! per item, `ok` or `FAIL` with what to fix: the config parses; who may read it, the key
//! files and the PostgreSQL password file (a secret must not be readable by others); the
//! database exists, has the current schema and is writable, with its directory, by the user
//! the web server runs ddns-cgi as (on PostgreSQL: the server takes the session, the schema
//! is current, and whether the session is encrypted, as the server reports it);
//! for each zone, the DNS server answers, is authoritative, accepts a TSIG-signed UPDATE that
//! changes nothing, and agrees with our clock; the log target takes lines; the mail relay
//! answers. Access is computed from owner, group and mode bits for that user (`--as-user`,
//! else the user running the check), as the kernel does without ACLs; nothing is written
//! anywhere but to the DNS server (the no-op UPDATE). This module also resolves user names
//! for `init-db --owner`. It prints nothing itself.

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::tsig::TsigError;

use crate::config::{Config, LogTarget, MailTransport, SslMode, Zone};
use crate::confirm;
use crate::dns::{self, DnsError};
use crate::mail;
use crate::store::{self, PgProbe, Store};

/// Permission bits, as in a mode's owner, group or other triple.
const READ: u32 = 4;
const WRITE: u32 = 2;
/// Search for a directory, execute for a file.
const SEARCH: u32 = 1;

/// The accounts of this system: /etc/passwd and /etc/group, read once.
#[derive(Debug, Default)]
pub(crate) struct Accounts {
    passwd: String,
    group: String,
}

impl Accounts {
    /// Reads /etc/passwd and /etc/group; a missing file leaves that table empty.
    pub(crate) fn load() -> Accounts {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        Accounts { passwd: read("/etc/passwd"), group: read("/etc/group") }
    }

    /// The user called `name`: uid, primary group and every group that lists it as a member.
    pub(crate) fn user(&self, name: &str) -> Option<Identity> {
        let (uid, gid) = self.passwd.lines().find_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 4 && f[0] == name).then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))?
        })?;
        let mut gids = vec![gid];
        for line in self.group.lines() {
            let f: Vec<&str> = line.split(':').collect();
            let Some(Ok(g)) = f.get(2).map(|g| g.parse::<u32>()) else { continue };
            if f.get(3).is_some_and(|members| members.split(',').any(|m| m == name)) && !gids.contains(&g) {
                gids.push(g);
            }
        }
        Some(Identity { name: name.to_owned(), uid, gids })
    }

    /// The user this process runs as: the effective uid and the groups from
    /// /proc/self/status (`Uid:`, `Gid:`, `Groups:`), named from /etc/passwd.
    pub(crate) fn current(&self) -> Option<Identity> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        self.process(&status)
    }

    fn process(&self, status: &str) -> Option<Identity> {
        let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_default();
        // `Uid:` and `Gid:` list real, effective, saved and filesystem ids; access uses the last.
        let uid: u32 = field("Uid:").split_whitespace().nth(3)?.parse().ok()?;
        let gid: u32 = field("Gid:").split_whitespace().nth(3)?.parse().ok()?;
        let mut gids = vec![gid];
        gids.extend(field("Groups:").split_whitespace().filter_map(|g| g.parse::<u32>().ok()).filter(|g| *g != gid));
        Some(Identity { name: self.user_name(uid), uid, gids })
    }

    fn user_name(&self, uid: u32) -> String {
        name_of(&self.passwd, uid).unwrap_or_else(|| format!("uid {uid}"))
    }

    fn group_name(&self, gid: u32) -> String {
        name_of(&self.group, gid).unwrap_or_else(|| format!("gid {gid}"))
    }

    /// `owner root, group www-data, mode 0640`, for messages.
    fn describe(&self, meta: &Metadata) -> String {
        format!(
            "owner {}, group {}, mode {:04o}",
            self.user_name(meta.uid()),
            self.group_name(meta.gid()),
            meta.mode() & 0o7777
        )
    }
}

/// The name of id `id` in a passwd- or group-shaped table.
fn name_of(table: &str, id: u32) -> Option<String> {
    table.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[2].parse() == Ok(id)).then(|| f[0].to_owned())
    })
}

/// A user as the kernel sees it when it checks file permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) name: String,
    pub(crate) uid: u32,
    /// The primary group first, then the supplementary ones.
    pub(crate) gids: Vec<u32>,
}

impl Identity {
    /// Whether this user has every permission in `want` on a file with `meta`: the owner
    /// triple if it owns the file, else the group triple if it is in the file's group, else
    /// the other triple (POSIX.1-2017 §4.5, without ACLs). Root may read and write anything
    /// and search any directory.
    fn may(&self, meta: &Metadata, want: u32) -> bool {
        self.may_mode(meta.uid(), meta.gid(), meta.mode(), meta.is_dir(), want)
    }

    fn may_mode(&self, owner: u32, group: u32, mode: u32, is_dir: bool, want: u32) -> bool {
        if self.uid == 0 {
            return want & SEARCH == 0 || is_dir || mode & 0o111 != 0;
        }
        let bits = if owner == self.uid {
            mode >> 6
        } else if self.gids.contains(&group) {
            mode >> 3
        } else {
            mode
        };
        bits & want == want
    }
}

/// The outcome of a check: its lines, in order.
#[derive(Debug, Default)]
pub(crate) struct Report {
    lines: Vec<(bool, String)>,
}

impl Report {
    fn ok(&mut self, line: impl Into<String>) {
        self.lines.push((true, line.into()));
    }

    fn fail(&mut self, line: impl Into<String>) {
        self.lines.push((false, line.into()));
    }

    /// One line per item: `ok    ...` or `FAIL  ...`.
    pub(crate) fn text(&self) -> String {
        self.lines.iter().map(|(ok, line)| format!("{}  {line}\n", if *ok { "ok  " } else { "FAIL" })).collect()
    }

    pub(crate) fn n_failed(&self) -> usize {
        self.lines.iter().filter(|(ok, _)| !ok).count()
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
        match Store::schema_of_postgres(&config.database) {
            Some((shown, probe)) => self.postgres(config, &shown, probe, Store::known_version(&config.database)),
            None => self.database(&config.database.path),
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
            || config.database.postgres.as_ref().is_some_and(|pg| pg.password_in_url);
        self.secret_file("config", &config.path, inline);
        if let Some(file) = config.database.postgres.as_ref().and_then(|pg| pg.password_file.as_ref()) {
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

    fn zone(&mut self, zone: &Zone, now: i64) {
        let name = zone.name_str();
        let server = zone.server;
        let answer = match dns::query_soa(zone) {
            Ok(a) => {
                self.report.ok(format!("zone `{name}`: DNS server {server} answers"));
                a
            }
            Err(e) => {
                return self.report.fail(format!(
                    "zone `{name}`: DNS server {server} does not answer ({e}); start it, or correct `server`"
                ));
            }
        };
        let rcode = answer.metadata.response_code;
        let serial = answer.answers.iter().find_map(|r| match &r.data {
            RData::SOA(soa) if r.name == zone.name => Some(soa.serial),
            _ => None,
        });
        match (rcode, answer.metadata.authoritative, serial) {
            (ResponseCode::NoError, true, Some(serial)) => {
                self.report.ok(format!("zone `{name}`: {server} is authoritative for it (SOA serial {serial})"));
            }
            (rcode, aa, _) => {
                return self.report.fail(format!(
                    "zone `{name}`: {server} is not authoritative for it (answered {}{}); serve the zone there (see contrib/knot/, contrib/bind/), or correct `server` or the zone's `name`",
                    dns::rcode_name(rcode),
                    if aa { " without its SOA" } else { " without the AA bit" }
                ));
            }
        }
        let key = zone.key.name.to_ascii();
        let probe =
            dns::probe_message(&zone.name).and_then(|m| dns::exchange(zone, m, u64::try_from(now).unwrap_or(0)));
        let response = match probe {
            Ok(r) => {
                self.report.ok(format!(
                    "zone `{name}`: {server} accepts updates signed with key `{key}` (an UPDATE that changes nothing)"
                ));
                r
            }
            Err(e) => {
                let hint = update_hint(&e, &key);
                self.report
                    .fail(format!("zone `{name}`: {server} refused an update signed with key `{key}`: {e}{hint}"));
                if let DnsError::Rcode { tsig_error: Some(TsigError::BadTime), .. } = e {
                    self.report.fail(clock_line(&name, server, None));
                }
                return;
            }
        };
        let skew = dns::signed_time(&response).map(|t| i64::try_from(t).unwrap_or(i64::MAX).saturating_sub(now));
        let line = clock_line(&name, server, skew);
        match skew {
            Some(s) if s.unsigned_abs() <= u64::from(dns::TSIG_FUDGE) => self.report.ok(line),
            _ => self.report.fail(line),
        }
        self.secondaries(zone);
    }

    /// One line per read-back server (`confirm`): whether it serves the primary's serial. A
    /// secondary one serial behind for a second after an update is normal (Knot sends its
    /// NOTIFY about a second later): run the check again before chasing it.
    fn secondaries(&mut self, zone: &Zone) {
        if zone.confirm.is_empty() {
            return;
        }
        let name = zone.name_str();
        let lags = match confirm::serial_lag(zone, &zone.confirm) {
            Ok(lags) => lags,
            Err(e) => {
                return self.report.fail(format!("zone `{name}`: cannot read the primary's serial to compare: {e}"));
            }
        };
        for confirm::Lag { server, behind } in lags {
            match behind {
                Ok(0) => self.report.ok(format!("zone `{name}`: secondary {server} serves the primary's serial")),
                Ok(n) => self.report.fail(format!(
                    "zone `{name}`: secondary {server} is {n} serial(s) behind the primary; check NOTIFY and \
                     zone transfers (contrib/knot/secondary.conf, contrib/bind/secondary.conf)"
                )),
                Err(e) => {
                    self.report.fail(format!("zone `{name}`: secondary {server} does not answer for the zone: {e}"))
                }
            }
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

/// The line about the clocks; `skew` is the server's time minus ours, `None` when the server
/// refused our time (BADTIME).
fn clock_line(zone: &str, server: std::net::SocketAddr, skew: Option<i64>) -> String {
    let fudge = dns::TSIG_FUDGE;
    match skew {
        Some(s) if s.unsigned_abs() <= u64::from(fudge) => {
            format!("zone `{zone}`: clocks agree, {server}'s is {s:+} s from ours (TSIG allows {fudge} s)")
        }
        Some(s) => format!(
            "zone `{zone}`: {server}'s clock is {s:+} s from ours, more than TSIG's {fudge} s; synchronise both (NTP)"
        ),
        None => format!(
            "zone `{zone}`: {server}'s clock and ours differ by more than TSIG's {fudge} s (BADTIME); synchronise both (NTP)"
        ),
    }
}

/// What to do about a refused update, for the errors whose cause is clear.
fn update_hint(e: &DnsError, key: &str) -> String {
    match e {
        DnsError::Rcode { tsig_error: Some(TsigError::BadSig), .. } => {
            format!("; the secret of `{key}` differs from the server's")
        }
        DnsError::Rcode { tsig_error: Some(TsigError::BadKey), .. } => {
            format!("; the server has no key `{key}` with this algorithm")
        }
        DnsError::Rcode { rcode: ResponseCode::Refused, tsig_error: None, .. } => format!(
            "; the server's update policy does not let `{key}` change A records in the zone (Knot `acl`, BIND `update-policy`)"
        ),
        DnsError::Rcode { rcode: ResponseCode::NotAuth, tsig_error: None, .. } => {
            "; the server is not the zone's primary".to_owned()
        }
        DnsError::OutsideZone { .. }
        | DnsError::Build { .. }
        | DnsError::Io { .. }
        | DnsError::Timeout { .. }
        | DnsError::Rcode { .. }
        | DnsError::Malformed { .. }
        | DnsError::BadSignature { .. }
        | DnsError::UnverifiedRcode { .. } => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
    const GROUP: &str =
        "root:x:0:\nadm:x:4:syslog,www-data\nwww-data:x:33:\nddns:x:900:alice,www-data\nnogroup:x:65534:\n";

    fn accounts() -> Accounts {
        Accounts { passwd: PASSWD.to_owned(), group: GROUP.to_owned() }
    }

    #[test]
    fn users_come_with_every_group() {
        let a = accounts();
        assert_eq!(a.user("www-data"), Some(Identity { name: "www-data".into(), uid: 33, gids: vec![33, 4, 900] }));
        assert_eq!(a.user("nobody"), Some(Identity { name: "nobody".into(), uid: 65534, gids: vec![65534] }));
        assert_eq!(a.user("www"), None, "a prefix is not a user");
        assert_eq!(a.user("mallory"), None);
        assert_eq!(
            (a.user_name(33), a.group_name(900), a.user_name(7)),
            ("www-data".into(), "ddns".into(), "uid 7".into())
        );
    }

    #[test]
    fn access_follows_owner_then_group_then_other() {
        let www = accounts().user("www-data").expect("www-data");
        let root = accounts().user("root").expect("root");
        // Owner bits decide for the owner, even when the group would allow more.
        assert!(!www.may_mode(33, 33, 0o460, false, WRITE));
        assert!(www.may_mode(33, 0, 0o600, false, READ | WRITE));
        // A supplementary group counts.
        assert!(www.may_mode(0, 900, 0o660, false, READ | WRITE));
        assert!(!www.may_mode(0, 900, 0o640, false, WRITE));
        // Neither owner nor group: the other bits.
        assert!(!www.may_mode(0, 0, 0o600, false, READ));
        assert!(www.may_mode(0, 0, 0o755, true, SEARCH));
        assert!(!www.may_mode(0, 0, 0o750, true, SEARCH));
        // Root reads and writes anything, and runs a file only if some x bit is set.
        assert!(root.may_mode(33, 33, 0o000, false, READ | WRITE));
        assert!(root.may_mode(33, 33, 0o000, true, WRITE | SEARCH));
        assert!(!root.may_mode(0, 0, 0o644, false, SEARCH));
    }

    #[test]
    fn clock_lines() {
        let server: std::net::SocketAddr = "127.0.0.1:53".parse().expect("addr");
        assert_eq!(
            clock_line("dyn.example.com", server, Some(-2)),
            "zone `dyn.example.com`: clocks agree, 127.0.0.1:53's is -2 s from ours (TSIG allows 300 s)"
        );
        assert_eq!(
            clock_line("dyn.example.com", server, Some(301)),
            "zone `dyn.example.com`: 127.0.0.1:53's clock is +301 s from ours, more than TSIG's 300 s; synchronise both (NTP)"
        );
    }

    #[test]
    fn the_process_identity_uses_effective_ids() {
        let status = "Name:\tddns-cgi\nUid:\t0\t33\t33\t33\nGid:\t0\t33\t33\t33\nGroups:\t4 33 900 \n";
        let id = accounts().process(status).expect("identity");
        assert_eq!(id, Identity { name: "www-data".into(), uid: 33, gids: vec![33, 4, 900] });
    }
}
