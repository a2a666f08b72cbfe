//! The admin commands beyond the core ones in `cli`: listing, changing and deleting users and
//! hostnames, creating or revoking a hostname's token (shown once, stored as a digest), and
//! its relays to upstream providers (passwords listed as `***`).
//! Commands that remove or re-publish records talk to DNS first and change the database only
//! after the server accepted, inside the same write transaction, so a failed DNS exchange
//! leaves everything as it was. Output is an aligned table for people or JSON for scripts;
//! this module prints nothing itself.

use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use serde::Serialize;

use crate::acme;
use crate::auth::token::{self, Scope};
use crate::check::{self, Identity};
use crate::cli::{self, AcmeCommand, CliError, HostnameCommand, LogArgs, RatelimitCommand, RelayArgs, UserCommand};
use crate::config::{self, Config};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::request::normalize_hostname;
use crate::secret::Secret;
use crate::store::{
    Derivation, Host, HostListing, NewRelay, OpenMode, Relay, RelayChange, Store, StoreError, TokenInfo, UserSummary,
};
use crate::{ratelimit, relay};

/// `acme add`: a new acme-dns account, printed once in the JSON that acme-dns clients keep
/// (lego's `ACME_DNS_STORAGE_PATH`, certbot-dns-acmedns' registration file, acme.sh's values:
/// the domain mapped to acme-dns's registration answer), then the CNAME that sends the
/// domain's challenges (`_acme-challenge`, RFC 8555 §8.4) to the account's name.
pub(crate) fn acme(config: &Config, store: &mut Store, command: AcmeCommand, now: i64) -> Result<String, CliError> {
    match command {
        AcmeCommand::Add { domain, allowfrom, output } => {
            let Some(acme_config) = &config.acme else {
                return Err(CliError::failure(format!(
                    "no `[acme]` section in {}; add one with the `zone` that holds the challenge names",
                    config.path.display()
                )));
            };
            // `*.example.org` is validated at `_acme-challenge.example.org` too.
            let bare = domain.strip_prefix("*.").unwrap_or(&domain);
            let name = normalize_hostname(bare)
                .ok_or_else(|| CliError::failure(format!("`{domain}` is not a valid domain name")))?;
            let allowfrom: Vec<String> = allowfrom
                .iter()
                .flat_map(|l| l.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let registration = acme::create_account(acme_config, store, &name, &allowfrom, now)
                .map_err(|e| CliError::failure(e.to_string()))?;
            let storage = std::collections::BTreeMap::from([(name.as_str(), &registration)]);
            let json = serde_json::to_string_pretty(&storage).map_err(|e| CliError::failure(e.to_string()))?;
            if output.json {
                return Ok(format!("{json}\n"));
            }
            Ok(format!(
                "{json}\n\nAdd this record to the zone of `{name}` (the key above is shown only once):\n\
                 _acme-challenge.{name}. CNAME {}.\n",
                registration.fulldomain
            ))
        }
    }
}

/// Why a DNS step of an admin command failed; the command then changes nothing.
#[derive(Debug, thiserror::Error)]
enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The host's zone is no longer in the config, so its server is unknown.
    #[error("zone `{zone}` of `{fqdn}` is not configured")]
    ZoneGone { fqdn: String, zone: String },
    #[error(transparent)]
    Dns(#[from] DnsError),
    /// A stored name that is not a DNS name (only possible if the database was edited).
    #[error("`{fqdn}` is not a valid DNS name")]
    BadName { fqdn: String },
}

pub(crate) fn user(
    config: &Config,
    store: &mut Store,
    command: UserCommand,
    now: i64,
    log: &Log,
) -> Result<String, CliError> {
    match command {
        UserCommand::List { output } => {
            let users = store.users()?;
            if output.json {
                return json(&users.iter().map(UserJson::from).collect::<Vec<_>>());
            }
            let rows = users
                .iter()
                .map(|u| {
                    vec![u.name.clone(), u.email.clone(), u.n_hosts.to_string(), crate::log::rfc3339(u.created_at)]
                })
                .collect();
            Ok(table(&["USER", "EMAIL", "HOSTNAMES", "CREATED"], rows))
        }
        UserCommand::Delete { name, force } => {
            let Some(user) = store.user(&name)? else {
                return Err(CliError::not_found(format!("user `{name}` does not exist")));
            };
            let hosts = store.hosts(Some(user.id))?;
            if !hosts.is_empty() && !force {
                let names: Vec<String> = hosts.iter().map(|h| format!("`{}`", h.host.fqdn)).collect();
                return Err(CliError::failure(format!(
                    "user `{name}` still owns hostnames {}; delete them first or use `--force`",
                    names.join(", ")
                )));
            }
            for listing in &hosts {
                delete_host(config, store, &listing.host.fqdn, now, log)?;
            }
            if !store.delete_user(user.id)? {
                return Err(CliError::not_found(format!("user `{name}` does not exist")));
            }
            Ok(format!("user `{name}` deleted with {} hostnames\n", hosts.len()))
        }
        UserCommand::Passwd { name, password } => {
            let Some(user) = store.user(&name)? else {
                return Err(CliError::not_found(format!("user `{name}` does not exist")));
            };
            let password = cli::read_password(&password)?;
            let hash =
                crate::auth::hash_password(&password, &config.auth).map_err(|e| CliError::failure(e.to_string()))?;
            store.set_password_hash(user.id, &hash)?;
            Ok(format!("password of `{name}` changed\n"))
        }
        UserCommand::Email { name, email } => {
            cli::check_email(&email)?;
            if !store.set_email(&name, &email)? {
                return Err(CliError::not_found(format!("user `{name}` does not exist")));
            }
            Ok(format!("email of `{name}` set to `{email}`\n"))
        }
        UserCommand::Add { .. } => Err(CliError::failure("`user add` is handled by the core commands")),
    }
}

pub(crate) fn hostname(
    config: &Config,
    store: &mut Store,
    command: HostnameCommand,
    now: i64,
    log: &Log,
) -> Result<String, CliError> {
    match command {
        HostnameCommand::List { user, output } => {
            let user_id = match &user {
                Some(name) => match store.user(name)? {
                    Some(u) => Some(u.id),
                    None => return Err(CliError::not_found(format!("user `{name}` does not exist"))),
                },
                None => None,
            };
            let hosts = store.hosts(user_id)?;
            let relays = store.relay_counts()?;
            let relays_of = |l: &HostListing| relays.get(&l.host.fqdn).copied().unwrap_or((0, 0));
            let derivations = store.derivations()?;
            let derivation = |h: &HostListing| derivations.iter().find(|d| d.child == h.host.fqdn);
            if output.json {
                return json(&hosts.iter().map(|l| HostJson::new(l, relays_of(l), derivation(l))).collect::<Vec<_>>());
            }
            // FOLLOWS only when a listed hostname follows another: the table stays as it
            // was for the many installations without fan-out (`--json` always has `follows`).
            let any_follows = hosts.iter().any(|h| derivation(h).is_some());
            let rows = hosts
                .iter()
                .map(|h| {
                    let mut row = host_row(h, relays_of(h));
                    if any_follows {
                        row.push(follows_cell(derivation(h)));
                    }
                    row
                })
                .collect();
            let mut header = vec![
                "HOSTNAME",
                "USER",
                "ZONE",
                "DNS_TTL",
                "EXPIRY_TTL",
                "IPV4",
                "IPV6",
                "LAST_UPDATE",
                "EXPIRES",
                "TOKEN",
            ];
            if any_follows {
                header.push("FOLLOWS");
            }
            Ok(table(&header, rows))
        }
        HostnameCommand::Modify { fqdn, dns_ttl, expiry_ttl } => {
            let fqdn = host_arg(&fqdn)?;
            if dns_ttl.is_none() && expiry_ttl.is_none() {
                return Err(CliError::failure("nothing to change; give `--dns-ttl` or `--expiry-ttl`"));
            }
            let changed = store.modify_host_locked(&fqdn, |host| {
                let (new_dns_ttl, new_expiry_ttl) =
                    (dns_ttl.unwrap_or(host.dns_ttl), expiry_ttl.unwrap_or(host.expiry_ttl));
                cli::check_ttls(new_dns_ttl, new_expiry_ttl).map_err(ModifyError::Usage)?;
                if new_dns_ttl != host.dns_ttl && is_live(host) {
                    // The TTL lives in the records (RFC 1035 §3.2.1): re-publish them.
                    let zone = zone_of(config, host).map_err(ModifyError::Admin)?;
                    let fqdn = name(&host.fqdn).map_err(ModifyError::Admin)?;
                    let mut message = dns::replace_message(&zone.name, &fqdn, new_dns_ttl, host.ipv4, host.ipv6)?;
                    if let Some(txt) = &host.txt {
                        dns::replace_txt(&mut message, &fqdn, new_dns_ttl, &[txt]);
                    }
                    dns::exchange(zone, message, u64::try_from(now).unwrap_or(0))?;
                    log.debug(format_args!("`{}`: re-published with TTL {new_dns_ttl}", host.fqdn));
                }
                Ok((new_dns_ttl, new_expiry_ttl))
            });
            match changed {
                Ok(Some((d, e))) => Ok(format!("hostname `{fqdn}` now has dns_ttl {d} and expiry_ttl {e}\n")),
                Ok(None) => Err(CliError::not_found(format!("hostname `{fqdn}` does not exist"))),
                Err(ModifyError::Usage(e)) => Err(e),
                Err(ModifyError::Admin(e)) => Err(CliError::failure(format!(
                    "cannot re-publish the records of `{fqdn}`, nothing was changed: {e}"
                ))),
            }
        }
        HostnameCommand::Delete { fqdn } => {
            let fqdn = host_arg(&fqdn)?;
            delete_host(config, store, &fqdn, now, log)?;
            Ok(format!("hostname `{fqdn}` deleted\n"))
        }
        HostnameCommand::Token { fqdn, revoke: true, .. } => {
            let fqdn = host_arg(&fqdn)?;
            match store.revoke_token(&fqdn)? {
                Some(true) => Ok(format!("token of `{fqdn}` revoked\n")),
                Some(false) => Err(CliError::not_found(format!("hostname `{fqdn}` has no token"))),
                None => Err(CliError::not_found(format!("hostname `{fqdn}` does not exist"))),
            }
        }
        HostnameCommand::Token { fqdn, revoke: false, types, from, expires } => {
            let fqdn = host_arg(&fqdn)?;
            let scope = Scope::from_options(types.as_deref(), from.as_deref(), expires.as_deref(), now)
                .map_err(|e| CliError::failure(e.to_string()))?;
            let token =
                token::generate().map_err(|e| CliError::failure(format!("no randomness for the token: {e}")))?;
            if !store.set_token(&fqdn, &token::digest(token.expose()), &scope.to_stored(), now)? {
                return Err(CliError::not_found(format!("hostname `{fqdn}` does not exist")));
            }
            log.debug(format_args!("`{fqdn}`: new token stored ({})", scope.summary()));
            // The only time the token is shown: stdout carries it alone, for scripts.
            Ok(format!("{}\n", token.expose()))
        }
        HostnameCommand::Relay(args) => relay(store, args, now),
        HostnameCommand::Underive { child } => {
            let child = host_arg(&child)?;
            match store.underive(&child)? {
                Some(true) => Ok(format!("hostname `{child}` no longer follows a prefix; its records stay\n")),
                Some(false) => Err(CliError::not_found(format!("hostname `{child}` follows no other hostname"))),
                None => Err(CliError::not_found(format!("hostname `{child}` does not exist"))),
            }
        }
        HostnameCommand::History { fqdn, limit, output } => history(store, &fqdn, limit, output.json),
        HostnameCommand::Add { .. } => Err(CliError::failure("`hostname add` is handled by the core commands")),
        HostnameCommand::Derive { .. } => Err(CliError::failure("`hostname derive` is handled by the core commands")),
    }
}

/// `init-db`: creates the database (0600) or migrates it. With `owner`, the file (and its
/// directory when this command creates it) is that user's before SQLite writes a byte, so the
/// -wal and -shm files SQLite creates beside it get that owner too (SQLite gives them the
/// database's owner when it runs as root). Without `owner`, a database owned by root gets a
/// warning: the web server cannot write it, and every update would answer `911`.
pub(crate) fn init_db(config: &Config, owner: Option<&str>, log: &Log) -> Result<String, CliError> {
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
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|e| failed("create", path, e))?;
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

/// `ratelimit list` and `ratelimit clear`: the counters behind `abuse` answers.
pub(crate) fn ratelimit(
    config: &Config,
    store: &mut Store,
    command: RatelimitCommand,
    now: i64,
) -> Result<String, CliError> {
    let limits = &config.rate_limit;
    match command {
        RatelimitCommand::List { output } => {
            let longest = limits.good_window_seconds.max(limits.bad_window_seconds);
            let mut rows = Vec::new();
            for counter in store.rate_limit_counters(now - i64::from(longest))? {
                let Some((window, max)) = ratelimit::limit_of(limits, &counter.scope) else { continue };
                let since = now - i64::from(window);
                let counted: Vec<i64> = counter.at.iter().copied().filter(|t| *t >= since).collect();
                if counted.is_empty() {
                    continue;
                }
                // A request passes once fewer than `max` rows are inside its window: when the
                // oldest rows beyond `max - 1` have left it, one second after they are older
                // than the window.
                let max_rows = usize::try_from(max).unwrap_or(usize::MAX);
                let until =
                    counted.len().checked_sub(max_rows).and_then(|i| counted.get(i)).map(|t| t + i64::from(window) + 1);
                rows.push((counter.scope, counter.key, counted.len(), max, window, until));
            }
            if output.json {
                let items: Vec<CounterJson<'_>> = rows
                    .iter()
                    .map(|(scope, key, n, max, window, until)| CounterJson {
                        scope,
                        key,
                        n_requests: *n,
                        max_requests: *max,
                        window_seconds: *window,
                        limited_until: *until,
                    })
                    .collect();
                return json(&items);
            }
            let rows = rows
                .into_iter()
                .map(|(scope, key, n, max, window, until)| {
                    vec![
                        scope,
                        key,
                        n.to_string(),
                        max.to_string(),
                        window.to_string(),
                        until.map_or_else(|| "-".to_owned(), crate::log::rfc3339),
                    ]
                })
                .collect();
            Ok(table(&["SCOPE", "KEY", "REQUESTS", "LIMIT", "WINDOW", "LIMITED_UNTIL"], rows))
        }
        RatelimitCommand::Clear { key: None } => {
            let n = store.clear_rate_limit(None)?;
            Ok(format!("cleared {n} rate-limit {}\n", rows_word(n)))
        }
        RatelimitCommand::Clear { key: Some(arg) } => {
            match store.clear_rate_limit(Some(&ratelimit::keys_for(limits, &arg)))? {
                0 => Err(CliError::not_found(format!("no rate-limit rows of `{arg}`"))),
                n => Ok(format!("cleared {n} rate-limit {} of `{arg}`\n", rows_word(n))),
            }
        }
    }
}

fn rows_word(n: usize) -> &'static str {
    if n == 1 { "row" } else { "rows" }
}

