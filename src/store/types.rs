//! The domain types of the database interface: the rows callers read (users, hostnames,
//! tokens, relays, acme-dns accounts, audit rows, counters), what they ask the store to write,
//! and what a write did. Both engines map their rows to these; `mod.rs` re-exports them, so
//! callers name them `store::Host`, `store::User`...

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::secret::Secret;

/// How to open the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// Create the file (mode 0600) if it is missing; the admin CLI.
    Create,
    /// The file must exist; the request path.
    Existing,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct User {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) password_hash: String,
}

/// A user as the web console sees one: the row with its admin flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WebUser {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) admin: bool,
    pub(crate) password_hash: String,
}

/// A web console session found by its digest, with its user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WebSession {
    pub(crate) user: WebUser,
    pub(crate) created_at: i64,
    pub(crate) last_seen: i64,
}

/// The audit kind of a change made in the web console that sends nothing to DNS (a token
/// created or revoked, a password or mail changed, an admin's action): in the trail with the
/// web user, but not counted as an update answer in the metrics.
pub(crate) const ACCOUNT_KIND: &str = "account";

/// When sessions have ended: those last seen before `idle_before` or created before
/// `created_before` (the caller computes both from `now` and `[web]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionEnds {
    pub(crate) idle_before: i64,
    pub(crate) created_before: i64,
}

/// A hostname row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Host {
    pub(crate) id: i64,
    /// Punycode, lower case, no trailing dot.
    pub(crate) fqdn: String,
    pub(crate) zone: String,
    pub(crate) user_id: i64,
    pub(crate) dns_ttl: u32,
    pub(crate) expiry_ttl: u32,
    pub(crate) ipv4: Option<Ipv4Addr>,
    pub(crate) ipv6: Option<Ipv6Addr>,
    pub(crate) last_update: Option<i64>,
    pub(crate) expired: bool,
    /// Taken offline by its owner: no records in DNS, no addresses in the row.
    pub(crate) offline: bool,
    /// The TXT value published with `txt=`; `None` when the host has no TXT record.
    pub(crate) txt: Option<String>,
    /// A change was sent to the DNS server and its row write has not followed (it failed, or
    /// is under way): DNS may hold other records than this row, so the next change publishes
    /// the row's records whole, even for a repeat.
    pub(crate) dns_pending: bool,
    /// Which address families the host's updates may set (`hostname add/modify --ipv4
    /// on|off`); an update's address of a family that is off is ignored for this host.
    pub(crate) families: Families,
}

/// The address families a host accepts, as the DDnsBroker's "IPv4 enabled" / "IPv6 enabled".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Families {
    pub(crate) ipv4: bool,
    pub(crate) ipv6: bool,
}

impl Families {
    /// Both families: a new host's, and every host's before the switches existed.
    pub(crate) const BOTH: Families = Families { ipv4: true, ipv6: true };

    /// The addresses of these that the host accepts: a family that is off gives `None`.
    pub(crate) fn accepted(
        self,
        ipv4: Option<Ipv4Addr>,
        ipv6: Option<Ipv6Addr>,
    ) -> (Option<Ipv4Addr>, Option<Ipv6Addr>) {
        (ipv4.filter(|_| self.ipv4), ipv6.filter(|_| self.ipv6))
    }
}

/// What `hostname modify` writes: the TTLs and the families. A family switched off has its
/// address cleared with it (its record was removed from DNS first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HostSettings {
    pub(crate) dns_ttl: u32,
    pub(crate) expiry_ttl: u32,
    pub(crate) families: Families,
}

/// The longest a repeat (`nochg`) leaves a host's last-update time unwritten (docs/design/repeats.md,
/// "The touch"): a host's touch interval is this, or its `expiry_ttl` divided by
/// [`TOUCH_FRACTION`] if shorter ([`Host::touch_interval`]).
pub(crate) const TOUCH_INTERVAL_SECS: i64 = 60;

/// The touch interval is at most this fraction of `expiry_ttl` (so at least 6 s, as
/// `expiry_ttl` is at least 60 s when the host expires at all).
pub(crate) const TOUCH_FRACTION: i64 = 10;

