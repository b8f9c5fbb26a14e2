//! Pruning the pushed history (`--history.retention`, `--history.max-records`,
//! `--history.max-rows`): the SQL of one pass, and the background thread that runs a pass
//! every minute so pushes never pay for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, OptionalExtension};

use super::current::{keep_current_values, release_held_values};
use super::history::row_counts;
use super::Pool;
use crate::history::Retention;
use crate::metrics::storage::StorageStats;

/// Rows removed by one pruning pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub records: usize,
    pub samples: usize,
}

/// Rows deleted per statement, so a pruning pass never holds the write lock for long.
const PRUNE_BATCH: i64 = 5_000;

/// Deletes records older than `cutoff_ns` and, with `max_records` above 0, the oldest records
/// past that many; then drops the values of the oldest pushes until at most `max_samples`
/// values are kept (whole pushes: a push keeps all its values or none). Runs in short
/// transactions so that pushes are not held up.
pub fn prune(
    conn: &mut Connection,
    cutoff_ns: i64,
    max_samples: u64,
    max_records: u64,
) -> rusqlite::Result<Pruned> {
    let mut pruned = Pruned::default();
    if max_records > 0 {
        // The id of the oldest record to keep: everything below it goes.
        let keep_from: Option<i64> = conn
            .query_row(
                "SELECT id FROM push_history ORDER BY id DESC LIMIT 1 OFFSET ?1",
                params![max_records.min(i64::MAX as u64) as i64 - 1],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(keep_from) = keep_from {
            prune_records(conn, "id < ?1", keep_from, &mut pruned)?;
        }
    }
    prune_records(conn, "time_ns < ?1", cutoff_ns, &mut pruned)?;
    // Values not recorded: a record lets them go once no current family shows them.
    release_held_values(conn, PRUNE_BATCH)?;
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Newest first, the running total of values; pushes past the limit lose theirs.
        let over = "SELECT id FROM (
                        SELECT id, sum(sample_count) OVER (ORDER BY id DESC) AS total
                        FROM push_history WHERE samples IS NOT NULL)
                    WHERE total > ?1 ORDER BY id LIMIT ?2";
        let max = max_samples.min(i64::MAX as u64) as i64;
        let samples: i64 = tx.query_row(
            &format!(
                "SELECT coalesce(sum(sample_count), 0) FROM push_history WHERE id IN ({over})"
            ),
            params![max, PRUNE_BATCH],
            |r| r.get(0),
        )?;
        // A current family whose values these are keeps them (current_samples).
        keep_current_values(&tx, over, max, PRUNE_BATCH)?;
        let cleared = tx.execute(
            &format!(
                "UPDATE push_history SET samples = NULL, sample_count = 0 WHERE id IN ({over})"
            ),
            params![max, PRUNE_BATCH],
        )?;
        tx.commit()?;
        pruned.samples += samples as usize;
        if cleared < PRUNE_BATCH as usize {
            break;
        }
    }
    Ok(pruned)
}

/// Deletes the records matching `condition` (with `?1` bound to `bound`), oldest first, a
/// batch per transaction; counts them and their values into `pruned`.
fn prune_records(
    conn: &mut Connection,
    condition: &str,
    bound: i64,
    pruned: &mut Pruned,
) -> rusqlite::Result<()> {
    let ids = format!("SELECT id FROM push_history WHERE {condition} ORDER BY id LIMIT ?2");
    loop {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let samples: i64 = tx.query_row(
            &format!("SELECT coalesce(sum(sample_count), 0) FROM push_history WHERE id IN ({ids})"),
            params![bound, PRUNE_BATCH],
            |r| r.get(0),
        )?;
        keep_current_values(&tx, &ids, bound, PRUNE_BATCH)?;
        let records = tx.execute(
            &format!("DELETE FROM push_history WHERE id IN ({ids})"),
            params![bound, PRUNE_BATCH],
        )?;
        tx.commit()?;
        pruned.records += records;
        pruned.samples += samples as usize;
        if records < PRUNE_BATCH as usize {
            return Ok(());
        }
    }
}

/// How often the history is pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The background thread that prunes the history, so pushes never pay for it.
#[derive(Debug)]
pub(crate) struct Pruner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Pruner {
    /// Starts pruning now and then every minute, on a pooled connection of its own.
    pub(crate) fn start(pool: Pool, retention: Retention, stats: Arc<StorageStats>) -> Pruner {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("history-pruner".into())
            .spawn(move || {
                let mut next = Instant::now();
                while !flag.load(Ordering::Relaxed) {
                    if Instant::now() >= next {
                        prune_once(&pool, retention, &stats);
                        next = Instant::now() + PRUNE_EVERY;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            })
            .ok();
        Pruner { stop, thread }
    }

    /// Stops the thread and waits for a pass in progress to finish.
    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One pruning pass, then a count of what is left for the storage metrics; failures are
/// logged and retried on the next pass.
fn prune_once(pool: &Pool, retention: Retention, stats: &StorageStats) {
    let now_ns = crate::clock::now_ns();
    let cutoff = now_ns.saturating_sub(retention.max_age.as_nanos().min(i64::MAX as u128) as i64);
    let result = pool.get().map_err(|e| e.to_string()).and_then(|mut conn| {
        let pruned = prune(
            &mut conn,
            cutoff,
            retention.max_sample_rows,
            retention.max_records,
        )
        .map_err(|e| e.to_string())?;
        let (records, samples) = row_counts(&conn).map_err(|e| e.to_string())?;
        stats.set_history_rows(records.max(0) as u64, samples.max(0) as u64);
        Ok(pruned)
    });
    match result {
        Ok(p) if p.records > 0 || p.samples > 0 => log::debug!(
            "pruned {} history records and {} sample values",
            p.records,
            p.samples
        ),
        Ok(_) => {}
        Err(e) => log::warn!("pruning the pushed history: {e}"),
    }
}
