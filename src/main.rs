//! `ddns-cgi`: picks the mode (CGI when a web server set `GATEWAY_INTERFACE`, otherwise the
//! admin command line), reads the environment and the clock (the only module that does),
//! and turns the final outcome into a CGI response or an exit code.

mod acme;
mod admin;
mod audit;
mod auth;
mod batch;
mod check;
mod cli;
mod config;
mod confirm;
mod dns;
mod expire;
mod fanout;
mod http;
mod log;
mod mail;
mod manual;
mod metrics;
mod ratelimit;
mod relay;
mod reply;
mod request;
mod secret;
mod store;
mod update;
mod web;

use std::ffi::OsString;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser as _;

use crate::config::{Config, Level};
use crate::http::{cgi, fastcgi};
use crate::log::Log;
use crate::reply::{AccountAnswer, Answer, Reply};
use crate::request::Format;
use crate::store::{OpenMode, Store};

fn main() -> ExitCode {
    let now = clock();
    // Checked before GATEWAY_INTERFACE: mod_fcgid may pass a CGI environment to the process
    // it starts, but only FastCGI leaves a listening socket on fd 0.
    if let Some(listener) = fastcgi::stdin_listener() {
        let addrs = match web_server_addrs() {
            Ok(a) => a,
            Err(e) => return fail(2, &e.to_string()),
        };
        return fastcgi_main(listener, fastcgi::Options::default(), None, addrs);
    }
    if std::env::var_os("GATEWAY_INTERFACE").is_some() {
        return cgi_main(now);
    }
    cli_main(now)
}

/// Seconds since the Unix epoch.
fn clock() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// `FCGI_WEB_SERVER_ADDRS` (FastCGI §3.2): the web servers' addresses, comma-separated.
fn web_server_addrs() -> Result<Vec<std::net::IpAddr>, fastcgi::FastcgiError> {
    fastcgi::web_server_addrs(&std::env::var("FCGI_WEB_SERVER_ADDRS").unwrap_or_default())
}

/// FastCGI mode: the config is loaded once; a bad one stops the server at start with the
/// reason on stderr (the web server's or the journal's log).
fn fastcgi_main(
    listener: fastcgi::Listener,
    options: fastcgi::Options,
    config_flag: Option<PathBuf>,
    web_server_addrs: Vec<std::net::IpAddr>,
) -> ExitCode {
    let path = config_path(config_flag);
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => return fail(2, &e.to_string()),
    };
    let cleanup = options.socket.clone();
    let server = fastcgi::Server { config, listener, options, web_server_addrs, clock, cleanup };
    match fastcgi::serve(server) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(2, &e.to_string()),
    }
}

/// The socket of `ddns-cgi fastcgi`: from the flags, else from systemd socket activation
/// (`LISTEN_FDS`/`LISTEN_PID`, sd_listen_fds(3)).
fn fastcgi_command(options: fastcgi::Options, config_flag: Option<PathBuf>) -> ExitCode {
    let addrs = match web_server_addrs().and_then(|a| fastcgi::check_listen(&options, &a).map(|()| a)) {
        Ok(a) => a,
        Err(e) => return fail(2, &e.to_string()),
    };
    let listener = match fastcgi::bind(&options) {
        Ok(Some(l)) => l,
        Ok(None) => {
            let mut fds = listenfd::ListenFd::from_env();
            match (fds.take_unix_listener(0), fds.take_tcp_listener(0)) {
                (Ok(Some(l)), _) => fastcgi::Listener::Unix(l),
                (_, Ok(Some(l))) => fastcgi::Listener::Tcp(l),
                _ => return fail(2, &fastcgi::FastcgiError::NoListener.to_string()),
            }
        }
        Err(e) => return fail(2, &e.to_string()),
    };
    fastcgi_main(listener, options, config_flag, addrs)
}

/// `--config`, else `DDNS_CGI_CONFIG` (set by Apache `SetEnv` or nginx `fastcgi_param`), else
/// the default path.
fn config_path(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("DDNS_CGI_CONFIG").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_PATH))
}