impl Host {
    /// How long a repeat may leave the last-update time unwritten: [`TOUCH_INTERVAL_SECS`],
    /// or a tenth of `expiry_ttl` when that is shorter. The stored time may be this much
    /// older than the host's last repeat, so the expiry run adds it to the cut-off
    /// (`store`'s `touch_interval_sql`, the same rule in SQL): a host never expires less than
    /// `expiry_ttl` after its last refresh.
    pub(crate) fn touch_interval(&self) -> i64 {
        match self.expiry_ttl {
            0 => TOUCH_INTERVAL_SECS,
            ttl => TOUCH_INTERVAL_SECS.min(i64::from(ttl) / TOUCH_FRACTION),
        }
    }
}

/// A hostname to create.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewHost<'a> {
    pub(crate) fqdn: &'a str,
    pub(crate) zone: &'a str,
    pub(crate) user_id: i64,
    pub(crate) dns_ttl: u32,
    pub(crate) expiry_ttl: u32,
    /// `hostname add` sets them; a hostname `derive` creates accepts both.
    pub(crate) families: Families,
}

/// One hostname of `hostname import`, with the digest and scope of the token to store for
/// it, if the import makes one.
pub(crate) struct ImportedHost<'a> {
    pub(crate) host: NewHost<'a>,
    pub(crate) token: Option<(&'a [u8], &'a TokenScope)>,
}

/// What to write back after a locked host read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HostWrite {
    /// Nothing changes.
    None,
    /// The addresses are current: refresh the last-update time only (`nochg`).
    Touch { now: i64 },
    /// The DNS server accepted these addresses and this TXT value with this TTL: store them
    /// and clear `expired` and `offline`.
    Addresses { ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, txt: Option<String>, dns_ttl: u32, now: i64 },
    /// The change was marked `dns_pending` and then failed in a way known to leave DNS as it
    /// was (never sent, or refused in a verified answer): clear the mark, nothing else.
    Unmark,
    /// The DNS server removed the host's records on the owner's request: clear the
    /// addresses and the TXT value (the row never claims more than DNS has) and mark the
    /// host offline.
    Offline { now: i64 },
}

/// The limits of a token as stored; `None` is no limit. `token` parses and checks them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TokenScope {
    pub(crate) types: Option<String>,
    pub(crate) networks: Option<String>,
    pub(crate) expires_at: Option<i64>,
}

/// A token's row with its hostname and owner, found by digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenGrant {
    pub(crate) digest: Vec<u8>,
    pub(crate) host: Host,
    pub(crate) owner: User,
    pub(crate) scope: TokenScope,
}

/// What `hostname list` shows of a token: its scope and age, never the digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenInfo {
    pub(crate) scope: TokenScope,
    pub(crate) created_at: i64,
}

/// One rate-limit counter to check: rows of `scope`/`key` at or after `since`, of which
/// there may be at most `max - 1` for the request to go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Counter<'a> {
    pub(crate) scope: &'static str,
    pub(crate) key: &'a str,
    pub(crate) since: i64,
    pub(crate) max: u64,
}

/// A rate-limit row as it was written, to remove it again when a reservation settles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CountedRow {
    pub(crate) id: i64,
    pub(crate) scope: &'static str,
    pub(crate) key: String,
    pub(crate) at: i64,
}

/// A user with the number of hostnames they own, for `user list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct UserSummary {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) created_at: i64,
    pub(crate) n_hosts: i64,
}

/// A hostname with its owner's name, for `hostname list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HostListing {
    pub(crate) host: Host,
    pub(crate) owner: String,
    pub(crate) token: Option<TokenInfo>,
}

/// An expired hostname whose owner has not been told yet, claimed for one mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unnotified {
    pub(crate) host: Host,
    pub(crate) owner: String,
    pub(crate) email: String,
}

/// What one locked expiry chunk saw and did.
#[derive(Debug)]
pub(crate) struct ExpiryChunk<T> {
    /// The candidates as first read, in id order, before their host locks were taken (those
    /// still due were handed to the closure); empty when none are left.
    pub(crate) hosts: Vec<Host>,
    /// How many rows were marked expired.
    pub(crate) n_expired: usize,
    /// What the caller's closure returned.
    pub(crate) value: T,
}

/// The rate-limit rows of one counter (scope and key), for `ratelimit list`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RateLimitCounter {
    pub(crate) scope: String,
    pub(crate) key: String,
    /// When each counted request came, oldest first.
    pub(crate) at: Vec<i64>,
}

