//! The request parser over an arbitrary CGI environment and body: the input is split at NUL
//! bytes into the meta-variables and the body. Any panic is a bug.
#![no_main]

include!("common.rs");

use libfuzzer_sys::fuzz_target;

const FIELDS: &[&str] = &[
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "HTTP_AUTHORIZATION",
    "REMOTE_ADDR",
    "HTTP_ACCEPT",
    "HTTP_X_FORWARDED_FOR",
];

fuzz_target!(|data: &[u8]| {
    thread_local!(static CONFIG: config::Config = fuzz_config());
    let mut parts = data.split(|b| *b == 0);
    let mut env = request::Env::new();
    for name in FIELDS {
        let Some(part) = parts.next() else { break };
        // The CGI adapter drops non-UTF-8 variables; do the same.
        if let Ok(s) = std::str::from_utf8(part) {
            env.insert((*name).to_owned(), s.to_owned());
        }
    }
    let body: Vec<u8> = parts.flat_map(|p| p.iter().copied().chain([0])).collect();
    CONFIG.with(|c| {
        let _ = request::parse(&env, &body, c);
        let _ = request::client(&env, c);
    });
});
