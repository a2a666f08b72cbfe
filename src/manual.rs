//! The manual and the shell completions: `ddns-cgi(8)` from the clap definitions
//! (`clap_mangen`), with a section per command, the dyndns2 answer table from `reply` and the
//! files of the Debian package; `ddns-cgi.toml(5)` from the key table in `keys`; completion
//! scripts from `clap_complete`. Only the `manpage` and `completions` commands run this code:
//! a CGI or FastCGI request never reaches it, and it reads no config.

#[cfg(test)]
mod examples;
mod keys;
#[cfg(test)]
mod markdown;

use std::fmt::Write as _;
use std::path::Path;

use clap::CommandFactory as _;
use clap_mangen::Man;
use clap_mangen::roff::{Inline, Roff, bold, italic, roman};

use crate::cli::{Cli, CliError, Command};
use crate::config;
use crate::reply;

/// The `.TH` source field: program and version, not a build date, so the pages are
/// reproducible.
const SOURCE: &str = concat!("ddns-cgi ", env!("CARGO_PKG_VERSION"));

/// Runs `completions` and `manpage`; `None` for every other command.
pub(crate) fn run(command: &Command) -> Option<Result<String, CliError>> {
    match command {
        Command::Completions { shell } => Some(Ok(completions(*shell))),
        Command::Manpage { out } => Some(write_pages(out)),
        // Every other command needs the config.
        _ => None,
    }
}

/// The completion script for `shell`, for the command named `ddns-cgi`.
pub(crate) fn completions(shell: clap_complete::Shell) -> String {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "ddns-cgi", &mut out);
    let script = String::from_utf8_lossy(&out).into_owned();
    match shell {
        // clap_complete's bash script spells the state of a subcommand of a hyphenated binary
        // two ways, `ddns__cgi__subcmd__user` where it walks the words and
        // `ddns__subcmd__cgi__subcmd__user` in the case labels, so nothing after the first
        // word completes (clap-rs/clap#6421). One spelling fixes it; once upstream does, this
        // replaces nothing. tests/integration/manual.rs runs bash on the result.
        clap_complete::Shell::Bash => script.replace("ddns__subcmd__cgi", "ddns__cgi"),
        _ => script,
    }
}

fn write_pages(dir: &Path) -> Result<String, CliError> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::failure(format!("cannot create `{}`: {e}", dir.display())))?;
    let mut report = String::new();
    for (name, text) in [("ddns-cgi.8", ddns_cgi_8()), ("ddns-cgi.toml.5", ddns_cgi_toml_5())] {
        let path = dir.join(name);
        std::fs::write(&path, text)
            .map_err(|e| CliError::failure(format!("cannot write `{}`: {e}", path.display())))?;
        let _ = writeln!(report, "{}", path.display());
    }
    Ok(report)
}

/// Text with `code` spans in bold, the rest in roman.
fn inline(text: &str) -> Vec<Inline> {
    text.split('`')
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| if i % 2 == 1 { bold(s) } else { roman(s) })
        .collect()
}

/// Concatenates roff fragments, keeping one copy of the apostrophe preamble the `roff`
/// crate writes at the start of each.
struct Page {
    text: String,
    preamble: Option<String>,
}

impl Page {
    fn new() -> Page {
        Page { text: String::new(), preamble: None }
    }

    fn push(&mut self, fragment: Vec<u8>) {
        let fragment = String::from_utf8_lossy(&fragment).into_owned();
        let mut lines = fragment.lines().peekable();
        let mut preamble = String::new();
        while let Some(line) = lines.next_if(|l| l.starts_with(".ie \\n(.g") || l.starts_with(".el .ds Aq")) {
            preamble.push_str(line);
            preamble.push('\n');
        }
        if self.preamble.is_none() && !preamble.is_empty() {
            self.preamble = Some(preamble);
        }
        for line in lines {
            self.text.push_str(line);
            self.text.push('\n');
        }
    }

    fn roff(&mut self, roff: &Roff) {
        let mut out = Vec::new();
        let _ = roff.to_writer(&mut out);
        self.push(out);
    }

