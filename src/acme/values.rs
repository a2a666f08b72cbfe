//! An account's challenge values: which ones are published after a value arrives or is
//! removed (the `[acme] values` newest, each until `[acme] value_ttl` after it was set), the
//! locked exchange that publishes them, the expiry run's removal of old ones, and the deletion
//! of an account with its records. acme-dns keeps the two newest values for ever; with the
//! defaults (2 values, 1 hour) an account here publishes what acme-dns would during a
//! validation, and nothing once it is long done.

use hickory_proto::rr::Name;

use super::AcmeError;
use crate::config::{AcmeConfig, Config};
use crate::dns::{self, DnsError};
use crate::log::Log;
use crate::store::{AcmeAccount, AcmeValue, Store};

/// What a request does to an account's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Change<'a> {
    /// Publish this value as the newest (again, if it is there already).
    Add(&'a str),
    /// Stop publishing this value (`DELETE <path>/update`).
    Remove(&'a str),
    /// Only drop the values past their lifetime (the expiry run).
    Expire,
}

/// The clock (TSIG signing, the rows' times) and the time values are judged as of: they
/// differ only in an expiry run with `--now`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Times {
    pub(crate) now: i64,
    pub(crate) judged_at: i64,
}

/// How many values an account keeps, and for how long.
#[derive(Clone, Copy, Debug)]
pub(super) struct Keep {
    pub(super) n_values: usize,
    pub(super) value_ttl: i64,
}

impl Keep {
    pub(super) fn of(acme: &AcmeConfig) -> Keep {
        Keep { n_values: acme.values as usize, value_ttl: i64::from(acme.value_ttl) }
    }
}

/// The values after `change`, newest first: the ones past their lifetime dropped, a value
/// added goes first (once, with the time `now`), then at most `keep.n_values` of them.
pub(super) fn next(current: &[AcmeValue], change: Change<'_>, now: i64, keep: Keep) -> Vec<AcmeValue> {
    let live = |v: &&AcmeValue| v.set_at + keep.value_ttl > now;
    let mut values: Vec<AcmeValue> = Vec::with_capacity(keep.n_values + 1);
    if let Change::Add(txt) = change {
        values.push(AcmeValue { txt: txt.to_owned(), set_at: now });
    }
    let gone = match change {
        Change::Add(txt) | Change::Remove(txt) => Some(txt),
        Change::Expire => None,
    };
    values.extend(current.iter().filter(live).filter(|v| Some(v.txt.as_str()) != gone).cloned());
    values.truncate(keep.n_values.max(1));
    values
}

/// The challenge name of `subdomain`: `<subdomain>.<[acme] zone>.`.
pub(super) fn challenge_name(config: &Config, acme: &AcmeConfig, subdomain: &str) -> Result<Name, AcmeError> {
    let Some(zone) = config.zone(&acme.zone) else {
        return Err(AcmeError::NoZone(acme.zone.clone()));
    };
    Name::from_ascii(format!("{subdomain}.{}.", acme.zone))
        .map_err(|e| AcmeError::Dns(DnsError::Malformed { server: zone.server, reason: e.to_string() }))
}

/// Applies `change` to the account's values under its lock: one UPDATE replaces the TXT rrset
/// (RFC 2136 §2.5.2, §2.5.1) by the values kept, and the rows are written only after the
/// server accepted it. A change that leaves the published set as it was (a value removed that
/// was not there, an expiry with nothing due) sends nothing. `account` is the one that
/// authenticated (the expiry run passes `None`): the row read under the lock must still be it,
/// since the id of a deleted account may be taken by a new one.
pub(super) fn apply(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    (id, subdomain): (i64, &str),
    account: Option<&AcmeAccount>,
    change: Change<'_>,
    times: Times,
) -> Result<(), AcmeError> {
    let Times { now, judged_at } = times;
    let Some(zone) = config.zone(&acme.zone) else {
        return Err(AcmeError::NoZone(acme.zone.clone()));
    };
    let fqdn = challenge_name(config, acme, subdomain)?;
    // The lock of the challenge name: the same stripes as hosts, so an update of a host of
    // that name (there should be none) is ordered with it too.
    let key = fqdn.to_ascii();
    let key = key.trim_end_matches('.');
    let keep = Keep::of(acme);
    let done = store.with_acme_locked((id, subdomain), key, now, |current, values| {
        if let Some(a) = account
            && (current.username != a.username || current.key_digest != a.key_digest)
        {
            return Err(AcmeError::Gone);
        }
        let kept = next(values, change, judged_at, keep);
        let same = |a: &[AcmeValue], b: &[AcmeValue]| a.iter().map(|v| &v.txt).eq(b.iter().map(|v| &v.txt));
        if matches!(change, Change::Add(_)) || !same(&kept, values) {
            let txts: Vec<&str> = kept.iter().map(|v| v.txt.as_str()).collect();
            let message = dns::txt_message(&zone.name, &fqdn, acme.ttl, &txts)?;
            dns::exchange(zone, message, u64::try_from(now).unwrap_or(0))?;
        }
        Ok::<_, AcmeError>(kept)
    })?;
    done.ok_or(AcmeError::Gone)
}

