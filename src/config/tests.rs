//! Unit tests for config loading, validation and TSIG key parsing.

use super::tsig::parse_key_file;
use super::*;

const KEY: &str = "hmac-sha256:ddns-key.:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=";

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), text)
}

fn minimal(extra: &str) -> String {
    format!(
        "[database]\npath = \"/var/lib/ddns-cgi/ddns.db\"\n[dns]\ntsig_key = \"{KEY}\"\n[[zones]]\nname = \"dyn.example.com\"\n{extra}"
    )
}

#[test]
fn acme_section() {
    let c = load(&minimal("[acme]\nzone = \"DYN.example.com.\"\n")).expect("acme");
    let acme = c.acme.expect("section");
    assert_eq!(
        (acme.zone.as_str(), acme.path.as_str(), acme.ttl, acme.register),
        ("dyn.example.com", "/acme", 1, false)
    );
    let c = load(&minimal(
        "[acme]\nzone = \"dyn.example.com\"\npath = \"/x/acme/\"\nregister = true\nregister_from = [\"127.0.0.0/8\"]\n",
    ))
    .expect("acme");
    assert_eq!(c.acme.map(|a| (a.path, a.register, a.register_from.len())), Some(("/x/acme".to_owned(), true, 1)));
    assert!(load(&minimal("")).expect("no acme").acme.is_none());
    check_err(
        &minimal("[acme]\nzone = \"other.example.com\"\n"),
        "`acme.zone` must name a `[[zones]]` entry, got `other.example.com` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[acme]\nzone = \"dyn.example.com\"\npath = \"acme\"\n"),
        "`acme.path` must be a plain absolute path such as `/acme`, got `acme` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[acme]\nzone = \"dyn.example.com\"\npath = \"/update\"\n"),
        "`acme.path` is also the endpoint `/update` (in /etc/ddns-cgi/config.toml)",
    );
}

#[track_caller]
fn check_err(text: &str, expected: &str) {
    let err = load(text).expect_err("config should be rejected").to_string();
    assert_eq!(err, expected);
}

#[test]
fn relay_timeouts_default_and_bounds() {
    let c = load(&minimal("")).expect("valid").relay;
    assert_eq!(
        (c.connect_timeout, c.request_timeout, c.total_timeout),
        (Duration::from_secs(5), Duration::from_secs(5), Duration::from_secs(10))
    );
    assert_eq!(c.ca_file, PathBuf::from(DEFAULT_CA_FILE));
    let c = load(&minimal("[relay]\nrequest_timeout_ms = 800\nca_file = \"/etc/ssl/mine.pem\"\n")).expect("valid");
    assert_eq!(c.relay.request_timeout, Duration::from_millis(800));
    check_err(
        &minimal("[relay]\ntotal_timeout_ms = 60000\n"),
        "`relay.total_timeout_ms` must be between 100 and 30000, got `60000` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[relay]\nconnect_timeout_ms = 0\n"),
        "`relay.connect_timeout_ms` must be between 100 and 30000, got `0` (in /etc/ddns-cgi/config.toml)",
    );
}

#[test]
fn defaults_apply() {
    let c = load(&minimal("")).expect("valid");
    assert_eq!(c.defaults.dns_ttl, 60);
    assert_eq!(c.defaults.expiry_ttl, 3600);
    assert_eq!(c.zones[0].server, "127.0.0.1:53".parse().expect("addr"));
    assert_eq!(c.zones[0].name_str(), "dyn.example.com");
    assert_eq!((&c.log.target, c.log.stderr_level), (&LogTarget::Stderr, Some(Level::Warn)));
    assert_eq!(
        c.endpoints.iter().map(|e| (e.path.as_str(), e.action, e.api, e.absent)).collect::<Vec<_>>(),
        [
            ("/update", Action::Update, Api::Dyndns2, Absent::Keep),
            ("/nic/update", Action::Update, Api::Dyndns2, Absent::Keep),
            // nanodnsd's path, with its meaning: a missing IP parameter removes the record.
            ("/api/update", Action::Update, Api::Dyndns2, Absent::Remove),
            ("/nic/delete", Action::Delete, Api::Dyndns2, Absent::Keep),
            ("/update-by-path", Action::Update, Api::Flask, Absent::Keep),
            ("/update-by-query", Action::Update, Api::Flask, Absent::Keep),
            ("/delete-by-path", Action::Delete, Api::Flask, Absent::Keep),
            ("/delete-by-query", Action::Delete, Api::Flask, Absent::Keep),
        ]
    );
    assert!(c.endpoints.iter().all(|e| e.params.password.contains(&"token".to_owned())));
    assert_eq!((c.defaults.min_dns_ttl, c.defaults.max_dns_ttl), (30, 86_400));
    assert_eq!(c.rate_limit.bad_max_requests, 3);
    assert!(c.http.proxy_header.is_none());
}

