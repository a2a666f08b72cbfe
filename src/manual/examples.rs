//! The examples of the README and the book, run by the code they describe: every ```toml
//! block goes through the config loader, every `ddns-cgi ...` line of a ```sh block through
//! the argument parser, and every update URL on `https://ddns.example.com` through the
//! request parser, so an example that stops working fails `cargo test`. Links and anchors are
//! checked by `tests/integration/docs.rs`, which needs nothing of the crate.
//!
//! Annotations, an HTML comment on the line before a block or a URL (invisible in the book):
//! `<!-- toml: error: TEXT -->` says the block must fail to load with a message containing
//! TEXT; `<!-- url: WORD -->` says the URLs of the next line parse to WORD (`badip`,
//! `notfqdn`, `badagent`, ...) instead of an update the handler can act on.

use std::path::{Path, PathBuf};

use clap::Parser as _;

use crate::cli::Cli;
use crate::config::Config;
use crate::request::{self, AddressError, HostArg, HostsError, RejectError};

/// The repository's root.
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file under `docs/`, with their text.
fn documents() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "md") {
                out.push(path);
            }
        }
    }
    let mut paths = vec![root().join("README.md")];
    walk(&root().join("docs"), &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, text)
        })
        .collect()
}

/// A fenced block: its language, its text, the line its fence opens on (1-based) and the
/// annotation on the line before the fence, if any.
struct Block {
    lang: String,
    text: String,
    line: usize,
    note: Option<String>,
}

/// The annotation `<!-- KIND: VALUE -->` on `line`, as (KIND, VALUE).
fn annotation(line: &str) -> Option<(String, String)> {
    let inner = line.trim().strip_prefix("<!--")?.strip_suffix("-->")?.trim();
    let (kind, value) = inner.split_once(':')?;
    Some((kind.trim().to_owned(), value.trim().to_owned()))
}

fn blocks(text: &str) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let trimmed = lines[i].trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            let indent = lines[i].len() - trimmed.len();
            let start = i;
            let mut body = Vec::new();
            i += 1;
            while i < lines.len() && !lines[i].trim_start().starts_with("```") {
                body.push(lines[i].get(indent..).unwrap_or(lines[i].trim_start()));
                i += 1;
            }
            let note = start
                .checked_sub(1)
                .and_then(|p| annotation(lines[p]))
                .filter(|(kind, _)| kind == lang.trim())
                .map(|(_, value)| value);
            out.push(Block { lang: lang.trim().to_owned(), text: body.join("\n"), line: start + 1, note });
        }
        i += 1;
    }
    out
}

// ---- TOML ----------------------------------------------------------------------------------

/// What a fragment is appended to: a database, and the zones the examples name, each with
/// its own key so that a fragment may bring its own `[dns]`.
const BASE_DATABASE: &str = "[database]\npath = \"ddns.db\"\n";
const BASE_ZONES: &str = "[[zones]]\nname = \"dyn.example.com\"\ntsig_key = \"hmac-sha256:ddns-key:c2VjcmV0\"\n\n\
                          [[zones]]\nname = \"acme.example.com\"\ntsig_key = \"hmac-sha256:ddns-key:c2VjcmV0\"\n";

/// A whole file when the block has a `[database]` and a `[[zones]]`; otherwise a fragment
/// appended to the base (without the base's `[database]` when the fragment has its own).
fn config_text(block: &str) -> String {
    let has = |header: &str| block.lines().any(|l| l.trim() == header);
    if has("[database]") && has("[[zones]]") {
        return block.to_owned();
    }
    let database = if has("[database]") { "" } else { BASE_DATABASE };
    format!("{database}{BASE_ZONES}\n{block}\n")
}

