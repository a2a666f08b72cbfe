//! The HTTP Basic decoder (RFC 7617): the input as a raw `Authorization` value, and as the
//! base64 payload of `Basic ...`, so both the header syntax and the decoded user-pass are hit.
#![no_main]

include!("common.rs");

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut env = request::Env::new();
    if let Ok(raw) = std::str::from_utf8(data) {
        env.insert("HTTP_AUTHORIZATION".to_owned(), raw.to_owned());
        let _ = request::basic_credentials(&env);
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    env.insert("HTTP_AUTHORIZATION".to_owned(), format!("Basic {encoded}"));
    match request::basic_credentials(&env) {
        // The split is at the first colon and a user name is never empty.
        Some(request::Credentials::Password { username, .. }) => {
            assert!(!username.is_empty() && !username.contains(':'));
        }
        // An empty user name with a password is a token alone, and the token is never empty.
        Some(request::Credentials::Token { token }) => assert!(!token.expose().is_empty()),
        None => {}
    }
});
