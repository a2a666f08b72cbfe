//! Logging in and out, and setting a password from an invitation link. A login is a dyndns2
//! password check in all but its answer: the same persisted rate limits (per client and per
//! user name, reserved before any hashing, so parallel guesses each count), one Argon2
//! verification against the stored hash or the dummy hash, so an unknown user and a wrong
//! password get the same answer in the same time, and `abuse`'s "too many attempts" when a
//! limit is reached. It is refused over plain HTTP unless the client is on loopback.

use super::pages::{InvitePage, LoginPage};
use super::respond::{self, layout, page, redirect, redirect_with};
use super::session::{self, Session};
use super::{Ctx, refuse};
use crate::audit::{self, Refusal};
use crate::auth::{self, Verdict, token};
use crate::ratelimit::{self, Outcome};
use crate::reply::Reply;
use crate::store::{Store, StoreError};

/// Longest user name and password read; longer ones fail as a wrong password would.
const MAX_USER_BYTES: usize = 256;
const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest password the console sets (the CLI leaves it to the admin).
pub(super) const MIN_PASSWORD_CHARS: usize = 8;

pub(super) fn form(ctx: &Ctx<'_>, store: &mut Store) -> Result<Reply, StoreError> {
    if session::find(ctx, store)?.is_some() {
        return Ok(redirect(ctx, "/hosts"));
    }
    Ok(login_page(ctx, 200, None, ""))
}

fn login_page(ctx: &Ctx<'_>, status: u16, error: Option<&str>, user: &str) -> Reply {
    page(
        status,
        &LoginPage { layout: layout(ctx, None, "Log in"), error: error.map(str::to_owned), user: user.to_owned() },
    )
}

/// Whether a password may travel here: over TLS, or from a loopback client (a test, or a
/// TLS-terminating proxy on the same machine that `[http]` does not name).
fn transport_ok(ctx: &Ctx<'_>) -> bool {
    session::over_tls(ctx) || ctx.client.is_some_and(|c| c.is_loopback())
}

pub(super) fn submit(ctx: &Ctx<'_>, store: &mut Store) -> Result<Reply, StoreError> {
    if !transport_ok(ctx) {
        ctx.log.warn(format_args!("console: login over plain HTTP refused"));
        return Ok(respond::error(
            ctx,
            403,
            "Log in over HTTPS",
            "The console takes passwords only over HTTPS. Open it with https://.",
        ));
    }
    if let Some(why) = session::cross_site(ctx) {
        return Ok(refuse(ctx, why));
    }
    let (user, password) = (ctx.field("user"), ctx.field("password"));
    if user.is_empty() || password.is_empty() {
        return Ok(login_page(ctx, 400, Some("Give your user name and password."), ""));
    }
    let reservation = match ratelimit::reserve(&ctx.config.rate_limit, store, ctx.client, Some(user), ctx.now)? {
        Ok(r) => r,
        Err(limited) => {
            ctx.log.warn(format_args!("console: login refused: {limited}"));
            return Ok(login_page(ctx, 429, Some("Too many attempts; try again later."), ""));
        }
    };
    let too_long = user.len() > MAX_USER_BYTES || password.len() > MAX_PASSWORD_BYTES;
    let found = if too_long { None } else { store.web_user(user)? };
    let dummy = auth::Dummy::new(&store.recent_password_hashes(auth::DUMMY_SAMPLE)?, &ctx.config.auth);
    let stored = found.as_ref().map(|u| u.password_hash.as_str());
    let verdict = auth::verify(password, stored, &dummy, &ctx.config.auth);
    let (Some(found), Verdict::Valid { .. }) = (found, verdict) else {
        if let Err(e) = ratelimit::settle(store, reservation, Outcome::Bad, ctx.now) {
            ctx.log.warn(format_args!("console: cannot settle the login's rate-limit reservation: {e}"));
        }
        let shown = token::shown_name(user);
        ctx.log.info(format_args!("console: login of `{shown}` refused: unknown user or wrong password"));
        let refusal = Refusal {
            answer: "badauth",
            client: ctx.client,
            user: Some(shown),
            hostname: None,
            reason: Some("console login: unknown user or wrong password"),
        };
        audit::record_refused(ctx.config, store, vec![refusal.row(ctx.log.txn(), ctx.now)], ctx.log);
        return Ok(login_page(ctx, 401, Some("Wrong user name or password."), ""));
    };
    if let Err(e) = ratelimit::settle(store, reservation, Outcome::Good, ctx.now) {
        ctx.log.warn(format_args!("console: cannot settle the login's rate-limit reservation: {e}"));
    }
    let Ok(id) = session::new_id() else {
        return Ok(respond::error(ctx, 500, "Something went wrong", "No randomness for a session; try again."));
    };
    store.add_session(&token::digest(id.expose()), found.id, ctx.now, session::ends(ctx))?;
    ctx.log.info(format_args!("console: `{}` logged in", found.name));
    Ok(redirect_with(ctx, "/hosts", Some(session::set_cookie(ctx, id.expose()))))
}

