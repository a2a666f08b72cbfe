//! The accessibility check: axe-core, vendored at a pinned version under
//! `tests/fixtures/axe-core/` (with its licence), injected into the page as WebDriver's own
//! script. That runs whether or not the page may run scripts, and past the page's
//! Content-Security-Policy, which governs the page's scripts and not the driver's; so the
//! check sees the page exactly as served, with nothing added to it by the server. With the
//! page's scripts off, timers do not fire, so axe's are turned into promise reactions first.
//!
//! A violation of impact "serious" or "critical" fails the test with the rule, its help text
//! and the elements concerned; milder ones ("moderate", "minor") are returned to the caller.

use serde_json::Value;

use super::{Browser, Js};

/// axe-core's source, as the npm package ships `axe.min.js`.
const AXE: &str = include_str!("../../../fixtures/axe-core/axe.min.js");
/// The version pinned (the fixture's README names it too).
pub const AXE_VERSION: &str = "4.14.1";

/// One rule axe found broken on a page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule, e.g. `color-contrast`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: String,
    pub help: String,
    /// Each element concerned: its CSS path and its opening HTML.
    pub nodes: Vec<String>,
}

impl Violation {
    /// Whether this violation fails the test.
    pub fn fails(&self) -> bool {
        matches!(self.impact.as_str(), "serious" | "critical")
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} ({}): {}", self.id, self.impact, self.help)?;
        for node in &self.nodes {
            writeln!(f, "    {node}")?;
        }
        Ok(())
    }
}

/// Runs axe on the page the browser shows and returns every violation.
#[track_caller]
pub fn run(browser: &Browser) -> Vec<Violation> {
    assert!(AXE.starts_with(&format!("/*! axe v{AXE_VERSION}")), "tests/fixtures/axe-core is not axe {AXE_VERSION}");
    if browser.js == Js::Off {
        // With the page's scripts off, Chromium runs the driver's scripts and their promise
        // reactions, but neither timers nor `queueMicrotask`, and axe schedules its work with
        // zero-delay timers. Those become promise reactions on this page (which ran no script
        // of its own, so nothing else notices); longer ones are axe's time-outs for frames
        // that never answer, and never fire.
        browser.script(
            "const soon = (f) => { Promise.resolve().then(f); };\n\
             window.queueMicrotask = soon;\n\
             window.setTimeout = (f, ms, ...args) => { if (!(ms > 100)) soon(() => f(...args)); return 0; };\n\
             window.clearTimeout = () => {};",
            vec![],
        );
    }
    // Injected once per page: a new page has a new `window`.
    let inject = format!("if (!window.axe) {{\n{AXE}\n}}\nreturn window.axe ? window.axe.version : null;");
    let version = browser.script(&inject, vec![]);
    assert_eq!(version.as_str(), Some(AXE_VERSION), "axe did not load into {}", browser.url());
    // Serialised to one JSON string in the page: axe's result objects hold DOM nodes, which
    // WebDriver would otherwise try to turn into element references.
    let answer = browser.script_async(
        r#"
        const done = arguments[arguments.length - 1];
        window.axe.run(document, { resultTypes: ['violations'] }).then(
          (r) => done(JSON.stringify({
            passes: r.passes.length,
            violations: r.violations.map((v) => ({
              id: v.id,
              impact: v.impact || 'unknown',
              help: v.help,
              nodes: v.nodes.map((n) => n.target.join(' ') + '  ' + n.html.slice(0, 200)),
            })),
          })),
          (e) => done(JSON.stringify({ error: String(e) })),
        );
        "#,
        vec![],
    );
    let text = answer.as_str().unwrap_or_else(|| panic!("axe answered {answer}"));
    let result: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("axe's answer `{text}`: {e}"));
    if let Some(error) = result.get("error") {
        panic!("axe failed on {}: {error}", browser.url());
    }
    // A page on which no rule passed was not checked (an empty or unloaded document).
    assert!(result["passes"].as_u64().unwrap_or(0) > 0, "axe checked nothing on {}: {text}", browser.url());
    let list = result["violations"].as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|v| Violation {
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            impact: v["impact"].as_str().unwrap_or_default().to_owned(),
            help: v["help"].as_str().unwrap_or_default().to_owned(),
            nodes: v["nodes"]
                .as_array()
                .map(|n| n.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// Runs axe and fails on serious or critical violations; returns the milder ones.
#[track_caller]
pub fn check(browser: &Browser, what: &str) -> Vec<Violation> {
    let (failing, mild): (Vec<Violation>, Vec<Violation>) = run(browser).into_iter().partition(Violation::fails);
    if !failing.is_empty() {
        let list: String = failing.iter().map(ToString::to_string).collect();
        panic!(
            "axe {AXE_VERSION} found {} serious or critical violation(s) on {what} ({}, {:?}, {:?}):\n{list}",
            failing.len(),
            browser.path(),
            browser.size,
            browser.js
        );
    }
    mild
}
