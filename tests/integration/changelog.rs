//! The Debian changelog that `scripts/package.sh` ships (`changelog.Debian.gz`, without which
//! lintian reports `no-changelog`): `scripts/debian-changelog.sh` turns `CHANGELOG.md` (Keep a
//! Changelog) into entries that dpkg's own parser reads without a warning, with the package's
//! version and maintainer from Cargo.toml; a `CHANGELOG.md` whose newest release is not that
//! version, or has no date, stops it with an error. The installed file is checked by the
//! package test. `scripts/release.sh` checks the same file in the Keep a Changelog form, refuses
//! a version without its dated entry before building anything, and otherwise builds the
//! package and prints its SHA-256.

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

/// `SCRIPT ARGS` with bash: exit status, stdout, stderr.
fn run_script(script: &Path, args: &[&std::ffi::OsStr]) -> (bool, String, String) {
    let out = Command::new("bash").arg(script).args(args).output().expect("run the script");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn release_refuses_a_version_without_a_dated_changelog_entry_and_builds_nothing() {
    // A tree of its own (the release scripts, Cargo.toml, a CHANGELOG.md), so the refusal is
    // shown in the building mode: nothing may be built there.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = TempDir::new("release");
    std::fs::create_dir(tmp.path().join("scripts")).expect("mkdir scripts");
    for script in ["release.sh", "package.sh", "debian-changelog.sh"] {
        std::fs::copy(root.join("scripts").join(script), tmp.path().join("scripts").join(script)).expect("copy");
    }
    let manifest = shipped("Cargo.toml");
    let source = shipped("CHANGELOG.md");
    let version = env!("CARGO_PKG_VERSION");
    std::fs::write(tmp.path().join("Cargo.toml"), &manifest).expect("write Cargo.toml");
    let release = tmp.path().join("scripts/release.sh");

    // The version's section named as unreleased work instead: no entry for the version.
    let heading = source.lines().find(|l| l.starts_with(&format!("## [{version}] - "))).expect("the version's section");
    let unreleased = source.replacen("## [Unreleased]\n", "", 1).replacen(heading, "## [Unreleased]", 1);
    std::fs::write(tmp.path().join("CHANGELOG.md"), unreleased).expect("write a changelog");
    let (ok, stdout, stderr) = run_script(&release, &[]);
    let expected = format!("`CHANGELOG.md` has no entry for `{version}` (the version in `Cargo.toml`)");
    assert!(!ok && stderr.contains(&expected) && stderr.contains("nothing was built"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(!stderr.contains("==> building") && !tmp.path().join("target").exists(), "it built: {stderr}");

    // A section without its date, and one kind of change that Keep a Changelog does not have.
    std::fs::write(tmp.path().join("CHANGELOG.md"), source.replacen(heading, &format!("## [{version}]"), 1))
        .expect("write a changelog");
    let (ok, _, stderr) = run_script(&release, &[]);
    let expected = format!("a release heading is `## [X.Y.Z] - YYYY-MM-DD`, not `## [{version}]`");
    assert!(!ok && stderr.contains(&expected), "{stderr}");
    std::fs::write(tmp.path().join("CHANGELOG.md"), source.replacen("### Fixed", "### Fixes", 1))
        .expect("write a changelog");
    let (ok, _, stderr) = run_script(&release, &[]);
    assert!(
        !ok && stderr.contains("one of Added, Changed, Deprecated, Removed, Fixed, Security, not `Fixes`"),
        "{stderr}"
    );
    assert!(!tmp.path().join("target").exists(), "it built: {stderr}");

    // The tree's own changelog passes the checks.
    let (ok, _, stderr) = run_script(&root.join("scripts/release.sh"), &["--check".as_ref()]);
    assert!(ok, "release.sh --check: {stderr}");
    assert!(stderr.contains(&format!("CHANGELOG.md: {version} of ")), "{stderr}");
}

#[test]
fn release_builds_the_package_and_prints_its_sha256() {
    require_program("dpkg-deb", "dpkg").expect("the release test needs dpkg");
    let sha256sum = require_program("sha256sum", "coreutils").expect("the release test needs sha256sum");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A directory of its own for the .deb, so the package test's file is never rewritten
    // under it (scripts/test.sh builds that one first, and this build reuses its binary).
    let tmp = TempDir::new("release-deb");
    let (ok, stdout, stderr) =
        run_script(&root.join("scripts/release.sh"), &["--output".as_ref(), tmp.path().as_os_str()]);
    assert!(ok, "release.sh: {stderr}");
    // One line on stdout, as sha256sum writes it: `HASH  PATH`.
    let line = stdout.trim_end();
    assert_eq!(line.lines().count(), 1, "{stdout}");
    let (hash, deb) = line.split_once("  ").expect("`HASH  PATH`");
    assert!(hash.len() == 64 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{line}");
    let deb = Path::new(deb);
    assert_eq!(deb.parent(), Some(tmp.path()), "{line}");
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        deb.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("ddns-cgi_{version}-1_"))),
        "{line}"
    );
    // The checksum is the file's: sha256sum reads the line back.
    let mut check = Command::new(sha256sum)
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sha256sum");
    if let Some(mut input) = check.stdin.take() {
        input.write_all(stdout.as_bytes()).expect("write the line");
    }
    let out = check.wait_with_output().expect("wait for sha256sum");
    assert!(out.status.success(), "sha256sum -c: {}", String::from_utf8_lossy(&out.stdout));
    let field = Command::new("dpkg-deb").arg("-f").arg(deb).arg("Version").output().expect("run dpkg-deb");
    assert_eq!(String::from_utf8_lossy(&field.stdout).trim(), format!("{version}-1"));
    assert!(stderr.contains(&format!("==> ddns-cgi {version}: ")), "{stderr}");
}
