//! `acme add`: a new acme-dns account for a domain, printed once with the CNAME the domain's
//! zone needs; `acme delete`: an account gone, its records first. The accounts themselves are
//! made and deleted by `crate::acme`; this file only checks the arguments and writes the
//! answer.

use crate::acme;
use crate::cli::{AcmeCommand, CliError};
use crate::config::Config;
use crate::request::normalize_hostname;
use crate::store::Store;

/// `acme add`: a new acme-dns account, printed once in the JSON that acme-dns clients keep
/// (lego's `ACME_DNS_STORAGE_PATH`, certbot-dns-acmedns' registration file, acme.sh's values:
/// the domain mapped to acme-dns's registration answer), then the CNAME that sends the
/// domain's challenges (`_acme-challenge`, RFC 8555 §8.4) to the account's name.
pub(crate) fn acme(config: &Config, store: &mut Store, command: AcmeCommand, now: i64) -> Result<String, CliError> {
    let Some(acme_config) = &config.acme else {
        return Err(CliError::failure(format!(
            "no `[acme]` section in {}; add one with the `zone` that holds the challenge names",
            config.path.display()
        )));
    };
    match command {
        AcmeCommand::Check { domain, output } => check(config, acme_config, store, &domain, output.json),
        AcmeCommand::Delete { username } => {
            match acme::delete_by_username(config, acme_config, store, &username, now) {
                Ok(Some(fulldomain)) => {
                    Ok(format!("deleted acme-dns account `{username}`; `{fulldomain}` has no TXT records now\n"))
                }
                Ok(None) => Err(CliError::not_found(format!("no acme-dns account `{username}`"))),
                Err(e) => Err(CliError::failure(format!("cannot delete acme-dns account `{username}`: {e}"))),
            }
        }
        AcmeCommand::Add { domain, names, allowfrom, output } => {
            // `*.example.org` is validated at `_acme-challenge.example.org` too.
            let mut all: Vec<String> = Vec::with_capacity(names.len() + 1);
            for given in std::iter::once(&domain).chain(&names) {
                let bare = given.strip_prefix("*.").unwrap_or(given);
                let name = normalize_hostname(bare)
                    .ok_or_else(|| CliError::failure(format!("`{given}` is not a valid domain name")))?;
                if all.contains(&name) {
                    return Err(CliError::failure(format!("`{given}` is named twice")));
                }
                all.push(name);
            }
            let allowfrom: Vec<String> = allowfrom
                .iter()
                .flat_map(|l| l.split(','))
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            let created = acme::create_account_with_names(acme_config, store, &all, &allowfrom, now)
                .map_err(|e| CliError::failure(e.to_string()))?;
            let storage: std::collections::BTreeMap<&str, &acme::Registration> =
                created.iter().map(|(name, r)| (name.as_str(), r)).collect();
            let json = serde_json::to_string_pretty(&storage).map_err(|e| CliError::failure(e.to_string()))?;
            if output.json {
                return Ok(format!("{json}\n"));
            }
            let records: String =
                created.iter().map(|(name, r)| format!("_acme-challenge.{name}. CNAME {}.\n", r.fulldomain)).collect();
            let (what, these) = if created.len() == 1 {
                (format!("the zone of `{}`", all.join("`")), "this record")
            } else {
                ("the zones of these names".to_owned(), "these records")
            };
            Ok(format!("{json}\n\nAdd {these} to {what} (the key above is shown only once):\n{records}"))
        }
    }
}

/// `acme check DOMAIN`: the account that serves DOMAIN (by the name it was added for), and
/// whether the resolver sees its CNAME; exit 1 (with what to add) when it does not.
fn check(
    config: &Config,
    acme_config: &crate::config::AcmeConfig,
    store: &Store,
    domain: &str,
    json: bool,
) -> Result<String, CliError> {
    let bare = domain.strip_prefix("*.").unwrap_or(domain);
    let name =
        normalize_hostname(bare).ok_or_else(|| CliError::failure(format!("`{domain}` is not a valid domain name")))?;
    let store_error = |e: crate::store::StoreError| CliError::failure(e.to_string());
    let account = match store.acme_username_for(&name).map_err(store_error)? {
        Some(username) => store.acme_account(&username).map_err(store_error)?,
        None => None,
    };
    let Some(account) = account else {
        return Err(CliError::not_found(format!("no acme-dns account serves `{name}` (`acme add {name}` makes one)")));
    };
    let checked =
        acme::check_cname_of(config, acme_config, &account, &name).map_err(|e| CliError::failure(e.to_string()))?;
    if json {
        let text = serde_json::to_string_pretty(&checked).map_err(|e| CliError::failure(e.to_string()))? + "\n";
        if checked.ok {
            return Ok(text);
        }
        // The JSON says what is wrong; it goes where a script reads it, the exit code says so too.
        let message = format!("`{}` does not point at its acme-dns name", checked.name);
        return Err(CliError::not_found_with_output(message, text));
    }
    let text = {
        match (&checked.cname, checked.ok) {
            (Some(cname), true) => format!("ok: `{}` is a CNAME to `{cname}`\n", checked.name),
            (cname, _) => {
                let found =
                    cname.as_ref().map_or_else(|| "has no CNAME".to_owned(), |c| format!("is a CNAME to `{c}`"));
                let want = checked.expected.first().map_or("", String::as_str);
                format!("`{}` {found}; it needs:\n{}. CNAME {want}.\n", checked.name, checked.name)
            }
        }
    };
    if checked.ok { Ok(text) } else { Err(CliError::not_found(text.trim_end().to_owned())) }
}
