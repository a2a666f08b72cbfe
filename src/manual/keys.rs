//! Every key of the configuration file, with its default and its bounds, for the
//! `ddns-cgi.toml(5)` page. `config` stays the one place that parses and checks values; the
//! tests below hold this table to it: each documented default is what an absent key means,
//! each documented range is what `config` accepts, and each key `config` accepts (and each key
//! in `config.example.toml`) is documented here.

/// A `[section]` of the file and what it is for.
#[derive(Debug)]
pub(crate) struct Section {
    /// As written in the file: `database`, `zones` (an array of tables), `endpoints.params`.
    pub(crate) name: &'static str,
    /// `[[zones]]` and `[[endpoints]]` may repeat.
    pub(crate) array: bool,
    pub(crate) about: &'static str,
}

/// One key.
#[derive(Debug)]
pub(crate) struct Key {
    /// The section it belongs to ([`Section::name`]).
    pub(crate) section: &'static str,
    pub(crate) name: &'static str,
    /// The TOML type, for people: `integer`, `string`, `boolean`, `path`, `list of strings`;
    /// `duration` is seconds, as an integer or a string with a unit (`config::duration`).
    pub(crate) kind: &'static str,
    pub(crate) default: Default,
    pub(crate) bounds: Bounds,
    /// What it does. Text in backticks is set in bold.
    pub(crate) about: &'static str,
}

