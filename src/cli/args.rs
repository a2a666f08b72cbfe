//! The admin command line as clap parses it: the top-level options, the commands and their
//! arguments. What each command does is in `cli` (and `admin`, `check`, `expire`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::duration;

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
    Fastcgi(super::FastcgiOptions),
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
    /// Copy the SQLite database to FILE while the service runs: one consistent state, 0600,
    /// owned like the database
    ///
    /// A copy of the database file alone (`cp ddns.db`) is not the database: SQLite keeps the
    /// latest commits in `ddns.db-wal` until it copies them into the file, so such a copy of a
    /// running service lacks them. `backup` reads the database through SQLite's backup API in
    /// one read transaction (updates go on meanwhile), writes a private file beside FILE (mode
    /// 0600, the owner and group of the database when run as root; it holds password hashes,
    /// token digests and relay passwords), flushes it and renames it to FILE, and prints the
    /// schema version and how many users, hostnames and audit rows it holds. The copy is one
    /// self-contained file (rollback journal mode). Put it back with `ddns-cgi restore`.
    ///
    /// On PostgreSQL it only prints the `pg_dump` command for the configured database.
    Backup(BackupArgs),
    /// Replace the SQLite database with FILE, a backup; the service must be stopped
    ///
    /// Refuses while any process has the database open (a FastCGI server, a CGI request, an
    /// admin command or the expiry run: it names them), so stop the FastCGI server and the web
    /// server first. FILE must be a SQLite database that passes SQLite's integrity check, of a
    /// schema version this ddns-cgi knows (an older one is migrated when next opened), with the
    /// tables of that version. The database it replaces is moved aside, with its `-wal` and
    /// `-shm` files, as `DATABASE.replaced-YYYYMMDDTHHMMSSZ` (0600), so that no `-wal` of the
    /// old database is replayed onto the restored one; a checked copy of FILE takes its place
    /// (0600, owned like the database it replaces). Start the service again afterwards.
    ///
    /// On PostgreSQL it only names `pg_restore` and `psql`.
    Restore(RestoreArgs),
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
pub(crate) struct BackupArgs {
    /// The file to write, e.g. `/var/backups/ddns-cgi/ddns.db`
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
    /// Replace FILE if it exists
    #[arg(long)]
    pub(crate) force: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RestoreArgs {
    /// The backup to put in place (written by `ddns-cgi backup`)
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,
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
        /// Make the user an admin of the web console (every user's hosts, the admin pages)
        #[arg(long)]
        admin: bool,
    },
    /// Make a user an admin of the web console, or (with --revoke) an ordinary user again
    Admin {
        /// User name
        name: String,
        /// Take the admin flag away
        #[arg(long)]
        revoke: bool,
    },
    /// Invite a user: add them without a password (or keep an existing one) and print a
    /// one-time link to the web console where they set it; built from `[web] url`
    Invite {
        /// User name: letters, digits, `.`, `_`, `-` or `@`, at most 64
        name: String,
        /// Address the expiry mails go to
        email: String,
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
    pub(super) password_stdin: bool,
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
    /// Change a hostname's TTLs or families; live records are re-published with a new
    /// `--dns-ttl`, and a family switched off has its record removed (one update)
    Modify {
        /// Hostname (IDN names are accepted)
        fqdn: String,
        /// Whether updates may set the A record; `off` removes it
        #[arg(long, value_name = "on|off")]
        ipv4: Option<Switch>,
        /// Whether updates may set the AAAA record; `off` removes it
        #[arg(long, value_name = "on|off")]
        ipv6: Option<Switch>,
        /// TTL of the published A/AAAA records, 1..=86400 seconds (or `15m`, `1h`, `1d`)
        #[arg(long, value_name = "SECONDS", value_parser = duration::parse_u32)]
        dns_ttl: Option<u32>,
        /// Seconds (or `15m`, `1h`, `1d`) without update before the records are removed; 0 = never,
        /// else >= 60
        #[arg(long, value_name = "SECONDS", value_parser = duration::parse_u32)]
        expiry_ttl: Option<u32>,
    },
    /// Set a hostname's addresses by hand: one RFC 2136 update, then the row, audited with
    /// the login that ran it; an offline or expired hostname comes back with them. Its relays
    /// and the hostnames that follow its prefix are not sent
    #[command(group = clap::ArgGroup::new("family").required(true).multiple(true).args(["ipv4", "ipv6"]))]
    Set {
        /// Hostname (IDN names are accepted)
        fqdn: String,
        /// The A record's address, or `none` to remove the A record [default: left alone]
        #[arg(long, value_name = "ADDR|none")]
        ipv4: Option<String>,
        /// The AAAA record's address, or `none` to remove the AAAA record [default: left alone]
        #[arg(long, value_name = "ADDR|none")]
        ipv6: Option<String>,
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
        /// TTL of the child's records, 1..=86400 seconds (or `15m`, `1h`, `1d`) [default: its
        /// `dns_ttl`]
        #[arg(long, value_name = "SECONDS", value_parser = duration::parse_u32)]
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
        /// TTL of the published A/AAAA records, 1..=86400 seconds (or `15m`, `1h`, `1d`) [default:
        /// defaults.dns_ttl]
        #[arg(long, value_name = "SECONDS", value_parser = duration::parse_u32)]
        dns_ttl: Option<u32>,
        /// Seconds (or `15m`, `1h`, `1d`) without update before the records are removed; 0 = never,
        /// else >= 60
        /// [default: defaults.expiry_ttl]
        #[arg(long, value_name = "SECONDS", value_parser = duration::parse_u32)]
        expiry_ttl: Option<u32>,
        /// Whether updates may set the A record; with `off`, an update's IPv4 address is
        /// ignored for this hostname
        #[arg(long, value_name = "on|off", default_value = "on")]
        ipv4: Switch,
        /// Whether updates may set the AAAA record; with `off`, an update's IPv6 address is
        /// ignored for this hostname
        #[arg(long, value_name = "on|off", default_value = "on")]
        ipv6: Switch,
    },
}

/// A family's switch (`--ipv4 on|off`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Switch {
    On,
    Off,
}

impl Switch {
    pub(crate) fn on(self) -> bool {
        self == Switch::On
    }
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
    /// With `--url`: the user name at the upstream is the record's FQDN, the URL's
    /// `hostname=` (as providers that take the hostname as the user name want it)
    #[arg(long, requires = "url", conflicts_with = "user")]
    pub(crate) user_is_fqdn: bool,
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