#[test]
fn every_toml_block_loads_or_fails_as_annotated() {
    let dir = std::env::temp_dir();
    let mut n_blocks = 0;
    let mut failures = Vec::new();
    for (path, text) in documents() {
        for block in blocks(&text).into_iter().filter(|b| b.lang == "toml") {
            n_blocks += 1;
            let at = format!("{}:{}", path.display(), block.line);
            let result = Config::from_toml(&dir.join("config.toml"), &config_text(&block.text));
            match (result, block.note.as_deref().and_then(|n| n.strip_prefix("error:"))) {
                (Ok(_), None) => {}
                (Ok(_), Some(expected)) => {
                    failures.push(format!("{at}: loads, but is marked to fail with `{}`", expected.trim()))
                }
                (Err(e), None) => failures.push(format!("{at}: {e}")),
                (Err(e), Some(expected)) if e.to_string().contains(expected.trim()) => {}
                (Err(e), Some(expected)) => {
                    failures.push(format!("{at}: fails with `{e}`, marked to fail with `{}`", expected.trim()))
                }
            }
        }
    }
    assert!(n_blocks > 5, "only {n_blocks} toml blocks found");
    assert!(failures.is_empty(), "toml examples that do not load as the text says:\n{}", failures.join("\n"));
}

// ---- shell lines -----------------------------------------------------------------------------

/// Shell words of one command, quotes removed; `$(...)` stays inside its word. `None` for
/// unbalanced quotes.
fn words(command: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\'' if depth == 0 => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        ch => word.push(ch),
                    }
                }
            }
            '"' if depth == 0 => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        ch => word.push(ch),
                    }
                }
            }
            '(' => {
                depth += 1;
                word.push(c);
            }
            ')' => {
                depth = depth.saturating_sub(1);
                word.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if in_word || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                in_word = false;
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word || !word.is_empty() {
        out.push(word);
    }
    Some(out)
}

/// The commands of a shell block: continuation lines joined, comments dropped, split at
/// `|`, `&&`, `||` and `;` outside quotes.
fn commands(block: &str) -> Vec<String> {
    let joined = block.replace("\\\n", " ");
    let mut out = Vec::new();
    for line in joined.lines() {
        let mut current = String::new();
        let (mut single, mut double) = (false, false);
        let mut prev = ' ';
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' if !double => single = !single,
                '"' if !single => double = !double,
                '#' if !single && !double && prev.is_whitespace() => break,
                '|' | '&' | ';' if !single && !double => {
                    if chars.peek() == Some(&c) {
                        chars.next();
                    }
                    out.push(std::mem::take(&mut current));
                    prev = ' ';
                    continue;
                }
                _ => {}
            }
            current.push(c);
            prev = c;
        }
        out.push(current);
    }
    out.into_iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect()
}

/// The arguments of a `ddns-cgi` command, past `runuser -u USER --`, `sudo` and variable
/// assignments; `None` for any other command.
fn ddns_cgi_args(words: &[String]) -> Option<Vec<String>> {
    let mut rest = words;
    loop {
        match rest.first().map(String::as_str) {
            Some("sudo") => rest = &rest[1..],
            Some("runuser") => {
                let end = rest.iter().position(|w| w == "--")?;
                rest = &rest[end + 1..];
            }
            Some(w) if w.contains('=') && !w.starts_with('-') => rest = &rest[1..],
            Some("ddns-cgi") => return Some(without_redirections(rest)),
            _ => return None,
        }
    }
}

/// The words without the shell's redirections (`> FILE`, `2>/dev/null`, `< FILE`), which
/// the shell takes away before the program sees its arguments.
fn without_redirections(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for w in words {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        let op = w.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
        if let Some(target) = op.strip_prefix(">>").or_else(|| op.strip_prefix('>')).or_else(|| op.strip_prefix('<')) {
            skip_next = target.is_empty();
            continue;
        }
        out.push(w.clone());
    }
    out
}

