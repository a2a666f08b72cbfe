//! The user's own account: the password (the current one required, Argon2 once, counted in
//! the rate limits like a login; every other session of the user ends in the same
//! transaction) and the mail address (checked as `user email` checks it).

use super::Ctx;
use super::login::check_new_password;
use super::pages::AccountPage;
use super::respond::{layout, page, redirect};
use super::session::Session;
use crate::auth::{self, Verdict};
use crate::ratelimit::{self, Outcome};
use crate::reply::Reply;
use crate::store::{Store, StoreError};

/// A form on the account page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Action {
    Password,
    Email,
}

impl Action {
    pub(super) fn parse(segment: &str) -> Option<Action> {
        match segment {
            "password" => Some(Action::Password),
            "email" => Some(Action::Email),
            _ => None,
        }
    }
}

pub(super) fn page_with(ctx: &Ctx<'_>, session: &Session, status: u16, notice: Option<String>) -> Reply {
    let user = &session.found.user;
    let mut layout = layout(ctx, Some(session), "Account");
    layout.notice = notice;
    page(status, &AccountPage { layout, name: user.name.clone(), email: user.email.clone(), admin: user.admin })
}

pub(super) fn page_of(ctx: &Ctx<'_>, session: &Session, notice: Option<String>) -> Reply {
    page_with(ctx, session, 200, notice)
}

pub(super) fn act(ctx: &Ctx<'_>, store: &mut Store, session: &Session, action: Action) -> Result<Reply, StoreError> {
    let user = &session.found.user;
    match action {
        Action::Email => {
            let email = ctx.field("email").trim();
            if !crate::config::is_mailbox(email) {
                return Ok(page_with(ctx, session, 400, Some(format!("`{email}` is not a mail address."))));
            }
            store.set_email(&user.name, email)?;
            super::record(ctx, store, &user.name, None, "email", "mail address changed");
            ctx.log.info(format_args!("console: `{}` changed their mail address", user.name));
            Ok(redirect(ctx, "/account"))
        }
        Action::Password => {
            if let Err(message) = check_new_password(ctx.field("new"), ctx.field("repeat")) {
                return Ok(page_with(ctx, session, 400, Some(message.to_owned())));
            }
            let reservation =
                match ratelimit::reserve(&ctx.config.rate_limit, store, ctx.client, Some(&user.name), ctx.now)? {
                    Ok(r) => r,
                    Err(limited) => {
                        ctx.log.warn(format_args!("console: password change refused: {limited}"));
                        return Ok(page_with(
                            ctx,
                            session,
                            429,
                            Some("Too many attempts; try again later.".to_owned()),
                        ));
                    }
                };
            let dummy = auth::Dummy::new(&[], &ctx.config.auth);
            let verdict = auth::verify(ctx.field("current"), Some(&user.password_hash), &dummy, &ctx.config.auth);
            let outcome = if matches!(verdict, Verdict::Valid { .. }) { Outcome::Good } else { Outcome::Bad };
            if let Err(e) = ratelimit::settle(store, reservation, outcome, ctx.now) {
                ctx.log.warn(format_args!("console: cannot settle the rate-limit reservation: {e}"));
            }
            if outcome == Outcome::Bad {
                return Ok(page_with(ctx, session, 403, Some("The current password is wrong.".to_owned())));
            }
            let Ok(hash) = auth::hash_password(ctx.field("new"), &ctx.config.auth) else {
                return Ok(page_with(ctx, session, 500, Some("The password could not be hashed.".to_owned())));
            };
            store.change_password(user.id, &hash, Some(&session.digest()))?;
            super::record(ctx, store, &user.name, None, "password", "password changed; other sessions ended");
            ctx.log.info(format_args!("console: `{}` changed their password; their other sessions ended", user.name));
            Ok(page_of(ctx, session, Some("Password changed. Your other sessions were logged out.".to_owned())))
        }
    }
}
