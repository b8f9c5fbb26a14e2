//! Opening the database: the r2d2 pool, per-connection PRAGMAs and the migrations.
//!
//! Durability: WAL journal with `synchronous=FULL`. In WAL mode a commit is durable against
//! a killed process already at NORMAL (the WAL frames are in the file when COMMIT returns);
//! FULL adds an fsync of the WAL per commit, so an acknowledged push also survives an OS
//! crash or power loss. Measured on the 2-core development VM (see README, "Benchmark"):
//! the fsync costs about 0.3 ms per push, well inside the 5 ms p50 budget, so the stronger
//! guarantee is the default.
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
            // A named shared-cache memory database, so every pooled connection sees the same data.
            static NEXT: AtomicU64 = AtomicU64::new(0);
            let name = format!(
                "file:pushgateway-{}-{}?mode=memory&cache=shared",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            );
            SqliteConnectionManager::file(name)
                .with_flags(OpenFlags::default() | OpenFlags::SQLITE_OPEN_URI)
        }
    }
    .with_init(|c| {
        c.busy_timeout(Duration::from_secs(5))?;
        c.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")
    });
    let pool = r2d2::Pool::builder()
        .max_size(POOL_SIZE)
        // Every connection is opened here, before any write: a shared-cache in-memory database
        // refuses a new connection's set-up while another one writes (busy_timeout does not
        // cover shared-cache locks), and it lives only while a connection is open.
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
