//! The admin commands' dispatch: `run` takes a parsed [`Command`] (from `cli`) to the module
//! that carries it out, and holds the core commands themselves (`user add`, `hostname add`,
//! `hostname derive`, `expire`...). It sits above `cli`, which only defines the command line
//! and checks its values, so that every import points down (`main` → `admin` → `cli`).

use crate::auth;
use crate::cli::{
    CliError, Command, ExpireArgs, HostnameCommand, MetricsArgs, UserCommand, check_email, check_ttls, read_password,
    validate_user_name,
};
use crate::config::{self, Config};
use crate::expire;
use crate::log::Log;
use crate::request::normalize_hostname;
use crate::store::{DeriveOutcome, Families, NewHost, OpenMode, Store};

/// Runs an admin command. `now` is the clock, in seconds since the epoch. Returns what to
/// print on stdout.
/// `actor` is the login running the command, for the audit rows of the changes it makes.
pub(crate) fn run(config: &Config, command: Command, now: i64, actor: &str, log: &Log) -> Result<String, CliError> {
    // Before the database is opened: `--owner` must own the file before SQLite writes to it.
    if let Command::InitDb(args) = &command {
        return super::init_db(config, args.owner.as_deref(), log);
    }
    // `backup` must not create a database that is missing, and `restore` must not open the
    // one it replaces.
    match &command {
        Command::Backup(args) => return super::backup(config, args),
        Command::Restore(args) => return super::restore(config, args, now),
        _ => {}
    }
    let mut store = Store::open(&config.database, OpenMode::Create)?;
    match command {
        Command::InitDb(_) | Command::Backup(_) | Command::Restore(_) => {
            Err(CliError::failure("`init-db`, `backup` and `restore` open the database themselves"))
        }
        Command::Check(_) => Err(CliError::failure("`check` runs before the config is loaded")),
        Command::Ratelimit(command) => super::ratelimit(config, &mut store, command, now),
        Command::User(UserCommand::Add { name, email, password, admin }) => {
            validate_user_name(&name)?;
            check_email(&email)?;
            if store.user(&name)?.is_some() {
                return Err(CliError::failure(format!("user `{name}` already exists")));
            }
            let password = read_password(&password)?;
            let hash = auth::hash_password(&password, &config.auth).map_err(|e| CliError::failure(e.to_string()))?;
            store.add_user(&name, &email, &hash, now)?;
            if admin {
                store.set_admin(&name, true)?;
                return Ok(format!("user `{name}` added as an admin of the web console\n"));
            }
            Ok(format!("user `{name}` added\n"))
        }
        Command::Hostname(HostnameCommand::Add { user, fqdn, zone, dns_ttl, expiry_ttl, ipv4, ipv6 }) => {
            let Some(owner) = store.user(&user)? else {
                return Err(CliError::not_found(format!("user `{user}` does not exist")));
            };
            let fqdn_ascii = normalize_hostname(&fqdn)
                .ok_or_else(|| CliError::failure(format!("`{fqdn}` is not a valid hostname")))?;
            let zone_cfg = match &zone {
                Some(zone) => {
                    let zone_name = normalize_hostname(zone)
                        .ok_or_else(|| CliError::failure(format!("`{zone}` is not a valid zone name")))?;
                    config.zone(&zone_name).ok_or_else(|| {
                        CliError::failure(format!("zone `{zone}` is not configured in {}", config.path.display()))
                    })?
                }
                None => zone_of_host(config, &fqdn_ascii)?,
            };
            let zone_str = zone_cfg.name_str();
            if fqdn_ascii != zone_str && !fqdn_ascii.ends_with(&format!(".{zone_str}")) {
                return Err(CliError::failure(format!("`{fqdn}` is not inside zone `{zone_str}`")));
            }
            let dns_ttl = dns_ttl.unwrap_or(config.defaults.dns_ttl);
            check_ttls(dns_ttl, expiry_ttl.unwrap_or(config.defaults.expiry_ttl))?;
            let new = NewHost {
                fqdn: &fqdn_ascii,
                zone: &zone_str,
                user_id: owner.id,
                dns_ttl,
                expiry_ttl: expiry_ttl.unwrap_or(config.defaults.expiry_ttl),
                families: Families { ipv4: ipv4.on(), ipv6: ipv6.on() },
            };
            store.add_host(&new, now)?;
            Ok(format!("hostname `{fqdn_ascii}` added for `{user}` in zone `{zone_str}`\n"))
        }
        Command::Hostname(HostnameCommand::Derive { parent, child, ipv6_iid, ipv4, ttl }) => {
            derive(config, &mut store, &DeriveArgs { parent, child, ipv6_iid, ipv4, ttl }, now)
        }
        Command::User(command) => super::user(config, &mut store, command, now, log),
        Command::Hostname(command) => super::hostname(config, &mut store, command, now, actor, log),
        Command::Acme(command) => super::acme(config, &mut store, command, now),
        Command::Log(args) => super::audit_log(&store, &args, now),
        Command::Metrics(MetricsArgs { textfile }) => {
            let text = crate::metrics::render(&store)?;
            match textfile {
                None => Ok(text),
                Some(path) => {
                    crate::metrics::write_textfile(&path, &text).map_err(|e| CliError::failure(e.to_string()))?;
                    Ok(String::new())
                }
            }
        }
        Command::Expire(ExpireArgs { now: due_at }) => {
            // Cron may start this on every front-end of a shared database at once.
            if !store.try_expiry_lock()? {
                return Ok(format!(
                    "another expiry run holds the {} expiry lock; this one does nothing\n",
                    store.engine()
                ));
            }
            let report = expire::run(config, &mut store, expire::Times { now, due_at: due_at.unwrap_or(now) }, log);
            if report.failures.is_empty() {
                Ok(format!("{}\n", report.summary()))
            } else {
                Err(CliError::failure(format!(
                    "{}; see the messages above: {}",
                    report.summary(),
                    report.failures.join("; ")
                )))
            }
        }
        // `main` starts the server, or writes the documentation, before any command runs
        // against the store.
        Command::Fastcgi(_) => Err(CliError::failure("`fastcgi` is not an admin command")),
        Command::Completions { .. } | Command::Manpage { .. } => {
            Err(CliError::failure("`completions` and `manpage` need no database"))
        }
    }
}

