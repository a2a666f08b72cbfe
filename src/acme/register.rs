//! New acme-dns accounts: `POST <path>/register` (off unless `[acme] register`) and `acme
//! add` ([`create_account`]). A registration through the API is counted in the persisted
//! rate limits as a dyndns2 request is (reserved per client address before anything is
//! written, settled by its outcome; over a limit it answers 429 and is not itself counted,
//! as `abuse` is), and held to `[acme] max_accounts` and `max_accounts_per_network`, which
//! the store checks in the transaction that inserts the account. `acme add`, the operator's
//! own command, is held to neither.

use std::net::IpAddr;

use super::{AcmeError, Outcome, Registration, body};
use crate::audit::{self, Refusal};
use crate::auth::token;
use crate::config::{AcmeConfig, Config};
use crate::log::Log;
use crate::ratelimit;
use crate::request::Incoming;
use crate::secret::Secret;
use crate::store::{AccountCaps, CapReached, NewAcmeAccount, Store, StoreError};

/// A registration through the API: the client's network (its rate-limit key) and the caps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ApiRegistration<'a> {
    pub(crate) network: &'a str,
    pub(crate) caps: AccountCaps,
}

/// `POST <path>/register`: the rate-limit reservation first, then the registration, then the
/// reservation settled by what became of it.
pub(super) fn register(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    req: &Incoming<'_>,
    client: Option<IpAddr>,
    log: &Log,
) -> Outcome {
    if !acme.register {
        return Outcome::NotFound;
    }
    let reservation = match ratelimit::reserve(&config.rate_limit, store, client, None, req.now) {
        Ok(Ok(r)) => r,
        Ok(Err(l)) => {
            log.warn(format_args!("rate limit: {l}; registration refused"));
            let refusal = Refusal { answer: "abuse", client, user: None, hostname: None, reason: Some(l.scope) };
            audit::record_refused(config, store, vec![refusal.row(log.txn(), req.now)], log);
            return Outcome::TooManyRequests;
        }
        // Not counted, not let through: the limit must not fail open under load.
        Err(e) => {
            log.error(format_args!("acme: cannot reserve the rate limit for this registration: {e}"));
            return Outcome::DbError;
        }
    };
    let outcome = registered(config, acme, store, req, client, log);
    if let Err(e) = ratelimit::settle(store, reservation, counted_as(&outcome), req.now) {
        log.error(format_args!("acme: cannot settle the rate limit; the registration stays counted as bad: {e}"));
    }
    outcome
}

/// The registration itself, once counted.
fn registered(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    req: &Incoming<'_>,
    client: Option<IpAddr>,
    log: &Log,
) -> Outcome {
    let inside = |ip: IpAddr| acme.register_from.iter().any(|n| n.contains(ip));
    if !acme.register_from.is_empty() && !client.is_some_and(inside) {
        log.info(format_args!("acme: registration from a client outside `acme.register_from`"));
        return Outcome::Forbidden;
    }
    let (allowfrom, chosen) = match body::register(req.body) {
        Ok(b) => (b.allowfrom, b.subdomain),
        Err(e) => {
            log.info(format_args!("acme: registration refused: {e}"));
            return Outcome::MalformedJson;
        }
    };
    // A chosen subdomain, where the config allows one; elsewhere it is ignored, as acme-dns
    // ignores fields it does not know.
    let chosen = match chosen {
        Some(label) if acme.choose_subdomain => match chosen_subdomain(acme, store, &label) {
            Ok(label) => Some(label),
            Err(outcome) => {
                log.info(format_args!("acme: registration refused: subdomain `{}`", crate::log::bounded(&label, 64)));
                return outcome;
            }
        },
        Some(_) => {
            log.info(format_args!("acme: a chosen subdomain ignored: `acme.choose_subdomain` is off"));
            None
        }
        None => None,
    };
    // Clients without an address (no REMOTE_ADDR) share one network.
    let network =
        client.map_or_else(|| "unknown".to_owned(), |ip| ratelimit::client_key(ip, config.rate_limit.ipv6_prefix));
    let caps = AccountCaps {
        max_total: u64::from(acme.max_accounts),
        max_per_network: u64::from(acme.max_accounts_per_network),
    };
    let api = Some(ApiRegistration { network: &network, caps });
    match create_account(acme, store, chosen.as_deref(), &allowfrom, api, req.now) {
        Ok(registration) => {
            log.info(format_args!("acme: registered `{}` from `{network}`", registration.username));
            Outcome::Registered(registration)
        }
        // Taken between the check and the insert.
        Err(AcmeError::Store(StoreError::Exists { what: "acme subdomain", .. })) if chosen.is_some() => {
            Outcome::SubdomainTaken
        }
        Err(AcmeError::Allowfrom(reason)) => {
            log.info(format_args!("acme: registration refused: `allowfrom` entry {reason}"));
            Outcome::InvalidAllowfrom
        }
        Err(AcmeError::Cap(CapReached::Total(n))) => {
            log.warn(format_args!(
                "acme: registration refused: {n} accounts exist, `acme.max_accounts` is {}",
                acme.max_accounts
            ));
            Outcome::TooManyAccounts { per_network: false }
        }
        Err(AcmeError::Cap(CapReached::Network(n))) => {
            log.info(format_args!(
                "acme: registration refused: `{network}` registered {n} accounts, `acme.max_accounts_per_network` is {}",
                acme.max_accounts_per_network
            ));
            Outcome::TooManyAccounts { per_network: true }
        }
        Err(e) => {
            log.error(format_args!("acme: registration failed: {e}"));
            Outcome::DbError
        }
    }
}

