//! The admin command line: argument parsing (clap) and the commands that manage the database.
//! Commands return a [`CliError`] with the exit code that belongs to it (1: not found,
//! 2: usage or failure); `main` prints it. Messages never contain passwords.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand};

use crate::admin;
use crate::auth;
use crate::auth::token;
use crate::check;
use crate::config::{self, Config};
use crate::expire;
use crate::log::Log;
use crate::request::normalize_hostname;
use crate::store::{DeriveOutcome, NewHost, OpenMode, Store, StoreError};

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
    InitDb(InitDbArgs),
    /// Check the configuration against the files, the DNS servers, the log and the mail relay
    Check(CheckArgs),
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
    /// Show or clear the rate-limit counters (the reason for `abuse` answers)
    #[command(subcommand)]
    Ratelimit(RatelimitCommand),
    /// Manage acme-dns accounts for ACME DNS-01 challenges (needs an `[acme]` section)
    #[command(subcommand)]
    Acme(AcmeCommand),
    /// Show the audit trail: accepted changes and refused attempts since a time
    Log(LogArgs),
    /// Print the Prometheus metrics, or write them for node-exporter's textfile collector
    Metrics(MetricsArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// From when: a date `YYYY-MM-DD` (00:00 UTC) or a duration back from now such as `30m`,
    /// `12h`, `7d`
    #[arg(long, value_name = "DATE|DURATION")]
    pub(crate) since: String,
    /// Only refused attempts
    #[arg(long)]
    pub(crate) refused: bool,
    /// At most this many rows, oldest first
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) limit: u32,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
}

#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Write to this file atomically (a temporary file beside it, then a rename) instead of
    /// printing [default: standard output]
    #[arg(long, value_name = "PATH")]
    pub(crate) textfile: Option<PathBuf>,
}

