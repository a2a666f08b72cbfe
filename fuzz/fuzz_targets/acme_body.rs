//! The acme-dns API's request data (`src/acme/body.rs`) over arbitrary bytes: the input as the
//! body of `POST <path>/update` and of `POST <path>/register`, and as the `X-Api-User` and
//! `X-Api-Key` values. Any panic is a bug; so is a parsed body past the bound, a stored
//! `allowfrom` entry that is not a network, or a shape check that lets through what acme-dns
//! would not.
#![no_main]

include!("common.rs");

#[path = "../../src/acme/body.rs"]
#[allow(dead_code)]
mod body;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(post) = body::update(data) {
        assert!(data.len() <= body::MAX_BODY_BYTES);
        if body::valid_txt(&post.txt) {
            assert!(post.txt.len() == 43 && post.txt.bytes().all(body::is_base64url));
        }
        if body::valid_subdomain(&post.subdomain) {
            assert!(!post.subdomain.starts_with('-') && !post.subdomain.contains('.'));
        }
    }
    if let Ok(registration) = body::register(data) {
        let allowfrom = registration.allowfrom;
        assert!(data.len() <= body::MAX_BODY_BYTES);
        if let Ok(networks) = body::networks(&allowfrom) {
            assert!(networks.len() <= body::MAX_ALLOWFROM && networks.len() == allowfrom.len());
            for n in &networks {
                assert!(n.parse::<config::Cidr>().is_ok(), "{n:?}");
                assert!(!n.contains(['[', ']']) && n.trim() == n, "{n:?}");
            }
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(user) = body::parse_uuid(text) {
            assert!(user.len() == 36 && user.bytes().all(|b| b == b'-' || b.is_ascii_digit() || b.is_ascii_lowercase()));
        }
        if body::key_shaped(text) {
            assert_eq!(text.len(), body::KEY_LEN);
        }
    }
});
