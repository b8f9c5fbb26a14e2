//! Opening the database: the r2d2 pool, per-connection PRAGMAs and the migrations.
//!
//! Durability: WAL journal with `synchronous=FULL`. In WAL mode a commit is durable against
//! a killed process already at NORMAL (the WAL frames are in the file when COMMIT returns);
//! FULL adds an fsync of the WAL per commit, so an acknowledged push also survives an OS
//! crash or power loss. Measured on the 2-core development VM (see README, "Benchmark"):
//! the fsync costs about 0.3 ms per commit, well inside the 5 ms p50 budget, so the stronger
//! guarantee is the default; under load, pushes arriving together share one commit and its
//! fsync (group commit, see [`crate::gateway`]).
//!
//! Each connection's page cache is 1 MiB rather than SQLite's 2 MiB: a push touches a few
//! pages, the rest is a file read from the kernel's cache, and four connections' caches are a
//! good part of the gateway's memory when the store is small.
//!
//! `busy_timeout` is 5 s on every connection so that a reader such as `sqlite3` on the live
//! file, or a replication tool taking its own locks, makes a push wait instead of fail.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::OpenFlags;

use super::{migrate, StoreError};

/// Connections in the pool: the writer, the history pruner, and readers (health checks,
/// history queries).
const POOL_SIZE: u32 = 4;

/// The connection pool type used across the crate.
pub type Pool = r2d2::Pool<SqliteConnectionManager>;
/// A connection checked out of the pool.
pub type PooledConnection = r2d2::PooledConnection<SqliteConnectionManager>;

/// Opens (creating if needed) the database at `path`, or a private in-memory database when
/// `path` is `None`, applies migrations and returns the pool.
pub fn open(path: Option<&Path>) -> Result<Pool, StoreError> {
    if let Some(p) = path {
        // Fail fast with SQLite's own reason; the pool would retry until its timeout.
        let conn = rusqlite::Connection::open(p)
            .map_err(|e| StoreError::Open(format!("{}: {e}", p.display())))?;
        conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))
            .map_err(|e| StoreError::Open(format!("{}: {e}", p.display())))?;
    }
    let manager = match path {
        Some(p) => SqliteConnectionManager::file(p),
        None => {
            // A named database of SQLite's memdb VFS (a name starting with `/` is shared by
            // every connection of the process), so every pooled connection sees the same data.
            // Not a shared-cache database: its table locks fail at once (SQLITE_LOCKED)
            // instead of waiting for `busy_timeout`, so a write probe next to a push could
            // fail either; memdb takes ordinary file locks, which wait.
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let name = format!(
                "file:/pushgateway-{}-{}?vfs=memdb",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            SqliteConnectionManager::file(name)
                .with_flags(OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI)
        }
    }
    .with_init(|c| {
        c.busy_timeout(Duration::from_secs(5))?;
        c.execute_batch(
            "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; PRAGMA cache_size = -1024;",
        )
    });
    let pool = r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        // Every connection is opened here, before any write, and kept: an in-memory database
        // lives only while a connection to it is open.
        .min_idle(Some(POOL_SIZE))
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
        .map_err(|e| StoreError::Open(describe_open_error(path, &e)))?;
    let mut conn = pool.get()?;
    if path.is_some() {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Open(format!(
                "cannot switch the database to WAL mode (got {mode})"
            )));
        }
    }
    migrate::migrate(&mut conn).map_err(StoreError::Migrate)?;
    Ok(pool)
}

/// Creates a new database file at `path` for one writer that fills it in one transaction and
/// closes it: the import of the original Pushgateway's file, which then renames the file into
/// place. A rollback journal (not WAL) and `synchronous=FULL`, so that once the connection is
/// closed every committed byte is in the file itself, with no `-wal` file beside it that a
/// rename would leave behind; [`open`] switches the file to WAL when the gateway serves it.
pub fn create_file(path: &Path) -> Result<rusqlite::Connection, StoreError> {
    let open_flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let mut conn = rusqlite::Connection::open_with_flags(path, open_flags)
        .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "DELETE", |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::Open(format!(
            "{}: cannot use a rollback journal (got {mode})",
            path.display()
        )));
    }
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
    migrate::migrate(&mut conn).map_err(StoreError::Migrate)?;
    Ok(conn)
}

fn describe_open_error(path: Option<&Path>, e: &r2d2::Error) -> String {
    match path {
        Some(p) => format!("{}: {e}", p.display()),
        None => format!("in-memory database: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_in_memory_writer_waits_for_another_instead_of_failing() {
        let pool = open(None).unwrap();
        let mut first = pool.get().unwrap();
        let tx = first
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        let second = std::thread::spawn({
            let pool = pool.clone();
            move || {
                let mut conn = pool.get().unwrap();
                let started = std::time::Instant::now();
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(|e| e.to_string())?;
                tx.commit().map_err(|e| e.to_string())?;
                Ok::<_, String>(started.elapsed())
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        tx.commit().unwrap();
        let waited = second
            .join()
            .unwrap()
            .expect("the second writer waited its turn");
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
    }
}
