//! The benchmark's charts in the documents (`docs/src/images/bench-*.svg`, which BENCHMARKS.md
//! and the book show) are what `scripts/charts.sh` draws from the newest recorded run's data
//! (`benches/history/DATE.tsv`): the same texts, which hold every title, label, figure and
//! ratio, so a chart cannot drift from its data, and none is left over from an older set.
//! BENCHMARKS.md shows each of them. Compared by text rather than byte for byte, so another
//! gnuplot's drawing does not fail it. The storm's chart, which no recorded run has yet, is
//! drawn from rows in the shape `scripts/bench.sh` writes them.

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

#[test]
fn the_storm_chart_sets_each_store_and_server_beside_the_servers_own_rate() {
    require_program("gnuplot", "gnuplot-nox").expect("the charts test needs gnuplot");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = TempDir::new("storm-chart");
    // Rows as scripts/bench.sh writes them: the storm's rates by connections, their other
    // measures (not drawn), and the servers' own rates from as many clients and from 8.
    let mut rows = String::from("meta\tstorm_hosts\t10000\nmeta\tstorm_rounds\t3\nmeta\tmode\tfull\n");
    for (target, c256, c1024) in [
        ("sqlite-knot", 910, 1130),
        ("postgres-knot", 520, 470),
        ("sqlite-bind", 720, 810),
        ("postgres-bind", 430, 440),
    ] {
        rows += &format!(
            "storm\tstorm-{target}-c256\t{c256}\tupdates/s\nstorm\tstorm-{target}-c1024\t{c1024}\tupdates/s\n"
        );
        rows += &format!(
            "storm\tstorm-{target}-c256-max\t6300\tms\nstorm\tstorm-{target}-c256-hosts-per-message\t13.5\thosts\n"
        );
    }
    rows += "limit\tlimit-knot-c256-h1-udp\t8100\tupdates/s\nlimit\tlimit-knot-c1024-h1-udp\t9200\tupdates/s\n";
    rows += "limit\tlimit-bind-c256-h1-udp\t3100\tupdates/s\nlimit\tlimit-bind-c1024-h1-udp\t2600\tupdates/s\n";
    rows += "limit\tlimit-knot-c8-h1-udp\t5000\tupdates/s\n";
    let data = tmp.path().join("results.tsv");
    std::fs::write(&data, rows).expect("write the rows");

    let out = Command::new("bash")
        .arg(root.join("scripts/charts.sh"))
        .arg(&data)
        .arg(tmp.path())
        .output()
        .expect("run charts.sh");
    assert!(out.status.success(), "charts.sh: {}", String::from_utf8_lossy(&out.stderr));
    let svg = std::fs::read_to_string(tmp.path().join("bench-storm.svg")).expect("bench-storm.svg is drawn");
    let texts = texts(&svg);
    for want in [
        "The storm: 10000 hosts, each its own token, 3 new addresses each",
        "ddns-cgi, SQLite, Knot",
        "ddns-cgi, PostgreSQL, Knot",
        "ddns-cgi, SQLite, BIND",
        "ddns-cgi, PostgreSQL, BIND",
        "Knot alone, one host a message",
        "BIND alone, one host a message",
        "256",
        "1024",
        "1130",
        "430",
        "9200",
        "2600",
    ] {
        assert!(texts.iter().any(|t| t.trim() == want), "`{want}` not in the storm chart: {texts:?}");
    }
    // The 8-client limit is not the storm's: no point at 8 connections, no 5000.
    assert!(!texts.iter().any(|t| t.trim() == "5000" || t.trim() == "8"), "{texts:?}");
    assert!(!texts.iter().any(|t| t.trim() == "6300" || t.trim() == "13.5"), "{texts:?}");
}
