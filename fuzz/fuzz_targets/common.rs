// The ddns-cgi modules the fuzz targets exercise, compiled from the main crate's sources and
// `include!`d at each target's crate root, so `crate::config`, `crate::request` and
// `crate::secret` resolve as they do in the binary.

#[path = "../../src/config/mod.rs"]
#[allow(dead_code)]
mod config;
#[path = "../../src/request/mod.rs"]
// `request/mod.rs` re-exports its submodules' functions; the targets use only some of them.
#[allow(dead_code, unused_imports)]
mod request;
#[path = "../../src/secret.rs"]
#[allow(dead_code)]
mod secret;

use std::path::Path;

/// A config with a trusted proxy and its header, so the proxy code is reached too.
#[allow(dead_code)]
fn fuzz_config() -> config::Config {
    let text = "[database]\npath = \"/nonexistent/ddns.db\"\n[dns]\ntsig_key = \"hmac-sha256:k.:c2VjcmV0\"\n\
                [[zones]]\nname = \"dyn.example.com\"\n[http]\nproxy_header = \"X-Forwarded-For\"\n\
                trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n";
    match config::Config::from_toml(Path::new("/fuzz/config.toml"), text) {
        Ok(c) => c,
        Err(e) => panic!("fuzz config is invalid: {e}"),
    }
}