/// Why `hostname modify` failed: a bad value, or DNS/database.
#[derive(Debug)]
enum ModifyError {
    Usage(CliError),
    Admin(AdminError),
}

impl From<StoreError> for ModifyError {
    fn from(e: StoreError) -> Self {
        ModifyError::Admin(AdminError::Store(e))
    }
}

impl From<DnsError> for ModifyError {
    fn from(e: DnsError) -> Self {
        ModifyError::Admin(AdminError::Dns(e))
    }
}

/// Removes the host's records, then its row, in one transaction; a DNS failure keeps both.
fn delete_host(config: &Config, store: &mut Store, fqdn: &str, now: i64, log: &Log) -> Result<(), CliError> {
    let deleted = store.delete_host_locked(fqdn, |host| {
        if !is_live(host) {
            return Ok::<(), AdminError>(());
        }
        let zone = zone_of(config, host)?;
        let message = dns::delete_message(&zone.name, &name(&host.fqdn)?)?;
        dns::exchange(zone, message, u64::try_from(now).unwrap_or(0))?;
        log.debug(format_args!("`{fqdn}`: removed its A, AAAA and TXT records"));
        Ok(())
    });
    match deleted {
        Ok(true) => Ok(()),
        Ok(false) => Err(CliError::not_found(format!("hostname `{fqdn}` does not exist"))),
        Err(e) => {
            Err(CliError::failure(format!("cannot remove the DNS records of `{fqdn}`, nothing was deleted: {e}")))
        }
    }
}