/// An acme-dns account: credentials that may set the challenge TXT records of one name,
/// `<subdomain>.<[acme] zone>`. Only the key's SHA-256 digest is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AcmeAccount {
    pub(crate) id: i64,
    /// What the account is for (the domain given to `acme add`); empty when registered
    /// through the API.
    pub(crate) name: String,
    /// A UUID, lower case.
    pub(crate) username: String,
    pub(crate) key_digest: Vec<u8>,
    /// A UUID, lower case: the label below the acme zone.
    pub(crate) subdomain: String,
    /// Networks updates may come from, comma-separated; empty allows any.
    pub(crate) allowfrom: String,
    /// The subdomains of its further names (`acme add --name`), each below the acme zone.
    pub(crate) extra: Vec<String>,
}

impl AcmeAccount {
    /// Every subdomain the account may set values at: its first, then its further names'.
    pub(crate) fn subdomains(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.subdomain.as_str()).chain(self.extra.iter().map(String::as_str))
    }
}

/// One challenge value of an acme-dns account, published while it is among the account's
/// `[acme] values` newest and younger than `[acme] value_ttl`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AcmeValue {
    pub(crate) txt: String,
    /// When it was set (or set again), seconds since the epoch.
    pub(crate) set_at: i64,
}

/// An acme-dns account to create.
#[derive(Debug)]
pub(crate) struct NewAcmeAccount<'a> {
    pub(crate) name: &'a str,
    pub(crate) username: &'a str,
    pub(crate) key_digest: &'a [u8],
    pub(crate) subdomain: &'a str,
    pub(crate) allowfrom: &'a str,
    /// The counter key (`ratelimit::client_key`) of the client that registered it through
    /// the API; `None` for `acme add`.
    pub(crate) registered_from: Option<&'a str>,
    /// Further names, each `(name, subdomain)` (`acme add --name`).
    pub(crate) extra: &'a [(String, String)],
}

/// The caps a registration through the API is held to, checked in the transaction that
/// inserts it, so that concurrent registrations cannot pass them together.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AccountCaps {
    /// Accounts in all (however created); at this many, no new one.
    pub(crate) max_total: u64,
    /// Accounts registered from the new one's `registered_from` network.
    pub(crate) max_per_network: u64,
}

/// Which cap a registration would pass, with the accounts counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CapReached {
    Total(u64),
    Network(u64),
}

/// An upstream dyndns2 provider that a hostname's accepted updates are forwarded to (`relay`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Relay {
    pub(crate) id: i64,
    /// The upstream's update URL with its own `hostname=`; never holds credentials.
    pub(crate) url: String,
    pub(crate) username: String,
    /// Sent as HTTP Basic credentials, so stored as given (SECURITY.md, "Relay passwords").
    pub(crate) password: Secret<String>,
    /// Forwarded instead of the local RFC 2136 update, not in addition to it.
    pub(crate) replaces_local: bool,
    /// Set when the upstream answered `badauth` or `abuse`; only an admin clears it.
    pub(crate) paused: Option<RelayPause>,
    /// The addresses the upstream last accepted (`good` or `nochg`).
    pub(crate) last_ipv4: Option<Ipv4Addr>,
    pub(crate) last_ipv6: Option<Ipv6Addr>,
    /// The upstream's last answer as we classified it, and when.
    pub(crate) last_result: Option<String>,
    pub(crate) last_at: Option<i64>,
}

/// Why and since when a relay is paused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RelayPause {
    pub(crate) since: i64,
    /// The upstream's answer token (`badauth`, `abuse`).
    pub(crate) reason: String,
}

/// A relay to add to a hostname, or to replace (same URL).
#[derive(Debug)]
pub(crate) struct NewRelay<'a> {
    pub(crate) url: &'a str,
    pub(crate) username: &'a str,
    pub(crate) password: &'a Secret<String>,
    pub(crate) replaces_local: bool,
}

/// What one relay attempt did, to be written back to its row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum RelayOutcome {
    /// The upstream answered `good` or `nochg`: these addresses are current there.
    Accepted { ipv4: Option<Ipv4Addr>, ipv6: Option<Ipv6Addr>, result: String },
    /// Any other answer, a timeout or a transport failure; `result` says which.
    Failed { result: String },
    /// `badauth` or `abuse`: stop sending until an admin clears the pause.
    Paused { reason: String },
}

/// The result of an admin change to one relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RelayChange {
    /// There is no such hostname.
    NoHost,
    /// The hostname has no relay with that URL.
    NoRelay,
    /// Nothing to do (e.g. the relay was not paused).
    Unchanged,
    /// A new relay was added.
    Added,
    /// An existing relay was changed (replaced, removed or resumed).
    Changed,
}

