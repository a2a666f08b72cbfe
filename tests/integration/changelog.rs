//! The Debian changelog that `scripts/package.sh` ships (`changelog.Debian.gz`, without which
//! lintian reports `no-changelog`): `scripts/debian-changelog.sh` turns `CHANGELOG.md` (Keep a
//! Changelog) into entries that dpkg's own parser reads without a warning, with the package's
//! version and maintainer from Cargo.toml; a `CHANGELOG.md` whose newest release is not that
//! version, or has no date, stops it with an error. The installed file is checked by the
//! package test.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::util::TempDir;
use crate::util::dnsserver::require_program;
use crate::util::web::shipped;

/// `scripts/debian-changelog.sh ARGS`: exit status, stdout, stderr.
fn generate(args: &[&Path]) -> (bool, String, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/debian-changelog.sh");
    let out = Command::new("bash").arg(script).args(args).output().expect("run debian-changelog.sh");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// `dpkg-parsechangelog -l- ARGS` on `changelog`: stdout, and stderr (its warnings).
fn parse(changelog: &str, args: &[&str]) -> (String, String) {
    let program = require_program("dpkg-parsechangelog", "dpkg-dev").expect("the changelog test needs dpkg-dev");
    let mut child = Command::new(program)
        .arg("-l-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dpkg-parsechangelog");
    if let Some(mut input) = child.stdin.take() {
        input.write_all(changelog.as_bytes()).expect("write the changelog");
    }
    let out = child.wait_with_output().expect("wait for dpkg-parsechangelog");
    assert!(out.status.success(), "dpkg-parsechangelog: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).trim().to_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn debian_changelog_is_generated_from_changelog_md_with_the_package_version() {
    let (ok, changelog, stderr) = generate(&[]);
    assert!(ok, "debian-changelog.sh: {stderr}");
    let (_, warnings) = parse(&changelog, &["--all"]);
    assert_eq!(warnings, "", "dpkg-parsechangelog warned about:\n{changelog}");
    assert_eq!(parse(&changelog, &["-S", "Version"]).0, format!("{}-1", env!("CARGO_PKG_VERSION")));
    let manifest = shipped("Cargo.toml");
    let maintainer = manifest
        .lines()
        .find_map(|l| l.strip_prefix("maintainer = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("Cargo.toml's maintainer");
    assert_eq!(parse(&changelog, &["-S", "Maintainer"]).0, maintainer);
    for line in changelog.lines() {
        assert!(line.chars().count() <= 80, "a line over 80 columns: {line}");
    }
    // Every item of the released sections, and nothing of [Unreleased] (it has no version).
    let source = shipped("CHANGELOG.md");
    let released = &source[source.find("\n## [0").expect("a released section")..];
    let n_items = released.lines().filter(|l| l.starts_with("- ")).count();
    assert_eq!(changelog.lines().filter(|l| l.starts_with("  * ")).count(), n_items, "{changelog}");
    assert!(changelog.contains("  * Added: "), "{changelog}");

    // A release the package's version has no section for, and a release without a date.
    let tmp = TempDir::new("changelog");
    let broken = tmp.path().join("CHANGELOG.md");
    let bumped = source.replacen("\n## [0", "\n## [9.9.9] - 2026-12-08\n\n### Fixed\n\n- A bump.\n\n## [0", 1);
    std::fs::write(&broken, bumped).expect("write a changelog");
    let (ok, _, stderr) = generate(&[&broken]);
    let expected = format!("is `9.9.9`, expected `{}` (Cargo.toml's version)", env!("CARGO_PKG_VERSION"));
    assert!(!ok && stderr.contains(&expected), "{stderr}");
    let undated = source.replacen(" - 20", " - ", 1);
    std::fs::write(&broken, undated).expect("write a changelog");
    let (ok, _, stderr) = generate(&[&broken]);
    assert!(!ok && stderr.contains("has no date"), "{stderr}");
    // Two releases on one date (lintian's latest-changelog-entry-without-new-date): the older
    // is given the newer's date.
    let dates: Vec<&str> =
        source.lines().filter(|l| l.starts_with("## [0")).filter_map(|l| l.split(" - ").nth(1)).collect();
    assert!(dates.len() >= 2, "two releases to compare: {dates:?}");
    let same_day = source.replace(&format!(" - {}", dates[1]), &format!(" - {}", dates[0]));
    std::fs::write(&broken, same_day).expect("write a changelog");
    let (ok, _, stderr) = generate(&[&broken]);
    assert!(!ok && stderr.contains("not before the newer release"), "{stderr}");
}