pub(super) fn logout(ctx: &Ctx<'_>, store: &mut Store, session: &Session) -> Result<Reply, StoreError> {
    store.end_session(&session.digest())?;
    ctx.log.info(format_args!("console: `{}` logged out", session.found.user.name));
    Ok(redirect_with(ctx, "/login", Some(session::clear_cookie(ctx))))
}

/// The invitation's code from the query string (GET) or the form (POST).
fn code(ctx: &Ctx<'_>) -> String {
    let from_form = ctx.field("code");
    if !from_form.is_empty() {
        return from_form.to_owned();
    }
    let query = ctx.env.get("QUERY_STRING").map(String::as_str).unwrap_or("");
    crate::request::parse_form(query.as_bytes())
        .ok()
        .and_then(|pairs| pairs.into_iter().find(|(k, _)| k == "code").map(|(_, v)| v))
        .filter(|v| v.len() <= 64)
        .unwrap_or_default()
}

fn gone(ctx: &Ctx<'_>) -> Reply {
    respond::error(
        ctx,
        404,
        "Invitation not valid",
        "This invitation link has expired or was used already. Ask your administrator for a new one.",
    )
}

pub(super) fn invitation(ctx: &Ctx<'_>, store: &mut Store) -> Result<Reply, StoreError> {
    let code = code(ctx);
    let Some(user) =
        (!code.is_empty()).then(|| store.invitation(&token::digest(&code), ctx.now)).transpose()?.flatten()
    else {
        return Ok(gone(ctx));
    };
    Ok(page(200, &InvitePage { layout: layout(ctx, None, "Set your password"), name: user.name, code, error: None }))
}

pub(super) fn redeem(ctx: &Ctx<'_>, store: &mut Store) -> Result<Reply, StoreError> {
    if !transport_ok(ctx) {
        return Ok(respond::error(ctx, 403, "Use HTTPS", "The console takes passwords only over HTTPS."));
    }
    if let Some(why) = session::cross_site(ctx) {
        return Ok(refuse(ctx, why));
    }
    let code = code(ctx);
    let digest = token::digest(&code);
    let Some(user) = (!code.is_empty()).then(|| store.invitation(&digest, ctx.now)).transpose()?.flatten() else {
        return Ok(gone(ctx));
    };
    if let Err(message) = check_new_password(ctx.field("new"), ctx.field("repeat")) {
        let layout = layout(ctx, None, "Set your password");
        return Ok(page(400, &InvitePage { layout, name: user.name, code, error: Some(message.to_owned()) }));
    }
    let Ok(hash) = auth::hash_password(ctx.field("new"), &ctx.config.auth) else {
        return Ok(respond::error(ctx, 500, "Something went wrong", "The password could not be hashed; try again."));
    };
    let Some(name) = store.redeem_invitation(&digest, &hash, ctx.now)? else { return Ok(gone(ctx)) };
    ctx.log.info(format_args!("console: `{name}` set a password from an invitation"));
    Ok(redirect(ctx, "/login"))
}

/// The console's rules for a new password: the two fields agree, at least
/// [`MIN_PASSWORD_CHARS`] characters, and not of a host token's shape (the update path would
/// check it as a token, never as a password).
pub(super) fn check_new_password(new: &str, repeat: &str) -> Result<(), &'static str> {
    if new != repeat {
        return Err("The two passwords differ.");
    }
    if new.chars().count() < MIN_PASSWORD_CHARS || new.len() > MAX_PASSWORD_BYTES {
        return Err("A password has 8 to 1024 characters.");
    }
    if token::looks_like(new) {
        return Err("A password must not look like a host token.");
    }
    Ok(())
}
