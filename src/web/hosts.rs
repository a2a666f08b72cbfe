//! The hosts list, a host's page, and what a user may do to a host: a new token (shown once),
//! revoking it, taking the host offline, setting its address or TXT value by hand. A host is
//! reachable only by its owner and by admins; to anyone else it answers the 404 of a host
//! that does not exist. The changes go through the functions the CLI and the update path use:
//! `token::Scope::from_options` and `Store::set_token` as `hostname token`, and
//! `update::console_change` for the records (the run of every change: host lock,
//! `dns_pending`, the row written only after NOERROR, an audit row naming the web user).

use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::{Name, RecordType};

use super::Ctx;
use super::pages::{DnsNow, HistoryRow, HostPage, HostRow, HostsPage};
use super::recipes::{Target, recipes};
use super::respond::{self, layout, not_found, page, redirect};
use super::session::Session;
use super::timeline::Timeline;
use crate::admin;
use crate::auth::token::{self, Scope};
use crate::cli::{AcmeCommand, Command, HostnameCommand, OutputArgs};
use crate::reply::{self, HostAnswer, Reply};
use crate::request::{self, normalize_hostname};
use crate::store::{AuditRow, Host, HostListing, Store, StoreError};
use crate::update::{self, ConsoleChange, Set};

/// Up to this many hosts, the list asks the DNS server for each one's addresses too (two
/// queries a host); a longer list (an admin's) shows them on each host's page only.
const LIST_DNS_HOSTS: usize = 20;

/// How many audit rows the host page shows.
const HISTORY_ROWS: u32 = 100;
/// How many audit rows the timeline reads, and how many days it shows.
const TIMELINE_ROWS: u32 = 1000;
const TIMELINE_DAYS: u32 = 28;

/// What a page shows once, right after it was made.
#[derive(Debug)]
pub(super) enum Shown {
    Nothing,
    Token(String),
    Acme(String),
}

/// A form on a host's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    Token,
    Revoke,
    Offline,
    Set,
    Txt,
    Derive,
    Underive,
    Acme,
}

impl Action {
    pub(super) fn parse(segment: &str) -> Option<Action> {
        match segment {
            "token" => Some(Action::Token),
            "revoke" => Some(Action::Revoke),
            "offline" => Some(Action::Offline),
            "set" => Some(Action::Set),
            "txt" => Some(Action::Txt),
            "derive" => Some(Action::Derive),
            "underive" => Some(Action::Underive),
            "acme" => Some(Action::Acme),
            _ => None,
        }
    }
}

/// The hosts the session's user may see: their own, or everyone's for an admin.
fn visible(store: &Store, session: &Session) -> Result<Vec<HostListing>, StoreError> {
    let user = &session.found.user;
    store.hosts(if user.admin { None } else { Some(user.id) })
}

/// The host `raw` names, if the session's user may see it.
fn reachable(store: &Store, session: &Session, raw: &str) -> Result<Option<HostListing>, StoreError> {
    let Some(fqdn) = normalize_hostname(raw) else { return Ok(None) };
    Ok(visible(store, session)?.into_iter().find(|l| l.host.fqdn == fqdn))
}

pub(super) fn list(ctx: &Ctx<'_>, store: &mut Store, session: &Session) -> Result<Reply, StoreError> {
    let derivations = store.derivations()?;
    let listings = visible(store, session)?;
    let ask_dns = listings.len() <= LIST_DNS_HOSTS;
    let hosts = listings
        .iter()
        .map(|l| {
            let mut row = row(l, derivations.iter().find(|d| d.child == l.host.fqdn).map(|d| d.parent.as_str()));
            if ask_dns {
                let now = dns_now(ctx, &l.host);
                row.dns = [now.a, now.aaaa].into_iter().filter(|v| v != "-").collect::<Vec<_>>().join(", ");
                if row.dns.is_empty() {
                    row.dns = "-".to_owned();
                }
            }
            row
        })
        .collect();
    let show_owner = session.found.user.admin;
    Ok(page(200, &HostsPage { layout: layout(ctx, Some(session), "Hosts"), hosts, show_owner }))
}