    /// `.TH` first (man(7) wants it before anything else), then the preamble and the rest.
    fn finish(self) -> String {
        let (title, rest) = self.text.split_once('\n').unwrap_or((&self.text, ""));
        format!("{title}\n{}{rest}", self.preamble.unwrap_or_default())
    }
}

/// The `.TH` line. Written here because an empty argument (the date, left out so that the
/// pages are reproducible) must be quoted as `""`, which neither `roff` nor `clap_mangen` do:
/// the source would move into the date's place.
fn title(name: &str, section: &str, manual: &str) -> Vec<u8> {
    format!(".TH {name} {section} \"\" \"{SOURCE}\" \"{manual}\"\n").into_bytes()
}

/// One fragment rendered by `clap_mangen`, `.SH` line and all.
fn mangen(render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = render(&mut out);
    out
}

/// `ddns-cgi(8)`.
pub(crate) fn ddns_cgi_8() -> String {
    let cli = Cli::command();
    let man = Man::new(cli.clone());
    let mut page = Page::new();
    page.push(title("ddns-cgi", "8", "System Administration"));
    page.push(mangen(|w| man.render_name_section(w)));
    page.push(mangen(|w| man.render_synopsis_section(w)));
    page.roff(&description());
    page.push(mangen(|w| man.render_options_section(w)));
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    page.roff(&roff);
    for (path, sub) in leaf_commands(&cli, "ddns-cgi") {
        command_section(&mut page, &path, sub);
    }
    page.roff(&answers());
    page.roff(&trailer());
    page.finish()
}

/// Every command that runs something, with its full name (`ddns-cgi user add`), in the
/// order of `--help`.
fn leaf_commands<'a>(cmd: &'a clap::Command, path: &str) -> Vec<(String, &'a clap::Command)> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{path} {}", sub.get_name());
        if sub.has_subcommands() {
            out.extend(leaf_commands(sub, &name));
        } else {
            out.push((name, sub));
        }
    }
    out
}

/// `.SS ddns-cgi user add`: synopsis, description and options, as clap_mangen renders them
/// for the command alone. The global options are described once, above; the parent is not
/// built, so they are not repeated here.
fn command_section(page: &mut Page, path: &str, cmd: &clap::Command) {
    let cmd = cmd.clone().bin_name(path).disable_help_flag(true);
    let man = Man::new(cmd.clone());
    let mut head = Roff::new();
    head.control("SS", [path]);
    page.roff(&head);
    let synopsis = String::from_utf8_lossy(&mangen(|w| man.render_synopsis_section(w))).replace(".SH SYNOPSIS\n", "");
    page.push(synopsis.into_bytes());
    let mut about = Roff::new();
    about.control("PP", []);
    if let Some(text) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        for paragraph in text.to_string().split("\n\n") {
            about.text(inline(&paragraph.replace('\n', " ")));
            about.control("PP", []);
        }
    }
    page.roff(&about);
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        let options = String::from_utf8_lossy(&mangen(|w| man.render_options_section(w))).replace(".SH OPTIONS\n", "");
        page.push(options.into_bytes());
    }
}

fn description() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["DESCRIPTION"]);
    r.text(inline(
        "ddns-cgi answers dynamic DNS updates in the dyndns2 protocol (the one ddclient, inadyn and most routers speak) and publishes the addresses in a zone of a local Knot or BIND server with RFC 2136 updates signed with TSIG (RFC 8945). Users, their hostnames and per-host tokens are kept in a SQLite database, passwords as Argon2id hashes.",
    ));
    r.control("PP", []);
    r.text(inline("The same binary runs in four ways:"));
    let modes = [
        (
            "CGI",
            "When a web server starts it with `GATEWAY_INTERFACE` set, it answers one request and exits (Apache mod_cgi or mod_cgid, nginx with fcgiwrap).",
        ),
        (
            "FastCGI",
            "When it finds a listening socket on its standard input (Apache mod_fcgid, spawn-fcgi), or as `ddns-cgi fastcgi` (nginx, systemd socket units), it reads the configuration once and answers requests until SIGTERM.",
        ),
        ("Administration", "Otherwise it runs one of the commands below against the database and the DNS server."),
        (
            "Expiry",
            "`ddns-cgi expire`, from cron or a systemd timer, removes the records of hostnames not updated within their expiry time and mails their owners.",
        ),
    ];
    for (mode, text) in modes {
        r.control("TP", []);
        r.text([bold(mode)]);
        r.text(inline(text));
    }
    r.control("PP", []);
    r.text(inline(
        "Clients send `GET /nic/update?hostname=HOST&myip=ADDRESS` with HTTP Basic credentials (or a host token); see ANSWERS for what they get back. The configuration file is described in `ddns-cgi.toml`(5).",
    ));
    r
}