/// Whether the host has records in DNS, as far as the database knows.
fn is_live(host: &Host) -> bool {
    !host.expired && (host.ipv4.is_some() || host.ipv6.is_some() || host.txt.is_some())
}

fn zone_of<'a>(config: &'a Config, host: &Host) -> Result<&'a config::Zone, AdminError> {
    config.zone(&host.zone).ok_or_else(|| AdminError::ZoneGone { fqdn: host.fqdn.clone(), zone: host.zone.clone() })
}

fn name(fqdn: &str) -> Result<Name, AdminError> {
    Name::from_ascii(format!("{fqdn}.")).map_err(|_| AdminError::BadName { fqdn: fqdn.to_owned() })
}

fn host_arg(raw: &str) -> Result<String, CliError> {
    normalize_hostname(raw).ok_or_else(|| CliError::failure(format!("`{raw}` is not a valid hostname")))
}

/// When the host's records go: `never`, `expired`, `-` (no records yet), or a time.
fn expires(host: &Host) -> Option<i64> {
    match (host.expiry_ttl, host.last_update) {
        (0, _) | (_, None) => None,
        (ttl, Some(t)) => Some(t + i64::from(ttl)),
    }
}

fn host_row(listing: &HostListing, relays: (u32, u32)) -> Vec<String> {
    let h = &listing.host;
    let expires = if h.expiry_ttl == 0 {
        "never".to_owned()
    } else if h.expired {
        "expired".to_owned()
    } else {
        expires(h).map_or_else(|| "-".to_owned(), crate::log::rfc3339)
    };
    vec![
        hostname_cell(&h.fqdn, relays),
        listing.owner.clone(),
        h.zone.clone(),
        h.dns_ttl.to_string(),
        h.expiry_ttl.to_string(),
        h.ipv4.map_or_else(|| "-".to_owned(), |a| a.to_string()),
        h.ipv6.map_or_else(|| "-".to_owned(), |a| a.to_string()),
        h.last_update.map_or_else(|| "-".to_owned(), crate::log::rfc3339),
        expires,
        token_cell(listing.token.as_ref()),
    ]
}

