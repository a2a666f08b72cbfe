//! The audit trail: what a request changed, or why it was refused, kept in the database for
//! `[audit] keep_days` and shown by `ddns-cgi hostname history` and `ddns-cgi log`. This
//! module decides what a row says (from the handler's outcome) and how it is shown (a table
//! or JSON); `store` writes it. A change's rows go in the transaction that writes the host's
//! row (`update::changes::run_changes`), so the trail and the hostnames never disagree; a refusal's
//! row is one small write after the answer is decided, whose failure is logged and never
//! changes the answer. No row holds a secret: the user name (bounded), the method
//! (`password`, `token`, or `admin` for `hostname set`) and the client, never a password or a token. The credential-less
//! first request of wget-like clients (answered with the Basic challenge) is not recorded.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::Config;
use crate::dns::{self, DnsError};
use crate::log::{self, Log};
use crate::store::{ACCOUNT_KIND, AuditRow, AuditWrite, Store};

/// Longest user name, hostname or reason kept in a row, in bytes; longer ones are cut
/// (`log::bounded`), so a client cannot fill the database with one request.
const MAX_FIELD_BYTES: usize = 128;

/// How a request authenticated, for a change's row; `Admin` for a change made on the
/// command line (`hostname set`), whose row names the login that ran it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AuthMethod {
    Password,
    Token,
    Admin,
    /// A change made in the web console (`web/`), whose row names the web user.
    Console,
}

impl AuthMethod {
    fn name(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::Token => "token",
            AuthMethod::Admin => "admin",
            AuthMethod::Console => "console",
        }
    }
}

/// Who a change came from: the request's client, how it authenticated and as whom, and its
/// transaction id.
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    pub(crate) client: Option<IpAddr>,
    pub(crate) auth: AuthMethod,
    pub(crate) user: String,
    pub(crate) txn: String,
}

/// A host's addresses and TXT value before or after a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Records<'a> {
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Option<Ipv6Addr>,
    pub(crate) txt: Option<&'a str>,
}

/// The row of one change of `fqdn` answered `answer` (`good`, `nochg`, `dnserr`), from
/// `before` to `after`; `rcode` for a `dnserr`. TXT values appear only when they changed.
pub(crate) fn change(
    origin: &Origin,
    fqdn: &str,
    answer: &str,
    before: &Records<'_>,
    after: &Records<'_>,
    rcode: Option<&str>,
    now: i64,
) -> AuditRow {
    let txt_changed = before.txt != after.txt;
    AuditRow {
        at: now,
        kind: "change",
        answer: answer.to_owned(),
        txn: origin.txn.clone(),
        client: origin.client.map(|c| c.to_string()),
        hostname: Some(fqdn.to_owned()),
        user: Some(bounded(&origin.user)),
        auth: Some(origin.auth.name().to_owned()),
        old_ipv4: before.ipv4.map(|a| a.to_string()),
        old_ipv6: before.ipv6.map(|a| a.to_string()),
        new_ipv4: after.ipv4.map(|a| a.to_string()),
        new_ipv6: after.ipv6.map(|a| a.to_string()),
        old_txt: before.txt.filter(|_| txt_changed).map(str::to_owned),
        new_txt: after.txt.filter(|_| txt_changed).map(str::to_owned),
        rcode: rcode.map(str::to_owned),
        reason: None,
    }
}

/// A web console change that sends nothing to DNS (kind [`ACCOUNT_KIND`]): `what` it was
/// (`token`, `revoke`, `password`...), by whom from where, about which hostname if any, with
/// a detail (a token's scope, the user an admin acted on). Never a secret.
pub(crate) fn account_change(origin: &Origin, hostname: Option<&str>, what: &str, detail: &str, now: i64) -> AuditRow {
    AuditRow {
        at: now,
        kind: ACCOUNT_KIND,
        answer: what.to_owned(),
        txn: origin.txn.clone(),
        client: origin.client.map(|c| c.to_string()),
        hostname: hostname.map(bounded),
        user: Some(bounded(&origin.user)),
        auth: Some(origin.auth.name().to_owned()),
        old_ipv4: None,
        old_ipv6: None,
        new_ipv4: None,
        new_ipv6: None,
        old_txt: None,
        new_txt: None,
        rcode: None,
        reason: Some(bounded(detail)),
    }
}

/// A refused attempt: what was answered (`badauth`, `abuse`, `nohost`, `badip`...), with the
/// user name and hostname given (bounded) and a short reason.
pub(crate) struct Refusal<'a> {
    pub(crate) answer: &'a str,
    pub(crate) client: Option<IpAddr>,
    pub(crate) user: Option<&'a str>,
    pub(crate) hostname: Option<&'a str>,
    pub(crate) reason: Option<&'a str>,
}

impl Refusal<'_> {
    pub(crate) fn row(&self, txn: &str, now: i64) -> AuditRow {
        AuditRow {
            at: now,
            kind: "refused",
            answer: self.answer.to_owned(),
            txn: txn.to_owned(),
            client: self.client.map(|c| c.to_string()),
            hostname: self.hostname.map(bounded),
            user: self.user.map(bounded),
            auth: None,
            old_ipv4: None,
            old_ipv6: None,
            new_ipv4: None,
            new_ipv6: None,
            old_txt: None,
            new_txt: None,
            rcode: None,
            reason: self.reason.map(bounded),
        }
    }
}

