//! The MariaDB schema as ordered migrations: entry `i` brings a database from version `i` to
//! `i + 1` (the one row of `schema_version`), as PostgreSQL's (`store::postgres::schema`),
//! step for step, so both count the same versions. Append only; never edit an entry that has
//! shipped.
//!
//! MariaDB commits each `CREATE` and `ALTER` at once, so an entry is a list of statements that
//! each may run again (`IF NOT EXISTS`, `INSERT IGNORE`): a migration interrupted halfway is
//! completed by the next open (see `super::Store::migrate`). Every table is InnoDB (row locks,
//! transactions, foreign keys) in utf8mb4 with the binary collation without padding: text
//! compares and sorts byte for byte, as SQLite's and PostgreSQL's `COLLATE "C"` do (names are
//! stored in lower case; `A` and `a` are different values, and so are `a` and `a `). Types: `BIGINT` for every integer (ids with
//! `AUTO_INCREMENT`, times, TTLs and the 0/1 flags), `VARBINARY` for digests, `VARCHAR` where a
//! unique or looked-up column must fit an index (InnoDB keys hold at most 3072 bytes, 4 per
//! utf8mb4 character), `TEXT` with an index on a prefix where a column holds what a request
//! sent. `key` is a reserved word and is quoted.

/// The table options of every table.
macro_rules! table {
    () => {
        " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin"
    };
}