/// The HOSTNAME cell: the name, marked when it has relays (` (relays: 2)`, and `, only` when
/// they replace the local update: every relay has `--only`). A mark rather than a column, so
/// the table of hosts without relays is what it always was.
fn hostname_cell(fqdn: &str, (n_relays, n_only): (u32, u32)) -> String {
    match (n_relays, n_only) {
        (0, _) => fqdn.to_owned(),
        (n, m) if m == n => format!("{fqdn} (relays: {n}, only)"),
        (n, _) => format!("{fqdn} (relays: {n})"),
    }
}

/// The TOKEN column: `-` without a token, `any` for an unscoped one, else its limits. A
/// scope that cannot be read (an edited database) refuses every request and says so here.
fn token_cell(info: Option<&TokenInfo>) -> String {
    match info.map(|t| Scope::from_stored(&t.scope)) {
        None => "-".to_owned(),
        Some(Ok(scope)) => scope.summary(),
        Some(Err(_)) => "unreadable".to_owned(),
    }
}

/// `--json` output: one line, the listing's array.
fn json<T: Serialize + ?Sized>(value: &T) -> Result<String, CliError> {
    let mut out = serde_json::to_string(value).map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
    out.push('\n');
    Ok(out)
}

/// The FOLLOWS column: `-`, or the parent with the child's interface id, IPv4 rule and TTL.
fn follows_cell(derivation: Option<&Derivation>) -> String {
    let Some(d) = derivation else { return "-".to_owned() };
    let mut cell = format!("{} iid={}", d.parent, d.ipv6_iid);
    if let Some(rule) = &d.ipv4_rule {
        cell.push_str(&format!(" ipv4={rule}"));
    }
    if let Some(ttl) = d.dns_ttl {
        cell.push_str(&format!(" ttl={ttl}"));
    }
    cell
}

