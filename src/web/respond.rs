//! The console's answers: a rendered page, a redirect, an error page or a static file, each
//! with the security headers every console answer carries. The Content-Security-Policy allows
//! only the console's own stylesheets and no script at all (`default-src 'none'`, no
//! `unsafe-inline`), forms only to itself, and no framing; pages with data are never cached.

use askama::Template;

use super::Ctx;
use super::assets::{self, CONSOLE_CSS, PICO_CSS};
use super::pages::{Layout, MessagePage};
use super::session::Session;
use crate::reply::Reply;

/// `img-src data:`: Pico's form controls draw their marks with `data:` SVG in the stylesheet.
pub(super) const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

/// The headers of every console answer.
fn security_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Content-Security-Policy", CSP.to_owned()),
        ("X-Content-Type-Options", "nosniff".to_owned()),
        ("Referrer-Policy", "no-referrer".to_owned()),
        ("X-Frame-Options", "DENY".to_owned()),
        ("Cross-Origin-Opener-Policy", "same-origin".to_owned()),
        ("Cross-Origin-Resource-Policy", "same-origin".to_owned()),
    ]
}

/// The frame of a page for `session` (or none: the login and invitation pages).
pub(super) fn layout(ctx: &Ctx<'_>, session: Option<&Session>, title: &str) -> Layout {
    Layout {
        title: title.to_owned(),
        base: ctx.base.clone(),
        css: PICO_CSS.name,
        console_css: CONSOLE_CSS.name,
        user: session.map(|s| s.found.user.name.clone()),
        admin: session.is_some_and(|s| s.found.user.admin),
        csrf: session.map(Session::csrf).unwrap_or_default(),
        notice: None,
    }
}

/// A rendered page with `status`.
pub(super) fn page(status: u16, template: &impl Template) -> Reply {
    let body = match template.render() {
        Ok(body) => body,
        // Rendering fails only on a formatting error of our own types.
        Err(_) => return plain(500, "the page could not be rendered\n"),
    };
    let mut headers = security_headers();
    headers.push(("Content-Type", "text/html; charset=utf-8".to_owned()));
    headers.push(("Cache-Control", "no-store".to_owned()));
    headers.push(("Content-Length", body.len().to_string()));
    Reply { status, headers, body }
}

/// `303 See Other` to `to` below the console (after a form, so a reload does not post again).
pub(super) fn redirect(ctx: &Ctx<'_>, to: &str) -> Reply {
    redirect_with(ctx, to, None)
}

/// As [`redirect`], also setting a cookie.
pub(super) fn redirect_with(ctx: &Ctx<'_>, to: &str, cookie: Option<String>) -> Reply {
    let mut headers = security_headers();
    headers.push(("Location", format!("{}{to}", ctx.base)));
    headers.push(("Cache-Control", "no-store".to_owned()));
    if let Some(cookie) = cookie {
        headers.push(("Set-Cookie", cookie));
    }
    headers.push(("Content-Length", "0".to_owned()));
    Reply { status: 303, headers, body: String::new() }
}

/// An error page with `status`.
pub(super) fn error(ctx: &Ctx<'_>, status: u16, title: &str, message: &str) -> Reply {
    let back = Some(format!("{}/hosts", ctx.base));
    page(status, &MessagePage { layout: layout(ctx, None, title), message: message.to_owned(), back })
}

/// The 404 of a page that does not exist, or is not the user's: the two look the same.
pub(super) fn not_found(ctx: &Ctx<'_>, session: Option<&Session>) -> Reply {
    let back = Some(format!("{}/hosts", ctx.base));
    let message = "There is no such page.".to_owned();
    page(404, &MessagePage { layout: layout(ctx, session, "Not found"), message, back })
}

/// A static file, cached for a year (its name changes with its content).
pub(super) fn asset(name: &str) -> Reply {
    let Some(asset) = assets::find(name) else { return plain(404, "not found\n") };
    let mut headers = security_headers();
    headers.push(("Content-Type", asset.content_type.to_owned()));
    headers.push(("Cache-Control", "public, max-age=31536000, immutable".to_owned()));
    headers.push(("Content-Length", asset.body.len().to_string()));
    Reply { status: 200, headers, body: asset.body.to_owned() }
}

fn plain(status: u16, body: &str) -> Reply {
    let mut headers = security_headers();
    headers.push(("Content-Type", "text/plain; charset=utf-8".to_owned()));
    headers.push(("Cache-Control", "no-store".to_owned()));
    headers.push(("Content-Length", body.len().to_string()));
    Reply { status, headers, body: body.to_owned() }
}
