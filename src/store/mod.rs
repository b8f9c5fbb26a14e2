//! The SQLite store: the only module with SQL in it.
//!
//! Functions that change data take the caller's [`rusqlite::Transaction`]; the caller
//! ([`crate::gateway`], or [`crate::upgrade`] filling a new file before the gateway exists)
//! begins and commits; the gateway applies each change of a batch inside a [`savepoint`], so
//! nothing is answered before COMMIT returns and a change that fails undoes only its own
//! writes.

pub mod current;
pub(crate) mod history;
mod migrate;
mod pool;
pub mod prune;
pub(crate) mod series;

use rusqlite::{params, Connection, OptionalExtension, Transaction};

pub use current::FamilyValues;
pub use migrate::{MigrateError, SCHEMA_VERSION};
pub use pool::{create_file, open, Pool, PooledConnection};

use crate::family::FamilyData;
use crate::grouping_key::GroupingKey;

/// Anything that went wrong talking to the database.
#[derive(Debug)]
pub enum StoreError {
    Open(String),
    Migrate(MigrateError),
    Sqlite(rusqlite::Error),
    Pool(r2d2::Error),
    /// A row that this version cannot read (a corrupt blob or labels column).
    Corrupt(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Open(m) => write!(f, "opening database: {m}"),
            StoreError::Migrate(e) => write!(f, "migrating database: {e}"),
            StoreError::Sqlite(e) => write!(f, "database: {e}"),
            StoreError::Pool(e) => write!(f, "database connection pool: {e}"),
            StoreError::Corrupt(m) => write!(f, "unreadable row in database: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Why the database cannot take a change right now, as a client and an operator need to know
/// it: each is answered with its own status and named in the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unavailable {
    /// Another connection or process held a lock past the busy timeout (`SQLITE_BUSY`,
    /// `SQLITE_LOCKED`).
    Locked,
    /// No connection was free in time.
    Busy,
    /// The disk, or the database's size limit, is full (`SQLITE_FULL`).
    DiskFull,
    /// Reading or writing the file failed (`SQLITE_IOERR`).
    Io,
    /// The file cannot be written (`SQLITE_READONLY`).
    ReadOnly,
}

impl Unavailable {
    /// The cause in a few words, as answers and log lines name it.
    pub fn cause(self) -> &'static str {
        match self {
            Unavailable::Locked => "database is locked",
            Unavailable::Busy => "database is busy",
            Unavailable::DiskFull => "disk full",
            Unavailable::Io => "database I/O error",
            Unavailable::ReadOnly => "database is read-only",
        }
    }
}

impl StoreError {
    /// The kind of outage this error is, if it is one rather than a fault of this program or
    /// of the data.
    pub fn unavailable(&self) -> Option<Unavailable> {
        use rusqlite::ErrorCode;
        match self {
            StoreError::Pool(_) => Some(Unavailable::Busy),
            StoreError::Sqlite(e) => match e.sqlite_error_code()? {
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Some(Unavailable::Locked),
                ErrorCode::DiskFull => Some(Unavailable::DiskFull),
                ErrorCode::SystemIoFailure => Some(Unavailable::Io),
                ErrorCode::ReadOnly => Some(Unavailable::ReadOnly),
                _ => None,
            },
            StoreError::Open(_) | StoreError::Migrate(_) | StoreError::Corrupt(_) => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Pool(e)
    }
}

/// A grouping key as its columns store it (`grouping_key`, `labels`, `job`), computed before
/// the change reaches the writer, which then only binds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyColumns {
    /// [`GroupingKey::canonical`].
    pub canonical: String,
    /// The labels as a JSON object ([`GroupingKey::to_json`]).
    pub labels: String,
    pub job: String,
}

impl KeyColumns {
    /// The columns of `key`.
    pub fn of(key: &GroupingKey) -> KeyColumns {
        KeyColumns {
            canonical: key.canonical(),
            labels: key.to_json(),
            job: key.job().to_string(),
        }
    }
}

/// A group row as stored.
#[derive(Debug, Clone)]
pub struct StoredGroup {
    pub id: i64,
    pub key: GroupingKey,
    pub last_push_ns: i64,
    pub last_failure_ns: i64,
    pub created_ns: i64,
    /// When the group expires (Unix ns); 0 for never.
    pub expires_ns: i64,
}

/// One family row: its group, when it was pushed, and the encoded `MetricFamily`.
#[derive(Debug, Clone)]
pub struct StoredFamily {
    pub group_id: i64,
    pub pushed_ns: i64,
    pub blob: Vec<u8>,
}

/// Reads every group row, for warming the cache at start-up.
pub fn load_groups(conn: &Connection) -> Result<Vec<StoredGroup>, StoreError> {
    let mut groups = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT id, labels, last_push_ns, last_failure_ns, created_ns, expires_ns
         FROM metric_groups ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let labels: String = row.get(1)?;
        let parsed: std::collections::BTreeMap<String, String> = serde_json::from_str(&labels)
            .map_err(|e| StoreError::Corrupt(format!("labels of group {id}: {e}")))?;
        let key = GroupingKey::from_labels(parsed)
            .map_err(|e| StoreError::Corrupt(format!("labels of group {id}: {e}")))?;
        groups.push(StoredGroup {
            id,
            key,
            last_push_ns: row.get(2)?,
            last_failure_ns: row.get(3)?,
            created_ns: row.get(4)?,
            expires_ns: row.get(5)?,
        });
    }
    Ok(groups)
}

