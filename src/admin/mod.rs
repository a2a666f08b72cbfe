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
//! `relays`, `history` (`hostname history` and `log`), `acme_dns`, `init_db`, `rate_limits`,
//! `backup` (`backup` and `restore` of the SQLite file, with `in_use`: who has it open),
//! `run` (the dispatch and the core commands), and `render` (the aligned table, the `--json`
//! writer and the listings' wire shapes).

mod acme_dns;
mod backup;
mod history;
mod hosts;
mod in_use;
mod init_db;
mod rate_limits;
mod relays;
mod render;
mod run;
mod users;

use crate::cli::CliError;
use crate::dns::DnsError;
use crate::request::normalize_hostname;
use crate::store::StoreError;

pub(crate) use acme_dns::acme;
pub(crate) use backup::{backup, restore};
pub(crate) use history::audit_log;
pub(crate) use hosts::hostname;
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
