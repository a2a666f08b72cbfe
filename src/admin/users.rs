//! `user list/delete/passwd/email/admin/invite`. Deleting a user with hostnames (`--force`) removes each
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
            // Ends the user's web console sessions in the same transaction.
            store.change_password(user.id, &hash, None)?;
            Ok(format!("password of `{name}` changed\n"))
        }
        UserCommand::Email { name, email } => {
            cli::check_email(&email)?;
            if !store.set_email(&name, &email)? {
                return Err(CliError::not_found(format!("user `{name}` does not exist")));
            }
            Ok(format!("email of `{name}` set to `{email}`\n"))
        }
        UserCommand::Admin { name, revoke } => {
            if !store.set_admin(&name, !revoke)? {
                return Err(CliError::not_found(format!("user `{name}` does not exist")));
            }
            Ok(if revoke {
                format!("user `{name}` is no longer an admin of the web console\n")
            } else {
                format!("user `{name}` is now an admin of the web console\n")
            })
        }
        UserCommand::Invite { name, email } => invite(config, store, &name, &email, now),
        UserCommand::Add { .. } => Err(CliError::failure("`user add` is handled by the core commands")),
    }
}

/// What an invited user's password hash is until they set one: no PHC string, so every
/// verification fails (against the dummy hash, in the time of any other).
pub(crate) const NO_PASSWORD: &str = "!invited";

/// `user invite`: an invitation ([`invitation`]) printed as the link `[web] url` +
/// `/invite?code=SECRET` (the code is in the query string, which the console never logs).
fn invite(config: &Config, store: &mut Store, name: &str, email: &str, now: i64) -> Result<String, CliError> {
    let Some(url) = config.web.as_ref().and_then(|w| w.url.as_ref()) else {
        return Err(CliError::failure(format!(
            "`web.url` is not set in {}; an invitation link needs the console's public URL (and `[web]`)",
            config.path.display()
        )));
    };
    let (code, expires_at) = invitation(config, store, name, email, now)?;
    Ok(format!(
        "{url}/invite?code={code}\n(for `{name}`, valid until {}; it works once)\n",
        crate::log::rfc3339(expires_at)
    ))
}

/// An invitation for `name`, also the console's (its admin pages invite and reset passwords
/// with it): adds the user without a usable password when they do not exist (an existing
/// user keeps theirs until the link is used), stores the digest of a new one-time code
/// (replacing the user's earlier invitation), and returns the code and when it expires.
pub(crate) fn invitation(
    config: &Config,
    store: &mut Store,
    name: &str,
    email: &str,
    now: i64,
) -> Result<(String, i64), CliError> {
    let Some(web) = &config.web else {
        return Err(CliError::failure(format!(
            "no `[web]` section in {}; the console must be enabled for an invitation",
            config.path.display()
        )));
    };
    cli::validate_user_name(name)?;
    let user = match store.user(name)? {
        Some(user) => user,
        None => {
            cli::check_email(email)?;
            store.add_user(name, email, NO_PASSWORD, now)?;
            store.user(name)?.ok_or_else(|| CliError::failure(format!("user `{name}` vanished")))?
        }
    };
    let code = crate::auth::token::generate().map_err(|e| CliError::failure(format!("no randomness: {e}")))?;
    // The code is a token's random part without its prefix: 43 base64url characters.
    let code = code.expose().trim_start_matches(crate::auth::token::PREFIX).to_owned();
    let expires_at = now + i64::from(web.invitation_lifetime);
    store.add_invitation(&crate::auth::token::digest(&code), user.id, expires_at, now)?;
    Ok((code, expires_at))
}
