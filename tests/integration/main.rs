//! Integration tests: the built `ddns-cgi` binary against real DNS servers (Knot and BIND)
//! started on random loopback ports. See `util` for the harness.

mod util;

mod absent;
mod admin;
mod answers;
mod check;
mod cli;
mod expire;
mod faults;
mod params;
mod urls;

/// Unwraps a world, or returns from the calling test when it is `None`: that happens only
/// under the opt-out `DDNS_SKIP_SERVERS=1`, after `util::skip` reported the skip on the
/// uncaptured stderr. By default a missing server fails the test inside the harness.
#[macro_export]
macro_rules! world {
    ($e:expr) => {
        match $e {
            Some(w) => w,
            None => return,
        }
    };
}
mod acme;
mod audit;
mod backup;
mod browser;
mod changelog;
mod charts;
mod clients;
mod console;
mod dnssec;
mod docs;
mod engines;
mod families;
mod fanout;
mod fastcgi;
mod flask;
mod hardening;
mod hostile;
mod import;
mod layout;
mod locking;
mod logging;
mod manual;
mod mariadb;
mod mariadb_tls;
mod matrix;
mod netns;
mod package;
mod perf;
mod postgres;
mod postgres_tls;
mod powerdns;
mod ratelimit;
mod relay;
mod resilience;
mod secondaries;
mod shipped;
mod store_paths;
mod storm;
mod stripes;
mod token_scopes;
mod tokens;
mod two_front_ends;
mod txt;
mod web;