fn answers() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["ANSWERS"]);
    r.text(inline(
        "The body of every answer is one line per hostname of the request, in order, or one line for the request as a whole; with `Accept: application/json` it is a JSON object per hostname (`status`, `hostname`, `ipv4`, `ipv6`; an array for several) or `{\"status\":TOKEN}`. Clients decide by the first word, the token:",
    ));
    for doc in reply::answer_docs() {
        r.control("TP", []);
        let mut head = vec![bold(doc.token)];
        if matches!(doc.token, "good" | "nochg") {
            head.push(roman(" "));
            head.push(italic("ADDRESS"));
            head.push(roman(" ["));
            head.push(italic("ADDRESS"));
            head.push(roman("]"));
        }
        let scope = if doc.per_host { "per hostname" } else { "for the request" };
        head.push(roman(format!(" (HTTP {}, {scope})", doc.status)));
        r.text(head);
        r.text(inline(doc.meaning));
    }
    r.control("PP", []);
    r.text(inline(
        "No error token contains `good`, `ok`, `true` or `updated`, since some clients (inadyn) look for such words anywhere in the body. Every answer carries `Content-Length` and `Cache-Control: no-store`.",
    ));
    r
}

fn trailer() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["ENVIRONMENT"]);
    let env = [
        (
            "DDNS_CGI_CONFIG",
            "The configuration file when `--config` is not given (Apache `SetEnv`, nginx `fastcgi_param`, systemd `Environment=`).",
        ),
        ("GATEWAY_INTERFACE", "Set by the web server: the process answers one CGI request (RFC 3875)."),
        ("FCGI_WEB_SERVER_ADDRS", "The web servers allowed to connect to a FastCGI TCP socket, comma-separated."),
        ("LISTEN_FDS, LISTEN_PID", "A socket passed by systemd to `ddns-cgi fastcgi` (sd_listen_fds(3))."),
    ];
    for (name, text) in env {
        r.control("TP", []);
        r.text([bold(name)]);
        r.text(inline(text));
    }
    r.control("SH", ["FILES"]);
    let files = [
        (
            config::DEFAULT_PATH,
            "The configuration, readable by root and the web server's group only: it holds or names the TSIG key.",
        ),
        (
            "/etc/ddns-cgi/tsig.key",
            "The TSIG key the Debian package generates at first install, for the DNS server's configuration too.",
        ),
        ("/var/lib/ddns-cgi/ddns.db", "The database (the packaged default), owned by the web server's user."),
        ("/usr/lib/cgi-bin/ddns-cgi", "The CGI entry of the Debian package, a link to /usr/bin/ddns-cgi."),
        (
            "/etc/apache2/conf-available/ddns-cgi.conf",
            "Apache with mod_cgi or mod_cgid; enable with `a2enconf ddns-cgi`.",
        ),
        (
            "/etc/apache2/conf-available/ddns-cgi-fcgid.conf",
            "Apache with mod_fcgid; enable with `a2enconf ddns-cgi-fcgid`.",
        ),
        ("/etc/nginx/snippets/ddns-cgi-fcgiwrap.conf", "nginx with fcgiwrap: include it in a `server` block."),
        (
            "/etc/nginx/snippets/ddns-cgi-fastcgi.conf",
            "nginx with `ddns-cgi fastcgi` (ddns-cgi.socket), with ddns-cgi-upstream.conf at the `http` level.",
        ),
        (
            "/etc/cron.d/ddns-cgi-expire",
            "Runs `ddns-cgi expire` every minute on systems without systemd; elsewhere ddns-cgi-expire.timer does.",
        ),
    ];
    for (path, text) in files {
        r.control("TP", []);
        r.text([italic(path)]);
        r.text(inline(text));
    }
    r.control("SH", ["EXIT STATUS"]);
    for (code, text) in [
        ("0", "Success; in CGI mode, also every answer that could be written, error tokens included."),
        ("1", "What the command names does not exist (user, hostname, token)."),
        ("2", "A usage error, a bad configuration, or a failure (database, DNS); the reason is on standard error."),
    ] {
        r.control("TP", []);
        r.text([bold(code)]);
        r.text(inline(text));
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([
        bold("ddns-cgi.toml"),
        roman("(5), "),
        bold("ddclient"),
        roman("(8), "),
        bold("knotd"),
        roman("(8), "),
        bold("named"),
        roman("(8), "),
        bold("nsupdate"),
        roman("(1), "),
        bold("a2enconf"),
        roman("(8)"),
    ]);
    r
}

