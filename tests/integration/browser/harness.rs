//! The browser harness proves itself on static pages served by the harness's nginx: axe-core
//! reports a page with a deliberate serious violation and passes a clean one, the browser's
//! console errors are read (a stylesheet that failed to load, an inline style the page's
//! Content-Security-Policy refused), a browser with JavaScript off runs no page script (while
//! WebDriver's own scripts still run), and the two window sizes are what the screenshots
//! claim.

use std::panic::AssertUnwindSafe;

use crate::util::TempDir;
use crate::util::browser::{Driver, Js, Size};
use crate::util::web::{WebServer, give_to_web_user};

/// A page axe finds nothing serious on: a language, a title, a landmark, a heading, a
/// labelled field and text of enough contrast.
const CLEAN: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Clean</title></head>
<body><main><h1>Clean page</h1>
<form><label for="name">Name</label> <input id="name" name="name"> <button>Send</button></form>
<p style="color:#222;background:#fff">Readable text.</p></main></body></html>
"#;

/// The same page with two deliberate violations: light grey text on white (color-contrast,
/// serious) and a button with no text (button-name, critical).
const BROKEN: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Broken</title></head>
<body><main><h1>Broken page</h1>
<p style="color:#ccc;background:#fff">Hard to read.</p>
<button id="mute"></button></main></body></html>
"#;

/// A page whose script would change the text and add an element.
const SCRIPTED: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Scripted</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><main><h1>Scripted page</h1><p id="state">static</p>
<script>
document.getElementById('state').textContent = 'script ran';
const made = document.createElement('p'); made.id = 'made-by-script'; document.body.append(made);
window.ranScript = true;
</script></main></body></html>
"#;

/// A page whose stylesheet is not there and whose policy refuses its inline style: the
/// browser logs both.
const MISSING: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Missing</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'self'">
<link rel="stylesheet" href="/nowhere.css"></head>
<body><main><h1 style="color:#222">Missing</h1></main></body></html>
"#;

#[test]
fn axe_javascript_off_and_window_sizes_work_as_the_console_tests_rely_on() {
    let Some(mut driver) = Driver::start() else { return };
    let dir = TempDir::new("browser-harness");
    let Some(web) = WebServer::start_static(dir.path()) else { return };
    let pages =
        [("clean.html", CLEAN), ("broken.html", BROKEN), ("scripted.html", SCRIPTED), ("missing.css.html", MISSING)];
    for (name, page) in pages {
        std::fs::write(dir.path().join("site").join(name), page).expect("write page");
    }
    give_to_web_user(dir.path());

    let on = driver.browser(Js::On, Size::Desktop);
    on.goto(&web.url("/clean.html"));
    assert_eq!(on.title(), "Clean");
    assert_eq!(on.axe_violations(), Vec::new(), "the clean page has no violation at all");
    on.axe("the clean page");

    on.goto(&web.url("/broken.html"));
    let mut found: Vec<(String, String)> = on.axe_violations().into_iter().map(|v| (v.id, v.impact)).collect();
    found.sort();
    assert_eq!(
        found,
        [("button-name".to_owned(), "critical".to_owned()), ("color-contrast".to_owned(), "serious".to_owned())]
    );
    let failed = std::panic::catch_unwind(AssertUnwindSafe(|| on.axe("the broken page")));
    let message = failed.expect_err("serious violations fail the check");
    let text = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(text.contains("2 serious or critical violation(s) on the broken page"), "{text}");
    assert!(text.contains("color-contrast (serious)") && text.contains("#mute"), "{text}");

    on.goto(&web.url("/missing.css.html"));
    let errors = on.console_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("nowhere.css") && e.contains("404")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("Content Security Policy")), "{errors:?}");
    on.goto(&web.url("/scripted.html"));
    assert_eq!(on.console_errors(), Vec::<String>::new());
    assert_eq!(on.text("#state"), "script ran");
    assert!(on.has("#made-by-script"));
    assert_eq!(on.script("return window.innerWidth;", vec![]), 1280);

    let mut off = driver.browser(Js::Off, Size::Phone);
    // A phone's browser lays out a page without `<meta name="viewport">` 980 pixels wide.
    off.goto(&web.url("/broken.html"));
    assert_eq!(off.script("return window.innerWidth;", vec![]), 980);
    off.goto(&web.url("/scripted.html"));
    assert_eq!(off.text("#state"), "static", "a page script ran with JavaScript off");
    assert!(!off.has("#made-by-script"));
    // The driver's own scripts run: the check and the screenshots rely on them.
    assert_eq!(
        off.script("return [window.ranScript === undefined, window.innerWidth];", vec![]),
        serde_json::json!([true, 390])
    );
    off.axe("the scripted page with JavaScript off");
    off.resize(Size::Desktop);
    assert_eq!(off.script("return window.innerWidth;", vec![]), 1280);

    let shot = std::env::temp_dir().join("browser-harness-shot.png");
    off.screenshot(&shot);
    let png = std::fs::read(&shot).expect("read screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}
