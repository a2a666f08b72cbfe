//! The web console: server-rendered pages under `[web] path` where users look after their own
//! hostnames and tokens, and admins after everyone's. `http::serve` hands it a request only
//! when its path is below `[web] path` ([`claims`]); nothing of it runs on the dyndns2 path,
//! and without `[web]` its paths are not claimed (dyndns2 answers 404).
//!
//! Every request passes [`handle`], which does what each page would otherwise have to
//! remember: it finds the session (`session`), refuses a POST without the session's anti-CSRF
//! token or from another site (403, nothing changed, logged), keeps state changes to POST,
//! and every answer gets the security headers (`respond`). The handlers (`login`, `hosts`,
//! `account`, `admin`) each take the checked request and return a page or a redirect; a host
//! that is not the user's answers as a missing one (404, `hosts::reachable`), and the admin
//! pages answer so to non-admins. The pages are askama templates (`pages`), which escape
//! everything by default; `recipes` and `timeline` (a new token's client settings, a host's
//! address changes as SVG) make their parts as text and SVG, escaped there. Every change goes through the functions the CLI and the
//! update path use (`update::console_change`, `Store::set_token`...), so there is no second
//! implementation of offline, tokens or passwords here. This module holds no SQL.

use std::net::IpAddr;

use crate::config::{Config, WebConfig};
use crate::log::Log;
use crate::reply::Reply;
use crate::request::{self, Env, Incoming};
use crate::store::{Store, StoreError};

mod account;
mod admin;
mod assets;
mod hosts;
mod login;
mod pages;
mod recipes;
mod respond;
mod session;
mod timeline;

use respond::{not_found, redirect};

/// Longest sub-path the console looks at; longer ones are unknown.
const MAX_PATH_BYTES: usize = 512;

/// Whether the request is the console's: its path is `[web] path` or below it. At `/`, only
/// the console's own first segments, so that the endpoints keep theirs.
pub(crate) fn claims(config: &Config, env: &Env) -> bool {
    let Some(web) = &config.web else { return false };
    sub_path(web, env).is_some()
}

/// The path below `[web] path` (`""`, `/`, `/hosts`...), from `SCRIPT_NAME` + `PATH_INFO`
/// (nginx's `fastcgi_params`, Apache's `ScriptAlias`) or `REQUEST_URI`.
fn sub_path(web: &WebConfig, env: &Env) -> Option<String> {
    let paths = [Some(request::request_path(env)), request::request_uri_path(env)];
    paths.into_iter().flatten().find_map(|path| {
        if path.len() > MAX_PATH_BYTES {
            return None;
        }
        if web.path == "/" {
            let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
            let ours = matches!(first, "" | "login" | "logout" | "hosts" | "account" | "admin" | "invite" | "static");
            return ours.then_some(path);
        }
        let rest = path.strip_prefix(&web.path)?;
        (rest.is_empty() || rest.starts_with('/')).then(|| rest.to_owned())
    })
}

/// What a handler gets: the request, checked, and where it came from.
struct Ctx<'a> {
    config: &'a Config,
    web: &'a WebConfig,
    env: &'a Env,
    now: i64,
    log: &'a Log,
    client: Option<IpAddr>,
    /// The base of every link: `[web] path`, or empty at `/`.
    base: String,
    /// The form's fields (POST), or empty.
    form: Vec<(String, String)>,
}

impl Ctx<'_> {
    fn field(&self, name: &str) -> &str {
        self.form.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }
}