/// `hostname derive`'s arguments.
struct DeriveArgs {
    parent: String,
    child: String,
    ipv6_iid: String,
    ipv4: Option<String>,
    ttl: Option<u32>,
}

/// `hostname derive`: checks the interface id, the IPv4 rule, the TTL and the child's zone
/// (by longest suffix, as `hostname add`), then lets the store create the relation in one
/// transaction, which refuses a child of another owner and a cycle. Nothing is sent to DNS:
/// the child's records change with the parent's next update that carries a prefix.
fn derive(config: &Config, store: &mut Store, args: &DeriveArgs, now: i64) -> Result<String, CliError> {
    let host = |raw: &str| {
        normalize_hostname(raw).ok_or_else(|| CliError::failure(format!("`{raw}` is not a valid hostname")))
    };
    let (parent, child) = (host(&args.parent)?, host(&args.child)?);
    let iid: std::net::Ipv6Addr = args.ipv6_iid.parse().map_err(|_| {
        CliError::failure(format!(
            "`--ipv6-iid` value `{}` is not an IPv6 address such as `::1234:5678:9abc:def0`",
            args.ipv6_iid
        ))
    })?;
    crate::fanout::check_iid(iid).map_err(|e| CliError::failure(e.to_string()))?;
    let ipv4_rule = match &args.ipv4 {
        Some(raw) => Some(raw.parse::<crate::fanout::Ipv4Rule>().map_err(|e| CliError::failure(e.to_string()))?),
        None => None,
    };
    if let Some(ttl) = args.ttl {
        check_ttls(ttl, config.defaults.expiry_ttl)?;
    }
    let zone = zone_of_host(config, &child)?.name_str();
    let new = crate::store::NewDerivation {
        parent: &parent,
        child: NewHost {
            fqdn: &child,
            zone: &zone,
            user_id: 0,
            dns_ttl: args.ttl.unwrap_or(config.defaults.dns_ttl),
            expiry_ttl: config.defaults.expiry_ttl,
            families: Families::BOTH,
        },
        ipv6_iid: iid,
        ipv4_rule: ipv4_rule.map(|r| r.to_string()),
        dns_ttl: args.ttl,
    };
    let follows = match &ipv4_rule {
        Some(rule) => format!("IPv6 interface id `{iid}`, IPv4 `{rule}`"),
        None => format!("IPv6 interface id `{iid}`"),
    };
    match store.derive(&new, now)? {
        DeriveOutcome::Done { created: true } => {
            Ok(format!("hostname `{child}` added in zone `{zone}`; it follows `{parent}` ({follows})\n"))
        }
        DeriveOutcome::Done { created: false } => Ok(format!("hostname `{child}` follows `{parent}` ({follows})\n")),
        DeriveOutcome::NoParent => Err(CliError::not_found(format!("hostname `{parent}` does not exist"))),
        DeriveOutcome::OtherOwner { owner } => Err(CliError::failure(format!(
            "hostname `{child}` belongs to `{owner}`, not to the owner of `{parent}`; a hostname follows only one of its owner's"
        ))),
        DeriveOutcome::Cycle => Err(CliError::failure(format!(
            "`{child}` cannot follow `{parent}`: that would be a cycle (`{parent}` is `{child}` or follows it)"
        ))),
    }
}

/// The configured zone a hostname belongs to: the longest zone name that is the hostname or
/// ends it at a label boundary (`a.sub.dyn.example.com` is in `sub.dyn.example.com` when both
/// that and `dyn.example.com` are configured).
fn zone_of_host<'a>(config: &'a Config, fqdn: &str) -> Result<&'a config::Zone, CliError> {
    config
        .zones
        .iter()
        .filter(|z| {
            let zone = z.name_str();
            fqdn == zone || fqdn.strip_suffix(zone.as_str()).is_some_and(|rest| rest.ends_with('.'))
        })
        .max_by_key(|z| z.name.num_labels())
        .ok_or_else(|| {
            let zones: Vec<String> = config.zones.iter().map(|z| format!("`{}`", z.name_str())).collect();
            CliError::failure(format!(
                "`{fqdn}` is not inside any configured zone ({}); add a `[[zones]]` entry to {}",
                zones.join(", "),
                config.path.display()
            ))
        })
}