#[test]
fn confirm_lists_default_from_dns_and_are_checked() {
    let c = load(&minimal("")).expect("valid");
    assert!(c.zones[0].confirm.is_empty());
    assert_eq!(c.zones[0].confirm_timeout, Duration::from_millis(2_000));
    let text = minimal("confirm = [\"192.0.2.53\"]\n[[zones]]\nname = \"other.example.com\"\n")
        .replace("[dns]\n", "[dns]\nconfirm = [\"127.0.0.1:5301\", \"[::1]:5302\"]\nconfirm_timeout_ms = 500\n");
    let c = load(&text).expect("valid");
    let addr = |s: &str| s.parse::<SocketAddr>().expect("addr");
    assert_eq!(c.zones[0].confirm, [addr("192.0.2.53:53")]);
    assert_eq!(c.zones[1].confirm, [addr("127.0.0.1:5301"), addr("[::1]:5302")]);
    assert_eq!(c.zones[1].confirm_timeout, Duration::from_millis(500));
    check_err(
        &minimal("").replace("[dns]\n", "[dns]\nconfirm = [\"ns1.example.com:53\"]\n"),
        "`dns.confirm` must be `ip:port` (e.g. `127.0.0.1:53`), got `ns1.example.com:53` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("confirm = [\"192.0.2.53\", \"192.0.2.53:53\"]\n"),
        "`zones[0].confirm` repeats `192.0.2.53:53` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("").replace("[dns]\n", "[dns]\nconfirm_timeout_ms = 0\n"),
        "`dns.confirm_timeout_ms` must be between 10 and 60000, got `0` (in /etc/ddns-cgi/config.toml)",
    );
}

#[test]
fn ipv6_prefix_is_bounded() {
    assert_eq!(load(&minimal("")).expect("valid").rate_limit.ipv6_prefix, 64);
    assert_eq!(load(&minimal("[rate_limit]\nipv6_prefix = 56\n")).expect("valid").rate_limit.ipv6_prefix, 56);
    check_err(
        &minimal("[rate_limit]\nipv6_prefix = 16\n"),
        "`rate_limit.ipv6_prefix` must be between 32 and 128, got `16` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[rate_limit]\nipv6_prefix = 129\n"),
        "`rate_limit.ipv6_prefix` must be between 32 and 128, got `129` (in /etc/ddns-cgi/config.toml)",
    );
}

#[test]
fn unknown_key_names_key_and_file() {
    let err = load(&minimal("[defaults]\ndns_tll = 5\n")).expect_err("rejected").to_string();
    assert!(err.starts_with("`defaults`, line 8, column 1: "), "{err}");
    assert!(err.ends_with(" (in /etc/ddns-cgi/config.toml)"), "{err}");
    assert!(err.contains("dns_tll"), "{err}");
}

