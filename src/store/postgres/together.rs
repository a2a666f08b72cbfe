//! The reads of the FastCGI repeat in one round trip (`Store::read_together` on PostgreSQL).
//!
//! A repeat (`update::repeat`) reads the token or the user, then the hostname's relays and
//! its row: three statements, three round trips, each its own snapshot. Here the first of
//! those reads fetches, in one statement (so one snapshot), everything the repeat will ask
//! for: the token with its host and owner, or the user; the rows of the hostnames this user
//! was last seen updating (for a token, its own host); their relays. The later reads are
//! answered from what that statement returned. A read it did not fetch fails with
//! `StoreError::Unmemoized` before the repeat can answer or log anything, and
//! `read_together` runs the reads again one statement each, as they ran before, learning
//! the hostname for the next time.
//!
//! Nothing remembered is ever answered: what this keeps across requests (the hostnames a
//! user updates) only chooses what the one statement reads. So the answer is the answer of
//! the database as that one statement saw it, linearizable as the SQLite read transaction
//! is (docs/design/postgres.md); no generation number, no hot row every commit would bump,
//! and another front-end's commit is seen by the next request as by any statement.
//!
//! Everything but `read_together` reads around this, as before.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::Type;

use super::{HOST_COLUMNS, N_HOST_COLUMNS, Store, host_at};
use crate::store::{Host, Relay, StoreError, TokenGrant, TokenScope, User};

/// Hostnames remembered per user: a user updating more in turn misses now and then, and one
/// statement still reads few rows.
const FQDNS_PER_USER: usize = 4;

/// Users remembered at most; emptied when full (one more fallback relearns a user).
const MAX_USERS: usize = 4096;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Mode {
    /// Reads go to the server one statement each and nothing is kept (every read outside
    /// `read_together`).
    #[default]
    Off,
    /// The first read fetches everything in one statement; later reads come from it, and
    /// one it did not fetch fails with `StoreError::Unmemoized`.
    Together,
    /// Reads go to the server one statement each (the fallback), and the hostnames a user's
    /// reads name are learnt.
    Learn,
}

#[derive(Debug, Default)]
pub(super) struct Together {
    state: RefCell<State>,
}

#[derive(Debug, Default)]
struct State {
    mode: Mode,
    /// A read asked for what the statement did not fetch.
    missed: bool,
    /// What the one statement of this `read_together` returned; `None` before its first read.
    fetched: Option<Fetched>,
    /// The user whose name the fallback read, for learning its hostnames.
    learning: Option<String>,
    /// The hostnames each user was last seen updating, most recent first.
    fqdns: HashMap<String, Vec<String>>,
}

/// The rows of one statement, and what it asked for (an absent row is an answer too).
#[derive(Debug, Default)]
struct Fetched {
    digest: Option<Vec<u8>>,
    token: Option<TokenGrant>,
    name: Option<String>,
    user: Option<User>,
    /// The hostnames asked for, and the rows found with their relays.
    fqdns: Vec<String>,
    hosts: HashMap<String, (Host, Vec<Relay>)>,
}