fn cgi_main(now: i64) -> ExitCode {
    let started = Instant::now();
    let log = Log::new(Level::Info).with_txn(log::transaction_id());
    let vars: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    let path = config_path(None);
    // Panics unwind to here (see the release profile), so even a bug answers `911` with
    // a proper response instead of an empty one the web server turns into a 500.
    let reply = std::panic::catch_unwind(AssertUnwindSafe(|| serve_cgi(&path, vars, now, started, &log)))
        .unwrap_or_else(|_| {
            log.error("internal error: the request handler panicked");
            reply::render(&Answer::Account(AccountAnswer::ServerError), Format::Text)
        });
    match cgi::write_reply(&mut std::io::stdout().lock(), &reply) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log.warn(format_args!("cannot write the response: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn serve_cgi(path: &std::path::Path, vars: Vec<(OsString, OsString)>, now: i64, started: Instant, log: &Log) -> Reply {
    let server_error = || reply::render(&Answer::Account(AccountAnswer::ServerError), Format::Text);
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            log.error(format_args!("configuration error: {e}"));
            return server_error();
        }
    };
    let log = Log::new(config.log.level).with_txn(log.txn().to_owned()).with_target(&config.log, clock);
    // Every CGI request is a start: the warnings stay in the log until the file is fixed.
    for warning in &config.warnings {
        log.warn(format_args!("config: {warning}"));
    }
    let env = cgi::request_env(vars, config.http.proxy_header.as_deref());
    let body = match cgi::read_body(&env, std::io::stdin().lock()) {
        Ok(b) => b,
        Err(e) => {
            log.error(format_args!("cannot read the request body: {e}"));
            return server_error();
        }
    };
    let mut store = match Store::open(&config.database, OpenMode::Existing) {
        Ok(s) => s,
        Err(e) => {
            log.error(format_args!("{e}"));
            return server_error();
        }
    };
    let served = http::serve(
        &config,
        &mut store,
        update::Resident::default(),
        &request::Incoming { env: &env, body: &body, now, started },
        &log,
    );
    // The database is not needed while the answer waits for the read-back.
    drop(store);
    served.wait_here(&config)
}

fn cli_main(now: i64) -> ExitCode {
    let args = cli::Cli::parse();
    let flag = match (args.init_db, args.expire) {
        (true, true) => return fail(2, "`--init-db` cannot be combined with another command"),
        (true, false) => Some(cli::Command::InitDb(cli::InitDbArgs::default())),
        (false, true) => Some(cli::Command::Expire(cli::ExpireArgs { now: args.now })),
        (false, false) => None,
    };
    let command = match (flag, args.command) {
        (Some(cli::Command::InitDb(_)), Some(cli::Command::InitDb(sub))) => cli::Command::InitDb(sub),
        (Some(cli::Command::Expire(flag)), Some(cli::Command::Expire(sub))) => {
            cli::Command::Expire(cli::ExpireArgs { now: sub.now.or(flag.now) })
        }
        (None, Some(c)) => c,
        (Some(_), Some(_)) => return fail(2, "`--init-db` or `--expire` cannot be combined with another command"),
        (Some(c), None) => c,
        (None, None) => return fail(2, "no command given; see `ddns-cgi --help`"),
    };
    if let cli::Command::Fastcgi(options) = command {
        return fastcgi_command(options, args.config);
    }
    // Before the config is loaded: whether it loads is the check's first item.
    if let cli::Command::Check(check) = &command {
        return match cli::check(&config_path(args.config), check, now) {
            Ok(report) => {
                let _ = std::io::stdout().lock().write_all(report.text().as_bytes());
                match report.n_failed() {
                    0 => ExitCode::SUCCESS,
                    n => fail(2, &format!("{n} of {} checks failed", report.n_checked())),
                }
            }
            Err(e) => fail(e.code, &e.message),
        };
    }
    // The manual and completions are built from the argument definitions alone: they need no
    // config (the package build runs them).
    if let Some(result) = manual::run(&command) {
        return finish(result);
    }
    let path = config_path(args.config);
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => return fail(2, &e.to_string()),
    };
    // Not from the expiry run: it runs every minute unattended, and cron mails whatever it
    // writes to stderr; `check`, the other commands and the web server's log show them.
    if !matches!(command, cli::Command::Expire(_)) {
        for warning in &config.warnings {
            let _ = writeln!(std::io::stderr(), "warning: {warning}");
        }
    }
    // Admin commands stay quiet unless something is wrong (cron mails any output), or
    // `--debug` asks for everything.
    let log = Log::new(if args.debug { Level::Debug } else { config.log.level.min(Level::Warn) });
    log.debug(format_args!("using config {}", path.display()));
    // Who ran the command, for the audit trail of an administrator's change (`hostname set`):
    // the login behind sudo, else the process's own.
    let actor = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "admin".to_owned());
    finish(admin::run(&config, command, now, &actor, &log))
}

/// A command's output on stdout, or its error on stderr with its exit code (and the output a
/// failing command still gives, such as a `--json` answer, on stdout).
fn finish(result: Result<String, cli::CliError>) -> ExitCode {
    match result {
        Ok(out) => {
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            if let Some(out) = &e.output {
                let _ = std::io::stdout().lock().write_all(out.as_bytes());
            }
            fail(e.code, &e.message)
        }
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::from(code)
}
