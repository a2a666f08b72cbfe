//! The admin pages, for users with the admin flag only (anyone else gets the 404 of a page
//! that does not exist): users (invite, which also resets a password, change the mail
//! address, the admin flag, delete), hostnames (add in a managed zone, delete, move to another
//! user), the
//! rate-limit table (list, clear one entry), the audit trail of everything with filters, and
//! the result of `ddns-cgi check`. Each action calls the CLI command's own function
//! (`admin::user`, `admin::hostname`, `admin::run`, `admin::ratelimit`, `cli::check`) with
//! the web user as the actor, so the console adds no second implementation; their answers
//! are shown as the CLI prints them.

use super::Ctx;
use super::hosts::history_row;
use super::pages::{AdminPage, AuditFilter, UserRow};
use super::respond::{layout, not_found, page};
use super::session::Session;
use crate::admin;
use crate::cli::{
    self, CheckArgs, CliError, Command, HostnameCommand, OutputArgs, RatelimitCommand, Switch, UserCommand,
};
use crate::reply::Reply;
use crate::store::{Store, StoreError};

/// How many audit rows are read, and shown after filtering.
const AUDIT_READ: u32 = 20_000;
const AUDIT_SHOWN: usize = 300;

/// An admin page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tab {
    Users,
    Hostnames,
    RateLimits,
    Audit,
    Check,
}

impl Tab {
    pub(super) fn parse(segment: &str) -> Option<Tab> {
        match segment {
            "users" => Some(Tab::Users),
            "hostnames" => Some(Tab::Hostnames),
            "ratelimit" => Some(Tab::RateLimits),
            "audit" => Some(Tab::Audit),
            "check" => Some(Tab::Check),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Tab::Users => "users",
            Tab::Hostnames => "hostnames",
            Tab::RateLimits => "ratelimit",
            Tab::Audit => "audit",
            Tab::Check => "check",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Tab::Users => "Users",
            Tab::Hostnames => "Hostnames",
            Tab::RateLimits => "Rate limits",
            Tab::Audit => "Audit trail",
            Tab::Check => "Check",
        }
    }
}

/// What an admin page shows beyond its tab's own content.
#[derive(Debug, Default)]
struct Extra {
    /// A message: the CLI command's answer or error.
    notice: Option<String>,
    /// An invitation link, shown once.
    link: Option<String>,
}

pub(super) fn show(ctx: &Ctx<'_>, store: &mut Store, session: &Session, tab: Tab) -> Result<Reply, StoreError> {
    if !session.found.user.admin {
        return Ok(not_found(ctx, Some(session)));
    }
    render(ctx, store, session, tab, Extra::default())
}

fn render(ctx: &Ctx<'_>, store: &mut Store, session: &Session, tab: Tab, extra: Extra) -> Result<Reply, StoreError> {
    let mut users = Vec::new();
    let mut output = None;
    let mut audit = Vec::new();
    let filter = AuditFilter::from_query(ctx);
    match tab {
        Tab::Users => {
            for u in store.users()? {
                let admin = store.web_user(&u.name)?.is_some_and(|w| w.admin);
                users.push(UserRow { name: u.name, email: u.email, n_hosts: u.n_hosts, admin });
            }
        }
        Tab::Hostnames => {}
        Tab::RateLimits => {
            let command = RatelimitCommand::List { output: OutputArgs { json: false } };
            output = Some(text(admin::ratelimit(ctx.config, store, command, ctx.now)));
        }
        Tab::Audit => {
            let since = match filter.since.trim() {
                "" => ctx.now - 7 * 86_400,
                s => crate::audit::parse_since(s, ctx.now).unwrap_or(ctx.now - 7 * 86_400),
            };
            let mut rows = store.audit_since(since, false, AUDIT_READ)?;
            rows.reverse();
            let matches = |want: &str, have: Option<&str>| want.is_empty() || have == Some(want);
            audit = rows
                .iter()
                .filter(|r| matches(filter.user.trim(), r.user.as_deref()))
                .filter(|r| matches(filter.host.trim(), r.hostname.as_deref()))
                .filter(|r| matches(filter.answer.trim(), Some(r.answer.as_str())))
                .take(AUDIT_SHOWN)
                .map(|r| (r.hostname.clone().unwrap_or_default(), history_row(r)))
                .collect();
        }
        Tab::Check => {
            output = Some(match cli::check(&ctx.config.path, &CheckArgs { as_user: None }, ctx.now) {
                Ok(report) => report.text(),
                Err(e) => e.message,
            });
        }
    }
    let mut layout = layout(ctx, Some(session), tab.title());
    layout.notice = extra.notice;
    let admin_page = AdminPage {
        layout,
        tab: tab.name(),
        users,
        output,
        link: extra.link,
        audit,
        filter,
        zones: ctx.config.zones.iter().map(|z| z.name_str()).collect(),
    };
    Ok(page(200, &admin_page))
}