/// The first read of a `read_together`: what the statement is built around.
enum First<'a> {
    Token(&'a [u8]),
    User(&'a str),
    Host(&'a str),
}

impl Together {
    /// Starts a `read_together`: its first read fetches everything.
    pub(super) fn start(&self) {
        let mut state = self.state.borrow_mut();
        state.mode = Mode::Together;
        state.missed = false;
        state.fetched = None;
    }

    /// Ends it: `true` when every read was answered from the one statement, so its outcome
    /// stands; `false` when the reads must run again one statement each.
    pub(super) fn end(&self) -> bool {
        let mut state = self.state.borrow_mut();
        state.mode = Mode::Off;
        state.fetched = None;
        !state.missed
    }

    /// Starts the fallback: reads one statement each, learning a user's hostnames.
    pub(super) fn start_learning(&self) {
        let mut state = self.state.borrow_mut();
        state.mode = Mode::Learn;
        state.learning = None;
    }

    pub(super) fn end_learning(&self) {
        let mut state = self.state.borrow_mut();
        state.mode = Mode::Off;
        state.learning = None;
    }

    fn mode(&self) -> Mode {
        self.state.borrow().mode
    }

    /// Marks a read the statement did not fetch.
    fn miss<T>(&self) -> Result<T, StoreError> {
        self.state.borrow_mut().missed = true;
        Err(StoreError::Unmemoized)
    }
}

impl Store {
    /// Starts a `read_together`: its first read fetches everything.
    pub(crate) fn start_together(&self) {
        self.together.start();
    }

    /// Ends it: `false` when the reads must run again ([`Store::start_learning`]).
    pub(crate) fn end_together(&self) -> bool {
        self.together.end()
    }

    /// Starts the fallback of a `read_together`: one statement a read.
    pub(crate) fn start_learning(&self) {
        self.together.start_learning();
    }

    pub(crate) fn end_learning(&self) {
        self.together.end_learning();
    }

    /// The first read of a `read_together`: one statement for it and for what follows.
    fn fetch_together(&self, first: First<'_>) -> Result<(), StoreError> {
        let (digest, name, mut fqdns): (Option<&[u8]>, Option<&str>, Vec<String>) = match first {
            First::Token(digest) => (Some(digest), None, Vec::new()),
            First::User(name) => {
                let state = self.together.state.borrow();
                (None, Some(name), state.fqdns.get(name).cloned().unwrap_or_default())
            }
            First::Host(fqdn) => (None, None, vec![fqdn.to_owned()]),
        };
        fqdns.dedup();
        let rows = self.query_kept(
            "together",
            together_sql,
            &[(&digest, Type::BYTEA), (&name, Type::TEXT), (&fqdns, Type::TEXT_ARRAY)],
        )?;
        let mut fetched =
            Fetched { digest: digest.map(<[u8]>::to_vec), name: name.map(str::to_owned), fqdns, ..Fetched::default() };
        let n = N_HOST_COLUMNS;
        for r in &rows {
            match r.get::<_, i32>(0) {
                TOKEN => {
                    let host = host_at(r, 1);
                    fetched.token = Some(TokenGrant {
                        owner: User {
                            id: r.get(1 + n),
                            name: r.get(2 + n),
                            email: r.get(3 + n),
                            password_hash: r.get(4 + n),
                        },
                        digest: r.get(5 + n),
                        scope: TokenScope { types: r.get(6 + n), networks: r.get(7 + n), expires_at: r.get(8 + n) },
                        host,
                    });
                }
                USER => {
                    fetched.user = Some(User {
                        id: r.get(1 + n),
                        name: r.get(2 + n),
                        email: r.get(3 + n),
                        password_hash: r.get(4 + n),
                    });
                }
                _ => {
                    // HOSTS, the only other tag.
                    let host = host_at(r, 1);
                    let relay = r.get::<_, Option<i64>>(9 + n).map(|_| super::relays::relay_at(r, 9 + n));
                    if !fetched.fqdns.contains(&host.fqdn) {
                        fetched.fqdns.push(host.fqdn.clone());
                    }
                    let entry = fetched.hosts.entry(host.fqdn.clone()).or_insert_with(|| (host, Vec::new()));
                    entry.1.extend(relay);
                }
            }
        }
        self.together.state.borrow_mut().fetched = Some(fetched);
        Ok(())
    }

    /// Whether reads of this `read_together` come from one statement; fetches it on the first.
    fn together_fetched(&self, first: First<'_>) -> Result<bool, StoreError> {
        if self.together.mode() != Mode::Together {
            return Ok(false);
        }
        if self.together.state.borrow().fetched.is_none() {
            self.fetch_together(first)?;
        }
        Ok(true)
    }

    pub(crate) fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        if self.together_fetched(First::User(name))? {
            let state = self.together.state.borrow();
            let Some(f) = state.fetched.as_ref().filter(|f| f.name.as_deref() == Some(name)) else {
                drop(state);
                return self.together.miss();
            };
            return Ok(f.user.clone());
        }
        if self.together.mode() == Mode::Learn {
            self.together.state.borrow_mut().learning = Some(name.to_owned());
        }
        self.user_row(name)
    }

    pub(crate) fn token(&self, digest: &[u8]) -> Result<Option<TokenGrant>, StoreError> {
        if self.together_fetched(First::Token(digest))? {
            let state = self.together.state.borrow();
            let Some(f) = state.fetched.as_ref().filter(|f| f.digest.as_deref() == Some(digest)) else {
                drop(state);
                return self.together.miss();
            };
            return Ok(f.token.clone());
        }
        self.token_row(digest)
    }

    pub(crate) fn host(&self, fqdn: &str) -> Result<Option<Host>, StoreError> {
        if self.together_fetched(First::Host(fqdn))? {
            let found = self.fetched_host(fqdn, |(host, _)| host.clone());
            return found.map_or_else(|| self.together.miss(), Ok);
        }
        if self.together.mode() == Mode::Learn {
            self.learn(fqdn);
        }
        self.host_unlocked(fqdn)
    }

    pub(crate) fn relays_for_update(&self, fqdn: &str, user_id: i64) -> Result<Vec<Relay>, StoreError> {
        if self.together_fetched(First::Host(fqdn))? {
            // As the statement's `h.user_id = $2`: none for a host of another user.
            let found = self.fetched_host(
                fqdn,
                |(host, relays)| {
                    if host.user_id == user_id { relays.clone() } else { Vec::new() }
                },
            );
            return found.map(Option::unwrap_or_default).map_or_else(|| self.together.miss(), Ok);
        }
        if self.together.mode() == Mode::Learn {
            self.learn(fqdn);
        }
        self.relay_rows_for_update(fqdn, user_id)
    }

    /// A fetched host's row through `pick`: `Some(None)` when the statement asked for it and
    /// found none, `None` when it did not ask.
    fn fetched_host<T>(&self, fqdn: &str, pick: impl FnOnce(&(Host, Vec<Relay>)) -> T) -> Option<Option<T>> {
        let state = self.together.state.borrow();
        let f = state.fetched.as_ref()?;
        if let Some(found) = f.hosts.get(fqdn) {
            return Some(Some(pick(found)));
        }
        f.fqdns.iter().any(|n| n == fqdn).then_some(None)
    }

    /// Remembers that the user the fallback read updates `fqdn`.
    fn learn(&self, fqdn: &str) {
        let mut state = self.together.state.borrow_mut();
        let Some(name) = state.learning.clone() else { return };
        if state.fqdns.len() >= MAX_USERS && !state.fqdns.contains_key(&name) {
            state.fqdns.clear();
        }
        let known = state.fqdns.entry(name).or_default();
        known.retain(|n| n != fqdn);
        known.insert(0, fqdn.to_owned());
        known.truncate(FQDNS_PER_USER);
    }
}

/// The tags of the statement's rows.
const HOSTS: i32 = 0;
const TOKEN: i32 = 1;
const USER: i32 = 2;

/// The one statement: `$1` a token's digest (or NULL), `$2` a user's name (or NULL), `$3`
/// hostnames. Rows tagged 0: the token with its host and owner; 1: the user; 2: a host (the
/// token's and those named), once per relay with the relay's columns, else once with NULLs
/// there, in the relays' order. All columns in one shape, NULL where a tag has none; the
/// hosts' branch comes first with every NULL typed, as a `UNION` resolves its column types
/// pairwise from the left.
fn together_sql() -> String {
    let nulls = |n: usize| vec!["NULL"; n].join(", ");
    let relays = super::relays::RELAY_COLUMNS;
    format!(
        "SELECT {HOSTS}, {HOST_COLUMNS}, NULL::BIGINT, NULL::TEXT, NULL::TEXT, NULL::TEXT, NULL::BYTEA, NULL::TEXT,
                NULL::TEXT, NULL::BIGINT, {relays}
         FROM hostnames h LEFT JOIN relays r ON r.hostname_id = h.id
         WHERE h.fqdn = ANY($3) OR h.id = (SELECT hostname_id FROM tokens WHERE digest = $1)
         UNION ALL
         SELECT {TOKEN}, {HOST_COLUMNS}, u.id, u.name, u.email, u.password_hash, t.digest, t.types, t.networks,
                t.expires_at, {relay_nulls}
         FROM tokens t JOIN hostnames h ON h.id = t.hostname_id JOIN users u ON u.id = h.user_id WHERE t.digest = $1
         UNION ALL
         SELECT {USER}, {host_nulls}, u.id, u.name, u.email, u.password_hash, NULL, NULL, NULL, NULL, {relay_nulls}
         FROM users u WHERE u.name = $2
         ORDER BY 1, {relay_id}",
        host_nulls = nulls(N_HOST_COLUMNS),
        relay_nulls = nulls(super::relays::N_RELAY_COLUMNS),
        // The relay's id: after the tag, the host's columns and the user's and token's eight.
        relay_id = 1 + N_HOST_COLUMNS + 8 + 1,
    )
}