#[test]
fn bad_values() {
    check_err(
        &minimal("[audit]\nkeep_days = -1\n"),
        "`audit.keep_days` must be between 0 and 36500, got `-1` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[metrics]\npath = \"metrics\"\n"),
        "`metrics.path` must be a plain absolute path such as `/metrics`, got `metrics` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[metrics]\npath = \"/nic/update\"\n"),
        "`metrics.path` is also the endpoint `/nic/update` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[metrics]\nallow = [\"10.0.0.0/33\"]\n"),
        "`metrics.allow` `10.0.0.0/33` has a prefix length outside 0..=32 (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[log]\nstderr_level = \"loud\"\n"),
        "`log.stderr_level` must be debug, info, warning, error or off, got `loud` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\ndns_ttl = 0\n"),
        "`defaults.dns_ttl` must be between 1 and 86400, got `0` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\nexpiry_ttl = 30\n"),
        "`defaults.expiry_ttl` must be 0 (never) or at least 60, got `30` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[http]\ntrusted_proxies = [\"10.0.0.0/33\"]\n"),
        "`http.trusted_proxies` `10.0.0.0/33` has a prefix length outside 0..=32 (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[dns]\n").replacen("[dns]\ntsig_key", "[x]\ntsig_key", 1),
        "line 3, column 2: unknown field `x`, expected one of `database`, `dns`, `zones`, `defaults`, `rate_limit`, `http`, `log`, `auth`, `endpoints`, `email`, `acme`, `relay`, `audit`, `metrics`, `web`, `daemon`, `dns_service` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\nmin_dns_ttl = 600\nmax_dns_ttl = 300\n"),
        "`defaults.min_dns_ttl` must not exceed `defaults.max_dns_ttl`, got `600` > `300` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\nmax_dns_ttl = 0\n"),
        "`defaults.max_dns_ttl` must be between 1 and 86400, got `0` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[[endpoints]]\npath = \"/x\"\naction = \"remove\"\n"),
        "`endpoints[0].action` must be `update` or `delete`, got `remove` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[[endpoints]]\npath = \"/x\"\nabsent = \"delete\"\n"),
        "`endpoints[0].absent` must be `keep` or `remove`, got `delete` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[[endpoints]]\npath = \"/x\"\naction = \"delete\"\nabsent = \"remove\"\n"),
        "`endpoints[0].absent` does not apply to `action = \"delete\"`, which removes every family (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[[endpoints]]\npath = \"/x\"\napi = \"jfddns\"\n"),
        "`endpoints[0].api` must be `dyndns2` or `flask`, got `jfddns` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[[endpoints]]\npath = \"/x\"\napi = \"flask\"\n[endpoints.params]\nipv4 = [\"ip\"]\n"),
        "`endpoints[0].params` does not apply to `api = \"flask\"`, whose parameter names are fixed (in /etc/ddns-cgi/config.toml)",
    );
    // Two written lists may not share a name; a name written into one list leaves the
    // default of another (the Python ddns-daemon's `ipv4 = ["myip", ...]`).
    check_err(
        &minimal(
            "[[endpoints]]\npath = \"/x\"\n[endpoints.params]\naddress = [\"myip\"]\nipv4 = [\"myip\", \"ipv4\"]\n",
        ),
        "`endpoints[0].params.ipv4` repeats `myip` from `params.address`; a name belongs to one address list (in /etc/ddns-cgi/config.toml)",
    );
    let c = load(&minimal("[[endpoints]]\npath = \"/x\"\n[endpoints.params]\nipv4 = [\"myip\", \"ipv4\"]\n"))
        .expect("valid");
    let p = &c.endpoints[0].params;
    assert_eq!((p.address.len(), p.ipv4.join(",")), (0, "myip,ipv4".to_owned()));
    let c = load(&minimal("[[endpoints]]\npath = \"/x\"\n[endpoints.params]\nipv6 = [\"ip\", \"ip6lanprefix\"]\n"))
        .expect("valid");
    assert_eq!(c.endpoints[0].params.ipv6_prefix, ["ipv6prefix"]);
    check_err(
        &minimal("[[endpoints]]\npath = \"/x\"\n[endpoints.params]\nipv6 = [\"ip\"]\nipv6_prefix = [\"ip\"]\n"),
        "`endpoints[0].params.ipv6_prefix` repeats `ip` from `params.ipv6`; a name belongs to one address list (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[email]\nenabled = true\nfrom_address = \"nobody\"\n"),
        "`email.from_address` must be an email address, got `nobody` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[email]\ntransport = \"pigeon\"\n"),
        "`email.transport` must be `smtp` or `sendmail`, got `pigeon` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[email]\nsmtp_password = \"hunter2\"\n"),
        "`email.smtp_password` and `email.smtp_username` must be set together (in /etc/ddns-cgi/config.toml)",
    );
}

#[test]
fn unsupported_algorithm_is_named_and_secret_is_not() {
    let text = minimal("").replace("hmac-sha256:", "hmac-md5:");
    let err = load(&text).expect_err("rejected").to_string();
    assert_eq!(
        err,
        "`dns.tsig_key` uses unsupported TSIG algorithm `hmac-md5`; use hmac-sha256, hmac-sha384 or hmac-sha512 (in /etc/ddns-cgi/config.toml)"
    );
    assert!(!err.contains("c2VjcmV0"));
}

