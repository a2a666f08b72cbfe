//! The benchmark's charts in the documents (`docs/src/images/bench-*.svg`, which BENCHMARKS.md
//! and the book show) are what `scripts/charts.sh` draws from the newest recorded run's data
//! (`benches/history/DATE.tsv`): the same texts, which hold every title, label, figure and
//! ratio, so a chart cannot drift from its data, and none is left over from an older set.
//! BENCHMARKS.md shows each of them. Compared by text rather than byte for byte, so another
//! gnuplot's drawing does not fail it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::TempDir;
use crate::util::dnsserver::require_program;

/// The texts of an SVG, in order: what each `<text>` element holds.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>'))
        .filter_map(|(_, rest)| rest.split_once("</text>"))
        .map(|(text, _)| text.to_owned())
        .collect()
}

/// `bench-*.svg` files of `dir`, sorted.
fn charts(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the charts' folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("bench-"))
                && p.extension().is_some_and(|e| e == "svg")
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_documents_charts_are_drawn_from_the_newest_recorded_run() {
    require_program("gnuplot", "gnuplot-nox").expect("the charts test needs gnuplot");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut recorded: Vec<PathBuf> = std::fs::read_dir(root.join("benches/history"))
        .expect("read benches/history")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "tsv"))
        .collect();
    recorded.sort();
    let newest = recorded.last().expect("a recorded run's data in benches/history");

    let tmp = TempDir::new("charts");
    let out = Command::new("bash")
        .arg(root.join("scripts/charts.sh"))
        .arg(newest)
        .arg(tmp.path())
        .output()
        .expect("run scripts/charts.sh");
    assert!(out.status.success(), "charts.sh: {}", String::from_utf8_lossy(&out.stderr));

    let drawn = charts(tmp.path());
    let shown = charts(&root.join("docs/src/images"));
    let names =
        |v: &[PathBuf]| v.iter().map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect::<Vec<_>>();
    assert!(drawn.len() >= 4, "too few charts drawn: {:?}", names(&drawn));
    assert_eq!(names(&shown), names(&drawn), "docs/src/images/ against what {} draws", newest.display());
    let benchmarks = std::fs::read_to_string(root.join("BENCHMARKS.md")).expect("read BENCHMARKS.md");
    for (new, old) in drawn.iter().zip(&shown) {
        let read = |p: &Path| std::fs::read_to_string(p).expect("read a chart");
        let name = new.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        assert_eq!(
            texts(&read(old)),
            texts(&read(new)),
            "docs/src/images/{name} is not what scripts/charts.sh draws from {}: run `scripts/charts.sh {} docs/src/images`",
            newest.display(),
            newest.strip_prefix(root).unwrap_or(newest).display(),
        );
        assert!(benchmarks.contains(&format!("](docs/src/images/{name})")), "BENCHMARKS.md does not show {name}");
    }
}