/// A hostname that follows another's IPv6 prefix (`hostname derive`), as the fan-out reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Derived {
    pub(crate) fqdn: String,
    /// The child's stored IPv4, for the host-bit rules of its own children.
    pub(crate) ipv4: Option<Ipv4Addr>,
    /// The bits after the prefix (`--ipv6-iid`).
    pub(crate) ipv6_iid: Ipv6Addr,
    /// `--ipv4` as given (`fanout::Ipv4Rule`); `None` leaves the A record alone.
    pub(crate) ipv4_rule: Option<String>,
    /// `--ttl`; `None` keeps the child's `dns_ttl`.
    pub(crate) dns_ttl: Option<u32>,
}

/// A derivation for `hostname list`: the child, its parent and its rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Derivation {
    pub(crate) child: String,
    pub(crate) parent: String,
    pub(crate) ipv6_iid: Ipv6Addr,
    pub(crate) ipv4_rule: Option<String>,
    pub(crate) dns_ttl: Option<u32>,
}

/// What `hostname derive` asks: `child` follows `parent`; it is created as given when
/// missing, owned by the parent's owner whatever `child.user_id` says.
#[derive(Debug)]
pub(crate) struct NewDerivation<'a> {
    pub(crate) parent: &'a str,
    pub(crate) child: NewHost<'a>,
    pub(crate) ipv6_iid: Ipv6Addr,
    pub(crate) ipv4_rule: Option<String>,
    pub(crate) dns_ttl: Option<u32>,
}

/// What `hostname derive` did, or why it refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeriveOutcome {
    /// The child follows the parent now; `created` when its row was made for it.
    Done { created: bool },
    /// There is no such parent hostname.
    NoParent,
    /// The child exists and belongs to someone other than the parent's owner.
    OtherOwner { owner: String },
    /// The child is the parent, or one of the hosts the parent follows.
    Cycle,
}

/// One row of the audit trail (`audit.rs`): an accepted change of a host (`kind` `change`:
/// `good`, `nochg`, or `dnserr` with the rcode) or a refused attempt (`kind` `refused`: the
/// answer given, such as `badauth`, `abuse`, `nohost`, `badip`). It never holds a secret:
/// the user name is the one given or authenticated, `auth` names the method only.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct AuditRow {
    /// Seconds since the epoch.
    pub(crate) at: i64,
    /// `change` or `refused`.
    pub(crate) kind: &'static str,
    /// The dyndns2 answer token.
    pub(crate) answer: String,
    /// The request's transaction id, as in its log lines.
    pub(crate) txn: String,
    pub(crate) client: Option<String>,
    pub(crate) hostname: Option<String>,
    /// The authenticated user (a change), or the user name given, bounded (a refusal).
    pub(crate) user: Option<String>,
    /// `password` or `token` for a change; none for a refusal.
    pub(crate) auth: Option<String>,
    pub(crate) old_ipv4: Option<String>,
    pub(crate) old_ipv6: Option<String>,
    pub(crate) new_ipv4: Option<String>,
    pub(crate) new_ipv6: Option<String>,
    /// The TXT values before and after, only when the change set or cleared TXT.
    pub(crate) old_txt: Option<String>,
    pub(crate) new_txt: Option<String>,
    /// The DNS server's rcode name (or `timeout`, `unreachable`...) of a `dnserr`.
    pub(crate) rcode: Option<String>,
    /// A short detail: the rate-limit scope of an `abuse`, why credentials failed.
    pub(crate) reason: Option<String>,
}

/// What the store writes for the audit trail with a change: the rows, and whether to keep
/// them (`[audit] keep_days` > 0). The metric counters count them either way.
#[derive(Debug, Default)]
pub(crate) struct AuditWrite {
    pub(crate) rows: Vec<AuditRow>,
    pub(crate) keep: bool,
}

/// One metric counter as stored: its name, its label value (empty for none), its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CounterValue {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) value: i64,
}

/// How many hostnames are in each state, for the metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HostCounts {
    pub(crate) n_hosts: i64,
    pub(crate) n_expired: i64,
    pub(crate) n_offline: i64,
}

/// What a SQLite backup or a file offered for restore holds (`backup`, `restore`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Contents {
    pub(crate) schema_version: i64,
    pub(crate) n_users: i64,
    pub(crate) n_hostnames: i64,
    /// Rows of the audit trail (0 before the schema had one).
    pub(crate) n_audit: i64,
}