/// What a request asks for, once its path is split.
#[derive(Debug, PartialEq, Eq)]
enum Route<'p> {
    Root,
    Static(&'p str),
    Login,
    Logout,
    Invite,
    Hosts,
    Host(&'p str),
    HostAction(&'p str, hosts::Action),
    Account,
    AccountAction(account::Action),
    Admin,
    AdminTab(admin::Tab),
    AdminAction(admin::Tab, &'p str),
    Unknown,
}

fn route(sub: &str) -> Route<'_> {
    let segments: Vec<&str> = sub.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => Route::Root,
        ["static", name] => Route::Static(name),
        ["login"] => Route::Login,
        ["logout"] => Route::Logout,
        ["invite"] => Route::Invite,
        ["hosts"] => Route::Hosts,
        ["hosts", fqdn] => Route::Host(fqdn),
        ["hosts", fqdn, action] => hosts::Action::parse(action).map_or(Route::Unknown, |a| Route::HostAction(fqdn, a)),
        ["account"] => Route::Account,
        ["admin"] => Route::Admin,
        ["admin", tab] => admin::Tab::parse(tab).map_or(Route::Unknown, Route::AdminTab),
        ["admin", tab, action] => admin::Tab::parse(tab).map_or(Route::Unknown, |t| Route::AdminAction(t, action)),
        ["account", action] => account::Action::parse(action).map_or(Route::Unknown, Route::AccountAction),
        _ => Route::Unknown,
    }
}

/// Answers a console request; `None` when the request is not the console's.
pub(crate) fn handle(config: &Config, store: &mut Store, req: &Incoming<'_>, log: &Log) -> Option<Reply> {
    let web = config.web.as_ref()?;
    let sub = sub_path(web, req.env)?;
    let method = request::method(req.env).to_owned();
    let base = if web.path == "/" { String::new() } else { web.path.clone() };
    let client = request::client(req.env, config).ip();
    let form = if method == "POST" { request::parse_form(req.body).unwrap_or_default() } else { Vec::new() };
    let ctx = Ctx { config, web, env: req.env, now: req.now, log, client, base, form };
    let reply = match answer(&ctx, store, &sub, &method) {
        Ok(reply) => reply,
        Err(e) => {
            log.error(format_args!("console: {method} {}: the database failed: {e}", log_path(&sub)));
            respond::error(
                &ctx,
                500,
                "Something went wrong",
                "The request could not be completed; nothing was changed. Try again later.",
            )
        }
    };
    log.info(format_args!(
        "console: {} {} client={} status={}",
        crate::log::bounded(&method, 16),
        log_path(&sub),
        client.map_or_else(|| "-".to_owned(), |c| c.to_string()),
        reply.status
    ));
    Some(reply)
}

/// The path for the log: bounded; the console puts no secret in a path (the invitation's
/// code is in the query string, which is not logged).
fn log_path(sub: &str) -> String {
    crate::log::bounded(sub, 256).into_owned()
}

fn answer(ctx: &Ctx<'_>, store: &mut Store, sub: &str, method: &str) -> Result<Reply, StoreError> {
    let route = route(sub);
    // Static files and the pages before a session: no session needed.
    match (&route, method) {
        (Route::Static(name), "GET" | "HEAD") => return Ok(respond::asset(name)),
        (Route::Login, "GET") => return login::form(ctx, store),
        (Route::Login, "POST") => return login::submit(ctx, store),
        (Route::Invite, "GET") => return login::invitation(ctx, store),
        (Route::Invite, "POST") => return login::redeem(ctx, store),
        _ => {}
    }
    let session = session::find(ctx, store)?;
    let Some(session) = session else {
        // A page asked for without a session goes to the login; a form post without one is
        // refused like one without its token.
        return Ok(match method {
            "POST" => refuse(ctx, "no session"),
            _ if route == Route::Unknown => not_found(ctx, None),
            _ => redirect(ctx, "/login"),
        });
    };
    if method == "POST" {
        if let Some(why) = session::forged(ctx, &session) {
            return Ok(refuse(ctx, why));
        }
    } else if method != "GET" && method != "HEAD" {
        return Ok(respond::error(ctx, 405, "Method not allowed", "Pages are read with GET and changed with a form."));
    }
    let reply = match (route, method) {
        (Route::Root, "GET" | "HEAD") => redirect(ctx, "/hosts"),
        (Route::Logout, "POST") => login::logout(ctx, store, &session)?,
        (Route::Hosts, "GET" | "HEAD") => hosts::list(ctx, store, &session)?,
        (Route::Host(fqdn), "GET" | "HEAD") => hosts::show(ctx, store, &session, fqdn, None)?,
        (Route::HostAction(fqdn, action), "POST") => hosts::act(ctx, store, &session, fqdn, action)?,
        (Route::Account, "GET" | "HEAD") => account::page_of(ctx, &session, None),
        (Route::AccountAction(action), "POST") => account::act(ctx, store, &session, action)?,
        (Route::Admin, "GET" | "HEAD") if session.found.user.admin => redirect(ctx, "/admin/users"),
        (Route::AdminTab(tab), "GET" | "HEAD") => admin::show(ctx, store, &session, tab)?,
        (Route::AdminAction(tab, action), "POST") => admin::act(ctx, store, &session, tab, action)?,
        _ => not_found(ctx, Some(&session)),
    };
    Ok(reply)
}

/// Records a console change that sends nothing to DNS in the audit trail, with the web user as
/// the actor (method `console`); a failure is logged and changes nothing else.
fn record(ctx: &Ctx<'_>, store: &mut Store, actor: &str, hostname: Option<&str>, what: &str, detail: &str) {
    let origin = crate::audit::Origin {
        client: ctx.client,
        auth: crate::audit::AuthMethod::Console,
        user: actor.to_owned(),
        txn: ctx.log.txn().to_owned(),
    };
    let row = crate::audit::account_change(&origin, hostname, what, detail, ctx.now);
    let audit = crate::store::AuditWrite { rows: vec![row], keep: ctx.config.audit.keep_days > 0 };
    if let Err(e) = store.record_audit(&audit) {
        ctx.log.error(format_args!("console: cannot record `{what}` in the audit trail: {e}"));
    }
}

/// A refused form post: 403, nothing changed, logged with the reason (never the token).
fn refuse(ctx: &Ctx<'_>, why: &str) -> Reply {
    ctx.log.warn(format_args!(
        "console: form post refused ({why}) from {}",
        ctx.client.map_or_else(|| "-".to_owned(), |c| c.to_string())
    ));
    respond::error(
        ctx,
        403,
        "Refused",
        "This form could not be accepted: it came from another site or from an old page. Reload the page and try again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route(""), Route::Root);
        assert_eq!(route("/"), Route::Root);
        assert_eq!(route("/hosts"), Route::Hosts);
        assert_eq!(route("/hosts/"), Route::Hosts);
        assert_eq!(route("/hosts/a.example"), Route::Host("a.example"));
        assert_eq!(route("/hosts/a.example/offline"), Route::HostAction("a.example", hosts::Action::Offline));
        assert_eq!(route("/hosts/a.example/bogus"), Route::Unknown);
        assert_eq!(route("/static/x.css"), Route::Static("x.css"));
        assert_eq!(route("/account/password"), Route::AccountAction(account::Action::Password));
        assert_eq!(route("/nic/update"), Route::Unknown);
    }
}
