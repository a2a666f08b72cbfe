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
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;

use crate::acme;
use crate::auth::token::{self, Scope};
use crate::check::{self, Identity};
use crate::cli::{self, AcmeCommand, CliError, HostnameCommand, RatelimitCommand, RelayArgs, UserCommand};
use crate::config::{self, Config};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::reply::json_string;
use crate::request::normalize_hostname;
use crate::secret::Secret;
use crate::store::{Host, HostListing, NewRelay, OpenMode, Relay, RelayChange, Store, StoreError, TokenInfo};
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
                let items: Vec<String> = users
                    .iter()
                    .map(|u| {
                        format!(
                            "{{\"name\":{},\"email\":{},\"created_at\":{},\"n_hosts\":{}}}",
                            json_string(&u.name),
                            json_string(&u.email),
                            u.created_at,
                            u.n_hosts
                        )
                    })
                    .collect();
                return Ok(format!("[{}]\n", items.join(",")));
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
            if output.json {
                let items: Vec<String> = hosts.iter().map(|l| host_json(l, relays_of(l))).collect();
                return Ok(format!("[{}]\n", items.join(",")));
            }
            let rows = hosts.iter().map(|l| host_row(l, relays_of(l))).collect();
            Ok(table(
                &[
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
                ],
                rows,
            ))
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
        HostnameCommand::Add { .. } => Err(CliError::failure("`hostname add` is handled by the core commands")),
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
                let items: Vec<String> = rows
                    .iter()
                    .map(|(scope, key, n, max, window, until)| {
                        format!(
                            "{{\"scope\":{},\"key\":{},\"n_requests\":{n},\"max_requests\":{max},\"window_seconds\":{window},\"limited_until\":{}}}",
                            json_string(scope),
                            json_string(key),
                            until.map_or_else(|| "null".to_owned(), |t| t.to_string())
                        )
                    })
                    .collect();
                return Ok(format!("[{}]\n", items.join(",")));
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

/// The `token` of a JSON listing: `null` without one; in the object, `null` means no limit.
fn token_json(info: Option<&TokenInfo>) -> String {
    let Some(info) = info else { return "null".to_owned() };
    let Ok(scope) = Scope::from_stored(&info.scope) else {
        return format!("{{\"unreadable\":true,\"created_at\":{}}}", info.created_at);
    };
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "null".to_owned()
        } else {
            format!("[{}]", items.iter().map(|s| json_string(s)).collect::<Vec<_>>().join(","))
        }
    };
    format!(
        "{{\"types\":{},\"from\":{},\"expires\":{},\"created_at\":{}}}",
        list(scope.types_list()),
        list(scope.networks_list()),
        scope.expires().map_or_else(|| "null".to_owned(), |d| json_string(&d)),
        info.created_at
    )
}

fn host_json(listing: &HostListing, (n_relays, n_only): (u32, u32)) -> String {
    let h = &listing.host;
    let opt = |v: Option<String>| v.map_or_else(|| "null".to_owned(), |s| json_string(&s));
    let num = |v: Option<i64>| v.map_or_else(|| "null".to_owned(), |n| n.to_string());
    format!(
        "{{\"hostname\":{},\"user\":{},\"zone\":{},\"dns_ttl\":{},\"expiry_ttl\":{},\"ipv4\":{},\"ipv6\":{},\"last_update\":{},\"expires_at\":{},\"expired\":{},\"token\":{},\"n_relays\":{},\"relay_only\":{}}}",
        json_string(&h.fqdn),
        json_string(&listing.owner),
        json_string(&h.zone),
        h.dns_ttl,
        h.expiry_ttl,
        opt(h.ipv4.map(|a| a.to_string())),
        opt(h.ipv6.map(|a| a.to_string())),
        num(h.last_update),
        num(expires(h)),
        h.expired,
        token_json(listing.token.as_ref()),
        n_relays,
        n_relays > 0 && n_only == n_relays
    )
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
        let items: Vec<String> = relays.iter().map(relay_json).collect();
        return Ok(format!("[{}]\n", items.join(",")));
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

fn relay_json(r: &Relay) -> String {
    let opt = |v: Option<String>| v.map_or_else(|| "null".to_owned(), |s| json_string(&s));
    format!(
        "{{\"url\":{},\"user\":{},\"password\":\"***\",\"only\":{},\"paused\":{},\"paused_since\":{},\"last_result\":{},\"last_at\":{},\"ipv4\":{},\"ipv6\":{}}}",
        json_string(&relay::display_url(&r.url)),
        json_string(&r.username),
        r.replaces_local,
        opt(r.paused.as_ref().map(|p| p.reason.clone())),
        r.paused.as_ref().map_or_else(|| "null".to_owned(), |p| p.since.to_string()),
        opt(r.last_result.clone()),
        r.last_at.map_or_else(|| "null".to_owned(), |t| t.to_string()),
        opt(r.last_ipv4.map(|a| a.to_string())),
        opt(r.last_ipv6.map(|a| a.to_string())),
    )
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