#[test]
fn every_ddns_cgi_line_of_a_sh_block_parses() {
    let mut n_commands = 0;
    let mut failures = Vec::new();
    for (path, text) in documents() {
        for block in blocks(&text).into_iter().filter(|b| b.lang == "sh") {
            for command in commands(&block.text) {
                let at = format!("{}:{}", path.display(), block.line);
                let Some(words) = words(&command) else {
                    failures.push(format!("{at}: unbalanced quotes in `{command}`"));
                    continue;
                };
                let Some(args) = ddns_cgi_args(&words) else { continue };
                n_commands += 1;
                match Cli::try_parse_from(&args) {
                    Ok(_) => {}
                    Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {}
                    Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => {}
                    Err(e) => failures.push(format!("{at}: `{command}`: {}", e.render())),
                }
            }
        }
    }
    assert!(n_commands > 20, "only {n_commands} ddns-cgi commands found");
    assert!(failures.is_empty(), "ddns-cgi commands the parser refuses:\n{}", failures.join("\n"));
}

// ---- update URLs ----------------------------------------------------------------------------

/// The documented base; only URLs on it are examples of this service.
const BASE_URL: &str = "https://ddns.example.com/";

/// Paths of the default update and delete endpoints (the acme-dns API is JSON over POST).
const UPDATE_PATHS: &[&str] = &["/nic/update", "/update", "/api/update", "/nic/delete", "/update-by-", "/delete-by-"];

/// A token of the right shape, for `TOKEN` and `SECRET` in the examples.
const A_TOKEN: &str = "ddns_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The URLs on [`BASE_URL`] in `line`, user-info removed, placeholders filled as the devices
/// fill them (Fritz!OS `<ipaddr>`, OpenWrt `[IP]`, pfSense `%IP%`).
fn urls(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("https://") {
        let tail = &rest[i..];
        let end = tail.find(|c: char| c.is_whitespace() || matches!(c, '`' | '\'' | '"' | ')')).unwrap_or(tail.len());
        let url = &tail[..end];
        rest = &tail[end..];
        // `https://[USERNAME]:[PASSWORD]@ddns.example.com/...`: credentials in the URL.
        let url = match url.split_once('@') {
            Some((_, host)) if !url.contains('?') || url.find('@') < url.find('?') => format!("https://{host}"),
            _ => url.to_owned(),
        };
        if url.starts_with(BASE_URL) {
            out.push(url);
        }
    }
    out
}

fn fill(url: &str) -> String {
    [
        ("<domain>", "home.dyn.example.com"),
        ("[DOMAIN]", "home.dyn.example.com"),
        ("<ipaddr>", "192.0.2.1"),
        ("[IP]", "192.0.2.1"),
        ("%IP%", "192.0.2.1"),
        ("<ip6addr>", "2001:db8::1"),
        ("<ip6lanprefix>", "2001:db8:1:2::/64"),
        ("<username>", "alice"),
        ("<pass>", "secret"),
        ("TOKEN", A_TOKEN),
        ("SECRET", A_TOKEN),
    ]
    .iter()
    .fold(url.to_owned(), |u, (from, to)| u.replace(from, to))
}

/// What the request parser makes of `url`: `update` when the handler gets a request it can
/// act on, else the dyndns2 word the parse already decides.
fn outcome(url: &str) -> String {
    let rest = &url[BASE_URL.len() - 1..];
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let env: request::Env = [
        ("REQUEST_METHOD", "GET"),
        ("SCRIPT_NAME", path),
        ("QUERY_STRING", query),
        ("REQUEST_URI", rest),
        ("REMOTE_ADDR", "198.51.100.7"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let text = format!("{BASE_DATABASE}{BASE_ZONES}");
    let Ok(config) = Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), &text) else {
        return "the base config does not load".to_owned();
    };
    let request = match request::parse(&env, b"", &config) {
        Ok(r) => r,
        Err(RejectError::NotFound { .. }) => return "404".to_owned(),
        Err(RejectError::MethodNotAllowed { .. }) => return "405".to_owned(),
        Err(_) => return "badagent".to_owned(),
    };
    let word = match &request.hostnames {
        Err(HostsError::TooMany { .. }) => "numhost",
        Err(HostsError::Unclear { .. }) => "notfqdn",
        Err(HostsError::Missing) if request.credentials.as_ref().is_some_and(|c| c.username().is_none()) => "update",
        Err(HostsError::Missing) => "notfqdn",
        Ok(hosts) if hosts.iter().any(|h| matches!(h, HostArg::NotFqdn(_))) => "notfqdn",
        Ok(_) => "update",
    };
    if word != "update" {
        return word.to_owned();
    }
    if let Err(e) = &request.addresses
        && !matches!(e, AddressError::NoClientAddress { .. })
    {
        return "badip".to_owned();
    }
    if request.ttl.is_err() {
        return "badttl".to_owned();
    }
    if matches!(request.txt, Some(Err(_))) {
        return "badagent".to_owned();
    }
    "update".to_owned()
}

