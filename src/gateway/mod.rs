//! The gateway service: the one way into the store. Pushes, deletes and wipes are applied to
//! the database and then to the cache; history listings and the health probe read through it.
//!
//! ```text
//! push ─► prepare: sanitise + check each family + render    (no lock: runs in parallel)
//!      ─► writer lock ─► plan against the cached group       (pure: plan.rs)
//!                     ─► consistency check against the cache
//!                     ─► BEGIN IMMEDIATE … COMMIT             (one transaction per change)
//!                     ─► cache update                         (still under the writer lock)
//!      ─► answer
//! ```
//! Holding one writer lock across the check, the COMMIT and the cache update means the cache
//! sees changes in commit order and the check sees a stable store. A transaction dropped
//! before COMMIT rolls back, and the cache is only touched after COMMIT succeeded.

mod plan;
mod prepare;
mod warm;

pub(crate) use crate::store::Unavailable;
pub(crate) use plan::PushMethod;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

use rusqlite::{Transaction, TransactionBehavior};

use crate::cache::Cache;
use crate::consistency::{check_push, join_errors};
use crate::family::{PUSH_FAILURE_TIME, PUSH_TIME};
use crate::grouping_key::GroupingKey;
use crate::history::{HistoryQuery, HistoryRecord, Request, Retention};
use crate::limits;
use crate::metrics::storage::{StorageFigures, StorageStats};
use crate::proto::MetricFamily;
use crate::store::history::{insert_record, PushRecord};
use crate::store::prune::Pruner;
use crate::store::{self, Pool, PooledConnection, StoreError};
use plan::{failure_over_series_total, plan_failure, plan_push, GroupState, Row};
use prepare::{prepare, Prepared};

/// Why the gateway did not apply a change or could not answer a read.
#[derive(Debug)]
pub(crate) enum GatewayError {
    /// The push is invalid or inconsistent with the store; its failure was recorded.
    Rejected(String),
    /// The push would exceed a configured limit; nothing changed.
    Limit(String),
    /// The database failed; nothing changed.
    Store(StoreError),
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayError::Rejected(m) | GatewayError::Limit(m) => f.write_str(m),
            GatewayError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for GatewayError {}

impl From<StoreError> for GatewayError {
    fn from(e: StoreError) -> Self {
        GatewayError::Store(e)
    }
}

impl From<rusqlite::Error> for GatewayError {
    fn from(e: rusqlite::Error) -> Self {
        GatewayError::Store(StoreError::Sqlite(e))
    }
}

impl From<r2d2::Error> for GatewayError {
    fn from(e: r2d2::Error) -> Self {
        GatewayError::Store(StoreError::Pool(e))
    }
}

/// How the gateway records and answers changes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// What pushed history is kept.
    pub(crate) retention: Retention,
    /// The status an accepted push is answered with (202 with the consistency check disabled).
    pub(crate) push_status: u16,
    /// `--push.max-series-total`: the most series the store may hold after a push.
    pub(crate) max_series_total: Option<usize>,
}

/// The prefix of the answer to a push refused by the consistency check.
pub(crate) const INCONSISTENT: &str =
    "pushed metrics are invalid or inconsistent with existing metrics: ";

/// The store, its cache, and the lock that orders writes.
pub(crate) struct Gateway {
    options: Options,
    pool: Pool,
    /// The one connection that writes. Held across check, COMMIT and cache update so the
    /// cache changes in commit order. A std mutex: it is only taken on blocking threads.
    writer: Mutex<PooledConnection>,
    /// Read by scrapes and checks; written only while `writer` is held.
    cache: RwLock<Cache>,
    /// The database file (`None`: in memory), for the storage metrics.
    path: Option<PathBuf>,
    /// COMMIT durations and the history's size, for the storage metrics.
    stats: Arc<StorageStats>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

impl Gateway {
    /// Loads every group of an opened and migrated database into the cache. Start-up runs
    /// this after binding the listeners (see [`crate::startup`]).
    pub(crate) fn warm(
        pool: Pool,
        path: Option<&Path>,
        options: Options,
    ) -> Result<Gateway, StoreError> {
        let writer = pool.get()?;
        let cache = warm::warm_cache(&writer)?;
        Ok(Gateway {
            options,
            pool,
            writer: Mutex::new(writer),
            cache: RwLock::new(cache),
            path: path.map(Path::to_path_buf),
            stats: Arc::new(StorageStats::default()),
        })
    }