/// Reads every family row, undecoded, handing them to `each_batch` a batch at a time, so that
/// the caller can decode in parallel without holding every row in memory at once.
pub fn load_families(
    conn: &Connection,
    batch_size: usize,
    mut each_batch: impl FnMut(Vec<StoredFamily>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare("SELECT group_id, pushed_ns, family FROM metric_families")?;
    let mut rows = stmt.query([])?;
    let mut batch = Vec::with_capacity(batch_size);
    while let Some(row) = rows.next()? {
        batch.push(StoredFamily {
            group_id: row.get(0)?,
            pushed_ns: row.get(1)?,
            blob: row.get(2)?,
        });
        if batch.len() == batch_size {
            each_batch(std::mem::replace(
                &mut batch,
                Vec::with_capacity(batch_size),
            ))?;
        }
    }
    if !batch.is_empty() {
        each_batch(batch)?;
    }
    Ok(())
}

/// Inserts a new group row and returns its id. `expires_ns` is when it expires (Unix ns), 0
/// for never.
pub fn insert_group(
    tx: &Transaction<'_>,
    key: &KeyColumns,
    last_push_ns: i64,
    last_failure_ns: i64,
    created_ns: i64,
    expires_ns: i64,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO metric_groups (grouping_key, labels, job, last_push_ns, last_failure_ns, created_ns,
                                    expires_ns)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        key.canonical,
        key.labels,
        key.job,
        last_push_ns,
        last_failure_ns,
        created_ns,
        expires_ns
    ])?;
    Ok(tx.last_insert_rowid())
}

/// Sets a group's last successful and last failed push times and when it expires (0: never).
pub fn update_group_times(
    tx: &Transaction<'_>,
    id: i64,
    last_push_ns: i64,
    last_failure_ns: i64,
    expires_ns: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE metric_groups SET last_push_ns = ?2, last_failure_ns = ?3, expires_ns = ?4
         WHERE id = ?1",
    )?
    .execute(params![id, last_push_ns, last_failure_ns, expires_ns])?;
    Ok(())
}

/// Removes a group and (by cascade) its families.
pub fn delete_group(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM metric_groups WHERE id = ?1")?
        .execute(params![id])?;
    Ok(())
}

/// Removes every group and family.
pub fn delete_all_groups(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM metric_groups", [])?;
    Ok(())
}