#[test]
fn every_update_url_parses_as_the_text_says() {
    let mut n_urls = 0;
    let mut failures = Vec::new();
    for (path, text) in documents() {
        let mut expected: Option<String> = None;
        for (n, line) in text.lines().enumerate() {
            if let Some((kind, value)) = annotation(line)
                && kind == "url"
            {
                expected = Some(value);
                continue;
            }
            let found: Vec<String> = urls(line)
                .into_iter()
                .filter(|u| UPDATE_PATHS.iter().any(|p| u[BASE_URL.len() - 1..].starts_with(p)))
                .collect();
            let want = expected.take().unwrap_or_else(|| "update".to_owned());
            for url in found {
                n_urls += 1;
                let got = outcome(&fill(&url));
                if got != want {
                    failures.push(format!(
                        "{}:{}: `{url}` parses to `{got}`, the text says `{want}`",
                        path.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(n_urls > 10, "only {n_urls} update URLs found");
    assert!(failures.is_empty(), "URL examples the request parser disagrees with:\n{}", failures.join("\n"));
}

#[test]
fn the_helpers_read_markdown_and_shell_as_meant() {
    let md = "text\n<!-- toml: error: unknown field -->\n```toml\na = 1\n```\n   ```sh\n   ddns-cgi check\n   ```\n";
    let found = blocks(md);
    assert_eq!(found.len(), 2);
    assert_eq!(
        (found[0].lang.as_str(), found[0].text.as_str(), found[0].note.as_deref()),
        ("toml", "a = 1", Some("error: unknown field"))
    );
    assert_eq!((found[1].lang.as_str(), found[1].text.as_str()), ("sh", "ddns-cgi check"));
    assert_eq!(
        commands("echo \"$P\" | ddns-cgi hostname relay h \\\n  --url 'a#b' # comment\nx && y"),
        vec!["echo \"$P\"", "ddns-cgi hostname relay h    --url 'a#b'", "x", "y"]
    );
    let w = words("ddns-cgi backup /var/backups/ddns-$(date +%F).db 'a b'").expect("balanced");
    assert_eq!(w, vec!["ddns-cgi", "backup", "/var/backups/ddns-$(date +%F).db", "a b"]);
    let args = ddns_cgi_args(&words("runuser -u www-data -- ddns-cgi user list").expect("balanced"));
    assert_eq!(args, Some(vec!["ddns-cgi".to_owned(), "user".to_owned(), "list".to_owned()]));
    let args = ddns_cgi_args(&words("ddns-cgi hostname import - < in.csv > out.jsonl 2>/dev/null").expect("balanced"));
    let expected: Vec<String> = ["ddns-cgi", "hostname", "import", "-"].map(str::to_owned).into();
    assert_eq!(args, Some(expected));
    assert_eq!(
        urls("`https://[U]:[P]@ddns.example.com/nic/update?hostname=[DOMAIN]&myip=[IP]`"),
        vec!["https://ddns.example.com/nic/update?hostname=[DOMAIN]&myip=[IP]".to_owned()]
    );
    assert_eq!(outcome("https://ddns.example.com/nic/update?hostname=h.dyn.example.com&myip=0.0.0.0"), "badip");
    assert_eq!(outcome("https://ddns.example.com/nic/update?hostname=_x.dyn.example.com"), "notfqdn");
    assert_eq!(outcome("https://ddns.example.com/nowhere"), "404");
}