#[test]
fn key_file_forms() {
    let bind = "key \"ddns-key\" {\n\talgorithm hmac-sha512;\n\tsecret \"c2VjcmV0\";\n};\n";
    let k = parse_key_file(bind).expect("bind block");
    assert_eq!(k.name.to_ascii(), "ddns-key.");
    assert_eq!(k.algorithm, TsigAlgorithm::HmacSha512);
    assert_eq!(k.secret.expose(), b"secret");

    let knot =
        "# hmac-sha384:sftdyn:c2VjcmV0\nkey:\n  - id: sftdyn\n    algorithm: hmac-sha384\n    secret: c2VjcmV0\n";
    let k = parse_key_file(knot).expect("knot yaml");
    assert_eq!(k.name.to_ascii(), "sftdyn.");
    assert_eq!(k.algorithm, TsigAlgorithm::HmacSha384);

    let knot_only_yaml = "key:\n  - id: k2\n    algorithm: hmac-sha256\n    secret: c2VjcmV0\n";
    assert_eq!(parse_key_file(knot_only_yaml).expect("yaml").name.to_ascii(), "k2.");

    let line = parse_key_file("hmac-sha256:Line-Key:c2VjcmV0\n").expect("line");
    assert_eq!(line.name.to_ascii(), "line-key.");
    assert!(parse_key_file("nothing here").is_err());
}