/// Removes one family of a group (PUT removes those it does not push again).
pub fn delete_family(tx: &Transaction<'_>, group_id: i64, name: &str) -> rusqlite::Result<()> {
    tx.prepare_cached("DELETE FROM metric_families WHERE group_id = ?1 AND name = ?2")?
        .execute(params![group_id, name])?;
    Ok(())
}

/// One `metric_families` row as a push writes it.
#[derive(Debug, Clone, Copy)]
pub struct FamilyRow<'a> {
    pub group_id: i64,
    pub name: &'a str,
    /// The type as upstream names it (`GAUGE`, `HISTOGRAM`, ...).
    pub type_name: &'a str,
    pub help: Option<&'a str>,
    pub pushed_ns: i64,
    pub series: usize,
    /// The family as a `MetricFamily` protobuf message.
    pub blob: &'a [u8],
    pub values: FamilyValues<'a>,
}

impl<'a> FamilyRow<'a> {
    /// The row of `family`, whose protobuf form is `blob`, in group `group_id`.
    pub fn of(
        group_id: i64,
        family: &'a FamilyData,
        blob: &'a [u8],
        values: FamilyValues<'a>,
    ) -> FamilyRow<'a> {
        FamilyRow {
            group_id,
            name: &family.name,
            type_name: family.mtype.upstream_name(),
            help: family.help.as_deref(),
            pushed_ns: family.pushed_ns,
            series: family.series(),
            blob,
            values,
        }
    }

    /// The row's columns, numbered ?1 to ?9 by both statements below.
    fn params(&self) -> impl rusqlite::Params + '_ {
        let (history_id, samples) = self.values.columns();
        (
            self.group_id,
            self.name,
            self.type_name,
            self.help,
            self.pushed_ns,
            self.series as i64,
            self.blob,
            history_id,
            samples,
        )
    }
}

/// Replaces the stored family of a group that has one of this name, in place; false when
/// there is none.
pub fn update_family(tx: &Transaction<'_>, row: &FamilyRow<'_>) -> rusqlite::Result<bool> {
    let changed = tx
        .prepare_cached(
            "UPDATE metric_families SET type = ?3, help = ?4, pushed_ns = ?5, series = ?6, family = ?7,
                                        history_id = ?8, samples = ?9
             WHERE group_id = ?1 AND name = ?2",
        )?
        .execute(row.params())?;
    Ok(changed > 0)
}

/// Stores one family of a group, replacing a family of the same name (POST merges by name).
pub fn upsert_family(tx: &Transaction<'_>, row: &FamilyRow<'_>) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO metric_families (group_id, name, type, help, pushed_ns, series, family,
                                                 history_id, samples)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(row.params())?;
    Ok(())
}

/// Runs `change` inside a SAVEPOINT of `tx`: when it fails, what it wrote is rolled back and
/// the rest of the transaction stays (unless SQLite has already rolled the whole transaction
/// back, as it may on an I/O error or a full disk: `tx.is_autocommit()` then says so).
pub fn savepoint<T>(
    tx: &Transaction<'_>,
    change: impl FnOnce() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    tx.prepare_cached("SAVEPOINT change")?.execute([])?;
    let result = change().and_then(|value| {
        tx.prepare_cached("RELEASE change")?.execute([])?;
        Ok(value)
    });
    if result.is_err()
        && !tx.is_autocommit()
        && tx
            .execute_batch("ROLLBACK TO change; RELEASE change")
            .is_err()
    {
        // What is left of the change is unknown: give up the whole transaction.
        let _ = tx.execute_batch("ROLLBACK");
    }
    result
}

