//! The three engines hold one schema (docs/design/engines.md): each keeps its own SQL and its
//! own migrations, so nothing but this test notices when a migration is added to one engine
//! and forgotten in another. After `init-db`, every engine has the same tables with the same
//! columns; the differences each engine needs are listed here with their reason.

use std::collections::BTreeSet;

use crate::util::mariadb::{self, MariaServer};
use crate::util::pg::PgServer;
use crate::util::{Setup, World};

/// (table, column) pairs of one engine.
type Columns = BTreeSet<(String, String)>;

/// Tables (column `*`) and columns that only some engines have, and why.
const ENGINE_OWN: &[(&str, &str, &str)] = &[
    // SQLite's own bookkeeping of AUTOINCREMENT.
    ("sqlite", "sqlite_sequence", "*"),
    // SQLite keeps its schema version in the file's header (`PRAGMA user_version`); the
    // servers in a table of one row.
    ("postgres", "schema_version", "*"),
    ("mariadb", "schema_version", "*"),
    // SQLite's rows have their rowid; the servers' rate-limit rows need a key of their own.
    ("postgres", "rate_limit", "id"),
    ("mariadb", "rate_limit", "id"),
];

fn sqlite_columns(w: &World) -> Columns {
    let conn = rusqlite::Connection::open(&w.db).expect("open the world's database");
    let mut stmt = conn
        .prepare("SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table'")
        .expect("prepare");
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).expect("query");
    rows.map(|r| r.expect("row")).collect()
}

fn postgres_columns(w: &World) -> Columns {
    let database = w.pg.clone().expect("a postgres world");
    let mut client = PgServer::shared().connect(&database);
    let rows = client
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'",
            &[],
        )
        .expect("columns");
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

fn mariadb_columns(w: &World) -> Columns {
    let database = w.mariadb.clone().expect("a mariadb world");
    let mut conn = MariaServer::shared().connect(&database);
    let sql =
        format!("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = '{database}'");
    mariadb::rows(&mut conn, &sql)
        .into_iter()
        .map(|r| (r[0].clone().unwrap_or_default(), r[1].clone().unwrap_or_default()))
        .collect()
}

fn without_own(engine: &str, columns: Columns) -> Columns {
    columns
        .into_iter()
        .filter(|(table, column)| {
            !ENGINE_OWN.iter().any(|(e, t, c)| *e == engine && t == table && (*c == "*" || c == column))
        })
        .collect()
}

/// What one side has and the other lacks, for the failure message.
fn difference(a: &Columns, b: &Columns) -> Vec<String> {
    a.difference(b).map(|(t, c)| format!("{t}.{c}")).collect()
}

#[test]
fn the_three_engines_hold_the_same_tables_and_columns() {
    let Some(sqlite) = World::sqlite(Setup::default()) else { return };
    let Some(pg) = World::postgres(Setup::default()) else { return };
    let Some(maria) = World::mariadb(Setup::default()) else { return };
    let sqlite = without_own("sqlite", sqlite_columns(&sqlite));
    let pg = without_own("postgres", postgres_columns(&pg));
    let maria = without_own("mariadb", mariadb_columns(&maria));
    assert!(sqlite.len() > 40, "too few columns read from SQLite: {sqlite:?}");
    for (name, other) in [("postgres", &pg), ("mariadb", &maria)] {
        assert!(
            *other == sqlite,
            "{name} differs from sqlite:\n  only in {name}: {:?}\n  only in sqlite: {:?}",
            difference(other, &sqlite),
            difference(&sqlite, other)
        );
    }
}
