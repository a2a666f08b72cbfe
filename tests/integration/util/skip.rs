//! What a test does when a program it drives (a DNS server, a web server, a client) is not
//! installed. The suite needs the real programs: by default a missing one is a test failure
//! naming the Debian package to install. Only the explicit opt-out `DDNS_SKIP_SERVERS=1`
//! turns it into a skip, and every skip is then written straight to the process's stderr,
//! which the test runner does not capture (it captures only `print!`/`eprint!`), with the
//! test's name and a running count, so a run that skipped cannot pass for a run that tested.
//!
//! Boolean variables are parsed one way for every variable the harness reads: `1`, `true`,
//! `yes` are on, `0`, `false`, `no` and the empty string are off (ASCII case ignored), and
//! anything else fails the test with a message naming the variable and the value.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The opt-out: tests whose programs are missing skip (visibly) instead of failing.
pub const SKIP_VAR: &str = "DDNS_SKIP_SERVERS";
/// The former switch, still accepted when it asks for what is now the default.
pub const REQUIRE_VAR: &str = "DDNS_REQUIRE_SERVERS";

/// Whether a missing program fails the test or skips it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Servers {
    /// The default: a missing program fails the test.
    Required,
    /// `DDNS_SKIP_SERVERS=1`: a missing program skips the test, reported on stderr.
    MaySkip,
}

/// Parses a boolean variable; `None` when it is not set at all.
pub fn parse_flag(name: &str, value: Option<&OsStr>) -> Result<Option<bool>, String> {
    let Some(value) = value else { return Ok(None) };
    let Some(text) = value.to_str() else {
        return Err(format!("`{name}` must be 1/true/yes or 0/false/no, got `{}`", value.to_string_lossy()));
    };
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok(Some(true)),
        "" | "0" | "false" | "no" => Ok(Some(false)),
        _ => Err(format!("`{name}` must be 1/true/yes or 0/false/no (or empty), got `{text}`")),
    }
}

/// The policy from the two variables' values (`None`: not set).
pub fn policy_from(require: Option<&OsStr>, skip: Option<&OsStr>) -> Result<Servers, String> {
    let require = parse_flag(REQUIRE_VAR, require)?;
    let skip = parse_flag(SKIP_VAR, skip)?;
    match (require, skip) {
        (Some(true), Some(true)) => {
            Err(format!("`{REQUIRE_VAR}` and `{SKIP_VAR}` are both on; they contradict each other, unset one"))
        }
        // `DDNS_REQUIRE_SERVERS=0` used to mean "skip quietly"; it must not now silently mean
        // "require" either, so it is refused with the new spelling.
        (Some(false), skip) if skip != Some(true) => Err(format!(
            "`{REQUIRE_VAR}` is off, but the servers are required by default now; set `{SKIP_VAR}=1` to skip the tests whose programs are missing"
        )),
        (_, Some(true)) => Ok(Servers::MaySkip),
        (_, Some(false) | None) => Ok(Servers::Required),
    }
}

/// The policy of this run, read once from the environment. An invalid value fails every
/// test that asks, not only those that miss a program.
#[track_caller]
pub fn policy() -> Servers {
    static POLICY: OnceLock<Result<Servers, String>> = OnceLock::new();
    let policy = POLICY
        .get_or_init(|| policy_from(std::env::var_os(REQUIRE_VAR).as_deref(), std::env::var_os(SKIP_VAR).as_deref()));
    match policy {
        Ok(p) => *p,
        Err(e) => panic!("{e}"),
    }
}

/// How many tests skipped so far in this process.
static N_SKIPPED: AtomicU64 = AtomicU64::new(0);

/// A test needs `program` (Debian package `package`) and it is missing: panics with the
/// install hint, or under the opt-out reports the skip and returns `None`.
#[track_caller]
pub fn missing(program: &str, package: &str) -> Option<PathBuf> {
    missing_under(policy(), program, package)
}