/// One counter of `ratelimit list --json`; `limited_until` (seconds since the epoch) is
/// `null` while requests still pass.
#[derive(Serialize)]
struct CounterJson<'a> {
    scope: &'a str,
    key: &'a str,
    n_requests: usize,
    max_requests: u32,
    window_seconds: u32,
    limited_until: Option<i64>,
}

/// One user of `user list --json`.
#[derive(Serialize)]
struct UserJson<'a> {
    name: &'a str,
    email: &'a str,
    created_at: i64,
    n_hosts: i64,
}

impl<'a> From<&'a UserSummary> for UserJson<'a> {
    fn from(u: &'a UserSummary) -> Self {
        UserJson { name: &u.name, email: &u.email, created_at: u.created_at, n_hosts: u.n_hosts }
    }
}

/// One hostname of `hostname list --json`; times are seconds since the epoch.
#[derive(Serialize)]
struct HostJson<'a> {
    hostname: &'a str,
    user: &'a str,
    zone: &'a str,
    dns_ttl: u32,
    expiry_ttl: u32,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    last_update: Option<i64>,
    expires_at: Option<i64>,
    expired: bool,
    /// `null` without a token.
    token: Option<TokenJson>,
    /// Relays to upstream providers, and whether all of them replace the local update.
    n_relays: u32,
    relay_only: bool,
    /// Only for a hostname that follows another's prefix (`hostname derive`), so listings
    /// without fan-out keep their shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    follows: Option<FollowsJson<'a>>,
}

