//! `hostname relay`: a hostname's relays to upstream providers. Upstream passwords come from
//! stdin or a prompt, never from the command line, and are listed as `***`.

use std::io::{BufRead as _, IsTerminal as _, Read as _};
use std::net::{Ipv4Addr, Ipv6Addr};

use serde::Serialize;

use crate::cli::{CliError, RelayArgs};
use crate::relay;
use crate::secret::Secret;
use crate::store::{NewRelay, Relay, RelayChange, Store};

use super::host_arg;
use super::render::{json, table};

/// `hostname relay`: add or replace (`--url`), remove, resume (`--clear-pause`) or list the
/// hostname's relays. Passwords are read from stdin or a prompt, never from the command line
/// (process listings), and listed as `***`.
pub(super) fn relay(store: &mut Store, args: RelayArgs, now: i64) -> Result<String, CliError> {
    let fqdn = host_arg(&args.fqdn)?;
    let gone = || CliError::not_found(format!("hostname `{fqdn}` does not exist"));
    let no_relay =
        |url: &str| CliError::not_found(format!("hostname `{fqdn}` has no relay to `{}`", relay::display_url(url)));
    if let Some(url) = &args.url {
        relay::check_url(url).map_err(|e| CliError::failure(e.to_string()))?;
        let username = match (args.user.as_deref(), args.user_is_fqdn) {
            (Some(user), _) => user,
            (None, true) => relay::url_hostname(url).ok_or_else(|| {
                CliError::failure(format!(
                    "`--user-is-fqdn` needs one plain name in the URL's `hostname=`, got `{}`",
                    relay::display_url(url)
                ))
            })?,
            (None, false) => {
                return Err(CliError::failure(
                    "`--url` needs `--user` with the user name at the upstream, or `--user-is-fqdn`",
                ));
            }
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
