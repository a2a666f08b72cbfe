//! `ddns-cgi fastcgi`'s options and their defaults, with the rest of the command line; the
//! server itself is `http::fastcgi`, which takes them.

use std::path::PathBuf;

/// Default of `--idle-timeout`: above nginx's upstream `keepalive_timeout` (60 s), so nginx
/// closes its idle connections before we do and never sends on one we are closing.
const DEFAULT_IDLE_TIMEOUT_SECS: u16 = 75;

/// Default of `--workers`: the requests doing blocking work at once (Argon2, SQLite writes,
/// a group commit's DNS exchange). A request waiting in its zone's group-commit queue
/// (`batch`) gives its worker and database connection back (`Duty` in `http::fastcgi`), so
/// the workers do not bound how many changes one DNS message carries (`--max-connections`
/// does). A worker is one blocking thread and one database connection; Argon2 (19 MiB each)
/// runs in at most this many at once, so a server verifying many uncached passwords at the
/// same moment can peak at 16 x 19 MiB (the systemd unit's `MALLOC_MMAP_THRESHOLD_` gives it
/// back afterwards).
const DEFAULT_WORKERS: u16 = 16;

/// Default of `--max-connections`: the requests in flight, and so the most one zone's group
/// commit can gather. A waiting request holds no worker or thread, only its connection and its
/// place in the queue (about 11 KiB: 511 waiting took the resident memory from 19.3 to
/// 24.9 MB), so 1,024 routers reporting at once cost about 11 MiB instead of waiting in the
/// listen backlog, as they did at 128. Each connection is a file descriptor: the shipped unit
/// sets `LimitNOFILE` above systemd's soft limit of 1,024.
const DEFAULT_MAX_CONNECTIONS: u16 = 1024;

/// `ddns-cgi fastcgi` options.
#[derive(Clone, Debug, clap::Args)]
pub(crate) struct FastcgiOptions {
    /// Listen on this unix socket (nginx `fastcgi_pass unix:PATH`); a stale socket is replaced
    #[arg(long, value_name = "PATH", conflicts_with = "listen")]
    pub(crate) socket: Option<PathBuf>,
    /// Permissions of the unix socket, octal; the web server's user must be able to write it
    #[arg(long, value_name = "MODE", default_value = "0660", value_parser = parse_mode)]
    pub(crate) socket_mode: u32,
    /// Listen on this TCP address, e.g. 127.0.0.1:9000 (keep it on loopback); needs the web
    /// server's addresses in FCGI_WEB_SERVER_ADDRS, or --allow-any-local-user
    #[arg(long, value_name = "ADDR")]
    pub(crate) listen: Option<std::net::SocketAddr>,
    /// Allow --listen without FCGI_WEB_SERVER_ADDRS: any local user can then send requests
    /// directly, with any REMOTE_ADDR (prefer --socket, whose file mode limits who connects)
    #[arg(long, requires = "listen")]
    pub(crate) allow_any_local_user: bool,
    /// Requests processed at the same time; each worker keeps one database connection
    #[arg(long, value_name = "N", default_value_t = DEFAULT_WORKERS, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) workers: u16,
    /// Connections served at the same time; further ones wait in the listen backlog
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub(crate) max_connections: u16,
    /// Seconds a connection may take to send its next complete request (from its start or the
    /// previous answer) before it is closed
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_IDLE_TIMEOUT_SECS, value_parser = clap::value_parser!(u16).range(1..=3600))]
    pub(crate) idle_timeout: u16,
}

impl Default for FastcgiOptions {
    fn default() -> FastcgiOptions {
        FastcgiOptions {
            socket: None,
            socket_mode: 0o660,
            listen: None,
            allow_any_local_user: false,
            workers: DEFAULT_WORKERS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT_SECS,
        }
    }
}

pub(crate) fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    match u32::from_str_radix(digits, 8) {
        Ok(mode) if mode <= 0o777 => Ok(mode),
        _ => Err(format!("`{s}` is not an octal file mode such as 0660")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_mode_is_octal() {
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("0o600"), Ok(0o600));
        assert!(parse_mode("0999").is_err());
        assert!(parse_mode("7777").is_err());
    }

    /// A storm of 1,024 routers is served at once, not left in the listen backlog: a waiting
    /// request costs only its connection (about 11 KiB).
    #[test]
    fn max_connections_serve_a_storm_of_1024_by_default() {
        use clap::Parser as _;
        let cli = crate::cli::Cli::try_parse_from(["ddns-cgi", "fastcgi"]).expect("parses");
        let Some(crate::cli::Command::Fastcgi(options)) = cli.command else { panic!("{cli:?}") };
        assert_eq!(options.max_connections, 1024);
        assert_eq!(FastcgiOptions::default().max_connections, 1024);
    }
}