/// The rule a derived hostname follows its parent by.
#[derive(Serialize)]
struct FollowsJson<'a> {
    parent: &'a str,
    ipv6_iid: Ipv6Addr,
    ipv4: Option<&'a str>,
    ttl: Option<u32>,
}

impl<'a> HostJson<'a> {
    fn new(listing: &'a HostListing, (n_relays, n_only): (u32, u32), derivation: Option<&'a Derivation>) -> Self {
        let h = &listing.host;
        HostJson {
            hostname: &h.fqdn,
            user: &listing.owner,
            zone: &h.zone,
            dns_ttl: h.dns_ttl,
            expiry_ttl: h.expiry_ttl,
            ipv4: h.ipv4,
            ipv6: h.ipv6,
            last_update: h.last_update,
            expires_at: expires(h),
            expired: h.expired,
            token: listing.token.as_ref().map(TokenJson::from),
            n_relays,
            relay_only: n_relays > 0 && n_only == n_relays,
            follows: derivation.map(|d| FollowsJson {
                parent: &d.parent,
                ipv6_iid: d.ipv6_iid,
                ipv4: d.ipv4_rule.as_deref(),
                ttl: d.dns_ttl,
            }),
        }
    }
}

/// A token's limits; in each, `null` means no limit. A scope that cannot be read (an edited
/// database) refuses every request and shows as `{"unreadable":true,...}`.
#[derive(Serialize)]
#[serde(untagged)]
enum TokenJson {
    Scope { types: Option<Vec<String>>, from: Option<Vec<String>>, expires: Option<String>, created_at: i64 },
    Unreadable { unreadable: bool, created_at: i64 },
}

