//! Mail to owners whose hostnames expired: one plain-text message per owner per run, listing
//! every expired hostname, what it pointed to and how to bring it back. Messages are built
//! with `lettre` (which encodes headers and bodies so any UTF-8 is safe) and handed to an SMTP
//! relay or a sendmail-compatible program as `[email]` says. This module decides neither
//! which hosts expired nor when to retry: `expire` claims the rows and hands them back on
//! failure.

use std::fmt::Write as _;
use std::time::{Duration, UNIX_EPOCH};

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SendmailTransport, SmtpTransport, Transport as _};

use crate::config::{EmailConfig, MailTransport, SmtpConfig};
use crate::store::Host;

/// How long one SMTP conversation may take; the run goes on with the next owner after it.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why one owner's mail was not sent.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MailError {
    /// An address that lettre cannot use (the owner's, or `from_address`).
    #[error("`{address}` is not a usable email address: {reason}")]
    Address { address: String, reason: String },
    /// The message could not be assembled.
    #[error("cannot build the message to `{to}`: {reason}")]
    Build { to: String, reason: String },
    /// The relay or the sendmail program refused or failed.
    #[error("cannot send the message to `{to}` via {via}: {reason}")]
    Send { to: String, via: String, reason: String },
}

/// One owner's mail: who gets it and which hostnames it lists.
#[derive(Debug)]
pub(crate) struct Notice<'a> {
    pub(crate) owner: &'a str,
    pub(crate) email: &'a str,
    pub(crate) hosts: Vec<&'a Host>,
}

/// Builds the message for `notice`, dated `now` (seconds since the epoch).
pub(crate) fn build(config: &EmailConfig, notice: &Notice<'_>, now: i64) -> Result<Message, MailError> {
    let mailbox = |address: &str| {
        address
            .parse::<Mailbox>()
            .map_err(|e| MailError::Address { address: address.to_owned(), reason: e.to_string() })
    };
    let from = mailbox(&config.from_address)?;
    let to = mailbox(notice.email)?;
    let n_hosts = notice.hosts.len();
    let subject = match notice.hosts.as_slice() {
        [one] => format!("ddns-cgi: hostname {} expired", shown_name(&one.fqdn)),
        _ => format!("ddns-cgi: {n_hosts} hostnames expired"),
    };
    let mut body = format!(
        "Hello {},\n\nthese hostnames were not updated within their expiry time, so their DNS records were removed:\n\n",
        notice.owner
    );
    for host in &notice.hosts {
        let mut was = Vec::new();
        if let Some(a) = host.ipv4 {
            was.push(a.to_string());
        }
        if let Some(a) = host.ipv6 {
            was.push(a.to_string());
        }
        let _ = writeln!(body, "  {}  (was {})", shown_name(&host.fqdn), was.join(", "));
    }
    body.push_str(
        "\nThe hostnames stay reserved for you. To restore one, send an update as before, for example\n\
         from your router or with\n\n  curl -u USER:PASSWORD 'https://YOUR-SERVER/nic/update?hostname=HOSTNAME'\n\n\
         and its records are published again.\n",
    );
    // RFC 5322 §3.6.4: unique left part, our domain on the right.
    let domain = config.from_address.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let message_id = format!("<{:016x}.{now}@{domain}>", getrandom::u64().unwrap_or(now as u64));
    Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .date(UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0)))
        .message_id(Some(message_id))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| MailError::Build { to: notice.email.to_owned(), reason: e.to_string() })
}

/// Sends `message` to `to` with the configured transport.
pub(crate) fn send(config: &EmailConfig, to: &str, message: &Message) -> Result<(), MailError> {
    match &config.transport {
        MailTransport::Smtp(smtp) => {
            let failed = |reason: String| MailError::Send {
                to: to.to_owned(),
                via: format!("SMTP {}:{}", smtp.host, smtp.port),
                reason,
            };
            smtp_transport(smtp).map_err(failed)?.send(message).map(drop).map_err(|e| failed(e.to_string()))
        }
        MailTransport::Sendmail { command } => {
            SendmailTransport::new_with_command(command.as_os_str()).send(message).map_err(|e| MailError::Send {
                to: to.to_owned(),
                via: format!("`{}`", command.display()),
                reason: e.to_string(),
            })
        }
    }
}