/// What an absent key means.
#[derive(Debug)]
pub(crate) enum Default {
    /// This value, as a TOML literal.
    Value(&'static str),
    /// The key must be given.
    Required,
    /// Absent means something a value cannot say (e.g. "the `[dns]` value").
    Note(&'static str),
}

/// The values `config` accepts.
#[derive(Debug)]
pub(crate) enum Bounds {
    /// Integers from the first to the second, both included.
    Range(i64, i64),
    /// Exactly one of these strings.
    OneOf(&'static [&'static str]),
    /// A rule in words.
    Rule(&'static str),
}

/// What the file is and how it is read: the paragraphs before the keys, in `ddns-cgi.toml(5)`
/// and in the book's configuration reference. Text in backticks is set in bold (code in the
/// book).
pub(crate) const ABOUT_FILE: &[&str] = &[
    "ddns-cgi reads a TOML file: the one named by `--config`, else by the environment variable `DDNS_CGI_CONFIG`, else `/etc/ddns-cgi/config.toml`. In CGI mode it is read at every request; the FastCGI server and mod_fcgid read it once at start, so reload them after a change.",
    "An unknown key, a value of the wrong type or outside its bounds stops ddns-cgi with a message that names the key and the file (in CGI mode, the request answers `911` and the message goes to the log). Messages never quote the file, which may hold secrets. Below, each key is shown with its type, its default (what an absent key means) and the values allowed.",
    "The file may hold a TSIG secret or an SMTP password: keep it readable by root and the web server's group only (0640 root:www-data).",
    "A key of type duration is a number of seconds, written as an integer (`3600`) or as a string with a unit, as nanodnsd writes them: `\"90\"`, `\"45s\"`, `\"15m\"`, `\"1h\"`, `\"1d\"` (seconds, minutes, hours, days; no sign, fraction or mixed units). Keys ending in `_ms` are integer milliseconds and `keep_days` integer days; they take no unit. The command-line flags that are seconds (`--dns-ttl`, `--expiry-ttl`, `--ttl`, `log --since`) take the same units.",
];

/// Before the list of the Python ddns-daemon's keys (`config::compat::DAEMON_KEYS`).
pub(crate) const ABOUT_DAEMON: &str = "The config file of the Python ddns-daemon works as it is. Its keys that ddns-cgi has under another name mean that key, with the same values and default; the others are accepted, and each one present logs a warning (on stderr for commands but the unattended `expire`, as a `warn` line of `ddns-cgi check`, in the log at start in CGI and FastCGI) that names what does its work here. Its file names no zone: add `[[zones]]` and the `[dns]` server and key. Its `log_target = \"stdout\"` means `stderr`, since stdout carries the CGI answer. Giving a key both ways is an error.";

pub(crate) const SECTIONS: &[Section] = &[
    Section {
        name: "database",
        array: false,
        about: "The database of users, hostnames, tokens, rate-limit counts and the audit trail: a SQLite file, or PostgreSQL or MariaDB shared by several front-ends.",
    },
    Section {
        name: "dns",
        array: false,
        about: "The primary DNS server that accepts RFC 2136 updates, and the TSIG key (RFC 8945) that signs them. Each `[[zones]]` entry may override both.",
    },
    Section {
        name: "zones",
        array: true,
        about: "One entry per zone that hostnames may live in; at least one is required.",
    },
    Section {
        name: "defaults",
        array: false,
        about: "TTLs of new hostnames (`hostname add` may override them per hostname) and the TTLs clients may ask for.",
    },
    Section {
        name: "rate_limit",
        array: false,
        about: "Per-client and per-user request limits, shared by all processes through the database. A limited request answers `abuse`.",
    },
    Section {
        name: "http",
        array: false,
        about: "The client address behind a reverse proxy. Without these keys the client is `REMOTE_ADDR`.",
    },
    Section { name: "log", array: false, about: "What is logged, and where." },
    Section {
        name: "auth",
        array: false,
        about: "The Argon2id cost of new password hashes. Stored hashes keep their own cost and are upgraded at the next successful login.",
    },
    Section {
        name: "email",
        array: false,
        about: "Mail to owners when `ddns-cgi expire` removes their hostnames: one message per owner and run. A failed mail is retried by the next run.",
    },
    Section {
        name: "acme",
        array: false,
        about: "The acme-dns API for ACME DNS-01 challenges (certbot, lego, acme.sh, Caddy, Traefik): without this section it does not exist. Accounts come from `ddns-cgi acme add`, or from `POST <path>/register` when allowed.",
    },
    Section {
        name: "relay",
        array: false,
        about: "How accepted updates are forwarded to upstream dyndns2 providers (`ddns-cgi hostname relay`). Each exchange is bounded, and all relays of one request together, so that a slow upstream cannot hold the answer past the web server's timeout.",
    },
    Section {
        name: "audit",
        array: false,
        about: "The audit trail (`ddns-cgi hostname history`, `ddns-cgi log`): every accepted change and refused attempt, with time, client address, user name and transaction id, never a secret.",
    },
    Section {
        name: "metrics",
        array: false,
        about: "Prometheus metrics: a node-exporter textfile the expiry run writes, and an HTTP path served to some networks only.",
    },
    Section {
        name: "web",
        array: false,
        about: "The web console: users log in with their dyndns2 user name and password to look after their own hostnames and tokens, admins after everything. Without this section its paths answer 404. Sessions live in the database (only a digest of their id), so CGI processes and several front-ends share them.",
    },
    Section {
        name: "endpoints",
        array: true,
        about: "The HTTP paths that accept requests. Without any entry, `/update`, `/nic/update` and `/api/update` update and `/nic/delete` deletes, with the default parameter names, and the Flask dyndns API's `/update-by-path`, `/update-by-query` (update), `/delete-by-path` and `/delete-by-query` (delete) exist with `api = \"flask\"`. Listing any entry replaces them all.",
    },
    Section {
        name: "endpoints.params",
        array: false,
        about: "The query or form parameter names an endpoint reads, first name present wins. A name may appear in only one of `address`, `ipv4`, `ipv6` and `ipv6_prefix`.",
    },
];

const TTL: Bounds = Bounds::Range(1, 86_400);
const PARAM_NAMES: Bounds = Bounds::Rule("a non-empty list of non-empty names");

pub(crate) const KEYS: &[Key] = &[
    Key {
        section: "database",
        name: "path",
        kind: "path",
        default: Default::Note("one of `path`, `url`, `postgres` and `mariadb` is required"),
        bounds: Bounds::Rule("a file path; relative paths start at the config file's directory"),
        about: "The SQLite file. The web server's user must be able to write it and its directory (SQLite keeps `-wal` and `-shm` files beside it). `ddns-cgi init-db` creates it with mode 0600.",
    },
    Key {
        section: "database",
        name: "url",
        kind: "string",
        default: Default::Note("SQLite at `path`"),
        bounds: Bounds::Rule(
            "`postgresql://user[:password]@host[:port]/name[?sslmode=MODE&sslrootcert=FILE]`; MODE as libpq: disable, prefer (the default), require, verify-ca, verify-full (these two need `sslrootcert`, a percent-encoded path); or `mysql://user[:password]@host[:port]/name` (or `mariadb://`) with the optional query parameters `ssl-mode=MODE`, `ssl-ca=FILE` and `socket=PATH`; MODE as the MySQL client's `--ssl-mode`: disabled, preferred (the default), required, verify-identity (needs `ssl-ca`)",
        ),
        about: "Use PostgreSQL or MariaDB, shared by several front-ends, instead of a SQLite file. The database must exist; `ddns-cgi init-db` creates the tables. Per-host locks become the server's advisory locks (`GET_LOCK` on MariaDB); only one expiry run at a time does the work. PostgreSQL's TLS follows libpq's `sslmode`: `verify-full` checks the server's certificate against `sslrootcert` and its name, `verify-ca` the chain only, `require` and `prefer` check nothing (`prefer` also goes on without TLS); never over a Unix socket. MariaDB's `verify-identity` checks the certificate against `ssl-ca` (and the public CAs) and its name, `required` and `preferred` check nothing; `verify-ca` is refused (the driver also trusts the public CAs, so a chain without the name would prove nothing).",
    },
    Key {
        section: "database",
        name: "postgres",
        kind: "inline table",
        default: Default::Note("SQLite at `path`"),
        bounds: Bounds::Rule(
            "`{ host, port, name, user, password_file, sslmode, ca_file }`; `host` may be the directory of the server's Unix socket; `sslmode` as in `url` (default `prefer`), `ca_file` is its `sslrootcert`",
        ),
        about: "PostgreSQL as with `url`, with the password read from `password_file` (keep it 0600) instead of written in the config, and TLS set by `sslmode` and `ca_file` (needed by `verify-ca` and `verify-full`).",
    },
    Key {
        section: "database",
        name: "mariadb",
        kind: "inline table",
        default: Default::Note("SQLite at `path`"),
        bounds: Bounds::Rule(
            "`{ host, port, name, user, password_file, ssl_mode, ca_file }`; `host` may be the path of the server's Unix socket; `port` defaults to 3306; `ssl_mode` as in `url` (default `preferred`), `ca_file` is its `ssl-ca`",
        ),
        about: "MariaDB as with `url`, with the password read from `password_file` (keep it 0600) instead of written in the config, and TLS set by `ssl_mode` and `ca_file` (needed by `verify-identity`). Also written as a `[database.mariadb]` table.",
    },
    Key {
        section: "database",
        name: "busy_timeout_ms",
        kind: "integer",
        default: Default::Value("10000"),
        bounds: Bounds::Range(100, 600_000),
        about: "How long a request waits for another writer, in milliseconds, before it answers `911`.",
    },
    Key {
        section: "dns",
        name: "server",
        kind: "string",
        default: Default::Value("\"127.0.0.1:53\""),
        bounds: Bounds::Rule("`ip:port`, or an address alone for port 53"),
        about: "The server that accepts updates for the zones.",
    },
    Key {
        section: "dns",
        name: "timeout_ms",
        kind: "integer",
        default: Default::Value("2000"),
        bounds: Bounds::Range(10, 60_000),
        about: "How long to wait for the server's answer, in milliseconds, before answering `dnserr`.",
    },
    Key {
        section: "dns",
        name: "tsig_key",
        kind: "string",
        default: Default::Note("none; then each zone needs its own key"),
        bounds: Bounds::Rule(
            "`algorithm:name:base64-secret`, the form `nsupdate -y` takes; hmac-sha256, hmac-sha384 or hmac-sha512",
        ),
        about: "The TSIG key, inline. The file then holds a secret: make it readable by root and the web server's group only (0640 root:www-data).",
    },
    Key {
        section: "dns",
        name: "tsig_key_file",
        kind: "path",
        default: Default::Note("none"),
        bounds: Bounds::Rule(
            "a file holding the one-line form, the `key \"name\" { ... };` block `tsig-keygen` prints, or the `key:` list of Knot's `keymgr -t`",
        ),
        about: "The TSIG key, from a file; not together with `tsig_key`.",
    },
    Key {
        section: "dns",
        name: "confirm",
        kind: "list of strings",
        default: Default::Value("[]"),
        bounds: Bounds::Rule("servers as `ip:port` (or an address alone for port 53), each once"),
        about: "Read-back: the public secondaries that must serve the zone's new SOA serial before an update answers `good`. After `confirm_timeout_ms` the answer is `good` anyway (the change is committed on the primary) and the lagging server is logged. Empty: answer as soon as the primary accepted.",
    },
    Key {
        section: "dns",
        name: "confirm_timeout_ms",
        kind: "integer",
        default: Default::Value("2000"),
        bounds: Bounds::Range(10, 60_000),
        about: "How long an update waits for the `confirm` servers, in milliseconds; also the most a request's `wait=SECONDS` may ask for.",
    },
    Key {
        section: "dns",
        name: "confirm_wait",
        kind: "string",
        default: Default::Value("\"always\""),
        bounds: Bounds::OneOf(&["always", "on_request"]),
        about: "Which dyndns2 updates wait for the `confirm` servers: `always` every update that changed DNS; `on_request` only those that ask with `wait=1` (or `wait=SECONDS`), the others answer as soon as the primary accepted.",
    },
    Key {
        section: "dns",
        name: "resolver",
        kind: "string",
        default: Default::Note("none"),
        bounds: Bounds::Rule("`ip:port` (or an address alone for port 53)"),
        about: "A recursive resolver that `ddns-cgi check` asks for a signed zone's DS record in the parent zone: without one, validators treat the zone as unsigned. Unset: the delegation is not checked. Updates never use it.",
    },
    Key {
        section: "zones",
        name: "name",
        kind: "string",
        default: Default::Required,
        bounds: Bounds::Rule("a domain name (IDN allowed), each zone once"),
        about: "The zone. Hostnames are added inside it with `ddns-cgi hostname add`.",
    },
    Key {
        section: "zones",
        name: "server",
        kind: "string",
        default: Default::Note("`dns.server`"),
        bounds: Bounds::Rule("as `dns.server`"),
        about: "The server for this zone.",
    },
    Key {
        section: "zones",
        name: "tsig_key",
        kind: "string",
        default: Default::Note("`dns.tsig_key` or `dns.tsig_key_file`"),
        bounds: Bounds::Rule("as `dns.tsig_key`"),
        about: "The key for this zone, inline.",
    },
    Key {
        section: "zones",
        name: "tsig_key_file",
        kind: "path",
        default: Default::Note("`dns.tsig_key` or `dns.tsig_key_file`"),
        bounds: Bounds::Rule("as `dns.tsig_key_file`"),
        about: "The key for this zone, from a file.",
    },
    Key {
        section: "zones",
        name: "confirm",
        kind: "list of strings",
        default: Default::Note("`dns.confirm`"),
        bounds: Bounds::Rule("as `dns.confirm`"),
        about: "The secondaries read back for this zone.",
    },
    Key {
        section: "defaults",
        name: "dns_ttl",
        kind: "duration",
        default: Default::Value("60"),
        bounds: TTL,
        about: "TTL of the published A and AAAA records, in seconds.",
    },
    Key {
        section: "defaults",
        name: "min_dns_ttl",
        kind: "duration",
        default: Default::Value("30"),
        bounds: TTL,
        about: "The lowest TTL a client may ask for with `ttl=`; at most `max_dns_ttl`. A value outside answers `badttl`.",
    },
    Key {
        section: "defaults",
        name: "max_dns_ttl",
        kind: "duration",
        default: Default::Value("86400"),
        bounds: TTL,
        about: "The highest TTL a client may ask for with `ttl=`.",
    },
    Key {
        section: "defaults",
        name: "expiry_ttl",
        kind: "duration",
        default: Default::Value("3600"),
        bounds: Bounds::Range(0, 31_536_000),
        about: "Seconds without an update before `ddns-cgi expire` removes a host's records; 0 means never, other values must be at least 60.",
    },
    Key {
        section: "rate_limit",
        name: "enabled",
        kind: "boolean",
        default: Default::Value("true"),
        bounds: Bounds::Rule("true or false"),
        about: "Whether requests are counted and limited at all.",
    },
    Key {
        section: "rate_limit",
        name: "good_window_seconds",
        kind: "duration",
        default: Default::Value("60"),
        bounds: Bounds::Range(1, 86_400),
        about: "The window in which `good_max_requests` count.",
    },
    Key {
        section: "rate_limit",
        name: "good_max_requests",
        kind: "integer",
        default: Default::Value("5"),
        bounds: Bounds::Range(1, 1_000_000),
        about: "Authenticated requests allowed per client and per user within the window.",
    },
    Key {
        section: "rate_limit",
        name: "bad_window_seconds",
        kind: "duration",
        default: Default::Value("60"),
        bounds: Bounds::Range(1, 86_400),
        about: "The window in which `bad_max_requests` count.",
    },
    Key {
        section: "rate_limit",
        name: "bad_max_requests",
        kind: "integer",
        default: Default::Value("3"),
        bounds: Bounds::Range(1, 1_000_000),
        about: "Failed logins allowed per client and per user within the window.",
    },
    Key {
        section: "rate_limit",
        name: "ipv6_prefix",
        kind: "integer",
        default: Default::Value("64"),
        bounds: Bounds::Range(32, 128),
        about: "IPv6 clients are counted per network of this prefix length, since a subscriber may use any address of its prefix; IPv4 clients per address.",
    },
    Key {
        section: "http",
        name: "proxy_header",
        kind: "string",
        default: Default::Value("\"\""),
        bounds: Bounds::Rule("an HTTP header name, e.g. `X-Forwarded-For`; empty for none"),
        about: "The header that carries the client address, read only from `trusted_proxies`.",
    },
    Key {
        section: "http",
        name: "trusted_proxies",
        kind: "list of strings",
        default: Default::Value("[]"),
        bounds: Bounds::Rule("IP addresses or CIDR blocks"),
        about: "The proxies allowed to set `proxy_header`.",
    },
    Key {
        section: "log",
        name: "level",
        kind: "string",
        default: Default::Value("\"info\""),
        bounds: Bounds::OneOf(&["debug", "info", "warning", "error"]),
        about: "The lowest level written. Admin commands log only warnings and errors unless `--debug` is given.",
    },
    Key {
        section: "log",
        name: "log_requests",
        kind: "boolean",
        default: Default::Value("false"),
        bounds: Bounds::Rule("true or false"),
        about: "One line per request: method, path (a token in it as `***`), client, user, hostnames, answer, duration.",
    },
    Key {
        section: "log",
        name: "target",
        kind: "string",
        default: Default::Value("\"stderr\""),
        bounds: Bounds::OneOf(&["stderr", "syslog", "file"]),
        about: "Where lines go. In CGI mode stderr is the web server's error log. A target that cannot be written falls back to stderr.",
    },
    Key {
        section: "log",
        name: "syslog_socket",
        kind: "path",
        default: Default::Value("\"/dev/log\""),
        bounds: Bounds::Rule("a Unix datagram socket"),
        about: "The syslog socket, with `target = \"syslog\"`.",
    },
    Key {
        section: "log",
        name: "syslog_facility",
        kind: "string",
        default: Default::Value("\"daemon\""),
        bounds: Bounds::OneOf(&[
            "daemon", "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
        ]),
        about: "The syslog facility, with `target = \"syslog\"`.",
    },
    Key {
        section: "log",
        name: "log_file",
        kind: "path",
        default: Default::Note("none; required with `target = \"file\"`"),
        bounds: Bounds::Rule("a file path; relative paths start at the config file's directory"),
        about: "The file lines are appended to, with a time stamp; rotate it with logrotate, no signal needed.",
    },
    Key {
        section: "log",
        name: "stderr_level",
        kind: "string",
        default: Default::Value("\"warning\""),
        bounds: Bounds::OneOf(&["debug", "info", "warning", "error", "off"]),
        about: "With `target = \"syslog\"` or `\"file\"`, the lines at this level or more severe also go to stderr, so that the web server's error log shows what needs attention; `off` for none.",
    },
    Key {
        section: "auth",
        name: "argon2_m_kib",
        kind: "integer",
        default: Default::Value("19456"),
        bounds: Bounds::Range(8, 4_194_304),
        about: "Memory per hash, in KiB (the default is OWASP's 19 MiB).",
    },
    Key {
        section: "auth",
        name: "argon2_t",
        kind: "integer",
        default: Default::Value("2"),
        bounds: Bounds::Range(1, 64),
        about: "Passes over the memory.",
    },
    Key {
        section: "auth",
        name: "argon2_p",
        kind: "integer",
        default: Default::Value("1"),
        bounds: Bounds::Range(1, 64),
        about: "Lanes.",
    },
    Key {
        section: "auth",
        name: "cache_seconds",
        kind: "duration",
        default: Default::Value("300"),
        bounds: Bounds::Range(0, 86_400),
        about: "FastCGI mode only: how long a verified (user, password) is remembered in memory, as an HMAC under a per-process key, so that a repeat costs no Argon2 run; 0 turns the cache off. A changed password hash invalidates it at once.",
    },
    Key {
        section: "auth",
        name: "cache_entries",
        kind: "integer",
        default: Default::Value("10000"),
        bounds: Bounds::Range(0, 1_000_000),
        about: "FastCGI mode only: the most (user, password) verifications remembered at once; 0 turns the cache off.",
    },
    Key {
        section: "email",
        name: "enabled",
        kind: "boolean",
        default: Default::Value("false"),
        bounds: Bounds::Rule("true or false"),
        about: "Whether the expiry run mails owners.",
    },
    Key {
        section: "email",
        name: "transport",
        kind: "string",
        default: Default::Value("\"smtp\""),
        bounds: Bounds::OneOf(&["smtp", "sendmail"]),
        about: "How mail leaves: an SMTP server, or a sendmail-compatible program.",
    },
    Key {
        section: "email",
        name: "smtp_host",
        kind: "string",
        default: Default::Value("\"localhost\""),
        bounds: Bounds::Rule("a host name or address"),
        about: "The SMTP server.",
    },
    Key {
        section: "email",
        name: "smtp_port",
        kind: "integer",
        default: Default::Value("25"),
        bounds: Bounds::Range(1, 65_535),
        about: "Its port.",
    },
    Key {
        section: "email",
        name: "smtp_starttls",
        kind: "boolean",
        default: Default::Value("false"),
        bounds: Bounds::Rule("true or false"),
        about: "Require STARTTLS (RFC 3207) and verify the server's certificate against the system's CA store.",
    },
    Key {
        section: "email",
        name: "smtp_username",
        kind: "string",
        default: Default::Note("none: no authentication"),
        bounds: Bounds::Rule("set together with `smtp_password`"),
        about: "The SMTP login.",
    },
    Key {
        section: "email",
        name: "smtp_password",
        kind: "string",
        default: Default::Note("none"),
        bounds: Bounds::Rule("set together with `smtp_username`"),
        about: "The SMTP password; the file then holds a secret.",
    },
    Key {
        section: "email",
        name: "sendmail_command",
        kind: "path",
        default: Default::Value("\"/usr/sbin/sendmail\""),
        bounds: Bounds::Rule("a program that reads the message on stdin"),
        about: "The program, with `transport = \"sendmail\"`.",
    },
    Key {
        section: "email",
        name: "from_address",
        kind: "string",
        default: Default::Note("none; required when `enabled`"),
        bounds: Bounds::Rule("a bare `local@domain` address"),
        about: "The sender of the notices.",
    },
    Key {
        section: "acme",
        name: "zone",
        kind: "string",
        default: Default::Required,
        bounds: Bounds::Rule("the name of a `[[zones]]` entry"),
        about: "The zone that holds the challenge names (`<subdomain>.<zone>`); best a zone of its own, e.g. `acme.example.com`.",
    },
    Key {
        section: "acme",
        name: "path",
        kind: "string",
        default: Default::Value("\"/acme\""),
        bounds: Bounds::Rule("a plain absolute path of at most 64 bytes, not an endpoint's"),
        about: "The API's base: `<path>/update`, `<path>/register`, `<path>/health`; the URL clients are given.",
    },
    Key {
        section: "acme",
        name: "ttl",
        kind: "duration",
        default: Default::Value("1"),
        bounds: Bounds::Range(1, 86_400),
        about: "TTL of the challenge TXT records (acme-dns uses 1).",
    },
    Key {
        section: "acme",
        name: "values",
        kind: "integer",
        default: Default::Value("2"),
        bounds: Bounds::Range(1, 100),
        about: "Challenge values an account keeps published, the newest; acme-dns keeps 2. More let one certificate for many names, or several clients, validate at once.",
    },
    Key {
        section: "acme",
        name: "value_ttl",
        kind: "duration",
        default: Default::Value("3600"),
        bounds: Bounds::Range(60, 604_800),
        about: "The expiry run removes a challenge value this long after it was set (acme-dns keeps values until replaced).",
    },
    Key {
        section: "acme",
        name: "register",
        kind: "boolean",
        default: Default::Value("false"),
        bounds: Bounds::Rule("true or false"),
        about: "Whether `POST <path>/register` creates accounts.",
    },
    Key {
        section: "acme",
        name: "choose_subdomain",
        kind: "boolean",
        default: Default::Value("false"),
        bounds: Bounds::Rule("true or false"),
        about: "Whether `POST <path>/register` may choose its subdomain (`{\"subdomain\": \"label\"}`: one DNS label, not taken by an account or a hostname of the zone); otherwise it is a random UUID, as acme-dns makes it.",
    },
    Key {
        section: "acme",
        name: "resolver",
        kind: "string",
        default: Default::Note("none: no CNAME check"),
        bounds: Bounds::Rule("an address with an optional port (53), e.g. `\"127.0.0.1:53\"`"),
        about: "The recursive resolver `GET <path>/check` and `ddns-cgi acme check` ask whether `_acme-challenge.DOMAIN` is a CNAME to the account's name, as a certificate authority would see it.",
    },
    Key {
        section: "acme",
        name: "register_from",
        kind: "list of strings",
        default: Default::Value("[]"),
        bounds: Bounds::Rule("IP addresses or CIDR blocks"),
        about: "The clients that may register; empty allows any (when `register` is on).",
    },
    Key {
        section: "acme",
        name: "max_accounts",
        kind: "integer",
        default: Default::Value("1000"),
        bounds: Bounds::Range(0, 1_000_000),
        about: "Registration creates no account once this many exist (however made; `acme add` is not held to it); 0 closes registration.",
    },
    Key {
        section: "acme",
        name: "max_accounts_per_network",
        kind: "integer",
        default: Default::Value("10"),
        bounds: Bounds::Range(0, 1_000_000),
        about: "Accounts one client may register: an IPv4 address, or an IPv6 prefix of `[rate_limit] ipv6_prefix` bits (/64), as the rate limits count clients.",
    },
    Key {
        section: "acme",
        name: "wait",
        kind: "boolean",
        default: Default::Value("false"),
        bounds: Bounds::Rule("true or false"),
        about: "Whether `POST <path>/update` answers only once the acme zone's `confirm` servers serve the new TXT values (bounded by `dns.confirm_timeout_ms`, then answered anyway), so a certificate client needs no fixed propagation sleep. Off: answered at once, as acme-dns does.",
    },
    Key {
        section: "relay",
        name: "connect_timeout_ms",
        kind: "integer",
        default: Default::Value("5000"),
        bounds: Bounds::Range(100, 30_000),
        about: "TCP and TLS handshake with one upstream, in milliseconds.",
    },
    Key {
        section: "relay",
        name: "request_timeout_ms",
        kind: "integer",
        default: Default::Value("5000"),
        bounds: Bounds::Range(100, 30_000),
        about: "One upstream's exchange, from the name lookup to the last byte, in milliseconds.",
    },
    Key {
        section: "relay",
        name: "total_timeout_ms",
        kind: "integer",
        default: Default::Value("10000"),
        bounds: Bounds::Range(100, 30_000),
        about: "All upstreams of one request together, in milliseconds; an upstream not reached within it counts as failed.",
    },
    Key {
        section: "relay",
        name: "ca_file",
        kind: "path",
        default: Default::Value("\"/etc/ssl/certs/ca-certificates.crt\""),
        bounds: Bounds::Rule("a PEM file of CA certificates"),
        about: "The CA certificates `https` upstreams are verified against; read only when such an upstream is contacted.",
    },
    Key {
        section: "audit",
        name: "keep_days",
        kind: "integer",
        default: Default::Value("90"),
        bounds: Bounds::Range(0, 36_500),
        about: "Days audit rows are kept; the expiry run deletes older ones. 0 records no rows (the metrics still count).",
    },
    Key {
        section: "metrics",
        name: "textfile",
        kind: "path",
        default: Default::Note("none: no file is written"),
        bounds: Bounds::Rule("a file path; relative paths are relative to the config file"),
        about: "Where the expiry run (and `ddns-cgi metrics --textfile`) writes the metrics for node-exporter's textfile collector, atomically (a temporary file, then a rename).",
    },
    Key {
        section: "metrics",
        name: "path",
        kind: "string",
        default: Default::Value("\"/metrics\""),
        bounds: Bounds::Rule("a plain absolute path that is no endpoint's"),
        about: "The HTTP path the metrics are served at, to clients in `allow` only; others get the 404 of an unknown path.",
    },
    Key {
        section: "metrics",
        name: "allow",
        kind: "list of strings",
        default: Default::Value("[]"),
        bounds: Bounds::Rule("IP addresses or CIDR blocks"),
        about: "The clients that may read the metrics over HTTP; empty serves none.",
    },
    Key {
        section: "web",
        name: "path",
        kind: "string",
        default: Default::Value("\"/console\""),
        bounds: Bounds::Rule("a plain absolute path that overlaps no endpoint, `acme.path` or `metrics.path`"),
        about: "Where the console lives; everything below it is the console's. At `/` the session cookie gets the `__Host-` prefix.",
    },
    Key {
        section: "web",
        name: "url",
        kind: "string",
        default: Default::Note("none: `user invite` cannot build a link"),
        bounds: Bounds::Rule("an `https://` URL"),
        about: "The console's public base URL (`https://ddns.example.com/console`), for invitation links made on the command line (`ddns-cgi user invite`), which cannot learn it from a request; also the only `Origin` a form post may come from when set.",
    },
    Key {
        section: "web",
        name: "session_idle",
        kind: "duration",
        default: Default::Value("1800"),
        bounds: Bounds::Range(60, 86_400),
        about: "Seconds a console session lives without a request.",
    },
    Key {
        section: "web",
        name: "session_lifetime",
        kind: "duration",
        default: Default::Value("43200"),
        bounds: Bounds::Range(60, 2_592_000),
        about: "Seconds a console session lives at most, however active; then the user logs in again.",
    },
    Key {
        section: "web",
        name: "invitation_lifetime",
        kind: "duration",
        default: Default::Value("259200"),
        bounds: Bounds::Range(60, 2_592_000),
        about: "Seconds an invitation link (`ddns-cgi user invite`, or the console's admin pages) works.",
    },
    Key {
        section: "endpoints",
        name: "path",
        kind: "string",
        default: Default::Required,
        bounds: Bounds::Rule("starts with `/`, at most 256 bytes, each path once"),
        about: "The path the web server hands to ddns-cgi (`SCRIPT_NAME`). Below an update path, `/PATH/TOKEN[/FQDN]` carries a host token.",
    },
    Key {
        section: "endpoints",
        name: "action",
        kind: "string",
        default: Default::Value("\"update\""),
        bounds: Bounds::OneOf(&["update", "delete"]),
        about: "`update` publishes addresses (`offline=yes` removes them instead); `delete` removes the host's A, AAAA and TXT records.",
    },
    Key {
        section: "endpoints",
        name: "api",
        kind: "string",
        default: Default::Value("\"dyndns2\""),
        bounds: Bounds::OneOf(&["dyndns2", "flask"]),
        about: "`dyndns2` reads the names of `[endpoints.params]`; `flask` reads the Flask dyndns API's forms, `/PATH/SECRET/FQDN[/IP_1[/IP_2]]` below the path and `secret`, `fqdn` (or `zone_name` and `record_name`), `ip_1`, `ip_2`, `ipv4`, `ipv6`, `ttl` at it, with a host token as the secret, and takes no `[endpoints.params]`.",
    },
    Key {
        section: "endpoints",
        name: "absent",
        kind: "string",
        default: Default::Value("\"keep\""),
        bounds: Bounds::OneOf(&["keep", "remove"]),
        about: "What an update does to the host's records of an address family the request does not give (no parameter for it, or an empty one). `keep` leaves them, as dyndns2 does; `remove` deletes them, as nanodnsd does: a Fritz!Box that lost IPv6 sends an empty `ipv6=` and the AAAA record goes; a request with no address at all removes both (no client-address fallback). A request with `txt=` and no address changes only the TXT record either way. The default endpoint `/api/update` is `remove`, every other is `keep`. Only for `action = \"update\"`.",
    },
    Key {
        section: "endpoints.params",
        name: "hostname",
        kind: "list of strings",
        default: Default::Value("[\"hostname\", \"host\"]"),
        bounds: PARAM_NAMES,
        about: "The hostnames, comma-separated (at most 20).",
    },
    Key {
        section: "endpoints.params",
        name: "address",
        kind: "list of strings",
        default: Default::Value("[\"myip\"]"),
        bounds: PARAM_NAMES,
        about: "An IPv4 address, an IPv6 address, or one of each comma-separated (dyndns2 `myip`). Without any address parameter the client's address is used (on an endpoint with `absent = \"remove\"` both families are removed instead).",
    },
    Key {
        section: "endpoints.params",
        name: "ipv4",
        kind: "list of strings",
        default: Default::Value("[\"ipv4\", \"ip4\"]"),
        bounds: PARAM_NAMES,
        about: "Exactly one IPv4 address; another value answers `badip`.",
    },
    Key {
        section: "endpoints.params",
        name: "ipv6",
        kind: "list of strings",
        default: Default::Value("[\"myip6\", \"myipv6\", \"ipv6\", \"ip6\"]"),
        bounds: PARAM_NAMES,
        about: "Exactly one IPv6 address; another value answers `badip`.",
    },
    Key {
        section: "endpoints.params",
        name: "ipv6_prefix",
        kind: "list of strings",
        default: Default::Value("[\"ipv6prefix\", \"ip6lanprefix\"]"),
        bounds: PARAM_NAMES,
        about: "An IPv6 prefix such as `2001:db8:1:2::/64` (Fritz!OS `<ip6lanprefix>`); checked, not used yet.",
    },
    Key {
        section: "endpoints.params",
        name: "username",
        kind: "list of strings",
        default: Default::Value("[\"username\", \"user\"]"),
        bounds: PARAM_NAMES,
        about: "The user name, for clients that cannot send HTTP Basic credentials.",
    },
    Key {
        section: "endpoints.params",
        name: "password",
        kind: "list of strings",
        default: Default::Value("[\"password\", \"pass\", \"token\"]"),
        bounds: PARAM_NAMES,
        about: "The password or host token, for clients that cannot send HTTP Basic credentials.",
    },
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::config::Config;
    use crate::config::compat::DAEMON_KEYS;

    const KEY: &str = "hmac-sha256:ddns-key.:c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=";

    /// What a key needs around it to have an effect: without `target = "syslog"` the
    /// socket is never read, and so on.
    fn context(section: &str, name: &str) -> &'static [(&'static str, &'static str)] {
        match (section, name) {
            ("log", "syslog_socket" | "syslog_facility" | "stderr_level") => &[("log", "target = \"syslog\"")],
            ("log", "target") => &[("log", "log_file = \"/var/log/ddns-cgi/ddns-cgi.log\"")],
            ("email", "sendmail_command") => &[("email", "transport = \"sendmail\"")],
            // Its default (86400) must not fall below `min_dns_ttl`, whose default is 30.
            ("defaults", "max_dns_ttl") => &[("defaults", "min_dns_ttl = 1")],
            ("endpoints", "path") => &[],
            ("acme", "zone") => &[],
            ("acme", _) => &[("acme", "zone = \"dyn.example.com\"")],
            // The section's presence is what turns the console on.
            ("web", "path") => &[("web", "session_idle = 1800")],
            ("web", _) => &[("web", "path = \"/console\"")],
            ("endpoints" | "endpoints.params", _) => &[("endpoints", "path = \"/x\"")],
            _ => &[],
        }
    }

    /// A valid config with `lines` added to their sections (`(section, line)`).
    fn config_text(lines: &[(&str, &str)]) -> String {
        let mut sections: Vec<(&str, Vec<String>)> = vec![
            ("database", vec!["path = \"/var/lib/ddns-cgi/ddns.db\"".to_owned()]),
            ("dns", vec![]),
            ("zones", vec!["name = \"dyn.example.com\"".to_owned()]),
        ];
        let has_key = lines.iter().any(|(s, l)| *s == "dns" && l.starts_with("tsig_key"))
            || lines.iter().any(|(s, l)| *s == "zones" && l.starts_with("tsig_key"));
        if !has_key {
            sections[1].1.push(format!("tsig_key = \"{KEY}\""));
        }
        for (section, line) in lines {
            match sections.iter_mut().find(|(s, _)| s == section) {
                Some((_, body)) => body.push((*line).to_owned()),
                None => sections.push((section, vec![(*line).to_owned()])),
            }
        }
        // `[endpoints.params]` belongs to the `[[endpoints]]` entry before it.
        sections.sort_by_key(|(s, _)| s.starts_with("endpoints"));
        let mut text = String::new();
        for (name, body) in sections {
            if name.is_empty() {
                // Top-level keys come before any table.
                text.insert_str(0, &body.iter().map(|l| format!("{l}\n")).collect::<String>());
                continue;
            }
            let array = SECTIONS.iter().any(|s| s.name == name && s.array);
            text.push_str(&if array { format!("[[{name}]]\n") } else { format!("[{name}]\n") });
            for line in body {
                text.push_str(&line);
                text.push('\n');
            }
        }
        text
    }

    fn load(lines: &[(&str, &str)]) -> Result<Config, String> {
        let text = config_text(lines);
        Config::from_toml(Path::new("/etc/ddns-cgi/config.toml"), &text).map_err(|e| format!("{e}\n{text}"))
    }

    /// The validated config as text: equal texts mean the same settings (secrets are
    /// redacted alike).
    fn effect(lines: &[(&str, &str)]) -> String {
        format!("{:?}", load(lines).unwrap_or_else(|e| panic!("config rejected: {e}")))
    }

    #[test]
    fn every_key_belongs_to_a_documented_section_once() {
        let mut seen = BTreeSet::new();
        for k in KEYS {
            assert!(SECTIONS.iter().any(|s| s.name == k.section), "{}.{}", k.section, k.name);
            assert!(seen.insert((k.section, k.name)), "{}.{} twice", k.section, k.name);
        }
    }

    #[test]
    fn documented_defaults_are_what_an_absent_key_means() {
        for k in KEYS {
            let Default::Value(default) = k.default else { continue };
            let ctx = context(k.section, k.name);
            let line = format!("{} = {default}", k.name);
            let with: Vec<(&str, &str)> = ctx.iter().copied().chain([(k.section, line.as_str())]).collect();
            assert_eq!(
                effect(ctx),
                effect(&with),
                "`{}.{}`: the documented default is not the default",
                k.section,
                k.name
            );
        }
    }

    #[test]
    fn documented_bounds_are_what_config_accepts() {
        for k in KEYS {
            let ctx = context(k.section, k.name);
            let try_value = |value: &str| {
                let line = format!("{} = {value}", k.name);
                let lines: Vec<(&str, &str)> = ctx.iter().copied().chain([(k.section, line.as_str())]).collect();
                load(&lines)
            };
            match k.bounds {
                Bounds::Range(min, max) => {
                    for ok in [min, max] {
                        try_value(&ok.to_string()).unwrap_or_else(|e| panic!("`{}.{}` = {ok}: {e}", k.section, k.name));
                    }
                    for bad in [min - 1, max + 1] {
                        let err =
                            try_value(&bad.to_string()).expect_err(&format!("`{}.{}` = {bad}", k.section, k.name));
                        assert!(err.contains(&format!("{}.{}", k.section, k.name)), "{err}");
                    }
                }
                Bounds::OneOf(values) => {
                    for ok in values {
                        try_value(&format!("\"{ok}\"")).unwrap_or_else(|e| panic!("`{}.{}`: {e}", k.section, k.name));
                    }
                    try_value("\"bogus\"").expect_err(&format!("`{}.{}` = \"bogus\"", k.section, k.name));
                }
                Bounds::Rule(_) => {}
            }
        }
    }

    /// serde names the fields it knows when it meets an unknown one; each must be documented.
    #[test]
    fn every_key_config_accepts_is_documented() {
        for section in SECTIONS {
            let lines: Vec<(&str, &str)> =
                context(section.name, "").iter().copied().chain([(section.name, "no_such_key = 1")]).collect();
            let err = load(&lines).expect_err("unknown key accepted");
            let expected = err.split_once("expected").map(|(_, rest)| rest).unwrap_or_else(|| panic!("{err}"));
            let first_line = expected.lines().next().unwrap_or_default();
            let accepted: BTreeSet<&str> = first_line.split('`').skip(1).step_by(2).collect();
            let documented: BTreeSet<&str> = KEYS
                .iter()
                .filter(|k| k.section == section.name)
                .map(|k| k.name)
                .chain(SECTIONS.iter().filter_map(|s| s.name.strip_prefix(&format!("{}.", section.name))))
                .chain(daemon_keys(section.name))
                .collect();
            assert_eq!(accepted, documented, "[{}]: {err}", section.name);
        }
    }

    /// Every table `config` accepts is a documented section.
    #[test]
    fn every_section_config_accepts_is_documented() {
        let err = load(&[("", "no_such_section = 1")]).expect_err("unknown table accepted");
        let expected = err.split_once("expected").map(|(_, rest)| rest).unwrap_or_else(|| panic!("{err}"));
        let accepted: BTreeSet<&str> =
            expected.lines().next().unwrap_or_default().split('`').skip(1).step_by(2).collect();
        let documented: BTreeSet<&str> = SECTIONS
            .iter()
            .map(|s| s.name)
            .filter(|n| !n.contains('.'))
            .chain(DAEMON_KEYS.iter().filter_map(|(k, _)| k.split('.').next()))
            .collect();
        assert_eq!(accepted, documented, "{err}");
    }

    /// The keys of the Python ddns-daemon's config that `section` accepts (`config::compat`).
    fn daemon_keys(section: &str) -> impl Iterator<Item = &'static str> + '_ {
        DAEMON_KEYS.iter().filter_map(move |(k, _)| k.strip_prefix(section)?.strip_prefix('.'))
    }

    /// The daemon's own tables accept exactly its keys (the manual lists them): a typo in
    /// them is still an unknown key.
    #[test]
    fn the_daemon_tables_accept_its_keys_only() {
        for table in ["daemon", "dns_service"] {
            let lines = [(table, "no_such_key = 1")];
            let err = load(&lines).expect_err("unknown key accepted");
            assert!(err.contains("unknown field `no_such_key`"), "{err}");
            let expected = err.split_once("expected").map(|(_, rest)| rest).unwrap_or_else(|| panic!("{err}"));
            let accepted: BTreeSet<&str> =
                expected.lines().next().unwrap_or_default().split('`').skip(1).step_by(2).collect();
            assert_eq!(accepted, daemon_keys(table).collect(), "[{table}]: {err}");
        }
    }

    /// The keys documented as durations take units, and no other integer key does.
    #[test]
    fn durations_take_units_and_other_integers_do_not() {
        for k in KEYS.iter().filter(|k| matches!(k.bounds, Bounds::Range(..))) {
            let ctx = context(k.section, k.name);
            let with = |line: &str| -> Vec<(&str, String)> {
                ctx.iter()
                    .map(|(s, l)| (*s, (*l).to_owned()))
                    .chain([(k.section, format!("{} = {line}", k.name))])
                    .collect()
            };
            let as_lines = |v: &[(&'static str, String)]| -> String {
                let refs: Vec<(&str, &str)> = v.iter().map(|(s, l)| (*s, l.as_str())).collect();
                match load(&refs) {
                    Ok(c) => format!("{c:?}"),
                    Err(e) => format!("error: {e}"),
                }
            };
            let (unit, plain) = (as_lines(&with("\"1m\"")), as_lines(&with("60")));
            if k.kind == "duration" {
                assert_eq!(unit, plain, "`{}.{}` = \"1m\"", k.section, k.name);
            } else {
                assert!(unit.starts_with("error: "), "`{}.{}` = \"1m\" accepted", k.section, k.name);
            }
        }
    }

    /// Every key of `config.example.toml` (set or commented out) is documented, and every
    /// documented key is shown there.
    #[test]
    fn the_example_config_shows_every_key() {
        let mut section = String::new();
        let mut example = BTreeSet::new();
        for line in include_str!("../../config.example.toml").lines() {
            let line = line.trim_start_matches('#').trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
                section = name.trim_matches(['[', ']']).to_owned();
                continue;
            }
            let Some((key, _)) = line.split_once(" = ") else { continue };
            if !key.is_empty() && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
                example.insert(format!("{section}.{key}"));
            }
        }
        let documented: BTreeSet<String> = KEYS.iter().map(|k| format!("{}.{}", k.section, k.name)).collect();
        assert_eq!(example, documented);
    }
}
