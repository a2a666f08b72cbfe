//! TSIG key parsing: the one-line `algorithm:name:secret` form, and key files in that form,
//! BIND's `key` block (`tsig-keygen`) or Knot's YAML `key:` list (`keymgr -t`).

use base64::Engine as _;
use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::TsigAlgorithm;

use crate::secret::Secret;

use super::TsigKey;

/// Parses `hmac-sha256:ddns-key.:BASE64`, the form `nsupdate -y` and `knsupdate -y` take.
/// Messages never contain the secret.
pub(super) fn parse_key_line(line: &str) -> Result<TsigKey, String> {
    let mut parts = line.trim().splitn(3, ':');
    let (Some(alg), Some(name), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("must be `algorithm:name:base64-secret`".to_owned());
    };
    make_key(alg, name, secret)
}

/// Parses a key file: the one-line form, BIND's `key "name" { algorithm ..; secret ".."; };`
/// block (`tsig-keygen`), or Knot's YAML `key:` list (`keymgr -t`, whose first line is also a
/// commented one-line form).
pub(super) fn parse_key_file(text: &str) -> Result<TsigKey, String> {
    let trimmed = text.trim();
    if let Some(block) = trimmed.strip_prefix("key") {
        if block.trim_start().starts_with('"') {
            return parse_bind_block(block);
        }
        if block.trim_start().starts_with(':') {
            return parse_knot_yaml(block);
        }
    }
    for line in trimmed.lines() {
        let line = line.trim().trim_start_matches('#').trim();
        if line.starts_with("hmac-") {
            return parse_key_line(line);
        }
        if line.starts_with("key:") {
            let rest = trimmed.split_once("key:").map(|(_, r)| r).unwrap_or("");
            return parse_knot_yaml(rest);
        }
    }
    Err("holds no TSIG key: expected `algorithm:name:secret`, a BIND `key` block or a Knot `key:` list".to_owned())
}

fn parse_bind_block(block: &str) -> Result<TsigKey, String> {
    let bad = || "has a malformed `key \"name\" { algorithm ...; secret \"...\"; };` block".to_owned();
    let block = block.trim_start();
    let rest = block.strip_prefix('"').ok_or_else(bad)?;
    let (name, rest) = rest.split_once('"').ok_or_else(bad)?;
    let body = rest.trim_start().strip_prefix('{').ok_or_else(bad)?;
    let body = body.split_once('}').map(|(b, _)| b).ok_or_else(bad)?;
    let mut alg = None;
    let mut secret = None;
    for stmt in body.split(';') {
        let stmt = stmt.trim();
        if let Some(v) = stmt.strip_prefix("algorithm") {
            alg = Some(v.trim().trim_matches('"').to_owned());
        } else if let Some(v) = stmt.strip_prefix("secret") {
            secret = Some(v.trim().trim_matches('"').to_owned());
        }
    }
    make_key(&alg.ok_or_else(bad)?, name, &secret.ok_or_else(bad)?)
}

fn parse_knot_yaml(rest: &str) -> Result<TsigKey, String> {
    let field = |k: &str| {
        rest.lines()
            .map(|l| l.trim().trim_start_matches('-').trim())
            .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().trim_matches('"')))
    };
    let bad = || "has a malformed Knot `key:` entry (needs `id`, `algorithm`, `secret`)".to_owned();
    make_key(field("algorithm").ok_or_else(bad)?, field("id").ok_or_else(bad)?, field("secret").ok_or_else(bad)?)
}

fn make_key(alg: &str, name: &str, secret: &str) -> Result<TsigKey, String> {
    let algorithm = match alg.trim().to_ascii_lowercase().as_str() {
        "hmac-sha256" => TsigAlgorithm::HmacSha256,
        "hmac-sha384" => TsigAlgorithm::HmacSha384,
        "hmac-sha512" => TsigAlgorithm::HmacSha512,
        other => {
            return Err(format!(
                "uses unsupported TSIG algorithm `{other}`; use hmac-sha256, hmac-sha384 or hmac-sha512"
            ));
        }
    };
    let name = name.trim();
    let key_name = Name::from_ascii(if name.ends_with('.') { name.to_owned() } else { format!("{name}.") })
        .map_err(|_| format!("has an invalid key name `{name}`"))?;
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret.trim())
        .map_err(|_| "has a secret that is not valid base64".to_owned())?;
    if secret.is_empty() {
        return Err("has an empty secret".to_owned());
    }
    Ok(TsigKey { name: key_name.to_lowercase(), algorithm, secret: Secret::new(secret), file: None })
}
