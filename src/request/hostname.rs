//! Hostname normalisation: IDN to punycode (UTS #46), lower case, FQDN checks.

/// Normalises a hostname to the form stored in the database: IDN to punycode (UTS #46),
/// lower case, one trailing dot removed. Returns `None` for anything that is not a valid
/// FQDN of at least two labels: empty labels, labels over 63 octets, names over 253, leading
/// or trailing hyphens, underscores, wildcards.
pub(crate) fn normalize_hostname(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.len() > 1024 {
        return None;
    }
    let raw = raw.strip_suffix('.').unwrap_or(raw);
    // Plain LDH names skip the IDN machinery; `xn--` labels go through it so that invalid
    // punycode is rejected (UTS #46 §4.1 decodes and re-checks them).
    let plain = raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !raw.to_ascii_lowercase().split('.').any(|l| l.starts_with("xn--"));
    let ascii = if plain {
        raw.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_cow(raw.as_bytes(), idna::AsciiDenyList::STD3).ok()?.into_owned()
    };
    if ascii.len() > 253 {
        return None;
    }
    let mut n_labels = 0;
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return None;
        }
        n_labels += 1;
    }
    (n_labels >= 2).then_some(ascii)
}
