//! `hostname list/modify/set/delete/token/underive`, and the dispatch of `hostname relay`,
//! `hostname history` and `hostname status` to their files. Commands that remove or re-publish records talk to DNS
//! first and change the row only after the server accepted, inside the host's write
//! transaction (`Store::modify_host_locked`, `Store::delete_host_locked`); `hostname set`
//! takes the path of a request's change (`update::admin_set`), audited with the admin.

use hickory_proto::rr::Name;

use crate::auth::token::{self, Scope};
use crate::cli::{self, CliError, HostnameCommand, Switch};
use crate::config::{self, Config};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::reply::HostAnswer;
use crate::request::Addresses;
use crate::store::{Families, Host, HostListing, HostSettings, Store, StoreError};
use crate::update::{self, Set};

use super::history::history;
use super::relays::relay;
use super::render::{HostJson, follows_cell, host_row, json, table};
use super::status::status;
use super::{AdminError, host_arg};

pub(crate) fn hostname(
    config: &Config,
    store: &mut Store,
    command: HostnameCommand,
    now: i64,
    actor: &str,
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
        HostnameCommand::Modify { fqdn, dns_ttl, expiry_ttl, ipv4, ipv6 } => {
            let fqdn = host_arg(&fqdn)?;
            if dns_ttl.is_none() && expiry_ttl.is_none() && ipv4.is_none() && ipv6.is_none() {
                return Err(CliError::failure(
                    "nothing to change; give `--dns-ttl`, `--expiry-ttl`, `--ipv4` or `--ipv6`",
                ));
            }
            let changed = store.modify_host_locked(&fqdn, |host| {
                let settings = HostSettings {
                    dns_ttl: dns_ttl.unwrap_or(host.dns_ttl),
                    expiry_ttl: expiry_ttl.unwrap_or(host.expiry_ttl),
                    families: Families {
                        ipv4: ipv4.map_or(host.families.ipv4, Switch::on),
                        ipv6: ipv6.map_or(host.families.ipv6, Switch::on),
                    },
                };
                cli::check_ttls(settings.dns_ttl, settings.expiry_ttl).map_err(ModifyError::Usage)?;
                if let Some(change) = modify_change(host, &settings).map_err(ModifyError::Admin)? {
                    let zone = zone_of(config, host).map_err(ModifyError::Admin)?;
                    let message = dns::change_message(&zone.name, &[change])?;
                    dns::exchange(zone, message, u64::try_from(now).unwrap_or(0))?;
                    log.debug(format_args!("`{}`: re-published with TTL {}", host.fqdn, settings.dns_ttl));
                }
                Ok(settings)
            });
            match changed {
                Ok(Some(s)) => Ok(format!(
                    "hostname `{fqdn}` now has dns_ttl {} and expiry_ttl {}{}\n",
                    s.dns_ttl,
                    s.expiry_ttl,
                    match (s.families.ipv4, s.families.ipv6) {
                        (true, true) => "",
                        (true, false) => ", ipv6 off",
                        (false, true) => ", ipv4 off",
                        (false, false) => ", ipv4 and ipv6 off",
                    }
                )),
                Ok(None) => Err(CliError::not_found(format!("hostname `{fqdn}` does not exist"))),
                Err(ModifyError::Usage(e)) => Err(e),
                Err(ModifyError::Admin(e)) => Err(CliError::failure(format!(
                    "cannot re-publish the records of `{fqdn}`, nothing was changed: {e}"
                ))),
            }
        }
        HostnameCommand::Set { fqdn, ipv4, ipv6 } => {
            let fqdn = host_arg(&fqdn)?;
            let set = Set {
                ipv4: ipv4.as_deref().map(|v| address(v, "IPv4")).transpose()?,
                ipv6: ipv6.as_deref().map(|v| address(v, "IPv6")).transpose()?,
            };
            set_host(config, store, &fqdn, set, actor, now, log)
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
        HostnameCommand::Status { fqdn, output } => status(config, &fqdn, output.json),
        HostnameCommand::Add { .. } => Err(CliError::failure("`hostname add` is handled by the core commands")),
        HostnameCommand::Derive { .. } => Err(CliError::failure("`hostname derive` is handled by the core commands")),
        HostnameCommand::Import { .. } => Err(CliError::failure("`hostname import` is handled by the core commands")),
    }
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

/// `hostname set`: an address of one family, or `none`.
fn address<A: std::str::FromStr>(value: &str, family: &str) -> Result<Option<A>, CliError> {
    if value.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    value.parse().map(Some).map_err(|_| CliError::failure(format!("`{value}` is not an {family} address (or `none`)")))
}

/// `hostname set`: through the run a request's change takes (`update::admin_set`).
fn set_host(
    config: &Config,
    store: &mut Store,
    fqdn: &str,
    set: Set,
    actor: &str,
    now: i64,
    log: &Log,
) -> Result<String, CliError> {
    let shown = |a: Addresses| {
        let v4 = a.ipv4.map_or_else(|| "none".to_owned(), |a| a.to_string());
        let v6 = a.ipv6.map_or_else(|| "none".to_owned(), |a| a.to_string());
        format!("ipv4 {v4}, ipv6 {v6}")
    };
    // The row decides again under the lock, but a family switched off is the admin's own
    // setting: say so rather than publish what updates may not.
    let mut back = "";
    if let Some(host) = store.host(fqdn)? {
        // Read without the lock, only to say so: the run decides on the row as it is then.
        back = match (host.offline, host.expired) {
            (true, _) => " (it was offline and is online again)",
            (false, true) => " (it had expired and is online again)",
            (false, false) => "",
        };
        for (family, given, on) in [
            ("ipv4", set.ipv4.flatten().is_some(), host.families.ipv4),
            ("ipv6", set.ipv6.flatten().is_some(), host.families.ipv6),
        ] {
            if given && !on {
                return Err(CliError::failure(format!(
                    "`{fqdn}` has {family} off; turn it on first (`hostname modify {fqdn} --{family} on`)"
                )));
            }
        }
    }
    match update::admin_set(config, store, fqdn, set, actor, now, log)? {
        HostAnswer::Good(a) => Ok(format!("hostname `{fqdn}` now has {} in DNS{back}\n", shown(a))),
        HostAnswer::Nochg(a) => Ok(format!("hostname `{fqdn}` already has {} in DNS; nothing sent\n", shown(a))),
        HostAnswer::Nohost => Err(CliError::not_found(format!("hostname `{fqdn}` does not exist"))),
        HostAnswer::Dnserr => Err(CliError::failure(format!(
            "the DNS server did not accept the addresses of `{fqdn}` (see the error above); its row is unchanged"
        ))),
        HostAnswer::ServerError | HostAnswer::Notfqdn | HostAnswer::TokenRefused(_) => {
            Err(CliError::failure(format!("cannot set the addresses of `{fqdn}` (see the error above)")))
        }
    }
}

/// What `hostname modify` sends DNS for `settings`: with a new TTL every live record again
/// (the TTL lives in the records, RFC 1035 §3.2.1), and for a family switched off the deletion
/// of its rrset. `None` when DNS stays as it is (nothing live, or nothing that changes it).
fn modify_change(host: &Host, settings: &HostSettings) -> Result<Option<dns::HostChange>, AdminError> {
    use dns::Rrset;
    if !is_live(host) {
        return Ok(None);
    }
    let new_ttl = settings.dns_ttl != host.dns_ttl;
    fn rrset<T: Clone>(value: Option<&T>, on: bool, new_ttl: bool) -> Rrset<T> {
        match value {
            Some(_) if !on => Rrset::Delete,
            Some(v) if new_ttl => Rrset::Replace(v.clone()),
            _ => Rrset::Keep,
        }
    }
    let change = dns::HostChange {
        fqdn: name(&host.fqdn)?,
        ttl: settings.dns_ttl,
        a: rrset(host.ipv4.as_ref(), settings.families.ipv4, new_ttl),
        aaaa: rrset(host.ipv6.as_ref(), settings.families.ipv6, new_ttl),
        txt: rrset(host.txt.as_ref(), true, new_ttl),
    };
    let sends = change.a != Rrset::Keep || change.aaaa != Rrset::Keep || change.txt != Rrset::Keep;
    Ok(sends.then_some(change))
}

/// Removes the host's records, then its row, in one transaction; a DNS failure keeps both.
pub(super) fn delete_host(config: &Config, store: &mut Store, fqdn: &str, now: i64, log: &Log) -> Result<(), CliError> {
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
