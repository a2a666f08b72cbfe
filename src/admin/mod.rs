//! The admin commands: `run` dispatches a parsed command line (`cli`) and holds the core
//! ones; the others list, change and delete users and hostnames, create or revoke a
//! hostname's token (shown once, stored as a digest), and manage its relays to upstream
//! providers (passwords listed as `***`).
//! Commands that remove or re-publish records talk to DNS first and change the database only
//! after the server accepted, inside the same write transaction, so a failed DNS exchange
//! leaves everything as it was. Output is an aligned table for people or JSON for scripts;
//! this module prints nothing itself.
//!
//! One submodule per concern: `users`, `hosts` (list, modify, delete, token, underive),
//! `relays`, `history` (`hostname history` and `log`), `status` (`hostname status`: what
//! DNS answers now), `acme_dns`, `init_db`, `rate_limits`,
//! `backup` (`backup` and `restore` of the SQLite file, with `in_use`: who has it open),
//! `import` (`hostname import`: many hostnames and tokens from a file in one transaction),
//! `run` (the dispatch and the core commands), and `render` (the aligned table, the `--json`
//! writer and the listings' wire shapes).

mod acme_dns;
mod backup;
mod history;
mod hosts;
mod import;
mod in_use;
mod init_db;
mod rate_limits;
mod relays;
mod render;
mod run;
mod status;
mod users;

use crate::cli::CliError;
use crate::config::{self, Config};
use crate::dns::DnsError;
use crate::request::normalize_hostname;
use crate::store::StoreError;

pub(crate) use acme_dns::acme;
pub(crate) use backup::{backup, restore};
pub(crate) use history::audit_log;
pub(crate) use hosts::hostname;
pub(crate) use import::import;
pub(crate) use init_db::init_db;
pub(crate) use rate_limits::ratelimit;
pub(crate) use run::run;
pub(crate) use users::{invitation, user};

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

fn host_arg(raw: &str) -> Result<String, CliError> {
    normalize_hostname(raw).ok_or_else(|| CliError::failure(format!("`{raw}` is not a valid hostname")))
}

/// Where `hostname add` (and each line of `hostname import`) puts a hostname: its ASCII
/// form and the configured zone it lives in (`zone` as given, or the longest configured
/// zone that ends it), refusing a name outside that zone.
fn placed_host(config: &Config, fqdn: &str, zone: Option<&str>) -> Result<(String, String), CliError> {
    let fqdn_ascii = host_arg(fqdn)?;
    let zone_cfg = match zone {
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
    Ok((fqdn_ascii, zone_str))
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
