//! The code's layers (ARCHITECTURE.md, "Invariant: every import points down"): no two
//! top-level modules of `src/` name each other, directly or round a longer circle. Read from
//! the sources as written: a module's `crate::NAME` paths (also inside `use crate::{...}`
//! groups) outside its unit tests are the modules it depends on. `main` sits above all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file below `dir`, but unit-test files (`tests.rs`).
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") && path.file_name().is_some_and(|n| n != "tests.rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a file's code names through `crate::`.
fn named(text: &str) -> BTreeSet<String> {
    // Unit tests may reach anywhere; only the code they test counts.
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    let ident = |s: &str| s.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            out.extend(group.split(',').map(|part| ident(part.trim())).filter(|n| !n.is_empty()));
        } else {
            out.insert(ident(rest));
        }
    }
    out.remove("");
    out
}

/// Which top-level modules each one names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let rel = file.strip_prefix(&src).expect("below src");
        let first = rel.components().next().expect("a component").as_os_str().to_string_lossy().into_owned();
        let module = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
        if module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read source");
        let deps = graph.entry(module.clone()).or_default();
        deps.extend(named(&text).into_iter().filter(|n| *n != module));
    }
    graph
}

/// A circle through `from` back to `from`, if there is one: the modules in order.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_owned(), vec![from.to_owned()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in graph.get(&at).into_iter().flatten() {
            if next == from {
                return Some([path.clone(), vec![from.to_owned()]].concat());
            }
            if seen.insert(next.clone()) {
                stack.push((next.clone(), [path.clone(), vec![next.clone()]].concat()));
            }
        }
    }
    None
}

#[test]
fn every_import_points_down() {
    let graph = graph();
    assert!(graph.len() > 20, "read too few modules: {:?}", graph.keys());
    let circles: Vec<String> = graph.keys().filter_map(|m| circle(&graph, m)).map(|c| c.join(" -> ")).collect();
    assert!(
        circles.is_empty(),
        "modules that name each other (move what both use below both):\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_reader_sees_grouped_and_plain_paths_and_skips_unit_tests() {
    let text = "use crate::{acme, store::Store};\nuse crate::log::Log;\nfn f() { crate::dns::x(); }\n\
                #[cfg(test)]\nmod tests { use crate::http; }\n";
    let names: Vec<String> = named(text).into_iter().collect();
    assert_eq!(names, ["acme", "dns", "log", "store"]);
    let mut g = BTreeMap::new();
    g.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    g.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    g.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(circle(&g, "a").map(|c| c.join(" -> ")).as_deref(), Some("a -> b -> c -> a"));
    g.get_mut("c").expect("c").clear();
    assert_eq!(circle(&g, "a"), None);
}
