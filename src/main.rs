//! `ddns-cgi`: picks the mode (CGI when a web server set `GATEWAY_INTERFACE`, otherwise the
//! admin command line), reads the environment and the clock (the only module that does),
//! and turns the final outcome into a CGI response or an exit code.

mod auth;
mod cgi;
mod cli;
mod config;
mod dns;
mod log;
mod ratelimit;
mod reply;
mod request;
mod secret;
mod store;
mod update;

use std::ffi::OsString;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::Parser as _;

use crate::config::{Config, Level};
use crate::log::Log;
use crate::reply::{AccountAnswer, Answer, Reply};
use crate::request::Format;
use crate::store::{OpenMode, Store};

fn main() -> ExitCode {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    if std::env::var_os("GATEWAY_INTERFACE").is_some() {
        return cgi_main(now);
    }
    cli_main(now)
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
    let log = Log::new(config.log.level).with_txn(log.txn().to_owned()).with_target(&config.log.target, now);
    let env = cgi::request_env(vars, config.http.proxy_header.as_deref());
    let body = match cgi::read_body(&env, std::io::stdin().lock()) {
        Ok(b) => b,
        Err(e) => {
            log.error(format_args!("cannot read the request body: {e}"));
            return server_error();
        }
    };
    let mut store = match Store::open(&config.database.path, config.database.busy_timeout, OpenMode::Existing) {
        Ok(s) => s,
        Err(e) => {
            log.error(format_args!("{e}"));
            return server_error();
        }
    };
    let handled = update::handle(&config, &mut store, &env, &body, now, &log);
    if config.log.log_requests {
        let get = |k: &str| env.get(k).map(String::as_str).unwrap_or("");
        log.info(format_args!(
            "{} {}{} client={} user={} hosts={} answer={} duration={}ms",
            get("REQUEST_METHOD"),
            get("SCRIPT_NAME"),
            get("PATH_INFO"),
            handled.client.map_or_else(|| "-".to_owned(), |c| c.to_string()),
            handled.user.as_deref().unwrap_or("-"),
            if handled.hosts.is_empty() { "-".to_owned() } else { handled.hosts.join(",") },
            handled.answer.summary(),
            started.elapsed().as_millis(),
        ));
    }
    reply::render(&handled.answer, handled.format)
}

fn cli_main(now: i64) -> ExitCode {
    let args = cli::Cli::parse();
    let command = match (args.init_db, args.command) {
        (true, None) | (true, Some(cli::Command::InitDb)) => cli::Command::InitDb,
        (false, Some(c)) => c,
        (true, Some(_)) => return fail(2, "`--init-db` cannot be combined with another command"),
        (false, None) => return fail(2, "no command given; see `ddns-cgi --help`"),
    };
    let path = config_path(args.config);
    let config = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => return fail(2, &e.to_string()),
    };
    if args.debug {
        Log::new(Level::Debug).debug(format_args!("using config {}", path.display()));
    }
    match cli::run(&config, command, now) {
        Ok(out) => {
            let _ = std::io::stdout().lock().write_all(out.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.code, &e.message),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::from(code)
}