#[track_caller]
fn missing_under(policy: Servers, program: &str, package: &str) -> Option<PathBuf> {
    match policy {
        Servers::Required => panic!(
            "{}; the tests drive the real programs (set {SKIP_VAR}=1 to skip such tests instead)",
            hint(program, package)
        ),
        Servers::MaySkip => {
            let n = N_SKIPPED.fetch_add(1, Ordering::Relaxed) + 1;
            // The test runner names each test's thread after the test.
            let thread = std::thread::current();
            let line = skip_line(n, thread.name().unwrap_or("?"), program, package);
            // A direct write, not `eprintln!`: the runner captures the macros, not the stream.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
            None
        }
    }
}

fn hint(program: &str, package: &str) -> String {
    format!("`{program}` is not installed: apt-get install {package} (or run scripts/install-deps.sh)")
}

fn skip_line(n: u64, test: &str, program: &str, package: &str) -> String {
    format!("SKIPPED #{n}: {test}: {}; {SKIP_VAR} is on, so this test checked nothing\n", hint(program, package))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn flag(value: &str, expected: Result<Option<bool>, ()>) {
        let got = parse_flag("X", Some(OsStr::new(value))).map_err(|_| ());
        assert_eq!(got, expected, "{value:?}");
    }

    #[test]
    fn flags_mean_the_same_in_every_spelling() {
        for on in ["1", "true", "TRUE", "True", "yes", "YES", "Yes"] {
            flag(on, Ok(Some(true)));
        }
        for off in ["", "0", "false", "FALSE", "no", "No"] {
            flag(off, Ok(Some(false)));
        }
        for bad in ["2", "on", "off", "y", "n", " 1", "1 ", "truee", "-1", "ja"] {
            flag(bad, Err(()));
        }
        assert_eq!(parse_flag("X", None), Ok(None));
        let err = parse_flag("DDNS_SKIP_SERVERS", Some(OsStr::new("maybe"))).expect_err("invalid");
        assert_eq!(err, "`DDNS_SKIP_SERVERS` must be 1/true/yes or 0/false/no (or empty), got `maybe`");
    }

    #[test]
    fn servers_are_required_unless_skipping_is_asked_for() {
        let p = |require: Option<&str>, skip: Option<&str>| {
            policy_from(require.map(OsStr::new), skip.map(OsStr::new)).map_err(|e| {
                assert!(e.contains('`'), "{e}");
            })
        };
        assert_eq!(p(None, None), Ok(Servers::Required));
        assert_eq!(p(Some("1"), None), Ok(Servers::Required));
        assert_eq!(p(Some("yes"), None), Ok(Servers::Required));
        assert_eq!(p(Some("True"), Some("0")), Ok(Servers::Required));
        assert_eq!(p(None, Some("")), Ok(Servers::Required));
        assert_eq!(p(None, Some("no")), Ok(Servers::Required));
        assert_eq!(p(None, Some("1")), Ok(Servers::MaySkip));
        assert_eq!(p(None, Some("YES")), Ok(Servers::MaySkip));
        assert_eq!(p(Some("0"), Some("true")), Ok(Servers::MaySkip));
        // Contradictions and the old "0 means skip" are refused, never guessed.
        assert_eq!(p(Some("1"), Some("1")), Err(()));
        assert_eq!(p(Some("0"), None), Err(()));
        assert_eq!(p(Some("false"), Some("no")), Err(()));
        assert_eq!(p(Some("2"), None), Err(()));
        assert_eq!(p(None, Some("skip")), Err(()));
    }

    #[test]
    fn a_missing_program_fails_by_default_and_names_the_package() {
        let caught = std::panic::catch_unwind(|| missing_under(Servers::Required, "no-such-knotd", "knot"));
        let message = caught.expect_err("a missing program must fail the test");
        let text = message.downcast_ref::<String>().map(String::as_str).unwrap_or("");
        assert_eq!(
            text,
            "`no-such-knotd` is not installed: apt-get install knot (or run scripts/install-deps.sh); the tests drive the real programs (set DDNS_SKIP_SERVERS=1 to skip such tests instead)"
        );
        assert_eq!(
            skip_line(3, "admin::user_commands", "knotd", "knot"),
            "SKIPPED #3: admin::user_commands: `knotd` is not installed: apt-get install knot (or run scripts/install-deps.sh); DDNS_SKIP_SERVERS is on, so this test checked nothing\n"
        );
    }

    #[test]
    fn this_run_has_a_valid_policy() {
        // Fails the run on an invalid value even when every program is installed.
        policy();
    }
}