/// A subdomain a registration chose, lower-cased: one DNS label (acme-dns's
/// `validSubdomain`, else `bad_subdomain`) that no account and no hostname of the acme zone
/// has (else `subdomain_taken`: an account must not replace a host's TXT records).
fn chosen_subdomain(acme: &AcmeConfig, store: &Store, label: &str) -> Result<String, Outcome> {
    let label = label.to_ascii_lowercase();
    if !body::valid_subdomain(&label) {
        return Err(Outcome::BadSubdomain);
    }
    match store.host(&format!("{label}.{}", acme.zone)) {
        Ok(None) => Ok(label),
        Ok(Some(_)) => Err(Outcome::SubdomainTaken),
        Err(_) => Err(Outcome::DbError),
    }
}

/// How a registration counts toward the rate limits: a new account as a good request, the
/// client's mistakes (and its network's cap) as bad ones, what is not its fault not at all.
/// No `_` arm: a new outcome must choose.
fn counted_as(outcome: &Outcome) -> ratelimit::Outcome {
    match outcome {
        Outcome::Registered(_) => ratelimit::Outcome::Good,
        Outcome::Forbidden
        | Outcome::MalformedJson
        | Outcome::InvalidAllowfrom
        | Outcome::BadSubdomain
        | Outcome::SubdomainTaken
        | Outcome::TooManyAccounts { per_network: true } => ratelimit::Outcome::Bad,
        Outcome::TooManyAccounts { per_network: false } | Outcome::DbError | Outcome::DnsError => {
            ratelimit::Outcome::Neutral
        }
        // Not answers of a registration; a limited request is never settled.
        Outcome::Updated { .. }
        | Outcome::Removed { .. }
        | Outcome::Deregistered { .. }
        | Outcome::Healthy
        | Outcome::Checked(_)
        | Outcome::BadDomain
        | Outcome::ResolverError
        | Outcome::BadTxt
        | Outcome::NotFound
        | Outcome::MethodNotAllowed
        | Outcome::TooManyRequests => ratelimit::Outcome::Neutral,
    }
}

/// Creates an account for `name` (the domain it serves, or empty) limited to `allowfrom`
/// (acme-dns's CIDR list; brackets around IPv6 are dropped as acme-dns does); `api` when it
/// is registered through the API, whose caps it must stay within. The key is returned once
/// and only its digest stored.
pub(crate) fn create_account(
    acme: &AcmeConfig,
    store: &mut Store,
    chosen: Option<&str>,
    allowfrom: &[String],
    api: Option<ApiRegistration<'_>>,
    now: i64,
) -> Result<Registration, AcmeError> {
    let mut created = create(acme, store, &[String::new()], chosen, allowfrom, api, now)?;
    Ok(created.swap_remove(0).1)
}