/// When the host's records go, as `hostname list` shows it.
fn expires(h: &Host) -> String {
    if h.expiry_ttl == 0 {
        return "never".to_owned();
    }
    if h.expired {
        return "expired".to_owned();
    }
    h.last_update
        .map_or_else(|| "-".to_owned(), |t| crate::log::rfc3339(t + i64::from(h.expiry_ttl) + h.touch_interval()))
}

fn row(l: &HostListing, follows: Option<&str>) -> HostRow {
    let h = &l.host;
    let family = |value: Option<String>, on: bool| match (value, on) {
        (_, false) => "off".to_owned(),
        (Some(v), true) => v,
        (None, true) => "-".to_owned(),
    };
    let state = match (h.offline, h.expired, h.dns_pending) {
        (true, _, _) => "offline",
        (false, true, _) => "expired",
        (false, false, true) => "online (a change is pending)",
        (false, false, false) => "online",
    };
    let token = match &l.token {
        None => "none".to_owned(),
        Some(info) => match Scope::from_stored(&info.scope) {
            Ok(scope) => format!("{} (created {})", scope.summary(), crate::log::rfc3339(info.created_at)),
            Err(_) => "unreadable scope: refused".to_owned(),
        },
    };
    HostRow {
        fqdn: h.fqdn.clone(),
        owner: l.owner.clone(),
        ipv4: family(h.ipv4.map(|a| a.to_string()), h.families.ipv4),
        ipv6: family(h.ipv6.map(|a| a.to_string()), h.families.ipv6),
        txt: h.txt.clone().unwrap_or_else(|| "-".to_owned()),
        last_update: h.last_update.map_or_else(|| "never".to_owned(), crate::log::rfc3339),
        expires: expires(h),
        state: state.to_owned(),
        token,
        follows: follows.unwrap_or("-").to_owned(),
        dns_ttl: h.dns_ttl,
        offline: h.offline,
        has_token: l.token.is_some(),
        dns: "see its page".to_owned(),
    }
}

/// What the zone's primary answers now for the host: unsigned queries, bounded by the zone's
/// timeout; a failure shows as such, it does not fail the page.
fn dns_now(ctx: &Ctx<'_>, h: &Host) -> DnsNow {
    let Some(zone) = ctx.config.zone(&h.zone) else {
        let gone = "zone not configured".to_owned();
        return DnsNow { a: gone.clone(), aaaa: gone.clone(), txt: gone };
    };
    let Ok(name) = Name::from_ascii(format!("{}.", h.fqdn)) else {
        let bad = "not a DNS name".to_owned();
        return DnsNow { a: bad.clone(), aaaa: bad.clone(), txt: bad };
    };
    let ask = |rtype| match crate::dns::query_rrset(zone.server, &name, rtype, zone.timeout) {
        Ok(values) if values.is_empty() => "-".to_owned(),
        Ok(values) => values.join(", "),
        Err(e) => format!("no answer ({e})"),
    };
    DnsNow { a: ask(RecordType::A), aaaa: ask(RecordType::AAAA), txt: ask(RecordType::TXT) }
}

