//! The admin command line: argument parsing (clap) and the commands that manage the database.
//! Commands return a [`CliError`] with the exit code that belongs to it (1: not found,
//! 2: usage or failure); `main` prints it. Messages never contain passwords.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::admin;
use crate::auth;
use crate::auth::token;
use crate::config::{self, Config};
use crate::expire;
use crate::log::Log;
use crate::request::normalize_hostname;
use crate::store::{NewHost, OpenMode, Store, StoreError};

#[derive(Debug, Parser)]
#[command(name = "ddns-cgi", version, about = "Self-hosted dyndns2 update service for BIND and Knot")]
#[command(after_help = "Run by a web server (GATEWAY_INTERFACE set), it answers one dyndns2 update as CGI.")]
pub(crate) struct Cli {
    /// Config file [default: $DDNS_CGI_CONFIG or /etc/ddns-cgi/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Log at debug level to stderr
    #[arg(long, global = true)]
    pub(crate) debug: bool,
    /// Same as the `init-db` command
    #[arg(long)]
    pub(crate) init_db: bool,
    /// Same as the `expire` command
    #[arg(long)]
    pub(crate) expire: bool,
    /// With `--expire`, the same as `expire --now`; hidden, as it means nothing elsewhere
    #[arg(long, value_name = "EPOCH_SECONDS", requires = "expire", hide = true)]
    pub(crate) now: Option<i64>,
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create the database, or migrate it to the current schema (idempotent)
    InitDb,
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage hostnames
    #[command(subcommand)]
    Hostname(HostnameCommand),
    /// Remove the records of hostnames not updated within their expiry time, and mail owners
    #[command(visible_alias = "cleanup")]
    Expire(ExpireArgs),
    /// Serve FastCGI on a socket until SIGTERM (nginx `fastcgi_pass`, systemd socket units)
    Fastcgi(crate::http::fastcgi::Options),
    /// Print a shell completion script (bash, zsh, fish, elvish or powershell)
    ///
    /// bash: `ddns-cgi completions bash > /etc/bash_completion.d/ddns-cgi`;
    /// zsh: into a directory of `$fpath` as `_ddns-cgi`;
    /// fish: `~/.config/fish/completions/ddns-cgi.fish`. The Debian package installs all three.
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages `ddns-cgi.8` and `ddns-cgi.toml.5` into a directory
    Manpage {
        /// The directory to write into (created if missing)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// List users with their email and number of hostnames
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Delete a user who owns no hostnames (with --force: delete them too, records first)
    Delete {
        name: String,
        /// Also delete the user's hostnames, removing their DNS records first
        #[arg(long)]
        force: bool,
    },
    /// Set a user's password; prompted for twice, or read from stdin
    Passwd {
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Set a user's email address
    Email { name: String, email: String },
    /// Add a user; the password is prompted for twice, or read from stdin
    Add {
        name: String,
        email: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ExpireArgs {
    /// Judge which hostnames are due as of this time (seconds since the epoch) instead of the
    /// clock, for catch-up runs and tests; signing and rate-limit trimming use the clock
    #[arg(long, value_name = "EPOCH_SECONDS")]
    pub(crate) now: Option<i64>,
}

#[derive(Debug, Args)]
pub(crate) struct PasswordArgs {
    /// Read the password as one line from standard input instead of prompting
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Args)]
pub(crate) struct OutputArgs {
    /// Print JSON for scripts instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum HostnameCommand {
    /// List hostnames with their addresses, last update, expiry time and token scope
    List {
        /// Only this user's hostnames
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Change a hostname's TTLs; live records are re-published with a new `--dns-ttl`
    Modify {
        fqdn: String,
        /// TTL of the published A/AAAA records, 1..=86400
        #[arg(long, value_name = "N")]
        dns_ttl: Option<u32>,
        /// Seconds without update before the records are removed; 0 = never, else >= 60
        #[arg(long, value_name = "N")]
        expiry_ttl: Option<u32>,
    },
    /// Delete a hostname, removing its A/AAAA records from DNS first
    Delete { fqdn: String },
    /// Create a token that updates only this hostname (printed once), replacing its old one
    Token {
        fqdn: String,
        /// Remove the hostname's token instead
        #[arg(long, conflicts_with_all = ["types", "from", "expires"])]
        revoke: bool,
        /// Record types the token may change, e.g. `A,AAAA` [default: all]
        #[arg(long, value_name = "LIST")]
        types: Option<String>,
        /// Client networks the token may be used from, e.g. `192.0.2.0/24,2001:db8::/32`
        /// [default: anywhere]
        #[arg(long, value_name = "CIDRS")]
        from: Option<String>,
        /// Last day the token works, `YYYY-MM-DD` (until 24:00 UTC) [default: no expiry]
        #[arg(long, value_name = "DATE")]
        expires: Option<String>,
    },
    /// Add a hostname for USER inside a configured ZONE
    Add {
        user: String,
        fqdn: String,
        zone: String,
        /// TTL of the published A/AAAA records, 1..=86400 [default: defaults.dns_ttl]
        #[arg(long, value_name = "N")]
        dns_ttl: Option<u32>,
        /// Seconds without update before the records are removed; 0 = never, else >= 60
        /// [default: defaults.expiry_ttl]
        #[arg(long, value_name = "N")]
        expiry_ttl: Option<u32>,
    },
}

/// A failed command: the message and the exit code.
#[derive(Debug)]
pub(crate) struct CliError {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl CliError {
    pub(crate) fn failure(message: impl Into<String>) -> CliError {
        CliError { code: 2, message: message.into() }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> CliError {
        CliError { code: 1, message: message.into() }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::failure(e.to_string())
    }
}

/// Runs an admin command. `now` is the clock, in seconds since the epoch. Returns what to
/// print on stdout.
pub(crate) fn run(config: &Config, command: Command, now: i64, log: &Log) -> Result<String, CliError> {
    let mut store = Store::open(&config.database.path, config.database.busy_timeout, OpenMode::Create)?;
    match command {
        Command::InitDb => Ok(format!(
            "database {} ready (schema version {})\n",
            config.database.path.display(),
            store.schema_version()?
        )),
        Command::User(UserCommand::Add { name, email, password }) => {
            validate_user_name(&name)?;
            check_email(&email)?;
            if store.user(&name)?.is_some() {
                return Err(CliError::failure(format!("user `{name}` already exists")));
            }
            let password = read_password(&password)?;
            let hash = auth::hash_password(&password, &config.auth).map_err(|e| CliError::failure(e.to_string()))?;
            store.add_user(&name, &email, &hash, now)?;
            Ok(format!("user `{name}` added\n"))
        }
        Command::Hostname(HostnameCommand::Add { user, fqdn, zone, dns_ttl, expiry_ttl }) => {
            let Some(owner) = store.user(&user)? else {
                return Err(CliError::not_found(format!("user `{user}` does not exist")));
            };
            let zone_name = normalize_hostname(&zone)
                .ok_or_else(|| CliError::failure(format!("`{zone}` is not a valid zone name")))?;
            let Some(zone_cfg) = config.zone(&zone_name) else {
                return Err(CliError::failure(format!("zone `{zone}` is not configured in {}", config.path.display())));
            };
            let fqdn_ascii = normalize_hostname(&fqdn)
                .ok_or_else(|| CliError::failure(format!("`{fqdn}` is not a valid hostname")))?;
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
            };
            store.add_host(&new, now)?;
            Ok(format!("hostname `{fqdn_ascii}` added for `{user}` in zone `{zone_str}`\n"))
        }
        Command::User(command) => admin::user(config, &mut store, command, now, log),
        Command::Hostname(command) => admin::hostname(config, &mut store, command, now, log),
        Command::Expire(ExpireArgs { now: due_at }) => {
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
    let password = if args.password_stdin || !std::io::stdin().is_terminal() {
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