/// Records refused attempts in one small write. A failure is logged and changes nothing
/// else: the answer is already decided.
pub(crate) fn record_refused(config: &Config, store: &mut Store, rows: Vec<AuditRow>, log: &Log) {
    let audit = AuditWrite { rows, keep: config.audit.keep_days > 0 };
    if let Err(e) = store.record_audit(&audit) {
        log.error(format_args!("cannot record the refused attempt in the audit trail: {e}"));
    }
}

/// The name of what went wrong in a DNS exchange, for a `dnserr` row and the
/// `ddns_dns_errors_total` metric: the rcode's mnemonic (RFC 1035 §4.1.1, RFC 2136 §2.2) when
/// the server answered one, else what kept it from answering. No `_` arm.
pub(crate) fn rcode_label(e: &DnsError) -> String {
    match e {
        DnsError::Rcode { rcode, .. } => dns::rcode_name(*rcode).to_string(),
        DnsError::UnverifiedRcode { .. } => "unverified".to_owned(),
        DnsError::Timeout { .. } => "timeout".to_owned(),
        DnsError::Io { .. } => "unreachable".to_owned(),
        DnsError::Malformed { .. } => "malformed".to_owned(),
        DnsError::BadSignature { .. } => "badsig".to_owned(),
        DnsError::Build { .. } => "build".to_owned(),
        DnsError::OutsideZone { .. } => "notzone".to_owned(),
    }
}

fn bounded(text: &str) -> String {
    log::bounded(text, MAX_FIELD_BYTES).into_owned()
}

/// The columns of [`cells`], for `hostname history` and `log` tables.
pub(crate) const HEADER: [&str; 9] =
    ["TIME", "KIND", "ANSWER", "HOSTNAME", "CLIENT", "USER", "CHANGE", "TXN", "REASON"];

/// One row as table cells. Every value a client chose (user name, hostname, reason, TXT) is
/// escaped as in the log (`log::escape`), so a row cannot add or rewrite a line of the table.
pub(crate) fn cells(r: &AuditRow) -> Vec<String> {
    let show = |v: &Option<String>| v.as_deref().map_or_else(|| "-".to_owned(), |s| log::escape(s).into_owned());
    // A value that is not there is `(none)`, with spaces round the arrow: `-` beside `->`
    // read as `ipv4 -->192.0.2.1` for a host's first address.
    let was = |v: &Option<String>| v.as_deref().map_or_else(|| "(none)".to_owned(), |s| log::escape(s).into_owned());
    let change = if r.kind == "change" {
        let mut c = format!(
            "ipv4 {} -> {} ipv6 {} -> {}",
            was(&r.old_ipv4),
            was(&r.new_ipv4),
            was(&r.old_ipv6),
            was(&r.new_ipv6)
        );
        if r.old_txt.is_some() || r.new_txt.is_some() {
            let _ = write!(c, " txt {} -> {}", was(&r.old_txt), was(&r.new_txt));
        }
        if let Some(rcode) = &r.rcode {
            let _ = write!(c, " rcode {}", log::escape(rcode));
        }
        c
    } else {
        "-".to_owned()
    };
    let user = match (&r.user, &r.auth) {
        (Some(user), Some(auth)) => format!("{} ({auth})", log::escape(user)),
        (user, _) => show(user),
    };
    vec![
        log::rfc3339(r.at),
        r.kind.to_owned(),
        log::escape(&r.answer).into_owned(),
        show(&r.hostname),
        show(&r.client),
        user,
        change,
        log::escape(&r.txn).into_owned(),
        show(&r.reason),
    ]
}

/// The start of `log --since`: a date `YYYY-MM-DD` (its 00:00 UTC) or a duration back from
/// `now`, as `config::duration` reads it (`90`, `30m`, `12h`, `7d`).
pub(crate) fn parse_since(since: &str, now: i64) -> Result<i64, String> {
    let bad = || {
        format!(
            "`--since` must be a date `YYYY-MM-DD` or a duration such as `30m`, `12h`, `7d`, got `{}`",
            log::escape(&log::bounded(since, 64))
        )
    };
    let since = since.trim();
    if since.len() == 10 && since.as_bytes().get(4) == Some(&b'-') {
        // `parse_expiry` gives the end of the day; a time before every date refuses none.
        return crate::auth::token::parse_expiry(since, i64::MIN).map(|end| end - 86_400).map_err(|_| bad());
    }
    // A bare number is seconds, as in the config; a negative one is refused.
    let back = crate::config::duration::parse(since).map_err(|_| bad())?;
    i64::try_from(back).ok().and_then(|back| now.checked_sub(back)).ok_or_else(bad)
}

/// The rows as a JSON array (`serde_json`).
pub(crate) fn json(rows: &[AuditRow]) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_and_durations() {
        let now = 1_700_000_000;
        assert_eq!(parse_since("2026-01-02", now), Ok(1_767_312_000));
        assert_eq!(parse_since("30m", now), Ok(now - 1_800));
        assert_eq!(parse_since("7d", now), Ok(now - 7 * 86_400));
        assert_eq!(parse_since("90", now), Ok(now - 90));
        for bad in ["", "d", "-1d", "7w", "2026-13-01", "yesterday", "99999999999999999999d"] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
