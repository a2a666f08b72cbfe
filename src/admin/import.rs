//! `hostname import FILE`: many hostnames, each with a token of its own, added in one
//! transaction: for an administrator moving a community of routers from another service,
//! and for the benchmark's thousands of hosts. The file is JSON lines or CSV with a header;
//! every line is checked first (user, name and zone as `hostname add` checks them, TTLs,
//! families, the token's scope as `hostname token` takes it, no name twice, none already
//! stored), and any wrong line refuses the whole file with every problem named by its line
//! number: an import either happens whole or not at all. The tokens are printed once, as
//! JSON lines, and stored as digests like every other token.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::auth::token::{self, Scope};
use crate::cli::{CliError, ImportFormat, check_ttls};
use crate::config::{Config, duration};
use crate::log::Log;
use crate::secret::Secret;
use crate::store::{Families, ImportedHost, NewHost, Store, TokenScope};

/// The largest file read: 64 MiB holds a million lines of a hundred bytes or so.
const MAX_BYTES: u64 = 64 << 20;
/// At most this many problems are listed; the count says how many there were.
const MAX_SHOWN: usize = 20;
/// The columns (CSV header) and keys (JSON) a line may have.
const COLUMNS: [&str; 11] =
    ["user", "hostname", "zone", "dns_ttl", "expiry_ttl", "ipv4", "ipv6", "token", "types", "from", "expires"];

/// One line as written: every value optional text, so that each gets a message of its own
/// (`dns_ttl` may be `3600` or `"1h"` in JSON, a CSV cell is text).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(default)]
    user: Option<Text>,
    #[serde(default)]
    hostname: Option<Text>,
    #[serde(default)]
    zone: Option<Text>,
    #[serde(default)]
    dns_ttl: Option<Text>,
    #[serde(default)]
    expiry_ttl: Option<Text>,
    #[serde(default)]
    ipv4: Option<Text>,
    #[serde(default)]
    ipv6: Option<Text>,
    #[serde(default)]
    token: Option<Text>,
    #[serde(default)]
    types: Option<Text>,
    #[serde(default)]
    from: Option<Text>,
    #[serde(default)]
    expires: Option<Text>,
}

/// A value given as a string, a number or a boolean, kept as its text; an empty CSV cell
/// (or JSON `null`) is no value.
#[derive(Debug)]
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, a number or a boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A checked line, ready to store.
struct Prepared {
    user: String,
    fqdn: String,
    zone: String,
    user_id: i64,
    dns_ttl: u32,
    expiry_ttl: u32,
    families: Families,
    token: Option<(Secret<String>, [u8; 32], TokenScope)>,
}

/// What is printed for each imported hostname.
#[derive(Serialize)]
struct Printed<'a> {
    hostname: &'a str,
    user: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
}

/// Runs `hostname import`: reads and checks the whole file, then stores every line in one
/// transaction. Returns the JSON lines to print.
pub(crate) fn import(
    config: &Config,
    store: &mut Store,
    file: &Path,
    format: Option<ImportFormat>,
    now: i64,
    log: &Log,
) -> Result<String, CliError> {
    let text = read(file)?;
    let format =
        format.unwrap_or(if text.trim_start().starts_with('{') { ImportFormat::Jsonl } else { ImportFormat::Csv });
    let lines = match format {
        ImportFormat::Jsonl => jsonl(&text),
        ImportFormat::Csv => csv(&text)?,
    };
    let mut problems = Vec::new();
    let mut checker = Checker { config, store, now, users: HashMap::new(), seen: HashSet::new() };
    let mut prepared = Vec::new();
    for (number, line) in lines {
        match line.and_then(|line| checker.check(line)) {
            Ok(p) => prepared.push(p),
            Err(problem) => problems.push(format!("line {number}: {problem}")),
        }
    }
    if !problems.is_empty() {
        let more = problems.len().saturating_sub(MAX_SHOWN);
        let mut message = format!(
            "{} {} wrong; nothing was imported:\n  {}",
            problems.len(),
            if problems.len() == 1 { "line is" } else { "lines are" },
            problems[..problems.len().min(MAX_SHOWN)].join("\n  ")
        );
        if more > 0 {
            message.push_str(&format!("\n  ... and {more} more"));
        }
        return Err(CliError::failure(message));
    }
    if prepared.is_empty() {
        return Err(CliError::failure(format!("`{}` holds no hostname; nothing was imported", file.display())));
    }
    let rows: Vec<ImportedHost<'_>> = prepared
        .iter()
        .map(|p| ImportedHost {
            host: NewHost {
                fqdn: &p.fqdn,
                zone: &p.zone,
                user_id: p.user_id,
                dns_ttl: p.dns_ttl,
                expiry_ttl: p.expiry_ttl,
                families: p.families,
            },
            token: p.token.as_ref().map(|(_, digest, scope)| (digest.as_slice(), scope)),
        })
        .collect();
    store.import_hosts(&rows, now)?;
    let tokens = prepared.iter().filter(|p| p.token.is_some()).count();
    log.info(format_args!("hostname import: {} hostnames added, {tokens} with a new token", prepared.len()));
    let mut out = String::new();
    for p in &prepared {
        let printed =
            Printed { hostname: &p.fqdn, user: &p.user, token: p.token.as_ref().map(|(t, _, _)| t.expose().as_str()) };
        let json = serde_json::to_string(&printed).map_err(|e| CliError::failure(e.to_string()))?;
        out.push_str(&json);
        out.push('\n');
    }
    Ok(out)
}