/// Whether a write transaction can be started and committed now (for `/-/healthy`).
pub fn probe_writable(conn: &mut Connection) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.query_row("SELECT count(*) FROM metric_groups", [], |r| {
        r.get::<_, i64>(0)
    })
    .optional()?;
    tx.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Litestream's own tables and rows, as `litestream replicate` leaves them in the database.
    const LITESTREAM_TABLES: &str = "
        CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER);
        CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER);
        INSERT INTO _litestream_seq (id, seq) VALUES (1, 42);
        INSERT INTO _litestream_lock (id) VALUES (1);";

    fn key() -> GroupingKey {
        GroupingKey::from_labels(
            [("job", "a"), ("instance", "i")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        )
        .unwrap()
    }

    #[test]
    fn litestream_tables_with_rows_are_left_alone_by_migrations_and_loading() {
        // Litestream may touch the file before the gateway's first start (restore, then
        // replicate) or after it (replication added to a running deployment).
        for litestream_first in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("pg.db");
            if litestream_first {
                Connection::open(&path)
                    .unwrap()
                    .execute_batch(LITESTREAM_TABLES)
                    .unwrap();
            }
            {
                let pool = open(Some(&path)).unwrap();
                let mut conn = pool.get().unwrap();
                if !litestream_first {
                    conn.execute_batch(LITESTREAM_TABLES).unwrap();
                }
                let tx = conn.transaction().unwrap();
                let id = insert_group(&tx, &KeyColumns::of(&key()), 2, 0, 1, 0).unwrap();
                upsert_family(
                    &tx,
                    &FamilyRow {
                        group_id: id,
                        name: "x",
                        type_name: "GAUGE",
                        help: None,
                        pushed_ns: 2,
                        series: 1,
                        blob: b"family",
                        values: FamilyValues::Own("[]"),
                    },
                )
                .unwrap();
                tx.commit().unwrap();
            }

            // A restart: migrations run again, then the cache is loaded.
            let pool = open(Some(&path)).unwrap();
            let conn = pool.get().unwrap();
            let groups = load_groups(&conn).unwrap();
            assert_eq!(groups.len(), 1);
            assert_eq!(groups[0].key, key());
            assert_eq!(groups[0].last_push_ns, 2);
            let mut families = Vec::new();
            load_families(&conn, 10, |batch| {
                families.extend(batch);
                Ok(())
            })
            .unwrap();
            assert_eq!(families.len(), 1);
            assert_eq!(families[0].blob, b"family");
            let seq: i64 = conn
                .query_row("SELECT seq FROM _litestream_seq WHERE id = 1", [], |r| {
                    r.get(0)
                })
                .unwrap();
            let locks: i64 = conn
                .query_row("SELECT count(*) FROM _litestream_lock", [], |r| r.get(0))
                .unwrap();
            assert_eq!((seq, locks), (42, 1), "Litestream's rows are untouched");
            let version: i64 = conn
                .pragma_query_value(None, "user_version", |r| r.get(0))
                .unwrap();
            assert_eq!(version, SCHEMA_VERSION);
        }
    }

    #[test]
    fn a_write_lock_held_elsewhere_is_named_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        let mut other = Connection::open(&path).unwrap();
        other
            .busy_timeout(std::time::Duration::from_millis(10))
            .unwrap();
        let e = StoreError::from(probe_writable_table(&mut other).unwrap_err());
        assert_eq!(e.unavailable(), Some(Unavailable::Locked));
        assert_eq!(Unavailable::Locked.cause(), "database is locked");
    }

    #[test]
    fn a_full_database_is_named_disk_full() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x); PRAGMA max_page_count = 3;")
            .unwrap();
        let blob = vec![0u8; 64 * 1024];
        let e = StoreError::from(
            conn.execute("INSERT INTO t VALUES (?1)", params![blob])
                .unwrap_err(),
        );
        assert_eq!(e.unavailable(), Some(Unavailable::DiskFull));
        assert_eq!(Unavailable::DiskFull.cause(), "disk full");
    }

    #[test]
    fn other_errors_are_no_outage() {
        let conn = Connection::open_in_memory().unwrap();
        let e = StoreError::from(conn.execute("SELECT * FROM missing", []).unwrap_err());
        assert_eq!(e.unavailable(), None);
        assert_eq!(StoreError::Corrupt("x".into()).unavailable(), None);
    }

    fn probe_writable_table(conn: &mut Connection) -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute("INSERT INTO t VALUES (2)", [])?;
        tx.commit()
    }
}
