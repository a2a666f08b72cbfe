//! The admin command line: argument parsing (clap), [`CliError`] with the exit code that
//! belongs to it (1: not found, 2: usage or failure; `main` prints it), the checks of its
//! values (user names, mail addresses, TTLs, passwords read from the terminal or stdin) and
//! `check`'s entry. It runs no command that manages the database: `admin::run` does, above
//! it. Messages never contain passwords.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::Path;

use crate::auth::token;
use crate::check;
use crate::config;
use crate::store::StoreError;

mod args;
mod fastcgi;

pub(crate) use args::*;
pub(crate) use fastcgi::FastcgiOptions;

/// A failed command: the message and the exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: u8,
    pub(crate) message: String,
    /// What the command prints on stdout even though it fails: a `--json` answer that says
    /// what is wrong (`acme check --json`), which a script reads there whatever the exit code.
    pub(crate) output: Option<String>,
}

impl CliError {
    pub(crate) fn failure(message: impl Into<String>) -> CliError {
        CliError { code: 2, message: message.into(), output: None }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> CliError {
        CliError { code: 1, message: message.into(), output: None }
    }

    /// Exit 1 with `output` on stdout as well as `message` on stderr.
    pub(crate) fn not_found_with_output(message: impl Into<String>, output: String) -> CliError {
        CliError { code: 1, message: message.into(), output: Some(output) }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::failure(e.to_string())
    }
}

/// `check`: resolves the user whose access is judged, then runs every check on the config at
/// `path` (which may not even parse: that is the first item).
pub(crate) fn check(path: &Path, args: &CheckArgs, now: i64) -> Result<check::Report, CliError> {
    let accounts = check::Accounts::load();
    let user = match &args.as_user {
        Some(name) => accounts.user(name).ok_or_else(|| user_unknown(name))?,
        None => accounts
            .current()
            .ok_or_else(|| CliError::failure("cannot tell which user this process runs as; give `--as-user`"))?,
    };
    Ok(check::run(path, &user, &accounts, now))
}

/// For `--as-user` and `--owner`.
pub(crate) fn user_unknown(name: &str) -> CliError {
    CliError::failure(format!("user `{name}` does not exist (not in /etc/passwd)"))
}

/// TTL bounds shared by every command that sets them.
pub(crate) fn check_ttls(dns_ttl: u32, expiry_ttl: u32) -> Result<(), CliError> {
    if !(1..=86_400).contains(&dns_ttl) {
        return Err(CliError::failure(format!("`--dns-ttl` must be between 1 and 86400, got `{dns_ttl}`")));
    }
    if expiry_ttl != 0 && expiry_ttl < 60 {
        return Err(CliError::failure(format!("`--expiry-ttl` must be 0 (never) or at least 60, got `{expiry_ttl}`")));
    }
    Ok(())
}

/// Owner addresses, for `user add` and `user email` alike: the expiry mail must be able to
/// reach them (see [`config::is_mailbox`]).
pub(crate) fn check_email(email: &str) -> Result<(), CliError> {
    if config::is_mailbox(email) {
        Ok(())
    } else {
        Err(CliError::failure(format!("`{email}` is not an email address")))
    }
}

/// User names travel in HTTP Basic credentials, which split at the first colon.
pub(crate) fn validate_user_name(name: &str) -> Result<(), CliError> {
    // Such a name would show as `ddns_***` in every log line and audit row (`token::shown_name`).
    if token::holds_token(name) {
        return Err(CliError::failure(format!(
            "a user name must not have a host token's shape (`{}`); choose another",
            token::REDACTED_NAME
        )));
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "`{name}` is not a valid user name: use 1 to 64 letters, digits, `.`, `_`, `-` or `@`"
        )))
    }
}

pub(crate) fn read_password(args: &PasswordArgs) -> Result<String, CliError> {
    // Without the flag the password is prompted for; a pipe or /dev/null on stdin is a
    // script that forgot the flag, not an empty password.
    if !args.password_stdin && !std::io::stdin().is_terminal() {
        return Err(CliError::failure("no terminal to ask for the password on; pipe it in with `--password-stdin`"));
    }
    let password = if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::failure(format!("cannot read the password from stdin: {e}")))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        let first = rpassword::prompt_password("Password: ")
            .map_err(|e| CliError::failure(format!("cannot read the password: {e}")))?;
        let second = rpassword::prompt_password("Repeat password: ")
            .map_err(|e| CliError::failure(format!("cannot read the password: {e}")))?;
        if first != second {
            return Err(CliError::failure("the passwords do not match"));
        }
        first
    };
    if password.is_empty() {
        return Err(CliError::failure("an empty password is not allowed"));
    }
    // The handler checks a secret of this shape as a host token, never as a password.
    if token::looks_like(&password) {
        return Err(CliError::failure(format!(
            "a password must not look like a host token (`{}` and {} characters); choose another",
            token::PREFIX,
            token::TOKEN_LEN - token::PREFIX.len()
        )));
    }
    Ok(password)
}
