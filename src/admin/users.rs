//! `user list/delete/passwd/email`. Deleting a user with hostnames (`--force`) removes each
//! hostname the way `hostname delete` does: DNS first, then the row.

use crate::cli::{self, CliError, UserCommand};
use crate::config::Config;
use crate::log::Log;
use crate::store::Store;

use super::hosts::delete_host;
use super::render::{UserJson, json, table};

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