/// `key = value` with a bare key, or a `[table]` header.
fn is_setting(line: &str) -> bool {
    line.starts_with('[')
        || line.split_once(" = ").is_some_and(|(k, _)| {
            !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

#[test]
fn example_config_is_valid_with_every_option_uncommented() {
    let example = include_str!("../../config.example.toml").replace("REPLACE-WITH-BASE64-SECRET", "c2VjcmV0");
    load(&example).expect("config.example.toml as shipped");
    // Uncomment every `# key = value` line and `# [[table]]` header: each documented key
    // must exist with a valid default.
    let uncommented: String = example
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest) if is_setting(rest) => rest.split("  #").next().unwrap_or(rest),
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let uncommented = uncommented.replace("tsig_key_file = \"/etc/ddns-cgi/tsig.key\"\n", "");
    let uncommented = uncommented.replace("tsig_key_file = \"/etc/ddns-cgi/dyn.example.com.key\"\n", "");
    let c = load(&uncommented).expect("config.example.toml with every option set");
    assert_eq!(c.zones[0].server, "127.0.0.1:5353".parse().expect("addr"));
    assert_eq!(c.endpoints.len(), 1);
}

#[test]
fn database_is_a_sqlite_path_or_postgresql_by_url_or_table() {
    let with = |database: &str| {
        format!("[database]\n{database}\n[dns]\ntsig_key = \"{KEY}\"\n[[zones]]\nname = \"dyn.example.com\"\n")
    };
    let c = load(&with("url = \"postgresql://ddns:pw@db.example:5433/ddns\"")).expect("url");
    let pg = c.database.postgres.expect("postgres");
    assert_eq!(pg.shown, "ddns@db.example/ddns");
    assert_eq!(pg.config.get_ports(), [5433]);
    assert!(!format!("{pg:?}").contains("pw"), "{pg:?}");
    let c = load(&with("postgres = { host = \"/run/postgresql\", name = \"ddns\", user = \"ddns\" }")).expect("table");
    assert_eq!(c.database.postgres.expect("postgres").shown, "ddns@/run/postgresql/ddns");
    let err = |database: &str| load(&with(database)).expect_err(database).to_string();
    assert_eq!(
        err("path = \"/x.db\"\nurl = \"postgresql://a@b/c\""),
        "`database` has more than one of `path`, `url`, `postgres` and `mariadb`; choose one (in /etc/ddns-cgi/config.toml)"
    );
    let e = err("url = \"mysql://root:hunter2@x\"");
    assert!(e.contains("`database.url`") && !e.contains("hunter2"), "{e}");
    let e = err("url = \"mssql://root:hunter2@x/y\"");
    assert!(e.contains("`database.url`") && !e.contains("hunter2"), "{e}");
    assert!(err("busy_timeout_ms = 1000").contains("needs `path`"));
}

#[test]
fn postgresql_tls_follows_libpq_sslmode() {
    use crate::config::SslMode;
    let with = |database: &str| {
        format!("[database]\n{database}\n[dns]\ntsig_key = \"{KEY}\"\n[[zones]]\nname = \"dyn.example.com\"\n")
    };
    let pg = |database: &str| load(&with(database)).expect(database).database.postgres.expect("postgres");
    let err = |database: &str| load(&with(database)).expect_err(database).to_string();
    // Absent: `prefer`, as libpq.
    let p = pg("url = \"postgresql://a:pw@b/c\"");
    assert_eq!((p.ssl_mode, p.ca_file, p.password_in_url), (SslMode::Prefer, None, true));
    let p = pg("url = \"postgresql://a:hunter2@b/c?sslmode=require\"");
    assert_eq!(p.ssl_mode, SslMode::Require);
    // The driver never sees the values it does not know; a relative CA file is beside the config.
    let p = pg("url = \"postgresql://a@b/c?sslmode=verify-full&sslrootcert=pg-ca.pem\"");
    assert_eq!((p.ssl_mode, p.ca_file.as_deref()), (SslMode::VerifyFull, Some(Path::new("/etc/ddns-cgi/pg-ca.pem"))));
    assert!(!p.password_in_url);
    let p = pg(
        "postgres = { host = \"db\", name = \"d\", user = \"u\", sslmode = \"verify-ca\", ca_file = \"/x/ca.pem\" }",
    );
    assert_eq!((p.ssl_mode, p.ca_file.as_deref()), (SslMode::VerifyCa, Some(Path::new("/x/ca.pem"))));
    assert_eq!(pg("postgres = { host = \"db\", name = \"d\", user = \"u\" }").ssl_mode, SslMode::Prefer);
    // Verification needs a CA; a mode libpq has not is named; no password in any message.
    let e = err("url = \"postgresql://a:hunter2@b/c?sslmode=verify-full\"");
    assert!(
        e.starts_with("`database.url` asks for `verify-full`") && e.contains("sslrootcert") && !e.contains("hunter2"),
        "{e}"
    );
    let e = err("postgres = { host = \"db\", name = \"d\", user = \"u\", sslmode = \"verify-ca\" }");
    assert!(
        e.starts_with("`database.postgres.sslmode` asks for `verify-ca`") && e.contains("`database.postgres.ca_file`"),
        "{e}"
    );
    let e = err("url = \"postgresql://a:hunter2@b/c?sslmode=allow\"");
    assert!(e.contains("`sslmode` `allow`; expected disable, prefer, require") && !e.contains("hunter2"), "{e}");
    let e = err("postgres = { host = \"db\", name = \"d\", user = \"u\", sslmode = \"on\" }");
    assert!(e.starts_with("`database.postgres.sslmode` has `sslmode` `on`"), "{e}");
}

#[test]
fn cidr_contains() {
    let c: Cidr = "10.0.0.0/8".parse().expect("cidr");
    assert!(c.contains("10.1.2.3".parse().expect("ip")));
    assert!(!c.contains("11.0.0.1".parse().expect("ip")));
    let one: Cidr = "::1".parse().expect("cidr");
    assert!(one.contains("::1".parse().expect("ip")));
    assert!(!one.contains("::2".parse().expect("ip")));
    let all: Cidr = "0.0.0.0/0".parse().expect("cidr");
    assert!(all.contains("192.0.2.1".parse().expect("ip")));
}

#[test]
fn proxy_header_becomes_cgi_variable() {
    let c = load(&minimal("[http]\nproxy_header = \"X-Forwarded-For\"\ntrusted_proxies = [\"127.0.0.1\"]\n"))
        .expect("valid");
    assert_eq!(c.http.proxy_header.as_deref(), Some("HTTP_X_FORWARDED_FOR"));
}

#[test]
fn parse_errors_name_the_place_but_quote_no_value() {
    let secret = KEY.rsplit(':').next().expect("secret");
    check_err(
        &minimal("").replace("tsig_key =", "tsig_key"),
        "line 4, column 10: key with no value, expected `=` (in /etc/ddns-cgi/config.toml)",
    );
    let (head, tail) = secret.split_at(20);
    let wrapped = minimal("").replace(secret, &format!("{head}\n{tail}"));
    let err = load(&wrapped).expect_err("wrapped key").to_string();
    assert!(err.starts_with("line 4, column 55: ") && !err.contains(head) && !err.contains(tail), "{err}");
    check_err(
        &minimal("[email]\nsmtp_port = \"pa55word\"\n"),
        "`email.smtp_port`, line 8, column 13: invalid type: string \"...\", expected i64 (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[email]\nsmtp_password = pa55word\n"),
        "line 8, column 17: string values must be quoted, expected literal string (in /etc/ddns-cgi/config.toml)",
    );
    assert!(!load(&minimal("").replace("tsig_key =", "tsig_key")).expect_err("typo").to_string().contains(secret));
}

#[test]
fn quoted_strings_are_redacted() {
    assert_eq!(
        redact_quoted(r#"invalid type: string "a\"b", expected i64"#),
        r#"invalid type: string "...", expected i64"#
    );
    assert_eq!(redact_quoted("invalid basic string, expected `\"`"), "invalid basic string, expected `\"`");
    assert_eq!(redact_quoted(r#"string "a" or string "b\\" c"#), r#"string "..." or string "..." c"#);
    assert_eq!(redact_quoted(r#"open string "quote"#), r#"open string "...""#);
}

/// nanodnsd's units (`config::duration`) in every key that is seconds, within the same bounds.
#[test]
fn durations_take_units() {
    let c = load(&minimal(
        "[defaults]\ndns_ttl = \"5m\"\nexpiry_ttl = \"1d\"\nmin_dns_ttl = \"30s\"\nmax_dns_ttl = \"1h\"\n[rate_limit]\ngood_window_seconds = \"2m\"\nbad_window_seconds = 90\n[auth]\ncache_seconds = \"15m\"\n",
    ))
    .expect("valid");
    let d = c.defaults;
    assert_eq!((d.dns_ttl, d.expiry_ttl, d.min_dns_ttl, d.max_dns_ttl), (300, 86_400, 30, 3_600));
    assert_eq!((c.rate_limit.good_window_seconds, c.rate_limit.bad_window_seconds), (120, 90));
    assert_eq!(c.auth.cache_seconds, 900);
    check_err(
        &minimal("[defaults]\nexpiry_ttl = \"30s\"\n"),
        "`defaults.expiry_ttl` must be 0 (never) or at least 60, got `30` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\ndns_ttl = \"2d\"\n"),
        "`defaults.dns_ttl` must be between 1 and 86400, got `172800` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\nexpiry_ttl = \"1h30m\"\n"),
        "`defaults.expiry_ttl`, line 8, column 14: must be a number of seconds or a duration such as `90`, `15m`, `1h`, `1d`, got `1h30m` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\nexpiry_ttl = \"-1h\"\n"),
        "`defaults.expiry_ttl`, line 8, column 14: must be a number of seconds or a duration such as `90`, `15m`, `1h`, `1d`, got `-1h` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\nexpiry_ttl = \"\"\n"),
        "`defaults.expiry_ttl`, line 8, column 14: must be a number of seconds or a duration such as `90`, `15m`, `1h`, `1d`, got `` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[defaults]\nexpiry_ttl = \"99999999999999999999d\"\n"),
        "`defaults.expiry_ttl`, line 8, column 14: is too long, got `99999999999999999999d` (in /etc/ddns-cgi/config.toml)",
    );
    // Milliseconds stay integers.
    let err = load(&minimal("").replacen("[dns]\ntsig_key", "[dns]\ntimeout_ms = \"2s\"\ntsig_key", 1))
        .expect_err("milliseconds with a unit")
        .to_string();
    assert!(err.starts_with("`dns.timeout_ms`, line 4"), "{err}");
}

#[test]
fn web_section_is_checked() {
    let web = load(&minimal("[web]\n")).expect("an empty [web] turns the console on");
    let web = web.web.expect("web");
    assert_eq!((web.path.as_str(), web.url.as_deref()), ("/console", None));
    assert_eq!((web.session_idle, web.session_lifetime, web.invitation_lifetime), (1_800, 43_200, 259_200));
    assert!(load(&minimal("")).expect("no [web]").web.is_none());
    let root = load(&minimal("[web]\npath = \"/\"\nurl = \"https://ddns.example.com/\"\n")).expect("root");
    let root = root.web.expect("web");
    assert_eq!((root.path.as_str(), root.url.as_deref()), ("/", Some("https://ddns.example.com")));
    check_err(
        &minimal("[web]\npath = \"/nic\"\n"),
        "`web.path` overlaps the endpoint `/nic/update` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[web]\npath = \"/console/../x\"\n"),
        "`web.path` must be a plain absolute path such as `/console`, got `/console/../x` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[web]\nurl = \"http://ddns.example.com/console\"\n"),
        "`web.url` must be the console's public `https://` URL such as `https://ddns.example.com/console`, got `http://ddns.example.com/console` (in /etc/ddns-cgi/config.toml)",
    );
    check_err(
        &minimal("[acme]\nzone = \"dyn.example.com\"\n[web]\npath = \"/acme\"\n"),
        "`web.path` overlaps `acme.path` `/acme` (in /etc/ddns-cgi/config.toml)",
    );
}

