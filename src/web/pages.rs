//! The pages as askama templates (`templates/console/`), compiled into the binary and escaping
//! HTML by default: each page is a typed value built by its handler, and the template only
//! shows it. `Layout` is what the base template needs on every page.

use askama::Template;

/// What every page's frame shows: the title, the links' base, the stylesheets' hashed names,
/// and for a logged-in user the name and the CSRF token of the logout form.
#[derive(Debug)]
pub(super) struct Layout {
    pub(super) title: String,
    pub(super) base: String,
    pub(super) css: &'static str,
    pub(super) console_css: &'static str,
    pub(super) user: Option<String>,
    /// Whether the user is an admin (the navigation links the admin pages).
    pub(super) admin: bool,
    pub(super) csrf: String,
    pub(super) notice: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "console/message.html")]
pub(super) struct MessagePage {
    pub(super) layout: Layout,
    pub(super) message: String,
    pub(super) back: Option<String>,
}

#[derive(Debug, Template)]
#[template(path = "console/login.html")]
pub(super) struct LoginPage {
    pub(super) layout: Layout,
    pub(super) error: Option<String>,
    pub(super) user: String,
}

#[derive(Debug, Template)]
#[template(path = "console/invite.html")]
pub(super) struct InvitePage {
    pub(super) layout: Layout,
    pub(super) name: String,
    pub(super) code: String,
    pub(super) error: Option<String>,
}

/// One row of the hosts list; every cell already text.
#[derive(Debug)]
pub(super) struct HostRow {
    pub(super) fqdn: String,
    pub(super) owner: String,
    pub(super) ipv4: String,
    pub(super) ipv6: String,
    pub(super) txt: String,
    pub(super) last_update: String,
    pub(super) expires: String,
    pub(super) state: String,
    pub(super) token: String,
    pub(super) follows: String,
    pub(super) dns_ttl: u32,
    pub(super) offline: bool,
    pub(super) has_token: bool,
    /// What the primary DNS server answers now for A and AAAA (the hosts list).
    pub(super) dns: String,
}

#[derive(Debug, Template)]
#[template(path = "console/hosts.html")]
pub(super) struct HostsPage {
    pub(super) layout: Layout,
    pub(super) hosts: Vec<HostRow>,
    pub(super) show_owner: bool,
}

/// What the primary DNS server answers for the host now, each rrset as text.
#[derive(Debug)]
pub(super) struct DnsNow {
    pub(super) a: String,
    pub(super) aaaa: String,
    pub(super) txt: String,
}

/// One audit row of the host's history.
#[derive(Debug)]
pub(super) struct HistoryRow {
    pub(super) at: String,
    pub(super) answer: String,
    pub(super) by: String,
    pub(super) client: String,
    pub(super) addresses: String,
    pub(super) reason: String,
}

#[derive(Debug, Template)]
#[template(path = "console/host.html")]
pub(super) struct HostPage {
    pub(super) layout: Layout,
    pub(super) host: HostRow,
    pub(super) show_owner: bool,
    pub(super) dns: DnsNow,
    pub(super) children: Vec<String>,
    pub(super) history: Vec<HistoryRow>,
    /// A token just created, shown this once, with its client settings (`recipes`) or why
    /// there are none.
    pub(super) new_token: Option<String>,
    pub(super) recipes: Vec<super::recipes::Recipe>,
    pub(super) recipes_error: Option<String>,
    /// The address changes of the last weeks, an SVG made (and escaped) by `timeline`.
    pub(super) timeline: String,
    /// An acme-dns account just created (its JSON and CNAME), shown this once.
    pub(super) acme: Option<String>,
    /// Whether `[acme]` is configured (the form is shown only then).
    pub(super) acme_on: bool,
}

#[derive(Debug, Template)]
#[template(path = "console/account.html")]
pub(super) struct AccountPage {
    pub(super) layout: Layout,
    pub(super) name: String,
    pub(super) email: String,
    pub(super) admin: bool,
}

/// One user on the admin users page.
#[derive(Debug)]
pub(super) struct UserRow {
    pub(super) name: String,
    pub(super) email: String,
    pub(super) n_hosts: i64,
    pub(super) admin: bool,
}

/// The admin audit page's filters, from the query string (a GET form).
#[derive(Debug, Default)]
pub(super) struct AuditFilter {
    pub(super) user: String,
    pub(super) host: String,
    pub(super) answer: String,
    pub(super) since: String,
}

impl AuditFilter {
    pub(super) fn from_query(ctx: &super::Ctx<'_>) -> AuditFilter {
        let query = ctx.env.get("QUERY_STRING").map(String::as_str).unwrap_or("");
        let pairs = crate::request::parse_form(query.as_bytes()).unwrap_or_default();
        let get = |name: &str| {
            pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.chars().take(256).collect()).unwrap_or_default()
        };
        AuditFilter { user: get("user"), host: get("host"), answer: get("answer"), since: get("since") }
    }
}

#[derive(Debug, Template)]
#[template(path = "console/admin.html")]
pub(super) struct AdminPage {
    pub(super) layout: Layout,
    /// Which tab: `users`, `hostnames`, `ratelimit`, `audit`, `check`.
    pub(super) tab: &'static str,
    pub(super) users: Vec<UserRow>,
    /// A CLI command's output shown as it prints it (`ratelimit list`, `check`).
    pub(super) output: Option<String>,
    /// An invitation link, shown once.
    pub(super) link: Option<String>,
    /// Audit rows with their hostnames, newest first.
    pub(super) audit: Vec<(String, HistoryRow)>,
    pub(super) filter: AuditFilter,
    pub(super) zones: Vec<String>,
}
