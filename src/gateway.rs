//! The gateway's core: applies pushes and deletes to the database and then to the cache.
//!
//! ```text
//! push ─► sanitise + check each family + render  (no lock: runs in parallel)
//!      ─► writer lock ─► consistency check against the cache
//!                     ─► BEGIN IMMEDIATE … COMMIT          (one transaction per push)
//!                     ─► cache update                      (still under the writer lock)
//!      ─► answer
//! ```
//! Holding one writer lock across the check, the COMMIT and the cache update means the cache
//! sees changes in commit order and the check sees a stable store. A transaction dropped
//! before COMMIT rolls back, and the cache is only touched after COMMIT succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

use rusqlite::{Transaction, TransactionBehavior};

use crate::cache::{Cache, Group};
use crate::consistency::{check_family, check_push, join_errors};
use crate::family::{sanitize, timestamp_family, FamilyData, PUSH_FAILURE_TIME, PUSH_TIME};
use crate::grouping_key::GroupingKey;
use crate::history::{self, Request, Retention};
use crate::limits;
use crate::proto::MetricFamily;
use crate::storage_metrics::CommitHistogram;
use crate::store::history::{insert_record, PushRecord};
use crate::store::{self, Pool, PooledConnection, StoreError, StoredGroup};

/// PUT replaces the whole group; POST replaces only the families it pushes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMethod {
    Replace,
    Merge,
}

/// Why a push was not applied.
#[derive(Debug)]
pub enum PushError {
    /// The push is invalid or inconsistent with the store; its failure was recorded.
    Rejected(String),
    /// The push would exceed a configured limit; nothing changed.
    Limit(String),
    /// The database failed; nothing changed.
    Store(StoreError),
}

impl From<StoreError> for PushError {
    fn from(e: StoreError) -> Self {
        PushError::Store(e)
    }
}

impl From<rusqlite::Error> for PushError {
    fn from(e: rusqlite::Error) -> Self {
        PushError::Store(StoreError::Sqlite(e))
    }
}

/// How the gateway records and answers changes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// What pushed history is kept.
    pub retention: Retention,
    /// The status an accepted push is answered with (202 with the consistency check disabled).
    pub push_status: u16,
    /// `--push.max-series-total`: the most series the store may hold after a push.
    pub max_series_total: Option<usize>,
}

impl Options {
    /// Upstream's behaviour with the history's defaults (for tests and embedding).
    pub fn defaults() -> Options {
        Options {
            retention: Retention {
                max_age: std::time::Duration::from_secs(7 * 86_400),
                max_sample_rows: 1_000_000,
            },
            push_status: 200,
            max_series_total: None,
        }
    }
}

/// The prefix of the answer to a push refused by the consistency check.
pub const INCONSISTENT: &str = "pushed metrics are invalid or inconsistent with existing metrics: ";

/// The store, its cache, and the lock that orders writes.
pub struct Gateway {
    options: Options,
    pool: Pool,
    /// The one connection that writes. Held across check, COMMIT and cache update so the
    /// cache changes in commit order. A std mutex: it is only taken on blocking threads.
    writer: Mutex<PooledConnection>,
    /// Read by scrapes and checks; written only while `writer` is held.
    cache: RwLock<Cache>,
    /// The database file (`None`: in memory), for the storage metrics.
    path: Option<PathBuf>,
    /// How long each COMMIT took.
    commits: CommitHistogram,
    /// Rows in the history tables (records, samples) as the last pruning pass counted them.
    history_rows: Mutex<Option<(u64, u64)>>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").finish_non_exhaustive()
    }
}

impl Gateway {
    /// Opens the database (`None`: in memory), migrates it and loads every group into the cache.
    pub fn open(path: Option<&Path>, options: Options) -> Result<Gateway, StoreError> {
        Gateway::warm(store::open(path)?, path, options)
    }

    /// Loads every group of an opened and migrated database into the cache. Start-up runs
    /// this after binding the listeners (see [`crate::startup`]).
    pub fn warm(pool: Pool, path: Option<&Path>, options: Options) -> Result<Gateway, StoreError> {
        let writer = pool.get()?;
        let cache = warm_cache(&writer)?;
        Ok(Gateway {
            options,
            pool,
            writer: Mutex::new(writer),
            cache: RwLock::new(cache),
            path: path.map(Path::to_path_buf),
            commits: CommitHistogram::new(),
            history_rows: Mutex::new(None),
        })
    }

