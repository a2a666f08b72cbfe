//! The book's configuration reference (`docs/src/config-reference.md`) as Markdown, from the
//! key table `ddns-cgi.toml(5)` is made from, so the two say the same. The file is checked in
//! (the book and a repository browser show it without a build); the test below fails when it
//! differs from what the table gives, and rewrites it when `DDNS_WRITE_BOOK=1` is set.

use std::fmt::Write as _;

use super::keys::{self, Bounds, Default};
use crate::config::compat::{DAEMON_KEYS, Fate};

/// Where the generated chapter lives, from the crate's root.
pub(crate) const BOOK_PATH: &str = "docs/src/config-reference.md";

/// The whole chapter.
pub(crate) fn config_reference() -> String {
    let mut md = String::new();
    md.push_str("# Configuration reference\n\n");
    md.push_str(
        "<!-- Generated from src/manual/keys.rs, the table `man ddns-cgi.toml` is made from: do not edit.\n     \
         Regenerate: DDNS_WRITE_BOOK=1 cargo test --locked --bin ddns-cgi manual::markdown -->\n\n",
    );
    for paragraph in keys::ABOUT_FILE {
        let _ = writeln!(md, "{paragraph}\n");
    }
    md.push_str(
        "Where the file is read, what to do after a change, and examples: [The configuration file](configuration.md).\n",
    );
    for section in keys::SECTIONS {
        let head = if section.array { format!("[[{}]]", section.name) } else { format!("[{}]", section.name) };
        let _ = write!(md, "\n## `{head}`\n\n{}\n", section.about);
        for key in keys::KEYS.iter().filter(|k| k.section == section.name) {
            let _ = write!(md, "\n**`{}`** = *{}*  \n{}  \n", key.name, key.kind, key.about);
            md.push_str("Default: ");
            match key.default {
                Default::Value(v) => {
                    let _ = write!(md, "`{v}`");
                }
                Default::Required => md.push_str("none, required"),
                Default::Note(n) => md.push_str(n),
            }
            md.push_str(". Allowed: ");
            match key.bounds {
                Bounds::Range(min, max) => {
                    let _ = write!(md, "{min} to {max}");
                }
                Bounds::OneOf(values) => {
                    let quoted: Vec<String> = values.iter().map(|v| format!("`\"{v}\"`")).collect();
                    md.push_str(&quoted.join(", "));
                }
                Bounds::Rule(rule) => md.push_str(rule),
            }
            md.push_str(".\n");
        }
    }
    let _ = write!(md, "\n## The Python ddns-daemon's config\n\n{}\n\n", keys::ABOUT_DAEMON);
    for (key, fate) in DAEMON_KEYS {
        let about = match fate {
            Fate::Same(other) => format!("means `{other}`."),
            Fate::Ignored(why) => format!("ignored with a warning: {why}."),
            Fate::Checked(what) => format!("allowed: {what}."),
        };
        let _ = writeln!(md, "* `{key}`: {about}");
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in chapter is what the key table gives. With `DDNS_WRITE_BOOK=1` the test
    /// writes it instead (after a change to `keys.rs`), and the diff shows what changed.
    #[test]
    fn the_book_reference_is_the_key_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(BOOK_PATH);
        let generated = config_reference();
        if std::env::var_os("DDNS_WRITE_BOOK").is_some() {
            std::fs::write(&path, &generated).expect("write the reference");
            return;
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == generated,
            "{BOOK_PATH} differs from src/manual/keys.rs; regenerate it: \
             DDNS_WRITE_BOOK=1 cargo test --locked --bin ddns-cgi manual::markdown"
        );
    }

    /// Every key of the table is in the chapter once, under its section.
    #[test]
    fn the_reference_names_every_key() {
        let md = config_reference();
        for key in keys::KEYS {
            let section = md.split("\n## ").find(|s| {
                s.starts_with(&format!("`[{}]", key.section)) || s.starts_with(&format!("`[[{}]]", key.section))
            });
            let section = section.unwrap_or_else(|| panic!("no section {}", key.section));
            assert!(section.contains(&format!("**`{}`** = ", key.name)), "{}.{} is missing", key.section, key.name);
        }
    }
}