/// Ordered migrations; entry `i` brings the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&[&str]] = &[
    // 1: as PostgreSQL's 1 (SQLite's versions 1 to 4).
    &[
        concat!(
            "CREATE TABLE IF NOT EXISTS users (
                id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name          VARCHAR(255) NOT NULL UNIQUE,
                email         TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                created_at    BIGINT NOT NULL
            )",
            table!()
        ),
        concat!(
            "CREATE TABLE IF NOT EXISTS hostnames (
                id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                fqdn        VARCHAR(253) NOT NULL UNIQUE,
                zone        VARCHAR(253) NOT NULL,
                user_id     BIGINT NOT NULL,
                dns_ttl     BIGINT NOT NULL,
                expiry_ttl  BIGINT NOT NULL,
                ipv4        VARCHAR(15),
                ipv6        VARCHAR(45),
                last_update BIGINT,
                expired     BIGINT NOT NULL DEFAULT 0,
                notified    BIGINT NOT NULL DEFAULT 1,
                created_at  BIGINT NOT NULL,
                offline     BIGINT NOT NULL DEFAULT 0,
                txt         TEXT,
                INDEX hostnames_user (user_id),
                INDEX hostnames_zone (zone, id),
                CONSTRAINT hostnames_user_fk FOREIGN KEY (user_id) REFERENCES users(id)
            )",
            table!()
        ),
        concat!(
            "CREATE TABLE IF NOT EXISTS rate_limit (
                id    BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                scope VARCHAR(64) NOT NULL,
                `key` TEXT NOT NULL,
                at    BIGINT NOT NULL,
                INDEX rate_limit_lookup (scope, `key`(255), at),
                INDEX rate_limit_at (at)
            )",
            table!()
        ),
        concat!(
            "CREATE TABLE IF NOT EXISTS tokens (
                hostname_id BIGINT NOT NULL PRIMARY KEY,
                digest      VARBINARY(64) NOT NULL,
                types       TEXT,
                networks    TEXT,
                expires_at  BIGINT,
                created_at  BIGINT NOT NULL,
                UNIQUE INDEX tokens_digest (digest),
                CONSTRAINT tokens_hostname_fk FOREIGN KEY (hostname_id) REFERENCES hostnames(id) ON DELETE CASCADE
            )",
            table!()
        ),
        concat!(
            "CREATE TABLE IF NOT EXISTS acme_accounts (
                id         BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                name       TEXT NOT NULL,
                username   VARCHAR(255) NOT NULL UNIQUE,
                key_digest VARBINARY(64) NOT NULL,
                subdomain  VARCHAR(253) NOT NULL UNIQUE,
                allowfrom  TEXT NOT NULL DEFAULT '',
                txt_new    TEXT,
                txt_old    TEXT,
                updated_at BIGINT,
                created_at BIGINT NOT NULL
            )",
            table!()
        ),
    ],
    // 2: relays to upstream dyndns2 providers, as PostgreSQL's 2. The URL (at most 2048 bytes,
    // `relay::MAX_URL_LEN`) is bytes so that it fits the unique key with its host.
    &[concat!(
        "CREATE TABLE IF NOT EXISTS relays (
            id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
            hostname_id    BIGINT NOT NULL,
            url            VARBINARY(2048) NOT NULL,
            username       TEXT NOT NULL,
            password       TEXT NOT NULL,
            replaces_local BIGINT NOT NULL DEFAULT 0,
            paused_at      BIGINT,
            paused_reason  TEXT,
            last_ipv4      TEXT,
            last_ipv6      TEXT,
            last_result    TEXT,
            last_at        BIGINT,
            created_at     BIGINT NOT NULL,
            UNIQUE INDEX relays_host_url (hostname_id, url),
            CONSTRAINT relays_hostname_fk FOREIGN KEY (hostname_id) REFERENCES hostnames(id) ON DELETE CASCADE
        )",
        table!()
    )],
    // 3: IPv6 prefix fan-out and the audit trail with its counters, as PostgreSQL's 3.
    &[
        "ALTER TABLE hostnames
            ADD COLUMN IF NOT EXISTS derived_from BIGINT,
            ADD COLUMN IF NOT EXISTS ipv6_iid VARCHAR(45),
            ADD COLUMN IF NOT EXISTS ipv4_rule TEXT,
            ADD COLUMN IF NOT EXISTS derived_ttl BIGINT",
        "CREATE INDEX IF NOT EXISTS hostnames_derived_from ON hostnames(derived_from)",
        // Dropped first, so that a second run adds it once.
        "ALTER TABLE hostnames DROP FOREIGN KEY IF EXISTS hostnames_derived_fk",
        "ALTER TABLE hostnames ADD CONSTRAINT hostnames_derived_fk
            FOREIGN KEY (derived_from) REFERENCES hostnames(id) ON DELETE SET NULL",
        concat!(
            "CREATE TABLE IF NOT EXISTS audit (
                id        BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
                at        BIGINT NOT NULL,
                kind      TEXT NOT NULL,
                answer    TEXT NOT NULL,
                txn       TEXT NOT NULL,
                client    TEXT,
                hostname  TEXT,
                `user`    TEXT,
                auth      TEXT,
                old_ipv4  TEXT,
                old_ipv6  TEXT,
                new_ipv4  TEXT,
                new_ipv6  TEXT,
                old_txt   TEXT,
                new_txt   TEXT,
                rcode     TEXT,
                reason    TEXT,
                INDEX audit_at (at),
                INDEX audit_hostname (hostname(253), at)
            )",
            table!()
        ),
        concat!(
            "CREATE TABLE IF NOT EXISTS counters (
                name  VARCHAR(255) NOT NULL,
                label VARCHAR(255) NOT NULL,
                value BIGINT NOT NULL,
                PRIMARY KEY (name, label)
            )",
            table!()
        ),
    ],
    // 4: the network an acme-dns account was registered from, as PostgreSQL's 4.
    &[
        "ALTER TABLE acme_accounts ADD COLUMN IF NOT EXISTS registered_from VARCHAR(64)",
        "CREATE INDEX IF NOT EXISTS acme_accounts_registered_from ON acme_accounts(registered_from)",
    ],
    // 5: as PostgreSQL's 5 (`dns_pending`).
    &["ALTER TABLE hostnames ADD COLUMN IF NOT EXISTS dns_pending BIGINT NOT NULL DEFAULT 0"],
    // 6: as PostgreSQL's 6: the address families a host accepts.
    &["ALTER TABLE hostnames
        ADD COLUMN IF NOT EXISTS ipv4_enabled BIGINT NOT NULL DEFAULT 1,
        ADD COLUMN IF NOT EXISTS ipv6_enabled BIGINT NOT NULL DEFAULT 1"],
    // 7: as PostgreSQL's 7: an acme-dns account's further names, and the challenge values of
    // each subdomain, the two of `txt_new`/`txt_old` moved in (`INSERT IGNORE`: a second run
    // finds them there).
    &[
        concat!(
            "CREATE TABLE IF NOT EXISTS acme_subdomains (
                account_id BIGINT NOT NULL,
                subdomain  VARCHAR(253) NOT NULL UNIQUE,
                name       TEXT NOT NULL,
                INDEX acme_subdomains_account (account_id)
            )",
            table!()
        ),
        concat!(
            "CREATE TABLE IF NOT EXISTS acme_values (
                account_id BIGINT NOT NULL,
                subdomain  VARCHAR(253) NOT NULL,
                position   BIGINT NOT NULL,
                txt        TEXT NOT NULL,
                set_at     BIGINT NOT NULL,
                PRIMARY KEY (account_id, subdomain, position),
                INDEX acme_values_set_at (set_at)
            )",
            table!()
        ),
        "INSERT IGNORE INTO acme_values (account_id, subdomain, position, txt, set_at)
            SELECT id, subdomain, 0, txt_new, COALESCE(updated_at, created_at) FROM acme_accounts
            WHERE txt_new IS NOT NULL",
        "INSERT IGNORE INTO acme_values (account_id, subdomain, position, txt, set_at)
            SELECT id, subdomain, 1, txt_old, COALESCE(updated_at, created_at) FROM acme_accounts
            WHERE txt_old IS NOT NULL AND txt_new IS NOT NULL",
        "UPDATE acme_accounts SET txt_new = NULL, txt_old = NULL",
    ],
    // 8: the web console's admin flag, sessions and invitations, as PostgreSQL's 8.
    &[
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS admin BIGINT NOT NULL DEFAULT 0",
        concat!(
            "CREATE TABLE IF NOT EXISTS web_sessions (
                digest     VARBINARY(64) NOT NULL PRIMARY KEY,
                user_id    BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                last_seen  BIGINT NOT NULL,
                INDEX web_sessions_user (user_id),
                CONSTRAINT web_sessions_user_fk FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
            )",
            table!()
        ),
        concat!(
            "CREATE TABLE IF NOT EXISTS invitations (
                digest     VARBINARY(64) NOT NULL PRIMARY KEY,
                user_id    BIGINT NOT NULL,
                expires_at BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                INDEX invitations_user (user_id),
                CONSTRAINT invitations_user_fk FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE
            )",
            table!()
        ),
    ],
];