#[derive(Debug, Default, Args)]
pub(crate) struct InitDbArgs {
    /// Give the database to this user (the web server's, e.g. `www-data`): the file, created
    /// 0600, and its directory when this command creates it
    #[arg(long, value_name = "USER")]
    pub(crate) owner: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// Judge file access as this user (the one the web server runs ddns-cgi as) [default: the
    /// user running the check]
    #[arg(long, value_name = "USER")]
    pub(crate) as_user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum RatelimitCommand {
    /// List the counters within their windows, and until when each one answers `abuse`
    List {
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Clear the counters of one client address or user name, or all of them
    Clear {
        /// A client address (any address of a counted IPv6 prefix names the prefix), a key as
        /// `ratelimit list` shows it, or a user name [default: every counter]
        key: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AcmeCommand {
    /// Create acme-dns credentials for DOMAIN's challenges (DOMAIN and *.DOMAIN); prints them
    /// once as acme-dns account storage JSON, with the CNAME record to add
    Add {
        domain: String,
        /// Networks updates may come from (acme-dns `allowfrom`), comma-separated
        #[arg(long, value_name = "CIDR,...")]
        allowfrom: Option<String>,
        #[command(flatten)]
        output: OutputArgs,
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
        /// User name
        name: String,
        /// Also delete the user's hostnames, removing their DNS records first
        #[arg(long)]
        force: bool,
    },
    /// Set a user's password; prompted for twice, or read from stdin
    Passwd {
        /// User name
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Set a user's email address
    Email {
        /// User name
        name: String,
        /// New address for the expiry mails
        email: String,
    },
    /// Add a user; the password is prompted for twice, or read from stdin
    Add {
        /// User name: letters, digits, `.`, `_`, `-` or `@`, at most 64
        name: String,
        /// Address the expiry mails go to
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
        /// Hostname (IDN names are accepted)
        fqdn: String,
        /// TTL of the published A/AAAA records, 1..=86400
        #[arg(long, value_name = "N")]
        dns_ttl: Option<u32>,
        /// Seconds without update before the records are removed; 0 = never, else >= 60
        #[arg(long, value_name = "N")]
        expiry_ttl: Option<u32>,
    },
    /// Delete a hostname, removing its A/AAAA records from DNS first
    Delete {
        /// Hostname (IDN names are accepted)
        fqdn: String,
    },
    /// Create a token that updates only this hostname (printed once), replacing its old one
    Token {
        /// Hostname the token may update
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
    /// Forward this hostname's updates to an upstream dyndns2 provider (`--url`), or list,
    /// remove or resume its relays
    #[command(group = clap::ArgGroup::new("action").required(true).args(["url", "remove", "clear_pause", "list"]))]
    Relay(RelayArgs),
    /// Make CHILD follow PARENT's IPv6 prefix (fan-out): an update of PARENT with
    /// `ipv6prefix=` sets CHILD's AAAA to the prefix combined with `--ipv6-iid`. CHILD is
    /// created for PARENT's owner when it does not exist
    Derive {
        /// The hostname whose updates carry the prefix (a router)
        parent: String,
        /// The hostname that follows it (IDN names are accepted)
        child: String,
        /// The bits after the prefix, e.g. `::1234:5678:9abc:def0` (with a /56, bits 56..64
        /// pick the subnet: `::ab:1234:5678:9abc:def0`)
        #[arg(long, value_name = "IID")]
        ipv6_iid: String,
        /// The child's A record: a fixed address (`192.0.2.10`), or host bits under the
        /// parent's IPv4 (`0.0.0.10/24`: the parent's /24, host 10) [default: left alone]
        #[arg(long, value_name = "ADDR|BITS/LEN")]
        ipv4: Option<String>,
        /// TTL of the child's records, 1..=86400 [default: its `dns_ttl`]
        #[arg(long, value_name = "N")]
        ttl: Option<u32>,
    },
    /// Stop CHILD following its parent's prefix; its records stay as they are
    Underive {
        /// The derived hostname
        child: String,
    },
    /// Show a hostname's audit trail: its changes and refused attempts, newest first
    History {
        /// Hostname (IDN names are accepted)
        fqdn: String,
        /// At most this many rows
        #[arg(long, value_name = "N", default_value_t = 50)]
        limit: u32,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Add a hostname for USER inside a configured zone
    Add {
        /// Owner of the hostname
        user: String,
        /// Hostname (IDN names are accepted)
        fqdn: String,
        /// Configured zone the hostname lives in [default: the longest configured zone that
        /// ends the hostname]
        zone: Option<String>,
        /// TTL of the published A/AAAA records, 1..=86400 [default: defaults.dns_ttl]
        #[arg(long, value_name = "N")]
        dns_ttl: Option<u32>,
        /// Seconds without update before the records are removed; 0 = never, else >= 60
        /// [default: defaults.expiry_ttl]
        #[arg(long, value_name = "N")]
        expiry_ttl: Option<u32>,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RelayArgs {
    pub(crate) fqdn: String,
    /// Add (or replace) a relay: the upstream's update URL with its own `hostname=`, e.g.
    /// `https://members.example.net/nic/update?hostname=home.example.net`; `myip` is added
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,
    /// With `--url`: the user name at the upstream
    #[arg(long, value_name = "USER", requires = "url")]
    pub(crate) user: Option<String>,
    /// With `--url`: read the upstream's password as one line from standard input instead of
    /// prompting
    #[arg(long, requires = "url")]
    pub(crate) password_stdin: bool,
    /// With `--url`: relay instead of the local RFC 2136 update (used when every relay of the
    /// hostname has it) [default: in addition]
    #[arg(long, requires = "url")]
    pub(crate) only: bool,
    /// Remove the relay with this URL
    #[arg(long, value_name = "URL")]
    pub(crate) remove: Option<String>,
    /// Resume the relay with this URL after the upstream answered `badauth` or `abuse`
    #[arg(long, value_name = "URL")]
    pub(crate) clear_pause: Option<String>,
    /// List the hostname's relays (passwords shown as `***`)
    #[arg(long)]
    pub(crate) list: bool,
    #[command(flatten)]
    pub(crate) output: OutputArgs,
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
    // Before the database is opened: `--owner` must own the file before SQLite writes to it.
    if let Command::InitDb(args) = &command {
        return admin::init_db(config, args.owner.as_deref(), log);
    }
    let mut store = Store::open(&config.database.path, config.database.busy_timeout, OpenMode::Create)?;
    match command {
        Command::InitDb(_) => Err(CliError::failure("`init-db` opens the database itself")),
        Command::Check(_) => Err(CliError::failure("`check` runs before the config is loaded")),
        Command::Ratelimit(command) => admin::ratelimit(config, &mut store, command, now),
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
            };
            store.add_host(&new, now)?;
            Ok(format!("hostname `{fqdn_ascii}` added for `{user}` in zone `{zone_str}`\n"))
        }
        Command::Hostname(HostnameCommand::Derive { parent, child, ipv6_iid, ipv4, ttl }) => {
            derive(config, &mut store, &DeriveArgs { parent, child, ipv6_iid, ipv4, ttl }, now)
        }
        Command::User(command) => admin::user(config, &mut store, command, now, log),
        Command::Hostname(command) => admin::hostname(config, &mut store, command, now, log),
        Command::Acme(command) => admin::acme(config, &mut store, command, now),
        Command::Log(args) => admin::audit_log(&store, &args, now),
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