/// The file's text, bounded before it is read whole (`-`: standard input).
fn read(file: &Path) -> Result<String, CliError> {
    let shown = file.display();
    let reader: Box<dyn Read> = if file == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(file).map_err(|e| CliError::failure(format!("cannot open `{shown}`: {e}")))?)
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::failure(format!("cannot read `{shown}`: {e}")))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(CliError::failure(format!("`{shown}` is larger than {} MiB; split it", MAX_BYTES >> 20)));
    }
    let text = String::from_utf8(bytes).map_err(|_| CliError::failure(format!("`{shown}` is not UTF-8 text")))?;
    Ok(text.strip_prefix('\u{feff}').map(str::to_owned).unwrap_or(text))
}

/// A line's number and what it holds, or why it could not be read.
type Numbered = (usize, Result<Line, String>);

/// JSON lines: one object a line; blank lines are skipped.
fn jsonl(text: &str) -> Vec<Numbered> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            (i + 1, serde_json::from_str::<Line>(l).map_err(|e| format!("not a JSON object of a hostname: {e}")))
        })
        .collect()
}

/// CSV with a header line naming the columns (in any order); an unknown column refuses the
/// file, since its values would otherwise be dropped without a word.
fn csv(text: &str) -> Result<Vec<Numbered>, CliError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers =
        reader.headers().map_err(|e| CliError::failure(format!("cannot read the CSV header line: {e}")))?.clone();
    if let Some(unknown) = headers.iter().find(|h| !COLUMNS.contains(h)) {
        return Err(CliError::failure(format!(
            "the CSV header names an unknown column `{unknown}`; the columns are {}",
            COLUMNS.join(", ")
        )));
    }
    let mut lines = Vec::new();
    for record in reader.records() {
        match record {
            Ok(record) => {
                let number = record.position().map_or(0, |p| p.line() as usize);
                lines.push((number, record.deserialize::<Line>(Some(&headers)).map_err(|e| format!("{e}"))));
            }
            Err(e) => {
                let number = e.position().map_or(0, |p| p.line() as usize);
                lines.push((number, Err(format!("not a CSV line: {e}"))));
            }
        }
    }
    Ok(lines)
}

/// Checks lines one after another, remembering the users looked up and the names seen.
struct Checker<'a> {
    config: &'a Config,
    store: &'a Store,
    now: i64,
    users: HashMap<String, Option<i64>>,
    seen: HashSet<String>,
}

