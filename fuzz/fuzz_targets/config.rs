//! The config loader: arbitrary text through TOML parsing and validation. Key files named in
//! the input are read (bounded) like the binary would; a missing file is an error, not a crash.
#![no_main]

include!("common.rs");

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = config::Config::from_toml(std::path::Path::new("/fuzz/config.toml"), text);
    }
});
