//! The web console in a real browser: Debian's headless `chromium` driven over WebDriver
//! (`util::browser`), through the shipped web-server files, against a real Knot. `harness`
//! proves the browser harness itself on static pages.

mod harness;