    /// Starts pruning the history in the background, on a pooled connection of its own.
    pub(crate) fn start_pruner(&self) -> Pruner {
        Pruner::start(
            self.pool.clone(),
            self.options.retention,
            self.stats.clone(),
        )
    }

    /// Read access to the cache. Keep the guard short: pushes wait for it after COMMIT.
    pub(crate) fn cache(&self) -> RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    /// What the storage metrics report now.
    pub(crate) fn storage_figures(&self) -> StorageFigures<'_> {
        let cache = self.cache();
        StorageFigures {
            groups: cache.group_count(),
            series: cache.series_count(),
            database: self.path.as_deref(),
            stats: &self.stats,
        }
    }

    /// Pushed history records, newest first.
    pub(crate) fn history(&self, query: &HistoryQuery) -> Result<Vec<HistoryRecord>, GatewayError> {
        let conn = self.pool.get()?;
        Ok(store::history::query(&conn, query)?)
    }

    /// Whether a write transaction can be started and committed now (`/-/healthy`).
    pub(crate) fn probe_writable(&self) -> Result<(), GatewayError> {
        let mut conn = self.pool.get()?;
        Ok(store::probe_writable(&mut conn)?)
    }

    fn lock_writer(&self) -> MutexGuard<'_, PooledConnection> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commits `tx`, timing the COMMIT.
    fn commit(&self, tx: Transaction<'_>) -> rusqlite::Result<()> {
        let started = Instant::now();
        let result = tx.commit();
        self.stats.commits.observe(started.elapsed());
        result
    }