impl From<&TokenInfo> for TokenJson {
    fn from(info: &TokenInfo) -> Self {
        let Ok(scope) = Scope::from_stored(&info.scope) else {
            return TokenJson::Unreadable { unreadable: true, created_at: info.created_at };
        };
        let limit = |items: Vec<String>| Some(items).filter(|v| !v.is_empty());
        TokenJson::Scope {
            types: limit(scope.types_list()),
            from: limit(scope.networks_list()),
            expires: scope.expires(),
            created_at: info.created_at,
        }
    }
}

/// `hostname relay`: add or replace (`--url`), remove, resume (`--clear-pause`) or list the
/// hostname's relays. Passwords are read from stdin or a prompt, never from the command line
/// (process listings), and listed as `***`.
fn relay(store: &mut Store, args: RelayArgs, now: i64) -> Result<String, CliError> {
    let fqdn = host_arg(&args.fqdn)?;
    let gone = || CliError::not_found(format!("hostname `{fqdn}` does not exist"));
    let no_relay =
        |url: &str| CliError::not_found(format!("hostname `{fqdn}` has no relay to `{}`", relay::display_url(url)));
    if let Some(url) = &args.url {
        relay::check_url(url).map_err(|e| CliError::failure(e.to_string()))?;
        let Some(username) = args.user.as_deref() else {
            return Err(CliError::failure("`--url` needs `--user` with the user name at the upstream"));
        };
        if username.is_empty()
            || username.len() > 256
            || username.contains(':')
            || username.chars().any(char::is_control)
        {
            return Err(CliError::failure(format!(
                "`{username}` is not a usable upstream user name: 1 to 256 characters, no `:` (HTTP Basic splits there) and no control characters"
            )));
        }
        let password = read_upstream_password(args.password_stdin)?;
        let new = NewRelay { url, username, password: &password, replaces_local: args.only };
        let shown = relay::display_url(url);
        let mode = if args.only { "instead of the local update" } else { "in addition to the local update" };
        return match store.set_relay(&fqdn, &new, now)? {
            RelayChange::Added => Ok(format!("`{fqdn}` now relays to {shown} ({mode})\n")),
            RelayChange::Changed => {
                Ok(format!("relay of `{fqdn}` to {shown} replaced ({mode}); its pause, if any, is cleared\n"))
            }
            RelayChange::NoHost => Err(gone()),
            RelayChange::NoRelay | RelayChange::Unchanged => Err(CliError::failure("the relay was not stored")),
        };
    }
    if let Some(url) = &args.remove {
        return match store.remove_relay(&fqdn, url)? {
            RelayChange::Changed => Ok(format!("relay of `{fqdn}` to {} removed\n", relay::display_url(url))),
            RelayChange::NoHost => Err(gone()),
            RelayChange::NoRelay | RelayChange::Unchanged | RelayChange::Added => Err(no_relay(url)),
        };
    }
    if let Some(url) = &args.clear_pause {
        let shown = relay::display_url(url);
        return match store.clear_relay_pause(&fqdn, url)? {
            RelayChange::Changed => Ok(format!("relay of `{fqdn}` to {shown} resumed\n")),
            RelayChange::Unchanged => Ok(format!("relay of `{fqdn}` to {shown} was not paused\n")),
            RelayChange::NoHost => Err(gone()),
            RelayChange::NoRelay | RelayChange::Added => Err(no_relay(url)),
        };
    }
    let Some(relays) = store.relays(&fqdn)? else { return Err(gone()) };
    if args.output.json {
        return json(&relays.iter().map(RelayJson::from).collect::<Vec<_>>());
    }
    let rows = relays
        .iter()
        .map(|r| {
            vec![
                relay::display_url(&r.url),
                r.username.clone(),
                "***".to_owned(),
                if r.replaces_local { "only" } else { "in addition" }.to_owned(),
                r.paused.as_ref().map_or_else(
                    || "active".to_owned(),
                    |p| format!("paused ({}, {})", p.reason, crate::log::rfc3339(p.since)),
                ),
                match (&r.last_result, r.last_at) {
                    (Some(result), Some(at)) => format!("{result} ({})", crate::log::rfc3339(at)),
                    (_, _) => "-".to_owned(),
                },
                relay::last_accepted(r.last_ipv4, r.last_ipv6),
            ]
        })
        .collect();
    Ok(table(&["URL", "USER", "PASSWORD", "MODE", "STATE", "LAST_RESULT", "UPSTREAM_HAS"], rows))
}