    /// The database file, `None` for an in-memory database.
    pub fn database_path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Rows in the history tables (records, samples), once the pruner has counted them.
    pub fn history_rows(&self) -> Option<(u64, u64)> {
        *self.history_rows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the history's row counts (the pruner counts them after each pass).
    pub fn set_history_rows(&self, records: u64, samples: u64) {
        *self.history_rows.lock().unwrap_or_else(|e| e.into_inner()) = Some((records, samples));
    }

    /// The durations of every COMMIT so far.
    pub fn commit_durations(&self) -> &CommitHistogram {
        &self.commits
    }

    /// Commits `tx`, timing the COMMIT.
    fn commit(&self, tx: Transaction<'_>) -> rusqlite::Result<()> {
        let started = Instant::now();
        let result = tx.commit();
        self.commits.observe(started.elapsed());
        result
    }

    /// Read access to the cache. Keep the guard short: pushes wait for it after COMMIT.
    pub fn cache(&self) -> RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The connection pool, for readers that need SQL (never for writes).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    fn lock_writer(&self) -> MutexGuard<'_, PooledConnection> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How history is kept.
    pub fn retention(&self) -> Retention {
        self.options.retention
    }

    /// Applies a push of `families` to the group `key` at time `now_ns`, and records it in
    /// the history in the same transaction.
    pub fn push(
        &self,
        key: &GroupingKey,
        method: PushMethod,
        families: Vec<MetricFamily>,
        now_ns: i64,
        request: &Request,
    ) -> Result<(), PushError> {
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
        let key_bytes: Arc<[u8]> = key.upstream_key().into();

        let mut conn = self.lock_writer();
        let existing = self.cache().group(&key_bytes).cloned();
        let mut families = match (&existing, method) {
            (Some(g), PushMethod::Merge) => g.families.clone(),
            _ => BTreeMap::new(),
        };
        if errors.is_empty() {
            for family in &prepared {
                families.insert(family.name.clone(), family.clone());
            }
            let last_failure_ns = existing.as_ref().map_or(0, |g| g.last_failure_ns);
            let created_ns = existing.as_ref().map_or(now_ns, |g| g.created_ns);
            insert_timestamps(&mut families, key, now_ns, last_failure_ns, created_ns);
            let mut changed: Vec<&str> = prepared.iter().map(|f| f.name.as_str()).collect();
            changed.extend([PUSH_TIME, PUSH_FAILURE_TIME]);
            errors = check_push(
                &self.cache(),
                existing.as_ref().map(|g| g.id),
                &key_bytes,
                &families,
                &changed,
            );
        }
        if !errors.is_empty() {
            let message = join_errors(&errors);
            let answer = format!("{INCONSISTENT}{message}");
            record.status = 400;
            record.error = Some(&answer);
            record.samples = None;
            self.record_failure(&mut conn, key, key_bytes, existing, &record)?;
            return Err(PushError::Rejected(message));
        }
        if let Some(max) = self.options.max_series_total {
            let removed = existing.as_ref().map_or(0, Group::series);
            let added = families.values().map(|f| f.series()).sum();
            limits::check_series_total(self.cache().series_count(), removed, added, max)
                .map_err(PushError::Limit)?;
        }

        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (id, created_ns, last_failure_ns) = match &existing {
            Some(g) => {
                store::update_group_times(&tx, g.id, now_ns, g.last_failure_ns)?;
                if method == PushMethod::Replace {
                    store::delete_all_families(&tx, g.id)?;
                }
                (g.id, g.created_ns, g.last_failure_ns)
            }
            None => (store::insert_group(&tx, key, now_ns, 0, now_ns)?, now_ns, 0),
        };
        insert_record(&tx, &record)?;
        for family in &prepared {
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
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .put_group(Group {
                id,
                key: key.clone(),
                key_bytes,
                families,
                last_push_ns: now_ns,
                last_failure_ns,
                created_ns,
            });
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
        key_bytes: Arc<[u8]>,
        existing: Option<Group>,
        record: &PushRecord<'_>,
    ) -> Result<(), PushError> {
        let now_ns = record.time_ns;
        let mut group = match existing {
            Some(g) => g,
            None => {
                let mut families = BTreeMap::new();
                insert_timestamps(&mut families, key, 0, now_ns, now_ns);
                let clash = check_push(
                    &self.cache(),
                    None,
                    &key_bytes,
                    &families,
                    &[PUSH_TIME, PUSH_FAILURE_TIME],
                );
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
                Group {
                    id: 0,
                    key: key.clone(),
                    key_bytes,
                    families,
                    last_push_ns: 0,
                    last_failure_ns: now_ns,
                    created_ns: now_ns,
                }
            }
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if group.id == 0 {
            group.id = store::insert_group(&tx, key, 0, now_ns, now_ns)?;
        } else {
            store::update_group_times(&tx, group.id, group.last_push_ns, now_ns)?;
        }
        insert_record(&tx, record)?;
        self.commit(tx)?;
        group.last_failure_ns = now_ns;
        insert_timestamps(
            &mut group.families,
            key,
            group.last_push_ns,
            now_ns,
            group.created_ns,
        );
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .put_group(group);
        Ok(())
    }

    /// Deletes the group with exactly this key; deleting a missing group changes nothing
    /// but the history.
    pub fn delete(
        &self,
        key: &GroupingKey,
        now_ns: i64,
        request: &Request,
    ) -> Result<(), StoreError> {
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
}

impl Gateway {
    /// Records a change request refused before it reached the store (a malformed grouping
    /// key or body), in a transaction of its own.
    pub fn record_rejected(
        &self,
        key: Option<&GroupingKey>,
        now_ns: i64,
        request: &Request,
        status: u16,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock_writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let record = PushRecord::bare(now_ns, request, key, status, Some(error));
        insert_record(&tx, &record)?;
        self.commit(tx)?;
        Ok(())
    }

    /// Deletes every group (`PUT /api/v1/admin/wipe`); returns how many there were.
    pub fn wipe(&self, now_ns: i64, request: &Request) -> Result<usize, StoreError> {
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

/// Pushed families checked and prepared outside the writer lock.
struct Prepared {
    families: Vec<Arc<FamilyData>>,
    /// What rejects the push (timestamps first, as upstream).
    errors: Vec<String>,
    /// The values to record in the history, as JSON, and their number (none when values
    /// are off).
    samples: Option<(String, usize)>,
}

fn prepare(
    key: &GroupingKey,
    families: Vec<MetricFamily>,
    now_ns: i64,
    with_samples: bool,
) -> Prepared {
    if families
        .iter()
        .any(|f| f.metric.iter().any(|m| m.timestamp_ms.is_some()))
    {
        return Prepared {
            families: Vec::new(),
            errors: vec!["pushed metrics must not have timestamps".to_string()],
            samples: None,
        };
    }
    let mut errors = Vec::new();
    let mut samples = with_samples.then(history::SampleJson::new);
    let mut prepared = Vec::with_capacity(families.len());
    for mut family in families {
        // The gateway's own timestamps always win over pushed families of the same name.
        if matches!(family.name(), PUSH_TIME | PUSH_FAILURE_TIME) {
            continue;
        }
        sanitize(&mut family, key);
        errors.extend(check_family(&family));
        if let Some(samples) = &mut samples {
            samples.add_family(&family, key);
        }
        prepared.push(Arc::new(FamilyData::new(&family, now_ns)));
    }
    Prepared {
        families: prepared,
        samples: samples
            .filter(|_| errors.is_empty())
            .map(|s| (s.count(), s.finish()))
            .map(|(n, json)| (json, n)),
        errors,
    }
}

/// Sets a group's `push_time_seconds` and `push_failure_time_seconds` families. Each family's
/// own time (shown as `time_stamp` by the API) is when its value was last set, or the group's
/// creation for a value that was never set.
fn insert_timestamps(
    families: &mut BTreeMap<String, Arc<FamilyData>>,
    key: &GroupingKey,
    last_push_ns: i64,
    last_failure_ns: i64,
    created_ns: i64,
) {
    let recorded = |ns: i64| if ns > 0 { ns } else { created_ns };
    families.insert(
        PUSH_TIME.to_string(),
        Arc::new(timestamp_family(
            PUSH_TIME,
            last_push_ns,
            key,
            recorded(last_push_ns),
        )),
    );
    families.insert(
        PUSH_FAILURE_TIME.to_string(),
        Arc::new(timestamp_family(
            PUSH_FAILURE_TIME,
            last_failure_ns,
            key,
            recorded(last_failure_ns),
        )),
    );
}

/// Loads every group into a new cache. Families are decoded and rendered on all cores:
/// this is most of the start-up time of a large store.
fn warm_cache(conn: &rusqlite::Connection) -> Result<Cache, StoreError> {
    let mut groups: std::collections::HashMap<i64, Group> = store::load_groups(conn)?
        .into_iter()
        .map(|g| (g.id, group_from_store(g)))
        .collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    store::load_families(conn, 4096, |rows| {
        let chunk = rows.len().div_ceil(threads).max(1);
        let prepared: Vec<Result<Vec<(i64, FamilyData)>, StoreError>> =
            std::thread::scope(|scope| {
                let workers: Vec<_> = rows
                    .chunks(chunk)
                    .map(|rows| scope.spawn(move || rows.iter().map(prepare_stored).collect()))
                    .collect();
                workers
                    .into_iter()
                    .map(|w| {
                        w.join().unwrap_or_else(|_| {
                            Err(StoreError::Corrupt("decoder thread panicked".into()))
                        })
                    })
                    .collect()
            });
        for batch in prepared {
            for (group_id, family) in batch? {
                if let Some(group) = groups.get_mut(&group_id) {
                    group.families.insert(family.name.clone(), Arc::new(family));
                }
            }
        }
        Ok(())
    })?;
    let mut cache = Cache::new();
    for (_, group) in groups {
        cache.put_group(group);
    }
    Ok(cache)
}

fn prepare_stored(row: &store::StoredFamily) -> Result<(i64, FamilyData), StoreError> {
    FamilyData::from_blob(&row.blob, row.pushed_ns)
        .map(|f| (row.group_id, f))
        .map_err(|e| StoreError::Corrupt(format!("a family of group {}: {e}", row.group_id)))
}

fn group_from_store(stored: StoredGroup) -> Group {
    let mut families = BTreeMap::new();
    insert_timestamps(
        &mut families,
        &stored.key,
        stored.last_push_ns,
        stored.last_failure_ns,
        stored.created_ns,
    );
    Group {
        id: stored.id,
        key_bytes: stored.key.upstream_key().into(),
        key: stored.key,
        families,
        last_push_ns: stored.last_push_ns,
        last_failure_ns: stored.last_failure_ns,
        created_ns: stored.created_ns,
    }
}
