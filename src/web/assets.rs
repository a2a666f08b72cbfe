//! The console's static files, compiled into the binary: Pico CSS 2.1.1 (vendored from the
//! npm registry with its licence, `assets/pico-LICENSE.md`) and the console's few rules of
//! its own. Each is served at a name holding a hash of its content, computed at compile time,
//! with a year's cache lifetime: a new release changes the name, never the bytes behind one.

/// One static file.
#[derive(Debug)]
pub(super) struct Asset {
    /// The name in the URL, `<stem>.<hash>.css`.
    pub(super) name: &'static str,
    pub(super) content_type: &'static str,
    pub(super) body: &'static str,
}

const PICO: &str = include_str!("assets/pico.min.css");
const CONSOLE: &str = include_str!("assets/console.css");

/// FNV-1a (64 bits) of `bytes`, in a `const fn` so the names are fixed at compile time. Not
/// a security hash: it only needs to change when the content does.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `<stem>.<16 hex digits>.css`, built at compile time.
const fn hashed_name<const N: usize>(stem: &[u8], content: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut i = 0;
    while i < stem.len() {
        out[i] = stem[i];
        i += 1;
    }
    out[i] = b'.';
    let hash = fnv1a(content);
    let mut d = 0;
    while d < 16 {
        let nibble = ((hash >> (60 - 4 * d)) & 0xf) as u8;
        out[i + 1 + d] = if nibble < 10 { b'0' + nibble } else { b'a' + nibble - 10 };
        d += 1;
    }
    let ext = b".css";
    let mut e = 0;
    while e < ext.len() {
        out[i + 17 + e] = ext[e];
        e += 1;
    }
    out
}

const PICO_NAME_BYTES: [u8; 4 + 1 + 16 + 4] = hashed_name(b"pico", PICO.as_bytes());
const CONSOLE_NAME_BYTES: [u8; 7 + 1 + 16 + 4] = hashed_name(b"console", CONSOLE.as_bytes());

const fn as_str(bytes: &'static [u8]) -> &'static str {
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => "",
    }
}

pub(super) const PICO_CSS: Asset =
    Asset { name: as_str(&PICO_NAME_BYTES), content_type: "text/css; charset=utf-8", body: PICO };
pub(super) const CONSOLE_CSS: Asset =
    Asset { name: as_str(&CONSOLE_NAME_BYTES), content_type: "text/css; charset=utf-8", body: CONSOLE };

/// The asset of this name, if any.
pub(super) fn find(name: &str) -> Option<&'static Asset> {
    [&PICO_CSS, &CONSOLE_CSS].into_iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hold_a_hash_of_the_content() {
        assert!(PICO_CSS.name.starts_with("pico.") && PICO_CSS.name.ends_with(".css"), "{}", PICO_CSS.name);
        assert_eq!(PICO_CSS.name.len(), "pico.".len() + 16 + ".css".len());
        assert_eq!(&PICO_CSS.name[5..21], format!("{:016x}", fnv1a(PICO.as_bytes())));
        assert!(find(CONSOLE_CSS.name).is_some());
        assert!(find("pico.css").is_none());
    }
}