/// Opens and closes one conversation with the relay, as a mail would (EHLO, STARTTLS and
/// AUTH when configured, then NOOP and QUIT), for `ddns-cgi check`; no mail is sent.
pub(crate) fn check_relay(smtp: &SmtpConfig) -> Result<(), String> {
    match smtp_transport(smtp)?.test_connection() {
        Ok(true) => Ok(()),
        Ok(false) => Err("the connection closed after the greeting".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

fn smtp_transport(smtp: &SmtpConfig) -> Result<SmtpTransport, String> {
    let tls = if smtp.starttls {
        // RFC 3207: the relay must offer STARTTLS, and we verify its certificate.
        Tls::Required(TlsParameters::new(smtp.host.clone()).map_err(|e| e.to_string())?)
    } else {
        Tls::None
    };
    let mut builder =
        SmtpTransport::builder_dangerous(smtp.host.as_str()).port(smtp.port).tls(tls).timeout(Some(SMTP_TIMEOUT));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.expose().clone()));
    }
    Ok(builder.build())
}

/// The name as the owner typed it: punycode labels decoded (IDN), else as stored.
fn shown_name(fqdn: &str) -> String {
    let (unicode, result) = idna::domain_to_unicode(fqdn);
    if result.is_ok() { unicode } else { fqdn.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SmtpConfig;

    fn host(fqdn: &str, ipv4: &str) -> Host {
        Host {
            id: 1,
            fqdn: fqdn.to_owned(),
            zone: "dyn.example.test".to_owned(),
            user_id: 1,
            dns_ttl: 60,
            expiry_ttl: 3600,
            ipv4: ipv4.parse().ok(),
            ipv6: None,
            last_update: Some(1),
            expired: true,
            offline: false,
            txt: None,
            dns_pending: false,
            families: crate::store::Families::BOTH,
        }
    }

    #[test]
    fn every_address_the_config_and_cli_accept_can_be_mailed() {
        use crate::config::is_mailbox;
        let good = [
            "carol@example.test",
            "carol+ddns@example.test",
            "c.a.r.o.l@sub.example.test",
            "o'brien@example.test",
            "x-y_z@a-b.example",
            "jörg@bücher.example",
            "root@localhost",
            "1@2.3",
        ];
        for address in good {
            assert!(is_mailbox(address), "{address}");
            assert!(address.parse::<Mailbox>().is_ok(), "{address}");
        }
        // `carol@` passed `user add` once and then failed every expiry run.
        let bad = [
            "carol@",
            "@example.test",
            "carol",
            "carol@example..test",
            "carol@-example.test",
            "carol@example-.test",
            "carol@example.test.",
            "car..ol@example.test",
            ".carol@example.test",
            "carol.@example.test",
            "carol@[192.0.2.1]",
            "\"carol\"@example.test",
            "<carol@example.test>",
            "Carol <carol@example.test>",
            "ca rol@example.test",
            "carol@exa_mple.test",
            "carol@example.test\n",
            "a@b@example.test",
        ];
        for address in bad {
            assert!(!is_mailbox(address), "{address:?}");
        }
        let long_local = format!("{}@example.test", "a".repeat(65));
        assert!(!is_mailbox(&long_local));
        let long_label = format!("carol@{}.test", "a".repeat(64));
        assert!(!is_mailbox(&long_label));
    }

    #[test]
    fn message_has_headers_and_utf8_names() {
        let config = EmailConfig {
            enabled: true,
            transport: MailTransport::Smtp(SmtpConfig {
                host: "localhost".to_owned(),
                port: 25,
                starttls: false,
                username: None,
                password: None,
            }),
            from_address: "ddns@example.test".to_owned(),
        };
        let a = host("xn--mnchen-3ya.dyn.example.test", "192.0.2.1");
        let b = host("b.dyn.example.test", "192.0.2.2");
        let notice = Notice { owner: "jörg", email: "jörg@example.test", hosts: vec![&a, &b] };
        let text = String::from_utf8(build(&config, &notice, 1_700_000_000).expect("build").formatted()).expect("utf8");
        assert!(text.contains("From: ddns@example.test\r\n"), "{text}");
        assert!(text.contains("Subject: ddns-cgi: 2 hostnames expired\r\n"), "{text}");
        assert!(text.contains("Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"), "{text}");
        assert!(text.contains("Message-ID: <"), "{text}");
        assert!(text.contains("@example.test>\r\n"), "{text}");
        assert!(text.contains("Content-Type: text/plain; charset=utf-8\r\n"), "{text}");
        // The body is non-ASCII, so lettre encodes it; the recipient's name must survive.
        assert!(text.contains("Content-Transfer-Encoding: "), "{text}");
    }
}