pub(super) fn history_row(r: &AuditRow) -> HistoryRow {
    let pair = |v4: &Option<String>, v6: &Option<String>| {
        [v4.as_deref(), v6.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
    };
    let (old, new) = (pair(&r.old_ipv4, &r.old_ipv6), pair(&r.new_ipv4, &r.new_ipv6));
    let addresses = match (old.is_empty(), new.is_empty()) {
        (true, true) => String::new(),
        (true, false) => new,
        (false, true) => format!("{old} → none"),
        (false, false) if old == new => new,
        (false, false) => format!("{old} → {new}"),
    };
    let by = match (&r.user, &r.auth) {
        (Some(u), Some(a)) => format!("{u} ({a})"),
        (Some(u), None) => u.clone(),
        (None, _) => "-".to_owned(),
    };
    let reason = [r.reason.as_deref(), r.rcode.as_deref()].into_iter().flatten().collect::<Vec<_>>().join("; ");
    HistoryRow {
        at: crate::log::rfc3339(r.at),
        answer: r.answer.clone(),
        by,
        client: r.client.clone().unwrap_or_else(|| "-".to_owned()),
        addresses,
        reason,
    }
}

pub(super) fn page_of(
    ctx: &Ctx<'_>,
    store: &mut Store,
    session: &Session,
    listing: &HostListing,
    shown: Shown,
    notice: Option<String>,
) -> Result<Reply, StoreError> {
    let (new_token, acme) = match shown {
        Shown::Nothing => (None, None),
        Shown::Token(t) => (Some(t), None),
        Shown::Acme(a) => (None, Some(a)),
    };
    let derivations = store.derivations()?;
    let fqdn = &listing.host.fqdn;
    let follows = derivations.iter().find(|d| &d.child == fqdn).map(|d| d.parent.as_str());
    let children = derivations.iter().filter(|d| &d.parent == fqdn).map(|d| d.child.clone()).collect();
    let rows = store.audit_history(fqdn, TIMELINE_ROWS)?;
    let history = rows.iter().take(HISTORY_ROWS as usize).map(history_row).collect();
    let view = Timeline { now: ctx.now, days: TIMELINE_DAYS, families: listing.host.families };
    let timeline = super::timeline::svg(&rows, &view);
    let (recipes, recipes_error) = match &new_token {
        None => (Vec::new(), None),
        Some(token) => {
            let base = update_base(ctx);
            let target = Target { base: &base, fqdn, token, families: listing.host.families };
            match recipes(&target) {
                Ok(r) => (r, None),
                Err(e) => (Vec::new(), Some(format!("No client settings: {e}."))),
            }
        }
    };
    let mut layout = layout(ctx, Some(session), fqdn);
    layout.notice = notice;
    let host_page = HostPage {
        layout,
        host: row(listing, follows),
        show_owner: session.found.user.admin,
        dns: dns_now(ctx, &listing.host),
        children,
        history,
        new_token,
        recipes,
        recipes_error,
        timeline,
        acme,
        acme_on: ctx.config.acme.is_some(),
    };
    Ok(page(200, &host_page))
}

pub(super) fn show(
    ctx: &Ctx<'_>,
    store: &mut Store,
    session: &Session,
    raw: &str,
    notice: Option<String>,
) -> Result<Reply, StoreError> {
    let Some(listing) = reachable(store, session, raw)? else { return Ok(not_found(ctx, Some(session))) };
    page_of(ctx, store, session, &listing, Shown::Nothing, notice)
}

/// A form posted on a host's page. The host must be reachable for the session's user, else
/// the same 404 as a missing one, and nothing changes.
pub(super) fn act(
    ctx: &Ctx<'_>,
    store: &mut Store,
    session: &Session,
    raw: &str,
    action: Action,
) -> Result<Reply, StoreError> {
    let Some(listing) = reachable(store, session, raw)? else { return Ok(not_found(ctx, Some(session))) };
    let fqdn = listing.host.fqdn.clone();
    let actor = session.found.user.name.clone();
    let change = match action {
        Action::Token => return new_token(ctx, store, session, &listing),
        Action::Revoke => {
            let notice = match store.revoke_token(&fqdn)? {
                Some(true) => {
                    ctx.log.info(format_args!("console: `{actor}` revoked the token of `{fqdn}`"));
                    super::record(ctx, store, &actor, Some(&fqdn), "revoke", "token revoked");
                    "The token was revoked; it no longer works.".to_owned()
                }
                Some(false) => "The host had no token.".to_owned(),
                None => return Ok(not_found(ctx, Some(session))),
            };
            return show(ctx, store, session, &fqdn, Some(notice));
        }
        Action::Derive => return derive(ctx, store, session, &listing),
        Action::Underive => return underive(ctx, store, session, &listing),
        Action::Acme => return acme_account(ctx, store, session, &listing),
        Action::Offline => ConsoleChange::Offline,
        Action::Set => match set_of(ctx.field("ipv4"), ctx.field("ipv6")) {
            Ok(set) => ConsoleChange::Set(set),
            Err(message) => return show(ctx, store, session, &fqdn, Some(message)),
        },
        Action::Txt => match request::txt_change(ctx.field("txt")) {
            Ok(txt) => ConsoleChange::Txt(txt),
            Err(e) => return show(ctx, store, session, &fqdn, Some(format!("Not set: {e}."))),
        },
    };
    let log = ctx.log.with_txn(crate::log::transaction_id());
    let answer = update::console_change(ctx.config, store, &fqdn, change, &actor, ctx.client, ctx.now, &log)?;
    let notice = match &answer {
        HostAnswer::Good(_) => "Done: the DNS server accepted the change.".to_owned(),
        HostAnswer::Nochg(_) => "Nothing to change: DNS already holds this.".to_owned(),
        HostAnswer::Nohost => return Ok(not_found(ctx, Some(session))),
        HostAnswer::Dnserr => "The DNS server did not accept the change; nothing was stored.".to_owned(),
        other => format!("Not changed ({}).", reply::host_token(other)),
    };
    if matches!(answer, HostAnswer::Good(_) | HostAnswer::Nochg(_)) {
        // After a change, a redirect: reloading the page does not post it again.
        return Ok(redirect(ctx, &format!("/hosts/{fqdn}")));
    }
    show(ctx, store, session, &fqdn, Some(notice))
}

/// Where clients send updates, for the recipes: the origin of `[web] url`, or the scheme and
/// `Host` this request came with.
fn update_base(ctx: &Ctx<'_>) -> String {
    if let Some(url) = &ctx.web.url
        && let Some(origin) = super::session::origin_of(url)
    {
        return origin.to_owned();
    }
    let scheme = if super::session::over_tls(ctx) { "https" } else { "http" };
    format!("{scheme}://{}", ctx.env.get("HTTP_HOST").map(String::as_str).unwrap_or("localhost"))
}

/// The set form's fields: an address, `none` to remove that family, or empty to keep it.
fn set_of(ipv4: &str, ipv6: &str) -> Result<Set, String> {
    fn one<A: std::str::FromStr>(value: &str, family: &str) -> Result<Option<Option<A>>, String> {
        match value.trim() {
            "" => Ok(None),
            v if v.eq_ignore_ascii_case("none") => Ok(Some(None)),
            v => v.parse().map(|a| Some(Some(a))).map_err(|_| format!("Not set: `{v}` is not an {family} address.")),
        }
    }
    let set = Set { ipv4: one::<Ipv4Addr>(ipv4, "IPv4")?, ipv6: one::<Ipv6Addr>(ipv6, "IPv6")? };
    if set.ipv4.is_none() && set.ipv6.is_none() {
        return Err("Not set: give an IPv4 or IPv6 address (or `none`).".to_owned());
    }
    Ok(set)
}

/// A new token for the host, replacing its old one, scoped as `hostname token` scopes it;
/// shown once on the page that answers the form (never in a URL, never logged).
fn new_token(ctx: &Ctx<'_>, store: &mut Store, session: &Session, listing: &HostListing) -> Result<Reply, StoreError> {
    let fqdn = &listing.host.fqdn;
    let opt = |name: &str| Some(ctx.field(name).trim()).filter(|v| !v.is_empty());
    let scope = match Scope::from_options(opt("types"), opt("from"), opt("expires"), ctx.now) {
        Ok(scope) => scope,
        Err(e) => return show(ctx, store, session, fqdn, Some(format!("No token created: {e}."))),
    };
    let Ok(secret) = token::generate() else {
        return Ok(respond::error(ctx, 500, "Something went wrong", "No randomness for the token; try again."));
    };
    if !store.set_token(fqdn, &token::digest(secret.expose()), &scope.to_stored(), ctx.now)? {
        return Ok(not_found(ctx, Some(session)));
    }
    ctx.log.info(format_args!(
        "console: `{}` created a new token for `{fqdn}` ({})",
        session.found.user.name,
        scope.summary()
    ));
    let detail = format!("new token, scope {}", scope.summary());
    super::record(ctx, store, &session.found.user.name, Some(fqdn), "token", &detail);
    let Some(listing) = reachable(store, session, fqdn)? else { return Ok(not_found(ctx, Some(session))) };
    page_of(ctx, store, session, &listing, Shown::Token(secret.expose().to_owned()), None)
}

/// `hostname derive` for the host as parent, through the CLI's own code (`admin::run`): the
/// same checks of the interface id, the IPv4 rule and the TTL, and the store's refusal of a
/// cycle. A child that exists must be the user's too; one that is not answers as if it were
/// someone's (without saying whose).
fn derive(ctx: &Ctx<'_>, store: &mut Store, session: &Session, listing: &HostListing) -> Result<Reply, StoreError> {
    let fqdn = listing.host.fqdn.clone();
    let Some(child) = normalize_hostname(ctx.field("child").trim()) else {
        return show(ctx, store, session, &fqdn, Some("Not derived: give the child's hostname.".to_owned()));
    };
    if store.host(&child)?.is_some() && reachable(store, session, &child)?.is_none() {
        return show(ctx, store, session, &fqdn, Some(format!("Not derived: `{child}` is not yours.")));
    }
    let ttl = match ctx.field("ttl").trim() {
        "" => None,
        t => match t.parse::<u32>() {
            Ok(t) => Some(t),
            Err(_) => return show(ctx, store, session, &fqdn, Some(format!("Not derived: `{t}` is not a TTL."))),
        },
    };
    let ipv4 = Some(ctx.field("ipv4").trim()).filter(|v| !v.is_empty()).map(str::to_owned);
    let command = Command::Hostname(HostnameCommand::Derive {
        parent: fqdn.clone(),
        child,
        ipv6_iid: ctx.field("ipv6_iid").trim().to_owned(),
        ipv4,
        ttl,
    });
    let notice = match admin::run(ctx.config, command, ctx.now, &session.found.user.name, ctx.log) {
        Ok(out) => {
            super::record(ctx, store, &session.found.user.name, Some(&fqdn), "derive", out.trim());
            out.trim().to_owned()
        }
        Err(e) => format!("Not derived: {}", e.message),
    };
    show(ctx, store, session, &fqdn, Some(notice))
}

/// `hostname underive` of one of the host's children.
fn underive(ctx: &Ctx<'_>, store: &mut Store, session: &Session, listing: &HostListing) -> Result<Reply, StoreError> {
    let fqdn = listing.host.fqdn.clone();
    let child = normalize_hostname(ctx.field("child").trim()).unwrap_or_default();
    let ours = store.derivations()?.iter().any(|d| d.parent == fqdn && d.child == child);
    if !ours || reachable(store, session, &child)?.is_none() {
        return Ok(not_found(ctx, Some(session)));
    }
    let command = HostnameCommand::Underive { child };
    let notice = match admin::hostname(ctx.config, store, command, ctx.now, &session.found.user.name, ctx.log) {
        Ok(out) => {
            super::record(ctx, store, &session.found.user.name, Some(&fqdn), "underive", out.trim());
            out.trim().to_owned()
        }
        Err(e) => e.message,
    };
    show(ctx, store, session, &fqdn, Some(notice))
}

/// `acme add` for the host's name or a name below it: the account's JSON (as lego and
/// acme.sh store it) and the CNAME, shown once.
fn acme_account(
    ctx: &Ctx<'_>,
    store: &mut Store,
    session: &Session,
    listing: &HostListing,
) -> Result<Reply, StoreError> {
    let fqdn = listing.host.fqdn.clone();
    let raw = ctx.field("domain").trim();
    let bare = raw.strip_prefix("*.").unwrap_or(raw);
    let Some(domain) = normalize_hostname(bare) else {
        return show(ctx, store, session, &fqdn, Some(format!("No account: `{raw}` is not a domain name.")));
    };
    if domain != fqdn && !domain.ends_with(&format!(".{fqdn}")) {
        return show(ctx, store, session, &fqdn, Some(format!("No account: `{domain}` is not `{fqdn}` or below it.")));
    }
    let allowfrom = Some(ctx.field("allowfrom").trim()).filter(|v| !v.is_empty()).map(str::to_owned);
    let command = AcmeCommand::Add { domain, allowfrom, output: OutputArgs { json: false } };
    match admin::acme(ctx.config, store, command, ctx.now) {
        Ok(out) => {
            ctx.log.info(format_args!(
                "console: `{}` created an acme-dns account below `{fqdn}`",
                session.found.user.name
            ));
            page_of(ctx, store, session, listing, Shown::Acme(out), None)
        }
        Err(e) => show(ctx, store, session, &fqdn, Some(format!("No account: {}", e.message))),
    }
}