/// `ddns-cgi.toml(5)`.
pub(crate) fn ddns_cgi_toml_5() -> String {
    let mut r = Roff::new();
    r.control("SH", ["NAME"]);
    r.text([roman("ddns-cgi.toml - configuration of ddns-cgi")]);
    r.control("SH", ["SYNOPSIS"]);
    r.text([italic(config::DEFAULT_PATH)]);
    r.control("SH", ["DESCRIPTION"]);
    for (i, paragraph) in keys::ABOUT_FILE.iter().enumerate() {
        if i > 0 {
            r.control("PP", []);
        }
        r.text(inline(paragraph));
    }
    for section in keys::SECTIONS {
        let head = if section.array { format!("[[{}]]", section.name) } else { format!("[{}]", section.name) };
        r.control("SH", [head.as_str()]);
        r.text(inline(section.about));
        for key in keys::KEYS.iter().filter(|k| k.section == section.name) {
            r.control("TP", []);
            r.text([bold(key.name), roman(" = "), italic(key.kind)]);
            r.text(inline(key.about));
            r.control("br", []);
            let mut facts = vec![roman("Default: ")];
            match key.default {
                keys::Default::Value(v) => facts.push(bold(v)),
                keys::Default::Required => facts.push(roman("none, required")),
                keys::Default::Note(n) => facts.extend(inline(n)),
            }
            facts.push(roman(". Allowed: "));
            match key.bounds {
                keys::Bounds::Range(min, max) => facts.push(roman(format!("{min} to {max}"))),
                keys::Bounds::OneOf(values) => {
                    for (i, v) in values.iter().enumerate() {
                        if i > 0 {
                            facts.push(roman(", "));
                        }
                        facts.push(bold(format!("\"{v}\"")));
                    }
                }
                keys::Bounds::Rule(rule) => facts.extend(inline(rule)),
            }
            facts.push(roman("."));
            r.text(facts);
        }
    }
    r.control("SH", ["THE PYTHON DDNS-DAEMON'S CONFIG"]);
    r.text(inline(keys::ABOUT_DAEMON));
    for (key, fate) in config::compat::DAEMON_KEYS {
        r.control("TP", []);
        r.text([bold(*key)]);
        let about = match fate {
            config::compat::Fate::Same(other) => vec![roman("Means "), bold(*other), roman(".")],
            config::compat::Fate::Ignored(why) => inline(&format!("Ignored with a warning: {why}.")),
            config::compat::Fate::Checked(what) => inline(&format!("Allowed: {what}.")),
        };
        r.text(about);
    }
    r.control("SH", ["EXAMPLE"]);
    r.text(inline("A complete file for one zone on a local Knot or BIND server:"));
    r.control("PP", []);
    r.control("RS", ["4"]);
    r.control("nf", []);
    for line in [
        "[database]",
        "path = \"/var/lib/ddns-cgi/ddns.db\"",
        "",
        "[dns]",
        "server = \"127.0.0.1:53\"",
        "tsig_key_file = \"/etc/ddns-cgi/tsig.key\"",
        "",
        "[[zones]]",
        "name = \"dyn.example.com\"",
    ] {
        r.text([roman(line)]);
    }
    r.control("fi", []);
    r.control("RE", []);
    r.control("SH", ["FILES"]);
    r.control("TP", []);
    r.text([italic("/usr/share/doc/ddns-cgi/examples/config.example.toml")]);
    r.text(inline("Every key with its default, commented."));
    r.control("SH", ["SEE ALSO"]);
    r.text([bold("ddns-cgi"), roman("(8), "), bold("tsig-keygen"), roman("(8), "), bold("keymgr"), roman("(8)")]);
    let mut page = Page::new();
    page.push(title("ddns-cgi.toml", "5", "File Formats"));
    page.roff(&r);
    page.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and every option of `ddns-cgi --help` and below appears in the page.
    #[test]
    fn the_manual_names_every_command_and_option() {
        let page = ddns_cgi_8();
        let mut cli = Cli::command();
        cli.build();
        fn walk(cmd: &clap::Command, path: &str, page: &str) {
            for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
                if let Some(long) = arg.get_long() {
                    let roff = format!("\\-\\-{}", long.replace('-', "\\-"));
                    assert!(page.contains(&roff), "`{path}`: `--{long}` is missing");
                }
                if arg.is_positional() {
                    let name = arg.get_value_names().map_or_else(|| arg.get_id().to_string(), |v| v.join(" "));
                    assert!(page.contains(&name), "`{path}`: `{name}` is missing");
                }
            }
            for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
                let sub_path = format!("{path} {}", sub.get_name());
                if !sub.has_subcommands() {
                    assert!(page.contains(&format!(".SS \"{sub_path}\"")), "`{sub_path}` has no section");
                }
                walk(sub, &sub_path, page);
            }
        }
        walk(&cli, "ddns-cgi", &page);
        assert!(page.starts_with(".TH ddns-cgi 8 "), "{}", page.lines().next().unwrap_or_default());
    }

    /// Every token the service can answer with is in the answer table.
    #[test]
    fn the_manual_lists_every_answer() {
        let page = ddns_cgi_8();
        let answers = page.split_once(".SH ANSWERS").map(|(_, a)| a).unwrap_or_default();
        let tokens: Vec<&str> = reply::answer_docs().iter().map(|d| d.token).collect();
        assert!(tokens.len() >= 16, "{tokens:?}");
        for token in tokens {
            assert!(answers.contains(&format!("\\fB{token}\\fR")), "`{token}` is not in the answer table");
        }
        // And each says what it means, in words of its own.
        let meanings: std::collections::HashSet<&str> = reply::answer_docs().iter().map(|d| d.meaning).collect();
        assert!(!meanings.contains(""), "an answer without its meaning");
        assert_eq!(meanings.len(), reply::answer_docs().len(), "two answers share a meaning");
    }

    #[test]
    fn the_config_page_documents_every_key() {
        let page = ddns_cgi_toml_5();
        for key in keys::KEYS {
            assert!(page.contains(&format!("\\fB{}\\fR = ", key.name.replace('-', "\\-"))), "{}", key.name);
        }
        for section in keys::SECTIONS {
            let head = if section.array { format!("[[{}]]", section.name) } else { format!("[{}]", section.name) };
            assert!(page.contains(&format!("\n.SH {head}\n")), "{head}");
        }
    }

    #[test]
    fn completions_name_the_commands() {
        let bash = completions(clap_complete::Shell::Bash);
        assert!(bash.contains("complete -F _ddns__cgi"), "{bash}");
        assert!(bash.contains("ddns__cgi__subcmd__hostname__subcmd__token"), "subcommands are completed");
    }
}
