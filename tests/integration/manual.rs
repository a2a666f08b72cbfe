//! The manual pages and shell completions as a user gets them: written by the binary without
//! any config, rendered by groff with every warning on, and completions run by the real
//! bash, fish and zsh. What the pages contain (every command, option, key and answer) is
//! checked by the unit tests in `src/manual.rs`.

use std::path::Path;
use std::process::Command;

use crate::util::dnsserver::require_program;
use crate::util::{TempDir, bin};

/// Runs the binary with an empty environment and no config file anywhere.
fn run(args: &[&str], dir: &Path) -> std::process::Output {
    let out = Command::new(bin())
        .env_clear()
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ddns-cgi {args:?}: {e}"));
    assert!(
        out.status.success(),
        "ddns-cgi {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `man ./ddns-cgi.8` shows no warning: groff with all warnings (`-ww`) prints nothing.
#[test]
fn man_pages_render_without_warnings() {
    let Some(groff) = require_program("groff", "groff-base") else { return };
    let dir = TempDir::new("man");
    let out_dir = dir.path().join("man");
    let out = run(&["manpage", "--out", &out_dir.display().to_string()], dir.path());
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    for page in ["ddns-cgi.8", "ddns-cgi.toml.5"] {
        let path = out_dir.join(page);
        assert!(listed.contains(&path.display().to_string()), "{listed}");
        let r = Command::new(&groff).args(["-ww", "-z", "-man", "-Tutf8"]).arg(&path).output().expect("run groff");
        assert!(r.status.success(), "groff failed on {page}");
        assert_eq!(String::from_utf8_lossy(&r.stderr), "", "groff warns about {page}");
        // And it renders to the text a reader sees.
        let text = Command::new(&groff).args(["-man", "-Tutf8", "-P-cbou"]).arg(&path).output().expect("run groff");
        let text = String::from_utf8_lossy(&text.stdout);
        let expected = if page.ends_with(".8") { "ddns-cgi hostname token" } else { "busy_timeout_ms = integer" };
        assert!(text.contains(expected), "{page} lacks `{expected}`:\n{text}");
    }
}

/// bash completes subcommands and options with the generated script.
#[test]
fn bash_completes_commands_and_options() {
    let dir = TempDir::new("bash-completion");
    let script = dir.path().join("ddns-cgi.bash");
    std::fs::write(&script, run(&["completions", "bash"], dir.path()).stdout).expect("write script");
    let complete = |line: &str| {
        let words: Vec<&str> = line.split(' ').collect();
        let program = format!(
            "source {}\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n\
             _ddns__cgi ddns-cgi {} {}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            script.display(),
            words.join(" "),
            words.len() - 1,
            words.last().unwrap_or(&""),
            words.get(words.len().wrapping_sub(2)).unwrap_or(&""),
        );
        let out = Command::new("bash").args(["--norc", "--noprofile", "-c", &program]).output().expect("run bash");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(complete("ddns-cgi hostname to"), "token\n");
    assert_eq!(complete("ddns-cgi hostname token --re"), "--revoke\n");
    assert_eq!(complete("ddns-cgi completions z"), "zsh\n");
}

/// fish completes with the generated script (`complete --do-complete` asks fish itself).
#[test]
fn fish_completes_commands() {
    let Some(fish) = require_program("fish", "fish") else { return };
    let dir = TempDir::new("fish-completion");
    let script = dir.path().join("ddns-cgi.fish");
    std::fs::write(&script, run(&["completions", "fish"], dir.path()).stdout).expect("write script");
    let program = format!("source {}; complete --do-complete 'ddns-cgi hostname to'", script.display());
    let out = Command::new(fish).args(["--no-config", "-c", &program]).env("HOME", dir.path()).output().expect("fish");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with("token\tCreate a token"), "{stdout}");
}

/// zsh accepts the generated script (`zsh -n` parses without running); it is a `#compdef`
/// file for `ddns-cgi`.
#[test]
fn zsh_script_parses() {
    let Some(zsh) = require_program("zsh", "zsh") else { return };
    let dir = TempDir::new("zsh-completion");
    let script = dir.path().join("_ddns-cgi");
    let text = run(&["completions", "zsh"], dir.path()).stdout;
    assert!(text.starts_with(b"#compdef ddns-cgi\n"), "{}", String::from_utf8_lossy(&text));
    std::fs::write(&script, text).expect("write script");
    let out = Command::new(zsh).args(["-f", "-n"]).arg(&script).output().expect("run zsh");
    assert!(out.status.success(), "zsh -n: {}", String::from_utf8_lossy(&out.stderr));
}
