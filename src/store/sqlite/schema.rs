//! The schema as ordered migrations: entry `i` brings a database from version `i` to `i + 1`
//! (`PRAGMA user_version`). Append only; never edit an entry that has shipped.

/// The schema version this ddns-cgi writes: the number of migrations.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Ordered migrations; entry `i` brings the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        email         TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL
    );
    CREATE TABLE hostnames (
        id          INTEGER PRIMARY KEY,
        fqdn        TEXT NOT NULL UNIQUE,
        zone        TEXT NOT NULL,
        user_id     INTEGER NOT NULL REFERENCES users(id),
        dns_ttl     INTEGER NOT NULL,
        expiry_ttl  INTEGER NOT NULL,
        ipv4        TEXT,
        ipv6        TEXT,
        last_update INTEGER,
        expired     INTEGER NOT NULL DEFAULT 0,
        notified    INTEGER NOT NULL DEFAULT 1,
        created_at  INTEGER NOT NULL
    );
    CREATE INDEX hostnames_user ON hostnames(user_id);
    -- One row per counted request; `scope` is e.g. `bad-addr`, `key` the address or user.
    CREATE TABLE rate_limit (
        scope TEXT NOT NULL,
        key   TEXT NOT NULL,
        at    INTEGER NOT NULL
    );
    CREATE INDEX rate_limit_lookup ON rate_limit(scope, key, at);",
    // Offline hosts (dyndns2 `offline=yes`, `/nic/delete`): their records were removed on
    // request and the row's addresses cleared; the next update with an address restores them.
    "ALTER TABLE hostnames ADD COLUMN offline INTEGER NOT NULL DEFAULT 0;",
    // Per-host tokens: at most one per hostname (a new one replaces it), found by the
    // SHA-256 digest of the token, which is all that is stored. A scope column left NULL
    // means no limit; `types` and `networks` are comma-separated lists, `expires_at` the
    // first second the token no longer works. Deleting the hostname deletes its token.
    "CREATE TABLE tokens (
        hostname_id INTEGER PRIMARY KEY REFERENCES hostnames(id) ON DELETE CASCADE,
        digest      BLOB NOT NULL,
        types       TEXT,
        networks    TEXT,
        expires_at  INTEGER,
        created_at  INTEGER NOT NULL
    );
    CREATE UNIQUE INDEX tokens_digest ON tokens(digest);",
    // TXT records (`txt=` on an update): the value the DNS server holds for the host, so an
    // unchanged value answers `nochg` and the expiry run removes it with the addresses.
    // acme-dns accounts (`acme add`, `POST /acme/register`): `username` and `subdomain` are
    // UUIDs, `key_digest` the SHA-256 digest of the 40-character key (all that is stored of
    // it), `allowfrom` a comma-separated list of networks (empty: any), `txt_new` and `txt_old`
    // the two newest challenge values published at `<subdomain>.<[acme] zone>`.
    "ALTER TABLE hostnames ADD COLUMN txt TEXT;
    CREATE TABLE acme_accounts (
        id         INTEGER PRIMARY KEY,
        name       TEXT NOT NULL,
        username   TEXT NOT NULL UNIQUE,
        key_digest BLOB NOT NULL,
        subdomain  TEXT NOT NULL UNIQUE,
        allowfrom  TEXT NOT NULL DEFAULT '',
        txt_new    TEXT,
        txt_old    TEXT,
        updated_at INTEGER,
        created_at INTEGER NOT NULL
    );",
    // Relays to upstream dyndns2 providers (`relay`): each accepted update of the hostname is
    // forwarded to `url` with Basic credentials the process must send, so the password is
    // stored as given (see SECURITY.md; the file is 0600). `replaces_local` skips the local
    // RFC 2136 update. `paused_at`/`paused_reason` are set by an upstream's `badauth` or
    // `abuse` and cleared only by an admin; `last_ipv4`/`last_ipv6` are the addresses the
    // upstream last accepted. Deleting the hostname deletes its relays.
    "CREATE TABLE relays (
        id             INTEGER PRIMARY KEY,
        hostname_id    INTEGER NOT NULL REFERENCES hostnames(id) ON DELETE CASCADE,
        url            TEXT NOT NULL,
        username       TEXT NOT NULL,
        password       TEXT NOT NULL,
        replaces_local INTEGER NOT NULL DEFAULT 0,
        paused_at      INTEGER,
        paused_reason  TEXT,
        last_ipv4      TEXT,
        last_ipv6      TEXT,
        last_result    TEXT,
        last_at        INTEGER,
        created_at     INTEGER NOT NULL,
        UNIQUE (hostname_id, url)
    );",
    // IPv6 prefix fan-out (`hostname derive`): a child follows the hostname `derived_from`;
    // its AAAA is the parent's reported prefix with `ipv6_iid` (an IPv6 address holding the
    // bits after the prefix), its A follows `ipv4_rule` (`fanout::Ipv4Rule`, NULL: left
    // alone), with `derived_ttl` as TTL (NULL: its own `dns_ttl`). Deleting the parent
    // ends the relation (ON DELETE SET NULL); the child keeps its records.
    "ALTER TABLE hostnames ADD COLUMN derived_from INTEGER REFERENCES hostnames(id) ON DELETE SET NULL;
    ALTER TABLE hostnames ADD COLUMN ipv6_iid TEXT;
    ALTER TABLE hostnames ADD COLUMN ipv4_rule TEXT;
    ALTER TABLE hostnames ADD COLUMN derived_ttl INTEGER;
    CREATE INDEX hostnames_derived_from ON hostnames(derived_from);",
    // The audit trail (`audit.rs`): one row per accepted change or refused attempt, never a
    // secret; the expiry run deletes rows older than `[audit] keep_days`. `counters` holds
    // the metrics' monotonic counts (`metrics.rs`), bumped with each audit write whether or
    // not rows are kept, and single values such as the last successful expiry run's time.
    "CREATE TABLE audit (
        id        INTEGER PRIMARY KEY,
        at        INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        answer    TEXT NOT NULL,
        txn       TEXT NOT NULL,
        client    TEXT,
        hostname  TEXT,
        user      TEXT,
        auth      TEXT,
        old_ipv4  TEXT,
        old_ipv6  TEXT,
        new_ipv4  TEXT,
        new_ipv6  TEXT,
        old_txt   TEXT,
        new_txt   TEXT,
        rcode     TEXT,
        reason    TEXT
    );
    CREATE INDEX audit_at ON audit(at);
    CREATE INDEX audit_hostname ON audit(hostname, at);
    CREATE TABLE counters (
        name  TEXT NOT NULL,
        label TEXT NOT NULL,
        value INTEGER NOT NULL,
        PRIMARY KEY (name, label)
    ) WITHOUT ROWID;",
    // Every reservation trims the rows past the longest window (`rate_limit_reserve`): by
    // `at` alone, which `rate_limit_lookup` (scope, key, at) cannot serve, so without this the
    // trim scanned the whole table on every counted request.
    "CREATE INDEX rate_limit_at ON rate_limit(at);",
    // The network an acme-dns account was registered from through the API (`POST
    // /acme/register`), keyed as the rate limits key clients (an IPv4 address, an IPv6 /64);
    // NULL for `acme add`. `[acme] max_accounts_per_network` counts by it.
    "ALTER TABLE acme_accounts ADD COLUMN registered_from TEXT;
    CREATE INDEX acme_accounts_registered_from ON acme_accounts(registered_from);",
    // `dns_pending`: set in its own short transaction before a change of the host goes to the
    // DNS server, cleared by the write that stores what the server accepted. A row left with
    // it set (the write failed, or the process died in between) may be behind DNS: the next
    // request for the host publishes the row's records again (`update::changes`).
    "ALTER TABLE hostnames ADD COLUMN dns_pending INTEGER NOT NULL DEFAULT 0;",
    // Which address families a host's updates may set (`store::Families`, the DDnsBroker's
    // "IPv4 enabled"/"IPv6 enabled"); both for every host so far.
    "ALTER TABLE hostnames ADD COLUMN ipv4_enabled INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE hostnames ADD COLUMN ipv6_enabled INTEGER NOT NULL DEFAULT 1;",
    // An acme-dns account's further names (`acme add NAME --name ...`): each with a
    // subdomain of its own, unique among all accounts' (`acme_accounts.subdomain` is the
    // first name's). And the challenge values of each subdomain, up to `[acme] values` of
    // them, each with the time it was set (the expiry run removes it `[acme] value_ttl`
    // later), newest first by `position`. The two values `txt_new` and `txt_old` held move
    // here, set when the account was last updated; those columns stay, empty and unused (a
    // column is not dropped on a migration that older binaries might still read).
    "CREATE TABLE acme_subdomains (
        account_id INTEGER NOT NULL,
        subdomain  TEXT NOT NULL UNIQUE,
        name       TEXT NOT NULL
    );
    CREATE INDEX acme_subdomains_account ON acme_subdomains(account_id);
    CREATE TABLE acme_values (
        account_id INTEGER NOT NULL,
        subdomain  TEXT NOT NULL,
        position   INTEGER NOT NULL,
        txt        TEXT NOT NULL,
        set_at     INTEGER NOT NULL,
        PRIMARY KEY (account_id, subdomain, position)
    ) WITHOUT ROWID;
    CREATE INDEX acme_values_set_at ON acme_values(set_at);
    INSERT INTO acme_values (account_id, subdomain, position, txt, set_at)
        SELECT id, subdomain, 0, txt_new, COALESCE(updated_at, created_at) FROM acme_accounts
        WHERE txt_new IS NOT NULL;
    INSERT INTO acme_values (account_id, subdomain, position, txt, set_at)
        SELECT id, subdomain, 1, txt_old, COALESCE(updated_at, created_at) FROM acme_accounts
        WHERE txt_old IS NOT NULL AND txt_new IS NOT NULL;
    UPDATE acme_accounts SET txt_new = NULL, txt_old = NULL;",
    // The web console (`web/`): `admin` marks the users who see everyone's things there
    // (`user add --admin`, `user admin`); a session is found by the SHA-256 digest of its
    // cookie's id, all that is stored of it, and ends after `[web] session_idle` without a
    // request or `session_lifetime` in all; an invitation is found by the digest of its link's
    // secret and sets the user's password once. Deleting the user deletes both.
    "ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE web_sessions (
        digest     BLOB PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL
    );
    CREATE INDEX web_sessions_user ON web_sessions(user_id);
    CREATE TABLE invitations (
        digest     BLOB PRIMARY KEY,
        user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        expires_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX invitations_user ON invitations(user_id);",
];
