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
];