/// One relay of `hostname relay --list --json`; the password is always `***`.
#[derive(Serialize)]
struct RelayJson<'a> {
    url: String,
    user: &'a str,
    password: &'static str,
    only: bool,
    paused: Option<&'a str>,
    paused_since: Option<i64>,
    last_result: Option<&'a str>,
    last_at: Option<i64>,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
}

impl<'a> From<&'a Relay> for RelayJson<'a> {
    fn from(r: &'a Relay) -> Self {
        RelayJson {
            url: relay::display_url(&r.url),
            user: &r.username,
            password: "***",
            only: r.replaces_local,
            paused: r.paused.as_ref().map(|p| p.reason.as_str()),
            paused_since: r.paused.as_ref().map(|p| p.since),
            last_result: r.last_result.as_deref(),
            last_at: r.last_at,
            ipv4: r.last_ipv4,
            ipv6: r.last_ipv6,
        }
    }
}

/// The upstream's password: one line from stdin (`--password-stdin`, or when stdin is not a
/// terminal), else a prompt. Not held to our own password rules: the upstream chose it.
fn read_upstream_password(from_stdin: bool) -> Result<Secret<String>, CliError> {
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(4096)
            .read_line(&mut line)
            .map_err(|e| CliError::failure(format!("cannot read the upstream password from stdin: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        rpassword::prompt_password("Upstream password: ")
            .map_err(|e| CliError::failure(format!("cannot read the upstream password: {e}")))?
    };
    if password.is_empty() || password.len() > 1024 || password.chars().any(char::is_control) {
        return Err(CliError::failure("the upstream password must be 1 to 1024 characters without control characters"));
    }
    Ok(Secret::new(password))
}

/// Left-aligned columns separated by two spaces; widths count characters, so IDN names in
/// punycode (always ASCII) line up.
/// `hostname history FQDN`: the hostname's audit rows, newest first.
fn history(store: &Store, fqdn: &str, limit: u32, json: bool) -> Result<String, CliError> {
    let fqdn_ascii =
        normalize_hostname(fqdn).ok_or_else(|| CliError::failure(format!("`{fqdn}` is not a valid hostname")))?;
    let rows = store.audit_history(&fqdn_ascii, limit)?;
    audit_output(&rows, json)
}

/// `log --since ...`: the audit rows from a time on, oldest first.
pub(crate) fn audit_log(store: &Store, args: &LogArgs, now: i64) -> Result<String, CliError> {
    let since = crate::audit::parse_since(&args.since, now).map_err(CliError::failure)?;
    let rows = store.audit_since(since, args.refused, args.limit)?;
    audit_output(&rows, args.output.json)
}

fn audit_output(rows: &[crate::store::AuditRow], json: bool) -> Result<String, CliError> {
    if json {
        let text = crate::audit::json(rows).map_err(|e| CliError::failure(format!("cannot write JSON: {e}")))?;
        return Ok(format!("{text}\n"));
    }
    Ok(table(&crate::audit::HEADER, rows.iter().map(crate::audit::cells).collect()))
}

fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(&widths) {
            let _ = write!(line, "{cell:<w$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let t = table(&["A", "BB"], vec![vec!["long".into(), "x".into()], vec!["s".into(), "yy".into()]]);
        assert_eq!(t, "A     BB\nlong  x\ns     yy\n");
    }
}
