//! Every relative link of the documentation resolves, offline: in the book (`docs/`), the
//! README and the other top-level Markdown files, each `[text](target)` that is not a URL
//! names a file or directory of the repository, and its `#anchor` a heading (or an explicit
//! `id`) of that file, as mdBook and GitHub derive them. `{{#include FILE:ANCHOR}}` lines of
//! the book name a file with that `ANCHOR:`. The examples in those files are run by the unit
//! tests in `src/manual/examples.rs`; `scripts/docs.sh` builds the book.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files whose links are checked: the top-level `*.md` and every `*.md` under `docs/`.
fn documents() -> Vec<PathBuf> {
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
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root()).expect("the repository").flatten() {
        let path = entry.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    walk(&root().join("docs"), &mut out);
    out.sort();
    out
}

/// The text outside fenced blocks and code spans, where links live.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            out.push('\n');
            continue;
        }
        if fenced {
            out.push('\n');
            continue;
        }
        // Drop code spans: every other piece between backticks.
        for (i, piece) in line.split('`').enumerate() {
            if i % 2 == 0 {
                out.push_str(piece);
            }
        }
        out.push('\n');
    }
    out
}

/// An anchor as mdBook (`normalize_id`) and GitHub derive it from a heading's text: lower
/// case, letters, digits, `-` and `_` kept, white space to `-`, the rest dropped.
fn anchor_of(heading: &str) -> String {
    // A link in a heading counts by its text.
    let mut text = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find("](") {
        let close = rest[open..].find(')').map_or(rest.len(), |c| open + c + 1);
        text.push_str(&rest[..open]);
        rest = &rest[close..];
    }
    text.push_str(rest);
    text.chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                Some(c.to_lowercase().next().unwrap_or(c))
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The anchors of a Markdown file: its headings (repeats numbered `-1`, `-2`, as both tools
/// do) and explicit `id="..."` attributes.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        if let Some(heading) = line.strip_prefix('#') {
            let heading = heading.trim_start_matches('#');
            if heading.starts_with(' ') {
                let base = anchor_of(heading.trim());
                let mut id = base.clone();
                let mut n = 0;
                while out.contains(&id) {
                    n += 1;
                    id = format!("{base}-{n}");
                }
                out.insert(id);
            }
        }
        let mut rest = line;
        while let Some(i) = rest.find("id=\"") {
            let tail = &rest[i + 4..];
            let end = tail.find('"').unwrap_or(tail.len());
            out.insert(tail[..end].to_owned());
            rest = &tail[end..];
        }
    }
    out
}

/// The targets of inline links `[text](target)` and of reference definitions `[x]: target`.
fn links(prose: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let tail = &rest[i + 2..];
            let end = tail.find(')').unwrap_or(tail.len());
            // `[text](target "title")`
            let target = tail[..end].split_whitespace().next().unwrap_or("");
            out.push((n + 1, target.trim_matches(['<', '>']).to_owned()));
            rest = &tail[end..];
        }
        let trimmed = line.trim_start();
        if trimmed.starts_with('[')
            && let Some((label, target)) = trimmed.split_once("]: ")
            && !label.contains(']')
        {
            out.push((n + 1, target.split_whitespace().next().unwrap_or("").to_owned()));
        }
    }
    out
}

/// What is wrong with `target` as a link from `from`, if anything.
fn broken(from: &Path, target: &str) -> Option<String> {
    if target.is_empty() {
        return Some("empty link".to_owned());
    }
    if target.contains("://") || target.starts_with("mailto:") {
        return None;
    }
    let (file, anchor) = match target.split_once('#') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (target, None),
    };
    let path = if file.is_empty() { from.to_owned() } else { from.parent().unwrap_or(Path::new("")).join(file) };
    if !path.exists() {
        return Some(format!("`{file}` does not exist"));
    }
    let anchor = anchor?;
    if path.extension().is_none_or(|e| e != "md") {
        return Some(format!("`#{anchor}` on a file that is not Markdown"));
    }
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    if anchors(&text).contains(anchor) {
        None
    } else {
        Some(format!("`{}` has no heading with the anchor `#{anchor}`", path.display()))
    }
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut n_links = 0;
    let mut failures = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).expect("a document");
        for (line, target) in links(&prose(&text)) {
            n_links += 1;
            if let Some(why) = broken(&doc, &target) {
                failures.push(format!("{}:{line}: ({target}): {why}", doc.display()));
            }
        }
        // mdBook's includes: `{{#include FILE}}` or `{{#include FILE:ANCHOR}}`.
        for (n, l) in text.lines().enumerate() {
            let Some(spec) = l.trim().strip_prefix("{{#include ").and_then(|s| s.strip_suffix("}}")) else { continue };
            let (file, anchor) = spec.split_once(':').map_or((spec, None), |(f, a)| (f, Some(a)));
            let path = doc.parent().unwrap_or(Path::new("")).join(file.trim());
            let Ok(included) = std::fs::read_to_string(&path) else {
                failures.push(format!("{}:{}: include `{file}` does not exist", doc.display(), n + 1));
                continue;
            };
            if let Some(anchor) = anchor.filter(|a| !a.chars().all(|c| c.is_ascii_digit()))
                && !(included.contains(&format!("ANCHOR: {anchor}"))
                    && included.contains(&format!("ANCHOR_END: {anchor}")))
            {
                failures.push(format!("{}:{}: `{file}` has no ANCHOR `{anchor}`", doc.display(), n + 1));
            }
        }
    }
    assert!(n_links > 50, "only {n_links} links found");
    assert!(failures.is_empty(), "broken links:\n{}", failures.join("\n"));
}

/// The book's table of contents names every chapter file there is, and only files there are
/// (mdBook builds a chapter that is not listed nowhere, without a warning).
#[test]
fn the_summary_lists_every_chapter() {
    let src = root().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).expect("docs/src/SUMMARY.md");
    let listed: BTreeSet<String> =
        links(&prose(&summary)).into_iter().map(|(_, t)| t).filter(|t| !t.is_empty()).collect();
    let mut present = BTreeSet::new();
    for entry in std::fs::read_dir(&src).expect("docs/src").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && name != "SUMMARY.md" {
            present.insert(name);
        }
    }
    let unlisted: Vec<&String> = present.difference(&listed).collect();
    assert!(unlisted.is_empty(), "chapters missing from docs/src/SUMMARY.md: {unlisted:?}");
}

#[test]
fn anchors_are_derived_as_mdbook_does() {
    assert_eq!(anchor_of("The lines of `ddns-cgi check`"), "the-lines-of-ddns-cgi-check");
    assert_eq!(anchor_of("`[endpoints.params]`"), "endpointsparams");
    assert_eq!(anchor_of("The Python ddns-daemon's config"), "the-python-ddns-daemons-config");
    assert_eq!(anchor_of("See [here](x.md) now"), "see-here-now");
    let set = anchors("# A\n## A\n```\n# not a heading\n```\n<a id=\"x.y\"></a>\n");
    assert_eq!(set.into_iter().collect::<Vec<_>>(), vec!["a", "a-1", "x.y"]);
}
