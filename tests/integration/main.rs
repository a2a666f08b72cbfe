//! Integration tests: the built `ddns-cgi` binary against real DNS servers (Knot and BIND)
//! started on random loopback ports. See `util` for the harness.

mod util;

mod admin;
mod answers;
mod cli;
mod expire;
mod faults;
mod params;
mod urls;

/// Skips the calling test (loudly, from the harness) when the world could not be built.
#[macro_export]
macro_rules! world {
    ($e:expr) => {
        match $e {
            Some(w) => w,
            None => return,
        }
    };
}
mod clients;
mod fastcgi;
mod hardening;
mod hostile;
mod logging;
mod manual;
mod package;
mod ratelimit;
mod resilience;
mod tokens;
mod web;
