//! Schema migrations: numbered SQL files in `migrations/`, embedded in the binary and applied
//! in order at start-up, each in its own transaction. Progress is `PRAGMA user_version`, so no
//! bookkeeping table of ours sits next to tables other tools add (Litestream adds its own).

use rusqlite::Connection;

/// Every migration, in order; the schema version after applying the Nth is N.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_metric_groups",
        include_str!("../../migrations/0001_metric_groups.sql"),
    ),
    (
        "0002_push_history",
        include_str!("../../migrations/0002_push_history.sql"),
    ),
    (
        "0003_group_expiry",
        include_str!("../../migrations/0003_group_expiry.sql"),
    ),
    (
        "0004_current_samples",
        include_str!("../../migrations/0004_current_samples.sql"),
    ),
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Why the schema could not be brought up to date.
#[derive(Debug)]
pub enum MigrateError {
    /// The database was written by a newer version of the gateway.
    TooNew { found: i64 },
    Sqlite {
        migration: &'static str,
        source: rusqlite::Error,
    },
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::TooNew { found } => write!(
                f,
                "database schema version {found} is newer than this gateway's ({SCHEMA_VERSION}); \
                 upgrade the gateway"
            ),
            MigrateError::Sqlite { migration, source } => {
                write!(f, "applying migration {migration}: {source}")
            }
        }
    }
}

impl std::error::Error for MigrateError {}

/// Applies every migration the database has not seen yet.
pub fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let sqlite = |migration| move |source| MigrateError::Sqlite { migration, source };
    let current: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(sqlite("reading user_version"))?;
    if current > SCHEMA_VERSION {
        return Err(MigrateError::TooNew { found: current });
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction().map_err(sqlite(name))?;
        tx.execute_batch(sql).map_err(sqlite(name))?;
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(sqlite(name))?;
        tx.commit().map_err(sqlite(name))?;
        log::info!("applied database migration {name}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_is_a_no_op() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let v: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        assert!(matches!(
            migrate(&mut conn),
            Err(MigrateError::TooNew { .. })
        ));
    }

    #[test]
    fn tables_of_other_tools_are_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);")
            .unwrap();
        migrate(&mut conn).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM _litestream_seq", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 0);
    }
}