/// Deletes an account: the TXT records of each of its names out of DNS first (one UPDATE
/// deleting the rrset per name), then its rows, under the locks of all its names. `account`
/// as it authenticated (or as the shell named it); a row that is no longer it is
/// [`AcmeError::Gone`]. A name whose deletion fails leaves the account as it was (the names
/// before it have no records then, which is what a deleted account has).
pub(crate) fn delete_account(
    config: &Config,
    acme: &AcmeConfig,
    store: &mut Store,
    account: &AcmeAccount,
    now: i64,
) -> Result<(), AcmeError> {
    let Some(zone) = config.zone(&acme.zone) else {
        return Err(AcmeError::NoZone(acme.zone.clone()));
    };
    let names = account.subdomains().map(|s| challenge_name(config, acme, s)).collect::<Result<Vec<_>, _>>()?;
    let keys: Vec<String> = names.iter().map(|n| n.to_ascii().trim_end_matches('.').to_owned()).collect();
    let done = store.delete_acme_locked(account.id, &keys, |current| {
        if current.username != account.username || current.key_digest != account.key_digest {
            return Err(AcmeError::Gone);
        }
        // Sent even when no value is stored: a record left by an older run goes too.
        for fqdn in &names {
            let message = dns::txt_message(&zone.name, fqdn, acme.ttl, &[])?;
            dns::exchange(zone, message, u64::try_from(now).unwrap_or(0))?;
        }
        Ok::<_, AcmeError>(())
    })?;
    done.ok_or(AcmeError::Gone)
}

/// The expiry run's part: every account with a value set `[acme] value_ttl` ago or earlier
/// publishes its younger values only. Returns the accounts changed and the failures (each
/// logged); one failing account does not stop the others.
pub(crate) fn expire(config: &Config, store: &mut Store, times: Times, log: &Log) -> (usize, Vec<String>) {
    let Some(acme) = &config.acme else { return (0, Vec::new()) };
    let due = match store.acme_values_due(times.judged_at - i64::from(acme.value_ttl)) {
        Ok(due) => due,
        Err(e) => {
            let message = format!("cannot read the acme-dns values due: {e}");
            log.error(&message);
            return (0, vec![message]);
        }
    };
    let mut failures = Vec::new();
    let mut n_accounts = 0;
    for (id, subdomain) in due {
        match apply(config, acme, store, (id, &subdomain), None, Change::Expire, times) {
            Ok(()) => {
                n_accounts += 1;
                log.info(format_args!(
                    "acme: `{subdomain}.{}`: values older than {}s removed",
                    acme.zone, acme.value_ttl
                ));
            }
            // Deleted meanwhile: nothing left to remove.
            Err(AcmeError::Gone) => {}
            Err(e) => {
                let message = format!("acme: `{subdomain}.{}`: cannot remove old values: {e}", acme.zone);
                log.error(&message);
                failures.push(message);
            }
        }
    }
    (n_accounts, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(txt: &str, set_at: i64) -> AcmeValue {
        AcmeValue { txt: txt.to_owned(), set_at }
    }

    const TWO: Keep = Keep { n_values: 2, value_ttl: 3600 };

    #[track_caller]
    fn check(current: &[AcmeValue], change: Change<'_>, now: i64, keep: Keep, expected: &[AcmeValue]) {
        assert_eq!(next(current, change, now, keep), expected);
    }

    /// With acme-dns's two values: the newest and the one before it, as acme-dns keeps them.
    #[test]
    fn two_newest_values_are_kept() {
        check(&[], Change::Add("a"), 10, TWO, &[v("a", 10)]);
        check(&[v("a", 10)], Change::Add("b"), 11, TWO, &[v("b", 11), v("a", 10)]);
        check(&[v("b", 11), v("a", 10)], Change::Add("c"), 12, TWO, &[v("c", 12), v("b", 11)]);
        // A repeated value does not push out the other one; it is set again.
        check(&[v("c", 12), v("b", 11)], Change::Add("b"), 13, TWO, &[v("b", 13), v("c", 12)]);
    }

    #[test]
    fn more_values_each_with_its_lifetime() {
        let ten = Keep { n_values: 10, value_ttl: 3600 };
        let mut values = Vec::new();
        for (i, txt) in ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"].into_iter().enumerate() {
            values = next(&values, Change::Add(txt), 100 + i as i64, ten);
        }
        assert_eq!(values.len(), 10);
        assert_eq!(values.first(), Some(&v("k", 110)));
        assert_eq!(values.last(), Some(&v("b", 101)));
        // An hour after it was set a value is gone, whatever happens next; the younger stay.
        let later = next(&values, Change::Expire, 102 + 3600, ten);
        assert_eq!(later.len(), 8, "{later:?}");
        assert_eq!(later.last(), Some(&v("d", 103)));
        assert_eq!(next(&values, Change::Add("z"), 110 + 3600, ten), [v("z", 3710)]);
        assert_eq!(next(&values, Change::Expire, 101 + 3599, ten), values);
    }

    #[test]
    fn one_value_is_removed() {
        let values = [v("c", 12), v("b", 11), v("a", 10)];
        let keep = Keep { n_values: 3, value_ttl: 3600 };
        check(&values, Change::Remove("b"), 20, keep, &[v("c", 12), v("a", 10)]);
        // A value that is not there leaves the others.
        check(&values, Change::Remove("x"), 20, keep, &values);
        check(&[], Change::Remove("x"), 20, keep, &[]);
    }
}