#[test]
fn mariadb_by_url_or_table_with_the_mysql_clients_ssl_mode() {
    let with = |database: &str| {
        format!("[database]\n{database}\n[dns]\ntsig_key = \"{KEY}\"\n[[zones]]\nname = \"dyn.example.com\"\n")
    };
    let m = |database: &str| load(&with(database)).expect(database).database.mariadb.expect("mariadb");
    let err = |database: &str| load(&with(database)).expect_err(database).to_string();
    let c = m("url = \"mysql://ddns:hunter2@db.example:3307/ddns\"");
    assert_eq!(c.shown, "ddns@db.example/ddns");
    assert_eq!(c.server, MariadbServer::Tcp { host: "db.example".into(), port: 3307 });
    assert_eq!(c.password.as_ref().map(|p| p.expose().as_str()), Some("hunter2"));
    assert!(c.password_in_url);
    assert!(!format!("{c:?}").contains("hunter2"), "{c:?}");
    // Absent: `preferred`, as the MySQL and MariaDB clients.
    assert_eq!(c.ssl_mode, MariadbSslMode::Preferred);
    let c = m("url = \"mariadb://ddns@db.example/ddns?ssl-mode=VERIFY_IDENTITY&ssl-ca=ca.pem\"");
    assert_eq!((c.ssl_mode, c.ca_file), (MariadbSslMode::VerifyIdentity, Some("/etc/ddns-cgi/ca.pem".into())));
    let c = m("mariadb = { host = \"/run/mysqld/mysqld.sock\", name = \"ddns\", user = \"ddns\" }");
    assert_eq!(
        (c.server, c.password, c.shown.as_str()),
        (MariadbServer::Socket("/run/mysqld/mysqld.sock".into()), None, "ddns@/run/mysqld/mysqld.sock/ddns")
    );
    let c = m("[database.mariadb]\nhost = \"db\"\nname = \"d\"\nuser = \"u\"\nssl_mode = \"required\"");
    assert_eq!(
        (c.server, c.ssl_mode),
        (MariadbServer::Tcp { host: "db".into(), port: 3306 }, MariadbSslMode::Required)
    );
    // A verifying mode needs the CA; `verify-ca` is refused: the driver also trusts the public CAs.
    assert!(err("url = \"mysql://u@h/d?ssl-mode=verify-identity\"").contains("`ssl-ca=FILE` in the URL"));
    let e = err("mariadb = { host = \"h\", name = \"d\", user = \"u\", ssl_mode = \"verify-ca\", ca_file = \"/ca\" }");
    assert!(e.contains("`database.mariadb.ssl_mode` asks for `verify-ca`") && e.contains("verify-identity"), "{e}");
    let e = err("url = \"mysql://u:hunter2@h/d?ssl-mode=verify-full\"");
    assert!(e.contains("expected disabled, preferred, required") && !e.contains("hunter2"), "{e}");
    let e = err("mariadb = { host = \"h\", name = \"d\", user = \"u\", password_file = \"/nonexistent/pw\" }");
    assert!(e.contains("`database.mariadb.password_file` cannot read `/nonexistent/pw`"), "{e}");
    // One database only.
    for two in [
        "path = \"/x.db\"\nurl = \"mysql://u@h/d\"",
        "url = \"mysql://u@h/d\"\nmariadb = { host = \"h\", name = \"d\", user = \"u\" }",
        "url = \"postgresql://u@h/d\"\nmariadb = { host = \"h\", name = \"d\", user = \"u\" }",
    ] {
        assert!(err(two).contains("has more than one of `path`, `url`, `postgres` and `mariadb`"), "{two}");
    }
}