/// Gives a hostname to another user; no CLI command does this, so the store's one method is
/// the implementation (its token goes, and it leaves any derivation).
fn move_host(ctx: &Ctx<'_>, store: &mut Store, raw: &str, to: &str) -> Result<String, CliError> {
    let fqdn = crate::request::normalize_hostname(raw)
        .ok_or_else(|| CliError::failure(format!("`{raw}` is not a valid hostname")))?;
    let Some(user) = store.user(to)? else { return Err(CliError::not_found(format!("user `{to}` does not exist"))) };
    if !store.move_host(&fqdn, user.id)? {
        return Err(CliError::not_found(format!("hostname `{fqdn}` does not exist")));
    }
    ctx.log.info(format_args!("console: `{fqdn}` moved to `{to}`"));
    Ok(format!("hostname `{fqdn}` now belongs to `{to}`; its token was revoked"))
}

/// A CLI function's answer as the page shows it.
fn text(out: Result<String, CliError>) -> String {
    match out {
        Ok(out) => out,
        Err(e) => e.message,
    }
}

/// The link an invitation code makes: `[web] url`, or this request's origin and the path.
fn link(ctx: &Ctx<'_>, code: &str) -> String {
    let base = match &ctx.web.url {
        Some(url) => url.clone(),
        None => {
            let scheme = if super::session::over_tls(ctx) { "https" } else { "http" };
            let host = ctx.env.get("HTTP_HOST").map(String::as_str).unwrap_or("localhost");
            format!("{scheme}://{host}{}", ctx.base)
        }
    };
    format!("{base}/invite?code={code}")
}

pub(super) fn act(
    ctx: &Ctx<'_>,
    store: &mut Store,
    session: &Session,
    tab: Tab,
    action: &str,
) -> Result<Reply, StoreError> {
    if !session.found.user.admin {
        return Ok(not_found(ctx, Some(session)));
    }
    let actor = session.found.user.name.clone();
    let field = |name: &str| ctx.field(name).trim().to_owned();
    let mut extra = Extra::default();
    let result: Result<String, CliError> = match (tab, action) {
        (Tab::Users, "invite") => {
            match admin::invitation(ctx.config, store, &field("name"), &field("email"), ctx.now) {
                Ok((code, expires_at)) => {
                    extra.link = Some(link(ctx, &code));
                    ctx.log.info(format_args!("console: `{actor}` invited `{}`", field("name")));
                    Ok(format!(
                        "Invitation for `{}` made; the link works once, until {}.",
                        field("name"),
                        crate::log::rfc3339(expires_at)
                    ))
                }
                Err(e) => Err(e),
            }
        }
        (Tab::Users, "email") => admin::user(
            ctx.config,
            store,
            UserCommand::Email { name: field("name"), email: field("email") },
            ctx.now,
            ctx.log,
        ),
        (Tab::Users, "admin") => admin::user(
            ctx.config,
            store,
            UserCommand::Admin { name: field("name"), revoke: field("revoke") == "yes" },
            ctx.now,
            ctx.log,
        ),
        (Tab::Users, "delete") if field("name") == actor => Err(CliError::failure("you cannot delete yourself here")),
        (Tab::Users, "delete") => {
            admin::user(ctx.config, store, UserCommand::Delete { name: field("name"), force: true }, ctx.now, ctx.log)
        }
        (Tab::Hostnames, "add") => {
            let zone = Some(field("zone")).filter(|z| !z.is_empty());
            let command = Command::Hostname(HostnameCommand::Add {
                user: field("user"),
                fqdn: field("fqdn"),
                zone,
                dns_ttl: None,
                expiry_ttl: None,
                ipv4: Switch::On,
                ipv6: Switch::On,
            });
            admin::run(ctx.config, command, ctx.now, &actor, ctx.log)
        }
        (Tab::Hostnames, "delete") => admin::hostname(
            ctx.config,
            store,
            HostnameCommand::Delete { fqdn: field("fqdn") },
            ctx.now,
            &actor,
            ctx.log,
        ),
        (Tab::Hostnames, "move") => move_host(ctx, store, &field("fqdn"), &field("user")),
        (Tab::RateLimits, "clear") if !field("key").is_empty() => {
            admin::ratelimit(ctx.config, store, RatelimitCommand::Clear { key: Some(field("key")) }, ctx.now)
        }
        _ => return Ok(not_found(ctx, Some(session))),
    };
    extra.notice = Some(match result {
        Ok(out) => {
            let hostname = Some(field("fqdn")).filter(|f| !f.is_empty());
            let about = [field("name"), field("user"), field("key")].into_iter().find(|v| !v.is_empty());
            let detail =
                format!("admin {} {action}{}", tab.name(), about.map(|a| format!(" `{a}`")).unwrap_or_default());
            super::record(ctx, store, &actor, hostname.as_deref(), action, &detail);
            out.trim().to_owned()
        }
        Err(e) => format!("Not done: {}", e.message),
    });
    ctx.log.info(format_args!("console: admin `{actor}`: {} {action}", tab.name()));
    render(ctx, store, session, tab, extra)
}