/// Creates one account for all of `names` (at least one; `acme add NAME --name ...`), each
/// with a subdomain of its own: one user name and key that may set the challenge values of
/// every one of them and of nothing else. Returns each name with its registration (the same
/// credentials, its own subdomain), first name first, as acme-dns clients keep them per
/// domain.
pub(crate) fn create_account_with_names(
    acme: &AcmeConfig,
    store: &mut Store,
    names: &[String],
    allowfrom: &[String],
    now: i64,
) -> Result<Vec<(String, Registration)>, AcmeError> {
    create(acme, store, names, None, allowfrom, None, now)
}

/// Both of the above: `chosen` is the first name's subdomain, else a UUID.
fn create(
    acme: &AcmeConfig,
    store: &mut Store,
    names: &[String],
    chosen: Option<&str>,
    allowfrom: &[String],
    api: Option<ApiRegistration<'_>>,
    now: i64,
) -> Result<Vec<(String, Registration)>, AcmeError> {
    let networks = body::networks(allowfrom).map_err(AcmeError::Allowfrom)?;
    let username = uuid().map_err(AcmeError::Random)?;
    let mut subdomains = Vec::with_capacity(names.len().max(1));
    if let Some(label) = chosen {
        subdomains.push(label.to_owned());
    }
    while subdomains.len() < names.len().max(1) {
        subdomains.push(uuid().map_err(AcmeError::Random)?);
    }
    let key = generate_key().map_err(AcmeError::Random)?;
    let digest = token::digest(key.expose());
    let joined = networks.join(",");
    let first = names.first().map_or("", String::as_str);
    let extra: Vec<(String, String)> = names.iter().skip(1).cloned().zip(subdomains.iter().skip(1).cloned()).collect();
    let account = NewAcmeAccount {
        name: first,
        username: &username,
        key_digest: &digest,
        subdomain: &subdomains[0],
        allowfrom: &joined,
        registered_from: api.map(|a| a.network),
        extra: &extra,
    };
    store.add_acme_account(&account, api.map(|a| a.caps), now)?.map_err(AcmeError::Cap)?;
    let registration = |subdomain: &String| Registration {
        fulldomain: format!("{subdomain}.{}", acme.zone),
        username: username.clone(),
        password: Secret::new(key.expose().clone()),
        subdomain: subdomain.clone(),
        allowfrom: networks.clone(),
    };
    let mut out = vec![(first.to_owned(), registration(&subdomains[0]))];
    out.extend(extra.iter().map(|(name, subdomain)| (name.clone(), registration(subdomain))));
    Ok(out)
}

/// A random (version 4) UUID, RFC 9562 §5.4.
fn uuid() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// A key as acme-dns makes them (`generatePassword(40)`): 40 characters of its 64-letter
/// alphabet, each from 6 uniform random bits.
fn generate_key() -> Result<Secret<String>, getrandom::Error> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz1234567890-_";
    let mut bytes = [0u8; body::KEY_LEN];
    getrandom::fill(&mut bytes)?;
    Ok(Secret::new(bytes.iter().map(|b| char::from(ALPHABET[usize::from(b & 63)])).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_have_acme_dns_shapes() {
        let id = uuid().expect("uuid");
        assert_eq!(body::parse_uuid(&id.to_ascii_uppercase()), Some(id.clone()));
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(body::key_shaped(generate_key().expect("key").expose()));
    }

    #[test]
    fn uuids_carry_version_4_and_the_rfc_variant_over_random_bits() {
        // Version nibble `4`, variant bits `10` (`8` to `b`), the other bits random: over 64
        // draws every one of them keeps the fixed bits, and the bits beside them vary.
        let ids: Vec<String> = (0..64).map(|_| uuid().expect("uuid")).collect();
        for id in &ids {
            let b = id.as_bytes();
            assert_eq!(b[14], b'4', "{id}");
            assert!(b"89ab".contains(&b[19]), "{id}");
        }
        for at in [15, 19, 20] {
            let seen: std::collections::HashSet<u8> = ids.iter().map(|id| id.as_bytes()[at]).collect();
            assert!(seen.len() > 1, "position {at} never varies");
        }
    }
}