impl Checker<'_> {
    fn check(&mut self, line: Line) -> Result<Prepared, String> {
        let user = text(&line.user).ok_or("no `user`")?.to_owned();
        let hostname = text(&line.hostname).ok_or("no `hostname`")?;
        let user_id = match self.users.get(&user) {
            Some(id) => *id,
            None => {
                let id = self.store.user(&user).map_err(|e| e.to_string())?.map(|u| u.id);
                self.users.insert(user.clone(), id);
                id
            }
        }
        .ok_or_else(|| format!("user `{user}` does not exist"))?;
        let (fqdn, zone) = super::placed_host(self.config, hostname, text(&line.zone)).map_err(|e| e.message)?;
        if !self.seen.insert(fqdn.clone()) {
            return Err(format!("hostname `{fqdn}` is in the file twice"));
        }
        if self.store.host(&fqdn).map_err(|e| e.to_string())?.is_some() {
            return Err(format!("hostname `{fqdn}` exists already"));
        }
        let ttl = |v: &Option<Text>, key: &str, default: u32| match text(v) {
            None => Ok(default),
            Some(s) => duration::parse_u32(s).map_err(|e| format!("`{key}` {e}")),
        };
        let dns_ttl = ttl(&line.dns_ttl, "dns_ttl", self.config.defaults.dns_ttl)?;
        let expiry_ttl = ttl(&line.expiry_ttl, "expiry_ttl", self.config.defaults.expiry_ttl)?;
        check_ttls(dns_ttl, expiry_ttl).map_err(|e| e.message)?;
        let families = Families { ipv4: switch(text(&line.ipv4), "ipv4")?, ipv6: switch(text(&line.ipv6), "ipv6")? };
        let (types, from, expires) = (text(&line.types), text(&line.from), text(&line.expires));
        let token = if switch(text(&line.token), "token")? {
            let scope = Scope::from_options(types, from, expires, self.now).map_err(|e| e.to_string())?;
            let secret = token::generate().map_err(|e| format!("no randomness for the token: {e}"))?;
            let digest = token::digest(secret.expose());
            Some((secret, digest, scope.to_stored()))
        } else {
            if types.is_some() || from.is_some() || expires.is_some() {
                return Err("`types`, `from` and `expires` scope a token; this line makes none (`token` is no)".into());
            }
            None
        };
        Ok(Prepared { user, fqdn, zone, user_id, dns_ttl, expiry_ttl, families, token })
    }
}

/// A value as text; an empty one is none.
fn text(value: &Option<Text>) -> Option<&str> {
    value.as_ref().map(|t| t.0.as_str()).filter(|s| !s.is_empty())
}

/// `on`/`off` (also `yes`/`no`, `true`/`false`, `1`/`0`); no value is on.
fn switch(value: Option<&str>, key: &str) -> Result<bool, String> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None | Some("on" | "yes" | "true" | "1") => Ok(true),
        Some("off" | "no" | "false" | "0") => Ok(false),
        Some(_) => Err(format!("`{key}` must be on or off, got `{}`", value.unwrap_or_default())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_takes_numbers_and_strings_and_skips_blank_lines() {
        let lines = jsonl(
            "{\"user\":\"a\",\"hostname\":\"h.example\",\"dns_ttl\":60,\"token\":false}\n\n{\"user\":\"b\",\"hostname\":\"i.example\",\"dns_ttl\":\"1h\"}\n",
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].0, 3);
        let first = lines[0].1.as_ref().expect("line 1");
        assert_eq!(first.dns_ttl.as_ref().map(|t| t.0.as_str()), Some("60"));
        assert_eq!(first.token.as_ref().map(|t| t.0.as_str()), Some("false"));
    }

    #[test]
    fn jsonl_names_an_unknown_key_and_a_broken_line() {
        let lines = jsonl("{\"user\":\"a\",\"hostname\":\"h.example\",\"colour\":\"red\"}\n{\"user\":");
        assert!(lines[0].1.as_ref().is_err_and(|e| e.contains("unknown field `colour`")), "{:?}", lines[0].1);
        assert!(lines[1].1.is_err());
    }

    #[test]
    fn csv_reads_columns_in_any_order_with_empty_cells_as_none() {
        let lines = csv("hostname,user,dns_ttl\nh.example,a,\n\"i.example\",b,60\n").expect("csv");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, 2);
        let first = lines[0].1.as_ref().expect("line 2");
        assert_eq!(first.user.as_ref().map(|t| t.0.as_str()), Some("a"));
        assert!(first.dns_ttl.is_none());
        assert_eq!(lines[1].1.as_ref().expect("line 3").dns_ttl.as_ref().map(|t| t.0.as_str()), Some("60"));
    }

    #[test]
    fn csv_refuses_an_unknown_column() {
        let err = csv("user,hostname,colour\na,h.example,red\n").expect_err("unknown column");
        assert!(err.message.contains("unknown column `colour`"), "{}", err.message);
    }

    #[test]
    fn csv_names_a_line_with_too_many_cells() {
        let lines = csv("user,hostname\na,h.example,extra\n").expect("csv");
        assert!(lines[0].1.is_err());
        assert_eq!(lines[0].0, 2);
    }

    #[test]
    fn switches() {
        assert_eq!(switch(None, "ipv4"), Ok(true));
        assert_eq!(switch(Some("OFF"), "ipv4"), Ok(false));
        assert_eq!(switch(Some("no"), "token"), Ok(false));
        assert_eq!(switch(Some("maybe"), "ipv6"), Err("`ipv6` must be on or off, got `maybe`".to_owned()));
    }
}