    /// Replaces the cached group `key` with `state`, whose row is `id` (after COMMIT).
    fn cache_group(&self, id: i64, key: &GroupingKey, state: GroupState) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .put_group(state.into_group(id, key));
    }

    /// Applies a push of `families` to the group `key` at time `now_ns`, and records it in
    /// the history in the same transaction.
    pub(crate) fn push(
        &self,
        key: &GroupingKey,
        method: PushMethod,
        families: Vec<MetricFamily>,
        now_ns: i64,
        request: &Request,
    ) -> Result<(), GatewayError> {
        let family_count = families.len();
        let series_count: usize = families.iter().map(|f| f.metric.len()).sum();
        let Prepared {
            families: prepared,
            mut errors,
            samples,
        } = prepare(
            key,
            families,
            now_ns,
            self.options.retention.records_values(),
        );
        let mut record = PushRecord {
            time_ns: now_ns,
            request,
            key: Some(key),
            status: self.options.push_status,
            error: None,
            families: Some(family_count),
            series: Some(series_count),
            samples: samples.as_ref().map(|(json, n)| (json.as_str(), *n)),
        };
        let key_bytes = key.upstream_key();

        let mut conn = self.lock_writer();
        let stored = self.cache().group(&key_bytes).cloned();
        let plan = errors
            .is_empty()
            .then(|| plan_push(key, stored.as_ref(), method, prepared, now_ns));
        if let Some(plan) = &plan {
            let changed: Vec<&str> = plan.changed.iter().map(String::as_str).collect();
            errors = check_push(
                &self.cache(),
                stored.as_ref().map(|g| g.id),
                &key_bytes,
                &plan.after.families,
                &changed,
            );
        }
        let plan = match plan {
            Some(plan) if errors.is_empty() => plan,
            _ => {
                let message = join_errors(&errors);
                let answer = format!("{INCONSISTENT}{message}");
                record.status = 400;
                record.error = Some(&answer);
                record.samples = None;
                self.record_failure(&mut conn, key, stored.as_ref(), &record)?;
                return Err(GatewayError::Rejected(message));
            }
        };
        if let Some(max) = self.options.max_series_total {
            let removed = stored.as_ref().map_or(0, |g| g.series());
            let added = plan.after.families.values().map(|f| f.series()).sum();
            limits::check_series_total(self.cache().series_count(), removed, added, max)
                .map_err(GatewayError::Limit)?;
        }

        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = write_group_row(&tx, key, plan.row, &plan.after)?;
        if plan.replace_all {
            store::delete_all_families(&tx, id)?;
        }
        insert_record(&tx, &record)?;
        for family in &plan.written {
            store::upsert_family(
                &tx,
                id,
                &family.name,
                family.mtype.upstream_name(),
                family.help.as_deref(),
                family.pushed_ns,
                family.series(),
                &family.to_blob(),
            )?;
        }
        self.commit(tx)?;
        self.cache_group(id, key, plan.after);
        Ok(())
    }

    /// Records a failed push: sets the group's failure time, creating the group (with only its
    /// two timestamps) if it does not exist, as upstream does. Unlike upstream, a new group is
    /// not created when its timestamp series would duplicate another group's (a key that
    /// differs only by an empty label), because that would break every scrape.
    fn record_failure(
        &self,
        conn: &mut PooledConnection,
        key: &GroupingKey,
        stored: Option<&crate::cache::Group>,
        record: &PushRecord<'_>,
    ) -> Result<(), GatewayError> {
        let plan = plan_failure(key, stored, record.time_ns);
        if plan.row == Row::New {
            let mut clash = check_push(
                &self.cache(),
                None,
                &key.upstream_key(),
                &plan.after.families,
                &[PUSH_TIME, PUSH_FAILURE_TIME],
            );
            clash.append(failure_over_series_total(
                &plan,
                self.cache().series_count(),
                self.options.max_series_total,
            ));
            if !clash.is_empty() {
                log::warn!(
                    "not creating group {key} to record its failed push: {}",
                    join_errors(&clash)
                );
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                insert_record(&tx, record)?;
                self.commit(tx)?;
                return Ok(());
            }
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = write_group_row(&tx, key, plan.row, &plan.after)?;
        insert_record(&tx, record)?;
        self.commit(tx)?;
        self.cache_group(id, key, plan.after);
        Ok(())
    }

    /// Deletes the group with exactly this key; deleting a missing group changes nothing
    /// but the history.
    pub(crate) fn delete(
        &self,
        key: &GroupingKey,
        now_ns: i64,
        request: &Request,
    ) -> Result<(), GatewayError> {
        let key_bytes = key.upstream_key();
        let mut conn = self.lock_writer();
        let id = self.cache().group(&key_bytes).map(|g| g.id);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(id) = id {
            store::delete_group(&tx, id)?;
        }
        let record = PushRecord::bare(now_ns, request, Some(key), 202, None);
        insert_record(&tx, &record)?;
        self.commit(tx)?;
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove_group(&key_bytes);
        Ok(())
    }

    /// Records a change request refused before it reached the store (a malformed grouping
    /// key or body), in a transaction of its own.
    pub(crate) fn record_rejected(
        &self,
        key: Option<&GroupingKey>,
        now_ns: i64,
        request: &Request,
        status: u16,
        error: &str,
    ) -> Result<(), GatewayError> {
        let mut conn = self.lock_writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let record = PushRecord::bare(now_ns, request, key, status, Some(error));
        insert_record(&tx, &record)?;
        self.commit(tx)?;
        Ok(())
    }

    /// Deletes every group (`PUT /api/v1/admin/wipe`); returns how many there were.
    pub(crate) fn wipe(&self, now_ns: i64, request: &Request) -> Result<usize, GatewayError> {
        let mut conn = self.lock_writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        store::delete_all_groups(&tx)?;
        let record = PushRecord::bare(now_ns, request, None, 202, None);
        insert_record(&tx, &record)?;
        self.commit(tx)?;
        let mut cache = self.cache.write().unwrap_or_else(|e| e.into_inner());
        let count = cache.group_count();
        *cache = Cache::new();
        Ok(count)
    }
}

/// Writes the group's row as `after` has it (inserting it for a new group); returns its id.
fn write_group_row(
    tx: &Transaction<'_>,
    key: &GroupingKey,
    row: Row,
    after: &GroupState,
) -> rusqlite::Result<i64> {
    match row {
        Row::Existing(id) => {
            store::update_group_times(tx, id, after.last_push_ns, after.last_failure_ns)?;
            Ok(id)
        }
        Row::New => store::insert_group(
            tx,
            key,
            after.last_push_ns,
            after.last_failure_ns,
            after.created_ns,
        ),
    }
}
